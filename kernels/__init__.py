"""minigan's convolution kernels: arrays in, arrays out (this package never imports minigan).

The folder is kernels/; the package is imported as `minigan_kernels` (a different, published package is
named `kernels`): setup.cfg installs it under that name, and minigan_kernels in the repository is a
symbolic link to this folder, so that a checkout on PYTHONPATH imports it by the same name.

Three modules provide the same three functions (see kernels/reference.py for the math and shapes):

    conv2d(x, W, stride, padding, dilation)                             -> y
    conv_transpose2d(x, W, stride, padding, output_padding, dilation)   -> y
    conv2d_weight(x, gy, kernel_size, stride, padding, dilation)        -> gW

    kernels.reference   pure NumPy (works on CuPy arrays too): the readable specification
    kernels.cpu         Numba loops around BLAS products: the fast CPU path (its docstring lists its modules)
    kernels.cuda        numba.cuda.jit im2col/col2im feeding cuBLAS (CuPy): the GPU path

`select(xp_name)` picks one; `info()` says which, with the Numba/BLAS/threading set-up.
kernels.cpu and kernels.cuda are imported lazily (on first attribute access), so the reference path never
pays for importing Numba.  Importing a kernel module changes nothing in the process: the set-up the CPU
kernels need (Numba's threading layer, glibc's malloc, fork detection, the compile helper) is
kernels.runtime.configure(), which select() calls when it hands out kernels.cpu.
"""

import importlib
import os

__all__ = ["reference", "cpu", "cuda", "select", "info", "MODES"]

from . import reference

MODES = ("reference", "numba")


def __getattr__(name):
    # PEP 562: `kernels.cpu` / `kernels.cuda` import their module on first use.
    if name in ("cpu", "cuda"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _numba_importable():
    try:
        importlib.import_module(f"{__name__}.cpu")
        return True
    except ImportError:
        return False


def requested_mode(mode=None):
    """The kernel path asked for: `mode` if given, else $MINIGAN_KERNELS, else "numba"."""
    mode = mode or os.environ.get("MINIGAN_KERNELS", "") or "numba"
    mode = mode.strip().lower()
    if mode not in MODES:
        raise ValueError(f"MINIGAN_KERNELS must be one of {MODES}, got {mode!r}")
    return mode


def select(xp_name, mode=None):
    """The kernel module for arrays of module `xp_name` ("numpy" or "cupy").

    - mode (or $MINIGAN_KERNELS) == "reference": kernels.reference, for any array module (it runs on CuPy
      arrays too) -- the readable path for teaching and debugging;
    - "cupy" arrays otherwise: kernels.cuda;
    - numpy arrays otherwise: kernels.cpu (Numba) when Numba imports, else kernels.reference.  An explicit
      mode="numba" (argument, not the default) raises if Numba is missing instead of falling back.
    """
    explicit = mode or os.environ.get("MINIGAN_KERNELS")
    mode = requested_mode(mode)
    if mode == "reference":
        return reference
    if str(xp_name).startswith("cupy"):
        return importlib.import_module(f"{__name__}.cuda")
    try:
        cpu = importlib.import_module(f"{__name__}.cpu")
    except ImportError:
        if explicit:
            raise
        return reference
    # Before the first parallel kernel: the threading layer is fixed by Numba's first parallel region
    # (kernels/runtime.py says what is set up and why).  Once per process; later calls return at once.
    importlib.import_module(f"{__name__}.runtime").configure()
    return cpu


def info(xp_name="numpy", mode=None):
    """A dict describing the kernel path for `xp_name` arrays: module, Numba version, threading layer,
    Numba threads, BLAS (from numpy's build config and threadpoolctl when installed) and its threads."""
    module = select(xp_name, mode)
    d = {"kernels": module.__name__, "mode": requested_mode(mode)}
    try:
        import numba

        d["numba"] = numba.__version__
        d["numba_threads"] = numba.get_num_threads()
        if module.__name__.endswith(".cpu"):
            d["threading_layer"] = module.threading_layer()
            d["kernel_blas"] = importlib.import_module(f"{__name__}.blas").describe()
            d["winograd"] = module.winograd_info()
            d["allocator"] = importlib.import_module(f"{__name__}.allocator").describe()
            d["compile_helper"] = importlib.import_module(f"{__name__}.precompile").describe()
        else:
            d["threading_layer"] = numba.config.THREADING_LAYER + " (requested; loads on first parallel call)"
    except ImportError:
        d["numba"] = None
    d.update(_blas_info())
    if module.__name__.endswith(".cuda"):
        d["gpu_blas"] = "cuBLAS via CuPy (NumPy's BLAS under NUMBA_ENABLE_CUDASIM)"
    return d


def _blas_info():
    """numpy's BLAS (the one NumPy's own products use; kernels.cpu's is kernel_blas) name/version and thread count, from threadpoolctl if available, else numpy's config."""
    try:
        from threadpoolctl import threadpool_info

        blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        # numpy's own BLAS first (scipy, loaded by Numba, may bring a second OpenBLAS)
        blas.sort(key=lambda p: "numpy" not in p.get("filepath", ""))
        if blas:
            b = blas[0]
            return {
                "blas": f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')})",
                "blas_threads": b.get("num_threads"),
            }
    except Exception:
        pass
    try:
        import numpy as np

        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return {"blas": f"{cfg.get('name')} {cfg.get('version')}", "blas_threads": None}
    except Exception:
        return {"blas": "unknown", "blas_threads": None}
