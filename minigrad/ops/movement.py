"""Ops that move elements without copying them: reshapes and views (``reshape``, ``view``,
``flatten``, ``squeeze``...), axis reorders (``transpose``, ``permute``, ``t``, ``mT``) and
``expand``.

Their backward moves the gradient back the same way: reshape back, transpose back, sum the
expanded copies.  The copying ones (``repeat``, constant ``pad``, ``clone``, ``contiguous``,
``to_device``) live in ``movement_copies.py``; joining and splitting (``cat``, ``stack``,
``split``, ``narrow``, ``select``...) in ``stacking.py``, ``flip`` in ``sequence_more.py``,
indexing in ``indexing.py``.
"""
from __future__ import annotations

import numbers
import operator

import numpy as np

from .._warn_once import warn_user
from .. import backend, dtypes
from .._tiled_copy import contiguous_copy
from ..autograd._shown_edges import node_below
from ..autograd import Function
from ._int_list_args import int_list_argument
from .._tensor_input import _combination
from ._view_dtype import view_as_dtype
from ._util import (NO_DIM, argument_error, check_tensor, dim_like, normalize_dim,
                    python_type_name)
from ._view_strides import view_strides
from .plumbing import Expand, Reshape


class View(Reshape):
    """Like Reshape, but refuses (as PyTorch) when the result cannot share the input's memory,
    and lays the result out with PyTorch's strides (``view_strides``).
    Backward (inherited): reshape the gradient back."""

    def forward(self, a, *, shape):
        self.in_shape = a.shape
        if a.size and a.flags.c_contiguous and 1 not in a.shape:
            # row-major memory views as any shape of its size, and numpy's reshape gives it
            # PyTorch's strides (those of ``view_strides``): the common case, without its walk
            return a.reshape(shape)
        strides = view_strides(a.shape, a.strides if a.ndim else (a.itemsize,), shape)
        if strides is None:
            raise RuntimeError(
                "view size is not compatible with input tensor's size and stride (at least one "
                "dimension spans across two contiguous subspaces). Use .reshape(...) instead. "
                f"(input shape {list(a.shape)}, asked for {list(shape)})")
        if a.size == 0 and tuple(shape) != tuple(a.shape):
            return a.reshape(shape)          # no memory to share: numpy's own empty layout
        if a.flags.c_contiguous:        # numpy's reshape (a view, cheaper) when its strides agree
            r = a.reshape(shape)
            if r.strides == strides:
                return r
        return backend.xp_of(a).lib.stride_tricks.as_strided(a, shape, strides)


class Transpose(Function):
    """Permute the axes: out.shape[i] = a.shape[axes[i]] (a view).
    Backward: the inverse permutation."""
    returns_view = True
    # PyTorch's TransposeBackward0 shows the two swapped dims (non-negative here)
    saved_fields = {"dim0": lambda node: _swapped(node.axes)[0],
                    "dim1": lambda node: _swapped(node.axes)[1]}

    def forward(self, a, *, axes):
        self.axes = axes
        return a.transpose(axes)

    def backward(self, g):
        inverse = [0] * len(self.axes)
        for i, ax in enumerate(self.axes):
            inverse[ax] = i
        # t's backward is a t, permute's a permute (as PyTorch's nodes for create_graph)
        op = T if isinstance(self, T) else Permute if isinstance(self, Permute) else Transpose
        return op.apply(g, axes=tuple(inverse))


class Permute(Transpose):
    """``permute`` (and ``.T``): the same view, under PyTorch's name for its node."""
    _node_name = "PermuteBackward0"
    saved_fields = {"dims": "axes"}


class T(Transpose):
    """``t()`` of a matrix: the same view, under PyTorch's name for its node."""
    _node_name = "TBackward0"
    saved_fields = {}


def _swapped(axes):
    """(dim0, dim1): the two dims a transpose's permutation ``axes`` exchanges."""
    moved = [i for i, ax in enumerate(axes) if ax != i] or [0]
    return moved[0], moved[-1]


# ----------------------------------------------------------------------------------------------
# Tensor-level functions
# ----------------------------------------------------------------------------------------------
def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if all(type(s) is int for s in shape):      # plain ints, the usual case: nothing to check
        return tuple(shape)
    for pos, s in enumerate(shape):
        # int() would truncate 2.5 to 2 without a word; an integer tensor counts (its index);
        # PyTorch's int-list parser reads a bool after the first element as 0 or 1
        if (isinstance(s, bool) and pos == 0) or \
                not (isinstance(s, numbers.Integral) or hasattr(s, "__index__")):
            raise TypeError(f"expected a sequence of ints as the shape, but found element of "
                            f"type {type(s).__name__} ({s!r}) at pos {pos}")
    return tuple(operator.index(s) for s in shape)


def _infer_shape(numel, shape, in_shape):
    """Resolve one -1 in ``shape``; PyTorch's error when the sizes do not match."""
    known, inferred = 1, None
    for pos, s in enumerate(shape):               # PyTorch's checks, dim by dim
        if s == -1:
            if inferred is not None:
                raise RuntimeError("only one dimension can be inferred")
            inferred = pos
        elif s < 0:
            raise RuntimeError(f"invalid shape dimension {s} at index {pos} of shape "
                               f"{list(shape)}")
        else:
            known *= s
    if -1 in shape:
        if numel == 0 and known == 0:
            raise RuntimeError(f"cannot reshape tensor of 0 elements into shape {list(shape)} "
                               f"because the unspecified dimension size -1 can be any value and "
                               f"is ambiguous")
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel} "
                               f"(input shape {list(in_shape)})")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel} "
                           f"(input shape {list(in_shape)})")
    return shape


def reshape(a, *shape, **kwargs):
    shape = int_list_argument("reshape", "shape", shape, kwargs, empty=True)
    shape = _infer_shape(a._array.size, shape, a._array.shape)
    # a new view even for the same shape, as PyTorch: its own metadata (t_, resize_,
    # requires_grad_ on it leave ``a`` alone)
    return _reshape_node(a._array, shape).apply(a, shape=shape)


def _reshape_node(arr, shape):
    """The op recording ``reshape`` under PyTorch's node name, which says how it was done: a
    view of a contiguous tensor (ViewBackward0), a view of a strided one
    (ReshapeAliasBackward0), or a copy (UnsafeViewBackward0; PyTorch records the copy as a
    CloneBackward0 under it, a node minigrad does not make)."""
    if arr.flags.c_contiguous:
        return _RESHAPE_AS_VIEW
    if view_strides(arr.shape, arr.strides if arr.ndim else (arr.itemsize,), shape) is None:
        return _RESHAPE_COPIED
    return _RESHAPE_ALIAS


def _copied_reshape(self, a, *, shape):
    """Reshape's forward where no view can: a row-major copy (the tiled one where numpy's
    walk is slow), then reshaped, as numpy's own reshape copies."""
    self.in_shape = a.shape
    if type(a) is np.ndarray:
        return contiguous_copy(a).reshape(shape)
    return a.reshape(shape)


_RESHAPE_AS_VIEW = Reshape.renamed("ViewBackward0")
_RESHAPE_ALIAS = Reshape.renamed("ReshapeAliasBackward0")
# a copy: PyTorch's UnsafeViewBackward0 over the CloneBackward0 of its copy, shown (and made)
# when the graph is read (other ops renamed UnsafeViewBackward0 keep Reshape.renamed's class)
_RESHAPE_COPIED = type("Reshape", (Reshape,), {
    "__module__": __name__, "__slots__": (), "_node_name": "UnsafeViewBackward0",
    "_renamed_from": Reshape, "next_functions": node_below("CloneBackward0"),
    "forward": _copied_reshape})


# PyTorch's two signatures of Tensor.view, listed when a call fits neither
_VIEW_SIGNATURES = ("torch.dtype dtype", "tuple of ints size")
_PYTHON_DTYPES = (bool, int, float, complex)


def _dtype_like(value):
    return isinstance(value, dtypes.DType) or (isinstance(value, type) and
                                               value in _PYTHON_DTYPES)


def view(a, *shape, **kwargs):
    """``a.view(*size)``, ``a.view(size)`` or ``a.view(dtype)``; a call that fits neither of
    PyTorch's signatures is refused with both listed."""
    if len(shape) == 1 and not kwargs and _dtype_like(shape[0]):
        return view_as_dtype(a, shape[0])
    if not shape and "dtype" in kwargs and len(kwargs) == 1 and _dtype_like(kwargs["dtype"]):
        return view_as_dtype(a, kwargs["dtype"])
    try:
        shape = int_list_argument("view", "size", shape, kwargs, empty=True)
    except TypeError as exc:
        if "failed to unpack" in str(exc):          # the size signature matched
            raise
        raise _combination("view", shape, kwargs, _VIEW_SIGNATURES) from None
    return View.apply(a, shape=_infer_shape(a._array.size, shape, a._array.shape))


def flatten(a, start_dim=0, end_dim=-1):
    if check_tensor("flatten", a).ndim == 0:
        normalize_dim(start_dim, 0, arg="start_dim")           # 0 or -1, else IndexError
        normalize_dim(end_dim, 0, arg="end_dim")
        return reshape(a, 1)
    start = normalize_dim(start_dim, a.ndim, arg="start_dim")
    end = normalize_dim(end_dim, a.ndim, arg="end_dim")
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim "
                           f"(start_dim={start_dim}, end_dim={end_dim})")
    if start == end:            # nothing to merge: the tensor itself, as PyTorch
        return a
    shape = a.shape
    n = 1
    for s in shape[start:end + 1]:
        n *= s
    return reshape(a, tuple(shape[:start]) + (n,) + tuple(shape[end + 1:]))


def unflatten(a, dim, sizes):
    """Split axis ``dim`` into ``sizes`` (one of them may be -1), which must multiply up to
    that axis's size -- checked on the axis itself, not on the whole tensor (an empty tensor
    would take any sizes)."""
    return _unflatten(a, dim, sizes, 3)


def unflatten_method(self, dim, sizes):
    """``Tensor.unflatten``: as ``unflatten``, but None reads as no sizes (refused as empty),
    and the messages count sizes as argument 2, as PyTorch's method does."""
    return _unflatten(self, dim, () if sizes is None else sizes, 2)


def _unflatten(a, dim, sizes, position):
    check_tensor("unflatten", a)
    if not dim_like(dim):                         # the parser's first refusal
        raise argument_error("unflatten", "dim", "int", dim, position - 1)
    if not isinstance(sizes, (tuple, list)):     # one int is no list of sizes to PyTorch
        raise TypeError(f"unflatten(): argument 'sizes' (position {position}) must be tuple of "
                        f"ints, not {python_type_name(sizes)}")
    for i, s in enumerate(sizes):
        if not hasattr(s, "__index__"):          # a float size is refused by the parser
            raise argument_error("unflatten", "sizes", "tuple of ints", sizes, position,
                                 found=(i, s))
    if not sizes:                                # checked before dim is read, as PyTorch
        raise RuntimeError("unflatten: sizes must be non-empty")
    d = normalize_dim(dim, a.ndim)
    if a.ndim == 0:                              # a 0-d tensor has no dim 0 (or -1) to split
        raise RuntimeError(f"unflatten got an unexpected error:\nDimension specified as {d} "
                           f"but tensor has no dimensions")
    sizes, n = _shape_arg((sizes,)), a.shape[d]
    if sizes.count(-1) > 1:
        raise RuntimeError("unflatten got an unexpected error: only one dimension can be "
                           "inferred")
    known = 1
    for s in sizes:
        known *= s if s != -1 else 1
    if -1 in sizes and known == 0 and n == 0:
        raise RuntimeError(f"unflatten got an unexpected error: cannot reshape tensor of 0 "
                           f"elements into shape {list(sizes)} because the unspecified "
                           f"dimension size -1 can be any value and is ambiguous")
    if (n % known if -1 in sizes and known else known != n):
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {d} ({n}) in the input tensor")
    sizes = tuple(n // known if s == -1 else s for s in sizes)
    return reshape(a, tuple(a.shape[:d]) + sizes + tuple(a.shape[d + 1:]))


def squeeze(a, dim=NO_DIM):
    if check_tensor("squeeze", a) is not None and dim is NO_DIM:
        shape, drop = tuple(s for s in a.shape if s != 1), ()   # (no size-1 dim kept)
    elif dim is None:           # (the wrappers word it for the call: several signatures fit)
        raise argument_error("squeeze", "dim", "int", dim)
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        axes = [normalize_dim(d, a.ndim) for d in dims]     # a 0-d tensor takes 0 and -1
        for i, ax in enumerate(axes):
            if ax in axes[:i]:
                raise RuntimeError(f"dim {ax} appears multiple times in the list of dims")
        shape = tuple(s for i, s in enumerate(a.shape) if not (i in axes and s == 1))
        drop = axes if 1 in shape else ()           # (only a kept size-1 dim may differ)
    # PyTorch's node names: SqueezeBackward0 for all dims, 1 for one dim, 2 for a tuple
    node = 0 if dim is NO_DIM else 2 if isinstance(dim, (tuple, list)) else 1
    return _SQUEEZE_NODES[node].apply(a, shape=shape, drop=drop)


class Squeeze(Reshape):
    """Size-1 dims at ``drop`` removed: a view whose other dims keep their strides, as
    PyTorch's do (numpy's reshape may give a kept size-1 dim another step)."""

    def forward(self, a, *, shape, drop=()):
        self.in_shape = a.shape
        out = a.reshape(shape)
        if drop and 1 in shape and type(out) is np.ndarray:
            steps = tuple(st for i, (n, st) in enumerate(zip(a.shape, a.strides))
                          if n != 1 or i not in drop)
            if steps != out.strides:
                out = backend.strided_view(a, shape, steps)
        return out


_SQUEEZE_NODES = [Squeeze.renamed(f"SqueezeBackward{i}") for i in range(3)]


def unsqueeze(a, dim):
    d = normalize_dim(dim, check_tensor("unsqueeze", a).ndim + 1)
    shape = list(a.shape)
    shape.insert(d, 1)
    return Unsqueeze.apply(a, shape=tuple(shape), dim=d)


class Unsqueeze(Reshape):
    """A new size-1 dim at ``dim``: a view whose new dim has PyTorch's stride, the size
    times the stride of the dim it lands before (1 element at the end); numpy's reshape of a
    strided array puts another step there."""
    _node_name = "UnsqueezeBackward0"

    def forward(self, a, *, shape, dim):
        self.in_shape = a.shape
        return unsqueezed_array(a, dim)


def unsqueezed_array(a, dim):
    """The array ``a`` with a size-1 dim at ``dim`` (in range(a.ndim + 1)), a view with
    PyTorch's stride there: the size times the stride of the dim it lands before, one
    element at the end."""
    steps = list(a.strides)
    steps.insert(dim, a.shape[dim] * a.strides[dim] if dim < a.ndim else a.itemsize)
    shape = list(a.shape)
    shape.insert(dim, 1)
    return backend.strided_view(a, tuple(shape), tuple(steps))


def transpose(a, dim0, dim1):
    d0 = normalize_dim(dim0, check_tensor("transpose", a).ndim, arg="dim0")
    d1 = normalize_dim(dim1, a.ndim, arg="dim1")
    axes = list(range(a.ndim))      # (a 0-d tensor: a new view of it, as PyTorch's)
    if axes:
        axes[d0], axes[d1] = axes[d1], axes[d0]
    return Transpose.apply(a, axes=tuple(axes))


def mT(a):
    """The last two dimensions swapped (``Tensor.mT``); the identity on a 0-d tensor."""
    if a.ndim == 0:
        warn_user("Tensor.mT is deprecated on 0-D tensors. This function is the identity in "
                  "these cases.", UserWarning)
        return a
    if a.ndim == 1:
        raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. "
                           "Got 1-D tensor.")
    return transpose(a, -2, -1)


def permute(a, *dims, **kwargs):
    if not dims and not kwargs:           # even a 0-d tensor needs its (empty) dims spelled out
        raise TypeError('permute() missing 1 required positional arguments: "dims"')
    dims = int_list_argument("permute", "dims", dims, kwargs)
    if len(dims) != a.ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {a.ndim} is not equal to len(dims) = {len(dims)}")
    axes = []
    for d in dims:          # each dim wrapped, then checked against those before it, in order
        axes.append(normalize_dim(d, a.ndim))
        if axes[-1] in axes[:-1]:
            raise RuntimeError(f"permute(): duplicate dims are not allowed. (got {list(dims)})")
    return Permute.apply(a, axes=tuple(axes))


def t(a):
    if a.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {a.ndim}D")
    # a 0-d or 1-d tensor is also a new view (same data) with its own TBackward0 node
    return T.apply(a, axes=tuple(range(a.ndim))[::-1])


def expand(a, *shape, **kwargs):
    if "implicit" in kwargs:                 # (PyTorch's flag for its own broadcasts)
        implicit = kwargs.pop("implicit")
        if type(implicit) is not bool:
            raise TypeError(f"expand(): argument 'implicit' must be bool, not "
                            f"{python_type_name(implicit)}")
    shape = int_list_argument("expand", "size", shape, kwargs, empty=True)
    if len(shape) < a.ndim:
        raise RuntimeError(f"expand({dtypes.tensor_type_string(a._array.dtype)}"
                           f"{{{list(a.shape)}}}, size={list(shape)}): the number of sizes "
                           f"provided ({len(shape)}) must be greater or equal to the number of "
                           f"dimensions in the tensor ({a.ndim})")
    in_shape = a._array.shape      # the array's own tuple: read per dim, a Size costs more
    if not in_shape and any(s < 0 for s in shape):
        # (a 0-d tensor takes the sizes as they are: a negative one overflows its count)
        raise _negative_size(shape, a, next(i for i, s in enumerate(shape) if s < 0))
    lead = len(shape) - len(in_shape)
    out = []
    for i in range(len(shape) - 1, -1, -1):      # last dim first, as PyTorch checks them
        s = shape[i]
        own = in_shape[i - lead] if i >= lead else None
        if s == -1:
            if own is None:
                raise RuntimeError(f"The expanded size of the tensor (-1) isn't allowed in a "
                                   f"leading, non-existing dimension {i}")
            s = own
        elif own is not None and own != 1 and own != s:
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing "
                               f"size ({own}) at non-singleton dimension {i}.  Target sizes: "
                               f"{list(shape)}.  Tensor sizes: {list(a.shape)}")
        out.append(s)
    if any(s < 0 for s in out):
        # a negative size below -1, new or over a dim of size 1, is kept by PyTorch's size
        # inference; counting the elements then overflows
        raise _negative_size(shape, a, len(out) - 1 - max(
            k for k, s in enumerate(out) if s < 0))
    return Expand.apply(a, shape=tuple(out[::-1]))


def _negative_size(shape, a, i):
    """PyTorch's refusal of a negative expanded size (its element count overflows), with
    the size and dim named after it."""
    return RuntimeError(f"numel: integer multiplication overflow (the expanded size of the "
                        f"tensor ({shape[i]}) isn't allowed at dimension {i}: sizes must be "
                        f">= 0, or -1 to keep the existing size. Target sizes: {list(shape)}.  "
                        f"Tensor sizes: {list(a.shape)})")


def expand_as(a, other):
    return expand(a, check_tensor("expand_as", other, "other", 1).shape)


def view_as(a, other):
    return view(a, check_tensor("view_as", other, "other", 1).shape)


def reshape_as(a, other):
    return reshape(a, check_tensor("reshape_as", other, "other", 1).shape)
