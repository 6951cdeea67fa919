"""minigan.trainers.wgan_gp: the WGAN-GP update (Gulrajani et al. 2017, Algorithm 1) lowers the critic loss,
matches the update written out by hand, and resumes exactly through fit. Tiny networks on 8x8 images."""

import numpy as np
from trainer_contract import assert_resumes_exactly

import minigan as mg
import minigan.functional as F
from minigan import autograd, losses, nn
from minigan.models import WGANCritic, WGANGenerator
from minigan.trainers.wgan_gp import WGANGP


class TinyGenerator(nn.Module):
    def __init__(self, latent_dim=4):
        super().__init__()
        self.latent_dim = latent_dim
        self.project = nn.Linear(latent_dim, 4 * 4 * 4)  # (N, 4) -> (N, 64)
        self.bn = nn.BatchNorm2d(4)
        self.deconv = nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1)  # (N, 4, 4, 4) -> (N, 3, 8, 8)

    def forward(self, z):
        return self.deconv(F.relu(self.bn(F.reshape(self.project(z), (z.shape[0], 4, 4, 4)))))


class TinyCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 4, stride=2, padding=1)  # (N, 3, 8, 8) -> (N, 4, 4, 4)
        self.head = nn.Linear(64, 1)  # (N, 64) -> (N, 1)

    def forward(self, x):
        return F.reshape(self.head(F.flatten(F.leaky_relu(self.conv(x), 0.2), 1)), (x.shape[0],))


def tiny_data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 3, 8, 8), np.float32)
    images[:, :, 2:6, 2:6] = 0.8
    return images + 0.05 * rng.standard_normal(images.shape).astype(np.float32)


def make_trainer(seed=0, lr=1e-4, n_critic=2):
    mg.manual_seed(seed)
    return WGANGP(TinyGenerator(), TinyCritic(), n_critic=n_critic, lambda_gp=10.0, lr=lr)


def test_wgan_gp_networks_have_the_documented_shapes():
    mg.manual_seed(0)
    G, D = WGANGenerator(latent_dim=16, width=2), WGANCritic(width=2)
    x = G(mg.randn(3, 16))
    assert x.shape == (3, 3, 64, 64)
    assert D(x).shape == (3,)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())  # no batch norm in the critic
    assert any(isinstance(m, nn.LayerNorm) for m in WGANCritic(width=2, norm="layer").modules())


def test_a_training_step_lowers_the_critic_loss():
    trainer = make_trainer(lr=1e-3, n_critic=5)
    real = mg.tensor(tiny_data(8))
    fake = trainer.generate(trainer.noise(8))  # fixed fakes and alphas
    alpha = np.linspace(0.1, 0.9, 8)

    def critic_loss():
        f = trainer.critic
        with mg.no_grad():
            return (
                losses.critic_loss_wasserstein(f(real), f(fake)) + losses.gradient_penalty(f, real, fake, alpha=alpha)
            ).item()

    before = critic_loss()
    for _ in range(3):
        metrics = trainer.train_step(real)
    after = critic_loss()
    assert after < before - 0.05, (before, after)
    assert set(metrics) == {"critic_loss", "gp", "g_loss", "wasserstein"}
    assert all(np.isfinite(v) for v in metrics.values())


def test_train_step_is_algorithm_1_written_out():
    """One train_step equals n_critic Adam steps on the critic loss with the penalty, then one on -E f(G(z)),
    written here from the paper with the same random draws."""
    trainer, by_hand = make_trainer(seed=1), make_trainer(seed=1)
    real = mg.tensor(tiny_data(8))
    mg.manual_seed(5)
    trainer.train_step(real)
    mg.manual_seed(5)
    G, D = by_hand.generator, by_hand.critic
    for _ in range(2):
        with mg.no_grad():
            fake = G(mg.randn(8, 4))
        loss = F.mean(D(fake)) - F.mean(D(real)) + losses.gradient_penalty(D, real, fake, 10.0)
        for p, g in zip(D.parameters(), autograd.grad(loss, list(D.parameters()))):
            p.grad = g
        by_hand.optimizer_d.step()
    loss = -F.mean(D(G(mg.randn(8, 4))))
    for p, g in zip(G.parameters(), autograd.grad(loss, list(G.parameters()))):
        p.grad = g
    by_hand.optimizer_g.step()
    for name in ("generator", "critic"):
        a, b = getattr(trainer, name).state_dict(), getattr(by_hand, name).state_dict()
        for key in a:
            assert np.array_equal(a[key].numpy(), b[key].numpy()), f"{name}.{key}"


def test_wgan_gp_resumes_exactly(tmp_path):
    full, resumed = assert_resumes_exactly(
        lambda: WGANGP(TinyGenerator(), TinyCritic(), n_critic=2),
        tiny_data(),
        tmp_path,
        epochs=2,
        batch_size=8,
        checkpoint_every=2,
        kill_at=4,
    )
    assert full.step == resumed.step == 6


def test_sample_is_n_images_from_the_generator_in_eval_mode():
    trainer = make_trainer()
    mg.manual_seed(3)
    images = trainer.sample(5)
    mg.manual_seed(3)
    again = trainer.generate(trainer.noise(5))
    assert images.shape == (5, 3, 8, 8) and np.array_equal(images.numpy(), again.numpy())
    assert trainer.generator.training  # mode restored
