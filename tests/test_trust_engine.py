"""No silent wrong gradient or value (issue 14, the engine): in-place changes to saved tensors are refused,
gradients have their tensor's dtype, bad arguments get clear errors naming the op, and the softmax family is
accurate in float32 far from zero."""

import numpy as np
import pytest

import minigan as mg
import minigan.functional as F
import minigan.nn as nn
import minigan.optim as optim

MODIFIED = "modified by an inplace operation"


def leaf(values, dtype="float64"):
    return mg.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# --- the version counter ----------------------------------------------------------------------------


def test_zeroing_a_saved_leaf_is_refused_by_backward():
    a = leaf([1.0, 2.0, 3.0], "float32")
    y = (a * a).sum()
    with mg.no_grad():
        a.zero_()
    with pytest.raises(RuntimeError, match=MODIFIED) as error:
        y.backward()
    assert "of Mul" in str(error.value) and "at version 1; expected version 0" in str(error.value)
    assert a.grad is None


def test_in_place_change_of_a_leaf_that_requires_grad_is_refused_outside_no_grad():
    a = leaf([1.0, 2.0])
    for change in (a.zero_, lambda: a.fill_(3.0), lambda: a.copy_(np.zeros(2)), lambda: a.__setitem__(0, 5.0)):
        with pytest.raises(RuntimeError, match="in-place assignment to a tensor that requires grad"):
            change()
    np.testing.assert_array_equal(a.numpy(), [1.0, 2.0])
    assert a._version == 0


def test_assigning_into_a_constant_that_a_product_saved_is_refused():
    a = leaf([1.0, 2.0, 3.0])
    b = mg.tensor([4.0, 5.0, 6.0], dtype="float64")
    y = (a * b).sum()
    b[0] = 1000.0
    with pytest.raises(RuntimeError, match=MODIFIED) as error:
        y.backward()
    assert "input 1 of Mul" in str(error.value)


@pytest.mark.parametrize(
    "make_alias",
    [
        lambda b: b.detach(),
        lambda b: b.reshape(3, 1),
        lambda b: b.reshape(3, 1).T,
        lambda b: b[1:],
        lambda b: F.unsqueeze(b, 0),
    ],
    ids=["detach", "reshape", "transpose", "slice", "unsqueeze"],
)
def test_a_change_through_a_view_is_seen_by_the_graph(make_alias):
    a = leaf([1.0, 2.0, 3.0])
    b = mg.tensor([4.0, 5.0, 6.0], dtype="float64")
    y = (a * b).sum()
    alias = make_alias(b)
    with mg.no_grad():
        alias.fill_(7.0)
    assert b._version == 1 and np.all(b.numpy()[1:] == 7.0)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()


def test_an_advanced_index_copy_does_not_share_the_counter():
    b = mg.tensor([4.0, 5.0, 6.0], dtype="float64")
    copy = b[[0, 2]]
    copy.fill_(0.0)
    assert b._version == 0 and copy._version == 1
    np.testing.assert_array_equal(b.numpy(), [4.0, 5.0, 6.0])


def test_a_changed_output_that_backward_reads_is_refused():
    x = leaf([0.5, -0.5])
    y = F.exp(x)  # Exp's backward reads its output
    with mg.no_grad():
        y[0] = 100.0
    with pytest.raises(RuntimeError, match="output 0 of Exp"):
        y.sum().backward()


def test_changes_to_tensors_backward_does_not_read_are_allowed():
    # Add reads no value; Mul reads a only for the gradient of b, which needs none here (as PyTorch)
    a = leaf([1.0, 2.0])
    b = mg.tensor([3.0, 4.0], dtype="float64")
    y = (a + b).sum() + (a * b).sum()
    with mg.no_grad():
        a.fill_(10.0)
    y.backward()
    np.testing.assert_array_equal(a.grad.numpy(), 1.0 + b.numpy())


def test_an_optimizer_step_between_two_backwards_of_one_graph_is_refused():
    w = leaf([1.0, 2.0])
    x = leaf([3.0, 4.0])
    loss = (w * x).sum()
    loss.backward(retain_graph=True)
    optim.SGD([w], lr=0.1).step()
    assert w._version == 1
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


def test_a_second_derivative_through_leaky_relu_sees_a_changed_input():
    x = leaf([0.5, -0.5])
    v = leaf([1.0, 1.0])
    (g,) = mg.grad(F.leaky_relu(x, 0.2), x, grad_outputs=v, create_graph=True)
    with mg.no_grad():
        x.fill_(-1.0)  # flips the slope of the first element
    with pytest.raises(RuntimeError, match=MODIFIED):
        g.sum().backward()


def test_in_place_methods_bump_the_version_and_change_the_values():
    t = mg.zeros(3, dtype="float64")
    t.fill_(2.0)
    t.copy_(mg.tensor([1.0, 2.0, 3.0]))  # cast to float64
    t[0] = 9.0
    t.zero_()
    assert t._version == 4 and t.dtype == np.float64
    np.testing.assert_array_equal(t.numpy(), 0.0)
    with pytest.raises(ValueError, match="copy_: cannot copy a source of shape"):
        t.copy_(np.ones(4))
    with pytest.raises(TypeError, match="fill_: expected a number"):
        t.fill_("a")


def test_module_loading_and_init_bump_the_versions():
    layer = nn.Linear(2, 2)
    x = mg.randn(3, 2, requires_grad=True)  # the weight is read for x's gradient
    y = layer(x).sum()
    before = layer.weight._version
    layer.load_state_dict({k: v.numpy() * 2 for k, v in layer.state_dict().items()})
    assert layer.weight._version == before + 1
    nn.init.zeros_(layer.bias)
    assert layer.bias._version >= 1
    layer.state_dict()["bias"].fill_(0.5)  # a state-dict value shares the parameter's counter
    assert layer.bias._version >= 2 and np.all(layer.bias.numpy() == 0.5)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()


# --- dtypes of gradients ----------------------------------------------------------------------------


def test_a_float32_leaf_gets_a_float32_grad_from_a_float64_op():
    a = leaf([1.0, 2.0, 3.0], "float32")
    b = mg.tensor([0.5, 0.25, 0.125], dtype="float64")
    y = (a * b).sum()
    assert y.dtype == np.float64  # float32 op float64 -> float64, as in PyTorch
    y.backward()
    assert a.grad.dtype == np.float32 and a.grad.device == a.device
    np.testing.assert_array_equal(a.grad.numpy(), np.float32([0.5, 0.25, 0.125]))
    (g,) = mg.grad((a * b).sum(), a)
    assert g.dtype == np.float32


def test_gradient_dtypes_through_create_graph_and_mixed_leaves():
    a = leaf([1.0, 2.0], "float32")
    b = leaf([3.0, 4.0], "float64")
    (ga, gb) = mg.grad((a * a * b).sum(), [a, b], create_graph=True)
    assert ga.dtype == np.float32 and gb.dtype == np.float64
    (gga,) = mg.grad(ga.sum(), a)  # d/da (2 a b) = 2 b, cast to float32
    assert gga.dtype == np.float32
    np.testing.assert_array_equal(gga.numpy(), np.float32([6.0, 8.0]))


def test_integer_with_float_follows_pytorch_promotion():
    x = leaf([1.0, 2.0, 3.0], "float32")
    n = mg.arange(3)  # int64
    for y in (x + n, n * x, x - n, x / (n + 1), F.where(n > 0, x, n)):
        assert y.dtype == np.float32
    assert (x * 2.0).dtype == np.float32 and (mg.arange(3) * 0.5).dtype == np.float32


def test_integer_tensors_in_real_valued_ops_give_float32_as_pytorch():
    n = mg.arange(4).reshape(2, 2)
    x = mg.randn(2, 2)
    for y in (
        n @ x,
        (n + 1) / (n + 1),
        F.exp(n),
        F.log(n + 1),
        F.tanh(n),
        F.sigmoid(n),
        F.softplus(n),
        F.expm1(n),
        n.logsumexp(),
        n**0.5,
    ):
        assert y.dtype == np.float32
    assert (n**2).dtype == np.int64 and (n * n).dtype == np.int64 and n.sum().dtype == np.int64


def test_powers_that_would_be_nan_are_refused():
    x = leaf([0.5, 2.0])
    with pytest.raises(ValueError, match="rpow: the base of base \\*\\* tensor must be a positive number"):
        (-2.0) ** x
    with pytest.raises(ValueError, match="rpow"):
        0.0**x
    with pytest.raises(ValueError, match="pow: a Tensor exponent needs a positive base"):
        F.pow(mg.tensor([-2.0, 1.0]), x)
    np.testing.assert_allclose((2.0**x).numpy(), 2.0 ** x.numpy())
    with pytest.raises(TypeError, match="neg: negation of a boolean tensor"):
        -(x > 1)


def test_gradcheck_takes_one_tensor_and_refuses_bad_settings():
    x = leaf([0.5, -1.0, 2.0])
    assert mg.gradcheck(F.tanh, x) and mg.gradgradcheck(F.tanh, x)  # one Tensor, not its rows
    for settings, message in (
        ({"eps": 0.0}, "eps must be > 0"),
        ({"atol": -1.0}, "atol must be >= 0"),
        ({"n_directions": 0}, "n_directions must be >= 1"),
    ):
        with pytest.raises(ValueError, match=f"gradcheck: {message}"):
            mg.gradcheck(F.tanh, (x,), **settings)
    with pytest.raises(TypeError, match="gradcheck: fn must return a Tensor"):
        mg.gradcheck(lambda t: t.numpy(), (x,))


def test_zero_dimensional_tensors_have_no_length_and_no_rows():
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(mg.tensor(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        list(mg.tensor(1.0))
    rows = list(mg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert len(rows) == 2 and rows[1].numpy().tolist() == [3.0, 4.0]


def test_a_grad_output_of_another_dtype_is_cast_to_the_output_dtype():
    a = leaf([1.0, 2.0], "float32")
    y = a * 3.0
    y.backward(mg.tensor([1.0, 1.0], dtype="float64"))
    assert a.grad.dtype == np.float32
    with pytest.raises(TypeError, match="grad_output has dtype int64"):
        (a * 3.0).backward(mg.arange(2))


@pytest.mark.parametrize("dtype", ["float16", "complex64", "longdouble"])
def test_unsupported_dtypes_are_refused_at_creation_naming_the_supported_ones(dtype):
    for make in (
        lambda: mg.zeros(2, dtype=dtype),
        lambda: mg.tensor(np.ones(2, dtype=dtype)),
        lambda: mg.Tensor(np.ones(2, dtype=dtype)),
        lambda: mg.randn(2, dtype=dtype),
    ):
        with pytest.raises(TypeError, match="float32 or float64"):
            make()
    x = mg.ones(2)
    with pytest.raises(TypeError, match="float32 or float64"):
        x + np.ones(2, dtype=dtype)
    with pytest.raises(TypeError, match="float32 or float64"):
        x.to(dtype=dtype)


def test_a_big_endian_array_becomes_a_native_tensor():
    t = mg.tensor(np.arange(3, dtype=">f4"))
    assert t.dtype == np.float32 and t.dtype.isnative
    np.testing.assert_array_equal(t.numpy(), [0.0, 1.0, 2.0])


@pytest.mark.parametrize("operand", ["a", None, {"a": 1}, b"x", object(), np.array(["a"])])
def test_non_numeric_operands_are_a_type_error_naming_the_op(operand):
    x = mg.ones(2)
    for op, name in (
        (lambda: x + operand, "Add"),
        (lambda: operand * x, "Mul"),
        (lambda: x / operand, "Div"),
        (lambda: x - operand, "Sub"),
    ):
        with pytest.raises(TypeError, match=name):
            op()


# --- arguments checked at the op boundary -----------------------------------------------------------


def _x2():
    return mg.randn(2, 3)


def _x4():
    return mg.randn(1, 2, 5, 5)


def _w4():
    return mg.randn(3, 2, 3, 3)


BAD_CALLS = [
    # dims: out of range never wraps (IndexError, as PyTorch), and names the op and the allowed range
    ("cat dim", lambda: F.cat([_x2(), _x2()], dim=5), IndexError, r"cat: dim 5 is out of range .* \[-2, 1\]"),
    ("cat negative dim", lambda: F.cat([_x2(), _x2()], dim=-3), IndexError, "cat: dim -3"),
    ("cat empty", lambda: F.cat([]), ValueError, "cat: expected a non-empty list"),
    ("cat of a tensor", lambda: F.cat(_x2()), TypeError, "cat: expected a list or tuple"),
    ("cat 0-d", lambda: F.cat([mg.tensor(1.0), mg.tensor(2.0)]), ValueError, "zero-dimensional"),
    ("cat ndims", lambda: F.cat([_x2(), mg.randn(3)]), ValueError, "one number of dimensions"),
    ("stack dim", lambda: F.stack([_x2(), _x2()], dim=4), IndexError, "stack: dim 4"),
    ("stack shapes", lambda: F.stack([_x2(), mg.randn(3, 2)]), ValueError, "stack: expected tensors of one shape"),
    ("stack empty", lambda: F.stack([]), ValueError, "stack: expected a non-empty list"),
    ("concat empty", lambda: mg.ops.concat([]), ValueError, "concat: expected a non-empty list"),
    ("sum dim", lambda: _x2().sum(2), IndexError, "sum: dim 2"),
    ("sum repeated dim", lambda: _x2().sum((0, -2)), ValueError, "sum: dim .* more than once"),
    ("sum float dim", lambda: _x2().sum(1.0), TypeError, "sum: dim must be an integer"),
    ("mean dim", lambda: F.mean(_x2(), 3), IndexError, "mean: dim 3"),
    ("var dim", lambda: F.var(_x2(), -3), IndexError, "var: dim -3"),
    ("max dim", lambda: F.max(_x2(), 2), IndexError, "max: dim 2"),
    ("min dim", lambda: _x2().min(5), IndexError, "max: dim 5|min: dim 5"),
    ("max of empty", lambda: F.max(mg.zeros(0, 3), 0), ValueError, "max: cannot reduce an empty dimension"),
    ("norm dim", lambda: F.norm(_x2(), dim=2), IndexError, "norm: dim 2"),
    ("logsumexp dim", lambda: mg.logsumexp(_x2(), 2), IndexError, "logsumexp: dim 2"),
    ("softmax dim", lambda: F.softmax(_x2(), 2), IndexError, "softmax: dim 2"),
    ("log_softmax dim", lambda: F.log_softmax(_x2(), -3), IndexError, "log_softmax: dim -3"),
    ("unsqueeze dim", lambda: F.unsqueeze(_x2(), 4), IndexError, r"unsqueeze: dim 4 .* \[-3, 2\]"),
    ("squeeze dim", lambda: F.squeeze(_x2(), 2), IndexError, "squeeze: dim 2"),
    ("flatten dim", lambda: F.flatten(_x2(), 0, 3), IndexError, "flatten: end_dim 3"),
    ("flatten order", lambda: F.flatten(mg.randn(2, 3, 4), 2, 1), ValueError, "flatten: start_dim 2 comes after"),
    ("transpose dim", lambda: _x2().transpose(0, 2), IndexError, "transpose: dim1 2"),
    ("permute not a permutation", lambda: _x2().permute(0, 0), ValueError, "permute: .* not a permutation"),
    ("permute dim", lambda: _x2().permute(0, 3), IndexError, "permute: axis 3"),
    ("size dim", lambda: _x2().size(2), IndexError, "size: dim 2"),
    ("argmax dim", lambda: _x2().argmax(2), IndexError, "argmax: dim 2"),
    ("argmax empty", lambda: mg.zeros(0).argmax(), ValueError, "argmax: cannot reduce an empty"),
    ("expand -1 leading", lambda: mg.randn(3).expand(-1, 3), ValueError, "expand: -1 .* new leading dimension"),
    ("reshape float size", lambda: _x2().reshape(2.5, 2), TypeError, "reshape: shape must hold integers"),
    ("reshape negative size", lambda: _x2().reshape(-2, -3), ValueError, "reshape: sizes in shape"),
    (
        "getitem out of range",
        lambda: _x2()[5],
        IndexError,
        r"getitem: index 5 is not valid for a tensor of shape \(2, 3\)",
    ),
    ("getitem float", lambda: _x2()[1.5], IndexError, "getitem: index 1.5"),
    ("setitem value", lambda: _x2().__setitem__(0, "a"), ValueError, "setitem: cannot assign"),
    # class targets
    (
        "cross_entropy -1",
        lambda: F.cross_entropy(_x2(), mg.tensor(np.array([0, -1]))),
        ValueError,
        r"cross_entropy: target values must be class indices in \[0, 3\), got -1",
    ),
    (
        "cross_entropy C",
        lambda: F.cross_entropy(_x2(), mg.tensor(np.array([3, 0]))),
        ValueError,
        r"cross_entropy: .* in \[0, 3\), got 3",
    ),
    (
        "cross_entropy 1-D logits",
        lambda: F.cross_entropy(mg.randn(3), mg.tensor(np.array([0]))),
        ValueError,
        r"cross_entropy: expected input \(N, C\)",
    ),
    ("nll_loss -1", lambda: F.nll_loss(_x2(), mg.tensor(np.array([-1, 0]))), ValueError, "nll_loss: target values"),
    (
        "nll_loss float targets",
        lambda: F.nll_loss(_x2(), mg.tensor([0.0, 1.0])),
        TypeError,
        "nll_loss: targets must be integer",
    ),
    (
        "cross_entropy reduction",
        lambda: F.cross_entropy(_x2(), mg.tensor(np.array([0, 1])), reduction="avg"),
        ValueError,
        "cross_entropy: reduction must be",
    ),
    (
        "one_hot -1",
        lambda: F.one_hot(mg.tensor(np.array([-1, 0])), 3),
        ValueError,
        r"one_hot: labels values .* \[0, 3\)",
    ),
    (
        "one_hot classes",
        lambda: F.one_hot(mg.tensor(np.array([0])), 0),
        ValueError,
        "one_hot: num_classes must be >= 1",
    ),
    # convolutions
    (
        "conv2d dilation 0",
        lambda: F.conv2d(_x4(), _w4(), dilation=0),
        ValueError,
        "conv2d: dilation must be >= 1, got 0",
    ),
    ("conv2d padding -1", lambda: F.conv2d(_x4(), _w4(), padding=-1), ValueError, "conv2d: padding must be >= 0"),
    (
        "conv2d float stride",
        lambda: F.conv2d(_x4(), _w4(), stride=1.5),
        TypeError,
        "conv2d: stride must be an int or a pair",
    ),
    ("conv2d stride 0", lambda: F.conv2d(_x4(), _w4(), stride=0), ValueError, "conv2d: stride must be >= 1"),
    ("conv2d stride triple", lambda: F.conv2d(_x4(), _w4(), stride=(1, 1, 1)), TypeError, "conv2d: stride"),
    ("conv2d float padding pair", lambda: F.conv2d(_x4(), _w4(), padding=(1.0, 1)), TypeError, "conv2d: padding"),
    (
        "conv2d bias",
        lambda: F.conv2d(_x4(), _w4(), mg.randn(2)),
        ValueError,
        r"conv2d: bias has shape \(2,\), expected \(3,\)",
    ),
    (
        "conv2d int input",
        lambda: F.conv2d(mg.zeros(1, 2, 5, 5, dtype="int64"), _w4()),
        TypeError,
        "conv2d: expected floating",
    ),
    (
        "conv_transpose2d stride 0",
        lambda: F.conv_transpose2d(_x4(), mg.randn(2, 3, 3, 3), stride=0),
        ValueError,
        "conv_transpose2d: stride must be >= 1",
    ),
    (
        "conv_transpose2d output_padding",
        lambda: F.conv_transpose2d(_x4(), mg.randn(2, 3, 3, 3), output_padding=-1),
        ValueError,
        "conv_transpose2d: output_padding must be >= 0",
    ),
    (
        "conv_transpose2d dilation",
        lambda: F.conv_transpose2d(_x4(), mg.randn(2, 3, 3, 3), dilation=0),
        ValueError,
        "conv_transpose2d: dilation must be >= 1",
    ),
    # pooling and resampling
    ("avg_pool2d kernel 0", lambda: F.avg_pool2d(_x4(), 0), ValueError, "avg_pool2d: kernel_size must be >= 1, got 0"),
    ("avg_pool2d stride 0", lambda: F.avg_pool2d(_x4(), 2, 0), ValueError, "avg_pool2d: stride must be >= 1"),
    ("avg_pool2d padding", lambda: F.avg_pool2d(_x4(), 2, padding=-1), ValueError, "avg_pool2d: padding must be >= 0"),
    ("avg_pool2d 3-D", lambda: F.avg_pool2d(mg.randn(2, 5, 5), 2), ValueError, r"avg_pool2d: expected a 4-D input"),
    ("max_pool2d kernel 0", lambda: F.max_pool2d(_x4(), 0), ValueError, "max_pool2d: kernel_size must be >= 1"),
    ("max_pool2d stride 0", lambda: F.max_pool2d(_x4(), 2, 0), ValueError, "max_pool2d: stride must be >= 1"),
    ("max_pool2d too big", lambda: F.max_pool2d(_x4(), 7), ValueError, "max_pool2d: input .* too small"),
    (
        "interpolate 0.1",
        lambda: F.interpolate(_x4(), scale_factor=0.1),
        ValueError,
        "interpolate: scale_factor 0.1 gives an empty output",
    ),
    (
        "interpolate 0",
        lambda: F.interpolate(_x4(), scale_factor=0),
        ValueError,
        "interpolate: scale_factor must be positive",
    ),
    ("interpolate neither", lambda: F.interpolate(_x4()), ValueError, "interpolate: give exactly one"),
    ("pad negative", lambda: F.pad(_x2(), (-1, 1)), ValueError, "pad: sizes in pad must be non-negative"),
    ("pad float", lambda: F.pad(_x2(), (1.5, 1)), TypeError, "pad: pad must hold integers"),
    # numbers and operands
    ("dropout p", lambda: F.dropout(_x2(), 1.5), ValueError, r"dropout: p must be in \[0.0, 1.0\]"),
    ("dropout p str", lambda: F.dropout(_x2(), "a"), TypeError, "dropout: p must be a real number"),
    ("pow str", lambda: _x2() ** "a", TypeError, "pow: exponent must be a real number"),
    ("clamp str", lambda: F.clamp(_x2(), min="a"), TypeError, "clamp: min must be a real number"),
    ("leaky_relu slope", lambda: F.leaky_relu(_x2(), "a"), TypeError, "leaky_relu: negative_slope"),
    (
        "where non-bool",
        lambda: F.where(mg.ones(2), mg.ones(2), mg.zeros(2)),
        TypeError,
        "where: condition must be a boolean",
    ),
    ("where shapes", lambda: F.where(mg.ones(2) > 0, mg.ones(2), mg.zeros(3)), ValueError, "where: shapes"),
    ("batch_norm eps", lambda: F.batch_norm(_x4(), None, None, training=True, eps=-1.0), ValueError, "batch_norm: eps"),
    (
        "batch_norm running stats",
        lambda: F.batch_norm(_x4(), mg.zeros(3), mg.ones(3)),
        ValueError,
        r"batch_norm: running_mean has shape \(3,\), expected \(2,\)",
    ),
    ("batch_norm eval without stats", lambda: F.batch_norm(_x4(), None, None), ValueError, "batch_norm: evaluation"),
    ("layer_norm eps", lambda: F.layer_norm(_x2(), 3, eps=-1.0), ValueError, "layer_norm: eps"),
    ("linear bias", lambda: F.linear(_x2(), mg.randn(4, 3), mg.randn(3)), ValueError, r"linear: bias has shape \(3,\)"),
    (
        "binary_cross_entropy range",
        lambda: F.binary_cross_entropy(mg.tensor([1.5, 0.5]), mg.tensor([1.0, 0.0])),
        ValueError,
        r"binary_cross_entropy: every element of input must be a probability in \[0, 1\]",
    ),
    (
        "binary_cross_entropy NaN",
        lambda: F.binary_cross_entropy(mg.tensor([float("nan")]), mg.tensor([1.0])),
        ValueError,
        "binary_cross_entropy: every element",
    ),
    ("mse_loss reduction", lambda: F.mse_loss(_x2(), _x2(), reduction="avg"), ValueError, "mse_loss: reduction"),
    (
        "cast float16",
        lambda: F.cast(_x2(), "float16"),
        TypeError,
        "cast: unsupported dtype float16; .*float32 or float64",
    ),
    ("randint low >= high", lambda: mg.randint(3, 3, (2,)), ValueError, "randint: expected low < high"),
    ("zeros negative", lambda: mg.zeros(-1, 2), ValueError, "zeros: sizes must be non-negative"),
    (
        "layer_norm weight",
        lambda: F.layer_norm(_x2(), 3, mg.ones(1)),
        ValueError,
        r"layer_norm: weight has shape \(1,\), expected normalized_shape \(3,\)",
    ),
    ("mul_mask shapes", lambda: mg.ops.mul_mask(_x2(), np.ones(4, dtype=np.float32)), ValueError, "mul_mask: shapes"),
    (
        "batch_norm_normalize 1-D",
        lambda: mg.ops.batch_norm_normalize(mg.randn(4)),
        ValueError,
        "batch_norm_normalize: expected an input",
    ),
    ("sum_to", lambda: mg.ops.sum_to(_x2(), (4,)), ValueError, r"sum_to: shape \(2, 3\) cannot be summed to \(4,\)"),
    ("init normal std", lambda: nn.init.normal_(mg.zeros(3), std=-1.0), ValueError, "normal_: expected std >= 0"),
    ("init uniform bounds", lambda: nn.init.uniform_(mg.zeros(3), 1.0, 0.0), ValueError, "uniform_: expected a <= b"),
    ("init kaiming empty fan", lambda: nn.init.kaiming_uniform_(mg.zeros(3, 0)), ValueError, "kaiming init: fan_in"),
    ("init xavier empty", lambda: nn.init.xavier_normal_(mg.zeros(0, 0)), ValueError, "xavier_normal_"),
    # module constructors
    ("Linear 0", lambda: nn.Linear(0, 3), ValueError, "Linear: in_features must be >= 1, got 0"),
    ("Linear -2", lambda: nn.Linear(3, -2), ValueError, "Linear: out_features must be >= 1"),
    ("Linear float", lambda: nn.Linear(2.5, 3), TypeError, "Linear: in_features must be an integer"),
    ("Conv2d kernel 0", lambda: nn.Conv2d(1, 2, 0), ValueError, "Conv2d: kernel_size must be >= 1"),
    ("Conv2d stride 0", lambda: nn.Conv2d(1, 2, 3, stride=0), ValueError, "Conv2d: stride must be >= 1"),
    ("Conv2d channels", lambda: nn.Conv2d(0, 2, 3), ValueError, "Conv2d: in_channels must be >= 1"),
    ("Conv2d dilation", lambda: nn.Conv2d(1, 2, 3, dilation=0), ValueError, "Conv2d: dilation must be >= 1"),
    (
        "ConvTranspose2d padding",
        lambda: nn.ConvTranspose2d(1, 2, 3, padding=-1),
        ValueError,
        "ConvTranspose2d: padding must be >= 0",
    ),
    (
        "ConvTranspose2d output_padding",
        lambda: nn.ConvTranspose2d(1, 2, 3, stride=2, output_padding=2),
        ValueError,
        "ConvTranspose2d: output_padding",
    ),
    ("BatchNorm2d 0", lambda: nn.BatchNorm2d(0), ValueError, "BatchNorm2d: num_features must be >= 1"),
    ("BatchNorm1d momentum", lambda: nn.BatchNorm1d(3, momentum=2.0), ValueError, "BatchNorm1d: momentum"),
    ("LayerNorm 0", lambda: nn.LayerNorm(0), ValueError, "LayerNorm: normalized_shape"),
    ("Dropout p", lambda: nn.Dropout(-0.5), ValueError, "Dropout: p must be in"),
    ("Embedding 0", lambda: nn.Embedding(0, 3), ValueError, "Embedding: num_embeddings must be >= 1"),
    ("Embedding padding_idx", lambda: nn.Embedding(3, 2, padding_idx=5), ValueError, "Embedding: padding_idx"),
    ("Softplus beta", lambda: nn.Softplus(beta=0), ValueError, "Softplus: beta must be > 0"),
    ("Softmax dim", lambda: nn.Softmax(dim=None), TypeError, "Softmax: dim must be an integer"),
    ("MaxPool2d kernel", lambda: nn.MaxPool2d(0), ValueError, "MaxPool2d: kernel_size must be >= 1"),
    ("AvgPool2d padding", lambda: nn.AvgPool2d(2, padding=2), ValueError, "AvgPool2d: padding"),
    ("Upsample neither", lambda: nn.Upsample(), ValueError, "Upsample: give exactly one"),
    ("LeakyReLU slope", lambda: nn.LeakyReLU("a"), TypeError, "LeakyReLU: negative_slope"),
]


@pytest.mark.parametrize("call, error, message", [case[1:] for case in BAD_CALLS], ids=[case[0] for case in BAD_CALLS])
def test_bad_arguments_get_a_clear_error_naming_the_op(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_the_accepted_edges_of_the_checked_ranges_still_work():
    x = mg.randn(2, 3)
    np.testing.assert_array_equal(F.cat([x, x], dim=-1).numpy(), np.concatenate([x.numpy()] * 2, axis=1))
    np.testing.assert_array_equal(F.stack([x, x], dim=2).numpy(), np.stack([x.numpy()] * 2, axis=2))
    np.testing.assert_array_equal(F.unsqueeze(x, -3).shape, (1, 2, 3))
    assert mg.tensor(2.0).sum(0).item() == 2.0 and mg.tensor(2.0).sum(-1).item() == 2.0  # 0-d: dims 0, -1
    assert F.dropout(x, 1.0).numpy().sum() == 0.0 and F.dropout(x, 0.0) is x
    assert F.interpolate(mg.randn(1, 1, 2, 2), scale_factor=2.0).shape == (1, 1, 4, 4)
    assert F.flatten(mg.tensor(3.0)).shape == (1,)
    assert F.logsumexp(mg.zeros(2, 0), 1).numpy().tolist() == [-np.inf, -np.inf]
    target = mg.tensor(np.array([0, 2]))
    assert np.isfinite(F.cross_entropy(x, target).item())


# --- accuracy in float32 far from zero ---------------------------------------------------------------


def _ulps_of(values):
    """The spacing of float32 numbers at each value's magnitude (at least at 1: the results here are O(1))."""
    return np.spacing(np.maximum(np.abs(values), 1.0).astype(np.float32)).astype(np.float64)


@pytest.mark.parametrize("offset", [0.0, 1e3, 1e4])
def test_log_softmax_in_float32_matches_a_float64_reference_at_large_offsets(offset):
    rng = np.random.default_rng(7)
    logits = (rng.standard_normal((16, 10)) * 3 + offset).astype(np.float32)
    exact = logits.astype(np.float64)
    exact = exact - exact.max(1, keepdims=True)
    exact = exact - np.log(np.exp(exact).sum(1, keepdims=True))
    got = F.log_softmax(mg.tensor(logits), 1).numpy().astype(np.float64)
    assert np.all(np.abs(got - exact) <= 2 * _ulps_of(exact)), np.max(np.abs(got - exact) / _ulps_of(exact))
    probabilities = F.softmax(mg.tensor(logits), 1).numpy().astype(np.float64)
    np.testing.assert_allclose(probabilities, np.exp(exact), rtol=4e-7, atol=1e-9)
    target = rng.integers(0, 10, 16)
    loss = F.cross_entropy(mg.tensor(logits), mg.tensor(target), reduction="none").numpy()
    assert np.all(np.abs(loss - -exact[np.arange(16), target]) <= 2 * _ulps_of(exact[np.arange(16), target]))


@pytest.mark.parametrize("offset", [0.0, 1e3, 1e4])
def test_log_softmax_in_float32_is_as_close_as_pytorch(offset):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    logits = (rng.standard_normal((8, 5)) * 3 + offset).astype(np.float32)
    exact = torch.log_softmax(torch.tensor(logits, dtype=torch.float64), 1).numpy()
    ours = np.abs(F.log_softmax(mg.tensor(logits), 1).numpy() - exact).max()
    theirs = np.abs(torch.log_softmax(torch.tensor(logits), 1).numpy() - exact).max()
    assert ours <= max(theirs, 1e-7) * 2, (ours, theirs)


def test_log_softmax_gradients_are_unchanged_by_the_shift():
    rng = np.random.default_rng(9)
    x = mg.tensor(rng.standard_normal((3, 4)) + 50.0, requires_grad=True)  # float64
    target = mg.tensor(np.array([1, 0, 3]))
    assert mg.gradcheck(lambda a: F.log_softmax(a, 1), (x,))
    assert mg.gradgradcheck(lambda a: F.softmax(a, 0), (x,))
    assert mg.gradgradcheck(lambda a: F.cross_entropy(a, target), (x,))


def test_binary_cross_entropy_with_logits_is_accurate_where_the_loss_is_tiny():
    x = np.array([20.0, 30.0, -20.0, -30.0, 0.0, 5.0], dtype=np.float32)
    t = np.array([1.0, 1.0, 0.0, 0.0, 1.0, 0.3], dtype=np.float32)
    x64, t64 = x.astype(np.float64), t.astype(np.float64)
    exact = np.where(x64 >= 0, x64 * (1 - t64) + np.log1p(np.exp(-x64)), np.log1p(np.exp(x64)) - x64 * t64)
    got = F.binary_cross_entropy_with_logits(mg.tensor(x), mg.tensor(t), reduction="none").numpy()
    np.testing.assert_allclose(got, exact, rtol=1e-6)  # softplus(x) - t x gave 0 for the first two
    xs = mg.tensor(np.array([-3.0, 0.0, 0.5, 4.0]), requires_grad=True)
    ts = mg.tensor(np.array([0.2, 1.0, 0.0, 0.7]))
    assert mg.gradcheck(lambda a: F.binary_cross_entropy_with_logits(a, ts), (xs,))
    assert mg.gradgradcheck(lambda a: F.binary_cross_entropy_with_logits(a, ts), (xs,))
    (g,) = mg.grad(F.binary_cross_entropy_with_logits(xs, ts, reduction="sum"), xs)
    np.testing.assert_allclose(g.numpy(), 1 / (1 + np.exp(-xs.numpy())) - ts.numpy())  # also at x = 0


def test_kl_normal_is_accurate_near_the_prior():
    logvar = np.array([[1e-4, -1e-4, 3e-3, 0.5]], dtype=np.float32)
    mu = np.array([[1e-4, 0.0, 2e-3, 1.0]], dtype=np.float32)
    m, lv = mu.astype(np.float64), logvar.astype(np.float64)
    exact = 0.5 * (m**2 + np.expm1(lv) - lv).sum(1)
    got = F.kl_normal(mg.tensor(mu), mg.tensor(logvar)).numpy()
    np.testing.assert_allclose(got, exact, rtol=1e-6)
    small = F.kl_normal(mg.tensor(mu[:, :2]), mg.tensor(logvar[:, :2])).numpy()
    np.testing.assert_allclose(small, 0.5 * (m[:, :2] ** 2 + np.expm1(lv[:, :2]) - lv[:, :2]).sum(1), rtol=1e-3)


@pytest.mark.parametrize("fn", [F.logsigmoid, F.softplus], ids=["logsigmoid", "softplus"])
def test_logsigmoid_and_softplus_are_accurate_in_float32_tails(fn):
    x = np.array([-80.0, -30.0, -20.0, -1e-3, 0.0, 1e-3, 20.0, 30.0, 80.0], dtype=np.float32)  # e^-80: normal
    x64 = x.astype(np.float64)
    exact = -np.logaddexp(0, -x64) if fn is F.logsigmoid else np.logaddexp(0, x64)
    np.testing.assert_allclose(fn(mg.tensor(x)).numpy(), exact, rtol=2e-7, atol=0)


def test_sigmoid_keeps_its_relative_precision_in_the_left_tail():
    x = np.array([-80.0, -30.0, -20.0, -6.0, -1.0, 0.0, 1.0, 6.0, 20.0], dtype=np.float32)
    exact = 1 / (1 + np.exp(-x.astype(np.float64)))
    got = F.sigmoid(mg.tensor(x)).numpy()
    np.testing.assert_allclose(got, exact, rtol=2e-7)  # (1 + tanh(x/2)) / 2 gave 0 at -20, 5e-6 off at -6
    assert np.isnan(F.sigmoid(mg.tensor([float("nan")])).item())


def test_elu_is_accurate_near_zero_in_float32():
    x = np.array([-0.03125, -1e-3, -1e-6, -2.0, 0.5], dtype=np.float32)
    exact = np.where(x > 0, x, np.expm1(x.astype(np.float64)))
    np.testing.assert_allclose(F.elu(mg.tensor(x)).numpy(), exact, rtol=2e-7)  # exp(x) - 1 was 2.6e-6 off
