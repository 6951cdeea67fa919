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

:class:`BiGAN` is the trainable (``train_step(x) -> dict``, ``state_dict``/``load_state_dict``, like
``minigan.adversarial.GAN``): one D step with the binary cross-entropy on logits (real pair label 1, fake
pair 0), then one joint step of E and G with the labels inverted (the non-saturating form of the game, as
the paper's code does), Adam(2e-4, betas (0.5, 0.999)) for both.
"""
from __future__ import annotations

import numpy as np

from .. import autograd, losses, nn, optim
from .. import functional as F
from ..adversarial import discriminator_accuracy, step_parameters
from ..tensor import Tensor, randn

__all__ = ["BiGANEncoder", "BiGANGenerator", "BiGANDiscriminator", "BiGAN"]


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

    def __init__(self, latent_dim=50, hidden=512, data_dim=784):
        super().__init__()
        self.latent_dim, self.data_dim = int(latent_dim), int(data_dim)
        self.net = _mlp((data_dim, hidden, hidden, latent_dim))       # (N, hidden) x2 -> (N, D)

    def forward(self, x):
        return self.net(_flat(x, self.data_dim))                       # (N, D)


class BiGANGenerator(nn.Module):
    """G: z (N, latent_dim) -> x (N, 784) in [-1, 1]."""

    def __init__(self, latent_dim=50, hidden=512, data_dim=784):
        super().__init__()
        self.latent_dim, self.data_dim = int(latent_dim), int(data_dim)
        self.net = nn.Sequential(_mlp((latent_dim, hidden, hidden, data_dim)), nn.Tanh())   # (N, 784)

    def forward(self, z):
        if not isinstance(z, Tensor):
            z = Tensor(np.asarray(z, dtype=np.float32))
        return self.net(z)                                             # (N, data_dim)


class BiGANDiscriminator(nn.Module):
    """D: (x (N, 784), z (N, D)) -> logit (N,) of "this pair is (x, E(x)) with x real"."""

    def __init__(self, latent_dim=50, hidden=512, data_dim=784, dropout=0.0):
        super().__init__()
        self.latent_dim, self.data_dim = int(latent_dim), int(data_dim)
        layers = [nn.Linear(data_dim + latent_dim, hidden), nn.LeakyReLU(0.2)]      # (N, hidden)
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers += [nn.Linear(hidden, hidden), nn.LeakyReLU(0.2)]                    # (N, hidden)
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(hidden, 1))                                         # (N, 1)
        self.net = nn.Sequential(*layers)

    def forward(self, x, z):
        pair = F.cat([_flat(x, self.data_dim), z], 1)                  # (N, 784 + D)
        return self.net(pair).reshape(-1)                              # (N,)


class BiGAN:
    """The BiGAN game as a trainable (see the module docstring).

    ``train_step(x)``, x (N, 784) or (N, 1, 28, 28) in [-1, 1]:

        (1) D:     min  -E log D(x, E(x)) - E log(1 - D(G(z), z))     = losses.d_loss_minimax(real, fake)
        (2) E, G:  min  -E log(1 - D(x, E(x))) - E log D(G(z), z)     labels inverted (non-saturating)

    Metrics: d_loss, eg_loss, D's mean probabilities on the real and fake pairs, its accuracy.
    """

    progress_fields = {"D": "d_loss", "EG": "eg_loss", "acc": "d_accuracy"}

    def __init__(self, encoder, generator, discriminator, lr=2e-4, betas=(0.5, 0.999), lr_d=None):
        self.encoder, self.generator, self.discriminator = encoder, generator, discriminator
        self.latent_dim = generator.latent_dim
        self.eg_params = list(encoder.parameters()) + list(generator.parameters())
        self.d_params = list(discriminator.parameters())
        self.optimizer_eg = optim.Adam(self.eg_params, lr=lr, betas=betas)
        self.optimizer_d = optim.Adam(self.d_params, lr=lr if lr_d is None else lr_d, betas=betas)
        self.step = 0

    def noise(self, n):
        return randn(n, self.latent_dim)

    def losses(self, x, z):
        """(d_loss, eg_loss, real_logits, fake_logits) on the pairs (x, E(x)) and (G(z), z), with a graph."""
        real_logits = self.discriminator(x, self.encoder(x))
        fake_logits = self.discriminator(self.generator(z), z)
        return (losses.d_loss_minimax(real_logits, fake_logits), losses.d_loss_minimax(fake_logits, real_logits),
                real_logits, fake_logits)

    def train_step(self, x):
        x = _flat(x, self.generator.data_dim)                          # (N, 784)
        n = x.shape[0]
        z = self.noise(n)                                              # (N, D)
        with autograd.no_grad():                                       # (1) D on fixed E(x), G(z)
            ex, gz = self.encoder(x), self.generator(z)
        real_logits, fake_logits = self.discriminator(x, ex), self.discriminator(gz, z)
        d_loss = losses.d_loss_minimax(real_logits, fake_logits)
        _check(self.step + 1, d_loss=d_loss.item())
        step_parameters(d_loss, self.d_params, self.optimizer_d)
        z = self.noise(n)                                              # (2) E and G with inverted labels
        _, eg_loss, _, _ = self.losses(x, z)
        _check(self.step + 1, eg_loss=eg_loss.item())
        step_parameters(eg_loss, self.eg_params, self.optimizer_eg)
        self.step += 1
        return {"d_loss": d_loss.item(), "eg_loss": eg_loss.item(),
                "d_real": float(F.sigmoid(real_logits).mean().item()),
                "d_fake": float(F.sigmoid(fake_logits).mean().item()),
                "d_accuracy": discriminator_accuracy(real_logits, fake_logits)}

    # --- no-graph conveniences (NumPy in, NumPy out) ----------------------------------------------------

    def encode(self, x, batch_size=500):
        """E(x): x (N, ...) in [-1, 1] -> z (N, D) NumPy array."""
        out = []
        with autograd.no_grad():
            for start in range(0, len(x), batch_size):
                out.append(self.encoder(np.asarray(x[start:start + batch_size], dtype=np.float32)).numpy())
        return np.concatenate(out)

    def decode(self, z):
        """G(z): z (N, D) -> images (N, 1, 28, 28) NumPy array in [-1, 1]."""
        with autograd.no_grad():
            x = self.generator(np.asarray(z, dtype=np.float32)).numpy()
        return x.reshape(len(x), 1, 28, 28)

    def reconstruct(self, x):
        """G(E(x)) (N, 1, 28, 28) in [-1, 1]."""
        return self.decode(self.encode(x))

    def sample(self, z):
        return self.decode(z.numpy() if isinstance(z, Tensor) else z)

    def state_dict(self):
        return {"encoder": self.encoder.state_dict(), "generator": self.generator.state_dict(),
                "discriminator": self.discriminator.state_dict(), "optimizer_eg": self.optimizer_eg.state_dict(),
                "optimizer_d": self.optimizer_d.state_dict(), "step": self.step}

    def load_state_dict(self, state):
        self.encoder.load_state_dict(state["encoder"])
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.optimizer_eg.load_state_dict(state["optimizer_eg"])
        self.optimizer_d.load_state_dict(state["optimizer_d"])
        self.step = int(state["step"])


def _check(step, **values):
    from ..training import check_finite
    check_finite(step, **values)

