"""Source 003: a conditional DCGAN on MNIST -- labels concatenated to the inputs and to the feature maps.

    python demos/cgan_mnist.py --out demo_out/cgan_mnist        # about 9 minutes on one (shared) CPU thread
    python demos/cgan_mnist.py --quick --out /tmp/cgan_quick    # seconds

Source 003's Theano model: the one-hot label y joins the noise z at G's input and every hidden map of both
networks as constant feature maps (``conv_cond_concat``); leaky ReLU 0.2 in D, batch norm, deconvolutions
(transposed convolutions: the gradient of a convolution with respect to its input), and the discriminator
trained twice per generator step. Here: ``models.ConditionalDCGANGenerator``/``ConditionalDCGANDiscriminator``
and ``adversarial.ConditionalGAN(d_steps=2)``, non-saturating G loss, Adam 2e-4 betas (0.5, 0.999).

What it does:

1. train on mnist5k (4 000 labelled real digits in [-1, 1]) with ``training.fit`` (labels through
   ``adversarial.LabelledBatches``);
2. does G obey its label? 200 samples per class are classified by a logistic regression trained on real
   digits: the accuracy against the conditioning label, per class and overall, beside chance (0.1), an
   untrained G, and the classifier's accuracy on real test digits (the ceiling this judge allows);
3. mode coverage and confidence of the same samples;
4. figures: a grid with one row per label (same z along each column), the per-class accuracy, losses;
5. report.md + report.json.
"""
import argparse
import json
import os
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import minigan as mg  # noqa: E402
import minigan.data as data  # noqa: E402
from minigan import viz  # noqa: E402
from minigan.adversarial import ConditionalGAN, LabelledBatches  # noqa: E402
from minigan.evaluate import digit_classifier, judge_digits  # noqa: E402
from minigan.models import ConditionalDCGANDiscriminator, ConditionalDCGANGenerator  # noqa: E402
from minigan.training import fit  # noqa: E402

# ---- settings (source 003: z of 100 numbers, D trained twice per G step)
LATENT = 100
WIDTH = 32
BATCH = 64
EPOCHS = 30                 # 30 x 62 = 1 860 generator steps, 3 720 discriminator steps
D_STEPS = 2
LR = 2e-4
PER_CLASS = 200
CLASSIFIER_EPOCHS = 20
SEED = 0
QUICK = dict(epochs=1, n_train=256, width=8, per_class=20, classifier_epochs=2)


def conditional_accuracy(model, classifier, per_class, seed):
    """Accuracy of the classifier on G(z, y) against y, per class and overall, plus coverage/confidence."""
    labels = np.repeat(np.arange(10), per_class)
    z = mg.tensor(np.random.default_rng(seed).normal(size=(len(labels), model.latent_dim)).astype(np.float32))
    summary, predicted, _ = judge_digits(classifier, model.sample(z, labels))
    per_class_accuracy = [float(np.mean(predicted[labels == c] == c)) for c in range(10)]
    return {"accuracy": float(np.mean(predicted == labels)), "per_class": per_class_accuracy, **summary}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_out/cgan_mnist")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    quick = QUICK if args.quick else {}
    epochs = args.epochs or quick.get("epochs", EPOCHS)
    width, per_class = quick.get("width", WIDTH), quick.get("per_class", PER_CLASS)
    os.makedirs(args.out, exist_ok=True)
    started = time.time()
    mg.manual_seed(args.seed)

    train, test = data.load("mnist5k"), data.load("mnist5k", split="test")
    n_train = quick.get("n_train", len(train))
    x_train, y_train = (train.x[:n_train] * 2 - 1).astype(np.float32), train.y[:n_train]
    classifier = digit_classifier(train, epochs=quick.get("classifier_epochs", CLASSIFIER_EPOCHS), seed=args.seed)
    classifier_accuracy = classifier.score(test.x, test.y)

    G, D = ConditionalDCGANGenerator(LATENT, 10, width), ConditionalDCGANDiscriminator(10, width)
    model = ConditionalGAN(G, D, n_classes=10, d_steps=D_STEPS, lr=LR)
    before = conditional_accuracy(model, classifier, per_class, args.seed + 1)
    loader = LabelledBatches(data.DataLoader(x_train, y_train, batch_size=BATCH, shuffle=True, seed=args.seed,
                                             drop_last=True))
    result = fit(model, loader, epochs, os.path.join(args.out, "run"), checkpoint_every=500,
                 progress=not args.no_progress, description="cgan")
    after = conditional_accuracy(model, classifier, per_class, args.seed + 1)
    print("untrained accuracy", before["accuracy"], "trained", after["accuracy"], flush=True)

    # one row per label, the same z down each column
    z = np.random.default_rng(args.seed + 2).normal(size=(10, LATENT)).astype(np.float32)
    grid = model.sample(mg.tensor(np.tile(z, (10, 1))), np.repeat(np.arange(10), 10)).numpy()
    viz.save_image_grid(grid, os.path.join(args.out, "samples_by_label.png"), nrow=10, value_range=(-1, 1),
                        title="conditional DCGAN: row = label 0..9, column = the same z")
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    axes[0].bar(np.arange(10) - 0.2, before["per_class"], 0.4, label="untrained G")
    axes[0].bar(np.arange(10) + 0.2, after["per_class"], 0.4, label="trained cGAN")
    axes[0].axhline(0.1, color="grey", linestyle=":", label="chance")
    axes[0].set_xticks(range(10))
    axes[0].set_xlabel("conditioning label")
    axes[0].set_ylabel("classifier agrees with the label")
    axes[0].legend(fontsize=8)
    metrics = viz.read_metrics(os.path.join(args.out, "run", "metrics.jsonl"))
    steps = np.array([m["step"] for m in metrics])
    for key in ("d_loss", "g_loss", "d_accuracy"):
        values = np.array([m[key] for m in metrics])
        k = min(25, len(values))
        axes[1].plot(steps[k - 1:], np.convolve(values, np.ones(k) / k, mode="valid"), label=key)
    axes[1].set_xlabel("generator step")
    axes[1].legend(fontsize=8)
    axes[1].grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(os.path.join(args.out, "accuracy_and_losses.png"), dpi=100)
    plt.close(figure)

    seconds = time.time() - started
    report = {"settings": {"latent": LATENT, "width": width, "batch": BATCH, "epochs": epochs, "d_steps": D_STEPS,
                           "lr": LR, "n_train": n_train, "generator_steps": result["step"], "per_class": per_class,
                           "quick": bool(args.quick), "seed": args.seed},
              "classifier_test_accuracy": classifier_accuracy, "chance": 0.1, "untrained": before, "trained": after,
              "last_metrics": result["last"], "seconds": seconds}
    with open(os.path.join(args.out, "report.json"), "w") as handle:
        json.dump(report, handle, indent=1)
    lines = [f"# Conditional DCGAN on mnist5k (source 003){' -- QUICK smoke run' if args.quick else ''}", "",
             f"Schedule: {n_train} labelled digits, batch {BATCH}, {epochs} epochs = {result['step']} generator steps, "
             f"{D_STEPS} D steps each, Adam {LR} betas (0.5, 0.999), width {width}; wall time {seconds:.0f} s on {mg.backend.cpu_threads()} CPU thread(s).", "",
             f"## Does G(z, y) draw the digit y? ({per_class} samples per label; judge: logistic regression trained on "
             "real digits)", "",
             "| | accuracy against the conditioning label | classes covered | mean max probability |", "|---|---|---|---|",
             "| chance | 0.100 | | |",
             f"| baseline: untrained G | {before['accuracy']:.3f} | {before['coverage']['covered']}/10 | {before['mean_max_probability']:.3f} |",
             f"| conditional DCGAN (trained) | {after['accuracy']:.3f} | {after['coverage']['covered']}/10 | {after['mean_max_probability']:.3f} |",
             f"| ceiling: the judge on real test digits | {classifier_accuracy:.3f} | 10/10 | |", "",
             "Per label (trained): " + ", ".join(f"{c}: {a:.2f}" for c, a in enumerate(after["per_class"])), "",
             f"Last step: d_loss {result['last']['d_loss']:.3f}, g_loss {result['last']['g_loss']:.3f}, "
             f"D accuracy {result['last']['d_accuracy']:.3f}.", "",
             "Figures: samples_by_label.png, accuracy_and_losses.png", ""]
    with open(os.path.join(args.out, "report.md"), "w") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines))
    return report


if __name__ == "__main__":
    main()
