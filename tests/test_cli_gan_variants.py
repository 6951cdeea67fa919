"""`minigan train / sample / evaluate` for the conditional GAN, InfoGAN, the semi-supervised GAN and BiGAN on
their built-in data (a small stratified subset of mnist5k via --n-train, tiny networks), and argparse's usage
errors for their flags."""

import json
import types

import numpy as np
import pytest
from gan_data import bar_digits

import minigan as mg
from minigan.cli import main
from minigan.training import CHECKPOINT_NAME, read_run_config

TINY = {
    "cgan": ["--width", "2", "--latent-dim", "4"],
    "infogan": ["--width", "2", "--hidden", "8", "--noise-dim", "4"],
    "ssgan": ["--width", "2", "--hidden", "8", "--latent-dim", "4", "--labels", "10", "--labelled-batch", "8"],
    "bigan": ["--hidden", "8", "--latent-dim", "4"],
}


@pytest.fixture(autouse=True)
def needs_mnist5k():
    try:
        import minigan.data as data

        data.load("mnist5k")
    except (ModuleNotFoundError, FileNotFoundError) as error:
        pytest.skip(f"mnist5k unavailable: {error}")


@pytest.mark.parametrize("family", sorted(TINY))
def test_train_then_sample_on_the_built_in_data(family, tmp_path):
    run = tmp_path / "run"
    argv = [
        "train",
        family,
        "--out",
        str(run),
        "--epochs",
        "1",
        "--n-train",
        "80",
        "--batch-size",
        "32",
        "--no-progress",
        "--sample-epochs",
        *TINY[family],
    ]
    assert main(argv) == 0
    assert (run / CHECKPOINT_NAME).exists()
    config = read_run_config(str(run))
    assert config["family"] == family and config["n_train"] == 80 and config["batches_per_epoch"] == 2
    assert main(["sample", "--run", str(run), "--n", "4", "--out", str(tmp_path / "grid.png")]) == 0
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit) as refused:  # the run is never clobbered
        main(argv)
    assert refused.value.code == 2


def test_evaluate_the_semi_supervised_classifier_on_the_test_digits(tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "ssgan",
                "--out",
                str(run),
                "--epochs",
                "1",
                "--n-train",
                "80",
                "--batch-size",
                "32",
                "--no-progress",
                "--sample-epochs",
                *TINY["ssgan"],
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["evaluate", "--run", str(run)]) == 0
    result = json.loads((run / "evaluation.json").read_text())
    assert result["family"] == "ssgan" and result["step"] == 2 and result["chance"] == 0.1
    assert 0.0 <= result["test_accuracy"] <= 1.0
    assert json.loads(capsys.readouterr().out) == result


@pytest.mark.parametrize(
    "family, flag, value",
    [
        ("cgan", "--d-steps", "0"),
        ("cgan", "--lr", "-1"),
        ("cgan", "--n-train", "9"),
        ("cgan", "--n-train", "4001"),
        ("infogan", "--lambda-categorical", "-0.5"),
        ("infogan", "--categories", "1"),
        ("infogan", "--lr-d", "nan"),
        ("ssgan", "--labels", "5"),
        ("ssgan", "--generator-loss", "minimax"),
        ("ssgan", "--labelled-batch", "0"),
        ("ssgan", "--unsupervised-weight", "-1"),
        ("bigan", "--dropout", "1.5"),
        ("bigan", "--hidden", "0"),
        ("bigan", "--latent-dim", "x"),
    ],
)
def test_bad_flag_values_are_usage_errors(family, flag, value, tmp_path, capsys):
    with pytest.raises(SystemExit) as error:
        main(["train", family, "--out", str(tmp_path / "run"), flag, value])
    assert error.value.code == 2
    assert flag in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def digits(n=40, seed=0):
    """A tiny Dataset-like pair of bar digits in [0, 1]."""
    x, y = bar_digits(n, seed)
    return types.SimpleNamespace(x=(x + 1) / 2, y=y)


def test_evaluate_of_cgan_infogan_and_bigan_on_tiny_data():
    from minigan.models import (
        BiGANDiscriminator,
        BiGANEncoder,
        BiGANGenerator,
        ConditionalDCGANDiscriminator,
        ConditionalDCGANGenerator,
        InfoGANDiscriminator,
        InfoGANGenerator,
    )
    from minigan.trainers.bigan import BiGAN
    from minigan.trainers.conditional import ConditionalGAN
    from minigan.trainers.infogan import InfoGAN

    mg.manual_seed(0)
    train, test = digits(60), digits(30, seed=1)
    cgan = ConditionalGAN(ConditionalDCGANGenerator(4, 10, width=2), ConditionalDCGANDiscriminator(10, width=2))
    result = cgan.evaluate((train, test))
    assert result["judge_accuracy_on_real_test"] > 0.8  # bars are easy for the judge
    assert 0 <= result["judge_accuracy_on_G(z,y)"] <= 1 and result["chance"] == 0.1
    info = InfoGAN(InfoGANGenerator(4, 10, 2, width=2), InfoGANDiscriminator(10, 2, width=2, hidden=8))
    result = info.evaluate(train)
    assert 0 <= result["mutual_information_nats"] <= np.log(10) + 1e-9 and "correlation_c1_slant" in result
    bigan = BiGAN(BiGANEncoder(4, 8), BiGANGenerator(4, 8), BiGANDiscriminator(4, 8))
    result = bigan.evaluate((train, test), judge_epochs=5, probe_epochs=5)
    assert set(result) == {"judge_agrees_on_G(E(x))", "judge_on_real_x", "linear_probe_on_E(x)"}
    assert all(0 <= v <= 1 for v in result.values())
