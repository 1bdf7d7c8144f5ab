"""The sparse COO tensor that ``sparse_coo_tensor`` and ``Tensor.to_sparse`` make (those, in
``_sparse_factories.py``).

A ``SparseCooTensor`` is a ``Tensor`` (``isinstance`` holds) with ``layout ==
sparse_coo`` that keeps no dense array: it holds ``indices`` (sparse_dim, nnz) int64, a
dense ``values`` tensor (nnz, *dense_dims), its size and whether it is coalesced (indices
sorted and unique). Its autograd lives in the values: every op here is a differentiable op
on them (the kernels are in ``_sparse_kernels.py``), so a graph through a sparse tensor ends
in the values' sources. The ops PyTorch runs on sparse tensors and graph code uses are
methods here; any other op reaches for the dense array, which a sparse tensor refuses as
PyTorch does (NotImplementedError), pointing at ``to_dense()``.
"""
from __future__ import annotations

import copy
import numbers
import re

import numpy as np

from . import _sparse_kernels as K, creation, dtypes
from ._global_flags import warn_once
from ._sparse_coo_ops import SparseValueOps
from .autograd._node_names import rename_node
from .ops._util import scalar_type_name
from .tensor import Size, Tensor

__all__ = ["SparseCooTensor", "spmm"]


def _new(indices, values, size, coalesced):
    t = object.__new__(SparseCooTensor)
    t._idx, t._vals, t._size, t._coal = indices, values, Size(size), coalesced
    t._hooks = t._base = t._grad = None
    t._vcounter = values._vcounter          # its writes are the values' writes
    return t


def _refuse(*_):
    raise NotImplementedError("Could not run this operator with arguments from the 'SparseCPU' "
                              "backend: a sparse COO tensor supports only the sparse ops "
                              "(torch.sparse.mm, to_dense(), coalesce(), ...); call to_dense() "
                              "first")


class SparseCooTensor(SparseValueOps, Tensor):
    """A tensor in COO layout: ``values()[k]`` sits at ``indices()[:, k]``; repeated
    positions add up."""
    _array = property(_refuse)
    is_sparse = True

    # -- what it is ---------------------------------------------------------------------------
    layout = property(lambda self: creation.sparse_coo)
    shape = property(lambda self: self._size)
    dtype = property(lambda self: self._vals.dtype)
    device = property(lambda self: self._vals.device)
    ndim = property(lambda self: len(self._size))
    grad_fn = property(lambda self: self._vals.grad_fn)
    is_leaf = property(lambda self: self._vals.grad_fn is None)
    _requires_grad = property(lambda self: self._vals._requires_grad)
    _output_nr = 0

    def dim(self):
        return len(self._size)

    ndimension = dim

    def size(self, dim=None):
        return self._size if dim is None else self._size[self._normalize_dim(dim, len(self._size))]

    def numel(self):
        return self._size.numel()

    nelement = numel

    def sparse_dim(self):
        return self._idx.shape[0]

    def dense_dim(self):
        return len(self._size) - self._idx.shape[0]

    def _nnz(self):
        return self._idx.shape[1]

    def is_coalesced(self):
        return self._coal

    def __len__(self):
        if not self._size:
            raise TypeError("len() of a 0-d tensor")
        return self._size[0]

    def stride(self, dim=None):
        """Zeros, as PyTorch reports for a tensor without a strided layout."""
        return (0,) * len(self._size) if dim is None else 0

    def __reduce_ex__(self, protocol):
        return (_new, (self._idx, self._vals, tuple(self._size), self._coal))

    def __deepcopy__(self, memo):
        return _new(self._idx.copy(), copy.deepcopy(self._vals, memo), self._size, self._coal)

    def is_contiguous(self, memory_format=None):
        return False

    def indices(self):
        if not self._coal:
            raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call "
                               ".coalesce() first")
        return self._indices()

    def values(self):
        if not self._coal:
            raise RuntimeError("Cannot get values on an uncoalesced tensor, please call "
                               ".coalesce() first")
        return self._vals

    def _indices(self):
        return Tensor._wrap(self._idx)

    def _values(self):      # an alias outside the graph, as PyTorch's (values() is in it)
        return self._vals.detach()

    # -- autograd: the values carry it ---------------------------------------------------------
    @property
    def requires_grad(self):
        return self._vals.requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad=True):
        self._vals.requires_grad_(requires_grad)
        return self

    @property
    def grad(self):
        """A leaf's gradient: sparse, on its coalesced pattern (each position once), as
        PyTorch's."""
        g = self._vals._grad
        if g is None or g.is_sparse:
            return g
        idx = self._idx
        if not self._coal and idx.shape[1]:
            lin = K.linear_index(idx, self._size[:idx.shape[0]])
            keys, first = np.unique(lin, return_index=True)
            idx, g = idx[:, first], Tensor._wrap(g._array[first])
        return _new(idx, g, self._size, False)

    @grad.setter
    def grad(self, value):
        self._vals._grad = None if value is None else value.coalesce()._vals

    @property
    def data(self):
        return _new(self._idx, self._vals.data, self._size, self._coal)

    def detach(self):
        return _new(self._idx, self._vals.detach(), self._size, self._coal)

    def clone(self, *, memory_format=None):
        return _new(self._idx.copy(), self._vals.clone(), self._size, self._coal)

    def backward(self, *args, **kwargs):
        raise RuntimeError("backward() of a sparse tensor: reduce it to a dense one first "
                           "(torch.sparse.sum(s), s.to_dense())")

    # -- conversions ---------------------------------------------------------------------------
    def coalesce(self):
        if self._coal:
            return self
        idx = self._idx
        lin = K.linear_index(idx, self._size[:idx.shape[0]])
        order = np.argsort(lin, kind="stable")
        starts, keys = K.runs(lin[order])
        values = K.Coalesce.apply(self._vals, order=order, starts=starts)
        sizes = self._size[:idx.shape[0]]
        new_idx = np.stack(np.unravel_index(keys, sizes)).astype(np.int64) if sizes else \
            idx[:, :keys.size]
        return _new(new_idx.reshape(idx.shape[0], -1), values, self._size, True)

    def to_dense(self, dtype=None, *, masked_grad=None):
        out = K.ToDense.apply(self._vals, lin=K.linear_index(self._idx, self._sparse_sizes()),
                              sizes=self._sparse_sizes(), coalesced=self._coal)
        return out if dtype is None else out.to(dtype)

    def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
        if layout is creation.sparse_csr:
            return self.to_sparse_csr(dense_dim)
        if layout not in (None, creation.sparse_coo):
            raise NotImplementedError(f"to_sparse: layout {layout} is not supported "
                                      "(minigrad has the COO and CSR layouts)")
        return self

    def numpy(self, force=False):
        raise TypeError("can't convert Sparse layout tensor to numpy. Use Tensor.to_dense() "
                        "first.")

    def tolist(self):
        raise RuntimeError("Cannot access data pointer of Tensor that doesn't have storage")

    data_ptr = tolist

    def item(self):
        if self.numel() != 1:
            raise RuntimeError(f"a Tensor with {self.numel()} elements cannot be converted to "
                               "Scalar")
        return self.to_dense().item()

    def to(self, *args, **kwargs):
        """dtype / device conversions of the values (the layout stays sparse)."""
        return self._with(self._vals.to(*args, **kwargs))

    def double(self):
        return self._with(self._vals.double())

    def float(self):
        return self._with(self._vals.float())

    def half(self):
        return self._with(self._vals.half())

    def cpu(self):
        return self._with(self._vals.cpu())

    def type(self, dtype=None, non_blocking=False):
        if dtype is None:
            return f"minigrad.sparse.{self._vals.type().split('.')[-1]}"
        return self._with(self._vals.type(dtype))

    def view(self, *shape):
        raise NotImplementedError("Could not run 'aten::view' with arguments from the "
                                  "'SparseCPU' backend.")

    def reshape(self, *shape):
        raise RuntimeError("reshape is not implemented for sparse tensors")

    def flatten(self, start_dim=0, end_dim=-1):
        return self.reshape(-1)

    def expand(self, *sizes):
        raise RuntimeError("expand is unsupported for Sparse tensors")

    def __getitem__(self, item):
        raise NotImplementedError("Could not run 'aten::index' with arguments from the "
                                  "'SparseCPU' backend: index the dense tensor (to_dense())")

    # -- math ----------------------------------------------------------------------------------
    def t(self):
        if self.sparse_dim() != 2 or self.dense_dim():
            raise RuntimeError(f"t() expects a tensor with <= 2 sparse and 0 dense dimensions, "
                               f"but got {self.sparse_dim()} sparse and {self.dense_dim()} "
                               "dense dimensions")
        return self.transpose(0, 1)

    def transpose(self, dim0, dim1):
        n = len(self._size)
        d0, d1 = self._normalize_dim(dim0, n), self._normalize_dim(dim1, n)
        if d0 == d1:
            return self
        sd = self.sparse_dim()
        if (d0 < sd) != (d1 < sd):
            raise RuntimeError("transpose(): can't transpose a sparse dim with a dense dim")
        size = list(self._size)
        size[d0], size[d1] = size[d1], size[d0]
        if d0 < sd:
            idx = self._idx.copy()
            idx[[d0, d1]] = idx[[d1, d0]]
            return _new(idx, self._vals, size, False)
        return _new(self._idx, self._vals.transpose(d0 - sd + 1, d1 - sd + 1), size, self._coal)

    def __neg__(self):
        return self._with(-self._vals)

    neg = __neg__

    def __mul__(self, other):
        if isinstance(other, SparseCooTensor):
            # as PyTorch: both coalesced first; the product flagged coalesced only when both
            # factors were
            both = self._coal and other._coal
            product = _intersection_product(self if self._coal else self.coalesce(),
                                            other if other._coal else other.coalesce())
            return product if both else _new(product._idx, product._vals, product._size, False)
        if isinstance(other, Tensor) and other.ndim:
            size = tuple(self._size)        # a dense factor broadcast to it (a row scaling)
            if other.ndim > len(size) or np.broadcast_shapes(tuple(other.shape), size) != size:
                raise RuntimeError("mul(sparse, dense): the dense tensor must broadcast to the "
                                   f"sparse tensor's size {list(size)}, got {list(other.shape)}")
            picked = other.expand(size)[tuple(Tensor._wrap(r) for r in self._idx)]
            return self._with(self._vals * picked)
        return self._with(self._vals * other)

    __rmul__ = mul = __mul__

    def __truediv__(self, other):
        if isinstance(other, Tensor) and other.ndim:
            raise RuntimeError("Sparse division requires a scalar or zero-dim dense tensor "
                               "divisor")
        return self._with(self._vals / other)

    div = __truediv__

    def add(self, other, *, alpha=1):
        if not isinstance(other, SparseCooTensor):
            raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) "
                               "instead.")
        if tuple(other._size) != tuple(self._size):
            raise RuntimeError(f"sizes do not match: {list(self._size)} and "
                               f"{list(other._size)}")
        if other._idx.shape[0] != self._idx.shape[0]:
            raise RuntimeError("add: sparse tensors with different numbers of sparse dims")
        theirs = other._vals if alpha == 1 else other._vals * alpha
        values = K.CatValues.apply(self._vals, theirs)
        both = _new(np.concatenate((self._idx, other._idx), axis=1), values, self._size, False)
        return both.coalesce() if self._coal and other._coal else both

    def __add__(self, other):
        return self.add(other)

    def __radd__(self, other):
        """dense + sparse: a dense tensor (PyTorch's add(dense, sparse))."""
        if isinstance(other, Tensor) and not isinstance(other, SparseCooTensor):
            return other + self.to_dense()
        if isinstance(other, numbers.Number):
            raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) "
                               "instead.")
        return NotImplemented

    def sub(self, other, *, alpha=1):
        return self.add(other, alpha=-alpha)

    def __sub__(self, other):
        return self.sub(other)

    def __rsub__(self, other):
        if isinstance(other, Tensor):
            return other - self.to_dense()
        return NotImplemented

    def mm(self, mat2):
        out = spmm(self, mat2)
        # torch.mm and @ record an mm node (torch.sparse.mm keeps SparseAddmmBackward0)
        return out if out.is_sparse else rename_node(out, "MmBackward0")

    def matmul(self, other):
        """``self @ other``: mm, or mv for a vector (mm refuses one)."""
        if isinstance(other, Tensor) and not other.is_sparse and other.ndim == 1:
            return self.mv(other)
        return self.mm(other)

    __matmul__ = matmul

    def sum(self, dim=None, keepdim=False, dtype=None):
        if keepdim:
            raise NotImplementedError("sum(..., keepdim=True) of a sparse tensor: minigrad "
                                      "sums a sparse tensor without keepdim only")
        return self._sum(dim, dtype)

    def _sum(self, dim, dtype):
        """``torch.sparse.sum``: dense when every sparse dim is summed, else a coalesced
        sparse tensor over the dims left."""
        values = self._vals if dtype is None else self._vals.to(dtype)
        if dim is None:
            return values.sum()
        n, sd = self.ndim, self.sparse_dim()
        dims = {self._normalize_dim(d, n) for d in ((dim,) if isinstance(dim, int) else dim)}
        dense = tuple(sorted(d - sd + 1 for d in dims if d >= sd))
        if dense:
            values = values.sum(dim=dense)
        keep = [d for d in range(sd) if d not in dims]
        if not keep:
            return values.sum(0)
        sizes = tuple(self._size[d] for d in keep)
        lin = K.linear_index(self._idx[keep], sizes)
        order = np.argsort(lin, kind="stable")
        starts, keys = K.runs(lin[order])
        summed = K.SparseSum.apply(values, order=order, starts=starts)
        idx = np.stack(np.unravel_index(keys, sizes)).astype(np.int64).reshape(len(keep), -1)
        size = sizes + tuple(s for d, s in enumerate(self._size) if d >= sd and d not in dims)
        return _new(idx, summed, size, True)

    def __repr__(self):
        return _repr(self)

    __str__ = __repr__

    # -- helpers -------------------------------------------------------------------------------
    def _sparse_sizes(self):
        return tuple(self._size[:self._idx.shape[0]])

    def _with(self, values):
        return _new(self._idx, values, self._size, self._coal)

    @staticmethod
    def _rebuilt(indices, values, size, coalesced):
        return _new(indices, values, size, coalesced)


def _intersection_product(a, b):
    """Coalesced sparse * coalesced sparse: nonzero where both are."""
    la = K.linear_index(a._idx, a._sparse_sizes())
    lb = K.linear_index(b._idx, b._sparse_sizes())
    common, ia, ib = np.intersect1d(la, lb, assume_unique=True, return_indices=True)
    return _new(a._idx[:, ia], a._vals[Tensor._wrap(ia)] * b._vals[Tensor._wrap(ib)], a._size,
                True)


_CSR_BETA = ("Sparse CSR tensor support is in beta state. If you miss a functionality in the "
             "sparse tensor support, please submit a feature request to "
             "https://github.com/pytorch/pytorch/issues.")


def _sparse_sparse_mm(a, b):
    """2-d sparse (n, m) @ sparse (m, p) -> coalesced sparse (n, p), differentiable in both
    values.  Its entries are those the two patterns reach (a[i, k] and b[k, j] both given for
    some k), kept even where the products cancel to 0, as PyTorch's."""
    for t in (a, b):
        if t.sparse_dim() != 2 or t.dense_dim():
            raise RuntimeError(f"addmm: matrices expected, got {t.ndim}D tensor")
    (n, m), (m2, p) = a._size, b._size
    if m != m2:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({n}x{m} and {m2}x{p})")
    if a.dtype != b.dtype:
        raise RuntimeError(f"mat1 dtype {scalar_type_name(a._vals._array.dtype)} does not match "
                           f"mat2 dtype {scalar_type_name(b._vals._array.dtype)}")
    # PyTorch multiplies through CSR tensors, whose constructor warns (twice under warn_always)
    warn_once(_CSR_BETA)
    warn_once(_CSR_BETA)
    # the patterns' product counts the k joining each (i, j): a float32 product runs on the
    # BLAS (numpy's integer one does not; 2000x2000: 0.1 s against 7 s), and a sum of ones
    # stays positive
    pattern_a, pattern_b = np.zeros((n, m), np.float32), np.zeros((m, p), np.float32)
    pattern_a[a._idx[0], a._idx[1]] = 1
    pattern_b[b._idx[0], b._idx[1]] = 1
    rows, cols = np.nonzero(pattern_a @ pattern_b)          # row-major: coalesced
    product = spmm(a, b.to_dense())
    values = product[Tensor._wrap(rows), Tensor._wrap(cols)]
    return _new(np.stack([rows, cols]).astype(np.int64).reshape(2, -1), values, (n, p), True)


def spmm(sparse, dense):
    """2-d sparse (n, m) @ dense (m, p) -> dense (n, p), differentiable in both (sparse @
    sparse: a sparse result, ``_sparse_sparse_mm``)."""
    if sparse.is_sparse_csr:                    # a CSR matrix (_sparse_csr.py)
        return sparse.mm(dense)
    if isinstance(dense, SparseCooTensor) and not sparse.is_sparse_csr:
        return _sparse_sparse_mm(sparse, dense)
    if not isinstance(dense, Tensor) or isinstance(dense, SparseCooTensor):
        raise TypeError("mm(sparse, dense): the second argument must be a dense Tensor")
    if sparse.sparse_dim() != 2 or sparse.dense_dim():
        raise RuntimeError(f"addmm: matrices expected, got {sparse.sparse_dim()}D tensor")
    if dense.ndim == 1:                         # mm reads the vector's size(1)
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got "
                         "1)")
    if dense.ndim != 2:
        raise RuntimeError(f"addmm: matrices expected, got {dense.ndim}D tensor")
    n, m = sparse._size
    if dense.shape[0] != m:
        raise RuntimeError(f"addmm: Argument #3 (dense): Expected dim 0 size {m}, got "
                           f"{dense.shape[0]}")
    if dense.dtype != sparse.dtype:
        raise RuntimeError(f"expected scalar type {scalar_type_name(sparse._vals._array.dtype)} "
                           f"but found {scalar_type_name(dense._array.dtype)}")
    return K.SparseAddmm.apply(sparse._vals, dense, rows=sparse._idx[0], cols=sparse._idx[1],
                               n=n)


def _repr(s):
    head = "tensor(indices="
    idx = _part_repr(Tensor._wrap(s._idx)).replace("\n", "\n" + " " * len(head))
    vtext = _part_repr(s._vals.detach())
    vtext = vtext.replace("\n", "\n" + " " * len("       values="))
    suffixes = [f"nnz={s._nnz()}"]
    if s.dtype not in (dtypes.default_float(), dtypes.int64, dtypes.bool_):
        suffixes.append(f"dtype={s.dtype!r}")
    suffixes.append(f"layout={creation.sparse_coo!r}")
    if s.grad_fn is not None:
        suffixes.append(f"grad_fn=<{s.grad_fn.name()}>")
    elif s.requires_grad:
        suffixes.append("requires_grad=True")
    line = f"       size={tuple(s._size)}"       # the suffixes start on a line of their own
    text, width = f"{head}{idx},\n       values={vtext},\n{line}", len(line)
    for suffix in suffixes:                       # then wrap past 80 (measured as torch's)
        length = len(suffix.replace("minigrad.", "torch."))
        if width + length + 2 > 80:
            text, width = f"{text},\n       {suffix}", 7 + length
        else:
            text, width = f"{text}, {suffix}", width + length + 2
    return text + ")"


def _part_repr(t):
    """indices or values as the sparse repr shows them: the dtype said once, at the end."""
    if t.numel() == 0:
        return f"tensor([], size={tuple(t.shape)})"
    return re.sub(r",\s*dtype=[\w.]+", "", Tensor.__repr__(t))

