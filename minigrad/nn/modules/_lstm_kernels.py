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
backward's four products and their sum, 26 against 32. The input projections come in as rows
(S, 4 H) and their gradient goes out as rows: one pass each way. A packed batch (steps of
fewer sequences) keeps the layout; the rows a step does not have hold garbage that nothing
reads.

A step's products are too small for the BLAS's threads, so they run on the calling thread, the
BLAS held to it: OpenBLAS's two threads meeting at each of a layer's 100 products, then
spinning, made a 2-thread step of that benchmark take up to 10 times as long as one on one
thread when another process held a core. A large batch is run in parts instead
(``parallel.over_batch``): a sequence's steps depend on one another, but two sequences of a
batch never do, so each thread runs the whole recurrence for its part of the sequences,
meeting the others once per layer.

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

__all__ = ["lstm_forward", "lstm_backward_sweep", "lstm_slopes", "scratch", "step_has_grad",
           "to_rows"]

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


def _inputs(xw, b_hh, steps, pre):
    """pre (T, 4, N, H) = xw + b_hh in the layout, the sigmoid gates' halved, from xw's rows
    (S, 4 H)."""
    T, _, N, H = pre.shape
    b4 = None if b_hh is None else b_hh.reshape(4, 1, H)
    half = pre.dtype.type(0.5)

    def block(src, t, r):
        dst = pre[t, ..., r, :]
        # layout gates 1..3 are PyTorch's 0..2 (i, f, g); layout gate 0 is its 3 (o)
        pairs = ((dst[..., 1:, :, :], src[..., :3, :, :], slice(0, 3)),
                 (dst[..., 0, :, :], src[..., 3, :, :], 3))
        for d, s, k in pairs:
            if b4 is None:
                np.copyto(d, s)
            else:
                np.add(s, b4[k], out=d)
        dst[..., :3, :, :] *= half
    _over_steps(block, steps, T, N, xw, H, 3 * pre.nbytes)


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


def lstm_forward(xw, h0, c0, w_hh, b_hh, steps):
    """The recurrence of one layer direction: xw (S, 4 H) packed (``_rnn_layers._Steps``),
    h0, c0 (N, H), w_hh (4 H, H), b_hh (4 H,) or None -> (out (2, S, H): the h_t then the c_t
    of every step, as rows; and in the gate-major layout: acts (T, 4, N, H) the activated
    gates o, i, f, g, tanh_c (T, N, H) tanh of the c_t, fc and ig (T, N, H) the two terms of
    c_t = f c_{t-1} + i g, kept for the backward's slopes at no extra numpy call)."""
    S, G = xw.shape
    H, N, T, dtype = G // 4, h0.shape[0], len(steps.sizes), xw.dtype
    half = dtype.type(0.5)
    # w4[k] = (gate k's rows of w_hh)^T, the sigmoid gates' halved: h @ w4 is the step's four
    # gates at once (row-major: OpenBLAS took 45 us instead of 27 for the benchmark's step
    # product on transposed memory)
    w4 = np.ascontiguousarray(_gate_rows(w_hh, H).transpose(0, 2, 1))
    w4[:3] *= half
    pre = scratch("pre", (T, 4, N, H), dtype)
    _inputs(xw, b_hh, steps, pre)
    out = scratch("out", (2, S, H), dtype)
    acts = _gated("acts", T, N, H, dtype)
    tanh_c, fc_all, ig_all = (_gated(k, T, N, H, dtype, False)
                              for k in ("tanh_c", "fc", "ig"))

    def part(r0, r1):
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
    _split(part, N, _worth(N, H, G))
    return out, acts, tanh_c, fc_all, ig_all


def lstm_slopes(acts, tanh_c, fc, ig):
    """The factors of the cell's derivative that do not depend on the incoming gradient, for
    every step at once (``_rnn_layers.lstm_cell_grads``' formulas), in the gate-major layout:
        dc' = dc + dh through_c,  d pre = (dc' slope_i, dc' slope_f, dc' slope_g, dh slope_o)
    -> (h_t (T, N, H), through_c (T, N, H), slopes (T, 4, N, H)). Each is x - x y of what the
    forward kept (fc = f c, ig = i g, h_t = o tanh(c')):
        i (1 - i) g = ig - i ig,   f (1 - f) c = fc - f fc,   i (1 - g^2) = i - ig g,
        o (1 - o) tanh(c') = h - o h,   through_c = o (1 - tanh(c')^2) = o - h tanh(c')."""
    dtype = acts.dtype
    T, _, N, H = acts.shape
    h_t = scratch("h_t", (T, N, H), dtype)
    through_c = scratch("through_c", (T, N, H), dtype)
    slopes = scratch("slopes", (T, 4, N, H), dtype)

    def rows(t0, t1):
        a, sl = acts[t0:t1], slopes[t0:t1]
        o, i, f, g = a[:, _O], a[:, _I], a[:, _F], a[:, _G]
        ig_r, fc_r, tc = ig[t0:t1], fc[t0:t1], tanh_c[t0:t1]
        h = np.multiply(o, tc, out=h_t[t0:t1])
        for k, (x, y, z) in ((_I, (ig_r, i, ig_r)), (_F, (fc_r, f, fc_r)),
                             (_G, (i, ig_r, g)), (_O, (h, o, h))):
            np.subtract(x, np.multiply(y, z, out=sl[:, k]), out=sl[:, k])
        tr = through_c[t0:t1]
        np.subtract(o, np.multiply(h, tc, out=tr), out=tr)
    _split(rows, T, _pass_worth(T, 3 * slopes.nbytes + 8 * through_c.nbytes))
    return h_t, through_c, slopes


def step_has_grad(g, steps):
    """Per step (by t): whether any of g's (S, H) rows of that step is nonzero. The incoming
    gradient is often zero at most steps (a model reading only the last h_t; the c_t, read by
    nothing, given as zeros), and a step's add of a zero gradient is then left out."""
    if not g.size:
        return [False] * len(steps.sizes)
    if steps.uniform:           # (one reduction over each step's rows, half the time)
        return g.reshape(len(steps.sizes), -1).any(1).tolist()
    return np.logical_or.reduceat(g.any(1), steps.offsets).tolist()


def lstm_backward_sweep(grad, acts, through_c, slopes, w_hh, steps, need_h0=True):
    """The reverse sweep: grad (2, S, H) of (h_t, c_t) as rows -> d pre (T, 4, N, H) in the
    gate-major layout (``to_rows`` makes it rows), and the gradients reaching h0 and c0 (N,
    H). Without ``need_h0`` the sweep's last product, which only h0's gradient reads, is left
    out, and None is given for that gradient."""
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
    _split(part, N, _worth(N, H, 4 * H))
    return d_pre, (dh_state if not skip_last else None), dc_state
