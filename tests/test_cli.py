"""The ``minigan`` command, in-process with tiny settings: train / resume / sample / evaluate, the run
directory rules as usage errors, every bad flag value a usage error (exit 2, no traceback; fuzzed with
hypothesis), demo --quick, info."""

import json
import math
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigan as mg
from minigan import cli

TINY = [
    "--data",
    "shapes",
    "--batch-size",
    "4",
    "--width",
    "2",
    "--n-per-class",
    "4",
    "--n-critic",
    "1",
    "--latent-dim",
    "8",
    "--checkpoint-every",
    "1",
    "--no-progress",
]


def _finite_numbers(value):
    if isinstance(value, dict):
        return all(_finite_numbers(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite_numbers(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return True


def usage_error(argv, capsys):
    """Run the command; assert it exits with status 2 and a usage message, no traceback; return stderr."""
    with pytest.raises(SystemExit) as caught:
        cli.main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "Traceback" not in err
    return err


def test_demo_quick_writes_figures_and_a_finite_report(tmp_path):
    out = str(tmp_path / "demo")
    assert cli.main(["demo", "--quick", "--out", out, "--no-progress"]) == 0
    for name in (
        "report.md",
        "report.json",
        "scores_main.png",
        "scores_by_schedule.png",
        "scores_baseline_intensity.png",
        "losses_2ep.png",
    ):
        assert os.path.getsize(os.path.join(out, name)) > 0, name
    with open(os.path.join(out, "report.json")) as file:
        report = json.load(file)["results"]
    assert _finite_numbers(report)
    summary = report["runs"]["2ep"]["summary"]
    assert summary["pairs"] == 45 and len(summary["noise_only"]) == 3
    assert len(report["rank_correlation"]) == 1
    assert "mean pixel intensity" in report["baselines"]


def test_train_resume_sample_and_evaluate(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert cli.main(["train", "wgan-gp", "--out", out, "--epochs", "1"] + TINY) == 0
    assert cli.main(["train", "wgan-gp", "--out", out, "--epochs", "2", "--resume"] + TINY) == 0  # one more epoch
    with open(os.path.join(out, "config.json")) as file:
        config = json.load(file)
    assert config["epochs"] == 2 and config["family"] == "wgan-gp" and config["width"] == 2
    with open(os.path.join(out, "metrics.jsonl")) as file:
        records = [json.loads(line) for line in file]
    assert [r["step"] for r in records if "event" not in r] == [1, 2, 3, 4]
    assert [(r["setting"], r["from"], r["to"]) for r in records if "event" in r] == [("epochs", 1, 2)]
    for name in ("losses.png", "samples_epoch_000.png", "samples_epoch_002.png"):
        assert os.path.exists(os.path.join(out, name)), name
    npy = str(tmp_path / "samples.npy")
    assert cli.main(["sample", "--run", out, "--n", "5", "--out", str(tmp_path / "samples.png"), "--npy", npy]) == 0
    images = np.load(npy)
    assert images.shape == (5, 3, 64, 64) and np.isfinite(images).all()
    capsys.readouterr()
    assert cli.main(["evaluate", "--run", out]) == 0
    printed = json.loads(capsys.readouterr().out)
    with open(os.path.join(out, "evaluation.json")) as file:
        assert json.load(file) == printed
    assert printed["step"] == 4 and printed["pairs"] == 45 and 0 <= printed["pairs_auc_ge_0.9"] <= 45
    assert 0.5 <= printed["min_auc"] <= 1.0


def test_sample_draws_from_the_trained_generator(tmp_path):
    out = str(tmp_path / "run")
    assert cli.main(["train", "wgan-gp", "--out", out, "--epochs", "1", "--sample-epochs"] + TINY) == 0
    a, b = str(tmp_path / "a.npy"), str(tmp_path / "b.npy")
    for path in (a, b):
        assert (
            cli.main(
                ["sample", "--run", out, "--n", "3", "--seed", "4", "--out", str(tmp_path / "s.png"), "--npy", path]
            )
            == 0
        )
    from minigan.models import WGANGenerator

    state = mg.load(os.path.join(out, "checkpoint.safetensors"))
    generator = WGANGenerator(latent_dim=8, width=2)
    generator.load_state_dict(state["trainable"]["generator"])
    generator.eval()
    mg.manual_seed(4)
    with mg.no_grad():
        expected = generator(mg.randn(3, 8)).numpy()
    assert np.array_equal(np.load(a), np.load(b)) and np.array_equal(np.load(a), expected)


def test_a_run_directory_is_never_clobbered(tmp_path, capsys):
    run = tmp_path / "run"
    out = str(run)
    assert cli.main(["train", "wgan-gp", "--out", out, "--epochs", "1", "--sample-epochs"] + TINY) == 0
    before = {name: (run / name).read_bytes() for name in os.listdir(out)}
    err = usage_error(["train", "wgan-gp", "--out", out, "--epochs", "1"] + TINY, capsys)
    assert "--resume" in err and "--overwrite" in err
    assert {name: (run / name).read_bytes() for name in os.listdir(out)} == before
    err = usage_error(
        ["train", "wgan-gp", "--out", out, "--epochs", "1", "--resume"] + TINY + ["--lr", "0.001", "--batch-size", "2"],
        capsys,
    )
    assert "lr: 0.0001 in the run, 0.001 now" in err and "batch_size" in err
    usage_error(["train", "wgan-gp", "--out", out, "--resume", "--overwrite"] + TINY, capsys)
    assert (
        cli.main(
            ["train", "wgan-gp", "--out", out, "--epochs", "1", "--overwrite", "--seed", "3", "--sample-epochs"] + TINY
        )
        == 0
    )
    assert json.loads((run / "config.json").read_text())["seed"] == 3


def test_a_gpu_this_machine_cannot_use_is_a_usage_error(tmp_path, capsys):
    import minigan as mg

    try:
        mg.zeros(1, device="cuda:7")
    except (RuntimeError, ImportError, ValueError):
        pass
    else:
        pytest.skip("this machine has a usable cuda:7")
    assert "--device cuda:7" in usage_error(
        ["train", "wgan-gp", "--out", str(tmp_path / "run"), "--device", "cuda:7"] + TINY, capsys
    )
    assert not os.path.exists(tmp_path / "run")
    assert "--device cuda:7" in usage_error(["sample", "--run", str(tmp_path), "--device", "cuda:7"], capsys)


def test_out_naming_a_file_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "a_file"
    path.write_text("keep me")
    assert "not a directory" in usage_error(["train", "wgan-gp", "--out", str(path)] + TINY, capsys)
    assert path.read_text() == "keep me"


@pytest.mark.parametrize(
    "argv, words",
    [
        (["train", "wgan-gp", "--n-per-class", "1", "--batch-size", "4"], "larger than the 2 training examples"),
        (["train", "wgan-gp", "--epochs", "2", "--sample-epochs", "3"], "after the last epoch"),
        (["sample", "--run", "{tmp}/nowhere"], "no checkpoint"),
        (["sample", "--run", "{tmp}", "--out", "{tmp}/no/dir/samples.png"], "does not exist"),
    ],
)
def test_usage_errors_found_after_parsing(argv, words, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if argv[0] == "train":
        argv += ["--out", str(tmp_path / "run"), "--width", "2", "--no-progress"]
    assert words in usage_error(argv, capsys)
    assert not os.path.exists(tmp_path / "run" / "metrics.jsonl")


def test_sample_refuses_a_file_that_is_not_a_run_checkpoint(tmp_path, capsys):
    plain = str(tmp_path / "weights.safetensors")
    mg.save({"w": mg.randn(2, 2)}, plain)
    assert "not the checkpoint of a run" in usage_error(["sample", "--checkpoint", plain], capsys)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    assert "cannot read" in usage_error(["evaluate", "--checkpoint", str(junk)], capsys)


BAD_VALUES = {  # flag -> values the parser must refuse
    "--n-critic": ["0", "-1", "2.5", "x"],
    "--checkpoint-every": ["0", "-1"],
    "--epochs": ["0", "-3", ""],
    "--width": ["0", "-2", "1e3"],
    "--latent-dim": ["0"],
    "--lambda-gp": ["-10", "nan", "inf", "ten"],
    "--seed": ["-1", str(2**32), "0x1"],
    "--batch-size": ["0", "-8"],
    "--lr": ["0", "-1e-4", "nan"],
    "--n-per-class": ["0"],
    "--device": ["gpu", "cuda:x", "cpu:1"],
    "--data": ["mnist"],
    "--out": ["", "{tmp}/no/such/dir"],
}
OTHER_FAMILIES_BAD_VALUES = [
    ("gan", "--generator-loss", "hinge"),
    ("gan", "--d-steps", "0"),
    ("gan", "--beta1", "1"),
    ("gan", "--beta1", "-0.1"),
    ("gan", "--hidden", "0"),
    ("gan", "--n-train", "9"),
    ("gan", "--n-train", "4001"),
    ("dcgan", "--width", "0"),
    ("dcgan", "--lr", "-2e-4"),
    ("wgan-clip", "--clip-value", "0"),
    ("wgan-clip", "--clip-value", "-0.01"),
    ("wgan-clip", "--n-critic", "0"),
    ("wgan-clip", "--network", "resnet"),
]


@pytest.mark.parametrize("flag, value", [(f, v) for f, values in BAD_VALUES.items() for v in values])
def test_every_bad_flag_value_is_a_usage_error(flag, value, tmp_path, capsys):
    value = value.replace("{tmp}", str(tmp_path))
    err = usage_error(["train", "wgan-gp", "--out", str(tmp_path / "run"), f"{flag}={value}"], capsys)
    assert flag in err
    assert not os.path.exists(tmp_path / "run")


@pytest.mark.parametrize("family, flag, value", OTHER_FAMILIES_BAD_VALUES)
def test_every_familys_bad_flag_values_are_usage_errors(family, flag, value, tmp_path, capsys):
    assert flag in usage_error(["train", family, "--out", str(tmp_path / "run"), flag, value], capsys)
    assert not os.path.exists(tmp_path / "run")


@pytest.mark.parametrize(
    "argv",
    [
        ["sample", "--run", "r", "--n", "0"],
        ["sample", "--run", "r", "--n", "-5"],
        ["sample", "--run", "r", "--seed", "-1"],
        ["sample"],
        ["sample", "--run", "r", "--checkpoint", "c"],
        ["evaluate"],
        ["demo", "--epochs", "0"],
        ["train"],
        ["train", "no-such-family"],
    ],
)
def test_bad_sample_evaluate_and_demo_arguments_are_usage_errors(argv, capsys):
    usage_error(argv, capsys)


FLAGS = [
    "--n-critic",
    "--checkpoint-every",
    "--epochs",
    "--width",
    "--latent-dim",
    "--batch-size",
    "--n-per-class",
    "--seed",
    "--lambda-gp",
    "--lr",
]


@given(
    flag=st.sampled_from(FLAGS),
    value=st.one_of(
        st.integers(max_value=0).map(str),
        st.text(min_size=1, max_size=6),
        st.sampled_from(["nan", "-inf", "inf", "1e999", "-0.5", "  "]),
    ),
)
def test_fuzzed_flag_values_give_usage_errors_or_parse(flag, value, tmp_path_factory):
    """Any value: either the parser accepts it (a valid setting) or it exits 2 with a usage message; never a
    traceback. Integer flags other than --seed refuse 0 and below; the float flags refuse negatives."""
    import contextlib
    import io

    parser = cli.build_parser()
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            args = parser.parse_args(["train", "wgan-gp", "--out", "unused", f"{flag}={value}"])
        except SystemExit as exit_:
            assert exit_.code == 2 and "usage:" in err.getvalue() and flag in err.getvalue()
            return
    parsed = getattr(args, flag[2:].replace("-", "_"))
    if flag == "--seed":
        assert 0 <= parsed < 2**32
    elif flag in ("--lambda-gp",):
        assert math.isfinite(parsed) and parsed >= 0
    elif flag == "--lr":
        assert math.isfinite(parsed) and parsed > 0
    else:
        assert isinstance(parsed, int) and parsed >= 1


@pytest.mark.parametrize(
    "family, flags",
    [
        ("gan", ["--hidden", "8", "--latent-dim", "4"]),
        ("dcgan", ["--width", "2", "--latent-dim", "4"]),
        ("wgan-clip", ["--hidden", "8", "--latent-dim", "4", "--n-critic", "2"]),
    ],
)
def test_every_gan_family_trains_resumes_and_samples_from_the_command_line(family, flags, tmp_path):
    out = str(tmp_path / family)
    common = ["--out", out, "--n-train", "20", "--batch-size", "10", "--checkpoint-every", "1", "--no-progress"]
    assert cli.main(["train", family, "--epochs", "1"] + common + flags) == 0
    assert cli.main(["train", family, "--epochs", "2", "--resume"] + common + flags) == 0
    with open(os.path.join(out, "config.json")) as file:
        config = json.load(file)
    assert config["family"] == family and config["epochs"] == 2 and config["n_train"] == 20
    npy = str(tmp_path / "samples.npy")
    assert cli.main(["sample", "--run", out, "--n", "4", "--out", str(tmp_path / "s.png"), "--npy", npy]) == 0
    images = np.load(npy)
    assert images.shape == (4, 1, 28, 28) and images.min() >= -1 and images.max() <= 1


def test_info_prints_the_backend(capsys):
    assert cli.main(["info"]) == 0
    assert "numpy" in capsys.readouterr().out


def _family_options():
    """(family, option) for every flag of every family that takes a value (argparse keeps a parser's
    actions in the private ``_actions``; a test may read it)."""
    import argparse

    from minigan.trainers import FAMILIES

    pairs = []
    for name, module in FAMILIES.items():
        parser = argparse.ArgumentParser()
        cli._add_run_arguments(parser)
        module.add_arguments(parser)
        pairs += [
            (name, action.option_strings[-1])
            for action in parser._actions
            if action.option_strings and action.nargs != 0 and action.dest not in ("help", "out")
        ]
    return pairs


@given(
    option=st.sampled_from(_family_options()),
    value=st.one_of(
        st.integers(min_value=-(10**6), max_value=10**6).map(str),
        st.text(max_size=8),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
    ),
)
def test_any_value_of_any_familys_flag_parses_or_is_a_usage_error(option, value):
    """Every family's every flag (including families added later): a value parses, or the parser exits 2
    with a usage message naming the flag; never another exception."""
    import contextlib
    import io

    family, flag = option
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            cli.build_parser().parse_args(["train", family, "--out", "unused", f"{flag}={value}"])
        except SystemExit as exit_:
            assert exit_.code == 2 and "usage:" in err.getvalue() and flag in err.getvalue()
