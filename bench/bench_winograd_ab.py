"""A/B of kernels/winograd.py inside one process: the same minigan training steps with the Winograd path on
and off (kernels.conv.WINOGRAD_MIN_CHANNELS), alternating blocks of steps, medians.

    python bench/bench_winograd_ab.py [--rounds 12] [--block 4]

One process, so both sides share the machine's state minute by minute (this VM's speed drifts by 20-30%
over minutes; bench_training_steps.py's ratios to PyTorch are taken the same way, in alternating blocks).
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import minigan_kernels as kernels  # noqa: E402
import minigan_kernels.conv  # noqa: E402
from bench_training_steps import minigan_steps  # noqa: E402

kernels.select("numpy")  # first: it sets up the CPU kernels (Numba's threading layer)
ON, OFF = kernels.conv.WINOGRAD_MIN_CHANNELS, 1 << 62  # the default threshold, and never


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--block", type=int, default=4, help="timed steps per block (after one settling step)")
    args = parser.parse_args()
    steps, _, _ = minigan_steps()
    print(
        f"{'step':26s} {'winograd ms':>12s} {'im2col ms':>10s} {'ratio':>7s}   (medians of {args.rounds} x "
        f"{args.block} steps, alternating)"
    )
    for name in ("DCGAN step (D + G)", "WGAN-GP critic step"):
        step = steps[name]
        times = {ON: [], OFF: []}
        for setting in times:  # compile both paths before timing
            kernels.conv.WINOGRAD_MIN_CHANNELS = setting
            step(), step()
        for _ in range(args.rounds):
            for setting, record in times.items():
                kernels.conv.WINOGRAD_MIN_CHANNELS = setting
                step()
                for _ in range(args.block):
                    start = time.perf_counter()
                    step()
                    record.append(time.perf_counter() - start)
        on, off = statistics.median(times[ON]) * 1e3, statistics.median(times[OFF]) * 1e3
        print(f"{name:26s} {on:12.1f} {off:10.1f} {on / off:7.3f}")
    kernels.conv.WINOGRAD_MIN_CHANNELS = ON


if __name__ == "__main__":
    main()
