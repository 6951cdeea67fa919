"""Batch normalisation's normalising step as one primitive (Ioffe & Szegedy, 2015).

    x_hat = (x - mean_B(x)) / sqrt(var_B(x) + eps),   mean and biased variance over every axis but 1

Built from ``sub``, ``mean``, ``pow`` it would take ten passes over the activations and keep six
intermediates alive for backward; as one primitive it takes three and keeps none but its output.

Its backward has two forms:
* first order (recording off, the common case): the closed form on arrays, with M = elements per channel,
      gx = inv_std * (g - mean_B(g) - x_hat * mean_B(g * x_hat));
* under ``create_graph=True``: the composite (the same formula through differentiable ops) is rebuilt from
  the input and differentiated, so the gradient is itself differentiable (double backprop through batch
  norm works, and gradgradcheck checks it).
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
        if autograd.grad_mode.enabled:           # create_graph=True: a differentiable gradient
            with autograd.enable_grad():
                x_hat = _normalize_composite(x, self.axes, self.eps)
                (gx,) = autograd.grad(x_hat, x, grad_outputs=gy, create_graph=True)
            return gx
        return Tensor(kernels_for(gy.data).batch_norm_backward(gy.data, self.output(0).data, self.inv_std))


def batch_norm_normalize(x, eps=1e-5):
    """Returns (x_hat, batch mean (C,), batch biased variance (C,)) as (Tensor, array, array)."""
    function = BatchNormNormalize(eps)
    x_hat = function.apply(x)
    return x_hat, function.mean, function.var
