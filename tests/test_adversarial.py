"""minigan.adversarial and models.gan_variants: shapes, one update lowers D's loss, the InfoGAN information
loss falls, the conditional generator uses its label, the K+1-class loss against a hand computation."""
import types

import numpy as np
import pytest

import minigan as mg
import minigan.functional as F
from minigan import adversarial as A
from minigan import losses
from minigan.data import DataLoader
from minigan.models import DCGANDiscriminator, DCGANGenerator
from minigan.models.gan_variants import (ConditionalDCGANDiscriminator, ConditionalDCGANGenerator,
                                         InfoGANDiscriminator, InfoGANGenerator, SSGANDiscriminator, label_maps)
from minigan.training import fit


def synthetic_digits(n=32, seed=0):
    """Bright vertical bars (class = bar position mod 10) on -1, in [-1, 1]: (n, 1, 28, 28), (n,)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    x = -np.ones((n, 1, 28, 28), np.float32)
    for i, c in enumerate(labels):
        x[i, 0, 4:24, 2 + 2 * c:4 + 2 * c] = 1
    return x, labels


def test_shapes_of_every_network():
    mg.manual_seed(0)
    z, y = mg.randn(5, 16), np.array([0, 1, 2, 3, 9])
    G = ConditionalDCGANGenerator(16, 10, width=8)
    D = ConditionalDCGANDiscriminator(10, width=8)
    x = G(z, y)
    assert x.shape == (5, 1, 28, 28) and float(np.abs(x.numpy()).max()) <= 1
    assert D(x, y).shape == (5,)
    G = InfoGANGenerator(16, 10, 2, width=8)
    DQ = InfoGANDiscriminator(10, 2, width=8, hidden=32)
    x = G(z, y, mg.zeros(5, 2))
    logits, q_cat, q_mean, q_logvar = DQ.with_q(x)
    assert x.shape == (5, 1, 28, 28) and logits.shape == (5,) and DQ(x).shape == (5,)
    assert q_cat.shape == (5, 10) and q_mean.shape == (5, 2) and q_logvar.shape == (5, 2)
    S = SSGANDiscriminator(10, width=8, hidden=32)
    assert S(x).shape == (5, 10) and S.features(x).shape == (5, 32)
    maps = label_maps(F.one_hot(np.array([2, 0]), 3), 4, 4).numpy()
    assert maps.shape == (2, 3, 4, 4) and maps[0, 2].min() == 1 and maps[0, :2].max() == 0 and maps[1, 0].min() == 1


def test_discriminator_updates_lower_its_loss_on_synthetic_data():
    mg.manual_seed(1)
    real, _ = synthetic_digits(32)
    model = A.GAN(DCGANGenerator(16, width=8), DCGANDiscriminator(width=8, batch_norm=False), d_steps=2,
                  lr=1e-3)
    model.optimizer_g = types.SimpleNamespace(step=lambda: None)       # G frozen: watch D alone learn
    z = mg.randn(32, 16)

    def d_loss():
        with mg.no_grad():
            return losses.d_loss_minimax(model.discriminator(mg.tensor(real)),
                                         model.discriminator(model.generator(z))).item()

    before = d_loss()
    records = [model.train_step(real) for _ in range(5)]
    assert d_loss() < before - 0.1
    assert all(np.isfinite(list(r.values())).all() for r in records)
    assert records[-1]["d_accuracy"] > 0.9


def test_nonsaturating_and_minimax_generator_steps_run():
    mg.manual_seed(2)
    real, _ = synthetic_digits(8)
    for loss in ("nonsaturating", "minimax"):
        record = A.GAN(DCGANGenerator(8, width=4), DCGANDiscriminator(width=4), generator_loss=loss).train_step(real)
        assert np.isfinite(record["g_loss"])
    with pytest.raises(ValueError):
        A.GAN(DCGANGenerator(8, width=4), DCGANDiscriminator(width=4), generator_loss="bogus")


def test_infogan_information_loss_decreases():
    mg.manual_seed(3)
    real, _ = synthetic_digits(32)
    model = A.InfoGAN(InfoGANGenerator(8, 10, 2, width=8), InfoGANDiscriminator(10, 2, width=8, hidden=32),
                      lr=1e-3)
    records = [model.train_step(real) for _ in range(25)]
    first = np.mean([r["info_categorical"] for r in records[:3]])
    last = np.mean([r["info_categorical"] for r in records[-3:]])
    assert first > 2.0 and last < first - 0.5                           # log 10 = 2.30 at the start
    assert np.mean([r["info_continuous"] for r in records[-3:]]) < np.mean([r["info_continuous"] for r in records[:3]])


def test_conditional_gan_output_depends_on_the_label_and_trains_through_fit(tmp_path):
    mg.manual_seed(4)
    G = ConditionalDCGANGenerator(8, 10, width=8)
    D = ConditionalDCGANDiscriminator(10, width=8)
    model = A.ConditionalGAN(G, D, d_steps=2)
    z = mg.randn(4, 8)
    zero, one = model.sample(z, [0] * 4).numpy(), model.sample(z, [1] * 4).numpy()
    assert np.abs(zero - one).max() > 1e-3
    x, y = synthetic_digits(16)
    with mg.no_grad():
        D.eval()
        assert np.abs(D(mg.tensor(x), y).numpy() - D(mg.tensor(x), (y + 1) % 10).numpy()).max() > 1e-4
        D.train()
    loader = A.LabelledBatches(DataLoader(x, y, batch_size=8, shuffle=True, seed=0, drop_last=True))
    result = fit(model, loader, epochs=1, out_dir=str(tmp_path), progress=False)
    assert result["step"] == 2 and np.isfinite(result["last"]["d_loss"])


def test_ssgan_loss_against_a_hand_computation_with_an_explicit_fake_class():
    rng = np.random.default_rng(5)
    K = 4
    labelled, unlabelled, fake = rng.normal(size=(3, K)), rng.normal(size=(5, K)), rng.normal(size=(2, K))
    labels = np.array([0, 3, 1])

    def k_plus_1_probabilities(logits):                # explicit softmax over K real classes + fake (logit 0)
        full = np.concatenate([logits, np.zeros((len(logits), 1))], 1)
        e = np.exp(full - full.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    p_lab = k_plus_1_probabilities(labelled)
    supervised = -np.mean(np.log(p_lab[np.arange(3), labels] / (1 - p_lab[:, K])))   # log p(y | x, y <= K)
    unsupervised = (-np.mean(np.log(1 - k_plus_1_probabilities(unlabelled)[:, K]))
                    - np.mean(np.log(k_plus_1_probabilities(fake)[:, K])))
    total, sup, unsup = A.ssgan_discriminator_loss(mg.tensor(labelled), labels, mg.tensor(unlabelled), mg.tensor(fake),
                                                   unsupervised_weight=0.5)
    assert sup.item() == pytest.approx(supervised, rel=1e-6)
    assert unsup.item() == pytest.approx(unsupervised, rel=1e-6)
    assert total.item() == pytest.approx(supervised + 0.5 * unsupervised, rel=1e-6)
    real_f, fake_f = rng.normal(size=(6, 3)), rng.normal(size=(4, 3))
    expected = np.sum((real_f.mean(0) - fake_f.mean(0)) ** 2)
    assert A.feature_matching_loss(mg.tensor(real_f), mg.tensor(fake_f)).item() == pytest.approx(expected, rel=1e-6)


def test_ssgan_step_runs_and_classifies():
    mg.manual_seed(6)
    x, y = synthetic_digits(32)
    for generator_loss in ("feature_matching", "nonsaturating"):
        model = A.SemiSupervisedGAN(DCGANGenerator(8, width=4), SSGANDiscriminator(10, width=4, hidden=16),
                                    x[:10], y[:10], labelled_batch=10, generator_loss=generator_loss, lr=1e-3)
        records = [model.train_step(x) for _ in range(8)]
        assert records[-1]["supervised"] < records[0]["supervised"]
        p = model.classify(x)
        assert p.shape == (32, 10) and np.allclose(p.sum(1), 1, atol=1e-5)


def test_adversarial_loop_with_a_logistic_regression_discriminator():
    """Source 004: any binary classifier can be the discriminator -- here logistic regression on pixels."""
    from minigan import optim
    from minigan.models import LogisticRegression
    mg.manual_seed(7)
    x, _ = synthetic_digits(32)
    G, D = DCGANGenerator(8, width=4), LogisticRegression(784, 1)
    opt_g, opt_d = optim.Adam(G.parameters(), lr=1e-3), optim.Adam(D.parameters(), lr=1e-2)

    def train_d(real, fake):
        loss = losses.d_loss_minimax(F.reshape(D(real), (-1,)), F.reshape(D(fake), (-1,)))
        opt_d.zero_grad(), loss.backward(), opt_d.step()
        return {"d_loss": loss.item()}

    def train_g(n):
        loss = losses.g_loss_nonsaturating(F.reshape(D(G(mg.randn(n, 8))), (-1,)))
        opt_g.zero_grad(), opt_d.zero_grad(), loss.backward(), opt_g.step()
        return {"g_loss": loss.item()}

    def generate(n):
        with mg.no_grad():
            return G(mg.randn(n, 8))

    history = A.adversarial_loop(DataLoader(x, batch_size=16), generate, train_d, train_g, steps=5,
                                 monitor=lambda step: {"monitored": step}, monitor_every=2)
    assert [r["step"] for r in history] == [1, 2, 3, 4, 5]
    assert "monitored" in history[1] and "monitored" in history[4] and "monitored" not in history[0]
    assert all(np.isfinite(r["d_loss"]) and np.isfinite(r["g_loss"]) for r in history)


def test_noise_prediction_term_is_infogan_with_all_of_z_as_continuous_codes():
    """Source 003's entropy term: a third network predicts the noise from the sample (a variational bound on
    H(z | x)), so G cannot ignore z. With no categorical code and z made entirely of continuous codes,
    InfoGAN's update is exactly that; the prediction loss falls."""
    mg.manual_seed(8)
    real, _ = synthetic_digits(16)
    model = A.InfoGAN(InfoGANGenerator(0, 0, 16, width=8), InfoGANDiscriminator(0, 16, width=8, hidden=32),
                      lambda_categorical=0.0, lambda_continuous=1.0, lr=1e-3)
    records = [model.train_step(real) for _ in range(12)]
    assert records[-1]["info_categorical"] == 0.0
    assert np.mean([r["info_continuous"] for r in records[-3:]]) < np.mean([r["info_continuous"] for r in records[:3]]) - 1
    assert model.sample(mg.randn(3, 0)).shape == (3, 1, 28, 28)
