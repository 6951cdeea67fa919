"""DCGAN for 28x28 single-channel images (MNIST), after Radford, Metz & Chintala, "Unsupervised
Representation Learning with Deep Convolutional Generative Adversarial Networks" (ICLR 2016), at the sizes
of pytorch/examples' MNIST variants and of source 003's conditional DCGAN:

    generator      z (N, 100) -> linear -> (N, 128, 7, 7) -> BN, relu
                   -> conv_transpose 128->64, k4 s2 p1 -> (N, 64, 14, 14) -> BN, relu
                   -> conv_transpose 64->1,  k4 s2 p1 -> (N, 1, 28, 28) -> tanh
    discriminator  x (N, 1, 28, 28) -> conv 1->64, k4 s2 p1 -> (N, 64, 14, 14) -> leaky relu 0.2
                   -> conv 64->128, k4 s2 p1 -> (N, 128, 7, 7) -> [BN] -> leaky relu 0.2
                   -> linear 128*7*7 -> 1 logit (N,)

The DCGAN guidelines: strided convolutions instead of pooling, batch norm in both networks (not on G's
output nor D's input), ReLU in G with tanh at the output, leaky ReLU (slope 0.2) in D. ``batch_norm=False``
gives the critic that WGAN-GP needs (the gradient penalty is per sample; batch norm would couple samples).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import nn

if TYPE_CHECKING:
    from ..tensor import Tensor
    from ..typing import TensorLike

__all__ = ["DCGANGenerator", "DCGANDiscriminator"]


class DCGANGenerator(nn.Module):
    """z (N, latent_dim) -> images (N, 1, 28, 28) in [-1, 1]."""

    def __init__(self, latent_dim: int = 100, width: int = 64) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 2 * width * 7 * 7),  # (N, 2w*49)
            nn.Unflatten(1, (2 * width, 7, 7)),  # (N, 2w, 7, 7)
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1),  # (N, w, 14, 14)
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1),  # (N, 1, 28, 28)
            nn.Tanh(),
        )

    def forward(self, z: TensorLike) -> Tensor:
        return self.net(z)


class DCGANDiscriminator(nn.Module):
    """images (N, 1, 28, 28) -> logits (N,) (or critic scores, without batch norm)."""

    def __init__(self, width: int = 64, batch_norm: bool = True) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, stride=2, padding=1),  # (N, w, 14, 14)
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),  # (N, 2w, 7, 7)
            nn.BatchNorm2d(2 * width) if batch_norm else nn.Identity(),
            nn.LeakyReLU(0.2),
            nn.Flatten(),  # (N, 2w*49)
            nn.Linear(2 * width * 7 * 7, 1),  # (N, 1)
        )

    def forward(self, x: TensorLike) -> Tensor:
        return self.net(x).reshape(-1)  # (N,)
