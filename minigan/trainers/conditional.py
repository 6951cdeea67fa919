"""Conditional GAN (Mirza & Osindero, "Conditional Generative Adversarial Nets", 2014, arXiv:1411.1784) on
source 003's conditional DCGAN (``minigan.models.ConditionalDCGANGenerator`` / ``...Discriminator``: the
one-hot label joins G's input and every hidden map of both networks), mnist5k by default.

    minigan train cgan --out runs/cgan        # 4 000 labelled digits in [-1, 1], 30 epochs of batch 64
    minigan evaluate --run runs/cgan          # does G(z, y) draw the digit y? (the digit judge's accuracy)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import autograd, backend, data, losses, optim
from .. import functional as F
from ..argtypes import int_in_range, positive_float
from ..data.splits import training_subset
from ..evaluate import discriminator_accuracy
from ..tensor import Tensor
from .base import Trainer, as_tensor, check_finite, describe_network, eval_mode, step_parameters

if TYPE_CHECKING:
    import argparse

    from ..models import LogisticRegression
    from ..nn import Module
    from ..typing import ArrayLike, Batch, TensorLike

__all__ = ["ConditionalGAN", "add_arguments", "build", "evaluation_data"]


class ConditionalGAN(Trainer):
    """The GAN game with both players given the label y (Mirza & Osindero, 2014, eq. 2):

        min_G max_D  E_{x,y ~ data} log D(x | y) + E_{z ~ N(0, I), y~ ~ U{1..K}} log(1 - D(G(z | y~) | y~))

    One ``train_step((x, y))`` is ``d_steps`` discriminator updates (source 003 trains D twice per G step),
    each on the real labelled batch and on fakes with fresh z and labels y~ drawn uniformly, then one
    generator update with the non-saturating loss -E log D(G(z | y~) | y~) (Goodfellow et al., 2014,
    section 3). Adam(2e-4, betas (0.5, 0.999)) for both networks, as DCGAN (Radford et al., 2016).
    """

    family = "cgan"
    progress_fields = {"D": "d_loss", "G": "g_loss", "acc": "d_accuracy"}
    sample_range = (-1.0, 1.0)

    def __init__(
        self,
        generator: Module,
        discriminator: Module,
        n_classes: int = 10,
        d_steps: int = 2,
        lr: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
    ) -> None:
        if int(d_steps) < 1:
            raise ValueError(f"ConditionalGAN: d_steps must be >= 1, got {d_steps}")
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim, self.n_classes, self.d_steps = generator.latent_dim, int(n_classes), int(d_steps)
        self.lr, self.betas = float(lr), (float(betas[0]), float(betas[1]))
        self.optimizer_g = optim.Adam(generator.parameters(), lr=lr, betas=betas)
        self.optimizer_d = optim.Adam(discriminator.parameters(), lr=lr, betas=betas)
        self.g_params, self.d_params = list(generator.parameters()), list(discriminator.parameters())
        self.step = 0  # generator updates done

    def components(self) -> dict[str, Any]:
        return {
            "generator": self.generator,
            "discriminator": self.discriminator,
            "optimizer_g": self.optimizer_g,
            "optimizer_d": self.optimizer_d,
        }

    def config(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "latent_dim": self.latent_dim,
            "n_classes": self.n_classes,
            "d_steps": self.d_steps,
            "lr": self.lr,
            "betas": list(self.betas),
            "generator": describe_network(self.generator),
            "discriminator": describe_network(self.discriminator),
        }

    def random_labels(self, n: int) -> np.ndarray:
        """y~ ~ U{0..K-1}, (n,) int64, from minigan's RNG."""
        return backend.generator("cpu").integers(0, self.n_classes, n)

    def train_step(self, batch: Batch) -> dict[str, float]:
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise TypeError(
                "ConditionalGAN.train_step needs labelled batches (x, y), as DataLoader(x, y) yields "
                f"them; got {type(batch).__name__}"
            )
        real, labels = batch
        real, labels = as_tensor(real), _labels(labels)
        n, device = real.shape[0], real.device
        for _ in range(self.d_steps):
            # (1) D ascends  log D(x | y) + log(1 - D(G(z | y~) | y~))  (minimises the binary cross-entropy)
            fake_labels = self.random_labels(n)
            with autograd.no_grad():
                fake = self.generator(self.noise(n, device), fake_labels)
            real_logits = self.discriminator(real, labels)
            fake_logits = self.discriminator(fake, fake_labels)
            d_loss = losses.d_loss_minimax(real_logits, fake_logits)
            check_finite(self.step + 1, d_loss=d_loss.item())
            step_parameters(d_loss, self.d_params, self.optimizer_d)
        # (2) G descends  -log D(G(z | y~) | y~)  with fresh z and y~
        fake_labels = self.random_labels(n)
        fake_logits_g = self.discriminator(self.generator(self.noise(n, device), fake_labels), fake_labels)
        g_loss = losses.g_loss_nonsaturating(fake_logits_g)
        check_finite(self.step + 1, g_loss=g_loss.item())
        step_parameters(g_loss, self.g_params, self.optimizer_g)
        self.step += 1
        return _game_metrics(d_loss, g_loss, real_logits, fake_logits)

    def generate(self, z: TensorLike, labels: ArrayLike) -> Tensor:
        """G(z, y) in eval mode (batch norm's running statistics), no graph. z (n, latent_dim), labels (n,)."""
        with eval_mode(self.generator):
            return self.generator(as_tensor(z), np.asarray(labels))

    def sample(self, n: int) -> Tensor:
        """n images (n, 1, 28, 28) in [-1, 1], labels 0, 1, ..., K-1, 0, 1, ... (one class per grid column)."""
        return self.generate(self.noise(n), np.arange(n) % self.n_classes)

    def conditional_accuracy(self, judge: LogisticRegression, per_class: int = 200, seed: int = 1) -> dict[str, Any]:
        """Does G(z, y) draw the digit y? ``per_class`` samples of each label (z from
        ``numpy.random.default_rng(seed)``), classified by ``judge`` (a digit classifier trained on real
        digits, ``evaluate.digit_classifier``): its accuracy against y overall and per label, the samples'
        mode coverage and the judge's mean confidence."""
        from ..evaluate import judge_digits

        labels = np.repeat(np.arange(self.n_classes), per_class)
        z = np.random.default_rng(seed).normal(size=(len(labels), self.latent_dim)).astype(np.float32)
        summary, predicted, _ = judge_digits(judge, self.generate(z, labels), n_classes=self.n_classes)
        per_label = [float(np.mean(predicted[labels == c] == c)) for c in range(self.n_classes)]
        return {"accuracy": float(np.mean(predicted == labels)), "per_class": per_label, **summary}

    def evaluate(self, data: Any) -> dict[str, Any]:
        """``data``: (training digits, test digits) as ``minigan.data`` Datasets in [0, 1]. The judge (logistic
        regression) learns the training digits; returns its accuracy on G(z, y) against y, its accuracy on the
        real test digits (the ceiling it allows) and chance."""
        from ..evaluate import digit_classifier

        train, test = data
        judge = digit_classifier(train, epochs=20, seed=0)
        result = self.conditional_accuracy(judge)
        return {
            "judge_accuracy_on_G(z,y)": result["accuracy"],
            "judge_accuracy_on_real_test": judge.score(test.x, test.y),
            "chance": 1.0 / self.n_classes,
            "classes_covered": result["coverage"]["covered"],
            "mean_max_probability": result["mean_max_probability"],
        }


def _labels(labels):
    """Integer labels (N,) as a NumPy int64 array, from a Tensor or an array."""
    return np.asarray(labels.array if isinstance(labels, Tensor) else labels).astype(np.int64)


def _game_metrics(d_loss, g_loss, real_logits, fake_logits):
    """The losses, D's mean probabilities on real and fake, and its real/fake accuracy."""
    return {
        "d_loss": d_loss.item(),
        "g_loss": g_loss.item(),
        "d_real": float(F.sigmoid(real_logits).mean().item()),
        "d_fake": float(F.sigmoid(fake_logits).mean().item()),
        "d_accuracy": discriminator_accuracy(real_logits, fake_logits),
    }


# --- the command line -----------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(epochs=30, batch_size=64)
    parser.add_argument(
        "--n-train",
        type=int_in_range(10, 4000),
        default=4000,
        help="train on N // 10 digits of each class (default all 4 000, drawn with --seed)",
    )
    parser.add_argument("--width", type=int_in_range(1, 512), default=32, help="channels of D's first layer")
    parser.add_argument("--latent-dim", type=int_in_range(1, 4096), default=100)
    parser.add_argument("--d-steps", type=int_in_range(1, 100), default=2, help="D updates per G update")
    parser.add_argument("--lr", type=positive_float, default=2e-4, help="Adam's learning rate (betas 0.5, 0.999)")


def build(args: argparse.Namespace) -> tuple[Trainer, Any]:
    """The conditional DCGAN and --n-train of mnist5k's 4 000 training digits, in [-1, 1] with their labels."""
    from ..models import ConditionalDCGANDiscriminator, ConditionalDCGANGenerator

    train = data.load("mnist5k")
    rows = training_subset(train.y, args.n_train, args.seed)
    generator = ConditionalDCGANGenerator(args.latent_dim, 10, args.width).to(args.device)
    discriminator = ConditionalDCGANDiscriminator(10, args.width).to(args.device)
    trainer = ConditionalGAN(generator, discriminator, n_classes=10, d_steps=args.d_steps, lr=args.lr)
    return trainer, ((train.x[rows] * 2 - 1).astype(np.float32), train.y[rows])


def evaluation_data(args: argparse.Namespace) -> Any:
    """mnist5k's training digits (for the judge) and its 1 000 test digits."""
    return data.load("mnist5k"), data.load("mnist5k", split="test")
