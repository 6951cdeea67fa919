"""The ops issue 15 added for code ported from PyTorch (norm(p, dim), chunk, split, repeat, masked_fill, topk,
conv2d with groups or padding="same", conv_transpose2d with groups, bilinear interpolate, group_norm,
instance_norm, pad's reflect/replicate/circular modes, Conv2d's padding_mode, nearest interpolate at any
size): each one's forward, gradient and Hessian-vector product against PyTorch's in float64, and
gradcheck/gradgradcheck (central differences)."""

import numpy as np
import pytest

import minigan as mg
import minigan.functional as F
import minigan.nn as nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")
RNG = np.random.default_rng(15)


def randn(*shape):
    return RNG.standard_normal(shape)


def away_from_zero(*shape):
    return RNG.uniform(0.3, 1.5, shape) * RNG.choice([-1.0, 1.0], shape)


def distinct(*shape):
    n = int(np.prod(shape))
    return (RNG.permutation(n) * 0.37 - n * 0.15).reshape(shape)


def first(pair):
    return pair[0]


# name, minigan function, PyTorch function, inputs (float64 arrays)
CASES = [
    ("norm_p2_dim", lambda a: a.norm(2, dim=1), lambda a: a.norm(2, dim=1), lambda: [randn(3, 5)]),
    (
        "norm_p_keyword_keepdim",
        lambda a: a.norm(p=2, dim=1, keepdim=True),
        lambda a: a.norm(p=2, dim=1, keepdim=True),
        lambda: [randn(3, 5)],
    ),
    ("norm_fro_all", lambda a: F.norm(a), lambda a: torch.norm(a), lambda: [randn(3, 4)]),
    ("norm_p1", lambda a: a.norm(1, dim=0), lambda a: a.norm(1, dim=0), lambda: [away_from_zero(3, 4)]),
    ("norm_p3", lambda a: a.norm(3, dim=(0, 2)), lambda a: a.norm(3, dim=(0, 2)), lambda: [away_from_zero(2, 3, 4)]),
    (
        "norm_inf",
        lambda a: a.norm(float("inf"), dim=1),
        lambda a: a.norm(float("inf"), dim=1),
        lambda: [distinct(3, 4)],
    ),
    (
        "chunk",
        lambda a: a.chunk(3, 1)[1] * a.chunk(3, 1)[2][:, :1],
        lambda a: a.chunk(3, 1)[1] * a.chunk(3, 1)[2][:, :1],
        lambda: [randn(2, 7)],
    ),
    (
        "split_sections",
        lambda a: a.split([1, 3], 0)[1] ** 2,
        lambda a: a.split([1, 3], 0)[1] ** 2,
        lambda: [randn(4, 2)],
    ),
    ("split_size", lambda a: a.split(2, -1)[-1] * 3, lambda a: a.split(2, -1)[-1] * 3, lambda: [randn(3, 5)]),
    ("repeat", lambda a: a.repeat(2, 1, 3) ** 2, lambda a: a.repeat(2, 1, 3) ** 2, lambda: [randn(3, 2)]),
    (
        "masked_fill",
        lambda a: a.masked_fill(mg.tensor(MASK), -2.0) ** 2,
        lambda a: a.masked_fill(torch.tensor(MASK), -2.0) ** 2,
        lambda: [randn(3, 4)],
    ),
    ("topk_largest", lambda a: a.topk(2, dim=1)[0] ** 2, lambda a: a.topk(2, dim=1)[0] ** 2, lambda: [distinct(3, 5)]),
    (
        "topk_smallest",
        lambda a: a.topk(3, dim=0, largest=False)[0] ** 2,
        lambda a: a.topk(3, dim=0, largest=False)[0] ** 2,
        lambda: [distinct(4, 3)],
    ),
    (
        "conv2d_groups",
        lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=2),
        lambda x, w, b: TF.conv2d(x, w, b, padding=1, groups=2),
        lambda: [randn(1, 4, 4, 4), randn(4, 2, 3, 3), randn(4)],
    ),
    (
        "conv2d_same_odd_kernel",
        lambda x, w: F.conv2d(x, w, padding="same"),
        lambda x, w: TF.conv2d(x, w, padding="same"),
        lambda: [randn(1, 2, 5, 6), randn(3, 2, 3, 3)],
    ),
    (
        "conv2d_same_even_kernel",
        lambda x, w: F.conv2d(x, w, padding="same"),
        lambda x, w: TF.conv2d(x, w, padding="same"),
        lambda: [randn(1, 2, 5, 6), randn(3, 2, 4, 2)],
    ),
    (
        "conv2d_same_dilated",
        lambda x, w: F.conv2d(x, w, padding="same", dilation=2),
        lambda x, w: TF.conv2d(x, w, padding="same", dilation=2),
        lambda: [randn(1, 2, 6, 6), randn(2, 2, 2, 3)],
    ),
    (
        "conv2d_valid",
        lambda x, w: F.conv2d(x, w, padding="valid"),
        lambda x, w: TF.conv2d(x, w, padding="valid"),
        lambda: [randn(1, 2, 5, 5), randn(2, 2, 3, 3)],
    ),
    (
        "conv_transpose2d_groups",
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, groups=2),
        lambda x, w, b: TF.conv_transpose2d(x, w, b, stride=2, padding=1, groups=2),
        lambda: [randn(1, 4, 2, 2), randn(4, 2, 3, 3), randn(4)],
    ),
    (
        "bilinear_scale2",
        lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"),
        lambda x: TF.interpolate(x, scale_factor=2, mode="bilinear"),
        lambda: [randn(1, 2, 3, 4)],
    ),
    (
        "bilinear_align_corners",
        lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True),
        lambda x: TF.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True),
        lambda: [randn(1, 2, 3, 4)],
    ),
    (
        "bilinear_size_down",
        lambda x: F.interpolate(x, size=(3, 5), mode="bilinear"),
        lambda x: TF.interpolate(x, size=(3, 5), mode="bilinear"),
        lambda: [randn(2, 1, 5, 7)],
    ),
    (
        "bilinear_scale_1_5",
        lambda x: F.interpolate(x, scale_factor=1.5, mode="bilinear"),
        lambda x: TF.interpolate(x, scale_factor=1.5, mode="bilinear"),
        lambda: [randn(1, 2, 4, 3)],
    ),
    (
        "bilinear_size_align_corners",
        lambda x: F.interpolate(x, size=(7, 2), mode="bilinear", align_corners=True),
        lambda x: TF.interpolate(x, size=(7, 2), mode="bilinear", align_corners=True),
        lambda: [randn(1, 1, 3, 4)],
    ),
    (
        "group_norm",
        lambda x, w, b: F.group_norm(x, 2, w, b),
        lambda x, w, b: TF.group_norm(x, 2, w, b),
        lambda: [randn(3, 4, 2, 3), randn(4), randn(4)],
    ),
    ("group_norm_plain_1d", lambda x: F.group_norm(x, 3), lambda x: TF.group_norm(x, 3), lambda: [randn(2, 6, 5)]),
    (
        "instance_norm",
        lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
        lambda x, w, b: TF.instance_norm(x, weight=w, bias=b),
        lambda: [randn(2, 3, 3, 4), randn(3), randn(3)],
    ),
    (
        "instance_norm_running_stats_eval",
        lambda x: F.instance_norm(x, RUNNING_MEAN, RUNNING_VAR, use_input_stats=False),
        lambda x: TF.instance_norm(x, torch.tensor(RUNNING_MEAN), torch.tensor(RUNNING_VAR), use_input_stats=False),
        lambda: [randn(2, 3, 3, 3)],
    ),
    # padding modes (squared so that the second derivative is not zero) and nearest at non-integer factors
    (
        "pad_reflect_2d",
        lambda x: F.pad(x, (2, 1, 0, 3), mode="reflect") ** 2,
        lambda x: TF.pad(x, (2, 1, 0, 3), mode="reflect") ** 2,
        lambda: [randn(1, 2, 4, 3)],
    ),
    (
        "pad_reflect_1d_unbatched",
        lambda x: F.pad(x, (1, 2), mode="reflect") ** 2,
        lambda x: TF.pad(x, (1, 2), mode="reflect") ** 2,
        lambda: [randn(2, 3)],
    ),
    (
        "pad_replicate_2d",
        lambda x: F.pad(x, (3, 0, 2, 2), mode="replicate") ** 2,
        lambda x: TF.pad(x, (3, 0, 2, 2), mode="replicate") ** 2,
        lambda: [randn(2, 1, 2, 3)],
    ),
    (
        "pad_replicate_3d",
        lambda x: F.pad(x, (1, 0, 0, 1, 2, 1), mode="replicate") ** 2,
        lambda x: TF.pad(x, (1, 0, 0, 1, 2, 1), mode="replicate") ** 2,
        lambda: [randn(1, 1, 2, 2, 3)],
    ),
    (
        "pad_circular_2d",
        lambda x: F.pad(x, (3, 1, 2, 0), mode="circular") ** 2,
        lambda x: TF.pad(x, (3, 1, 2, 0), mode="circular") ** 2,
        lambda: [randn(1, 2, 3, 3)],
    ),
    (
        "pad_constant_value",
        lambda x: F.pad(x, (1, 2, 0, 1), value=-0.5) ** 2,
        lambda x: TF.pad(x, (1, 2, 0, 1), value=-0.5) ** 2,
        lambda: [randn(2, 3, 2)],
    ),
    (
        "conv2d_reflect_module",
        lambda x: CONV_MG["reflect"](x) ** 2,
        lambda x: CONV_TORCH["reflect"](x) ** 2,
        lambda: [randn(1, 2, 4, 5)],
    ),
    (
        "conv2d_circular_same_module",
        lambda x: CONV_MG["circular"](x) ** 2,
        lambda x: CONV_TORCH["circular"](x) ** 2,
        lambda: [randn(1, 2, 4, 5)],
    ),
    (
        "nearest_scale_1_5",
        lambda x: F.interpolate(x, scale_factor=1.5) ** 2,
        lambda x: TF.interpolate(x, scale_factor=1.5) ** 2,
        lambda: [randn(1, 2, 3, 4)],
    ),
    (
        "nearest_size_down_and_up",
        lambda x: F.interpolate(x, size=(2, 7)) ** 2,
        lambda x: TF.interpolate(x, size=(2, 7)) ** 2,
        lambda: [randn(2, 1, 5, 3)],
    ),
]
MASK = np.array([[True, False, False, True], [False] * 4, [True] * 4])
RUNNING_MEAN, RUNNING_VAR = np.array([0.1, -0.2, 0.3]), np.array([1.5, 0.5, 2.0])
IDS = [case[0] for case in CASES]


def _conv_twins(padding_mode, padding):
    """A float64 Conv2d in each library with the same weights."""
    ours = nn.Conv2d(2, 3, (3, 2), padding=padding, padding_mode=padding_mode, dtype="float64")
    theirs = torch.nn.Conv2d(2, 3, (3, 2), padding=padding, padding_mode=padding_mode, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.numpy()))
        theirs.bias.copy_(torch.from_numpy(ours.bias.numpy()))
    return ours, theirs


CONV_MG, CONV_TORCH = {}, {}
for _mode, _padding in (("reflect", (2, 1)), ("circular", "same")):
    CONV_MG[_mode], CONV_TORCH[_mode] = _conv_twins(_mode, _padding)


def _inputs(factory):
    arrays = factory()
    return arrays, [mg.tensor(a, dtype="float64", requires_grad=True) for a in arrays]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradcheck_and_gradgradcheck(case):
    _, ours, _, factory = case
    _, tensors = _inputs(factory)
    assert mg.gradcheck(ours, tensors)
    assert mg.gradgradcheck(ours, tensors)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_gradient_and_second_derivative_equal_pytorchs(case):
    _, ours, theirs, factory = case
    arrays, tensors = _inputs(factory)
    torch_inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, y_torch = ours(*tensors), theirs(*torch_inputs)
    np.testing.assert_allclose(y.numpy(), y_torch.detach().numpy(), rtol=1e-10, atol=1e-12)
    v = RNG.standard_normal(y.shape)
    grads = mg.grad(y, tensors, grad_outputs=mg.tensor(v, dtype="float64"), create_graph=True)
    grads_torch = torch.autograd.grad(y_torch, torch_inputs, grad_outputs=torch.tensor(v), create_graph=True)
    for g, gt in zip(grads, grads_torch):
        np.testing.assert_allclose(g.numpy(), gt.detach().numpy(), rtol=1e-9, atol=1e-11)
    us = [RNG.standard_normal(a.shape) for a in arrays]
    terms = [(g * mg.tensor(u)).sum() for g, u in zip(grads, us) if g.requires_grad]
    terms_torch = [(g * torch.tensor(u)).sum() for g, u in zip(grads_torch, us) if g.requires_grad]
    if not terms:  # a piecewise-linear op: PyTorch's second derivative must be zero too
        if terms_torch:
            for ht in torch.autograd.grad(sum(terms_torch[1:], terms_torch[0]), torch_inputs, allow_unused=True):
                assert ht is None or not ht.abs().max().item()
        return
    hvp = mg.grad(sum(terms[1:], terms[0]), tensors, allow_unused=True)
    hvp_torch = torch.autograd.grad(sum(terms_torch[1:], terms_torch[0]), torch_inputs, allow_unused=True)
    for h, ht in zip(hvp, hvp_torch):
        h = np.zeros(1) if h is None else h.numpy()
        ht = np.zeros(1) if ht is None else ht.numpy()
        shape = np.broadcast_shapes(h.shape, ht.shape)
        np.testing.assert_allclose(np.broadcast_to(h, shape), np.broadcast_to(ht, shape), rtol=1e-8, atol=1e-10)


def test_topk_indices_and_order_equal_pytorchs():
    a = distinct(4, 6)
    for k, dim, largest in ((3, 1, True), (2, 0, False), (6, -1, True)):
        values, indices = mg.tensor(a).topk(k, dim, largest)
        ref_values, ref_indices = torch.tensor(a).topk(k, dim, largest)
        np.testing.assert_array_equal(indices.numpy(), ref_indices.numpy())
        np.testing.assert_allclose(values.numpy(), ref_values.numpy())
        assert indices.dtype == np.int64


def test_chunk_and_split_piece_shapes_equal_pytorchs():
    a = randn(10, 3)
    for n in (1, 3, 4, 6, 10, 12):
        assert [p.shape for p in mg.tensor(a).chunk(n)] == [tuple(p.shape) for p in torch.tensor(a).chunk(n)]
    for size in (1, 3, 4, 10, 11):
        assert [p.shape for p in mg.tensor(a).split(size)] == [tuple(p.shape) for p in torch.tensor(a).split(size)]


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda x: x.norm(0.5), ValueError, "norm: p must be >= 1.0"),
        (lambda x: x.norm("nuc"), TypeError, "norm: p must be a real number"),
        (lambda x: x.split([1, 1], 0), ValueError, "split: the sections [1, 1] add up to 2, but dim 0 has size 3"),
        (lambda x: x.chunk(0), ValueError, "chunk: chunks must be >= 1"),
        (lambda x: x.repeat(2), ValueError, "repeat: give at least one size per dimension"),
        (lambda x: x.topk(5), ValueError, "topk: k = 5 is larger than the size 4"),
        (lambda x: x.masked_fill(x, 0.0), TypeError, "masked_fill: mask must be a boolean tensor"),
        (
            lambda x: F.conv2d(x.reshape(1, 1, 3, 4), mg.randn(1, 1, 3, 3), padding="same", stride=2),
            ValueError,
            "conv2d: padding='same' needs stride 1",
        ),
        (
            lambda x: F.conv2d(x.reshape(1, 1, 3, 4), mg.randn(1, 1, 3, 3), padding="full"),
            ValueError,
            "conv2d: padding must be an int, a pair, 'valid' or 'same'",
        ),
        (
            lambda x: F.conv2d(x.reshape(1, 3, 2, 2), mg.randn(4, 1, 1, 1), groups=2),
            ValueError,
            "conv2d: groups = 2 must divide the input channels (3)",
        ),
        (
            lambda x: F.group_norm(x.reshape(1, 3, 4), 2),
            ValueError,
            "group_norm: expected an input (N, C, ...) with C divisible by num_groups = 2",
        ),
        (
            lambda x: F.interpolate(x.reshape(1, 1, 3, 4), scale_factor=2, mode="bicubic"),
            NotImplementedError,
            "interpolate: mode 'bicubic'",
        ),
        (
            lambda x: F.interpolate(x.reshape(1, 1, 3, 4), scale_factor=2, align_corners=True),
            ValueError,
            "interpolate: align_corners only applies to mode 'bilinear'",
        ),
    ],
)
def test_bad_arguments_are_clear_errors(call, error, message):
    with pytest.raises(error) as raised:
        call(mg.randn(3, 4))
    assert message in str(raised.value)


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [0, 1, (2, 1), "same", "valid"])
def test_conv2d_padding_modes_give_pytorchs_output_and_repr(padding_mode, padding):
    ours, theirs = _conv_twins(padding_mode, padding)
    x = randn(2, 2, 5, 4)
    np.testing.assert_allclose(
        ours(mg.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12, atol=1e-12
    )
    assert (f"padding_mode={padding_mode}" in repr(ours)) == (padding_mode != "zeros")


def test_nearest_picks_pytorchs_source_pixel_at_every_size_and_factor():
    x = np.arange(1 * 1 * 7 * 9, dtype=np.float32).reshape(1, 1, 7, 9)
    for size in [(1, 1), (3, 4), (6, 13), (7, 9), (11, 2), (14, 27), (20, 17)]:
        np.testing.assert_array_equal(
            F.interpolate(mg.tensor(x), size=size).numpy(), TF.interpolate(torch.tensor(x), size=size).numpy()
        )
    for factor in [0.5, 0.75, 1.3, 1.5, 2, 2.5, 3, (1.7, 0.4)]:
        np.testing.assert_array_equal(
            F.interpolate(mg.tensor(x), scale_factor=factor).numpy(),
            TF.interpolate(torch.tensor(x), scale_factor=factor).numpy(),
        )


def test_bad_padding_arguments_are_refused_naming_the_problem():
    x = mg.tensor(randn(1, 1, 3, 3))
    with pytest.raises(
        ValueError,
        match="pad: mode 'reflect' needs each pad of dim 3 smaller than its size 3, got "
        r"\(3, 0\)",
    ):
        F.pad(x, (3, 0, 0, 0), mode="reflect")
    with pytest.raises(
        ValueError, match=r"pad: mode 'circular' needs each pad of dim 2 at most its size 3, got \(0, 4\)"
    ):
        F.pad(x, (0, 0, 0, 4), mode="circular")
    with pytest.raises(ValueError, match="pad: mode 'replicate' takes no value"):
        F.pad(x, (1, 1), mode="replicate", value=1.0)
    with pytest.raises(ValueError, match="pad: mode 'reflect' pads the last 1, 2 or 3 dims"):
        F.pad(mg.tensor(randn(3)), (1, 1), mode="reflect")
    with pytest.raises(ValueError, match=r"got 2 pad values for shape \(1, 1, 3, 3\)"):
        F.pad(x, (1, 0), mode="circular")  # PyTorch refuses this combination too
    with pytest.raises(
        ValueError, match="pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got 'edge'"
    ):
        F.pad(x, (1, 1), mode="edge")
    with pytest.raises(ValueError, match="Conv2d: padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular'"):
        nn.Conv2d(1, 1, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="ConvTranspose2d: padding_mode 'reflect': only 'zeros'"):
        nn.ConvTranspose2d(1, 1, 3, padding_mode="reflect")


PAD_LAYERS = [
    "ZeroPad1d",
    "ZeroPad2d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "CircularPad1d",
    "CircularPad2d",
]


@pytest.mark.parametrize("name", PAD_LAYERS)
@pytest.mark.parametrize("padding", [1, (2, 0, 1, 2)])
def test_padding_layers_give_pytorchs_output_and_gradient(name, padding):
    dims = 1 if name.endswith("1d") else 2
    if not isinstance(padding, int):
        padding = padding[: 2 * dims]
    arguments = (padding, -0.5) if name.startswith("Constant") else (padding,)
    ours, theirs = getattr(nn, name)(*arguments), getattr(torch.nn, name)(*arguments)
    x = randn(2, 3, 4) if dims == 1 else randn(1, 2, 3, 4)
    xt = torch.tensor(x, requires_grad=True)
    y, y_torch = ours(mg.tensor(x)), theirs(xt)
    np.testing.assert_array_equal(y.numpy(), y_torch.detach().numpy())
    v = randn(*y.shape)
    xm = mg.tensor(x, requires_grad=True)
    (grad,) = mg.grad(ours(xm), [xm], grad_outputs=mg.tensor(v))
    (grad_torch,) = torch.autograd.grad(y_torch, [xt], grad_outputs=torch.tensor(v))
    np.testing.assert_allclose(grad.numpy(), grad_torch.numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=f"{name}: padding must be an int or {2 * dims} ints"):
        getattr(nn, name)(*(((1, 2, 3),) + arguments[1:]))
