"""Gather and scatter along a dimension: ``gather``, ``scatter``, ``scatter_add``,
``index_select``, ``index_add``, ``masked_fill``, ``take_along_dim``.

Two pairs of adjoint Functions carry all of them (each is the other's backward, so gradients
of any order stay inside this pair):

* ``Gather``  out[i][j] = a[i][index[i][j]]           (dim 1; any dim alike)
  ``ScatterAdd`` out = zeros(shape); out[i][index[i][j]] += src[i][j]
* ``IndexSelect`` out = a.take(index, axis=dim)       (one 1-d index for the whole dim)
  ``IndexAdd`` out = zeros(shape); out.take(index, axis=dim) += src

The scatter-add is vectorised with ``bincount`` on flat positions (no Python loop, no
``np.add.at``): position = (coordinates of src, with ``dim``'s coordinate replaced by the
index) flattened in ``shape``; repeated positions add up, which is what a gradient needs.
Many higher-level ops (pad modes, unfold/fold, interpolate, embedding, sort/topk) are
compositions of these, and inherit their first and second derivatives.
"""
from __future__ import annotations

from .. import backend, dtypes
from ..autograd import Function
from ..tensor import Tensor
from ._util import normalize_dim
from .elementwise import add, cast, where

__all__ = ["gather", "scatter", "scatter_add", "index_select", "index_add", "masked_fill",
           "take_along_dim", "scatter_add_array"]


def scatter_add_array(shape, dim, index, src):
    """zeros(shape) with src[pos] added at index along ``dim`` (index broadcastable to src).

    Array-level (numpy or cupy); ``index`` values must already be checked and non-negative.
    """
    xp = backend.xp_of(src)
    index = xp.broadcast_to(index, src.shape)
    strides = [1] * len(shape)
    for k in range(len(shape) - 2, -1, -1):
        strides[k] = strides[k + 1] * shape[k + 1]
    flat = index.astype(xp.int64) * strides[dim]
    for k, n in enumerate(src.shape):
        if k != dim and strides[k] and n > 1:
            view = [1] * src.ndim
            view[k] = n
            flat = flat + (xp.arange(n, dtype=xp.int64) * strides[k]).reshape(view)
    size = 1
    for n in shape:
        size *= n
    if src.size == 0 or size == 0:
        return xp.zeros(shape, dtype=src.dtype)
    summed = xp.bincount(xp.broadcast_to(flat, src.shape).ravel(), weights=src.ravel(),
                         minlength=size)
    return summed.reshape(shape).astype(src.dtype, copy=False)


class Gather(Function):
    """a (..., n, ...), index (..., m, ...) -> out shaped like index: a's values at index."""
    def forward(self, a, *, index, dim):
        self.index, self.dim, self.in_shape = index, dim, a.shape
        a_part = a[tuple(slice(0, s) if k != dim else slice(None)
                         for k, s in enumerate(index.shape))]
        return backend.xp_of(a).take_along_axis(a_part, index, axis=dim)

    def backward(self, g):
        # each picked element sends its gradient back to where it came from (adding repeats)
        return ScatterAdd.apply(g, index=self.index, dim=self.dim, shape=self.in_shape)


class ScatterAdd(Function):
    """src (shaped like index) -> zeros(shape) with src added at index along dim."""
    def forward(self, src, *, index, dim, shape):
        self.index, self.dim = index, dim
        return scatter_add_array(shape, dim, index, src)

    def backward(self, g):
        return Gather.apply(g, index=self.index, dim=self.dim)


class ScatterPut(Function):
    """src (shaped like index) -> zeros(shape) with src *written* at index along dim (the last
    write wins for a repeated index, as numpy; PyTorch leaves that order unspecified).  Its
    backward is a gather, as PyTorch's scatter backward."""
    def forward(self, src, *, index, dim, shape):
        self.index, self.dim = index, dim
        xp = backend.xp_of(src)
        out = xp.zeros(shape, dtype=src.dtype)
        part = out[tuple(slice(0, s) if k != dim else slice(None)
                         for k, s in enumerate(index.shape))]
        xp.put_along_axis(part, index, src, axis=dim)
        return out

    def backward(self, g):
        return Gather.apply(g, index=self.index, dim=self.dim)


class IndexSelect(Function):
    """a -> a.take(index, axis=dim): the slices of ``dim`` listed in the 1-d ``index``."""
    def forward(self, a, *, index, dim):
        self.index, self.dim, self.size = index, dim, a.shape[dim]
        return backend.xp_of(a).take(a, index, axis=dim)

    def backward(self, g):
        return IndexAdd.apply(g, index=self.index, dim=self.dim, size=self.size)


class IndexAdd(Function):
    """src -> zeros with ``size`` along dim, src's slice k added into slice index[k]."""
    def forward(self, src, *, index, dim, size):
        self.index, self.dim = index, dim
        shape = list(src.shape)
        shape[dim] = size
        view = [1] * src.ndim
        view[dim] = len(index)
        return scatter_add_array(tuple(shape), dim, index.reshape(view), src)

    def backward(self, g):
        return IndexSelect.apply(g, index=self.index, dim=self.dim)


# ----------------------------------------------------------------------------------------------
# Checks with PyTorch's messages
# ----------------------------------------------------------------------------------------------
# how PyTorch's messages name a dtype: its C++ type ("mask with dtype float") or its scalar
# type ("Got Long"), and its legacy tensor class ("torch.FloatTensor")
CPP_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
             "int32": "int", "int16": "short int", "int8": "signed char",
             "uint8": "unsigned char", "bool": "bool"}
SCALAR_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
                "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                "bool": "Bool"}


def _index_array(index, name):
    arr = index._array if isinstance(index, Tensor) else index
    if arr.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int64 for index (got index with dtype "
                           f"{dtypes.from_numpy_dtype(arr.dtype).name})")
    return arr


def _check_along(a, dim, index, name, src=None):
    """gather/scatter's rules: same ndim, index no larger than a (or src) off ``dim``, values
    in range; returns (dim, index array with negatives refused)."""
    idx = _index_array(index, name)
    nd = max(a.ndim, 1)
    d = normalize_dim(dim, nd)
    if idx.ndim != a.ndim and not (a.ndim == 0 and idx.ndim <= 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as "
                           f"{'input' if name == 'gather' else 'self'} tensor (index has "
                           f"{idx.ndim}, {'input' if name == 'gather' else 'self'} has {a.ndim})")
    for k in range(idx.ndim):
        if k != d and idx.shape[k] > a.shape[k]:
            raise RuntimeError(f"Size does not match at dimension {k} expected index "
                               f"{list(idx.shape)} to be smaller than self {list(a.shape)} "
                               f"apart from dimension {d}")
        if src is not None and idx.shape[k] > src.shape[k]:
            raise RuntimeError(f"Size does not match at dimension {k} expected index "
                               f"{list(idx.shape)} to be smaller than src {list(src.shape)}")
    size = a.shape[d] if a.ndim else 1
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= size:
            bad = lo if lo < 0 else hi
            raise RuntimeError(f"index {bad} is out of bounds for dimension {d} with size {size}")
    return d, idx.astype("int64", copy=False)


# ----------------------------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------------------------
def gather(input, dim, index, *, sparse_grad=False):
    """out[i][j][k] = input[i][index[i][j][k]][k] (for dim=1): shaped like ``index``."""
    d, idx = _check_along(input, dim, index, "gather")
    return Gather.apply(input, index=idx, dim=d)


def take_along_dim(input, indices, dim=None):
    """gather with numpy's broadcasting of ``indices``; dim None: on the flattened input."""
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))
    d = normalize_dim(dim, input.ndim)
    shape = list(input.shape)
    shape[d] = indices.shape[d]
    idx = backend.xp_of(indices._array).broadcast_to(indices._array, tuple(shape))
    return gather(input, d, Tensor._wrap(idx))


def _src_tensor(input, src, value, idx):
    if src is None:
        src = value
    if not isinstance(src, Tensor):
        xp = backend.xp_of(input._array)
        return Tensor._wrap(xp.full(idx.shape, src, dtype=input._array.dtype))
    return cast(src, input._array.dtype)


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """``input`` with ``src`` (a tensor or a number) written at ``index`` along ``dim``:
    out[i][index[i][j]] = src[i][j] (dim 1).  ``reduce='add'`` adds instead."""
    if src is None and value is None:
        raise TypeError("scatter() missing 1 required positional argument: 'src' (or value=)")
    if reduce not in (None, "add", "multiply"):
        raise RuntimeError(f"reduce argument must be either add or multiply. (got '{reduce}')")
    srct = src if isinstance(src, Tensor) else None
    d, idx = _check_along(input, dim, index, "scatter", srct)
    s = _src_tensor(input, src, value, idx)
    if tuple(s.shape) != idx.shape:
        s = s[tuple(slice(0, n) for n in idx.shape)]
    if reduce == "add":
        return add(input, ScatterAdd.apply(s, index=idx, dim=d, shape=input.shape))
    if reduce == "multiply":
        raise NotImplementedError("scatter(reduce='multiply') is not supported by minigrad "
                                  "(use scatter_reduce's product in PyTorch)")
    hit = scatter_add_array(tuple(input.shape), d, idx, backend.xp_of(idx).ones(
        idx.shape, dtype="float32")) > 0
    return where(Tensor._wrap(hit), ScatterPut.apply(s, index=idx, dim=d, shape=input.shape),
                 input)


def scatter_add(input, dim, index, src):
    """``input`` with ``src`` added at ``index`` along ``dim`` (repeats add up)."""
    d, idx = _check_along(input, dim, index, "scatter_add", src)
    src = src[tuple(slice(0, s) for s in idx.shape)] if tuple(src.shape) != idx.shape else src
    return add(input, ScatterAdd.apply(cast(src, input._array.dtype), index=idx, dim=d,
                                       shape=tuple(input.shape)))


def index_select(input, dim, index):
    """The slices ``index`` (1-d, int) of ``input`` along ``dim``, in that order."""
    idx = _index_array(index, "index_select")
    if idx.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    d = normalize_dim(dim, max(input.ndim, 1))
    size = input.shape[d] if input.ndim else 1
    idx = idx.reshape(-1).astype("int64", copy=False)
    if idx.size and (int(idx.min()) < -size or int(idx.max()) >= size):
        raise IndexError("index out of range in self")
    if input.ndim == 0:
        return input.reshape(1) if idx.size else input.reshape(1)[0:0]
    return IndexSelect.apply(input, index=idx % size if size else idx, dim=d)


def index_add(input, dim, index, source, *, alpha=1):
    """``input`` with ``source``'s slices added into slices ``index`` along ``dim``."""
    idx = _index_array(index, "index_add").reshape(-1).astype("int64", copy=False)
    d = normalize_dim(dim, input.ndim)
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= input.shape[d]):
        raise IndexError("index out of range in self")
    src = source if alpha == 1 else source * alpha
    return add(input, IndexAdd.apply(cast(src, input._array.dtype), index=idx, dim=d,
                                     size=input.shape[d]))


def masked_fill(input, mask, value):
    """``input`` with ``value`` where the bool ``mask`` (broadcast) is True."""
    m = mask._array if isinstance(mask, Tensor) else mask
    if m.dtype.kind != "b":
        name = dtypes.from_numpy_dtype(m.dtype).name
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{CPP_NAMES.get(name, name)}")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but "
                               f"got tensor with {value.ndim} dimension(s).")
        value = cast(value, input._array.dtype)
    else:
        value = Tensor._wrap(backend.xp_of(input._array).asarray(value,
                                                                 dtype=input._array.dtype))
    return where(m, value, input)
