"""The synthetic shapes of source 000 (WGAN critic scores as an unsupervised classifier).

An image is one flat-coloured shape (square, circle or triangle) on a black background, 3 channels,
64x64 pixels, plus independent Gaussian noise on every pixel of every channel. A class is the tuple
(shape, base, sign, noise):

    colour (base, sign) -> channels (base, base + sign * 0.1, base + sign * 0.2)
    pixel  = colour * inside_shape + noise * N(0, 1)

so a class is named like source 000's labels: ``"square (0.85,+1) 0.03"``. Copies of one class differ
only by their noise (source 000: "由于随机噪声，同一类的副本是不相同的"), so the shape's position and size
are fixed: centred, ``extent`` (default 1/2) of the image side. Values are not clipped (0.85 + 0.2 + noise
exceeds 1); scale them yourself (``minigan.data.transforms``) if a model needs a fixed range.

The class lists, and the choices made where source 000 is ambiguous
-----------------------------------------------------------------------
Source 000 states: (a) training has two classes, squares and circles, with the offset sign "+" for the
square and "-" for the circle; (b) the square "(0.85,+1) 0.03" is a training class (it is the reference
whose mean score is subtracted); (c) the test set has 10 classes of 40, two of them the training classes,
a new shape (triangle) and two new colours made by flipping the sign of the old ones; (d) the test
classes it names are circle (0.85,-1) 0.03 and 0.01, circle (0.85,+1) 0.03, square (0.7,+1) 0.03,
triangle (0.7,-1) 0.01, two squares of one colour differing in noise, two triangles of one colour
differing in noise, and triangles of different colours.

The translated text says the new colours (0.85,+1), (0.7,-1) came from the old (0.85,-1), (0.7,+1); that
contradicts (a)+(b) (a "+" square of base 0.85 is then not an old colour). We keep (a) and (b), the two
explicit statements, and read the colour sentence with "old" and "new" exchanged:

- training colours (0.85,+1) for the square and (0.7,-1) for the circle; sign-flipped new colours
  (0.85,-1) and (0.7,+1);
- the training circle's noise is not given; we choose 0.01, so training holds both noise levels (0.01
  and 0.03) that source 000 uses;
- the 10th test class (the triangle of a second colour) is not named; we choose triangle (0.85,+1) 0.03.

``TRAIN_CLASSES`` and ``TEST_CLASSES`` below are the result; both are ordinary parameters of
:func:`make_shapes`, so another reading is one list away.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..typing import DType

__all__ = [
    "ShapeClass",
    "SHAPES",
    "TRAIN_CLASSES",
    "TEST_CLASSES",
    "shape_mask",
    "make_shapes",
    "shapes_train",
    "shapes_test",
]

SHAPES = ("square", "circle", "triangle")
CHANNEL_OFFSETS = np.array([0.0, 0.1, 0.2])  # offsets of channels 1, 2, 3 from the base, times the sign


@dataclass(frozen=True)
class ShapeClass:
    """One class of source 000: a shape, a colour (base, sign) and the pixel-noise standard deviation."""

    shape: str
    base: float
    sign: int
    noise: float

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {SHAPES}, got {self.shape!r}")
        if self.sign not in (-1, 1):
            raise ValueError(f"sign must be +1 or -1, got {self.sign!r}")
        if self.noise < 0:
            raise ValueError(f"noise is a standard deviation and must be >= 0, got {self.noise!r}")

    @property
    def colour(self) -> np.ndarray:
        """RGB of the shape, shape (3,): (base, base + sign*0.1, base + sign*0.2)."""
        return self.base + self.sign * CHANNEL_OFFSETS

    @property
    def name(self) -> str:
        """Source 000's label, e.g. ``"square (0.85,+1) 0.03"``."""
        return f"{self.shape} ({self.base:g},{self.sign:+d}) {self.noise:g}"


TRAIN_CLASSES = (
    ShapeClass("square", 0.85, +1, 0.03),
    ShapeClass("circle", 0.7, -1, 0.01),
)

TEST_CLASSES = (
    # the two training classes
    ShapeClass("square", 0.85, +1, 0.03),
    ShapeClass("circle", 0.7, -1, 0.01),
    # training colours with the other noise level, or on another shape
    ShapeClass("square", 0.85, +1, 0.01),
    ShapeClass("circle", 0.85, +1, 0.03),
    # the sign-flipped (new) colours
    ShapeClass("square", 0.7, +1, 0.03),
    ShapeClass("circle", 0.85, -1, 0.03),
    ShapeClass("circle", 0.85, -1, 0.01),
    # the new shape
    ShapeClass("triangle", 0.7, -1, 0.01),
    ShapeClass("triangle", 0.7, -1, 0.03),
    ShapeClass("triangle", 0.85, +1, 0.03),
)


def shape_mask(shape: str, size: int = 64, extent: float = 0.5) -> np.ndarray:
    """Boolean mask (size, size) of a centred shape whose bounding box is ``extent * size`` pixels wide.

    square: the box itself; circle: the inscribed disc; triangle: isosceles, apex up, base on the bottom
    edge of the box. A pixel is inside when its centre is.
    """
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
    if not 0 < extent <= 1:
        raise ValueError(f"extent must be in (0, 1], got {extent!r}")
    # pixel-centre coordinates relative to the image centre, in units of the half box width
    half_width = extent * size / 2
    coordinates = (np.arange(size) + 0.5 - size / 2) / half_width
    v, u = np.meshgrid(coordinates, coordinates, indexing="ij")  # v: row (down), u: column (right)
    if shape == "square":
        return (np.abs(u) <= 1) & (np.abs(v) <= 1)
    if shape == "circle":
        return u**2 + v**2 <= 1
    # triangle: apex (0, -1), base corners (-1, 1), (1, 1); half-width grows linearly from 0 to 1
    return (v <= 1) & (np.abs(u) <= (v + 1) / 2)


def make_shapes(
    classes: Iterable[ShapeClass] = TRAIN_CLASSES,
    n_per_class: int = 300,
    size: int = 64,
    seed: int | None = 0,
    extent: float = 0.5,
    background: float = 0.0,
    dtype: DType = np.float32,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Generate the images of ``classes``, ``n_per_class`` each, class after class.

    Returns ``(images, labels, class_names)``:
    images (N, 3, size, size) ``dtype`` (NCHW like the engine), N = len(classes) * n_per_class;
    labels (N,) int64, index into ``classes``; class_names: tuple of str, e.g. "square (0.85,+1) 0.03".

    Deterministic: the same ``seed`` (fed to ``numpy.random.default_rng``) gives the same images. The
    work is one broadcast per class plus one normal draw for all pixels, so 1 000 images take a few tens
    of milliseconds.
    """
    classes = tuple(classes)
    if not classes:
        raise ValueError("classes is empty")
    for name, value, low in (("n_per_class", n_per_class, 0), ("size", size, 1)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    rng = np.random.default_rng(seed)
    images = np.empty((len(classes), n_per_class, 3, size, size), dtype=dtype)
    for index, shape_class in enumerate(classes):
        mask = shape_mask(shape_class.shape, size, extent)
        clean = np.where(mask[None], shape_class.colour[:, None, None], background).astype(dtype)  # (3, H, W)
        noise = rng.standard_normal((n_per_class, 3, size, size), dtype=np.float32)
        images[index] = clean + np.asarray(shape_class.noise, dtype) * noise
    labels = np.repeat(np.arange(len(classes), dtype=np.int64), n_per_class)
    class_names = tuple(shape_class.name for shape_class in classes)
    return images.reshape(-1, 3, size, size), labels, class_names


def shapes_train(
    n_per_class: int = 300, size: int = 64, seed: int | None = 0
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Source 000's training set: ``TRAIN_CLASSES`` (2 classes), 300 images each. See :func:`make_shapes`."""
    return make_shapes(TRAIN_CLASSES, n_per_class, size, seed)


def shapes_test(
    n_per_class: int = 40, size: int = 64, seed: int | None = 1
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Source 000's test set: ``TEST_CLASSES`` (10 classes), 40 images each. See :func:`make_shapes`.

    The default seed differs from :func:`shapes_train`'s so that the test copies of the training classes
    are new noise draws, not the first training images again.
    """
    return make_shapes(TEST_CLASSES, n_per_class, size, seed)
