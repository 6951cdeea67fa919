"""Optimizers (``torch.optim``): SGD, Adam, AdamW, RMSprop with PyTorch's exact update rules.

An optimizer holds ``param_groups`` (a list of dicts: ``"params"`` and the hyper-parameters, so that groups
can have their own learning rates) and ``state`` (per parameter: step count and moment arrays, on the
parameter's device). ``step()`` reads each ``p.grad`` and updates ``p.array`` in place, outside the graph, so
a Parameter keeps its identity and a Module holding it sees the new values.

``state_dict()`` / ``load_state_dict()`` use PyTorch's layout: ``{"state": {index: {...}}, "param_groups":
[{..., "params": [indices]}]}``, where ``index`` numbers the parameters in group order. Step counts are
ints and moments are Tensors, so ``minigan.save`` writes it and resuming is exact, bit for bit.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy

from . import backend
from .autograd import no_grad
from .tensor import Tensor

if TYPE_CHECKING:
    from .typing import Params

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adadelta", "lr_scheduler"]


class Optimizer:
    """Base class: param groups, per-parameter state, zero_grad, state_dict/load_state_dict.
    Subclasses implement ``_update(p, grad, state, group)`` on raw xp arrays, and name and check their
    hyper-parameters and state (``hyperparameter_names``, ``_check_hyperparameters``, ``_state_names``)."""

    hyperparameter_names: tuple = ()

    def __init__(self, params: Params, defaults: dict) -> None:
        self.defaults = dict(defaults)
        self.state: dict = {}  # Parameter -> dict (Tensor hashes by identity)
        self.param_groups: list = []
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict) -> None:
        """Add a dict with ``"params"`` and any hyper-parameters that differ from the defaults."""
        group = dict(group)
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor (it was computed by an op)")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params) or len({id(p) for p in params}) != len(params):
            raise ValueError("some parameters appear in more than one parameter group (or twice in one)")
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_hyperparameters(group)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (None, or fresh zeros with ``set_to_none=False``)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                p.grad = None if set_to_none else Tensor(p.xp.zeros_like(p.grad.array))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient. ``closure`` (optional) recomputes the loss."""
        loss = None
        if closure is not None:
            from .autograd import enable_grad

            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    grad = p.grad.array
                    if grad.shape != p.array.shape:
                        raise RuntimeError(
                            f"{type(self).__name__}: gradient shape {grad.shape} differs from "
                            f"parameter shape {p.array.shape}"
                        )
                    if backend.device_of(grad) != backend.device_of(p.array):
                        raise RuntimeError(
                            f"{type(self).__name__}: gradient on {backend.device_of(grad)} but "
                            f"parameter on {backend.device_of(p.array)}"
                        )
                    if group.get("maximize", False):
                        grad = -grad
                    self._update(p, grad, self.state.setdefault(p, {}), group)
                    p._bump_version()  # an in-place change: a graph that saved p refuses backward
        return loss

    def _update(self, p, grad, state, group):
        raise NotImplementedError

    # --- state dict -----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """{"optimizer": class name, "state": {index: {name: int | float | Tensor}}, "param_groups":
        [{hyper-parameters, "params": [index, ...]}]}. Moment arrays are copied, so the dict is a snapshot.
        (PyTorch's ``load_state_dict`` ignores the "optimizer" entry; ours refuses another kind's state.)"""
        index_of, groups, next_index = {}, [], 0
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index_of.setdefault(id(p), next_index)
                packed["params"].append(index_of[id(p)])
                next_index += 1
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index_of[id(p)]] = {
                        name: (Tensor(value.copy()) if hasattr(value, "shape") else value)
                        for name, value in self.state[p].items()
                    }
        return {"optimizer": type(self).__name__, "state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and per-parameter state (copied, cast and moved to each parameter).
        Keys of ``state`` may be ints or their strings (as a JSON round trip gives).

        Everything is checked before anything changes, so a refused state dict leaves the optimizer as it
        was: the optimizer kind (by the name ``state_dict()`` records, else by the hyper-parameter names),
        the number and sizes of the parameter groups, each hyper-parameter as the constructor checks it,
        and each state entry's names, step count, shapes and dtypes against its parameter. PyTorch's
        state dicts load too (their step counts are 0-d float tensors; ``foreach``, ``fused`` and the
        like are implementation switches that minigan has no use for and ignores)."""
        where = f"{type(self).__name__}.load_state_dict"
        hyperparameters, state = self._checked_state_dict(state_dict, where)
        self.state = state
        for own, loaded in zip(self.param_groups, hyperparameters):
            own.update(loaded)

    def _checked_state_dict(self, state_dict, where):
        """(hyper-parameters of each group, state keyed by Parameter), or a ValueError naming the problem."""
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            got = sorted(map(str, state_dict)) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(
                f"{where}: expected a dict with 'state' and 'param_groups' (what state_dict() returns), got {got}"
            )
        kind, own_kind = state_dict.get("optimizer"), type(self).__name__
        if kind is not None and kind != own_kind:
            raise ValueError(f"{where}: this is the state of a {kind} optimizer; it cannot be loaded into {own_kind}")
        groups = state_dict["param_groups"]
        if not isinstance(groups, (list, tuple)) or not all(isinstance(g, dict) for g in groups):
            raise ValueError(f"{where}: 'param_groups' must be a list of dicts, got {groups!r:.200}")
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"{where}: the state dict has {len(groups)} parameter groups, this optimizer has "
                f"{len(self.param_groups)}"
            )
        parameter_of, group_of, hyperparameters = {}, {}, []
        for i, (saved, own) in enumerate(zip(groups, self.param_groups)):
            indices = saved.get("params")
            if not isinstance(indices, (list, tuple)) or not all(_is_int(k) for k in indices):
                raise ValueError(
                    f"{where}: parameter group {i}: 'params' must be a list of parameter indices, got {indices!r:.200}"
                )
            if len(indices) != len(own["params"]):
                raise ValueError(
                    f"{where}: parameter group {i} has {len(indices)} parameters in the state "
                    f"dict and {len(own['params'])} in this optimizer"
                )
            for index, p in zip(indices, own["params"]):
                if int(index) in parameter_of:
                    raise ValueError(f"{where}: parameter index {int(index)} is listed twice in 'param_groups'")
                parameter_of[int(index)], group_of[int(index)] = p, i
            hyperparameters.append(self._checked_hyperparameters(saved, own, f"{where}: parameter group {i}"))
        saved_state = state_dict["state"]
        if not isinstance(saved_state, dict):
            raise ValueError(
                f"{where}: 'state' must be a dict of parameter index -> dict, got {type(saved_state).__name__}"
            )
        state = {}
        for key, entry in saved_state.items():
            if not (_is_int(key) or isinstance(key, str) and key.lstrip("-").isdigit()):
                raise ValueError(f"{where}: state key {key!r} is not a parameter index")
            index = int(key)
            if parameter_of.get(index) in state:
                raise ValueError(f"{where}: the state dict has two entries for parameter {index} ({key!r})")
            if index not in parameter_of:
                raise ValueError(
                    f"{where}: the state dict has state for parameter {index}, which no parameter group lists"
                )
            if not isinstance(entry, dict):
                raise ValueError(f"{where}: the state of parameter {index} must be a dict, got {type(entry).__name__}")
            p = parameter_of[index]
            group = dict(self.param_groups[group_of[index]], **hyperparameters[group_of[index]])
            state[p] = self._checked_entry(entry, p, group, f"{where}: parameter {index}")
        return hyperparameters, state

    def _checked_hyperparameters(self, saved, own, where):
        """The saved group's hyper-parameters, checked as the constructor checks them."""
        loaded = {k: v for k, v in saved.items() if k != "params" and k not in _TORCH_SWITCHES}
        missing = [name for name in self.defaults if name not in loaded]
        if missing:
            guess = _kind_from_names(loaded)
            raise ValueError(
                f"{where} lacks {', '.join(map(repr, missing))}, hyper-parameters of "
                f"{type(self).__name__}" + (f": it looks like the state of a {guess} optimizer" if guess else "")
            )
        decoupled = saved.get("decoupled_weight_decay")  # PyTorch's way of telling AdamW from Adam
        if decoupled is not None and bool(decoupled) != getattr(self, "_decoupled", False):
            raise ValueError(
                f"{where}: the state has decoupled_weight_decay={decoupled} (PyTorch's "
                f"{'AdamW' if decoupled else 'Adam'}); it cannot be loaded into {type(self).__name__}"
            )
        if "betas" in loaded and isinstance(loaded["betas"], (list, tuple)):
            loaded["betas"] = tuple(loaded["betas"])
        try:
            self._check_hyperparameters(dict(own, **loaded))
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        return loaded

    def _checked_entry(self, entry, p, group, where):
        """One parameter's state, as arrays on its device and of its dtype; the step count as an int."""
        required, allowed = self._state_names(group)
        unknown = [name for name in entry if name not in allowed]
        if unknown:
            raise ValueError(
                f"{where}: state {', '.join(map(repr, unknown))} is not state of "
                f"{type(self).__name__} (which keeps {', '.join(sorted(allowed))})"
            )
        missing = [name for name in sorted(required) if entry.get(name) is None]
        if missing:
            raise ValueError(
                f"{where}: the state lacks {', '.join(map(repr, missing))}, which "
                f"{type(self).__name__} needs with these hyper-parameters"
            )
        checked = {}
        for name, value in entry.items():
            if name == "step":
                checked[name] = _step_count(value, f"{where}: 'step'")
            elif value is None:
                checked[name] = None
            else:
                checked[name] = _moment_array(value, p, name in _NON_NEGATIVE_STATE, f"{where}: state {name!r}")
        return checked

    def _check_hyperparameters(self, group: dict) -> None:
        """Raise a ValueError naming the first invalid hyper-parameter of ``group`` (subclasses)."""

    def _state_names(self, group: dict):
        """(names a state entry must hold, names it may hold) under ``group``'s hyper-parameters."""
        return set(), set()

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"


# PyTorch's implementation switches in its param groups: no meaning for minigan, so loading ignores them
_TORCH_SWITCHES = frozenset({"foreach", "fused", "capturable", "differentiable", "decoupled_weight_decay"})
# running means of squares: negative values are impossible in a real run and would give NaN square roots
_NON_NEGATIVE_STATE = frozenset({"exp_avg_sq", "max_exp_avg_sq", "square_avg"})


def _is_int(value) -> bool:
    return isinstance(value, (int, numpy.integer)) and not isinstance(value, (bool, numpy.bool_))


def _check(name, value, low=0.0):
    """``value`` must be a finite real number >= ``low``."""
    if (
        isinstance(value, (bool, numpy.bool_))
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or not value >= low
    ):
        raise ValueError(f"invalid {name}: {value!r} (must be a finite number >= {low})")


def _check_flag(name, value):
    if not isinstance(value, (bool, numpy.bool_)):
        raise ValueError(f"invalid {name}: {value!r} (must be True or False)")


def _kind_from_names(hyperparameters) -> str | None:
    """The optimizer whose hyper-parameter names all appear in ``hyperparameters`` (SGD, Adam, RMSprop)."""
    for kind in (Adam, RMSprop, SGD):
        if all(name in hyperparameters for name in kind.hyperparameter_names):
            return kind.__name__
    return None


def _step_count(value, where) -> int:
    """A step count as an int: an int, an integral float, or a 0-d array/Tensor (PyTorch keeps a float tensor)."""
    if isinstance(value, Tensor):
        value = value.array
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if hasattr(value, "shape"):
        if tuple(value.shape) != ():
            raise ValueError(f"{where} must be a number, got an array of shape {tuple(value.shape)}")
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not _is_int(value) or value < 0:
        raise ValueError(f"{where} must be a whole number >= 0, got {value!r}")
    return int(value)


def _moment_array(value, p, non_negative, where):
    """A state array for parameter ``p``: same shape, floating point; returned as a copy of ``p``'s dtype on
    ``p``'s device."""
    array = value.array if isinstance(value, Tensor) else value
    if hasattr(array, "detach") and hasattr(array, "numpy"):  # a torch tensor
        array = array.detach().cpu().numpy()
    if not (isinstance(array, numpy.ndarray) or backend.is_cupy_array(array)):
        raise ValueError(f"{where} must be an array, got {type(value).__name__}")
    if tuple(array.shape) != p.shape:
        raise ValueError(f"{where} has shape {tuple(array.shape)}, the parameter has shape {p.shape}")
    if array.dtype.kind != "f":
        raise ValueError(f"{where} has dtype {array.dtype}; optimizer state must be floating point")
    if non_negative and bool((array < 0).any()):
        raise ValueError(f"{where} holds negative values; it is a running mean of squares")
    return backend.to_device(array, p.device).astype(p.dtype, copy=True)


class SGD(Optimizer):
    """Stochastic gradient descent with momentum (PyTorch's rule; Sutskever et al., 2013 for Nesterov).

    g <- grad + weight_decay * p
    b <- g (first step), then b <- momentum * b + (1 - dampening) * g
    g <- g + momentum * b (nesterov) or b
    p <- p - lr * g
    """

    hyperparameter_names = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr,
                momentum=momentum,
                dampening=dampening,
                weight_decay=weight_decay,
                nesterov=nesterov,
                maximize=maximize,
            ),
        )

    def _check_hyperparameters(self, group):
        _check("learning rate", group["lr"])
        _check("momentum", group["momentum"])
        _check("dampening", group["dampening"], low=-math.inf)
        _check("weight_decay", group["weight_decay"])
        _check_flag("nesterov", group["nesterov"])
        _check_flag("maximize", group["maximize"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _state_names(self, group):
        return ({"momentum_buffer"} if group["momentum"] != 0 else set()), {"momentum_buffer"}

    def _update(self, p, grad, state, group):
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        if weight_decay != 0:
            grad = grad + weight_decay * p.array
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.copy()
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        p.array -= lr * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), PyTorch's rule with bias correction:

    g <- grad + weight_decay * p                 (L2 penalty; AdamW decouples it instead)
    m <- beta1 m + (1 - beta1) g,   v <- beta2 v + (1 - beta2) g^2,   t <- t + 1
    v_max <- max(v_max, v) and use v_max for v (amsgrad)
    p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    _decoupled = False

    hyperparameter_names = ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize")

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        betas = tuple(betas) if isinstance(betas, (list, tuple)) else betas
        super().__init__(
            params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize)
        )

    def _check_hyperparameters(self, group):
        _check("learning rate", group["lr"])
        _check("epsilon", group["eps"])
        _check("weight_decay", group["weight_decay"])
        _check_flag("amsgrad", group["amsgrad"])
        _check_flag("maximize", group["maximize"])
        betas = group["betas"]
        if not (
            isinstance(betas, (tuple, list))
            and len(betas) == 2
            and all(
                isinstance(b, numbers.Real) and not isinstance(b, (bool, numpy.bool_)) and 0.0 <= b < 1.0 for b in betas
            )
        ):
            raise ValueError(f"invalid betas {betas!r}: a pair, each in [0, 1)")

    def _state_names(self, group):
        required = {"step", "exp_avg", "exp_avg_sq"} | ({"max_exp_avg_sq"} if group["amsgrad"] else set())
        return required, {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}

    def _update(self, p, grad, state, group):
        xp = p.xp
        lr, (beta1, beta2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p.array)
            state["exp_avg_sq"] = xp.zeros_like(p.array)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(p.array)
        if weight_decay != 0:
            if self._decoupled:
                p.array *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * p.array
        state["step"] += 1
        step = state["step"]
        # the update itself (m, v, v_max, p in place) is the kernel module's adam_update: array code in
        # kernels/reference.py, one fused parallel pass in kernels.cpu
        step_size, bias_correction2_sqrt = lr / (1 - beta1**step), math.sqrt(1 - beta2**step)
        backend.kernels_for(p.array).adam_update(
            p.array,
            grad,
            state["exp_avg"],
            state["exp_avg_sq"],
            state.get("max_exp_avg_sq") if group["amsgrad"] else None,
            beta1,
            beta2,
            step_size,
            bias_correction2_sqrt,
            eps,
        )


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): p <- p (1 - lr wd) before the Adam step."""

    _decoupled = True

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)


class RMSprop(Optimizer):
    """RMSprop (Hinton, lecture 6e), PyTorch's rule:

    g <- grad + weight_decay * p
    v <- alpha v + (1 - alpha) g^2
    centered: a <- alpha a + (1 - alpha) g,  denom = sqrt(v - a^2) + eps;  else denom = sqrt(v) + eps
    momentum > 0: b <- momentum b + g / denom,  p <- p - lr b;   else p <- p - lr g / denom
    """

    hyperparameter_names = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize")

    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr,
                alpha=alpha,
                eps=eps,
                weight_decay=weight_decay,
                momentum=momentum,
                centered=centered,
                maximize=maximize,
            ),
        )

    def _check_hyperparameters(self, group):
        _check("learning rate", group["lr"])
        _check("epsilon", group["eps"])
        _check("momentum", group["momentum"])
        _check("weight_decay", group["weight_decay"])
        _check("alpha", group["alpha"])
        _check_flag("centered", group["centered"])
        _check_flag("maximize", group["maximize"])

    def _state_names(self, group):
        required = (
            {"step", "square_avg"}
            | ({"momentum_buffer"} if group["momentum"] > 0 else set())
            | ({"grad_avg"} if group["centered"] else set())
        )
        return required, {"step", "square_avg", "momentum_buffer", "grad_avg"}

    def _update(self, p, grad, state, group):
        xp = p.xp
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(p.array)
            if group["momentum"] > 0:
                state["momentum_buffer"] = xp.zeros_like(p.array)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(p.array)
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p.array
        state["step"] += 1
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg += (grad - grad_avg) * (1 - alpha)
            avg = xp.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = xp.sqrt(square_avg)
        avg += eps
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += grad / avg
            p.array -= lr * buf
        else:
            p.array -= lr * (grad / avg)


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012), PyTorch's rule (the optimizer of pytorch/examples' mnist):

    g <- grad + weight_decay * p
    v <- rho v + (1 - rho) g^2
    delta = sqrt(u + eps) / sqrt(v + eps) * g
    u <- rho u + (1 - rho) delta^2
    p <- p - lr delta
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        maximize: bool = False,
    ) -> None:
        _check("learning rate", lr)
        _check("epsilon", eps)
        _check("weight_decay", weight_decay)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"invalid rho {rho}: expected a value in [0, 1]")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _update(self, p, grad, state, group):
        xp = p.xp
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(p.array)
            state["acc_delta"] = xp.zeros_like(p.array)
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p.array
        state["step"] += 1
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= rho
        square_avg += (1 - rho) * grad * grad
        delta = xp.sqrt(acc_delta + eps) / xp.sqrt(square_avg + eps) * grad
        acc_delta *= rho
        acc_delta += (1 - rho) * delta * delta
        p.array -= lr * delta


# the schedules, reachable as minigan.optim.lr_scheduler like torch.optim.lr_scheduler
from . import lr_scheduler  # noqa: E402
