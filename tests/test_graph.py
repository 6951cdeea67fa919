"""minigan.graph: the drawn graph of a known expression node for node, the double-backward graph of a tiny
critic, the trace's op count against an independent count, the text fallback without ``dot``, and that
drawing and tracing change no value and no gradient."""

import contextlib
import importlib.util
import json
import re
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import minigan as mg
import minigan.functional as F
import minigan.nn as nn
import minigan.ops
from minigan import autograd, graph
from minigan.function import Function

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot is not installed (Debian package graphviz; .ci/run installs it)"
)


def known_expression():
    a = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = mg.tensor(np.array([3.0, -4.0]), requires_grad=True)
    return (a * b + a - 1.0).sum(), a, b


def tiny_critic():
    mg.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 2, 4, 2, 1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(2, 2, 4, 2, 1),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(8, 1),
    )


# --- the graph of a known expression --------------------------------------------------------------------


def test_text_tree_of_a_known_expression_node_for_node():
    y, a, b = known_expression()
    assert graph.graph_text(y, {"a": a, "b": b}) == "\n".join(
        [
            "#6 sum  () float64 cpu",
            "└── #5 add_scalar -1  (2,) float64 cpu",  # a Python number is the op's, not a node
            "    └── #4 add  (2,) float64 cpu",
            "        ├── #3 mul  (2,) float64 cpu",
            "        │   ├── #1 a  (2,) float64 cpu",
            "        │   └── #2 b  (2,) float64 cpu",
            "        └── #1 a (above)",
        ]
    )


def test_a_constant_tensor_operand_is_a_node_titled_with_its_value():
    a = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    assert graph.graph_text((a * mg.tensor(2.5, dtype="float64")).sum(), {"a": a}) == "\n".join(
        [
            "#4 sum  () float64 cpu",
            "└── #3 mul  (2,) float64 cpu",
            "    ├── #1 a  (2,) float64 cpu",
            "    └── #2 constant 2.5  () float64 cpu",
        ]
    )


def test_dot_source_of_a_known_expression_has_exactly_its_nodes_and_edges_in_data_flow_order():
    y, a, b = known_expression()
    dot = graph.to_dot(y, {"a": a, "b": b})
    nodes = [line.strip() for line in dot.splitlines() if re.match(r"n\d+ \[", line.strip())]
    edges = [line.strip() for line in dot.splitlines() if "->" in line]
    assert nodes == [
        'n1 [label="#1 a\\n(2,) float64 cpu", shape=ellipse, style=filled, fillcolor="#dbe9f6"];',
        'n2 [label="#2 b\\n(2,) float64 cpu", shape=ellipse, style=filled, fillcolor="#dbe9f6"];',
        'n3 [label="#3 mul\\n(2,) float64 cpu", shape=box, style="rounded"];',
        'n4 [label="#4 add\\n(2,) float64 cpu", shape=box, style="rounded"];',
        'n5 [label="#5 add_scalar -1\\n(2,) float64 cpu", shape=box, style="rounded"];',
        'n6 [label="#6 sum\\n() float64 cpu", shape=box, style="rounded"];',
    ]
    assert edges == ["n1 -> n3;", "n2 -> n3;", "n3 -> n4;", "n1 -> n4;", "n4 -> n5;", "n5 -> n6;"]
    assert dot.startswith("digraph minigan {") and dot.rstrip().endswith("}")


def test_unnamed_leaves_and_module_parameters_are_labelled():
    model = nn.Linear(3, 2)
    x = mg.randn(4, 3)
    text = graph.graph_text(model(x).sum(), dict(model.named_parameters()))
    assert "weight  (2, 3) float32 cpu" in text and "bias  (2,) float32 cpu" in text
    assert "constant  (4, 3) float32 cpu" in text  # the input: no grad, no name
    leaf = mg.randn(3, requires_grad=True)
    assert "#1 leaf  (3,) float32 cpu" in graph.graph_text((leaf * 2).sum())


class Halves(Function):
    """A two-output op (none of minigan's primitives has two): the first and second half of a vector."""

    def forward(self, x):
        half = x.shape[0] // 2
        return x[:half].copy(), x[half:].copy()

    def backward(self, g_first, g_second):
        return F.cat([g_first, g_second])


def test_the_outputs_of_a_two_output_op_are_told_apart():
    x = mg.tensor(np.arange(4.0), requires_grad=True)
    first, second = Halves().apply(x)
    y = (first * second).sum()
    text = graph.graph_text(y, {"x": x})
    assert text.splitlines()[2:5] == [
        "    ├── #2 halves[0]  out 0: (2,) float64 cpu  out 1: (2,) float64 cpu",
        "    │   └── #1 x  (4,) float64 cpu",
        "    └── #2 halves[1] (above)",
    ]
    edges = [line.strip() for line in graph.to_dot(y).splitlines() if "->" in line]
    assert edges == ["n1 -> n2;", 'n2 -> n3 [label="0", fontsize=8];', 'n2 -> n3 [label="1", fontsize=8];', "n3 -> n4;"]


def test_gradients_after_backward_and_what_ops_save():
    y, a, b = known_expression()
    with graph.trace(gradients=True) as t:
        y.backward(retain_graph=True)
    text = graph.graph_text(y, {"a": a, "b": b}, grads=True, saved=True, trace=t)
    # a.grad = b + 1 = (4, -3): norm 5; b.grad = a = (1, 2): norm sqrt(5); the gradient reaching mul is (1, 1)
    assert "#1 a  (2,) float64 cpu  grad (2,) |g| 5" in text
    assert f"#2 b  (2,) float64 cpu  grad (2,) |g| {np.sqrt(5):.4g}" in text
    assert f"#3 mul  (2,) float64 cpu  saved: 2 inputs (32 B)  grad (2,) |g| {np.sqrt(2):.4g}" in text
    assert "#6 sum  () float64 cpu  saved: 1 input (16 B)  grad () |g| 1" in text


def test_a_graph_freed_by_backward_is_refused_with_the_remedy():
    y, _, _ = known_expression()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        graph.graph_text(y)


def test_op_names_are_the_names_in_minigan_ops():
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    internal = {"getitem_grad", "leaky_relu_backward", "cross_entropy_backward"}  # made only by another op's backward
    names = {
        graph.op_name(cls.__new__(cls)) for cls in subclasses(Function) if cls.__module__.startswith("minigan.ops")
    }
    assert names - internal <= set(minigan.ops.__all__), names - internal - set(minigan.ops.__all__)
    assert {"matmul", "conv_transpose2d", "conv2d_weight", "leaky_relu", "logsumexp"} <= names


# --- the backward as a graph ----------------------------------------------------------------------------


def gradient_penalty_graphs():
    """A tiny conv critic's WGAN-GP penalty (its gradient recorded), and the penalty's gradient in the first
    layer's weight (recorded too), all under one trace."""
    critic = tiny_critic()
    x = mg.randn(2, 1, 8, 8, requires_grad=True)
    with graph.trace(critic) as t:
        (g,) = mg.grad(critic(x).sum(), x, create_graph=True)
        penalty = ((g.reshape(2, -1).norm(dim=1) - 1) ** 2).mean()
        (g_weight,) = mg.grad(penalty, critic[0].weight, create_graph=True)
    params = dict(critic.named_parameters(), x_hat=x)
    return penalty, g_weight, params, t


def op_lines(text, name):
    return [line for line in text.splitlines() if f" {name}  " in line]


def test_the_penalty_graph_is_conv2d_and_leaky_relu_backwards_coloured_by_their_forward_op():
    penalty, _, params, t = gradient_penalty_graphs()
    text = graph.graph_text(penalty, params, trace=t, saved=True)
    transposes = op_lines(text, "conv_transpose2d")
    masks = op_lines(text, "leaky_relu_backward")
    assert len(transposes) == 2 and all("∂ conv2d (op " in line for line in transposes)
    assert {"layer 0 (Conv2d)", "layer 2 (Conv2d)"} == {
        part.strip() for line in transposes for part in line.split("  ") if part.startswith("layer")
    }
    assert len(masks) == 2 and all("∂ leaky_relu (op " in line for line in masks)
    assert all("saved: x (2, 2, " in line for line in masks)  # the slope mask is rebuilt from the saved x
    assert not op_lines(text, "conv2d_weight")  # the gradient in x alone needs no weight gradient...
    dot = graph.to_dot(penalty, params, trace=t)
    fills = {line.split('fillcolor="')[1][:7] for line in dot.splitlines() if "conv_transpose2d" in line}
    assert len(fills) == 2  # one colour per forward conv2d


def test_the_backward_of_the_backward_runs_through_conv_transpose2d_and_conv2d_weight():
    penalty, g_weight, params, t = gradient_penalty_graphs()
    text = graph.graph_text(g_weight, params, trace=t)
    root = text.splitlines()[0]  # ...which the penalty's gradient in a weight needs:
    assert root.startswith("#") and " conv2d_weight  (2, 1, 4, 4) float32 cpu" in root
    number = next(
        re.search(r"(#\d+) conv_transpose2d", line).group(1)
        for line in op_lines(text, "conv_transpose2d")
        if "layer 0 (Conv2d)" in line
    )
    assert root.endswith(f"∂ conv_transpose2d {number}")  # made by the backward of the drawn transpose
    assert any("gradient sum" in line for line in text.splitlines())  # g.reshape is read twice by g * g
    dot = graph.to_dot(g_weight, params, trace=t)
    transpose = next(line for line in dot.splitlines() if f'label="{number} conv_transpose2d' in line)
    assert "penwidth=2" in transpose  # the transpose is the forward op of a coloured backward


# --- the trace --------------------------------------------------------------------------------------------


def test_the_trace_records_every_op_run_counted_independently(monkeypatch):
    run = []
    original_apply = Function.apply

    def counting_apply(self, *inputs):  # an independent count of the ops actually run
        run.append(graph.op_name(self))
        return original_apply(self, *inputs)

    monkeypatch.setattr(Function, "apply", counting_apply)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x = mg.randn(5, 3)
    with graph.trace(model) as t:
        loss = F.cross_entropy(model(x), mg.tensor(np.array([0, 1, 1, 0, 1])))
        forward_count = len(run)
        loss.backward()
    assert run[:forward_count] == ["linear", "tanh", "linear", "cross_entropy"]  # one op each
    assert len(run) > forward_count
    assert [r["op"] for r in t.records] == run
    assert [r["phase"] for r in t.records[:forward_count]] == ["forward"] * forward_count
    assert all(r["phase"] in ("backward", "gradient sum") for r in t.records[forward_count:])
    assert sum(row[2] for row in t.by_op()) == len(run)
    assert [r["index"] for r in t.records] == list(range(len(run)))


def test_the_trace_names_layers_and_the_forward_op_each_backward_op_differentiates():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x = mg.randn(5, 3)
    with graph.trace(model) as t:
        loss = model(x).sum()
        loss.backward()
    tanh = next(r for r in t.records if r["op"] == "tanh")
    assert tanh["layer"] == "1 (Tanh)" and tanh["phase"] == "forward" and tanh["outputs"] == [[5, 4]]
    assert tanh["bytes"] == 5 * 4 * 4  # float32 (5, 4), new memory
    reshapes = [r for r in t.records if r["op"] == "reshape" and r["phase"] == "forward"]
    assert reshapes == [] or all(r["bytes"] == 0 for r in reshapes)  # views cost nothing
    tanh_backward = [r for r in t.records if r["of"] == f"tanh (op {tanh['index']})"]
    assert [r["op"] for r in tanh_backward] == ["tanh_backward"]  # gy * (1 - y*y), one op
    assert all(r["layer"] == "1 (Tanh)" and r["phase"] == "backward" for r in tanh_backward)
    layers = [row[0] for row in t.by_layer()]
    assert layers[:3] == ["0 (Linear)", "1 (Tanh)", "2 (Linear)"]
    table = t.table()
    assert "tanh" in table and "1 (Tanh)" in table and f"{len(t.records)} ops" in table


def test_the_trace_is_printed_and_saved_as_json_and_stops_at_the_end_of_the_block(tmp_path, capsys):
    y, a, b = known_expression()
    path = tmp_path / "trace.json"
    with graph.trace(print_table=True, json_path=path) as t:
        y.backward()
    assert capsys.readouterr().out == t.table() + "\n"
    assert t.table().startswith(f"{len(t.records)} ops, ")
    document = json.loads(path.read_text())
    assert document["seconds"] == t.seconds > 0
    assert [r["op"] for r in document["ops"]] == [r["op"] for r in t.records]
    assert sum(row["calls"] for row in document["by_op"]) == len(t.records)
    assert set(document["by_layer"][0]) == {"layer", "forward_ops", "forward_seconds", "backward_seconds", "bytes"}
    assert autograd.active_tracers == []
    before = len(t.records)
    (a * b).sum()
    assert len(t.records) == before


# --- rendering ----------------------------------------------------------------------------------------------


def test_without_dot_the_text_tree_is_written_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no dot anywhere on it
    y, a, b = known_expression()
    with pytest.warns(graph.GraphvizMissing, match="dot is not on the PATH"):
        written = graph.draw(y, tmp_path / "expression.svg", {"a": a, "b": b})
    assert written == str(tmp_path / "expression.txt")
    assert not (tmp_path / "expression.svg").exists()
    text = (tmp_path / "expression.txt").read_text()
    assert text.startswith("note: Graphviz's dot is not on the PATH")
    assert text.endswith(graph.graph_text(y, {"a": a, "b": b}) + "\n")
    assert (tmp_path / "expression.dot").read_text() == graph.to_dot(y, {"a": a, "b": b})


def test_draw_writes_dot_source_and_text_without_graphviz_and_refuses_unknown_suffixes(tmp_path):
    y, a, b = known_expression()
    assert graph.draw(y, tmp_path / "g.dot") == str(tmp_path / "g.dot")
    assert (tmp_path / "g.dot").read_text() == graph.to_dot(y)
    graph.draw(y, tmp_path / "g.txt")
    assert (tmp_path / "g.txt").read_text() == graph.graph_text(y) + "\n"
    with pytest.raises(ValueError, match=r"\.svg, \.png, \.pdf"):
        graph.draw(y, tmp_path / "g.jpeg")


@needs_dot
def test_svg_rendering_by_the_graphviz_package_and_by_dot_agree(tmp_path, monkeypatch):
    y, a, b = known_expression()
    graph.draw(y, tmp_path / "package.svg", {"a": a, "b": b})
    svg = (tmp_path / "package.svg").read_text()
    assert "<svg" in svg and "#4 add" in svg and "#1 a" in svg and svg.count('class="edge"') == 6
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz now fails: dot directly
    graph.draw(y, tmp_path / "direct.svg", {"a": a, "b": b})
    assert (tmp_path / "direct.svg").read_text() == svg


@needs_dot
def test_png_rendering(tmp_path):
    y, _, _ = known_expression()
    graph.draw(y, tmp_path / "g.png")
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- nothing changes -----------------------------------------------------------------------------------------


def gradient_penalty_step(observe, tmp_path):
    """One WGAN-GP critic step's values and gradients; with ``observe``, traced and drawn at every stage."""
    critic = tiny_critic()
    mg.manual_seed(1)
    x = mg.randn(2, 1, 8, 8, requires_grad=True)
    params = dict(critic.named_parameters())
    with graph.trace(critic, gradients=True) if observe else contextlib.nullcontext() as t:
        score = critic(x)
        (g,) = mg.grad(score.sum(), x, create_graph=True)
        if observe:
            graph.graph_text(g, params, trace=t, saved=True, grads=True)
        penalty = ((g.reshape(2, -1).norm(dim=1) - 1) ** 2).mean()
        loss = score.mean() + 10 * penalty
        if observe:
            graph.draw(loss, tmp_path / "loss.dot", params, trace=t, saved=True)
        loss.backward(retain_graph=observe)
        if observe:
            graph.draw(loss, tmp_path / "loss.txt", params, trace=t, saved=True, grads=True)
    return [score.numpy(), g.numpy(), loss.numpy(), x.grad.numpy()] + [p.grad.numpy() for p in params.values()]


def test_tracing_and_drawing_change_no_value_and_no_gradient(tmp_path):
    plain = gradient_penalty_step(False, tmp_path)
    observed = gradient_penalty_step(True, tmp_path)
    assert len(plain) == len(observed) == 10
    for expected, got in zip(plain, observed):
        assert np.array_equal(expected, got)


# --- the README's tour -----------------------------------------------------------------------------------------


def test_the_readme_graph_section_runs_and_draws_what_it_says(tmp_path, monkeypatch, capsys):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    blocks = [block for block in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "mg.graph" in block]
    assert len(blocks) == 2, "README's 'See the graph' section has two python blocks"
    monkeypatch.chdir(tmp_path)  # they draw into the current directory
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", graph.GraphvizMissing)  # without dot they write the text tree
        for block in blocks:
            exec(compile(block, "README.md (See the graph)", "exec"), namespace)
    printed = capsys.readouterr().out
    assert printed.startswith("#13 cross_entropy  () float32 cpu")  # as its comment says
    assert "matmul" in printed and "(no module)" in printed and "4 (Linear)" in printed  # the table
    drawn = {path.name for path in tmp_path.iterdir()}
    assert {"mlp_graph.svg", "penalty_graph.svg"} <= drawn or {"mlp_graph.txt", "penalty_graph.txt"} <= drawn
    assert " conv2d_weight  " in graph.graph_text(namespace["g_weight"], trace=namespace["t"]).splitlines()[0]


def test_the_tour_draws_the_penalty_graph_and_the_backward_of_the_backward(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        "autograd_tour", Path(__file__).resolve().parent.parent / "demos" / "00_autograd_tour.py"
    )
    tour = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tour)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", graph.GraphvizMissing)
        tour.gradient_penalty_graphs(str(tmp_path), "svg")
    printed = capsys.readouterr().out
    assert "    conv_transpose2d: 2 in the weight gradient's graph" in printed
    assert " leaky_relu_backward: 2 in the weight gradient's graph" in printed
    assert "       conv2d_weight: 1 in the weight gradient's graph" in printed
    suffix = "svg" if shutil.which("dot") else "txt"
    assert {f"penalty_graph.{suffix}", f"penalty_weight_grad_graph.{suffix}"} <= {p.name for p in tmp_path.iterdir()}
