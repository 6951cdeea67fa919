"""The losses' PyTorch options (weight, pos_weight, ignore_index, label_smoothing, probability targets,
(N, C, d...) inputs, kl_div, l1_loss) and the loss modules: values and gradients against PyTorch in
float64, gradcheck/gradgradcheck on the new paths."""

import numpy as np
import pytest

import minigan as mg
import minigan.functional as F
from minigan import nn

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")
tF = torch.nn.functional
RNG = np.random.default_rng(0)


def both(array, grad=True):
    return mg.tensor(array.copy(), requires_grad=grad), torch.tensor(array.copy(), requires_grad=grad)


def check(ours_fn, theirs_fn, arrays, rtol=1e-10):
    """Value and every input's gradient (of sum(out * r) for a fixed random r) equal to PyTorch's."""
    ours_inputs, theirs_inputs = zip(*(both(a) for a in arrays))
    out, ref = ours_fn(*ours_inputs), theirs_fn(*theirs_inputs)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=rtol, atol=1e-12)
    r = RNG.standard_normal(ref.shape)
    (out * mg.tensor(r)).sum().backward()
    (ref * torch.tensor(r)).sum().backward()
    for a, b in zip(ours_inputs, theirs_inputs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_weight_and_pos_weight(reduction):
    x, t = RNG.standard_normal((6, 3)) * 4, (RNG.uniform(size=(6, 3)) > 0.5).astype(float)
    w, pw = RNG.uniform(0.5, 2, (6, 3)), np.array([0.5, 1.0, 3.0])
    check(
        lambda x: F.binary_cross_entropy_with_logits(x, t, weight=w, reduction=reduction, pos_weight=pw),
        lambda x: tF.binary_cross_entropy_with_logits(
            x, torch.tensor(t), weight=torch.tensor(w), reduction=reduction, pos_weight=torch.tensor(pw)
        ),
        [x],
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("spatial", [False, True])
def test_cross_entropy_with_class_targets(reduction, smoothing, weighted, spatial):
    shape, target_shape = ((5, 4, 3, 2), (5, 3, 2)) if spatial else ((7, 4), (7,))
    x = RNG.standard_normal(shape) * 3
    t = RNG.integers(0, 4, target_shape)
    t.reshape(-1)[[1, 4]] = -100  # two ignored targets
    w = RNG.uniform(0.2, 2.0, 4) if weighted else None
    tw = None if w is None else torch.tensor(w)
    check(
        lambda x: F.cross_entropy(x, t, weight=w, reduction=reduction, label_smoothing=smoothing),
        lambda x: tF.cross_entropy(x, torch.tensor(t), weight=tw, reduction=reduction, label_smoothing=smoothing),
        [x],
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_probability_targets_and_nll_loss(reduction):
    x = RNG.standard_normal((6, 5))
    p = RNG.dirichlet(np.ones(5), 6)
    w = RNG.uniform(0.5, 2.0, 5)
    check(
        lambda x: F.cross_entropy(x, p, weight=w, reduction=reduction, label_smoothing=0.1),
        lambda x: tF.cross_entropy(
            x, torch.tensor(p), weight=torch.tensor(w), reduction=reduction, label_smoothing=0.1
        ),
        [x],
    )
    t = RNG.integers(0, 5, 6)
    t[0] = 3
    check(
        lambda x: F.nll_loss(F.log_softmax(x, 1), t, weight=w, ignore_index=3, reduction=reduction),
        lambda x: tF.nll_loss(
            tF.log_softmax(x, 1), torch.tensor(t), weight=torch.tensor(w), ignore_index=3, reduction=reduction
        ),
        [x],
    )


@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_and_l1_loss(reduction, log_target):
    log_q = np.log(RNG.dirichlet(np.ones(4), 3))
    p = RNG.dirichlet(np.ones(4), 3)
    p[0, 1] = 0.0  # a zero probability contributes 0
    target = np.log(p + 1e-3) if log_target else p
    check(
        lambda a: F.kl_div(a, target, reduction=reduction, log_target=log_target),
        lambda a: tF.kl_div(a, torch.tensor(target), reduction=reduction, log_target=log_target),
        [log_q],
    )
    target = np.log(p + 1e-3) if log_target else p + 1e-3  # no zeros: PyTorch's target gradient is
    check(
        lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),  # NaN at p = 0, ours 0
        lambda a, b: tF.kl_div(a, b, reduction=reduction, log_target=log_target),
        [log_q, target],
    )
    if reduction != "batchmean":
        check(
            lambda a, b: F.l1_loss(a, b, reduction=reduction),
            lambda a, b: tF.l1_loss(a, b, reduction=reduction),
            [RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))],
        )


def test_the_new_paths_are_twice_differentiable():
    x = mg.tensor(RNG.standard_normal((4, 3)), requires_grad=True)
    t = np.array([0, 2, -100, 1])
    w = RNG.uniform(0.5, 2, 3)
    assert mg.gradcheck(lambda x: F.cross_entropy(x, t, weight=w, label_smoothing=0.3), (x,))
    assert mg.gradgradcheck(lambda x: F.cross_entropy(x, t, weight=w, label_smoothing=0.3), (x,))
    tt = (RNG.uniform(size=(4, 3)) > 0.5).astype(float)
    assert mg.gradgradcheck(
        lambda x: F.binary_cross_entropy_with_logits(x, tt, pos_weight=np.array([1.0, 2.0, 3.0])), (x,)
    )
    p = mg.tensor(RNG.dirichlet(np.ones(3), 4), requires_grad=True)
    assert mg.gradgradcheck(lambda x, p: F.kl_div(F.log_softmax(x, 1), p, reduction="batchmean"), (x, p))


def test_bad_options_are_refused_by_name():
    x = mg.randn(3, 4)
    with pytest.raises(ValueError, match=r"weight must have one entry per class \(4,\)"):
        F.cross_entropy(x, np.array([0, 1, 2]), weight=np.ones(3))
    with pytest.raises(ValueError, match=r"class indices in \[0, 4\), got 7"):
        F.nll_loss(x, np.array([0, 7, 1]))
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        F.cross_entropy(x, np.array([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="'batchmean'"):
        F.kl_div(x, x, reduction="avg")
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.MSELoss(reduction="average")


def test_loss_modules_match_pytorch_and_keep_their_weights_in_the_state_dict():
    x, t = RNG.standard_normal((5, 3)), RNG.integers(0, 3, 5)
    w = np.array([0.2, 1.0, 3.0])
    pairs = [
        (
            nn.CrossEntropyLoss(weight=w, label_smoothing=0.1),
            torch.nn.CrossEntropyLoss(weight=torch.tensor(w), label_smoothing=0.1),
            t,
        ),
        (nn.NLLLoss(ignore_index=1), torch.nn.NLLLoss(ignore_index=1), t),
        (
            nn.BCEWithLogitsLoss(pos_weight=w),
            torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(w)),
            (RNG.uniform(size=(5, 3)) > 0.5).astype(float),
        ),
        (nn.MSELoss(reduction="sum"), torch.nn.MSELoss(reduction="sum"), RNG.standard_normal((5, 3))),
        (nn.L1Loss(), torch.nn.L1Loss(), RNG.standard_normal((5, 3))),
    ]
    for ours, theirs, target in pairs:
        tt = torch.tensor(target)
        got, want = ours(mg.tensor(x), target), theirs(torch.tensor(x), tt)
        assert float(got.item()) == pytest.approx(float(want), rel=1e-12), type(ours).__name__
    assert sorted(nn.BCEWithLogitsLoss(pos_weight=w).state_dict()) == sorted(
        torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(w)).state_dict()
    )
    probs = RNG.uniform(0.05, 0.95, (5, 3))
    assert float(nn.BCELoss(weight=w)(mg.tensor(probs), (probs > 0.5) * 1.0).item()) == pytest.approx(
        float(torch.nn.BCELoss(weight=torch.tensor(w))(torch.tensor(probs), torch.tensor((probs > 0.5) * 1.0))),
        rel=1e-12,
    )
