"""Per-op overhead of the autograd engine against PyTorch on the CPU, as a ratio measured in one run.

A long chain of small elementwise ops (each on a tiny tensor, so the arithmetic is negligible and what is
measured is the engine: recording the graph, the backward sweep, allocating results), forward + backward.
Also a small MLP step (the same work in both) for a more realistic mix.

    python bench/bench_overhead.py [--length 200] [--repeats 15] [--without-blas-overrides]

Prints minigan's and PyTorch's median times, the per-op cost, and their ratio (minigan / PyTorch).
Both sides run on one thread (PyTorch's intra-op pool and minigan's Numba threads): the MLP's products
are small, and a two-thread split of them measures thread hand-offs (on a loaded machine, waiting for a
core), not the engine.  Both frameworks run in this one process (the ops are too small for their thread
pools to meet); ``--without-blas-overrides`` starts it again without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE
(bench/machine.py) when they are set.
"""

import argparse
import os
import statistics
import sys
import time

import machine
import numpy as np

import minigan as mg
import minigan.functional as F


def median_time(fn, repeats, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def chain_minigan(length, size):
    x = mg.randn(size, requires_grad=True)

    def run():
        h = x
        for i in range(length):
            h = F.tanh(h * 1.01 + 0.1) if i % 2 else h * h * 0.5 + h
        h.sum().backward()
        x.grad = None

    return run


def chain_torch(torch, length, size):
    x = torch.randn(size, requires_grad=True)

    def run():
        h = x
        for i in range(length):
            h = torch.tanh(h * 1.01 + 0.1) if i % 2 else h * h * 0.5 + h
        h.sum().backward()
        x.grad = None

    return run


def ops_per_chain(length):
    # odd steps: mul, add, tanh (3 ops); even steps: mul, mul, add (3 ops); plus sum
    return 3 * length + 1


def mlp_minigan(batch):
    import minigan.nn as nn

    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))
    x = mg.randn(batch, 64)
    y = mg.tensor(np.random.default_rng(0).integers(0, 10, batch))

    def run():
        loss = F.cross_entropy(model(x), y)
        model.zero_grad()
        loss.backward()

    return run


def mlp_torch(torch, batch):
    nn = torch.nn
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))
    x = torch.randn(batch, 64)
    y = torch.randint(0, 10, (batch,))

    def run():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        model.zero_grad()
        loss.backward()

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--without-blas-overrides",
        action="store_true",
        help="run without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (bench/machine.py)",
    )
    args = parser.parse_args()
    if args.without_blas_overrides and machine.blas_overrides():  # the BLAS reads them when it loads
        os.execve(sys.executable, [sys.executable] + sys.argv, machine.without_blas_overrides(os.environ))
    import numba
    import torch

    torch.set_num_threads(1)
    numba.set_num_threads(1)  # minigan's kernels on one thread too: the engine's cost, not thread hand-offs

    rows = []
    n_ops = ops_per_chain(args.length)
    t_mg = median_time(chain_minigan(args.length, args.size), args.repeats)
    t_torch = median_time(chain_torch(torch, args.length, args.size), args.repeats)
    rows.append((f"chain of {n_ops} ops on ({args.size},), fwd+bwd", t_mg, t_torch, n_ops))
    t_mg = median_time(mlp_minigan(32), args.repeats)
    t_torch = median_time(mlp_torch(torch, 32), args.repeats)
    rows.append(("MLP 64-128-128-10, batch 32, fwd+bwd", t_mg, t_torch, None))

    print(machine.describe())
    print(
        f"minigan {mg.__version__} (Numba kernels, 1 thread) vs torch {torch.__version__} (CPU, 1 thread), "
        f"medians of {args.repeats}"
    )
    print(
        f"{'benchmark':44s} {'minigan ms':>11s} {'torch ms':>10s} {'ratio':>7s} {'minigan us/op':>14s} {'torch us/op':>12s}"
    )
    for name, a, b, n in rows:
        per_op = f"{a / n * 1e6:14.1f} {b / n * 1e6:12.1f}" if n else ""
        print(f"{name:44s} {a * 1e3:11.2f} {b * 1e3:10.2f} {a / b:7.2f} {per_op}")


if __name__ == "__main__":
    main()
