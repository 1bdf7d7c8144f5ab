"""Intra-op threads: large memory-bound passes split over the cores, as PyTorch's CPU kernels do.

numpy runs a ufunc or a copy on one core; only its BLAS (the matrix products) uses more. On a
machine with several cores that leaves most of them idle during the passes that are not
matrix products (padding copies, batch-norm arithmetic, pooling), which are limited by how
fast one core moves memory. numpy releases the GIL inside those loops, so a few Python threads,
each running the same numpy call on its own slice of the leading axis, run them side by side.

    set_num_threads(n)       as torch.set_num_threads: how many threads minigrad's own
                             passes use (and numpy's BLAS, when threadpoolctl is installed)
    get_num_threads()        the current number (default: the CPUs this process may run on,
                             or OMP_NUM_THREADS when set, as PyTorch)
    run_split(fn, n, nbytes) fn(start, stop) over pieces of range(n), in parallel when the
                             pass moves at least MIN_PARALLEL_BYTES
    map_pieces(fn, *arrays)  fn(*pieces) over matching flat pieces of contiguous arrays
    binary(ufunc, a, b)      ufunc(a, b), split when both are large and alike

The threads are started on first use (never at import) and after a fork the child starts its
own. Work handed to ``run_split`` must be plain array operations on views that the pieces
share without overlapping writes.
"""
from __future__ import annotations

import os
import queue
import threading

import numpy as np

__all__ = ["get_num_threads", "set_num_threads", "run_split", "map_pieces", "binary",
           "MIN_PARALLEL_BYTES"]

# Below about this many bytes moved, handing work to another thread (tens of microseconds)
# costs more than it saves: an 8 MB pass ran 1.6x faster on two cores, a 2 MB one no faster
MIN_PARALLEL_BYTES = 4 << 20

_threads = None             # the number set, or None for the default (read on first use)
_pool = None                # the _Workers, (threads - 1) of them, started on first use
_lock = threading.Lock()
_inside = threading.local()  # .active: this thread is running a piece already (no nesting)
_fork_hook = False          # whether the after-fork reset is registered (with the first pool)


def _default_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):            # not Linux
        return max(1, os.cpu_count() or 1)


def get_num_threads() -> int:
    """The number of threads minigrad's own passes run on (torch.get_num_threads)."""
    global _threads
    if _threads is None:
        _threads = _default_threads()
    return _threads


def set_num_threads(n) -> None:
    """Use ``n`` threads for minigrad's own passes (torch.set_num_threads).

    As in PyTorch, this also sets the matrix-product library's threads: numpy's BLAS, through
    threadpoolctl when it is installed (without it, set OPENBLAS_NUM_THREADS or
    OMP_NUM_THREADS before numpy is imported). That setting is process-wide, as PyTorch's is.
    """
    global _threads, _pool
    if isinstance(n, bool) or not isinstance(n, int):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(n).__name__}")
    if n <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    with _lock:
        if n != _threads and _pool is not None:
            _pool.stop()
            _pool = None
        _threads = n
    try:
        import threadpoolctl
    except ImportError:
        return
    threadpoolctl.threadpool_limits(n, user_api="blas")


class _Job:
    """One run_split call: how many pieces are still running, and the first error."""
    def __init__(self, pieces):
        self.left, self.error, self.errstate = pieces, None, np.geterr()
        self.lock, self.done = threading.Lock(), threading.Event()

    def finished(self, error):
        with self.lock:
            self.error = self.error or error
            self.left -= 1
            if self.left == 0:
                self.done.set()


class _Workers:
    """Daemon threads taking (fn, start, stop, job) from one queue.

    Not concurrent.futures: its worker keeps a reference to the last work item until it takes
    the next one, so an array a piece used would still be referenced after the call returned,
    and the workspace cache (which reuses a buffer only when nobody holds it) would miss."""
    def __init__(self, count):
        self.count, self.tasks = count, queue.SimpleQueue()
        for i in range(count):
            threading.Thread(target=self._work, name=f"minigrad-{i}", daemon=True).start()

    def _work(self):
        while True:
            task = self.tasks.get()
            if task is None:
                return
            fn, start, stop, job = task
            del task
            error = None
            try:
                # numpy's floating-point error handling is per thread: the caller's applies
                with np.errstate(**job.errstate):
                    _run_piece(fn, start, stop)
            except BaseException as exc:       # noqa: B036 -- handed to the caller
                error = exc
            fn = None                          # drop every reference before reporting
            job.finished(error)
            job = error = None

    def stop(self):
        for _ in range(self.count):
            self.tasks.put(None)


def _get_pool(workers):
    global _pool, _fork_hook
    with _lock:
        if not _fork_hook and hasattr(os, "register_at_fork"):
            # registered with the first threads, not at import (import changes nothing)
            os.register_at_fork(after_in_child=_forget_pool)
            _fork_hook = True
        if _pool is None or _pool.count != workers:
            if _pool is not None:
                _pool.stop()
            _pool = _Workers(workers)
        return _pool


def _forget_pool():
    """In a forked child the parent's worker threads do not exist: start afresh."""
    global _pool, _lock
    _pool = None
    _lock = threading.Lock()



def _run_piece(fn, start, stop):
    _inside.active = True
    try:
        fn(start, stop)
    finally:
        _inside.active = False


def run_split(fn, n, nbytes, xp=None):
    """Call ``fn(start, stop)`` on consecutive pieces covering range(n), one per thread.

    Serial (one call, ``fn(0, n)``) when one thread is set, when the pass moves fewer than
    MIN_PARALLEL_BYTES (``nbytes``: what it reads and writes), when there is one row, when
    called from inside another piece, or when the arrays are not numpy's (``xp``: their
    module; a GPU library runs its own kernels in parallel). The calling thread runs the
    first piece itself; an exception in any piece is raised once all have ended.
    """
    threads = min(get_num_threads(), n, max(1, nbytes // (MIN_PARALLEL_BYTES // 2)))
    if (threads <= 1 or nbytes < MIN_PARALLEL_BYTES or getattr(_inside, "active", False)
            or (xp is not None and xp is not np)):
        fn(0, n)
        return
    size = -(-n // threads)
    cuts = [(s, min(n, s + size)) for s in range(0, n, size)]
    pool = _get_pool(get_num_threads() - 1)
    job = _Job(len(cuts) - 1)
    for a, b in cuts[1:]:
        pool.tasks.put((fn, a, b, job))
    error = None
    try:
        _run_piece(fn, *cuts[0])
    except BaseException as exc:     # noqa: B036 -- re-raised below, after the others end
        error = exc
    job.done.wait()
    error = error or job.error
    if error is not None:
        raise error


def map_pieces(fn, *arrays):
    """fn(*pieces) on the same element range of each array: ``fn(a, b, out)`` with
    ``xp.add(a, b, out=out)``, say. The arrays are split into flat pieces over the threads
    when they are numpy arrays, all C-contiguous and of one size, and large enough;
    otherwise fn runs once, on the arrays as they are."""
    first = arrays[0]
    if (type(first) is not np.ndarray or get_num_threads() == 1
            or any(type(a) is not np.ndarray or not a.flags.c_contiguous or a.size != first.size
                   for a in arrays)):
        fn(*arrays)
        return
    flats = [a.reshape(-1) for a in arrays]
    run_split(lambda i, j: fn(*(f[i:j] for f in flats)), first.size,
              sum(a.nbytes for a in arrays))


def binary(ufunc, a, b):
    """ufunc(a, b), with the work split over the threads when a and b are large numpy arrays
    of one shape and one floating dtype (the result then has that dtype, as ufunc's own);
    for any other operands, ufunc(a, b) as it is."""
    if (type(a) is np.ndarray and type(b) is np.ndarray and a.shape == b.shape
            and a.dtype == b.dtype and a.dtype.kind == "f" and get_num_threads() > 1
            and 3 * a.nbytes >= MIN_PARALLEL_BYTES):
        out = np.empty_like(a)
        map_pieces(lambda x, y, o: ufunc(x, y, out=o), a, b, out)
        return out
    return ufunc(a, b)
