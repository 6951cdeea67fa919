"""Three DCGAN variants for 28x28 MNIST (sources 002 and 003): networks only; their losses are in
``minigan.losses``, their updates in ``minigan.trainers.conditional``, ``infogan`` and ``ssgan``.

Conditional DCGAN (Mirza & Osindero, 2014; source 003's Theano code, after Radford et al.'s MNIST model):
the one-hot label y is concatenated to the noise, and as constant feature maps ("conv_cond_concat") to
the discriminator's input and hidden maps and to the generator's hidden maps:

    generator      [z, y] (N, 100+10) -> linear -> (N, 2w, 7, 7) -> BN, relu -> ++y (N, 2w+10, 7, 7)
                   -> conv_transpose k4 s2 p1 -> (N, w, 14, 14) -> BN, relu -> ++y (N, w+10, 14, 14)
                   -> conv_transpose k4 s2 p1 -> (N, 1, 28, 28) -> tanh
    discriminator  x ++y (N, 1+10, 28, 28) -> conv k4 s2 p1 -> (N, w, 14, 14) -> lrelu 0.2 -> ++y
                   -> conv k4 s2 p1 -> (N, 2w, 7, 7) -> BN -> lrelu 0.2 -> flatten ++y (N, 2w*49+10)
                   -> linear -> 1 logit (N,)

InfoGAN (Chen et al., 2016, appendix C.1 for MNIST): G takes z (62) ++ a 10-way categorical code (one-hot)
++ 2 continuous codes U(-1, 1); the discriminator and the auxiliary network Q share a convolutional body:

    body   x (N, 1, 28, 28) -> conv k4 s2 p1 -> (N, w, 14, 14) -> lrelu -> conv k4 s2 p1 -> (N, 2w, 7, 7)
           -> BN -> lrelu -> flatten -> linear -> (N, hidden) -> BN -> lrelu
    D head linear -> 1 logit (N,)
    Q head linear -> (N, 128) -> BN -> lrelu -> linear -> categorical logits (N, 10), continuous mean (N, 2)
           and log-variance (N, 2) of Q(c | x)

Semi-supervised GAN (Salimans et al., 2016, section 5; source 003's "K+1 classes"): a classifier with K
logits l_1..l_K; the fake class K+1 has the fixed logit 0, so

    p(y = k | x) = exp(l_k) / (Z(x) + 1),   p(fake | x) = 1 / (Z(x) + 1),   Z(x) = sum_k exp(l_k),
    D(x) = p(real | x) = Z / (Z + 1) = sigmoid(logsumexp_k l_k).

Fixing one logit loses nothing (softmax is invariant to a common shift), and the K logits classify the
real classes directly. The body is DCGAN's discriminator without batch norm (real, fake and labelled
batches would have different statistics), with dropout; ``features`` gives the penultimate activations
for feature matching.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import functional as F
from .. import nn
from ..tensor import Tensor

if TYPE_CHECKING:
    from ..typing import TensorLike

__all__ = [
    "label_maps",
    "ConditionalDCGANGenerator",
    "ConditionalDCGANDiscriminator",
    "InfoGANGenerator",
    "InfoGANDiscriminator",
    "SSGANDiscriminator",
]


def label_maps(one_hot, height, width):
    """One-hot rows (N, K) -> constant feature maps (N, K, H, W): map k is all ones where y = k (source 003's
    ``conv_cond_concat``). A Tensor input keeps its graph (broadcast_to is differentiable)."""
    one_hot = one_hot if isinstance(one_hot, Tensor) else Tensor(one_hot)
    n, k = one_hot.shape
    return F.reshape(one_hot, (n, k, 1, 1)).broadcast_to((n, k, height, width))


def _one_hot(labels, n_classes, like):
    """Integer labels (N,) (array or Tensor) or one-hot rows (N, K) -> a one-hot Tensor of ``like``'s dtype."""
    data = labels.array if isinstance(labels, Tensor) else labels
    if getattr(data, "ndim", 1) == 2:
        return Tensor(like.xp.asarray(data, dtype=like.dtype))
    return Tensor(F.one_hot(like.xp.asarray(data).astype("int64"), n_classes).array.astype(like.dtype))


class ConditionalDCGANGenerator(nn.Module):
    """(z (N, latent_dim), labels (N,) or one-hot (N, K)) -> images (N, 1, 28, 28) in [-1, 1]."""

    def __init__(self, latent_dim: int = 100, n_classes: int = 10, width: int = 64) -> None:
        super().__init__()
        self.latent_dim, self.n_classes, self.width = latent_dim, n_classes, width
        self.project = nn.Linear(latent_dim + n_classes, 2 * width * 7 * 7)  # (N, 2w*49)
        self.bn0 = nn.BatchNorm2d(2 * width)
        self.deconv1 = nn.ConvTranspose2d(2 * width + n_classes, width, 4, stride=2, padding=1)  # (N, w, 14, 14)
        self.bn1 = nn.BatchNorm2d(width)
        self.deconv2 = nn.ConvTranspose2d(width + n_classes, 1, 4, stride=2, padding=1)  # (N, 1, 28, 28)

    def forward(self, z: TensorLike, labels: TensorLike) -> Tensor:
        y = _one_hot(labels, self.n_classes, z)  # (N, K)
        h = self.project(F.cat([z, y], 1))  # (N, 2w*49)
        h = F.relu(self.bn0(F.reshape(h, (z.shape[0], 2 * self.width, 7, 7))))  # (N, 2w, 7, 7)
        h = F.relu(self.bn1(self.deconv1(F.cat([h, label_maps(y, 7, 7)], 1))))  # (N, w, 14, 14)
        return F.tanh(self.deconv2(F.cat([h, label_maps(y, 14, 14)], 1)))  # (N, 1, 28, 28)


class ConditionalDCGANDiscriminator(nn.Module):
    """(images (N, 1, 28, 28), labels) -> logits (N,) of "real and of this class"."""

    def __init__(self, n_classes: int = 10, width: int = 64) -> None:
        super().__init__()
        self.n_classes, self.width = n_classes, width
        self.conv1 = nn.Conv2d(1 + n_classes, width, 4, stride=2, padding=1)  # (N, w, 14, 14)
        self.conv2 = nn.Conv2d(width + n_classes, 2 * width, 4, stride=2, padding=1)  # (N, 2w, 7, 7)
        self.bn2 = nn.BatchNorm2d(2 * width)
        self.head = nn.Linear(2 * width * 7 * 7 + n_classes, 1)  # (N, 1)

    def forward(self, x: TensorLike, labels: TensorLike) -> Tensor:
        y = _one_hot(labels, self.n_classes, x)  # (N, K)
        h = F.leaky_relu(self.conv1(F.cat([x, label_maps(y, 28, 28)], 1)), 0.2)  # (N, w, 14, 14)
        h = F.leaky_relu(self.bn2(self.conv2(F.cat([h, label_maps(y, 14, 14)], 1))), 0.2)  # (N, 2w, 7, 7)
        h = F.cat([F.flatten(h, 1), y], 1)  # (N, 2w*49+K)
        return F.reshape(self.head(h), (x.shape[0],))  # (N,)


class InfoGANGenerator(nn.Module):
    """(z (N, noise_dim), categorical code (N,) or one-hot (N, K), continuous codes (N, n_continuous))
    -> images (N, 1, 28, 28); the codes are simply concatenated to z (Chen et al., 2016)."""

    def __init__(self, noise_dim: int = 62, n_categories: int = 10, n_continuous: int = 2, width: int = 64) -> None:
        super().__init__()
        from .dcgan import DCGANGenerator

        self.noise_dim, self.n_categories, self.n_continuous = noise_dim, n_categories, n_continuous
        self.latent_dim = noise_dim + n_categories + n_continuous
        self.net = DCGANGenerator(self.latent_dim, width)  # (N, 1, 28, 28)

    def forward(self, z: TensorLike, categorical: TensorLike, continuous: TensorLike) -> Tensor:
        parts = [z]
        if self.n_categories:
            parts.append(_one_hot(categorical, self.n_categories, z))  # (N, K)
        if self.n_continuous:
            parts.append(continuous if isinstance(continuous, Tensor) else Tensor(continuous))  # (N, C)
        return self.net(F.cat(parts, 1))


class InfoGANDiscriminator(nn.Module):
    """images (N, 1, 28, 28) -> logits (N,); ``with_q(x)`` -> (logits (N,), categorical logits (N, K),
    continuous mean (N, C), continuous log-variance (N, C)) from the shared body."""

    def __init__(self, n_categories: int = 10, n_continuous: int = 2, width: int = 64, hidden: int = 256) -> None:
        super().__init__()
        self.n_categories, self.n_continuous = n_categories, n_continuous
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),  # (N, w, 14, 14)
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),  # (N, 2w, 7, 7)
            nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(0.2),
            nn.Flatten(),  # (N, 2w*49)
            nn.Linear(2 * width * 7 * 7, hidden),
            nn.BatchNorm1d(hidden),
            nn.LeakyReLU(0.2),  # (N, hidden)
        )
        self.d_head = nn.Linear(hidden, 1)  # (N, 1)
        self.q_head = nn.Sequential(
            nn.Linear(hidden, 128),
            nn.BatchNorm1d(128),
            nn.LeakyReLU(0.2),  # (N, 128)
            nn.Linear(128, n_categories + 2 * n_continuous),  # (N, K + 2C)
        )

    def forward(self, x: TensorLike) -> Tensor:
        return F.reshape(self.d_head(self.body(x)), (x.shape[0],))  # (N,)

    def with_q(self, x: TensorLike) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        h = self.body(x)  # (N, hidden)
        q = self.q_head(h)  # (N, K + 2C)
        k, c = self.n_categories, self.n_continuous
        return (F.reshape(self.d_head(h), (x.shape[0],)), q[:, :k], q[:, k : k + c], q[:, k + c : k + 2 * c])


class SSGANDiscriminator(nn.Module):
    """images (N, 1, 28, 28) -> class logits (N, K) (the fake class's logit is the constant 0);
    ``features(x)`` -> the penultimate activations (N, hidden) for feature matching."""

    def __init__(self, n_classes: int = 10, width: int = 64, hidden: int = 256, dropout: float = 0.3) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.body = nn.Sequential(
            nn.Dropout(dropout * 0.5),  # input dropout
            nn.Conv2d(1, width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),  # (N, w, 14, 14)
            nn.Dropout(dropout),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),  # (N, 2w, 7, 7)
            nn.Dropout(dropout),
            nn.Flatten(),  # (N, 2w*49)
            nn.Linear(2 * width * 7 * 7, hidden),
            nn.LeakyReLU(0.2),  # (N, hidden)
        )
        self.head = nn.Linear(hidden, n_classes)  # (N, K)

    def features(self, x: TensorLike) -> Tensor:
        return self.body(x)

    def forward(self, x: TensorLike) -> Tensor:
        return self.head(self.body(x))
