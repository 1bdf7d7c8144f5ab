"""``TransformedDistribution(base_distribution, transforms)``: the law of
y = t_n(...t_1(x)...) for x drawn from the base, with density by change of variables

    log p_y(y) = log p_x(x) - sum_i log|det J_{t_i}(x_{i-1})|,   x = t^-1(y).
"""
from __future__ import annotations

from . import _ops as ops
from . import constraints
from .distribution import Distribution, _size_text
from .independent import Independent
from .transforms import ComposeTransform, Transform
from .utils import sum_rightmost

__all__ = ["TransformedDistribution"]


def _as_transform_list(transforms):
    """A single Transform or a list of them -> that list (anything else is an error)."""
    if isinstance(transforms, Transform):
        return [transforms]
    if not isinstance(transforms, list):
        raise ValueError(f"transforms must be a Transform or list, but was {transforms}")
    if any(not isinstance(each, Transform) for each in transforms):
        raise ValueError("transforms must be a Transform or a list of Transforms")
    return transforms


def _fit_base(base, chain):
    """The base distribution reshaped for ``chain`` (a ComposeTransform): expanded when the
    transforms broadcast its shape up, and wrapped in Independent when the chain consumes
    more event dims than the base has.  Returns (base, shape of y)."""
    base_event_dims = len(base.event_shape)
    full_shape = tuple(base.batch_shape) + tuple(base.event_shape)
    needed = chain.domain.event_dim
    if len(full_shape) < needed:
        raise ValueError(f"base_distribution needs to have shape with size at least "
                         f"{needed}, but got {_size_text(full_shape)}.")
    out_shape = chain.forward_shape(full_shape)
    pulled_back = tuple(chain.inverse_shape(out_shape))
    if pulled_back != full_shape:
        base = base.expand(pulled_back[:len(pulled_back) - base_event_dims])
    if needed > base_event_dims:
        base = Independent(base, needed - base_event_dims)
    return base, out_shape


class TransformedDistribution(Distribution):
    """``transforms`` (one Transform or a list, applied in order) pushed over
    ``base_distribution``; shapes follow the transforms' forward_shape and event dims."""
    arg_constraints = {}

    def __init__(self, base_distribution, transforms, validate_args=None):
        self.transforms = _as_transform_list(transforms)
        chain = ComposeTransform(self.transforms)
        self.base_dist, out_shape = _fit_base(base_distribution, chain)
        # event dims of y: what the chain adds to the base's own, at least its codomain's
        growth = chain.codomain.event_dim - chain.domain.event_dim
        y_event_dims = max(len(base_distribution.event_shape) + growth,
                           chain.codomain.event_dim)
        split = len(out_shape) - y_event_dims
        Distribution.__init__(self, ops.Size(out_shape[:split]), ops.Size(out_shape[split:]),
                              validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        twin = self._get_checked_instance(TransformedDistribution, _instance)
        target = ops.Size(batch_shape)
        x_shape = tuple(target) + tuple(self.event_shape)
        for each in self.transforms[::-1]:
            x_shape = each.inverse_shape(x_shape)
        keep = len(x_shape) - len(self.base_dist.event_shape)
        twin.base_dist = self.base_dist.expand(x_shape[:keep])
        twin.transforms = self.transforms
        Distribution.__init__(twin, target, self.event_shape, validate_args=False)
        twin._validate_args = self._validate_args
        return twin

    @constraints.dependent_property(is_discrete=False)
    def support(self):
        if not self.transforms:
            return self.base_dist.support
        last = self.transforms[-1].codomain
        extra = len(self.event_shape) - last.event_dim
        return constraints.independent(last, extra) if extra > 0 else last

    has_rsample = property(lambda self: self.base_dist.has_rsample,
                           doc="Whether the base distribution has rsample.")

    def _push_forward(self, x):
        for each in self.transforms:
            x = each(x)
        return x

    def sample(self, sample_shape=ops.Size()):
        with ops.no_grad():
            return self._push_forward(self.base_dist.sample(sample_shape))

    def rsample(self, sample_shape=ops.Size()):
        return self._push_forward(self.base_dist.rsample(sample_shape))

    def log_prob(self, value):
        """log p(value): the base log-density at the pulled-back point, minus each
        transform's log|det J| summed over the event dims at its stage."""
        if self._validate_args:
            self._validate_sample(value)
        dims = len(self.event_shape)           # event dims of the current stage's output
        correction = 0.0
        y = value
        for each in self.transforms[::-1]:
            x = each.inv(y)
            dims = dims - each.codomain.event_dim + each.domain.event_dim
            jac = each.log_abs_det_jacobian(x, y)
            correction = correction - sum_rightmost(jac, dims - each.domain.event_dim)
            y = x
        base_term = self.base_dist.log_prob(y)
        return correction + sum_rightmost(base_term, dims - len(self.base_dist.event_shape))

    def _monotonize_cdf(self, value):
        """Turns the base cdf into y's: unchanged for an increasing chain, 1 - cdf for a
        decreasing one (sign -1)."""
        direction = 1
        for each in self.transforms:
            direction = direction * each.sign
        if isinstance(direction, int) and direction == 1:
            return value
        return 0.5 + direction * (value - 0.5)

    def cdf(self, value):
        x = value
        for each in self.transforms[::-1]:
            x = each.inv(x)
        if self._validate_args:
            self.base_dist._validate_sample(x)
        return self._monotonize_cdf(self.base_dist.cdf(x))

    def icdf(self, value):
        base_quantile = self.base_dist.icdf(self._monotonize_cdf(value))
        return self._push_forward(base_quantile)
