"""kernels.cuda against kernels.reference.

Two kinds of tests:
  - under Numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1 must be set before Numba is imported, so these
    run in their own pytest process:  NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/test_kernels_cudasim.py);
    the simulator runs the device kernels in Python, so the shapes are small;
  - on a real GPU with CuPy (marked `gpu`; skipped, with the reason, when CuPy cannot allocate).
"""

import importlib
import os

import numpy as np
import pytest

from minigan_kernels import reference

SIM = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
needs_sim = pytest.mark.skipif(
    not SIM, reason="needs NUMBA_ENABLE_CUDASIM=1 in the environment (run this file in its own pytest process)"
)

# (N, C, O, H, W, (kh, kw), stride, padding, dilation, output_padding) -- small: the simulator is slow
CASES = [
    (2, 2, 3, 5, 6, (3, 3), (1, 1), (1, 1), (1, 1), (0, 0)),
    (1, 1, 2, 6, 6, (4, 4), (2, 2), (1, 1), (1, 1), (1, 1)),  # DCGAN-like, batch 1, 1 channel
    (2, 3, 1, 5, 7, (2, 3), (2, 1), (0, 2), (2, 1), (1, 0)),  # dilation, 1 output channel
    (1, 2, 2, 7, 5, (3, 2), (3, 2), (2, 0), (1, 2), (2, 1)),  # stride 3, op < stride
]


def arrays(case, dtype, seed=0):
    N, C, O, H, W_, (kh, kw), s, p, d, op = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W_)).astype(dtype)
    W = rng.standard_normal((O, C, kh, kw)).astype(dtype)
    Wt = rng.standard_normal((C, O, kh, kw)).astype(dtype)
    Ho = reference.conv_output_size(H, kh, s[0], p[0], d[0])
    Wo = reference.conv_output_size(W_, kw, s[1], p[1], d[1])
    gy = rng.standard_normal((N, O, Ho, Wo)).astype(dtype)
    return x, W, Wt, gy


def check_all(mod, case, dtype, to_dev=lambda a: a, to_host=lambda a: a):
    N, C, O, H, W_, k, s, p, d, op = case
    x, W, Wt, gy = arrays(case, dtype)
    rt = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    X, Wd, Wtd, GY = map(to_dev, (x, W, Wt, gy))
    pairs = [
        ("conv2d", mod.conv2d(X, Wd, s, p, d), reference.conv2d(x, W, s, p, d)),
        ("conv_transpose2d", mod.conv_transpose2d(X, Wtd, s, p, op, d), reference.conv_transpose2d(x, Wt, s, p, op, d)),
        ("conv2d_weight", mod.conv2d_weight(X, GY, k, s, p, d), reference.conv2d_weight(x, gy, k, s, p, d)),
    ]
    for name, got, want in pairs:
        assert got.dtype == dtype and got.flags.c_contiguous, name
        np.testing.assert_allclose(to_host(got), want, err_msg=name, **rt)


@needs_sim
@pytest.mark.cudasim
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_cuda_kernels_in_simulator(case, dtype):
    import minigan_kernels.cuda as kc

    check_all(kc, case, dtype)


@needs_sim
@pytest.mark.cudasim
def test_cuda_noncontiguous_inputs_in_simulator():
    import minigan_kernels.cuda as kc

    case = CASES[0]
    N, C, O, H, W_, k, s, p, d, op = case
    x, W, _, gy = arrays(case, np.float64)
    xs = np.asfortranarray(x)
    np.testing.assert_allclose(
        kc.conv2d(xs, W[:, :, ::-1, :].copy()[:, :, ::-1, :], s, p, d), reference.conv2d(x, W, s, p, d), rtol=1e-12
    )
    np.testing.assert_allclose(
        kc.conv2d_weight(xs, np.asfortranarray(gy), k, s, p, d), reference.conv2d_weight(x, gy, k, s, p, d), rtol=1e-12
    )


def _cupy_or_skip():
    if SIM:
        pytest.skip("real-GPU test; this process runs the CUDA simulator")
    if importlib.util.find_spec("cupy") is None:
        pytest.skip("CuPy is not installed")
    import cupy

    try:
        cupy.zeros(1)
    except Exception as e:  # no GPU / driver: CuPy imports but cannot allocate
        pytest.skip(f"CuPy cannot allocate on a GPU: {type(e).__name__}: {e}")
    return cupy


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_cuda_kernels_on_gpu(case, dtype):
    cupy = _cupy_or_skip()
    import minigan_kernels as kernels
    import minigan_kernels.cuda as kc

    assert kernels.select("cupy") is kc
    check_all(kc, case, dtype, to_dev=cupy.asarray, to_host=cupy.asnumpy)
