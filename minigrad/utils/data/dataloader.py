"""``DataLoader`` (PyTorch's ``torch.utils.data.dataloader``): iterate over a dataset in batches.

Shuffling draws one permutation per epoch from ``generator`` (or minigrad's default
generator), so ``minigrad.manual_seed(0)`` makes the batch order reproducible.
"""
from __future__ import annotations

import multiprocessing
import warnings
from typing import Generic

import numpy as np

from ... import backend
from ..._random_factories import stream_of
from ._utils.collate import default_collate, default_convert
from ._utils.worker import get_worker_info  # noqa: F401  (PyTorch exports it here)
from .dataset import IterableDataset, _has_batch_access, _T_co
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]


class DataLoader(Generic[_T_co]):
    """Iterate over ``dataset`` in batches.

    DataLoader(dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None,
               num_workers=0, collate_fn=None, pin_memory=False, drop_last=False,
               generator=None, ...)

    ``len(loader)`` is the number of batches.  ``batch_size=None`` yields single samples
    (numpy arrays made tensors by ``default_convert``).  An ``IterableDataset`` is batched in
    the order it yields (no sampler, no shuffle).  Workers are not used: ``num_workers`` and
    the options for them are accepted and kept, and the loading happens in this process.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False,
                 timeout=0, worker_init_fn=None, multiprocessing_context=None, generator=None,
                 *, prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 "
                             "to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing.let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        _check_multiprocessing_context(multiprocessing_context, num_workers)
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            for name, value in (("shuffle", shuffle), ("sampler", sampler),
                                ("batch_sampler", batch_sampler)):
                if value not in (None, False):
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                     f"{name} option, but got {name}={value}")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        self.dataset = dataset
        self.num_workers = num_workers
        self.generator = generator
        self.drop_last = drop_last
        self.batch_size = batch_size
        self.pin_memory, self.pin_memory_device = pin_memory, pin_memory_device
        self.timeout, self.worker_init_fn = timeout, worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        # batches each worker loads ahead: 2 by default once there are workers, as PyTorch
        self.prefetch_factor = None if num_workers == 0 else \
            (2 if prefetch_factor is None else prefetch_factor)
        self.persistent_workers, self.in_order = persistent_workers, in_order
        if self._iterable:
            # the dataset decides the order; the sampler only stands in (code reads
            # loader.sampler / loader.batch_sampler.batch_size for any loader)
            sampler = _InfiniteConstantSampler()
            if batch_size is not None:
                batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        elif sampler is None:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self._auto_collation = batch_sampler is not None
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if self._auto_collation else default_convert)
        self._vectorised = collate_fn is None and _has_batch_access(dataset)
        self._initialized = True

    def __setattr__(self, name, value):
        # the batches come from what __init__ built: a later change of these would be ignored
        if self.__dict__.get("_initialized") and name in (
                "batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
                "persistent_workers"):
            raise ValueError(f"{name} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        super().__setattr__(name, value)

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)       # TypeError when the stream has no length, as torch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)

    def __iter__(self):
        # the checks run when the iterator is made (``iter(loader)``), not at its first batch
        if self.num_workers == 0 and self.timeout != 0:
            # a timeout bounds the wait for a worker's batch; with no workers PyTorch refuses it
            raise AssertionError("_SingleProcessDataLoaderIter requires timeout == 0")
        if self.pin_memory and self.pin_memory_device:
            warnings.warn("pin_memory_device is deprecated, the current accelerator will be "
                          f"used as the device, ignore pin_memory_device="
                          f"'{self.pin_memory_device}'.", stacklevel=2)
        if self.pin_memory and not backend.is_cuda_available():
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, "
                          "so pinned memory is not used.", stacklevel=2)
        return _LoaderIter(self)

    def _iter_batches(self):
        if self._iterable:
            yield from self._iter_stream()
            return
        if not self._auto_collation:
            for i in self.sampler:
                yield self.collate_fn(self.dataset[i])
            return
        if isinstance(self.batch_sampler, BatchSampler):
            batches = self.batch_sampler._batches()
        else:
            batches = iter(self.batch_sampler)       # lists of indices (or of other keys)
        getitems = getattr(self.dataset, "__getitems__", None)
        for idx in batches:
            if self._vectorised:
                yield self.dataset._get_batch(np.asarray(idx, dtype=np.int64))
                continue
            keys = idx.tolist() if isinstance(idx, np.ndarray) else list(idx)
            if callable(getitems):          # the dataset fetches a whole batch itself
                yield self.collate_fn(getitems(keys))
            else:
                yield self.collate_fn([self.dataset[k] for k in keys])

    def _iter_stream(self):
        """An IterableDataset's samples, in groups of batch_size (or one by one)."""
        if not self._auto_collation:
            for sample in self.dataset:
                yield self.collate_fn(sample)
            return
        batch = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)


def _check_multiprocessing_context(context, num_workers):
    """PyTorch's checks of ``multiprocessing_context`` (the loading stays in this process):
    only with workers, and a string must name a start method of this platform."""
    if context is None:
        return
    if num_workers == 0:
        raise ValueError("multiprocessing_context can only be used with multi-process loading "
                         f"(num_workers > 0), but got num_workers={num_workers}")
    if isinstance(context, str):
        valid = multiprocessing.get_all_start_methods()
        if context not in valid:
            raise ValueError("multiprocessing_context option should specify a valid start "
                             f"method in {valid!r}, but got multiprocessing_context="
                             f"{context!r}")
    elif not isinstance(context, multiprocessing.context.BaseContext):
        raise TypeError("multiprocessing_context option should be a valid context object or "
                        f"a string specifying the start method, but got "
                        f"multiprocessing_context={context}")


class _InfiniteConstantSampler(Sampler):
    """The sampler of a loader over an IterableDataset: None, forever (the dataset yields
    its samples in its own order; this only fills ``loader.sampler``)."""

    def __iter__(self):
        while True:
            yield None


class _LoaderIter:
    """What ``iter(loader)`` gives: the batches of one pass, with ``len()`` the loader's
    length (a progress bar over ``iter(loader)`` reads it) and ``_num_yielded`` the number of
    batches given so far, as PyTorch's single-process iterator has."""

    def __init__(self, loader):
        self._loader = loader
        self._batches = loader._iter_batches()     # (lazy: the sampler draws at the first)
        # PyTorch's iterator draws a base seed for its workers as it is made: one int64 draw
        # from the loader's generator, which a seeded program's later draws follow
        self._base_seed = int(stream_of(loader.generator).integers(1, 0, 1 << 63)[0])
        self._num_yielded = 0

    def __iter__(self):
        return self

    def __next__(self):
        batch = next(self._batches)
        self._num_yielded += 1
        return batch

    def __len__(self):
        return len(self._loader)


# PyTorch's names for the loader's iterator classes (code that checks or patches the iterator
# refers to them); with one process there is one class
_BaseDataLoaderIter = _SingleProcessDataLoaderIter = _LoaderIter
