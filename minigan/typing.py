"""Type aliases for minigan's annotations: the kinds of values its public API takes and returns.

    from minigan.typing import ArrayLike, Device, DType, Shape, TensorLike

Library modules import this module only for type checkers (``if TYPE_CHECKING: from .typing import ...``)
and write ``from __future__ import annotations``, so that an annotation costs nothing at run time: it is
never evaluated, and importing minigan does not import this module.  It imports ``Tensor`` itself, so it
may be imported at run time by users once ``minigan`` is loaded (``typing.get_type_hints`` on their code).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any, Union

import numpy
import numpy.typing

from .tensor import Tensor

__all__ = [
    "Array",
    "ArrayLike",
    "Batch",
    "Device",
    "DType",
    "Dim",
    "IntPair",
    "Number",
    "Params",
    "PathLike",
    "Shape",
    "ShapeLike",
    "StateDict",
    "TensorLike",
]

# A NumPy or CuPy ndarray (what ``Tensor.array`` holds).  CuPy is optional and has no type stubs, so the
# alias cannot name ``cupy.ndarray``; ``Any`` is the honest type of "one of the two array libraries".
Array = Any

# What ``numpy.asarray`` accepts: nested lists, numbers, NumPy arrays (and CuPy arrays where the device allows).
ArrayLike = numpy.typing.ArrayLike

# A real number as an argument: Python's int and float, and NumPy's scalars (``bool`` is an int to Python).
Number = Union[int, float, numpy.number]

# An operand of the ops: a Tensor, or a number or array that becomes a constant Tensor on the other
# operand's device (``x * 2``, ``F.where(mask, x, 0.0)``).
TensorLike = Union[Tensor, int, float, numpy.number, numpy.ndarray]

# minigan names devices by strings: "cpu", "cuda" or "cuda:N" (``mg.device`` checks one).
Device = str

# A dtype as the creation functions and ``Tensor.to`` accept it: ``mg.float32`` (the string "float32"),
# ``numpy.float64``, ``numpy.dtype("int64")``.
DType = Union[str, numpy.dtype, type]

# A tensor's shape, as ``Tensor.shape`` returns it; ``ShapeLike`` is what shape arguments accept (one size,
# or a tuple or list of sizes).
Shape = tuple[int, ...]
ShapeLike = Union[int, Sequence[int]]

# A file or directory name: a string or a ``pathlib.Path``.
PathLike = Union[str, os.PathLike]

# A size given for both spatial axes at once or per axis (height, width): kernel sizes, strides, paddings.
IntPair = Union[int, tuple[int, int]]

# The dimensions a reduction runs over: one, several, or None for all of them.
Dim = Union[int, Sequence[int], None]

# What ``state_dict()`` returns and ``load_state_dict`` takes: names to Tensors, arrays, numbers and nested
# dicts of them (the shapes ``minigan.save`` writes).
StateDict = dict[str, Any]

# A batch as a loader yields it and ``Trainer.train_step`` takes it: the inputs ``x``, or a tuple ``(x, y)``
# (Tensors from a ``DataLoader``; NumPy arrays are accepted by the trainers too).
Batch = Union[Tensor, numpy.ndarray, tuple[Any, ...]]

# What an optimizer is given: the parameters (``model.parameters()``), or parameter groups, dicts with
# "params" and the hyper-parameters that differ from the defaults.
Params = Union[Iterable[Tensor], Iterable[dict[str, Any]]]
