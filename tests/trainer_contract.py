"""A reusable check of the trainer contract (minigan.trainers.base) for the per-family tests:

    from trainer_contract import assert_resumes_exactly
    def test_wgan_gp_resumes_exactly(tmp_path):
        assert_resumes_exactly(lambda: WGANGP(TinyGenerator(), TinyCritic(), n_critic=2), images, tmp_path)

trains a few steps with ``fit`` to a checkpoint, "kills" the run (an exception raised from a callback after
the checkpoint), resumes it in a fresh trainer built under another seed with minigan's RNG scrambled, and
compares every array and number of the trainer's state (networks, optimizers, counters, chains) and the
metrics log bit for bit against an uninterrupted run. Keep the data and networks tiny: a call is a few
dozen steps.
"""

import json
import os

import numpy as np

import minigan as mg
from minigan.data import DataLoader
from minigan.tensor import Tensor
from minigan.training import METRICS_NAME, fit


class Kill(Exception):
    """Raised from a fit callback to stand for the process being killed."""


def flatten_state(state, prefix=""):
    """{dotted path: NumPy array or plain value} of a nested state dict (Tensors as arrays)."""
    if isinstance(state, dict):
        items = state.items()
    elif isinstance(state, (list, tuple)):
        items = enumerate(state)
    else:
        value = state.numpy() if isinstance(state, Tensor) else state
        return {prefix: np.asarray(value) if isinstance(value, np.ndarray) else value}
    flat = {}
    for key, value in items:
        flat.update(flatten_state(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def assert_states_equal(a, b, what="state"):
    flat_a, flat_b = flatten_state(a), flatten_state(b)
    assert flat_a.keys() == flat_b.keys(), f"{what}: keys differ: {sorted(set(flat_a) ^ set(flat_b))}"
    for key, value in flat_a.items():
        other = flat_b[key]
        if isinstance(value, np.ndarray):
            assert value.dtype == other.dtype and np.array_equal(value, other, equal_nan=True), f"{what}: {key} differs"
        else:
            assert value == other, f"{what}: {key} is {value!r} vs {other!r}"


def metrics_records(out_dir):
    """The metrics log without the wall-clock times."""
    with open(os.path.join(out_dir, METRICS_NAME)) as file:
        return [{k: v for k, v in json.loads(line).items() if k != "time"} for line in file]


def assert_resumes_exactly(
    build_trainer, data, tmp_path, epochs=2, batch_size=4, checkpoint_every=2, kill_at=3, seed=7
):
    """See the module docstring. ``build_trainer()``: a new trainer (called after ``mg.manual_seed``);
    ``data``: an array or a tuple of arrays for ``DataLoader`` (the batches are what train_step gets).
    ``kill_at`` must come after a checkpoint (a multiple of ``checkpoint_every``) and before the end.
    Returns (uninterrupted trainer, resumed trainer)."""
    arrays = data if isinstance(data, tuple) else (data,)

    def run(out, callbacks=(), resume=False, build_seed=seed):
        mg.manual_seed(build_seed)
        trainer = build_trainer()
        loader = DataLoader(*arrays, batch_size=batch_size, shuffle=True, seed=3, drop_last=True)
        assert epochs * len(loader) > kill_at > checkpoint_every, "kill_at must fall after a checkpoint, before the end"
        fit(
            trainer,
            loader,
            epochs,
            out,
            checkpoint_every=checkpoint_every,
            resume=resume,
            progress=False,
            callbacks=callbacks,
        )
        return trainer

    full = run(str(tmp_path / "full"))

    def kill(step, record):
        if step == kill_at:
            raise Kill()

    try:
        run(str(tmp_path / "killed"), callbacks=[kill])
    except Kill:
        pass
    else:
        raise AssertionError("the run was not killed")
    mg.manual_seed(12345)  # a fresh process would not share the RNG state: scramble it
    resumed = run(str(tmp_path / "killed"), resume=True, build_seed=seed + 1)  # other initial weights

    assert_states_equal(full.state_dict(), resumed.state_dict(), "trainer state after resume")
    assert metrics_records(str(tmp_path / "full")) == metrics_records(str(tmp_path / "killed"))
    return full, resumed
