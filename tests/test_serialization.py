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
        "optimizer": {
            "state": {0: {"step": 7, "exp_avg": mg.ones(2, 2)}, 1: {"step": 7}},
            "param_groups": [{"lr": 1e-3, "betas": (0.5, 0.999), "amsgrad": False, "params": [0, 1]}],
        },
        "epoch": 12,
        "loss": float("nan"),
        "name": "wgan-gp",
        "notes": None,
        "history": [1.5, 2.5, {"inner": mg.tensor([1, 2, 3])}],
        "rng": mg.backend.get_rng_state(),  # huge ints (PCG64 state) survive JSON
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
    assert set(opt_state) == {0, 1} and opt_state[1] == {"step": 7}  # int keys come back as ints
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
    assert arrays["generator.1.num_batches_tracked"].shape == ()  # 0-d stays 0-d, as in PyTorch


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
    assert path.read_bytes() == original  # the old checkpoint is intact
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]  # and the temporary file is gone
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


@pytest.mark.parametrize(
    "mangle",
    [
        lambda b: b[: len(b) // 2],  # truncated in the data
        lambda b: b[:20],  # truncated in the header
        lambda b: b[:5],  # shorter than the size field
        lambda b: b"",  # empty
        lambda b: b"\x80\x04\x95" + b"pickle-ish bytes" * 10,  # another format
        lambda b: b[:8] + b"{not json" + b[17:],  # corrupt header
        lambda b: struct.pack("<Q", 2) + b"[]",  # a header that is not an object
    ],
    ids=["truncated-data", "truncated-header", "tiny", "empty", "pickle", "bad-json", "not-object"],
)
def test_corrupt_files_are_refused_with_the_file_name(tmp_path, mangle):
    path = tmp_path / "broken-checkpoint.safetensors"
    path.write_bytes(mangle(_bytes_of(tmp_path)))
    with pytest.raises(SerializationError, match="broken-checkpoint.safetensors"):
        mg.load(path)


def test_corrupt_metadata_is_refused(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "meta.safetensors"
    save_file(
        {"w": np.zeros(2, np.float32)},
        str(path),
        metadata={"minigan": json.dumps({"format": 1, "state": {"x": {"__tensor__": "missing"}}})},
    )
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
            torch.nn.Conv2d(2, 4, 3, padding=1),
            torch.nn.BatchNorm2d(4),
            torch.nn.ReLU(),
            torch.nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1),
            torch.nn.LeakyReLU(0.2),
            torch.nn.Flatten(),
            torch.nn.Linear(3 * 8 * 8, 5),
            torch.nn.Tanh(),
        )

    tnet = torch_net()
    tnet.train()
    tnet(torch.randn(8, 32))  # give batch norm real running statistics
    tnet.eval()
    path = tmp_path / "torch.safetensors"
    save_file(tnet.state_dict(), str(path))

    net = nn.Sequential(
        nn.Unflatten(1, (2, 4, 4)),
        nn.Conv2d(2, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(3 * 8 * 8, 5),
        nn.Tanh(),
    )
    net.load_state_dict(mg.load(path))  # strict: every key matches PyTorch's
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


# --- checksum, format version, malformed headers and metadata, stale temporary files -------------------


def _small_state():
    return {
        "model": {"w": mg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3)), "b": mg.zeros(2)},
        "optimizer": {"state": {0: {"step": 3}}, "param_groups": [{"lr": 0.01, "params": [0]}]},
        "epoch": 12,
        "flags": (True, None),
        "mask": np.array([True, False]),
    }


def test_a_flipped_bit_anywhere_in_the_file_is_refused(tmp_path):
    # the old reader loaded a flip in the data (a weight), in a number of the metadata ("epoch": 12 -> 13)
    # or in a shape ([2, 3] -> [3, 2]) as a different checkpoint, without a word
    good = tmp_path / "good.safetensors"
    mg.save(_small_state(), good)
    payload = good.read_bytes()
    bad = tmp_path / "flipped.safetensors"
    for position in range(len(payload)):  # one bit of every byte
        mutated = bytearray(payload)
        mutated[position] ^= 1 << (position % 8)
        bad.write_bytes(bytes(mutated))
        with pytest.raises(SerializationError, match="flipped.safetensors"):
            mg.load(bad)


def _raw_file(path, header: dict, data: bytes = b""):
    """A safetensors file with exactly this header (no checksum unless the header has one)."""
    text = json.dumps(header, separators=(",", ":")).encode()  # compact, as safetensors writes it
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


def _format_1_file(path, state_skeleton, tensors=None, document=None):
    """What minigan wrote before the checksum: format 1, no "minigan_crc32"."""
    from safetensors.numpy import save_file

    document = {"format": 1, "state": state_skeleton} if document is None else document
    save_file(tensors or {}, str(path), metadata={"minigan": json.dumps(document)})
    return path


def test_format_versions(tmp_path):
    w = np.arange(4, dtype=np.float32)
    older = _format_1_file(
        tmp_path / "v1.safetensors", {"w": {"__tensor__": "w", "__kind__": "tensor"}, "epoch": 3}, {"w": w}
    )
    loaded = mg.load(older)  # files of minigan before the checksum still load
    np.testing.assert_array_equal(loaded["w"].numpy(), w) and loaded["epoch"] == 3
    newer = _format_1_file(
        tmp_path / "v99.safetensors",
        None,
        {"w": w},
        document={"format": 99, "state": {"w": {"__tensor__": "w", "__kind__": "tensor"}}},
    )
    with pytest.raises(
        SerializationError,
        match="v99.safetensors: checkpoint format 99, written by a newer minigan; this minigan reads formats 1 and 2",
    ):
        mg.load(newer)
    for bad, message in [
        ({"state": {}}, "expected an object with 'format' and 'state'"),
        ({"format": "1", "state": {}}, "format '1' is not a version number"),
        ({"format": True, "state": {}}, "format True is not a version number"),
        ({"format": 1, "state": {}, "extra": 1}, r"unknown entries \['extra'\]"),
        ([1, 2], "expected an object"),
    ]:
        path = _format_1_file(tmp_path / "doc.safetensors", None, document=bad)
        with pytest.raises(SerializationError, match=f"doc.safetensors: corrupt minigan metadata .*{message}"):
            mg.load(path)
    # format 2 promises a checksum: without it the file is refused
    from safetensors.numpy import save_file

    save_file({}, str(tmp_path / "v2.safetensors"), metadata={"minigan": json.dumps({"format": 2, "state": {}})})
    with pytest.raises(SerializationError, match="format 2 without its checksum"):
        mg.load(tmp_path / "v2.safetensors")


def test_the_file_is_still_plain_safetensors_with_the_checksum(tmp_path):
    from safetensors import safe_open

    path = tmp_path / "c.safetensors"
    mg.save(_small_state(), path)
    with safe_open(str(path), "np") as handle:
        metadata = handle.metadata()
    assert set(metadata) == {"minigan", "minigan_crc32"} and json.loads(metadata["minigan"])["format"] == 2
    assert len(metadata["minigan_crc32"]) == 8


F32_2 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


@pytest.mark.parametrize(
    "header,data,message",
    [
        ({"w": dict(F32_2, dtype=5)}, bytes(8), "dtype 5 is not one of"),
        ({"w": dict(F32_2, dtype="F99")}, bytes(8), "dtype 'F99' is not one of"),
        ({"w": dict(F32_2, dtype=[])}, bytes(8), "dtype \\[\\] is not one of"),  # found by hypothesis
        ({"w": dict(F32_2, dtype="BF16")}, bytes(8), "dtype 'BF16' is not one of"),
        ({"w": dict(F32_2, shape="ab")}, bytes(8), "shape ab is not a list of sizes"),
        ({"w": dict(F32_2, shape=[-2])}, bytes(8), r"shape \[-2\] is not a list of sizes"),
        ({"w": dict(F32_2, shape=[2.0])}, bytes(8), r"shape \[2.0\] is not a list of sizes"),
        ({"w": dict(F32_2, shape=[3])}, bytes(8), "is 12 bytes, its offsets span 8"),
        ({"w": dict(F32_2, data_offsets=["a", 8])}, bytes(8), "data_offsets .* is not a \\[begin, end\\] pair"),
        ({"w": dict(F32_2, data_offsets=[True, 8])}, bytes(8), "is not a \\[begin, end\\] pair"),
        ({"w": dict(F32_2, data_offsets=[8])}, bytes(8), "is not a \\[begin, end\\] pair"),
        ({"w": dict(F32_2, data_offsets=[8, 0])}, bytes(8), "is not a \\[begin, end\\] pair"),
        ({"w": dict(F32_2, data_offsets=[0, 2**70])}, bytes(8), "truncated safetensors file"),
        ({"w": F32_2, "v": dict(F32_2, data_offsets=[4, 12])}, bytes(12), "overlapping"),
        ({"w": F32_2, "v": dict(F32_2, data_offsets=[12, 20])}, bytes(20), "a gap"),
        ({"w": F32_2}, bytes(12), "the tensors cover 8 bytes of a 12-byte data section"),
        ({"w": [1, 2]}, b"", "an entry needs exactly dtype, shape and data_offsets"),
        ({"w": dict(F32_2, extra=1)}, bytes(8), "an entry needs exactly"),
        ({"__metadata__": [1]}, b"", "__metadata__ must be an object of strings"),
        ({"__metadata__": {"minigan": 5}}, b"", "__metadata__ must be an object of strings"),
        ({"__metadata__": {"minigan": "{not json"}}, b"", "corrupt minigan metadata .*JSONDecodeError"),
        ({"__metadata__": {"minigan": "[" * 100000 + "]" * 100000}}, b"", "corrupt minigan metadata .*RecursionError"),
        ({"__metadata__": {"minigan": '{"format": 1, "state": ' + "9" * 5000 + "}"}}, b"", "corrupt minigan metadata"),
        ({"__metadata__": {"minigan_crc32": "0000zz00", "minigan": "{}"}}, b"", "checksum '0000zz00' is not 8 hex"),
        ({"__metadata__": {"minigan_crc32": "00000000"}}, b"", "CRC-32"),
        ({"b": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}}, b"\x01\x07", "bytes other than 0 and 1"),
    ],
    ids=lambda value: None,
)
def test_malformed_headers_raise_serialization_error_naming_file_and_problem(tmp_path, header, data, message):
    path = _raw_file(tmp_path / "hostile.safetensors", header, data)
    with pytest.raises(SerializationError, match=f"hostile.safetensors: .*{message}"):
        mg.load(path)


def test_a_tensor_of_a_dtype_minigan_does_not_compute_in_is_refused_naming_it(tmp_path):
    from safetensors.numpy import save_file

    save_file({"w": np.zeros(2, np.float16)}, str(tmp_path / "half.safetensors"))  # e.g. PyTorch fp16 weights
    with pytest.raises(SerializationError, match="half.safetensors: tensor 'w' is float16, which a minigan Tensor"):
        mg.load(tmp_path / "half.safetensors")
    mg.save({"w": np.zeros(2, np.float16)}, tmp_path / "array.safetensors")  # as an array it is kept
    assert mg.load(tmp_path / "array.safetensors")["w"].dtype == np.float16


def test_a_minigan_file_whose_metadata_keys_are_damaged_is_not_read_as_a_foreign_file(tmp_path):
    # found by the long hypothesis profile: "minigan" and "minigan_crc32" both damaged ("linigan"...) made
    # the file look like another program's safetensors file, which loads as a flat dict without a check
    path = tmp_path / "keys.safetensors"
    mg.save({"w": mg.ones(2), "epoch": 3}, path)
    path.write_bytes(path.read_bytes().replace(b'"minigan', b'"linigan'))
    with pytest.raises(
        SerializationError, match="keys.safetensors: corrupt minigan file .*'linigan' holds minigan's document"
    ):
        mg.load(path)


def test_a_deeply_nested_header_is_refused(tmp_path):
    path = tmp_path / "deep.safetensors"
    text = b"[" * 200000 + b"]" * 200000  # was a RecursionError
    path.write_bytes(struct.pack("<Q", len(text)) + text)
    with pytest.raises(SerializationError, match="deep.safetensors: not a safetensors file .*RecursionError"):
        mg.load(path)


W_REF = {"__tensor__": "w", "__kind__": "tensor"}


@pytest.mark.parametrize(
    "skeleton,message",
    [
        ({"x": {"__tensor__": ["w"]}}, "names tensor \\['w'\\] which is not in the file"),  # was a TypeError
        ({"x": {"__tensor__": "w", "__kind__": "pickle"}}, "__kind__ 'tensor' or 'ndarray'"),
        ({"x": {"__dict__": 5}}, "__dict__ must be a list of \\[key, value\\] pairs"),  # was a TypeError
        ({"x": {"__dict__": [[1, 2, 3]]}}, "__dict__ must be a list"),  # was a ValueError
        ({"x": {"__dict__": [[[1], 2]]}}, "__dict__ must be a list"),  # was a TypeError
        ({"x": {"__tuple__": 3}}, "__tuple__ must be the only key, holding a list"),  # was a TypeError
        ({"x": {"__evil__": 1}}, "unknown marker '__evil__'"),
        ({"x": W_REF, "y": W_REF}, "tensor 'w' is named twice"),  # was two aliases
        ({"x": 1}, "holds tensors its metadata does not name: 'w'"),  # was dropped silently
        ({"x": json.loads("[" * 80 + "]" * 80)}, "nested deeper than 64"),
    ],
    ids=lambda value: None,
)
def test_malformed_minigan_metadata_is_refused_naming_the_problem(tmp_path, skeleton, message):
    path = _format_1_file(tmp_path / "meta.safetensors", skeleton, {"w": np.zeros(2, np.float32)})
    with pytest.raises(SerializationError, match=f"meta.safetensors: corrupt .*{message}"):
        mg.load(path)


def test_a_huge_promise_is_refused_without_allocating_it(tmp_path):
    import tracemalloc

    cases = {"header-length": struct.pack("<Q", 2**63) + b"{}", "tensor": None}
    header = json.dumps({"w": {"dtype": "F64", "shape": [2**28], "data_offsets": [0, 2**31]}}).encode()
    cases["tensor"] = struct.pack("<Q", len(header)) + header + bytes(64)
    for name, payload in cases.items():
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(payload)
        tracemalloc.start()
        try:
            with pytest.raises(SerializationError, match=f"{name}.safetensors"):
                mg.load(path)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 1 << 20, (name, peak)  # 2 GiB promised, under 1 MiB allocated


def test_stale_temporary_files_of_a_killed_save_are_removed_with_a_warning(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    mg.save({"w": mg.ones(3)}, path)
    stale = [tmp_path / ".ckpt.safetensors.k3j_a9zq.tmp", tmp_path / ".ckpt.safetensors.00000000.tmp"]
    fresh = tmp_path / ".ckpt.safetensors.fr3shtmp.tmp"  # as old as a save this process is writing
    others = [
        tmp_path / ".other.safetensors.abcdefgh.tmp",  # another checkpoint's
        tmp_path / ".ckpt.safetensors.backup.tmp",  # not mkstemp's 8 characters
        tmp_path / "ckpt.safetensors.abcdefgh.tmp",
    ]  # not hidden: not ours
    hour_ago = os.path.getmtime(path) - 3600
    for file in stale + others + [fresh]:
        file.write_bytes(b"x" * 1000)
        if file is not fresh:
            os.utime(file, (hour_ago, hour_ago))
    with pytest.warns(
        RuntimeWarning,
        match=r"ckpt.safetensors: removed 2 temporary file\(s\) left by an "
        r"interrupted save: .*k3j_a9zq.tmp \(1000 bytes\)",
    ):
        mg.save({"w": mg.zeros(3)}, path)
    assert not any(file.exists() for file in stale)
    assert fresh.exists() and all(file.exists() for file in others)
    # on load too
    stale[0].write_bytes(b"x")
    os.utime(stale[0], (hour_ago, hour_ago))
    with pytest.warns(RuntimeWarning, match="removed 1 temporary file"):
        np.testing.assert_array_equal(mg.load(path)["w"].numpy(), 0)
    assert not stale[0].exists()
