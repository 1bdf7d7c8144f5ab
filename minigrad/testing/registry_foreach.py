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
