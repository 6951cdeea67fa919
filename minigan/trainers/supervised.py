"""Supervised training by back-propagation and Adam: a classifier (logistic regression, a DBN's
fine-tuning) and an autoencoder (Hinton & Salakhutdinov 2006's unrolled DBN).

    trainer = ClassifierTrainer(LogisticRegression(784, 10), lr=0.01, weight_decay=1e-4)
    fit(trainer, DataLoader(x, y, batch_size=128, shuffle=True, seed=0), epochs=30, out_dir="runs/lr")

One Adam step on a mini-batch is the whole algorithm (Kingma & Ba 2015); the losses are
``minigan.losses``. Before issue 16 this loop was written four times in the models and twice in the demos.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy

from .. import functional as F
from .. import losses, optim
from ..argtypes import int_in_range, non_negative_float, positive_float
from ..data.loader import DataLoader
from ..function import unwrap
from .base import Trainer, check_finite

if TYPE_CHECKING:
    import argparse

    from ..nn import Module
    from ..typing import ArrayLike, Batch

__all__ = ["ClassifierTrainer", "AutoencoderTrainer", "train_classifier", "ClassifierFamily", "AutoencoderFamily"]


class _AdamTrainer(Trainer):
    """The state and the step shared by the two trainers: the model, Adam over all its parameters, a step
    counter."""

    def __init__(self, model: Module, lr: float) -> None:
        self.model, self.lr = model, float(lr)
        self.optimizer = optim.Adam(model.parameters(), lr=self.lr)
        self.step = 0

    def _descend(self, loss, **metrics):
        """Check the loss is finite, then one Adam step on its gradient."""
        value = loss.item()
        check_finite(self.step + 1, loss=value)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.step += 1
        return {"loss": value, **metrics}

    def components(self) -> dict[str, Any]:
        return {"model": self.model, "optimizer": self.optimizer}


class ClassifierTrainer(_AdamTrainer):
    """Softmax cross-entropy, plus (weight_decay / 2) sum ||w||^2 over the model's ``weight`` parameters
    when weight_decay > 0 (bias terms are not decayed), minimised by Adam. Batches are (x, y)."""

    family = "classifier"
    progress_fields = {"loss": "loss", "acc": "accuracy"}

    def __init__(self, model: Module, lr: float = 1e-3, weight_decay: float = 0.0) -> None:
        super().__init__(model, lr)
        self.weight_decay = float(weight_decay)
        self.decayed = [p for name, p in model.named_parameters() if name.split(".")[-1] == "weight"]

    def train_step(self, batch: Batch) -> dict[str, float]:
        """loss = -(1/N) sum_n log softmax(f(x_n))_{y_n} + (weight_decay / 2) sum ||W||^2; one Adam step."""
        x, y = batch
        logits = self.model(x)  # (N, K)
        loss = F.cross_entropy(logits, y)
        if self.weight_decay:
            loss = loss + losses.l2_penalty(self.decayed, self.weight_decay)
        labels = unwrap(y)
        accuracy = float((logits.array.argmax(1) == labels).mean())
        return self._descend(loss, accuracy=accuracy)

    def evaluate(self, data: Any) -> dict[str, Any]:
        """Accuracy on data = (x, y)."""
        x, y = data
        return {"accuracy": self.model.score(x, y)}

    def config(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "model": type(self.model).__name__,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
        }


class AutoencoderTrainer(_AdamTrainer):
    """The reconstruction cross-entropy of x in [0, 1] against sigmoid(decoder logits), summed over pixels
    and averaged over images (``losses.bernoulli_nll``), minimised by Adam. Batches are x or (x, y)."""

    family = "autoencoder"
    progress_fields = {"loss": "loss"}

    def train_step(self, batch: Batch) -> dict[str, float]:
        """loss = (1/N) sum_n BCE(x_n, sigmoid(decode(encode(x_n)))); one Adam step."""
        x = batch[0] if isinstance(batch, tuple) else batch
        return self._descend(self.model.loss(x))

    def evaluate(self, data: Any) -> dict[str, Any]:
        """Mean squared reconstruction error per image on data x (N, D) (H&S 2006's measure)."""
        x = data[0] if isinstance(data, tuple) else data
        return {"squared_error": self.model.squared_error(x)}

    def config(self) -> dict[str, Any]:
        return {"family": self.family, "sizes": list(self.model.sizes), "lr": self.lr}


def train_classifier(
    model: Module,
    x: ArrayLike,
    y: ArrayLike,
    epochs: int = 30,
    lr: float = 0.01,
    batch_size: int = 128,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> list[float]:
    """A measuring instrument, trained in memory: ``epochs`` passes of ``ClassifierTrainer`` over (x, y)
    shuffled by numpy.random.default_rng(seed) -- the digit judge, linear probes, baselines (what
    ``LogisticRegression.fit`` did before issue 16, with its defaults). A model under study trains through
    ``minigan.training.fit`` instead (checkpoints, metrics log, resume). Returns the per-epoch mean loss."""
    x = numpy.asarray(x, dtype=numpy.float32).reshape(len(x), -1)
    trainer = ClassifierTrainer(model, lr=lr, weight_decay=weight_decay)
    loader = DataLoader(x, numpy.asarray(y, dtype=numpy.int64), batch_size=batch_size, shuffle=True, seed=seed)
    history = []
    for _ in range(epochs):
        total = 0.0
        for batch in loader:
            total += trainer.train_step(batch)["loss"] * len(batch[1])
        history.append(total / len(x))
    return history


# --- the command line: two families, each a namespace of the functions the CLI calls ------------------------


def _mnist_rows(split):
    from .. import data

    digits = data.load("mnist5k", split=split)
    return digits.x.reshape(len(digits.x), -1), digits.y


class ClassifierFamily:
    """classifier: logistic regression on mnist5k's pixels, or (--hidden 500 500) a sigmoid MLP from random
    init, trained by Adam on the cross-entropy.

        minigan train classifier --out runs/lr                     # 784 -> 10, 30 epochs, L2 1e-4
        minigan train classifier --out runs/mlp --hidden 500 500 --weight-decay 0 --lr 1e-3
        minigan evaluate --run runs/lr                             # test accuracy
    """

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.set_defaults(epochs=30, batch_size=128)
        parser.add_argument(
            "--hidden",
            type=int_in_range(1, 100_000),
            nargs="*",
            default=[],
            help="sigmoid hidden layers (none: logistic regression)",
        )
        parser.add_argument("--lr", type=positive_float, default=0.01, help="Adam's learning rate")
        parser.add_argument("--weight-decay", type=non_negative_float, default=1e-4, help="L2 on the weights")

    @staticmethod
    def build(args: argparse.Namespace) -> tuple[Trainer, Any]:
        from ..models import DBNClassifier, LogisticRegression

        model = (DBNClassifier((784, *args.hidden), 10) if args.hidden else LogisticRegression(784, 10)).to(args.device)
        return ClassifierTrainer(model, lr=args.lr, weight_decay=args.weight_decay), _mnist_rows("train")

    @staticmethod
    def evaluation_data(args: argparse.Namespace) -> Any:
        return _mnist_rows("test")


class AutoencoderFamily:
    """autoencoder: Hinton & Salakhutdinov (2006)'s deep autoencoder from random init (784-500-250-30 and its
    mirror, linear code), trained by Adam on the reconstruction cross-entropy of mnist5k's grey levels
    (``minigan train dbn`` pre-trains the stack an autoencoder needs; demos/dbn_mnist.py compares the two).

        minigan train autoencoder --out runs/ae
        minigan evaluate --run runs/ae             # squared reconstruction error per test image
    """

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.set_defaults(epochs=20, batch_size=64)
        parser.add_argument(
            "--sizes",
            type=int_in_range(1, 100_000),
            nargs="+",
            default=[500, 250, 30],
            help="encoder widths after the 784 pixels; the last is the code",
        )
        parser.add_argument("--lr", type=positive_float, default=1e-3, help="Adam's learning rate")

    @staticmethod
    def build(args: argparse.Namespace) -> tuple[Trainer, Any]:
        from ..models import DeepAutoencoder

        model = DeepAutoencoder((784, *args.sizes), linear_code=True).to(args.device)
        return AutoencoderTrainer(model, lr=args.lr), _mnist_rows("train")[0]

    @staticmethod
    def evaluation_data(args: argparse.Namespace) -> Any:
        return _mnist_rows("test")[0]
