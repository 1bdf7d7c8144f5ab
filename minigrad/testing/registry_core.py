"""Registry entries for the core ops: arithmetic, unary math, activations, clamp and where
(reductions, movement and indexing: ``registry_reduce_move.py``).

Each entry is ``register(name, f, samples)`` with ``f(lib, *inputs, **kwargs)`` written with
PyTorch's API (``lib`` is minigrad or torch) and ``samples(gen)`` yielding ``Sample``s; see
``registry.py``.  Tie semantics follow PyTorch: max()/amax/maximum/clamp-with-tensors split or
route the gradient as torch does, so tie samples are compared with torch but not with finite
differences (``fd=False``: the function has a kink there).
"""
from __future__ import annotations

import numpy as np

from .opinfo import Sample, register

S = Sample


# ----------------------------------------------------------------------------------------------
# Binary arithmetic: shapes covering broadcasting on both sides, 0-d and empty dims
# ----------------------------------------------------------------------------------------------
BINARY_SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 1), (1, 4)),          # both sides broadcast
    ((4,), (2, 3, 4)),         # lhs gains leading dims
    ((2, 3, 4), (3, 1)),       # rhs gains leading dims and expands a 1
    ((), (2, 3)),              # 0-d lhs
    ((2, 3), ()),              # 0-d rhs
    ((), ()),
    ((0, 3), (1, 3)),          # empty dim
]


def _binary_samples(make_a, make_b, scalars=(2.5, -1.5)):
    def samples(g):
        for sa, sb in BINARY_SHAPES:
            yield S(make_a(g, sa), make_b(g, sb))
        for c in scalars:                          # Python-number operands, either side
            yield S(make_a(g, (3, 4)), c)
            yield S(c, make_b(g, (3, 4)))
        yield S(make_a(g, (2, 3)), make_b(g, (2, 3)), requires_grad=[True, False],
                desc="only lhs requires grad")
        yield S(make_a(g, (2, 3)), make_b(g, (2, 1)), requires_grad=[False, True],
                desc="only rhs requires grad")
    return samples


def _randn(g, shape):
    return g.randn(*shape)


def _away(g, shape):
    return g.away(*shape)


def _pos(g, shape):
    return g.pos(*shape)


def _add(lib, a, b, alpha=None):
    return a + b if alpha is None else lib.add(a, b, alpha=alpha)


def _sub(lib, a, b, alpha=None):
    return a - b if alpha is None else lib.sub(a, b, alpha=alpha)


def _with_alpha(base):
    def samples(g):
        yield from base(g)
        yield S(g.randn(3, 4), g.randn(4), kwargs={"alpha": 2.0}, desc="alpha=2")
    return samples


register("add", _add, _with_alpha(_binary_samples(_randn, _randn)))
register("sub", _sub, _with_alpha(_binary_samples(_randn, _randn)))
register("mul", lambda lib, a, b: a * b, _binary_samples(_randn, _randn))
register("div", lambda lib, a, b: a / b, _binary_samples(_randn, _away))


def _remainder_samples(g):
    # torch has no derivative of remainder with respect to its divisor: compare forward only
    # where a Python number is the dividend (the divisor is then the only tensor).
    for s in _binary_samples(_randn, _away)(g):
        if not isinstance(s.inputs[0], np.ndarray):
            s = S(*s.inputs, requires_grad=[False, False], desc=s.desc)
        yield s


register("remainder", lambda lib, a, b: a % b, _remainder_samples)


def _pow_samples(g):
    for sa, sb in BINARY_SHAPES:
        yield S(g.pos(*sa), g.randn(*sb))                    # positive base: both grads defined
    for e in (2, 3, 0.5, -1.0, 0, 1):                        # tensor ** number
        yield S(g.pos(3, 4), e)
    yield S(g.randn(3, 4), 2, desc="negative base ** 2")
    yield S(g.randn(3, 4), 3.0, desc="negative base ** 3.0")
    yield S(np.array([0.0, 1.0, -2.0]), 2.0, desc="zero base ** 2")
    yield S(2.0, g.randn(3, 4), desc="number ** tensor")
    yield S(g.randn(3, 4), g.ties(3, 4, low=0, high=3), requires_grad=[True, False],
            desc="negative base ** integral tensor")


register("pow", lambda lib, a, b: a ** b, _pow_samples)


def _tie_pair(g):
    a, b = g.ties(3, 4), g.ties(3, 4)
    return S(a, b, fd=False, desc="ties")


def _max_min_samples(g):
    for sa, sb in BINARY_SHAPES:
        n = int(np.prod(sa)) + int(np.prod(sb))
        vals = g.distinct(max(n, 1))                         # no ties: FD is meaningful
        yield S(vals[:int(np.prod(sa))].reshape(sa), vals[n - int(np.prod(sb)):].reshape(sb))
    yield _tie_pair(g)                                       # ties split the gradient in half
    yield S(g.ties(3, 4), g.ties(4), fd=False, desc="ties, broadcast")


register("maximum", lambda lib, a, b: lib.maximum(a, b), _max_min_samples)
register("minimum", lambda lib, a, b: lib.minimum(a, b), _max_min_samples)


# ----------------------------------------------------------------------------------------------
# Unary math and activations
# ----------------------------------------------------------------------------------------------
UNARY_SHAPES = [(3, 4), (), (0, 2), (2, 3, 2)]


def _unary(make, extra=()):
    def samples(g):
        for shape in UNARY_SHAPES:
            yield S(make(g, shape))
        for s in extra:
            yield s(g) if callable(s) else s
    return samples


def _kink_at_zero(g):
    x = g.away(3, 4)
    x[0, :2] = 0.0
    x[2, 3] = 0.0
    return S(x, fd=False, desc="exact zeros (kink)")


register("neg", lambda lib, a: -a, _unary(_randn))
register("exp", lambda lib, a: lib.exp(a), _unary(_randn))
register("log", lambda lib, a: a.log(), _unary(_pos))
register("log1p", lambda lib, a: lib.log1p(a), _unary(lambda g, s: g.uniform(*s, low=-0.5, high=2)))
register("sqrt", lambda lib, a: lib.sqrt(a), _unary(_pos))
register("rsqrt", lambda lib, a: lib.rsqrt(a), _unary(_pos))
register("square", lambda lib, a: lib.square(a), _unary(_randn))
register("abs", lambda lib, a: lib.abs(a), _unary(_away, [_kink_at_zero]))
register("sin", lambda lib, a: lib.sin(a), _unary(_randn))
register("cos", lambda lib, a: a.cos(), _unary(_randn))
register("tanh", lambda lib, a: lib.tanh(a), _unary(_randn))
register("sigmoid", lambda lib, a: lib.sigmoid(a), _unary(
    lambda g, s: np.asarray(3 * g.randn(*s)),
    [S(np.array([-40.0, -20.0, -1.0, 0.0, 1.0, 20.0, 40.0]), desc="saturated")]))
register("relu", lambda lib, a: lib.nn.functional.relu(a), _unary(_away, [_kink_at_zero]))


def _leaky_samples(g):
    yield S(g.away(3, 4))
    yield S(g.away(3, 4), kwargs={"negative_slope": 0.2})
    yield S(g.away(), kwargs={"negative_slope": 0.1})
    s = _kink_at_zero(g)
    yield S(*s.inputs, kwargs={"negative_slope": 0.3}, fd=False, desc="exact zeros (kink)")


register("leaky_relu", lambda lib, a, **kw: lib.nn.functional.leaky_relu(a, **kw), _leaky_samples)


def _clamp(lib, a, *bounds, **kw):
    return lib.clamp(a, *bounds, **kw)


def _clamp_samples(g):
    x = g.randn(3, 4)
    yield S(x, kwargs={"min": -0.512, "max": 0.487})
    yield S(g.randn(3, 4), kwargs={"min": -0.231})
    yield S(g.randn(3, 4), kwargs={"max": 0.137})
    yield S(g.randn(2, 3), -0.3, 0.3, desc="positional bounds")
    yield S(g.randn(), kwargs={"min": 0.1, "max": 0.2})
    yield S(g.ties(3, 4), kwargs={"min": -1.0, "max": 1.0}, fd=False,
            desc="values on the bounds (grad passes, as torch)")
    yield S(g.ties(3, 4), kwargs={"min": 0}, fd=False, desc="int bound, ties")
    # Tensor bounds (broadcast); torch routes the gradient to the input where min <= x <= max.
    yield S(g.distinct(3, 4), g.uniform(4, low=-0.6, high=-0.05) + 0.0123,
            g.uniform(4, low=0.05, high=0.6) + 0.0071, desc="tensor bounds")
    yield S(g.ties(3, 4), g.ties(4), g.ties(4, low=1, high=3), fd=False,
            desc="tensor bounds, ties")


register("clamp", _clamp, _clamp_samples)


def _one_bound_samples(g):
    yield S(g.randn(3, 4), 0.137)
    yield S(g.randn(), -0.25, desc="0-d")
    yield S(g.randn(0, 3), 0.5, desc="empty")
    yield S(g.distinct(3, 4), g.uniform(4, low=-0.6, high=0.6) + 0.0123, desc="tensor bound")
    yield S(g.ties(3, 4), 0.0, fd=False, desc="values on the bound")


register("clamp_min", lambda lib, a, bound: a.clamp_min(bound), _one_bound_samples)
register("clamp_max", lambda lib, a, bound: a.clamp_max(bound), _one_bound_samples)


def _where(lib, cond, a, b):
    return lib.where(cond, a, b)


def _where_samples(g):
    yield S(g.mask(3, 4), g.randn(3, 4), g.randn(3, 4))
    yield S(g.mask(3, 1), g.randn(4), g.randn(3, 4), desc="broadcast")
    yield S(g.mask(3, 4), g.randn(3, 4), 0.0, desc="scalar other")
    yield S(g.mask(), g.randn(), g.randn(2), desc="0-d")


register("where", _where, _where_samples)
