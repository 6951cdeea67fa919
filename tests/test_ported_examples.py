"""pytorch/examples' dcgan, vae and mnist scripts (tests/ported/), written against minigan by changing their
import lines only, run a few steps on generated data; when PyTorch is installed the same scripts with
PyTorch's import lines run too, and the losses of every step agree.

For the comparison both runs draw the same random numbers: the initialisers the scripts reach
(``nn.init.kaiming_uniform_``/``uniform_``/``normal_``), ``randn``/``randn_like`` and dropout are replaced,
in both libraries, by draws from one seeded NumPy stream -- so the two runs start from the same weights and
see the same noise and the same dropout masks; everything else is each library's own code.
"""

import math
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

import minigan

PORTED = Path(__file__).parent / "ported"
# minigan's import lines -> PyTorch's (the only lines that differ between the two versions of a script)
TO_TORCH = {
    "import minigan as torch": "import torch",
    "import minigan.nn as nn": "import torch.nn as nn",
    "import minigan.optim as optim": "import torch.optim as optim",
    "import minigan.functional as F": "import torch.nn.functional as F",
    "from minigan import nn, optim": "from torch import nn, optim",
    "from minigan import functional as F": "from torch.nn import functional as F",
    "from minigan.lr_scheduler import StepLR": "from torch.optim.lr_scheduler import StepLR",
}
SCRIPTS = {
    "dcgan": (
        "dcgan_main.py",
        [
            "--dataset",
            "generated",
            "--batchSize",
            "4",
            "--nz",
            "16",
            "--ngf",
            "4",
            "--ndf",
            "4",
            "--niter",
            "1",
            "--numImages",
            "8",
            "--manualSeed",
            "3",
        ],
    ),
    "vae": ("vae_main.py", ["--batch-size", "32", "--epochs", "2", "--no-accel", "--n-train", "96", "--n-test", "64"]),
    "mnist": (
        "mnist_main.py",
        [
            "--batch-size",
            "16",
            "--test-batch-size",
            "32",
            "--epochs",
            "2",
            "--no-accel",
            "--n-train",
            "32",
            "--n-test",
            "32",
            "--log-interval",
            "1",
        ],
    ),
}


def torch_source(source):
    lines = source.splitlines()
    return "\n".join(TO_TORCH.get(line, line) for line in lines) + "\n"


class SharedDraws:
    """One seeded NumPy stream; each library's random functions are redirected to it."""

    def __init__(self, seed=0):
        self.rng = np.random.default_rng(seed)

    def normal(self, shape, mean=0.0, std=1.0):
        return (self.rng.standard_normal(tuple(shape)) * std + mean).astype(np.float32)

    def uniform(self, shape, low, high):
        return (self.rng.random(tuple(shape)) * (high - low) + low).astype(np.float32)

    def kaiming_bound(self, shape, a):
        fan_in = shape[1] * int(np.prod(shape[2:]))
        return math.sqrt(3.0) * math.sqrt(2.0 / (1 + a**2)) / math.sqrt(fan_in)


def _patch_minigan(monkeypatch, draws):
    import minigan.functional as F
    import minigan.nn as nn

    def fill(tensor, values):
        tensor.array[...] = values
        tensor._bump_version()
        return tensor

    monkeypatch.setattr(nn.init, "normal_", lambda t, mean=0.0, std=1.0: fill(t, draws.normal(t.shape, mean, std)))
    monkeypatch.setattr(nn.init, "uniform_", lambda t, a=0.0, b=1.0: fill(t, draws.uniform(t.shape, a, b)))
    monkeypatch.setattr(
        nn.init,
        "kaiming_uniform_",
        lambda t, a=0.0, **_: fill(
            t, draws.uniform(t.shape, -draws.kaiming_bound(t.shape, a), draws.kaiming_bound(t.shape, a))
        ),
    )
    monkeypatch.setattr(
        minigan,
        "randn",
        lambda *shape, device="cpu": minigan.tensor(draws.normal(shape[0] if isinstance(shape[0], tuple) else shape)),
    )
    monkeypatch.setattr(minigan, "randn_like", lambda t: minigan.tensor(draws.normal(t.shape)))

    def dropout(x, p=0.5, training=True):
        if not training:
            return x
        return x * minigan.tensor((draws.uniform(x.shape, 0, 1) >= p) / np.float32(1 - p))

    monkeypatch.setattr(F, "dropout", dropout)


def _patch_torch(monkeypatch, draws):
    import torch

    def fill(tensor, values):
        with torch.no_grad():
            tensor.copy_(torch.from_numpy(values))
        return tensor

    monkeypatch.setattr(
        torch.nn.init, "normal_", lambda t, mean=0.0, std=1.0: fill(t, draws.normal(t.shape, mean, std))
    )
    monkeypatch.setattr(torch.nn.init, "uniform_", lambda t, a=0.0, b=1.0: fill(t, draws.uniform(t.shape, a, b)))
    monkeypatch.setattr(
        torch.nn.init,
        "kaiming_uniform_",
        lambda t, a=0.0, **_: fill(
            t, draws.uniform(t.shape, -draws.kaiming_bound(t.shape, a), draws.kaiming_bound(t.shape, a))
        ),
    )
    monkeypatch.setattr(
        torch,
        "randn",
        lambda *shape, device="cpu": torch.from_numpy(draws.normal(shape[0] if isinstance(shape[0], tuple) else shape)),
    )
    monkeypatch.setattr(torch, "randn_like", lambda t: torch.from_numpy(draws.normal(t.shape)))

    def dropout(x, p=0.5, training=True, inplace=False):
        if not training:
            return x
        return x * torch.from_numpy((draws.uniform(x.shape, 0, 1) >= p) / np.float32(1 - p))

    monkeypatch.setattr(torch.nn.functional, "dropout", dropout)


def run_script(source, args, tmp_path, monkeypatch, name):
    script = tmp_path / name
    script.write_text(source)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(PORTED))
    monkeypatch.setattr(sys, "argv", [str(script)] + args)
    return runpy.run_path(str(script), run_name="__main__")["history"]


def flat(history):
    return np.array([v for entry in history for v in (entry if isinstance(entry, tuple) else (entry,))], float)


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_ported_script_runs_and_gives_pytorchs_losses(name, tmp_path, monkeypatch, capsys):
    """The minigan version runs (its printed log, its checkpoint); with PyTorch installed, the PyTorch version
    -- the same file with PyTorch's import lines -- gives the same losses, step by step."""
    file, args = SCRIPTS[name]
    source = (PORTED / file).read_text()
    (tmp_path / "ours").mkdir(), (tmp_path / "theirs").mkdir()
    _patch_minigan(monkeypatch, SharedDraws(0))
    ours = flat(run_script(source, args, tmp_path / "ours", monkeypatch, file))
    monkeypatch.undo()
    assert len(ours) >= 2 and np.isfinite(ours).all()
    printed = capsys.readouterr().out
    assert ("[0/1][1/2] Loss_D:" in printed) if name == "dcgan" else ("Train Epoch: 2" in printed)
    if name == "dcgan":
        saved = minigan.load(tmp_path / "ours" / "netG_epoch_0.pth")  # the script's checkpoint (safetensors)
        assert "main.0.weight" in saved and "main.1.running_mean" in saved

    torch = pytest.importorskip("torch")
    theirs_source = torch_source(source)
    changed = [(a, b) for a, b in zip(source.splitlines(), theirs_source.splitlines()) if a != b]
    assert changed and all(a.startswith(("import minigan", "from minigan")) for a, _ in changed)
    _patch_torch(monkeypatch, SharedDraws(0))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small layers: one thread is faster on a busy 2-core machine
    try:
        theirs = flat(run_script(theirs_source, args, tmp_path / "theirs", monkeypatch, file))
    finally:
        torch.set_num_threads(threads)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    if name == "dcgan":  # PyTorch's own checkpoint (a torch.save zip) loads into the ported script
        for network in ("netG", "netD"):
            path = tmp_path / "theirs" / f"{network}_epoch_0.pth"
            theirs_state, ours_state = torch.load(path, weights_only=True), minigan.load(path)
            assert list(ours_state) == list(theirs_state)
            for key, value in theirs_state.items():
                assert ours_state[key].numpy().tobytes() == value.numpy().tobytes()
