"""minigan.evaluate: the rank AUC against its definition and scipy, separation tables, rank correlation."""

import itertools

import numpy as np
import pytest

from minigan.evaluate import noise_only_pairs, roc_auc, separation, spearman


def brute_force_auc(positive, negative):
    """P(pos > neg) + 1/2 P(pos == neg) over all pairs: the definition."""
    wins = sum((p > n) + 0.5 * (p == n) for p, n in itertools.product(positive, negative))
    return wins / (len(positive) * len(negative))


def test_roc_auc_matches_the_definition_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        positive = rng.integers(0, 6, rng.integers(1, 15)).astype(float)  # many ties
        negative = rng.integers(0, 6, rng.integers(1, 15)).astype(float)
        assert roc_auc(positive, negative) == pytest.approx(brute_force_auc(positive, negative))


def test_roc_auc_extremes_and_symmetry():
    assert roc_auc([3, 4, 5], [0, 1, 2]) == 1.0
    assert roc_auc([0, 1, 2], [3, 4, 5]) == 0.0
    assert roc_auc([1, 1], [1, 1]) == 0.5
    a, b = np.random.default_rng(1).normal(size=(2, 30))
    assert roc_auc(a, b) == pytest.approx(1 - roc_auc(b, a))


def test_spearman_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    a, b = np.random.default_rng(2).normal(size=(2, 10))
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b).correlation)
    assert spearman(a, 2 * a + 1) == pytest.approx(1.0)


def test_separation_counts_pairs_and_noise_only_pairs():
    names = ["square (0.85,+1) 0.01", "square (0.85,+1) 0.03", "circle (0.7,-1) 0.01"]
    rng = np.random.default_rng(3)
    scores = np.concatenate([rng.normal(0, 1, 50), rng.normal(0.1, 1, 50), rng.normal(10, 1, 50)])
    labels = np.repeat([0, 1, 2], 50)
    table, pairs, summary = separation(scores, labels, names)
    assert noise_only_pairs(names) == [(0, 1)]
    assert summary["pairs"] == 3 and summary["auc_ge_0.99"] == 2  # the circle is far from both squares
    assert summary["noise_only_ge_0.9"] == 0  # the two squares overlap
    assert table[2]["mean"] == pytest.approx(scores[100:].mean())
    assert all(0.5 <= v <= 1 for v in pairs.values())
