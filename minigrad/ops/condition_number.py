"""``linalg.cond``: the condition number of matrices in a norm, from differentiable ops.

p None / 2: sigma_max / sigma_min; -2: sigma_min / sigma_max (singular values, any shape);
'nuc': sum(sigma) sum(1 / sigma); 'fro', 1, -1, inf, -inf: ||A||_p ||A^-1||_p, inf for a
matrix with a zero LU pivot (the inverse does not exist), as PyTorch's.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import backend
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._autocast_cast import in_float32
from .elementwise import mul
from .division import div
from .pointwise_select import where
from .linalg import svdvals
from .norms import matrix_norm
from .movement import squeeze
from .stacking import narrow
from .reduce import sum
from .solve import _first_zero_pivot, check_matrices, inv

__all__ = ["cond"]

_INVERSE_NORMS = ("fro", 1, -1, math.inf, -math.inf)


def _valid(p):
    if p is None or p == "nuc" or p == "fro":
        return True
    return isinstance(p, numbers.Real) and not isinstance(p, bool) and \
        p in (2, -2, 1, -1, math.inf, -math.inf)


def _ord_text(p):
    if isinstance(p, float) and math.isinf(p):
        return "inf" if p > 0 else "-inf"
    if isinstance(p, float) and p.is_integer():
        return str(int(p))
    return str(p)


@in_float32
def cond(A, p=None):
    """``linalg.cond``: the condition number (*) of A (*, m, n) in the norm ``p`` (module
    docstring); p other than None / 2 / -2 needs square matrices.  A's (real) dtype."""
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg_cond(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(A).__name__}")
    if A.ndim < 2:
        if isinstance(p, str):               # the matrix norms' own words, naming ord and A
            raise RuntimeError(f"linalg.cond(ord={p}): The input tensor A must have at least 2 "
                               f"dimensions.")
        raise RuntimeError("linalg.cond: The input tensor must have at least 2 dimensions.")
    if not isinstance(p, str) and not _valid(p):     # a bad number: refused first
        raise RuntimeError(f"linalg.cond got an invalid norm type: {_ord_text(p)}")
    if not (p is None or p in (2, -2)) and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.cond(ord={_ord_text(p)}): A must be batches of square "
                           f"matrices, but they are {A.shape[-2]} by {A.shape[-1]} matrices")
    if not _valid(p):
        raise RuntimeError(f"linalg.cond got an invalid norm type: {_ord_text(p)}")
    xp = backend.xp_of(A._array)
    if A.numel() == 0:      # no matrix, or 0x0 ones: zeros in A's (real) dtype, whatever it is
        return Tensor._wrap(xp.zeros(A.shape[:-2], A._array.real.dtype))
    if p is None or p in (2, -2):
        check_matrices(A, "linalg.svd", square=False)
        s = svdvals(A)                                   # descending
        big, small = narrow(s, -1, 0, 1), narrow(s, -1, s.shape[-1] - 1, 1)
        return squeeze(div(small, big) if p == -2 else div(big, small), -1)
    if p == "nuc":                           # the nuclear norm is an SVD's: its checks
        check_matrices(A, "linalg.svd")
        s = svdvals(A)
        return mul(sum(s, -1), sum(div(1.0, s), -1))
    check_matrices(A, "linalg.inv")
    singular = _first_zero_pivot(A._array) != 0
    eye = xp.eye(A.shape[-1], dtype=A._array.dtype)
    safe = where(Tensor._wrap(singular[..., None, None]), Tensor._wrap(eye), A)
    value = mul(matrix_norm(A, p), matrix_norm(inv(safe), p))
    # PyTorch maps the singular ones' NaN to inf by nan_to_num: its last node
    return rename_node(where(Tensor._wrap(singular), np.inf, value), "NanToNumBackward0")
