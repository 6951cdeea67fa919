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

The importance-weighted bound (Burda, Grosse & Salakhutdinov 2016, eq. 8) is tighter than the ELBO and
tends to log p(x) as K grows:

    log p(x) >= L_K = E log (1/K) sum_k w_k,   w_k = p(x | z_k) p(z_k) / q(z_k | x),  z_k ~ q(z | x)

``negative_bounds`` gives both, -ELBO and -L_K, in nats per image; the training update is
``minigan/trainers/vae.py``.

References: Kingma & Welling, Auto-Encoding Variational Bayes, ICLR 2014 (arXiv:1312.6114); Burda, Grosse
& Salakhutdinov, Importance Weighted Autoencoders, ICLR 2016 (arXiv:1509.00519).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy

from .. import autograd, backend, losses, nn
from .. import functional as F
from ..tensor import Tensor, randn

if TYPE_CHECKING:
    from ..typing import Array, Device, TensorLike

__all__ = ["VAE", "log_mean_exp", "importance_log_weights", "negative_bounds"]


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

    def __init__(self, latent_dim: int = 20, hidden: int = 400, data_shape: tuple[int, ...] = (1, 28, 28)) -> None:
        super().__init__()
        hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
        self.latent_dim = int(latent_dim)
        self.hidden = hidden
        self.data_shape = tuple(data_shape)
        self.data_dim = math.prod(self.data_shape)
        self.encoder = _mlp((self.data_dim,) + hidden)  # (N, hidden[-1])
        self.encoder_act = nn.ReLU()
        self.fc_mu = nn.Linear(hidden[-1], self.latent_dim)  # (N, D)
        self.fc_logvar = nn.Linear(hidden[-1], self.latent_dim)  # (N, D)
        self.decoder = nn.Sequential(
            nn.Linear(self.latent_dim, hidden[-1]),
            nn.ReLU(),  # (N, hidden[-1])
            _mlp(hidden[::-1] + (self.data_dim,)),  # (N, data_dim) logits
        )

    def encode(self, x: TensorLike) -> tuple[Tensor, Tensor]:
        """q(z | x): x (N, *data_shape) or (N, data_dim) -> mu (N, D), logvar (N, D)."""
        if not isinstance(x, Tensor):
            x = Tensor(x)
        h = self.encoder_act(self.encoder(x.reshape(x.shape[0], self.data_dim)))  # (N, hidden[-1])
        return self.fc_mu(h), self.fc_logvar(h)

    def reparameterize(self, mu: Tensor, logvar: Tensor, eps: Tensor | None = None) -> Tensor:
        """z = mu + exp(logvar / 2) * eps with eps ~ N(0, I) from the device's generator (seeded by
        ``minigan.manual_seed``). ``eps`` (N, D) may be given, e.g. to make a gradient check deterministic."""
        if eps is None:
            eps = backend.generator(mu.device).standard_normal(tuple(mu.shape)).astype(mu.dtype)
            eps = backend.to_device(eps, mu.device)
        if not isinstance(eps, Tensor):
            eps = Tensor(eps)
        return mu + (logvar * 0.5).exp() * eps

    def decode(self, z: TensorLike) -> Tensor:
        """p(x | z): z (N, D) -> Bernoulli logits (N, data_dim)."""
        if not isinstance(z, Tensor):
            z = Tensor(z)
        return self.decoder(z)

    def forward(self, x: TensorLike, eps: Tensor | None = None) -> Tensor:
        """x -> (logits (N, data_dim), mu (N, D), logvar (N, D)), with one reparameterized sample."""
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, eps)
        return self.decode(z), mu, logvar

    # --- conveniences for demos and figures (no gradient) -----------------------------------------------

    def decode_images(self, z: TensorLike) -> Array:
        """Decoder means sigmoid(logits) as images: z (N, D) -> (N, *data_shape) xp array in [0, 1]."""
        with autograd.no_grad():
            probs = self.decode(z).sigmoid()
        return probs.array.reshape((probs.shape[0],) + self.data_shape)

    def reconstruct(self, x: TensorLike) -> Array:
        """The decoder mean at the posterior mean, sigmoid(l(mu(x))): x -> (N, *data_shape) xp array."""
        with autograd.no_grad():
            mu, _ = self.encode(x)
        return self.decode_images(mu)

    def sample(self, n: int, device: Device | None = None) -> Array:
        """Ancestral samples' means: z ~ N(0, I) -> sigmoid(l(z)), (n, *data_shape) xp array in [0, 1]."""
        weight = self.fc_mu.weight
        device = device or weight.device
        z = backend.generator(device).standard_normal((n, self.latent_dim)).astype(weight.dtype)
        return self.decode_images(Tensor(backend.to_device(z, device)))

    def extra_repr(self) -> str:
        return f"latent_dim={self.latent_dim}, hidden={self.hidden}, data_shape={self.data_shape}"


# --- bounds on log p(x) ------------------------------------------------------------------------------


def log_mean_exp(log_w, axis=0):
    """log (1/K) sum_k exp(log_w_k) along ``axis`` (K = its length), by the engine's overflow-free
    ``logsumexp``: an xp array in, an xp array out."""
    return F.logsumexp(Tensor(log_w), axis).array - math.log(log_w.shape[axis])


def importance_log_weights(model, x, mu, logvar, k):
    """log w_k = log p(x | z_k) + log p(z_k) - log q(z_k | x) for k draws z_k = mu + sigma eps_k (eps_k from
    minigan's generator): x (B, ...) Tensor, mu, logvar (B, D) -> (K, B) xp array. Without a graph."""
    flat = x.reshape(x.shape[0], -1)
    log_w = []
    with autograd.no_grad():
        for _ in range(k):
            eps = randn(*mu.shape, dtype=mu.dtype, device=mu.device)
            z = model.reparameterize(mu, logvar, eps)
            log_px_z = -F.sum(F.binary_cross_entropy_with_logits(model.decode(z), flat, reduction="none"), 1)
            log_pz = -0.5 * F.sum(z * z + math.log(2 * math.pi), 1)  # N(z; 0, I)
            log_qz = -0.5 * F.sum(eps * eps + logvar + math.log(2 * math.pi), 1)  # N(z; mu, sigma^2)
            log_w.append((log_px_z + log_pz - log_qz).array)
    return model.fc_mu.weight.xp.stack(log_w)


def negative_bounds(model, x, eval_samples=1, importance=0, batch=100):
    """-ELBO (averaged over ``eval_samples`` draws of z per image, with its reconstruction and KL terms) and,
    when ``importance`` = K > 0, the negative importance-weighted bound -L_K, in nats per image (means over
    x (N, ...), a NumPy array). Returns {"neg_elbo", "recon", "kl"[, "neg_iwae"]}."""
    totals = {"neg_elbo": 0.0, "recon": 0.0, "kl": 0.0, "neg_iwae": 0.0}
    with autograd.no_grad():
        for start in range(0, len(x), batch):
            xb = Tensor(backend.to_device(numpy.asarray(x[start : start + batch]), model.fc_mu.weight.device))
            mu, logvar = model.encode(xb)
            for _ in range(eval_samples):
                loss, recon, kl = losses.vae_loss(model.decode(model.reparameterize(mu, logvar)), xb, mu, logvar)
                totals["neg_elbo"] += loss.item() * len(xb) / eval_samples
                totals["recon"] += recon.item() * len(xb) / eval_samples
                totals["kl"] += kl.item() * len(xb) / eval_samples
            if importance:
                totals["neg_iwae"] -= float(
                    log_mean_exp(importance_log_weights(model, xb, mu, logvar, importance)).sum()
                )
    result = {name: value / len(x) for name, value in totals.items()}
    if not importance:
        result.pop("neg_iwae")
    return result
