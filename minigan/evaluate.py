"""Evaluation of generative models: scores, ranks and separations.

* ``critic_scores``: a critic's (or any scorer's) outputs over a data set, without a graph;
* ``roc_auc``: the area under the ROC curve by ranks (Mann-Whitney U), no scikit-learn;
* ``separation``: per-class score table and the orientation-free AUC of every pair of classes, the
  measure of source 000's "the critic as an unsupervised classifier";
* ``spearman``: rank correlation (are class positions stable across retrainings?);
* ``noise_only_pairs``: the pairs of the shapes test set that differ only in pixel noise.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

import minigan as mg

if TYPE_CHECKING:
    from .data import Dataset
    from .models import LogisticRegression
    from .nn import Module
    from .typing import ArrayLike, TensorLike

__all__ = ["critic_scores", "roc_auc", "spearman", "noise_only_pairs", "separation"]


def critic_scores(critic: Module, images: np.ndarray, batch_size: int = 40) -> np.ndarray:
    """f(x) for every image (N,), without a graph."""
    critic.eval()
    out = []
    with mg.no_grad():
        for start in range(0, len(images), batch_size):
            out.append(critic(mg.tensor(images[start : start + batch_size])).numpy().astype(np.float64))
    return np.concatenate(out)


def roc_auc(positive: ArrayLike, negative: ArrayLike) -> float:
    """Area under the ROC curve of scores separating two samples, by ranks (Mann-Whitney U / (n m)):
    P(score of a random positive > score of a random negative), ties counting 1/2. Orientation-free
    separation is max(AUC, 1 - AUC)."""
    positive, negative = np.asarray(positive, float), np.asarray(negative, float)
    values = np.concatenate([positive, negative])
    order = values.argsort(kind="mergesort")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    i = 0
    while i < len(values):  # average ranks over ties
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    u = ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2
    return u / (len(positive) * len(negative))


def spearman(a: ArrayLike, b: ArrayLike) -> float:
    """Spearman's rank correlation of two vectors (no ties expected among class means)."""
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def noise_only_pairs(class_names: Sequence[str]) -> list[tuple[int, int]]:
    """Pairs of classes with the same shape and colour and a different noise level."""

    def head(name):
        return name.rsplit(" ", 1)[0]

    return [
        (i, j)
        for i, j in itertools.combinations(range(len(class_names)), 2)
        if head(class_names[i]) == head(class_names[j])
    ]


def separation(
    scores: np.ndarray, labels: np.ndarray, class_names: Sequence[str]
) -> tuple[list[dict[str, Any]], dict[tuple[int, int], float], dict[str, Any]]:
    """Per-class mean/std, and for each of the 45 pairs the separation max(AUC, 1 - AUC)."""
    k = len(class_names)
    table = [
        {"class": class_names[c], "mean": float(scores[labels == c].mean()), "std": float(scores[labels == c].std())}
        for c in range(k)
    ]
    pairs = {}
    for i, j in itertools.combinations(range(k), 2):
        auc = roc_auc(scores[labels == i], scores[labels == j])
        pairs[(i, j)] = max(auc, 1 - auc)
    noise = noise_only_pairs(class_names)
    values = np.array(list(pairs.values()))
    summary = {
        "pairs": len(pairs),
        "auc_ge_0.9": int((values >= 0.9).sum()),
        "auc_ge_0.99": int((values >= 0.99).sum()),
        "min_auc": float(values.min()),
        "median_auc": float(np.median(values)),
        "noise_only": {f"{class_names[i]} vs {class_names[j]}": round(pairs[(i, j)], 4) for i, j in noise},
        "noise_only_ge_0.9": int(sum(pairs[p] >= 0.9 for p in noise)),
        "noise_only_ge_0.99": int(sum(pairs[p] >= 0.99 for p in noise)),
    }
    return table, pairs, summary


# --- mode coverage (source 004: the collapse a real/fake discriminator cannot see) ----------------------
#
# A discriminator judges one sample at a time: "is this a real digit?". A generator that never draws an 8
# but draws perfect 0-7 and 9 passes that test sample by sample, so D's accuracy does not move. The
# collapse shows only in the *distribution* of classes over many samples: classify every sample with a
# classifier trained on real data and compare the class histogram with the (uniform) real one.

__all__ += ["mode_coverage", "digit_classifier", "classifier_confidence"]


def mode_coverage(
    predictions: ArrayLike,
    n_classes: int,
    threshold: float | None = None,
    reference: ArrayLike | None = None,
    min_ratio: float | None = None,
) -> dict[str, Any]:
    """Class histogram of generated samples, judged by a classifier: which modes does a generator cover?

    ``predictions``: (N,) integer labels, or (N, K) class probabilities (each row is turned into its
    argmax; the mean of the rows is reported too, as ``soft_fractions``).
    ``reference``: (K,) class frequencies of the real data (default uniform 1/K).
    A class is *covered* when its fraction is at least ``threshold`` (default 0.1 / K, a tenth of the
    uniform share: 1 % of the samples for 10 classes). An imperfect classifier calls some samples of other
    classes "8", so a generator without 8s can still show a few: ``min_ratio`` instead calls a class covered
    when its fraction is at least ``min_ratio * reference[c]`` -- pass as ``reference`` the classifier's own
    histogram on real data (``judge_digits`` of real images) and e.g. ``min_ratio=0.3``.

    Returns a dict:
        fractions       (K,) list, the share of samples assigned to each class (sums to 1)
        counts          (K,) list of ints
        covered         number of classes with fraction >= threshold
        missing         list of the classes below it
        has_missing     covered < K: the flag of a dropped mode
        kl_to_reference KL(fractions || reference) in nats (0 for a perfect match; log K when every sample
                        is one class against a uniform reference); empty classes contribute 0
        entropy         H(fractions) in nats (log K = 2.303 for 10 uniform classes)
        soft_fractions  (K,) mean probability per class (only with probability rows)
    """
    from . import info

    predictions = np.asarray(predictions)
    result = {}
    if predictions.ndim == 2:
        if predictions.shape[1] != n_classes:
            raise ValueError(
                f"mode_coverage: probability rows have {predictions.shape[1]} columns, n_classes={n_classes}"
            )
        result["soft_fractions"] = [float(v) for v in predictions.mean(0)]
        labels = predictions.argmax(1)
    elif predictions.ndim == 1:
        labels = predictions.astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
            raise ValueError(f"mode_coverage: labels must be in [0, {n_classes}), got {labels.min()}..{labels.max()}")
    else:
        raise ValueError(
            f"mode_coverage: predictions must be (N,) labels or (N, K) probabilities, got {predictions.shape}"
        )
    if labels.size == 0:
        raise ValueError("mode_coverage: no samples")
    counts = np.bincount(labels, minlength=n_classes)
    fractions = counts / counts.sum()
    reference = np.full(n_classes, 1.0 / n_classes) if reference is None else np.asarray(reference, float)
    reference = reference / reference.sum()
    if min_ratio is not None:
        thresholds = float(min_ratio) * reference
    else:
        thresholds = np.full(n_classes, 0.1 / n_classes if threshold is None else float(threshold))
    threshold = [float(t) for t in thresholds]
    missing = [int(c) for c in np.flatnonzero(fractions < thresholds)]
    result.update(
        {
            "fractions": [float(v) for v in fractions],
            "counts": [int(v) for v in counts],
            "covered": int(n_classes - len(missing)),
            "missing": missing,
            "has_missing": bool(missing),
            "kl_to_reference": float(info.kl_divergence(fractions, reference)),
            "entropy": float(info.entropy(fractions)),
            "threshold": threshold,
        }
    )
    return result


def digit_classifier(
    dataset: Dataset | tuple[ArrayLike, ArrayLike] | None = None, epochs: int = 30, seed: int = 0
) -> LogisticRegression:
    """The "small MNIST classifier" of the GAN demos: multinomial logistic regression (models.naive_bayes)
    trained on real digits in [0, 1] (default: mnist5k's 4 000 training images; about 92 % test accuracy).
    ``dataset``: a ``minigan.data.Dataset`` or an (x, y) pair. Returns the fitted ``LogisticRegression``."""
    from .models import LogisticRegression
    from .trainers.supervised import train_classifier

    if dataset is None:
        from . import data

        dataset = data.load("mnist5k")
    x, y = (dataset.x, dataset.y) if hasattr(dataset, "x") else dataset
    classifier = LogisticRegression(int(np.prod(np.asarray(x).shape[1:])), int(np.max(y)) + 1)
    train_classifier(classifier, x, y, epochs=epochs, seed=seed)
    return classifier


def classifier_confidence(probabilities: ArrayLike) -> dict[str, float]:
    """How sure a real-data classifier is about generated samples: mean max probability and the mean
    entropy of the rows in nats (sharp digits: high confidence, low entropy; blobs: the reverse).
    probabilities (N, K) -> {"mean_max_probability", "mean_entropy"}."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1.0)
    return {"mean_max_probability": float(p.max(1).mean()), "mean_entropy": float(-(p * np.log(p)).sum(1).mean())}


__all__ += ["judge_digits"]


def judge_digits(
    classifier: LogisticRegression,
    images: TensorLike,
    value_range: tuple[float, float] = (-1.0, 1.0),
    n_classes: int = 10,
    reference: ArrayLike | None = None,
    min_ratio: float | None = None,
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """What a real-data digit classifier says about generated images: its predictions and probabilities,
    ``mode_coverage`` and ``classifier_confidence``. images (N, 1, 28, 28) (array or Tensor) in
    ``value_range`` (a tanh generator's [-1, 1] by default; the classifier was trained on [0, 1]);
    ``reference``, ``min_ratio``: passed to ``mode_coverage``.
    Returns (summary dict, predicted labels (N,), probabilities (N, K))."""
    x = images.numpy() if hasattr(images, "numpy") and not isinstance(images, np.ndarray) else np.asarray(images)
    low, high = value_range
    x = np.clip((x.astype(np.float32) - low) / (high - low), 0.0, 1.0)
    probabilities = classifier.predict_proba(x)
    summary = {
        "coverage": mode_coverage(probabilities, n_classes, reference=reference, min_ratio=min_ratio),
        **classifier_confidence(probabilities),
    }
    return summary, probabilities.argmax(1), probabilities


__all__ += ["pca_reconstruction"]


def pca_reconstruction(x_train: np.ndarray, x_test: np.ndarray, n_components: int) -> np.ndarray:
    """x_test projected onto the top ``n_components`` principal components of x_train and back (the means
    added): the linear baseline of an autoencoder with an n_components-D code (Hinton & Salakhutdinov 2006).
    x_train (N, D), x_test (M, D) -> (M, D)."""
    mean = x_train.mean(0)
    _, _, vt = np.linalg.svd(x_train - mean, full_matrices=False)
    basis = vt[:n_components]  # (k, D)
    return (x_test - mean) @ basis.T @ basis + mean


# --- measurements of the GAN family's demos and trainers ------------------------------------------------

__all__ += ["discriminator_accuracy", "linear_probe", "two_sample_accuracy", "ink_moments", "matched_accuracy"]


def discriminator_accuracy(real_logits: TensorLike, fake_logits: TensorLike) -> float:
    """Share of real samples with logit > 0 and fake samples with logit < 0: a discriminator's real/fake
    accuracy. Logits as Tensors or arrays, any shapes."""
    real = real_logits.numpy() if hasattr(real_logits, "numpy") else np.asarray(real_logits)
    fake = fake_logits.numpy() if hasattr(fake_logits, "numpy") else np.asarray(fake_logits)
    return float(((real > 0).sum() + (fake < 0).sum()) / (real.size + fake.size))


def linear_probe(
    features_train: ArrayLike,
    y_train: ArrayLike,
    features_test: ArrayLike,
    y_test: ArrayLike,
    epochs: int = 30,
    seed: int = 0,
) -> float:
    """Test accuracy of a multinomial logistic regression on standardised features (mean and standard
    deviation of the training features): how linearly a representation separates the classes (the BiGAN
    paper's use of E(x), Donahue et al. 2017, section 4)."""
    from .models import LogisticRegression
    from .trainers.supervised import train_classifier

    features_train, features_test = np.asarray(features_train), np.asarray(features_test)
    mean, std = features_train.mean(0), features_train.std(0) + 1e-6
    classifier = LogisticRegression(features_train.shape[1], int(np.max(y_train)) + 1)
    train_classifier(classifier, (features_train - mean) / std, y_train, epochs=epochs, lr=0.01, seed=seed)
    return classifier.score((features_test - mean) / std, y_test)


def two_sample_accuracy(
    real_fit: ArrayLike, real_test: ArrayLike, fake: ArrayLike, epochs: int = 10, seed: int = 0
) -> float:
    """A classifier two-sample test (Lopez-Paz & Oquab, 2017) with a fresh discriminator: logistic regression
    on pixels trained on ``real_fit`` against the first half of ``fake`` and tested on ``real_test`` against
    the rest. About 0.5 when it cannot tell the two apart. Arrays (N, ...) of images in the same range."""
    from .models import LogisticRegression
    from .trainers.supervised import train_classifier

    real_fit, real_test, fake = np.asarray(real_fit), np.asarray(real_test), np.asarray(fake)
    n = min(len(real_fit), len(fake) // 2)
    x = np.concatenate([real_fit[:n], fake[:n]]).reshape(2 * n, -1)
    y = np.concatenate([np.ones(n, np.int64), np.zeros(n, np.int64)])
    classifier = LogisticRegression(x.shape[1], 2)
    train_classifier(classifier, x, y, epochs=epochs, seed=seed)
    m = min(len(real_test), len(fake) - n)
    x_test = np.concatenate([real_test[:m], fake[n : n + m]]).reshape(2 * m, -1)
    y_test = np.concatenate([np.ones(m, np.int64), np.zeros(m, np.int64)])
    return classifier.score(x_test, y_test)


def ink_moments(images: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(width, slant) of each image (N, 1, H, W) in [-1, 1], from the ink (pixels mapped to [0, 1]) as a
    mass distribution: width = the horizontal standard deviation, slant = -mu11 / mu02 (how far the ink
    moves right per row upwards, a shear; the minus because image rows grow downwards)."""
    ink = np.clip((np.asarray(images)[:, 0] + 1) / 2, 0, 1).astype(np.float64)  # (N, H, W)
    rows, cols = np.mgrid[0 : ink.shape[1], 0 : ink.shape[2]]
    mass = ink.sum((1, 2)) + 1e-9
    cy, cx = (ink * rows).sum((1, 2)) / mass, (ink * cols).sum((1, 2)) / mass
    dy, dx = rows[None] - cy[:, None, None], cols[None] - cx[:, None, None]
    mu20 = (ink * dx**2).sum((1, 2)) / mass
    mu02 = (ink * dy**2).sum((1, 2)) / mass
    mu11 = (ink * dx * dy).sum((1, 2)) / mass
    return np.sqrt(mu20), -mu11 / (mu02 + 1e-9)


def matched_accuracy(table: ArrayLike) -> tuple[float, np.ndarray, np.ndarray]:
    """The best one-to-one map from the rows of a contingency table (e.g. the values of a code) to its
    columns (e.g. the digits a classifier sees): (share of the counts on the map, rows, columns). The
    Hungarian algorithm (scipy), or a greedy assignment when scipy (a test extra) is not installed."""
    table = np.asarray(table, float)
    try:
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(-table)
    except ImportError:
        left, rows, cols = table.copy(), [], []
        for _ in range(min(table.shape)):
            r, c = np.unravel_index(np.argmax(left), left.shape)
            rows.append(r)
            cols.append(c)
            left[r, :], left[:, c] = -1, -1
        rows, cols = np.array(rows), np.array(cols)
    return float(table[rows, cols].sum() / table.sum()), rows, cols
