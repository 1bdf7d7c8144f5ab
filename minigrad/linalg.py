"""``minigrad.linalg``: PyTorch's ``torch.linalg`` names that minigrad has (norms, singular
values, products).

Decompositions (svd, eig, qr, inv, solve...) are not here: see the API table in
docs/api-coverage.md for what is deliberately left out.
"""
from __future__ import annotations

from .ops._util import scalar_type_name as _scalar_type_name
from .ops.linalg import (  # noqa: F401
    LinAlgError, vector_norm, matrix_norm, svdvals, linalg_norm as norm)
from .ops.matmul import matmul  # noqa: F401
from .tensor import Tensor

__all__ = ["LinAlgError", "norm", "vector_norm", "matrix_norm", "svdvals", "vecdot", "matmul"]


def vecdot(x, y, *, dim=-1):
    """Dot products along ``dim`` of x and y broadcast together: sum(x * y, dim), the broadcast
    shape without ``dim``.  (For the real dtypes minigrad has, conj(x) is x.)"""
    for position, (name, t) in enumerate((("x", x), ("y", y)), start=1):
        if not isinstance(t, Tensor):
            raise TypeError(f"linalg_vecdot(): argument '{name}' (position {position}) must be "
                            f"Tensor, not {type(t).__name__}")
    if x.dtype != y.dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found x "
                           f"of type {_scalar_type_name(x._array.dtype)} and y of type "
                           f"{_scalar_type_name(y._array.dtype)} instead")
    if not x.dtype.is_floating_point:
        raise RuntimeError("linalg.vecdot: Expected a floating point or complex tensor as input. "
                           f"Got {_scalar_type_name(x._array.dtype)}")
    if x.ndim == 1 and y.ndim == 1 and x.shape != y.shape:      # two vectors: no broadcasting
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{x.shape[0]}] and src "
                           f"[{y.shape[0]}] to have the same number of elements, but got "
                           f"{x.shape[0]} and {y.shape[0]} elements respectively")
    return (x * y).sum(dim)
