"""Two laws on the positive reals, each a transformed ``Exponential``.

``Weibull(scale, concentration)`` (scale s, shape k): X = s E^(1/k), E ~ Exponential(1),
    log p(x) = log(k / s) + (k - 1) log(x / s) - (x / s)^k,   x > 0
    mean = s G(1 + 1/k),  var = s^2 (G(1 + 2/k) - G(1 + 1/k)^2),  mode = s (1 - 1/k)^(1/k)
    entropy = gamma_E (1 - 1/k) + log(s / k) + 1        (G: the Gamma function)

``Pareto(scale, alpha)`` (scale s, index a): X = s e^E, E ~ Exponential(a), x >= s,
    log p(x) = log a + a log s - (a + 1) log x
    mean = s a / (a - 1) (inf for a <= 1),  var = s^2 a / ((a - 1)^2 (a - 2)) (inf for a <= 2)
    entropy = log(s / a) + 1 + 1/a

Parameters broadcast together to the batch shape; events are scalars.
"""
from . import _ops as ops
from . import constraints
from .exponential import Exponential
from .transformed_distribution import TransformedDistribution
from .transforms import AffineTransform, ExpTransform, PowerTransform
from .utils import broadcast_all

__all__ = ["Weibull", "Pareto"]

_EULER_GAMMA = 0.57721566490153286060


def _gamma_fn(z):
    """The Gamma function at z > 0."""
    return ops.lgamma(z).exp()


def _weibull_maps(scale, inv_k):
    """E -> E^(1/k) -> s E^(1/k)."""
    return [PowerTransform(exponent=inv_k), AffineTransform(loc=0, scale=scale)]


class Weibull(TransformedDistribution):
    arg_constraints = {"scale": constraints.positive, "concentration": constraints.positive}
    support = constraints.positive

    def __init__(self, scale, concentration, validate_args=None):
        s, k = broadcast_all(scale, concentration)
        self.scale, self.concentration, self.concentration_reciprocal = s, k, 1 / k
        unit = Exponential(ops.ones_like(s), validate_args=validate_args)
        super().__init__(unit, _weibull_maps(s, self.concentration_reciprocal),
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        out = self._get_checked_instance(Weibull, _instance)
        out.scale = self.scale.expand(batch_shape)
        out.concentration = self.concentration.expand(batch_shape)
        out.concentration_reciprocal = 1 / out.concentration
        TransformedDistribution.__init__(
            out, self.base_dist.expand(batch_shape),
            _weibull_maps(out.scale, out.concentration_reciprocal), validate_args=False)
        out._validate_args = self._validate_args
        return out

    @property
    def mean(self):
        return _gamma_fn(1 + self.concentration_reciprocal) * self.scale

    @property
    def mode(self):
        inv_k = self.concentration_reciprocal
        return (1 - inv_k).pow(inv_k) * self.scale

    @property
    def variance(self):
        inv_k = self.concentration_reciprocal
        spread = _gamma_fn(1 + 2 * inv_k) - _gamma_fn(1 + inv_k).pow(2)
        return spread * self.scale * self.scale

    def entropy(self):
        inv_k = self.concentration_reciprocal
        return 1 + (1 - inv_k) * _EULER_GAMMA + (inv_k * self.scale).log()


class Pareto(TransformedDistribution):
    arg_constraints = {"alpha": constraints.positive, "scale": constraints.positive}

    def __init__(self, scale, alpha, validate_args=None):
        s, a = broadcast_all(scale, alpha)
        self.scale, self.alpha = s, a
        log_ratio = Exponential(a, validate_args=validate_args)
        super().__init__(log_ratio, [ExpTransform(), AffineTransform(loc=0, scale=s)],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        out = self._get_checked_instance(Pareto, _instance)
        out.scale, out.alpha = (t.expand(batch_shape) for t in (self.scale, self.alpha))
        return TransformedDistribution.expand(self, batch_shape, _instance=out)

    @property
    def mean(self):
        a = self.alpha.clamp(min=1)          # a <= 1: infinite mean
        return a * self.scale / (a - 1)

    @property
    def mode(self):
        return self.scale

    @property
    def variance(self):
        a = self.alpha.clamp(min=2)          # a <= 2: infinite variance
        return self.scale.pow(2) * a / ((a - 1).pow(2) * (a - 2))

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        """[scale, inf)."""
        return constraints.greater_than_eq(self.scale)

    def entropy(self):
        a = self.alpha
        return self.scale.log() - a.log() + 1 + 1 / a
