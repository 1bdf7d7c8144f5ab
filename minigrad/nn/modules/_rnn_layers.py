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

Shapes: the node sees the steps packed, x (S, I) and the input projections it makes of them,
xw (S, G H) (G = 4 gates i, f, g, o for an LSTM, 3 gates r, z, n for a GRU, 1 for an RNN),
step t's rows the first ``sizes[t]`` sequences (``_Steps``; an unpacked (T, N, I) input is N
rows a step), h0 and c0 (N, H), w_hh (G H, H), b_hh (G H,), w_ih (G H, I), b_ih (G H,).
``reverse`` runs the steps T-1 .. 0 (a bidirectional layer's second direction). Outputs:
LSTM (2, S, H), the h_t of every step then the c_t; GRU and RNN (S, H). The values agree with
the per-step composition to rounding (the products are the same, their BLAS call is not).

A layer's node takes the layer's input x itself, not xw, with W_ih and b_ih: it makes the
input projections (an LSTM's in its kernels' layout, ``_lstm_kernels.project``; a GRU's and an
Elman layer's as rows, ``_projection``, with b_hh and the sigmoid gates' halving folded in) and
gives the gradients of x, W_ih and b_ih from the d xw rows (d x = d xw W_ih, d W_ih = d xw^T x,
d b_ih = the sum of d xw), so the layer is one node where it was a Linear's and this one. Its
inputs are (x, the states, [b_hh,] w_hh, [b_ih,] w_ih), W_ih and b_ih through views of their
own (``_layer``) so that their gradients complete after W_hh's, as PyTorch's do. With the
loops of ``_lstm_kernels`` (views by iteration) this took the CPU time of the ``lstm_text``
benchmark's step down 16% (the same model as a GRU: 15%; as an Elman RNN: 7%). A backward
that records a graph makes the projections again as a Linear (``_backward_as_ops``).

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
from ...ops.linear import linear
from ...ops.scatter_gather import index_select
from ...ops.stacking import cat, unbind
from ...tensor import Tensor
from ._lstm_kernels import (lstm_backward_sweep, lstm_forward, lstm_slopes, project, scratch,
                            to_rows)
from ._lstm_overlap import backward_overlapped, forward_overlapped, overlap_worth
from ._rnn_kernels import elman_backward, elman_forward, gru_backward, gru_forward

__all__ = ["fits", "lstm_layer", "gru_layer", "rnn_layer", "lstm_cell_grads", "gru_cell_grads",
           "gru_gates"]


def fits(xw, h0, c0, w_hh, b_hh, *more):
    """Numpy float32/float64 operands of one dtype (the layer's kernels run on arrays); None
    among ``more`` (an LSTM's w_ih, b_ih) is left out."""
    arrays = [t._array for t in (xw, h0, w_hh) + ((c0,) if c0 is not None else ()) +
              ((b_hh,) if b_hh is not None else ()) + tuple(t for t in more if t is not None)]
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


def _layer_params(params):
    """([b_hh,] w_hh, [b_ih,] w_ih) -> (w_hh, b_hh, w_ih, b_ih), the biases None when absent
    (both or neither)."""
    half = len(params) // 2
    w_hh, b_hh = _split_bias(params[:half])
    w_ih, b_ih = _split_bias(params[half:])
    return w_hh, b_hh, w_ih, b_ih


class _LstmLayer(_Layer):
    """An LSTM layer direction from its input: inputs (x, h0, c0, [b_hh,] w_hh, [b_ih,] w_ih),
    x (T, N, I) or packed (S, I)."""
    kind = "LSTM"

    def forward(self, x, h0, c0, *params, steps, step, recorded=False):
        self.save_for_backward(x, h0, c0, *params)
        w_hh, b_hh, w_ih, b_ih = _layer_params(params)
        x2 = x.reshape(-1, x.shape[-1])
        slopes = None
        if overlap_worth(steps, w_hh.shape[1], x2.shape[1], True):
            # (with the node recorded, the slopes its backward starts with come along)
            out, acts, tanh_c, terms, slopes = forward_overlapped(
                x2, w_ih, b_ih, b_hh, h0, c0, w_hh, steps, recorded)
        else:
            pre = project(x2, w_ih, b_ih, b_hh, steps, h0.shape[0])
            out, acts, tanh_c, terms = lstm_forward(pre, h0, c0, w_hh, steps)
            del pre
        self.x2 = x2            # (x as rows: a copy when x's steps are not rows, made once)
        # the backward reads the gates and cell terms (or the slopes made of them) as made
        # here (none is handed out)
        self.acts, self.steps, self.step = acts, steps, step
        # (each array an attribute of its own: the node's release after its backward drops
        # them, and the scratch cache then hands their buffers out again)
        self.tanh_c, self.terms = (tanh_c, terms) if slopes is None else (None, None)
        self.h_t, self.through_c, self.slopes = slopes or (None, None, None)
        return out

    def backward_arrays(self, grad, saved):
        """grad (2, S, H) of (h_t, c_t) -> d x, d h0, d c0, d b_hh, d w_hh, d b_ih, d w_ih:
        the cell's formulas (``lstm_cell_grads``) with every factor that does not depend on
        the incoming gradients computed for all steps at once, so that a step of the sweep is
        a few products of (b, H) rows and one stacked product (``_lstm_kernels``); then the
        products of the d pre rows for the weights and x."""
        h0 = saved[1]._array
        w_hh, b_hh, _, _ = _layer_params([s._array for s in saved[3:]])
        acts, steps = self.acts, self.steps
        S, H, dtype = grad.shape[1], acts.shape[-1], acts.dtype
        if self.slopes is None:
            h_t, through_c, slopes = lstm_slopes(acts, self.tanh_c, self.terms)
        else:
            h_t, through_c, slopes = self.h_t, self.through_c, self.slopes
        if overlap_worth(steps, H, self.x2.shape[1]):
            h_prev = steps.previous(h_t.reshape(S, H), h0, scratch("prev", (S, H), dtype))
            dw, db, dx, dw_ih, dh0, dc0 = backward_overlapped(
                grad, acts, through_c, slopes, w_hh, steps, _needs(self, 1), h_prev, self.x2,
                saved[-1]._array, b_hh is not None, _needs(self, 0), _needs(self, len(saved) - 1))
            dx = None if dx is None else dx.reshape(saved[0]._array.shape)
            return _in_order(dx, (dh0, dc0), dw, db, dw_ih, None if db is None else db.copy())
        d_gated, dh0, dc0 = lstm_backward_sweep(grad, acts, through_c, slopes, w_hh, steps,
                                                _needs(self, 1))
        del through_c, slopes
        d_pre = to_rows(d_gated, steps, scratch("d_xw", (S, 4 * H), dtype))
        del d_gated
        if not steps.uniform:
            h_t = to_rows(h_t, steps, scratch("h_rows", (S, H), dtype))
        h_prev = steps.previous(h_t.reshape(S, H), h0, scratch("prev", (S, H), dtype))
        dw, db = _weight_grads(d_pre, h_prev, b_hh is not None)
        del h_prev
        dx, dw_ih, _ = _input_grads(self, saved, d_pre, False)
        return _in_order(dx, (dh0, dc0), dw, db, dw_ih, None if db is None else db.copy())


def _projection(x2, w_ih, b_ih, b_hh, halved, with_hh):
    """A GRU's or Elman layer's input projections as rows (S, G H), x2 (S, I): x W_ih^T + b_ih,
    plus b_hh on its first ``with_hh`` columns (all of an Elman layer's, a GRU's r and z:
    the kernels then add no bias of their own there), the first ``halved`` columns halved (a
    GRU's sigmoid gates, ``_rnn_kernels``). One product and one pass over its rows, where a
    Linear node's product and bias came before a pass of the kernels' own."""
    w = np.array(w_ih.T, w_ih.dtype, order="C")           # (I, G H)
    if halved:
        w[:, :halved] *= w.dtype.type(0.5)
    xw = parallel.matmul(x2, w)
    if b_ih is not None or b_hh is not None:
        bias = np.zeros(w.shape[1], w.dtype) if b_ih is None else b_ih.copy()
        if b_hh is not None:
            bias[:with_hh] += b_hh[:with_hh]
        if halved:
            bias[:halved] *= w.dtype.type(0.5)
        xw += bias
    return xw


def _input_grads(node, saved, d_xw, with_bias):
    """d x, d W_ih, d b_ih from the d xw rows (S, G H) of a node whose inputs are ``saved``
    (x first, w_ih last)."""
    x, w_ih = saved[0]._array, saved[-1]._array
    dx = parallel.matmul(d_xw, w_ih).reshape(x.shape) if _needs(node, 0) else None
    dw = parallel.matmul(d_xw.T, node.x2) if _needs(node, len(saved) - 1) else None
    return dx, dw, (d_xw.sum(0) if with_bias else None)


class _GruLayer(_Layer):
    """A GRU layer direction from its input: inputs (x, h0, [b_hh,] w_hh, [b_ih,] w_ih)."""
    kind = "GRU"

    def forward(self, x, h0, *params, steps, step):
        w_hh, b_hh, w_ih, b_ih = _layer_params(params)
        self.x2 = x.reshape(-1, x.shape[-1])
        H = w_hh.shape[1]
        xw = _projection(self.x2, w_ih, b_ih, b_hh, 2 * H, 2 * H)
        out, self.acts, self.hn = gru_forward(xw, h0, w_hh, b_hh, steps, folded=True)
        del xw
        self.steps, self.step = steps, step
        # the h_t are handed out: saved as the output (version-checked), not as an attribute
        self.save_for_backward(x, h0, *params, out)
        return out

    def backward_arrays(self, grad, saved):
        """grad (S, H) of the h_t -> d x, d h0, d b_hh, d w_hh, d b_ih, d w_ih
        (``_rnn_kernels``)."""
        h0, out = saved[1]._array, saved[-1]._array
        w_hh, b_hh, _, _ = _layer_params([t._array for t in saved[2:-1]])
        h_prev = self.steps.previous(out, h0, scratch("prev", out.shape, out.dtype))
        d_xw, d_hw, dh0 = gru_backward(grad, self.acts, self.hn, h_prev, w_hh, self.steps,
                                       h0.shape[0])
        dw, db = _weight_grads(d_hw, h_prev, b_hh is not None)
        del h_prev, d_hw
        dx, dw_ih, db_ih = _input_grads(self, saved[:-1], d_xw, b_hh is not None)
        return _in_order(dx, (dh0,), dw, db, dw_ih, db_ih)


class _RnnLayer(_Layer):
    """An Elman layer: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act tanh or relu;
    inputs (x, h0, [b_hh,] w_hh, [b_ih,] w_ih)."""
    kind = "RNN"

    def forward(self, x, h0, *params, steps, step, nonlinearity="tanh"):
        w_hh, b_hh, w_ih, b_ih = _layer_params(params)
        self.x2 = x.reshape(-1, x.shape[-1])
        xw = _projection(self.x2, w_ih, b_ih, b_hh, 0, w_hh.shape[0])
        out = elman_forward(xw, h0, w_hh, None, steps, nonlinearity)
        del xw
        self.steps, self.step, self.nonlinearity = steps, step, nonlinearity
        # the h_t are handed out: saved as the output (version-checked), not as an attribute
        self.save_for_backward(x, h0, *params, out)
        return out

    def backward_arrays(self, grad, saved):
        """grad (S, H) of the h_t -> d x, d h0, d b_hh, d w_hh, d b_ih, d w_ih
        (``_rnn_kernels``)."""
        h0, out = saved[1]._array, saved[-1]._array
        w_hh, b_hh, _, _ = _layer_params([t._array for t in saved[2:-1]])
        d_pre, dh0 = elman_backward(grad, out, h0, w_hh, self.steps, self.nonlinearity)
        h_prev = self.steps.previous(out, h0, scratch("prev", out.shape, out.dtype))
        dw, db = _weight_grads(d_pre, h_prev, b_hh is not None)
        del h_prev
        dx, dw_ih, _ = _input_grads(self, saved[:-1], d_pre, False)
        return _in_order(dx, (dh0,), dw, db, dw_ih, None if db is None else db.copy())


def _needs(node, i):
    """Whether the node's input i wants a gradient in this backward (True when unknown)."""
    needs = node.needs_input_grad
    return not needs or len(needs) <= i or bool(needs[i])


def _in_order(dx, d_states, dw, db, dw_ih, db_ih):
    """The gradients as the node's inputs come: x, the states, (b_hh,) w_hh, (b_ih,) w_ih."""
    grads = (dx,) + d_states + ((dw,) if db is None else (db, dw)) + \
        ((dw_ih,) if db is None else (db_ih, dw_ih))
    return tuple(None if v is None else Tensor._wrap(v) for v in grads)


def _backward_as_ops(node, grad, saved):
    """The gradients as ops (differentiable again, for ``create_graph``): the layer is run
    once more from its inputs as the per-step composition ``_rnn_steps.py`` makes, and its gradient
    taken by the autograd engine."""
    lstm, step = node.kind == "LSTM", node.step
    xw, h0 = saved[0], saved[1]
    c0 = saved[2] if lstm else None
    inputs = saved[:len(saved) - (0 if lstm else 1)]       # (GRU/RNN: the output saved last)
    # (the node takes x: the projections are made here as ops)
    w_hh, b_hh, w_ih, b_ih = _layer_params(inputs[3 if lstm else 2:])
    steps = node.steps
    create_graph = is_grad_enabled()
    with enable_grad():
        xw = linear(xw, w_ih, b_ih)
        xw = xw.reshape(-1, xw.shape[-1])
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


def _layer(node, step, x, states, w_hh, b_hh, w_ih, b_ih, reverse, sizes, **params):
    """Run ``node`` on the layer's input x (T, N, I), or packed (S, I) with its steps' batch
    ``sizes``; -> (its output (2, S, H) or (S, H), the steps). Its inputs: (x, the states,
    [b_hh,] w_hh, [b_ih,] w_ih); W_ih and b_ih enter through views of their own (W_ih's made
    first): their gradients then complete after b_hh's and W_hh's, b_ih's first, as
    PyTorch's (and the Linear's that made the projections before) do, where one node handing
    out all four at once would let the ready queue's ties decide."""
    steps = _Steps(sizes or [x.shape[1]] * x.shape[0], reverse)
    w_ih = w_ih.view(tuple(w_ih.shape))
    b_ih = None if b_ih is None else b_ih.view(tuple(b_ih.shape))
    args = (x,) + states + ((w_hh,) if b_hh is None else (b_hh, w_hh)) + \
        ((w_ih,) if b_ih is None else (b_ih, w_ih))
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


def lstm_layer(step, x, w_ih, b_ih, h0, c0, w_hh, b_hh, reverse, sizes=None):
    """One LSTM layer direction as one node, its input projections included (``step``:
    _rnn_steps.py's per-step composition, which a ``create_graph`` backward runs again).
    Unpacked (``sizes`` None): x (T, N, I) -> (output (T, N, H), h_T, c_T); packed: x (S, I)
    with the batch sizes of its steps -> (output (S, H), h_n, c_n (N, H)). h_n and c_n are
    tensors of their own (an in-place change of the output leaves them, as PyTorch's
    separate outputs)."""
    # (a node that will be recorded makes its backward's slopes beside its forward)
    recorded = is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (x, h0, c0, w_hh, b_hh, w_ih, b_ih))
    out, steps = _layer(_LstmLayer, step, x, (h0, c0), w_hh, b_hh, w_ih, b_ih, reverse, sizes,
                        recorded=recorded)
    hs, cs = unbind(out, 0)
    last = steps.last_rows(h0.shape[0])
    return _named(hs, x, h0, sizes), take_rows(hs, last), take_rows(cs, last)


def gru_layer(step, x, w_ih, b_ih, h0, w_hh, b_hh, reverse, sizes=None):
    """One GRU layer direction as one node, its input projections included: -> (output, h_n
    as its own tensor)."""
    out, steps = _layer(_GruLayer, step, x, (h0,), w_hh, b_hh, w_ih, b_ih, reverse, sizes)
    return _named(out, x, h0, sizes), take_rows(out, steps.last_rows(h0.shape[0]))


def rnn_layer(step, x, w_ih, b_ih, h0, w_hh, b_hh, reverse, nonlinearity, sizes=None):
    """One Elman layer direction as one node, its input projections included: -> (output,
    h_n as its own tensor)."""
    out, steps = _layer(_RnnLayer, step, x, (h0,), w_hh, b_hh, w_ih, b_ih, reverse, sizes,
                        nonlinearity=nonlinearity)
    return _named(out, x, h0, sizes), take_rows(out, steps.last_rows(h0.shape[0]))
