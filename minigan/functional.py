"""The lower-case API (``import minigan.functional as F``): PyTorch's names, argument order and layouts.

Everything here is either a primitive of ``minigan.ops`` or a composite of primitives, so every function is
differentiable twice (the gradient of a composite is the composite of gradients).
"""
from __future__ import annotations


import numpy

from . import backend, ops
from .function import unwrap
from .ops import (add, sub, mul, div, neg, exp, log, tanh, sigmoid, softplus, matmul, logsumexp as _lse,
                  reshape as _reshape, transpose, broadcast_to, cast, to_device)
from .ops.conv import _pair
from .ops.norm import batch_norm_affine, batch_norm_normalize
from .tensor import Tensor

__all__ = [
    "add", "sub", "mul", "div", "neg", "exp", "log", "tanh", "sigmoid", "softplus", "matmul", "transpose",
    "broadcast_to", "cast", "to_device", "pow", "sqrt", "abs", "clamp", "maximum", "minimum", "where",
    "sum", "mean", "var", "norm", "max", "min", "logsumexp", "reshape", "flatten", "unsqueeze", "squeeze",
    "cat", "stack", "clone", "linear", "conv2d", "conv_transpose2d", "avg_pool2d", "max_pool2d",
    "interpolate", "upsample", "pad", "relu", "leaky_relu", "elu", "logsigmoid", "softmax", "log_softmax",
    "dropout", "batch_norm", "layer_norm", "mse_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "kl_normal", "one_hot",
]


def _tensor(x, like=None):
    if isinstance(x, Tensor):
        return x
    from .tensor import as_tensor_like
    return as_tensor_like(x, like)


# --- arithmetic -------------------------------------------------------------------------------------

def pow(x, exponent):
    """x ** exponent; a Tensor exponent gives exp(exponent * log x) (x > 0)."""
    if isinstance(exponent, Tensor):
        return exp(mul(exponent, log(x)))
    return ops.pow_scalar(x, exponent)


def sqrt(x):
    return ops.pow_scalar(x, 0.5)


def abs(x):
    """|x| = x * sign(x); the gradient at 0 is 0, as in PyTorch."""
    return ops.mul_mask(x, x.xp.sign(x.data).astype(x.dtype))


def clamp(x, min=None, max=None):
    """min(max(x, min), max); the gradient is 1 inside the interval, 0 where clamped."""
    out = x
    if min is not None:
        out = ops.where(out.data < unwrap(min), _tensor(min, out), out)
    if max is not None:
        out = ops.where(out.data > unwrap(max), _tensor(max, out), out)
    return out


def maximum(a, b):
    a, b = _tensor(a, b if isinstance(b, Tensor) else None), _tensor(b, a if isinstance(a, Tensor) else None)
    return ops.where(a.data >= b.data, a, b)


def minimum(a, b):
    a, b = _tensor(a, b if isinstance(b, Tensor) else None), _tensor(b, a if isinstance(a, Tensor) else None)
    return ops.where(a.data <= b.data, a, b)


def where(condition, x, y):
    """condition ? x : y elementwise; ``condition`` is a boolean Tensor or array (not differentiated)."""
    like = x if isinstance(x, Tensor) else y
    return ops.where(unwrap(condition), _tensor(x, like), _tensor(y, like))


# --- reductions -------------------------------------------------------------------------------------

def sum(x, dim=None, keepdim=False):
    return ops.sum(x, dim, keepdim)


def _count(x, dim):
    if dim is None:
        return x.numel()
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    return int(numpy.prod([x.shape[d] for d in dims]))


def mean(x, dim=None, keepdim=False):
    return div(ops.sum(x, dim, keepdim), float(_count(x, dim)))


def var(x, dim=None, keepdim=False, unbiased=True):
    """The variance; ``unbiased`` divides by n - 1 (Bessel), as torch.var does by default."""
    n = _count(x, dim)
    centered = sub(x, mean(x, dim, keepdim=True))
    return div(ops.sum(mul(centered, centered), dim, keepdim), float(n - 1 if unbiased else n))


def norm(x, dim=None, keepdim=False):
    """The Euclidean norm sqrt(sum x^2) over ``dim`` (all elements by default)."""
    return sqrt(ops.sum(mul(x, x), dim, keepdim))


def max(x, dim=None, keepdim=False):
    return ops.max(x, dim, keepdim)


def min(x, dim=None, keepdim=False):
    return neg(ops.max(neg(x), dim, keepdim))


def logsumexp(x, dim=None, keepdim=False):
    """log sum exp(x) over ``dim``, computed without overflow."""
    return _lse(x, dim, keepdim)


# --- shapes -----------------------------------------------------------------------------------------

def reshape(x, shape):
    """Reshape with at most one -1 (inferred), as ``torch.reshape``."""
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise ValueError(f"reshape: only one dimension can be -1, got {shape}")
    if -1 in shape:
        known = int(numpy.prod([s for s in shape if s != -1]))
        if known == 0 or x.numel() % known:
            raise ValueError(f"reshape: cannot view a tensor of shape {x.shape} ({x.numel()} elements) as {shape}")
        shape = tuple(x.numel() // known if s == -1 else s for s in shape)
    return _reshape(x, shape)


def flatten(x, start_dim=0, end_dim=-1):
    end_dim = end_dim % x.ndim
    start_dim = start_dim % x.ndim
    shape = x.shape[:start_dim] + (-1,) + x.shape[end_dim + 1:]
    return reshape(x, shape)


def unsqueeze(x, dim):
    dim = dim % (x.ndim + 1)
    return _reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


def squeeze(x, dim=None):
    if dim is None:
        return _reshape(x, tuple(s for s in x.shape if s != 1))
    dim = dim % x.ndim
    if x.shape[dim] != 1:
        return x
    return _reshape(x, x.shape[:dim] + x.shape[dim + 1:])


def cat(tensors, dim=0):
    """Concatenate along ``dim`` (torch.cat)."""
    tensors = list(tensors)
    like = next(t for t in tensors if isinstance(t, Tensor))
    return ops.concat([_tensor(t, like) for t in tensors], dim)


def stack(tensors, dim=0):
    """Stack along a new axis ``dim`` (torch.stack)."""
    return cat([unsqueeze(t, dim) for t in tensors], dim)


def clone(x):
    """A copy that stays in the graph (gradient 1)."""
    return ops.mul_mask(x, x.xp.ones((), dtype=x.dtype))


def one_hot(labels, num_classes, dtype=numpy.float32):
    """Integer labels (N,) -> one-hot rows (N, num_classes), a constant Tensor."""
    data = unwrap(labels)
    xp = backend.get_array_module(data)
    out = xp.zeros((data.shape[0], num_classes), dtype=dtype)
    out[xp.arange(data.shape[0]), data] = 1
    return Tensor(out)


# --- layers -----------------------------------------------------------------------------------------

def linear(x, weight, bias=None):
    """y = x W^T + b;  x (..., in), W (out, in), b (out,) -> (..., out)."""
    if x.shape[-1] != weight.shape[-1]:
        raise ValueError(f"linear: input {x.shape} has {x.shape[-1]} features but weight {weight.shape} "
                         f"expects {weight.shape[-1]}")
    y = matmul(x, transpose(weight, (1, 0)))
    return y if bias is None else add(y, bias)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation (torch.nn.functional.conv2d): x (N, C, H, W), W (O, C, kh, kw), b (O,)."""
    if groups != 1:
        raise NotImplementedError("conv2d: groups != 1 is not supported")
    y = ops.conv2d(x, weight, stride, padding, dilation)
    return y if bias is None else add(y, _reshape(bias, (1, bias.shape[0], 1, 1)))


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed convolution ("deconvolution", the gradient of conv2d w.r.t. its input):
    x (N, C, H, W), W (C, O, kh, kw), b (O,) -> (N, O, (H-1)s - 2p + d(k-1) + output_padding + 1, ...)."""
    if groups != 1:
        raise NotImplementedError("conv_transpose2d: groups != 1 is not supported")
    y = ops.conv_transpose2d(x, weight, stride, padding, output_padding, dilation)
    return y if bias is None else add(y, _reshape(bias, (1, bias.shape[0], 1, 1)))


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Average over kh x kw windows (zero padding counted, as PyTorch's default count_include_pad=True):
    a convolution of each channel with a constant 1/(kh kw) kernel."""
    kh, kw = _pair(kernel_size, "kernel_size")
    stride = _pair(stride if stride is not None else (kh, kw), "stride")
    n, c, h, w = x.shape
    kernel = Tensor(x.xp.full((1, 1, kh, kw), 1.0 / (kh * kw), dtype=x.dtype))
    y = ops.conv2d(_reshape(x, (n * c, 1, h, w)), kernel, stride, padding, 1)
    return _reshape(y, (n, c) + y.shape[2:])


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Maximum over kh x kw windows (padding with -inf, as PyTorch). The windows are gathered by indexing,
    so the gradient is a scatter to the argmax and the op is twice differentiable."""
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = _pair(stride if stride is not None else (kh, kw), "stride")
    ph, pw = _pair(padding, "padding")
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"max_pool2d: padding {padding} must be at most half of kernel_size {kernel_size}")
    xp = x.xp
    if ph or pw:
        x = ops.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), value=-numpy.inf)
    h, w = x.shape[2:]
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    rows = (xp.arange(kh)[:, None, None, None] + sh * xp.arange(ho)[None, None, :, None])
    cols = (xp.arange(kw)[None, :, None, None] + sw * xp.arange(wo)[None, None, None, :])
    rows = xp.broadcast_to(rows, (kh, kw, ho, wo)).reshape(kh * kw, ho, wo)
    cols = xp.broadcast_to(cols, (kh, kw, ho, wo)).reshape(kh * kw, ho, wo)
    windows = ops.getitem(x, (slice(None), slice(None), rows, cols))     # (N, C, kh*kw, Ho, Wo)
    return ops.max(windows, 2)


def interpolate(x, scale_factor=None, size=None, mode="nearest"):
    """Nearest-neighbour upsampling by an integer factor: each pixel becomes an s x s block."""
    if mode != "nearest":
        raise NotImplementedError(f"interpolate: mode {mode!r} (only 'nearest')")
    n, c, h, w = x.shape
    if size is not None:
        size = _pair(size, "size")
        if size[0] % h or size[1] % w:
            raise ValueError(f"interpolate: size {size} must be an integer multiple of {(h, w)}")
        sh, sw = size[0] // h, size[1] // w
    else:
        sh, sw = _pair(int(scale_factor) if not isinstance(scale_factor, (tuple, list)) else scale_factor,
                       "scale_factor")
    y = broadcast_to(_reshape(x, (n, c, h, 1, w, 1)), (n, c, h, sh, w, sw))
    return _reshape(y, (n, c, h * sh, w * sw))


upsample = interpolate


def pad(x, pad, mode="constant", value=0.0):
    """torch.nn.functional.pad: ``pad`` lists (left, right) for the last dim, then the one before, ..."""
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} (only 'constant')")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: {pad} must hold pairs for at most {x.ndim} dimensions")
    width = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        width[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return ops.pad(x, width, value)


# --- activations ------------------------------------------------------------------------------------

def relu(x):
    """max(x, 0)."""
    return ops.leaky_relu(x, 0.0)


def leaky_relu(x, negative_slope=0.01):
    """x for x > 0, negative_slope * x otherwise (Maas et al., 2013)."""
    return ops.leaky_relu(x, negative_slope)


def elu(x, alpha=1.0):
    """x for x > 0, alpha (e^x - 1) otherwise (Clevert et al., 2016)."""
    negative = mul(sub(exp(clamp(x, max=0.0)), 1.0), float(alpha))
    return ops.where(x.data > 0, x, negative)


def logsigmoid(x):
    """log sigmoid(x) = -softplus(-x), stable for large |x|."""
    return neg(softplus(neg(x)))


def softmax(x, dim):
    """exp(x - logsumexp(x)) along ``dim``."""
    return exp(sub(x, _lse(x, dim, True)))


def log_softmax(x, dim):
    """x - logsumexp(x) along ``dim``."""
    return sub(x, _lse(x, dim, True))


def dropout(x, p=0.5, training=True):
    """Zero each element with probability p and scale the rest by 1/(1-p) (Srivastava et al., 2014).
    The mask comes from the device's generator, so ``manual_seed`` makes it reproducible."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    keep = backend.generator(x.device).random(x.shape) >= p
    return ops.mul_mask(x, (keep / (1 - p)).astype(x.dtype))


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Batch normalisation (Ioffe & Szegedy, 2015) over every axis but 1 (channels).

    y = (x - mean) / sqrt(var + eps) * weight + bias. In training the batch statistics are used (biased
    variance) and the running estimates are updated in place: r <- (1 - momentum) r + momentum * stat
    (the unbiased variance, as PyTorch)."""
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if training:
        n = x.numel() // x.shape[1]
        if n <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input {x.shape}")
        # one primitive for the whole layer (ops/norm.py) when weight and bias are (C,) vectors of x's dtype;
        # anything else takes the composite below (NumPy's type promotion, its shape errors)
        affine = (weight is not None and bias is not None and weight.shape == bias.shape == (x.shape[1],)
                  and weight.dtype == bias.dtype == x.dtype)
        if affine:
            y, batch_mean, batch_var = batch_norm_affine(x, weight, bias, eps)
        else:
            y, batch_mean, batch_var = batch_norm_normalize(x, eps)
        if running_mean is not None:
            rm, rv = unwrap(running_mean), unwrap(running_var)
            rm *= (1 - momentum)
            rm += momentum * batch_mean.astype(rm.dtype)
            rv *= (1 - momentum)
            rv += momentum * batch_var.astype(rv.dtype) * (n / (n - 1))
    else:
        affine = False
        mu = _reshape(_tensor(unwrap(running_mean), x), shape)
        variance = _reshape(_tensor(unwrap(running_var), x), shape)
        y = mul(sub(x, mu), ops.pow_scalar(add(variance, float(eps)), -0.5))
    if affine:
        return y
    if weight is not None:
        y = mul(y, _reshape(weight, shape))
    if bias is not None:
        y = add(y, _reshape(bias, shape))
    return y


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalisation (Ba et al., 2016) over the trailing ``normalized_shape`` axes."""
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if x.shape[x.ndim - len(normalized_shape):] != normalized_shape:
        raise ValueError(f"layer_norm: input {x.shape} does not end with normalized_shape {normalized_shape}")
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    centered = sub(x, mean(x, axes, keepdim=True))
    variance = mean(mul(centered, centered), axes, keepdim=True)
    y = mul(centered, ops.pow_scalar(add(variance, float(eps)), -0.5))
    if weight is not None:
        y = mul(y, weight)
    if bias is not None:
        y = add(y, bias)
    return y


# --- losses -----------------------------------------------------------------------------------------

def _reduce(loss, reduction):
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return ops.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check_same_shape(name, input, target):
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{name}: input shape {tuple(input.shape)} and target shape {tuple(target.shape)} differ")


def mse_loss(input, target, reduction="mean"):
    """mean (input - target)^2."""
    target = _tensor(target, input)
    _check_same_shape("mse_loss", input, target)
    diff = sub(input, target)
    return _reduce(mul(diff, diff), reduction)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-(t log p + (1 - t) log(1 - p)) for probabilities p; each log is clamped at -100, as PyTorch does,
    so p = 0 or 1 gives a finite loss."""
    target = _tensor(target, input)
    _check_same_shape("binary_cross_entropy", input, target)
    log_p = clamp(log(input), min=-100.0)
    log_1mp = clamp(log(sub(1.0, input)), min=-100.0)
    loss = neg(add(mul(target, log_p), mul(sub(1.0, target), log_1mp)))
    if weight is not None:
        loss = mul(loss, weight)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, reduction="mean"):
    """BCE on logits x: softplus(x) - t x = max(x, 0) - t x + log(1 + e^-|x|): stable for any x."""
    target = _tensor(target, input)
    _check_same_shape("binary_cross_entropy_with_logits", input, target)
    return _reduce(sub(softplus(input), mul(input, target)), reduction)


def nll_loss(log_probs, target, reduction="mean"):
    """-log_probs[n, target[n]]: log_probs (N, C), target (N,) integer class indices."""
    labels = unwrap(target)
    if log_probs.ndim != 2 or labels.ndim != 1 or labels.shape[0] != log_probs.shape[0]:
        raise ValueError(f"nll_loss: expected log_probs (N, C) and integer targets (N,), got {log_probs.shape} "
                         f"and {tuple(labels.shape)}")
    if labels.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: targets must be integer class indices, got dtype {labels.dtype}")
    xp = log_probs.xp
    picked = ops.getitem(log_probs, (xp.arange(labels.shape[0]), labels))
    return _reduce(neg(picked), reduction)


def cross_entropy(logits, target, reduction="mean"):
    """Softmax cross-entropy with integer targets: nll_loss(log_softmax(logits, 1), target)."""
    return nll_loss(log_softmax(logits, 1), target, reduction)


def kl_normal(mu, logvar):
    """KL( N(mu, diag(exp(logvar))) || N(0, I) ) per sample, summed over the latent dimensions:

        KL = -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))

    (Kingma & Welling, 2014, appendix B). mu, logvar (N, D) -> (N,)."""
    _check_same_shape("kl_normal", mu, logvar)
    terms = sub(add(logvar, 1.0), add(mul(mu, mu), exp(logvar)))
    return mul(ops.sum(terms, tuple(range(1, mu.ndim))), -0.5)
