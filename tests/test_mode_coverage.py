"""minigan.evaluate.mode_coverage: the histogram numbers by hand, and source 004's point -- a generator that
stops producing 8s is caught by the class histogram while a real/fake discriminator's accuracy does not move."""

import math

import numpy as np
import pytest

from minigan.evaluate import classifier_confidence, mode_coverage
from minigan.models import LogisticRegression
from minigan.trainers.supervised import train_classifier


def test_mode_coverage_by_hand():
    labels = np.array([0, 0, 1, 1, 2, 2, 2, 2])  # class 3 never appears
    result = mode_coverage(labels, 4)
    assert result["fractions"] == [0.25, 0.25, 0.5, 0.0]
    assert result["counts"] == [2, 2, 4, 0]
    assert result["covered"] == 3 and result["missing"] == [3] and result["has_missing"]
    expected_kl = 2 * 0.25 * math.log(0.25 / 0.25) + 0.5 * math.log(0.5 / 0.25)
    assert result["kl_to_reference"] == pytest.approx(expected_kl)
    assert result["entropy"] == pytest.approx(-(2 * 0.25 * math.log(0.25) + 0.5 * math.log(0.5)))


def test_mode_coverage_uniform_collapsed_and_probabilities():
    uniform = mode_coverage(np.repeat(np.arange(10), 7), 10)
    assert uniform["covered"] == 10 and not uniform["has_missing"] and uniform["kl_to_reference"] == pytest.approx(0)
    collapsed = mode_coverage(np.full(50, 3), 10)
    assert collapsed["covered"] == 1 and collapsed["kl_to_reference"] == pytest.approx(math.log(10))
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    soft = mode_coverage(probabilities, 2)
    assert soft["counts"] == [2, 1] and soft["soft_fractions"] == pytest.approx([1.7 / 3, 1.3 / 3])
    assert classifier_confidence(probabilities)["mean_max_probability"] == pytest.approx((0.9 + 0.8 + 0.6) / 3)
    with pytest.raises(ValueError):
        mode_coverage(np.array([0, 5]), 3)
    # relative thresholds: class 2 at 0.05 against a reference share of 0.5 is "missing" at min_ratio 0.3
    relative = mode_coverage(np.array([0] * 10 + [1] * 9 + [2]), 3, reference=[0.25, 0.25, 0.5], min_ratio=0.3)
    assert relative["missing"] == [2] and relative["threshold"] == pytest.approx([0.075, 0.075, 0.15])


def test_generator_that_drops_eights_is_caught_by_coverage_not_by_real_fake_accuracy():
    """Two "generators" that emit perfectly realistic digits (held-out real images): one covers all ten
    classes, the other never draws an 8. A per-sample real/fake discriminator (logistic regression trained
    on real vs generated) is at chance for both; the class histogram of a digit classifier flags the 8s."""
    data = pytest.importorskip("minigan.data")
    try:
        real = data.load("mnist5k")
    except (ModuleNotFoundError, FileNotFoundError) as error:
        pytest.skip(f"mnist5k unavailable: {error}")
    rng = np.random.default_rng(0)
    x, y = real.x.reshape(len(real.x), -1), real.y
    order = rng.permutation(len(x))
    train, pool = order[:2000], order[2000:]
    classifier = LogisticRegression(784, 10)
    train_classifier(classifier, x[train], y[train], epochs=5, seed=0)
    full = pool[:900]
    no_eights = rng.choice(pool[y[pool] != 8], 900, replace=False)
    reference = pool[900:1800]  # the real side of the real/fake test

    def real_fake_accuracy(fake_rows):
        features = np.concatenate([x[reference], x[fake_rows]])
        target = np.concatenate([np.ones(900, np.int64), np.zeros(900, np.int64)])
        split = rng.permutation(1800)
        fit_rows, test_rows = split[:1200], split[1200:]
        discriminator = LogisticRegression(784, 2)
        train_classifier(discriminator, features[fit_rows], target[fit_rows], epochs=5, seed=0)
        return discriminator.score(features[test_rows], target[test_rows])

    accuracy_full, accuracy_no_eights = real_fake_accuracy(full), real_fake_accuracy(no_eights)
    assert abs(accuracy_full - 0.5) < 0.1 and abs(accuracy_no_eights - 0.5) < 0.1  # D sees nothing wrong
    coverage_full = mode_coverage(classifier.predict_proba(x[full]), 10)
    coverage_no_eights = mode_coverage(classifier.predict_proba(x[no_eights]), 10)
    assert not coverage_full["has_missing"]
    assert coverage_no_eights["has_missing"] and coverage_no_eights["missing"] == [8]
    assert coverage_no_eights["kl_to_reference"] > coverage_full["kl_to_reference"] + 0.05
