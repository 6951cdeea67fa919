"""Fused conv pipelines: the channels-last layers (and the few-channel weight gradient) as one pipeline per
Numba worker thread, calling the private BLAS (kernels/blas.py) from inside Numba.

Worker w takes samples [w*N/n_workers, (w+1)*N/n_workers) and walks them in chunks of `chunk` samples, each
chunk going through im2col -> one single-threaded BLAS product -> transpose / col2im while its columns are
still in the core's cache.  The products come from kernels/blas.py's private OpenBLAS (one thread per
caller), so no BLAS thread pool spins next to Numba's and a training step uses exactly one thread pool.
Buffers are allocated once per worker and call.  `gemm` is a ctypes CBLAS function passed as an argument
(sgemm or dgemm: Numba compiles one version per dtype and can cache it).

The four workers are BLAS workers (kernels/loops.py): worker(w, n_workers, gemm, ints, arrays), and all
read the same geometry from `ints` (`conv_ints`):
    (chunk, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, O)
with (H, W) the input size, (Ho, Wo) the output size, C / O the input / output channels, `chunk` the
samples per chunk.  kernels/conv.py decides when they run.

    conv2d_cl_worker             arrays (x, W_cl (O, kh*kw*C), y)       y[n] = (cols_n @ W_cl.T).T
    conv_transpose2d_cl_worker   arrays (x, W_cl (C, kh*kw*O), y)       y[n] = col2im_cl(x[n].T @ W_cl)
    conv2d_weight_cl_worker      arrays (x, gy, partial)                partial[w] = sum_n gy[n] @ cols_n
    conv2d_weight_nchw_worker    arrays (x, gy, partial)                the same with NCHW columns (few channels)
"""

import numpy as np
from numba import njit, uint64

from . import blas, loops, runtime
from .im2col import col2im_cl_sample, copy_block, im2col_cl_sample, im2col_row
from .loops import transpose_into

__all__ = [
    "conv_ints",
    "plan",
    "CHUNK_BYTES",
    "conv2d_cl_worker",
    "conv_transpose2d_cl_worker",
    "conv2d_weight_cl_worker",
    "conv2d_weight_nchw_worker",
]

_ROW_MAJOR, _NO_TRANS, _TRANS = blas.ROW_MAJOR, blas.NO_TRANS, blas.TRANS


def conv_ints(chunk, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, O):
    """The `ints` of the four conv workers: the layer's geometry and the samples per chunk."""
    return loops.ints(chunk, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, O)


@njit(cache=True)
def _conv_geometry(ints):
    """The tuple conv_ints packed."""
    return (
        ints[0],
        ints[1],
        ints[2],
        ints[3],
        ints[4],
        ints[5],
        ints[6],
        ints[7],
        ints[8],
        ints[9],
        ints[10],
        ints[11],
        ints[12],
        ints[13],
        ints[14],
        ints[15],
    )


@njit(cache=True)
def conv2d_cl_worker(w, n_workers, gemm, ints, arrays):
    """y[n] = (cols_n @ Wcl.T).T for this worker's samples; Wcl (O, K') C-contiguous, yf = y (N, O, L)."""
    chunk, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, O = _conv_geometry(ints)
    xf, Wcl, yf = arrays
    n0, n1 = w * N // n_workers, (w + 1) * N // n_workers
    L, K = Ho * Wo, kh * kw * C
    cols = np.empty(chunk * L * K, dtype=xf.dtype)
    y_t = np.empty(chunk * L * O, dtype=xf.dtype)
    buf = np.empty(H * W * C, dtype=xf.dtype)
    for c0 in range(n0, n1, chunk):
        nb = min(chunk, n1 - c0)
        for r in range(nb):
            im2col_cl_sample(c0 + r, r, xf, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cols, buf)
        # y_t (nb*L, O) = cols (nb*L, K') @ Wcl.T
        gemm(
            _ROW_MAJOR,
            _NO_TRANS,
            _TRANS,
            nb * L,
            O,
            K,
            1.0,
            cols.ctypes.data,
            K,
            Wcl.ctypes.data,
            K,
            0.0,
            y_t.ctypes.data,
            O,
        )
        for r in range(nb):
            transpose_into(y_t, uint64(r * L * O), L, O, yf, uint64((c0 + r) * O * L))


@njit(cache=True)
def conv_transpose2d_cl_worker(w, n_workers, gemm, ints, arrays):
    """y[n] = col2im_cl(x[n].T @ Wcl) for this worker's samples; Wcl (C, K' = kh*kw*O), yf = y (N, O, Ho, Wo)."""
    chunk, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, O = _conv_geometry(ints)
    xf, Wcl, yf = arrays
    n0, n1 = w * N // n_workers, (w + 1) * N // n_workers
    HW, K = H * W, kh * kw * O
    x_t = np.empty(chunk * HW * C, dtype=xf.dtype)
    cols = np.empty(chunk * HW * K, dtype=xf.dtype)
    buf = np.empty(Ho * Wo * O, dtype=xf.dtype)
    for c0 in range(n0, n1, chunk):
        nb = min(chunk, n1 - c0)
        for r in range(nb):
            transpose_into(xf, uint64((c0 + r) * C * HW), C, HW, x_t, uint64(r * HW * C))
        # cols (nb*H*W, K') = x_t (nb*H*W, C) @ Wcl (C, K')
        gemm(
            _ROW_MAJOR,
            _NO_TRANS,
            _NO_TRANS,
            nb * HW,
            K,
            C,
            1.0,
            x_t.ctypes.data,
            C,
            Wcl.ctypes.data,
            K,
            0.0,
            cols.ctypes.data,
            K,
        )
        for r in range(nb):
            col2im_cl_sample(r, c0 + r, cols, kh, kw, sh, sw, ph, pw, dh, dw, H, W, O, Ho, Wo, yf, buf)


@njit(cache=True)
def conv2d_weight_cl_worker(w, n_workers, gemm, ints, arrays):
    """partial[w*O*K' : (w+1)*O*K'] = sum over this worker's samples n of gy[n] (O, L) @ cols_n (L, K'),
    partial a flat (n_workers*O*K',) array."""
    chunk, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, O = _conv_geometry(ints)
    xf, gyf, partial = arrays
    n0, n1 = w * N // n_workers, (w + 1) * N // n_workers
    L, K = Ho * Wo, kh * kw * C
    mine = partial[w * O * K : (w + 1) * O * K]  # this worker's (O, K') partial sum
    if n1 == n0:
        mine[:] = 0
        return
    cols = np.empty(chunk * L * K, dtype=xf.dtype)
    g = np.empty(O * chunk * L, dtype=xf.dtype)
    buf = np.empty(H * W * C, dtype=xf.dtype)
    beta = 0.0
    for c0 in range(n0, n1, chunk):
        nb = min(chunk, n1 - c0)
        for r in range(nb):
            im2col_cl_sample(c0 + r, r, xf, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cols, buf)
        # g (O, nb*L): g[o, r*L + l] = gy[c0 + r, o, l]  (contiguous L-blocks; no transpose needed)
        for o in range(O):
            for r in range(nb):
                copy_block(gyf, uint64(((c0 + r) * O + o) * L), g, uint64((o * nb + r) * L), L)
        # partial[w] (O, K') (+)= g (O, nb*L) @ cols (nb*L, K')
        gemm(
            _ROW_MAJOR,
            _NO_TRANS,
            _NO_TRANS,
            O,
            K,
            nb * L,
            1.0,
            g.ctypes.data,
            nb * L,
            cols.ctypes.data,
            K,
            beta,
            mine.ctypes.data,
            K,
        )
        beta = 1.0


@njit(cache=True)
def conv2d_weight_nchw_worker(w, n_workers, gemm, ints, arrays):
    """Few-channel conv2d_weight, worker w: partial[w] (O, K) = sum over its samples n of
    gy[n] (O, L) @ cols_n (K, L).T, with K = C*kh*kw and cols_n the NCHW columns of sample n alone (built
    here, in cache).  gy is read in place: no (O, N*L) copy of it.  (`chunk` unused.)"""
    chunk, N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, O = _conv_geometry(ints)
    xf, gyf, partial = arrays
    n0, n1 = w * N // n_workers, (w + 1) * N // n_workers
    K, L = C * kh * kw, Ho * Wo
    mine = partial[w * O * K : (w + 1) * O * K]
    if n1 == n0:
        mine[:] = 0
        return
    cols = np.empty(K * L, dtype=xf.dtype)
    sample, item = C * H * W, xf.itemsize
    one_sample = np.int64(1)  # typed int64 as in im2col's calls (a literal 1 compiled im2col_row again)
    beta = 0.0
    for n in range(n0, n1):
        x_n = xf[n * sample : (n + 1) * sample]
        for r in range(K):
            im2col_row(r, x_n, one_sample, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cols, L, K * L)
        gemm(
            _ROW_MAJOR,
            _NO_TRANS,
            _TRANS,
            O,
            K,
            L,
            1.0,
            gyf.ctypes.data + n * O * L * item,
            L,
            cols.ctypes.data,
            L,
            beta,
            mine.ctypes.data,
            K,
        )
        beta = 1.0


# Chunk size of the fused pipelines: about this many bytes of columns per chunk (at least one sample).
# Small enough that a chunk's columns stay in a core's L2 between im2col and the product, large enough
# that the product is efficient.  Tests set it to 1 (one sample per chunk).
CHUNK_BYTES = 1 << 20


def plan(N, bytes_per_sample, n_elements):
    """(n_workers, chunk) for a fused pipeline over N samples: one worker per Numba thread for big jobs
    (one worker on the calling thread below runtime.FUSED_PARALLEL_MIN elements -- lower than for a
    prange loop: a fused call is mostly a product, which two threads halve; bench/README.md, history 10),
    chunks of ~CHUNK_BYTES."""
    n_workers = min(N, runtime.threads()) if n_elements >= runtime.FUSED_PARALLEL_MIN else 1
    per_worker = -(-N // n_workers)
    chunk = max(1, min(per_worker, CHUNK_BYTES // max(1, bytes_per_sample)))
    return n_workers, chunk
