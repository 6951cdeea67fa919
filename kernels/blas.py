"""A private, single-threaded BLAS for the fused CPU kernels (kernels/fused.py, products.py, winograd.py),
called from inside Numba.

Why a second BLAS next to NumPy's.  A conv layer on the CPU is Numba loops (im2col, col2im, transposes)
around BLAS matrix products.  With NumPy's BLAS (OpenBLAS, 2 threads) the two thread pools take turns:
after each product OpenBLAS's worker threads spin-wait for ~0.1 s, so a parallel Numba loop that follows
finds one core busy and runs at serial speed or worse (bench/README.md, history 25).  NumPy's BLAS cannot
be asked to stop spinning once it is loaded (OPENBLAS_THREAD_TIMEOUT is read at load time, before
minigan is imported), and making it single-threaded would slow the user's own NumPy code.

So the fused kernels do their own threading: each Numba worker thread takes a slice of the batch and runs
the whole pipeline on it -- im2col into a buffer that stays in its core's cache, a product on ONE
thread, the scatter back -- and the products come from this module's OpenBLAS, a separate copy of the
library (the `scipy-openblas32` wheel, the same OpenBLAS build that NumPy and SciPy ship, loaded under its
own name so that nobody else's calls reach it) set to one thread.  No pool spins and no two pools compete.

The functions are ctypes objects with the CBLAS signature

    gemm(order, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
    C (M, N) = alpha * op(A) @ op(B) + beta * C           (row-major: order = ROW_MAJOR)

which Numba calls from nopython code when they are passed in as arguments (the compiled kernels stay
cacheable).  Pointers are passed as integers (`array.ctypes.data`), dimensions as 32-bit ints: the
caller checks that they fit (fits_int32).

`available()` is False when the wheel is not installed or cannot be loaded, or when the environment says
MINIGAN_PRIVATE_BLAS=0 (for comparisons); kernels/conv.py then uses NumPy's BLAS from Python (the unfused
path, with Numba's non-spinning `workqueue` threads), which gives the same results.
"""

import ctypes
import glob
import os

__all__ = ["ROW_MAJOR", "NO_TRANS", "TRANS", "available", "gemm_for", "describe", "fits_int32"]

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112  # CBLAS enums

_INT32_MAX = 2**31 - 1


# OpenBLAS's x86-64 kernel families (openblas_get_corename) that use AVX-512, and those that use at least AVX2
_AVX512_CORES = {"skylakex", "cooperlake", "sapphirerapids"}
_AVX2_CORES = {"haswell", "zen"} | _AVX512_CORES
_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _cpu_flags():
    """The CPU's feature flags from /proc/cpuinfo (an empty set where it is absent)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def below_cpu_note(corename, cpu_flags, environment):
    """A note for describe() when OpenBLAS runs kernels below what the CPU supports (e.g. Haswell's AVX2
    kernels on an AVX-512 CPU, about half the float32 speed), saying why: an environment override, or a CPU
    this OpenBLAS does not recognise. An override of the cache size alone is named too. "" otherwise."""
    core = corename.lower()
    overrides = [f"{name}={environment[name]}" for name in _OVERRIDES if name in environment]
    if "avx512f" in cpu_flags and core not in _AVX512_CORES:
        best = "AVX-512"
    elif "avx2" in cpu_flags and core not in _AVX2_CORES:
        best = "AVX2"
    elif overrides:
        return f"; set in the environment: {', '.join(overrides)}"
    else:
        return ""
    why = f"{', '.join(overrides)} set in the environment" if overrides else "this OpenBLAS does not recognise the CPU"
    return f"; BELOW what this CPU supports ({best}): {why}"


def _signature(real):
    i, p = ctypes.c_int, ctypes.c_size_t  # pointers as integers: Numba passes array.ctypes.data
    return [i, i, i, i, i, i, real, p, i, p, i, real, p, i]


def _load():
    """(library, sgemm, dgemm, description), or (None, None, None, reason) when unavailable."""
    if os.environ.get("MINIGAN_PRIVATE_BLAS", "1").strip() == "0":
        return None, None, None, "off ($MINIGAN_PRIVATE_BLAS=0): NumPy's BLAS, unfused kernels"
    try:
        import scipy_openblas32
    except ImportError:
        return None, None, None, "scipy-openblas32 not installed (fused kernels off: NumPy's BLAS is used)"
    candidates = sorted(glob.glob(os.path.join(scipy_openblas32.get_lib_dir(), "*scipy_openblas*")))
    candidates = [c for c in candidates if c.endswith((".so", ".dylib", ".dll"))]
    if not candidates:
        return None, None, None, f"no OpenBLAS library in {scipy_openblas32.get_lib_dir()}"
    # OpenBLAS reads OPENBLAS_NUM_THREADS once, when it is loaded: with 1 it starts no worker threads at
    # all.  Only this library is loading now (NumPy's was loaded long before), so only it sees the value.
    saved = os.environ.get("OPENBLAS_NUM_THREADS")
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        lib = ctypes.CDLL(candidates[0])
    except OSError as err:
        return None, None, None, f"could not load {candidates[0]}: {err}"
    finally:
        if saved is None:
            del os.environ["OPENBLAS_NUM_THREADS"]
        else:
            os.environ["OPENBLAS_NUM_THREADS"] = saved
    prefix = "scipy_"
    lib[prefix + "openblas_set_num_threads"](1)  # and make sure, whatever the environment said
    # One prototype class per function (CFUNCTYPE): Numba's dispatcher caches argument types by Python
    # class, and two functions of one CDLL share a class -- dgemm would then run sgemm's compiled call
    # (observed: wrong float64 results in a process that had used sgemm first).
    sgemm = ctypes.CFUNCTYPE(None, *_signature(ctypes.c_float))(
        ctypes.cast(lib[prefix + "cblas_sgemm"], ctypes.c_void_p).value
    )
    dgemm = ctypes.CFUNCTYPE(None, *_signature(ctypes.c_double))(
        ctypes.cast(lib[prefix + "cblas_dgemm"], ctypes.c_void_p).value
    )
    get_config = lib[prefix + "openblas_get_config"]
    get_config.restype = ctypes.c_char_p
    corename = lib[prefix + "openblas_get_corename"]
    corename.restype = ctypes.c_char_p
    description = (
        f"{get_config().decode().split(' DYNAMIC_ARCH')[0]} ({corename().decode()}), "
        f"private copy, 1 thread per caller" + below_cpu_note(corename().decode(), _cpu_flags(), os.environ)
    )
    return lib, sgemm, dgemm, description


_LIB, _SGEMM, _DGEMM, _DESCRIPTION = _load()


def available():
    """Whether the private BLAS loaded (the fused kernels need it)."""
    return _LIB is not None


def describe():
    """One line for kernels.info(): version and kernel of the private BLAS, or why it is off."""
    return _DESCRIPTION


def gemm_for(dtype):
    """The ctypes gemm for float32 or float64 (None for other dtypes or when unavailable)."""
    if _LIB is None:
        return None
    return {4: _SGEMM, 8: _DGEMM}.get(dtype.itemsize) if dtype.kind == "f" else None


def fits_int32(*dims):
    """Whether every matrix dimension / leading dimension fits the 32-bit CBLAS interface."""
    return all(0 <= d <= _INT32_MAX for d in dims)
