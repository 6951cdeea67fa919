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
"""
from __future__ import annotations

import weakref

import numpy

from . import autograd
from .backend import device_of, get_array_module, is_cupy_array


class Function:
    """Base of all primitives. Subclasses implement ``forward`` and ``backward``."""

    differentiable_backward = True
    why_not_twice = ""

    def __init__(self):
        self.inputs = None          # tuple of Tensors, freed after backward unless retain_graph
        self._outputs = None        # tuple of weakrefs to the output Tensors
        self.generation = 0         # longest path from a leaf: orders the backward sweep

    @property
    def name(self) -> str:
        return type(self).__name__

    # ------------------------------------------------------------------------------------------------
    def apply(self, *inputs):
        """Run ``forward`` on the inputs' arrays, wrap the results, and record the graph if needed."""
        Tensor = _tensor_class()
        reference = None
        for value in inputs:
            if isinstance(value, Tensor):
                reference = value
                break
        tensors = tuple(value if isinstance(value, Tensor) else _as_tensor_like(value, reference)
                        for value in inputs)
        arrays = [t.data for t in tensors]
        if len(arrays) > 1:
            _check_same_device(self.name, arrays)

        if autograd.active_tracers:     # minigan.graph's trace(): time this op and record it (autograd.py)
            outputs = autograd.observed_forward(self, arrays)
        else:
            outputs = self.forward(*arrays)
        single = not isinstance(outputs, tuple)
        if single:
            outputs = (outputs,)
        if autograd.anomaly_mode.enabled:
            autograd.check_finite(self.name, "forward", outputs)

        needs_grad = autograd.grad_mode.enabled and any(t._requires_grad for t in tensors)
        results = tuple(Tensor(out, requires_grad=needs_grad) for out in outputs)
        if needs_grad:
            self.inputs = tensors
            self.generation = max([t.creator.generation for t in tensors if t.creator is not None],
                                  default=-1) + 1
            self._outputs = tuple(weakref.ref(r) for r in results)
            for result in results:
                result.creator = self
        return results[0] if single else results

    def output(self, index: int = 0):
        """The ``index``-th output Tensor (alive whenever a gradient flows from it)."""
        tensor = self._outputs[index]()
        if tensor is None:
            raise RuntimeError(f"{self.name}: output {index} was freed before backward needed it")
        return tensor

    # ------------------------------------------------------------------------------------------------
    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, *grad_outputs):
        raise NotImplementedError

    def __repr__(self):
        return f"<{self.name} generation={self.generation}>"


def _check_same_device(op_name, arrays):
    if all(type(a) is numpy.ndarray or isinstance(a, numpy.generic) for a in arrays):   # all on the CPU
        return
    devices = {device_of(a) for a in arrays}
    if len(devices) > 1:
        names = ", ".join(sorted(devices))
        raise RuntimeError(f"{op_name}: expected all tensors on one device, found {names}; "
                           "move them with .to(device) first")


def _tensor_class():
    """``minigan.tensor.Tensor`` (imported on first use: tensor.py imports the ops, which import this)."""
    global _Tensor, _as_tensor_like
    if _Tensor is None:
        from .tensor import Tensor, as_tensor_like
        _Tensor, _as_tensor_like = Tensor, as_tensor_like
    return _Tensor


_Tensor = None
_as_tensor_like = None


def unwrap(value):
    """The array inside a Tensor; anything else (an array, a number, an index) unchanged.
    (Not ``getattr(value, "data", value)``: a NumPy array has a ``.data`` attribute too, a memoryview.)"""
    return value.data if isinstance(value, _tensor_class()) else value


def xp_of(*arrays):
    """Shorthand used by ops: the array module of the arrays."""
    return get_array_module(*arrays)


__all__ = ["Function", "xp_of", "unwrap", "is_cupy_array"]
