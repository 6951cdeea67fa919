"""Bernoulli naive Bayes against a hand computation and scikit-learn's BernoulliNB; sampling; the minigan
logistic regression; the naive-Bayes demo's --quick run."""

import json
import math
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import minigan as mg
from minigan.data import DataLoader
from minigan.models import BernoulliNaiveBayes, LogisticRegression
from minigan.trainers.naive_bayes import NaiveBayesTrainer
from minigan.trainers.supervised import ClassifierTrainer

REPO = pathlib.Path(__file__).resolve().parents[1]


def _toy():
    x = np.array([[1, 0, 1], [1, 1, 1], [0, 0, 1], [0, 1, 0], [0, 1, 0]], dtype=np.float64)
    y = np.array([0, 0, 0, 1, 1])
    return x, y


def test_fit_and_posterior_match_a_hand_computation():
    x, y = _toy()
    nb = BernoulliNaiveBayes(alpha=1.0, binarize=None).fit(x, y)
    # class 0: 3 examples, pixel counts (2, 1, 3) -> theta = (3/5, 2/5, 4/5); class 1: 2 examples, (0, 2, 0) -> (1/4, 3/4, 1/4)
    np.testing.assert_allclose(np.exp(nb.feature_log_prob_), [[3 / 5, 2 / 5, 4 / 5], [1 / 4, 3 / 4, 1 / 4]])
    np.testing.assert_allclose(np.exp(nb.class_log_prior_), [3 / 5, 2 / 5])
    query = np.array([[1.0, 1.0, 0.0]])
    joint0 = 3 / 5 * (3 / 5) * (2 / 5) * (1 - 4 / 5)
    joint1 = 2 / 5 * (1 / 4) * (3 / 4) * (1 - 1 / 4)
    np.testing.assert_allclose(nb.predict_proba(query), [[joint0 / (joint0 + joint1), joint1 / (joint0 + joint1)]])
    np.testing.assert_allclose(nb.log_likelihood(query), [np.log(joint0 + joint1)])
    assert nb.predict(query)[0] == (0 if joint0 > joint1 else 1)
    assert nb.score(x, y) == pytest.approx(np.mean(nb.predict(x) == y))


def test_posterior_is_normalised_and_finite_for_many_pixels():
    rng = np.random.default_rng(0)
    x = (rng.random((200, 784)) < 0.3).astype(np.float32)  # 784 pixels: the joint underflows without logs
    y = rng.integers(0, 10, 200)
    log_post = BernoulliNaiveBayes(binarize=None).fit(x, y).predict_log_proba(x)
    assert np.all(np.isfinite(log_post))
    np.testing.assert_allclose(np.exp(log_post).sum(1), 1.0, rtol=1e-12)


def test_agrees_with_scikit_learn():
    sklearn_nb = pytest.importorskip("sklearn.naive_bayes")
    rng = np.random.default_rng(1)
    x = rng.random((300, 40))
    y = rng.integers(0, 4, 300)
    ours = BernoulliNaiveBayes(alpha=0.5, binarize=0.6).fit(x, y)
    theirs = sklearn_nb.BernoulliNB(alpha=0.5, binarize=0.6).fit(x, y)
    test = rng.random((50, 40))
    np.testing.assert_allclose(ours.feature_log_prob_, theirs.feature_log_prob_, rtol=1e-12)
    np.testing.assert_allclose(ours.predict_log_proba(test), theirs.predict_log_proba(test), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(ours.predict(test), theirs.predict(test))


def test_alpha_zero_gives_hard_zeros_not_nans():
    x, y = _toy()
    nb = BernoulliNaiveBayes(alpha=0.0, binarize=None).fit(x, y)
    # class 0 has theta = (2/3, 1/3, 1), class 1 has theta = (0, 1, 0): [1, 0, 1] is impossible under class 1,
    # [0, 1, 0] under class 0
    post = nb.predict_proba(np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]))
    assert np.all(np.isfinite(post))
    np.testing.assert_allclose(post, [[1.0, 0.0], [0.0, 1.0]], atol=1e-12)  # each query is impossible under one class


def test_samples_follow_the_class_conditional():
    x, y = _toy()
    nb = BernoulliNaiveBayes(alpha=1.0, binarize=None).fit(x, y)
    samples = nb.sample(1, n=20000, rng=0)
    assert samples.shape == (20000, 3) and set(np.unique(samples)) <= {0.0, 1.0}
    np.testing.assert_allclose(samples.mean(0), [1 / 4, 3 / 4, 1 / 4], atol=0.015)
    np.testing.assert_array_equal(samples, nb.sample(1, n=20000, rng=0))
    with pytest.raises(ValueError):
        nb.sample(7)


def test_logistic_regression_learns_a_separable_problem_and_matches_its_probabilities():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 5)) * 3
    y = rng.integers(0, 3, 300)
    x = (centres[y] + rng.normal(size=(300, 5))).astype(np.float32)
    mg.manual_seed(0)
    model = LogisticRegression(5, 3)
    trainer = ClassifierTrainer(model, lr=0.05)
    history = [
        trainer.train_step(batch)["loss"]
        for _ in range(20)
        for batch in DataLoader(x, y, batch_size=50, shuffle=True, seed=0)
    ]
    assert history[-1] < history[0] * 0.5 and trainer.step == 120
    assert model.score(x, y) > 0.95
    probs = model.predict_proba(x)
    logits = x @ model.linear.weight.numpy().T + model.linear.bias.numpy()
    reference = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(probs, reference / reference.sum(1, keepdims=True), rtol=1e-5, atol=1e-7)


def test_counting_batch_by_batch_gives_exactly_the_one_pass_model():
    rng = np.random.default_rng(2)
    x = (rng.random((250, 30)) < 0.3).astype(np.float32)
    y = rng.integers(0, 4, 250)
    whole = BernoulliNaiveBayes(alpha=1.0, binarize=None).fit(x, y)
    trainer = NaiveBayesTrainer(BernoulliNaiveBayes(alpha=1.0, binarize=None), classes=range(4))
    for batch in DataLoader(x, y, batch_size=64, shuffle=True, seed=0):
        metrics = trainer.train_step(batch)
    assert metrics["images"] == 250
    for name in ("class_count_", "feature_count_", "feature_log_prob_", "class_log_prior_"):
        np.testing.assert_array_equal(getattr(trainer.model, name), getattr(whole, name))
    restored = NaiveBayesTrainer(BernoulliNaiveBayes(alpha=1.0, binarize=None), classes=range(4))
    restored.load_state_dict(trainer.state_dict())
    np.testing.assert_array_equal(restored.model.predict_log_proba(x), whole.predict_log_proba(x))
    with pytest.raises(ValueError, match=r"labels \[7\] are not among the classes"):
        trainer.train_step((x[:3], np.array([0, 7, 1])))


def test_naive_bayes_demo_quick_writes_a_finite_report(tmp_path):
    command = [sys.executable, str(REPO / "demos" / "naive_bayes.py"), "--quick", "--out", str(tmp_path)]
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
    assert len(results["accuracy"]) == 6
    assert all(math.isfinite(v) and 0 <= v <= 1 for v in results["accuracy"].values())
    for name in ("naive_bayes_samples.png", "naive_bayes_means.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_naive_bayes_and_classifier_trainers_resume_exactly(tmp_path):
    from trainer_contract import assert_resumes_exactly

    rng = np.random.default_rng(3)
    x = (rng.random((24, 12)) < 0.4).astype(np.float32)
    y = rng.integers(0, 3, 24)
    full, _ = assert_resumes_exactly(
        lambda: NaiveBayesTrainer(BernoulliNaiveBayes(binarize=None), classes=range(3)),
        (x, y),
        tmp_path / "nb",
        epochs=1,
        kill_at=3,
    )
    assert full.model.class_count_.sum() == 24
    assert_resumes_exactly(
        lambda: ClassifierTrainer(LogisticRegression(12, 3), lr=0.05, weight_decay=1e-3),
        (x, y),
        tmp_path / "lr",
        kill_at=5,
    )


def test_classifier_trainer_is_cross_entropy_plus_l2_descended_by_adam():
    from minigan import optim
    import minigan.functional as F

    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(8, 5)).astype(np.float32), rng.integers(0, 3, 8)
    mg.manual_seed(0)
    trainer = ClassifierTrainer(LogisticRegression(5, 3), lr=0.1, weight_decay=0.5)
    trainer.model.linear.weight.array[...] = rng.normal(size=(3, 5))
    by_hand = LogisticRegression(5, 3)
    by_hand.load_state_dict(trainer.model.state_dict())
    adam = optim.Adam(by_hand.parameters(), lr=0.1)
    metrics = trainer.train_step((mg.tensor(x), mg.tensor(y)))
    W = by_hand.linear.weight
    loss = F.cross_entropy(by_hand(x), y) + F.sum(W * W) * 0.25  # the bias is not decayed
    loss.backward()
    adam.step()
    assert metrics["loss"] == pytest.approx(loss.item(), rel=1e-6)
    for a, b in zip(trainer.model.parameters(), by_hand.parameters()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def test_minigan_train_evaluate_and_sample_naive_bayes_and_a_classifier(tmp_path, capsys):
    from minigan.cli import main

    run = str(tmp_path / "nb")
    assert main(["train", "naive-bayes", "--out", run, "--no-progress"]) == 0
    assert main(["evaluate", "--run", run]) == 0
    result = json.loads((tmp_path / "nb" / "evaluation.json").read_text())
    assert 0.7 < result["accuracy"] < 0.95 and result["step"] == 8
    assert main(["sample", "--run", run, "--n", "10"]) == 0
    run = str(tmp_path / "lr")
    assert main(["train", "classifier", "--out", run, "--epochs", "1", "--batch-size", "400", "--no-progress"]) == 0
    assert main(["evaluate", "--run", run]) == 0
    assert 0.5 < json.loads((tmp_path / "lr" / "evaluation.json").read_text())["accuracy"] <= 1
    with pytest.raises(SystemExit) as usage:
        main(["train", "naive-bayes", "--out", str(tmp_path / "bad"), "--alpha", "-1"])
    assert usage.value.code == 2 and "--alpha" in capsys.readouterr().err
