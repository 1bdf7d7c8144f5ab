"""Inverses, linear solves and determinants: ``linalg.inv`` / ``inv_ex``, ``linalg.solve``,
``linalg.solve_triangular``, ``triangular_solve``, ``cholesky_solve``, ``linalg.det``,
``linalg.slogdet``, ``logdet``.  Every one works on batches of matrices (..., n, n).

Forward: numpy's batched LAPACK routines (a triangular solve is a substitution over the rows,
vectorised over the batch).  Backward: minigrad ops, so that gradients of any order follow.

* inverse X = A^-1:            dA = -X^T g X^T
* solve X = A^-1 B:           dB = A^-T g (a solve again), dA = -dB X^T
* triangular solve:           the same, with dA kept to A's triangle (off its diagonal
                              when the diagonal is taken as ones)
* det d = det(A):             dA = g d A^-T (the cofactors, from the SVD for a singular A);
                              log|det|: dA = g A^-T

A singular matrix is PyTorch's LinAlgError naming the first zero pivot of its LU
factorisation (found by ``_first_zero_pivot``) and, in a batch, the batch element.
"""
from __future__ import annotations

import numpy as np

from .. import backend, dtypes, return_types
from .._warn_once import warn_deprecated_linalg
from ..autograd import Function, is_grad_enabled
from ..autograd._input_checks import complex_refusal
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._autocast_cast import in_float32
from ._util import broadcast_shape, not_implemented_for, scalar_type_name
from .elementary_functions import log
from .elementwise import add, cast, mul, neg
from .pointwise_select import where
from .linalg import LinAlgError, SvdU, SvdVals, SvdVh, patch_nonfinite
from .matmul import matmul
from .movement import clone, mT, squeeze, unsqueeze
from .complex_numbers import imag
from .plumbing import conj_of, expand_to
from .reduce import prod
from .shaping import tril, triu

__all__ = ["inv", "inv_ex", "solve", "solve_triangular", "triangular_solve", "cholesky_solve",
           "det", "slogdet", "torch_slogdet", "logdet", "result_type", "check_matrices"]


def result_type(name, fields):
    """The constructor, from the values of ``fields`` in order, of ``return_types.<name>``
    (PyTorch's ``torch.return_types.<name>``)."""
    return return_types.make(name, fields)


InvExResult = result_type("linalg_inv_ex", ["inverse", "info"])
SlogdetResult = result_type("linalg_slogdet", ["sign", "logabsdet"])
TorchSlogdetResult = result_type("slogdet", ["sign", "logabsdet"])
TriangularSolveResult = result_type("triangular_solve", ["solution", "cloned_coefficient"])


# the ``_ex`` variants' messages name the plain function, as PyTorch's
_SAYS = {"linalg.cholesky_ex": "linalg.cholesky", "linalg.inv_ex": "linalg.inv",
         "linalg.solve_ex": "linalg.solve"}
# How PyTorch refuses float16 and (second) the integer and bool dtypes, per function, where it
# does not say "Expected a floating point or complex tensor" (the default for those) and, for
# float16, name the kernel "<name>_cpu": the kernel its not-implemented error names, "low"
# (its "Low precision dtypes not supported"), or "float_double" (its LAPACK wrappers' words).
_DTYPE_REFUSALS = {
    "linalg.cholesky": ("cholesky_cpu", None), "linalg.qr": ("geqrf_cpu", None),
    "linalg.eigh": (None, "linalg_eigh_cpu"),
    "linalg.eigvalsh": ("linalg_eigh_cpu", "linalg_eigh_cpu"),
    "linalg.inv": ("low", None), "linalg.slogdet": ("low", None), "logdet": ("low", None),
    "linalg.det": ("lu_cpu", None), "linalg.solve": ("lu_cpu", None),
    "linalg.solve_triangular": ("triangular_solve_cpu", "triangular_solve_cpu"),
    "torch.linalg.householder_product": ("orgqr_cpu", "orgqr_cpu"),
    "torch.linalg.lu_solve": ("linalg.lu_solve_cpu", None),
    "linalg.matrix_rank": ("float_double", "float_double"),
    "linalg.lstsq": ("float_double", "float_double"),
    "torch.linalg.ldl_factor_ex": ("ldl_factor_kernel_cpu", None),
    "torch.linalg.ldl_factor": ("ldl_factor_kernel_cpu", None),
    "torch.linalg.ldl_solve": ("ldl_solve_kernel_cpu", None),
}


# the functions whose kernel refusal (a "not implemented for" one) PyTorch meets only once it
# has matrices to work on: an empty batch, or 0 x 0 matrices, comes back in the input's dtype
_KERNEL_REFUSED_ONLY_IF_NONEMPTY = {
    "linalg.cholesky", "linalg.eigh", "linalg.eigvalsh", "linalg.det", "linalg.solve",
    "torch.linalg.ldl_factor_ex", "torch.linalg.ldl_factor"}


def _refuse_dtype(name, dtype, empty=False):
    says = _SAYS.get(name, name)
    half, other = _DTYPE_REFUSALS.get(says, (None, None))
    rule = half if dtypes.reduced_float(dtype) else other
    if rule == "low":
        raise RuntimeError(f"{says}: Low precision dtypes not supported. Got "
                           f"{scalar_type_name(dtype)}")
    if rule == "float_double":
        raise RuntimeError("This function doesn't handle types other than float and double")
    if rule is None and dtypes.reduced_float(dtype):
        rule = f"{name.replace('.', '_')}_cpu"
    if rule is not None:
        if empty and says in _KERNEL_REFUSED_ONLY_IF_NONEMPTY:
            return
        raise not_implemented_for(rule, dtype)
    raise RuntimeError(f"{says}: Expected a floating point or complex tensor as input. Got "
                       f"{scalar_type_name(dtype)}")


# the functions that refuse complex input in the words of the Function gate (docs/complex.md
# lists what takes complex tensors); the others are complex-ready, or their Functions refuse
_COMPLEX_REFUSED = set()


def _refuse_complex(name, dtype):
    raise complex_refusal(name, np.dtype(dtype))


def empty_without_kernel(A):
    """Is A an empty batch (or of 0 x 0 matrices) of a dtype LAPACK has no kernel for? Where
    PyTorch lets such an input through (see _KERNEL_REFUSED_ONLY_IF_NONEMPTY), it is worked on
    as float32 and the empty results are cast back."""
    return A.numel() == 0 and (A._array.dtype.kind not in "fcV" or
                               dtypes.reduced_float(A._array.dtype))


def check_matrices(A, name, *, square=True, arg="A", position=1):
    """PyTorch's checks of a linalg input: a Tensor, at least 2-d, floating (float16 aside),
    square; each refusal in the words PyTorch's function ``name`` uses."""
    if not isinstance(A, Tensor):
        kind = type(A).__name__
        raise TypeError(f"{name.replace('.', '_')}(): argument '{arg}' (position {position}) "
                        f"must be Tensor, not {kind}")
    says = _SAYS.get(name, name)
    if A.ndim < 2:
        raise RuntimeError(f"{says}: The input tensor {arg} must have at least 2 dimensions.")
    if A._array.dtype.kind == "c" and name in _COMPLEX_REFUSED:
        _refuse_complex(says, A._array.dtype)
    if A._array.dtype.kind not in "fcV" or dtypes.reduced_float(A._array.dtype):
        _refuse_dtype(name, A._array.dtype, A.numel() == 0)
    if square and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{says}: {arg} must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")


def _first_zero_pivot(a):
    """For each matrix of a (..., n, n): 1 + the index of the first exactly zero pivot of its
    LU factorisation with partial pivoting (LAPACK's getrf ``info``), 0 if none.  A loop over
    the columns, vectorised over the batch."""
    xp = backend.xp_of(a)
    u = xp.array(a, dtype=np.complex128 if a.dtype.kind == "c" else np.float64).reshape(
        (-1,) + a.shape[-2:])
    n = u.shape[-1]
    info = xp.zeros(u.shape[0], dtype=np.int32)
    rows = xp.arange(u.shape[0])
    for j in range(n):
        p = j + xp.argmax(xp.abs(u[:, j:, j]), axis=1)
        u[rows, j], u[rows, p] = u[rows, p].copy(), u[rows, j].copy()
        piv = u[:, j, j]
        zero = piv == 0
        info = xp.where((info == 0) & zero, j + 1, info)
        factor = u[:, j + 1:, j] / xp.where(zero, 1.0, piv)[:, None]
        u[:, j + 1:, :] -= factor[:, :, None] * u[:, j, None, :]
    return info.reshape(a.shape[:-2])


def _batch_prefix(info):
    """'' for one matrix, else '(Batch element k): ' naming the first failed one."""
    if info.ndim == 0:
        return ""
    return f"(Batch element {int(np.flatnonzero(backend.as_numpy(info).reshape(-1))[0])}): "


def _singular_inverse(a, name):
    info = _first_zero_pivot(a)
    flat = backend.as_numpy(info).reshape(-1)
    first = int(flat[np.flatnonzero(flat)[0]])
    return LinAlgError(f"{name}: {_batch_prefix(info)}The diagonal element {first} is zero, the "
                       f"inversion could not be completed because the input matrix is singular.")


def _inverse_array(a, name="linalg.inv"):
    xp = backend.xp_of(a)
    if a.size == 0:
        return xp.zeros_like(a)
    # PyTorch's LU solve spreads a NaN over its whole matrix's inverse; numpy's LAPACK may keep
    # a row finite or stop on a NaN pivot: such matrices are inverted as the identity, then NaN
    # (a finite input is passed as it is: its memory layout steers LAPACK's rounding)
    nan = xp.isnan(a).any(axis=(-2, -1))[..., None, None]
    try:
        out = xp.linalg.inv(_identity_where(nan, a) if nan.any() else a)
    except np.linalg.LinAlgError:
        if xp.any(_first_zero_pivot(a)):
            raise _singular_inverse(a, name) from None
        # the elimination of a matrix with an inf gave a NaN pivot: NaN there, as PyTorch
        nan = nan | ~xp.isfinite(a).all(axis=(-2, -1))[..., None, None]
        out = xp.linalg.inv(_identity_where(nan, a))
    return xp.where(nan, np.nan, out) if nan.any() else out


def _identity_where(mask, a):
    """a (..., n, n) with the matrices where mask (..., 1, 1) swapped for the identity."""
    xp = backend.xp_of(a)
    return xp.where(mask, xp.eye(a.shape[-1], dtype=a.dtype), a)


def _inverse_unchecked(a):
    """The inverses of a (..., n, n), NaN for each matrix with a zero LU pivot."""
    xp = backend.xp_of(a)
    if a.size == 0:
        return xp.zeros_like(a)
    bad = (_first_zero_pivot(a) != 0)[..., None, None]
    if not bad.any():
        return _inverse_array(a)
    return xp.where(bad, np.nan, _inverse_array(_identity_where(bad, a)))


class Inv(Function):
    """The inverses X of the matrices a (..., n, n); backward -X^H g X^H (X^T for real a)."""
    _node_name = "LinalgInvExBackward0"             # PyTorch's node
    complex_ok = True

    def forward(self, a, *, checked=True):
        # checked=False (a backward's inverse, as PyTorch's skips the singularity check): a
        # singular matrix's inverse comes back as NaN instead of raising
        out = _inverse_array(a) if checked else _inverse_unchecked(a)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        x, = self.saved_tensors
        xt = _mH(x)
        return neg(matmul(matmul(xt, g), xt))


@in_float32
def inv(A):
    """``linalg.inv`` / ``inverse``: the inverses of A (..., n, n), same shape and dtype.
    A singular matrix raises LinAlgError."""
    check_matrices(A, "linalg.inv")
    return Inv.apply(A)


@in_float32
def inv_ex(A, *, check_errors=False):
    """``linalg.inv_ex``: (inverse, info), info (...,) int32 the LAPACK-style code of each
    matrix (k > 0: the k-th pivot is zero, and that inverse is not meaningful)."""
    check_matrices(A, "linalg.inv_ex")
    info = _first_zero_pivot(A._array) if A.numel() else \
        backend.xp_of(A._array).zeros(A.shape[:-2], np.int32)
    if check_errors and bool((info != 0).any()):
        raise _singular_inverse(A._array, "linalg.inv_ex")
    if bool((info != 0).any()):      # numpy refuses the whole batch: a constant of NaN there
        bad = (info != 0)[..., None, None]
        safe = backend.xp_of(A._array).where(bad, np.eye(A.shape[-1], dtype=A._array.dtype),
                                             A._array)
        out = Tensor._wrap(backend.xp_of(safe).where(bad, np.nan, _inverse_array(safe)))
    else:
        out = Inv.apply(A)
    return InvExResult(out, Tensor._wrap(info.astype(np.int32)))


class Solve(Function):
    """X = a^-1 b for a (..., n, n) and b (..., n, k) of the same batch shape; backward
    db = a^-H g (Solve again), da = -db X^H (transposes for real tensors)."""
    _node_name = "LinalgSolveExBackward0"           # PyTorch's node
    complex_ok = True

    def forward(self, a, b):
        xp = backend.xp_of(a)
        if a.size == 0 or b.size == 0:
            out = xp.zeros(b.shape, b.dtype)
        else:
            try:
                out = xp.linalg.solve(a, b)
            except np.linalg.LinAlgError:
                info = _first_zero_pivot(a)
                raise LinAlgError(f"torch.linalg.solve: {_batch_prefix(info)}The solver failed "
                                  f"because the input matrix is singular.") from None
        self.save_for_backward(a, out)
        return out

    def backward(self, g):
        a, x = self.saved_tensors
        gb = Solve.apply(_mH(a), g)
        ga = neg(matmul(gb, _mH(x))) if self.needs_input_grad[0] else None
        return ga, gb


def _mH(t):
    """The conjugate transpose of each matrix (the transpose, a view, for a real t)."""
    return conj_of(mT(t))


def _broadcast_batches(A, B):
    """A (..., n, n) and B (..., n, k) expanded to one batch shape (differentiably); batch
    shapes that do not broadcast are PyTorch's error, which names B's size first."""
    batch = broadcast_shape(tuple(B.shape[:-2]), tuple(A.shape[:-2]), "the batch dims of B and A")
    return expand_to(A, batch + A.shape[-2:]), expand_to(B, batch + B.shape[-2:])


@in_float32
def solve(A, B, *, left=True):
    """``linalg.solve``: X with A X = B (X A = B when ``left`` is False), A (*, n, n) and B
    (*, n, k) or, when B is (n,) or has A's batch shape with one fewer dim, a batch of vectors
    (*, n) giving X (*, n) (a column, whichever side).  Batch dims broadcast."""
    check_matrices(A, "linalg.solve")
    B, vector = solve_rhs(A, B, left, "linalg_solve")
    if left:
        out = Solve.apply(*_broadcast_batches(A, B))
    else:
        out = mT(Solve.apply(*_broadcast_batches(mT(A), mT(B))))
    if not (vector or not left):
        return out
    # PyTorch's one node for the solve, whatever view of its result the call returns
    return rename_node(squeeze(out, -1) if vector else out, "LinalgSolveExBackward0")


def solve_rhs(A, B, left, name):
    """linalg.solve's checks of B against A (``name``: the function the messages name):
    (B as a batch of matrices (*, n, k), whether it was given as a batch of vectors)."""
    if not isinstance(B, Tensor):
        raise TypeError(f"{name}(): argument 'B' (position 2) must be Tensor, not "
                        f"{type(B).__name__}")
    if A._array.dtype != B._array.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A "
                           f"of type {scalar_type_name(A._array.dtype)} and B of type "
                           f"{scalar_type_name(B._array.dtype)} instead")
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    b = unsqueeze(B, -1) if vector else B
    n = A.shape[-1]
    if b.ndim < 2 or (b.shape[-2] if left else b.shape[-1]) != n:
        shape = "x".join(map(str, b.shape if b.ndim > 1 else (*b.shape, 1)))
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({n}x{n} and {shape})")
    return b, vector


def _substitute(t, b, upper):
    """Solve t x = b by substitution, t (..., n, n) triangular, b (..., n, k); a zero on the
    diagonal gives inf/NaN as LAPACK's trtrs-free substitution does."""
    xp = backend.xp_of(t)
    n = t.shape[-1]
    x = xp.zeros(np.broadcast_shapes(t.shape[:-2], b.shape[:-2]) + b.shape[-2:],
                 dtype=np.result_type(t.dtype, b.dtype))
    order = range(n - 1, -1, -1) if upper else range(n)
    for i in order:
        done = slice(i + 1, n) if upper else slice(0, i)
        acc = b[..., i, :] - xp.einsum("...j,...jk->...k", t[..., i, done], x[..., done, :])
        x[..., i, :] = acc / t[..., i, i, None]
    return x


class SolveTriangular(Function):
    """X = T^-1 b where T is the upper (or lower) triangle of a (..., n, n), with ones on the
    diagonal when ``unit``; b (..., n, k) of the same batch shape.  Backward: db = T^-H g
    (the conjugate-transposed triangle), da = -db X^H kept to T's triangle."""
    _node_name = "LinalgSolveTriangularBackward0"       # PyTorch's node
    complex_ok = True

    def forward(self, a, b, *, upper, unit):
        self.upper, self.unit = upper, unit
        xp = backend.xp_of(a)
        t = xp.triu(a) if upper else xp.tril(a)
        if unit:
            t = t.copy()
            idx = xp.arange(a.shape[-1])
            t[..., idx, idx] = 1
        out = _substitute(t, b, upper)
        self.save_for_backward(a, out)
        return out

    def backward(self, g):
        a, x = self.saved_tensors
        gb = SolveTriangular.apply(_mH(a), g, upper=not self.upper, unit=self.unit)
        if not self.needs_input_grad[0]:
            return None, gb
        ga = neg(matmul(gb, _mH(x)))
        off = 1 if self.unit else 0
        return (triu(ga, off) if self.upper else tril(ga, -off)), gb


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """``linalg.solve_triangular``: X with A X = B (X A = B when not ``left``), A (*, n, n)
    read as its upper or lower triangle (diagonal taken as ones if ``unitriangular``), B
    (*, n, k) (or (*, k, n) when not left); batch dims broadcast.  No check of singularity:
    a zero on the diagonal gives inf/NaN."""
    if not isinstance(A, Tensor) or A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        check_matrices(A, "linalg.solve_triangular")
    if not isinstance(B, Tensor):
        raise TypeError(f"linalg_solve_triangular(): argument 'B' (position 2) must be Tensor, "
                        f"not {type(B).__name__}")
    if B.ndim < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor B must have at least 2 "
                           "dimensions.")
    n = A.shape[-1]
    if (B.shape[-2] if left else B.shape[-1]) != n:
        raise RuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the "
                           f"equation {'AX = B' if left else 'XA = B'} ({n}x{n} and "
                           f"{B.shape[-2]}x{B.shape[-1]})")
    check_matrices(A, "linalg.solve_triangular")      # its dtype refusal after the shapes
    if A._array.dtype != B._array.dtype:
        B = cast(B, A._array.dtype)          # PyTorch solves in A's dtype, whatever B's
    if left:
        return SolveTriangular.apply(*_broadcast_batches(A, B), upper=upper, unit=unitriangular)
    a, b = _broadcast_batches(mT(A), mT(B))       # X A = B  <=>  A^T X^T = B^T
    return rename_node(mT(SolveTriangular.apply(a, b, upper=not upper, unit=unitriangular)),
                       SolveTriangular._node_name)


@in_float32
def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):
    """``torch.triangular_solve`` (deprecated there): (solution, cloned_coefficient) with
    solution X of A X = b (A^T X = b when ``transpose``); A read as a triangle; b and A of
    one dtype (linalg.solve_triangular would cast b)."""
    if isinstance(b, Tensor) and isinstance(A, Tensor):
        warn_deprecated_linalg("triangular_solve", "solve_triangular")
    if isinstance(b, Tensor) and isinstance(A, Tensor) and b._array.dtype != A._array.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type "
                           f"{scalar_type_name(b._array.dtype)} and A of type "
                           f"{scalar_type_name(A._array.dtype)} instead.")
    for name, t in (("b", b), ("A", A)):            # its own words for the shapes
        if isinstance(t, Tensor) and t.ndim < 2:
            raise RuntimeError(f"torch.triangular_solve: Expected {name} to have at least 2 "
                               f"dimensions, but it has {t.ndim} dimensions instead")
    if isinstance(b, Tensor) and isinstance(A, Tensor) and A.shape[-1] == A.shape[-2] and \
            b.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"Incompatible matrix sizes for triangular_solve: each A matrix is "
                           f"{A.shape[-2]} by {A.shape[-1]} but each b matrix is "
                           f"{b.shape[-2]} by {b.shape[-1]}")
    coeff = mT(A) if transpose else A
    x = solve_triangular(coeff, b, upper=upper != transpose, unitriangular=unitriangular)
    # the cloned coefficient is A broadcast to the solution's batch shape; both results are
    # one PyTorch node's
    cloned = clone(A.expand(*x.shape[:-2], *A.shape[-2:]))
    return TriangularSolveResult(rename_node(x, "TriangularSolveBackward0"),
                                 rename_node(cloned, "TriangularSolveBackward0"))


class CholeskySolve(Function):
    """X = (L L^H)^-1 b (U^H U when ``upper``) for the factor l (..., n, n), read as its
    lower (upper) triangle, and b (..., n, k) of the same batch shape: two substitutions.
    Backward, as PyTorch's: db = (L L^H)^-1 g (this solve again: the matrix is Hermitian)
    and, with S = db X^H + X db^H, dl = -S L (-U S when ``upper``), a full matrix: the
    gradient of the product L L^H that the factor stands for, not kept to the triangle."""
    complex_ok = True

    def forward(self, b, l, *, upper):
        self.upper = upper
        xp = backend.xp_of(l)
        t = xp.triu(l) if upper else xp.tril(l)
        tt = xp.swapaxes(t, -1, -2).conj()
        first, second = (tt, t) if upper else (t, tt)
        out = _substitute(second, _substitute(first, b, upper=False), upper=True)
        self.save_for_backward(b, l, out)
        return out

    def backward(self, g):
        b, l, x = self.saved_tensors
        if is_grad_enabled():        # a recorded backward differentiates X too
            x = CholeskySolve.apply(b, l, upper=self.upper)
        gb = CholeskySolve.apply(g, l, upper=self.upper)
        if not self.needs_input_grad[1]:
            return gb, None
        s = add(matmul(gb, _mH(x)), matmul(x, _mH(gb)))
        gl = neg(matmul(l, s) if self.upper else matmul(s, l))
        return gb, gl


@in_float32
def cholesky_solve(B, L, upper=False):
    """``cholesky_solve``: X with (L L^H) X = B (U^H U when ``upper``), L (*, n, n) the
    Cholesky factor (only its triangle is read), B (*, n, k); batch dims broadcast."""
    for arg, t, pos in (("input", B, 1), ("input2", L, 2)):
        if not isinstance(t, Tensor):
            raise TypeError(f"cholesky_solve(): argument '{arg}' (position {pos}) must be "
                            f"Tensor, not {type(t).__name__}")
    for name, t in (("b", B), ("u", L)):
        if t.ndim < 2:
            raise RuntimeError(f"{name} should have at least 2 dimensions, but has {t.ndim} "
                               f"dimensions instead")
    if B._array.dtype != L._array.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type "
                           f"{scalar_type_name(B._array.dtype)} and A of type "
                           f"{scalar_type_name(L._array.dtype)} instead.")
    if L.shape[-1] != L.shape[-2]:
        raise RuntimeError(f"A must be batches of square matrices, but they are "
                           f"{L.shape[-2]} by {L.shape[-1]} matrices")
    if B.shape[-2] != L.shape[-1]:
        raise RuntimeError(f"Incompatible matrix sizes for cholesky_solve: each A matrix is "
                           f"{L.shape[-1]} by {L.shape[-1]} but each b matrix is "
                           f"{B.shape[-2]} by {B.shape[-1]}")
    if L._array.dtype.kind not in "fcV" or dtypes.reduced_float(L._array.dtype):
        raise not_implemented_for("cholesky_solve_cpu", L._array.dtype)
    l, b = _broadcast_batches(L, B)
    return CholeskySolve.apply(b, l, upper=upper)


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

