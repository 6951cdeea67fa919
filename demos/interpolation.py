"""Source 001: interpolation in a VAE's latent space, quantified by a logistic-regression classifier.

    python demos/interpolation.py --checkpoint demo_out/vae_mnist/vae20.safetensors --out demo_out/interpolation
    python demos/interpolation.py --out demo_out/interpolation     # trains its own 20-D VAE first (~1 min)
    python demos/interpolation.py --quick --out /tmp/interp_quick  # seconds

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

Writes pairs_vae.png, pairs_pixel.png, seven_along_6to0.png, seven_probabilities.png, path_probabilities.png,
report.md, report.json.
"""
import argparse
import json
import os
import sys
import time

if __package__ in (None, ""):                       # `python demos/interpolation.py` from a checkout
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import minigan as mg  # noqa: E402
import minigan.data as data  # noqa: E402
from minigan import latent, losses, optim, viz  # noqa: E402
from minigan.models import VAE, LogisticRegression  # noqa: E402

# ---- settings
LATENT_DIM = 20
HIDDEN = 400
EPOCHS = 150                       # if no --checkpoint: the training of demos/vae_mnist.py
PAIR_ALPHAS = np.linspace(0.0, 1.0, 9)
SEVEN_ALPHAS = np.linspace(-3.0, 3.0, 13)
STATS_ALPHAS = np.linspace(0.0, 1.5, 7)   # alpha values at which the classifier is summarised
SEED = 0
QUICK = dict(epochs=2, classifier_epochs=2, per_class=5)


def train_vae(x_train, epochs, seed):
    """The 20-D VAE of demos/vae_mnist.py (dynamic binarisation, Adam 1e-3, batch 100)."""
    mg.manual_seed(seed)
    model = VAE(LATENT_DIM, HIDDEN)
    optimizer, rng = optim.Adam(model.parameters(), lr=1e-3), np.random.default_rng(seed)
    for epoch in range(1, epochs + 1):
        x_epoch, total = data.binarize_dynamic(x_train, rng), 0.0
        order = rng.permutation(len(x_epoch))
        for start in range(0, len(order), 100):
            xb = mg.tensor(x_epoch[order[start:start + 100]])
            logits, mu, logvar = model(xb)
            loss, _, _ = losses.vae_loss(logits, xb, mu, logvar)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
        if epoch % max(1, epochs // 10) == 0 or epoch == epochs:
            print(f"VAE(D={LATENT_DIM}) epoch {epoch}/{epochs}: train -ELBO {total / len(x_epoch):.2f}", flush=True)
    return model


def probability_panel(probs, alphas, path, title, digits=range(10)):
    """Classifier probabilities p(digit | image) along one path: probs (A, 10)."""
    figure, axis = plt.subplots(figsize=(6.4, 3.6))
    cmap = plt.get_cmap("tab10")
    for digit in digits:
        if probs[:, digit].max() > 0.05:
            axis.plot(alphas, probs[:, digit], "o-", color=cmap(digit), label=f"p({digit})", markersize=3)
    axis.set_xlabel("alpha")
    axis.set_ylabel("logistic regression p(digit | image)")
    axis.set_ylim(-0.02, 1.02)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    axis.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def pair_grid(rows, alphas, labels, path, title, blocks=3):
    """rows: list of (A, 1, 28, 28) paths, one row per pair, labelled on the left, alpha on top; the rows
    are laid out in ``blocks`` side-by-side panels (45 pairs -> 3 panels of 15)."""
    per_block = -(-len(rows) // blocks)
    grids = [viz.image_grid(np.concatenate(rows[k:k + per_block]), nrow=len(alphas), padding=2)
             for k in range(0, len(rows), per_block)]
    height, width = grids[0].shape
    figure, axes = plt.subplots(1, len(grids), figsize=(len(grids) * (width / 45 + 0.5), height / 45 + 0.6),
                                squeeze=False)
    for k, (axis, grid) in enumerate(zip(axes[0], grids)):
        axis.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        n_rows = (grid.shape[0] - 2) // 30
        axis.set_yticks([2 + 30 * r + 14 for r in range(n_rows)], labels[k * per_block:k * per_block + n_rows], fontsize=8)
        axis.set_xticks([2 + 30 * c + 14 for c in range(len(alphas))], [f"{a:.3g}" for a in alphas], fontsize=6)
        axis.xaxis.tick_top()
        axis.tick_params(length=0)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout(rect=(0, 0, 1, 0.97))
    figure.savefig(path, dpi=90)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_out/interpolation")
    parser.add_argument("--checkpoint", default=None, help="a VAE(20) state dict from demos/vae_mnist.py")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    quick = QUICK if args.quick else {}
    os.makedirs(args.out, exist_ok=True)
    started = time.time()

    train, test = data.load("mnist5k"), data.load("mnist5k", split="test")
    x_train, y_train, x_test, y_test = train.x, train.y, test.x, test.y
    if quick:                                     # a few images of every digit (the files are sorted by digit)
        keep = np.concatenate([np.flatnonzero(y_test == d)[:quick["per_class"]] for d in range(10)])
        x_test, y_test = x_test[keep], y_test[keep]
        x_train, y_train = x_train[::4], y_train[::4]

    # the generative model: the 20-D VAE, trained without labels
    model = VAE(LATENT_DIM, HIDDEN)
    if args.checkpoint and os.path.exists(args.checkpoint):
        model.load_state_dict(mg.load(args.checkpoint))
        source = args.checkpoint
    else:
        model = train_vae(x_train, args.epochs or quick.get("epochs", EPOCHS), args.seed)
        source = "trained here"
    model.eval()
    encoder = lambda x: model.encode(mg.tensor(np.asarray(x, dtype=np.float32)))[0]   # noqa: E731  z = mu(x)

    # the classifier that quantifies the images (source 001: logistic regression trained on MNIST)
    mg.manual_seed(args.seed)
    classifier = LogisticRegression(784, 10)
    classifier.fit(x_train, y_train, epochs=quick.get("classifier_epochs", 30), lr=0.01, seed=args.seed)
    accuracy = {"test_grey": classifier.score(x_test, y_test),
                "test_vae_reconstructions": classifier.score(model.reconstruct(x_test), y_test)}
    print(f"logistic regression test accuracy {accuracy['test_grey']:.3f}, on VAE reconstructions "
          f"{accuracy['test_vae_reconstructions']:.3f}")

    # centroids in latent space (from the test set, as source 001) and class means in pixel space
    with mg.no_grad():
        z_test = encoder(x_test).numpy()
    centroids = latent.class_centroids(z_test, y_test, 10)                       # (10, 20)
    means = np.stack([x_test[y_test == d].mean(0) for d in range(10)])           # (10, 1, 28, 28)
    # each path starts from the test image of digit b nearest its centroid (a typical b)
    start = {b: np.flatnonzero(y_test == b)[np.argmin(((z_test[y_test == b] - centroids[b]) ** 2).sum(1))]
             for b in range(10)}

    # (1) the 45 pairs, a < b: b -> a along v_ab = c_a - c_b
    pairs = [(a, b) for a in range(10) for b in range(a + 1, 10)]
    vae_rows, pixel_rows = [], []
    for a, b in pairs:
        x0 = x_test[start[b]][None]
        vae_rows.append(latent.interpolate(encoder, model.decode_images, x0,
                                           latent.centroid_vector(centroids, a, b), PAIR_ALPHAS)[:, 0])
        pixel_rows.append(latent.pixel_interpolate(x0, means[a] - means[b], PAIR_ALPHAS)[:, 0])
    labels = [f"{b}->{a}" for a, b in pairs]
    pair_grid(vae_rows, PAIR_ALPHAS, labels, os.path.join(args.out, "pairs_vae.png"),
              "VAE D=20: decode(mu(x_b) + alpha (c_a - c_b)), all 45 pairs; columns: alpha")
    pair_grid(pixel_rows, PAIR_ALPHAS, labels, os.path.join(args.out, "pairs_pixel.png"),
              "baseline, pixel space: clip(x_b + alpha (m_a - m_b)); columns: alpha")

    # (2) a 7 along the 6 -> 0 vector
    seven = x_test[start[7]][None]
    v_60 = latent.centroid_vector(centroids, 0, 6)
    seven_vae = latent.interpolate(encoder, model.decode_images, seven, v_60, SEVEN_ALPHAS)[:, 0]     # (A, 1, 28, 28)
    seven_pixel = latent.pixel_interpolate(seven, means[0] - means[6], SEVEN_ALPHAS)[:, 0]
    viz.save_image_grid(np.concatenate([seven_vae, seven_pixel]), os.path.join(args.out, "seven_along_6to0.png"),
                        nrow=len(SEVEN_ALPHAS),
                        title="a 7 along the 6->0 vector, alpha = -3 ... 3: VAE (top), pixel space (bottom)")
    seven_probs = {"vae": classifier.predict_proba(seven_vae), "pixel": classifier.predict_proba(seven_pixel)}
    figure_paths = []
    for name, probs in seven_probs.items():
        figure_paths.append(os.path.join(args.out, f"seven_probabilities_{name}.png"))
        probability_panel(probs, SEVEN_ALPHAS, figure_paths[-1], f"a 7 along the 6->0 vector ({name}): classifier")

    # (3) every ordered pair (a, b), every test image of b: classifier along the path
    summary = {"vae": {}, "pixel": {}}
    target_curve = {"vae": np.zeros(len(STATS_ALPHAS)), "pixel": np.zeros(len(STATS_ALPHAS))}
    source_curve = {"vae": np.zeros(len(STATS_ALPHAS)), "pixel": np.zeros(len(STATS_ALPHAS))}
    ordered = [(a, b) for a in range(10) for b in range(10) if a != b]
    for a, b in ordered:
        xs = x_test[y_test == b]
        paths = {"vae": latent.interpolate(encoder, model.decode_images, xs,
                                           latent.centroid_vector(centroids, a, b), STATS_ALPHAS),
                 "pixel": latent.pixel_interpolate(xs, means[a] - means[b], STATS_ALPHAS)}
        for name, images in paths.items():                                   # images (A, n_b, 1, 28, 28)
            predicted = classifier.predict(images.reshape(-1, 784)).reshape(len(STATS_ALPHAS), len(xs))
            target_curve[name] += (predicted == a).mean(1) / len(ordered)
            source_curve[name] += (predicted == b).mean(1) / len(ordered)
            summary[name][f"{b}->{a}"] = float((predicted[list(STATS_ALPHAS).index(1.0)] == a).mean())
    figure, axis = plt.subplots(figsize=(6.4, 3.8))
    for name, style in (("vae", "o-"), ("pixel", "s--")):
        axis.plot(STATS_ALPHAS, target_curve[name], style, label=f"{name}: classified as target a")
        axis.plot(STATS_ALPHAS, source_curve[name], style, alpha=0.5, label=f"{name}: classified as source b")
    axis.set_xlabel("alpha (x_b moved along c_a - c_b)")
    axis.set_ylabel("fraction of paths (90 ordered pairs)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(os.path.join(args.out, "path_probabilities.png"), dpi=100)
    plt.close(figure)

    one = list(STATS_ALPHAS).index(1.0)
    report = {"settings": {"checkpoint": source, "n_test": len(x_test), "n_train_classifier": len(x_train),
                           "quick": bool(args.quick), "seed": args.seed, "pair_alphas": PAIR_ALPHAS.tolist(),
                           "seven_alphas": SEVEN_ALPHAS.tolist(), "stats_alphas": STATS_ALPHAS.tolist()},
              "classifier_accuracy": accuracy,
              "centroid_distances": {"mean_pairwise": float(np.mean([np.linalg.norm(centroids[a] - centroids[b])
                                                                     for a, b in pairs])),
                                     "mean_within_class_distance_to_centroid": float(np.mean(
                                         np.linalg.norm(z_test - centroids[y_test], axis=1)))},
              "fraction_target_at_alpha": {k: v.tolist() for k, v in target_curve.items()},
              "fraction_source_at_alpha": {k: v.tolist() for k, v in source_curve.items()},
              "fraction_target_at_alpha_1_per_pair": summary,
              "seven_along_6to0": {name: {"alpha": SEVEN_ALPHAS.tolist(), "p0": probs[:, 0].tolist(),
                                          "p6": probs[:, 6].tolist(), "p7": probs[:, 7].tolist(),
                                          "argmax": probs.argmax(1).tolist()}
                                   for name, probs in seven_probs.items()},
              "seconds": time.time() - started}
    with open(os.path.join(args.out, "report.json"), "w") as handle:
        json.dump(report, handle, indent=1)
    write_markdown(report, one, os.path.join(args.out, "report.md"))
    print(open(os.path.join(args.out, "report.md")).read())
    return report


def write_markdown(report, one, path):
    s, acc = report["settings"], report["classifier_accuracy"]
    t, src = report["fraction_target_at_alpha"], report["fraction_source_at_alpha"]
    lines = [f"# Latent-space interpolation (source 001){' -- QUICK smoke run, numbers meaningless' if s['quick'] else ''}", "",
             f"VAE D=20 ({s['checkpoint']}); centroids from the {s['n_test']} mnist5k test images; classifier: "
             f"multinomial logistic regression on {s['n_train_classifier']} grey-level training images, test accuracy "
             f"{acc['test_grey']:.3f} (on the VAE's reconstructions of the test images: {acc['test_vae_reconstructions']:.3f}; "
             "majority-class baseline 0.100).", "",
             "## How often the moved image is classified as the target digit", "",
             "All 90 ordered pairs (b -> a), every test image of digit b moved to decode(mu(x) + alpha (c_a - c_b)); "
             "baseline: clip(x + alpha (m_a - m_b)) in pixel space. Mean over pairs of the fraction of images classified as a "
             "(as b in parentheses):", "",
             "| alpha | " + " | ".join(f"{a:.2g}" for a in s["stats_alphas"]) + " |",
             "|---|" + "---|" * len(s["stats_alphas"])]
    for name in ("vae", "pixel"):
        lines.append(f"| {name} | " + " | ".join(f"{x:.3f} ({y:.3f})" for x, y in zip(t[name], src[name])) + " |")
    per_pair = report["fraction_target_at_alpha_1_per_pair"]["vae"]
    worst = sorted(per_pair.items(), key=lambda kv: kv[1])[:5]
    best = sorted(per_pair.items(), key=lambda kv: -kv[1])[:5]
    lines += ["", "VAE, alpha = 1, hardest pairs: " + ", ".join(f"{k} {v:.2f}" for k, v in worst)
              + "; easiest: " + ", ".join(f"{k} {v:.2f}" for k, v in best), "",
              "## A 7 moved along the 6 -> 0 vector (alpha = %s)" % ", ".join(f"{a:.2g}" for a in s["seven_alphas"]), ""]
    for name, row in report["seven_along_6to0"].items():
        lines += [f"- {name}: argmax " + " ".join(str(k) for k in row["argmax"]),
                  "  - p(0): " + " ".join(f"{p:.2f}" for p in row["p0"]),
                  "  - p(6): " + " ".join(f"{p:.2f}" for p in row["p6"]),
                  "  - p(7): " + " ".join(f"{p:.2f}" for p in row["p7"])]
    c = report["centroid_distances"]
    lines += ["", f"Latent geometry: mean distance between two centroids {c['mean_pairwise']:.2f}; mean distance of a "
              f"test code to its own centroid {c['mean_within_class_distance_to_centroid']:.2f}.", "",
              "Figures: pairs_vae.png, pairs_pixel.png, seven_along_6to0.png, seven_probabilities_vae.png, "
              "seven_probabilities_pixel.png, path_probabilities.png", "",
              f"Wall time {report['seconds']:.1f} s (one CPU thread).", ""]
    with open(path, "w") as handle:
        handle.write("\n".join(lines))


if __name__ == "__main__":
    main()
