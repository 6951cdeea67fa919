"""The ``Function`` base class: one differentiable primitive.

The contract (docs/architecture.md, "The engine contract"):

* ``forward(self, *arrays)`` works on raw xp arrays (NumPy or CuPy) and returns an array or a tuple.
* ``backward(self, *grad_outputs)`` receives **Tensors** (``None`` for outputs that got no gradient) and
  returns one Tensor (or ``None``) per input, built only from minigan ops. Because the backward pass is
  itself made of ops, it is recorded when ``create_graph=True`` and can be differentiated again: second
  derivatives come for free (Chainer's ``FunctionNode`` does the same).

``apply`` records the inputs (as Tensors) and the outputs (as weak references, to avoid a reference
cycle), so that ``backward`` can read ``self.inputs`` and ``self.output(i)``.

A primitive that has no second derivative sets ``differentiable_backward = False`` and says why in
``why_not_twice``; using it under ``create_graph=True`` raises a clear error.

Saved tensors and in-place changes: ``reads_inputs`` / ``reads_outputs`` say whether backward reads the
values (not just the shapes) of the inputs / outputs; ``apply`` then records their version counters'
values, and the backward sweep refuses a tensor changed in place since (``check_unchanged``), instead of
silently differentiating at the new values.  A primitive whose backward reads only some inputs, depending
on which gradients are needed (a product reads b for a's gradient), overrides ``reads_input``.
A primitive whose output may be a view of its input (reshape, transpose, ...) sets ``self.output_is_view``
in ``forward`` when it is: the output then shares the input's version counter, as views share storage.
"""

from __future__ import annotations

import operator
import weakref
from typing import TYPE_CHECKING, Any

import numpy

from . import autograd
from .backend import device_of, get_array_module, is_cupy_array

if TYPE_CHECKING:
    from types import ModuleType

    from .tensor import Tensor
    from .typing import Array, TensorLike


class Function:
    """Base of all primitives. Subclasses implement ``forward`` and ``backward``."""

    differentiable_backward = True
    why_not_twice = ""
    reads_inputs = True  # backward reads the inputs' values: record their versions
    reads_outputs = False  # backward reads the outputs' values (self.output(i).array)
    output_is_view = False  # set by forward when output 0 is a view of input 0's storage
    saved_input_versions = None  # the inputs' versions at forward, when reads_inputs
    saved_output_versions = None  # the outputs' versions at forward, when reads_outputs
    # Set on the instance by apply when the graph is recorded (class-level defaults, so that making a
    # Function, once per op, costs no attribute stores):
    inputs = None  # tuple of Tensors, freed after backward unless retain_graph
    _outputs = None  # tuple of weakrefs to the output Tensors
    generation = 0  # longest path from a leaf: orders the backward sweep

    @property
    def name(self) -> str:
        return type(self).__name__

    # ------------------------------------------------------------------------------------------------
    def apply(self, *inputs: TensorLike) -> Tensor | tuple[Tensor, ...]:
        """Run ``forward`` on the inputs' arrays, wrap the results, and record the graph if needed.
        (Loops and one-element tuples instead of comprehensions: in Python 3.11 each comprehension is a
        function call, and this runs once per op.)"""
        Tensor = _Tensor or _tensor_class()
        if len(inputs) == 1 and isinstance(inputs[0], Tensor):  # the common cases: nothing to wrap
            tensors = inputs
            arrays = (inputs[0].array,)
        elif len(inputs) == 2 and isinstance(inputs[0], Tensor) and isinstance(inputs[1], Tensor):
            tensors = inputs
            arrays = (inputs[0].array, inputs[1].array)
        else:  # numbers and arrays become constants like the first Tensor
            reference = next((value for value in inputs if isinstance(value, Tensor)), None)
            tensors = tuple(
                value if isinstance(value, Tensor) else _as_tensor_like(value, reference, self.name) for value in inputs
            )
            arrays = tuple(t.array for t in tensors)
        if len(arrays) > 1:
            for array in arrays:
                if type(array) is not numpy.ndarray:  # all on the CPU is the common case: nothing to check
                    _check_same_device(self.name, arrays)
                    break

        if autograd.active_tracers:  # minigan.graph's trace(): time this op and record it (autograd.py)
            outputs = autograd.observed_forward(self, arrays)
        else:
            outputs = self.forward(*arrays)
        single = type(outputs) is not tuple
        if single:
            outputs = (outputs,)
        if autograd.anomaly_mode.enabled:
            autograd.check_finite(self.name, "forward", outputs)

        needs_grad = False
        if autograd.grad_mode.enabled:
            for t in tensors:
                if t._requires_grad:
                    needs_grad = True
                    break
        if not needs_grad:  # no graph to record: plain results, nothing saved
            if single:
                result = Tensor(outputs[0])
                if self.output_is_view:
                    result._version_counter = tensors[0]._version_counter
                return result
            results = tuple(map(Tensor, outputs))
            if self.output_is_view:
                results[0]._version_counter = tensors[0]._version_counter
            return results

        if single:
            result = Tensor(outputs[0], True)
            results = (result,)
            self._outputs = (weakref.ref(result),)
        else:
            results = tuple(map(_tensor_requiring_grad, outputs))
            self._outputs = tuple(map(weakref.ref, results))
        if self.output_is_view:
            results[0]._version_counter = tensors[0]._version_counter
        self.inputs = tensors
        if self.reads_inputs:
            self.saved_input_versions = tuple(map(_version_of, tensors))
        if self.reads_outputs:
            self.saved_output_versions = tuple(map(_version_of, results))
        generation = -1
        for t in tensors:
            creator = t.creator
            if creator is not None and creator.generation > generation:
                generation = creator.generation
        self.generation = generation + 1
        for result in results:
            result.creator = self
        return results[0] if single else results

    def reads_input(self, index: int) -> bool:
        """Whether backward reads input ``index``'s values (``self.needs_input_grad`` is set by then)."""
        return self.reads_inputs

    def check_saved_versions(self) -> None:
        """Refuse to run backward if a tensor it reads was changed in place after forward."""
        versions = self.saved_input_versions
        if versions is not None:
            inputs = self.inputs
            for index in range(len(versions)):
                tensor = inputs[index]
                if tensor._version_counter.value != versions[index] and self.reads_input(index):
                    check_unchanged(self.name, f"input {index}", tensor, versions[index])
        if self.saved_output_versions is not None:
            for index, (ref, version) in enumerate(zip(self._outputs, self.saved_output_versions)):
                tensor = ref()
                if tensor is not None and tensor._version_counter.value != version:
                    check_unchanged(self.name, f"output {index}", tensor, version)

    def output(self, index: int = 0) -> Tensor:
        """The ``index``-th output Tensor (alive whenever a gradient flows from it)."""
        tensor = self._outputs[index]()
        if tensor is None:
            raise RuntimeError(f"{self.name}: output {index} was freed before backward needed it")
        return tensor

    # ------------------------------------------------------------------------------------------------
    def forward(self, *arrays: Array) -> Array | tuple[Array, ...]:
        raise NotImplementedError

    def backward(self, *grad_outputs: Tensor | None) -> Tensor | None | tuple[Tensor | None, ...]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{self.name} generation={self.generation}>"


_version_of = operator.attrgetter("_version_counter.value")  # a tensor's version, read in C


def _tensor_requiring_grad(array):
    return _Tensor(array, True)


def check_unchanged(op_name: str, what: str, tensor, expected_version: int) -> None:
    """Raise (as PyTorch does) if ``tensor`` was changed in place since ``op_name`` saved it for backward."""
    version = tensor._version_counter.value
    if version != expected_version:
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an inplace operation: "
            f"{what} of {op_name} (a tensor of shape {tuple(tensor.shape)}, {tensor.dtype}) is at version "
            f"{version}; expected version {expected_version} (its version when {op_name} saved it in forward). "
            "Recompute the forward pass after the change, or change a copy (x.clone()) instead."
        )


def _check_same_device(op_name, arrays):
    if all(type(a) is numpy.ndarray or isinstance(a, numpy.generic) for a in arrays):  # all on the CPU
        return
    devices = {device_of(a) for a in arrays}
    if len(devices) > 1:
        names = ", ".join(sorted(devices))
        raise RuntimeError(
            f"{op_name}: expected all tensors on one device, found {names}; move them with .to(device) first"
        )


def _tensor_class():
    """``minigan.tensor.Tensor`` (imported on first use: tensor.py imports the ops, which import this)."""
    global _Tensor, _as_tensor_like
    if _Tensor is None:
        from .tensor import Tensor, as_tensor_like

        _Tensor, _as_tensor_like = Tensor, as_tensor_like
    return _Tensor


def tensor_class():
    """``minigan.tensor.Tensor``, for the ops' modules (which tensor.py imports, so they cannot import it)."""
    return _Tensor or _tensor_class()


_Tensor = None
_as_tensor_like = None


def unwrap(value: Any) -> Any:
    """The array inside a Tensor; anything else (an array, a number, an index) unchanged.
    (Not ``getattr(value, "data", value)``: a NumPy array has a ``.data`` attribute too, a memoryview.)"""
    return value.array if isinstance(value, _tensor_class()) else value


def xp_of(*arrays: Array) -> ModuleType:
    """Shorthand used by ops: the array module of the arrays."""
    return get_array_module(*arrays)


__all__ = ["Function", "xp_of", "unwrap", "is_cupy_array"]
