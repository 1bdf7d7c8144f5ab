"""The samplers (PyTorch's ``torch.utils.data.sampler``): the order in which a DataLoader
visits a map-style dataset.  ``SequentialSampler``, ``RandomSampler``, ``SubsetRandomSampler``,
``WeightedRandomSampler`` and ``BatchSampler``.  Each gives one epoch's indices at once as a
numpy array (``_index_array``), drawn from ``generator`` or minigrad's default generator."""
from __future__ import annotations

import numbers

import numpy as np

from ..._random_factories import default_generator
from ...tensor import Tensor

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]


def _epoch_indices(sampler):
    """One epoch of ``sampler``: an int64 array, in one go for minigrad's samplers (whose
    iteration is their ``_index_array``); a list when a sampler yields other keys (strings,
    tuples), which the dataset's ``__getitem__`` then receives as they are."""
    if (isinstance(sampler, Sampler) and type(sampler).__iter__ is Sampler.__iter__
            and type(sampler)._index_array is not Sampler._index_array):
        return np.asarray(sampler._index_array(), dtype=np.int64)
    items = list(iter(sampler))
    if all(isinstance(i, numbers.Integral) for i in items):
        return np.asarray(items, dtype=np.int64)
    return items


class Sampler:
    """Yields dataset indices; ``_index_array()`` gives one epoch's indices at once."""

    def __iter__(self):
        return iter(self._index_array().tolist())

    def _index_array(self):
        return np.fromiter(iter(self), dtype=np.int64)


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def _index_array(self):
        return np.arange(len(self.data_source))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
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

    def _index_array(self):
        rng = (self.generator or default_generator).rng
        n = len(self.data_source)
        if self.replacement:
            return rng.integers(0, n, self.num_samples)
        reps = -(-self.num_samples // n)
        return np.concatenate([rng.permutation(n) for _ in range(reps)])[:self.num_samples]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices, in a random order each epoch."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def _index_array(self):
        rng = (self.generator or default_generator).rng
        return np.asarray(self.indices)[rng.permutation(len(self.indices))]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
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
        rng = (self.generator or default_generator).rng
        if self.replacement:
            return rng.choice(len(w), size=self.num_samples, p=w / w.sum()).astype(np.int64)
        if self.num_samples > len(w):
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                               "replacement")
        # Without replacement: sort by exponential keys E / w (the weighted draw one at a time,
        # in one go); zero weights get key inf and come last, as in PyTorch's multinomial.
        with np.errstate(divide="ignore"):
            keys = rng.exponential(size=len(w)) / w
        return np.argsort(keys, kind="stable")[:self.num_samples].astype(np.int64)

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
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
        idx = _epoch_indices(self.sampler)
        stop = (len(idx) // self.batch_size) * self.batch_size if self.drop_last else len(idx)
        return [idx[i:i + self.batch_size] for i in range(0, stop, self.batch_size)]

    def __iter__(self):
        return (b.tolist() if isinstance(b, np.ndarray) else b for b in self._batches())

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return -(-len(self.sampler) // self.batch_size)
