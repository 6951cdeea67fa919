"""Smooth activations kept as primitives for numerical stability (their backward reuses the output)."""
from ..function import Function, xp_of
from .arith import mul, sub


class Tanh(Function):
    """y = tanh x;  gx = gy * (1 - y^2)."""

    def forward(self, x):
        return xp_of(x).tanh(x)

    def backward(self, gy):
        y = self.output(0)
        return mul(gy, sub(1.0, mul(y, y)))


class Sigmoid(Function):
    """y = 1 / (1 + e^-x), computed as (1 + tanh(x/2)) / 2 (no overflow);  gx = gy * y * (1 - y)."""

    def forward(self, x):
        xp = xp_of(x)
        half = x.dtype.type(0.5) if x.dtype.kind == "f" else 0.5
        return half * (xp.tanh(half * x) + 1)

    def backward(self, gy):
        y = self.output(0)
        return mul(gy, mul(y, sub(1.0, y)))


class Softplus(Function):
    """y = log(1 + e^x), computed as logaddexp(0, x) (stable for large |x|);  gx = gy * sigmoid(x)."""

    def forward(self, x):
        return xp_of(x).logaddexp(x.dtype.type(0), x)

    def backward(self, gy):
        return mul(gy, sigmoid(self.inputs[0]))


def tanh(x):
    return Tanh().apply(x)


def sigmoid(x):
    return Sigmoid().apply(x)


def softplus(x):
    return Softplus().apply(x)


