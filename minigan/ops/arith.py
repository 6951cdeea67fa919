"""Elementwise arithmetic primitives. Broadcasting follows NumPy; every backward sums its gradient back
to its input's shape (``sum_to``)."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING

import numpy

from .. import argcheck
from ..backend import kernels_for
from ..function import Function, tensor_class, unwrap, xp_of
from .shape import sum_to

if TYPE_CHECKING:
    from ..tensor import Tensor
    from ..typing import TensorLike


def promote(a, b):
    """PyTorch's rule where it differs from NumPy's: an integer or bool array with a floating one takes the
    floating dtype (NumPy would give float64 for int64 with float32).  float32 with float64 gives float64
    (NumPy's rule and PyTorch's).  The gradient is cast back to each input's dtype by the backward sweep."""
    if a.dtype.kind == "f" and b.dtype.kind != "f":
        return a, b.astype(a.dtype)
    if b.dtype.kind == "f" and a.dtype.kind != "f":
        return a.astype(b.dtype), b
    return a, b


def as_floating(x):
    """An integer or bool array as float32 for an op whose result is real (exp, log, tanh, true division...),
    as PyTorch gives its default dtype there, where NumPy would give float64."""
    return x if x.dtype.kind == "f" else x.astype(numpy.float32)


def _binary(op_name, operator, a, b):
    """Apply a binary operator (a function of two arrays); a broadcasting failure names the op and both
    shapes."""
    if a.dtype != b.dtype:
        a, b = promote(a, b)
    try:
        return operator(a, b)
    except ValueError:
        if a.shape == b.shape:
            raise
        raise ValueError(
            f"{op_name}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together"
        ) from None


class Add(Function):
    """y = a + b;  ga = gy, gb = gy (summed to each input's shape)."""

    reads_inputs = False

    def forward(self, a, b):
        return _binary("add", kernels_for(a).add, a, b)  # Numba's parallel pass for big CPU arrays

    def backward(self, gy):
        a, b = self.inputs
        needs_a, needs_b = self.needs_input_grad  # a constant operand (x + 0.1) needs no sum_to
        return sum_to(gy, a.shape) if needs_a else None, sum_to(gy, b.shape) if needs_b else None


class Sub(Function):
    """y = a - b;  ga = gy, gb = -gy."""

    reads_inputs = False

    def forward(self, a, b):
        return _binary("sub", operator.sub, a, b)

    def backward(self, gy):
        a, b = self.inputs
        needs_a, needs_b = self.needs_input_grad
        return sum_to(gy, a.shape) if needs_a else None, sum_to(neg(gy), b.shape) if needs_b else None


class Mul(Function):
    """y = a * b;  ga = gy * b, gb = gy * a."""

    def reads_input(self, index):
        return self.needs_input_grad[1 - index]  # each input is read for the other's gradient

    def forward(self, a, b):
        return _binary("mul", kernels_for(a).multiply, a, b)

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(mul(gy, b), a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(mul(gy, a), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class AddScalar(Function):
    """y = x + c for a Python number c (``x + 0.1``, ``x - 1``: c = -1);  gx = gy.  No constant Tensor is
    made for c, and the graph has no node for it (``minigan.graph`` writes c beside the op's name)."""

    reads_inputs = False

    def __init__(self, scalar):
        self.scalar = scalar

    def forward(self, x):
        return x + self.scalar  # a Python number takes x's dtype (NumPy's and PyTorch's rule)

    def backward(self, gy):
        return gy


class MulScalar(Function):
    """y = x * c for a Python number c (``x * 0.5``);  gx = gy * c."""

    reads_inputs = False

    def __init__(self, scalar):
        self.scalar = scalar

    def forward(self, x):
        return x * self.scalar

    def backward(self, gy):
        return MulScalar(self.scalar).apply(gy)  # gy has x's dtype: mul_scalar's check would pass


class Div(Function):
    """y = a / b;  ga = gy / b, gb = -gy * a / b^2."""

    def reads_input(self, index):
        return index == 1 or self.needs_input_grad[1]  # b for both gradients, a for b's

    def forward(self, a, b):
        if a.dtype.kind != "f" and b.dtype.kind != "f":
            a, b = as_floating(a), as_floating(b)  # true division of integers is real
        return _binary("div", operator.truediv, a, b)

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(div(gy, b), a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(neg(div(mul(gy, a), mul(b, b))), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    """y = -x;  gx = -gy."""

    reads_inputs = False

    def forward(self, x):
        if x.dtype.kind == "b":
            raise TypeError("neg: negation of a boolean tensor is not defined; use ~mask (logical not)")
        return -x

    def backward(self, gy):
        return neg(gy)


class PowScalar(Function):
    """y = x^p for a constant exponent p;  gx = gy * p * x^(p-1)."""

    def __init__(self, exponent):
        super().__init__()
        self.exponent = exponent

    def forward(self, x):
        if x.dtype.kind != "f" and not argcheck.is_int(self.exponent):
            x = as_floating(x)  # an integer tensor to a real power is real
        return x ** x.dtype.type(self.exponent) if x.dtype.kind == "f" else x**self.exponent

    def backward(self, gy):
        (x,) = self.inputs
        p = self.exponent
        if p == 1:
            return gy
        if p == 2:
            return mul(gy, mul(x, 2.0))
        return mul(gy, mul(pow_scalar(x, p - 1), float(p)))


class Exp(Function):
    """y = e^x;  gx = gy * y."""

    reads_inputs, reads_outputs = False, True

    def forward(self, x):
        return xp_of(x).exp(as_floating(x))

    def backward(self, gy):
        return mul(gy, self.output(0))


class Expm1(Function):
    """y = e^x - 1, accurate for small |x| (where exp(x) - 1 cancels);  gx = gy * (y + 1)."""

    reads_inputs, reads_outputs = False, True

    def forward(self, x):
        return xp_of(x).expm1(as_floating(x))

    def backward(self, gy):
        return mul(gy, add(self.output(0), 1.0))


class Log(Function):
    """y = ln x;  gx = gy / x."""

    def forward(self, x):
        return xp_of(x).log(as_floating(x))

    def backward(self, gy):
        return div(gy, self.inputs[0])


class Where(Function):
    """y = cond ? a : b, with ``cond`` a constant boolean array;  ga = cond ? gy : 0, gb = cond ? 0 : gy."""

    reads_inputs = False

    def __init__(self, condition):
        super().__init__()
        self.condition = condition

    def forward(self, a, b):
        return _binary("where", lambda a, b: xp_of(a, b).where(self.condition, a, b), a, b)

    def backward(self, gy):
        a, b = self.inputs
        zero = gy.xp.zeros((), dtype=gy.dtype)
        ga = sum_to(where(self.condition, gy, zero), a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(where(self.condition, zero, gy), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class MulMask(Function):
    """y = x * m for a constant array m (a mask or a slope map: ReLU, leaky ReLU, abs, max).
    gx = gy * m. Linear in x, so it is its own derivative: twice differentiable (the second derivative of
    a piecewise-linear function is zero almost everywhere)."""

    reads_inputs = False

    def __init__(self, mask):
        super().__init__()
        self.mask = mask

    def forward(self, x):
        return _binary("mul_mask", operator.mul, x, self.mask)

    def backward(self, gy):
        return sum_to(mul_mask(gy, self.mask), self.inputs[0].shape)


_FLOAT32, _FLOAT64 = numpy.dtype(numpy.float32), numpy.dtype(numpy.float64)


def _takes_scalar(tensor, number):
    """Whether ``tensor`` with ``number`` runs as a scalar op (AddScalar, MulScalar): a Python float or int
    (not a bool, not a NumPy scalar) with a float32/float64 Tensor, whose dtype the result keeps.  Any other
    pair goes through the general op, which wraps the number as a constant Tensor and applies PyTorch's
    promotion (an integer tensor times 0.5 is float32)."""
    kind = type(number)
    if kind is not float and kind is not int:
        return False
    if not isinstance(tensor, tensor_class()):
        return False
    dtype = tensor.array.dtype
    return dtype is _FLOAT32 or dtype is _FLOAT64


def add(a: TensorLike, b: TensorLike) -> Tensor:
    if _takes_scalar(a, b):
        return AddScalar(b).apply(a)
    if _takes_scalar(b, a):
        return AddScalar(a).apply(b)
    return Add().apply(a, b)


def sub(a: TensorLike, b: TensorLike) -> Tensor:
    if _takes_scalar(a, b):  # x - c is x + (-c), bit for bit (negating a float is exact)
        return AddScalar(-b).apply(a)
    return Sub().apply(a, b)


def mul(a: TensorLike, b: TensorLike) -> Tensor:
    if _takes_scalar(a, b):
        return MulScalar(b).apply(a)
    if _takes_scalar(b, a):
        return MulScalar(a).apply(b)
    return Mul().apply(a, b)


def div(a: TensorLike, b: TensorLike) -> Tensor:
    return Div().apply(a, b)


def neg(x: Tensor) -> Tensor:
    return Neg().apply(x)


def add_scalar(x: Tensor, scalar: float) -> Tensor:
    """x + scalar for a float32/float64 Tensor and a Python number (what ``x + 0.1`` runs)."""
    return AddScalar(_checked_scalar("add_scalar", x, scalar)).apply(x)


def mul_scalar(x: Tensor, scalar: float) -> Tensor:
    """x * scalar for a float32/float64 Tensor and a Python number (what ``x * 0.5`` runs)."""
    return MulScalar(_checked_scalar("mul_scalar", x, scalar)).apply(x)


def _checked_scalar(op_name, x, scalar):
    if not _takes_scalar(x, scalar):
        raise TypeError(
            f"{op_name}: expected a float32/float64 Tensor and a Python float or int, got "
            f"{type(x).__name__} and {type(scalar).__name__}; add/mul take any operands"
        )
    return scalar


def pow_scalar(x, exponent):
    """x ** exponent for a constant real exponent (an int one keeps an integer tensor integer)."""
    if not argcheck.is_int(exponent):
        exponent = argcheck.real("pow", "exponent", exponent)
    return PowScalar(exponent).apply(x)


def exp(x: Tensor) -> Tensor:
    return Exp().apply(x)


def expm1(x: Tensor) -> Tensor:
    return Expm1().apply(x)


def log(x: Tensor) -> Tensor:
    return Log().apply(x)


def where(condition, a, b):
    condition = unwrap(condition)
    return Where(condition).apply(a, b)


def mul_mask(x, mask):
    return MulMask(unwrap(mask)).apply(x)
