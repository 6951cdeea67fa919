"""BiGAN / ALI: a GAN that also learns the inverse map, an encoder E: x -> z (Donahue, Kraehenbuehl &
Darrell, "Adversarial Feature Learning", ICLR 2017, arXiv:1605.09782; the same model is ALI, Dumoulin et
al., "Adversarially Learned Inference", ICLR 2017, arXiv:1606.00704).

The discriminator sees pairs, not images: a real image with its code (x, E(x)), x ~ p_data, or a generated
image with the code that made it (G(z), z), z ~ p(z). The minimax game (Donahue et al. 2017, eq. 3)

    min_{G,E} max_D  V(D, E, G) = E_{x ~ p_data} log D(x, E(x)) + E_{z ~ p(z)} log(1 - D(G(z), z))

is at its optimum when the two joint distributions p(x) delta(z - E(x)) and p(z) delta(x - G(z)) agree, and
then E = G^-1 (their theorem 2): G(E(x)) = x without any reconstruction loss. E(x) is then a feature
vector learned without labels -- the paper's headline use is a linear classifier on it.

Networks (MLPs at the sizes of the paper's permutation-invariant MNIST model: two hidden layers, leaky ReLU
0.2; the paper's z is 50-D uniform, here p(z) = N(0, I) as in the rest of minigan)::

    BiGANEncoder        x (N, 784) -> 512 -> 512 -> z (N, D)            (linear output: z is unbounded)
    BiGANGenerator      z (N, D) -> 512 -> 512 -> x (N, 784) in [-1, 1] (tanh)
    BiGANDiscriminator  concat(x, z) (N, 784 + D) -> 512 -> 512 -> logit (N,)

Networks only: the game's update is ``minigan.trainers.bigan.BiGAN``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import functional as F
from .. import nn
from ..tensor import Tensor

if TYPE_CHECKING:
    from ..typing import TensorLike

__all__ = ["BiGANEncoder", "BiGANGenerator", "BiGANDiscriminator"]


def _flat(x, data_dim):
    if not isinstance(x, Tensor):
        x = Tensor(np.asarray(x, dtype=np.float32))
    return x.reshape(x.shape[0], data_dim)


def _mlp(sizes, slope=0.2):
    layers = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if k < len(sizes) - 2:
            layers.append(nn.LeakyReLU(slope))
    return nn.Sequential(*layers)


class BiGANEncoder(nn.Module):
    """E: x (N, 784) or (N, 1, 28, 28) in [-1, 1] -> z (N, latent_dim)."""

    def __init__(self, latent_dim: int = 50, hidden: int = 512, data_dim: int = 784) -> None:
        super().__init__()
        self.latent_dim, self.data_dim = int(latent_dim), int(data_dim)
        self.net = _mlp((data_dim, hidden, hidden, latent_dim))  # (N, hidden) x2 -> (N, D)

    def forward(self, x: TensorLike) -> Tensor:
        return self.net(_flat(x, self.data_dim))  # (N, D)


class BiGANGenerator(nn.Module):
    """G: z (N, latent_dim) -> x (N, 784) in [-1, 1]."""

    def __init__(self, latent_dim: int = 50, hidden: int = 512, data_dim: int = 784) -> None:
        super().__init__()
        self.latent_dim, self.data_dim = int(latent_dim), int(data_dim)
        self.net = nn.Sequential(_mlp((latent_dim, hidden, hidden, data_dim)), nn.Tanh())  # (N, 784)

    def forward(self, z: TensorLike) -> Tensor:
        if not isinstance(z, Tensor):
            z = Tensor(np.asarray(z, dtype=np.float32))
        return self.net(z)  # (N, data_dim)


class BiGANDiscriminator(nn.Module):
    """D: (x (N, 784), z (N, D)) -> logit (N,) of "this pair is (x, E(x)) with x real"."""

    def __init__(self, latent_dim: int = 50, hidden: int = 512, data_dim: int = 784, dropout: float = 0.0) -> None:
        super().__init__()
        self.latent_dim, self.data_dim = int(latent_dim), int(data_dim)
        layers = [nn.Linear(data_dim + latent_dim, hidden), nn.LeakyReLU(0.2)]  # (N, hidden)
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers += [nn.Linear(hidden, hidden), nn.LeakyReLU(0.2)]  # (N, hidden)
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(hidden, 1))  # (N, 1)
        self.net = nn.Sequential(*layers)

    def forward(self, x: TensorLike, z: TensorLike) -> Tensor:
        pair = F.cat([_flat(x, self.data_dim), z], 1)  # (N, 784 + D)
        return self.net(pair).reshape(-1)  # (N,)
