"""minigan.trainers.conditional: the conditional DCGAN's networks use their label, train_step is the paper's
eq. 2 written out (two D steps, then G), it resumes exactly through fit, and its measurement counts right."""

import numpy as np
import pytest
from gan_data import ConstantJudge, bar_digits
from trainer_contract import assert_resumes_exactly

import minigan as mg
import minigan.functional as F
from minigan import autograd, losses
from minigan.models.gan_variants import ConditionalDCGANDiscriminator, ConditionalDCGANGenerator, label_maps
from minigan.trainers.conditional import ConditionalGAN


def tiny(seed=0, d_steps=2, lr=2e-4):
    mg.manual_seed(seed)
    return ConditionalGAN(
        ConditionalDCGANGenerator(4, 10, width=4), ConditionalDCGANDiscriminator(10, width=4), d_steps=d_steps, lr=lr
    )


def test_networks_have_the_documented_shapes_and_use_the_label():
    mg.manual_seed(0)
    G, D = ConditionalDCGANGenerator(16, 10, width=8), ConditionalDCGANDiscriminator(10, width=8)
    z, y = mg.randn(5, 16), np.array([0, 1, 2, 3, 9])
    x = G(z, y)
    assert x.shape == (5, 1, 28, 28) and float(np.abs(x.numpy()).max()) <= 1
    assert D(x, y).shape == (5,)
    G.eval()
    D.eval()
    with mg.no_grad():
        assert np.abs(G(z, [0] * 5).numpy() - G(z, [1] * 5).numpy()).max() > 1e-3
        assert np.abs(D(x, y).numpy() - D(x, (y + 1) % 10).numpy()).max() > 1e-4
    maps = label_maps(F.one_hot(np.array([2, 0]), 3), 4, 4).numpy()
    assert maps.shape == (2, 3, 4, 4) and maps[0, 2].min() == 1 and maps[0, :2].max() == 0 and maps[1, 0].min() == 1


def test_train_step_is_equation_2_written_out():
    """One train_step = d_steps Adam steps of D on the binary cross-entropy of (x | y) vs (G(z | y~) | y~), then
    one Adam step of G on -log D(G(z | y~) | y~), with the same random draws (labels first, then z)."""
    trainer, by_hand = tiny(seed=1), tiny(seed=1)
    x, y = bar_digits(8)
    mg.manual_seed(5)
    metrics = trainer.train_step((mg.tensor(x), mg.tensor(y)))
    mg.manual_seed(5)
    G, D, rng = by_hand.generator, by_hand.discriminator, mg.backend.generator("cpu")
    for _ in range(2):
        fake_y = rng.integers(0, 10, 8)
        with mg.no_grad():
            fake = G(mg.randn(8, 4), fake_y)
        loss = F.mean(F.softplus(-D(mg.tensor(x), y))) + F.mean(F.softplus(D(fake, fake_y)))
        for p, g in zip(D.parameters(), autograd.grad(loss, list(D.parameters()))):
            p.grad = g
        by_hand.optimizer_d.step()
    fake_y = rng.integers(0, 10, 8)
    loss = F.mean(F.softplus(-D(G(mg.randn(8, 4), fake_y), fake_y)))
    for p, g in zip(G.parameters(), autograd.grad(loss, list(G.parameters()))):
        p.grad = g
    by_hand.optimizer_g.step()
    for name in ("generator", "discriminator"):
        a, b = getattr(trainer, name).state_dict(), getattr(by_hand, name).state_dict()
        assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a), name
    assert metrics["g_loss"] == pytest.approx(loss.item(), rel=1e-6)
    assert set(metrics) == {"d_loss", "g_loss", "d_real", "d_fake", "d_accuracy"}


def test_discriminator_steps_lower_its_loss():
    trainer = tiny(seed=2, lr=1e-3)
    trainer.optimizer_g.step = lambda: None  # G frozen: watch D alone learn
    x, y = bar_digits(16)
    z, fake_y = mg.randn(16, 4), np.arange(16) % 10

    def d_loss():
        with mg.no_grad():
            fake = trainer.generator(z, fake_y)
            return losses.d_loss_minimax(
                trainer.discriminator(mg.tensor(x), y), trainer.discriminator(fake, fake_y)
            ).item()

    before = d_loss()
    for _ in range(3):
        trainer.train_step((x, y))
    assert d_loss() < before - 0.1


def test_unlabelled_batches_are_refused_with_a_clear_error():
    x, _ = bar_digits(4)
    with pytest.raises(TypeError, match=r"labelled batches \(x, y\)"):
        tiny().train_step(mg.tensor(x))


def test_resumes_exactly(tmp_path):
    full, resumed = assert_resumes_exactly(
        lambda: ConditionalGAN(ConditionalDCGANGenerator(4, 10, width=4), ConditionalDCGANDiscriminator(10, width=4)),
        bar_digits(16),
        tmp_path,
        epochs=2,
        batch_size=4,
        checkpoint_every=2,
        kill_at=3,
    )
    assert full.step == resumed.step == 8


def test_sample_cycles_the_labels_and_conditional_accuracy_counts_per_label():
    trainer = tiny(seed=3)
    mg.manual_seed(4)
    images = trainer.sample(12)
    mg.manual_seed(4)
    again = trainer.generate(trainer.noise(12), np.arange(12) % 10)
    assert images.shape == (12, 1, 28, 28) and np.array_equal(images.numpy(), again.numpy())
    assert trainer.generator.training  # eval mode only while sampling
    result = trainer.conditional_accuracy(ConstantJudge(3), per_class=4)
    assert result["accuracy"] == pytest.approx(0.1)  # right for label 3 only
    assert result["per_class"] == [0.0] * 3 + [1.0] + [0.0] * 6
    assert result["coverage"]["covered"] == 1
