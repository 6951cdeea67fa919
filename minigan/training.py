"""The training harness: ``fit`` drives any trainer with a progress bar, a metrics log, atomic checkpoints,
exact resume, a NaN guard and sample grids.

    trainer = WGANGP(WGANGenerator(width=16), WGANCritic(width=16))       # minigan.trainers.wgan_gp
    loader = DataLoader(images, batch_size=8, shuffle=True, seed=0, drop_last=True)
    fit(trainer, loader, epochs=20, out_dir="runs/shapes", checkpoint_every=100)   # ... killed ...
    fit(trainer, loader, epochs=20, out_dir="runs/shapes", resume=True)            # same result, bit for bit

``fit`` knows nothing about any model. A trainer (the contract is ``minigan.trainers.base``) has
``train_step(batch) -> {name: float}`` (``batch`` exactly as the loader yields it: ``x``, or ``(x, y)``),
``state_dict()`` / ``load_state_dict(state)``, ``config() -> dict``, and optionally ``sample(n)`` and
``progress_fields``. What ``fit`` writes in ``out_dir``:

    config.json              the run's settings: ``trainer.config()``, the epochs, the batch size, ``settings``
    checkpoint.safetensors   the trainer's state, the RNG states (minigan's CPU generator and the loader's),
                             step, epoch, the settings (atomic; every ``checkpoint_every`` steps and at the
                             end of every epoch where that many steps have passed, and at the end)
    metrics.jsonl            one JSON record per logged step (step, epoch, the trainer's metrics, time), and
                             event records (a setting changed on resume)
    samples_epoch_NNN.png    image grids after the chosen epochs (trainers with ``sample``; ``.npy`` for
                             samples that are not images), drawn under a fixed seed

A directory that holds a run is never clobbered: without ``resume`` or ``overwrite`` fit refuses it
(``RunDirectoryError``). ``resume`` continues from the checkpoint, and equals an uninterrupted run bit for bit:
the checkpoint holds every piece of state that decides the future (the trainer's state, minigan's CPU
generator, the loader's shuffling generator *as it was at the start of the epoch* and the number of batches
already used), and the metrics log is cut back to the checkpoint's step. Resuming with different settings is
refused naming each one, except those in ``RESUMABLE_SETTINGS`` (``epochs``: extend a run), whose change is
logged as an event. A non-finite loss raises ``NonFiniteLossError`` naming the step and the loss *before*
the update that would spread it; the last good checkpoint stays.
"""

from __future__ import annotations

import copy
import glob
import json
import math
import os
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy

from . import backend

if TYPE_CHECKING:
    from .data import DataLoader
    from .trainers.base import Trainer

__all__ = [
    "CHECKPOINT_NAME",
    "CONFIG_NAME",
    "METRICS_NAME",
    "RESUMABLE_SETTINGS",
    "MetricsLog",
    "NonFiniteLossError",
    "RunDirectoryError",
    "check_finite",
    "fit",
    "read_run_config",
]

CHECKPOINT_NAME = "checkpoint.safetensors"
METRICS_NAME = "metrics.jsonl"
CONFIG_NAME = "config.json"
RESUMABLE_SETTINGS = ("epochs",)  # may change on --resume (the change is logged as an event)
SAMPLE_SEED = 1000  # sample grids are drawn from this seed, the training RNG untouched


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; ``step``, ``name`` and ``value`` say where."""

    def __init__(self, step: int | None, name: str, value: float, checkpoint: str | None = None) -> None:
        self.step, self.name, self.value, self.checkpoint = step, name, value, checkpoint
        kept = f"; the last good checkpoint is {checkpoint}" if checkpoint else "; no checkpoint had been written yet"
        super().__init__(f"training stopped at step {step}: loss {name!r} is {value}{kept}")


class RunDirectoryError(ValueError):
    """A run directory that cannot be used as asked: it holds a run (and neither resume nor overwrite was
    asked), or its run was made with other settings than those of the resume."""


def check_finite(step: int | None, **values: Any) -> None:
    """Raise ``NonFiniteLossError`` for the first value that is NaN or +-inf."""
    for name, value in values.items():
        value = float(value)
        if not math.isfinite(value):
            raise NonFiniteLossError(step, name, value)


# --- the metrics log ----------------------------------------------------------------------------------


class MetricsLog:
    """JSON lines, one record per call of ``write``; ``truncate(step)`` keeps the records up to ``step``
    (a resumed run rewrites what the killed run logged after its last checkpoint)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def truncate(self, step: int) -> None:
        if not os.path.exists(self.path):
            return
        with open(self.path) as file:
            kept = [line for line in file if line.strip() and json.loads(line).get("step", 0) <= step]
        with open(self.path, "w") as file:
            file.writelines(kept)

    def write(self, record: dict[str, Any]) -> None:
        with open(self.path, "a") as file:
            file.write(json.dumps(record) + "\n")

    def last(self) -> dict[str, Any] | None:
        """The last record in the log (None if there is none)."""
        if not os.path.exists(self.path):
            return None
        with open(self.path) as file:
            lines = [line for line in file if line.strip()]
        return json.loads(lines[-1]) if lines else None


# --- the run directory --------------------------------------------------------------------------------


def _json_value(value):
    """``value`` as it reads back from JSON (tuples become lists), to compare saved and new settings."""
    return json.loads(json.dumps(value))


def _write_json(path, value):
    temporary = path + ".tmp"
    with open(temporary, "w") as file:
        json.dump(value, file, indent=1)
    os.replace(temporary, path)


def _run_files(out_dir):
    """The files a run of ``fit`` writes (what ``overwrite`` removes; nothing else is touched)."""
    names = [CHECKPOINT_NAME, METRICS_NAME, CONFIG_NAME]
    paths = [os.path.join(out_dir, name) for name in names]
    paths += sorted(glob.glob(os.path.join(glob.escape(out_dir), "samples_epoch_*.png")))
    paths += sorted(glob.glob(os.path.join(glob.escape(out_dir), "samples_epoch_*.npy")))
    return [path for path in paths if os.path.exists(path)]


def _holds_a_run(out_dir):
    return any(os.path.exists(os.path.join(out_dir, name)) for name in (CHECKPOINT_NAME, METRICS_NAME, CONFIG_NAME))


def read_run_config(out_dir: str) -> dict[str, Any]:
    """The settings of the run in ``out_dir`` (its config.json)."""
    with open(os.path.join(out_dir, CONFIG_NAME)) as file:
        return json.load(file)


def _setting_changes(saved, new):
    """{name: (saved value, new value)} for every setting that differs (a missing one reads as None)."""
    return {
        name: (saved.get(name), new.get(name))
        for name in sorted(set(saved) | set(new))
        if saved.get(name) != new.get(name)
    }


def _refuse_changes(out_dir, changes):
    fixed = {name: values for name, values in changes.items() if name not in RESUMABLE_SETTINGS}
    if fixed:
        listed = "; ".join(f"{name}: {old!r} in the run, {new!r} now" for name, (old, new) in fixed.items())
        raise RunDirectoryError(
            f"cannot resume the run in {out_dir} with different settings ({listed}); only "
            f"{', '.join(RESUMABLE_SETTINGS)} may change on --resume. Use the run's settings, another --out, "
            f"or --overwrite to start it again"
        )


# --- the loop -----------------------------------------------------------------------------------------


def _progress_fields(trainer, metrics):
    """What the progress bar shows: the trainer's ``progress_fields`` ({label: metric name}) if it has
    them, otherwise every numeric metric."""
    fields = getattr(trainer, "progress_fields", None) or {name: name for name in metrics}
    return {
        label: f"{metrics[name]:.3f}" for label, name in fields.items() if isinstance(metrics.get(name), (int, float))
    }


def draw_samples(trainer: Trainer, n: int, seed: int) -> Any:
    """``trainer.sample(n)`` with minigan's CPU generator seeded by ``seed``, and then put back as it was:
    the same samples for the same seed, and the training run's random stream undisturbed."""
    training_state = copy.deepcopy(backend.get_rng_state())
    backend.set_rng_state(numpy.random.PCG64(seed).state)
    try:
        samples = trainer.sample(n)
    finally:
        backend.set_rng_state(training_state)
    return samples


def save_samples(samples: Any, path_stem: str, title: str, value_range: tuple[float, float] = (0.0, 1.0)) -> str:
    """Images (N, C, H, W) or (N, H, W) as ``path_stem``.png, anything else as ``path_stem``.npy; returns the
    path written."""
    array = samples.numpy() if hasattr(samples, "numpy") else numpy.asarray(samples)
    if array.ndim in (3, 4):
        from . import viz

        viz.save_image_grid(array, path_stem + ".png", title=title, value_range=value_range)
        return path_stem + ".png"
    numpy.save(path_stem + ".npy", array)
    return path_stem + ".npy"


def _checkpoint(trainer, step, epoch, batches_done, loader_state, config, elapsed):
    return {
        "trainable": trainer.state_dict(),
        "step": step,
        "epoch": epoch,
        "batches_done": batches_done,
        "rng": {"minigan_cpu": backend.get_rng_state(), "loader": loader_state},
        "extra": {"config": config, "elapsed": elapsed},
    }


def fit(
    trainer: Trainer,
    loader: DataLoader,
    epochs: int,
    out_dir: str,
    checkpoint_every: int = 100,
    resume: bool = False,
    overwrite: bool = False,
    log_every: int = 1,
    sample_epochs: Iterable[int] = (),
    sample_n: int = 32,
    sample_seed: int = SAMPLE_SEED,
    progress: bool = True,
    callbacks: Iterable[Callable[[int, dict[str, Any]], Any]] = (),
    settings: dict[str, Any] | None = None,
    description: str = "train",
) -> dict[str, Any]:
    """Train ``trainer`` for ``epochs`` passes over ``loader``; see the module docstring.

    ``loader``: a ``minigan.data.DataLoader`` (its ``rng`` is checkpointed); each batch goes to
    ``train_step`` as it comes. ``resume`` / ``overwrite``: continue the run in ``out_dir`` / delete its
    files and start again (without either, a directory holding a run is refused). ``settings``: JSON-able
    settings of the run besides ``trainer.config()`` (the data, the seed, the device...), written to
    config.json and compared on resume. ``sample_epochs``: epochs after which ``sample_n`` samples are saved
    (0: before training), drawn under ``sample_seed``. ``callbacks``: functions ``(step, record)`` called after
    each step (a test raises in one to simulate a kill). Returns a dict with the final step, the wall time,
    the last record and the checkpoint's path.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, numpy.integer)) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive integer, got {epochs!r}")
    if (
        isinstance(checkpoint_every, bool)
        or not isinstance(checkpoint_every, (int, numpy.integer))
        or checkpoint_every < 1
    ):
        raise ValueError(f"fit: checkpoint_every must be a positive integer (steps), got {checkpoint_every!r}")
    if resume and overwrite:
        raise ValueError("fit: resume and overwrite exclude each other")
    steps_per_epoch = len(loader)
    if steps_per_epoch < 1:
        raise ValueError(
            f"fit: the loader yields no batch in an epoch (batch size "
            f"{getattr(loader, 'batch_size', '?')}, {getattr(loader, 'num_samples', '?')} samples"
            f"{', drop_last' if getattr(loader, 'drop_last', False) else ''})"
        )
    missing = [name for name in ("train_step", "state_dict", "load_state_dict", "config") if not hasattr(trainer, name)]
    if missing:
        raise TypeError(
            f"fit: {type(trainer).__name__} lacks {', '.join(missing)} of the trainer contract "
            "(minigan/trainers/base.py)"
        )
    config = _json_value(
        {
            **trainer.config(),
            **(settings or {}),
            "epochs": int(epochs),
            "batch_size": getattr(loader, "batch_size", None),
            "batches_per_epoch": steps_per_epoch,
        }
    )
    value_range = tuple(getattr(trainer, "sample_range", (0.0, 1.0)))

    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise RunDirectoryError(f"{out_dir} exists and is not a directory: a run needs a directory of its own")
    os.makedirs(out_dir, exist_ok=True)
    checkpoint_path = os.path.join(out_dir, CHECKPOINT_NAME)
    config_path = os.path.join(out_dir, CONFIG_NAME)
    log = MetricsLog(os.path.join(out_dir, METRICS_NAME))
    if overwrite:
        for path in _run_files(out_dir):
            os.remove(path)
    elif not resume and _holds_a_run(out_dir):
        raise RunDirectoryError(
            f"{out_dir} already holds a run ({', '.join(os.path.basename(p) for p in _run_files(out_dir))}): "
            "pass --resume (resume=True) to continue it or --overwrite (overwrite=True) to "
            "delete it and start again"
        )

    total_steps = epochs * steps_per_epoch
    step, start_epoch, skip = 0, 0, 0
    elapsed_before = 0.0
    if resume and os.path.exists(checkpoint_path):
        from .serialization import SerializationError, load

        try:
            state = load(checkpoint_path)
        except SerializationError as error:
            raise RunDirectoryError(
                f"cannot resume: {error}; use --overwrite (overwrite=True) to start the run again"
            ) from error
        saved_config = state.get("extra", {}).get("config") if isinstance(state.get("extra"), dict) else None
        if not isinstance(saved_config, dict) or "trainable" not in state:
            raise RunDirectoryError(
                f"{checkpoint_path} is not a checkpoint of minigan's fit (no settings or "
                "trainer state in it); use --overwrite to start the run again"
            )
        changes = _setting_changes(_json_value(saved_config), config)
        _refuse_changes(out_dir, changes)
        step, start_epoch, skip = int(state["step"]), int(state["epoch"]), int(state["batches_done"])
        reached = start_epoch + (1 if skip else 0)  # epochs begun by the run so far
        if epochs < reached:
            raise RunDirectoryError(
                f"cannot resume the run in {out_dir} with epochs={epochs}: it has already "
                f"trained into epoch {reached} (step {step}); epochs may grow, not shrink"
            )
        trainer.load_state_dict(state["trainable"])
        backend.set_rng_state(state["rng"]["minigan_cpu"])
        loader.rng.bit_generator.state = state["rng"]["loader"]
        elapsed_before = float(state["extra"].get("elapsed", 0.0))
        log.truncate(step)
        for name, (old, new) in changes.items():  # only resumable settings are left
            log.write({"step": step, "event": "setting changed on resume", "setting": name, "from": old, "to": new})
        _write_json(config_path, config)
    else:
        if resume and os.path.exists(config_path):  # killed before its first checkpoint
            _refuse_changes(out_dir, _setting_changes(read_run_config(out_dir), config))
        if os.path.exists(log.path):
            os.remove(log.path)  # a run that starts from step 0 starts a fresh log
        _write_json(config_path, config)

    started = time.perf_counter()

    def elapsed():
        return elapsed_before + time.perf_counter() - started

    def save(epoch, batches_done, loader_state):
        from .serialization import save as save_state

        save_state(_checkpoint(trainer, step, epoch, batches_done, loader_state, config, elapsed()), checkpoint_path)

    def grid(epoch, only_if_missing=False):
        if epoch not in sample_epochs or not hasattr(trainer, "sample"):
            return
        stem = os.path.join(out_dir, f"samples_epoch_{epoch:03d}")
        if only_if_missing and (os.path.exists(stem + ".png") or os.path.exists(stem + ".npy")):
            return
        save_samples(
            draw_samples(trainer, sample_n, sample_seed),
            stem,
            f"{description}: samples after {epoch} epoch(s), step {step}",
            value_range,
        )

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total_steps, initial=step, desc=description, unit="step", dynamic_ncols=True, smoothing=0.1)
    record = log.last() if step else None  # what a resumed run that has nothing left to train returns
    saved_any = resume and os.path.exists(checkpoint_path)
    if skip == 0:
        grid(start_epoch, only_if_missing=True)  # before training, or a grid a killed run did not write
    try:
        for epoch in range(start_epoch, epochs):
            loader_state = copy.deepcopy(loader.rng.bit_generator.state)  # before this epoch's shuffle
            for batch_index, batch in enumerate(loader):
                if batch_index < skip:  # already used before the checkpoint we resumed
                    continue
                try:
                    metrics = trainer.train_step(batch)
                except NonFiniteLossError as error:
                    raise NonFiniteLossError(
                        error.step, error.name, error.value, checkpoint_path if saved_any else None
                    ) from None
                step += 1
                record = {
                    "step": step,
                    "epoch": epoch + (batch_index + 1) / steps_per_epoch,
                    **metrics,
                    "time": round(elapsed(), 3),
                }
                if step % log_every == 0 or step == total_steps:
                    log.write(record)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(_progress_fields(trainer, metrics), refresh=False)
                for callback in callbacks:
                    callback(step, record)
                finished_epoch = batch_index + 1 == steps_per_epoch
                if step % checkpoint_every == 0 and not finished_epoch:
                    save(epoch, batch_index + 1, loader_state)
                    saved_any = True
            skip = 0
            if step % checkpoint_every == 0 or epoch + 1 == epochs:
                save(epoch + 1, 0, copy.deepcopy(loader.rng.bit_generator.state))
                saved_any = True
            grid(epoch + 1)
    finally:
        if bar is not None:
            bar.close()
    return {"step": step, "elapsed": elapsed(), "last": record, "checkpoint": checkpoint_path}
