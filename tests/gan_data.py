"""Tiny labelled "digits" for the GAN-family tests: bright vertical bars on -1 (class = bar position), in
[-1, 1] like the generators' tanh output."""

import numpy as np


def bar_digits(n=32, seed=0):
    """(n, 1, 28, 28) float32 images and (n,) int64 labels in 0..9."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    x = -np.ones((n, 1, 28, 28), np.float32)
    for i, c in enumerate(labels):
        x[i, 0, 4:24, 2 + 2 * c : 4 + 2 * c] = 1
    return x, labels.astype(np.int64)


class ConstantJudge:
    """A stand-in digit classifier that calls every image ``digit`` (for the bookkeeping of measurements)."""

    def __init__(self, digit, n_classes=10):
        self.digit, self.n_classes = digit, n_classes

    def predict_proba(self, x):
        p = np.zeros((len(x), self.n_classes))
        p[:, self.digit] = 1.0
        return p
