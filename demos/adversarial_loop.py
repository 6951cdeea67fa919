"""Source 004: the adversarial recipe as a loop, and the mode collapse a real/fake discriminator cannot see.

    python demos/adversarial_loop.py --out demo_out/adversarial_loop       # about 3 minutes on one CPU thread
    python demos/adversarial_loop.py --quick --out /tmp/loop_quick         # seconds

Source 004 describes the GAN as a recipe: train G, generate, train D on real + synthetic, find where G is
weak, feed that back -- and notes that D only says "real or fake". If G gives up on the 8s, every sample it
still draws can look perfectly real: D cannot tell that a mode is missing, nobody even labelled the modes.

What it does:

1. the recipe written out with ``adversarial.adversarial_loop``: DCGAN networks, but each step spelled as
   plain functions (generate / train D / train G / monitor); the monitor measures, every ``MONITOR_EVERY``
   steps, D's real/fake accuracy on held-out digits and the mode coverage of 1 000 samples judged by a digit
   classifier trained on real data (``evaluate.mode_coverage``);
2. any binary classifier can be the discriminator: the same loop with logistic regression on pixels as D;
3. the blind spot: from the trained G, a generator that *stops producing 8s* (its samples that the classifier
   calls 8 are replaced by fresh draws -- every remaining sample is one G could draw). Beside the full G:
   (a) the trained D's accuracy, (b) a fresh real/fake discriminator (logistic regression) trained and tested
   on real vs each generator, (c) mode coverage. The same with real digits as a perfect "generator" with
   and without its 8s. D's numbers do not move; coverage flags the missing class;
4. report.md + report.json, figures: coverage over training, the two class histograms, samples.
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
import minigan.functional as F  # noqa: E402
from minigan import autograd, losses, optim, viz  # noqa: E402
from minigan.adversarial import adversarial_loop, discriminator_accuracy  # noqa: E402
from minigan.evaluate import digit_classifier, judge_digits  # noqa: E402
from minigan.models import DCGANDiscriminator, DCGANGenerator, LogisticRegression  # noqa: E402
from minigan.trainers.supervised import train_classifier  # noqa: E402

# ---- settings
LATENT = 100
WIDTH = 32
BATCH = 64
STEPS = 1000                # DCGAN discriminator in the loop (~16 epochs of 4 000 digits)
STEPS_LOGISTIC = 300        # logistic-regression discriminator in the loop
MONITOR_EVERY = 100
N_MONITOR = 1000
N_DIAGNOSTIC = 1000
DROPPED = 8                 # the class the collapsed generator stops producing
MIN_RATIO = 0.3             # a class is covered at >= 30 % of its share among real digits (same classifier)
LR = 2e-4
CLASSIFIER_EPOCHS = 20
SEED = 0
QUICK = dict(steps=4, steps_logistic=3, monitor_every=2, width=8, n_train=256, n_monitor=100, n_diagnostic=200,
             classifier_epochs=2)


def run_loop(G, D, x_train, x_held, classifier, reference, steps, monitor_every, n_monitor, lr_d, seed,
             flatten_d=False):
    """Source 004's recipe with ``adversarial_loop``: plain functions for each part of a step."""
    opt_g = optim.Adam(G.parameters(), lr=LR, betas=(0.5, 0.999))
    opt_d = optim.Adam(D.parameters(), lr=lr_d, betas=(0.5, 0.999))
    logits_of = (lambda x: F.reshape(D(x), (-1,))) if flatten_d else D

    def generate(n):                                   # 1. synthetic samples from the current G
        with autograd.no_grad():
            return G(mg.randn(n, LATENT))

    def train_discriminator(real, fake):               # 2. D on real + synthetic (binary cross-entropy)
        real_logits, fake_logits = logits_of(real), logits_of(fake)
        loss = losses.d_loss_minimax(real_logits, fake_logits)
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()
        return {"d_loss": loss.item(), "d_accuracy": discriminator_accuracy(real_logits, fake_logits)}

    def train_generator(n):                            # 3. G where D finds it weak: -log D(G(z))
        loss = losses.g_loss_nonsaturating(logits_of(G(mg.randn(n, LATENT))))
        opt_g.zero_grad()
        opt_d.zero_grad()
        loss.backward()
        opt_g.step()
        opt_d.zero_grad()                              # D's gradients from G's loss are discarded
        return {"g_loss": loss.item()}

    z_monitor = mg.randn(n_monitor, LATENT)

    def monitor(step):                                 # 4. what D sees, and what it cannot see
        G.eval()
        D.eval()
        with autograd.no_grad():
            fake = G(z_monitor)
            accuracy = discriminator_accuracy(logits_of(mg.tensor(x_held[:n_monitor])), logits_of(fake))
        G.train()
        D.train()
        summary, _, _ = judge_digits(classifier, fake, reference=reference, min_ratio=MIN_RATIO)
        c = summary["coverage"]
        print(f"step {step}: D accuracy {accuracy:.3f}, classes covered {c['covered']}/10, "
              f"KL to real {c['kl_to_reference']:.3f}", flush=True)
        return {"monitor_d_accuracy": accuracy, "covered": c["covered"], "kl_to_real": c["kl_to_reference"],
                "fractions": c["fractions"]}

    loader = data.DataLoader(x_train, batch_size=BATCH, shuffle=True, seed=seed, drop_last=True)
    return adversarial_loop(loader, generate, train_discriminator, train_generator, steps, monitor, monitor_every)


def sample_without(G, classifier, n, dropped, rng_seed):
    """A generator that stops producing ``dropped``: draw from G, discard what the classifier calls
    ``dropped``, draw again until n remain. Every sample is one G itself could produce."""
    mg.manual_seed(rng_seed)
    kept = []
    G.eval()
    while sum(len(k) for k in kept) < n:
        with autograd.no_grad():
            images = G(mg.randn(n, LATENT)).numpy()
        _, predicted, _ = judge_digits(classifier, images)
        kept.append(images[predicted != dropped])
    G.train()
    return np.concatenate(kept)[:n]


def fresh_real_fake_accuracy(real_fit, real_test, fake, seed, epochs):
    """Any binary classifier as a new discriminator: logistic regression on pixels, trained on half of
    real-vs-generated and tested on the other half. Returns the held-out accuracy."""
    n = min(len(real_fit), len(fake) // 2)
    x = np.concatenate([real_fit[:n], fake[:n]]).reshape(2 * n, -1)
    y = np.concatenate([np.ones(n, np.int64), np.zeros(n, np.int64)])
    model = LogisticRegression(784, 2)
    train_classifier(model, x, y, epochs=epochs, seed=seed)
    m = min(len(real_test), len(fake) - n)
    x_test = np.concatenate([real_test[:m], fake[n:n + m]]).reshape(2 * m, -1)
    y_test = np.concatenate([np.ones(m, np.int64), np.zeros(m, np.int64)])
    return model.score(x_test, y_test)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_out/adversarial_loop")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    quick = QUICK if args.quick else {}
    steps, steps_logistic = quick.get("steps", STEPS), quick.get("steps_logistic", STEPS_LOGISTIC)
    monitor_every, width = quick.get("monitor_every", MONITOR_EVERY), quick.get("width", WIDTH)
    n_monitor, n_diag = quick.get("n_monitor", N_MONITOR), quick.get("n_diagnostic", N_DIAGNOSTIC)
    lr_epochs = 2 if args.quick else 10
    os.makedirs(args.out, exist_ok=True)
    started = time.time()
    mg.manual_seed(args.seed)

    train, test = data.load("mnist5k"), data.load("mnist5k", split="test")
    n_train = quick.get("n_train", len(train))
    x_train = (train.x[:n_train] * 2 - 1).astype(np.float32)
    x_test = (test.x * 2 - 1).astype(np.float32)
    classifier = digit_classifier(train, epochs=quick.get("classifier_epochs", CLASSIFIER_EPOCHS), seed=args.seed)
    # the classifier's own class histogram on real test digits is the reference a generator should match
    reference = np.asarray(judge_digits(classifier, test.x, value_range=(0, 1))[0]["coverage"]["fractions"])

    # (1) the loop with a convolutional discriminator
    G, D = DCGANGenerator(LATENT, width), DCGANDiscriminator(width)
    history = run_loop(G, D, x_train, x_test, classifier, reference, steps, monitor_every, n_monitor, LR, args.seed)
    monitored = [r for r in history if "covered" in r]

    # (2) the same loop, logistic regression as the discriminator
    mg.manual_seed(args.seed + 1)
    G_lr = DCGANGenerator(LATENT, width)
    history_lr = run_loop(G_lr, LogisticRegression(784, 1), x_train, x_test, classifier, reference, steps_logistic,
                          max(1, steps_logistic // 3), n_monitor, 1e-3, args.seed, flatten_d=True)
    last_lr = [r for r in history_lr if "covered" in r][-1]

    # (3) the blind spot: drop the 8s
    shuffled = x_test[np.random.default_rng(args.seed).permutation(len(x_test))]   # mnist5k is sorted by digit
    half = len(shuffled) // 2
    real_fit, real_test = shuffled[:half], shuffled[half:]
    mg.manual_seed(args.seed + 3)
    G.eval()
    with autograd.no_grad():
        full = G(mg.randn(n_diag, LATENT)).numpy()
    G.train()
    without = sample_without(G, classifier, n_diag, DROPPED, args.seed + 4)
    order = np.random.default_rng(args.seed + 5).permutation(len(train))
    real_pool, real_labels = (train.x[order] * 2 - 1).astype(np.float32), train.y[order]
    real_all = real_pool[:n_diag]
    real_no8 = real_pool[real_labels != DROPPED][:n_diag]

    def trained_d_accuracy(fake):
        D.eval()
        with autograd.no_grad():
            value = discriminator_accuracy(D(mg.tensor(real_test[:len(fake)])), D(mg.tensor(fake[:len(real_test)])))
        D.train()
        return value

    diagnostic = {}
    for name, images in (("G", full), (f"G without {DROPPED}s", without), ("real digits", real_all),
                         (f"real digits without {DROPPED}s", real_no8)):
        summary, _, _ = judge_digits(classifier, images, reference=reference, min_ratio=MIN_RATIO)
        diagnostic[name] = {"trained_d_accuracy": trained_d_accuracy(images),
                            "fresh_d_accuracy": fresh_real_fake_accuracy(real_fit, real_test, images, args.seed, lr_epochs),
                            "coverage": summary["coverage"], "confidence": summary["mean_max_probability"]}
        c = summary["coverage"]
        print(f"{name}: trained D {diagnostic[name]['trained_d_accuracy']:.3f}, fresh D "
              f"{diagnostic[name]['fresh_d_accuracy']:.3f}, covered {c['covered']}/10, missing {c['missing']}", flush=True)

    # figures
    figure, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    steps_m = [r["step"] for r in monitored]
    axes[0].plot(steps_m, [r["monitor_d_accuracy"] for r in monitored], "o-", label="D real/fake accuracy (held out)")
    axes[0].plot(steps_m, [r["covered"] / 10 for r in monitored], "s-", label="classes covered / 10")
    axes[0].plot(steps_m, [r["kl_to_real"] for r in monitored], "^-", label="KL(class histogram ‖ real histogram)")
    axes[0].set_xlabel("step of the loop")
    axes[0].legend(fontsize=8)
    axes[0].grid(alpha=0.3)
    for offset, name in zip((-0.2, 0.2), ("G", f"G without {DROPPED}s")):
        axes[1].bar(np.arange(10) + offset, diagnostic[name]["coverage"]["fractions"], 0.4,
                    label=f"{name}: trained D acc. {diagnostic[name]['trained_d_accuracy']:.2f}")
    axes[1].step(np.arange(11) - 0.5, np.append(MIN_RATIO * reference, MIN_RATIO * reference[-1]), where="post",
                 color="red", linestyle=":", label=f"coverage threshold ({MIN_RATIO:.0%} of the real share)")
    axes[1].set_xticks(range(10))
    axes[1].set_xlabel("digit predicted by the classifier")
    axes[1].set_ylabel("share of samples")
    axes[1].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(os.path.join(args.out, "coverage_diagnostic.png"), dpi=100)
    plt.close(figure)
    viz.save_image_grid(np.concatenate([full[:32], without[:32]]), os.path.join(args.out, "samples_full_vs_without.png"),
                        nrow=8, value_range=(-1, 1), title=f"top 4 rows: G; bottom 4 rows: G without {DROPPED}s")

    seconds = time.time() - started
    report = {"settings": {"latent": LATENT, "width": width, "batch": BATCH, "steps": steps,
                           "steps_logistic": steps_logistic, "monitor_every": monitor_every, "lr": LR,
                           "n_train": n_train, "n_diagnostic": n_diag, "dropped": DROPPED, "quick": bool(args.quick),
                           "seed": args.seed},
              "monitor": [{k: r[k] for k in ("step", "monitor_d_accuracy", "covered", "kl_to_real")} for r in monitored],
              "logistic_discriminator": {k: last_lr[k] for k in ("step", "monitor_d_accuracy", "covered", "kl_to_real")},
              "diagnostic": diagnostic, "seconds": seconds}
    with open(os.path.join(args.out, "report.json"), "w") as handle:
        json.dump(report, handle, indent=1)
    lines = [f"# The adversarial loop and the mode-coverage diagnostic (source 004){' -- QUICK smoke run' if args.quick else ''}", "",
             f"Schedule: DCGAN networks (width {width}) in ``adversarial_loop`` for {steps} steps (batch {BATCH}, "
             f"{n_train} mnist5k digits, Adam {LR}); logistic regression as D for {steps_logistic} steps; "
             f"wall time {seconds:.0f} s on {mg.backend.cpu_threads()} CPU thread(s).", "",
             "## The loop, monitored", "", "| step | D accuracy (held out) | classes covered | KL to real histogram |",
             "|---|---|---|---|",
             *(f"| {r['step']} | {r['monitor_d_accuracy']:.3f} | {r['covered']}/10 | {r['kl_to_real']:.3f} |" for r in monitored),
             "", f"Logistic regression as the discriminator, after {last_lr['step']} steps: D accuracy "
             f"{last_lr['monitor_d_accuracy']:.3f}, classes covered {last_lr['covered']}/10, KL {last_lr['kl_to_real']:.3f} "
             "(the loop runs with any binary classifier; a linear D is a weak teacher).", "",
             f"## A generator that stops producing {DROPPED}s ({n_diag} samples each)", "",
             f"Coverage: a class counts as covered when its share among the samples is at least {MIN_RATIO:.0%} of its "
             "share among real test digits under the same classifier (which calls some non-8s \"8\"); KL against that "
             "real histogram.", "",
             "| generator | trained D's real/fake accuracy | fresh D (logistic regression) accuracy | classes covered | "
             "missing | KL to real histogram |", "|---|---|---|---|---|---|",
             *(f"| {name} | {d['trained_d_accuracy']:.3f} | {d['fresh_d_accuracy']:.3f} | {d['coverage']['covered']}/10 | "
               f"{', '.join(map(str, d['coverage']['missing'])) or '-'} | {d['coverage']['kl_to_reference']:.3f} |"
               for name, d in diagnostic.items()), "",
             f"The discriminators' accuracies barely change when the {DROPPED}s disappear (each sample is still one the "
             "full generator could draw); the class histogram of a real-data classifier flags the missing class.", "",
             "Figures: coverage_diagnostic.png, samples_full_vs_without.png", ""]
    with open(os.path.join(args.out, "report.md"), "w") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines))
    return report


if __name__ == "__main__":
    main()
