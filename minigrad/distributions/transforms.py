"""Transforms: invertible maps y = f(x) together with log|det dy/dx|, the pieces a
TransformedDistribution is built from.

    AffineTransform(loc, scale)   y = loc + scale * x        log|J| = log|scale|
    ExpTransform()                y = exp(x)                 log|J| = x
    SigmoidTransform()            y = 1 / (1 + exp(-x))      log|J| = -softplus(-x) - softplus(x)
    TanhTransform()               y = tanh(x)                log|J| = 2 (log 2 - x - softplus(-2x))
    ComposeTransform([f, g, ...]) y = ...g(f(x))             sum of the parts' log|J|

``t.inv`` is the inverse map.  With ``cache_size=1`` a transform keeps its latest (x, y)
pair, so inverting a y it produced gives back that very x (this matters for tanh, whose
inverse is imprecise near +-1).
"""
from __future__ import annotations

import math
from numbers import Number

from . import _ops as ops
from . import constraints
from .utils import broadcast_all, sum_rightmost
from ._transform_base import (  # noqa: F401  (Transform is public here, as in torch)
    _LOG_TWO, _TOO_FEW_DIMS, ComposeTransform, Transform, _Parameterless, _with_event_dims,
    identity_transform)

__all__ = ["Transform", "AbsTransform", "AffineTransform", "ComposeTransform",
           "ExpTransform", "IndependentTransform", "PowerTransform", "SigmoidTransform",
           "SoftmaxTransform", "SoftplusTransform", "StickBreakingTransform", "TanhTransform",
           "identity_transform"]

class _Elementwise(_Parameterless):
    """Base of the parameter-free, increasing, elementwise bijections (domain: all reals,
    inherited)."""
    bijective = True
    sign = +1


class ExpTransform(_Elementwise):
    """y = exp(x), from the reals onto the positive reals."""
    codomain = constraints.positive

    def _call(self, x):
        return x.exp()

    def _inverse(self, y):
        return y.log()

    def log_abs_det_jacobian(self, x, y):
        return x                                      # d exp(x)/dx = exp(x)


class AbsTransform(_Parameterless):
    """y = |x|: folds the reals onto the non-negative half. Not a bijection: the inverse
    returns the non-negative preimage, y itself. HalfNormal and HalfCauchy are built on it."""
    codomain = constraints.positive

    def _call(self, x):
        return x.abs()

    def _inverse(self, y):
        return y


def _inside_unit_interval(p):
    """p clamped to [tiny, 1 - eps] of its dtype, so log(p) and log(1 - p) stay finite."""
    info = ops.finfo(p.dtype)
    return p.clamp(min=info.tiny, max=1.0 - info.eps)


class SigmoidTransform(_Elementwise):
    """y = 1 / (1 + exp(-x)), from the reals onto (0, 1); the inverse is the logit."""
    codomain = constraints.unit_interval

    def _call(self, x):
        return _inside_unit_interval(x.sigmoid())

    def _inverse(self, y):
        p = _inside_unit_interval(y)
        return p.log() - (-p).log1p()

    def log_abs_det_jacobian(self, x, y):
        # sigmoid' = sigmoid(x) sigmoid(-x); log sigmoid(t) = -softplus(-t)
        return -(ops.softplus(x) + ops.softplus(-x))


class TanhTransform(_Elementwise):
    """y = tanh(x), from the reals onto (-1, 1).  atanh loses precision near +-1, so pass
    cache_size=1 when inverting this transform's own outputs (as SAC does)."""
    codomain = constraints.interval(lower_bound=-1.0, upper_bound=1.0)

    def _call(self, x):
        return x.tanh()

    def _inverse(self, y):
        return y.atanh()

    def log_abs_det_jacobian(self, x, y):
        # log(1 - tanh(x)^2) = 2 log(2 e^-x / (1 + e^-2x)), arranged to avoid overflow
        return 2.0 * (_LOG_TWO - x - ops.softplus(-2.0 * x))


def _same_parameter(a, b):
    """Equality of two AffineTransform parameters (numbers or tensors)."""
    a_number, b_number = isinstance(a, Number), isinstance(b, Number)
    if a_number and b_number:
        return a == b
    if not (a_number or b_number) and a.shape != b.shape:
        return False
    return bool((a == b).all())


class AffineTransform(Transform):
    """y = loc + scale * x, elementwise; with ``event_dim`` > 0 the rightmost event_dim
    dims form one event, over which the log-Jacobian is summed."""
    bijective = True

    def __init__(self, loc, scale, event_dim=0, cache_size=0):
        Transform.__init__(self, cache_size)
        self.loc, self.scale = loc, scale
        self._event_dim = event_dim

    @property
    def event_dim(self):
        return self._event_dim

    def _space(self):
        return _with_event_dims(constraints.real, self._event_dim)

    @constraints.dependent_property(is_discrete=False)
    def domain(self):
        return self._space()

    @constraints.dependent_property(is_discrete=False)
    def codomain(self):
        return self._space()

    def with_cache(self, cache_size=1):
        if cache_size == self._cache_size:
            return self
        return AffineTransform(self.loc, self.scale, self._event_dim, cache_size=cache_size)

    def __eq__(self, other):
        return (isinstance(other, AffineTransform)
                and _same_parameter(self.loc, other.loc)
                and _same_parameter(self.scale, other.scale))

    def __hash__(self):
        return id(self)

    @property
    def sign(self):
        if not isinstance(self.scale, Number):
            return self.scale.sign()
        value = float(self.scale)
        return (value > 0) - (value < 0)

    def _call(self, x):
        return x * self.scale + self.loc

    def _inverse(self, y):
        shifted = y - self.loc
        return shifted / self.scale

    def log_abs_det_jacobian(self, x, y):
        batch = tuple(x.shape)
        if isinstance(self.scale, Number):
            log_gain = ops.full(batch, math.log(abs(self.scale)), dtype=x.dtype, device=x.device)
        else:
            log_gain = self.scale.abs().log()
        if self._event_dim:
            keep = log_gain.dim() - self._event_dim
            log_gain = log_gain.reshape(tuple(log_gain.shape)[:keep] + (-1,)).sum(-1)
            batch = batch[:len(batch) - self._event_dim]
        return log_gain.expand(batch)

    def forward_shape(self, shape):
        shapes = [tuple(shape)] + [tuple(getattr(p, "shape", ())) for p in (self.loc, self.scale)]
        return ops.Size(ops.broadcast_shapes(*shapes))

    def inverse_shape(self, shape):
        return self.forward_shape(shape)


class SoftplusTransform(_Elementwise):
    """y = log(1 + exp(x)), from the reals onto the positive reals; x = y + log(-expm1(-y))."""
    codomain = constraints.positive

    def _call(self, x):
        return ops.softplus(x)

    def _inverse(self, y):
        return (-ops.expm1(-y)).log() + y

    def log_abs_det_jacobian(self, x, y):
        return -ops.softplus(-x)                      # log sigmoid(x)


class PowerTransform(Transform):
    """y = x^p on the positive reals, elementwise; p = ``exponent``, a number or a tensor
    broadcasting with x.  log |dy/dx| = log |p x^(p-1)| = log |p y / x|."""
    domain = constraints.positive
    codomain = constraints.positive
    bijective = True

    def __init__(self, exponent, cache_size=0):
        Transform.__init__(self, cache_size)
        self.exponent = broadcast_all(exponent)[0]

    def with_cache(self, cache_size=1):
        same = cache_size == self._cache_size
        return self if same else PowerTransform(exponent=self.exponent, cache_size=cache_size)

    @property
    def sign(self):
        """+1 where p > 0 (increasing), -1 where p < 0."""
        return self.exponent.sign()

    def __eq__(self, other):
        same_kind = isinstance(other, PowerTransform)
        return same_kind and bool(self.exponent.eq(other.exponent).all())

    def __hash__(self):
        return id(self)

    def _call(self, x):
        return x.pow(self.exponent)

    def _inverse(self, y):
        return y.pow(self.exponent.reciprocal())

    def log_abs_det_jacobian(self, x, y):
        slope = self.exponent * y / x
        return slope.abs().log()

    def forward_shape(self, shape):
        both = (tuple(shape), tuple(self.exponent.shape))
        return ops.Size(ops.broadcast_shapes(*both))

    def inverse_shape(self, shape):
        return self.forward_shape(shape)


def _last_dim_resizer(change):
    """A forward_shape/inverse_shape method for a transform acting on the last dim: the
    shape with its last size changed by ``change``; at least one dim is required."""
    def resize(self, shape):
        if not len(shape):
            raise ValueError(_TOO_FEW_DIMS)
        if change == 0:
            return shape
        return shape[:-1] + (shape[-1] + change,)
    return resize


class SoftmaxTransform(_Parameterless):
    """y = exp(x) / sum(exp(x)) over the last dim: real vectors onto the simplex. Not a
    bijection (x + c gives the same y); the inverse returns log y."""
    domain = constraints.real_vector
    codomain = constraints.simplex

    def _call(self, x):
        shifted = x - x.max(-1, True)[0]           # the largest entry becomes exp(0) = 1
        weights = shifted.exp()
        return weights / weights.sum(-1, True)

    def _inverse(self, y):
        return y.log()

    forward_shape = inverse_shape = _last_dim_resizer(0)


class StickBreakingTransform(_Parameterless):
    """R^(k-1) onto the k-simplex by stick breaking, a bijection: piece i takes the
    fraction z_i = sigmoid(x_i - log(k - 1 - i)) of what the earlier pieces left over, the
    last piece whatever remains (so x = 0 maps to the uniform vector)."""
    domain = constraints.real_vector
    codomain = constraints.simplex
    bijective = True

    @staticmethod
    def _log_offsets(n, like):
        """log(n), log(n - 1), ..., log(1) in ``like``'s dtype."""
        return ops.arange(n, 0, -1, dtype=like.dtype, device=like.device).log()

    def _call(self, x):
        z = _inside_unit_interval((x - self._log_offsets(x.shape[-1], x)).sigmoid())
        left = (1 - z).cumprod(-1)
        ones = ops.ones(tuple(x.shape[:-1]) + (1,), dtype=x.dtype, device=x.device)
        return ops.cat([z, ones], -1) * ops.cat([ones, left], -1)

    def _inverse(self, y):
        pieces = y[..., :-1]
        left = (1 - pieces.cumsum(-1)).clamp(min=ops.finfo(y.dtype).tiny)
        return pieces.log() - left.log() + self._log_offsets(pieces.shape[-1], y)

    def log_abs_det_jacobian(self, x, y):
        shifted = x - self._log_offsets(x.shape[-1], x)
        return (-shifted - ops.softplus(-shifted) + y[..., :-1].log()).sum(-1)

    forward_shape = _last_dim_resizer(+1)
    inverse_shape = _last_dim_resizer(-1)


def _from_base_transform(name):
    """A read-only property giving the wrapped transform's attribute ``name``."""
    return property(lambda self: getattr(self.base_transform, name))


def _base_transform_method(name):
    """A method that calls the wrapped transform's method ``name`` with the same argument."""
    def forwarded(self, arg):
        return getattr(self.base_transform, name)(arg)
    forwarded.__name__ = name
    return forwarded


class IndependentTransform(Transform):
    """``base_transform`` with its ``reinterpreted_batch_ndims`` rightmost dims treated as
    part of the event: domain and codomain gain those dims and the log-Jacobian is summed
    over them."""

    def __init__(self, base_transform, reinterpreted_batch_ndims, cache_size=0):
        Transform.__init__(self, cache_size)
        self.base_transform, self.reinterpreted_batch_ndims = (
            base_transform.with_cache(cache_size), reinterpreted_batch_ndims)

    def with_cache(self, cache_size=1):
        if cache_size == self._cache_size:
            return self
        return type(self)(self.base_transform, self.reinterpreted_batch_ndims, cache_size)

    def _widened(self, constraint):
        return constraints.independent(constraint, self.reinterpreted_batch_ndims)

    @constraints.dependent_property(is_discrete=False)
    def domain(self):
        return self._widened(self.base_transform.domain)

    @constraints.dependent_property(is_discrete=False)
    def codomain(self):
        return self._widened(self.base_transform.codomain)

    bijective = _from_base_transform("bijective")
    sign = _from_base_transform("sign")

    def _call(self, x):
        self._need_dims(x, self.domain)
        return self.base_transform(x)

    def _inverse(self, y):
        self._need_dims(y, self.codomain)
        undo = self.base_transform.inv
        return undo(y)

    @staticmethod
    def _need_dims(t, space):
        if t.dim() < space.event_dim:
            raise ValueError(_TOO_FEW_DIMS)

    def log_abs_det_jacobian(self, x, y):
        per_element = self.base_transform.log_abs_det_jacobian(x, y)
        return sum_rightmost(per_element, self.reinterpreted_batch_ndims)

    forward_shape = _base_transform_method("forward_shape")
    inverse_shape = _base_transform_method("inverse_shape")

    def __repr__(self):
        inner, ndims = self.base_transform, self.reinterpreted_batch_ndims
        return f"{type(self).__name__}({inner!r}, {ndims})"


# the further transforms live in transforms_more (which builds on _transform_base, as this
# module does); re-exported so that they are reachable from here as in torch
from .transforms_more import (  # noqa: E402
    CatTransform, CorrCholeskyTransform, CumulativeDistributionTransform,
    LowerCholeskyTransform, PositiveDefiniteTransform, ReshapeTransform, StackTransform)

__all__ += ["CatTransform", "CorrCholeskyTransform", "CumulativeDistributionTransform",
            "LowerCholeskyTransform", "PositiveDefiniteTransform", "ReshapeTransform",
            "StackTransform"]
