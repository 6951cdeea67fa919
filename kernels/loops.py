"""Numba loop helpers shared by the CPU kernels (kernels/cpu.py, kernels/winograd.py)."""
from numba import njit, uint64

__all__ = ["transpose_into", "transpose_rows_into"]


@njit(inline="always")
def transpose_rows_into(a, a0, R, S, row_stride, out, o0):
    """out[o0 + s*R + r] = a[a0 + r*row_stride + s] for an R x S block whose rows lie row_stride elements
    apart: blocks of 8 rows, so that each pass over s reads 8 streams and writes 8 contiguous elements."""
    for r0 in range(0, R, 8):
        r1 = min(R, r0 + 8)
        for s in range(S):
            d = o0 + uint64(s * R)
            src = a0 + uint64(s)
            for r in range(r0, r1):
                out[d + uint64(r)] = a[src + uint64(r * row_stride)]


@njit(inline="always")
def transpose_into(a, a0, R, S, out, o0):
    """out[o0 + s*R + r] = a[a0 + r*S + s] for an R x S matrix (contiguous rows)."""
    transpose_rows_into(a, a0, R, S, S, out, o0)
