"""What the kernel tests (tests/test_kernels_*.py) share: the convolution cases, tolerances, skip marks, and
the switches that force kernels.cpu's code paths.  No timing in any of them: speed is measured by
bench/bench_conv.py and bench/bench_training_steps.py, as ratios to PyTorch in the same run."""

import importlib
import os

import numpy as np
import pytest

import minigan_kernels as kernels
from minigan_kernels import reference

try:
    import torch
    import torch.nn.functional as TF
    import torch.nn.grad as TG
except ImportError:  # the PyTorch cross-checks are skipped, the reference-vs-fast tests still run
    torch = TF = TG = None

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository: cwd of subprocesses

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch (test-only cross-check) is not installed")
HAS_NUMBA = importlib.util.find_spec("numba") is not None
needs_cpu = pytest.mark.skipif(not HAS_NUMBA, reason="Numba is not installed")
needs_private_blas = pytest.mark.skipif(
    not importlib.util.find_spec("scipy_openblas32"), reason="needs the private BLAS (scipy-openblas32)"
)

# (N, C, O, H, W, (kh, kw), stride, padding, dilation, output_padding)
# output_padding is used by conv_transpose2d only and must be < max(stride, dilation) for PyTorch.
GRID = [
    (2, 3, 4, 8, 8, (3, 3), (1, 1), (0, 0), (1, 1), (0, 0)),
    (1, 1, 1, 5, 5, (1, 1), (1, 1), (0, 0), (1, 1), (0, 0)),  # batch 1, 1x1 kernel
    (2, 3, 5, 9, 7, (4, 4), (2, 2), (1, 1), (1, 1), (1, 1)),  # DCGAN-like k4 s2 p1, odd sizes
    (3, 2, 3, 11, 13, (3, 2), (2, 3), (1, 2), (1, 1), (1, 2)),  # rectangular kernel, unequal strides
    (2, 4, 3, 10, 9, (3, 3), (1, 1), (2, 2), (2, 3), (1, 2)),  # dilation (op < dilation)
    (1, 3, 2, 7, 8, (2, 3), (3, 2), (0, 1), (2, 1), (2, 0)),  # stride 3 with dilation
    (2, 1, 6, 28, 28, (4, 4), (2, 2), (1, 1), (1, 1), (0, 0)),  # 1-channel input (MNIST D's first layer)
    (2, 6, 1, 14, 14, (4, 4), (2, 2), (1, 1), (1, 1), (0, 0)),  # 1-channel output (MNIST G's last layer)
    (1, 2, 2, 4, 4, (5, 5), (1, 1), (2, 2), (1, 1), (0, 0)),  # kernel larger than the image
    (2, 5, 3, 6, 5, (3, 3), (2, 2), (3, 0), (1, 1), (0, 1)),  # padding larger than half the kernel
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


def cpu():
    """kernels.cpu, set up as minigan uses it (kernels.select runs kernels/runtime.py's configure)."""
    return kernels.select("numpy", mode="numba")


def kernel_modules():
    """The kernel modules available here: the reference always, Numba CPU when Numba imports."""
    mods = [pytest.param("reference")]
    mods.append(
        pytest.param(
            "cpu",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("numba") is None or importlib.util.find_spec("minigan_kernels.cpu") is None,
                reason="Numba (or kernels.cpu) not available",
            ),
        )
    )
    return mods


def kernel_module(name):
    """kernels.reference for "reference", the set-up kernels.cpu for "cpu"."""
    return reference if name == "reference" else cpu()


# kernels.cpu has two layouts, chosen by channel count (kernels/conv.py's CHANNELS_LAST_MIN), runs its Numba
# loops and products serially or in parallel by job size (kernels/runtime.py's PARALLEL_MIN and
# FUSED_PARALLEL_MIN, kernels/products.py's MATMUL_PARALLEL_MIN), and does the channels-last layers as fused
# per-thread pipelines on the private BLAS (runtime.FUSED, in chunks of ~kernels/fused.py's CHUNK_BYTES of
# columns) or, unfused, with NumPy's BLAS: force each combination in turn.
SERIAL, PARALLEL = 1 << 62, 0
_CL, _PAR, _MM = (
    "minigan_kernels.conv.CHANNELS_LAST_MIN",
    "minigan_kernels.runtime.PARALLEL_MIN",
    "minigan_kernels.products.MATMUL_PARALLEL_MIN",
)
_FUSED, _FUSED_PAR, _CHUNK = (
    "minigan_kernels.runtime.FUSED",
    "minigan_kernels.runtime.FUSED_PARALLEL_MIN",
    "minigan_kernels.fused.CHUNK_BYTES",
)
LAYOUTS = {
    "nchw-serial": {_CL: 10**9, _PAR: SERIAL, _MM: SERIAL},
    "nchw-parallel": {_CL: 10**9, _PAR: PARALLEL, _MM: PARALLEL},
    "nchw-numpy_blas": {_CL: 10**9, _PAR: PARALLEL, _FUSED: False},
    "channels_last-serial": {_CL: 1, _PAR: SERIAL, _FUSED_PAR: SERIAL},
    "channels_last-parallel": {_CL: 1, _PAR: PARALLEL, _FUSED_PAR: PARALLEL},
    "channels_last-parallel-chunk1": {_CL: 1, _PAR: PARALLEL, _FUSED_PAR: PARALLEL, _CHUNK: 1},
    "channels_last-unfused-serial": {_CL: 1, _PAR: SERIAL, _FUSED: False},
    "channels_last-unfused-parallel": {_CL: 1, _PAR: PARALLEL, _FUSED: False},
}


def force_layout(monkeypatch, layout):
    """Switch kernels.cpu's convolutions to one of LAYOUTS (the im2col paths: Winograd is tested apart)."""
    cpu()
    monkeypatch.setattr("minigan_kernels.conv.WINOGRAD_MIN_CHANNELS", 10**9)
    for target, value in LAYOUTS[layout].items():
        monkeypatch.setattr(target, value)
