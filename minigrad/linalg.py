"""``minigrad.linalg``: PyTorch's ``torch.linalg`` names that minigrad has: norms, products,
inverses and solves (``ops/solve.py``, ``ops/triangular_solve.py``), determinants
(``ops/determinant.py``), decompositions (``ops/decompositions.py``,
eigendecompositions in ``ops/eigen.py``), pseudo-inverse, rank and least squares
(``ops/pseudo_inverse.py``) and matrix functions (``ops/matrix_functions.py``).

LU (``ops/lu.py``) and LDL (``ops/ldl.py``) factorizations and their solves are here, and the
non-symmetric eigendecomposition (eig, eigvals), whose results are complex.
"""
from __future__ import annotations

from . import _autocast_state
from .ops._autocast_cast import lower as _autocast_lower
from .ops._util import scalar_type_name as _scalar_type_name
from .ops.linalg import LinAlgError, svdvals  # noqa: F401
from .ops.norms import vector_norm, matrix_norm, linalg_norm as norm  # noqa: F401
from .ops.matmul import matmul  # noqa: F401
from .ops.solve import inv, inv_ex, solve  # noqa: F401
from .ops.triangular_solve import solve_triangular  # noqa: F401
from .ops.determinant import det, slogdet  # noqa: F401
from .ops.decompositions import cholesky, cholesky_ex, qr, svd  # noqa: F401
from .ops.eigen import eig, eigvals, eigh, eigvalsh  # noqa: F401
from .ops.pseudo_inverse import pinv, matrix_rank, lstsq  # noqa: F401
from .ops.matrix_functions import (  # noqa: F401
    matrix_power, matrix_exp, multi_dot, householder_product)
from .ops.products import linalg_cross as cross  # noqa: F401
from .ops.lu import lu, lu_factor, lu_factor_ex, lu_solve, solve_ex  # noqa: F401
from .ops.ldl import ldl_factor, ldl_factor_ex, ldl_solve  # noqa: F401
from .ops.condition_number import cond  # noqa: F401
from .ops.tensor_solve import tensorinv, tensorsolve  # noqa: F401
from .ops.plumbing import conj_of as _conj_of
from .dtypes import reduced_float as _reduced_float
from .ops.stacking import cat as _cat
from .creation import ones_like as _ones_like
from .tensor import Tensor
from ._tensor_methods import _torch_args

__all__ = ["LinAlgError", "norm", "vector_norm", "matrix_norm", "svdvals", "vecdot", "matmul",
           "cross", "vander", "diagonal", "inv", "inv_ex", "solve", "solve_triangular", "det",
           "slogdet", "cholesky", "cholesky_ex", "qr", "eig", "eigvals", "eigh", "eigvalsh",
           "svd", "pinv",
           "matrix_rank", "lstsq", "matrix_power", "matrix_exp", "multi_dot",
           "householder_product", "lu", "lu_factor", "lu_factor_ex", "lu_solve", "solve_ex",
           "ldl_factor", "ldl_factor_ex", "ldl_solve", "cond", "tensorinv", "tensorsolve"]


def vecdot(x, y, *, dim=-1):
    """Dot products along ``dim`` of x and y broadcast together: sum(conj(x) * y, dim), the
    broadcast shape without ``dim``."""
    for position, (name, t) in enumerate((("x", x), ("y", y)), start=1):
        if not isinstance(t, Tensor):
            raise TypeError(f"linalg_vecdot(): argument '{name}' (position {position}) must be "
                            f"Tensor, not {type(t).__name__}")
    if _autocast_state.active:       # one of the ops CPU autocast runs in its lower dtype
        x, y = _autocast_lower(x, y)
    if x._array.dtype.kind not in "fcV":        # (x's kind first, then the two alike)
        raise RuntimeError("linalg.vecdot: Expected a floating point or complex tensor as input. "
                           f"Got {_scalar_type_name(x._array.dtype)}")
    if x.dtype != y.dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found x "
                           f"of type {_scalar_type_name(x._array.dtype)} and y of type "
                           f"{_scalar_type_name(y._array.dtype)} instead")
    if x.ndim == 1 and y.ndim == 1 and x.shape != y.shape:      # two vectors: no broadcasting
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{x.shape[0]}] and src "
                           f"[{y.shape[0]}] to have the same number of elements, but got "
                           f"{x.shape[0]} and {y.shape[0]} elements respectively")
    return (_conj_of(x) * y).sum(dim)


def vander(x, *, N=None):
    """``linalg.vander``: powers x^0, x^1, ..., x^(N-1) of the last dim of x in increasing
    order, shape (*, n, N); N defaults to n and must be at least 2.  A 0-d x counts as one
    point (shape (1, N)), as in PyTorch; bool tensors are refused, integers give int64."""
    if x._array.dtype.kind == "b" or _reduced_float(x._array.dtype):
        raise RuntimeError(f"linalg.vander supports floating point, complex, and integer "
                           f"tensors, but got {_scalar_type_name(x._array.dtype)}")
    if x.ndim == 0:
        x = x.reshape(1)
    n = x.shape[-1] if N is None else N
    if n <= 1:
        raise RuntimeError("N must be greater than 1.")
    # as PyTorch: a column of ones beside the running products x, x*x, ... (so x^0 is 1 even
    # for a complex 0, and the powers round as the products do); integers give int64
    powers = x.unsqueeze(-1).expand(*x.shape, n - 1).cumprod(-1)
    return _cat([_ones_like(powers.narrow(-1, 0, 1)), powers], -1)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """``linalg.diagonal``: the ``offset`` diagonals of the matrices in the last two dims (by
    default), as a new last dim."""
    return A.diagonal(offset, dim1, dim2)


# out= on every function torch.linalg gives it (matrix_exp, vander and diagonal take none)
for _name in __all__:
    if _name not in ("LinAlgError", "matrix_exp", "vander", "diagonal"):
        globals()[_name] = _torch_args(globals()[_name])
del _name
