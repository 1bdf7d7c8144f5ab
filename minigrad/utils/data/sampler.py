"""The samplers (PyTorch's ``torch.utils.data.sampler``): the order in which a DataLoader
visits a map-style dataset.  ``SequentialSampler``, ``RandomSampler``, ``SubsetRandomSampler``,
``WeightedRandomSampler`` and ``BatchSampler``.  Each gives one epoch's indices as numpy
arrays (``_index_chunks``: all at once, or, for a RandomSampler, piece by piece as they are
reached, so that ``num_samples=10**10`` costs nothing until drawn), drawn from ``generator``
or minigrad's default generator."""
from __future__ import annotations

import itertools
import numbers
from typing import Generic, TypeVar

import numpy as np

from ..._cpu_stream import CPUStream
from ..._random_factories import stream_of
from ...ops.sampling_more import multinomial
from ...tensor import Tensor

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]


def _epoch_chunks(sampler):
    """One epoch of ``sampler`` in consecutive pieces: int64 arrays, drawn piece by piece for
    minigrad's samplers (whose iteration is their ``_index_chunks``); one list when a sampler
    yields other keys (strings, tuples), which the dataset's ``__getitem__`` then receives as
    they are."""
    if (isinstance(sampler, Sampler) and type(sampler).__iter__ is Sampler.__iter__
            and (type(sampler)._index_array is not Sampler._index_array
                 or type(sampler)._index_chunks is not Sampler._index_chunks)):
        for chunk in sampler._index_chunks():
            yield np.asarray(chunk, dtype=np.int64)
        return
    items = list(iter(sampler))
    if all(isinstance(i, numbers.Integral) for i in items):
        yield np.asarray(items, dtype=np.int64)
    else:
        yield items


_T_co = TypeVar("_T_co", covariant=True)
_BLOCK = 32             # the integers a RandomSampler with replacement draws at a time


class Sampler(Generic[_T_co]):
    """Yields dataset indices; ``_index_array()`` gives one epoch's indices at once.
    Generic in what it yields (``Sampler[int]``, ``Sampler[list[int]]``), as PyTorch's."""

    def __iter__(self):
        if (type(self)._index_array is Sampler._index_array
                and type(self)._index_chunks is Sampler._index_chunks):
            raise NotImplementedError       # a subclass defines __iter__ (or _index_array)
        return itertools.chain.from_iterable(c.tolist() for c in self._index_chunks())

    def _index_array(self):
        if type(self)._index_chunks is not Sampler._index_chunks:
            return np.concatenate([np.asarray(c, dtype=np.int64)
                                   for c in self._index_chunks()])
        return np.fromiter(iter(self), dtype=np.int64)

    def _index_chunks(self):
        """The epoch's indices as consecutive arrays (here all of them in one)."""
        yield self._index_array()


class SequentialSampler(Sampler[int]):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def _index_array(self):
        return np.arange(len(self.data_source))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler[int]):
    """A random permutation each epoch (or ``num_samples`` draws with replacement)."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError("replacement should be a boolean value, but got "
                            f"replacement={replacement}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _index_chunks(self):
        # as PyTorch: without a generator, a fresh one seeded by a draw from the default
        # generator at the first index; then one permutation per epoch and, at the end, one
        # more cut to num_samples % n, each drawn when reached (so that an epoch left early,
        # next(iter(loader)) to peek at a batch, leaves an explicit generator where
        # PyTorch's is); or integers, drawn _BLOCK (32) at a time as they are reached, as
        # PyTorch draws them, so that an epoch left early has advanced the generator as far
        stream = (self.generator.stream if self.generator is not None else
                  CPUStream(int(stream_of(None).integers(1, 0, 1 << 63)[0])))
        n, count = len(self.data_source), self.num_samples
        if self.replacement:
            for _ in range(count // _BLOCK):
                yield stream.integers(_BLOCK, 0, n)
            if count % _BLOCK:
                yield stream.integers(count % _BLOCK, 0, n)
            return
        for _ in range(count // n):
            yield stream.permutation(n)
        yield stream.permutation(n)[:count % n]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given indices, in a random order each epoch."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def _index_array(self):
        return np.asarray(self.indices)[stream_of(self.generator).permutation(len(self.indices))]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """``num_samples`` indices drawn with probabilities proportional to ``weights`` (with
    replacement by default): oversampling the rare classes of an unbalanced dataset."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if (not isinstance(num_samples, numbers.Integral) or isinstance(num_samples, bool)
                or num_samples <= 0):
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError("replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        w = np.asarray(weights._array if isinstance(weights, Tensor) else weights,
                       dtype=np.float64)
        if w.ndim != 1:
            raise ValueError("weights should be a 1d sequence but given weights have shape "
                             f"{tuple(w.shape)}")
        self.weights = Tensor._wrap(w)
        self.num_samples, self.replacement, self.generator = num_samples, replacement, generator

    def _index_array(self):
        w = self.weights._array
        if np.isnan(w).any() or (w < 0).any():
            raise RuntimeError("invalid multinomial distribution (encountering probability "
                               "entry < 0)")
        if np.isinf(w).any():
            raise RuntimeError("invalid multinomial distribution (encountering probability "
                               "entry = infinity or NaN)")
        if w.sum() <= 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        if not self.replacement and self.num_samples > len(w):
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                               "replacement")
        # PyTorch's sampler is one multinomial call (so are its numbers for a seed)
        return multinomial(self.weights, self.num_samples, self.replacement,
                           generator=self.generator)._array

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler[list]):
    """Groups a sampler's indices into lists of ``batch_size`` (the last one shorter unless
    ``drop_last``)."""

    def __init__(self, sampler, batch_size, drop_last):
        if (not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool)
                or batch_size <= 0):
            raise ValueError("batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got "
                             f"drop_last={drop_last}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def _batches(self):
        """One epoch's batches: numpy index arrays, or lists when the sampler yields keys
        that are not integers."""
        size, rest = self.batch_size, None
        for idx in _epoch_chunks(self.sampler):
            if isinstance(idx, list):       # keys that are not integers: one piece
                stop = (len(idx) // size) * size if self.drop_last else len(idx)
                yield from (idx[i:i + size] for i in range(0, stop, size))
                return
            if rest is not None and len(rest):
                idx = np.concatenate([rest, idx])
            full = (len(idx) // size) * size
            yield from (idx[i:i + size] for i in range(0, full, size))
            rest = idx[full:]
        if rest is not None and len(rest) and not self.drop_last:
            yield rest

    def __iter__(self):
        return (b.tolist() if isinstance(b, np.ndarray) else b for b in self._batches())

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return -(-len(self.sampler) // self.batch_size)
