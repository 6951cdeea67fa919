"""See the graph: draw the computation behind a tensor, the graph its backward records, and trace what runs.

    print(mg.graph.graph_text(loss, params=dict(model.named_parameters())))   # a plain-text tree
    mg.graph.draw(loss, "loss.svg", params=dict(model.named_parameters()))    # Graphviz: .svg .png .pdf
    with mg.graph.trace(model) as t:                                           # every op, forward and backward
        loss = F.cross_entropy(model(x), y); loss.backward()
    print(t.table())                                                           # time per op and per layer

**The graph.**  One node per op (``#n name``, the shape, dtype and device of its output) and one per leaf
(a parameter's name when ``params`` names it, ``leaf`` for another tensor that requires grad, ``constant``
otherwise), numbered in data-flow order: every input before the op that reads it.  ``saved=True`` adds what
each op keeps for its backward (its inputs, by the engine's contract, and any array it holds itself: a
mask, a saved input); ``grads=True`` adds each leaf's ``.grad`` (shape and norm) and, when a trace recorded
gradients (``trace(gradients=True)``), the gradient that reached each op's output.  Drawing reads the graph
and changes nothing; but ``backward`` frees the graph it sweeps, so draw before it, or pass
``retain_graph=True`` to it.

**The backward as a graph.**  Under ``create_graph=True`` the ops a ``Function.backward`` runs are recorded
like any other; a trace that was on while they ran knows which forward op's backward created each of them.
``to_dot``/``draw``/``graph_text`` given that trace (``trace=t``) mark such a node ``∂ conv2d #3`` (it was
made by the backward of node #3, a conv2d; ``∂ conv2d (op 4)``, the trace's record 4, when that conv2d is
not in the drawing) and colour it, one colour per forward op, so that a WGAN-GP
penalty's graph shows conv2d's backward (``conv_transpose2d``), the leaky-ReLU slope masks
(``leaky_relu_backward``), and, one level further, conv_transpose2d's own backward (``conv2d_weight``).
Sums of gradients that meet in the sweep are marked ``gradient sum`` (grey).

**Rendering.**  ``draw`` renders the DOT source with the ``graphviz`` Python package when it is installed
(the ``graph`` extra), else with the ``dot`` program (Debian's ``graphviz``) directly; when ``dot`` is not on
the PATH it writes the text tree (and the DOT source beside it) instead, with a note, and warns.

**The trace.**  ``trace()`` records every op run while it is on, forward and backward: its name, phase
(``forward``, ``backward`` of which forward op, or ``gradient sum``), layer (the innermost ``Module`` being
called, named as in ``named_modules()`` of the model given), input and output shapes, the time of its
forward (wall clock; on a GPU, the launch), and the bytes of its outputs that are new memory (not views of
an input).  ``t.table()`` sums them per op and per layer (a layer's backward time is the wall time of its
ops' ``Function.backward`` calls, kernels called directly included); ``t.save_json(path)`` writes it all
(``trace(print_table=True, json_path=path)`` does both at the end of the block).  Only ops are traced: an
optimizer's update, which runs kernels on arrays, is in the block's wall time (``t.seconds``) alone.
The engine tells the trace through the hooks in ``minigan.autograd`` (``active_tracers``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
import uuid
import warnings
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from . import autograd
from .ops.arith import AddScalar, MulScalar

if TYPE_CHECKING:
    from .function import Function
    from .nn.module import Module
    from .tensor import Tensor
    from .typing import Array

    # A model whose layers a trace names: one Module, or a dict of name -> Module.
    Model = Union[Module, Mapping[str, Module]]

__all__ = ["graph_text", "to_dot", "draw", "trace", "Trace", "op_name", "GraphvizMissing"]


class GraphvizMissing(RuntimeWarning):
    """``draw`` could not find Graphviz's ``dot`` and wrote the text tree instead."""


# Ops whose function name in minigan.ops is not their class name in snake case.
_OP_NAMES = {
    "MatMul": "matmul",
    "LogSumExp": "logsumexp",
    "GetItem": "getitem",
    "GetItemGrad": "getitem_grad",
    "LeakyReLU": "leaky_relu",
    "LeakyReLUBackward": "leaky_relu_backward",
}


def op_name(function: Function) -> str:
    """The name an op is called by in ``minigan.ops``: ``ConvTranspose2d`` -> ``conv_transpose2d``,
    ``LeakyReLUBackward`` -> ``leaky_relu_backward`` (the class name in snake case, but for ``_OP_NAMES``)."""
    name = type(function).__name__
    if name in _OP_NAMES:
        return _OP_NAMES[name]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


# ----------------------------------------------------------------------------------------------------
# The trace


@dataclass(eq=False)
class _OpInfo:
    """What a trace knows of one Function: its place in the trace and whose backward made it."""

    index: int | None  # its record in Trace.records (None: it ran before the trace started)
    name: str
    phase: str  # "forward", "backward" or "gradient sum" ("" when it ran before the trace)
    layer: str
    origin: "_OpInfo | None" = None  # the forward op whose backward ran this one
    gradients: list = field(default_factory=list)  # (shape, norm) or None per output, when recorded


class Trace:
    """The record of ``trace()``: ``records`` (one dict per op run, in order), ``table()``, ``save_json()``.

    ``model``: a Module, or a dict of name -> Module, whose ``named_modules()`` names the layers.
    ``gradients=True`` also keeps the shape and norm of the gradient reaching each op's outputs (one
    extra pass over each gradient), which ``graph_text``/``to_dot``/``draw`` show with ``grads=True``."""

    def __init__(self, model: Model | None = None, gradients: bool = False) -> None:
        self.records = []
        self.seconds = None  # wall time from the start of the block to its end
        self.backward_calls = []  # (layer, seconds) per outermost Function.backward
        self.gradients = bool(gradients)
        self._info = weakref.WeakKeyDictionary()  # Function -> _OpInfo: never keeps a graph alive
        self._backward_stack = []  # [(function, info)] whose backward is running, innermost last
        self._sweep_depth = 0
        self._module_stack = []
        self._module_names = {}  # id(module) -> (module, name)
        models = {} if model is None else (model if isinstance(model, dict) else {"": model})
        for prefix, root in models.items():
            for name, module in root.named_modules():
                full = ".".join(part for part in (prefix, name) if part)
                kind = type(module).__name__
                self._module_names[id(module)] = (module, f"{full} ({kind})" if full else kind)

    # --- hooks called by the engine (minigan.autograd) -----------------------------------------------
    def op_ran(
        self, function: Function, input_arrays: Sequence[Array], output_arrays: Sequence[Array], seconds: float
    ) -> None:
        if self._backward_stack:
            origin = self._backward_stack[-1][1]
            phase, layer = "backward", origin.layer
        elif self._sweep_depth:
            origin, phase, layer = None, "gradient sum", ""
        else:
            origin, phase, layer = None, "forward", self._current_layer()
        info = _OpInfo(len(self.records), op_name(function), phase, layer, origin)
        self._info[function] = info
        self.records.append(
            {
                "index": info.index,
                "op": info.name,
                "phase": phase,
                "of": None if origin is None else _describe(origin),
                "layer": layer,
                "inputs": [list(_shape(a)) for a in input_arrays],
                "outputs": [list(_shape(a)) for a in output_arrays],
                "dtype": str(getattr(output_arrays[0], "dtype", "")) if output_arrays else "",
                "seconds": seconds,
                "bytes": _new_bytes(input_arrays, output_arrays),
            }
        )

    def sweep_started(self) -> None:
        self._sweep_depth += 1

    def sweep_finished(self) -> None:
        self._sweep_depth -= 1

    def backward_started(self, function: Function, grad_outputs: Sequence[Tensor | None]) -> None:
        info = self._info.get(function)
        if info is None:  # its forward ran before the trace started
            info = self._info[function] = _OpInfo(None, op_name(function), "", "")
        if self.gradients:
            info.gradients = [None if g is None else (tuple(g.shape), _norm(g.array)) for g in grad_outputs]
        self._backward_stack.append((function, info))

    def backward_finished(self, function: Function, seconds: float) -> None:
        _, info = self._backward_stack.pop()
        if not self._backward_stack:  # nested backwards (batch norm's second order) are inside this one
            self.backward_calls.append((info.layer, seconds))

    def module_entered(self, module: Module) -> None:
        self._module_stack.append(module)

    def module_exited(self, module: Module) -> None:
        self._module_stack.pop()

    def _current_layer(self):
        if not self._module_stack:
            return ""
        module = self._module_stack[-1]
        known = self._module_names.get(id(module))
        return known[1] if known is not None and known[0] is module else type(module).__name__

    # --- what a drawing asks ---------------------------------------------------------------------------
    def info(self, function: Function) -> _OpInfo | None:
        """The trace's ``_OpInfo`` of a Function (None when the Function neither ran nor was differentiated
        while this trace was on)."""
        return self._info.get(function)

    # --- tables --------------------------------------------------------------------------------------
    def by_op(self) -> list[tuple[str, str, int, float, int]]:
        """Rows (op, phase, calls, seconds, bytes), the most time first."""
        rows = {}
        for r in self.records:
            row = rows.setdefault((r["op"], r["phase"]), [r["op"], r["phase"], 0, 0.0, 0])
            row[2] += 1
            row[3] += r["seconds"]
            row[4] += r["bytes"]
        return sorted((tuple(row) for row in rows.values()), key=lambda row: (-row[3], row[0], row[1]))

    def by_layer(self) -> list[tuple[str, int, float, float, int]]:
        """Rows (layer, forward ops, forward seconds, backward seconds, bytes), in the order first met.
        Backward seconds: the wall time of the ``Function.backward`` calls of the layer's forward ops."""
        rows = {}
        for r in self.records:
            row = rows.setdefault(r["layer"], [r["layer"], 0, 0.0, 0.0, 0])
            if r["phase"] == "forward":
                row[1] += 1
                row[2] += r["seconds"]
            row[4] += r["bytes"]
        for layer, seconds in self.backward_calls:
            rows.setdefault(layer, [layer, 0, 0.0, 0.0, 0])[3] += seconds
        return [tuple(row) for row in rows.values()]

    def table(self) -> str:
        """The two tables as text: per op, then per layer (``(no module)`` for ops outside any)."""
        total = sum(r["seconds"] for r in self.records) or 1e-30
        backward = sum(seconds for _, seconds in self.backward_calls)
        lines = [
            f"{len(self.records)} ops, {1e3 * sum(r['seconds'] for r in self.records):.3f} ms in their "
            f"forward calls, {_megabytes(sum(r['bytes'] for r in self.records))} MB of new outputs; "
            f"{1e3 * backward:.3f} ms in Function.backward calls"
            + ("" if self.seconds is None else f"; {1e3 * self.seconds:.3f} ms in the traced block"),
            "",
            f"{'op':<24} {'phase':<13} {'calls':>6} {'ms':>9} {'%':>6} {'MB out':>8}",
        ]
        for name, phase, calls, seconds, nbytes in self.by_op():
            lines.append(
                f"{name:<24} {phase:<13} {calls:>6} {1e3 * seconds:>9.3f} {100 * seconds / total:>6.1f} "
                f"{_megabytes(nbytes):>8}"
            )
        lines += ["", f"{'layer':<24} {'fwd ops':>7} {'fwd ms':>9} {'bwd ms':>9} {'MB out':>8}"]
        for layer, count, forward, backward, nbytes in self.by_layer():
            lines.append(
                f"{layer or '(no module)':<24} {count:>7} {1e3 * forward:>9.3f} {1e3 * backward:>9.3f} "
                f"{_megabytes(nbytes):>8}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def save_json(self, path: str) -> str:
        """Write the records and both tables to ``path`` as JSON (atomically: a temporary file renamed)."""
        keys_op = ("op", "phase", "calls", "seconds", "bytes")
        keys_layer = ("layer", "forward_ops", "forward_seconds", "backward_seconds", "bytes")
        document = {
            "seconds": self.seconds,
            "ops": self.records,
            "by_op": [dict(zip(keys_op, row)) for row in self.by_op()],
            "by_layer": [dict(zip(keys_layer, row)) for row in self.by_layer()],
        }
        _write_atomically(path, json.dumps(document, indent=1).encode())
        return path


@contextlib.contextmanager
def trace(
    model: Model | None = None, gradients: bool = False, print_table: bool = False, json_path: str | None = None
) -> Iterator[Trace]:
    """Record every op run inside the block (see ``Trace``); yields the ``Trace``.  At the end of the block,
    ``print_table=True`` prints ``table()`` and ``json_path`` receives ``save_json``.  Results are unchanged:
    the trace only reads shapes and times (and, with ``gradients=True``, gradient norms)."""
    tracer = Trace(model, gradients)
    started = time.perf_counter()
    autograd.active_tracers.append(tracer)
    try:
        yield tracer
    finally:
        autograd.active_tracers.remove(tracer)
        tracer.seconds = time.perf_counter() - started
    if print_table:
        print(tracer.table())
    if json_path is not None:
        tracer.save_json(json_path)


def _describe(info):
    return info.name if info.index is None else f"{info.name} (op {info.index})"


def _shape(array):
    return tuple(getattr(array, "shape", ()))


def _new_bytes(input_arrays, output_arrays):
    """Bytes of the outputs that are new memory: a view of an input (reshape, transpose) costs none."""
    from .backend import get_array_module

    total = 0
    for out in output_arrays:
        nbytes = int(getattr(out, "nbytes", 0))
        if nbytes and hasattr(out, "shape"):
            xp = get_array_module(out)
            if any(hasattr(a, "shape") and xp.may_share_memory(out, a) for a in input_arrays):
                continue
        total += nbytes
    return total


def _norm(array):
    from .backend import get_array_module

    xp = get_array_module(array)
    return float(xp.sqrt(xp.sum(xp.square(array.astype("float64")))))


def _megabytes(nbytes):
    return f"{nbytes / 2**20:.2f}"


# ----------------------------------------------------------------------------------------------------
# The graph behind a tensor


@dataclass(eq=False)
class _Node:
    number: int
    kind: str  # "op", "parameter" (named leaf), "leaf" (requires grad), "constant"
    function: object = None  # the Function, for an op
    tensor: object = None  # the Tensor, for a leaf
    name: str = ""
    inputs: list = field(default_factory=list)  # [(node, output index of the node's function)]


def _graph(tensor, params):
    """The nodes behind ``tensor`` in data-flow order (post-order from the tensor; inputs in order)."""
    from .tensor import Tensor

    if not isinstance(tensor, Tensor):
        raise TypeError(f"minigan.graph: expected a Tensor, got {type(tensor).__name__}")
    names = {}
    for name, value in (params or {}).items():
        if not isinstance(value, Tensor):
            raise TypeError(
                f"minigan.graph: params[{name!r}] is a {type(value).__name__}, not a Tensor "
                "(pass dict(model.named_parameters()))"
            )
        names.setdefault(id(value), name)
    nodes = {}  # key -> _Node
    order = []

    def key_of(t):
        return ("op", id(t.creator)) if t.creator is not None else ("leaf", id(t))

    def make(t):
        if t.creator is not None:
            if t.creator.inputs is None:
                raise RuntimeError(
                    f"minigan.graph: the graph below {op_name(t.creator)} was freed by a backward "
                    "sweep; draw before backward, or call backward(retain_graph=True)"
                )
            return _Node(0, "op", function=t.creator)
        if id(t) in names:
            return _Node(0, "parameter", tensor=t, name=names[id(t)])
        return _Node(0, "leaf" if t.requires_grad else "constant", tensor=t)

    stack = [(tensor, False)]
    while stack:  # iterative post-order: graphs can be deeper than Python's recursion limit
        t, expanded = stack.pop()
        key = key_of(t)
        if not expanded:
            if key in nodes:
                continue
            nodes[key] = make(t)
            stack.append((t, True))
            if t.creator is not None:
                for parent in reversed(t.creator.inputs):
                    if key_of(parent) not in nodes:
                        stack.append((parent, False))
        else:
            node = nodes[key]
            order.append(node)
            node.number = len(order)
            if node.kind == "op":
                node.inputs = [(nodes[key_of(parent)], _output_index(parent)) for parent in node.function.inputs]
    return order


def _output_index(tensor):
    if tensor.creator is None or len(tensor.creator._outputs) == 1:
        return 0
    for index, ref in enumerate(tensor.creator._outputs):
        if ref() is tensor:
            return index
    return 0


def _outputs_of(node):
    """The op's output Tensors still alive (None for a freed one)."""
    return [ref() for ref in node.function._outputs]


def _describe_tensor(t):
    return f"{tuple(t.shape)} {t.dtype} {t.device}"


def _node_title(node):
    if node.kind == "op":
        if isinstance(node.function, (AddScalar, MulScalar)):  # the number has no node of its own
            return f"#{node.number} {op_name(node.function)} {node.function.scalar:g}"
        return f"#{node.number} {op_name(node.function)}"
    if node.kind == "parameter":
        return f"#{node.number} {node.name}"
    if node.kind == "constant" and node.tensor.array.size == 1 and node.tensor.array.dtype.kind in "fiub":
        return f"#{node.number} constant {node.tensor.array.reshape(()).item():g}"
    return f"#{node.number} {node.kind}"


def _node_facts(node, trace_, drawn, saved, grads):
    """The lines under a node's title: output, layer, which backward made it, saved tensors, gradient."""
    lines = []
    if node.kind != "op":
        lines.append(_describe_tensor(node.tensor))
        if grads and node.tensor.grad is not None:
            g = node.tensor.grad
            lines.append(f"grad {tuple(g.shape)} |g| {_norm(g.array):.4g}")
        return lines
    outputs = _outputs_of(node)
    lines += [
        ("freed" if t is None else _describe_tensor(t))
        if len(outputs) == 1
        else f"out {i}: " + ("freed" if t is None else _describe_tensor(t))
        for i, t in enumerate(outputs)
    ]
    info = trace_.info(node.function) if trace_ is not None else None
    if info is not None:
        if info.layer:
            lines.append(f"layer {info.layer}")
        if info.origin is not None:
            lines.append(_origin_text(info.origin, drawn))
        elif info.phase == "gradient sum":
            lines.append("gradient sum")
    if saved:
        lines += _saved_lines(node.function)
    if grads and info is not None and info.gradients:
        for i, g in enumerate(info.gradients):
            if g is not None:
                prefix = "grad" if len(info.gradients) == 1 else f"grad {i}"
                lines.append(f"{prefix} {g[0]} |g| {g[1]:.4g}")
    return lines


def _origin_text(origin, drawn):
    """``∂ conv2d #3`` (the backward of drawn node #3), else the trace's op number, else the chain."""
    number = drawn.get(id(origin))
    if number is not None:
        return f"∂ {origin.name} #{number}"
    text = f"∂ {origin.name}" + ("" if origin.index is None else f" (op {origin.index})")
    if origin.origin is not None:
        text += f" of {_origin_text(origin.origin, drawn)}"
    return text


def _saved_lines(function):
    """What an op keeps for its backward: its inputs, and the arrays it holds as attributes."""
    from .tensor import Tensor

    inputs = function.inputs or ()
    nbytes = sum(int(t.array.nbytes) for t in inputs)
    lines = [f"saved: {len(inputs)} input{'s' if len(inputs) != 1 else ''} ({_human_bytes(nbytes)})"]
    for attribute, value in sorted(vars(function).items()):
        if attribute in ("inputs", "_outputs"):
            continue
        array = value.array if isinstance(value, Tensor) else value
        if hasattr(array, "shape") and hasattr(array, "dtype") and hasattr(array, "nbytes"):
            lines.append(f"saved: {attribute} {tuple(array.shape)} {array.dtype}")
    return lines


def _human_bytes(nbytes):
    for unit in ("B", "kB", "MB", "GB"):
        if nbytes < 1024 or unit == "GB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024


def _drawn_origins(nodes, trace_):
    """id(_OpInfo) -> node number, for the drawn ops a trace knows (so that ``∂ conv2d #3`` can point)."""
    if trace_ is None:
        return {}
    drawn = {}
    for node in nodes:
        if node.kind == "op":
            info = trace_.info(node.function)
            if info is not None:
                drawn[id(info)] = node.number
    return drawn


def graph_text(
    tensor: Tensor,
    params: Mapping[str, Tensor] | None = None,
    *,
    saved: bool = False,
    grads: bool = False,
    trace: Trace | None = None,
) -> str:
    """The graph behind ``tensor`` as a tree, the tensor first and each op's inputs below it, in order.
    A node met again is written once more as ``#n name (above)``, without its inputs.  Options as
    ``to_dot``."""
    nodes = _graph(tensor, params)
    drawn = _drawn_origins(nodes, trace)
    lines, printed = [], set()
    stack = [(nodes[-1], "", "", "")]  # (node, prefix of its line, prefix of its children, output index)
    while stack:
        node, head, indent, port = stack.pop()
        title = _node_title(node) + port
        if node.number in printed:
            lines.append(f"{head}{title} (above)")
            continue
        printed.add(node.number)
        facts = _node_facts(node, trace, drawn, saved, grads)
        lines.append(f"{head}{title}  " + "  ".join(facts))
        children = node.inputs
        for position in reversed(range(len(children))):
            child, index = children[position]
            last = position == len(children) - 1
            child_port = f"[{index}]" if child.kind == "op" and len(child.function._outputs) > 1 else ""
            stack.append(
                (child, indent + ("└── " if last else "├── "), indent + ("    " if last else "│   "), child_port)
            )
    return "\n".join(lines)


# Fill colours of the nodes a backward recorded, one per forward op (cycled); forward ops are white.
_PALETTE = (
    "#fbb4ae",
    "#b3cde3",
    "#ccebc5",
    "#decbe4",
    "#fed9a6",
    "#ffffcc",
    "#e5d8bd",
    "#fddaec",
    "#c6dbef",
    "#d9f0a3",
    "#fdd0a2",
    "#bcbddc",
)
_BORDER = (
    "#e41a1c",
    "#377eb8",
    "#4daf4a",
    "#984ea3",
    "#ff7f00",
    "#b2b200",
    "#a65628",
    "#f781bf",
    "#2171b5",
    "#78c679",
    "#e6550d",
    "#756bb1",
)


def to_dot(
    tensor: Tensor,
    params: Mapping[str, Tensor] | None = None,
    *,
    saved: bool = False,
    grads: bool = False,
    trace: Trace | None = None,
    title: str | None = None,
    rankdir: str = "TB",
) -> str:
    """The Graphviz DOT source of the graph behind ``tensor``.

    ``params``: name -> Tensor (``dict(model.named_parameters())``) to name leaves.  ``saved``: list what
    each op keeps for its backward.  ``grads``: leaves' ``.grad`` and, from a ``trace(gradients=True)``,
    each op's output gradient (shape, norm).  ``trace``: a ``Trace`` that was on while the graph was built:
    ops get their layer, and ops recorded by a backward (``create_graph=True``) are marked ``∂ name #n`` and
    filled with the colour of the forward op they differentiate (which gets that colour as its border)."""
    nodes = _graph(tensor, params)
    drawn = _drawn_origins(nodes, trace)
    colours = {}  # id(_OpInfo of a forward op) -> palette index, in order of first use
    for node in nodes:
        info = trace.info(node.function) if trace is not None and node.kind == "op" else None
        if info is not None and info.origin is not None and id(info.origin) not in colours:
            colours[id(info.origin)] = len(colours) % len(_PALETTE)
    lines = [
        "digraph minigan {",
        f'  graph [rankdir={rankdir}, fontname="Helvetica", fontsize=11, nodesep=0.25, ranksep=0.3'
        + (f', label="{_escape(title)}", labelloc=t' if title else "")
        + "];",
        '  node [fontname="Helvetica", fontsize=10, margin="0.08,0.03"];',
        "  edge [arrowsize=0.6];",
    ]
    for node in nodes:
        label = "\\n".join(
            _escape(line) for line in [_node_title(node)] + _node_facts(node, trace, drawn, saved, grads)
        )
        if node.kind == "op":
            style = {"shape": "box", "style": '"rounded"'}
            info = trace.info(node.function) if trace is not None else None
            if info is not None and info.origin is not None:
                style.update(style='"rounded,filled"', fillcolor=f'"{_PALETTE[colours[id(info.origin)]]}"')
            elif info is not None and info.phase == "gradient sum":
                style.update(style='"rounded,filled"', fillcolor='"#e0e0e0"')
            if info is not None and id(info) in colours:
                style.update(color=f'"{_BORDER[colours[id(info)]]}"', penwidth="2")
        elif node.kind == "parameter":
            style = {"shape": "ellipse", "style": "filled", "fillcolor": '"#dbe9f6"'}
        elif node.kind == "leaf":
            style = {"shape": "ellipse"}
        else:
            style = {"shape": "ellipse", "style": "dashed"}
        attributes = ", ".join([f'label="{label}"'] + [f"{k}={v}" for k, v in style.items()])
        lines.append(f"  n{node.number} [{attributes}];")
    for node in nodes:
        for child, index in node.inputs:
            port = f' [label="{index}", fontsize=8]' if child.kind == "op" and len(child.function._outputs) > 1 else ""
            lines.append(f"  n{child.number} -> n{node.number}{port};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _escape(text):
    return str(text).replace("\\", "\\\\").replace('"', '\\"')


_RENDERED = ("svg", "png", "pdf")


def draw(
    tensor: Tensor,
    path: str,
    params: Mapping[str, Tensor] | None = None,
    *,
    saved: bool = False,
    grads: bool = False,
    trace: Trace | None = None,
    title: str | None = None,
    rankdir: str = "TB",
) -> str:
    """Draw the graph behind ``tensor`` to ``path``: ``.svg``/``.png``/``.pdf`` rendered by Graphviz,
    ``.dot``/``.gv`` the DOT source, ``.txt`` the text tree.  Options as ``to_dot``.

    Without Graphviz's ``dot`` on the PATH, writes the text tree to ``path`` with ``.txt`` for its
    suffix (a note on its first line) and the DOT source with ``.dot``, warns ``GraphvizMissing``, and
    returns the ``.txt`` path.  Returns the path written."""
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower().lstrip(".")
    if suffix not in _RENDERED + ("dot", "gv", "txt"):
        raise ValueError(
            f"minigan.graph.draw: unknown suffix of {path!r}; expected .svg, .png, .pdf (rendered "
            "by Graphviz), .dot or .gv (DOT source) or .txt (text tree)"
        )
    options = dict(saved=saved, grads=grads, trace=trace)
    if suffix == "txt":
        _write_atomically(path, (graph_text(tensor, params, **options) + "\n").encode())
        return path
    source = to_dot(tensor, params, title=title, rankdir=rankdir, **options)
    if suffix in ("dot", "gv"):
        _write_atomically(path, source.encode())
        return path
    if shutil.which("dot") is None:
        stem = os.path.splitext(path)[0]
        note = (
            f"note: Graphviz's dot is not on the PATH, so {os.path.basename(path)} was not rendered; this is "
            f"the text tree, and {os.path.basename(stem)}.dot the DOT source (install Debian's graphviz, "
            "or pip install 'minigan[graph]' and the dot program, to render it)"
        )
        _write_atomically(stem + ".dot", source.encode())
        _write_atomically(stem + ".txt", (note + "\n\n" + graph_text(tensor, params, **options) + "\n").encode())
        warnings.warn(note, GraphvizMissing, stacklevel=2)
        return stem + ".txt"
    _write_atomically(path, render(source, suffix))
    return path


def render(source: str, fmt: str) -> bytes:
    """DOT source rendered to ``fmt`` (svg, png, pdf) by the ``graphviz`` package when installed, else by
    running ``dot`` directly."""
    try:
        import graphviz
    except ImportError:
        graphviz = None
    if graphviz is not None:
        return graphviz.Source(source).pipe(format=fmt)
    done = subprocess.run(["dot", f"-T{fmt}"], input=source.encode(), capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"minigan.graph: dot -T{fmt} failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def _write_atomically(path, payload: bytes):
    """Write ``payload`` to a new file beside ``path`` and rename it over ``path``: a reader never sees half."""
    path = os.fspath(path)
    temporary = f"{path}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        with open(temporary, "xb") as file:  # created with the usual permissions (the umask's)
            file.write(payload)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
