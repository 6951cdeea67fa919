"""minigan.models.VAE and losses.vae_loss: the loss against a hand computation, the closed-form KL against
a Monte Carlo estimate, a float64 gradient check through the reparameterization, a training step that
lowers the negative ELBO, seeded sampling, and the demo's --quick run."""

import json
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import minigan as mg
import minigan.functional as F
from minigan import losses, optim
from minigan.models import VAE

REPO = pathlib.Path(__file__).resolve().parents[1]


def t64(array, requires_grad=False):
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def test_vae_loss_matches_a_hand_computation():
    rng = np.random.default_rng(0)
    logits, x = rng.normal(size=(5, 7)) * 3, (rng.random((5, 7)) < 0.4).astype(np.float64)
    mu, logvar = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)) * 0.5
    loss, recon, kl = losses.vae_loss(t64(logits), x, t64(mu), t64(logvar))
    p = 1 / (1 + np.exp(-logits))
    recon_ref = -np.mean(np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), 1))
    kl_ref = np.mean(-0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), 1))
    assert recon.item() == pytest.approx(recon_ref, rel=1e-10)
    assert kl.item() == pytest.approx(kl_ref, rel=1e-10)
    assert loss.item() == pytest.approx(recon_ref + kl_ref, rel=1e-10)
    beta_loss, _, _ = losses.vae_loss(t64(logits), x, t64(mu), t64(logvar), beta=4.0)
    assert beta_loss.item() == pytest.approx(recon_ref + 4 * kl_ref, rel=1e-10)
    # image-shaped logits and targets flatten the same way
    loss_img, _, _ = losses.vae_loss(t64(logits.reshape(5, 1, 7)), x.reshape(5, 1, 7), t64(mu), t64(logvar))
    assert loss_img.item() == pytest.approx(loss.item(), rel=1e-12)


def test_closed_form_kl_agrees_with_a_monte_carlo_estimate():
    """KL(q || p) = E_q[log q(z) - log p(z)], estimated from 400 000 draws z = mu + sigma eps."""
    rng = np.random.default_rng(1)
    mu, logvar = np.array([[0.7, -1.2, 0.1]]), np.array([[-0.8, 0.4, 0.0]])
    eps = rng.standard_normal((400_000, 3))
    z = mu + np.exp(logvar / 2) * eps
    log_q = -0.5 * np.sum(eps**2 + logvar + np.log(2 * np.pi), 1)
    log_p = -0.5 * np.sum(z**2 + np.log(2 * np.pi), 1)
    samples = log_q - log_p
    monte_carlo, stderr = samples.mean(), samples.std() / np.sqrt(len(samples))
    _, _, kl = losses.vae_loss(t64(np.zeros((1, 2))), np.zeros((1, 2)), t64(mu), t64(logvar))
    assert abs(kl.item() - monte_carlo) < 4 * stderr
    assert stderr < 0.01 * kl.item()  # the test has teeth: a 1 % error would be seen


def test_gradcheck_of_the_negative_elbo_through_the_reparameterization():
    """loss(mu, logvar, W, b) with z = mu + exp(logvar/2) eps (eps fixed), logits = z W^T + b, float64."""
    rng = np.random.default_rng(2)
    eps = t64(rng.standard_normal((4, 3)))
    x = (rng.random((4, 6)) < 0.5).astype(np.float64)
    model = VAE(latent_dim=3, hidden=5, data_shape=(6,))

    def negative_elbo(mu, logvar, weight, bias):
        z = model.reparameterize(mu, logvar, eps)
        return losses.vae_loss(F.linear(z, weight, bias), x, mu, logvar)[0]

    inputs = [
        t64(rng.normal(size=(4, 3)), True),
        t64(rng.normal(size=(4, 3)) * 0.3, True),
        t64(rng.normal(size=(6, 3)), True),
        t64(rng.normal(size=6), True),
    ]
    assert mg.gradcheck(negative_elbo, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


def test_whole_vae_gradient_against_central_differences_in_float64():
    """Every parameter tensor of a two-hidden-layer VAE: backward against (L(w + h) - L(w - h)) / 2h, with
    the reparameterization noise fixed."""
    mg.manual_seed(3)
    model = VAE(latent_dim=2, hidden=(6, 5), data_shape=(1, 2, 2)).double()
    x = (np.random.default_rng(3).random((3, 1, 2, 2)) < 0.5).astype(np.float64)
    eps = t64(np.random.default_rng(4).standard_normal((3, 2)))
    params = list(model.parameters())
    analytic = mg.grad(losses.vae_loss(*_three(model, x, eps))[0], params)
    h = 1e-6
    for p, g in zip(params, analytic):
        flat = p.array.reshape(-1)  # a view: writing it perturbs the parameter
        for k in range(0, flat.size, max(1, flat.size // 5)):
            saved = flat[k]
            flat[k] = saved + h
            up = losses.vae_loss(*_three(model, x, eps))[0].item()
            flat[k] = saved - h
            down = losses.vae_loss(*_three(model, x, eps))[0].item()
            flat[k] = saved
            assert g.array.reshape(-1)[k] == pytest.approx((up - down) / (2 * h), rel=1e-4, abs=1e-6)


def _three(model, x, eps):
    logits, mu, logvar = model(x, eps=eps)
    return logits, x, mu, logvar


def test_a_few_adam_steps_lower_the_negative_elbo():
    mg.manual_seed(0)
    rng = np.random.default_rng(0)
    prototypes = (rng.random((3, 16)) < 0.5).astype(np.float32)  # 3 binary "digits" of 4x4 pixels
    x = prototypes[rng.integers(0, 3, 60)]
    model = VAE(latent_dim=2, hidden=32, data_shape=(1, 4, 4))
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    eps = mg.tensor(rng.standard_normal((60, 2)).astype(np.float32))  # the same noise before and after

    def evaluate():
        with mg.no_grad():
            return losses.vae_loss(*_three(model, x, eps))[0].item()

    before = evaluate()
    for _ in range(30):
        logits, mu, logvar = model(x)
        loss, recon, kl = losses.vae_loss(logits, x, mu, logvar)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = evaluate()
    assert after < before - 2.0, (before, after)  # 16 binary pixels: at most 16 log 2 = 11.1 nats at start


def test_shapes_ranges_and_seeded_reproducibility():
    model = VAE(latent_dim=4, hidden=8, data_shape=(1, 5, 5))
    x = np.random.default_rng(0).random((3, 1, 5, 5)).astype(np.float32)
    mu, logvar = model.encode(x)
    assert mu.shape == (3, 4) and logvar.shape == (3, 4)
    mu_flat, _ = model.encode(x.reshape(3, 25))
    np.testing.assert_array_equal(mu.numpy(), mu_flat.numpy())
    mg.manual_seed(7)
    logits_a, _, _ = model(x)
    mg.manual_seed(7)
    logits_b, _, _ = model(x)
    logits_c, _, _ = model(x)
    assert logits_a.shape == (3, 25)
    np.testing.assert_array_equal(logits_a.numpy(), logits_b.numpy())
    assert not np.array_equal(logits_b.numpy(), logits_c.numpy())  # a fresh draw of eps
    mg.manual_seed(1)
    samples = model.sample(6)
    mg.manual_seed(1)
    np.testing.assert_array_equal(samples, model.sample(6))
    assert samples.shape == (6, 1, 5, 5) and samples.min() >= 0 and samples.max() <= 1
    assert model.reconstruct(x).shape == (3, 1, 5, 5)


def test_vae_demo_quick_writes_a_finite_report(tmp_path):
    command = [sys.executable, str(REPO / "demos" / "vae_mnist.py"), "--quick", "--out", str(tmp_path)]
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "NUMBA_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=environment, timeout=120)
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "report.json").read_text())["results"]["results"]
    numbers = [v for r in results.values() for v in r.values()]
    assert len(numbers) > 10 and all(math.isfinite(v) for v in numbers)
    for name in ("latent_2d.png", "manifold_2d.png", "reconstructions.png", "samples_d20.png", "loss_curves.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| VAE, latent D=20 |" in (tmp_path / "report.md").read_text()


# --- the trainer: AEVB's step, exact resume through fit, dynamic binarisation, the command line ---------------


def test_vae_train_step_is_the_negative_elbo_descended_by_adam():
    from minigan.trainers.vae import VAETrainer

    x = (np.random.default_rng(0).random((6, 1, 2, 2)) < 0.5).astype(np.float32)
    mg.manual_seed(0)
    trainer = VAETrainer(VAE(latent_dim=2, hidden=5, data_shape=(1, 2, 2)), lr=1e-2)
    mg.manual_seed(0)
    by_hand = VAE(latent_dim=2, hidden=5, data_shape=(1, 2, 2))
    adam = optim.Adam(by_hand.parameters(), lr=1e-2)
    mg.manual_seed(3)
    metrics = trainer.train_step(mg.tensor(x))
    mg.manual_seed(3)
    logits, mu, logvar = by_hand(mg.tensor(x))  # the same eps
    loss, recon, kl = losses.vae_loss(logits, x, mu, logvar)
    loss.backward()
    adam.step()
    assert metrics == {"neg_elbo": loss.item(), "recon": recon.item(), "kl": kl.item()}
    for a, b in zip(trainer.vae.parameters(), by_hand.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_vae_trainer_resumes_exactly(tmp_path):
    from minigan.trainers.vae import VAETrainer
    from trainer_contract import assert_resumes_exactly

    x = (np.random.default_rng(1).random((20, 1, 3, 3)) < 0.4).astype(np.float32)
    assert_resumes_exactly(
        lambda: VAETrainer(VAE(latent_dim=2, hidden=6, data_shape=(1, 3, 3)), lr=1e-2), x, tmp_path, kill_at=5
    )


def test_binarized_loader_draws_each_epoch_and_replays_a_killed_epoch(tmp_path):
    """A fresh Bernoulli draw per epoch, from the loader's generator: fit's checkpoint of that generator at the
    start of the epoch makes a resumed run see the same binary digits."""
    from minigan.data import BinarizedLoader
    from minigan.trainers.vae import VAETrainer
    from minigan.training import fit
    from trainer_contract import Kill, assert_states_equal

    grey = np.random.default_rng(2).random((12, 1, 3, 3)).astype(np.float32)
    loader = BinarizedLoader(grey, batch_size=12, seed=0, as_tensor=False)
    first, second = next(iter(loader)), next(iter(loader))
    assert set(np.unique(first)) <= {0.0, 1.0} and not np.array_equal(first, second)
    many = np.mean([next(iter(loader)) for _ in range(2000)], 0)
    np.testing.assert_allclose(many, grey, atol=0.05)  # E[draw] = the grey level

    def run(out, callbacks=(), resume=False):
        mg.manual_seed(4)
        trainer = VAETrainer(VAE(latent_dim=2, hidden=6, data_shape=(1, 3, 3)), lr=1e-2)
        fit(
            trainer,
            BinarizedLoader(grey, batch_size=4, shuffle=True, seed=1),
            2,
            out,
            checkpoint_every=2,
            resume=resume,
            progress=False,
            callbacks=callbacks,
        )
        return trainer

    full = run(str(tmp_path / "full"))

    def kill(step, record):
        if step == 5:
            raise Kill()

    with pytest.raises(Kill):
        run(str(tmp_path / "killed"), callbacks=[kill])
    mg.manual_seed(99)
    assert_states_equal(full.state_dict(), run(str(tmp_path / "killed"), resume=True).state_dict())


def test_minigan_train_and_sample_a_vae_then_its_bounds(tmp_path):
    """The command line trains and samples; the run's trainer gives -ELBO and the IWAE bound (here with
    K = 20 on 50 test digits: ``minigan evaluate`` runs K = 200 on all 1 000, minutes on a busy machine)."""
    import argparse
    from minigan.cli import main
    from minigan.trainers import vae as family

    run = str(tmp_path / "vae")
    assert (
        main(
            [
                "train",
                "vae",
                "--out",
                run,
                "--latent-dim",
                "2",
                "--hidden",
                "8",
                "--epochs",
                "1",
                "--batch-size",
                "1000",
                "--no-progress",
                "--sample-epochs",
            ]
        )
        == 0
    )
    assert main(["sample", "--run", run, "--n", "4"]) == 0
    assert (tmp_path / "vae" / "samples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    settings = json.loads((tmp_path / "vae" / "config.json").read_text())
    trainer, _ = family.build(argparse.Namespace(**settings))
    trainer.load_state_dict(mg.load(os.path.join(run, "checkpoint.safetensors"))["trainable"])
    assert trainer.step == 4
    result = trainer.evaluate(family.evaluation_data(None)[:50], eval_samples=2, importance=20)
    # 784 binary pixels: a VAE 4 steps old is near 784 log 2 = 543 nats; the IWAE bound is below the ELBO's
    assert 100 < result["neg_iwae"] <= result["neg_elbo"] + 1.0 < 700
