"""Registry entries for the LU family and the rest of torch.linalg added in round 7
(ops/lu.py, ops/householder_qr.py, ops/condition_number.py, ops/tensor_solve.py).  Checked
like every entry: forward, gradients and second derivatives against torch and finite
differences.

LU's gauge is its pivot order: random matrices have well-separated candidates in every
column, so a finite-difference step never changes the pivots and L and U themselves are
compared (P is a constant).  Inputs of lu_solve / lu_unpack are packed factors with fixed,
valid pivots, so their gradients in LU and B are checked directly.  geqrf and the LDL
functions have no derivative in PyTorch and are tested in tests/test_linalg_round7.py.
"""
from __future__ import annotations

import numpy as np

from .opinfo import Sample, register

S = Sample


def _square(g, *shape, shift=3.0):
    """Random square matrices (..., n, n) plus shift * I (well-conditioned)."""
    return g.randn(*shape) + shift * np.eye(shape[-1])


def _lu_samples(g):
    yield S(g.randn(3, 3), desc="square")
    yield S(g.randn(2, 4, 4), desc="batched")
    yield S(g.randn(5, 3), desc="tall")
    yield S(g.randn(3, 5), desc="wide")
    yield S(g.randn(2, 1, 3, 2), desc="two batch dims, tall")
    yield S(g.randn(0, 3, 3), desc="empty batch")


register("linalg_lu_factor", lambda lib, a: lib.linalg.lu_factor(a).LU, _lu_samples)
register("linalg_lu_factor_ex", lambda lib, a: lib.linalg.lu_factor_ex(a).LU,
         lambda g: iter([S(g.randn(2, 3, 3)), S(g.randn(4, 2), desc="tall")]))
register("linalg_lu", lambda lib, a: tuple(lib.linalg.lu(a))[1:], _lu_samples)
register("lu", lambda lib, a: lib.lu(a)[0], lambda g: iter(
    [S(g.randn(3, 3)), S(g.randn(2, 3, 4), desc="batched wide")]))
register("lu_method", lambda lib, a: a.lu()[0], lambda g: iter([S(g.randn(3, 3))]))


def _lu_unpack(lib, lu_data, pivots, **kw):
    p, L, U = lib.lu_unpack(lu_data, pivots, **kw)
    return L, U


register("lu_unpack", _lu_unpack, lambda g: iter(
    [S(g.randn(3, 3), np.array([2, 3, 3], np.int32)),
     S(g.randn(4, 2), np.array([4, 2], np.int32), desc="tall"),
     S(g.randn(2, 3, 4), np.array([[1, 3, 3], [3, 2, 3]], np.int32), desc="batched wide")]))
register("lu_unpack_composed", lambda lib, a: tuple(lib.lu_unpack(*lib.linalg.lu_factor(a)))[1:],
         lambda g: iter([S(g.randn(2, 3, 3))]))


def _packed(g, *shape):
    """A packed LU factor: multipliers below the diagonal, U well away from singular."""
    return _square(g, *shape)


def _lu_solve_samples(g):
    piv = np.array([3, 2, 3], np.int32)
    yield S(_packed(g, 3, 3), piv, g.randn(3, 2))
    for left in (True, False):
        for adjoint in (True, False):
            b = g.randn(3, 4) if left else g.randn(4, 3)
            yield S(_packed(g, 3, 3), piv, b, kwargs={"left": left, "adjoint": adjoint},
                    desc=f"left={left}, adjoint={adjoint}")
    yield S(_packed(g, 2, 3, 3), np.array([[1, 3, 3], [2, 2, 3]], np.int32), g.randn(3, 1),
            desc="batched LU, B broadcast")
    yield S(_packed(g, 3, 3), piv, g.randn(2, 3, 2), desc="B batched, LU broadcast")


register("linalg_lu_solve", lambda lib, LU, piv, B, **kw: lib.linalg.lu_solve(LU, piv, B, **kw),
         _lu_solve_samples)
register("lu_solve", lambda lib, b, LU, piv: lib.lu_solve(b, LU, piv), lambda g: iter(
    [S(g.randn(2, 3, 2), _packed(g, 2, 3, 3), np.array([[3, 3, 3], [1, 2, 3]], np.int32))]))
register("lu_solve_method", lambda lib, b, LU, piv: b.lu_solve(LU, piv), lambda g: iter(
    [S(g.randn(3, 2), _packed(g, 3, 3), np.array([2, 2, 3], np.int32))]))
register("linalg_lu_solve_through_factor",
         lambda lib, a, b: lib.linalg.lu_solve(*lib.linalg.lu_factor(a), b),
         lambda g: iter([S(_square(g, 2, 3, 3), g.randn(2, 3, 2))]))


def _solve_ex_samples(g):
    yield S(_square(g, 3, 3), g.randn(3, 2))
    yield S(_square(g, 3, 3), g.randn(3), desc="vector B")
    yield S(_square(g, 2, 3, 3), g.randn(3, 4), desc="B broadcast over the batch")
    yield S(_square(g, 3, 3), g.randn(2, 3), kwargs={"left": False}, desc="left=False")


register("linalg_solve_ex", lambda lib, a, b, **kw: lib.linalg.solve_ex(a, b, **kw).result,
         _solve_ex_samples)


def _cond_samples(g):
    for p in (None, 2, -2, "nuc"):
        yield S(_square(g, 3, 3, shift=1.5), kwargs={"p": p}, desc=f"p={p}")
    yield S(g.randn(2, 3, 3), kwargs={"p": "nuc"}, desc="batched, nuc")
    yield S(g.randn(4, 3), desc="tall, p=None")
    yield S(g.randn(2, 3, 5), kwargs={"p": -2}, desc="wide, p=-2")


register("linalg_cond", lambda lib, a, **kw: lib.linalg.cond(a, **kw), _cond_samples)


def _cond_by_inverse(torch, a, p):
    """||A||_p ||A^-1||_p: what torch's linalg.cond computes for these p; its own backward
    fails there (an in-place write into inv_ex's saved output, torch 2.13), so minigrad's
    gradient is checked against this composition (and finite differences)."""
    return torch.linalg.matrix_norm(a, p) * torch.linalg.matrix_norm(torch.linalg.inv(a), p)


register("linalg_cond_inverse_norms", lambda lib, a, p: lib.linalg.cond(a, p),
         lambda g: iter([S(_square(g, 3, 3, shift=1.5), p, desc=f"p={p}")
                         for p in ("fro", float("inf"), -float("inf"), 1, -1)]
                        + [S(g.randn(2, 3, 3), "fro", desc="batched, fro")]),
         torch_f=_cond_by_inverse)


def _tensorinv_samples(g):
    yield S(_square(g, 6, 6).reshape(2, 3, 6), desc="ind=2")
    yield S(_square(g, 6, 6).reshape(6, 2, 3), kwargs={"ind": 1}, desc="ind=1")
    yield S(_square(g, 4, 4).reshape(2, 2, 2, 2), desc="4-d")


register("linalg_tensorinv", lambda lib, a, **kw: lib.linalg.tensorinv(a, **kw),
         _tensorinv_samples)


def _tensorsolve_samples(g):
    yield S(_square(g, 6, 6).reshape(2, 3, 6), g.randn(2, 3))
    yield S(_square(g, 6, 6).reshape(2, 3, 6).transpose(2, 0, 1).copy(), g.randn(2, 3),
            kwargs={"dims": (0,)}, desc="dims=(0,)")
    yield S(_square(g, 4, 4).reshape(4, 2, 2), g.randn(4), desc="2-d solution")


register("linalg_tensorsolve", lambda lib, a, b, **kw: lib.linalg.tensorsolve(a, b, **kw),
         _tensorsolve_samples)


def _ormqr_samples(g):
    for left in (True, False):
        for transpose in (False, True):
            other = g.randn(4, 2) if left else g.randn(2, 4)
            yield S(g.randn(4, 3), g.randn(3), other,
                    kwargs={"left": left, "transpose": transpose},
                    desc=f"left={left}, transpose={transpose}")
    yield S(g.randn(2, 3, 3), g.randn(2, 3), g.randn(2, 3, 2), desc="batched")
    yield S(g.randn(3, 4), g.randn(3), g.randn(3, 2), desc="wide input")


register("ormqr", lambda lib, a, tau, c, **kw: lib.ormqr(a, tau, c, **kw), _ormqr_samples)
register("ormqr_method", lambda lib, a, tau, c: a.ormqr(tau, c), lambda g: iter(
    [S(g.randn(3, 2), g.randn(2), g.randn(3, 3))]))


def _torch_qr(lib, a, some=True):
    """torch.qr's Q and R with the sign of each R_ii divided out (the factorisation's
    gauge), over the first k = min(m, n) columns / rows."""
    q, r = lib.qr(a, some)
    k = min(a.shape[-2], a.shape[-1])
    sign = lib.sign(lib.diagonal(r[..., :k, :], 0, -2, -1))
    return q[..., :k] * sign.unsqueeze(-2), r[..., :k, :] * sign.unsqueeze(-1)


register("qr", _torch_qr, lambda g: iter(
    [S(g.randn(4, 3), desc="tall"), S(g.randn(2, 3, 3), desc="batched"),
     S(g.randn(3, 3), kwargs={"some": False}, desc="some=False, square")]))


def _qr_method(lib, a):
    q, r = a.qr()
    sign = lib.sign(lib.diagonal(r, 0, -2, -1))
    return q * sign.unsqueeze(-2), r * sign.unsqueeze(-1)


register("qr_method", _qr_method, lambda g: iter([S(g.randn(4, 3))]))
