"""Triangular solves: ``linalg.solve_triangular``, ``triangular_solve`` and
``cholesky_solve`` (two triangular solves), on batches of matrices (a substitution over the
rows, vectorised over the batch; the general solve is in ``solve.py``).  Backward: minigrad
ops, so that gradients of any order follow.

* triangular solve:           the same as a solve X = A^-1 B (dB = A^-T g, dA = -dB X^T),
                              with dA kept to A's triangle (off its diagonal when the
                              diagonal is taken as ones)
"""
from __future__ import annotations

import numpy as np

from .. import backend, dtypes
from .._warn_once import warn_deprecated_linalg
from ..autograd import Function, is_grad_enabled
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._autocast_cast import in_float32
from ._lapack_layout import column_major, column_major_tensor
from ._util import bool_arg, not_implemented_for, scalar_type_name
from .elementwise import add, cast, neg
from .matmul import matmul
from .movement import mT
from .movement_copies import clone
from .shaping import tril, triu
from .solve import _broadcast_batches, _mH, check_matrices, result_type

__all__ = ["solve_triangular", "triangular_solve", "cholesky_solve"]

TriangularSolveResult = result_type("triangular_solve", ["solution", "cloned_coefficient"])


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
        out = column_major(_substitute(t, b, upper))
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


_MISSING = object()
_NAME = "linalg_solve_triangular"


def solve_triangular(A=_MISSING, B=_MISSING, *more, upper=_MISSING, left=True,
                     unitriangular=False):
    """``linalg.solve_triangular``: X with A X = B (X A = B when not ``left``), A (*, n, n)
    read as its upper or lower triangle (diagonal taken as ones if ``unitriangular``), B
    (*, n, k) (or (*, k, n) when not left); batch dims broadcast.  No check of singularity:
    a zero on the diagonal gives inf/NaN.  Its arguments are refused in the words of
    PyTorch's parser (``upper`` is required and keyword-only, the flags are bools)."""
    if more:
        raise TypeError(f"{_NAME}() takes from 3 to 2 positional arguments but "
                        f"{2 + len(more)} were given")
    # PyTorch's parser names every required argument from the first one missing on (A by
    # its name there, input), and says "arguments" for one and "argument" for more
    given = (A is not _MISSING, B is not _MISSING, upper is not _MISSING)
    missing = [] if all(given) else ['"input"', '"B"', '"upper"'][given.index(False):]
    if missing:
        raise TypeError(f"{_NAME}() missing {len(missing)} required positional argument"
                        f"{'s' if len(missing) == 1 else ''}: {', '.join(missing)}")
    upper = bool_arg(_NAME, "upper", upper)
    left = bool_arg(_NAME, "left", left)
    unitriangular = bool_arg(_NAME, "unitriangular", unitriangular)
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
        # PyTorch solves in A's dtype, whatever B's (a complex B cast to a real A loses its
        # imaginary part, with its warning)
        B = B.to(A.dtype) if B._array.dtype.kind == "c" else cast(B, A._array.dtype)
    if left:
        return SolveTriangular.apply(*_broadcast_batches(A, B), upper=upper, unit=unitriangular)
    a, b = _broadcast_batches(mT(A), mT(B))       # X A = B  <=>  A^T X^T = B^T
    # (column-major on this side too, as PyTorch's: the transposed solution is copied)
    x = column_major_tensor(mT(SolveTriangular.apply(a, b, upper=not upper, unit=unitriangular)))
    return rename_node(x, SolveTriangular._node_name)


def _check_triangular_solve(b, A):
    """PyTorch's checks of ``triangular_solve``, in its order and words: each operand's rank
    (b first), their dtypes, A square, the rows of b against A, the batch shapes, then the
    dtype's kernel."""
    for name, t in (("b", b), ("A", A)):
        if t.ndim < 2:
            raise RuntimeError(f"torch.triangular_solve: Expected {name} to have at least 2 "
                               f"dimensions, but it has {t.ndim} dimensions instead")
    _check_system(b, A, "triangular_solve", A.shape[-2])
    _check_batches(b, A)
    if A._array.dtype.kind not in "fc" or dtypes.reduced_float(A._array.dtype):
        raise not_implemented_for("triangular_solve_cpu", A._array.dtype)


def _check_batches(b, A):
    """The batch shapes of b and A must broadcast: else PyTorch's RuntimeError, in its words
    (``a`` is b's batch, ``b`` A's; the first clash from the right, its dim counted from the
    left of the longer)."""
    x, y = tuple(b.shape[:-2]), tuple(A.shape[:-2])
    n = max(len(x), len(y))
    x, y = (1,) * (n - len(x)) + x, (1,) * (n - len(y)) + y
    for dim in range(n - 1, -1, -1):
        if x[dim] != y[dim] and x[dim] != 1 and y[dim] != 1:
            raise RuntimeError(f"The size of tensor a ({x[dim]}) must match the size of tensor "
                               f"b ({y[dim]}) at non-singleton dimension {dim}")


@in_float32
def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):
    """``torch.triangular_solve`` (deprecated there): (solution, cloned_coefficient) with
    solution X of A X = b (A^T X = b when ``transpose``); A read as a triangle; b and A of
    one dtype (linalg.solve_triangular would cast b)."""
    if isinstance(b, Tensor) and isinstance(A, Tensor):
        warn_deprecated_linalg("triangular_solve", "solve_triangular")
    if isinstance(b, Tensor) and isinstance(A, Tensor):
        for arg, flag in (("upper", upper), ("transpose", transpose),
                          ("unitriangular", unitriangular)):
            bool_arg("triangular_solve", arg, flag)
        _check_triangular_solve(b, A)
    coeff = mT(A) if transpose else A
    x = solve_triangular(coeff, b, upper=upper != transpose, unitriangular=unitriangular)
    # the cloned coefficient is A broadcast to the solution's batch shape; both results are
    # one PyTorch node's
    # (laid out column-major, as the solution)
    cloned = column_major_tensor(clone(A.expand(*x.shape[:-2], *A.shape[-2:])))
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
        out = column_major(_substitute(second, _substitute(first, b, upper=False), upper=True))
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


def _check_system(b, A, op, rows_said):
    """The checks PyTorch's linear solves share, in its order and words: b and A of one
    dtype, A square, b's rows A's size (``rows_said``: the rows its message gives A, which
    for ``cholesky_solve`` is A's column count)."""
    if b._array.dtype != A._array.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type "
                           f"{scalar_type_name(b._array.dtype)} and A of type "
                           f"{scalar_type_name(A._array.dtype)} instead.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    if b.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"Incompatible matrix sizes for {op}: each A matrix is "
                           f"{rows_said} by {A.shape[-1]} but each b matrix is "
                           f"{b.shape[-2]} by {b.shape[-1]}")


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
    _check_system(B, L, "cholesky_solve", L.shape[-1])
    if L._array.dtype.kind not in "fcV" or dtypes.reduced_float(L._array.dtype):
        raise not_implemented_for("cholesky_solve_cpu", L._array.dtype)
    l, b = _broadcast_batches(L, B)
    return CholeskySolve.apply(b, l, upper=upper)
