"""GPU convolution kernels: numba.cuda.jit im2col / col2im, matrix products on cuBLAS through CuPy.

Same three functions, signatures, math and shapes as kernels/reference.py (the spec), and the same
data layout as kernels/im2col.py's NCHW columns (K = C*kh*kw, L = Ho*Wo, "cols" is (K, N*L)):

    conv2d:            cols = im2col(x)          y_m  = W_(O,K) @ cols            (O, N*L) -> y (N, O, L)
    conv2d_weight:     cols = im2col(x)          gW   = gy_(O, N*L) @ cols.T      (O, K)
    conv_transpose2d:  x_(C, N*H*W)              cols = W_(C, O*kh*kw).T @ x_     -> y = col2im(cols)

The kernels take CuPy arrays through __cuda_array_interface__ and run on CuPy's current stream.
col2im is written as a gather (one thread per output pixel sums the taps that land on it), so it needs
no atomics and is deterministic.

CuPy is imported lazily, only when CuPy arrays arrive.  The kernels also accept NumPy arrays: that is how
they are tested without a GPU, under Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1), where the matrix
products and transposes fall back to NumPy because `xp` is then numpy (see `_xp`).  On a real GPU,
NumPy arguments work too but are copied to and from the device by Numba at every launch (slow).
"""

import math

import numba
import numpy as np
from numba import cuda

from .reference import conv_output_size, conv_transpose_output_size, _pair

# CuPy's own array code is the GPU version of these (a @ b is cuBLAS; the rest are elementwise/reductions)
from .reference import (
    matmul,
    leaky_relu,
    leaky_relu_backward,
    batch_norm_forward,  # noqa: F401
    batch_norm_backward,
    batch_norm_affine_backward,
    adam_update,
    add,
    multiply,
    channel_sum,
)

__all__ = [
    "conv2d",
    "conv_transpose2d",
    "conv2d_weight",
    "matmul",
    "leaky_relu",
    "leaky_relu_backward",
    "add",
    "multiply",
    "channel_sum",
    "batch_norm_forward",
    "batch_norm_backward",
    "batch_norm_affine_backward",
    "adam_update",
]


def _xp(*arrays):
    """cupy when any argument is a CuPy array, else numpy (the simulator path)."""
    for a in arrays:
        if getattr(type(a), "__module__", "").startswith("cupy"):
            import cupy

            return cupy
    return np


def _stream(xp):
    """Numba handle on CuPy's current stream (so kernels and cuBLAS calls are ordered), else default."""
    if xp is np:
        return 0
    return cuda.external_stream(xp.cuda.get_current_stream().ptr)


def _launch(kernel, total, stream, *args):
    """Launch a grid-stride kernel over `total` work items.  Under the simulator every CUDA thread is a
    Python thread, so a single small block loops over the work instead."""
    if numba.config.ENABLE_CUDASIM:
        blocks, threads = 1, 4
    else:
        threads = 256
        blocks = max(1, min(math.ceil(total / threads), 65535))
    kernel[blocks, threads, stream](*args)


# ---------------------------------------------------------------- device kernels


@cuda.jit
def _im2col_kernel(x, kh, kw, sh, sw, ph, pw, dh, dw, Ho, Wo, cols):
    """cols[(c*kh + i)*kw + j, n*L + h*Wo + w] = xpad[n, c, h*sh + i*dh, w*sw + j*dw];  one thread per
    element of cols (grid-stride), consecutive threads write consecutive columns (coalesced stores)."""
    N, C, H, W = x.shape
    K, NL = cols.shape
    L = Ho * Wo
    start, step = cuda.grid(1), cuda.gridsize(1)
    for t in range(start, K * NL, step):
        r = t // NL
        q = t - r * NL
        c = r // (kh * kw)
        i = (r // kw) % kh
        j = r % kw
        n = q // L
        l = q - n * L
        h = l // Wo
        w = l - h * Wo
        hi = h * sh - ph + i * dh
        wi = w * sw - pw + j * dw
        if 0 <= hi < H and 0 <= wi < W:
            cols[r, q] = x[n, c, hi, wi]
        else:
            cols[r, q] = 0


@cuda.jit
def _col2im_kernel(cols, kh, kw, sh, sw, ph, pw, dh, dw, Hi, Wi, out):
    """out[n, c, a, b] = sum over taps (i, j) and grid points (h, w) with h*sh - ph + i*dh = a and
    w*sw - pw + j*dw = b of cols[(c*kh + i)*kw + j, n*Hi*Wi + h*Wi + w].  `out` must arrive zeroed (its
    zero also fixes the accumulator's dtype).  One thread per output element: a gather, no atomics."""
    N, C, Ho, Wo = out.shape
    L = Hi * Wi
    start, step = cuda.grid(1), cuda.gridsize(1)
    for t in range(start, N * C * Ho * Wo, step):
        n = t // (C * Ho * Wo)
        rem = t - n * (C * Ho * Wo)
        c = rem // (Ho * Wo)
        rem = rem - c * (Ho * Wo)
        a = rem // Wo
        b = rem - a * Wo
        acc = out[n, c, a, b]
        for i in range(kh):
            hs = a + ph - i * dh  # = h*sh for the grid row h that lands here
            if hs >= 0 and hs % sh == 0 and hs // sh < Hi:
                h = hs // sh
                for j in range(kw):
                    ws = b + pw - j * dw
                    if ws >= 0 and ws % sw == 0 and ws // sw < Wi:
                        acc += cols[(c * kh + i) * kw + j, n * L + h * Wi + ws // sw]
        out[n, c, a, b] = acc


# ---------------------------------------------------------------- host helpers


def _im2col(xp, x, kh, kw, stride, padding, dilation, Ho, Wo):
    N, C = x.shape[:2]
    cols = xp.empty((C * kh * kw, N * Ho * Wo), dtype=x.dtype)
    _launch(_im2col_kernel, cols.size, _stream(xp), x, kh, kw, *stride, *padding, *dilation, Ho, Wo, cols)
    return cols


def _to_onl(xp, a):
    """(N, O, L) -> C-contiguous (O, N*L)."""
    N, O, L = a.shape
    return xp.ascontiguousarray(a.transpose(1, 0, 2)).reshape(O, N * L)


def _from_onl(xp, m, N):
    """(O, N*L) -> C-contiguous (N, O, L)."""
    O, NL = m.shape
    return xp.ascontiguousarray(m.reshape(O, N, NL // N).transpose(1, 0, 2))


# ---------------------------------------------------------------- the three operations


def conv2d(x, W, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """2-D cross-correlation: x (N, C, H, W), W (O, C, kh, kw) -> y (N, O, Ho, Wo).  See reference.conv2d."""
    xp = _xp(x, W)
    stride, padding, dilation = _pair(stride, "stride"), _pair(padding, "padding"), _pair(dilation, "dilation")
    N, C, H, Wd = x.shape
    O, C_w, kh, kw = W.shape
    if C_w != C:
        raise ValueError(f"conv2d: x has {C} channels but W expects {C_w} (W is (O, C, kh, kw))")
    Ho = conv_output_size(H, kh, stride[0], padding[0], dilation[0])
    Wo = conv_output_size(Wd, kw, stride[1], padding[1], dilation[1])
    if Ho <= 0 or Wo <= 0:
        raise ValueError(f"conv2d output would be empty: input {(H, Wd)}, kernel {(kh, kw)}")
    dtype = xp.result_type(x, W)
    x, W = xp.ascontiguousarray(x, dtype=dtype), xp.ascontiguousarray(W, dtype=dtype)
    cols = _im2col(xp, x, kh, kw, stride, padding, dilation, Ho, Wo)
    y_m = W.reshape(O, C * kh * kw) @ cols  # cuBLAS with CuPy arrays (NumPy in the simulator)
    return _from_onl(xp, y_m, N).reshape(N, O, Ho, Wo)


def conv_transpose2d(x, W, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), dilation=(1, 1)):
    """Transposed convolution: x (N, C, H, W), W (C, O, kh, kw) -> y (N, O, Ho, Wo).
    See reference.conv_transpose2d."""
    xp = _xp(x, W)
    stride, padding, dilation = _pair(stride, "stride"), _pair(padding, "padding"), _pair(dilation, "dilation")
    oph, opw = _pair(output_padding, "output_padding")
    N, C, H, Wd = x.shape
    C_w, O, kh, kw = W.shape
    if C_w != C:
        raise ValueError(f"conv_transpose2d: x has {C} channels but W expects {C_w} (W is (C, O, kh, kw))")
    if min(oph, opw) < 0:
        raise ValueError(f"output_padding must be >= 0, got {(oph, opw)}")
    Ho = conv_transpose_output_size(H, kh, stride[0], padding[0], oph, dilation[0])
    Wo = conv_transpose_output_size(Wd, kw, stride[1], padding[1], opw, dilation[1])
    if Ho <= 0 or Wo <= 0:
        raise ValueError(f"conv_transpose2d output would be empty: {(Ho, Wo)}")
    dtype = xp.result_type(x, W)
    x, W = xp.ascontiguousarray(x, dtype=dtype), xp.ascontiguousarray(W, dtype=dtype)
    cols = xp.ascontiguousarray(W.reshape(C, O * kh * kw).T @ _to_onl(xp, x.reshape(N, C, H * Wd)))
    y = xp.zeros((N, O, Ho, Wo), dtype=dtype)
    _launch(_col2im_kernel, y.size, _stream(xp), cols, kh, kw, *stride, *padding, *dilation, H, Wd, y)
    return y


def conv2d_weight(x, gy, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Gradient of conv2d w.r.t. its weight: x (N, C, H, W), gy (N, O, Ho, Wo) -> gW (O, C, kh, kw).
    See reference.conv2d_weight."""
    xp = _xp(x, gy)
    kh, kw = _pair(kernel_size, "kernel_size")
    stride, padding, dilation = _pair(stride, "stride"), _pair(padding, "padding"), _pair(dilation, "dilation")
    N, C, H, Wd = x.shape
    Ng, O, Ho, Wo = gy.shape
    if Ng != N:
        raise ValueError(f"conv2d_weight: batch of x ({N}) and gy ({Ng}) differ")
    if Ho > conv_output_size(H, kh, stride[0], padding[0], dilation[0]) or Wo > conv_output_size(
        Wd, kw, stride[1], padding[1], dilation[1]
    ):
        raise ValueError(f"conv2d_weight: gy spatial size {(Ho, Wo)} exceeds conv2d's output size")
    dtype = xp.result_type(x, gy)
    x, gy = xp.ascontiguousarray(x, dtype=dtype), xp.ascontiguousarray(gy, dtype=dtype)
    cols = _im2col(xp, x, kh, kw, stride, padding, dilation, Ho, Wo)
    gW = _to_onl(xp, gy.reshape(N, O, Ho * Wo)) @ cols.T
    return xp.ascontiguousarray(gW).reshape(O, C, kh, kw)
