"""``save(state, path)`` / ``load(path, device)``: checkpoints as safetensors files, never pickle.

The file is a plain safetensors file (PyTorch users read it with ``safetensors.torch.load_file``):

* every tensor/array in ``state`` (a nested dict; lists and tuples too) is a safetensors entry whose key is
  its dotted path (``{"model": {"0.weight": W}}`` -> ``"model.0.weight"``);
* everything else (ints, floats, strings, bools, None, lists, the nesting itself, dict keys that are not
  strings, such as the ints of an optimizer's ``state``) is JSON in the header's ``__metadata__`` under the
  key ``"minigan"``: ``{"format": 2, "state": ...}``, the structure with each tensor replaced by
  ``{"__tensor__": key, "__kind__": "tensor" | "ndarray"}``;
* ``__metadata__["minigan_crc32"]`` is the CRC-32 of the whole file, computed with these eight hex digits
  as ``00000000``, so a flipped bit anywhere (a number in the metadata, a shape, a weight) is refused
  instead of loading as a different checkpoint.

Formats: 2 (this one) carries the checksum; 1 (minigan before it) has none and still loads. A file of a
later format is refused, naming both formats. A file without minigan metadata (written by PyTorch, say)
loads as a flat dict of key -> Tensor, which ``Module.load_state_dict`` takes directly.

Reading checks the whole header before any tensor is read -- framing, every entry's dtype, shape and
offsets (contiguous, covering the data exactly), the metadata's types and nesting -- and every problem is
a :class:`SerializationError` naming the file; nothing is allocated beyond what the file's size allows.

Writes are atomic: the bytes go to a temporary file ``.NAME.XXXXXXXX.tmp`` in the same directory, which is
fsynced and then renamed over ``path`` (``os.replace``), so a crash leaves either the old file or the new
one, never half. A killed process can leave its temporary file behind; the next save or load of the same
path removes such files when they are older than this process's first use of this module (so never one a
save of this process is writing), with a warning naming them.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import tempfile
import time
import warnings
import zlib
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy

from . import backend
from .tensor import Tensor, check_dtype

if TYPE_CHECKING:
    from .nn.module import IncompatibleKeys, Module
    from .typing import Device, PathLike

__all__ = ["save", "load", "save_module", "load_module", "SerializationError"]

_META_KEY = "minigan"
_CHECKSUM_KEY = "minigan_crc32"
_CHECKSUM_PLACEHOLDER = "00000000"
_FORMAT = 2
_READABLE_FORMATS = (1, 2)
_MAX_HEADER_BYTES = 100_000_000  # the safetensors library's own limit
_MAX_NESTING = 64  # state dicts nest a few levels; deeper is a corrupt or hostile file
# safetensors dtype names that NumPy holds (little-endian, as the format stores them)
_DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U64": "<u8",
    "U32": "<u4",
    "U16": "<u2",
    "U8": "u1",
    "BOOL": "?",
}
# a temporary file last modified before this module was imported cannot be one this process is writing
_IMPORTED_AT = time.time()


class SerializationError(ValueError):
    """A file that is not a readable safetensors checkpoint (corrupt, truncated, or another format)."""


def _is_array(value):
    return isinstance(value, (Tensor, numpy.ndarray)) or backend.is_cupy_array(value)


def _to_numpy(value):
    array = value.array if isinstance(value, Tensor) else value
    if backend.is_cupy_array(array):
        array = array.get()
    # not ascontiguousarray: it turns a 0-d array (num_batches_tracked, a step) into shape (1,)
    return array if array.flags.c_contiguous else numpy.array(array, order="C")


def _flatten(value, key, tensors):
    """Return the JSON skeleton of ``value``, moving its arrays into ``tensors`` under dotted keys."""
    if _is_array(value):
        if key in tensors:
            raise ValueError(f"save: two entries flatten to the same key {key!r}")
        tensors[key] = _to_numpy(value)
        return {"__tensor__": key, "__kind__": "tensor" if isinstance(value, Tensor) else "ndarray"}
    if hasattr(value, "detach") and hasattr(value, "numpy") and hasattr(value, "shape"):  # a torch tensor
        return _flatten(value.detach().cpu().numpy(), key, tensors)
    if isinstance(value, dict):
        prefix = key + "." if key else ""
        items = [(k, _flatten(v, prefix + str(k), tensors)) for k, v in value.items()]
        if all(isinstance(k, str) and not k.startswith("__") for k, _ in items):
            return dict(items)
        for k, _ in items:
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise TypeError(
                    f"save: dict key {k!r} at {key or 'top level'!r} is a {type(k).__name__}; "
                    "keys must be strings, ints, floats or bools"
                )
        return {"__dict__": [[k, v] for k, v in items]}
    if isinstance(value, (list, tuple)):
        prefix = key + "." if key else ""
        items = [_flatten(v, prefix + str(i), tensors) for i, v in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, numpy.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(
        f"save: cannot store a {type(value).__name__} at {key or 'top level'!r}: only tensors, "
        "arrays, numbers, strings, bools, None, lists, tuples and dicts (never pickle)"
    )


def save(state: dict[str, Any], path: PathLike) -> None:
    """Write ``state`` (a dict of Tensors/arrays, numbers, strings, nested dicts/lists) to ``path``
    atomically as a safetensors file (see the module docstring for the layout)."""
    if not isinstance(state, dict):
        raise TypeError(f"save: state must be a dict, got {type(state).__name__}")
    from safetensors.numpy import save as to_bytes

    tensors: dict = {}
    skeleton = _flatten(state, "", tensors)
    metadata = {_META_KEY: json.dumps({"format": _FORMAT, "state": skeleton}), _CHECKSUM_KEY: _CHECKSUM_PLACEHOLDER}
    payload = memoryview(to_bytes(tensors, metadata=metadata))
    (header_size,) = struct.unpack("<Q", payload[:8])
    head, data = bytes(payload[: 8 + header_size]), payload[8 + header_size :]
    placeholder = _checksum_field(_CHECKSUM_PLACEHOLDER)
    if head.count(placeholder) != 1:  # safetensors spells its header compactly; guard against a change
        raise RuntimeError(f"save: safetensors wrote the header in an unexpected layout ({head[:200]!r})")
    checksum = f"{zlib.crc32(data, zlib.crc32(head)):08x}"
    head = head.replace(placeholder, _checksum_field(checksum))
    path = os.fspath(path)
    _remove_stale_temporaries(path)
    _atomic_write(path, (head, data))


def _checksum_field(digits: str) -> bytes:
    """The checksum's key and value as the header's JSON spells them (compact, as safetensors writes it)."""
    return f'"{_CHECKSUM_KEY}":"{digits}"'.encode()


def _atomic_write(path, chunks) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            for chunk in chunks:
                file.write(chunk)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:  # some file systems / platforms cannot fsync a directory
        pass


def _remove_stale_temporaries(path) -> None:
    """Delete ``.NAME.XXXXXXXX.tmp`` files that a killed ``save`` of ``path`` left in its directory.

    Only names ``tempfile.mkstemp`` gives our temporary files (8 characters of ``a-z0-9_``) and only files
    last modified before this module was imported: a save in progress in this process is never touched.
    Says what it removed with a RuntimeWarning."""
    directory, name = os.path.split(os.path.abspath(path))
    pattern = re.compile(r"\." + re.escape(name) + r"\.[a-z0-9_]{8}\.tmp")
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:  # no such directory: nothing to clean (open/mkstemp will say so)
        return
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            if not entry.is_file(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_mtime >= _IMPORTED_AT:
                continue
            size = entry.stat(follow_symlinks=False).st_size
            os.unlink(entry.path)
        except OSError:  # gone meanwhile, or not ours to delete
            continue
        removed.append(f"{entry.name} ({size} bytes)")
    if removed:
        warnings.warn(
            f"{path}: removed {len(removed)} temporary file(s) left by an interrupted save: "
            + ", ".join(sorted(removed)),
            RuntimeWarning,
            stacklevel=3,
        )


# --- reading ---------------------------------------------------------------------------------------------


def load(path: PathLike, device: Device | None = "cpu") -> dict[str, Any]:
    """Read a file written by ``save`` (the nested state, Tensors on ``device``), or any safetensors file
    (a flat OrderedDict of key -> Tensor). Refuses, naming the file, anything that is not safetensors,
    is corrupt, or comes from a later minigan (see the module docstring)."""
    path = os.fspath(path)
    _remove_stale_temporaries(path)
    with open(path, "rb") as file:
        file_size = os.fstat(file.fileno()).st_size
        prefix = file.read(8)
        if len(prefix) < 8:
            raise SerializationError(f"{path}: not a safetensors file ({len(prefix)} bytes, too short for a header)")
        (header_size,) = struct.unpack("<Q", prefix)
        if header_size > file_size - 8:
            raise SerializationError(
                f"{path}: not a safetensors file, or truncated (the header claims "
                f"{header_size} bytes, the file has {file_size - 8} after the size)"
            )
        if header_size > _MAX_HEADER_BYTES:
            raise SerializationError(
                f"{path}: not a safetensors file (a {header_size}-byte header; safetensors "
                f"allows at most {_MAX_HEADER_BYTES})"
            )
        header_bytes = file.read(header_size)
        data_size = file_size - 8 - header_size
        header = _parse_header(path, header_bytes, data_size)
        metadata = header.pop("__metadata__", None) or {}
        data = file.read(data_size + 1)  # one byte more: a file that grew since fstat is refused
    if len(header_bytes) != header_size or len(data) != data_size:
        raise SerializationError(f"{path}: the file changed size while being read")
    if _CHECKSUM_KEY in metadata:
        _verify_checksum(path, prefix, header_bytes, data, metadata[_CHECKSUM_KEY])
    arrays = {name: _array(path, data, name, entry) for name, entry in header.items()}
    if _META_KEY not in metadata:
        if _CHECKSUM_KEY in metadata:
            raise SerializationError(f"{path}: corrupt minigan file (a checksum but no '{_META_KEY}' metadata)")
        for key, value in metadata.items():  # the key names themselves damaged: still not a foreign file
            if value.startswith('{"format": '):
                raise SerializationError(
                    f"{path}: corrupt minigan file (its metadata key {key!r:.40} holds "
                    f"minigan's document; the key is '{_META_KEY}')"
                )
        order = sorted(header, key=lambda name: header[name]["data_offsets"][0])
        return OrderedDict((name, _as_tensor(path, name, arrays[name], device)) for name in order)
    skeleton = _read_document(path, metadata)
    unused = set(arrays)
    state = _unflatten(skeleton, arrays, unused, device, path, "state", 0)
    if unused:
        raise SerializationError(
            f"{path}: corrupt file: it holds tensors its metadata does not name: "
            + ", ".join(sorted(map(repr, unused))[:10])
        )
    return state


def _parse_header(path, header_bytes: bytes, data_size: int) -> dict:
    """The header as a dict, every entry checked: dtype, shape, offsets contiguous over the data section."""
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:  # ValueError: JSONDecodeError, huge ints
        raise SerializationError(
            f"{path}: not a safetensors file (its header is not JSON: {type(error).__name__}: {str(error)[:200]})"
        ) from None
    if not isinstance(header, dict):
        raise SerializationError(f"{path}: not a safetensors file (its header is not a JSON object)")
    metadata = header.get("__metadata__")
    if metadata is not None and not (isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())):
        raise SerializationError(
            f"{path}: corrupt safetensors header (__metadata__ must be an object of strings, got {str(metadata)[:100]})"
        )
    spans = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        where = f"{path}: corrupt safetensors header (tensor {name[:100]!r}"
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise SerializationError(f"{where}: an entry needs exactly dtype, shape and data_offsets)")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _DTYPES:
            raise SerializationError(f"{where}: dtype {dtype!r:.20} is not one of {', '.join(_DTYPES)})")
        if not (isinstance(shape, list) and all(_is_count(n) for n in shape)):
            raise SerializationError(f"{where}: shape {str(shape)[:100]} is not a list of sizes)")
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(_is_count(n) for n in offsets)
            and offsets[0] <= offsets[1]
        ):
            raise SerializationError(f"{where}: data_offsets {str(offsets)[:100]} is not a [begin, end] pair)")
        if offsets[1] > data_size:
            raise SerializationError(
                f"{path}: truncated safetensors file (tensor {name[:100]!r} ends at byte "
                f"{offsets[1]} of a {data_size}-byte data section)"
            )
        nbytes = math.prod(shape) * numpy.dtype(_DTYPES[dtype]).itemsize
        if nbytes != offsets[1] - offsets[0]:
            raise SerializationError(
                f"{where}: shape {shape} of {dtype} is {nbytes} bytes, its offsets span {offsets[1] - offsets[0]})"
            )
        spans.append((offsets[0], offsets[1], name))
    end = 0
    for begin, stop, name in sorted(spans):
        if begin != end:
            raise SerializationError(
                f"{path}: corrupt safetensors header (tensor {name[:100]!r} begins at byte "
                f"{begin}; the data before it ends at {end}: "
                f"{'overlapping' if begin < end else 'a gap'})"
            )
        end = stop
    if end != data_size:
        raise SerializationError(
            f"{path}: corrupt safetensors file (the tensors cover {end} bytes of a {data_size}-byte data section)"
        )
    return header


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _verify_checksum(path, prefix: bytes, header_bytes: bytes, data: bytes, digits) -> None:
    if not (isinstance(digits, str) and re.fullmatch(r"[0-9a-f]{8}", digits)):
        raise SerializationError(f"{path}: corrupt minigan file (its checksum {digits!r:.20} is not 8 hex digits)")
    field = _checksum_field(digits)
    if header_bytes.count(field) != 1:
        raise SerializationError(f"{path}: corrupt minigan file (its checksum field is not where minigan writes it)")
    blank = header_bytes.replace(field, _checksum_field(_CHECKSUM_PLACEHOLDER))
    found = zlib.crc32(data, zlib.crc32(blank, zlib.crc32(prefix)))
    if found != int(digits, 16):
        raise SerializationError(
            f"{path}: corrupt file: its CRC-32 is {found:08x}, the file says {digits} "
            "(changed since it was written: a flipped bit, a bad disk or copy)"
        )


def _array(path, data: bytes, name: str, entry: dict) -> numpy.ndarray:
    """A native-order copy of one tensor's bytes (offsets already checked against ``data``)."""
    dtype = numpy.dtype(_DTYPES[entry["dtype"]])
    begin, end = entry["data_offsets"]
    if begin == end:
        return numpy.zeros(entry["shape"], dtype=dtype.newbyteorder("="))
    array = numpy.frombuffer(data, dtype=dtype, count=(end - begin) // dtype.itemsize, offset=begin)
    if dtype == numpy.bool_ and numpy.frombuffer(data, numpy.uint8, end - begin, begin).max() > 1:
        raise SerializationError(f"{path}: corrupt file: BOOL tensor {name[:100]!r} holds bytes other than 0 and 1")
    return array.reshape(entry["shape"]).astype(dtype.newbyteorder("="), copy=True)


def _as_tensor(path, name: str, array: numpy.ndarray, device) -> Tensor:
    """A Tensor of ``array`` on ``device``; a dtype no Tensor holds (float16, say) is refused, naming it."""
    try:
        check_dtype(array.dtype)
    except TypeError as error:
        raise SerializationError(
            f"{path}: tensor {name!r:.100} is {array.dtype}, which a minigan Tensor cannot "
            f"hold ({error}); safetensors.numpy.load_file reads it as an array"
        ) from None
    return Tensor(backend.to_device(array, device))


def _read_document(path, metadata: dict):
    """The ``"state"`` skeleton of the minigan metadata, its format checked."""
    try:
        document = json.loads(metadata[_META_KEY])
    except (ValueError, RecursionError) as error:
        raise SerializationError(
            f"{path}: corrupt minigan metadata ({type(error).__name__}: {str(error)[:200]})"
        ) from None
    if not isinstance(document, dict) or "state" not in document or "format" not in document:
        raise SerializationError(
            f"{path}: corrupt minigan metadata (expected an object with 'format' and "
            f"'state', got {str(document)[:100]})"
        )
    unknown = sorted(set(document) - {"format", "state"})
    if unknown:
        raise SerializationError(f"{path}: corrupt minigan metadata (unknown entries {unknown})")
    version = document["format"]
    if not _is_count(version):
        raise SerializationError(f"{path}: corrupt minigan metadata (format {version!r:.20} is not a version number)")
    if version not in _READABLE_FORMATS:
        raise SerializationError(
            f"{path}: checkpoint format {version}, written by a newer minigan; this "
            f"minigan reads formats {' and '.join(map(str, _READABLE_FORMATS))}"
        )
    if version >= 2 and _CHECKSUM_KEY not in metadata:
        raise SerializationError(f"{path}: corrupt minigan file (format {version} without its checksum)")
    return document["state"]


def _unflatten(skeleton, arrays, unused, device, path, where, depth):
    """The state from its JSON skeleton; each named tensor is used once; anything malformed is refused."""
    if depth > _MAX_NESTING:
        raise SerializationError(
            f"{path}: corrupt minigan metadata (nested deeper than {_MAX_NESTING} at {where[:100]})"
        )
    depth += 1

    def malformed(what):
        return SerializationError(f"{path}: corrupt minigan metadata at {where[:100]}: {what}")

    if isinstance(skeleton, list):
        return [_unflatten(v, arrays, unused, device, path, f"{where}[{i}]", depth) for i, v in enumerate(skeleton)]
    if not isinstance(skeleton, dict):
        return skeleton  # str, int, float, bool, None: what JSON holds
    if "__tensor__" in skeleton:
        name, kind = skeleton["__tensor__"], skeleton.get("__kind__", "tensor")
        if set(skeleton) - {"__tensor__", "__kind__"} or kind not in ("tensor", "ndarray"):
            raise malformed(
                f"a tensor reference needs __tensor__ and __kind__ 'tensor' or 'ndarray', got {str(skeleton)[:100]}"
            )
        if not isinstance(name, str) or name not in arrays:
            raise SerializationError(
                f"{path}: corrupt file: the metadata names tensor {name!r:.100} which is not in the file"
            )
        if name not in unused:
            raise malformed(f"tensor {name[:100]!r} is named twice")
        unused.discard(name)
        return arrays[name] if kind == "ndarray" else _as_tensor(path, name, arrays[name], device)
    if "__dict__" in skeleton:
        items = skeleton["__dict__"]
        if (
            len(skeleton) != 1
            or not isinstance(items, list)
            or not all(
                isinstance(item, list)
                and len(item) == 2
                and (item[0] is None or isinstance(item[0], (str, int, float)))
                for item in items
            )
        ):
            raise malformed("__dict__ must be a list of [key, value] pairs with number, string, bool or null keys")
        return {k: _unflatten(v, arrays, unused, device, path, f"{where}[{k!r}]", depth) for k, v in items}
    if "__tuple__" in skeleton:
        items = skeleton["__tuple__"]
        if len(skeleton) != 1 or not isinstance(items, list):
            raise malformed("__tuple__ must be the only key, holding a list")
        return tuple(_unflatten(v, arrays, unused, device, path, f"{where}[{i}]", depth) for i, v in enumerate(items))
    reserved = [k for k in skeleton if k.startswith("__")]
    if reserved:
        raise malformed(f"unknown marker {reserved[0][:50]!r}")
    return {k: _unflatten(v, arrays, unused, device, path, f"{where}[{k!r}]", depth) for k, v in skeleton.items()}


def save_module(module: Module, path: PathLike) -> None:
    """Save a Module's ``state_dict()`` (keys as PyTorch names them)."""
    save(module.state_dict(), path)


def load_module(module: Module, path: PathLike, strict: bool = True) -> IncompatibleKeys:
    """Load a file written by ``save_module`` (or by ``safetensors.torch.save_file(torch_module.state_dict())``)
    into ``module``, onto the device its parameters live on."""
    return module.load_state_dict(load(path), strict=strict)
