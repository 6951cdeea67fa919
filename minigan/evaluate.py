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

import numpy as np

import minigan as mg

__all__ = ["critic_scores", "roc_auc", "spearman", "noise_only_pairs", "separation"]


def critic_scores(critic, images, batch_size=40):
    """f(x) for every image (N,), without a graph."""
    critic.eval()
    out = []
    with mg.no_grad():
        for start in range(0, len(images), batch_size):
            out.append(critic(mg.tensor(images[start:start + batch_size])).numpy().astype(np.float64))
    return np.concatenate(out)


def roc_auc(positive, negative):
    """Area under the ROC curve of scores separating two samples, by ranks (Mann-Whitney U / (n m)):
    P(score of a random positive > score of a random negative), ties counting 1/2. Orientation-free
    separation is max(AUC, 1 - AUC)."""
    positive, negative = np.asarray(positive, float), np.asarray(negative, float)
    values = np.concatenate([positive, negative])
    order = values.argsort(kind="mergesort")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    i = 0
    while i < len(values):                                  # average ranks over ties
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    u = ranks[:len(positive)].sum() - len(positive) * (len(positive) + 1) / 2
    return u / (len(positive) * len(negative))


def spearman(a, b):
    """Spearman's rank correlation of two vectors (no ties expected among class means)."""
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def noise_only_pairs(class_names):
    """Pairs of classes with the same shape and colour and a different noise level."""
    def head(name):
        return name.rsplit(" ", 1)[0]
    return [(i, j) for i, j in itertools.combinations(range(len(class_names)), 2)
            if head(class_names[i]) == head(class_names[j])]


def separation(scores, labels, class_names):
    """Per-class mean/std, and for each of the 45 pairs the separation max(AUC, 1 - AUC)."""
    k = len(class_names)
    table = [{"class": class_names[c], "mean": float(scores[labels == c].mean()),
              "std": float(scores[labels == c].std())} for c in range(k)]
    pairs = {}
    for i, j in itertools.combinations(range(k), 2):
        auc = roc_auc(scores[labels == i], scores[labels == j])
        pairs[(i, j)] = max(auc, 1 - auc)
    noise = noise_only_pairs(class_names)
    values = np.array(list(pairs.values()))
    summary = {"pairs": len(pairs), "auc_ge_0.9": int((values >= 0.9).sum()), "auc_ge_0.99": int((values >= 0.99).sum()),
               "min_auc": float(values.min()), "median_auc": float(np.median(values)),
               "noise_only": {f"{class_names[i]} vs {class_names[j]}": round(pairs[(i, j)], 4) for i, j in noise},
               "noise_only_ge_0.9": int(sum(pairs[p] >= 0.9 for p in noise)),
               "noise_only_ge_0.99": int(sum(pairs[p] >= 0.99 for p in noise))}
    return table, pairs, summary
