"""Randomized low-rank factorisations: ``svd_lowrank`` and ``pca_lowrank``.

For a matrix A (m, n) that is close to rank q, a full SVD costs O(m n min(m, n)); these cost
O(m n q). The idea (Halko, Martinsson and Tropp, "Finding structure with randomness", 2011):

  1. draw a random Gaussian matrix R (n, q); the columns of A R span, with high probability,
     nearly the same space as A's top q left singular vectors;
  2. sharpen that basis with ``niter`` rounds of subspace iteration, Q <- orth(A orth(A^T Q)),
     which raises the singular values to the power 2 niter + 1 and so separates the wanted
     directions from the rest (orthonormalising in between keeps it numerically sound);
  3. project: B = Q^T A is small (q, n); its exact SVD B = U_B S V^T gives A ~ (Q U_B) S V^T.

Everything is made of differentiable ops (matmul, QR, SVD), so gradients, and gradients of
gradients, come from theirs. Where A has rank at most q the result is exact whatever R was.
"""
from __future__ import annotations

from .._random_factories import randn
from ..tensor import Tensor
from .decompositions import qr, svd
from .tensor_predicates import mH


def _orthonormal_basis(Y):
    """Q (*, rows, k): orthonormal columns spanning those of Y (*, rows, k)."""
    return qr(Y)[0]


def _minus(A, M):
    return A if M is None else A - M


def _range_finder(A, q, niter, M):
    """Q (*, m, q'): an orthonormal basis that nearly contains the top q left singular vectors
    of A - M (A (*, m, n), M broadcastable to it or None), q' = min(m, q)."""
    R = randn(*A.shape[:-2], A.shape[-1], q, dtype=A.dtype, device=A.device)
    X = _minus(A, M)
    Q = _orthonormal_basis(X @ R)                          # (*, m, q)
    for _ in range(niter):
        Q = _orthonormal_basis(mH(X) @ Q)                  # (*, n, q): the row space
        Q = _orthonormal_basis(X @ Q)                      # (*, m, q): back to the columns
    return Q


def svd_lowrank(A, q=6, niter=2, M=None):
    """``torch.svd_lowrank``: (U, S, V) with A - M ~ U diag(S) V^H, the best rank-q approximation
    with high probability. A (*, m, n); U (*, m, k), S (*, k), V (*, n, k), k = min(q, m, n).
    Note V, not V^H (as ``torch.svd``). ``niter`` subspace iterations sharpen the result; M,
    broadcastable to A, is subtracted first (pca_lowrank passes the column means)."""
    m, n = A.shape[-2:]
    q = 6 if q is None else q
    niter = 2 if niter is None else niter
    if m < n:
        # work on the transpose, whose column space is the smaller one, and swap U and V back
        V, S, U = _svd_lowrank_tall(mH(A), q, niter, None if M is None else mH(M))
        return U, S, V
    return _svd_lowrank_tall(A, q, niter, M)


def _svd_lowrank_tall(A, q, niter, M):
    """svd_lowrank of A (*, m, n) with m >= n."""
    Q = _range_finder(A, q, niter, M)                      # (*, m, q)
    B = mH(Q) @ _minus(A, M)                               # (*, q, n): A seen from Q's basis
    U_B, S, Vh = svd(B, full_matrices=False)               # (*, q, k), (*, k), (*, k, n)
    return Q @ U_B, S, mH(Vh)


def pca_lowrank(A, q=None, center=True, niter=2):
    """``torch.pca_lowrank``: principal components of the rows of A (*, m, n) as (U, S, V), the
    svd_lowrank of A with its column means removed (``center``). q defaults to min(6, m, n);
    the principal directions are V's columns, the projections ``A @ V[:, :k]``, and the
    explained variances ``S**2 / (m - 1)``."""
    if not isinstance(A, Tensor):
        raise TypeError(f"expected Tensor but got {type(A)}")
    m, n = A.shape[-2:]
    if q is None:
        q = min(6, m, n)
    elif not (q >= 0 and q <= min(m, n)):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than "
                         f"min(m, n)={min(m, n)}")
    if not niter >= 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if not center:
        return svd_lowrank(A, q, niter=niter, M=None)
    return svd_lowrank(A - A.mean(dim=-2, keepdim=True), q, niter=niter, M=None)
