"""Compile the CPU kernels in a helper process while the user's process starts: the cold start, halved.

The first training step on a machine compiles about twenty Numba functions -- seconds of Numba's Python-side
pipeline and LLVM, on one core (bench/README.md, history 26).  The other core is idle meanwhile.  So when
the CPU kernels are set up (kernels/runtime.py's configure) and Numba's on-disk cache lacks some of the workers listed in `helper_workers`, `start_if_cold` starts

    python -m minigan_kernels.precompile

in the background.  It compiles those workers for float32 (the dtype models train in) into the same cache,
in the order of `helper_workers`: the big Winograd worker first, then roughly the reverse of the order in
which a DCGAN step first needs them, while the user's process compiles what it needs first.  Whatever one
process has compiled, the other loads from the cache in milliseconds.  The two never compile the same
function at once: kernels/loops.py takes a lock file per function (`compile_worker`); the user's process
waits for a lock the helper holds (the helper is then compiling that very function), the helper skips a
function whose lock the user's process holds.  The helper works only through the cache, so it can neither
change results nor lose work: killed at any point, it leaves at most a temporary file behind.

Not started when: $MINIGAN_PRECOMPILE=0; fewer than two CPUs are available to the process; the private
BLAS is missing (the fused kernels, which most of the list is, are off); the process is a forked child
(kernels/runtime.py's forked()); or no file lock is available (not POSIX).  The helper's own $MINIGAN_PRECOMPILE
is 0, so it starts no helper of its own.
"""

import os
import subprocess
import sys

import numpy as np

__all__ = [
    "helper_workers",
    "missing_from_cache",
    "start_if_cold",
    "describe",
    "wait_for_helper",
    "compile_for_float32",
]

_HELPER = None  # the helper's Popen in the process that started it (one per process at most)
_DECISION = "not asked yet"  # what start_if_cold decided, for describe()


def helper_workers():
    """[(worker, family)] in the helper's order; family "blas" or "loop" (kernels/loops.py's two argument
    lists).  The two Winograd workers come first: they take the longest to compile and a DCGAN step needs
    them about a third and half of the way in; the rest in roughly the reverse order of first use in a DCGAN
    step, and last the channels-last workers that the DCGAN shapes do not use (other models' layers)."""
    from . import adam, batch_norm, fused, im2col, pointwise, products, winograd

    return [
        (winograd._winograd_worker, "blas"),
        (winograd._weight_gradient_worker, "blas"),
        (adam._adam_worker, "loop"),
        (fused.conv2d_weight_nchw_worker, "blas"),
        (fused.conv2d_weight_cl_worker, "blas"),
        (im2col._im2col_worker, "loop"),
        (im2col._col2im_worker, "loop"),
        (winograd._transform_weights_worker, "loop"),
        (batch_norm._per_channel_worker, "loop"),
        (pointwise._pointwise_worker, "loop"),
        (products._gemm_worker, "blas"),
        (fused.conv2d_cl_worker, "blas"),
        (fused.conv_transpose2d_cl_worker, "blas"),
    ]


def _family_args(family, dtype):
    """Arguments with the types of the family's argument list for `dtype` (kernels/loops.py)."""
    from . import blas, loops

    x = np.zeros(1, dtype=dtype)
    if family == "blas":
        return loops.blas_arguments(blas.gemm_for(np.dtype(dtype)), loops.ints(0), *(x,) * loops.BLAS_ARRAYS)
    return loops.loop_arguments(loops.ints(0), loops.reals(), x)


def missing_from_cache():
    """The helper's workers that have nothing in Numba's on-disk cache: no index file, or one written for
    another version of the source (Numba then recompiles).  All of them when the cache cannot be read."""
    missing = []
    for worker, _ in helper_workers():
        try:
            entries = worker._cache._cache_file._load_index()  # Numba's private reader (what it uses to load); tested
        except (AttributeError, OSError, ValueError, EOFError):
            return [w for w, _ in helper_workers()]
        if not entries:
            missing.append(worker)
    return missing


def _cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _reason_not_to_start():
    from . import blas, loops, runtime

    if _HELPER is not None:
        return "helper process already started"
    if os.environ.get("MINIGAN_PRECOMPILE", "1").strip() == "0":
        return "off ($MINIGAN_PRECOMPILE=0)"
    if _cpus() < 2:
        return "off (one CPU)"
    if not blas.available():
        return "off (no private BLAS)"
    if runtime.forked():
        return "off (forked child)"
    if not loops.compile_locks_available():
        return "off (no file locks)"
    return None


def start_if_cold():
    """Start the helper process if it is worth it (see the module docstring); returns whether it started."""
    global _HELPER, _DECISION
    reason = _reason_not_to_start()
    if reason is not None:
        _DECISION = reason
        return False
    missing = missing_from_cache()
    if not missing:
        _DECISION = "not needed (the kernels were in Numba's cache)"
        return False
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, MINIGAN_PRECOMPILE="0")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    _HELPER = subprocess.Popen(
        [sys.executable, "-m", __name__],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    _DECISION = (
        f"helper process {_HELPER.pid} started: {len(missing)} of {len(helper_workers())} kernels "
        f"were not in Numba's cache"
    )
    return True


def describe():
    """One line for kernels.info(): whether this process started the compile helper, and why (not)."""
    return _DECISION


def wait_for_helper():
    """Wait until the helper this process started (if any) has finished (benchmarks: before a warm-cache
    measurement)."""
    if _HELPER is not None:
        _HELPER.wait()


def compile_for_float32():
    """The helper's work: each worker of `helper_workers` for float32, and the parallel driver for each
    argument list, skipping what the other process is compiling.  Returns the names compiled or loaded."""
    from . import loops

    done, drivers = [], set()
    for worker, family in helper_workers():
        args = _family_args(family, np.float32)
        pointer = loops.compile_worker(worker, args, blocking=False)
        if pointer is None:
            continue
        done.append(worker.__name__)
        if family not in drivers and loops.compile_driver(pointer, args, blocking=False):
            drivers.add(family)
            done.append(f"parallel driver ({family} workers)")
    return done


if __name__ == "__main__":
    print("\n".join(compile_for_float32()))
