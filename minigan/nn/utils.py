"""``minigan.nn.utils``: gradient clipping, parameters as one vector, and spectral normalisation, with
PyTorch's names, arguments and state-dict layout (``torch.nn.utils``).

    nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)       # after backward, before step
    critic = nn.Sequential(nn.utils.spectral_norm(nn.Conv2d(3, 64, 4, 2, 1)), nn.LeakyReLU(0.2), ...)

Spectral normalisation (Miyato et al. 2018, "Spectral Normalization for Generative Adversarial Networks",
Algorithm 1) divides a layer's weight by an estimate of its largest singular value sigma(W), kept by one
power-iteration step per training forward pass: v <- W^T u / ||W^T u||, u <- W v / ||W v||,
sigma = u^T W v, with u and v treated as constants when differentiating. It makes the critic (about)
1-Lipschitz layer by layer — the constraint WGAN-GP enforces with its gradient penalty.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .. import backend
from ..autograd import no_grad
from ..tensor import Tensor, randn
from .module import Module, Parameter

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "parameters_to_vector",
    "vector_to_parameters",
    "spectral_norm",
    "remove_spectral_norm",
]


def _with_grads(parameters):
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in parameters if p.grad is not None]


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> Tensor:
    """Scale the gradients in place so that their joint ``norm_type``-norm is at most ``max_norm``;
    returns the norm before clipping (a 0-d Tensor). As PyTorch: the factor is max_norm / (norm + 1e-6),
    applied only when below 1; ``norm_type`` may be ``inf``."""
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm!r}")
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be positive or inf, got {norm_type!r}")
    grads = [p.grad for p in _with_grads(parameters)]
    if not grads:
        return Tensor(backend.numpy.zeros((), dtype="float32"))
    xp = backend.get_array_module(grads[0].array)
    if math.isinf(norm_type):
        total = max(float(xp.abs(g.array).max()) for g in grads)
    else:
        total = sum(float((xp.abs(g.array.astype(xp.float64)) ** norm_type).sum()) for g in grads) ** (1 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}")
    factor = max_norm / (total + 1e-6)
    if factor < 1:
        for g in grads:
            g.array *= g.array.dtype.type(factor)
    return Tensor(xp.asarray(total, dtype=grads[0].array.dtype))


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element to [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value!r}")
    for p in _with_grads(parameters):
        xp = backend.get_array_module(p.grad.array)
        xp.clip(p.grad.array, -clip_value, clip_value, out=p.grad.array)


def parameters_to_vector(parameters: Tensor | Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D Tensor (differentiable, like PyTorch's)."""
    from .. import functional as F

    parameters = list(parameters)
    if not parameters:
        raise ValueError("parameters_to_vector: no parameters given")
    return F.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vector: Tensor, parameters: Tensor | Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vector`` into ``parameters`` (in place, no graph)."""
    parameters = list(parameters)
    needed = sum(p.numel() if callable(getattr(p, "numel", None)) else int(p.array.size) for p in parameters)
    if vector.ndim != 1 or vector.shape[0] != needed:
        raise ValueError(
            f"vector_to_parameters: vector has shape {tuple(vector.shape)}, the parameters need ({needed},)"
        )
    offset = 0
    for p in parameters:
        size = int(p.array.size)
        p.array[...] = vector.array[offset : offset + size].reshape(p.shape).astype(p.dtype, copy=False)
        offset += size


# --- spectral normalisation -----------------------------------------------------------------------------


def _as_matrix(weight, dim):
    """The weight as a (shape[dim], rest) matrix: dim 0 for Linear/Conv2d, 1 for ConvTranspose2d."""
    if dim != 0:
        order = [dim] + [d for d in range(weight.ndim) if d != dim]
        weight = weight.transpose(order) if not isinstance(weight, Tensor) else weight.permute(*order)
    return weight.reshape(weight.shape[0], -1)


def _normalize(xp, vector, eps):
    return vector / max(float(xp.linalg.norm(vector)), eps)


class SpectralNorm:
    """The forward pre-hook ``spectral_norm`` registers: before each forward pass it sets
    ``module.<name> = <name>_orig / sigma``, after one power-iteration step when the module trains."""

    def __init__(self, name, n_power_iterations, dim, eps):
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def compute_weight(self, module, do_power_iteration):
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        if do_power_iteration:
            xp = backend.get_array_module(weight.array)
            matrix = _as_matrix(weight.array, self.dim)
            for _ in range(self.n_power_iterations):  # Miyato et al., Algorithm 1, the two updates
                v.array[...] = _normalize(xp, matrix.T @ u.array, self.eps)
                u.array[...] = _normalize(xp, matrix @ v.array, self.eps)
        u_const, v_const = Tensor(u.array.copy()), Tensor(v.array.copy())  # constants for the gradient
        sigma = (u_const * (_as_matrix(weight, self.dim) @ v_const)).sum()  # sigma(W) = u^T W v
        return weight / sigma

    def __call__(self, module, args):
        module.__dict__[self.name] = self.compute_weight(module, do_power_iteration=module.training)


def spectral_norm(
    module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12, dim: int | None = None
) -> Module:
    """Spectrally normalise ``module.<name>`` (PyTorch's ``torch.nn.utils.spectral_norm``): the parameter
    becomes ``<name>_orig``, the power iteration's vectors the buffers ``<name>_u`` (shape[dim],) and
    ``<name>_v`` (rest,) — all three in the state dict, under PyTorch's keys — and ``<name>`` is
    recomputed before every forward pass. ``dim``: 1 for transposed convolutions, else 0. Returns module."""
    if not isinstance(module, Module):
        raise TypeError(f"spectral_norm: module must be a minigan Module, got {type(module).__name__}")
    if any(isinstance(hook, SpectralNorm) and hook.name == name for hook in module._forward_pre_hooks.values()):
        raise RuntimeError(f"spectral_norm: {name!r} of this {type(module).__name__} is already normalised")
    weight = module._parameters.get(name)
    if not isinstance(weight, Parameter):
        raise ValueError(f"spectral_norm: {type(module).__name__} has no parameter {name!r}")
    if not (isinstance(n_power_iterations, int) and n_power_iterations > 0):
        raise ValueError(f"spectral_norm: n_power_iterations must be a positive int, got {n_power_iterations!r}")
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    xp = backend.get_array_module(weight.array)
    matrix = _as_matrix(weight.array, dim)
    u0 = randn(matrix.shape[0], dtype=weight.dtype, device=weight.device).array  # minigan's seeded RNG
    v0 = randn(matrix.shape[1], dtype=weight.dtype, device=weight.device).array
    hook = SpectralNorm(name, n_power_iterations, dim, eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    module.register_buffer(name + "_u", Tensor(_normalize(xp, u0, eps)))
    module.register_buffer(name + "_v", Tensor(_normalize(xp, v0, eps)))
    with no_grad():
        module.__dict__[name] = hook.compute_weight(module, do_power_iteration=True)
    module.register_forward_pre_hook(hook)
    return module


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """Undo ``spectral_norm``: ``<name>`` becomes a Parameter again holding the current normalised weight."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, SpectralNorm) and hook.name == name:
            with no_grad():
                weight = hook.compute_weight(module, do_power_iteration=False)
            del module._forward_pre_hooks[key]
            for suffix in ("_orig", "_u", "_v"):
                delattr(module, name + suffix)
            module.__dict__.pop(name, None)
            setattr(module, name, Parameter(weight.array.copy()))
            return module
    raise ValueError(f"remove_spectral_norm: {name!r} of this {type(module).__name__} is not spectrally normalised")
