"""BiGAN on mnist5k (Donahue, Kraehenbuehl & Darrell, "Adversarial Feature Learning", ICLR 2017; = ALI):
reconstructions, a linear probe on E(x), and source 001's centroid-vector interpolation with the BiGAN's
encoder in place of the VAE's.

    python demos/bigan_mnist.py [--quick] [--seed 0] [--epochs 300] [--dropout 0.5] [--out demo_out/bigan_mnist]
                                [--overwrite | --resume]
    # full run: about 10 minutes on 2 CPU threads; --quick: seconds, numbers meaningless

What it shows: a GAN whose discriminator sees pairs (x, E(x)) and (G(z), z) learns an encoder E = G^-1
without any reconstruction loss (the paper's theorem 2), and E(x) is a feature vector learned without labels.
MLPs 512-512, z ~ N(0, I_50), dropout 0.5 in D's hidden layers, the 4 000 training digits in [-1, 1], batch
100, Adam(2e-4, (0.5, 0.999)), 300 epochs. Measured (seed 0): at 100 epochs without dropout D won throughout
and E nearly collapsed (G(E(x)) judged as x's digit 0.184, linear probe 0.853); dropout 0.5 alone gave
0.267 / 0.858 at 100 epochs, and 0.511 / 0.884 at 300.
The update: ``BiGAN.train_step`` in minigan/trainers/bigan.py (the paper's eq. 3, labels inverted for E, G).
Reference: the paper evaluates its features on full MNIST with its own protocol; no published figure is for
this subset. Beside ours: chance, G(z) for random z, the judge on x itself; the probe on raw pixels and on a
randomly initialised encoder of the same architecture.

1. reconstruction: the digit judge (``evaluate.digit_classifier``) reads G(E(x)) of the 1 000 test digits;
2. linear probe (the paper's headline use): logistic regression on the standardised E(x) (``evaluate.linear_probe``);
3. source 001's manipulation x'(alpha) = G(E(x) + alpha (c_a - c_b)) with the class centroids c_k of E(x_test)
   (``minigan.latent``), 45 digit pairs shown, and the share of all 90 ordered pairs' test images the judge
   calls a at each alpha.
"""

import argparse
import os

import numpy as np

import minigan as mg
from minigan import argtypes, data, demo_args, evaluate, latent, report, viz
from minigan.models import BiGANDiscriminator, BiGANEncoder, BiGANGenerator
from minigan.trainers.bigan import BiGAN
from minigan.training import fit

# -- settings: the paper's permutation-invariant MNIST model, DCGAN's Adam -------------------------------
LATENT_DIM, HIDDEN, BATCH, EPOCHS = 50, 512, 100, 300
DROPOUT = 0.5  # in D's hidden layers
PAIR_ALPHAS = np.linspace(0.0, 1.0, 9)
STATS_ALPHAS = np.array([0.0, 0.5, 1.0, 1.5])
QUICK = dict(epochs=1, probe_epochs=2, judge_epochs=2, per_class=5, hidden=64)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    demo_args.add_run_flags(parser, "demo_out/bigan_mnist", epochs=True, progress=True, resumable=True)
    parser.add_argument(
        "--dropout", type=argtypes.open_probability, default=DROPOUT, help="dropout in D's hidden layers"
    )
    args = parser.parse_args(argv)
    demo_args.refuse_to_replace_a_run(parser, args)  # before any training
    quick = QUICK if args.quick else {}
    rep = report.Report(
        "BiGAN on mnist5k" + (" -- QUICK smoke run, numbers meaningless" if args.quick else ""), args.out
    )

    train, test = data.load("mnist5k"), data.load("mnist5k", split="test")
    x_train, y_train, x_test, y_test = train.x, train.y, test.x, test.y  # [0, 1], (N, 1, 28, 28)
    if quick:
        keep = np.concatenate([np.flatnonzero(y_test == d)[: quick["per_class"]] for d in range(10)])
        x_test, y_test = x_test[keep], y_test[keep]
        x_train, y_train = x_train[::8], y_train[::8]
    scaled_train, scaled_test = x_train * 2 - 1, x_test * 2 - 1  # [-1, 1]

    # -- the algorithm: BiGAN.train_step on each batch of digits ------------------------------------------
    hidden, epochs = quick.get("hidden", HIDDEN), args.epochs or quick.get("epochs", EPOCHS)
    mg.manual_seed(args.seed)
    model = BiGAN(
        BiGANEncoder(LATENT_DIM, hidden),
        BiGANGenerator(LATENT_DIM, hidden),
        BiGANDiscriminator(LATENT_DIM, hidden, dropout=args.dropout),
    )
    loader = data.DataLoader(scaled_train, batch_size=BATCH, shuffle=True, seed=args.seed, drop_last=True)
    result = fit(
        model,
        loader,
        epochs,
        os.path.join(args.out, "run"),
        checkpoint_every=10 * len(loader),
        resume=args.resume,
        overwrite=not args.resume,
        progress=not args.no_progress,
        description="bigan",
    )
    last_epoch = viz.read_metrics(os.path.join(args.out, "run", "metrics.jsonl"))[-len(loader) :]
    final_epoch = {
        k: float(np.mean([r[k] for r in last_epoch])) for k in result["last"] if k not in ("step", "epoch", "time")
    }

    # -- 1. reconstructions judged by the digit classifier ------------------------------------------------
    judge = evaluate.digit_classifier((x_train, y_train), epochs=quick.get("judge_epochs", 30), seed=args.seed)
    recon = model.reconstruct(scaled_test)  # (N, 1, 28, 28) in [-1, 1]
    _, recon_pred, _ = evaluate.judge_digits(judge, recon)
    mg.manual_seed(args.seed + 1)
    samples = model.decode(mg.randn(len(x_test), LATENT_DIM).numpy())
    sample_summary, sample_pred, _ = evaluate.judge_digits(judge, samples)
    reconstruction = {
        "judge_agrees_with_label_on_G(E(x))": float(np.mean(recon_pred == y_test)),
        "baseline_chance": 0.1,
        "baseline_random_G(z)_vs_label": float(np.mean(sample_pred == y_test)),
        "judge_on_real_x": judge.score(x_test, y_test),
        "pixel_mse_[0,1]": float(np.mean(((recon + 1) / 2 - x_test) ** 2)),
        "samples_G(z)_mode_coverage": sample_summary["coverage"]["covered"],
    }

    # -- 2. linear probe ----------------------------------------------------------------------------------
    probe_epochs = quick.get("probe_epochs", 30)
    mg.manual_seed(args.seed + 100)
    random_model = BiGAN(
        BiGANEncoder(LATENT_DIM, hidden), BiGANGenerator(LATENT_DIM, hidden), BiGANDiscriminator(LATENT_DIM, hidden)
    )
    probes = {
        "bigan_E(x)": evaluate.linear_probe(
            model.encode(scaled_train), y_train, model.encode(scaled_test), y_test, probe_epochs, args.seed
        ),
        "raw_pixels": evaluate.linear_probe(
            x_train.reshape(len(x_train), -1), y_train, x_test.reshape(len(x_test), -1), y_test, probe_epochs, args.seed
        ),
        "random_init_encoder": evaluate.linear_probe(
            random_model.encode(scaled_train),
            y_train,
            random_model.encode(scaled_test),
            y_test,
            probe_epochs,
            args.seed,
        ),
    }

    # -- 3. centroid-vector interpolation (source 001) ----------------------------------------------------
    z_test = model.encode(scaled_test)
    centroids = latent.class_centroids(z_test, y_test, 10)
    start = {
        b: np.flatnonzero(y_test == b)[np.argmin(((z_test[y_test == b] - centroids[b]) ** 2).sum(1))] for b in range(10)
    }
    pairs = [(a, b) for a in range(10) for b in range(a + 1, 10)]
    rows = [
        latent.interpolate(
            model.encode,
            model.decode,
            scaled_test[start[b]][None],
            latent.centroid_vector(centroids, a, b),
            PAIR_ALPHAS,
        )[:, 0]
        for a, b in pairs
    ]
    viz.save_image_grid(
        np.concatenate(rows),
        os.path.join(args.out, "pairs_bigan.png"),
        nrow=len(PAIR_ALPHAS),
        value_range=(-1, 1),
        title="BiGAN: G(E(x_b) + alpha (c_a - c_b)), rows 1->0, 2->0, ... 9->8",
    )
    target, source = np.zeros(len(STATS_ALPHAS)), np.zeros(len(STATS_ALPHAS))
    ordered = [(a, b) for a in range(10) for b in range(10) if a != b]
    for a, b in ordered:
        images = latent.interpolate(
            model.encode, model.decode, scaled_test[y_test == b], latent.centroid_vector(centroids, a, b), STATS_ALPHAS
        )  # (A, n_b, 1, 28, 28)
        _, predicted, _ = evaluate.judge_digits(judge, images.reshape((-1, 1, 28, 28)))
        predicted = predicted.reshape(len(STATS_ALPHAS), -1)
        target += (predicted == a).mean(1) / len(ordered)
        source += (predicted == b).mean(1) / len(ordered)

    # -- figures and the report -----------------------------------------------------------------------------
    viz.save_image_grid(
        samples[:100], os.path.join(args.out, "samples.png"), nrow=10, value_range=(-1, 1), title="BiGAN samples G(z)"
    )
    show = np.concatenate(
        [np.stack([scaled_test[start[d]] for d in range(10)]), np.stack([recon[start[d]] for d in range(10)])]
    )
    first = np.concatenate([np.flatnonzero(y_test == d)[1:2] for d in range(10)])
    show = np.concatenate([show, scaled_test[first], recon[first]])
    viz.save_image_grid(
        show,
        os.path.join(args.out, "reconstructions.png"),
        nrow=10,
        value_range=(-1, 1),
        title="rows 1, 3: test x; rows 2, 4: G(E(x))",
    )

    r = reconstruction
    rep.settings(
        latent_dim=LATENT_DIM,
        hidden=hidden,
        dropout_d=args.dropout,
        epochs=epochs,
        batch=BATCH,
        n_train=len(x_train),
        n_test=len(x_test),
        seed=args.seed,
        train_seconds=round(result["elapsed"]),
    )
    rep.table(
        "Reconstruction G(E(x)) judged by the digit classifier",
        ["", "agreement with x's label"],
        [
            ["G(E(x))", r["judge_agrees_with_label_on_G(E(x))"]],
            ["chance", r["baseline_chance"]],
            ["G(z), random z", r["baseline_random_G(z)_vs_label"]],
            ["x itself (judge's accuracy)", r["judge_on_real_x"]],
        ],
        note=f"Pixel MSE of G(E(x)) in [0, 1]: {r['pixel_mse_[0,1]']:.4f}. Digits covered by G(z) samples: "
        f"{r['samples_G(z)_mode_coverage']}/10.",
    )
    rep.table(
        "Linear probe (logistic regression on standardised features), test accuracy",
        ["features", "accuracy"],
        [[k, v] for k, v in probes.items()],
    )
    rep.table(
        "Centroid-vector interpolation G(E(x_b) + alpha (c_a - c_b)), 90 ordered pairs",
        ["alpha", *(f"{a:.2g}" for a in STATS_ALPHAS)],
        [["judged target a", *target], ["judged source b", *source]],
    )
    rep.figure("samples.png", "BiGAN samples G(z)")
    rep.figure("reconstructions.png", "rows 1, 3: test x; rows 2, 4: G(E(x))")
    rep.figure("pairs_bigan.png", "G(E(x_b) + alpha (c_a - c_b)) for the 45 digit pairs")
    return rep.save(
        results={
            "final_epoch": final_epoch,
            "reconstruction": reconstruction,
            "linear_probe_test_accuracy": probes,
            "interpolation": {
                "alphas": STATS_ALPHAS.tolist(),
                "fraction_judged_target": target.tolist(),
                "fraction_judged_source": source.tolist(),
            },
        }
    )


if __name__ == "__main__":
    main()
