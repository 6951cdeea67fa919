"""``save(state, path)`` / ``load(path, device)``: checkpoints as safetensors files, never pickle.

The file is a plain safetensors file (PyTorch users read it with ``safetensors.torch.load_file``):

* every tensor/array in ``state`` (a nested dict; lists and tuples too) is a safetensors entry whose key is
  its dotted path (``{"model": {"0.weight": W}}`` -> ``"model.0.weight"``);
* everything else (ints, floats, strings, bools, None, lists, the nesting itself, dict keys that are not
  strings, such as the ints of an optimizer's ``state``) is JSON in the header's ``__metadata__`` under the
  key ``"minigan"``: the structure with each tensor replaced by ``{"__tensor__": key}``.

A file without that metadata (written by PyTorch, say) loads as a flat dict of key -> Tensor, which
``Module.load_state_dict`` takes directly.

Writes are atomic: the bytes go to a temporary file in the same directory, which is fsynced and then
renamed over ``path`` (``os.replace``), so a crash leaves either the old file or the new one, never half.
"""
from __future__ import annotations

import json
import os
import struct
import tempfile
from collections import OrderedDict

import numpy

from . import backend
from .tensor import Tensor

__all__ = ["save", "load", "save_module", "load_module", "SerializationError"]

_META_KEY = "minigan"
_FORMAT = 1


class SerializationError(ValueError):
    """A file that is not a readable safetensors checkpoint (corrupt, truncated, or another format)."""


def _is_array(value):
    return isinstance(value, (Tensor, numpy.ndarray)) or backend.is_cupy_array(value)


def _to_numpy(value):
    array = value.data if isinstance(value, Tensor) else value
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
    if hasattr(value, "detach") and hasattr(value, "numpy") and hasattr(value, "shape"):     # a torch tensor
        return _flatten(value.detach().cpu().numpy(), key, tensors)
    if isinstance(value, dict):
        prefix = key + "." if key else ""
        items = [(k, _flatten(v, prefix + str(k), tensors)) for k, v in value.items()]
        if all(isinstance(k, str) and not k.startswith("__") for k, _ in items):
            return dict(items)
        for k, _ in items:
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise TypeError(f"save: dict key {k!r} at {key or 'top level'!r} is a {type(k).__name__}; "
                                "keys must be strings, ints, floats or bools")
        return {"__dict__": [[k, v] for k, v in items]}
    if isinstance(value, (list, tuple)):
        prefix = key + "." if key else ""
        items = [_flatten(v, prefix + str(i), tensors) for i, v in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, numpy.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"save: cannot store a {type(value).__name__} at {key or 'top level'!r}: only tensors, "
                    "arrays, numbers, strings, bools, None, lists, tuples and dicts (never pickle)")


def _unflatten(skeleton, tensors, device):
    if isinstance(skeleton, dict):
        if "__tensor__" in skeleton:
            array = tensors[skeleton["__tensor__"]]
            if skeleton.get("__kind__") == "ndarray":
                return array
            return Tensor(backend.to_device(array, device))
        if "__dict__" in skeleton:
            return {k: _unflatten(v, tensors, device) for k, v in skeleton["__dict__"]}
        if "__tuple__" in skeleton:
            return tuple(_unflatten(v, tensors, device) for v in skeleton["__tuple__"])
        return {k: _unflatten(v, tensors, device) for k, v in skeleton.items()}
    if isinstance(skeleton, list):
        return [_unflatten(v, tensors, device) for v in skeleton]
    return skeleton


def save(state, path) -> None:
    """Write ``state`` (a dict of Tensors/arrays, numbers, strings, nested dicts/lists) to ``path``
    atomically as a safetensors file (see the module docstring for the layout)."""
    if not isinstance(state, dict):
        raise TypeError(f"save: state must be a dict, got {type(state).__name__}")
    from safetensors.numpy import save as to_bytes
    tensors: dict = {}
    skeleton = _flatten(state, "", tensors)
    metadata = {_META_KEY: json.dumps({"format": _FORMAT, "state": skeleton})}
    payload = to_bytes(tensors, metadata=metadata)
    _atomic_write(os.fspath(path), payload)


def _atomic_write(path, payload: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".",
                                         suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(payload)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    try:                                    # make the rename itself durable
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:                         # some file systems / platforms cannot fsync a directory
        pass


def _read_header(path, payload: bytes) -> dict:
    """Check the safetensors framing ourselves, so that every failure names the file."""
    if len(payload) < 8:
        raise SerializationError(f"{path}: not a safetensors file ({len(payload)} bytes, too short for "
                                 "a header)")
    (header_size,) = struct.unpack("<Q", payload[:8])
    if header_size > len(payload) - 8:
        raise SerializationError(f"{path}: not a safetensors file, or truncated (the header claims "
                                 f"{header_size} bytes, the file has {len(payload) - 8} after the size)")
    try:
        header = json.loads(payload[8:8 + header_size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SerializationError(f"{path}: not a safetensors file (its header is not JSON: {error})") from None
    if not isinstance(header, dict):
        raise SerializationError(f"{path}: not a safetensors file (its header is not a JSON object)")
    data_size = len(payload) - 8 - header_size
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and 0 <= offsets[0] <= offsets[1]):
            raise SerializationError(f"{path}: corrupt safetensors header (entry {name!r})")
        if offsets[1] > data_size:
            raise SerializationError(f"{path}: truncated safetensors file (tensor {name!r} ends at byte "
                                     f"{offsets[1]} of a {data_size}-byte data section)")
    return header


def load(path, device="cpu"):
    """Read a file written by ``save`` (the nested state, Tensors on ``device``), or any safetensors file
    (a flat OrderedDict of key -> Tensor). Refuses, naming the file, anything that is not safetensors."""
    path = os.fspath(path)
    with open(path, "rb") as file:
        payload = file.read()
    header = _read_header(path, payload)
    from safetensors.numpy import load as from_bytes
    try:
        arrays = from_bytes(payload)
    except Exception as error:      # safetensors raises its own SafetensorError; keep its message
        raise SerializationError(f"{path}: corrupt safetensors file ({type(error).__name__}: {error})") from None
    metadata = header.get("__metadata__") or {}
    if _META_KEY not in metadata:
        order = sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])
        return OrderedDict((k, Tensor(backend.to_device(numpy.array(arrays[k]), device))) for k in order)
    try:
        document = json.loads(metadata[_META_KEY])
        skeleton = document["state"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise SerializationError(f"{path}: corrupt minigan metadata ({error})") from None
    try:
        return _unflatten(skeleton, {k: numpy.array(v) for k, v in arrays.items()}, device)
    except KeyError as error:
        raise SerializationError(f"{path}: corrupt file: the metadata names tensor {error} which is "
                                 "not in the file") from None


def save_module(module, path) -> None:
    """Save a Module's ``state_dict()`` (keys as PyTorch names them)."""
    save(module.state_dict(), path)


def load_module(module, path, strict: bool = True):
    """Load a file written by ``save_module`` (or by ``safetensors.torch.save_file(torch_module.state_dict())``)
    into ``module``, onto the device its parameters live on."""
    return module.load_state_dict(load(path), strict=strict)
