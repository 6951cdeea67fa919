"""minigan.interop: foreign arrays in, optimizer states both ways between minigan and PyTorch."""

import numpy as np
import pytest

import minigan as mg
from minigan import interop, nn, optim

torch = pytest.importorskip("torch")


def test_as_array_reads_torch_tensors_without_a_copy_and_detaches_graph_tensors():
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    a = interop.as_array(t)
    assert isinstance(a, np.ndarray) and a.dtype == np.float32 and a.tolist() == t.tolist()
    t[0, 0] = 42.0
    assert a[0, 0] == 42.0  # shared memory through DLPack
    w = torch.ones(3, requires_grad=True) * 2
    assert interop.as_array(w).tolist() == [2.0, 2.0, 2.0]
    assert interop.as_array(mg.tensor([1.0])).tolist() == [1.0]
    with pytest.raises(TypeError, match="cannot read an array out of a builtins.object"):
        interop.as_array(object())


def _twins():
    ours = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)).double()
    for key, value in ours.state_dict().items():
        theirs.state_dict()[key].copy_(torch.from_numpy(value.numpy()))
    return ours, theirs


def _step(model, optimizer, x, framework):
    optimizer.zero_grad()
    out = model(mg.tensor(x) if framework == "mg" else torch.from_numpy(x))
    (out**2).sum().backward()
    optimizer.step()


@pytest.mark.parametrize("kind", ["Adam", "AdamW", "SGD", "RMSprop"])
def test_a_run_moves_from_minigan_to_pytorch_through_a_checkpoint_file_and_continues_identically(kind, tmp_path):
    settings = {
        "Adam": dict(lr=1e-2, betas=(0.5, 0.9)),
        "AdamW": dict(lr=1e-2, weight_decay=0.1),
        "SGD": dict(lr=1e-2, momentum=0.9),
        "RMSprop": dict(lr=1e-3, momentum=0.5),
    }[kind]
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((5, 4)) for _ in range(6)]
    ours, reference = _twins()
    opt = getattr(optim, kind)(ours.parameters(), **settings)
    ref_opt = getattr(torch.optim, kind)(reference.parameters(), **settings)
    for x in xs[:3]:
        _step(ours, opt, x, "mg")
        _step(reference, ref_opt, x, "torch")
    mg.save({"model": ours.state_dict(), "opt": opt.state_dict()}, str(tmp_path / "run.safetensors"))

    state = mg.load(str(tmp_path / "run.safetensors"))
    moved = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)).double()
    moved.load_state_dict(interop.to_torch(state["model"]))
    moved_opt = getattr(torch.optim, kind)(moved.parameters(), **settings)
    moved_opt.load_state_dict(interop.optimizer_state_to_torch(state["opt"]))
    for x in xs[3:]:
        _step(moved, moved_opt, x, "torch")
        _step(reference, ref_opt, x, "torch")
    for key, value in reference.state_dict().items():
        np.testing.assert_allclose(moved.state_dict()[key].numpy(), value.numpy(), rtol=1e-12, atol=1e-14, err_msg=key)


def test_a_pytorch_run_moves_to_minigan_and_continues_identically():
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((5, 4)) for _ in range(6)]
    ours, reference = _twins()
    ref_opt = torch.optim.Adam(reference.parameters(), lr=1e-2)
    for x in xs[:3]:
        _step(reference, ref_opt, x, "torch")
    state = interop.from_foreign({"model": reference.state_dict(), "opt": ref_opt.state_dict()})
    ours.load_state_dict(state["model"])
    opt = optim.Adam(ours.parameters(), lr=1e-2)
    opt.load_state_dict(state["opt"])
    for x in xs[3:]:
        _step(ours, opt, x, "mg")
        _step(reference, ref_opt, x, "torch")
    for key, value in reference.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-12, atol=1e-14, err_msg=key)
