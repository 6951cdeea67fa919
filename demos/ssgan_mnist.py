"""Semi-supervised GAN on mnist5k with 100 labels (Salimans et al., "Improved Techniques for Training GANs",
2016, section 5).

    python demos/ssgan_mnist.py [--quick] [--seed 0] [--epochs 30] [--out demo_out/ssgan_mnist] [--overwrite]
    # full run: about 7 minutes on 2 CPU threads; --quick: seconds

What it shows: source 003's K+1 classes (docs/sources.md) -- generated samples join the data as a (K+1)-th,
"fake" class, so the classifier's loss splits into a supervised part (100 labelled digits) and an
unsupervised part (real vs fake, on all 4 000 training digits, unlabelled). Salimans et al. write it with K
logits and the fake logit fixed at 0; G minimises -log D(G(z)) (non-saturating) or feature matching
||E f(x) - E f(G(z))||^2 on D's intermediate layer (their section 3.1, their choice for classification); both run.
The update: ``SemiSupervisedGAN.train_step`` in minigan/trainers/ssgan.py; the losses in minigan/losses.py.
Reference: the paper's ~1 % error with 100 labels on full MNIST (a bigger model, far longer training);
baselines on the same 100 labels: the same network trained on the supervised loss alone for as many steps,
and logistic regression.
"""

import argparse
import os

import numpy as np

import minigan as mg
from minigan import data, demo_args, losses, optim, report, viz
from minigan.data.splits import stratified
from minigan.models import DCGANGenerator, LogisticRegression, SSGANDiscriminator
from minigan.trainers.base import step_parameters
from minigan.trainers.ssgan import SemiSupervisedGAN, classification_accuracy
from minigan.trainers.supervised import train_classifier
from minigan.training import fit

# -- settings: Salimans et al. 2016 (100 labels on MNIST, feature matching), DCGAN's Adam -------------------
N_LABELS, LATENT, WIDTH, HIDDEN, DROPOUT, BATCH, LR = 100, 100, 32, 256, 0.3, 64, 2e-4
EPOCHS = 30  # 30 x 62 = 1 860 steps (one D and one G update each), for each generator loss;
# at 10 epochs the SSGAN had not yet left the supervised baseline (0.773 vs 0.777)
GENERATOR_LOSSES = ("nonsaturating", "feature_matching")
QUICK = dict(epochs=1, n_train=256, width=8, hidden=32, lr_epochs=2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    demo_args.add_run_flags(parser, "demo_out/ssgan_mnist", epochs=True, progress=True)
    args = parser.parse_args(argv)
    demo_args.refuse_to_replace_a_run(parser, args)  # before any training
    quick = QUICK if args.quick else {}
    epochs = args.epochs or quick.get("epochs", EPOCHS)
    width, hidden = quick.get("width", WIDTH), quick.get("hidden", HIDDEN)
    rep = report.Report(
        f"Semi-supervised GAN on mnist5k with {N_LABELS} labels (source 003)"
        + (" -- QUICK smoke run" if args.quick else ""),
        args.out,
    )
    mg.manual_seed(args.seed)

    train, test = data.load("mnist5k"), data.load("mnist5k", split="test")
    n_train = quick.get("n_train", len(train))
    x_train = (train.x[:n_train] * 2 - 1).astype(np.float32)  # every training digit, unlabelled
    labelled = stratified(train.y, N_LABELS, args.seed)  # 10 per class
    x_lab, y_lab = (train.x[labelled] * 2 - 1).astype(np.float32), train.y[labelled]

    # -- the algorithm: SemiSupervisedGAN.train_step on each unlabelled batch, once per generator loss -----
    runs = {}
    for generator_loss in GENERATOR_LOSSES:
        mg.manual_seed(args.seed)
        model = SemiSupervisedGAN(
            DCGANGenerator(LATENT, width),
            SSGANDiscriminator(10, width, hidden, DROPOUT),
            x_lab,
            y_lab,
            labelled_batch=BATCH,
            generator_loss=generator_loss,
            lr=LR,
        )
        loader = data.DataLoader(x_train, batch_size=BATCH, shuffle=True, seed=args.seed, drop_last=True)
        history = []

        def per_epoch(step, record, model=model, history=history):  # test accuracy after each epoch
            if float(record["epoch"]).is_integer():
                history.append(model.evaluate(test)["test_accuracy"])

        result = fit(
            model,
            loader,
            epochs,
            os.path.join(args.out, f"run_{generator_loss}"),
            checkpoint_every=500,
            overwrite=True,
            progress=not args.no_progress,
            description=f"ssgan {generator_loss}",
            callbacks=[per_epoch],
        )
        runs[generator_loss] = {
            "test_accuracy": model.evaluate(test)["test_accuracy"],
            "per_epoch": history,
            "last_metrics": result["last"],
            "steps": result["step"],
        }
        viz.save_image_grid(
            model.sample(64),
            os.path.join(args.out, f"samples_{generator_loss}.png"),
            nrow=8,
            value_range=(-1, 1),
            title=f"SSGAN generator samples ({generator_loss})",
        )

    # -- baselines on the same 100 labels ------------------------------------------------------------------
    # the same network, supervised loss alone, as many Adam steps, labelled batches drawn with replacement
    mg.manual_seed(args.seed)
    network = SSGANDiscriminator(10, width, hidden, DROPOUT)
    optimizer, rng = optim.Adam(network.parameters(), lr=LR, betas=(0.5, 0.999)), np.random.default_rng(args.seed)
    for _ in range(result["step"]):
        rows = rng.integers(0, len(x_lab), BATCH)
        step_parameters(
            losses.ssgan_supervised_loss(network(mg.tensor(x_lab[rows])), y_lab[rows]),
            list(network.parameters()),
            optimizer,
        )
    supervised_accuracy = classification_accuracy(network, test)["test_accuracy"]
    logistic = LogisticRegression(784, 10)
    train_classifier(
        logistic, train.x[labelled], y_lab, epochs=quick.get("lr_epochs", 100), batch_size=N_LABELS, seed=args.seed
    )
    logistic_accuracy = logistic.score(test.x, test.y)

    # -- measurements --------------------------------------------------------------------------------------
    best = max(runs, key=lambda k: runs[k]["test_accuracy"])
    gap = runs[best]["test_accuracy"] - supervised_accuracy
    rep.settings(
        labelled=N_LABELS,
        unlabelled=n_train,
        batch=BATCH,
        labelled_batch=BATCH,
        epochs=epochs,
        steps_per_run=result["step"],
        lr=LR,
        betas="(0.5, 0.999)",
        width=width,
        hidden=hidden,
        dropout=DROPOUT,
        seed=args.seed,
    )
    rep.table(
        f"Test accuracy on mnist5k's 1 000 test digits, every classifier trained on the same {N_LABELS} labels",
        ["classifier", "test accuracy"],
        [
            *(
                [
                    f"SSGAN discriminator (K+1 classes, + unlabelled data), G by {k.replace('_', ' ')}",
                    v["test_accuracy"],
                ]
                for k, v in runs.items()
            ),
            [f"baseline: the same network, supervised loss only, {result['step']} steps", supervised_accuracy],
            ["baseline: logistic regression", logistic_accuracy],
            ["chance", 0.1],
        ],
        note="Salimans et al. (2016) report about 1 % error with 100 labels on full MNIST, with an MLP "
        "discriminator with weight normalisation and Gaussian noise layers, trained for hundreds of "
        "epochs of 60 000 images.",
    )
    for k, v in runs.items():
        rep.text(
            f"SSGAN ({k.replace('_', ' ')}) test accuracy after each epoch: "
            + ", ".join(f"{a:.3f}" for a in v["per_epoch"])
        )
    if gap > 0.01:
        rep.text(
            f"The unlabelled data help: the best SSGAN ({best.replace('_', ' ')}) is {100 * gap:.1f} points "
            "above the same network trained on the labels alone."
        )
    else:
        rep.text(
            f"In this budget the unlabelled data do not help: the best SSGAN ({best.replace('_', ' ')}) is "
            f"{100 * gap:+.1f} points from the same network trained on the labels alone (1 000 test digits: "
            "one standard error is about 1.3 points)."
        )
    for k in runs:
        rep.figure(f"samples_{k}.png", f"the generator's samples, G by {k.replace('_', ' ')}")
    return rep.save(
        results={
            "test_accuracy": {
                **{f"ssgan_{k}": v["test_accuracy"] for k, v in runs.items()},
                "same_network_supervised_only": supervised_accuracy,
                "logistic_regression_100_labels": logistic_accuracy,
                "chance": 0.1,
            },
            "runs": runs,
        }
    )


if __name__ == "__main__":
    main()
