"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` (and their one-step cells), composed from
``linear``, ``tanh``, ``sigmoid``, ``mul`` and ``add``, so their gradients (of any order)
are those ops'.

Shapes as PyTorch: input (L, N, H_in) (``batch_first``: (N, L, H_in); unbatched: (L, H_in)),
h_0 (D * num_layers, N, H) with D = 2 when bidirectional; output (L, N, D * H), h_n like h_0.
Per layer and direction, weight_ih (G H, in), weight_hh (G H, H), bias_ih, bias_hh (G H,)
with G gates stacked in PyTorch's order (LSTM: i, f, g, o; GRU: r, z, n), all initialised
U(-1/sqrt(H), 1/sqrt(H)).  The input projections of all time steps are one matrix product;
only the recurrence itself is a loop over time (each step needs the previous state).

    RNN   h' = tanh(W_ih x + b_ih + W_hh h + b_hh)              (or relu)
    LSTM  i, f, g, o = sigma, sigma, tanh, sigma of (W_ih x + b_ih + W_hh h + b_hh) split in 4
          c' = f c + i g;   h' = o tanh(c')
    GRU   r, z = sigma(W_ir x + b_ir + W_hr h + b_hr), sigma(... z ...)
          n = tanh(W_in x + b_in + r (W_hn h + b_hn));   h' = (1 - z) n + z h
"""
from __future__ import annotations

import math

from ... import creation
from ...ops.elementwise import add, mul, relu, sigmoid, sub, tanh
from ...ops.matmul import linear
from ...ops.movement import cat, chunk, stack, unbind
from .. import functional as F, init
from ..parameter import Parameter
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]


def _rnn_step(nonlinearity):
    act = tanh if nonlinearity == "tanh" else relu

    def step(xw, h, c, w_hh, b_hh):
        return act(add(xw, linear(h, w_hh, b_hh))), None
    return step


def _lstm_step(xw, h, c, w_hh, b_hh):
    i, f, g, o = chunk(add(xw, linear(h, w_hh, b_hh)), 4, -1)
    c = add(mul(sigmoid(f), c), mul(sigmoid(i), tanh(g)))
    return mul(sigmoid(o), tanh(c)), c


def _gru_step(xw, h, c, w_hh, b_hh):
    xr, xz, xn = chunk(xw, 3, -1)
    hr, hz, hn = chunk(linear(h, w_hh, b_hh), 3, -1)
    r, z = sigmoid(add(xr, hr)), sigmoid(add(xz, hz))
    n = tanh(add(xn, mul(r, hn)))
    return add(mul(sub(1.0, z), n), mul(z, h)), None


class RNNBase(Module):
    _gates = 1
    _mode = "RNN_TANH"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, *,
                 nonlinearity="tanh"):
        super().__init__()
        if not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if hidden_size <= 0:
            raise ValueError(f"hidden_size must be greater than zero (got {hidden_size})")
        if num_layers <= 0:
            raise ValueError(f"num_layers must be greater than zero (got {num_layers})")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional = bidirectional
        self.nonlinearity = nonlinearity
        directions = 2 if bidirectional else 1
        gh = self._gates * hidden_size
        factory = {"device": device, "dtype": dtype}
        self._names = []
        for layer in range(num_layers):
            for d in range(directions):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                width = input_size if layer == 0 else hidden_size * directions
                names = [f"weight_ih{sfx}", f"weight_hh{sfx}"]
                setattr(self, names[0], Parameter(creation.empty(gh, width, **factory)))
                setattr(self, names[1], Parameter(creation.empty(gh, hidden_size, **factory)))
                if bias:
                    names += [f"bias_ih{sfx}", f"bias_hh{sfx}"]
                    setattr(self, names[2], Parameter(creation.empty(gh, **factory)))
                    setattr(self, names[3], Parameter(creation.empty(gh, **factory)))
                self._names.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _weights(self, layer, d):
        names = self._names[layer * (2 if self.bidirectional else 1) + d]
        w = [getattr(self, n) for n in names]
        return (w[0], w[1], w[2], w[3]) if self.bias else (w[0], w[1], None, None)

    def _step(self):
        return _rnn_step("relu" if self._mode == "RNN_RELU" else "tanh")

    def _check_input(self, input, hx):
        if input.ndim not in (2, 3):
            raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got "
                             f"{input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]}")

    def forward(self, input, hx=None):
        self._check_input(input, hx)
        batched = input.ndim == 3
        x = input if batched else input.unsqueeze(1)
        if batched and self.batch_first:
            x = x.transpose(0, 1)
        directions = 2 if self.bidirectional else 1
        n = x.shape[1]
        shape = (self.num_layers * directions, n, self.hidden_size)
        is_lstm = self._gates == 4
        if hx is None:
            h0 = creation.zeros(*shape, dtype=x.dtype, device=x.device)
            c0 = h0 if is_lstm else None
        else:
            h0, c0 = hx if is_lstm else (hx, None)
            if not batched:
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if c0 is not None else None
            if tuple(h0.shape) != shape:
                raise RuntimeError(f"Expected hidden size {shape}, got {tuple(h0.shape)}")
        step = self._step()
        h_n, c_n = [], []
        layer_input = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(directions):
                w_ih, w_hh, b_ih, b_hh = self._weights(layer, d)
                k = layer * directions + d
                h, c = h0[k], (c0[k] if c0 is not None else None)
                xw = linear(layer_input, w_ih, b_ih)          # every time step at once
                steps = unbind(xw, 0)
                seq = []
                for t in (reversed(range(len(steps))) if d else range(len(steps))):
                    h, c = step(steps[t], h, c, w_hh, b_hh)
                    seq.append(h)
                if d:
                    seq.reverse()
                outs.append(stack(seq, 0))
                h_n.append(h)
                c_n.append(c)
            layer_input = outs[0] if directions == 1 else cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        out = layer_input
        h_n = stack(h_n, 0)
        c_n = stack(c_n, 0) if is_lstm else None
        if batched and self.batch_first:
            out = out.transpose(0, 1)
        if not batched:
            out, h_n = out.squeeze(1), h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        return (out, (h_n, c_n)) if is_lstm else (out, h_n)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (``nonlinearity='relu'``: relu)."""

    def __init__(self, *args, nonlinearity="tanh", **kwargs):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        self._mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(*args, nonlinearity=nonlinearity, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory; forward returns (output, (h_n, c_n))."""
    _gates = 4

    def _step(self):
        return _lstm_step


class GRU(RNNBase):
    """Gated recurrent unit; forward returns (output, h_n)."""
    _gates = 3

    def _step(self):
        return _gru_step


# ----------------------------------------------------------------------------------------------
# One-step cells
# ----------------------------------------------------------------------------------------------
class _Cell(Module):
    _gates = 1

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        gh = self._gates * hidden_size
        factory = {"device": device, "dtype": dtype}
        self.weight_ih = Parameter(creation.empty(gh, input_size, **factory))
        self.weight_hh = Parameter(creation.empty(gh, hidden_size, **factory))
        if bias:
            self.bias_ih = Parameter(creation.empty(gh, **factory))
            self.bias_hh = Parameter(creation.empty(gh, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        bound = 1.0 / math.sqrt(hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _run(self, input, h, c, step):
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        zeros = creation.zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)
        h = zeros if h is None else (h if batched else h.unsqueeze(0))
        c = zeros if c is None and self._gates == 4 else (
            c if c is None or batched else c.unsqueeze(0))
        h, c = step(linear(x, self.weight_ih, self.bias_ih), h, c, self.weight_hh, self.bias_hh)
        if not batched:
            h = h.squeeze(0)
            c = c.squeeze(0) if c is not None else None
        return h, c

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_Cell):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        return self._run(input, hx, None, _rnn_step(self.nonlinearity))[0]


class LSTMCell(_Cell):
    _gates = 4

    def forward(self, input, hx=None):
        h, c = (None, None) if hx is None else hx
        return self._run(input, h, c, _lstm_step)


class GRUCell(_Cell):
    _gates = 3

    def forward(self, input, hx=None):
        return self._run(input, hx, None, _gru_step)[0]
