"""The simplest generative classifier and its discriminative counterpart (source 001, section 1).

Bernoulli naive Bayes models the joint p(x, y) = p(y) prod_i p(x_i | y) of binary features (binarised
pixels) and classifies by Bayes' rule; because it models p(x | y) it can also *generate* images of a class.
Logistic regression models p(y | x) only: better boundaries, no samples (Ng & Jordan, 2002).

    p(y = c)          = N_c / N                                          class prior
    p(x_i = 1 | y=c)  = theta_ci = (N_ci + alpha) / (N_c + 2 alpha)      Laplace (add-alpha) smoothing
    log p(x, y=c)     = log p(c) + sum_i x_i log theta_ci + (1 - x_i) log(1 - theta_ci)
    log p(y=c | x)    = log p(x, y=c) - logsumexp_c' log p(x, y=c')      Bayes' rule

(N_ci: training examples of class c with x_i = 1.) Naive Bayes is NumPy only (a closed-form fit; no
gradients; ``partial_fit`` adds batches to the counts). ``LogisticRegression`` is a minigan Linear layer,
trained with softmax cross-entropy and Adam by ``minigan.trainers.supervised``.

References: Ng & Jordan, On Discriminative vs. Generative Classifiers: A comparison of logistic
regression and naive Bayes, NIPS 2002; McCallum & Nigam, A Comparison of Event Models for Naive Bayes
Text Classification, 1998 (the Bernoulli event model); scikit-learn's ``BernoulliNB``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import autograd, nn
from .. import functional as F
from ..tensor import Tensor

if TYPE_CHECKING:
    from ..typing import ArrayLike, TensorLike

__all__ = ["BernoulliNaiveBayes", "LogisticRegression"]


def _rows(x):
    """(N, ...) -> (N, D) float64 NumPy array (images are flattened)."""
    x = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
    return x.reshape(x.shape[0], -1).astype(np.float64)


def _logsumexp(a, axis):
    """log sum exp of a NumPy array along ``axis``, by the engine's overflow-free ``logsumexp``."""
    return F.logsumexp(Tensor(a), axis).numpy()


class BernoulliNaiveBayes:
    """Bernoulli naive Bayes with add-alpha (Laplace: alpha = 1) smoothing.

    alpha: the pseudo-count added to each of the two outcomes of every pixel and class.
    binarize: threshold; features are x > binarize. None: the features are already 0/1.
    fit_prior: learn p(y) from the class counts; False: uniform prior.

    After ``fit``: classes_ (K,), class_count_ (K,), feature_count_ (K, D) = N_ci, class_log_prior_ (K,),
    feature_log_prob_ (K, D) = log theta_ci (the names of scikit-learn's BernoulliNB)."""

    def __init__(self, alpha: float = 1.0, binarize: float | None = 0.5, fit_prior: bool = True) -> None:
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        self.alpha, self.binarize, self.fit_prior = float(alpha), binarize, fit_prior

    def _features(self, x):
        x = _rows(x)
        if self.binarize is not None:
            return (x > self.binarize).astype(np.float64)
        if not np.all((x == 0) | (x == 1)):
            raise ValueError("binarize=None needs 0/1 features; pass a threshold (e.g. binarize=0.5)")
        return x

    def fit(self, x: TensorLike, y: ArrayLike) -> BernoulliNaiveBayes:
        """x (N, ...) images or features, y (N,) labels -> self (the classes are the labels present)."""
        return self.partial_fit(x, y, classes=np.unique(np.asarray(y)), reset=True)

    def partial_fit(
        self, x: TensorLike, y: ArrayLike, classes: ArrayLike | None = None, reset: bool = False
    ) -> BernoulliNaiveBayes:
        """Add a batch to the counts N_c and N_ci and refresh the probabilities: the model is a sum of
        counts, so fitting batch after batch gives exactly the model of one ``fit`` on all of them.
        ``classes`` (K,) is needed on the first call (or with reset=True); labels outside it raise."""
        if reset or not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("the first partial_fit needs classes=, the labels the model will know")
            self.classes_ = np.asarray(classes)
            self.class_count_ = np.zeros(len(self.classes_))  # (K,) N_c
            self.feature_count_ = None  # (K, D) N_ci
        x, y = self._features(x), np.asarray(y)
        onehot = (y[:, None] == self.classes_[None, :]).astype(np.float64)  # (N, K)
        unknown = onehot.sum(1) == 0
        if unknown.any():
            raise ValueError(
                f"labels {np.unique(y[unknown]).tolist()} are not among the classes {self.classes_.tolist()}"
            )
        counts = onehot.T @ x
        self.class_count_ = self.class_count_ + onehot.sum(0)
        self.feature_count_ = counts if self.feature_count_ is None else self.feature_count_ + counts
        self._update_probabilities()
        return self

    def load_counts(
        self, classes: ArrayLike | None, class_count: ArrayLike, feature_count: ArrayLike
    ) -> BernoulliNaiveBayes:
        """Set the model to the counts N_c (K,) and N_ci (K, D) of ``classes`` (K,) (a checkpoint's)."""
        classes = np.asarray(classes)
        if (
            np.shape(class_count) != classes.shape
            or np.ndim(feature_count) != 2
            or np.shape(feature_count)[0] != len(classes)
        ):
            raise ValueError(
                f"load_counts: counts of shapes {np.shape(class_count)} and {np.shape(feature_count)} "
                f"do not fit {len(classes)} classes"
            )
        self.classes_ = classes
        self.class_count_ = np.array(class_count, dtype=np.float64)
        self.feature_count_ = np.array(feature_count, dtype=np.float64)
        self._update_probabilities()

    def _update_probabilities(self):
        theta = (self.feature_count_ + self.alpha) / (self.class_count_[:, None] + 2 * self.alpha)
        with np.errstate(divide="ignore", invalid="ignore"):  # alpha = 0 may give log 0 = -inf, as it should
            self.feature_log_prob_ = np.log(theta)  # (K, D) log theta
            self.feature_log_neg_prob_ = np.log1p(-theta)  # (K, D) log(1 - theta)
            if self.fit_prior:
                self.class_log_prior_ = np.log(self.class_count_ / self.class_count_.sum())
        if not self.fit_prior:
            self.class_log_prior_ = np.full(len(self.classes_), -np.log(len(self.classes_)))

    def joint_log_likelihood(self, x: TensorLike) -> np.ndarray:
        """log p(x, y=c) for every class: x (N, ...) -> (N, K)."""
        x = self._features(x)
        # x log theta + (1 - x) log(1 - theta); with alpha = 0 a log may be -inf, clipped to -1e30 so that
        # 0 * (-inf) = nan never appears (an impossible pixel still gives a hopeless -1e30).
        log_p = np.maximum(self.feature_log_prob_, -1e30)  # (K, D)
        log_q = np.maximum(self.feature_log_neg_prob_, -1e30)  # (K, D)
        return x @ log_p.T + (1 - x) @ log_q.T + self.class_log_prior_

    def predict_log_proba(self, x: TensorLike) -> np.ndarray:
        """log p(y=c | x) by Bayes' rule, normalised with logsumexp: (N, K), rows logsumexp to 0."""
        jll = self.joint_log_likelihood(x)
        return jll - _logsumexp(jll, 1)[:, None]

    def predict_proba(self, x: TensorLike) -> np.ndarray:
        return np.exp(self.predict_log_proba(x))

    def predict(self, x: TensorLike) -> np.ndarray:
        """The most probable class (N,)."""
        return self.classes_[np.argmax(self.joint_log_likelihood(x), 1)]

    def score(self, x: TensorLike, y: ArrayLike) -> float:
        """Accuracy in [0, 1]."""
        return float(np.mean(self.predict(x) == np.asarray(y)))

    def log_likelihood(self, x: TensorLike) -> np.ndarray:
        """log p(x) = logsumexp_c log p(x, y=c) in nats: (N,). The model is a density on {0, 1}^D."""
        return _logsumexp(self.joint_log_likelihood(x), 1)

    def sample(self, label: int, n: int = 1, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """n binary images of class ``label``: x_i ~ Bernoulli(theta_ci) independently -> (n, D) float32.
        rng: a numpy Generator or a seed."""
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        theta = np.exp(self.feature_log_prob_[self._index(label)])
        return (rng.random((n, theta.size)) < theta).astype(np.float32)

    def class_means(self) -> np.ndarray:
        """theta (K, D): p(x_i = 1 | y = c), the mean image of each class-conditional."""
        return np.exp(self.feature_log_prob_)

    def _index(self, label):
        where = np.flatnonzero(self.classes_ == label)
        if where.size == 0:
            raise ValueError(f"unknown class {label!r}; classes are {self.classes_.tolist()}")
        return int(where[0])


class LogisticRegression(nn.Module):
    """Multinomial logistic regression p(y | x) = softmax(W x + b), trained on minigan.

    Trained by ``minigan.trainers.supervised.ClassifierTrainer`` (mean cross-entropy plus
    (weight_decay / 2) ||W||^2, Adam on mini-batches). x (N, ...) is flattened to (N, in_features);
    logits (N, num_classes)."""

    def __init__(self, in_features: int = 784, num_classes: int = 10) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, num_classes)  # (N, K)
        with autograd.no_grad():  # start at the uniform classifier, as sklearn does
            self.linear.weight.array[...] = 0
            self.linear.bias.array[...] = 0

    def forward(self, x: TensorLike) -> Tensor:
        if not isinstance(x, Tensor):
            x = Tensor(np.asarray(x, dtype=self.linear.weight.dtype))
        return self.linear(x.reshape(x.shape[0], -1))

    def predict_proba(self, x: TensorLike, batch_size: int = 1000) -> np.ndarray:
        """p(y | x) as a NumPy array (N, K)."""
        x = _rows(x).astype(self.linear.weight.dtype)
        out = []
        with autograd.no_grad():
            for start in range(0, len(x), batch_size):
                out.append(F.softmax(self(x[start : start + batch_size]), 1).numpy())
        return np.concatenate(out) if out else np.zeros((0, self.linear.out_features))

    def predict(self, x: TensorLike) -> np.ndarray:
        return self.predict_proba(x).argmax(1)

    def score(self, x: TensorLike, y: ArrayLike) -> float:
        return float(np.mean(self.predict(x) == np.asarray(y)))
