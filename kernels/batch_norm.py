"""Batch normalisation over the channels of an (N, C, ...) array -- forward with its affine step, backward,
backward through the affine step -- and the per-channel sum, as one parallel Numba pass per channel (two
for the sums that a pass needs first) where kernels/reference.py (the specification) takes several NumPy
passes.  Statistics are accumulated in float64, vectorised (reassociation allowed).  Inputs the Numba path
does not take (kernels/pointwise.py's fast_path_ok) go to the reference.
"""

import enum

import numpy as np
from numba import njit, uint64

from . import loops, reference, runtime
from .loops import run_loop_workers, split
from .pointwise import fast_path_ok

__all__ = [
    "batch_norm_forward",
    "batch_norm_backward",
    "batch_norm_affine_backward",
    "channel_sum",
    "PerChannel",
    "ChannelStats",
]


class PerChannel(enum.IntEnum):
    """The operation _per_channel_worker computes (one compiled worker for all four)."""

    BATCH_NORM_FORWARD = 0
    BATCH_NORM_BACKWARD = 1
    BATCH_NORM_AFFINE_BACKWARD = 2
    CHANNEL_SUM = 3


# The per-channel values the worker reads and writes are one (FIELDS, C) array in the data's dtype (one array
# argument of a loop worker, kernels/loops.py), a ChannelStats; each row is one named field, the same in
# every operation:
MEAN, VAR, INV_STD = 0, 1, 2  # the batch statistics, inv_std = 1/sqrt(var + eps)
WEIGHT, BIAS = 3, 4  # the affine step's parameters (1 and 0 without one)
SUM_A, SUM_A_XHAT = 5, 6  # the sums over a channel of the operation's input a, and of a * x_hat
FIELDS = 7


class ChannelStats:
    """The per-channel values of one batch-norm call, by name (rows of `array`, laid out as above)."""

    def __init__(self, channels, dtype):
        self.array = np.empty((FIELDS, channels), dtype=dtype)

    @property
    def mean(self):
        return self.array[MEAN]

    @property
    def var(self):
        return self.array[VAR]

    @property
    def inv_std(self):
        return self.array[INV_STD]

    @property
    def weight(self):
        return self.array[WEIGHT]

    @property
    def bias(self):
        return self.array[BIAS]

    @property
    def sum_a(self):
        return self.array[SUM_A]

    @property
    def sum_a_xhat(self):
        return self.array[SUM_A_XHAT]


@njit(cache=True, fastmath={"reassoc"}, error_model="numpy")
def _per_channel_worker(w, n_workers, ints, reals, arrays):
    """Worker w's range of channels c of the (N, C, L) arrays a, out, b (flat), M = N*L; a loop worker
    (kernels/loops.py) with ints = (op, N, C, L), reals = (eps,), arrays = (stats, a, out, b), stats a
    ChannelStats's array, flat.  By op:

    BATCH_NORM_FORWARD           (a = x; reads weight, bias):  writes mean, var, inv_std,
                                 out = (x - mean) * inv_std * weight + bias
    BATCH_NORM_BACKWARD          (a = g, b = x_hat; reads inv_std):
                                 out = inv_std * (g - mean(g) - x_hat * mean(g * x_hat))
    BATCH_NORM_AFFINE_BACKWARD   (a = g, b = x; reads mean, inv_std, weight; x_hat from x):  writes
                                 sum_a = sum(g), sum_a_xhat = sum(g * x_hat),
                                 out = inv_std * weight * (g - mean(g) - x_hat * mean(g * x_hat))
    CHANNEL_SUM                  (a = x; no out, no b):  writes sum_a = sum of x[:, c]
    """
    op, N, C, L = ints[0], ints[1], ints[2], ints[3]
    eps = reals[0]
    stats = arrays[0].reshape((FIELDS, C))
    af, outf, bf = arrays[1], arrays[2], arrays[3]
    M = N * L
    c0, c1 = split(w, n_workers, C)
    for c in range(c0, c1):
        s = 0.0
        sab = 0.0
        for n in range(N):
            base = uint64((n * C + c) * L)
            if op == PerChannel.BATCH_NORM_BACKWARD:
                for i in range(L):
                    g = af[base + uint64(i)]
                    s += g
                    sab += g * bf[base + uint64(i)]
            elif op == PerChannel.BATCH_NORM_AFFINE_BACKWARD:
                m, inv = stats[MEAN, c], stats[INV_STD, c]
                for i in range(L):
                    g = af[base + uint64(i)]
                    s += g
                    sab += g * ((bf[base + uint64(i)] - m) * inv)
            else:
                for i in range(L):
                    s += af[base + uint64(i)]
        if op == PerChannel.CHANNEL_SUM:
            stats[SUM_A, c] = s
        elif op == PerChannel.BATCH_NORM_FORWARD:
            m = s / M
            ss = 0.0
            for n in range(N):
                base = uint64((n * C + c) * L)
                for i in range(L):
                    d = af[base + uint64(i)] - m
                    ss += d * d
            v = ss / M
            inv = (v + eps) ** -0.5
            scale, shift = inv * stats[WEIGHT, c], stats[BIAS, c]
            for n in range(N):
                base = uint64((n * C + c) * L)
                for i in range(L):
                    outf[base + uint64(i)] = (af[base + uint64(i)] - m) * scale + shift
            stats[MEAN, c], stats[VAR, c], stats[INV_STD, c] = m, v, inv
        elif op == PerChannel.BATCH_NORM_BACKWARD:
            mg, mgh, inv = s / M, sab / M, stats[INV_STD, c]
            for n in range(N):
                base = uint64((n * C + c) * L)
                for i in range(L):
                    outf[base + uint64(i)] = inv * (af[base + uint64(i)] - mg - bf[base + uint64(i)] * mgh)
        else:
            mg, mgh = s / M, sab / M
            m, inv = stats[MEAN, c], stats[INV_STD, c]
            scale = inv * stats[WEIGHT, c]
            stats[SUM_A_XHAT, c], stats[SUM_A, c] = sab, s
            for n in range(N):
                base = uint64((n * C + c) * L)
                for i in range(L):
                    h = (bf[base + uint64(i)] - m) * inv
                    outf[base + uint64(i)] = scale * (af[base + uint64(i)] - mg - h * mgh)


def _per_channel_job(op, stats, a, out=None, b=None, eps=0.0):
    """_per_channel_worker on every thread for the (N, C, ...) arrays a, out, b (out and b as the op needs)."""
    N, C = a.shape[:2]
    L = a.size // max(1, N * C)
    arrays = [stats.array.reshape(-1), a.reshape(-1)]
    if out is not None:
        arrays.append(out.reshape(-1))
    if b is not None:
        arrays.append(b.reshape(-1))
    run_loop_workers(_per_channel_worker, runtime.threads(), loops.ints(op, N, C, L), loops.reals(float(eps)), *arrays)


def batch_norm_forward(x, eps, weight=None, bias=None):
    """See reference.batch_norm_forward (statistics accumulated in float64 here; the affine step, when
    weight and bias are given, in the normalising pass)."""
    if not fast_path_ok(x) or x.ndim < 2:
        return reference.batch_norm_forward(x, eps, weight, bias)
    y = np.empty_like(x)
    stats = ChannelStats(x.shape[1], x.dtype)
    stats.weight[:] = 1.0 if weight is None else weight
    stats.bias[:] = 0.0 if bias is None else bias
    _per_channel_job(PerChannel.BATCH_NORM_FORWARD, stats, x, y, eps=eps)
    return y, stats.mean.copy(), stats.var.copy(), stats.inv_std.copy()


def batch_norm_backward(g, x_hat, inv_std):
    """See reference.batch_norm_backward."""
    if not fast_path_ok(g, x_hat) or g.ndim < 2:
        return reference.batch_norm_backward(g, x_hat, inv_std)
    gx = np.empty_like(g)
    stats = ChannelStats(g.shape[1], g.dtype)
    stats.inv_std[:] = inv_std
    _per_channel_job(PerChannel.BATCH_NORM_BACKWARD, stats, g, gx, x_hat)
    return gx


def batch_norm_affine_backward(g, x, mean, inv_std, weight):
    """See reference.batch_norm_affine_backward (two passes over g and x: the sums, then gx)."""
    if not fast_path_ok(g, x) or g.ndim < 2:
        return reference.batch_norm_affine_backward(g, x, mean, inv_std, weight)
    gx = np.empty_like(g)
    stats = ChannelStats(g.shape[1], g.dtype)
    stats.mean[:], stats.inv_std[:], stats.weight[:] = mean, inv_std, weight
    _per_channel_job(PerChannel.BATCH_NORM_AFFINE_BACKWARD, stats, g, gx, x)
    return gx, stats.sum_a_xhat.copy(), stats.sum_a.copy()


def channel_sum(x):
    """See reference.channel_sum (float64 accumulation, one task per channel)."""
    if x.ndim < 2 or not fast_path_ok(x):
        return reference.channel_sum(x)
    stats = ChannelStats(x.shape[1], x.dtype)
    _per_channel_job(PerChannel.CHANNEL_SUM, stats, x)
    return stats.sum_a.copy()
