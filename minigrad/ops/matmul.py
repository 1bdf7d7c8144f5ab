"""Matrix products: ``matmul`` (batched, broadcasting), ``mm``, ``bmm`` and ``mv``.  ``linear``
(y = x W^T + b) is in ``linear.py``."""
from __future__ import annotations

import math

import numpy as np

from .. import _autocast_state, backend, dtypes
from ..autograd import Function
from ..tensor import Tensor
from ._autocast_cast import lower as _autocast_lower
from ._matmul_raw import raw_grads_ok as _raw_grads_ok, raw_matmul_grads as _raw_matmul_grads
from ._util import (broadcast_shape, check_tensor, cpp_type_name, not_implemented_for, result_dtype,
                    scalar_type_name)
from .elementwise import cast, mul
from .movement import T, Transpose
from .plumbing import conj_of, reshape_to, sum_to


def _mT(t):
    """The last two axes swapped (a view): the transpose of each matrix of a batch."""
    axes = list(range(t.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return Transpose.apply(t, axes=tuple(axes))


def _element_strides(node, i):
    """Operand i's strides (in elements) when the MatMul node ran, as PyTorch's node keeps
    them: only for an operand that needs a gradient (else ())."""
    if not node.needs_input_grad[i]:
        return ()
    return tuple(s // node._in_meta[i][1].itemsize for s in node.strides[i])


class MatMul(Function):
    """a @ b with NumPy's rules: 1-D operands are promoted to matrices, batch dims broadcast.

    Shapes: a (..., n, k) @ b (..., k, m) -> (..., n, m); a (k,) is a row (1, k) and b (k,)
    a column (k, 1), that size-1 axis dropped from the result.

    Backward, with matmuls again (so differentiable to any order):
    dL/da = g @ b^H, dL/db = a^H @ g (conjugate transposes; plain ones for real tensors),
    each summed over the batch dims it was broadcast along.
    """
    complex_ok = True
    saved_for_input = (1, 0)          # a is read only for b's gradient, b only for a's
    saved_names = ("self", "mat2")
    saved_fields = {"self_sym_sizes": lambda node: node._in_meta[0][0],
                    "self_sym_strides": lambda node: _element_strides(node, 0),
                    "mat2_sym_sizes": lambda node: node._in_meta[1][0],
                    "mat2_sym_strides": lambda node: _element_strides(node, 1)}

    def forward(self, a, b):
        self.save_for_backward(a, b)
        self.strides = a.strides, b.strides
        return backend.matmul(a, b)

    def backward(self, g):
        a, b = self.saved_tensors       # a kept only when b needs a gradient, b when a does
        (sa, _), (sb, _) = self._in_meta
        need_a, need_b = self.needs_input_grad
        if len(sa) == 2 and len(sb) == 2:
            if isinstance(self, Mm):          # PyTorch's mm (not a product matmul reshaped)
                return self._matrix_grads(g, a, b, need_a, need_b)
            if _raw_grads_ok(g, (a, b)):      # nothing recorded: on the arrays themselves
                return _raw_matmul_grads(g._array, a, b, need_a, need_b)
        # the gradient of a product is g times the conjugate of the other factor
        b = conj_of(b) if need_a else b
        a = conj_of(a) if need_b else a
        if len(sa) == 1 and len(sb) == 1:        # dot product: g is 0-d
            return (mul(g, b) if need_a else None, mul(g, a) if need_b else None)
        # Work with matrices: a 1-D a is a row (1, k), a 1-D b a column (k, 1), and g gets
        # back the size-1 axis the product dropped.
        sa2 = (1,) + tuple(sa) if len(sa) == 1 else tuple(sa)
        sb2 = tuple(sb) + (1,) if len(sb) == 1 else tuple(sb)
        g_shape = list(g.shape)
        if len(sa) == 1:
            g_shape.insert(len(g_shape) - 1, 1)        # b is not 1-D here
        if len(sb) == 1:
            g_shape.append(1)
        g = reshape_to(g, g_shape)
        ga = gb = None
        # (a vector times a matrix is PyTorch's mm of a row: its backward is mm's)
        product = Mm.apply if len(sa) == 1 and len(sb) == 2 else MatMul.apply
        if need_a:       # (..., n, m) @ (..., m, k) -> (..., n, k), summed to a's batch shape
            ga = reshape_to(sum_to(product(g, _mT(reshape_to(b, sb2))), sa2), sa)
        if need_b:       # (..., k, n) @ (..., n, m) -> (..., k, m)
            gb = reshape_to(sum_to(product(_mT(reshape_to(a, sa2)), g), sb2), sb)
        return ga, gb

    def _matrix_grads(self, g, a, b, need_a, need_b):
        """The gradients for two matrices a (n, k) and b (k, m), each laid out as PyTorch's
        mm backward lays it out: like its operand, g b^H computed as (b^H^T g^T)^T when a was
        column-major (a transposed row-major matrix), a^H g as (g^T a^H^T)^T when b was."""
        col_a, col_b = (_column_major(st, m) for st, m in zip(self.strides, self._in_meta))
        if _raw_grads_ok(g, (a, b)):          # nothing recorded: on the arrays themselves
            return _raw_matmul_grads(g._array, a, b, need_a, need_b, col_a, col_b)
        ga = gb = None
        if need_a:
            b = conj_of(b)
            ga = T.apply(Mm.apply(b, T.apply(g, axes=(1, 0))), axes=(1, 0)) if col_a else \
                Mm.apply(g, T.apply(b, axes=(1, 0)))
        if need_b:
            a = conj_of(a)
            gb = T.apply(Mm.apply(T.apply(g, axes=(1, 0)), a), axes=(1, 0)) if col_b else \
                Mm.apply(T.apply(a, axes=(1, 0)), g)
        return ga, gb


def _column_major(strides, meta):
    """Whether a matrix of byte ``strides`` and ``meta`` (shape, dtype) was laid out
    column-major in PyTorch's sense: element strides (1, rows)."""
    (rows, _), unit = meta[0], meta[1].itemsize
    return len(strides) == 2 and strides[0] == unit and strides[1] == unit * rows


def _folds(a, b):
    """Does PyTorch's matmul fold the operand of 3 or more dims into one matrix (a single mm
    or mv) rather than broadcast both to a bmm?  That operand is a, or b^T when b has more
    dims.  It folds whenever the other operand requires grad; otherwise only without a copy,
    when its leading dims are contiguous one after the other (and never a 2-d a with a
    larger b: the result would need a transpose)."""
    t1 = a._array if a.ndim >= b.ndim else b._array.swapaxes(-1, -2)
    if t1.ndim < 3 or min(a.ndim, b.ndim) not in (1, 2):
        return False
    if (b if a.ndim >= b.ndim else a).requires_grad:
        return True          # PyTorch folds (copying if need be) for a smaller backward
    if a.ndim == 2:
        return False
    strides = [s // t1.itemsize for s in t1.strides]
    return t1.size == 0 or all(strides[i] == strides[i + 1] * t1.shape[i + 1]
                               for i in range(t1.ndim - 2))


class Mm(MatMul):
    """MatMul of two matrices, under PyTorch's name for its node."""
    _node_name = "MmBackward0"


class Bmm(MatMul):
    """MatMul of two equal batches (``torch.bmm``), under PyTorch's name for its node."""
    _node_name = "BmmBackward0"


class Mv(MatMul):
    """MatMul of a matrix and a vector, under PyTorch's name for its node."""
    saved_names = ("self", "vec")
    saved_fields = {}

    _node_name = "MvBackward0"


class Dot(MatMul):
    """MatMul of two vectors, under PyTorch's name for its node."""
    saved_names = ("self", "tensor")
    saved_fields = {}

    _node_name = "DotBackward0"


# the node a product of operands of these dims makes
# (a vector times a matrix: PyTorch multiplies it as a (1, n) matrix and squeezes the row
# away, so its last node is SqueezeBackward4)
_NODES = {(2, 2): Mm, (2, 1): Mv, (1, 1): Dot, (1, 2): MatMul.renamed("SqueezeBackward4")}
# with a batch: PyTorch's matmul views its mm / bmm result back to the batch shape
# (UnsafeViewBackward0), or for a matrix times a batch copies it from a transposed product
# (CloneBackward0)
_BATCHED = {False: MatMul.renamed("UnsafeViewBackward0"), True: MatMul.renamed("CloneBackward0")}

# Filled by ops/_matmul_split.py (imported with ops/linear.py): lays a batched product's node
# out as PyTorch's nodes (mm, mv or bmm, the operands' expands and reshapes; a vector times a
# matrix as a row) when its graph is first read; a graph nobody reads keeps the one node
split_batched = None


def _batched_edges(node):
    return Function.next_functions.fget(node if split_batched is None else split_batched(node))


_BATCHED[False].next_functions = _NODES[(1, 2)].next_functions = property(
    _batched_edges, doc="PyTorch's edges for the product (``ops/_matmul_split.py``).")


def _kernel(a, b):
    """Which product PyTorch's matmul runs for a @ b: "dot" (two vectors), "mv" (a matrix and
    a vector, a folded batch of matrices included), "mm" (two matrices, or a folded batch and
    a matrix) or "bmm" (broadcast batches).  Its dtype and bool refusals name that kernel."""
    if a.ndim == 1 and b.ndim == 1:
        return "dot"
    if a.ndim <= 2 and b.ndim <= 2:
        return "mv" if b.ndim == 1 else "mm"              # a vector a is a (1, k) matrix
    if _folds(a, b):
        return "mv" if 1 in (a.ndim, b.ndim) else "mm"
    return "bmm"


def _check_dtypes(a, b, kernel):
    """Both operands of one dtype, refused in the words of the kernel PyTorch runs."""
    da, db = a._array.dtype, b._array.dtype
    if da == db:
        return
    if kernel == "dot":
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{scalar_type_name(da)} and {scalar_type_name(db)}")
    if kernel == "mv":
        vec, mat = (db, da) if b.ndim == 1 else (da, db)
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got "
                           f"{scalar_type_name(vec)}, {scalar_type_name(mat)}, and "
                           f"{scalar_type_name(vec)}")
    if kernel == "bmm":
        raise RuntimeError(f"expected scalar type {scalar_type_name(da)} but found "
                           f"{scalar_type_name(db)}")
    if b.ndim > max(a.ndim, 2):      # b folded: the product is b^T a^T, transposed back
        da, db = db, da
    raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                       f"{cpp_type_name(da)} != {cpp_type_name(db)}")


# the dtypes PyTorch's products have no kernel for: bool, uint16/32/64
_NO_KERNEL = frozenset((np.dtype(bool),)) | dtypes.BAREBONES_UNSIGNED


def _refuse_bool(a, b, kernel):
    """PyTorch has no bool kernel for the products matmul dispatches to (dot, mv, mm, bmm); the
    kernel is skipped, and nothing raised, when the product is empty or sums over nothing."""
    name = {"dot": "dot", "mv": "addmv_impl_cpu", "mm": "addmm_impl_cpu_", "bmm": "bmm"}[kernel]
    if kernel == "dot":
        raise not_implemented_for(name, a._array.dtype)       # refused even when empty
    if not _nothing_to_sum(a, b):
        raise not_implemented_for(name, a._array.dtype)


def _nothing_to_sum(a, b):
    """Is a @ b empty, or a sum over nothing (all zeros)?  PyTorch's kernels skip those."""
    out_empty = any(n == 0 for n in broadcast_shape(tuple(a.shape[:-2]), tuple(b.shape[:-2]))) \
        or (a.ndim >= 2 and a.shape[-2] == 0) or (b.ndim >= 2 and b.shape[-1] == 0)
    return a.shape[-1] == 0 or out_empty


def _two_tensors(name, a, b, second):
    """PyTorch's TypeError for a non-Tensor operand (a list, a number, a numpy array)."""
    for arg, value, position in (("input", a, 1), (second, b, 2)):
        check_tensor(name, value, arg, position)


def matmul(a, b):
    """a @ b (see MatMul), with PyTorch's refusals: each names the kernel PyTorch runs.
    Inside an autocast region the float32 operands are cast to the autocast dtype first."""
    if _plain_mm(a, b):
        # two dense numpy float matrices of one dtype whose sizes fit, outside autocast: none
        # of the checks below can refuse them, and on small ones they cost more than the
        # product
        return Mm.apply(a, b)
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
        _two_tensors("matmul", a, b, "other")
    if a.is_sparse:             # a sparse COO matrix times a dense one (torch.sparse.mm)
        return mv(a, b) if b.ndim == 1 else a.mm(b)
    if b.is_sparse:             # a dense one times a sparse COO matrix: (b^T a^T)^T
        return b.__rmatmul__(a)
    if a.is_sparse_csr:         # a sparse CSR one (a matrix or a vector)
        return a.matmul(b)
    if _autocast_state.active:
        a, b = _autocast_lower(a, b)
    return _matmul(a, b)


def _matmul(a, b, node=None):
    """matmul without autocast (mv, which PyTorch's autocast leaves in float32, calls this);
    ``node``: the MatMul class to record (by default chosen by the operands' dims)."""
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    kernel = _kernel(a, b)
    batch = broadcast_shape(tuple(a.shape[:-2]), tuple(b.shape[:-2]), "matmul (batch dimensions)") \
        if kernel == "bmm" else ()
    if kernel == "dot":                  # dot checks the dtypes before the lengths
        _check_dtypes(a, b, kernel)
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        if kernel == "dot":
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{k_a}] and src "
                               f"[{k_b}] to have the same number of elements, but got {k_a} "
                               f"and {k_b} elements respectively")
        if kernel == "mv":            # the matrix: a folded, or b^T folded for a vector a
            mat, vec = (a, k_b) if b.ndim == 1 else (_mT(b), k_a)
            rows = math.prod(mat.shape[:-1])
            raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x"
                               f"{mat.shape[-1]}), vec ({vec})")
        if kernel == "bmm":
            n = math.prod(batch)
            raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                               f"[{n}, {k_a}] but got: [{n}, {k_b}]. (matmul: the last dimension "
                               f"of input (shape {list(a.shape)}) must match the second-to-last "
                               f"dimension of other (shape {list(b.shape)}), got {k_a} and "
                               f"{k_b})")
        rows = math.prod(a.shape[:-1])                       # mm: a folded into a matrix
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k_a} and "
                           f"{k_b}x{b.shape[-1]})")
    if kernel == "bmm" and a.dtype != b.dtype and _nothing_to_sum(a, b):
        # PyTorch's bmm skips its dtype check too: the zeros take other's dtype
        return MatMul.apply(cast(a, b.dtype), b)
    if kernel == "bmm" and a._array.dtype in _NO_KERNEL:
        _refuse_bool(a, b, kernel)        # bmm picks its kernel by a's dtype before comparing
    _check_dtypes(a, b, kernel)
    if a._array.dtype in _NO_KERNEL:
        _refuse_bool(a, b, kernel)
    dtype = result_dtype(a, b)
    node = node or _NODES.get((a.ndim, b.ndim)) or _BATCHED[a.ndim == 2]
    return node.apply(cast(a, dtype), cast(b, dtype))


def mm(input, mat2):
    """The matrix product of two 2-d tensors: (n, k) @ (k, m) -> (n, m)."""
    if not (isinstance(input, Tensor) and isinstance(mat2, Tensor)):
        _two_tensors("mm", input, mat2, "mat2")
    if input.is_sparse or input.is_sparse_csr:
        return input.mm(mat2)
    if mat2.is_sparse and input.ndim == 2:
        return mat2.__rmatmul__(input)
    if input.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    return matmul(input, mat2)


def bmm(input, mat2):
    """Matrix products of two batches of one size, without broadcasting:
    (B, n, k) @ (B, k, m) -> (B, n, m)."""
    if not (isinstance(input, Tensor) and isinstance(mat2, Tensor)):
        _two_tensors("bmm", input, mat2, "mat2")
    if input.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if mat2.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if input.shape[0] != mat2.shape[0] or input.shape[2] != mat2.shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{input.shape[0]}, {input.shape[2]}] but got: [{mat2.shape[0]}, "
                           f"{mat2.shape[1]}].")
    if _autocast_state.active:
        input, mat2 = _autocast_lower(input, mat2)
    return _matmul(input, mat2, Bmm)


def mv(input, vec):
    """A matrix times a vector: (n, k) @ (k,) -> (n,)."""
    if input.ndim == 0:         # PyTorch reads the matrix's size(0) before checking ranks
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input.ndim}, "
                           f"{vec.ndim}")
    if input.is_sparse:         # a sparse COO matrix (PageRank's A @ v): as a one-column mm
        if input.shape[1] != vec.shape[0]:
            raise RuntimeError("mv: expected self.size(-1) == vec.size(-1)")
        return input.mm(vec.unsqueeze(1)).squeeze(1)
    return _matmul(input, vec)


def _plain_mm(a, b):
    """Is ``matmul(a, b)`` one plain mm: dense numpy float (n, k) and (k, m) arrays of one
    dtype, outside autocast?"""
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)) or a.is_sparse or \
            a.is_sparse_csr or b.is_sparse or b.is_sparse_csr:
        return False
    x, w = a._array, b._array
    return (type(x) is np.ndarray and type(w) is np.ndarray and x.ndim == 2 and w.ndim == 2
            and x.dtype is w.dtype and x.dtype.kind == "f" and x.shape[1] == w.shape[0] and
            not _autocast_state.active)
