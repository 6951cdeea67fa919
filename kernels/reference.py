"""The readable specification of minigan's convolution kernels (pure NumPy; CuPy arrays work too).

Three operations form a closed set (docs/architecture.md, "The engine contract"):

    conv2d(x, W)               y[n,o,h,w]  = sum_{c,i,j} W[o,c,i,j] * xpad[n, c, h*s0 + i*d0, w*s1 + j*d1]
    conv_transpose2d(x, W)     the adjoint of conv2d in its input:  <conv2d(z, W), x> = <z, conv_transpose2d(x, W)>
    conv2d_weight(x, gy, k)    gW[o,c,i,j] = sum_{n,h,w} gy[n,o,h,w] * xpad[n, c, h*s0 + i*d0, w*s1 + j*d1]

where xpad is x with `padding` zeros on each side of both spatial axes, s = stride, d = dilation.
Output sizes (per spatial axis, k = kernel size, p = padding, op = output_padding):

    conv2d:            Ho = (H + 2p - d(k-1) - 1) // s + 1
    conv_transpose2d:  Ho = (H - 1)s - 2p + d(k-1) + op + 1

The method is im2col: gather every receptive field of x into the columns of a matrix, so that the
convolution becomes one matrix product (Chellapilla et al. 2006, "High performance convolutional neural
networks for document processing"; Caffe's im2col).  With K = C*kh*kw and L = Ho*Wo:

    cols = im2col(x)                 (N, C, kh, kw, Ho, Wo)  viewed as (N, K, L)
    conv2d:            y  = W.reshape(O, K) @ cols                             (N, O, L)
    conv2d_weight:     gW = sum_n gy[n].reshape(O, L) @ cols[n].T              (O, K)
    conv_transpose2d:  x  = col2im(W.reshape(C, O*kh*kw).T @ x.reshape(N, C, H*W))

col2im is the adjoint of im2col: it scatters-and-adds every column back onto the (padded) image, then
crops the padding.  Layouts follow PyTorch: conv2d's W is (O, C, kh, kw); conv_transpose2d's W is
(C_in, C_out, kh, kw) -- so conv_transpose2d(gy, W) with W the weight of a conv2d is that conv's gradient
with respect to its input.

Arrays in, arrays out: this module never imports minigan.  The array module (numpy or cupy) is taken
from the arguments, so the same code runs on the GPU (slowly, but correctly) when given CuPy arrays.
Every output is C-contiguous and has the dtype of the inputs (numpy's result_type of x and W / gy).
"""

import numpy as np

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
    "im2col",
    "col2im",
    "conv_output_size",
    "conv_transpose_output_size",
]


def _xp(*arrays):
    """numpy, or cupy when any argument is a CuPy array (cupy is never imported here otherwise)."""
    for a in arrays:
        if getattr(type(a), "__module__", "").startswith("cupy"):
            import cupy

            return cupy
    return np


def _pair(v, name):
    """Check that v is a pair of ints (the engine normalises ints to pairs before calling)."""
    if isinstance(v, int):
        return (v, v)
    if type(v) is tuple and len(v) == 2 and type(v[0]) is int and type(v[1]) is int:
        return v  # the common case, called for every conv: no copy
    v = tuple(int(t) for t in v)
    if len(v) != 2:
        raise ValueError(f"{name} must be a pair of ints, got {v!r}")
    return v


def conv_output_size(size, k, s, p, d):
    """Ho = (H + 2p - d(k-1) - 1) // s + 1, the output size of a convolution along one axis."""
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def conv_transpose_output_size(size, k, s, p, op, d):
    """Ho = (H-1)s - 2p + d(k-1) + op + 1, the output size of a transposed convolution along one axis."""
    return (size - 1) * s - 2 * p + d * (k - 1) + op + 1


def im2col(x, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1), out_size=None):
    """Gather the receptive fields of x.

    x (N, C, H, W) -> cols (N, C, kh, kw, Ho, Wo) with
        cols[n, c, i, j, h, w] = xpad[n, c, h*s0 + i*d0, w*s1 + j*d1]
    One strided slice of the padded image per kernel position (i, j): kh*kw slices in all.
    `out_size` = (Ho, Wo) may ask for fewer rows/columns than the formula gives (used by conv2d_weight,
    which takes the output size from gy).
    """
    xp = _xp(x)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    N, C, H, W = x.shape
    if out_size is None:
        out_size = (conv_output_size(H, kh, sh, ph, dh), conv_output_size(W, kw, sw, pw, dw))
    Ho, Wo = out_size
    if Ho <= 0 or Wo <= 0:
        raise ValueError(
            f"convolution output would be empty: input {(H, W)}, kernel {(kh, kw)}, "
            f"stride {stride}, padding {padding}, dilation {dilation}"
        )
    xpad = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = xp.empty((N, C, kh, kw, Ho, Wo), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dh, j * dw  # top-left corner of this kernel tap's sampling grid
            cols[:, :, i, j] = xpad[:, :, r0 : r0 + sh * (Ho - 1) + 1 : sh, c0 : c0 + sw * (Wo - 1) + 1 : sw]
    return cols


def col2im(cols, image_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """The adjoint of im2col: scatter-add every column back onto the image.

    cols (N, C, kh, kw, Ho, Wo) -> x (N, C, H, W) with
        xpad[n, c, h*s0 + i*d0, w*s1 + j*d1] += cols[n, c, i, j, h, w]   for all i, j, h, w
    and x = xpad with the padding cropped off.  The padded buffer must hold every tap's grid, so it is
    max(H + 2p, d(k-1) + s(Ho-1) + 1) tall; taps that land outside x (in the padding, or beyond an
    output_padding) are dropped by the crop.
    """
    xp = _xp(cols)
    N, C, kh, kw, Ho, Wo = cols.shape
    H, W = image_size
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    Hp = max(H + 2 * ph, dh * (kh - 1) + sh * (Ho - 1) + 1)
    Wp = max(W + 2 * pw, dw * (kw - 1) + sw * (Wo - 1) + 1)
    xpad = xp.zeros((N, C, Hp, Wp), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dh, j * dw
            # within one tap (i, j) the target pixels are distinct, so += on the slice is exact
            xpad[:, :, r0 : r0 + sh * (Ho - 1) + 1 : sh, c0 : c0 + sw * (Wo - 1) + 1 : sw] += cols[:, :, i, j]
    return xp.ascontiguousarray(xpad[:, :, ph : ph + H, pw : pw + W])


def conv2d(x, W, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """2-D cross-correlation (PyTorch's conv2d without bias, groups=1).

    x (N, C, H, W), W (O, C, kh, kw) -> y (N, O, Ho, Wo),  Ho = (H + 2p - d(kh-1) - 1)//s + 1
        y[n, o, h, w] = sum_{c, i, j} W[o, c, i, j] * xpad[n, c, h*s0 + i*d0, w*s1 + j*d1]
    As matrices (K = C*kh*kw, L = Ho*Wo):  y[n] = W.reshape(O, K) @ im2col(x)[n].reshape(K, L).
    """
    xp = _xp(x, W)
    stride, padding, dilation = _pair(stride, "stride"), _pair(padding, "padding"), _pair(dilation, "dilation")
    N, C, H, Wd = x.shape
    O, C_w, kh, kw = W.shape
    if C_w != C:
        raise ValueError(f"conv2d: x has {C} channels but W expects {C_w} (W is (O, C, kh, kw))")
    dtype = xp.result_type(x, W)
    cols = im2col(x.astype(dtype, copy=False), (kh, kw), stride, padding, dilation)
    Ho, Wo = cols.shape[-2:]
    y = W.astype(dtype, copy=False).reshape(O, C * kh * kw) @ cols.reshape(N, C * kh * kw, Ho * Wo)
    return xp.ascontiguousarray(y.reshape(N, O, Ho, Wo))


def conv_transpose2d(x, W, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), dilation=(1, 1)):
    """2-D transposed convolution (PyTorch's conv_transpose2d without bias, groups=1).

    x (N, C, H, W), W (C, O, kh, kw) -> y (N, O, Ho, Wo),  Ho = (H-1)s - 2p + d(kh-1) + op + 1
        ypad[n, o, h*s0 + i*d0, w*s1 + j*d1] += sum_c W[c, o, i, j] * x[n, c, h, w],  y = crop(ypad)
    It is the adjoint of conv2d in its input: <conv2d(z, W), x> = <z, conv_transpose2d(x, W)>, so with W
    the weight of a conv2d it computes that conv's input gradient; output_padding (op) adds the rows and
    columns that the conv's floor division dropped.
    As matrices: cols[n] = W.reshape(C, O*kh*kw).T @ x[n].reshape(C, H*W);  y = col2im(cols).
    """
    xp = _xp(x, W)
    stride, padding, dilation = _pair(stride, "stride"), _pair(padding, "padding"), _pair(dilation, "dilation")
    output_padding = _pair(output_padding, "output_padding")
    N, C, H, Wd = x.shape
    C_w, O, kh, kw = W.shape
    if C_w != C:
        raise ValueError(f"conv_transpose2d: x has {C} channels but W expects {C_w} (W is (C, O, kh, kw))")
    if min(output_padding) < 0:
        raise ValueError(f"output_padding must be >= 0, got {output_padding}")
    Ho = conv_transpose_output_size(H, kh, stride[0], padding[0], output_padding[0], dilation[0])
    Wo = conv_transpose_output_size(Wd, kw, stride[1], padding[1], output_padding[1], dilation[1])
    if Ho <= 0 or Wo <= 0:
        raise ValueError(f"conv_transpose2d output would be empty: {(Ho, Wo)}")
    dtype = xp.result_type(x, W)
    Wm = W.astype(dtype, copy=False).reshape(C, O * kh * kw)
    cols = Wm.T @ x.astype(dtype, copy=False).reshape(N, C, H * Wd)  # (N, O*kh*kw, H*W)
    return col2im(cols.reshape(N, O, kh, kw, H, Wd), (Ho, Wo), stride, padding, dilation)


def conv2d_weight(x, gy, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Gradient of conv2d with respect to its weight.

    x (N, C, H, W), gy (N, O, Ho, Wo) -> gW (O, C, kh, kw)
        gW[o, c, i, j] = sum_{n, h, w} gy[n, o, h, w] * xpad[n, c, h*s0 + i*d0, w*s1 + j*d1]
    As matrices: gW = sum_n gy[n].reshape(O, L) @ im2col(x)[n].reshape(K, L).T.
    (Ho, Wo) are taken from gy and must not exceed conv2d's output size for x.
    """
    xp = _xp(x, gy)
    kernel_size, stride = _pair(kernel_size, "kernel_size"), _pair(stride, "stride")
    padding, dilation = _pair(padding, "padding"), _pair(dilation, "dilation")
    N, C, H, Wd = x.shape
    Ng, O, Ho, Wo = gy.shape
    kh, kw = kernel_size
    if Ng != N:
        raise ValueError(f"conv2d_weight: batch of x ({N}) and gy ({Ng}) differ")
    Ho_max = conv_output_size(H, kh, stride[0], padding[0], dilation[0])
    Wo_max = conv_output_size(Wd, kw, stride[1], padding[1], dilation[1])
    if Ho > Ho_max or Wo > Wo_max:
        raise ValueError(f"conv2d_weight: gy spatial size {(Ho, Wo)} exceeds conv2d's output {(Ho_max, Wo_max)}")
    dtype = xp.result_type(x, gy)
    cols = im2col(x.astype(dtype, copy=False), kernel_size, stride, padding, dilation, out_size=(Ho, Wo))
    cols = cols.reshape(N, C * kh * kw, Ho * Wo)
    gy_m = gy.astype(dtype, copy=False).reshape(N, O, Ho * Wo)
    # one matrix product over the batch and the pixels together: (O, N*L) @ (N*L, K)
    gW = gy_m.transpose(1, 0, 2).reshape(O, N * Ho * Wo) @ cols.transpose(0, 2, 1).reshape(N * Ho * Wo, C * kh * kw)
    return xp.ascontiguousarray(gW.reshape(O, C, kh, kw))


def matmul(a, b):
    """a @ b (NumPy's or CuPy's own product: the array library's BLAS)."""
    return a @ b


# ---------------------------------------------------------------- elementwise and per-channel kernels
# The array code of minigan's hottest non-conv primitives, written once for NumPy and CuPy; kernels.cpu
# has Numba versions of the same functions (one parallel pass where these take several).


def leaky_relu(x, slope):
    """y = x where x > 0, slope * x elsewhere (0 <= slope <= 1: max(x, slope x), two passes)."""
    xp = _xp(x)
    slope = x.dtype.type(slope)
    if slope == 0:
        return xp.maximum(x, x.dtype.type(0))
    if 0 < slope <= 1:
        return xp.maximum(x, x * slope)
    return xp.where(x > 0, x, x * slope)


def add(a, b):
    """a + b with broadcasting."""
    return a + b


def multiply(a, b):
    """a * b with broadcasting."""
    return a * b


def channel_sum(x):
    """x (N, C, ...) summed over every axis but 1 -> (C,): the gradient of a per-channel bias."""
    return x.sum(axis=(0,) + tuple(range(2, x.ndim)))


def leaky_relu_backward(gy, x, slope):
    """gx = gy * leaky_relu'(x) = gy * (1 where x > 0, slope elsewhere).  The slope map is built with
    arithmetic, not where: NumPy's where mispredicts a branch per element on half-positive activations
    (13x slower)."""
    positive = x > 0
    if slope == 0:
        return gy * positive.astype(x.dtype)
    return gy * (positive * (x.dtype.type(1) - x.dtype.type(slope)) + x.dtype.type(slope))


def batch_norm_forward(x, eps, weight=None, bias=None):
    """Per-channel batch statistics of x (N, C, ...) over every axis but 1, and x normalised by them:
    returns y, mean (C,), biased var (C,), inv_std (C,) = (var + eps)^(-1/2), where y is
    x_hat = (x - mean) * inv_std, or x_hat * weight[c] + bias[c] when weight and bias (C,) are given
    (batch norm's affine step in the same pass)."""
    xp = _xp(x)
    axes = (0,) + tuple(range(2, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    var = xp.mean(centered * centered, axis=axes, keepdims=True)
    inv_std = (var + x.dtype.type(eps)) ** x.dtype.type(-0.5)
    centered *= inv_std
    if weight is not None:
        shape = (1, -1) + (1,) * (x.ndim - 2)
        centered *= weight.reshape(shape)
        centered += bias.reshape(shape)
    return centered, mean.reshape(-1), var.reshape(-1), inv_std.reshape(-1)


def batch_norm_backward(g, x_hat, inv_std):
    """Gradient of x_hat = batch_norm_forward(x)[0] w.r.t. x, given g = dL/dx_hat (closed form):
    gx = inv_std * (g - mean_B(g) - x_hat * mean_B(g * x_hat)), means over every axis but 1."""
    xp = _xp(g)
    axes = (0,) + tuple(range(2, g.ndim))
    shape = (1, -1) + (1,) * (g.ndim - 2)
    mean_g = g.mean(axis=axes, keepdims=True)
    mean_gx = (g * x_hat).mean(axis=axes, keepdims=True)
    gx = x_hat * mean_gx
    gx += mean_g
    xp.subtract(g, gx, out=gx)
    gx *= inv_std.reshape(shape)
    return gx


def batch_norm_affine_backward(g, x, mean, inv_std, weight):
    """Gradients of y = x_hat * weight[c] + bias[c], x_hat = (x - mean) * inv_std (batch statistics of x),
    given g = dL/dy: returns (gx, g_weight (C,), g_bias (C,)) with, summing over every axis but 1,
        g_bias = sum(g),  g_weight = sum(g * x_hat),
        gx = inv_std * weight * (g - mean_B(g) - x_hat * mean_B(g * x_hat))
    (batch_norm_backward's formula for dL/dx_hat = g * weight).  x_hat is recomputed from x, so nothing but
    the input need be kept for the backward pass."""
    axes = (0,) + tuple(range(2, g.ndim))
    shape = (1, -1) + (1,) * (g.ndim - 2)
    M = g.size // max(1, g.shape[1])
    x_hat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
    g_bias = g.sum(axis=axes)
    g_weight = (g * x_hat).sum(axis=axes)
    gx = x_hat * (g_weight / M).reshape(shape)
    gx += (g_bias / M).reshape(shape)
    gx = g - gx
    gx *= (inv_std * weight).reshape(shape)
    return gx, g_weight, g_bias


def adam_update(p, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, beta1, beta2, step_size, bias_correction2_sqrt, eps):
    """One Adam step in place (Kingma & Ba, 2015; PyTorch's order of operations):
        m <- m + (g - m)(1 - beta1),  v <- beta2 v + (1 - beta2) g^2,  v_max <- max(v_max, v) (amsgrad,
        when max_exp_avg_sq is not None),  p <- p - step_size * m / (sqrt(v or v_max) / bc2_sqrt + eps)
    with step_size = lr / (1 - beta1^t) and bc2_sqrt = sqrt(1 - beta2^t)."""
    xp = _xp(p)
    exp_avg += (grad - exp_avg) * (1 - beta1)
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * grad * grad
    second = exp_avg_sq
    if max_exp_avg_sq is not None:
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        second = max_exp_avg_sq
    denom = xp.sqrt(second) / bias_correction2_sqrt + eps
    p -= step_size * (exp_avg / denom)
