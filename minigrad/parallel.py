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
    over_batch(fn, n, worth) fn(start, stop) over parts of a batch, a part per thread, each
                             a whole kernel (copies AND matrix products), with numpy's BLAS
                             held to one thread meanwhile; False when it cannot
    blas_on_one_thread(size) a ``with`` block in which numpy's BLAS uses no worker threads
                             (whose spinning afterwards would take minigrad's cores)
    matmul(a, b)             numpy.matmul(a, b), large products in parts over the threads in
                             the same way (a matrix's columns or rows, a stack's matrices),
                             mid-sized ones with the BLAS held to one thread

The threads are started on first use (never at import) and after a fork the child starts its
own. Work handed to ``run_split`` must be plain array operations on views that the pieces
share without overlapping writes.
"""
from __future__ import annotations

import os
import queue
import threading

import numpy as np

from . import _memory_format as mf

__all__ = ["get_num_threads", "set_num_threads", "run_split", "map_pieces", "binary",
           "over_batch", "blas_on_one_thread", "matmul", "MIN_PARALLEL_BYTES"]

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
    """One run_split call: how many pieces are still running, and the first error.

    ``done`` is a plain lock, held from the start and released by the last piece: the
    caller waits by acquiring it (a threading.Event's condition variable cost a few more
    microseconds of Python on both sides, at every hand-over)."""
    def __init__(self, pieces):
        self.left, self.error, self.errstate = pieces, None, np.geterr()
        self.lock, self.done = threading.Lock(), threading.Lock()
        self.done.acquire()
        if pieces == 0:
            self.done.release()

    def finished(self, error):
        with self.lock:
            self.error = self.error or error
            self.left -= 1
            last = self.left == 0
        if last:
            self.done.release()


class _Piece:
    """One piece of a run handed to the workers: fn(start, stop) for ``job``. ``claim`` is
    taken by whichever thread runs it: a worker that dequeues it, or the calling thread,
    which takes back the pieces no worker has started once its own piece is done (a worker
    that another process keeps off its core, or that starts late, then costs no waiting)."""
    __slots__ = ("fn", "start", "stop", "job", "claim")

    def __init__(self, fn, start, stop, job):
        self.fn, self.start, self.stop, self.job = fn, start, stop, job
        self.claim = threading.Lock()

    def run(self):
        """Run the piece (its claim held) and report it to its job; drop its references."""
        fn, job = self.fn, self.job
        self.fn = self.job = None          # the queue may still hold the piece: hold nothing
        error = None
        try:
            _run_piece(fn, self.start, self.stop)
        except BaseException as exc:       # noqa: B036 -- handed to the caller
            error = exc
        fn = None                          # drop every reference before reporting
        job.finished(error)


class _Workers:
    """Daemon threads taking pieces (``_Piece``) from one queue.

    Not concurrent.futures: its worker keeps a reference to the last work item until it takes
    the next one, so an array a piece used would still be referenced after the call returned,
    and the workspace cache (which reuses a buffer only when nobody holds it) would miss."""
    def __init__(self, count):
        self.count, self.tasks = count, queue.SimpleQueue()
        for i in range(count):
            threading.Thread(target=self._work, name=f"minigrad-{i}", daemon=True).start()

    def _work(self):
        errstate = None                        # the error handling set on this thread
        while True:
            piece = self.tasks.get()
            if piece is None:
                return
            if not piece.claim.acquire(False):  # the calling thread ran it already
                piece = None
                continue
            # numpy's floating-point error handling is per thread: the caller's applies
            # (set only when it changes: an errstate block at every piece cost 2 us)
            if piece.job.errstate != errstate:
                errstate = piece.job.errstate
                np.seterr(**errstate)
            piece.run()
            piece = None

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
    global _pool, _lock, _blas_lock, _blas_holders
    _pool = None
    _lock = threading.Lock()
    _blas_lock, _blas_holders = threading.Lock(), 0



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
    _run_cuts(fn, n, threads)


def _run_cuts(fn, n, threads):
    """fn(start, stop) over ``threads`` consecutive pieces of range(n), the first on this
    thread; an exception in any piece is raised once all have ended.

    Once its own piece is done, this thread runs any other piece that no worker has started
    yet (the last first): on a machine whose other cores are busy with other processes, or
    when a worker wakes late, the run then ends when this thread could end it alone, instead
    of waiting for the worker to be scheduled."""
    size = -(-n // threads)
    cuts = [(s, min(n, s + size)) for s in range(0, n, size)]
    pool = _get_pool(get_num_threads() - 1)
    job = _Job(len(cuts) - 1)
    pieces = [_Piece(fn, a, b, job) for a, b in cuts[1:]]
    for piece in pieces:
        pool.tasks.put(piece)
    error = None
    try:
        _run_piece(fn, *cuts[0])
    except BaseException as exc:     # noqa: B036 -- re-raised below, after the others end
        error = exc
    fn = None
    for piece in reversed(pieces):
        if piece.claim.acquire(False):
            piece.run()
    pieces = None
    job.done.acquire()
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
    nbytes = sum(a.nbytes for a in arrays)
    if nbytes < MIN_PARALLEL_BYTES:          # run_split would not split it: no pieces to make
        fn(*arrays)
        return
    flats = [a.reshape(-1) for a in arrays]
    run_split(lambda i, j: fn(*(f[i:j] for f in flats)), first.size, nbytes)


def binary(ufunc, a, b):
    """ufunc(a, b), with the work split over the threads when a and b are large numpy arrays
    of one shape and one floating dtype (the result then has that dtype, as ufunc's own);
    for any other operands, ufunc(a, b) as it is."""
    # (the size first: a small operand, the usual one, fails it at once)
    # (both row-major: an expanded operand, strides 0, would make empty_like's result
    # column-major, and the pass over it 10x slower)
    if (type(a) is np.ndarray and 3 * a.nbytes >= MIN_PARALLEL_BYTES
            and type(b) is np.ndarray and a.shape == b.shape and a.dtype == b.dtype
            and a.dtype.kind in "fV" and a.flags.c_contiguous and b.flags.c_contiguous
            and get_num_threads() > 1):
        out = np.empty_like(a)
        map_pieces(lambda x, y, o: ufunc(x, y, out=o), a, b, out)
        return out
    out = ufunc(a, b)
    # numpy settles a disagreement of a's and b's layouts as row-major, PyTorch as a's: alike
    # when a is row-major (and, a number, b too), the common case; otherwise laid out as
    # PyTorch lays it out (a dense tensor beside a number keeps its very strides, size-1
    # dims' too, where numpy picks its own)
    if a.flags.c_contiguous and (a.ndim or b.flags.c_contiguous):
        return out
    return mf.pointwise_layout(out, (a, b))


# ----------------------------------------------------------------------------------------------
# A batch split over the threads, a whole kernel per thread
# ----------------------------------------------------------------------------------------------
# run_split parallelises one memory pass at a time and leaves the matrix products to numpy's
# BLAS, which splits each product over its own threads. For the mid-sized products of a
# convolution that split is poor (on 2 cores: 1.0-1.6x for LeNet's and a ResNet's GEMMs), and
# every pass and every product is a meeting point of the threads. Giving each thread a part of
# the batch and the whole kernel for it -- copies, products, adds -- with the BLAS held to one
# thread, the threads meet once per kernel: 1.85-2x for the same products, and the copies
# between them are split too. The BLAS thread count is process-wide, so it is lowered only
# for the duration of such a run and restored after the last one under way ends.
_blas_libs = None          # the BLAS libraries to hold to one thread; False: none can be held
_blas_lock = threading.Lock()
_blas_holders = 0          # batch runs under way, in any thread
_blas_saved = ()           # the libraries' thread counts before the first of them


def _find_blas():
    """numpy's BLAS libraries as threadpoolctl controls them, or False when they cannot be
    held to one thread for all threads at once: without threadpoolctl, or with a BLAS whose
    limit applies per calling thread (an OpenMP build)."""
    try:
        import threadpoolctl
    except ImportError:
        return False
    try:
        libs = threadpoolctl.ThreadpoolController().select(user_api="blas").lib_controllers
    except Exception:       # noqa: BLE001 -- a library it cannot read: run the kernels whole
        return False
    for lib in libs:
        if lib.internal_api not in ("openblas", "mkl", "blis") or (
                lib.internal_api != "mkl" and getattr(lib, "threading_layer", "") == "openmp"):
            return False
    return tuple(libs)


def _hold_blas():
    """Hold numpy's BLAS to one thread (or count one more holder); False when it cannot be."""
    global _blas_libs, _blas_holders, _blas_saved
    with _blas_lock:
        if _blas_libs is None:
            _blas_libs = _find_blas()
        if _blas_libs is False:
            return False
        if _blas_holders == 0:
            saved = tuple(lib.get_num_threads() for lib in _blas_libs)
            for lib in _blas_libs:
                lib.set_num_threads(1)
            # threadpoolctl lets one Python thread at a time set OpenBLAS's limit: from
            # another, the call does nothing
            if any(lib.get_num_threads() != 1 for lib in _blas_libs):
                for lib, count in zip(_blas_libs, saved):
                    lib.set_num_threads(count)
                return False
            _blas_saved = saved
        _blas_holders += 1
        return True


def _release_blas():
    global _blas_holders
    with _blas_lock:
        _blas_holders -= 1
        if _blas_holders == 0:
            for lib, count in zip(_blas_libs, _blas_saved):
                lib.set_num_threads(count)


# OpenBLAS keeps a dot product or a matrix-vector product under about 10,000 elements on the
# calling thread (a matrix product under BLAS_THREADED_MACS multiply-adds, below)
BLAS_SMALL = 1 << 13


class blas_on_one_thread:
    """``with blas_on_one_thread():`` numpy's BLAS runs on the calling thread only (counted
    like ``over_batch``'s hold; nothing changes when it cannot be held).

    For the BLAS calls that minigrad makes outside its own thread pieces, where the BLAS
    would split them over its worker threads: after such a call OpenBLAS's workers spin for
    a while (2^28 cycles by default, about 0.1 s) before they sleep, and a spinning worker
    takes a core from minigrad's own threads. Batch norm's per-channel sums (one
    matrix-vector product each) did this in a ResNet-like step, which then took 700 ms
    instead of 390 on two cores unless OPENBLAS_THREAD_TIMEOUT was set short. On one thread
    those products are 0-30% slower than on two; the hold costs about 4 us, so ``size`` (the
    elements of the vectors, or the matrix's, the block's BLAS calls work on) below
    BLAS_SMALL holds nothing: OpenBLAS runs such calls on the calling thread anyway.
    """
    __slots__ = ("held", "size")

    def __init__(self, size=None):
        self.size = size

    def __enter__(self):
        self.held = (get_num_threads() > 1 and (self.size is None or self.size >= BLAS_SMALL)
                     and _hold_blas())
        return self

    def __exit__(self, *exc):
        if self.held:
            _release_blas()
        return False


def over_batch(fn, n, worth=True):
    """Call ``fn(start, stop)`` on consecutive parts of a batch of ``n`` items, one part per
    thread, with numpy's BLAS held to one thread meanwhile; return True. ``fn`` must write
    only what belongs to its part.

    Nothing is run and False is returned when that is not worth it (one thread, fewer than
    two items, ``worth`` false, called from inside a piece already) or the BLAS's threads
    cannot be controlled (``_find_blas``): the caller then does the whole batch itself, and
    the BLAS splits its products as usual.
    """
    threads = min(get_num_threads(), n)
    if threads <= 1 or not worth or getattr(_inside, "active", False) or not _hold_blas():
        return False
    try:
        _run_cuts(fn, n, threads)
    finally:
        _release_blas()
    return True


# A matrix product is cut over the threads from about this many multiply-adds on (below, the
# hand-over costs what the parts save). Measured on 2 cores: Linear(800, 500) on a batch of
# 64, forward and both gradients, 1.5-2x faster in parts than on the BLAS's own two threads
# on an AVX2 machine (on an AVX-512 one with OpenBLAS's shortest spin, 1.25x slower; but
# there the BLAS's threads spin on minigrad's cores afterwards wherever the spin is long).
# Below: (32, 784) @ (784, 256), 6.4M, took as long in two parts as whole on the calling
# thread, with 45% more CPU time; (40, 784) @ (784, 256), 8M, was 10% faster in parts
MATMUL_MIN_MACS = 1 << 23

# OpenBLAS hands a product to its worker threads from about this many multiply-adds on
# (4 x 65536, its build default); smaller ones it runs on the calling thread anyway
BLAS_THREADED_MACS = 1 << 18


def _macs(a_shape, b_shape):
    """Multiply-adds of numpy.matmul(a, b) for these shapes, and the broadcast batch shape;
    None when they do not fit (numpy then raises its own error)."""
    n = a_shape[-2] if len(a_shape) > 1 else 1
    m = b_shape[-1] if len(b_shape) > 1 else 1
    k = a_shape[-1]
    if k != (b_shape[-2] if len(b_shape) > 1 else b_shape[0]):
        return None
    try:
        batch = np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    except ValueError:
        return None
    count = n * k * m
    for d in batch:
        count *= d
    return count, batch


def matmul(a, b):
    """numpy.matmul(a, b) for numpy operands, never on the BLAS's own worker threads.

    Large float products are cut into parts over minigrad's threads as ``over_batch`` runs
    them, each part one BLAS call on one thread: two matrices by the columns of b (and of
    the result) when N >= M, else by the rows of a; stacks of matrices by their leading
    batch axis. Mid-sized ones run whole on the calling thread (``blas_on_one_thread``): the
    BLAS's workers, once used, would spin on the core minigrad's threads need next. Small
    products, other operands, and one thread: ``numpy.matmul`` as it is."""
    if not (type(a) is np.ndarray and type(b) is np.ndarray and a.ndim and b.ndim and
            a.dtype.kind in "fcV" and b.dtype.kind in "fcV" and get_num_threads() > 1):
        return np.matmul(a, b)
    if a.size * b.size < BLAS_THREADED_MACS:       # a bound on the multiply-adds, cheap
        return np.matmul(a, b)
    size = _macs(a.shape, b.shape)
    if size is None or size[0] < BLAS_THREADED_MACS:
        return np.matmul(a, b)
    if size[0] >= MATMUL_MIN_MACS and a.dtype == b.dtype and a.dtype.kind in "fV" and \
            a.dtype.itemsize >= 4:
        out = _matmul_in_parts(a, b, size[1])
        if out is not None:
            return out
    with blas_on_one_thread():
        return np.matmul(a, b)


def _matmul_in_parts(a, b, batch):
    """a @ b cut over the threads (see ``matmul``), or None when it cannot be."""
    if a.ndim == 2 and b.ndim == 2:
        M, N = a.shape[0], b.shape[1]
        out = np.empty((M, N), dtype=a.dtype)
        if N >= M:
            done = over_batch(lambda c0, c1: np.matmul(a, b[:, c0:c1], out=out[:, c0:c1]), N)
        else:
            done = over_batch(lambda r0, r1: np.matmul(a[r0:r1], b, out=out[r0:r1]), M)
        return out if done else None
    if a.ndim < 2 or b.ndim < 2 or not batch or batch[0] < 2:
        return None
    # stacks: each thread takes a slice of the first batch axis (broadcast views, no copies)
    a_b = np.broadcast_to(a, batch + a.shape[-2:])
    b_b = np.broadcast_to(b, batch + b.shape[-2:])
    out = np.empty(batch + (a.shape[-2], b.shape[-1]), dtype=a.dtype)
    done = over_batch(lambda i, j: np.matmul(a_b[i:j], b_b[i:j], out=out[i:j]), batch[0])
    return out if done else None
