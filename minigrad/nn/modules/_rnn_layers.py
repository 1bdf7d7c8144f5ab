"""One recurrent layer (LSTM, GRU or Elman RNN; one direction, all time steps) as a single
graph node.

``_rnn_steps.py`` composes a layer of per-step nodes (a product, a sum and a fused cell a step,
and their backward one node at a time). That is exact and differentiable to any order, but
for a short hidden state the time goes to the per-node bookkeeping: a 2-layer LSTM of 128
units over 50 steps made ~700 nodes per forward. Here the whole recurrence is one node:

    forward   for t in order: pre_t = h W_hh^T + b_hh + xw_t, then the cell's formulas
              (``_rnn_steps.py``'s); the gates, the cell states and their tanh are kept
    backward  the factors of the cell's derivative that do not depend on the incoming
              gradient for every step at once, then the reverse sweep: per step d pre_t
              (a few products of (b, H) rows) and dh_prev = d pre_t W_hh; after it the
              weight gradient of all steps as ONE product d W_hh = sum_t d pre_t^T h_prev_t
              (a (G H, S) @ (S, H) GEMM), d b_hh the sum of d pre, d xw the d pre rows.

Shapes: the node sees the steps packed, xw (S, G H) (the input projections of every step,
G = 4 gates i, f, g, o for an LSTM, 3 gates r, z, n for a GRU, 1 for an RNN), step t's rows
the first ``sizes[t]`` sequences (``_Steps``; an unpacked (T, N, G H) input is N rows a
step), h0 and c0 (N, H), w_hh (G H, H), b_hh (G H,). ``reverse`` runs the steps T-1 .. 0 (a
bidirectional layer's second direction). Outputs: LSTM (2, S, H), the h_t of every step then
the c_t; GRU and RNN (S, H). The values agree with the per-step composition to rounding (the
products are the same, their BLAS call is not).

The array kernels are in ``_lstm_kernels.py`` (LSTM) and ``_rnn_kernels.py`` (GRU, Elman).
The backward runs on arrays when it records no graph; with ``create_graph`` (or arrays that
are not numpy's) it runs the layer again from its saved inputs as the per-step composition
and lets the engine differentiate that, so gradients of any order stay the composition's.
"""
from __future__ import annotations

import numpy as np

from ... import parallel
from ...autograd import Function, enable_grad, grad as autograd_grad
from ...autograd._node_names import rename_node
from ...autograd.grad_mode import is_grad_enabled
from ...ops.elementary_functions import sigmoid_array
from ...ops.scatter_gather import index_select
from ...ops.stacking import cat, unbind
from ...tensor import Tensor
from ._lstm_kernels import lstm_backward_sweep, lstm_forward, lstm_slopes, scratch, to_rows
from ._rnn_kernels import elman_backward, elman_forward, gru_backward, gru_forward

__all__ = ["fits", "lstm_layer", "gru_layer", "rnn_layer", "lstm_cell_grads", "gru_cell_grads",
           "gru_gates"]


def fits(xw, h0, c0, w_hh, b_hh):
    """Numpy float32/float64 operands of one dtype (the layer's kernels run on arrays)."""
    arrays = [t._array for t in (xw, h0, w_hh) + ((c0,) if c0 is not None else ()) +
              ((b_hh,) if b_hh is not None else ())]
    dtype = arrays[0].dtype
    return dtype in (np.float32, np.float64) and all(
        type(a) is np.ndarray and a.dtype == dtype for a in arrays)


def lstm_cell_grads(gates, c, dh, dc, tanh_of, cat_of):
    """The gradients of an LSTM step's pre-activations and of c from those of h' and c':
    gates = (i, f, g, o) activated; c' = f c + i g, h' = o tanh(c'):
        dc' = dc + dh o (1 - tanh(c')^2),  do = dh tanh(c'),  dc_prev = dc' f,
        d pre = (dc' g i (1 - i), dc' c f (1 - f), dc' i (1 - g^2), do o (1 - o)).
    Arithmetic by operators, so it runs on numpy arrays (tanh_of = numpy.tanh) and as ops
    on tensors alike (the latter differentiable again)."""
    i, f, g, o = gates
    tc = tanh_of(f * c + i * g)
    total = dc + dh * o * (1 - tc * tc)
    pre = cat_of([total * g * (i * (1 - i)), total * c * (f * (1 - f)),
                  total * i * (1 - g * g), dh * tc * (o * (1 - o))])
    return pre, total * f


def gru_cell_grads(r, z, n, hn, h, g, cat_of):
    """The gradients of a GRU step's input and hidden projections xw, hw (each (..., 3 H))
    and of h from that of h' (g); r, z, n the gates, hn the hidden projection's n part:
        h' = (1 - z) n + z h,  n = tanh(xn + r hn),  r, z = sigmoid(xr + hr), sigmoid(...)
        dn = g (1 - z) (1 - n^2),  dr = dn hn r (1 - r),  dz = g (h - n) z (1 - z)
        d xw = (dr, dz, dn),  d hw = (dr, dz, dn r),  dh = g z
    By operators: on numpy arrays and as ops alike (``lstm_cell_grads``)."""
    dn = g * (1 - z) * (1 - n * n)
    dr = dn * hn * (r * (1 - r))
    dz = g * (h - n) * (z * (1 - z))
    return cat_of([dr, dz, dn]), cat_of([dr, dz, dn * r]), g * z


def gru_gates(xw, hw, size):
    """r, z, n and hn of GRU steps on arrays (xw, hw (..., 3 H)), computed as the composition
    computes them."""
    rz = sigmoid_array(xw[..., :2 * size] + hw[..., :2 * size])
    hn = hw[..., 2 * size:]
    n = np.tanh(xw[..., 2 * size:] + rz[..., :size] * hn)
    return rz[..., :size], rz[..., size:], n, hn


class _Steps:
    """Where each time step's rows are in the packed layout: step t has the first ``sizes[t]``
    sequences (sorted longest first, so the counts never grow), its rows at
    ``offsets[t]:offsets[t] + sizes[t]`` of a (sum(sizes), ...) array. An unpacked (T, N, ...)
    sequence is the same with every size N."""

    def __init__(self, sizes, reverse):
        self.sizes, self.reverse = sizes, reverse
        self.offsets = [0]
        for b in sizes[:-1]:
            self.offsets.append(self.offsets[-1] + b)
        self.uniform = sizes[0] == sizes[-1]

    def order(self):
        """(t, rows, count) of each step in processing order (T-1 .. 0 for ``reverse``)."""
        T = len(self.sizes)
        for t in (range(T - 1, -1, -1) if self.reverse else range(T)):
            o = self.offsets[t]
            yield t, slice(o, o + self.sizes[t]), self.sizes[t]

    def previous(self, states, first, out=None):
        """The state each step starts from, packed as ``states`` (S, H): the prefix of the
        state the step before it (in processing order) left, and ``first`` (h0 or c0) for
        sequences starting at this step. Into ``out`` when given."""
        sizes, offsets, T = self.sizes, self.offsets, len(self.sizes)
        if self.uniform:        # (every step has every row: one shift)
            n = sizes[0]
            if self.reverse:
                return np.concatenate([states[n:], first], 0, out=out)
            return np.concatenate([first, states[:-n]], 0, out=out)
        parts = []
        for t in range(T):
            b = sizes[t]
            before = t + 1 if self.reverse else t - 1
            if 0 <= before < T:
                kept = min(b, sizes[before])
                parts.append(states[offsets[before]:offsets[before] + kept])
                if kept < b:
                    parts.append(first[kept:b])
            else:
                parts.append(first[:b])
        return np.concatenate(parts, 0, out=out)

    def last_rows(self, n):
        """Where each of the n sequences' final state is in the packed layout (its row at the
        last step it takes part in, processing order)."""
        if self.reverse:
            return np.arange(n) + self.offsets[0]
        lengths = (np.asarray(self.sizes)[None, :] > np.arange(n)[:, None]).sum(1)
        return np.asarray(self.offsets)[lengths - 1] + np.arange(n)


def _weight_grads(d_pre, h_prev, with_bias):
    """d W_hh = sum over steps and rows of d_pre^T h_prev (one GEMM), d b_hh = sum d_pre."""
    dw = parallel.matmul(d_pre.T, h_prev)
    return dw, (d_pre.sum(0) if with_bias else None)


def _split_bias(bias_weight):
    """(b_hh, w_hh) or (w_hh,) -> (w_hh, b_hh or None). The bias comes first among a layer
    node's inputs, so that the parameters' gradients complete in PyTorch's order (its
    step's addmm gives the bias's before the weight's)."""
    return bias_weight[-1], (bias_weight[0] if len(bias_weight) == 2 else None)


class _Layer(Function):
    """One layer direction; inputs (xw, h0[, c0], [b_hh,] w_hh), xw packed (S, G H)."""
    kind = None

    def backward(self, grad):
        saved = self.saved_tensors
        if is_grad_enabled() or type(grad._array) is not np.ndarray or \
                grad._array.dtype != saved[0]._array.dtype:
            return _backward_as_ops(self, grad, saved)
        with parallel.blas_on_one_thread():     # (see _layer)
            return self.backward_arrays(grad._array, saved)


class _LstmLayer(_Layer):
    kind = "LSTM"

    def forward(self, xw, h0, c0, *bias_weight, steps, step):
        self.save_for_backward(xw, h0, c0, *bias_weight)
        w_hh, b_hh = _split_bias(bias_weight)
        out, acts, tanh_c, fc, ig = lstm_forward(xw, h0, c0, w_hh, b_hh, steps)
        # the backward reads the gates and cell terms as made here (none is handed out)
        self.acts, self.tanh_c, self.fc, self.ig, self.steps = acts, tanh_c, fc, ig, steps
        self.step = step
        return out

    def backward_arrays(self, grad, saved):
        """grad (2, S, H) of (h_t, c_t) -> d xw, d h0, d c0, d w_hh, d b_hh: the cell's
        formulas (``lstm_cell_grads``) with every factor that does not depend on the incoming
        gradients computed for all steps at once, so that a step of the sweep is a few
        products of (b, H) rows and one stacked product (``_lstm_kernels``)."""
        h0, w_hh = saved[1]._array, saved[-1]._array
        acts, steps = self.acts, self.steps
        S, H, dtype = grad.shape[1], acts.shape[-1], acts.dtype
        h_t, through_c, slopes = lstm_slopes(acts, self.tanh_c, self.fc, self.ig)
        d_gated, dh0, dc0 = lstm_backward_sweep(grad, acts, through_c, slopes, w_hh, steps,
                                                _needs(self, 1))
        del through_c, slopes
        d_pre = to_rows(d_gated, steps, scratch("d_xw", (S, 4 * H), dtype))
        del d_gated
        if not steps.uniform:
            h_t = to_rows(h_t, steps, scratch("h_rows", (S, H), dtype))
        h_prev = steps.previous(h_t.reshape(S, H), h0, scratch("prev", (S, H), dtype))
        dw, db = _weight_grads(d_pre, h_prev, len(saved) == 5)
        return _in_order(d_pre, (dh0, dc0), dw, db)


class _GruLayer(_Layer):
    kind = "GRU"

    def forward(self, xw, h0, *bias_weight, steps, step):
        w_hh, b_hh = _split_bias(bias_weight)
        out, self.acts, self.hn = gru_forward(xw, h0, w_hh, b_hh, steps)
        self.steps, self.step = steps, step
        # the h_t are handed out: saved as the output (version-checked), not as an attribute
        self.save_for_backward(xw, h0, *bias_weight, out)
        return out

    def backward_arrays(self, grad, saved):
        """grad (S, H) of the h_t -> d xw, d h0, d w_hh, d b_hh (``_rnn_kernels``)."""
        h0, w_hh, out = (s._array for s in (saved[1], saved[-2], saved[-1]))
        h_prev = self.steps.previous(out, h0, scratch("prev", out.shape, out.dtype))
        d_xw, d_hw, dh0 = gru_backward(grad, self.acts, self.hn, h_prev, w_hh, self.steps,
                                       h0.shape[0])
        dw, db = _weight_grads(d_hw, h_prev, len(saved) == 5)
        return _in_order(d_xw, (dh0,), dw, db)


class _RnnLayer(_Layer):
    """An Elman layer: h_t = act(xw_t + h_{t-1} W_hh^T + b_hh), act tanh or relu."""
    kind = "RNN"

    def forward(self, xw, h0, *bias_weight, steps, step, nonlinearity="tanh"):
        w_hh, b_hh = _split_bias(bias_weight)
        out = elman_forward(xw, h0, w_hh, b_hh, steps, nonlinearity)
        self.steps, self.step, self.nonlinearity = steps, step, nonlinearity
        # the h_t are handed out: saved as the output (version-checked), not as an attribute
        self.save_for_backward(xw, h0, *bias_weight, out)
        return out

    def backward_arrays(self, grad, saved):
        """grad (S, H) of the h_t -> d xw, d h0, d w_hh, d b_hh (``_rnn_kernels``)."""
        h0, w_hh, out = (s._array for s in (saved[1], saved[-2], saved[-1]))
        d_pre, dh0 = elman_backward(grad, out, h0, w_hh, self.steps, self.nonlinearity)
        h_prev = self.steps.previous(out, h0, scratch("prev", out.shape, out.dtype))
        dw, db = _weight_grads(d_pre, h_prev, len(saved) == 5)
        return _in_order(d_pre, (dh0,), dw, db)


def _needs(node, i):
    """Whether the node's input i wants a gradient in this backward (True when unknown)."""
    needs = node.needs_input_grad
    return not needs or len(needs) <= i or bool(needs[i])


def _in_order(d_xw, d_states, dw, db):
    """The gradients as the node's inputs come: xw, the states, then (b_hh,) w_hh."""
    grads = (d_xw,) + d_states + ((dw,) if db is None else (db, dw))
    return tuple(None if v is None else Tensor._wrap(v) for v in grads)


def _backward_as_ops(node, grad, saved):
    """The gradients as ops (differentiable again, for ``create_graph``): the layer is run
    once more from its inputs as the per-step composition ``_rnn_steps.py`` makes, and its gradient
    taken by the autograd engine."""
    lstm, step = node.kind == "LSTM", node.step
    xw, h0 = saved[0], saved[1]
    c0 = saved[2] if lstm else None
    inputs = saved[:len(saved) - (0 if lstm else 1)]       # (GRU/RNN: the output saved last)
    w_hh, b_hh = _split_bias(inputs[3 if lstm else 2:])
    steps = node.steps
    create_graph = is_grad_enabled()
    with enable_grad():
        hs, cs = [None] * len(steps.sizes), [None] * len(steps.sizes)
        h, c = h0, c0
        for t, rows, b in steps.order():
            h_new, c_new = step(xw[rows], h[:b], c[:b] if lstm else None, w_hh, b_hh)
            hs[t], cs[t] = h_new, c_new
            h = h_new if b == h.shape[0] else cat([h_new, h[b:]], 0)
            if lstm:
                c = c_new if b == c.shape[0] else cat([c_new, c[b:]], 0)
        outputs = [cat(hs, 0)] + ([cat(cs, 0)] if lstm else [])
        wanted = [t for t in inputs if t.requires_grad]
        got = iter(autograd_grad(outputs, wanted, list(unbind(grad, 0)) if lstm else [grad],
                                 create_graph=create_graph, allow_unused=True))
    return tuple(next(got) if t.requires_grad else None for t in inputs)


def take_rows(x, rows):
    """The rows ``rows`` (numpy ints) of x (S, H) as a tensor of its own (a copy)."""
    start = int(rows[0]) if len(rows) else 0
    if np.array_equal(rows, np.arange(start, start + len(rows))):
        return x[start:start + len(rows)].clone()
    return index_select(x, 0, Tensor._wrap(rows.astype(np.int64)))


def _layer(node, step, xw, states, w_hh, b_hh, reverse, sizes, **params):
    """Run ``node`` on xw (T, N, G H), or packed (S, G H) with its steps' batch ``sizes``;
    -> (its output (G, S, H) or (S, H), the steps)."""
    steps = _Steps(sizes or [xw.shape[1]] * xw.shape[0], reverse)
    args = (xw.reshape(-1, xw.shape[-1]),) + states + \
        ((w_hh,) if b_hh is None else (b_hh, w_hh))
    # a step's products are too small for the BLAS's threads: with them, OpenBLAS's workers
    # met at each product and spun after it, and a 2-thread step of the lstm_text benchmark
    # took 170-880 ms instead of 21-24 when other processes held the cores
    with parallel.blas_on_one_thread():
        return node.apply(*args, steps=steps, step=step, **params), steps


def _named(out, xw, h0, sizes):
    """The layer's output as PyTorch's: (T, N, H) unpacked, its node named as PyTorch's
    layer's (which stacks its steps' outputs, or for a packed input concatenates them)."""
    if not sizes:
        out = out.reshape(xw.shape[:-1] + (h0.shape[1],))
    return rename_node(out, "CatBackward0" if sizes else "StackBackward0")


def lstm_layer(step, xw, h0, c0, w_hh, b_hh, reverse, sizes=None):
    """One LSTM layer direction as one node (``step``: _rnn_steps.py's per-step composition, which
    a ``create_graph`` backward runs again). Unpacked (``sizes`` None): xw (T, N, 4H) ->
    (output (T, N, H), h_T, c_T); packed: xw (S, 4H) with the batch sizes of its steps ->
    (output (S, H), h_n, c_n (N, H)). h_n and c_n are tensors of their own (an in-place change
    of the output leaves them, as PyTorch's separate outputs)."""
    out, steps = _layer(_LstmLayer, step, xw, (h0, c0), w_hh, b_hh, reverse, sizes)
    hs, cs = unbind(out, 0)
    last = steps.last_rows(h0.shape[0])
    return _named(hs, xw, h0, sizes), take_rows(hs, last), take_rows(cs, last)


def gru_layer(step, xw, h0, w_hh, b_hh, reverse, sizes=None):
    """One GRU layer direction as one node: -> (output, h_n as its own tensor)."""
    out, steps = _layer(_GruLayer, step, xw, (h0,), w_hh, b_hh, reverse, sizes)
    return _named(out, xw, h0, sizes), take_rows(out, steps.last_rows(h0.shape[0]))


def rnn_layer(step, xw, h0, w_hh, b_hh, reverse, nonlinearity, sizes=None):
    """One Elman layer direction as one node: -> (output, h_n as its own tensor)."""
    out, steps = _layer(_RnnLayer, step, xw, (h0,), w_hh, b_hh, reverse, sizes,
                        nonlinearity=nonlinearity)
    return _named(out, xw, h0, sizes), take_rows(out, steps.last_rows(h0.shape[0]))
