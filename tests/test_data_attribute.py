"""``Tensor.data`` is PyTorch's (issue 15): a Tensor sharing the storage, outside the graph, so the DCGAN
tutorial's weight init, ``p.data.clamp_``, ``x.data.cpu().numpy()`` and ``p.data = t`` work as a PyTorch user
expects.  Unlike PyTorch, it shares the version counter too, so a saved tensor changed through ``.data``
makes backward refuse.  ``.array`` is the raw NumPy/CuPy array."""

import numpy as np
import pytest

import minigan as mg
import minigan.nn as nn
import minigan.optim as optim


def dcgan_discriminator(nn, ndf=16):
    """pytorch/examples' DCGAN discriminator for 32x32 images (with ndf=16: 8,192 weights in the middle
    convolution, enough to estimate a standard deviation to 1%)."""
    return nn.Sequential(
        nn.Conv2d(3, ndf, 4, 2, 1, bias=False),
        nn.LeakyReLU(0.2),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ndf * 2),
        nn.LeakyReLU(0.2),
        nn.Conv2d(ndf * 2, 1, 8, 1, 0, bias=False),
        nn.Sigmoid(),
    )


def tutorial_weights_init(nn):
    """The PyTorch DCGAN tutorial's weights_init, verbatim."""

    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find("Conv") != -1:
            nn.init.normal_(m.weight.data, 0.0, 0.02)
        elif classname.find("BatchNorm") != -1:
            nn.init.normal_(m.weight.data, 1.0, 0.02)
            nn.init.constant_(m.bias.data, 0)

    return weights_init


def examples_weights_init(m):
    """pytorch/examples' older DCGAN weights_init (the in-place methods of ``.data``), verbatim."""
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        m.weight.data.normal_(0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)


def init_statistics(model):
    """(shape, mean, std) of every parameter, in order."""
    return [
        (tuple(p.shape), float(np.mean(p.data.cpu().numpy())), float(np.std(p.data.cpu().numpy())))
        for p in model.parameters()
    ]


@pytest.mark.parametrize("variant", ["nn.init on .data", ".data.normal_"])
def test_the_dcgan_weights_init_changes_the_parameters_as_pytorchs_does(variant):
    torch = pytest.importorskip("torch")
    ours, theirs = dcgan_discriminator(nn), dcgan_discriminator(torch.nn)
    before = [(p.numpy().copy(), p._version) for p in ours.parameters()]
    if variant == "nn.init on .data":
        ours.apply(tutorial_weights_init(nn)), theirs.apply(tutorial_weights_init(torch.nn))
    else:
        ours.apply(examples_weights_init), theirs.apply(examples_weights_init)
    ours_stats, theirs_stats = init_statistics(ours), init_statistics(theirs)
    assert [s[0] for s in ours_stats] == [s[0] for s in theirs_stats]
    targets = [(0.0, 0.02), (0.0, 0.02), (1.0, 0.02), None, (0.0, 0.02)]  # conv, conv, BN weight, BN bias, conv
    for (shape, mean, std), (_, their_mean, their_std), target in zip(ours_stats, theirs_stats, targets):
        n = int(np.prod(shape))
        if target is None:  # the batch-norm bias: zero in both
            assert mean == their_mean == 0.0 and std == their_std == 0.0
            continue
        # 6 standard errors of the sample mean and standard deviation of n normal draws
        assert abs(mean - target[0]) < 6 * 0.02 / n**0.5 and abs(their_mean - target[0]) < 6 * 0.02 / n**0.5
        assert abs(std - 0.02) < 6 * 0.02 / (2 * n) ** 0.5 and abs(their_std - 0.02) < 6 * 0.02 / (2 * n) ** 0.5
    for p, (old, version) in zip(ours.parameters(), before):  # the parameters themselves changed
        assert not np.array_equal(p.numpy(), old) or not old.any()
        assert p._version > version and p.requires_grad and p.is_leaf


def test_both_weights_init_variants_draw_the_same_values_from_minigans_generator():
    weights = []
    for init in (tutorial_weights_init(nn), examples_weights_init):
        mg.manual_seed(3)
        model = dcgan_discriminator(nn, ndf=4)
        mg.manual_seed(4)
        model.apply(init)
        weights.append([p.numpy() for p in model.parameters()])
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_data_shares_storage_and_version_counter_outside_the_graph():
    w = nn.Linear(3, 2).weight
    d = w.data
    assert type(d) is mg.Tensor and not d.requires_grad and d.creator is None and d.is_leaf
    assert d.array is w.array and d.grad is None
    version = w._version
    d[0, 1] = 5.0  # write through .data, read through the parameter
    assert w.numpy()[0, 1] == 5.0 and w._version == version + 1
    with mg.no_grad():
        w.fill_(2.0)  # write through the parameter, read through .data
    assert (d.numpy() == 2.0).all() and d._version == w._version == version + 2


def test_in_place_methods_through_data_are_allowed_with_grad_on_and_bump_the_version():
    w = mg.randn(4, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="normal_: in-place assignment to a tensor that requires grad"):
        w.normal_()
    version = w._version
    w.data.normal_(0.0, 0.02)
    w.data.uniform_(-1.0, 1.0)
    w.data.clamp_(-0.01, 0.01)  # the WGAN weight clipping habit
    assert np.abs(w.numpy()).max() <= 0.01 and w._version == version + 3
    w.data.copy_(np.ones((4, 3)))
    w.data.add_(mg.ones(4, 3), alpha=2.0)
    w.data.mul_(4.0)
    w.data.sub_(2.0)
    w.data.div_(mg.full((3,), 2.0))
    w.data.zero_()
    assert not w.numpy().any() and w._version == version + 9


def test_the_arithmetic_in_place_methods_agree_with_pytorchs():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    ours, theirs = mg.tensor(a), torch.tensor(a)
    for name, args in (("add_", (b,)), ("sub_", (b,)), ("mul_", (b,)), ("div_", (b + 3,)), ("add_", (0.5,))):
        getattr(ours, name)(*[mg.tensor(x) if isinstance(x, np.ndarray) else x for x in args])
        getattr(theirs, name)(*[torch.tensor(x) if isinstance(x, np.ndarray) else x for x in args])
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    ours.add_(mg.tensor(b), alpha=-0.25), theirs.add_(torch.tensor(b), alpha=-0.25)
    ours.sub_(mg.tensor(b), alpha=3), theirs.sub_(torch.tensor(b), alpha=3)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-15)


def test_the_arithmetic_in_place_methods_name_what_they_refuse():
    labels = mg.tensor([1, 2, 3])
    with pytest.raises(TypeError, match=r"div_: .*dtype int64.*Cannot cast"):
        labels.div_(2)  # PyTorch refuses this too (result type Float)
    with pytest.raises(TypeError, match=r"add_: .*dtype int64"):
        labels.add_(0.5)
    with pytest.raises(
        ValueError,
        match=r"add_: cannot apply an operand of shape \(4, 3\) to a tensor of shape "
        r"\(3,\)",
    ):
        mg.zeros(3).add_(mg.ones(4, 3))  # the result would not fit: no silent broadcast
    with pytest.raises(RuntimeError, match="mul_: in-place assignment to a tensor that requires grad"):
        mg.zeros(3, requires_grad=True).mul_(2.0)
    np.testing.assert_array_equal(labels.numpy(), [1, 2, 3])


def test_backward_refuses_a_saved_tensor_changed_through_data():
    w = mg.randn(3, 3, requires_grad=True)
    y = (w * w).sum()  # mul saves w
    w.data.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*expected version"):
        y.backward()
    try:  # why minigan shares the counter: PyTorch silently uses the new values
        import torch
    except ImportError:
        return
    w = torch.ones(3, requires_grad=True)
    y = (w * w).sum()
    w.data.mul_(2.0)
    y.backward()
    assert w.grad.tolist() == [4.0, 4.0, 4.0]  # 2 w at the new w, not at the w of the forward pass


def test_data_of_a_non_leaf_is_detached_and_writing_it_is_seen_by_backward():
    x = mg.randn(2, 3, requires_grad=True)
    y = x * 2
    d = y.data
    assert not d.requires_grad and d.creator is None and d.is_leaf and y.creator is not None
    np.testing.assert_array_equal(d.numpy(), y.numpy())
    z = (y * y).sum()  # saves y
    d.fill_(0.0)
    assert not y.numpy().any()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()


def test_data_cpu_numpy_and_grad_data_norm():
    x = mg.randn(2, 3, requires_grad=True)
    y = (x * 3).tanh()
    a = y.data.cpu().numpy()
    assert type(a) is np.ndarray and np.array_equal(a, y.numpy())
    a[0, 0] = 99.0  # numpy() copies, as minigan's numpy() always has
    assert y.numpy()[0, 0] != 99.0
    y.sum().backward()
    assert x.grad.data.norm().item() == pytest.approx(np.linalg.norm(x.grad.numpy()), rel=1e-6)


def test_assigning_data_replaces_the_storage_and_shares_it():
    p = nn.Linear(3, 2).weight
    t = mg.tensor(np.arange(6.0, dtype=np.float32).reshape(3, 2))
    p.data = t  # any shape, as in PyTorch
    assert p.shape == (3, 2) and p.array is t.array and p.requires_grad and p.is_leaf
    t.fill_(7.0)
    assert (p.numpy() == 7.0).all() and p._version == t._version
    p.data = np.zeros((2, 2), dtype=np.float64)  # a raw array (minigan's own), any floating dtype
    assert p.dtype == np.float64 and not p.numpy().any()
    labels = mg.zeros(3, dtype="int64")
    labels.data = mg.ones(2, dtype="int64")  # a tensor that does not require grad: any dtype
    assert labels.tolist() == [1, 1]


def test_assigning_data_is_refused_as_pytorch_refuses_it():
    torch = pytest.importorskip("torch")
    for lib, make in ((mg, lambda: nn.Linear(3, 2).weight), (torch, lambda: torch.nn.Linear(3, 2).weight)):
        p = make()
        with pytest.raises(RuntimeError, match="requires grad.* floating|floating point"):
            p.data = lib.zeros(2, dtype=lib.int64)
        with pytest.raises(
            TypeError,
            match=r"Tensor.data: expected a Tensor or a NumPy/CuPy array, got list|"
            r"has to be a tensor",
        ):
            p.data = [1.0, 2.0]
        assert p.shape == (2, 3) and p.dtype == (np.float32 if lib is mg else torch.float32)


def test_assigning_data_after_forward_makes_backward_refuse():
    w = mg.randn(3, requires_grad=True)
    y = (w * w).sum()
    w.data = mg.ones(3)  # PyTorch would differentiate at the new values
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
    w2 = mg.randn(3, requires_grad=True)
    t = mg.zeros(3)
    w2.data = t
    y2 = (w2 * w2).sum()
    t.fill_(1.0)  # the storage w2 now shares, changed after forward
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y2.backward()


def test_an_optimizer_steps_a_parameter_whose_data_was_replaced_as_pytorchs_does():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    w0, x = rng.standard_normal((2, 3)), rng.standard_normal((4, 3))
    ours, theirs = nn.Linear(3, 2).double(), torch.nn.Linear(3, 2).double()
    t_ours, t_theirs = mg.tensor(w0), torch.tensor(w0)
    ours.weight.data, theirs.weight.data = t_ours, t_theirs
    ours.bias.data.zero_(), theirs.bias.data.zero_()
    opt_ours = optim.Adam(ours.parameters(), lr=0.1)
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=0.1)
    for _ in range(3):
        for model, opt, lib in ((ours, opt_ours, mg), (theirs, opt_theirs, torch)):
            opt.zero_grad()
            (model(lib.tensor(x)) ** 2).sum().backward()
            opt.step()
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), rtol=1e-12)
    np.testing.assert_array_equal(t_ours.numpy(), ours.weight.numpy())  # the step wrote the shared storage
    np.testing.assert_array_equal(t_theirs.numpy(), theirs.weight.detach().numpy())


def test_wrapping_a_tensor_in_tensor_is_refused_with_the_alternatives():
    p = nn.Linear(2, 2).weight
    with pytest.raises(TypeError, match=r"Tensor\(\): got a Tensor; to share its storage use t.detach\(\)"):
        mg.Tensor(p.data)
    assert isinstance(mg.Tensor(p.array), mg.Tensor)


def test_numpy_reads_a_tensor_through_array_as_it_reads_a_pytorch_tensor():
    p = nn.Linear(3, 2).weight
    a = np.asarray(p.data)  # once an array of 0-d Tensors (dtype object)
    assert a.dtype == np.float32 and a.shape == (2, 3) and np.shares_memory(a, p.array)
    np.testing.assert_array_equal(np.exp(p.data), np.exp(p.array))
    assert np.asarray(p.data, dtype=np.float64).dtype == np.float64
    assert not np.shares_memory(np.array(p.data), p.array)  # np.array copies
    assert type(np.ones(3) + mg.ones(3)) is mg.Tensor  # ndarray (op) Tensor still defers
    with pytest.raises(RuntimeError, match="cannot convert a tensor that requires grad to a NumPy array"):
        np.asarray(p)  # the result would silently leave the graph
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="requires grad"):
        np.asarray(torch.nn.Linear(3, 2).weight)  # PyTorch refuses it too
