"""The makers of sparse COO tensors: ``sparse_coo_tensor``, ``Tensor.to_sparse``,
``zeros``/``empty``/``zeros_like`` with ``layout=sparse_coo``, and the sparse gradient of
``embedding(..., sparse=True)``. The tensor itself is in ``_sparse_coo.py``."""
from __future__ import annotations

import numpy as np

from . import _sparse_kernels as K, backend, creation, dtypes
from ._sparse_coo import _new
from .autograd import Function, is_grad_enabled
from .tensor import Tensor, _to_array

__all__ = ["sparse_coo_tensor", "to_sparse", "embedding_rows"]


def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, pin_memory=False,
                      requires_grad=False, check_invariants=None, is_coalesced=None):
    """PyTorch's ``sparse_coo_tensor``: ``values[k]`` at ``indices[:, k]``; ``size``
    inferred (each sparse dim one past its largest index) when not given."""
    idx = _to_array(indices)
    if idx.dtype.kind not in "iuf":
        raise RuntimeError("indices must be an int64 tensor")
    if backend.xp_of(idx) is not np:
        raise NotImplementedError("sparse tensors: minigrad has them on the CPU only")
    idx = idx.astype(np.int64, copy=False)
    if idx.ndim != 2:
        raise RuntimeError(f"indices must be sparse_dim x nnz, but got: {list(idx.shape)}")
    vals = values if isinstance(values, Tensor) else Tensor._wrap(_to_array(values))
    if dtype is not None and vals.dtype != dtypes.to_dtype(dtype):
        vals = vals.to(dtype)
    if device is not None:
        vals = vals.to(device)
    if vals.device.type != "cpu":
        raise NotImplementedError("sparse tensors: minigrad has them on the CPU only")
    if vals.ndim == 0:
        vals = vals.reshape(1)
    if idx.shape[1] != vals.shape[0]:
        raise RuntimeError(f"indices and values must have same nnz, but got nnz from indices: "
                           f"{idx.shape[1]}, nnz from values: {vals.shape[0]}")
    if size is None:
        sparse_sizes = tuple(int(m) + 1 for m in idx.max(axis=1)) if idx.shape[1] else \
            (0,) * idx.shape[0]
        size = sparse_sizes + tuple(vals.shape[1:])
    size = tuple(int(n) for n in size)
    if len(size) != idx.shape[0] + vals.ndim - 1:
        raise RuntimeError(f"number of dimensions must be sparse_dim ({idx.shape[0]}) + "
                           f"dense_dim ({vals.ndim - 1}), but got {len(size)}")
    if requires_grad:
        vals = vals.detach().requires_grad_()
    elif vals.requires_grad:
        vals = K.SparseCooTensorWithDimsAndTensors.apply(vals)
    return _new(idx, vals, size, bool(is_coalesced) or idx.shape[1] <= 1)


def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
    """A dense tensor's nonzeros as a coalesced COO tensor (its first ``sparse_dim`` dims
    sparse, all of them by default)."""
    if layout not in (None, creation.sparse_coo):
        raise NotImplementedError(f"to_sparse: layout {layout} is not supported (minigrad has "
                                  "the COO layout only)")
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
