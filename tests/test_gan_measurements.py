"""The GAN demos' measurements in minigan.evaluate: discriminator accuracy, the matched (Hungarian) accuracy,
ink moments, the classifier two-sample test and the linear probe, each against a case with a known answer."""

import numpy as np
import pytest

import minigan as mg
from minigan import evaluate


def test_discriminator_accuracy_counts_real_above_and_fake_below_zero():
    assert evaluate.discriminator_accuracy(np.array([1.0, -1.0, 2.0]), mg.tensor(np.array([-3.0, 0.5]))) == 0.6


def test_matched_accuracy_finds_the_best_one_to_one_map():
    # greedy would take the 9 first and be left with 1 + 1; the best map is 8 + 8 on the anti-diagonal... plus 1
    table = np.array([[9, 8, 0], [8, 0, 0], [0, 0, 1]])
    share, rows, cols = evaluate.matched_accuracy(table)
    assert sorted(zip(rows.tolist(), cols.tolist())) == [(0, 1), (1, 0), (2, 2)]
    assert share == pytest.approx(17 / 26)


def test_ink_moments_of_a_bar_and_a_slanted_bar():
    upright = -np.ones((1, 1, 28, 28))
    upright[0, 0, 4:24, 13:15] = 1
    width, slant = evaluate.ink_moments(upright)
    assert width[0] == pytest.approx(0.5) and slant[0] == pytest.approx(0.0, abs=1e-9)
    leaning = -np.ones((1, 1, 28, 28))
    for row in range(4, 24):  # one column to the right per row going up
        leaning[0, 0, row, 24 - row] = 1
    assert evaluate.ink_moments(leaning)[1][0] == pytest.approx(1.0)


def test_two_sample_accuracy_is_chance_for_one_distribution_and_high_for_two():
    rng = np.random.default_rng(0)
    mg.manual_seed(0)
    real = rng.normal(size=(400, 1, 4, 4)).astype(np.float32)
    same = rng.normal(size=(800, 1, 4, 4)).astype(np.float32)
    assert abs(evaluate.two_sample_accuracy(real[:200], real[200:], same, epochs=20) - 0.5) < 0.1
    shifted = same + 2.0
    assert evaluate.two_sample_accuracy(real[:200], real[200:], shifted, epochs=20) > 0.9


def test_linear_probe_separates_linearly_separable_features_and_not_noise():
    rng = np.random.default_rng(1)
    mg.manual_seed(1)
    y = np.repeat(np.arange(3), 60)
    features = rng.normal(size=(180, 5)) + 4.0 * np.eye(5)[y]  # class k lifts feature k
    noise = rng.normal(size=(180, 5))
    train, test = np.arange(180) % 2 == 0, np.arange(180) % 2 == 1
    assert evaluate.linear_probe(features[train], y[train], features[test], y[test], epochs=20) > 0.95
    assert evaluate.linear_probe(noise[train], y[train], noise[test], y[test], epochs=20) < 0.6
