"""Reductions: sum, max, logsumexp (the numerically stable log of a sum of exponentials)."""

from .. import argcheck
from ..function import Function, xp_of
from .shape import broadcast_to, reshape


def _keepdims_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """y = sum of x over ``axis``;  gx = gy broadcast back to x's shape."""

    reads_inputs = False

    def __init__(self, axis, keepdims):
        super().__init__()
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.axes = argcheck.dims("sum", self.axis, x.ndim)
        return xp_of(x).sum(x, axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        (x,) = self.inputs
        return broadcast_to(reshape(gy, _keepdims_shape(x.shape, self.axes)), x.shape)


class Max(Function):
    """y = max of x over ``axis``. The gradient goes to the maximal elements, shared equally among ties
    (a constant mask, so the op is piecewise linear and twice differentiable)."""

    reads_outputs = True

    def __init__(self, axis, keepdims):
        super().__init__()
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.axes = argcheck.dims("max", self.axis, x.ndim)
        if any(x.shape[a] == 0 for a in self.axes):
            raise ValueError(
                f"max: cannot reduce an empty dimension (input shape {tuple(x.shape)}, dims "
                f"{self.axes}): there is no maximum"
            )
        return xp_of(x).max(x, axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        from .arith import mul_mask

        (x,) = self.inputs
        shape = _keepdims_shape(x.shape, self.axes)
        y = self.output(0).array.reshape(shape)
        is_max = x.array == y
        mask = is_max / is_max.sum(axis=self.axes, keepdims=True).astype(x.dtype)
        return mul_mask(broadcast_to(reshape(gy, shape), x.shape), mask.astype(x.dtype))


class LogSumExp(Function):
    """y = log sum_i exp(x_i), computed as m + log sum exp(x - m) with m = max x (no overflow).
    gx = gy * exp(x - y) = gy * softmax(x)."""

    reads_outputs = True

    def __init__(self, axis, keepdims):
        super().__init__()
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        from .arith import as_floating

        xp = xp_of(x)
        x = as_floating(x)
        self.axes = argcheck.dims("logsumexp", self.axis, x.ndim)
        if any(x.shape[a] == 0 for a in self.axes):  # log of an empty sum: -inf, as PyTorch
            shape = _keepdims_shape(x.shape, self.axes)
            y = xp.full(shape, -xp.inf, dtype=x.dtype)
            return y if self.keepdims else xp.squeeze(y, axis=self.axes)
        m = xp.max(x, axis=self.axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        y = xp.log(xp.sum(xp.exp(x - m), axis=self.axes, keepdims=True)) + m
        return y if self.keepdims else xp.squeeze(y, axis=self.axes)

    def backward(self, gy):
        from .arith import exp, mul, sub

        (x,) = self.inputs
        shape = _keepdims_shape(x.shape, self.axes)
        y = reshape(self.output(0), shape)
        return mul(broadcast_to(reshape(gy, shape), x.shape), exp(sub(x, y)))


def sum(x, axis=None, keepdims=False):
    return Sum(axis, keepdims).apply(x)


def max(x, axis=None, keepdims=False):
    return Max(axis, keepdims).apply(x)


def logsumexp(x, axis=None, keepdims=False):
    return LogSumExp(axis, keepdims).apply(x)
