"""Reverse-mode differentiation: ``backward``, ``grad``, ``no_grad``, ``detect_anomaly``.

The graph is made of ``Function`` nodes (``tensor.creator``) linking output Tensors to input Tensors.
``run_backward`` sweeps it from the outputs, newest function first (by ``generation``, the longest path
from a leaf, so that a function runs only after every gradient flowing into its outputs has been summed:
diamonds and reused inputs are handled by accumulation).

Before a function's backward runs, the tensors it reads are checked against in-place changes since forward
(``Function.check_saved_versions``); each gradient is cast to the dtype of the tensor it belongs to (a
float32 leaf used in a float64 op gets a float32 ``.grad``, as in PyTorch).

Each ``Function.backward`` is built from ops. Under ``create_graph=False`` the sweep runs with recording
off, so first-order training pays nothing for that; under ``create_graph=True`` the backward ops are
recorded, and the gradients are themselves differentiable (double backprop, as WGAN-GP's gradient penalty
needs).

State here is two switches, both named: ``grad_mode.enabled`` (is the graph being recorded) and
``anomaly_mode.enabled`` (check every op's outputs for NaN/inf and name the op), and one list,
``active_tracers``: the observers of ``minigan.graph`` (``trace()``) now watching the engine, empty unless
one is on (the hooks at the end of this file).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import operator
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .tensor import Tensor
    from .typing import TensorLike


class _Switch:
    """A named on/off state with a context manager that restores it."""

    def __init__(self, name: str, enabled: bool):
        self.name = name
        self.enabled = enabled

    @contextlib.contextmanager
    def set(self, enabled: bool):
        previous, self.enabled = self.enabled, bool(enabled)
        try:
            yield
        finally:
            self.enabled = previous


grad_mode = _Switch("grad_mode", True)
anomaly_mode = _Switch("anomaly_mode", False)


class no_grad(contextlib.ContextDecorator):
    """Context manager (and decorator) that stops recording the graph, like ``torch.no_grad``."""

    def __enter__(self) -> None:
        self._previous = grad_mode.enabled
        grad_mode.enabled = False

    def __exit__(self, *exc: Any) -> bool:
        grad_mode.enabled = self._previous
        return False


class enable_grad(contextlib.ContextDecorator):
    """Turn recording back on inside a ``no_grad`` block."""

    def __enter__(self) -> None:
        self._previous = grad_mode.enabled
        grad_mode.enabled = True

    def __exit__(self, *exc: Any) -> bool:
        grad_mode.enabled = self._previous
        return False


def is_grad_enabled() -> bool:
    return grad_mode.enabled


class detect_anomaly(contextlib.ContextDecorator):
    """Check every op's forward outputs and backward gradients for NaN/inf; raise naming the op."""

    def __enter__(self) -> None:
        self._previous = anomaly_mode.enabled
        anomaly_mode.enabled = True

    def __exit__(self, *exc: Any) -> bool:
        anomaly_mode.enabled = self._previous
        return False


def check_finite(op_name: str, phase: str, arrays) -> None:
    from .backend import get_array_module

    for index, array in enumerate(arrays):
        if array is None:
            continue
        data = array.array if hasattr(array, "creator") else array
        xp = get_array_module(data)
        if data.dtype.kind == "f" and not bool(xp.isfinite(data).all()):
            kinds = []
            if bool(xp.isnan(data).any()):
                kinds.append("NaN")
            if bool(xp.isinf(data).any()):
                kinds.append("inf")
            raise FloatingPointError(
                f"anomaly: {op_name}.{phase} produced {' and '.join(kinds)} "
                f"in output {index} (shape {tuple(data.shape)})"
            )


# ----------------------------------------------------------------------------------------------------


def _as_tuple(value):
    if value is None:
        return ()
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,)


def _default_grad_output(output):
    from .tensor import Tensor

    if output.array.size != 1:
        raise RuntimeError(
            f"grad can be implicitly created only for scalar outputs; this output has "
            f"shape {tuple(output.shape)}: pass grad_outputs (or gradient=) of that shape"
        )
    xp = output.xp
    return Tensor(xp.ones_like(output.array))


def run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=None, allow_unused=False):
    """Sweep the graph from ``outputs``.

    With ``inputs=None`` (``Tensor.backward``) the gradients are accumulated into the ``.grad`` of every
    leaf that requires grad. With ``inputs`` given (``grad``) they are returned, one per input, and no
    ``.grad`` is touched.
    """
    from .ops.convert import cast
    from .tensor import Tensor

    outputs = _as_tuple(outputs)
    grad_outputs = _as_tuple(grad_outputs) or (None,) * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"got {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    if retain_graph is None:
        retain_graph = create_graph

    grads = {}  # id(tensor) -> gradient Tensor, summed over every path
    alive = {}  # id(tensor) -> tensor: keeps every tensor whose gradient we hold alive during the sweep
    for output, grad_output in zip(outputs, grad_outputs):
        if not isinstance(output, Tensor):
            raise TypeError(f"outputs must be Tensors, got {type(output).__name__}")
        if not output.requires_grad:
            raise RuntimeError(
                "element of outputs does not require grad and has no creator: nothing to "
                "differentiate (did you compute it under no_grad, or from tensors with "
                "requires_grad=False?)"
            )
        if grad_output is None:
            _accumulate(grads, alive, output, _default_grad_output(output))
            continue
        if not isinstance(grad_output, Tensor):
            grad_output = Tensor(output.xp.asarray(grad_output, dtype=output.dtype))
        if tuple(grad_output.shape) != tuple(output.shape):
            raise RuntimeError(
                f"grad_output has shape {tuple(grad_output.shape)} but the output has shape {tuple(output.shape)}"
            )
        if grad_output.device != output.device:
            raise RuntimeError(f"grad_output is on {grad_output.device} but the output is on {output.device}")
        if grad_output.dtype != output.dtype:
            if grad_output.dtype.kind != "f":
                raise TypeError(
                    f"grad_output has dtype {grad_output.dtype}; expected a floating-point "
                    f"gradient ({output.dtype}, the output's dtype)"
                )
            grad_output = cast(grad_output, output.dtype)
        _accumulate(grads, alive, output, grad_output)

    targets = None
    if inputs is not None:
        targets = {id(t) for t in inputs}
        for t in inputs:
            if not isinstance(t, Tensor):
                raise TypeError(f"inputs must be Tensors, got {type(t).__name__}")
            if not t.requires_grad:
                raise RuntimeError(f"one of the inputs (shape {tuple(t.shape)}) does not require grad")
    needed = _functions_leading_to(outputs, targets)

    counter = itertools.count()  # tie-breaker so the heap never compares Functions
    heap, queued = [], set()
    heappush, heappop = heapq.heappush, heapq.heappop

    def push(function):
        if function is not None and id(function) not in queued and (needed is None or id(function) in needed):
            queued.add(id(function))
            heappush(heap, (-function.generation, next(counter), function))

    leaves = {}
    for output in outputs:
        if output.creator is None:
            leaves[id(output)] = output
        push(output.creator)

    # Two gradients reaching one tensor are summed by an add op when the sweep is recorded (create_graph),
    # traced (minigan.graph's "gradient sum") or checked (anomaly mode); otherwise as arrays, one op fewer.
    record_sums = create_graph or bool(active_tracers) or anomaly_mode.enabled
    with grad_mode.set(create_graph), observed_sweep():  # observed_sweep: for minigan.graph's traces
        while heap:
            function = heappop(heap)[2]
            if function.inputs is None:
                raise RuntimeError(
                    f"Trying to backward through the graph a second time (through {function.name}): its "
                    "saved tensors were freed after the first backward. Pass retain_graph=True to the first "
                    "backward/grad call if you need to go through the graph again."
                )
            if create_graph and not function.differentiable_backward:
                raise RuntimeError(
                    f"{function.name} has no second derivative ({function.why_not_twice}); "
                    "it cannot be used under create_graph=True"
                )
            output_grads = []
            any_grad = False
            for ref in function._outputs:
                tensor = ref()
                grad_output = None if tensor is None else grads.pop(id(tensor), None)
                output_grads.append(grad_output)
                if grad_output is not None:
                    any_grad = True
            if not any_grad:
                continue
            if needed is None:
                function.needs_input_grad = tuple(map(_requires_grad_of, function.inputs))
            else:
                function.needs_input_grad = tuple(
                    t._requires_grad and (id(t) in targets or (t.creator is not None and id(t.creator) in needed))
                    for t in function.inputs
                )
            # no tensor it reads was changed in place since forward (compared in one pass; the detailed
            # check, which names the tensor, only when a version moved)
            versions = function.saved_input_versions
            if (
                versions is not None and tuple(map(_version_of, function.inputs)) != versions
            ) or function.saved_output_versions is not None:
                function.check_saved_versions()
            if active_tracers:  # minigan.graph: tell a trace whose backward records the ops that follow
                input_grads = observed_backward(function, output_grads)
            else:
                input_grads = function.backward(*output_grads)
            if type(input_grads) is not tuple:
                input_grads = _as_tuple(input_grads)
            function_inputs = function.inputs
            if len(input_grads) != len(function_inputs):
                raise RuntimeError(
                    f"{function.name}.backward returned {len(input_grads)} gradients for {len(function_inputs)} inputs"
                )
            if anomaly_mode.enabled:
                check_finite(function.name, "backward", input_grads)
            for tensor, grad in zip(function_inputs, input_grads):
                if grad is None or not tensor._requires_grad:
                    continue
                grad_array, array = grad.array, tensor.array
                if grad_array.shape != array.shape:
                    raise RuntimeError(
                        f"{function.name}.backward returned a gradient of shape "
                        f"{tuple(grad.shape)} for an input of shape {tuple(tensor.shape)}"
                    )
                if grad_array.dtype is not array.dtype and grad_array.dtype != array.dtype:
                    grad = cast(grad, array.dtype)  # float32 input of a float64 op: a float32 gradient
                key = id(tensor)  # _accumulate, inlined: this loop runs once per edge
                alive[key] = tensor
                previous = grads.get(key)
                if previous is None:
                    grads[key] = grad
                elif record_sums:  # a recorded, traced or checked sweep: the sum is an op
                    grads[key] = previous + grad
                else:  # same shape and dtype (checked above): add the arrays
                    grads[key] = Tensor(previous.array + grad.array)
                creator = tensor.creator
                if creator is None:
                    leaves[key] = tensor
                else:  # push(creator), inlined
                    creator_id = id(creator)
                    if creator_id not in queued and (needed is None or creator_id in needed):
                        queued.add(creator_id)
                        heappush(heap, (-creator.generation, next(counter), creator))
            if not retain_graph:
                function.inputs = None

    if inputs is not None:
        results = []
        for t in inputs:
            g = grads.get(id(t))
            if g is None and not allow_unused:
                raise RuntimeError(
                    f"one of the inputs (shape {tuple(t.shape)}) was not used to compute the "
                    "outputs; pass allow_unused=True to get None for it"
                )
            results.append(g)
        return tuple(results)

    for key, leaf in leaves.items():
        g = grads.get(key)
        if g is None:
            continue
        if not create_graph:
            g = g.detach()
        leaf.grad = g if leaf.grad is None else (leaf.grad + g if create_graph else _add_detached(leaf.grad, g))
    return None


_version_of = operator.attrgetter("_version_counter.value")  # a tensor's version, read in C
_requires_grad_of = operator.attrgetter("_requires_grad")


def _add_detached(a, b):
    from .tensor import Tensor

    return Tensor(a.array + b.array)


def _accumulate(grads, alive, tensor, grad):
    key = id(tensor)
    alive[key] = tensor
    grads[key] = grad if key not in grads else grads[key] + grad


def _functions_leading_to(outputs, targets):
    """The ids of the functions on some path from ``outputs`` back to a target tensor (None = all)."""
    if targets is None:
        return None
    needed, visited = set(), {}

    def leads(function):  # iterative DFS with memo: graphs can be deep
        stack = [(function, False)]
        while stack:
            node, expanded = stack.pop()
            if id(node) in visited and not expanded:
                continue
            if node.inputs is None:
                visited[id(node)] = False
                continue
            if not expanded:
                visited[id(node)] = False
                stack.append((node, True))
                for t in node.inputs:
                    if t.creator is not None and id(t.creator) not in visited:
                        stack.append((t.creator, False))
            else:
                hit = any(
                    id(t) in targets or (t.creator is not None and visited.get(id(t.creator), False))
                    for t in node.inputs
                )
                visited[id(node)] = hit
                if hit:
                    needed.add(id(node))
        return visited[id(function)]

    for output in outputs:
        if output.creator is not None:
            leads(output.creator)
    return needed


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: TensorLike | Sequence[TensorLike | None] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    only_inputs: bool = True,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, as a tuple (like ``torch.autograd.grad``).

    ``create_graph=True`` records the backward pass, so the result can be differentiated again.
    ``only_inputs`` is accepted and ignored, as PyTorch does (it is deprecated there: only the inputs'
    gradients are ever computed).
    """
    single = not isinstance(inputs, (tuple, list))
    inputs = (inputs,) if single else tuple(inputs)
    return run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=inputs, allow_unused=allow_unused)


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: TensorLike | Sequence[TensorLike | None] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate gradients into the ``.grad`` of the leaves (like ``torch.autograd.backward``)."""
    run_backward(tensors, grad_tensors, retain_graph, create_graph)


# ----------------------------------------------------------------------------------------------------
# Hooks for minigan.graph's tracers (``trace()``).  A tracer is an object with the methods called below:
#   op_ran(function, input_arrays, output_arrays, seconds)   after every Function.forward (Function.apply)
#   sweep_started() / sweep_finished()                        around every backward sweep (run_backward)
#   backward_started(function, grad_outputs) / backward_finished(function, seconds)
#                                                             around every Function.backward in a sweep
#   module_entered(module) / module_exited(module)            around every Module.__call__ (nn/module.py)
# With no tracer active (the usual case) each hook site costs one truth test of this list.

active_tracers = []  # the tracers now recording, in the order they started; only minigan.graph edits it


def observed_forward(function, arrays):
    """``function.forward(*arrays)``, timed and reported to the active tracers."""
    started = time.perf_counter()
    outputs = function.forward(*arrays)
    seconds = time.perf_counter() - started
    for tracer in tuple(active_tracers):
        tracer.op_ran(function, arrays, outputs if isinstance(outputs, tuple) else (outputs,), seconds)
    return outputs


def observed_backward(function, grad_outputs):
    """``function.backward(*grad_outputs)``, announced to the active tracers (the ops it runs belong to it)."""
    tracers = tuple(active_tracers)
    for tracer in tracers:
        tracer.backward_started(function, grad_outputs)
    started = time.perf_counter()
    try:
        return function.backward(*grad_outputs)
    finally:
        seconds = time.perf_counter() - started
        for tracer in reversed(tracers):
            tracer.backward_finished(function, seconds)


class _ObservedSweep:
    def __init__(self, tracers):
        self.tracers = tracers

    def __enter__(self):
        for tracer in self.tracers:
            tracer.sweep_started()

    def __exit__(self, *exc):
        for tracer in reversed(self.tracers):
            tracer.sweep_finished()
        return False


_UNOBSERVED = contextlib.nullcontext()


def observed_sweep():
    """A context that tells the active tracers a backward sweep runs (ops in it outside any
    ``Function.backward`` are the sums of gradients that meet); nothing when none is active."""
    return _ObservedSweep(tuple(active_tracers)) if active_tracers else _UNOBSERVED


__all__ = [
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "detect_anomaly",
    "grad",
    "backward",
    "grad_mode",
    "anomaly_mode",
]
