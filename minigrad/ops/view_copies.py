"""View ops as copies, and writes into a view as out-of-place ops.

* The ``*_copy`` family (``t_copy``, ``diagonal_copy``, ``slice_copy``...): the elements of
  the named view in a fresh, contiguous tensor that shares no memory with its input.  Each is
  the view followed by a contiguous clone, so its gradient is the view's.
* The ``*_scatter`` family (``diagonal_scatter``, ``select_scatter``, ``slice_scatter``,
  ``as_strided_scatter``): ``out = input.clone(); view_of(out)[...] = src``, without touching
  ``input``.  The view's positions inside input (flat C-order indices, found by applying the
  view op to ``arange(numel)``) drive ``ViewScatter``: out gets src at those positions and
  input elsewhere.  Its backward is ``g`` with zeros at the positions for input and ``g`` read
  at the positions for src, both differentiable again.
* ``constant_pad_nd``: ``pad`` with a constant where a negative width crops instead.
* ``split_with_sizes`` and the ``unsafe_*`` splits: PyTorch's other spellings of ``split`` and
  ``chunk`` (the "unsafe" ones only skip PyTorch's view tracking; here they are the same).
"""
from __future__ import annotations

import numbers

from .. import backend
from .. import _memory_format as mf
from .._checked_view import uncheck
from .._out_writes import _expected_out, _write_values
from ..autograd import is_grad_enabled, no_grad
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._int_lists import int_like
from ._util import NO_DIM, argument_error, int_arg, normalize_dim, scalar_type_name
from .elementwise import cast
from .indexing import getitem
from .movement_copies import pad as pad_constant
from .movement import expand, permute, reshape, squeeze, t, transpose, unsqueeze, view
from .movement_copies import clone
from .stacking import chunk, narrow, select, split, unbind, unbind_dim
from .shaping import diagonal, unfold
from .strided import as_strided, check_in_storage, strided_geometry
from .writes import ViewScatter

__all__ = ["alias_copy", "as_strided_copy", "detach_copy", "diagonal_copy", "expand_copy",
           "permute_copy", "select_copy", "slice_copy", "split_copy", "split_with_sizes_copy",
           "squeeze_copy", "t_copy", "transpose_copy", "unbind_copy", "unfold_copy",
           "unsqueeze_copy", "view_copy", "split_with_sizes", "unsafe_chunk", "unsafe_split",
           "unsafe_split_with_sizes", "diagonal_scatter", "select_scatter", "slice_scatter",
           "as_strided_scatter", "slice_view", "constant_pad_nd"]


def _fresh(view_result):
    """A contiguous copy of a view (its gradient flows back through the view)."""
    return clone(view_result, memory_format=mf.contiguous_format)


# ----------------------------------------------------------------------------------------------
# split spellings
# ----------------------------------------------------------------------------------------------
def split_with_sizes(input, split_sizes, dim=0):
    """Pieces of ``input`` along ``dim`` with the listed sizes (which must add up to its
    size there): views, as a tuple."""
    if isinstance(split_sizes, numbers.Integral) or isinstance(split_sizes, Tensor):
        raise TypeError(f"split_with_sizes(): argument 'split_sizes' (position 2) must be tuple "
                        f"of ints, not {type(split_sizes).__name__}")
    return split(input, [int(s) for s in split_sizes], dim)


def unsafe_split(input, split_size, dim=0):
    """``split`` (PyTorch's version skips view tracking; the pieces are the same, and may be
    written in place).  Unlike split (Python code there), an op of PyTorch's parser: one int
    size, no list, an int dim."""
    split_size = int_arg("unsafe_split", "split_size", split_size, 2)
    dim = int_arg("unsafe_split", "dim", dim, 3)
    return _untracked(split(input, split_size, dim), input, "UnsafeSplitBackward0")


def unsafe_split_with_sizes(input, split_sizes, dim=0):
    """``split_with_sizes`` (see ``unsafe_split``)."""
    split_sizes = _int_list("unsafe_split_with_sizes", "split_sizes", split_sizes, 2)
    dim = int_arg("unsafe_split_with_sizes", "dim", dim, 3)
    return _untracked(split_with_sizes(input, split_sizes, dim), input,
                      "UnsafeSplitWithSizesBackward0")


def unsafe_chunk(input, chunks, dim=0):
    """``chunk`` (see ``unsafe_split``)."""
    chunks = int_arg("unsafe_chunk", "chunks", chunks, 2)
    dim = int_arg("unsafe_chunk", "dim", dim, 3)
    return _untracked(chunk(input, chunks, dim), input, "UnsafeSplitBackward0")


def _int_list(op, arg, value, position):
    """``value`` read as PyTorch's parser reads a list of ints (its first element no bool),
    or its TypeError naming ``arg`` of ``op``."""
    if not isinstance(value, (tuple, list)):
        raise argument_error(op, arg, "tuple of ints", value, position)
    for i, v in enumerate(value):
        if not int_like(v, i == 0):
            raise argument_error(op, arg, "tuple of ints", value, position, found=(i, v))
    return [int(v) for v in value]


def _untracked(pieces, input, node_name):
    """``pieces`` without the mark that refuses an in-place write (ops/writes.py), their
    nodes under PyTorch's ``node_name`` (a piece that is ``input`` itself left alone)."""
    for p in pieces:
        p.__dict__.pop("_view_meta", None)
        uncheck(p)
        if p.grad_fn is not None and p.grad_fn is not input.grad_fn:
            rename_node(p, node_name)
    return pieces


# ----------------------------------------------------------------------------------------------
# slice: PyTorch's aten::slice, input[start:end:step] along one dim
# ----------------------------------------------------------------------------------------------
def _slice_index(input, dim, start, end, step, name):
    if input.ndim == 0:
        raise IndexError(f"{name}() cannot be applied to a 0-dim tensor.")
    if step is None:
        step = 1
    if int(step) <= 0:
        raise RuntimeError("slice step must be positive")
    d = normalize_dim(dim, input.ndim)
    as_int = (lambda v: None if v is None else int(v))
    return d, (slice(None),) * d + (slice(as_int(start), as_int(end), int(step)),)


def slice_view(input, dim=0, start=None, end=None, step=1):
    """input[..., start:end:step, ...] along ``dim``: a view (bounds clamped as Python's)."""
    _, index = _slice_index(input, dim, start, end, step, "slice")
    return getitem(input, index)


# ----------------------------------------------------------------------------------------------
# the *_copy family: view, then a contiguous clone
# ----------------------------------------------------------------------------------------------
def alias_copy(input):
    """A copy of ``input`` (the copy of ``alias``, a view of the whole tensor)."""
    return _fresh(input)


def as_strided_copy(input, size, stride, storage_offset=None):
    return _fresh(as_strided(input, size, stride, storage_offset))


def detach_copy(input):
    """A copy of ``input``'s values, out of the graph."""
    with no_grad():
        return _fresh(input.detach())


def diagonal_copy(input, offset=0, dim1=0, dim2=1):
    return _fresh(diagonal(input, offset, dim1, dim2))


def expand_copy(input, size, *, implicit=False):
    return _fresh(expand(input, size))


def permute_copy(input, dims):
    return _fresh(permute(input, dims))


def select_copy(input, dim, index):
    return _fresh(select(input, dim, index))


def slice_copy(input, dim=0, start=None, end=None, step=1):
    return _fresh(slice_view(input, dim, start, end, step))


def split_copy(input, split_size, dim=0, *, out=None):
    pieces = tuple(_fresh(p) for p in split(input, split_size, dim))
    return pieces if out is None else _into_list(out, pieces, "split_copy_Tensor_out()", True)


def split_with_sizes_copy(input, split_sizes, dim=0, *, out=None):
    pieces = tuple(_fresh(p) for p in split_with_sizes(input, split_sizes, dim))
    return pieces if out is None else _into_list(out, pieces, "split_with_sizes_copy_out")


def squeeze_copy(input, dim=NO_DIM):
    return _fresh(squeeze(input, dim))


def t_copy(input):
    return _fresh(t(input))


def transpose_copy(input, dim0, dim1):
    return _fresh(transpose(input, dim0, dim1))


def unbind_copy(input, dim=0, *, out=None):
    pieces = tuple(_fresh(p) for p in unbind(input, unbind_dim("unbind_copy", input, dim)))
    return pieces if out is None else _into_list(out, pieces, "unbind_copy_int_out")


def _into_list(out, pieces, name, copied=False):
    """PyTorch's ``out=`` of the copies that return a list (split_copy,
    split_with_sizes_copy, unbind_copy): one out tensor per piece, each of the piece's dtype,
    resized (with torch's warning) where its shape differs; the call returns None.
    ``copied`` (split_copy's): each piece is ``copy_``-ed into its out instead, so cast to
    out's dtype and broadcast to out's shape."""
    if isinstance(out, Tensor) or not isinstance(out, (list, tuple)):
        raise TypeError(f"{name.split('_out')[0].rstrip('_')}(): argument 'out' must be tuple "
                        f"of Tensors, not {type(out).__name__}")
    if len(out) != len(pieces):
        raise RuntimeError(f"{name} expected an out= argument of size {len(pieces)}, got "
                           f"size {len(out)}")
    for o, p in zip(out, pieces):
        if not isinstance(o, Tensor):
            raise TypeError(f"expected Tensor as element of argument 'out', but got "
                            f"{type(o).__name__}")
        if o._array.dtype != p._array.dtype and not copied:
            raise RuntimeError(_expected_out(p._array.dtype, o._array.dtype))
    for o, p in zip(out, pieces):
        if copied:
            with no_grad():
                o.copy_(p)
        else:
            _write_values(o, p.detach(), name, name)
    return None


def unfold_copy(input, dimension, size, step):
    return _fresh(unfold(input, dimension, size, step))


def unsqueeze_copy(input, dim):
    return _fresh(unsqueeze(input, dim))


def view_copy(input, size):
    """``view`` (a shape, or a dtype to reinterpret the bytes as) into a fresh tensor.  As
    PyTorch's, a new shape works on any strides: the copy is what a view would read, so the
    elements come in the input's logical (row-major) order, as ``reshape`` gives them."""
    if isinstance(size, (tuple, list, numbers.Integral)) or isinstance(size, Tensor):
        return _fresh(reshape(input, size))
    return Tensor._wrap(view(input, size)._array.copy())


# ----------------------------------------------------------------------------------------------
# the *_scatter family: out-of-place writes into a view
# ----------------------------------------------------------------------------------------------
def _view_positions(input, make_view):
    """Where each element of ``make_view(input)`` sits in input (flat C-order positions), an
    int64 array shaped like the view."""
    xp = backend.xp_of(input._array)
    with no_grad():
        grid = Tensor._wrap(xp.arange(input._array.size, dtype=xp.int64).reshape(input.shape))
        return make_view(grid)._array


def _scatter_into_view(input, src, make_view, name):
    for what, value in (("input", input), ("src", src)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name}(): argument '{what}' must be Tensor, not "
                            f"{type(value).__name__}")
    positions = _view_positions(input, make_view)
    if tuple(src.shape) != tuple(positions.shape):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = "
                           f"{list(src.shape)}, slice size = {list(positions.shape)}")
    if src._requires_grad and is_grad_enabled() and input._array.dtype.kind not in "fcV":
        # the result takes input's dtype, which cannot carry the gradient src asks for
        raise RuntimeError(f"Autograd not support dtype: {scalar_type_name(input._array.dtype)}")
    if src._array.dtype != input._array.dtype:
        src = cast(src, input._array.dtype)
    if input.device != src.device:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least "
                           f"two devices, {input.device} and {src.device}!")
    return ViewScatter.apply(input, src, index=positions)


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """``input`` with its diagonal (``diagonal(input, offset, dim1, dim2)``) replaced by
    ``src`` (shaped like that diagonal); a new tensor."""
    return _scatter_into_view(input, src, lambda x: diagonal(x, offset, dim1, dim2),
                              "diagonal_scatter")


def select_scatter(input, src, dim, index):
    """``input`` with ``input.select(dim, index)`` replaced by ``src``; a new tensor."""
    return _scatter_into_view(input, src, lambda x: select(x, dim, index), "select_scatter")


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """``input`` with ``input[..., start:end:step, ...]`` (along ``dim``) replaced by ``src``;
    a new tensor."""
    return _scatter_into_view(input, src, lambda x: slice_view(x, dim, start, end, step),
                              "slice_scatter")


def _storage_order(input):
    """The C-order flat index of each of input's elements, listed in the order of the memory
    PyTorch's as_strided_scatter writes through: a copy keeping input's strides when input is
    dense (a transposed input is addressed column by column), a fresh dense copy ordered as
    its strides suggest when elements overlap (an expanded input).  (For a view with gaps,
    e.g. a strided slice, PyTorch copies the whole storage underneath and addresses that;
    minigrad addresses a dense copy instead.)  minigrad's negative strides stand for
    PyTorch's contiguous tensors: only their sizes count."""
    a = input._array
    xp = backend.xp_of(a)
    strides = tuple(abs(s) for s in mf.element_strides(a))
    if mf.is_non_overlapping_and_dense(a.shape, strides):
        order = sorted(range(a.ndim), key=lambda d: -strides[d])   # stable: ties keep order
    else:
        order = mf._inferred_order(a.shape, strides)
    return xp.arange(a.size, dtype=xp.int64).reshape(a.shape).transpose(order).reshape(-1)


def as_strided_scatter(input, src, size, stride, storage_offset=None):
    """``input`` with ``input.clone().as_strided(size, stride, storage_offset)`` replaced by
    ``src`` (positions counted in the memory of input's clone, which PyTorch lays out as input
    when input is dense: a transposed input is addressed column by column); a new tensor."""
    if isinstance(input, Tensor):      # the bounds of input's clone, in input's itemsize
        geometry = strided_geometry(size, stride)
        check_in_storage(*geometry, 0 if storage_offset is None else int(storage_offset),
                         input.numel(), input._array.itemsize)

    def make_view(grid):
        memory = Tensor._wrap(_storage_order(input))
        return as_strided(memory, size, stride, 0 if storage_offset is None else storage_offset)
    return _scatter_into_view(input, src, make_view, "as_strided_scatter")


# ----------------------------------------------------------------------------------------------
# constant_pad_nd
# ----------------------------------------------------------------------------------------------
def constant_pad_nd(input, pad, value=0):
    """``input`` padded with ``value``: ``pad`` lists (before, after) widths from the last dim
    backwards, as ``nn.functional.pad``; a negative width removes that many elements."""
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise RuntimeError(f"Length of pad must be even but instead it equals {len(pad)}")
    if len(pad) > 2 * input.ndim:
        raise RuntimeError(f"Length of pad should be no more than twice the number of "
                           f"dimensions of the input. Pad length is {len(pad)}while the input "
                           f"has {input.ndim}dimensions.")
    out = input
    for i in range(len(pad) // 2):
        d = input.ndim - 1 - i
        before, after = pad[2 * i], pad[2 * i + 1]
        start, stop = max(-before, 0), out.shape[d] - max(-after, 0)
        if start or stop != out.shape[d]:        # cropping: a narrow of what remains
            out = narrow(out, d, start, stop - start)
    positive = [max(p, 0) for p in pad]
    if any(positive):
        return pad_constant(out, positive, "constant", value)
    return clone(out, memory_format=mf.contiguous_format)
