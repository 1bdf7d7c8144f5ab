"""``linalg.tensorinv`` and ``linalg.tensorsolve``: inverses and solves of tensors read as
matrices (leading dims the rows, trailing dims the columns).  Reshapes around ``linalg.inv``
and ``linalg.solve``, so both are differentiable to any order."""
from __future__ import annotations

import math
import numbers

from ..tensor import Tensor
from ..autograd._node_names import rename_node
from ._autocast_cast import in_float32
from ._util import normalize_dim
from .movement import reshape
from .shaping import movedim
from .solve import _first_zero_pivot, _singular_inverse, inv, solve

__all__ = ["tensorinv", "tensorsolve"]


@in_float32
def tensorinv(A, ind=2):
    """``linalg.tensorinv``: the tensor X of shape A.shape[ind:] + A.shape[:ind] with
    tensordot(A, X, ind) the identity, i.e. the inverse of A reshaped to a square matrix of
    prod(A.shape[:ind]) rows."""
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg_tensorinv(): argument 'input' (position 1) must be Tensor, "
                        f"not {type(A).__name__}")
    if isinstance(ind, bool) or not isinstance(ind, numbers.Integral):
        raise TypeError(f"linalg_tensorinv(): argument 'ind' must be int, not "
                        f"{type(ind).__name__}")
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    if ind > A.ndim:                # (PyTorch's slice of the shape refuses it)
        raise RuntimeError(f"ArrayRef: invalid slice, N = {ind}; size = {A.ndim}")
    rows, cols = math.prod(A.shape[:ind]), math.prod(A.shape[ind:])
    if rows != cols:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {cols} != {rows}")
    matrix = reshape(A, rows, cols)
    # the singular check after inv's dtype checks (float16 and integers refused), as in PyTorch
    if A._array.dtype.kind in "fcV" and A._array.dtype.itemsize > 2 and rows and \
            bool(_first_zero_pivot(matrix._array)):
        raise _singular_inverse(matrix._array, "inv")
    out = reshape(inv(matrix), tuple(A.shape[ind:]) + tuple(A.shape[:ind]))
    return rename_node(out, "ReshapeAliasBackward0")            # PyTorch's node


@in_float32
def tensorsolve(A, B, dims=None):
    """``linalg.tensorsolve``: X of shape A.shape[B.ndim:] with tensordot(A, X, X.ndim) = B;
    ``dims`` (dims of A) are first moved to the end of A."""
    for name, t, pos in (("A", A, 1), ("B", B, 2)):
        if not isinstance(t, Tensor):
            raise TypeError(f"linalg_tensorsolve(): argument '{name}' (position {pos}) must be "
                            f"Tensor, not {type(t).__name__}")
    if dims is not None:
        dims = [normalize_dim(d, A.ndim) for d in dims]
        A = movedim(A, dims, list(range(A.ndim - len(dims), A.ndim)))
    out_shape = A.shape[B.ndim:]
    cols, rows = math.prod(out_shape), B.numel()
    if cols != rows:
        raise RuntimeError(f"Expected self to satisfy the requirement "
                           f"prod(self.shape[other.ndim:]) == prod(self.shape[:other.ndim]), "
                           f"but got {cols} != {rows}")
    x = solve(reshape(A, rows, cols), reshape(B, rows))
    return reshape(x, tuple(out_shape))
