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


@pytest.mark.parametrize(
    "name",
    [
        "infogan_mnist",
        "cgan_mnist",
        "ssgan_mnist",
        "adversarial_loop",
        "bigan_mnist",
        "wgan_shapes",
        "dcgan_mnist",
        "rbm_mnist",
        "dbn_mnist",
        "vae_mnist",
        "naive_bayes",
        "interpolation",
    ],
)
def test_demo_flags_are_validated_by_argparse(name, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(f"demo_{name}", REPO / "demos" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit) as error:
        module.main(["--quick", "--out", str(tmp_path / "out"), "--seed", "-1"])
    assert error.value.code == 2 and "--seed" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def load_demo(name):
    spec = importlib.util.spec_from_file_location(f"demo_{name}", REPO / "demos" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def file_bytes(directory):
    return {path.relative_to(directory): path.read_bytes() for path in sorted(directory.rglob("*")) if path.is_file()}


RESUMABLE = ["bigan_mnist", "cgan_mnist", "infogan_mnist"]
NOT_RESUMABLE = [
    "adversarial_loop",
    "dbn_mnist",
    "dcgan_mnist",
    "interpolation",
    "rbm_mnist",
    "ssgan_mnist",
    "vae_mnist",
]


@pytest.mark.parametrize("name", RESUMABLE + NOT_RESUMABLE)
def test_demo_refuses_an_out_that_holds_a_run(name, tmp_path, capsys):
    """Before loading data or training, a demo stops at an --out holding a run (a fit run directory's files
    below it) and names the directory and the ways on; every file stays as it was."""
    out = tmp_path / "out"
    (out / "run").mkdir(parents=True)
    (out / "run" / "metrics.jsonl").write_text('{"step": 1, "loss": 0.5}\n')
    (out / "run" / "config.json").write_text('{"epochs": 1}\n')
    before = file_bytes(out)
    with pytest.raises(SystemExit) as error:
        load_demo(name).main(["--quick", "--out", str(out)])
    message = capsys.readouterr().err
    assert error.value.code == 2
    assert f"{out} already holds a run" in message and "--overwrite" in message
    assert ("--resume" in message) == (name in RESUMABLE)
    assert file_bytes(out) == before


@pytest.mark.parametrize("name", RESUMABLE + NOT_RESUMABLE)
def test_demo_help_says_whether_it_resumes(name, capsys):
    with pytest.raises(SystemExit) as error:
        load_demo(name).main(["--help"])
    shown = capsys.readouterr().out
    assert error.value.code == 0 and "--overwrite" in shown
    assert ("--resume" in shown) == (name in RESUMABLE)


def test_demo_run_twice_keeps_the_first_unless_overwrite_or_resume(tmp_path, capsys):
    """A second cgan --quick run into the same --out refuses and leaves the first run byte-identical;
    --overwrite runs it again (same seed: the same metrics), --resume continues the finished run."""
    pytest.importorskip("matplotlib")
    try:
        import minigan.data as data

        data.load("mnist5k")
    except (ModuleNotFoundError, FileNotFoundError) as error:
        pytest.skip(f"mnist5k unavailable: {error}")
    demo = load_demo("cgan_mnist")
    argv = ["--quick", "--out", str(tmp_path), "--no-progress"]
    demo.main(argv)
    first = file_bytes(tmp_path)
    assert pathlib.Path("run/checkpoint.safetensors") in first
    capsys.readouterr()
    with pytest.raises(SystemExit) as error:
        demo.main(argv)
    assert error.value.code == 2 and str(tmp_path) in capsys.readouterr().err
    assert file_bytes(tmp_path) == first
    (tmp_path / "run" / "metrics.jsonl").write_text("")  # overwrite must write it again
    demo.main(argv + ["--overwrite"])
    assert losses((tmp_path / "run" / "metrics.jsonl").read_bytes()) == losses(first[pathlib.Path("run/metrics.jsonl")])
    demo.main(argv + ["--resume"])  # nothing left to train: the run stays as it was
    assert losses((tmp_path / "run" / "metrics.jsonl").read_bytes()) == losses(first[pathlib.Path("run/metrics.jsonl")])


def losses(metrics_jsonl):
    """The metrics log's records without their wall-clock times (which differ between equal runs)."""
    records = [json.loads(line) for line in metrics_jsonl.decode().splitlines()]
    assert records
    return [{key: value for key, value in record.items() if "time" not in key} for record in records]
