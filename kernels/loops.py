"""Numba loop helpers shared by the CPU kernels (im2col.py, fused.py, winograd.py, ...), and the dispatch of
their per-thread workers (`run_blas_workers`, `run_loop_workers`)."""

import hashlib
import os
import tempfile

import numpy as np
import numba
from numba import njit, prange, types, uint64

# Numba's own helper for the address of a compiled function's C-ABI wrapper (what Numba itself calls
# when a jitted function is passed as a first-class function value).  It is private: the test of
# the workers in tests/test_kernels_loops.py checks it on the Numba that CI installs (0.68 when written).
from numba.experimental.function_type import _get_wrapper_address

__all__ = [
    "transpose_into",
    "transpose_rows_into",
    "transpose_reading_rows_into",
    "transpose_writing_rows_into",
    "copy_or_zero",
    "run_blas_workers",
    "run_loop_workers",
    "blas_arguments",
    "loop_arguments",
    "BLAS_ARRAYS",
    "LOOP_ARRAYS",
    "split",
    "ints",
    "reals",
    "compile_worker",
    "compile_driver",
    "compile_locks_available",
]

try:
    import fcntl
except ImportError:  # not POSIX: no file locks, and kernels/precompile.py starts no helper
    fcntl = None


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
def transpose_reading_rows_into(a, a0, R, S, out, o0):
    """out[o0 + s*R + r] = a[a0 + r*S + s], reading a's rows in order (out is written with stride R).  For a
    sample of a large batch array into a small buffer: the batch is read as one stream (in the Winograd
    weight gradient faster than transpose_into's 8-row blocks: bench/README.md, history 22)."""
    for r in range(R):
        src = a0 + uint64(r * S)
        for s in range(S):
            out[o0 + uint64(s * R + r)] = a[src + uint64(s)]


@njit(inline="always")
def transpose_writing_rows_into(a, a0, R, S, out, o0):
    """out[o0 + s*R + r] = a[a0 + r*S + s], writing out's rows in order (a is read with stride S): for a
    small buffer into a sample of a large batch array, which is then written as one stream."""
    for s in range(S):
        dst = o0 + uint64(s * R)
        for r in range(R):
            out[dst + uint64(r)] = a[a0 + uint64(r * S + s)]


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
# A worker is an @njit function that does the w-th of n_workers shares of a job.  The parallel driver below
# runs worker 0 .. n_workers-1 on Numba's threads (a prange over w).  It receives the worker as a *function
# pointer* (a first-class function value), not as a global it calls by name.  Why: when a compiled function
# calls another by name, Numba links the callee's LLVM IR into the caller and optimises it again, and a
# parfor is compiled twice over (the gufunc, then the driver): a prange over the Winograd worker compiled
# about three times as long as the worker alone.  Through a pointer the worker is compiled once, and a call
# costs a few microseconds more, little against the milliseconds of work of a parallel call
# (bench/README.md, history 23).
#
# The driver is compiled once per *type* of worker (the argument types are part of the function pointer's
# type), ~0.5-0.8 s each on a cold cache.  So that a first training step compiles two drivers per dtype
# rather than one per worker, every worker has one of two signatures, for arrays of one float dtype T:
#
#     BLAS worker:  worker(w, n_workers, gemm, ints, arrays)    arrays: exactly BLAS_ARRAYS (3) arrays
#     loop worker:  worker(w, n_workers, ints, reals, arrays)   arrays: LOOP_ARRAYS (6) arrays, of which the
#                                                               worker reads the first few it needs
#
# gemm is kernels/blas.py's ctypes gemm for T; `ints` an int64 vector of sizes and switches; `reals` a
# float64 vector of real parameters (at least one element); `arrays` a tuple of C-contiguous 1-D arrays of T.
# A loop worker names the arrays it uses by unpacking the front of the tuple; run_loop_workers fills the
# rest with empty arrays of T (so a worker that read one would fail visibly, not read someone's data).
# Each worker's docstring lists its `ints`, `reals` and `arrays`.

BLAS_ARRAYS, LOOP_ARRAYS = 3, 6


@njit(inline="always")
def split(w, n_workers, n_tasks):
    """[lo, hi): worker w's contiguous share of n_tasks tasks."""
    return w * n_tasks // n_workers, (w + 1) * n_tasks // n_workers


def ints(*values):
    """The `ints` argument of a worker."""
    return np.array(values, dtype=np.int64)


def reals(*values):
    """The `reals` argument of a loop worker (at least one element, so that it is never empty)."""
    return np.array(values or (0.0,), dtype=np.float64)


_EMPTY = {}  # dtype -> an empty array: what fills a loop worker's unused array slots (writable, like the
# arrays it stands beside: a read-only array would be a different Numba type)


def blas_arguments(gemm, ints_, *arrays):
    """The (gemm, ints, arrays) of a BLAS worker."""
    if len(arrays) != BLAS_ARRAYS:
        raise ValueError(f"a BLAS worker takes {BLAS_ARRAYS} arrays, got {len(arrays)}")
    return gemm, ints_, arrays


def loop_arguments(ints_, reals_, *arrays):
    """The (ints, reals, arrays) of a loop worker: `arrays` followed by empty arrays of their dtype up to
    LOOP_ARRAYS."""
    if not 1 <= len(arrays) <= LOOP_ARRAYS:
        raise ValueError(f"a loop worker takes 1 to {LOOP_ARRAYS} arrays, got {len(arrays)}")
    dtype = arrays[0].dtype
    empty = _EMPTY.get(dtype)
    if empty is None:
        empty = _EMPTY[dtype] = np.empty(0, dtype=dtype)
    return ints_, reals_, arrays + (empty,) * (LOOP_ARRAYS - len(arrays))


@njit(parallel=True, cache=True)
def _run_parallel(worker, n_workers, flat_args):
    # flat_args = (gemm or ints, ints or reals, *arrays): a parfor cannot take a tuple nested in its
    # arguments, so the arrays travel flat and are packed into the worker's tuple here.
    for w in prange(n_workers):
        worker(np.int64(w), n_workers, flat_args[0], flat_args[1], flat_args[2:])


class _WorkerPointer:
    """A compiled worker as a first-class function of one signature (Numba's wrapper-address protocol):
    `_numba_type_` is its Numba type, precomputed (building it per call cost ~15 us), and
    `__wrapper_address__` the address of the worker's C-ABI entry point, which the call jumps to."""

    def __init__(self, worker, arg_types):
        signature = types.void(types.int64, types.int64, *arg_types)
        worker.compile(signature.args)  # compiles, or loads from the on-disk cache
        self._numba_type_ = types.FunctionType(signature)
        self._address = _get_wrapper_address(worker, signature)
        # The compiled entry points, called directly: the dispatchers would type the argument tuple again
        # in Python on every call (_type_key has already matched the types).
        self.serial = worker.overloads[signature.args].entry_point
        self.parallel = None  # _run_parallel's, once compiled for this type

    def signature(self):
        return self._numba_type_.signature

    def __wrapper_address__(self):
        return self._address


# ------------------------------------------------------------------------------- compiling
#
# A worker and the driver are compiled (or loaded from Numba's on-disk cache) when first needed.  On a cold
# cache kernels/precompile.py may be compiling workers in a helper process at the same time; the two
# processes never compile the same function at once, because each compile here holds an exclusive lock
# file named after the function (fcntl.flock; the OS releases it if a process dies).  This process waits
# for the lock (`blocking`): the holder is then compiling that function into the cache, and the compile
# here loads it from there.  The helper does not wait: it skips what this process is compiling.  A lock
# is per function and per cache directory (processes with different $NUMBA_CACHE_DIR do not wait for
# each other).


def compile_locks_available():
    """Whether the per-function compile locks work here (POSIX file locks)."""
    return fcntl is not None


def _lock_path(dispatcher):
    folder = os.path.join(tempfile.gettempdir(), f"minigan-compile-locks-{os.getuid()}")
    os.makedirs(folder, exist_ok=True)
    cache = hashlib.sha1(str(dispatcher.stats.cache_path).encode()).hexdigest()[:12]
    return os.path.join(folder, f"{dispatcher.py_func.__module__}.{dispatcher.__name__}-{cache}.lock")


def _acquire(dispatcher, blocking):
    """An open file descriptor holding the compile lock of `dispatcher` (close it to release), or None when
    another process holds the lock and `blocking` is False; -1 when there are no file locks."""
    if fcntl is None:
        return -1
    fd = os.open(_lock_path(dispatcher), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _release(fd):
    if fd >= 0:
        os.close(fd)


def compile_worker(worker, args, blocking=True):
    """The _WorkerPointer of `worker` for arguments like `args` (blas_arguments or loop_arguments; compiled
    or loaded from the cache under the worker's lock), or None if not `blocking` and another process holds
    the lock."""
    fd = _acquire(worker, blocking)
    if fd is None:
        return None
    try:
        return _WorkerPointer(worker, tuple(numba.typeof(value) for value in args))
    finally:
        _release(fd)


def compile_driver(pointer, args, blocking=True):
    """Compile (or load) _run_parallel for this worker type and arguments like `args`, under its lock;
    False if not `blocking` and another process holds the lock."""
    fd = _acquire(_run_parallel, blocking)
    if fd is None:
        return False
    try:
        signature = (pointer._numba_type_, types.int64, numba.typeof(_flat(args)))
        _run_parallel.compile(signature)
        pointer.parallel = _run_parallel.overloads[signature].entry_point
        return True
    finally:
        _release(fd)


def _flat(args):
    """(first, second, arrays) -> (first, second, *arrays): the driver's argument tuple."""
    return args[:2] + args[2]


def _type_key(value):
    """What fixes the Numba type of an argument, cheaply (numba.typeof takes ~6 us per value): arrays by
    dtype, ndim, layout, alignment and writability; other values (ints, floats, ctypes functions) by class."""
    if isinstance(value, np.ndarray):
        flags = value.flags
        return value.dtype, value.ndim, flags.c_contiguous, flags.f_contiguous, flags.aligned, flags.writeable
    return type(value)


_POINTERS = {}  # (worker, argument type keys) -> _WorkerPointer: one entry per worker and signature


def _run(worker, n_workers, args):
    """worker(w, n_workers, *args) for w < n_workers: on the Numba threads through _run_parallel, or
    directly when n_workers == 1 (the prange index is converted to int64 so that both share one compiled
    worker).  The first call per worker and argument types compiles them (see `compile_worker`)."""
    first, second, arrays = args
    key = (worker, _type_key(first), _type_key(second)) + tuple(_type_key(a) for a in arrays)
    pointer = _POINTERS.get(key)
    if pointer is None:
        pointer = _POINTERS[key] = compile_worker(worker, args)
    if n_workers == 1:
        pointer.serial(0, 1, first, second, arrays)
        return
    if pointer.parallel is None:
        compile_driver(pointer, args)
    pointer.parallel(pointer, n_workers, (first, second) + arrays)


def run_blas_workers(worker, n_workers, gemm, ints_, *arrays):
    """Run a BLAS worker, worker(w, n_workers, gemm, ints, arrays), for every w < n_workers."""
    _run(worker, n_workers, blas_arguments(gemm, ints_, *arrays))


def run_loop_workers(worker, n_workers, ints_, reals_, *arrays):
    """Run a loop worker, worker(w, n_workers, ints, reals, arrays), for every w < n_workers (`arrays`
    padded by loop_arguments)."""
    _run(worker, n_workers, loop_arguments(ints_, reals_, *arrays))
