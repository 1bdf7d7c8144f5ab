"""Writes along a dimension that combine or replace: ``scatter_reduce``, ``index_copy``,
``index_fill``, and ``take`` (values of the flattened input).

``scatter_reduce`` is one Function over the array kernel ``scatter_reduce_array`` (ufunc.at:
sum, prod, mean, amax, amin).  Its backward follows PyTorch's formulas term by term, written
with differentiable ops (``Gather``, ``where``, ``mul``/``div`` and ``ScatterReduce`` itself for
the product), so that second derivatives agree with PyTorch's too:

* sum:  d/dself = g,            d/dsrc = gather(g)
* mean: d/dself = g / N,        d/dsrc = gather(g / N)      (N values averaged, at least 1)
* amax/amin: g / M at each element equal to the result, M the number of those (self counted
  when equal, even with include_self=False, as PyTorch)
* prod: result / element, computed without dividing by zero (a zero element's gradient is
  the product of the others; PyTorch has no second derivative when two zeros of src meet)

and with ``include_self=False`` self gets no gradient where something was written.
``index_copy``, ``index_fill`` and ``take`` are ``where``s and picks over the scatter/gather
pair of ``scatter_gather.py``, so they inherit derivatives of any order.
"""
from __future__ import annotations

import numpy as np

from .. import _autocast_state, backend
from ..dtypes import BAREBONES_UNSIGNED
from ..autograd import Function, is_grad_enabled
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._autocast_cast import promote as _autocast_promote
from .._argument_error import ArgumentError
from ._util import (argument_error, ieee_errors, no_complex_kernel, normalize_dim,
                    not_implemented_for, scalar_type_name)
from ._util import check_fill_value as _check_fill_value
from .elementwise import cast, mul
from .division import div
from ._expanded_writes import write_expanded
from .inplace import copy_, named_write
from .write_overlap import overlaps_itself
from .pointwise_select import where
from .plumbing import reshape_to
from .scatter_gather import (REDUCE_UFUNCS, Gather, IndexSelect, ScatterPut, _scatter_prepare,
                             _src_tensor, nothing_written, scatter_add_array, scatter_reduce_array)
from ._gather_scatter_checks import _as_1d, _index_array, _public_args, _size

__all__ = ["scatter_reduce", "index_copy", "index_fill", "take"]


def _gather_array(a, index, dim):
    """Array: a's values at ``index`` along ``dim`` (a cut to index's size off ``dim``)."""
    part = a[tuple(slice(0, s) if k != dim else slice(None) for k, s in enumerate(index.shape))]
    return backend.xp_of(a).take_along_axis(part, index, axis=dim)


class _NoDoubleBackward(Function):
    """Identity on a gradient whose own derivative PyTorch refuses: differentiating it raises."""
    def forward(self, a, *, message):
        self.message = message
        return a.copy()

    def backward(self, g):
        raise RuntimeError(self.message)


class ScatterReduce(Function):
    """x (>= 1-d), src (index's shape) -> x with src combined in at index along dim by
    ``reduce`` (see the module docstring for the backward of each)."""
    def forward(self, x, src, *, index, dim, reduce, include_self):
        out = scatter_reduce_array(x, dim, index, src, reduce, include_self)
        self.save_for_backward(x, src, out)
        self.index, self.dim, self.reduce, self.include_self = index, dim, reduce, include_self
        return out

    def _gather(self, t):
        return Gather.apply(t, index=self.index, dim=self.dim)

    def _counts(self, values, shape):
        """Array: how much of ``values`` (index's shape) lands on each position of ``shape``."""
        return scatter_add_array(shape, self.dim, self.index, values)

    def backward(self, g):
        x, src, out = self.saved_tensors
        xa, sa, dtype = x._array, src._array, g._array.dtype
        xp = backend.xp_of(xa)
        if self.reduce == "sum":
            gx, gs = g, self._gather(g)
        elif self.reduce == "mean":
            n = self._counts(xp.ones(self.index.shape, dtype), xa.shape) + int(self.include_self)
            gx = div(g, Tensor._wrap(xp.maximum(n, 1).astype(dtype)))
            gs = self._gather(gx)
        elif self.reduce in ("amax", "amin"):
            oa = out._array
            self_hit = (xa == oa).astype(dtype)
            src_hit = (sa == _gather_array(oa, self.index, self.dim)).astype(dtype)
            with ieee_errors():      # no element equals a NaN result: 0 of them share g
                shared = div(g, Tensor._wrap(self_hit + self._counts(src_hit, xa.shape)))
            gx = mul(shared, Tensor._wrap(self_hit))
            gs = mul(self._gather(shared), Tensor._wrap(src_hit))
        else:
            gx, gs = self._prod_backward(g, x, src, out)
        if not self.include_self:    # self's values at the written positions were left out
            hit = self._counts(xp.ones(self.index.shape, dtype), xa.shape) > 0
            gx = where(hit, 0.0, gx)
        return gx, gs

    def _prod_backward(self, g, x, src, out):
        """d prod / d element = the product of the others: result / element where that
        element is not 0, else the product recomputed with the element replaced by 1."""
        options = {"index": self.index, "dim": self.dim, "reduce": "prod",
                   "include_self": self.include_self}
        x_one = where(x._array == 0, 1.0, x)
        gx = div(mul(g, ScatterReduce.apply(x_one, src, **options)), x_one)
        src_zero = src._array == 0
        zeros_at = _gather_array(self._counts(src_zero.astype(g._array.dtype), x.shape),
                                 self.index, self.dim)
        single_zero = src_zero & (zeros_at == 1)
        without_zero = ScatterReduce.apply(x, where(single_zero, 1.0, src), **options)
        gs = where(single_zero, self._gather(mul(g, without_zero)),
                   div(self._gather(mul(g, out)), where(src_zero, 1.0, src)))
        if is_grad_enabled() and (zeros_at > 1).any():
            gs = _NoDoubleBackward.apply(gs, message=(
                "scatter_reduce(): Double backward is unsupported for src when >1 zeros in src "
                "are scattered to the same position in self"))
        return gx, gs


# PyTorch also takes the names of its older reductions for amax and amin
_REDUCE_ALIASES = {"max": "amax", "min": "amin"}


def check_reduce_arguments(name, reduce, include_self):
    """PyTorch's argument parser's refusals for scatter_reduce / index_reduce: ``reduce`` a
    str, ``include_self`` a bool (not 0/1, None or a tensor)."""
    if not isinstance(reduce, str):     # (its position worded by the caller's wrapper)
        raise argument_error(name, "reduce", "str", reduce)
    if not isinstance(include_self, (bool, np.bool_)):
        raise TypeError(f"{name}(): argument 'include_self' must be bool, not "
                        f"{type(include_self).__name__}")


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """``input`` with ``src``'s values combined into the positions ``index`` names along
    ``dim`` (out[i][index[i][j]] op= src[i][j] for dim 1) by ``reduce``: 'sum', 'prod',
    'mean', 'amax' or 'amin'.  ``include_self=False`` leaves input's own value out of every
    position written to.  index and src as scatter's; a 0-d tensor counts as 1-d of size 1."""
    check_reduce_arguments("scatter_reduce", reduce, include_self)
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_reduce(): argument 'src' (position 4) must be Tensor, not "
                        f"{type(src).__name__}")
    idx = _index_array(index)
    normalize_dim(dim, input.ndim)          # PyTorch's order of checks: the dim first, then
    if idx.size and idx.dtype.name not in ("int32", "int64"):     # the index's dtype
        raise RuntimeError("scatter(): Expected dtype int32/int64 for index")
    if src._array.dtype != input._array.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    reduce = _REDUCE_ALIASES.get(reduce, reduce)
    if reduce in ("amax", "amin"):         # complex numbers have no order (checked first)
        no_complex_kernel(f"scatter_gather_tensor_cpu_reduce_{reduce}", input)
    if reduce not in REDUCE_UFUNCS:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, "
                           f"got {reduce}")
    bool_mean = reduce == "mean" and input._array.dtype.kind == "b"
    # PyTorch's bool mean fails in its kernel: before the index values are read when self is
    # included, after they are (by the fill that leaves self out) when not; with no index,
    # at the final (floor) division by the counts
    d, idx = _scatter_prepare(input, dim, index, src, "scatter",
                              bounds=not (bool_mean and include_self))
    if bool_mean:
        raise not_implemented_for("div_floor_cpu" if idx is None else
                                  "scatter_gather_tensor_cpu_reduce_mean", input._array.dtype)
    if idx is None:
        return nothing_written(input, src)
    x = _as_1d(input)
    out = ScatterReduce.apply(x, _src_tensor(x, src, None, idx), index=idx, dim=d,
                              reduce=reduce, include_self=include_self)
    return reshape_to(out, ()) if input.ndim == 0 else out


def _first_outside(idx, low, high):
    """The first value of ``idx`` (in order) outside [low, high), or None."""
    bad = (idx < low) | (idx >= high)
    return int(idx.reshape(-1)[bad.reshape(-1)][0]) if bad.any() else None


def _slices_hit(x, d, idx):
    """Bool array broadcastable to x (>= 1-d): True on the slices of dim d listed in idx."""
    xp = backend.xp_of(idx)
    hit = xp.zeros(x.shape[d], dtype=bool)
    hit[idx] = True
    return hit.reshape([-1 if k == d else 1 for k in range(x.ndim)])


def scatter_reduce_(input, dim, index, src, reduce, *, include_self=True):
    """In place: ``input`` becomes scatter_reduce(input, ...) (computed from a clone: the
    out-of-place node saves its input, which the copy back would overwrite)."""
    check_reduce_arguments("scatter_reduce_", reduce, include_self)
    return copy_(input, scatter_reduce(input.clone(), dim, index, src, reduce,
                                       include_self=include_self))


def index_copy(input, dim, index, source):
    """``input`` with its slices ``index[k]`` along ``dim`` replaced by source's slice k
    (source: input's shape with len(index) along dim; the last copy wins for a repeat)."""
    if _autocast_state.active:             # on CPU autocast's 'promote' list
        input, source = _autocast_promote(input, source)
    _public_args("index_copy", input, index)
    _public_args("index_copy", input, source, "source", 4)
    idx = _index_array(index)
    d = normalize_dim(dim, input.ndim)
    if idx.ndim > 1:
        raise IndexError(f"index_copy_(): Index should have dimension 1 or 0 (got {idx.ndim})")
    if input.ndim and source.ndim and input.ndim != source.ndim:
        raise IndexError(f"index_copy_(): When source and destination are not scalars, their "
                         f"dimensionality must match. Source dimensionality ({source.ndim}), "
                         f"destination dimensionality ({input.ndim})")
    if source.ndim == 0 and idx.size != 1:
        raise IndexError(f"index_copy_(): When source is scalar, index should have one element "
                         f"(got {idx.size})")
    if idx.dtype.name != "int64":
        raise RuntimeError(f"index_copy_(): Expected a long tensor for index, but got "
                           f"{scalar_type_name(idx.dtype)}")
    if source._array.dtype != input._array.dtype:
        raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, "
                           f"but got (self) {scalar_type_name(input._array.dtype)} and (source) "
                           f"{scalar_type_name(source._array.dtype)}")
    if input._array.dtype in BAREBONES_UNSIGNED:        # (no uint16/32/64 kernel)
        raise not_implemented_for("index_copy_cpu", input._array.dtype)
    want = tuple(s for k, s in enumerate(input.shape) if k != d)
    have = tuple(s for k, s in enumerate(source.shape) if k != d)
    if want != have:
        raise RuntimeError(f"index_copy_(): Source/destination tensor must have same slice "
                           f"shapes. Destination slice shape: {' '.join(map(str, want))} at "
                           f"dimension {d} and source slice shape: "
                           f"{' '.join(map(str, have))} at dimension 0.")
    n = _size(source.shape, d)
    if idx.size != n:
        raise IndexError(f"index_copy_(): Number of indices ({idx.size}) should be equal to "
                         f"source.size(dim) ({n})")
    size = _size(input.shape, d)
    flat = idx.reshape(-1)
    _check_restrided(input, d, flat.size)
    if input._array.size == 0:           # nothing to write: PyTorch checks no index value
        return nothing_written(input, source)
    bad = _first_outside(flat, 0, size)
    if bad is not None:
        raise IndexError(f"index_copy_(): index {bad} is out of bounds for dimension {d} with "
                         f"size {size}")
    if not flat.size:
        return nothing_written(input, source)
    x = _as_1d(input)
    shape = list(x.shape)
    shape[d] = flat.size
    s = reshape_to(source, tuple(shape))
    view = [len(flat) if k == d else 1 for k in range(x.ndim)]
    spread = backend.xp_of(flat).broadcast_to(flat.reshape(view), tuple(shape))
    out = where(_slices_hit(x, d, flat),
                ScatterPut.apply(s, index=spread, dim=d, shape=tuple(x.shape)), x)
    out = rename_node(out, "IndexCopyBackward0")
    return reshape_to(out, ()) if input.ndim == 0 else out


def _check_restrided(input, d, count):
    """PyTorch views an empty input with ``count`` slices along ``d`` (the index's length)
    before writing: a view that needs elements an empty input does not have is refused."""
    shape = list(input.shape) or [1]
    shape[d] = count
    needed = int(np.prod(shape))
    if input._array.size == 0 and needed:
        raise RuntimeError(f"setStorage: sizes {shape} with itemsize "
                           f"{input._array.dtype.itemsize} are out of bounds for storage of "
                           "size 0")


def index_fill(input, dim, index, value):
    """``input`` with ``value`` (a number or a 0-d tensor, cast to input's dtype) on its
    slices ``index`` along ``dim``; negative indices count from the end."""
    _public_args("index_fill", input, index)
    idx = _index_array(index)
    if not isinstance(value, (Tensor, bool, int, float, complex, np.number, np.bool_)):
        exc = TypeError(f"index_fill() received an invalid combination of arguments - got "
                        f"(int, Tensor, {type(value).__name__}), but expected (int dim, Tensor "
                        "index, Tensor value) or (int dim, Tensor index, Number value)")
        exc.argument = ArgumentError("index_fill", None, None, value)   # (worded for the call)
        raise exc
    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got "
                           f"tensor with {value.ndim} dimension(s).")
    if idx.dtype.name != "int64":
        raise IndexError("index_fill_(): Expected dtype int64 for index.")
    number = value._array.item() if isinstance(value, Tensor) else value
    if isinstance(number, int) and not -2 ** 63 <= number < 2 ** 64:
        # PyTorch's parser reads a Python int as int64, or uint64 when larger
        raise OverflowError("int too big to convert" if number > 0 else
                            "can't convert negative int to unsigned")
    if isinstance(number, (complex, np.complexfloating)) and input._array.dtype.kind != "c":
        raise RuntimeError("index_fill_(): Converting complex Scalar to non-complex type is "
                           "not supported")
    d = normalize_dim(dim, input.ndim)
    if idx.ndim > 1:
        raise RuntimeError("Index has to be a vector/scalar")
    flat = idx.reshape(-1)
    _check_restrided(input, d, flat.size)
    dtype = input._array.dtype
    _check_fill_value(number, dtype)
    if input._array.size == 0:           # nothing to write: PyTorch checks no index value
        return nothing_written(input, value)
    size = _size(input.shape, d)
    bad = _first_outside(flat, -size, size)
    if bad is not None:
        raise IndexError(f"index {bad} is out of bounds for dimension {d} with size {size}")
    x = _as_1d(input)
    # PyTorch's node: IndexFillBackward0 for a number value, IndexFillBackward1 for a tensor
    node = f"IndexFillBackward{int(isinstance(value, Tensor))}"
    if isinstance(value, Tensor):
        value = cast(value, dtype)
    else:
        value = Tensor._wrap(backend.xp_of(x._array).asarray(value).astype(dtype))
    out = rename_node(where(_slices_hit(x, d, flat % size if size else flat), value, x), node)
    return reshape_to(out, ()) if input.ndim == 0 else out


def index_fill_(input, dim, index, value):
    """In place: ``index_fill``'s result written into ``input`` (element by element into an
    expanded one, as PyTorch, which warns)."""
    out = index_fill(input, dim, index, value)
    shared = input._array.flags.writeable and overlaps_itself(input._array) and \
        not (is_grad_enabled() and input.requires_grad)
    if (not input._array.flags.writeable or shared) and input.ndim and input._array.size:
        d = normalize_dim(dim, input.ndim)
        size = input.shape[d]
        xp = backend.xp_of(input._array)
        hit = xp.zeros(size, dtype=bool)
        hit[_index_array(index).reshape(-1) % size] = True
        hit = xp.broadcast_to(hit.reshape((size,) + (1,) * (input.ndim - d - 1)),
                              tuple(input.shape))
        if shared:
            # elements sharing memory (as_strided with a zero stride): only the filled ones
            # written, as PyTorch's kernel writes them (a copy of the whole result would
            # write the old values of the others over them)
            input._array[hit] = out._array[hit]
            input._vcounter.value += 1
            return input
        number = value._array if isinstance(value, Tensor) else value
        if write_expanded(input, hit, number, op="index_fill_"):
            return input
    return named_write(input, f"IndexFillBackward{int(isinstance(value, Tensor))}", copy_,
                       input, out)


def take(input, index):
    """input's values at ``index`` (int64, any shape) in the flattened input, shaped like
    index; negative indices count from the end."""
    _public_args("take", input, index, "index", 2)
    idx = _index_array(index)
    if idx.dtype.name != "int64":
        raise RuntimeError(f"take(): Expected a long tensor for index, but got "
                           f"{scalar_type_name(idx.dtype)}")
    n = input._array.size
    if n == 0 and idx.size:
        raise IndexError("take(): tried to take from an empty tensor")
    bad = _first_outside(idx, -n, n)
    if bad is not None:
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} "
                         "elements.")
    flat = reshape_to(input, (n,))
    picked = IndexSelect.apply(flat, index=(idx % n if n else idx).reshape(-1), dim=0)
    return rename_node(reshape_to(picked, idx.shape), "TakeBackward0")
