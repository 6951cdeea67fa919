"""minigan.critic_classifier (source 000's measurement, shared by demos/wgan_shapes.py and `minigan demo`):
separation and rank correlation on scores whose answer is known, the baselines, the figures and tables."""

import json

import numpy as np
import pytest

import minigan as mg
from minigan import critic_classifier, report
from minigan.data.shapes import TEST_CLASSES

NAMES = [c.name for c in TEST_CLASSES]


def scores_by_class(order, per_class=20, spread=0.1, seed=0):
    """Scores (N,) and labels (N,): class c's scores around order[c], with noise ``spread``."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(NAMES)), per_class)
    return np.asarray(order, np.float64)[labels] + spread * rng.standard_normal(len(labels)), labels


def test_well_separated_runs_and_their_order_across_retrainings():
    """A run whose classes lie 1 apart separates all 45 pairs (AUC 1); a retraining with the same order has
    Spearman 1, one with the order reversed -1; pure noise separates hardly any pair."""
    order = np.arange(10.0)
    same, labels = scores_by_class(order, seed=1)
    again, _ = scores_by_class(2 * order + 5, seed=2)
    reversed_, _ = scores_by_class(-order, seed=3)
    noise = np.random.default_rng(4).standard_normal(len(labels))
    out = critic_classifier.results({"a": same, "b": again, "c": reversed_}, {"noise": noise}, labels, NAMES)
    summary = out["runs"]["a"]["summary"]
    assert summary["pairs"] == 45 and summary["auc_ge_0.99"] == 45 and summary["min_auc"] == 1.0
    assert len(out["runs"]["a"]["pair_auc"]) == 45 and set(out["runs"]["a"]["pair_auc"].values()) == {1.0}
    assert len(summary["noise_only"]) == 3 and summary["noise_only_ge_0.99"] == 3
    assert out["baselines"]["noise"]["summary"]["auc_ge_0.9"] < 5
    assert out["rank_correlation"] == {"a vs b": 1.0, "a vs c": -1.0, "b vs c": -1.0}
    # class means centred on the reference class: that class sits at 0, the others at their offsets
    reference = NAMES.index(critic_classifier.REFERENCE_CLASS)
    centred = np.array(out["centred_class_means"]["a"])
    assert centred[reference] == 0.0
    np.testing.assert_allclose(centred, order - order[reference], atol=0.1)
    table = out["runs"]["a"]["table"]
    assert [row["class"] for row in table] == NAMES
    np.testing.assert_allclose([row["mean"] for row in table], order, atol=0.1)
    json.dumps(out)  # JSON-able as it stands: report.json


def test_baselines_score_the_untrained_critics_and_the_mean_intensity():
    images = np.zeros((4, 3, 2, 2), np.float32)
    images[1], images[2], images[3] = 0.25, 0.5, 1.0

    class Sum:  # a stand-in critic: f(x) = sum of the pixels
        def eval(self):
            return self

        def __call__(self, x):
            return x.sum(dim=(1, 2, 3))

    draws = []

    def make_critic():
        draws.append(float(mg.randn(1).item()))  # what the critic's initialisation would draw
        return Sum()

    baselines = critic_classifier.baseline_scores(images, make_critic, seeds=[7, 8])
    assert list(baselines) == ["untrained critic seed 7", "untrained critic seed 8", "mean pixel intensity"]
    np.testing.assert_allclose(baselines["untrained critic seed 8"], [0, 3, 6, 12])
    expected = []
    for seed in (1007, 1008):  # each critic is built under seed 1000 + its seed
        mg.manual_seed(seed)
        expected.append(float(mg.randn(1).item()))
    assert draws == expected and draws[0] != draws[1]
    np.testing.assert_allclose(baselines["mean pixel intensity"], [0, 0.25, 0.5, 1.0])
    assert baselines["mean pixel intensity"].dtype == np.float64


def test_figures_and_report_tables(tmp_path):
    pytest.importorskip("matplotlib")
    main, labels = scores_by_class(np.arange(10.0))
    short, _ = scores_by_class(np.arange(10.0)[::-1], seed=5)
    scores = {"2ep": main, "1ep": short}
    baselines = {"mean pixel intensity": np.random.default_rng(0).random(len(labels))}
    results = critic_classifier.results(scores, baselines, labels, NAMES)
    critic_classifier.figures(scores, baselines, labels, NAMES, str(tmp_path), main="2ep")
    rep = report.Report("test", str(tmp_path), command="test")
    critic_classifier.report_tables(rep, results, main="2ep", labels={"2ep": "trained critic, two epochs"})
    rep.save(results)
    for name in (
        "scores_main.png",
        "scores_by_schedule.png",
        "scores_noise_pairs.png",
        "scores_baseline_intensity.png",
    ):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    text = (tmp_path / "report.md").read_text()
    assert "| trained critic, two epochs | 45/45 | 45/45 |" in text
    assert "| 2ep vs 1ep | -1 |" in text
    assert json.loads((tmp_path / "report.json").read_text())["results"]["rank_correlation"] == {"2ep vs 1ep": -1.0}
