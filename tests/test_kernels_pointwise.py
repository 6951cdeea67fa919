"""The pointwise kernels (kernels/pointwise.py): leaky ReLU and its backward, add and multiply (same shape
and per-channel), against kernels.reference (the spec), and the inputs they leave to the reference."""

import numpy as np
import pytest

from minigan_kernels import reference
from kernels_common import needs_cpu, tol
from kernels_common import cpu as kernel_cpu

ELEMENTWISE_SHAPES = [(2, 3), (4, 5, 6), (3, 4, 5, 7), (1, 1, 1, 1)]


@needs_cpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", ELEMENTWISE_SHAPES, ids=str)
def test_cpu_leaky_relu_kernels_match_reference(shape, dtype, monkeypatch):
    """Numba leaky ReLU and its backward against the array code of kernels.reference (the spec), forced onto
    the Numba path even for small arrays: equal to the last bit (the slope rounded to the arrays' dtype, as
    NumPy rounds it)."""
    cpu = kernel_cpu()
    monkeypatch.setattr("minigan_kernels.pointwise.ELEMENTWISE_MIN", 0)
    rng = np.random.default_rng(11)
    x = (rng.standard_normal(shape) * 3 + 0.5).astype(dtype)
    x.reshape(-1)[0] = 0.0  # the kink: x = 0 takes the slope side
    for slope in (0.0, 0.2, 1.5):
        np.testing.assert_array_equal(cpu.leaky_relu(x, slope), reference.leaky_relu(x, slope))
        gy = np.random.default_rng(5).standard_normal(shape).astype(dtype)
        np.testing.assert_array_equal(
            cpu.leaky_relu_backward(gy, x, slope), reference.leaky_relu_backward(gy, x, slope)
        )


@needs_cpu
def test_cpu_leaky_relu_leaves_odd_inputs_to_the_reference(monkeypatch):
    """Non-contiguous, integer, or float16 inputs give the reference's answer (the fallback is taken)."""
    cpu = kernel_cpu()
    monkeypatch.setattr("minigan_kernels.pointwise.ELEMENTWISE_MIN", 0)
    x = np.random.default_rng(1).standard_normal((6, 8))
    for a in (x[:, ::2], x.T, x.astype(np.float16), np.arange(-3, 3)):
        np.testing.assert_array_equal(cpu.leaky_relu(a, 0.1), reference.leaky_relu(a, 0.1))


@needs_cpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_add_multiply_match_reference(dtype, monkeypatch):
    """Same-shape and per-channel operands (in either order) take the Numba path; anything else NumPy's."""
    cpu = kernel_cpu()
    monkeypatch.setattr("minigan_kernels.pointwise.ELEMENTWISE_MIN", 0)
    rng = np.random.default_rng(3)
    r = lambda *s: rng.standard_normal(s).astype(dtype)  # noqa: E731
    x = r(4, 5, 3, 2)
    operands = [
        (x, r(4, 5, 3, 2)),
        (x, r(1, 5, 1, 1)),
        (r(5, 1, 1), x),
        (x, r(5, 1, 1)),
        (r(6, 5), r(5)),
        (x, r(3, 2)),
        (x, r(1, 1, 1, 1)),
        (x, x[:, :, ::-1]),
        (x, r(4, 5, 3, 2).astype(np.float16)),
        (x, np.float64(2.5)),
    ]
    for a, b in operands:
        for fast, slow in ((cpu.add, reference.add), (cpu.multiply, reference.multiply)):
            got, want = fast(a, b), slow(a, b)
            assert got.shape == want.shape and got.dtype == want.dtype, (np.shape(a), np.shape(b))
            np.testing.assert_allclose(got, want, **tol(dtype))
    with pytest.raises(ValueError):
        cpu.add(x, r(3, 5))
