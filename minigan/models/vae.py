"""The variational autoencoder of Kingma & Welling (2014), as fully connected networks for MNIST.

Generative model and approximate posterior:

    p(z) = N(0, I),        p_theta(x | z) = prod_i Bernoulli(x_i; sigmoid(l_i(z)))       decoder, logits l
    q_phi(z | x) = N(z; mu(x), diag(exp(logvar(x))))                                       encoder

Training maximises the evidence lower bound (ELBO) of every image,

    log p(x) >= E_{q(z|x)} log p(x | z) - KL(q(z | x) || p(z))                             (K&W 2014, eq. 3)

with one sample of the reparameterization trick  z = mu + exp(logvar / 2) * eps,  eps ~ N(0, I)  (K&W
2014, section 2.4): the noise is an input, so the gradient flows through mu and logvar. The KL term has
the closed form ``F.kl_normal`` (K&W 2014, appendix B); the loss is ``minigan.losses.vae_loss``.

Sizes (pytorch/examples ``vae/main.py`` uses 784-400-20 with ReLU; K&W 2014 used 500 tanh units)::

    encoder   x (N, 784) -> 400 relu -> mu (N, latent_dim), logvar (N, latent_dim)
    decoder   z (N, latent_dim) -> 400 relu -> logits (N, 784)

``hidden`` may be a tuple for deeper MLPs (a 2-D latent benefits from two hidden layers).

Reference: Kingma & Welling, Auto-Encoding Variational Bayes, ICLR 2014 (arXiv:1312.6114).
"""
from __future__ import annotations

import math

from .. import autograd, backend, nn
from ..tensor import Tensor

__all__ = ["VAE"]


def _mlp(sizes):
    """Linear layers with ReLU between them (none after the last), as one Sequential."""
    layers = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if k < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class VAE(nn.Module):
    """MLP VAE with a diagonal Gaussian encoder and a Bernoulli decoder.

    data_shape: the shape of one example, e.g. (1, 28, 28); inputs may come as (N, *data_shape) or
    (N, prod(data_shape)). latent_dim: D. hidden: an int or a tuple of hidden widths (the decoder mirrors
    the encoder)."""

    def __init__(self, latent_dim=20, hidden=400, data_shape=(1, 28, 28)):
        super().__init__()
        hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
        self.latent_dim = int(latent_dim)
        self.hidden = hidden
        self.data_shape = tuple(data_shape)
        self.data_dim = math.prod(self.data_shape)
        self.encoder = _mlp((self.data_dim,) + hidden)                               # (N, hidden[-1])
        self.encoder_act = nn.ReLU()
        self.fc_mu = nn.Linear(hidden[-1], self.latent_dim)                          # (N, D)
        self.fc_logvar = nn.Linear(hidden[-1], self.latent_dim)                      # (N, D)
        self.decoder = nn.Sequential(
            nn.Linear(self.latent_dim, hidden[-1]), nn.ReLU(),                       # (N, hidden[-1])
            _mlp(hidden[::-1] + (self.data_dim,)),                                   # (N, data_dim) logits
        )

    def encode(self, x):
        """q(z | x): x (N, *data_shape) or (N, data_dim) -> mu (N, D), logvar (N, D)."""
        if not isinstance(x, Tensor):
            x = Tensor(x)
        h = self.encoder_act(self.encoder(x.reshape(x.shape[0], self.data_dim)))   # (N, hidden[-1])
        return self.fc_mu(h), self.fc_logvar(h)

    def reparameterize(self, mu, logvar, eps=None):
        """z = mu + exp(logvar / 2) * eps with eps ~ N(0, I) from the device's generator (seeded by
        ``minigan.manual_seed``). ``eps`` (N, D) may be given, e.g. to make a gradient check deterministic."""
        if eps is None:
            eps = backend.generator(mu.device).standard_normal(tuple(mu.shape)).astype(mu.dtype)
            eps = backend.to_device(eps, mu.device)
        if not isinstance(eps, Tensor):
            eps = Tensor(eps)
        return mu + (logvar * 0.5).exp() * eps

    def decode(self, z):
        """p(x | z): z (N, D) -> Bernoulli logits (N, data_dim)."""
        if not isinstance(z, Tensor):
            z = Tensor(z)
        return self.decoder(z)

    def forward(self, x, eps=None):
        """x -> (logits (N, data_dim), mu (N, D), logvar (N, D)), with one reparameterized sample."""
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, eps)
        return self.decode(z), mu, logvar

    # --- conveniences for demos and figures (no gradient) -----------------------------------------------

    def decode_images(self, z):
        """Decoder means sigmoid(logits) as images: z (N, D) -> (N, *data_shape) xp array in [0, 1]."""
        with autograd.no_grad():
            probs = self.decode(z).sigmoid()
        return probs.data.reshape((probs.shape[0],) + self.data_shape)

    def reconstruct(self, x):
        """The decoder mean at the posterior mean, sigmoid(l(mu(x))): x -> (N, *data_shape) xp array."""
        with autograd.no_grad():
            mu, _ = self.encode(x)
        return self.decode_images(mu)

    def sample(self, n, device=None):
        """Ancestral samples' means: z ~ N(0, I) -> sigmoid(l(z)), (n, *data_shape) xp array in [0, 1]."""
        weight = self.fc_mu.weight
        device = device or weight.device
        z = backend.generator(device).standard_normal((n, self.latent_dim)).astype(weight.dtype)
        return self.decode_images(Tensor(backend.to_device(z, device)))

    def extra_repr(self):
        return f"latent_dim={self.latent_dim}, hidden={self.hidden}, data_shape={self.data_shape}"
