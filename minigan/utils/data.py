"""``torch.utils.data`` under its own names: ``Dataset``, ``TensorDataset``, ``Subset``, ``random_split``,
``DataLoader``, ``default_collate``.

    import minigan.utils.data as data                 # or: from minigan.utils.data import DataLoader
    train, test = data.random_split(data.TensorDataset(x, y), [0.8, 0.2])
    for x_batch, y_batch in data.DataLoader(train, batch_size=64, shuffle=True, drop_last=True):
        ...

The batches are PyTorch's: a ``TensorDataset`` gives ``[x_batch, y_batch]`` (a list, as PyTorch's
``default_collate`` turns tuples into lists), a data set of dicts gives a dict of batches, Python floats
become float64 tensors and ints int64 ones. Loading is in-process: ``num_workers`` and ``pin_memory`` are
accepted and change nothing (the data are in memory; the batches are the same). ``sampler``,
``batch_sampler`` and the worker hooks are not provided and refused.

Randomness: ``generator`` is a seed (an int) or a ``numpy.random.Generator``, not a ``torch.Generator``;
without one, a seed is drawn from minigan's CPU generator when the loader (or split) is made, so
``mg.manual_seed`` makes a run reproducible as ``torch.manual_seed`` does -- the same order semantics
(every epoch a fresh permutation), not PyTorch's random numbers. The loader's generator is ``loader.rng``,
as in ``minigan.data.DataLoader``, so ``minigan.training.fit`` checkpoints it and resumes exactly.

``minigan.data.DataLoader(x, y, batch_size=64, ...)`` stays minigan's loader over aligned arrays (its
first arguments are arrays, not a data set, and its batch size defaults to 64); both share the batching
code of ``minigan.data.loader.Batching``.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

import numpy

from .. import backend
from ..data.loader import Batching
from ..tensor import Tensor, tensor

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from ..typing import ArrayLike

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "DataLoader", "default_collate"]


class Dataset:
    """A map-style data set: ``dataset[i]`` is sample i and ``len(dataset)`` their number (subclass it)."""

    def __getitem__(self, index: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__ (and __len__)")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__ (and __getitem__)")


class TensorDataset(Dataset):
    """Sample i is ``tuple(t[i] for t in tensors)``; the tensors (or arrays) share their first dimension."""

    def __init__(self, *tensors: Tensor | ArrayLike) -> None:
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        self.tensors = tuple(t if isinstance(t, Tensor) else tensor(numpy.asarray(t)) for t in tensors)
        sizes = [t.shape[0] if t.ndim else None for t in self.tensors]
        if None in sizes or len(set(sizes)) != 1:
            raise ValueError(
                f"TensorDataset: every tensor needs the same first (sample) dimension, got shapes "
                f"{[t.shape for t in self.tensors]}"
            )

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __getitem__(self, index: int | list[int]) -> Any:
        if isinstance(index, list):
            return [self.dataset[self.indices[i]] for i in index]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


def _rng(generator: int | numpy.random.Generator | None, where: str) -> numpy.random.Generator:
    """A numpy Generator from ``generator`` (None: seeded from minigan's CPU generator, an int seed, or a
    numpy Generator used as it is)."""
    if generator is None:
        return numpy.random.default_rng(int(backend.generator("cpu").integers(2**63)))
    if isinstance(generator, numpy.random.Generator):
        return generator
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool) and generator >= 0:
        return numpy.random.default_rng(int(generator))
    raise TypeError(
        f"{where}: generator must be None, a seed (an int >= 0) or a numpy.random.Generator, got "
        f"{type(generator).__name__} (minigan has no torch.Generator)"
    )


def random_split(
    dataset: Dataset, lengths: Sequence[int | float], generator: int | numpy.random.Generator | None = None
) -> list[Subset]:
    """``dataset`` split at random into ``Subset``s of the given ``lengths``: counts summing to its length,
    or fractions summing to 1 (each floor(fraction * n), the remainder handed out one by one from the
    first, as PyTorch)."""
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(f, float) for f in lengths) and math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1:
        if any(f < 0 for f in lengths):
            raise ValueError(f"random_split: fractions must be >= 0, got {lengths}")
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if (
        not all(isinstance(k, numbers.Integral) and not isinstance(k, bool) and k >= 0 for k in lengths)
        or sum(lengths) != n
    ):
        raise ValueError(
            f"random_split: lengths must be counts >= 0 summing to the data set's length {n}, or "
            f"fractions summing to 1; got {lengths}"
        )
    order = _rng(generator, "random_split").permutation(n)
    starts = numpy.cumsum([0] + lengths)
    return [Subset(dataset, order[start : start + k].tolist()) for start, k in zip(starts, lengths)]


def default_collate(batch: list[Any]) -> Any:
    """One batch out of a list of samples, as ``torch.utils.data.default_collate``: Tensors and arrays
    stacked along a new first dim, Python floats/ints/bools as float64/int64/bool tensors, strings left as a
    list, and dicts, tuples and lists collated field by field (tuples give lists; named tuples stay)."""
    from ..functional import stack

    first = batch[0]
    if isinstance(first, Tensor):
        return stack(batch)
    if isinstance(first, numpy.ndarray) or isinstance(first, numpy.generic) and not isinstance(first, numpy.str_):
        return tensor(numpy.stack([numpy.asarray(sample) for sample in batch]))
    if isinstance(first, bool):
        return tensor(batch, dtype="bool")
    if isinstance(first, numbers.Integral):
        return tensor(batch, dtype="int64")
    if isinstance(first, numbers.Real):
        return tensor(batch, dtype="float64")
    if isinstance(first, (str, bytes)):
        return list(batch)
    if isinstance(first, dict):
        return {key: default_collate([sample[key] for sample in batch]) for key in first}
    if isinstance(first, tuple) and hasattr(first, "_fields"):
        return type(first)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(first, (tuple, list)):
        if len({len(sample) for sample in batch}) != 1:
            raise ValueError("default_collate: the samples of a batch must all have the same number of fields")
        return [default_collate(list(field)) for field in zip(*batch)]
    raise TypeError(
        f"default_collate: a batch must hold tensors, NumPy arrays, numbers, strings, dicts or "
        f"sequences; found {type(first).__name__}"
    )


class DataLoader(Batching):
    """Batches of a data set, as ``torch.utils.data.DataLoader`` (see the module docstring)."""

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        sampler: None = None,
        batch_sampler: None = None,
        num_workers: int = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: None = None,
        generator: int | numpy.random.Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
    ) -> None:
        for name, value in (("sampler", sampler), ("batch_sampler", batch_sampler), ("worker_init_fn", worker_init_fn)):
            if value is not None:
                raise NotImplementedError(
                    f"DataLoader: {name} is not provided by minigan (use shuffle, "
                    "batch_size and drop_last, or a Subset)"
                )
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be an int >= 0, got {num_workers!r}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {type(collate_fn).__name__}")
        self.dataset = dataset
        self.collate_fn = collate_fn
        self._set_batching(
            len(dataset),
            batch_size,
            shuffle,
            drop_last,
            _rng(generator, "DataLoader") if shuffle else numpy.random.default_rng(0),
        )

    def __iter__(self) -> Iterator[Any]:
        whole_tensors = isinstance(self.dataset, TensorDataset) and self.collate_fn is None
        for indices in self._index_batches():
            if whole_tensors:  # the same batch default_collate would stack, gathered in one indexing
                yield [t[indices] for t in self.dataset.tensors]
            else:
                samples = [self.dataset[int(i)] for i in indices]
                yield (self.collate_fn or default_collate)(samples)
