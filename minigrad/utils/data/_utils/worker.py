"""Loader workers (PyTorch's ``torch.utils.data._utils.worker``), run in this process.

A PyTorch ``DataLoader`` with ``num_workers=N`` starts N processes.  Each gets its own copy of
the dataset, seeds its random number generators from one base seed the loader drew, calls
``worker_init_fn(worker_id)``, and then loads the batches the main process hands it in turn
(batch k goes to worker k mod N).  minigrad loads in this process, one batch at a time, but it
keeps what a program can observe of that arrangement, so that a seeded program draws the same
numbers and sees the same batches in the same order:

* each worker has its own shallow copy of the dataset (``get_worker_info().dataset``: an
  attribute a ``worker_init_fn`` sets on it stays with that worker);
* each has its own random state, seeded as PyTorch seeds a worker process: Python's ``random``
  and minigrad's default generator with ``base_seed + worker_id``, numpy's global generator
  with the four words of ``numpy.random.SeedSequence([worker_id, low 32 bits of base_seed,
  high 32 bits, 0])``; while the worker loads, these are the process's states, and the main
  program's are put back after it (so its own draws are unaffected, as with processes);
* ``get_worker_info()`` describes the worker while it loads, and is None elsewhere.

What processes would isolate beyond that (a dataset's lists changed in place, module globals)
is shared here.
"""
from __future__ import annotations

import copy
import random
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...._random_factories import Generator, default_generator

__all__ = ["get_worker_info", "WorkerInfo"]


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker.

    id: the worker's number, 0 .. num_workers - 1; num_workers: how many the loader has;
    seed: the seed of the worker's ``random`` and minigrad generators (base_seed + id);
    dataset: the worker's own copy of the dataset."""
    id: int
    num_workers: int
    seed: int
    dataset: Any
    rng: Any = None
    worker_method: str | None = "multiprocessing"


_worker_info = None


def get_worker_info():
    """The ``WorkerInfo`` of the loader worker now loading, or None outside one (in the main
    program).  An ``IterableDataset`` reads it to give each worker its own share."""
    return _worker_info


def _exchange(a, b):
    """Swap the whole state of two generators in place (their stream, numpy view and seed)."""
    a.__dict__, b.__dict__ = b.__dict__, a.__dict__


class VirtualWorker:
    """One loader worker: a copy of the dataset and three random states that are swapped in
    while it loads (``with worker.active(): ...``)."""

    def __init__(self, worker_id, num_workers, base_seed, dataset):
        seed = base_seed + worker_id
        self.info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                               dataset=copy.copy(dataset))
        self._python_state = random.Random(seed).getstate()
        self._generator = Generator().manual_seed(seed)
        words = np.random.SeedSequence(
            [worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32, 0]).generate_state(4)
        self._numpy_state = np.random.RandomState(words).get_state()

    @contextmanager
    def active(self):
        global _worker_info
        outer_info, _worker_info = _worker_info, self.info
        outer_python, outer_numpy = random.getstate(), np.random.get_state()
        random.setstate(self._python_state)
        np.random.set_state(self._numpy_state)
        _exchange(default_generator, self._generator)
        try:
            yield self.info
        finally:
            _exchange(default_generator, self._generator)
            self._python_state, self._numpy_state = random.getstate(), np.random.get_state()
            random.setstate(outer_python)
            np.random.set_state(outer_numpy)
            _worker_info = outer_info

    def run(self, fn, *args):
        """``fn(*args)`` inside this worker; an exception leaving it is raised again as
        PyTorch's main process raises a worker's: its type, the message "Caught <type> in
        DataLoader worker process <id>." and the original traceback's text."""
        with self.active():
            try:
                return fn(*args)
            except StopIteration:
                raise
            except Exception as error:
                wrapped = _as_in_main(error, self.info.id)
        raise wrapped from None


class _KeyErrorMessage(str):
    """A KeyError's message that prints as it is (KeyError shows its argument's repr)."""

    def __repr__(self):
        return self


def _as_in_main(error, worker_id):
    """The exception PyTorch's main process raises for ``error`` caught in worker
    ``worker_id`` (its ExceptionWrapper.reraise): the same type built from one message that
    holds the worker's traceback, or RuntimeError where the type cannot be built so."""
    kind = type(error)
    original = "".join(traceback.format_exception(kind, error, error.__traceback__))
    message = (f"Caught {kind.__name__} in DataLoader worker process {worker_id}.\n"
               f"Original {original}")
    note = f"(raised in DataLoader worker {worker_id}, which minigrad runs in the main process)"
    if kind is KeyError:
        message = _KeyErrorMessage(message)
    try:
        if getattr(kind, "message", None):
            wrapped = kind(message=message)
        else:
            wrapped = kind(message)
    except Exception:  # noqa: BLE001 (a type taking other arguments: PyTorch's fallback)
        wrapped = RuntimeError(message)
    wrapped.add_note(note)
    return wrapped
