"""Deep belief networks (source 003): greedy layer-wise RBM stacks, fine-tuned as a classifier or unrolled
into a deep autoencoder.

Greedy layer-wise training (Hinton, Osindero & Teh 2006): train RBM 1 on the data x; freeze it; its hidden
activations E[h^1 | x] = sigmoid(c^1 + x W^1) become the data of RBM 2, and so on. Each added layer (if
it is at least as wide and initialised as the previous RBM flipped) can only raise a variational lower
bound on log p(x) (HOT 2006, section 4); in practice it gives a good initialisation of a deep network::

    x (N, 784) --RBM 1--> h1 (N, 500) --RBM 2--> h2 (N, 500) --...

The greedy pre-training and the fine-tuning are ``minigan/trainers/dbn.py`` (and ``supervised.py``); this
module holds the networks. Two ways to fine-tune the stack with back-propagation:

* ``DBNClassifier``: the up-pass of the stack (Linear with W^T, c; sigmoid) plus a softmax layer,
  trained on labels with cross-entropy (HOT 2006 fine-tuned generatively with up-down; the usual modern
  recipe, and the source's, is discriminative back-propagation, as here).
* ``DeepAutoencoder`` (Hinton & Salakhutdinov 2006): the encoder is the up-pass, the decoder its mirror
  image with the *transposed* weights and the visible biases, p(x | code) = sigmoid(b^1 + W^1 sigmoid(...)).
  At initialisation decoder weights are exactly the encoder's transposes ("tied"); fine-tuning then trains
  all weights freely (untied, as H&S did) on the reconstruction cross-entropy. H&S's top RBM has linear
  (Gaussian) hidden units, so the code is real-valued: ``DBN(..., top_hidden="gaussian")``.

References: Hinton, Osindero & Teh, A fast learning algorithm for deep belief nets, Neural Computation 2006;
Hinton & Salakhutdinov, Reducing the dimensionality of data with neural networks, Science 2006; Bengio,
Lamblin, Popovici & Larochelle, Greedy layer-wise training of deep networks, NIPS 2006.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy

from .. import autograd, losses, nn
from .. import functional as F
from ..tensor import Tensor
from .rbm import RBM

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..typing import Array, ArrayLike, TensorLike

__all__ = ["DBN", "DBNClassifier", "DeepAutoencoder"]


def _rows(x, dtype="float32"):
    x = x.numpy() if isinstance(x, Tensor) else numpy.asarray(x)
    return x.reshape(x.shape[0], -1).astype(dtype)


class DBN(nn.Module):
    """A stack of RBMs with sizes (D, H1, H2, ...): RBM k has n_visible = sizes[k], n_hidden = sizes[k+1].

    top_hidden: "bernoulli", or "gaussian" for a real-valued top code (H&S 2006's autoencoder)."""

    def __init__(
        self, sizes: Sequence[int] = (784, 500, 500), top_hidden: str = "bernoulli", init_std: float = 0.01
    ) -> None:
        super().__init__()
        if len(sizes) < 2:
            raise ValueError("a DBN needs at least (n_visible, n_hidden)")
        self.sizes = tuple(int(s) for s in sizes)
        self.rbms = nn.ModuleList(
            [
                RBM(n_in, n_out, hidden=top_hidden if k == len(sizes) - 2 else "bernoulli", init_std=init_std)
                for k, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:]))
            ]
        )

    def transform(self, x: TensorLike) -> Array:
        """The deterministic up-pass: E[h^L | ...E[h^1 | x]] (N, sizes[-1])."""
        data = _rows(x)
        for rbm in self.rbms:
            data = rbm.hidden_mean(data)
        return data


class DBNClassifier(nn.Module):
    """sizes (D, H1, ..., HL) sigmoid layers + a softmax layer to num_classes; logits (N, num_classes).

    ``DBNClassifier.from_dbn(dbn, 10)`` copies each RBM's W^T, c into the hidden layers (Linear weight is
    (out, in) = W^T); the constructor alone gives the same network with PyTorch's default random init."""

    def __init__(self, sizes: Sequence[int] = (784, 500, 500), num_classes: int = 10) -> None:
        super().__init__()
        self.sizes, self.num_classes = tuple(sizes), int(num_classes)
        self.hidden = nn.ModuleList([nn.Linear(a, b) for a, b in zip(self.sizes[:-1], self.sizes[1:])])
        self.output = nn.Linear(self.sizes[-1], self.num_classes)

    @classmethod
    def from_dbn(cls, dbn: DBN, num_classes: int = 10) -> DBNClassifier:
        model = cls(dbn.sizes, num_classes)
        with autograd.no_grad():
            for layer, rbm in zip(model.hidden, dbn.rbms):
                layer.weight.array[...] = rbm.W.array.T  # (H, D)
                layer.bias.array[...] = rbm.c.array
            model.output.weight.array[...] = 0  # a fresh softmax layer on top of the features
            model.output.bias.array[...] = 0
        return model

    def forward(self, x: TensorLike) -> Tensor:
        h = x.reshape(x.shape[0], -1)
        for layer in self.hidden:
            h = F.sigmoid(layer(h))  # (N, H_k)
        return self.output(h)  # (N, K) logits

    def predict(self, x: TensorLike, batch_size: int = 1000) -> numpy.ndarray:
        x = _rows(x)
        with autograd.no_grad():
            return numpy.concatenate(
                [self(Tensor(x[s : s + batch_size])).numpy().argmax(1) for s in range(0, len(x), batch_size)]
            )

    def score(self, x: TensorLike, y: ArrayLike) -> float:
        return float(numpy.mean(self.predict(x) == numpy.asarray(y)))


class DeepAutoencoder(nn.Module):
    """The unrolled DBN (Hinton & Salakhutdinov 2006), sizes (D, H1, ..., code):

        encoder  x (N, D) -> sigmoid(x W1 + c1) -> ... -> code = x_{L-1} W_L + c_L   (linear code if
                                                                                       ``linear_code``)
        decoder  code -> sigmoid(code W_L^T + b_L) -> ... -> logits = h W_1^T + b_1 -> p(x | code) = sigmoid

    ``from_dbn`` sets encoder layer k to (W_k^T, c_k) and decoder layer k to (W_k, b_k): tied at init, free
    afterwards. Loss: binary cross-entropy of x (in [0, 1]) against sigmoid(logits), summed over pixels."""

    def __init__(self, sizes: Sequence[int] = (784, 500, 250, 30), linear_code: bool = True) -> None:
        super().__init__()
        self.sizes, self.linear_code = tuple(sizes), bool(linear_code)
        pairs = list(zip(self.sizes[:-1], self.sizes[1:]))
        self.encoder = nn.ModuleList([nn.Linear(a, b) for a, b in pairs])
        self.decoder = nn.ModuleList([nn.Linear(b, a) for a, b in reversed(pairs)])

    @classmethod
    def from_dbn(cls, dbn: DBN) -> DeepAutoencoder:
        model = cls(dbn.sizes, linear_code=dbn.rbms[-1].hidden == "gaussian")
        with autograd.no_grad():
            for layer, rbm in zip(model.encoder, dbn.rbms):
                layer.weight.array[...] = rbm.W.array.T  # (H, D)
                layer.bias.array[...] = rbm.c.array
            for layer, rbm in zip(model.decoder, reversed(list(dbn.rbms))):
                layer.weight.array[...] = rbm.W.array  # (D, H)
                layer.bias.array[...] = rbm.b.array
        return model

    def encode(self, x: TensorLike) -> Tensor:
        h = x.reshape(x.shape[0], -1)
        for k, layer in enumerate(self.encoder):
            h = layer(h)
            if k < len(self.encoder) - 1 or not self.linear_code:
                h = F.sigmoid(h)
        return h  # (N, code)

    def decode_logits(self, code: Tensor) -> Tensor:
        h = code
        for k, layer in enumerate(self.decoder):
            h = layer(h)
            if k < len(self.decoder) - 1:
                h = F.sigmoid(h)
        return h  # (N, D) logits

    def forward(self, x: TensorLike) -> Tensor:
        return F.sigmoid(self.decode_logits(self.encode(x)))

    def loss(self, x: TensorLike) -> Tensor:
        """Mean over images of the summed pixel cross-entropy (nats per image), ``losses.bernoulli_nll``."""
        x = x if isinstance(x, Tensor) else Tensor(_rows(x))
        x = x.reshape(x.shape[0], -1)
        return losses.bernoulli_nll(self.decode_logits(self.encode(x)), x)

    def reconstruct(self, x: TensorLike, batch_size: int = 1000) -> numpy.ndarray:
        x = _rows(x)
        with autograd.no_grad():
            return numpy.concatenate(
                [self(Tensor(x[s : s + batch_size])).numpy() for s in range(0, len(x), batch_size)]
            )

    def squared_error(self, x: TensorLike) -> float:
        """Mean over images of the summed squared pixel error, H&S 2006's reconstruction measure."""
        x = _rows(x)
        return float(((self.reconstruct(x) - x) ** 2).sum(1).mean())
