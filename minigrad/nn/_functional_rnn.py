"""PyTorch's top-level recurrences on flat weight lists: ``torch.lstm``, ``torch.gru``,
``torch.rnn_tanh``, ``torch.rnn_relu`` (what ``nn.LSTM`` and friends call) and their one-step
forms ``torch.lstm_cell``, ``gru_cell``, ``rnn_tanh_cell``, ``rnn_relu_cell``.

They run the layers' own code (``nn.modules.rnn``), so values and gradients are the modules'.

    lstm(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)
        -> (output, h_n, c_n)                     hx = (h_0, c_0)
    lstm(data, batch_sizes, hx, params, has_biases, num_layers, dropout, train, bidirectional)
        -> (output data, h_n, c_n)                the packed form
    gru / rnn_tanh / rnn_relu: the same with hx = h_0, -> (output, h_n)

input (T, N, in) ((N, T, in) with batch_first); h_0 (L * D, N, H_out), c_0 (L * D, N, H) with
D = 2 when bidirectional.  ``params`` holds, per layer and direction, w_ih (G H, in), w_hh
(G H, H_out), then b_ih, b_hh (G H,) when ``has_biases``, then w_hr (H_out, H) for an LSTM with
projections.  A cell takes input (N, in), hx (N, H) (an LSTM's: the pair (h, c)), w_ih, w_hh and
optional biases.
"""
from __future__ import annotations

from ..ops.linear import linear
from ..tensor import Tensor
from .modules._rnn_arguments import refuse_arguments
from .modules.rnn import _gru_step, _lstm_step, _rnn_step, run_layers

__all__ = ["lstm", "gru", "rnn_tanh", "rnn_relu", "lstm_cell", "gru_cell", "rnn_tanh_cell",
           "rnn_relu_cell"]

_PADDED = ("input", "hx", "params", "has_biases", "num_layers", "dropout", "train",
           "bidirectional", "batch_first")
_PACKED = ("data", "batch_sizes", "hx", "params", "has_biases", "num_layers", "dropout",
           "train", "bidirectional")


def _bind(name, args, kwargs):
    """The call's arguments by name, for whichever of the two forms it is: the packed one has
    its batch sizes second, so its weight list fourth where the padded one has a bool."""
    if "data" in kwargs or "batch_sizes" in kwargs:
        packed = True
    elif "input" in kwargs or len(args) < 4:
        packed = False
    else:
        packed = isinstance(args[3], (list, tuple))
    names = _PACKED if packed else _PADDED
    if len(args) > len(names):
        raise TypeError(f"{name}() takes {len(names)} arguments ({len(args)} given)")
    bound = dict(zip(names, args))
    for key, value in kwargs.items():
        if key not in names or key in bound:
            raise TypeError(f"{name}() got an unexpected or repeated keyword argument '{key}'")
        bound[key] = value
    missing = [n for n in names if n not in bound]
    if missing:
        raise TypeError(f"{name}() missing required argument '{missing[0]}'")
    return packed, bound


def _flat_weights(params, has_biases, layers_directions):
    """``weights(layer, d)`` -> (w_ih, b_ih, (w_hh, b_hh, w_hr)) over the flat list ``params``
    (2 or 4 tensors per layer and direction, one more with projections)."""
    params = list(params)
    per = 4 if has_biases else 2
    if len(params) not in (per * layers_directions, (per + 1) * layers_directions):
        raise RuntimeError("got an incorrect number of RNN parameters")
    per = len(params) // layers_directions

    def weights(layer, d, directions):
        w = params[(layer * directions + d) * per:][:per]
        b_ih, b_hh = (w[2], w[3]) if has_biases else (None, None)
        w_hr = w[-1] if per in (3, 5) else None
        return w[0], b_ih, (w[1], b_hh, w_hr)
    return weights


def _recurrence(name, step, lstm, args, kwargs):
    """Run one of lstm / gru / rnn_tanh / rnn_relu as called (either form)."""
    packed, a = _bind(name, args, kwargs)
    hx = a["hx"]
    if isinstance(hx, Tensor) == lstm:      # an LSTM's is a pair, the others' one tensor
        refuse_arguments(name, args + tuple(kwargs.values()), lstm)
    if lstm and len(hx) != 2:
        raise RuntimeError("lstm expects two hidden states")
    h0, c0 = hx if lstm else (hx, None)
    directions = 2 if a["bidirectional"] else 1
    num_layers = int(a["num_layers"])
    weights = _flat_weights(a["params"], a["has_biases"], num_layers * directions)
    states = num_layers * directions
    if lstm and h0.shape[0] < states:      # (an LSTM reads just the first ``states`` of more)
        raise IndexError(f"select(): index {h0.shape[0]} out of range for tensor of size "
                         f"{list(h0.shape)} at dimension 0")
    if not lstm and h0.shape[0] != states:
        raise RuntimeError("Expected more hidden states in stacked_rnn")
    if packed:
        x, sizes = a["data"], [int(s) for s in a["batch_sizes"].tolist()]
    else:
        x, sizes = a["input"], None
        if a["batch_first"]:
            x = x.transpose(0, 1)
        if x.shape[0] == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
    out, h_n, c_n = run_layers(step, x, sizes, h0, c0,
                               lambda layer, d: weights(layer, d, directions), num_layers,
                               directions == 2, float(a["dropout"]), bool(a["train"]))
    if not packed and a["batch_first"]:
        out = out.transpose(0, 1)
    return (out, h_n, c_n) if lstm else (out, h_n)


def lstm(*args, **kwargs):
    """The multi-layer LSTM over flat weights: (output, h_n, c_n) (see the module docstring)."""
    return _recurrence("lstm", _lstm_step, True, args, kwargs)


def gru(*args, **kwargs):
    """The multi-layer GRU over flat weights: (output, h_n)."""
    return _recurrence("gru", _gru_step, False, args, kwargs)


def rnn_tanh(*args, **kwargs):
    """The multi-layer Elman RNN (tanh) over flat weights: (output, h_n)."""
    return _recurrence("rnn_tanh", _rnn_step("tanh"), False, args, kwargs)


def rnn_relu(*args, **kwargs):
    """The multi-layer Elman RNN (relu) over flat weights: (output, h_n)."""
    return _recurrence("rnn_relu", _rnn_step("relu"), False, args, kwargs)


def _check_cell(input, states, w_ih, w_hh):
    """PyTorch's checks of a cell's input (N, in) against w_ih and of each state (N, H)."""
    if input.shape[1] != w_ih.shape[1]:
        raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} expected "
                           f"{w_ih.shape[1]}")
    for k, s in enumerate(states):
        if s.shape[0] != input.shape[0]:
            raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden{k} "
                               f"batch size {s.shape[0]}")
        if s.shape[1] != w_hh.shape[1]:
            raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got {s.shape[1]}, "
                               f"expected {w_hh.shape[1]}")


def _cell(step, input, h, c, w_ih, w_hh, b_ih, b_hh):
    _check_cell(input, (h,) if c is None else (h, c), w_ih, w_hh)
    return step(linear(input, w_ih, b_ih), h, c, w_hh, b_hh)


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step: (h', c') of input (N, in) and hx = (h, c), each (N, H)."""
    if isinstance(hx, Tensor):
        raise TypeError("lstm_cell(): argument 'hx' (position 2) must be tuple of Tensors, "
                        "not Tensor")
    if len(hx) != 2:
        raise RuntimeError("lstm_cell expects two hidden states")
    return _cell(_lstm_step, input, hx[0], hx[1], w_ih, w_hh, b_ih, b_hh)


def _one_state(name, hx):
    if not isinstance(hx, Tensor):
        raise TypeError(f"{name}(): argument 'hx' (position 2) must be Tensor, not "
                        f"{type(hx).__name__}")


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step: h' (N, H) of input (N, in) and hx (N, H)."""
    _one_state("gru_cell", hx)
    return _cell(_gru_step, input, hx, None, w_ih, w_hh, b_ih, b_hh)[0]


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman step: h' = tanh(x w_ih^T + b_ih + h w_hh^T + b_hh)."""
    _one_state("rnn_tanh_cell", hx)
    return _cell(_rnn_step("tanh"), input, hx, None, w_ih, w_hh, b_ih, b_hh)[0]


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman step: h' = relu(x w_ih^T + b_ih + h w_hh^T + b_hh)."""
    _one_state("rnn_relu_cell", hx)
    return _cell(_rnn_step("relu"), input, hx, None, w_ih, w_hh, b_ih, b_hh)[0]
