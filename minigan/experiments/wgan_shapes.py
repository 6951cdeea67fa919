"""Source 000: a WGAN-GP critic, trained without labels on two classes of shapes, as a 1-D classifier.

    python demos/wgan_shapes.py --out runs/wgan_shapes                 # the full experiment (this machine)
    python demos/wgan_shapes.py --quick --out /tmp/wgan_quick          # seconds: a smoke run of every step
    python demos/wgan_shapes.py --analyse-only --out runs/wgan_shapes  # redo the tables from checkpoints

What it does, in the order of source 000:

1. train a WGAN-GP (residual critic and generator, minigan.models.wgan_gp) on the 2 training classes,
   300 images each, batch 8, n_critic 5, Adam(1e-4, (0, 0.9)), lambda 10 -- source 000 trains 200
   epochs; here ``--epochs`` (default 20, about 25 minutes on a 2-core CPU) -- with checkpoints, so a killed run continues (--resume);
2. score the 10 test classes (40 images each) with the trained critic: mean/std table, histograms
   coloured by class, ROC AUC of every one of the 45 class pairs;
3. retrain from scratch for shorter schedules (source: 10, 20, 100 of 200 epochs; here
   ``--short-epochs``, default 1 2 10 of 20: the same fractions, 1/20, 1/10, 1/2) and show the histograms with
   scores centred on the reference class "square (0.85,+1) 0.03";
4. question (c) of source 000: are the classes' relative positions stable across retrainings? Spearman
   rank correlation of the 10 class means between every two runs;
5. baselines beside every table: the same critic untrained (``--baseline-seeds`` seeds) and the mean
   pixel intensity. The pairs that differ only in noise level are reported on their own line;
6. report.md + report.json (every number, the schedule, wall times) and the figures, in ``--out``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

import numpy as np

import minigan as mg
from minigan import report, viz
from minigan.data import DataLoader, shapes_test, shapes_train
from minigan.models import WGANCritic, WGANGenerator
from minigan.evaluate import critic_scores, noise_only_pairs, separation, spearman
from minigan.trainers.wgan_gp import WGANGP
from minigan.training import fit

# --- settings (source 000 where it says, this machine where it must) ---------------------------------
REFERENCE_CLASS = "square (0.85,+1) 0.03"
BATCH_SIZE = 8                # source 000
N_CRITIC = 5                  # the Keras WGAN-GP example source 000 builds on
LAMBDA_GP = 10.0              # Gulrajani et al.
LATENT_DIM = 128
TRAIN_PER_CLASS = 300         # source 000
TEST_PER_CLASS = 40           # source 000


# --- training -------------------------------------------------------------------------------------------

def train(out_dir, epochs, seed=0, width=16, n_per_class=TRAIN_PER_CLASS, n_critic=N_CRITIC,
          checkpoint_every=50, resume=False, progress=True, description=None, sample_epochs=None):
    """Train one WGAN-GP on the shapes (``resume``: continue the run in ``out_dir``, else start it again);
    return (trainer, fit result). Deterministic given ``seed``. The update is ``WGANGP.train_step``
    (minigan/trainers/wgan_gp.py), Algorithm 1 of Gulrajani et al. (2017)."""
    mg.manual_seed(seed)
    images, _, _ = shapes_train(n_per_class=n_per_class, seed=seed)
    loader = DataLoader(images, batch_size=BATCH_SIZE, shuffle=True, seed=seed, drop_last=True)
    trainer = WGANGP(WGANGenerator(latent_dim=LATENT_DIM, width=width), WGANCritic(width=width),
                     n_critic=n_critic, lambda_gp=LAMBDA_GP)
    settings = {"data": "shapes", "seed": seed, "width": width, "n_per_class": n_per_class}
    result = fit(trainer, loader, epochs, out_dir, checkpoint_every=checkpoint_every, resume=resume,
                 overwrite=not resume, sample_epochs=sample_epochs if sample_epochs is not None else (0, epochs),
                 sample_seed=seed + 1000, progress=progress, settings=settings,
                 description=description or f"wgan-gp {epochs} ep")
    return trainer, result


def load_critic(out_dir):
    """The trained critic of a run directory (its checkpoint's settings say the width)."""
    from minigan.serialization import load
    state = load(os.path.join(out_dir, "checkpoint.safetensors"))
    critic = WGANCritic(width=int(state["extra"]["config"]["width"]))
    critic.load_state_dict(state["trainable"]["critic"])
    return critic, state


# --- the experiment ---------------------------------------------------------------------------------------

def run(out, epochs=20, short_epochs=(1, 2, 10), width=16, seed=0, baseline_seeds=(0, 1, 2),
        n_per_class=TRAIN_PER_CLASS, test_per_class=TEST_PER_CLASS, n_critic=N_CRITIC, resume=True,
        analyse_only=False, progress=True, quick=False):
    started = time.perf_counter()
    os.makedirs(out, exist_ok=True)
    runs = {f"{e}ep": e for e in sorted(set(short_epochs) | {epochs})}
    wall = {}
    for name, e in runs.items():
        run_dir = os.path.join(out, f"run_{name}")
        if analyse_only:
            continue
        t0 = time.perf_counter()
        train(run_dir, e, seed=seed + (0 if e == epochs else 100 + e), width=width, n_per_class=n_per_class,
              n_critic=n_critic, resume=resume, progress=progress, description=f"train {name}")
        wall[name] = time.perf_counter() - t0

    test_x, test_y, names = shapes_test(n_per_class=test_per_class, seed=1)
    results = {"schedule": {"main_epochs": epochs, "short_epochs": list(short_epochs), "width": width,
                            "batch_size": BATCH_SIZE, "n_critic": n_critic, "lambda_gp": LAMBDA_GP,
                            "train_images": 2 * n_per_class, "test_images_per_class": test_per_class,
                            "steps_per_epoch": (2 * n_per_class) // BATCH_SIZE, "seed": seed,
                            "kernels": os.environ.get("MINIGAN_KERNELS", "default (numba if importable)")},
               "classes": list(names), "runs": {}, "baselines": {}}
    scores_of = {}
    for name in runs:
        run_dir = os.path.join(out, f"run_{name}")
        critic, state = load_critic(run_dir)
        scores = critic_scores(critic, test_x)
        scores_of[name] = scores
        table, pairs, summary = separation(scores, test_y, names)
        results["runs"][name] = {"epochs": runs[name], "steps": int(state["step"]),
                                 "train_wall_seconds": round(float(state["extra"]["elapsed"]), 1),
                                 "table": table, "summary": summary,
                                 "pair_auc": {f"{names[i]} vs {names[j]}": round(v, 4) for (i, j), v in pairs.items()}}
        viz.loss_curves(os.path.join(run_dir, "metrics.jsonl"), os.path.join(out, f"losses_{name}.png"),
                        keys=("critic_loss", "gp", "wasserstein"), title=f"WGAN-GP, {runs[name]} epochs")

    # baselines: the same critic untrained, and mean pixel intensity
    baseline_scores = {}
    for s in baseline_seeds:
        mg.manual_seed(1000 + s)
        baseline_scores[f"untrained critic seed {s}"] = critic_scores(WGANCritic(width=width), test_x)
    baseline_scores["mean pixel intensity"] = test_x.reshape(len(test_x), -1).mean(1).astype(np.float64)
    for name, scores in baseline_scores.items():
        table, pairs, summary = separation(scores, test_y, names)
        results["baselines"][name] = {"table": table, "summary": summary}

    # figures: main histogram; the short schedules centred on the reference class
    main = f"{epochs}ep"
    viz.score_histograms(scores_of[main], test_y, names, os.path.join(out, "scores_main.png"),
                         title=f"critic scores of the 10 test classes after {epochs} epochs")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(len(runs), 2, figsize=(13, 3.3 * len(runs)), squeeze=False,
                                gridspec_kw={"width_ratios": [1, 2.6]})
    for row, name in enumerate(runs):
        samples = os.path.join(out, f"run_{name}", f"samples_epoch_{runs[name]:03d}.png")
        axes[row, 0].axis("off")
        if os.path.exists(samples):
            axes[row, 0].imshow(plt.imread(samples))
        viz.score_histograms(scores_of[name], test_y, names, None, axes=axes[row, 1], centre_on=REFERENCE_CLASS,
                             title=f"{runs[name]} epoch(s): scores - mean of {REFERENCE_CLASS!r}")
    figure.tight_layout()
    figure.savefig(os.path.join(out, "scores_by_schedule.png"), dpi=90)
    plt.close(figure)
    # source 000 zooms in on two classes whose scores are close; here: every noise-only pair, main run
    pairs = noise_only_pairs(names)
    figure, axes = plt.subplots(1, len(pairs), figsize=(4.5 * len(pairs), 3.4), squeeze=False)
    for axis, (i, j) in zip(axes[0], pairs):
        keep = (test_y == i) | (test_y == j)
        sub_names = [names[i], names[j]]
        viz.score_histograms(scores_of[main][keep], (test_y[keep] == j).astype(int), sub_names, None, axes=axis,
                             bins=30, title=f"zoom: {names[i].rsplit(' ', 1)[0]}, noise 0.01 vs 0.03")
    figure.tight_layout()
    figure.savefig(os.path.join(out, "scores_noise_pairs.png"), dpi=90)
    plt.close(figure)
    figure, axes = plt.subplots(1, 1, figsize=(9, 4.5))
    viz.score_histograms(baseline_scores["mean pixel intensity"], test_y, names, None, axes=axes,
                         title="baseline: mean pixel intensity")
    figure.tight_layout()
    figure.savefig(os.path.join(out, "scores_baseline_intensity.png"), dpi=90)
    plt.close(figure)

    # question (c): stability of the class order across retrainings
    centred = {name: np.array([scores_of[name][test_y == c].mean() for c in range(len(names))])
               - scores_of[name][test_y == names.index(REFERENCE_CLASS)].mean() for name in runs}
    results["centred_class_means"] = {name: [round(float(v), 5) for v in m] for name, m in centred.items()}
    results["rank_correlation"] = {f"{a} vs {b}": round(spearman(centred[a], centred[b]), 4)
                                   for a, b in itertools.combinations(runs, 2)}
    per_run = {name: r["train_wall_seconds"] for name, r in results["runs"].items()}
    results["wall_seconds"] = {
        "training_per_run": per_run,                     # from each run's checkpoint: survives --resume
        "training_sum_of_runs": round(sum(per_run.values()), 1),
        "this_invocation_training": {k: round(v, 1) for k, v in wall.items()},
        "this_invocation_total": round(time.perf_counter() - started, 1)}
    results["machine"] = mg.backend.info()
    write_report(results, out, quick)
    return results


def _separation_row(label, summary):
    noise = len(summary["noise_only"])
    return [label, f"{summary['auc_ge_0.9']}/45", f"{summary['auc_ge_0.99']}/45", summary["min_auc"],
            f"{summary['noise_only_ge_0.9']}/{noise}", f"{summary['noise_only_ge_0.99']}/{noise}"]


def write_report(results, out, quick=False):
    """report.md + report.json in ``out`` (``minigan.report``): every table of the experiment."""
    s = results["schedule"]
    rep = report.Report("WGAN-GP critic scores as an unsupervised classifier (source 000)"
                        + (" -- QUICK smoke run" if quick else ""), out)
    rep.text(f"Schedule: main run {s['main_epochs']} epochs, retrainings from scratch at {s['short_epochs']} epochs "
             f"(source 000: 200, and 10/20/100); {s['train_images']} training images, batch {s['batch_size']} "
             f"({s['steps_per_epoch']} generator steps per epoch, n_critic {s['n_critic']} critic steps each), "
             f"lambda {s['lambda_gp']}, Adam(1e-4, (0, 0.9)), critic/generator width {s['width']}; "
             f"kernels: {s['kernels']}. The update: WGANGP.train_step (minigan/trainers/wgan_gp.py), "
             "Algorithm 1 of Gulrajani et al. (2017).")
    runs, baselines = results["runs"], results["baselines"]
    rows = [_separation_row(f"trained critic, {r['epochs']} ep ({r['steps']} steps, {r['train_wall_seconds']} s)",
                            r["summary"]) for r in runs.values()]
    rows += [_separation_row(f"baseline: {name}", r["summary"]) for name, r in baselines.items()]
    rep.table("Separation of the 45 class pairs (ROC AUC, max(AUC, 1-AUC))",
              ["scores", "AUC >= 0.9", "AUC >= 0.99", "min AUC", "noise-only pairs >= 0.9", "noise-only >= 0.99"],
              rows)
    first = next(iter(runs.values()))
    columns = list(runs.values()) + list(baselines.values())
    rep.table("Noise-only pairs (same shape and colour, noise 0.01 vs 0.03)", ["pair"] + list(runs) + list(baselines),
              [[pair] + [r["summary"]["noise_only"][pair] for r in columns] for pair in first["summary"]["noise_only"]])
    main_run = runs[f"{s['main_epochs']}ep"]
    rep.table(f"Score per class, main run ({s['main_epochs']} epochs) and baselines",
              ["class", "trained mean", "trained std"] + [f"{b} mean" for b in baselines],
              [[row["class"], row["mean"], row["std"]] + [baselines[b]["table"][c]["mean"] for b in baselines]
               for c, row in enumerate(main_run["table"])])
    centred = results["centred_class_means"]
    rep.table(f"Class means centred on the reference class {REFERENCE_CLASS}", ["class"] + list(centred),
              [[name] + [m[c] for m in centred.values()] for c, name in enumerate(results["classes"])])
    rep.table("Question (c): rank correlation (Spearman) of the class means across retrainings",
              ["runs", "Spearman"], [[k, v] for k, v in results["rank_correlation"].items()])
    rep.table("Wall time (s)", ["what", "seconds"],
              [[f"training, {name}", v] for name, v in results["wall_seconds"]["training_per_run"].items()]
              + [["this invocation, total", results["wall_seconds"]["this_invocation_total"]]])
    for name in ("scores_main.png", "scores_by_schedule.png", "scores_noise_pairs.png", "scores_baseline_intensity.png"):
        rep.figure(name, name[:-4].replace("_", " "))
    for name, r in runs.items():
        rep.table(f"All pair AUCs, {name}", ["pair", "AUC"], [[p, v] for p, v in r["pair_auc"].items()])
    rep.save(results)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/wgan_shapes")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--short-epochs", type=int, nargs="*", default=[1, 2, 10])
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline-seeds", type=int, default=3)
    parser.add_argument("--no-resume", action="store_true", help="retrain even if checkpoints exist")
    parser.add_argument("--analyse-only", action="store_true", help="only score the saved checkpoints")
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run of every step (seconds)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        results = run(args.out, epochs=2, short_epochs=(1,), width=2, seed=args.seed, baseline_seeds=(0,),
                      n_per_class=8, test_per_class=6, n_critic=1, resume=not args.no_resume,
                      analyse_only=args.analyse_only, progress=not args.no_progress, quick=True)
    else:
        results = run(args.out, epochs=args.epochs, short_epochs=tuple(args.short_epochs), width=args.width,
                      seed=args.seed, baseline_seeds=tuple(range(args.baseline_seeds)),
                      resume=not args.no_resume, analyse_only=args.analyse_only, progress=not args.no_progress)
    main_run = results["runs"][f"{results['schedule']['main_epochs']}ep"]["summary"]
    print(f"main run: {main_run['auc_ge_0.9']}/45 pairs AUC >= 0.9, {main_run['auc_ge_0.99']}/45 >= 0.99; "
          f"noise-only {main_run['noise_only_ge_0.9']}/{len(main_run['noise_only'])} >= 0.9")
    print(f"report: {os.path.join(args.out, 'report.md')}")
    return results


if __name__ == "__main__":
    main()
