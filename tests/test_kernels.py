"""Kernel-level tests: kernels.reference against PyTorch (an independent reference), every fast kernel
against kernels.reference, the adjoint identity, dtypes, non-contiguous inputs, and kernel selection.

No timing here: speed is measured by bench/bench_conv.py, as a ratio to PyTorch in the same run.
"""
import importlib
import subprocess
import sys
import os

import numpy as np
import pytest

import kernels
from kernels import reference

try:
    import torch
    import torch.nn.functional as TF
    import torch.nn.grad as TG
except ImportError:  # the PyTorch cross-checks are skipped, the reference-vs-fast tests still run
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch (test-only cross-check) is not installed")

# (N, C, O, H, W, (kh, kw), stride, padding, dilation, output_padding)
# output_padding is used by conv_transpose2d only and must be < max(stride, dilation) for PyTorch.
GRID = [
    (2, 3, 4, 8, 8, (3, 3), (1, 1), (0, 0), (1, 1), (0, 0)),
    (1, 1, 1, 5, 5, (1, 1), (1, 1), (0, 0), (1, 1), (0, 0)),      # batch 1, 1x1 kernel
    (2, 3, 5, 9, 7, (4, 4), (2, 2), (1, 1), (1, 1), (1, 1)),      # DCGAN-like k4 s2 p1, odd sizes
    (3, 2, 3, 11, 13, (3, 2), (2, 3), (1, 2), (1, 1), (1, 2)),    # rectangular kernel, unequal strides
    (2, 4, 3, 10, 9, (3, 3), (1, 1), (2, 2), (2, 3), (1, 2)),     # dilation (op < dilation)
    (1, 3, 2, 7, 8, (2, 3), (3, 2), (0, 1), (2, 1), (2, 0)),      # stride 3 with dilation
    (2, 1, 6, 28, 28, (4, 4), (2, 2), (1, 1), (1, 1), (0, 0)),    # 1-channel input (MNIST D's first layer)
    (2, 6, 1, 14, 14, (4, 4), (2, 2), (1, 1), (1, 1), (0, 0)),    # 1-channel output (MNIST G's last layer)
    (1, 2, 2, 4, 4, (5, 5), (1, 1), (2, 2), (1, 1), (0, 0)),      # kernel larger than the image
    (2, 5, 3, 6, 5, (3, 3), (2, 2), (3, 0), (1, 1), (0, 1)),      # padding larger than half the kernel
]
IDS = ["N{}C{}O{}_{}x{}_k{}_s{}_p{}_d{}_op{}".format(*c[:5], *["".join(map(str, t)) for t in c[5:]]) for c in GRID]


def rng_arrays(case, dtype, seed=0):
    """x (N,C,H,W), W (O,C,kh,kw) for conv2d, Wt (C,O,kh,kw) for conv_transpose2d, and gy for conv2d's output."""
    N, C, O, H, W_, (kh, kw), s, p, d, op = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W_)).astype(dtype)
    W = rng.standard_normal((O, C, kh, kw)).astype(dtype)
    Wt = rng.standard_normal((C, O, kh, kw)).astype(dtype)
    Ho = reference.conv_output_size(H, kh, s[0], p[0], d[0])
    Wo = reference.conv_output_size(W_, kw, s[1], p[1], d[1])
    gy = rng.standard_normal((N, O, Ho, Wo)).astype(dtype)
    return x, W, Wt, gy


def tol(dtype):
    return dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------- the reference against PyTorch

@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", GRID, ids=IDS)
def test_reference_matches_torch(case, dtype):
    N, C, O, H, W_, k, s, p, d, op = case
    x, W, Wt, gy = rng_arrays(case, dtype)
    t = torch.from_numpy
    y_t = TF.conv2d(t(x), t(W), stride=s, padding=p, dilation=d).numpy()
    np.testing.assert_allclose(reference.conv2d(x, W, s, p, d), y_t, **tol(dtype))
    z_t = TF.conv_transpose2d(t(x), t(Wt), stride=s, padding=p, output_padding=op, dilation=d).numpy()
    np.testing.assert_allclose(reference.conv_transpose2d(x, Wt, s, p, op, d), z_t, **tol(dtype))
    gW_t = TG.conv2d_weight(t(x), W.shape, t(gy), stride=s, padding=p, dilation=d).numpy()
    np.testing.assert_allclose(reference.conv2d_weight(x, gy, k, s, p, d), gW_t, **tol(dtype))


@needs_torch
def test_reference_conv_transpose_is_conv_input_gradient():
    """conv_transpose2d(gy, W, output_padding=r) with W a conv2d weight = d<conv2d(x, W), gy>/dx (autograd)."""
    case = (2, 3, 4, 10, 9, (4, 3), (3, 2), (1, 1), (1, 1), (0, 0))
    N, C, O, H, W_, k, s, p, d, _ = case
    x, W, _, gy = rng_arrays(case, np.float64)
    xt = torch.from_numpy(x).requires_grad_()
    (TF.conv2d(xt, torch.from_numpy(W), stride=s, padding=p, dilation=d) * torch.from_numpy(gy)).sum().backward()
    # output_padding recovers the rows/columns lost to the conv's floor division
    op = tuple(n - reference.conv_transpose_output_size(m, kk, ss, pp, 0, dd)
               for n, m, kk, ss, pp, dd in zip((H, W_), gy.shape[2:], k, s, p, d))
    np.testing.assert_allclose(reference.conv_transpose2d(gy, W, s, p, op, d), xt.grad.numpy(), rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------- properties every kernel module must have

def kernel_modules():
    """The kernel modules available here: the reference always, Numba CPU when Numba imports."""
    mods = [pytest.param("reference")]
    mods.append(pytest.param("cpu", marks=pytest.mark.skipif(
        importlib.util.find_spec("numba") is None or importlib.util.find_spec("kernels.cpu") is None,
        reason="Numba (or kernels.cpu) not available")))
    return mods


needs_cpu = pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="Numba is not installed")


# kernels.cpu has two layouts, chosen by channel count (cpu._CHANNELS_LAST_MIN), runs its Numba loops and
# products serially or in parallel by job size (cpu._PARALLEL_MIN, _FUSED_PARALLEL_MIN, _MATMUL_PARALLEL_MIN), and does the
# channels-last layers as fused per-thread pipelines on the private BLAS (cpu._FUSED, in chunks of
# ~cpu._FUSED_CHUNK_BYTES of columns) or, unfused, with NumPy's BLAS: force each combination in turn.
SERIAL, PARALLEL = 1 << 62, 0
LAYOUTS = {
    "nchw-serial": dict(_CHANNELS_LAST_MIN=10 ** 9, _PARALLEL_MIN=SERIAL, _MATMUL_PARALLEL_MIN=SERIAL),
    "nchw-parallel": dict(_CHANNELS_LAST_MIN=10 ** 9, _PARALLEL_MIN=PARALLEL, _MATMUL_PARALLEL_MIN=PARALLEL),
    "nchw-numpy_blas": dict(_CHANNELS_LAST_MIN=10 ** 9, _PARALLEL_MIN=PARALLEL, _FUSED=False),
    "channels_last-serial": dict(_CHANNELS_LAST_MIN=1, _PARALLEL_MIN=SERIAL, _FUSED_PARALLEL_MIN=SERIAL),
    "channels_last-parallel": dict(_CHANNELS_LAST_MIN=1, _PARALLEL_MIN=PARALLEL, _FUSED_PARALLEL_MIN=PARALLEL),
    "channels_last-parallel-chunk1": dict(_CHANNELS_LAST_MIN=1, _PARALLEL_MIN=PARALLEL, _FUSED_PARALLEL_MIN=PARALLEL,
                                          _FUSED_CHUNK_BYTES=1),
    "channels_last-unfused-serial": dict(_CHANNELS_LAST_MIN=1, _PARALLEL_MIN=SERIAL, _FUSED=False),
    "channels_last-unfused-parallel": dict(_CHANNELS_LAST_MIN=1, _PARALLEL_MIN=PARALLEL, _FUSED=False),
}


def force_layout(monkeypatch, cpu, layout):
    monkeypatch.setattr(cpu, "_WINOGRAD_MIN_CHANNELS", 10 ** 9)      # the im2col paths (Winograd: below)
    for name, value in LAYOUTS[layout].items():
        monkeypatch.setattr(cpu, name, value)


@needs_cpu
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", GRID, ids=IDS)
def test_cpu_matches_reference(case, dtype, layout, monkeypatch):
    """kernels.cpu (Numba + BLAS) against kernels.reference, all three operations, every layout and threading mode."""
    cpu = kernels.cpu
    force_layout(monkeypatch, cpu, layout)
    N, C, O, H, W_, k, s, p, d, op = case
    x, W, Wt, gy = rng_arrays(case, dtype, seed=3)
    pairs = [(cpu.conv2d(x, W, s, p, d), reference.conv2d(x, W, s, p, d)),
             (cpu.conv_transpose2d(x, Wt, s, p, op, d), reference.conv_transpose2d(x, Wt, s, p, op, d)),
             (cpu.conv2d_weight(x, gy, k, s, p, d), reference.conv2d_weight(x, gy, k, s, p, d))]
    for name, (got, want) in zip(("conv2d", "conv_transpose2d", "conv2d_weight"), pairs):
        assert got.shape == want.shape and got.dtype == want.dtype == dtype, name
        assert got.flags.c_contiguous, name
        np.testing.assert_allclose(got, want, err_msg=name, **tol(dtype))


@needs_cpu
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_cpu_large_output_padding_and_smaller_gy(layout, monkeypatch):
    """Edge cases of the index arithmetic: output_padding beyond the last tap; gy smaller than the formula."""
    force_layout(monkeypatch, kernels.cpu, layout)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 5, 6))
    Wt = rng.standard_normal((3, 2, 3, 3))
    for op in [(0, 0), (1, 2), (3, 3)]:
        np.testing.assert_allclose(kernels.cpu.conv_transpose2d(x, Wt, (2, 2), (1, 0), op, (1, 1)),
                                   reference.conv_transpose2d(x, Wt, (2, 2), (1, 0), op, (1, 1)), rtol=1e-12)
    gy = rng.standard_normal((2, 4, 2, 3))          # conv2d's output would be (3, 4)
    np.testing.assert_allclose(kernels.cpu.conv2d_weight(x, gy, (2, 2), (1, 1)),
                               reference.conv2d_weight(x, gy, (2, 2), (1, 1)), rtol=1e-12)


@pytest.mark.parametrize("modname", kernel_modules())
@pytest.mark.parametrize("case", GRID, ids=IDS)
def test_adjoint_identity(modname, case):
    """<conv2d(x, W), y> = <x, conv_transpose2d(y, W)>  and  <conv2d(x, W), y> = <W, conv2d_weight(x, y)>."""
    mod = getattr(kernels, modname)
    N, C, O, H, W_, k, s, p, d, _ = case
    x, W, _, gy = rng_arrays(case, np.float64, seed=1)
    lhs = np.vdot(mod.conv2d(x, W, s, p, d), gy)
    op = tuple(n - reference.conv_transpose_output_size(m, kk, ss, pp, 0, dd)
               for n, m, kk, ss, pp, dd in zip((H, W_), gy.shape[2:], k, s, p, d))
    gx = mod.conv_transpose2d(gy, W, s, p, op, d)
    assert gx.shape == x.shape
    np.testing.assert_allclose(np.vdot(x, gx), lhs, rtol=1e-10)
    np.testing.assert_allclose(np.vdot(W, mod.conv2d_weight(x, gy, k, s, p, d)), lhs, rtol=1e-10)


@pytest.mark.parametrize("modname", kernel_modules())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_dtype_contiguity_and_noncontiguous_inputs(modname, dtype, layout, monkeypatch):
    """Same dtype out as in, C-contiguous outputs, and non-contiguous inputs give the contiguous answer."""
    mod = getattr(kernels, modname)
    if hasattr(mod, "_CHANNELS_LAST_MIN"):      # kernels.cpu: both of its layouts
        force_layout(monkeypatch, mod, layout)
    elif layout != "nchw-serial":
        pytest.skip("one layout only")
    case = GRID[3]
    N, C, O, H, W_, k, s, p, d, op = case
    x, W, Wt, gy = rng_arrays(case, dtype, seed=2)

    def strided(a):
        # the same values in non-contiguous views: a step-2 slice of a larger buffer, then a Fortran-order copy
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
        big[..., ::2] = a
        v = big[..., ::2] if a.ndim == 4 and a.shape[0] != a.shape[1] else np.asfortranarray(a)
        assert not v.flags.c_contiguous and np.array_equal(v, a)
        return v

    outs = [(mod.conv2d, (x, W, s, p, d)), (mod.conv_transpose2d, (x, Wt, s, p, op, d)),
            (mod.conv2d_weight, (x, gy, k, s, p, d))]
    for f, args in outs:
        want = f(*args)
        assert want.dtype == dtype and want.flags.c_contiguous, f.__name__
        got = f(*[strided(a) if isinstance(a, np.ndarray) else a for a in args])
        assert got.dtype == dtype and got.flags.c_contiguous, f.__name__
        np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-6, err_msg=f.__name__)


@pytest.mark.parametrize("modname", kernel_modules())
def test_bad_arguments_raise(modname):
    mod = getattr(kernels, modname)
    x = np.zeros((1, 2, 3, 3))
    with pytest.raises(ValueError):
        mod.conv2d(x, np.zeros((4, 3, 2, 2)))                  # channel mismatch
    with pytest.raises(ValueError):
        mod.conv2d(x, np.zeros((4, 2, 5, 5)))                  # empty output
    with pytest.raises(ValueError):
        mod.conv_transpose2d(x, np.zeros((3, 4, 2, 2)))        # channel mismatch (W is (C_in, C_out, kh, kw))


# ---------------------------------------------------------------- kernel selection

def test_select_modes(monkeypatch):
    monkeypatch.setenv("MINIGAN_KERNELS", "reference")
    assert kernels.select("numpy") is kernels.reference
    assert kernels.select("numpy", mode="reference") is kernels.reference
    monkeypatch.setenv("MINIGAN_KERNELS", "bogus")
    with pytest.raises(ValueError):
        kernels.select("numpy")
    monkeypatch.delenv("MINIGAN_KERNELS")
    has_cpu = importlib.util.find_spec("numba") and importlib.util.find_spec("kernels.cpu")
    expected = "kernels.cpu" if has_cpu else "kernels.reference"
    assert kernels.select("numpy").__name__ == expected
    info = kernels.info()
    assert info["kernels"] == expected and "blas" in info


def test_select_in_fresh_process():
    """The environment variable is read by a process that starts with it (what a user does)."""
    code = "import kernels; print(kernels.select('numpy').__name__)"
    env = dict(os.environ, MINIGAN_KERNELS="reference")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "kernels.reference"


# ---------------------------------------------------------------- the private BLAS and kernels.cpu.matmul

@needs_cpu
def test_private_blas_is_loaded_and_single_threaded():
    """setup.cfg installs scipy-openblas32, so the fused kernels are what the other tests exercise."""
    from kernels import blas
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
    """kernels.cpu.matmul == NumPy's @ for every operand layout it handles itself or passes on.  float32
    and float64 alternate on purpose: Numba once dispatched dgemm calls to the sgemm-typed compiled code
    when both ctypes functions shared a Python class (wrong float64 results); kernels/blas.py prevents it."""
    monkeypatch.setattr(kernels.cpu, "_MATMUL_PARALLEL_MIN", SERIAL if threading == "serial" else PARALLEL)
    monkeypatch.setattr(kernels.cpu, "_NUMPY_MATMUL_MAX", 0)        # the test matrices are small
    for round_ in range(2):
        for dtype in (np.float32, np.float64) if round_ == 0 else (np.float64, np.float32):
            for name, a, b in _matmul_cases(np.random.default_rng(7), dtype):
                got, want = kernels.cpu.matmul(a, b), a @ b
                assert got.shape == want.shape and got.dtype == want.dtype, name
                np.testing.assert_allclose(got, want, err_msg=f"{name} {np.dtype(dtype).name}", **tol(dtype))


@needs_cpu
def test_cpu_matmul_passes_other_dtypes_to_numpy(monkeypatch):
    monkeypatch.setattr(kernels.cpu, "_NUMPY_MATMUL_MAX", 0)    # past the small-product shortcut: the dtype checks
    a, b = np.arange(6).reshape(2, 3), np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(kernels.cpu.matmul(a, b), a @ b)                    # integers: exact
    mixed = kernels.cpu.matmul(a.astype(np.float32), b.astype(np.float64))
    assert mixed.dtype == np.float64
    np.testing.assert_allclose(mixed, a @ b)


def test_private_blas_can_be_switched_off():
    """MINIGAN_PRIVATE_BLAS=0: no private BLAS, the unfused kernels and the non-spinning threading layer,
    and the same numbers (run in a fresh process: the switch is read on import)."""
    code = ("import numpy as np, kernels.cpu as c, kernels.blas as b, kernels.reference as r\n"
            "x = np.random.default_rng(0).standard_normal((3, 20, 9, 9)); W = np.ones((4, 20, 3, 3))\n"
            "assert not b.available() and not c._FUSED, b.describe()\n"
            "assert np.allclose(c.conv2d(x, W, 2, 1), r.conv2d(x, W, 2, 1))\n"
            "print(c.numba.config.THREADING_LAYER)\n")
    env = dict(os.environ, MINIGAN_PRIVATE_BLAS="0")
    env.pop("NUMBA_THREADING_LAYER", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "workqueue"


# ---------------------------------------------------------------- elementwise and per-channel kernels

ELEMENTWISE_SHAPES = [(2, 3), (4, 5, 6), (3, 4, 5, 7), (1, 1, 1, 1)]


@needs_cpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", ELEMENTWISE_SHAPES, ids=str)
def test_cpu_elementwise_kernels_match_reference(shape, dtype, monkeypatch):
    """Numba leaky ReLU, its backward and batch-norm forward/backward against the array code of
    kernels.reference (the spec), forced onto the Numba path even for small arrays."""
    cpu = kernels.cpu
    monkeypatch.setattr(cpu, "_ELEMENTWISE_MIN", 0)
    rng = np.random.default_rng(11)
    x = (rng.standard_normal(shape) * 3 + 0.5).astype(dtype)
    x.reshape(-1)[0] = 0.0                                   # the kink: x = 0 takes the slope side
    for slope in (0.0, 0.2, 1.5):
        np.testing.assert_array_equal(cpu.leaky_relu(x, slope), reference.leaky_relu(x, slope))
        gy = np.random.default_rng(5).standard_normal(shape).astype(dtype)
        np.testing.assert_array_equal(cpu.leaky_relu_backward(gy, x, slope), reference.leaky_relu_backward(gy, x, slope))
    got, want = cpu.batch_norm_forward(x, 1e-5), reference.batch_norm_forward(x, 1e-5)
    for name, g, w in zip(("x_hat", "mean", "var", "inv_std"), got, want):
        assert g.shape == w.shape and g.dtype == w.dtype == dtype, name
        np.testing.assert_allclose(g, w, err_msg=name, **tol(dtype))
    gy = rng.standard_normal(shape).astype(dtype)
    np.testing.assert_allclose(cpu.batch_norm_backward(gy, got[0], got[3]),
                               reference.batch_norm_backward(gy, want[0], want[3]), **tol(dtype))
    # with the affine step: forward y = x_hat * w + b, backward (gx, gw, gb)
    C = shape[1]
    w, b = rng.standard_normal(C).astype(dtype), rng.standard_normal(C).astype(dtype)
    got_affine, want_affine = cpu.batch_norm_forward(x, 1e-5, w, b), reference.batch_norm_forward(x, 1e-5, w, b)
    expand = (1, C) + (1,) * (len(shape) - 2)
    np.testing.assert_allclose(want_affine[0], want[0] * w.reshape(expand) + b.reshape(expand), **tol(dtype))
    for name, g, w_ in zip(("y", "mean", "var", "inv_std"), got_affine, want_affine):
        assert g.shape == w_.shape and g.dtype == w_.dtype == dtype, name
        np.testing.assert_allclose(g, w_, err_msg=name, **tol(dtype))
    got_grads = cpu.batch_norm_affine_backward(gy, x, got[1], got[3], w)
    want_grads = reference.batch_norm_affine_backward(gy, x, want[1], want[3], w)
    # the same gradient as the normaliser's backward of g * w, and the sums of g * x_hat and g
    axes = (0,) + tuple(range(2, len(shape)))
    np.testing.assert_allclose(want_grads[0], reference.batch_norm_backward(gy * w.reshape(expand), want[0], want[3]),
                               **tol(dtype))
    np.testing.assert_allclose(want_grads[1], (gy * want[0]).sum(axis=axes), **tol(dtype))
    np.testing.assert_allclose(want_grads[2], gy.sum(axis=axes), **tol(dtype))
    for name, g, w_ in zip(("gx", "g_weight", "g_bias"), got_grads, want_grads):
        assert g.shape == w_.shape and g.dtype == w_.dtype == dtype, name
        np.testing.assert_allclose(g, w_, err_msg=name, **tol(dtype))


@needs_cpu
def test_cpu_elementwise_kernels_leave_odd_inputs_to_the_reference(monkeypatch):
    """Non-contiguous, integer, or float16 inputs give the reference's answer (the fallback is taken)."""
    cpu = kernels.cpu
    monkeypatch.setattr(cpu, "_ELEMENTWISE_MIN", 0)
    x = np.random.default_rng(1).standard_normal((6, 8))
    for a in (x[:, ::2], x.T, x.astype(np.float16), np.arange(-3, 3)):
        np.testing.assert_array_equal(cpu.leaky_relu(a, 0.1), reference.leaky_relu(a, 0.1))
    np.testing.assert_allclose(cpu.batch_norm_forward(x.T, 1e-5)[0], reference.batch_norm_forward(x.T, 1e-5)[0])


@needs_cpu
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_adam_update_matches_reference_over_steps(dtype, amsgrad, monkeypatch):
    """Five fused Numba Adam steps = five steps of the reference array code (m, v, v_max and p)."""
    cpu = kernels.cpu
    monkeypatch.setattr(cpu, "_ADAM_MIN", 0)
    rng = np.random.default_rng(2)
    states = []
    for _ in range(2):
        p = rng.standard_normal((7, 9)).astype(dtype)
        states.append([p.copy(), np.zeros_like(p), np.zeros_like(p), np.zeros_like(p) if amsgrad else None])
    states[1] = [a.copy() if a is not None else None for a in states[0]]
    for step in range(1, 6):
        grad = rng.standard_normal((9, 7)).astype(dtype).T if step % 2 else rng.standard_normal((7, 9)).astype(dtype)
        args = (0.9, 0.99, 1e-2 / (1 - 0.9 ** step), np.sqrt(1 - 0.99 ** step), 1e-8)
        cpu.adam_update(*states[0][:1], grad, *states[0][1:], *args)
        reference.adam_update(*states[1][:1], grad, *states[1][1:], *args)
        for name, a, b in zip(("p", "m", "v", "v_max"), states[0], states[1]):
            if a is not None:
                np.testing.assert_allclose(a, b, rtol=1e-6 if dtype == np.float32 else 1e-14, err_msg=name)


@needs_cpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_add_multiply_channel_sum_match_reference(dtype, monkeypatch):
    """Same-shape and per-channel operands (in either order) take the Numba path; anything else NumPy's."""
    cpu = kernels.cpu
    monkeypatch.setattr(cpu, "_ELEMENTWISE_MIN", 0)
    rng = np.random.default_rng(3)
    r = lambda *s: rng.standard_normal(s).astype(dtype)  # noqa: E731
    x = r(4, 5, 3, 2)
    operands = [(x, r(4, 5, 3, 2)), (x, r(1, 5, 1, 1)), (r(5, 1, 1), x), (x, r(5, 1, 1)), (r(6, 5), r(5)),
                (x, r(3, 2)), (x, r(1, 1, 1, 1)), (x, x[:, :, ::-1]), (x, r(4, 5, 3, 2).astype(np.float16)),
                (x, np.float64(2.5))]
    for a, b in operands:
        for fast, slow in ((cpu.add, reference.add), (cpu.multiply, reference.multiply)):
            got, want = fast(a, b), slow(a, b)
            assert got.shape == want.shape and got.dtype == want.dtype, (np.shape(a), np.shape(b))
            np.testing.assert_allclose(got, want, **tol(dtype))
    for y in (x, r(6, 5), x[:, :, :1]):
        got = cpu.channel_sum(y)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, reference.channel_sum(y), **tol(dtype))
    with pytest.raises(ValueError):
        cpu.add(x, r(3, 5))


@needs_cpu
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_kernels_work_in_a_forked_child():
    """After a parallel region in the parent, a forked child (multiprocessing's default on Linux) must not
    enter GNU OpenMP again (the child would be killed): kernels.cpu runs serially there, with the same
    results up to float32 rounding (the serial and parallel Winograd products block their rows differently;
    1e-5 of each output's scale, as in test_winograd_matches_reference)."""
    code = (
        "import os, numpy as np, kernels.cpu as c\n"
        "rng = np.random.default_rng(0)\n"
        "x = rng.standard_normal((64, 64, 14, 14)).astype(np.float32)\n"
        "W = rng.standard_normal((128, 64, 4, 4)).astype(np.float32)\n"
        "def work():\n"
        "    y = c.conv2d(x, W, 2, 1)\n"
        "    return [y, c.conv_transpose2d(y, W, 2, 1), c.conv2d_weight(x, y, 4, 2, 1), c.leaky_relu(x, 0.2),\n"
        "            c.batch_norm_forward(x, 1e-5)[0], c.matmul(x.reshape(-1, 196), x.reshape(-1, 196).T[:, :512])]\n"
        "parent = work()\n"
        "r, w = os.pipe()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    ok = all(np.allclose(a, b, rtol=1e-4, atol=1e-5 * np.abs(b).max()) for a, b in zip(work(), parent))\n"
        "    os.write(w, b'same' if ok else b'different')\n"
        "    os._exit(0)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "print(os.read(r, 100).decode(), status)\n")
    try:         # the failure mode is a child that hangs or dies inside GNU OpenMP: bound the wait
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180,
                             cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    except subprocess.TimeoutExpired:
        pytest.fail("the forked child hung (it entered the parent's OpenMP pool)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["same", "0"], (out.stdout, out.stderr)


# ---------------------------------------------------------------- Winograd F(4x4, 2x2) (kernels/winograd.py)

def _correlate_1d(g, d, m):
    return np.array([sum(g[k] * d[i + k] for k in range(len(g))) for i in range(m)])


@needs_cpu
@pytest.mark.parametrize("m, r, points", [(4, 2, (0, 1, -1, 2)), (2, 2, (0, 1)), (2, 3, (0, 1, -1)), (4, 3, (0, 1, -1, 2, -2))])
def test_winograd_transform_matrices_compute_the_correlation(m, r, points):
    """A^T [(G g) (.) (B^T d)] is the correlation y_i = sum_k g_k d_{i+k}, for Toom-Cook matrices at any points."""
    from kernels import winograd
    AT, G, BT = winograd.transform_matrices(m, r, points)
    rng = np.random.default_rng(0)
    for _ in range(5):
        g, d = rng.standard_normal(r), rng.standard_normal(m + r - 1)
        np.testing.assert_allclose(AT @ ((G @ g) * (BT @ d)), _correlate_1d(g, d, m), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="needs"):
        winograd.transform_matrices(m, r, points[:-1])


@needs_cpu
def test_winograd_f4x4_2x2_matrices_are_the_documented_ones():
    """The matrices that _input_rows/_output_rows spell out: integer B^T, and still a correct F(4, 2)."""
    from kernels import winograd
    AT, G, BT = winograd.f4x4_2x2_matrices()
    np.testing.assert_array_equal(BT, [[2, -1, -2, 1, 0], [0, 2, 1, -1, 0], [0, -2, 3, -1, 0], [0, -1, 0, 1, 0],
                                       [0, 2, -1, -2, 1]])
    np.testing.assert_array_equal(AT, [[1, 1, 1, 1, 0], [0, 1, -1, 2, 0], [0, 1, 1, 4, 0], [0, 1, -1, 8, 1]])
    g, d = np.array([0.3, -1.7]), np.arange(5.0) ** 2 - 3
    np.testing.assert_allclose(AT @ ((G @ g) * (BT @ d)), _correlate_1d(g, d, 4), rtol=1e-12)


# (N, C, O, H, W, k, s, p, output_padding): kernels twice the stride, which kernels/winograd.py serves
WINOGRAD_CASES = [
    (2, 16, 32, 14, 14, 4, 2, 1, 0),      # a DCGAN 4x4 stride-2 layer, scaled down
    (1, 3, 5, 9, 7, 4, 2, 0, 1),          # batch 1, odd rectangular image, output_padding
    (3, 4, 6, 8, 8, 2, 1, 0, 0),          # k2 s1
    (2, 5, 3, 11, 10, 6, 3, 2, 2),        # k6 s3
    (2, 3, 4, 7, 9, 4, 2, 3, 1),          # padding beyond half the kernel
    (1, 2, 2, 2, 3, 4, 2, 1, 0),          # an image smaller than one tile
    (2, 3, 2, 40, 36, 4, 2, 1, 0),        # many tiles per sample (more than a chunk holds)
    (2, 3, 4, 16, 16, 4, 2, 1, 0),        # conv_transpose2d to 32 x 32: 17 x 17 cells, the last row and column as edges
    (1, 2, 3, 8, 7, 4, 2, 1, 1),          # conv_transpose2d to 17 x 15: 9 x 8 cells, the last row as an edge
]
WINOGRAD_IDS = ["N{}C{}O{}_{}x{}_k{}s{}p{}op{}".format(*c) for c in WINOGRAD_CASES]


def _force_winograd(monkeypatch, threads):
    from kernels import winograd
    calls = []
    run, weight_gradient = winograd._run, winograd.conv2d_weight
    monkeypatch.setattr(kernels.cpu, "_WINOGRAD_MIN_CHANNELS", 1)
    monkeypatch.setattr(kernels.cpu, "_WINOGRAD_MIN_MACS", 0)
    monkeypatch.setattr(winograd, "weight_gradient_pays", lambda *args: True)   # (its own test is below)
    monkeypatch.setattr(winograd, "_PARALLEL_MIN_MACS", SERIAL if threads == "serial" else PARALLEL)
    for name in ("_TILES_PER_CHUNK", "_GRADIENT_TILES_PER_CHUNK"):
        if threads == "parallel-chunk1":
            monkeypatch.setattr(winograd, name, 1)
        if threads == "serial-chunk3":          # chunks that end inside a sample and hold parts of two
            monkeypatch.setattr(winograd, name, 3)
    monkeypatch.setattr(winograd, "_run", lambda *args: calls.append("run") or run(*args))
    monkeypatch.setattr(winograd, "conv2d_weight", lambda *args: calls.append("gW") or weight_gradient(*args))
    return calls


@needs_cpu
def test_winograd_weight_gradient_only_where_its_sums_stay_in_cache():
    """The Winograd weight gradient keeps 25 (O, K) sums per worker: it serves the MNIST DCGAN's 64->128 layer
    (3.3 MB of sums, 128 tiles per worker) but not a 256->512 layer on 8 x 8 (52 MB, measured 4.3x slower than
    im2col) nor a batch too small to fill one chunk of tiles per worker."""
    from kernels import winograd
    assert winograd.weight_gradient_pays(64, 64, 128, 7, 7, 2, 4, 2)
    assert not winograd.weight_gradient_pays(16, 256, 512, 4, 4, 2, 4, 2)
    assert not winograd.weight_gradient_pays(4, 64, 128, 7, 7, 2, 4, 2)         # 8 tiles per worker
    assert not winograd.weight_gradient_pays(4, 64, 128, 7, 7, 2, 4, 1)         # 16 tiles on one worker
    assert winograd.weight_gradient_pays(8, 64, 128, 7, 7, 2, 4, 1)             # 32


@needs_cpu
@pytest.mark.skipif(not importlib.util.find_spec("scipy_openblas32"), reason="the Winograd path needs the private BLAS")
def test_winograd_computes_the_last_cell_row_of_a_4q_plus_1_grid_as_an_edge(monkeypatch):
    """conv_transpose2d's output grid of 4q + 1 cells (16 -> 32 with padding 1: 17) runs 4q cells through the tiles
    and the last row / column through _edge_lines (8 -> 16: 9 cells); other grids (7 -> 14: 8 cells) have no
    edges; the result is the reference's."""
    from kernels import winograd
    _force_winograd(monkeypatch, "parallel")
    edges = []
    edge_lines = winograd._edge_lines
    monkeypatch.setattr(winograd, "_edge_lines", lambda *a, **k: edges.append(k["along_rows"]) or edge_lines(*a, **k))
    rng = np.random.default_rng(11)
    W = rng.standard_normal((5, 3, 4, 4))
    for H, Wd, op, expected in [(16, 16, 0, [True, False]), (8, 7, 1, [True]), (8, 8, 0, [True, False]), (7, 7, 0, []), (6, 7, 0, [])]:
        edges.clear()
        x = rng.standard_normal((2, 5, H, Wd))
        got = kernels.cpu.conv_transpose2d(x, W, 2, 1, op)
        assert edges == expected, (H, Wd, op)
        np.testing.assert_allclose(got, reference.conv_transpose2d(x, W, 2, 1, op), rtol=0, atol=1e-12)


@needs_cpu
@pytest.mark.skipif(not importlib.util.find_spec("scipy_openblas32"), reason="the Winograd path needs the private BLAS")
@pytest.mark.parametrize("threads", ["serial", "parallel", "parallel-chunk1", "serial-chunk3"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", WINOGRAD_CASES, ids=WINOGRAD_IDS)
def test_winograd_matches_reference(case, dtype, threads, monkeypatch):
    """conv2d, conv_transpose2d and conv2d_weight by F(4x4, 2x2) against the reference: to rounding in float64,
    and in float32 within 1e-5 of the output's scale (Winograd's transforms cost about one decimal digit over
    im2col)."""
    calls = _force_winograd(monkeypatch, threads)
    N, C, O, H, W_, k, s, p, op = case
    rng = np.random.default_rng(7)
    x = rng.standard_normal((N, C, H, W_)).astype(dtype)
    W = rng.standard_normal((O, C, k, k)).astype(dtype)
    Wt = rng.standard_normal((C, O, k, k)).astype(dtype)
    gy = rng.standard_normal((N, O) + reference.conv2d(x, W, s, p).shape[2:]).astype(dtype)
    pairs = [(kernels.cpu.conv2d(x, W, s, p), reference.conv2d(x, W, s, p)),
             (kernels.cpu.conv_transpose2d(x, Wt, s, p, op), reference.conv_transpose2d(x, Wt, s, p, op)),
             (kernels.cpu.conv2d_weight(x, gy, k, s, p), reference.conv2d_weight(x, gy, k, s, p))]
    assert calls == ["run", "run", "gW"]                # all three went through kernels/winograd.py
    for name, (got, want) in zip(("conv2d", "conv_transpose2d", "conv2d_weight"), pairs):
        assert got.shape == want.shape and got.dtype == want.dtype == dtype and got.flags.c_contiguous, name
        scale = np.abs(want).max()
        atol = 1e-5 * scale if dtype == np.float32 else 1e-12 * scale
        np.testing.assert_allclose(got, want, rtol=0, atol=atol, err_msg=name)


@needs_cpu
@pytest.mark.skipif(not importlib.util.find_spec("scipy_openblas32"), reason="the Winograd path needs the private BLAS")
@pytest.mark.parametrize("case", WINOGRAD_CASES, ids=WINOGRAD_IDS)
def test_winograd_adjoint_identity_and_gradcheck(case, monkeypatch):
    """<conv2d(x, W), y> = <x, conv_transpose2d(y, W)> with both sides by Winograd, and the engine's gradcheck and
    gradgradcheck of a conv layer whose forward and input gradient take the Winograd path."""
    import minigan as mg
    calls = _force_winograd(monkeypatch, "parallel")
    N, C, O, H, W_, k, s, p, _ = case
    rng = np.random.default_rng(8)
    x, W = rng.standard_normal((N, C, H, W_)), rng.standard_normal((O, C, k, k))
    y = kernels.cpu.conv2d(x, W, s, p)
    gy = rng.standard_normal(y.shape)
    op = tuple(n - reference.conv_transpose_output_size(m, k, s, p, 0, 1) for n, m in zip((H, W_), y.shape[2:]))
    np.testing.assert_allclose(np.vdot(x, kernels.cpu.conv_transpose2d(gy, W, s, p, op)), np.vdot(y, gy), rtol=1e-10)
    # <conv2d(x, W), gy> is linear in W too: = <W, conv2d_weight(x, gy)>
    np.testing.assert_allclose(np.vdot(W, kernels.cpu.conv2d_weight(x, gy, k, s, p)), np.vdot(y, gy), rtol=1e-10)
    assert calls == ["run", "run", "gW"]
    if C * O > 64:
        return                                          # the numerical checks below are for the small cases
    tensors = [mg.tensor(x[:1], dtype="float64", requires_grad=True), mg.tensor(W, dtype="float64", requires_grad=True)]
    conv = lambda a, w: mg.functional.conv2d(a, w, stride=s, padding=p)   # noqa: E731
    assert mg.gradcheck(conv, tensors) and mg.gradgradcheck(conv, tensors)


@needs_cpu
def test_winograd_choice_is_visible_and_can_be_switched_off():
    """kernels.info() says whether Winograd serves the large layers; MINIGAN_WINOGRAD=0 (fresh process) turns it off."""
    info = kernels.info()
    if kernels.cpu._FUSED:
        assert info["winograd"].startswith("F(4x4, 2x2)") and str(kernels.cpu._WINOGRAD_MIN_CHANNELS) in info["winograd"]
        assert kernels.cpu._winograd_pays(64, 128, 411_041_792) and not kernels.cpu._winograd_pays(16, 16, 1 << 40)
    code = ("import kernels, kernels.cpu as c\n"
            "assert kernels.info()['winograd'].startswith('off'), kernels.info()['winograd']\n"
            "assert not c._winograd_pays(128, 128, 1 << 40)\n"
            "print('off')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, MINIGAN_WINOGRAD="0"),
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.returncode == 0 and out.stdout.split() == ["off"], out.stderr


# ---------------------------------------------------------------- worker dispatch (kernels/loops.py)

def _strided_fill_worker():
    from numba import njit

    @njit(cache=False)
    def fill(w, n_workers, a, out, scale):
        """out[i] = a[i] * scale + w for the indices i = w, w + n_workers, ... (each worker marks its own)."""
        for i in range(w, a.size, n_workers):
            out[i] = a[i] * scale + w
    return fill


@needs_cpu
def test_run_workers_runs_every_worker_once_per_signature():
    """run_workers(worker, n, args) calls worker(w, n, *args) for every w < n on the Numba threads (through a
    function pointer, one per worker and argument types): each index is written by the worker that owns it,
    float32 and float64 and a read-only input each get their own compiled signature, and n = 1 runs worker 0."""
    from kernels import loops
    fill = _strided_fill_worker()
    a64 = np.arange(11.0)
    read_only = a64.copy()
    read_only.setflags(write=False)
    for n_workers in (1, 2, 3):
        for a in (a64, a64.astype(np.float32), read_only):
            out = np.full(a.shape, -1.0, dtype=a.dtype)
            loops.run_workers(fill, n_workers, (a, out, a.dtype.type(2.0)))
            np.testing.assert_array_equal(out, a * 2 + np.arange(a.size) % n_workers)
    keys = [key for key in loops._POINTERS if key[0] is fill]
    assert len(keys) == 3                               # float64, float32, read-only float64
    assert {key[1][0] for key in keys} == {np.dtype(np.float64), np.dtype(np.float32)}


@needs_cpu
def test_a_worker_whose_compile_lock_is_held_is_skipped_by_a_non_blocking_compile():
    """compile_worker takes the worker's lock file: while someone else holds it, the helper's non-blocking
    call compiles nothing and returns None; once it is free, the worker compiles (and the lock is released
    again, so a blocking call does not hang)."""
    from kernels import loops
    fill = _strided_fill_worker()
    args = (np.arange(4.0), np.zeros(4), 2.0)
    held = loops._acquire(fill, True)
    try:
        assert loops.compile_worker(fill, args, blocking=False) is None
        assert not fill.overloads
    finally:
        loops._release(held)
    pointer = loops.compile_worker(fill, args, blocking=True)
    assert pointer is not None and len(fill.overloads) == 1
    assert loops.compile_driver(pointer, args, blocking=True) and pointer.parallel is not None


_STEP_KERNELS = """
import numpy as np
import kernels.cpu as cpu
from kernels import loops, precompile
f32 = np.float32
rng = np.random.default_rng(0)
def a(*shape):
    return rng.standard_normal(shape).astype(f32)
# The kernel calls of a DCGAN step on MNIST (batch 64), and two channels-last layers (16 channels, k3)
x1, x64, h128, g64 = a(64, 1, 28, 28), a(64, 64, 14, 14), a(64, 128, 7, 7), a(64, 64, 14, 14)
cpu.matmul(a(64, 100), a(100, 6272))
cpu.conv2d(x1, a(64, 1, 4, 4), 2, 1); cpu.conv2d(x64, a(128, 64, 4, 4), 2, 1)
cpu.conv_transpose2d(h128, a(128, 64, 4, 4), 2, 1); cpu.conv_transpose2d(g64, a(64, 1, 4, 4), 2, 1)
cpu.conv2d_weight(x1, g64, 4, 2, 1); cpu.conv2d_weight(x64, h128, 4, 2, 1)
y, mean, var, inv = cpu.batch_norm_forward(h128, 1e-5, a(128), a(128))
cpu.batch_norm_affine_backward(h128, h128, mean, inv, a(128)); cpu.channel_sum(h128)
cpu.leaky_relu_backward(g64, cpu.leaky_relu(x64, 0.2), 0.2)
p = a(100000); cpu.adam_update(p, a(100000), np.zeros_like(p), np.zeros_like(p), None, 0.5, 0.999, 1e-4, 0.9, 1e-8)
x16 = a(8, 16, 12, 12)
cpu.conv2d(x16, a(16, 16, 3, 3), 1, 1); cpu.conv_transpose2d(x16, a(16, 16, 3, 3), 1, 1)
cpu.conv2d_weight(x16, x16, 3, 1, 1)
compiled = [w.__name__ for w in [w for w, _ in precompile.helper_workers()] + [loops._run_parallel]
            if sum(w.stats.cache_misses.values())]
used = [w.__name__ for w, _ in precompile.helper_workers() if w.overloads]
print(len(used), len(precompile.missing_from_cache()), compiled)
"""


@needs_cpu
@pytest.mark.skipif(not importlib.util.find_spec("scipy_openblas32"), reason="the helper needs the private BLAS")
def test_the_precompile_helper_leaves_nothing_for_a_training_step_to_compile(tmp_path):
    """kernels/precompile.py's helper, run alone on an empty Numba cache, compiles every worker of its list
    and the parallel driver of both argument lists; then a fresh process that makes a DCGAN step's kernel
    calls (and a channels-last layer's three calls) uses all thirteen workers and compiles none of them, nor the driver:
    the helper's float32 signatures are exactly the ones training uses.  (MINIGAN_PRECOMPILE=0 in both
    processes, so that no second helper runs.)"""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), MINIGAN_PRECOMPILE="0")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    missing = subprocess.run([sys.executable, "-c", "from kernels import cpu, precompile; "
                              "print(len(precompile.missing_from_cache()))"], env=env, cwd=root,
                             capture_output=True, text=True, timeout=120, check=True).stdout
    assert missing.strip() == "13"                     # an empty cache: the helper's whole list
    done = subprocess.run([sys.executable, "-m", "kernels.precompile"], env=env, cwd=root, capture_output=True,
                          text=True, timeout=600, check=True).stdout.splitlines()
    assert len(done) == 13 + 2, done                   # thirteen workers, the driver for each argument list
    out = subprocess.run([sys.executable, "-c", _STEP_KERNELS], env=env, cwd=root, capture_output=True, text=True,
                         timeout=300, check=True).stdout.strip().split(maxsplit=2)
    assert out == ["13", "0", "[]"]


@needs_cpu
def test_the_precompile_helper_starts_only_when_asked_and_useful(monkeypatch):
    """start_if_cold starts nothing when $MINIGAN_PRECOMPILE is 0, nor when no worker is missing from the
    cache (a warm cache); kernels.info() says which."""
    from kernels import precompile
    started = []
    monkeypatch.setattr(precompile.subprocess, "Popen", lambda *a, **k: started.append(a))
    monkeypatch.setattr(precompile, "_HELPER", None)
    monkeypatch.setattr(precompile, "_DECISION", precompile._DECISION)       # restored afterwards
    monkeypatch.setenv("MINIGAN_PRECOMPILE", "0")
    assert precompile.start_if_cold() is False
    assert kernels.info()["compile_helper"] == "off ($MINIGAN_PRECOMPILE=0)"
    monkeypatch.setenv("MINIGAN_PRECOMPILE", "1")
    monkeypatch.setattr(precompile, "_reason_not_to_start", lambda: None)  # as on a 2-CPU machine with the BLAS
    monkeypatch.setattr(precompile, "missing_from_cache", lambda: [])
    assert precompile.start_if_cold() is False
    assert precompile.describe().startswith("not needed")
    assert started == []


@needs_cpu
@pytest.mark.skipif(not importlib.util.find_spec("scipy_openblas32"), reason="the Winograd path needs the private BLAS")
def test_winograd_reuses_transformed_weights_only_while_they_are_unchanged(monkeypatch):
    """A layer called again with the same weights reuses their transform (a cache hit); weights changed in
    place, as an optimizer does, are transformed again (the output follows the new weights); the cache holds
    at most `capacity` entries and `max_bytes`."""
    from kernels import winograd
    _force_winograd(monkeypatch, "parallel")
    cache = winograd.TransformedWeightCache(capacity=2)
    monkeypatch.setattr(winograd, "TRANSFORMED_WEIGHTS", cache)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, 8, 8))
    W = rng.standard_normal((4, 3, 4, 4))
    first = kernels.cpu.conv2d(x, W, 2, 1)
    np.testing.assert_array_equal(kernels.cpu.conv2d(x, W, 2, 1), first)
    assert (cache.hits, cache.misses) == (1, 1)
    W *= -0.5                                            # an in-place update at the same address
    np.testing.assert_allclose(kernels.cpu.conv2d(x, W, 2, 1), reference.conv2d(x, W, 2, 1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(kernels.cpu.conv2d(x, W, 2, 1), -0.5 * first, rtol=0, atol=1e-12)
    assert (cache.hits, cache.misses) == (2, 2)
    kernels.cpu.conv_transpose2d(x, rng.standard_normal((3, 4, 4, 4)), 2, 1)
    kernels.cpu.conv_transpose2d(x, rng.standard_normal((3, 5, 4, 4)), 2, 1)
    assert len(cache._entries) == 2 and cache.misses == 4
    assert cache._bytes == sum(w.nbytes + u.nbytes for w, u in cache._entries.values())
    small = winograd.TransformedWeightCache(max_bytes=W.nbytes)    # no room for W and its U: nothing is kept
    small.get(W, 2, False, 1)
    assert small._entries == {} and small._bytes == 0


@needs_cpu
@needs_torch
def test_batch_norm_layer_on_the_numba_path_matches_torch(monkeypatch):
    """A training-mode batch norm with weight and bias (one primitive, BatchNormAffine) on arrays large enough
    for the Numba kernels: y and the gradients of x, weight and bias against torch.nn.functional.batch_norm."""
    import torch
    import minigan as mg
    ops = []
    job = kernels.cpu._channel_job
    monkeypatch.setattr(kernels.cpu, "_channel_job", lambda op, *args: ops.append(op) or job(op, *args))
    rng = np.random.default_rng(12)
    x = rng.standard_normal((8, 16, 16, 16)) * 2 + 1
    w, b, gy = rng.standard_normal(16), rng.standard_normal(16), rng.standard_normal((8, 16, 16, 16))
    xs = [mg.tensor(a, dtype="float32", requires_grad=True) for a in (x, w, b)]
    y = mg.functional.batch_norm(xs[0], None, None, xs[1], xs[2], training=True)
    y.backward(mg.tensor(gy, dtype="float32"))
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, w, b)]
    yt = torch.nn.functional.batch_norm(ts[0], None, None, ts[1], ts[2], training=True)
    yt.backward(torch.tensor(gy))
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-4)
    for name, mine, theirs in zip(("x", "weight", "bias"), xs, ts):
        scale = np.abs(theirs.grad.numpy()).max()
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=0, atol=1e-5 * scale, err_msg=name)
    assert ops == [kernels.cpu._BATCH_NORM_FORWARD, kernels.cpu._BATCH_NORM_AFFINE_BACKWARD]   # one pass each way


# ---------------------------------------------------------------- malloc set-up (kernels/allocator.py)

_FAULTS_PROGRAM = """
import resource, numpy as np, kernels, kernels.cpu
def round_of_arrays():                       # a training step's pattern: 20 live 1 MiB arrays, then all freed
    arrays = [np.ones(1 << 18, np.float32) for _ in range(20)]
    del arrays
round_of_arrays()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(9):
    round_of_arrays()
print(kernels.info()["allocator"])
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@needs_cpu
@pytest.mark.skipif(sys.platform != "linux" or __import__("platform").libc_ver()[0] != "glibc", reason="glibc only")
def test_malloc_tuning_keeps_freed_arrays_for_reuse():
    """With kernels.cpu imported, freed megabyte arrays are reused without page faults (glibc tuned by
    kernels/allocator.py); with MINIGAN_MALLOC_TUNING=0 glibc's defaults unmap or trim them and every round
    faults its ~5 000 pages in again.  Each in a fresh process; the info line says which."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as thp:
            if "[always]" in thp.read():
                pytest.skip("transparent huge pages are 'always' here: 2 MiB pages back the heap, so page-fault counts "
                            "cannot tell the malloc settings apart")
    except OSError:
        pass

    def run(**env):
        out = subprocess.run([sys.executable, "-c", _FAULTS_PROGRAM], capture_output=True, text=True, check=True,
                             env=dict(os.environ, **env), cwd=os.path.dirname(os.path.dirname(__file__)))
        description, faults = out.stdout.strip().splitlines()
        return description, int(faults)
    tuned, default = run(), run(MINIGAN_MALLOC_TUNING="0")
    assert tuned[0].startswith("glibc malloc tuned") and "refused" not in tuned[0], tuned[0]
    assert default[0] == "glibc defaults (MINIGAN_MALLOC_TUNING=0)"
    assert default[1] > 9 * 20 * 256 // 2, default          # at least half the pages of every round
    assert tuned[1] < default[1] // 20, (tuned, default)
