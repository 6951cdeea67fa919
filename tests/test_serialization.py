"""mg.save / mg.load: safetensors files, nested and non-tensor values, atomic writes, refusing bad files,
and exchanging state dicts with PyTorch."""
import json
import os
import struct

import numpy as np
import pytest

import minigan as mg
import minigan.nn as nn
import minigan.optim as optim
from minigan import serialization
from minigan.serialization import SerializationError


def test_round_trip_nested_and_non_tensor_values(tmp_path):
    mg.manual_seed(0)
    state = {
        "model": {"0.weight": mg.randn(3, 2), "0.bias": mg.zeros(3, dtype="float64")},
        "optimizer": {"state": {0: {"step": 7, "exp_avg": mg.ones(2, 2)}, 1: {"step": 7}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.5, 0.999), "amsgrad": False, "params": [0, 1]}]},
        "epoch": 12, "loss": float("nan"), "name": "wgan-gp", "notes": None,
        "history": [1.5, 2.5, {"inner": mg.tensor([1, 2, 3])}],
        "rng": mg.backend.get_rng_state(),                   # huge ints (PCG64 state) survive JSON
        "counts": mg.tensor(np.arange(6, dtype=np.int64).reshape(2, 3)),
        "scalar": mg.tensor(3.5),
        "raw": np.array([True, False]),
    }
    path = tmp_path / "ckpt.safetensors"
    mg.save(state, path)
    loaded = mg.load(path)
    assert list(loaded) == list(state)
    np.testing.assert_array_equal(loaded["model"]["0.weight"].numpy(), state["model"]["0.weight"].numpy())
    assert loaded["model"]["0.weight"].dtype == np.float32 and loaded["model"]["0.bias"].dtype == np.float64
    opt_state = loaded["optimizer"]["state"]
    assert set(opt_state) == {0, 1} and opt_state[1] == {"step": 7}          # int keys come back as ints
    np.testing.assert_array_equal(opt_state[0]["exp_avg"].numpy(), 1)
    assert loaded["optimizer"]["param_groups"][0]["betas"] == (0.5, 0.999)
    assert loaded["epoch"] == 12 and np.isnan(loaded["loss"]) and loaded["name"] == "wgan-gp"
    assert loaded["notes"] is None
    assert loaded["history"][:2] == [1.5, 2.5]
    np.testing.assert_array_equal(loaded["history"][2]["inner"].numpy(), [1, 2, 3])
    assert loaded["rng"] == state["rng"]
    assert loaded["counts"].dtype == np.int64 and loaded["counts"].shape == (2, 3)
    assert loaded["scalar"].shape == () and loaded["scalar"].item() == 3.5
    assert isinstance(loaded["raw"], np.ndarray) and loaded["raw"].dtype == bool


def test_file_is_plain_safetensors_with_dotted_keys(tmp_path):
    from safetensors.numpy import load_file
    path = tmp_path / "model.safetensors"
    net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    mg.save({"generator": net.state_dict(), "step": 5}, path)
    arrays = load_file(str(path))
    assert sorted(arrays) == sorted("generator." + k for k in net.state_dict())
    assert arrays["generator.1.num_batches_tracked"].dtype == np.int64
    assert arrays["generator.1.num_batches_tracked"].shape == ()          # 0-d stays 0-d, as in PyTorch


def test_rng_state_restores_the_stream(tmp_path):
    mg.manual_seed(5)
    mg.randn(3)
    mg.save({"rng": mg.backend.get_rng_state()}, tmp_path / "r.safetensors")
    expected = mg.randn(4).numpy()
    mg.backend.set_rng_state(mg.load(tmp_path / "r.safetensors")["rng"])
    np.testing.assert_array_equal(mg.randn(4).numpy(), expected)


def test_unsupported_values_are_refused_never_pickled(tmp_path):
    with pytest.raises(TypeError, match="set"):
        mg.save({"bad": {1, 2}}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="dict"):
        mg.save([mg.zeros(2)], tmp_path / "x.safetensors")
    with pytest.raises(ValueError, match="same key 'a.b'"):
        mg.save({"a.b": mg.zeros(1), "a": {"b": mg.zeros(1)}}, tmp_path / "x.safetensors")
    assert not os.listdir(tmp_path)


def test_atomic_write_leaves_old_file_and_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    mg.save({"w": mg.ones(3)}, path)
    original = path.read_bytes()

    def failing_fsync(fd):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(serialization.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        mg.save({"w": mg.zeros(1000)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == original                         # the old checkpoint is intact
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]          # and the temporary file is gone
    np.testing.assert_array_equal(mg.load(path)["w"].numpy(), 1)


def test_atomic_write_of_a_new_file_leaves_nothing_on_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(serialization.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("killed")))
    with pytest.raises(OSError, match="killed"):
        mg.save({"w": mg.ones(3)}, tmp_path / "new.safetensors")
    assert os.listdir(tmp_path) == []


def _bytes_of(tmp_path):
    path = tmp_path / "good.safetensors"
    mg.save({"w": mg.randn(50, 50), "b": mg.zeros(3), "epoch": 1}, path)
    return path.read_bytes()


@pytest.mark.parametrize("mangle", [
    lambda b: b[: len(b) // 2],                                  # truncated in the data
    lambda b: b[:20],                                            # truncated in the header
    lambda b: b[:5],                                             # shorter than the size field
    lambda b: b"",                                               # empty
    lambda b: b"\x80\x04\x95" + b"pickle-ish bytes" * 10,        # another format
    lambda b: b[:8] + b"{not json" + b[17:],                    # corrupt header
    lambda b: struct.pack("<Q", 2) + b"[]",                      # a header that is not an object
], ids=["truncated-data", "truncated-header", "tiny", "empty", "pickle", "bad-json", "not-object"])
def test_corrupt_files_are_refused_with_the_file_name(tmp_path, mangle):
    path = tmp_path / "broken-checkpoint.safetensors"
    path.write_bytes(mangle(_bytes_of(tmp_path)))
    with pytest.raises(SerializationError, match="broken-checkpoint.safetensors"):
        mg.load(path)


def test_corrupt_metadata_is_refused(tmp_path):
    from safetensors.numpy import save_file
    path = tmp_path / "meta.safetensors"
    save_file({"w": np.zeros(2, np.float32)}, str(path),
              metadata={"minigan": json.dumps({"format": 1, "state": {"x": {"__tensor__": "missing"}}})})
    with pytest.raises(SerializationError, match="meta.safetensors.*missing"):
        mg.load(path)


def test_module_save_and_load_helpers(tmp_path):
    mg.manual_seed(0)
    a = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    a(mg.randn(2, 1, 5, 5))
    serialization.save_module(a, tmp_path / "m.safetensors")
    b = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    serialization.load_module(b, tmp_path / "m.safetensors")
    for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(x.numpy(), y.numpy(), err_msg=k)


def test_torch_state_dict_loads_into_the_minigan_module(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file, save_file
    torch.manual_seed(0)

    def torch_net():
        return torch.nn.Sequential(
            torch.nn.Unflatten(1, (2, 4, 4)),
            torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
            torch.nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1), torch.nn.LeakyReLU(0.2),
            torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 5), torch.nn.Tanh())

    tnet = torch_net()
    tnet.train()
    tnet(torch.randn(8, 32))                                     # give batch norm real running statistics
    tnet.eval()
    path = tmp_path / "torch.safetensors"
    save_file(tnet.state_dict(), str(path))

    net = nn.Sequential(
        nn.Unflatten(1, (2, 4, 4)),
        nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(3 * 8 * 8, 5), nn.Tanh())
    net.load_state_dict(mg.load(path))                          # strict: every key matches PyTorch's
    net.eval()
    x = np.random.default_rng(0).normal(size=(3, 32)).astype(np.float32)
    np.testing.assert_allclose(net(mg.tensor(x)).numpy(), tnet(torch.tensor(x)).detach().numpy(), atol=1e-6)

    # and back: a minigan file loads into PyTorch
    back = tmp_path / "minigan.safetensors"
    mg.save(net.state_dict(), back)
    tnet2 = torch_net().eval()
    tnet2.load_state_dict(load_file(str(back)))
    np.testing.assert_allclose(tnet2(torch.tensor(x)).detach().numpy(), net(mg.tensor(x)).numpy(), atol=1e-6)


def test_optimizer_checkpoint_through_file_keeps_types(tmp_path):
    net = nn.Linear(2, 2)
    opt = optim.RMSprop(net.parameters(), lr=0.01, momentum=0.9, centered=True)
    net(mg.randn(3, 2)).sum().backward()
    opt.step()
    mg.save(opt.state_dict(), tmp_path / "o.safetensors")
    state = mg.load(tmp_path / "o.safetensors")
    assert state["state"][0]["step"] == 1 and isinstance(state["state"][0]["step"], int)
    assert state["param_groups"][0]["centered"] is True
    fresh = optim.RMSprop(nn.Linear(2, 2).parameters(), lr=0.5)
    fresh.load_state_dict(state)
    assert fresh.param_groups[0]["lr"] == 0.01
