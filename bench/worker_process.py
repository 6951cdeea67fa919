"""A benchmark worker in its own process, driven one line at a time (used by the bench_*.py scripts).

Each framework is timed in its own process because minigan's and PyTorch's OpenMP thread pools spin after
their parallel regions and slow each other badly when they share one (bench/README.md, third round).
The worker is the benchmark script itself, started with its worker flags: it prints "ready" once set up,
then answers each request line with one reply line, and stops on "quit".
"""

import os
import subprocess
import sys

import machine


def worker_environment(side, torch_malloc_tuned=False, without_blas_overrides=False):
    """The environment of a worker process.  The PyTorch side runs with glibc's malloc defaults, as PyTorch's
    users run it: the benchmark scripts import minigan's kernels in every worker (to build identical
    weights), and kernels/allocator.py would otherwise tune malloc for PyTorch too.  torch_malloc_tuned=True
    gives it minigan's settings, for the comparison in bench/README.md.  without_blas_overrides=True drops
    OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (bench/machine.py says why)."""
    env = dict(os.environ)
    if without_blas_overrides:
        env = machine.without_blas_overrides(env)
    if side == "torch" and not torch_malloc_tuned:
        env["MINIGAN_MALLOC_TUNING"] = "0"
    return env


class WorkerProcess:
    """`python script *argv` as a worker: ask(line) sends one request and returns the reply line."""

    def __init__(self, script, argv, name, env=None):
        self.process = subprocess.Popen(
            [sys.executable, script] + list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=env,
        )
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the {name} worker did not start")

    def ask(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def close(self):
        self.process.stdin.write("quit\n")
        self.process.stdin.close()
        self.process.wait()
