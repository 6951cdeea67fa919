"""The three convolutions (kernels/conv.py and the im2col, fused and product modules under it):
kernels.reference against PyTorch (an independent reference), kernels.cpu against kernels.reference in every
layout and threading mode, the adjoint identity, dtypes, non-contiguous inputs and bad arguments.
(Winograd's path: tests/test_kernels_winograd.py.)"""

import numpy as np
import pytest

from minigan_kernels import reference
from kernels_common import (
    GRID,
    IDS,
    LAYOUTS,
    TF,
    TG,
    force_layout,
    kernel_module,
    kernel_modules,
    needs_cpu,
    needs_torch,
    rng_arrays,
    tol,
    torch,
)
from kernels_common import cpu as kernel_cpu


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
    op = tuple(
        n - reference.conv_transpose_output_size(m, kk, ss, pp, 0, dd)
        for n, m, kk, ss, pp, dd in zip((H, W_), gy.shape[2:], k, s, p, d)
    )
    np.testing.assert_allclose(reference.conv_transpose2d(gy, W, s, p, op, d), xt.grad.numpy(), rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------- kernels.cpu against the reference, every layout


@needs_cpu
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", GRID, ids=IDS)
def test_cpu_matches_reference(case, dtype, layout, monkeypatch):
    """kernels.cpu (Numba + BLAS) against kernels.reference, all three operations, every layout and threading mode."""
    cpu = kernel_cpu()
    force_layout(monkeypatch, layout)
    N, C, O, H, W_, k, s, p, d, op = case
    x, W, Wt, gy = rng_arrays(case, dtype, seed=3)
    pairs = [
        (cpu.conv2d(x, W, s, p, d), reference.conv2d(x, W, s, p, d)),
        (cpu.conv_transpose2d(x, Wt, s, p, op, d), reference.conv_transpose2d(x, Wt, s, p, op, d)),
        (cpu.conv2d_weight(x, gy, k, s, p, d), reference.conv2d_weight(x, gy, k, s, p, d)),
    ]
    for name, (got, want) in zip(("conv2d", "conv_transpose2d", "conv2d_weight"), pairs):
        assert got.shape == want.shape and got.dtype == want.dtype == dtype, name
        assert got.flags.c_contiguous, name
        np.testing.assert_allclose(got, want, err_msg=name, **tol(dtype))


@needs_cpu
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_cpu_large_output_padding_and_smaller_gy(layout, monkeypatch):
    """Edge cases of the index arithmetic: output_padding beyond the last tap; gy smaller than the formula."""
    force_layout(monkeypatch, layout)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 5, 6))
    Wt = rng.standard_normal((3, 2, 3, 3))
    for op in [(0, 0), (1, 2), (3, 3)]:
        np.testing.assert_allclose(
            kernel_cpu().conv_transpose2d(x, Wt, (2, 2), (1, 0), op, (1, 1)),
            reference.conv_transpose2d(x, Wt, (2, 2), (1, 0), op, (1, 1)),
            rtol=1e-12,
        )
    gy = rng.standard_normal((2, 4, 2, 3))  # conv2d's output would be (3, 4)
    np.testing.assert_allclose(
        kernel_cpu().conv2d_weight(x, gy, (2, 2), (1, 1)), reference.conv2d_weight(x, gy, (2, 2), (1, 1)), rtol=1e-12
    )


@pytest.mark.parametrize("modname", kernel_modules())
@pytest.mark.parametrize("case", GRID, ids=IDS)
def test_adjoint_identity(modname, case):
    """<conv2d(x, W), y> = <x, conv_transpose2d(y, W)>  and  <conv2d(x, W), y> = <W, conv2d_weight(x, y)>."""
    mod = kernel_module(modname)
    N, C, O, H, W_, k, s, p, d, _ = case
    x, W, _, gy = rng_arrays(case, np.float64, seed=1)
    lhs = np.vdot(mod.conv2d(x, W, s, p, d), gy)
    op = tuple(
        n - reference.conv_transpose_output_size(m, kk, ss, pp, 0, dd)
        for n, m, kk, ss, pp, dd in zip((H, W_), gy.shape[2:], k, s, p, d)
    )
    gx = mod.conv_transpose2d(gy, W, s, p, op, d)
    assert gx.shape == x.shape
    np.testing.assert_allclose(np.vdot(x, gx), lhs, rtol=1e-10)
    np.testing.assert_allclose(np.vdot(W, mod.conv2d_weight(x, gy, k, s, p, d)), lhs, rtol=1e-10)


@pytest.mark.parametrize("modname", kernel_modules())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_dtype_contiguity_and_noncontiguous_inputs(modname, dtype, layout, monkeypatch):
    """Same dtype out as in, C-contiguous outputs, and non-contiguous inputs give the contiguous answer."""
    mod = kernel_module(modname)
    if modname == "cpu":  # kernels.cpu: both of its layouts
        force_layout(monkeypatch, layout)
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

    outs = [
        (mod.conv2d, (x, W, s, p, d)),
        (mod.conv_transpose2d, (x, Wt, s, p, op, d)),
        (mod.conv2d_weight, (x, gy, k, s, p, d)),
    ]
    for f, args in outs:
        want = f(*args)
        assert want.dtype == dtype and want.flags.c_contiguous, f.__name__
        got = f(*[strided(a) if isinstance(a, np.ndarray) else a for a in args])
        assert got.dtype == dtype and got.flags.c_contiguous, f.__name__
        np.testing.assert_allclose(
            got, want, rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-6, err_msg=f.__name__
        )


@pytest.mark.parametrize("modname", kernel_modules())
def test_bad_arguments_raise(modname):
    mod = kernel_module(modname)
    x = np.zeros((1, 2, 3, 3))
    with pytest.raises(ValueError):
        mod.conv2d(x, np.zeros((4, 3, 2, 2)))  # channel mismatch
    with pytest.raises(ValueError):
        mod.conv2d(x, np.zeros((4, 2, 5, 5)))  # empty output
    with pytest.raises(ValueError):
        mod.conv_transpose2d(x, np.zeros((3, 4, 2, 2)))  # channel mismatch (W is (C_in, C_out, kh, kw))
