"""The Tensor API a PyTorch user reaches for, creation functions, and the backends (CPU here; the CUDA
path is tested where a GPU exists and skipped with the reason otherwise)."""

import numpy as np
import pytest

import minigan as mg
import minigan.functional as F
from minigan import backend


def test_creation_dtypes_follow_pytorch():
    assert mg.tensor([1.0, 2.0]).dtype == np.float32  # Python floats -> float32
    assert mg.tensor([1, 2]).dtype == np.int64
    assert mg.tensor(np.zeros(2)).dtype == np.float64  # NumPy arrays keep their dtype
    assert mg.tensor([1, 2], dtype="float64").dtype == np.float64
    for make in (mg.zeros, mg.ones, mg.randn, mg.rand):
        t = make(2, 3)
        assert t.shape == (2, 3) and t.dtype == np.float32 and t.device == "cpu"
    assert mg.zeros((4,)).shape == (4,)
    assert mg.zeros_like(mg.ones(2, 2, dtype="float64")).dtype == np.float64


def test_tensor_copies_its_input():
    data = np.ones(3)
    t = mg.tensor(data)
    data[0] = 5
    assert t.numpy()[0] == 1.0
    n = t.numpy()
    n[1] = 7
    assert t.numpy()[1] == 1.0  # .numpy() is a copy too


def test_methods_match_numpy():
    a = np.arange(24.0).reshape(2, 3, 4)
    t = mg.tensor(a)
    np.testing.assert_array_equal(t.sum(1).numpy(), a.sum(1))
    np.testing.assert_array_equal(t.mean(dim=(0, 2), keepdim=True).numpy(), a.mean((0, 2), keepdims=True))
    np.testing.assert_array_equal(t.max(2).numpy(), a.max(2))
    np.testing.assert_array_equal(t.min().numpy(), a.min())
    np.testing.assert_array_equal(t.reshape(4, -1).numpy(), a.reshape(4, 6))
    np.testing.assert_array_equal(t.view(-1).numpy(), a.ravel())
    np.testing.assert_array_equal(t.transpose(0, 2).numpy(), a.transpose(2, 1, 0))
    np.testing.assert_array_equal(t.reshape(6, 4).T.numpy(), a.reshape(6, 4).T)
    np.testing.assert_array_equal(t[1, :, ::2].numpy(), a[1, :, ::2])
    np.testing.assert_array_equal(t.flatten(1).numpy(), a.reshape(2, 12))
    np.testing.assert_array_equal(t.unsqueeze(1).shape, (2, 1, 3, 4))
    np.testing.assert_allclose(t.sqrt().numpy(), np.sqrt(a))
    np.testing.assert_allclose((t - 10).abs().numpy(), np.abs(a - 10))
    np.testing.assert_allclose(t.clamp(3, 9).numpy(), np.clip(a, 3, 9))
    np.testing.assert_allclose(t.std(1).numpy(), a.std(1, ddof=1))
    np.testing.assert_array_equal(t.argmax(2).numpy(), a.argmax(2))
    np.testing.assert_array_equal((t > 5).numpy(), a > 5)
    assert t[0, 0, 1].item() == 1.0 and isinstance(t[0, 0, 1].item(), float)
    assert (2 ** mg.tensor([3.0])).item() == pytest.approx(8.0)
    np.testing.assert_allclose((np.ones(4) + mg.tensor(a[0, 0])).numpy(), 1 + a[0, 0])  # ndarray + Tensor


def test_item_and_reshape_errors_are_clear():
    with pytest.raises(ValueError, match=r"one element.*\(3,\)"):
        mg.zeros(3).item()
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*\(4, -1\)"):
        mg.zeros(2, 3).reshape(4, -1)
    with pytest.raises(ValueError, match="only one dimension can be -1"):
        mg.zeros(2, 3).reshape(-1, -1)


def test_to_dtype_is_differentiable():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x.double() ** 2).sum()
    assert y.dtype == np.float64
    y.backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_manual_seed_is_deterministic_and_seeds_differ():
    mg.manual_seed(0)
    a = mg.randn(4).numpy()
    mg.manual_seed(0)
    b = mg.randn(4).numpy()
    mg.manual_seed(1)
    c = mg.randn(4).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_rng_state_round_trip():
    mg.manual_seed(3)
    state = backend.get_rng_state()
    a = mg.rand(5).numpy()
    backend.set_rng_state(state)
    np.testing.assert_array_equal(mg.rand(5).numpy(), a)


def test_device_strings():
    assert backend.parse_device("cpu") == ("cpu", 0)
    assert backend.parse_device("cuda") == ("cuda", 0)
    assert backend.parse_device("cuda:2") == ("cuda", 2)
    for bad in ("gpu", "cuda:x", "cpu:1"):
        with pytest.raises(ValueError, match="device"):
            backend.parse_device(bad)


def test_backend_info_names_the_kernel_path():
    text = mg.backend_info()
    assert "numpy" in text and ("numba" in text.lower() or "reference" in text.lower())


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"NUMBA_NUM_THREADS": "1"}, "1"),
        ({"NUMBA_NUM_THREADS": "2"}, "2"),
        ({"NUMBA_NUM_THREADS": "2", "MINIGAN_KERNELS": "reference"}, "1"),
    ],
)
def test_cpu_threads_follows_numba_and_the_kernel_path(env, expected):
    """What the demos print beside their wall time: Numba's thread count on the Numba path, 1 on the reference
    path (fresh processes: Numba's thread count is fixed at import)."""
    import os
    import subprocess
    import sys

    pytest.importorskip("numba")
    environment = {k: v for k, v in os.environ.items() if k not in ("NUMBA_NUM_THREADS", "MINIGAN_KERNELS")}
    environment.update(env)
    result = subprocess.run(
        [sys.executable, "-c", "import minigan as mg; print(mg.backend.cpu_threads())"],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )
    assert result.stdout.strip() == expected


# --- the GPU path: runs where CuPy can allocate, skipped with the reason elsewhere ----------------------


def _gpu_reason():
    try:
        import cupy
    except ImportError:
        return "CuPy is not installed (pip install 'minigan[cuda]')"
    try:
        cupy.zeros(1)
    except Exception as error:
        return f"CuPy cannot allocate on a GPU here: {type(error).__name__}"
    return None


gpu = pytest.mark.skipif(_gpu_reason() is not None, reason=_gpu_reason() or "")


@pytest.mark.gpu
@gpu
def test_gpu_ops_match_cpu_and_gradients_move_back():
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    W_np = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    x_cpu = mg.tensor(x_np, requires_grad=True)
    x_gpu = mg.tensor(x_np, device="cuda", requires_grad=True)
    W_gpu = mg.tensor(W_np, device="cuda", requires_grad=True)
    y_gpu = F.tanh(F.conv2d(x_gpu, W_gpu, padding=1)).sum()
    y_cpu = F.tanh(F.conv2d(x_cpu, mg.tensor(W_np), padding=1)).sum()
    assert x_gpu.device == "cuda:0"
    np.testing.assert_allclose(y_gpu.item(), y_cpu.item(), rtol=1e-4)
    y_gpu.backward()
    y_cpu.backward()
    np.testing.assert_allclose(x_gpu.grad.numpy(), x_cpu.grad.numpy(), rtol=1e-3, atol=1e-5)
    moved = x_cpu.to("cuda")
    assert moved.device == "cuda:0"
    with pytest.raises(RuntimeError, match="cpu.*cuda:0|cuda:0.*cpu"):
        x_cpu + x_gpu
