"""Numba loop helpers shared by the CPU kernels (kernels/cpu.py, kernels/winograd.py), and the dispatch of
their per-thread workers."""
from numba import njit, uint64

__all__ = ["transpose_into", "transpose_rows_into", "run_workers"]


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


def run_workers(worker, parallel_driver, n_workers, args):
    """worker(w, n_workers, *args) for w < n_workers: on the Numba threads through parallel_driver (a prange
    over w), or directly when n_workers == 1 (the prange index is converted to int64 so that both calls share
    one compiled worker)."""
    if n_workers > 1:
        parallel_driver(n_workers, args)
    else:
        worker(0, 1, *args)
