"""``masked_fill`` and ``masked_fill_``: the value written where a boolean mask (broadcast to
the input) is True, with PyTorch's checks of the mask and of the value (a number, or a 0-d
tensor whose gradient is the sum over the mask).  The index-driven writes (gather, scatter,
index_add) are in ``scatter_gather.py``.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend, dtypes
from ..autograd._node_names import rename_node
from ..autograd._shown_edges import shown_inputs
from ..autograd.function import keep_for_backward
from ..tensor import Tensor
from ._util import argument_error, broadcast_shape, check_fill_value, check_tensor
from ._expanded_writes import write_expanded
from .inplace import copy_, write_visiting
from .elementwise import cast
from .pointwise_select import Where, where
from .plumbing import RealPart
from ._gather_scatter_checks import CPP_NAMES, _public_args

__all__ = ["masked_fill"]


def _fill_number(value, dtype):
    """A masked_fill number as PyTorch converts it to ``dtype``: a complex one must be real, it
    must fit the dtype (``check_fill_value``), and a negative integer wraps an unsigned one."""
    check_fill_value(value, dtype)
    if isinstance(value, complex) and dtype.kind == "b":
        value = value != 0                  # (into bool: nonzero, the imaginary part too)
    elif isinstance(value, complex) and dtype.kind != "c":
        value = value.real
    if dtype.kind == "u" and isinstance(value, (int, np.integer)) and \
            not isinstance(value, (bool, np.bool_)) and value < 0:
        value = int(value) % (int(np.iinfo(dtype).max) + 1)
    return value


def _masked_fill_checks(input, mask, value, inplace=False):
    """(mask array, value as a 0-d tensor of input's dtype) after PyTorch's checks: a value
    tensor's rank, the mask's dtype, then (``inplace``) that the mask broadcasts to input's
    shape, then the value's conversion."""
    _public_args("masked_fill", input, mask, "mask", 2)
    m = mask._array if isinstance(mask, Tensor) else mask
    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but "
                           f"got tensor with {value.ndim} dimension(s).")
    if m.dtype.kind != "b":
        name = dtypes.from_numpy_dtype(m.dtype).name
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{CPP_NAMES.get(name, name)}")
    dtype = input._array.dtype
    if inplace:
        wide = broadcast_shape(tuple(input.shape), tuple(m.shape), "masked_fill_")
        if wide != tuple(input.shape):
            raise RuntimeError(f"output with shape {list(input.shape)} doesn't match the "
                               f"broadcast shape {list(wide)}")
    if isinstance(value, Tensor):
        if value._array.dtype.kind != "b":
            check_fill_value(backend.as_numpy(value._array).item(), dtype)
        if value._array.dtype.kind == "c" and dtype.kind != "c":
            # a complex value with no imaginary part (checked above) into a real tensor: its
            # real part; into a bool one (any value): whether it is nonzero, as PyTorch
            value = Tensor._wrap(value._array != 0) if dtype.kind == "b" else RealPart.apply(value)
        return m, cast(value, dtype)
    if not isinstance(value, (numbers.Number, np.bool_)):
        # (a Tensor and a Number value are two signatures: the wrappers list them)
        raise argument_error("masked_fill", "value", "Number", value)
    value = _fill_number(value, dtype)
    return m, Tensor._wrap(backend.xp_of(input._array).asarray(value, dtype=dtype))


def masked_fill(input, mask, value):
    """``input`` with ``value`` where the bool ``mask`` (broadcast with it) is True."""
    node = _masked_fill_node(value)
    check_tensor("masked_fill", input)
    check_tensor("masked_fill", mask, "mask", 2)
    if not isinstance(value, (Tensor, numbers.Number, np.bool_)):
        raise argument_error("masked_fill", "value", "Number", value)     # (the parser's)
    # PyTorch broadcasts mask and input first (mask named first), then runs masked_fill_
    shape = broadcast_shape(tuple(mask.shape), tuple(input.shape), "masked_fill")
    m, value = _masked_fill_checks(input, mask, value)
    if not (m.flags.c_contiguous and input._array.flags.c_contiguous):
        # PyTorch fills a row-major copy of input; where's result follows its condition
        # first: a full row-major mask makes it row-major too
        xp = backend.xp_of(m)
        m = xp.ascontiguousarray(xp.broadcast_to(m, shape))
    out = keep_for_backward(where(m, value, input), mask)
    return rename_node(out, node, Where)


# masked_fill is where(mask, value, input): PyTorch's nodes list input, then a tensor value
Where.renamed("MaskedFillBackward0").next_functions = shown_inputs(1)
Where.renamed("MaskedFillBackward1").next_functions = shown_inputs(1, 0)


def _masked_fill_node(value):
    """PyTorch's node for masked_fill: MaskedFillBackward1 for a tensor value,
    MaskedFillBackward0 for a number."""
    return "MaskedFillBackward1" if isinstance(value, Tensor) else "MaskedFillBackward0"


def masked_fill_(input, mask, value):
    """In place: ``value`` into ``input`` where ``mask`` (which broadcasts to it) is True."""
    node = _masked_fill_node(value)
    m, value = _masked_fill_checks(input, mask, value, inplace=True)
    wide = tuple(input.shape)
    xp = backend.xp_of(m)
    if write_expanded(input, xp.broadcast_to(m, wide), value._array, op="masked_fill_"):
        return input            # (an expanded input: PyTorch writes it element by element)
    if write_visiting(input, lambda t: where(m, value, t)) is not None:
        return input            # (elements sharing memory: written visit by visit)
    before = input.grad_fn
    copy_(input, keep_for_backward(where(m, value, input), mask))
    if input.grad_fn is not before:
        rename_node(input, node)
    return input
