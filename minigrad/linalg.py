"""``minigrad.linalg``: PyTorch's ``torch.linalg`` names that minigrad has (norms, products).

Decompositions (svd, eig, qr, inv, solve...) are not here: see the API table in
docs/api-coverage.md for what is deliberately left out.
"""
from __future__ import annotations

from .ops.linalg import vector_norm, matrix_norm, linalg_norm as norm, dot as vecdot  # noqa
from .ops.matmul import matmul  # noqa: F401

__all__ = ["norm", "vector_norm", "matrix_norm", "vecdot", "matmul"]
