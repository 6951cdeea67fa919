"""The lower-case API (``import minigan.functional as F``): PyTorch's names, argument order and layouts.

Everything here is either a primitive of ``minigan.ops`` or a composite of primitives, so every function is
differentiable twice (the gradient of a composite is the composite of gradients).
"""

from __future__ import annotations

from builtins import max as builtins_max, min as builtins_min, sum as builtins_sum
from typing import TYPE_CHECKING

import numpy

from . import argcheck, backend, ops
from .function import unwrap
from .ops import (
    add,
    sub,
    mul,
    div,
    neg,
    exp,
    expm1,
    log,
    tanh,
    sigmoid,
    softplus,
    matmul,
    logsumexp as _lse,
    reshape as _reshape,
    transpose,
    broadcast_to,
    cast,
    to_device,
)
from .ops.norm import batch_norm_affine, batch_norm_normalize
from .tensor import Tensor

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .typing import Dim, DType, IntPair, Number, ShapeLike, TensorLike

__all__ = [
    "add",
    "sub",
    "mul",
    "div",
    "neg",
    "exp",
    "expm1",
    "log",
    "tanh",
    "sigmoid",
    "softplus",
    "matmul",
    "transpose",
    "broadcast_to",
    "cast",
    "to_device",
    "pow",
    "sqrt",
    "abs",
    "clamp",
    "maximum",
    "minimum",
    "where",
    "sum",
    "mean",
    "var",
    "norm",
    "max",
    "min",
    "logsumexp",
    "reshape",
    "flatten",
    "unsqueeze",
    "squeeze",
    "chunk",
    "split",
    "repeat",
    "masked_fill",
    "topk",
    "cat",
    "stack",
    "clone",
    "linear",
    "conv2d",
    "conv_transpose2d",
    "avg_pool2d",
    "max_pool2d",
    "interpolate",
    "upsample",
    "pad",
    "relu",
    "leaky_relu",
    "elu",
    "logsigmoid",
    "softmax",
    "log_softmax",
    "dropout",
    "dropout2d",
    "batch_norm",
    "layer_norm",
    "group_norm",
    "instance_norm",
    "mse_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "nll_loss",
    "l1_loss",
    "kl_div",
    "kl_normal",
    "one_hot",
]


def _tensor(x, like=None):
    if isinstance(x, Tensor):
        return x
    from .tensor import as_tensor_like

    return as_tensor_like(x, like)


# --- arithmetic -------------------------------------------------------------------------------------


def pow(x: Tensor, exponent: Number | Tensor) -> Tensor:
    """x ** exponent; a Tensor exponent gives exp(exponent * log x), for x > 0 only (a negative or zero base
    would give NaN there, so it is refused)."""
    if isinstance(exponent, Tensor):
        base = unwrap(x)
        if hasattr(base, "dtype") and base.size and not bool((base > 0).all()):
            raise ValueError(
                "pow: a Tensor exponent needs a positive base (it is computed as exp(exponent * "
                f"log x)); the base has values down to {float(base.min())}"
            )
        return exp(mul(exponent, log(x)))
    return ops.pow_scalar(x, exponent)


def sqrt(x: Tensor) -> Tensor:
    return ops.pow_scalar(x, 0.5)


def abs(x: Tensor) -> Tensor:
    """|x| = x * sign(x); the gradient at 0 is 0, as in PyTorch."""
    return ops.mul_mask(x, x.xp.sign(x.array).astype(x.dtype))


def clamp(x: Tensor, min: Number | None = None, max: Number | None = None) -> Tensor:
    """min(max(x, min), max); the gradient is 1 inside the interval, 0 where clamped."""
    for name, bound in (("min", min), ("max", max)):
        if bound is not None and not isinstance(bound, Tensor):
            argcheck.real("clamp", name, bound)
    out = x
    if min is not None:
        out = ops.where(out.array < unwrap(min), _tensor(min, out), out)
    if max is not None:
        out = ops.where(out.array > unwrap(max), _tensor(max, out), out)
    return out


def maximum(a: TensorLike, b: TensorLike) -> Tensor:
    a, b = _tensor(a, b if isinstance(b, Tensor) else None), _tensor(b, a if isinstance(a, Tensor) else None)
    return ops.where(a.array >= b.array, a, b)


def minimum(a: TensorLike, b: TensorLike) -> Tensor:
    a, b = _tensor(a, b if isinstance(b, Tensor) else None), _tensor(b, a if isinstance(a, Tensor) else None)
    return ops.where(a.array <= b.array, a, b)


def where(condition: TensorLike, x: TensorLike, y: TensorLike) -> Tensor:
    """condition ? x : y elementwise; ``condition`` is a boolean Tensor or array (not differentiated)."""
    like = x if isinstance(x, Tensor) else y
    condition = unwrap(condition)
    if getattr(condition, "dtype", None) is None or condition.dtype.kind != "b":
        raise TypeError(
            f"where: condition must be a boolean tensor or array, got "
            f"{getattr(condition, 'dtype', type(condition).__name__)}"
        )
    return ops.where(condition, _tensor(x, like), _tensor(y, like))


# --- reductions -------------------------------------------------------------------------------------


def sum(x: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    return ops.sum(x, argcheck.dims("sum", dim, x.ndim), keepdim)


def _count(x, dims):
    return int(numpy.prod([x.shape[d] for d in dims]))


def mean(x: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    dim = argcheck.dims("mean", dim, x.ndim)
    return div(ops.sum(x, dim, keepdim), float(_count(x, dim)))


def var(x: Tensor, dim: Dim = None, keepdim: bool = False, unbiased: bool = True) -> Tensor:
    """The variance; ``unbiased`` divides by n - 1 (Bessel), as torch.var does by default."""
    dim = argcheck.dims("var", dim, x.ndim)
    n = _count(x, dim)
    centered = sub(x, mean(x, dim, keepdim=True))
    return div(ops.sum(mul(centered, centered), dim, keepdim), float(n - 1 if unbiased else n))


def norm(x: Tensor, p: float | str = "fro", dim: Dim = None, keepdim: bool = False) -> Tensor:
    """The p-norm over ``dim`` (all elements by default), as ``torch.norm``: p = 2 or "fro" gives
    sqrt(sum x^2), p = 1 sum |x|, p = inf max |x|, any other p >= 1 (sum |x|^p)^(1/p)."""
    dims = argcheck.dims("norm", dim, x.ndim)
    if p == "fro" or p == 2:
        return sqrt(ops.sum(mul(x, x), dims, keepdim))
    if p == numpy.inf:
        return ops.max(abs(x), dims, keepdim)
    p = argcheck.real("norm", "p", p, 1.0)
    if p == 1:
        return ops.sum(abs(x), dims, keepdim)
    return ops.pow_scalar(ops.sum(ops.pow_scalar(abs(x), p), dims, keepdim), 1.0 / p)


def max(x: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    return ops.max(x, argcheck.dims("max", dim, x.ndim), keepdim)


def min(x: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    return neg(ops.max(neg(x), argcheck.dims("min", dim, x.ndim), keepdim))


def logsumexp(x: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    """log sum exp(x) over ``dim``, computed without overflow."""
    return _lse(x, argcheck.dims("logsumexp", dim, x.ndim), keepdim)


# --- shapes -----------------------------------------------------------------------------------------


def reshape(x: Tensor, shape: ShapeLike) -> Tensor:
    """Reshape with at most one -1 (inferred), as ``torch.reshape``."""
    shape = argcheck.shape("reshape", shape, allow_minus_one=True)
    if shape.count(-1) > 1:
        raise ValueError(f"reshape: only one dimension can be -1, got {shape}")
    if -1 in shape:
        known = int(numpy.prod([s for s in shape if s != -1]))
        if known == 0 or x.numel() % known:
            raise ValueError(f"reshape: cannot view a tensor of shape {x.shape} ({x.numel()} elements) as {shape}")
        shape = tuple(x.numel() // known if s == -1 else s for s in shape)
    return _reshape(x, shape)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge the dims start_dim..end_dim (inclusive) into one (a 0-d tensor becomes 1-D)."""
    if x.ndim == 0:
        argcheck.dim("flatten", start_dim, 0, "start_dim")
        argcheck.dim("flatten", end_dim, 0, "end_dim")
        return _reshape(x, (1,))
    start_dim = argcheck.dim("flatten", start_dim, x.ndim, "start_dim")
    end_dim = argcheck.dim("flatten", end_dim, x.ndim, "end_dim")
    if start_dim > end_dim:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} (shape {x.shape})")
    size = int(numpy.prod(x.shape[start_dim : end_dim + 1]))
    return _reshape(x, x.shape[:start_dim] + (size,) + x.shape[end_dim + 1 :])


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    dim = argcheck.dim("unsqueeze", dim, x.ndim + 1)
    return _reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


def squeeze(x: Tensor, dim: int | None = None) -> Tensor:
    if dim is None:
        return _reshape(x, tuple(s for s in x.shape if s != 1))
    dim = argcheck.dim("squeeze", dim, x.ndim)
    if x.ndim == 0 or x.shape[dim] != 1:
        return x
    return _reshape(x, x.shape[:dim] + x.shape[dim + 1 :])


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenate along ``dim`` (torch.cat)."""
    tensors = _tensor_list("cat", tensors)
    return ops.concat(tensors, argcheck.dim("cat", dim, tensors[0].ndim))


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Stack along a new axis ``dim`` (torch.stack); the tensors must have one shape."""
    tensors = _tensor_list("stack", tensors, allow_scalars=True)
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack: expected tensors of one shape, got {sorted(shapes)}")
    dim = argcheck.dim("stack", dim, tensors[0].ndim + 1)
    return ops.concat([unsqueeze(t, dim) for t in tensors], dim)


def _tensor_list(op, tensors, allow_scalars=False):
    """A non-empty list of Tensors of one number of dimensions (arrays and numbers wrapped like the first
    Tensor); 0-d tensors only when ``allow_scalars``."""
    if isinstance(tensors, Tensor) or not hasattr(tensors, "__iter__"):
        raise TypeError(f"{op}: expected a list or tuple of tensors, got {type(tensors).__name__}")
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty list of tensors")
    like = next((t for t in tensors if isinstance(t, Tensor)), None)
    tensors = [_tensor(t, like) if not isinstance(t, Tensor) else t for t in tensors]
    ndims = {t.ndim for t in tensors}
    if len(ndims) > 1:
        raise ValueError(
            f"{op}: expected tensors with one number of dimensions, got shapes {[t.shape for t in tensors]}"
        )
    if not allow_scalars and tensors[0].ndim == 0:
        raise ValueError(f"{op}: zero-dimensional tensors cannot be concatenated (use stack)")
    return tensors


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """``chunks`` pieces of ceil(size / chunks) along ``dim`` (the last may be smaller, and there may be
    fewer pieces), as ``torch.chunk``; each piece is a differentiable slice."""
    chunks = argcheck.integer("chunk", "chunks", chunks, 1)
    dim = argcheck.dim("chunk", dim, x.ndim)
    size = -(-x.shape[dim] // chunks) if x.shape[dim] else 1
    return split(x, size, dim)


def split(x: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the listed section sizes
    (which must add up to the size of ``dim``), as ``torch.split``."""
    dim = argcheck.dim("split", dim, x.ndim)
    length = x.shape[dim]
    if argcheck.is_int(split_size_or_sections):
        step = argcheck.integer("split", "split_size", split_size_or_sections, 1)
        sizes = [builtins_min(step, length - start) for start in range(0, length, step)] or [0]
    else:
        sizes = list(argcheck.shape("split", split_size_or_sections, "split_size_or_sections"))
        if builtins_sum(sizes) != length:
            raise ValueError(
                f"split: the sections {sizes} add up to {builtins_sum(sizes)}, but dim {dim} has size {length}"
            )
    pieces, start = [], 0
    for size in sizes:
        index = (slice(None),) * dim + (slice(start, start + size),)
        pieces.append(ops.getitem(x, index))
        start += size
    return tuple(pieces)


def repeat(x: Tensor, sizes: Sequence[int]) -> Tensor:
    """Tile x ``sizes[i]`` times along dim i, as ``Tensor.repeat`` (extra leading sizes add dimensions):
    a broadcast of x to (r0, s0, r1, s1, ...) and a reshape to (r0 s0, r1 s1, ...)."""
    sizes = argcheck.shape("repeat", sizes, "sizes")
    if len(sizes) < x.ndim:
        raise ValueError(f"repeat: give at least one size per dimension of the tensor ({x.ndim}), got {sizes}")
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    interleaved = _reshape(x, tuple(v for s in shape for v in (1, s)))
    tiled = broadcast_to(interleaved, tuple(v for r, s in zip(sizes, shape) for v in (r, s)))
    return _reshape(tiled, tuple(r * s for r, s in zip(sizes, shape)))


def masked_fill(x: Tensor, mask: TensorLike, value: Number) -> Tensor:
    """x with ``value`` where the boolean ``mask`` (broadcast to x's shape) is True; the gradient is 0
    there, as in PyTorch."""
    mask = unwrap(mask)
    if getattr(mask, "dtype", None) is None or mask.dtype.kind != "b":
        raise TypeError(
            f"masked_fill: mask must be a boolean tensor or array, got {getattr(mask, 'dtype', type(mask).__name__)}"
        )
    if not isinstance(value, Tensor):
        argcheck.real("masked_fill", "value", value)
    mask = x.xp.broadcast_to(mask, x.shape)
    return ops.where(mask, _tensor(value, x), x)


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> tuple[Tensor, Tensor]:
    """(values, indices) of the k largest (or smallest) entries along ``dim``, in decreasing (increasing)
    order, as ``torch.topk``; the values are a differentiable gather, the indices int64."""
    dim = argcheck.dim("topk", dim, x.ndim)
    k = argcheck.integer("topk", "k", k, 0)
    size = x.shape[dim] if x.ndim else 1
    if k > size:
        raise ValueError(f"topk: k = {k} is larger than the size {size} of dim {dim}")
    xp = x.xp
    keys = -x.array if largest else x.array
    order = xp.argsort(keys, axis=dim, kind="stable") if x.ndim else xp.zeros((1,), dtype=numpy.int64)
    indices = xp.take(order, xp.arange(k), axis=dim) if x.ndim else order[:k].reshape(())
    if x.ndim == 0:
        return x, Tensor(indices.astype(numpy.int64))
    grid = list(xp.ogrid[tuple(slice(0, n) for n in indices.shape)])
    grid[dim] = indices
    return ops.getitem(x, tuple(grid)), Tensor(indices.astype(numpy.int64))


def clone(x: Tensor) -> Tensor:
    """A copy that stays in the graph (gradient 1)."""
    return ops.mul_mask(x, x.xp.ones((), dtype=x.dtype))


def one_hot(labels: TensorLike, num_classes: int, dtype: DType = numpy.float32) -> Tensor:
    """Integer labels (N,) in [0, num_classes) -> one-hot rows (N, num_classes), a constant Tensor."""
    data = unwrap(labels)
    xp = backend.get_array_module(data)
    num_classes = argcheck.integer("one_hot", "num_classes", num_classes, 1)
    data = xp.asarray(data)
    if data.ndim != 1 or data.dtype.kind not in "iu":
        raise TypeError(
            f"one_hot: labels must be a 1-D integer tensor, got shape {tuple(data.shape)} and dtype {data.dtype}"
        )
    _check_classes("one_hot", data, num_classes, "labels")
    out = xp.zeros((data.shape[0], num_classes), dtype=dtype)
    out[xp.arange(data.shape[0]), data] = 1
    return Tensor(out)


# --- layers -----------------------------------------------------------------------------------------


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b;  x (..., in), W (out, in), b (out,) -> (..., out)."""
    if x.ndim < 1 or weight.ndim != 2:
        raise ValueError(
            f"linear: expected an input (..., in) and a weight (out, in), got shapes {x.shape} and {weight.shape}"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(
            f"linear: bias has shape {tuple(bias.shape)}, expected ({weight.shape[0]},) for a weight "
            f"of shape {weight.shape}"
        )
    if x.shape[-1] != weight.shape[-1]:
        raise ValueError(
            f"linear: input {x.shape} has {x.shape[-1]} features but weight {weight.shape} expects {weight.shape[-1]}"
        )
    if x.ndim == 2:
        return ops.linear(x, weight, bias)
    rows = _reshape(x, (int(numpy.prod(x.shape[:-1])), x.shape[-1]))  # (..., in) -> (rows, in)
    return _reshape(ops.linear(rows, weight, bias), x.shape[:-1] + (weight.shape[0],))


def conv2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair | str = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation (torch.nn.functional.conv2d): x (N, C, H, W), W (O, C / groups, kh, kw), b (O,).
    ``padding`` may be "valid" (0) or "same" (stride 1 only; an odd total pads one more on the bottom/right,
    as PyTorch). ``groups`` > 1 splits the channels into groups convolved separately (one conv per group)."""
    groups = argcheck.integer("conv2d", "groups", groups, 1)
    _check_conv_bias("conv2d", bias, weight.shape[0])
    if isinstance(padding, str):
        x, padding = _string_padding(x, weight, stride, padding, dilation)
    if groups == 1:
        y = ops.conv2d(x, weight, stride, padding, dilation)
    else:
        _check_groups("conv2d", x, groups, weight.shape[0], "out_channels")
        xs, ws = split(x, x.shape[1] // groups, 1), split(weight, weight.shape[0] // groups, 0)
        y = cat([ops.conv2d(xg, wg, stride, padding, dilation) for xg, wg in zip(xs, ws)], 1)
    return y if bias is None else add(y, _reshape(bias, (1, bias.shape[0], 1, 1)))


def _string_padding(x, weight, stride, padding, dilation):
    """(x, padding) for padding "valid" or "same": "same" pads x explicitly when the total is odd."""
    if padding == "valid":
        return x, 0
    if padding != "same":
        raise ValueError(f"conv2d: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    if argcheck.int_pair("conv2d", "stride", stride, 1) != (1, 1):
        raise ValueError(f"conv2d: padding='same' needs stride 1 (as in PyTorch), got stride {stride!r}")
    argcheck.ndim("conv2d", weight, 4, "weight (O, C, kh, kw)")
    dilation = argcheck.int_pair("conv2d", "dilation", dilation, 1)
    totals = [d * (k - 1) for d, k in zip(dilation, weight.shape[2:])]
    if totals[0] % 2 == 0 and totals[1] % 2 == 0:
        return x, (totals[0] // 2, totals[1] // 2)
    widths = [(t // 2, t - t // 2) for t in totals]
    return ops.pad(x, ((0, 0), (0, 0), widths[0], widths[1]), 0.0), 0


def _check_groups(op, x, groups, out_channels, out_name):
    argcheck.ndim(op, x, 4, "(N, C, H, W)")
    if x.shape[1] % groups or out_channels % groups:
        raise ValueError(
            f"{op}: groups = {groups} must divide the input channels ({x.shape[1]}) and the {out_name} ({out_channels})"
        )


def conv_transpose2d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    output_padding: IntPair = 0,
    groups: int = 1,
    dilation: IntPair = 1,
) -> Tensor:
    """Transposed convolution ("deconvolution", the gradient of conv2d w.r.t. its input):
    x (N, C, H, W), W (C, O / groups, kh, kw), b (O,) -> (N, O, (H-1)s - 2p + d(k-1) + output_padding + 1, ...).
    ``groups`` > 1: one transposed convolution per group of channels."""
    groups = argcheck.integer("conv_transpose2d", "groups", groups, 1)
    _check_conv_bias("conv_transpose2d", bias, weight.shape[1] * groups if weight.ndim == 4 else None)
    if groups == 1:
        y = ops.conv_transpose2d(x, weight, stride, padding, output_padding, dilation)
    else:
        _check_groups("conv_transpose2d", x, groups, weight.shape[0], "weight's first dimension")
        xs, ws = split(x, x.shape[1] // groups, 1), split(weight, weight.shape[0] // groups, 0)
        y = cat([ops.conv_transpose2d(xg, wg, stride, padding, output_padding, dilation) for xg, wg in zip(xs, ws)], 1)
    return y if bias is None else add(y, _reshape(bias, (1, bias.shape[0], 1, 1)))


def _check_conv_bias(op, bias, channels):
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != channels):
        raise ValueError(
            f"{op}: bias has shape {tuple(bias.shape)}, expected ({channels},): one value per output channel"
        )


def _pool_arguments(op, x, kernel_size, stride, padding):
    """Checked (kernel, stride, padding) pairs of a pooling op on x (N, C, H, W), and the output size."""
    argcheck.ndim(op, x, 4, "(N, C, H, W)")
    kernel = argcheck.int_pair(op, "kernel_size", kernel_size, 1)
    stride = kernel if stride is None else argcheck.int_pair(op, "stride", stride, 1)
    padding = argcheck.int_pair(op, "padding", padding, 0)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding {padding} must be at most half of kernel_size {kernel}")
    out = tuple((x.shape[2 + i] + 2 * padding[i] - kernel[i]) // stride[i] + 1 for i in range(2))
    if out[0] < 1 or out[1] < 1:
        raise ValueError(f"{op}: input {x.shape} is too small for kernel_size {kernel} with padding {padding}")
    return kernel, stride, padding, out


def avg_pool2d(x: Tensor, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0) -> Tensor:
    """Average over kh x kw windows (zero padding counted, as PyTorch's default count_include_pad=True):
    a convolution of each channel with a constant 1/(kh kw) kernel."""
    (kh, kw), stride, padding, _ = _pool_arguments("avg_pool2d", x, kernel_size, stride, padding)
    argcheck.floating("avg_pool2d", x)
    n, c, h, w = x.shape
    kernel = Tensor(x.xp.full((1, 1, kh, kw), 1.0 / (kh * kw), dtype=x.dtype))
    y = ops.conv2d(_reshape(x, (n * c, 1, h, w)), kernel, stride, padding, 1)
    return _reshape(y, (n, c) + y.shape[2:])


def max_pool2d(x: Tensor, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0) -> Tensor:
    """Maximum over kh x kw windows (padding with -inf, as PyTorch). The windows are gathered by indexing,
    so the gradient is a scatter to the argmax and the op is twice differentiable."""
    (kh, kw), (sh, sw), (ph, pw), (ho, wo) = _pool_arguments("max_pool2d", x, kernel_size, stride, padding)
    argcheck.floating("max_pool2d", x)
    xp = x.xp
    if ph or pw:
        x = ops.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), value=-numpy.inf)
    rows = xp.arange(kh)[:, None, None, None] + sh * xp.arange(ho)[None, None, :, None]
    cols = xp.arange(kw)[None, :, None, None] + sw * xp.arange(wo)[None, None, None, :]
    rows = xp.broadcast_to(rows, (kh, kw, ho, wo)).reshape(kh * kw, ho, wo)
    cols = xp.broadcast_to(cols, (kh, kw, ho, wo)).reshape(kh * kw, ho, wo)
    windows = ops.getitem(x, (slice(None), slice(None), rows, cols))  # (N, C, kh*kw, Ho, Wo)
    return ops.max(windows, 2)


def interpolate(
    x: Tensor,
    size: ShapeLike | None = None,
    scale_factor: float | tuple[float, float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
) -> Tensor:
    """Resize x (N, C, H, W) to ``size`` or by ``scale_factor`` (give exactly one), as
    ``torch.nn.functional.interpolate``.  mode "nearest": output pixel i copies input pixel
    floor(i * scale) (scale = 1 / scale_factor, or in / out for a size), as PyTorch's "nearest".
    mode "bilinear": any size; ``align_corners`` False (the default) maps pixel centres, True the corner
    pixels onto each other -- each output is a weighted sum of two rows, then two columns, of the input."""
    if mode not in ("nearest", "bilinear"):
        raise NotImplementedError(f"interpolate: mode {mode!r} (only 'nearest' and 'bilinear')")
    if mode == "nearest" and align_corners is not None:
        raise ValueError("interpolate: align_corners only applies to mode 'bilinear'")
    argcheck.ndim("interpolate", x, 4, "(N, C, H, W)")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    if mode == "bilinear":
        return _bilinear(x, size, scale_factor, bool(align_corners))
    n, c, h, w = x.shape
    out, factors = _output_size(x, size, scale_factor)
    if (
        out[0] % h == 0
        and out[1] % w == 0
        and all(f is None or f == out[i] // x.shape[2 + i] for i, f in enumerate(factors))
    ):
        sh, sw = out[0] // h, out[1] // w  # integer factors: each pixel an sh x sw block
        y = broadcast_to(_reshape(x, (n, c, h, 1, w, 1)), (n, c, h, sh, w, sw))
        return _reshape(y, (n, c, h * sh, w * sw))
    y = x
    for axis, (n_in, n_out, factor) in enumerate(zip(x.shape[2:], out, factors), start=2):
        # PyTorch's source pixel: floor(i * scale) in float32, scale = 1 / scale_factor or n_in / n_out
        scale = numpy.float32(1.0 / factor if factor is not None else n_in / n_out)
        source = numpy.minimum(
            numpy.floor(numpy.arange(n_out, dtype=numpy.float32) * scale).astype(numpy.int64), n_in - 1
        )
        y = ops.getitem(y, (slice(None),) * axis + (x.xp.asarray(source),))
    return y


def _output_size(x, size, scale_factor):
    """((out_h, out_w), (factor_h, factor_w) or (None, None)) of an interpolation, checked; the output size
    of a scale_factor is floor(size * factor), as PyTorch's."""
    if size is not None:
        return argcheck.int_pair("interpolate", "size", size, 1), (None, None)
    factors = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * 2
    if len(factors) != 2:
        raise ValueError(f"interpolate: scale_factor must be a number or a pair, got {scale_factor!r}")
    factors = tuple(argcheck.real("interpolate", "scale_factor", f) for f in factors)
    if builtins_min(factors) <= 0:
        raise ValueError(f"interpolate: scale_factor must be positive, got {scale_factor!r}")
    out = tuple(int(numpy.floor(n * f)) for n, f in zip(x.shape[2:], factors))
    if builtins_min(out) < 1:
        raise ValueError(f"interpolate: scale_factor {scale_factor!r} gives an empty output for {x.shape}")
    return out, factors


def _bilinear(x, size, scale_factor, align_corners):
    argcheck.floating("interpolate", x)
    out, factors = _output_size(x, size, scale_factor)
    y = x
    for axis, (n_in, n_out, factor) in enumerate(zip(x.shape[2:], out, factors), start=2):
        y = _linear_along(y, axis, n_in, n_out, factor, align_corners)
    return y


def _linear_along(x, axis, n_in, n_out, factor, align_corners):
    """Linear interpolation along one axis, with PyTorch's source coordinates: align_corners maps
    i -> i (n_in - 1) / (n_out - 1); otherwise i -> (i + 0.5) / scale - 0.5 clamped at 0, where scale is
    the given scale_factor (or n_out / n_in)."""
    xp = x.xp
    target = numpy.arange(n_out, dtype=numpy.float64)
    if align_corners:
        source = target * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:
        ratio = 1.0 / factor if factor is not None else n_in / n_out
        source = numpy.maximum((target + 0.5) * ratio - 0.5, 0.0)
    low = numpy.minimum(numpy.floor(source).astype(numpy.int64), n_in - 1)
    high = numpy.minimum(low + 1, n_in - 1)
    weight_high = (source - low).astype(x.dtype)
    shape = [1] * x.ndim
    shape[axis] = n_out
    weight_high = Tensor(xp.asarray(weight_high.reshape(shape)))
    before = (slice(None),) * axis
    rows_low = ops.getitem(x, before + (xp.asarray(low),))
    rows_high = ops.getitem(x, before + (xp.asarray(high),))
    return add(rows_low, mul(sub(rows_high, rows_low), weight_high))


upsample = interpolate


def pad(x: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """torch.nn.functional.pad: ``pad`` lists (left, right) for the last dim, then the one before, ...

    mode "constant" fills with ``value`` (0 by default); the others pad the last 1, 2 or 3 dims of a batched
    or unbatched input (2-D to 5-D, as PyTorch) from its own values: "reflect" mirrors about the edge
    element without repeating it (each pad < that dim's size), "replicate" repeats the edge element,
    "circular" wraps around (each pad <= the size). Those gather by integer indexing, so the gradient is a
    scatter-add of the output gradient and the op is twice differentiable."""
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    pad = argcheck.shape("pad", pad, name="pad")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: {pad} must hold pairs for at most {x.ndim} dimensions")
    if mode == "constant":
        value = 0.0 if value is None else argcheck.real("pad", "value", value)
        width = [(0, 0)] * x.ndim
        for i in range(len(pad) // 2):
            width[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
        return ops.pad(x, width, value)
    if value is not None:
        raise ValueError(f"pad: mode {mode!r} takes no value (only mode 'constant' fills with one)")
    padded_dims = len(pad) // 2
    if padded_dims not in (1, 2, 3) or x.ndim not in (padded_dims + 1, padded_dims + 2):
        raise ValueError(
            f"pad: mode {mode!r} pads the last 1, 2 or 3 dims of an input with one or two more "
            f"(batch, channel); got {len(pad)} pad values for shape {tuple(x.shape)}"
        )
    for i in range(padded_dims):
        axis = x.ndim - 1 - i
        before, after = pad[2 * i], pad[2 * i + 1]
        if before or after:
            x = ops.getitem(
                x, (slice(None),) * axis + (x.xp.asarray(_pad_indices(mode, x.shape[axis], before, after, axis)),)
            )
    return x


def _pad_indices(mode, size, before, after, axis):
    """The source index of each position of a dim of ``size`` padded by (before, after) in ``mode``."""
    limit = {"reflect": size - 1, "replicate": None, "circular": size}[mode]
    if size == 0 or (limit is not None and builtins_max(before, after) > limit):
        allowed = {"reflect": "smaller than", "circular": "at most"}.get(mode, "")
        raise ValueError(
            f"pad: mode {mode!r} needs each pad of dim {axis} {allowed} its size {size}".replace("  ", " ")
            + f", got ({before}, {after})"
        )
    positions = numpy.arange(-before, size + after)
    if mode == "reflect":
        positions = numpy.abs(positions)
        return numpy.where(positions >= size, 2 * (size - 1) - positions, positions)
    if mode == "replicate":
        return numpy.clip(positions, 0, size - 1)
    return positions % size


# --- activations ------------------------------------------------------------------------------------


def relu(x: Tensor) -> Tensor:
    """max(x, 0)."""
    return ops.leaky_relu(x, 0.0)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope * x otherwise (Maas et al., 2013)."""
    return ops.leaky_relu(x, argcheck.real("leaky_relu", "negative_slope", negative_slope))


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x for x > 0, alpha (e^x - 1) otherwise (Clevert et al., 2016), with expm1: e^x - 1 would cancel near 0
    (float32 elu(-0.03125) was 2.6e-6 off, relative)."""
    alpha = argcheck.real("elu", "alpha", alpha)
    negative = mul(expm1(clamp(x, max=0.0)), float(alpha))
    return ops.where(x.array > 0, x, negative)


def logsigmoid(x: Tensor) -> Tensor:
    """log sigmoid(x) = -softplus(-x), stable for large |x|."""
    return neg(softplus(neg(x)))


def log_softmax(x: Tensor, dim: int) -> Tensor:
    """log softmax along ``dim`` in the shifted form (x - m) - log sum exp(x - m), m = max x: the large
    common part of x cancels exactly before any rounding, so float32 logits near 1e4 lose nothing (x -
    logsumexp(x) would round the logsumexp at the logits' magnitude).  One primitive (``ops.log_softmax``)."""
    dim = argcheck.dim("log_softmax", dim, x.ndim)
    argcheck.floating("log_softmax", x)
    return ops.log_softmax(x, dim)


def softmax(x: Tensor, dim: int) -> Tensor:
    """exp(log_softmax(x)) along ``dim``."""
    dim = argcheck.dim("softmax", dim, x.ndim)
    argcheck.floating("softmax", x)
    return exp(ops.log_softmax(x, dim))


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (Srivastava et al., 2014).
    The mask comes from the device's generator, so ``manual_seed`` makes it reproducible."""
    p = argcheck.real("dropout", "p", p, 0.0, 1.0)
    if not training or p == 0:
        return x
    if p == 1:  # every element dropped, as PyTorch
        return ops.mul_mask(x, x.xp.zeros((), dtype=x.dtype))
    keep = backend.generator(x.device).random(x.shape) >= p
    return ops.mul_mask(x, (keep / (1 - p)).astype(x.dtype))


def dropout2d(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero whole channels of x (N, C, H, W) (or (C, H, W)) with probability p and scale the rest by
    1/(1-p) (Tompson et al., 2015), as ``torch.nn.functional.dropout2d``."""
    p = argcheck.real("dropout2d", "p", p, 0.0, 1.0)
    argcheck.ndim("dropout2d", x, (3, 4), "(N, C, H, W) or (C, H, W)")
    if not training or p == 0:
        return x
    mask_shape = x.shape[:-2] + (1, 1)
    if p == 1:
        return ops.mul_mask(x, x.xp.zeros(mask_shape, dtype=x.dtype))
    keep = backend.generator(x.device).random(mask_shape) >= p
    return ops.mul_mask(x, (keep / (1 - p)).astype(x.dtype))


def batch_norm(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation (Ioffe & Szegedy, 2015) over every axis but 1 (channels).

    y = (x - mean) / sqrt(var + eps) * weight + bias. In training the batch statistics are used (biased
    variance) and the running estimates are updated in place: r <- (1 - momentum) r + momentum * stat
    (the unbiased variance, as PyTorch)."""
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input (N, C, ...) of at least 2 dimensions, got shape {x.shape}")
    argcheck.floating("batch_norm", x)
    eps = argcheck.real("batch_norm", "eps", eps, 0.0)
    momentum = argcheck.real("batch_norm", "momentum", momentum, 0.0, 1.0)
    for name, value in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if value is not None and tuple(unwrap(value).shape) != (x.shape[1],):
            raise ValueError(
                f"batch_norm: {name} has shape {tuple(unwrap(value).shape)}, expected "
                f"({x.shape[1]},): one value per channel of the input {x.shape}"
            )
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: evaluation (training=False) needs running_mean and running_var")
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if training:
        n = x.numel() // x.shape[1]
        if n <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input {x.shape}")
        # one primitive for the whole layer (ops/norm.py) when weight and bias are (C,) vectors of x's dtype;
        # anything else takes the composite below (NumPy's type promotion, its shape errors)
        affine = (
            weight is not None
            and bias is not None
            and weight.shape == bias.shape == (x.shape[1],)
            and weight.dtype == bias.dtype == x.dtype
        )
        if affine:
            y, batch_mean, batch_var = batch_norm_affine(x, weight, bias, eps)
        else:
            y, batch_mean, batch_var = batch_norm_normalize(x, eps)
        if running_mean is not None:
            rm, rv = unwrap(running_mean), unwrap(running_var)
            rm *= 1 - momentum
            rm += momentum * batch_mean.astype(rm.dtype)
            rv *= 1 - momentum
            rv += momentum * batch_var.astype(rv.dtype) * (n / (n - 1))
            for buffer in (running_mean, running_var):
                if isinstance(buffer, Tensor):
                    buffer._bump_version()
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


def layer_norm(
    x: Tensor, normalized_shape: ShapeLike, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """Layer normalisation (Ba et al., 2016) over the trailing ``normalized_shape`` axes."""
    normalized_shape = argcheck.shape("layer_norm", normalized_shape, "normalized_shape")
    eps = argcheck.real("layer_norm", "eps", eps, 0.0)
    if not normalized_shape or x.shape[x.ndim - len(normalized_shape) :] != normalized_shape:
        raise ValueError(f"layer_norm: input {x.shape} does not end with normalized_shape {normalized_shape}")
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and tuple(value.shape) != normalized_shape:
            raise ValueError(
                f"layer_norm: {name} has shape {tuple(value.shape)}, expected normalized_shape {normalized_shape}"
            )
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    centered = sub(x, mean(x, axes, keepdim=True))
    variance = mean(mul(centered, centered), axes, keepdim=True)
    y = mul(centered, ops.pow_scalar(add(variance, float(eps)), -0.5))
    if weight is not None:
        y = mul(y, weight)
    if bias is not None:
        y = add(y, bias)
    return y


def group_norm(
    x: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """Group normalisation (Wu & He, 2018): x (N, C, ...) normalised over each group of C / num_groups
    channels and the spatial axes (biased variance), then y * weight[c] + bias[c]."""
    num_groups = argcheck.integer("group_norm", "num_groups", num_groups, 1)
    eps = argcheck.real("group_norm", "eps", eps, 0.0)
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise ValueError(
            f"group_norm: expected an input (N, C, ...) with C divisible by num_groups = "
            f"{num_groups}, got shape {x.shape}"
        )
    argcheck.floating("group_norm", x)
    grouped = _reshape(x, (x.shape[0], num_groups, -1) if x.numel() else (x.shape[0], num_groups, 0))
    centered = sub(grouped, mean(grouped, 2, keepdim=True))
    variance = mean(mul(centered, centered), 2, keepdim=True)
    y = _reshape(mul(centered, ops.pow_scalar(add(variance, float(eps)), -0.5)), x.shape)
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = mul(y, _reshape(weight, shape))
    if bias is not None:
        y = add(y, _reshape(bias, shape))
    return y


def instance_norm(
    x: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Instance normalisation (Ulyanov et al., 2016): each (sample, channel) of x (N, C, ...) normalised
    over its spatial axes (biased variance), then y * weight[c] + bias[c].  With running statistics and
    ``use_input_stats`` they are updated in place with the batch average of the per-instance mean and
    unbiased variance, as PyTorch; ``use_input_stats=False`` normalises with them instead."""
    if x.ndim < 3:
        raise ValueError(
            f"instance_norm: expected an input (N, C, spatial...) of at least 3 dimensions, got shape {x.shape}"
        )
    argcheck.floating("instance_norm", x)
    eps = argcheck.real("instance_norm", "eps", eps, 0.0)
    momentum = argcheck.real("instance_norm", "momentum", momentum, 0.0, 1.0)
    axes = tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if use_input_stats:
        n = _count(x, axes)
        if n <= 1:
            raise ValueError(f"instance_norm: expected more than 1 spatial element per channel, got input {x.shape}")
        centered = sub(x, mean(x, axes, keepdim=True))
        variance = mean(mul(centered, centered), axes, keepdim=True)
        y = mul(centered, ops.pow_scalar(add(variance, float(eps)), -0.5))
        if running_mean is not None and running_var is not None:
            batch_mean = x.array.mean(axis=axes).mean(axis=0)
            batch_var = (variance.array.reshape(x.shape[:2]) * (n / (n - 1))).mean(axis=0)
            rm, rv = unwrap(running_mean), unwrap(running_var)
            rm *= 1 - momentum
            rm += momentum * batch_mean.astype(rm.dtype)
            rv *= 1 - momentum
            rv += momentum * batch_var.astype(rv.dtype)
            for buffer in (running_mean, running_var):
                if isinstance(buffer, Tensor):
                    buffer._bump_version()
    else:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: use_input_stats=False needs running_mean and running_var")
        mu = _reshape(_tensor(unwrap(running_mean), x), shape)
        variance = _reshape(_tensor(unwrap(running_var), x), shape)
        y = mul(sub(x, mu), ops.pow_scalar(add(variance, float(eps)), -0.5))
    if weight is not None:
        y = mul(y, _reshape(weight, shape))
    if bias is not None:
        y = add(y, _reshape(bias, shape))
    return y


# --- losses -----------------------------------------------------------------------------------------

REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(op, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss, reduction):
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return ops.sum(loss)
    return loss


def _check_classes(op, labels, num_classes, name="target"):
    """Integer class indices in [0, num_classes): a -1 would otherwise pick the last class."""
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)].reshape(-1)[0]
        raise ValueError(f"{op}: {name} values must be class indices in [0, {num_classes}), got {int(bad)}")


def _check_same_shape(name, input, target):
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{name}: input shape {tuple(input.shape)} and target shape {tuple(target.shape)} differ")


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """mean (input - target)^2."""
    _check_reduction("mse_loss", reduction)
    target = _tensor(target, input)
    _check_same_shape("mse_loss", input, target)
    diff = sub(input, target)
    return _reduce(mul(diff, diff), reduction)


def binary_cross_entropy(
    input: Tensor, target: Tensor, weight: Tensor | None = None, reduction: str = "mean"
) -> Tensor:
    """-(t log p + (1 - t) log(1 - p)) for probabilities p; each log is clamped at -100, as PyTorch does,
    so p = 0 or 1 gives a finite loss.  Probabilities outside [0, 1] (or NaN) are refused, as PyTorch does:
    their log would be NaN."""
    _check_reduction("binary_cross_entropy", reduction)
    target = _tensor(target, input)
    _check_same_shape("binary_cross_entropy", input, target)
    if input.numel() and not bool(((input.array >= 0) & (input.array <= 1)).all()):
        raise ValueError(
            "binary_cross_entropy: every element of input must be a probability in [0, 1]; "
            f"got values in [{float(input.array.min())}, {float(input.array.max())}] (use "
            "binary_cross_entropy_with_logits for logits)"
        )
    log_p = clamp(log(input), min=-100.0)
    log_1mp = clamp(log(sub(1.0, input)), min=-100.0)
    loss = neg(add(mul(target, log_p), mul(sub(1.0, target), log_1mp)))
    if weight is not None:
        loss = mul(loss, weight)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """BCE on logits x: softplus(x) - t x, evaluated as x (1 - t) + softplus(-x) where x >= 0 (the same
    value: softplus(x) = x + softplus(-x)).  For x >= 0, softplus(x) - t x would round softplus(x) at x's
    magnitude before the subtraction (x = 20, t = 1: 0 instead of 2.1e-9); each branch here adds only terms
    that do not cancel.  The gradient is sigmoid(x) - t from either branch.

    ``pos_weight`` p (broadcast against the last dimension: one weight per class) weighs the positive term:
    (1 - t) x + (1 + (p - 1) t) softplus(-x), PyTorch's form; ``weight`` rescales each element's loss."""
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    target = _tensor(target, input)
    _check_same_shape("binary_cross_entropy_with_logits", input, target)
    if pos_weight is None:
        loss = ops.binary_cross_entropy_with_logits(input, target)  # one primitive, both branches
    else:
        log_weight = add(mul(sub(_tensor(pos_weight, input), 1.0), target), 1.0)
        loss = add(mul(sub(1.0, target), input), mul(log_weight, softplus(neg(input))))
    if weight is not None:
        loss = mul(loss, _tensor(weight, input))
    return _reduce(loss, reduction)


def _class_rows(op, scores, target, reduction):
    """scores (N, C) or (N, C, d1, ...) as rows (M, C) with the class dimension last, and the integer
    targets (N,) or (N, d1, ...) flattened to (M,). Returns (rows, labels, the per-element shape)."""
    _check_reduction(op, reduction)
    labels = unwrap(target)
    if not hasattr(labels, "dtype"):
        labels = scores.xp.asarray(labels)
    if scores.ndim < 2 or labels.shape != (scores.shape[0],) + tuple(scores.shape[2:]):
        raise ValueError(
            f"{op}: expected input (N, C) or (N, C, d1, ...) and integer targets (N,) or "
            f"(N, d1, ...), got {tuple(scores.shape)} and {tuple(labels.shape)}"
        )
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{op}: targets must be integer class indices, got dtype {labels.dtype}")
    if scores.ndim == 2:
        return scores, labels, labels.shape
    rows = transpose(scores, (0,) + tuple(range(2, scores.ndim)) + (1,))  # (N, C, d...) -> (N, d..., C)
    return _reshape(rows, (-1, scores.shape[1])), labels.reshape(-1), labels.shape  # -> (M, C)


def _class_weights(op, weight, labels, valid, like):
    """w[target] for the valid positions, 0 elsewhere, as an array (the weights are constants)."""
    xp = like.xp
    if weight is None:
        return valid.astype(like.dtype)
    weight = unwrap(_tensor(weight, like))
    if weight.ndim != 1 or weight.shape[0] != like.shape[1]:
        raise ValueError(f"{op}: weight must have one entry per class ({like.shape[1]},), got {tuple(weight.shape)}")
    return xp.where(valid, weight.astype(like.dtype)[xp.where(valid, labels, 0)], 0).astype(like.dtype)


def nll_loss(
    log_probs: Tensor,
    target: TensorLike,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """-w[t] log_probs[n, t] with t = target[n]: log_probs (N, C) or (N, C, d1, ...), target (N,) or
    (N, d1, ...) integer class indices in [0, C) or ``ignore_index`` (which contributes nothing). ``weight``
    (C,): per-class weights; "mean" divides by the sum of the weights of the counted targets (PyTorch's
    weighted mean; NaN when every target is ignored, as PyTorch)."""
    rows, labels, element_shape = _class_rows("nll_loss", log_probs, target, reduction)
    valid = labels != ignore_index
    _check_classes("nll_loss", labels[valid], rows.shape[1])
    xp = rows.xp
    if weight is None and bool(valid.all()):  # the common case: no weights, none ignored
        loss = neg(ops.getitem(rows, (xp.arange(labels.shape[0]), labels)))
        return _reduce(loss if reduction != "none" or log_probs.ndim == 2 else _reshape(loss, element_shape), reduction)
    weights = _class_weights("nll_loss", weight, labels, valid, rows)
    picked = ops.getitem(rows, (xp.arange(labels.shape[0]), xp.where(valid, labels, 0)))
    loss = neg(mul(picked, weights))
    if reduction == "mean":
        return div(ops.sum(loss), float(weights.sum()))
    return ops.sum(loss) if reduction == "sum" else _reshape(loss, element_shape)


def cross_entropy(
    input: Tensor,
    target: TensorLike,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy, PyTorch's ``cross_entropy``: input logits (N, C) or (N, C, d1, ...), with

    * integer class targets (N, ...) in [0, C) or ``ignore_index``: nll_loss(log_softmax(input, 1), ...),
      and with ``label_smoothing`` eps: (1 - eps) nll + eps / C * sum_c -w_c log p_c (the weighted mean
      divides both by the sum of the counted targets' weights);
    * class-probability targets of input's shape: -sum_c w_c t_c log p_c per element, t smoothed to
      (1 - eps) t + eps / C; "mean" is the mean over the N x d1 x ... elements.
    ``weight`` (C,): per-class weights (constants)."""
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= float(label_smoothing) <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    eps = float(label_smoothing)
    target_array = unwrap(target)
    probabilities = hasattr(target_array, "dtype") and target_array.dtype.kind == "f"
    if not probabilities:  # check the class targets here, so that errors name this op
        _, labels, _ = _class_rows("cross_entropy", input, target, reduction)
        counted = labels != ignore_index
        every_target_counted = bool(counted.all())
        _check_classes("cross_entropy", labels if every_target_counted else labels[counted], input.shape[1])
        if every_target_counted and weight is None and not eps and input.ndim == 2 and input.shape[0]:
            argcheck.floating("cross_entropy", input)  # the common case: one primitive
            return ops.cross_entropy(input, labels, reduction)
    elif input.ndim < 2:
        raise ValueError(f"cross_entropy: expected input (N, C) or (N, C, d1, ...), got {tuple(input.shape)}")
    log_p = log_softmax(input, 1)
    n_classes = input.shape[1]
    if probabilities:
        target = _tensor(target, input)
        _check_same_shape("cross_entropy", input, target)
        if eps:
            target = add(mul(target, 1.0 - eps), eps / n_classes)
        terms = mul(log_p, target)
        if weight is not None:
            shape = (1, n_classes) + (1,) * (input.ndim - 2)
            terms = mul(terms, _reshape(_tensor(weight, input), shape))
        return _reduce(neg(ops.sum(terms, 1)), reduction)
    nll = nll_loss(log_p, target, weight, ignore_index, reduction)
    if not eps:
        return nll
    rows, labels, element_shape = _class_rows("cross_entropy", log_p, target, reduction)
    valid = labels != ignore_index
    weights = _class_weights("cross_entropy", weight, labels, valid, rows)
    per_class = rows if weight is None else mul(rows, _reshape(_tensor(weight, input), (1, n_classes)))
    smooth = mul(neg(ops.sum(per_class, 1)), valid.astype(rows.dtype))  # (M,)
    if reduction == "mean":
        smooth = div(ops.sum(smooth), float(weights.sum()))
    elif reduction == "sum":
        smooth = ops.sum(smooth)
    else:
        smooth = _reshape(smooth, element_shape)
    return add(mul(nll, 1.0 - eps), mul(smooth, eps / n_classes))


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """mean |input - target|."""
    _check_reduction("l1_loss", reduction)
    target = _tensor(target, input)
    _check_same_shape("l1_loss", input, target)
    return _reduce(abs(sub(input, target)), reduction)


def kl_div(input: Tensor, target: Tensor, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """PyTorch's ``kl_div``: ``input`` holds log-probabilities log q, ``target`` probabilities p (or log p
    with ``log_target``); the pointwise loss p (log p - log q), 0 where p = 0. ``reduction="batchmean"``
    (sum / N) is the KL divergence per sample; "mean" averages over every element, as PyTorch does."""
    if reduction not in REDUCTIONS + ("batchmean",):
        raise ValueError(f"kl_div: reduction must be 'mean', 'batchmean', 'sum' or 'none', got {reduction!r}")
    target = _tensor(target, input)
    _check_same_shape("kl_div", input, target)
    if log_target:
        loss = mul(exp(target), sub(target, input))
    else:
        ones = _tensor(target.xp.ones_like(target.array), target)
        log_p = log(ops.where(target.array > 0, target, ones))  # p log p = 0 where p = 0 (xlogy)
        loss = sub(mul(target, log_p), mul(target, input))
    if reduction == "batchmean":
        return div(ops.sum(loss), float(input.shape[0]) if input.ndim else 1.0)
    return _reduce(loss, reduction)


def kl_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL( N(mu, diag(exp(logvar))) || N(0, I) ) per sample, summed over the latent dimensions:

        KL = -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j)) = 1/2 sum_j (mu_j^2 + expm1(logvar_j) - logvar_j)

    (Kingma & Welling, 2014, appendix B), in the second form: near the prior (logvar ~ 0) the first one
    cancels 1 against exp(logvar) and keeps only float rounding at 1's magnitude. mu, logvar (N, D) -> (N,)."""
    _check_same_shape("kl_normal", mu, logvar)
    if mu.ndim < 1:
        raise ValueError("kl_normal: expected mu and logvar (N, D) or (N,), got 0-d tensors")
    terms = add(mul(mu, mu), sub(ops.expm1(logvar), logvar))
    return mul(ops.sum(terms, tuple(range(1, mu.ndim))), 0.5)
