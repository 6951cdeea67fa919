"""Source 002: InfoGAN on MNIST -- a 10-way categorical code and 2 continuous codes (Chen et al., 2016).

    python demos/infogan_mnist.py --out demo_out/infogan_mnist       # about 8 minutes on one (shared) CPU thread
    python demos/infogan_mnist.py --quick --out /tmp/infogan_quick   # seconds

G(z, c): z ~ N(0, I_62), c_cat ~ Cat(10) uniform, c_1, c_2 ~ U(-1, 1). D and Q share a convolutional body
(``models.InfoGANGenerator``/``InfoGANDiscriminator``); ``adversarial.InfoGAN`` adds to both players'
losses the lower bound on the mutual information, lambda_cat = 1 and lambda_cont = 0.1 (appendix C):

    I(c; G(z, c)) >= E log Q(c | G(z, c)) + H(c)

Nobody tells the model what the codes mean. What it does:

1. train on mnist5k (4 000 real digits in [-1, 1]) with ``training.fit``;
2. does the categorical code learn the digit class? Generate 2 000 images with random codes, classify them
   with a logistic regression trained on real digits, and measure I(c_cat; predicted digit) with
   ``minigan.info.mutual_information`` (nats; log 10 = 2.303 is the maximum) and the matched accuracy (the best
   one-to-one map from code values to digits, Hungarian algorithm), beside the same numbers for an untrained generator;
3. do the continuous codes learn width and slant? For images with random codes, image moments give the
   width (horizontal standard deviation of the ink) and the slant (shear mu11 / mu02); the table gives the
   correlation of c_1 and c_2 with both, trained vs untrained;
4. figures: traversals (rows: the 10 values of c_cat; columns: c_1 or c_2 from -2 to 2, beyond the training
   range as in the paper's figure 2), the code-digit contingency table, loss curves;
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
from minigan import info, viz  # noqa: E402
from minigan.adversarial import InfoGAN  # noqa: E402
from minigan.evaluate import digit_classifier, judge_digits  # noqa: E402
from minigan.models import InfoGANDiscriminator, InfoGANGenerator  # noqa: E402
from minigan.training import fit  # noqa: E402

# ---- settings (Chen et al. 2016, appendix C.1: 62 noise dims, Cat(10), 2 x U(-1, 1); lambda 1 / 0.1)
NOISE = 62
CATEGORIES = 10
CONTINUOUS = 2
LAMBDA_CAT, LAMBDA_CONT = 1.0, 0.1
WIDTH = 32
HIDDEN = 256
BATCH = 64
EPOCHS = 40                 # 40 x 62 = 2 480 steps
LR_G, LR_D = 1e-3, 2e-4     # the paper: 1e-3 for G, 2e-4 for D
N_JUDGE = 2000
TRAVERSAL = np.linspace(-2, 2, 9)
CLASSIFIER_EPOCHS = 20
SEED = 0
QUICK = dict(epochs=1, n_train=256, width=8, hidden=32, n_judge=200, classifier_epochs=2)


def ink_moments(images):
    """(width, slant) of each image (N, 1, 28, 28) in [-1, 1]: the ink (pixels mapped to [0, 1]) as a mass
    distribution; width = horizontal standard deviation, slant = mu11 / mu02 (how far x moves per unit of y
    -- a shear; positive leans right with y pointing down... sign is a convention)."""
    ink = np.clip((np.asarray(images)[:, 0] + 1) / 2, 0, 1).astype(np.float64)     # (N, 28, 28)
    rows, cols = np.mgrid[0:28, 0:28]
    mass = ink.sum((1, 2)) + 1e-9
    cy, cx = (ink * rows).sum((1, 2)) / mass, (ink * cols).sum((1, 2)) / mass
    dy, dx = rows[None] - cy[:, None, None], cols[None] - cx[:, None, None]
    mu20, mu02, mu11 = (ink * dx ** 2).sum((1, 2)) / mass, (ink * dy ** 2).sum((1, 2)) / mass, (ink * dx * dy).sum((1, 2)) / mass
    return np.sqrt(mu20), -mu11 / (mu02 + 1e-9)          # minus: image rows grow downwards


def one_to_one(table):
    """The one-to-one map from rows (code values) to columns (digits) with the largest total count: the
    Hungarian algorithm (scipy), or a greedy assignment when scipy (a test extra) is not installed."""
    try:
        from scipy.optimize import linear_sum_assignment
        return linear_sum_assignment(-table)
    except ImportError:
        table = np.array(table, float)
        rows, cols = [], []
        for _ in range(min(table.shape)):
            r, c = np.unravel_index(np.argmax(table), table.shape)
            rows.append(r)
            cols.append(c)
            table[r, :], table[:, c] = -1, -1
        return np.array(rows), np.array(cols)


def code_study(model, classifier, n, seed):
    """Random codes -> images -> (MI and purity of c_cat vs predicted digit, correlations of c_1, c_2 with
    width and slant, the contingency table)."""
    rng = np.random.default_rng(seed)
    z = mg.tensor(rng.normal(size=(n, model.noise_dim)).astype(np.float32))
    categorical = rng.integers(0, CATEGORIES, n)
    continuous = rng.uniform(-1, 1, (n, CONTINUOUS)).astype(np.float32)
    images = model.sample(z, categorical, continuous).numpy()
    summary, predicted, _ = judge_digits(classifier, images)
    table = info.contingency_table(categorical, predicted)
    codes, digits = one_to_one(table)
    purity = float(table[codes, digits].sum() / n)
    width, slant = ink_moments(images)
    correlations = {f"c{j + 1}_{name}": float(np.corrcoef(continuous[:, j], values)[0, 1])
                    for j in range(CONTINUOUS) for name, values in (("width", width), ("slant", slant))}
    return {"mutual_information_nats": info.mutual_information(categorical, predicted),
            "mutual_information_bits": info.mutual_information(categorical, predicted, base=2),
            "normalized_mutual_information": info.normalized_mutual_information(categorical, predicted),
            "purity": purity, "digits_claimed": int(len(set(table.argmax(1).tolist()))),
            "covered": summary["coverage"]["covered"], "confidence": summary["mean_max_probability"],
            "correlations": correlations, "table": table.tolist()}


def traversal(model, z_row, code_index, values):
    """Rows: c_cat = 0..9; columns: the continuous code ``code_index`` over ``values``, the other at 0; one z."""
    k, m = CATEGORIES, len(values)
    z = mg.tensor(np.repeat(z_row[None], k * m, 0))
    categorical = np.repeat(np.arange(k), m)
    continuous = np.zeros((k * m, CONTINUOUS), np.float32)
    continuous[:, code_index] = np.tile(values, k)
    return model.sample(z, categorical, continuous).numpy()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_out/infogan_mnist")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    quick = QUICK if args.quick else {}
    epochs = args.epochs or quick.get("epochs", EPOCHS)
    width, hidden, n_judge = quick.get("width", WIDTH), quick.get("hidden", HIDDEN), quick.get("n_judge", N_JUDGE)
    os.makedirs(args.out, exist_ok=True)
    started = time.time()
    mg.manual_seed(args.seed)

    train, test = data.load("mnist5k"), data.load("mnist5k", split="test")
    n_train = quick.get("n_train", len(train))
    x_train = (train.x[:n_train] * 2 - 1).astype(np.float32)
    classifier = digit_classifier(train, epochs=quick.get("classifier_epochs", CLASSIFIER_EPOCHS), seed=args.seed)
    classifier_accuracy = classifier.score(test.x, test.y)

    G = InfoGANGenerator(NOISE, CATEGORIES, CONTINUOUS, width)
    D = InfoGANDiscriminator(CATEGORIES, CONTINUOUS, width, hidden)
    model = InfoGAN(G, D, LAMBDA_CAT, LAMBDA_CONT, lr=LR_G, lr_d=LR_D)
    before = code_study(model, classifier, n_judge, args.seed + 1)
    loader = data.DataLoader(x_train, batch_size=BATCH, shuffle=True, seed=args.seed, drop_last=True)
    result = fit(model, loader, epochs, os.path.join(args.out, "run"), checkpoint_every=500,
                 progress=not args.no_progress, description="infogan")
    after = code_study(model, classifier, n_judge, args.seed + 1)
    print("untrained:", {k: v for k, v in before.items() if k != "table"})
    print("trained:  ", {k: v for k, v in after.items() if k != "table"}, flush=True)

    z_row = np.random.default_rng(args.seed + 2).normal(size=NOISE).astype(np.float32)
    for j in range(CONTINUOUS):
        viz.save_image_grid(traversal(model, z_row, j, TRAVERSAL), os.path.join(args.out, f"traversal_c{j + 1}.png"),
                            nrow=len(TRAVERSAL), value_range=(-1, 1),
                            title=f"rows: c_cat = 0..9; columns: c{j + 1} from -2 to 2 (other code 0, same z)")
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    table = np.array(after["table"], float)
    axes[0].imshow(table / table.sum(1, keepdims=True), cmap="viridis")
    axes[0].set_xlabel("digit predicted by the classifier")
    axes[0].set_ylabel("categorical code c_cat")
    axes[0].set_xticks(range(10))
    axes[0].set_yticks(range(10))
    axes[0].set_title(f"P(digit | code), I = {after['mutual_information_nats']:.2f} nats")
    metrics = viz.read_metrics(os.path.join(args.out, "run", "metrics.jsonl"))
    steps = np.array([m["step"] for m in metrics])
    for key in ("d_loss", "g_loss", "info_categorical", "info_continuous"):
        values = np.array([m[key] for m in metrics])
        k = min(25, len(values))
        axes[1].plot(steps[k - 1:], np.convolve(values, np.ones(k) / k, mode="valid"), label=key)
    axes[1].set_xlabel("step")
    axes[1].legend(fontsize=8)
    axes[1].grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(os.path.join(args.out, "codes_and_losses.png"), dpi=100)
    plt.close(figure)

    seconds = time.time() - started
    report = {"settings": {"noise": NOISE, "categories": CATEGORIES, "continuous": CONTINUOUS,
                           "lambda_cat": LAMBDA_CAT, "lambda_cont": LAMBDA_CONT, "width": width, "hidden": hidden,
                           "batch": BATCH, "epochs": epochs, "steps": result["step"], "lr_g": LR_G, "lr_d": LR_D,
                           "n_train": n_train, "n_judge": n_judge, "quick": bool(args.quick), "seed": args.seed},
              "classifier_test_accuracy": classifier_accuracy, "untrained": before, "trained": after,
              "last_metrics": result["last"], "seconds": seconds}
    with open(os.path.join(args.out, "report.json"), "w") as handle:
        json.dump(report, handle, indent=1)
    c_b, c_a = before["correlations"], after["correlations"]
    lines = [f"# InfoGAN on mnist5k (source 002){' -- QUICK smoke run' if args.quick else ''}", "",
             f"Schedule: {n_train} digits, batch {BATCH}, {epochs} epochs = {result['step']} steps, Adam G {LR_G} / "
             f"D,Q {LR_D} betas (0.5, 0.999), width {width}; lambda_cat {LAMBDA_CAT}, lambda_cont {LAMBDA_CONT}; "
             f"wall time {seconds:.0f} s on {mg.backend.cpu_threads()} CPU thread(s).", "",
             f"## Does c_cat learn the digit? ({n_judge} samples, classifier: logistic regression, "
             f"{classifier_accuracy:.3f} on real test digits)", "",
             "| generator | I(c_cat; digit) nats (max 2.303) | bits | NMI | matched accuracy | distinct digits claimed by the 10 codes | classes covered |",
             "|---|---|---|---|---|---|---|",
             *(f"| {name} | {s['mutual_information_nats']:.3f} | {s['mutual_information_bits']:.3f} | "
               f"{s['normalized_mutual_information']:.3f} | {s['purity']:.3f} | {s['digits_claimed']} | {s['covered']}/10 |"
               for name, s in (("baseline: untrained G", before), ("InfoGAN (trained)", after))), "",
             "Matched accuracy: the share of samples whose digit is the one the best one-to-one code -> digit map "
             "assigns to their code (about 0.1-0.2 by chance).", "",
             "## Do c_1, c_2 learn width and slant? (Pearson correlation over the samples)", "",
             "| generator | c1-width | c1-slant | c2-width | c2-slant |", "|---|---|---|---|---|",
             *(f"| {name} | {c['c1_width']:+.3f} | {c['c1_slant']:+.3f} | {c['c2_width']:+.3f} | {c['c2_slant']:+.3f} |"
               for name, c in (("baseline: untrained G", c_b), ("InfoGAN (trained)", c_a))), "",
             "Which code takes which factor (and its sign) is up to the run; see traversal_c1.png, traversal_c2.png.", "",
             f"Last step: info_categorical {result['last']['info_categorical']:.3f} nats (log 10 = 2.303 at the start), "
             f"info_continuous {result['last']['info_continuous']:.3f}.", "",
             "Figures: traversal_c1.png, traversal_c2.png, codes_and_losses.png", ""]
    with open(os.path.join(args.out, "report.md"), "w") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines))
    return report


if __name__ == "__main__":
    main()
