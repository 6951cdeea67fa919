"""minigan.trainers.bigan and models.bigan: shapes, the D step lowers D's loss, the E/G step lowers theirs
and leaves D alone, exact resume through fit, the no-graph maps."""

import numpy as np
from gan_data import bar_digits
from trainer_contract import assert_resumes_exactly

import minigan as mg
from minigan.models import BiGANDiscriminator, BiGANEncoder, BiGANGenerator
from minigan.trainers.bigan import BiGAN


def networks(latent_dim=8, hidden=32, dropout=0.0):
    return (
        BiGANEncoder(latent_dim, hidden),
        BiGANGenerator(latent_dim, hidden),
        BiGANDiscriminator(latent_dim, hidden, dropout=dropout),
    )


def small(seed=0, lr=1e-3):
    mg.manual_seed(seed)
    return BiGAN(*networks(), lr=lr)


def test_shapes():
    model = small()
    x = bar_digits(5)[0]
    z = model.encoder(x)
    assert z.shape == (5, 8)
    assert model.encoder(x.reshape(5, 784)).shape == (5, 8)
    images = model.generator(mg.randn(5, 8))
    assert images.shape == (5, 784) and float(np.abs(images.numpy()).max()) <= 1
    assert model.discriminator(x, z).shape == (5,)
    assert model.encode(x).shape == (5, 8) and model.reconstruct(x).shape == (5, 1, 28, 28)
    assert model.sample(3).shape == (3, 1, 28, 28)


def test_discriminator_step_lowers_its_loss_on_a_fixed_batch():
    model = small(seed=1)
    model.optimizer_eg.step = lambda: None  # E, G frozen: D alone learns
    x, z = mg.tensor(bar_digits(32)[0].reshape(32, 784)), mg.randn(32, 8)

    def d_loss():
        with mg.no_grad():
            return model.losses(x, z)[0].item()

    before = d_loss()
    records = [model.train_step(x) for _ in range(5)]
    assert d_loss() < before - 0.1
    assert all(np.isfinite(list(r.values())).all() for r in records)


def test_encoder_generator_step_lowers_their_loss():
    model = small(seed=2)
    model.optimizer_d.step = lambda: None  # D frozen: E and G alone learn
    x, z = mg.tensor(bar_digits(32)[0].reshape(32, 784)), mg.randn(32, 8)

    def eg_loss():
        with mg.no_grad():
            return model.losses(x, z)[1].item()

    before = eg_loss()
    d_before = [p.numpy().copy() for p in model.d_params]
    for _ in range(10):
        model.train_step(x)
    assert eg_loss() < before - 0.05
    assert all(np.array_equal(a, p.numpy()) for a, p in zip(d_before, model.d_params))


def test_resumes_exactly_with_dropout_in_d(tmp_path):
    full, resumed = assert_resumes_exactly(
        lambda: BiGAN(*networks(hidden=16, dropout=0.5)),
        bar_digits(16)[0],
        tmp_path,
        epochs=2,
        batch_size=4,
        checkpoint_every=2,
        kill_at=3,
    )
    assert full.step == resumed.step == 8
