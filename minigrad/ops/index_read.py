"""Reading by index: ``x[i, 1:3, None, mask, idx]`` (``getitem``), with PyTorch's rules.

Reading picks elements (a view for ints, slices, None and ...; a copy for index tensors and
masks), as a node named as PyTorch's (``Select``, ``Slice``, ``Unsqueeze``, ``Alias``,
``Index``) and laid out as PyTorch's (``_index_layout.py``); its backward (``IndexScatter``)
scatters the gradient back to the picked positions, adding where an index repeats.  Writing
(``x[index] = v``) is ``indexing.py``'s, which re-exports all of this.
"""
from __future__ import annotations

import numbers

import numpy as np

from .._warn_once import warn_user
from .. import backend
from .._type_names import python_type_name
from ..autograd import Function
from ..autograd.function import keep_for_backward
from ..tensor import Tensor
from ._ellipses import one_ellipsis
from ._index_words import (_check_index_count, _check_masks, _index_items, _index_message, _is_int,
                           _refuse_long_ints)
from ._scatter_add_kernels import index_add_fits, index_add_slices, scatter_add_array
from .plumbing import reshape_to
from ._index_walk import walk
from ._index_layout import _iteration_order, _laid_out, _new_dim_strides, _row_major_strides


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
    # alone into the input's gradient (``autograd/_grad_sums._Piece``) instead of running
    # this backward
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
    numpy's unbuffered ``add.at`` took 5 ms for 512 rows of 1024.  The slices sum in index
    order in their dtype, as PyTorch's accumulating index_put (``index_add_slices``); the
    bincount's in float64, rounded once.  None for any other index (``add.at`` then)."""
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
        return index_add_slices(src, flat, d, shape[d], in_order=True)
    view = [1] * src.ndim
    view[d] = flat.size
    return scatter_add_array(tuple(shape), d, flat.reshape(view), src)


def _picks_each_once(index):
    """True when ``a[index]`` reads no element twice: no integer index arrays (slices, ints,
    None, ... and boolean masks never repeat an element)."""
    return all(getattr(i, "dtype", None) is None or i.dtype.kind == "b" for i in index)


# a 0-d tensor's refusal of an index item that is no integer, slice, None or Ellipsis
_ZERO_DIM_TOO_MANY = "too many indices for tensor of dimension 0"


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
                warn_user("indexing with dtype minigrad.uint8 is now deprecated, please use "
                          "a dtype minigrad.bool instead.", UserWarning)
                item = item != 0
            basic = False
        elif isinstance(item, (list, tuple, range)):  # a sequence inside the index: an array
            array = backend.xp_of(a._array).asarray(item)
            if array.size == 0:
                array = array.astype(np.int64)    # x[[]] selects nothing (numpy: float64)
            elif array.dtype.kind in "fc":        # PyTorch reads each number as an integer
                _refuse_non_integral(item)
                array = _truncated(array)
            item, basic = array, False
        elif isinstance(item, np.integer):
            item = int(item)                      # a numpy integer is an integer, not an array
        elif type(item) is int:
            _refuse_long_ints((item,))
        elif isinstance(item, (np.floating, np.complexfloating)) and a.ndim == 0:
            raise IndexError(_ZERO_DIM_TOO_MANY)      # (PyTorch counts first for a 0-d tensor)
        elif isinstance(item, (np.bool_, np.floating, np.complexfloating)):
            raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or "
                             f"byte Variables are valid indices (got {python_type_name(item)})")
        elif hasattr(item, "shape") and hasattr(item, "dtype"):
            if type(item) is np.ndarray and item.dtype.kind == "f":
                # PyTorch reads a float array's numbers as integers, as a list's (a 0-d one
                # selects, as an int)
                item = _truncated(item)
                item = int(item) if item.ndim == 0 else item
            if hasattr(item, "shape"):
                basic = False
        elif not (item is None or item is Ellipsis or isinstance(item, (slice, numbers.Integral))):
            if a.ndim == 0:
                raise IndexError(_ZERO_DIM_TOO_MANY)
            raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or "
                             f"byte Variables are valid indices (got {type(item).__name__})")
        if isinstance(item, slice) and item.step is not None and item.step <= 0:
            raise ValueError("slice step cannot be zero" if item.step == 0 else
                             "step must be greater than zero")
        out.append(item)
    bool_mask = not basic and all(getattr(i, "dtype", None) is not None and i.dtype.kind == "b"
                                  for i in out if hasattr(i, "dtype"))
    return tuple(out), basic, bool_mask


def _refuse_non_integral(seq):
    """PyTorch's TypeError for a number in the sequence index ``seq`` (nested lists and tuples)
    that is neither an integer nor a Python float (a complex, a numpy float32): it reads each
    through the integer protocol. Python floats (numpy's float64 among them) it truncates."""
    stack = [seq]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        elif not isinstance(item, (numbers.Integral, np.integer, np.bool_, float)):
            raise TypeError(f"'{python_type_name(item)}' object cannot be interpreted as an "
                            f"integer")


def _truncated(array):
    """A floating index array as int64, each number truncated towards 0 (1.5 is 1, -0.5 is
    0), as PyTorch converts one; NaN, infinities and numbers beyond int64 refused in its
    words."""
    xp = backend.xp_of(array)
    if not bool(xp.all(xp.abs(array) < 2.0 ** 63)):
        raise RuntimeError("value cannot be converted to type int64 without overflow")
    return array.astype(np.int64)


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
    index = walk(a, index)          # (PyTorch's item-by-item checks, in its order)
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
            raise IndexError(_index_message(exc, a, idx, index, not basic)) from None
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
