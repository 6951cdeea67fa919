"""RBM (source 003): energies against brute-force sums, conditionals by enumeration, the Gibbs sampler's
stationary distribution, CD statistics = autograd gradient of the free-energy difference, exact log Z and
AIS, learning lowers the reconstruction error and raises the exact likelihood, PCD chains persist, and the
demo's --quick run."""

import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigan as mg
from minigan.data import DataLoader
from minigan.models import RBM, ais_log_partition, log_partition_exact
from minigan.models.rbm import base_rate_biases, independent_bernoulli_log_likelihood, per_pixel_bernoulli_nll
from minigan.trainers.rbm import RBMTrainer

REPO = Path(__file__).resolve().parents[1]


def tiny_rbm(n_visible=5, n_hidden=3, scale=1.0, seed=0):
    """An RBM with large random parameters, float64 (so that the distribution is far from uniform)."""
    mg.manual_seed(seed)
    rbm = RBM(n_visible, n_hidden, init_std=scale, dtype="float64")
    rng = np.random.default_rng(seed)
    rbm.b.array[:] = rng.normal(size=n_visible)
    rbm.c.array[:] = rng.normal(size=n_hidden)
    return rbm


def all_states(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def brute_force(rbm):
    """Energies E[v, h] over every configuration, and the exact p(v, h)."""
    V, H = all_states(rbm.n_visible), all_states(rbm.n_hidden)
    W, b, c = rbm.W.array, rbm.b.array, rbm.c.array
    E = -(V @ b)[:, None] - (H @ c)[None, :] - V @ W @ H.T  # (2^D, 2^H)
    p = np.exp(-E)
    return V, H, E, p / p.sum(), math.log(np.exp(-E).sum())


def test_energy_and_free_energy_match_brute_force_sums():
    rbm = tiny_rbm()
    V, H, E, _, _ = brute_force(rbm)
    pairs = [(i, j) for i in range(len(V)) for j in range(len(H))][::7]
    energies = rbm.energy(V[[i for i, _ in pairs]], H[[j for _, j in pairs]])
    np.testing.assert_allclose(energies, [E[i, j] for i, j in pairs], rtol=1e-12)
    free = -np.log(np.exp(-E).sum(1))  # F(v) = -log sum_h e^-E
    np.testing.assert_allclose(rbm.free_energy(V), free, rtol=1e-10)
    np.testing.assert_allclose(rbm.free_energy_tensor(V).numpy(), free, rtol=1e-10)


def test_conditionals_match_enumeration():
    rbm = tiny_rbm()
    V, H, _, p, _ = brute_force(rbm)
    p_h_given_v = p / p.sum(1, keepdims=True)  # (2^D, 2^H)
    np.testing.assert_allclose(rbm.hidden_probs(V), p_h_given_v @ H, rtol=1e-10)  # E[h_j | v]
    p_v_given_h = p / p.sum(0, keepdims=True)
    np.testing.assert_allclose(rbm.visible_probs(H), p_v_given_h.T @ V, rtol=1e-10)


@pytest.mark.parametrize("n_visible,n_hidden", [(6, 4), (4, 9)])
def test_exact_log_partition_enumerates_either_layer(n_visible, n_hidden):
    rbm = tiny_rbm(n_visible, n_hidden)
    assert log_partition_exact(rbm) == pytest.approx(brute_force(rbm)[4], rel=1e-12)


def test_gibbs_chains_reach_the_exact_distribution():
    """20 000 independent chains, 30 block Gibbs steps each: the histogram of v is within total variation
    0.02 of the exact p(v) (sampling noise alone gives ~0.01 over 32 states), and far from uniform."""
    rbm = tiny_rbm(5, 3, scale=1.0, seed=1)
    V, _, _, p, _ = brute_force(rbm)
    p_v = p.sum(1)
    mg.manual_seed(3)
    _, v = rbm.sample(20000, steps=30)
    codes = (v @ (2 ** np.arange(4, -1, -1))).astype(int)  # same order as all_states
    empirical = np.bincount(codes, minlength=32) / len(codes)
    tv = 0.5 * np.abs(empirical - p_v).sum()
    assert tv < 0.02, tv
    assert 0.5 * np.abs(p_v - 1 / 32).sum() > 0.2  # the test can tell


def test_sampling_is_reproducible_with_manual_seed():
    rbm = tiny_rbm()
    mg.manual_seed(7)
    first = rbm.sample(10, steps=5)[1]
    mg.manual_seed(7)
    np.testing.assert_array_equal(first, rbm.sample(10, steps=5)[1])


def test_cd_statistics_equal_the_autograd_gradient_of_the_free_energy_difference():
    rbm = tiny_rbm(7, 4, scale=0.5)
    rng = np.random.default_rng(0)
    v_data = (rng.random((13, 7)) < 0.4).astype(np.float64)
    v_model = rbm.gibbs(v_data, k=3)[1]
    expected = rbm.cd_gradients(v_data, v_model)
    loss = rbm.free_energy_loss(v_data, v_model)
    gW, gb, gc = mg.grad(loss, [rbm.W, rbm.b, rbm.c])
    np.testing.assert_allclose(gW.numpy(), expected["W"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gb.numpy(), expected["b"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gc.numpy(), expected["c"], rtol=1e-10, atol=1e-12)
    # and with the exact model expectation instead of particles, it is the true likelihood gradient:
    # d/dW [mean F(v_data) + log Z] by finite differences of the exact log Z
    V, _, _, p, log_z = brute_force(rbm)
    p_v = p.sum(1)
    h_model = rbm.hidden_probs(V)  # model expectation, exact
    exact_W = -(v_data.T @ rbm.hidden_probs(v_data) / len(v_data) - (V * p_v[:, None]).T @ h_model)
    eps, (i, j) = 1e-6, (2, 1)

    def nll():
        return float(rbm.free_energy(v_data).mean()) + log_partition_exact(rbm)

    rbm.W.array[i, j] += eps
    up = nll()
    rbm.W.array[i, j] -= 2 * eps
    down = nll()
    rbm.W.array[i, j] += eps
    assert (up - down) / (2 * eps) == pytest.approx(exact_W[i, j], rel=1e-5)


def test_gaussian_hidden_units_cd_statistics_equal_the_autograd_gradient():
    """Linear hidden units (H&S 2006's top layer): F(v) = -b^T v - |c + W^T v|^2 / 2, same identity."""
    mg.manual_seed(0)
    rbm = RBM(7, 4, hidden="gaussian", init_std=0.3, dtype="float64")
    rng = np.random.default_rng(1)
    v_data = (rng.random((9, 7)) < 0.4).astype(np.float64)
    v_model = rbm.gibbs(v_data, k=2)[1]
    expected = rbm.cd_gradients(v_data, v_model)
    grads = mg.grad(rbm.free_energy_loss(v_data, v_model), [rbm.W, rbm.b, rbm.c])
    for name, g in zip("Wbc", grads):
        np.testing.assert_allclose(g.numpy(), expected[name], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rbm.free_energy(v_data), rbm.free_energy_tensor(v_data).numpy(), rtol=1e-12)
    _, h = rbm.sample_h_given_v(np.zeros((20000, 7)))
    assert abs(h.std() - 1.0) < 0.02  # unit-variance noise


def test_ais_matches_the_exact_log_partition_function():
    rbm = tiny_rbm(20, 10, scale=0.3, seed=2)
    exact = log_partition_exact(rbm)
    mg.manual_seed(0)
    base = np.random.default_rng(0).normal(size=20) * 0.5
    details = ais_log_partition(rbm, base, n_runs=100, betas=np.linspace(0, 1, 1000), return_details=True)
    assert details["log_z"] == pytest.approx(exact, abs=0.05)
    assert details["log_z_low"] < details["log_z_high"]
    # with betas = (0, 1) AIS is plain importance sampling from the base model, much noisier
    assert abs(ais_log_partition(rbm, base, n_runs=100, betas=[0.0, 1.0]) - exact) > 0.05


def two_prototypes(n=400, d=16, flip=0.05, seed=0):
    rng = np.random.default_rng(seed)
    prototypes = np.array([[1.0] * (d // 2) + [0.0] * (d // 2), [0.0] * (d // 2) + [1.0] * (d // 2)])
    x = prototypes[rng.integers(0, 2, n)]
    return np.abs(x - (rng.random(x.shape) < flip)).astype(np.float32)


def test_cd_training_lowers_reconstruction_error_and_raises_the_exact_likelihood():
    x = two_prototypes()
    mg.manual_seed(0)
    rbm = RBM(16, 8)
    before_recon = rbm.reconstruction_error(x)
    before_ll = float(rbm.log_likelihood(x, log_partition_exact(rbm)).mean())
    one_step = RBM(16, 8)
    one_step.load_state_dict(rbm.state_dict())
    RBMTrainer(one_step, lr=0.1, momentum=0.0).train_step(x[:20])  # a single CD-1 update
    mg.manual_seed(1)
    after_one = one_step.reconstruction_error(x)
    history, trainer = [], RBMTrainer(rbm, lr=0.1, k=1)
    loader = DataLoader(x, batch_size=20, shuffle=True, seed=0)
    for _ in range(20):  # epochs
        for batch in loader:
            trainer.train_step(batch)
        history.append((rbm.reconstruction_error(x), rbm.pseudo_log_likelihood(x)))
    after_ll = float(rbm.log_likelihood(x, log_partition_exact(rbm)).mean())
    assert after_one < before_recon
    assert len(history) == 20 and history[-1][0] < 0.5 * before_recon
    assert after_ll > before_ll + 3  # nats per example
    # the independent-Bernoulli model cannot represent the two prototypes: the RBM must beat it
    assert after_ll > independent_bernoulli_log_likelihood(x, x) + 3
    assert math.isfinite(history[-1][1])


def test_pcd_chains_persist_across_updates():
    x = two_prototypes(n=60)
    mg.manual_seed(0)
    rbm = RBM(16, 8, init_std=1.0)  # strong weights: where a chain starts changes where it goes
    trainer = RBMTrainer(rbm, k=1, persistent=True, lr=0.0, momentum=0.0, weight_decay=0.0)  # W stays
    trainer.train_step(x[:10])
    first = trainer.chain.copy()
    assert first.shape == (10, 16)
    trainer.k = 2
    state = mg.backend.get_rng_state()
    trainer.train_step(x[10:20])
    second = trainer.chain
    mg.backend.set_rng_state(state)
    np.testing.assert_array_equal(second, rbm.gibbs(first, k=2)[1])  # continued, not restarted
    mg.backend.set_rng_state(state)
    assert not np.array_equal(second, rbm.gibbs(x[10:20], k=2)[1])
    trainer = RBMTrainer(RBM(16, 8), persistent=True, n_chains=7)
    for _ in range(2):  # epochs
        for batch in DataLoader(x, batch_size=10, shuffle=True, seed=0):
            trainer.train_step(batch)
    assert trainer.chain.shape == (7, 16) and trainer.step == 12


def test_pseudo_likelihood_estimator_is_unbiased_for_the_exact_sum():
    rbm = tiny_rbm(8, 3, scale=0.7)
    v = all_states(8)[::5]
    exact = rbm.pseudo_log_likelihood(v, n_bits=8)
    V, _, _, p, _ = brute_force(rbm)
    p_v = p.sum(1)
    index = {tuple(row): k for k, row in enumerate(V)}
    manual = 0.0
    for row in v:
        for i in range(8):
            flipped = row.copy()
            flipped[i] = 1 - flipped[i]
            manual += math.log(p_v[index[tuple(row)]] / (p_v[index[tuple(row)]] + p_v[index[tuple(flipped)]]))
    assert exact == pytest.approx(manual / len(v), rel=1e-10)
    mg.manual_seed(0)
    estimates = [rbm.pseudo_log_likelihood(v, n_bits=2) for _ in range(300)]
    assert np.mean(estimates) == pytest.approx(exact, rel=0.03)


def test_base_rate_model_is_the_independent_bernoulli_baseline():
    """An RBM with W = 0 and visible biases = base rates is the independent model; its exact log Z gives
    the same likelihood as the closed form."""
    x = two_prototypes(n=50)
    rbm = RBM(16, 4, init_std=0.0, dtype="float64")
    rbm.b.array[:] = base_rate_biases(x)
    ll = float(rbm.log_likelihood(x, log_partition_exact(rbm)).mean())
    assert ll == pytest.approx(independent_bernoulli_log_likelihood(x, x), rel=1e-10)


def test_per_pixel_bernoulli_nll_against_a_hand_computation():
    x_train = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    p = np.array([(2 + 1) / 5, (1 + 1) / 5])  # add-one: (N m + 1) / (N + 2)
    x_test = np.array([[1.0, 0.0], [0.5, 0.5]])
    expected = -np.mean(
        [np.log(p[0]) + np.log(1 - p[1]), 0.5 * (np.log(p[0]) + np.log(1 - p[0]) + np.log(p[1]) + np.log(1 - p[1]))]
    )
    assert per_pixel_bernoulli_nll(x_train, x_test) == pytest.approx(expected, rel=1e-12)


def test_rbm_demo_quick_writes_a_finite_report(tmp_path):
    command = [sys.executable, str(REPO / "demos" / "rbm_mnist.py"), "--quick", "--out", str(tmp_path)]
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "NUMBA_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=environment, timeout=120)
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "report.json").read_text())["results"]
    numbers = [v for row in results["test_ll"].values() for v in row.values() if isinstance(v, (int, float))]
    assert len(numbers) > 20 and all(math.isfinite(v) for v in numbers)
    assert math.isfinite(results["tiny_rbm"]["exact_log_z"]) and math.isfinite(results["tiny_rbm"]["ais_log_z"])
    assert "| RBM PCD |" in (tmp_path / "report.md").read_text()
    for name in ("filters_cd1.png", "samples_pcd.png", "reconstructions.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- the trainer: exact resume through fit, the command line ----------------------------------------------


@pytest.mark.parametrize("persistent", [False, True])
def test_rbm_trainer_resumes_exactly(tmp_path, persistent):
    """CD-2 and PCD (its persistent chains in the state) with a decaying rate: killed after a checkpoint,
    resumed, every parameter, momentum buffer, counter and chain equal to an uninterrupted run's."""
    from trainer_contract import assert_resumes_exactly

    full, resumed = assert_resumes_exactly(
        lambda: RBMTrainer(RBM(16, 8, init_std=0.5), lr=0.1, k=2, persistent=persistent, n_chains=3, lr_decay_steps=12),
        two_prototypes(n=24),
        tmp_path,
        epochs=2,
        batch_size=4,
        kill_at=7,
        checkpoint_every=4,
    )
    assert full.step == 12 and (full.chain is not None) == persistent


def test_rbm_trainer_evaluate_is_the_likelihood_under_the_exact_partition_function():
    """evaluate's AIS log-likelihood (1 000 temperatures, 100 runs) against the exact one of a 20-10 RBM."""
    rbm = tiny_rbm(20, 10, scale=0.3, seed=2)
    v_train = (np.random.default_rng(0).random((50, 20)) < 0.4).astype(np.float64)
    v_test = v_train[:20]
    exact = float(rbm.log_likelihood(v_test, log_partition_exact(rbm)).mean())
    mg.manual_seed(0)
    result = RBMTrainer(rbm).evaluate((v_test, v_train), n_runs=100, n_betas=1000)
    assert result["test_log_likelihood"] == pytest.approx(exact, abs=0.05)
    assert result["log_z_low"] < result["log_z"] < result["log_z_high"] and result["ais_effective_sample_size"] > 10


def test_rbm_trainer_refuses_a_state_that_does_not_fit():
    trainer = RBMTrainer(RBM(16, 8), persistent=True)
    trainer.train_step(two_prototypes(n=4))
    state = trainer.state_dict()
    with pytest.raises(ValueError, match="CD, not PCD"):
        RBMTrainer(RBM(16, 8)).load_state_dict(state)
    other = RBMTrainer(RBM(12, 8), persistent=True)
    with pytest.raises(ValueError, match=r"expected \(n_chains, 12\)"):
        other.load_state_dict(state)
    assert other.step == 0 and other.chain is None  # nothing assigned


def test_rbm_trainer_stops_before_a_nan_update():
    from minigan.training import NonFiniteLossError

    trainer = RBMTrainer(RBM(16, 8))
    before = trainer.rbm.W.numpy().copy()
    v = two_prototypes(n=4)
    v[1, 3] = np.nan
    with pytest.raises(NonFiniteLossError, match="free_energy_gap"):
        trainer.train_step(v)
    np.testing.assert_array_equal(trainer.rbm.W.numpy(), before)


def test_minigan_train_and_sample_an_rbm(tmp_path, capsys):
    from minigan.cli import main

    run = str(tmp_path / "rbm")
    assert (
        main(
            [
                "train",
                "rbm",
                "--out",
                run,
                "--n-hidden",
                "6",
                "--epochs",
                "1",
                "--batch-size",
                "1000",
                "--pcd",
                "--no-progress",
                "--sample-epochs",
            ]
        )
        == 0
    )
    state = mg.load(os.path.join(run, "checkpoint.safetensors"))
    assert state["step"] == 4 and state["trainable"]["chain"].shape == (1000, 784)
    assert main(["sample", "--run", run, "--n", "4"]) == 0
    assert (tmp_path / "rbm" / "samples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit) as usage:
        main(["train", "rbm", "--out", str(tmp_path / "bad"), "--k", "0"])
    assert usage.value.code == 2 and "--k" in capsys.readouterr().err
