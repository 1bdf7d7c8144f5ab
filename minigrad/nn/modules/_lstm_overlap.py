"""An LSTM layer's forward and backward with their large products run beside the recurrence,
for more than one thread (``_rnn_layers._LstmLayer``).

The sweep is a chain: each step needs the one after it, and its products, four (b, H) @
(H, H) ones, are too small to split. What follows it is not: the weight gradients
d W_hh = sum_t d pre_t^T h_{t-1} and d W_ih = sum_t d pre_t^T x_t, and d x_t = d pre_t W_ih,
are sums (or rows) over the steps, and a step's terms are known as soon as the sweep has
passed it. So the steps are cut into a few chunks (in the sweep's order), and the sweep, on
the calling thread, hands each chunk over as it finishes it:

    calling thread   sweep chunk 0 | chunk 1 | ... | chunk C-1 | products of chunks left
    other threads            products of chunk 0, then 1, ...  | products of chunks left

A chunk's products are three tasks (its d pre rows taken out of the sweep's gate-major
layout, its d W_hh and d b_hh terms; its d W_ih term; its d x rows), taken in order from one
queue by whichever thread is free (the last two wait for the first's rows); the calling
thread joins in once its sweep is over. Each chunk's weight terms go to a slot of their
own and the slots are added in chunk order at the end, so the result does not depend on
which thread ran what (the rounding differs from the one-product form's: a sum in C
parts). On a busy machine where no other thread gets to run, the calling thread does every
task after its sweep, which is the one-thread order of work plus a few hand-overs.

The forward is the same the other way round: the input projections of the chunks of steps
(``project``'s products, so the same values) are made on the other threads while the
recurrence, on the calling thread, runs through the chunks before them; it makes the first
chunk itself, and any that no other thread has taken when it gets there. Those products
leave the other threads idle for most of the recurrence, so a node whose backward will run
has them make its backward's slopes (``lstm_slopes``, a few passes over every step, which
the backward started with on the calling thread) there, half a chunk at a time once the
recurrence has passed it; the calling thread joins in after its last step. For the
``lstm_text`` benchmark on 2 threads this took the calling thread's CPU time of a training
step from 19.3 ms to 17.7 (medians of 8 interleaved runs on a busy machine).

Both only where the batch is too small to be run in parts (``_lstm_kernels._worth``) and
each chunk has enough rows for its products to run at the whole product's rate. The
recurrence stays on one thread: its step products (a few microseconds) cost less than two
threads meeting at each of them.
"""
from __future__ import annotations

import itertools
import threading

import numpy as np

from ... import parallel
from ._lstm_kernels import (_worth, forward_arrays, lstm_backward_sweep, lstm_forward, project,
                            scratch, slope_arrays, to_rows)

__all__ = ["overlap_worth", "forward_overlapped", "backward_overlapped"]

# the sweep hands over chunks of at least this many of a step's rows, at most _MAX_CHUNKS: a
# weight gradient (4 H, S) @ (S, H) of lstm_text (S = 800, H = 128) made as the sum of 4
# products of 200 rows took as long as the one product, as 8 of 100 rows 17% longer
_CHUNK_ROWS = 192
_MAX_CHUNKS = 4


def overlap_worth(steps, H, I, forward=False):
    """Whether the overlapped backward (or with ``forward`` the overlapped forward) pays:
    several threads, every step with the whole batch, a batch too small to be run in parts
    (``_lstm_kernels._worth``: then each thread runs the recurrence for its part, which
    keeps them all busy), and products beside the recurrence worth a hand-over (those of
    the ``lstm_text`` benchmark, 16 x 50 steps of 128 units, are 26M-52M multiply-adds)."""
    T = len(steps.sizes)
    N = steps.sizes[0]
    return (steps.uniform and T >= 2 and T * N >= 2 * _CHUNK_ROWS and
            parallel.get_num_threads() > 1 and
            not _worth(N, H, 4 * H) and
            T * N * 4 * H * (I if forward else H + I) >= parallel.MATMUL_MIN_MACS)


def _chunks(T, N):
    """The chunks' step ranges [t0, t1) in the sweep's order of a forward-running layer
    (steps T-1 .. 0): C of them, at least _CHUNK_ROWS rows each where T allows, sizes
    differing by at most one step."""
    C = max(1, min(_MAX_CHUNKS, T * N // _CHUNK_ROWS, T))
    cuts = [T - (T * j) // C for j in range(C + 1)]
    return [(cuts[j + 1], cuts[j]) for j in range(C)]


class _Board:
    """The chunks' hand-over: ``ready[j]`` is held until the sweep has finished chunk j (a
    plain lock, acquired and released again by whoever waits for it); ``failed`` set when
    the sweep raised, so that the waiting threads stop."""

    def __init__(self, count):
        self.ready = [threading.Lock() for _ in range(count)]
        for lock in self.ready:
            lock.acquire()
        self.failed = False

    def release(self, j):
        self.ready[j].release()

    def wait(self, j):
        lock = self.ready[j]
        lock.acquire()
        lock.release()
        return not self.failed

    def fail(self, released):
        self.failed = True
        for j in range(released, len(self.ready)):
            self.ready[j].release()


def backward_overlapped(grad, acts, through_c, slopes, w_hh, steps, need_h0, h_prev, x2, w_ih,
                        with_bias, need_x, need_w_ih):
    """The sweep (``lstm_backward_sweep``) and the products after it, overlapped: grad (2, S,
    H), the forward's acts and the slopes as the sweep takes them, h_prev (S, H) the state
    each step starts from, x2 (S, I) the layer's input as rows ->
    (d W_hh (4 H, H), d b_hh (4 H,) or None, d x (S, I) or None, d W_ih (4 H, I) or None,
    d h0 (or None), d c0). The gradients in PyTorch's gate order."""
    T, _, N, H = acts.shape
    S, I, dtype = T * N, x2.shape[1], acts.dtype
    spans = _chunks(T, N)
    if steps.reverse:                       # the sweep runs 0 .. T-1
        spans = [(T - t1, T - t0) for t0, t1 in spans]
    C = len(spans)
    # the sweep's step (counted in its order) that ends each chunk
    ends = [done - 1 for done in itertools.accumulate(t1 - t0 for t0, t1 in spans)]
    d_rows = scratch("d_xw", (S, 4 * H), dtype)
    dw_parts = scratch("dw_parts", (C, 4 * H, H), dtype)
    db_parts = np.empty((C, 4 * H), dtype) if with_bias else None
    dwi_parts = scratch("dwi_parts", (C, 4 * H, I), dtype) if need_w_ih else None
    dx = np.empty((S, I), dtype) if need_x else None
    tasks = []
    for j, (t0, t1) in enumerate(spans):
        tasks.append((j, t0, t1, 0))
        if need_w_ih:
            tasks.append((j, t0, t1, 1))
        if need_x:
            tasks.append((j, t0, t1, 2))
    board, rows_made, taken, result = _Board(C), _Board(C), itertools.count(), []

    def run_task(j, t0, t1, kind):
        d = d_rows[t0 * N:t1 * N]
        if kind == 0:       # (the chunk's first task: its d pre as rows, then its d W_hh term)
            try:
                to_rows(result[0][t0:t1], steps, d)
            except BaseException:
                rows_made.failed = True
                raise
            finally:
                rows_made.release(j)
            np.matmul(d.T, h_prev[t0 * N:t1 * N], out=dw_parts[j])
            if with_bias:
                np.add.reduce(d, 0, out=db_parts[j])
            return
        if not rows_made.wait(j):
            return
        if kind == 1:
            np.matmul(d.T, x2[t0 * N:t1 * N], out=dwi_parts[j])
        else:
            np.matmul(d, w_ih, out=dx[t0 * N:t1 * N])

    def work():
        for k in taken:
            if k >= len(tasks):
                return
            j, t0, t1, kind = tasks[k]
            if not board.wait(j):
                return
            run_task(j, t0, t1, kind)

    def piece(start, stop):
        if start == 0:
            done = [0]

            def chunk_done(j, d_gated):
                if not result:
                    result.append(d_gated)
                done[0] = j + 1
                board.release(j)

            try:
                result[1:] = lstm_backward_sweep(
                    grad, acts, through_c, slopes, w_hh, steps, need_h0,
                    marks=(ends, chunk_done))[1:]
            except BaseException:
                board.fail(done[0])
                raise
        work()

    if not parallel.over_batch(piece, min(parallel.get_num_threads(), 1 + len(tasks))):
        piece(0, 1)                          # (the BLAS cannot be held: all on this thread)
    dh0, dc0 = result[1:]
    dw = np.add.reduce(dw_parts, 0)
    db = np.add.reduce(db_parts, 0) if with_bias else None
    dw_ih = np.add.reduce(dwi_parts, 0) if need_w_ih else None
    return dw, db, dx, dw_ih, dh0, dc0


def forward_overlapped(x2, w_ih, b_ih, b_hh, h0, c0, w_hh, steps, with_slopes=False):
    """``project`` and ``lstm_forward`` overlapped: the input projections of later chunks of
    steps are made on the other threads while the calling thread runs the recurrence
    through the earlier ones (it makes the first chunk itself, and any chunk no other
    thread has taken when it gets there; one taken but not finished it waits for). The
    same products as ``project``'s, so the same values. -> ``lstm_forward``'s result and,
    with ``with_slopes`` (for a node whose backward will run), ``lstm_slopes``' (else None):
    made a half chunk at a time by whichever thread is free once the recurrence has passed
    it (the other threads, after their projections, while the recurrence goes on), so that
    the backward does not start with a pass over every step. The same values as
    ``lstm_slopes``' (the same numpy calls on fewer steps each)."""
    T, N, H = len(steps.sizes), h0.shape[0], w_hh.shape[1]
    pre, fill = project(x2, w_ih, b_ih, b_hh, steps, N, deferred=True)
    arrays = forward_arrays(T * N, T, N, H, h0.dtype)
    spans = _chunks(T, N)
    if not steps.reverse:                    # in processing order
        spans = spans[::-1]
    C = len(spans)
    starts = [0] + list(itertools.accumulate(t1 - t0 for t0, t1 in spans))[:-1]
    claims, made, passed = [threading.Lock() for _ in range(C)], _Board(C), _Board(C)
    errors, result, through = [], [], [0]     # through: the chunks the recurrence has passed
    made_slopes, tasks, taken = None, [], itertools.count()
    if with_slopes:
        *made_slopes, fill_slopes = slope_arrays(*arrays[1:])
        for j, (t0, t1) in enumerate(spans):
            half = (t0 + t1) // 2
            tasks += [(j, t0, half), (j, half, t1)] if half > t0 else [(j, t0, t1)]

    def make(j):
        try:
            fill(*spans[j])
        except BaseException as exc:
            errors.append(exc)
            raise
        finally:
            made.release(j)

    def mark(j):
        if j:
            through[0] = j
            passed.release(j - 1)
        if claims[j].acquire(False):
            make(j)
        else:
            made.wait(j)
            if errors:
                raise errors[0]

    def slopes_left():
        for k in taken:
            if k >= len(tasks):
                return
            j, t0, t1 = tasks[k]
            if not passed.wait(j):
                return
            fill_slopes(t0, t1)

    def piece(start, stop):
        if start == 0:
            try:
                result.extend(lstm_forward(pre, h0, c0, w_hh, steps, marks=(starts, mark),
                                           arrays=arrays))
            except BaseException:
                passed.fail(through[0])
                raise
            passed.release(C - 1)
        else:
            for j in range(1, C):
                if claims[j].acquire(False):
                    make(j)
        slopes_left()

    if not parallel.over_batch(piece, min(parallel.get_num_threads(), C)):
        piece(0, 1)
    return tuple(result) + (None if made_slopes is None else tuple(made_slopes),)
