"""Matrix decompositions: ``linalg.cholesky`` / ``cholesky_ex``, ``linalg.qr``,
``linalg.eigh`` / ``eigvalsh``, ``linalg.svd`` / ``svd``, ``linalg.pinv``,
``linalg.matrix_rank``, ``linalg.lstsq``; batched over leading dims.

Forward: numpy's batched LAPACK routines.  Backward: minigrad ops (gradients of any order).
With A = L L^T, A = Q R, A = V diag(w) V^T and P = pinv(A):

* cholesky: Phi(X) = tril(X) with its diagonal halved;
  dA = sym(L^-T Phi(L^T tril(gL)) L^-1), sym(X) = (X + X^T) / 2; complex (A = L L^H):
  dA = L^-H (X + tril(X, -1)^H) L^-1 / 2, X = tril(L^H gL), PyTorch's choice (its
  Hermitian part is the gradient's; the diagonal keeps Im X_ii / 2)
* qr (m >= n): only Q is a Function; R = triu(Q^T A) is a product of differentiable ops, so
  its gradient reaches Q and A by itself.  With M = -gQ^T Q and copyltu(M) the symmetric
  matrix built from M's lower triangle, dA = (gQ + Q copyltu(M)) R^-T.  For m < n the
  formula applies to the first m columns of A (the rest get no gradient through Q).
* eigh: eigenvalues dA = V diag(gw) V^T; eigenvectors dA = V (F o skew(V^T gV)) V^T,
  skew(M) = (M - M^T) / 2 (so dA is symmetric), F_ij = 1 / (w_j - w_i) off the diagonal
  and 0 on it (infinite for repeated eigenvalues: the eigenvectors' derivative is then
  undefined, as in PyTorch).
* pinv: dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P (Golub and Pereyra's
  derivative of the pseudo-inverse, valid while the rank is constant), transposed term by
  term in ``Pinv.backward``.

Complex matrices (Hermitian for cholesky / eigh) take the same formulas with conjugate
transposes (^T -> ^H).  Their svd and eigh are one Function each (SvdPacked, EighPacked:
all factors in one array), so that the gradients reaching U, S, V (w, V), a second
derivative's included, meet in one backward, which refuses a loss that depends on the
vectors' arbitrary phases, as PyTorch does.
"""
from __future__ import annotations

import numpy as np

from .. import backend, dtypes
from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor
from ._util import not_implemented_for, scalar_type_name
from .complex_numbers import real
from .elementary_functions import abs as abs_
from .elementwise import add, cast, div, mul, sub
from .pointwise_select import where
from .linalg import (LinAlgError, SvdPacked, SvdU, SvdVals, SvdVh, _svd_arrays, svd_parts,
                     svdvals)
from .matmul import matmul
from .movement import clone, mT, squeeze, unsqueeze
from .stacking import cat, narrow
from .plumbing import cast_to, conj_of
from .reduce import sum as sum_
from .shaping import diagonal, tril, triu
from .sequence_more import diag_embed
from .solve import (Solve, _batch_prefix, _mH, check_matrices, empty_without_kernel, result_type,
                    solve_triangular)

__all__ = ["cholesky", "cholesky_ex", "torch_cholesky", "qr", "eigh", "eigvalsh", "eig",
           "eigvals", "svd", "torch_svd", "pinv", "pinverse", "matrix_rank", "lstsq"]

CholeskyExResult = result_type("linalg_cholesky_ex", ["L", "info"])
QrResult = result_type("linalg_qr", ["Q", "R"])
EighResult = result_type("linalg_eigh", ["eigenvalues", "eigenvectors"])
SvdResult = result_type("linalg_svd", ["U", "S", "Vh"])
TorchSvdResult = result_type("svd", ["U", "S", "V"])
LstsqResult = result_type("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])


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


def cholesky_ex(A, *, upper=False, check_errors=False):
    """``linalg.cholesky_ex``: (L, info); L (*, n, n) lower (upper, L^T, if ``upper``) with
    A = L L^T from A's lower triangle; info (*) int32, k > 0 where the order-k leading minor
    is not positive-definite."""
    check_matrices(A, "linalg.cholesky_ex")
    factor, info = _cholesky_arrays(A._array)
    if check_errors and bool((info != 0).any()):
        raise _cholesky_error(info, "linalg.cholesky_ex")
    L = Cholesky.apply(A, factor=factor)
    return CholeskyExResult(_mH(L) if upper else L, Tensor._wrap(info))


def cholesky(A, *, upper=False):
    """``linalg.cholesky``: the Cholesky factor of the symmetric positive-definite A (*, n, n)
    (lower; upper = its transpose if ``upper``).  LinAlgError if a matrix is not PD."""
    check_matrices(A, "linalg.cholesky")
    factor, info = _cholesky_arrays(A._array)
    if bool((info != 0).any()):
        raise _cholesky_error(info, "linalg.cholesky")
    L = Cholesky.apply(A, factor=factor)
    return _mH(L) if upper else L


def torch_cholesky(input, upper=False):
    """``torch.cholesky`` (deprecated there): linalg.cholesky with ``upper`` positional.  It
    has no up-front dtype check: an empty input comes back as it is (square or not), and a
    dtype without a kernel (integers, bool, float16) is its kernel's refusal."""
    if isinstance(input, Tensor) and input.ndim >= 2:
        if input.numel() == 0:
            return clone(input)
        dtype = input._array.dtype
        if input.shape[-1] == input.shape[-2] and (dtype.kind not in "fcV" or
                                                   dtypes.reduced_float(dtype)):
            raise not_implemented_for("cholesky_cpu", dtype)
    return cholesky(input, upper=upper)


# ----------------------------------------------------------------------------------------------
# QR
# ----------------------------------------------------------------------------------------------
class QrQ(Function):
    """Q of the QR factorisation of a (..., m, n) ('reduced' or 'complete' ``mode``).

    Backward (m >= n; for a complex a too, R's diagonal being real): with W = Q^H gQ and
    skew(W) = tril(W - W^H) with its diagonal halved, gA = (gQ + Q (skew(W) - W)) R^-H
    (for a real a, skew(W) - W = copyltu(-W^T): the formula of the module docstring)."""
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


def qr(A, mode="reduced"):
    """``linalg.qr``: (Q, R) with A = Q R, A (*, m, n), k = min(m, n): 'reduced' Q (*, m, k),
    R (*, k, n); 'complete' Q (*, m, m), R (*, m, n); 'r' R only (Q empty).  R is computed as
    triu(Q^H A), so its gradient follows from Q's."""
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           f"'reduced' (default), 'r', or 'complete'")
    check_matrices(A, "linalg.qr", square=False)
    q = QrQ.apply(A, mode="complete" if mode == "complete" else "reduced")
    r = triu(matmul(_mH(q), A))
    if mode == "r":
        q = Tensor._wrap(backend.xp_of(A._array).zeros((0,), A._array.dtype))
        r = _ROnly.apply(r)
    return QrResult(q, r)


class _ROnly(Function):
    """R of ``linalg.qr(A, mode='r')``: the same values, but no gradient (its derivative
    needs Q, which that mode does not return): backward is PyTorch's error."""
    complex_ok = True            # a copy; its backward refuses every dtype
    def forward(self, r):
        return r.copy()

    def backward(self, g):
        raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed "
                           "when mode='r'. Please use linalg.qr(A, mode='reduced') if you are "
                           "going to differentiate through linalg.qr.")


# ----------------------------------------------------------------------------------------------
# Symmetric eigendecomposition
# ----------------------------------------------------------------------------------------------
class _EighFactor(Function):
    """One factor of eigh(a) (eigenvalues ascending, or eigenvectors), ``uplo`` the triangle
    read; for a real a (a complex, Hermitian, one goes through EighPacked)."""
    index = None

    def forward(self, a, *, uplo):
        self.uplo = uplo
        w, v = backend.xp_of(a).linalg.eigh(a, UPLO=uplo)
        self.save_for_backward(a, w, v)
        return (w, v)[self.index]

    def _factors(self):
        a, w, v = self.saved_tensors
        if is_grad_enabled():          # a recorded backward differentiates the factors too
            w, v = EighVals.apply(a, uplo=self.uplo), EighVecs.apply(a, uplo=self.uplo)
        return w, v


class EighPacked(Function):
    """eigh of a complex Hermitian a (..., n, n) in one array (..., n, n + 1): V in the first
    n columns, the (real) eigenvalues in the last, so that every gradient reaching them (a
    second derivative's too) meets in one node.  Backward, with W = V^H gV:
    V (diag(gw) + F o (W - W^H) / 2) V^H, F_ij = 1 / (w_j - w_i) (0 on the diagonal).  A loss
    with Im diag(W) != 0 depends on the eigenvectors' phases: refused, as PyTorch does."""
    complex_ok = True

    def forward(self, a, *, uplo):
        xp = backend.xp_of(a)
        w, v = xp.linalg.eigh(a, UPLO=uplo)
        out = xp.concatenate([v, w[..., None].astype(v.dtype)], axis=-1)
        self.save_for_backward(out)             # the output itself: differentiable again
        return out

    def backward(self, g):
        packed, = self.saved_tensors
        n = packed.shape[-2]
        v, w = _eigh_parts(packed)
        gv, gw = _eigh_parts(g)
        vh = _mH(v)
        vg = matmul(vh, gv)
        if not np.allclose(backend.as_numpy(diagonal(vg, 0, -2, -1)._array).imag, 0.0,
                           rtol=1e-2, atol=1e-2):
            raise RuntimeError("linalg_eigh_backward: The eigenvectors in the complex case are "
                               "specified up to multiplication by e^{i phi}. The specified loss "
                               "function depends on this quantity, so it is ill-defined.")
        diff = sub(unsqueeze(w, -2), unsqueeze(w, -1))          # w_j - w_i
        eye = backend.xp_of(w._array).eye(n, dtype=bool)
        f = where(eye, 0.0, div(1.0, where(eye, 1.0, diff)))
        inner = add(mul(f, mul(sub(vg, _mH(vg)), 0.5)), _diag_of(gw))
        return matmul(matmul(v, inner), vh)


def _eigh_parts(packed):
    """(V (..., n, n), w (..., n) real) read off EighPacked's array."""
    n = packed.shape[-2]
    return narrow(packed, -1, 0, n), real(squeeze(narrow(packed, -1, n, 1), -1))


class EighVals(_EighFactor):
    """Eigenvalues (..., n) of the symmetric (or Hermitian) a (..., n, n); backward
    V diag(g) V^H (V from EighPacked in a complex a's recorded backward)."""
    index = 0
    complex_ok = True

    def _factors(self):
        a, w, v = self.saved_tensors
        if is_grad_enabled() and a._array.dtype.kind == "c":
            return _eigh_parts(EighPacked.apply(a, uplo=self.uplo))[::-1]
        return super()._factors()

    def backward(self, g):
        _, v = self._factors()
        return matmul(mul(v, unsqueeze(g, -2)), _mH(v))


class EighVecs(_EighFactor):
    """Eigenvectors (..., n, n) (columns) of the symmetric a; backward V (F o skew(V^T g)) V^T,
    skew(M) = (M - M^T) / 2 (F o skew is symmetric: the gradient is a symmetric matrix)."""
    index = 1

    def backward(self, g):
        w, v = self._factors()
        diff = sub(unsqueeze(w, -2), unsqueeze(w, -1))          # w_j - w_i
        eye = backend.xp_of(w._array).eye(w.shape[-1], dtype=bool)
        f = where(eye, 0.0, div(1.0, where(eye, 1.0, diff)))
        vg = matmul(mT(v), g)
        return matmul(matmul(v, mul(f, mul(sub(vg, mT(vg)), 0.5))), mT(v))


def _check_uplo(UPLO):
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")


def eigh(A, UPLO="L"):
    """``linalg.eigh``: (eigenvalues (*, n) ascending, eigenvectors (*, n, n) as columns) of
    the symmetric A (*, n, n), read from its lower (``UPLO='L'``) or upper triangle."""
    check_matrices(A, "linalg.eigh")
    _check_uplo(UPLO)
    if empty_without_kernel(A):
        w, v = eigh(cast(A, np.dtype(np.float32)), UPLO)
        return EighResult(cast(w, A._array.dtype), cast(v, A._array.dtype))
    if A._array.dtype.kind == "c":          # one node for both (see EighPacked)
        v, w = _eigh_parts(EighPacked.apply(A, uplo=UPLO))
        return EighResult(clone(w), clone(v))
    return EighResult(EighVals.apply(A, uplo=UPLO), EighVecs.apply(A, uplo=UPLO))


def eigvalsh(A, UPLO="L"):
    """``linalg.eigvalsh``: the eigenvalues (*, n), ascending, of the symmetric A."""
    check_matrices(A, "linalg.eigvalsh")
    _check_uplo(UPLO)
    if empty_without_kernel(A):
        return cast(eigvalsh(cast(A, np.dtype(np.float32)), UPLO), A._array.dtype)
    return EighVals.apply(A, uplo=UPLO)


# ----------------------------------------------------------------------------------------------
# General (non-symmetric) eigendecomposition
# ----------------------------------------------------------------------------------------------
# A = V diag(L) V^-1, L and V complex, each eigenvector (column of V) of unit norm; its phase
# is arbitrary, so only a loss that does not depend on it has a gradient.  With
# dA' = V^-1 dA V:  dL = diag(dA'),  dV = V C,  C_ij = dA'_ij / (L_j - L_i) off the diagonal
# and C_jj real, chosen to keep |v_j| = 1 (Re v_j^H dv_j = 0).  Taking adjoints (a real loss,
# gradient dL/dx + i dL/dy), with W = V^H gV and E_ij = L_j - L_i:
#   through L:  gA = V^-H diag(gL) V^H
#   through V:  gA = V^-H ((W - V^H V diag(Re diag W)) / conj(E), 0 on the diagonal) V^H
# (V^-H X as a solve with V^H).  A real A takes the real part.  Im diag W is the loss's
# dependence on the phases: not 0 means the loss is ill-defined, and PyTorch refuses it.
EigResult = result_type("linalg_eig", ["eigenvalues", "eigenvectors"])


def _eig_arrays(a):
    """(L (..., n), V (..., n, n)) of a (..., n, n), complex (complex64 for float32 input,
    complex128 for float64): LAPACK's geev through numpy, vectors of unit norm."""
    xp = backend.xp_of(a)
    ctype = np.result_type(a.dtype, np.complex64)
    if a.size == 0:
        return xp.zeros(a.shape[:-1], ctype), xp.zeros(a.shape, ctype)
    w, v = xp.linalg.eig(a)
    return w.astype(ctype, copy=False), v.astype(ctype, copy=False)


class Eig(Function):
    """Both factors of eig(a) in one array (..., n, n + 1): V in the first n columns, L in
    the last, so that every gradient (of L and of V, and in a second derivative those that
    reach them through this backward) meets in one node; ``eig`` slices them out.  Backward
    (see above): V^-H (diag(gL) + (W - V^H V diag(Re diag W)) / conj(E)) V^H,
    W = V^H gV, E_ij = L_j - L_i, the fraction 0 on the diagonal."""
    complex_ok = True

    def forward(self, a):
        w, v = _eig_arrays(a)
        out = backend.xp_of(a).concatenate([v, w[..., None]], axis=-1)
        self.save_for_backward(a, out)          # the output itself: differentiable again
        return out

    def backward(self, g):
        a, packed = self.saved_tensors
        n = a.shape[-1]
        v, w = narrow(packed, -1, 0, n), squeeze(narrow(packed, -1, n, 1), -1)
        gv, gw = narrow(g, -1, 0, n), squeeze(narrow(g, -1, n, 1), -1)
        eye = backend.xp_of(packed._array).eye(n, dtype=bool)
        vh = conj_of(mT(v))
        vhg = matmul(vh, gv)
        diag = sum_(mul(vhg, Tensor._wrap(eye.astype(packed._array.dtype))), -1)   # diag W
        if not np.allclose(backend.as_numpy(diag._array).imag, 0.0, rtol=1e-2, atol=1e-2):
            raise RuntimeError("linalg_eig_backward: The eigenvectors in the complex case are "
                               "specified up to multiplication by e^{i phi}. The specified loss "
                               "function depends on this quantity, so it is ill-defined.")
        k = sub(vhg, mul(matmul(vh, v), unsqueeze(real(diag), -2)))
        e = conj_of(sub(unsqueeze(w, -2), unsqueeze(w, -1)))              # conj(L_j - L_i)
        inner = where(Tensor._wrap(eye), 0.0, div(k, where(Tensor._wrap(eye), 1.0, e)))
        inner = add(inner, _diag_of(gw))
        # V^-H inner V^H; a real a takes the real part
        return cast_to(Solve.apply(vh, matmul(inner, vh)), a._array.dtype)


def _diag_of(d):
    """The diagonal matrices (..., n, n) with d (..., n) on their diagonals."""
    eye = backend.xp_of(d._array).eye(d.shape[-1], dtype=d._array.dtype)
    return mul(unsqueeze(d, -1), Tensor._wrap(eye))


def _check_eig_input(A, name, finite=True):
    """PyTorch's refusals for eig / eigvals: a Tensor, at least 2-d, of a floating or complex
    dtype LAPACK has (not float16), square, finite (unless ``finite`` is False)."""
    if not isinstance(A, Tensor):
        raise TypeError(f"{name.replace('.', '_')}(): argument 'input' (position 1) must be "
                        f"Tensor, not {type(A).__name__}")
    dtype = A._array.dtype
    if dtype.kind not in "fcV":
        raise RuntimeError(f"Unknown Complex ScalarType for {scalar_type_name(dtype)}")
    if A.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor A must have at least 2 dimensions.")
    if dtypes.reduced_float(dtype):
        raise not_implemented_for("linalg_eig_out_cpu", dtype)
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    if finite and A.numel() and not _all_finite(A._array):
        raise RuntimeError("torch.linalg.eig: input tensor should not contain infs or NaNs.")


def eig(A):
    """``linalg.eig``: (eigenvalues (*, n), eigenvectors (*, n, n) as unit-norm columns) of
    the square A (*, n, n), both complex; A = V diag(L) V^-1.  The gradient is defined for a
    loss that does not depend on the eigenvectors' phases (see Eig)."""
    _check_eig_input(A, "linalg.eig")
    packed, n = Eig.apply(A), A.shape[-1]
    # copies, not views of the packed array: changing one in place must not touch the other
    # (nor what the backward saved)
    return EigResult(clone(squeeze(narrow(packed, -1, n, 1), -1)),
                     clone(narrow(packed, -1, 0, n)))


def eigvals(A):
    """``linalg.eigvals``: the complex eigenvalues (*, n) of the square A (*, n, n), in
    LAPACK's order (that of ``eig``)."""
    differentiable = A.requires_grad and is_grad_enabled()
    _check_eig_input(A, "linalg.eigvals", finite=differentiable)     # eig's check, as PyTorch
    if not differentiable and A.numel() and not _all_finite(A._array):
        # no gradient wanted: PyTorch's LAPACK call gives NaN for a matrix with an infinity
        xp, a = backend.xp_of(A._array), A._array
        bad = ~xp.isfinite(a).all(axis=(-2, -1))
        w, _ = _eig_arrays(xp.where(bad[..., None, None], a.dtype.type(0), a))
        return Tensor._wrap(xp.where(bad[..., None], w.dtype.type(complex("nan+nanj")), w))
    return clone(squeeze(narrow(Eig.apply(A), -1, A.shape[-1], 1), -1))


def _all_finite(a):
    return bool(backend.xp_of(a).isfinite(a).all())


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


def svd(A, full_matrices=True, *, driver=None):
    """``linalg.svd``: (U, S, Vh) with A = U diag(S) Vh, A (*, m, n), k = min(m, n), S (*, k)
    descending; U (*, m, k) and Vh (*, k, n) when not ``full_matrices``, else U (*, m, m),
    Vh (*, n, n) (the extra columns, LAPACK's, have no gradient)."""
    svdvals(A)                       # the same checks (and errors) as svdvals
    if A._array.dtype.kind == "c":   # one node for the three factors (see SvdPacked)
        u, s, vh = svd_parts(SvdPacked.apply(A), *A.shape[-2:])
        s = clone(s)
    else:
        u, s, vh = SvdU.apply(A), SvdVals.apply(A), SvdVh.apply(A)
    if full_matrices and A.shape[-2] != A.shape[-1]:
        extra_u, extra_vh = _complements(A._array)
        u, vh = _complete(u, extra_u), mT(_complete(mT(vh), extra_vh.swapaxes(-1, -2)))
    return SvdResult(u, s, vh)


def torch_svd(input, some=True, compute_uv=True):
    """``torch.svd``: (U, S, V) with input = U diag(S) V^H (V, not Vh); ``some`` False gives
    square U and V; ``compute_uv`` False gives zero U and V of those shapes."""
    u, s, vh = svd(input, full_matrices=not some)
    if compute_uv:
        return TorchSvdResult(u, s, _mH(vh))
    xp = backend.xp_of(input._array)
    return TorchSvdResult(Tensor._wrap(xp.zeros(u.shape, u._array.dtype)), s,
                          Tensor._wrap(xp.zeros(vh.shape[:-2] + vh.shape[-1:-3:-1],
                                                vh._array.dtype)))


# ----------------------------------------------------------------------------------------------
# Pseudo-inverse, rank, least squares
# ----------------------------------------------------------------------------------------------
def _tolerance(value, xp):
    if value is None:
        return None
    return value._array if isinstance(value, Tensor) else xp.asarray(value)


def _cutoff(s, atol, rtol, shape, xp, dtype):
    """max(atol, rtol * largest singular value) per matrix, PyTorch's defaults: rtol is
    eps * max(m, n) when neither is given, 0 when only atol is."""
    if rtol is None:
        rtol = np.finfo(dtype).eps * max(shape[-2:]) if atol is None or not np.any(atol > 0) \
            else 0.0
    smax = s.max(-1) if s.shape[-1] else xp.zeros(s.shape[:-1], s.dtype)
    atol = 0.0 if atol is None else atol
    return xp.maximum(atol, rtol * smax)


class Pinv(Function):
    """The pseudo-inverse P (..., n, m) of a (..., m, n), singular values (eigenvalues'
    magnitudes if ``hermitian``) at most ``cutoff`` dropped; backward Golub-Pereyra (with
    conjugate transposes for a complex a)."""
    complex_ok = True

    def forward(self, a, *, atol, rtol, hermitian):
        xp = backend.xp_of(a)
        if a.size == 0:
            out = xp.zeros(a.shape[:-2] + a.shape[-1:-3:-1], a.dtype)
        elif hermitian:
            w, v = xp.linalg.eigh(a)
            keep = xp.abs(w) > _cutoff(xp.abs(w), atol, rtol, a.shape, xp, a.dtype)[..., None]
            inv_w = xp.where(keep, 1.0 / xp.where(keep, w, 1.0), 0.0).astype(a.dtype)
            out = (v * inv_w[..., None, :]) @ xp.swapaxes(v, -1, -2).conj()
        else:
            u, s, vh = _svd_arrays(a)        # NaN refused and inf made NaN, as PyTorch
            keep = s > _cutoff(s, atol, rtol, a.shape, xp, a.dtype)[..., None]
            inv_s = xp.where(keep, 1.0 / xp.where(keep, s, 1.0), 0.0).astype(a.dtype)
            # a dropped singular value drops its vectors too, even NaN ones (an infinite
            # input: NaN factors, nothing kept, a zero pseudo-inverse, as PyTorch's)
            scaled = xp.where(keep[..., None, :], xp.swapaxes(vh, -1, -2).conj(), 0) * \
                inv_s[..., None, :]
            out = scaled @ xp.where(keep[..., :, None], xp.swapaxes(u, -1, -2).conj(), 0)
        self.save_for_backward(a, out)
        return out

    def backward(self, g):
        a, p = self.saved_tensors
        pt, gt = _mH(p), _mH(g)
        # dP = -P dA P + P P^H dA^H (I - A P) + (I - P A) dA^H P^H P, adjoint term by term
        first = mul(matmul(matmul(pt, g), pt), -1.0)
        left = sub(gt, matmul(matmul(a, p), gt))                 # (I - A P) g^T
        second = matmul(left, matmul(p, pt))
        right = sub(gt, matmul(gt, matmul(p, a)))                # g^T (I - P A)
        third = matmul(matmul(pt, p), right)
        return add(add(first, second), third)


def pinv(A, *, atol=None, rtol=None, hermitian=False, rcond=None):
    """``linalg.pinv``: the pseudo-inverse (*, n, m) of A (*, m, n); singular values at most
    max(atol, rtol * largest) count as zero (``rcond``: the old name of rtol).  The gradient
    assumes the rank is locally constant."""
    if isinstance(A, Tensor) and (A.ndim < 2 or A._array.dtype.kind not in "fcV" or
                                  dtypes.reduced_float(A._array.dtype)):
        kind = scalar_type_name(A._array.dtype)
        raise RuntimeError(f"linalg.pinv({kind}{{{list(A.shape)}}}): expected a tensor with 2 "
                           "or more dimensions of float, double, cfloat or cdouble types")
    check_matrices(A, "linalg.pinv", square=hermitian)
    xp = backend.xp_of(A._array)
    rtol = rcond if rtol is None else rtol
    return Pinv.apply(A, atol=_tolerance(atol, xp), rtol=_tolerance(rtol, xp),
                      hermitian=hermitian)


def pinverse(input, rcond=1e-15):
    """``torch.pinverse``: pinv with relative tolerance ``rcond``."""
    return pinv(input, rtol=rcond)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, tol=None):
    """``linalg.matrix_rank``: the number (int64, shape (*)) of singular values of A (*, m, n)
    above max(atol, rtol * largest) (``tol``: an absolute tolerance, the old spelling)."""
    check_matrices(A, "linalg.matrix_rank", square=hermitian)
    xp = backend.xp_of(A._array)
    if tol is not None:
        atol, rtol = tol, 0.0
    a = A._array
    if a.size == 0:
        return Tensor._wrap(xp.zeros(a.shape[:-2], np.int64))
    if hermitian:
        s = xp.abs(xp.linalg.eigvalsh(a))
    elif bool(xp.isfinite(a).all()):
        s = xp.linalg.svd(a, compute_uv=False)
    else:                                    # NaN refused, inf made NaN, as PyTorch's SVD
        s = _svd_arrays(a)[1]
    cut = _cutoff(s, _tolerance(atol, xp), _tolerance(rtol, xp), a.shape, xp, a.dtype)
    return Tensor._wrap((s > cut[..., None]).sum(-1).astype(np.int64))


def lstsq(A, B, rcond=None, *, driver=None):
    """``linalg.lstsq``: (solution, residuals, rank, singular_values) of min ||A X - B||, A
    (*, m, n), B (*, m, k) or (*, m); solution = pinv(A) B (differentiable).  As PyTorch on
    the CPU: rank always (driver 'gels' aside); singular_values only for 'gelsd'/'gelss';
    residuals (squared column norms of A X - B) when m > n for 'gels', and for 'gelsd' /
    'gelss' when besides every matrix has full rank; otherwise empty tensors."""
    check_matrices(A, "linalg.lstsq", square=False)
    if driver not in (None, "gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError("torch.linalg.lstsq: parameter `driver` should be one of (gels, "
                           "gelsy, gelsd, gelss)")
    if isinstance(B, Tensor) and B._array.dtype != A._array.dtype:
        raise RuntimeError(f"torch.linalg.lstsq: Expected input and other to have the same "
                           f"dtype, but got input's dtype {scalar_type_name(A._array.dtype)} and "
                           f"other's dtype {scalar_type_name(B._array.dtype)}")
    vector = B.ndim == A.ndim - 1
    b = unsqueeze(B, -1) if vector else B
    if b.shape[-2] != A.shape[-2]:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-2). "
                           f"Got {A.shape[-2]} and {b.shape[-2]}")
    x = matmul(pinv(A, rtol=rcond), b)
    xp = backend.xp_of(A._array)
    empty = Tensor._wrap(xp.zeros((0,), A._array.real.dtype))     # real for complex A
    rank = matrix_rank(A, rtol=rcond) if driver != "gels" else \
        Tensor._wrap(xp.zeros((0,), np.int64))
    # no residuals: still an output of the solve (requiring grad with it), as PyTorch's
    sv, res = empty, narrow(x.reshape(-1), 0, 0, 0)
    if res._array.dtype.kind == "c":                 # residuals are real
        res = abs_(res)
    m, n = A.shape[-2:]
    if driver in ("gelsd", "gelss"):
        sv = svdvals(A).detach()
    # 'gels' (QR, which assumes full rank) always gives them when m > n; the rank-revealing
    # 'gelsd' / 'gelss' only when every matrix has full column rank
    full = driver == "gels" or (driver in ("gelsd", "gelss") and bool((rank._array == n).all()))
    if m > n and full:
        r = sub(matmul(A, x), b)
        res = (r * r).sum(-2) if r._array.dtype.kind != "c" else (abs_(r) ** 2).sum(-2)
    return LstsqResult(x.squeeze(-1) if vector else x, res, rank, sv)
