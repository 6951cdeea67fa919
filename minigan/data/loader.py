"""A minimal ``DataLoader``: mini-batches of aligned arrays, optionally shuffled under a seed.

    loader = DataLoader(images, labels, batch_size=64, shuffle=True, seed=0)
    for x, y in loader:            # x (64, 3, 64, 64), y (64,) -- Tensors when the engine is present
        ...

Like PyTorch's ``DataLoader`` over a ``TensorDataset``, minus workers: the data are already in memory.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..typing import ArrayLike

__all__ = ["DataLoader", "Batching"]


class Batching:
    """What every loader shares (this one and ``minigan.utils.data.DataLoader``): the checks of
    ``batch_size``/``shuffle``/``drop_last``, ``len()`` and each epoch's batches of sample indices, drawn
    from ``self.rng`` -- the generator ``minigan.training.fit`` checkpoints to resume a run exactly."""

    def _set_batching(
        self, num_samples: int, batch_size: int, shuffle: bool, drop_last: bool, rng: np.random.Generator
    ) -> None:
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, (bool, np.bool_)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        for name, flag in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(flag, (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {flag!r}")
        if num_samples == 0:
            raise ValueError(f"{type(self).__name__} got 0 samples: an epoch would have no batches")
        if drop_last and batch_size > num_samples:
            raise ValueError(
                f"drop_last=True with batch_size {batch_size} > {num_samples} samples: an epoch "
                "would have no batches (use a smaller batch_size or drop_last=False)"
            )
        self.num_samples = num_samples
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.rng = rng

    def __len__(self) -> int:
        """Number of batches per epoch."""
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    def _index_batches(self) -> Iterator[np.ndarray]:
        """One epoch's batches of sample indices (a fresh permutation from ``self.rng`` when shuffling)."""
        order = self.rng.permutation(self.num_samples) if self.shuffle else np.arange(self.num_samples)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield order[start : start + self.batch_size]


class DataLoader(Batching):
    """Iterate over aligned arrays in mini-batches.

    ``*arrays``: one or more arrays with the same first dimension N (e.g. images (N, C, H, W), labels
    (N,)). Each batch is a tuple with one slice per array (a single array gives the slice itself, not a
    1-tuple).

    ``shuffle``: a fresh permutation each epoch, drawn from ``numpy.random.default_rng(seed)`` created
    once, so the sequence of epochs is reproducible under a seed and epochs differ from each other.
    ``drop_last``: drop the final batch when it has fewer than ``batch_size`` rows (GAN training with
    batch statistics often wants equal batches).

    A loader that would yield no batch at all (no samples, or ``drop_last`` with fewer samples than
    ``batch_size``) is refused when it is made: a training loop over it would silently do nothing.

    ``as_tensor``: True -> yield ``minigan.tensor(batch, device=device)``; False -> NumPy arrays (then
    ``device`` must be "cpu"); None (default) -> Tensors if ``minigan.tensor`` can be imported, else arrays.
    The import happens inside the iterator, so this module works without the engine.
    """

    def __init__(
        self,
        *arrays: ArrayLike,
        batch_size: int = 64,
        shuffle: bool = False,
        seed: int | None = None,
        drop_last: bool = False,
        device: str = "cpu",
        as_tensor: bool | None = None,
    ) -> None:
        if not arrays:
            raise ValueError("DataLoader needs at least one array")
        self.arrays = tuple(np.asarray(array) for array in arrays)
        lengths = {array.shape[0] if array.ndim else None for array in self.arrays}
        if None in lengths:
            raise ValueError("every array needs a first (sample) dimension; got a scalar")
        if len(lengths) != 1:
            raise ValueError(f"all arrays must have the same first dimension, got {[a.shape[0] for a in self.arrays]}")
        if as_tensor not in (None, True, False):
            raise ValueError(f"as_tensor must be None, True or False, got {as_tensor!r}")
        if seed is not None and (
            not isinstance(seed, (int, np.integer)) or isinstance(seed, (bool, np.bool_)) or seed < 0
        ):
            raise ValueError(f"seed must be None or an integer >= 0, got {seed!r}")
        if not isinstance(device, str):
            raise ValueError(f"device must be a string such as 'cpu' or 'cuda', got {device!r}")
        if as_tensor is False and device != "cpu":
            raise ValueError(f"NumPy batches live on the CPU; device={device!r} needs as_tensor=True")
        self._set_batching(lengths.pop(), batch_size, shuffle, drop_last, np.random.default_rng(seed))
        self.device = device
        self.as_tensor = as_tensor

    def _converter(self):
        """The function applied to each batch array: identity, or ``minigan.tensor`` on ``self.device``."""
        if self.as_tensor is False:
            return lambda array: array
        try:
            from minigan import tensor  # lazy: the engine may not exist yet, or may be mid-import
        except ImportError:
            if self.as_tensor:
                raise ImportError("DataLoader(as_tensor=True) needs minigan.tensor (the autograd engine)") from None
            if self.device != "cpu":
                raise ValueError(
                    f"device={self.device!r} needs the engine's minigan.tensor, which is not importable"
                ) from None
            return lambda array: array
        return lambda array: tensor(array, device=self.device)

    def __iter__(self) -> Iterator[Any]:
        convert = self._converter()
        for indices in self._index_batches():
            batch = tuple(convert(array[indices]) for array in self.arrays)
            yield batch[0] if len(batch) == 1 else batch
