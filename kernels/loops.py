"""Numba loop helpers shared by the CPU kernels (kernels/cpu.py, kernels/winograd.py), and the dispatch of
their per-thread workers (`run_workers`)."""
import numpy as np
import numba
from numba import njit, prange, types, uint64
# Numba's own helper for the address of a compiled function's C-ABI wrapper (what Numba itself calls
# when a jitted function is passed as a first-class function value).  It is private: the test of
# run_workers in tests/test_kernels.py checks it on the Numba that CI installs (0.68 when written).
from numba.experimental.function_type import _get_wrapper_address

__all__ = ["transpose_into", "transpose_rows_into", "copy_or_zero", "run_workers"]


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


@njit(inline="always")
def copy_or_zero(inside, a, a0, out, o0, n):
    """out[o0 : o0 + n] = a[a0 : a0 + n] when `inside`, else zeros: one kernel tap's channel vector of an
    im2col-style gather, zero where the tap falls in the padding."""
    if inside:
        for c in range(n):
            out[o0 + uint64(c)] = a[a0 + uint64(c)]
    else:
        for c in range(n):
            out[o0 + uint64(c)] = 0


# ------------------------------------------------------------------------------------------ workers
#
# A worker is an @njit function worker(w, n_workers, *args) that does the w-th share of a job.  The
# parallel driver below runs worker 0 .. n_workers-1 on Numba's threads (a prange over w).  It receives
# the worker as a *function pointer* (a first-class function value), not as a global it calls by name.
# Why: when a compiled function calls another by name, Numba links the callee's LLVM IR into the caller
# and optimises it again, and a parfor is compiled twice over (the gufunc, then the driver): a prange
# over the Winograd worker took 11 s to compile on first use, for a worker that compiles in 3.5 s.
# Through a pointer the worker is compiled once, the driver in ~0.6-0.9 s per worker signature, and a call
# costs ~8 us more (the pointer is looked up per call; 15 vs 7.6 us for a 64^3 product on 2 threads),
# against 0.3-5 ms of work in the parallel calls.

@njit(parallel=True, cache=True)
def _run_parallel(worker, n_workers, args):
    for w in prange(n_workers):
        worker(np.int64(w), n_workers, *args)


class _WorkerPointer:
    """A compiled worker as a first-class function of one signature (Numba's wrapper-address protocol):
    `_numba_type_` is its Numba type, precomputed (building it per call cost ~15 us), and
    `__wrapper_address__` the address of the worker's C-ABI entry point, which the call jumps to."""

    def __init__(self, worker, arg_types):
        signature = types.void(types.int64, types.int64, *arg_types)
        worker.compile(signature.args)                # compiles, or loads from the on-disk cache
        self._numba_type_ = types.FunctionType(signature)
        self._address = _get_wrapper_address(worker, signature)

    def signature(self):
        return self._numba_type_.signature

    def __wrapper_address__(self):
        return self._address


def _type_key(value):
    """What fixes the Numba type of an argument, cheaply (numba.typeof takes ~6 us per value): arrays by
    dtype, ndim, layout, alignment and writability; other values (ints, floats, ctypes functions) by class."""
    if isinstance(value, np.ndarray):
        flags = value.flags
        return value.dtype, value.ndim, flags.c_contiguous, flags.f_contiguous, flags.aligned, flags.writeable
    return type(value)


_POINTERS = {}     # (worker, argument type keys) -> _WorkerPointer: one entry per worker and signature


def run_workers(worker, n_workers, args):
    """worker(w, n_workers, *args) for w < n_workers: on the Numba threads through _run_parallel, or
    directly when n_workers == 1 (the prange index is converted to int64 so that both share one compiled
    worker)."""
    if n_workers == 1:
        worker(0, 1, *args)
        return
    key = (worker,) + tuple(_type_key(value) for value in args)
    pointer = _POINTERS.get(key)
    if pointer is None:
        pointer = _POINTERS[key] = _WorkerPointer(worker, tuple(numba.typeof(value) for value in args))
    _run_parallel(pointer, n_workers, args)
