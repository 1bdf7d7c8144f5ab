"""Indexing: ``x[i, 1:3, None, mask, idx]`` and ``x[...] = v``, with PyTorch's rules.

Reading picks elements (a view for ints, slices, None and ...; a copy for index tensors and
masks); its backward scatters the gradient back to the picked positions, adding where an index
repeats.  Writing in place is recorded as ``SetItem``, whose backward sends the gradient to the
written value and zero to the overwritten elements.
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np

from .. import _memory_format as mf, backend, dtypes
from ..autograd import Function, is_grad_enabled
from ..autograd.function import keep_for_backward, rename_node
from ..tensor import Tensor
from ._ellipses import one_ellipsis
from ._index_words import (_check_index_count, _check_masks, _check_put_shapes,
                           _check_value_kind, _index_items, _index_message, _is_int,
                           _lone_byte_mask, _refuse_long_ints, _selects_a_view, _shape_refusal)
from ._scatter_add_kernels import index_add_fits, index_add_slices, scatter_add_array
from ._util import scalar_type_name
from .elementwise import cast
from .plumbing import expand_to, reshape_to, sum_to, written_as_real
from .writes import (apply_inplace, check_partial_overlap, overlaps_itself, refuse_write,
                     writable_alias)


def _row_major_strides(out):
    """A C-contiguous ``out`` with PyTorch's strides for its size-1 dims too (the product of
    the sizes after them; numpy may leave another step there, which never moves)."""
    strides, step = [], out.itemsize
    for size in reversed(out.shape):
        strides.append(step)
        step *= max(size, 1)
    strides = tuple(reversed(strides))
    if out.size == 0 or strides == out.strides:
        return out
    return backend.strided_view(out, out.shape, strides)


def _operand_steps(a, index, shape):
    """The steps (per dim of the result ``shape``) of the operands PyTorch's index kernel
    iterates over for ``a[index]`` (slices, None and ... applied first, then index arrays and
    masks): the indexed tensor, with step 0 along the dims the arrays make, and each index
    array (a mask as the columns of its nonzero()), with step 0 along the others.  None when
    the index is not of that form (a bool scalar, a 0-d mask)."""
    basic, arrays, positions = [], [], []
    for item in index:
        if isinstance(item, bool) or getattr(item, "ndim", 1) == 0:
            return None
        if hasattr(item, "shape") and item.dtype.kind == "b":
            found = backend.xp_of(item).stack(item.nonzero(), 1)        # (k, mask.ndim)
            positions += range(len(basic), len(basic) + item.ndim)
            arrays += [found[:, k] for k in range(item.ndim)]
            basic += [slice(None)] * item.ndim
        elif hasattr(item, "shape"):
            positions.append(len(basic))
            arrays.append(item)
            basic.append(slice(None))
        else:
            basic.append(item)
    if not arrays:
        return None
    full = tuple(basic) if any(i is Ellipsis for i in basic) else tuple(basic) + (Ellipsis,)
    view = _new_dim_strides(a, a[full], full)        # PyTorch's steps for None's dims
    # the view's dim each index array indexes (ints drop their dim, None adds one)
    taken = sum(1 for i in basic if i is not None and i is not Ellipsis)
    dim, where = 0, []
    for j, item in enumerate(basic):
        if item is Ellipsis:
            dim += a.ndim - taken
        elif item is None or isinstance(item, slice):
            if j in positions:
                where.append(dim)
            dim += 1
    replaced = tuple(np.broadcast_shapes(*(x.shape for x in arrays)))
    adjacent = where == list(range(where[0], where[0] + len(where)))
    rest = [d for d in range(view.ndim) if d not in where]
    before = [d for d in rest if d < where[0]] if adjacent else []
    after = [d for d in rest if d not in before]
    if len(before) + len(replaced) + len(after) != len(shape):
        return None
    item = view.itemsize
    steps = [[view.strides[d] // item for d in before] + [0] * len(replaced) +
             [view.strides[d] // item for d in after]]
    # an index array is viewed with size-1 dims around its own, which keep a step where the
    # result's dim is 1 too (the steps of a contiguous view: its size before, 1 after)
    size = int(np.prod(replaced, dtype=np.int64))
    outer = [size if shape[d] == 1 else 0 for d in range(len(before))]
    trailing = [1 if shape[d] == 1 else 0 for d in range(len(shape) - len(after), len(shape))]
    for x in arrays:
        spread = backend.xp_of(x).broadcast_to(x, replaced)
        steps.append(outer + [st // x.itemsize for st in spread.strides] + trailing)
    return steps


def _iteration_order(a, index, shape):
    """The order of the result's dims, fastest first, that PyTorch's TensorIterator gives the
    output of ``a[index]`` (an advanced index): an insertion sort of the dims by the steps of
    its operands, the first operand with two nonzero, unequal steps deciding (equal steps
    put the smaller dim first).  None where it cannot be told (the result is then
    row-major, as for a contiguous ``a``)."""
    if len(shape) < 2 or 0 in shape:
        return None
    steps = _operand_steps(a, index, shape)
    return None if steps is None else mf.iteration_order(shape, steps)


def _laid_out(out, order):
    """``out`` copied into memory whose dims run as ``order`` says (fastest first), with
    PyTorch's strides (a dim's step is the product of the sizes of the faster dims)."""
    xp = backend.xp_of(out)
    buffer = xp.ascontiguousarray(out.transpose(order[::-1]))
    strides, step = [0] * out.ndim, out.itemsize
    for d in order:
        strides[d] = step
        step *= out.shape[d]
    return backend.strided_view(buffer, out.shape, tuple(strides))


class GetItem(Function):
    """Gather: ``out = a[index]`` with numpy's rules (``getitem`` below puts PyTorch's order
    first). ``basic`` says every element is picked at most once (no integer arrays).

    Backward: ``IndexScatter`` sends each output gradient back to the element it was read
    from; that scatter's own backward is this gather again, so any order works.
    """
    complex_ok = True             # linear, real coefficients: right as written

    def forward(self, a, *, index, basic):
        self.in_shape, self.index, self.basic = a.shape, index, basic
        # a new tensor laid out as PyTorch's index kernel lays it out: row-major for a
        # contiguous ``a`` (numpy puts the dims of index arrays that follow a slice last in
        # memory, and x[:, idx].view(-1) would then fail), after a's dims for a strided one
        out = a[index]
        # (a C-contiguous ``a`` gives a row-major result: no need to work the order out,
        # but for the steps PyTorch gives a result's size-1 dims)
        order = None if a.flags.c_contiguous and 1 not in out.shape else \
            _iteration_order(a, index, out.shape)
        if order is not None:
            return _laid_out(out, order)
        if not out.flags.c_contiguous:
            return out.copy(order="C")
        return _row_major_strides(out)

    def backward(self, g):
        return IndexScatter.apply(g, shape=self.in_shape, index=self.index, basic=self.basic)


class BasicGetItem(GetItem):
    """Ints, slices, None and ...: the result is a view of the input."""
    returns_view = True
    # its first-order gradient is g in the read part of zeros: the engine adds that part
    # alone into the input's gradient (``engine._Piece``) instead of running this backward
    grad_is_piece = True

    def forward(self, a, *, index, basic):
        self.in_shape, self.index, self.basic = a.shape, index, basic
        # a trailing ... keeps a 0-d result a view (numpy returns a scalar copy for x[1] of a
        # 1-d array; PyTorch's x[1] shares x's memory)
        full = index if isinstance(index, tuple) else (index,)
        if not any(i is Ellipsis for i in full):
            full = full + (Ellipsis,)
        out = a[full]
        return _new_dim_strides(a, out, full) if any(i is None for i in full) else out


# The node a read gets, named as PyTorch's for the last view op its indexing applies: an int
# selects, a slice that is not the whole dim slices, None unsqueezes; with none of them the
# result is an alias.  Index arrays and masks give an IndexBackward0.
class Select(BasicGetItem):
    """``x[i]``: a read whose last step is an integer (``SelectBackward0``)."""


class Slice(BasicGetItem):
    """``x[1:3]``: a read whose last step is a slice (``SliceBackward0``)."""


class Unsqueeze(BasicGetItem):
    """``x[None]``: a read whose last step is a None (``UnsqueezeBackward0``)."""


class Alias(BasicGetItem):
    """``x[...]``, ``x[:, :]``: a read that picks everything (``AliasBackward0``)."""


class Index(GetItem):
    """``x[idx]``, ``x[mask]``: a read with index tensors or masks (``IndexBackward0``)."""


def _full_slice(item, size):
    return item.start in (None, 0) and item.step in (None, 1) and \
        (item.stop is None or item.stop >= size)


def _new_dim_strides(a, out, index):
    """``out = a[index]`` with each dim that a None added given PyTorch's stride (numpy's is
    0): the size times the stride of the input dim that follows it (1 element at the end),
    so ``x[..., None].stride(-1)`` is 1 and ``x[None]`` stays contiguous, as PyTorch's."""
    if not isinstance(out, np.ndarray) or any(isinstance(i, bool) or hasattr(i, "shape")
                                              for i in index):
        return out
    taking = sum(1 for i in index if i is not None and i is not Ellipsis)
    strides, j, pos = list(out.strides), 0, 0
    for item in index:
        if item is None:
            strides[pos] = a.shape[j] * a.strides[j] if j < a.ndim else a.itemsize
            pos += 1
        elif item is Ellipsis:
            j += a.ndim - taking
            pos += a.ndim - taking
        else:
            pos += isinstance(item, slice)
            j += 1
    return backend.strided_view(out, out.shape, tuple(strides))


def _basic_node(index, shape):
    """The Function of a basic read ``x[index]`` (ints, slices, None, ...), by its last step."""
    if not isinstance(index, tuple):        # one item: PyTorch's fast path, no skipping
        kind = Slice if isinstance(index, slice) else Unsqueeze if index is None else \
            Alias if index is Ellipsis else Index if isinstance(index, bool) else Select
        return kind
    node, dim = Alias, 0
    taking = sum(1 for i in index if i is not None and i is not Ellipsis)
    for item in index:
        if isinstance(item, bool):
            return Index
        if item is None:
            node = Unsqueeze
        elif item is Ellipsis:
            dim += len(shape) - taking
        elif isinstance(item, slice):
            if dim >= len(shape) or not _full_slice(item, shape[dim]):
                node = Slice
            dim += 1
        else:
            node, dim = Select, dim + 1
    return node


class IndexScatter(Function):
    """``out = zeros(shape); out[index] += g``: the adjoint of the gather ``a[index]``.

    An element read twice (x[[0, 0]]) gets both gradients added (``index_add``, vectorised);
    when no element repeats (``basic``), a plain assignment is enough and faster.
    Backward: the gather at the same index.
    """
    complex_ok = True             # linear, real coefficients: right as written

    def forward(self, g, *, shape, index, basic):
        self.index, self.basic = index, basic
        summed = None if basic else _add_along(shape, index, g)
        if summed is not None:
            return summed
        out = backend.xp_of(g).zeros(shape, dtype=g.dtype)
        if basic:
            out[index] = g
        else:
            backend.index_add(out, index, g)
        return out

    def backward(self, gg):
        return GetItem.apply(gg, index=self.index, basic=self.basic)


def _add_along(shape, index, g):
    """zeros(shape) with ``g`` added at ``index`` when the index is one integer array along
    a dim d among whole slices (``x[idx]``, ``x[:, idx]``) of a numpy float or complex
    gradient: IndexAdd's kernels (sorted runs of whole slices, or one bincount), where
    numpy's unbuffered ``add.at`` took 5 ms for 512 rows of 1024.  The sums are formed in
    float64 and rounded once.  None for any other index (``add.at`` then)."""
    if type(g) is not np.ndarray or g.dtype.kind not in "fc":
        return None
    items = index if isinstance(index, tuple) else (index,)
    arrays = [k for k, item in enumerate(items) if isinstance(item, np.ndarray)]
    if len(arrays) != 1 or len(items) > len(shape):
        return None
    d = arrays[0]
    idx = items[d]
    if idx.dtype.kind not in "iu" or idx.size == 0 or shape[d] == 0 or any(
            not (isinstance(item, slice) and item == slice(None))
            for k, item in enumerate(items) if k != d):
        return None
    # g is (shape[:d], idx's shape, shape[d+1:]): the index's dims flattened into one
    src = g.reshape(tuple(shape[:d]) + (idx.size,) + tuple(shape[d + 1:]))
    flat = idx.reshape(-1).astype(np.int64)
    flat = np.where(flat < 0, flat + shape[d], flat)        # in range: checked by the read
    if index_add_fits(src, flat, shape[d]):
        return index_add_slices(src, flat, d, shape[d])
    view = [1] * src.ndim
    view[d] = flat.size
    return scatter_add_array(tuple(shape), d, flat.reshape(view), src)


def _picks_each_once(index):
    """True when ``a[index]`` reads no element twice: no integer index arrays (slices, ints,
    None, ... and boolean masks never repeat an element)."""
    return all(getattr(i, "dtype", None) is None or i.dtype.kind == "b" for i in index)


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


def _array_index(index, a):
    """Turn Tensors and sequences inside an index into arrays; report whether it is basic."""
    out, basic = [], True
    for item in _index_items(index):
        if isinstance(item, Tensor) and item.ndim == 0 and item._array.dtype.kind == "i":
            item = int(item._array)     # as PyTorch: a 0-d integer tensor is an integer index
        elif isinstance(item, Tensor):
            item = item._array
            if item.dtype.kind not in "biu" or item.dtype.kind == "i" and item.itemsize < 4 or \
                    item.dtype.kind == "u" and item.itemsize > 1:
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            if item.dtype.kind == "u":          # a uint8 index is a mask, as PyTorch's
                warnings.warn("indexing with dtype minigrad.uint8 is now deprecated, please use "
                              "a dtype minigrad.bool instead.", UserWarning, stacklevel=3)
                item = item != 0
            basic = False
        elif isinstance(item, (list, tuple, range)):  # a sequence inside the index: an array
            item = backend.xp_of(a._array).asarray(item)
            if item.size == 0:
                item = item.astype(np.int64)      # x[[]] selects nothing (numpy: float64)
            basic = False
        elif isinstance(item, np.integer):
            item = int(item)                      # a numpy integer is an integer, not an array
        elif type(item) is int:
            _refuse_long_ints((item,))
        elif hasattr(item, "shape") and hasattr(item, "dtype"):
            basic = False
        elif not (item is None or item is Ellipsis or isinstance(item, (slice, numbers.Integral))):
            raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or "
                             f"byte Variables are valid indices (got {type(item).__name__})")
        if isinstance(item, slice) and item.step is not None and item.step <= 0:
            raise ValueError("slice step cannot be zero" if item.step == 0 else
                             "step must be greater than zero")
        out.append(item)
    bool_mask = not basic and all(getattr(i, "dtype", None) is not None and i.dtype.kind == "b"
                                  for i in out if hasattr(i, "dtype"))
    return tuple(out), basic, bool_mask


def _ints_first(idx):
    """Split an index mixing integers and index arrays into two, applied one after the other.

    PyTorch applies integer indices first, as selections, then the index arrays; numpy counts
    an integer beside an array as one more index array, which can move the result's
    dimensions (x[0, :, [1, 2]] is (2, n) in numpy, (n, 2) in PyTorch).
    """
    first, second = [], []
    for i in idx:
        if hasattr(i, "shape"):                          # an index array or a bool mask
            first += [slice(None)] * (i.ndim if i.dtype.kind == "b" else 1)
            second.append(i)
        elif _is_int(i):
            first.append(i)
        else:                                            # None, a slice, Ellipsis
            first.append(i)
            second.append(i if i is Ellipsis else slice(None))
    return tuple(first), tuple(second)


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


def _bools_as_arrays(a, index):
    """PyTorch's reading of a Python bool in an index: a new size-1 dim there, picked by an
    index array ([0] for True, nothing for False).  Returns (``a`` with those dims, the index
    with those arrays), or None when the index holds no bool (numpy would count a bool as an
    index array of its own, placed apart from the others)."""
    items = _index_items(index)
    if not any(isinstance(i, bool) for i in items):
        return None

    def width(item):                    # the dims of ``a`` an index item takes
        if item is None or item is Ellipsis or isinstance(item, bool):
            return 0
        array = item._array if isinstance(item, Tensor) else item
        if isinstance(array, (list, tuple)):
            array = np.asarray(array)
        kind = getattr(array, "dtype", None)
        return array.ndim if kind is not None and kind.kind in "bu" and kind.itemsize == 1 \
            else 1
    used = sum(width(i) for i in items)
    shape, out, dim = list(a.shape), [], 0
    for item in items:
        if item is Ellipsis:
            dim += max(a.ndim - used, 0)
            out.append(item)
        elif isinstance(item, bool):
            shape.insert(dim, 1)
            out.append(Tensor._wrap(np.arange(1 if item else 0, dtype=np.int64)))
            dim += 1
        else:
            dim += width(item)
            out.append(item)
    return reshape_to(a, tuple(shape)), tuple(out)


def _plain_item(item):
    """An int (not a bool) or a slice of step 1: an index item with nothing to convert or
    check before numpy reads it."""
    kind = type(item)
    return kind is int or kind is slice and item.step is None


def getitem(a, index):
    kind = type(index)
    if kind is int or kind is slice and index.step is None:
        # x[0], x[1:3]: the common reads, without the general path's conversions (which
        # would leave them as they are)
        idx, node = (index,), Select if kind is int else Slice
    elif kind is tuple and all(map(_plain_item, index)):
        idx = index                       # x[:, 1:3], x[0, 2]
        node = _basic_node(idx, a._array.shape)
    else:
        return _getitem(a, index)
    try:
        return node.apply(a, index=idx, basic=True)
    except (IndexError, OverflowError) as exc:
        _refuse_long_ints(idx)
        raise IndexError(_index_message(exc, a, idx, index)) from None


def _getitem(a, index):
    """``getitem`` for any index: bools, index tensors, masks, lists, None, ..."""
    index = one_ellipsis(index, a.ndim)
    _check_index_count(a, index)
    rewritten = _bools_as_arrays(a, index)
    if rewritten is not None:
        return getitem(*rewritten)
    idx, basic, _ = _array_index(index, a)
    if not basic:
        _check_masks(idx, a)
    if not basic and any(_is_int(i) for i in idx):
        first, second = _ints_first(idx)
        return getitem(getitem(a, first), second)
    try:
        if basic:
            node = _basic_node(index if not isinstance(index, (tuple, list)) else idx,
                               a._array.shape)
            return node.apply(a, index=idx, basic=True)
        out = Index.apply(a, index=idx, basic=_picks_each_once(idx))
    except IndexError as exc:
        out = None if basic else _empty_pick(a, idx)
        if out is None:
            raise IndexError(_index_message(exc, a, idx, index)) from None
    # as PyTorch's index node: the index tensors (not 0-d ones, which select) are kept
    given = index if isinstance(index, tuple) else (index,)
    return keep_for_backward(out, *(i for i in given if isinstance(i, Tensor) and i.ndim))


def _empty_pick(a, idx):
    """``a[idx]`` when it holds no element although an index array is out of range: PyTorch's
    kernel then runs over nothing and checks no index (a (2, 0, 3) tensor indexed by [5] is
    empty, of shape (1, 0, 3)); None when the result would hold elements."""
    xp = backend.xp_of(a._array)
    zeroed = tuple(xp.zeros_like(i) if getattr(i, "dtype", None) is not None and
                   i.dtype.kind in "iu" else i for i in idx)
    try:
        out = Index.apply(a, index=zeroed, basic=False)
    except IndexError:
        return None
    return out if out._array.size == 0 else None


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
    idx, basic, _ = _array_index(index, a)
    if not basic:
        _check_masks(idx, a)
    if (not isinstance(value, Tensor) or value._array.size == 1) and _lone_byte_mask(index):
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
    if value._array.dtype.kind == "c" and a._array.dtype.kind != "c":
        value = written_as_real(value, a._array.dtype.kind, 4)  # as PyTorch's copy
    value = cast(value, a._array.dtype)
    lead = 0
    while lead < value.ndim and value.shape[lead] == 1:
        lead += 1
    if lead:        # as PyTorch: the value's leading size-1 dimensions are dropped (x[0] = [[5]])
        value = reshape_to(value, tuple(value.shape[lead:]))
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
            if not target.flags.writeable:
                refuse_write(target)
            if value.device != a.device:
                raise RuntimeError(f"Expected all tensors to be on the same device, but found at "
                                   f"least two devices, {a.device} and {value.device}!")
            target[idx] = value._array            # nothing to record: write straight through
            a._vcounter.value += 1
            return a
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
        raise IndexError(_index_message(exc, a, idx, index)) from None
    except ValueError:
        if not basic:       # an index into a dim of size 0 is refused first, as PyTorch
            try:
                a._array[idx]
            except IndexError as exc:
                words = _index_message(exc, a, idx, index)
                if "with size 0" in words:
                    raise IndexError(words) from None
        raise _shape_refusal(a, index, idx, value, basic) from None
    except TypeError as exc:
        # numpy's own refusal of a 2-d or deeper value written through a mask
        if "boolean array indexing assignment" not in str(exc):
            raise
        raise _shape_refusal(a, index, idx, value, basic) from None


