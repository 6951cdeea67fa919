"""The only place that knows NumPy from CuPy.

A minigan array lives either on the CPU (a ``numpy.ndarray``) or on an NVIDIA GPU (a ``cupy.ndarray``).
Library code never calls ``numpy.`` on tensor data directly: it asks ``get_array_module(array)`` for the
module (``xp``) and calls ``xp.``, so the GPU path is the same code.

Device strings follow PyTorch: ``"cpu"`` and ``"cuda"`` / ``"cuda:N"``.

CuPy is imported lazily, the first time a ``cuda`` device is asked for, so that ``import minigan`` works
on a machine without CuPy or without a GPU; the error then says what is missing and how to install it.

Random numbers: one ``Generator`` per device (``generator(device)``), reseeded together by
``manual_seed(seed)``. They are the only module-level state here, and they are named and documented.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy

import minigan_kernels as kernels  # kernels/, installed as minigan_kernels: arrays in, arrays out; never imports minigan

if TYPE_CHECKING:
    from types import ModuleType

    from .typing import Array, Device

__all__ = [
    "get_array_module",
    "is_cupy_array",
    "device_of",
    "parse_device",
    "to_device",
    "cupy_module",
    "generator",
    "manual_seed",
    "get_rng_state",
    "set_rng_state",
    "kernels_for",
    "info",
    "cpu_threads",
]


def is_cupy_array(array: Any) -> bool:
    """True for a ``cupy.ndarray``, decided without importing CuPy."""
    cls = type(array)
    return cls is not numpy.ndarray and cls.__module__.startswith("cupy")  # NumPy's arrays: one test


def get_array_module(*arrays: Any) -> ModuleType:
    """Return ``numpy`` or ``cupy``: the module that owns the given arrays (``numpy`` for none/scalars)."""
    for array in arrays:
        if type(array) is not numpy.ndarray and is_cupy_array(array):
            return cupy_module()
    return numpy


_cupy = None


def cupy_module() -> ModuleType:
    """Import CuPy on first use, with an error that says what is missing."""
    global _cupy
    if _cupy is None:
        try:
            import cupy  # noqa: WPS433 (lazy on purpose: most users have no GPU)
        except ImportError as error:
            raise RuntimeError(
                "device 'cuda' needs CuPy, which is not installed: pip install 'minigan[cuda]' "
                "(cupy-cuda12x; pick the wheel matching your CUDA driver)"
            ) from error
        _cupy = cupy
    return _cupy


def parse_device(device: Device) -> tuple[str, int]:
    """``"cpu"`` -> ("cpu", 0); ``"cuda"`` -> ("cuda", 0); ``"cuda:1"`` -> ("cuda", 1)."""
    if device is None:
        return ("cpu", 0)
    if not isinstance(device, str):
        raise TypeError(f"device must be a string like 'cpu' or 'cuda:0', got {device!r}")
    kind, _, index = device.partition(":")
    if kind == "cpu" and not index:
        return ("cpu", 0)
    if kind == "cuda":
        if index and not index.isdigit():
            raise ValueError(f"bad device string {device!r}: expected 'cuda' or 'cuda:N'")
        return ("cuda", int(index) if index else 0)
    raise ValueError(f"unknown device {device!r}: minigan knows 'cpu' and 'cuda[:N]'")


def device_of(array: Any) -> str:
    """The device string of an array: ``"cpu"`` or ``"cuda:N"``."""
    if is_cupy_array(array):
        return f"cuda:{array.device.id}"
    return "cpu"


def _check_cuda_usable(index: int):
    cupy = cupy_module()
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # CuPy raises CUDARuntimeError subclasses; keep the message
        raise RuntimeError(
            f"device 'cuda:{index}' is not usable: CuPy is installed but no CUDA GPU "
            f"could be reached ({type(error).__name__}: {error})"
        ) from error
    if index >= count:
        raise RuntimeError(f"device 'cuda:{index}' does not exist: this machine has {count} CUDA device(s)")
    return cupy


def to_device(array: Any, device: Device) -> Array:
    """Copy ``array`` to ``device`` (no copy when it is already there)."""
    kind, index = parse_device(device)
    if kind == "cpu":
        return array.get() if is_cupy_array(array) else array
    cupy = _check_cuda_usable(index)
    if is_cupy_array(array) and array.device.id == index:
        return array
    with cupy.cuda.Device(index):
        return cupy.asarray(array)


def empty_module_for(device):
    """The array module for a device string (for creation functions)."""
    kind, index = parse_device(device)
    if kind == "cpu":
        return numpy
    return _check_cuda_usable(index)


# --- random numbers: one generator per device -------------------------------------------------------

_generators: dict[str, object] = {}
_seed = {"value": None}


def generator(device: Device = "cpu") -> Any:
    """The random generator of a device (``numpy.random.Generator`` or ``cupy.random.Generator``)."""
    name = "cpu" if parse_device(device)[0] == "cpu" else "cuda:%d" % parse_device(device)[1]
    if name not in _generators:
        seed = _seed["value"]
        if name == "cpu":
            _generators[name] = numpy.random.Generator(numpy.random.PCG64(seed))
        else:
            cupy = _check_cuda_usable(parse_device(device)[1])
            with cupy.cuda.Device(parse_device(device)[1]):
                _generators[name] = cupy.random.default_rng(seed)
    return _generators[name]


def manual_seed(seed: int) -> None:
    """Seed every device's generator (those made later too), like ``torch.manual_seed``."""
    _seed["value"] = int(seed)
    _generators.clear()


def get_rng_state() -> dict:
    """The CPU generator's state as a JSON-able dict (for checkpoints)."""
    return generator("cpu").bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state from ``get_rng_state``."""
    generator("cpu").bit_generator.state = state


# --- kernels (convolutions, products, the hottest elementwise ops) -------------------------------------


def kernels_for(array: Any) -> ModuleType:
    """The kernel module for this array: ``kernels.cuda`` for CuPy arrays, otherwise the one chosen by
    ``MINIGAN_KERNELS=reference|numba`` (default numba when importable).

    Called by every primitive, so the choice is made once per array library, on first use: set
    MINIGAN_KERNELS before running anything (``kernels.select`` itself reads it on every call).  Reading
    the environment each time cost ~2.5 us per op, 10% of a tiny op's whole overhead."""
    xp_name = "numpy" if type(array) is numpy.ndarray or not is_cupy_array(array) else "cupy"
    module = _KERNELS_CHOSEN.get(xp_name)
    if module is None:
        module = _KERNELS_CHOSEN[xp_name] = kernels.select(xp_name)
    return module


_KERNELS_CHOSEN = {}  # kernels_for's choice per array library ("numpy" / "cupy"), made on first use


def cpu_threads() -> int:
    """How many threads minigan's CPU kernels run on: Numba's thread count on the Numba path
    ($NUMBA_NUM_THREADS, default: the CPU count), 1 on the reference path (NumPy's BLAS may still use more
    for NumPy's own products).  For reports that give a wall time."""
    if kernels_for(numpy.empty(0)).__name__ != "minigan_kernels.cpu":
        return 1
    import numba

    return numba.get_num_threads()


def info() -> str:
    """One paragraph saying what minigan runs on: NumPy/CuPy, kernel path, BLAS, threads."""
    lines = [f"numpy {numpy.__version__}"]
    try:
        import minigan_kernels as kernels

        kernel_info = kernels.info()
        if isinstance(kernel_info, dict):
            lines += [f"{key}: {value}" for key, value in kernel_info.items()]
        else:
            lines.append(str(kernel_info))
    except Exception as error:  # info must never fail: it is what a user runs when something is wrong
        lines.append(f"kernels: unavailable ({error})")
    try:
        cupy = cupy_module()
        try:
            count = cupy.cuda.runtime.getDeviceCount()
            lines.append(f"cupy {cupy.__version__}: {count} CUDA device(s)")
        except Exception as error:
            lines.append(f"cupy {cupy.__version__}: no usable GPU ({type(error).__name__})")
    except RuntimeError:
        lines.append("cupy: not installed (CPU only)")
    return "\n".join(lines)
