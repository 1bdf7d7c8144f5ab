"""Four more laws on (parts of) the real line; parameters broadcast together to the batch
shape and events are scalars.

``InverseGamma(concentration, rate)`` (a, b): Y = 1 / X with X ~ Gamma(a, b), y > 0,
    log p(y) = a log b - lgamma(a) - (a + 1) log y - b / y
    mean = b / (a - 1) (inf for a <= 1),  var = b^2 / ((a - 1)^2 (a - 2)) (inf for a <= 2),
    mode = b / (a + 1),  entropy = a + log b + lgamma(a) - (1 + a) digamma(a)

``Kumaraswamy(concentration1, concentration0)`` (a, b): X = (1 - U^(1/b))^(1/a),
    U ~ Uniform(0, 1), x in [0, 1],  p(x) = a b x^(a-1) (1 - x^a)^(b-1),
    cdf = 1 - (1 - x^a)^b,  E[X^n] = b B(1 + n/a, b),  mode = ((a - 1) / (a b - 1))^(1/a)
    (nan unless a >= 1, b >= 1 and not both 1),
    entropy = (1 - 1/b) + (1 - 1/a) H_b - log(a b)   (H_b = digamma(b + 1) + Euler's gamma)

``GeneralizedPareto(loc, scale, concentration)`` (m, s, c), z = (x - m) / s >= 0,
    log p(x) = -log s - (1/c + 1) log1p(c z),   log S(x) = -log1p(c z) / c  (survival)
    icdf(u) = m + s expm1(-c log1p(-u)) / c,    support [m, m - s/c] for c < 0, [m, inf)
    mean = m + s / (1 - c) (nan for c >= 1),  var = s^2 / ((1 - c)^2 (1 - 2c)) (nan for
    c >= 1/2),  mode = m,  entropy = log s + c + 1.
    Where |c| <= 1e-8 (c read as 0, the exponential law) the c -> 0 limits are used with
    their terms in c and c^2, so gradients in c stay right there too.

``FisherSnedecor(df1, df2)`` (d1, d2): Y = (G1 / d1) / (G2 / d2), G_i ~ Gamma(d_i / 2, 1),
    log p(y) = lgamma((d1+d2)/2) - lgamma(d1/2) - lgamma(d2/2) + (d1/2) log(d1/d2)
               + (d1/2 - 1) log y - ((d1+d2)/2) log1p(d1 y / d2)
    mean = d2 / (d2 - 2) (nan for d2 <= 2),  mode = (d1 - 2) / d1 * d2 / (d2 + 2) (nan for
    d1 <= 2),  var = 2 d2^2 (d1 + d2 - 2) / (d1 (d2 - 2)^2 (d2 - 4)) (nan for d2 <= 4).

Moments outside their range of existence are filled in with ``where`` over a harmless
stand-in parameter, so no inf/nan reaches the gradients of the valid entries.
"""
from __future__ import annotations

import math
from numbers import Number

from ..autograd._node_names import rename_node
from . import _ops as ops
from . import constraints
from .distribution import Distribution
from .gamma import Gamma
from .transformed_distribution import TransformedDistribution
from .transforms import AffineTransform, PowerTransform
from .uniform import Uniform
from .utils import broadcast_all, standard_uniform, store_broadcast

__all__ = ["InverseGamma", "Kumaraswamy", "GeneralizedPareto", "FisherSnedecor"]

_EULER_GAMMA = 0.57721566490153286060
_NEAR_ZERO = 1e-8        # |concentration| at or below this: the GeneralizedPareto c -> 0 limit


def _guarded(valid, param, stand_in):
    """``param`` where ``valid``, else ``stand_in`` (a value at which the formula is finite)."""
    return ops.where(valid, param, stand_in)


# ------------------------------------------------------------------------ InverseGamma


class InverseGamma(TransformedDistribution):
    """1 / X for X ~ Gamma(concentration, rate); ``rate`` is the Gamma's (the scale of Y)."""
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, concentration, rate, validate_args=None):
        base = Gamma(concentration, rate, validate_args=validate_args)
        reciprocal = PowerTransform(-base.rate.new_ones(()))
        super().__init__(base, reciprocal, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        twin = self._get_checked_instance(InverseGamma, _instance)
        return TransformedDistribution.expand(self, batch_shape, _instance=twin)

    @property
    def concentration(self):
        return self.base_dist.concentration

    @property
    def rate(self):
        return self.base_dist.rate

    @property
    def mean(self):
        a = self.concentration
        finite = a > 1
        return ops.where(finite, self.rate / (_guarded(finite, a, 2.0) - 1), math.inf)

    @property
    def mode(self):
        return self.rate / (self.concentration + 1)

    @property
    def variance(self):
        a = self.concentration
        finite = a > 2
        a_ok = _guarded(finite, a, 3.0)
        spread = self.rate.square() / ((a_ok - 1).square() * (a_ok - 2))
        return ops.where(finite, spread, math.inf)

    def entropy(self):
        a = self.concentration
        return a + self.rate.log() + ops.lgamma(a) - (1 + a) * ops.digamma(a)


# ------------------------------------------------------------------------- Kumaraswamy


def _kumaraswamy_maps(a, b):
    """U -> U^(1/b) -> 1 - U^(1/b) -> (1 - U^(1/b))^(1/a)."""
    return [PowerTransform(exponent=b.reciprocal()), AffineTransform(loc=1.0, scale=-1.0),
            PowerTransform(exponent=a.reciprocal())]


def _kumaraswamy_moment(a, b, n):
    """E[X^n] = b B(1 + n/a, b)."""
    shifted = 1 + n / a
    return b * (ops.lgamma(shifted) + ops.lgamma(b) - ops.lgamma(shifted + b)).exp()


class Kumaraswamy(TransformedDistribution):
    """A Beta-like law on [0, 1] with closed-form cdf; concentration1 = a, concentration0 = b."""
    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        a, b = broadcast_all(concentration1, concentration0)
        self.concentration1, self.concentration0 = a, b
        unit = Uniform(ops.zeros_like(b), ops.ones_like(b), validate_args=validate_args)
        super().__init__(unit, _kumaraswamy_maps(a, b), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        twin = self._get_checked_instance(Kumaraswamy, _instance)
        twin.concentration1 = self.concentration1.expand(batch_shape)
        twin.concentration0 = self.concentration0.expand(batch_shape)
        return TransformedDistribution.expand(self, batch_shape, _instance=twin)

    @property
    def mean(self):
        return _kumaraswamy_moment(self.concentration1, self.concentration0, 1)

    @property
    def mode(self):
        """((a - 1) / (a b - 1))^(1/a); nan where a < 1 or b < 1 (density unbounded at an
        end) and where a = b = 1 (the uniform law)."""
        a, b = self.concentration1, self.concentration0
        defined = (a >= 1) & (b >= 1) & ((a > 1) | (b > 1))
        a_ok, b_ok = _guarded(defined, a, 2.0), _guarded(defined, b, 2.0)
        peak = ((a_ok - 1) / (a_ok * b_ok - 1)).pow(a_ok.reciprocal())
        # (PyTorch's mode is exp of a log-mode with NaNs written in: ExpBackward0 last)
        return rename_node(ops.where(defined, peak, math.nan), "ExpBackward0")

    @property
    def variance(self):
        second = _kumaraswamy_moment(self.concentration1, self.concentration0, 2)
        return second - self.mean.square()

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        harmonic_b = ops.digamma(b + 1) + _EULER_GAMMA
        return (1 - b.reciprocal()) + (1 - a.reciprocal()) * harmonic_b - a.log() - b.log()


# ------------------------------------------------------------------- GeneralizedPareto


class GeneralizedPareto(Distribution):
    """Threshold excesses: location ``loc``, scale ``scale`` > 0, shape ``concentration``."""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive,
                       "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None):
        shape = store_broadcast(self, Number, loc=loc, scale=scale, concentration=concentration)
        super().__init__(shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(GeneralizedPareto, batch_shape, _instance,
                                   ("loc", "scale", "concentration"))

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        """[loc, loc - scale / concentration] when concentration < 0, else [loc, inf)."""
        c = self.concentration
        top = ops.where(c < 0, self.loc - self.scale / c, math.inf)
        return constraints.interval(self.loc, top)

    def _split(self):
        """(mask of c read as 0, c with 1 put there for the c != 0 formulas, c with 0 put
        elsewhere for the series around 0)."""
        c = self.concentration
        at_zero = c.abs() <= _NEAR_ZERO
        return at_zero, _guarded(at_zero, 1.0, c), _guarded(at_zero, c, 0.0)

    def _z(self, value):
        return (value - self.loc) / self.scale

    def log_prob(self, value):
        z = self._z(self._checked(value))
        at_zero, c_safe, c_tiny = self._split()
        y = 1 / c_safe + 1
        log_term = (c_safe * z).log1p()
        # c = -1 (uniform law): y = 0, and 0 * log 0 at the top of the support counts as 0
        log_term = ops.where((y == 0) & (log_term == -math.inf), 0.0, log_term)
        limit = z + c_tiny * (z - z * z / 2) + c_tiny * c_tiny * (z * z * z / 3 - z * z / 2)
        return -self.scale.log() - ops.where(at_zero, limit, y * log_term)

    def log_survival_function(self, value):
        """log P(X > value) = -log1p(c z) / c (-z when c is 0)."""
        z = self._z(self._checked(value))
        at_zero, c_safe, c_tiny = self._split()
        limit = -(z - c_tiny * z * z / 2 + c_tiny * c_tiny * z * z * z / 3)
        return ops.where(at_zero, limit, -(c_safe * z).log1p() / c_safe)

    def log_cdf(self, value):
        """log P(X <= value) = log(1 - exp(log_survival_function(value)))."""
        return (-self.log_survival_function(value).exp()).log1p()

    def cdf(self, value):
        return self.log_cdf(value).exp()

    def icdf(self, value):
        """loc + scale expm1(-c log1p(-u)) / c (loc - scale log1p(-u) when c is 0)."""
        at_zero, c_safe, c_tiny = self._split()
        log_tail = (-value).log1p()
        limit = (-log_tail + c_tiny * log_tail.square() / 2
                 - c_tiny * c_tiny * log_tail.pow(3) / 6)
        general = ops.expm1(-c_safe * log_tail) / c_safe
        return self.loc + self.scale * ops.where(at_zero, limit, general)

    def rsample(self, sample_shape=ops.Size()):
        u = standard_uniform(self._extended_shape(sample_shape), self.loc)
        return self.icdf(u)

    @property
    def mean(self):
        c = self.concentration
        finite = c < 1
        return ops.where(finite, self.loc + self.scale / (1 - _guarded(finite, c, 0.5)),
                         math.nan)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        c = self.concentration
        finite = c < 0.5
        c_ok = _guarded(finite, c, 0.25)
        spread = self.scale.square() / ((1 - c_ok).square() * (1 - 2 * c_ok))
        return ops.where(finite, spread, math.nan)

    def entropy(self):
        return (self.scale.log() + self.concentration + 1).expand(self._batch_shape)


# ---------------------------------------------------------------------- FisherSnedecor


class FisherSnedecor(Distribution):
    """The F law with ``df1`` and ``df2`` degrees of freedom."""
    arg_constraints = {"df1": constraints.positive, "df2": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, df1, df2, validate_args=None):
        shape = store_broadcast(self, Number, df1=df1, df2=df2)
        # G_i / d_i ~ Gamma(d_i / 2, rate d_i); built (and checked) before our own check
        self._gamma1 = Gamma(self.df1 * 0.5, self.df1)
        self._gamma2 = Gamma(self.df2 * 0.5, self.df2)
        super().__init__(shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        twin = self._expand_params(FisherSnedecor, batch_shape, _instance, ("df1", "df2"))
        twin._gamma1 = self._gamma1.expand(batch_shape)
        twin._gamma2 = self._gamma2.expand(batch_shape)
        return twin

    @property
    def mean(self):
        finite = self.df2 > 2
        d2 = _guarded(finite, self.df2, 3.0)
        # (PyTorch writes NaN into a copy of df2, then divides: DivBackward0 last)
        return rename_node(ops.where(finite, d2 / (d2 - 2), math.nan), "DivBackward0")

    @property
    def mode(self):
        interior = self.df1 > 2
        d1 = _guarded(interior, self.df1, 3.0)
        peak = (d1 - 2) / d1 * self.df2 / (self.df2 + 2)
        return rename_node(ops.where(interior, peak, math.nan), "torch::autograd::CopySlices")

    @property
    def variance(self):
        finite = self.df2 > 4
        d1, d2 = self.df1, _guarded(finite, self.df2, 5.0)
        spread = 2 * d2.square() * (d1 + d2 - 2) / (d1 * (d2 - 2).square() * (d2 - 4))
        return rename_node(ops.where(finite, spread, math.nan), "DivBackward0")

    def rsample(self, sample_shape=ops.Size()):
        tiny = ops.finfo(self.df1.dtype).tiny
        top = self._gamma1.rsample(sample_shape)
        bottom = self._gamma2.rsample(sample_shape).clamp(min=tiny)
        return (top / bottom).clamp(min=tiny)

    def log_prob(self, value):
        y = self._checked(value)
        h1, h2 = self.df1 * 0.5, self.df2 * 0.5
        ratio = self.df1 / self.df2
        log_beta = ops.lgamma(h1) + ops.lgamma(h2) - ops.lgamma(h1 + h2)
        return (h1 * ratio.log() + (h1 - 1) * y.log() - (h1 + h2) * (ratio * y).log1p()
                - log_beta)
