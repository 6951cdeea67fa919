"""minigan.nn against torch.nn (float64, copied weights): forward, input and parameter gradients; modes;
state dicts and their errors; initialisation statistics; device moves."""

import math
from collections import OrderedDict

import numpy as np
import pytest

import minigan as mg
import minigan.nn as nn
from minigan.nn import init
from test_tensor import gpu  # skips where CuPy cannot allocate on a GPU, naming the reason

rng = np.random.default_rng(0)


def t64(array, requires_grad=False):
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


# --- every layer against torch.nn --------------------------------------------------------------------


def _layer_cases():
    """(name, minigan factory, torch factory name and args, input shape, integer input?)"""
    return [
        ("linear", lambda: nn.Linear(4, 3), ("Linear", (4, 3)), (5, 4)),
        ("linear_nobias", lambda: nn.Linear(4, 3, bias=False), ("Linear", (4, 3), {"bias": False}), (2, 5, 4)),
        (
            "conv",
            lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1),
            ("Conv2d", (2, 3, 3), {"stride": 2, "padding": 1}),
            (2, 2, 7, 6),
        ),
        (
            "conv_dil",
            lambda: nn.Conv2d(2, 2, (3, 2), dilation=2, bias=False),
            ("Conv2d", (2, 2, (3, 2)), {"dilation": 2, "bias": False}),
            (1, 2, 8, 7),
        ),
        (
            "deconv",
            lambda: nn.ConvTranspose2d(3, 2, 4, stride=2, padding=1),
            ("ConvTranspose2d", (3, 2, 4), {"stride": 2, "padding": 1}),
            (2, 3, 4, 5),
        ),
        (
            "deconv_outpad",
            lambda: nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1),
            ("ConvTranspose2d", (2, 3, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
            (1, 2, 3, 3),
        ),
        ("bn1d", lambda: nn.BatchNorm1d(3), ("BatchNorm1d", (3,)), (6, 3)),
        ("bn1d_3d", lambda: nn.BatchNorm1d(3, momentum=0.3), ("BatchNorm1d", (3,), {"momentum": 0.3}), (4, 3, 5)),
        ("bn2d", lambda: nn.BatchNorm2d(3), ("BatchNorm2d", (3,)), (4, 3, 3, 2)),
        (
            "bn2d_noaffine",
            lambda: nn.BatchNorm2d(2, affine=False),
            ("BatchNorm2d", (2,), {"affine": False}),
            (3, 2, 2, 2),
        ),
        ("layernorm", lambda: nn.LayerNorm((3, 4)), ("LayerNorm", ((3, 4),)), (2, 3, 4)),
        ("relu", lambda: nn.ReLU(), ("ReLU", ()), (4, 5)),
        ("leaky", lambda: nn.LeakyReLU(0.2), ("LeakyReLU", (0.2,)), (4, 5)),
        ("elu", lambda: nn.ELU(0.7), ("ELU", (0.7,)), (4, 5)),
        ("sigmoid", lambda: nn.Sigmoid(), ("Sigmoid", ()), (4, 5)),
        ("tanh", lambda: nn.Tanh(), ("Tanh", ()), (4, 5)),
        ("softplus", lambda: nn.Softplus(), ("Softplus", ()), (4, 5)),
        ("softplus_beta", lambda: nn.Softplus(beta=2.0, threshold=3.0), ("Softplus", (2.0, 3.0)), (4, 5)),
        ("softmax", lambda: nn.Softmax(dim=1), ("Softmax", (1,)), (4, 5)),
        ("logsoftmax", lambda: nn.LogSoftmax(dim=-1), ("LogSoftmax", (-1,)), (4, 5)),
        ("identity", lambda: nn.Identity(), ("Identity", ()), (4, 5)),
        ("flatten", lambda: nn.Flatten(), ("Flatten", ()), (2, 3, 2, 2)),
        ("flatten_mid", lambda: nn.Flatten(1, 2), ("Flatten", (1, 2)), (2, 3, 2, 2)),
        ("unflatten", lambda: nn.Unflatten(1, (2, 3)), ("Unflatten", (1, (2, 3))), (4, 6)),
        ("maxpool", lambda: nn.MaxPool2d(2), ("MaxPool2d", (2,)), (2, 2, 4, 6)),
        ("avgpool", lambda: nn.AvgPool2d(2), ("AvgPool2d", (2,)), (2, 2, 4, 6)),
        ("upsample", lambda: nn.Upsample(scale_factor=2), ("Upsample", (), {"scale_factor": 2}), (1, 2, 2, 3)),
        (
            "sequential",
            lambda: nn.Sequential(
                nn.Conv2d(2, 4, 3, padding=1),
                nn.BatchNorm2d(4),
                nn.LeakyReLU(0.2),
                nn.Flatten(),
                nn.Linear(4 * 3 * 3, 2),
            ),
            None,
            (3, 2, 3, 3),
        ),
    ]


def _torch_twin(torch, spec):
    name, args = spec[0], spec[1]
    kwargs = spec[2] if len(spec) > 2 else {}
    return getattr(torch.nn, name)(*args, **kwargs)


@pytest.mark.parametrize("case", _layer_cases(), ids=lambda c: c[0])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_layer_matches_torch(case, training):
    torch = pytest.importorskip("torch")
    name, make, spec, shape = case
    mg.manual_seed(1)
    module = make().double()
    if spec is None:
        tmodule = torch.nn.Sequential(
            torch.nn.Conv2d(2, 4, 3, padding=1),
            torch.nn.BatchNorm2d(4),
            torch.nn.LeakyReLU(0.2),
            torch.nn.Flatten(),
            torch.nn.Linear(4 * 3 * 3, 2),
        )
    else:
        tmodule = _torch_twin(torch, spec)
    tmodule = tmodule.double()
    assert list(module.state_dict()) == list(tmodule.state_dict()), "state dict keys differ from PyTorch's"
    # copy minigan's weights into torch (and perturb batch-norm stats so eval mode is a real test)
    state = OrderedDict()
    for key, value in module.state_dict().items():
        array = value.numpy()
        if key.endswith("running_mean"):
            array = rng.normal(size=array.shape)
        elif key.endswith("running_var"):
            array = rng.uniform(0.5, 2.0, size=array.shape)
        elif key.endswith(".weight") or key == "weight" or key.endswith("bias"):
            array = array + 0.1 * rng.normal(size=array.shape)  # BN/LN weights start at 1/0
        state[key] = array
    module.load_state_dict(state)
    tmodule.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    module.train(training)
    tmodule.train(training)

    x_np = rng.normal(size=shape)
    x = t64(x_np, requires_grad=True)
    tx = torch.tensor(x_np, requires_grad=True)
    y, ty = module(x), tmodule(tx)
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)

    gy = rng.normal(size=y.shape)
    y.backward(t64(gy))
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-10)
    tparams = dict(tmodule.named_parameters())
    for key, p in module.named_parameters():
        np.testing.assert_allclose(
            p.grad.numpy(), tparams[key].grad.numpy(), rtol=1e-9, atol=1e-10, err_msg=f"gradient of {key}"
        )
    for key, b in module.named_buffers():  # running statistics updated the same way
        np.testing.assert_allclose(
            b.numpy(), tmodule.state_dict()[key].numpy(), rtol=1e-12, atol=1e-12, err_msg=f"buffer {key}"
        )


def test_embedding_matches_torch():
    torch = pytest.importorskip("torch")
    emb = nn.Embedding(7, 3, padding_idx=2).double()
    temb = torch.nn.Embedding(7, 3, padding_idx=2).double()
    assert np.all(emb.weight.numpy()[2] == 0)
    temb.load_state_dict({k: torch.tensor(v.numpy()) for k, v in emb.state_dict().items()})
    index = np.array([[0, 2, 5], [5, 5, 6]])
    y, ty = emb(mg.tensor(index)), temb(torch.tensor(index))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy())
    gy = rng.normal(size=y.shape)
    y.backward(t64(gy))
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(emb.weight.grad.numpy(), temb.weight.grad.numpy(), atol=1e-12)  # repeats add up
    assert np.all(emb.weight.grad.numpy()[2] == 0)
    with pytest.raises(IndexError, match=r"\[0, 7\)"):
        emb(mg.tensor(np.array([7])))


def test_embedding_default_is_standard_normal():
    mg.manual_seed(0)
    w = nn.Embedding(2000, 50).weight.numpy()
    assert abs(w.mean()) < 0.01 and abs(w.std() - 1) < 0.01


def test_batchnorm_momentum_none_is_cumulative_average_and_no_tracking():
    torch = pytest.importorskip("torch")
    bn, tbn = nn.BatchNorm1d(3, momentum=None).double(), torch.nn.BatchNorm1d(3, momentum=None).double()
    for _ in range(3):
        x = rng.normal(size=(5, 3))
        bn(t64(x)), tbn(torch.tensor(x))
    np.testing.assert_allclose(bn.running_var.numpy(), tbn.running_var.numpy(), rtol=1e-12)
    assert bn.num_batches_tracked.item() == 3 == tbn.num_batches_tracked.item()
    free = nn.BatchNorm2d(2, track_running_stats=False).eval()
    assert list(free.state_dict()) == ["weight", "bias"]
    x = rng.normal(size=(4, 2, 3, 3))
    ty = torch.nn.BatchNorm2d(2, track_running_stats=False).double().eval()(torch.tensor(x))
    np.testing.assert_allclose(free.double()(t64(x)).numpy(), ty.detach().numpy(), atol=1e-12)


def test_batchnorm_train_eval_differ_and_shape_error():
    bn = nn.BatchNorm2d(2)
    x = mg.randn(4, 2, 3, 3) * 3 + 1
    y_train = bn(x).numpy()
    np.testing.assert_allclose(y_train.mean(axis=(0, 2, 3)), 0, atol=1e-5)  # batch statistics
    bn.eval()
    y_eval = bn(x).numpy()
    assert not np.allclose(y_train, y_eval)
    assert bn.num_batches_tracked.item() == 1  # eval does not count
    with pytest.raises(ValueError, match="4-D"):
        bn(mg.randn(4, 2))


def test_dropout_train_and_eval():
    drop = nn.Dropout(0.25)
    x = mg.ones(200, 100)
    mg.manual_seed(3)
    y = drop(x).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.75)
    mg.manual_seed(3)
    np.testing.assert_array_equal(drop(x).numpy(), y)  # seeded
    drop.eval()
    assert drop(x) is x
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).numpy(), 0.0)  # every element dropped, as PyTorch
    for p in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="Dropout: p must be in"):
            nn.Dropout(p)


# --- Module mechanics ---------------------------------------------------------------------------------


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.register_buffer("steps", mg.zeros(()))
        self.scale = nn.Parameter(mg.ones(1))
        self.not_state = mg.zeros(2)  # a plain attribute: no registration by accident

    def forward(self, x):
        return self.bn(self.fc(x)) * self.scale


def test_registration_and_traversal():
    net = nn.Sequential(Block(), nn.ReLU(), nn.ModuleList([nn.Linear(4, 2), nn.Tanh()]))
    names = [n for n, _ in net.named_parameters()]
    assert names == ["0.scale", "0.fc.weight", "0.fc.bias", "0.bn.weight", "0.bn.bias", "2.0.weight", "2.0.bias"]
    assert [n for n, _ in net.named_buffers()] == [
        "0.steps",
        "0.bn.running_mean",
        "0.bn.running_var",
        "0.bn.num_batches_tracked",
    ]
    assert list(net.state_dict()) == [
        "0.scale",
        "0.steps",
        "0.fc.weight",
        "0.fc.bias",
        "0.bn.weight",
        "0.bn.bias",
        "0.bn.running_mean",
        "0.bn.running_var",
        "0.bn.num_batches_tracked",
        "2.0.weight",
        "2.0.bias",
    ]
    assert [n for n, _ in net.named_children()] == ["0", "1", "2"]
    assert len(list(net.modules())) == 8
    assert len(net) == 3 and isinstance(net[-1], nn.ModuleList) and isinstance(net[0:2], nn.Sequential)
    assert [type(m).__name__ for m in net] == ["Block", "ReLU", "ModuleList"]
    # shared parameters are listed once
    shared = nn.Linear(2, 2)
    twice = nn.Sequential(shared, shared)
    assert len(list(twice.parameters())) == 2
    # reassigning a registered name
    block = Block()
    block.fc = None
    assert "fc.weight" not in block.state_dict()
    with pytest.raises(TypeError):
        block.scale = mg.zeros(1)  # a parameter slot takes a Parameter (or None)
    block.steps = mg.ones(())
    assert block.state_dict()["steps"].item() == 1


def test_train_eval_requires_grad_apply_zero_grad():
    net = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5), nn.Sequential(nn.BatchNorm1d(3)))
    assert all(m.training for m in net.modules())
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert net[2][0].training
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    net.requires_grad_(True)
    visited = []
    net.apply(lambda m: visited.append(type(m).__name__))
    assert visited == ["Linear", "Dropout", "BatchNorm1d", "Sequential", "Sequential"]
    net(mg.randn(4, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_repr_is_readable():
    text = repr(nn.Sequential(nn.Conv2d(1, 2, 3, bias=False), nn.LeakyReLU(0.2)))
    assert text == (
        "Sequential(\n  (0): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1), bias=False)\n"
        "  (1): LeakyReLU(negative_slope=0.2)\n)"
    )


def test_to_cpu_and_dtype_keep_parameter_identity():
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    params = list(net.parameters())
    net(mg.randn(3, 2)).sum().backward()
    assert net.to("cpu") is net
    assert all(a is b for a, b in zip(params, net.parameters()))
    net.double()
    assert all(a is b for a, b in zip(params, net.parameters()))
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in net.parameters())
    assert net[1].running_mean.dtype == np.float64
    assert net[1].num_batches_tracked.dtype == np.int64  # integer buffers are not cast
    assert all(p.device == "cpu" for p in net.parameters())


# --- state dicts ----------------------------------------------------------------------------------------


def test_state_dict_round_trip():
    mg.manual_seed(0)
    a = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 1))
    a(mg.randn(2, 1, 4, 4))  # move the running statistics
    mg.manual_seed(1)
    b = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 1))
    weight_before = b[0].weight
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b[0].weight is weight_before  # loaded in place
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb
        np.testing.assert_array_equal(va.numpy(), vb.numpy())
    a.eval(), b.eval()
    x = mg.randn(3, 1, 4, 4)
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())


def test_load_state_dict_errors_name_keys_and_shapes():
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    state = net.state_dict()
    del state["1.running_var"]
    state["2.weight"] = mg.zeros(2)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(state)
    message = str(info.value)
    assert "missing keys: '1.running_var'" in message and "unexpected keys: '2.weight'" in message
    result = net.load_state_dict(state, strict=False)
    assert result.missing_keys == ["1.running_var"] and result.unexpected_keys == ["2.weight"]

    state = net.state_dict()
    state["0.weight"] = np.zeros((3, 2))
    with pytest.raises(RuntimeError, match=r"'0\.weight'.*\(3, 2\).*\(2, 3\)"):
        net.load_state_dict(state, strict=False)  # shapes are checked even when not strict
    before = net[0].weight.numpy()
    state["0.bias"] = np.full(2, 7.0)
    with pytest.raises(RuntimeError):
        net.load_state_dict(state)
    np.testing.assert_array_equal(net[0].weight.numpy(), before)  # nothing copied on error
    assert not np.any(net[0].bias.numpy() == 7.0)


@pytest.mark.parametrize(
    "bad_value,message",
    [
        (np.array(["1.0", "2.0"]), "dtype mismatch for '1.running_var': the checkpoint has <U3"),
        (np.array([1 + 2j, 3j]), "dtype mismatch for '1.running_var': the checkpoint has complex128"),
        (np.array([object(), object()]), "dtype mismatch for '1.running_var': the checkpoint has object"),
        ([[1.0], [2.0, 3.0]], "'1.running_var' is not an array"),
    ],
    ids=["strings", "complex", "objects", "ragged"],
)
def test_a_value_of_the_wrong_kind_is_refused_before_anything_is_copied(bad_value, message):
    # the old loop copied '0.weight' and '0.bias', then failed (strings, objects) or silently dropped the
    # imaginary part (complex) on '1.running_var'
    mg.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    state = {k: np.full(v.shape, 5, dtype=v.numpy().dtype) for k, v in net.state_dict().items()}
    state["1.running_var"] = bad_value
    with pytest.raises(RuntimeError, match=message):
        net.load_state_dict(state)
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key], err_msg=key)


def test_a_float_into_an_integer_buffer_is_refused_and_a_non_mapping_named():
    net = nn.BatchNorm1d(2)
    state = net.state_dict()
    state["num_batches_tracked"] = np.array(3.7)  # was truncated to 3 silently
    with pytest.raises(RuntimeError, match="dtype mismatch for 'num_batches_tracked'.*float64.*int64"):
        net.load_state_dict(state)
    assert net.num_batches_tracked.item() == 0
    state["num_batches_tracked"] = np.array(3, dtype=np.int32)  # an integer of another width is fine
    net.load_state_dict(state)
    assert net.num_batches_tracked.item() == 3 and net.num_batches_tracked.dtype == np.int64
    with pytest.raises(TypeError, match="BatchNorm1d.load_state_dict: expected a dict of name -> tensor, got list"):
        net.load_state_dict(list(state.items()))


# --- initialisation ---------------------------------------------------------------------------------


def test_default_inits_follow_pytorch():
    mg.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w = lin.weight.numpy()
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert np.abs(lin.bias.numpy()).max() <= bound
    conv = nn.ConvTranspose2d(16, 8, 4)  # fan_in = 8 * 4 * 4, as PyTorch computes it
    assert np.abs(conv.weight.numpy()).max() <= 1 / math.sqrt(128)
    assert np.abs(conv.weight.numpy()).max() > 0.98 / math.sqrt(128)
    bn = nn.BatchNorm2d(5)
    np.testing.assert_array_equal(bn.weight.numpy(), 1)
    np.testing.assert_array_equal(bn.bias.numpy(), 0)
    mg.manual_seed(0)
    np.testing.assert_array_equal(nn.Linear(400, 300).weight.numpy(), w)  # manual_seed reproduces


@pytest.mark.parametrize(
    "fn,expected_std",
    [
        (lambda t: init.kaiming_normal_(t, mode="fan_in", nonlinearity="relu"), math.sqrt(2 / (50 * 9))),
        (lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"), math.sqrt(2 / (60 * 9))),
        (lambda t: init.kaiming_uniform_(t, a=0.2), math.sqrt(2 / (1 + 0.04) / (50 * 9))),
        (lambda t: init.xavier_uniform_(t, gain=init.calculate_gain("tanh")), 5 / 3 * math.sqrt(2 / (110 * 9))),
        (lambda t: init.xavier_normal_(t), math.sqrt(2 / (110 * 9))),
        (lambda t: init.normal_(t, 0.0, 0.02), 0.02),
        (lambda t: init.uniform_(t, -1, 1), 1 / math.sqrt(3)),
    ],
)
def test_init_statistics(fn, expected_std):
    mg.manual_seed(0)
    weight = nn.Parameter(mg.zeros(60, 50, 3, 3))
    assert fn(weight) is weight
    w = weight.numpy()
    assert abs(w.mean()) < 0.03 * expected_std
    assert abs(w.std() / expected_std - 1) < 0.02


def test_calculate_gain_and_constant_inits():
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    assert init.calculate_gain("tanh") == 5 / 3
    assert init.calculate_gain("conv_transpose2d") == 1
    with pytest.raises(ValueError):
        init.calculate_gain("swish")
    t = mg.zeros(3, 2)
    np.testing.assert_array_equal(init.constant_(t, 0.5).numpy(), 0.5)
    np.testing.assert_array_equal(init.ones_(t).numpy(), 1)
    np.testing.assert_array_equal(init.zeros_(t).numpy(), 0)
    with pytest.raises(ValueError, match="at least 2"):
        init.xavier_uniform_(mg.zeros(3))


def test_init_matches_torch_formulas():
    torch = pytest.importorskip("torch")
    # same bounds as torch's defaults (fan_in of a ConvTranspose2d weight (in, out, k, k) is out * k * k):
    # with many samples the largest magnitudes agree closely
    torch.manual_seed(0)
    t = torch.nn.ConvTranspose2d(40, 300, 2)
    mg.manual_seed(0)
    m = nn.ConvTranspose2d(40, 300, 2)
    for a, b in [(m.weight, t.weight), (m.bias, t.bias)]:
        ratio = np.abs(a.numpy()).max() / b.detach().abs().max().item()
        assert 0.97 < ratio < 1.03


def test_to_cuda_moves_in_place_or_fails_clearly():
    net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    params = list(net.parameters())
    try:
        net.to("cuda")
    except RuntimeError as error:  # no GPU here: say so, and leave the module untouched
        assert "cuda" in str(error)
        assert all(p.device == "cpu" for p in net.parameters())
        return
    assert all(a is b for a, b in zip(params, net.parameters()))
    assert all(t.device == "cuda:0" for t in list(net.parameters()) + list(net.buffers()))
    y = net(mg.randn(4, 2, device="cuda"))
    assert y.device == "cuda:0"
    net.to("cpu")
    assert all(p.device == "cpu" for p in net.parameters())


def test_module_misuse_errors():
    class Forgot(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="super\\(\\).__init__\\(\\)"):
        Forgot()
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'wieght'"):
        nn.Linear(1, 1).wieght
    with pytest.raises(NotImplementedError):
        nn.Module()(mg.zeros(1))
    with pytest.raises(IndexError):
        nn.Sequential(nn.ReLU())[1]
    with pytest.raises(TypeError, match="integers"):
        nn.Embedding(3, 2)(mg.zeros(2))


# --- batch and instance norm register their state alike (one helper): keys, round trips, devices --------

NORM_LAYERS = {
    "batch_norm_2d": lambda **kw: nn.BatchNorm2d(3, **kw),
    "batch_norm_2d_untracked": lambda **kw: nn.BatchNorm2d(3, affine=False, track_running_stats=False, **kw),
    "instance_norm_2d": lambda **kw: nn.InstanceNorm2d(3, **kw),
    "instance_norm_2d_tracked": lambda **kw: nn.InstanceNorm2d(3, affine=True, track_running_stats=True, **kw),
}


def _all_state(layer):
    return dict(layer.named_parameters()) | dict(layer.named_buffers())


@pytest.mark.parametrize("name", NORM_LAYERS)
def test_norm_layers_state_dicts_round_trip_and_to_moves_every_buffer(name, tmp_path):
    make = NORM_LAYERS[name]
    layer = make()
    for _ in range(2):  # training steps change the running statistics
        layer(mg.randn(4, 3, 5, 5))
    state = layer.state_dict()
    tracked = layer.track_running_stats
    assert ("running_mean" in state) == ("num_batches_tracked" in state) == tracked
    assert ("weight" in state) == layer.affine
    mg.save(state, tmp_path / "norm.safetensors")
    fresh = make()
    fresh.load_state_dict(mg.load(tmp_path / "norm.safetensors"))
    assert list(fresh.state_dict()) == list(state)
    for key, value in fresh.state_dict().items():
        assert value.dtype == state[key].dtype, key
        np.testing.assert_array_equal(value.numpy(), state[key].numpy(), err_msg=key)
    if tracked:
        assert not np.allclose(fresh.running_mean.numpy(), 0.0)  # the trained statistics came back

    fresh.to(mg.float64)
    for key, value in _all_state(fresh).items():
        assert value.dtype == (np.int64 if key == "num_batches_tracked" else np.float64), key
    assert {value.device for value in _all_state(fresh).values()} <= {"cpu"}


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("name", NORM_LAYERS)
def test_norm_layers_put_every_parameter_and_buffer_on_their_device(name):
    layer = NORM_LAYERS[name](device="cuda")
    assert {value.device for value in _all_state(layer).values()} == {"cuda:0"}  # num_batches_tracked too
    layer.to("cpu")
    assert {value.device for value in _all_state(layer).values()} == {"cpu"}
