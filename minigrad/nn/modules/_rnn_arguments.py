"""PyTorch's refusal of a recurrent layer's arguments by the parser of its fused kernel
(``rnn_tanh``, ``rnn_relu``, ``lstm``, ``gru``): a ``num_layers`` that is a bool, which the
layer's constructor takes (a bool is an int in Python) and the kernel's ``int`` does not; and
(``refuse_arguments``) any call of the top-level kernels (``torch.lstm``...) that fits neither
of their signatures.

The kernel has two signatures, for a padded input and for a packed one; the message lists
both, each with the call's arguments marked ``!...!`` where they do not fit (as PyTorch's
parser marks them: its sequence slots never match the list of weights or the tuple (h, c)).
"""
from __future__ import annotations

from ... import _autocast_state
from ...tensor import Tensor

__all__ = ["check_num_layers", "refuse_arguments", "RNNArgumentChecks"]


def _named(value):
    if isinstance(value, (tuple, list)):
        inner = ", ".join(type(v).__name__ for v in value)
        return f"tuple of ({inner})" if isinstance(value, tuple) else f"list of [{inner}]"
    return type(value).__name__


def _fits(kind, value):
    if kind == "Tensor":
        return isinstance(value, Tensor)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return False                       # the sequence slots


def check_num_layers(fn, num_layers, args, lstm):
    """``args``: the kernel call's arguments (input, hx, weights, has_biases, num_layers,
    dropout, train, bidirectional, batch_first; a packed input's data and batch sizes first
    and no batch_first)."""
    if isinstance(num_layers, bool):
        refuse_arguments(fn, args, lstm)


def refuse_arguments(fn, args, lstm):
    """PyTorch's parser's TypeError for a call of the kernel ``fn`` whose ``args`` fit neither
    of its signatures: both listed, with the arguments that do not fit marked."""
    hx = "tuple of Tensors" if lstm else "Tensor"
    tail = ["tuple of Tensors params", "bool has_biases", "int num_layers", "float dropout",
            "bool train", "bool bidirectional"]
    packed = ["Tensor data", "Tensor batch_sizes", f"{hx} hx"] + tail
    padded = ["Tensor input", f"{hx} hx"] + tail + ["bool batch_first"]
    lines = [f"{fn}() received an invalid combination of arguments - got "
             f"({', '.join(type(a).__name__ for a in args)}), but expected one of:"]
    for signature in (packed, padded):
        lines.append(f" * ({', '.join(signature)})")
        marks = [_named(a) if _fits(s.rsplit(' ', 1)[0], a) else f"!{_named(a)}!"
                 for s, a in zip(signature, args)]
        lines.append("      didn't match because some of the arguments have invalid types: "
                     f"({', '.join(marks)})")
    raise TypeError("\n".join(lines) + "\n")


class RNNArgumentChecks:
    """The public checking helpers of PyTorch's ``RNNBase`` (``check_input``,
    ``get_expected_hidden_size``, ``check_hidden_size``, ``check_forward_args``,
    ``permute_hidden``; an LSTM's also ``get_expected_cell_size``), for subclasses that call
    them.  An LSTM's hidden state is the pair (h, c)."""

    def check_input(self, input, batch_sizes):
        weight_dtype = self._flat_weights[0].dtype
        if input.dtype != weight_dtype and not _autocast_state.active:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype "
                             f"({weight_dtype}). Convert input: input.to({weight_dtype}), or "
                             f"convert model: model.to({input.dtype})")
        want = 2 if batch_sizes is not None else 3
        if input.ndim != want:
            raise RuntimeError(f"input must have {want} dimensions, got {input.ndim}")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]}")

    def _mini_batch(self, input, batch_sizes):
        if batch_sizes is not None:
            return int(batch_sizes[0])
        return input.shape[0] if self.batch_first else input.shape[1]

    def get_expected_hidden_size(self, input, batch_sizes):
        layers = self.num_layers * (2 if self.bidirectional else 1)
        return (layers, self._mini_batch(input, batch_sizes), self.proj_size or self.hidden_size)

    def get_expected_cell_size(self, input, batch_sizes):
        layers = self.num_layers * (2 if self.bidirectional else 1)
        return (layers, self._mini_batch(input, batch_sizes), self.hidden_size)

    def check_hidden_size(self, hx, expected_hidden_size, msg="Expected hidden size {}, got {}"):
        if tuple(hx.shape) != tuple(expected_hidden_size):
            raise RuntimeError(msg.format(expected_hidden_size, list(hx.shape)))

    def check_forward_args(self, input, hidden, batch_sizes):
        self.check_input(input, batch_sizes)
        if self.mode == "LSTM":
            self.check_hidden_size(hidden[0], self.get_expected_hidden_size(input, batch_sizes),
                                   "Expected hidden[0] size {}, got {}")
            self.check_hidden_size(hidden[1], self.get_expected_cell_size(input, batch_sizes),
                                   "Expected hidden[1] size {}, got {}")
        else:
            self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def permute_hidden(self, hx, permutation):
        if permutation is None:
            return hx
        if self.mode == "LSTM":
            return hx[0].index_select(1, permutation), hx[1].index_select(1, permutation)
        return hx.index_select(1, permutation)
