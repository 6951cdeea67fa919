"""DBN: a deep belief net, greedy layer-wise RBM pre-training then fine-tuning as a classifier by
back-propagation (Hinton, Osindero & Teh 2006), on mnist5k.

    minigan train dbn --out runs/dbn        # 784-500-500: 10 epochs per RBM (CD-1), then 20 of fine-tuning
    minigan sample --run runs/dbn           # Gibbs chains in the top RBM, then a down-pass
    minigan evaluate --run runs/dbn         # test accuracy

    trainer = DBNTrainer(DBN((784, 500, 500)), pretrain_steps=2000, lr=0.05)
    fit(trainer, DataLoader(x, y, batch_size=20, shuffle=True, seed=0), epochs=40, out_dir="runs/dbn")

The run has phases, counted in updates: RBM 1 for ``pretrain_steps``, RBM 2 for as many, ..., then the
classifier made from the stack (``DBNClassifier.from_dbn``) for the rest. The phase follows from the step
counter, which the checkpoint holds, so a resumed run lands in the phase it left.

References: Hinton, Osindero & Teh, A fast learning algorithm for deep belief nets, Neural Computation 2006;
Bengio, Lamblin, Popovici & Larochelle, Greedy layer-wise training of deep networks, NIPS 2006 (fine-tuning
by back-propagation, as here, instead of HOT's up-down algorithm).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..argtypes import int_in_range, non_negative_float, open_probability, positive_float
from ..models.dbn import DBN, DBNClassifier
from ..tensor import Tensor
from .rbm import RBMTrainer
from .supervised import ClassifierTrainer

if TYPE_CHECKING:
    import argparse

    from ..typing import Batch
    from .base import Trainer

__all__ = ["DBNTrainer", "add_arguments", "build", "evaluation_data"]


class DBNTrainer:
    """Greedy CD-k pre-training of every RBM of a :class:`~minigan.models.DBN`, then softmax fine-tuning.

    pretrain_steps: updates per RBM. lr, k, momentum, weight_decay: the RBMs' CD settings. finetune_lr:
    Adam's rate for the classifier. binarize_input: the first RBM sees a Bernoulli draw of each grey-level
    batch (minigan's generator); the RBMs above see their lower layer's probabilities E[h | v]."""

    def __init__(
        self,
        dbn: DBN,
        pretrain_steps: int,
        num_classes: int = 10,
        lr: float = 0.05,
        k: int = 1,
        momentum: float = 0.5,
        weight_decay: float = 2e-4,
        finetune_lr: float = 1e-3,
        binarize_input: bool = True,
    ) -> None:
        if int(pretrain_steps) < 1:
            raise ValueError(f"pretrain_steps must be >= 1, got {pretrain_steps}")
        self.dbn, self.pretrain_steps, self.num_classes = dbn, int(pretrain_steps), int(num_classes)
        self.rbm_settings = {
            "lr": float(lr),
            "k": int(k),
            "momentum": float(momentum),
            "weight_decay": float(weight_decay),
        }
        self.finetune_lr, self.binarize_input = float(finetune_lr), bool(binarize_input)
        self.layer_trainers = [RBMTrainer(rbm, **self.rbm_settings) for rbm in dbn.rbms]
        self.classifier = None  # made from the stack when pre-training ends
        self.step = 0

    @property
    def phase(self) -> str:
        """ "pretrain-k" (RBM k, 0-based) or "finetune", from the step counter."""
        layer = self.step // self.pretrain_steps
        return f"pretrain-{layer}" if layer < len(self.dbn.rbms) else "finetune"

    family = "dbn"
    progress_fields = {"layer": "layer", "F gap": "free_energy_gap", "loss": "loss"}

    def _start_finetuning(self):
        self.classifier = ClassifierTrainer(DBNClassifier.from_dbn(self.dbn, self.num_classes), lr=self.finetune_lr)

    def train_step(self, batch: Batch) -> dict[str, float]:
        """Greedy layer-wise training (HOT 2006), then back-propagation:

        pretrain-k:  v^0 = x (a Bernoulli draw of it),  v^j = E[h^j | v^{j-1}] through the frozen RBMs
                     below k; one CD-k update of RBM k on v^{k}  (``RBMTrainer.train_step``)
        finetune:    one Adam step on the cross-entropy of the up-pass + softmax  (``ClassifierTrainer``)
        """
        x, y = batch
        phase = self.phase
        if phase == "finetune":
            if self.classifier is None:
                self._start_finetuning()
            metrics = dict(self.classifier.train_step((x, y)), layer=float(len(self.dbn.rbms)))
        else:
            layer = int(phase.split("-")[1])
            v = x.array if isinstance(x, Tensor) else x
            v = v.reshape(v.shape[0], -1)
            if self.binarize_input:
                v = self.dbn.rbms[0].bernoulli(v)
            for rbm in self.dbn.rbms[:layer]:  # the frozen layers below: their mean activations
                v = rbm.hidden_mean(v)
            metrics = dict(self.layer_trainers[layer].train_step(v), layer=float(layer))
        self.step += 1
        return metrics

    def sample(self, n: int, steps: int = 1000) -> Tensor:
        """HOT 2006's generative pass: ``steps`` block Gibbs steps in the top RBM (the associative memory),
        then one down-pass p(v | h) through the directed layers below; (n, 1, s, s) images when D is a square."""
        _, v = self.dbn.rbms[-1].sample(n, steps=steps)
        probs = v
        for rbm in reversed(self.dbn.rbms[:-1]):
            probs = rbm.visible_probs(v)
            v = rbm.bernoulli(probs)
        side = int(round(self.dbn.sizes[0] ** 0.5))
        return Tensor(probs.reshape(n, 1, side, side) if side * side == self.dbn.sizes[0] else probs)

    def evaluate(self, data: Any) -> dict[str, Any]:
        """Test accuracy of the fine-tuned classifier on data = (x, y)."""
        if self.classifier is None:
            raise ValueError(f"the DBN is still in phase {self.phase}: there is no classifier to evaluate yet")
        return self.classifier.evaluate(data)

    def config(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "sizes": list(self.dbn.sizes),
            "num_classes": self.num_classes,
            "pretrain_steps": self.pretrain_steps,
            **self.rbm_settings,
            "finetune_lr": self.finetune_lr,
            "binarize_input": self.binarize_input,
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "layers": [trainer.state_dict() for trainer in self.layer_trainers],
            "step": self.step,
            "phase": self.phase,
            "classifier": None if self.classifier is None else self.classifier.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["layers"]) != len(self.layer_trainers):
            raise ValueError(
                f"load_state_dict: the state has {len(state['layers'])} RBMs, this DBN {len(self.layer_trainers)}"
            )
        step, has_classifier = int(state["step"]), state["classifier"] is not None
        pretraining_steps = self.pretrain_steps * len(self.dbn.rbms)
        # the classifier is made at the first fine-tuning update: it exists exactly when step > pretraining
        if has_classifier != (step > pretraining_steps):
            raise ValueError(
                f"load_state_dict: at step {step} (pre-training ends at {pretraining_steps}) the "
                f"state should {'not ' if not step > pretraining_steps else ''}hold a classifier"
            )
        for trainer, layer_state in zip(self.layer_trainers, state["layers"]):
            trainer.load_state_dict(layer_state)
        self.step = step
        self.classifier = None
        if state["classifier"] is not None:
            self._start_finetuning()
            self.classifier.load_state_dict(state["classifier"])


# --- the command line -----------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(epochs=40, batch_size=20)  # 10 + 10 pre-training epochs, 20 of fine-tuning
    parser.add_argument(
        "--hidden", type=int_in_range(1, 100_000), nargs="+", default=[500, 500], help="the RBMs' hidden layers"
    )
    parser.add_argument("--pretrain-epochs", type=int_in_range(1, 100_000), default=10, help="epochs per RBM")
    parser.add_argument("--lr", type=positive_float, default=0.05, help="CD's learning rate")
    parser.add_argument("--k", type=int_in_range(1, 10_000), default=1, help="Gibbs steps per CD update")
    parser.add_argument("--momentum", type=open_probability, default=0.5)
    parser.add_argument("--weight-decay", type=non_negative_float, default=2e-4)
    parser.add_argument("--finetune-lr", type=positive_float, default=1e-3, help="Adam's rate for fine-tuning")


def build(args: argparse.Namespace) -> tuple[Trainer, Any]:
    from .. import data

    train = data.load("mnist5k")
    x = train.x.reshape(len(train.x), -1)
    if args.epochs <= args.pretrain_epochs * len(args.hidden):
        raise ValueError(
            f"--epochs {args.epochs} leaves no fine-tuning after {args.pretrain_epochs} pre-training "
            f"epochs for each of {len(args.hidden)} RBMs"
        )
    dbn = DBN((784, *args.hidden))
    dbn.to(args.device)
    trainer = DBNTrainer(
        dbn,
        pretrain_steps=args.pretrain_epochs * (len(x) // args.batch_size),
        lr=args.lr,
        k=args.k,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        finetune_lr=args.finetune_lr,
    )
    return trainer, (x, train.y)


def evaluation_data(args: argparse.Namespace) -> Any:
    from .. import data

    test = data.load("mnist5k", split="test")
    return test.x.reshape(len(test.x), -1), test.y
