"""Adam's (and AdamW's) step over all of an optimizer's parameters at once.

A model has many parameters of a few hundred to a few hundred thousand numbers: a GPT-style
decoder of width 128 has 29, from 128 to 65,536 numbers each. Stepped one by one as
whole-array expressions, each made about ten fresh temporaries of its size (which the
allocator page-faults in again on every step) and ran on one thread. With several threads
and at least ``adam.QUEUE_MIN_NUMBERS`` numbers in all (1M; fewer ran faster one by one),
``Adam.step`` queues each dense float32/float64 parameter's update (``Job``) and ``run_jobs``
runs them together: the parameters are seen as one flat range of numbers, cut into equal
parts over minigrad's threads (``parallel.run_split``), each part stepped chunk by chunk of
at most ``CHUNK`` numbers in scratch buffers that are kept between steps (``workspace``).
Each number goes through the same operations in the same order as in ``adam_update``'s
expressions, so the results are bitwise those. Parameters under ``QUEUE_MIN`` numbers are
stepped at once as before. On one thread the queue is not used: the
chunked form made as many numpy calls and more Python per parameter, and that GPT's 29
parameters stepped in 1.5 ms instead of 1.4.
"""
from __future__ import annotations

import numpy as np

from ..ops._workspace import workspace
from ..parallel import run_split

__all__ = ["Job", "job_fits", "chunkable", "step_chunk", "run_jobs", "CHUNK"]

# numbers per chunk: its scratch arrays and the chunks of the five arrays it reads stay in
# the L2 cache (whole-array expressions on a 1M-number parameter took 14 passes through
# memory; chunks of 4K were slower, numpy's per-call cost then dominating)
CHUNK = 1 << 16


# parameters of fewer numbers are stepped at once, not queued: their whole-array step is
# numpy's per-call cost, which the queue does not lower, and the threads have nothing to
# share in them
QUEUE_MIN = 1 << 12


def job_fits(*arrays):
    """Whether a parameter's step can be queued: ``chunkable`` arrays of QUEUE_MIN numbers
    or more."""
    return chunkable(arrays) and arrays[0].size >= QUEUE_MIN


def chunkable(arrays):
    """Whether a step can run chunk by chunk on these arrays: C-contiguous numpy
    float32/float64 arrays of one shape and dtype (None, an unused max_exp_avg_sq, aside)."""
    first = arrays[0]
    return type(first) is np.ndarray and first.dtype in (np.float32, np.float64) and all(
        a is None or (type(a) is np.ndarray and a.dtype == first.dtype and
                      a.shape == first.shape and a.flags.c_contiguous)
        for a in arrays)


class Job:
    """One parameter's step: p, g, m, v (and v_max) flattened, with its numbers:
        p *= decay                                    (AdamW's decoupled decay; 1: none)
        g = -g (negate);  g = g + l2 p (l2: the L2 weight decay, 0: none)
        m += (1 - beta1) (g - m);  v = v beta2 + ((1 - beta2) g) g;  v_max = max(v_max, v)
        p -= (step_size m) / (sqrt(v) / bc2_sqrt + eps)"""
    __slots__ = ("arrays", "view", "decay", "negate", "l2", "beta1", "beta2", "step_size",
                 "bc2_sqrt", "eps")

    def __init__(self, p, g, m, v, v_max, *, decay, negate, l2, beta1, beta2, step_size,
                 bc2_sqrt, eps):
        self.arrays = tuple(None if a is None else a.reshape(-1) for a in (p, g, m, v, v_max))
        # whether an array it writes may share memory with another parameter's
        self.view = any(a is not None and a.base is not None for a in (p, m, v, v_max))
        self.decay, self.negate, self.l2 = decay, negate, l2
        self.beta1, self.beta2, self.step_size = beta1, beta2, step_size
        self.bc2_sqrt, self.eps = bc2_sqrt, eps

    def run(self, lo, hi, scratch):
        """The step of numbers lo..hi, chunk by chunk, in ``scratch`` (``_scratch``)."""
        t_buf, u_buf, g_buf = scratch
        p_all, g_all, m_all, v_all, vmax_all = self.arrays
        decay, negate, l2 = self.decay, self.negate, self.l2
        beta1, beta2 = self.beta1, self.beta2
        for b in range(lo, hi, CHUNK):
            e = min(b + CHUNK, hi)
            p, g, m, v = p_all[b:e], g_all[b:e], m_all[b:e], v_all[b:e]
            k = e - b
            t, u = t_buf[:k], u_buf[:k]
            if decay != 1:
                p *= decay
            if negate or l2:
                gg = g_buf[:k]
                if negate:
                    g = np.negative(g, out=gg)
                if l2:
                    np.multiply(p, l2, out=u)
                    g = np.add(g, u, out=gg)
            step_chunk(p, g, m, v, None if vmax_all is None else vmax_all[b:e], t, u,
                       beta1, beta2, self.step_size, self.bc2_sqrt, self.eps)


def step_chunk(p, g, m, v, v_max, t, u, beta1, beta2, step_size, bc2_sqrt, eps):
    """One chunk's moments and update, in place, in the order of ``adam_update``'s
    expressions (so the same numbers); t, u: scratch of the chunk's size.
        m += (1 - beta1) (g - m);  v = v beta2 + ((1 - beta2) g) g;  (v_max = max(v_max, v))
        p -= (step_size m) / (sqrt(v) / bc2_sqrt + eps)"""
    np.subtract(g, m, out=t)
    t *= 1 - beta1
    m += t
    v *= beta2
    np.multiply(g, 1 - beta2, out=t)
    t *= g
    v += t
    if v_max is not None:
        np.maximum(v_max, v, out=v_max)
        v = v_max
    np.sqrt(v, out=t)
    t /= bc2_sqrt
    t += eps
    np.multiply(m, step_size, out=u)
    u /= t
    p -= u


def _scratch(dtype, size):
    """The three chunk buffers of a piece's jobs of ``dtype``, kept between steps (per
    thread: ``workspace``)."""
    n = min(CHUNK, size)
    return tuple(workspace(kind, (n,), dtype, np) for kind in ("adam_t", "adam_u", "adam_g"))


def run_jobs(jobs):
    """Every queued step, the parameters' numbers as one range cut over the threads."""
    if not jobs:
        return
    bounds = np.cumsum([0] + [job.arrays[0].size for job in jobs]).tolist()
    total = bounds[-1]

    def piece(start, stop):
        scratch = {}
        for i, job in enumerate(jobs):
            lo, hi = max(start, bounds[i]), min(stop, bounds[i + 1])
            if lo < hi:
                dtype = job.arrays[0].dtype
                if dtype not in scratch:
                    scratch[dtype] = _scratch(dtype, stop - start)
                job.run(lo - bounds[i], hi - bounds[i], scratch[dtype])

    if any(job.view for job in jobs):
        # a parameter that is a view of a buffer (maybe of another parameter's): the steps
        # one after another, in order, as they were queued
        piece(0, total)
        return
    # each number: p, g, m, v read, p, m, v written
    nbytes = sum(7 * job.arrays[0].nbytes for job in jobs)
    run_split(piece, total, nbytes)
