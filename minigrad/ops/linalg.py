"""The linear-algebra core the other linalg modules build on: ``LinAlgError`` (PyTorch's
torch.linalg.LinAlgError, a RuntimeError) and the singular value decomposition as
differentiable Functions: ``SvdVals``, ``SvdU`` and ``SvdVh`` (one factor each of the
reduced SVD A = U diag(S) Vh, A (..., m, n), k = min(m, n)), ``SvdPacked`` (all three of a
complex A in one array, read back by ``svd_parts``) and ``svdvals``.

Norms are in ``norms.py``, ``einsum`` / ``dot`` / ``inner`` in ``contraction.py``,
``var_mean`` / ``std_mean`` in ``statistics.py``; the other decompositions, inverses, solves
and determinants in ``decompositions.py``, ``eigen.py``, ``pseudo_inverse.py``, ``solve.py``,
``triangular_solve.py``, ``determinant.py``, ``lu.py``, ``ldl.py``.
"""
from __future__ import annotations

import numpy as np

from .. import backend, dtypes
from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor
from ._autocast_cast import in_float32
from ._lapack_layout import column_major
from ._util import not_implemented_for, scalar_type_name
from .elementwise import add, mul, sub
from .division import div
from .pointwise_select import where
from .matmul import matmul
from .complex_numbers import real
from .movement import mT, squeeze, unsqueeze
from .stacking import narrow
from .plumbing import conj_of
from .shaping import diagonal

__all__ = ["LinAlgError", "svdvals"]


# -- singular values ---------------------------------------------------------------------------
# SvdVals, SvdU and SvdVh are the three factors of the reduced SVD A = U diag(S) Vh (A m x n,
# k = min(m, n)), each a differentiable function of A.  Their backwards are the standard
# formulas for the SVD's derivative (real case), written with minigrad's ops; where a backward
# runs under create_graph it takes U, S, Vh from these same Functions, so gradients of any
# order follow.  With F[i, j] = 1 / (s_j^2 - s_i^2) (0 on the diagonal):
#   through S:  dA = U diag(gS) Vh
#   through U:  dA = U (F o (U^T gU - gU^T U)) diag(S) Vh + (I - U U^T) gU diag(1/S) Vh
#   through Vh: dA = U diag(S) (F o (Vh gVh^T - gVh Vh^T)) Vh + U diag(1/S) gVh (I - Vh^T Vh)
# (the last terms of the two only when m > k, resp. n > k).  Repeated singular values make F
# infinite: the U and Vh derivatives are then undefined, as in PyTorch; the S one is not.

class LinAlgError(RuntimeError):
    """A linear-algebra routine failed on its input (PyTorch's torch.linalg.LinAlgError, a
    RuntimeError).  Its class name is PyTorch's, ``_LinAlgError`` (what a traceback and
    ``repr`` print); the module holds it under that name too, for pickle."""


LinAlgError.__name__ = LinAlgError.__qualname__ = "_LinAlgError"
_LinAlgError = LinAlgError


def _svd_arrays(a):
    """numpy's reduced SVD (U, S, Vh) of the matrices a (..., m, n), as PyTorch's: a matrix
    with an infinite element has NaN factors; a NaN element is an error (LAPACK's, which
    PyTorch reports as LinAlgError)."""
    xp = backend.xp_of(a)
    if a.size == 0:      # no matrices, or empty ones: empty factors (numpy has no float16 SVD)
        *batch, m, n = a.shape
        k = min(m, n)
        return (xp.zeros((*batch, m, k), a.dtype), xp.zeros((*batch, k), a.real.dtype),
                xp.zeros((*batch, k, n), a.dtype))
    if xp.isnan(a).any():
        raise LinAlgError("linalg.svd: The algorithm failed to converge because the input "
                          "matrix contained non-finite values.")
    infinite = ~xp.isfinite(a).all(axis=(-2, -1))
    if not infinite.any():
        return _lapack_svd(xp, a)
    # LAPACK may fail on an infinity: those matrices are left out and their factors are NaN
    mat = infinite[..., None, None]
    u, s, vh = _lapack_svd(xp, xp.where(mat, a.dtype.type(0), a))
    nan = a.dtype.type("nan")
    return (xp.where(mat, nan, u), xp.where(infinite[..., None], s.dtype.type("nan"), s),
            xp.where(mat, nan, vh))


def _lapack_svd(xp, a):
    """xp's reduced SVD of finite matrices; LAPACK's failure to converge is PyTorch's
    LinAlgError, not numpy's."""
    try:
        return xp.linalg.svd(a, full_matrices=False)
    except np.linalg.LinAlgError:
        raise LinAlgError("linalg.svd: The algorithm failed to converge because the input "
                          "matrix is ill-conditioned or has too many repeated singular "
                          "values.") from None


class _SvdFactor(Function):
    """One factor of the reduced SVD of ``a`` (..., m, n); subclasses pick which."""
    _node_name = "LinalgSvdBackward0"               # PyTorch's node
    index = None

    def forward(self, a):
        u, s, vh = _svd_arrays(a)
        self.save_for_backward(a, u, s, vh)
        out = (u, s, vh)[self.index]
        return out if self.index == 1 else column_major(out)   # (LAPACK's layout: PyTorch's)

    def _factors(self):
        """(A, U, S, Vh): differentiable functions of A when this backward records a graph
        (create_graph), else the forward's arrays as constants."""
        a, u, s, vh = self.saved_tensors
        if is_grad_enabled():
            if a._array.dtype.kind == "c":
                u, s, vh = svd_parts(SvdPacked.apply(a), *a.shape[-2:])
            else:
                u, s, vh = SvdU.apply(a), SvdVals.apply(a), SvdVh.apply(a)
        return a, u, s, vh


def _off_diagonal_inverse(s):
    """F[..., i, j] = 1 / (s_j^2 - s_i^2) off the diagonal, 0 on it; s (..., k)."""
    s2 = mul(s, s)
    diff = sub(unsqueeze(s2, -2), unsqueeze(s2, -1))
    k = s.shape[-1]
    eye = backend.xp_of(s._array).eye(k, dtype=bool)
    return where(eye, 0.0, div(1.0, where(eye, 1.0, diff)))


class SvdVals(_SvdFactor):
    """The singular values of ``a`` (..., m, n), descending: shape (..., min(m, n)), real.
    Backward U diag(g) Vh, right for a complex a too (Vh = V^H); its second derivative goes
    through SvdU and SvdVh (SvdPacked for a complex a)."""
    index = 1
    complex_ok = True

    def backward(self, g):
        _, u, _, vh = self._factors()
        return matmul(mul(u, unsqueeze(g, -2)), vh)


class SvdU(_SvdFactor):
    """U of the reduced SVD, (..., m, k)."""
    index = 0

    def backward(self, g):
        a, u, s, vh = self._factors()
        ut_g = matmul(mT(u), g)
        inner = mul(mul(_off_diagonal_inverse(s), sub(ut_g, mT(ut_g))), unsqueeze(s, -2))
        out = matmul(matmul(u, inner), vh)
        if a.shape[-2] > s.shape[-1]:
            out = out + matmul(div(sub(g, matmul(u, ut_g)), unsqueeze(s, -2)), vh)
        return out


class SvdVh(_SvdFactor):
    """Vh of the reduced SVD, (..., k, n)."""
    index = 2

    def backward(self, g):
        a, u, s, vh = self._factors()
        vh_gt = matmul(vh, mT(g))
        inner = mul(unsqueeze(s, -1), mul(_off_diagonal_inverse(s), sub(vh_gt, mT(vh_gt))))
        out = matmul(matmul(u, inner), vh)
        if a.shape[-1] > s.shape[-1]:
            out = out + matmul(u, div(sub(g, matmul(mT(vh_gt), vh)), unsqueeze(s, -1)))
        return out


class SvdPacked(Function):
    """The reduced SVD of a complex a (..., m, n) in one array (..., m + 1 + n, k): U in the
    first m rows, S (as complex numbers) in the next, V = Vh^H in the last n (read back by
    ``svd_parts``); one node, so that its backward sees gU, gS and gV together.  With
    W_U = U^H gU, W_V = V^H gV, F as above and the phase term D = i Im diag(W_U) / S:

        gA = U [diag(gS) + (F o (W_U - W_U^H)) S + S (F o (W_V - W_V^H)) + D] V^H
             + (I - U U^H) gU S^-1 V^H + U S^-1 gV^H (I - V V^H)

    A phase e^(i phi) shared by a column of U and of V is arbitrary: a loss with
    Im diag(W_U + W_V) != 0 depends on it, and is refused as PyTorch does."""
    _node_name = "LinalgSvdBackward0"               # PyTorch's node
    complex_ok = True

    def forward(self, a):
        xp = backend.xp_of(a)
        u, s, vh = _svd_arrays(a)
        out = xp.concatenate([u, s[..., None, :].astype(u.dtype),
                              xp.swapaxes(vh, -1, -2).conj()], axis=-2)
        self.save_for_backward(a, out)          # the output itself: differentiable again
        return out

    def backward(self, g):
        a, packed = self.saved_tensors
        m, n = a.shape[-2:]
        u, s, vh = svd_parts(packed, m, n)
        gu, gs, gvh = svd_parts(g, m, n)
        v, gv = _conj_t(vh), _conj_t(gvh)
        uh = _conj_t(u)
        wu, wv = matmul(uh, gu), matmul(vh, gv)
        phases = add(diagonal(wu, 0, -2, -1), diagonal(wv, 0, -2, -1))
        if not np.allclose(backend.as_numpy(phases._array).imag, 0.0, rtol=1e-2, atol=1e-2):
            raise RuntimeError("svd_backward: The singular vectors in the complex case are "
                               "specified up to multiplication by e^{i phi}. The specified loss "
                               "function depends on this quantity, so it is ill-defined.")
        f = _off_diagonal_inverse(s)
        d = diagonal(wu, 0, -2, -1)
        phase = div(mul(sub(d, conj_of(d)), 0.5), s)            # i Im diag(W_U) / S
        inner = add(mul(mul(f, sub(wu, _conj_t(wu))), unsqueeze(s, -2)),
                    mul(unsqueeze(s, -1), mul(f, sub(wv, _conj_t(wv)))))
        eye = backend.xp_of(s._array).eye(s.shape[-1], dtype=packed._array.dtype)
        inner = add(inner, mul(unsqueeze(add(gs, phase), -1), Tensor._wrap(eye)))
        out = matmul(matmul(u, inner), vh)
        k = s.shape[-1]
        if m > k:
            out = out + matmul(div(sub(gu, matmul(u, wu)), unsqueeze(s, -2)), vh)
        if n > k:
            out = out + matmul(u, div(_conj_t(sub(gv, matmul(v, wv))), unsqueeze(s, -1)))
        return out


def _conj_t(t):
    return conj_of(mT(t))


def svd_parts(packed, m, n):
    """(U (..., m, k), S (..., k) real, Vh (..., k, n)) read off SvdPacked's array."""
    u = narrow(packed, -2, 0, m)
    s = real(squeeze(narrow(packed, -2, m, 1), -2))
    vh = _conj_t(narrow(packed, -2, m + 1, n))
    return u, s, vh


def check_svd_driver(driver):
    """PyTorch takes an SVD ``driver`` only for CUDA inputs: any on this CPU is refused."""
    if driver is not None:
        raise RuntimeError("torch.linalg.svd: keyword argument `driver=` is only supported on "
                           "CUDA inputs with cuSOLVER backend.")


@in_float32
def svdvals(A, *, driver=None):
    """Singular values of the matrices A (..., m, n), descending: (..., min(m, n)).
    Differentiable to any order (see SvdVals).  ``driver`` picks a CUDA solver: refused."""
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg_svdvals(): argument 'A' (position 1) must be Tensor, not "
                        f"{type(A).__name__}")
    check_svd_driver(driver)
    if A.ndim < 2:
        raise RuntimeError("linalg.svd: The input tensor A must have at least 2 dimensions.")
    if A._array.dtype.kind not in "fcV":
        raise RuntimeError(f"linalg.svd: Expected a floating point or complex tensor as input. "
                           f"Got {scalar_type_name(A._array.dtype)}")
    if dtypes.reduced_float(A._array.dtype) and A.numel() != 0:   # an empty one needs none
        raise not_implemented_for("linalg_svd_cpu", A._array.dtype)
    return SvdVals.apply(A)


def lapack_eigh(a, uplo="L"):
    """numpy's eigh (w, V) of the matrices a (..., n, n); LAPACK's failure to converge (on a
    NaN, say) is PyTorch's LinAlgError naming the batch element, not numpy's error."""
    xp = backend.xp_of(a)
    try:
        return xp.linalg.eigh(a, UPLO=uplo)
    except np.linalg.LinAlgError:
        bad = ~xp.isfinite(a).reshape((-1,) + a.shape[-2:]).all(axis=(-2, -1))
        where_ = "" if a.ndim == 2 else \
            f"(Batch element {int(xp.argmax(bad)) if bool(bad.any()) else 0}): "
        raise LinAlgError(f"linalg.eigh: {where_}The algorithm failed to converge because the "
                          "input matrix is ill-conditioned or has too many repeated "
                          "eigenvalues.") from None


# -- determinants of matrices with NaN or inf --------------------------------------------------
def nonfinite_slogdet(a):
    """(sign, log|det|, det) arrays of the real square matrices a (..., n, n) from the pivots of
    partial-pivoting Gaussian elimination, as LAPACK's getrf leaves them.  For matrices with a
    NaN or inf entry, where numpy's det takes an exactly zero pivot for a singular matrix
    (det 0) though the eliminated NaN / inf makes PyTorch's product of the pivots NaN; a NaN
    det has sign 0, as PyTorch's."""
    xp = backend.xp_of(a)
    *batch, n, _ = a.shape
    u = xp.array(a, copy=True).reshape((-1, n, n))
    rows = xp.arange(u.shape[0])
    flips = xp.zeros(u.shape[0], dtype=bool)
    with np.errstate(all="ignore"):          # NaN and inf go on silently, as in LAPACK
        for j in range(n):
            col = u[:, j:, j]
            size = xp.abs(col)
            # LAPACK's idamax: the first largest, a NaN only when it comes first
            p = xp.argmax(xp.where(xp.isnan(size), -1.0, size), axis=1)
            p = j + xp.where(xp.isnan(size[:, 0]), 0, p)
            flips ^= p != j
            u[rows, j], u[rows, p] = u[rows, p], u[rows, j].copy()
            piv = u[:, j, j]
            # a zero pivot leaves its column unscaled, and the update runs on, as in getf2
            factor = u[:, j + 1:, j] / xp.where(piv == 0, 1, piv)[:, None]
            u[:, j + 1:, j + 1:] -= factor[:, :, None] * u[:, j, None, j + 1:]
        pivots = xp.diagonal(u, axis1=-2, axis2=-1)
        magnitude = xp.abs(pivots)
        det = xp.prod(pivots, axis=-1) * xp.where(flips, -1, 1)
        logabs = xp.sum(xp.log(magnitude), axis=-1)
        sign = xp.prod(xp.sign(pivots), axis=-1) * xp.where(flips, -1, 1)
    sign = xp.where(xp.isnan(det), 0, sign)
    shape = tuple(batch)
    return sign.reshape(shape), logabs.reshape(shape), det.reshape(shape)


def patch_nonfinite(a, out, which):
    """``out``, numpy's det (which = 2), log|det| (1) or sign (0) of a (..., n, n), with the
    real matrices that hold a NaN or inf recomputed by ``nonfinite_slogdet``."""
    xp = backend.xp_of(a)
    if a.shape[-1] == 0 or a.dtype.kind == "c" or bool(xp.isfinite(a).all()):
        return out
    bad = ~xp.isfinite(a).all(axis=(-2, -1))
    fixed = nonfinite_slogdet(a[bad])[which]
    out = xp.array(out, copy=True).reshape(bad.shape)
    out[bad] = fixed
    return out
