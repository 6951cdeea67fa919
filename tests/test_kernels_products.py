"""The private BLAS (kernels/blas.py) and the products on it (kernels/products.py): matmul against NumPy's @
for every operand layout, both dtypes in one process, other dtypes passed on, and the switch that turns the
private BLAS off."""

import os
import subprocess
import sys

import numpy as np
import pytest

from kernels_common import HAS_NUMBA, PARALLEL, ROOT, SERIAL, needs_cpu, tol
from kernels_common import cpu as kernel_cpu

if HAS_NUMBA:
    from minigan_kernels import blas


@needs_cpu
def test_private_blas_is_loaded_and_single_threaded():
    """setup.cfg installs scipy-openblas32, so the fused kernels are what the other tests exercise."""
    assert blas.available(), blas.describe()
    assert "1 thread" in blas.describe() and "OpenBLAS" in blas.describe()
    assert blas.gemm_for(np.dtype(np.float32)) is not blas.gemm_for(np.dtype(np.float64))
    assert blas.gemm_for(np.dtype(np.int64)) is None and blas.gemm_for(np.dtype(np.float16)) is None
    assert blas.fits_int32(2**31 - 1) and not blas.fits_int32(2**31)


def _matmul_cases(rng, dtype):
    r = lambda *s: rng.standard_normal(s).astype(dtype)  # noqa: E731
    a, b = r(7, 5), r(5, 3)
    yield "2d", a, b
    yield "a transposed view", r(5, 7).T, b
    yield "b transposed view", a, r(3, 5).T
    yield "both transposed", r(5, 7).T, r(3, 5).T
    yield "strided slices", r(7, 10)[:, ::2], r(10, 3)[::2]
    yield "wide (column split)", r(3, 40), r(40, 300)
    yield "tall (row split)", r(300, 40), r(40, 3)
    yield "stack @ matrix", r(4, 6, 5), b
    yield "stack @ stack", r(4, 7, 5), r(4, 5, 3)
    yield "stack @ shared stack", r(4, 7, 5), r(1, 5, 3)
    yield "broadcast batch (NumPy path)", r(2, 1, 7, 5), r(3, 5, 3)
    yield "K = 0", r(4, 0), r(0, 3)
    yield "vector-like", r(1, 5), r(5, 1)


@needs_cpu
@pytest.mark.parametrize("threading", ["serial", "parallel"])
def test_cpu_matmul_matches_numpy_both_dtypes_in_one_process(threading, monkeypatch):
    """kernel_cpu().matmul == NumPy's @ for every operand layout it handles itself or passes on.  float32
    and float64 alternate on purpose: Numba once dispatched dgemm calls to the sgemm-typed compiled code
    when both ctypes functions shared a Python class (wrong float64 results); kernels/blas.py prevents it."""
    monkeypatch.setattr("minigan_kernels.products.MATMUL_PARALLEL_MIN", SERIAL if threading == "serial" else PARALLEL)
    monkeypatch.setattr("minigan_kernels.products.NUMPY_MATMUL_MAX", 0)  # the test matrices are small
    for round_ in range(2):
        for dtype in (np.float32, np.float64) if round_ == 0 else (np.float64, np.float32):
            for name, a, b in _matmul_cases(np.random.default_rng(7), dtype):
                got, want = kernel_cpu().matmul(a, b), a @ b
                assert got.shape == want.shape and got.dtype == want.dtype, name
                np.testing.assert_allclose(got, want, err_msg=f"{name} {np.dtype(dtype).name}", **tol(dtype))


@needs_cpu
def test_cpu_matmul_passes_other_dtypes_to_numpy(monkeypatch):
    monkeypatch.setattr(
        "minigan_kernels.products.NUMPY_MATMUL_MAX", 0
    )  # past the small-product shortcut: the dtype checks
    a, b = np.arange(6).reshape(2, 3), np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(kernel_cpu().matmul(a, b), a @ b)  # integers: exact
    mixed = kernel_cpu().matmul(a.astype(np.float32), b.astype(np.float64))
    assert mixed.dtype == np.float64
    np.testing.assert_allclose(mixed, a @ b)


def test_private_blas_can_be_switched_off():
    """MINIGAN_PRIVATE_BLAS=0: no private BLAS, the unfused kernels and the non-spinning threading layer,
    and the same numbers (run in a fresh process: the switch is read on import)."""
    code = (
        "import numba, numpy as np, minigan_kernels as kernels, minigan_kernels.blas as b, minigan_kernels.reference as r\n"
        "import minigan_kernels.runtime as rt\n"
        "c = kernels.select('numpy')\n"
        "x = np.random.default_rng(0).standard_normal((3, 20, 9, 9)); W = np.ones((4, 20, 3, 3))\n"
        "assert not b.available() and not rt.FUSED, b.describe()\n"
        "assert np.allclose(c.conv2d(x, W, 2, 1), r.conv2d(x, W, 2, 1))\n"
        "print(numba.config.THREADING_LAYER)\n"
    )
    env = dict(os.environ, MINIGAN_PRIVATE_BLAS="0")
    env.pop("NUMBA_THREADING_LAYER", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "workqueue"
