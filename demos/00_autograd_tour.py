"""A tour of minigan's autograd engine, step by step, then a small MLP trained with Adam to 100% accuracy.

    python demos/00_autograd_tour.py [--quick] [--out demo_out/tour]

1. a graph: y = sum(tanh(W x + b)) records every op in ``tensor.creator``; ``mg.graph.graph_text`` prints it;
2. backward: dy/dW, dy/db by reverse-mode sweep, checked against the closed form;
3. a gradient of a gradient: grad(..., create_graph=True) then grad again (a Hessian-vector product);
4. the backward as a graph: a WGAN-GP gradient penalty on a tiny conv critic.  The gradient's ops were
   recorded by the backward of conv2d (conv_transpose2d) and of leaky_relu (its slope masks); the
   penalty's gradient in a weight goes one level further, through conv_transpose2d's backward
   (conv2d_weight).  Drawn to penalty_graph.svg and penalty_weight_grad_graph.svg;
5. gradcheck / gradgradcheck: the engine checks itself against central differences in float64;
6. an MLP (2-64-64-2) on two interleaved spirals, Adam, cross-entropy, to 100% training accuracy; its
   graph with each node's gradient after one backward (mlp_graph.svg);
7. a step's trace: every op one training step ran, forward and backward, per op and per layer
   (trace.json).

The figures are SVG, rendered by Graphviz's ``dot`` (Debian's graphviz); without it each is written as a text
tree (.txt) and DOT source (.dot) instead, with a note.
"""

import argparse
import os
import time

import numpy as np

import minigan as mg
import minigan.functional as F
import minigan.nn as nn
import minigan.optim as optim
from minigan import argtypes, data


def gradient_penalty_graphs(out, fmt):
    """WGAN-GP's penalty ((|d critic / d x| - 1)^2) on a tiny conv critic, its graph and its weight gradient's."""
    critic = nn.Sequential(
        nn.Conv2d(1, 2, 4, 2, 1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(2, 2, 4, 2, 1),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(8, 1),
    )
    x_hat = mg.randn(2, 1, 8, 8, requires_grad=True)  # the points between real and fake images
    params = dict(critic.named_parameters(), x_hat=x_hat)
    with mg.graph.trace(critic) as t:  # knows whose backward recorded each op
        (g,) = mg.grad(critic(x_hat).sum(), x_hat, create_graph=True)  # the backward, recorded
        penalty = ((g.reshape(2, -1).norm(dim=1) - 1) ** 2).mean()
        (g_weight,) = mg.grad(penalty, critic[0].weight, create_graph=True)  # the backward of the backward
    print(mg.graph.graph_text(penalty, params, trace=t))
    show(
        mg.graph.draw(
            penalty,
            os.path.join(out, f"penalty_graph.{fmt}"),
            params,
            trace=t,
            title="WGAN-GP's penalty on a tiny conv critic: coloured ops were recorded by the "
            "backward of the forward op they name (∂ conv2d: conv_transpose2d)",
        )
    )
    show(
        mg.graph.draw(
            g_weight,
            os.path.join(out, f"penalty_weight_grad_graph.{fmt}"),
            params,
            trace=t,
            title="the penalty's gradient in 0.weight: conv_transpose2d's backward is conv2d_weight",
        )
    )
    text = mg.graph.graph_text(g_weight, params, trace=t)
    for op in ("conv_transpose2d", "leaky_relu_backward", "conv2d_weight"):
        print(f"{op:>20}: {sum(f' {op}  ' in line for line in text.splitlines())} in the weight gradient's graph")


def show(path):
    print(f"figure: {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer training steps (for the test suite)")
    parser.add_argument("--out", default="demo_out/tour")
    parser.add_argument("--seed", type=argtypes.seed, default=0)
    parser.add_argument("--figures", choices=("svg", "png", "pdf"), default="svg", help="format of the graphs")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    mg.manual_seed(args.seed)

    print("== 1. a graph ==")
    x = mg.tensor([0.5, -1.0, 2.0], dtype="float64")
    W = mg.tensor(np.arange(6.0).reshape(2, 3) / 10, dtype="float64", requires_grad=True)
    b = mg.tensor([0.1, -0.2], dtype="float64", requires_grad=True)
    y = F.tanh(W @ x + b).sum()
    print(mg.graph.graph_text(y, params={"W": W, "b": b, "x": x}))  # the output first, inputs below

    print("\n== 2. backward ==")
    y.backward()
    pre = W.numpy() @ x.numpy() + b.numpy()
    closed_form_W = np.outer(1 - np.tanh(pre) ** 2, x.numpy())
    print("dy/dW (engine)     :", np.round(W.grad.numpy(), 6).tolist())
    print("dy/dW (closed form):", np.round(closed_form_W, 6).tolist())
    assert np.allclose(W.grad.numpy(), closed_form_W)

    print("\n== 3. a gradient of a gradient ==")
    z = mg.tensor([0.3, -0.8], dtype="float64", requires_grad=True)
    f = (z**3).sum() + (z[0] * z[1]) ** 2  # f = z0^3 + z1^3 + z0^2 z1^2
    (g,) = mg.grad(f, z, create_graph=True)  # g = (3 z0^2 + 2 z0 z1^2, 3 z1^2 + 2 z0^2 z1)
    v = mg.tensor([1.0, 0.0], dtype="float64")
    (hv,) = mg.grad((g * v).sum(), z)  # H v = first column of the Hessian
    z0, z1 = z.numpy()
    print("grad f        :", g.numpy().round(6).tolist())
    print(
        "H [1,0] engine:",
        hv.numpy().round(6).tolist(),
        " closed form:",
        [round(float(6 * z0 + 2 * z1**2), 6), round(float(4 * z0 * z1), 6)],
    )

    print("\n== 4. the backward as a graph: a WGAN-GP penalty on a tiny conv critic ==")
    gradient_penalty_graphs(args.out, args.figures)

    print("\n== 5. gradcheck / gradgradcheck ==")
    xs = mg.randn(4, 3, dtype="float64", requires_grad=True)
    Ws = mg.randn(5, 3, dtype="float64", requires_grad=True)
    mlp_layer = lambda x, W: F.softplus(F.linear(x, W))  # noqa: E731
    print("gradcheck     :", mg.gradcheck(mlp_layer, (xs, Ws)))
    print("gradgradcheck :", mg.gradgradcheck(mlp_layer, (xs, Ws)))

    print("\n== 6. an MLP on two spirals, Adam, cross-entropy ==")
    points, labels = data.two_spirals(200, noise=0.02, seed=args.seed)
    inputs, targets = mg.tensor(points), mg.tensor(labels)
    model = nn.Sequential(nn.Linear(2, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 2))
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    params = dict(model.named_parameters(), points=inputs)
    with mg.graph.trace(model, gradients=True) as first_step:  # gradients: each op's, for the drawing
        loss = F.cross_entropy(model(inputs), targets)
        loss.backward(retain_graph=True)  # keep the graph to draw it after backward
    print(mg.graph.graph_text(loss, params, grads=True, trace=first_step))
    show(
        mg.graph.draw(
            loss,
            os.path.join(args.out, f"mlp_graph.{args.figures}"),
            params,
            grads=True,
            trace=first_step,
            title="an MLP's cross-entropy after one backward: each node's gradient (shape, norm)",
        )
    )
    steps = 600 if args.quick else 2000
    start, accuracy, losses = time.time(), 0.0, []
    for step in range(1, steps + 1):
        logits = model(inputs)  # (400, 2)
        loss = F.cross_entropy(logits, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        accuracy = float((logits.numpy().argmax(1) == labels).mean())
        if accuracy == 1.0 and step >= 200:
            print(f"step {step:5d}  loss {loss.item():.4f}  accuracy {accuracy:.3f}  (100% reached)")
            break
        if step % 200 == 0:
            print(f"step {step:5d}  loss {loss.item():.4f}  accuracy {accuracy:.3f}")
    elapsed = time.time() - start
    print(f"trained in {elapsed:.1f} s; final training accuracy {accuracy:.3f} (chance: 0.500)")

    print("\n== 7. a step's trace ==")
    with mg.graph.trace(model) as step:  # one more step, every op recorded
        loss = F.cross_entropy(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print(step.table())
    print(f"trace: {step.save_json(os.path.join(args.out, 'trace.json'))}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.stack(np.meshgrid(np.linspace(-1.3, 1.3, 200), np.linspace(-1.3, 1.3, 200)), -1).reshape(-1, 2)
    with mg.no_grad():
        probability = F.softmax(model(mg.tensor(grid.astype(np.float32))), 1).numpy()[:, 1]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    axes[0].contourf(
        grid[:, 0].reshape(200, 200),
        grid[:, 1].reshape(200, 200),
        probability.reshape(200, 200),
        levels=20,
        cmap="RdBu_r",
        alpha=0.6,
    )
    axes[0].scatter(points[:, 0], points[:, 1], c=labels, cmap="RdBu_r", s=6, edgecolors="k", linewidths=0.2)
    axes[0].set_title(f"decision surface, training accuracy {accuracy:.1%}")
    axes[1].semilogy(losses)
    axes[1].set_xlabel("Adam step")
    axes[1].set_ylabel("cross-entropy")
    axes[1].set_title("training loss")
    fig.tight_layout()
    path = os.path.join(args.out, "spirals.png")
    fig.savefig(path, dpi=90)
    print(f"figure: {path}")
    return accuracy


if __name__ == "__main__":
    main()
