"""Pointwise kernels: leaky ReLU and its backward, add and multiply (same shape, or an (N, C, ...) array with a
per-channel vector such as a bias) -- one parallel Numba pass each where the array code of
kernels/reference.py (the specification: same functions, same results up to rounding) takes several
single-threaded NumPy passes (in a DCGAN step those passes were a large share of the time outside the
convolutions: bench/README.md, history 16).  Inputs that are not C-contiguous float32/float64, or too
small to be worth a parallel region, go to the reference.  (The per-channel sum, a bias's gradient, is kernels/batch_norm.py's
channel_sum: it shares the per-channel worker there.)
"""

import enum

import numpy as np
from numba import njit, uint64

from . import loops, reference, runtime
from .loops import run_loop_workers, split

__all__ = [
    "leaky_relu",
    "leaky_relu_backward",
    "add",
    "multiply",
    "fast_path_ok",
    "in_dtype",
    "Pointwise",
    "ELEMENTWISE_MIN",
    "ELEMENTWISE_BLOCK",
]

# Elementwise jobs below this many elements run the reference code: with the spinning `omp` layer of the
# fused path a parallel region costs a few microseconds; with `workqueue` 70-130 us, hence its larger
# threshold.  Tests set it to 0.
ELEMENTWISE_MIN = (1 << 15) if runtime.FUSED else runtime.PARALLEL_MIN

# The same-shape operations are cut in blocks of this many elements; each worker takes a contiguous range.
ELEMENTWISE_BLOCK = 1 << 13


class Pointwise(enum.IntEnum):
    """The operation _pointwise_worker computes (one compiled worker for all six; the branch on it is
    loop-invariant)."""

    ADD = 0  # out = a + b
    MULTIPLY = 1  # out = a * b
    LEAKY_RELU = 2  # out = a where a > 0, else a * slope
    LEAKY_RELU_BACKWARD = 3  # out = a where b > 0, else a * slope     (a = gy, b = x)
    CHANNEL_ADD = 4  # out = a + b[c]    (a (N, C, L), b the (C,) per-channel vector)
    CHANNEL_MULTIPLY = 5  # out = a * b[c]


def fast_path_ok(*arrays, min_size=None):
    """Whether the Numba kernels take these arrays: C-contiguous float32/float64 of one dtype and shape, at
    least min_size (default ELEMENTWISE_MIN) elements, and not in a forked child (kernels/runtime.py)."""
    a0 = arrays[0]
    min_size = ELEMENTWISE_MIN if min_size is None else min_size
    return (
        not runtime.forked()
        and a0.dtype.kind == "f"
        and a0.dtype.itemsize in (4, 8)
        and a0.size >= min_size
        and all(a.dtype == a0.dtype and a.flags.c_contiguous and a.shape == a0.shape for a in arrays)
    )


@njit(inline="always")
def in_dtype(value, like):
    """The float64 `value` rounded to the dtype of the array `like`, as NumPy rounds a Python float that
    meets an array of that dtype (x * slope in float32 multiplies by float32(slope))."""
    box = np.empty(1, dtype=like.dtype)
    box[0] = value
    return box[0]


@njit(cache=True, error_model="numpy")
def _pointwise_worker(w, n_workers, ints, reals, arrays):
    """Worker w's range of blocks of a Pointwise operation; a loop worker (kernels/loops.py) with
    ints = (op, size, block, C), reals = (slope,), arrays = (a, out, b) flat, b absent for LEAKY_RELU.
    Blocks: the (n, c) planes for the per-channel operations (block = the plane size L of the (N, C, L)
    array, C > 1), blocks of ELEMENTWISE_BLOCK elements for the others (C = 1)."""
    op, size, block, C = ints[0], ints[1], ints[2], ints[3]
    af, outf, bf = arrays[0], arrays[1], arrays[2]
    slope = in_dtype(reals[0], af)
    b0, b1 = split(w, n_workers, (size + block - 1) // block)
    for blk in range(b0, b1):
        lo = uint64(blk * block)  # unsigned indices: no negative-index wraparound checks
        n = min(size, (blk + 1) * block) - blk * block
        if op == Pointwise.ADD:
            for i in range(n):
                outf[lo + uint64(i)] = af[lo + uint64(i)] + bf[lo + uint64(i)]
        elif op == Pointwise.MULTIPLY:
            for i in range(n):
                outf[lo + uint64(i)] = af[lo + uint64(i)] * bf[lo + uint64(i)]
        elif op == Pointwise.LEAKY_RELU:
            for i in range(n):
                a = af[lo + uint64(i)]
                outf[lo + uint64(i)] = a if a > 0 else a * slope
        elif op == Pointwise.LEAKY_RELU_BACKWARD:
            for i in range(n):
                a = af[lo + uint64(i)]
                outf[lo + uint64(i)] = a if bf[lo + uint64(i)] > 0 else a * slope
        elif op == Pointwise.CHANNEL_ADD:
            v = bf[blk % C]
            for i in range(n):
                outf[lo + uint64(i)] = af[lo + uint64(i)] + v
        else:
            v = bf[blk % C]
            for i in range(n):
                outf[lo + uint64(i)] = af[lo + uint64(i)] * v


def _pointwise(op, a, b=None, slope=0.0, per_channel=False):
    """out of a Pointwise operation for C-contiguous a and same-shape b, or (per_channel) for a (N, C, ...)
    and b a (C,) vector broadcast over the other axes."""
    out = np.empty_like(a)
    if per_channel:
        ints = loops.ints(op, a.size, max(1, a.size // max(1, a.shape[0] * a.shape[1])), a.shape[1])
    else:
        ints = loops.ints(op, a.size, ELEMENTWISE_BLOCK, 1)
    arrays = (a.reshape(-1), out.reshape(-1)) + (() if b is None else (b.reshape(-1),))
    run_loop_workers(_pointwise_worker, runtime.threads(), ints, loops.reals(float(slope)), *arrays)
    return out


def leaky_relu(x, slope):
    """See reference.leaky_relu."""
    if not fast_path_ok(x):
        return reference.leaky_relu(x, slope)
    return _pointwise(Pointwise.LEAKY_RELU, x, slope=slope)


def leaky_relu_backward(gy, x, slope):
    """See reference.leaky_relu_backward (one pass, no slope map)."""
    if not fast_path_ok(gy, x):
        return reference.leaky_relu_backward(gy, x, slope)
    return _pointwise(Pointwise.LEAKY_RELU_BACKWARD, gy, x, slope=slope)


def _channel_vector(big, small):
    """small as a (C,) vector if it broadcasts against big (N, C, ...) along axis 1 only, else None."""
    if big.ndim < 2 or small.ndim > big.ndim:
        return None
    shape = (1,) * (big.ndim - small.ndim) + small.shape
    if shape[1] != big.shape[1] or any(n != 1 for i, n in enumerate(shape) if i != 1):
        return None
    return np.ascontiguousarray(small).reshape(-1)


def _binary_op(a, b, op, fallback):
    """a (op) b on the Numba path for same-shape arrays and for an (N, C, ...) array with a per-channel
    vector (a bias, a batch-norm scale), in either order; everything else is NumPy's (fallback)."""
    if (
        (a.size < ELEMENTWISE_MIN and b.size < ELEMENTWISE_MIN)
        or a.dtype != b.dtype
        or a.dtype.kind != "f"
        or a.dtype.itemsize not in (4, 8)
    ):
        return fallback(a, b)
    if a.shape == b.shape:
        if not fast_path_ok(a, b):
            return fallback(a, b)
        return _pointwise(op, a, b)
    big, small = (a, b) if a.size >= b.size else (b, a)
    vector = _channel_vector(big, small) if fast_path_ok(big) else None
    if vector is None:
        return fallback(a, b)
    per_channel_op = Pointwise.CHANNEL_ADD if op == Pointwise.ADD else Pointwise.CHANNEL_MULTIPLY
    return _pointwise(per_channel_op, big, vector, per_channel=True)


def add(a, b):
    """See reference.add (same-shape or per-channel operands: one parallel pass)."""
    if a.size < ELEMENTWISE_MIN and b.size < ELEMENTWISE_MIN:  # small: the reference, without two calls
        return a + b
    return _binary_op(a, b, Pointwise.ADD, reference.add)


def multiply(a, b):
    """See reference.multiply (same-shape or per-channel operands: one parallel pass)."""
    if a.size < ELEMENTWISE_MIN and b.size < ELEMENTWISE_MIN:  # small: the reference, without two calls
        return a * b
    return _binary_op(a, b, Pointwise.MULTIPLY, reference.multiply)
