"""Registry entries added in round 5 of the third-party-code probes (see the entries below).
Checked like every entry: forward, gradients and second derivatives against torch and finite
differences."""
from __future__ import annotations

import numpy as np

from .opinfo import Sample, register  # noqa: F401

S = Sample


# ----------------------------------------------------------------------------------------------
# Exponent arithmetic (ops/integer_math.py): ldexp in both operands, frexp's mantissa
# ----------------------------------------------------------------------------------------------
register("ldexp", lambda lib, x, e: lib.ldexp(x, e),
         lambda g: [S(g.randn(3, 4), g.uniform(3, 4, low=-2.0, high=2.0)),
                    S(g.randn(3, 1), g.uniform(4, low=-1.0, high=1.0), desc="broadcast"),
                    S(g.randn(2, 3), g.index(4, 2, 3), desc="non-negative integer exponents")])
register("frexp", lambda lib, x: lib.frexp(x).mantissa,
         lambda g: [S(g.away(3, 4, low=0.3, high=9.0), desc="mantissa"),
                    S(g.away(5), kwargs={}, desc="1-d")])


# ----------------------------------------------------------------------------------------------
# Views and splits (ops/strided.py, ops/axis_splits.py, ops/conjugation.py)
# ----------------------------------------------------------------------------------------------
def _as_strided_samples(g):
    yield S(g.randn(3, 4), kwargs={"size": (2, 2), "stride": (4, 1)}, desc="a block")
    yield S(g.randn(12), kwargs={"size": (3, 3), "stride": (1, 2), "offset": 1},
            desc="overlapping windows (elements read twice)")
    yield S(g.randn(4, 3), kwargs={"size": (3,), "stride": (4,)}, desc="the diagonal")
    yield S(g.randn(2, 3), kwargs={"size": (2, 0), "stride": (1, 1)}, desc="empty")


def _as_strided(lib, x, size, stride, offset=None):
    return lib.as_strided(x, size, stride, offset) if offset is not None else \
        x.as_strided(size, stride)


register("as_strided", _as_strided, _as_strided_samples)
register("narrow_copy", lambda lib, x, d, s, n: lib.narrow_copy(x, d, s, n),
         lambda g: [S(g.randn(4, 5), 1, 1, 3), S(g.randn(4, 5), 0, -3, 2, desc="negative start")])
register("hsplit", lambda lib, x, how: tuple(lib.hsplit(x, how)),
         lambda g: [S(g.randn(3, 4), 2), S(g.randn(6), [1, 4], desc="1-d, indices")])
register("vsplit", lambda lib, x, how: tuple(x.vsplit(how)),
         lambda g: [S(g.randn(4, 3), 2), S(g.randn(5, 2, 2), [2], desc="3-d, indices")])
register("dsplit", lambda lib, x, how: tuple(lib.dsplit(x, how)),
         lambda g: [S(g.randn(2, 3, 4), 2), S(g.randn(2, 1, 5), [1, 3], desc="indices")])
register("adjoint", lambda lib, x: x.adjoint() * 1.0,
         lambda g: [S(g.randn(3, 4)), S(g.randn(2, 3, 4), desc="batched")])
register("conj", lambda lib, x: lib.conj(x).resolve_conj().resolve_neg() * 2.0,
         lambda g: [S(g.randn(3, 4))])


# ----------------------------------------------------------------------------------------------
# index_reduce and fill_diagonal_ (ops/index_reduce.py)
# ----------------------------------------------------------------------------------------------
def _index_reduce_samples(g):
    for reduce in ("prod", "mean"):
        yield S(g.away(4, 3), 0, np.array([3, 0, 3, 1]), g.away(4, 3),
                kwargs={"reduce": reduce}, desc=f"{reduce}, repeated index")
        yield S(g.away(2, 5), 1, np.array([4, 4]), g.away(2, 2),
                kwargs={"reduce": reduce, "include_self": False}, desc=f"{reduce}, no self")
    for reduce in ("amax", "amin"):
        yield S(g.distinct(4, 3), 0, np.array([2, 0, 2]), g.distinct(3, 3),
                kwargs={"reduce": reduce}, desc=f"{reduce}, distinct values")
        yield S(g.distinct(3, 4), -1, np.array([1, 1]), g.distinct(3, 2),
                kwargs={"reduce": reduce, "include_self": False}, desc=f"{reduce}, no self")


register("index_reduce",
         lambda lib, x, d, i, s, reduce, include_self=True:
         x.index_reduce(d, i, s, reduce, include_self=include_self),
         _index_reduce_samples)


def _index_reduce_inplace(lib, x, d, i, s, reduce):
    y = x * 1.0
    y.index_reduce_(d, i, s, reduce)
    return y


register("index_reduce_", _index_reduce_inplace,
         lambda g: [S(g.away(4, 3), 0, np.array([3, 0, 3]), g.away(3, 3),
                      kwargs={"reduce": "prod"}, desc="in place on a non-leaf")])


def _fill_diagonal(lib, x, wrap=False):
    y = x * 1.0
    y.fill_diagonal_(2.5, wrap=wrap)
    return y


register("fill_diagonal_", _fill_diagonal,
         lambda g: [S(g.randn(3, 4)), S(g.randn(7, 3), kwargs={"wrap": True}, desc="tall, wrap"),
                    S(g.randn(3, 3, 3), desc="3-d cube")])


# ----------------------------------------------------------------------------------------------
# Small differentiable ops of the earlier rounds that only had method or behaviour tests
# ----------------------------------------------------------------------------------------------
register("vdot", lambda lib, a, b: lib.vdot(a, b),
         lambda g: [S(g.randn(5), g.randn(5)), S(g.randn(0), g.randn(0), desc="empty")])
register("fliplr", lambda lib, x: lib.fliplr(x),
         lambda g: [S(g.randn(3, 4)), S(g.randn(2, 3, 2), desc="3-d")])
register("flipud", lambda lib, x: lib.flipud(x),
         lambda g: [S(g.randn(3, 4)), S(g.randn(4), desc="1-d")])
register("ravel", lambda lib, x: lib.ravel(x),
         lambda g: [S(g.randn(3, 4)), S(g.randn(3, 4).T, desc="non-contiguous"),
                    S(g.randn(), desc="0-d")])
register("positive", lambda lib, x: lib.positive(x), lambda g: [S(g.randn(3, 2))])
# sgn of real numbers: a zero derivative away from 0 (and no finite difference across it)
register("sgn", lambda lib, x: lib.sgn(x) * x,
         lambda g: [S(g.away(3, 4)), S(g.ties(5), fd=False, desc="zeros")])
# nextafter moves x by one ulp towards y: the derivative in x is 1 where x != y, 0 in y
register("nextafter", lambda lib, x, y: lib.nextafter(x, y) * x,
         lambda g: [S(g.randn(3, 4), g.randn(3, 4)), S(g.randn(3, 1), g.randn(4), desc="broadcast")])
register("pinverse", lambda lib, x: lib.pinverse(x),
         lambda g: [S(g.randn(3, 4)), S(g.randn(2, 4, 3), desc="batched, tall")])
