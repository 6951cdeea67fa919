"""One table over every differentiable op: forward against a NumPy reference, gradcheck and gradgradcheck
in float64, and (when PyTorch is installed) first and second derivatives against PyTorch's.

Each case gives: the minigan function, a NumPy reference for the forward pass, the PyTorch equivalent
(or None), and a factory of float64 inputs (NumPy arrays; those listed in ``grad`` get requires_grad).
"""

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import pytest

import minigan as mg
import minigan.functional as F
import minigan.ops as ops
from minigan.ops.linalg import matmul_transposed

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # the cross-checks skip; the rest of the table still runs
    torch = None

rng = np.random.default_rng(1234)


def randn(*shape):
    return rng.standard_normal(shape)


def positive(*shape):
    return rng.uniform(0.5, 2.0, shape)


def away_from_zero(*shape):
    """Values with |x| >= 0.2, so that kinks (relu, abs, max) are not straddled by finite differences."""
    x = rng.uniform(0.2, 1.5, shape)
    return x * rng.choice([-1.0, 1.0], shape)


def distinct(*shape):
    """A random permutation of well-separated values: max/max_pool have a unique argmax."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.37 - n * 0.15).reshape(shape)


def probabilities(*shape):
    return rng.uniform(0.1, 0.9, shape)


@dataclass
class Case:
    name: str
    fn: Callable  # minigan: (*Tensors) -> Tensor
    inputs: Callable  # () -> list of float64 arrays
    reference: Optional[Callable]  # numpy: (*arrays) -> array
    torch_fn: Optional[Callable] = None  # torch: (*tensors) -> tensor
    grad: tuple = None  # indices of inputs that are differentiated (default: all)
    second_order: bool = True
    atol: float = 1e-5
    extra: dict = field(default_factory=dict)


def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_conv2d(x, W, stride, padding, dilation=1):
    n, c, h, w = x.shape
    o, _, kh, kw = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    ho = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    wo = (w + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    y = np.zeros((n, o, ho, wo))
    for i in range(kh):
        for j in range(kw):
            patch = xp[
                :,
                :,
                i * dilation : i * dilation + stride * ho : stride,
                j * dilation : j * dilation + stride * wo : stride,
            ]
            y += np.einsum("nchw,oc->nohw", patch, W[:, :, i, j])
    return y


def np_conv_transpose2d(x, W, stride, padding, output_padding=0, dilation=1):
    """Scatter form: each input pixel adds W * x to a window of the (uncropped) output."""
    n, c, h, w = x.shape
    _, o, kh, kw = W.shape
    full_h = (h - 1) * stride + dilation * (kh - 1) + 1 + output_padding
    full_w = (w - 1) * stride + dilation * (kw - 1) + 1 + output_padding
    y = np.zeros((n, o, full_h + padding, full_w + padding))
    for i in range(kh):
        for j in range(kw):
            y[
                :,
                :,
                i * dilation : i * dilation + stride * h : stride,
                j * dilation : j * dilation + stride * w : stride,
            ] += np.einsum("nchw,co->nohw", x, W[:, :, i, j])
    return y[:, :, padding : padding + full_h - 2 * padding, padding : padding + full_w - 2 * padding]


def np_max_pool(x, k, s):
    n, c, h, w = x.shape
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    y = np.full((n, c, ho, wo), -np.inf)
    for i in range(k):
        for j in range(k):
            y = np.maximum(y, x[:, :, i : i + s * ho : s, j : j + s * wo : s])
    return y


def np_layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def np_batch_norm_train(x, w, b, eps=1e-5):
    axes = (0, 2, 3)
    mu = x.mean(axes, keepdims=True)
    var = x.var(axes, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w.reshape(1, -1, 1, 1) + b.reshape(1, -1, 1, 1)


def np_softplus(x):
    return np.logaddexp(0, x)


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def t(name):
    """A lazily looked-up torch function (the table is built even without torch)."""

    def call(*args, **kwargs):
        obj = torch
        for part in name.split("."):
            obj = getattr(obj, part)
        return obj(*args, **kwargs)

    return call


labels = np.array([2, 0, 1, 2])

CASES = [
    # --- arithmetic (broadcasting in every binary op) ---
    Case("add", lambda a, b: a + b, lambda: [randn(3, 4), randn(4)], lambda a, b: a + b, lambda a, b: a + b),
    Case("sub", lambda a, b: a - b, lambda: [randn(3, 1), randn(1, 4)], lambda a, b: a - b, lambda a, b: a - b),
    Case("mul", lambda a, b: a * b, lambda: [randn(2, 3, 4), randn(3, 1)], lambda a, b: a * b, lambda a, b: a * b),
    Case("div", lambda a, b: a / b, lambda: [randn(3, 4), positive(3, 4)], lambda a, b: a / b, lambda a, b: a / b),
    Case("neg", lambda a: -a, lambda: [randn(5)], lambda a: -a, lambda a: -a),
    Case(
        "add_scalar",
        lambda a: 0.25 + (a - 2),
        lambda: [randn(3, 4)],
        lambda a: 0.25 + (a - 2),
        lambda a: 0.25 + (a - 2),
    ),
    Case(
        "mul_scalar",
        lambda a: 3 * (a * -0.5),
        lambda: [randn(3, 4)],
        lambda a: 3 * (a * -0.5),
        lambda a: 3 * (a * -0.5),
    ),
    Case("pow_scalar", lambda a: a**3, lambda: [randn(3, 3)], lambda a: a**3, lambda a: a**3),
    Case("pow_fractional", lambda a: a**1.5, lambda: [positive(3, 3)], lambda a: a**1.5, lambda a: a**1.5),
    Case(
        "pow_tensor",
        lambda a, b: F.pow(a, b),
        lambda: [positive(3, 3), randn(3, 3)],
        lambda a, b: a**b,
        lambda a, b: a**b,
    ),
    Case("sqrt", F.sqrt, lambda: [positive(4, 3)], np.sqrt, t("sqrt")),
    Case("exp", F.exp, lambda: [randn(4, 3)], np.exp, t("exp")),
    Case("expm1", F.expm1, lambda: [randn(4, 3)], np.expm1, t("expm1")),
    Case("log", F.log, lambda: [positive(4, 3)], np.log, t("log")),
    Case("abs", F.abs, lambda: [away_from_zero(4, 3)], np.abs, t("abs")),
    Case(
        "clamp",
        lambda a: F.clamp(a, -0.5, 0.7),
        lambda: [away_from_zero(4, 5) * 0.5 + 0.01],
        lambda a: np.clip(a, -0.5, 0.7),
        lambda a: torch.clamp(a, -0.5, 0.7),
    ),
    Case("maximum", F.maximum, lambda: [distinct(3, 4), distinct(3, 4) * 0.9 + 0.05], np.maximum, t("maximum")),
    Case(
        "where",
        lambda a, b: F.where(a.array > 0, a, b),
        lambda: [away_from_zero(3, 4), randn(3, 4)],
        lambda a, b: np.where(a > 0, a, b),
        lambda a, b: torch.where(a > 0, a, b),
    ),
    # --- reductions ---
    Case("sum_all", lambda a: a.sum(), lambda: [randn(3, 4)], lambda a: a.sum(), lambda a: a.sum()),
    Case(
        "sum_dim_keepdim",
        lambda a: a.sum(1, keepdim=True),
        lambda: [randn(3, 4, 2)],
        lambda a: a.sum(1, keepdims=True),
        lambda a: a.sum(1, keepdim=True),
    ),
    Case(
        "mean", lambda a: a.mean((0, 2)), lambda: [randn(3, 4, 2)], lambda a: a.mean((0, 2)), lambda a: a.mean((0, 2))
    ),
    Case("var", lambda a: a.var(1), lambda: [randn(3, 5)], lambda a: a.var(1, ddof=1), lambda a: a.var(1)),
    Case("max_dim", lambda a: a.max(1), lambda: [distinct(3, 5)], lambda a: a.max(1), lambda a: a.amax(1)),
    Case("min_all", lambda a: a.min(), lambda: [distinct(3, 5)], lambda a: a.min(), lambda a: a.amin()),
    Case(
        "logsumexp",
        lambda a: mg.logsumexp(a, 1),
        lambda: [randn(3, 5) * 3],
        lambda a: np.log(np.exp(a).sum(1)),
        lambda a: torch.logsumexp(a, 1),
    ),
    Case(
        "norm",
        lambda a: F.norm(a, dim=1),
        lambda: [randn(3, 5)],
        lambda a: np.sqrt((a**2).sum(1)),
        lambda a: a.norm(dim=1),
    ),
    # --- shapes ---
    Case(
        "reshape",
        lambda a: a.reshape(4, -1),
        lambda: [randn(2, 6)],
        lambda a: a.reshape(4, 3),
        lambda a: a.reshape(4, -1),
    ),
    Case(
        "transpose",
        lambda a: a.transpose(0, 2),
        lambda: [randn(2, 3, 4)],
        lambda a: a.transpose(2, 1, 0),
        lambda a: a.transpose(0, 2),
    ),
    Case(
        "permute",
        lambda a: a.permute(1, 2, 0),
        lambda: [randn(2, 3, 4)],
        lambda a: a.transpose(1, 2, 0),
        lambda a: a.permute(1, 2, 0),
    ),
    Case(
        "broadcast_to",
        lambda a: a.expand(3, 2, 4),
        lambda: [randn(2, 1)],
        lambda a: np.broadcast_to(a, (3, 2, 4)),
        lambda a: a.expand(3, 2, 4),
    ),
    Case("getitem_basic", lambda a: a[1:, ::2], lambda: [randn(4, 5)], lambda a: a[1:, ::2], lambda a: a[1:, ::2]),
    Case(
        "getitem_repeated_index",
        lambda a: a[np.array([0, 2, 0, 1])],
        lambda: [randn(3, 2)],
        lambda a: a[[0, 2, 0, 1]],
        lambda a: a[[0, 2, 0, 1]],
    ),
    Case(
        "cat",
        lambda a, b: mg.cat([a, b], 1),
        lambda: [randn(2, 3), randn(2, 2)],
        lambda a, b: np.concatenate([a, b], 1),
        lambda a, b: torch.cat([a, b], 1),
    ),
    Case(
        "stack",
        lambda a, b: mg.stack([a, b], 1),
        lambda: [randn(2, 3), randn(2, 3)],
        lambda a, b: np.stack([a, b], 1),
        lambda a, b: torch.stack([a, b], 1),
    ),
    Case(
        "pad",
        lambda a: F.pad(a, (1, 2, 0, 1)),
        lambda: [randn(1, 2, 3, 3)],
        lambda a: np.pad(a, ((0, 0), (0, 0), (0, 1), (1, 2))),
        lambda a: TF.pad(a, (1, 2, 0, 1)),
    ),
    # --- linear algebra ---
    Case("matmul", lambda a, b: a @ b, lambda: [randn(3, 4), randn(4, 2)], lambda a, b: a @ b, lambda a, b: a @ b),
    Case(
        "matmul_batched_broadcast",
        lambda a, b: a @ b,
        lambda: [randn(2, 3, 4), randn(4, 5)],
        lambda a, b: a @ b,
        lambda a, b: a @ b,
    ),
    Case("matmul_vector", lambda a, b: a @ b, lambda: [randn(3, 4), randn(4)], lambda a, b: a @ b, lambda a, b: a @ b),
    Case(
        "linear",
        F.linear,
        lambda: [randn(5, 4), randn(3, 4), randn(3)],
        lambda x, W, b: x @ W.T + b,
        t("nn.functional.linear"),
    ),
    Case(
        "linear_no_bias", F.linear, lambda: [randn(5, 4), randn(3, 4)], lambda x, W: x @ W.T, t("nn.functional.linear")
    ),
    Case(
        "linear_3d_input",
        F.linear,
        lambda: [randn(2, 5, 4), randn(3, 4), randn(3)],
        lambda x, W, b: x @ W.T + b,
        t("nn.functional.linear"),
    ),
    Case(
        "linear_1d_input",
        F.linear,
        lambda: [randn(4), randn(3, 4), randn(3)],
        lambda x, W, b: W @ x + b,
        t("nn.functional.linear"),
    ),
    # the backward passes' products read an operand transposed (a flag, no transpose op): each combination
    Case(
        "matmul_transpose_a",
        lambda a, b: matmul_transposed(a, b, True, False),
        lambda: [randn(4, 3), randn(4, 2)],
        lambda a, b: a.T @ b,
        lambda a, b: a.T @ b,
    ),
    Case(
        "matmul_transpose_b",
        lambda a, b: matmul_transposed(a, b, False, True),
        lambda: [randn(3, 4), randn(2, 4)],
        lambda a, b: a @ b.T,
        lambda a, b: a @ b.T,
    ),
    Case(
        "matmul_transpose_both",
        lambda a, b: matmul_transposed(a, b, True, True),
        lambda: [randn(4, 3), randn(2, 4)],
        lambda a, b: a.T @ b.T,
        lambda a, b: a.T @ b.T,
    ),
    Case(
        "matmul_transpose_batched",
        lambda a, b: matmul_transposed(a, b, True, True),
        lambda: [randn(2, 4, 3), randn(2, 4)],
        lambda a, b: np.swapaxes(a, -1, -2) @ b.T,
        lambda a, b: a.transpose(-1, -2) @ b.T,
    ),
    # --- activations ---
    Case(
        "leaky_relu_steep",
        lambda a: F.leaky_relu(a, 1.5),
        lambda: [away_from_zero(4, 5)],
        lambda a: np.where(a > 0, a, 1.5 * a),
        lambda a: TF.leaky_relu(a, 1.5),
    ),
    Case("relu", F.relu, lambda: [away_from_zero(4, 5)], lambda a: np.maximum(a, 0), t("relu")),
    Case(
        "leaky_relu",
        lambda a: F.leaky_relu(a, 0.2),
        lambda: [away_from_zero(4, 5)],
        lambda a: np.where(a > 0, a, 0.2 * a),
        lambda a: TF.leaky_relu(a, 0.2),
    ),
    Case(
        "elu",
        F.elu,
        lambda: [away_from_zero(4, 5)],
        lambda a: np.where(a > 0, a, np.exp(a) - 1),
        t("nn.functional.elu"),
    ),
    Case("tanh", F.tanh, lambda: [randn(4, 5)], np.tanh, t("tanh")),
    Case("sigmoid", F.sigmoid, lambda: [randn(4, 5) * 3], np_sigmoid, t("sigmoid")),
    Case(
        "tanh_backward",
        mg.ops.tanh_backward,
        lambda: [randn(4, 5), np.tanh(randn(4, 5))],
        lambda gy, y: gy * (1 - y * y),
        t("ops.aten.tanh_backward"),
    ),
    Case(
        "sigmoid_backward",
        mg.ops.sigmoid_backward,
        lambda: [randn(4, 5), np_sigmoid(randn(4, 5))],
        lambda gy, y: gy * y * (1 - y),
        t("ops.aten.sigmoid_backward"),
    ),
    Case("softplus", F.softplus, lambda: [randn(4, 5) * 3], np_softplus, t("nn.functional.softplus")),
    Case(
        "logsigmoid", F.logsigmoid, lambda: [randn(4, 5) * 3], lambda a: -np_softplus(-a), t("nn.functional.logsigmoid")
    ),
    Case(
        "softmax",
        lambda a: F.softmax(a, 1),
        lambda: [randn(3, 5)],
        lambda a: np_softmax(a, 1),
        lambda a: torch.softmax(a, 1),
    ),
    Case(
        "log_softmax",
        lambda a: F.log_softmax(a, 0),
        lambda: [randn(3, 5)],
        lambda a: np.log(np_softmax(a, 0)),
        lambda a: torch.log_softmax(a, 0),
    ),
    # --- convolution family and pooling ---
    Case(
        "conv2d",
        lambda x, W, b: F.conv2d(x, W, b, stride=2, padding=1),
        lambda: [randn(2, 3, 7, 6), randn(4, 3, 3, 3), randn(4)],
        lambda x, W, b: np_conv2d(x, W, 2, 1) + b.reshape(1, -1, 1, 1),
        lambda x, W, b: TF.conv2d(x, W, b, stride=2, padding=1),
    ),
    Case(
        "conv2d_dilated",
        lambda x, W: F.conv2d(x, W, padding=2, dilation=2),
        lambda: [randn(1, 2, 6, 6), randn(3, 2, 3, 3)],
        lambda x, W: np_conv2d(x, W, 1, 2, 2),
        lambda x, W: TF.conv2d(x, W, padding=2, dilation=2),
    ),
    Case(
        "conv_transpose2d",
        lambda x, W, b: F.conv_transpose2d(x, W, b, stride=2, padding=1, output_padding=1),
        lambda: [randn(2, 3, 4, 3), randn(3, 2, 3, 3), randn(2)],
        lambda x, W, b: np_conv_transpose2d(x, W, 2, 1, 1) + b.reshape(1, -1, 1, 1),
        lambda x, W, b: TF.conv_transpose2d(x, W, b, stride=2, padding=1, output_padding=1),
    ),
    Case(
        "conv_transpose2d_k4s2p1",
        lambda x, W: F.conv_transpose2d(x, W, stride=2, padding=1),
        lambda: [randn(1, 2, 3, 3), randn(2, 3, 4, 4)],
        lambda x, W: np_conv_transpose2d(x, W, 2, 1),
        lambda x, W: TF.conv_transpose2d(x, W, stride=2, padding=1),
    ),
    Case(
        "conv2d_weight",
        lambda x, gy: mg.ops.conv2d_weight(x, gy, 3, stride=2, padding=1),
        lambda: [randn(2, 3, 7, 6), randn(2, 4, 4, 3)],
        None,
        lambda x, gy: torch.nn.grad.conv2d_weight(x, (4, 3, 3, 3), gy, stride=2, padding=1),
    ),
    Case(
        "avg_pool2d",
        lambda a: F.avg_pool2d(a, 2),
        lambda: [randn(2, 3, 4, 6)],
        lambda a: a.reshape(2, 3, 2, 2, 3, 2).mean((3, 5)),
        lambda a: TF.avg_pool2d(a, 2),
    ),
    Case(
        "avg_pool2d_overlapping_padded",
        lambda a: F.avg_pool2d(a, 3, 2, padding=1),
        lambda: [randn(1, 2, 5, 6)],
        None,
        lambda a: TF.avg_pool2d(a, 3, 2, padding=1),
    ),
    Case(
        "max_pool2d",
        lambda a: F.max_pool2d(a, 3, 2),
        lambda: [distinct(1, 2, 7, 7)],
        lambda a: np_max_pool(a, 3, 2),
        lambda a: TF.max_pool2d(a, 3, 2),
    ),
    Case(
        "max_pool2d_padded",
        lambda a: F.max_pool2d(a, 2, 2, padding=1),
        lambda: [distinct(1, 2, 5, 5)],
        None,
        lambda a: TF.max_pool2d(a, 2, 2, padding=1),
    ),
    Case(
        "interpolate_nearest",
        lambda a: F.interpolate(a, scale_factor=2),
        lambda: [randn(1, 2, 3, 4)],
        lambda a: a.repeat(2, 2).repeat(2, 3),
        lambda a: TF.interpolate(a, scale_factor=2, mode="nearest"),
    ),
    # --- normalisation ---
    Case(
        "batch_norm_train",
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        lambda: [randn(4, 3, 2, 2), randn(3), randn(3)],
        np_batch_norm_train,
        lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True),
    ),
    Case(
        "batch_norm_train_3d",
        lambda x: F.batch_norm(x, None, None, training=True),
        lambda: [randn(5, 3, 4)],
        lambda x: (x - x.mean((0, 2), keepdims=True)) / np.sqrt(x.var((0, 2), keepdims=True) + 1e-5),
        lambda x: TF.batch_norm(x, None, None, training=True),
    ),
    Case(
        "batch_norm_train_3d_affine",
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        lambda: [randn(5, 3, 4), randn(3), randn(3)],
        lambda x, w, b: (
            (x - x.mean((0, 2), keepdims=True)) / np.sqrt(x.var((0, 2), keepdims=True) + 1e-5) * w.reshape(1, -1, 1)
            + b.reshape(1, -1, 1)
        ),
        lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True),
    ),
    Case(
        "layer_norm",
        lambda x, w, b: F.layer_norm(x, 5, w, b),
        lambda: [randn(3, 5), randn(5), randn(5)],
        np_layer_norm,
        lambda x, w, b: TF.layer_norm(x, (5,), w, b),
    ),
    # --- losses ---
    Case(
        "bce_with_logits_sum_2d",
        lambda x, q: F.binary_cross_entropy_with_logits(x, q, reduction="sum"),
        lambda: [randn(3, 4) * 6, probabilities(3, 4)],
        lambda x, q: (np_softplus(x) - q * x).sum(),
        lambda x, q: TF.binary_cross_entropy_with_logits(x, q, reduction="sum"),
    ),
    Case(
        "mse_loss",
        F.mse_loss,
        lambda: [randn(3, 4), randn(3, 4)],
        lambda a, b: ((a - b) ** 2).mean(),
        t("nn.functional.mse_loss"),
    ),
    Case(
        "binary_cross_entropy",
        F.binary_cross_entropy,
        lambda: [probabilities(6), probabilities(6)],
        lambda p, q: -(q * np.log(p) + (1 - q) * np.log(1 - p)).mean(),
        t("nn.functional.binary_cross_entropy"),
    ),
    Case(
        "bce_with_logits",
        F.binary_cross_entropy_with_logits,
        lambda: [randn(6) * 4, probabilities(6)],
        lambda x, q: (np_softplus(x) - q * x).mean(),
        t("nn.functional.binary_cross_entropy_with_logits"),
    ),
    Case(
        "cross_entropy",
        lambda x: F.cross_entropy(x, labels),
        lambda: [randn(4, 3)],
        lambda x: -np.log(np_softmax(x, 1))[np.arange(4), labels].mean(),
        lambda x: TF.cross_entropy(x, torch.as_tensor(labels)),
    ),
    Case(
        "cross_entropy_sum",
        lambda x: F.cross_entropy(x, labels, reduction="sum"),
        lambda: [randn(4, 3) * 3],
        lambda x: -np.log(np_softmax(x, 1))[np.arange(4), labels].sum(),
        lambda x: TF.cross_entropy(x, torch.as_tensor(labels), reduction="sum"),
    ),
    Case(
        "cross_entropy_none",
        lambda x: F.cross_entropy(x, labels, reduction="none"),
        lambda: [randn(4, 3)],
        lambda x: -np.log(np_softmax(x, 1))[np.arange(4), labels],
        lambda x: TF.cross_entropy(x, torch.as_tensor(labels), reduction="none"),
    ),
    Case(
        "nll_loss",
        lambda x: F.nll_loss(x, labels),
        lambda: [randn(4, 3)],
        lambda x: -x[np.arange(4), labels].mean(),
        lambda x: TF.nll_loss(x, torch.as_tensor(labels)),
    ),
    Case(
        "kl_normal",
        F.kl_normal,
        lambda: [randn(3, 4), randn(3, 4) * 0.5],
        lambda mu, logvar: -0.5 * (1 + logvar - mu**2 - np.exp(logvar)).sum(1),
        lambda mu, logvar: -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(1),
    ),
]

IDS = [case.name for case in CASES]


def make_inputs(case):
    arrays = case.inputs()
    grad = case.grad if case.grad is not None else range(len(arrays))
    return arrays, [mg.tensor(a, dtype="float64", requires_grad=i in grad) for i, a in enumerate(arrays)]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_matches_reference(case):
    if case.reference is None:
        pytest.skip("no NumPy reference written; checked against PyTorch below")
    arrays, tensors = make_inputs(case)
    np.testing.assert_allclose(case.fn(*tensors).numpy(), case.reference(*arrays), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradcheck(case):
    _, tensors = make_inputs(case)
    assert mg.gradcheck(case.fn, tensors, atol=case.atol)


@pytest.mark.parametrize("case", [c for c in CASES if c.second_order], ids=[c.name for c in CASES if c.second_order])
def test_gradgradcheck(case):
    _, tensors = make_inputs(case)
    assert mg.gradgradcheck(case.fn, tensors, atol=case.atol)


@pytest.mark.parametrize("case", [c for c in CASES if c.torch_fn], ids=[c.name for c in CASES if c.torch_fn])
def test_against_torch_first_and_second_order(case):
    """Forward, gradient and Hessian-vector product agree with PyTorch's in float64."""
    if torch is None:
        pytest.skip("PyTorch not installed (pip install 'minigan[crosscheck]')")
    arrays, tensors = make_inputs(case)
    torch_inputs = [
        torch.tensor(a, dtype=torch.float64, requires_grad=m.requires_grad) for a, m in zip(arrays, tensors)
    ]
    y = case.fn(*tensors)
    y_torch = case.torch_fn(*torch_inputs)
    np.testing.assert_allclose(y.numpy(), y_torch.detach().numpy(), rtol=1e-10, atol=1e-10)

    v = rng.standard_normal(y.shape)
    wrt = [m for m in tensors if m.requires_grad]
    wrt_torch = [tt for tt in torch_inputs if tt.requires_grad]
    grads = mg.grad(y, wrt, grad_outputs=mg.tensor(v, dtype="float64"), create_graph=True, allow_unused=True)
    grads_torch = torch.autograd.grad(
        y_torch, wrt_torch, grad_outputs=torch.tensor(v), create_graph=True, allow_unused=True
    )
    for g, gt in zip(grads, grads_torch):
        np.testing.assert_allclose(g.numpy(), gt.detach().numpy(), rtol=1e-9, atol=1e-10)

    # second order: d/d inputs of <grads, u>, a Hessian-vector product
    us = [rng.standard_normal(m.shape) for m in wrt]
    scalar = sum(
        ((g * mg.tensor(u, dtype="float64")).sum() for g, u in zip(grads, us) if g is not None and g.requires_grad),
        mg.tensor(0.0, dtype="float64"),
    )
    scalar_torch = sum(
        ((gt * torch.tensor(u)).sum() for gt, u in zip(grads_torch, us) if gt is not None and gt.requires_grad),
        torch.tensor(0.0, dtype=torch.float64),
    )
    if not scalar.requires_grad:
        # minigan's gradient does not depend on the inputs (piecewise-linear op): torch's HVP must be zero
        if scalar_torch.requires_grad:
            for ht in torch.autograd.grad(scalar_torch, wrt_torch, allow_unused=True):
                assert ht is None or not ht.abs().max().item(), f"{case.name}: torch has a nonzero second derivative"
        return
    hvp = mg.grad(scalar, wrt, allow_unused=True)
    hvp_torch = torch.autograd.grad(scalar_torch, wrt_torch, allow_unused=True)
    for h, ht in zip(hvp, hvp_torch):
        h = np.zeros(1) if h is None else h.numpy()
        ht = np.zeros(1) if ht is None else ht.numpy()
        np.testing.assert_allclose(
            np.broadcast_to(h, np.broadcast_shapes(h.shape, ht.shape)),
            np.broadcast_to(ht, np.broadcast_shapes(h.shape, ht.shape)),
            rtol=1e-8,
            atol=1e-9,
        )


def test_every_primitive_is_in_the_table():
    """A primitive added to minigan.ops without a row here fails this test."""
    import minigan.ops as ops

    covered = {
        "add",
        "sub",
        "mul",
        "div",
        "neg",
        "add_scalar",
        "mul_scalar",
        "pow_scalar",
        "exp",
        "expm1",
        "log",
        "where",
        "mul_mask",
        "sum",
        "sum_to",
        "max",
        "logsumexp",
        "reshape",
        "transpose",
        "broadcast_to",
        "getitem",
        "concat",
        "pad",
        "matmul",
        "linear",
        "tanh",
        "sigmoid",
        "softplus",
        "leaky_relu",
        "tanh_backward",
        "sigmoid_backward",
        "log_softmax",
        "binary_cross_entropy_with_logits",
        "cross_entropy",
        "conv2d",
        "conv_transpose2d",
        "conv2d_weight",
        "cast",
        "to_device",
        "batch_norm_normalize",
        "batch_norm_affine",
    }
    assert set(ops.__all__) == covered


def test_a_python_number_operand_runs_as_a_scalar_op_with_the_values_of_a_constant_tensor():
    """x + c, c + x, x - c, x * c and c * x with a Python float or int and a float32/float64 tensor are one
    op (AddScalar/MulScalar) on x alone, keep x's dtype, and give bit for bit what the general op gives with c
    as a constant tensor of x's dtype; other operands (a bool, a NumPy scalar, an integer tensor) take the
    general op and its promotion."""
    from minigan.ops.arith import Add, AddScalar, Mul, MulScalar, Sub

    rng = np.random.default_rng(3)
    for dtype in ("float32", "float64"):
        x = mg.tensor(rng.standard_normal(7), dtype=dtype, requires_grad=True)
        for number in (1.01, 0.1, -3, 7):
            c = mg.tensor(number, dtype=dtype)
            for scalar_form, general, kind in (
                (x + number, ops.add(x, c), AddScalar),
                (number + x, ops.add(c, x), AddScalar),
                (x - number, ops.sub(x, c), AddScalar),
                (x * number, ops.mul(x, c), MulScalar),
                (number * x, ops.mul(c, x), MulScalar),
            ):
                assert type(scalar_form.creator) is kind and scalar_form.creator.inputs == (x,)
                assert scalar_form.dtype == np.dtype(dtype)
                np.testing.assert_array_equal(scalar_form.numpy(), general.numpy())
    x = mg.tensor(np.arange(3.0), dtype="float32", requires_grad=True)
    assert type((x * True).creator) is Mul and type((x + np.float32(2)).creator) is Add
    assert type((1.5 - x).creator) is Sub  # c - x keeps the general op
    integers = mg.tensor(np.arange(3))
    assert (integers * 0.5).dtype == np.float32 and (integers + 1).dtype == integers.dtype
    with pytest.raises(TypeError, match="mul_scalar: expected a float32/float64 Tensor and a Python float or int"):
        ops.mul_scalar(integers, 0.5)
    with pytest.raises(TypeError, match="add_scalar: expected .* got Tensor and str"):
        ops.add_scalar(x, "1")


def test_batch_norm_fuses_the_affine_step_only_for_matching_vectors():
    """Training-mode batch norm is one primitive (BatchNormAffine) when weight and bias are (C,) vectors of
    x's dtype; a float64 weight with float32 x takes the composite, with NumPy's type promotion (as mul
    would), and a wrong-length weight is refused naming both lengths."""
    from minigan.ops.norm import BatchNormAffine, BatchNormNormalize

    x = mg.tensor(np.random.default_rng(0).standard_normal((4, 3, 2, 2)), dtype="float32", requires_grad=True)
    w32, b32 = mg.tensor(np.ones(3), dtype="float32"), mg.tensor(np.zeros(3), dtype="float32")
    y = F.batch_norm(x, None, None, w32, b32, training=True)
    assert isinstance(y.creator, BatchNormAffine) and y.dtype == np.float32
    y64 = F.batch_norm(x, None, None, mg.tensor(np.ones(3)), mg.tensor(np.zeros(3)), training=True)
    assert not isinstance(y64.creator, BatchNormAffine) and y64.dtype == np.float64
    np.testing.assert_allclose(y64.numpy(), y.numpy(), rtol=1e-5, atol=1e-6)
    assert isinstance(F.batch_norm(x, None, None, training=True).creator, BatchNormNormalize)
    with pytest.raises(ValueError, match=r"weight has shape \(4,\), expected \(3,\)"):
        F.batch_norm(
            x,
            None,
            None,
            mg.tensor(np.ones(4), dtype="float32"),
            mg.tensor(np.zeros(4), dtype="float32"),
            training=True,
        )
