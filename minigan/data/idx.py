"""IDX files (the format of MNIST and Fashion-MNIST): reader, writer, and the two data sets' loaders.

IDX layout (LeCun, Cortes and Burges, http://yann.lecun.com/exdb/mnist/), all integers big-endian:

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    4 * d bytes the sizes, uint32 each
    the data    prod(sizes) elements, row-major (C order), big-endian

So MNIST images have magic 0x00000803 (uint8, 3-D: N x 28 x 28) and labels 0x00000801 (uint8, 1-D: N).
Files may be gzipped (recognised by their first two bytes, 0x1f 0x8b, not by the name). Reading never
takes more than the header promises: a gzip stream is inflated in bounded chunks and abandoned one byte
past the promised size, so a small file that inflates to gigabytes fails at once with bounded memory.

Data locations
--------------
- MNIST: a directory holding ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
  ``t10k-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]``: the ``root`` argument, else
  ``$MINIGAN_DATA/mnist`` (or ``$MINIGAN_DATA`` itself), else ``~/.cache/minigan/mnist``.
  ``download=True`` fetches the gzipped files from ``mirror`` and checks each against ``MNIST_SHA256``.
- Fashion-MNIST: same four file names, in ``/usr/share/datasets/fashion-mnist`` (Debian package
  ``dataset-fashion-mnist``) or ``$MINIGAN_DATA/fashion-mnist``.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import re
import shutil
import tempfile
import time
import urllib.request
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataFormatError

if TYPE_CHECKING:
    from ..typing import PathLike

__all__ = [
    "DataFormatError",
    "IDX_DTYPES",
    "read_idx",
    "write_idx",
    "MNIST_FILES",
    "MNIST_SHA256",
    "MNIST_MIRROR",
    "FASHION_MNIST_DIR",
    "FASHION_MNIST_CLASSES",
    "data_root",
    "download_file",
    "download_mnist",
    "load_mnist",
    "load_fashion_mnist",
]

# element-type byte -> NumPy dtype (big-endian, as stored)
IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_DTYPE_CODES = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}

# split -> (images file, labels file), names without ".gz"
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# SHA-256 of the four standard gzipped files (9 912 422, 28 881, 1 648 877 and 4 542 bytes), as published
# by several independent mirrors' checksum tables (e.g. PyTorch's ossci-datasets, Google's cvdf-datasets).
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
MNIST_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


# --------------------------------------------------------------------------------------------------
# the format
# --------------------------------------------------------------------------------------------------


# the largest ratio deflate reaches (a run of one byte value): a gzip file cannot inflate to more than this
# many times its size, so a header that promises more is refused before reading
_DEFLATE_MAX_RATIO = 1032
_CHUNK_BYTES = 1 << 20


def read_idx(path: PathLike, expected_magic: int | None = None, expected_shape: tuple | None = None) -> np.ndarray:
    """Read an IDX file (gzipped or not) into an array of native byte order.

    ``expected_magic``: e.g. 0x00000803 for MNIST images; ``expected_shape``: sizes to check, ``None``
    entries match anything (e.g. ``(None, 28, 28)``). Any inconsistency — a wrong magic number, an
    unknown type byte, a header shorter than its dimensions, data shorter or longer than the sizes say,
    a corrupt gzip stream — raises a :class:`DataFormatError` (a ValueError) naming the file and the
    problem. Memory: the data the header promises (at most what the file can hold), never more.
    """
    path = Path(path)
    with open(path, "rb") as raw:
        file_size = os.fstat(raw.fileno()).st_size
        if raw.read(2) != b"\x1f\x8b":
            raw.seek(0)
            return _read_idx_stream(path, raw, file_size, None, expected_magic, expected_shape)
        raw.seek(0)
        try:
            with gzip.GzipFile(fileobj=raw) as stream:
                return _read_idx_stream(path, stream, None, file_size, expected_magic, expected_shape)
        except (EOFError, OSError, zlib.error) as error:  # truncated stream, bad CRC, corrupt deflate data
            raise DataFormatError(f"{path}: corrupt or truncated gzip file ({error})") from None


def _read_idx_stream(path, stream, content_size, gzip_size, expected_magic, expected_shape) -> np.ndarray:
    """The IDX content of ``stream``; ``content_size``: its length when known (a plain file), else
    ``gzip_size``: the compressed file's length, which bounds what it can inflate to."""
    head = _read_at_most(stream, 4)
    if len(head) < 4:
        raise DataFormatError(f"{path}: too short for an IDX header ({len(head)} bytes, need at least 4)")
    magic = int.from_bytes(head, "big")
    if head[0] != 0 or head[1] != 0:
        raise DataFormatError(f"{path}: not an IDX file (magic number 0x{magic:08x}; the first two bytes must be 0)")
    type_code, n_dims = head[2], head[3]
    if type_code not in IDX_DTYPES:
        raise DataFormatError(
            f"{path}: unknown IDX element type 0x{type_code:02x} (magic number 0x{magic:08x}); "
            f"known: {', '.join(f'0x{code:02x}' for code in IDX_DTYPES)}"
        )
    if expected_magic is not None and magic != expected_magic:
        raise DataFormatError(f"{path}: magic number 0x{magic:08x}, expected 0x{expected_magic:08x}")
    header_length = 4 + 4 * n_dims
    sizes = _read_at_most(stream, 4 * n_dims)
    if len(sizes) < 4 * n_dims:
        raise DataFormatError(
            f"{path}: truncated header: {n_dims} dimensions need {header_length} bytes, file has {4 + len(sizes)}"
        )
    shape = tuple(int.from_bytes(sizes[i : i + 4], "big") for i in range(0, 4 * n_dims, 4))
    if expected_shape is not None:
        matches = len(shape) == len(expected_shape) and all(
            want is None or want == got for want, got in zip(expected_shape, shape)
        )
        if not matches:
            raise DataFormatError(f"{path}: dimensions {shape}, expected {expected_shape} (None = any)")
    dtype = IDX_DTYPES[type_code]
    expected_bytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow for any header
    if content_size is not None:  # a plain file: its size says it all
        found_bytes = content_size - header_length
        if found_bytes < expected_bytes:
            raise DataFormatError(
                f"{path}: truncated: dimensions {shape} need {expected_bytes} data bytes, found {found_bytes}"
            )
        if found_bytes > expected_bytes:
            raise DataFormatError(
                f"{path}: {found_bytes - expected_bytes} unexpected bytes after the data of dimensions {shape}"
            )
    elif expected_bytes > _DEFLATE_MAX_RATIO * gzip_size:
        raise DataFormatError(
            f"{path}: truncated: dimensions {shape} need {expected_bytes} data bytes, more than "
            f"a {gzip_size}-byte gzip file can inflate to"
        )
    # one byte more tells a longer stream; a plain file's size was checked, so it is read in one piece
    content = stream.read(expected_bytes + 1) if content_size is not None else _read_at_most(stream, expected_bytes + 1)
    if len(content) < expected_bytes:
        raise DataFormatError(
            f"{path}: truncated: dimensions {shape} need {expected_bytes} data bytes, found {len(content)}"
        )
    if len(content) > expected_bytes:
        raise DataFormatError(
            f"{path}: unexpected bytes after the data of dimensions {shape} (stopped "
            f"reading {expected_bytes + 1} bytes into the data)"
        )
    if math.prod(size for size in shape if size) * dtype.itemsize > np.iinfo(np.intp).max:
        # e.g. (0, 2^32 - 1, 2^32 - 1, 2^32 - 1): no data, yet more elements per row than NumPy can index
        raise DataFormatError(f"{path}: dimensions {shape} are too large for a NumPy array")
    data = np.frombuffer(content, dtype=dtype).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # a writable, native-order copy


def _read_at_most(stream, size: int) -> bytes:
    """Up to ``size`` bytes of ``stream`` (fewer at its end), read in chunks of at most 1 MiB so that a
    large ``size`` costs memory only for the bytes the stream really holds."""
    if size <= _CHUNK_BYTES:
        return stream.read(size)
    chunks, total = [], 0
    while total < size:
        chunk = stream.read(min(_CHUNK_BYTES, size - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def write_idx(path: PathLike, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file; gzipped when ``compress`` is True, or (default) when the name ends in .gz.

    Supported dtypes: uint8, int8, int16, int32, float32, float64. Returns the path.
    """
    path = Path(path)
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _DTYPE_CODES:
        raise ValueError(f"IDX cannot store dtype {array.dtype}; use one of {sorted(str(d) for d in _DTYPE_CODES)}")
    if array.ndim > 255:
        raise ValueError("IDX stores at most 255 dimensions")
    type_code = _DTYPE_CODES[native]
    header = bytes([0, 0, type_code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    content = header + np.ascontiguousarray(array, dtype=IDX_DTYPES[type_code]).tobytes()
    if compress is None:
        compress = path.suffix == ".gz"
    path.write_bytes(gzip.compress(content, mtime=0) if compress else content)
    return path


# --------------------------------------------------------------------------------------------------
# locating and downloading
# --------------------------------------------------------------------------------------------------


def data_root() -> Path:
    """Where minigan keeps data sets: ``$MINIGAN_DATA`` if set, else ``~/.cache/minigan``."""
    configured = os.environ.get("MINIGAN_DATA")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "minigan"


def _find_file(directories, name: str) -> Path | None:
    """The first of ``<dir>/<name>`` or ``<dir>/<name>.gz`` that exists, over ``directories`` in order."""
    for directory in directories:
        for candidate in (Path(directory) / name, Path(directory) / (name + ".gz")):
            if candidate.is_file():
                return candidate
    return None


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_file(
    url: str, destination: PathLike, sha256: str | None, opener: Callable[..., Any] = urllib.request.urlopen
) -> Path:
    """Fetch ``url`` to ``destination``, verifying its SHA-256 before the file appears under its name.

    The bytes go to a temporary file in the destination directory, are hashed, and are renamed into place
    only when the digest equals ``sha256`` (``None`` skips the check — only for mirrors you trust).
    A mismatch removes the temporary file and raises a ValueError with both digests. ``opener`` is
    ``urllib.request.urlopen`` (file:// URLs work too, which the tests use). Temporary files that a killed
    download of the same destination left behind are removed first, with a warning.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_parts(destination)
    handle, temporary_name = tempfile.mkstemp(dir=destination.parent, prefix=destination.name + ".", suffix=".part")
    temporary = Path(temporary_name)
    try:
        with os.fdopen(handle, "wb") as out, opener(url) as response:
            shutil.copyfileobj(response, out)
        if sha256 is not None:
            found = _sha256_of(temporary)
            if found != sha256.lower():
                raise ValueError(f"{url}: SHA-256 mismatch: expected {sha256}, downloaded file has {found}")
        os.replace(temporary, destination)
    finally:
        if temporary.exists():
            temporary.unlink()
    return destination


# a partial download last modified before this module was imported cannot be one this process is writing
_IMPORTED_AT = time.time()


def _remove_stale_parts(destination: Path) -> None:
    """Delete ``NAME.XXXXXXXX.part`` files (``tempfile.mkstemp``'s names for ``download_file``'s temporary
    file) of ``destination`` older than this module's import, saying so with a RuntimeWarning."""
    pattern = re.compile(re.escape(destination.name) + r"\.[a-z0-9_]{8}\.part")
    removed = []
    for entry in os.scandir(destination.parent):
        try:
            if (
                pattern.fullmatch(entry.name)
                and entry.is_file(follow_symlinks=False)
                and entry.stat(follow_symlinks=False).st_mtime < _IMPORTED_AT
            ):
                os.unlink(entry.path)
                removed.append(entry.name)
        except OSError:  # gone meanwhile, or not ours to delete
            continue
    if removed:
        warnings.warn(
            f"{destination}: removed {len(removed)} partial download(s) left by an interrupted "
            f"download: {', '.join(sorted(removed))}",
            RuntimeWarning,
            stacklevel=3,
        )


def download_mnist(
    directory: PathLike | None = None,
    mirror: str = MNIST_MIRROR,
    checksums: dict | None = None,
    opener: Callable[..., Any] = urllib.request.urlopen,
) -> Path:
    """Download the four gzipped MNIST files from ``mirror`` into ``directory`` (default
    ``data_root()/"mnist"``), skipping files already present with the right checksum.

    ``checksums``: file name -> SHA-256, default ``MNIST_SHA256``; a mirror serving other bytes fails
    loudly. Returns the directory.
    """
    directory = Path(directory) if directory is not None else data_root() / "mnist"
    checksums = MNIST_SHA256 if checksums is None else checksums
    base_url = mirror if mirror.endswith("/") else mirror + "/"
    for images_name, labels_name in MNIST_FILES.values():
        for name in (images_name + ".gz", labels_name + ".gz"):
            target = directory / name
            expected = checksums.get(name)
            if target.is_file() and (expected is None or _sha256_of(target) == expected):
                continue
            download_file(base_url + name, target, expected, opener=opener)
    return directory


# --------------------------------------------------------------------------------------------------
# the data sets
# --------------------------------------------------------------------------------------------------


def _read_image_label_pair(directories, split: str, missing_message: str):
    if split not in MNIST_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    images_name, labels_name = MNIST_FILES[split]
    images_path = _find_file(directories, images_name)
    labels_path = _find_file(directories, labels_name)
    if images_path is None or labels_path is None:
        missing = images_name if images_path is None else labels_name
        searched = ", ".join(str(d) for d in directories)
        raise FileNotFoundError(f"{missing}[.gz] not found in {searched}. {missing_message}")
    images = read_idx(images_path, expected_magic=0x00000803, expected_shape=(None, 28, 28))
    labels = read_idx(labels_path, expected_magic=0x00000801)
    if labels.shape[0] != images.shape[0]:
        raise DataFormatError(f"{labels_path}: {labels.shape[0]} labels for {images.shape[0]} images in {images_path}")
    if labels.size and labels.max() > 9:
        raise DataFormatError(f"{labels_path}: labels must be digits 0-9, found {labels.max()}")
    return images, labels


def load_mnist(
    root: PathLike | None = None,
    split: str = "train",
    download: bool = False,
    mirror: str = MNIST_MIRROR,
    checksums: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST from its four IDX files: ``(images (N, 28, 28) uint8, labels (N,) uint8)``.

    N = 60 000 for ``split="train"``, 10 000 for ``"test"``. ``root``: the directory (default
    ``$MINIGAN_DATA/mnist`` or ``~/.cache/minigan/mnist``, then ``$MINIGAN_DATA`` itself).
    ``download=True``: fetch missing files from ``mirror``, verified by ``checksums`` (``MNIST_SHA256``).
    """
    directory = Path(root).expanduser() if root is not None else data_root() / "mnist"
    directories = [directory] if root is not None else [directory, data_root()]
    if download:
        download_mnist(directory, mirror=mirror, checksums=checksums)
    how_to_get = (
        "Put the four MNIST IDX files there (or in $MINIGAN_DATA/mnist), or download them with: "
        "python -c \"import minigan.data as d; d.load('mnist', download=True)\""
        + (f" (with root={str(root)!r})" if root is not None else "")
    )
    return _read_image_label_pair(directories, split, how_to_get)


def load_fashion_mnist(root: PathLike | None = None, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST (Xiao, Rasul and Vollgraf 2017, arXiv:1708.07747) from its IDX files.

    Returns ``(images (N, 28, 28) uint8, labels (N,) uint8)``, N = 60 000 / 10 000; class names in
    ``FASHION_MNIST_CLASSES``. Looks in ``root``, else ``/usr/share/datasets/fashion-mnist`` (Debian's
    ``dataset-fashion-mnist``: ``train-images-idx3-ubyte.gz`` etc.) and ``$MINIGAN_DATA/fashion-mnist``.
    """
    if root is not None:
        directories = [Path(root).expanduser()]
    else:
        directories = [FASHION_MNIST_DIR, data_root() / "fashion-mnist"]
    how_to_get = (
        "Install it with: sudo apt-get install dataset-fashion-mnist "
        "(or put the four Fashion-MNIST IDX files in $MINIGAN_DATA/fashion-mnist)"
    )
    return _read_image_label_pair(directories, split, how_to_get)
