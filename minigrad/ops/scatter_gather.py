"""Gather and scatter along a dimension: ``gather``, ``scatter``, ``scatter_add``,
``index_select``, ``index_add``, ``take_along_dim``, and the array kernel of the scatter
reductions (``scatter_reduce_array``: sum, prod, mean, amax, amin with ufunc.at).  Their checks
of the index are in ``_gather_scatter_checks.py``; ``masked_fill`` is in ``masked_fill.py``.

Two pairs of adjoint Functions carry all of them (each is the other's backward, so gradients
of any order stay inside this pair):

* ``Gather``  out[i][j] = a[i][index[i][j]]           (dim 1; any dim alike)
  ``ScatterAdd`` out = zeros(shape); out[i][index[i][j]] += src[i][j]
* ``IndexSelect`` out = a.take(index, axis=dim)       (one 1-d index for the whole dim)
  ``IndexAdd`` out = zeros(shape); out.take(index, axis=dim) += src

The scatter-add is vectorised with ``bincount`` on flat positions (no Python loop, no
``np.add.at``): position = (coordinates of src, with ``dim``'s coordinate replaced by the
index) flattened in ``shape``; repeated positions add up, which is what a gradient needs.
IndexAdd of float slices sums sorted runs of whole slices instead, in index order in their
own dtype, as PyTorch's index_add (``_scatter_add_kernels``: both kernels).
As in PyTorch, a 0-d input, index or src counts as 1-d of size 1 (``_as_1d``), and an empty
index is returned from (or written) without the other checks.
Many higher-level ops (pad modes, unfold/fold, interpolate, embedding, sort/topk) are
compositions of these, and inherit their first and second derivatives.
"""
from __future__ import annotations

import numbers

import numpy as np

from .._warn_once import warn_user
from .. import backend, dtypes
from ..autograd import Function, is_grad_enabled
from ..autograd._node_names import rename_node
from ..autograd.function import keep_for_backward
from ..tensor import Tensor
from ._scatter_add_kernels import (flat_positions, index_add_fits, index_add_slices,
                                   scatter_add_array)
from ._util import (Omitted, argument_error, broadcast_shape, check_tensor, dim_like, normalize_dim,
                    scalar_type_name)
from .elementwise import add, cast
from .pointwise_select import where
from .movement_copies import clone
from .plumbing import expand_to, reshape_to
from ._gather_scatter_checks import (INDEX_DTYPES, _as_1d, _check_along, _first_out_of_range,
                                     _index_array, _index_dtype, _public_args, _size)

__all__ = ["gather", "scatter", "scatter_add", "index_select", "index_add", "take_along_dim",
           "scatter_add_array", "scatter_reduce_array", "flat_positions"]


# scatter_reduce's reductions: the ufunc that combines two values, and what a position starts
# from when include_self=False leaves its own value out (the ufunc's identity)
REDUCE_UFUNCS = {"sum": "add", "mean": "add", "prod": "multiply", "amax": "maximum",
                 "amin": "minimum"}


def _reduce_identity(reduce, dtype):
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "b":
        return reduce == "amin"
    if dtype.kind in "fV":
        return -float("inf") if reduce == "amax" else float("inf")
    info = np.iinfo(dtype)
    return info.min if reduce == "amax" else info.max


def scatter_reduce_array(x, dim, index, src, reduce, include_self=True):
    """``x`` (an array of >= 1 dim) with src's elements (src cut to index's shape) combined
    into the positions ``index`` names along ``dim``: out[i][index[i][j]] (op)= src[i][j] for
    dim 1, op one of ``REDUCE_UFUNCS``; ``include_self=False`` starts each position written to
    from the reduction's identity instead of x's value.  ``mean`` divides by the number of
    values combined (x's own counted when included), flooring for integers as PyTorch.
    Array-level; ``index`` values must already be checked and non-negative."""
    xp = backend.xp_of(x)
    src = src[tuple(slice(0, n) for n in index.shape)]
    pos = flat_positions(x.shape, dim, index).ravel()
    out = x.reshape(-1).copy()
    if not include_self:
        out[pos] = _reduce_identity(reduce, x.dtype)
    getattr(xp, REDUCE_UFUNCS[reduce]).at(out, pos, src.ravel())
    if reduce == "mean":
        count = xp.bincount(pos, minlength=out.size) + int(include_self)
        count = xp.maximum(count, 1)              # a position no value reached keeps x's
        out = out / count if out.dtype.kind in "fV" else out // count
    return out.astype(x.dtype, copy=False).reshape(x.shape)


class Gather(Function):
    """a (..., n, ...), index (..., m, ...) -> out shaped like index: a's values at index."""
    complex_ok = True             # linear, real coefficients: right as written
    saved_fields = {"dim": "dim", "sparse_grad": lambda node: False,
                    "index": lambda node: Tensor._wrap(node.index)}

    def forward(self, a, *, index, dim):
        self.index, self.dim, self.in_shape = index, dim, a.shape
        if type(a) is np.ndarray:
            # one take at flat positions: with the positions, half the time of
            # take_along_axis (256x1024: 0.4 ms instead of 0.7); they are checked already,
            # and ``clip`` skips take's own bounds test
            return np.take(a.reshape(-1), flat_positions(a.shape, dim, index), mode="clip")
        a_part = a[tuple(slice(0, s) if k != dim else slice(None)
                         for k, s in enumerate(index.shape))]
        return backend.xp_of(a).take_along_axis(a_part, index, axis=dim)

    def backward(self, g):
        # each picked element sends its gradient back to where it came from (adding repeats)
        return ScatterAdd.apply(g, index=self.index, dim=self.dim, shape=self.in_shape)


class ScatterAdd(Function):
    """src (shaped like index) -> zeros(shape) with src added at index along dim."""
    complex_ok = True             # linear, real coefficients: right as written

    def forward(self, src, *, index, dim, shape):
        self.index, self.dim = index, dim
        return scatter_add_array(shape, dim, index, src)

    def backward(self, g):
        return Gather.apply(g, index=self.index, dim=self.dim)


class ScatterPut(Function):
    """src (shaped like index) -> zeros(shape) with src *written* at index along dim (the last
    write wins for a repeated index, as numpy; PyTorch leaves that order unspecified).  Its
    backward is a gather, as PyTorch's scatter backward."""
    complex_ok = True             # linear, real coefficients: right as written

    def forward(self, src, *, index, dim, shape):
        self.index, self.dim = index, dim
        xp = backend.xp_of(src)
        out = xp.zeros(shape, dtype=src.dtype)
        part = out[tuple(slice(0, s) if k != dim else slice(None)
                         for k, s in enumerate(index.shape))]
        # numpy writes in memory order, so a repeated index would keep whichever value a
        # strided (negative or zero stride) src or index puts last: contiguous, the last along
        # dim wins, as PyTorch's CPU kernel
        xp.put_along_axis(part, xp.ascontiguousarray(index), xp.ascontiguousarray(src),
                          axis=dim)
        return out

    def backward(self, g):
        return Gather.apply(g, index=self.index, dim=self.dim)


class Scatter(Function):
    """x, src (shaped like index) -> x with src *written* at index along dim, as ScatterPut
    does (the last write wins), in one node; x's gradient is g with the written positions
    zeroed, src's the gather of g at index (both in ops, differentiable again)."""
    complex_ok = True             # a selection: right as written

    def forward(self, x, src, *, index, dim):
        self.index, self.dim = index, dim
        out = x.copy()                  # (row-major: its flat view is its memory)
        # written in index's row-major order, so a repeated index keeps the last value along
        # dim, as ScatterPut
        out.reshape(-1)[flat_positions(x.shape, dim, index).ravel()] = src.ravel()
        return out

    def backward(self, g):
        xp = backend.xp_of(g._array)
        hit = xp.zeros(g._array.size, dtype=bool)
        hit[flat_positions(g.shape, self.dim, self.index).ravel()] = True
        return (where(Tensor._wrap(hit.reshape(g.shape)), 0.0, g),
                Gather.apply(g, index=self.index, dim=self.dim))


# PyTorch's nodes: ScatterBackward0 for a tensor src, ScatterBackward1 for a number
_SCATTER_NODES = (Scatter.renamed("ScatterBackward0"), Scatter.renamed("ScatterBackward1"))


class ScatterLegacyReduce(Function):
    """x, src -> x with src added (``sum``) or multiplied (``prod``) in at index along dim:
    scatter's old ``reduce=`` argument, for which PyTorch defines no derivative."""
    complex_ok = True             # a sum or a product, exact for complex; backward refuses
    def forward(self, x, src, *, index, dim, reduce):
        return scatter_reduce_array(x, dim, index, src, reduce)

    def backward(self, g):
        raise RuntimeError("derivative for aten::scatter is not implemented")


class NothingWritten(Function):
    """x, src -> a copy of x: an empty index writes nothing, yet (as in PyTorch) the result
    depends on src, whose gradient is zero (or refused, ``refuse`` holding the words)."""
    complex_ok = True             # a copy: right as written
    def forward(self, x, src, *, refuse=None):
        self.src_shape, self.src_dtype, self.refuse = src.shape, src.dtype, refuse
        return x.copy()

    def backward(self, g):
        if self.refuse is not None:
            raise RuntimeError(self.refuse)
        xp = backend.xp_of(g._array)
        return g, Tensor._wrap(xp.zeros(self.src_shape, dtype=self.src_dtype))


def nothing_written(input, src, refuse=None):
    """``clone(input)`` for a write with an empty index, tied to a tensor ``src``."""
    if not isinstance(src, Tensor):
        return clone(input)
    return NothingWritten.apply(input, src, refuse=refuse)


class IndexSelect(Function):
    """a -> a.take(index, axis=dim): the slices of ``dim`` listed in the 1-d ``index``."""
    complex_ok = True             # linear, real coefficients: right as written
    saved_fields = {"dim": "dim", "self_sym_sizes": lambda node: node._in_meta[0][0],
                    "index": lambda node: Tensor._wrap(node.index)}

    def forward(self, a, *, index, dim):
        self.index, self.dim, self.size = index, dim, a.shape[dim]
        return backend.xp_of(a).take(a, index, axis=dim)

    def backward(self, g):
        return IndexAdd.apply(g, index=self.index, dim=self.dim, size=self.size)


class IndexAdd(Function):
    """src -> zeros with ``size`` along dim, src's slice k added into slice index[k]."""
    complex_ok = True             # linear, real coefficients: right as written

    def forward(self, src, *, index, dim, size):
        self.index, self.dim = index, dim
        shape = list(src.shape)
        shape[dim] = size
        if index_add_fits(src, index, size):        # float slices: sorted segment sums
            return index_add_slices(src, index, dim, size, in_order=True)
        view = [1] * src.ndim
        view[dim] = len(index)
        return scatter_add_array(tuple(shape), dim, index.reshape(view), src)

    def backward(self, g):
        return IndexSelect.apply(g, index=self.index, dim=self.dim)


# ----------------------------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------------------------
def gather(input, dim, index, *, sparse_grad=False):
    """out[i][j][k] = input[i][index[i][j][k]][k] (for dim=1): shaped like ``index``.  A 0-d
    input or index counts as 1-d of size 1; an empty index gives an empty result unchecked."""
    _public_args("gather", input, index)
    idx = _index_array(index)
    d = normalize_dim(dim, input.ndim)
    if idx.size == 0:
        # PyTorch checks nothing about an empty index; keep the result in input's graph
        xp = backend.xp_of(input._array)
        flat = reshape_to(input, (input._array.size,))
        picked = IndexSelect.apply(flat, index=xp.zeros(0, "int64"), dim=0)
        return reshape_to(picked, idx.shape)
    idx1 = _check_along(input, d, idx, "gather")
    out = keep_for_backward(Gather.apply(_as_1d(input), index=idx1, dim=d), index)
    return reshape_to(out, ()) if idx.ndim == 0 else out


def take_along_dim(input, indices, dim=None):
    """Values of ``input`` at ``indices`` along ``dim``: a gather after broadcasting input and
    indices against each other (all dims but ``dim``); indices wrap modulo the size of
    ``dim`` as PyTorch's do.  dim None: a gather from the flattened input (no wrapping)."""
    _public_args("take_along_dim", input, indices, "indices", 2)
    idx = _index_array(indices)
    if dim is None:
        return gather(reshape_to(input, (input._array.size,)), 0, Tensor._wrap(idx.reshape(-1)))
    if input.ndim != idx.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same "
                           f"number of dimensions, but got {input.ndim} dimensions for input, "
                           f"and {idx.ndim} dimensions for indices")
    if idx.dtype.type is not np.int64:
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got "
                           f"{scalar_type_name(idx.dtype)}")
    d = normalize_dim(dim, input.ndim)
    if input.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    want = list(input.shape)
    want[d] = idx.shape[d]
    shape = broadcast_shape(tuple(want), tuple(idx.shape), "take_along_dim")
    in_shape = list(shape)
    in_shape[d] = size = input.shape[d]
    if size == 0 and idx.size:
        raise RuntimeError("ZeroDivisionError")    # PyTorch's remainder by the zero size
    xp = backend.xp_of(idx)
    wrapped = xp.broadcast_to(idx % size if size else idx, shape)
    return gather(expand_to(input, tuple(in_shape)), d, Tensor._wrap(wrapped))


def _src_tensor(input, src, value, idx):
    """scatter's ``src`` (or ``value``) as a tensor of input's dtype shaped like ``idx``."""
    if src is None:
        src = value
    if not isinstance(src, Tensor):
        xp = backend.xp_of(input._array)
        # converted as PyTorch converts a number for the input's type: checked (1e300 into
        # int64 is refused), a negative int wrapping into an unsigned one
        value = dtypes.number_for(src, input._array.dtype, half_checked=True)
        return Tensor._wrap(xp.full(idx.shape, value, dtype=input._array.dtype))
    src = _as_1d(src)
    if tuple(src.shape) == idx.shape:
        return src
    part = tuple(slice(0, n) for n in idx.shape)
    if not (src.requires_grad and is_grad_enabled()):
        return Tensor._wrap(src._array[part])      # (no gradient to carry: no node)
    return src[part]


def _scatter_prepare(input, dim, index, src, name, bounds=True):
    """(dim, checked int64 index of >= 1 dim) for scatter/scatter_add, or (dim, None) for an
    empty index (nothing written: PyTorch then checks only the dtypes).  ``bounds`` False
    leaves the index values unchecked."""
    idx = _index_array(index)
    d = normalize_dim(dim, input.ndim)
    if idx.size and not _index_dtype(idx.dtype):
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index")
    if isinstance(src, Tensor) and src._array.dtype != input._array.dtype:
        raise RuntimeError(f"{name}(): Expected self.dtype to be equal to src.dtype")
    if input._array.dtype in dtypes.BAREBONES_UNSIGNED:      # (no kernel for them)
        dtypes.refuse_unsigned("scatter_gather_tensor_cpu" if isinstance(src, Tensor) else
                               "scatter_gather_scalar_cpu", input._array.dtype)
    if idx.size == 0:
        return d, None
    return d, _check_along(input, d, idx, name, src if isinstance(src, Tensor) else None,
                           bounds)


_NO_SRC = Omitted("<no src>")


def scatter(input, dim, index, src=_NO_SRC, *, value=None, reduce=None):
    """``input`` with ``src`` (a tensor of input's dtype, or a number) written at ``index``
    along ``dim``: out[i][index[i][j]] = src[i][j] (dim 1).  ``reduce='add'`` adds and
    ``'multiply'`` multiplies instead (every value sent to a position counts), with no
    derivative, as in PyTorch.  A 0-d input, index or src counts as 1-d of size 1."""
    if src is _NO_SRC:
        if value is None:
            raise TypeError("scatter() missing 1 required positional argument: 'src' (or "
                            "value=)")
        src = None
    elif src is None or not isinstance(src, (Tensor, numbers.Number)):
        # (the wrappers word it for the call: a Tensor and a Number src are two signatures)
        raise argument_error("scatter", "src", "Tensor", src)
    if not dim_like(dim):
        raise argument_error("scatter", "dim", "int", dim)
    if reduce not in (None, "add", "multiply"):
        raise RuntimeError("reduce argument must be either add or multiply.")
    _public_args("scatter", input, index)
    d, idx = _scatter_prepare(input, dim, index, src, "scatter")
    if idx is None:
        return nothing_written(input, src, None if reduce is None else
                               "derivative for aten::scatter is not implemented")
    x = _as_1d(input)
    s = _src_tensor(x, src, value, idx)
    if reduce is not None:
        if isinstance(src, Tensor):
            warn_user("scatter(): the reduce argument with a Tensor src is deprecated in "
                      "PyTorch and will go; scatter_reduce offers more reductions",
                      UserWarning)
        out = ScatterLegacyReduce.apply(x, s, index=idx, dim=d,
                                        reduce="sum" if reduce == "add" else "prod")
    else:
        out = _SCATTER_NODES[not isinstance(src, Tensor)].apply(x, s, index=idx, dim=d)
    out = keep_for_backward(out, index)
    return reshape_to(out, ()) if input.ndim == 0 else out


def scatter_add(input, dim, index, src):
    """``input`` with ``src`` (of input's dtype) added at ``index`` along ``dim`` (repeats add
    up).  A 0-d input, index or src counts as 1-d of size 1."""
    if not dim_like(dim):
        raise argument_error("scatter_add", "dim", "int", dim, 2)
    _public_args("scatter_add", input, index)
    check_tensor("scatter_add", src, "src", 4)
    d, idx = _scatter_prepare(input, dim, index, src, "scatter")
    if idx is None:
        return nothing_written(input, src)
    x = _as_1d(input)
    s = _src_tensor(x, src, None, idx)
    # the row-major sum first: PyTorch's result is row-major whatever input's layout
    out = add(ScatterAdd.apply(s, index=idx, dim=d, shape=tuple(x.shape)), x)
    out = keep_for_backward(rename_node(out, "ScatterAddBackward0"), index)
    return reshape_to(out, ()) if input.ndim == 0 else out


def _index_vector(index, name):
    """index_select/index_add's index: a 1-d (or 0-d) int32/int64 array, flattened."""
    idx = _index_array(index)
    if idx.ndim > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector" if name == "index_select"
                         else f"{name}(): Index is supposed to be a vector, but got dim: "
                         f"{idx.ndim} with type: {scalar_type_name(idx.dtype)} and size: "
                         f"{list(idx.shape)}")
    if idx.dtype.name not in INDEX_DTYPES:
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index"
                           if name == "index_select" else
                           f"{name}(): Expected dtype int32/int64 for index but got: "
                           f"{scalar_type_name(idx.dtype)}")
    return idx.reshape(-1)


def index_select(input, dim, index):
    """The slices ``index`` (1-d or 0-d, int, each in [0, size)) of ``input`` along ``dim``, in
    that order; of a 0-d input, its one value (index must be [0])."""
    _public_args("index_select", input, index)
    d = normalize_dim(dim, input.ndim)
    idx = _index_vector(index, "index_select")
    if input.ndim == 0 and idx.size != 1:
        raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got "
                           f"{idx.size} value(s)")
    size = _size(input.shape, d)
    bad = _first_out_of_range(idx, size)
    if bad is not None:
        # PyTorch's CPU kernels word (and type) this by layout: its dim-1 and empty-input
        # paths raise RuntimeError, the general one IndexError
        if input.ndim > 1 and size == 0:
            raise RuntimeError("index_select(): self indexing axis dim should be positive")
        if input.ndim > 1 and (d == 1 or input._array.size == 0):
            raise RuntimeError(f"INDICES element is out of DATA bounds, id={bad} "
                               f"axis_dim={size}")
        raise IndexError("index out of range in self")
    out = IndexSelect.apply(_as_1d(input), index=idx.astype("int64", copy=False), dim=d)
    out = keep_for_backward(out, index)
    return reshape_to(out, ()) if input.ndim == 0 else out


def index_add(input, dim, index, source, *, alpha=1):
    """``input`` with ``alpha * source``'s slices added into slices ``index`` along ``dim``;
    source has input's dtype and shape except for ``len(index)`` along ``dim``."""
    _public_args("index_add", input, index)
    check_tensor("index_add", source, "source", 4)
    d = normalize_dim(dim, input.ndim)
    idx = _index_vector(index, "index_add_")
    if source._array.dtype != input._array.dtype:
        raise RuntimeError(f"index_add_(): self ({scalar_type_name(input._array.dtype)}) and "
                           f"source ({scalar_type_name(source._array.dtype)}) must have the "
                           "same scalar type")
    dtypes.refuse_unsigned("index_add_", input._array.dtype)     # (no uint16/32/64 kernel)
    if source.ndim == 0 and idx.size != 1:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    if source.ndim and d >= source.ndim:
        raise RuntimeError(f"index_add_(): Indexing dim {d} is out of bounds of the source "
                           f"tensor with dim {source.ndim}")
    if source.ndim and idx.size != source.shape[d]:
        raise RuntimeError(f"index_add_(): Number of indices ({idx.size}) should be equal to "
                           f"source.size(dim): ({source.shape[d]}), for dim: {d}")
    if source.ndim != input.ndim or any(source.shape[k] != input.shape[k]
                                        for k in range(input.ndim) if k != d):
        raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the "
                           f"specified dimension. Got self.shape = {list(input.shape)} "
                           f"source.shape = {list(source.shape)}")
    if not isinstance(alpha, Tensor):
        # PyTorch converts alpha to input's type first: checked, and truncated for integers
        alpha = dtypes.number_for(alpha, input._array.dtype, half_checked=True)
        if input._array.dtype.kind in "iu" and isinstance(alpha, (float, np.floating)):
            alpha = int(alpha)
    size = _size(input.shape, d)
    bad = _first_out_of_range(idx, size)
    if bad is not None and (input.ndim < 2 or input._array.size):   # PyTorch skips empty
        # PyTorch's CPU kernel for int64 indices along the first or last of >= 2 dims, with
        # alpha 1 (a number, not True), words this as a RuntimeError; its other paths raise
        # IndexError
        alpha_one = not isinstance(alpha, (bool, np.bool_)) and alpha == 1
        if input.ndim >= 2 and idx.dtype.name == "int64" and d in (0, input.ndim - 1) and \
                alpha_one:
            raise RuntimeError(f"index {bad} is out of bounds for dimension {d} with size "
                               f"{size}")
        raise IndexError("index out of range in self")
    x = _as_1d(input)
    src = _as_1d(source if alpha == 1 else cast(source * alpha, input._array.dtype))
    # the row-major sum first: PyTorch's result is row-major whatever input's layout
    out = add(IndexAdd.apply(src, index=idx.astype("int64", copy=False), dim=d, size=size), x)
    out = keep_for_backward(rename_node(out, "IndexAddBackward0"), index)
    return reshape_to(out, ()) if input.ndim == 0 else out
