"""Registry entries of round 7, part A: ``reciprocal`` and a representative set of the in-place
forms (ops/inplace_pointwise.py, ops/inplace_views.py).

An in-place entry writes into a non-leaf copy of its input (``y = x * 1.0; y.exp_()``), and
its "view" samples into a slice of one (``y[1:].exp_()``, which rebases ``y``'s history), so
the first and second derivatives through the write are checked against torch and finite
differences like those of every other entry.
"""
from __future__ import annotations

from .opinfo import Sample, register

S = Sample


def _unary_inplace(name):
    def f(lib, x, *args, view=False):
        y = x * 1.0
        getattr(y[1:] if view else y, name)(*args)
        return y
    return f


def _binary_inplace(name):
    def f(lib, x, other, view=False):
        y = x * 1.0
        getattr(y[1:] if view else y, name)(other[1:] if view else other)
        return y
    return f


def _unary_samples(values):
    """values(g, *shape): inputs in the op's domain."""
    def samples(g):
        return [S(values(g, 3, 4), desc="a non-leaf"),
                S(values(g, 3, 4), kwargs={"view": True}, desc="a view of a non-leaf"),
                S(values(g), desc="0-d"),
                S(values(g, 0, 3), desc="empty")]
    return samples


register("reciprocal", lambda lib, x: lib.reciprocal(x),
         lambda g: [S(g.away(3, 4)), S(g.away()), S(g.away(0, 2), desc="empty"),
                    S(g.away(2, 3), desc="as a method")])

def _UNIT(g, *shape):
    return g.uniform(*shape, low=0.15, high=0.85)


def _POS(g, *shape):
    return g.pos(*shape)


def _ANY(g, *shape):
    return g.randn(*shape)


for _name, _values in (("exp_", _ANY), ("sin_", _ANY), ("tanh_", _ANY), ("sigmoid_", _ANY),
                       ("sqrt_", _POS), ("log_", _POS), ("reciprocal_", _POS),
                       ("erf_", _ANY), ("lgamma_", _POS), ("asin_", _UNIT),
                       ("logit_", _UNIT), ("square_", _ANY), ("expm1_", _ANY)):
    register(_name, _unary_inplace(_name), _unary_samples(_values))


def _two(first, second):
    def samples(g):
        return [S(first(g, 3, 4), second(g, 3, 4), desc="same shape"),
                S(first(g, 3, 4), second(g, 1, 4), desc="other broadcast"),
                S(first(g, 3, 4), second(g, 3, 4), kwargs={"view": True},
                  desc="a view of a non-leaf")]
    return samples


register("atan2_", _binary_inplace("atan2_"), _two(_ANY, lambda g, *s: g.away(*s)))
register("hypot_", _binary_inplace("hypot_"), _two(lambda g, *s: g.away(*s),
                                                   lambda g, *s: g.away(*s)))
register("xlogy_", _binary_inplace("xlogy_"), _two(_ANY, _POS))
# float32 is refused in place (the result is float64, which a float32 tensor cannot hold)
register("float_power_", _binary_inplace("float_power_"), _two(_POS, _ANY), float32=False)


def _products(lib, x, a, b, name, beta=1.0, alpha=1.0):
    y = x * 1.0
    getattr(y, name)(a, b, beta=beta, alpha=alpha)
    return y


register("addmm_", lambda lib, x, a, b, **kw: _products(lib, x, a, b, "addmm_", **kw),
         lambda g: [S(g.randn(2, 3), g.randn(2, 4), g.randn(4, 3)),
                    S(g.randn(2, 3), g.randn(2, 4), g.randn(4, 3),
                      kwargs={"beta": 0.5, "alpha": -2.0}, desc="beta, alpha")])
register("baddbmm_", lambda lib, x, a, b, **kw: _products(lib, x, a, b, "baddbmm_", **kw),
         lambda g: [S(g.randn(2, 2, 3), g.randn(2, 2, 4), g.randn(2, 4, 3),
                      kwargs={"beta": 0.5, "alpha": 1.5})])
register("cumsum_", _unary_inplace("cumsum_"),
         lambda g: [S(g.randn(3, 4), 1), S(g.randn(3, 4), 0, kwargs={"view": True},
                                           desc="a view of a non-leaf")])
register("cumprod_", _unary_inplace("cumprod_"),
         lambda g: [S(g.away(3, 4), 1), S(g.away(4), 0, desc="1-d")])
register("renorm_", _unary_inplace("renorm_"),
         lambda g: [S(g.randn(3, 4), 2, 0, 1.0), S(g.randn(3, 4), 1, 1, 0.5, desc="p=1")])


# in-place view changes: the tensor itself takes the new shape; the gradient flows through
def _restride(name):
    def f(lib, x, *args):
        y = x * 1.0
        getattr(y, name)(*args)
        return y * y
    return f


register("t_", _restride("t_"), lambda g: [S(g.randn(3, 4)), S(g.randn(4), desc="1-d")])
register("transpose_", _restride("transpose_"), lambda g: [S(g.randn(2, 3, 4), 0, 2)])
register("squeeze_", _restride("squeeze_"),
         lambda g: [S(g.randn(3, 1, 4)), S(g.randn(3, 1, 1), 1, desc="one dim")])
register("unsqueeze_", _restride("unsqueeze_"), lambda g: [S(g.randn(3, 4), -1)])
register("as_strided_", _restride("as_strided_"),
         lambda g: [S(g.randn(3, 4), (2, 2), (1, 4), desc="a transposed block")])
