"""``LogisticNormal(loc, scale)``: a point of the K-simplex obtained by pushing a diagonal
Gaussian on R^(K-1) through the stick-breaking map.

With x ~ N(loc, diag(scale^2)) (loc, scale: (..., K-1)) and y = StickBreakingTransform(x)
(event shape (K,)), the inverse map is x_i = log(y_i / (1 - y_1 - ... - y_i)) + log(K - i)
(i = 1..K-1), and the density follows by change of variables:

    log p(y) = log N(x; loc, scale) - log|det dy/dx|

A scalar loc/scale is treated as one coordinate (a point of the 2-simplex).
"""
from __future__ import annotations

from . import constraints
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import StickBreakingTransform

__all__ = ["LogisticNormal"]


class LogisticNormal(TransformedDistribution):
    """Normal(loc, scale) over the last dim, mapped onto the simplex by stick breaking;
    batch shape: loc/scale's broadcast shape without its last dim, event shape (K,)."""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        gaussian = Normal(loc, scale, validate_args=validate_args)
        if not len(gaussian.batch_shape):      # one coordinate: a vector of length 1
            gaussian = gaussian.expand((1,))
        super().__init__(gaussian, StickBreakingTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        twin = self._get_checked_instance(LogisticNormal, _instance)
        return super().expand(batch_shape, _instance=twin)

    @property
    def loc(self):
        """Mean of the underlying Gaussian, (..., K-1)."""
        return self.base_dist.base_dist.loc

    @property
    def scale(self):
        """Standard deviation of the underlying Gaussian, (..., K-1)."""
        return self.base_dist.base_dist.scale
