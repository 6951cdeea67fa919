"""Linear algebra in a generative model's latent space (source 001, section 2), and the 2-D manifold grid.

Source 001 moves an unseen example x along the direction from class b's centroid to class a's:

    c_k   = (1 / N_k) sum_{i : y_i = k} E(x_i)           class centroids in latent space
    v_ab  = c_a - c_b                                     the vector from centroid b to centroid a
    x'(alpha) = G( E(x) + alpha v_ab )                    encode, step alpha along v, decode

With E(x) = mu(x) (a VAE's posterior mean) and an x of class b, alpha = 0 is the reconstruction of x and
alpha = 1 puts E(x) where a class-a point "should" be. The latent space is learned without labels; the
labels are used only afterwards, to compute the centroids.

``manifold_grid`` decodes a regular grid of a 2-D latent space through the Gaussian quantile function,
so that each cell holds the same prior mass (Kingma & Welling, 2014, appendix A, the learned MNIST manifold).

Functions take and return NumPy/CuPy arrays (or Tensors where noted) and never record a graph.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np

from . import autograd
from .tensor import Tensor

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .typing import ArrayLike, DType, TensorLike

__all__ = ["class_centroids", "centroid_vector", "interpolate", "pixel_interpolate", "gaussian_grid", "manifold_grid"]


def _array(x):
    return x.array if isinstance(x, Tensor) else x


def class_centroids(z: ArrayLike, labels: TensorLike, num_classes: int | None = None) -> np.ndarray:
    """c_k = mean of z over the examples with label k.  z (N, D), labels (N,) ints in [0, K) -> (K, D).

    A class without examples gets a row of NaN (there is no centroid to move towards)."""
    z = np.asarray(_array(z), dtype=np.float64)
    labels = np.asarray(_array(labels)).astype(np.int64)
    if z.ndim != 2 or labels.shape != (z.shape[0],):
        raise ValueError(f"class_centroids: expected z (N, D) and labels (N,), got {z.shape} and {labels.shape}")
    k = int(num_classes if num_classes is not None else labels.max() + 1)
    counts = np.bincount(labels, minlength=k)[:k].astype(np.float64)  # (K,)
    sums = np.zeros((k, z.shape[1]))
    np.add.at(sums, labels, z)  # (K, D)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None]


def centroid_vector(centroids: ArrayLike, a: int, b: int) -> np.ndarray:
    """v = c_a - c_b, the latent direction pointing from class b's centroid to class a's: (D,)."""
    centroids = np.asarray(_array(centroids))
    return centroids[a] - centroids[b]


def interpolate(
    encoder: Callable[[Any], Any],
    decoder: Callable[[Any], Any],
    x: TensorLike,
    vector: ArrayLike,
    alphas: Sequence[float],
) -> np.ndarray:
    """Source 001's manipulation  x'(alpha) = decoder(encoder(x) + alpha * vector)  for every alpha.

    encoder: x (N, ...) -> z (N, D) (array or Tensor; a VAE's posterior mean, e.g.
    ``lambda x: vae.encode(x)[0]``); decoder: z (N, D) -> images (N, ...) (e.g. ``vae.decode_images``);
    x (N, ...); vector (D,); alphas (A,) -> (A, N, ...) decoded images, a NumPy array.

    All A * N latent points are decoded in one batch."""
    alphas = np.asarray(alphas, dtype=np.float64).reshape(-1)
    with autograd.no_grad():
        z = np.asarray(_array(encoder(x)))  # (N, D)
        vector = np.asarray(_array(vector), dtype=z.dtype).reshape(1, 1, -1)  # (1, 1, D)
        moved = z[None] + alphas.astype(z.dtype)[:, None, None] * vector  # (A, N, D)
        images = np.asarray(_array(decoder(moved.reshape(-1, z.shape[1]))))  # (A * N, ...)
    return images.reshape((len(alphas), z.shape[0]) + images.shape[1:])


def pixel_interpolate(
    x: np.ndarray, vector: np.ndarray, alphas: Sequence[float], clip: tuple[float, float] | None = (0.0, 1.0)
) -> np.ndarray:
    """The same move without a model, in pixel space: clip(x + alpha * vector) with vector = m_a - m_b, the
    difference of the class mean images (a baseline for :func:`interpolate`).
    x (N, ...), vector with x's per-example shape -> (A, N, ...)."""
    alphas = np.asarray(alphas, dtype=np.float64).reshape(-1)
    x = np.asarray(_array(x))
    vector = np.asarray(_array(vector), dtype=x.dtype)
    out = x[None] + alphas.astype(x.dtype).reshape((-1,) + (1,) * x.ndim) * vector[None, None]
    return np.clip(out, *clip) if clip is not None else out


def gaussian_grid(n: int = 20, low: float = 0.05, high: float = 0.95) -> np.ndarray:
    """An n x n grid of 2-D latent points at the standard normal's quantiles Phi^-1(p), p evenly spaced in
    [low, high] (K&W 2014, appendix A: "linearly spaced coordinates on the unit square were transformed through
    the inverse CDF of the Gaussian"). Row r has z_2 decreasing down the page, column q has z_1
    increasing, as a scatter plot reads. -> (n * n, 2) float64, rows in reading order."""
    quantiles = np.array([NormalDist().inv_cdf(p) for p in np.linspace(low, high, n)])
    z1, z2 = np.meshgrid(quantiles, quantiles[::-1])  # (n, n) each
    return np.stack([z1.ravel(), z2.ravel()], 1)


def manifold_grid(
    decoder: Callable[[Any], Any], n: int = 20, low: float = 0.05, high: float = 0.95, dtype: DType = np.float32
) -> np.ndarray:
    """Decode :func:`gaussian_grid` (n, low, high): decoder z (n*n, 2) -> images (n*n, ...), in reading order
    (ready for ``viz.save_image_grid(images, path, nrow=n)``). Only for a 2-D latent space."""
    z = gaussian_grid(n, low, high).astype(dtype)
    with autograd.no_grad():
        return np.asarray(_array(decoder(z)))
