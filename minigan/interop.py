"""Moving arrays and whole training states between minigan and other array libraries — PyTorch above all —
without importing those libraries unless the caller asks for their objects.

    model.load_state_dict(torch_model.state_dict())              # any __dlpack__ / __array__ values
    torch_opt.load_state_dict(interop.optimizer_state_to_torch(opt.state_dict()))
    opt.load_state_dict(interop.from_foreign(torch_opt.state_dict()))

Files: ``mg.load`` reads ``torch.save``'s ``.pth``/``.pt`` zip files without unpickling
(``minigan.torch_files``), and PyTorch reads ``mg.save``'s safetensors files with
``safetensors.torch.load_file``.

``as_array`` is the one converter: a minigan Tensor gives its array; a NumPy or CuPy array is itself;
anything else that speaks DLPack (PyTorch, JAX, CuPy) is imported without a copy where the device allows
(CPU tensors as NumPy arrays, CUDA tensors as CuPy arrays); anything with ``__array__`` goes through NumPy.
PyTorch tensors that require grad are detached first (the values are what a state dict means).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy

from . import backend
from .tensor import Tensor

if TYPE_CHECKING:
    from .typing import Array, Device, DType

__all__ = ["as_array", "as_tensor", "from_numpy", "from_foreign", "to_torch", "optimizer_state_to_torch"]

_DLPACK_CPU, _DLPACK_CUDA = 1, 2  # DLPack device types (dlpack.h: kDLCPU, kDLCUDA)


def as_array(value: Any) -> Array:
    """``value`` as a NumPy or CuPy array (see the module docstring); a TypeError names what it got."""
    if isinstance(value, Tensor):
        return value.array
    if isinstance(value, numpy.ndarray) or backend.is_cupy_array(value):
        return value
    if callable(getattr(value, "detach", None)) and getattr(value, "requires_grad", False):
        value = value.detach()  # a PyTorch tensor in a graph
    if hasattr(value, "__dlpack__") and hasattr(value, "__dlpack_device__"):
        device_type = int(value.__dlpack_device__()[0])
        if device_type == _DLPACK_CPU:
            try:
                return numpy.from_dlpack(value)
            except (TypeError, BufferError, RuntimeError):
                pass  # e.g. a dtype NumPy cannot hold: below
        elif device_type == _DLPACK_CUDA:
            return backend.cupy_module().from_dlpack(value)
    if hasattr(value, "__array__"):
        return numpy.asarray(value)
    if isinstance(value, (bool, int, float, numpy.generic)):
        return numpy.asarray(value)
    raise TypeError(
        f"as_array: cannot read an array out of a {type(value).__module__}.{type(value).__name__} "
        "(expected a Tensor, a NumPy/CuPy array, or an object with __dlpack__ or __array__)"
    )


def from_numpy(array: numpy.ndarray) -> Tensor:
    """A Tensor sharing ``array``'s memory (``torch.from_numpy``): writes through either are seen by both."""
    if not isinstance(array, numpy.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__module__}.{type(array).__name__}")
    return Tensor(array)


def as_tensor(data: Any, dtype: DType | None = None, device: Device | None = None) -> Tensor:
    """``torch.as_tensor``: a Tensor sharing ``data``'s memory when it already has the dtype and device asked
    for (a Tensor, NumPy/CuPy array, or DLPack/``__array__`` object), else a converted copy; lists and
    numbers become new tensors (Python floats as float32, as ``mg.tensor``)."""
    from .tensor import check_dtype, tensor

    if isinstance(data, (list, tuple, bool, int, float)):
        return tensor(data, dtype=dtype, device=device or "cpu")
    if isinstance(data, Tensor) and dtype is None and device in (None, data.device):
        return data
    array = as_array(data)
    if dtype is not None:
        dtype = check_dtype(dtype, "as_tensor")
        if array.dtype != dtype:
            array = array.astype(dtype)
    if device is not None and backend.device_of(array) != device:
        array = backend.to_device(array, device)
    return Tensor(array)


def _is_foreign_array(value):
    return not isinstance(value, (Tensor, numpy.ndarray, str, bytes, bool, int, float)) and (
        hasattr(value, "__dlpack__") or hasattr(value, "__array__")
    )


def from_foreign(state: Any) -> Any:
    """A nested state (dicts, lists, tuples) with every foreign array (PyTorch, JAX, ...) replaced by a
    minigan Tensor; 0-d ones (e.g. PyTorch's Adam ``step``) become Python numbers."""
    if isinstance(state, dict):
        return {key: from_foreign(value) for key, value in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(from_foreign(value) for value in state)
    if _is_foreign_array(state):
        array = as_array(state)
        return array.item() if array.ndim == 0 else Tensor(array.copy())
    return state


def to_torch(state: Any) -> Any:
    """A nested state with every minigan Tensor and NumPy/CuPy array replaced by a PyTorch tensor (CPU
    arrays share memory where they can; CUDA ones go through DLPack). Imports torch: call it only to hand
    the state to PyTorch."""
    import torch

    if isinstance(state, dict):
        return {key: to_torch(value) for key, value in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(to_torch(value) for value in state)
    if isinstance(state, Tensor) or isinstance(state, numpy.ndarray) or backend.is_cupy_array(state):
        array = as_array(state)
        return (
            torch.from_numpy(numpy.ascontiguousarray(array))
            if isinstance(array, numpy.ndarray)
            else torch.from_dlpack(array)
        )
    return state


def optimizer_state_to_torch(state_dict: dict[str, Any]) -> dict[str, Any]:
    """A minigan optimizer's ``state_dict()`` (or the same read back by ``mg.load``) in the form PyTorch's
    optimizer of the same kind loads: integer parameter indices as keys, each ``step`` a float32 0-d tensor,
    moment buffers as tensors, group hyper-parameters as they are (PyTorch fills the ones it adds itself,
    such as ``foreach``). minigan's own bookkeeping keys (e.g. the optimizer's name) are left out."""
    import torch

    if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
        raise ValueError("optimizer_state_to_torch: expected an optimizer state_dict with 'state' and 'param_groups'")
    state = {}
    for index, entry in state_dict["state"].items():
        converted = {}
        for name, value in entry.items():
            if name == "step":
                converted[name] = torch.tensor(
                    float(as_array(value)) if not isinstance(value, (int, float)) else float(value), dtype=torch.float32
                )
            else:
                converted[name] = to_torch(value)
        state[int(index)] = converted
    groups = []
    for group in state_dict["param_groups"]:
        group = dict(group)
        group["params"] = [int(i) for i in group["params"]]
        if "betas" in group:
            group["betas"] = tuple(float(b) for b in group["betas"])
        groups.append(group)
    return {"state": state, "param_groups": groups}
