"""Functions of matrices: ``linalg.matrix_power``, ``linalg.matrix_exp``, ``linalg.multi_dot``,
``linalg.householder_product``; batched over leading dims.

``matrix_exp``'s forward is scaling and squaring with the degree-13 Padé approximant (Higham,
"The scaling and squaring method for the matrix exponential revisited", 2005): each matrix is
divided by 2^s so that its 1-norm is at most theta_13 = 5.37, r = q(A)^-1 p(A) is formed from
A^2, A^4, A^6 with the Padé coefficients, and squared s times (s per matrix).  Its backward
uses the block identity exp([[A^T, G], [0, A^T]]) = [[exp(A^T), L], [0, exp(A^T)]], where L
is the gradient of <G, exp(A)>: one matrix_exp of a 2n x 2n matrix, itself differentiable.
The other functions are compositions of differentiable ops (matmul, inv, narrow).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import backend
from ..dtypes import reduced_float
from ..autograd import Function
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._autocast_cast import in_float32
from ._lapack_layout import column_major, column_major_tensor
from ._util import cpp_type_name, scalar_type_name
from .elementwise import add, mul, sub
from .matmul import matmul
from .movement import squeeze, unsqueeze
from .movement_copies import clone
from .stacking import cat, narrow
from .plumbing import cast_to
from .shaping import tril
from .solve import _mH, check_matrices, inv

__all__ = ["matrix_power", "matrix_exp", "multi_dot", "householder_product"]

_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
           129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
           40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152


def _expm(a):
    """exp of the matrices a (..., n, n) by scaling and squaring (Padé 13), in a's dtype."""
    xp = backend.xp_of(a)
    n = a.shape[-1]
    if a.size == 0:
        return a.copy()
    norm = xp.abs(a).sum(-2).max(-1)                          # 1-norm of each matrix
    with np.errstate(divide="ignore"):
        s = xp.ceil(xp.log2(norm / _THETA13))
    s = xp.where(xp.isfinite(s) & (s > 0), s, 0).astype(np.int64)
    x = a / (2.0 ** s)[..., None, None].astype(a.dtype)
    b = _PADE13
    eye = xp.eye(n, dtype=a.dtype)
    x2 = x @ x
    x4 = x2 @ x2
    x6 = x4 @ x2
    u = x @ (x6 @ (b[13] * x6 + b[11] * x4 + b[9] * x2)
             + b[7] * x6 + b[5] * x4 + b[3] * x2 + b[1] * eye)
    v = x6 @ (b[12] * x6 + b[10] * x4 + b[8] * x2) + b[6] * x6 + b[4] * x4 + b[2] * x2 \
        + b[0] * eye
    r = xp.linalg.solve(v - u, v + u)
    for k in range(int(s.max()) if s.size else 0):
        r = xp.where((k < s)[..., None, None], r @ r, r)
    return r.astype(a.dtype, copy=False)


class MatrixExp(Function):
    """exp(a) of a (..., n, n); backward the top-right block of exp([[a^H, g], [0, a^H]])
    (a^H: the adjoint of exp's derivative at a is its derivative at a^H)."""
    _node_name = "LinalgMatrixExpBackward0"         # PyTorch's node
    complex_ok = True

    def forward(self, a):
        self.save_for_backward(a)
        return _expm(a)

    def backward(self, g):
        a, = self.saved_tensors
        n = a.shape[-1]
        at = _mH(a)
        top = cat([at, g], -1)
        bottom = cat([mul(g, 0.0), at], -1)
        big = MatrixExp.apply(cat([top, bottom], -2))
        return narrow(narrow(big, -2, 0, n), -1, n, n)


def matrix_exp(A):
    """``linalg.matrix_exp`` / ``matrix_exp``: the matrix exponential sum_k A^k / k! of A
    (*, n, n), same shape and dtype."""
    if isinstance(A, Tensor) and reduced_float(A._array.dtype):
        # unlike PyTorch's other linalg kernels, matrix_exp has a half-precision one (float16,
        # bfloat16): here, float32 rounded once
        return cast_to(matrix_exp(cast_to(A, np.float32)), A._array.dtype)
    check_matrices(A, "linalg.matrix_exp")
    return MatrixExp.apply(A)


class _IdentityOf(Function):
    """Identity matrices of A's shape and dtype, whatever A holds (a NaN in A stays out); A's
    gradient is zero."""
    complex_ok = True               # a zero gradient needs no conjugation

    def forward(self, a):
        xp = backend.xp_of(a)
        return xp.ascontiguousarray(xp.broadcast_to(xp.eye(a.shape[-1], dtype=a.dtype),
                                                    a.shape))

    def backward(self, g):
        return Tensor._wrap(backend.xp_of(g._array).zeros(g.shape, dtype=g._array.dtype))


def matrix_power(A, n):
    """``linalg.matrix_power``: A^n for A (*, m, m) and an int n, by repeated squaring; n = 0
    gives the identity (zero gradient), n < 0 the power -n of inv(A)."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"linalg_matrix_power(): argument 'n' (position 2) must be int, not "
                        f"{type(n).__name__}")
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg_matrix_power(): argument 'input' (position 1) must be Tensor, "
                        f"not {type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_power: The input tensor A must have at least 2 "
                           "dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but "
                           f"they are {A.shape[-2]} by {A.shape[-1]} matrices")
    if n == 0:
        return _IdentityOf.apply(A)
    if n == 1:
        return clone(A)               # a new tensor, as PyTorch's, never A itself
    base = inv(A) if n < 0 else A
    n = abs(int(n))
    out = None
    while n:
        if n & 1:
            out = base if out is None else matmul(out, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return out


def _chain_order(dims):
    """The cheapest parenthesisation of a chain of matrices with sizes dims[i] x dims[i+1]:
    split[i][j] is where the product of matrices i..j splits (the classic dynamic program)."""
    count = len(dims) - 1
    cost = [[0] * count for _ in range(count)]
    split = [[0] * count for _ in range(count)]
    for length in range(1, count):
        for i in range(count - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def multi_dot(tensors):
    """``linalg.multi_dot``: the product of the 2-d tensors in order, multiplied in the
    cheapest order; the first may be 1-d (a row) and the last 1-d (a column), those dims
    then dropped from the result."""
    if isinstance(tensors, Tensor):         # (iterating one would multiply its rows)
        raise TypeError("linalg_multi_dot(): argument 'tensors' (position 1) must be tuple of "
                        "Tensors, not Tensor")
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    first_vec, last_vec = tensors[0].ndim == 1, tensors[-1].ndim == 1
    mats = list(tensors)
    if first_vec:
        mats[0] = unsqueeze(mats[0], 0)
    if last_vec:
        mats[-1] = unsqueeze(mats[-1], -1)
    for i, t in enumerate(mats):
        if t.ndim != 2:
            which = "first" if i == 0 else "last" if i == len(mats) - 1 else None
            raise RuntimeError(
                f"multi_dot(): the {which} tensor must be 1D or 2D but got {t.ndim}D"
                if which else f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
        if t._array.dtype != mats[0]._array.dtype:
            # (the element types by their C++ names, the shapes as lists: PyTorch's words)
            raise RuntimeError(f"multi_dot(): all tensors must have be the same dtype but tensor"
                               f" 0 is {cpp_type_name(mats[0]._array.dtype)} and tensor {i} "
                               f"{cpp_type_name(t._array.dtype)}")
        if i and mats[i - 1].shape[1] != t.shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i - 1} and {i} with shapes "
                               f"{list(tensors[i - 1].shape)} and {list(tensors[i].shape)} "
                               f"cannot be multiplied")
    split = _chain_order([mats[0].shape[0]] + [t.shape[1] for t in mats])

    def product(i, j):
        if i == j:
            return mats[i]
        k = split[i][j]
        return matmul(product(i, k), product(k + 1, j))
    out = product(0, len(mats) - 1)
    if last_vec:
        out = squeeze(out, -1)
    if first_vec:
        out = squeeze(out, 0)
    # PyTorch views its product to the result's shape last, whatever the inputs' ranks
    return rename_node(out, "ViewBackward0")


class _NoReflector(Function):
    """householder_product with no reflector (tau empty): the identity (*, m, n), a result of
    A and tau (requiring grad as they do) whose gradient for both is None, as PyTorch's."""
    _node_name = "LinalgHouseholderProductBackward0"
    complex_ok = True           # a constant identity: nothing to conjugate

    def forward(self, a, tau):
        xp = backend.xp_of(a)
        eye = xp.eye(a.shape[-2], a.shape[-1], dtype=a.dtype)
        return column_major(xp.broadcast_to(eye, a.shape))

    def backward(self, g):
        return None, None


@in_float32
def householder_product(A, tau):
    """``linalg.householder_product`` / ``orgqr``: the first n columns of H_1 ... H_k, A
    (*, m, n), tau (*, k), H_i = I - tau_i v_i v_i^H with v_i the i-th column of A below the
    diagonal, 1 on it and 0 above (LAPACK's orgqr; the Q of a geqrf factorisation).  Applied
    to the identity from the right end, one rank-one update per reflector."""
    if not isinstance(A, Tensor):
        check_matrices(A, "torch.linalg.householder_product", square=False, arg="input")
    if A.ndim < 2:
        raise RuntimeError("torch.linalg.householder_product: input must have at least 2 "
                           "dimensions.")
    m, n = A.shape[-2:]
    if m < n:
        raise RuntimeError("torch.linalg.householder_product: input.shape[-2] must be greater "
                           "than or equal to input.shape[-1]")
    if tau.ndim == 0:
        raise IndexError("Dimension specified as -1 but tensor has no dimensions")
    k = tau.shape[-1]
    if n < k:
        raise RuntimeError("torch.linalg.householder_product: input.shape[-1] must be greater "
                           "than or equal to tau.shape[-1]")
    if tau.ndim != A.ndim - 1:
        raise RuntimeError(f"torch.linalg.householder_product: Expected tau to have one "
                           f"dimension less than input, but got tau.ndim equal to {tau.ndim} and "
                           f"input.ndim is equal to {A.ndim}")
    if tau.shape[:-1] != A.shape[:-2]:
        raise RuntimeError(f"torch.linalg.householder_product: Expected batch dimensions of tau "
                           f"to be equal to input.shape[:-2], but got {list(tau.shape[:-1])}")
    # PyTorch checks the shapes, then that the dtypes agree, then that it has a kernel
    if tau._array.dtype != A._array.dtype:
        raise RuntimeError(f"torch.linalg.householder_product: tau dtype "
                           f"{scalar_type_name(tau._array.dtype)} does not match input dtype "
                           f"{scalar_type_name(A._array.dtype)}")
    check_matrices(A, "torch.linalg.householder_product", square=False, arg="input")
    if k == 0:
        return _NoReflector.apply(A, tau)
    xp = backend.xp_of(A._array)
    v = add(tril(A, -1), Tensor._wrap(xp.eye(m, n, dtype=A._array.dtype)))
    q = Tensor._wrap(xp.broadcast_to(xp.eye(m, n, dtype=A._array.dtype), A.shape).copy())
    for i in range(k - 1, -1, -1):
        vi = narrow(v, -1, i, 1)                                 # (*, m, 1)
        ti = unsqueeze(narrow(tau, -1, i, 1), -1)                # (*, 1, 1)
        q = sub(q, mul(ti, matmul(vi, matmul(_mH(vi), q))))
    # one node in PyTorch, its result column-major as LAPACK's orgqr writes it
    return rename_node(column_major_tensor(q), "LinalgHouseholderProductBackward0")
