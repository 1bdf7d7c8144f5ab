"""How PyTorch reads a pool's size arguments: how many values each holds (kernel_size,
stride, padding, dilation: one, or one per pooled dim), and an adaptive pool's output_size
(its Python function fills None entries from the input, then its parser wants ints)."""
from __future__ import annotations

import numbers

from ..tensor import Tensor
from ._int_lists import int_lists

__all__ = ["check_lengths", "output_ints"]

_NUMBER_WORDS = {2: "two", 3: "three"}
# max_pool1d's fast path (no indices) words its length checks so
_FAST_1D = {"kernel_size": "an int, list of ints or tuple of ints",
            "stride": "None, an int, list of ints, or tuple of ints",
            "padding": "an int, list of ints, or tuple of ints",
            "dilation": "an int, list of ints or tuple of ints"}


def check_lengths(op, nd, fast_1d, **sizes):
    """PyTorch's checks of how many values each size argument holds (one, or one per pooled
    dim; a stride may be omitted), in the order given and in each op's own words."""
    for name, value in sizes.items():
        count = len(value) if isinstance(value, (tuple, list)) else 1
        if count == 1 or (count == nd and nd > 1) or (name == "stride" and
                                                      (value is None or count == 0)):
            continue
        if nd == 1:
            if fast_1d:
                raise RuntimeError(f"max_pool1d() {name} must be {_FAST_1D[name]} of size 1 but "
                                   f"got size {count}")
            raise RuntimeError(f"{op}() argument '{name}' should contain one int (got {count})")
        omitted = "omitted, " if name == "stride" else ""
        ints = f"a tuple of {_NUMBER_WORDS[nd]} ints"
        if op == "avg_pool3d":
            raise RuntimeError(f"{op}: {name} must be {omitted}a single int, or {ints}")
        if name == "dilation":
            raise RuntimeError(f"{op}: dilation must be either a single int, or {ints}")
        raise RuntimeError(f"{op}: {name} must either be {omitted}a single int, or {ints}")


def output_ints(op, nd, x, output_size):
    """An adaptive pool's output_size as PyTorch reads it: the 2-d and 3-d pools' Python
    functions fill a sequence's None entries from the input's last sizes (wanting one
    dimension more than the sequence has), then the parser wants ints (a sequence's first
    element no bool). Their Python functions take the length of anything but an int."""
    if nd > 1 and not isinstance(output_size, (numbers.Integral, Tensor)):
        # anything with a length (a str too) is zipped with the input's last sizes
        count = len(output_size)        # (no length: Python's own TypeError, as PyTorch's)
        if x.ndim <= count:
            raise ValueError(f"Input dimension should be at least {count + 1}")
        output_size = [n if o is None else o
                       for o, n in zip(output_size, x.shape[x.ndim - count:])]
    size, = int_lists(op, 2, {"output_size": output_size}, nd)
    return size
