"""naive Bayes: Bernoulli naive Bayes on mnist5k's pixels binarised at 0.5, trained by counting.

    minigan train naive-bayes --out runs/nb            # one pass, batches of 500 digits
    minigan sample --run runs/nb                       # images drawn from each class's pixel probabilities
    minigan evaluate --run runs/nb                     # test accuracy and -log p(x)

Training is counting. The model is its counts N_c and N_ci (``models.naive_bayes``),
so one pass over the data in mini-batches gives exactly the model of one closed-form fit, and a second
epoch would count every image twice (train it for one epoch).

    trainer = NaiveBayesTrainer(BernoulliNaiveBayes(alpha=1.0, binarize=0.5), classes=range(10))
    fit(trainer, DataLoader(x, y, batch_size=500), epochs=1, out_dir="runs/nb")

Reference: McCallum & Nigam, A Comparison of Event Models for Naive Bayes Text Classification, 1998 (the
Bernoulli event model); Ng & Jordan, On Discriminative vs. Generative Classifiers, NIPS 2002.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy

from ..argtypes import non_negative_float, probability
from ..models.naive_bayes import BernoulliNaiveBayes
from ..tensor import Tensor

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterable

    from ..data import DataLoader
    from ..typing import ArrayLike, Batch
    from .base import Trainer

__all__ = ["NaiveBayesTrainer", "add_arguments", "build", "make_loader", "evaluation_data"]


def _numpy(value):
    return numpy.asarray(value.numpy() if isinstance(value, Tensor) else value)


class NaiveBayesTrainer:
    """Accumulates the counts of a :class:`~minigan.models.BernoulliNaiveBayes` batch by batch."""

    family = "naive-bayes"
    progress_fields = {"images": "images"}

    def __init__(
        self, model: BernoulliNaiveBayes, classes: Iterable[int] = range(10), n_features: int | None = None
    ) -> None:
        self.model, self.classes = model, numpy.asarray(list(classes))
        self.n_features = None if n_features is None else int(n_features)  # D, for samples before any count
        self.step = 0

    def train_step(self, batch: Batch) -> dict[str, float]:
        """Count a batch (x, y) of images and labels (McCallum & Nigam 1998, the Bernoulli event model):

        N_c += #{n : y_n = c},     N_ci += #{n : y_n = c, x_ni = 1}
        p(y = c) = N_c / N,        theta_ci = (N_ci + alpha) / (N_c + 2 alpha)     (Laplace smoothing)
        """
        x, y = batch
        self.model.partial_fit(_numpy(x), _numpy(y), classes=self.classes, reset=self.step == 0)
        self.step += 1
        return {"images": float(self.model.class_count_.sum())}

    def sample(self, n: int) -> Tensor:
        """n images, the k-th of class c = k mod K, x_i ~ Bernoulli(theta_ci), from minigan's
        generator: (n, 1, s, s) when D is a square, else (n, D)."""
        from .. import backend

        if self.step == 0:  # no count yet: theta = alpha / (2 alpha) = 1/2 for every pixel and class
            if self.n_features is None:
                raise ValueError("naive Bayes has counted no data yet and does not know its number of pixels")
            theta = numpy.full((n, self.n_features), 0.5)
        else:
            theta = self.model.class_means()[numpy.arange(n) % len(self.model.classes_)]  # (n, D)
        images = (backend.generator("cpu").random(theta.shape) < theta).astype(numpy.float32)
        side = int(round(theta.shape[1] ** 0.5))
        return Tensor(images.reshape(n, 1, side, side) if side * side == theta.shape[1] else images)

    def evaluate(self, data: Any) -> dict[str, Any]:
        """Accuracy and the mean negative log-likelihood -log p(x) (nats per image) on data = (x, y)."""
        x, y = data
        x = _numpy(x)
        return {"accuracy": self.model.score(x, _numpy(y)), "nll": float(-self.model.log_likelihood(x).mean())}

    def config(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "alpha": self.model.alpha,
            "binarize": self.model.binarize,
            "fit_prior": bool(self.model.fit_prior),
            "classes": self.classes.tolist(),
        }

    def state_dict(self) -> dict[str, Any]:
        counted = self.step > 0
        return {
            "class_count": self.model.class_count_ if counted else None,
            "feature_count": self.model.feature_count_ if counted else None,
            "step": self.step,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        step = int(state["step"])
        if step == 0:
            self.step = 0
            return
        self.model.load_counts(self.classes, _numpy(state["class_count"]), _numpy(state["feature_count"]))
        self.step = step


# --- the command line -----------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(epochs=1, batch_size=500)
    parser.add_argument("--alpha", type=non_negative_float, default=1.0, help="Laplace smoothing (pseudo-count)")
    parser.add_argument("--threshold", type=probability, default=0.5, help="pixels > threshold are 1")


def build(args: argparse.Namespace) -> tuple[Trainer, Any]:
    from .. import data

    if args.epochs != 1:
        raise ValueError(f"naive Bayes counts every image once: --epochs must be 1, got {args.epochs}")
    train = data.load("mnist5k")
    model = BernoulliNaiveBayes(alpha=args.alpha, binarize=args.threshold)
    return NaiveBayesTrainer(model, classes=range(10), n_features=784), (train.x, train.y)


def make_loader(arrays: tuple[ArrayLike, ...], batch_size: int, seed: int, device: str) -> DataLoader:
    """Every image counted once: no batch dropped, no shuffle needed (counts do not depend on the order)."""
    from ..data import DataLoader

    return DataLoader(*arrays, batch_size=batch_size, shuffle=False, drop_last=False, device=device)


def evaluation_data(args: argparse.Namespace) -> Any:
    from .. import data

    test = data.load("mnist5k", split="test")
    return test.x, test.y
