"""WGAN with weight clipping: the original Wasserstein GAN (Arjovsky, Chintala & Bottou, "Wasserstein GAN",
2017, arXiv:1701.07875, Algorithm 1), on the fully connected networks of ``minigan.models.gan`` (or the
DCGAN networks, ``--network dcgan``, without batch norm in the critic) and the real MNIST digits of mnist5k.

    minigan train wgan-clip --out runs/wgan      # 4 000 digits in [-1, 1], RMSprop 5e-5, c = 0.01, n_critic 5
    minigan evaluate --run runs/wgan             # the digit judge on 2 000 samples
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from .. import autograd, losses, optim
from .. import functional as F
from ..argtypes import int_in_range, positive_float
from . import gan
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

    from ..nn import Module
    from ..tensor import Tensor
    from ..typing import Batch, TensorLike

__all__ = ["WGANClip", "add_arguments", "build", "evaluation_data"]

evaluation_data = gan.evaluation_data


class WGANClip(Trainer):
    """WGAN (Arjovsky et al., 2017, Algorithm 1). The critic f_w maximises the Kantorovich-Rubinstein estimate

        W(P_r, P_g) ~ max_w  E f_w(x) - E f_w(G(z)),   w clipped to [-c, c] after each update

    (clipping keeps f_w K-Lipschitz for some K), the generator minimises -E f_w(G(z)). RMSprop with
    lr 5e-5, c = 0.01, n_critic = 5: the paper's defaults. One ``train_step(x)`` is one iteration of the
    outer loop: n_critic critic updates on the real batch with fresh noise each (the paper draws a new
    real batch for each), then one generator update. ``image_shape``: for fully connected networks, as in
    ``gan.GAN``.
    """

    family = "wgan-clip"
    progress_fields: ClassVar[dict] = {"D": "critic_loss", "G": "g_loss", "W": "wasserstein"}
    sample_range = (-1.0, 1.0)

    def __init__(
        self,
        generator: Module,
        critic: Module,
        latent_dim: int | None = None,
        n_critic: int = 5,
        clip_value: float = 0.01,
        lr: float = 5e-5,
        image_shape: tuple[int, ...] | None = None,
    ) -> None:
        if int(n_critic) < 1:
            raise ValueError(f"WGANClip: n_critic must be >= 1, got {n_critic}")
        if not clip_value > 0:
            raise ValueError(f"WGANClip: clip_value must be > 0, got {clip_value}")
        self.generator, self.critic = generator, critic
        self.latent_dim = latent_dim or generator.latent_dim
        self.n_critic, self.clip_value, self.lr = int(n_critic), float(clip_value), float(lr)
        self.image_shape = tuple(image_shape) if image_shape is not None else None
        self.optimizer_g = optim.RMSprop(generator.parameters(), lr=lr)
        self.optimizer_d = optim.RMSprop(critic.parameters(), lr=lr)
        self.step = 0

    def components(self) -> dict[str, Any]:
        return {
            "generator": self.generator,
            "critic": self.critic,
            "optimizer_g": self.optimizer_g,
            "optimizer_d": self.optimizer_d,
        }

    def config(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "latent_dim": self.latent_dim,
            "n_critic": self.n_critic,
            "clip_value": self.clip_value,
            "lr": self.lr,
            "generator": describe_network(self.generator),
            "critic": describe_network(self.critic),
        }

    def train_step(self, real: Batch) -> dict[str, float]:
        real = as_tensor(real)
        if self.image_shape is not None:
            real = F.reshape(real, (real.shape[0], -1))  # images -> rows for an MLP
        n, device = real.shape[0], real.device
        critic_params = list(self.critic.parameters())
        for _ in range(self.n_critic):  # Algorithm 1, lines 2-8
            with autograd.no_grad():
                fake = self.generator(self.noise(n, device))  # line 4: z ~ p(z)
            real_scores, fake_scores = self.critic(real), self.critic(fake)
            critic_loss = losses.critic_loss_wasserstein(real_scores, fake_scores)  # line 5: -(E f(x) - E f(G(z)))
            check_finite(self.step + 1, critic_loss=critic_loss.item())
            step_parameters(critic_loss, critic_params, self.optimizer_d)  # line 6: RMSprop ascent on w
            losses.clip_weights(critic_params, self.clip_value)  # line 7: w <- clip(w, -c, c)
        fake_scores_g = self.critic(self.generator(self.noise(n, device)))  # line 9: fresh z
        g_loss = losses.g_loss_wasserstein(fake_scores_g)  # line 10: -E f(G(z))
        check_finite(self.step + 1, g_loss=g_loss.item())
        step_parameters(g_loss, list(self.generator.parameters()), self.optimizer_g)  # line 11: RMSprop on theta
        self.step += 1
        return {
            "critic_loss": critic_loss.item(),
            "g_loss": g_loss.item(),
            "wasserstein": losses.wasserstein_estimate(real_scores, fake_scores),
        }

    def generate(self, z: TensorLike) -> Tensor:
        with eval_mode(self.generator):
            x = self.generator(z)
        return F.reshape(x, (x.shape[0],) + self.image_shape) if self.image_shape is not None else x

    def sample(self, n: int) -> Tensor:
        """n images in [-1, 1], z drawn from minigan's RNG."""
        device = next(iter(self.generator.parameters())).device
        return self.generate(self.noise(n, device))

    def evaluate(self, data: Any) -> dict[str, Any]:
        """The digit judge, as for ``gan.GAN``."""
        return gan.digit_judgement(self, data)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(epochs=20, batch_size=64)
    parser.add_argument("--data", default="mnist5k", choices=["mnist5k"], help="4 000 real MNIST digits")
    parser.add_argument(
        "--n-train",
        type=int_in_range(10, 4000),
        default=4000,
        help="train on N // 10 digits of each class (default all 4 000)",
    )
    parser.add_argument("--network", default="mlp", choices=["mlp", "dcgan"])
    parser.add_argument("--latent-dim", type=int_in_range(1, 4096), default=100)
    parser.add_argument("--hidden", type=int_in_range(1, 8192), default=256, help="MLP: units per hidden layer")
    parser.add_argument("--width", type=int_in_range(1, 1024), default=32, help="DCGAN: channels of the first layer")
    parser.add_argument("--n-critic", type=int_in_range(1, 100), default=5, help="critic updates per generator update")
    parser.add_argument("--clip-value", type=positive_float, default=0.01, help="the weight clipping bound c")
    parser.add_argument("--lr", type=positive_float, default=5e-5, help="RMSprop's learning rate")


def build(args: argparse.Namespace) -> tuple[Trainer, Any]:
    from ..models import (
        DCGANDiscriminator,
        DCGANGenerator,
        MLPDiscriminator,
        MLPGenerator,
    )

    if args.network == "mlp":
        generator, critic = MLPGenerator(args.latent_dim, args.hidden), MLPDiscriminator(args.hidden)
        image_shape = (1, 28, 28)
    else:
        generator, critic = (
            DCGANGenerator(args.latent_dim, args.width),
            DCGANDiscriminator(args.width, batch_norm=False),
        )
        image_shape = None
    trainer = WGANClip(
        generator.to(args.device),
        critic.to(args.device),
        n_critic=args.n_critic,
        clip_value=args.clip_value,
        lr=args.lr,
        image_shape=image_shape,
    )
    return trainer, gan.mnist_images(args.n_train, args.seed)
