"""models.bigan: shapes, the D step lowers D's loss, the E/G step lowers the E/G loss, state_dict round trip,
and demos/bigan_mnist.py --quick writes finite numbers."""
import importlib.util
import json
import os
import types

import numpy as np

import minigan as mg
from minigan.models import BiGAN, BiGANDiscriminator, BiGANEncoder, BiGANGenerator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def small(latent_dim=8, hidden=32, seed=0, lr=1e-3):
    mg.manual_seed(seed)
    return BiGAN(BiGANEncoder(latent_dim, hidden), BiGANGenerator(latent_dim, hidden),
                 BiGANDiscriminator(latent_dim, hidden), lr=lr)


def bars(n=32, seed=0):
    """Vertical bars on -1 in [-1, 1], (n, 1, 28, 28)."""
    rng = np.random.default_rng(seed)
    x = -np.ones((n, 1, 28, 28), np.float32)
    for i, c in enumerate(rng.integers(0, 10, n)):
        x[i, 0, 4:24, 2 + 2 * c:4 + 2 * c] = 1
    return x


def test_shapes():
    model = small()
    x = bars(5)
    z = model.encoder(x)
    assert z.shape == (5, 8)
    assert model.encoder(x.reshape(5, 784)).shape == (5, 8)
    images = model.generator(mg.randn(5, 8))
    assert images.shape == (5, 784) and float(np.abs(images.numpy()).max()) <= 1
    assert model.discriminator(x, z).shape == (5,)
    assert model.encode(x).shape == (5, 8) and model.reconstruct(x).shape == (5, 1, 28, 28)


def test_discriminator_step_lowers_its_loss_on_a_fixed_batch():
    model = small(seed=1)
    model.optimizer_eg = types.SimpleNamespace(step=lambda: None)          # E, G frozen: D alone learns
    x, z = mg.tensor(bars(32).reshape(32, 784)), mg.randn(32, 8)

    def d_loss():
        with mg.no_grad():
            return model.losses(x, z)[0].item()

    before = d_loss()
    records = [model.train_step(x) for _ in range(5)]
    assert d_loss() < before - 0.1
    assert all(np.isfinite(list(r.values())).all() for r in records)


def test_encoder_generator_step_lowers_their_loss():
    model = small(seed=2)
    model.optimizer_d = types.SimpleNamespace(step=lambda: None)           # D frozen: E and G alone learn
    x, z = mg.tensor(bars(32).reshape(32, 784)), mg.randn(32, 8)

    def eg_loss():
        with mg.no_grad():
            return model.losses(x, z)[1].item()

    before = eg_loss()
    d_before = [p.numpy().copy() for p in model.d_params]
    for _ in range(10):
        model.train_step(x)
    assert eg_loss() < before - 0.05
    assert all(np.array_equal(a, p.numpy()) for a, p in zip(d_before, model.d_params))


def test_state_dict_round_trip():
    model = small(seed=3)
    x = bars(16)
    model.train_step(x)
    state = model.state_dict()
    other = small(seed=4)
    other.load_state_dict(state)
    assert other.step == 1
    np.testing.assert_allclose(other.encode(x), model.encode(x), rtol=1e-6, atol=1e-6)
    mg.manual_seed(5)
    a = model.train_step(x)
    mg.manual_seed(5)
    b = other.train_step(x)
    assert a == b


def test_demo_quick_writes_finite_numbers(tmp_path):
    spec = importlib.util.spec_from_file_location("bigan_mnist_demo", os.path.join(ROOT, "demos", "bigan_mnist.py"))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    demo.main(["--quick", "--out", str(tmp_path)])
    report = json.load(open(tmp_path / "report.json"))
    numbers = ([v for v in report["reconstruction"].values()] + list(report["linear_probe_test_accuracy"].values())
               + report["interpolation"]["fraction_judged_target"] + [report["final_epoch"]["d_loss"]])
    assert np.isfinite(numbers).all()
    for name in ("samples.png", "reconstructions.png", "pairs_bigan.png", "report.md"):
        assert (tmp_path / name).exists()
