"""The compile helper (kernels/precompile.py): its list of workers is what a training step uses, and it starts
only when asked and useful."""

import os
import subprocess
import sys

import minigan_kernels as kernels
from kernels_common import HAS_NUMBA, ROOT, needs_cpu, needs_private_blas

if HAS_NUMBA:
    from minigan_kernels import precompile


_STEP_KERNELS = """
import numpy as np
import minigan_kernels as kernels
cpu = kernels.select('numpy')
from minigan_kernels import loops, precompile
f32 = np.float32
rng = np.random.default_rng(0)
def a(*shape):
    return rng.standard_normal(shape).astype(f32)
# The kernel calls of a DCGAN step on MNIST (batch 64), and two channels-last layers (16 channels, k3)
x1, x64, h128, g64 = a(64, 1, 28, 28), a(64, 64, 14, 14), a(64, 128, 7, 7), a(64, 64, 14, 14)
cpu.matmul(a(64, 100), a(100, 6272))
cpu.conv2d(x1, a(64, 1, 4, 4), 2, 1); cpu.conv2d(x64, a(128, 64, 4, 4), 2, 1)
cpu.conv_transpose2d(h128, a(128, 64, 4, 4), 2, 1); cpu.conv_transpose2d(g64, a(64, 1, 4, 4), 2, 1)
cpu.conv2d_weight(x1, g64, 4, 2, 1); cpu.conv2d_weight(x64, h128, 4, 2, 1)
y, mean, var, inv = cpu.batch_norm_forward(h128, 1e-5, a(128), a(128))
cpu.batch_norm_affine_backward(h128, h128, mean, inv, a(128)); cpu.channel_sum(h128)
cpu.leaky_relu_backward(g64, cpu.leaky_relu(x64, 0.2), 0.2)
p = a(100000); cpu.adam_update(p, a(100000), np.zeros_like(p), np.zeros_like(p), None, 0.5, 0.999, 1e-4, 0.9, 1e-8)
x16 = a(8, 16, 12, 12)
cpu.conv2d(x16, a(16, 16, 3, 3), 1, 1); cpu.conv_transpose2d(x16, a(16, 16, 3, 3), 1, 1)
cpu.conv2d_weight(x16, x16, 3, 1, 1)
compiled = [w.__name__ for w in [w for w, _ in precompile.helper_workers()] + [loops._run_parallel]
            if sum(w.stats.cache_misses.values())]
used = [w.__name__ for w, _ in precompile.helper_workers() if w.overloads]
print(len(used), len(precompile.missing_from_cache()), compiled)
"""


@needs_cpu
@needs_private_blas
def test_the_precompile_helper_leaves_nothing_for_a_training_step_to_compile(tmp_path):
    """kernels/precompile.py's helper, run alone on an empty Numba cache, compiles every worker of its list
    and the parallel driver of both argument lists; then a fresh process that makes a DCGAN step's kernel
    calls (and a channels-last layer's three calls) uses all thirteen workers and compiles none of them, nor the driver:
    the helper's float32 signatures are exactly the ones training uses.  (MINIGAN_PRECOMPILE=0 in both
    processes, so that no second helper runs.)"""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), MINIGAN_PRECOMPILE="0")
    missing = subprocess.run(
        [sys.executable, "-c", "from minigan_kernels import precompile; print(len(precompile.missing_from_cache()))"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert missing.strip() == "13"  # an empty cache: the helper's whole list
    done = subprocess.run(
        [sys.executable, "-m", "minigan_kernels.precompile"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout.splitlines()
    assert len(done) == 13 + 2, done  # thirteen workers, the driver for each argument list
    out = (
        subprocess.run(
            [sys.executable, "-c", _STEP_KERNELS],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        .stdout.strip()
        .split(maxsplit=2)
    )
    assert out == ["13", "0", "[]"]


@needs_cpu
def test_the_precompile_helper_starts_only_when_asked_and_useful(monkeypatch):
    """start_if_cold starts nothing when $MINIGAN_PRECOMPILE is 0, nor when no worker is missing from the
    cache (a warm cache); kernels.info() says which."""
    started = []
    monkeypatch.setattr(precompile.subprocess, "Popen", lambda *a, **k: started.append(a))
    monkeypatch.setattr(precompile, "_HELPER", None)
    monkeypatch.setattr(precompile, "_DECISION", precompile._DECISION)  # restored afterwards
    monkeypatch.setenv("MINIGAN_PRECOMPILE", "0")
    assert precompile.start_if_cold() is False
    assert kernels.info()["compile_helper"] == "off ($MINIGAN_PRECOMPILE=0)"
    monkeypatch.setenv("MINIGAN_PRECOMPILE", "1")
    monkeypatch.setattr(precompile, "_reason_not_to_start", lambda: None)  # as on a 2-CPU machine with the BLAS
    monkeypatch.setattr(precompile, "missing_from_cache", lambda: [])
    assert precompile.start_if_cold() is False
    assert precompile.describe().startswith("not needed")
    assert started == []
