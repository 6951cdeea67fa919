"""The fused Adam kernel (kernels/adam.py) against kernels.reference's adam_update over several steps."""

import numpy as np
import pytest

from minigan_kernels import reference
from kernels_common import needs_cpu
from kernels_common import cpu as kernel_cpu


@needs_cpu
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cpu_adam_update_matches_reference_over_steps(dtype, amsgrad, monkeypatch):
    """Five fused Numba Adam steps = five steps of the reference array code (m, v, v_max and p)."""
    cpu = kernel_cpu()
    monkeypatch.setattr("minigan_kernels.adam.ADAM_MIN", 0)
    rng = np.random.default_rng(2)
    states = []
    for _ in range(2):
        p = rng.standard_normal((7, 9)).astype(dtype)
        states.append([p.copy(), np.zeros_like(p), np.zeros_like(p), np.zeros_like(p) if amsgrad else None])
    states[1] = [a.copy() if a is not None else None for a in states[0]]
    for step in range(1, 6):
        grad = rng.standard_normal((9, 7)).astype(dtype).T if step % 2 else rng.standard_normal((7, 9)).astype(dtype)
        args = (0.9, 0.99, 1e-2 / (1 - 0.9**step), np.sqrt(1 - 0.99**step), 1e-8)
        cpu.adam_update(*states[0][:1], grad, *states[0][1:], *args)
        reference.adam_update(*states[1][:1], grad, *states[1][1:], *args)
        for name, a, b in zip(("p", "m", "v", "v_max"), states[0], states[1]):
            if a is not None:
                np.testing.assert_allclose(a, b, rtol=1e-6 if dtype == np.float32 else 1e-14, err_msg=name)
