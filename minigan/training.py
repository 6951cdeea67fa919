"""The training harness: a fit loop with a progress bar, a metrics log, checkpoints, resume and a NaN guard,
plus the adversarial update of WGAN-GP that plugs into it.

    G, D = WGANGenerator(width=16), WGANCritic(width=16)
    model = WGANGP(G, D, latent_dim=128, n_critic=5, lambda_gp=10)      # Adam(1e-4, betas=(0, 0.9)) each
    loader = DataLoader(images, batch_size=8, shuffle=True, seed=0, drop_last=True)
    fit(model, loader, epochs=20, out_dir="runs/shapes", checkpoint_every=100)   # ... killed ...
    fit(model, loader, epochs=20, out_dir="runs/shapes", resume=True)            # same result, bit for bit

``fit`` knows nothing about GANs: it drives any object with ``train_step(batch) -> {name: float}``,
``state_dict()`` and ``load_state_dict(state)`` (a "trainable"). What it writes in ``out_dir``:

    checkpoint.safetensors   models, optimizers, RNG states (minigan's and the loader's), step, epoch
                             (written atomically every ``checkpoint_every`` steps and at the end)
    metrics.jsonl            one JSON record per logged step: step, epoch, the trainable's metrics, time
    samples_epoch_NNN.png    image grids at the chosen epochs (trainables with a ``sample`` method)

Resume equals an uninterrupted run: the checkpoint holds every piece of state that decides the future
(parameters, BN buffers, Adam moments and steps, the CPU generator of ``minigan.backend``, the loader's
shuffling generator *as it was at the start of the epoch* and the number of batches already used), and
the metrics log is cut back to the checkpoint's step. A non-finite loss raises ``NonFiniteLossError``
naming the step and the loss *before* the update that would spread it; the last good checkpoint stays.
"""
from __future__ import annotations

import copy
import json
import math
import os
import time

from . import autograd, backend, losses
from .tensor import Tensor

__all__ = ["NonFiniteLossError", "WGANGP", "fit", "MetricsLog", "CHECKPOINT_NAME", "METRICS_NAME"]

CHECKPOINT_NAME = "checkpoint.safetensors"
METRICS_NAME = "metrics.jsonl"


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; ``step``, ``name`` and ``value`` say where."""

    def __init__(self, step, name, value, checkpoint=None):
        self.step, self.name, self.value, self.checkpoint = step, name, value, checkpoint
        kept = (f"; the last good checkpoint is {checkpoint}" if checkpoint
                else "; no checkpoint had been written yet")
        super().__init__(f"training stopped at step {step}: loss {name!r} is {value}{kept}")


def _progress_fields(trainable, metrics):
    """What the progress bar shows: the trainable's ``progress_fields`` ({label: metric name}) if it has
    them, otherwise every numeric metric."""
    fields = getattr(trainable, "progress_fields", None) or {name: name for name in metrics}
    return {label: f"{metrics[name]:.3f}" for label, name in fields.items()
            if isinstance(metrics.get(name), (int, float))}


def check_finite(step, **values):
    """Raise ``NonFiniteLossError`` for the first value that is NaN or +-inf."""
    for name, value in values.items():
        value = float(value)
        if not math.isfinite(value):
            raise NonFiniteLossError(step, name, value)


# --- the adversarial update ---------------------------------------------------------------------------

class WGANGP:
    """WGAN with gradient penalty (Gulrajani et al., 2017, algorithm 1) as a trainable for :func:`fit`.

    One ``train_step(real)`` is one generator update preceded by ``n_critic`` critic updates on the same
    real batch with fresh noise each time, as the Keras WGAN-GP that source 000 builds on does; so an
    epoch is len(loader) generator steps. Losses (``minigan.losses``):

        critic:     E f(G(z)) - E f(x) + lambda E (||grad f(x_hat)||_2 - 1)^2
        generator:  -E f(G(z))

    Adam with the paper's defaults, lr 1e-4, betas (0, 0.9), for both networks.
    """

    # the progress bar's labels: critic loss, generator loss, Wasserstein estimate, gradient penalty
    progress_fields = {"D": "critic_loss", "G": "g_loss", "W": "wasserstein", "GP": "gp"}

    def __init__(self, generator, critic, latent_dim=None, n_critic=5, lambda_gp=10.0, lr=1e-4,
                 betas=(0.0, 0.9)):
        from . import optim
        self.generator, self.critic = generator, critic
        self.latent_dim = latent_dim or generator.latent_dim
        self.n_critic, self.lambda_gp = int(n_critic), float(lambda_gp)
        self.optimizer_g = optim.Adam(generator.parameters(), lr=lr, betas=betas)
        self.optimizer_d = optim.Adam(critic.parameters(), lr=lr, betas=betas)
        self.step = 0                       # generator updates done

    def noise(self, n, device="cpu"):
        """z ~ N(0, I), (n, latent_dim), from minigan's generator of ``device`` (seeded, checkpointed)."""
        from .tensor import randn
        return randn(n, self.latent_dim, device=device)

    def train_step(self, real):
        real = real if isinstance(real, Tensor) else Tensor(real)
        n, device = real.shape[0], real.device
        d_params = list(self.critic.parameters())
        g_params = list(self.generator.parameters())
        # (1) update the critic n_critic times: maximise E f(x) - E f(G(z)) - penalty
        for _ in range(self.n_critic):
            with autograd.no_grad():
                fake = self.generator(self.noise(n, device))           # (N, C, H, W), no graph to G
            real_scores, fake_scores = self.critic(real), self.critic(fake)
            penalty = losses.gradient_penalty(self.critic, real, fake, self.lambda_gp)
            critic_loss = losses.critic_loss_wasserstein(real_scores, fake_scores) + penalty
            check_finite(self.step + 1, critic_loss=critic_loss.item(), gp=penalty.item())
            grads = autograd.grad(critic_loss, d_params)
            for p, g in zip(d_params, grads):
                p.grad = g
            self.optimizer_d.step()
        # (2) update the generator: minimise -E f(G(z))
        fake_scores_g = self.critic(self.generator(self.noise(n, device)))
        g_loss = losses.g_loss_wasserstein(fake_scores_g)
        check_finite(self.step + 1, g_loss=g_loss.item())
        grads = autograd.grad(g_loss, g_params)
        for p, g in zip(g_params, grads):
            p.grad = g
        self.optimizer_g.step()
        self.optimizer_d.zero_grad()
        self.optimizer_g.zero_grad()
        self.step += 1
        return {"critic_loss": critic_loss.item(), "gp": penalty.item(), "g_loss": g_loss.item(),
                "wasserstein": losses.wasserstein_estimate(real_scores, fake_scores)}

    def sample(self, z):
        """Images G(z) in eval mode (BN running statistics), without a graph; restores the mode."""
        was_training = self.generator.training
        self.generator.eval()
        try:
            with autograd.no_grad():
                return self.generator(z)
        finally:
            self.generator.train(was_training)

    def state_dict(self):
        return {"generator": self.generator.state_dict(), "critic": self.critic.state_dict(),
                "optimizer_g": self.optimizer_g.state_dict(), "optimizer_d": self.optimizer_d.state_dict(),
                "step": self.step}

    def load_state_dict(self, state):
        self.generator.load_state_dict(state["generator"])
        self.critic.load_state_dict(state["critic"])
        self.optimizer_g.load_state_dict(state["optimizer_g"])
        self.optimizer_d.load_state_dict(state["optimizer_d"])
        self.step = int(state["step"])


# --- the metrics log ----------------------------------------------------------------------------------

class MetricsLog:
    """JSON lines, one record per call of ``write``; ``truncate(step)`` keeps the records up to ``step``
    (a resumed run rewrites what the killed run logged after its last checkpoint)."""

    def __init__(self, path):
        self.path = path

    def truncate(self, step):
        if not os.path.exists(self.path):
            return
        with open(self.path) as file:
            kept = [line for line in file if line.strip() and json.loads(line).get("step", 0) <= step]
        with open(self.path, "w") as file:
            file.writelines(kept)

    def write(self, record):
        with open(self.path, "a") as file:
            file.write(json.dumps(record) + "\n")


# --- the loop -----------------------------------------------------------------------------------------

def _checkpoint(trainable, step, epoch, batches_done, loader_state, extra):
    return {"trainable": trainable.state_dict(), "step": step, "epoch": epoch, "batches_done": batches_done,
            "rng": {"minigan_cpu": backend.get_rng_state(), "loader": loader_state}, "extra": extra or {}}


def fit(trainable, loader, epochs, out_dir, checkpoint_every=100, resume=False, log_every=1,
        sample_epochs=(), sample_z=None, progress=True, callbacks=(), extra=None, description="train"):
    """Train ``trainable`` for ``epochs`` passes over ``loader``; see the module docstring.

    ``loader``: a ``minigan.data.DataLoader`` (its ``rng`` is checkpointed; a batch may be a tuple, of
    which the first element is given to ``train_step``). ``sample_epochs``: epochs after which
    ``trainable.sample(sample_z)`` is saved as an image grid (and "0" before training).
    ``callbacks``: functions ``(step, record)`` called after each step (a test raises in one to
    simulate a kill). ``extra``: a JSON-able dict stored in the checkpoint (the run's configuration).
    Returns a dict with the final step, the wall time and the last record.
    """
    os.makedirs(out_dir, exist_ok=True)
    checkpoint_path = os.path.join(out_dir, CHECKPOINT_NAME)
    log = MetricsLog(os.path.join(out_dir, METRICS_NAME))
    steps_per_epoch = len(loader)
    total_steps = epochs * steps_per_epoch
    step, start_epoch, skip = 0, 0, 0
    elapsed_before = 0.0
    if resume and os.path.exists(checkpoint_path):
        from .serialization import load
        state = load(checkpoint_path)
        trainable.load_state_dict(state["trainable"])
        backend.set_rng_state(state["rng"]["minigan_cpu"])
        loader.rng.bit_generator.state = state["rng"]["loader"]
        step, start_epoch, skip = int(state["step"]), int(state["epoch"]), int(state["batches_done"])
        elapsed_before = float(state["extra"].get("elapsed", 0.0)) if isinstance(state["extra"], dict) else 0.0
        log.truncate(step)
    elif os.path.exists(log.path):
        os.remove(log.path)                         # a fresh run starts a fresh log

    def save(epoch, batches_done, loader_state):
        from .serialization import save as _save
        info = dict(extra or {}, elapsed=elapsed_before + time.perf_counter() - started)
        _save(_checkpoint(trainable, step, epoch, batches_done, loader_state, info), checkpoint_path)

    def save_samples(epoch):
        if sample_z is not None and hasattr(trainable, "sample") and (epoch in sample_epochs):
            from . import viz
            viz.save_image_grid(trainable.sample(sample_z), os.path.join(out_dir, f"samples_epoch_{epoch:03d}.png"),
                                title=f"{description}: samples after {epoch} epoch(s), step {step}")

    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=total_steps, initial=step, desc=description, unit="step", dynamic_ncols=True,
                   smoothing=0.1)
    started = time.perf_counter()
    record = None
    saved_any = os.path.exists(checkpoint_path) and resume
    if step == 0:
        save_samples(0)
    try:
        for epoch in range(start_epoch, epochs):
            loader_state = copy.deepcopy(loader.rng.bit_generator.state)   # before this epoch's shuffle
            for batch_index, batch in enumerate(loader):
                if batch_index < skip:                  # already used before the checkpoint we resumed
                    continue
                real = batch[0] if isinstance(batch, tuple) else batch
                try:
                    metrics = trainable.train_step(real)
                except NonFiniteLossError as error:
                    raise NonFiniteLossError(error.step, error.name, error.value,
                                             checkpoint_path if saved_any else None) from None
                step += 1
                record = {"step": step, "epoch": epoch + (batch_index + 1) / steps_per_epoch, **metrics,
                          "time": round(elapsed_before + time.perf_counter() - started, 3)}
                if step % log_every == 0 or step == total_steps:
                    log.write(record)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(_progress_fields(trainable, metrics), refresh=False)
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
            save_samples(epoch + 1)
    finally:
        if bar is not None:
            bar.close()
    return {"step": step, "elapsed": elapsed_before + time.perf_counter() - started, "last": record,
            "checkpoint": checkpoint_path}
