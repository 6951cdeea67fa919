"""GAN: the original adversarial game (Goodfellow et al., "Generative Adversarial Nets", 2014,
arXiv:1406.2661, Algorithm 1), minimax or non-saturating generator loss, on the fully connected networks of
``minigan.models.gan`` and the real MNIST digits of mnist5k by default.

    minigan train gan --out runs/gan [--generator-loss minimax]     # 4 000 digits in [-1, 1], 784-256-256
    minigan evaluate --run runs/gan                                  # the digit judge on 2 000 samples
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from .. import autograd, losses, optim
from .. import functional as F
from ..argtypes import int_in_range, open_probability, positive_float
from ..tensor import Tensor
from .base import (
    Trainer,
    as_tensor,
    check_finite,
    describe_network,
    eval_mode,
    step_parameters,
)

if TYPE_CHECKING:
    import argparse

    import numpy as np

    from ..nn import Module
    from ..typing import Batch, TensorLike

__all__ = ["GAN", "add_arguments", "build", "digit_judgement", "evaluation_data", "mnist_images"]

GENERATOR_LOSSES = ("nonsaturating", "minimax")


def _d_accuracy(real_logits, fake_logits) -> float:
    """Share of real samples with logit > 0 and fakes with logit < 0 (D's real/fake accuracy)."""
    real, fake = real_logits.array, fake_logits.array
    return float(((real > 0).sum() + (fake < 0).sum()) / (real.size + fake.size))


class GAN(Trainer):
    """The GAN game on logits, D(x) = sigmoid(l(x)) (Goodfellow et al., 2014, Algorithm 1):

        D:  max  E log D(x) + E log(1 - D(G(z)))       = min losses.d_loss_minimax
        G:  min  E log(1 - D(G(z)))   ("minimax": the paper's equation 1, saturates when D wins)
            max  E log D(G(z))        ("nonsaturating": the paper's section 3 advice, the default)

    One ``train_step(x)`` is Algorithm 1's outer loop body: ``d_steps`` (the paper's k) discriminator
    updates on the real batch with fresh noise each, then one generator update. Adam(2e-4, (0.5, 0.999)) for
    both, DCGAN's settings (the paper used SGD with momentum). z ~ N(0, I). ``image_shape``: for fully
    connected networks, the shape of one image; batches of images are flattened for D and samples are
    reshaped back to images.
    """

    family = "gan"
    progress_fields: ClassVar[dict] = {"D": "d_loss", "G": "g_loss", "acc": "d_accuracy"}
    sample_range = (-1.0, 1.0)

    def __init__(
        self,
        generator: Module,
        discriminator: Module,
        latent_dim: int | None = None,
        d_steps: int = 1,
        generator_loss: str = "nonsaturating",
        lr: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        image_shape: tuple[int, ...] | None = None,
    ) -> None:
        if generator_loss not in GENERATOR_LOSSES:
            raise ValueError(f"GAN: generator_loss must be one of {GENERATOR_LOSSES}, got {generator_loss!r}")
        if int(d_steps) < 1:
            raise ValueError(f"GAN: d_steps must be >= 1, got {d_steps}")
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim = latent_dim or generator.latent_dim
        self.d_steps, self.generator_loss = int(d_steps), generator_loss
        self.lr, self.betas = float(lr), (float(betas[0]), float(betas[1]))
        self.image_shape = tuple(image_shape) if image_shape is not None else None
        self.optimizer_g = optim.Adam(generator.parameters(), lr=lr, betas=betas)
        self.optimizer_d = optim.Adam(discriminator.parameters(), lr=lr, betas=betas)
        self.step = 0

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
            "latent_dim": self.latent_dim,
            "d_steps": self.d_steps,
            "generator_loss": self.generator_loss,
            "lr": self.lr,
            "betas": list(self.betas),
            "generator": describe_network(self.generator),
            "discriminator": describe_network(self.discriminator),
        }

    def train_step(self, real: Batch) -> dict[str, float]:
        real = as_tensor(real)
        if self.image_shape is not None:
            real = F.reshape(real, (real.shape[0], -1))  # images -> rows for an MLP
        n, device = real.shape[0], real.device
        for _ in range(self.d_steps):  # Algorithm 1: for k steps
            with autograd.no_grad():
                fake = self.generator(self.noise(n, device))  # noise minibatch z ~ p_g(z)
            real_logits, fake_logits = self.discriminator(real), self.discriminator(fake)
            d_loss = losses.d_loss_minimax(real_logits, fake_logits)  # -[log D(x) + log(1 - D(G(z)))]
            check_finite(self.step + 1, d_loss=d_loss.item())
            step_parameters(d_loss, list(self.discriminator.parameters()), self.optimizer_d)  # ascend for D
        fake_logits_g = self.discriminator(self.generator(self.noise(n, device)))  # fresh z for G
        g_loss = (
            losses.g_loss_nonsaturating(fake_logits_g)
            if self.generator_loss == "nonsaturating"
            else losses.g_loss_minimax(fake_logits_g)
        )  # -log D(G(z)) or log(1 - D(G(z)))
        check_finite(self.step + 1, g_loss=g_loss.item())
        step_parameters(g_loss, list(self.generator.parameters()), self.optimizer_g)  # descend for G
        self.step += 1
        return {
            "d_loss": d_loss.item(),
            "g_loss": g_loss.item(),
            "d_real": float(F.sigmoid(real_logits).mean().item()),
            "d_fake": float(F.sigmoid(fake_logits).mean().item()),
            "d_accuracy": _d_accuracy(real_logits, fake_logits),
        }

    def generate(self, z: TensorLike) -> Tensor:
        """G(z) in eval mode (batch norm's running statistics), no graph; images if ``image_shape``."""
        z = z if isinstance(z, Tensor) else as_tensor(z)
        with eval_mode(self.generator):
            x = self.generator(z)
        return F.reshape(x, (x.shape[0],) + self.image_shape) if self.image_shape is not None else x

    def sample(self, n: int) -> Tensor:
        """n images in [-1, 1] (the tanh generator's range), z drawn from minigan's RNG."""
        device = next(iter(self.generator.parameters())).device
        return self.generate(self.noise(n, device))

    def evaluate(self, data: Any) -> dict[str, Any]:
        """The digit judge (``minigan.evaluate``): a logistic regression trained on the real digits ``data``
        ((x in [0, 1], y)) reads 2 000 samples: classes covered, KL of its histogram to uniform, confidence."""
        return digit_judgement(self, data)


def digit_judgement(
    trainer: Trainer, data: Any, n: int = 2000, seed: int = 0, classifier_epochs: int = 20
) -> dict[str, Any]:
    """What a real-digit classifier says about ``trainer.sample(n)`` (images in [-1, 1]): classes covered
    (>= 1 % of the samples), KL(histogram || uniform) in nats, the classifier's mean max probability, and
    its accuracy on the real test digits. ``data``: ((x_train, y_train), (x_test, y_test)), x in [0, 1]; the
    classifier is the demos' (``evaluate.digit_classifier``, ``classifier_epochs`` of Adam)."""
    from ..evaluate import digit_classifier, judge_digits
    from ..training import draw_samples

    (x_train, y_train), (x_test, y_test) = data
    classifier = digit_classifier((x_train, y_train), epochs=classifier_epochs, seed=seed)
    summary, _, _ = judge_digits(classifier, draw_samples(trainer, n, seed), value_range=(-1.0, 1.0))
    return {
        "judge_test_accuracy": float(classifier.score(x_test, y_test)),
        "classes_covered": summary["coverage"]["covered"],
        "kl_to_uniform": summary["coverage"]["kl_to_reference"],
        "mean_max_probability": summary["mean_max_probability"],
        "samples": n,
    }


# --- the command line -----------------------------------------------------------------------------------


def mnist_images(n: int | None = None, seed: int = 0) -> np.ndarray:
    """mnist5k's 4 000 training digits, or ``n // 10`` of each digit drawn under ``seed``
    (``data.splits.stratified``; the file is sorted by digit), as images (N, 1, 28, 28) in [-1, 1] (the tanh
    generators' range)."""
    import numpy as np

    from .. import data
    from ..data.splits import stratified

    digits = data.load("mnist5k")
    x = np.asarray(digits.x, np.float32).reshape(-1, 1, 28, 28)
    if n is not None and n < len(x):
        x = x[np.sort(stratified(digits.y, n, seed))]
    return (x * 2 - 1).astype(np.float32)


def evaluation_data(args: argparse.Namespace) -> Any:
    """(train, test) digits in [0, 1] with labels, for the judge."""
    from .. import data

    train, test = data.load("mnist5k"), data.load("mnist5k", split="test")
    return (train.x, train.y), (test.x, test.y)


def add_adversarial_arguments(parser, latent_dim=100):
    """Flags shared by the GAN and DCGAN families."""
    parser.add_argument("--data", default="mnist5k", choices=["mnist5k"], help="4 000 real MNIST digits")
    parser.add_argument(
        "--n-train",
        type=int_in_range(10, 4000),
        default=4000,
        help="train on N // 10 digits of each class (default all 4 000)",
    )
    parser.add_argument("--latent-dim", type=int_in_range(1, 4096), default=latent_dim)
    parser.add_argument(
        "--d-steps",
        type=int_in_range(1, 100),
        default=1,
        help="discriminator updates per generator update (the paper's k)",
    )
    parser.add_argument("--generator-loss", choices=GENERATOR_LOSSES, default="nonsaturating")
    parser.add_argument("--lr", type=positive_float, default=2e-4, help="Adam's learning rate")
    parser.add_argument("--beta1", type=open_probability, default=0.5, help="Adam's beta1 (beta2 0.999)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(epochs=20, batch_size=64)
    add_adversarial_arguments(parser)
    parser.add_argument("--hidden", type=int_in_range(1, 8192), default=256, help="units of each hidden layer")


def build(args: argparse.Namespace) -> tuple[Trainer, Any]:
    from ..models import MLPDiscriminator, MLPGenerator

    generator = MLPGenerator(latent_dim=args.latent_dim, hidden=args.hidden).to(args.device)
    discriminator = MLPDiscriminator(hidden=args.hidden).to(args.device)
    trainer = GAN(
        generator,
        discriminator,
        d_steps=args.d_steps,
        generator_loss=args.generator_loss,
        lr=args.lr,
        betas=(args.beta1, 0.999),
        image_shape=(1, 28, 28),
    )
    return trainer, mnist_images(args.n_train, args.seed)
