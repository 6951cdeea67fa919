"""DBN (source 003): greedy layer shapes and data flow, fine-tuning lowers the loss, the pretrained classifier
and the unrolled autoencoder are initialised from the stack (decoder tied to the encoder), and the demo's
--quick run."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigan as mg
from minigan import autograd
from minigan.data import DataLoader
from minigan.models import DBN, DBNClassifier, DeepAutoencoder
from minigan.trainers.dbn import DBNTrainer
from minigan.trainers.rbm import RBMTrainer
from minigan.trainers.supervised import AutoencoderTrainer, ClassifierTrainer

REPO = Path(__file__).resolve().parents[1]


def prototypes_data(n=240, d=24, seed=0):
    """Three binary prototypes with 5% flipped bits; labels are the prototype index."""
    rng = np.random.default_rng(seed)
    protos = (rng.random((3, d)) < 0.5).astype(np.float32)
    y = rng.integers(0, 3, n)
    x = np.abs(protos[y] - (rng.random((n, d)) < 0.05)).astype(np.float32)
    return x, y


def run(trainer, loader, epochs):
    """The metrics of every step of ``epochs`` passes over ``loader`` (what fit does, without the files)."""
    return [trainer.train_step(batch) for _ in range(epochs) for batch in loader]


def pretrain(dbn, x, epochs, batch_size=20, lr=0.1, layer_lrs=None):
    """Greedy layer-wise CD-1, as demos/dbn_mnist.py: RBM k on the mean activations of the frozen RBM k-1."""
    data = x
    for k, rbm in enumerate(dbn.rbms):
        run(
            RBMTrainer(rbm, lr=(layer_lrs or {}).get(k, lr)),
            DataLoader(data, batch_size=batch_size, shuffle=True, seed=0),
            epochs,
        )
        data = rbm.hidden_mean(data)


def test_greedy_pretraining_shapes_and_data_flow():
    x, y = prototypes_data()
    mg.manual_seed(0)
    dbn = DBN((24, 12, 6))
    trainer = DBNTrainer(dbn, pretrain_steps=24, num_classes=3, lr=0.1, binarize_input=False)
    loader = DataLoader(x, y, batch_size=20, shuffle=True, seed=0)  # 12 batches
    layers = [m["layer"] for m in run(trainer, loader, 5)]
    assert layers == [0.0] * 24 + [1.0] * 24 + [2.0] * 12 and trainer.phase == "finetune"
    assert [(r.n_visible, r.n_hidden) for r in dbn.rbms] == [(24, 12), (12, 6)]
    assert [r.W.shape for r in dbn.rbms] == [(24, 12), (12, 6)]
    top = dbn.transform(x)
    assert top.shape == (240, 6) and np.all((top > 0) & (top < 1))
    # RBM 2 was trained on RBM 1's hidden probabilities, and RBM 1 was frozen meanwhile: retraining RBM 2
    # alone on those probabilities from the same seed reproduces it exactly
    np.testing.assert_allclose(top, dbn.rbms[1].hidden_mean(dbn.rbms[0].hidden_mean(x)), rtol=1e-6)


def test_greedy_layer_reconstructs_its_own_input_better_after_training():
    x, _ = prototypes_data()
    mg.manual_seed(0)
    dbn = DBN((24, 12, 6))
    hidden = dbn.rbms[0].hidden_mean(x)
    mg.manual_seed(1)
    before = [dbn.rbms[0].reconstruction_error(x)]
    pretrain(dbn, x, epochs=10)
    mg.manual_seed(1)
    assert dbn.rbms[0].reconstruction_error(x) < 0.7 * before[0]
    assert not np.allclose(hidden, dbn.rbms[0].hidden_mean(x))


def test_classifier_is_initialised_from_the_stack_and_fine_tuning_lowers_the_loss():
    x, y = prototypes_data()
    mg.manual_seed(0)
    dbn = DBN((24, 12, 6))
    pretrain(dbn, x, epochs=20)  # (3 epochs leave the top layer class-blind)
    model = DBNClassifier.from_dbn(dbn, num_classes=3)
    for layer, rbm in zip(model.hidden, dbn.rbms):
        np.testing.assert_array_equal(layer.weight.numpy(), rbm.W.numpy().T)
        np.testing.assert_array_equal(layer.bias.numpy(), rbm.c.numpy())
    with autograd.no_grad():  # its hidden layers compute the DBN's up-pass
        h = mg.tensor(x)
        for layer in model.hidden:
            h = mg.functional.sigmoid(layer(h))
    np.testing.assert_allclose(h.numpy(), dbn.transform(x), rtol=1e-5, atol=1e-6)
    losses = [
        m["loss"]
        for m in run(ClassifierTrainer(model, lr=1e-2), DataLoader(x, y, batch_size=32, shuffle=True, seed=0), 15)
    ]
    assert np.mean(losses[-8:]) < 0.5 * np.mean(losses[:8])
    assert model.score(x, y) > 0.9


def test_unrolled_autoencoder_is_tied_at_init_and_fine_tuning_lowers_the_reconstruction_loss():
    x, _ = prototypes_data()
    mg.manual_seed(0)
    dbn = DBN((24, 12, 4), top_hidden="gaussian")
    pretrain(dbn, x, epochs=2, lr=0.05, layer_lrs={1: 0.005})
    assert dbn.rbms[-1].hidden == "gaussian"
    model = DeepAutoencoder.from_dbn(dbn)
    assert model.linear_code
    for enc, dec, rbm in zip(model.encoder, reversed(list(model.decoder)), dbn.rbms):
        np.testing.assert_array_equal(enc.weight.numpy(), rbm.W.numpy().T)  # (H, D)
        np.testing.assert_array_equal(dec.weight.numpy(), enc.weight.numpy().T)  # tied: W and W^T
        np.testing.assert_array_equal(dec.bias.numpy(), rbm.b.numpy())
    with autograd.no_grad():
        code = model.encode(mg.tensor(x)).numpy()
    np.testing.assert_allclose(code, dbn.transform(x), rtol=1e-5, atol=1e-5)  # linear code = E[h | v]
    before = model.loss(x).item()
    losses = [
        m["loss"]
        for m in run(AutoencoderTrainer(model, lr=1e-2), DataLoader(x, batch_size=32, shuffle=True, seed=0), 30)
    ]
    assert model.loss(x).item() < 0.7 * before and math.isfinite(losses[-1])
    # fine-tuning unties the decoder
    assert not np.array_equal(model.decoder[-1].weight.numpy(), model.encoder[0].weight.numpy().T)
    assert model.reconstruct(x).shape == x.shape


def test_dbn_demo_quick_writes_a_finite_report(tmp_path):
    command = [sys.executable, str(REPO / "demos" / "dbn_mnist.py"), "--quick", "--out", str(tmp_path)]
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "NUMBA_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=environment, timeout=120)
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "report.json").read_text())["results"]
    assert len(results["accuracy"]) == 4 and all(math.isfinite(v) and 0 <= v <= 1 for v in results["accuracy"].values())
    assert len(results["reconstruction"]) == 5
    assert all(math.isfinite(v) and v >= 0 for v in results["reconstruction"].values())
    assert results["decoder_tied_at_init"] is True
    for name in ("reconstructions.png", "dbn_filters_layer1.png", "finetuning_curves.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- the DBN trainer's phases, exact resume through fit, the command line ------------------------------------


def test_dbn_trainer_resumes_exactly_across_its_phases(tmp_path):
    """4 steps per RBM, then fine-tuning: killed in RBM 2's phase (step 7, after the checkpoint at 6), resumed
    into it, then on through the switch to the classifier; and killed after the switch, resumed there."""
    from trainer_contract import assert_resumes_exactly

    x, y = prototypes_data(n=24)

    def build():
        return DBNTrainer(DBN((24, 6, 4)), pretrain_steps=4, num_classes=3, lr=0.1)

    full, _ = assert_resumes_exactly(
        build, (x, y), tmp_path / "pretraining", epochs=3, batch_size=4, kill_at=7, checkpoint_every=6
    )
    assert full.phase == "finetune" and full.classifier is not None and full.step == 18
    assert_resumes_exactly(
        build, (x, y), tmp_path / "finetuning", epochs=3, batch_size=4, kill_at=13, checkpoint_every=6
    )
    trainer = build()
    with pytest.raises(ValueError, match="should not hold a classifier"):
        trainer.load_state_dict(dict(full.state_dict(), step=5))


def test_autoencoder_trainer_resumes_exactly(tmp_path):
    from trainer_contract import assert_resumes_exactly

    x, _ = prototypes_data(n=20)
    assert_resumes_exactly(lambda: AutoencoderTrainer(DeepAutoencoder((24, 8, 3)), lr=1e-2), x, tmp_path, kill_at=5)


def test_minigan_train_sample_and_evaluate_a_dbn(tmp_path):
    from minigan.cli import main

    run = str(tmp_path / "dbn")
    assert (
        main(
            [
                "train",
                "dbn",
                "--out",
                run,
                "--hidden",
                "8",
                "--pretrain-epochs",
                "1",
                "--epochs",
                "2",
                "--batch-size",
                "500",
                "--no-progress",
                "--sample-epochs",
            ]
        )
        == 0
    )
    state = mg.load(os.path.join(run, "checkpoint.safetensors"))
    assert state["step"] == 16 and state["trainable"]["phase"] == "finetune"
    assert main(["evaluate", "--run", run]) == 0
    assert 0 <= json.loads((tmp_path / "dbn" / "evaluation.json").read_text())["accuracy"] <= 1
    assert main(["sample", "--run", run, "--n", "4"]) == 0
    run = str(tmp_path / "ae")
    assert (
        main(
            [
                "train",
                "autoencoder",
                "--out",
                run,
                "--sizes",
                "8",
                "2",
                "--epochs",
                "1",
                "--batch-size",
                "1000",
                "--no-progress",
            ]
        )
        == 0
    )
    assert main(["evaluate", "--run", run]) == 0
    assert json.loads((tmp_path / "ae" / "evaluation.json").read_text())["squared_error"] > 0
