"""Dynamic binarisation as a loader: every epoch a fresh Bernoulli draw of the grey levels, then the shuffle.

    loader = BinarizedLoader(train.x, batch_size=100, shuffle=True, seed=0)     # x in [0, 1]
    for x in loader:                 # binary (100, 1, 28, 28), a new draw of every image each epoch

RBMs and VAEs with Bernoulli likelihoods on MNIST are trained this way (Salakhutdinov & Murray 2008). Both
the draw and the shuffle come from the loader's own generator ``rng``, drawn at the start of each epoch, so
``fit``, which checkpoints that generator as it was when the epoch began, replays a killed epoch exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .loader import DataLoader
from .transforms import binarize_dynamic

__all__ = ["BinarizedLoader"]


class BinarizedLoader(DataLoader):
    """A :class:`DataLoader` whose first array (probabilities in [0, 1]) is replaced each epoch by
    ``binarize_dynamic(x, rng)``; the other arrays (labels) pass unchanged."""

    def __iter__(self) -> Iterator[Any]:
        convert = self._converter()
        arrays = (binarize_dynamic(self.arrays[0], self.rng),) + self.arrays[1:]
        order = self.rng.permutation(self.num_samples) if self.shuffle else None
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            indices = (
                order[start : start + self.batch_size] if order is not None else slice(start, start + self.batch_size)
            )
            batch = tuple(convert(array[indices]) for array in arrays)
            yield batch[0] if len(batch) == 1 else batch
