"""Conditional DCGAN on mnist5k (Mirza & Osindero, "Conditional Generative Adversarial Nets", 2014).

    python demos/cgan_mnist.py [--quick] [--seed 0] [--epochs 30] [--out demo_out/cgan_mnist] [--overwrite | --resume]
    # full run: about 9 minutes on one (shared) CPU thread; --quick: seconds

What it shows: source 003's conditional DCGAN (docs/sources.md) -- the one-hot label y joins the noise at G's
input and every hidden map of both networks as constant feature maps (``conv_cond_concat``), and D is
trained twice per G step. Does G(z, y) draw the digit y? A digit judge (logistic regression trained on real
digits) reads 200 samples per label.
The update: ``ConditionalGAN.train_step`` in minigan/trainers/conditional.py (the paper's eq. 2, non-saturating G).
Reference: the paper shows samples, no accuracy; beside ours: chance, an untrained G, and the judge on real
test digits (the ceiling it allows).
"""

import argparse
import os

import matplotlib.pyplot as plt
import numpy as np

import minigan as mg
from minigan import data, demo_args, report, viz
from minigan.evaluate import digit_classifier
from minigan.models import ConditionalDCGANDiscriminator, ConditionalDCGANGenerator
from minigan.trainers.conditional import ConditionalGAN
from minigan.training import fit

# -- settings: source 003's (z of 100 numbers, D twice per G step), DCGAN's Adam ---------------------------
LATENT, WIDTH, BATCH, D_STEPS, LR = 100, 32, 64, 2, 2e-4
EPOCHS = 30  # 30 x 62 = 1 860 generator steps, 3 720 discriminator steps
PER_CLASS = 200  # samples per label read by the judge
JUDGE_EPOCHS = 20
QUICK = dict(epochs=1, n_train=256, width=8, per_class=20, judge_epochs=2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    demo_args.add_run_flags(parser, "demo_out/cgan_mnist", epochs=True, progress=True, resumable=True)
    args = parser.parse_args(argv)
    demo_args.refuse_to_replace_a_run(parser, args)  # before any training
    quick = QUICK if args.quick else {}
    epochs = args.epochs or quick.get("epochs", EPOCHS)
    width, per_class = quick.get("width", WIDTH), quick.get("per_class", PER_CLASS)
    rep = report.Report(
        "Conditional DCGAN on mnist5k (source 003)" + (" -- QUICK smoke run" if args.quick else ""), args.out
    )
    mg.manual_seed(args.seed)

    train, test = data.load("mnist5k"), data.load("mnist5k", split="test")
    n_train = quick.get("n_train", len(train))
    x_train, y_train = (train.x[:n_train] * 2 - 1).astype(np.float32), train.y[:n_train]
    judge = digit_classifier(train, epochs=quick.get("judge_epochs", JUDGE_EPOCHS), seed=args.seed)
    judge_accuracy = judge.score(test.x, test.y)

    # -- the algorithm: ConditionalGAN.train_step on each labelled batch (x, y) ----------------------------
    model = ConditionalGAN(
        ConditionalDCGANGenerator(LATENT, 10, width),
        ConditionalDCGANDiscriminator(10, width),
        n_classes=10,
        d_steps=D_STEPS,
        lr=LR,
    )
    before = model.conditional_accuracy(judge, per_class, args.seed + 1)
    loader = data.DataLoader(x_train, y_train, batch_size=BATCH, shuffle=True, seed=args.seed, drop_last=True)
    result = fit(
        model,
        loader,
        epochs,
        os.path.join(args.out, "run"),
        checkpoint_every=500,
        resume=args.resume,
        overwrite=not args.resume,
        progress=not args.no_progress,
        description="cgan",
    )
    after = model.conditional_accuracy(judge, per_class, args.seed + 1)

    # -- measurements --------------------------------------------------------------------------------------
    z = np.random.default_rng(args.seed + 2).normal(size=(10, LATENT)).astype(np.float32)
    grid = model.generate(np.tile(z, (10, 1)), np.repeat(np.arange(10), 10)).numpy()
    viz.save_image_grid(
        grid,
        os.path.join(args.out, "samples_by_label.png"),
        nrow=10,
        value_range=(-1, 1),
        title="conditional DCGAN: row = label 0..9, column = the same z",
    )
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    axes[0].bar(np.arange(10) - 0.2, before["per_class"], 0.4, label="untrained G")
    axes[0].bar(np.arange(10) + 0.2, after["per_class"], 0.4, label="trained cGAN")
    axes[0].axhline(0.1, color="grey", linestyle=":", label="chance")
    axes[0].set_xticks(range(10))
    axes[0].set_xlabel("conditioning label")
    axes[0].set_ylabel("classifier agrees with the label")
    axes[0].legend(fontsize=8)
    viz.plot_running_means(axes[1], os.path.join(args.out, "run", "metrics.jsonl"), ("d_loss", "g_loss", "d_accuracy"))
    axes[1].set_xlabel("generator step")
    figure.tight_layout()
    figure.savefig(os.path.join(args.out, "accuracy_and_losses.png"), dpi=100)
    plt.close(figure)

    last = result["last"]
    rep.settings(
        labelled_digits=n_train,
        batch=BATCH,
        epochs=epochs,
        generator_steps=result["step"],
        d_steps=D_STEPS,
        lr=LR,
        betas="(0.5, 0.999)",
        latent=LATENT,
        width=width,
        per_class=per_class,
        seed=args.seed,
    )
    rep.table(
        f"Does G(z, y) draw the digit y? ({per_class} samples per label; judge: logistic regression on real digits)",
        ["", "accuracy against the conditioning label", "classes covered", "mean max probability"],
        [
            ["chance", 0.1, "", ""],
            [
                "baseline: untrained G",
                before["accuracy"],
                f"{before['coverage']['covered']}/10",
                before["mean_max_probability"],
            ],
            [
                "conditional DCGAN (trained)",
                after["accuracy"],
                f"{after['coverage']['covered']}/10",
                after["mean_max_probability"],
            ],
            ["ceiling: the judge on real test digits", judge_accuracy, "10/10", ""],
        ],
        note="Per label (trained): " + ", ".join(f"{c}: {a:.2f}" for c, a in enumerate(after["per_class"])),
    )
    rep.text(
        f"Last step: d_loss {last['d_loss']:.3f}, g_loss {last['g_loss']:.3f}, D accuracy {last['d_accuracy']:.3f}."
    )
    rep.figure("samples_by_label.png", "one row per label 0..9, the same z down each column")
    rep.figure("accuracy_and_losses.png", "the judge's agreement per label; running means of the losses")
    return rep.save(
        results={
            "judge_test_accuracy": judge_accuracy,
            "chance": 0.1,
            "untrained": before,
            "trained": after,
            "last_metrics": last,
        }
    )


if __name__ == "__main__":
    main()
