"""``Independent(base_distribution, reinterpreted_batch_ndims)``: the base distribution's
draws, with its rightmost ``reinterpreted_batch_ndims`` batch dims counted as event dims.
log_prob and entropy are then summed over those dims (e.g. a batch of Normals of shape (B, D)
becomes B diagonal Gaussians on R^D)."""
from __future__ import annotations

from . import _ops as ops
from . import constraints
from .distribution import Distribution
from .utils import sum_rightmost

__all__ = ["Independent"]


def _split_shape(base, moved):
    """(batch_shape, event_shape) once ``moved`` batch dims of ``base`` join its event."""
    batch = tuple(base.batch_shape)
    cut = len(batch) - moved
    return batch[:cut], batch[cut:] + tuple(base.event_shape)


class Independent(Distribution):
    """``base_distribution`` with its rightmost ``reinterpreted_batch_ndims`` batch dims moved
    into the event shape; sampling and the moments are the base's, log_prob/entropy sum its
    values over the moved dims."""
    arg_constraints = {}

    def __init__(self, base_distribution, reinterpreted_batch_ndims, validate_args=None):
        available = len(base_distribution.batch_shape)
        if reinterpreted_batch_ndims > available:
            raise ValueError(
                "Expected reinterpreted_batch_ndims <= len(base_distribution.batch_shape), "
                f"actual {reinterpreted_batch_ndims} vs {available}")
        batch, event = _split_shape(base_distribution, reinterpreted_batch_ndims)
        self.base_dist, self.reinterpreted_batch_ndims = (base_distribution,
                                                          reinterpreted_batch_ndims)
        Distribution.__init__(self, batch, event, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        twin = self._get_checked_instance(Independent, _instance)
        target = ops.Size(batch_shape)
        moved = self.reinterpreted_batch_ndims
        # the base keeps the moved dims as batch dims, after the new batch dims
        moved_sizes = tuple(self.event_shape)[:moved]
        twin.base_dist = self.base_dist.expand(tuple(target) + moved_sizes)
        twin.reinterpreted_batch_ndims = moved
        Distribution.__init__(twin, target, self.event_shape, validate_args=False)
        twin._validate_args = self._validate_args
        return twin

    has_rsample = property(lambda self: self.base_dist.has_rsample,
                           doc="Whether the base distribution has rsample.")

    @property
    def has_enumerate_support(self):
        # enumerating a cartesian product of supports is not offered
        return self.reinterpreted_batch_ndims == 0 and self.base_dist.has_enumerate_support

    @constraints.dependent_property
    def support(self):
        base_support = self.base_dist.support
        moved = self.reinterpreted_batch_ndims
        return constraints.independent(base_support, moved) if moved else base_support

    mean = property(lambda self: self.base_dist.mean, doc="The base distribution's mean.")
    mode = property(lambda self: self.base_dist.mode, doc="The base distribution's mode.")
    variance = property(lambda self: self.base_dist.variance,
                        doc="The base distribution's variance.")

    def sample(self, sample_shape=ops.Size()):
        return self.base_dist.sample(sample_shape=sample_shape)

    def rsample(self, sample_shape=ops.Size()):
        return self.base_dist.rsample(sample_shape=sample_shape)

    def _summed(self, per_element):
        return sum_rightmost(per_element, self.reinterpreted_batch_ndims)

    def log_prob(self, value):
        return self._summed(self.base_dist.log_prob(value))

    def entropy(self):
        return self._summed(self.base_dist.entropy())

    def enumerate_support(self, expand=True):
        if self.reinterpreted_batch_ndims != 0:
            raise NotImplementedError("Enumeration over cartesian product is not implemented")
        base = self.base_dist
        return base.enumerate_support(expand)

    def __repr__(self):
        return f"{type(self).__name__}({self.base_dist}, {self.reinterpreted_batch_ndims})"
