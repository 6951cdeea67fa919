"""Subsets of a labelled data set.

    rows = stratified(train.y, 100, seed=0)      # 10 indices of each of the 10 digits

``stratified`` is the labelled subset of a semi-supervised run (100 labels, Salimans et al. 2016) and the
training sets of a learning curve (Ng & Jordan 2002): the same number of examples of every class, drawn
without replacement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..typing import ArrayLike

__all__ = ["stratified", "training_subset"]


def stratified(labels: ArrayLike, n: int, seed: int | None) -> np.ndarray:
    """n // K indices of each of the K classes present in ``labels`` (N,), drawn without replacement by
    ``numpy.random.default_rng(seed)``, class after class in ascending label order -> int64 (K * (n // K),).

    Raises ValueError when n < K (not one example per class) or a class has fewer than n // K examples."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    per_class = int(n) // len(classes)
    if per_class < 1:
        raise ValueError(f"stratified: n = {n} is fewer than one example for each of the {len(classes)} classes")
    rng = np.random.default_rng(seed)
    rows = []
    for c in classes:
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise ValueError(f"stratified: class {c} has {len(members)} examples, {per_class} were asked for")
        rows.append(rng.choice(members, per_class, replace=False))
    return np.concatenate(rows).astype(np.int64)


def training_subset(labels: ArrayLike, n: int, seed: int | None) -> np.ndarray:
    """The rows of an n-example training set drawn from a labelled one: all rows, in order, when n is its
    size; otherwise ``stratified(labels, n, seed)`` (n // K of each class), sorted. A data set sorted by
    class (mnist5k is) keeps every class, unlike its first n rows."""
    labels = np.asarray(labels)
    if n >= len(labels):
        return np.arange(len(labels))
    return np.sort(stratified(labels, n, seed))
