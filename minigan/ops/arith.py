"""Elementwise arithmetic primitives. Broadcasting follows NumPy; every backward sums its gradient back
to its input's shape (``sum_to``)."""
import operator

from ..backend import kernels_for
from ..function import Function, unwrap, xp_of
from .shape import sum_to


def _binary(op_name, operator, a, b):
    """Apply a binary operator (a function of two arrays); a broadcasting failure names the op and both
    shapes."""
    try:
        return operator(a, b)
    except ValueError:
        if a.shape == b.shape:
            raise
        raise ValueError(f"{op_name}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast "
                         "together") from None


class Add(Function):
    """y = a + b;  ga = gy, gb = gy (summed to each input's shape)."""

    def forward(self, a, b):
        return _binary("add", kernels_for(a).add, a, b)      # Numba's parallel pass for big CPU arrays

    def backward(self, gy):
        a, b = self.inputs
        return sum_to(gy, a.shape), sum_to(gy, b.shape)


class Sub(Function):
    """y = a - b;  ga = gy, gb = -gy."""

    def forward(self, a, b):
        return _binary("sub", operator.sub, a, b)

    def backward(self, gy):
        a, b = self.inputs
        return sum_to(gy, a.shape), sum_to(neg(gy), b.shape)


class Mul(Function):
    """y = a * b;  ga = gy * b, gb = gy * a."""

    def forward(self, a, b):
        return _binary("mul", kernels_for(a).multiply, a, b)

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(mul(gy, b), a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(mul(gy, a), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    """y = a / b;  ga = gy / b, gb = -gy * a / b^2."""

    def forward(self, a, b):
        return _binary("div", operator.truediv, a, b)

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(div(gy, b), a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(neg(div(mul(gy, a), mul(b, b))), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    """y = -x;  gx = -gy."""

    def forward(self, x):
        return -x

    def backward(self, gy):
        return neg(gy)


class PowScalar(Function):
    """y = x^p for a constant exponent p;  gx = gy * p * x^(p-1)."""

    def __init__(self, exponent):
        super().__init__()
        self.exponent = exponent

    def forward(self, x):
        return x ** x.dtype.type(self.exponent) if x.dtype.kind == "f" else x ** self.exponent

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

    def forward(self, x):
        return xp_of(x).exp(x)

    def backward(self, gy):
        return mul(gy, self.output(0))


class Log(Function):
    """y = ln x;  gx = gy / x."""

    def forward(self, x):
        return xp_of(x).log(x)

    def backward(self, gy):
        return div(gy, self.inputs[0])


class Where(Function):
    """y = cond ? a : b, with ``cond`` a constant boolean array;  ga = cond ? gy : 0, gb = cond ? 0 : gy."""

    def __init__(self, condition):
        super().__init__()
        self.condition = condition

    def forward(self, a, b):
        return xp_of(a, b).where(self.condition, a, b)

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

    def __init__(self, mask):
        super().__init__()
        self.mask = mask

    def forward(self, x):
        return x * self.mask

    def backward(self, gy):
        return sum_to(mul_mask(gy, self.mask), self.inputs[0].shape)


def add(a, b):
    return Add().apply(a, b)


def sub(a, b):
    return Sub().apply(a, b)


def mul(a, b):
    return Mul().apply(a, b)


def div(a, b):
    return Div().apply(a, b)


def neg(x):
    return Neg().apply(x)


def pow_scalar(x, exponent):
    return PowScalar(exponent).apply(x)


def exp(x):
    return Exp().apply(x)


def log(x):
    return Log().apply(x)


def where(condition, a, b):
    condition = unwrap(condition)
    return Where(condition).apply(a, b)


def mul_mask(x, mask):
    return MulMask(unwrap(mask)).apply(x)
