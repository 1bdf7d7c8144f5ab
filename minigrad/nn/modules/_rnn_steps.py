"""The recurrence of the recurrent layers (``rnn.py``), one time step at a time: each kind's
step (``_rnn_step``, ``_lstm_step``, ``_gru_step``, with their formulas in ``rnn.py``'s
docstring; a cell runs one), the fused LSTM and GRU cell nodes a step uses on numpy float
arrays (``_LstmCell``, ``_GruCell``), and ``run_layers``, the loop over layers, directions and
time steps that ``RNNBase`` and the functional ``lstm`` / ``gru`` / ``rnn_*`` run.  A whole
layer that fits is handed to one node (``_rnn_layers.py``).

A packed batch is run in its own layout: its sequences are sorted by decreasing length, so the
ones still running at step t are the first batch_sizes[t] rows, and each step updates just that
prefix of the state (the other rows keep their final, or for the reverse direction initial,
state).
"""
from __future__ import annotations

import numpy as np

from ... import _autocast_state
from ...autograd import Function
from ...autograd.grad_mode import is_grad_enabled
from ...ops.elementary_functions import sigmoid, sigmoid_array, tanh
from ...ops.elementwise import add, mul, sub
from ...ops.relu_clamp import relu
from ...ops.linear import linear
from ...ops.stacking import cat, chunk, split, stack, unbind
from .. import functional as F
from ...tensor import Tensor
from ._rnn_layers import (fits as _layer_fits, gru_gates, gru_layer, lstm_cell_grads as
                          _lstm_cell_grads, gru_cell_grads as _gru_cell_grads, lstm_layer,
                          rnn_layer)


def _rnn_step(nonlinearity):
    act = tanh if nonlinearity == "tanh" else relu

    def step(xw, h, c, w_hh, b_hh, w_hr=None):
        return act(add(xw, linear(h, w_hh, b_hh))), None
    step.nonlinearity = nonlinearity        # (run_layers' whole-layer node reads it)
    return step


def _lstm_step(xw, h, c, w_hh, b_hh, w_hr=None):
    pre = add(xw, linear(h, w_hh, b_hh))
    if _LstmCell.fits(pre, c):
        h, c = unbind(_LstmCell.apply(pre, c), 0)       # each C-contiguous, as PyTorch's
    else:
        i, f, g, o = chunk(pre, 4, -1)
        c = add(mul(sigmoid(f), c), mul(sigmoid(i), tanh(g)))
        h = mul(sigmoid(o), tanh(c))
    return (h if w_hr is None else linear(h, w_hr)), c


class _LstmCell(Function):
    """An LSTM step after its gate pre-activations as one node: pre (..., 4 H) (gates i, f,
    g, o in PyTorch's order) and c (..., H) -> h' and c' stacked, (2, ..., H) (the
    composition of chunk, 3 sigmoids, 2 tanh, 3 products and a sum: eleven nodes a step).
    The same numbers as that composition (each value computed as it computes it); the
    backward on arrays when it records no graph, else as ops (``_lstm_cell_grads``)."""
    @staticmethod
    def fits(pre, c):
        """Numpy float32/float64 operands of one dtype, the shapes of one step."""
        a, b = pre._array, c._array
        return type(a) is np.ndarray and type(b) is np.ndarray and a.dtype == b.dtype and \
            a.dtype in (np.float32, np.float64) and a.shape[:-1] == b.shape[:-1] and \
            a.shape[-1] == 4 * b.shape[-1]

    @staticmethod
    def _gates(pre, size):
        """(i, f, g, o) of a pre-activation array: sigmoid, sigmoid, tanh, sigmoid."""
        s = sigmoid_array(pre)
        return (s[..., :size], s[..., size:2 * size], np.tanh(pre[..., 2 * size:3 * size]),
                s[..., 3 * size:])

    def forward(self, pre, c):
        self.save_for_backward(pre, c)
        size = c.shape[-1]
        i, f, g, o = self._gates(pre, size)
        out = np.empty((2,) + c.shape, c.dtype)
        np.multiply(f, c, out=out[1])
        out[1] += i * g
        np.multiply(o, np.tanh(out[1]), out=out[0])
        return out

    def backward(self, grad):
        pre, c = self.saved_tensors
        size = c.shape[-1]
        if not is_grad_enabled() and type(grad._array) is np.ndarray and \
                grad._array.dtype == c._array.dtype:
            g = grad._array
            d_pre, d_c = _lstm_cell_grads(self._gates(pre._array, size), c._array,
                                          g[0], g[1], np.tanh,
                                          lambda parts: np.concatenate(parts, -1))
            return Tensor._wrap(d_pre), Tensor._wrap(d_c)
        i, f, g, o = chunk(pre, 4, -1)
        gates = (sigmoid(i), sigmoid(f), tanh(g), sigmoid(o))
        dh, dc = unbind(grad, 0)
        return _lstm_cell_grads(gates, c, dh, dc, tanh, lambda parts: cat(parts, -1))


def _gru_step(xw, h, c, w_hh, b_hh, w_hr=None):
    hw = linear(h, w_hh, b_hh)
    if _GruCell.fits(xw, hw, h):
        return _GruCell.apply(xw, hw, h), None
    xr, xz, xn = chunk(xw, 3, -1)
    hr, hz, hn = chunk(hw, 3, -1)
    r, z = sigmoid(add(xr, hr)), sigmoid(add(xz, hz))
    n = tanh(add(xn, mul(r, hn)))
    return add(mul(sub(1.0, z), n), mul(z, h)), None


class _GruCell(Function):
    """A GRU step after its two projections as one node: xw = W_ih x + b_ih and hw = W_hh h
    + b_hh (each (..., 3 H), gates r, z, n) and h (..., H) -> h' (the composition: two
    chunks, 2 sigmoids, a tanh, 4 sums and 4 products, thirteen nodes a step). The same
    numbers as that composition; the backward on arrays without a recorded graph, else as
    ops (``_gru_cell_grads``)."""
    @staticmethod
    def fits(xw, hw, h):
        """Numpy float32/float64 operands of one dtype and the shapes of one step."""
        a, b, c = xw._array, hw._array, h._array
        return all(type(v) is np.ndarray and v.dtype == c.dtype for v in (a, b, c)) and \
            c.dtype in (np.float32, np.float64) and a.shape == b.shape and \
            a.shape[:-1] == c.shape[:-1] and a.shape[-1] == 3 * c.shape[-1]

    _gates = staticmethod(gru_gates)

    def forward(self, xw, hw, h):
        self.save_for_backward(xw, hw, h)
        r, z, n, _ = self._gates(xw, hw, h.shape[-1])
        out = (1.0 - z) * n
        out += z * h
        return out

    def backward(self, grad):
        xw, hw, h = self.saved_tensors
        size = h.shape[-1]
        if not is_grad_enabled() and type(grad._array) is np.ndarray and \
                grad._array.dtype == h._array.dtype:
            r, z, n, hn = self._gates(xw._array, hw._array, size)
            grads = _gru_cell_grads(r, z, n, hn, h._array, grad._array,
                                    lambda parts: np.concatenate(parts, -1))
            return tuple(Tensor._wrap(v) for v in grads)
        xr, xz, xn = chunk(xw, 3, -1)
        hr, hz, hn = chunk(hw, 3, -1)
        r, z = sigmoid(add(xr, hr)), sigmoid(add(xz, hz))
        n = tanh(add(xn, mul(r, hn)))
        return _gru_cell_grads(r, z, n, hn, h, grad, lambda parts: cat(parts, -1))


def _run_forward(step, xw, sizes, h, c, weights):
    """Steps 0..T-1; sequences that end drop out of the (sorted) batch and keep their state."""
    outs, done_h, done_c = [], [], []
    for t, x in enumerate(xw):
        if sizes[t] < h.shape[0]:                 # the last rows have ended: their final state
            done_h.append(h[sizes[t]:])
            h = h[:sizes[t]]
            if c is not None:
                done_c.append(c[sizes[t]:])
                c = c[:sizes[t]]
        h, c = step(x, h, c, *weights)
        outs.append(h)
    h = cat([h] + done_h[::-1], 0) if done_h else h
    c = cat([c] + done_c[::-1], 0) if done_c else c
    return outs, h, c


def _run_reverse(step, xw, sizes, h0, c0, weights):
    """Steps T-1..0; a sequence joins the batch (from its initial state) at its last step."""
    outs = [None] * len(xw)
    h, c = h0[:sizes[-1]], (c0[:sizes[-1]] if c0 is not None else None)
    for t in range(len(xw) - 1, -1, -1):
        n = h.shape[0]
        if sizes[t] > n:
            h = cat([h, h0[n:sizes[t]]], 0)
            c = cat([c, c0[n:sizes[t]]], 0) if c is not None else None
        h, c = step(xw[t], h, c, *weights)
        outs[t] = h
    return outs, h, c


def run_layers(step, x, sizes, h0, c0, weights, num_layers, bidirectional, dropout, training):
    """The stacked recurrence: x (T, N, in), or packed data (sum of ``sizes``, in) with
    ``sizes`` the batch sizes, -> (output like x with D * H_out features, h_n, c_n or None).
    ``weights(layer, d)`` gives (w_ih, b_ih, (w_hh, b_hh, w_hr)) of that layer and direction;
    h0 (and c0) hold one state per layer and direction; dropout applies between layers."""
    directions = 2 if bidirectional else 1
    h_n, c_n = [], []
    layer_input = x
    for layer in range(num_layers):
        outs = []
        for d in range(directions):
            w_ih, b_ih, recurrent = weights(layer, d)
            k = layer * directions + d
            h, c = h0[k], (c0[k] if c0 is not None else None)
            w_hh, b_hh, w_hr = recurrent
            if w_hr is None and not _autocast_state.active and \
                    (b_ih is None) == (b_hh is None) and \
                    _layer_fits(layer_input, h, c, w_hh, b_hh, w_ih, b_ih):
                # the whole layer, its input projections included, as one node
                # (_rnn_layers.py), packed or not
                reverse = bool(d)
                if step is _lstm_step:
                    seq, h, c = lstm_layer(step, layer_input, w_ih, b_ih, h, c, w_hh, b_hh,
                                           reverse, sizes)
                elif step is _gru_step:
                    seq, h = gru_layer(step, layer_input, w_ih, b_ih, h, w_hh, b_hh, reverse,
                                       sizes)
                else:
                    seq, h = rnn_layer(step, layer_input, w_ih, b_ih, h, w_hh, b_hh, reverse,
                                       step.nonlinearity, sizes)
                outs.append(seq)
                h_n.append(h)
                c_n.append(c)
                continue
            xw = linear(layer_input, w_ih, b_ih)          # every time step at once
            steps = unbind(xw, 0) if sizes is None else split(xw, sizes, 0)
            steps_sizes = sizes or [h.shape[0]] * len(steps)
            run = _run_reverse if d else _run_forward
            seq, h, c = run(step, steps, steps_sizes, h, c, recurrent)
            outs.append(stack(seq, 0) if sizes is None else cat(seq, 0))
            h_n.append(h)
            c_n.append(c)
        layer_input = outs[0] if directions == 1 else cat(outs, -1)
        if dropout and training and layer < num_layers - 1:
            layer_input = F.dropout(layer_input, dropout, True)
    return layer_input, stack(h_n, 0), (stack(c_n, 0) if c0 is not None else None)
