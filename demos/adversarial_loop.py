"""Source 004: the adversarial recipe as a loop, and the mode collapse a real/fake discriminator cannot see.

    python demos/adversarial_loop.py [--quick] [--seed 0] [--out demo_out/adversarial_loop] [--overwrite]
    # full run: about 3 minutes on one CPU thread; --quick: seconds

What it shows: source 004 (docs/sources.md) describes the GAN (Goodfellow et al., "Generative Adversarial
Nets", 2014, Algorithm 1) as a recipe: generate, train D on real + synthetic, train G where D finds it weak,
repeat -- and notes that D only says "real or fake". If G gives up on the 8s, every sample it still draws can
look perfectly real: D cannot tell that a mode is missing; nobody even labelled the modes.
The update: steps 1-3 of the recipe are ``AdversarialLoop.train_step`` (minigan/trainers/adversarial_loop.py),
one call of ``fit`` below per discriminator; step 4, the monitor, is a callback of ``fit``.
Reference: none published; beside the trained D: a fresh discriminator and a perfect "generator" (real digits).

1. the recipe with DCGAN networks; every ``MONITOR_EVERY`` rounds the monitor measures D's real/fake accuracy
   on held-out digits and the mode coverage of 1 000 samples judged by a digit classifier trained on real
   data (``evaluate.judge_digits``);
2. any binary classifier can be the discriminator: the same loop with logistic regression on pixels as D;
3. the blind spot: from the trained G, a generator that *stops producing 8s* (its samples that the classifier
   calls 8 are replaced by fresh draws -- every remaining sample is one G could draw). Beside the full G:
   (a) the trained D's accuracy, (b) a fresh real/fake discriminator (logistic regression, a classifier
   two-sample test) trained and tested on real vs each generator, (c) mode coverage. The same with real
   digits as a perfect "generator" with and without its 8s. D's numbers do not move; coverage flags the
   missing class.
"""

import argparse
import os

import matplotlib.pyplot as plt
import numpy as np

import minigan as mg
from minigan import autograd, data, demo_args, report, viz
from minigan.evaluate import digit_classifier, discriminator_accuracy, judge_digits, two_sample_accuracy
from minigan.models import DCGANDiscriminator, DCGANGenerator, LogisticRegression
from minigan.trainers.adversarial_loop import AdversarialLoop
from minigan.trainers.base import eval_mode
from minigan.training import fit

# -- settings ----------------------------------------------------------------------------------------------
LATENT, WIDTH, BATCH, LR = 100, 32, 64, 2e-4  # DCGAN's networks and Adam (Radford et al., 2016)
EPOCHS = 16  # DCGAN discriminator in the loop: 16 x 62 = 992 rounds
EPOCHS_LOGISTIC = 5  # logistic-regression discriminator in the loop: 310 rounds
LR_LOGISTIC = 1e-3  # Adam's learning rate for the logistic-regression D
MONITOR_EVERY = 100
N_MONITOR = 1000
N_DIAGNOSTIC = 1000
DROPPED = 8  # the class the collapsed generator stops producing
MIN_RATIO = 0.3  # a class is covered at >= 30 % of its share among real digits (same classifier)
CLASSIFIER_EPOCHS = 20
QUICK = dict(
    epochs=1,
    epochs_logistic=1,
    monitor_every=2,
    width=8,
    n_train=256,
    n_monitor=100,
    n_diagnostic=200,
    classifier_epochs=2,
)


def coverage_monitor(loop, x_held, judge, reference, n_monitor, every, total_steps, history):
    """Step 4 of the recipe, as a callback of ``fit``: every ``every`` rounds (and after the last), on fixed
    noise, D's real/fake accuracy on held-out digits and the class histogram of G's samples under a
    real-digit judge (classes covered, KL to the real histogram), appended to ``history``."""
    z_monitor = mg.randn(n_monitor, LATENT)

    def monitor(step, record):
        if step % every and step != total_steps:
            return
        with eval_mode(loop.generator, loop.discriminator):
            fake = loop.generator(z_monitor)
            accuracy = discriminator_accuracy(loop.logits(mg.tensor(x_held[:n_monitor])), loop.logits(fake))
        summary, _, _ = judge_digits(judge, fake, reference=reference, min_ratio=MIN_RATIO)
        c = summary["coverage"]
        print(
            f"step {step}: D accuracy {accuracy:.3f}, classes covered {c['covered']}/10, "
            f"KL to real {c['kl_to_reference']:.3f}",
            flush=True,
        )
        history.append(
            {
                "step": step,
                "d_loss": record["d_loss"],
                "g_loss": record["g_loss"],
                "monitor_d_accuracy": accuracy,
                "covered": c["covered"],
                "kl_to_real": c["kl_to_reference"],
                "fractions": c["fractions"],
            }
        )

    return monitor


def sample_without(G, judge, n, dropped, seed):
    """The blind spot's generator: draw from G, discard what the judge calls ``dropped``, draw again until n
    remain. Every sample is one G itself could produce."""
    mg.manual_seed(seed)
    kept = []
    G.eval()
    while sum(len(k) for k in kept) < n:
        with autograd.no_grad():
            images = G(mg.randn(n, LATENT)).numpy()
        _, predicted, _ = judge_digits(judge, images)
        kept.append(images[predicted != dropped])
    G.train()
    return np.concatenate(kept)[:n]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    demo_args.add_run_flags(parser, "demo_out/adversarial_loop", progress=True)
    args = parser.parse_args(argv)
    demo_args.refuse_to_replace_a_run(parser, args)  # before any training
    quick = QUICK if args.quick else {}
    epochs, epochs_logistic = quick.get("epochs", EPOCHS), quick.get("epochs_logistic", EPOCHS_LOGISTIC)
    monitor_every, width = quick.get("monitor_every", MONITOR_EVERY), quick.get("width", WIDTH)
    n_monitor, n_diag = quick.get("n_monitor", N_MONITOR), quick.get("n_diagnostic", N_DIAGNOSTIC)
    lr_epochs = 2 if args.quick else 10
    os.makedirs(args.out, exist_ok=True)
    rep = report.Report(
        "The adversarial loop and the mode-coverage diagnostic (source 004)"
        + (" -- QUICK smoke run" if args.quick else ""),
        args.out,
    )
    mg.manual_seed(args.seed)

    train, test = data.load("mnist5k"), data.load("mnist5k", split="test")
    n_train = quick.get("n_train", len(train))
    x_train = (train.x[:n_train] * 2 - 1).astype(np.float32)
    x_test = (test.x * 2 - 1).astype(np.float32)
    steps_per_epoch = n_train // BATCH
    judge = digit_classifier(train, epochs=quick.get("classifier_epochs", CLASSIFIER_EPOCHS), seed=args.seed)
    # the judge's own class histogram on real test digits is the reference a generator should match
    reference = np.asarray(judge_digits(judge, test.x, value_range=(0, 1))[0]["coverage"]["fractions"])

    # -- the algorithm: source 004's recipe, one AdversarialLoop.train_step per batch of real digits
    #    (minigan/trainers/adversarial_loop.py), run by fit:
    #      step 1: synthetic samples x~ = G(z) from the current G, z ~ N(0, I)
    #      step 2: D on real + synthetic: descend -log D(x) - log(1 - D(x~))              (Adam, lr_d)
    #      step 3: G where D finds it weak: descend -log D(G(z)) on fresh z, only G moves  (Adam, lr)
    #      step 4: every `monitor_every` rounds, what D says and which classes G covers   (the monitor callback)
    # (1) DCGAN networks (Radford et al. 2016) as G and D
    G, D = DCGANGenerator(LATENT, width), DCGANDiscriminator(width)
    loop = AdversarialLoop(G, D, lr=LR)
    monitored = []
    monitor = coverage_monitor(
        loop, x_test, judge, reference, n_monitor, monitor_every, epochs * steps_per_epoch, monitored
    )
    fit(
        loop,
        data.DataLoader(x_train, batch_size=BATCH, shuffle=True, seed=args.seed, drop_last=True),
        epochs,
        os.path.join(args.out, "run_dcgan"),
        checkpoint_every=10**9,
        overwrite=True,
        callbacks=(monitor,),
        progress=not args.no_progress,
        description="loop, DCGAN D",
    )

    # (2) the same recipe, logistic regression on the pixels as the discriminator: any binary classifier will do
    mg.manual_seed(args.seed + 1)
    G_lr, D_lr = DCGANGenerator(LATENT, width), LogisticRegression(784, 1)
    loop_lr = AdversarialLoop(G_lr, D_lr, lr=LR, lr_d=LR_LOGISTIC)
    history_lr = []
    total_lr = epochs_logistic * steps_per_epoch
    monitor = coverage_monitor(
        loop_lr, x_test, judge, reference, n_monitor, max(1, total_lr // 3), total_lr, history_lr
    )
    fit(
        loop_lr,
        data.DataLoader(x_train, batch_size=BATCH, shuffle=True, seed=args.seed, drop_last=True),
        epochs_logistic,
        os.path.join(args.out, "run_logistic"),
        checkpoint_every=10**9,
        overwrite=True,
        callbacks=(monitor,),
        progress=not args.no_progress,
        description="loop, logistic D",
    )
    last_lr = history_lr[-1]

    # (3) the blind spot: drop the 8s
    shuffled = x_test[np.random.default_rng(args.seed).permutation(len(x_test))]  # mnist5k is sorted by digit
    half = len(shuffled) // 2
    real_fit, real_test = shuffled[:half], shuffled[half:]
    mg.manual_seed(args.seed + 3)
    G.eval()
    with autograd.no_grad():
        full = G(mg.randn(n_diag, LATENT)).numpy()
    G.train()
    without = sample_without(G, judge, n_diag, DROPPED, args.seed + 4)
    order = np.random.default_rng(args.seed + 5).permutation(len(train))
    real_pool, real_labels = (train.x[order] * 2 - 1).astype(np.float32), train.y[order]
    real_all = real_pool[:n_diag]
    real_no8 = real_pool[real_labels != DROPPED][:n_diag]

    diagnostic = {}
    for name, images in (
        ("G", full),
        (f"G without {DROPPED}s", without),
        ("real digits", real_all),
        (f"real digits without {DROPPED}s", real_no8),
    ):
        summary, _, _ = judge_digits(judge, images, reference=reference, min_ratio=MIN_RATIO)
        D.eval()
        with autograd.no_grad():
            trained_d = discriminator_accuracy(
                D(mg.tensor(real_test[: len(images)])), D(mg.tensor(images[: len(real_test)]))
            )
        D.train()
        diagnostic[name] = {
            "trained_d_accuracy": trained_d,
            "fresh_d_accuracy": two_sample_accuracy(real_fit, real_test, images, lr_epochs, args.seed),
            "coverage": summary["coverage"],
            "confidence": summary["mean_max_probability"],
        }

    # -- figures and the report -----------------------------------------------------------------------------
    figure, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    steps_m = [r["step"] for r in monitored]
    axes[0].plot(steps_m, [r["monitor_d_accuracy"] for r in monitored], "o-", label="D real/fake accuracy (held out)")
    axes[0].plot(steps_m, [r["covered"] / 10 for r in monitored], "s-", label="classes covered / 10")
    axes[0].plot(steps_m, [r["kl_to_real"] for r in monitored], "^-", label="KL(class histogram ‖ real histogram)")
    axes[0].set_xlabel("step of the loop")
    axes[0].legend(fontsize=8)
    axes[0].grid(alpha=0.3)
    for offset, name in zip((-0.2, 0.2), ("G", f"G without {DROPPED}s")):
        axes[1].bar(
            np.arange(10) + offset,
            diagnostic[name]["coverage"]["fractions"],
            0.4,
            label=f"{name}: trained D acc. {diagnostic[name]['trained_d_accuracy']:.2f}",
        )
    axes[1].step(
        np.arange(11) - 0.5,
        np.append(MIN_RATIO * reference, MIN_RATIO * reference[-1]),
        where="post",
        color="red",
        linestyle=":",
        label=f"coverage threshold ({MIN_RATIO:.0%} of the real share)",
    )
    axes[1].set_xticks(range(10))
    axes[1].set_xlabel("digit predicted by the classifier")
    axes[1].set_ylabel("share of samples")
    axes[1].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(os.path.join(args.out, "coverage_diagnostic.png"), dpi=100)
    plt.close(figure)
    viz.save_image_grid(
        np.concatenate([full[:32], without[:32]]),
        os.path.join(args.out, "samples_full_vs_without.png"),
        nrow=8,
        value_range=(-1, 1),
        title=f"top 4 rows: G; bottom 4 rows: G without {DROPPED}s",
    )

    rep.settings(
        networks=f"DCGAN, width {width}",
        latent=LATENT,
        epochs=epochs,
        epochs_logistic=epochs_logistic,
        batch=BATCH,
        digits=n_train,
        lr=LR,
        monitor_every=monitor_every,
        n_diagnostic=n_diag,
        dropped=DROPPED,
        seed=args.seed,
    )
    rep.table(
        "The loop, monitored",
        ["step", "D accuracy (held out)", "classes covered", "KL to real histogram"],
        [[r["step"], r["monitor_d_accuracy"], f"{r['covered']}/10", r["kl_to_real"]] for r in monitored],
        note=f"Logistic regression as the discriminator, after {last_lr['step']} steps: D accuracy "
        f"{last_lr['monitor_d_accuracy']:.3f}, classes covered {last_lr['covered']}/10, KL "
        f"{last_lr['kl_to_real']:.3f} (the loop runs with any binary classifier; a linear D is a weak "
        "teacher).",
    )
    rep.table(
        f"A generator that stops producing {DROPPED}s ({n_diag} samples each)",
        [
            "generator",
            "trained D's real/fake accuracy",
            "fresh D (logistic regression) accuracy",
            "classes covered",
            "missing",
            "KL to real histogram",
        ],
        [
            [
                name,
                d["trained_d_accuracy"],
                d["fresh_d_accuracy"],
                f"{d['coverage']['covered']}/10",
                ", ".join(map(str, d["coverage"]["missing"])) or "-",
                d["coverage"]["kl_to_reference"],
            ]
            for name, d in diagnostic.items()
        ],
        note=f"Coverage: a class counts as covered when its share among the samples is at least {MIN_RATIO:.0%} "
        'of its share among real test digits under the same classifier (which calls some non-8s "8"); '
        "KL against that real histogram.",
    )
    rep.text(
        f"The discriminators' accuracies barely change when the {DROPPED}s disappear (each sample is still one "
        "the full generator could draw); the class histogram of a real-data classifier flags the missing class."
    )
    rep.figure("coverage_diagnostic.png", "the monitor over training; the class histograms of G and G without 8s")
    rep.figure("samples_full_vs_without.png", f"top 4 rows: G; bottom 4 rows: G without {DROPPED}s")
    return rep.save(
        results={
            "monitor": [{k: r[k] for k in ("step", "monitor_d_accuracy", "covered", "kl_to_real")} for r in monitored],
            "logistic_discriminator": {k: last_lr[k] for k in ("step", "monitor_d_accuracy", "covered", "kl_to_real")},
            "diagnostic": diagnostic,
        }
    )


if __name__ == "__main__":
    main()
