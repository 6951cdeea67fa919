"""Argument checks at the op boundary.

Each check returns the normalised value or raises an error that names the op, the argument, the value it
got and what is allowed -- so that a bad argument never wraps around silently (a dim of 5 on a 2-D tensor
is not dim 1), never reaches a kernel (a stride of 0 is not a ZeroDivisionError from Numba) and never comes
back as a wrong result.  Error types follow PyTorch: IndexError for a dim out of range, TypeError for an
argument of the wrong type, ValueError for a value out of its range.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .tensor import Tensor


def is_int(value: object) -> bool:
    """A Python or NumPy integer (not a bool, not a float with an integral value)."""
    if type(value) is int:  # the common case first: the ABC test costs ~0.25 us
        return True
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: object) -> bool:
    """A Python or NumPy real number (not a bool)."""
    if type(value) is float or type(value) is int:
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def dim(op: str, value: Any, ndim: int, name: str = "dim") -> int:
    """A dimension index of a tensor of ``ndim`` dimensions: in [-ndim, ndim), negative ones counted from
    the end (a 0-d tensor accepts 0 and -1, as PyTorch). Returns it in [0, ndim)."""
    if not is_int(value):
        raise TypeError(f"{op}: {name} must be an integer, got {type(value).__name__} {value!r}")
    low, high = (-ndim, ndim - 1) if ndim else (-1, 0)
    if not low <= value <= high:
        raise IndexError(
            f"{op}: {name} {value} is out of range for a tensor of {ndim} dimension"
            f"{'' if ndim == 1 else 's'} (expected a value in [{low}, {high}])"
        )
    return int(value) % ndim if ndim else 0


def dims(op: str, value: Any, ndim: int, name: str = "dim") -> tuple:
    """None (every dimension), one dim or a tuple/list of distinct dims; returns them sorted in [0, ndim)
    (for a 0-d tensor, which accepts 0 and -1, the empty tuple: there is no axis to reduce)."""
    if value is None:
        return tuple(range(ndim))
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    normalised = [dim(op, item, ndim, name) for item in items]
    if len(set(normalised)) != len(normalised):
        raise ValueError(f"{op}: {name} {value!r} names a dimension more than once")
    return tuple(sorted(normalised)) if ndim else ()


def integer(op: str, name: str, value: Any, minimum: int | None = None) -> int:
    if not is_int(value):
        raise TypeError(f"{op}: {name} must be an integer, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value}")
    return int(value)


def real(op: str, name: str, value: Any, low: float | None = None, high: float | None = None) -> float:
    """A real number in [low, high] (either bound optional); NaN is refused."""
    if not is_real(value):
        raise TypeError(f"{op}: {name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if value != value or (low is not None and value < low) or (high is not None and value > high):
        allowed = (
            f"in [{low}, {high}]"
            if low is not None and high is not None
            else f">= {low}"
            if low is not None
            else f"<= {high}"
            if high is not None
            else "not NaN"
        )
        raise ValueError(f"{op}: {name} must be {allowed}, got {value}")
    return value


def int_pair(op: str, name: str, value: Any, minimum: int) -> tuple:
    """An int or a pair of ints (height, width), each >= ``minimum``; returns the pair."""
    if is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(is_int(v) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {value!r}")
    return pair


def shape(op: str, value: Any, name: str = "shape", allow_minus_one: bool = False) -> tuple:
    """A tuple of non-negative int sizes (one -1 allowed when ``allow_minus_one``)."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    for item in items:
        if type(item) is int and item >= 0:
            continue
        if not is_int(item):
            raise TypeError(f"{op}: {name} must hold integers, got {type(item).__name__} {item!r} in {value!r}")
        if item < (-1 if allow_minus_one else 0):
            allowed = "non-negative, or -1 (inferred)" if allow_minus_one else "non-negative"
            raise ValueError(f"{op}: sizes in {name} must be {allowed}, got {value!r}")
    return tuple(int(item) for item in items)


def ndim(op: str, tensor: Tensor, allowed: Sequence[int], layout: str) -> None:
    """The tensor's number of dimensions is one of ``allowed`` (an int or a tuple), ``layout`` names it."""
    allowed = (allowed,) if is_int(allowed) else tuple(allowed)
    if tensor.ndim not in allowed:
        raise ValueError(
            f"{op}: expected a {' or '.join(str(a) for a in allowed)}-D input {layout}, got shape {tuple(tensor.shape)}"
        )


def floating(op: str, tensor: Tensor, name: str = "input") -> None:
    if tensor.dtype.kind != "f":
        raise TypeError(f"{op}: {name} must be a floating-point tensor (float32 or float64), got dtype {tensor.dtype}")
