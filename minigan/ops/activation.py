"""Smooth activations kept as primitives for numerical stability (their backward reuses the output), and log
softmax.

A backward that would be several small ops (tanh's gy * (1 - y^2): three) is one primitive of its own
(``tanh_backward``), itself differentiable from primitives, so that double backprop still works."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import argcheck
from ..backend import kernels_for
from ..function import Function, check_unchanged, xp_of
from .arith import as_floating, exp, mul, sub
from .reduce import sum as reduce_sum

if TYPE_CHECKING:
    from ..tensor import Tensor


class Tanh(Function):
    """y = tanh x;  gx = gy * (1 - y^2)."""

    reads_inputs, reads_outputs = False, True

    def forward(self, x):
        return xp_of(x).tanh(as_floating(x))

    def backward(self, gy):
        return tanh_backward(gy, self.output(0))


class TanhBackward(Function):
    """gx = gy * (1 - y^2), tanh's gradient from its output y, in one op.  Its own gradients: gy's is
    tanh_backward(ggx, y) again, y's is ggx * gy * (-2 y)."""

    def reads_input(self, index):
        return index == 1 or self.needs_input_grad[1]  # y for both gradients, gy for y's

    def forward(self, gy, y):
        return gy * (1 - y * y)

    def backward(self, ggx):
        gy, y = self.inputs
        ggy = tanh_backward(ggx, y) if self.needs_input_grad[0] else None
        gyy = mul(mul(ggx, gy), mul(y, -2.0)) if self.needs_input_grad[1] else None
        return ggy, gyy


class Sigmoid(Function):
    """y = 1 / (1 + e^-x), computed as 1 / (1 + e^-|x|) for x >= 0 and e^-|x| / (1 + e^-|x|) for x < 0: no
    overflow, and full relative precision in the left tail (the form (1 + tanh(x/2)) / 2 cancels there:
    float32 sigmoid(-20) was 0, not 2.1e-9).  gx = gy * y * (1 - y)."""

    reads_inputs, reads_outputs = False, True

    def forward(self, x):
        xp = xp_of(x)
        x = as_floating(x)
        e = xp.exp(-xp.abs(x))
        # the numerator 1 for x >= 0, e for x < 0, as max(e, [x >= 0]) (e <= 1): one pass where a where()
        # of the two quotients took ~10x longer (NumPy's where is slow on a random mask)
        return xp.maximum(e, x >= 0) / (x.dtype.type(1) + e)

    def backward(self, gy):
        return sigmoid_backward(gy, self.output(0))


class SigmoidBackward(Function):
    """gx = gy * y (1 - y), the sigmoid's gradient from its output y, in one op.  Its own gradients: gy's is
    sigmoid_backward(ggx, y) again, y's is ggx * gy * (1 - 2 y)."""

    def reads_input(self, index):
        return index == 1 or self.needs_input_grad[1]  # y for both gradients, gy for y's

    def forward(self, gy, y):
        return gy * (y * (1 - y))

    def backward(self, ggx):
        gy, y = self.inputs
        ggy = sigmoid_backward(ggx, y) if self.needs_input_grad[0] else None
        gyy = mul(mul(ggx, gy), sub(1.0, mul(y, 2.0))) if self.needs_input_grad[1] else None
        return ggy, gyy


class Softplus(Function):
    """y = log(1 + e^x), computed as logaddexp(0, x) (stable for large |x|);  gx = gy * sigmoid(x)."""

    def forward(self, x):
        x = as_floating(x)
        return xp_of(x).logaddexp(x.dtype.type(0), x)

    def backward(self, gy):
        return mul(gy, sigmoid(self.inputs[0]))


class LeakyReLU(Function):
    """y = x for x > 0, slope * x otherwise (slope = 0: ReLU).  gx = gy * (1 if x > 0 else slope).

    The slope map is rebuilt from the saved input in backward rather than stored by forward: a ReLU then
    costs no memory beyond its input, which the graph keeps anyway.  Forward and backward run the kernel
    module's leaky_relu / leaky_relu_backward (one parallel Numba pass each on the CPU; kernels/reference.py). Piecewise linear, so the backward
    (a multiplication of gy by a constant map) is itself differentiable: the second derivative is 0."""

    def __init__(self, negative_slope):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        return kernels_for(x).leaky_relu(x, self.negative_slope)

    def backward(self, gy):
        return LeakyReLUBackward(self.inputs[0], self.negative_slope).apply(gy)


class LeakyReLUBackward(Function):
    """gx = gy * (1 if x > 0 else slope) for a saved input x, which is a constant here.  Linear in gy, so
    its own backward is itself (leaky ReLU's second derivative is 0 almost everywhere).  One pass of the
    kernel module's leaky_relu_backward: no slope map is built.  ``x`` (a Tensor) is not an input, but its
    version is recorded: an in-place change before this op's own backward is refused as for an input."""

    reads_inputs = False

    def __init__(self, x, negative_slope):
        super().__init__()
        self.x, self.x_version, self.negative_slope = x, x._version_counter.value, negative_slope

    def forward(self, gy):
        return kernels_for(gy).leaky_relu_backward(gy, self.x.array, self.negative_slope)

    def backward(self, ggx):
        check_unchanged(self.name, "the saved input of LeakyReLU", self.x, self.x_version)
        return LeakyReLUBackward(self.x, self.negative_slope).apply(ggx)


class LogSoftmax(Function):
    """y = (x - m) - log sum exp(x - m) along ``axis``, m = max x (infinite maxima replaced by 0): the large
    common part of x cancels exactly before any rounding.  One op where the shifted form took three.
    gx = gy - exp(y) * sum(gy) along the axis (softmax times the summed gradient)."""

    reads_inputs, reads_outputs = False, True

    def __init__(self, axis):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        xp = xp_of(x)
        if x.size == 0:  # nothing to normalise (and no maximum to take)
            return x.copy()
        m = xp.max(x, axis=self.axis, keepdims=True)
        shifted = x - xp.where(xp.isfinite(m), m, 0).astype(x.dtype, copy=False)
        return shifted - xp.log(xp.sum(xp.exp(shifted), axis=self.axis, keepdims=True))

    def backward(self, gy):
        return sub(gy, mul(exp(self.output(0)), reduce_sum(gy, self.axis, True)))


def leaky_relu(x, negative_slope=0.01):
    return LeakyReLU(argcheck.real("leaky_relu", "negative_slope", negative_slope)).apply(x)


def tanh(x: Tensor) -> Tensor:
    return Tanh().apply(x)


def sigmoid(x: Tensor) -> Tensor:
    return Sigmoid().apply(x)


def softplus(x: Tensor) -> Tensor:
    return Softplus().apply(x)


def tanh_backward(gy, y):
    return TanhBackward().apply(gy, y)


def sigmoid_backward(gy, y):
    return SigmoidBackward().apply(gy, y)


def log_softmax(x, axis):
    """log softmax along the integer ``axis`` (checked by the caller, ``functional.log_softmax``)."""
    return LogSoftmax(axis).apply(x)
