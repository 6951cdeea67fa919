"""minigan.training.fit and the trainer contract (minigan.trainers.base): whole batches reach train_step;
resume equals an uninterrupted run, bit for bit; a run directory is never clobbered; resuming with other
settings is refused naming them (epochs may grow, logged as an event); a grid a killed run did not draw is
drawn on resume; sample grids leave the training RNG alone; a NaN stops the run and keeps the last good
checkpoint. A toy trainer (a 2x2 linear map, noise from minigan's RNG) keeps the file fast."""

import json
import os

import numpy as np
import pytest
from trainer_contract import (
    Kill,
    assert_resumes_exactly,
    assert_states_equal,
    metrics_records,
)

import minigan as mg
from minigan import nn, optim
from minigan.data import DataLoader
from minigan.trainers.base import Trainer, check_finite, step_parameters
from minigan.training import METRICS_NAME, NonFiniteLossError, RunDirectoryError, fit


class ToyTrainer(Trainer):
    """Fits a linear map to (x, y) pairs, or x to itself, with a little noise drawn from minigan's RNG."""

    family = "toy"

    def __init__(self, lr=0.05):
        self.lr = lr
        self.net = nn.Linear(2, 2)
        self.optimizer = optim.Adam(self.net.parameters(), lr=lr)
        self.step = 0
        self.batches = []  # what train_step received (type and shapes)

    def components(self):
        return {"net": self.net, "optimizer": self.optimizer}

    def config(self):
        return {"family": self.family, "lr": self.lr}

    def train_step(self, batch):
        self.batches.append(tuple(b.shape for b in batch) if isinstance(batch, tuple) else batch.shape)
        x, y = batch if isinstance(batch, tuple) else (batch, batch)
        loss = ((self.net(x + mg.randn(*x.shape) * 0.01) - y) ** 2).mean()
        check_finite(self.step + 1, loss=loss.item())
        step_parameters(loss, list(self.net.parameters()), self.optimizer)
        self.step += 1
        return {"loss": loss.item()}

    def sample(self, n):
        with mg.no_grad():
            return self.net(mg.randn(n, 2))


def toy_data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2)).astype(np.float32)
    return x, (x @ np.array([[1.0, 2.0], [-1.0, 0.5]], np.float32)).astype(np.float32)


def toy_fit(out, epochs=2, data=None, seed=0, lr=0.05, **kwargs):
    mg.manual_seed(seed)
    trainer = ToyTrainer(lr)
    loader = DataLoader(*(data or toy_data()), batch_size=4, shuffle=True, seed=1, drop_last=True)
    kwargs.setdefault("progress", False)
    fit(trainer, loader, epochs, str(out), checkpoint_every=kwargs.pop("checkpoint_every", 2), **kwargs)
    return trainer


def test_train_step_gets_each_batch_as_the_loader_yields_it(tmp_path):
    labelled = toy_fit(tmp_path / "pairs", epochs=1)
    assert labelled.batches == [((4, 2), (4, 2))] * 4  # (x, y) tuples, labels kept
    unlabelled = toy_fit(tmp_path / "x", epochs=1, data=(toy_data()[0],))
    assert unlabelled.batches == [(4, 2)] * 4  # a single array: the batch itself


def test_toy_trainer_resumes_exactly(tmp_path):
    full, resumed = assert_resumes_exactly(ToyTrainer, toy_data(), tmp_path, kill_at=5)
    assert resumed.step == full.step == 8


def test_resume_checker_notices_a_difference(tmp_path):
    """The helper itself can fail: a trainer whose state misses its optimizer does not resume exactly."""

    class Forgetful(ToyTrainer):
        def components(self):
            return {"net": self.net}

    with pytest.raises(AssertionError):
        assert_resumes_exactly(Forgetful, toy_data(), tmp_path, kill_at=5)


def test_a_directory_holding_a_run_is_refused_and_left_alone(tmp_path):
    toy_fit(tmp_path, epochs=1)
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}
    with pytest.raises(RunDirectoryError, match="--resume.*--overwrite"):
        toy_fit(tmp_path, epochs=1)
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)} == before


def test_overwrite_starts_the_run_again(tmp_path):
    toy_fit(tmp_path, epochs=2, sample_epochs=(2,))
    assert os.path.exists(tmp_path / "samples_epoch_002.npy")
    (tmp_path / "notes.txt").write_text("mine")
    toy_fit(tmp_path, epochs=1, overwrite=True)
    assert [r["step"] for r in metrics_records(tmp_path)] == [1, 2, 3, 4]
    assert not os.path.exists(tmp_path / "samples_epoch_002.npy")  # the old run's files are gone
    assert (tmp_path / "notes.txt").read_text() == "mine"  # nothing else is touched
    assert json.loads((tmp_path / "config.json").read_text())["epochs"] == 1


def test_resume_with_other_settings_is_refused_naming_each(tmp_path):
    toy_fit(tmp_path, epochs=1)
    data = toy_data()
    with pytest.raises(RunDirectoryError) as caught:
        mg.manual_seed(0)
        trainer = ToyTrainer(lr=0.1)
        loader = DataLoader(*data, batch_size=8, shuffle=True, seed=1, drop_last=True)
        fit(trainer, loader, 1, str(tmp_path), resume=True, progress=False, settings={"seed": 5})
    message = str(caught.value)
    for name in ("lr", "batch_size", "batches_per_epoch", "seed"):
        assert name in message
    assert "epochs:" not in message


def test_resume_may_extend_the_epochs_and_logs_the_change(tmp_path):
    toy_fit(tmp_path / "short", epochs=2)
    extended = toy_fit(tmp_path / "short", epochs=3, resume=True)
    straight = toy_fit(tmp_path / "long", epochs=3)
    assert_states_equal(straight.state_dict(), extended.state_dict())
    records = metrics_records(tmp_path / "short")
    events = [r for r in records if "event" in r]
    assert events == [{"step": 8, "event": "setting changed on resume", "setting": "epochs", "from": 2, "to": 3}]
    assert [r for r in records if "event" not in r] == metrics_records(tmp_path / "long")
    assert json.loads((tmp_path / "short" / "config.json").read_text())["epochs"] == 3
    with pytest.raises(RunDirectoryError, match="grow, not shrink"):
        toy_fit(tmp_path / "short", epochs=2, resume=True)


def test_resuming_a_finished_run_returns_its_last_record(tmp_path):
    """Nothing is left to train, so fit returns the step and the last record of the log (what a demo's
    report reads), not None."""

    def run(**kwargs):
        mg.manual_seed(0)
        loader = DataLoader(*toy_data(), batch_size=4, shuffle=True, seed=1, drop_last=True)
        return fit(ToyTrainer(0.05), loader, 2, str(tmp_path), checkpoint_every=2, progress=False, **kwargs)

    finished = run()
    resumed = run(resume=True)
    assert resumed["step"] == finished["step"] == 8
    last_line = (tmp_path / METRICS_NAME).read_text().splitlines()[-1]
    assert resumed["last"] == finished["last"] == json.loads(last_line)


def test_a_grid_the_killed_run_did_not_draw_is_drawn_on_resume(tmp_path):
    toy_fit(tmp_path / "full", epochs=2, sample_epochs=(0, 1, 2))

    class KilledWhileSampling(ToyTrainer):
        def sample(self, n):
            if self.step == 4:  # epoch 1's grid, after its checkpoint
                raise Kill()
            return super().sample(n)

    mg.manual_seed(0)
    loader = DataLoader(*toy_data(), batch_size=4, shuffle=True, seed=1, drop_last=True)
    with pytest.raises(Kill):
        fit(
            KilledWhileSampling(),
            loader,
            2,
            str(tmp_path / "killed"),
            checkpoint_every=4,
            progress=False,
            sample_epochs=(0, 1, 2),
        )
    assert not os.path.exists(tmp_path / "killed" / "samples_epoch_001.npy")
    toy_fit(tmp_path / "killed", epochs=2, sample_epochs=(0, 1, 2), resume=True, checkpoint_every=4)
    for epoch in (0, 1, 2):
        name = f"samples_epoch_{epoch:03d}.npy"
        assert np.array_equal(np.load(tmp_path / "full" / name), np.load(tmp_path / "killed" / name)), name


def test_sample_grids_leave_the_training_random_stream_alone(tmp_path):
    plain = toy_fit(tmp_path / "plain", epochs=2)
    sampled = toy_fit(tmp_path / "sampled", epochs=2, sample_epochs=(0, 1, 2))
    assert_states_equal(plain.state_dict(), sampled.state_dict())
    first, again = np.load(tmp_path / "sampled" / "samples_epoch_001.npy"), sampled.sample(32).numpy()
    assert not np.array_equal(first, again)  # the grid's draws differ from the training stream's


@pytest.mark.parametrize(
    "epochs, checkpoint_every, batch_size, match",
    [(0, 2, 4, "epochs"), (2, 0, 4, "checkpoint_every"), (2, -1, 4, "checkpoint_every"), (2, 2, 32, "no batch")],
)
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, epochs, checkpoint_every, batch_size, match):
    with pytest.raises(ValueError, match=match):  # (a DataLoader with no full batch is refused when made)
        loader = DataLoader(*toy_data(), batch_size=batch_size, shuffle=True, seed=1, drop_last=True)
        fit(ToyTrainer(), loader, epochs, str(tmp_path / "run"), checkpoint_every=checkpoint_every, progress=False)
    assert not os.path.exists(tmp_path / "run")


def test_fit_refuses_a_loader_without_batches(tmp_path):
    with pytest.raises(ValueError, match="fit: the loader yields no batch in an epoch"):
        fit(ToyTrainer(), [], 1, str(tmp_path / "run"), progress=False)  # any loader, not only DataLoader
    assert not os.path.exists(tmp_path / "run")


def test_load_state_dict_restores_every_component_when_one_refuses():
    mg.manual_seed(0)
    source, target = ToyTrainer(), ToyTrainer()
    source.train_step(tuple(mg.tensor(a[:4]) for a in toy_data()))
    state = source.state_dict()
    before = target.state_dict()
    state["optimizer"]["param_groups"] = []  # the net loads first, then the optimizer refuses
    with pytest.raises(ValueError):
        target.load_state_dict(state)
    assert_states_equal(before, target.state_dict())
    with pytest.raises(KeyError, match="missing keys \\['optimizer'\\]"):
        target.load_state_dict({"net": state["net"], "step": 1})
    with pytest.raises(ValueError, match="'step' must be an integer"):
        target.load_state_dict(dict(source.state_dict(), step=-3))


def test_a_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    x, y = toy_data(32)
    x[21, 0] = np.nan  # batch 2 (0-based) of the first epoch: step 3
    mg.manual_seed(0)
    loader = DataLoader(x, y, batch_size=8, shuffle=False, drop_last=True)
    out = str(tmp_path / "nan")
    with pytest.raises(NonFiniteLossError) as caught:
        fit(ToyTrainer(), loader, 2, out, checkpoint_every=2, progress=False)
    error = caught.value
    assert error.step == 3 and error.name == "loss"
    message = str(error)
    assert "step 3" in message and "'loss'" in message and "checkpoint.safetensors" in message
    state = mg.load(os.path.join(out, "checkpoint.safetensors"))
    assert state["step"] == 2
    assert all(np.isfinite(t.numpy()).all() for t in state["trainable"]["net"].values())
    assert [r["step"] for r in metrics_records(out)] == [1, 2]
    assert os.path.exists(os.path.join(out, METRICS_NAME))


def test_a_corrupt_checkpoint_is_refused_on_resume_naming_the_way_out(tmp_path):
    toy_fit(tmp_path, epochs=1)
    (tmp_path / "checkpoint.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(RunDirectoryError, match="checkpoint.safetensors.*overwrite"):
        toy_fit(tmp_path, epochs=1, resume=True)


def test_a_trainer_outside_the_contract_is_refused_naming_what_it_lacks(tmp_path):
    class NoConfig:
        def train_step(self, batch):
            return {}

        def state_dict(self):
            return {}

        def load_state_dict(self, state):
            pass

    loader = DataLoader(*toy_data(), batch_size=4)
    with pytest.raises(TypeError, match="NoConfig lacks config of the trainer contract"):
        fit(NoConfig(), loader, 1, str(tmp_path / "run"), progress=False)
    assert not os.path.exists(tmp_path / "run")
