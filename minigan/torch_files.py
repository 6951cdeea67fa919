"""Reading ``torch.save`` files (``.pth`` / ``.pt``) without unpickling anything.

    weights = load_torch_state_dict("netG.pth")       # {"main.0.weight": Tensor, ...}
    G.load_state_dict(weights)
    opt.load_state_dict(load_torch("optim.pth"))       # nested: {"state": {0: {...}}, "param_groups": [...]}

``mg.load(path)`` comes here by itself when ``path`` is a PyTorch zip file (see ``is_torch_zip``).

The format (PyTorch >= 1.6, ``torch.save``'s default): a zip archive ``NAME/data.pkl`` (the object as a
pickle, tensors replaced by persistent ids naming storages), ``NAME/data/<key>`` (each storage's raw bytes,
never compressed), ``NAME/byteorder`` ("little" or "big"; absent in old files, which were written
little-endian) and ``NAME/version``.

``data.pkl`` is never handed to ``pickle``: ``pickletools.genops`` splits it into opcodes and a small
stack machine below builds the object. It knows only the opcodes pickle emits for state dicts and
optimizer state dicts (dicts, lists, tuples, ints, floats, strings, bools, None, tensors) and only these
globals, each of which it rebuilds itself: ``collections.OrderedDict`` (as a dict),
``torch._utils._rebuild_tensor_v2`` and ``torch._utils._rebuild_parameter`` (as Tensors), and the
``torch.*Storage`` types of ``_STORAGE_DTYPES``. Any other global (``os.system``, a class of the user's
own) is refused when the pickle names it, before anything could use it; so is any other opcode.

Tensors come back as minigan Tensors on the CPU, each with its own contiguous copy of its values (views of
one storage, such as a transposed slice or two entries sharing a storage, read the right elements but do not
share memory afterwards; the same tensor stored under two keys is one Tensor object). Those copies may take
at most 16 times the file's size + 256 MiB in all, so a crafted stride-0 view cannot exhaust memory. float16
and bfloat16 storages are widened to float32 (exactly: every value is representable); every other storage
keeps its dtype. An ``OrderedDict``'s attached ``_metadata`` (module versions) is dropped.

Every problem -- not a zip, the legacy (pre-1.6) format, a corrupt zip, a missing or truncated storage, an
unknown global or opcode, a view reaching outside its storage -- is a :class:`TorchFileError` (a
ValueError) naming the file and, where there is one, the storage key.
"""

from __future__ import annotations

import math
import os
import pickletools
import re
import zipfile
from typing import TYPE_CHECKING, Any

import numpy

from .tensor import Tensor

if TYPE_CHECKING:
    from .typing import Device, PathLike

__all__ = ["load_torch", "load_torch_state_dict", "is_torch_zip", "TorchFileError"]

# what torch.save's legacy (non-zip) format starts with: pickle protocol 2, then its magic number as a long
_LEGACY_PREFIX = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
_ZIP_MAGIC = b"PK\x03\x04"
_MAX_STACK = 100_000  # a state dict's pickle keeps a few dozen items on the stack
_MAX_MEMO = 10_000_000
# Each tensor gets its own copy, so views of one storage (stride 0, or the same storage viewed many times)
# could ask for far more memory than the file holds; their copies may take this much in all. A state dict's
# tensors take about the file's size (float16/bfloat16 widened: twice that).
_MATERIALIZED_PER_FILE_BYTE = 16
_MATERIALIZED_EXTRA = 256 << 20

# torch.<Name>Storage -> (NumPy dtype of the bytes, little-endian; the dtype the Tensor gets)
_STORAGE_DTYPES = {
    "DoubleStorage": ("<f8", "float64"),
    "FloatStorage": ("<f4", "float32"),
    "HalfStorage": ("<f2", "float32"),
    "BFloat16Storage": ("<u2", "float32"),
    "LongStorage": ("<i8", "int64"),
    "IntStorage": ("<i4", "int32"),
    "ShortStorage": ("<i2", "int16"),
    "CharStorage": ("i1", "int8"),
    "ByteStorage": ("u1", "uint8"),
    "BoolStorage": ("?", "bool"),
}


class TorchFileError(ValueError):
    """A file that is not a PyTorch zip checkpoint this reader accepts (corrupt, hostile or unsupported)."""


class _Global:
    """A global the pickle named and this reader allows; REDUCE calls this reader's own rebuild for it."""

    def __init__(self, name):
        self.name = name


class _StorageType(_Global):
    def __init__(self, name):
        super().__init__(f"torch.{name}")
        self.file_dtype, self.dtype = _STORAGE_DTYPES[name]
        self.storage_name = name


class _Storage:
    """A storage's elements (a 1-D NumPy array, native byte order, the storage's own dtype)."""

    def __init__(self, key, elements):
        self.key = key
        self.elements = elements


class _OrderedDict(dict):
    """The dict an OrderedDict REDUCE makes: a plain dict, marked so that BUILD may drop its _metadata."""


_ORDERED_DICT = _Global("collections.OrderedDict")
_REBUILD_TENSOR = _Global("torch._utils._rebuild_tensor_v2")
_REBUILD_PARAMETER = _Global("torch._utils._rebuild_parameter")
_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): _ORDERED_DICT,
    ("torch._utils", "_rebuild_tensor_v2"): _REBUILD_TENSOR,
    ("torch._utils", "_rebuild_parameter"): _REBUILD_PARAMETER,
    **{("torch", name): _StorageType(name) for name in _STORAGE_DTYPES},
}
_MARK = object()
_LOCATION = re.compile(r"(cpu|cuda|mps|xpu)(:[0-9]+)?")


def is_torch_zip(path: PathLike) -> bool:
    """Whether ``path`` starts like a zip archive (what ``torch.save`` writes) rather than a safetensors
    file. A safetensors file's byte 8 is the "{" opening its JSON header; a zip's is its compression
    method, never "{", so the two cannot be confused."""
    with open(path, "rb") as file:
        head = file.read(9)
    return head[:4] == _ZIP_MAGIC and head[8:9] != b"{"


def is_legacy_torch_file(path: PathLike) -> bool:
    """Whether ``path`` is in ``torch.save``'s pre-1.6 format (a bare pickle stream), which is not read."""
    with open(path, "rb") as file:
        return file.read(len(_LEGACY_PREFIX)) == _LEGACY_PREFIX


def load_torch_state_dict(path: PathLike) -> dict[str, Tensor]:
    """A ``torch.save(model.state_dict(), path)`` file as ``{name: Tensor}`` (the order of the file), ready
    for ``Module.load_state_dict``. A file holding anything else (an optimizer's nested state, a bare
    tensor) is refused naming what it holds: read such files with :func:`load_torch`."""
    state = load_torch(path)
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()):
        what = type(state).__name__ if not isinstance(state, dict) else "a dict whose values are not all tensors"
        raise TorchFileError(
            f"load_torch_state_dict: {path} holds {what}, not a state dict of name -> tensor "
            "(load_torch reads any nesting of dicts, lists and tensors)"
        )
    return state


def load_torch(path: PathLike, device: Device = "cpu") -> Any:
    """The object a ``torch.save`` zip file holds, with minigan Tensors (on ``device``) for its tensors; see
    the module docstring for what is accepted."""
    path = str(path)
    with open(path, "rb") as file:
        head = file.read(len(_LEGACY_PREFIX))
    if head == _LEGACY_PREFIX:
        raise TorchFileError(
            f"{path}: PyTorch's legacy (pre-1.6, non-zip) format is not read; re-save it from "
            "PyTorch with torch.save(obj, path) (the zip format) or as a safetensors file"
        )
    if head[:4] != _ZIP_MAGIC:
        raise TorchFileError(
            f"{path}: not a PyTorch zip file (torch.save's format starts with 'PK\\x03\\x04', "
            f"this file starts with {head[:4]!r})"
        )
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise TorchFileError(f"{path}: corrupt zip archive ({error})") from None
    with archive:
        prefix = _archive_prefix(archive, path)
        byteorder = _byteorder(archive, prefix, path)
        pickle_bytes = _read_record(archive, f"{prefix}data.pkl", path)
        budget = _MATERIALIZED_PER_FILE_BYTE * os.path.getsize(path) + _MATERIALIZED_EXTRA
        state = _Unpickler(archive, prefix, byteorder, path, budget).run(pickle_bytes)
    return state if device == "cpu" else _to_device(state, device, {})


def _to_device(state, device, moved):
    """``state`` with every Tensor moved to ``device`` (a tensor reached twice is moved once)."""
    if isinstance(state, Tensor):
        if id(state) not in moved:
            moved[id(state)] = state.to(device)
        return moved[id(state)]
    if isinstance(state, dict):
        return {key: _to_device(value, device, moved) for key, value in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(_to_device(value, device, moved) for value in state)
    return state


def _archive_prefix(archive, path):
    """The folder holding data.pkl (torch.save names it after the file, e.g. "netG/")."""
    pickles = [name for name in archive.namelist() if name.endswith("data.pkl") and name.count("/") <= 1]
    if len(pickles) != 1:
        raise TorchFileError(
            f"{path}: a PyTorch zip file holds exactly one data.pkl, this one has "
            f"{len(pickles)} ({', '.join(pickles[:5]) or 'none'})"
        )
    return pickles[0][: -len("data.pkl")]


def _byteorder(archive, prefix, path):
    name = f"{prefix}byteorder"
    if name not in archive.namelist():
        return "little"  # files from before torch wrote this record are little-endian
    order = _read_record(archive, name, path).decode("ascii", "replace")
    if order not in ("little", "big"):
        raise TorchFileError(f"{path}: byteorder record says {order[:40]!r}, expected 'little' or 'big'")
    return order


def _read_record(archive, name, path, expected_size=None):
    """The bytes of one zip member, checked: present, stored uncompressed (torch.save never compresses, so
    a compressed member can only be a corrupt or crafted file), of the expected size, CRC intact."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise TorchFileError(f"{path}: the archive has no record {name!r}") from None
    if info.compress_type != zipfile.ZIP_STORED:
        raise TorchFileError(f"{path}: record {name!r} is compressed; torch.save stores records uncompressed")
    if expected_size is not None and info.file_size != expected_size:
        raise TorchFileError(
            f"{path}: record {name!r} has {info.file_size} bytes, its storage needs "
            f"{expected_size} ({'truncated' if info.file_size < expected_size else 'too long'})"
        )
    try:
        data = archive.read(name)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError, NotImplementedError) as error:
        # RuntimeError / NotImplementedError: zipfile's answers to an encryption flag (torch never encrypts)
        raise TorchFileError(f"{path}: record {name!r} cannot be read: {error}") from None
    if len(data) != info.file_size:
        raise TorchFileError(f"{path}: record {name!r} is truncated ({len(data)} of {info.file_size} bytes)")
    return data


def _describe(item):
    """How a message names a stack item: a global by its name, the mark as "a MARK", else its type."""
    if isinstance(item, _Global):
        return item.name
    if item is _MARK:
        return "a MARK"
    return f"a {'dict' if isinstance(item, _OrderedDict) else type(item).__name__}"


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


class _Unpickler:
    """The stack machine: one method per supported opcode, named after it."""

    def __init__(self, archive, prefix, byteorder, path, budget):
        self.archive, self.prefix, self.byteorder, self.path = archive, prefix, byteorder, path
        self.stack, self.memo, self.storages = [], {}, {}
        self.budget = budget  # bytes the tensors' own copies may take in all

    def fail(self, message):
        raise TorchFileError(f"{self.path}: data.pkl: {message}")

    def run(self, pickle_bytes):
        try:
            for opcode, argument, position in pickletools.genops(pickle_bytes):
                handler = getattr(self, f"op_{opcode.name}", None)
                if handler is None:
                    self.fail(f"opcode {opcode.name} at byte {position} is not one torch.save uses for state dicts")
                if handler(argument):
                    break
                if len(self.stack) > _MAX_STACK:
                    self.fail("the stack grows beyond any state dict's")
        except TorchFileError:
            raise
        except (ValueError, TypeError, IndexError, KeyError, RecursionError) as error:
            self.fail(f"malformed pickle ({type(error).__name__}: {error})")
        if len(self.stack) != 1:
            self.fail(f"STOP with {len(self.stack)} items on the stack, expected 1")
        return self.stack.pop()

    # --- stack helpers ----------------------------------------------------------------------------------
    def pop(self):
        if not self.stack or self.stack[-1] is _MARK:
            self.fail("an opcode needs an item the stack does not have")
        return self.stack.pop()

    def pop_to_mark(self):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i] is _MARK:
                items = self.stack[i + 1 :]
                del self.stack[i:]
                return items
        self.fail("an opcode needs a MARK the stack does not have")

    def top(self, kind, opcode):
        if not self.stack or not isinstance(self.stack[-1], kind) or self.stack[-1] is _MARK:
            self.fail(f"{opcode} on {_describe(self.stack[-1]) if self.stack else 'an empty stack'}")
        return self.stack[-1]

    # --- framing and constants ----------------------------------------------------------------------------
    def op_PROTO(self, version):
        if version > 5:
            self.fail(f"pickle protocol {version} is newer than any this reader knows")

    def op_FRAME(self, _):
        pass

    def op_STOP(self, _):
        return True

    def op_MARK(self, _):
        self.stack.append(_MARK)

    def _push(self, value):
        self.stack.append(value)

    op_BININT = op_BININT1 = op_BININT2 = op_LONG1 = op_LONG4 = op_BINFLOAT = _push
    op_BINUNICODE = op_SHORT_BINUNICODE = op_BINUNICODE8 = _push

    def op_NONE(self, _):
        self.stack.append(None)

    def op_NEWTRUE(self, _):
        self.stack.append(True)

    def op_NEWFALSE(self, _):
        self.stack.append(False)

    # --- containers -----------------------------------------------------------------------------------------
    def op_EMPTY_DICT(self, _):
        self.stack.append({})

    def op_EMPTY_LIST(self, _):
        self.stack.append([])

    def op_EMPTY_TUPLE(self, _):
        self.stack.append(())

    def op_TUPLE(self, _):
        self.stack.append(tuple(self.pop_to_mark()))

    def op_TUPLE1(self, _):
        self.stack.append((self.pop(),))

    def op_TUPLE2(self, _):
        second, first = self.pop(), self.pop()
        self.stack.append((first, second))

    def op_TUPLE3(self, _):
        third, second, first = self.pop(), self.pop(), self.pop()
        self.stack.append((first, second, third))

    def op_LIST(self, _):
        self.stack.append(self.pop_to_mark())

    def op_DICT(self, _):
        items = self.pop_to_mark()
        self.stack.append(self._pairs_into({}, items, "DICT"))

    def op_SETITEM(self, _):
        value, key = self.pop(), self.pop()
        self._pairs_into(self.top(dict, "SETITEM"), [key, value], "SETITEM")

    def op_SETITEMS(self, _):
        items = self.pop_to_mark()
        self._pairs_into(self.top(dict, "SETITEMS"), items, "SETITEMS")

    def _pairs_into(self, target, items, opcode):
        if len(items) % 2:
            self.fail(f"{opcode} with an odd number of items")
        for key, value in zip(items[::2], items[1::2]):
            if not isinstance(key, (str, int, float, tuple)):
                self.fail(f"{opcode}: a dict key of type {type(key).__name__}")
            target[key] = value
        return target

    def op_APPEND(self, _):
        value = self.pop()
        self.top(list, "APPEND").append(value)

    def op_APPENDS(self, _):
        items = self.pop_to_mark()
        self.top(list, "APPENDS").extend(items)

    # --- memo ---------------------------------------------------------------------------------------------
    def _put(self, index):
        if not self.stack or self.stack[-1] is _MARK:
            self.fail("memoizing an empty stack")
        if len(self.memo) >= _MAX_MEMO:
            self.fail("the memo grows beyond any state dict's")
        self.memo[index] = self.stack[-1]

    op_BINPUT = op_LONG_BINPUT = _put

    def op_MEMOIZE(self, _):
        self._put(len(self.memo))

    def op_BINGET(self, index):
        if index not in self.memo:
            self.fail(f"BINGET of memo entry {index}, which was never stored")
        self.stack.append(self.memo[index])

    op_LONG_BINGET = op_BINGET

    # --- globals, persistent ids and the calls they allow ------------------------------------------------------
    def _global(self, module, name):
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            self.fail(
                f"refusing global {module}.{name}: only collections.OrderedDict, "
                "torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and torch storage "
                "types are allowed (nothing in this file was run)"
            )
        self.stack.append(allowed)

    def op_GLOBAL(self, argument):
        module, _, name = argument.partition(" ")
        self._global(module, name)

    def op_STACK_GLOBAL(self, _):
        name, module = self.pop(), self.pop()
        if not isinstance(module, str) or not isinstance(name, str):
            self.fail("STACK_GLOBAL with a module or name that is not a string")
        self._global(module, name)

    def op_BINPERSID(self, _):
        self.stack.append(self._storage(self.pop()))

    def op_REDUCE(self, _):
        arguments, function = self.pop(), self.pop()
        if not isinstance(arguments, tuple):
            self.fail(f"REDUCE with arguments of type {type(arguments).__name__}")
        if function is _ORDERED_DICT:
            if arguments not in ((), ([],)):
                self.fail("OrderedDict called with arguments (torch.save passes none)")
            self.stack.append(_OrderedDict())
        elif function is _REBUILD_TENSOR:
            self.stack.append(self._rebuild_tensor(*self._tensor_arguments(arguments)))
        elif function is _REBUILD_PARAMETER:
            if len(arguments) != 3 or not isinstance(arguments[0], Tensor) or not isinstance(arguments[1], bool):
                self.fail("_rebuild_parameter needs (tensor, requires_grad, hooks)")
            self._no_hooks(arguments[2])
            tensor = arguments[0]
            tensor.requires_grad = arguments[1] and tensor.dtype.kind == "f"
            self.stack.append(tensor)
        else:
            self.fail(
                f"refusing to call {_describe(function)} (only OrderedDict, _rebuild_tensor_v2 and "
                "_rebuild_parameter are rebuilt)"
            )

    def op_BUILD(self, _):
        state = self.pop()
        target = self.top(object, "BUILD")
        if not isinstance(target, _OrderedDict) or not isinstance(state, dict) or set(state) - {"_metadata"}:
            self.fail(f"BUILD of {_describe(target)} (only an OrderedDict's _metadata is accepted)")

    # --- tensors --------------------------------------------------------------------------------------------
    def _no_hooks(self, hooks):
        if not isinstance(hooks, dict) or hooks:
            self.fail("a tensor with backward hooks (state dicts have none)")

    def _tensor_arguments(self, arguments):
        """(storage, offset, size, stride) out of _rebuild_tensor_v2's arguments, checked."""
        if len(arguments) not in (6, 7):
            self.fail(f"_rebuild_tensor_v2 with {len(arguments)} arguments, expected 6 or 7")
        storage, offset, size, stride, requires_grad, hooks = arguments[:6]
        if not isinstance(storage, _Storage):
            self.fail("_rebuild_tensor_v2 whose first argument is not a storage")
        if not isinstance(requires_grad, bool):
            self.fail("_rebuild_tensor_v2: requires_grad is not a bool")
        self._no_hooks(hooks)
        if len(arguments) == 7 and not isinstance(arguments[6], (dict, type(None))):
            self.fail("_rebuild_tensor_v2: metadata is not a dict")
        where = f"tensor on storage {storage.key!r}"
        if not _is_int(offset) or offset < 0:
            self.fail(f"{where}: storage offset {offset!r} is not an integer >= 0")
        for name, values in (("size", size), ("stride", stride)):
            if not isinstance(values, tuple) or not all(_is_int(v) and v >= 0 for v in values):
                self.fail(f"{where}: {name} {values!r} is not a tuple of integers >= 0")
        if len(size) != len(stride):
            self.fail(f"{where}: size {size} and stride {stride} differ in length")
        return storage, offset, size, stride

    def _rebuild_tensor(self, storage, offset, size, stride):
        elements = storage.elements
        nbytes = math.prod(size) * elements.itemsize
        self.budget -= nbytes
        if self.budget < 0:
            self.fail(
                f"tensor on storage {storage.key!r} of size {size} would take the tensors' copies past "
                f"{_MATERIALIZED_PER_FILE_BYTE} times the file's size + {_MATERIALIZED_EXTRA >> 20} MiB "
                "(stride-0 or repeated views of a small storage)"
            )
        if 0 not in size:
            last = offset + sum((n - 1) * s for n, s in zip(size, stride))
            if last >= elements.size:
                self.fail(
                    f"tensor on storage {storage.key!r}: size {size}, stride {stride} and offset {offset} "
                    f"reach element {last}, the storage has {elements.size}"
                )
            view = numpy.lib.stride_tricks.as_strided(
                elements[offset:], shape=size, strides=tuple(s * elements.itemsize for s in stride), writeable=False
            )
            return Tensor(numpy.array(view, order="C"))
        return Tensor(numpy.zeros(size, dtype=elements.dtype))

    def _storage(self, persistent_id):
        """The storage a persistent id ("storage", type, key, location, numel) names, read once per key."""
        if (
            not isinstance(persistent_id, tuple)
            or len(persistent_id) != 5
            or persistent_id[0] != "storage"
            or not isinstance(persistent_id[1], _StorageType)
            or not isinstance(persistent_id[2], str)
            or not isinstance(persistent_id[3], str)
            or not _is_int(persistent_id[4])
            or persistent_id[4] < 0
        ):
            self.fail(
                f"persistent id {persistent_id!r:.200} is not ('storage', torch.<T>Storage, key, location, numel)"
            )
        _, kind, key, location, numel = persistent_id
        if not _LOCATION.fullmatch(location):  # where it lived when saved; minigan reads it onto the CPU
            self.fail(f"storage {key!r} has location {location[:40]!r}, not a PyTorch device such as 'cpu' or 'cuda:0'")
        if key in self.storages:
            if self.storages[key][0] is not kind:
                self.fail(f"storage {key!r} is named with two types ({self.storages[key][0].name}, {kind.name})")
            return self.storages[key][1]
        file_dtype = numpy.dtype(kind.file_dtype)
        if self.byteorder == "big":
            file_dtype = file_dtype.newbyteorder(">")
        raw = _read_record(self.archive, f"{self.prefix}data/{key}", self.path, numel * file_dtype.itemsize)
        elements = numpy.frombuffer(raw, dtype=file_dtype)
        if kind.storage_name == "BFloat16Storage":  # bfloat16 is the top half of a float32
            elements = (elements.astype(numpy.uint32) << 16).view(numpy.float32)
        else:
            elements = elements.astype(kind.dtype)  # native byte order; float16 widened exactly
        storage = _Storage(key, elements)
        self.storages[key] = (kind, storage)
        return storage
