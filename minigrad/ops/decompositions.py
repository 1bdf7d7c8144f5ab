"""Matrix decompositions: ``linalg.cholesky`` / ``cholesky_ex`` (and ``torch.cholesky``),
``linalg.qr`` and ``linalg.svd`` (and ``torch.svd``); batched over leading dims.

Forward: numpy's batched LAPACK routines.  Backward: minigrad ops (gradients of any order).
With A = L L^T and A = Q R:

* cholesky: Phi(X) = tril(X) with its diagonal halved;
  dA = sym(L^-T Phi(L^T tril(gL)) L^-1), sym(X) = (X + X^T) / 2; complex (A = L L^H):
  dA = L^-H (X + tril(X, -1)^H) L^-1 / 2, X = tril(L^H gL), PyTorch's choice (its
  Hermitian part is the gradient's; the diagonal keeps Im X_ii / 2)
* qr (m >= n): only Q is a Function; R = triu(Q^T A) is a product of differentiable ops, so
  its gradient reaches Q and A by itself.  With M = -gQ^T Q and copyltu(M) the symmetric
  matrix built from M's lower triangle, dA = (gQ + Q copyltu(M)) R^-T.  For m < n the
  formula applies to the first m columns of A (the rest get no gradient through Q).
* svd: the factors' Functions are in ``linalg.py``; here the full_matrices completion (the
  extra columns, LAPACK's, get no gradient) and ``torch.svd``'s (U, S, V) form.

Complex matrices (Hermitian for cholesky) take the same formulas with conjugate transposes
(^T -> ^H).  A complex svd is one Function (SvdPacked: all factors in one array), so that the
gradients reaching U, S, V, a second derivative's included, meet in one backward, which
refuses a loss that depends on the vectors' arbitrary phases, as PyTorch does.

The eigendecompositions (eigh, eigvalsh, eig, eigvals) are in ``eigen.py``; the pseudo-inverse,
matrix rank and least squares in ``pseudo_inverse.py``.
"""
from __future__ import annotations

import numpy as np

from .. import backend, dtypes
from .._argument_error import argument_error
from .._warn_once import warn_deprecated_linalg
from ..autograd import Function
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._autocast_cast import in_float32
from ._lapack_layout import column_major, column_major_tensor
from ._util import not_implemented_for
from .elementwise import add, mul, sub
from .linalg import LinAlgError, SvdPacked, SvdU, SvdVals, SvdVh, svd_parts, svdvals
from .matmul import matmul
from .movement import mT
from .movement_copies import clone
from .stacking import cat, narrow
from .shaping import diagonal, tril, triu
from .sequence_more import diag_embed
from .solve import _batch_prefix, _mH, check_matrices, result_type
from .triangular_solve import solve_triangular

__all__ = ["cholesky", "cholesky_ex", "torch_cholesky", "qr", "svd", "torch_svd"]

CholeskyExResult = result_type("linalg_cholesky_ex", ["L", "info"])
QrResult = result_type("linalg_qr", ["Q", "R"])
SvdResult = result_type("linalg_svd", ["U", "S", "Vh"])
TorchSvdResult = result_type("svd", ["U", "S", "V"])


# ----------------------------------------------------------------------------------------------
# Cholesky
# ----------------------------------------------------------------------------------------------
def _cholesky_arrays(a):
    """(L, info) for the lower triangles of a (..., n, n): info (...,) int32 is k > 0 when the
    leading minor of order k is not positive-definite (that L is then partial)."""
    xp = backend.xp_of(a)
    info = xp.zeros(a.shape[:-2], np.int32)
    if a.size == 0:
        return xp.zeros_like(a), info
    try:
        L = xp.linalg.cholesky(a)
        # a NaN pivot is LAPACK's failure too (numpy lets NaNs through): found below
        if not bool(xp.isnan(xp.diagonal(L, 0, -2, -1)).any()):
            return L, info
    except np.linalg.LinAlgError:
        pass
    # column by column, vectorised over the batch, to find each matrix's first bad pivot
    n = a.shape[-1]
    L = xp.zeros_like(a)
    for j in range(n):
        row = L[..., j, :j]
        # the pivot is real (a Hermitian diagonal minus squared magnitudes)
        d = (a[..., j, j] - (row * row.conj()).sum(-1)).real
        bad = ~(d > 0)
        info = xp.where((info == 0) & bad, j + 1, info)
        root = xp.sqrt(xp.where(bad, 1.0, d))
        L[..., j, j] = root
        col = a[..., j + 1:, j] - xp.einsum("...ik,...k->...i", L[..., j + 1:, :j], row.conj())
        L[..., j + 1:, j] = col / root[..., None]
    return xp.where((info == 0)[..., None, None], L, xp.tril(L)), info.astype(np.int32)


class Cholesky(Function):
    """The lower Cholesky factor of a (..., n, n), computed beforehand (``factor``) so that
    its error code can be read; backward as in the module docstring (^T -> ^H for a complex
    Hermitian a: A = L L^H, the gradient is the Hermitian part)."""
    _node_name = "LinalgCholeskyExBackward0"        # PyTorch's node
    complex_ok = True
    def forward(self, a, *, factor):
        self.save_for_backward(factor)
        return factor

    def backward(self, g):
        L, = self.saved_tensors
        lh = _mH(L)
        x = tril(matmul(lh, tril(g)))
        # (X + X^H - diag X) / 2 from X's lower triangle: as PyTorch, the diagonal keeps
        # X_ii / 2 (complex; for a real L this is sym of the docstring's Phi)
        p = mul(add(x, _mH(tril(x, -1))), 0.5)
        y = solve_triangular(lh, p, upper=True)                 # L^-H P
        return solve_triangular(L, y, upper=False, left=False)  # L^-H P L^-1


def _cholesky_error(info, name):
    flat = backend.as_numpy(info).reshape(-1)
    k = int(flat[np.flatnonzero(flat)[0]])
    return LinAlgError(f"{name}: {_batch_prefix(info)}The factorization could not be completed "
                       f"because the input is not positive-definite (the leading minor of order "
                       f"{k} is not positive-definite).")


@in_float32
def cholesky_ex(A, *, upper=False, check_errors=False):
    """``linalg.cholesky_ex``: (L, info); L (*, n, n) lower (upper, L^T, if ``upper``) with
    A = L L^T from A's lower triangle; info (*) int32, k > 0 where the order-k leading minor
    is not positive-definite."""
    check_matrices(A, "linalg.cholesky_ex")
    factor, info = _cholesky_arrays(A._array)
    if check_errors and bool((info != 0).any()):
        raise _cholesky_error(info, "linalg.cholesky_ex")
    L = Cholesky.apply(A, factor=column_major(factor))
    return CholeskyExResult(_upper_of(L) if upper else L, Tensor._wrap(info))


def _upper_of(L):
    """U = L^H, laid out column-major as PyTorch's upper factor (a copy), on L's node."""
    return rename_node(column_major_tensor(_mH(L)), Cholesky._node_name)


@in_float32
def cholesky(A, *, upper=False):
    """``linalg.cholesky``: the Cholesky factor of the symmetric positive-definite A (*, n, n)
    (lower; upper = its transpose if ``upper``).  LinAlgError if a matrix is not PD."""
    return _checked_cholesky(A, upper, "linalg.cholesky")


def _checked_cholesky(A, upper, name):
    """linalg.cholesky's work; ``name`` heads its errors (torch.cholesky's differ)."""
    check_matrices(A, "linalg.cholesky")
    factor, info = _cholesky_arrays(A._array)
    if bool((info != 0).any()):
        raise _cholesky_error(info, name)
    L = Cholesky.apply(A, factor=column_major(factor))
    return _upper_of(L) if upper else L


@in_float32
def torch_cholesky(input, upper=False):
    """``torch.cholesky`` (deprecated there): linalg.cholesky with ``upper`` positional.  It
    has no up-front dtype check: an empty input comes back as it is (square or not), and a
    dtype without a kernel (integers, bool, float16) is its kernel's refusal."""
    if isinstance(input, Tensor):
        warn_deprecated_linalg("cholesky", "cholesky")
    if isinstance(input, Tensor) and input.ndim >= 2:
        if input.numel() == 0:
            return clone(input)
        dtype = input._array.dtype
        if input.shape[-1] == input.shape[-2] and (dtype.kind not in "fcV" or
                                                   dtypes.reduced_float(dtype)):
            raise not_implemented_for("cholesky_cpu", dtype)
    return rename_node(_checked_cholesky(input, upper, "cholesky"), "CholeskyBackward0")


# ----------------------------------------------------------------------------------------------
# QR
# ----------------------------------------------------------------------------------------------
class QrQ(Function):
    """Q of the QR factorisation of a (..., m, n) ('reduced' or 'complete' ``mode``).

    Backward (m >= n; for a complex a too, R's diagonal being real): with W = Q^H gQ and
    skew(W) = tril(W - W^H) with its diagonal halved, gA = (gQ + Q (skew(W) - W)) R^-H
    (for a real a, skew(W) - W = copyltu(-W^T): the formula of the module docstring)."""
    _node_name = "LinalgQrBackward0"                # PyTorch's node
    complex_ok = True
    def forward(self, a, *, mode):
        self.mode = mode
        xp = backend.xp_of(a)
        m, n = a.shape[-2:]
        k = m if mode == "complete" else min(m, n)
        if a.size == 0:
            q = xp.zeros(a.shape[:-2] + (m, k), a.dtype)
            if min(m, k):
                q[..., range(min(m, k)), range(min(m, k))] = 1
        else:
            q = xp.linalg.qr(a, mode=mode)[0]
        q = column_major(q)
        self.save_for_backward(a, q)
        return q

    def backward(self, g):
        a, q = self.saved_tensors
        m, n = a.shape[-2:]
        if self.mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' "
                               "and nrows > ncols.")
        x = narrow(a, -1, 0, m) if m < n else a
        qh = _mH(q)
        r = triu(matmul(qh, x))
        w = matmul(qh, g)
        low = tril(sub(w, _mH(w)))
        low = sub(low, mul(diag_embed(diagonal(low, 0, -2, -1)), 0.5))
        b = add(g, matmul(q, sub(low, w)))
        gx = _mH(solve_triangular(r, _mH(b), upper=True))        # B R^-H
        if m < n:
            zeros = mul(narrow(a, -1, m, n - m), 0.0)
            return cat([gx, zeros], -1)
        return gx


@in_float32
def qr(A, mode="reduced"):
    """``linalg.qr``: (Q, R) with A = Q R, A (*, m, n), k = min(m, n): 'reduced' Q (*, m, k),
    R (*, k, n); 'complete' Q (*, m, m), R (*, m, n); 'r' R only (Q empty).  R is computed as
    triu(Q^H A), so its gradient follows from Q's."""
    # PyTorch's order: the arguments' types, A's rank and dtype, the mode, the kernel's dtypes
    if isinstance(A, Tensor) and not isinstance(mode, str):
        raise argument_error("linalg_qr", "mode", "str", mode)
    check_matrices(A, "linalg.qr", square=False, kernel=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           f"'reduced' (default), 'r', or 'complete'")
    check_matrices(A, "linalg.qr", square=False)
    q = QrQ.apply(A, mode="complete" if mode == "complete" else "reduced")
    r = rename_node(column_major_tensor(triu(matmul(_mH(q), A))),       # PyTorch's node
                    "LinalgQrBackward0")
    if mode == "r":
        q = Tensor._wrap(backend.xp_of(A._array).zeros((0,), A._array.dtype))
        r = _ROnly.apply(r)
    return QrResult(q, r)


class _ROnly(Function):
    """R of ``linalg.qr(A, mode='r')``: the same values, but no gradient (its derivative
    needs Q, which that mode does not return): backward is PyTorch's error."""
    complex_ok = True            # a copy; its backward refuses every dtype
    _node_name = "LinalgQrBackward0"

    def forward(self, r):
        return column_major(r.copy(order="K"))       # (a dim of size 1 too: LAPACK's layout)

    def backward(self, g):
        raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed "
                           "when mode='r'. Please use linalg.qr(A, mode='reduced') if you are "
                           "going to differentiate through linalg.qr.")


# ----------------------------------------------------------------------------------------------
# SVD
# ----------------------------------------------------------------------------------------------
def _complete(u, extra):
    """u (..., m, k) with orthonormal columns extended to (..., m, m) by ``extra`` (..., m,
    m - k), an orthonormal basis of their complement (a constant: PyTorch gives those columns
    no gradient)."""
    if extra.shape[-1] == 0:
        return u
    return cat([u, Tensor._wrap(backend.xp_of(extra).ascontiguousarray(extra))], -1)


def _complements(a):
    """The last m - k columns of U and n - k rows of Vh of the full SVD of a (..., m, n),
    k = min(m, n): the bases of the complements of its column and row spaces that LAPACK's
    full SVD returns (the Householder vectors of its QR / LQ step), as PyTorch's do."""
    xp = backend.xp_of(a)
    *batch, m, n = a.shape
    k = min(m, n)
    if a.size == 0 or not xp.isfinite(a).all():
        eye_m, eye_n = xp.eye(m, dtype=a.dtype), xp.eye(n, dtype=a.dtype)
        return (xp.broadcast_to(eye_m[:, k:], (*batch, m, m - k)),
                xp.broadcast_to(eye_n[k:], (*batch, n - k, n)))
    u, _, vh = xp.linalg.svd(a, full_matrices=True)
    return u[..., k:], vh[..., k:, :]


@in_float32
def svd(A, full_matrices=True, *, driver=None):
    """``linalg.svd``: (U, S, Vh) with A = U diag(S) Vh, A (*, m, n), k = min(m, n), S (*, k)
    descending; U (*, m, k) and Vh (*, k, n) when not ``full_matrices``, else U (*, m, m),
    Vh (*, n, n) (the extra columns, LAPACK's, have no gradient)."""
    svdvals(A, driver=driver)        # the same checks (and errors) as svdvals
    if A._array.dtype.kind == "c":   # one node for the three factors (see SvdPacked)
        u, s, vh = svd_parts(SvdPacked.apply(A), *A.shape[-2:])
        s = clone(s)
    else:
        u, s, vh = SvdU.apply(A), SvdVals.apply(A), SvdVh.apply(A)
    if full_matrices and A.shape[-2] != A.shape[-1]:
        extra_u, extra_vh = _complements(A._array)
        u, vh = _complete(u, extra_u), mT(_complete(mT(vh), extra_vh.swapaxes(-1, -2)))
    # U and Vh column-major, as LAPACK writes them (a copy where they were put together)
    u, vh = (rename_node(column_major_tensor(t), "LinalgSvdBackward0") for t in (u, vh))
    return SvdResult(u, s, vh)


@in_float32
def torch_svd(input, some=True, compute_uv=True):
    """``torch.svd``: (U, S, V) with input = U diag(S) V^H (V, not Vh); ``some`` False gives
    square U and V; ``compute_uv`` False gives zero U (*, m, m) and V (*, n, n) whatever
    ``some`` says, as PyTorch's."""
    u, s, vh = svd(input, full_matrices=not some)
    if compute_uv:
        return TorchSvdResult(u, s, _mH(vh))
    xp = backend.xp_of(input._array)
    *batch, m, n = input.shape
    return TorchSvdResult(Tensor._wrap(xp.zeros((*batch, m, m), u._array.dtype)), s,
                          Tensor._wrap(xp.zeros((*batch, n, n), vh._array.dtype)))
