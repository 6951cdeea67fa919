"""The adversarial loop of source 004 (docs/sources.md): the GAN recipe (Goodfellow et al., "Generative
Adversarial Nets", 2014, Algorithm 1 with k = 1 and the non-saturating generator loss) written as the
source's steps, with any binary classifier as the discriminator, on the real MNIST digits of mnist5k.

    minigan train adversarial-loop --out runs/loop                            # DCGAN networks, 16 epochs
    minigan train adversarial-loop --out runs/lin --discriminator logistic --lr-d 1e-3   # a linear D
    minigan evaluate --run runs/loop           # the digit judge on 2 000 samples: classes covered

The source's step 4 -- watch what D says and what it cannot see (the classes G covers) -- is a measurement,
not part of the update: ``demos/adversarial_loop.py`` runs it as a callback of ``fit``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from .. import autograd, losses, optim
from .. import functional as F
from ..argtypes import int_in_range, open_probability, positive_float
from ..evaluate import discriminator_accuracy
from . import gan
from .base import as_tensor, check_finite, step_parameters

if TYPE_CHECKING:
    import argparse

    from ..nn import Module
    from ..tensor import Tensor
    from ..typing import Batch
    from .base import Trainer

__all__ = ["AdversarialLoop", "add_arguments", "build", "evaluation_data"]

DISCRIMINATORS = ("dcgan", "logistic")

evaluation_data = gan.evaluation_data


class AdversarialLoop(gan.GAN):
    """Source 004's recipe, one round per ``train_step(x)``: (1) generate, (2) train D on real + synthetic,
    (3) train G where D finds it weak. D is any module giving one logit per image (its output is read as
    (N,)); Adam with betas (0.5, 0.999) for both networks, ``lr`` for G and ``lr_d`` for D. Sampling and the
    digit judge (``evaluate``) are ``gan.GAN``'s."""

    family = "adversarial-loop"
    progress_fields: ClassVar[dict] = {"D": "d_loss", "G": "g_loss", "acc": "d_accuracy"}

    def __init__(
        self,
        generator: Module,
        discriminator: Module,
        latent_dim: int | None = None,
        lr: float = 2e-4,
        lr_d: float | None = None,
        betas: tuple[float, float] = (0.5, 0.999),
    ) -> None:
        super().__init__(generator, discriminator, latent_dim=latent_dim, lr=lr, betas=betas)
        self.lr_d = self.lr if lr_d is None else float(lr_d)
        self.optimizer_d = optim.Adam(discriminator.parameters(), lr=self.lr_d, betas=betas)

    def config(self) -> dict[str, Any]:
        return dict(super().config(), lr_d=self.lr_d)

    def logits(self, x: Tensor) -> Tensor:
        """D's logits as a vector (N,), whatever shape the classifier gives them in."""
        return F.reshape(self.discriminator(x), (-1,))

    def train_step(self, real: Batch) -> dict[str, float]:
        real = as_tensor(real)
        n, device = real.shape[0], real.device
        # (1) synthetic samples from the current G
        with autograd.no_grad():
            fake = self.generator(self.noise(n, device))
        # (2) D on real + synthetic: the binary cross-entropy -log D(x) - log(1 - D(G(z)))
        real_logits, fake_logits = self.logits(real), self.logits(fake)
        d_loss = losses.d_loss_minimax(real_logits, fake_logits)
        check_finite(self.step + 1, d_loss=d_loss.item())
        step_parameters(d_loss, list(self.discriminator.parameters()), self.optimizer_d)
        # (3) G where D finds it weak: -log D(G(z)) on fresh noise; only G's parameters move
        g_loss = losses.g_loss_nonsaturating(self.logits(self.generator(self.noise(n, device))))
        check_finite(self.step + 1, g_loss=g_loss.item())
        step_parameters(g_loss, list(self.generator.parameters()), self.optimizer_g)
        self.step += 1
        return {
            "d_loss": d_loss.item(),
            "g_loss": g_loss.item(),
            "d_accuracy": discriminator_accuracy(real_logits, fake_logits),
        }


# --- the command line -----------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(epochs=16, batch_size=64)  # 16 x 62 = 992 rounds, the demo's schedule
    parser.add_argument("--data", default="mnist5k", choices=["mnist5k"], help="4 000 real MNIST digits")
    parser.add_argument(
        "--n-train",
        type=int_in_range(10, 4000),
        default=4000,
        help="train on N // 10 digits of each class (default all 4 000)",
    )
    parser.add_argument("--latent-dim", type=int_in_range(1, 4096), default=100)
    parser.add_argument("--width", type=int_in_range(1, 1024), default=32, help="channels of the DCGAN networks")
    parser.add_argument(
        "--discriminator",
        choices=DISCRIMINATORS,
        default="dcgan",
        help="D: the DCGAN discriminator or logistic regression on the pixels",
    )
    parser.add_argument("--lr", type=positive_float, default=2e-4, help="Adam's learning rate for G")
    parser.add_argument("--lr-d", type=positive_float, default=None, help="Adam's learning rate for D (default --lr)")
    parser.add_argument("--beta1", type=open_probability, default=0.5, help="Adam's beta1 (beta2 0.999)")


def build(args: argparse.Namespace) -> tuple[Trainer, Any]:
    from ..models import DCGANDiscriminator, DCGANGenerator, LogisticRegression

    generator = DCGANGenerator(args.latent_dim, args.width).to(args.device)
    discriminator = (
        DCGANDiscriminator(args.width) if args.discriminator == "dcgan" else LogisticRegression(784, 1)
    ).to(args.device)
    trainer = AdversarialLoop(generator, discriminator, lr=args.lr, lr_d=args.lr_d, betas=(args.beta1, 0.999))
    return trainer, gan.mnist_images(args.n_train, args.seed)
