"""Writes at index tensors: ``index_put`` / ``index_put_`` and ``put`` / ``put_``.

``index_put(input, indices, values, accumulate)`` is ``input[indices] = values`` out of place
(``indices`` a tuple of integer index tensors or bool masks, numpy/PyTorch advanced-indexing
rules); ``put(input, index, source)`` writes at flat positions of ``input``
(C order, negative counting from the end).  With ``accumulate=True`` values are added, and a
position listed twice gets both.

Both reduce to flat C-order positions: ``arange(numel).reshape(shape)[indices]``.  A write is
then ``ViewScatter`` (writes.py: out = input with values at the positions; gradient: g with
zeros there for input, g read at the positions for values) and an accumulation is
``AccumulateAt`` below.  The in-place forms go through ``apply_inplace`` like every write.
"""
from __future__ import annotations

import numpy as np

from .._warn_once import warn_user
from .. import backend, dtypes
from ..autograd import Function
from ..autograd._node_names import rename_node
from ..autograd.function import keep_for_backward
from ..tensor import Tensor
from ._util import python_type_name, scalar_type_name
from .elementwise import cast
from .plumbing import expand_to, reshape_to
from .indexing import GetItem, _check_masks, _index_message, check_fill_value
from ._expanded_writes import write_expanded
from .writes import ViewScatter, apply_inplace, refuse_write

__all__ = ["index_put", "index_put_", "put", "put_"]


class AccumulateAt(Function):
    """out = a with ``values`` added at the flat ``index`` (repeated positions add up).

    Backward: d out / d a = 1, so a gets g; each value gets g at the position it was added
    to (a gather whose own backward adds up repeated positions, so any order works)."""
    complex_ok = True             # linear, real coefficients: right as written

    def forward(self, a, values, *, index):
        self.index = index
        out = a.copy()
        flat = out.reshape(-1)
        if flat.dtype.kind in "fV" and flat.size and isinstance(flat, np.ndarray):
            # a bincount is one vectorised pass, much faster than numpy's unbuffered add.at
            flat += np.bincount(index.reshape(-1), weights=values.reshape(-1),
                                minlength=flat.size).astype(flat.dtype)
        else:
            backend.index_add(flat, index.reshape(-1), values.reshape(-1))
        return out

    def backward(self, g):
        return (g if self.needs_input_grad[0] else None,
                GetItem.apply(reshape_to(g, (g._array.size,)), index=(self.index,), basic=False)
                if self.needs_input_grad[1] else None)


def _write_at(input, values, positions, accumulate, inplace, expanded=False):
    """input with ``values`` (shaped like ``positions``) written or added at ``positions``;
    ``expanded``: an expanded ``input`` is written element by element, as PyTorch's
    index_put_ does (its put_ refuses one)."""
    function = AccumulateAt if accumulate else ViewScatter
    if inplace:
        if not input._array.flags.writeable:
            xp = backend.xp_of(positions)
            if expanded and write_expanded(input, xp.unravel_index(positions,
                                                                   tuple(input.shape)),
                                           values._array, accumulate, op="index_put_"):
                return input    # (an expanded input: PyTorch writes it element by element)
            refuse_write(input._array)
        return apply_inplace(input, function, values, index=positions)
    return function.apply(input, values, index=positions)


def _check_same_device(input, other):
    if input.device != other.device:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least "
                           f"two devices, {input.device} and {other.device}!")


# ----------------------------------------------------------------------------------------------
# index_put
# ----------------------------------------------------------------------------------------------
def _numpy_index(indices, name, argument=1):
    """The index tensors as arrays: int64 and int32 ones, bool masks, and uint8 ones read as
    masks with PyTorch's deprecation warning; any other dtype is PyTorch's IndexError.
    ``argument``: where PyTorch's parser counts the indices (0 for the Tensor methods)."""
    if isinstance(indices, Tensor) or not isinstance(indices, (tuple, list)):
        raise TypeError(f"{name}(): argument 'indices' (position 2) must be tuple of Tensors, "
                        f"not {type(indices).__name__}")
    out = []
    for i, item in enumerate(indices):
        if not isinstance(item, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument {argument}, but got "
                            f"{python_type_name(item)}")
    for item in indices:
        array = item._array
        if array.dtype not in (np.int64, np.int32, np.uint8, np.bool_):
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        out.append(array != 0 if array.dtype == np.uint8 else array)
    return tuple(out)


def _warn_byte_index():
    warn_user("indexing with dtype minigrad.uint8 is now deprecated, please use a dtype "
              "minigrad.bool instead.", UserWarning)


def _leading_int_positions(input, index):
    """The common case without building a grid of every position: integer index tensors for
    the first k dims (the rest whole), ``x[i, j] = v``.  Their broadcast shape followed by
    the remaining dims; None for any other index (masks, fewer dims than indexed...)."""
    shape = tuple(input.shape)
    if not 0 < len(index) <= len(shape) or any(i.dtype.kind not in "iu" for i in index):
        return None
    xp = backend.xp_of(input._array)
    try:
        arrays = xp.broadcast_arrays(*index)
    except ValueError:
        return None                       # numpy's own message, from the general path
    flat = 0
    for d, (i, size) in enumerate(zip(arrays, shape)):
        bad = (i >= size) | (i < -size)
        if i.size and bool(bad.any()):
            first = int(i.reshape(-1)[xp.argmax(bad.reshape(-1))])
            raise IndexError(f"index {first} is out of bounds for dimension {d} with size "
                             f"{size}")
        flat = flat * size + (i % size if size else i)
    inner = shape[len(index):]
    count = int(np.prod(inner, dtype=np.int64))
    flat = xp.asarray(flat, dtype=xp.int64)
    if not inner:
        return flat
    offsets = xp.arange(count, dtype=xp.int64).reshape(inner)
    return flat.reshape(flat.shape + (1,) * len(inner)) * count + offsets


def _indexed_shape(input, index):
    """The shape of ``input[index]`` for index arrays and masks, found without reading an
    element or checking the integers' bounds (a dim of size 0 still refuses any integer)."""
    xp = backend.xp_of(input._array)
    probe = xp.broadcast_to(xp.zeros((), dtype=bool), tuple(input.shape))
    zeros = tuple(i if i.dtype.kind == "b" else xp.zeros_like(i) for i in index)
    try:
        return probe[zeros].shape
    except IndexError as exc:
        if str(exc).endswith("with size 0"):        # PyTorch's check of an empty dim
            raise IndexError("index is out of bounds for dimension with size 0") from None
        raise IndexError(_index_message(exc, input, index)) from None


def _check_index_dims(index, ndim):
    """PyTorch's IndexError for indices covering more dims than ``input`` has: a mask's dims
    are looked up one by one ("Dimension out of range"); integer tensors alone are counted."""
    if ndim == 0 and index:
        # a 0-d tensor: each index tensor, a mask too, counts one
        raise IndexError(f"too many indices for tensor of dimension 0 (got {len(index)})")
    count = sum(i.ndim if i.dtype.kind == "b" else 1 for i in index)
    if count <= ndim or ndim == 0:
        return
    if any(i.dtype.kind == "b" for i in index):
        raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, "
                         f"{ndim - 1}], but got {ndim})")
    raise IndexError(f"too many indices for tensor of dimension {ndim} (got {count})")


def _index_put(input, indices, values, accumulate, name, inplace, argument=1):
    if not isinstance(values, Tensor):
        raise TypeError(f"{name}(): argument 'values' (position 3) must be Tensor, not "
                        f"{type(values).__name__}")
    index = _numpy_index(indices, name, argument)
    _check_index_dims(index, input.ndim)
    byte = any(i._array.dtype == np.uint8 for i in indices)
    # PyTorch's order of checks: the index (masks that do not fit, arrays that do not
    # broadcast), the value's shape, the dtypes, and last (in the kernel) the bounds
    if byte and len(index) == 1 and not accumulate and values._array.size == 1:
        # one value through one uint8 mask: PyTorch's masked_fill_, which takes bool only
        # (after its check of the mask's shape; no deprecation warning)
        _check_masks(index, input)
        raise RuntimeError("masked_fill_ only supports boolean masks, but got mask with dtype "
                           "unsigned char")
    if byte:
        _warn_byte_index()
    _check_masks(index, input)
    xp = backend.xp_of(input._array)
    shape = _indexed_shape(input, index)
    # as PyTorch: one value written through one bool mask is a masked fill, which converts
    # the value and takes it whatever its shape (an accumulating write never is one)
    masked_fill = not accumulate and len(index) == 1 and index[0].dtype.kind == "b" and \
        values._array.size == 1
    if masked_fill:
        check_fill_value(values, input._array.dtype)
        values = cast(reshape_to(values, ()), input._array.dtype)
    try:
        if np.broadcast_shapes(tuple(values.shape), shape) != shape:
            raise ValueError
    except ValueError:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(values.shape)} cannot "
                           f"be broadcast to indexing result of shape {list(shape)}") from None
    if values._array.dtype != input._array.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{scalar_type_name(input._array.dtype)} for the destination and "
                           f"{scalar_type_name(values._array.dtype)} for the source.")
    _check_same_device(input, values)
    # (PyTorch has no uint16/32/64 kernel for it: a mask's one value fills, as masked_fill)
    dtypes.refuse_unsigned("masked_fill" if masked_fill else "index_put", input._array.dtype)
    positions = _leading_int_positions(input, index)
    if positions is None:
        grid = xp.arange(input._array.size, dtype=xp.int64).reshape(input.shape)
        try:
            positions = grid[index]
        except IndexError as exc:
            raise IndexError(str(exc).replace("axis", "dimension")) from None
    values = expand_to(values, positions.shape)
    return _write_at(input, values, positions, accumulate, inplace, expanded=True)


def index_put(input, indices, values, accumulate=False):
    """``input`` with ``input[indices] = values`` (``+=`` with ``accumulate``, repeated
    positions adding up); a new tensor.  ``indices``: a tuple of integer/bool tensors;
    ``values`` broadcasts to the indexed shape and has input's dtype."""
    out = _index_put(input, indices, values, accumulate, "index_put", inplace=False)
    out = rename_node(out, "IndexPutBackward0")   # PyTorch's node, accumulating or not
    return keep_for_backward(out, *indices)       # as PyTorch's index_put node keeps them


def index_put_(input, indices, values, accumulate=False):
    """``index_put`` written into ``input`` itself; returns ``input``."""
    out = _index_put(input, indices, values, accumulate, "index_put_", inplace=True)
    return keep_for_backward(out, *indices)


def tensor_index_put(self, indices, values, accumulate=False):
    """``Tensor.index_put``: as the function, its parser counting the indices as argument 0."""
    out = _index_put(self, indices, values, accumulate, "index_put", inplace=False, argument=0)
    return keep_for_backward(rename_node(out, "IndexPutBackward0"), *indices)


def tensor_index_put_(self, indices, values, accumulate=False):
    """``Tensor.index_put_``: as the function, its parser counting the indices as argument 0."""
    out = _index_put(self, indices, values, accumulate, "index_put_", inplace=True, argument=0)
    return keep_for_backward(out, *indices)


# ----------------------------------------------------------------------------------------------
# put
# ----------------------------------------------------------------------------------------------
def _put(input, index, source, accumulate, inplace):
    for what, value in (("index", index), ("source", source)):
        if not isinstance(value, Tensor):
            raise TypeError(f"put(): argument '{what}' must be Tensor, not "
                            f"{type(value).__name__}")
    flat = index._array
    if flat.dtype != np.int64:
        raise RuntimeError(f"put_(): Expected a long tensor for index, but got "
                           f"{scalar_type_name(flat.dtype)}")
    if source._array.dtype != input._array.dtype:
        raise RuntimeError(f"put_(): self and source expected to have the same dtype, but got "
                           f"self.dtype = {scalar_type_name(input._array.dtype)} and "
                           f"source.dtype = {scalar_type_name(source._array.dtype)}")
    if flat.size != source._array.size:
        raise IndexError(f"put_(): Expected source and index to have the same number of "
                         f"elements, but got source.numel() = {source._array.size}, "
                         f"index.numel() = {flat.size}")
    _check_same_device(input, source)
    _check_same_device(input, index)
    dtypes.refuse_unsigned("take_put_cpu", input._array.dtype)     # (no uint16/32/64 kernel)
    numel = input._array.size
    if flat.size and not numel:
        raise IndexError("put_(): Tried to put elements into an empty tensor")
    if flat.size:
        xp = backend.xp_of(flat)
        bad = (flat >= numel) | (flat < -numel)
        if bool(bad.any()):
            first = int(flat.reshape(-1)[xp.argmax(bad.reshape(-1))])
            raise IndexError(f"out of range: tried to access index {first} on a tensor of "
                             f"{numel} elements.")
    positions = (flat % max(numel, 1)).reshape(-1)
    values = reshape_to(source, (flat.size,))
    return _write_at(input, values, positions, accumulate, inplace)


def put(input, index, source, accumulate=False):
    """``input`` with ``source``'s elements written (added, with ``accumulate``) at the flat
    C-order positions ``index`` (int64, negative from the end; as many as source has); a new
    tensor."""
    return rename_node(_put(input, index, source, accumulate, inplace=False), "PutBackward0")


def put_(input, index, source, accumulate=False):
    """``put`` written into ``input`` itself; returns ``input``."""
    return _put(input, index, source, accumulate, inplace=True)
