"""Kernel selection (kernels/__init__.py) and the process set-up of the CPU kernels (kernels/runtime.py,
kernels/allocator.py): select's modes, no set-up on import, fork safety, and the malloc tuning."""

import importlib
import os
import subprocess
import sys

import pytest

import minigan_kernels as kernels
from kernels_common import ROOT, needs_cpu


def test_select_modes(monkeypatch):
    monkeypatch.setenv("MINIGAN_KERNELS", "reference")
    assert kernels.select("numpy") is kernels.reference
    assert kernels.select("numpy", mode="reference") is kernels.reference
    monkeypatch.setenv("MINIGAN_KERNELS", "bogus")
    with pytest.raises(ValueError):
        kernels.select("numpy")
    monkeypatch.delenv("MINIGAN_KERNELS")
    has_cpu = importlib.util.find_spec("numba") and importlib.util.find_spec("minigan_kernels.cpu")
    expected = "minigan_kernels.cpu" if has_cpu else "minigan_kernels.reference"
    assert kernels.select("numpy").__name__ == expected
    info = kernels.info()
    assert info["kernels"] == expected and "blas" in info


def test_select_in_fresh_process():
    """The environment variable is read by a process that starts with it (what a user does)."""
    code = "import minigan_kernels as kernels; print(kernels.select('numpy').__name__)"
    env = dict(os.environ, MINIGAN_KERNELS="reference")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "minigan_kernels.reference"


@needs_cpu
def test_importing_the_kernels_changes_nothing_until_select_sets_them_up():
    """No import-time side effects: a fresh process that imports every kernel module has Numba's threading
    layer, glibc's malloc and the compile helper untouched; kernels.select("numpy") then sets all of them up
    (kernels/runtime.py's configure), once."""
    code = (
        "import os, numba, minigan_kernels as kernels, minigan_kernels.cpu, minigan_kernels.allocator as al\n"
        "import minigan_kernels.precompile as pc\n"
        "print(os.environ.get('NUMBA_THREADING_LAYER'), al.describe(), pc.describe(), sep='|')\n"
        "kernels.select('numpy'); kernels.select('numpy')\n"
        "print(numba.config.THREADING_LAYER, al.describe(), pc.describe(), sep='|')\n"
    )
    env = dict(os.environ, MINIGAN_PRECOMPILE="0")
    env.pop("NUMBA_THREADING_LAYER", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    before, after = out.stdout.strip().splitlines()
    assert before == "None|glibc defaults (not tuned yet)|not asked yet"
    layer, allocator, helper = after.split("|")
    assert layer in ("default", "workqueue") and helper == "off ($MINIGAN_PRECOMPILE=0)"
    assert allocator != "glibc defaults (not tuned yet)"  # tune() ran (and says what it did)


@needs_cpu
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_kernels_work_in_a_forked_child():
    """After a parallel region in the parent, a forked child (multiprocessing's default on Linux) must not
    enter GNU OpenMP again (the child would be killed): kernels.cpu runs serially there, with the same
    results up to float32 rounding (the serial and parallel Winograd products block their rows differently;
    1e-5 of each output's scale, as in test_winograd_matches_reference)."""
    code = (
        "import os, numpy as np, minigan_kernels as kernels\n"
        "c = kernels.select('numpy')\n"
        "rng = np.random.default_rng(0)\n"
        "x = rng.standard_normal((64, 64, 14, 14)).astype(np.float32)\n"
        "W = rng.standard_normal((128, 64, 4, 4)).astype(np.float32)\n"
        "def work():\n"
        "    y = c.conv2d(x, W, 2, 1)\n"
        "    return [y, c.conv_transpose2d(y, W, 2, 1), c.conv2d_weight(x, y, 4, 2, 1), c.leaky_relu(x, 0.2),\n"
        "            c.batch_norm_forward(x, 1e-5)[0], c.matmul(x.reshape(-1, 196), x.reshape(-1, 196).T[:, :512])]\n"
        "parent = work()\n"
        "r, w = os.pipe()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    ok = all(np.allclose(a, b, rtol=1e-4, atol=1e-5 * np.abs(b).max()) for a, b in zip(work(), parent))\n"
        "    os.write(w, b'same' if ok else b'different')\n"
        "    os._exit(0)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "print(os.read(r, 100).decode(), status)\n"
    )
    try:  # the failure mode is a child that hangs or dies inside GNU OpenMP: bound the wait
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, cwd=ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail("the forked child hung (it entered the parent's OpenMP pool)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["same", "0"], (out.stdout, out.stderr)


_FAULTS_PROGRAM = """
import resource, numpy as np, minigan_kernels as kernels
kernels.select('numpy')
def round_of_arrays():                       # a training step's pattern: 20 live 1 MiB arrays, then all freed
    arrays = [np.ones(1 << 18, np.float32) for _ in range(20)]
    del arrays
round_of_arrays()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(9):
    round_of_arrays()
print(kernels.info()["allocator"])
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@needs_cpu
@pytest.mark.skipif(sys.platform != "linux" or __import__("platform").libc_ver()[0] != "glibc", reason="glibc only")
def test_malloc_tuning_keeps_freed_arrays_for_reuse():
    """Once kernels.select has set up the CPU kernels, freed megabyte arrays are reused without page faults (glibc tuned by
    kernels/allocator.py); with MINIGAN_MALLOC_TUNING=0 glibc's defaults unmap or trim them and every round
    faults its ~5 000 pages in again.  Each in a fresh process; the info line says which."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as thp:
            if "[always]" in thp.read():
                pytest.skip(
                    "transparent huge pages are 'always' here: 2 MiB pages back the heap, so page-fault counts "
                    "cannot tell the malloc settings apart"
                )
    except OSError:
        pass

    def run(**env):
        out = subprocess.run(
            [sys.executable, "-c", _FAULTS_PROGRAM],
            capture_output=True,
            text=True,
            check=True,
            env=dict(os.environ, **env),
            cwd=ROOT,
        )
        description, faults = out.stdout.strip().splitlines()
        return description, int(faults)

    tuned, default = run(), run(MINIGAN_MALLOC_TUNING="0")
    assert tuned[0].startswith("glibc malloc tuned") and "refused" not in tuned[0], tuned[0]
    assert default[0] == "glibc defaults (MINIGAN_MALLOC_TUNING=0)"
    assert default[1] > 9 * 20 * 256 // 2, default  # at least half the pages of every round
    assert tuned[1] < default[1] // 20, (tuned, default)


def test_nothing_imports_the_kernels_by_their_folder_name():
    """The kernels are installed as minigan_kernels (setup.cfg): `import kernels` works only in a checkout, and
    where a different, published package named `kernels` is installed it would import that one.  No module of
    minigan, the demos, the benchmarks or the tests imports them by the folder name."""
    import ast
    import pathlib

    offenders = []
    for folder in ("minigan", "demos", "bench", "tests"):
        for path in sorted(pathlib.Path(ROOT, folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module or ""]
                else:
                    continue
                offenders += [
                    f"{path.relative_to(ROOT)}:{node.lineno} imports {name}"
                    for name in names
                    if name.split(".")[0] == "kernels"
                ]
    for document in sorted(pathlib.Path(ROOT, "docs").glob("*.md")) + [pathlib.Path(ROOT, "README.md")]:
        for number, line in enumerate(document.read_text().splitlines(), 1):
            if line.lstrip().startswith(("import kernels", "from kernels ", "from kernels.")):
                offenders.append(f"{document.relative_to(ROOT)}:{number} {line.strip()}")
    assert not offenders, f"import minigan_kernels (the installed name of kernels/) instead: {offenders}"
    # in a checkout the same name reaches the folder: minigan_kernels is a symbolic link to kernels/
    assert pathlib.Path(ROOT, "minigan_kernels").resolve() == pathlib.Path(ROOT, "kernels").resolve()
