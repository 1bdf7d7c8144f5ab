"""The array kernels of a whole-sequence LSTM layer (``_rnn_layers._LstmLayer``): its forward
recurrence and the reverse sweep of its backward, on numpy arrays.

Layout. The per-step arrays (the gates, their pre-activations and derivative factors, the
cell terms) are kept gate-major, a (T, 4, N, H) array (N the batch of the first step, the
largest; the gates in the order o, i, f, g, see ``_O``): a step's gates are one contiguous
(4, b, H) block and each gate a contiguous (b, H) block in it. numpy took 2 to 4 times as long
over one gate's columns of a row-major (b, 4 H) step (b runs of H numbers) as over the same
numbers in one piece, and so did a pass over every step's gate at once (the backward's
slopes). A step's recurrent product is then four (b, H) @ (H, H) products in one
``numpy.matmul`` call with a stacked weight: OpenBLAS (0.3.31, AVX-512 kernels, one thread)
took 24 us for them against 31 for the one (16, 128) @ (128, 512) product of the ``lstm_text``
benchmark, which is just above the size up to which it runs its small-matrix kernels; the
backward's four products and their sum, 26 against 32. The input projections are made in
the layout (``project``: numpy's loop of one small product per step and gate) and their
gradient goes out as rows (``to_rows``, one pass). A packed batch (steps of fewer sequences)
keeps the layout; the rows a step does not have hold garbage that nothing reads.

A step is about ten numpy calls on blocks of a few thousand numbers, each 1-3 us beside the
product's 17-20; the Python around them counts. When every step has the whole batch the loops
(``_forward_whole``, ``_sweep_whole``, and ``per_step`` for the GRU and Elman kernels) take
the steps' views by iterating over the arrays' first axis, which numpy does in C, instead of
indexing with slices (about 0.4 us a view): a forward layer of ``lstm_text`` 2.9 -> 2.1 ms,
its sweep 2.0 -> 1.7.

A step's products are too small for the BLAS's threads, so they run on the calling thread, the
BLAS held to it: OpenBLAS's two threads meeting at each of a layer's 100 products, then
spinning, made a 2-thread step of that benchmark take up to 10 times as long as one on one
thread when another process held a core. A large batch is run in parts instead
(``parallel.over_batch``): a sequence's steps depend on one another, but two sequences of a
batch never do, so each thread runs the whole recurrence for its part of the sequences,
meeting the others once per layer. A small batch keeps its recurrence on one thread, and the
large products before and after it (the input projections; the weight and input gradients)
run beside it on the others (``_lstm_overlap``).

The sigmoid gates o, i, f come out of tanh: sigmoid(p) = (1 + tanh(p / 2)) / 2. Their rows of
the input projections, the bias and the recurrent weight are halved once (exact: a power of
two), so that a step takes one tanh over its four gates and a multiply-add by scalars (0.5
and 0.5) over the first three. No exp overflows, so no error-state switch either; the values
are sigmoid's to rounding.
"""
from __future__ import annotations

import numpy as np

from ... import parallel
from ...ops._workspace import workspace

__all__ = ["forward_arrays", "lstm_forward", "lstm_backward_sweep", "lstm_slopes", "per_step",
           "project", "scratch", "slope_arrays", "step_has_grad", "to_rows"]

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


# the gates' order in the layout: o, i, f, g (PyTorch's i, f, g, o with o moved first), so that
# the sigmoid gates (o, i, f) are one contiguous block for the forward's multiply-add by
# scalars, and the gates whose gradient is dc' times a slope (i, f, g) one for the backward's
# (a multiply-add by (4, 1, 1) per-gate constants over a step took 5.5 us, by scalars 1.5)
_O, _I, _F, _G = range(4)


def _gate_rows(w, H):
    """w's (4 H, ...) gate blocks in the layout's order -> (4, H, ...) (a copy)."""
    w4 = w.reshape((4, H) + w.shape[1:])
    return np.concatenate([w4[3:], w4[:3]], 0)


def _gated(kind, T, N, H, dtype, gates=True):
    """A (T, 4, N, H) (or (T, N, H)) scratch array of the gate-major layout. For a packed batch
    the rows a step does not have are left as they are: the passes over every step at once
    compute garbage there (under the forward's and backward's IEEE error state), which no
    step reads and ``to_rows`` leaves behind."""
    return scratch(kind, (T, 4, N, H) if gates else (T, N, H), dtype)


def _over_steps(fn, steps, T, N, rows_array, last, nbytes):
    """fn(rows, t, r) over the blocks of a whole-array pass between ``rows_array``'s rows
    (S, 4 * last) and the layout: rows a (.., 4, .., last) view of them with the gate axis
    before the rows, matching the layout array's [t, :, r]. Every step at once when each has
    all N rows (cut over the steps on the threads when the pass is large enough), else step
    by step."""
    if steps.uniform:
        rows4 = rows_array.reshape(T, N, 4, last).transpose(0, 2, 1, 3)
        _split(lambda t0, t1: fn(rows4[t0:t1], slice(t0, t1), slice(None)), T,
               _pass_worth(T, nbytes))
        return
    for t, rows, b in steps.order():
        fn(rows_array[rows].reshape(b, 4, last).transpose(1, 0, 2), t, slice(0, b))


def to_rows(gated, steps, out):
    """The inverse of the layout: gated (T, 4, N, H) -> out (S, 4 H), the steps' rows packed,
    PyTorch's gate order; or (T, N, H) -> (S, H)."""
    T, N = gated.shape[0], gated.shape[-2]
    if gated.ndim == 4:
        def block(dst, t, r):
            src = gated[t, ..., r, :]
            np.copyto(dst[..., :3, :, :], src[..., 1:, :, :])
            np.copyto(dst[..., 3, :, :], src[..., 0, :, :])
        _over_steps(block, steps, T, N, out, gated.shape[-1], 2 * out.nbytes)
    elif steps.uniform:
        np.copyto(out, gated.reshape(out.shape))
    else:
        for t, rows, b in steps.order():
            out[rows] = gated[t, :b]
    return out


def project(x, w_ih, b_ih, b_hh, steps, N, deferred=False):
    """The input projections in the layout, pre (T, 4, N, H) = x W_ih^T + b_ih + b_hh, the
    sigmoid gates' halved, from x (S, I) as rows (``_Steps``), as products of each step's
    rows by the four gates' (I, H) blocks of W_ih^T, written where the layout has them. For
    ``lstm_text``'s layers numpy's loop of (16, I) @ (I, 128) products took 0.33 ms (I = 64)
    and 0.99 (I = 128) against 0.42 and 0.77 for the one (800, I) @ (I, 512) product, which
    a Linear node made before, its bias added, and then a pass of 0.36-0.5 ms took its rows
    to the layout, b_hh added and the sigmoid gates halved. Here both biases are one
    contiguous pass ((x + b) / 2 = x / 2 + b / 2 exactly: the weights' rows halved).
    With ``deferred`` (steps with the whole batch only) nothing is computed yet: -> (pre,
    fill), fill(t0, t1) making steps t0 .. t1 - 1 of pre (``_lstm_overlap``)."""
    S, I = x.shape
    H, T, dtype = w_ih.shape[0] // 4, len(steps.sizes), x.dtype
    half = dtype.type(0.5)
    wi4 = np.ascontiguousarray(_gate_rows(w_ih, H).transpose(0, 2, 1))     # (4, I, H)
    wi4[:3] *= half
    pre = scratch("pre", (T, 4, N, H), dtype)
    bias = b_ih if b_hh is None else (b_hh if b_ih is None else b_ih + b_hh)
    if bias is not None:
        b4 = _gate_rows(bias, H).reshape(4, 1, H)
        b4[:3] *= half
    if deferred:
        x3 = x.reshape(T, N, I)[:, None]

        def fill(t0, t1):
            np.matmul(x3[t0:t1], wi4, out=pre[t0:t1])
            if bias is not None:
                np.add(pre[t0:t1], b4, out=pre[t0:t1])
        return pre, fill
    if steps.uniform:
        x3 = x.reshape(T, N, I)[:, None]
        _split(lambda t0, t1: np.matmul(x3[t0:t1], wi4, out=pre[t0:t1]), T,
               S * I * 4 * H >= parallel.MATMUL_MIN_MACS and T >= 2)
    else:
        with parallel.blas_on_one_thread():
            for t, rows, b in steps.order():
                np.matmul(x[rows], wi4, out=pre[t, :, :b])
    if bias is not None:
        _split(lambda t0, t1: np.add(pre[t0:t1], b4, out=pre[t0:t1]), T,
               _pass_worth(T, 2 * pre.nbytes))
    return pre


def forward_arrays(S, T, N, H, dtype):
    """``lstm_forward``'s result arrays, uninitialised: (out (2, S, H), acts (T, 4, N, H),
    tanh_c (T, N, H), terms (T, 2, N, H)); made before the recurrence where another thread
    reads its finished steps (``_lstm_overlap``)."""
    return (scratch("out", (2, S, H), dtype), _gated("acts", T, N, H, dtype),
            _gated("tanh_c", T, N, H, dtype, False), scratch("terms", (T, 2, N, H), dtype))


def lstm_forward(pre, h0, c0, w_hh, steps, marks=None, arrays=None):
    """The recurrence of one layer direction: pre (T, 4, N, H) the input projections and both
    biases in the layout (``project``), the steps as ``_rnn_layers._Steps`` packs them, h0, c0
    (N, H), w_hh (4 H, H) -> (out (2, S, H): the h_t then the c_t
    of every step, as rows; and in the gate-major layout: acts (T, 4, N, H) the activated
    gates o, i, f, g, tanh_c (T, N, H) tanh of the c_t, terms (T, 2, N, H) the two terms
    i g and f c_{t-1} of c_t, kept for the backward's slopes at no extra numpy call (in the
    order of the gates i, f that multiply them there, so that one call does both)).
    ``marks`` (starts, fn) (steps with the whole batch only): fn(j) before the recurrence
    reads the pre of its step starts[j] (counted in processing order from 0, starts rising;
    ``_lstm_overlap``). ``arrays``: the result arrays to write (``forward_arrays``)."""
    S, H = sum(steps.sizes), w_hh.shape[1]
    N, T, dtype = h0.shape[0], len(steps.sizes), h0.dtype
    half = dtype.type(0.5)
    # w4[k] = (gate k's rows of w_hh)^T, the sigmoid gates' halved: h @ w4 is the step's four
    # gates at once (row-major: OpenBLAS took 45 us instead of 27 for the benchmark's step
    # product on transposed memory)
    w4 = np.ascontiguousarray(_gate_rows(w_hh, H).transpose(0, 2, 1))
    w4[:3] *= half
    out, acts, tanh_c, terms = arrays or forward_arrays(S, T, N, H, dtype)
    ig_all, fc_all = terms[:, 0], terms[:, 1]

    def part(r0, r1):
        if steps.uniform and r0 == 0 and r1 == N:
            _forward_whole(h0, c0, w4, pre, acts, out, tanh_c, fc_all, ig_all, steps.reverse,
                           marks)
            return
        h, c = h0[r0:r1], c0[r0:r1]
        if not steps.uniform:              # rows that end (or start later) keep their state
            h, c = h.copy(), c.copy()
        for t, rows, b in steps.order():
            n = min(b, r1) - r0
            if n <= 0:
                continue
            r = slice(r0, r0 + n)
            a = acts[t, :, r]
            np.matmul(h[:n], w4, out=a)
            a += pre[t, :, r]
            np.tanh(a, out=a)
            sig = a[:3]
            sig *= half
            sig += half
            o, i, f, g = a
            rs = slice(rows.start + r0, rows.start + r0 + n)
            c_new, h_new = out[1, rs], out[0, rs]
            fc, ig, tc = fc_all[t, r], ig_all[t, r], tanh_c[t, r]
            np.multiply(f, c[:n], out=fc)
            np.multiply(i, g, out=ig)
            np.add(fc, ig, out=c_new)
            np.tanh(c_new, out=tc)
            np.multiply(o, tc, out=h_new)
            if steps.uniform:
                h, c = h_new, c_new
            else:
                h[:n], c[:n] = h_new, c_new
    _split(part, N, _worth(N, H, 4 * H) and marks is None)      # (marks: the whole batch)
    return out, acts, tanh_c, terms


def per_step(steps, sweep, *arrays):
    """(t, b, the arrays' rows of step t) for each step, in processing order, or against it
    for the backward's ``sweep``; each array packed (S, ...) as ``_rnn_layers._Steps`` lays
    rows out (a column slice of one is fine). When every step has the whole batch the views
    are made by iterating over the arrays as (T, N, ...) (in C: slicing rows and columns
    cost about 0.4 us a view in Python, a few microseconds of a step's 20-40)."""
    T = len(steps.sizes)
    backwards = steps.reverse != sweep
    if steps.uniform:
        N = steps.sizes[0]
        split = _in_order(backwards, *(a.reshape((T, N) + a.shape[1:]) for a in arrays))
        ts = range(T - 1, -1, -1) if backwards else range(T)
        return zip(ts, [N] * T, *split)
    order = list(steps.order())
    return ((t, b) + tuple(a[rows] for a in arrays)
            for t, rows, b in (order[::-1] if sweep else order))


def _in_order(reverse, *arrays):
    """The arrays with their first axis (the steps) in processing order: views."""
    return [a[::-1] for a in arrays] if reverse else list(arrays)


def _forward_whole(h0, c0, w4, pre, acts, out, tanh_c, fc_all, ig_all, reverse, marks=None):
    """``lstm_forward``'s recurrence when every step has the whole batch on this thread: the
    same numpy calls on the same arrays, each step's views taken by iterating over the
    arrays' first axis (numpy makes them in C) instead of by indexing with slices, which
    cost about 10 us a step in Python (a quarter of the loop, beside its product); ``marks``
    as ``lstm_forward`` takes them."""
    T, _, N, H = acts.shape
    half = acts.dtype.type(0.5)
    hs, cs = out[0].reshape(T, N, H), out[1].reshape(T, N, H)
    h, c = h0, c0
    starts, mark = marks if marks else ((), None)
    starts = iter(starts)
    next_mark, chunk = next(starts, -1), 0
    for k, (a, p, sig, o, i, f, g, fc, ig, c_new, tc, h_new) in enumerate(zip(*_in_order(
            reverse, acts, pre, acts[:, :3], acts[:, _O], acts[:, _I], acts[:, _F],
            acts[:, _G], fc_all, ig_all, cs, tanh_c, hs))):
        if k == next_mark:
            mark(chunk)
            next_mark, chunk = next(starts, -1), chunk + 1
        np.matmul(h, w4, out=a)
        a += p
        np.tanh(a, out=a)
        sig *= half
        sig += half
        np.multiply(f, c, out=fc)
        np.multiply(i, g, out=ig)
        np.add(fc, ig, out=c_new)
        np.tanh(c_new, out=tc)
        np.multiply(o, tc, out=h_new)
        h, c = h_new, c_new


def lstm_slopes(acts, tanh_c, terms):
    """The factors of the cell's derivative that do not depend on the incoming gradient, for
    every step at once (``_rnn_layers.lstm_cell_grads``' formulas), in the gate-major layout:
        dc' = dc + dh through_c,  d pre = (dc' slope_i, dc' slope_f, dc' slope_g, dh slope_o)
    -> (h_t (T, N, H), through_c (T, N, H), slopes (T, 4, N, H)). Each is x - x y of what the
    forward kept (terms = (ig, fc) = (i g, f c), h_t = o tanh(c')), slope_i and slope_f in one
    call each way, on the pairs (i, f) and (ig, fc):
        i (1 - i) g = ig - i ig,   f (1 - f) c = fc - f fc,   i (1 - g^2) = i - ig g,
        o (1 - o) tanh(c') = h - o h,   through_c = o (1 - tanh(c')^2) = o - h tanh(c')."""
    h_t, through_c, slopes, rows = slope_arrays(acts, tanh_c, terms)
    _split(rows, len(acts), _pass_worth(len(acts), 3 * slopes.nbytes + 8 * through_c.nbytes))
    return h_t, through_c, slopes


def slope_arrays(acts, tanh_c, terms):
    """``lstm_slopes``' arrays, uninitialised, and fill(t0, t1) making their steps t0 .. t1 - 1
    (``_lstm_overlap`` makes them a chunk of steps at a time beside the forward's recurrence,
    where the other thread has nothing else to do): -> (h_t, through_c, slopes, fill)."""
    dtype = acts.dtype
    T, _, N, H = acts.shape
    h_t = scratch("h_t", (T, N, H), dtype)
    through_c = scratch("through_c", (T, N, H), dtype)
    slopes = scratch("slopes", (T, 4, N, H), dtype)

    def rows(t0, t1):
        a, sl = acts[t0:t1], slopes[t0:t1]
        o, i, g = a[:, _O], a[:, _I], a[:, _G]
        pair, tc = terms[t0:t1], tanh_c[t0:t1]
        h = np.multiply(o, tc, out=h_t[t0:t1])
        for k, (x, y, z) in ((slice(_I, _F + 1), (pair, a[:, _I:_F + 1], pair)),
                             (_G, (i, pair[:, 0], g)), (_O, (h, o, h))):
            np.subtract(x, np.multiply(y, z, out=sl[:, k]), out=sl[:, k])
        tr = through_c[t0:t1]
        np.subtract(o, np.multiply(h, tc, out=tr), out=tr)
    return h_t, through_c, slopes, rows


def step_has_grad(g, steps):
    """Per step (by t): whether any of g's (S, H) rows of that step is nonzero. The incoming
    gradient is often zero at most steps (a model reading only the last h_t; the c_t, read by
    nothing, given as zeros), and a step's add of a zero gradient is then left out."""
    if not g.size:
        return [False] * len(steps.sizes)
    if steps.uniform:           # (one reduction over each step's rows, half the time)
        return g.reshape(len(steps.sizes), -1).any(1).tolist()
    return np.logical_or.reduceat(g.any(1), steps.offsets).tolist()


def lstm_backward_sweep(grad, acts, through_c, slopes, w_hh, steps, need_h0=True,
                        marks=None):
    """The reverse sweep: grad (2, S, H) of (h_t, c_t) as rows -> d pre (T, 4, N, H) in the
    gate-major layout (``to_rows`` makes it rows), and the gradients reaching h0 and c0 (N,
    H). Without ``need_h0`` the sweep's last product, which only h0's gradient reads, is left
    out, and None is given for that gradient. ``marks`` (ends, fn) (steps with the whole
    batch only): fn(j, d_pre) once the sweep has finished its step ends[j] (counted in its
    order from 0, ends rising; ``_lstm_overlap``)."""
    T, _, N, H = acts.shape
    dtype = acts.dtype
    w4 = _gate_rows(w_hh, H)                   # d h = sum over k of d pre_k @ w4[k]
    d_pre = _gated("d_pre", T, N, H, dtype)
    # the gradients reaching each sequence's state: a sequence that has not started (in the
    # sweep's order) has none yet, one that has ended keeps its d h0 / d c0
    dh_state, dc_state = np.zeros((N, H), dtype), np.zeros((N, H), dtype)
    order = list(steps.order())[::-1]
    with_h, with_c = step_has_grad(grad[0], steps), step_has_grad(grad[1], steps)
    skip_last = not need_h0 and bool(order)

    def part(r0, r1):
        if steps.uniform and r0 == 0 and r1 == N:
            _sweep_whole(grad, acts, through_c, slopes, w4, d_pre, dh_state, dc_state,
                         with_h, with_c, steps.reverse, skip_last, marks)
            return
        dh_s, dc_s = dh_state[r0:r1], dc_state[r0:r1]
        dh_b, total_b = (np.empty((r1 - r0, H), dtype) for _ in range(2))
        partial = np.empty((4, r1 - r0, H), dtype)
        last = len(order) - 1
        for k, (t, rows, b) in enumerate(order):
            n = min(b, r1) - r0
            if n <= 0:
                continue
            r = slice(r0, r0 + n)
            rs = slice(rows.start + r0, rows.start + r0 + n)
            # dh = grad_h + dh_s;  total = grad_c + dc_s + through_c dh
            dh = np.add(grad[0, rs], dh_s[:n], out=dh_b[:n]) if with_h[t] else dh_s[:n]
            total = np.multiply(through_c[t, r], dh, out=total_b[:n])
            total += dc_s[:n]
            if with_c[t]:
                total += grad[1, rs]
            sl, dp = slopes[t, :, r], d_pre[t, :, r]
            np.multiply(total, sl[1:], out=dp[1:])         # i, f, g
            np.multiply(dh, sl[_O], out=dp[_O])
            np.multiply(total, acts[t, _F, r], out=dc_s[:n])
            if k == last and skip_last:
                break
            # (dh may be dh_s itself: it is read for the last time above)
            p = partial[:, :n]
            np.matmul(dp, w4, out=p)
            np.add.reduce(p, 0, out=dh_s[:n])
    _split(part, N, _worth(N, H, 4 * H) and marks is None)      # (marks: the whole batch)
    return d_pre, (dh_state if not skip_last else None), dc_state


def _sweep_whole(grad, acts, through_c, slopes, w4, d_pre, dh_s, dc_s, with_h, with_c,
                 reverse, skip_last, marks=None):
    """``lstm_backward_sweep``'s loop when every step has the whole batch on this thread:
    its numpy calls, the steps' views made by iterating over the arrays (``_forward_whole``);
    ``marks`` as ``lstm_backward_sweep`` takes them."""
    T, _, N, H = acts.shape
    dtype = acts.dtype
    dh_b, total = np.empty((N, H), dtype), np.empty((N, H), dtype)
    partial = np.empty((4, N, H), dtype)
    gh, gc = grad[0].reshape(T, N, H), grad[1].reshape(T, N, H)
    # the sweep runs against the processing order
    views = _in_order(not reverse, through_c, slopes[:, 1:], slopes[:, _O], d_pre,
                      d_pre[:, 1:], d_pre[:, _O], acts[:, _F], gh, gc)
    flags = zip(*_in_order(not reverse, with_h, with_c))
    last = T - 1
    ends, mark = marks if marks else ((), None)
    ends = iter(ends)
    next_mark, chunk = next(ends, -1), 0
    for k, (thr, sl_ifg, sl_o, dp, dp_ifg, dp_o, f, g_h, g_c) in enumerate(zip(*views)):
        has_h, has_c = next(flags)
        dh = np.add(g_h, dh_s, out=dh_b) if has_h else dh_s
        np.multiply(thr, dh, out=total)
        total += dc_s
        if has_c:
            total += g_c
        np.multiply(total, sl_ifg, out=dp_ifg)         # i, f, g
        np.multiply(dh, sl_o, out=dp_o)
        np.multiply(total, f, out=dc_s)
        if k == next_mark:
            mark(chunk, d_pre)
            next_mark, chunk = next(ends, -1), chunk + 1
        if k == last and skip_last:
            break
        # (dh may be dh_s itself: it is read for the last time above)
        np.matmul(dp, w4, out=partial)
        np.add.reduce(partial, 0, out=dh_s)
