"""RBM: a restricted Boltzmann machine trained by contrastive divergence, CD-k (Hinton 2002) or persistent CD
(Tieleman 2008), on mnist5k re-binarised every epoch by default.

    minigan train rbm --out runs/rbm [--k 10] [--pcd --lr 0.01 --lr-decay]     # 784-500, 15 epochs
    minigan sample --run runs/rbm            # Gibbs chains from random bits
    minigan evaluate --run runs/rbm          # test log-likelihood, log Z by AIS (a few minutes)

    rbm = RBM(784, 500)
    trainer = RBMTrainer(rbm, lr=0.05, k=1)                  # persistent=True: PCD
    fit(trainer, BinarizedLoader(x, batch_size=20, shuffle=True, seed=0), epochs=15, out_dir="runs/rbm")

The energy, the free energy, the block Gibbs step, the CD gradient and AIS are ``minigan/models/rbm.py``;
this module is the update and its state (the optimizer, the step counter, PCD's persistent chains).

References: Hinton, Training products of experts by minimizing contrastive divergence, Neural Computation
2002; Tieleman, Training restricted Boltzmann machines using approximations to the likelihood gradient,
ICML 2008; Hinton, A practical guide to training restricted Boltzmann machines, UTML TR 2010-003 (the
momentum, weight decay and learning rates); Salakhutdinov & Murray, On the quantitative analysis of deep
belief networks, ICML 2008 (AIS, ``evaluate``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy

from .. import backend, optim
from ..argtypes import int_in_range, non_negative_float, open_probability, positive_float
from ..models.rbm import RBM, ais_betas, ais_log_partition, base_rate_biases
from ..tensor import Tensor
from .base import Trainer, check_finite

if TYPE_CHECKING:
    import argparse

    from ..data import DataLoader
    from ..typing import ArrayLike, Batch, TensorLike

__all__ = ["RBMTrainer", "add_arguments", "build", "make_loader", "evaluation_data"]


class RBMTrainer(Trainer):
    """CD-k or PCD-k on an :class:`~minigan.models.RBM`, SGD with momentum and L2 weight decay on W only.

    lr_decay_steps: decay the learning rate linearly to 0 over that many updates (Tieleman 2008 does for
    PCD); None keeps it constant. n_chains: PCD's persistent chains; they start at the first batch (its
    first n_chains rows) unless ``start_chains`` set them before."""

    family = "rbm"
    progress_fields = {"F gap": "free_energy_gap"}

    def __init__(
        self,
        rbm: RBM,
        lr: float = 0.05,
        k: int = 1,
        persistent: bool = False,
        momentum: float = 0.5,
        weight_decay: float = 2e-4,
        n_chains: int | None = None,
        lr_decay_steps: int | None = None,
    ) -> None:
        if int(k) < 1:
            raise ValueError(f"k (Gibbs steps per update) must be >= 1, got {k}")
        self.rbm, self.lr, self.k, self.persistent = rbm, float(lr), int(k), bool(persistent)
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)
        self.n_chains = None if n_chains is None else int(n_chains)
        self.lr_decay_steps = None if lr_decay_steps is None else int(lr_decay_steps)
        self.optimizer = optim.SGD(
            [{"params": [rbm.W], "weight_decay": self.weight_decay}, {"params": [rbm.b, rbm.c], "weight_decay": 0.0}],
            lr=self.lr,
            momentum=self.momentum,
        )
        self.step = 0
        self.chain = None  # (n_chains, D): PCD's fantasy particles, carried from update to update

    def start_chains(self, v: TensorLike) -> None:
        """Set PCD's persistent chains to the rows of v (n_chains, D)."""
        self.chain = v.array.copy() if isinstance(v, Tensor) else self.rbm.xp.asarray(v, dtype=self.rbm.W.dtype).copy()

    def train_step(self, batch: Batch) -> dict[str, float]:
        """One CD-k (Hinton 2002) or PCD-k (Tieleman 2008) update on a mini-batch of binary visible vectors:

            W <- W + lr ( <v h>_data - <v h>_model ) - lr * weight_decay * W      (with momentum)
            b <- b + lr ( <v>_data - <v>_model ),    c <- c + lr ( <h>_data - <h>_model )

        <.>_data uses E[h | v] at the batch, <.>_model at the negative particles v~ found by k block Gibbs
        steps v -> h ~ p(h|v) -> v' ~ p(v'|h) (``RBM.gibbs``), started at the batch (CD) or at the chains
        left by the previous update (PCD)."""
        v_data = batch[0] if isinstance(batch, tuple) else batch  # labels, if any, are not used
        v_data = v_data.array if isinstance(v_data, Tensor) else v_data
        v_data = v_data.reshape(v_data.shape[0], -1)
        # (1) negative phase: CD-k restarts the chains at the data, PCD continues its persistent chains
        if not self.persistent:
            v_model = self.rbm.gibbs(v_data, self.k)[1]
        else:
            if self.chain is None:
                self.start_chains(v_data[: self.n_chains or len(v_data)])
            self.chain = self.rbm.gibbs(self.chain, self.k)[1]
            v_model = self.chain
        # (2) the gradient estimate -( <v h>_data - <v h>_model ) for W, b, c (RBM.cd_gradients)
        gradients = self.rbm.cd_gradients(v_data, v_model)
        gap = float(self.rbm.free_energy(v_data).mean() - self.rbm.free_energy(v_model).mean())
        check_finite(self.step + 1, free_energy_gap=gap)
        # (3) SGD with momentum; the learning rate decays linearly when asked (Tieleman 2008)
        if self.lr_decay_steps:
            for group in self.optimizer.param_groups:
                group["lr"] = self.lr * (1 - self.step / self.lr_decay_steps)
        for name, parameter in (("W", self.rbm.W), ("b", self.rbm.b), ("c", self.rbm.c)):
            parameter.grad = Tensor(gradients[name])
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.step += 1
        return {"free_energy_gap": gap}

    def sample(self, n: int, steps: int = 1000) -> Tensor:
        """n samples p(v | h) after ``steps`` block Gibbs steps from uniform random bits: (n, 1, s, s) images
        when D is a square, else (n, D), in [0, 1]."""
        probs, _ = self.rbm.sample(n, steps=steps)
        side = int(round(self.rbm.n_visible**0.5))
        return Tensor(probs.reshape(n, 1, side, side) if side * side == self.rbm.n_visible else probs)

    def evaluate(self, data: Any, n_runs: int = 100, n_betas: int = 14500) -> dict[str, Any]:
        """Mean log-likelihood in nats of binary test vectors, log Z by AIS (``n_runs`` runs, ``n_betas``
        temperatures) from the base-rate RBM of the training data (Salakhutdinov & Murray 2008).
        data: (v_test, v_train) (N, D) arrays, or v_test alone (its own pixel means for the base rates)."""
        v_test, v_train = data if isinstance(data, tuple) else (data, data)
        v_test = numpy.asarray(v_test.numpy() if isinstance(v_test, Tensor) else v_test).reshape(len(v_test), -1)
        details = ais_log_partition(
            self.rbm, base_rate_biases(v_train), n_runs=n_runs, betas=ais_betas(n_betas), return_details=True
        )
        return {
            "test_log_likelihood": float(self.rbm.log_likelihood(v_test, details["log_z"]).mean()),
            "log_z": details["log_z"],
            "log_z_low": details["log_z_low"],
            "log_z_high": details["log_z_high"],
            "ais_effective_sample_size": details["effective_sample_size"],
            "ais_runs": n_runs,
            "ais_temperatures": n_betas,
        }

    def config(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "n_visible": self.rbm.n_visible,
            "n_hidden": self.rbm.n_hidden,
            "hidden_units": self.rbm.hidden,
            "lr": self.lr,
            "k": self.k,
            "persistent": self.persistent,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "n_chains": self.n_chains,
            "lr_decay_steps": self.lr_decay_steps,
        }

    def components(self) -> dict[str, Any]:
        return {"rbm": self.rbm, "optimizer": self.optimizer}

    def state_dict(self) -> dict[str, Any]:
        return dict(super().state_dict(), chain=None if self.chain is None else Tensor(self.chain))

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Checks the persistent chains, then loads the rest (``Trainer.load_state_dict``), then the chains."""
        state = dict(state)
        chain = state.pop("chain", None)
        if chain is not None:
            if not self.persistent:
                raise ValueError("load_state_dict: the state has persistent chains but this trainer runs CD, not PCD")
            if chain.ndim != 2 or chain.shape[1] != self.rbm.n_visible:
                raise ValueError(
                    f"load_state_dict: persistent chains of shape {tuple(chain.shape)}, expected "
                    f"(n_chains, {self.rbm.n_visible})"
                )
        super().load_state_dict(state)
        self.chain = (
            None
            if chain is None
            else backend.to_device(chain.array if isinstance(chain, Tensor) else chain, self.rbm.W.device).copy()
        )


# --- the command line -----------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(epochs=15, batch_size=20)  # source 003: "after 15 epochs"
    parser.add_argument("--n-hidden", type=int_in_range(1, 100_000), default=500, help="hidden units")
    parser.add_argument("--k", type=int_in_range(1, 10_000), default=1, help="Gibbs steps per update (CD-k)")
    parser.add_argument("--pcd", action="store_true", help="persistent chains (Tieleman 2008) instead of CD")
    parser.add_argument(
        "--chains",
        type=int_in_range(1, 100_000),
        default=None,
        help="PCD's persistent chains (default: the batch size)",
    )
    parser.add_argument("--lr", type=positive_float, default=0.05, help="SGD's learning rate (PCD: 0.01)")
    parser.add_argument("--lr-decay", action="store_true", help="decay the learning rate linearly to 0")
    parser.add_argument("--momentum", type=open_probability, default=0.5)
    parser.add_argument("--weight-decay", type=non_negative_float, default=2e-4, help="L2 on W")


def _digits(split, seed):
    """mnist5k's digits (N, 784) in [0, 1] and a fixed binary draw of them (the test set's, the base rates')."""
    from .. import data

    x = data.load("mnist5k", split=split).x.reshape(-1, 784)
    return x, data.binarize_dynamic(x, rng=seed + (100 if split == "train" else 200))


def build(args: argparse.Namespace) -> tuple[Trainer, Any]:
    x, v_fixed = _digits("train", args.seed)
    rbm = RBM(784, args.n_hidden, device=args.device)
    rbm.b.array[:] = backend.to_device(base_rate_biases(v_fixed).astype(numpy.float32), args.device)  # Hinton 2010
    steps = args.epochs * (len(x) // args.batch_size)  # the loader drops a short last batch
    trainer = RBMTrainer(
        rbm,
        lr=args.lr,
        k=args.k,
        persistent=args.pcd,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        n_chains=args.chains,
        lr_decay_steps=steps if args.lr_decay else None,
    )
    return trainer, x


def make_loader(arrays: tuple[ArrayLike, ...], batch_size: int, seed: int, device: str) -> DataLoader:
    """Grey levels in, a fresh binary draw of every digit each epoch out (``data.BinarizedLoader``)."""
    from ..data import BinarizedLoader

    return BinarizedLoader(*arrays, batch_size=batch_size, shuffle=True, seed=seed, drop_last=True, device=device)


def evaluation_data(args: argparse.Namespace) -> Any:
    """(binary test digits, binary training digits): the test set of source 003's demo and the base rates."""
    return _digits("test", args.seed)[1], _digits("train", args.seed)[1]
