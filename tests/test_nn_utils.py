"""nn.utils: gradient clipping, parameter vectors and spectral normalisation against PyTorch, gradcheck in
float64, the state-dict layout, and forward pre-hooks."""

import math

import numpy as np
import pytest

import minigan as mg
from minigan import nn, optim

torch = pytest.importorskip("torch")


def twin_linears(seed=0):
    rng = np.random.default_rng(seed)
    ours, theirs = nn.Linear(5, 3).double(), torch.nn.Linear(5, 3).double()
    for name in ("weight", "bias"):
        value = rng.standard_normal(getattr(ours, name).shape)
        getattr(ours, name).array[...] = value
        getattr(theirs, name).data.copy_(torch.from_numpy(value))
    x = rng.standard_normal((4, 5))
    return ours, theirs, x


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, math.inf])
@pytest.mark.parametrize("max_norm", [0.1, 1e6])
def test_clip_grad_norm_matches_pytorch(norm_type, max_norm):
    ours, theirs, x = twin_linears()
    (ours(mg.tensor(x)) ** 2).sum().backward()
    (theirs(torch.from_numpy(x)) ** 2).sum().backward()
    total = nn.utils.clip_grad_norm_(ours.parameters(), max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs.parameters(), max_norm, norm_type)
    assert float(total.item()) == pytest.approx(float(expected), rel=1e-12)
    for name in ("weight", "bias"):
        np.testing.assert_allclose(getattr(ours, name).grad.numpy(), getattr(theirs, name).grad.numpy(), rtol=1e-12)


def test_clip_grad_value_and_nonfinite_norms():
    ours, theirs, x = twin_linears(1)
    (ours(mg.tensor(x)) ** 3).sum().backward()
    (theirs(torch.from_numpy(x)) ** 3).sum().backward()
    nn.utils.clip_grad_value_(ours.parameters(), 0.5)
    torch.nn.utils.clip_grad_value_(theirs.parameters(), 0.5)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-13)
    assert np.abs(ours.weight.grad.numpy()).max() == 0.5
    ours.bias.grad.array[0] = np.nan
    with pytest.raises(RuntimeError, match="is nan"):
        nn.utils.clip_grad_norm_(ours.parameters(), 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="max_norm must be >= 0"):
        nn.utils.clip_grad_norm_(ours.parameters(), -1.0)


def test_parameters_to_vector_and_back():
    ours, theirs, _ = twin_linears(2)
    vector = nn.utils.parameters_to_vector(ours.parameters())
    np.testing.assert_array_equal(vector.numpy(), torch.nn.utils.parameters_to_vector(theirs.parameters()).detach())
    fresh = nn.Linear(5, 3).double()
    nn.utils.vector_to_parameters(vector, fresh.parameters())
    np.testing.assert_array_equal(fresh.weight.numpy(), ours.weight.numpy())
    with pytest.raises(ValueError, match=r"need \(18,\)"):
        nn.utils.vector_to_parameters(vector[:5], fresh.parameters())


@pytest.mark.parametrize("layer", ["linear", "conv", "conv_transpose"])
def test_spectral_norm_matches_pytorch_over_training_and_eval(layer):
    rng = np.random.default_rng(3)
    makers = {
        "linear": (lambda m: m.Linear(6, 4), (5, 6)),
        "conv": (lambda m: m.Conv2d(2, 3, 3, stride=1, padding=1), (2, 2, 5, 5)),
        "conv_transpose": (lambda m: m.ConvTranspose2d(3, 2, 4, stride=2, padding=1), (2, 3, 4, 4)),
    }
    make, x_shape = makers[layer]
    ours, theirs = nn.utils.spectral_norm(make(nn).double()), torch.nn.utils.spectral_norm(make(torch.nn).double())
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())  # weight_orig, weight_u, weight_v, bias
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    opt_ours = optim.SGD(ours.parameters(), lr=0.1)
    opt_theirs = torch.optim.SGD(theirs.parameters(), lr=0.1)
    for _ in range(3):
        x = rng.standard_normal(x_shape)
        out_ours, out_theirs = ours(mg.tensor(x)), theirs(torch.from_numpy(x))
        np.testing.assert_allclose(out_ours.numpy(), out_theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
        (out_ours**2).sum().backward()
        (out_theirs**2).sum().backward()
        np.testing.assert_allclose(
            ours.weight_orig.grad.numpy(), theirs.weight_orig.grad.numpy(), rtol=1e-9, atol=1e-12
        )
        opt_ours.step(), opt_theirs.step()
        opt_ours.zero_grad(), opt_theirs.zero_grad()
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-9, atol=1e-12, err_msg=key)
    ours.eval(), theirs.eval()  # eval: no power iteration
    x = rng.standard_normal(x_shape)
    u_before = ours.weight_u.numpy().copy()
    np.testing.assert_allclose(ours(mg.tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-10)
    np.testing.assert_array_equal(ours.weight_u.numpy(), u_before)


def test_spectral_norm_gradients_pass_gradcheck_and_gradgradcheck():
    layer = nn.utils.spectral_norm(nn.Linear(4, 3).double())
    layer.eval()  # fixed u, v: the function of weight_orig is deterministic
    x = mg.tensor(np.random.default_rng(4).standard_normal((2, 4)))

    def f(w):
        layer.weight_orig.array[...] = w.array  # the values; the graph goes through w below
        sigma = (mg.tensor(layer.weight_u.numpy()) * (w @ mg.tensor(layer.weight_v.numpy()))).sum()
        return x @ (w / sigma).transpose(0, 1)

    w = mg.tensor(layer.weight_orig.numpy().copy(), requires_grad=True)
    assert mg.gradcheck(f, (w,)) and mg.gradgradcheck(f, (w,))
    np.testing.assert_allclose(f(w).numpy(), layer(x).numpy() - layer.bias.numpy(), rtol=1e-12)


def test_spectral_norm_bounds_the_largest_singular_value_and_can_be_removed():
    mg.manual_seed(0)
    layer = nn.utils.spectral_norm(nn.Linear(30, 20), n_power_iterations=1)
    for _ in range(30):  # the power iteration converges over forward passes
        layer(mg.zeros(1, 30))
    assert np.linalg.svd(layer.weight.numpy(), compute_uv=False)[0] == pytest.approx(1.0, rel=1e-3)
    with pytest.raises(RuntimeError, match="already normalised"):
        nn.utils.spectral_norm(layer)
    nn.utils.remove_spectral_norm(layer)
    assert sorted(layer.state_dict()) == ["bias", "weight"] and isinstance(layer.weight, nn.Parameter)
    with pytest.raises(ValueError, match="has no parameter 'kernel'"):
        nn.utils.spectral_norm(nn.Linear(2, 2), name="kernel")


def test_forward_pre_hooks_replace_arguments_and_can_be_removed():
    layer = nn.Identity()
    handle = layer.register_forward_pre_hook(lambda module, args: (args[0] * 2,))
    assert layer(mg.tensor([1.0, 2.0])).numpy().tolist() == [2.0, 4.0]
    handle.remove()
    assert layer(mg.tensor([1.0, 2.0])).numpy().tolist() == [1.0, 2.0]
