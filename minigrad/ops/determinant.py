"""Determinants: ``linalg.det``, ``linalg.slogdet`` (and ``torch.slogdet``'s form of it),
``logdet``, on batches of matrices (..., n, n) (the inverses and solves they use are in
``solve.py``).

Forward: numpy's batched LAPACK routines.  Backward: minigrad ops, so that gradients of any
order follow.

* det d = det(A):             dA = g d A^-T (the cofactors, from the SVD for a singular A);
                              log|det|: dA = g A^-T
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from .elementary_functions import log
from .elementwise import cast, mul
from .pointwise_select import where
from .linalg import SvdU, SvdVals, SvdVh, patch_nonfinite
from .matmul import matmul
from .movement import mT, unsqueeze
from .complex_numbers import imag
from .plumbing import conj_of
from .reduce import prod
from .solve import Inv, _mH, check_matrices, empty_without_kernel, result_type

__all__ = ["det", "slogdet", "torch_slogdet", "logdet"]

SlogdetResult = result_type("linalg_slogdet", ["sign", "logabsdet"])
TorchSlogdetResult = result_type("slogdet", ["sign", "logabsdet"])


class Det(Function):
    """det(a) of a (..., n, n): shape (...); backward g conj(det a^-T) (holomorphic: the
    gradient times the conjugate of the derivative, the cofactors)."""
    _node_name = "LinalgDetBackward0"               # PyTorch's node
    complex_ok = True

    def forward(self, a):
        xp = backend.xp_of(a)
        out = xp.linalg.det(a) if a.shape[-1] else xp.ones(a.shape[:-2])
        out = xp.asarray(patch_nonfinite(a, out, 2), dtype=a.dtype)
        self.save_for_backward(a, out)       # the output itself: its gradient flows on
        return out

    def backward(self, g):
        a, d = self.saved_tensors
        return mul(unsqueeze(unsqueeze(g, -1), -1), conj_of(_cofactors(a, d)))


def _cofactors(a, d):
    """The matrices of cofactors of a (..., n, n) (the gradient of det), d = det(a):
    d a^-T where a is invertible; where it is not (d == 0), from its SVD a = U S Vh as
    det(U) det(Vh) U diag(prod_{j != i} s_j) Vh (a formula that holds for every matrix, and
    is differentiable again)."""
    xp = backend.xp_of(a._array)
    singular = d._array == 0
    if not bool(singular.any()):
        return mul(unsqueeze(unsqueeze(d, -1), -1), mT(Inv.apply(a)))
    mask = singular[..., None, None]
    eye = xp.eye(a.shape[-1], dtype=a._array.dtype)
    regular = mul(unsqueeze(unsqueeze(d, -1), -1), mT(Inv.apply(where(mask, eye, a))))
    # the invertible ones are swapped for diag(n, ..., 1) (distinct singular values: a finite
    # SVD backward, so that no NaN leaks through the where into their gradients)
    distinct = eye * xp.arange(a.shape[-1], 0, -1, dtype=a._array.dtype)
    a = where(mask, a, distinct)
    u, s, vh = SvdU.apply(a), SvdVals.apply(a), SvdVh.apply(a)
    # others[..., i] = prod_{j != i} s_j: the row i of (s_j, j = 1..n) with s_i set to one
    others = prod(where(xp.eye(s.shape[-1], dtype=bool), 1.0, unsqueeze(s, -2)), -1)
    sign = unsqueeze(unsqueeze(mul(Det.apply(u), Det.apply(vh)), -1), -1)
    return where(mask, mul(sign, matmul(mul(u, unsqueeze(others, -2)), vh)), regular)


class LogAbsDet(Function):
    """log|det(a)| of a (..., n, n): shape (...), real (a complex a's real dtype); backward
    g a^-H (log|det| = Re log det, whose derivative is a^-T)."""
    _node_name = "LinalgSlogdetBackward0"           # PyTorch's node
    complex_ok = True

    def forward(self, a):
        xp = backend.xp_of(a)
        real = a.real.dtype
        out = xp.linalg.slogdet(a)[1] if a.shape[-1] else xp.zeros(a.shape[:-2], real)
        out = patch_nonfinite(a, out, 1)
        self.save_for_backward(a)
        return xp.asarray(out, dtype=real)

    def backward(self, g):
        a, = self.saved_tensors
        return mul(unsqueeze(unsqueeze(g, -1), -1), _mH(Inv.apply(a, checked=False)))


class SlogdetSign(Function):
    """The sign of det(a), a (..., n, n): -1, 0 or 1 for a real a (piecewise constant, zero
    gradient: an output that requires grad when a does, as PyTorch's); det / |det| for a
    complex one, e^(i theta) with theta = Im log det, so d sign = i sign Im tr(a^-1 da) and
    the gradient is i Im(g conj(sign)) a^-H (0 for a singular a, whose sign is 0)."""
    _node_name = "LinalgSlogdetBackward0"           # PyTorch's node
    complex_ok = True

    def forward(self, a):
        xp = backend.xp_of(a)
        sign = xp.linalg.slogdet(a)[0] if a.shape[-1] else xp.ones(a.shape[:-2])
        sign = patch_nonfinite(a, sign, 0)
        out = xp.asarray(sign, dtype=a.dtype)
        self.save_for_backward(a, out)
        return out

    def backward(self, g):
        a, sign = self.saved_tensors
        if a._array.dtype.kind != "c":
            return mul(a, 0.0)
        singular = sign._array == 0
        eye = backend.xp_of(a._array).eye(a.shape[-1], dtype=a._array.dtype)
        safe = where(Tensor._wrap(singular[..., None, None]), Tensor._wrap(eye), a)
        turn = mul(imag(mul(g, conj_of(sign))), 1j)                  # i Im(g conj(sign))
        return mul(unsqueeze(unsqueeze(turn, -1), -1), _mH(Inv.apply(safe)))


def det(A):
    """``linalg.det`` / ``det``: the determinants of A (..., n, n), shape (...); the gradient
    is the matrix of cofactors (det(A) A^-T for an invertible A), a singular A included."""
    check_matrices(A, "linalg.det")
    if empty_without_kernel(A):
        return cast(Det.apply(cast(A, np.dtype(np.float32))), A._array.dtype)
    return Det.apply(A)


def slogdet(A):
    """``linalg.slogdet``: (sign, logabsdet) of the determinants of A (..., n, n); sign is
    -1, 0 or 1 (no gradient), logabsdet log|det A| (-inf for a singular matrix)."""
    check_matrices(A, "linalg.slogdet")
    return SlogdetResult(SlogdetSign.apply(A), LogAbsDet.apply(A))


def torch_slogdet(A):
    """``torch.slogdet`` / ``Tensor.slogdet``: linalg.slogdet's (sign, logabsdet), as the
    ``return_types.slogdet`` PyTorch gives these two."""
    return TorchSlogdetResult(*slogdet(A))


def logdet(A):
    """``logdet``: log det(A) of A (..., n, n): NaN for a negative determinant, -inf for a
    zero one; log|det A| + log(sign)."""
    check_matrices(A, "logdet")
    sign, logabs = slogdet(A)
    if A.is_complex():
        return logabs + log(sign)
    # a real A's NaN is picked, so that no gradient flows into a negative determinant's matrix
    return where(sign < 0, float("nan"), logabs)
