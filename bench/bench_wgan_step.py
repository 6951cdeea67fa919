"""One WGAN-GP training step (n_critic critic updates with the gradient penalty + one generator update) of
source 000's networks, minigan against the same networks in PyTorch, on this machine, in this run.

    python bench/bench_wgan_step.py [--width 16] [--batch-size 8] [--n-critic 5] [--repeats 16] [--block 4] [--threads N]

Both sides get the same weights (minigan's state dict copied into torch.nn modules of the same layout),
the same real batch, Adam(1e-4, (0, 0.9)).  Each side runs in its own worker process (minigan's and
PyTorch's OpenMP thread pools spin after their parallel regions and slow each other badly in one process;
see bench_training_steps.py), and the parent alternates between them in blocks of steps (one settling
step, then --block timed ones), so a change in machine load hits both.  The result is the ratio of the
medians, minigan / PyTorch (> 1: minigan slower).  PyTorch appears only here, as a reference, never in
the library.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Timed processes start no compile helper (kernels/precompile.py); only the cold-start child does, as a
# user's process would.
os.environ.setdefault("MINIGAN_PRECOMPILE", "0")

import minigan as mg  # noqa: E402
from minigan.models import WGANCritic, WGANGenerator  # noqa: E402
from minigan.trainers.wgan_gp import WGANGP  # noqa: E402
import machine  # noqa: E402
from worker_process import WorkerProcess, worker_environment  # noqa: E402


def torch_networks(width, latent_dim):
    """The same residual networks as minigan.models.wgan_gp, in torch.nn (same parameter names)."""
    import torch
    import torch.nn as tnn
    import torch.nn.functional as tF

    class ResBlockDown(tnn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.norm1, self.norm2 = tnn.Identity(), tnn.Identity()
            self.conv1 = tnn.Conv2d(cin, cout, 3, padding=1)
            self.conv2 = tnn.Conv2d(cout, cout, 4, stride=2, padding=1)
            self.shortcut = tnn.Conv2d(cin, cout, 1)

        def forward(self, x):
            h = self.conv1(tF.leaky_relu(x, 0.2))
            h = self.conv2(tF.leaky_relu(h, 0.2))
            return self.shortcut(tF.avg_pool2d(x, 2)) + h

    class ResBlockUp(tnn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.bn1 = tnn.BatchNorm2d(cin)
            self.deconv = tnn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)
            self.bn2 = tnn.BatchNorm2d(cout)
            self.conv = tnn.Conv2d(cout, cout, 3, padding=1)
            self.shortcut = tnn.Conv2d(cin, cout, 1)

        def forward(self, x):
            h = self.deconv(torch.relu(self.bn1(x)))
            h = self.conv(torch.relu(self.bn2(h)))
            return self.shortcut(tF.interpolate(x, scale_factor=2, mode="nearest")) + h

    class Critic(tnn.Module):
        def __init__(self, w):
            super().__init__()
            self.stem = tnn.Conv2d(3, w, 4, stride=2, padding=1)
            self.block1, self.block2, self.block3 = (
                ResBlockDown(w, 2 * w),
                ResBlockDown(2 * w, 4 * w),
                ResBlockDown(4 * w, 8 * w),
            )
            self.head = tnn.Linear(8 * w * 16, 1)

        def forward(self, x):
            h = self.block3(self.block2(self.block1(self.stem(x))))
            return self.head(tF.leaky_relu(h, 0.2).flatten(1)).view(-1)

    class Generator(tnn.Module):
        def __init__(self, w):
            super().__init__()
            self.w = w
            self.project = tnn.Linear(latent_dim, 8 * w * 16)
            self.block1, self.block2, self.block3 = (
                ResBlockUp(8 * w, 4 * w),
                ResBlockUp(4 * w, 2 * w),
                ResBlockUp(2 * w, w),
            )
            self.bn = tnn.BatchNorm2d(w)
            self.to_image = tnn.ConvTranspose2d(w, 3, 4, stride=2, padding=1)

        def forward(self, z):
            h = self.project(z).view(z.shape[0], 8 * self.w, 4, 4)
            return self.to_image(torch.relu(self.bn(self.block3(self.block2(self.block1(h))))))

    return Generator(width), Critic(width)


def torch_step(G, D, opt_g, opt_d, real, n_critic, lambda_gp, latent_dim):
    import torch

    n = real.shape[0]
    for _ in range(n_critic):
        with torch.no_grad():
            fake = G(torch.randn(n, latent_dim))
        alpha = torch.rand(n, 1, 1, 1)
        x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        (g,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
        penalty = lambda_gp * ((g.flatten(1).pow(2).sum(1).add(1e-12).sqrt() - 1) ** 2).mean()
        loss = D(fake).mean() - D(real).mean() + penalty
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()
    g_loss = -D(G(torch.randn(n, latent_dim))).mean()
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
    return loss.item(), g_loss.item()


def worker(side, args):
    """Run in a subprocess: build this side's networks (same seed, same weights), then answer stdin lines:
    `critic` -> the critic's outputs on the real batch (JSON), `step` -> one step's time in s, `quit`."""
    mg.manual_seed(0)
    G, D = WGANGenerator(latent_dim=args.latent_dim, width=args.width), WGANCritic(width=args.width)
    from minigan.data import shapes_train

    images, _, _ = shapes_train(n_per_class=args.batch_size)
    batch = images[np.random.default_rng(0).permutation(len(images))[: args.batch_size]]
    if side == "minigan":
        import numba

        numba.set_num_threads(args.threads)
        model, real = WGANGP(G, D, n_critic=args.n_critic), mg.tensor(batch)

        def critic():
            with mg.no_grad():
                return D(real).numpy().ravel().tolist()

        def step():
            model.train_step(real)
    else:
        import torch

        torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        tG, tD = torch_networks(args.width, args.latent_dim)
        for ours, theirs in ((G, tG), (D, tD)):  # same weights on both sides
            theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
        opt_g = torch.optim.Adam(tG.parameters(), lr=1e-4, betas=(0.0, 0.9))
        opt_d = torch.optim.Adam(tD.parameters(), lr=1e-4, betas=(0.0, 0.9))
        treal = torch.from_numpy(batch.copy())

        def critic():
            with torch.no_grad():
                return tD(treal).numpy().ravel().tolist()

        def step():
            torch_step(tG, tD, opt_g, opt_d, treal, args.n_critic, 10.0, args.latent_dim)

    print("ready", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            break
        if command == "critic":
            print(json.dumps(critic()), flush=True)
            continue
        start = time.perf_counter()
        step()
        print(f"{time.perf_counter() - start:.6f}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--n-critic", type=int, default=5)
    parser.add_argument("--latent-dim", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=16)
    parser.add_argument("--block", type=int, default=4, help="timed steps per block (after one settling step)")
    parser.add_argument("--threads", type=int, default=None, help="threads for both sides (default: Numba's)")
    parser.add_argument("--json", default=None, help="write the result here too")
    parser.add_argument(
        "--without-blas-overrides",
        action="store_true",
        help="start the timed processes without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (bench/machine.py)",
    )
    parser.add_argument("--side", choices=["minigan", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    import minigan_kernels as kernels

    kernels.select("numpy")  # sets up the CPU kernels (Numba's threading layer) before any parallel call
    import numba

    args.threads = args.threads or numba.get_num_threads()
    if args.side:
        return worker(args.side, args)

    print(machine.describe(worker_environment("minigan", without_blas_overrides=args.without_blas_overrides)))
    passed = [
        f"--{k.replace('_', '-')}={v}"
        for k, v in vars(args).items()
        if k in ("width", "batch_size", "n_critic", "latent_dim", "threads")
    ]
    ours, theirs = (
        WorkerProcess(
            os.path.abspath(__file__),
            ["--side", side] + passed,
            side,
            worker_environment(side, without_blas_overrides=args.without_blas_overrides),
        )
        for side in ("minigan", "torch")
    )
    gap = float(np.abs(np.array(json.loads(ours.ask("critic"))) - np.array(json.loads(theirs.ask("critic")))).max())
    ours_times, torch_times = [], []
    while len(ours_times) < args.repeats:
        for w, times in ((ours, ours_times), (theirs, torch_times)):
            w.ask("step")  # settling step
            for _ in range(min(args.block, args.repeats - len(times))):
                times.append(float(w.ask("step")))
    ours.close()
    theirs.close()
    import torch

    result = {
        "width": args.width,
        "batch_size": args.batch_size,
        "n_critic": args.n_critic,
        "repeats": args.repeats,
        "minigan_median_s": statistics.median(ours_times),
        "torch_median_s": statistics.median(torch_times),
        "ratio_minigan_over_torch": statistics.median(ours_times) / statistics.median(torch_times),
        "critic_output_max_abs_diff_at_init": gap,
        "threads": args.threads,
        "torch_version": torch.__version__,
        "minigan_backend": mg.backend.info().replace("\n", "; "),
        "load_average_end": os.getloadavg()[0],
    }
    print(json.dumps(result, indent=1))
    if args.json:
        with open(args.json, "w") as file:
            json.dump(result, file, indent=1)
    return result


if __name__ == "__main__":
    main()
