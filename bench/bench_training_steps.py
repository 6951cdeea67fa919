"""Whole training steps, minigan against PyTorch on the CPU, in one run (issue 4's step benchmarks).

    python bench/bench_training_steps.py [--repeats 15] [--threads 2] [--block 4] [--skip-memory] [--skip-coldstart]

* DCGAN step on MNIST shapes, batch 64: one discriminator step (BCE on logits, real + fake) and one
  generator step (non-saturating loss), Adam(2e-4, (0.5, 0.999)); networks of minigan.models.dcgan.
* WGAN-GP critic step: the same discriminator without batch norm as a critic, Wasserstein loss + gradient
  penalty (double backprop through the convolutions), Adam(1e-4, (0, 0.9)).
* MLP GAN step: 784-256-256-1 / 100-256-256-784, one D step and one G step, batch 64.

Both sides get the same initial weights (minigan's state dict copied into torch modules with the same
names) and the same data.  Each framework runs in its OWN process (a long-lived worker that runs one step
when told and reports its time), and the parent alternates between them in blocks (one settling step,
then --block timed steps back to back, as in a training loop), so that a change in machine load hits both
while neither's threads compete with the other's.  Why not one process: minigan's kernels and PyTorch each keep a pool of OpenMP threads that
spin for ~10 ms after their last parallel region (measured: CPU time used by an idle process), and two
spinning pools in one process on 2 cores slowed both sides by up to 20x (MLP GAN step: minigan 245 ms,
torch 83 ms in one process, against 10-12 ms and 9-11 ms alone).  The figure is the ratio of medians,
minigan / PyTorch (> 1: minigan slower); PyTorch uses the same number of threads as minigan's kernels.

Peak memory: each framework runs its DCGAN steps in a fresh subprocess; the peak resident set (VmHWM,
reset through /proc/self/clear_refs after set-up) minus the resident set before the steps.

Cold start: a fresh process with an empty Numba cache runs imports + network construction + the first DCGAN
step; then the same with the cache now filled (warm).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
# Timed processes start no compile helper (kernels/precompile.py); only the cold-start child does, as a
# user's process would.
os.environ.setdefault("MINIGAN_PRECOMPILE", "0")

import machine  # noqa: E402
from worker_process import WorkerProcess, worker_environment  # noqa: E402

BATCH = 64


# ---------------------------------------------------------------------------------------------------
# minigan side


def minigan_steps(seed=0):
    """Build the three minigan training steps; returns (steps dict, state dicts to copy into torch)."""
    import minigan as mg
    import minigan.functional as F
    from minigan import losses, optim
    from minigan.models import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator

    mg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    real_images = mg.tensor(rng.uniform(-1, 1, (BATCH, 1, 28, 28)).astype(np.float32))
    z_dcgan = mg.tensor(rng.standard_normal((BATCH, 100)).astype(np.float32))
    real_flat = mg.tensor(rng.uniform(-1, 1, (BATCH, 784)).astype(np.float32))
    ones, zeros = mg.ones(BATCH), mg.zeros(BATCH)

    G, D = DCGANGenerator(), DCGANDiscriminator()
    opt_G = optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def gan_step(G, D, opt_G, opt_D, z, real):
        # (1) update D: maximize log D(x) + log(1 - D(G(z)))
        fake = G(z)
        d_loss = F.binary_cross_entropy_with_logits(D(real), ones) + F.binary_cross_entropy_with_logits(
            D(fake.detach()), zeros
        )
        opt_D.zero_grad()
        d_loss.backward()
        opt_D.step()
        # (2) update G: maximize log D(G(z)) (the non-saturating loss)
        g_loss = F.binary_cross_entropy_with_logits(D(fake), ones)
        opt_G.zero_grad()
        g_loss.backward()
        opt_G.step()
        return d_loss.item() + g_loss.item()

    critic = DCGANDiscriminator(batch_norm=False)
    opt_C = optim.Adam(critic.parameters(), lr=1e-4, betas=(0.0, 0.9))
    alpha = rng.uniform(0, 1, BATCH).astype(np.float32)

    def wgan_gp_critic_step():
        with mg.no_grad():
            fake = G(z_dcgan)
        loss = losses.critic_loss_wasserstein(critic(real_images), critic(fake)) + losses.gradient_penalty(
            critic, real_images, fake, 10.0, alpha=alpha
        )
        opt_C.zero_grad()
        loss.backward()
        opt_C.step()
        return loss.item()

    mlp_G, mlp_D = MLPGenerator(), MLPDiscriminator()
    opt_mG = optim.Adam(mlp_G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_mD = optim.Adam(mlp_D.parameters(), lr=2e-4, betas=(0.5, 0.999))

    data = {"real_images": real_images.numpy(), "z": z_dcgan.numpy(), "real_flat": real_flat.numpy(), "alpha": alpha}
    states = {
        name: {k: v.numpy() for k, v in module.state_dict().items()}
        for name, module in (("G", G), ("D", D), ("critic", critic), ("mlp_G", mlp_G), ("mlp_D", mlp_D))
    }
    steps = {
        "DCGAN step (D + G)": lambda: gan_step(G, D, opt_G, opt_D, z_dcgan, real_images),
        "WGAN-GP critic step": wgan_gp_critic_step,
        "MLP GAN step (D + G)": lambda: gan_step(mlp_G, mlp_D, opt_mG, opt_mD, z_dcgan, real_flat),
    }
    return steps, states, data


# ---------------------------------------------------------------------------------------------------
# PyTorch side: the same layers, the same parameter names


def torch_steps(states, data):
    import torch
    import torch.nn as tnn
    import torch.nn.functional as tF

    def dcgan_generator():
        return tnn.Sequential(
            tnn.Linear(100, 128 * 49),
            tnn.Unflatten(1, (128, 7, 7)),
            tnn.BatchNorm2d(128),
            tnn.ReLU(),
            tnn.ConvTranspose2d(128, 64, 4, 2, 1),
            tnn.BatchNorm2d(64),
            tnn.ReLU(),
            tnn.ConvTranspose2d(64, 1, 4, 2, 1),
            tnn.Tanh(),
        )

    def dcgan_discriminator(batch_norm=True):
        return tnn.Sequential(
            tnn.Conv2d(1, 64, 4, 2, 1),
            tnn.LeakyReLU(0.2),
            tnn.Conv2d(64, 128, 4, 2, 1),
            tnn.BatchNorm2d(128) if batch_norm else tnn.Identity(),
            tnn.LeakyReLU(0.2),
            tnn.Flatten(),
            tnn.Linear(128 * 49, 1),
        )

    def mlp(sizes, out_act):
        layers = []
        for i in range(len(sizes) - 1):
            layers += [tnn.Linear(sizes[i], sizes[i + 1]), tnn.LeakyReLU(0.2)]
        layers[-1] = out_act
        return tnn.Sequential(*layers)

    def load(module, state):
        tensors = {k[len("net.") :]: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
        module.load_state_dict(tensors, strict=True)
        return module

    G = load(dcgan_generator(), states["G"])
    D = load(dcgan_discriminator(), states["D"])
    critic = load(dcgan_discriminator(batch_norm=False), states["critic"])
    mlp_G = load(mlp([100, 256, 256, 784], tnn.Tanh()), states["mlp_G"])
    mlp_D = load(mlp([784, 256, 256, 1], tnn.Identity()), states["mlp_D"])
    real_images = torch.from_numpy(data["real_images"])
    real_flat = torch.from_numpy(data["real_flat"])
    z = torch.from_numpy(data["z"])
    alpha = torch.from_numpy(data["alpha"]).reshape(-1, 1, 1, 1)
    ones, zeros = torch.ones(BATCH), torch.zeros(BATCH)
    adam = torch.optim.Adam
    opt_G, opt_D = adam(G.parameters(), 2e-4, (0.5, 0.999)), adam(D.parameters(), 2e-4, (0.5, 0.999))
    opt_C = adam(critic.parameters(), 1e-4, (0.0, 0.9))
    opt_mG, opt_mD = adam(mlp_G.parameters(), 2e-4, (0.5, 0.999)), adam(mlp_D.parameters(), 2e-4, (0.5, 0.999))
    bce = tF.binary_cross_entropy_with_logits

    def gan_step(G, D, opt_G, opt_D, real):
        fake = G(z)
        d_loss = bce(D(real).reshape(-1), ones) + bce(D(fake.detach()).reshape(-1), zeros)
        opt_D.zero_grad()
        d_loss.backward()
        opt_D.step()
        g_loss = bce(D(fake).reshape(-1), ones)
        opt_G.zero_grad()
        g_loss.backward()
        opt_G.step()
        return d_loss.item() + g_loss.item()

    def wgan_gp_critic_step():
        with torch.no_grad():
            fake = G(z)
        x_hat = (alpha * real_images + (1 - alpha) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
        norms = torch.sqrt((grad.reshape(BATCH, -1) ** 2).sum(1) + 1e-12)
        loss = critic(fake).mean() - critic(real_images).mean() + 10.0 * ((norms - 1) ** 2).mean()
        opt_C.zero_grad()
        loss.backward()
        opt_C.step()
        return loss.item()

    return {
        "DCGAN step (D + G)": lambda: gan_step(G, D, opt_G, opt_D, real_images),
        "WGAN-GP critic step": wgan_gp_critic_step,
        "MLP GAN step (D + G)": lambda: gan_step(mlp_G, mlp_D, opt_mG, opt_mD, real_flat),
    }


# ---------------------------------------------------------------------------------------------------


def step_worker(framework, threads):
    """Run in a subprocess: build the steps, then for each line `NAME` on stdin run that step once and
    print its time in seconds (`quit` ends)."""
    steps, states, data = minigan_steps()
    if framework == "torch":
        import torch

        torch.set_num_threads(threads)
        steps = torch_steps(states, data)
    else:
        import numba

        numba.set_num_threads(threads)
    names = {f"step{i}": step for i, step in enumerate(steps.values())}
    print("ready", flush=True)
    for line in sys.stdin:
        name = line.strip()
        if name == "quit":
            break
        start = time.perf_counter()
        names[name]()
        print(f"{time.perf_counter() - start:.6f}", flush=True)


def alternating_medians(worker_a, worker_b, name, repeats, block=4, settle=1):
    """Median step times of the two workers, run in alternating blocks: `settle` untimed steps, then
    `block` timed ones, on a, then on b, and so on until each has `repeats` timed steps.  Steps within a
    block run back to back, as in a training loop; the settling steps absorb the other process's
    spinning threads and a cold cache."""
    times_a, times_b = [], []
    while len(times_a) < repeats:
        for worker, times in ((worker_a, times_a), (worker_b, times_b)):
            for _ in range(settle):
                worker.ask(name)
            times.extend(float(worker.ask(name)) for _ in range(min(block, repeats - len(times))))
    return statistics.median(times_a), statistics.median(times_b)


def _status_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_child(framework, threads):
    """Run in a subprocess: set up, reset the peak RSS, run 3 DCGAN steps, print the peak increase (MiB)."""
    steps, states, data = minigan_steps()
    if framework == "torch":
        import torch

        torch.set_num_threads(threads)
        steps = torch_steps(states, data)
    step = steps["DCGAN step (D + G)"]
    step()  # first step: JIT, optimizer state allocation
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset VmHWM to the current RSS
    baseline = _status_kib("VmRSS")
    for _ in range(3):
        step()
    print(f"{(_status_kib('VmHWM') - baseline) / 1024:.2f}")


def coldstart_child():
    """Run in a subprocess: time imports + construction + the first DCGAN step."""
    start = time.perf_counter()
    steps, _, _ = minigan_steps()
    steps["DCGAN step (D + G)"]()
    print(f"{time.perf_counter() - start:.3f}", flush=True)
    from minigan_kernels import precompile

    precompile.wait_for_helper()  # (a cold cache starts one: let it finish before the warm-cache run)


def run_child(args, env=None):
    result = subprocess.run(
        [sys.executable, os.path.abspath(__file__)] + args, capture_output=True, text=True, env=env, check=True
    )
    return float(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None, help="threads for both (default: Numba's count)")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-coldstart", action="store_true")
    parser.add_argument(
        "--torch-malloc-tuned",
        action="store_true",
        help="give PyTorch's processes minigan's malloc settings too (default: glibc's, as its users run it)",
    )
    parser.add_argument("--block", type=int, default=4, help="timed steps per block (after one settling step)")
    parser.add_argument(
        "--without-blas-overrides",
        action="store_true",
        help="start the timed processes without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (bench/machine.py)",
    )
    parser.add_argument("--memory-child", choices=["minigan", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--step-worker", choices=["minigan", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--coldstart-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    import minigan_kernels as kernels

    kernels.select("numpy")  # first: it sets up the CPU kernels (Numba's threading layer) before any parallel call
    import numba

    threads = args.threads or numba.get_num_threads()
    if args.memory_child:
        return memory_child(args.memory_child, threads)
    if args.coldstart_child:
        return coldstart_child()
    if args.step_worker:
        return step_worker(args.step_worker, threads)

    import torch
    import minigan as mg

    print(f"load average at start: {os.getloadavg()[0]:.2f}; threads: {threads}; torch {torch.__version__}")
    print(
        "malloc: minigan's processes "
        + (
            "glibc defaults (MINIGAN_MALLOC_TUNING=0)"
            if os.environ.get("MINIGAN_MALLOC_TUNING", "1").strip() == "0"
            else "tuned by kernels/allocator.py"
        )
        + "; PyTorch's "
        + ("tuned the same way (--torch-malloc-tuned)" if args.torch_malloc_tuned else "glibc defaults")
    )
    print(mg.backend_info().replace("\n", "; "))
    print(machine.describe(worker_environment("minigan", without_blas_overrides=args.without_blas_overrides)))
    names = list(minigan_steps()[0])
    workers = tuple(
        WorkerProcess(
            os.path.abspath(__file__),
            ["--step-worker", side, "--threads", str(threads)],
            side,
            worker_environment(side, args.torch_malloc_tuned, args.without_blas_overrides),
        )
        for side in ("minigan", "torch")
    )
    print(
        f"\n{'step':26s} {'minigan ms':>11s} {'torch ms':>10s} {'ratio':>7s}   (medians of {args.repeats}, "
        f"two processes, alternating blocks of 1 + {args.block} steps)"
    )
    for i, name in enumerate(names):
        t_mg, t_torch = alternating_medians(*workers, f"step{i}", args.repeats, args.block)
        print(f"{name:26s} {t_mg * 1e3:11.1f} {t_torch * 1e3:10.1f} {t_mg / t_torch:7.2f}")
    for worker in workers:
        worker.close()

    if not args.skip_memory:
        mem_mg = run_child(["--memory-child", "minigan", "--threads", str(threads)])
        mem_torch = run_child(
            ["--memory-child", "torch", "--threads", str(threads)], worker_environment("torch", args.torch_malloc_tuned)
        )
        print(
            f"\npeak memory of 3 DCGAN steps (RSS above set-up): minigan {mem_mg:.1f} MiB, torch {mem_torch:.1f} "
            f"MiB, ratio {mem_mg / max(mem_torch, 1e-9):.2f}"
        )

    if not args.skip_coldstart:
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, NUMBA_CACHE_DIR=cache, MINIGAN_PRECOMPILE="1")
            cold = run_child(["--coldstart-child"], env)
            warm = run_child(["--coldstart-child"], env)
        print(f"first DCGAN step incl. imports and JIT: cold cache {cold:.2f} s, warm cache {warm:.2f} s")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
