"""Registry entries for ``minigrad.masked`` (round 7): each masked reduction or normalization
with a random mask that keeps at least one element in every reduced slice (so that amax, mean
or softmax have a gradient everywhere), checked like every entry against torch.masked and
finite differences, first and second order.

The new ``special`` functions (Airy, Bessel Y / K, the orthogonal polynomials) are not here:
PyTorch defines no derivative for them, so they have nothing for the registry to check.
"""
from __future__ import annotations

import numpy as np

from .opinfo import Sample, register

S = Sample


def _kept(g, *shape):
    """A random bool mask keeping the first two elements of every last-axis row and the first
    row (at least two elements in every slice, so var's n - 1 is positive)."""
    mask = g.mask(*shape)
    mask[..., :2] = True
    mask[0, ...] = True
    mask[-1, ...] = True
    return mask


def _reduction_samples(g):
    yield S(g.distinct(3, 4), _kept(g, 3, 4), kwargs={"dim": 1}, desc="rows")
    yield S(g.distinct(3, 4), _kept(g, 3, 4), kwargs={"dim": 0, "keepdim": True},
            desc="columns, keepdim")
    yield S(g.distinct(2, 3, 4), _kept(g, 2, 3, 4), kwargs={"dim": (0, 2)}, desc="two dims")
    yield S(g.distinct(3, 4), np.array([True, False, True, True]), kwargs={"dim": 1},
            desc="broadcast mask")


def _dim_samples(g):
    yield S(g.randn(3, 4), _kept(g, 3, 4), kwargs={"dim": 1}, desc="rows")
    yield S(g.randn(3, 4), _kept(g, 3, 4), kwargs={"dim": 0}, desc="columns")


def _masked(name):
    return lambda lib, x, mask, **kw: getattr(lib.masked, name)(x, mask=mask, **kw)


for _name in ("sum", "mean", "amax", "amin", "logsumexp", "var", "std"):
    register(f"masked.{_name}", _masked(_name), _reduction_samples)
register("masked.prod", _masked("prod"),
         lambda g: [S(g.away(3, 4, low=0.5, high=1.5), _kept(g, 3, 4), kwargs={"dim": 1}),
                    S(g.away(3, 4, low=0.5, high=1.5), _kept(g, 3, 4),
                      kwargs={"dim": 0, "keepdim": True}, desc="columns")])
register("masked.norm", lambda lib, x, mask, ord, **kw: lib.masked.norm(x, ord, mask=mask, **kw),
         lambda g: [S(g.away(3, 4), _kept(g, 3, 4), 2.0, kwargs={"dim": 1}),
                    S(g.away(3, 4), _kept(g, 3, 4), 3.0, kwargs={"dim": 0}, desc="ord 3"),
                    S(g.away(3, 4), _kept(g, 3, 4), 1.0, kwargs={"dim": 1}, desc="ord 1")])
register("masked.normalize",
         lambda lib, x, mask, ord, dim: lib.masked.normalize(x, ord, dim, mask=mask),
         lambda g: [S(g.away(3, 4), _kept(g, 3, 4), 2.0, 1),
                    S(g.away(3, 4), _kept(g, 3, 4), 1.0, 0, desc="ord 1")])
for _name in ("cumsum", "cumprod", "softmax", "softmin"):
    register(f"masked.{_name}", _masked(_name), _dim_samples)
# log_softmax is -inf at masked-out elements: compare the kept ones (finite differences of
# -inf are NaN)
register("masked.log_softmax",
         lambda lib, x, mask, **kw: lib.where(mask, lib.masked.log_softmax(x, mask=mask, **kw),
                                              0.0), _dim_samples)
register("masked.median", _masked("median"),
         lambda g: [S(g.distinct(3, 5), _kept(g, 3, 5), kwargs={"dim": 1}),
                    S(g.distinct(4, 3), _kept(g, 4, 3), kwargs={"dim": 0}, desc="columns")])
register("masked.logaddexp",
         lambda lib, x, y, mx, my: lib.masked.logaddexp(x, y, input_mask=mx, other_mask=my),
         lambda g: [S(g.randn(3, 4), g.randn(3, 4), np.ones((3, 4), bool), g.mask(3, 4))],
         # torch's double backward of logaddexp(x, -inf) is NaN (the true value is 0)
         second_order="finite differences")
