"""Matrix products: ``matmul`` (batched, NumPy's ``@`` broadcasting over leading axes), which can read either
operand transposed, and ``linear`` (x W^T + b, a layer's whole product in one op).

The transpose flags let every backward product read its operands as they are stored: the gradient of
a @ b in a is gy @ b^T, one matmul with ``transpose_b`` instead of a transpose op and a matmul (the BLAS
reads a transposed operand in place; kernels/products.py).  The flags are closed under differentiation:
the gradients of op(a) @ op(b) are again products with flags, so no transpose op is ever recorded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..backend import kernels_for
from ..function import Function
from .arith import promote
from .shape import reshape, sum_to

if TYPE_CHECKING:
    from ..tensor import Tensor
    from ..typing import TensorLike


class MatMul(Function):
    """y = op(a) @ op(b) for a, b of at least 2 dimensions, op(m) = m, or m with its last two axes swapped
    when ``transpose_a`` / ``transpose_b``.  With a' = op(a), b' = op(b): ga' = gy @ b'^T, gb' = a'^T @ gy,
    each written as one product with flags (summed over broadcast batch axes)."""

    transpose_a = False  # class-level defaults: a plain product stores nothing
    transpose_b = False

    def reads_input(self, index):
        return self.needs_input_grad[1 - index]  # each input is read for the other's gradient

    def forward(self, a, b):
        if self.transpose_a:
            a = a.swapaxes(-1, -2)  # views: the product reads them transposed, without a copy
        if self.transpose_b:
            b = b.swapaxes(-1, -2)
        if a.dtype != b.dtype:
            a, b = promote(a, b)  # an integer operand takes the floating one's dtype
        if a.shape[-1] != b.shape[-2]:
            raise ValueError(
                f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} are not aligned ({a.shape[-1]} != {b.shape[-2]})"
            )
        if a.shape[-1] == 1:  # an outer product: BLAS is slow at K = 1, broadcasting is not
            return a * b
        # The kernel module's product: on the CPU the private BLAS on Numba's threads (kernels/blas.py
        # says why NumPy's own BLAS would slow the convolutions that follow), else the array library's @.
        return kernels_for(a).matmul(a, b)

    def backward(self, gy):
        a, b = self.inputs
        ta, tb = self.transpose_a, self.transpose_b
        ga = gb = None
        if self.needs_input_grad[0]:  # ga' = gy @ b'^T; with transpose_a, ga = ga'^T = b' @ gy^T
            ga = sum_to(matmul_transposed(b, gy, tb, True) if ta else matmul_transposed(gy, b, False, not tb), a.shape)
        if self.needs_input_grad[1]:  # gb' = a'^T @ gy; with transpose_b, gb = gb'^T = gy^T @ a'
            gb = sum_to(matmul_transposed(gy, a, True, ta) if tb else matmul_transposed(a, gy, not ta, False), b.shape)
        return ga, gb


class Linear(Function):
    """y = x @ W^T + b for x (N, in), W (out, in) and an optional bias b (out,): one op where a transpose, a
    product and an add were three.  gx = gy @ W, gW = gy^T @ x (products with transpose flags), gb = gy
    summed over N."""

    def reads_input(self, index):
        return index < 2 and self.needs_input_grad[1 - index]  # x for W's gradient, W for x's; never b

    def forward(self, x, weight, bias=None):
        if x.dtype != weight.dtype:
            x, weight = promote(x, weight)
        y = kernels_for(x).matmul(x, weight.T)  # weight.T: a view, read transposed by the BLAS
        if bias is None:
            return y
        if bias.dtype == y.dtype:
            y += bias  # y is the product's own new array
            return y
        y, bias = promote(y, bias)
        return y + bias

    def backward(self, gy):
        x, weight = self.inputs[0], self.inputs[1]
        needs = self.needs_input_grad
        gx = matmul_transposed(gy, weight) if needs[0] else None
        gw = matmul_transposed(gy, x, transpose_a=True) if needs[1] else None
        if len(needs) == 2:
            return gx, gw
        return gx, gw, sum_to(gy, self.inputs[2].shape) if needs[2] else None


def matmul_transposed(a, b, transpose_a=False, transpose_b=False):
    """op(a) @ op(b) for operands of at least 2 dimensions (op: swap the last two axes when asked), one
    ``matmul`` op; for the backward passes, whose operands' shapes are known to fit."""
    function = MatMul()
    if transpose_a:
        function.transpose_a = True
    if transpose_b:
        function.transpose_b = True
    return function.apply(a, b)


def linear(x, weight, bias=None):
    """x (N, in) @ weight (out, in)^T + bias (out,) as one op; the caller (``functional.linear``) has
    checked the shapes."""
    return Linear().apply(x, weight) if bias is None else Linear().apply(x, weight, bias)


def matmul(a: TensorLike, b: TensorLike) -> Tensor:
    """``a @ b`` with NumPy's rules for 1-D operands (promoted to matrices, then squeezed)."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"matmul: both operands must have at least one dimension, got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    squeeze_first = a.ndim == 1
    squeeze_last = b.ndim == 1
    if squeeze_first:
        a = reshape(a, (1,) + tuple(a.shape))
    if squeeze_last:
        b = reshape(b, tuple(b.shape) + (1,))
    y = MatMul().apply(a, b)
    if squeeze_first or squeeze_last:
        shape = tuple(y.shape)
        if squeeze_last:
            shape = shape[:-1]
        if squeeze_first:
            shape = shape[:-2] + shape[-1:] if not squeeze_last else shape[:-1]
        y = reshape(y, shape)
    return y
