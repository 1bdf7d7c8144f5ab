"""Matrix products: ``matmul`` (batched, broadcasting) and ``linear`` (y = x W^T + b)."""
from __future__ import annotations

import math

import numpy as np

from .. import _autocast_state, backend, dtypes
from ..autograd import Function
from ..tensor import Tensor
from ._autocast_cast import lower as _autocast_lower
from ._matmul_raw import (raw_grads_ok as _raw_grads_ok, raw_linear_grads as _raw_linear_grads,
                          raw_matmul_grads as _raw_matmul_grads)
from ._util import (broadcast_shape, check_tensor, cpp_type_name, not_implemented_for,
                    python_type_name, result_dtype, scalar_type_name)
from .elementwise import cast, mul
from .movement import Transpose
from .plumbing import conj_of, reshape_to, sum_to
from .reduce import Sum


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
        if len(sa) == 2 and len(sb) == 2 and _raw_grads_ok(g, (a, b)):
            # two matrices, nothing recorded: the products below on the arrays themselves
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
        if need_a:       # (..., n, m) @ (..., m, k) -> (..., n, k), summed to a's batch shape
            ga = reshape_to(sum_to(MatMul.apply(g, _mT(reshape_to(b, sb2))), sa2), sa)
        if need_b:       # (..., k, n) @ (..., n, m) -> (..., k, m)
            gb = reshape_to(sum_to(MatMul.apply(_mT(reshape_to(a, sa2)), g), sb2), sb)
        return ga, gb


class Linear(Function):
    """y = x W^T + b, fused in one node.

    Shapes: x (*, in_features), W (out_features, in_features), b (out_features,)
    -> y (*, out_features).  The leading dims are flattened into one batch axis B so each
    product is a single 2-D BLAS call.

    Backward, with matmuls (differentiable to any order):
    dL/dx = g conj(W) (B, in), dL/dW = g^T conj(x) (out, in), dL/db = sum of g over the
    batch (out,).
    """
    complex_ok = True

    saved_for_input = (1, 0)          # x is read only for W's gradient, W only for x's
    # The order PyTorch's nodes for this op (addmm or mm after W.t(), views of x when it is
    # not 2-D) make the inputs' AccumulateGrads ready: b, then x (2-D, or without a bias)
    # before W, whose gradient passes the transpose's node first; a flattened x's view was
    # made before that transpose, so it runs after it (``forward`` sets (2, 1, 0) then)
    delivery_order = (2, 0, 1)

    def forward(self, x, w, b=None):
        x2 = x.reshape(math.prod(x.shape[:-1]), x.shape[-1])      # (B, in); B may be 0
        if x.dtype == np.float16:
            # as PyTorch's addmm: accumulated in float32, the bias added in float32 too, one
            # rounding (bfloat16 arrives here in float32 already: Function's _reduced_forward)
            out = backend.matmul(x2.astype(np.float32), w.T.astype(np.float32))
            if b is not None:
                out += b.astype(np.float32)
            out = out.astype(np.float16)
        else:
            out = backend.matmul(x2, w.T)                # (B, in) @ (in, out) -> (B, out)
            if b is not None:
                out += b
        self.save_for_backward(x, w)                     # the inputs themselves, not x2
        if b is not None and x.ndim != 2:
            self.delivery_order = (2, 1, 0)
        return out.reshape(x.shape[:-1] + (w.shape[0],))

    def backward(self, g):
        x, w = self.saved_tensors      # x kept only when W needs a gradient, W when x does
        (sx, _), (sw, _) = self._in_meta[:2]
        rows = math.prod(sx[:-1])
        needs = self.needs_input_grad
        if _raw_grads_ok(g, (x, w)):
            return _raw_linear_grads(g._array, x, w, sx, sw, rows, needs)
        g2 = reshape_to(g, (rows, sw[0]))                # (B, out)
        # complex: the other factor's conjugate
        gx = reshape_to(MatMul.apply(g2, conj_of(w)), sx) if needs[0] else None       # (B, in)
        gw = (MatMul.apply(_mT(g2), reshape_to(conj_of(x), (rows, sx[-1])))          # (out, in)
              if needs[1] else None)
        if len(needs) == 2:
            return gx, gw
        gb = Sum.apply(g2, axes=(0,), keepdim=False) if needs[2] else None          # (out,)
        return gx, gw, gb


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


def linear(input, weight, bias=None):
    """y = x W^T + b.  input (*, in_features), weight (out_features, in_features).
    Inside an autocast region the float32 operands are cast to the autocast dtype first."""
    if _plain_addmm(input, weight, bias):
        # the common case of a layer, (B, in) @ (out, in)^T + (out,), in one float dtype on
        # the CPU: none of the checks below can refuse it, and on small inputs they cost more
        # than the product
        return _ADDMM.apply(input, weight, bias)
    if not isinstance(input, Tensor):           # a PackedSequence given to a Linear layer
        raise TypeError(f"linear(): argument 'input' (position 1) must be Tensor, not "
                        f"{python_type_name(input)}")
    for pos, name, arg in ((2, "weight", weight), (3, "bias", bias)):
        if not isinstance(arg, Tensor) and not (name == "bias" and arg is None):
            raise TypeError(f"linear(): argument '{name}' (position {pos}) must be Tensor, not "
                            f"{python_type_name(arg)}")
    if _autocast_state.active:
        input, weight, bias = _autocast_lower(input, weight, bias)
    if input.ndim == 0 or weight.ndim == 0:
        raise RuntimeError(f"both arguments to linear need to be at least 1D, but they are "
                           f"{input.ndim}D and {weight.ndim}D")
    if weight.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{weight.ndim}D (linear's weight must be (out_features, "
                           f"in_features), got shape {list(weight.shape)})")
    if weight.ndim == 1:
        # a vector weight: input @ weight, one output feature dropped; no bias beside it
        if bias is not None:
            raise RuntimeError("mat2 must be a matrix, got 1-D tensor")
        return matmul(input, weight)
    if input.shape[-1] != weight.shape[1]:
        rows = 1
        for s in input.shape[:-1]:
            rows *= s
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} "
                           f"and {weight.shape[1]}x{weight.shape[0]}): input has "
                           f"{input.shape[-1]} features but the weight expects in_features="
                           f"{weight.shape[1]}")
    folded = input.ndim < 3 or input.is_contiguous()       # one addmm (see below)
    if not folded:
        # matmul's bmm runs first (the bias is added after): it picks its kernel by the
        # input's dtype, then compares the dtypes
        _refuse_bool_linear(input, weight, folded)
        if input._array.dtype != weight._array.dtype:
            raise RuntimeError(f"expected scalar type {scalar_type_name(input._array.dtype)} "
                               f"but found {scalar_type_name(weight._array.dtype)}")
    if bias is None:
        if input._array.dtype != weight._array.dtype:
            raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                               f"{cpp_type_name(input._array.dtype)} != "
                               f"{cpp_type_name(weight._array.dtype)}")
        _refuse_bool_linear(input, weight, folded)
        return _linear_node(input.ndim, False, folded).apply(input, weight)
    out_shape = tuple(input.shape[:-1]) + (weight.shape[0],)
    _check_bias_shape(bias, out_shape, input, folded)
    mixed = bias._array.dtype != weight._array.dtype
    if folded and mixed:
        # PyTorch folds a 2-d or contiguous input into one addmm, which wants one dtype
        raise RuntimeError(f"self and mat2 must have the same dtype, but got "
                           f"{scalar_type_name(bias._array.dtype)} and "
                           f"{scalar_type_name(weight._array.dtype)}")
    if input._array.dtype != weight._array.dtype:
        di, dw = input._array.dtype, weight._array.dtype
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                           f"{scalar_type_name(di)} and {scalar_type_name(dw)}" if folded
                           else f"expected scalar type {scalar_type_name(di)} but found "
                           f"{scalar_type_name(dw)}")
    if input._array.dtype.kind == "b" and math.prod(out_shape) != 0:
        if input.shape[-1] != 0:
            _refuse_bool_linear(input, weight, folded)
        # bias + (an empty sum): PyTorch's add in int64 does not cast back to bool
        raise RuntimeError("result type Long can't be cast to the desired output type Bool")
    if mixed:
        # any other input goes through matmul, then output.add_(bias): a bias that casts to it
        out, kind = weight._array.dtype, {"b": 0, "u": 1, "i": 1, "f": 2}
        if kind[bias._array.dtype.kind] > kind[out.kind]:
            raise RuntimeError(f"result type {scalar_type_name(result_dtype(bias, weight))} "
                               f"can't be cast to the desired output type "
                               f"{scalar_type_name(out)}")
        return reshape_to(Linear.apply(input, weight) + cast(bias, out), out_shape)
    if not folded and dtypes.reduced_float(input._array.dtype):
        # PyTorch's bmm rounds the product to float16/bfloat16 before the bias is added (a
        # second rounding), where a folded input's addmm rounds once
        return Linear.apply(input, weight) + bias
    if tuple(bias.shape) == (weight.shape[0],):
        return _linear_node(input.ndim, True, folded).apply(input, weight, bias)
    # a bias broadcast along more dims (a (1, out) one beside a 1-d input included)
    return reshape_to(Linear.apply(input, weight) + bias, out_shape)


def _plain_addmm(input, weight, bias):
    """Is ``linear(input, weight, bias)`` one plain addmm: numpy float arrays of one dtype,
    input (B, in), weight (out, in), bias (out,), outside autocast?"""
    if not (isinstance(bias, Tensor) and isinstance(input, Tensor) and
            isinstance(weight, Tensor)):
        return False
    x, w, b = input._array, weight._array, bias._array
    return (type(x) is np.ndarray and type(w) is np.ndarray and type(b) is np.ndarray and
            x.ndim == 2 and w.ndim == 2 and b.ndim == 1 and x.dtype is w.dtype is b.dtype and
            x.dtype.kind == "f" and x.shape[1] == w.shape[1] and b.shape[0] == w.shape[0] and
            not _autocast_state.active)


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


_ADDMM = Linear.renamed("AddmmBackward0")       # the node of that case (see _linear_node)


def _linear_node(ndim, bias, folded):
    """The Linear op under the name of the node PyTorch's linear ends in, which depends on how
    it ran: one addmm (or mm without a bias) for a matrix input, that product viewed back to
    the input's leading dims for a folded (contiguous) batch or a vector, a bmm plus the bias
    for any other batch."""
    if ndim == 2:
        name = "AddmmBackward0" if bias else "MmBackward0"
    elif ndim == 1:
        name = "ViewBackward0" if bias else "SqueezeBackward4"
    elif bias:
        name = "ViewBackward0" if folded else "AddBackward0"
    else:
        name = "UnsafeViewBackward0"
    return Linear.renamed(name)


def _refuse_bool_linear(input, weight, folded):
    """PyTorch has no bool addmm / bmm: refused unless the product is empty or sums over
    nothing (then it is all False)."""
    if input._array.dtype.kind != "b" or input.shape[-1] == 0 or input.numel() == 0 or \
            weight.shape[0] == 0:
        return
    raise not_implemented_for("addmm_impl_cpu_" if folded else "bmm", input._array.dtype)


def _check_bias_shape(bias, out_shape, input, folded):
    """Refuse, in PyTorch's words, a bias PyTorch's linear refuses.  A bias of shape (*, out)
    with 2 dims beside an input of 3 or more dims is added to the output (it must broadcast
    to it), as is any bias beside an input not folded into one matrix; otherwise the input
    is one matrix (rows, in) and the bias, of at most 2 dims, must expand to (rows, out) --
    for a 1-d input (one row) a 2-d bias only of shape (1, out)."""
    target = (math.prod(out_shape[:-1]), out_shape[-1])
    shape = tuple(bias.shape)
    added = not folded or input.ndim >= 3 and len(shape) == 2 and shape[-1] == out_shape[-1]
    if not added and len(shape) > 2:
        raise RuntimeError(f"expand({bias.dtype.name}{list(shape)}, size={list(target)}): the "
                           f"number of sizes provided (2) must be greater or equal to the number "
                           f"of dimensions in the tensor ({len(shape)})")
    grown = tuple(shape)
    if input.ndim == 1 and len(shape) == 2 and (shape[0] != 1 and shape[1] == out_shape[-1]
                                                or shape == (1, 1)):
        grown = (shape[0], out_shape[-1])
    elif added:
        grown = broadcast_shape(out_shape, shape, "linear (bias)")
    else:
        padded = (1,) * (2 - len(shape)) + shape
        for k, (n, want) in enumerate(zip(padded, target)):
            if n != want and n != 1:
                hint = (f" (linear: bias must have shape [{target[1]}] (out_features), got "
                        f"{list(shape)})" if len(shape) == 1 else "")
                raise RuntimeError(f"The expanded size of the tensor ({want}) must match the "
                                   f"existing size ({n}) at non-singleton dimension {k}.  Target "
                                   f"sizes: {list(target)}.  Tensor sizes: {list(shape)}{hint}")
        return
    if grown != out_shape:
        raise RuntimeError(f"output with shape {list(out_shape)} doesn't match the broadcast "
                           f"shape {list(grown)}")
