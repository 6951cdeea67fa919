"""Matrix product (batched, NumPy's ``@`` broadcasting over leading axes)."""
from ..backend import kernels_for
from ..function import Function
from .arith import promote
from .shape import permute_unchecked, reshape, sum_to


def _swap_last(x):
    axes = list(range(x.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return permute_unchecked(x, axes)


class MatMul(Function):
    """y = a @ b for a, b of at least 2 dimensions;  ga = gy @ b^T, gb = a^T @ gy (summed over broadcast
    batch axes)."""

    def reads_input(self, index):
        return self.needs_input_grad[1 - index]      # each input is read for the other's gradient

    def forward(self, a, b):
        if a.dtype != b.dtype:
            a, b = promote(a, b)                        # an integer operand takes the floating one's dtype
        if a.shape[-1] != b.shape[-2]:
            raise ValueError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} are not aligned "
                             f"({a.shape[-1]} != {b.shape[-2]})")
        if a.shape[-1] == 1:            # an outer product: BLAS is slow at K = 1, broadcasting is not
            return a * b
        # The kernel module's product: on the CPU the private BLAS on Numba's threads (kernels/blas.py
        # says why NumPy's own BLAS would slow the convolutions that follow), else the array library's @.
        return kernels_for(a).matmul(a, b)

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(matmul(gy, _swap_last(b)), a.shape) if self.needs_input_grad[0] else None
        gb = sum_to(matmul(_swap_last(a), gy), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


def matmul(a, b):
    """``a @ b`` with NumPy's rules for 1-D operands (promoted to matrices, then squeezed)."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: both operands must have at least one dimension, got shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
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
