"""Raw-geometry views and copies with PyTorch's names: ``as_strided`` and ``narrow_copy``.

as_strided(input, size, stride, storage_offset): a view whose element [i0, i1, ...] is the
memory element storage_offset + sum_k i_k * stride[k] (in elements) of the memory ``input``
lives in (its base's when ``input`` is a view; that memory must be contiguous).  Elements may
repeat, so the backward adds every output gradient into the memory position it was read from
(a scatter-add into a buffer of the memory's size) and gathers input's own positions from it.
narrow_copy(input, dim, start, length): narrow's elements in a new tensor.
"""
from __future__ import annotations

import numbers

from .. import _memory_format as mf, backend
from ..autograd import Function
from .._argument_error import argument_error
from .._tensor_copies import lies_in
from ..tensor import Tensor
from ._narrow_args import narrow_arguments
from ._util import int_arg
from .indexing import GetItem, IndexScatter
from .elementwise import mul
from .movement_copies import clone
from .stacking import narrow

__all__ = ["as_strided", "narrow_copy"]


def _memory_of(input):
    """The tensor owning ``input``'s memory (its base, or itself), which must be dense: no
    gaps and no negative strides, in any order of dims (``x.t() * 1.0`` is column-major)."""
    base = input._base
    if base is None or base is input or not lies_in(input._array, base._array):
        base = input
    if _in_memory_order(base._array) is None:
        raise NotImplementedError("as_strided: minigrad supports tensors whose memory is "
                                  "dense only; call .contiguous() first")
    return base


def _in_memory_order(a):
    """``a``'s elements in the order they lie in memory, as a 1-d view; None when ``a`` has
    gaps or negative strides (its memory is then no array of its own)."""
    if a.flags.c_contiguous:
        return a.reshape(-1)
    # the dims from the largest stride down: a dense array is then C-contiguous
    order = sorted(range(a.ndim), key=lambda k: (-a.strides[k], k))
    t = a.transpose(order)
    return t.reshape(-1) if t.flags.c_contiguous else None


def _positions(xp, offset, size, stride):
    """An int64 array shaped ``size``: offset + sum_k i_k * stride[k] at index (i0, i1, ...)."""
    pos = xp.asarray(offset, dtype=xp.int64)
    for axis, (n, s) in enumerate(zip(size, stride)):
        shape = [1] * len(size)
        shape[axis] = n
        pos = pos + (xp.arange(n, dtype=xp.int64) * s).reshape(shape)
    return xp.broadcast_to(pos, tuple(size)).copy()


def _own_positions(input, memory):
    """Where each of ``input``'s elements sits in ``memory`` (C order), shaped like input."""
    a = input._array
    item = a.itemsize
    offset = (backend.data_address(input._array) - backend.data_address(memory._array)) // item
    return _positions(backend.xp_of(a), offset, a.shape, [s // item for s in a.strides])


class AsStrided(Function):
    """out = memory[positions] for the flat ``memory`` (a view: numpy's as_strided).
    Backward: scatter-add g into zeros of the memory's size, then read input's positions."""
    returns_view = True

    def forward(self, a, *, memory, size, stride, offset, own):
        xp = backend.xp_of(a)
        flat = _in_memory_order(memory)
        self.own, self.numel = own, flat.size
        self.index = _positions(xp, offset, size, stride)
        item = flat.itemsize
        start = flat[offset:] if offset < flat.size else flat[flat.size:]
        return xp.lib.stride_tricks.as_strided(start, shape=tuple(size),
                                               strides=tuple(s * item for s in stride))

    def backward(self, g):
        buffer = IndexScatter.apply(g, shape=(self.numel,), index=(self.index,), basic=False)
        xp = backend.xp_of(g._array)
        counts = xp.bincount(self.own.reshape(-1), minlength=self.numel)
        if counts.size and int(counts.max()) > 1:
            # input's elements share memory (an expanded input): as PyTorch, each memory
            # position's gradient is split evenly among the input elements that read it
            share = 1.0 / xp.maximum(counts, 1)
            buffer = mul(buffer, Tensor._wrap(share.astype(g._array.dtype)))
        return GetItem.apply(buffer, index=(self.own,), basic=False)


def _int_list(values, name):
    """``values`` (an int, or a sequence of ints or one-element integer tensors) as a list of
    ints; else the parser's TypeError, worded for the function (size 2nd, stride 3rd), which
    a method's wrapper restates (``_argument_words.worded``)."""
    if isinstance(values, numbers.Integral) and not isinstance(values, bool):
        values = (values,)
    position = 2 if name == "size" else 3
    if not isinstance(values, (tuple, list)):       # (a Tensor, an array, a range: refused)
        raise argument_error("as_strided", name, "tuple of ints", values, position)
    out = []
    for i, v in enumerate(values):
        if isinstance(v, Tensor):
            v = v.item()
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) and not i:
            # (PyTorch's parser: the first element picks the overload, the others unpack,
            # a bool among them as an int)
            raise argument_error("as_strided", name, "tuple of ints", values, position, (i, v))
        out.append(int(v))
    return out


def strided_geometry(size, stride):
    """as_strided's ``size`` and ``stride`` as lists of ints, checked as PyTorch does."""
    size, stride = _int_list(size, "size"), _int_list(stride, "stride")
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"as_strided: Negative strides are not supported at the moment, got "
                           f"strides: {stride}")
    if any(n < 0 for n in size) and 0 not in size:
        raise RuntimeError(f"Storage size calculation overflowed with sizes={size} and "
                           f"strides={stride}")
    if any(n < 0 for n in size):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(size)}: "
                           f"{size}")
    return size, stride


def check_in_storage(size, stride, storage_offset, available, item):
    """PyTorch's refusal of a strided view reaching past a storage of ``available`` elements
    of ``item`` bytes each (or starting before it)."""
    if storage_offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {storage_offset}")
    needed = 0 if 0 in size else storage_offset + 1 + sum((n - 1) * s
                                                          for n, s in zip(size, stride))
    if needed > available:
        raise RuntimeError(f"setStorage: sizes {size}, strides {stride}, storage offset "
                           f"{storage_offset}, and itemsize {item} requiring a storage size of "
                           f"{needed * item} are out of bounds for storage of size "
                           f"{available * item}")


def as_strided(input, size, stride, storage_offset=None):
    """A view of ``input``'s memory with the given ``size``, ``stride`` (in elements) and
    ``storage_offset`` (default: where input starts); see the module docstring."""
    size, stride = strided_geometry(size, stride)
    memory = _memory_of(input)
    item = input._array.itemsize
    if storage_offset is None:
        storage_offset = (backend.data_address(input._array)
                          - backend.data_address(memory._array)) // item
    storage_offset = int_arg("as_strided", "storage_offset", storage_offset, 4)
    check_in_storage(size, stride, storage_offset, memory._array.size, item)
    return AsStrided.apply(input, memory=memory._array, size=size, stride=stride,
                           offset=storage_offset, own=_own_positions(input, memory))


def narrow_copy(input, dim, start, length):
    """A new tensor holding input's elements start..start+length-1 along ``dim`` (narrow's
    checks, but its own words for a negative length or a dim past the end, and negative
    ``start``); gradients flow back to those elements."""
    # a new row-major tensor, whatever input's layout, as PyTorch's
    return clone(narrow(input, *narrow_arguments("narrow_copy", input, dim, start, length)),
                 memory_format=mf.contiguous_format)

