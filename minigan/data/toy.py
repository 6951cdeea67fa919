"""Toy 2-D distributions of the WGAN-GP paper, each with its mode centres so mode coverage can be scored.

Gulrajani, Ahmed, Arjovsky, Dumoulin and Courville, "Improved Training of Wasserstein GANs",
NeurIPS 2017, arXiv:1704.00028, section 5.1 / figure 1 (code: igul222/improved_wgan_training,
``gan_toy.py``).

Each function returns ``(points, labels, centres)``: points (n, 2) float32, labels (n,) int64 the index
of the mode (centre) a point was drawn from, centres (K, 2) float32.

The sizes follow minigan's design (radius 2 / std 0.02, grid spacing 2 / std 0.05). The paper's script
divides the 8-Gaussian set by 1.414 and the 25-Gaussian set by 2.828 after drawing; pass ``scale`` to get
its exact numbers (e.g. ``eight_gaussians(n, scale=1 / 1.414)``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["eight_gaussians", "twenty_five_gaussians", "swiss_roll", "two_spirals"]


def _check_count(n: int, name: str = "number of samples", low: int = 0) -> None:
    if not isinstance(n, (int, np.integer)) or isinstance(n, (bool, np.bool_)) or n < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {n!r}")


def _check_real(name: str, value, non_negative: bool = False) -> None:
    """Lengths and scales must be finite numbers; standard deviations also >= 0."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not np.isfinite(value)
        or (non_negative and value < 0)
    ):
        raise ValueError(f"{name} must be a finite number{' >= 0' if non_negative else ''}, got {value!r}")


def _mixture(centres: np.ndarray, n: int, std: float, rng: np.random.Generator, scale: float):
    """n draws from the equal-weight mixture of N(centre, std^2 I) over the rows of ``centres``."""
    labels = rng.integers(0, len(centres), size=n)
    points = centres[labels] + std * rng.standard_normal((n, 2))
    return (scale * points).astype(np.float32), labels.astype(np.int64), (scale * centres).astype(np.float32)


def eight_gaussians(
    n: int = 10_000, radius: float = 2.0, std: float = 0.02, seed: int | None = 0, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """8 Gaussians with centres on a circle of ``radius``: c_m = radius (cos(m pi/4), sin(m pi/4)), m = 0..7.

    x = c_m + std * N(0, I), m uniform. Returns (points (n, 2), labels (n,), centres (8, 2)).
    """
    _check_count(n)
    _check_real("radius", radius), _check_real("std", std, non_negative=True), _check_real("scale", scale)
    angles = np.arange(8) * (np.pi / 4)
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return _mixture(centres, n, std, np.random.default_rng(seed), scale)


def twenty_five_gaussians(
    n: int = 10_000, spacing: float = 2.0, std: float = 0.05, seed: int | None = 0, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """25 Gaussians on a 5x5 grid: centres spacing * (i, j), i, j in {-2, -1, 0, 1, 2}.

    x = c_m + std * N(0, I), m uniform. Returns (points (n, 2), labels (n,), centres (25, 2)), centres in
    row-major order of (i, j).
    """
    _check_count(n)
    _check_real("spacing", spacing), _check_real("std", std, non_negative=True), _check_real("scale", scale)
    grid = spacing * np.arange(-2, 3)
    centres = np.stack(np.meshgrid(grid, grid, indexing="ij"), axis=-1).reshape(-1, 2)
    return _mixture(centres, n, std, np.random.default_rng(seed), scale)


def swiss_roll(
    n: int = 10_000, noise: float = 0.25, n_segments: int = 16, seed: int | None = 0, scale: float = 1 / 7.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 2-D Swiss roll of the WGAN-GP toy script (scikit-learn's ``make_swiss_roll``, columns x and z).

    t ~ U[1.5 pi, 4.5 pi],  x = scale * (t cos t, t sin t) + scale * noise * N(0, I).

    The roll has no discrete modes; to score coverage it is cut into ``n_segments`` equal intervals of t.
    ``labels`` is the segment of each point's t, and ``centres`` (n_segments, 2) are the noiseless points
    at the middle of each segment. Returns (points (n, 2), labels (n,), centres (n_segments, 2)).
    """
    _check_count(n)
    _check_count(n_segments, "n_segments", low=1)
    _check_real("noise", noise, non_negative=True), _check_real("scale", scale)
    rng = np.random.default_rng(seed)
    t_low, t_high = 1.5 * np.pi, 4.5 * np.pi
    t = t_low + (t_high - t_low) * rng.random(n)
    points = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) + noise * rng.standard_normal((n, 2))
    segment_width = (t_high - t_low) / n_segments
    labels = np.minimum(((t - t_low) / segment_width).astype(np.int64), n_segments - 1)
    t_mid = t_low + segment_width * (np.arange(n_segments) + 0.5)
    centres = np.stack([t_mid * np.cos(t_mid), t_mid * np.sin(t_mid)], axis=1)
    return (scale * points).astype(np.float32), labels, (scale * centres).astype(np.float32)


def two_spirals(n_per_class: int = 200, noise: float = 0.02, seed: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals in the plane, a classic that a linear classifier cannot separate (the
    autograd tour's MLP task): theta = 3 pi sqrt(u), u ~ U[0, 1], arm = theta (cos theta, sin theta) / (3 pi);
    class 0 is the arm, class 1 its mirror -arm, each point plus ``noise`` * N(0, I).

    Returns (points (2 n_per_class, 2) float32, labels (2 n_per_class,) int64 in {0, 1}), class 0 first."""
    _check_count(n_per_class, "n_per_class")
    _check_real("noise", noise, non_negative=True)
    rng = np.random.default_rng(seed)
    theta = np.sqrt(rng.uniform(0, 1, n_per_class)) * 3 * np.pi
    arm = np.stack([theta * np.cos(theta), theta * np.sin(theta)], axis=1) / (3 * np.pi)
    points = np.concatenate([arm, -arm]) + rng.normal(0, noise, (2 * n_per_class, 2))
    labels = np.concatenate([np.zeros(n_per_class), np.ones(n_per_class)]).astype(np.int64)
    return points.astype(np.float32), labels
