"""Every GAN-family demo's --quick run finishes and writes a report with finite numbers (in-process, so the
kernels compile once for all of them), and the demos refuse a bad flag value before writing anything."""
import importlib.util
import json
import math
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
DEMOS = ["dcgan_mnist", "infogan_mnist", "cgan_mnist", "ssgan_mnist", "adversarial_loop", "bigan_mnist", "wgan_shapes"]


def finite_numbers(value):
    """Every int/float inside a JSON value (nested dicts and lists)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return []
    if isinstance(value, (int, float)):
        return [value]
    items = value.values() if isinstance(value, dict) else value
    return [number for item in items for number in finite_numbers(item)]


@pytest.mark.parametrize("name", DEMOS)
def test_demo_quick_writes_a_finite_report(name, tmp_path):
    pytest.importorskip("matplotlib")
    try:
        import minigan.data as data
        data.load("mnist5k")
    except (ModuleNotFoundError, FileNotFoundError) as error:
        pytest.skip(f"mnist5k unavailable: {error}")
    spec = importlib.util.spec_from_file_location(f"demo_{name}", REPO / "demos" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = ["--quick", "--out", str(tmp_path), "--no-progress"]
    module.main(argv)
    report = json.loads((tmp_path / "report.json").read_text())
    numbers = finite_numbers(report)
    assert numbers and all(math.isfinite(v) for v in numbers)
    assert (tmp_path / "report.md").read_text().startswith("#")
    pngs = list(tmp_path.glob("*.png"))
    assert pngs and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


@pytest.mark.parametrize("name", ["infogan_mnist", "cgan_mnist", "ssgan_mnist", "adversarial_loop", "bigan_mnist",
                                  "wgan_shapes", "dcgan_mnist", "rbm_mnist", "dbn_mnist", "vae_mnist", "naive_bayes",
                                  "interpolation"])
def test_demo_flags_are_validated_by_argparse(name, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(f"demo_{name}", REPO / "demos" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit) as error:
        module.main(["--quick", "--out", str(tmp_path / "out"), "--seed", "-1"])
    assert error.value.code == 2 and "--seed" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
