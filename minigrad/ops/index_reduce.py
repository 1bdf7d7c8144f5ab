"""Slice-wise reductions and diagonal writes with PyTorch's names: ``index_reduce`` (and
``Tensor.index_reduce_``) and ``Tensor.fill_diagonal_``.

index_reduce(self, dim, index, source, reduce): self's slice index[k] along ``dim`` is combined
with source's slice k by ``reduce`` ('prod', 'mean', 'amax' or 'amin'); with
``include_self=False`` self's own value of every slice written to is left out.  It is
scatter_reduce with ``index`` broadcast along the other dims, so it has the same gradients
(prod: the product of the others; mean: 1/count; amax/amin: split evenly among ties).
fill_diagonal_(value, wrap=False): self[i, i, ..., i] = value in place, for a 2-d tensor or an
n-d one with equal dims; ``wrap`` restarts the diagonal of a tall matrix every (cols + 1) rows.
"""
from __future__ import annotations

from .._warn_once import USER, warn_once
from .. import backend
from ..autograd import is_grad_enabled
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._util import no_complex_kernel, normalize_dim, not_implemented_for, scalar_type_name
from .indexing import setitem
from .inplace import copy_
from .movement_copies import clone
from .scatter_reduce import check_reduce_arguments, scatter_reduce

__all__ = ["index_reduce", "index_reduce_", "fill_diagonal_"]

_REDUCTIONS = ("prod", "mean", "amax", "amin")


def _check(input, dim, index, source, reduce):
    if reduce not in _REDUCTIONS:
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or "
                           f"amin but got {reduce}.")
    for label, value in (("index", index), ("source", source)):
        if not isinstance(value, Tensor):
            raise TypeError(f"index_reduce(): argument '{label}' must be Tensor, not "
                            f"{type(value).__name__}")
    idx = index._array
    if idx.ndim > 1:
        raise IndexError(f"index_reduce_(): Index is supposed to be a vector, but got dim: "
                         f"{idx.ndim} with type: {scalar_type_name(idx.dtype)} and size: "
                         f"{list(idx.shape)}")
    if idx.dtype.name not in ("int32", "int64"):
        raise RuntimeError(f"index_reduce_(): Expected dtype int32/int64 for index but got: "
                           f"{scalar_type_name(idx.dtype)}")
    d = normalize_dim(dim, input.ndim)
    if input._array.dtype != source._array.dtype:
        raise RuntimeError(f"index_reduce_(): self ({scalar_type_name(input._array.dtype)}) and "
                           f"source ({scalar_type_name(source._array.dtype)}) must have the same "
                           f"scalar type")
    n_source = source.shape[d] if source.ndim else 1
    if idx.size != n_source:
        raise RuntimeError(f"index_reduce_(): Number of indices ({idx.size}) should be equal to "
                           f"source.size(dim): ({n_source}), for dim: {d}")
    same = source.ndim == input.ndim and all(
        a == b for k, (a, b) in enumerate(zip(input.shape, source.shape)) if k != d)
    if input.ndim > 0 and not same:
        raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the "
                           f"specified dimension. Got self.shape = {list(input.shape)} "
                           f"source.shape = {list(source.shape)}")
    size = input.shape[d] if input.ndim else 1
    if idx.size and (int(idx.min()) < -size or int(idx.max()) >= size):
        raise IndexError("index out of range in self")
    return d, idx


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """``input`` with source's slices reduced into the slices ``index`` names along ``dim``
    (see the module docstring); a new tensor, differentiable in input and source."""
    check_reduce_arguments("index_reduce", reduce, include_self)
    if not include_self:
        no_complex_kernel("index_reduce_func_exclude_input_init", input)
        if isinstance(input, Tensor) and input._array.dtype.kind == "b":
            raise not_implemented_for("index_reduce_func_exclude_input_init", input._array.dtype)
    elif reduce in ("amax", "amin"):
        no_complex_kernel("maximum_cpu" if reduce == "amax" else "minimum_cpu", input)
    d, idx = _check(input, dim, index, source, reduce)
    if reduce == "mean" and input._array.dtype.kind == "b":   # PyTorch's count division
        raise not_implemented_for("div_floor_cpu", input._array.dtype)
    # PyTorch's TORCH_WARN_ONCE: once per process (every time under set_warn_always(True))
    warn_once("index_reduce() is in beta and the API may change at any time.", UserWarning,
              stacklevel=USER)
    if input.ndim == 0:
        out = scatter_reduce(input, 0, index, source, reduce, include_self=include_self)
        return rename_node(out, "IndexReduceBackward0")          # PyTorch's node
    xp = backend.xp_of(idx)
    size = input.shape[d] if input.ndim else 1
    idx = xp.where(idx < 0, idx + size, idx).astype(xp.int64)
    shape = [1] * source.ndim
    shape[d] = idx.size
    full = xp.broadcast_to(idx.reshape(shape), tuple(source.shape)).copy()
    out = scatter_reduce(input, d, Tensor._wrap(full), source, reduce, include_self=include_self)
    return rename_node(out, "IndexReduceBackward0")              # PyTorch's node


def index_reduce_(input, dim, index, source, reduce, *, include_self=True):
    """In-place index_reduce: ``input`` becomes index_reduce(input, ...); returns it.  The
    reduction reads a clone, so the write does not change what its backward saved."""
    check_reduce_arguments("index_reduce_", reduce, include_self)
    return copy_(input, index_reduce(clone(input), dim, index, source, reduce,
                                     include_self=include_self))


def fill_diagonal_(input, fill_value, wrap=False):
    """Write ``fill_value`` on input's main diagonal in place (see the module docstring);
    returns ``input``."""
    if input.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    shape = tuple(input.shape)
    if input.ndim > 2 and len(set(shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    if input._requires_grad and input.grad_fn is None and is_grad_enabled():
        # PyTorch writes through a strided view of the diagonal, so a leaf gets the words
        # about a view of a leaf
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")
    xp = backend.xp_of(input._array)
    if input.ndim == 2:
        rows, cols = shape
        limit = rows * cols if wrap else min(rows, cols) * cols
        flat = xp.arange(0, limit, cols + 1, dtype=xp.int64)
    else:
        n = shape[0]
        step = sum(n ** k for k in range(input.ndim))
        flat = xp.arange(n, dtype=xp.int64) * step
    coords = xp.unravel_index(flat, shape)
    out = setitem(input, tuple(Tensor._wrap(c.astype(xp.int64)) for c in coords), fill_value)
    # PyTorch fills a strided view of the diagonal: its node is the write through a view's
    return rename_node(out, "torch::autograd::CopySlices")
