"""Eigendecompositions of square matrices (*, n, n), batched over leading dims:
``linalg.eigh`` / ``eigvalsh`` (symmetric or Hermitian A = V diag(w) V^H, w real and ascending)
and ``linalg.eig`` / ``eigvals`` (general A = V diag(L) V^-1, L and V complex).

Forward: numpy's batched LAPACK routines.  Backward: minigrad ops (gradients of any order).

* eigh: eigenvalues dA = V diag(gw) V^T; eigenvectors dA = V (F o skew(V^T gV)) V^T,
  skew(M) = (M - M^T) / 2 (so dA is symmetric), F_ij = 1 / (w_j - w_i) off the diagonal
  and 0 on it (infinite for repeated eigenvalues: the eigenvectors' derivative is then
  undefined, as in PyTorch).  A Hermitian A takes the same formulas with ^H for ^T, through
  one Function (EighPacked: w and V in one array), so that the gradients reaching w and V meet
  in one backward, which refuses a loss that depends on the vectors' arbitrary phases.
* eig: see the comment above ``Eig`` (the phase of each unit-norm eigenvector is arbitrary,
  so only a loss that does not depend on it has a gradient, as in PyTorch).
"""
from __future__ import annotations

import numpy as np

from .. import backend, dtypes
from ..autograd import Function, is_grad_enabled
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._autocast_cast import in_float32
from ._lapack_layout import column_major, column_major_copy
from ._util import not_implemented_for, scalar_type_name
from .complex_numbers import real
from .linalg import lapack_eigh
from .elementwise import add, cast, mul, sub
from .division import div
from .pointwise_select import where
from .matmul import matmul
from .movement import mT, squeeze, unsqueeze
from .movement_copies import clone
from .stacking import narrow
from .plumbing import cast_to, conj_of
from .reduce import sum as sum_
from .shaping import diagonal
from .solve import Solve, _mH, check_matrices, empty_without_kernel, result_type

__all__ = ["eigh", "eigvalsh", "eig", "eigvals"]

EighResult = result_type("linalg_eigh", ["eigenvalues", "eigenvectors"])


# ----------------------------------------------------------------------------------------------
# Symmetric eigendecomposition
# ----------------------------------------------------------------------------------------------
class _EighFactor(Function):
    """One factor of eigh(a) (eigenvalues ascending, or eigenvectors), ``uplo`` the triangle
    read; for a real a (a complex, Hermitian, one goes through EighPacked)."""
    _node_name = "LinalgEighBackward0"              # PyTorch's node
    index = None

    def forward(self, a, *, uplo):
        self.uplo = uplo
        w, v = lapack_eigh(a, uplo)
        self.save_for_backward(a, w, v)
        return w if self.index == 0 else column_major(v)     # (LAPACK's layout: PyTorch's)

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
    _node_name = "LinalgEighBackward0"              # PyTorch's node
    complex_ok = True

    def forward(self, a, *, uplo):
        xp = backend.xp_of(a)
        w, v = lapack_eigh(a, uplo)
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
    """UPLO as 'L' or 'U' (PyTorch takes either case), or PyTorch's error."""
    if not isinstance(UPLO, str) or UPLO.upper() not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return UPLO.upper()


def _check_eigh_shape(A):
    """eigh's and eigvalsh's shape refusals, in eigh's words for both, made before their
    dtype refusals (PyTorch's order): A at least 2-d, square."""
    if isinstance(A, Tensor):
        if A.ndim < 2:
            raise RuntimeError("linalg.eigh: The input tensor A must have at least 2 dimensions.")
        if A.shape[-1] != A.shape[-2]:
            raise RuntimeError(f"linalg.eigh: A must be batches of square matrices, but they are "
                               f"{A.shape[-2]} by {A.shape[-1]} matrices")


@in_float32
def eigh(A, UPLO="L"):
    """``linalg.eigh``: (eigenvalues (*, n) ascending, eigenvectors (*, n, n) as columns) of
    the symmetric A (*, n, n), read from its lower (``UPLO='L'``) or upper triangle."""
    _check_eigh_shape(A)
    if isinstance(A, Tensor):
        UPLO = _check_uplo(UPLO)      # (before the dtype, as PyTorch)
    check_matrices(A, "linalg.eigh")
    if empty_without_kernel(A):
        w, v = eigh(cast(A, np.dtype(np.float32)), UPLO)
        return EighResult(cast(w, A._array.dtype), cast(v, A._array.dtype))
    if A._array.dtype.kind == "c":          # one node for both (see EighPacked)
        v, w = _eigh_parts(EighPacked.apply(A, uplo=UPLO))
        return EighResult(clone(w), column_major_copy(v))     # (V column-major, a copy)
    return EighResult(EighVals.apply(A, uplo=UPLO), EighVecs.apply(A, uplo=UPLO))


@in_float32
def eigvalsh(A, UPLO="L"):
    """``linalg.eigvalsh``: the eigenvalues (*, n), ascending, of the symmetric A."""
    _check_eigh_shape(A)
    if isinstance(A, Tensor):
        UPLO = _check_uplo(UPLO)      # (before the dtype, as PyTorch)
    check_matrices(A, "linalg.eigvalsh")
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
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{name}: A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    if dtypes.reduced_float(dtype):
        raise not_implemented_for("linalg_eig_out_cpu", dtype)
    if finite and A.numel() and not _all_finite(A._array):
        raise RuntimeError("torch.linalg.eig: input tensor should not contain infs or NaNs.")


_EIG_NODE = "LinalgEigBackward0"          # PyTorch's one node for eig's and eigvals' outputs


@in_float32
def eig(A):
    """``linalg.eig``: (eigenvalues (*, n), eigenvectors (*, n, n) as unit-norm columns) of
    the square A (*, n, n), both complex; A = V diag(L) V^-1.  The gradient is defined for a
    loss that does not depend on the eigenvectors' phases (see Eig)."""
    _check_eig_input(A, "linalg.eig")
    packed, n = Eig.apply(A), A.shape[-1]
    # copies, not views of the packed array: changing one in place must not touch the other
    # (nor what the backward saved)
    # (V laid out column-major, as LAPACK's geev writes it)
    return EigResult(rename_node(clone(squeeze(narrow(packed, -1, n, 1), -1)), _EIG_NODE),
                     rename_node(column_major_copy(narrow(packed, -1, 0, n)), _EIG_NODE))


@in_float32
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
    return rename_node(clone(squeeze(narrow(Eig.apply(A), -1, A.shape[-1], 1), -1)), _EIG_NODE)


def _all_finite(a):
    return bool(backend.xp_of(a).isfinite(a).all())
