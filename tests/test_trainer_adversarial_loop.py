"""minigan.trainers.adversarial_loop (source 004's recipe): its train_step is the recipe written out (checked
against the steps spelled out here with the same random draws), any binary classifier can be D, exact resume
through fit, and `minigan train / sample / evaluate adversarial-loop` on the built-in digits."""

import json

import numpy as np
import pytest
from trainer_contract import assert_resumes_exactly

import minigan as mg
from minigan import autograd
from minigan import functional as F
from minigan.cli import main
from minigan.models import DCGANDiscriminator, DCGANGenerator, LogisticRegression
from minigan.trainers.adversarial_loop import AdversarialLoop
from minigan.training import CHECKPOINT_NAME, read_run_config


def tiny_digits(n=12, seed=0):
    """Images (n, 1, 28, 28) in [-1, 1]: a bright square on a dark background, with noise."""
    rng = np.random.default_rng(seed)
    images = -np.ones((n, 1, 28, 28), np.float32)
    images[:, :, 8:20, 8:20] = 0.7
    return np.clip(images + 0.1 * rng.standard_normal(images.shape), -1, 1).astype(np.float32)


def logistic_loop():
    return AdversarialLoop(DCGANGenerator(latent_dim=4, width=2), LogisticRegression(784, 1), lr=1e-3, lr_d=5e-3)


def set_grads(loss, parameters):
    for p, g in zip(parameters, autograd.grad(loss, parameters)):
        p.grad = g


def test_train_step_is_the_recipe_written_out():
    """(1) x~ = G(z); (2) one Adam step of D (its own learning rate) on -log D(x) - log(1 - D(x~));
    (3) one Adam step of G on -log D(G(z')) with fresh z'; D a logistic regression giving (N, 1) logits."""
    mg.manual_seed(1)
    loop = logistic_loop()
    mg.manual_seed(1)
    by_hand = logistic_loop()
    real = mg.tensor(tiny_digits(6))
    mg.manual_seed(5)
    metrics = loop.train_step(real)
    mg.manual_seed(5)
    G, D = by_hand.generator, by_hand.discriminator
    with mg.no_grad():
        fake = G(mg.randn(6, 4))
    real_logits, fake_logits = D(real), D(fake)
    assert real_logits.shape == (6, 1)
    # -log D(x) = softplus(-l(x)) and -log(1 - D(x~)) = softplus(l(x~)), D = sigmoid(l): the stable forms,
    # so that the gradients (of G's biases before batch norm, zero but for rounding) round the same way
    d_loss = F.mean(F.softplus(-real_logits)) + F.mean(F.softplus(fake_logits))
    set_grads(d_loss, list(D.parameters()))
    by_hand.optimizer_d.step()
    g_loss = F.mean(F.softplus(-D(G(mg.randn(6, 4)))))
    set_grads(g_loss, list(G.parameters()))
    by_hand.optimizer_g.step()
    assert by_hand.optimizer_d.param_groups[0]["lr"] == 5e-3 and by_hand.optimizer_g.param_groups[0]["lr"] == 1e-3
    assert metrics["d_loss"] == pytest.approx(d_loss.item(), rel=1e-5)
    assert metrics["g_loss"] == pytest.approx(g_loss.item(), rel=1e-5)
    expected_accuracy = ((real_logits.numpy() > 0).sum() + (fake_logits.numpy() < 0).sum()) / 12
    assert metrics["d_accuracy"] == pytest.approx(expected_accuracy)
    for name in ("generator", "discriminator"):
        a, b = getattr(loop, name).state_dict(), getattr(by_hand, name).state_dict()
        for key in a:
            np.testing.assert_allclose(a[key].numpy(), b[key].numpy(), rtol=1e-5, atol=1e-6, err_msg=f"{name}.{key}")
    assert loop.step == 1


def test_config_records_both_learning_rates():
    config = logistic_loop().config()
    assert config["family"] == "adversarial-loop" and config["lr"] == 1e-3 and config["lr_d"] == 5e-3


@pytest.mark.parametrize("discriminator", ["dcgan", "logistic"])
def test_adversarial_loop_resumes_exactly(discriminator, tmp_path):
    def build():
        D = DCGANDiscriminator(width=2) if discriminator == "dcgan" else LogisticRegression(784, 1)
        return AdversarialLoop(DCGANGenerator(latent_dim=4, width=2), D, lr=1e-3, lr_d=2e-3)

    full, resumed = assert_resumes_exactly(build, tiny_digits(), tmp_path, batch_size=4, kill_at=4)
    assert full.step == resumed.step == 6 and full.sample(2).shape == (2, 1, 28, 28)


def test_minigan_train_resume_sample_and_evaluate_the_loop(tmp_path, capsys):
    try:
        import minigan.data as data

        data.load("mnist5k")
    except (ModuleNotFoundError, FileNotFoundError) as error:
        pytest.skip(f"mnist5k unavailable: {error}")
    run = tmp_path / "run"
    common = [
        "--out",
        str(run),
        "--n-train",
        "40",
        "--batch-size",
        "10",
        "--checkpoint-every",
        "3",
        "--no-progress",
        "--sample-epochs",
        "--width",
        "2",
        "--latent-dim",
        "4",
        "--discriminator",
        "logistic",
        "--lr-d",
        "1e-3",
    ]
    assert main(["train", "adversarial-loop", "--epochs", "1", *common]) == 0
    assert main(["train", "adversarial-loop", "--epochs", "2", "--resume", *common]) == 0
    config = read_run_config(str(run))
    assert config["family"] == "adversarial-loop" and config["lr_d"] == 1e-3 and config["batches_per_epoch"] == 4
    assert (run / CHECKPOINT_NAME).exists()
    npy = tmp_path / "samples.npy"
    assert main(["sample", "--run", str(run), "--n", "3", "--out", str(tmp_path / "s.png"), "--npy", str(npy)]) == 0
    images = np.load(npy)
    assert images.shape == (3, 1, 28, 28) and images.min() >= -1 and images.max() <= 1
    capsys.readouterr()
    assert main(["evaluate", "--run", str(run)]) == 0
    result = json.loads((run / "evaluation.json").read_text())
    assert result["family"] == "adversarial-loop" and result["step"] == 8
    assert 1 <= result["classes_covered"] <= 10 and result["judge_test_accuracy"] > 0.5
