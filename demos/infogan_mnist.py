"""InfoGAN on mnist5k (Chen et al., "InfoGAN: Interpretable Representation Learning by Information Maximizing
Generative Adversarial Nets", 2016): a 10-way categorical code and 2 continuous codes.

    python demos/infogan_mnist.py [--quick] [--seed 0] [--epochs 40] [--out demo_out/infogan_mnist]
                                  [--overwrite | --resume]
    # full run: about 8 minutes on one (shared) CPU thread; --quick: seconds

What it shows: source 002's mutual information at work (docs/sources.md). G(z, c) with z ~ N(0, I_62),
c_cat ~ Cat(10), c_1, c_2 ~ U(-1, 1); D and Q share a body; both players add the lower bound
I(c; G(z, c)) >= E log Q(c | G(z, c)) + H(c) to their losses (lambda_cat = 1, lambda_cont = 0.1, appendix C).
Nobody tells the model what the codes mean: does c_cat learn the digit (I(c_cat; judged digit), matched
accuracy), do c_1, c_2 learn width and slant (correlation with the ink's moments)?
The update: ``InfoGAN.train_step`` in minigan/trainers/infogan.py (eq. 5 of the paper).
Reference: the paper's figure 2 (traversals) and 5 % categorical error on full MNIST; beside ours: an untrained G.
"""

import argparse
import os

import matplotlib.pyplot as plt
import numpy as np

import minigan as mg
from minigan import data, demo_args, report, viz
from minigan.evaluate import digit_classifier
from minigan.models import InfoGANDiscriminator, InfoGANGenerator
from minigan.trainers.infogan import InfoGAN
from minigan.training import fit

# -- settings: Chen et al. 2016, appendix C.1 --------------------------------------------------------------
NOISE, CATEGORIES, CONTINUOUS = 62, 10, 2
LAMBDA_CAT, LAMBDA_CONT = 1.0, 0.1
LR_G, LR_D = 1e-3, 2e-4  # 1e-3 for G, 2e-4 for D and Q
WIDTH, HIDDEN, BATCH = 32, 256, 64
EPOCHS = 40  # 40 x 62 = 2 480 steps
N_JUDGE = 2000  # samples read by the digit judge
TRAVERSAL = np.linspace(-2, 2, 9)  # beyond the training range U(-1, 1), as the paper's figure 2
JUDGE_EPOCHS = 20
QUICK = dict(epochs=1, n_train=256, width=8, hidden=32, n_judge=200, judge_epochs=2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    demo_args.add_run_flags(parser, "demo_out/infogan_mnist", epochs=True, progress=True, resumable=True)
    args = parser.parse_args(argv)
    demo_args.refuse_to_replace_a_run(parser, args)  # before any training
    quick = QUICK if args.quick else {}
    epochs = args.epochs or quick.get("epochs", EPOCHS)
    width, hidden, n_judge = quick.get("width", WIDTH), quick.get("hidden", HIDDEN), quick.get("n_judge", N_JUDGE)
    rep = report.Report("InfoGAN on mnist5k (source 002)" + (" -- QUICK smoke run" if args.quick else ""), args.out)
    mg.manual_seed(args.seed)

    train, test = data.load("mnist5k"), data.load("mnist5k", split="test")
    n_train = quick.get("n_train", len(train))
    x_train = (train.x[:n_train] * 2 - 1).astype(np.float32)
    judge = digit_classifier(train, epochs=quick.get("judge_epochs", JUDGE_EPOCHS), seed=args.seed)
    judge_accuracy = judge.score(test.x, test.y)

    # -- the algorithm: InfoGAN.train_step on each batch of digits ----------------------------------------
    model = InfoGAN(
        InfoGANGenerator(NOISE, CATEGORIES, CONTINUOUS, width),
        InfoGANDiscriminator(CATEGORIES, CONTINUOUS, width, hidden),
        LAMBDA_CAT,
        LAMBDA_CONT,
        lr=LR_G,
        lr_d=LR_D,
    )
    before = model.code_study(judge, n_judge, args.seed + 1)
    loader = data.DataLoader(x_train, batch_size=BATCH, shuffle=True, seed=args.seed, drop_last=True)
    result = fit(
        model,
        loader,
        epochs,
        os.path.join(args.out, "run"),
        checkpoint_every=500,
        resume=args.resume,
        overwrite=not args.resume,
        progress=not args.no_progress,
        description="infogan",
    )
    after = model.code_study(judge, n_judge, args.seed + 1)

    # -- measurements --------------------------------------------------------------------------------------
    z_row = np.random.default_rng(args.seed + 2).normal(size=NOISE).astype(np.float32)
    for j in range(CONTINUOUS):
        viz.save_image_grid(
            model.traversal(z_row, j, TRAVERSAL).numpy(),
            os.path.join(args.out, f"traversal_c{j + 1}.png"),
            nrow=len(TRAVERSAL),
            value_range=(-1, 1),
            title=f"rows: c_cat = 0..9; columns: c{j + 1} from -2 to 2 (other code 0, same z)",
        )
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    table = np.array(after["table"], float)
    axes[0].imshow(table / table.sum(1, keepdims=True), cmap="viridis")
    axes[0].set_xlabel("digit predicted by the classifier")
    axes[0].set_ylabel("categorical code c_cat")
    axes[0].set_xticks(range(10))
    axes[0].set_yticks(range(10))
    axes[0].set_title(f"P(digit | code), I = {after['mutual_information_nats']:.2f} nats")
    viz.plot_running_means(
        axes[1],
        os.path.join(args.out, "run", "metrics.jsonl"),
        ("d_loss", "g_loss", "info_categorical", "info_continuous"),
    )
    figure.tight_layout()
    figure.savefig(os.path.join(args.out, "codes_and_losses.png"), dpi=100)
    plt.close(figure)

    last = result["last"]
    rows = (("baseline: untrained G", before), ("InfoGAN (trained)", after))
    rep.settings(
        digits=n_train,
        batch=BATCH,
        epochs=epochs,
        steps=result["step"],
        noise=NOISE,
        categories=CATEGORIES,
        continuous=CONTINUOUS,
        lr_g=LR_G,
        lr_d=LR_D,
        betas="(0.5, 0.999)",
        lambda_cat=LAMBDA_CAT,
        lambda_cont=LAMBDA_CONT,
        width=width,
        hidden=hidden,
        n_judge=n_judge,
        seed=args.seed,
    )
    rep.table(
        f"Does c_cat learn the digit? ({n_judge} samples; judge: logistic regression, {judge_accuracy:.3f} on "
        "real test digits)",
        [
            "generator",
            "I(c_cat; digit) nats (max 2.303)",
            "bits",
            "NMI",
            "matched accuracy",
            "distinct digits claimed by the 10 codes",
            "classes covered",
        ],
        [
            [
                name,
                s["mutual_information_nats"],
                s["mutual_information_bits"],
                s["normalized_mutual_information"],
                s["purity"],
                s["digits_claimed"],
                f"{s['covered']}/10",
            ]
            for name, s in rows
        ],
        note="Matched accuracy: the share of samples whose digit is the one the best one-to-one code -> digit "
        "map assigns to their code (about 0.1-0.2 by chance).",
    )
    rep.table(
        "Do c_1, c_2 learn width and slant? (Pearson correlation over the samples)",
        ["generator", "c1-width", "c1-slant", "c2-width", "c2-slant"],
        [[name, *(s["correlations"][k] for k in ("c1_width", "c1_slant", "c2_width", "c2_slant"))] for name, s in rows],
        note="Which code takes which factor (and its sign) is up to the run; see the traversals.",
    )
    rep.text(
        f"Last step: info_categorical {last['info_categorical']:.3f} nats (log 10 = 2.303 at the start), "
        f"info_continuous {last['info_continuous']:.3f}."
    )
    for j in range(CONTINUOUS):
        rep.figure(f"traversal_c{j + 1}.png", f"rows: c_cat = 0..9; columns: c{j + 1} from -2 to 2, the same z")
    rep.figure("codes_and_losses.png", "P(judged digit | code); running means of the losses")
    return rep.save(
        results={"judge_test_accuracy": judge_accuracy, "untrained": before, "trained": after, "last_metrics": last}
    )


if __name__ == "__main__":
    main()
