"""The sparse CSR tensor that ``sparse_csr_tensor`` and ``Tensor.to_sparse_csr`` make (those,
in ``_sparse_factories.py``), and its products with a dense matrix (``torch.sparse.mm`` with
or without ``reduce=``, ``@``, ``torch.mm``).

A ``SparseCsrTensor`` is a 2-d ``Tensor`` with ``layout == sparse_csr``: row ``i``'s nonzeros
are ``values()[crow_indices()[i]:crow_indices()[i + 1]]``, in the columns
``col_indices()[...]`` of that slice (sorted, distinct). As the COO tensor, it keeps no dense
array and its autograd lives in the dense ``values``, so a leaf's ``.grad`` is a CSR tensor
of its own pattern. Its row of each nonzero (the COO form) is kept beside, for the kernels
the COO tensor shares with it. Batched CSR tensors and dense dims are not supported.
"""
from __future__ import annotations

import copy

import numpy as np

from . import _sparse_kernels as K, creation, dtypes
from ._formatting import THRESHOLD, _ComplexFormatter, _Formatter, _add_suffixes, \
    _format_array, _summarised_values
from ._global_flags import warn_once
from ._sparse_coo import _CSR_BETA, SparseCooTensor, _new as _new_coo
from .autograd import Function
from .ops._util import scalar_type_name
from .tensor import Size, Tensor

__all__ = ["SparseCsrTensor", "csr_mm", "mm_reduce", "REDUCTIONS"]

REDUCTIONS = ("sum", "mean", "amax", "amin", "max", "min")


def _new(crow, col, values, size, rows=None):
    warn_once(_CSR_BETA)            # PyTorch's CSR tensors warn as they are made
    t = object.__new__(SparseCsrTensor)
    t._crow, t._col, t._vals, t._size = crow, col, values, Size(size)
    t._rows = rows if rows is not None else np.repeat(
        np.arange(len(crow) - 1, dtype=np.int64), np.diff(crow.astype(np.int64, copy=False)))
    t._hooks = t._base = t._grad = None
    t._vcounter = values._vcounter          # its writes are the values' writes
    return t


def _refuse(*_):
    raise NotImplementedError("Could not run this operator with arguments from the "
                              "'SparseCsrCPU' backend: a sparse CSR tensor supports only the "
                              "sparse ops (torch.sparse.mm, to_dense(), to_sparse(), ...); call "
                              "to_dense() first")


def _not_coo(name):
    def refuse(self, *args, **kwargs):
        raise RuntimeError(f"{name} expected sparse coordinate tensor layout but got SparseCsr")
    return refuse


def _no_strides(*_, **__):
    raise RuntimeError("Sparse CSR tensors do not have strides")


def _no_contiguity(*_, **__):
    raise RuntimeError("Sparse CSR tensors do not have is_contiguous")


class SparseCsrTensor(Tensor):
    """A 2-d tensor in CSR layout (compressed rows)."""
    _array = property(_refuse)
    is_sparse = False                       # as PyTorch's: ``is_sparse`` means COO
    is_sparse_csr = True

    # -- what it is ---------------------------------------------------------------------------
    layout = property(lambda self: creation.sparse_csr)
    shape = property(lambda self: self._size)
    dtype = property(lambda self: self._vals.dtype)
    device = property(lambda self: self._vals.device)
    ndim = property(lambda self: 2)
    grad_fn = property(lambda self: self._vals.grad_fn)
    is_leaf = property(lambda self: self._vals.grad_fn is None)
    _requires_grad = property(lambda self: self._vals._requires_grad)
    _output_nr = 0

    def sparse_dim(self):
        return 2

    def dense_dim(self):
        return 0

    def _nnz(self):
        return self._col.shape[0]

    def crow_indices(self):
        return Tensor._wrap(self._crow)

    def col_indices(self):
        return Tensor._wrap(self._col)

    def values(self):
        return self._vals

    stride = _no_strides
    is_contiguous = contiguous = reshape = _no_contiguity
    indices = _not_coo("indices")
    coalesce = _not_coo("coalesce")
    is_coalesced = _not_coo("is_coalesced")

    def ccol_indices(self):
        raise RuntimeError("ccol_indices expected sparse column compressed tensor layout but "
                           "got SparseCsr")

    row_indices = ccol_indices

    def __reduce_ex__(self, protocol):
        return (_new, (self._crow, self._col, self._vals, tuple(self._size)))

    def __deepcopy__(self, memo):
        return _new(self._crow.copy(), self._col.copy(), copy.deepcopy(self._vals, memo),
                    self._size)

    # -- autograd: the values carry it ---------------------------------------------------------
    @property
    def grad(self):
        """A leaf's gradient: a CSR tensor of its own pattern, as PyTorch's."""
        g = self._vals._grad
        return None if g is None else self._with(g)

    @grad.setter
    def grad(self, value):
        self._vals._grad = None if value is None else value._vals

    @property
    def data(self):
        return self._with(self._vals.data)

    def detach(self):
        return self._with(self._vals.detach())

    def clone(self, *, memory_format=None):
        return _new(self._crow.copy(), self._col.copy(), self._vals.clone(), self._size)

    # -- conversions ---------------------------------------------------------------------------
    def to_dense(self, dtype=None, *, masked_grad=None):
        if dtype is not None:
            raise RuntimeError("dtype argument is not supported by sparse_csr_to_dense")
        lin = self._rows * self._size[1] + self._col
        return K.ToDense.apply(self._vals, lin=lin, sizes=tuple(self._size), coalesced=True)

    def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
        """The COO form (coalesced; the same values, so gradients flow to this tensor's)."""
        if layout is creation.sparse_csr:
            return self
        if layout not in (None, creation.sparse_coo):
            raise NotImplementedError(f"to_sparse: layout {layout} is not supported (minigrad "
                                      "has the COO and CSR layouts)")
        if sparse_dim is not None and int(sparse_dim) != 2:
            raise RuntimeError("sparse_compressed_to_sparse: conversion from SparseCsr to "
                               "Sparse with sparse_dim argument !=2 is not supported")
        idx = np.stack((self._rows, self._col.astype(np.int64, copy=False)))
        return _new_coo(idx, self._vals, self._size, True)

    def to_sparse_csr(self, dense_dim=None):
        if dense_dim is not None:
            raise RuntimeError("to_sparse_csr: conversion from SparseCsr to SparseCsr with "
                               "dense_dim argument given is not supported")
        return self

    def numpy(self, force=False):
        raise TypeError("can't convert SparseCsr layout tensor to numpy. Use Tensor.to_dense() "
                        "first.")

    def untyped_storage(self):
        raise NotImplementedError("Cannot access storage of SparseCsrTensorImpl")

    def type(self, dtype=None, non_blocking=False):
        if dtype is None:
            raise RuntimeError("Unimplemented backend SparseCsrCPU")
        return self._with(self._vals.type(dtype))

    def view(self, *shape):
        raise NotImplementedError("Could not run 'aten::view' with arguments from the "
                                  "'SparseCsrCPU' backend.")

    def __getitem__(self, item):
        raise NotImplementedError("Could not run 'aten::index' with arguments from the "
                                  "'SparseCsrCPU' backend: index the dense tensor (to_dense())")

    # -- math ----------------------------------------------------------------------------------
    def __neg__(self):
        return self._with(-self._vals)

    neg = __neg__

    def __mul__(self, other):
        if isinstance(other, Tensor) and other.ndim:
            raise NotImplementedError("mul(sparse_csr, dense): minigrad multiplies a CSR "
                                      "tensor by a scalar only")
        return self._with(self._vals * other)

    __rmul__ = mul = __mul__

    def sum(self, dim=None, keepdim=False, dtype=None):
        if dim is not None:
            raise NotImplementedError("sum(dim) of a sparse CSR tensor: minigrad sums all of "
                                      "it only (or to_sparse() first)")
        return (self._vals if dtype is None else self._vals.to(dtype)).sum()

    def mm(self, mat2):
        _check_dense(mat2, "mm", "mat2", 1)
        return csr_mm(self, mat2, "mm")

    def matmul(self, other):
        _check_dense(other, "matmul", "other", 1)
        if not (other.is_sparse or other.is_sparse_csr):
            if other.ndim == 0:
                raise RuntimeError("both arguments to matmul need to be at least 1D, but they "
                                   "are 2D and 0D")
            if other.ndim == 1:
                if other.shape[0] != self._size[1]:
                    raise RuntimeError(f"size mismatch, got input ({self._size[0]}), mat "
                                       f"({self._size[0]}x{self._size[1]}), vec "
                                       f"({other.shape[0]})")
                return csr_mm(self, other.unsqueeze(1), "mm").squeeze(1)
            if other.ndim > 2:
                raise RuntimeError("expand is unsupported for SparseCsr tensors")
        return csr_mm(self, other, "mm")

    def __matmul__(self, other):
        if not isinstance(other, Tensor):
            raise TypeError(f"unsupported operand type(s) for @: 'Tensor' and "
                            f"'{type(other).__name__}'")
        return self.matmul(other)

    def __repr__(self):
        return _repr(self)

    __str__ = __repr__

    # -- helpers -------------------------------------------------------------------------------
    def _with(self, values):
        return _new(self._crow, self._col, values, self._size, self._rows)


# what the COO tensor does the same way for a CSR one
for _name in ("dim", "ndimension", "size", "numel", "nelement", "__len__", "requires_grad",
              "requires_grad_", "backward", "tolist", "data_ptr", "item", "to", "double",
              "float", "half", "cpu", "expand", "flatten"):
    setattr(SparseCsrTensor, _name, SparseCooTensor.__dict__[_name])
del _name


# -- products with a dense matrix --------------------------------------------------------------
def _check_dense(mat2, name, arg, position=2):
    if not isinstance(mat2, Tensor):
        raise TypeError(f"{name}(): argument '{arg}' (position {position}) must be Tensor, "
                        f"not {type(mat2).__name__}")


def csr_mm(csr, dense, caller="sparse.mm"):
    """CSR (n, m) @ dense (m, p) -> dense (n, p), differentiable in the values and the dense
    matrix (the values' gradient is on the CSR pattern). ``caller``: "sparse.mm" for
    ``torch.sparse.mm``, "mm" for ``@`` / ``torch.mm``, whose words differ in PyTorch."""
    _check_dense(dense, "_sparse_mm", "dense")
    if dense.is_sparse or dense.is_sparse_csr:
        raise NotImplementedError("sparse @ sparse: minigrad multiplies a sparse CSR matrix by "
                                  "a dense one only")
    if dense.ndim == 0:
        raise IndexError(f"Dimension specified as {1 if caller == 'mm' else -1} but tensor has "
                         "no dimensions")
    if dense.ndim == 1 and caller == "mm":
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got "
                         "1)")
    if dense.ndim != 2:
        raise RuntimeError(f"mat2 must be a matrix, got {dense.ndim}-D tensor")
    n, m = csr._size
    if dense.dtype != csr.dtype:
        mine, theirs = (scalar_type_name(dense._array.dtype),
                        scalar_type_name(csr._vals._array.dtype))
        if caller == "mm":
            mine, theirs = theirs, mine
        raise RuntimeError(f"expected scalar type {mine} but found {theirs}")
    if dense.shape[0] != m:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({n}x{m} and "
                           f"{dense.shape[0]}x{dense.shape[1]})")
    if not csr.dtype.is_floating_point and not csr.dtype.is_complex:
        raise NotImplementedError('"addmm_out_sparse_csr_impl_mkl" not implemented for '
                                  f"'{scalar_type_name(csr._vals._array.dtype)}'")
    return K.SparseAddmm.apply(csr._vals, dense, rows=csr._rows,
                               cols=csr._col.astype(np.int64, copy=False), n=n)


def mm_reduce(csr, dense, reduce):
    """``torch.sparse.mm(csr, dense, reduce)``: out[i] = the reduction over row i's nonzeros
    k of ``values[k] * dense[col[k]]``; a row without nonzeros gives 0."""
    if not isinstance(reduce, str):
        raise TypeError(f"_sparse_mm(): argument 'reduce' (position 3) must be str, not "
                        f"{type(reduce).__name__}")
    _check_dense(dense, "_sparse_mm", "dense")
    if not isinstance(csr, SparseCsrTensor):
        if isinstance(csr, Tensor) and not csr.is_sparse and dense.is_sparse_csr:
            raise RuntimeError("sparse_mm_reduce: expect self to be SparseCsr, got Strided")
        backend = "SparseCPU" if getattr(csr, "is_sparse", False) else "CPU"
        raise NotImplementedError(f"Could not run 'aten::_sparse_mm_reduce_impl' with "
                                  f"arguments from the '{backend}' backend.")
    if dense.is_sparse or dense.is_sparse_csr:
        kind = "Sparse" if dense.is_sparse else "SparseCsr"
        raise RuntimeError(f"Expected tensor to have Strided Layout, but got tensor with {kind} "
                           "Layout (while checking arguments for sparse_mm_reduce)")
    if dense.dtype != csr.dtype:
        raise RuntimeError(f"Expected tensor for argument #1 'other' to have scalar type "
                           f"{scalar_type_name(csr._vals._array.dtype)}; but got "
                           f"{dtypes.legacy_type_name(dense._array.dtype)} instead (while "
                           "checking arguments for sparse_mm_reduce)")
    m = csr._size[1]
    if dense.ndim != 2 or dense.shape[0] != m:
        first = dense.shape[0] if dense.ndim else 1
        raise RuntimeError(f"Expected a tensor of dimension 2 and tensor.size[0] == {m} but "
                           f"got: dimension {dense.ndim} and tensor.size[0] = {first}")
    if reduce not in REDUCTIONS:
        if reduce == "prod":
            raise RuntimeError("sparse_mm_reduce: reduce type of prod has not been enabled.")
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    if not csr.dtype.is_floating_point:
        raise NotImplementedError('"spmm_reduce_kernel" not implemented for '
                                  f"'{scalar_type_name(csr._vals._array.dtype)}'")
    reduce = {"max": "amax", "min": "amin"}.get(reduce, reduce)
    counts = np.diff(csr._crow.astype(np.int64, copy=False))
    return SparseMmReduceImpl.apply(csr._vals, dense, rows=csr._rows,
                                    cols=csr._col.astype(np.int64, copy=False), counts=counts,
                                    reduce=reduce)


def _extremes(values, dense, cols, counts, largest):
    """Each row's largest (smallest) product ``values[k] * dense[cols[k]]`` per column, and
    which k gave it (-1: none), as PyTorch's running comparison picks it: starting from -inf
    (+inf), it moves on a strictly better product or on a NaN, so the first of tied products
    wins, the last NaN beats everything, and a column of -inf (+inf) products has no winner
    (its value stays -inf, +inf). The rows are grouped by their count rounded up to a power
    of two and padded to it, as in ``_sparse_kernels._csr_product``: one (rows, width, p)
    block per group, no loop over rows or nonzeros."""
    n, p = counts.shape[0], dense.shape[1]
    bound = -np.inf if largest else np.inf
    out = np.zeros((n, p), np.result_type(values, dense))
    win = np.full((n, p), -1, np.int64)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    full = np.flatnonzero(counts)
    level = np.ceil(np.log2(counts[full])).astype(np.int64)
    for lv in np.unique(level):
        group = full[level == lv]
        width = np.arange(1 << int(lv))
        inside = width < counts[group, None]
        at = np.where(inside, starts[group, None] + width, 0)              # (r, width)
        block = values[at][..., None] * dense[cols[at]]                   # (r, width, p)
        block[~inside] = bound
        nan = np.isnan(block)
        some_nan = nan.any()
        tame = np.where(nan, bound, block) if some_nan else block
        first = (np.argmax if largest else np.argmin)(tame, axis=1)      # the first best
        best = np.take_along_axis(tame, first[:, None], axis=1)[:, 0]
        arg = np.where(best == bound, -1, first)
        if some_nan:
            last_nan = width.size - 1 - np.argmax(nan[:, ::-1], axis=1)
            arg = np.where(nan.any(axis=1), last_nan, arg)
            best = np.where(arg >= 0, np.take_along_axis(
                block, np.maximum(arg, 0)[:, None], axis=1)[:, 0], best)
        out[group] = best
        win[group] = np.where(arg >= 0, starts[group, None] + arg, -1)
    return out, win


class SparseMmReduceImpl(Function):
    """values (nnz,), dense (m, p) -> (n, p): each row's reduction of its products
    ``values[k] * dense[cols[k]]``; a row without nonzeros gives 0. sum and mean are the
    product of ``_sparse_kernels`` (divided by the row's count); amax/amin, ``_extremes``.
    Backward: each product's share of the output's gradient (all of it, 1/count for mean,
    the winner's alone for amax/amin) times the other factor."""
    first_order_only = True
    half_in_float32 = True

    def forward(self, values, dense, rows=None, cols=None, counts=None, reduce="sum"):
        self.save_for_backward(values, dense)
        self._rows, self._cols, self._counts, self._reduce = rows, cols, counts, reduce
        if reduce in ("amax", "amin"):
            out, self._win = _extremes(values, dense, cols, counts, reduce == "amax")
            return out
        out = K._csr_product(rows, cols, values, dense, counts.shape[0])
        return out / np.maximum(counts, 1)[:, None].astype(out.dtype) if reduce == "mean" \
            else out

    def backward(self, g):
        values, dense = self.saved_tensors
        need_v, need_d = self.needs_input_grad
        rows, cols = self._rows, self._cols
        m, p = dense.shape
        gv = gd = None
        if self._reduce in ("amax", "amin"):
            # one winner per output element at most: gradients by bincount over the winners
            row, col = np.nonzero(self._win >= 0)
            k = self._win[row, col]
            gk = g[row, col]
            if need_v:
                gv = np.bincount(k, gk * dense[cols[k], col], minlength=values.shape[0])
            if need_d:
                gd = np.bincount(cols[k] * p + col, gk * values[k],
                                 minlength=m * p).reshape(m, p)
        else:
            if self._reduce == "mean":
                g = g / np.maximum(self._counts, 1)[:, None].astype(g.dtype)
            if need_v:
                gv = np.einsum("kp,kp->k", g[rows], dense[cols])
            if need_d:
                gd = K._csr_product(cols, rows, values, g, m)
        return (None if gv is None else gv.astype(values.dtype, copy=False),
                None if gd is None else gd.astype(dense.dtype, copy=False))


class SparseCompressedTensor(K.SparseCooTensorWithDimsAndTensors):
    """The values of a new CSR tensor, as given: the COO constructor's pass-through node,
    under torch's name for this one."""
    complex_ok = True


class ToSparseCsr(Function):
    """A dense matrix's entries at the flat positions ``at``: the values of its CSR form.
    Backward: their gradients scattered back into a zero matrix."""
    first_order_only = True
    complex_ok = True          # a gather: linear, no conjugate in backward

    def forward(self, dense, at=None):
        self._at = at
        return dense.reshape(-1)[at]

    def backward(self, g):
        shape, dtype = self._in_meta[0]
        out = np.zeros(int(np.prod(shape)), dtype)
        out[self._at] = g
        return out.reshape(shape)


# -- repr ----------------------------------------------------------------------------------------
def _part(a, indent):
    """An index or value array as the sparse repr shows it, laid out for ``indent``."""
    if a.size == 0:
        return f"[], size={tuple(a.shape)}"
    shown = _summarised_values(a)
    fmt = _ComplexFormatter(shown) if a.dtype.kind == "c" else _Formatter(shown)
    return _format_array(a, fmt, indent, a.size > THRESHOLD)


def _repr(s):
    values = s._vals.detach()
    v = values._array.astype(np.float32) if values.dtype == dtypes.bfloat16 else values.numpy()
    text = (f"tensor(crow_indices=tensor({_part(s._crow, 27)}),\n"
            f"       col_indices=tensor({_part(s._col, 26)}),\n"
            f"       values=tensor({_part(v, 21)})")
    suffixes = [f"size={tuple(s._size)}", f"nnz={s._nnz()}"]
    if s.dtype not in (dtypes.default_float(), dtypes.int64, dtypes.bool_):
        suffixes.append(f"dtype={s.dtype!r}")
    suffixes.append(f"layout={creation.sparse_csr!r}")
    if s.grad_fn is not None:
        suffixes.append(f"grad_fn=<{s.grad_fn.name()}>")
    elif s.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(text, suffixes, 7)
