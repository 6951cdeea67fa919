"""Sources 001 and 002: a VAE on MNIST with a 2-D and a 20-D latent space (Kingma & Welling, 2014).

    python demos/vae_mnist.py --out demo_out/vae_mnist          # about 3 minutes on one CPU thread
    python demos/vae_mnist.py --quick --out /tmp/vae_quick      # seconds: a smoke run of every step

Data: ``minigan.data.load("mnist5k")``, 4 000 training / 1 000 test real MNIST digits (not the 60 000 /
10 000 of the papers). The decoder is Bernoulli, so the images are binarised: a fresh Bernoulli draw of
the grey levels every epoch for training (dynamic binarisation), one fixed draw (seed 123) for the test
set. On binary data the negative ELBO is an upper bound on -log p(x) in nats; the importance-weighted
bound with K samples (Burda et al., 2016) is tighter.

What it does:

1. train VAE(latent_dim=2) and VAE(latent_dim=20), MLP 784-400-D (pytorch/examples/vae sizes), Adam 1e-3,
   batch 100, loss = negative ELBO (``minigan.losses.vae_loss``);
2. report the test negative ELBO (reconstruction + KL, averaged over ``EVAL_SAMPLES`` draws of z), the
   importance-weighted bound, beside two baselines whose NLL is exact: independent per-pixel Bernoulli with
   the training means, and naive Bayes as a 10-component Bernoulli mixture (it uses the labels);
3. a third model, VAE(20) trained on grey-level targets exactly like pytorch/examples/vae (BCE against
   grey levels), whose test loss compares with the number that example prints;
4. figures: the 2-D latent space of the test set coloured by digit, the 20 x 20 manifold grid through
   Gaussian quantiles (K&W 2014, appendix A), test reconstructions (2-D and 20-D), prior samples, loss curves;
5. report.md + report.json with every number, and the trained weights (vae2.safetensors,
   vae20.safetensors; ``demos/interpolation.py --checkpoint`` reuses the 20-D one).
"""
import argparse
import json
import math
import os
import sys
import time

if __package__ in (None, ""):                       # `python demos/vae_mnist.py` from a checkout
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import minigan as mg  # noqa: E402
import minigan.data as data  # noqa: E402
import minigan.functional as F  # noqa: E402
from minigan import latent, losses, optim, viz  # noqa: E402
from minigan.models import VAE, BernoulliNaiveBayes  # noqa: E402

# ---- settings (pytorch/examples/vae: 784-400-20, Adam 1e-3, batch 128, 10 epochs of 60 000 images)
HIDDEN = 400
EPOCHS = 150            # 150 x 4 000 = 600 000 image presentations = pytorch/examples' 10 x 60 000
BATCH = 100
LR = 1e-3
EVAL_SAMPLES = 10       # draws of z per test image for the negative ELBO
IMPORTANCE = 200        # K of the importance-weighted bound
GRID = 20               # manifold grid n x n
SEED = 0
TEST_BINARIZE_SEED = 123
QUICK = dict(epochs=2, n_train=1000, n_test=200, eval_samples=2, importance=5, grid=8)

# pytorch/examples/vae printed "====> Test set loss: 106.6624" after epoch 7 of 10 (full MNIST, grey-level
# BCE targets, 784-400-20); https://github.com/pytorch/examples/pull/1416 (the log in its description).
PYTORCH_EXAMPLES_TEST_LOSS = {"epoch": 7, "test_loss": 106.6624, "url": "https://github.com/pytorch/examples/pull/1416"}
# Kingma & Welling (2014), figure 2: the average test lower bound on MNIST (60 000 images, 500 hidden units)
# for N_z = 20 after 10^8 training samples is about -100 nats per image (recalled from the plot, not a table;
# not verified against the paper here -- treat as approximate).
KINGMA_WELLING_FIG2_BOUND = -100.0


def evaluate(model, x, eval_samples, importance, batch=100):
    """Negative ELBO (mean, and its recon / KL terms) and the importance-weighted bound
    -log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x), in nats per image (means over x)."""
    totals = {"neg_elbo": 0.0, "recon": 0.0, "kl": 0.0, "neg_iwae": 0.0}
    with mg.no_grad():
        for start in range(0, len(x), batch):
            xb = mg.tensor(x[start:start + batch])
            mu, logvar = model.encode(xb)
            for _ in range(eval_samples):
                loss, recon, kl = losses.vae_loss(model.decode(model.reparameterize(mu, logvar)), xb, mu, logvar)
                totals["neg_elbo"] += loss.item() * len(xb) / eval_samples
                totals["recon"] += recon.item() * len(xb) / eval_samples
                totals["kl"] += kl.item() * len(xb) / eval_samples
            if importance:
                flat = xb.reshape(len(xb), -1)
                log_w = []
                for _ in range(importance):
                    eps = mg.randn(*mu.shape)
                    z = model.reparameterize(mu, logvar, eps)
                    log_px_z = -F.sum(F.binary_cross_entropy_with_logits(model.decode(z), flat, reduction="none"), 1)
                    log_pz = -0.5 * F.sum(z * z + math.log(2 * math.pi), 1)
                    log_qz = -0.5 * F.sum(eps * eps + logvar + math.log(2 * math.pi), 1)
                    log_w.append((log_px_z + log_pz - log_qz).numpy())
                log_w = np.stack(log_w)                                                  # (K, B)
                top = log_w.max(0)
                log_px = top + np.log(np.mean(np.exp(log_w - top), 0))
                totals["neg_iwae"] += float(-log_px.sum())
    result = {k: v / len(x) for k, v in totals.items()}
    if not importance:
        result.pop("neg_iwae")
    return result


def train_vae(latent_dim, x_train, x_test, epochs, binarize, seed, log_every):
    """Adam on the negative ELBO; x_train grey levels in [0, 1], re-binarised every epoch when ``binarize``."""
    mg.manual_seed(seed)
    model = VAE(latent_dim, HIDDEN)
    optimizer = optim.Adam(model.parameters(), lr=LR)
    rng = np.random.default_rng(seed)
    history = []
    for epoch in range(1, epochs + 1):
        x_epoch = data.binarize_dynamic(x_train, rng) if binarize else x_train
        order, total = rng.permutation(len(x_epoch)), 0.0
        for start in range(0, len(order), BATCH):
            xb = mg.tensor(x_epoch[order[start:start + BATCH]])
            logits, mu, logvar = model(xb)
            loss, _, _ = losses.vae_loss(logits, xb, mu, logvar)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
        row = {"epoch": epoch, "train_neg_elbo": total / len(x_epoch)}
        if epoch % log_every == 0 or epoch == epochs:
            row["test_neg_elbo"] = evaluate(model, x_test, 1, 0)["neg_elbo"]
            print(f"VAE(D={latent_dim}{'' if binarize else ', grey'}) epoch {epoch}/{epochs}: "
                  f"train {row['train_neg_elbo']:.2f}  test {row['test_neg_elbo']:.2f} nats", flush=True)
        history.append(row)
    return model, history


def per_pixel_bernoulli_nll(x_train_grey, x_test):
    """Exact test NLL (nats per image) of prod_i Bernoulli(p_i), p_i the training mean of pixel i with
    add-one smoothing over N training images, (N m_i + 1) / (N + 2). Works for binary or grey x_test (the
    BCE against grey targets is then the cross-entropy pytorch/examples reports)."""
    n = len(x_train_grey)
    p = (x_train_grey.reshape(n, -1).sum(0) + 1.0) / (n + 2.0)
    t = x_test.reshape(len(x_test), -1).astype(np.float64)
    return float(-np.mean(t @ np.log(p) + (1 - t) @ np.log1p(-p)))


def scatter_2d(z, labels, path, title):
    figure, axis = plt.subplots(figsize=(6.4, 5.6))
    cmap = plt.get_cmap("tab10")
    for digit in range(10):
        rows = labels == digit
        axis.scatter(z[rows, 0], z[rows, 1], s=6, color=cmap(digit), label=str(digit), alpha=0.8)
        centre = z[rows].mean(0)
        axis.text(centre[0], centre[1], str(digit), fontsize=13, weight="bold", ha="center", va="center",
                  bbox=dict(facecolor="white", alpha=0.7, edgecolor=cmap(digit), boxstyle="round,pad=0.15"))
    axis.set_xlabel("z1 (posterior mean)")
    axis.set_ylabel("z2 (posterior mean)")
    axis.legend(markerscale=3, fontsize=8, ncol=2, loc="best")
    axis.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def loss_curves(histories, path):
    figure, axis = plt.subplots(figsize=(6.4, 4))
    for name, history in histories.items():
        epochs = [row["epoch"] for row in history]
        line, = axis.plot(epochs, [row["train_neg_elbo"] for row in history], label=f"{name} train")
        tested = [row for row in history if "test_neg_elbo" in row]
        axis.plot([row["epoch"] for row in tested], [row["test_neg_elbo"] for row in tested], "o--",
                  color=line.get_color(), label=f"{name} test", markersize=3)
    axis.set_xlabel("epoch (4 000 images each)")
    axis.set_ylabel("negative ELBO (nats / image)")
    axis.set_ylim(top=min(260, axis.get_ylim()[1]))
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_out/vae_mnist")
    parser.add_argument("--quick", action="store_true", help="tiny settings: a smoke run in seconds")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--no-grey", action="store_true", help="skip the grey-level pytorch/examples comparison")
    args = parser.parse_args(argv)
    quick = QUICK if args.quick else {}
    epochs = args.epochs or quick.get("epochs", EPOCHS)
    eval_samples, importance = quick.get("eval_samples", EVAL_SAMPLES), quick.get("importance", IMPORTANCE)
    grid = quick.get("grid", GRID)
    os.makedirs(args.out, exist_ok=True)
    started = time.time()

    train, test = data.load("mnist5k"), data.load("mnist5k", split="test")
    x_train, y_train, x_test_grey, y_test = train.x, train.y, test.x, test.y
    if quick:                                        # every k-th image: all ten digits (the files are sorted)
        step_train, step_test = len(train.x) // quick["n_train"], len(test.x) // quick["n_test"]
        x_train, y_train = train.x[::step_train], train.y[::step_train]
        x_test_grey, y_test = test.x[::step_test], test.y[::step_test]
    x_test = data.binarize_dynamic(x_test_grey, TEST_BINARIZE_SEED)
    log_every = max(1, epochs // 10)

    # (1) train the two VAEs of source 001 (2-D and 20-D bottleneck) on dynamically binarised digits
    models, histories, results, seconds = {}, {}, {}, {}
    for latent_dim in (2, 20):
        t0 = time.time()
        models[latent_dim], histories[f"D={latent_dim}"] = train_vae(latent_dim, x_train, x_test, epochs, True,
                                                                    args.seed, log_every)
        seconds[f"train_D{latent_dim}"] = time.time() - t0
        t0 = time.time()
        results[f"vae_D{latent_dim}"] = evaluate(models[latent_dim], x_test, eval_samples, importance)
        seconds[f"eval_D{latent_dim}"] = time.time() - t0
        mg.save(models[latent_dim].state_dict(), os.path.join(args.out, f"vae{latent_dim}.safetensors"))

    # (2) baselines with an exact NLL on the same binarised test set
    results["baseline_per_pixel_bernoulli"] = {"nll": per_pixel_bernoulli_nll(x_train, x_test)}
    nb = BernoulliNaiveBayes(alpha=1.0, binarize=None).fit(data.binarize_dynamic(x_train, args.seed + 1), y_train)
    results["baseline_naive_bayes_mixture"] = {"nll": float(-nb.log_likelihood(x_test).mean())}

    # (3) the pytorch/examples criterion: BCE against grey levels
    if not args.no_grey:
        t0 = time.time()
        grey_model, histories["D=20 grey"] = train_vae(20, x_train, x_test_grey, epochs, False, args.seed, log_every)
        seconds["train_D20_grey"] = time.time() - t0
        results["vae_D20_grey_targets"] = evaluate(grey_model, x_test_grey, eval_samples, 0)
        results["baseline_per_pixel_bernoulli_grey_targets"] = {"nll": per_pixel_bernoulli_nll(x_train, x_test_grey)}

    # (4) figures
    with mg.no_grad():
        z2 = models[2].encode(mg.tensor(x_test))[0].numpy()
    scatter_2d(z2, y_test, os.path.join(args.out, "latent_2d.png"),
               f"VAE with a 2-D latent: posterior means of {len(x_test)} test digits (mnist5k)")
    grid_images = latent.manifold_grid(models[2].decode_images, n=grid)
    viz.save_image_grid(grid_images, os.path.join(args.out, "manifold_2d.png"), nrow=grid,
                        title=f"2-D latent manifold: decoder means at Gaussian quantiles of p in [0.05, 0.95] ({grid}x{grid})")
    originals = x_test_grey[:: max(1, len(x_test_grey) // 16)][:16]
    rows = np.concatenate([originals, models[2].reconstruct(originals), models[20].reconstruct(originals)])
    viz.save_image_grid(rows, os.path.join(args.out, "reconstructions.png"), nrow=16,
                        title="test digits (top), VAE D=2 reconstructions (middle), VAE D=20 (bottom)")
    mg.manual_seed(args.seed)
    viz.save_image_grid(models[20].sample(64), os.path.join(args.out, "samples_d20.png"), nrow=8,
                        title="VAE D=20: decoder means of z ~ N(0, I)")
    loss_curves(histories, os.path.join(args.out, "loss_curves.png"))

    seconds["total"] = time.time() - started
    report = {"settings": {"epochs": epochs, "hidden": HIDDEN, "batch": BATCH, "lr": LR, "eval_samples": eval_samples,
                           "importance_samples": importance, "n_train": len(x_train), "n_test": len(x_test),
                           "seed": args.seed, "quick": bool(args.quick)},
              "results": results, "histories": histories, "seconds": seconds,
              "references": {"pytorch_examples_vae": PYTORCH_EXAMPLES_TEST_LOSS,
                             "kingma_welling_2014_fig2_Nz20_bound": KINGMA_WELLING_FIG2_BOUND}}
    with open(os.path.join(args.out, "report.json"), "w") as handle:
        json.dump(report, handle, indent=1)
    write_markdown(report, os.path.join(args.out, "report.md"))
    print(open(os.path.join(args.out, "report.md")).read())
    return report


def write_markdown(report, path):
    r, s = report["results"], report["settings"]
    lines = [f"# VAE on mnist5k (sources 001, 002){' -- QUICK smoke run, numbers meaningless' if s['quick'] else ''}", "",
             f"{s['n_train']} training / {s['n_test']} test images (mnist5k, a 5k subset of MNIST; the papers use "
             f"60 000 / 10 000). MLP 784-{s['hidden']}-D, Adam {s['lr']}, batch {s['batch']}, {s['epochs']} epochs, "
             f"seed {s['seed']}. Training data re-binarised every epoch; test set binarised once (seed {TEST_BINARIZE_SEED}).", "",
             "## Test negative log-likelihood bounds (nats per image, lower is better)", "",
             "| model | -ELBO | reconstruction | KL | -log p(x) bound, IWAE K=%d |" % s["importance_samples"],
             "|---|---|---|---|---|"]
    for d in (2, 20):
        v = r[f"vae_D{d}"]
        lines.append(f"| VAE, latent D={d} | {v['neg_elbo']:.2f} | {v['recon']:.2f} | {v['kl']:.2f} | "
                     f"{v.get('neg_iwae', float('nan')):.2f} |")
    lines += [f"| baseline: independent per-pixel Bernoulli (training means, add-one) | exact NLL {r['baseline_per_pixel_bernoulli']['nll']:.2f} | | | |",
              f"| baseline: naive Bayes as a 10-component Bernoulli mixture (uses labels) | exact NLL {r['baseline_naive_bayes_mixture']['nll']:.2f} | | | |",
              f"| reference: Kingma & Welling 2014 fig. 2, N_z=20, full MNIST, 10^8 samples | about {-report['references']['kingma_welling_2014_fig2_Nz20_bound']:.0f} (from the plot, approximate, not re-verified) | | | |",
              ""]
    if "vae_D20_grey_targets" in r:
        v, ref = r["vae_D20_grey_targets"], report["references"]["pytorch_examples_vae"]
        lines += ["## The pytorch/examples criterion (BCE against grey levels; not a likelihood)", "",
                  "| model | test loss | reconstruction | KL |", "|---|---|---|---|",
                  f"| VAE D=20 trained on grey targets (this run) | {v['neg_elbo']:.2f} | {v['recon']:.2f} | {v['kl']:.2f} |",
                  f"| baseline: per-pixel Bernoulli with training means | {r['baseline_per_pixel_bernoulli_grey_targets']['nll']:.2f} | | |",
                  f"| pytorch/examples/vae, epoch {ref['epoch']} of 10, full MNIST ({ref['url']}) | {ref['test_loss']:.2f} | | |", ""]
    lines += ["## Figures", "", "latent_2d.png, manifold_2d.png, reconstructions.png, samples_d20.png, loss_curves.png", "",
              "## Wall time (s, one CPU thread)", "", ", ".join(f"{k} {v:.1f}" for k, v in report["seconds"].items()), ""]
    with open(path, "w") as handle:
        handle.write("\n".join(lines))


if __name__ == "__main__":
    main()
