"""A variational autoencoder on mnist5k with a 2-D and a 20-D latent space (sources 001 and 002; Kingma &
Welling 2014, Auto-Encoding Variational Bayes).

    python demos/vae_mnist.py [--quick] [--seed 0] [--out demo_out/vae_mnist] [--overwrite] # ~10 min on one thread

What it shows: AEVB (K&W 2014, Algorithm 1) -- the ELBO of each mini-batch with one reparameterised sample
z = mu + sigma * eps and the KL in closed form, one Adam step -- is ``VAETrainer.train_step`` in
minigan/trainers/vae.py, driven here by ``fit``; the networks and the bounds on log p(x) are
minigan/models/vae.py. Trained on digits re-binarised every epoch (a fresh Bernoulli draw,
``data.BinarizedLoader``), the negative ELBO on the binarised test set is an upper bound on -log p(x) in
nats, and the importance-weighted bound with K = 200 samples (Burda et al. 2016) a tighter one. A third model
trained like pytorch/examples/vae (BCE against grey levels) gives the number that example prints.

Data: 4 000 training / 1 000 test digits (the papers: 60 000 / 10 000). Baselines printed beside ours, both
with an exact NLL: the independent per-pixel Bernoulli model and naive Bayes as a 10-component Bernoulli
mixture (it uses the labels). References: K&W 2014, figure 2, about 100 nats for a 20-D latent on full MNIST
(read from the plot); pytorch/examples/vae printed a test loss of 106.66 after epoch 7 (grey-level targets).

Measured (seed 0): -ELBO / IWAE bound 159.7 / 155.3 nats for the 2-D latent, 109.5 / 103.1 for the 20-D one;
per-pixel Bernoulli 210.6, naive Bayes mixture 176.6. The saved vae20.safetensors feeds
demos/interpolation.py --checkpoint.
"""

import argparse
import os

import numpy as np

import minigan as mg
from minigan import data, demo_args, latent, report, viz
from minigan.models import VAE, BernoulliNaiveBayes
from minigan.models.rbm import per_pixel_bernoulli_nll
from minigan.models.vae import negative_bounds
from minigan.trainers.vae import VAETrainer
from minigan.training import fit

# -- settings: pytorch/examples/vae's 784-400-20, Adam 1e-3 (it uses batch 128, 10 epochs of 60 000 images) --
HIDDEN, LR, BATCH = 400, 1e-3, 100
EPOCHS = 150  # 150 x 4 000 = 600 000 image presentations = pytorch/examples' 10 x 60 000
EVAL_SAMPLES = 10  # draws of z per test image for the -ELBO
IMPORTANCE = 200  # K of the importance-weighted bound
GRID = 20  # the manifold grid, n x n (K&W 2014, appendix A)
TEST_BINARIZE_SEED = 123
QUICK = dict(epochs=2, n_train=1000, n_test=200, eval_samples=2, importance=5, grid=8)
PYTORCH_EXAMPLES_TEST_LOSS = 106.6624  # epoch 7 of 10, https://github.com/pytorch/examples/pull/1416
KINGMA_WELLING_FIG2_BOUND = -100.0  # N_z = 20, full MNIST, 10^8 samples; read from the plot (approximate)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    demo_args.add_run_flags(
        parser, "demo_out/vae_mnist", epochs=True, quick_help="tiny settings: a smoke run in seconds"
    )
    parser.add_argument("--no-grey", action="store_true", help="skip the grey-level pytorch/examples comparison")
    args = parser.parse_args(argv)
    demo_args.refuse_to_replace_a_run(parser, args)  # before any training
    quick = QUICK if args.quick else {}
    epochs = args.epochs or quick.get("epochs", EPOCHS)
    eval_samples, importance = quick.get("eval_samples", EVAL_SAMPLES), quick.get("importance", IMPORTANCE)
    grid = quick.get("grid", GRID)
    rep = report.Report(
        "VAE on mnist5k (sources 001, 002)" + (" -- QUICK, numbers meaningless" if quick else ""), args.out
    )
    os.makedirs(args.out, exist_ok=True)

    train, test = data.load("mnist5k"), data.load("mnist5k", split="test")
    x_train, y_train, x_test_grey, y_test = train.x, train.y, test.x, test.y
    if quick:  # every k-th image: all ten digits (the files are sorted)
        step_train, step_test = len(train.x) // quick["n_train"], len(test.x) // quick["n_test"]
        x_train, y_train = train.x[::step_train], train.y[::step_train]
        x_test_grey, y_test = test.x[::step_test], test.y[::step_test]
    x_test = data.binarize_dynamic(x_test_grey, TEST_BINARIZE_SEED)
    log_every = max(1, epochs // 10)
    rep.settings(
        n_train=len(x_train),
        n_test=len(x_test),
        hidden=HIDDEN,
        lr=LR,
        batch=BATCH,
        epochs=epochs,
        eval_samples=eval_samples,
        importance_samples=importance,
        seed=args.seed,
    )

    def fit_vae(name, latent_dim, loader, x_eval):
        """AEVB through fit (VAETrainer.train_step); the test -ELBO (one draw of z) every log_every epochs."""
        mg.manual_seed(args.seed)
        trainer = VAETrainer(VAE(latent_dim, HIDDEN), lr=LR)
        tested = {}

        def test_loss(step, record):
            epoch, end_of_epoch = divmod(step, len(loader))
            if end_of_epoch == 0 and (epoch % log_every == 0 or epoch == epochs):
                tested[epoch] = negative_bounds(trainer.vae, x_eval, 1, 0)["neg_elbo"]
                print(f"{name} epoch {epoch}/{epochs}: test -ELBO {tested[epoch]:.2f} nats", flush=True)

        run = os.path.join(args.out, "runs", name)
        fit(trainer, loader, epochs, run, checkpoint_every=10**9, overwrite=True, progress=False, callbacks=[test_loss])
        records = [r for r in viz.read_metrics(os.path.join(run, "metrics.jsonl")) if "neg_elbo" in r]
        train_curve = [
            float(np.mean([r["neg_elbo"] for r in records if np.ceil(r["epoch"]) == e])) for e in range(1, epochs + 1)
        ]
        return trainer.vae, {"train": train_curve, "test": tested}

    # (1) the two VAEs of source 001, on digits re-binarised every epoch
    models, curves, results = {}, {}, {}
    for latent_dim in (2, 20):
        loader = data.BinarizedLoader(x_train, batch_size=BATCH, shuffle=True, seed=args.seed)
        models[latent_dim], curves[f"D={latent_dim}"] = fit_vae(f"vae{latent_dim}", latent_dim, loader, x_test)
        results[f"vae_D{latent_dim}"] = negative_bounds(models[latent_dim], x_test, eval_samples, importance)
        mg.save(models[latent_dim].state_dict(), os.path.join(args.out, f"vae{latent_dim}.safetensors"))

    # (2) baselines with an exact NLL on the same binarised test set
    results["baseline_per_pixel_bernoulli"] = {"nll": per_pixel_bernoulli_nll(x_train, x_test)}
    nb = BernoulliNaiveBayes(alpha=1.0, binarize=None).fit(data.binarize_dynamic(x_train, args.seed + 1), y_train)
    results["baseline_naive_bayes_mixture"] = {"nll": float(-nb.log_likelihood(x_test).mean())}

    # (3) the pytorch/examples criterion: BCE against grey levels
    if not args.no_grey:
        loader = data.DataLoader(x_train, batch_size=BATCH, shuffle=True, seed=args.seed)
        grey_model, curves["D=20 grey"] = fit_vae("vae20_grey", 20, loader, x_test_grey)
        results["vae_D20_grey_targets"] = negative_bounds(grey_model, x_test_grey, eval_samples, 0)
        results["baseline_per_pixel_bernoulli_grey_targets"] = {"nll": per_pixel_bernoulli_nll(x_train, x_test_grey)}

    # (4) figures
    with mg.no_grad():
        z2 = models[2].encode(mg.tensor(x_test))[0].numpy()
    viz.latent_scatter(
        z2,
        y_test,
        os.path.join(args.out, "latent_2d.png"),
        f"VAE with a 2-D latent: posterior means of {len(x_test)} test digits (mnist5k)",
    )
    viz.save_image_grid(
        latent.manifold_grid(models[2].decode_images, n=grid),
        os.path.join(args.out, "manifold_2d.png"),
        nrow=grid,
        title=f"2-D latent manifold: decoder means at Gaussian quantiles ({grid}x{grid})",
    )
    originals = x_test_grey[:: max(1, len(x_test_grey) // 16)][:16]
    viz.save_image_grid(
        np.concatenate([originals, models[2].reconstruct(originals), models[20].reconstruct(originals)]),
        os.path.join(args.out, "reconstructions.png"),
        nrow=16,
        title="test digits (top), VAE D=2 reconstructions (middle), VAE D=20 (bottom)",
    )
    mg.manual_seed(args.seed)
    viz.save_image_grid(
        models[20].sample(64),
        os.path.join(args.out, "samples_d20.png"),
        nrow=8,
        title="VAE D=20: decoder means of z ~ N(0, I)",
    )
    lines = {}
    for name, curve in curves.items():
        lines[f"{name} train"] = (range(1, epochs + 1), curve["train"], "-")
        lines[f"{name} test"] = (list(curve["test"]), list(curve["test"].values()), "o--")
    viz.line_panels(
        [("negative ELBO (nats / image)", lines)],
        os.path.join(args.out, "loss_curves.png"),
        xlabel=f"epoch ({len(x_train)} images each)",
        width=6.4,
    )

    # (5) the report
    rows = [
        [f"VAE, latent D={d}", r["neg_elbo"], r["recon"], r["kl"], r["neg_iwae"]]
        for d, r in ((2, results["vae_D2"]), (20, results["vae_D20"]))
    ]
    rows += [
        [
            "baseline: independent per-pixel Bernoulli (training means, add-one)",
            results["baseline_per_pixel_bernoulli"]["nll"],
            "",
            "",
            "exact",
        ],
        [
            "baseline: naive Bayes as a 10-component Bernoulli mixture (uses labels)",
            results["baseline_naive_bayes_mixture"]["nll"],
            "",
            "",
            "exact",
        ],
        [
            "reference: Kingma & Welling 2014 fig. 2, N_z=20, full MNIST",
            f"about {-KINGMA_WELLING_FIG2_BOUND:.0f}",
            "",
            "",
            "",
        ],
    ]
    rep.table(
        "Test negative log-likelihood bounds (nats per image, lower is better)",
        ["model", "-ELBO", "reconstruction", "KL", f"-log p(x) bound, IWAE K={importance}"],
        rows,
    )
    if "vae_D20_grey_targets" in results:
        grey = results["vae_D20_grey_targets"]
        rep.table(
            "The pytorch/examples criterion (BCE against grey levels; not a likelihood)",
            ["model", "test loss", "reconstruction", "KL"],
            [
                ["VAE D=20 trained on grey targets", grey["neg_elbo"], grey["recon"], grey["kl"]],
                ["baseline: per-pixel Bernoulli", results["baseline_per_pixel_bernoulli_grey_targets"]["nll"], "", ""],
                ["pytorch/examples/vae, epoch 7 of 10, full MNIST", PYTORCH_EXAMPLES_TEST_LOSS, "", ""],
            ],
        )
    for name in ("latent_2d.png", "manifold_2d.png", "reconstructions.png", "samples_d20.png", "loss_curves.png"):
        rep.figure(name, name[:-4].replace("_", " "))
    rep.save(
        {
            "results": results,
            "curves": {
                k: {"train": v["train"], "test": {str(e): x for e, x in v["test"].items()}} for k, v in curves.items()
            },
        }
    )
    return results


if __name__ == "__main__":
    main()
