"""Batch normalisation's normalising step, and the whole of it with the affine step, as primitives
(Ioffe & Szegedy, 2015).

    x_hat = (x - mean_B(x)) / sqrt(var_B(x) + eps),   mean and biased variance over every axis but 1

Built from ``sub``, ``mean``, ``pow`` it would take ten passes over the activations and keep six
intermediates alive for backward; as one primitive it takes three and keeps none but its output.

Its backward has two forms:
* first order (recording off, the common case): the closed form on arrays, with M = elements per channel,
      gx = inv_std * (g - mean_B(g) - x_hat * mean_B(g * x_hat));
* under ``create_graph=True``: the composite (the same formula through differentiable ops) is rebuilt from
  the input and differentiated, so the gradient is itself differentiable (double backprop through batch
  norm works, and gradgradcheck checks it).

``BatchNormAffine`` is the same with the per-channel scale and shift folded in,
    y = x_hat * weight[c] + bias[c],
so that a training-mode batch norm layer is one primitive: the affine step rides in the normalising pass,
and its backward (the gradients of x, weight and bias) takes the two passes of the normaliser's alone --
where a separate multiply and add would take two passes forward and four backward (instrumented kernel
time of a DCGAN step: ~6 ms of ~115 ms saved; bench/README.md, fifth round).  It keeps no activation but its input (x_hat is recomputed from x in the backward
pass).
"""

from .. import autograd
from ..backend import kernels_for
from ..function import Function


def _normalize_composite(x, axes, eps):
    """x_hat through differentiable ops (used for the second-order backward)."""
    from .. import functional as F

    centered = F.sub(x, F.mean(x, axes, keepdim=True))
    variance = F.mean(F.mul(centered, centered), axes, keepdim=True)
    return F.mul(centered, F.pow(F.add(variance, float(eps)), -0.5))


class BatchNormNormalize(Function):
    """x (N, C, ...) -> x_hat (N, C, ...); ``self.mean`` and ``self.var`` (C,) hold the batch statistics
    (biased variance) for the running estimates.  Both passes are the kernel module's batch_norm_forward /
    batch_norm_backward (kernels/reference.py has the array code; kernels.cpu one parallel Numba pass per
    channel)."""

    reads_outputs = True

    def __init__(self, eps):
        super().__init__()
        self.eps = eps

    def forward(self, x):
        self.axes = (0,) + tuple(range(2, x.ndim))
        x_hat, self.mean, self.var, self.inv_std = kernels_for(x).batch_norm_forward(x, self.eps)
        return x_hat

    def backward(self, gy):
        from ..tensor import Tensor

        (x,) = self.inputs
        if autograd.grad_mode.enabled:  # create_graph=True: a differentiable gradient
            with autograd.enable_grad():
                x_hat = _normalize_composite(x, self.axes, self.eps)
                (gx,) = autograd.grad(x_hat, x, grad_outputs=gy, create_graph=True)
            return gx
        return Tensor(kernels_for(gy.array).batch_norm_backward(gy.array, self.output(0).array, self.inv_std))


class BatchNormAffine(Function):
    """(x (N, C, ...), weight (C,), bias (C,)) -> y = x_hat * weight[c] + bias[c], x_hat as
    BatchNormNormalize; ``self.mean`` and ``self.var`` hold the batch statistics."""

    def reads_input(self, index):
        return index != 2  # x and weight; the bias only by shape

    def __init__(self, eps):
        super().__init__()
        self.eps = eps

    def forward(self, x, weight, bias):
        self.axes = (0,) + tuple(range(2, x.ndim))
        y, self.mean, self.var, self.inv_std = kernels_for(x).batch_norm_forward(x, self.eps, weight, bias)
        return y

    def backward(self, gy):
        from ..tensor import Tensor
        from .. import functional as F

        x, weight, bias = self.inputs
        if autograd.grad_mode.enabled:  # create_graph=True: through the composite, differentiably
            shape = (1, -1) + (1,) * (x.ndim - 2)
            with autograd.enable_grad():
                y = F.add(
                    F.mul(_normalize_composite(x, self.axes, self.eps), F.reshape(weight, shape)),
                    F.reshape(bias, shape),
                )
                wanted = [t for t, needed in zip(self.inputs, self.needs_input_grad) if needed]
                grads = iter(autograd.grad(y, wanted, grad_outputs=gy, create_graph=True))
            return tuple(next(grads) if needed else None for needed in self.needs_input_grad)
        gx, g_weight, g_bias = kernels_for(gy.array).batch_norm_affine_backward(
            gy.array, x.array, self.mean, self.inv_std, weight.array
        )
        return Tensor(gx), Tensor(g_weight), Tensor(g_bias)


def _check_input(op, x):
    if x.ndim < 2:
        raise ValueError(f"{op}: expected an input (N, C, ...) of at least 2 dimensions, got shape {tuple(x.shape)}")


def batch_norm_affine(x, weight, bias, eps=1e-5):
    """Returns (y = x_hat * weight + bias, batch mean (C,), batch biased variance (C,)) as (Tensor, array,
    array); weight and bias are (C,) Tensors."""
    _check_input("batch_norm_affine", x)
    function = BatchNormAffine(eps)
    y = function.apply(x, weight, bias)
    return y, function.mean, function.var


def batch_norm_normalize(x, eps=1e-5):
    """Returns (x_hat, batch mean (C,), batch biased variance (C,)) as (Tensor, array, array)."""
    _check_input("batch_norm_normalize", x)
    function = BatchNormNormalize(eps)
    x_hat = function.apply(x)
    return x_hat, function.mean, function.var
