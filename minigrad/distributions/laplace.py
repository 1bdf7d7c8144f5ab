"""``Laplace(loc, scale)``: density exp(-|x - loc| / scale) / (2 scale).

Both sampling and icdf map a value v in (-1, 1) to loc - scale * sign(v) * log(1 - |v|):
rsample with v ~ U(-1, 1), icdf with v = 2 p - 1.
"""
from __future__ import annotations

import math
from numbers import Number

from ..autograd._node_names import rename_node
from . import _ops as ops
from . import constraints
from .distribution import Distribution
from .utils import store_broadcast

__all__ = ["Laplace"]

_LN2 = math.log(2.0)


class Laplace(Distribution):
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        shape = store_broadcast(self, Number, loc=loc, scale=scale)
        super().__init__(shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Laplace, batch_shape, _instance, ("loc", "scale"))

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return self.scale * self.scale * 2

    @property
    def stddev(self):
        return self.scale * math.sqrt(2.0)

    def _from_signed(self, v):
        """The point whose signed two-sided tail mass is v (|v| < 1)."""
        return self.loc - v.sign() * (-v.abs()).log1p() * self.scale

    def rsample(self, sample_shape=ops.Size()):
        out_shape = self._extended_shape(sample_shape)
        eps = ops.finfo(self.loc.dtype).eps
        # v uniform in [eps - 1, 1) (so log1p(-|v|) stays finite), drawn and combined as
        # PyTorch does, so a seed gives its numbers
        v = self.loc.new_empty(out_shape).uniform_(eps - 1, 1)
        return self.loc - self.scale * v.sign() * (-v.abs()).log1p()

    def log_prob(self, value):
        # (log(2 scale) as PyTorch: in the parameters' dtype, however precise the value)
        return -(2 * self.scale).log() - (self._checked(value) - self.loc).abs() / self.scale

    def cdf(self, value):
        """exp(-|d| / scale) / 2 below loc, one minus that above (d = value - loc)."""
        offset = self._checked(value) - self.loc
        half_tail = (-offset.abs() / self.scale).exp() * 0.5
        # (PyTorch's 0.5 - 0.5 sign expm1(..): its last node is RsubBackward1)
        return rename_node(ops.where(offset < 0, half_tail, 1 - half_tail), "RsubBackward1")

    def icdf(self, value):
        return self._from_signed(2 * value - 1)

    def entropy(self):
        """1 + log(2 scale)."""
        return self.scale.log() + (1 + _LN2)
