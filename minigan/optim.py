"""Optimizers (``torch.optim``): SGD, Adam, AdamW, RMSprop with PyTorch's exact update rules.

An optimizer holds ``param_groups`` (a list of dicts: ``"params"`` and the hyper-parameters, so that groups
can have their own learning rates) and ``state`` (per parameter: step count and moment arrays, on the
parameter's device). ``step()`` reads each ``p.grad`` and updates ``p.data`` in place, outside the graph, so
a Parameter keeps its identity and a Module holding it sees the new values.

``state_dict()`` / ``load_state_dict()`` use PyTorch's layout: ``{"state": {index: {...}}, "param_groups":
[{..., "params": [indices]}]}``, where ``index`` numbers the parameters in group order. Step counts are
ints and moments are Tensors, so ``minigan.save`` writes it and resuming is exact, bit for bit.
"""
from __future__ import annotations

import math

from . import backend
from .autograd import no_grad
from .tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler"]


class Optimizer:
    """Base class: param groups, per-parameter state, zero_grad, state_dict/load_state_dict.
    Subclasses implement ``_update(p, grad, state, group)`` on raw xp arrays."""

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.state: dict = {}                 # Parameter -> dict (Tensor hashes by identity)
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
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (None, or fresh zeros with ``set_to_none=False``)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                p.grad = None if set_to_none else Tensor(p.xp.zeros_like(p.grad.data))

    def step(self, closure=None):
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
                    grad = p.grad.data
                    if grad.shape != p.data.shape:
                        raise RuntimeError(f"{type(self).__name__}: gradient shape {grad.shape} differs from "
                                           f"parameter shape {p.data.shape}")
                    if backend.device_of(grad) != backend.device_of(p.data):
                        raise RuntimeError(f"{type(self).__name__}: gradient on {backend.device_of(grad)} but "
                                           f"parameter on {backend.device_of(p.data)}")
                    if group.get("maximize", False):
                        grad = -grad
                    self._update(p, grad, self.state.setdefault(p, {}), group)
                    p._bump_version()          # an in-place change: a graph that saved p refuses backward
        return loss

    def _update(self, p, grad, state, group):
        raise NotImplementedError

    # --- state dict -----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """{"state": {index: {name: int | float | Tensor}}, "param_groups": [{hyper-parameters,
        "params": [index, ...]}]}. Moment arrays are copied, so the dict is a snapshot."""
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
                    state[index_of[id(p)]] = {name: (Tensor(value.copy()) if hasattr(value, "shape") else value)
                                              for name, value in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and per-parameter state (copied, cast and moved to each parameter).
        Keys of ``state`` may be ints or their strings (as a JSON round trip gives)."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"the state dict has {len(groups)} parameter groups, this optimizer has "
                             f"{len(self.param_groups)}")
        for i, (saved, own) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(f"parameter group {i} has {len(saved['params'])} parameters in the state "
                                 f"dict and {len(own['params'])} in this optimizer")
        saved_state = {int(k): v for k, v in state_dict["state"].items()}
        self.state = {}
        for saved, own in zip(groups, self.param_groups):
            for index, p in zip(saved["params"], own["params"]):
                if int(index) not in saved_state:
                    continue
                entry = {}
                for name, value in saved_state[int(index)].items():
                    if isinstance(value, Tensor) or hasattr(value, "shape") and getattr(value, "ndim", 0) > 0:
                        array = value.data if isinstance(value, Tensor) else value
                        if hasattr(array, "detach") and hasattr(array, "numpy"):     # a torch tensor
                            array = array.detach().cpu().numpy()
                        if array.ndim == 0:                                        # a step stored as a tensor
                            entry[name] = array.item()
                            continue
                        if tuple(array.shape) != p.shape:
                            raise ValueError(f"state {name!r} of parameter {index} has shape "
                                             f"{tuple(array.shape)}, the parameter has shape {p.shape}")
                        array = backend.to_device(array, p.device)
                        entry[name] = array.astype(p.dtype, copy=True)
                    else:
                        entry[name] = value.item() if hasattr(value, "item") else value
                self.state[p] = entry
            for key, value in saved.items():
                if key != "params":
                    own[key] = tuple(value) if key == "betas" else value

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"


def _check(name, value, low=0.0):
    if not value >= low:
        raise ValueError(f"invalid {name}: {value} (must be >= {low})")


class SGD(Optimizer):
    """Stochastic gradient descent with momentum (PyTorch's rule; Sutskever et al., 2013 for Nesterov).

        g <- grad + weight_decay * p
        b <- g (first step), then b <- momentum * b + (1 - dampening) * g
        g <- g + momentum * b (nesterov) or b
        p <- p - lr * g
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 maximize=False):
        _check("learning rate", lr)
        _check("momentum", momentum)
        _check("weight_decay", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize))

    def _update(self, p, grad, state, group):
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        if weight_decay != 0:
            grad = grad + weight_decay * p.data
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.copy()
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        p.data -= lr * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), PyTorch's rule with bias correction:

        g <- grad + weight_decay * p                 (L2 penalty; AdamW decouples it instead)
        m <- beta1 m + (1 - beta1) g,   v <- beta2 v + (1 - beta2) g^2,   t <- t + 1
        v_max <- max(v_max, v) and use v_max for v (amsgrad)
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 maximize=False):
        _check("learning rate", lr)
        _check("epsilon", eps)
        _check("weight_decay", weight_decay)
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"invalid betas {betas}: each must be in [0, 1)")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _update(self, p, grad, state, group):
        xp = p.xp
        lr, (beta1, beta2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p.data)
            state["exp_avg_sq"] = xp.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(p.data)
        if weight_decay != 0:
            if self._decoupled:
                p.data *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * p.data
        state["step"] += 1
        step = state["step"]
        # the update itself (m, v, v_max, p in place) is the kernel module's adam_update: array code in
        # kernels/reference.py, one fused parallel pass in kernels.cpu
        step_size, bias_correction2_sqrt = lr / (1 - beta1 ** step), math.sqrt(1 - beta2 ** step)
        backend.kernels_for(p.data).adam_update(p.data, grad, state["exp_avg"], state["exp_avg_sq"],
                                                state.get("max_exp_avg_sq") if group["amsgrad"] else None,
                                                beta1, beta2, step_size, bias_correction2_sqrt, eps)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): p <- p (1 - lr wd) before the Adam step."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)


class RMSprop(Optimizer):
    """RMSprop (Hinton, lecture 6e), PyTorch's rule:

        g <- grad + weight_decay * p
        v <- alpha v + (1 - alpha) g^2
        centered: a <- alpha a + (1 - alpha) g,  denom = sqrt(v - a^2) + eps;  else denom = sqrt(v) + eps
        momentum > 0: b <- momentum b + g / denom,  p <- p - lr b;   else p <- p - lr g / denom
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 maximize=False):
        _check("learning rate", lr)
        _check("epsilon", eps)
        _check("momentum", momentum)
        _check("weight_decay", weight_decay)
        _check("alpha", alpha)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _update(self, p, grad, state, group):
        xp = p.xp
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(p.data)
            if group["momentum"] > 0:
                state["momentum_buffer"] = xp.zeros_like(p.data)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(p.data)
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p.data
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
            p.data -= lr * buf
        else:
            p.data -= lr * (grad / avg)


# the schedules, reachable as minigan.optim.lr_scheduler like torch.optim.lr_scheduler
from . import lr_scheduler  # noqa: E402
