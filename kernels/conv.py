"""The three convolutions on the CPU -- conv2d, conv_transpose2d, conv2d_weight -- with the same signatures,
math and shapes as kernels/reference.py (read that first: it is the specification).  This module decides,
per call, which implementation computes a layer; the work itself is in the modules it names:

1. Winograd F(4x4, 2x2) (kernels/winograd.py): layers whose kernel is twice the stride (a DCGAN's 4x4
   stride-2 layers) with at least WINOGRAD_MIN_CHANNELS channels on both sides and WINOGRAD_MIN_MACS
   multiply-adds; for the weight gradient also while its per-thread sums fit in the cache
   (winograd.weight_gradient_pays).  Needs the private BLAS.
2. Many channels (the C of conv2d / conv2d_weight's input, the O of conv_transpose2d's output >=
   CHANNELS_LAST_MIN): channels-last columns, K' = kh*kw*C, L = Ho*Wo, cols (N*L, K'):

       conv2d:            cols = im2col_cl(x)      y_t  = cols @ W_(O,K').T          (N*L, O) -> y (N, O, L)
       conv2d_weight:     cols = im2col_cl(x)      gW   = gy_t(N*L, O).T @ cols       (O, K') -> (O, C, kh, kw)
       conv_transpose2d:  x_t (N*H*W, C)           cols = x_t @ W_(C, kh*kw*O)        -> y = col2im_cl(cols)

   as fused per-thread pipelines (kernels/fused.py) on the private BLAS, or, without it, as Numba loops
   (kernels/im2col.py) around NumPy's products.
3. Few channels (1- and 3-channel layers): NCHW columns, K = C*kh*kw, where the long inner loop is a row of
   pixels.  conv2d and conv_transpose2d use one small product per sample (kernels/products.py's
   batched_product), which reads and writes the (N, C, L) layouts directly; conv2d_weight sums per-sample
   products per worker (kernels/fused.py) or, unfused, does one product for the batch:

       conv2d:            cols (N, K, L) = im2col(x)                  y[n] = W_(O,K) @ cols[n]
       conv2d_weight:     per worker: sum over its n of gy[n] (O, L) @ cols_n(K, L).T
       conv_transpose2d:  cols[n] = W_(C, O*kh*kw).T @ x[n]           y    = col2im(cols)

   col2im has one task per output plane (n, c), so its scatter-add has no write conflicts.
"""

import os

import numpy as np

from . import fused, im2col, runtime, winograd
from .loops import run_blas_workers
from .products import batched_product, private_gemm, product
from .reference import _pair, conv_output_size, conv_transpose_output_size

__all__ = [
    "conv2d",
    "conv_transpose2d",
    "conv2d_weight",
    "winograd_info",
    "CHANNELS_LAST_MIN",
    "WINOGRAD_MIN_CHANNELS",
    "WINOGRAD_MIN_MACS",
]


def _prepare(a, dtype):
    """C-contiguous array of `dtype` (copies only when needed)."""
    return np.ascontiguousarray(a, dtype=dtype)


# conv2d and conv_transpose2d layers whose kernel is twice the stride (DCGAN's k4 s2) go to
# kernels/winograd.py (with the private BLAS) when they are large: at least WINOGRAD_MIN_CHANNELS channels
# on both sides and WINOGRAD_MIN_MACS multiply-adds in the direct convolution.  F(4x4, 2x2) after
# space-to-depth does 1.96-2.56x fewer multiply-adds than im2col's product, but its weight transform costs
# 25/4 of the weights per call and its 25 products are small, so it loses on small layers (below ~100M
# multiply-adds or with 16 channels: bench/README.md, history 13).  Tests set the thresholds to 1 / 0 or
# to huge values to run cases through both paths; MINIGAN_WINOGRAD=0 in the environment switches the path
# off (for comparisons).
WINOGRAD_MIN_CHANNELS = 32 if os.environ.get("MINIGAN_WINOGRAD", "1").strip() != "0" else 1 << 62
WINOGRAD_MIN_MACS = 1 << 27


def winograd_info():
    """One line for kernels.info(): whether and for which layers kernels/winograd.py is used."""
    if not runtime.FUSED:
        return "off (needs the private BLAS)"
    if WINOGRAD_MIN_CHANNELS >= 1 << 62:
        return "off ($MINIGAN_WINOGRAD=0)"
    return (
        f"F(4x4, 2x2) for kernel = 2 x stride layers with >= {WINOGRAD_MIN_CHANNELS} channels and "
        f">= 2^{WINOGRAD_MIN_MACS.bit_length() - 1} multiply-adds (forward, input gradient, and weight gradient "
        f"up to {winograd._GRADIENT_MAX_SUMS_BYTES >> 20} MiB of sums per thread)"
    )


def _winograd_pays(C, O, direct_macs):
    """Whether a layer with C input and O output channels and this many direct multiply-adds is large
    enough for kernels/winograd.py (see the thresholds above)."""
    return min(C, O) >= WINOGRAD_MIN_CHANNELS and direct_macs >= WINOGRAD_MIN_MACS


def _winograd_gemm(dtype, C, O, direct_macs, kernel_size, stride, dilation):
    """The private BLAS's gemm for kernels/winograd.py when it should serve this layer (large enough, a kernel
    twice the stride), else None."""
    if not (_winograd_pays(C, O, direct_macs) and winograd.applies(kernel_size, stride, dilation)):
        return None
    return private_gemm(dtype, 25 * stride[0] * stride[1] * max(C, O))  # the largest leading dimension


# The channel count from which the channels-last kernels are used: the C of conv2d / conv2d_weight's
# input (im2col copies C-vectors), the O of conv_transpose2d's output (col2im adds O-vectors).  Below it
# the vectors are too short and the NCHW loops win (1- and 3-channel layers).  Tests set it to 1 or to a
# huge value to run every case through both paths.
CHANNELS_LAST_MIN = 16


def conv2d(x, W, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """2-D cross-correlation: x (N, C, H, W), W (O, C, kh, kw) -> y (N, O, Ho, Wo).  See reference.conv2d."""
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride, "stride"), _pair(padding, "padding"), _pair(dilation, "dilation")
    N, C, H, Wd = x.shape
    O, C_w, kh, kw = W.shape
    if C_w != C:
        raise ValueError(f"conv2d: x has {C} channels but W expects {C_w} (W is (O, C, kh, kw))")
    Ho, Wo = conv_output_size(H, kh, sh, ph, dh), conv_output_size(Wd, kw, sw, pw, dw)
    if Ho <= 0 or Wo <= 0:
        raise ValueError(f"conv2d output would be empty: input {(H, Wd)}, kernel {(kh, kw)}")
    dtype = np.result_type(x, W)
    x, W = _prepare(x, dtype), _prepare(W, dtype)
    gemm = _winograd_gemm(dtype, C, O, N * Ho * Wo * C * O * kh * kw, (kh, kw), (sh, sw), (dh, dw))
    if gemm is not None:
        return winograd.conv2d(x, W, (sh, sw), (ph, pw), Ho, Wo, gemm, runtime.threads())
    if C >= CHANNELS_LAST_MIN:
        W_cl = _prepare(W.transpose(0, 2, 3, 1), dtype).reshape(O, kh * kw * C)  # columns (i, j, c)
        L, K = Ho * Wo, kh * kw * C
        gemm = private_gemm(dtype, N * L, K, O)
        if gemm is not None:
            y = np.empty((N, O, Ho, Wo), dtype=dtype)
            n_workers, chunk = fused.plan(N, L * K * x.itemsize, N * L * K)
            run_blas_workers(
                fused.conv2d_cl_worker,
                n_workers,
                gemm,
                fused.conv_ints(chunk, N, C, H, Wd, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, O),
                x.reshape(-1),
                W_cl.reshape(-1),
                y.reshape(-1),
            )
            return y
        cols = np.empty((N * Ho * Wo, kh * kw * C), dtype=dtype)
        im2col.im2col_cl(x, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cols, runtime.use_threads(cols.size))
        y_t = cols @ W_cl.T  # (N*L, O): one BLAS call for the batch
        return im2col.swap_last(y_t.reshape(N, Ho * Wo, O)).reshape(N, O, Ho, Wo)
    # Few channels: K = C*kh*kw is small, so the product is cheap and the (O, N*L) -> (N, O, L) transpose
    # of one batched product would cost as much as the product itself.  One product per sample writes
    # y's layout directly (bench/README.md, history 14).
    cols = np.empty((N, C * kh * kw, Ho * Wo), dtype=dtype)
    im2col.im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cols, runtime.use_worker_threads(cols.size))
    y = batched_product(W.reshape(1, O, C * kh * kw), cols)  # (N, O, L): one BLAS call per sample
    return y.reshape(N, O, Ho, Wo)


def conv_transpose2d(x, W, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), dilation=(1, 1)):
    """Transposed convolution: x (N, C, H, W), W (C, O, kh, kw) -> y (N, O, Ho, Wo).
    See reference.conv_transpose2d."""
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride, "stride"), _pair(padding, "padding"), _pair(dilation, "dilation")
    oph, opw = _pair(output_padding, "output_padding")
    N, C, H, Wd = x.shape
    C_w, O, kh, kw = W.shape
    if C_w != C:
        raise ValueError(f"conv_transpose2d: x has {C} channels but W expects {C_w} (W is (C, O, kh, kw))")
    if min(oph, opw) < 0:
        raise ValueError(f"output_padding must be >= 0, got {(oph, opw)}")
    Ho = conv_transpose_output_size(H, kh, sh, ph, oph, dh)
    Wo = conv_transpose_output_size(Wd, kw, sw, pw, opw, dw)
    if Ho <= 0 or Wo <= 0:
        raise ValueError(f"conv_transpose2d output would be empty: {(Ho, Wo)}")
    dtype = np.result_type(x, W)
    x, W = _prepare(x, dtype), _prepare(W, dtype)
    gemm = _winograd_gemm(dtype, C, O, N * H * Wd * C * O * kh * kw, (kh, kw), (sh, sw), (dh, dw))
    if gemm is not None:
        return winograd.conv_transpose2d(x, W, (sh, sw), (ph, pw), Ho, Wo, gemm, runtime.threads(), product)
    y = np.empty((N, O, Ho, Wo), dtype=dtype)
    if O >= CHANNELS_LAST_MIN:
        W_cl = _prepare(W.transpose(0, 2, 3, 1), dtype).reshape(C, kh * kw * O)  # columns (i, j, o)
        HW, K = H * Wd, kh * kw * O
        gemm = private_gemm(dtype, N * HW, K, C)
        if gemm is not None:
            n_workers, chunk = fused.plan(N, HW * K * x.itemsize, N * HW * K)
            run_blas_workers(
                fused.conv_transpose2d_cl_worker,
                n_workers,
                gemm,
                fused.conv_ints(chunk, N, C, H, Wd, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, O),
                x.reshape(-1),
                W_cl.reshape(-1),
                y.reshape(-1),
            )
            return y
        x_t = im2col.swap_last(x.reshape(N, C, H * Wd)).reshape(N * H * Wd, C)
        cols = x_t @ W_cl  # (N*H*W, kh*kw*O)
        im2col.col2im_cl(cols, kh, kw, sh, sw, ph, pw, dh, dw, H, Wd, y, runtime.use_threads(cols.size))
        return y
    # Few output channels: per-sample products read x in its own layout (no transpose of x; history 15).
    W_t = np.ascontiguousarray(W.reshape(C, O * kh * kw).T)
    cols = batched_product(W_t.reshape(1, O * kh * kw, C), x.reshape(N, C, H * Wd))  # (N, O*kh*kw, H*W)
    im2col.col2im(cols, kh, kw, sh, sw, ph, pw, dh, dw, H, Wd, y, runtime.use_worker_threads(cols.size))
    return y


def conv2d_weight(x, gy, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Gradient of conv2d w.r.t. its weight: x (N, C, H, W), gy (N, O, Ho, Wo) -> gW (O, C, kh, kw).
    See reference.conv2d_weight."""
    kh, kw = _pair(kernel_size, "kernel_size")
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride, "stride"), _pair(padding, "padding"), _pair(dilation, "dilation")
    N, C, H, Wd = x.shape
    Ng, O, Ho, Wo = gy.shape
    if Ng != N:
        raise ValueError(f"conv2d_weight: batch of x ({N}) and gy ({Ng}) differ")
    if Ho > conv_output_size(H, kh, sh, ph, dh) or Wo > conv_output_size(Wd, kw, sw, pw, dw):
        raise ValueError(f"conv2d_weight: gy spatial size {(Ho, Wo)} exceeds conv2d's output size")
    dtype = np.result_type(x, gy)
    x, gy = _prepare(x, dtype), _prepare(gy, dtype)
    gemm = _winograd_gemm(dtype, C, O, N * Ho * Wo * C * O * kh * kw, (kh, kw), (sh, sw), (dh, dw))
    threads = runtime.threads()
    if gemm is not None and winograd.weight_gradient_pays(N, C, O, Ho, Wo, sh, x.itemsize, threads):
        return winograd.conv2d_weight(x, gy, (sh, sw), (ph, pw), gemm, threads)
    if C >= CHANNELS_LAST_MIN:
        L, K = Ho * Wo, kh * kw * C
        gemm = private_gemm(dtype, N * L, K, O)
        if gemm is not None:
            n_workers, chunk = fused.plan(N, L * K * x.itemsize, N * L * K)
            partial = np.empty((n_workers, O * K), dtype=dtype)
            run_blas_workers(
                fused.conv2d_weight_cl_worker,
                n_workers,
                gemm,
                fused.conv_ints(chunk, N, C, H, Wd, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, O),
                x.reshape(-1),
                gy.reshape(-1),
                partial.reshape(-1),
            )
            gW_cl = partial.sum(axis=0) if n_workers > 1 else partial[0]
            return np.ascontiguousarray(gW_cl.reshape(O, kh, kw, C).transpose(0, 3, 1, 2))
        cols = np.empty((N * Ho * Wo, kh * kw * C), dtype=dtype)
        im2col.im2col_cl(x, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cols, runtime.use_threads(cols.size))
        gy_t = im2col.swap_last(gy.reshape(N, O, Ho * Wo)).reshape(N * Ho * Wo, O)
        gW_cl = gy_t.T @ cols  # (O, N*L) @ (N*L, K'): columns (i, j, c)
        return np.ascontiguousarray(gW_cl.reshape(O, kh, kw, C).transpose(0, 3, 1, 2))
    K, L = C * kh * kw, Ho * Wo
    gemm = private_gemm(dtype, O, K, L)
    if gemm is not None:  # per-worker sums of per-sample products (no copy of gy, columns in cache)
        n_workers = min(N, runtime.threads()) if N * K * L >= runtime.FUSED_PARALLEL_MIN else 1
        partial = np.empty((n_workers, O * K), dtype=dtype)
        run_blas_workers(
            fused.conv2d_weight_nchw_worker,
            n_workers,
            gemm,
            fused.conv_ints(1, N, C, H, Wd, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, O),
            x.reshape(-1),
            gy.reshape(-1),
            partial.reshape(-1),
        )
        gW = partial.sum(axis=0) if n_workers > 1 else partial[0]
        return gW.reshape(O, C, kh, kw)
    cols = np.empty((K, N * L), dtype=dtype)
    im2col.im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cols, runtime.use_worker_threads(cols.size))
    gW = product(im2col.to_onl(gy.reshape(N, O, L)), cols.T)  # (O, N*L) @ (N*L, K)
    return gW.reshape(O, C, kh, kw)
