"""minigan.trainers.ssgan and the K+1-class losses: the losses against a hand computation with an explicit
fake class, the update lowers the supervised loss, exact resume through fit, the labelled set in the config."""

import numpy as np
import pytest
from gan_data import bar_digits
from trainer_contract import assert_resumes_exactly

import minigan as mg
from minigan import losses
from minigan.models import DCGANGenerator, SSGANDiscriminator
from minigan.trainers.ssgan import SemiSupervisedGAN, classification_accuracy


def tiny(x, y, generator_loss="feature_matching", seed=0, lr=1e-3):
    mg.manual_seed(seed)
    return SemiSupervisedGAN(
        DCGANGenerator(8, width=4),
        SSGANDiscriminator(10, width=4, hidden=16),
        x,
        y,
        labelled_batch=len(y),
        generator_loss=generator_loss,
        lr=lr,
    )


def test_losses_against_a_hand_computation_with_an_explicit_fake_class():
    rng = np.random.default_rng(5)
    K = 4
    labelled, unlabelled, fake = rng.normal(size=(3, K)), rng.normal(size=(5, K)), rng.normal(size=(2, K))
    labels = np.array([0, 3, 1])

    def k_plus_1_probabilities(logits):  # explicit softmax over K real classes + fake (logit 0)
        full = np.concatenate([logits, np.zeros((len(logits), 1))], 1)
        e = np.exp(full - full.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    p_lab = k_plus_1_probabilities(labelled)
    supervised = -np.mean(np.log(p_lab[np.arange(3), labels] / (1 - p_lab[:, K])))  # log p(y | x, y <= K)
    unsupervised = -np.mean(np.log(1 - k_plus_1_probabilities(unlabelled)[:, K])) - np.mean(
        np.log(k_plus_1_probabilities(fake)[:, K])
    )
    total, sup, unsup = losses.ssgan_discriminator_loss(
        mg.tensor(labelled), labels, mg.tensor(unlabelled), mg.tensor(fake), unsupervised_weight=0.5
    )
    assert sup.item() == pytest.approx(supervised, rel=1e-6)
    assert unsup.item() == pytest.approx(unsupervised, rel=1e-6)
    assert total.item() == pytest.approx(supervised + 0.5 * unsupervised, rel=1e-6)
    real_f, fake_f = rng.normal(size=(6, 3)), rng.normal(size=(4, 3))
    expected = np.sum((real_f.mean(0) - fake_f.mean(0)) ** 2)
    assert losses.feature_matching_loss(mg.tensor(real_f), mg.tensor(fake_f)).item() == pytest.approx(
        expected, rel=1e-6
    )


@pytest.mark.parametrize("generator_loss", ["feature_matching", "nonsaturating"])
def test_steps_lower_the_supervised_loss(generator_loss):
    x, y = bar_digits(16)
    trainer = tiny(x[:10], y[:10], generator_loss, seed=6)
    records = [trainer.train_step(x) for _ in range(6)]
    assert records[-1]["supervised"] < records[0]["supervised"]
    p = trainer.classify(x)
    assert p.shape == (16, 10) and np.allclose(p.sum(1), 1, atol=1e-5)


def test_bad_arguments_and_labelled_batches_are_refused():
    x, y = bar_digits(8)
    with pytest.raises(ValueError, match="generator_loss"):
        tiny(x, y, generator_loss="bogus")
    with pytest.raises(ValueError, match="as many"):
        tiny(x, y[:3])
    with pytest.raises(TypeError, match="unlabelled batches"):
        tiny(x, y).train_step((x, y))


def test_the_config_names_the_labelled_set():
    x, y = bar_digits(8)
    a, b = tiny(x, y).config(), tiny(x, (y + 1) % 10).config()
    assert a["labelled"] == 8 and a["labelled_sha256"] != b["labelled_sha256"]
    assert tiny(x, y, seed=1).config() == a  # the weights are not settings


def test_resumes_exactly(tmp_path):
    x, y = bar_digits(16)
    full, resumed = assert_resumes_exactly(
        lambda: SemiSupervisedGAN(
            DCGANGenerator(8, width=4), SSGANDiscriminator(10, width=4, hidden=16), x[:6], y[:6], labelled_batch=4
        ),
        x,
        tmp_path,
        epochs=2,
        batch_size=4,
        checkpoint_every=2,
        kill_at=3,
    )
    assert full.step == resumed.step == 8


class Bars(mg.nn.Module):
    """A fixed "classifier": the logit of class k is the mean brightness of the columns of bar k."""

    def forward(self, x):
        columns = x.numpy()[:, 0].mean(1)  # (N, 28)
        return mg.tensor(np.stack([columns[:, 2 + 2 * k : 4 + 2 * k].mean(1) for k in range(10)], 1))


def test_classification_accuracy_maps_the_images_to_minus_one_one():
    x, y = bar_digits(12)
    unit = (x + 1) / 2  # data in [0, 1]
    assert classification_accuracy(Bars(), (unit, y)) == {"test_accuracy": 1.0, "chance": 0.1}
    assert classification_accuracy(Bars(), (unit, (y + 1) % 10))["test_accuracy"] == 0.0
