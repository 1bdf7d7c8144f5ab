"""The pseudo-inverse and what is built on it: ``linalg.pinv`` (and ``torch.pinverse``),
``linalg.matrix_rank`` and ``linalg.lstsq``; A (*, m, n), batched over leading dims.

Singular values (eigenvalues' magnitudes for ``hermitian``) at most max(atol, rtol * largest)
count as zero.  pinv's forward is numpy's SVD (or eigh); its backward, with P = pinv(A):
dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P (Golub and Pereyra's derivative of
the pseudo-inverse, valid while the rank is constant), transposed term by term in
``Pinv.backward`` (conjugate transposes for a complex A).  lstsq's solution is pinv(A) B, so
it is differentiable through pinv; rank and singular values are not.
"""
from __future__ import annotations

import numpy as np

from .. import backend, dtypes
from ..autograd import Function
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._autocast_cast import in_float32
from ._lapack_layout import column_major_tensor
from ._util import broadcast_shape, scalar_type_name
from .elementary_functions import abs as abs_
from .elementwise import add, mul, sub
from .linalg import LinAlgError, _svd_arrays, lapack_eigh, svdvals
from .matmul import matmul
from .movement import unsqueeze
from .stacking import cat, narrow
from .solve import _batch_prefix, _mH, check_matrices, result_type

__all__ = ["pinv", "pinverse", "matrix_rank", "lstsq"]

LstsqResult = result_type("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])


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
    # a tolerance tensor broadcasts against the batch shape: PyTorch's error where it cannot
    broadcast_shape(xp.shape(atol), broadcast_shape(xp.shape(rtol), smax.shape))
    return xp.maximum(atol, rtol * smax)


class Pinv(Function):
    """The pseudo-inverse P (..., n, m) of a (..., m, n), singular values (eigenvalues'
    magnitudes if ``hermitian``) at most ``cutoff`` dropped; backward Golub-Pereyra (with
    conjugate transposes for a complex a)."""
    _node_name = "LinalgPinvBackward0"              # PyTorch's node
    complex_ok = True

    def forward(self, a, *, atol, rtol, hermitian):
        xp = backend.xp_of(a)
        if a.size == 0:
            out = xp.zeros(a.shape[:-2] + a.shape[-1:-3:-1], a.dtype)
        elif hermitian:
            w, v = lapack_eigh(a)
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
    check_matrices(A, "linalg.pinv", square=False)
    if hermitian:                       # a Hermitian one is eigh's, which words the refusal
        check_matrices(A, "linalg.eigh")
    xp = backend.xp_of(A._array)
    rtol = rcond if rtol is None else rtol
    return Pinv.apply(A, atol=_tolerance(atol, xp), rtol=_tolerance(rtol, xp),
                      hermitian=hermitian)


@in_float32
def pinverse(input, rcond=1e-15):
    """``torch.pinverse``: pinv with relative tolerance ``rcond``."""
    return pinv(input, rtol=rcond)


@in_float32
def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, tol=None):
    """``linalg.matrix_rank``: the number (int64, shape (*)) of singular values of A (*, m, n)
    above max(atol, rtol * largest) (``tol``: an absolute tolerance, the old spelling)."""
    if isinstance(A, Tensor) and A.ndim < 2:        # its own words, naming the input
        raise RuntimeError("torch.linalg.matrix_rank: The input tensor input must have at "
                           "least 2 dimensions.")
    check_matrices(A, "linalg.matrix_rank", square=False, dtype_first="all")
    if hermitian:                       # (eigh's words for a non-square A)
        check_matrices(A, "linalg.eigh")
    xp = backend.xp_of(A._array)
    if tol is not None:
        atol, rtol = tol, 0.0
    a = A._array
    if a.size == 0:
        return Tensor._wrap(xp.zeros(a.shape[:-2], np.int64))
    if hermitian:
        s = xp.abs(lapack_eigh(a)[0])
    elif bool(xp.isfinite(a).all()):
        s = xp.linalg.svd(a, compute_uv=False)
    else:                                    # NaN refused, inf made NaN, as PyTorch's SVD
        s = _svd_arrays(a)[1]
    cut = _cutoff(s, _tolerance(atol, xp), _tolerance(rtol, xp), a.shape, xp, a.dtype)
    return Tensor._wrap((s > cut[..., None]).sum(-1).astype(np.int64))


def _check_gels_rank(a):
    """'gels' solves through a QR (LQ when m < n) factorization that assumes full rank: as
    PyTorch, a factor with an exactly zero diagonal entry is refused (LinAlgError naming its
    1-based position).  Rank deficiency hidden by rounding passes, as it does there."""
    a = backend.as_numpy(a)
    m, n = a.shape[-2:]
    if a.size == 0:
        return
    r = np.linalg.qr(a if m >= n else np.conj(np.swapaxes(a, -1, -2)), mode="r")
    zero = np.diagonal(r, axis1=-2, axis2=-1)[..., :min(m, n)] == 0
    if not zero.any():
        return
    info = np.where(zero.any(-1), zero.argmax(-1) + 1, 0)
    k = int(info.reshape(-1)[np.flatnonzero(info.reshape(-1))[0]])
    raise LinAlgError(f"torch.linalg.lstsq: {_batch_prefix(info)}The least squares solution "
                      f"could not be computed because the input matrix does not have full rank "
                      f"(error code: {k}).")


def _lapack_buffer_rows(x, m):
    """The solution x (..., n, k) laid out as LAPACK's least-squares drivers leave it, and so
    PyTorch's: the first n rows of a column-major (..., max(m, n), k) buffer (the right-hand
    side B, overwritten), a view with that buffer's strides when m > n."""
    n = x.shape[-2]
    if m <= n:
        return column_major_tensor(x)
    fill = Tensor._wrap(backend.xp_of(x._array).zeros(x.shape[:-2] + (m - n, x.shape[-1]),
                                                        x._array.dtype))
    return narrow(column_major_tensor(cat([x, fill], -2)), -2, 0, n)


@in_float32
def lstsq(A, B, rcond=None, *, driver=None):
    """``linalg.lstsq``: (solution, residuals, rank, singular_values) of min ||A X - B||, A
    (*, m, n), B (*, m, k) or (*, m); solution = pinv(A) B (differentiable).  As PyTorch on
    the CPU: rank always (driver 'gels' aside); singular_values only for 'gelsd'/'gelss';
    residuals (squared column norms of A X - B) when m > n for 'gels', and for 'gelsd' /
    'gelss' when besides every matrix has full rank; otherwise empty tensors."""
    # PyTorch's order: A's rank, the dtypes alike, the ranks' relation, the sizes, the
    # driver, then A's dtype (ints and halves refused), then the batch dims
    if not isinstance(A, Tensor):
        check_matrices(A, "linalg.lstsq", square=False)
    if A.ndim < 2:
        raise RuntimeError("torch.linalg.lstsq: input must have at least 2 dimensions.")
    if isinstance(B, Tensor) and B.ndim == 0:
        raise RuntimeError("torch.linalg.lstsq: other must have at least 1 dimension.")
    if isinstance(B, Tensor) and B._array.dtype != A._array.dtype:
        raise RuntimeError(f"torch.linalg.lstsq: Expected input and other to have the same "
                           f"dtype, but got input's dtype {scalar_type_name(A._array.dtype)} and "
                           f"other's dtype {scalar_type_name(B._array.dtype)}")
    if isinstance(B, Tensor) and not (A.ndim >= B.ndim and A.ndim - B.ndim <= 1):
        raise RuntimeError("torch.linalg.lstsq: input.dim() must be greater or equal to "
                           "other.dim() and (input.dim() - other.dim()) <= 1")
    if not isinstance(B, Tensor):
        check_matrices(A, "linalg.lstsq", square=False)
    # as PyTorch: B is a batch of vectors when 1-d or shaped like A without its last dim;
    # another B of one dim fewer is a matrix, its batch still read off all but its last dim
    vector = B.ndim == 1 or tuple(B.shape) == tuple(A.shape[:-1])
    if vector and B.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-1). "
                           f"Got {A.shape[-2]} and {B.shape[-1]}")
    if not vector and B.shape[-2] != A.shape[-2]:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-2). "
                           f"Got {A.shape[-2]} and {B.shape[-2]}")
    if driver not in (None, "gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError("torch.linalg.lstsq: parameter `driver` should be one of (gels, "
                           "gelsy, gelsd, gelss)")
    check_matrices(A, "linalg.lstsq", square=False)
    b = unsqueeze(B, -1) if vector else B
    if A.ndim - B.ndim == 1 and not vector:
        batch = broadcast_shape(tuple(A.shape[:-2]), tuple(B.shape[:-1]), "linalg.lstsq")
        b = b.expand(*batch, *B.shape[-2:])
    elif not vector:
        broadcast_shape(tuple(A.shape[:-2]), tuple(B.shape[:-2]), "linalg.lstsq")
    if driver == "gels":
        _check_gels_rank(A._array)
    x = _lapack_buffer_rows(matmul(pinv(A, rtol=rcond), b), A.shape[-2])
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
    # PyTorch solves in one node, LinalgLstsqBackward0 (here a product with the pseudo-inverse)
    solution = rename_node(x.squeeze(-1) if vector else x, "LinalgLstsqBackward0")
    return LstsqResult(solution, res, rank, sv)
