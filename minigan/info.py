"""Information theory on arrays: entropy, KL and JS divergences, mutual information.

Everything here is plain NumPy on the CPU and returns Python floats (or float arrays for batched
probability vectors). The differentiable, Tensor-valued quantities the models train with (the InfoGAN
lower bounds, the Gaussian KL of the VAE) live in ``minigan.losses`` and ``minigan.functional``.

Units: natural logarithms (nats) by default; ``base=2`` gives bits, ``base=10`` the "hartleys" of
source 002's worked examples.

References
----------
- T. M. Cover and J. A. Thomas, *Elements of Information Theory*, 2nd ed., Wiley 2006, ch. 2 and 8.
- J. Lin, "Divergence measures based on the Shannon entropy", IEEE Trans. Inf. Theory 37(1), 1991 (JS).
- A. Kraskov, H. Stögbauer and P. Grassberger, "Estimating mutual information",
  Phys. Rev. E 69, 066138 (2004), arXiv:cond-mat/0305641 (the KSG estimator, algorithm 1).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .typing import ArrayLike

__all__ = [
    "entropy",
    "kl_divergence",
    "js_divergence",
    "contingency_table",
    "joint_entropy",
    "conditional_entropy",
    "mutual_information",
    "normalized_mutual_information",
    "ksg_mutual_information",
]


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def _log_base_divisor(base: float | None) -> float:
    """ln(base), the number that turns nats into units of ``base`` (1.0 for nats)."""
    if base is None:
        return 1.0
    if not base > 0 or base == 1:
        raise ValueError(f"base must be positive and not 1, got {base!r}")
    return math.log(base)


def _as_probabilities(p, name: str) -> np.ndarray:
    """Float64 copy of ``p`` normalised along the last axis, so counts and probabilities both work."""
    p = np.asarray(p, dtype=np.float64)
    if p.ndim == 0:
        raise ValueError(f"{name} must be a vector (or a batch of vectors along the last axis), got a scalar")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} has non-finite entries")
    if np.any(p < 0):
        raise ValueError(f"{name} has negative entries; probabilities and counts are >= 0")
    total = p.sum(axis=-1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError(f"{name} sums to zero; it cannot be normalised into a distribution")
    return p / total


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x * log(y) with the convention 0 * log(anything) = 0 (so 0 log 0 = 0 and 0 log(0/0) = 0)."""
    out = np.zeros(np.broadcast(x, y).shape, dtype=np.float64)
    x, y = np.broadcast_arrays(x, y)
    positive = x > 0
    with np.errstate(divide="ignore"):  # log(0) = -inf where x > 0 = y is the honest answer
        out[positive] = x[positive] * np.log(y[positive])
    return out


def _scalar_or_array(value: np.ndarray):
    return float(value) if np.ndim(value) == 0 else value


# --------------------------------------------------------------------------------------------------
# distributions given as probability (or count) vectors
# --------------------------------------------------------------------------------------------------


def entropy(p: ArrayLike, base: float | None = None) -> float | np.ndarray:
    """Shannon entropy of a discrete distribution.

    H(p) = -sum_i p_i log p_i, with 0 log 0 = 0.

    ``p``: shape (K,) or (..., K); counts are normalised along the last axis. Returns a float for a
    vector, an array of shape (...) for a batch. Units: nats, or ``base`` (2 = bits).
    """
    p = _as_probabilities(p, "p")
    h = -_xlogy(p, p).sum(axis=-1) / _log_base_divisor(base)
    return _scalar_or_array(h + 0.0)  # + 0.0 turns -0.0 into 0.0


def kl_divergence(p: ArrayLike, q: ArrayLike, base: float | None = None) -> float | np.ndarray:
    """Kullback-Leibler divergence KL(p || q) of two discrete distributions on the same K outcomes.

    KL(p || q) = sum_i p_i log(p_i / q_i), with 0 log(0 / q) = 0, and KL = +inf when some q_i = 0 < p_i
    (p puts mass where q has none). Not symmetric: source 002 shows KL([1..5] || [5..1 with one tiny
    entry]) = 9.66 but KL of the reverse-tiny case = 0.74.

    ``p``, ``q``: shape (K,) or broadcastable batches (..., K); counts are normalised. Returns float
    (or array (...)). Units: nats, or ``base``.
    """
    p = _as_probabilities(p, "p")
    q = _as_probabilities(q, "q")
    if p.shape[-1] != q.shape[-1]:
        raise ValueError(f"p and q must have the same number of outcomes, got {p.shape[-1]} and {q.shape[-1]}")
    p, q = np.broadcast_arrays(p, q)
    terms = np.zeros(p.shape, dtype=np.float64)
    support = p > 0
    with np.errstate(divide="ignore"):  # q = 0 < p gives p * log(p / 0) = +inf, which is the definition
        terms[support] = p[support] * (np.log(p[support]) - np.log(q[support]))
    return _scalar_or_array(terms.sum(axis=-1) / _log_base_divisor(base))


def js_divergence(p: ArrayLike, q: ArrayLike, base: float | None = None) -> float | np.ndarray:
    """Jensen-Shannon divergence of two discrete distributions (Lin 1991).

    JS(p, q) = 1/2 KL(p || m) + 1/2 KL(q || m),  m = (p + q) / 2.

    Symmetric, always finite, 0 <= JS <= log 2 (= 1 bit). The optimal GAN discriminator turns the
    minimax value into 2 JS(p_data, p_g) - 2 log 2 (Goodfellow et al. 2014), hence its place here.

    ``p``, ``q``: shape (K,) or broadcastable batches (..., K); counts are normalised.
    """
    p = _as_probabilities(p, "p")
    q = _as_probabilities(q, "q")
    m = 0.5 * (p + q)
    return _scalar_or_array(0.5 * kl_divergence(p, m, base) + 0.5 * kl_divergence(q, m, base))


# --------------------------------------------------------------------------------------------------
# paired discrete samples
# --------------------------------------------------------------------------------------------------


def _category_codes(values, name: str) -> tuple[np.ndarray, int]:
    """Integer codes 0..n_categories-1 for the categories of a sample.

    ``values``: shape (N,) of any sortable dtype (ints, strings), or (N, d) where each row is one
    multivariate category.
    """
    values = np.asarray(values)
    if values.ndim == 1:
        categories, codes = np.unique(values, return_inverse=True)
    elif values.ndim == 2:
        categories, codes = np.unique(values, axis=0, return_inverse=True)
    else:
        raise ValueError(f"{name} must have shape (N,) or (N, d), got {values.shape}")
    if values.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    return codes.reshape(-1), len(categories)


def contingency_table(x: ArrayLike, y: ArrayLike) -> np.ndarray:
    """Counts n[a, b] = #{i : x_i is category a and y_i is category b} of paired samples.

    ``x``, ``y``: shape (N,) (or (N, d) for multivariate categories), same N. Returns an int64 array of
    shape (number of distinct x, number of distinct y); categories are in sorted order. One
    ``np.bincount`` over the flattened pair codes: O(N log N), not source 002's O(N * |X| * |Y|) loops.
    """
    x_codes, n_x = _category_codes(x, "x")
    y_codes, n_y = _category_codes(y, "y")
    if x_codes.shape[0] != y_codes.shape[0]:
        raise ValueError(
            f"x and y must be paired samples of the same length, got {x_codes.shape[0]} and {y_codes.shape[0]}"
        )
    return np.bincount(x_codes * n_y + y_codes, minlength=n_x * n_y).reshape(n_x, n_y)


def joint_entropy(x: ArrayLike, y: ArrayLike, base: float | None = None) -> float:
    """H(X, Y) = -sum_{a,b} p(a, b) log p(a, b), with p the empirical joint distribution of the pairs."""
    return entropy(contingency_table(x, y).ravel(), base)


def conditional_entropy(x: ArrayLike, y: ArrayLike, base: float | None = None) -> float:
    """H(X | Y) = H(X, Y) - H(Y): the uncertainty left in X once Y is known (empirical, plug-in).

    ``x``, ``y``: paired samples, shape (N,) or (N, d). 0 when X is a function of Y.
    """
    table = contingency_table(x, y)
    return entropy(table.ravel(), base) - entropy(table.sum(axis=0), base)


def mutual_information(x: ArrayLike, y: ArrayLike, base: float | None = None) -> float:
    """Plug-in mutual information of paired discrete samples.

    I(X; Y) = sum_{a,b} p(a, b) log[ p(a, b) / (p(a) p(b)) ] = H(X) - H(X | Y),

    with p the empirical frequencies from the contingency table. ``x``, ``y``: shape (N,) or (N, d),
    same N. Returns a float >= 0 (up to rounding). Source 002's examples give 0.653 and 0.796 with
    ``base=10``.
    """
    table = contingency_table(x, y).astype(np.float64)
    p_xy = table / table.sum()
    p_x = p_xy.sum(axis=1, keepdims=True)
    p_y = p_xy.sum(axis=0, keepdims=True)
    nonzero = p_xy > 0
    outer = (p_x * p_y)[nonzero]
    mi = np.sum(p_xy[nonzero] * np.log(p_xy[nonzero] / outer)) / _log_base_divisor(base)
    return max(float(mi), 0.0)  # rounding can leave -1e-17 for independent samples


def normalized_mutual_information(x: ArrayLike, y: ArrayLike, average: str = "arithmetic") -> float:
    """Mutual information scaled to [0, 1]: I(X; Y) / mean(H(X), H(Y)).

    ``average`` picks the mean: "arithmetic" (H(X) + H(Y)) / 2 (scikit-learn's default), "geometric"
    sqrt(H(X) H(Y)), "min" or "max". Independent of the log base. When both samples are constant
    (H(X) = H(Y) = 0) the labellings agree perfectly and the result is 1; when only the denominator
    vanishes otherwise, I = 0 and the result is 0. Reference: Strehl and Ghosh, JMLR 3 (2002);
    Vinh, Epps and Bailey, JMLR 11 (2010).
    """
    table = contingency_table(x, y)
    h_x = entropy(table.sum(axis=1))
    h_y = entropy(table.sum(axis=0))
    if h_x == 0.0 and h_y == 0.0:
        return 1.0
    denominators = {
        "arithmetic": 0.5 * (h_x + h_y),
        "geometric": math.sqrt(h_x * h_y),
        "min": min(h_x, h_y),
        "max": max(h_x, h_y),
    }
    if average not in denominators:
        raise ValueError(f"average must be one of {sorted(denominators)}, got {average!r}")
    denominator = denominators[average]
    if denominator == 0.0:
        return 0.0
    return min(mutual_information(x, y) / denominator, 1.0)


# --------------------------------------------------------------------------------------------------
# continuous samples: Kraskov-Stögbauer-Grassberger
# --------------------------------------------------------------------------------------------------


def _digamma_of_integers(max_argument: int) -> np.ndarray:
    """psi(n) for n = 0..max_argument (entry 0 unused): psi(1) = -gamma, psi(n + 1) = psi(n) + 1/n."""
    euler_gamma = 0.57721566490153286061
    table = np.empty(max_argument + 1, dtype=np.float64)
    table[0] = np.nan
    table[1:] = -euler_gamma + np.concatenate(([0.0], np.cumsum(1.0 / np.arange(1, max_argument))))
    return table


def _as_sample_matrix(values, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(f"{name} must have shape (N,) or (N, d), got {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} has non-finite entries")
    return values


def _max_norm_neighbour_stats_brute_force(x, y, k, chunk_rows=256):
    """NumPy-only KSG counts, O(N^2) time, O(chunk_rows * N) memory; used when SciPy is missing."""
    n = x.shape[0]
    n_x = np.empty(n, dtype=np.int64)
    n_y = np.empty(n, dtype=np.int64)
    for start in range(0, n, chunk_rows):
        rows = slice(start, min(start + chunk_rows, n))
        distance_x = np.abs(x[rows, None, :] - x[None, :, :]).max(axis=2)  # (rows, N)
        distance_y = np.abs(y[rows, None, :] - y[None, :, :]).max(axis=2)
        distance_joint = np.maximum(distance_x, distance_y)
        # column k of the sorted row: index 0 is the point itself (distance 0), so k is the k-th neighbour
        epsilon = np.partition(distance_joint, k, axis=1)[:, k]
        if np.any(epsilon == 0):
            raise ValueError("KSG: some point has k neighbours at distance 0 (duplicate samples); add tiny noise")
        n_x[rows] = (distance_x < epsilon[:, None]).sum(axis=1) - 1  # - 1: the point itself
        n_y[rows] = (distance_y < epsilon[:, None]).sum(axis=1) - 1
    return n_x, n_y


def _max_norm_neighbour_stats_kdtree(x, y, k, cKDTree):
    joint = np.hstack([x, y])
    # k + 1 because the nearest "neighbour" of each point is itself
    distances, _ = cKDTree(joint).query(joint, k=k + 1, p=np.inf, workers=-1)
    epsilon = distances[:, k]
    if np.any(epsilon == 0):
        raise ValueError("KSG: some point has k neighbours at distance 0 (duplicate samples); add tiny noise")
    # strict inequality ||x_j - x_i|| < epsilon_i: query_ball_point counts <= r, so shrink r by one ulp
    radius = np.nextafter(epsilon, 0)
    n_x = cKDTree(x).query_ball_point(x, radius, p=np.inf, return_length=True, workers=-1) - 1
    n_y = cKDTree(y).query_ball_point(y, radius, p=np.inf, return_length=True, workers=-1) - 1
    return np.asarray(n_x, dtype=np.int64), np.asarray(n_y, dtype=np.int64)


def ksg_mutual_information(
    x: ArrayLike, y: ArrayLike, k: int = 3, base: float | None = None, method: str = "auto"
) -> float:
    """Mutual information of continuous samples by the Kraskov-Stögbauer-Grassberger estimator, algorithm 1.

    For each point i of the joint sample z_i = (x_i, y_i), with the max-norm
    ||z - z'|| = max(||x - x'||_inf, ||y - y'||_inf):

        epsilon_i = distance from z_i to its k-th nearest neighbour in the joint space,
        n_x(i)    = #{j != i : ||x_j - x_i||_inf < epsilon_i},   n_y(i) likewise,

        I(X; Y) ~= psi(k) + psi(N) - < psi(n_x(i) + 1) + psi(n_y(i) + 1) >_i ,

    psi the digamma function (computed exactly for integers from the harmonic numbers, so no SciPy needed
    for it). Kraskov, Stögbauer and Grassberger, Phys. Rev. E 69, 066138 (2004), eq. (8).

    ``x``: shape (N,) or (N, d_x); ``y``: shape (N,) or (N, d_y); any dimensions. ``k``: neighbours, small
    k (3-10) gives low bias, larger k lower variance. Returns a float in nats (or ``base``); it can be
    slightly negative for independent samples — it is an estimate, not clipped. The estimator is exact in
    expectation for independent X, Y, and is not scale-invariant across the joint space, so standardise
    variables of very different scales. Duplicate points make some epsilon_i = 0 and raise a ValueError:
    add noise of tiny amplitude (e.g. 1e-10 * std) first, as the paper recommends for discretised data.

    ``method``: "kdtree" (scipy.spatial.cKDTree, O(N log N); N = 10 000 in well under a second),
    "brute" (NumPy only, O(N^2): a few seconds at N = 10 000) or "auto" (kdtree when SciPy is
    installed, otherwise brute). SciPy is in the ``test`` extra, not the default install, hence the fallback.
    """
    x = _as_sample_matrix(x, "x")
    y = _as_sample_matrix(y, "y")
    n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"x and y must be paired samples of the same length, got {n} and {y.shape[0]}")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if n <= k:
        raise ValueError(f"KSG needs more than k = {k} samples, got {n}")

    cKDTree = None
    if method in ("auto", "kdtree"):
        try:
            from scipy.spatial import cKDTree
        except ImportError:
            if method == "kdtree":
                raise ModuleNotFoundError(
                    "ksg_mutual_information(method='kdtree') needs SciPy: pip install scipy (or use method='brute')"
                ) from None
    elif method != "brute":
        raise ValueError(f"method must be 'auto', 'kdtree' or 'brute', got {method!r}")

    if cKDTree is not None:
        n_x, n_y = _max_norm_neighbour_stats_kdtree(x, y, k, cKDTree)
    else:
        n_x, n_y = _max_norm_neighbour_stats_brute_force(x, y, k)

    psi = _digamma_of_integers(n + 1)
    mi = psi[k] + psi[n] - np.mean(psi[n_x + 1] + psi[n_y + 1])
    return float(mi) / _log_base_divisor(base)
