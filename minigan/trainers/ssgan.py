"""Semi-supervised GAN (Salimans et al., "Improved Techniques for Training GANs", 2016, arXiv:1606.03498,
sections 3.1 and 5; source 003's "K+1 classes"): a K-logit classifier learns from a few labelled digits, all
the unlabelled ones and the generator's fakes (``minigan.models.SSGANDiscriminator``), mnist5k by default.

    minigan train ssgan --out runs/ssgan      # 100 labels (10 per digit) + 4 000 unlabelled digits, 30 epochs
    minigan evaluate --run runs/ssgan         # the classifier's accuracy on mnist5k's 1 000 test digits
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import autograd, backend, data, losses, optim
from .. import functional as F
from ..argtypes import int_in_range, non_negative_float, positive_float, positive_int
from ..data.splits import stratified, training_subset
from ..tensor import Tensor, randn
from .base import Trainer, as_tensor, check_finite, describe_network, eval_mode, step_parameters

if TYPE_CHECKING:
    import argparse

    from ..data import Dataset
    from ..nn import Module
    from ..typing import Batch

__all__ = [
    "SemiSupervisedGAN",
    "GENERATOR_LOSSES",
    "classification_accuracy",
    "add_arguments",
    "build",
    "evaluation_data",
]

GENERATOR_LOSSES = ("feature_matching", "nonsaturating")


class SemiSupervisedGAN(Trainer):
    """A GAN whose discriminator is a classifier of K real classes and a fake one (Salimans et al., 2016,
    section 5). D has K logits l_k; the fake class's logit is fixed at 0, so D(x) = sigmoid(logsumexp_k l_k).

        (1) D:  min  L_supervised + w L_unsupervised                          ``losses.ssgan_discriminator_loss``
                L_supervised   = -E_{(x,y) labelled} log p(y | x, y <= K)      (cross-entropy over the K logits)
                L_unsupervised = -E_x log D(x) - E_z log(1 - D(G(z)))         (x: the unlabelled batch)
        (2) G:  min  || E_x f(x) - E_z f(G(z)) ||^2   feature matching on D's intermediate layer f
                     (section 3.1, the paper's choice for classification; ``"feature_matching"``)
                or   -E_z log D(G(z))                  (``"nonsaturating"``)

    ``train_step(x)`` takes an unlabelled real batch (the labels of the unlabelled pool are never used); the
    few labelled examples ``labelled_x`` (L, 1, 28, 28) in [-1, 1], ``labelled_y`` (L,) are part of the
    trainer, ``labelled_batch`` of them drawn with replacement from minigan's RNG at each step.
    """

    family = "ssgan"
    progress_fields = {"D": "d_loss", "sup": "supervised", "unsup": "unsupervised", "G": "g_loss"}
    sample_range = (-1.0, 1.0)

    def __init__(
        self,
        generator: Module,
        discriminator: Module,
        labelled_x: np.ndarray,
        labelled_y: np.ndarray,
        labelled_batch: int = 64,
        generator_loss: str = "feature_matching",
        unsupervised_weight: float = 1.0,
        lr: float = 2e-4,
        lr_d: float | None = None,
        betas: tuple[float, float] = (0.5, 0.999),
    ) -> None:
        if generator_loss not in GENERATOR_LOSSES:
            raise ValueError(
                f"SemiSupervisedGAN: generator_loss must be one of {GENERATOR_LOSSES}, got {generator_loss!r}"
            )
        self.labelled_x, self.labelled_y = np.asarray(labelled_x, np.float32), np.asarray(labelled_y, np.int64)
        if len(self.labelled_x) != len(self.labelled_y) or len(self.labelled_y) == 0:
            raise ValueError(
                f"SemiSupervisedGAN: {len(self.labelled_x)} labelled images and {len(self.labelled_y)} "
                "labels; they must be as many, and at least one"
            )
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim = generator.latent_dim
        self.labelled_batch, self.generator_loss = int(labelled_batch), generator_loss
        self.unsupervised_weight = float(unsupervised_weight)
        self.lr, self.lr_d = float(lr), float(lr if lr_d is None else lr_d)
        self.betas = (float(betas[0]), float(betas[1]))
        self.optimizer_g = optim.Adam(generator.parameters(), lr=self.lr, betas=betas)
        self.optimizer_d = optim.Adam(discriminator.parameters(), lr=self.lr_d, betas=betas)
        self.g_params, self.d_params = list(generator.parameters()), list(discriminator.parameters())
        self.step = 0  # updates done (one of D, one of G each)

    def components(self) -> dict[str, Any]:
        return {
            "generator": self.generator,
            "discriminator": self.discriminator,
            "optimizer_g": self.optimizer_g,
            "optimizer_d": self.optimizer_d,
        }

    def config(self) -> dict[str, Any]:
        digest = hashlib.sha256(self.labelled_x.tobytes() + self.labelled_y.tobytes()).hexdigest()[:16]
        return {
            "family": self.family,
            "latent_dim": self.latent_dim,
            "labelled": len(self.labelled_y),
            "labelled_sha256": digest,
            "labelled_batch": self.labelled_batch,
            "generator_loss": self.generator_loss,
            "unsupervised_weight": self.unsupervised_weight,
            "lr": self.lr,
            "lr_d": self.lr_d,
            "betas": list(self.betas),
            "generator": describe_network(self.generator),
            "discriminator": describe_network(self.discriminator),
        }

    def train_step(self, real: Batch) -> dict[str, float]:
        if isinstance(real, (tuple, list)):
            raise TypeError(
                "SemiSupervisedGAN.train_step takes unlabelled batches x; its labelled examples are "
                "given to the trainer (labelled_x, labelled_y)"
            )
        real = as_tensor(real)
        n = real.shape[0]
        rows = backend.generator("cpu").integers(0, len(self.labelled_x), self.labelled_batch)
        # (1) D: L_supervised on a labelled batch + w L_unsupervised on the real batch and fakes G(z)
        with autograd.no_grad():
            fake = self.generator(randn(n, self.latent_dim))
        d_loss, supervised, unsupervised = losses.ssgan_discriminator_loss(
            self.discriminator(Tensor(self.labelled_x[rows])),
            self.labelled_y[rows],
            self.discriminator(real),
            self.discriminator(fake),
            self.unsupervised_weight,
        )
        check_finite(self.step + 1, d_loss=d_loss.item())
        step_parameters(d_loss, self.d_params, self.optimizer_d)
        # (2) G: match the mean of D's features on real data, or fool D, with fresh z
        fake = self.generator(randn(n, self.latent_dim))
        if self.generator_loss == "feature_matching":
            with autograd.no_grad():
                real_features = self.discriminator.features(real)
            g_loss = losses.feature_matching_loss(real_features, self.discriminator.features(fake))
        else:
            g_loss = losses.g_loss_nonsaturating(F.logsumexp(self.discriminator(fake), 1))
        check_finite(self.step + 1, g_loss=g_loss.item())
        step_parameters(g_loss, self.g_params, self.optimizer_g)
        self.step += 1
        return {
            "d_loss": d_loss.item(),
            "supervised": supervised.item(),
            "unsupervised": unsupervised.item(),
            "g_loss": g_loss.item(),
        }

    def classify(self, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
        """p(y | x, real) (N, K) as a NumPy array, D in eval mode."""
        with eval_mode(self.discriminator):
            return np.concatenate(
                [
                    F.softmax(self.discriminator(as_tensor(x[i : i + batch_size])), 1).numpy()
                    for i in range(0, len(x), batch_size)
                ]
            )

    def sample(self, n: int) -> Tensor:
        """n images G(z) (n, 1, 28, 28) in [-1, 1], G in eval mode, z from minigan's RNG."""
        with eval_mode(self.generator):
            return self.generator(randn(n, self.latent_dim))

    def evaluate(self, data: Any) -> dict[str, Any]:
        """``data``: labelled test digits, a Dataset in [0, 1] (or an (x, y) pair). The classifier's accuracy."""
        return classification_accuracy(self.discriminator, data)


def classification_accuracy(
    network: Module, data: Dataset | tuple[np.ndarray, np.ndarray], batch_size: int = 500
) -> dict[str, float]:
    """Accuracy of a K-logit classifier (argmax_k l_k(x), in eval mode: no dropout) on labelled digits
    ``data`` (a Dataset or an (x, y) pair, images in [0, 1], mapped to the networks' [-1, 1]), and chance."""
    x, y = (data.x, data.y) if hasattr(data, "x") else data
    x = (np.asarray(x) * 2 - 1).astype(np.float32)
    with eval_mode(network):
        predicted = np.concatenate(
            [network(as_tensor(x[i : i + batch_size])).numpy().argmax(1) for i in range(0, len(x), batch_size)]
        )
    return {"test_accuracy": float(np.mean(predicted == y)), "chance": 1.0 / int(np.max(y) + 1)}


# --- the command line -----------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(epochs=30, batch_size=64)
    parser.add_argument(
        "--n-train",
        type=int_in_range(10, 4000),
        default=4000,
        help="train on N // 10 digits of each class (default all 4 000, drawn with --seed)",
    )
    parser.add_argument(
        "--labels",
        type=int_in_range(10, 4000),
        default=100,
        help="labelled training digits, as many of each class (drawn with --seed)",
    )
    parser.add_argument("--labelled-batch", type=positive_int, default=64, help="labelled examples per step")
    parser.add_argument("--generator-loss", choices=GENERATOR_LOSSES, default="feature_matching")
    parser.add_argument("--unsupervised-weight", type=non_negative_float, default=1.0)
    parser.add_argument("--width", type=int_in_range(1, 512), default=32, help="channels of D's first layer")
    parser.add_argument("--hidden", type=int_in_range(1, 4096), default=256, help="units of D's last hidden layer")
    parser.add_argument("--latent-dim", type=int_in_range(1, 4096), default=100)
    parser.add_argument("--lr", type=positive_float, default=2e-4, help="Adam's learning rate (betas 0.5, 0.999)")


def build(args: argparse.Namespace) -> tuple[Trainer, Any]:
    """DCGAN's generator, the K+1-class discriminator, ``--labels`` labelled digits (stratified, drawn with
    ``--seed`` from all 4 000) and --n-train training digits, in [-1, 1], as the unlabelled data."""
    from ..models import DCGANGenerator, SSGANDiscriminator

    train = data.load("mnist5k")
    rows = training_subset(train.y, args.n_train, args.seed)
    x = (train.x * 2 - 1).astype(np.float32)
    labelled = stratified(train.y, args.labels, args.seed)
    generator = DCGANGenerator(args.latent_dim, args.width).to(args.device)
    discriminator = SSGANDiscriminator(10, args.width, args.hidden, 0.3).to(args.device)
    trainer = SemiSupervisedGAN(
        generator,
        discriminator,
        x[labelled],
        train.y[labelled],
        labelled_batch=args.labelled_batch,
        generator_loss=args.generator_loss,
        unsupervised_weight=args.unsupervised_weight,
        lr=args.lr,
    )
    return trainer, x[rows]


def evaluation_data(args: argparse.Namespace) -> Any:
    """mnist5k's 1 000 labelled test digits."""
    return data.load("mnist5k", split="test")
