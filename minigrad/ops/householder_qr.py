"""QR in Householder form: ``geqrf`` (LAPACK's representation) and ``ormqr`` (multiplying by
the Q it stands for); ``torch.qr`` (the older spelling of ``linalg.qr``).

``geqrf(A)`` for A (*, m, n), k = min(m, n): (a, tau) with R in a's upper triangle and, below
the diagonal of column i, the tail of the reflector v_i (v_i[i] = 1, zeros above), so that
A = Q R with Q = H_1 ... H_k, H_i = I - tau_i v_i v_i^H.  Each reflector maps column i's
part x = (alpha, x2) to (beta, 0), beta real: beta = -sign(Re alpha) ||x||,
tau = (beta - alpha) / beta, v = (1, x2 / (alpha - beta)); a column already zero below the
diagonal (with a real alpha) gets tau = 0 (H = I), as in LAPACK's larfg.  A loop over the
columns, vectorised over the batch.  As in PyTorch, geqrf has no derivative (its results
carry a backward that raises).

``ormqr`` applies the reflectors one at a time (H C = C - tau v (v^H C)), with differentiable
ops, so it is differentiable in all three inputs, to any order; Q^H (``transpose``) uses the
conjugates of the tau_i.
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
from ._util import bool_arg, not_implemented_for, scalar_type_name
from .decompositions import qr as linalg_qr
from .elementwise import add, mul, sub
from .matmul import matmul
from .movement import unsqueeze
from .stacking import narrow
from .plumbing import conj_of
from .shaping import tril
from .solve import _mH, result_type

__all__ = ["geqrf", "ormqr", "torch_qr"]

GeqrfResult = result_type("geqrf", ["a", "tau"])
TorchQrResult = result_type("qr", ["Q", "R"])


class _Geqrf(Function):
    """One result of geqrf (computed beforehand), with no derivative."""
    _node_name = "GeqrfBackward0"                   # PyTorch's node
    complex_ok = True            # values only: its backward refuses every dtype
    def forward(self, a, *, value):
        return value

    def backward(self, g):
        raise NotImplementedError("the derivative for 'geqrf' is not implemented.")


def _geqrf_arrays(a):
    """(a, tau) of geqrf for the matrices a (..., m, n)."""
    xp = backend.xp_of(a)
    *batch, m, n = a.shape
    k = min(m, n)
    r = xp.array(a, copy=True).reshape((math.prod(batch), m, n))
    tau = xp.zeros((r.shape[0], k), a.dtype)
    for j in range(k):
        alpha = r[:, j, j]
        xnorm = xp.sqrt((xp.abs(r[:, j + 1:, j]) ** 2).sum(-1))
        # a complex alpha needs a reflector even with x2 = 0: beta (R's diagonal) is real
        active = (xnorm != 0) | (alpha.imag != 0)
        beta = -xp.copysign(xp.hypot(xp.abs(alpha), xnorm), alpha.real)
        safe_beta = xp.where(active, beta, 1.0)
        tau[:, j] = xp.where(active, (beta - alpha) / safe_beta, 0.0)
        scale = xp.where(active, 1.0 / xp.where(active, alpha - beta, 1.0), 1.0)
        r[:, j + 1:, j] *= scale[:, None].astype(a.dtype)
        r[:, j, j] = xp.where(active, beta, alpha)
        # H_j^H applied to the remaining columns: C - conj(tau) v (v^H C), v = (1, r[j+1:, j])
        v = r[:, j:, j].copy()
        v[:, 0] = 1
        c = r[:, j:, j + 1:]
        w = xp.einsum("bi,bic->bc", v.conj(), c)
        r[:, j:, j + 1:] = c - tau[:, j, None, None].conj() * v[:, :, None] * w[:, None, :]
    return r.reshape(a.shape), tau.reshape(tuple(batch) + (k,))


@in_float32
def geqrf(input):
    """``geqrf``: (a (*, m, n), tau (*, min(m, n))), the Householder QR of input (*, m, n) in
    LAPACK's layout (module docstring).  Not differentiable (as in PyTorch)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"geqrf(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if input.ndim < 2:
        raise RuntimeError("torch.geqrf: input must have at least 2 dimensions.")
    if input._array.dtype.kind not in "fcV" or dtypes.reduced_float(input._array.dtype):
        raise not_implemented_for("geqrf_cpu", input._array.dtype)
    a, tau = _geqrf_arrays(input._array)
    return GeqrfResult(_Geqrf.apply(input, value=column_major(a)),
                       _Geqrf.apply(input, value=tau))


def _check_ormqr(input, tau, other, left):
    for name, t, pos in (("input", input, 1), ("input2", tau, 2), ("input3", other, 3)):
        if not isinstance(t, Tensor):
            raise TypeError(f"ormqr(): argument '{name}' (position {pos}) must be Tensor, not "
                            f"{type(t).__name__}")
    if input.ndim < 2:
        raise RuntimeError("torch.ormqr: input must have at least 2 dimensions.")
    if other.ndim < 2:
        raise RuntimeError("torch.ormqr: other must have at least 2 dimensions.")
    side = -2 if left else -1
    if other.ndim != input.ndim:
        raise RuntimeError(f"torch.ormqr: Expected other to have the same number of dimensions "
                           f"as input, but got other.ndim equal to {other.ndim} and input.ndim "
                           f"is equal to {input.ndim}")
    if tau.ndim != input.ndim - 1 or tau.shape[:-1] != input.shape[:-2]:
        raise RuntimeError(f"torch.ormqr: Expected batch dimensions of tau to be equal to "
                           f"input.shape[:-2], but got [{', '.join(map(str, tau.shape[:-1]))}]")
    if other.shape[:-2] != input.shape[:-2]:
        raise RuntimeError(f"torch.ormqr: Expected batch dimensions of other to be equal to "
                           f"input.shape[:-2], but got "
                           f"[{', '.join(map(str, other.shape[:-2]))}]")
    if other.shape[side] != input.shape[-2]:
        raise RuntimeError(f"torch.ormqr: other.shape[{side}] must be equal to input.shape[-2]")
    if tau.shape[-1] != min(other.shape[side], input.shape[-1]):
        raise RuntimeError(f"torch.ormqr: tau.shape[-1] must be equal to "
                           f"min(other.shape[{side}], input.shape[-1])")
    for name, t in (("tau", tau), ("other", other)):
        if t._array.dtype != input._array.dtype:
            raise RuntimeError(f"torch.ormqr: Expected input and {name} to have the same dtype, "
                               f"but input has dtype{scalar_type_name(input._array.dtype)} and "
                               f"{name} has dtype {scalar_type_name(t._array.dtype)}")
    if input._array.dtype.kind not in "fcV" or dtypes.reduced_float(input._array.dtype):
        raise not_implemented_for("ormqr_cpu", input._array.dtype)


@in_float32
def ormqr(input, input2, input3, left=True, transpose=False):
    """``ormqr``: Q C (C Q when not ``left``; Q^H in place of Q when ``transpose``), C =
    input3 (*, m, p) ((*, p, m) when not left), Q = H_1 ... H_k (m x m) given by geqrf's
    (input (*, m, n), tau = input2 (*, k)).  Differentiable in all three (module
    docstring)."""
    tau, other = input2, input3
    _check_ormqr(input, tau, other, left)
    if tau.numel() == 0:
        # no reflector to apply (k = 0, or an empty batch): Q = I, a fresh copy of other
        return _OrmqrNoReflectors.apply(input, tau, other)
    m, k = input.shape[-2], tau.shape[-1]
    xp = backend.xp_of(input._array)
    eye = Tensor._wrap(xp.eye(m, input.shape[-1], dtype=input._array.dtype))
    v = add(tril(input, -1), eye)                                 # (*, m, n) reflectors
    # Q C = H_1 (... (H_k C)): the last reflector first; Q^T C and C Q the other way round
    order = range(k) if transpose == left else range(k - 1, -1, -1)
    c = other
    for i in order:
        vi = narrow(v, -1, i, 1)                                  # (*, m, 1)
        ti = unsqueeze(narrow(tau, -1, i, 1), -1)                 # (*, 1, 1)
        if transpose:                                             # H_i^H: conj(tau_i)
            ti = conj_of(ti)
        if left:
            c = sub(c, mul(ti, matmul(vi, matmul(_mH(vi), c))))
        else:
            c = sub(c, mul(ti, matmul(matmul(c, vi), _mH(vi))))
    return rename_node(column_major_tensor(c), "OrmqrBackward0")     # PyTorch's node, layout


class _OrmqrNoReflectors(Function):
    """``ormqr`` with an empty ``tau`` (*, 0) or an empty batch: out = other (*, m, p),
    copied column-major as PyTorch's result is.  Backward: the gradient goes to other
    unchanged; input and tau get none (PyTorch leaves theirs undefined then)."""
    complex_ok = True
    _node_name = "OrmqrBackward0"

    def forward(self, input, tau, other):
        if type(other) is not np.ndarray:
            return other.copy()
        out = np.empty(other.shape[:-2] + other.shape[:-3:-1], other.dtype)   # (*, p, m)
        out[...] = other.swapaxes(-1, -2)
        out = out.swapaxes(-1, -2)
        if out.size == 0:
            # (numpy gives an empty array no strides: PyTorch's column-major ones, each size
            # counted as at least 1)
            m, p = (max(n, 1) for n in out.shape[-2:])
            steps = [p * m, 1, m]
            for n in reversed(out.shape[:-2][1:]):
                steps.insert(0, steps[0] * max(n, 1))
            steps = steps[-out.ndim:]
            out = np.lib.stride_tricks.as_strided(
                out, strides=tuple(k * out.itemsize for k in steps), writeable=True)
        return out

    def backward(self, g):
        return None, None, g


@in_float32
def torch_qr(input, some=True):
    """``torch.qr`` / ``Tensor.qr``: (Q, R) of ``linalg.qr`` in 'reduced' mode, 'complete'
    when ``some`` is False."""
    if isinstance(input, Tensor):
        bool_arg("qr", "some", some)
        warn_deprecated_linalg("qr", "qr")
    q, r = linalg_qr(input, mode="reduced" if some else "complete")
    return TorchQrResult(q, r)
