"""PyTorch's refusal of a recurrent layer's arguments by the parser of its fused kernel
(``rnn_tanh``, ``rnn_relu``, ``lstm``, ``gru``): a ``num_layers`` that is a bool, which the
layer's constructor takes (a bool is an int in Python) and the kernel's ``int`` does not.

The kernel has two signatures, for a padded input and for a packed one; the message lists
both, each with the call's arguments marked ``!...!`` where they do not fit (as PyTorch's
parser marks them: its sequence slots never match the list of weights or the tuple (h, c)).
"""
from __future__ import annotations

from ...tensor import Tensor

__all__ = ["check_num_layers"]


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
    if not isinstance(num_layers, bool):
        return
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
