"""The trainer contract: what every model family gives ``minigan.training.fit`` and the command line.

A trainer is a plain class (``Trainer`` below gives the bookkeeping parts) with

    train_step(batch) -> {name: float}   one update of the paper's algorithm on one batch, exactly as the
                                         loader yields it (``x``, or ``(x, y)`` for labelled data); short,
                                         its docstring and comments give the paper's equations and
                                         algorithm step numbers. Calls ``check_finite`` before an update
                                         that would spread a NaN (``fit`` turns it into a clean stop).
    state_dict() / load_state_dict(s)    every piece of state that decides the future except minigan's
                                         global RNG and the loader's (``fit`` saves those): networks,
                                         optimizers, step and phase counters, persistent chains. Nested
                                         dicts of arrays / numbers / strings (what ``mg.save`` writes).
                                         ``load_state_dict`` validates before it assigns.
    config() -> dict                     the JSON-able settings that define the run (hyperparameters,
                                         network sizes, the family's name); ``fit`` writes it to
                                         config.json and refuses a resume with different settings.
    sample(n) -> Tensor                  optional: n samples in the data's layout and range, drawn from
                                         minigan's RNG (``fit`` seeds it for its grids, then restores it);
                                         ``sample_range`` says the range of image samples for the grids.
    evaluate(data) -> {name: float}      optional: the family's measurement (``minigan evaluate``).
    progress_fields                      optional: {label: metric name} for the progress bar.

Each family module in ``minigan/trainers/`` also has, for the command line, ``add_arguments(parser)`` (its
flags, validated with ``minigan.argtypes``; it may ``parser.set_defaults(epochs=..., batch_size=...)``) and
``build(args) -> (trainer, dataset)``, the trainer and its default built-in data (an array, or a tuple of
arrays such as ``(x, y)``, which the CLI hands to ``DataLoader``). If the module has
``evaluation_data(args)``, ``minigan evaluate`` passes its result to ``evaluate``; otherwise the training data.

``Trainer`` implements ``state_dict`` / ``load_state_dict`` from two declarations of the subclass:
``components()`` ({name: object with state_dict/load_state_dict}, e.g. networks and optimizers) and
``counters`` (names of integer attributes, e.g. ``("step",)``). Its ``load_state_dict`` checks the keys and
counters first and restores every component if one of them refuses its state, so a bad checkpoint leaves
the trainer as it was.
"""

from __future__ import annotations

import contextlib
import copy
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import autograd
from ..tensor import Tensor, randn
from ..training import NonFiniteLossError, check_finite

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ..nn import Module
    from ..optim import Optimizer
    from ..typing import Batch, TensorLike

__all__ = [
    "NonFiniteLossError",
    "Trainer",
    "as_tensor",
    "check_finite",
    "describe_network",
    "eval_mode",
    "step_parameters",
]


class Trainer:
    """Defaults for the contract; a family subclasses it and writes ``__init__``, ``components``,
    ``train_step`` and ``config`` (and ``sample`` / ``evaluate`` where they apply)."""

    family = None  # the name on the command line, e.g. "wgan-gp"
    counters = ("step",)  # integer attributes saved in the state dict
    progress_fields = None  # {label: metric name} for fit's progress bar (None: every metric)
    sample_range = (0.0, 1.0)  # the range of image samples, for fit's grids

    def noise(self, n: int, device: str = "cpu") -> Tensor:
        """z ~ N(0, I), (n, latent_dim), from minigan's generator of ``device`` (seeded, and checkpointed by
        ``fit``): the latent noise of the generative families, which set ``latent_dim``."""
        return randn(n, self.latent_dim, device=device)

    def components(self) -> dict:
        """{name: object with state_dict() and load_state_dict(state)}: networks, optimizers..."""
        raise NotImplementedError(f"{type(self).__name__} must define components()")

    def config(self) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must define config()")

    def train_step(self, batch: Batch) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must define train_step(batch)")

    def state_dict(self) -> dict:
        state = {name: component.state_dict() for name, component in self.components().items()}
        for name in self.counters:
            state[name] = int(getattr(self, name))
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Check the keys and counters, then load every component; if a component refuses its state, the
        components already loaded get their previous state back and the error is raised."""
        name = type(self).__name__
        if not isinstance(state, dict):
            raise TypeError(f"{name}.load_state_dict: expected a dict, got {type(state).__name__}")
        components = self.components()
        expected = set(components) | set(self.counters)
        missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
        if missing or unexpected:
            raise KeyError(f"{name}.load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
        counters = {}
        for counter in self.counters:
            value = state[counter]
            value = value.item() if isinstance(value, (Tensor, np.ndarray)) else value
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"{name}.load_state_dict: {counter!r} must be an integer >= 0, got {value!r}")
            counters[counter] = int(value)
        previous = {key: copy.deepcopy(component.state_dict()) for key, component in components.items()}
        loaded = []
        try:
            for key, component in components.items():
                component.load_state_dict(state[key])
                loaded.append(key)
        except Exception:
            for key in loaded:
                components[key].load_state_dict(previous[key])
            raise
        for counter, value in counters.items():
            setattr(self, counter, value)


# --- helpers for train_step -----------------------------------------------------------------------------


def step_parameters(loss: Tensor, parameters: list[Tensor], optimizer: Optimizer) -> None:
    """One optimizer step on ``loss`` for ``parameters`` only: their gradients are set (other networks'
    ``.grad`` untouched), the optimizer steps, and the gradients are cleared."""
    grads = autograd.grad(loss, parameters)
    for p, g in zip(parameters, grads):
        p.grad = g
    optimizer.step()
    for p in parameters:
        p.grad = None


def as_tensor(x: TensorLike) -> Tensor:
    """A batch as a Tensor (the loader yields Tensors; tests may pass NumPy arrays)."""
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=np.float32))


@contextlib.contextmanager
def eval_mode(*modules: Module) -> Iterator[None]:
    """Modules in eval mode (batch norm's running statistics, no dropout) and no graph, for sampling;
    each module's mode is restored afterwards."""
    modes = [module.training for module in modules]
    for module in modules:
        module.eval()
    try:
        with autograd.no_grad():
            yield
    finally:
        for module, mode in zip(modules, modes):
            module.train(mode)


def describe_network(module: Module) -> str:
    """ "ClassName, N parameters": enough in a run's config to tell two network sizes apart."""
    count = sum(int(np.prod(p.shape)) for p in module.parameters())
    return f"{type(module).__name__}, {count} parameters"
