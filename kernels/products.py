"""Matrix products on the private BLAS (kernels/blas.py), split over Numba's threads: minigan's matmul
primitive on the NumPy backend, and the products of the unfused and few-channel conv layers.

Why not NumPy's `@`: one product on NumPy's multi-threaded OpenBLAS leaves its worker threads spinning for
~0.1 s, and a Numba kernel that follows finds a core busy (a linear layer feeding a transposed conv, as in
every DCGAN generator, ran its conv at half speed).  Here a large product is split in row or column blocks
(or batch items) over the Numba threads, each block one single-threaded call of the private BLAS; small
products run on the calling thread (or, below NUMPY_MATMUL_MAX, are NumPy's, which then runs them on the
calling thread too).  (bench/README.md, history 11.)
"""

import numpy as np
from numba import njit

from . import blas, loops, runtime
from .loops import run_blas_workers

__all__ = ["matmul", "product", "batched_product", "private_gemm", "NUMPY_MATMUL_MAX", "MATMUL_PARALLEL_MIN"]

_ROW_MAJOR, _NO_TRANS, _TRANS = blas.ROW_MAJOR, blas.NO_TRANS, blas.TRANS


def private_gemm(dtype, *dims):
    """The private BLAS's gemm for this dtype when the fused path is on (kernels/runtime.py's FUSED) and the
    dimensions fit its 32-bit interface, else None."""
    if not runtime.FUSED or not blas.fits_int32(*dims):
        return None
    return blas.gemm_for(np.dtype(dtype))


@njit(cache=True)
def _gemm_worker(w, n_workers, gemm, ints, arrays):
    """Worker w's share of C[i] (M, N) = op(A[i]) @ op(B[i]), i < batch, where A[i] starts i*stride_a
    elements into a_array's memory (stride 0: one A for all), likewise B and C; a BLAS worker
    (kernels/loops.py) with arrays = (a_array, b_array, c_array) and ints = (batch, trans_a, trans_b, M, N,
    K, lda, stride_a, ldb, stride_b, ldc, stride_c).  A batch is split by items; a single product (batch 1)
    in blocks of rows of C when M >= N, else of columns.  (One worker for both cases: one compiled function
    fewer on first use.)"""
    batch, trans_a, trans_b, M, N, K = ints[0], ints[1], ints[2], ints[3], ints[4], ints[5]
    lda, stride_a, ldb, stride_b, ldc, stride_c = ints[6], ints[7], ints[8], ints[9], ints[10], ints[11]
    a_array, b_array, c_array = arrays
    a, b, c = a_array.ctypes.data, b_array.ctypes.data, c_array.ctypes.data
    itemsize = a_array.itemsize
    if batch > 1:
        for i in range(w * batch // n_workers, (w + 1) * batch // n_workers):
            gemm(
                _ROW_MAJOR,
                trans_a,
                trans_b,
                M,
                N,
                K,
                1.0,
                a + i * stride_a * itemsize,
                lda,
                b + i * stride_b * itemsize,
                ldb,
                0.0,
                c + i * stride_c * itemsize,
                ldc,
            )
    elif M >= N:
        m0, m1 = w * M // n_workers, (w + 1) * M // n_workers
        if m1 > m0:
            a_off = m0 * lda if trans_a == _NO_TRANS else m0
            gemm(
                _ROW_MAJOR,
                trans_a,
                trans_b,
                m1 - m0,
                N,
                K,
                1.0,
                a + a_off * itemsize,
                lda,
                b,
                ldb,
                0.0,
                c + m0 * ldc * itemsize,
                ldc,
            )
    else:
        n0, n1 = w * N // n_workers, (w + 1) * N // n_workers
        if n1 > n0:
            b_off = n0 if trans_b == _NO_TRANS else n0 * ldb
            gemm(
                _ROW_MAJOR,
                trans_a,
                trans_b,
                M,
                n1 - n0,
                K,
                1.0,
                a,
                lda,
                b + b_off * itemsize,
                ldb,
                0.0,
                c + n0 * itemsize,
                ldc,
            )


# Products below this many multiply-adds (per matrix) go to NumPy (see matmul).  Tests set it to 0.
NUMPY_MATMUL_MAX = 1 << 18

# Products of at least this many multiply-adds are split over the Numba threads; smaller ones run on the
# calling thread.  At 2^19 (32x128x128) the split saved nothing even when the second thread got a core
# at once; from 1.5 Mi it saves 25-43% then.  On a loaded machine any split waits for a core (~11 ms a
# product here): bench/README.md, "The engine's own cost, second round: fused primitives (issue 17)".
# Tests set it to 0 or to a huge value.
MATMUL_PARALLEL_MIN = 1 << 20


def _blas_operand(m):
    """(its memory as a flat array, trans flag, leading dimension) for a 2-D operand, without copying when
    m or m.T is C-contiguous."""
    if m.flags.c_contiguous:
        return m.reshape(-1), _NO_TRANS, max(1, m.shape[1])
    if m.flags.f_contiguous:
        return m.T.reshape(-1), _TRANS, max(1, m.shape[0])
    m = np.ascontiguousarray(m)
    return m.reshape(-1), _NO_TRANS, max(1, m.shape[1])


def _matmul_2d(a, b, gemm, out):
    """out (M, N) = a (M, K) @ b (K, N) on the private BLAS."""
    (M, K), N = a.shape, b.shape[1]
    a, trans_a, lda = _blas_operand(a)
    b, trans_b, ldb = _blas_operand(b)
    parallel = M * N * K >= MATMUL_PARALLEL_MIN and max(M, N) > 1
    run_blas_workers(
        _gemm_worker,
        runtime.threads() if parallel else 1,
        gemm,
        loops.ints(1, trans_a, trans_b, M, N, K, lda, 0, ldb, 0, max(1, N), 0),
        a,
        b,
        out.reshape(-1),
    )


def _matmul_batch(a, b, gemm, out):
    """out[i] (M, N) = a[i] (M, K) @ b[i] (K, N) for 3-D C-contiguous a, b, out; a batch axis of length 1
    in a or b is shared by every item (stride 0)."""
    B, M, N = out.shape
    K = a.shape[2]
    stride_a = 0 if a.shape[0] == 1 else M * K
    stride_b = 0 if b.shape[0] == 1 else K * N
    n_workers = min(B, runtime.threads()) if B * M * N * K >= MATMUL_PARALLEL_MIN else 1
    run_blas_workers(
        _gemm_worker,
        n_workers,
        gemm,
        loops.ints(B, _NO_TRANS, _NO_TRANS, M, N, K, max(1, K), stride_a, max(1, N), stride_b, max(1, N), M * N),
        a.reshape(-1),
        b.reshape(-1),
        out.reshape(-1),
    )


def matmul(a, b):
    """a @ b with NumPy's broadcasting rules, for arrays of at least 2 dimensions.

    Products of fewer than NUMPY_MATMUL_MAX multiply-adds per matrix are NumPy's: OpenBLAS runs those on
    the calling thread (its threshold is 65536 * 4), so no BLAS pool wakes up, and NumPy's call costs ~1 us
    where ours costs several.  Larger float32/float64 products of 2-D matrices, of a C-contiguous stack with a matrix, and of two stacks
    with the same batch shape run on kernels/blas.py's private BLAS; everything else (mixed or integer
    dtypes, broadcasting between different batch shapes, empty matrices, no private BLAS) is NumPy's `@`.
    """
    if a.ndim < 2 or b.ndim < 2 or a.shape[-2] * a.shape[-1] * b.shape[-1] < NUMPY_MATMUL_MAX:
        return a @ b
    dtype = np.result_type(a, b)
    gemm = private_gemm(dtype, *a.shape[-2:], b.shape[-1]) if a.dtype == b.dtype else None
    if gemm is None or 0 in a.shape or 0 in b.shape:
        return a @ b
    M, K, N = a.shape[-2], a.shape[-1], b.shape[-1]
    if b.ndim == 2 and a.ndim > 2 and a.flags.c_contiguous:  # a stack times one matrix: one product
        out = np.empty(a.shape[:-1] + (N,), dtype=dtype)
        _matmul_2d(a.reshape(-1, K), b, gemm, out.reshape(-1, N))
        return out
    if a.ndim == 2 and b.ndim == 2:
        out = np.empty((M, N), dtype=dtype)
        _matmul_2d(a, b, gemm, out)
        return out
    if a.shape[:-2] == b.shape[:-2]:
        out = np.empty(a.shape[:-1] + (N,), dtype=dtype)
        _matmul_batch(
            np.ascontiguousarray(a).reshape(-1, M, K),
            np.ascontiguousarray(b).reshape(-1, K, N),
            gemm,
            out.reshape(-1, M, N),
        )
        return out
    return a @ b


def product(a, b):
    """a @ b for 2-D operands: the private BLAS when it is there, else NumPy's."""
    gemm = private_gemm(a.dtype, *a.shape, b.shape[1])
    if gemm is None or 0 in a.shape or 0 in b.shape:
        return a @ b
    out = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
    _matmul_2d(a, b, gemm, out)
    return out


def batched_product(a, b):
    """a @ b for C-contiguous 3-D stacks (a batch axis of 1 is shared): the private BLAS when it is there."""
    gemm = private_gemm(a.dtype, *a.shape[1:], b.shape[2])
    if gemm is None or 0 in a.shape or 0 in b.shape:
        return np.matmul(a, b)
    out = np.empty((max(a.shape[0], b.shape[0]), a.shape[1], b.shape[2]), dtype=a.dtype)
    _matmul_batch(a, b, gemm, out)
    return out
