"""BiGAN (Donahue, Kraehenbuehl & Darrell, "Adversarial Feature Learning", ICLR 2017, arXiv:1605.09782; the
same model is ALI, Dumoulin et al. 2017): a GAN that also learns the inverse map E: x -> z, on the MLPs of
``minigan.models.bigan``, mnist5k by default.

    minigan train bigan --out runs/bigan      # 4 000 digits in [-1, 1], 300 epochs of batch 100
    minigan evaluate --run runs/bigan         # G(E(x)) judged as x's digit; a linear probe on E(x)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import autograd, data, losses, optim
from .. import functional as F
from ..argtypes import int_in_range, positive_float, probability
from ..data.splits import training_subset
from ..evaluate import discriminator_accuracy
from ..tensor import Tensor
from .base import Trainer, as_tensor, check_finite, describe_network, step_parameters

if TYPE_CHECKING:
    import argparse

    from ..nn import Module
    from ..typing import TensorLike

__all__ = ["BiGAN", "add_arguments", "build", "evaluation_data"]


class BiGAN(Trainer):
    """The BiGAN game (Donahue et al., 2017, eq. 3): D tells the pair (x, E(x)), x ~ data, from (G(z), z),
    z ~ N(0, I),

        min_{G,E} max_D  E_x log D(x, E(x)) + E_z log(1 - D(G(z), z)).

    One ``train_step(x)``, x (N, 784) or (N, 1, 28, 28) in [-1, 1]:

        (1) D:     min  -log D(x, E(x)) - log(1 - D(G(z), z))        on E(x), G(z) computed without a graph
        (2) E, G:  min  -log(1 - D(x, E(x))) - log D(G(z), z)        the labels inverted (non-saturating, as
                                                                     the paper's code), fresh z, one joint step

    Adam(2e-4, betas (0.5, 0.999)) for D and for (E, G) together.
    """

    family = "bigan"
    progress_fields = {"D": "d_loss", "EG": "eg_loss", "acc": "d_accuracy"}
    sample_range = (-1.0, 1.0)

    def __init__(
        self,
        encoder: Module,
        generator: Module,
        discriminator: Module,
        lr: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        lr_d: float | None = None,
    ) -> None:
        self.encoder, self.generator, self.discriminator = encoder, generator, discriminator
        self.latent_dim = generator.latent_dim
        self.lr, self.lr_d = float(lr), float(lr if lr_d is None else lr_d)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eg_params = list(encoder.parameters()) + list(generator.parameters())
        self.d_params = list(discriminator.parameters())
        self.optimizer_eg = optim.Adam(self.eg_params, lr=self.lr, betas=betas)
        self.optimizer_d = optim.Adam(self.d_params, lr=self.lr_d, betas=betas)
        self.step = 0

    def components(self) -> dict[str, Any]:
        return {
            "encoder": self.encoder,
            "generator": self.generator,
            "discriminator": self.discriminator,
            "optimizer_eg": self.optimizer_eg,
            "optimizer_d": self.optimizer_d,
        }

    def config(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "latent_dim": self.latent_dim,
            "lr": self.lr,
            "lr_d": self.lr_d,
            "betas": list(self.betas),
            "encoder": describe_network(self.encoder),
            "generator": describe_network(self.generator),
            "discriminator": describe_network(self.discriminator),
        }

    def losses(self, x: Tensor, z: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(d_loss, eg_loss, real_logits, fake_logits) on the pairs (x, E(x)) and (G(z), z), with a graph."""
        real_logits = self.discriminator(x, self.encoder(x))
        fake_logits = self.discriminator(self.generator(z), z)
        return (
            losses.d_loss_minimax(real_logits, fake_logits),
            losses.d_loss_minimax(fake_logits, real_logits),
            real_logits,
            fake_logits,
        )

    def train_step(self, x: TensorLike) -> dict[str, float]:
        x = as_tensor(x).reshape(x.shape[0], self.generator.data_dim)  # (N, 784)
        n = x.shape[0]
        # (1) D on the pairs (x, E(x)) and (G(z), z), E and G held fixed
        z = self.noise(n)
        with autograd.no_grad():
            ex, gz = self.encoder(x), self.generator(z)
        real_logits, fake_logits = self.discriminator(x, ex), self.discriminator(gz, z)
        d_loss = losses.d_loss_minimax(real_logits, fake_logits)
        check_finite(self.step + 1, d_loss=d_loss.item())
        step_parameters(d_loss, self.d_params, self.optimizer_d)
        # (2) E and G together against the updated D, labels inverted, fresh z
        eg_loss = self.losses(x, self.noise(n))[1]
        check_finite(self.step + 1, eg_loss=eg_loss.item())
        step_parameters(eg_loss, self.eg_params, self.optimizer_eg)
        self.step += 1
        return {
            "d_loss": d_loss.item(),
            "eg_loss": eg_loss.item(),
            "d_real": float(F.sigmoid(real_logits).mean().item()),
            "d_fake": float(F.sigmoid(fake_logits).mean().item()),
            "d_accuracy": discriminator_accuracy(real_logits, fake_logits),
        }

    # --- no-graph maps (NumPy in, NumPy out) ----------------------------------------------------------------

    def encode(self, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
        """E(x): x (N, ...) in [-1, 1] -> z (N, D) NumPy array."""
        with autograd.no_grad():
            return np.concatenate(
                [
                    self.encoder(np.asarray(x[start : start + batch_size], dtype=np.float32)).numpy()
                    for start in range(0, len(x), batch_size)
                ]
            )

    def decode(self, z: np.ndarray) -> np.ndarray:
        """G(z): z (N, D) -> images (N, 1, 28, 28) NumPy array in [-1, 1]."""
        with autograd.no_grad():
            x = self.generator(np.asarray(z, dtype=np.float32)).numpy()
        return x.reshape(len(x), 1, 28, 28)

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        """G(E(x)) (N, 1, 28, 28) in [-1, 1]."""
        return self.decode(self.encode(x))

    def sample(self, n: int) -> Tensor:
        """n images G(z) (n, 1, 28, 28) in [-1, 1], z from minigan's RNG."""
        return Tensor(self.decode(self.noise(n).numpy()))

    def evaluate(self, data: Any, judge_epochs: int = 30, probe_epochs: int = 30, seed: int = 0) -> dict[str, Any]:
        """``data``: (training digits, test digits) as Datasets in [0, 1]. The paper's two uses of E:

        - reconstruction: how often a digit judge (logistic regression on the real training digits) reads
          G(E(x)) as x's label, on the test digits (beside the judge on x itself);
        - a linear probe: logistic regression on the standardised E(x) of the training digits, test accuracy."""
        from ..evaluate import digit_classifier, judge_digits, linear_probe

        train, test = data
        judge = digit_classifier(train, epochs=judge_epochs, seed=seed)
        _, predicted, _ = judge_digits(judge, self.reconstruct(test.x * 2 - 1))
        return {
            "judge_agrees_on_G(E(x))": float(np.mean(predicted == test.y)),
            "judge_on_real_x": judge.score(test.x, test.y),
            "linear_probe_on_E(x)": linear_probe(
                self.encode(train.x * 2 - 1), train.y, self.encode(test.x * 2 - 1), test.y, probe_epochs, seed
            ),
        }


# --- the command line -----------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(epochs=300, batch_size=100)
    parser.add_argument(
        "--n-train",
        type=int_in_range(10, 4000),
        default=4000,
        help="train on N // 10 digits of each class (default all 4 000, drawn with --seed)",
    )
    parser.add_argument("--latent-dim", type=int_in_range(1, 4096), default=50)
    parser.add_argument("--hidden", type=int_in_range(1, 8192), default=512, help="units of every hidden layer")
    parser.add_argument("--dropout", type=probability, default=0.5, help="dropout in D's hidden layers")
    parser.add_argument("--lr", type=positive_float, default=2e-4, help="Adam's learning rate (betas 0.5, 0.999)")


def build(args: argparse.Namespace) -> tuple[Trainer, Any]:
    """The MLP BiGAN and --n-train of mnist5k's 4 000 training digits, in [-1, 1]."""
    from ..models import BiGANDiscriminator, BiGANEncoder, BiGANGenerator

    train = data.load("mnist5k")
    rows = training_subset(train.y, args.n_train, args.seed)
    encoder = BiGANEncoder(args.latent_dim, args.hidden).to(args.device)
    generator = BiGANGenerator(args.latent_dim, args.hidden).to(args.device)
    discriminator = BiGANDiscriminator(args.latent_dim, args.hidden, dropout=args.dropout).to(args.device)
    return BiGAN(encoder, generator, discriminator, lr=args.lr), (train.x[rows] * 2 - 1).astype(np.float32)


def evaluation_data(args: argparse.Namespace) -> Any:
    """mnist5k's training digits (for the judge and the probe) and its 1 000 test digits."""
    return data.load("mnist5k"), data.load("mnist5k", split="test")
