"""Source 002: the GAN game, the non-saturating generator loss, and DCGAN on MNIST (Radford et al., 2016).

    python demos/dcgan_mnist.py --out demo_out/dcgan_mnist        # about 3 minutes on one CPU thread
    python demos/dcgan_mnist.py --quick --out /tmp/dcgan_quick    # seconds: a smoke run of every step

Data: ``minigan.data.load("mnist5k")``, 4 000 training / 1 000 test real MNIST digits scaled to [-1, 1].

What it does:

1. why the non-saturating loss (Goodfellow et al., 2014, section 3): D is trained for a few steps against an
   untrained G, then the gradient norm of each generator loss with respect to G's parameters is measured:
   the minimax loss E log(1 - D(G(z))) gives almost no gradient exactly when D wins, -E log D(G(z)) a strong one;
2. DCGAN (``models.DCGANGenerator``/``DCGANDiscriminator``, ``adversarial.GAN``, non-saturating loss, Adam 2e-4
   betas (0.5, 0.999), batch 64) trained with ``training.fit`` (checkpoints, metrics log, NaN guard);
3. mode collapse and sample quality measured by a digit classifier trained on real mnist5k (logistic
   regression, ``evaluate.digit_classifier``): class histogram of 2 000 samples (``evaluate.mode_coverage``:
   covered classes, KL to uniform) and the classifier's confidence, beside an untrained generator and real
   test digits;
4. figures: samples at several epochs (fixed z), the class histogram, loss and D-accuracy curves;
5. report.md + report.json with every number, the schedule and the wall time.
"""
import argparse
import json
import os
import sys
import time

if __package__ in (None, ""):                       # `python demos/dcgan_mnist.py` from a checkout
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import minigan as mg  # noqa: E402
import minigan.data as data  # noqa: E402
from minigan import autograd, losses, viz  # noqa: E402
from minigan.adversarial import GAN  # noqa: E402
from minigan.evaluate import digit_classifier, judge_digits  # noqa: E402
from minigan.models import DCGANDiscriminator, DCGANGenerator  # noqa: E402
from minigan.training import fit  # noqa: E402

# ---- settings (pytorch/examples/dcgan: Adam 2e-4, betas (0.5, 0.999), batch 64; widths halved for a CPU)
LATENT = 100
WIDTH = 32              # G: 100 -> (64, 7, 7) -> (32, 14, 14) -> (1, 28, 28); D: 1 -> 32 -> 64 -> 1 logit
BATCH = 64
EPOCHS = 20             # 20 x 62 = 1 240 generator steps (one D step each)
D_STEPS = 1
LR = 2e-4
SAMPLE_EPOCHS = (0, 1, 5, 20)
N_JUDGE = 2000          # generated images classified for the coverage histogram
CLASSIFIER_EPOCHS = 20
SEED = 0
QUICK = dict(epochs=1, n_train=256, width=8, n_judge=200, classifier_epochs=2, sample_epochs=(0, 1))


def gradient_norms_of_generator_losses(G, D, latent, real, d_updates, lr):
    """Train D alone for ``d_updates`` steps against the (fixed) G, then ||d loss / d theta_G|| for both
    generator losses on the same z, and D's mean probability on those fakes."""
    from minigan import optim
    from minigan.adversarial import step_parameters
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_out/dcgan_mnist")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    quick = QUICK if args.quick else {}
    epochs = args.epochs or quick.get("epochs", EPOCHS)
    width, n_judge = quick.get("width", WIDTH), quick.get("n_judge", N_JUDGE)
    sample_epochs = tuple(e for e in quick.get("sample_epochs", SAMPLE_EPOCHS) if e <= epochs) + (epochs,)
    os.makedirs(args.out, exist_ok=True)
    started = time.time()
    mg.manual_seed(args.seed)

    train, test = data.load("mnist5k"), data.load("mnist5k", split="test")
    n_train = quick.get("n_train", len(train))
    x_train = (train.x[:n_train] * 2 - 1).astype(np.float32)            # [-1, 1] for the tanh generator
    classifier = digit_classifier(train, epochs=quick.get("classifier_epochs", CLASSIFIER_EPOCHS), seed=args.seed)
    classifier_accuracy = classifier.score(test.x, test.y)

    # (1) the saturating minimax loss vs the non-saturating loss, against a D that wins
    saturation = gradient_norms_of_generator_losses(DCGANGenerator(LATENT, width), DCGANDiscriminator(width), LATENT,
                                                    x_train[:BATCH], 5 if args.quick else 50, LR)
    print("generator gradient norms against a trained D:", saturation, flush=True)

    # (2) DCGAN
    G, D = DCGANGenerator(LATENT, width), DCGANDiscriminator(width)
    model = GAN(G, D, d_steps=D_STEPS, generator_loss="nonsaturating", lr=LR)
    z_fixed = mg.randn(64, LATENT)
    z_judge = mg.randn(n_judge, LATENT)
    untrained, _, _ = judge_digits(classifier, model.sample(z_judge))
    grids = {}

    def grid_at(step, record):
        epoch = step / len(loader)
        if abs(epoch - round(epoch)) < 1e-9 and round(epoch) in sample_epochs:
            grids[round(epoch)] = model.sample(z_fixed).numpy()

    grids[0] = model.sample(z_fixed).numpy()
    loader = data.DataLoader(x_train, batch_size=BATCH, shuffle=True, seed=args.seed, drop_last=True)
    result = fit(model, loader, epochs, os.path.join(args.out, "run"), checkpoint_every=500,
                 progress=not args.no_progress, callbacks=[grid_at], description="dcgan")
    for epoch in sorted(grids):
        viz.save_image_grid(grids[epoch], os.path.join(args.out, f"samples_epoch_{epoch:03d}.png"), nrow=8,
                            value_range=(-1, 1), title=f"DCGAN samples after {epoch} epoch(s) (same z)")

    # (3) coverage and confidence
    trained, predicted, _ = judge_digits(classifier, model.sample(z_judge))
    real, _, _ = judge_digits(classifier, test.x, value_range=(0, 1))
    metrics = viz.read_metrics(os.path.join(args.out, "run", "metrics.jsonl"))

    figure, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    bar_width = 0.27
    for offset, (name, summary) in zip((-1, 0, 1), (("untrained G", untrained), ("trained DCGAN", trained),
                                                     ("real test digits", real))):
        axes[0].bar(np.arange(10) + offset * bar_width, summary["coverage"]["fractions"], bar_width, label=name)
    axes[0].axhline(0.1, color="grey", linestyle=":")
    axes[0].set_xticks(range(10))
    axes[0].set_xlabel("digit predicted by the classifier")
    axes[0].set_ylabel("share of samples")
    axes[0].legend(fontsize=8)
    steps = np.array([m["step"] for m in metrics])
    for key in ("d_loss", "g_loss", "d_accuracy"):
        values = np.array([m[key] for m in metrics])
        smooth = np.convolve(values, np.ones(min(25, len(values))) / min(25, len(values)), mode="valid")
        axes[1].plot(steps[len(steps) - len(smooth):], smooth, label=key)
    axes[1].set_xlabel("generator step")
    axes[1].legend(fontsize=8)
    axes[1].grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(os.path.join(args.out, "coverage_and_losses.png"), dpi=100)
    plt.close(figure)

    def row(name, s):
        c = s["coverage"]
        return (f"| {name} | {c['covered']}/10 | {c['kl_to_reference']:.3f} | {c['entropy']:.3f} | "
                f"{s['mean_max_probability']:.3f} | {', '.join(map(str, c['missing'])) or '-'} |")

    seconds = time.time() - started
    report = {"settings": {"latent": LATENT, "width": width, "batch": BATCH, "epochs": epochs, "d_steps": D_STEPS,
                           "lr": LR, "n_train": n_train, "generator_steps": result["step"], "n_judge": n_judge,
                           "quick": bool(args.quick), "seed": args.seed},
              "classifier_test_accuracy": classifier_accuracy, "saturation": saturation,
              "untrained": untrained, "trained": trained, "real": real,
              "last_metrics": result["last"], "seconds": seconds}
    with open(os.path.join(args.out, "report.json"), "w") as handle:
        json.dump(report, handle, indent=1)
    lines = [f"# DCGAN on mnist5k (source 002){' -- QUICK smoke run' if args.quick else ''}", "",
             f"Schedule: {n_train} training digits, batch {BATCH}, {epochs} epochs = {result['step']} generator steps "
             f"({D_STEPS} D step each), Adam {LR} betas (0.5, 0.999), width {width}, z in R^{LATENT}; "
             f"wall time {seconds:.0f} s on {mg.backend.cpu_threads()} CPU thread(s).", "",
             "## Why the non-saturating generator loss", "",
             f"D trained alone against an untrained G ({5 if args.quick else 50} steps) gives the fakes "
             f"D(G(z)) = {saturation['d_fake_probability']:.4f}. Gradient norm with respect to G's parameters:", "",
             "| generator loss | norm of d loss / d theta_G |", "|---|---|",
             f"| minimax  E log(1 - D(G(z))) | {saturation['minimax']:.3g} |",
             f"| non-saturating  -E log D(G(z)) | {saturation['nonsaturating']:.3g} |", "",
             "The two losses have the same fixed point; when D wins, the minimax one gives G next to nothing to learn from.", "",
             f"## Samples judged by a classifier trained on real digits (logistic regression, {classifier_accuracy:.3f} "
             f"test accuracy), {n_judge} samples", "",
             "| generator | classes covered (>= 1 %) | KL(histogram ‖ uniform) nats | entropy nats (max 2.303) | "
             "mean max probability | missing |", "|---|---|---|---|---|---|",
             row("baseline: untrained G", untrained), row("DCGAN (trained)", trained),
             row("reference: real test digits", real), "",
             "A collapsed generator shows as missing classes and a large KL; blobs as low confidence.", "",
             f"Last step: d_loss {result['last']['d_loss']:.3f}, g_loss {result['last']['g_loss']:.3f}, "
             f"D accuracy {result['last']['d_accuracy']:.3f}.", "",
             "Figures: " + ", ".join(f"samples_epoch_{e:03d}.png" for e in sorted(grids)) + ", coverage_and_losses.png", ""]
    with open(os.path.join(args.out, "report.md"), "w") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines))
    return report


if __name__ == "__main__":
    main()
