"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` (and their one-step cells), composed from
``linear``, ``tanh``, ``sigmoid``, ``mul`` and ``add``, so their gradients (of any order)
are those ops'.

Shapes as PyTorch: input (L, N, H_in) (``batch_first``: (N, L, H_in); unbatched: (L, H_in);
or a ``PackedSequence``), h_0 (D * num_layers, N, H_out) with D = 2 when bidirectional and
H_out = ``proj_size`` or ``hidden_size``; an LSTM's c_0 (D * num_layers, N, hidden_size);
output (L, N, D * H_out) (a ``PackedSequence`` for a packed input), h_n like h_0.
Per layer and direction, weight_ih (G H, in), weight_hh (G H, H_out), bias_ih, bias_hh (G H,)
and, for an LSTM with ``proj_size``, weight_hr (H_out, H), with G gates stacked in PyTorch's
order (LSTM: i, f, g, o; GRU: r, z, n), all initialised U(-1/sqrt(H), 1/sqrt(H)).  The input
projections of all time steps are one matrix product; only the recurrence itself is a loop over
time (each step needs the previous state).

    RNN   h' = tanh(W_ih x + b_ih + W_hh h + b_hh)              (or relu)
    LSTM  i, f, g, o = sigma, sigma, tanh, sigma of (W_ih x + b_ih + W_hh h + b_hh) split in 4
          c' = f c + i g;   h' = o tanh(c')   (with proj_size: h' = W_hr (o tanh(c')))
    GRU   r, z = sigma(W_ir x + b_ir + W_hr h + b_hr), sigma(... z ...)
          n = tanh(W_in x + b_in + r (W_hn h + b_hn));   h' = (1 - z) n + z h

The layers and cells are here; the recurrence they run (each kind's step, the fused LSTM and
GRU cell nodes, ``run_layers``' loop over layers, directions and time, packed batches
included) is in ``_rnn_steps.py``, whose names stay importable from here.
"""
from __future__ import annotations

import math
import numbers
import warnings

from ... import _autocast_state, creation
from ..._global_flags import warn_once
from ...autograd._node_names import rename_node
from ...ops._autocast_cast import lower as _autocast_lower
from ...ops.linear import linear
from ...ops.scatter_gather import index_select
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from ...tensor import Tensor
from ._method_names import own_method
from ._rnn_arguments import RNNArgumentChecks, check_num_layers
# the recurrence, importable from here as before the split
from ._rnn_steps import (_GruCell, _LstmCell, _gru_step, _lstm_step,  # noqa: F401
                         _rnn_step, _run_forward, _run_reverse, run_layers)
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# PyTorch runs an unpacked float32/bfloat16 LSTM by oneDNN, except with projections
_NO_ONEDNN_PROJECTIONS = ("LSTM with projections is not supported with oneDNN. Using default "
                          "implementation.")


class RNNBase(RNNArgumentChecks, Module):
    """The multi-layer recurrence shared by RNN, LSTM and GRU; ``mode`` is one of 'RNN_TANH',
    'RNN_RELU', 'LSTM', 'GRU'."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None):
        super().__init__()
        as_float = float(dropout)       # first, as PyTorch's (Python's words for a str, None)
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}")
        # PyTorch's checks, in its order
        for name, value, kind in (("bias", bias, bool), ("batch_first", batch_first, bool),
                                  ("input_size", input_size, int),
                                  ("hidden_size", hidden_size, int)):
            if not isinstance(value, kind):
                raise TypeError(f"{name} should be of type {kind.__name__}, got: "
                                f"{type(value).__name__}")
            if kind is int and value <= 0:
                raise ValueError(f"{name} must be greater than zero")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + str(mode))
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, as_float
        self.bidirectional, self.proj_size = bidirectional, proj_size
        directions = 2 if bidirectional else 1
        # (sizes as PyTorch computes them: an RNN's gate size is hidden_size itself, so a
        # bool hidden_size reaches empty() as a bool, which refuses it there)
        gh = hidden_size if _GATES[mode] == 1 else _GATES[mode] * hidden_size
        out_size = proj_size if proj_size > 0 else hidden_size
        factory = {"device": device, "dtype": dtype}
        self._all_weights = []
        for layer in range(num_layers):
            for d in range(directions):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                shapes = {f"weight_ih{sfx}": (gh, input_size if layer == 0
                                              else out_size * directions),
                          f"weight_hh{sfx}": (gh, out_size)}
                if bias:
                    shapes.update({f"bias_ih{sfx}": (gh,), f"bias_hh{sfx}": (gh,)})
                if proj_size:
                    shapes[f"weight_hr{sfx}"] = (proj_size, hidden_size)
                for name, shape in shapes.items():
                    setattr(self, name, Parameter(creation.empty(shape, **factory)))
                self._all_weights.append(list(shapes))
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    @property
    def _flat_weights_names(self):
        return [n for names in self._all_weights for n in names]

    @property
    def _flat_weights(self):
        # looked up by name on every call, so a weight replaced by assignment (weight dropping)
        # is the one used
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        """Per layer and direction, the list [weight_ih, weight_hh(, bias_ih, bias_hh)
        (, weight_hr)]."""
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def flatten_parameters(self):
        """Nothing to do: PyTorch packs the weights into one buffer for cuDNN; minigrad runs
        the recurrence on the parameters as they are."""

    def _weights(self, layer, d):
        names = self._all_weights[layer * (2 if self.bidirectional else 1) + d]
        w = dict(zip((n.split("_l")[0] for n in names), (getattr(self, n) for n in names)))
        return (w["weight_ih"], w.get("bias_ih"),
                (w["weight_hh"], w.get("bias_hh"), w.get("weight_hr")))

    def _step(self):
        return {"LSTM": _lstm_step, "GRU": _gru_step}.get(self.mode) or _rnn_step(
            "relu" if self.mode == "RNN_RELU" else "tanh")

    def _expected_hidden(self, batch):
        d = 2 if self.bidirectional else 1
        return ((self.num_layers * d, batch, self.proj_size or self.hidden_size),
                (self.num_layers * d, batch, self.hidden_size))

    def _check_hidden(self, hx, expected, what):
        if tuple(hx.shape) != expected:
            raise RuntimeError(f"Expected {what} size {expected}, got {list(hx.shape)}")

    def _split_hx(self, hx):
        """(h_0, c_0 or None) of the hx argument."""
        if self.mode == "LSTM":
            return hx[0], hx[1]
        return hx, None

    def _check_hx_dims(self, hx, batched):
        want, kind = (3, "batched 3-D") if batched else (2, "unbatched 2-D")
        h, c = self._split_hx(hx)
        if c is not None and (h.ndim != want or c.ndim != want):
            raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D but got "
                               f"({h.ndim}-D, {c.ndim}-D) tensors")
        if c is None and h.dim() != want:         # (a tuple hx fails here, as in PyTorch)
            raise RuntimeError(f"For {kind} input, hx should also be {want}-D but got "
                               f"{h.ndim}-D tensor")

    def forward(self, input, hx=None):
        packed = isinstance(input, PackedSequence)
        if packed:
            x, sizes = input.data, [int(s) for s in input.batch_sizes.tolist()]
            batched, batch = True, sizes[0]
        else:
            if input.ndim not in (2, 3):
                # (PyTorch's RNN says "tensor", its LSTM and GRU do not)
                word = " tensor" if type(self).__name__ == "RNN" else ""
                raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got "
                                 f"{input.ndim}D{word} instead")
            batched = input.ndim == 3
            if hx is not None:
                self._check_hx_dims(hx, batched)
            x = input if batched else input.unsqueeze(1)
            if batched and self.batch_first:
                x = x.transpose(0, 1)
            sizes, batch = None, x.shape[1]
        weight_dtype = self._flat_weights[0].dtype
        if x.dtype != weight_dtype and not _autocast_state.active:
            # (inside an autocast region PyTorch lets the products inside cast them)
            raise ValueError(f"RNN input dtype ({x.dtype}) does not match weight dtype "
                             f"({weight_dtype}). Convert input: input.to({weight_dtype}), or "
                             f"convert model: model.to({x.dtype})")
        if x.ndim != (2 if packed else 3):
            raise RuntimeError(f"input must have {2 if packed else 3} dimensions, got {x.ndim}")
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {x.shape[-1]}")
        h_shape, c_shape = self._expected_hidden(batch)
        is_lstm = self.mode == "LSTM"
        if hx is None:
            h0 = creation.zeros(*h_shape, dtype=x.dtype, device=x.device)
            c0 = creation.zeros(*c_shape, dtype=x.dtype, device=x.device) if is_lstm else None
        else:
            h0, c0 = self._split_hx(hx)
            if not batched:
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if c0 is not None else None
            if packed and input.sorted_indices is not None:   # hx is in the caller's order
                h0 = index_select(h0, 1, input.sorted_indices)
                c0 = index_select(c0, 1, input.sorted_indices) if c0 is not None else None
            self._check_hidden(h0, h_shape, "hidden[0]" if is_lstm else "hidden")
            if is_lstm:
                self._check_hidden(c0, c_shape, "hidden[1]")
        if not packed and x.shape[0] == 0:      # (the kernel's, after the module's checks)
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        hx_arg = (h0, c0) if is_lstm else h0
        check_num_layers(self.mode.lower(), self.num_layers,
                         ((input.data, input.batch_sizes) if packed else (x,)) +
                         (hx_arg, self._flat_weights, self.bias, self.num_layers, self.dropout,
                          self.training, self.bidirectional) + (() if packed else
                                                                 (self.batch_first,)), is_lstm)
        if is_lstm and not packed and _autocast_state.active:
            # PyTorch's CPU LSTM layer is among the ops autocast runs in its lower dtype (its
            # packed form is not): the sequence and the states go down, the weights with them
            # through the products inside
            x, h0, c0 = _autocast_lower(x, h0, c0)
        onednn = is_lstm and not packed and x.dtype.name in ("float32", "bfloat16")
        if onednn and self.proj_size:
            warn_once(_NO_ONEDNN_PROJECTIONS)
        out, h_n, c_n = self._layers(x, sizes, h0, c0)
        if onednn and not (self.proj_size or self.bidirectional) and batched and \
                not self.batch_first:
            out = rename_node(out, "MkldnnRnnLayerBackward0")      # the oneDNN layer's node
        if packed:
            if input.unsorted_indices is not None:
                h_n = index_select(h_n, 1, input.unsorted_indices)
                c_n = index_select(c_n, 1, input.unsorted_indices) if is_lstm else None
            out = PackedSequence(out, input.batch_sizes, input.sorted_indices,
                                 input.unsorted_indices)
        else:
            if batched and self.batch_first:
                out = out.transpose(0, 1)
                if not is_lstm:         # PyTorch transposes these in place (TransposeBackward1)
                    out = rename_node(out, "TransposeBackward1")
            if not batched:
                out, h_n = out.squeeze(1), h_n.squeeze(1)
                c_n = c_n.squeeze(1) if c_n is not None else None
        return (out, (h_n, c_n)) if is_lstm else (out, h_n)

    def _layers(self, x, sizes, h0, c0):
        """x: (T, N, in) or packed data (sum of sizes, in) -> (output like x, h_n, c_n)."""
        return run_layers(self._step(), x, sizes, h0, c0, self._weights, self.num_layers,
                          self.bidirectional, self.dropout, self.training)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
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


def _no_projection(kwargs):
    if "proj_size" in kwargs:
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")


class RNN(RNNBase):
    """Elman RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (``nonlinearity='relu'``: relu).
    As in PyTorch, a fourth positional argument is the nonlinearity."""

    def __init__(self, *args, **kwargs):
        _no_projection(kwargs)
        if len(args) > 3:
            nonlinearity, args = args[3], args[:3] + args[4:]
        else:
            nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             "'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", *args, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory; forward returns (output, (h_n, c_n))."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit; forward returns (output, h_n)."""

    def __init__(self, *args, **kwargs):
        _no_projection(kwargs)
        super().__init__("GRU", *args, **kwargs)


# each layer's forward under its own name, as PyTorch's (Python's words for a bad call name it)
for _layer in (RNN, LSTM, GRU):
    own_method(_layer, "forward")
del _layer


# ----------------------------------------------------------------------------------------------
# One-step cells
# ----------------------------------------------------------------------------------------------
class RNNCellBase(Module):
    """One step of a recurrence with ``num_chunks`` gates: weight_ih (G H, in), weight_hh
    (G H, H), bias_ih, bias_hh (G H,), all U(-1/sqrt(H), 1/sqrt(H)).  Input (N, in) or
    unbatched (in,); states (N, H) or (H,), zeros when not given."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        gh = num_chunks * hidden_size
        factory = {"device": device, "dtype": dtype}
        self.weight_ih = Parameter(creation.empty((gh, input_size), **factory))
        self.weight_hh = Parameter(creation.empty((gh, hidden_size), **factory))
        if bias:
            self.bias_ih = Parameter(creation.empty(gh, **factory))
            self.bias_hh = Parameter(creation.empty(gh, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        # a cell may be built with hidden_size 0 (empty weights), as in torch
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _check(self, input, states):
        name = type(self).__name__
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        for k, s in enumerate(states):
            if s is not None and s.dim() not in (1, 2):      # (a tuple has no dim(): Python's)
                # an LSTMCell names the state it checks (hx[0], hx[1]), the others "hidden"
                what = f"hx[{k}]" if name == "LSTMCell" else "hidden"
                raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {s.ndim}D "
                                 "instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[-1]} "
                               f"expected {self.input_size}")
        # as PyTorch: an unbatched input and its states all get a batch dim of 1 first, so an
        # unbatched input's state must be 1-d too
        batch = input.shape[0] if input.ndim == 2 else 1
        for k, s in enumerate(states):
            if s is None:
                continue
            shape = tuple(s.shape) if input.ndim == 2 else (1,) + tuple(s.shape)
            if shape[0] != batch:
                raise RuntimeError(f"Input batch size {batch} doesn't match hidden{k} batch "
                                   f"size {shape[0]}")
            if len(shape) < 2:          # a batched input with a 1-d state: no dim 1 to read
                raise IndexError(f"Dimension out of range (expected to be in range of [-1, 0], "
                                 f"but got 1) (hidden{k} of shape {list(s.shape)} has no batch "
                                 f"dim for the batched input)")
            if shape[1] != self.hidden_size:
                raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got "
                                   f"{shape[1]}, expected {self.hidden_size}")

    def _run(self, input, h, c, step):
        self._check(input, (h, c))
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        zeros = creation.zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)
        h = zeros if h is None else (h if batched else h.unsqueeze(0))
        if step is _lstm_step:
            c = zeros if c is None else (c if batched else c.unsqueeze(0))
        h, c = step(linear(x, self.weight_ih, self.bias_ih), h, c, self.weight_hh, self.bias_hh)
        if step is _lstm_step and h._base is not None:
            # the fused LSTM step's h' and c' are views of one stacked result (unbind's, not to
            # be written in place): copies, with the nodes of PyTorch's cell (h' = o * tanh(c'),
            # c' = f * c + i * g)
            h, c = rename_node(h.clone(), "MulBackward0"), rename_node(c.clone(), "AddBackward0")
        if not batched:
            h = h.squeeze(0)
            c = c.squeeze(0) if c is not None else None
        return h, c

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    """h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        if self.nonlinearity not in ("tanh", "relu"):
            self._check(input, (hx,))        # PyTorch checks the ranks first
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return self._run(input, hx, None, _rnn_step(self.nonlinearity))[0]


class LSTMCell(RNNCellBase):
    """One LSTM step; forward returns (h', c')."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        # PyTorch's order: the input's rank, the rank of each state hx holds (iterated: a
        # tensor hx gives its rows), then a batched input's states go to the fused cell as
        # they are (a tuple of two), an unbatched one's are hx[0] and hx[1]
        if input.ndim not in (1, 2):
            raise ValueError(f"LSTMCell: Expected input to be 1D or 2D, got {input.ndim}D "
                             "instead")
        if hx is None:
            return self._run(input, None, None, _lstm_step)
        for k, state in enumerate(hx):
            if state.dim() not in (1, 2):
                raise ValueError(f"LSTMCell: Expected hx[{k}] to be 1D or 2D, got "
                                 f"{state.dim()}D instead")
        if input.ndim == 2:
            if isinstance(hx, Tensor):
                raise TypeError("lstm_cell(): argument 'hx' (position 2) must be tuple of "
                                "Tensors, not Tensor")
            if len(hx) != 2:
                raise RuntimeError("lstm_cell expects two hidden states")
        return self._run(input, hx[0], hx[1], _lstm_step)


class GRUCell(RNNCellBase):
    """One GRU step; forward returns h'."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        h = self._run(input, hx, None, _gru_step)[0]
        # PyTorch's GRU cell ends with the sum (1 - z) n + z h: its node is an add (an
        # unbatched input's result is squeezed after it, a node of its own)
        return rename_node(h, "AddBackward0") if input.ndim == 2 else h
