"""Property-based tests of the engine (hypothesis; profiles in conftest.py: ``ci`` by default, ``long`` for a
hunt: ``HYPOTHESIS_PROFILE=long python -m pytest tests/test_properties_ops.py --hypothesis-show-statistics``).

* every elementwise op on random shapes with NumPy broadcasting, in float32, float64 and mixed, against NumPy
  (values, result dtype), and its gradient in float64 by gradcheck, each leaf's gradient in its own dtype;
* reductions and the softmax family over random dims (negative ones too) and keepdim, against NumPy;
* random chains of 2-4 ops through gradcheck and gradgradcheck;
* convolutions with random valid geometry against PyTorch;
* random invalid arguments: only the library's clear errors (ValueError, TypeError, IndexError naming the op),
  never a bare ZeroDivisionError, StopIteration, a NumPy or Numba error, and never a result.
"""

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st
from hypothesis.extra.numpy import array_shapes, arrays, mutually_broadcastable_shapes

import minigan as mg
import minigan.functional as F


def values(shape, low=-3.0, high=3.0):
    return arrays(np.float64, shape, elements=st.floats(low, high, allow_nan=False, allow_infinity=False))


def leaf(array, dtype="float64"):
    return mg.tensor(np.asarray(array, dtype=dtype), requires_grad=True)


def stable_sigmoid(a):
    return np.where(a >= 0, 1 / (1 + np.exp(-np.abs(a))), np.exp(-np.abs(a)) / (1 + np.exp(-np.abs(a))))


# --- elementwise ops against NumPy ------------------------------------------------------------------

BINARY = {  # name: (minigan, numpy, (low, high) of the second operand; piecewise: kinks kept away from)
    "add": (lambda a, b: a + b, np.add, (-3.0, 3.0), False),
    "sub": (lambda a, b: a - b, np.subtract, (-3.0, 3.0), False),
    "mul": (lambda a, b: a * b, np.multiply, (-3.0, 3.0), False),
    "div": (lambda a, b: a / b, np.divide, (0.5, 3.0), False),
    "maximum": (F.maximum, np.maximum, (-3.0, 3.0), True),
    "minimum": (F.minimum, np.minimum, (-3.0, 3.0), True),
    "where": (lambda a, b: F.where(a > 0.5, a, b), lambda a, b: np.where(a > 0.5, a, b), (-3.0, 3.0), True),
}


@st.composite
def binary_case(draw):
    name = draw(st.sampled_from(sorted(BINARY)))
    shapes = draw(mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3)).input_shapes
    low, high = BINARY[name][2]
    a = draw(values(shapes[0]))
    b = draw(values(shapes[1], low, high))
    dtypes = draw(
        st.sampled_from(
            [("float32", "float32"), ("float64", "float64"), ("float32", "float64"), ("float64", "float32")]
        )
    )
    return name, a, b, dtypes


@given(binary_case())
def test_property_binary_ops_broadcast_like_numpy_and_keep_each_leaf_dtype(case):
    name, a, b, (dtype_a, dtype_b) = case
    fn, reference, _, _ = BINARY[name]
    x, y = leaf(a, dtype_a), leaf(b, dtype_b)
    out = fn(x, y)
    expected = reference(a.astype(dtype_a), b.astype(dtype_b))
    assert out.shape == expected.shape and out.dtype == expected.dtype
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6 if "float32" in (dtype_a, dtype_b) else 1e-13)
    gx, gy = mg.grad(out.sum(), [x, y], allow_unused=True)
    for g, t in ((gx, x), (gy, y)):
        assert g is None or (g.dtype == t.dtype and g.shape == t.shape)


@given(binary_case())
def test_property_binary_op_gradients_pass_gradcheck(case):
    name, a, b, _ = case
    fn, _, _, piecewise = BINARY[name]
    if piecewise:  # central differences must not straddle a kink
        assume(np.all(np.abs(np.broadcast_arrays(a, b)[0] - np.broadcast_arrays(a, b)[1]) > 1e-3))
        assume(np.all(np.abs(a - 0.5) > 1e-3))
    assert mg.gradcheck(fn, (leaf(a), leaf(b)))


UNARY = {  # name: (minigan, numpy, input range, smooth)
    "neg": (F.neg, np.negative, (-3, 3), True),
    "exp": (F.exp, np.exp, (-3, 3), True),
    "expm1": (F.expm1, np.expm1, (-3, 3), True),
    "log": (F.log, np.log, (0.2, 3), True),
    "sqrt": (F.sqrt, np.sqrt, (0.2, 3), True),
    "tanh": (F.tanh, np.tanh, (-3, 3), True),
    "sigmoid": (F.sigmoid, stable_sigmoid, (-30, 30), True),
    "softplus": (F.softplus, lambda a: np.logaddexp(0, a), (-30, 30), True),
    "logsigmoid": (F.logsigmoid, lambda a: -np.logaddexp(0, -a), (-30, 30), True),
    "square": (lambda a: a**2, np.square, (-3, 3), True),
    "cube": (lambda a: a**3, lambda a: a**3, (-3, 3), True),
    "pow 0.5": (lambda a: a**0.5, np.sqrt, (0.2, 3), True),
    "reciprocal": (lambda a: 1.0 / a, np.reciprocal, (0.2, 3), True),
    "abs": (F.abs, np.abs, (-3, 3), False),
    "relu": (F.relu, lambda a: np.maximum(a, 0), (-3, 3), False),
    "leaky_relu": (lambda a: F.leaky_relu(a, 0.2), lambda a: np.where(a > 0, a, 0.2 * a), (-3, 3), False),
    "elu": (F.elu, lambda a: np.where(a > 0, a, np.expm1(np.minimum(a, 0))), (-3, 3), False),
    "clamp": (lambda a: F.clamp(a, -1.0, 1.0), lambda a: np.clip(a, -1, 1), (-3, 3), False),
}


@st.composite
def unary_case(draw):
    name = draw(st.sampled_from(sorted(UNARY)))
    low, high = UNARY[name][2]
    a = draw(values(array_shapes(min_dims=0, max_dims=3, max_side=4), low, high))
    return name, a


@given(unary_case(), st.sampled_from(["float32", "float64"]))
def test_property_unary_ops_match_numpy_in_both_dtypes(case, dtype):
    name, a = case
    fn, reference, _, _ = UNARY[name]
    out = fn(leaf(a, dtype))
    expected = reference(a.astype(dtype))
    assert out.shape == expected.shape and out.dtype == np.dtype(dtype)
    rtol, atol = (2e-6, 1e-30) if dtype == "float32" else (1e-13, 1e-300)
    np.testing.assert_allclose(out.numpy(), expected, rtol=rtol, atol=atol)


@given(unary_case())
def test_property_unary_op_gradients_pass_gradcheck_and_gradgradcheck(case):
    name, a = case
    fn, _, _, smooth = UNARY[name]
    kinks = {"clamp": (-1.0, 1.0)}.get(name, (0.0,))
    if not smooth:
        assume(all(np.all(np.abs(a - k) > 1e-3) for k in kinks))
    x = leaf(a)
    assert mg.gradcheck(fn, (x,))
    assert mg.gradgradcheck(fn, (x,))


# --- reductions and the softmax family over random dims ---------------------------------------------


@st.composite
def tensor_and_dim(draw, min_dims=1):
    shape = draw(array_shapes(min_dims=min_dims, max_dims=4, max_side=4))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    return draw(values(shape)), dim


def np_log_softmax(a, dim):
    shifted = a - a.max(dim, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(dim, keepdims=True))


def np_logsumexp(a, dim, keepdim):
    m = a.max(dim, keepdims=True)
    y = np.log(np.exp(a - m).sum(dim, keepdims=True)) + m
    return y if keepdim else y.squeeze(dim)


REDUCTIONS = {
    "sum": (lambda x, d, k: F.sum(x, d, k), lambda a, d, k: a.sum(d, keepdims=k)),
    "mean": (lambda x, d, k: F.mean(x, d, k), lambda a, d, k: a.mean(d, keepdims=k)),
    "var": (lambda x, d, k: F.var(x, d, k, unbiased=False), lambda a, d, k: a.var(d, keepdims=k)),
    "max": (lambda x, d, k: F.max(x, d, k), lambda a, d, k: a.max(d, keepdims=k)),
    "min": (lambda x, d, k: F.min(x, d, k), lambda a, d, k: a.min(d, keepdims=k)),
    "logsumexp": (lambda x, d, k: F.logsumexp(x, d, k), lambda a, d, k: np_logsumexp(a, d, k)),
    "softmax": (lambda x, d, k: F.softmax(x, d), lambda a, d, k: np.exp(np_log_softmax(a, d))),
    "log_softmax": (lambda x, d, k: F.log_softmax(x, d), lambda a, d, k: np_log_softmax(a, d)),
}


@given(
    st.sampled_from(sorted(REDUCTIONS)),
    tensor_and_dim(),
    st.booleans(),
    st.sampled_from(["float32", "float64"]),
    st.sampled_from([0.0, 1e3]),
)
def test_property_reductions_over_any_dim_match_numpy(name, case, keepdim, dtype, offset):
    a, dim = case
    a = (a + offset).astype(dtype)
    fn, reference = REDUCTIONS[name]
    out = fn(mg.tensor(a), dim, keepdim).numpy()
    expected = reference(a.astype(np.float64), dim, keepdim)
    assert out.shape == expected.shape and out.dtype == np.dtype(dtype)
    scale = np.maximum(np.abs(expected), 1.0) if name not in ("var", "softmax") else 1.0
    tolerance = (4 * np.finfo(np.float32).eps * 4 if dtype == "float32" else 1e-12) * scale
    if name in ("sum", "mean", "var") and offset:
        tolerance = tolerance * a.shape[dim] * 8 * (offset if name == "var" else 1)  # accumulation rounding
    assert np.all(np.abs(out - expected) <= tolerance), (name, np.max(np.abs(out - expected)))


@given(tensor_and_dim())
def test_property_softmax_family_gradients_over_any_dim(case):
    a, dim = case
    x = leaf(a)
    for fn in (lambda t: F.log_softmax(t, dim), lambda t: F.softmax(t, dim), lambda t: F.logsumexp(t, dim)):
        assert mg.gradcheck(fn, (x,))
    assert mg.gradgradcheck(lambda t: F.log_softmax(t, dim), (x,))


# --- random op chains through gradcheck and gradgradcheck -------------------------------------------

CHAIN_OPS = [  # (name, function of one tensor) -- smooth on all reals, shape-changing ones included
    ("tanh", F.tanh),
    ("sigmoid", F.sigmoid),
    ("softplus", F.softplus),
    ("square", lambda t: t * t),
    ("scale", lambda t: t * 0.7 - 0.2),
    ("exp_tanh", lambda t: F.exp(F.tanh(t))),
    ("sum_keepdim", lambda t: t.sum(-1, keepdim=True) if t.ndim else t),
    ("mean0", lambda t: F.mean(t, 0, keepdim=True) if t.ndim else t),
    ("transpose", lambda t: t.transpose(0, -1) if t.ndim >= 2 else t),
    ("flatten", lambda t: F.flatten(t)),
    ("log_softmax", lambda t: F.log_softmax(t, -1) if t.ndim else t),
    ("softmax", lambda t: F.softmax(t, 0) if t.ndim else t),
    ("logsumexp", lambda t: F.logsumexp(t, -1) if t.ndim else t),
    ("norm_sq", lambda t: F.sum(t * t, -1, keepdim=True) if t.ndim else t * t),
    ("cat_self", lambda t: F.cat([t, t * 2.0], -1) if t.ndim else t),
    ("stack", lambda t: F.stack([t, F.tanh(t)], 0)),
    ("slice", lambda t: t[..., :1] if t.ndim else t),
    ("broadcast_mul", lambda t: t * F.tanh(t.sum(0, keepdim=True)) if t.ndim else t),
    # eps 0.1: a row of equal values has curvature ~ eps^-3/2, which central differences cannot resolve
    ("layer_norm", lambda t: F.layer_norm(t, t.shape[-1], eps=0.1) if t.ndim and t.shape[-1] > 1 else t),
]


@st.composite
def chain_case(draw):
    ops = draw(st.lists(st.sampled_from(range(len(CHAIN_OPS))), min_size=2, max_size=4))
    a = draw(values(array_shapes(min_dims=1, max_dims=3, max_side=3), -2.0, 2.0))
    return [CHAIN_OPS[i] for i in ops], a


@given(chain_case())
def test_property_random_op_chains_pass_gradcheck_and_gradgradcheck(case):
    chain, a = case

    def fn(t):
        for _, op in chain:
            t = op(t)
        return t

    x = leaf(a)
    note = " -> ".join(name for name, _ in chain)
    assert mg.gradcheck(fn, (x,), atol=1e-5, rtol=1e-3), note
    assert mg.gradgradcheck(fn, (x,), atol=1e-4, rtol=1e-3), note


# --- convolutions with random valid geometry against PyTorch ----------------------------------------


@st.composite
def conv_case(draw):
    k = draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    stride = draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    dilation = draw(st.tuples(st.integers(1, 2), st.integers(1, 2)))
    padding = draw(st.tuples(st.integers(0, 2), st.integers(0, 2)))
    size = tuple(draw(st.integers(max(1, dilation[i] * (k[i] - 1) + 1 - 2 * padding[i]), 7)) for i in range(2))
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**16))
    return (n, c) + size, (o, c) + k, stride, padding, dilation, seed


@given(conv_case(), st.sampled_from(["float32", "float64"]))
def test_property_conv2d_and_its_transpose_match_pytorch(case, dtype):
    torch = pytest.importorskip("torch")
    x_shape, w_shape, stride, padding, dilation, seed = case
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype)
    tol = 1e-4 if dtype == "float32" else 1e-10
    y = F.conv2d(mg.tensor(x), mg.tensor(w), stride=stride, padding=padding, dilation=dilation).numpy()
    y_torch = torch.nn.functional.conv2d(
        torch.tensor(x), torch.tensor(w), stride=stride, padding=padding, dilation=dilation
    ).numpy()
    np.testing.assert_allclose(y, y_torch, rtol=tol, atol=tol)
    output_padding = tuple(min(s, d) - 1 for s, d in zip(stride, dilation))
    transposed = [
        (x_shape[2 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (w_shape[2 + i] - 1) + output_padding[i] + 1
        for i in range(2)
    ]
    if min(transposed) < 1:
        assert_clear_error(
            lambda: F.conv_transpose2d(
                mg.tensor(x),
                mg.tensor(w.transpose(1, 0, 2, 3)),
                stride=stride,
                padding=padding,
                output_padding=output_padding,
                dilation=dilation,
            ),
            "conv_transpose2d",
        )
        return
    wt = rng.standard_normal((w_shape[1], w_shape[0]) + w_shape[2:]).astype(dtype)  # (C, O, kh, kw)
    z = F.conv_transpose2d(
        mg.tensor(x), mg.tensor(wt), stride=stride, padding=padding, output_padding=output_padding, dilation=dilation
    )
    z_torch = torch.nn.functional.conv_transpose2d(
        torch.tensor(x),
        torch.tensor(wt),
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
    )
    np.testing.assert_allclose(z.numpy(), z_torch.numpy(), rtol=tol, atol=tol)


# --- random invalid arguments: the library's clear errors only --------------------------------------

CLEAR_ERRORS = (ValueError, TypeError, IndexError, NotImplementedError)


def assert_clear_error(call, op_name):
    """``call()`` must raise one of Python's own error types (not a NumPy/Numba subclass, not
    ZeroDivisionError/StopIteration) with a message that names the op -- never return a result."""
    with pytest.raises(Exception) as info:
        call()
    error = info.value
    assert type(error) in CLEAR_ERRORS, f"{op_name}: {type(error).__module__}.{type(error).__name__}: {error}"
    assert op_name.lower() in str(error).lower(), f"the message does not name {op_name}: {error}"


BAD_INTS = st.one_of(
    st.integers(-5, 0),
    st.floats(-3, 3).filter(lambda v: v != int(v)),
    st.sampled_from([None, "1", (1, 1, 1), (), (1, 0), (2, -1), [1.5, 1], True]),
)
BAD_PADDING = st.one_of(
    st.integers(-5, -1),
    st.floats(0.1, 3).filter(lambda v: v != int(v)),
    st.sampled_from([None, "full", (1, 1, 1), (0, -1), (0.0, 1)]),
)  # 'same' is valid


@given(st.sampled_from(["stride", "dilation", "padding"]), st.data(), st.sampled_from(["conv2d", "conv_transpose2d"]))
def test_property_invalid_conv_geometry_is_refused(argument, data, op):
    value = data.draw(BAD_PADDING if argument == "padding" else BAD_INTS)
    x = mg.randn(1, 2, 5, 5)
    w = mg.randn(3, 2, 3, 3) if op == "conv2d" else mg.randn(2, 3, 3, 3)
    assert_clear_error(lambda: getattr(F, op)(x, w, **{argument: value}), op)


@given(st.sampled_from(["avg_pool2d", "max_pool2d"]), st.sampled_from(["kernel_size", "stride", "padding"]), st.data())
def test_property_invalid_pooling_arguments_are_refused(op, argument, data):
    value = data.draw(BAD_PADDING if argument == "padding" else BAD_INTS)
    assume(not (argument == "stride" and value is None))  # None: the default stride, the kernel size
    arguments = {"kernel_size": 2, "stride": None, "padding": 0, argument: value}
    assert_clear_error(lambda: getattr(F, op)(mg.randn(1, 2, 6, 6), **arguments), op)


DIM_FUNCTIONS = {
    "cat": lambda x, d: F.cat([x, x], d),
    "stack": lambda x, d: F.stack([x, x], d),
    "sum": lambda x, d: F.sum(x, d),
    "mean": lambda x, d: F.mean(x, d),
    "var": lambda x, d: F.var(x, d),
    "max": lambda x, d: F.max(x, d),
    "min": lambda x, d: F.min(x, d),
    "norm": lambda x, d: F.norm(x, dim=d),
    "logsumexp": lambda x, d: F.logsumexp(x, d),
    "softmax": lambda x, d: F.softmax(x, d),
    "log_softmax": lambda x, d: F.log_softmax(x, d),
    "unsqueeze": lambda x, d: F.unsqueeze(x, d),
    "squeeze": lambda x, d: F.squeeze(x, d),
    "flatten": lambda x, d: F.flatten(x, d),
    "transpose": lambda x, d: x.transpose(0, d),
    "size": lambda x, d: x.size(d),
    "argmax": lambda x, d: x.argmax(d),
    "argmin": lambda x, d: x.argmin(d),
    "chunk": lambda x, d: F.chunk(x, 2, d),
    "split": lambda x, d: F.split(x, 1, d),
    "topk": lambda x, d: F.topk(x, 1, d),
}
EXTRA_DIM = {"stack": 1, "unsqueeze": 1}  # these accept one more position: the new axis


@given(st.sampled_from(sorted(DIM_FUNCTIONS)), array_shapes(min_dims=1, max_dims=4, max_side=3), st.data())
def test_property_out_of_range_dims_never_wrap(op, shape, data):
    ndim = len(shape) + EXTRA_DIM.get(op, 0)
    dim = data.draw(
        st.one_of(
            st.integers(ndim, ndim + 6), st.integers(-ndim - 6, -ndim - 1), st.sampled_from([1.0, "0", 0.5, True])
        )
    )
    assert_clear_error(lambda: DIM_FUNCTIONS[op](mg.randn(*shape), dim), op)


@given(st.integers(2, 5), st.integers(1, 6), st.data())
def test_property_class_targets_outside_the_classes_are_refused(classes, n, data):
    # -100 is PyTorch's default ignore_index: such a target is skipped, not an error (test_loss_options.py)
    bad = data.draw(st.one_of(st.integers(-99, -1), st.integers(classes, classes + 100)))
    target = np.zeros(n, dtype=np.int64)
    target[data.draw(st.integers(0, n - 1))] = bad
    logits = mg.randn(n, classes)
    assert_clear_error(lambda: F.cross_entropy(logits, mg.tensor(target)), "cross_entropy")
    assert_clear_error(lambda: F.nll_loss(F.log_softmax(logits, 1), mg.tensor(target)), "nll_loss")
    assert_clear_error(lambda: F.one_hot(mg.tensor(target), classes), "one_hot")


NON_NUMERIC = st.sampled_from(["a", "", None, b"x", {"k": 1}, {1}, object(), np.array(["a"]), print])


@given(NON_NUMERIC, st.sampled_from(["add", "sub", "mul", "div"]), st.booleans())
def test_property_non_numeric_operands_are_type_errors_naming_the_op(operand, op, reflected):
    x = mg.randn(2, 3)
    fn = getattr(mg.ops, op)
    with pytest.raises(TypeError) as info:
        fn(operand, x) if reflected else fn(x, operand)
    assert type(info.value) is TypeError and op in str(info.value).lower()


@given(st.sampled_from(["float16", "complex64", "complex128", "longdouble", "U3", "object", ">f4"]))
def test_property_unsupported_dtypes_are_refused_everywhere(dtype):
    array = np.ones(3, dtype=dtype) if dtype not in ("U3", "object") else np.array(["a", "b", "c"], dtype=dtype)
    if dtype == ">f4":  # non-native byte order: converted by mg.tensor, refused as a raw array
        assert mg.tensor(array).dtype == np.float32
        assert_clear_error(lambda: mg.Tensor(array), "Tensor")
        return
    for make, name in (
        (lambda: mg.tensor(array), "Tensor"),
        (lambda: mg.Tensor(array), "Tensor"),
        (lambda: mg.randn(3) * array, "Mul"),
        (lambda: mg.zeros(3, dtype=dtype), "zeros"),
    ):
        assert_clear_error(make, name)


@pytest.mark.filterwarnings("ignore:invalid value encountered in power")  # x ** 1.5 of negative x: NaN
@given(
    st.sampled_from(["dropout", "leaky_relu", "elu", "pow", "clamp"]),
    st.one_of(st.sampled_from([float("nan"), "a", None, -0.5, 1.5, [0.1]]), st.floats(1.0001, 10)),
)
def test_property_invalid_scalars_are_refused(op, value):
    x = mg.randn(2, 3)
    calls = {
        "dropout": lambda: F.dropout(x, value),
        "leaky_relu": lambda: F.leaky_relu(x, value),
        "elu": lambda: F.elu(x, value),
        "pow": lambda: x**value,
        "clamp": lambda: F.clamp(x, min=value),
    }
    valid = {
        "dropout": lambda v: isinstance(v, float) and 0 <= v <= 1,
        "leaky_relu": lambda v: isinstance(v, float) and v == v,
        "elu": lambda v: isinstance(v, float) and v == v,
        "pow": lambda v: isinstance(v, float) and v == v,
        "clamp": lambda v: v is None or (isinstance(v, float) and v == v),
    }  # None: no lower bound
    if valid[op](value):
        out = calls[op]()  # accepted values compute a finite result of x's shape
        assert out.shape == x.shape
        return
    assert_clear_error(calls[op], op)
