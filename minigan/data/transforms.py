"""Array transforms a generative-model user expects: range scaling, binarisation, one-hot labels.

All take and return NumPy arrays (float32 unless said otherwise) and never modify their input.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..typing import ArrayLike, DType

__all__ = [
    "scale_to_unit",
    "scale_to_symmetric",
    "unit_to_symmetric",
    "symmetric_to_unit",
    "binarize_static",
    "binarize_dynamic",
    "one_hot",
]


def _check_finite(name, value, positive=False):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or (positive and value <= 0)
    ):
        raise ValueError(f"{name} must be a finite number{' > 0' if positive else ''}, got {value!r}")


def scale_to_unit(x: ArrayLike, max_value: float = 255.0) -> np.ndarray:
    """[0, max_value] -> [0, 1]: x / max_value (uint8 pixels by default). Shape unchanged, float32."""
    _check_finite("max_value", max_value, positive=True)
    return np.asarray(x, dtype=np.float32) / np.float32(max_value)


def scale_to_symmetric(x: ArrayLike, max_value: float = 255.0) -> np.ndarray:
    """[0, max_value] -> [-1, 1]: 2 x / max_value - 1, the range of a tanh generator (DCGAN)."""
    return unit_to_symmetric(scale_to_unit(x, max_value))


def unit_to_symmetric(x: ArrayLike) -> np.ndarray:
    """[0, 1] -> [-1, 1]: 2 x - 1."""
    return np.float32(2) * np.asarray(x, dtype=np.float32) - np.float32(1)


def symmetric_to_unit(x: ArrayLike) -> np.ndarray:
    """[-1, 1] -> [0, 1]: (x + 1) / 2, e.g. to show a tanh generator's samples."""
    return (np.asarray(x, dtype=np.float32) + np.float32(1)) / np.float32(2)


def binarize_static(x: ArrayLike, threshold: float = 0.5) -> np.ndarray:
    """Fixed binarisation: 1 where x > threshold else 0 (float32). Same result every call.

    ``x`` in [0, 1]. The "statically binarised MNIST" of Larochelle and Murray (2011) used one random
    Bernoulli draw, frozen; ``binarize_dynamic`` with a fixed seed reproduces that, thresholding is the
    deterministic variant.
    """
    _check_finite("threshold", threshold)
    return (np.asarray(x) > threshold).astype(np.float32)


def binarize_dynamic(x: ArrayLike, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Bernoulli binarisation: b ~ Bernoulli(x) element-wise, a fresh draw per call (float32).

    Used for RBMs and VAEs with Bernoulli likelihoods on MNIST (Salakhutdinov and Murray 2008): each
    epoch sees a new binary sample of the grey-level image, which regularises. ``x`` in [0, 1];
    ``rng``: a ``numpy.random.Generator`` (pass the same one across epochs) or a seed.
    """
    x = np.asarray(x, dtype=np.float32)
    if not np.all((x >= 0) & (x <= 1)):  # also refuses NaN, which compares False
        raise ValueError(
            "binarize_dynamic needs probabilities in [0, 1] (no NaN); scale the images first (scale_to_unit)"
        )
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return (rng.random(x.shape, dtype=np.float32) < x).astype(np.float32)


def one_hot(labels: ArrayLike, num_classes: int | None = None, dtype: DType = np.float32) -> np.ndarray:
    """Integer labels (N,) -> one-hot rows (N, num_classes): out[i, labels[i]] = 1.

    ``num_classes`` defaults to max(labels) + 1. Labels outside [0, num_classes) raise a ValueError.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must have shape (N,), got {labels.shape}")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    elif not isinstance(num_classes, (int, np.integer)) or isinstance(num_classes, (bool, np.bool_)) or num_classes < 0:
        raise ValueError(f"num_classes must be an integer >= 0, got {num_classes!r}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got range [{labels.min()}, {labels.max()}]")
    out = np.zeros((labels.shape[0], num_classes), dtype=dtype)
    out[np.arange(labels.shape[0]), labels] = 1
    return out
