"""Location-scale laws with heavy or one-sided tails: ``Cauchy``, ``StudentT`` (and the
``Chi2`` its draws use), ``Gumbel``, and the folded ``HalfNormal`` and ``HalfCauchy`` (|X|
for X centred at 0).

With z = (x - loc) / scale:

    Cauchy     log p = -log(pi scale) - log1p(z^2)         cdf = atan(z) / pi + 1/2
    StudentT   log p = -(df + 1)/2 log1p(z^2 / df) - log(scale sqrt(df pi) B(df/2, 1/2))
    Gumbel     log p = -z - exp(-z) - log(scale)            cdf = exp(-exp(-z))
    Half*      log p = log 2 + log p_base(x) on x >= 0, -inf below

StudentT draws N(0, 1) / sqrt(V / df) with V ~ Chi2(df) = Gamma(df / 2, 1/2).
"""
import math
from numbers import Number

from ..autograd._node_names import rename_node
from . import _ops as ops
from . import constraints
from .distribution import Distribution
from .gamma import Gamma
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import AbsTransform, AffineTransform, ExpTransform
from .uniform import Uniform
from .utils import _as_param_dtype, standard_normal, store_broadcast

__all__ = ["Chi2", "Cauchy", "StudentT", "Gumbel", "HalfNormal", "HalfCauchy"]

_LOG_PI = math.log(math.pi)
_LOG_TWO = math.log(2.0)
_EULER = 0.57721566490153286060
_PI_OVER_ROOT6 = math.pi / math.sqrt(6.0)
_ROOT_TWO_OVER_PI = math.sqrt(2.0 / math.pi)
_ONE_MINUS_TWO_OVER_PI = 1 - 2 / math.pi


def _filled(dist, value, like):
    return ops.full(tuple(dist._extended_shape()), value, dtype=like.dtype, device=like.device)


class Chi2(Gamma):
    """The chi-squared law with ``df`` degrees of freedom: Gamma(df / 2, rate 1/2)."""
    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args=None):
        Gamma.__init__(self, df / 2, 1 / 2, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        out = self._get_checked_instance(Chi2, _instance)
        return Gamma.expand(self, batch_shape, out)

    @property
    def df(self):
        """Degrees of freedom: twice the Gamma shape."""
        return 2 * self.concentration


class Cauchy(Distribution):
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        shape = store_broadcast(self, Number, loc=loc, scale=scale)
        super().__init__(shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Cauchy, batch_shape, _instance, ("loc", "scale"))

    @property
    def mean(self):
        return _filled(self, math.nan, self.loc)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return _filled(self, math.inf, self.loc)

    def rsample(self, sample_shape=ops.Size()):
        # PyTorch's way: standard Cauchy draws of cauchy_ (a float64 uniform each, through
        # tan(pi (u - 1/2)), then rounded to the dtype), scaled and shifted
        eps = self.loc.new_empty(self._extended_shape(sample_shape)).cauchy_()
        return self.loc + eps * self.scale

    def log_prob(self, value):
        z = (self._checked(value) - self.loc) / self.scale
        return -_LOG_PI - self.scale.log() - (z * z).log1p()

    def cdf(self, value):
        z = (self._checked(value) - self.loc) / self.scale
        return z.atan() / math.pi + 0.5

    def icdf(self, value):
        return ((value - 0.5) * math.pi).tan() * self.scale + self.loc

    def entropy(self):
        return self.scale.log() + math.log(4 * math.pi)


def _masked_write_node(out):
    """PyTorch's node of ``m[mask] = value`` into a copy m: IndexPutBackward0, except for a
    0-d m (a 0-d mask is a write through a view: CopySlices)."""
    return "torch::autograd::CopySlices" if out.ndim == 0 else "IndexPutBackward0"


class StudentT(Distribution):
    arg_constraints = {"df": constraints.positive, "loc": constraints.real,
                       "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        shape = store_broadcast(self, Number, df=df, loc=loc, scale=scale)
        self._chi2 = Chi2(self.df)
        super().__init__(shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        twin = self._expand_params(StudentT, batch_shape, _instance, ("df", "loc", "scale"))
        twin._chi2 = self._chi2.expand(batch_shape)
        return twin

    @property
    def mean(self):
        # (PyTorch writes the NaNs into a copy of loc by a mask: see _masked_write_node)
        out = ops.where(self.df <= 1, math.nan, self.loc)
        return rename_node(out, _masked_write_node(out))

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        df = self.df
        finite = self.scale.pow(2) * df / ops.where(df > 2, df - 2, 1.0)
        infinite = ops.where(df > 1, math.inf, math.nan)
        out = ops.where(df > 2, finite, infinite)
        return rename_node(out, _masked_write_node(out))

    def rsample(self, sample_shape=ops.Size()):
        normal = standard_normal(self._extended_shape(sample_shape), self.df)
        chi2_per_df = self._chi2.rsample(sample_shape) / self.df
        return normal * chi2_per_df.rsqrt() * self.scale + self.loc

    def log_prob(self, value):
        y = (self._checked(value) - self.loc) / self.scale
        df = self.df
        norm = (self.scale.log() + 0.5 * df.log() + 0.5 * _LOG_PI + ops.lgamma(0.5 * df)
                - ops.lgamma(0.5 * (df + 1.0)))
        return -0.5 * (df + 1.0) * (y.pow(2) / df).log1p() - norm

    def entropy(self):
        df = self.df
        log_beta = ops.lgamma(0.5 * df) + math.lgamma(0.5) - ops.lgamma(0.5 * (df + 1))
        return (self.scale.log() + 0.5 * (df + 1) * (ops.digamma(0.5 * (df + 1))
                                                     - ops.digamma(0.5 * df))
                + 0.5 * df.log() + log_beta)


class Gumbel(TransformedDistribution):
    """As in PyTorch, a TransformedDistribution: U ~ Uniform(tiny, 1 - eps) pushed through
    u -> loc - scale log(-log u); its densities and moments are the closed forms below."""
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        store_broadcast(self, Number, loc=loc, scale=scale)
        info = ops.finfo(self.loc.dtype)
        base = Uniform(ops.full_like(self.loc, info.tiny), ops.full_like(self.loc, 1 - info.eps),
                       validate_args=validate_args)
        chain = [ExpTransform().inv, AffineTransform(0, -ops.ones_like(self.scale)),
                 ExpTransform().inv, AffineTransform(self.loc, -self.scale)]
        super().__init__(base, chain, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        twin = self._get_checked_instance(Gumbel, _instance)
        twin.loc = self.loc.expand(batch_shape)
        twin.scale = self.scale.expand(batch_shape)
        return TransformedDistribution.expand(self, batch_shape, _instance=twin)

    @property
    def mean(self):
        return self.loc + self.scale * _EULER

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale * _PI_OVER_ROOT6

    @property
    def variance(self):
        return self.stddev.pow(2)

    def log_prob(self, value):
        z = (self.loc - self._checked(value)) / self.scale
        return (z - z.exp()) - self.scale.log()

    def cdf(self, value):
        # (PyTorch's last node: the monotonising sign * (F - 0.5) + 0.5 of its transforms)
        return rename_node((-((self.loc - self._checked(value)) / self.scale).exp()).exp(),
                           "AddBackward0")

    # icdf is inherited: torch pushes the base Uniform(tiny, 1 - eps) quantile through the
    # transforms, so 0 and 1 map to finite values rather than -inf / inf

    def entropy(self):
        return self.scale.log() + (1 + _EULER)


class _Folded(TransformedDistribution):
    """|X| for X drawn from a law symmetric about 0 (``base``)."""
    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, base, validate_args=None):
        super().__init__(base, AbsTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        twin = self._get_checked_instance(type(self), _instance)
        return TransformedDistribution.expand(self, batch_shape, _instance=twin)

    @property
    def scale(self):
        return self.base_dist.scale

    def log_prob(self, value):
        value = self._checked(value)
        inside = _LOG_TWO + self.base_dist.log_prob(value)
        return ops.where(value >= 0, inside, -math.inf)

    def cdf(self, value):
        # P(|X| <= v) = P(X <= v) - P(X < -v) = 2 F(v) - 1 by symmetry
        folded = self.base_dist.cdf(self._checked(value))
        return folded * 2 - 1

    def icdf(self, prob):
        upper_half = 0.5 + 0.5 * prob
        return self.base_dist.icdf(upper_half)

    def entropy(self):
        return self.base_dist.entropy() - _LOG_TWO


class HalfNormal(_Folded):
    def __init__(self, scale, validate_args=None):
        super().__init__(Normal(0, scale, validate_args=False), validate_args=validate_args)

    @property
    def mean(self):
        return _ROOT_TWO_OVER_PI * self.scale

    @property
    def mode(self):
        return ops.zeros_like(self.scale)

    @property
    def variance(self):
        return self.scale * self.scale * _ONE_MINUS_TWO_OVER_PI


class HalfCauchy(_Folded):
    def __init__(self, scale, validate_args=None):
        super().__init__(Cauchy(0, scale, validate_args=False), validate_args=validate_args)

    @property
    def mean(self):
        return _filled(self, math.inf, self.scale)

    @property
    def mode(self):
        return ops.zeros_like(self.scale)

    @property
    def variance(self):
        return _filled(self, math.inf, self.scale)

    def log_prob(self, value):
        # (PyTorch casts the value to the scale's dtype first, only for this folded one)
        return super().log_prob(_as_param_dtype(self._checked(value), self.scale))
