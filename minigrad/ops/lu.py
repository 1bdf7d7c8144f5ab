"""LU factorisation with partial pivoting and what is built on it: ``linalg.lu_factor`` /
``lu_factor_ex``, ``linalg.lu``, ``linalg.lu_solve``, ``linalg.solve_ex`` and the older
top-level ``lu``, ``lu_unpack``, ``lu_solve``.  Batched over leading dims; rectangular
matrices (m != n) factor too.

A (*, m, n) = P L U with k = min(m, n), P (*, m, m) a permutation, L (*, m, k) unit lower
triangular, U (*, k, n) upper triangular.  As in LAPACK's getrf, L and U are packed into one
matrix LU (*, m, n) (L below the diagonal, U on and above it) and P is given as ``pivots``
(*, k), int32 and 1-based: row i was swapped with row pivots[i] at step i.

Forward: Gaussian elimination, the largest magnitude in each column chosen as its pivot (the
first one on ties, as LAPACK's idamax), a loop over the columns vectorised over the batch.
Backward of LU (only the packed factor is a Function; L, U and P are read off it with
differentiable ops).  With gL = tril(gLU, -1) and gU = triu(gLU), for a square matrix

    M = tril(L^T gL, -1) + triu(gU U^T),        dA = P L^-T M U^-T

(from P^T dA = dL U + L dU, where L^-1 dL is strictly lower and dU U^-1 upper).  For a wide
matrix, U = [U1 U2] with U1 square: U2 = L^-1 P^T A2 adds gU2 to the right block and moves
-gU2 U2^T into L's part, M = tril(L^T gL - gU2 U2^T, -1) + triu(gU1 U1^T),
dA = P L^-T [M U1^-T, gU2].  For a tall one, L = [L1; L2] with L1 square: L2 = A2 U^-1 gives
M = tril(L1^T gL1, -1) + triu(gU U^T - L2^T gL2), dA = P [L1^-T M; gL2] U^-T.  Triangular
solves, products and tril/triu only, so gradients of any order follow.

``lu_solve`` is P, then two triangular solves reading LU's two triangles (differentiable in
LU and B by composition).
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend, dtypes
from .._warn_once import warn_deprecated_linalg
from ..autograd import Function
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._autocast_cast import in_float32
from ._lapack_layout import column_major, column_major_tensor
from ._util import broadcast_shape, not_implemented_for, scalar_type_name
from .elementwise import add, sub
from .linalg import LinAlgError
from .matmul import matmul
from .movement import squeeze
from .stacking import cat, narrow
from .shaping import tril, triu
from .solve import (_batch_prefix, _mH, check_matrices, check_solve_dtypes, refuse_half,
                    result_type, solve, solve_rhs)
from .triangular_solve import solve_triangular

__all__ = ["lu_factor", "lu_factor_ex", "lu", "lu_solve", "solve_ex", "torch_lu", "lu_unpack",
           "torch_lu_solve"]

LuFactorResult = result_type("linalg_lu_factor", ["LU", "pivots"])
LuFactorExResult = result_type("linalg_lu_factor_ex", ["LU", "pivots", "info"])
LuResult = result_type("linalg_lu", ["P", "L", "U"])
LuUnpackResult = result_type("lu_unpack", ["P", "L", "U"])
LuWithInfoResult = result_type("_lu_with_info", ["LU", "pivots", "info"])
SolveExResult = result_type("linalg_solve_ex", ["result", "info"])


# ----------------------------------------------------------------------------------------------
# The factorisation (arrays)
# ----------------------------------------------------------------------------------------------
def lu_arrays(a):
    """(LU packed (..., m, n), pivots (..., k) int32 1-based, info (...) int32) of a
    (..., m, n) by partial pivoting; info is 1 + the index of the first exactly zero pivot
    (0 if none).  A zero pivot column is left as is (no division), as getrf does."""
    xp = backend.xp_of(a)
    *batch, m, n = a.shape
    k = min(m, n)
    if a.size == 0:                  # nothing to factor (and no division in an integer dtype)
        return (xp.array(a, copy=True), xp.zeros(tuple(batch) + (k,), np.int32),
                xp.zeros(tuple(batch), np.int32))
    u = xp.array(a, copy=True).reshape((math.prod(batch), m, n))
    count = u.shape[0]
    pivots = xp.zeros((count, k), np.int32)
    info = xp.zeros(count, np.int32)
    rows = xp.arange(count)
    for j in range(k):
        col = u[:, j:, j]
        # LAPACK's i?amax measures a complex number by |re| + |im|
        size = xp.abs(col.real) + xp.abs(col.imag) if col.dtype.kind == "c" else xp.abs(col)
        p = j + xp.argmax(size, axis=1)
        pivots[:, j] = p + 1
        u[rows, j], u[rows, p] = u[rows, p], u[rows, j].copy()
        piv = u[:, j, j]
        zero = piv == 0
        info = xp.where((info == 0) & zero, j + 1, info)
        # scaled by the pivot's reciprocal, as LAPACK's getf2 (unless that would overflow):
        # on a rank-deficient matrix the rounding then picks the later pivots LAPACK picks
        piv = xp.where(zero, 1.0, piv).astype(u.dtype)[:, None]
        tiny = xp.abs(piv) < np.finfo(u.dtype).tiny
        col = u[:, j + 1:, j]
        with np.errstate(all="ignore"):          # a NaN or inf goes on silently, as in LAPACK
            inverse = (1 / xp.where(tiny, 1.0, piv)).astype(u.dtype)
            u[:, j + 1:, j] = xp.where(tiny, col / piv, col * inverse)
        u[:, j + 1:, j + 1:] -= u[:, j + 1:, j, None] * u[:, j, None, j + 1:]
    return (u.reshape(a.shape), pivots.reshape(tuple(batch) + (k,)),
            info.reshape(tuple(batch)))


def permutation(pivots, m):
    """perm (..., m) int64 with (P^T A)[i] = A[perm[i]] for the row swaps ``pivots`` (..., k)
    (1-based): the swaps applied in order to 0..m-1."""
    xp = backend.xp_of(pivots)
    batch = pivots.shape[:-1]
    flat = pivots.reshape((math.prod(batch), pivots.shape[-1])).astype(np.int64) - 1
    perm = xp.broadcast_to(xp.arange(m), (flat.shape[0], m)).copy()
    rows = xp.arange(flat.shape[0])
    for j in range(flat.shape[1]):
        p = flat[:, j]
        perm[rows, j], perm[rows, p] = perm[rows, p], perm[rows, j].copy()
    return perm.reshape(batch + (m,))


def permutation_matrix(perm, dtype):
    """P (..., m, m) of dtype with P[perm[i], i] = 1, so that P^T A = A[perm]."""
    xp = backend.xp_of(perm)
    m = perm.shape[-1]
    return (perm[..., :, None] == xp.arange(m)).swapaxes(-1, -2).astype(dtype)


# ----------------------------------------------------------------------------------------------
# The differentiable factor
# ----------------------------------------------------------------------------------------------
def _unit_lower(lu, k):
    """L (*, m, k): LU's strictly lower part of the first k columns plus ones on the diagonal."""
    xp = backend.xp_of(lu._array)
    eye = xp.eye(lu.shape[-2], k, dtype=lu._array.dtype)
    return add(tril(narrow(lu, -1, 0, k), -1), Tensor._wrap(eye))


def _upper(lu, k):
    """U (*, k, n): LU's upper triangle, first k rows."""
    return triu(narrow(lu, -2, 0, k))


class LuFactor(Function):
    """The packed LU (..., m, n) of a, computed beforehand (``lu``, with the row order
    ``perm``) so that pivots and info can be read; backward as in the module docstring (for a
    complex a with conjugate transposes: ^T -> ^H)."""
    _node_name = "LinalgLuFactorExBackward0"        # PyTorch's node
    complex_ok = True
    def forward(self, a, *, lu, perm):
        self.perm = perm
        self.save_for_backward(lu)
        return lu

    def backward(self, g):
        lu, = self.saved_tensors
        m, n = lu.shape[-2:]
        k = min(m, n)
        if k == 0:
            return sub(g, g)
        p = Tensor._wrap(permutation_matrix(self.perm, lu._array.dtype))
        L, U = _unit_lower(lu, k), _upper(lu, k)
        gL, gU = tril(narrow(g, -1, 0, k), -1), triu(narrow(g, -2, 0, k))

        def left_l_inv_t(l_square, x):                       # L^-T x, L unit lower
            return solve_triangular(_mH(l_square), x, upper=True, unitriangular=True)

        def right_u_inv_t(x, u_square):                      # x U^-T
            return solve_triangular(_mH(u_square), x, upper=False, left=False)

        if m == n:
            M = add(tril(matmul(_mH(L), gL), -1), triu(matmul(gU, _mH(U))))
            return matmul(p, right_u_inv_t(left_l_inv_t(L, M), U))
        if m < n:                                            # wide: U = [U1 U2]
            U1, U2 = narrow(U, -1, 0, m), narrow(U, -1, m, n - m)
            gU1, gU2 = narrow(gU, -1, 0, m), narrow(gU, -1, m, n - m)
            M = add(tril(sub(matmul(_mH(L), gL), matmul(gU2, _mH(U2))), -1),
                    triu(matmul(gU1, _mH(U1))))
            return matmul(p, left_l_inv_t(L, cat([right_u_inv_t(M, U1), gU2], -1)))
        L1, L2 = narrow(L, -2, 0, n), narrow(L, -2, n, m - n)  # tall: L = [L1; L2]
        gL1, gL2 = narrow(gL, -2, 0, n), narrow(gL, -2, n, m - n)
        M = add(tril(matmul(_mH(L1), gL1), -1),
                triu(sub(matmul(gU, _mH(U)), matmul(_mH(L2), gL2))))
        return matmul(p, right_u_inv_t(cat([left_l_inv_t(L1, M), gL2], -2), U))


def _check_lu_input(A, name, arg="A", rank_name="torch.lu_factor", empty_ok=False):
    if not isinstance(A, Tensor):
        raise TypeError(f"{name}(): argument '{arg}' (position 1) must be Tensor, not "
                        f"{type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError(f"{rank_name}: Expected tensor with 2 or more dimensions. Got "
                           f"size: [{', '.join(map(str, A.shape))}] instead")
    if (A._array.dtype.kind not in "fcV" or dtypes.reduced_float(A._array.dtype)) and \
            not (empty_ok and A.numel() == 0):
        # PyTorch's factorisations meet their kernel's refusal only with matrices to factor
        raise not_implemented_for("lu_cpu", A._array.dtype)


def _lu_error(info, name):
    flat = backend.as_numpy(info).reshape(-1)
    k = int(flat[np.flatnonzero(flat)[0]])
    return RuntimeError(f"{name}: {_batch_prefix(info)}U[{k},{k}] is zero and using it on "
                        f"lu_solve would result in a division by zero. If you still want to "
                        f"perform the factorization, consider calling linalg.lu(A, pivot) or "
                        f"linalg.lu_factor_ex(A, pivot)")


def _factor(A, pivot, name):
    """(LU tensor, pivots array, info array) of A after the checks."""
    _check_lu_input(A, name.replace("torch.", "").replace(".", "_"),
                    rank_name="linalg.lu" if name.endswith(".lu") else "torch.lu_factor",
                    empty_ok=True)
    if not pivot and A.numel():       # (with nothing to factor, no kernel runs)
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the "
                           "CPU")
    lu_arr, piv, info = lu_arrays(A._array)
    # (LU laid out column-major, as LAPACK's getrf writes it)
    lu_t = LuFactor.apply(A, lu=column_major(lu_arr), perm=permutation(piv, A.shape[-2]))
    return lu_t, piv, info


def lu_factor_ex(A, *, pivot=True, check_errors=False):
    """``linalg.lu_factor_ex``: (LU (*, m, n) packed, pivots (*, min(m, n)) int32 1-based,
    info (*) int32: k > 0 when U[k, k] is exactly zero).  ``pivot=False`` is refused, as on
    PyTorch's CPU.  Differentiable in A through LU."""
    lu_t, piv, info = _factor(A, pivot, "torch.linalg.lu_factor_ex")
    if check_errors and bool((info != 0).any()):
        raise _lu_error(info, "torch.linalg.lu_factor_ex")
    return LuFactorExResult(lu_t, Tensor._wrap(piv), Tensor._wrap(info))


def lu_factor(A, *, pivot=True):
    """``linalg.lu_factor``: (LU, pivots) as ``lu_factor_ex``; a matrix with a zero pivot (a
    singular square one) raises, as lu_solve would divide by it."""
    lu_t, piv, info = _factor(A, pivot, "torch.linalg.lu_factor")
    if bool((info != 0).any()):
        raise _lu_error(info, "torch.linalg.lu_factor")
    return LuFactorResult(lu_t, Tensor._wrap(piv))


def _unpack(lu_t, perm, unpack_data=True, unpack_pivots=True):
    m, n = lu_t.shape[-2:]
    k = min(m, n)
    xp = backend.xp_of(lu_t._array)
    empty = Tensor._wrap(xp.zeros((0,), lu_t._array.dtype))
    p = Tensor._wrap(backend.xp_of(perm).ascontiguousarray(
        permutation_matrix(perm, lu_t._array.dtype))) if unpack_pivots else empty
    if not unpack_data:
        return p, empty, empty
    return p, _unit_lower(lu_t, k), _upper(lu_t, k)


def _named(factors, node_name):
    """(P, L, U) with L's and U's nodes under PyTorch's one node name for the op."""
    p, lower, upper = factors
    return p, rename_node(lower, node_name), rename_node(upper, node_name)


def lu(A, *, pivot=True):
    """``linalg.lu``: (P (*, m, m), L (*, m, k), U (*, k, n)) with A = P L U, k = min(m, n);
    no error for singular matrices.  L and U are differentiable, P is a constant."""
    lu_t, piv, _ = _factor(A, pivot, "torch.linalg.lu")
    p, lower, upper = _named(_unpack(lu_t, permutation(piv, A.shape[-2])), "LinalgLuBackward0")
    if not pivot:                     # (an empty A: no permutation, an empty P)
        p = Tensor._wrap(backend.xp_of(A._array).zeros((0,), A._array.dtype))
    return LuResult(p, lower, upper)


def torch_lu(A, pivot=True, get_infos=False):
    """``torch.lu`` (deprecated there): (LU, pivots) as ``linalg.lu_factor_ex``, a plain
    tuple; with ``get_infos`` the named (LU, pivots, info).  Singular matrices are not an
    error (as in PyTorch)."""
    if isinstance(A, Tensor):
        warn_deprecated_linalg("lu", "lu_factor")
    lu_t, piv, info = _factor(A, pivot, "torch.linalg.lu_factor_ex")
    if get_infos:
        return LuWithInfoResult(lu_t, Tensor._wrap(piv), Tensor._wrap(info))
    return lu_t, Tensor._wrap(piv)


def _check_pivots(pivots, m, valid_message, dtype_message):
    if not isinstance(pivots, Tensor) or pivots._array.dtype != np.int32:
        raise RuntimeError(dtype_message)
    arr = pivots._array
    if arr.size and (int(arr.min()) < 1 or int(arr.max()) > m):
        raise RuntimeError(valid_message)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):
    """``lu_unpack``: (P, L, U) from the packed LU (*, m, n) and pivots (*, min(m, n)) of
    ``lu_factor``; a part not asked for is an empty tensor.  L and U are differentiable in
    LU_data."""
    _check_lu_input(LU_data, "lu_unpack", "LU_data", rank_name="torch.lu_unpack")
    m, n = LU_data.shape[-2:]
    _check_pivots(LU_pivots, m,
                  "pivots passed to lu_unpack must be between 1 and LU.size(-2) inclusive.Did "
                  "you properly pass the result of lu_factor?",
                  "torch.lu_unpack: LU_pivots is expected to be a contiguous tensor of "
                  "torch.int32 dtype.\nNote: this function is intended to be used with the "
                  "output produced by torch.linalg.lu_factor")
    if LU_pivots.shape != LU_data.shape[:-2] + (min(m, n),):
        raise RuntimeError("pivots passed to lu_unpack must be between 1 and LU.size(-2) "
                           "inclusive.Did you properly pass the result of lu_factor?")
    perm = permutation(LU_pivots._array, m) if unpack_pivots else None
    return LuUnpackResult(*_named(_unpack(LU_data, perm, unpack_data, unpack_pivots),
                                  "LuUnpackBackward0"))


# ----------------------------------------------------------------------------------------------
# Solves
# ----------------------------------------------------------------------------------------------
def _lu_apply_inverse(LU, p, B, adjoint):
    """A^-1 B (A^-T B when ``adjoint``) for A = P L U given packed LU and P; batches of LU,
    P and B broadcast."""
    if not adjoint:                                   # U^-1 L^-1 P^T B
        y = solve_triangular(LU, matmul(_mH(p), B), upper=False, unitriangular=True)
        return solve_triangular(LU, y, upper=True)
    y = solve_triangular(_mH(LU), B, upper=False)      # P L^-T U^-T B
    # (column-major, as the other solves: PyTorch's results are LAPACK's)
    return column_major_tensor(
        matmul(p, solve_triangular(_mH(LU), y, upper=True, unitriangular=True)))


def lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    """``linalg.lu_solve``: X with A X = B for A = P L U given by ``lu_factor``'s (LU, pivots)
    (A^T X = B when ``adjoint``; X A = B, or X A^T = B, when not ``left``).  LU (*, n, n),
    B (*, n, k) (or (*, k, n) when not left), batch dims broadcast.  Differentiable in LU
    (its two triangles) and B."""
    check_matrices(LU, "torch.linalg.lu_solve", arg="A", dtype_first="ints")
    if not isinstance(B, Tensor):
        raise TypeError(f"linalg_lu_solve(): argument 'B' (position 3) must be Tensor, not "
                        f"{type(B).__name__}")
    # PyTorch's order: the dtypes, then B's dims and shape
    if LU._array.dtype != B._array.dtype:
        raise RuntimeError(f"linalg.lu_solve: Expected LU and B to have the same dtype, but "
                           f"found LU of type {scalar_type_name(LU._array.dtype)} and B of "
                           f"type {scalar_type_name(B._array.dtype)} instead")
    if not isinstance(pivots, Tensor) or pivots._array.dtype != np.int32:
        raise RuntimeError("linalg.lu_solve: pivots should be a Tensor of scalar type "
                           "torch.int32")
    if B.ndim < 2:
        raise RuntimeError("linalg.lu_solve: The input tensor B must have at least 2 "
                           "dimensions.")
    n = LU.shape[-1]
    if (B.shape[-2] if left else B.shape[-1]) != n:
        raise RuntimeError(f"linalg.lu_solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({n}x{n} and "
                           f"{B.shape[-2]}x{B.shape[-1]})")
    if pivots.ndim < 1 or pivots.shape[-1] != n:
        raise RuntimeError("linalg.lu_solve: Number of pivots per batch should be same as the "
                           "dimension of the matrix")
    arr = pivots._array
    if arr.size and int(arr.min()) < 1:
        raise RuntimeError("Pivots given to lu_solve must all be greater or equal to 1. Did "
                           "you properly pass the result of lu_factor?")
    if arr.size and int(arr.max()) > n:
        raise RuntimeError("Pivots given to lu_solve must all be smaller or equal to "
                           "LU.size(-2). Did you properly pass the result of lu_factor?")
    # batch dims that do not broadcast: PyTorch's error, naming B's size first
    broadcast_shape(tuple(B.shape[:-2]), tuple(LU.shape[:-2]), "the batch dims of B and LU")
    p = Tensor._wrap(permutation_matrix(permutation(arr, n), LU._array.dtype))
    if left:
        x = _lu_apply_inverse(LU, p, B, adjoint)
    else:
        x = _mH(_lu_apply_inverse(LU, p, _mH(B), not adjoint))    # X A = B <=> A^T X^T = B^T
    return rename_node(x, "LinalgLuSolveBackward0")             # one node in PyTorch


@in_float32
def torch_lu_solve(input, LU_data, LU_pivots):
    """``torch.lu_solve`` (deprecated there): ``linalg.lu_solve(LU_data, LU_pivots, input)``,
    X with A X = input."""
    if isinstance(input, Tensor):
        warn_deprecated_linalg("lu_solve", "lu_solve")
    return lu_solve(LU_data, LU_pivots, input)


def solve_ex(A, B, *, left=True, check_errors=False):
    """``linalg.solve_ex``: (result, info) with result as ``linalg.solve`` and info (*) int32
    the LU code of each matrix of A (k > 0: U[k, k] is zero; that result then holds the
    inf/NaN of a division by it).  ``check_errors`` raises for a singular matrix."""
    check_solve_dtypes(A, B, "linalg.solve_ex")
    b, vector = solve_rhs(A, B, left, "linalg_solve_ex")
    refuse_half(A, "linalg.solve_ex")
    lu_arr, piv, info = lu_arrays(A._array)
    if check_errors and bool((info != 0).any()):
        raise LinAlgError(f"torch.linalg.solve_ex: {_batch_prefix(info)}The solver failed "
                          f"because the input matrix is singular.")
    if not bool((info != 0).any()):
        return SolveExResult(solve(A, B, left=left), Tensor._wrap(info))
    lu_t = LuFactor.apply(A, lu=lu_arr, perm=permutation(piv, A.shape[-2]))
    p = Tensor._wrap(permutation_matrix(permutation(piv, A.shape[-1]), A._array.dtype))
    if left:
        x = _lu_apply_inverse(lu_t, p, b, False)
    else:
        x = _mH(_lu_apply_inverse(lu_t, p, _mH(b), True))
    # (a batch of vector solutions is laid out column-major as a (*, n) matrix, as PyTorch's)
    return SolveExResult(column_major_tensor(squeeze(x, -1)) if vector else x,
                         Tensor._wrap(info))
