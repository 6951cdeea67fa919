"""The original GAN's fully connected networks (Goodfellow et al., 2014), at the sizes used for MNIST:

generator      z (N, 100) -> 256 -> 256 -> 784, leaky relu 0.2 between layers, tanh at the output
discriminator  x (N, 784) -> 256 -> 256 -> 1 logit, leaky relu 0.2 between layers
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import nn

if TYPE_CHECKING:
    from ..tensor import Tensor
    from ..typing import TensorLike

__all__ = ["MLPGenerator", "MLPDiscriminator"]


class MLPGenerator(nn.Module):
    """z (N, latent_dim) -> x (N, data_dim) in [-1, 1]."""

    def __init__(self, latent_dim: int = 100, hidden: int = 256, data_dim: int = 784) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.LeakyReLU(0.2),  # (N, hidden)
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),  # (N, hidden)
            nn.Linear(hidden, data_dim),
            nn.Tanh(),  # (N, data_dim)
        )

    def forward(self, z: TensorLike) -> Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """x (N, data_dim) -> logits (N,)."""

    def __init__(self, hidden: int = 256, data_dim: int = 784) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(data_dim, hidden),
            nn.LeakyReLU(0.2),  # (N, hidden)
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),  # (N, hidden)
            nn.Linear(hidden, 1),  # (N, 1)
        )

    def forward(self, x: TensorLike) -> Tensor:
        return self.net(x).reshape(-1)  # (N,)
