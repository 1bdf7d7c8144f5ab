"""LDL^T factorisation of symmetric matrices with Bunch-Kaufman pivoting: ``linalg.ldl_factor``
/ ``ldl_factor_ex`` and ``linalg.ldl_solve``, in LAPACK's sytrf layout (lower triangle);
complex matrices as complex-symmetric (sytrf) or, with ``hermitian``, Hermitian (hetrf).

A (*, n, n) symmetric (only its lower triangle is read) is factored as A = W D W^T with
W = P_1 L_1 P_2 L_2 ..., D block diagonal with 1x1 and 2x2 blocks.  The packed result LD
(*, n, n) holds D's blocks on and next to the diagonal and the multipliers of each L_k below
them (zeros above the diagonal); ``pivots`` (*, n) int32 records each step, 1-based: a
positive p at k is a 1x1 block with rows/columns k and p swapped first, -p at both k and k+1
a 2x2 block with k+1 and p swapped first.

The pivot choice at column k, alpha = (1 + sqrt(17)) / 8 (Bunch and Kaufman, 1977):
colmax = the largest |A[i, k]| below the diagonal (at row imax), rowmax = the largest
off-diagonal |A[imax, j]| in the remaining part of row/column imax; then a 1x1 block without
a swap if |A[k, k]| >= alpha colmax or |A[k, k]| >= alpha colmax^2 / rowmax, a 1x1 block
with imax swapped in if |A[imax, imax]| >= alpha rowmax, else a 2x2 block of k and imax
(LAPACK's sytf2 tests, in its order, so that the pivots agree with PyTorch's).  Zero columns (colmax = A[k, k] = 0) are left as they are and give
``info`` = k + 1.

Each matrix of a batch may take 2x2 blocks at different places, so the loop runs over the
columns and every matrix either starts a block at column k or is inside the 2x2 block that it
started at k - 1 (then skips): masks over the batch, no loop over batch items.  The working
trailing matrix is kept whole (symmetric), rebuilt from its lower triangle after each update
so that only lower-triangle values, as LAPACK's, are ever read.

Neither function is differentiable (as in PyTorch): their results carry a backward that
raises.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from ._lapack_layout import column_major
from ._util import scalar_type_name
from .solve import _batch_prefix, check_matrices, result_type

__all__ = ["ldl_factor", "ldl_factor_ex", "ldl_solve"]

LdlFactorResult = result_type("linalg_ldl_factor", ["LD", "pivots"])
LdlFactorExResult = result_type("linalg_ldl_factor_ex", ["LD", "pivots", "info"])

_ALPHA = (1.0 + np.sqrt(17.0)) / 8.0


class _NoDerivative(Function):
    """An array computed without a derivative: forward returns ``value``, backward raises."""
    complex_ok = True            # values only: its backward refuses every dtype
    _node_name = "torch::autograd::NotImplemented"          # PyTorch's node

    def forward(self, *sources, value, name):
        self.op_name = name      # (not ``name``: that is the node's name() method)
        return value

    def backward(self, g):
        raise RuntimeError(f"derivative for aten::{self.op_name} is not implemented")


def _symmetrize_lower(s, herm=False):
    """The symmetric (Hermitian if ``herm``: the diagonal's real part, conjugates above it)
    matrices whose lower triangle is s's."""
    upper = np.swapaxes(np.tril(s, -1), -1, -2)
    if not herm:
        return np.tril(s) + upper
    diag = np.diagonal(s, 0, -2, -1).real
    eye = np.eye(s.shape[-1], dtype=diag.dtype)
    return np.tril(s, -1) + upper.conj() + diag[..., None] * eye


def _size(x):
    """LAPACK's measure of an entry for the pivot tests: |x|, |re| + |im| (cabs1) if complex."""
    return np.abs(x.real) + np.abs(x.imag) if x.dtype.kind == "c" else np.abs(x)


def _swap_symmetric(s, which, a, b):
    """Exchange rows and columns a[i] and b[i] of the matrices s[which[i]], in place."""
    if which.size == 0:
        return
    ra, rb = s[which, a].copy(), s[which, b].copy()
    s[which, a], s[which, b] = rb, ra
    ca, cb = s[which, :, a].copy(), s[which, :, b].copy()
    s[which, :, a], s[which, :, b] = cb, ca


def _ldl_arrays(a, herm=False):
    """(LD, pivots, info) of the symmetric matrices a (..., n, n) (lower triangles read);
    ``herm``: of the Hermitian ones, A = W D W^H (LAPACK's hetrf: real diagonal, conjugates
    in the updates), for a complex a."""
    herm = herm and a.dtype.kind == "c"
    *batch, n, _ = a.shape
    s = _symmetrize_lower(np.asarray(a).reshape((math.prod(batch), n, n)), herm)
    count = s.shape[0]
    rows = np.arange(count)
    ld = np.zeros_like(s)
    piv = np.zeros((count, n), np.int32)
    info = np.zeros(count, np.int32)
    skip = np.zeros(count, bool)          # column k is the second of a 2x2 block
    idx = np.arange(n)
    for k in range(n):
        act = ~skip
        absakk = np.abs(s[:, k, k].real) if herm else _size(s[:, k, k])
        if k + 1 < n:
            below = _size(s[:, k + 1:, k])
            imax = k + 1 + np.argmax(below, axis=1)
            colmax = below.max(axis=1)
        else:
            imax, colmax = np.full(count, k), np.zeros(count, s.real.dtype)
        zero = act & ((np.maximum(absakk, colmax) == 0) | np.isnan(absakk))
        info = np.where((info == 0) & zero, k + 1, info)
        row = _size(s[rows, imax])                               # (count, n)
        row = np.where((idx >= k) & (idx != imax[:, None]), row, -np.inf)
        rowmax = row.max(axis=1)
        safe_rowmax = np.where(rowmax > 0, rowmax, 1.0)
        with np.errstate(invalid="ignore"):
            keep = (absakk >= _ALPHA * colmax) | \
                (absakk >= _ALPHA * colmax * (colmax / safe_rowmax))
            pivot = s[rows, imax, imax]
            swap_one = ~keep & ((np.abs(pivot.real) if herm else _size(pivot)) >=
                                _ALPHA * safe_rowmax)
        two = act & ~zero & ~keep & ~swap_one
        one = act & ~zero & ~two
        kp = np.where(one & keep, k, imax)
        kp = np.where(zero, k, kp)
        kk = np.where(two, k + 1, k)
        move = (one | two) & (kp != kk)
        which = np.flatnonzero(move)
        _swap_symmetric(s, which, kk[which], kp[which])
        piv[:, k] = np.where(act, np.where(two, -(kp + 1), kp + 1), piv[:, k])
        if k + 1 < n:
            piv[:, k + 1] = np.where(two, -(kp + 1), piv[:, k + 1])
        # 1x1 block (or a zero column): multipliers x / d, Schur complement S - x x^T / d
        d = s[:, k, k]
        r = 1.0 / np.where(one, d, 1.0)
        x = s[:, k + 1:, k]
        upd1 = s[:, k + 1:, k + 1:] + x[:, :, None] * \
            (-r[:, None] * (x.conj() if herm else x))[:, None, :]
        col1 = np.where(one[:, None], x * r[:, None], x)
        # 2x2 block [[a, b], [b, c]] at k, k+1: multipliers [x y] D^-1, complement
        # S - [x y] D^-1 [x y]^T (LAPACK's arithmetic: t / d21 scaled, one row at a time)
        upd2 = s[:, k + 2:, k + 2:]
        if k + 1 < n and herm:
            # hetf2's arithmetic: scaled by |d21|, conjugates where W^H enters
            dabs = np.where(two, np.abs(s[:, k + 1, k]), 1.0)
            d11 = s[:, k + 1, k + 1].real / dabs
            d22 = s[:, k, k].real / dabs
            with np.errstate(divide="ignore", invalid="ignore"):
                t = 1.0 / (d11 * d22 - 1.0) / dabs
            unit = s[:, k + 1, k] / dabs
            xk, xk1 = s[:, k + 2:, k], s[:, k + 2:, k + 1]
            wk = t[:, None] * (d11[:, None] * xk - unit[:, None] * xk1)
            wk1 = t[:, None] * (d22[:, None] * xk1 - unit.conj()[:, None] * xk)
            upd2 = upd2 - xk[:, :, None] * wk.conj()[:, None, :] \
                - xk1[:, :, None] * wk1.conj()[:, None, :]
            ld[:, k + 2:, k] = np.where(two[:, None], wk, ld[:, k + 2:, k])
            ld[:, k + 2:, k + 1] = np.where(two[:, None], wk1, ld[:, k + 2:, k + 1])
            ld[:, k + 1, k] = np.where(two, s[:, k + 1, k], ld[:, k + 1, k])
            ld[:, k + 1, k + 1] = np.where(two, s[:, k + 1, k + 1], ld[:, k + 1, k + 1])
        elif k + 1 < n:
            d21 = np.where(two, s[:, k + 1, k], 1.0)
            d11 = s[:, k + 1, k + 1] / d21
            d22 = s[:, k, k] / d21
            with np.errstate(divide="ignore", invalid="ignore"):
                t = 1.0 / (d11 * d22 - 1.0)
            xk, xk1 = s[:, k + 2:, k], s[:, k + 2:, k + 1]
            wk = t[:, None] * (d11[:, None] * xk - xk1)
            wk1 = t[:, None] * (d22[:, None] * xk1 - xk)
            upd2 = upd2 - (xk / d21[:, None])[:, :, None] * wk[:, None, :] \
                - (xk1 / d21[:, None])[:, :, None] * wk1[:, None, :]
            ld[:, k + 2:, k] = np.where(two[:, None], wk / d21[:, None], ld[:, k + 2:, k])
            ld[:, k + 2:, k + 1] = np.where(two[:, None], wk1 / d21[:, None],
                                            ld[:, k + 2:, k + 1])
            ld[:, k + 1, k] = np.where(two, s[:, k + 1, k], ld[:, k + 1, k])
            ld[:, k + 1, k + 1] = np.where(two, s[:, k + 1, k + 1], ld[:, k + 1, k + 1])
        ld[:, k, k] = np.where(act, d, ld[:, k, k])
        ld[:, k + 1:, k] = np.where((act & ~two)[:, None], col1, ld[:, k + 1:, k])
        trail = s[:, k + 1:, k + 1:].copy()
        trail = np.where(one[:, None, None], upd1, trail)
        if k + 2 <= n:
            trail[:, 1:, 1:] = np.where(two[:, None, None], upd2, trail[:, 1:, 1:])
        s[:, k + 1:, k + 1:] = _symmetrize_lower(trail, herm)
        skip = two
    return (ld.reshape(a.shape), piv.reshape(tuple(batch) + (n,)),
            info.reshape(tuple(batch)))


def _factor(A, hermitian, name):
    check_matrices(A, name)
    if not isinstance(hermitian, bool):
        raise TypeError(f"{name.replace('torch.', '').replace('.', '_')}(): argument "
                        f"'hermitian' must be bool, not {type(hermitian).__name__}")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ld, piv, info = _ldl_arrays(backend.as_numpy(A._array), hermitian)
    xp = backend.xp_of(A._array)
    ld_t = _NoDerivative.apply(A, value=xp.asarray(column_major(ld)), name="linalg_ldl_factor_ex")
    return ld_t, Tensor._wrap(xp.asarray(piv)), info


def _ldl_error(info, name):
    flat = info.reshape(-1)
    k = int(flat[np.flatnonzero(flat)[0]])
    return RuntimeError(f"{name}: {_batch_prefix(info)}The factorization could not be "
                        f"completed because the input matrix is singular: D[{k},{k}] is a "
                        f"zero pivot.")


def ldl_factor_ex(A, *, hermitian=False, check_errors=False):
    """``linalg.ldl_factor_ex``: (LD (*, n, n), pivots (*, n) int32, info (*) int32) of the
    symmetric A (*, n, n) in LAPACK's sytrf layout (module docstring); info k > 0 when the
    k-th column was exactly zero (D singular).  ``hermitian`` is the same for real A."""
    ld_t, piv_t, info = _factor(A, hermitian, "torch.linalg.ldl_factor_ex")
    if check_errors and bool((info != 0).any()):
        raise _ldl_error(info, "torch.linalg.ldl_factor_ex")
    return LdlFactorExResult(ld_t, piv_t, Tensor._wrap(backend.xp_of(A._array).asarray(info)))


def ldl_factor(A, *, hermitian=False):
    """``linalg.ldl_factor``: (LD, pivots) as ``ldl_factor_ex``; a singular D raises."""
    ld_t, piv_t, info = _factor(A, hermitian, "torch.linalg.ldl_factor_ex")
    if bool((info != 0).any()):
        raise _ldl_error(info, "torch.linalg.ldl_factor")
    return LdlFactorResult(ld_t, piv_t)


def _roles(piv):
    """(one, start2, second2) bool (count, n): column k is a 1x1 block, starts a 2x2 block,
    or is the second column of one."""
    count, n = piv.shape
    one = np.zeros((count, n), bool)
    start = np.zeros((count, n), bool)
    second = np.zeros((count, n), bool)
    inside = np.zeros(count, bool)
    for k in range(n):
        second[:, k] = inside
        start[:, k] = ~inside & (piv[:, k] < 0)
        one[:, k] = ~inside & (piv[:, k] > 0)
        inside = start[:, k]
    return one, start, second


def _swap_rows(b, i, j):
    """b (count, n, r) with rows i[c] and j[c] of each matrix c exchanged."""
    rows = np.arange(b.shape[0])
    bi, bj = b[rows, i].copy(), b[rows, j].copy()
    b[rows, i], b[rows, j] = bj, bi
    return b


def _ldl_solve_arrays(ld, piv, b, herm=False):
    """X = A^-1 b for A given by (ld (count, n, n), piv (count, n)), b (count, n, r): LAPACK's
    sytrs order (W D W^T: the forward sweep with D's blocks, then the backward sweep);
    ``herm``: A = W D W^H (hetrs: conjugates in D's 2x2 blocks and in the backward sweep)."""
    herm = herm and ld.dtype.kind == "c"
    conj = np.conj if herm else (lambda v: v)
    count, n, _ = b.shape
    x = b.copy()
    one, start, second = _roles(piv)
    p = np.abs(piv).astype(np.int64) - 1
    for k in range(n):                              # solve W D y = b
        o, s2 = one[:, k], start[:, k]
        if not (o.any() or s2.any()):
            continue
        target = np.where(s2, min(k + 1, n - 1), k)
        x = np.where((o | s2)[:, None, None], _swap_rows(x.copy(), target, p[:, k]), x)
        xk = x[:, k].copy()
        x[:, k + 1:] -= np.where(o[:, None, None], ld[:, k + 1:, k, None] * xk[:, None, :], 0.0)
        x[:, k] = np.where(o[:, None], xk / np.where(o, ld[:, k, k], 1.0)[:, None], xk)
        if k + 1 < n and s2.any():
            xk1 = x[:, k + 1].copy()
            x[:, k + 2:] -= np.where(s2[:, None, None], ld[:, k + 2:, k, None] * xk[:, None, :],
                                     0.0)
            x[:, k + 2:] -= np.where(s2[:, None, None],
                                     ld[:, k + 2:, k + 1, None] * xk1[:, None, :], 0.0)
            akm1k = np.where(s2, ld[:, k + 1, k], 1.0)
            akm1 = ld[:, k, k] / conj(akm1k)
            ak = ld[:, k + 1, k + 1] / akm1k
            denom = akm1 * ak - 1.0
            bkm1, bk = xk / conj(akm1k)[:, None], xk1 / akm1k[:, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                new_k = (ak[:, None] * bkm1 - bk) / denom[:, None]
                new_k1 = (akm1[:, None] * bk - bkm1) / denom[:, None]
            x[:, k] = np.where(s2[:, None], new_k, x[:, k])
            x[:, k + 1] = np.where(s2[:, None], new_k1, x[:, k + 1])
    for k in range(n - 1, -1, -1):                  # solve W^T x = y
        o, s2 = one[:, k], second[:, k]
        if not (o.any() or s2.any()):
            continue
        tail = x[:, k + 1:]
        corr = np.einsum("ci,cir->cr", conj(ld[:, k + 1:, k]), tail)
        x[:, k] -= np.where((o | s2)[:, None], corr, 0.0)
        if k > 0 and s2.any():
            corr1 = np.einsum("ci,cir->cr", conj(ld[:, k + 1:, k - 1]), tail)
            x[:, k - 1] -= np.where(s2[:, None], corr1, 0.0)
        x = np.where((o | s2)[:, None, None], _swap_rows(x.copy(), np.full(count, k), p[:, k]),
                     x)
    return x


def ldl_solve(LD, pivots, B, *, hermitian=False):
    """``linalg.ldl_solve``: X with A X = B for A given by ``ldl_factor``'s (LD, pivots); LD
    (*, n, n), pivots (*, n), B (*, n, k); batch dims broadcast.  Not differentiable."""
    check_matrices(LD, "torch.linalg.ldl_solve", arg="LD", square_arg="A")
    if not isinstance(B, Tensor):
        raise TypeError(f"linalg_ldl_solve(): argument 'B' (position 3) must be Tensor, not "
                        f"{type(B).__name__}")
    if B.ndim < 2:
        raise RuntimeError("torch.linalg.ldl_solve: The input tensor B must have at least 2 "
                           "dimensions.")
    n = LD.shape[-1]
    if B.shape[-2] != n:
        raise RuntimeError(f"Incompatible matrix sizes for torch.linalg.ldl_solve: each A "
                           f"matrix is {n} by {n} but each b matrix is {B.shape[-2]} by "
                           f"{B.shape[-1]}")
    if B._array.dtype != LD._array.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type "
                           f"{scalar_type_name(B._array.dtype)} and A of type "
                           f"{scalar_type_name(LD._array.dtype)} instead.")
    if not isinstance(pivots, Tensor) or pivots._array.dtype.kind not in "iu":
        raise RuntimeError("torch.linalg.ldl_solve: Expected pivots to be integers. Got "
                           f"{scalar_type_name(np.asarray(getattr(pivots, '_array', 0.0)).dtype)}")
    if pivots.shape != LD.shape[:-1]:
        raise RuntimeError(f"torch.linalg.ldl_solve: Expected LD.shape[:-1] and pivots.shape "
                           f"to be the same, but got pivots with shape "
                           f"[{', '.join(map(str, pivots.shape))}] instead")
    xp = backend.xp_of(LD._array)
    ld, piv, b = (backend.as_numpy(t._array) for t in (LD, pivots, B))
    batch = np.broadcast_shapes(ld.shape[:-2], b.shape[:-2])
    count = math.prod(batch)
    ld = np.broadcast_to(ld, batch + (n, n)).reshape((count, n, n))
    piv = np.broadcast_to(piv, batch + (n,)).reshape((count, n))
    r = B.shape[-1]
    b = np.broadcast_to(b, batch + (n, r)).reshape((count, n, r))
    with np.errstate(divide="ignore", invalid="ignore"):
        x = _ldl_solve_arrays(ld, piv, b, hermitian).reshape(batch + (n, r))
    return _NoDerivative.apply(LD, B, value=xp.asarray(column_major(x)), name="linalg_ldl_solve")
