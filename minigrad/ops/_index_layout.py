"""The memory layout PyTorch gives the result of an index read ``a[index]``: the order of its
dims in memory (``_iteration_order``, from the steps of the operands PyTorch's index kernel
iterates over), the result laid out in it (``_laid_out``), row-major strides for size-1 dims
(``_row_major_strides``) and the stride of a dim a None adds (``_new_dim_strides``).  On
numpy arrays, for ``index_read.py``'s nodes.
"""
from __future__ import annotations

import numpy as np

from .. import _memory_format as mf, backend
from ._util import row_major_view


def _row_major_strides(out):
    """A C-contiguous ``out`` with PyTorch's strides for its size-1 dims too (an empty one
    as numpy made it)."""
    return out if out.size == 0 else row_major_view(out)


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
