"""The array kernels of a whole-sequence LSTM layer (``_rnn_layers._LstmLayer``): its forward
recurrence and the reverse sweep of its backward, on numpy arrays.

A step's products ((16, 128) @ (128, 512) in the ``lstm_text`` benchmark) are too small for
the BLAS's threads, so they run on the calling thread, the BLAS held to it: OpenBLAS's two
threads meeting at each of a layer's 100 products, then spinning, made a 2-thread step of
that benchmark take up to 10 times as long as one on one thread when another process held a
core. A large batch is run in parts instead (``parallel.over_batch``): a sequence's steps
depend on one another, but two sequences of a batch never do, so each thread runs the whole
recurrence for its part of the sequences, meeting the others once per layer.

The sigmoid gates i, f, o come out of tanh: sigmoid(p) = (1 + tanh(p / 2)) / 2. Their
columns of the input projections, the bias and the recurrent weight are halved once (exact:
a power of two), so that a step takes one tanh over its four gates and a multiply-add by
per-column constants (0.5, 0.5 for i, f, o; 1, 0 for g), each over whole contiguous rows (a
numpy pass over a quarter of the columns, strided, took about as long as one over all of
them). No exp overflows, so no error-state switch either; the values are sigmoid's to
rounding (float32 results as close to float64's as before and as PyTorch's).
"""
from __future__ import annotations

import numpy as np

from ... import parallel
from ...ops._workspace import workspace

__all__ = ["lstm_forward", "lstm_backward_sweep", "lstm_slopes", "scratch", "step_has_grad"]

# a batch is split over the threads when a part has at least this many rows and a step's
# product at least this many multiply-adds. The threads take turns at the interpreter lock for
# each of a step's ten numpy calls: for a batch of 16 rows of 128 units (a 1M multiply-add
# product a step) two threads used 38 ms of CPU time for what one did in 22 on a 2-core VM
# (busy with other processes, where neither ran faster), so small batches stay whole
_MIN_PART_ROWS = 4
_MIN_STEP_MACS = 1 << 22


def scratch(kind, shape, dtype):
    """An uninitialised array from the scratch cache (``ops._workspace``): a layer's arrays
    are the same every training step, and fresh ones of this size were page-faulted in every
    time (4,400 minor faults a step of a 2-layer LSTM of 128 over 50 x 16). A cached buffer
    is reused only once nothing holds it any more (the node's saved arrays, the output handed
    out), so this changes nothing that can be seen."""
    return workspace("rnn_" + kind, shape, dtype, np)


def _worth(rows, hidden, gates):
    return rows >= 2 * _MIN_PART_ROWS and rows * hidden * gates >= _MIN_STEP_MACS


def _pass_worth(rows, nbytes):
    """A pass over every step's rows at once: split as ``parallel.run_split`` splits one."""
    return rows >= 2 * _MIN_PART_ROWS and nbytes >= parallel.MIN_PARALLEL_BYTES


def _split(fn, n, worth):
    """fn(start, stop) over parts of range(n) on the threads, or once over all of it with the
    BLAS on the calling thread: a step's products are too small for its threads, whose
    meetings at every product (and spinning after it) cost more than they save, far more
    when another process holds a core."""
    if not parallel.over_batch(fn, n, worth):
        with parallel.blas_on_one_thread():
            fn(0, n)


def _gate_constants(H, dtype):
    """(scale, offset) per gate column, PyTorch's gate order i, f, g, o: the pre-activations
    are multiplied by scale before the tanh, its result t turned into the gate as t * scale +
    offset (scale 1/2 and offset 1/2 for the sigmoid gates, 1 and 0 for g)."""
    scale = np.full(4 * H, 0.5, dtype)
    scale[2 * H:3 * H] = 1
    offset = np.full(4 * H, 0.5, dtype)
    offset[2 * H:3 * H] = 0
    return scale, offset


def _part_rows(steps, r0, r1):
    """(rows of the packed layout, count) of the sequences r0:r1 at each step, processing
    order; steps none of them takes part in are left out."""
    for _, rows, b in steps.order():
        n = min(b, r1) - r0
        if n > 0:
            start = rows.start + r0
            yield slice(start, start + n), n


def lstm_forward(xw, h0, c0, w_hh, b_hh, steps):
    """The recurrence of one layer direction: xw (S, 4 H) packed (``_rnn_layers._Steps``),
    h0, c0 (N, H), w_hh (4 H, H), b_hh (4 H,) or None -> (out (2, S, H): the h_t then the c_t
    of every step, acts (S, 4 H): the activated gates i, f, g, o, tanh_c (S, H): tanh of the
    c_t, fc and ig (S, H): the two terms of c_t = f c_{t-1} + i g, kept for the backward's
    slopes at no extra numpy call)."""
    S, G = xw.shape
    H, N, dtype = G // 4, h0.shape[0], xw.dtype
    scale, offset = _gate_constants(H, dtype)
    pre = scratch("pre", (S, G), dtype)    # (xw + b_hh) scale
    # (H, G), row-major: numpy lays a ufunc's result out as its operand, so without order=
    # w_t was w_hh's transposed memory, and OpenBLAS took 45 us for each step's (16, 128) @
    # (128, 512) of the lstm_text benchmark instead of 27 (its step 25 -> 23 ms)
    w_t = np.multiply(w_hh.T, scale, order="C")
    out = scratch("out", (2, S, H), dtype)
    acts = scratch("acts", (S, G), dtype)
    tanh_c = scratch("tanh_c", (S, H), dtype)
    fc_all, ig_all = scratch("fc", (S, H), dtype), scratch("ig", (S, H), dtype)
    worth = _worth(N, H, G)

    def inputs(r0, r1):                    # (rows of the packed layout: any split is right)
        p = pre[r0:r1]
        if b_hh is None:
            np.multiply(xw[r0:r1], scale, out=p)
        else:
            np.add(xw[r0:r1], b_hh, out=p)
            p *= scale
    _split(inputs, S, _pass_worth(S, 3 * pre.nbytes))

    def part(r0, r1):
        h, c = h0[r0:r1], c0[r0:r1]
        if not steps.uniform:              # rows that end (or start later) keep their state
            h, c = h.copy(), c.copy()
        for rows, n in _part_rows(steps, r0, r1):
            a = acts[rows]
            np.matmul(h[:n], w_t, out=a)
            a += pre[rows]
            np.tanh(a, out=a)
            a *= scale
            a += offset
            c_new, h_new, tc = out[1, rows], out[0, rows], tanh_c[rows]
            fc, ig = fc_all[rows], ig_all[rows]
            np.multiply(a[:, H:2 * H], c[:n], out=fc)
            np.multiply(a[:, :H], a[:, 2 * H:3 * H], out=ig)
            np.add(fc, ig, out=c_new)
            np.tanh(c_new, out=tc)
            np.multiply(a[:, 3 * H:], tc, out=h_new)
            if steps.uniform:
                h, c = h_new, c_new
            else:
                h[:n], c[:n] = h_new, c_new
    _split(part, N, worth)
    return out, acts, tanh_c, fc_all, ig_all


def lstm_slopes(acts, tanh_c, fc, ig, h_t, H):
    """The factors of the cell's derivative that do not depend on the incoming gradient, for
    every step at once (``_rnn_layers.lstm_cell_grads``' formulas):
        dc' = dc + dh through_c,  d pre = (dc' slope_i, dc' slope_f, dc' slope_g, dh slope_o)
    -> through_c (S, H) and the slopes (S, 4, H) in PyTorch's gate order. Each is x - x y of
    what the forward kept (fc = f c, ig = i g, h_t = o tanh(c')), two passes over (S, H):
        i (1 - i) g = ig - i ig,   f (1 - f) c = fc - f fc,   i (1 - g^2) = i - ig g,
        o (1 - o) tanh(c') = h - o h,   through_c = o (1 - tanh(c')^2) = o - h tanh(c')."""
    S = acts.shape[0]
    dtype = acts.dtype
    through_c = scratch("through_c", (S, H), dtype)
    slopes = scratch("slopes", (S, 4, H), dtype)

    def rows(r0, r1):
        a, sl = acts[r0:r1], slopes[r0:r1]
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        ig_r, fc_r, h, tc = ig[r0:r1], fc[r0:r1], h_t[r0:r1], tanh_c[r0:r1]
        for k, (x, y, z) in enumerate(((ig_r, i, ig_r), (fc_r, f, fc_r), (i, ig_r, g),
                                       (h, o, h))):
            np.subtract(x, np.multiply(y, z, out=sl[:, k]), out=sl[:, k])
        t = through_c[r0:r1]
        np.subtract(o, np.multiply(h, tc, out=t), out=t)
    _split(rows, S, _pass_worth(S, 3 * slopes.nbytes + 6 * through_c.nbytes))
    return through_c, slopes


def step_has_grad(g, steps):
    """Per step (by t): whether any of g's (S, H) rows of that step is nonzero. The incoming
    gradient is often zero at most steps (a model reading only the last h_t; the c_t, read by
    nothing, given as zeros), and a step's add of a zero gradient is then left out."""
    nz = g.any(1)
    return np.logical_or.reduceat(nz, steps.offsets).tolist() if nz.size else []


def lstm_backward_sweep(grad, acts, through_c, slopes, w_hh, steps, N):
    """The reverse sweep: grad (2, S, H) of (h_t, c_t) -> d pre (S, 4 H) (PyTorch's gate
    order), and the gradients reaching h0 and c0 (N, H)."""
    S, G = acts.shape
    H, dtype = G // 4, acts.dtype
    f = acts[:, H:2 * H]
    d_pre = scratch("d_pre", (S, 4, H), dtype)
    # the gradients reaching each sequence's state: a sequence that has not started (in the
    # sweep's order) has none yet, one that has ended keeps its d h0 / d c0
    dh_state, dc_state = np.zeros((N, H), dtype), np.zeros((N, H), dtype)
    order = list(steps.order())[::-1]
    with_h, with_c = step_has_grad(grad[0], steps), step_has_grad(grad[1], steps)

    def part(r0, r1):
        dh_s, dc_s = dh_state[r0:r1], dc_state[r0:r1]
        dh_b, total_b = (np.empty((r1 - r0, H), dtype) for _ in range(2))
        for t, rows, b in order:
            n = min(b, r1) - r0
            if n <= 0:
                continue
            rs = slice(rows.start + r0, rows.start + r0 + n)
            # dh = grad_h + dh_s;  total = grad_c + dc_s + through_c dh
            dh = np.add(grad[0, rs], dh_s[:n], out=dh_b[:n]) if with_h[t] else dh_s[:n]
            total = np.multiply(through_c[rs], dh, out=total_b[:n])
            total += dc_s[:n]
            if with_c[t]:
                total += grad[1, rs]
            np.multiply(total[:, None, :], slopes[rs, :3], out=d_pre[rs, :3])
            np.multiply(dh, slopes[rs, 3], out=d_pre[rs, 3])
            np.multiply(total, f[rs], out=dc_s[:n])
            # (dh may be dh_s itself: it is read for the last time above)
            np.matmul(d_pre[rs].reshape(n, G), w_hh, out=dh_s[:n])
    _split(part, N, _worth(N, H, G))
    return d_pre.reshape(S, G), dh_state, dc_state
