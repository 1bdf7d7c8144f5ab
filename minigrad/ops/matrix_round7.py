"""Matrix and reduction helpers added in round 7: ``trace``, ``Tensor.sum_to_size``,
``chain_matmul``, ``cholesky_inverse``, the deprecated ``frobenius_norm`` / ``nuclear_norm``
and ``embedding_renorm_``.

All but ``cholesky_inverse`` (a node of its own: PyTorch's derivative formula) and
``embedding_renorm_`` (an in-place, gradient-free rescaling) are compositions of
differentiable ops, so their gradients of any order come from those ops.
"""
from __future__ import annotations

import numbers

from .._type_names import python_type_name
from .._warn_once import warn_user
from .. import _autocast_state, backend, dtypes
from ..autograd import Function, no_grad
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._autocast_cast import in_float32, widen as _autocast_widen
from ._int_list_args import int_list_argument
from ._lapack_layout import column_major
from ._util import check_tensor, not_implemented_for
from .elementwise import neg
from .norms import matrix_norm, vector_norm
from .matmul import matmul
from .matrix_functions import multi_dot
from .movement import reshape
from .movement_copies import clone
from .reduce import sum
from .shaping import diagonal
from .solve import _inverse_array, _mH

__all__ = ["trace", "sum_to_size", "chain_matmul", "cholesky_inverse", "frobenius_norm",
           "nuclear_norm", "embedding_renorm_"]


def trace(input):
    """The sum of the main diagonal of a 2-d tensor (integers sum to int64, as ``sum``)."""
    check_tensor("trace", input)
    if _autocast_state.active:             # one of the ops CPU autocast runs in float32
        input, = _autocast_widen(input,)
    if input._array.dtype.kind == "b" or input._array.dtype in dtypes.BAREBONES_UNSIGNED:
        raise not_implemented_for("trace", input._array.dtype)   # (before the rank, as PyTorch)
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return rename_node(sum(diagonal(input)), "TraceBackward0")


def sum_to_size(self, *size, **kwargs):
    """``Tensor.sum_to_size``: ``self`` summed down to ``size`` (given as ints, one sequence
    or ``size=``; read, and refused, as PyTorch's parser does), which must be expandable to
    self's shape: the adjoint of ``expand``."""
    size = int_list_argument("sum_to_size", "size", size, kwargs)
    shape = tuple(self.shape)
    lead = len(shape) - len(size)
    if lead < 0 or any(s != n and s != 1 for s, n in zip(size, shape[lead:])):
        raise RuntimeError(f"size {{{list(size)}}} is not expandable to size {{{list(shape)}}}.")
    # torch's dtype rule: an empty ``size`` always sums everything (integers and bools become
    # int64, as ``sum``), an unchanged shape returns ``self``, any other reduction is a ``sum``
    if size and size == shape:
        return self
    if not size:
        return sum(self)
    dims = tuple(range(lead)) + tuple(lead + i for i, (s, n) in
                                      enumerate(zip(size, shape[lead:])) if s == 1 and n != 1)
    return reshape(sum(self, dims, keepdim=True), size)


def chain_matmul(*matrices):
    """The product of the 2-d ``matrices`` in order (deprecated in PyTorch, which now points
    to ``linalg.multi_dot``); one matrix comes back as a copy."""
    warn_user("torch.chain_matmul is deprecated and will be removed in a future PyTorch "
              "release. Use torch.linalg.multi_dot instead, which accepts a list of two or "
              "more tensors rather than multiple parameters.", UserWarning)
    # PyTorch hands the arguments to its parser as one list of tensors (a list given as an
    # argument is an element of it, refused)
    for k, m in enumerate(matrices):
        if not isinstance(m, Tensor):
            raise TypeError(f"expected Tensor as element {k} in argument 0, but got "
                            f"{python_type_name(m)}")
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for m in matrices:
        if m.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {m.ndim}, expected 2 instead.")
    if len(matrices) == 1:
        return clone(matrices[0])
    return multi_dot(matrices)


@in_float32
def cholesky_inverse(input, upper=False):
    """The inverse of A = L L^H (``upper``: A = U^H U) from its Cholesky factor, for one
    matrix or a batch (..., n, n)."""
    if input.ndim < 2:
        raise RuntimeError("cholesky_inverse: The input tensor A must have at least 2 "
                           "dimensions.")
    if input.shape[-1] != input.shape[-2]:
        raise RuntimeError(f"cholesky_inverse: A must be batches of square matrices, but they "
                           f"are {input.shape[-2]} by {input.shape[-1]} matrices")
    if input._array.dtype.kind not in "fcV" or dtypes.reduced_float(input._array.dtype):
        raise not_implemented_for("cholesky_inverse_out_cpu", input._array.dtype)
    return CholeskyInverse.apply(input, upper=upper)


class CholeskyInverse(Function):
    """R = (L L^H)^-1 (``upper``: (U^H U)^-1) from the named triangle of the input, as LAPACK
    reads it. Backward, PyTorch's formula: with C = R (g + g^H) R, the gradient is -C L
    (-U C when upper), L being the whole input (its other triangle is not masked: for the
    triangular input the function is meant for, that is the derivative of (L L^H)^-1)."""
    complex_ok = True

    def forward(self, a, upper=False):
        xp = backend.xp_of(a)
        tri = xp.triu(a) if upper else xp.tril(a)
        tri_h = xp.conj(xp.swapaxes(tri, -1, -2))
        out = column_major(_inverse_array(tri_h @ tri if upper else tri @ tri_h,
                                          "cholesky_inverse"))
        self.upper = upper
        self.save_for_backward(a, out)
        return out

    def backward(self, g):
        a, r = self.saved_tensors
        common = matmul(r, matmul(g + _mH(g), r))
        return neg(matmul(a, common)) if self.upper else neg(matmul(common, a))


def _deprecated(name, instead):
    warn_user(f"at::{name} is deprecated and it is just left for JIT compatibility. It will "
              f"be removed in a future PyTorch release. Please use `{instead}` instead",
              UserWarning)


def frobenius_norm(input, dim, keepdim=False):
    """sqrt(sum of squares) over the (at most two) dims ``dim``: ``linalg.vector_norm(input,
    2, dim, keepdim)`` (deprecated in PyTorch)."""
    _deprecated("frobenius_norm", "linalg.vector_norm(A, 2., dim, keepdim)")
    dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
    if len(dims) > 2:
        raise RuntimeError(f"Expected at most 2 dimensions, but got {len(dims)} dimensions "
                           f"instead.")
    return vector_norm(input, 2, dims, keepdim)


def nuclear_norm(input, dim=None, keepdim=False):
    """The sum of the singular values of the matrices spanned by the two dims ``dim`` (the
    last two by default) (deprecated in PyTorch; ``linalg.matrix_norm(input, 'nuc', ...)``).
    ``nuclear_norm(input, keepdim)`` with a bool second argument is accepted too."""
    _deprecated("nuclear_norm", "linalg.matrix_norm(A, 'nuc', dim, keepdim)")
    if isinstance(dim, bool):
        dim, keepdim = None, dim
    if dim is None:
        dim = (-2, -1)
    return matrix_norm(input, "nuc", tuple(dim), keepdim)


def check_renorm_arguments(weight, indices):
    """PyTorch's checks of ``embedding_renorm_``'s tensors, in its order: a 2-d weight, int64
    or int32 indices, and each index a row of the weight (a negative one counting from the
    end; the first refused in increasing order is named, as its loop over the sorted
    indices selects them)."""
    if weight.ndim != 2:
        raise RuntimeError(f"Expected 2-dimensional tensor, but got {weight.ndim}-dimensional "
                           f"tensor for argument #1 'self' (while checking arguments for "
                           f"embedding_renorm_)")
    kind = indices._array.dtype
    if kind.name not in ("int64", "int32"):
        what = dtypes.tensor_type_string(kind)
        raise RuntimeError(f"Expected tensor for argument #2 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got {what} instead (while "
                           f"checking arguments for embedding_renorm_)")
    xp = backend.xp_of(indices._array)
    rows = xp.unique(indices._array.reshape(-1))
    n = weight.shape[0]
    bad = rows[(rows < -n) | (rows >= n)]
    if bad.size:
        raise IndexError(f"select(): index {int(bad[0])} out of range for tensor of size "
                         f"{list(weight.shape)} at dimension 0")


def embedding_renorm_(input, indices, max_norm, norm_type):
    """Rescale, in place and outside the graph, each row ``input[i]`` (``i`` in ``indices``)
    whose ``norm_type``-norm exceeds ``max_norm`` to norm ``max_norm`` (times
    max_norm / (norm + 1e-7), as PyTorch).  Returns ``input``."""
    check_renorm_arguments(input, indices)
    xp = backend.xp_of(input._array)
    with no_grad():
        rows = xp.unique(indices._array.reshape(-1))
        w = input._array
        picked = w[rows]
        p = float(norm_type)
        if p == float("inf"):
            norms = xp.abs(picked).max(axis=1)
        elif p == 0:
            norms = (picked != 0).sum(axis=1).astype(w.dtype)
        else:
            norms = (xp.abs(picked) ** p).sum(axis=1) ** (1.0 / p)
        big = norms > max_norm
        scale = (max_norm / (norms[big] + 1e-7)).astype(w.dtype)
        w[rows[big]] = picked[big] * scale[:, None]
    input._vcounter.value += 1
    return input
