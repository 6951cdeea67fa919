"""Property-based tests of everything that reads a file or batches data: random bytes and mutated valid files
(bit flips, truncations, appended and overwritten bytes, header edits) for the checkpoint reader, the IDX
reader and the mnist5k CSV reader, and random arguments for the DataLoader.

The property: a reader either refuses with the library's own error (``SerializationError`` /
``DataFormatError``, naming the file) or returns exactly what an independent reference reading of the same
bytes gives -- never another exception, never a different result -- and its memory stays within a small
multiple of the file's size. ``hypothesis.event`` records each outcome, so

    HYPOTHESIS_PROFILE=long python -m pytest -q -p no:cacheprovider tests/test_property_files.py \
        --hypothesis-show-statistics

prints, per test, how many cases ran and how many were refused or read (the figures of issue 14's note).
"""

import gzip
import json
import re
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

import minigan as mg
import minigan.data as data
from minigan.data import idx
from minigan.data.loader import DataLoader
from minigan.serialization import SerializationError


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("property_files")


def kind_of(error) -> str:
    """A refusal's kind for hypothesis' statistics: its message after the file name, up to the first detail."""
    text = str(error).split(": ", 1)[-1]
    return re.sub(r"[0-9]+", "N", re.split(r"[(:]", text)[0]).strip()[:50]


def traced(function):
    """(result or raised exception, peak bytes Python allocated while ``function`` ran)."""
    tracemalloc.start()
    try:
        try:
            outcome = function()
        except Exception as error:  # noqa: BLE001 -- the caller checks the type
            outcome = error
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- mutations of a byte string ---------------------------------------------------------------------------


@st.composite
def mutated(draw, payload: bytes):
    """``payload`` with one to three random changes: bit flips, truncation, appended or overwritten bytes."""
    result = bytearray(payload)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "truncate", "append", "overwrite"]))
        if kind == "flip" and result:
            position = draw(st.integers(0, len(result) - 1))
            result[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del result[draw(st.integers(0, len(result))) :]
        elif kind == "append":
            result += draw(st.binary(min_size=1, max_size=16))
        elif kind == "overwrite" and result:
            start = draw(st.integers(0, len(result) - 1))
            chunk = draw(st.binary(min_size=1, max_size=8))
            result[start : start + len(chunk)] = chunk
    return bytes(result)


# (containers of at least one child in the extension, empty ones among the leaves: hypothesis checks that
# the extension needs its children)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=6)
    | st.just([])
    | st.just({}),
    lambda children: (
        st.lists(children, min_size=1, max_size=3)
        | st.dictionaries(st.text(max_size=6), children, min_size=1, max_size=3)
    ),
    max_leaves=6,
)


def json_paths(value, path=()):
    """Every node of a JSON value, as a path of keys/indices."""
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from json_paths(child, path + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from json_paths(child, path + (index,))


def replaced(value, path, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = replaced(value[path[0]], path[1:], new)
    return copy


# --- checkpoints -------------------------------------------------------------------------------------------

ARRAY_DTYPES = [
    "float32",
    "float64",
    "float16",
    "int64",
    "int32",
    "int16",
    "int8",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool",
]


@st.composite
def arrays(draw):
    dtype = draw(st.sampled_from(ARRAY_DTYPES))
    shape = tuple(draw(st.lists(st.integers(0, 3), max_size=3)))
    values = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(0, 100, size=shape)
    array = values.astype(dtype)
    return mg.tensor(array) if dtype != "float16" and draw(st.booleans()) else array  # no float16 Tensors


keys = st.text(alphabet="abcdefgh", min_size=1, max_size=3)
leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=5)
    | arrays()
    | st.just([])
    | st.just(())
    | st.just({})
)
states = st.dictionaries(
    keys,
    st.recursive(
        leaves,
        lambda children: (
            st.lists(children, min_size=1, max_size=3)
            | st.lists(children, min_size=1, max_size=3).map(tuple)
            | st.dictionaries(keys | st.integers(0, 9), children, min_size=1, max_size=3)
        ),
        max_leaves=8,
    ),
    max_size=4,
)


def same(a, b) -> bool:
    """Deep equality with the types the checkpoint keeps: Tensor vs ndarray, tuple vs list, dtypes, shapes."""
    if type(a) is not type(b):
        return False
    if isinstance(a, mg.Tensor):
        a, b = a.numpy(), b.numpy()
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def array_leaves(value):
    if isinstance(value, mg.Tensor):
        yield value.numpy()
    elif isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, dict):
        for child in value.values():
            yield from array_leaves(child)
    elif isinstance(value, (list, tuple)):
        for child in value:
            yield from array_leaves(child)


def signature(arrays_):
    return sorted((a.dtype.str, a.shape, a.tobytes()) for a in arrays_)


def checkpoint_outcome(path, payload: bytes):
    """Load ``path`` (holding ``payload``); check the refusal's type and message, and the memory bound."""
    path.write_bytes(payload)
    outcome, peak = traced(lambda: mg.load(path))
    assert peak < 8 * len(payload) + (1 << 20), (peak, len(payload))
    if isinstance(outcome, Exception):
        assert isinstance(outcome, SerializationError), repr(outcome)
        assert str(path) in str(outcome)
        event(f"refused: {kind_of(outcome)}")
    else:
        event("loaded")
    return outcome


def reference_arrays(payload: bytes):
    """The tensors the safetensors library itself reads from ``payload`` (None if it refuses the file)."""
    from safetensors.numpy import load as reference_load

    try:
        return reference_load(payload)
    except Exception:  # noqa: BLE001 -- any refusal by the reference
        return None


def with_checksum(payload: bytes) -> bytes:
    """``payload`` with its minigan CRC-32 recomputed (as a buggy or hostile writer would leave it)."""
    (size,) = struct.unpack("<Q", payload[:8])
    head = payload[8 : 8 + size]
    match = re.search(rb'"minigan_crc32":"([0-9a-f]{8})"', head)
    if match is None:
        return payload
    blank = payload[:8] + head[: match.start(1)] + b"00000000" + head[match.end(1) :] + payload[8 + size :]
    digits = f"{zlib.crc32(blank):08x}".encode()
    return payload[:8] + head[: match.start(1)] + digits + head[match.end(1) :] + payload[8 + size :]


@given(state=states)
def test_property_checkpoint_round_trip(workdir, state):
    path = workdir / "round.safetensors"
    mg.save(state, path)
    assert same(mg.load(path), state)


@given(state=states, choice=st.data())
def test_property_mutated_checkpoints_are_refused_or_read_exactly(workdir, state, choice):
    path = workdir / "mutated.safetensors"
    mg.save(state, path)
    original = path.read_bytes()
    payload = choice.draw(mutated(original))
    outcome = checkpoint_outcome(path, payload)
    if not isinstance(outcome, Exception):
        # the CRC-32 covers every byte: only an unchanged file may load, and then as it was saved
        assert payload == original and same(outcome, state), "a changed checkpoint loaded without a word"


@given(state=states, choice=st.data())
def test_property_edited_headers_are_refused_or_read_consistently(workdir, state, choice):
    """A header edited as JSON (any node replaced by any JSON value), its checksum recomputed, so that the
    structure checks -- not the checksum -- must catch what is wrong."""
    path = workdir / "edited.safetensors"
    mg.save(state, path)
    original = path.read_bytes()
    (size,) = struct.unpack("<Q", original[:8])
    header = json.loads(original[8 : 8 + size])
    document = json.loads(header["__metadata__"]["minigan"])
    if choice.draw(st.booleans()):  # edit the minigan document inside the metadata
        target = choice.draw(st.sampled_from(list(json_paths(document))))
        document = replaced(document, target, choice.draw(json_values))
        header["__metadata__"]["minigan"] = json.dumps(document)
    else:  # edit the safetensors header itself
        target = choice.draw(st.sampled_from(list(json_paths(header))))
        header = replaced(header, target, choice.draw(json_values))
    text = json.dumps(header, separators=(",", ":")).encode()
    payload = with_checksum(struct.pack("<Q", len(text)) + text + original[8 + size :])
    outcome = checkpoint_outcome(path, payload)
    if not isinstance(outcome, Exception):
        reference = reference_arrays(payload)
        assert reference is not None, "loaded a file the safetensors library refuses"
        # every tensor of the file, once, as safetensors reads it (none dropped, aliased or misread)
        assert signature(array_leaves(outcome)) == signature(reference.values())


@given(payload=st.binary(max_size=300) | st.binary(max_size=40).map(lambda tail: struct.pack("<Q", len(tail)) + tail))
def test_property_random_bytes_are_refused_or_read_as_safetensors_reads_them(workdir, payload):
    path = workdir / "random.safetensors"
    outcome = checkpoint_outcome(path, payload)
    if not isinstance(outcome, Exception):
        reference = reference_arrays(payload)
        assert reference is not None, "loaded a file the safetensors library refuses"
        assert signature(array_leaves(dict(outcome))) == signature(reference.values())


# --- IDX ---------------------------------------------------------------------------------------------------

IDX_CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def reference_idx(raw: bytes):
    """The array the IDX spec gives for ``raw`` (gzip inflated first), or None if it is not a valid file."""
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except Exception:  # noqa: BLE001 -- any corrupt stream
            return None
    if len(raw) < 4 or raw[0] or raw[1] or raw[2] not in IDX_CODES or len(raw) < 4 + 4 * raw[3]:
        return None
    shape = struct.unpack(f">{raw[3]}I", raw[4 : 4 + 4 * raw[3]])
    dtype = np.dtype(IDX_CODES[raw[2]])
    body = raw[4 + 4 * raw[3] :]
    if len(body) != int(np.prod(shape, dtype=object)) * dtype.itemsize:
        return None
    try:
        return np.frombuffer(body, dtype).reshape(shape)
    except ValueError:  # no data, but other dimensions larger than NumPy can index: not an array
        return None


def idx_outcome(path, raw: bytes):
    path.write_bytes(raw)
    outcome, peak = traced(lambda: idx.read_idx(path))
    reference = reference_idx(raw)
    bound = len(gzip.decompress(raw)) if reference is not None and raw[:2] == b"\x1f\x8b" else len(raw)
    assert peak < 4 * bound + (4 << 20), (peak, len(raw))
    if isinstance(outcome, Exception):
        assert isinstance(outcome, data.DataFormatError), repr(outcome)
        assert str(path) in str(outcome)
        assert reference is None, f"refused a valid IDX file: {outcome}"
        event(f"refused: {kind_of(outcome)}")
    else:
        assert reference is not None, "read a file that is not valid IDX"
        native = reference.astype(reference.dtype.newbyteorder("="))
        assert outcome.dtype == native.dtype and outcome.shape == native.shape
        assert outcome.tobytes() == native.tobytes()  # bit for bit (NaN payloads too)
        event("read")


@st.composite
def idx_files(draw):
    dtype = draw(st.sampled_from(["uint8", "int8", "int16", "int32", "float32", "float64"]))
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=3)))
    values = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(-100, 100, size=shape)
    return values.astype(dtype), draw(st.booleans())


@given(file=idx_files(), choice=st.data())
def test_property_mutated_idx_files_are_refused_or_read_as_the_spec_says(workdir, file, choice):
    array, compress = file
    path = idx.write_idx(workdir / "valid.idx", array, compress=compress)
    raw = path.read_bytes()
    if choice.draw(st.booleans()):
        raw = choice.draw(mutated(raw))
    else:  # edit the header: type byte, dimension count or a size
        content = bytearray(gzip.decompress(raw) if compress else raw)
        position = choice.draw(st.integers(2, min(len(content), 4 + 4 * content[3]) - 1))
        content[position] = choice.draw(st.integers(0, 255))
        raw = gzip.compress(bytes(content), mtime=0) if compress else bytes(content)
    idx_outcome(workdir / "mutated.idx", raw)


@given(raw=st.binary(max_size=200) | st.binary(max_size=200).map(lambda b: gzip.compress(b, mtime=0)))
def test_property_random_bytes_are_refused_or_read_as_idx(workdir, raw):
    idx_outcome(workdir / "random.idx", raw)


# --- the mnist5k CSV ---------------------------------------------------------------------------------------


def reference_csv(text: str):
    """(images, labels) the mnist5k description gives for ``text``, or None if it breaks it."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        return None
    rows = []
    for line in lines:
        fields = line.rstrip("\r").split(",")
        if len(fields) != 785 or not all(re.fullmatch(r"[ \t]*[+-]?[0-9]+[ \t]*", f) for f in fields):
            return None
        row = [int(f) for f in fields]
        if not (all(0 <= v <= 255 for v in row[:784]) and 0 <= row[784] <= 9):
            return None
        rows.append(row)
    table = np.array(rows)
    return table[:, :784].reshape(-1, 28, 28), table[:, 784]


tokens = (
    st.integers(-300, 300).map(str)
    | st.integers(0, 2**70).map(str)
    | st.sampled_from(["", " 7", "8 ", "1.5", "x", "1_0", "+3", "-0", "nan", "1e3", "\t4"])
)


@given(seed=st.integers(0, 2**32 - 1), n_rows=st.integers(1, 4), choice=st.data())
def test_property_mnist5k_csv_is_refused_or_read_as_described(workdir, seed, n_rows, choice):
    rng = np.random.default_rng(seed)
    rows = [[str(v) for v in rng.integers(0, 256, 784)] + [str(rng.integers(0, 10))] for _ in range(n_rows)]
    for _ in range(choice.draw(st.integers(0, 3))):
        editable = [i for i, cells in enumerate(rows) if cells]  # not a blank line
        if not editable:
            break
        row = choice.draw(st.sampled_from(editable))
        kind = choice.draw(st.sampled_from(["cell", "label", "drop", "add", "blank", "crlf"]))
        if kind == "cell":
            rows[row][choice.draw(st.integers(0, len(rows[row]) - 1))] = choice.draw(tokens)
        elif kind == "label":
            rows[row][-1] = choice.draw(tokens)
        elif kind == "drop":
            rows[row].pop()
        elif kind == "add":
            rows[row].append(choice.draw(tokens))
        elif kind == "blank":
            rows.insert(row, [])
        else:
            rows[row][-1] += "\r"
    text = "".join(",".join(row) + "\n" for row in rows)
    path = workdir / "mnist_5k.csv.gz"
    path.write_bytes(gzip.compress(text.encode(), mtime=0))
    reference = reference_csv(text)
    try:
        images, labels = data.read_mnist5k_csv(path)
    except data.DataFormatError as error:
        assert str(path) in str(error)
        assert reference is None, f"refused a valid file: {error}"
        event(f"refused: {kind_of(error)}")
        return
    assert reference is not None, "read a file that breaks the description"
    np.testing.assert_array_equal(images, reference[0])
    np.testing.assert_array_equal(labels, reference[1])
    assert images.dtype == np.uint8 and labels.dtype == np.int64
    event("read")


# --- DataLoader arguments ----------------------------------------------------------------------------------

anything = st.none() | st.booleans() | st.integers(-3, 40) | st.floats(-3, 40) | st.text(max_size=3)


def mostly(good):
    """``good`` values three times in four, anything else otherwise."""
    return st.sampled_from([True, True, True, False]).flatmap(lambda ok: good if ok else anything)


@given(
    n=st.integers(0, 30),
    batch_size=mostly(st.integers(1, 12)),
    drop_last=mostly(st.booleans()),
    shuffle=mostly(st.booleans()),
    seed=mostly(st.none() | st.integers(0, 99)),
)
def test_property_loader_refuses_or_covers_the_data_exactly(n, batch_size, drop_last, shuffle, seed):
    x = np.arange(n)
    try:
        loader = DataLoader(
            x, x * 10, batch_size=batch_size, drop_last=drop_last, shuffle=shuffle, seed=seed, as_tensor=False
        )
    except ValueError as error:
        event(f"refused: {str(error).split(' ')[0]}")
        return
    event("batched")
    batches = list(loader)
    assert len(batches) == len(loader) >= 1
    assert all(len(bx) == batch_size for bx, _ in batches[:-1])
    assert all(np.array_equal(by, bx * 10) for bx, by in batches)
    seen = np.concatenate([bx for bx, _ in batches])
    assert len(set(seen.tolist())) == len(seen)  # no sample twice in an epoch
    expected = n - n % batch_size if drop_last else n
    assert len(seen) == expected
