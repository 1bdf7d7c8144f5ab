"""Inverses and linear solves: ``linalg.inv`` / ``inv_ex``, ``linalg.solve``, and the checks
every linalg function makes of its input (``check_matrices``).  Every one works on batches of
matrices (..., n, n).  Triangular and Cholesky solves are in ``triangular_solve.py``,
determinants in ``determinant.py``.

Forward: numpy's batched LAPACK routines.  Backward: minigrad ops, so that gradients of any
order follow.

* inverse X = A^-1:            dA = -X^T g X^T
* solve X = A^-1 B:           dB = A^-T g (a solve again), dA = -dB X^T

A singular matrix is PyTorch's LinAlgError naming the first zero pivot of its LU
factorisation (found by ``_first_zero_pivot``) and, in a batch, the batch element.
"""
from __future__ import annotations

import numpy as np

from .. import backend, dtypes, return_types
from ..autograd import Function
from ..autograd._input_checks import complex_refusal
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._autocast_cast import in_float32
from ._lapack_layout import column_major
from ._util import broadcast_shape, not_implemented_for, scalar_type_name
from .elementwise import neg
from .linalg import LinAlgError
from .matmul import matmul
from .movement import mT, squeeze, unsqueeze
from .plumbing import conj_of, expand_to

__all__ = ["inv", "inv_ex", "solve", "result_type", "check_matrices"]


def result_type(name, fields):
    """The constructor, from the values of ``fields`` in order, of ``return_types.<name>``
    (PyTorch's ``torch.return_types.<name>``)."""
    return return_types.make(name, fields)


InvExResult = result_type("linalg_inv_ex", ["inverse", "info"])


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


def check_matrices(A, name, *, square=True, arg="A", position=1, kernel=True, dtype_first=None,
                   square_arg=None):
    """PyTorch's checks of a linalg input: a Tensor, at least 2-d, square, floating (float16
    aside); each refusal in the words PyTorch's function ``name`` uses.  ``kernel`` False
    leaves float16/bfloat16 to the caller (PyTorch's kernel refuses them after the checks).
    ``dtype_first``: 'ints' or 'all' where PyTorch refuses those dtypes before a non-square
    A (before its rank, too); ``square_arg``: the name the shape refusals give A, where not
    ``arg`` (the argument's name in a type error)."""
    if not isinstance(A, Tensor):
        kind = type(A).__name__
        raise TypeError(f"{name.replace('.', '_')}(): argument '{arg}' (position {position}) "
                        f"must be Tensor, not {kind}")
    says, dtype = _SAYS.get(name, name), A._array.dtype
    if (dtype_first and dtype.kind not in "fcV") or \
            (dtype_first == "all" and dtypes.reduced_float(dtype)):
        _refuse_dtype(name, dtype, A.numel() == 0)
    shown = square_arg or arg
    if A.ndim < 2:
        raise RuntimeError(f"{says}: The input tensor {shown} must have at least 2 dimensions.")
    if dtype.kind == "c" and name in _COMPLEX_REFUSED:
        _refuse_complex(says, dtype)
    if square and A.shape[-1] != A.shape[-2]:          # (PyTorch: before the dtype)
        raise RuntimeError(f"{says}: {shown} must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    if A._array.dtype.kind not in "fcV" or (kernel and dtypes.reduced_float(A._array.dtype)):
        _refuse_dtype(name, A._array.dtype, A.numel() == 0)


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
        out = column_major(_inverse_array(a) if checked else _inverse_unchecked(a))
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
        out = Tensor._wrap(column_major(
            backend.xp_of(safe).where(bad, np.nan, _inverse_array(safe))))
    else:
        out = Inv.apply(A)
    return InvExResult(out, Tensor._wrap(info.astype(np.int32)))


class Solve(Function):
    """X = a^-1 b for a (..., n, n) and b (..., n, k) of the same batch shape; backward
    db = a^-H g (Solve again), da = -db X^H (transposes for real tensors).  X is laid out
    column-major, as PyTorch's; with ``vector`` (b a batch of columns, k = 1) the columns
    X[..., 0] are, taken as a (..., n) matrix (PyTorch lays out its squeezed result so)."""
    _node_name = "LinalgSolveExBackward0"           # PyTorch's node
    complex_ok = True

    def forward(self, a, b, *, vector=False):
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
        out = column_major(out[..., 0])[..., None] if vector else column_major(out)
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
    check_solve_dtypes(A, B, "linalg.solve")
    B, vector = solve_rhs(A, B, left, "linalg_solve")
    a, b = _broadcast_batches(A, B) if left else _broadcast_batches(mT(A), mT(B))
    refuse_half(A, "linalg.solve")
    try:
        out = Solve.apply(a, b, vector=vector) if left else mT(Solve.apply(a, b))
    except LinAlgError:
        # PyTorch factors A before broadcasting it: the failed batch element is A's own
        info = _first_zero_pivot(backend.as_numpy(A._array))
        raise LinAlgError(f"torch.linalg.solve: {_batch_prefix(info)}The solver failed because "
                          f"the input matrix is singular.") from None
    if not (vector or not left):
        return out
    # PyTorch's one node for the solve, whatever view of its result the call returns
    return rename_node(squeeze(out, -1) if vector else out, "LinalgSolveExBackward0")


def check_solve_dtypes(A, B, name):
    """linalg.solve's (and solve_ex's) checks before its shape checks, in PyTorch's order:
    A floating or complex, B of A's dtype, then A a batch of square matrices (half precision
    is refused later, by ``refuse_half``, after the shapes)."""
    if isinstance(A, Tensor):
        if A._array.dtype.kind not in "fcV":
            _refuse_dtype(name, A._array.dtype, A.numel() == 0)
        if isinstance(B, Tensor):
            _same_dtype(A, B)
    check_matrices(A, name, kernel=False)


def refuse_half(A, name):
    """The LU kernel's refusal of float16/bfloat16, once every check has passed."""
    if dtypes.reduced_float(A._array.dtype):
        _refuse_dtype(name, A._array.dtype, A.numel() == 0)


def _same_dtype(A, B):
    """linalg.solve's refusal of A and B of different dtypes."""
    if A._array.dtype != B._array.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A "
                           f"of type {scalar_type_name(A._array.dtype)} and B of type "
                           f"{scalar_type_name(B._array.dtype)} instead")


def solve_rhs(A, B, left, name):
    """linalg.solve's checks of B against A (``name``: the function the messages name):
    (B as a batch of matrices (*, n, k), whether it was given as a batch of vectors)."""
    if not isinstance(B, Tensor):
        raise TypeError(f"{name}(): argument 'B' (position 2) must be Tensor, not "
                        f"{type(B).__name__}")
    _same_dtype(A, B)
    if B.ndim == 0:
        raise RuntimeError("linalg.solve: The input tensor B must have at least 2 dimensions.")
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    b = unsqueeze(B, -1) if vector else B
    n = A.shape[-1]
    if b.ndim < 2 or (b.shape[-2] if left else b.shape[-1]) != n:
        # (PyTorch names B by its last two dims only)
        shape = "x".join(map(str, b.shape[-2:] if b.ndim > 1 else (*b.shape, 1)))
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({n}x{n} and {shape})")
    return b, vector
