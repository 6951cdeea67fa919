"""minigan.optim against torch.optim (float64 trajectories), and exact resume from a state dict."""

import numpy as np
import pytest

import minigan as mg
import minigan.nn as nn
import minigan.optim as optim

X = np.random.default_rng(0).normal(size=(16, 3))
Y = np.sin(X.sum(axis=1, keepdims=True))


def make_mlp(seed=0):
    mg.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)).double()


def mlp_loss(net):
    return ((net(mg.tensor(X)) - mg.tensor(Y)) ** 2).mean()


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.005, momentum=0.5, maximize=True)),  # ascent: keep it small, it diverges
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.5, 0.9), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, betas=(0.0, 0.9), amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.7, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.005, centered=True, momentum=0.5, eps=1e-4)),
]


@pytest.mark.parametrize("name,hyper", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_trajectory_matches_torch(name, hyper):
    torch = pytest.importorskip("torch")
    net = make_mlp()
    tnet = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    tnet.load_state_dict({k: torch.tensor(v.numpy()) for k, v in net.state_dict().items()})
    opt = getattr(optim, name)(net.parameters(), **hyper)
    topt = getattr(torch.optim, name)(tnet.parameters(), **hyper)
    tx, ty = torch.tensor(X), torch.tensor(Y)
    for step in range(20):
        opt.zero_grad()
        mlp_loss(net).backward()
        opt.step()
        topt.zero_grad()
        ((tnet(tx) - ty) ** 2).mean().backward()
        topt.step()
    for (key, p), tp in zip(net.named_parameters(), tnet.parameters()):
        np.testing.assert_allclose(
            p.numpy(), tp.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=f"{name} {hyper}: {key} after 20 steps"
        )


def test_quadratic_converges_and_param_groups():
    # f(w) = 1/2 (w - c)^T A (w - c) with a per-group learning rate
    A = np.diag([1.0, 4.0])
    c = np.array([1.0, -2.0])
    w1 = mg.tensor(np.zeros(2), requires_grad=True)
    w2 = mg.tensor(np.zeros(2), requires_grad=True)
    opt = optim.SGD([{"params": [w1]}, {"params": [w2], "lr": 0.0}], lr=0.2, momentum=0.5)
    assert opt.param_groups[1]["lr"] == 0.0 and opt.param_groups[1]["momentum"] == 0.5
    for _ in range(100):
        opt.zero_grad()
        loss = 0
        for w in (w1, w2):
            d = w - mg.tensor(c)
            loss = loss + 0.5 * (d * (mg.tensor(A) @ d)).sum()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(w1.numpy(), c, atol=1e-8)
    np.testing.assert_array_equal(w2.numpy(), 0)


def test_params_without_grad_are_skipped_and_identity_kept():
    net = make_mlp()
    opt = optim.Adam(net.parameters(), lr=0.1)
    first = net[0].weight
    before = net[2].bias.numpy()
    net[0](mg.tensor(X)).sum().backward()  # only the first layer gets gradients
    opt.step()
    assert net[0].weight is first
    np.testing.assert_array_equal(net[2].bias.numpy(), before)
    assert net[2].bias not in opt.state


@pytest.mark.parametrize(
    "name,hyper",
    [
        ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
        ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
        ("RMSprop", dict(lr=0.01, centered=True, momentum=0.3)),
    ],
)
def test_resume_from_state_dict_is_bit_exact(name, hyper, tmp_path):
    # uninterrupted: 10 + 10 steps
    net = make_mlp()
    opt = getattr(optim, name)(net.parameters(), **hyper)
    for _ in range(20):
        opt.zero_grad()
        mlp_loss(net).backward()
        opt.step()
    # interrupted after 10 steps: save model + optimizer, build fresh objects, load, continue
    net_a = make_mlp()
    opt_a = getattr(optim, name)(net_a.parameters(), **hyper)
    for _ in range(10):
        opt_a.zero_grad()
        mlp_loss(net_a).backward()
        opt_a.step()
    mg.save({"model": net_a.state_dict(), "optimizer": opt_a.state_dict()}, tmp_path / "ckpt.safetensors")
    for _ in range(3):  # the saved snapshot must not follow later steps
        opt_a.zero_grad()
        mlp_loss(net_a).backward()
        opt_a.step()
    checkpoint = mg.load(tmp_path / "ckpt.safetensors")
    net_b = make_mlp(seed=123)
    opt_b = getattr(optim, name)(net_b.parameters(), lr=999.0)
    net_b.load_state_dict(checkpoint["model"])
    opt_b.load_state_dict(checkpoint["optimizer"])
    assert opt_b.param_groups[0]["lr"] == hyper["lr"]
    for _ in range(10):
        opt_b.zero_grad()
        mlp_loss(net_b).backward()
        opt_b.step()
    for p, q in zip(net.parameters(), net_b.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    # the in-memory state dict also resumes exactly, and holds copies
    state = opt.state_dict()
    assert all(isinstance(k, int) for k in state["state"])
    assert state["param_groups"][0]["params"] == [0, 1, 2, 3]


def test_optimizer_state_dict_loads_into_torch_layout():
    torch = pytest.importorskip("torch")
    net = make_mlp()
    opt = optim.Adam(net.parameters(), lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        mlp_loss(net).backward()
        opt.step()
    tnet = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    tnet.load_state_dict({k: torch.tensor(v.numpy()) for k, v in net.state_dict().items()})
    topt = torch.optim.Adam(tnet.parameters(), lr=0.01)
    state = opt.state_dict()
    topt.load_state_dict(
        {
            "state": {
                i: {
                    "step": torch.tensor(float(s["step"])),
                    "exp_avg": torch.tensor(s["exp_avg"].numpy()),
                    "exp_avg_sq": torch.tensor(s["exp_avg_sq"].numpy()),
                }
                for i, s in state["state"].items()
            },
            "param_groups": [
                dict(g, betas=tuple(g["betas"]))
                | {"foreach": None, "capturable": False, "differentiable": False, "fused": None}
                for g in state["param_groups"]
            ],
        }
    )
    opt.zero_grad(), mlp_loss(net).backward(), opt.step()
    topt.zero_grad()
    ((tnet(torch.tensor(X)) - torch.tensor(Y)) ** 2).mean().backward()
    topt.step()
    for p, tp in zip(net.parameters(), tnet.parameters()):
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-12)


def test_load_state_dict_checks_and_errors():
    net = make_mlp()
    opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    mlp_loss(net).backward()
    opt.step()
    other = optim.SGD(list(net.parameters())[:2], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="4 parameters in the state dict and 2"):
        other.load_state_dict(opt.state_dict())
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([], lr=0.1)
    with pytest.raises(ValueError, match="more than one"):
        w = nn.Parameter(mg.zeros(2))
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD(net.parameters(), lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam(net.parameters(), betas=(1.0, 0.9))


def test_zero_grad_and_float32_dtype_kept():
    mg.manual_seed(0)
    net = nn.Linear(3, 2)  # float32
    opt = optim.Adam(net.parameters(), lr=0.1)
    net(mg.randn(4, 3)).sum().backward()
    opt.step()
    assert all(p.dtype == np.float32 for p in net.parameters())
    assert all(s["exp_avg"].dtype == np.float32 for s in opt.state.values())
    opt.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in net.parameters())
    opt.zero_grad()
    assert all(p.grad is None for p in net.parameters())


# --- load_state_dict: everything is checked before anything changes ---------------------------------------

STATEFUL = [
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
]


def trained_optimizer(name, hyper, steps=2):
    net = make_mlp()
    opt = getattr(optim, name)(net.parameters(), **hyper)
    for _ in range(steps):
        opt.zero_grad()
        mlp_loss(net).backward()
        opt.step()
    return net, opt


def snapshot(opt):
    """Everything load_state_dict may change, as plain values."""
    groups = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    params = [p for g in opt.param_groups for p in g["params"]]
    state = {
        i: {k: (np.array(v) if hasattr(v, "shape") else v) for k, v in opt.state[p].items()}
        for i, p in enumerate(params)
        if p in opt.state
    }
    return groups, state


def assert_same_snapshot(a, b):
    assert a[0] == b[0]
    assert a[1].keys() == b[1].keys()
    for key in a[1]:
        assert a[1][key].keys() == b[1][key].keys()
        for name in a[1][key]:
            np.testing.assert_array_equal(a[1][key][name], b[1][key][name])


def _last_moment_name(state_dict):
    return next(k for k, v in state_dict["state"][3].items() if hasattr(v, "shape"))


CORRUPTIONS = {
    # the last parameter's moment has another shape: the old code had replaced the others' state by then
    "shape": (lambda sd: sd["state"][3].__setitem__(_last_moment_name(sd), mg.zeros(5, 5)), "shape"),
    "dtype": (
        lambda sd: sd["state"][3].__setitem__(_last_moment_name(sd), mg.tensor(np.zeros((1,), np.int64))),
        "floating point",
    ),
    "not-an-array": (lambda sd: sd["state"][3].__setitem__(_last_moment_name(sd), [1.0] * 8), "must be an array"),
    "unknown-state": (lambda sd: sd["state"][3].__setitem__("velocity", mg.zeros(1, 8)), "'velocity' is not state"),
    "extra-index": (lambda sd: sd["state"].__setitem__(9, {}), "parameter 9, which no parameter group lists"),
    "bad-key": (lambda sd: sd["state"].__setitem__("w", {}), "state key 'w'"),
    "two-keys": (lambda sd: sd["state"].__setitem__("3", {}), "two entries for parameter 3"),
    "groups": (lambda sd: sd["param_groups"].append(dict(sd["param_groups"][0])), "2 parameter groups"),
    "group-size": (lambda sd: sd["param_groups"][0]["params"].pop(), "3 parameters in the state dict and 4"),
    "duplicate-index": (lambda sd: sd["param_groups"][0]["params"].__setitem__(1, 0), "listed twice"),
    "lr": (lambda sd: sd["param_groups"][0].__setitem__("lr", -1.0), "parameter group 0: invalid learning rate"),
    "lr-type": (lambda sd: sd["param_groups"][0].__setitem__("lr", "0.1"), "invalid learning rate: '0.1'"),
    "lr-nan": (lambda sd: sd["param_groups"][0].__setitem__("lr", float("nan")), "invalid learning rate: nan"),
    "missing-hyper": (lambda sd: sd["param_groups"][0].pop("maximize"), "lacks 'maximize'"),
    "kind": (lambda sd: sd.__setitem__("optimizer", "Adagrad"), "state of a Adagrad optimizer"),
    "not-a-dict": (lambda sd: sd.pop("state"), "expected a dict with 'state' and 'param_groups'"),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
@pytest.mark.parametrize("name,hyper", STATEFUL, ids=[n for n, _ in STATEFUL])
def test_a_refused_state_dict_leaves_the_optimizer_unchanged(name, hyper, corruption):
    _, source = trained_optimizer(name, hyper, steps=3)
    _, target = trained_optimizer(name, dict(hyper, lr=0.123), steps=1)
    state_dict = source.state_dict()
    mangle, message = CORRUPTIONS[corruption]
    mangle(state_dict)
    before = snapshot(target)
    with pytest.raises(ValueError, match=f"{name}.load_state_dict: .*{message}"):
        target.load_state_dict(state_dict)
    assert_same_snapshot(snapshot(target), before)
    target.load_state_dict(source.state_dict())  # and the intact state still loads
    assert_same_snapshot(snapshot(target), snapshot(source))


@pytest.mark.parametrize(
    "name,hyper,missing",
    [
        ("Adam", dict(lr=0.01), "'step'"),
        ("RMSprop", dict(lr=0.01, centered=True), "'grad_avg'"),
        ("SGD", dict(lr=0.01, momentum=0.9), "'momentum_buffer'"),
    ],
)
def test_a_state_entry_without_what_the_optimizer_needs_is_refused(name, hyper, missing):
    _, source = trained_optimizer(name, hyper)
    state_dict = source.state_dict()
    del state_dict["state"][2][missing.strip("'")]
    _, target = trained_optimizer(name, hyper, steps=1)
    before = snapshot(target)
    with pytest.raises(ValueError, match=f"parameter 2: the state lacks {missing}"):
        target.load_state_dict(state_dict)
    assert_same_snapshot(snapshot(target), before)


@pytest.mark.parametrize(
    "step,message", [(-1, "whole number >= 0, got -1"), (1.5, "got 1.5"), (True, "got True"), ("3", "got '3'")]
)
def test_step_counts_must_be_whole_numbers(step, message):
    _, source = trained_optimizer("Adam", dict(lr=0.01))
    state_dict = source.state_dict()
    state_dict["state"][0]["step"] = step
    _, target = trained_optimizer("Adam", dict(lr=0.01), steps=1)
    before = snapshot(target)
    with pytest.raises(
        ValueError,
        match=f"parameter 0: 'step' must be a {message}"
        if "whole" in message
        else f"parameter 0: 'step' must be a whole number >= 0, {message}",
    ):
        target.load_state_dict(state_dict)
    assert_same_snapshot(snapshot(target), before)


def test_negative_running_mean_of_squares_is_refused():
    _, source = trained_optimizer("RMSprop", dict(lr=0.01))
    state_dict = source.state_dict()
    state_dict["state"][1]["square_avg"] = -state_dict["state"][1]["square_avg"] - 1
    _, target = trained_optimizer("RMSprop", dict(lr=0.01), steps=1)
    with pytest.raises(ValueError, match="'square_avg' holds negative values"):
        target.load_state_dict(state_dict)


@pytest.mark.parametrize(
    "source_name,target_name",
    [("SGD", "Adam"), ("Adam", "SGD"), ("Adam", "RMSprop"), ("RMSprop", "Adam"), ("Adam", "AdamW"), ("AdamW", "Adam")],
)
def test_another_optimizers_state_is_refused_naming_both(source_name, target_name):
    hyper = dict(lr=0.01, momentum=0.9) if source_name in ("SGD", "RMSprop") else dict(lr=0.01)
    _, source = trained_optimizer(source_name, hyper)
    _, target = trained_optimizer(target_name, dict(lr=0.02), steps=1)
    before = snapshot(target)
    with pytest.raises(ValueError, match=f"state of a {source_name} optimizer; it cannot be loaded into {target_name}"):
        target.load_state_dict(source.state_dict())
    assert_same_snapshot(snapshot(target), before)


@pytest.mark.parametrize(
    "source_name,target_name", [("SGD", "Adam"), ("Adam", "SGD"), ("RMSprop", "Adam"), ("SGD", "RMSprop")]
)
def test_an_unnamed_state_of_another_kind_is_refused_by_its_hyperparameters(source_name, target_name):
    # a state dict without the "optimizer" name (a PyTorch one, say): told apart by its hyper-parameter names
    hyper = dict(lr=0.01, momentum=0.9) if source_name in ("SGD", "RMSprop") else dict(lr=0.01)
    _, source = trained_optimizer(source_name, hyper)
    state_dict = source.state_dict()
    del state_dict["optimizer"]
    _, target = trained_optimizer(target_name, dict(lr=0.02), steps=1)
    before = snapshot(target)
    with pytest.raises(
        ValueError, match=f"hyper-parameters of {target_name}: it looks like the state of a {source_name} optimizer"
    ):
        target.load_state_dict(state_dict)
    assert_same_snapshot(snapshot(target), before)


def test_constructor_and_param_groups_check_every_hyperparameter():
    net = make_mlp()
    with pytest.raises(ValueError, match="invalid learning rate: -0.1"):
        optim.SGD([{"params": net.parameters(), "lr": -0.1}], lr=0.1)  # a group's own value is checked too
    with pytest.raises(ValueError, match="invalid learning rate: inf"):
        optim.Adam(net.parameters(), lr=float("inf"))
    with pytest.raises(ValueError, match="invalid amsgrad: 'yes'"):
        optim.Adam(net.parameters(), amsgrad="yes")
    with pytest.raises(ValueError, match="invalid betas"):
        optim.Adam(net.parameters(), betas=(0.9,))
    with pytest.raises(ValueError, match="invalid alpha: nan"):
        optim.RMSprop(net.parameters(), alpha=float("nan"))


@pytest.mark.parametrize("name", ["Adam", "AdamW", "RMSprop", "SGD"])
def test_a_torch_optimizer_state_loads_and_continues_like_torch(name):
    torch = pytest.importorskip("torch")
    hyper = dict(lr=0.01, momentum=0.5) if name in ("SGD", "RMSprop") else dict(lr=0.01)
    tnet = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    topt = getattr(torch.optim, name)(tnet.parameters(), **hyper)

    def torch_step():
        topt.zero_grad()
        ((tnet(torch.tensor(X)) - torch.tensor(Y)) ** 2).mean().backward()
        topt.step()

    for _ in range(3):
        torch_step()
    net = make_mlp()
    net.load_state_dict({k: v.detach().numpy().copy() for k, v in tnet.state_dict().items()})
    opt = getattr(optim, name)(net.parameters(), lr=0.5)
    opt.load_state_dict(topt.state_dict())  # float tensor steps, foreach/fused switches
    assert opt.param_groups[0]["lr"] == 0.01
    torch_step()
    opt.zero_grad()
    mlp_loss(net).backward()
    opt.step()
    for p, tp in zip(net.parameters(), tnet.parameters()):
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-12, atol=1e-15)


def test_torch_adamw_state_is_refused_by_adam():
    torch = pytest.importorskip("torch")
    tparam = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    topt = torch.optim.AdamW([tparam], lr=0.01)
    tparam.grad = torch.ones(2, dtype=torch.float64)
    topt.step()
    opt = optim.Adam([nn.Parameter(mg.zeros(2, dtype="float64"))], lr=0.01)
    with pytest.raises(ValueError, match="decoupled_weight_decay=True .*AdamW.*cannot be loaded into Adam"):
        opt.load_state_dict(topt.state_dict())
