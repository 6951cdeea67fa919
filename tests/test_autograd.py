"""The engine's behaviour as a PyTorch user expects it, and the errors a user will hit."""

import numpy as np
import pytest

import minigan as mg
import minigan.functional as F


def t64(array, requires_grad=True):
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


# --- graph semantics ---------------------------------------------------------------------------------


def test_diamond_and_reused_input_accumulate():
    x = t64([1.0, 2.0, 3.0])
    a = x * 2
    b = x * x  # x used twice in one op
    y = (a * b).sum()  # diamond: x -> a, x -> b -> y;  y = 2 x^3
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy() ** 2)


def test_backward_accumulates_into_grad_across_calls():
    x = t64([1.0, -2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 + 2 * x.numpy())


def test_grad_returns_tuple_and_leaves_dot_grad_alone():
    x = t64([0.5, 1.5])
    w = t64([2.0, 3.0])
    gx, gw = mg.grad((x * w).sum(), [x, w])
    np.testing.assert_allclose(gx.numpy(), w.numpy())
    np.testing.assert_allclose(gw.numpy(), x.numpy())
    assert x.grad is None and w.grad is None


def test_grad_of_grad_is_second_derivative():
    x = t64([0.3, -1.2, 2.0])
    (g,) = mg.grad((x**3).sum(), x, create_graph=True)  # 3 x^2
    (h,) = mg.grad(g.sum(), x)  # 6 x
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2)
    np.testing.assert_allclose(h.numpy(), 6 * x.numpy())


def test_third_derivative_of_tanh():
    x = t64([0.4, -0.7])
    (g1,) = mg.grad(F.tanh(x).sum(), x, create_graph=True)
    (g2,) = mg.grad(g1.sum(), x, create_graph=True)
    (g3,) = mg.grad(g2.sum(), x)
    th = np.tanh(x.numpy())
    np.testing.assert_allclose(g3.numpy(), -2 * (1 - th**2) ** 2 + 4 * th**2 * (1 - th**2))


def test_retain_graph_allows_second_backward_and_freed_graph_errors():
    x = t64([1.0, 2.0])
    y = (F.exp(x) * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * np.exp(x.numpy()))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_detach_and_no_grad_cut_the_graph():
    x = t64([1.0, 2.0])
    y = (x * 2).detach()
    assert not y.requires_grad and y.creator is None
    with mg.no_grad():
        z = x * 3
    assert not z.requires_grad and z.creator is None
    assert mg.is_grad_enabled()

    @mg.no_grad()
    def f(v):
        return v * 2

    assert not f(x).requires_grad


def test_leaf_data_update_in_place_like_an_optimizer():
    w = t64([1.0, 2.0])
    (w * w).sum().backward()
    with mg.no_grad():
        w.array -= 0.1 * w.grad.array
    np.testing.assert_allclose(w.numpy(), [0.8, 1.6])
    with pytest.raises(RuntimeError, match="in-place assignment"):
        w[0] = 5.0


def test_grad_with_grad_outputs_and_unused_input():
    x = t64([[1.0, 2.0], [3.0, 4.0]])
    unused = t64([1.0])
    v = t64([[1.0, 0.0], [0.5, 2.0]], requires_grad=False)
    (g,) = mg.grad(x * x, x, grad_outputs=v)
    np.testing.assert_allclose(g.numpy(), 2 * x.numpy() * v.numpy())
    with pytest.raises(RuntimeError, match="not used"):
        mg.grad((x * 2).sum(), [x, unused])
    assert mg.grad((x * 2).sum(), [x, unused], allow_unused=True)[1] is None


def test_broadcast_gradients_are_summed_to_input_shape():
    a = t64(np.ones((3, 1)))
    b = t64(np.arange(4.0))
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (4,)
    np.testing.assert_allclose(a.grad.numpy(), np.full((3, 1), 6.0))
    np.testing.assert_allclose(b.grad.numpy(), np.full(4, 3.0))


def test_float32_stays_float32_and_scalars_do_not_promote():
    x = mg.randn(3, requires_grad=True)
    y = (x * 2.5 + 1).sum()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32


def test_manual_seed_reproduces_randn_and_dropout():
    mg.manual_seed(7)
    a = mg.randn(5)
    d1 = F.dropout(mg.ones(100), 0.5)
    mg.manual_seed(7)
    b = mg.randn(5)
    d2 = F.dropout(mg.ones(100), 0.5)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(d1.numpy(), d2.numpy())
    assert set(np.unique(d1.numpy())) == {0.0, 2.0}


def test_batch_norm_updates_running_statistics_like_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((6, 3, 2, 2))
    rm, rv = np.zeros(3), np.ones(3)
    F.batch_norm(t64(x), rm, rv, training=True, momentum=0.2)
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    torch.nn.functional.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=0.2)
    np.testing.assert_allclose(rm, trm.numpy())
    np.testing.assert_allclose(rv, trv.numpy())


# --- the WGAN-GP penalty: a gradient differentiated through a conv critic ------------------------------


def test_gradient_penalty_through_conv_critic_matches_torch():
    """penalty = mean_n (||d critic(x_n)/d x_n|| - 1)^2; its gradient w.r.t. every critic parameter, which
    differentiates conv2d's backward (conv_transpose2d, conv2d_weight), agrees with PyTorch's."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 2, 8, 8))
    W1 = rng.standard_normal((4, 2, 4, 4)) * 0.3
    b1 = rng.standard_normal(4) * 0.1
    W2 = rng.standard_normal((5, 4, 3, 3)) * 0.3
    W3 = rng.standard_normal((1, 5 * 4 * 4)) * 0.1

    def critic_mg(x, W1, b1, W2, W3):
        h = F.leaky_relu(F.conv2d(x, W1, b1, stride=2, padding=1), 0.2)  # (3, 4, 4, 4)
        h = F.tanh(F.conv2d(h, W2, padding=1))  # (3, 5, 4, 4)
        return F.linear(h.reshape(3, -1), W3)  # (3, 1)

    def critic_torch(x, W1, b1, W2, W3):
        tf = torch.nn.functional
        h = tf.leaky_relu(tf.conv2d(x, W1, b1, stride=2, padding=1), 0.2)
        h = torch.tanh(tf.conv2d(h, W2, padding=1))
        return tf.linear(h.reshape(3, -1), W3)

    params = [t64(p) for p in (W1, b1, W2, W3)]
    xm = t64(x)
    (g,) = mg.grad(critic_mg(xm, *params).sum(), xm, create_graph=True)
    penalty = ((g.reshape(3, -1).norm(dim=1) - 1) ** 2).mean()
    grads = mg.grad(penalty, params)

    tparams = [torch.tensor(p, requires_grad=True) for p in (W1, b1, W2, W3)]
    xt = torch.tensor(x, requires_grad=True)
    (gt,) = torch.autograd.grad(critic_torch(xt, *tparams).sum(), xt, create_graph=True)
    penalty_t = ((gt.reshape(3, -1).norm(dim=1) - 1) ** 2).mean()
    grads_t = torch.autograd.grad(penalty_t, tparams)

    np.testing.assert_allclose(penalty.item(), penalty_t.item(), rtol=1e-10)
    for a, b in zip(grads, grads_t):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-8, atol=1e-12)


def test_gradient_penalty_gradcheck():
    rng = np.random.default_rng(5)
    W = t64(rng.standard_normal((2, 1, 3, 3)) * 0.5)
    x = t64(rng.standard_normal((2, 1, 5, 5)), requires_grad=False)

    def penalty(W):
        xi = mg.tensor(x.numpy(), dtype="float64", requires_grad=True)
        (g,) = mg.grad(F.softplus(F.conv2d(xi, W, stride=2)).sum(), xi, create_graph=True)
        return ((g.reshape(2, -1).norm(dim=1) - 1) ** 2).mean()

    assert mg.gradcheck(penalty, [W])


# --- errors a user will hit ----------------------------------------------------------------------------


def test_shape_mismatch_names_both_shapes_and_the_op():
    with pytest.raises(ValueError, match=r"matmul: shapes \(3, 4\) and \(5, 2\)"):
        mg.randn(3, 4) @ mg.randn(5, 2)
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4,\)|\(4,\).*\(2, 3\)"):
        mg.randn(2, 3) + mg.randn(4)
    with pytest.raises(ValueError, match=r"conv2d: input \(1, 3, 8, 8\) and weight \(4, 2, 3, 3\)"):
        F.conv2d(mg.randn(1, 3, 8, 8), mg.randn(4, 2, 3, 3))
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(3,\) and target shape \(4,\)"):
        F.mse_loss(mg.randn(3), mg.randn(4))


def test_grad_of_non_scalar_needs_grad_outputs():
    x = t64([1.0, 2.0])
    with pytest.raises(RuntimeError, match="only for scalar outputs.*shape \\(2,\\)"):
        (x * 2).backward()


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating-point.*int64"):
        mg.tensor([1, 2, 3], requires_grad=True)


def test_detect_anomaly_names_the_op():
    x = t64([1.0, -1.0])
    with mg.detect_anomaly():
        with pytest.raises(FloatingPointError, match="Log.forward produced NaN"):
            with np.errstate(invalid="ignore"):
                F.log(x)
    with np.errstate(invalid="ignore"):
        assert np.isnan(F.log(x).numpy()[1])  # off by default: no check, no cost


def test_mixing_devices_names_both():
    class FakeGPUArray(np.ndarray):  # a stand-in: the engine asks the array type's module
        device = type("Device", (), {"id": 0})()

    FakeGPUArray.__module__ = "cupy._core.core"
    fake = np.zeros(2).view(FakeGPUArray)
    with pytest.raises(RuntimeError, match="cpu, cuda:0"):
        mg.ops.add(mg.zeros(2), mg.Tensor(fake))


def test_cuda_device_without_gpu_says_what_is_missing():
    try:
        import cupy  # noqa: F401

        has_cupy = True
    except ImportError:
        has_cupy = False
    with pytest.raises(RuntimeError, match="CuPy|cuda"):
        mg.zeros(2, device="cuda")
    if not has_cupy:
        with pytest.raises(RuntimeError, match=r"pip install 'minigan\[cuda\]'"):
            mg.zeros(2, device="cuda")


def test_second_backward_without_create_graph_has_no_graph():
    x = t64([1.0, 2.0])
    (g,) = mg.grad((x**2).sum(), x)
    assert not g.requires_grad


def test_an_op_without_second_derivative_refuses_create_graph():
    """The mechanism for a future primitive whose backward is not built from ops."""
    from minigan.function import Function

    class SquareFirstOrderOnly(Function):
        differentiable_backward = False
        why_not_twice = "its backward works on raw arrays"

        def forward(self, x):
            return x * x

        def backward(self, gy):
            return mg.Tensor(2 * self.inputs[0].array * gy.array)

    x = t64([1.0, 3.0])
    (g,) = mg.grad(SquareFirstOrderOnly().apply(x).sum(), x)
    np.testing.assert_allclose(g.numpy(), [2.0, 6.0])
    with pytest.raises(RuntimeError, match="SquareFirstOrderOnly has no second derivative .its backward works on raw"):
        mg.grad(SquareFirstOrderOnly().apply(x).sum(), x, create_graph=True)


def test_gradients_meeting_at_a_tensor_are_summed_the_same_way_in_every_sweep():
    """Two paths into h (h * h and + h): a plain sweep sums their gradients as arrays, a recorded one
    (create_graph) by an add op that can be differentiated again, an anomaly-checked one by the op too;
    each gives dy/dx = (2h + 1) * 3 with h = 3x."""
    x_values = np.array([0.5, -1.0, 2.0])
    expected = (2 * 3 * x_values + 1) * 3
    gradients = {}
    for mode in ("plain", "create_graph", "anomaly"):
        x = mg.tensor(x_values, requires_grad=True)
        h = x * 3.0
        y = (h * h + h).sum()
        if mode == "anomaly":
            with mg.detect_anomaly():
                (g,) = mg.grad(y, x)
        else:
            (g,) = mg.grad(y, x, create_graph=mode == "create_graph")
        np.testing.assert_array_equal(g.numpy(), expected)
        assert (g.creator is not None) == (mode == "create_graph")
        gradients[mode] = g, x
    g, x = gradients["create_graph"]
    (gg,) = mg.grad(g.sum(), x)  # the recorded sweep's gradient differentiates: d/dx sum = 18
    np.testing.assert_array_equal(gg.numpy(), np.full(3, 18.0))
