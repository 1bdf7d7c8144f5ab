"""Indexing: ``x[i, 1:3, None, mask, idx]`` and ``x[...] = v``, with PyTorch's rules.

Writing in place (``setitem``) is here, recorded as ``SetItem``, whose backward sends the
gradient to the written value and zero to the overwritten elements.  Reading (``getitem``:
a view for ints, slices, None and ...; a copy for index tensors and masks; its backward
scatters the gradient back, adding where an index repeats) is in ``index_read.py``, the
layout of what it reads in ``_index_layout.py``; their names stay importable from here.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .. import backend, dtypes
from .._tiled_copy import MIN_BYTES as TILED_BYTES, copy_into
from ..autograd import Function, is_grad_enabled
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._ellipses import one_ellipsis
from ._index_walk import walk
from ._index_words import (_check_index_count, _check_masks, _check_put_shapes, _check_value_kind,
                           _index_items, _index_message, _is_int, _lone_byte_mask,
                           _selects_a_view, _shape_refusal, _zeroed)
from ._util import scalar_type_name
from .elementwise import cast
from .plumbing import expand_to, reshape_to, sum_to, written_as_real
from ._expanded_writes import write_expanded
from .writes import _SEVERAL, apply_inplace, refuse_write, writable_alias
from .write_overlap import check_partial_overlap, overlaps_itself
from ._overlap_order import shares_within, write_in_turns
# the parts that moved out, importable from here as before
from ._index_layout import (_iteration_order, _laid_out, _new_dim_strides,  # noqa: F401
                            _operand_steps, _row_major_strides)
from .index_read import (Alias, BasicGetItem, GetItem, Index, IndexScatter, Select,  # noqa: F401
                         Slice, Unsqueeze, _add_along, _array_index, _basic_node,
                         _bools_as_arrays, _empty_pick, _full_slice, _getitem, _ints_first,
                         _picks_each_once, _plain_item, getitem)


class SetItem(Function):
    """``out = a`` with ``out[index] = value``: the out-of-place form of ``a[index] = value``.

    Backward: d out / d a is 1 except at the overwritten elements (0 there), so the gradient
    of ``a`` is ``g`` with zeros written at ``index`` (this op again); ``value`` gets what
    its elements were written to, ``g[index]``, summed over the broadcast copies.
    """
    complex_ok = True             # linear, real coefficients: right as written
    _node_name = "torch::autograd::CopySlices"     # PyTorch's node for a write into a part
    # setitem checks the value against the written region only (``y[1:3] += 1`` writes y[1:3]
    # back into itself), not against the whole of ``a``
    overlap_checked = True

    def forward(self, a, value, *, index):
        self.index, self.value_shape = index, value.shape
        out = a.copy()
        out[index] = value
        return out

    def backward(self, g):
        ga = gv = None
        if self.needs_input_grad[0]:
            zero = Tensor._wrap(backend.xp_of(g._array).zeros((), dtype=g._array.dtype))
            ga = SetItem.apply(g, zero, index=self.index)    # overwritten elements get nothing
        if self.needs_input_grad[1]:
            picked = GetItem.apply(g, index=self.index, basic=_picks_each_once(self.index))
            gv = sum_to(picked, self.value_shape)
        return ga, gv


def _value_in_numpy_order(a, idx, value):
    """``value`` laid out for numpy's ``a[idx] = value`` when PyTorch's layout of ``a[idx]``
    differs (integers beside index arrays, see ``_ints_first``); else ``value`` itself."""
    if value._array.size == 1 or not any(_is_int(i) for i in idx) or \
            all(not hasattr(i, "shape") for i in idx):
        return value
    xp = backend.xp_of(a._array)
    positions = xp.arange(a._array.size).reshape(a._array.shape)
    first, second = _ints_first(idx)
    in_torch, in_numpy = positions[first][second], positions[idx]
    if in_torch.shape == in_numpy.shape and bool((in_torch == in_numpy).all()):
        return value
    # For each element of numpy's layout, where it sits in PyTorch's (positions are unique).
    order = xp.argsort(in_torch.reshape(-1))
    where = order[xp.searchsorted(in_torch.reshape(-1)[order], in_numpy.reshape(-1))]
    flat = reshape_to(expand_to(value, tuple(in_torch.shape)), (in_torch.size,))
    return reshape_to(getitem(flat, Tensor._wrap(where)), tuple(in_numpy.shape))


def check_fill_value(value, np_dtype):
    """A one-element ``value`` written through a bool mask is a masked fill of its number,
    which must fit ``np_dtype`` as a Python number must (300 into uint8, 1e10 into float16
    are refused; -1 into uint8 wraps)."""
    if value._array.dtype != np_dtype:
        dtypes.number_for(value._array.reshape(-1)[0].item(), np_dtype, half_checked=True)


def _setitem_node(index, value):
    """PyTorch's name of the node ``a[index] = value`` records where its index makes no view
    first (only whole-dim slices and Ellipsis beside the index tensors): an index_put for
    index tensors, a fill or a copy for none; None where it writes through a view
    (CopySlices)."""
    items = index if isinstance(index, tuple) else (index,)
    advanced = False
    for item in items:
        if isinstance(item, (list, np.ndarray)) or isinstance(item, Tensor) and (
                item.ndim or item._array.dtype.kind == "b"):
            advanced = True
        elif item is not Ellipsis and item != slice(None):
            return None                     # an int, None or a part: a view is written
    if advanced:
        return "IndexPutBackward0"
    one = not isinstance(value, Tensor) or value.ndim == 0
    return "FillBackward3" if one else "CopyBackwards"


def _refuse_unsigned_put(a, idx, value):
    """PyTorch's refusal of an advanced-index write into uint16/32/64, for which it has no
    kernel: one value through one mask is its masked_fill, anything else its index_put."""
    arrays = [i for i in idx if hasattr(i, "shape")]
    fill = len(arrays) == 1 and arrays[0].dtype.kind == "b" and arrays[0].ndim > 0 and \
        (not isinstance(value, Tensor) or value._array.size == 1)
    dtypes.refuse_unsigned("masked_fill" if fill else "index_put", a._array.dtype)


def _refuse_multi_output_view(a, index):
    """A write ``a[index] = v`` into one of the views an op returned together (split, chunk,
    unbind), which PyTorch refuses naming the last view its indexing made: a Select for an
    integer, a Slice for a slice not the whole dim, an Unsqueeze for None (the multi-output
    op itself when the index made none: ``check_view_meta`` says so)."""
    items = _index_items(index)
    consumed = sum(1 for i in items if i is not None and i is not Ellipsis)
    d, name = 0, None
    for item in items:
        if item is None:
            name = "Unsqueeze"
        elif item is Ellipsis:
            d += max(a.ndim - consumed, 0)
        elif isinstance(item, slice):
            start, stop, step = item.indices(a.shape[d]) if d < a.ndim else (0, 0, 1)
            if d < a.ndim and not (start == 0 and stop == a.shape[d] and step == 1):
                name = "Slice"
            d += 1
        else:
            name = "Select"
            d += 1
    if name is not None:
        raise RuntimeError(f"Output 0 of {name} is a view and is being modified inplace. "
                           + _SEVERAL)


def _lone_mask(idx):
    """Whether a numpy index's only array is a bool mask (PyTorch's masked_fill_ then)."""
    arrays = [i for i in idx if hasattr(i, "dtype")]
    return len(arrays) == 1 and arrays[0].dtype.kind == "b" and arrays[0].ndim > 0


def _writes_nothing(a, idx, value):
    """An advanced index into a tensor of no element that selects none, with a value that
    broadcasts to that empty region: PyTorch's index_put runs no kernel, so it checks no
    index against its dim (``x[:, [5]] = v`` of a (0, 3) ``x`` passes; an index into the dim
    of size 0 itself is still refused, by the probe below)."""
    xp = backend.xp_of(a._array)
    probe = xp.broadcast_to(xp.zeros((), dtype=bool), a._array.shape)
    zeros = tuple(xp.zeros_like(i) if getattr(i, "dtype", None) is not None and
                  i.dtype.kind in "iu" else i for i in idx)
    try:
        region = probe[zeros].shape
        return np.broadcast_shapes(tuple(value.shape), region) == region and \
            not math.prod(region)
    except (IndexError, ValueError):
        return False


def _picks_nothing(a, idx):
    """Whether the advanced index ``idx`` (its index arrays' values aside) picks no element
    of ``a``."""
    try:
        return not math.prod(a._array[_zeroed(idx)].shape)
    except IndexError:
        return False


def _tiled_fits(target, src):
    """May ``copy_into`` write ``src`` into all of ``target``? (Large arrays of one shape
    and dtype in memory of their own; it keeps numpy's single pass where that is as fast.)"""
    return src.nbytes >= TILED_BYTES and src.shape == target.shape and \
        src.dtype == target.dtype and type(src) is np.ndarray and \
        type(target) is np.ndarray and not np.may_share_memory(target, src)


def setitem(a, index, value):
    """``a[index] = value`` in place (recorded in the graph when gradients are needed)."""
    index = one_ellipsis(index, a.ndim)
    if type(value) in (int, float, bool, complex):
        # PyTorch converts a number value before it looks at the index (300 into uint8 is
        # refused whatever the index)
        if type(value) is int and not -2 ** 63 <= value < 2 ** 63:
            raise ValueError("Overflow when unpacking long long")
        if type(value) is complex and value.imag and dtypes.reduced_float(a._array.dtype):
            # (a 16-bit float is written through a double here)
            raise RuntimeError("value cannot be converted to type double without overflow")
        dtypes.number_for(value, a._array.dtype)
    _check_index_count(a, index)
    if not (type(index) in (int, bool, slice) or type(index) is tuple and
            all(map(_plain_item, index))):
        index = walk(a, index, not isinstance(value, Tensor) or value.numel() == 1)
    if type(index) is bool:
        # a lone Python bool, as PyTorch: x[True] = v writes through the view x.unsqueeze(0)
        # (a copy: v broadcast and cast), x[False] = v only checks v
        if index:
            setitem(reshape_to(a, (1,) + tuple(a.shape)), Ellipsis, value)
            return a
        _check_value_kind(a, value)
        if not isinstance(value, Tensor):
            dtypes.number_for(value, a._array.dtype)
        return a
    rewritten = _bools_as_arrays(a, index)
    if rewritten is not None:
        setitem(rewritten[0], rewritten[1], value)      # written through the new dims' view
        return a
    one_value = not isinstance(value, Tensor) or value._array.size == 1
    byte_fill = one_value and _lone_byte_mask(index)
    if byte_fill:
        # one value through a uint8 mask is PyTorch's masked_fill_ (refused below, after the
        # mask's shape), which gives no deprecation warning: the index's held back
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            idx, basic, _ = _array_index(index, a)
    else:
        idx, basic, _ = _array_index(index, a)
    if not basic:
        _check_masks(idx, a)
        if a._array.dtype in dtypes.BAREBONES_UNSIGNED:
            _refuse_unsigned_put(a, idx, value)
    if byte_fill:
        # PyTorch writes one value through a mask with masked_fill_, which takes bool only
        # (after its check of the mask's shape)
        raise RuntimeError("masked_fill_ only supports boolean masks, but got mask with dtype "
                           "unsigned char")
    node = _setitem_node(index, value) if a._base is None else None
    if isinstance(value, np.integer):
        value = int(value)      # PyTorch takes a numpy integer as an int (np.float32 it refuses)
    _check_value_kind(a, value)
    if not isinstance(value, Tensor):
        # a number is checked as PyTorch converts it (300 into uint8 is refused, -1 wraps);
        # past float16's range it is inf, silently.  An int is read as a long long first.
        if type(value) is int and not -2 ** 63 <= value < 2 ** 63:
            raise ValueError("Overflow when unpacking long long")
        value = dtypes.number_for(value, a._array.dtype)
        with np.errstate(over="ignore"):
            value = Tensor._wrap(backend.xp_of(a._array).asarray(value, dtype=a._array.dtype))
    elif not basic and value._array.dtype != a._array.dtype:
        # PyTorch's index_put wants equal dtypes; only a single mask with one value is a
        # masked_fill, which converts
        arrays = [i for i in idx if hasattr(i, "shape")]
        # (a 0-d bool tensor is no mask there: an index tensor, [0] or [])
        if not (len(arrays) == 1 and arrays[0].dtype.kind == "b" and arrays[0].ndim and
                value._array.size == 1):
            if any(_is_int(i) for i in idx):
                # PyTorch selects by the integers before its index_put checks the dtypes
                try:
                    a._array[_ints_first(idx)[0]]
                except IndexError as exc:
                    raise IndexError(_index_message(exc, a, idx, index)) from None
            _check_put_shapes(a, index, idx, value)
            raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                               f"{scalar_type_name(a._array.dtype)} for the destination and "
                               f"{scalar_type_name(value._array.dtype)} for the source.")
        check_fill_value(value, a._array.dtype)
    if value._base is not None or a._base is not None or value is a:
        # a value lying partly in the written memory is refused, as PyTorch's copy and
        # index_put refuse it (x[1:] = x[:-1]); the written memory is the indexed region, or
        # for an advanced index the whole tensor (an index out of range is reported below)
        try:
            written = a._array[idx] if basic else a._array
        except IndexError:
            written = None
        if written is not None:
            check_partial_overlap(written, (value,))
    given = value                   # (PyTorch's refusals name the value's own type)
    if value._array.dtype.kind == "c" and a._array.dtype.kind != "c":
        value = written_as_real(value, a._array.dtype.kind)  # as PyTorch's copy
    value = cast(value, a._array.dtype)
    lead = 0
    while lead < value.ndim and value.shape[lead] == 1:
        lead += 1
    if lead:        # as PyTorch: the value's leading size-1 dimensions are dropped (x[0] = [[5]])
        value = reshape_to(value, tuple(value.shape[lead:]))
    if not basic and a._array.size == 0 and _writes_nothing(a, idx, value):
        return a        # (no element written: PyTorch's kernel checks no index's bounds)
    try:
        value = _value_in_numpy_order(a, idx, value)
        if not (is_grad_enabled() and (a.requires_grad or value.requires_grad)):
            target = a._array
            region = target[idx] if basic and not target.flags.writeable else None
            if region is not None and (region.size == 0 or not any(
                    st == 0 and n > 1 for st, n in zip(region.strides, region.shape))):
                # a region of an expanded view in which no element repeats (x.expand(2, 3)[1]
                # = v): PyTorch writes it through
                target = writable_alias(target)
            if not basic and not target.flags.writeable and write_expanded(
                    a, idx, value._array, op=("index_put_", "masked_fill_") if one_value and
                    _lone_mask(idx) else "index_put_"):
                return a        # (an expanded tensor: PyTorch writes it element by element)
            if not target.flags.writeable:
                refuse_write(target)
            if value.device != a.device:
                raise RuntimeError(f"Expected all tensors to be on the same device, but found at "
                                   f"least two devices, {a.device} and {value.device}!")
            region = target[idx] if basic and shares_within(target) else None
            if region is not None and shares_within(region):
                # elements sharing memory (as_strided): PyTorch's copy visits them in turn
                write_in_turns(region, value._array, lambda: value._array, (value._array,))
            elif type(idx) is tuple and len(idx) == 1 and idx[0] is Ellipsis and \
                    _tiled_fits(target, value._array):
                # a whole large tensor from another layout (x.copy_(y.t())): in cache-sized
                # strips where numpy's single pass is slow (the same bits)
                copy_into(target, value._array)
            else:
                target[idx] = value._array        # nothing to record: write straight through
            a._vcounter.value += 1
            return a
        if basic:
            # PyTorch selects the view before it checks the write: an index out of range (or
            # into a 0-d tensor) is refused before a leaf or multi-output view is
            a._array[idx]
            if isinstance(a.__dict__.get("_view_meta"), tuple):
                _refuse_multi_output_view(a, index)
        if a.grad_fn is None and a._requires_grad and a._base is None and _selects_a_view(idx, a):
            # PyTorch writes through the view the index selects first
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in "
                               "an in-place operation.")
        part = getitem(a, index) if basic and overlaps_itself(a._array) else None
        if part is not None and not overlaps_itself(part._array):
            # a view whose elements share memory (overlapping unfold windows, as_strided):
            # only the selected elements are written, through their own view, as PyTorch's
            # a[idx].copy_(value); recording the whole view would write back the old values
            # of the elements sharing memory with them
            part.copy_(value)
            return a
        out = apply_inplace(a, SetItem, value, index=idx)
        return out if node is None else rename_node(out, node)
    except IndexError as exc:
        if not basic:
            # index_put checks that the value broadcasts before its kernel finds an index out
            # of range, and runs no kernel when the region picked holds no element
            try:
                _check_put_shapes(a, index, idx, value)
            except IndexError as inner:         # (an index into a dim of size 0)
                words = str(inner)
                raise IndexError(words if "(indexing a tensor" in words else
                                 _index_message(inner, a, idx, index)) from None
            if _picks_nothing(a, idx):
                return a
        raise IndexError(_index_message(exc, a, idx, index)) from None
    except ValueError:
        if not basic:       # an index into a dim of size 0 is refused first, as PyTorch
            try:
                a._array[idx]
            except IndexError as exc:
                words = _index_message(exc, a, idx, index)
                if "with size 0" in words:
                    raise IndexError(words) from None
        raise _shape_refusal(a, index, idx, value, basic, given_dtype=given._array.dtype) from None
    except TypeError as exc:
        # numpy's own refusal of a 2-d or deeper value written through a mask, and
        # ml_dtypes' of several values written into one bfloat16 element
        if "boolean array indexing assignment" not in str(exc) and \
                not str(exc).startswith("expected number, got numpy.ndarray"):
            raise
        raise _shape_refusal(a, index, idx, value, basic, given_dtype=given._array.dtype) from None
