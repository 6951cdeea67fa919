"""minigan.training: the WGAN-GP update lowers the critic loss; resume equals an uninterrupted run, bit for
bit; a NaN stops the run naming the step and the loss and keeps the last good checkpoint. Tiny networks on
8x8 images, so the file runs in seconds; the 64x64 networks get a shape test."""
import json
import os

import numpy as np
import pytest

import minigan as mg
import minigan.functional as F
import minigan.nn as nn
from minigan import losses
from minigan.data import DataLoader
from minigan.models import WGANCritic, WGANGenerator
from minigan.training import METRICS_NAME, NonFiniteLossError, WGANGP, fit


class TinyGenerator(nn.Module):
    def __init__(self, latent_dim=4):
        super().__init__()
        self.latent_dim = latent_dim
        self.project = nn.Linear(latent_dim, 4 * 4 * 4)                    # (N, 4) -> (N, 64)
        self.bn = nn.BatchNorm2d(4)
        self.deconv = nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1)      # (N, 4, 4, 4) -> (N, 3, 8, 8)

    def forward(self, z):
        return self.deconv(F.relu(self.bn(F.reshape(self.project(z), (z.shape[0], 4, 4, 4)))))


class TinyCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 4, stride=2, padding=1)                 # (N, 3, 8, 8) -> (N, 4, 4, 4)
        self.head = nn.Linear(64, 1)                                        # (N, 64) -> (N, 1)

    def forward(self, x):
        return F.reshape(self.head(F.flatten(F.leaky_relu(self.conv(x), 0.2), 1)), (x.shape[0],))


def tiny_data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 3, 8, 8), np.float32)
    images[:, :, 2:6, 2:6] = 0.8
    return images + 0.05 * rng.standard_normal(images.shape).astype(np.float32)


def make_model(seed=0, lr=1e-4, n_critic=2):
    mg.manual_seed(seed)
    return WGANGP(TinyGenerator(), TinyCritic(), n_critic=n_critic, lambda_gp=10.0, lr=lr)


def test_wgan_gp_networks_have_the_documented_shapes():
    mg.manual_seed(0)
    G, D = WGANGenerator(latent_dim=16, width=2), WGANCritic(width=2)
    x = G(mg.randn(3, 16))
    assert x.shape == (3, 3, 64, 64)
    assert D(x).shape == (3,)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())      # no batch norm in the critic
    assert any(isinstance(m, nn.LayerNorm) for m in WGANCritic(width=2, norm="layer").modules())


def test_a_training_step_lowers_the_critic_loss():
    model = make_model(lr=1e-3, n_critic=5)
    real = mg.tensor(tiny_data(8))
    fake = model.sample(model.noise(8))                                     # fixed fakes and alphas
    alpha = np.linspace(0.1, 0.9, 8)

    def critic_loss():
        f = model.critic
        with mg.no_grad():
            return (losses.critic_loss_wasserstein(f(real), f(fake))
                    + losses.gradient_penalty(f, real, fake, alpha=alpha)).item()

    before = critic_loss()
    for _ in range(3):
        metrics = model.train_step(real)
    after = critic_loss()
    assert after < before - 0.05, (before, after)
    assert set(metrics) == {"critic_loss", "gp", "g_loss", "wasserstein"}
    assert all(np.isfinite(v) for v in metrics.values())


class Kill(Exception):
    pass


def _records(out):
    with open(os.path.join(out, METRICS_NAME)) as file:
        return [{k: v for k, v in json.loads(line).items() if k != "time"} for line in file]


def _run(out, callbacks=(), resume=False, epochs=3):
    model = make_model(seed=7)
    loader = DataLoader(tiny_data(), batch_size=8, shuffle=True, seed=3, drop_last=True)
    fit(model, loader, epochs, out, checkpoint_every=4, resume=resume, progress=False, callbacks=callbacks)
    return model


def test_resume_equals_an_uninterrupted_run_bit_for_bit(tmp_path):
    full = _run(str(tmp_path / "full"))

    def kill_at_step_6(step, record):           # mid-epoch, 2 steps after the checkpoint of step 4
        if step == 6:
            raise Kill()
    with pytest.raises(Kill):
        _run(str(tmp_path / "killed"), callbacks=[kill_at_step_6])
    mg.manual_seed(12345)                       # a fresh process would not share the RNG state: scramble it
    resumed = _run(str(tmp_path / "killed"), resume=True)

    assert resumed.step == full.step == 9
    for name in ("generator", "critic"):
        a, b = getattr(full, name).state_dict(), getattr(resumed, name).state_dict()
        assert a.keys() == b.keys()
        for key in a:
            assert np.array_equal(a[key].numpy(), b[key].numpy()), f"{name}.{key} differs after resume"
    for opt in ("optimizer_g", "optimizer_d"):
        sa, sb = getattr(full, opt).state_dict()["state"], getattr(resumed, opt).state_dict()["state"]
        for index in sa:
            for key, value in sa[index].items():
                other = sb[index][key]
                assert np.array_equal(getattr(value, "data", value), getattr(other, "data", other))
    assert _records(str(tmp_path / "full")) == _records(str(tmp_path / "killed"))


def test_a_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    images = tiny_data(32)
    images[21, 0, 0, 0] = np.nan                 # batch 2 (0-based) of the first epoch: step 3
    model = make_model()
    loader = DataLoader(images, batch_size=8, shuffle=False, drop_last=True)
    out = str(tmp_path / "nan")
    with pytest.raises(NonFiniteLossError) as caught:
        fit(model, loader, 2, out, checkpoint_every=2, progress=False)
    error = caught.value
    assert error.step == 3 and error.name == "critic_loss"
    message = str(error)
    assert "step 3" in message and "critic_loss" in message and "checkpoint.safetensors" in message
    state = mg.load(os.path.join(out, "checkpoint.safetensors"))
    assert state["step"] == 2
    assert all(np.isfinite(t.numpy()).all() for t in state["trainable"]["critic"].values())
    assert [r["step"] for r in _records(out)] == [1, 2]
