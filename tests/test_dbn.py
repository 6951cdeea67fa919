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

import minigan as mg
from minigan import autograd
from minigan.models import DBN, DBNClassifier, DeepAutoencoder

REPO = Path(__file__).resolve().parents[1]


def prototypes_data(n=240, d=24, seed=0):
    """Three binary prototypes with 5% flipped bits; labels are the prototype index."""
    rng = np.random.default_rng(seed)
    protos = (rng.random((3, d)) < 0.5).astype(np.float32)
    y = rng.integers(0, 3, n)
    x = np.abs(protos[y] - (rng.random((n, d)) < 0.05)).astype(np.float32)
    return x, y


def test_greedy_pretraining_shapes_and_data_flow():
    x, _ = prototypes_data()
    mg.manual_seed(0)
    dbn = DBN((24, 12, 6))
    histories = dbn.pretrain(x, epochs=2, batch_size=20, lr=0.1)
    assert [(r.n_visible, r.n_hidden) for r in dbn.rbms] == [(24, 12), (12, 6)]
    assert [r.W.shape for r in dbn.rbms] == [(24, 12), (12, 6)]
    assert len(histories) == 2 and all(len(h) == 2 for h in histories)
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
    dbn.pretrain(x, epochs=10, batch_size=20, lr=0.1)
    mg.manual_seed(1)
    assert dbn.rbms[0].reconstruction_error(x) < 0.7 * before[0]
    assert not np.allclose(hidden, dbn.rbms[0].hidden_mean(x))


def test_classifier_is_initialised_from_the_stack_and_fine_tuning_lowers_the_loss():
    x, y = prototypes_data()
    mg.manual_seed(0)
    dbn = DBN((24, 12, 6))
    dbn.pretrain(x, epochs=20, batch_size=20, lr=0.1)   # (3 epochs leave the top layer class-blind)
    model = DBNClassifier.from_dbn(dbn, num_classes=3)
    for layer, rbm in zip(model.hidden, dbn.rbms):
        np.testing.assert_array_equal(layer.weight.numpy(), rbm.W.numpy().T)
        np.testing.assert_array_equal(layer.bias.numpy(), rbm.c.numpy())
    with autograd.no_grad():             # its hidden layers compute the DBN's up-pass
        h = mg.tensor(x)
        for layer in model.hidden:
            h = mg.functional.sigmoid(layer(h))
    np.testing.assert_allclose(h.numpy(), dbn.transform(x), rtol=1e-5, atol=1e-6)
    losses = model.fit(x, y, epochs=15, lr=1e-2, batch_size=32)
    assert losses[-1] < 0.5 * losses[0]
    assert model.score(x, y) > 0.9


def test_unrolled_autoencoder_is_tied_at_init_and_fine_tuning_lowers_the_reconstruction_loss():
    x, _ = prototypes_data()
    mg.manual_seed(0)
    dbn = DBN((24, 12, 4), top_hidden="gaussian")
    dbn.pretrain(x, epochs=2, batch_size=20, lr=0.05, layer_options=[{}, {"lr": 0.005}])
    assert dbn.rbms[-1].hidden == "gaussian"
    model = DeepAutoencoder.from_dbn(dbn)
    assert model.linear_code
    for enc, dec, rbm in zip(model.encoder, reversed(list(model.decoder)), dbn.rbms):
        np.testing.assert_array_equal(enc.weight.numpy(), rbm.W.numpy().T)          # (H, D)
        np.testing.assert_array_equal(dec.weight.numpy(), enc.weight.numpy().T)     # tied: W and W^T
        np.testing.assert_array_equal(dec.bias.numpy(), rbm.b.numpy())
    with autograd.no_grad():
        code = model.encode(mg.tensor(x)).numpy()
    np.testing.assert_allclose(code, dbn.transform(x), rtol=1e-5, atol=1e-5)        # linear code = E[h | v]
    before = model.loss(x).item()
    losses = model.fit(x, epochs=30, lr=1e-2, batch_size=32)
    assert model.loss(x).item() < 0.7 * before and math.isfinite(losses[-1])
    # fine-tuning unties the decoder
    assert not np.array_equal(model.decoder[-1].weight.numpy(), model.encoder[0].weight.numpy().T)
    assert model.reconstruct(x).shape == x.shape


def test_dbn_demo_quick_writes_a_finite_report(tmp_path):
    command = [sys.executable, str(REPO / "demos" / "dbn_mnist.py"), "--quick", "--out", str(tmp_path)]
    environment = {**os.environ, "PYTHONPATH": str(REPO), "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                   "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=environment, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert all(math.isfinite(v) and 0 <= v <= 1 for v in report["accuracy"].values())
    assert all(math.isfinite(v) and v >= 0 for v in report["reconstruction"].values())
    assert report["decoder_tied_at_init"] is True
    for name in ("reconstructions.png", "dbn_filters_layer1.png", "finetuning_curves.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
