"""Numerical gradient checking: ``numerical_jacobian``, ``gradcheck``, ``gradgradcheck``.

The analytic gradient of ``fn`` (from the autograd engine) is compared with central differences

    df/dx_i ~ (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)

in float64. Outputs are reduced to a scalar by a random projection  s = sum_k r_k y_k  (r fixed), so one
backward pass gives  J^T r  for all inputs, and one pair of forward passes per element gives its numeric
counterpart. Inputs larger than ``max_elements`` are checked along ``n_directions`` random directions u
instead of every coordinate:  <J^T r, u>  against  (s(x + eps u) - s(x - eps u)) / (2 eps).

``gradgradcheck`` applies ``gradcheck`` to the function  (inputs, v) -> grad(fn(inputs), inputs, v,
create_graph=True): the second derivatives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy

from . import argcheck, autograd
from .tensor import Tensor

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .typing import Array, TensorLike


class GradcheckError(AssertionError):
    """Raised by gradcheck with a report of the worst element."""


def _outputs_tuple(out):
    outputs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
    for y in outputs:
        if y is not None and not isinstance(y, Tensor):
            raise TypeError(f"gradcheck: fn must return a Tensor or a tuple of Tensors, got {type(y).__name__}")
    return outputs


def _check_settings(name, inputs, eps, atol, rtol, max_elements, n_directions):
    """The inputs as a tuple (one Tensor is accepted alone, as PyTorch; iterating it would check its rows)
    and the tolerances in range."""
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    elif not isinstance(inputs, (tuple, list)):
        raise TypeError(f"{name}: inputs must be a Tensor or a tuple of Tensors, got {type(inputs).__name__}")
    argcheck.real(name, "eps", eps, 0.0)
    if eps == 0:
        raise ValueError(f"{name}: eps must be > 0")
    argcheck.real(name, "atol", atol, 0.0)
    argcheck.real(name, "rtol", rtol, 0.0)
    argcheck.integer(name, "max_elements", max_elements, 0)
    argcheck.integer(name, "n_directions", n_directions, 1)
    return tuple(inputs)


def _projected(fn, inputs, projections):
    outputs = _outputs_tuple(fn(*inputs))
    total = None
    for y, r in zip(outputs, projections):
        if y is None:
            continue
        term = (y * Tensor(r)).sum()
        total = term if total is None else total + term
    return total


def numerical_jacobian(fn: Callable[..., Any], inputs: Sequence[Tensor], index: int, eps: float = 1e-6) -> Array:
    """The Jacobian of ``fn``'s (flattened, concatenated) outputs w.r.t. ``inputs[index]``, by central
    differences: shape (number of outputs, number of input elements). For small problems and teaching."""
    x = inputs[index]
    base = x.array.copy()
    columns = []
    for i in range(base.size):
        flat = x.array.reshape(-1)
        flat[i] = base.reshape(-1)[i] + eps
        with autograd.no_grad():
            plus = numpy.concatenate([y.numpy().reshape(-1) for y in _outputs_tuple(fn(*inputs))])
        flat[i] = base.reshape(-1)[i] - eps
        with autograd.no_grad():
            minus = numpy.concatenate([y.numpy().reshape(-1) for y in _outputs_tuple(fn(*inputs))])
        flat[i] = base.reshape(-1)[i]
        columns.append((plus - minus) / (2 * eps))
    return numpy.stack(columns, axis=1)


def gradcheck(
    fn: Callable[..., Any],
    inputs: Tensor | Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    max_elements: int = 512,
    n_directions: int = 8,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check the first derivatives of ``fn`` at ``inputs`` (Tensors; those with requires_grad are checked).

    Every checked input must be float64 (single precision cannot resolve a central difference of 1e-6).
    Returns True, or raises ``GradcheckError`` naming the input, the worst element, the analytic and the
    numeric value."""
    inputs = _check_settings("gradcheck", inputs, eps, atol, rtol, max_elements, n_directions)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    for i in checked:
        if inputs[i].dtype != numpy.float64:
            raise TypeError(
                f"gradcheck: input {i} has dtype {inputs[i].dtype}; use float64 (central "
                "differences need double precision)"
            )
    rng = numpy.random.default_rng(seed)
    outputs = _outputs_tuple(fn(*inputs))  # not under no_grad: fn may call grad itself (a penalty)
    projections = [None if y is None else rng.standard_normal(y.shape) for y in outputs]
    if any(y is not None and y.device != "cpu" for y in outputs):
        import cupy  # only reached on a GPU

        projections = [None if r is None else cupy.asarray(r) for r in projections]

    scalar = _projected(fn, inputs, projections)
    analytic = autograd.grad(scalar, [inputs[i] for i in checked], allow_unused=True)

    def evaluate():
        return float(_projected(fn, inputs, projections).item())

    for position, i in enumerate(checked):
        x = inputs[i]
        g = analytic[position]
        g = numpy.zeros(x.shape) if g is None else g.numpy()
        base = x.array.copy()
        if x.numel() <= max_elements:
            directions = None
            numeric = numpy.empty(x.numel())
            flat = x.array.reshape(-1)
            for k in range(x.numel()):
                flat[k] = base.reshape(-1)[k] + eps
                plus = evaluate()
                flat[k] = base.reshape(-1)[k] - eps
                minus = evaluate()
                flat[k] = base.reshape(-1)[k]
                numeric[k] = (plus - minus) / (2 * eps)
            analytic_values = g.reshape(-1)
        else:
            directions = rng.standard_normal((n_directions,) + x.shape)
            numeric = numpy.empty(n_directions)
            for k in range(n_directions):
                u = x.xp.asarray(directions[k])
                x.array[...] = base + eps * u
                plus = evaluate()
                x.array[...] = base - eps * u
                minus = evaluate()
                x.array[...] = base
                numeric[k] = (plus - minus) / (2 * eps)
            analytic_values = numpy.tensordot(directions, g, axes=g.ndim)
        error = numpy.abs(analytic_values - numeric)
        bound = atol + rtol * numpy.abs(numeric)
        if numpy.any(error > bound) or not numpy.all(numpy.isfinite(analytic_values)):
            worst = int(numpy.nanargmax(numpy.where(numpy.isfinite(error), error - bound, numpy.inf)))
            where = (
                f"element {tuple(int(k) for k in numpy.unravel_index(worst, x.shape))}"
                if directions is None
                else f"random direction {worst}"
            )
            message = (
                f"gradcheck failed for input {i} (shape {x.shape}) at {where}: analytic "
                f"{analytic_values[worst]:.8g}, numeric {numeric[worst]:.8g}, |difference| "
                f"{error[worst]:.3g} > atol + rtol*|numeric| = {bound[worst]:.3g}; "
                f"{int(numpy.sum(error > bound))} of {error.size} checks failed"
            )
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Tensor | Sequence[Any],
    grad_outputs: TensorLike | Sequence[TensorLike | None] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    max_elements: int = 512,
    n_directions: int = 8,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check the second derivatives of ``fn``: ``gradcheck`` of  (inputs, v) -> d<fn(inputs), v>/d inputs
    (built with ``create_graph=True``), with respect to both the inputs and v."""
    inputs = _check_settings("gradgradcheck", inputs, eps, atol, rtol, max_elements, n_directions)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    rng = numpy.random.default_rng(seed + 1)
    outputs = _outputs_tuple(fn(*inputs))
    if grad_outputs is None:
        grad_outputs = tuple(Tensor(y.xp.asarray(rng.standard_normal(y.shape)), requires_grad=True) for y in outputs)
    n_inputs = len(inputs)

    def first_derivatives(*args):
        xs, vs = args[:n_inputs], args[n_inputs:]
        with autograd.enable_grad():  # gradcheck evaluates under no_grad; this inner grad needs a graph
            ys = _outputs_tuple(fn(*xs))
            grads = autograd.grad(ys, [xs[i] for i in checked], grad_outputs=vs, create_graph=True, allow_unused=True)
        return tuple(g if g is not None else Tensor(numpy.zeros(xs[i].shape)) for g, i in zip(grads, checked))

    return gradcheck(
        first_derivatives,
        inputs + tuple(grad_outputs),
        eps=eps,
        atol=atol,
        rtol=rtol,
        max_elements=max_elements,
        n_directions=n_directions,
        seed=seed,
        raise_exception=raise_exception,
    )
