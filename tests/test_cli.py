"""The ``minigan`` command: train (with --resume), sample, demo --quick, info. In-process, tiny settings."""
import json
import math
import os

import numpy as np

from minigan import cli


def _finite_numbers(value):
    if isinstance(value, dict):
        return all(_finite_numbers(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite_numbers(v) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return True


def test_demo_quick_writes_figures_and_a_finite_report(tmp_path):
    out = str(tmp_path / "demo")
    assert cli.main(["demo", "--quick", "--out", out, "--no-progress"]) == 0
    for name in ("report.md", "report.json", "scores_main.png", "scores_by_schedule.png",
                 "scores_baseline_intensity.png", "losses_2ep.png"):
        assert os.path.getsize(os.path.join(out, name)) > 0, name
    with open(os.path.join(out, "report.json")) as file:
        report = json.load(file)
    assert _finite_numbers(report)
    summary = report["runs"]["2ep"]["summary"]
    assert summary["pairs"] == 45 and len(summary["noise_only"]) == 3
    assert len(report["rank_correlation"]) == 1
    assert "mean pixel intensity" in report["baselines"]


def test_train_resume_and_sample(tmp_path, capsys):
    out = str(tmp_path / "run")
    args = ["train", "wgan-gp", "--data", "shapes", "--epochs", "1", "--batch-size", "4", "--out", out,
            "--width", "2", "--n-per-class", "4", "--n-critic", "1", "--checkpoint-every", "1", "--no-progress"]
    assert cli.main(args) == 0
    assert cli.main(args[:5] + ["2"] + args[6:] + ["--resume"]) == 0     # one more epoch, from the checkpoint
    with open(os.path.join(out, "config.json")) as file:
        assert json.load(file)["steps"] == 4
    with open(os.path.join(out, "metrics.jsonl")) as file:
        assert [json.loads(line)["step"] for line in file] == [1, 2, 3, 4]
    assert os.path.exists(os.path.join(out, "losses.png"))
    npy = str(tmp_path / "samples.npy")
    assert cli.main(["sample", "--checkpoint", os.path.join(out, "checkpoint.safetensors"), "--n", "5",
                     "--out", str(tmp_path / "samples.png"), "--npy", npy]) == 0
    images = np.load(npy)
    assert images.shape == (5, 3, 64, 64) and np.isfinite(images).all()


def test_info_prints_the_backend(capsys):
    assert cli.main(["info"]) == 0
    assert "numpy" in capsys.readouterr().out
