"""How workers run (kernels/loops.py): every worker once per call on the Numba threads through a function
pointer, one compiled signature per argument types, the loop workers' padded array tuple, and the
per-function compile locks the compile helper relies on."""

import numpy as np
import pytest

from kernels_common import HAS_NUMBA, needs_cpu

if HAS_NUMBA:
    from minigan_kernels import loops


def _strided_fill_worker():
    from numba import njit

    @njit(cache=False)
    def fill(w, n_workers, ints, reals, arrays):
        """out[i] = a[i] * reals[0] + w for the indices i = w, w + n_workers, ... (each worker marks its own);
        arrays = (a, out); the other slots must be empty (the padding of loop_arguments)."""
        a, out = arrays[0], arrays[1]
        for i in range(w, a.size, n_workers):
            out[i] = a[i] * reals[0] + w
        if arrays[2].size + arrays[3].size + arrays[4].size + arrays[5].size != 0:
            out[:] = -7.0

    return fill


@needs_cpu
def test_run_loop_workers_runs_every_worker_once_per_signature():
    """run_loop_workers(worker, n, ints, reals, *arrays) calls worker(w, n, ints, reals, arrays) for every
    w < n on the Numba threads (through a function pointer, one per worker and argument types): each index is
    written by the worker that owns it, the unused array slots are empty, float32 and float64 and a read-only
    input each get their own compiled signature, and n = 1 runs worker 0."""
    fill = _strided_fill_worker()
    a64 = np.arange(11.0)
    read_only = a64.copy()
    read_only.setflags(write=False)
    for n_workers in (1, 2, 3):
        for a in (a64, a64.astype(np.float32), read_only):
            out = np.full(a.shape, -1.0, dtype=a.dtype)
            loops.run_loop_workers(fill, n_workers, loops.ints(0), loops.reals(2.0), a, out)
            np.testing.assert_array_equal(out, a * 2 + np.arange(a.size) % n_workers)
    keys = [key for key in loops._POINTERS if key[0] is fill]
    assert len(keys) == 3  # float64, float32, read-only float64
    assert {key[3][0] for key in keys} == {np.dtype(np.float64), np.dtype(np.float32)}


@needs_cpu
def test_worker_arguments_have_the_two_fixed_shapes():
    """A BLAS worker gets exactly BLAS_ARRAYS arrays; a loop worker's arrays are padded with empty arrays of
    their dtype up to LOOP_ARRAYS (so that every loop worker has one Numba type and one parallel driver)."""
    x = np.zeros(3, dtype=np.float32)
    ints_, reals_, arrays = loops.loop_arguments(loops.ints(1), loops.reals(), x, x)
    assert len(arrays) == loops.LOOP_ARRAYS and arrays[:2] == (x, x)
    assert all(a.size == 0 and a.dtype == np.float32 and a.flags.writeable for a in arrays[2:])
    with pytest.raises(ValueError, match="loop worker takes"):
        loops.loop_arguments(loops.ints(1), loops.reals(), *(x,) * (loops.LOOP_ARRAYS + 1))
    with pytest.raises(ValueError, match="BLAS worker takes"):
        loops.blas_arguments(None, loops.ints(1), x, x)


@needs_cpu
def test_a_worker_whose_compile_lock_is_held_is_skipped_by_a_non_blocking_compile():
    """compile_worker takes the worker's lock file: while someone else holds it, the helper's non-blocking
    call compiles nothing and returns None; once it is free, the worker compiles (and the lock is released
    again, so a blocking call does not hang)."""
    fill = _strided_fill_worker()
    args = loops.loop_arguments(loops.ints(0), loops.reals(2.0), np.arange(4.0), np.zeros(4))
    held = loops._acquire(fill, True)
    try:
        assert loops.compile_worker(fill, args, blocking=False) is None
        assert not fill.overloads
    finally:
        loops._release(held)
    pointer = loops.compile_worker(fill, args, blocking=True)
    assert pointer is not None and len(fill.overloads) == 1
    assert loops.compile_driver(pointer, args, blocking=True) and pointer.parallel is not None
