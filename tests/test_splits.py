"""minigan.data.splits.stratified: equal counts per class, no repeats, seeded, the demos' former copies'
draws, clear errors."""

import numpy as np
import pytest

from minigan.data import stratified


def test_equal_counts_per_class_without_repeats_and_seeded():
    labels = np.repeat(np.arange(4), [30, 20, 25, 40])
    rows = stratified(labels, 22, seed=3)
    assert len(rows) == 20 and len(set(rows.tolist())) == 20
    assert np.bincount(labels[rows]).tolist() == [5, 5, 5, 5]
    np.testing.assert_array_equal(rows, stratified(labels, 22, seed=3))
    assert not np.array_equal(rows, stratified(labels, 22, seed=4))


def test_same_draws_as_the_demos_former_copies():
    """demos/naive_bayes.py and demos/ssgan_mnist.py drew one rng.choice per class, in class order."""
    labels = np.random.default_rng(0).integers(0, 10, 500)
    rng = np.random.default_rng(7)
    former = np.concatenate([rng.choice(np.flatnonzero(labels == c), 10, replace=False) for c in range(10)])
    np.testing.assert_array_equal(stratified(labels, 100, seed=7), former)


def test_errors_name_the_problem():
    labels = np.repeat(np.arange(3), [5, 5, 2])
    with pytest.raises(ValueError, match="fewer than one example"):
        stratified(labels, 2, seed=0)
    with pytest.raises(ValueError, match="class 2 has 2 examples, 3 were asked for"):
        stratified(labels, 9, seed=0)


def test_training_subset_is_everything_in_order_or_a_sorted_stratified_draw():
    from minigan.data.splits import training_subset

    labels = np.repeat(np.arange(4), 5)  # sorted by class, like mnist5k
    assert np.array_equal(training_subset(labels, 20, seed=0), np.arange(20))
    rows = training_subset(labels, 8, seed=1)
    assert np.all(np.diff(rows) > 0) and np.bincount(labels[rows]).tolist() == [2, 2, 2, 2]
    assert np.array_equal(rows, np.sort(stratified(labels, 8, 1)))
