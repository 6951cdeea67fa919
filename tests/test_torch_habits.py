"""A PyTorch user's habits (issue 15): a torch state dict loaded in memory, Tensor.to with dtypes, the
in-place methods and their version counter, from_numpy/as_tensor, load's map_location,
Conv2d(padding="same"/groups), the normalisation layers, Dropout2d, Upsample(bilinear) and Adadelta -- each
against PyTorch where it has the same thing.  ``.data`` and the DCGAN tutorial's init: test_data_attribute.py."""

import numpy as np
import pytest

import minigan as mg
import minigan.functional as F
import minigan.nn as nn
import minigan.optim as optim

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")
RNG = np.random.default_rng(7)


def small_dcgan_discriminator(nn, ndf=4):
    return nn.Sequential(
        nn.Conv2d(1, ndf, 4, 2, 1, bias=False),
        nn.LeakyReLU(0.2),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ndf * 2),
        nn.LeakyReLU(0.2),
        nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False),
        nn.Sigmoid(),
    )


# --- 1. load_state_dict(torch_model.state_dict()) in memory -----------------------------------------------


def test_a_torch_state_dict_loads_in_memory_and_the_outputs_agree():
    theirs = small_dcgan_discriminator(torch.nn)
    theirs.train()(torch.randn(5, 1, 16, 16))  # running statistics and num_batches_tracked move
    ours = small_dcgan_discriminator(nn)
    ours.load_state_dict(theirs.state_dict())
    assert ours.state_dict()["3.num_batches_tracked"].item() == 1
    x = RNG.standard_normal((3, 1, 16, 16)).astype(np.float32)
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(
        ours(mg.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6
    )


def test_a_torch_state_dict_with_a_wrong_shape_changes_nothing():
    ours = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    before = {k: v.numpy() for k, v in ours.state_dict().items()}
    bad = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 3)).state_dict()
    with pytest.raises(RuntimeError, match=r"size mismatch for '1.weight'.*\(3, 4\).*\(2, 4\)"):
        ours.load_state_dict(bad)
    for key, value in ours.state_dict().items():  # validate first, then assign: 0.weight is untouched
        np.testing.assert_array_equal(value.numpy(), before[key])


def test_a_value_that_is_not_an_array_is_named():
    ours = nn.Linear(2, 1)
    with pytest.raises(RuntimeError, match=r"'weight' is not an array \(object: as_array: cannot read an array"):
        ours.load_state_dict({"weight": object(), "bias": np.zeros(1)})


# --- 2. the in-place methods (the DCGAN tutorial's init through .data: tests/test_data_attribute.py) ----


def test_in_place_methods_fill_and_bump_the_version_counter():
    w = nn.Linear(20, 30).weight
    version = w._version
    with mg.no_grad():
        w.normal_(0.0, 0.02)
    assert abs(w.numpy().std() - 0.02) < 0.002 and w._version == version + 1
    w.detach().uniform_(-0.5, 0.5)  # detach() shares the storage and the counter
    assert -0.5 <= w.numpy().min() < -0.4 and 0.4 < w.numpy().max() < 0.5 and w._version == version + 2
    w.detach().clamp_(-0.1, 0.2)
    assert w.numpy().min() == pytest.approx(-0.1) and w.numpy().max() == pytest.approx(0.2)
    w.detach().fill_(3.0)
    w.detach().zero_()
    assert not w.numpy().any() and w._version == version + 5
    w.detach().copy_(np.ones((30, 20)))
    assert (w.numpy() == 1).all() and w._version == version + 6


def test_an_in_place_change_of_a_saved_tensor_is_refused_at_backward():
    w = mg.randn(3, 3, requires_grad=True)
    y = (w * w).sum()
    w.detach().normal_()
    with pytest.raises(RuntimeError, match="modified by an in-place operation|changed in place|version"):
        y.backward()


def test_in_place_on_a_tensor_that_requires_grad_is_refused_outside_no_grad():
    w = mg.randn(2, requires_grad=True)
    for call in (lambda: w.normal_(), lambda: w.uniform_(), lambda: w.clamp_(0, 1)):
        with pytest.raises(RuntimeError, match="in-place assignment to a tensor that requires grad"):
            call()
    with pytest.raises(TypeError, match="normal_: expected a floating-point tensor"):
        mg.zeros(3, dtype="int64").normal_()


# --- small habits ---------------------------------------------------------------------------------------


def test_to_takes_dtypes_devices_and_tensors_as_pytorch():
    x = mg.randn(2, 3, requires_grad=True)
    for args in ((mg.float64,), ("float64",), (np.float64,), ("cpu", mg.float64), (mg.zeros(1, dtype="float64"),)):
        y = x.to(*args)
        assert y.dtype == np.float64 and y.device == "cpu"
    assert x.to(dtype=mg.float64).dtype == np.float64 and x.to("cpu") is x and x.to(None) is x
    y = x.to(mg.float64)
    y.sum().backward()  # the gradient comes back cast to float32
    assert x.grad.dtype == np.float32
    with pytest.raises(ValueError, match="to: 'gpu' is neither a device"):
        x.to("gpu")
    with pytest.raises(TypeError, match="to: unsupported dtype float16"):
        x.to("float16")
    assert x.is_cuda is False


def test_expand_as_view_as_and_grad_only_inputs():
    x = mg.randn(3, 1, requires_grad=True)
    y = x.expand_as(mg.zeros(3, 4))
    assert y.shape == (3, 4) and mg.zeros(12).view_as(y).shape == (3, 4)
    (g,) = mg.grad((y * 2).sum(), [x], only_inputs=True)
    np.testing.assert_array_equal(g.numpy(), np.full((3, 1), 8.0))


def test_from_numpy_shares_memory_and_as_tensor_reads_torch():
    a = np.arange(6.0).reshape(2, 3)
    t = mg.from_numpy(a)
    a[0, 0] = 42.0
    assert t[0, 0].item() == 42.0 and t.dtype == np.float64
    with pytest.raises(TypeError, match="from_numpy: expected a numpy.ndarray"):
        mg.from_numpy([1.0, 2.0])
    from_torch = mg.as_tensor(torch.arange(4.0))
    np.testing.assert_array_equal(from_torch.numpy(), [0, 1, 2, 3])
    assert mg.as_tensor(a, dtype=mg.float32).dtype == np.float32
    assert mg.as_tensor(t) is t and mg.as_tensor([1.0, 2.0]).dtype == np.float32


def test_load_takes_map_location(tmp_path):
    path = tmp_path / "state.safetensors"
    mg.save({"w": mg.ones(2)}, path)
    assert mg.load(path, map_location="cpu")["w"].device == "cpu"
    assert mg.load(path, map_location=mg.device("cpu"))["w"].numpy().tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match="load: give map_location or device, not both"):
        mg.load(path, map_location="cpu", device="cpu")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        mg.device("tpu")


def test_new_zeros_new_ones_tolist_item_and_friends():
    x = mg.randn(2, 3, dtype="float64")
    assert x.new_zeros(4, 1).dtype == np.float64 and x.new_zeros((4, 1)).shape == (4, 1)
    assert x.new_ones(2).numpy().tolist() == [1.0, 1.0] and x.new_full((2,), 7.0).numpy().tolist() == [7.0, 7.0]
    assert x.size() == (2, 3) and x.size(1) == 3 and x.dim() == 2 and x.numel() == 6
    pred = mg.tensor([[1], [2], [0]])
    assert pred.eq(mg.tensor([1, 0, 0]).view_as(pred)).sum().item() == 2


# --- 3. layers ------------------------------------------------------------------------------------------


def _copy_parameters(ours, theirs):
    ours.load_state_dict(theirs.state_dict())


@pytest.mark.parametrize(
    "make",
    [
        lambda nn: nn.Conv2d(4, 6, 3, padding="same", groups=2, dtype=DTYPE[nn]),
        lambda nn: nn.Conv2d(4, 4, (2, 3), padding="same", dilation=(1, 2), dtype=DTYPE[nn]),
        lambda nn: nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1, groups=2, dtype=DTYPE[nn]),
        lambda nn: nn.GroupNorm(2, 4, dtype=DTYPE[nn]),
        lambda nn: nn.InstanceNorm2d(4, dtype=DTYPE[nn]),
        lambda nn: nn.InstanceNorm2d(4, affine=True, track_running_stats=True, dtype=DTYPE[nn]),
        lambda nn: nn.Upsample(scale_factor=2, mode="bilinear"),
        lambda nn: nn.Upsample(size=(5, 7), mode="bilinear", align_corners=True),
    ],
    ids=[
        "conv_same_groups",
        "conv_same_even_dilated",
        "conv_transpose_groups",
        "group_norm",
        "instance_norm",
        "instance_norm_affine_tracked",
        "upsample_bilinear",
        "upsample_bilinear_align_corners",
    ],
)
def test_layers_train_and_evaluate_as_pytorchs(make):
    """Outputs, parameter gradients, running statistics and state-dict keys over two training steps and
    one evaluation, in float64, after the parameters are copied from PyTorch."""
    ours, theirs = make(nn), make(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for p in theirs.parameters():
        torch.nn.init.normal_(p.data)
    _copy_parameters(ours, theirs)
    for training in (True, True, False):
        ours.train(training), theirs.train(training)
        x = RNG.standard_normal((3, 4, 4, 5))
        y, y_ref = ours(mg.tensor(x, requires_grad=True)), theirs(torch.tensor(x, requires_grad=True))
        np.testing.assert_allclose(y.numpy(), y_ref.detach().numpy(), rtol=1e-10, atol=1e-12)
        r = RNG.standard_normal(y.shape)
        (y * mg.tensor(r)).sum().backward()
        (y_ref * torch.tensor(r)).sum().backward()
        for (name, p), p_ref in zip(ours.named_parameters(), theirs.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), p_ref.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
        for key, value in theirs.state_dict().items():
            np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-12, err_msg=key)


DTYPE = {nn: mg.float64, torch.nn: torch.float64}


def test_layer_constructor_errors_name_the_argument():
    with pytest.raises(ValueError, match="Conv2d: padding='same' needs stride 1"):
        nn.Conv2d(1, 2, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"Conv2d: groups = 2 must divide in_channels \(3\)"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"GroupNorm: num_channels \(5\) must be divisible by num_groups \(2\)"):
        nn.GroupNorm(2, 5)
    with pytest.raises(ValueError, match=r"InstanceNorm2d: expected 3 channels"):
        nn.InstanceNorm2d(3)(mg.randn(2, 4, 3, 3))
    with pytest.raises(NotImplementedError, match="Upsample: mode 'bicubic'"):
        nn.Upsample(scale_factor=2, mode="bicubic")


def test_dropout2d_zeroes_whole_channels_and_scales_the_rest():
    mg.manual_seed(0)
    layer = nn.Dropout2d(0.25)
    y = layer(mg.ones(64, 32, 3, 3)).numpy()
    per_channel = y.reshape(64, 32, 9)
    assert ((per_channel == 0).all(-1) | (per_channel == 1 / 0.75).all(-1)).all()  # a channel is all or none
    dropped = (per_channel == 0).all(-1).mean()
    assert 0.2 < dropped < 0.3
    layer.eval()
    assert (layer(mg.ones(2, 3, 2, 2)).numpy() == 1).all()
    x = mg.randn(2, 3, 4, 4, dtype="float64", requires_grad=True)
    mg.manual_seed(1)
    y = F.dropout2d(x, 0.5)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), (y.numpy() != 0) * 2.0)


# --- Adadelta (pytorch/examples' mnist) ---------------------------------------------------------------


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adadelta_follows_pytorchs_trajectory(weight_decay):
    w0 = RNG.standard_normal((4, 3))
    ours, theirs = mg.tensor(w0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    opt = optim.Adadelta([ours], lr=1.0, rho=0.8, eps=1e-6, weight_decay=weight_decay)
    opt_ref = torch.optim.Adadelta([theirs], lr=1.0, rho=0.8, eps=1e-6, weight_decay=weight_decay)
    target = RNG.standard_normal((4, 3))
    for _ in range(20):
        opt.zero_grad(), opt_ref.zero_grad()
        ((ours - mg.tensor(target)) ** 4).sum().backward()
        ((theirs - torch.tensor(target)) ** 4).sum().backward()
        opt.step(), opt_ref.step()
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-14)
    assert np.abs(ours.numpy() - w0).max() > 1e-3  # it moved
    state = opt.state_dict()["state"][0]
    np.testing.assert_allclose(state["acc_delta"].numpy(), opt_ref.state[theirs]["acc_delta"].numpy(), rtol=1e-12)
