"""``minigrad.sparse``: the ops on sparse tensors (``torch.sparse``): ``mm`` (with ``reduce=``
for a CSR matrix), ``addmm``, ``sum``, ``softmax``/``log_softmax``, ``spdiags``, ``_hspmm``
(``torch.hspmm``, at the top level only, as in PyTorch), and the legacy
``FloatTensor(indices, values, size)`` constructors. The tensors are in
``minigrad/_sparse_coo.py`` and ``minigrad/_sparse_csr.py``, the COO kernels in
``minigrad/_sparse_kernels.py``."""
from __future__ import annotations

import numpy as np

from .. import _sparse_kernels as K, creation, dtypes
from ..autograd._node_names import rename_node
from .._global_flags import warn_once
from .._sparse_coo import SparseCooTensor, _new, spmm
from .._sparse_csr import SparseCsrTensor, csr_mm, mm_reduce
from .._sparse_factories import check_invariants_enabled, set_check_invariants, \
    sparse_coo_tensor
from ..ops.matmul import mm as _dense_mm
from ..tensor import Tensor

__all__ = ["mm", "addmm", "sum", "softmax", "log_softmax", "spdiags", "FloatTensor",
           "DoubleTensor", "LongTensor", "check_sparse_tensor_invariants"]


def mm(mat1, mat2, reduce=None):
    """sparse (n, m) @ dense (m, p) -> dense (n, p), with gradients for the dense matrix and
    for the sparse one's values; two dense matrices are a plain ``mm``. ``reduce`` ("sum",
    "mean", "amax", "amin"), for a CSR ``mat1`` only: each output row reduces the products
    ``mat1[i, j] * mat2[j]`` over its row's nonzeros j by that (a row without any gives 0)."""
    if reduce is not None:
        return mm_reduce(mat1, mat2, reduce)
    if isinstance(mat1, SparseCooTensor):
        return spmm(mat1, mat2)
    if isinstance(mat1, SparseCsrTensor):
        return csr_mm(mat1, mat2)
    if isinstance(mat2, (SparseCooTensor, SparseCsrTensor)):
        raise NotImplementedError("mm(dense, sparse): minigrad multiplies a sparse matrix by a "
                                  "dense one only (use (s.t() @ d.t()).t())")
    return _dense_mm(mat1, mat2)


def addmm(mat, mat1, mat2, *, beta=1.0, alpha=1.0):
    """beta * mat + alpha * (mat1 @ mat2), mat1 sparse."""
    product = mm(mat1, mat2)
    product = product if alpha == 1 else product * alpha
    out = product + (mat if beta == 1 else mat * beta)
    return out if out.is_sparse else rename_node(out, "SparseAddmmBackward0")   # one node


def sum(input, dim=None, dtype=None):  # noqa: A001  (torch.sparse.sum)
    """The sum over ``dim`` (all dims by default). A dense tensor when every sparse dim is
    summed; otherwise a coalesced sparse tensor over the dims left."""
    if not isinstance(input, SparseCooTensor):
        raise TypeError("torch.sparse.sum: expected a sparse tensor")
    return input._sum(dim, dtype)


def _softmax(kernel, input, dim, dtype):
    if not isinstance(input, SparseCooTensor):
        raise TypeError(f"torch.sparse.{kernel.__name__[6:].lower()}: expected a sparse tensor")
    s = input.coalesce()
    values = s._vals if dtype is None else s._vals.to(dtype)
    dim = s._normalize_dim(dim, s.ndim)
    sd = s.sparse_dim()
    if dim >= sd:               # a dense dim: an ordinary softmax of the values
        out = values.log_softmax(dim - sd + 1) if kernel.log else values.softmax(dim - sd + 1)
        return _new(s._idx, out, s._size, True)
    keep = [d for d in range(sd) if d != dim]
    lin = K.linear_index(s._idx[keep], tuple(s._size[d] for d in keep))
    order = np.argsort(lin, kind="stable")
    starts, _ = K.runs(lin[order])
    return _new(s._idx, kernel.apply(values, order=order, starts=starts), s._size, True)


def softmax(input, dim, *, dtype=None):
    """Softmax along ``dim`` over the specified entries only (the others count as -inf, and
    stay unspecified): a sparse tensor of the input's coalesced pattern."""
    return _softmax(K.SparseSoftmax, input, dim, dtype)


def log_softmax(input, dim, *, dtype=None):
    """log of ``softmax``, over the specified entries only."""
    return _softmax(K.SparseLogSoftmax, input, dim, dtype)


def spdiags(diagonals, offsets, shape, layout=None):
    """A sparse (rows, cols) matrix with ``diagonals[k]`` on the diagonal ``offsets[k]`` (0 the
    main one, > 0 above it), scipy's convention: the entry in column c of that diagonal is
    ``diagonals[k, c]`` (columns past ``diagonals``' width stay empty).  COO entries in the
    order of the offsets, then by column (not coalesced), or ``layout=torch.sparse_csr``.
    The values are gathered from ``diagonals`` by differentiable indexing (PyTorch has no
    derivative for it)."""
    if not isinstance(offsets, Tensor):
        raise TypeError(f"_spdiags(): argument 'offsets' (position 2) must be Tensor, not "
                        f"{type(offsets).__name__}")
    if layout not in (None, creation.sparse_coo, creation.sparse_csr, creation.sparse_csc):
        name = "".join(w.capitalize() for w in str(layout).rsplit(".", 1)[-1].split("_"))
        raise RuntimeError("Only output layouts (Sparse, SparseCsc, SparseCsr) are supported, "
                           f"got {name}")
    if layout is creation.sparse_csc:
        raise NotImplementedError("spdiags: minigrad has no sparse CSC tensors; use "
                                  "layout=torch.sparse_coo or torch.sparse_csr")
    shape = tuple(int(n) for n in shape)
    if len(shape) != 2:
        raise RuntimeError("Output shape must be 2d")
    if diagonals.ndim > 2:
        raise RuntimeError("Diagonals must be vector or matrix")
    if offsets.ndim > 1:
        raise RuntimeError("Offsets must be scalar or vector")
    if offsets.dtype != dtypes.int64:
        raise RuntimeError(f"Offset Tensor must have dtype Long but got "
                           f"{dtypes.scalar_type_name(offsets.dtype.np)}")
    diag = diagonals.reshape(1, -1) if diagonals.ndim < 2 else diagonals
    offs = np.asarray(offsets.detach().cpu().numpy(), dtype=np.int64).reshape(-1)
    if diag.shape[0] != offs.size:
        raise RuntimeError(f"Number of diagonals ({diag.shape[0]}) does not match the number "
                           f"of offsets ({offs.size})")
    if np.unique(offs).size != offs.size:
        raise RuntimeError("Offset tensor contains duplicate values")
    rows, cols = shape
    width = min(cols, diag.shape[1])
    c = np.arange(width, dtype=np.int64)
    r = c[None, :] - offs[:, None]                          # (diagonal, column) -> its row
    keep = (r >= 0) & (r < rows)
    which, col = np.nonzero(keep)                           # diagonal-major, columns rising
    flat = Tensor._wrap(which * diag.shape[1] + col)
    values = diag.reshape(-1)[flat]
    indices = np.stack([r[which, col], col]).astype(np.int64)
    out = _new(indices, values, shape, False)
    return out if layout is not creation.sparse_csr else out.to_sparse_csr()


def _hspmm(mat1, mat2):
    """``torch.hspmm``: sparse COO (n, m) @ dense (m, p) as a hybrid COO tensor (n, p), one
    sparse dim over the rows of ``mat1`` that hold an entry (in rising order) and a dense
    row of p values each; gradients reach the dense matrix and the sparse one's values."""
    if not isinstance(mat1, SparseCooTensor):
        raise NotImplementedError("Could not run 'aten::hspmm' with arguments from the 'CPU' "
                                  "backend: its first argument must be a sparse COO tensor")
    if mat1.sparse_dim() != 2 or mat1.dense_dim():
        raise RuntimeError(f"hspmm: Argument #2: matrices expected, got {mat1.ndim}D tensor")
    if not isinstance(mat2, Tensor) or mat2.is_sparse:
        raise TypeError("hspmm: the second argument must be a dense Tensor")
    if mat2.ndim != 2:
        raise RuntimeError(f"hspmm: Argument #3: matrices expected, got {mat2.ndim}D tensor")
    if mat2.shape[0] != mat1.shape[1]:
        raise RuntimeError(f"hspmm: Argument #3: Expected dim 0 size {mat1.shape[1]}, got "
                           f"{mat2.shape[0]}")
    product = spmm(mat1, mat2)
    rows = np.unique(np.asarray(mat1._idx[0], dtype=np.int64))
    values = product[Tensor._wrap(rows)]
    return _new(rows.reshape(1, -1), values, (mat1.shape[0], mat2.shape[1]), False)


def _legacy(dtype):
    def make(*args):
        """``FloatTensor(indices, values[, size])`` (the values keep their dtype, as in
        PyTorch) or ``FloatTensor(*sizes)``: an empty sparse tensor of that dtype."""
        if args and isinstance(args[0], Tensor):
            # PyTorch says only that this constructor is deprecated (no invariants warning)
            warn_once("torch.sparse.SparseTensor(indices, values, shape, *, device=) is "
                      "deprecated.  Please use torch.sparse_coo_tensor(indices, values, shape, "
                      "dtype=, device=).")
            return sparse_coo_tensor(*args[:3], check_invariants=False)
        sizes = tuple(int(n) for n in args)
        values = Tensor._wrap(np.zeros(0, dtype.np))
        return _new(np.zeros((len(sizes), 0), np.int64), values, sizes, True)
    return make


FloatTensor = _legacy(dtypes.float32)
DoubleTensor = _legacy(dtypes.float64)
LongTensor = _legacy(dtypes.int64)


class check_sparse_tensor_invariants:  # noqa: N801  (PyTorch's name)
    """The process-wide default of the sparse constructors' ``check_invariants``: the static
    ``enable()`` / ``disable()`` / ``is_enabled()``, or an instance as a context manager (or
    a decorator) that sets it to ``enable`` inside and puts the earlier value back after.
    Setting it either way also silences the constructors' warning that the checks are
    implicitly off."""

    @staticmethod
    def is_enabled():
        return check_invariants_enabled()

    @staticmethod
    def enable():
        set_check_invariants(True)

    @staticmethod
    def disable():
        set_check_invariants(False)

    def __init__(self, enable=True):
        self.state = enable
        self.saved_state = None

    def __enter__(self):
        if self.saved_state is not None:
            raise RuntimeError("This context manager instance is already activated. Use a "
                               "different context manager instance for context nesting.")
        self.saved_state = self.is_enabled()
        set_check_invariants(self.state)

    def __exit__(self, type, value, traceback):  # noqa: A002
        set_check_invariants(self.saved_state)
        self.saved_state = None

    def __call__(self, fn):
        """``fn`` run with the setting (a fresh context each call, so calls may nest)."""
        state = self.state

        def checked(*args, **kwargs):
            with check_sparse_tensor_invariants(state):
                return fn(*args, **kwargs)
        return checked
