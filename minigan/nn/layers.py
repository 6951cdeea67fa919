"""Layers with PyTorch's names, arguments, weight layouts and default initialisations.

Each layer holds its Parameters/buffers and calls one function of ``minigan.functional`` in ``forward``.
``device``/``dtype`` arguments say where the parameters live (default: float32 on the CPU).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy

from .. import argcheck
from .. import functional as F
from .. import ops
from ..tensor import Tensor, ones, zeros
from . import init
from .module import Module, Parameter

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from ..typing import Device, DType, IntPair, ShapeLike

__all__ = [
    "Linear",
    "Conv2d",
    "ConvTranspose2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "LayerNorm",
    "GroupNorm",
    "InstanceNorm2d",
    "Dropout",
    "Dropout2d",
    "Embedding",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "Sigmoid",
    "Tanh",
    "Softplus",
    "Softmax",
    "LogSoftmax",
    "Identity",
    "Sequential",
    "ModuleList",
    "Flatten",
    "Unflatten",
    "Upsample",
    "MaxPool2d",
    "AvgPool2d",
    "ZeroPad1d",
    "ZeroPad2d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "CircularPad1d",
    "CircularPad2d",
]


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _check_conv_arguments(layer, in_channels, out_channels, kernel_size, stride, padding, dilation, groups=1):
    """The constructor arguments of a convolution layer, checked as the functional op checks them."""
    argcheck.integer(layer, "in_channels", in_channels, 1)
    argcheck.integer(layer, "out_channels", out_channels, 1)
    argcheck.int_pair(layer, "kernel_size", kernel_size, 1)
    argcheck.int_pair(layer, "stride", stride, 1)
    if padding == "same":
        if argcheck.int_pair(layer, "stride", stride, 1) != (1, 1):
            raise ValueError(f"{layer}: padding='same' needs stride 1 (as in PyTorch), got stride {stride!r}")
    elif padding != "valid":
        argcheck.int_pair(layer, "padding", padding, 0)
    argcheck.int_pair(layer, "dilation", dilation, 1)
    argcheck.integer(layer, "groups", groups, 1)
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"{layer}: groups = {groups} must divide in_channels ({in_channels}) and out_channels ({out_channels})"
        )


def _param(*shape, device, dtype):
    return Parameter(zeros(*shape, dtype=dtype, device=device or "cpu"))


def _default_init(weight, bias):
    """PyTorch's reset_parameters for Linear/Conv: W ~ U(+-1/sqrt(fan_in)) (kaiming_uniform, a = sqrt 5),
    b ~ U(+-1/sqrt(fan_in))."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)


# --- affine layers ----------------------------------------------------------------------------------


class Linear(Module):
    """y = x W^T + b.   x (..., in_features) -> y (..., out_features);  W (out, in), b (out,)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: Device | None = None,
        dtype: DType | None = None,
    ) -> None:
        super().__init__()
        argcheck.integer("Linear", "in_features", in_features, 1)
        argcheck.integer("Linear", "out_features", out_features, 1)
        self.in_features, self.out_features = in_features, out_features
        self.weight = _param(out_features, in_features, device=device, dtype=dtype)
        self.bias = _param(out_features, device=device, dtype=dtype) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _default_init(self.weight, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class _ConvNd(Module):
    def _conv_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding not in ((0, 0), "valid"):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if getattr(self, "output_padding", (0, 0)) != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.bias is None:
            s += ", bias=False"
        if getattr(self, "padding_mode", "zeros") != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    extra_repr = _conv_repr

    def reset_parameters(self) -> None:
        _default_init(self.weight, self.bias)


class Conv2d(_ConvNd):
    """2-D cross-correlation:  y[n, o] = b[o] + sum_c W[o, c] * x[n, c].
    x (N, C_in, H, W) -> y (N, C_out, (H + 2p - d(k-1) - 1)//s + 1, ...);  W (C_out, C_in, kh, kw)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair | str = 0,
        dilation: IntPair = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Device | None = None,
        dtype: DType | None = None,
    ) -> None:
        super().__init__()
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(
                f"Conv2d: padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', got {padding_mode!r}"
            )
        _check_conv_arguments("Conv2d", in_channels, out_channels, kernel_size, stride, padding, dilation, groups)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)
        self.padding = padding if isinstance(padding, str) else _pair(padding)
        self.dilation = _pair(dilation)
        self.padding_mode = padding_mode
        self.weight = _param(out_channels, in_channels // groups, *self.kernel_size, device=device, dtype=dtype)
        if bias:
            self.bias = _param(out_channels, device=device, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        if self.padding_mode == "zeros":
            return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        return F.conv2d(
            F.pad(x, self._pad_widths(), mode=self.padding_mode),
            self.weight,
            self.bias,
            self.stride,
            0,
            self.dilation,
            self.groups,
        )

    def _pad_widths(self) -> tuple[int, int, int, int]:
        """F.pad's (left, right, top, bottom) for a padding_mode other than zeros, as PyTorch's Conv2d: p on
        each side, or for "same" the total d (k - 1) split with the odd one on the right/bottom."""
        if self.padding == "valid":
            return (0, 0, 0, 0)
        if self.padding == "same":
            totals = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            (top, bottom), (left, right) = [(t // 2, t - t // 2) for t in totals]
            return (left, right, top, bottom)
        return (self.padding[1], self.padding[1], self.padding[0], self.padding[0])


class ConvTranspose2d(_ConvNd):
    """Transposed convolution (the adjoint of Conv2d w.r.t. its input; "deconvolution").
    x (N, C_in, H, W) -> y (N, C_out, (H-1)s - 2p + d(k-1) + output_padding + 1, ...);
    W (C_in, C_out, kh, kw) (PyTorch's layout)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair | str = 0,
        output_padding: IntPair = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: IntPair = 1,
        padding_mode: str = "zeros",
        device: Device | None = None,
        dtype: DType | None = None,
    ) -> None:
        super().__init__()
        if padding_mode != "zeros":
            raise ValueError(f"ConvTranspose2d: padding_mode {padding_mode!r}: only 'zeros' (as in PyTorch)")
        if isinstance(padding, str):
            raise ValueError(
                f"ConvTranspose2d: padding must be an int or a pair, got {padding!r} (PyTorch has no "
                "'same' padding for transposed convolutions either)"
            )
        _check_conv_arguments(
            "ConvTranspose2d", in_channels, out_channels, kernel_size, stride, padding, dilation, groups
        )
        output_padding = argcheck.int_pair("ConvTranspose2d", "output_padding", output_padding, 0)
        if any(op >= max(s, d) for op, s, d in zip(output_padding, _pair(stride), _pair(dilation))):
            raise ValueError(
                f"ConvTranspose2d: output_padding {output_padding} must be smaller than stride "
                f"{stride} or dilation {dilation}"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)
        self.padding, self.dilation = _pair(padding), _pair(dilation)
        self.output_padding, self.groups = _pair(output_padding), groups
        self.weight = _param(in_channels, out_channels // groups, *self.kernel_size, device=device, dtype=dtype)
        if bias:
            self.bias = _param(out_channels, device=device, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        return F.conv_transpose2d(
            x, self.weight, self.bias, self.stride, self.padding, self.output_padding, self.groups, self.dilation
        )


# --- normalisation ----------------------------------------------------------------------------------


def _register_normalisation_state(module, num_features, affine, track_running_stats, device, dtype):
    """The parameters and buffers of batch and instance norm, all on ``device``: weight (C,) = 1 and bias
    (C,) = 0 when ``affine``; the buffers running_mean (C,) = 0, running_var (C,) = 1 and the int64
    num_batches_tracked () = 0 when ``track_running_stats`` -- each registered as None otherwise, so that the
    names exist and the state-dict keys are PyTorch's."""
    if affine:
        module.weight = Parameter(ones(num_features, dtype=dtype, device=device))
        module.bias = Parameter(zeros(num_features, dtype=dtype, device=device))
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)
    tracked = track_running_stats
    module.register_buffer("running_mean", zeros(num_features, dtype=dtype, device=device) if tracked else None)
    module.register_buffer("running_var", ones(num_features, dtype=dtype, device=device) if tracked else None)
    module.register_buffer("num_batches_tracked", zeros((), dtype=numpy.int64, device=device) if tracked else None)


class _BatchNorm(Module):
    """Batch normalisation (Ioffe & Szegedy, 2015) over every axis but the channel axis 1.

    y = (x - mean) / sqrt(var + eps) * weight + bias. Training: batch statistics (biased variance), and
    running_mean/running_var <- (1 - momentum) r + momentum * batch statistic (unbiased variance);
    momentum=None gives the cumulative average (factor 1 / num_batches_tracked). Evaluation: the running
    statistics (or the batch's, when track_running_stats=False)."""

    _expected_dims: tuple = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Device | None = None,
        dtype: DType | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        argcheck.integer(name, "num_features", num_features, 1)
        argcheck.real(name, "eps", eps, 0.0)
        if momentum is not None:
            argcheck.real(name, "momentum", momentum, 0.0, 1.0)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _register_normalisation_state(self, num_features, affine, track_running_stats, device or "cpu", dtype)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self._expected_dims:
            raise ValueError(
                f"{type(self).__name__}: expected a {' or '.join(map(str, self._expected_dims))}-D "
                f"input, got shape {x.shape}"
            )
        if x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}): input {x.shape} has {x.shape[1]} channels")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.item())
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(
            x,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch norm of x (N, C) or (N, C, L), statistics per channel C."""

    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm of x (N, C, H, W), statistics per channel C."""

    _expected_dims = (4,)


class LayerNorm(Module):
    """Layer normalisation (Ba et al., 2016) over the trailing ``normalized_shape`` axes of each sample:
    y = (x - mean) / sqrt(var + eps) * weight + bias;  weight, bias have shape normalized_shape."""

    def __init__(
        self,
        normalized_shape: ShapeLike,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: Device | None = None,
        dtype: DType | None = None,
    ) -> None:
        super().__init__()
        shape = argcheck.shape("LayerNorm", normalized_shape, "normalized_shape")
        if not shape or min(shape) < 1:
            raise ValueError(f"LayerNorm: normalized_shape must be positive sizes, got {normalized_shape!r}")
        argcheck.real("LayerNorm", "eps", eps, 0.0)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        device = device or "cpu"
        if elementwise_affine:
            self.weight = Parameter(ones(*shape, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(zeros(*shape, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Group normalisation (Wu & He, 2018): the C channels of x (N, C, ...) in ``num_groups`` groups, each
    group of each sample normalised over its channels and spatial axes; weight (C,) = 1, bias (C,) = 0."""

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: Device | None = None,
        dtype: DType | None = None,
    ) -> None:
        super().__init__()
        argcheck.integer("GroupNorm", "num_groups", num_groups, 1)
        argcheck.integer("GroupNorm", "num_channels", num_channels, 1)
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.affine = num_groups, num_channels, affine
        self.eps = argcheck.real("GroupNorm", "eps", eps, 0.0)
        if affine:
            self.weight = Parameter(ones(num_channels, dtype=dtype, device=device or "cpu"))
            self.bias = Parameter(zeros(num_channels, dtype=dtype, device=device or "cpu"))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected an input (N, {self.num_channels}, ...), got shape {x.shape}")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class InstanceNorm2d(Module):
    """Instance normalisation (Ulyanov et al., 2016) of x (N, C, H, W) or (C, H, W): each channel of each
    sample normalised over H, W.  PyTorch's defaults: affine=False, track_running_stats=False (the
    statistics of the input are used in training and in evaluation)."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device: Device | None = None,
        dtype: DType | None = None,
    ) -> None:
        super().__init__()
        argcheck.integer("InstanceNorm2d", "num_features", num_features, 1)
        self.num_features, self.affine, self.track_running_stats = num_features, affine, track_running_stats
        self.eps = argcheck.real("InstanceNorm2d", "eps", eps, 0.0)
        self.momentum = argcheck.real("InstanceNorm2d", "momentum", momentum, 0.0, 1.0)
        # num_batches_tracked is kept for PyTorch's state-dict keys; instance norm never counts batches
        _register_normalisation_state(self, num_features, affine, track_running_stats, device or "cpu", dtype)

    def forward(self, x: Tensor) -> Tensor:
        argcheck.ndim("InstanceNorm2d", x, (3, 4), "(N, C, H, W) or (C, H, W)")
        unbatched = x.ndim == 3
        if unbatched:
            x = F.unsqueeze(x, 0)
        if x.shape[1] != self.num_features:
            raise ValueError(f"InstanceNorm2d: expected {self.num_features} channels, got input {x.shape}")
        use_input_stats = self.training or not self.track_running_stats
        y = F.instance_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, use_input_stats, self.momentum, self.eps
        )
        return F.squeeze(y, 0) if unbatched else y

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )


class Dropout(Module):
    """Zero each element with probability p and scale the rest by 1/(1-p) in training; identity in eval."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        self.p = argcheck.real("Dropout", "p", p, 0.0, 1.0)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout2d(Dropout):
    """Zero whole channels of x (N, C, H, W) with probability p and scale the rest by 1/(1-p) in training;
    identity in eval."""

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout2d(x, self.p, self.training)


class Embedding(Module):
    """A lookup table: y[..., :] = W[i[...], :].  indices (...) integer -> y (..., embedding_dim);
    W (num_embeddings, embedding_dim) ~ N(0, 1). The row ``padding_idx`` (if given) starts at zero and
    gets no gradient."""

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        device: Device | None = None,
        dtype: DType | None = None,
    ) -> None:
        super().__init__()
        argcheck.integer("Embedding", "num_embeddings", num_embeddings, 1)
        argcheck.integer("Embedding", "embedding_dim", embedding_dim, 1)
        if (
            padding_idx is not None
            and not -num_embeddings <= argcheck.integer("Embedding", "padding_idx", padding_idx) < num_embeddings
        ):
            raise ValueError(
                f"Embedding: padding_idx must be in [-{num_embeddings}, {num_embeddings}), got {padding_idx}"
            )
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        if padding_idx is not None and padding_idx < 0:
            padding_idx += num_embeddings
        self.padding_idx = padding_idx
        self.weight = _param(num_embeddings, embedding_dim, device=device, dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0

    def forward(self, indices: Tensor) -> Tensor:
        index = indices.array if isinstance(indices, Tensor) else self.weight.xp.asarray(indices)
        if index.dtype.kind not in "iu":
            raise TypeError(f"Embedding: indices must be integers, got dtype {index.dtype}")
        if index.size and (int(index.min()) < 0 or int(index.max()) >= self.num_embeddings):
            raise IndexError(
                f"Embedding: indices must be in [0, {self.num_embeddings}), got values in "
                f"[{int(index.min())}, {int(index.max())}]"
            )
        y = ops.getitem(self.weight, index)
        if self.padding_idx is not None:
            is_pad = (index == self.padding_idx)[..., None]
            y = ops.where(is_pad, Tensor(self.weight.array[index]), y)  # no gradient into the padding row
        return y

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")


# --- activations and shape layers -------------------------------------------------------------------


class ReLU(Module):
    """max(x, 0)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class LeakyReLU(Module):
    """x for x > 0, negative_slope * x otherwise."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = argcheck.real("LeakyReLU", "negative_slope", negative_slope)

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """x for x > 0, alpha (e^x - 1) otherwise."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = argcheck.real("ELU", "alpha", alpha)

    def forward(self, x: Tensor) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Sigmoid(Module):
    """1 / (1 + e^-x)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    """tanh x."""

    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class Softplus(Module):
    """log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (as PyTorch)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        if argcheck.real("Softplus", "beta", beta) <= 0:
            raise ValueError(f"Softplus: beta must be > 0, got {beta}")
        argcheck.real("Softplus", "threshold", threshold)
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Tensor) -> Tensor:
        y = F.softplus(x) if self.beta == 1 else F.mul(F.softplus(F.mul(x, float(self.beta))), 1.0 / self.beta)
        return ops.where(x.array * self.beta > self.threshold, x, y)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    """exp(x_i) / sum_j exp(x_j) along ``dim``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = argcheck.integer(type(self).__name__, "dim", dim)

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """x_i - logsumexp(x) along ``dim``."""

    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, self.dim)


class Identity(Module):
    """y = x (a placeholder, e.g. where a variant has no normalisation)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return x


class Flatten(Module):
    """Merge dims start_dim..end_dim:  (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        argcheck.integer("Flatten", "start_dim", start_dim)
        argcheck.integer("Flatten", "end_dim", end_dim)
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return F.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``:  Unflatten(1, (C, H, W)): (N, C*H*W) -> (N, C, H, W)."""

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        argcheck.integer("Unflatten", "dim", dim)
        unflattened_size = argcheck.shape("Unflatten", unflattened_size, "unflattened_size", allow_minus_one=True)
        self.dim, self.unflattened_size = dim, unflattened_size

    def forward(self, x: Tensor) -> Tensor:
        dim = argcheck.dim("Unflatten", self.dim, x.ndim)
        return F.reshape(x, x.shape[:dim] + self.unflattened_size + x.shape[dim + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Upsample(Module):
    """Upsampling to ``size`` or by ``scale_factor``: mode "nearest" or "bilinear" (``align_corners`` False
    by default, as PyTorch); see ``F.interpolate``."""

    def __init__(
        self,
        size: ShapeLike | None = None,
        scale_factor: float | tuple[float, float] | None = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
    ) -> None:
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor")
        if mode not in ("nearest", "bilinear"):
            raise NotImplementedError(f"Upsample: mode {mode!r} (only 'nearest' and 'bilinear')")
        self.size, self.scale_factor, self.mode, self.align_corners = size, scale_factor, mode, align_corners

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(
            x, size=self.size, scale_factor=self.scale_factor, mode=self.mode, align_corners=self.align_corners
        )

    def extra_repr(self) -> str:
        return f"size={self.size}, scale_factor={self.scale_factor}, mode={self.mode!r}"


class _PadNd(Module):
    """Padding layers (``nn.ReflectionPad2d(3)``, ...): ``F.pad`` with the layer's mode over its last
    ``dims`` dims; ``padding`` is one int for every side or PyTorch's (left, right[, top, bottom])."""

    mode = "constant"
    dims = 2

    def __init__(self, padding: int | Sequence[int], value: float | None = None) -> None:
        """``value``: the fill of the constant modes (None: 0); the other modes take none."""
        super().__init__()
        name = type(self).__name__
        sides = 2 * self.dims
        if argcheck.is_int(padding):
            padding = (int(padding),) * sides
        padding = argcheck.shape(name, padding, name="padding")
        if len(padding) != sides:
            raise ValueError(
                f"{name}: padding must be an int or {sides} ints (left, right"
                f"{', top, bottom' if self.dims == 2 else ''}), got {padding}"
            )
        self.padding, self.value = padding, value

    def forward(self, x: Tensor) -> Tensor:
        return F.pad(x, self.padding, mode=self.mode, value=self.value)

    def extra_repr(self) -> str:
        return f"{self.padding}" + (f", value={self.value}" if self.value is not None else "")


class ZeroPad1d(_PadNd):
    """Zeros on both sides of the last dim."""

    dims = 1


class ZeroPad2d(_PadNd):
    """Zeros around the last two dims."""


class ConstantPad1d(_PadNd):
    """``value`` on both sides of the last dim."""

    dims = 1

    def __init__(self, padding: int | Sequence[int], value: float) -> None:
        super().__init__(padding, value)


class ConstantPad2d(_PadNd):
    """``value`` around the last two dims."""

    def __init__(self, padding: int | Sequence[int], value: float) -> None:
        super().__init__(padding, value)


class ReflectionPad1d(_PadNd):
    """The last dim mirrored about its edge elements (see ``F.pad``)."""

    mode, dims = "reflect", 1


class ReflectionPad2d(_PadNd):
    """The last two dims mirrored about their edge elements (CycleGAN's and pix2pix's generators)."""

    mode = "reflect"


class ReplicationPad1d(_PadNd):
    """The edge elements of the last dim repeated."""

    mode, dims = "replicate", 1


class ReplicationPad2d(_PadNd):
    """The edge elements of the last two dims repeated."""

    mode = "replicate"


class CircularPad1d(_PadNd):
    """The last dim wrapped around."""

    mode, dims = "circular", 1


class CircularPad2d(_PadNd):
    """The last two dims wrapped around."""

    mode = "circular"


class MaxPool2d(Module):
    """Maximum over kernel_size windows."""

    def __init__(self, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair | str = 0) -> None:
        super().__init__()
        name = type(self).__name__
        kernel = argcheck.int_pair(name, "kernel_size", kernel_size, 1)
        if stride is not None:
            argcheck.int_pair(name, "stride", stride, 1)
        pad = argcheck.int_pair(name, "padding", padding, 0)
        if pad[0] > kernel[0] // 2 or pad[1] > kernel[1] // 2:
            raise ValueError(f"{name}: padding {padding} must be at most half of kernel_size {kernel_size}")
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(MaxPool2d):
    """Mean over kernel_size windows (zero padding counted)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


# --- containers -------------------------------------------------------------------------------------


class Sequential(Module):
    """Modules applied in order: Sequential(a, b, c)(x) = c(b(a(x))). Children are named "0", "1", ...
    (or by the keys of an OrderedDict). Indexable (an int gives a module, a slice a Sequential), len, iter."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(modules):
                self.add_module(str(i), module)

    def _index(self, idx):
        n = len(self)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for a {type(self).__name__} of length {n}")
        return list(self._modules)[idx % n]

    def __getitem__(self, idx: int | slice) -> Module:
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return self._modules[self._index(idx)]

    def __setitem__(self, idx: int | slice, module: Module) -> None:
        self.add_module(self._index(idx), module)

    def __delitem__(self, idx: int | slice) -> None:
        keys = list(self._modules)[idx] if isinstance(idx, slice) else [self._index(idx)]
        for key in keys:
            del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x


class ModuleList(Module):
    """A list of sub-modules (registered as "0", "1", ...) with no forward of its own."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _check(self, idx):
        n = len(self)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for a ModuleList of length {n}")
        return idx % n

    def __getitem__(self, idx: int | slice) -> Module | ModuleList:
        values = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(values[idx])
        return values[self._check(idx)]

    def __setitem__(self, idx: int | slice, module: Module) -> None:
        self.add_module(str(self._check(idx)), module)

    def __delitem__(self, idx: int | slice) -> None:
        values = list(self._modules.values())
        del values[idx if isinstance(idx, slice) else self._check(idx)]
        self._modules.clear()
        self.extend(values)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        values = list(self._modules.values())
        values.insert(index, module)
        self._modules.clear()
        self.extend(values)
