"""Source 001, section 1: naive Bayes (generative) vs logistic regression (discriminative) on binarised MNIST.

    python demos/naive_bayes.py --out demo_out/naive_bayes       # about half a minute on one CPU thread
    python demos/naive_bayes.py --quick --out /tmp/nb_quick

Source 001 contrasts the two simplest classifiers: naive Bayes learns per-class distributions of every
feature (so it can draw samples of a class), logistic regression learns only a boundary. Here on mnist5k
(4 000 training / 1 000 test real MNIST digits) binarised at 0.5:

1. Bernoulli naive Bayes with Laplace smoothing (alpha = 1) and multinomial logistic regression (minigan,
   Adam, 30 epochs, L2 1e-4): test accuracy, beside the majority-class baseline;
2. Ng & Jordan (2002)'s observation: naive Bayes approaches its (higher) asymptotic error with fewer
   examples; test accuracy of both against the training-set size (stratified subsets, 3 seeds);
3. naive Bayes is generative: its class means theta_c and 8 samples per class x ~ prod_i Bernoulli(theta_ci)
   -- recognisable blurs of each digit, and noisy: the pixels are independent given the class;
4. report.md and report.json with every number.
"""
import argparse
import json
import os
import sys
import time

if __package__ in (None, ""):                       # `python demos/naive_bayes.py` from a checkout
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import minigan as mg  # noqa: E402
import minigan.data as data  # noqa: E402
from minigan import viz  # noqa: E402
from minigan.models import BernoulliNaiveBayes, LogisticRegression  # noqa: E402

# ---- settings
THRESHOLD = 0.5
ALPHA = 1.0                  # Laplace smoothing
LR_EPOCHS, LR_RATE, LR_DECAY = 30, 0.01, 1e-4
SIZES = (10, 20, 50, 100, 200, 500, 1000, 2000, 4000)    # training examples, all ten digits equally
SEEDS = (0, 1, 2)
SAMPLES_PER_CLASS = 8
SEED = 0
QUICK = dict(lr_epochs=2, sizes=(20, 200), seeds=(0,))


def logistic(x, y, epochs, seed):
    mg.manual_seed(seed)
    model = LogisticRegression(x[0].size, 10)
    model.fit(x, y, epochs=epochs, lr=LR_RATE, weight_decay=LR_DECAY, batch_size=min(128, len(x)), seed=seed)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_out/naive_bayes")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    quick = QUICK if args.quick else {}
    lr_epochs, sizes, seeds = quick.get("lr_epochs", LR_EPOCHS), quick.get("sizes", SIZES), quick.get("seeds", SEEDS)
    os.makedirs(args.out, exist_ok=True)
    started = time.time()

    train, test = data.load("mnist5k"), data.load("mnist5k", split="test")
    x_train, x_test = data.binarize_static(train.x, THRESHOLD), data.binarize_static(test.x, THRESHOLD)
    y_train, y_test = train.y, test.y

    # (1) the two classifiers on all 4 000 training images
    nb = BernoulliNaiveBayes(alpha=ALPHA, binarize=None).fit(x_train, y_train)
    lr = logistic(x_train, y_train, lr_epochs, args.seed)
    majority = np.bincount(y_train).argmax()
    accuracy = {"naive_bayes": nb.score(x_test, y_test), "logistic_regression": lr.score(x_test, y_test),
                "naive_bayes_train": nb.score(x_train, y_train), "logistic_regression_train": lr.score(x_train, y_train),
                "majority_class": float(np.mean(y_test == majority))}
    nll = {"naive_bayes_test_nll_nats": float(-nb.log_likelihood(x_test).mean())}
    print("accuracy", {k: round(v, 4) for k, v in accuracy.items()})

    # (2) accuracy against the number of training examples
    curve = {"sizes": list(sizes), "naive_bayes": [], "logistic_regression": []}
    for n in sizes:
        nb_scores, lr_scores = [], []
        for seed in seeds:
            rows = data.stratified(y_train, n, seed)
            nb_scores.append(BernoulliNaiveBayes(alpha=ALPHA, binarize=None).fit(x_train[rows], y_train[rows])
                             .score(x_test, y_test))
            lr_scores.append(logistic(x_train[rows], y_train[rows], max(lr_epochs, lr_epochs * 4000 // (8 * n)) if not quick
                                      else lr_epochs, seed).score(x_test, y_test))
        curve["naive_bayes"].append([float(np.mean(nb_scores)), float(np.std(nb_scores))])
        curve["logistic_regression"].append([float(np.mean(lr_scores)), float(np.std(lr_scores))])
        print(f"n={n}: naive Bayes {np.mean(nb_scores):.3f}, logistic regression {np.mean(lr_scores):.3f}", flush=True)
    figure, axis = plt.subplots(figsize=(6.4, 4))
    for name, style in (("naive_bayes", "o-"), ("logistic_regression", "s-")):
        mean, std = np.array(curve[name]).T
        axis.errorbar(sizes, mean, yerr=std, fmt=style, capsize=3, label=name.replace("_", " "))
    axis.axhline(accuracy["majority_class"], color="grey", linestyle=":", label="majority class")
    axis.set_xscale("log")
    axis.set_xlabel("training examples (balanced over the 10 digits)")
    axis.set_ylabel("test accuracy (1 000 mnist5k digits)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(os.path.join(args.out, "learning_curve.png"), dpi=100)
    plt.close(figure)

    # (3) the generative side: class means and samples
    viz.save_image_grid(nb.class_means().reshape(10, 1, 28, 28), os.path.join(args.out, "naive_bayes_means.png"),
                        nrow=10, title="naive Bayes theta_c = p(x_i = 1 | digit c), c = 0..9")
    samples = np.stack([nb.sample(c, SAMPLES_PER_CLASS, rng=args.seed + c) for c in range(10)], 1)  # (S, 10, 784)
    viz.save_image_grid(samples.reshape(-1, 1, 28, 28), os.path.join(args.out, "naive_bayes_samples.png"), nrow=10,
                        title=f"naive Bayes samples: one column per digit 0..9, {SAMPLES_PER_CLASS} draws each")
    # how recognisable are the samples? the logistic regression classifies them
    sample_labels = np.tile(np.arange(10), SAMPLES_PER_CLASS)
    accuracy["logistic_regression_on_nb_samples"] = lr.score(samples.reshape(-1, 784), sample_labels)

    report = {"settings": {"threshold": THRESHOLD, "alpha": ALPHA, "lr_epochs": lr_epochs, "lr": LR_RATE,
                           "weight_decay": LR_DECAY, "n_train": len(x_train), "n_test": len(x_test),
                           "quick": bool(args.quick), "seeds": list(seeds)},
              "accuracy": accuracy, "likelihood": nll, "learning_curve": curve, "seconds": time.time() - started}
    with open(os.path.join(args.out, "report.json"), "w") as handle:
        json.dump(report, handle, indent=1)
    lines = [f"# Naive Bayes vs logistic regression on binarised mnist5k (source 001){' -- QUICK smoke run' if args.quick else ''}", "",
             f"{len(x_train)} training / {len(x_test)} test real MNIST digits, pixels binarised at {THRESHOLD}. Bernoulli naive "
             f"Bayes, Laplace alpha = {ALPHA}; multinomial logistic regression on minigan (Adam {LR_RATE}, {lr_epochs} epochs, "
             f"L2 {LR_DECAY}).", "",
             "| classifier | test accuracy | training accuracy |", "|---|---|---|",
             f"| naive Bayes (generative) | {accuracy['naive_bayes']:.3f} | {accuracy['naive_bayes_train']:.3f} |",
             f"| logistic regression (discriminative) | {accuracy['logistic_regression']:.3f} | {accuracy['logistic_regression_train']:.3f} |",
             f"| baseline: majority class | {accuracy['majority_class']:.3f} | |", "",
             f"Naive Bayes as a density: test NLL {nll['naive_bayes_test_nll_nats']:.2f} nats per binarised image.",
             f"The logistic regression classifies {accuracy['logistic_regression_on_nb_samples']:.3f} of the "
             f"{10 * SAMPLES_PER_CLASS} naive-Bayes samples as the digit they were drawn for.", "",
             f"## Test accuracy against training-set size (mean +- std over seeds {list(seeds)})", "",
             "| n | " + " | ".join(str(n) for n in sizes) + " |", "|---|" + "---|" * len(sizes),
             "| naive Bayes | " + " | ".join(f"{m:.3f} +- {s:.3f}" for m, s in curve["naive_bayes"]) + " |",
             "| logistic regression | " + " | ".join(f"{m:.3f} +- {s:.3f}" for m, s in curve["logistic_regression"]) + " |",
             "", "Figures: naive_bayes_means.png, naive_bayes_samples.png, learning_curve.png", "",
             f"Wall time {report['seconds']:.1f} s (one CPU thread).", ""]
    with open(os.path.join(args.out, "report.md"), "w") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines))
    return report


if __name__ == "__main__":
    main()
