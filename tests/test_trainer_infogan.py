"""minigan.trainers.infogan: the information terms fall as Q and G learn, the noise-prediction special case,
exact resume through fit, and the code study's bookkeeping."""

import numpy as np
import pytest
from gan_data import ConstantJudge, bar_digits
from trainer_contract import assert_resumes_exactly

import minigan as mg
from minigan.models.gan_variants import InfoGANDiscriminator, InfoGANGenerator
from minigan.trainers.infogan import InfoGAN


def tiny(seed=0, lr=1e-3, categories=10, continuous=2, noise=8):
    mg.manual_seed(seed)
    return InfoGAN(
        InfoGANGenerator(noise, categories, continuous, width=4),
        InfoGANDiscriminator(categories, continuous, width=4, hidden=16),
        lr=lr,
    )


def test_networks_have_the_documented_shapes():
    mg.manual_seed(0)
    G, DQ = InfoGANGenerator(16, 10, 2, width=4), InfoGANDiscriminator(10, 2, width=4, hidden=32)
    x = G(mg.randn(5, 16), np.array([0, 1, 2, 3, 9]), mg.zeros(5, 2))
    logits, q_cat, q_mean, q_logvar = DQ.with_q(x)
    assert x.shape == (5, 1, 28, 28) and logits.shape == (5,) and DQ(x).shape == (5,)
    assert q_cat.shape == (5, 10) and q_mean.shape == (5, 2) and q_logvar.shape == (5, 2)


def test_information_losses_decrease():
    real, _ = bar_digits(16)
    trainer = tiny(seed=3, lr=3e-3)
    records = [trainer.train_step(real) for _ in range(15)]
    first = np.mean([r["info_categorical"] for r in records[:3]])
    last = np.mean([r["info_categorical"] for r in records[-3:]])
    assert first > 2.0 and last < first - 0.4  # log 10 = 2.30 at the start
    assert np.mean([r["info_continuous"] for r in records[-3:]]) < np.mean([r["info_continuous"] for r in records[:3]])


def test_noise_prediction_term_is_infogan_with_all_of_z_as_continuous_codes():
    """Source 003's entropy term: a third network predicts the noise from the sample (a variational bound on
    H(z | x)), so G cannot ignore z. With no categorical code and z made entirely of continuous codes,
    InfoGAN's update is exactly that; the prediction loss falls."""
    real, _ = bar_digits(16)
    mg.manual_seed(8)
    trainer = InfoGAN(
        InfoGANGenerator(0, 0, 16, width=4),
        InfoGANDiscriminator(0, 16, width=4, hidden=16),
        lambda_categorical=0.0,
        lambda_continuous=1.0,
        lr=1e-3,
    )
    records = [trainer.train_step(real) for _ in range(12)]
    assert records[-1]["info_categorical"] == 0.0
    assert (
        np.mean([r["info_continuous"] for r in records[-3:]]) < np.mean([r["info_continuous"] for r in records[:3]]) - 1
    )
    assert trainer.sample(3).shape == (3, 1, 28, 28)


def test_resumes_exactly(tmp_path):
    full, resumed = assert_resumes_exactly(
        lambda: InfoGAN(InfoGANGenerator(4, 10, 2, width=4), InfoGANDiscriminator(10, 2, width=4, hidden=16)),
        bar_digits(16)[0],
        tmp_path,
        epochs=2,
        batch_size=4,
        checkpoint_every=2,
        kill_at=3,
    )
    assert full.step == resumed.step == 8


def test_traversal_and_code_study_bookkeeping():
    trainer = tiny(seed=4)
    values = np.linspace(-2, 2, 3)
    grid = trainer.traversal(np.zeros(8, np.float32), 1, values)
    assert grid.shape == (30, 1, 28, 28)
    rows = grid.numpy().reshape(10, 3, -1)
    assert not np.allclose(rows[0, 0], rows[0, 2])  # the code moves along a row
    study = trainer.code_study(ConstantJudge(7), n=200)
    assert study["mutual_information_nats"] == pytest.approx(0.0, abs=1e-12)  # every image called 7
    assert study["digits_claimed"] == 1 and study["covered"] == 1
    table = np.array(study["table"])
    assert table.sum() == 200 and study["purity"] == pytest.approx(table.max() / 200)
    assert set(study["correlations"]) == {"c1_width", "c1_slant", "c2_width", "c2_slant"}
