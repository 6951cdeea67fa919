"""Batch norm and the per-channel sum (kernels/batch_norm.py) against kernels.reference (the spec) and, as a
layer, against PyTorch."""

import numpy as np
import pytest

from minigan_kernels import reference
from kernels_common import HAS_NUMBA, needs_cpu, needs_torch, tol
from kernels_common import cpu as kernel_cpu

if HAS_NUMBA:
    from minigan_kernels import batch_norm

SHAPES = [(2, 3), (4, 5, 6), (3, 4, 5, 7), (1, 1, 1, 1)]


@needs_cpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_cpu_batch_norm_kernels_match_reference(shape, dtype, monkeypatch):
    """Numba batch-norm forward / backward, with and without the affine step, against the array code of
    kernels.reference, forced onto the Numba path even for small arrays."""
    cpu = kernel_cpu()
    monkeypatch.setattr("minigan_kernels.pointwise.ELEMENTWISE_MIN", 0)
    rng = np.random.default_rng(11)
    x = (rng.standard_normal(shape) * 3 + 0.5).astype(dtype)
    x.reshape(-1)[0] = 0.0
    got, want = cpu.batch_norm_forward(x, 1e-5), reference.batch_norm_forward(x, 1e-5)
    for name, g, w in zip(("x_hat", "mean", "var", "inv_std"), got, want):
        assert g.shape == w.shape and g.dtype == w.dtype == dtype, name
        np.testing.assert_allclose(g, w, err_msg=name, **tol(dtype))
    gy = rng.standard_normal(shape).astype(dtype)
    np.testing.assert_allclose(
        cpu.batch_norm_backward(gy, got[0], got[3]), reference.batch_norm_backward(gy, want[0], want[3]), **tol(dtype)
    )
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
    np.testing.assert_allclose(
        want_grads[0], reference.batch_norm_backward(gy * w.reshape(expand), want[0], want[3]), **tol(dtype)
    )
    np.testing.assert_allclose(want_grads[1], (gy * want[0]).sum(axis=axes), **tol(dtype))
    np.testing.assert_allclose(want_grads[2], gy.sum(axis=axes), **tol(dtype))
    for name, g, w_ in zip(("gx", "g_weight", "g_bias"), got_grads, want_grads):
        assert g.shape == w_.shape and g.dtype == w_.dtype == dtype, name
        np.testing.assert_allclose(g, w_, err_msg=name, **tol(dtype))


@needs_cpu
def test_cpu_batch_norm_leaves_odd_inputs_to_the_reference(monkeypatch):
    """A non-contiguous input gives the reference's answer (the fallback is taken)."""
    cpu = kernel_cpu()
    monkeypatch.setattr("minigan_kernels.pointwise.ELEMENTWISE_MIN", 0)
    x = np.random.default_rng(1).standard_normal((6, 8))
    np.testing.assert_allclose(cpu.batch_norm_forward(x.T, 1e-5)[0], reference.batch_norm_forward(x.T, 1e-5)[0])


@needs_cpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_channel_sum_matches_reference(dtype, monkeypatch):
    """The per-channel sum (a bias's gradient) of contiguous arrays and of a non-contiguous slice."""
    cpu = kernel_cpu()
    monkeypatch.setattr("minigan_kernels.pointwise.ELEMENTWISE_MIN", 0)
    rng = np.random.default_rng(3)
    r = lambda *s: rng.standard_normal(s).astype(dtype)  # noqa: E731
    x = r(4, 5, 3, 2)
    for y in (x, r(6, 5), x[:, :, :1]):
        got = cpu.channel_sum(y)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, reference.channel_sum(y), **tol(dtype))


@needs_cpu
def test_channel_stats_fields_are_rows_of_one_array():
    """ChannelStats's named fields are views of the rows of the one array the worker receives, in the order
    the worker's row constants give."""
    stats = batch_norm.ChannelStats(3, np.float32)
    names = ("mean", "var", "inv_std", "weight", "bias", "sum_a", "sum_a_xhat")
    for value, name in enumerate(names):
        getattr(stats, name)[:] = value
    assert stats.array.shape == (batch_norm.FIELDS, 3) == (len(names), 3)
    rows = [
        batch_norm.MEAN,
        batch_norm.VAR,
        batch_norm.INV_STD,
        batch_norm.WEIGHT,
        batch_norm.BIAS,
        batch_norm.SUM_A,
        batch_norm.SUM_A_XHAT,
    ]
    np.testing.assert_array_equal(stats.array[rows], np.repeat(np.arange(7.0), 3).reshape(7, 3))


@needs_cpu
@needs_torch
def test_batch_norm_layer_on_the_numba_path_matches_torch(monkeypatch):
    """A training-mode batch norm with weight and bias (one primitive, BatchNormAffine) on arrays large enough
    for the Numba kernels: y and the gradients of x, weight and bias against torch.nn.functional.batch_norm."""
    import torch
    import minigan as mg

    kernel_cpu()
    ops = []
    job = batch_norm._per_channel_job
    monkeypatch.setattr(batch_norm, "_per_channel_job", lambda op, *args, **kw: ops.append(op) or job(op, *args, **kw))
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
    assert ops == [
        batch_norm.PerChannel.BATCH_NORM_FORWARD,
        batch_norm.PerChannel.BATCH_NORM_AFFINE_BACKWARD,
    ]  # one each way
