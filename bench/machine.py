"""What a benchmark ran on: the CPU and its vector units, the BLAS kernel each side runs, the environment
overrides in force, and the load. Every bench_*.py prints ``describe()`` before its table, so that a ratio
can be read against the machine it came from (a ratio is a result only when it holds on more than one CPU).

``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` force OpenBLAS onto a named kernel and cache size; some
machines set them in every process, and on an AVX-512 CPU they can halve a float32 product (issue 17:
241 GFLOP/s with them, 469 without, on a 2048^3 sgemm). A user's machine rarely has them, so the benches'
``--without-blas-overrides`` flag starts the timed worker processes with both removed; the parent process
and the tests never change them.
"""

from __future__ import annotations

import os
import subprocess
import sys

BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# the CPU flags that decide which kernels BLAS libraries and oneDNN pick
VECTOR_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "amx_tile")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else platform.processor()."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown CPU"


def cpu_vector_flags() -> list[str]:
    """Which of VECTOR_FLAGS the CPU reports (Linux; [] where /proc/cpuinfo is absent)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    present = set(line.split(":", 1)[1].split())
                    return [flag for flag in VECTOR_FLAGS if flag in present]
    except OSError:
        pass
    return []


def blas_overrides(environment=None) -> dict[str, str]:
    """The OpenBLAS overrides set in ``environment`` (default: this process's)."""
    environment = os.environ if environment is None else environment
    return {name: environment[name] for name in BLAS_OVERRIDES if name in environment}


def without_blas_overrides(environment) -> dict[str, str]:
    """A copy of ``environment`` with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed (for timed workers)."""
    return {name: value for name, value in environment.items() if name not in BLAS_OVERRIDES}


def minigan_blas() -> str:
    """The private OpenBLAS of minigan's kernels (version and the kernel it picked), or why it is off."""
    from minigan_kernels import blas

    return blas.describe()


def torch_backend() -> str:
    """PyTorch's CPU capability (the ATen kernels it dispatches to), its BLAS and oneDNN versions."""
    import torch

    config = torch.__config__.show()
    blas = "MKL" if "BLAS_INFO=mkl" in config else ("OpenBLAS" if "BLAS_INFO=open" in config else "other BLAS")
    return (
        f"torch {torch.__version__}: CPU capability {torch.backends.cpu.get_cpu_capability()}, {blas}, "
        f"oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}, {torch.get_num_threads()} threads"
    )


def backends_in(environment) -> str:
    """minigan's BLAS kernel and PyTorch's back end as a process started with ``environment`` sees them
    (OpenBLAS reads the overrides when it loads, so only a fresh process can tell)."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import machine; "
        "print('minigan kernels BLAS:', machine.minigan_blas()); print(machine.torch_backend())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, os.path.dirname(os.path.abspath(__file__))],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        return f"(could not start a child to read the BLAS kernels: {done.stderr.strip().splitlines()[-1:]})"
    return done.stdout.strip()


def describe(timed_environment=None) -> str:
    """Lines for a benchmark's header: the CPU, its vector flags, the overrides in this process and in the
    timed workers' ``timed_environment`` (default: this process's), the BLAS kernel each side runs there,
    and the load average."""
    timed_environment = dict(os.environ) if timed_environment is None else timed_environment
    lines = [
        f"CPU: {cpu_model()}, {os.cpu_count()} logical CPUs; vector flags: "
        f"{', '.join(cpu_vector_flags()) or 'none reported'}",
        f"BLAS overrides in this process: {blas_overrides() or 'none'}; "
        f"in the timed workers: {blas_overrides(timed_environment) or 'none'}",
        backends_in(timed_environment),
        f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]
    return "\n".join(lines)
