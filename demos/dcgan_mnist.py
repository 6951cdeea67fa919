"""DCGAN on mnist5k (Radford, Metz & Chintala 2016), and why its generator uses the non-saturating loss
(Goodfellow et al. 2014, section 3).

    python demos/dcgan_mnist.py [--quick] [--out demo_out/dcgan_mnist] [--seed 0] [--epochs 20] [--overwrite]

What it shows (source 002): the GAN game on convolutional networks learns all ten digits from 4 000 real
MNIST images (mnist5k, scaled to [-1, 1]); and the minimax generator loss E log(1 - D(G(z))) gives G almost
no gradient exactly when D wins, where -E log D(G(z)) gives a strong one. About 3 minutes on one CPU thread.

The update is Algorithm 1 of Goodfellow et al. (2014) with the non-saturating generator loss, one call into
``DCGAN.train_step`` (minigan/trainers/gan.py, ``GAN.train_step``; minigan/trainers/dcgan.py adds only the
networks' family name):

    for each real batch x (m = 64 images):
        (1) for k = 1 steps:  z ~ N(0, I);  D ascends   E log D(x) + E log(1 - D(G(z)))
        (2)                   z ~ N(0, I);  G descends  -E log D(G(z))          Adam(2e-4, betas (0.5, 0.999))

Measurements, each beside a baseline: the generator gradient norms of both losses against a D that wins;
the class histogram of 2 000 samples read by a digit classifier trained on real digits (classes covered, KL
to uniform, confidence) for the trained G, an untrained G and real test digits. Reference: Radford et al.
publish samples, no MNIST numbers.
"""

import argparse
import os

import numpy as np

import minigan as mg
from minigan import autograd, data, demo_args, losses, optim, report, viz
from minigan.evaluate import digit_classifier, judge_digits
from minigan.models import DCGANDiscriminator, DCGANGenerator
from minigan.trainers.base import step_parameters
from minigan.trainers.dcgan import DCGAN
from minigan.training import fit

# -- settings: pytorch/examples/dcgan's (Adam 2e-4, betas (0.5, 0.999), batch 64), widths halved for a CPU --
LATENT = 100
WIDTH = 32  # G: 100 -> (64, 7, 7) -> (32, 14, 14) -> (1, 28, 28); D: 1 -> 32 -> 64 -> 1 logit
BATCH = 64
EPOCHS = 20  # 20 x 62 = 1 240 generator steps (one D step each)
D_STEPS = 1  # Goodfellow et al.'s k
LR = 2e-4
SAMPLE_EPOCHS = (0, 1, 5, 20)
N_JUDGE = 2000  # generated images classified for the coverage histogram
CLASSIFIER_EPOCHS = 20
SEED = 0
QUICK = dict(epochs=1, n_train=256, width=8, n_judge=200, classifier_epochs=2, sample_epochs=(0, 1))


def generator_gradient_norms(G, D, latent, real, d_updates, lr):
    """Measurement (1): train D alone for ``d_updates`` steps against the fixed G, then ||d loss / d theta_G||
    of both generator losses on the same z, and D's mean probability on those fakes."""
    optimizer = optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    params_d, params_g = list(D.parameters()), list(G.parameters())
    for _ in range(d_updates):
        with autograd.no_grad():
            fake = G(mg.randn(len(real), latent))
        step_parameters(losses.d_loss_minimax(D(mg.tensor(real)), D(fake)), params_d, optimizer)
    z = mg.randn(len(real), latent)
    out = {}
    for name, loss_fn in (("minimax", losses.g_loss_minimax), ("nonsaturating", losses.g_loss_nonsaturating)):
        logits = D(G(z))
        grads = autograd.grad(loss_fn(logits), params_g)
        out[name] = float(np.sqrt(sum(float((g.numpy().astype(np.float64) ** 2).sum()) for g in grads)))
        out["d_fake_probability"] = float(mg.functional.sigmoid(logits).mean().item())
    return out


def coverage_and_loss_figure(path, judged, metrics):
    """The class histograms of the judged generators beside real digits; D and G losses over training."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for offset, (name, summary) in zip((-1, 0, 1), judged.items()):
        axes[0].bar(np.arange(10) + offset * 0.27, summary["coverage"]["fractions"], 0.27, label=name)
    axes[0].axhline(0.1, color="grey", linestyle=":")
    axes[0].set(xticks=range(10), xlabel="digit predicted by the classifier", ylabel="share of samples")
    axes[0].legend(fontsize=8)
    steps = np.array([m["step"] for m in metrics])
    for key in ("d_loss", "g_loss", "d_accuracy"):
        values = np.array([m[key] for m in metrics])
        smooth = np.convolve(values, np.ones(min(25, len(values))) / min(25, len(values)), mode="valid")
        axes[1].plot(steps[len(steps) - len(smooth) :], smooth, label=key)
    axes[1].set_xlabel("generator step")
    axes[1].legend(fontsize=8)
    axes[1].grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    demo_args.add_run_flags(
        parser,
        "demo_out/dcgan_mnist",
        seed=SEED,
        epochs=True,
        progress=True,
        quick_help="seconds: a smoke run of every step",
    )
    args = parser.parse_args(argv)
    demo_args.refuse_to_replace_a_run(parser, args)  # before any training
    quick = QUICK if args.quick else {}
    epochs = args.epochs or quick.get("epochs", EPOCHS)
    width, n_judge = quick.get("width", WIDTH), quick.get("n_judge", N_JUDGE)
    sample_epochs = tuple(e for e in quick.get("sample_epochs", SAMPLE_EPOCHS) if e <= epochs) + (epochs,)
    rep = report.Report(f"DCGAN on mnist5k (source 002){' -- QUICK smoke run' if args.quick else ''}", args.out)
    mg.manual_seed(args.seed)

    train, test = data.load("mnist5k"), data.load("mnist5k", split="test")
    n_train = quick.get("n_train", len(train))
    x_train = (train.x[:n_train] * 2 - 1).astype(np.float32)  # [-1, 1] for the tanh generator
    classifier = digit_classifier(train, epochs=quick.get("classifier_epochs", CLASSIFIER_EPOCHS), seed=args.seed)

    # -- measurement (1): the saturating minimax loss vs the non-saturating loss, against a D that wins ------
    d_updates = 5 if args.quick else 50
    saturation = generator_gradient_norms(
        DCGANGenerator(LATENT, width), DCGANDiscriminator(width), LATENT, x_train[:BATCH], d_updates, LR
    )

    # -- the algorithm: Goodfellow et al.'s Algorithm 1, non-saturating G, on DCGAN networks ----------------
    trainer = DCGAN(
        DCGANGenerator(LATENT, width), DCGANDiscriminator(width), d_steps=D_STEPS, generator_loss="nonsaturating", lr=LR
    )
    z_fixed, z_judge = mg.randn(64, LATENT), mg.randn(n_judge, LATENT)  # the same z for every grid / judgement
    untrained, _, _ = judge_digits(classifier, trainer.generate(z_judge))
    grids = {0: trainer.generate(z_fixed).numpy()}
    loader = data.DataLoader(x_train, batch_size=BATCH, shuffle=True, seed=args.seed, drop_last=True)

    def grid_at(step, record):
        if step % len(loader) == 0 and step // len(loader) in sample_epochs:
            grids[step // len(loader)] = trainer.generate(z_fixed).numpy()

    result = fit(
        trainer,
        loader,
        epochs,
        os.path.join(args.out, "run"),
        checkpoint_every=500,
        overwrite=True,
        progress=not args.no_progress,
        callbacks=[grid_at],
        description="dcgan",
    )

    # -- measurement (2): the digit judge on samples of the trained G, an untrained G, real digits -----------
    trained, _, _ = judge_digits(classifier, trainer.generate(z_judge))
    real, _, _ = judge_digits(classifier, test.x, value_range=(0, 1))
    judged = {"baseline: untrained G": untrained, "DCGAN (trained)": trained, "reference: real test digits": real}
    for epoch, images in sorted(grids.items()):
        viz.save_image_grid(
            images,
            os.path.join(args.out, f"samples_epoch_{epoch:03d}.png"),
            nrow=8,
            value_range=(-1, 1),
            title=f"DCGAN samples after {epoch} epoch(s) (same z)",
        )
    coverage_and_loss_figure(
        os.path.join(args.out, "coverage_and_losses.png"),
        judged,
        viz.read_metrics(os.path.join(args.out, "run", "metrics.jsonl")),
    )

    classifier_accuracy = classifier.score(test.x, test.y)
    rep.settings(
        training_digits=n_train,
        batch=BATCH,
        epochs=epochs,
        generator_steps=result["step"],
        d_steps=D_STEPS,
        lr=LR,
        betas="(0.5, 0.999)",
        width=width,
        latent=LATENT,
        seed=args.seed,
    )
    rep.table(
        "Why the non-saturating generator loss",
        ["generator loss", "norm of d loss / d theta_G"],
        [
            ["minimax  E log(1 - D(G(z)))", saturation["minimax"]],
            ["non-saturating  -E log D(G(z))", saturation["nonsaturating"]],
        ],
        note=f"D trained alone against an untrained G ({d_updates} steps) gives the fakes D(G(z)) = "
        f"{saturation['d_fake_probability']:.4f}. The two losses have the same fixed point; when D "
        "wins, the minimax one gives G next to nothing to learn from.",
    )
    rep.table(
        f"Samples judged by a classifier trained on real digits (logistic regression, "
        f"{classifier_accuracy:.3f} test accuracy), {n_judge} samples",
        [
            "generator",
            "classes covered (>= 1 %)",
            "KL(histogram ‖ uniform) nats",
            "entropy nats (max 2.303)",
            "mean max probability",
            "missing",
        ],
        [
            [
                name,
                f"{s['coverage']['covered']}/10",
                s["coverage"]["kl_to_reference"],
                s["coverage"]["entropy"],
                s["mean_max_probability"],
                ", ".join(map(str, s["coverage"]["missing"])) or "-",
            ]
            for name, s in judged.items()
        ],
        note="A collapsed generator shows as missing classes and a large KL; blobs as low confidence.",
    )
    last = result["last"]
    rep.text(
        f"Last step: d_loss {last['d_loss']:.3f}, g_loss {last['g_loss']:.3f}, D accuracy {last['d_accuracy']:.3f}."
    )
    for epoch in sorted(grids):
        rep.figure(f"samples_epoch_{epoch:03d}.png", f"samples after {epoch} epoch(s), the same z")
    rep.figure("coverage_and_losses.png", "class histograms of the judged samples; losses over training")
    results = {
        "classifier_test_accuracy": classifier_accuracy,
        "saturation": saturation,
        "untrained": untrained,
        "trained": trained,
        "real": real,
        "last_metrics": last,
        "generator_steps": result["step"],
    }
    rep.save(results)
    return results


if __name__ == "__main__":
    main()
