"""``linalg.eig`` and ``linalg.eigvals``: refused.  The eigenvalues and eigenvectors of a
general real matrix are complex, and minigrad has no complex dtype, so no honest real
result exists (``linalg.eigh`` / ``eigvalsh`` cover symmetric matrices)."""
from __future__ import annotations

__all__ = ["eig", "eigvals"]

_REASON = ("minigrad has no complex dtype, and the eigenvalues and eigenvectors of a general "
           "real matrix are complex; for symmetric matrices use linalg.eigh / "
           "linalg.eigvalsh")


def eig(A):
    """``linalg.eig``: not available (complex results); raises NotImplementedError."""
    raise NotImplementedError(f"linalg.eig is not implemented: {_REASON}")


def eigvals(A):
    """``linalg.eigvals``: not available (complex results); raises NotImplementedError."""
    raise NotImplementedError(f"linalg.eigvals is not implemented: {_REASON}")
