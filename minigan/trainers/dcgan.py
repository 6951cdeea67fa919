"""DCGAN: the GAN game on convolutional networks (Radford, Metz & Chintala, "Unsupervised Representation
Learning with Deep Convolutional Generative Adversarial Networks", ICLR 2016, arXiv:1511.06434), on the
28x28 networks of ``minigan.models.dcgan`` and the real MNIST digits of mnist5k by default.

    minigan train dcgan --out runs/dcgan         # 4 000 digits in [-1, 1], width 32, batch 64, 20 epochs
    minigan evaluate --run runs/dcgan            # the digit judge on 2 000 samples

The update is Goodfellow et al.'s Algorithm 1 with the non-saturating generator loss (``gan.GAN``); what
DCGAN adds is in the networks (strided convolutions, batch norm, ReLU/tanh in G, leaky ReLU in D) and in
the paper's section 4 settings: Adam with lr 2e-4 and beta1 0.5, batch 128 (64 here, as pytorch/examples'
MNIST variant).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..argtypes import int_in_range
from . import gan

if TYPE_CHECKING:
    import argparse

    from .base import Trainer

__all__ = ["DCGAN", "add_arguments", "build", "evaluation_data"]

evaluation_data = gan.evaluation_data


class DCGAN(gan.GAN):
    """``gan.GAN`` (Algorithm 1 of Goodfellow et al. 2014: k discriminator updates, then one generator
    update) on DCGAN networks, which take and give images (N, 1, 28, 28) directly."""

    family = "dcgan"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(epochs=20, batch_size=64)
    gan.add_adversarial_arguments(parser)
    parser.add_argument(
        "--width", type=int_in_range(1, 1024), default=32, help="channels of D's first layer and G's last hidden layer"
    )


def build(args: argparse.Namespace) -> tuple[Trainer, Any]:
    from ..models import DCGANDiscriminator, DCGANGenerator

    generator = DCGANGenerator(args.latent_dim, args.width).to(args.device)
    discriminator = DCGANDiscriminator(args.width).to(args.device)
    trainer = DCGAN(
        generator,
        discriminator,
        d_steps=args.d_steps,
        generator_loss=args.generator_loss,
        lr=args.lr,
        betas=(args.beta1, 0.999),
    )
    return trainer, gan.mnist_images(args.n_train, args.seed)
