"""Interpolation in a VAE's latent space, quantified by a logistic-regression classifier (source 001; the VAE
of Kingma & Welling 2014, demos/vae_mnist.py).

    python demos/interpolation.py --checkpoint demo_out/vae_mnist/vae20.safetensors --out demo_out/interpolation
    python demos/interpolation.py --out demo_out/interpolation     # trains its own 20-D VAE first (~1 min)
    python demos/interpolation.py --quick --out /tmp/interp_quick  # seconds
    # an --out that holds an earlier run is refused; --overwrite replaces it

Source 001's recipe (section 2): encode the test set with the 20-D VAE, z = mu(x); class centroids c_k;
the vector from centroid b to centroid a, v_ab = c_a - c_b; an unseen x moved to decode(mu(x) + alpha v_ab).

1. all 45 digit pairs: one row per pair (a, b), a < b, starting from the test image of digit b closest to
   centroid b, alpha = 0 ... 1 along v_ab (the row turns a b into an a), as source 001's figure;
2. a 7 moved along the 6 -> 0 vector (v = c_0 - c_6), alpha from -3 to 3: source 001 saw 0-like
   images on the right and nothing 6-like on the left;
3. a multinomial logistic regression (minigan, trained on the grey-level training images) gives
   p(digit | image) along every path; for all 90 ordered pairs and every test image of the start class:
   the fraction classified as the target at alpha = 1, and still as the source at alpha = 0 (the
   reconstruction);
4. baseline: the same move in pixel space, clip(x + alpha (m_a - m_b)), m_k the class mean images.
   Caveat: the classifier is linear in pixels, so a pixel-space move by the class-mean difference is
   exactly the direction it rewards; its score is an upper reference for "fooling a linear classifier",
   not for looking like a digit (look at the figure).

The VAE trains (without --checkpoint) by ``VAETrainer.train_step`` (minigan/trainers/vae.py, K&W 2014,
Algorithm 1) through ``fit``; the moves are minigan/latent.py. Measured with demos/vae_mnist.py's checkpoint
(seed 0): the fraction classified as the target digit is 0.01 / 0.19 / 0.75 / 0.90 at alpha = 0 / 0.5 / 1 /
1.5; a 7 moved along the 6->0 vector is read as a 0 with p = 0.30 / 0.72 / 0.91 at alpha = 2 / 2.5 / 3.
Writes pairs_vae.png, pairs_pixel.png, seven_along_6to0.png, seven_probabilities_{vae,pixel}.png,
path_probabilities.png, report.md, report.json.
"""

import argparse
import os

import numpy as np

import minigan as mg
from minigan import data, demo_args, latent, report, viz
from minigan.models import VAE, LogisticRegression
from minigan.trainers.supervised import train_classifier
from minigan.trainers.vae import VAETrainer
from minigan.training import fit

# ---- settings
LATENT_DIM = 20
HIDDEN = 400
EPOCHS = 150  # if no --checkpoint: the training of demos/vae_mnist.py
PAIR_ALPHAS = np.linspace(0.0, 1.0, 9)
SEVEN_ALPHAS = np.linspace(-3.0, 3.0, 13)
STATS_ALPHAS = np.linspace(0.0, 1.5, 7)  # alpha values at which the classifier is summarised
SEED = 0
QUICK = dict(epochs=2, classifier_epochs=2, per_class=5)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    demo_args.add_run_flags(parser, "demo_out/interpolation", seed=SEED, epochs=True, quick_help="seconds")
    parser.add_argument("--checkpoint", default=None, help="a VAE(20) state dict from demos/vae_mnist.py")
    args = parser.parse_args(argv)
    demo_args.refuse_to_replace_a_run(parser, args)  # before any training
    quick = QUICK if args.quick else {}
    os.makedirs(args.out, exist_ok=True)
    rep = report.Report(
        "Latent-space interpolation (source 001)" + (" -- QUICK, numbers meaningless" if quick else ""), args.out
    )

    train, test = data.load("mnist5k"), data.load("mnist5k", split="test")
    x_train, y_train, x_test, y_test = train.x, train.y, test.x, test.y
    if quick:  # a few images of every digit (the files are sorted by digit)
        keep = np.concatenate([np.flatnonzero(y_test == d)[: quick["per_class"]] for d in range(10)])
        x_test, y_test = x_test[keep], y_test[keep]
        x_train, y_train = x_train[::4], y_train[::4]

    # the generative model: the 20-D VAE, trained without labels
    model = VAE(LATENT_DIM, HIDDEN)
    if args.checkpoint and os.path.exists(args.checkpoint):
        model.load_state_dict(mg.load(args.checkpoint))
        source = args.checkpoint
    else:
        # the 20-D VAE of demos/vae_mnist.py: AEVB (VAETrainer.train_step) on digits re-binarised every epoch
        mg.manual_seed(args.seed)
        model = VAE(LATENT_DIM, HIDDEN)
        fit(
            VAETrainer(model, lr=1e-3),
            data.BinarizedLoader(x_train, batch_size=100, shuffle=True, seed=args.seed),
            args.epochs or quick.get("epochs", EPOCHS),
            os.path.join(args.out, "vae_run"),
            checkpoint_every=10**9,
            overwrite=True,
            progress=False,
        )
        source = "trained here"
    model.eval()
    encoder = lambda x: model.encode(mg.tensor(np.asarray(x, dtype=np.float32)))[0]  # noqa: E731  z = mu(x)

    # the classifier that quantifies the images (source 001: logistic regression trained on MNIST)
    mg.manual_seed(args.seed)
    classifier = LogisticRegression(784, 10)
    train_classifier(classifier, x_train, y_train, epochs=quick.get("classifier_epochs", 30), lr=0.01, seed=args.seed)
    accuracy = {
        "test_grey": classifier.score(x_test, y_test),
        "test_vae_reconstructions": classifier.score(model.reconstruct(x_test), y_test),
    }
    print(
        f"logistic regression test accuracy {accuracy['test_grey']:.3f}, on VAE reconstructions "
        f"{accuracy['test_vae_reconstructions']:.3f}"
    )

    # centroids in latent space (from the test set, as source 001) and class means in pixel space
    with mg.no_grad():
        z_test = encoder(x_test).numpy()
    centroids = latent.class_centroids(z_test, y_test, 10)  # (10, 20)
    means = np.stack([x_test[y_test == d].mean(0) for d in range(10)])  # (10, 1, 28, 28)
    # each path starts from the test image of digit b nearest its centroid (a typical b)
    start = {
        b: np.flatnonzero(y_test == b)[np.argmin(((z_test[y_test == b] - centroids[b]) ** 2).sum(1))] for b in range(10)
    }

    # (1) the 45 pairs, a < b: b -> a along v_ab = c_a - c_b
    pairs = [(a, b) for a in range(10) for b in range(a + 1, 10)]
    vae_rows, pixel_rows = [], []
    for a, b in pairs:
        x0 = x_test[start[b]][None]
        vae_rows.append(
            latent.interpolate(encoder, model.decode_images, x0, latent.centroid_vector(centroids, a, b), PAIR_ALPHAS)[
                :, 0
            ]
        )
        pixel_rows.append(latent.pixel_interpolate(x0, means[a] - means[b], PAIR_ALPHAS)[:, 0])
    labels = [f"{b}->{a}" for a, b in pairs]
    viz.labelled_rows_grid(
        vae_rows,
        PAIR_ALPHAS,
        labels,
        os.path.join(args.out, "pairs_vae.png"),
        "VAE D=20: decode(mu(x_b) + alpha (c_a - c_b)), all 45 pairs; columns: alpha",
    )
    viz.labelled_rows_grid(
        pixel_rows,
        PAIR_ALPHAS,
        labels,
        os.path.join(args.out, "pairs_pixel.png"),
        "baseline, pixel space: clip(x_b + alpha (m_a - m_b)); columns: alpha",
    )

    # (2) a 7 along the 6 -> 0 vector
    seven = x_test[start[7]][None]
    v_60 = latent.centroid_vector(centroids, 0, 6)
    seven_vae = latent.interpolate(encoder, model.decode_images, seven, v_60, SEVEN_ALPHAS)[:, 0]  # (A, 1, 28, 28)
    seven_pixel = latent.pixel_interpolate(seven, means[0] - means[6], SEVEN_ALPHAS)[:, 0]
    viz.save_image_grid(
        np.concatenate([seven_vae, seven_pixel]),
        os.path.join(args.out, "seven_along_6to0.png"),
        nrow=len(SEVEN_ALPHAS),
        title="a 7 along the 6->0 vector, alpha = -3 ... 3: VAE (top), pixel space (bottom)",
    )
    seven_probs = {"vae": classifier.predict_proba(seven_vae), "pixel": classifier.predict_proba(seven_pixel)}
    for name, probs in seven_probs.items():
        viz.line_panels(
            [
                (
                    "logistic regression p(digit | image)",
                    {f"p({d})": (SEVEN_ALPHAS, probs[:, d]) for d in range(10) if probs[:, d].max() > 0.05},
                )
            ],
            os.path.join(args.out, f"seven_probabilities_{name}.png"),
            xlabel=f"alpha ({name} path)",
            width=6.4,
        )

    # (3) every ordered pair (a, b), every test image of b: classifier along the path
    summary = {"vae": {}, "pixel": {}}
    target_curve = {"vae": np.zeros(len(STATS_ALPHAS)), "pixel": np.zeros(len(STATS_ALPHAS))}
    source_curve = {"vae": np.zeros(len(STATS_ALPHAS)), "pixel": np.zeros(len(STATS_ALPHAS))}
    ordered = [(a, b) for a in range(10) for b in range(10) if a != b]
    for a, b in ordered:
        xs = x_test[y_test == b]
        paths = {
            "vae": latent.interpolate(
                encoder, model.decode_images, xs, latent.centroid_vector(centroids, a, b), STATS_ALPHAS
            ),
            "pixel": latent.pixel_interpolate(xs, means[a] - means[b], STATS_ALPHAS),
        }
        for name, images in paths.items():  # images (A, n_b, 1, 28, 28)
            predicted = classifier.predict(images.reshape(-1, 784)).reshape(len(STATS_ALPHAS), len(xs))
            target_curve[name] += (predicted == a).mean(1) / len(ordered)
            source_curve[name] += (predicted == b).mean(1) / len(ordered)
            summary[name][f"{b}->{a}"] = float((predicted[list(STATS_ALPHAS).index(1.0)] == a).mean())
    curves = {}
    for name, style in (("vae", "o-"), ("pixel", "s--")):
        curves[f"{name}: classified as target a"] = (STATS_ALPHAS, target_curve[name], style)
        curves[f"{name}: classified as source b"] = (STATS_ALPHAS, source_curve[name], style)
    viz.line_panels(
        [("fraction of paths (90 ordered pairs)", curves)],
        os.path.join(args.out, "path_probabilities.png"),
        xlabel="alpha (x_b moved along c_a - c_b)",
        width=6.4,
    )

    # -- the report ---------------------------------------------------------------------------------------
    rep.settings(checkpoint=source, n_test=len(x_test), n_train_classifier=len(x_train), seed=args.seed)
    rep.text(
        f"Classifier: multinomial logistic regression on the grey-level training images, test accuracy "
        f"{accuracy['test_grey']:.3f} (on the VAE's reconstructions of the test images: "
        f"{accuracy['test_vae_reconstructions']:.3f}; majority-class baseline 0.100)."
    )
    rep.table(
        "How often the moved image is classified as the target digit",
        ["path"] + [f"alpha {a:.2g}" for a in STATS_ALPHAS],
        [
            [name] + [f"{x:.3f} ({y:.3f})" for x, y in zip(target_curve[name], source_curve[name])]
            for name in ("vae", "pixel")
        ],
        note="All 90 ordered pairs (b -> a), every test image of digit b moved to decode(mu(x) + alpha (c_a - c_b)); "
        "baseline: clip(x + alpha (m_a - m_b)) in pixel space. Mean over pairs of the fraction classified "
        "as a (as b in parentheses).",
    )
    rep.table(
        "A 7 moved along the 6 -> 0 vector: the classifier's p(0) / p(6) / p(7) and argmax",
        ["path"] + [f"alpha {a:.2g}" for a in SEVEN_ALPHAS],
        [
            [name] + [f"{p[0]:.2f} / {p[6]:.2f} / {p[7]:.2f} ({p.argmax()})" for p in probs]
            for name, probs in seven_probs.items()
        ],
    )
    distances = {
        "mean_pairwise": float(np.mean([np.linalg.norm(centroids[a] - centroids[b]) for a, b in pairs])),
        "mean_within_class_distance_to_centroid": float(np.mean(np.linalg.norm(z_test - centroids[y_test], axis=1))),
    }
    rep.text(
        f"Latent geometry: mean distance between two centroids {distances['mean_pairwise']:.2f}; mean distance "
        f"of a test code to its own centroid {distances['mean_within_class_distance_to_centroid']:.2f}."
    )
    for name in ("pairs_vae.png", "pairs_pixel.png", "seven_along_6to0.png", "path_probabilities.png"):
        rep.figure(name, name[:-4].replace("_", " "))
    results = {
        "classifier_accuracy": accuracy,
        "centroid_distances": distances,
        "fraction_target_at_alpha": {k: v.tolist() for k, v in target_curve.items()},
        "fraction_source_at_alpha": {k: v.tolist() for k, v in source_curve.items()},
        "fraction_target_at_alpha_1_per_pair": summary,
        "seven_along_6to0": {
            name: {
                "alpha": SEVEN_ALPHAS.tolist(),
                "p0": probs[:, 0].tolist(),
                "p6": probs[:, 6].tolist(),
                "p7": probs[:, 7].tolist(),
                "argmax": probs.argmax(1).tolist(),
            }
            for name, probs in seven_probs.items()
        },
    }
    rep.save(results)
    return results


if __name__ == "__main__":
    main()
