"""The README's tour is code a newcomer pastes first: it must run, and do what its comments say."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_tour_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README.md has no python block"
    monkeypatch.chdir(tmp_path)  # the tour writes ckpt.safetensors
    namespace = {}
    exec(compile(blocks[0], "README.md (tour)", "exec"), namespace)
    assert namespace["y"].shape == (8, 16, 32, 32)
    assert namespace["w"].grad is not None and np.isfinite(namespace["w"].grad.numpy()).all()
    assert (tmp_path / "ckpt.safetensors").exists()
    import minigan as mg

    state = mg.load(tmp_path / "ckpt.safetensors")
    assert set(state["model"]) == {"0.weight", "0.bias", "2.weight", "2.bias"}
