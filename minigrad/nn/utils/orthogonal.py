"""``parametrizations.orthogonal``: a weight kept orthogonal while an unconstrained tensor
is what the optimizer moves.

For a weight W of shape (..., n, k), seen as tall (n >= k; a wide one is handled through its
transpose), the unconstrained tensor X of the same shape is mapped to a Q with orthonormal
columns (Q^T Q = I):

    "matrix_exp":  A = L - L^T (L: X's lower triangle, padded with zero columns to n x n),
                   Q = exp(A)[:, :k]                  (exp of a skew matrix is orthogonal)
    "cayley":      Q = ((I - A/2)^-1 (I + A/2))[:, :k]
    "householder": Q = H_1 H_2 ... H_k [:, :k] * sign(diag X), each H_i = I - tau_i v_i v_i^T
                   a reflection, v_i = e_i + X's i-th column below the diagonal,
                   tau_i = 2 / (1 + |X's i-th column below the diagonal|^2)

With ``use_trivialization`` (the default) the map is applied around a fixed orthogonal
``base`` buffer (n x n): W = base @ map(X).  Assigning a matrix M to the weight (which
registration does with the current weight) sets base to M's orthonormalised columns (QR with
a positive diagonal in R) completed to n x n, and X to the tensor every map sends to the
identity (-1 on the diagonal, 0 elsewhere), so that the weight is M orthonormalised.  The
completing columns (a rectangular weight only) are drawn as PyTorch draws them: n - k
standard normal columns from the default generator, orthonormalised with M's by one QR.
"""
from __future__ import annotations

from ... import creation
from ..._random_factories import randn
from ...linalg import householder_product, matrix_exp, solve
from ...ops.householder_qr import geqrf
from ...ops.stacking import cat
from ...tensor import Tensor
from ..modules.module import Module
from .parametrize import register_parametrization

__all__ = ["orthogonal"]

_MAPS = ("matrix_exp", "cayley", "householder")


def _tall(t):
    """(t as a tall matrix, whether it was transposed to get there)."""
    n, k = t.shape[-2:]
    return (t.mT, True) if n < k else (t, False)


def _diagonal(t):
    return t.diagonal(dim1=-2, dim2=-1)


class _Orthogonal(Module):
    """X (..., n, k) -> an orthogonal matrix of the same shape (module docstring)."""

    def __init__(self, weight, orthogonal_map, *, use_trivialization=True):
        super().__init__()
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def _trivialized(self):
        return "base" in self._buffers

    def forward(self, X):
        """Q = [base @] map(X), shape (..., n, k) as X."""
        X, wide = _tall(X)
        n, k = X.shape[-2:]
        if self.orthogonal_map == "householder":
            below = X.tril(-1)
            tau = 2.0 / (1.0 + (below * below).sum(dim=-2))
            # the sign of each column: X's diagonal truncated to an integer (-1 at the start)
            Q = householder_product(below, tau) * _diagonal(X).int().unsqueeze(-2)
        else:
            lower = X.tril()
            if n != k:                      # square it with zero columns
                zeros = creation.zeros(*X.shape[:-1], n - k, dtype=X.dtype, device=X.device)
                lower = cat([lower, zeros], -1)
            skew = lower - lower.mT
            if self.orthogonal_map == "matrix_exp":
                Q = matrix_exp(skew)
            else:
                eye = creation.eye(n, dtype=X.dtype, device=X.device)
                Q = solve(eye - skew * 0.5, eye + skew * 0.5)
            Q = Q[..., :k]
        if self._trivialized():
            Q = self.base @ Q
        return Q.mT if wide else Q

    def right_inverse(self, Q):
        """The X that forward maps to (the orthonormalised) Q (module docstring)."""
        if tuple(Q.shape) != tuple(self.shape):
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. "
                             f"Got a tensor of shape {Q.shape}.")
        given = Q
        Q, wide = _tall(Q)
        n, k = Q.shape[-2:]
        reflectors, tau = geqrf(Q)                     # Q = (H_1 ... H_k) R
        signs = _diagonal(reflectors).sign()
        if not self._trivialized():
            if self.orthogonal_map != "householder":
                raise NotImplementedError(
                    "It is not possible to assign to the matrix exponential or the Cayley "
                    "parametrizations when use_trivialization=False.")
            # X is geqrf's output with R's signs on its diagonal; where a reflector is the
            # identity (tau 0: the last column of a square Q) forward's tau = 2 reflects, so
            # that column's sign is flipped to undo it
            X = reflectors.clone()
            _diagonal(X).copy_(signs * (1.0 - 2.0 * (tau == 0).to(signs.dtype)))
            return X.mT if wide else X
        # base: the orthonormalised Q (R's diagonal positive) completed to n x n as PyTorch
        # completes it: n - k standard normal columns drawn from the default generator (a
        # seeded program's later draws follow them) and the whole orthonormalised again
        if n > k:
            extra = randn(*Q.shape[:-1], n - k, dtype=Q.dtype, device=Q.device)
            reflectors, tau = geqrf(cat([Q, extra], -1))
            signs = _diagonal(reflectors).sign()
        self.base = householder_product(reflectors, tau) * signs.unsqueeze(-2)
        minus_identity = creation.zeros_like(given)
        _diagonal(minus_identity).fill_(-1.0)
        return minus_identity


def orthogonal(module, name="weight", orthogonal_map=None, *, use_trivialization=True):
    """Keep ``module.<name>`` (a matrix or a batch of them) orthogonal: it becomes
    ``map(X)`` (or ``base @ map(X)``) of an unconstrained ``parametrizations.<name>.original``
    X (module docstring).  ``orthogonal_map``: "matrix_exp" or "cayley" (square weights by
    default: "matrix_exp") or "householder" (the default for rectangular ones).  Registration
    makes the weight the orthonormalised current weight.  Returns ``module``."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ValueError("Expected a matrix or batch of matrices. "
                         f"Got a tensor of {weight.ndim} dimensions.")
    if orthogonal_map is None:
        square = weight.shape[-2] == weight.shape[-1]
        orthogonal_map = "matrix_exp" if square else "householder"
    if orthogonal_map not in _MAPS:
        raise ValueError('orthogonal_map has to be one of "matrix_exp", "cayley", '
                         f'"householder". Got: {orthogonal_map}')
    parametrization = _Orthogonal(weight, orthogonal_map,
                                  use_trivialization=use_trivialization)
    register_parametrization(module, name, parametrization, unsafe=True)
    return module
