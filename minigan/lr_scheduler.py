"""Learning-rate schedules with PyTorch's names, arguments and step semantics (``minigan.optim.lr_scheduler``).

    opt = optim.Adam(model.parameters(), lr=1e-3)
    schedule = optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(...)          # opt.step() inside
        schedule.step()               # once per epoch, after the optimizer's steps

A scheduler sets ``group["lr"]`` of every parameter group of its optimizer from the group's ``initial_lr``
and the number of ``step()`` calls so far (``last_epoch``). Every schedule here is computed in closed form
from ``last_epoch``, so ``state_dict()`` (``last_epoch`` and the schedule's settings) is all a resumed run
needs: ``load_state_dict`` then ``step()`` continues exactly where the killed run was. (PyTorch computes
StepLR, ExponentialLR and CosineAnnealingLR recursively; the closed forms agree with it to rounding — the
tests compare 200 steps against PyTorch.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .optim import Optimizer

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "LambdaLR", "CosineAnnealingLR", "LinearLR"]


class LRScheduler:
    """Base class: subclasses define ``lr_at(initial_lr, epoch)``; ``step()`` advances ``last_epoch`` and
    writes each group's learning rate. Constructing a scheduler applies epoch 0 (as PyTorch does)."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not hasattr(optimizer, "param_groups"):
            raise TypeError(
                f"{type(self).__name__}: optimizer must be a minigan optimizer, got {type(optimizer).__name__}"
            )
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            missing = [i for i, group in enumerate(optimizer.param_groups) if "initial_lr" not in group]
            if missing:
                raise KeyError(
                    f"{type(self).__name__}: param_groups {missing} have no 'initial_lr' "
                    "(last_epoch != -1 resumes a schedule; construct with last_epoch=-1 first)"
                )
        self.optimizer = optimizer
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def lr_at(self, initial_lr: float, epoch: int) -> float:
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rates the last ``step()`` set, one per parameter group."""
        return list(self._last_lr)

    def step(self) -> None:
        self.last_epoch += 1
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.lr_at(base, self.last_epoch)
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    # what a checkpoint keeps: every attribute but the optimizer (and, for LambdaLR, the functions)
    def state_dict(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "lr_lambdas")}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore ``last_epoch`` and the settings; refuses a state saved by another kind of schedule."""
        kind = state_dict.get("kind")
        if kind != type(self).__name__:
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state was saved by {kind!r}")
        unknown = set(state_dict) - set(self.state_dict())
        if unknown:
            raise KeyError(f"{type(self).__name__}.load_state_dict: unexpected keys {sorted(unknown)}")
        for key, value in state_dict.items():
            setattr(self, key, list(value) if key in ("base_lrs", "_last_lr", "milestones") else value)
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr


def _positive(owner, name, value, integer=False):
    if integer and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"{owner}: {name} must be an int, got {value!r}")
    if not value > 0:
        raise ValueError(f"{owner}: {name} must be positive, got {value!r}")
    return value


class StepLR(LRScheduler):
    """lr = initial_lr * gamma ** (epoch // step_size)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        self.kind = "StepLR"
        self.step_size = _positive("StepLR", "step_size", step_size, integer=True)
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, initial_lr: float, epoch: int) -> float:
        return initial_lr * self.gamma ** (epoch // self.step_size)


class MultiStepLR(LRScheduler):
    """lr = initial_lr * gamma ** (number of milestones <= epoch)."""

    def __init__(
        self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.kind = "MultiStepLR"
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, initial_lr: float, epoch: int) -> float:
        return initial_lr * self.gamma ** sum(1 for m in self.milestones if m <= epoch)


class ExponentialLR(LRScheduler):
    """lr = initial_lr * gamma ** epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.kind = "ExponentialLR"
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, initial_lr: float, epoch: int) -> float:
        return initial_lr * self.gamma**epoch


class LambdaLR(LRScheduler):
    """lr = initial_lr * lr_lambda(epoch); one function, or one per parameter group. The functions are
    code, not state: a resumed run passes them again (``state_dict`` leaves them out, as PyTorch's does for
    lambdas)."""

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        self.kind = "LambdaLR"
        groups = len(optimizer.param_groups)
        self.lr_lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * groups
        if len(self.lr_lambdas) != groups:
            raise ValueError(f"LambdaLR: {len(self.lr_lambdas)} lr_lambda functions for {groups} param_groups")
        if not all(callable(f) for f in self.lr_lambdas):
            raise TypeError("LambdaLR: lr_lambda must be a function of the epoch (or a list of them)")
        super().__init__(optimizer, last_epoch)

    def step(self) -> None:
        self.last_epoch += 1
        for group, base, function in zip(self.optimizer.param_groups, self.base_lrs, self.lr_lambdas):
            group["lr"] = base * function(self.last_epoch)
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2 (SGDR without restarts,
    Loshchilov & Hutter 2017, eq. 5)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        self.kind = "CosineAnnealingLR"
        self.T_max = _positive("CosineAnnealingLR", "T_max", T_max, integer=True)
        self.eta_min = float(eta_min)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, initial_lr: float, epoch: int) -> float:
        return self.eta_min + (initial_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


class LinearLR(LRScheduler):
    """The factor moves linearly from start_factor to end_factor over total_iters steps, then stays."""

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        self.kind = "LinearLR"
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
            raise ValueError(
                f"LinearLR: start_factor must be in (0, 1] and end_factor in [0, 1], got "
                f"{start_factor!r} and {end_factor!r}"
            )
        self.start_factor, self.end_factor = float(start_factor), float(end_factor)
        self.total_iters = _positive("LinearLR", "total_iters", total_iters, integer=True)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, initial_lr: float, epoch: int) -> float:
        progress = min(epoch, self.total_iters) / self.total_iters
        return initial_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)
