"""Registry entries for the multi-tensor ``_foreach_*`` functions (``minigrad/ops/foreach.py``):
each entry applies one to a list of two tensors of different shapes and concatenates the
results, so forward, gradients and second derivatives are checked for every tensor."""
from __future__ import annotations

from .opinfo import Sample, register

S = Sample


def _flat(lib, results):
    return lib.cat([r.reshape(-1) for r in results])


register("_foreach_add",
         lambda lib, a, b, c, d: _flat(lib, lib._foreach_add([a, b], [c, d], alpha=-0.5)),
         lambda g: [S(g.randn(3), g.randn(2, 2), g.randn(3), g.randn(2, 2))])
register("_foreach_mul",
         lambda lib, a, b: _flat(lib, lib._foreach_mul([a, b], [2.0, -3.0])),
         lambda g: [S(g.randn(3), g.randn(2, 2), desc="a number per tensor")])
register("_foreach_addcmul",
         lambda lib, a, b, c, d, e, f: _flat(lib, lib._foreach_addcmul([a, b], [c, d], [e, f],
                                                                       value=0.3)),
         lambda g: [S(g.randn(3), g.randn(2), g.randn(3), g.randn(2), g.randn(3), g.randn(2))])
register("_foreach_lerp",
         lambda lib, a, b, c, d: _flat(lib, lib._foreach_lerp([a, b], [c, d], 0.25)),
         lambda g: [S(g.randn(3), g.randn(2, 2), g.randn(3), g.randn(2, 2))])
register("_foreach_norm",
         lambda lib, a, b: lib.stack(list(lib._foreach_norm([a, b]))),
         lambda g: [S(g.randn(3), g.randn(2, 2))])


def _unary(name):
    return lambda lib, a, b: _flat(lib, getattr(lib, f"_foreach_{name}")([a, b]))


# each unary op on inputs inside its domain (and, for frac, away from the integers)
_INSIDE = {"acos": "open", "asin": "open", "erf": "any", "erfc": "any", "expm1": "any",
           "atan": "any", "tan": "open", "sinh": "any", "cosh": "any", "frac": "open",
           "lgamma": "positive", "log10": "positive", "log1p": "positive", "log2": "positive"}


def _inputs(g, where, *shape):
    if where == "open":
        return g.uniform(*shape, low=0.1, high=0.9) * g.away(*shape, low=1.0, high=1.0)
    if where == "positive":
        return g.pos(*shape)
    return g.randn(*shape)


for _name, _where in _INSIDE.items():
    register(f"_foreach_{_name}", _unary(_name),
             lambda g, where=_where: [S(_inputs(g, where, 3), _inputs(g, where, 2, 2))])
del _name, _where

register("_foreach_clone",
         lambda lib, a, b: _flat(lib, lib._foreach_clone([a, b])),
         lambda g: [S(g.randn(3), g.randn(2, 2))])
register("_foreach_max",
         lambda lib, a, b: lib.stack(list(lib._foreach_max([a, b]))),
         lambda g: [S(g.distinct(4), g.distinct(2, 3))])
register("_foreach_mm",
         lambda lib, a, b, c, d: _flat(lib, lib._foreach_mm([a, b], [c, d])),
         lambda g: [S(g.randn(2, 3), g.randn(1, 2), g.randn(3, 2), g.randn(2, 4))])
