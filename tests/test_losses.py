"""minigan.losses: values against closed forms / PyTorch, the gradient penalty's (double-backprop)
gradient against finite differences, weight clipping, InfoGAN's two MI-bound losses."""

import math

import numpy as np
import pytest

import minigan as mg
import minigan.functional as F
from minigan import losses

try:
    import torch
except ImportError:  # the PyTorch cross-checks are skipped, the rest still runs
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch (test-only reference) is not installed")


def t64(array, requires_grad=False):
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def test_logit_losses_match_their_equations_and_stay_finite():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=7) * 3, rng.normal(size=5) * 3
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    d = losses.d_loss_minimax(t64(real), t64(fake)).item()
    assert d == pytest.approx(-np.mean(np.log(sig(real))) - np.mean(np.log(1 - sig(fake))), rel=1e-10)
    assert losses.g_loss_minimax(t64(fake)).item() == pytest.approx(np.mean(np.log(1 - sig(fake))), rel=1e-10)
    assert losses.g_loss_nonsaturating(t64(fake)).item() == pytest.approx(-np.mean(np.log(sig(fake))), rel=1e-10)
    # extreme logits in float32: log(sigmoid(-200)) would be -inf; softplus gives 200
    extreme = mg.tensor([-200.0, 200.0])
    assert losses.g_loss_nonsaturating(extreme).item() == pytest.approx(100.0, rel=1e-5)
    assert math.isfinite(losses.d_loss_minimax(extreme, extreme).item())


def test_wasserstein_losses():
    real, fake = t64([1.0, 2.0, 3.0]), t64([0.5, -0.5])
    assert losses.critic_loss_wasserstein(real, fake).item() == pytest.approx(0.0 - 2.0)
    assert losses.g_loss_wasserstein(fake).item() == pytest.approx(0.0)
    assert losses.wasserstein_estimate(real, fake) == pytest.approx(2.0)


def test_penalty_of_a_linear_critic_is_known_in_closed_form():
    # f(x) = <w, x>: grad f = w everywhere, so the penalty is lambda (||w|| - 1)^2 for any interpolate
    rng = np.random.default_rng(1)
    w = t64(rng.normal(size=(2, 3, 4)))
    critic = lambda x: F.sum(x * w, (1, 2, 3))  # noqa: E731
    real, fake = t64(rng.normal(size=(5, 2, 3, 4))), t64(rng.normal(size=(5, 2, 3, 4)))
    penalty, norms = losses.gradient_penalty(critic, real, fake, lambda_gp=10, return_norm=True)
    expected_norm = np.linalg.norm(w.numpy())
    np.testing.assert_allclose(norms.numpy(), expected_norm, rtol=1e-10)
    assert penalty.item() == pytest.approx(10 * (expected_norm - 1) ** 2, rel=1e-10)


def tiny_conv_critic(W1, b1, W2, b2):
    """(N, 2, 6, 6) -> conv 3x3 s2 -> (N, 3, 3, 3) -> tanh -> linear -> (N,). A smooth activation, so the
    input gradient depends on b1 too (the output bias b2 never reaches the penalty: it is not checked)."""

    def critic(x):
        h = F.tanh(F.conv2d(x, W1, b1, stride=2, padding=1))  # (N, 3, 3, 3)
        return F.linear(F.flatten(h, 1), W2, b2)[:, 0]  # (N,)

    return critic


def test_gradient_penalty_gradient_matches_finite_differences():
    rng = np.random.default_rng(2)
    params = [t64(rng.normal(size=s) * 0.5, requires_grad=True) for s in [(3, 2, 3, 3), (3,), (1, 27)]]
    params.append(t64([0.3]))
    real, fake = t64(rng.normal(size=(3, 2, 6, 6))), t64(rng.normal(size=(3, 2, 6, 6)))
    alpha = rng.random(3)

    def penalty(W1, b1, W2, b2):
        return losses.gradient_penalty(tiny_conv_critic(W1, b1, W2, b2), real, fake, alpha=alpha)

    assert mg.gradcheck(penalty, params, eps=1e-6, atol=1e-6, rtol=1e-4)

    # and the full critic loss (Wasserstein + penalty) the harness minimises
    def total(W1, b1, W2, b2):
        f = tiny_conv_critic(W1, b1, W2, b2)
        return losses.critic_loss_wasserstein(f(real), f(fake)) + penalty(W1, b1, W2, b2)

    assert mg.gradcheck(total, params, eps=1e-6, atol=1e-6, rtol=1e-4)


@needs_torch
def test_gradient_penalty_matches_pytorch():
    rng = np.random.default_rng(3)
    arrays = [rng.normal(size=s) * 0.5 for s in [(3, 2, 3, 3), (3,), (1, 27), (1,)]]
    real, fake, alpha = rng.normal(size=(4, 2, 6, 6)), rng.normal(size=(4, 2, 6, 6)), rng.random(4)
    params = [t64(a, requires_grad=True) for a in arrays[:3]] + [t64(arrays[3])]
    penalty = losses.gradient_penalty(tiny_conv_critic(*params), t64(real), t64(fake), alpha=alpha)
    grads = mg.grad(penalty, params[:3])

    tp = [torch.tensor(a, requires_grad=True) for a in arrays[:3]] + [torch.tensor(arrays[3])]

    def torch_critic(x):
        h = torch.tanh(torch.nn.functional.conv2d(x, tp[0], tp[1], stride=2, padding=1))
        return torch.nn.functional.linear(h.flatten(1), tp[2], tp[3])[:, 0]

    a = torch.tensor(alpha).view(-1, 1, 1, 1)
    x_hat = (a * torch.tensor(real) + (1 - a) * torch.tensor(fake)).requires_grad_(True)
    (g,) = torch.autograd.grad(torch_critic(x_hat).sum(), x_hat, create_graph=True)
    torch_penalty = 10 * ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()
    torch_grads = torch.autograd.grad(torch_penalty, tp[:3])
    assert penalty.item() == pytest.approx(torch_penalty.item(), rel=1e-9)
    for ours, theirs in zip(grads, torch_grads):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-7, atol=1e-10)


def test_interpolates_lie_between_real_and_fake_and_are_leaves():
    mg.manual_seed(0)
    real, fake = mg.ones(64, 3), mg.zeros(64, 3)
    x_hat = losses.interpolate(real, fake)
    assert x_hat.requires_grad and x_hat.is_leaf
    values = x_hat.numpy()
    assert np.all((values >= 0) & (values <= 1))
    assert np.allclose(values, values[:, :1])  # one alpha per sample
    assert values[:, 0].std() > 0.1  # different alphas across samples


def test_clip_weights_in_place():
    w = mg.tensor([[-1.0, 0.005], [0.2, -0.001]], requires_grad=True)
    losses.clip_weights([w], 0.01)
    np.testing.assert_allclose(w.numpy(), [[-0.01, 0.005], [0.01, -0.001]])


def test_info_categorical_loss_is_cross_entropy_for_indices_and_one_hot():
    logits = t64([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    code = np.array([0, 2])
    log_softmax = logits.numpy() - np.log(np.exp(logits.numpy()).sum(1, keepdims=True))
    expected = -np.mean(log_softmax[[0, 1], code])
    assert losses.info_categorical_loss(logits, code).item() == pytest.approx(expected, rel=1e-12)
    assert losses.info_categorical_loss(logits, np.eye(3)[code]).item() == pytest.approx(expected, rel=1e-12)
    # a uniform Q gives exactly H(c) = log K: the MI bound log K - loss is 0
    assert losses.info_categorical_loss(t64(np.zeros((4, 10))), np.arange(4)).item() == pytest.approx(np.log(10))


def test_info_continuous_loss_is_gaussian_nll():
    rng = np.random.default_rng(4)
    mu, logvar, c = rng.normal(size=(5, 2)), rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    nll = 0.5 * (np.log(2 * np.pi) + logvar + (c - mu) ** 2 / np.exp(logvar))
    got = losses.info_continuous_loss(t64(mu), t64(logvar), t64(c)).item()
    assert got == pytest.approx(nll.sum(1).mean(), rel=1e-12)
    unit = 0.5 * (np.log(2 * np.pi) + (c - mu) ** 2)
    assert losses.info_continuous_loss(t64(mu), None, t64(c)).item() == pytest.approx(unit.sum(1).mean(), rel=1e-12)
    params = (t64(mu, requires_grad=True), t64(logvar, requires_grad=True))
    assert mg.gradcheck(lambda m, lv: losses.info_continuous_loss(m, lv, t64(c)), params)
