"""Registry entries of issue #15's breadth, continued from ``registry_extra.py``: shape
builders and helpers (``tril``, ``atleast_1d``, ``broadcast_tensors``...), a few more
pointwise ops, the bit operators (forward only: integer and bool operands) and
``linalg.vector_norm``.

Checked like every entry (forward, gradients and second derivatives against torch and finite
differences); the sample helpers are ``registry_extra.py``'s.
"""
from __future__ import annotations

import numpy as np

from .registry_extra import S, _T, _extra, _trig

# ----------------------------------------------------------------------------------------------
# Shape builders (minigrad/ops/shaping.py)
# ----------------------------------------------------------------------------------------------
def _triangle(g):
    yield S(g.randn(4, 4))
    yield S(g.randn(3, 5), kwargs={"diagonal": 1})
    yield S(g.randn(2, 3, 3), kwargs={"diagonal": -1}, desc="batched")


_extra("tril", lambda lib, x, **kw: lib.tril(x, **kw), _triangle)
_extra("triu", lambda lib, x, **kw: lib.triu(x, **kw), _triangle)


def _diag(g):
    yield S(g.randn(4))
    yield S(g.randn(3), kwargs={"diagonal": 2})
    yield S(g.randn(3, 4), desc="2-d: the diagonal")
    yield S(g.randn(3, 4), kwargs={"diagonal": -1})


_extra("diag", lambda lib, x, **kw: lib.diag(x, **kw), _diag)
_extra("outer", _T("outer"), lambda g: iter([S(g.randn(3), g.randn(4)),
                                             S(g.randn(0), g.randn(2), desc="empty")]))


def _repeat_interleave(g):
    yield S(g.randn(3, 2), kwargs={"repeats": 2})
    yield S(g.randn(3, 2), kwargs={"repeats": 3, "dim": 1})
    yield S(g.randn(3, 2), np.array([1, 0, 2]), kwargs={"dim": 0}, desc="per-row counts")


_extra("repeat_interleave", lambda lib, x, *r, **kw: lib.repeat_interleave(
    x, *(r or (kw.pop("repeats"),)), **kw), _repeat_interleave)


def _tensor_unfold(g):
    yield S(g.randn(7), kwargs={"dimension": 0, "size": 3, "step": 2})
    yield S(g.randn(2, 6, 3), kwargs={"dimension": 1, "size": 2, "step": 1})
    yield S(g.randn(2, 5), kwargs={"dimension": -1, "size": 5, "step": 3})


_extra("tensor_unfold", lambda lib, x, **kw: x.unfold(**kw), _tensor_unfold)
_extra("roll", lambda lib, x, **kw: lib.roll(x, **kw),
       lambda g: iter([S(g.randn(3, 4), kwargs={"shifts": (1, -2), "dims": (0, 1)}),
                       S(g.randn(3, 4), kwargs={"shifts": 5})]))
_extra("movedim", lambda lib, x, **kw: lib.movedim(x, **kw),
       lambda g: iter([S(g.randn(2, 3, 4), kwargs={"source": 0, "destination": -1}),
                       S(g.randn(2, 3, 4), kwargs={"source": (0, 1), "destination": (2, 0)})]))

# ----------------------------------------------------------------------------------------------
# More pointwise, scans, selections, attention (minigrad/ops/math_extra.py)
# ----------------------------------------------------------------------------------------------
for _name in ("log2", "log10"):
    _extra(_name, _T(_name), _trig(lambda g, *s: g.pos(*s)))
_extra("exp2", _T("exp2"), _trig(lambda g, *s: g.randn(*s)))
_extra("frac", _T("frac"), _trig(lambda g, *s: np.asarray(3 * g.away(*s))))


def _lerp(g):
    yield S(g.randn(3, 4), g.randn(3, 4), kwargs={"weight": 0.3})
    yield S(g.randn(3, 1), g.randn(4), g.uniform(3, 4), desc="tensor weight, broadcast")


_extra("lerp", lambda lib, a, b, *w, **kw: lib.lerp(a, b, *(w or (kw["weight"],))), _lerp)


def _logcumsumexp(g):
    yield S(g.randn(3, 4), kwargs={"dim": 1})
    yield S(10 * g.randn(2, 5), kwargs={"dim": 0}, desc="wide range")
    yield S(g.randn(), kwargs={"dim": 0}, desc="0-d")


_extra("logcumsumexp", lambda lib, x, **kw: lib.logcumsumexp(x, **kw), _logcumsumexp)
_extra("cummax", lambda lib, x, **kw: lib.cummax(x, **kw)[0],
       lambda g: iter([S(g.distinct(3, 5), kwargs={"dim": 1}),
                       S(g.distinct(4, 2), kwargs={"dim": 0})]))
_extra("cummin", lambda lib, x, **kw: lib.cummin(x, **kw)[0],
       lambda g: iter([S(g.distinct(3, 5), kwargs={"dim": -1})]))


def _diagonal(g):
    yield S(g.randn(4, 4))
    yield S(g.randn(3, 5), kwargs={"offset": 2})
    yield S(g.randn(2, 3, 4), kwargs={"offset": -1, "dim1": 0, "dim2": 2}, desc="3-d")


_extra("diagonal", lambda lib, x, **kw: lib.diagonal(x, **kw), _diagonal)
_extra("masked_select", lambda lib, x, m: lib.masked_select(x, m),
       lambda g: iter([S(g.randn(3, 4), g.mask(3, 4)),
                       S(g.randn(3, 4), g.mask(4), desc="broadcast mask")]))


_extra("logcumsumexp_wide", lambda lib, x, **kw: lib.logcumsumexp(x, **kw),
       lambda g: iter([S(np.array([[0.0, 100.0, 3.0], [-700.0, 1.0, 2.0]]), kwargs={"dim": 1},
                         desc="a range too wide for one shift")]))


# ----------------------------------------------------------------------------------------------
# tile, nan_to_num, trunc (shaping.py, math_extra.py)
# ----------------------------------------------------------------------------------------------
def _tile(g):
    yield S(g.randn(2, 3), kwargs={"dims": (2,)}, desc="fewer dims than input")
    yield S(g.randn(2, 3), kwargs={"dims": (2, 1, 3)}, desc="more dims than input")
    yield S(g.randn(), kwargs={"dims": (3,)}, desc="0-d")
    yield S(g.randn(0, 2), kwargs={"dims": (2, 2)}, desc="empty")


_extra("tile", lambda lib, x, **kw: lib.tile(x, **kw), _tile)
_extra("tensor_tile", lambda lib, x, *dims: x.tile(*dims),
       lambda g: iter([S(g.randn(2, 3), 2, 2), S(g.randn(3), (1, 2))]))


def _nan_to_num(g):
    yield S(g.randn(3, 4))
    x = g.randn(2, 4)
    x[0, 1], x[1, 2], x[1, 3] = np.nan, np.inf, -np.inf
    # the default replacements (float64's max) overflow the finite differences' sums
    yield S(x, desc="nan and infinities", fd=False)
    yield S(x, kwargs={"nan": 1.5, "posinf": 2.0, "neginf": -3.0}, desc="replacements")
    yield S(np.array([3, -1, 0]), desc="integer: a copy")


_extra("nan_to_num", lambda lib, x, **kw: lib.nan_to_num(x, **kw), _nan_to_num)
_extra("trunc", _T("trunc"), _trig(lambda g, *s: np.asarray(3 * g.away(*s))))
# floor, ceil and round are flat between their steps: gradient zero, away from the steps
for _name in ("floor", "ceil", "round"):
    _extra(_name, _T(_name), _trig(lambda g, *s: np.asarray(3 * g.away(*s))))
_extra("round_decimals", lambda lib, x, **kw: lib.round(x, **kw),
       lambda g: iter([S(np.asarray(3 * g.away(3, 4)), kwargs={"decimals": 2}),
                       S(np.asarray(300 * g.away(4)), kwargs={"decimals": -1})]))


def _rounded_div(g):
    # quotients half-way between integers, so that a finite difference never crosses a step
    b = g.away(3, 4)
    q = g.rng.integers(-5, 5, (3, 4)) + 0.5 + 0.3 * g.rng.uniform(-1, 1, (3, 4))
    for mode in ("floor", "trunc"):
        yield S(q * b, b, kwargs={"rounding_mode": mode}, desc=mode)
        yield S(q[:, :1] * 2.5, np.full(4, 2.5), kwargs={"rounding_mode": mode},
                desc=f"{mode}, broadcast")
        yield S(q * 1.5, 1.5, kwargs={"rounding_mode": mode}, desc=f"{mode}, by a number")


# div with a rounding mode is flat between its steps in both operands: both gradients zero
_extra("div_rounded", lambda lib, a, b, **kw: lib.div(a, b, **kw), _rounded_div)


# ----------------------------------------------------------------------------------------------
# Bit operators (minigrad/ops/bitwise.py): integer and bool operands only, no gradients (the
# samples have no floating input), so only the forward is compared with torch.
# ----------------------------------------------------------------------------------------------
def _bit_logic(g):
    ints = lambda *s: np.asarray(g.rng.integers(-100, 100, s), dtype=np.int64)  # noqa: E731
    yield S(ints(3, 4), ints(3, 4))
    yield S(ints(3, 1), ints(4), desc="broadcast")
    yield S(g.mask(3, 4), g.mask(3, 4), desc="bool")
    yield S(ints(3).astype(np.uint8), ints(3).astype(np.int16), desc="uint8 with int16")
    yield S(ints(2, 3), 5, desc="number")
    yield S(ints(0, 3), ints(3), desc="empty")


def _bit_shift(g):
    ints = lambda *s: np.asarray(g.rng.integers(-100, 100, s), dtype=np.int64)  # noqa: E731
    yield S(ints(3, 4), np.asarray(g.rng.integers(0, 8, (3, 4)), dtype=np.int64))
    yield S(ints(3).astype(np.int32), 2, desc="number")
    yield S(ints(3).astype(np.uint8), np.array([0, 3, 7], dtype=np.uint8), desc="uint8")


for _name in ("bitwise_and", "bitwise_or", "bitwise_xor"):
    _extra(_name, _T(_name), _bit_logic, fd=False)
for _name in ("bitwise_left_shift", "bitwise_right_shift"):
    _extra(_name, _T(_name), _bit_shift, fd=False)
_extra("bitwise_not", _T("bitwise_not"),
       lambda g: iter([S(np.asarray(g.rng.integers(-100, 100, (3, 4)), dtype=np.int64)),
                       S(g.mask(2, 3), desc="bool"),
                       S(np.array([0, 1, 255], dtype=np.uint8), desc="uint8")]), fd=False)


# ----------------------------------------------------------------------------------------------
# Shape helpers, sign and linalg.vector_norm (found without an entry by a sweep of the public
# functions whose results require grad)
# ----------------------------------------------------------------------------------------------
_extra("sign", _T("sign"), _trig(lambda g, *s: np.asarray(g.away(*s))))
_extra("msort", _T("msort"),
       lambda g: iter([S(g.distinct(4, 3)), S(g.distinct(5), desc="1-d")]))
for _name in ("atleast_1d", "atleast_2d", "atleast_3d"):
    _extra(_name, _T(_name),
           lambda g: iter([S(g.randn(), desc="0-d"), S(g.randn(3), desc="1-d"),
                           S(g.randn(2, 3), desc="2-d"), S(g.randn(2, 1, 3), desc="3-d")]))
_extra("t", _T("t"), lambda g: iter([S(g.randn(2, 3)), S(g.randn(3), desc="1-d"),
                                     S(g.randn(), desc="0-d")]))
_extra("broadcast_tensors", lambda lib, *xs: tuple(lib.broadcast_tensors(*xs)),
       lambda g: iter([S(g.randn(3, 1), g.randn(4)),
                       S(g.randn(2, 1, 3), g.randn(), g.randn(4, 1), desc="three, one 0-d"),
                       S(g.randn(0, 1), g.randn(3), desc="empty")]))


def _vector_norm(g):
    yield S(g.away(3, 4))
    yield S(g.away(3, 4), kwargs={"ord": 1, "dim": 1})
    yield S(g.distinct(3, 4), kwargs={"ord": float("inf"), "dim": (0, 1), "keepdim": True})
    yield S(g.distinct(3, 4), kwargs={"ord": -float("inf"), "dim": 0})
    yield S(g.away(2, 3, 2), kwargs={"ord": 3, "dim": (0, 2)})
    yield S(g.away(2, 5), kwargs={"ord": 0.5, "dim": -1}, desc="ord 0.5")
    yield S(g.away(4), kwargs={"ord": -2}, desc="negative ord")
    yield S(g.away(), desc="0-d")
    yield S(g.randn(0, 3), kwargs={"dim": 0}, desc="empty")


_extra("linalg.vector_norm", lambda lib, x, **kw: lib.linalg.vector_norm(x, **kw), _vector_norm)
_extra("inner", _T("inner"),
       lambda g: iter([S(g.randn(3), g.randn(3), desc="vectors"),
                       S(g.randn(2, 3), g.randn(4, 3), desc="matrices"),
                       S(g.randn(2, 1, 3), g.randn(3), desc="batch with a vector"),
                       S(g.randn(), g.randn(2, 3), desc="0-d scales")]))
_extra("mm", _T("mm"), lambda g: iter([S(g.randn(2, 3), g.randn(3, 4)),
                                       S(g.randn(0, 3), g.randn(3, 2), desc="empty")]))
_extra("tensordot", lambda lib, a, b, **kw: lib.tensordot(a, b, **kw),
       lambda g: iter([S(g.randn(2, 3, 4), g.randn(3, 4, 5), kwargs={"dims": 2}),
                       S(g.randn(2, 3), g.randn(3, 2), kwargs={"dims": ([1, 0], [0, 1])}),
                       S(g.randn(2), g.randn(3), kwargs={"dims": 0}, desc="outer")]))
_extra("linalg.vecdot", lambda lib, a, b, **kw: lib.linalg.vecdot(a, b, **kw),
       lambda g: iter([S(g.randn(3, 4), g.randn(3, 4)),
                       S(g.randn(2, 1, 3), g.randn(4, 3), kwargs={"dim": -1}, desc="broadcast"),
                       S(g.randn(3, 2), g.randn(3, 2), kwargs={"dim": 0})]))


def _take_along_dim(g):
    yield S(g.randn(3, 4), np.asarray(g.rng.integers(0, 4, (3, 2))), kwargs={"dim": 1})
    yield S(g.randn(3, 4), np.asarray(g.rng.integers(0, 3, (1, 4))), kwargs={"dim": 0},
            desc="broadcast index, repeats")
    yield S(g.randn(3, 4), np.asarray(g.rng.integers(0, 12, (5,))), desc="flattened")


_extra("take_along_dim", lambda lib, x, i, **kw: lib.take_along_dim(x, i, **kw), _take_along_dim)
