"""minigan.trainers.gan / dcgan / wgan_clip: each train_step is its paper's Algorithm 1 written out (checked
against the update spelled out here with the same random draws), the minimax and non-saturating generator
losses, weight clipping, and exact resume through fit. Tiny networks on 4x4 or 28x28 images."""

import numpy as np
import pytest

import minigan as mg
from minigan import autograd, losses
from minigan import functional as F
from minigan.data.splits import stratified
from minigan.models import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from minigan.trainers.dcgan import DCGAN
from minigan.trainers.gan import GAN, digit_judgement
from minigan.trainers.wgan_clip import WGANClip
from trainer_contract import assert_resumes_exactly


def tiny_images(n=24, size=4, seed=0):
    rng = np.random.default_rng(seed)
    images = -np.ones((n, 1, size, size), np.float32)
    images[:, :, 1:-1, 1:-1] = 0.6
    return np.clip(images + 0.1 * rng.standard_normal(images.shape), -1, 1).astype(np.float32)


def mlp_gan(generator_loss="nonsaturating", d_steps=1):
    return GAN(
        MLPGenerator(latent_dim=3, hidden=8, data_dim=16),
        MLPDiscriminator(hidden=8, data_dim=16),
        d_steps=d_steps,
        generator_loss=generator_loss,
        lr=1e-3,
        image_shape=(1, 4, 4),
    )


def mlp_wgan(clip_value=0.01):
    return WGANClip(
        MLPGenerator(latent_dim=3, hidden=8, data_dim=16),
        MLPDiscriminator(hidden=8, data_dim=16),
        n_critic=2,
        clip_value=clip_value,
        lr=1e-3,
        image_shape=(1, 4, 4),
    )


def set_grads(loss, parameters):
    for p, g in zip(parameters, autograd.grad(loss, parameters)):
        p.grad = g


@pytest.mark.parametrize("generator_loss", ["nonsaturating", "minimax"])
def test_gan_train_step_is_algorithm_1_written_out(generator_loss):
    """k = 2 discriminator steps on -[log D(x) + log(1 - D(G(z)))], then one generator step on
    -log D(G(z)) (non-saturating) or log(1 - D(G(z))) (minimax), with D(x) = sigmoid(logit)."""
    mg.manual_seed(1)
    trainer = mlp_gan(generator_loss, d_steps=2)
    mg.manual_seed(1)
    by_hand = mlp_gan(generator_loss, d_steps=2)
    real = mg.tensor(tiny_images(8))
    mg.manual_seed(5)
    metrics = trainer.train_step(real)
    mg.manual_seed(5)
    G, D, x = by_hand.generator, by_hand.discriminator, F.reshape(real, (8, 16))
    for _ in range(2):
        with mg.no_grad():
            fake = G(mg.randn(8, 3))
        d_loss = -F.mean(F.log(F.sigmoid(D(x)))) - F.mean(F.log(1 - F.sigmoid(D(fake))))
        set_grads(d_loss, list(D.parameters()))
        by_hand.optimizer_d.step()
        for p in D.parameters():
            p.grad = None
    d_fake = F.sigmoid(D(G(mg.randn(8, 3))))
    g_loss = -F.mean(F.log(d_fake)) if generator_loss == "nonsaturating" else F.mean(F.log(1 - d_fake))
    set_grads(g_loss, list(G.parameters()))
    by_hand.optimizer_g.step()
    assert metrics["g_loss"] == pytest.approx(g_loss.item(), rel=1e-5)
    assert metrics["d_loss"] == pytest.approx(d_loss.item(), rel=1e-5)
    for name in ("generator", "discriminator"):
        a, b = getattr(trainer, name).state_dict(), getattr(by_hand, name).state_dict()
        for key in a:
            np.testing.assert_allclose(a[key].numpy(), b[key].numpy(), rtol=1e-5, atol=1e-6, err_msg=f"{name}.{key}")


def test_the_minimax_generator_loss_saturates_where_the_non_saturating_one_does_not():
    logits = mg.tensor(np.full(4, -8.0, np.float32), requires_grad=True)  # D rejects the fakes
    (minimax,) = autograd.grad(losses.g_loss_minimax(logits), [logits])
    (nonsaturating,) = autograd.grad(losses.g_loss_nonsaturating(logits), [logits])
    assert np.abs(minimax.numpy()).max() < 1e-3 < 0.2 < np.abs(nonsaturating.numpy()).min()


def test_wgan_clip_train_step_is_algorithm_1_written_out():
    mg.manual_seed(2)
    trainer = mlp_wgan()
    mg.manual_seed(2)
    by_hand = mlp_wgan()
    real = mg.tensor(tiny_images(8))
    mg.manual_seed(6)
    trainer.train_step(real)
    mg.manual_seed(6)
    G, f, x = by_hand.generator, by_hand.critic, F.reshape(real, (8, 16))
    for _ in range(2):
        with mg.no_grad():
            fake = G(mg.randn(8, 3))
        set_grads(-(F.mean(f(x)) - F.mean(f(fake))), list(f.parameters()))  # ascend E f(x) - E f(G(z))
        by_hand.optimizer_d.step()
        for p in f.parameters():
            p.array[...] = np.clip(p.array, -0.01, 0.01)  # w <- clip(w, -c, c)
            p.grad = None
    set_grads(-F.mean(f(G(mg.randn(8, 3)))), list(G.parameters()))
    by_hand.optimizer_g.step()
    for name in ("generator", "critic"):
        a, b = getattr(trainer, name).state_dict(), getattr(by_hand, name).state_dict()
        for key in a:
            np.testing.assert_allclose(a[key].numpy(), b[key].numpy(), rtol=1e-5, atol=1e-7, err_msg=f"{name}.{key}")
    assert max(np.abs(p.numpy()).max() for p in trainer.critic.parameters()) <= 0.01


def test_samples_are_images_in_the_generators_range():
    mg.manual_seed(0)
    for trainer in (mlp_gan(), mlp_wgan()):
        images = trainer.sample(5).numpy()
        assert images.shape == (5, 1, 4, 4) and images.min() >= -1 and images.max() <= 1
        assert trainer.sample_range == (-1.0, 1.0)


def test_gan_resumes_exactly(tmp_path):
    full, resumed = assert_resumes_exactly(mlp_gan, tiny_images(), tmp_path, batch_size=4, kill_at=5)
    assert full.step == resumed.step == 12


def test_wgan_clip_resumes_exactly(tmp_path):
    assert_resumes_exactly(mlp_wgan, tiny_images(), tmp_path, batch_size=8, kill_at=3)


def test_dcgan_resumes_exactly(tmp_path):
    def build():
        return DCGAN(DCGANGenerator(latent_dim=4, width=2), DCGANDiscriminator(width=2), lr=1e-3)

    full, _ = assert_resumes_exactly(build, tiny_images(12, size=28), tmp_path, batch_size=4, kill_at=4)
    assert full.config()["family"] == "dcgan" and full.sample(2).shape == (2, 1, 28, 28)


def test_the_digit_judge_tells_real_digits_from_a_constant_generator():
    """gan.digit_judgement (what `minigan evaluate` prints for the GAN families): real digits read as all ten
    classes; a generator that always draws the same image covers one class. A small judge, on 600 digits."""
    from minigan import data

    try:
        train, test = data.load("mnist5k"), data.load("mnist5k", split="test")
    except (ModuleNotFoundError, FileNotFoundError) as error:
        pytest.skip(f"mnist5k unavailable: {error}")
    rows, test_rows = stratified(train.y, 600, seed=0), stratified(test.y, 300, seed=0)
    split = ((train.x[rows], train.y[rows]), (test.x[test_rows], test.y[test_rows]))

    class Replay:  # "samples" are real test digits, in the generators' [-1, 1]
        def sample(self, n):
            return mg.tensor(test.x[test_rows[:n]] * 2 - 1)

    class Constant:
        def sample(self, n):
            return mg.tensor(np.repeat(test.x[:1] * 2 - 1, n, axis=0))

    real = digit_judgement(Replay(), split, n=300, classifier_epochs=3)
    constant = digit_judgement(Constant(), split, n=300, classifier_epochs=3)
    assert real["judge_test_accuracy"] > 0.7
    assert real["classes_covered"] == 10 and real["kl_to_uniform"] < 0.1
    assert constant["classes_covered"] == 1 and constant["kl_to_uniform"] > 2.0


def test_n_train_takes_the_same_number_of_each_digit():
    from minigan.trainers.gan import mnist_images

    try:
        images = mnist_images(20, seed=1)
    except (ModuleNotFoundError, FileNotFoundError) as error:
        pytest.skip(f"mnist5k unavailable: {error}")
    assert images.shape == (20, 1, 28, 28) and images.min() >= -1 and images.max() <= 1
    assert len({images[i].tobytes() for i in range(20)}) == 20
