"""Runs the CUDA kernel tests under Numba's CUDA simulator, in their own pytest process.

NUMBA_ENABLE_CUDASIM must be set before Numba is imported, and it replaces numba.cuda for the whole
process, so the simulator tests cannot share this process. This test starts one and requires that it
passes and actually ran tests (a run where everything skipped fails here)."""

import os
import re
import subprocess
import sys
from pathlib import Path

SIMULATED_TESTS = Path(__file__).with_name("test_kernels_cudasim.py")


def test_cuda_kernels_pass_under_the_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(SIMULATED_TESTS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-2000:]
    assert result.returncode == 0, f"simulator run failed: {summary}\n{result.stdout[-4000:]}"
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) > 0, f"no simulator test ran: {summary}"
