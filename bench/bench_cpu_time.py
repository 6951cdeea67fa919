"""CPU time (not wall clock) of minigan and PyTorch on one thread each: bench_overhead.py's chain and MLP, and
bench_models.py's epochs, each side in its own process, for a machine that other jobs share.

    python bench/bench_cpu_time.py [--cases chain mlp vae-2 vae-20 mlp-gan rbm-cd1 rbm-pcd] [--repeats 5]
                                   [--without-blas-overrides]

On the shared 2-core machine the wall-clock ratios of bench_overhead.py and bench_models.py moved by 2x from
run to run (a thread that waits for a core is counted; bench/README.md); the CPU time a process spends is
much steadier.  Both sides run on one thread (numba.set_num_threads(1), torch.set_num_threads(1)), so the
figure is the work each does, not how well it splits it: the wall-clock benchmarks stay the measure of the
issue's goals, this one says where the engine stands when those are drowned by the load.  Prints the median
CPU seconds of `--repeats` runs after one untimed run, per side, and the ratio minigan / PyTorch.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
os.environ.setdefault("MINIGAN_PRECOMPILE", "0")  # timed processes start no compile helper

import machine  # noqa: E402

CASES = ("chain", "mlp", "vae-2", "vae-20", "mlp-gan", "rbm-cd1", "rbm-pcd")


def workload(side, case):
    """The function one run of `case` calls, on `side` ("minigan" or "torch"), one thread."""
    import numba

    numba.set_num_threads(1)
    if case in ("chain", "mlp"):
        import bench_overhead

        if side == "minigan":
            return bench_overhead.chain_minigan(200, 8) if case == "chain" else bench_overhead.mlp_minigan(32)
        import torch

        torch.set_num_threads(1)
        return bench_overhead.chain_torch(torch, 200, 8) if case == "chain" else bench_overhead.mlp_torch(torch, 32)
    import bench_models

    epoch, weights = bench_models.minigan_epoch(case)
    if side == "minigan":
        return epoch
    import torch

    torch.set_num_threads(1)
    return bench_models.torch_epoch(case, weights)


def measure(side, case, repeats):
    """Median CPU seconds of one run (several runs of the tiny cases, so that each timing is long enough)."""
    run = workload(side, case)
    inner = 20 if case in ("chain", "mlp") else 1
    run()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(inner):
            run()
        times.append((time.process_time() - start) / inner)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--without-blas-overrides",
        action="store_true",
        help="start the timed processes without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (bench/machine.py)",
    )
    parser.add_argument("--worker", nargs=2, metavar=("SIDE", "CASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(measure(args.worker[0], args.worker[1], args.repeats))
        return
    environment = machine.without_blas_overrides(os.environ) if args.without_blas_overrides else dict(os.environ)
    print(machine.describe(environment))
    print(f"CPU time, one thread per side, each side in its own process; medians of {args.repeats}\n")
    print(f"{'case':9s} {'minigan ms':>11s} {'torch ms':>9s} {'ratio':>6s}")
    for case in args.cases:
        seconds = {}
        for side in ("minigan", "torch"):
            out = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--worker", side, case, "--repeats", str(args.repeats)],
                check=True,
                capture_output=True,
                text=True,
                env=environment,
            ).stdout
            seconds[side] = float(out.strip().splitlines()[-1])
        print(
            f"{case:9s} {seconds['minigan'] * 1e3:11.3f} {seconds['torch'] * 1e3:9.3f} "
            f"{seconds['minigan'] / seconds['torch']:6.2f}"
        )
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
