"""WGAN-GP: Wasserstein GAN with gradient penalty (Gulrajani et al., "Improved Training of Wasserstein GANs",
2017, arXiv:1704.00028, Algorithm 1), on the residual 64x64 networks of ``minigan.models.wgan_gp`` and the
generated shapes of source 000 by default.

    minigan train wgan-gp --out runs/shapes              # 2 classes x 300 shapes, 20 epochs, batch 8
    minigan evaluate --run runs/shapes                   # the critic as a classifier of the 10 test classes
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from .. import autograd, losses, optim
from ..argtypes import int_in_range, non_negative_float, positive_float, positive_int
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

__all__ = ["WGANGP", "add_arguments", "build", "evaluation_data"]


class WGANGP(Trainer):
    """WGAN-GP (Gulrajani et al., 2017, Algorithm 1). The critic f minimises

        L_D = E f(G(z)) - E f(x) + lambda E (||grad_x_hat f(x_hat)||_2 - 1)^2,   x_hat = eps x + (1 - eps) G(z)

    and the generator L_G = -E f(G(z)); Adam(1e-4, betas (0, 0.9)) for both, the paper's defaults. One
    ``train_step(x)`` is one generator update after ``n_critic`` critic updates, all on the same real
    batch with fresh noise each time (the paper draws a new real batch per critic update; the Keras
    WGAN-GP example source 000 builds on reuses it, and so do we), so an epoch is len(loader) generator steps.
    """

    family = "wgan-gp"
    progress_fields: ClassVar[dict] = {"D": "critic_loss", "G": "g_loss", "W": "wasserstein", "GP": "gp"}

    def __init__(
        self,
        generator: Module,
        critic: Module,
        latent_dim: int | None = None,
        n_critic: int = 5,
        lambda_gp: float = 10.0,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.0, 0.9),
    ) -> None:
        if int(n_critic) < 1:
            raise ValueError(f"WGANGP: n_critic must be >= 1, got {n_critic}")
        self.generator, self.critic = generator, critic
        self.latent_dim = latent_dim or generator.latent_dim
        self.n_critic, self.lambda_gp = int(n_critic), float(lambda_gp)
        self.lr, self.betas = float(lr), (float(betas[0]), float(betas[1]))
        self.optimizer_g = optim.Adam(generator.parameters(), lr=lr, betas=betas)
        self.optimizer_d = optim.Adam(critic.parameters(), lr=lr, betas=betas)
        self.step = 0  # generator updates done

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
            "lambda_gp": self.lambda_gp,
            "lr": self.lr,
            "betas": list(self.betas),
            "generator": describe_network(self.generator),
            "critic": describe_network(self.critic),
        }

    def train_step(self, real: Batch) -> dict[str, float]:
        real = as_tensor(real)
        n, device = real.shape[0], real.device
        for _ in range(self.n_critic):  # Algorithm 1, lines 2-10
            with autograd.no_grad():
                fake = self.generator(self.noise(n, device))  # lines 4-5: z ~ p(z), x~ = G(z)
            real_scores, fake_scores = self.critic(real), self.critic(fake)
            # lines 6-7: x_hat = eps x + (1 - eps) x~;  L = f(x~) - f(x) + lambda (||grad f(x_hat)|| - 1)^2
            penalty = losses.gradient_penalty(self.critic, real, fake, self.lambda_gp)
            critic_loss = losses.critic_loss_wasserstein(real_scores, fake_scores) + penalty
            check_finite(self.step + 1, critic_loss=critic_loss.item(), gp=penalty.item())
            step_parameters(critic_loss, list(self.critic.parameters()), self.optimizer_d)  # line 9: Adam on w
        fake_scores_g = self.critic(self.generator(self.noise(n, device)))  # line 11: fresh z
        g_loss = losses.g_loss_wasserstein(fake_scores_g)  # line 12: -E f(G(z))
        check_finite(self.step + 1, g_loss=g_loss.item())
        step_parameters(g_loss, list(self.generator.parameters()), self.optimizer_g)  # line 12: Adam on theta
        self.step += 1
        return {
            "critic_loss": critic_loss.item(),
            "gp": penalty.item(),
            "g_loss": g_loss.item(),
            "wasserstein": losses.wasserstein_estimate(real_scores, fake_scores),
        }

    def generate(self, z: TensorLike) -> Tensor:
        """Images G(z) in eval mode (batch norm's running statistics), without a graph."""
        with eval_mode(self.generator):
            return self.generator(z)

    def sample(self, n: int) -> Tensor:
        """n images (n, 3, 64, 64), z drawn from minigan's RNG."""
        device = next(iter(self.generator.parameters())).device
        return self.generate(self.noise(n, device))

    def evaluate(self, data: Any) -> dict[str, Any]:
        """Source 000's measurement: the critic's scores as a 1-D classifier of the test classes. ``data``:
        (images, labels, class names); returns how many class pairs it separates (ROC AUC, orientation-free)."""
        from ..evaluate import critic_scores, separation

        images, labels, names = data
        _, _, summary = separation(critic_scores(self.critic, images), labels, names)
        noise = summary["noise_only"]
        return {
            "pairs": summary["pairs"],
            "pairs_auc_ge_0.9": summary["auc_ge_0.9"],
            "pairs_auc_ge_0.99": summary["auc_ge_0.99"],
            "min_auc": summary["min_auc"],
            "noise_only_pairs": len(noise),
            "noise_only_auc_ge_0.99": summary["noise_only_ge_0.99"],
        }


# --- the command line -----------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(epochs=20, batch_size=8)
    parser.add_argument("--data", default="shapes", choices=["shapes"], help="source 000's training shapes")
    parser.add_argument("--n-per-class", type=positive_int, default=300, help="training images per class")
    parser.add_argument("--width", type=int_in_range(1, 512), default=16, help="channels of the first critic layer")
    parser.add_argument("--latent-dim", type=int_in_range(1, 4096), default=128)
    parser.add_argument("--n-critic", type=int_in_range(1, 100), default=5, help="critic updates per generator update")
    parser.add_argument("--lambda-gp", type=non_negative_float, default=10.0, help="gradient penalty weight")
    parser.add_argument("--lr", type=positive_float, default=1e-4, help="Adam's learning rate (betas 0, 0.9)")


def build(args: argparse.Namespace) -> tuple[Trainer, Any]:
    from ..data import shapes_train
    from ..models import WGANCritic, WGANGenerator

    images, _, _ = shapes_train(n_per_class=args.n_per_class, seed=args.seed)
    generator = WGANGenerator(latent_dim=args.latent_dim, width=args.width).to(args.device)
    critic = WGANCritic(width=args.width).to(args.device)
    return WGANGP(generator, critic, n_critic=args.n_critic, lambda_gp=args.lambda_gp, lr=args.lr), images


def evaluation_data(args: argparse.Namespace) -> Any:
    """Source 000's test set: 10 classes, 40 images each."""
    from ..data import shapes_test

    return shapes_test(n_per_class=40, seed=1)
