"""``VonMises(loc, concentration)``: the circular normal law of an angle,

    log p(x) = kappa cos(x - mu) - log(2 pi) - log I0(kappa)

(mu = loc, kappa = concentration, I_n the modified Bessel functions of the first kind).
``loc`` and the values may be any real numbers, read as angles modulo 2 pi; draws land in
[-pi, pi).  ``mean`` and ``variance`` are the circular ones: mu and 1 - I1(kappa) / I0(kappa).

log I0 and log I1 use the polynomial approximations of Abramowitz & Stegun 9.8.1-9.8.4
(relative error below 2e-7), split at kappa = 3.75, written with differentiable minigrad
ops.  Sampling (no rsample) is the rejection method of Best & Fisher (1979), run in float64
on the global generator with PyTorch's draws (a seed gives its numbers; concentrations
above 1e12, where the method breaks down in float64, draw the normal limit).
"""
from __future__ import annotations

import math

import numpy as np

from . import _ops as ops
from . import constraints
from .distribution import Distribution
from .._random_factories import normal_draws, uniform_draws
from .utils import broadcast_all, lazy_property, param_numpy, wrap_draws

__all__ = ["VonMises"]

_LOG_TWO_PI = math.log(2 * math.pi)
_SPLIT = 3.75
_NORMAL_LIMIT = 1e12     # concentrations above it are sampled as N(0, 1 / kappa)
# Abramowitz & Stegun 9.8.1 / 9.8.3: coefficients of powers of (x / 3.75)^2, lowest first;
# for I1 the polynomial approximates I1(x) / x
_SMALL_X = {
    0: (1.0, 3.5156229, 3.0899424, 1.2067492, 0.2659732, 0.0360768, 0.0045813),
    1: (0.5, 0.87890594, 0.51498869, 0.15084934, 0.02658733, 0.00301532, 0.00032411),
}
# Abramowitz & Stegun 9.8.2 / 9.8.4: coefficients of powers of 3.75 / x for
# sqrt(x) exp(-x) I_n(x), lowest first
_LARGE_X = {
    0: (0.39894228, 0.01328592, 0.00225319, -0.00157565, 0.00916281, -0.02057706,
        0.02635537, -0.01647633, 0.00392377),
    1: (0.39894228, -0.03988024, -0.00362018, 0.00163801, -0.01031555, 0.02282967,
        -0.02895312, 0.01787654, -0.00420059),
}


def _horner(coefficients, y):
    """sum_k coefficients[k] y^k, evaluated from the highest power down."""
    total = coefficients[-1]
    for c in reversed(coefficients[:-1]):
        total = total * y + c
    return total


def log_bessel_i(x, order):
    """log I_order(x) for x > 0 and order 0 or 1 (Abramowitz & Stegun's approximations).

    Each branch only sees inputs on its own side of 3.75, so neither produces inf or nan
    that could leak into the other's gradient."""
    if order not in (0, 1):
        raise ValueError(f"order must be 0 or 1, got {order}")
    below = x < _SPLIT
    x_small = ops.where(below, x, 1.0)
    x_large = ops.where(below, 2 * _SPLIT, x)
    small = _horner(_SMALL_X[order], (x_small / _SPLIT).square()).log()
    if order == 1:
        small = small + x_small.abs().log()
    large = (x_large - 0.5 * x_large.log()
             + _horner(_LARGE_X[order], _SPLIT / x_large).log())
    return ops.where(below, small, large)


def _proposal_r(kappa):
    """Best & Fisher's envelope parameter r = (1 + rho^2) / (2 rho), with
    tau = 1 + sqrt(1 + 4 kappa^2), rho = (tau - sqrt(2 tau)) / (2 kappa); for kappa below
    1e-5 its expansion 1 / kappa + kappa (the exact form cancels catastrophically there)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = 1.0 + np.sqrt(1.0 + 4.0 * kappa * kappa)
        rho = (tau - np.sqrt(2.0 * tau)) / (2.0 * kappa)
        exact = (1.0 + rho * rho) / (2.0 * rho)
        return np.where(kappa < 1e-5, 1.0 / kappa + kappa, exact)


def _centred_angles(kappa):
    """Draws of the von Mises law with mean 0 and concentration ``kappa`` (float64 array),
    by rejection as PyTorch samples, so that a seed gives its numbers: each round draws
    three float64 uniforms for every element (torch.rand((3,) + shape)) and every element
    whose proposal is accepted in that round takes it, done or not, until all have been.

    Above ``_NORMAL_LIMIT`` the envelope's r - 1 ~ 1 / (2 kappa) is lost to rounding and the
    rejection loop would never accept; there the law equals N(0, 1 / kappa) to within
    O(1 / kappa), far below float64's resolution of the draws, and that is drawn instead
    (PyTorch's loop does not end there).  A concentration that is not positive (possible
    with validation off) gives nan."""
    shape = kappa.shape
    angles = np.zeros(shape)
    sharp = kappa > _NORMAL_LIMIT
    if sharp.any():
        angles[sharp] = normal_draws(None, (int(sharp.sum()),), np.dtype(np.float64))
        angles[sharp] /= np.sqrt(kappa[sharp])
    bad = ~(kappa > 0)                       # invalid (unvalidated) concentrations
    angles[bad] = math.nan
    done = sharp | bad
    r = _proposal_r(np.where(done, 1.0, kappa))
    while not done.all():
        u1, u2, u3 = uniform_draws(None, (3,) + shape, np.dtype(np.float64))
        z = np.cos(math.pi * u1)
        f = (1.0 + r * z) / (r + z)
        c = kappa * (r - f)
        with np.errstate(divide="ignore", invalid="ignore"):
            accept = ((c * (2.0 - c) - u2) > 0) | (np.log(c / u2) + 1.0 - c >= 0)
            accept &= ~(sharp | bad)
            angles = np.where(accept, np.sign(u3 - 0.5) * np.arccos(f), angles)
        done |= accept
    return angles


class VonMises(Distribution):
    """Angles with location ``loc`` (radians) and concentration ``concentration`` > 0,
    broadcast together to the batch shape; scalar events."""
    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args=None):
        self.loc, self.concentration = broadcast_all(loc, concentration)
        super().__init__(self.loc.shape, ops.Size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        """A new instance on the broadcast parameters (as PyTorch's, it ignores
        ``_instance``)."""
        flag = self.__dict__.get("_validate_args")
        return type(self)(self.loc.expand(batch_shape), self.concentration.expand(batch_shape),
                          validate_args=flag)

    @property
    def mean(self):
        """The circular mean: loc."""
        return self.loc

    @property
    def mode(self):
        return self.loc

    @lazy_property
    def variance(self):
        """The circular variance 1 - I1(kappa) / I0(kappa)."""
        kappa = self.concentration
        return 1 - (log_bessel_i(kappa, 1) - log_bessel_i(kappa, 0)).exp()

    def log_prob(self, value):
        """kappa cos(value - loc) - log(2 pi) - log I0(kappa)."""
        x = self._checked(value)
        kappa = self.concentration
        return kappa * (x - self.loc).cos() - _LOG_TWO_PI - log_bessel_i(kappa, 0)

    def sample(self, sample_shape=ops.Size()):
        """Draws of shape sample_shape + batch_shape in [-pi, pi), loc's dtype, no gradient."""
        shape = tuple(self._extended_shape(sample_shape))
        kappa = np.broadcast_to(param_numpy(self.concentration).astype(np.float64), shape)
        loc = self.loc.detach().double()
        angles = wrap_draws(_centred_angles(np.array(kappa, dtype=np.float64)), loc)
        # wrapped in float64 by PyTorch's remainder, then cast to loc's dtype
        return ((angles + math.pi + loc) % (2 * math.pi) - math.pi).to(self.loc.dtype)
