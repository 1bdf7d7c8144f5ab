"""The makers of sparse tensors: ``sparse_coo_tensor``, ``sparse_csr_tensor``,
``Tensor.to_sparse``/``to_sparse_csr``, ``Tensor.sparse_mask``, ``zeros``/``empty``/``zeros_like``
with ``layout=sparse_coo``, the sparse gradient of ``embedding(..., sparse=True)``, and the
index conversions ``_convert_indices_from_coo_to_csr`` / ``_csr_to_coo`` (graph libraries turn
sorted row indices into row pointers with them). The
tensors themselves are in ``_sparse_coo.py`` and ``_sparse_csr.py``."""
from __future__ import annotations

import numpy as np

from . import _sparse_csr as csr, _sparse_kernels as K, backend, creation, dtypes
from ._global_flags import warn_once
from ._sparse_coo import _new
from .autograd import Function, is_grad_enabled
from .autograd._node_names import rename_node
from .tensor import Tensor
from ._data_conversion import _to_array

__all__ = ["sparse_coo_tensor", "sparse_csr_tensor", "to_sparse", "to_sparse_coo",
           "to_sparse_csr", "sparse_mask", "embedding_rows", "_convert_indices_from_coo_to_csr",
           "_convert_indices_from_csr_to_coo"]


def _values(values, dtype, device):
    """A sparse tensor's values as a tensor of ``dtype`` on ``device`` (the CPU only)."""
    vals = values if isinstance(values, Tensor) else Tensor._wrap(_to_array(values))
    if dtype is not None and vals.dtype != dtypes.to_dtype(dtype):
        vals = vals.to(dtype)
    if device is not None:
        vals = vals.to(device)
    if vals.device.type != "cpu":
        raise NotImplementedError("sparse tensors: minigrad has them on the CPU only")
    return vals


_UNCHECKED = ("Sparse invariant checks are implicitly disabled. Memory errors (e.g. SEGFAULT) "
              "will occur when operating on a sparse tensor which violates the invariants, but "
              "checks incur performance overhead. To silence this warning, explicitly opt in "
              "or out. See `torch.sparse.check_sparse_tensor_invariants.__doc__` for guidance.")


# the process-wide default of ``check_invariants`` (torch.sparse.check_sparse_tensor_invariants),
# and whether a program has set it: until then each constructor warns that it is implicitly off
_INVARIANTS = {"enabled": False, "explicit": False}


def set_check_invariants(enabled):
    """Sets the process-wide default of the constructors' ``check_invariants``."""
    _INVARIANTS["enabled"], _INVARIANTS["explicit"] = bool(enabled), True


def check_invariants_enabled():
    """The process-wide default of the constructors' ``check_invariants``."""
    return _INVARIANTS["enabled"]


def resolve_check(check_invariants):
    """Whether a constructor checks its indices: ``check_invariants``, or where it is None the
    process-wide default, with PyTorch's warning while no program has chosen one."""
    if check_invariants is not None:
        return bool(check_invariants)
    if not _INVARIANTS["explicit"]:
        warn_once(_UNCHECKED)
    return _INVARIANTS["enabled"]


def _check_coo(idx, size, is_coalesced):
    """PyTorch's checks of COO indices against the size (per sparse dim: no negative index,
    none at or past the size; None: the first only) and of a claimed ``is_coalesced``
    (sorted, unique)."""
    if idx.shape[1] == 0:
        return
    for d in range(idx.shape[0]):
        low, high = int(idx[d].min()), int(idx[d].max())
        if low < 0:
            raise RuntimeError(f"found negative index {low} for dim {d}")
        if size is not None and high >= size[d]:
            raise RuntimeError(f"size is inconsistent with indices: for dim {d}, size is "
                               f"{size[d]} but found index {high}")
    if is_coalesced:
        lin = K.linear_index(idx, tuple(size[:idx.shape[0]]))
        if (np.diff(lin) <= 0).any():
            raise RuntimeError("cannot set is_coalesced to true if indices correspond to "
                               "uncoalesced COO tensor")


def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, pin_memory=False,
                      requires_grad=False, check_invariants=None, is_coalesced=None):
    """PyTorch's ``sparse_coo_tensor``: ``values[k]`` at ``indices[:, k]``; ``size``
    inferred (each sparse dim one past its largest index) when not given.  With
    ``check_invariants`` (or its process-wide default on) the indices are checked against
    the size."""
    check = resolve_check(check_invariants)
    idx = _to_array(indices)
    if idx.dtype.kind not in "iuf":
        raise RuntimeError("indices must be an int64 tensor")
    if backend.xp_of(idx) is not np:
        raise NotImplementedError("sparse tensors: minigrad has them on the CPU only")
    idx = idx.astype(np.int64, copy=False)
    if idx.ndim != 2:
        raise RuntimeError(f"indices must be sparse_dim x nnz, but got: {list(idx.shape)}")
    vals = _values(values, dtype, device)
    if vals.ndim == 0:
        vals = vals.reshape(1)
    if idx.shape[1] != vals.shape[0]:
        raise RuntimeError(f"indices and values must have same nnz, but got nnz from indices: "
                           f"{idx.shape[1]}, nnz from values: {vals.shape[0]}")
    if size is None:
        # (a size read off the indices is checked for negative indices, checks or not)
        _check_coo(idx, None, False)
        sparse_sizes = tuple(int(m) + 1 for m in idx.max(axis=1)) if idx.shape[1] else \
            (0,) * idx.shape[0]
        size = sparse_sizes + tuple(vals.shape[1:])
    size = tuple(int(n) for n in size)
    if len(size) != idx.shape[0] + vals.ndim - 1:
        raise RuntimeError(f"number of dimensions must be sparse_dim ({idx.shape[0]}) + "
                           f"dense_dim ({vals.ndim - 1}), but got {len(size)}")
    if check:
        _check_coo(idx, size, is_coalesced)
    if requires_grad:
        vals = vals.detach().requires_grad_()
    elif vals.requires_grad:
        vals = K.SparseCooTensorWithDimsAndTensors.apply(vals)
    return _new(idx, vals, size, bool(is_coalesced) or idx.shape[1] <= 1)


def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
    """A dense tensor's nonzeros as a coalesced COO tensor (its first ``sparse_dim`` dims
    sparse, all of them by default)."""
    if layout is creation.sparse_csr:
        if sparse_dim is not None:
            raise TypeError("to_sparse() takes 0 positional arguments but 1 was given")
        if blocksize is not None:
            raise RuntimeError("dense_to_sparse: conversion from Strided to SparseCsr with "
                               "blocksize argument given is not supported")
        return _dense_to_csr(self, dense_dim, "dense_to_sparse")
    if layout not in (None, creation.sparse_coo):
        raise NotImplementedError(f"to_sparse: layout {layout} is not supported (minigrad has "
                                  "the COO and CSR layouts)")
    sd = self.ndim if sparse_dim is None else int(sparse_dim)
    if not 0 <= sd <= self.ndim:
        raise RuntimeError(f"sparse_dim must be in [0, {self.ndim}], got {sd}")
    a = self._array
    if backend.xp_of(a) is not np:
        raise NotImplementedError("sparse tensors: minigrad has them on the CPU only")
    if a.dtype.kind == "c" and self.requires_grad and is_grad_enabled():
        raise RuntimeError("_to_sparse does not support automatic differentiation for outputs "
                           "with complex dtype.")
    mask = a != 0 if sd == a.ndim else (a != 0).reshape(a.shape[:sd] + (-1,)).any(-1)
    idx = np.stack(np.nonzero(mask)).astype(np.int64).reshape(sd, -1)
    vals = self[tuple(Tensor._wrap(r) for r in idx)] if sd else self.unsqueeze(0)
    return _new(idx, vals, self.shape, True)


def sparse_csr_tensor(crow_indices, col_indices, values, size=None, *, dtype=None, device=None,
                      pin_memory=False, requires_grad=False, check_invariants=None):
    """PyTorch's ``sparse_csr_tensor``: row i's values are ``values[crow_indices[i]:
    crow_indices[i + 1]]``, in the columns ``col_indices`` of that slice; ``size`` inferred
    (one column past the largest index) when not given. The invariants are always checked
    (as PyTorch's ``check_invariants=True``), since the kernels rely on them; that argument
    adds PyTorch's checks of the index dtypes."""
    check_invariants = resolve_check(check_invariants)
    crow, col = _to_array(crow_indices), _to_array(col_indices)
    if backend.xp_of(crow) is not np or backend.xp_of(col) is not np:
        raise NotImplementedError("sparse tensors: minigrad has them on the CPU only")
    if crow.ndim == 0:
        raise RuntimeError("crow_indices must have dimensionality >= 1 but got 0")
    if crow.ndim != col.ndim:
        raise RuntimeError(f"crow_indices and col_indices dimensionalities must be equal but "
                           f"got {crow.ndim} and {col.ndim}, respectively")
    if size is None and col.dtype.kind not in "iu":
        raise NotImplementedError('"estimate_sparse_compressed_tensor_size" not implemented '
                                  f"for '{dtypes.scalar_type_name(col.dtype)}'")
    _check_index_dtypes(crow.dtype, col.dtype, check_invariants)
    if crow.ndim > 1:
        raise NotImplementedError(_NO_BATCH)
    vals = _values(values, dtype, device)
    if vals.ndim == 0:
        raise RuntimeError("values must have dimensionality > sum of batch and block "
                           "dimensionalities (=0 + 0) but got 0")
    if vals.ndim > 1:
        raise NotImplementedError(_NO_BATCH)
    if col.shape[0] != vals.shape[0]:
        raise RuntimeError(f"col_indices.shape[-1] must be equal to nnz (={vals.shape[0]}) as "
                           f"defined by values.shape[0], but got {col.shape[0]}")
    if size is None:
        size = (max(crow.shape[0] - 1, 0), int(col.max()) + 1 if col.size else 0)
    size = tuple(int(n) for n in size)
    if len(size) != 2:
        raise RuntimeError(f"tensor dimensionality must be sum of batch, base, and dense "
                           f"dimensionalities (=0 + 2 + 0) but got {len(size)}")
    if min(size) < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(size)}: "
                           f"{list(size)}")
    if crow.shape[0] != size[0] + 1:
        raise RuntimeError(f"crow_indices.shape[-1] must be equal to the number of rows + 1 "
                           f"(={size[0] + 1}), but got {crow.shape[0]}")
    _check_invariants(crow.astype(np.int64), col.astype(np.int64), size[1])
    if requires_grad:
        if not (vals.dtype.is_floating_point or vals.dtype.is_complex):
            raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                               "gradients")
        vals = vals.detach().requires_grad_()
    elif vals.requires_grad:
        vals = csr.SparseCompressedTensor.apply(vals)
    return csr._new(crow, col, vals, size)


_NO_BATCH = ("sparse CSR tensors with batch or dense dimensions are not supported: minigrad's "
             "CSR tensors are 2-D, their crow_indices, col_indices and values 1-D")


def _check_index_dtypes(crow, col, check_invariants):
    """Integer indices (PyTorch's checks of their dtypes, which it runs only with
    ``check_invariants=True``, where the indices are not integers)."""
    strict = bool(check_invariants) or crow.kind not in "iu" or col.kind not in "iu"
    if strict and crow != col:
        raise RuntimeError(f"crow_indices and col_indices must have the same dtype, bot got "
                           f"{dtypes.scalar_type_name(crow)} and "
                           f"{dtypes.scalar_type_name(col)}, respectively")
    if strict and crow not in (np.int32, np.int64):
        raise RuntimeError(f"crow_indices and col_indices dtype must be Int or Long, but got "
                           f"{dtypes.scalar_type_name(crow)}")


def _check_invariants(crow, col, ncols):
    """PyTorch's invariants of a CSR tensor, checked in its order (the per-row ones row by
    row): rows start at 0, end at nnz, columns in range, then for each row a count in
    [0, ncols] and sorted, distinct columns."""
    nnz = col.shape[0]
    if crow[0] != 0:
        raise RuntimeError("`crow_indices[..., 0] == 0` is not satisfied.")
    if crow[-1] != nnz:
        raise RuntimeError("`crow_indices[..., -1] == nnz` is not satisfied.")
    if nnz and (col.min() < 0 or col.max() >= ncols):
        raise RuntimeError("`0 <= col_indices < ncols` is not satisfied.")
    counts = np.diff(crow)
    bad = np.flatnonzero((counts < 0) | (counts > ncols))
    first_bad = bad[0] if bad.size else counts.size
    # the rows before it are well formed: a column not above its predecessor in one of them
    rows = np.repeat(np.arange(first_bad), counts[:first_bad])[:nnz]
    k = rows.size
    if k > 1 and ((rows[1:] == rows[:-1]) & (col[1:k] <= col[:k - 1])).any():
        raise RuntimeError("`col_indices[..., crow_indices[..., i - 1]:crow_indices[..., i]] "
                           "for all i = 1, ..., nrows are sorted and distinct along the last "
                           "dimension values` is not satisfied.")
    if bad.size:
        raise RuntimeError("`0 <= crow_indices[..., 1:] - crow_indices[..., :-1] <= ncols` is "
                           "not satisfied.")


def to_sparse_coo(self):
    """``to_sparse()`` with its defaults: the COO form of a dense or CSR tensor (a COO tensor
    itself)."""
    return self.to_sparse()


def to_sparse_csr(self, dense_dim=None):
    """A dense matrix's nonzeros (or a COO matrix's entries) as a CSR tensor, differentiable
    in the values."""
    if self.is_sparse:
        if self.sparse_dim() != 2:
            raise RuntimeError("coo_to_sparse_csr: conversion from Sparse to SparseCsr for "
                               "input tensors with sparse_dim()!=2 is not supported")
        if dense_dim is not None:
            raise RuntimeError("coo_to_sparse_csr: conversion from Sparse to SparseCsr with "
                               "dense_dim argument given is not supported")
        if self.dense_dim():
            raise NotImplementedError(_NO_BATCH)
        s = self.coalesce()
        crow = np.zeros(s.shape[0] + 1, np.int64)
        np.cumsum(np.bincount(s._idx[0], minlength=s.shape[0]), out=crow[1:])
        return csr._new(crow, s._idx[1].copy(), s._vals, s.shape)
    return _dense_to_csr(self, dense_dim, "dense_to_sparse_csr")


def _dense_to_csr(self, dense_dim, name):
    a = self._array
    if backend.xp_of(a) is not np:
        raise NotImplementedError("sparse tensors: minigrad has them on the CPU only")
    if a.ndim < 2:      # PyTorch's own error, from the nonzeros' (nnz, ndim) indices
        raise IndexError(f"select(): index 1 out of range for tensor of size "
                         f"[{int(np.count_nonzero(a))}, {a.ndim}] at dimension 1")
    if dense_dim is not None and not 0 <= dense_dim <= a.ndim - 2:
        raise RuntimeError(f"{name}: dense_dim argument must be in [0,{a.ndim - 2}] range, but "
                           f"{dense_dim} is given")
    if a.ndim > 2 or dense_dim:
        raise NotImplementedError(_NO_BATCH)
    if a.dtype.kind == "c" and self.requires_grad and is_grad_enabled():
        raise RuntimeError("_to_sparse_csr does not support automatic differentiation for "
                           "outputs with complex dtype.")
    at = np.flatnonzero(a != 0)
    rows, cols = np.divmod(at, a.shape[1])
    crow = np.zeros(a.shape[0] + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=a.shape[0]), out=crow[1:])
    return csr._new(crow, cols.astype(np.int64), csr.ToSparseCsr.apply(self, at=at), a.shape)


def sparse_mask(self, mask):
    """``self``'s entries at the positions a sparse ``mask`` specifies, as a sparse tensor of
    the mask's layout and pattern (its indices as they are, repeats and order kept; a hybrid
    COO mask takes whole dense rows); the values are gathered from ``self`` differentiably."""
    if not isinstance(mask, Tensor) or not (mask.is_sparse or mask.is_sparse_csr):
        raise NotImplementedError("Could not run 'aten::sparse_mask' with arguments from the "
                                  "'CPU' backend: the mask must be a sparse tensor")
    if tuple(self.shape) != tuple(mask.shape):
        raise RuntimeError(f"sparse_mask(): operands have incompatible sizes; self has size "
                           f"{list(self.shape)} but mask has size {list(mask.shape)}")
    dense = self.to_dense() if self.is_sparse or self.is_sparse_csr else self
    if mask.is_sparse_csr:
        values = dense[Tensor._wrap(mask._rows), Tensor._wrap(mask._col)]
        return csr._new(mask._crow.copy(), mask._col.copy(),
                        rename_node(values, "SparseMaskBackward0"), mask.shape)
    idx = np.asarray(mask._idx, dtype=np.int64)
    values = dense[tuple(Tensor._wrap(row) for row in idx)]
    return _new(idx.copy(), rename_node(values, "SparseMaskBackward0"), mask.shape, mask._coal)


def _index_dtype(out_int32):
    return dtypes.int32 if out_int32 else dtypes.int64


def _convert_indices_from_coo_to_csr(input, size, *, out_int32=False, out=None):
    """The row pointers (``size + 1`` of them) of a CSR matrix whose sorted COO row indices
    are ``input``: entry i counts the indices below i."""
    rows = np.asarray(input.detach().cpu().numpy()).reshape(-1)
    crow = np.searchsorted(rows, np.arange(int(size) + 1), side="left")
    result = Tensor._wrap(crow.astype(_index_dtype(out_int32).np))
    if out is not None:
        return out.resize_(result.shape).copy_(result)
    return result


def _convert_indices_from_csr_to_coo(crow_indices, col_indices, *, out_int32=False,
                                     transpose=False):
    """The (2, nnz) COO indices of a CSR matrix: each row repeated over its entries, then the
    columns (the two rows swapped when ``transpose``)."""
    crow = np.asarray(crow_indices.detach().cpu().numpy()).astype(np.int64)
    col = np.asarray(col_indices.detach().cpu().numpy()).astype(np.int64)
    rows = np.repeat(np.arange(crow.size - 1, dtype=np.int64), np.diff(crow))
    pair = (col, rows) if transpose else (rows, col)
    return Tensor._wrap(np.stack(pair).astype(_index_dtype(out_int32).np))


class _SparseRows(Function):
    """``embedding(..., sparse=True)``: rows of the weight; the weight's gradient is a sparse
    tensor holding one row per index used (the padding index left out), as PyTorch's."""

    def forward(self, weight, index=None, padding_idx=None):
        self._index, self._pad, self._shape = index, padding_idx, weight.shape
        return weight[index]

    def backward(self, g):
        keep = self._index if self._pad is None else self._index[self._index != self._pad]
        rows = g if self._pad is None else g[Tensor._wrap(np.flatnonzero(
            self._index != self._pad))]
        return _new(keep[None].astype(np.int64), rows.detach(), self._shape, False)


def embedding_rows(weight, index, padding_idx):
    return _SparseRows.apply(weight, index=index, padding_idx=padding_idx)


def _sparse_zeros(size, dtype, device, requires_grad):
    """``zeros``/``empty`` with ``layout=sparse_coo``: no nonzeros, every dim sparse."""
    if device is not None and backend.device(device).type != "cpu":
        raise NotImplementedError("sparse tensors: minigrad has them on the CPU only")
    np_dtype = dtypes.to_dtype(dtype if dtype is not None else dtypes.default_float()).np
    values = Tensor._wrap(np.zeros(0, np_dtype))
    if requires_grad:
        values.requires_grad_()
    return _new(np.zeros((len(size), 0), np.int64), values, tuple(size), True)


creation.sparse_zeros = _sparse_zeros
