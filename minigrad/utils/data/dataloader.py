"""``DataLoader`` (PyTorch's ``torch.utils.data.dataloader``): iterate over a dataset in batches.

Shuffling draws one permutation per epoch from ``generator`` (or minigrad's default
generator), so ``minigrad.manual_seed(0)`` makes the batch order reproducible.
"""
from __future__ import annotations

import itertools
import multiprocessing
import os
from collections import deque
from typing import Generic

import numpy as np

from ..._warn_once import warn_user
from ... import backend
from ..._random_factories import stream_of
from ._utils.collate import default_collate, default_convert
from ._utils.worker import VirtualWorker, get_worker_info  # noqa: F401  (PyTorch exports it)
from .dataset import IterableDataset, _has_batch_access, _T_co
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]

_DONE = object()     # the end of the sampler's keys


class DataLoader(Generic[_T_co]):
    """Iterate over ``dataset`` in batches.

    DataLoader(dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None,
               num_workers=0, collate_fn=None, pin_memory=False, drop_last=False,
               generator=None, ...)

    ``len(loader)`` is the number of batches.  ``batch_size=None`` yields single samples
    (numpy arrays made tensors by ``default_convert``).  An ``IterableDataset`` is batched in
    the order it yields (no sampler, no shuffle).  With ``num_workers=N`` the loading still
    happens in this process, but as N workers would do it (see ``_utils/worker.py``): batch k
    is loaded by worker k mod N with that worker's copy of the dataset and random state,
    seeded as PyTorch seeds its worker processes, after ``worker_init_fn(worker_id)``; an
    ``IterableDataset`` is iterated once per worker, the workers' batches taken in turn.
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
        self._length_reported = None    # len(dataset) when len(loader) read it (a stream)
        self._iterator = None           # kept between epochs with persistent_workers
        self._initialized = True
        _check_worker_number(num_workers)

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
            self._length_reported = n   # (a pass that yields more batches warns)
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
            warn_user("pin_memory_device is deprecated, the current accelerator will be "
                      f"used as the device, ignore pin_memory_device="
                      f"'{self.pin_memory_device}'.")
        if self.pin_memory and not backend.is_cuda_available():
            warn_user("'pin_memory' argument is set as true but no accelerator is found, "
                      "then device pinned memory won't be used.")
        if self.num_workers == 0:
            return _LoaderIter(self)
        if not self.persistent_workers:
            _check_worker_number(self.num_workers)
            return _WorkersLoaderIter(self)
        # persistent workers keep their dataset copies and random states between epochs
        if self._iterator is None:
            _check_worker_number(self.num_workers)
            self._iterator = _WorkersLoaderIter(self)
        else:
            self._iterator._reset()
        return self._iterator

    def _keys(self):
        """What the sampler gives, batch by batch: a list of keys (or one key without
        automatic batching)."""
        if not self._auto_collation:
            return iter(self.sampler)
        if isinstance(self.batch_sampler, BatchSampler) and \
                type(self.batch_sampler).__iter__ is BatchSampler.__iter__:
            return self.batch_sampler._batches()      # (a subclass's own __iter__ is its word)
        return iter(self.batch_sampler)      # lists of indices (or of other keys)

    def _fetch(self, dataset, keys):
        """One batch of ``dataset`` (the loader's own or a worker's copy), collated."""
        if not self._auto_collation:
            return self.collate_fn(dataset[keys])
        if self._vectorised:
            return dataset._get_batch(np.asarray(keys, dtype=np.int64))
        keys = keys.tolist() if isinstance(keys, np.ndarray) else list(keys)
        getitems = getattr(dataset, "__getitems__", None)
        if callable(getitems):          # the dataset fetches a whole batch itself
            return self.collate_fn(getitems(keys))
        return self.collate_fn([dataset[k] for k in keys])

    def _iter_stream(self, dataset):
        """An IterableDataset's samples, in groups of batch_size (or one by one)."""
        if not self._auto_collation:
            for sample in dataset:
                yield self.collate_fn(sample)
            return
        batch = []
        for sample in dataset:
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


def _base_seed(loader):
    """The base seed PyTorch's iterator draws for its workers as it is made (with or without
    workers): one int64 draw from the loader's generator, which a seeded program's later
    draws follow."""
    return int(stream_of(loader.generator).integers(1, 0, 1 << 63)[0])


class _LoaderIter:
    """What ``iter(loader)`` gives: the batches of one pass, with ``len()`` the loader's
    length (a progress bar over ``iter(loader)`` reads it) and ``_num_yielded`` the number of
    batches given so far, as PyTorch's single-process iterator has."""

    def __init__(self, loader):
        self._loader = loader
        self._base_seed = _base_seed(loader)
        self._reset()

    def _reset(self):
        self._batches = self._pass()        # (lazy: the sampler draws at the first batch)
        self._num_yielded = 0
        self._length_reported = self._loader._length_reported

    def _pass(self):
        loader = self._loader
        if loader._iterable:
            return loader._iter_stream(loader.dataset)
        return self._map_pass()

    def _map_pass(self):
        # a generator function, not a generator expression: the sampler draws at the first
        # batch, as PyTorch's single-process iterator's does, not at ``iter(loader)``
        loader = self._loader
        for keys in loader._keys():
            yield loader._fetch(loader.dataset, keys)

    def __iter__(self):
        return self

    def __next__(self):
        batch = self._next_batch()
        self._num_yielded += 1
        if self._length_reported is not None and self._num_yielded > self._length_reported:
            message = (f"Length of IterableDataset {self._loader.dataset} was reported to be "
                       f"{self._length_reported}(when accessing len(dataloader)), but "
                       f"{self._num_yielded} samples have been fetched. ")
            if self._loader.num_workers > 0:
                message += ("For multiprocessing data-loading, this could be caused by not "
                            "properly configuring the IterableDataset replica at each worker. "
                            "Please see https://pytorch.org/docs/stable/data.html#torch.utils."
                            "data.IterableDataset for examples.")
            warn_user(message)
        return batch

    def _next_batch(self):
        return next(self._batches)

    def __len__(self):
        return len(self._loader)


class _WorkersLoaderIter(_LoaderIter):
    """The iterator of a loader with workers: the same batches PyTorch's worker processes
    give, loaded here in the order PyTorch hands them out (see ``_utils/worker.py``).

    PyTorch's iterator hands out prefetch_factor * num_workers tasks as it is made (drawing
    their keys from the sampler then) and one more each time a batch is taken; a task goes to
    the next worker in turn whose IterableDataset stream has not ended.  A worker loads its
    tasks in the order it got them, so loading a task here only when its batch is wanted
    gives the same batches; what is kept of the arrangement is what a program sees: the
    sampler's draws at ``iter(loader)``, and, with persistent workers, the tasks handed out
    but not taken when a new epoch begins, which the workers still load (their random
    states move on) before the new epoch's."""

    def __init__(self, loader):
        self._loader = loader
        self._base_seed = _base_seed(loader)
        self._workers = [VirtualWorker(i, loader.num_workers, self._base_seed, loader.dataset)
                         for i in range(loader.num_workers)]
        if loader.worker_init_fn is not None:
            for worker in self._workers:
                worker.run(loader.worker_init_fn, worker.info.id)
        self._tasks = deque()
        self._reset()

    def _reset(self):
        loader, n = self._loader, len(self._workers)
        self._drain()
        self._num_yielded = 0
        self._length_reported = loader._length_reported
        self._active = [True] * n
        self._turn = itertools.cycle(range(n))
        if loader._iterable:
            # each worker iterates its own copy (made afresh for each epoch)
            self._streams = [loader._iter_stream(w.info.dataset) for w in self._workers]
        else:
            self._keys_left = iter(loader._keys())
        for _ in range(loader.prefetch_factor * n):
            self._hand_out()

    def _hand_out(self):
        """One more task: the sampler's next keys (None for an IterableDataset), given to the
        next worker in turn that is still active (a task that finds none is dropped)."""
        keys = None
        if not self._loader._iterable:
            keys = next(self._keys_left, _DONE)
            if keys is _DONE:
                return
        for _ in range(len(self._workers)):
            w = next(self._turn)
            if self._active[w]:
                self._tasks.append((w, keys))
                return

    def _load(self, w, keys):
        worker = self._workers[w]
        if self._loader._iterable:
            return worker.run(next, self._streams[w])
        return worker.run(self._loader._fetch, worker.info.dataset, keys)

    def _next_batch(self):
        while self._tasks:
            w, keys = self._tasks.popleft()
            if not self._active[w]:
                continue                # handed out before its worker's stream ended
            try:
                batch = self._load(w, keys)
            except StopIteration:
                self._active[w] = False
                self._hand_out()
                continue
            except Exception:
                self._hand_out()        # PyTorch hands out the next task, then raises
                raise
            self._hand_out()
            return batch
        raise StopIteration

    def _drain(self):
        """Persistent workers load what they were handed and was not taken before they
        begin a new epoch: the batches are dropped, their random draws are not."""
        while self._tasks:
            w, keys = self._tasks.popleft()
            if not self._active[w]:
                continue
            try:
                self._load(w, keys)
            except StopIteration:
                self._active[w] = False
            except Exception:  # noqa: BLE001 (PyTorch drops a dropped batch's error too)
                pass


def _check_worker_number(num_workers):
    """PyTorch's warning when a loader asks for more workers than this process may use CPUs
    (a worker each: more would only compete for them)."""
    if not num_workers:
        return
    try:
        cpus = len(os.sched_getaffinity(0))
        cpuset_note = ""
    except AttributeError:
        cpus = os.cpu_count()
        cpuset_note = " (`cpuset` is not taken into account)"
    if cpus is not None and num_workers <= cpus:
        return
    suggestion = ("DataLoader is not able to compute a suggested max number of worker in "
                  "current system." if cpus is None else
                  f"Our suggested max number of worker in current system is {cpus}"
                  f"{cpuset_note}, which is smaller than what this DataLoader is going to "
                  f"create.")
    warn_user(f"This DataLoader will create {num_workers} worker processes in total. "
              f"{suggestion} Please be aware that excessive worker creation might get "
              f"DataLoader running slow or even freeze, lower the worker number to avoid "
              f"potential slowness/freeze if necessary.")


# PyTorch's names for the loader's iterator classes (code that checks or patches the iterator
# refers to them)
_BaseDataLoaderIter = _SingleProcessDataLoaderIter = _LoaderIter
_MultiProcessingDataLoaderIter = _WorkersLoaderIter
