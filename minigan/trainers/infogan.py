"""InfoGAN (Chen et al., "InfoGAN: Interpretable Representation Learning by Information Maximizing Generative
Adversarial Nets", 2016, arXiv:1606.03657) on the MNIST networks of its appendix C.1
(``minigan.models.InfoGANGenerator`` / ``InfoGANDiscriminator``: D and Q share a body), mnist5k by default.

    minigan train infogan --out runs/infogan   # 4 000 digits in [-1, 1], 40 epochs of batch 64
    minigan evaluate --run runs/infogan        # does the categorical code learn the digit? (the digit judge)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import autograd, backend, data, losses, optim
from .. import functional as F
from ..argtypes import int_in_range, non_negative_float, positive_float
from ..data.splits import training_subset
from ..evaluate import discriminator_accuracy
from ..tensor import Tensor, randn
from .base import Trainer, as_tensor, check_finite, describe_network, eval_mode, step_parameters

if TYPE_CHECKING:
    import argparse

    from ..models import LogisticRegression
    from ..nn import Module
    from ..typing import ArrayLike, Batch, TensorLike

__all__ = ["InfoGAN", "add_arguments", "build", "evaluation_data"]


class InfoGAN(Trainer):
    """The GAN game plus a variational lower bound on the mutual information between the codes c and the
    sample G(z, c) (Chen et al., 2016, eq. 3-5):

        min_{G,Q} max_D  V(D, G) - lambda L_I(G, Q),
        L_I = E_{c ~ P(c), x ~ G(z, c)} log Q(c | x) + H(c)  <=  I(c; G(z, c))

    with c = (a categorical code c_cat ~ Cat(K) uniform, continuous codes c_cont ~ U(-1, 1)^C), z ~ N(0, I),
    Q a head on D's body (a softmax for c_cat, a diagonal Gaussian for c_cont), and the appendix's MNIST
    weights lambda_cat = 1, lambda_cont = 0.1. One ``train_step(x)``: ``d_steps`` updates of D and Q, then
    one update of G (non-saturating). The paper's learning rates: 1e-3 for G, 2e-4 for D and Q.

    With ``n_categories = 0`` and all of z as continuous codes, the same update is source 003's
    noise-prediction ("entropy") term that keeps G from ignoring its noise.
    """

    family = "infogan"
    progress_fields = {"D": "d_loss", "G": "g_loss", "Icat": "info_categorical", "Icont": "info_continuous"}
    sample_range = (-1.0, 1.0)

    def __init__(
        self,
        generator: Module,
        discriminator: Module,
        lambda_categorical: float = 1.0,
        lambda_continuous: float = 0.1,
        d_steps: int = 1,
        lr: float = 2e-4,
        lr_d: float | None = None,
        betas: tuple[float, float] = (0.5, 0.999),
    ) -> None:
        if int(d_steps) < 1:
            raise ValueError(f"InfoGAN: d_steps must be >= 1, got {d_steps}")
        self.generator, self.discriminator = generator, discriminator
        self.noise_dim = generator.noise_dim
        self.n_categories, self.n_continuous = generator.n_categories, generator.n_continuous
        self.lambda_categorical, self.lambda_continuous = float(lambda_categorical), float(lambda_continuous)
        self.d_steps = int(d_steps)
        self.lr, self.lr_d = float(lr), float(lr if lr_d is None else lr_d)
        self.betas = (float(betas[0]), float(betas[1]))
        self.optimizer_g = optim.Adam(generator.parameters(), lr=self.lr, betas=betas)
        self.optimizer_d = optim.Adam(discriminator.parameters(), lr=self.lr_d, betas=betas)  # D and Q
        self.g_params, self.d_params = list(generator.parameters()), list(discriminator.parameters())
        self.step = 0  # generator updates done

    def components(self) -> dict[str, Any]:
        return {
            "generator": self.generator,
            "discriminator": self.discriminator,
            "optimizer_g": self.optimizer_g,
            "optimizer_d": self.optimizer_d,
        }

    def config(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "noise_dim": self.noise_dim,
            "n_categories": self.n_categories,
            "n_continuous": self.n_continuous,
            "lambda_categorical": self.lambda_categorical,
            "lambda_continuous": self.lambda_continuous,
            "d_steps": self.d_steps,
            "lr": self.lr,
            "lr_d": self.lr_d,
            "betas": list(self.betas),
            "generator": describe_network(self.generator),
            "discriminator": describe_network(self.discriminator),
        }

    def codes(self, n: int) -> tuple[Tensor, np.ndarray, Tensor]:
        """(z (n, noise_dim) Tensor, c_cat (n,) ints, c_cont (n, C) Tensor) from minigan's RNG."""
        rng = backend.generator("cpu")
        z = randn(n, self.noise_dim)
        categorical = rng.integers(0, max(self.n_categories, 1), n)
        continuous = Tensor(rng.uniform(-1, 1, (n, self.n_continuous)).astype(np.float32))
        return z, categorical, continuous

    def information_losses(
        self, images: Tensor, categorical: np.ndarray, continuous: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """(D's logits (N,), -E log Q(c_cat | x), -E log Q(c_cont | x)) in nats: L_I's two terms without H(c)."""
        logits, q_categorical, q_mean, q_logvar = self.discriminator.with_q(images)
        zero = F.sum(logits * 0.0)
        loss_cat = losses.info_categorical_loss(q_categorical, categorical) if self.n_categories else zero
        loss_cont = losses.info_continuous_loss(q_mean, q_logvar, continuous) if self.n_continuous else zero
        return logits, loss_cat, loss_cont

    def train_step(self, real: Batch) -> dict[str, float]:
        real = as_tensor(real)
        n = real.shape[0]
        for _ in range(self.d_steps):
            # (1) D and Q: min -log D(x) - log(1 - D(G(z, c))) - lambda_cat log Q(c_cat|.) - lambda_cont log Q(c_cont|.)
            z, categorical, continuous = self.codes(n)
            with autograd.no_grad():
                fake = self.generator(z, categorical, continuous)
            real_logits = self.discriminator(real)
            fake_logits, loss_cat, loss_cont = self.information_losses(fake, categorical, continuous)
            gan_loss = losses.d_loss_minimax(real_logits, fake_logits)
            d_loss = gan_loss + loss_cat * self.lambda_categorical + loss_cont * self.lambda_continuous
            check_finite(self.step + 1, d_loss=d_loss.item())
            step_parameters(d_loss, self.d_params, self.optimizer_d)
        # (2) G: min  -log D(G(z, c))  - lambda L_I  with fresh codes (G, like Q, maximises the bound)
        z, categorical, continuous = self.codes(n)
        fake_logits_g, loss_cat_g, loss_cont_g = self.information_losses(
            self.generator(z, categorical, continuous), categorical, continuous
        )
        g_gan = losses.g_loss_nonsaturating(fake_logits_g)
        g_loss = g_gan + loss_cat_g * self.lambda_categorical + loss_cont_g * self.lambda_continuous
        check_finite(self.step + 1, g_loss=g_loss.item())
        step_parameters(g_loss, self.g_params, self.optimizer_g)
        self.step += 1
        return {
            "d_loss": gan_loss.item(),
            "g_loss": g_gan.item(),
            "info_categorical": loss_cat_g.item(),
            "info_continuous": loss_cont_g.item(),
            "d_accuracy": discriminator_accuracy(real_logits, fake_logits),
        }

    def generate(
        self, z: TensorLike, categorical: ArrayLike | None = None, continuous: TensorLike | None = None
    ) -> Tensor:
        """G(z, c) in eval mode, no graph; default codes: c_cat = 0..K-1 cycling, c_cont = 0."""
        z = as_tensor(z)
        n = z.shape[0]
        categorical = np.arange(n) % max(self.n_categories, 1) if categorical is None else np.asarray(categorical)
        continuous = np.zeros((n, self.n_continuous), np.float32) if continuous is None else continuous
        with eval_mode(self.generator):
            return self.generator(z, categorical, as_tensor(continuous))

    def sample(self, n: int) -> Tensor:
        """n images (n, 1, 28, 28) in [-1, 1]: z from minigan's RNG, c_cat = 0..K-1 cycling, c_cont = 0."""
        return self.generate(randn(n, self.noise_dim))

    def traversal(self, z_row: ArrayLike, code_index: int, values: ArrayLike) -> Tensor:
        """The paper's figure 2: rows c_cat = 0..K-1, columns the continuous code ``code_index`` over
        ``values`` (the others 0), one z (noise_dim,) for all -> images (K * len(values), 1, 28, 28)."""
        k, m = max(self.n_categories, 1), len(values)
        continuous = np.zeros((k * m, self.n_continuous), np.float32)
        continuous[:, code_index] = np.tile(values, k)
        return self.generate(
            np.repeat(np.asarray(z_row, np.float32)[None], k * m, 0), np.repeat(np.arange(k), m), continuous
        )

    def code_study(self, judge: LogisticRegression, n: int = 2000, seed: int = 1) -> dict[str, Any]:
        """What the codes learned, without labels: n images with random codes (from
        ``numpy.random.default_rng(seed)``) classified by ``judge`` (a real-digit classifier).

        c_cat: the mutual information I(c_cat; judged digit) (nats and bits; log K is the maximum), its
        normalised form, the matched accuracy (the best one-to-one code -> digit map), how many distinct
        digits the K codes claim, the contingency table. c_cont: the Pearson correlation of each continuous
        code with the width and the slant of the ink (``evaluate.ink_moments``)."""
        from .. import info
        from ..evaluate import ink_moments, judge_digits, matched_accuracy

        rng = np.random.default_rng(seed)
        z = rng.normal(size=(n, self.noise_dim)).astype(np.float32)
        categorical = rng.integers(0, self.n_categories, n)
        continuous = rng.uniform(-1, 1, (n, self.n_continuous)).astype(np.float32)
        images = self.generate(z, categorical, continuous).numpy()
        summary, predicted, _ = judge_digits(judge, images)
        table = info.contingency_table(categorical, predicted)
        width, slant = ink_moments(images)
        correlations = {
            f"c{j + 1}_{name}": float(np.corrcoef(continuous[:, j], values)[0, 1])
            for j in range(self.n_continuous)
            for name, values in (("width", width), ("slant", slant))
        }
        return {
            "mutual_information_nats": info.mutual_information(categorical, predicted),
            "mutual_information_bits": info.mutual_information(categorical, predicted, base=2),
            "normalized_mutual_information": info.normalized_mutual_information(categorical, predicted),
            "purity": matched_accuracy(table)[0],
            "digits_claimed": int(len(set(table.argmax(1).tolist()))),
            "covered": summary["coverage"]["covered"],
            "confidence": summary["mean_max_probability"],
            "correlations": correlations,
            "table": table.tolist(),
        }

    def evaluate(self, data: Any) -> dict[str, Any]:
        """``data``: mnist5k's training digits (a Dataset in [0, 1]) for the judge. Returns ``code_study``'s
        numbers on 2 000 samples (the table left out)."""
        from ..evaluate import digit_classifier

        study = self.code_study(digit_classifier(data, epochs=20, seed=0))
        correlations = study.pop("correlations")
        study.pop("table")
        return {**study, **{f"correlation_{name}": value for name, value in correlations.items()}}


# --- the command line -----------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(epochs=40, batch_size=64)
    parser.add_argument(
        "--n-train",
        type=int_in_range(10, 4000),
        default=4000,
        help="train on N // 10 digits of each class (default all 4 000, drawn with --seed)",
    )
    parser.add_argument("--width", type=int_in_range(1, 512), default=32, help="channels of D's first layer")
    parser.add_argument("--hidden", type=int_in_range(1, 4096), default=256, help="units of D's shared body")
    parser.add_argument("--noise-dim", type=int_in_range(1, 4096), default=62)
    parser.add_argument("--categories", type=int_in_range(2, 100), default=10, help="values of the categorical code")
    parser.add_argument("--continuous", type=int_in_range(0, 100), default=2, help="continuous codes U(-1, 1)")
    parser.add_argument("--lambda-categorical", type=non_negative_float, default=1.0)
    parser.add_argument("--lambda-continuous", type=non_negative_float, default=0.1)
    parser.add_argument("--lr", type=positive_float, default=1e-3, help="G's Adam learning rate (betas 0.5, 0.999)")
    parser.add_argument("--lr-d", type=positive_float, default=2e-4, help="D's and Q's Adam learning rate")


def build(args: argparse.Namespace) -> tuple[Trainer, Any]:
    """InfoGAN's MNIST networks and --n-train of mnist5k's 4 000 training digits, in [-1, 1] (no labels)."""
    from ..models import InfoGANDiscriminator, InfoGANGenerator

    train = data.load("mnist5k")
    rows = training_subset(train.y, args.n_train, args.seed)
    generator = InfoGANGenerator(args.noise_dim, args.categories, args.continuous, args.width).to(args.device)
    discriminator = InfoGANDiscriminator(args.categories, args.continuous, args.width, args.hidden).to(args.device)
    trainer = InfoGAN(
        generator, discriminator, args.lambda_categorical, args.lambda_continuous, lr=args.lr, lr_d=args.lr_d
    )
    return trainer, (train.x[rows] * 2 - 1).astype(np.float32)


def evaluation_data(args: argparse.Namespace) -> Any:
    """mnist5k's training digits, on which the judge learns."""
    return data.load("mnist5k")
