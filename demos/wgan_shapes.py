"""A WGAN-GP critic (Gulrajani et al., "Improved Training of Wasserstein GANs", 2017), trained without labels
on two classes of generated shapes, used as a 1-D classifier of ten test classes (source 000).

    python demos/wgan_shapes.py --out runs/wgan_shapes                 # the full experiment, 20 epochs (~26 min)
    python demos/wgan_shapes.py --quick --out /tmp/wgan_quick          # seconds: a smoke run of every step
    python demos/wgan_shapes.py --analyse-only --out runs/wgan_shapes  # redo the tables from the checkpoints

What it shows (source 000 in docs/sources.md): a critic trained only to tell real shapes from generated ones
orders unseen classes of shapes along its one output well enough that most pairs of classes separate; the
question is what training adds to what an untrained network or the mean pixel intensity already does, and
whether retrainings keep the classes in the same order. ``minigan demo`` runs a shortened version (width 8,
2 epochs and a 1-epoch retraining) of the same steps through ``minigan train wgan-gp``.

The update is Algorithm 1 of Gulrajani et al., one call into ``WGANGP.train_step`` (minigan/trainers/wgan_gp.py,
commented with the algorithm's line numbers) per real batch, run by ``fit``:

    for each real batch x (m = 8 shapes):                                    Algorithm 1, line 1
        for t = 1 .. n_critic (5):                                           line 2
            z ~ N(0, I), eps ~ U[0, 1];  x~ = G(z);  x^ = eps x + (1 - eps) x~          lines 4-6
            L = f(x~) - f(x) + lambda (||grad_x^ f(x^)||_2 - 1)^2;  Adam step on f     lines 7-9 (lambda = 10)
        z ~ N(0, I);  Adam step on G for -f(G(z))                             lines 11-12
    Adam(1e-4, betas (0, 0.9)) for both networks.

Then the measurements, each beside its baselines (the same critic untrained, the mean pixel intensity): the
ROC AUC of every one of the 45 pairs of test classes, after the main run and after retrainings from scratch
for shorter schedules; the histograms by class; and Spearman's correlation of the class means between
retrainings (source 000's question (c)). Reference: source 000 trains 200 epochs and separates every pair
but two triangle classes that differ only in noise (its figures; no table published). The scoring, figures
and tables are ``minigan/critic_classifier.py``.
"""

import argparse
import os
import time

import minigan as mg
from minigan import argtypes, critic_classifier, report, viz
from minigan.data import DataLoader, shapes_test, shapes_train
from minigan.models import WGANCritic, WGANGenerator
from minigan.trainers.wgan_gp import WGANGP
from minigan.training import CHECKPOINT_NAME, fit, read_run_config

# -- settings: source 000's where it gives them, Gulrajani et al.'s for the update ----------------------------
TRAIN_PER_CLASS, TEST_PER_CLASS = 300, 40  # source 000: 2 training classes, 10 test classes
BATCH_SIZE = 8  # source 000
N_CRITIC, LAMBDA_GP = 5, 10.0  # Gulrajani et al., Algorithm 1's defaults
LATENT_DIM, WIDTH = 128, 16  # G: z (N, 128) -> (N, 3, 64, 64); f: (N, 3, 64, 64) -> score (N,)
EPOCHS = 20  # source 000: 200; ~25 minutes here on a 2-core CPU
SHORT_EPOCHS = (1, 2, 10)  # source 000: 10, 20, 100 of 200 -- the same fractions of 20
QUICK = dict(epochs=2, short_epochs=(1,), width=2, baseline_seeds=1, n_per_class=8, test_per_class=6, n_critic=1)


def train_run(run_dir, epochs, seed, width, n_per_class, n_critic, resume, progress):
    """One WGAN-GP trained from scratch for ``epochs`` on the two training classes (``resume``: continue the
    run in ``run_dir``); returns (trainer, fit's result). Deterministic given ``seed``."""
    mg.manual_seed(seed)
    images, _, _ = shapes_train(n_per_class=n_per_class, seed=seed)
    loader = DataLoader(images, batch_size=BATCH_SIZE, shuffle=True, seed=seed, drop_last=True)
    trainer = WGANGP(
        WGANGenerator(latent_dim=LATENT_DIM, width=width),
        WGANCritic(width=width),
        n_critic=n_critic,
        lambda_gp=LAMBDA_GP,
    )  # Adam(1e-4, (0, 0.9)) for G and f
    # Algorithm 1: one WGANGP.train_step per real batch (n_critic critic updates, then one generator update)
    result = fit(
        trainer,
        loader,
        epochs,
        run_dir,
        checkpoint_every=50,
        resume=resume,
        overwrite=not resume,
        sample_epochs=(0, epochs),
        sample_seed=seed + 1000,
        progress=progress,
        settings={"data": "shapes", "seed": seed, "width": width, "n_per_class": n_per_class},
        description=f"wgan-gp {epochs} ep",
    )
    return trainer, result


def load_run(run_dir):
    """(the trained trainer, its step, its training seconds) of a finished run, for --analyse-only."""
    config = read_run_config(run_dir)
    trainer = WGANGP(
        WGANGenerator(latent_dim=LATENT_DIM, width=config["width"]),
        WGANCritic(width=config["width"]),
        n_critic=config["n_critic"],
        lambda_gp=config["lambda_gp"],
    )
    state = mg.load(os.path.join(run_dir, CHECKPOINT_NAME))
    trainer.load_state_dict(state["trainable"])
    return trainer, int(state["step"]), float(state["extra"]["elapsed"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=argtypes.output_path, default="runs/wgan_shapes")
    parser.add_argument("--epochs", type=argtypes.positive_int, default=EPOCHS, help="the main run")
    parser.add_argument(
        "--short-epochs",
        type=argtypes.positive_int,
        nargs="*",
        default=list(SHORT_EPOCHS),
        help="retrainings from scratch",
    )
    parser.add_argument("--width", type=argtypes.int_in_range(1, 512), default=WIDTH)
    parser.add_argument("--seed", type=argtypes.seed, default=0)
    parser.add_argument(
        "--baseline-seeds", type=argtypes.int_in_range(1, 100), default=3, help="untrained critics scored as a baseline"
    )
    parser.add_argument("--no-resume", action="store_true", help="retrain even if checkpoints exist")
    parser.add_argument("--analyse-only", action="store_true", help="only score the saved checkpoints")
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run of every step (seconds)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    q = QUICK if args.quick else {}
    epochs, width = q.get("epochs", args.epochs), q.get("width", args.width)
    short_epochs = q.get("short_epochs", tuple(args.short_epochs))
    n_per_class, n_critic = q.get("n_per_class", TRAIN_PER_CLASS), q.get("n_critic", N_CRITIC)
    os.makedirs(args.out, exist_ok=True)
    started = time.perf_counter()

    # -- 1. train: the main run, and retrainings from scratch for the shorter schedules --------------------------
    runs = {f"{e}ep": e for e in sorted(set(short_epochs) | {epochs})}
    trained = {}  # run name -> (trainer, steps, training seconds)
    for name, e in runs.items():
        run_dir = os.path.join(args.out, f"run_{name}")
        if args.analyse_only:
            trained[name] = load_run(run_dir)
            continue
        trainer, result = train_run(
            run_dir,
            e,
            seed=args.seed + (0 if e == epochs else 100 + e),
            width=width,
            n_per_class=n_per_class,
            n_critic=n_critic,
            resume=not args.no_resume,
            progress=not args.no_progress,
        )
        trained[name] = (trainer, result["step"], result["elapsed"])
        viz.loss_curves(
            os.path.join(run_dir, "metrics.jsonl"),
            os.path.join(args.out, f"losses_{name}.png"),
            keys=("critic_loss", "gp", "wasserstein"),
            title=f"WGAN-GP, {e} epochs",
        )

    # -- 2. score the 10 test classes with each trained critic, and with the baselines; ---------------------------
    # -- 3. separation of the 45 class pairs, class positions across retrainings; figures and the report ---------
    test_x, test_y, names = shapes_test(n_per_class=q.get("test_per_class", TEST_PER_CLASS), seed=1)
    main_run = f"{epochs}ep"
    results = critic_classifier.measure_runs(
        trained,
        runs,
        lambda: WGANCritic(width=width),
        range(q.get("baseline_seeds", args.baseline_seeds)),
        test_x,
        test_y,
        names,
        args.out,
        main=main_run,
    )
    results["schedule"] = {
        "main_epochs": epochs,
        "short_epochs": list(short_epochs),
        "width": width,
        "batch_size": BATCH_SIZE,
        "n_critic": n_critic,
        "lambda_gp": LAMBDA_GP,
        "train_images": 2 * n_per_class,
        "test_images": len(test_x),
        "seed": args.seed,
    }
    results["machine"] = mg.backend.info()

    rep = report.Report(
        "WGAN-GP critic scores as an unsupervised classifier (source 000)"
        + (" -- QUICK smoke run" if args.quick else ""),
        args.out,
    )
    rep.settings(**results["schedule"])
    rep.text(
        "The update: WGANGP.train_step (minigan/trainers/wgan_gp.py), Algorithm 1 of Gulrajani et al. (2017), "
        "Adam(1e-4, (0, 0.9)); source 000 trains 200 epochs and retrains at 10, 20 and 100."
    )
    critic_classifier.report_tables(
        rep,
        results,
        main=main_run,
        labels={
            n: f"trained critic, {r['epochs']} ep ({r['steps']} steps, {r['train_wall_seconds']} s)"
            for n, r in results["runs"].items()
        },
    )
    results["wall_seconds"] = {
        "training_per_run": {n: r["train_wall_seconds"] for n, r in results["runs"].items()},
        "this_invocation_total": round(time.perf_counter() - started, 1),
    }
    rep.save(results)
    summary = results["runs"][main_run]["summary"]
    print(
        f"main run: {summary['auc_ge_0.9']}/45 pairs AUC >= 0.9, {summary['auc_ge_0.99']}/45 >= 0.99; "
        f"noise-only {summary['noise_only_ge_0.9']}/{len(summary['noise_only'])} >= 0.9"
    )
    return results


if __name__ == "__main__":
    main()
