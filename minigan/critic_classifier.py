"""Source 000's measurement (docs/sources.md): critic scores used as a 1-D classifier of the ten test classes
of the generated shapes -- the separation of every class pair, the class positions across retrainings, the
histograms and the report tables. ``demos/wgan_shapes.py`` (the experiment) and ``minigan demo`` (its
shortened run) train their critics and then compose these pieces:

    test_x, test_y, names = data.shapes_test(n_per_class=40, seed=1)
    scores = {"20ep": evaluate.critic_scores(critic, test_x), ...}           # one entry per trained critic
    baselines = critic_classifier.baseline_scores(test_x, lambda: WGANCritic(width=16), seeds=range(3))
    results = critic_classifier.results(scores, baselines, test_y, names)
    critic_classifier.figures(scores, baselines, test_y, names, out, main="20ep", samples={...})
    critic_classifier.report_tables(rep, results, main="20ep")

(``measure_runs`` does the first four lines' work for runs trained into ``out/run_<name>``.)

The numbers are ``evaluate.separation`` (ROC AUC of each of the 45 pairs, orientation-free) and
``evaluate.spearman``; this module gathers them into one JSON-able dict, draws the figures and writes the
tables through ``minigan.report``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

import minigan as mg

from . import viz
from .evaluate import critic_scores, noise_only_pairs, separation, spearman

if TYPE_CHECKING:
    from .nn import Module
    from .report import Report

__all__ = ["REFERENCE_CLASS", "baseline_scores", "figures", "measure_runs", "report_tables", "results"]

REFERENCE_CLASS = "square (0.85,+1) 0.03"  # the class source 000 centres its partial-training figures on


def baseline_scores(
    images: np.ndarray, make_critic: Callable[[], Module], seeds: Iterable[int]
) -> dict[str, np.ndarray]:
    """The scores a trained critic is compared with, as {name: scores (N,)}: the critic untrained, one built
    by ``make_critic()`` under ``mg.manual_seed(1000 + seed)`` for each of ``seeds``, and the mean pixel
    intensity of each image."""
    scores = {}
    for seed in seeds:
        mg.manual_seed(1000 + seed)
        scores[f"untrained critic seed {seed}"] = critic_scores(make_critic(), images)
    scores["mean pixel intensity"] = np.asarray(images).reshape(len(images), -1).mean(1).astype(np.float64)
    return scores


def results(
    scores: Mapping[str, np.ndarray],
    baselines: Mapping[str, np.ndarray],
    labels: np.ndarray,
    class_names: Sequence[str],
    reference_class: str = REFERENCE_CLASS,
) -> dict[str, Any]:
    """{"classes", "runs", "baselines", "centred_class_means", "rank_correlation"}: for each trained run
    (``scores``: {run name: scores (N,)}) the per-class table, the summary of ``evaluate.separation`` and
    every pair's AUC; the same table and summary for each baseline; each run's class means minus the mean
    of ``reference_class``, and Spearman's correlation of those between every two runs (source 000's
    question (c): do retrainings keep the classes' order?)."""
    names = list(class_names)
    out = {"classes": names, "runs": {}, "baselines": {}}
    for name, s in scores.items():
        table, pairs, summary = separation(s, labels, names)
        out["runs"][name] = {
            "table": table,
            "summary": summary,
            "pair_auc": {f"{names[i]} vs {names[j]}": round(v, 4) for (i, j), v in pairs.items()},
        }
    for name, s in baselines.items():
        table, _, summary = separation(s, labels, names)
        out["baselines"][name] = {"table": table, "summary": summary}
    reference = names.index(reference_class)
    centred = {
        name: np.array([s[labels == c].mean() for c in range(len(names))]) - s[labels == reference].mean()
        for name, s in scores.items()
    }
    out["centred_class_means"] = {name: [round(float(v), 5) for v in m] for name, m in centred.items()}
    out["rank_correlation"] = {
        f"{a} vs {b}": round(spearman(centred[a], centred[b]), 4) for a, b in itertools.combinations(scores, 2)
    }
    return out


def figures(
    scores: Mapping[str, np.ndarray],
    baselines: Mapping[str, np.ndarray],
    labels: np.ndarray,
    class_names: Sequence[str],
    out: str,
    main: str,
    samples: Mapping[str, str] | None = None,
    titles: Mapping[str, str] | None = None,
    reference_class: str = REFERENCE_CLASS,
) -> None:
    """The experiment's figures in ``out``: scores_main.png (the ``main`` run's histograms by class),
    scores_by_schedule.png (each run's samples beside its histograms centred on ``reference_class``;
    ``samples``: {run: PNG of its samples}, ``titles``: {run: label}), scores_noise_pairs.png (the main
    run on each pair that differs only in noise, as source 000's zoom), scores_baseline_intensity.png."""
    names, titles = list(class_names), titles or {}
    viz.score_histograms(
        scores[main],
        labels,
        names,
        os.path.join(out, "scores_main.png"),
        title=f"critic scores of the {len(names)} test classes, {titles.get(main, main)}",
    )
    viz.score_histograms_by_run(
        scores,
        labels,
        names,
        os.path.join(out, "scores_by_schedule.png"),
        samples=samples,
        titles=titles,
        centre_on=reference_class,
    )
    pairs = noise_only_pairs(names)
    viz.pair_histograms(
        scores[main],
        labels,
        names,
        pairs,
        os.path.join(out, "scores_noise_pairs.png"),
        titles=[f"zoom: {names[i].rsplit(' ', 1)[0]}, noise 0.01 vs 0.03" for i, _ in pairs],
    )
    viz.score_histograms(
        baselines["mean pixel intensity"],
        labels,
        names,
        os.path.join(out, "scores_baseline_intensity.png"),
        title="baseline: mean pixel intensity",
    )


def measure_runs(
    trained: Mapping[str, tuple[Any, int, float]],
    epochs: Mapping[str, int],
    make_critic: Callable[[], Module],
    baseline_seeds: Iterable[int],
    test_x: np.ndarray,
    test_y: np.ndarray,
    class_names: Sequence[str],
    out: str,
    main: str,
) -> dict[str, Any]:
    """Steps 2 and 3 of the experiment for runs trained into ``out/run_<name>``: score the test classes with
    each run's critic (``trained``: {name: (WGAN-GP trainer, steps, training seconds)}; ``epochs``: {name:
    epochs}) and with the baselines, then ``results`` with each run's schedule added, and ``figures``."""
    scores = {name: critic_scores(trainer.critic, test_x) for name, (trainer, _, _) in trained.items()}
    baselines = baseline_scores(test_x, make_critic, seeds=baseline_seeds)
    summary = results(scores, baselines, test_y, class_names)
    figures(
        scores,
        baselines,
        test_y,
        class_names,
        out,
        main=main,
        samples={n: os.path.join(out, f"run_{n}", f"samples_epoch_{e:03d}.png") for n, e in epochs.items()},
        titles={n: f"{e} epoch(s)" for n, e in epochs.items()},
    )
    for name, (_, steps, seconds) in trained.items():
        summary["runs"][name].update(epochs=epochs[name], steps=steps, train_wall_seconds=round(seconds, 1))
    return summary


def _separation_row(label, summary):
    noise = len(summary["noise_only"])
    return [
        label,
        f"{summary['auc_ge_0.9']}/{summary['pairs']}",
        f"{summary['auc_ge_0.99']}/{summary['pairs']}",
        summary["min_auc"],
        f"{summary['noise_only_ge_0.9']}/{noise}",
        f"{summary['noise_only_ge_0.99']}/{noise}",
    ]


def report_tables(
    rep: Report,
    results: Mapping[str, Any],
    main: str,
    labels: Mapping[str, str] | None = None,
    reference_class: str = REFERENCE_CLASS,
) -> None:
    """The tables of ``results`` in the ``minigan.report.Report`` ``rep``: separation of the class pairs for
    every run and baseline (``labels``: {run: row label}), the noise-only pairs, the per-class scores of the
    ``main`` run beside the baselines, the centred class means, the rank correlations, every pair's AUC."""
    runs, baselines, labels = results["runs"], results["baselines"], labels or {}
    rows = [_separation_row(labels.get(name, f"trained critic, {name}"), r["summary"]) for name, r in runs.items()]
    rows += [_separation_row(f"baseline: {name}", r["summary"]) for name, r in baselines.items()]
    rep.table(
        "Separation of the class pairs (ROC AUC, max(AUC, 1-AUC))",
        ["scores", "AUC >= 0.9", "AUC >= 0.99", "min AUC", "noise-only pairs >= 0.9", "noise-only >= 0.99"],
        rows,
    )
    columns = list(runs.values()) + list(baselines.values())
    rep.table(
        "Noise-only pairs (same shape and colour, noise 0.01 vs 0.03)",
        ["pair"] + list(runs) + list(baselines),
        [[pair] + [r["summary"]["noise_only"][pair] for r in columns] for pair in runs[main]["summary"]["noise_only"]],
    )
    rep.table(
        f"Score per class, main run ({main}) and baselines",
        ["class", "trained mean", "trained std"] + [f"{b} mean" for b in baselines],
        [
            [row["class"], row["mean"], row["std"]] + [baselines[b]["table"][c]["mean"] for b in baselines]
            for c, row in enumerate(runs[main]["table"])
        ],
    )
    centred = results["centred_class_means"]
    rep.table(
        f"Class means centred on the reference class {reference_class}",
        ["class"] + list(centred),
        [[name] + [m[c] for m in centred.values()] for c, name in enumerate(results["classes"])],
    )
    rep.table(
        "Question (c): rank correlation (Spearman) of the class means across retrainings",
        ["runs", "Spearman"],
        [[k, v] for k, v in results["rank_correlation"].items()],
    )
    for name in (
        "scores_main.png",
        "scores_by_schedule.png",
        "scores_noise_pairs.png",
        "scores_baseline_intensity.png",
    ):
        rep.figure(name, name[:-4].replace("_", " "))
    for name, r in runs.items():
        rep.table(f"All pair AUCs, {name}", ["pair", "AUC"], [[p, v] for p, v in r["pair_auc"].items()])
