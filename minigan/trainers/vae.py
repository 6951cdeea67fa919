"""VAE: a variational autoencoder trained by AEVB (Kingma & Welling 2014, Algorithm 1; one sample of z per
image and the closed-form KL), on mnist5k re-binarised every epoch by default.

    minigan train vae --out runs/vae [--latent-dim 2]      # 784-400-20, Adam 1e-3, 150 epochs of 4 000 digits
    minigan sample --run runs/vae                          # decoder means of z ~ N(0, I)
    minigan evaluate --run runs/vae                        # -ELBO and the IWAE bound (K = 200) on the test set

    trainer = VAETrainer(VAE(latent_dim=20), lr=1e-3)
    fit(trainer, BinarizedLoader(x, batch_size=100, shuffle=True, seed=0), epochs=150, out_dir="runs/vae")

The encoder, decoder and the reparameterisation are ``minigan/models/vae.py``, the negative ELBO is
``minigan.losses.vae_loss``, the importance-weighted bound (``evaluate``) is ``models.vae.negative_bounds``.

Reference: Kingma & Welling, Auto-Encoding Variational Bayes, ICLR 2014 (arXiv:1312.6114); Burda, Grosse &
Salakhutdinov, Importance Weighted Autoencoders, ICLR 2016 (the K-sample bound of ``evaluate``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy

from .. import losses, optim
from ..argtypes import int_in_range, non_negative_float, positive_float
from ..models.vae import VAE, negative_bounds
from ..tensor import Tensor
from .base import Trainer, check_finite

if TYPE_CHECKING:
    import argparse

    from ..data import DataLoader
    from ..typing import ArrayLike, Batch

__all__ = ["VAETrainer", "add_arguments", "build", "make_loader", "evaluation_data"]


class VAETrainer(Trainer):
    """Adam (Kingma & Ba 2015) on the negative ELBO of a :class:`~minigan.models.VAE`. beta != 1 weighs the
    KL term (beta-VAE, Higgins et al. 2017)."""

    family = "vae"
    progress_fields = {"-ELBO": "neg_elbo", "KL": "kl"}

    def __init__(self, vae: VAE, lr: float = 1e-3, beta: float = 1.0) -> None:
        self.vae, self.lr, self.beta = vae, float(lr), float(beta)
        self.optimizer = optim.Adam(vae.parameters(), lr=self.lr)
        self.step = 0

    def train_step(self, batch: Batch) -> dict[str, float]:
        """One iteration of K&W 2014's Algorithm 1 (minibatch AEVB) on a mini-batch X^M of M images (labels, if
        any, are not used):

            eps ~ p(eps) = N(0, I)                                  random noise, one draw per image (L = 1)
            z = mu(x) + sigma(x) * eps                              the reparameterisation (section 2.4)
            L(theta, phi; x) = -KL(q(z|x) || p(z)) + log p(x | z)  the estimator of eq. 10, KL in closed form
            theta, phi <- one Adam step on the gradient of -(1/M) sum_x L(theta, phi; x)
        """
        x = batch[0] if isinstance(batch, tuple) else batch
        logits, mu, logvar = self.vae(x)  # encode, draw eps, decode: Bernoulli logits
        loss, recon, kl = losses.vae_loss(logits, x, mu, logvar, beta=self.beta)
        check_finite(self.step + 1, neg_elbo=loss.item())
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.step += 1
        return {"neg_elbo": loss.item(), "recon": recon.item(), "kl": kl.item()}

    def sample(self, n: int) -> Tensor:
        """Decoder means sigmoid(l(z)) of z ~ N(0, I): (n, *data_shape) in [0, 1]."""
        return Tensor(self.vae.sample(n))

    def evaluate(self, data: Any, eval_samples: int = 10, importance: int = 200) -> dict[str, Any]:
        """-ELBO (``eval_samples`` draws per image) and the IWAE bound -L_K, K = ``importance``, nats per
        image of data (N, ...) (binary for a likelihood bound)."""
        x = data[0] if isinstance(data, tuple) else data
        x = numpy.asarray(x.numpy() if isinstance(x, Tensor) else x)
        return negative_bounds(self.vae, x, eval_samples, importance)

    def config(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "latent_dim": self.vae.latent_dim,
            "hidden": list(self.vae.hidden),
            "data_shape": list(self.vae.data_shape),
            "lr": self.lr,
            "beta": self.beta,
        }

    def components(self) -> dict[str, Any]:
        return {"vae": self.vae, "optimizer": self.optimizer}


# --- the command line -----------------------------------------------------------------------------------

TEST_BINARIZE_SEED = 123  # the test set's one fixed Bernoulli draw (demos/vae_mnist.py's)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(epochs=150, batch_size=100)  # 150 x 4 000 images = pytorch/examples' 10 x 60 000
    parser.add_argument("--latent-dim", type=int_in_range(1, 4096), default=20)
    parser.add_argument("--hidden", type=int_in_range(1, 100_000), default=400, help="units of the hidden layer")
    parser.add_argument("--lr", type=positive_float, default=1e-3, help="Adam's learning rate")
    parser.add_argument("--beta", type=non_negative_float, default=1.0, help="weight of the KL term (beta-VAE)")


def build(args: argparse.Namespace) -> tuple[Trainer, Any]:
    from .. import data

    vae = VAE(args.latent_dim, args.hidden).to(args.device)
    return VAETrainer(vae, lr=args.lr, beta=args.beta), data.load("mnist5k").x


def make_loader(arrays: tuple[ArrayLike, ...], batch_size: int, seed: int, device: str) -> DataLoader:
    """Grey levels in, a fresh binary draw of every digit each epoch out (``data.BinarizedLoader``)."""
    from ..data import BinarizedLoader

    return BinarizedLoader(*arrays, batch_size=batch_size, shuffle=True, seed=seed, drop_last=True, device=device)


def evaluation_data(args: argparse.Namespace) -> Any:
    """The 1 000 test digits, binarised once (seed 123)."""
    from .. import data

    return data.binarize_dynamic(data.load("mnist5k", split="test").x, TEST_BINARIZE_SEED)
