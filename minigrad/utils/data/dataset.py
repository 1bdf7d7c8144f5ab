"""The datasets of ``minigrad.utils.data`` (PyTorch's ``torch.utils.data.dataset``): ``Dataset``,
``IterableDataset``, ``TensorDataset``, ``ConcatDataset``, ``ChainDataset``, ``Subset``,
``StackDataset`` and ``random_split``.

A ``TensorDataset`` (or a ``Subset`` of one) is batched by indexing its tensors with the whole
index array at once (``_get_batch``): no Python loop per sample.
"""
from __future__ import annotations

import bisect
import math
from typing import Generic, Iterable, TypeVar

import numpy as np

from ..._warn_once import warn_user
from ... import backend
from ..._random_factories import stream_of
from ...tensor import Tensor

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset",
           "ChainDataset", "Subset", "random_split"]


# the sample type, so that annotated subclasses (``class Pairs(Dataset[tuple[Tensor, int]])``)
# work as with PyTorch
_T_co = TypeVar("_T_co", covariant=True)
_T_stack = TypeVar("_T_stack", tuple, dict)


class Dataset(Generic[_T_co]):
    """A map-style dataset: subclass it with ``__getitem__(index)`` and ``__len__()``."""

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset[_T_co], Iterable[_T_co]):
    """A stream of samples: subclass it with ``__iter__()`` (a generator reading a file, a
    socket, a simulator...).  A DataLoader batches it in the order it yields.  ``__iter__``
    is abstract (from ``Iterable``): a subclass without one cannot be instantiated."""

    def __add__(self, other):
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """The samples of several iterable datasets, one stream after the other."""

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self):
        total = 0
        for d in self.datasets:     # checked one by one, as the iteration checks them
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            total += len(d)
        return total


def _until_scalar(tensors):
    """The tensors in order; a 0-d one, which has no first dimension to compare, raises
    IndexError when reached (as PyTorch's size(0) does)."""
    for t in tensors:
        if t.dim() == 0:
            raise IndexError("Dimension specified as 0 but tensor has no dimensions")
        yield t


class TensorDataset(Dataset[tuple]):
    """Samples are the i-th rows of the given tensors: ``dataset[i] == (x[i], y[i])``.

    All tensors must have the same first dimension.
    """

    def __init__(self, *tensors):
        # no tensors at all is accepted (as PyTorch does); len() then raises IndexError
        if any(t.shape[0] != tensors[0].shape[0] for t in _until_scalar(tensors)):
            raise AssertionError("Size mismatch between tensors: every tensor's first dimension "
                                 "must be the number of samples, got shapes "
                                 f"{[list(t.shape) for t in tensors]}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]

    def _get_batch(self, indices):
        """The batch of samples ``indices`` (a numpy int array), one fancy-index per tensor."""
        out = []
        for t in self.tensors:
            a = t._array
            idx = indices if isinstance(a, np.ndarray) else backend.to_device(indices, t.device)
            # a tensor that requires grad gives a batch in its graph, as stacking its samples
            # does (inputs of a physics-informed loss, say)
            out.append(t[Tensor._wrap(idx)] if t.requires_grad else Tensor._wrap(a[idx]))
        return out          # a list, as default_collate makes of tuple samples


class Subset(Dataset[_T_co]):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self):
        return len(self.indices)

    def __getitems__(self, indices):
        """The samples at ``indices`` (a list), fetched in one call when the dataset has a
        ``__getitems__`` of its own."""
        getitems = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            return getitems([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def _get_batch(self, indices):
        return self.dataset._get_batch(np.asarray(self.indices, dtype=np.int64)[indices])


class StackDataset(Dataset[_T_stack]):
    """Several datasets of one length side by side: sample ``i`` is the tuple
    ``(d0[i], d1[i], ...)`` of the positional datasets, or the dict ``{name: d[i]}`` of the
    keyword ones (one form or the other, not both)."""

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError("Supported either ``tuple``- (via ``args``) or``dict``- (via "
                             "``kwargs``) like input/output, but both types are given.")
        datasets = args or tuple(kwargs.values())
        if not datasets:
            raise ValueError("At least one dataset should be passed")
        self._length = len(datasets[0])
        if any(len(d) != self._length for d in datasets):
            raise ValueError("Size mismatch between datasets")
        self.datasets = args if args else dict(kwargs)

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __getitems__(self, indices):
        """The samples at ``indices``, as a list (what a DataLoader's fetch asks for)."""
        return [self[i] for i in indices]

    def __len__(self):
        return self._length


def _has_batch_access(dataset):
    """Whether ``dataset._get_batch`` gives what indexing sample by sample would: not for a
    subclass that changes ``__getitem__`` (augmentation, a different sample layout) or
    fetches its batches itself (``__getitems__``, which the loader then calls)."""
    kind = type(dataset)
    if isinstance(dataset, TensorDataset):
        return kind.__getitem__ is TensorDataset.__getitem__ and \
            getattr(kind, "__getitems__", None) is getattr(TensorDataset, "__getitems__", None)
    return (isinstance(dataset, Subset) and kind.__getitem__ is Subset.__getitem__
            and getattr(kind, "__getitems__", None) is getattr(Subset, "__getitems__", None)
            and _has_batch_access(dataset.dataset))


class ConcatDataset(Dataset[_T_co]):
    """The samples of several datasets one after the other."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise AssertionError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise AssertionError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    @staticmethod
    def cumsum(sequence):
        """The running totals of the lengths of ``sequence``'s items ([2, 3] for lengths 2, 1):
        where each dataset ends in the concatenation."""
        sizes, total = [], 0
        for item in sequence:
            total += len(item)
            sizes.append(total)
        return sizes

    def __len__(self):
        return self.cumulative_sizes[-1]

    @property
    def cummulative_sizes(self):
        """The old, misspelt name of ``cumulative_sizes`` (older code reads it)."""
        warn_user("`cummulative_sizes` attribute is renamed to `cumulative_sizes`",
                  FutureWarning)
        return self.cumulative_sizes

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        start = 0 if d == 0 else self.cumulative_sizes[d - 1]
        return self.datasets[d][idx - start]


def random_split(dataset, lengths, generator=None):
    """Shuffle the indices of ``dataset`` and cut them into ``Subset``s of ``lengths``; every
    sample lands in exactly one subset.

    ``lengths`` may also be fractions summing to 1: floor(frac * n) each, the remainder
    handed out one by one from the first subset (PyTorch's rule).
    """
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        subset_lengths = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            subset_lengths.append(int(math.floor(n * frac)))
        remainder = n - sum(subset_lengths)
        for i in range(remainder):
            subset_lengths[i % len(subset_lengths)] += 1
        lengths = subset_lengths
        for i, length in enumerate(lengths):
            if length == 0:
                warn_user(f"Length of split at index {i} is 0. This might result in an "
                          "empty dataset.")
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!"
                         f" (lengths {lengths} sum to {sum(lengths)}, the dataset has {n})")
    perm = stream_of(generator).permutation(n).tolist()
    out, offset = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[offset:offset + length]))
        offset += length
    return out
