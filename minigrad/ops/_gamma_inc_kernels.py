"""The regularized incomplete gamma functions P(a, x) and Q(a, x) = 1 - P(a, x), in float64
numpy (vectorised; the loops run until every element has converged).

* a >= 20 with x within a factor of about 3 of a: Temme's uniform asymptotic expansion,
  Q = erfc(eta sqrt(a/2)) / 2 + e^(-a eta^2/2) / sqrt(2 pi a) sum_k c_k(eta) a^-k, where
  eta^2 / 2 = lambda - 1 - log(lambda), lambda = x / a (eta has the sign of lambda - 1).
  There the power series and the continued fraction would need about sqrt(a) steps, and the
  prefactor x^a e^-x / Gamma(a) would lose its digits (a log x and lgamma(a) are both huge);
* otherwise: the power series for x < a + 1, Legendre's continued fraction (modified Lentz)
  above.

The c_k are used through their Taylor series in eta, derived here once (on first use) from
their definition: c_0 = 1/(lambda - 1) - 1/eta and c_k = c_{k-1}'(eta) / eta +
(-1)^k g_k / (lambda - 1), g_k the coefficients of Stirling's series of Gamma(a)
(Gamma(a) ~ sqrt(2 pi) a^(a - 1/2) e^-a sum g_k a^-k).
"""
from __future__ import annotations

import math

import numpy as np

from ._special_kernels import _BERNOULLI, erfc, lgamma

__all__ = ["gammainc", "gammaincc", "log_density_offset"]

_TINY = 1e-300

# Stirling's series of Gamma(a) / (sqrt(2 pi) a^(a - 1/2) e^-a): 1 + 1/(12 a) + ...
_STIRLING = [1.0, 1 / 12, 1 / 288, -139 / 51840, -571 / 2488320, 163879 / 209018880,
             5246819 / 75246796800, -534703531 / 902961561600]
_TERMS = len(_STIRLING)          # c_0 ... c_7
_ORDER = 30                      # Taylor terms of each c_k (converge for |eta| < 2 sqrt(pi))
_ASYMPTOTIC_A = 20.0             # from here on, with |eta| <= 1, the expansion is used
_coefficients = []               # [array (_TERMS, _ORDER)], filled on first use


def _series_inverse(s):
    """The power series 1 / s(t) (s[0] != 0), as many terms as s."""
    out = np.zeros_like(s)
    out[0] = 1.0 / s[0]
    for n in range(1, len(s)):
        out[n] = -np.dot(s[1:n + 1], out[n - 1::-1]) / s[0]
    return out


def _temme_coefficients():
    """Taylor coefficients in eta of c_0 ... c_{_TERMS - 1}: row k, column n is the
    coefficient of eta^n in c_k."""
    if _coefficients:
        return _coefficients[0]
    size = _ORDER + 2 * _TERMS + 1
    # eta = mu s(mu), mu = lambda - 1, s^2 = 2 (mu - log(1 + mu)) / mu^2 = sum 2 (-mu)^n/(n+2)
    s2 = np.array([2.0 * (-1.0) ** n / (n + 2) for n in range(size)])
    s = np.zeros(size)
    s[0] = 1.0
    for n in range(1, size):
        s[n] = (s2[n] - np.dot(s[1:n], s[n - 1:0:-1])) / 2.0
    # mu / eta = 1 / s(mu(eta)): fixed-point iteration, each pass fixes one more term
    ratio = np.zeros(size)
    ratio[0] = 1.0
    for _ in range(size):
        mu = np.concatenate([[0.0], ratio[:-1]])             # mu = eta * ratio
        composed = np.zeros(size)
        for c in s[::-1]:                                    # s(mu), by Horner
            composed = np.convolve(composed, mu)[:size]
            composed[0] += c
        ratio = _series_inverse(composed)
    inv = _series_inverse(ratio)                             # eta / mu, so 1/mu = inv / eta
    rows = [inv[1:]]                                         # c_0 = (inv - 1) / eta
    for k in range(1, _TERMS):
        prev = rows[-1]
        # c_{k-1}' / eta + (-1)^k g_k inv / eta; the 1/eta terms cancel
        n = np.arange(len(prev) - 2)
        rows.append((n + 2) * prev[n + 2] + (-1) ** k * _STIRLING[k] * inv[n + 1])
    _coefficients.append(np.array([row[:_ORDER] for row in rows]))
    return _coefficients[0]


def _eta(a, x):
    """sign(x - a) sqrt(2 (d - log(1 + d))), d = (x - a) / a; d - log1p(d) by its series
    for small d (the difference would cancel)."""
    d = (x - a) / a
    half_sq = d - np.log1p(d)
    small = np.abs(d) < 0.05
    ds = d[small]
    acc = np.zeros_like(ds)
    for n in range(16, 1, -1):                   # d^2 (1/2 - d/3 + d^2/4 - ...)
        acc = acc * -ds + 1.0 / n
    half_sq[small] = ds * ds * acc
    return np.sign(d) * np.sqrt(2.0 * half_sq)


def _temme(a, x, eta):
    """(P, Q) by Temme's expansion (see the module docstring)."""
    table = _temme_coefficients()
    total = np.zeros_like(a)
    for k in range(_TERMS - 1, -1, -1):
        total = total / a + np.polynomial.polynomial.polyval(eta, table[k])
    rest = np.exp(-0.5 * a * eta * eta) / np.sqrt(2.0 * math.pi * a) * total
    y = eta * np.sqrt(0.5 * a)
    above = eta >= 0.0                           # compute the smaller of P and Q directly
    q = 0.5 * erfc(np.where(above, y, 0.0)) + rest
    p = 0.5 * erfc(np.where(above, 0.0, -y)) - rest
    return np.where(above, 1.0 - q, p), np.where(above, q, 1.0 - p)


def _series_or_fraction(a, x):
    """(P, Q) for a > 0, 0 < x < inf away from Temme's region.

    x < a + 1: P = x^a e^-x / Gamma(a + 1) sum_n x^n / ((a+1)...(a+n)).  Otherwise
    Q = x^a e^-x / Gamma(a) / (x + 1 - a - 1 (1 - a) / (x + 3 - a - 2 (2 - a) / ...)), by the
    modified Lentz algorithm."""
    log_pref = a * np.log(x) - x - lgamma(a)
    p = np.zeros_like(a)
    q = np.zeros_like(a)
    ser = x < a + 1.0
    aa, xx = a[ser], x[ser]
    term = 1.0 / aa
    total = term.copy()
    den = aa.copy()
    for _ in range(5000):
        den = den + 1.0
        term = term * xx / den
        total = total + term
        if not np.any(np.abs(term) > np.abs(total) * 1e-17):
            break
    p[ser] = np.exp(log_pref[ser]) * total
    q[ser] = 1.0 - p[ser]
    aa, xx = a[~ser], x[~ser]
    b = xx + 1.0 - aa
    c = np.full_like(b, 1.0 / _TINY)
    d = 1.0 / b
    h = d.copy()
    for i in range(1, 5000):
        an = -i * (i - aa)
        b = b + 2.0
        d = an * d + b
        d = np.where(np.abs(d) < _TINY, _TINY, d)
        c = b + an / c
        c = np.where(np.abs(c) < _TINY, _TINY, c)
        d = 1.0 / d
        delta = d * c
        h = h * delta
        if not np.any(np.abs(delta - 1.0) > 1e-16):
            break
    q[~ser] = np.exp(log_pref[~ser]) * h
    p[~ser] = 1.0 - q[~ser]
    return p, q


def _incomplete_gamma(a, x):
    """(P, Q) for a > 0, 0 < x < inf."""
    p = np.empty_like(a)
    q = np.empty_like(a)
    eta = np.full_like(a, np.inf)
    big = a >= _ASYMPTOTIC_A
    eta[big] = _eta(a[big], x[big])
    temme = np.abs(eta) <= 1.0
    p[temme], q[temme] = _temme(a[temme], x[temme], eta[temme])
    p[~temme], q[~temme] = _series_or_fraction(a[~temme], x[~temme])
    return p, q


def _gammainc_pair(a, x):
    a, x = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(x, np.float64))
    p = np.full(a.shape, np.nan)
    q = np.full(a.shape, np.nan)
    main = (a > 0.0) & (x > 0.0) & np.isfinite(a) & np.isfinite(x)
    p[main], q[main] = _incomplete_gamma(a[main], x[main])
    # the ends, tried in PyTorch's order (so a NaN beside a decisive other operand gives
    # that end: P(nan, 0) = 0, P(nan, inf) = 1, P(inf, nan) = 0)
    with np.errstate(invalid="ignore"):
        open_ = ~((a < 0.0) | (x < 0.0))
        a_zero = open_ & (a == 0.0)
        ends = [(a_zero, np.where(x > 0.0, 1.0, np.nan))]
        open_ &= ~a_zero
        ends.append((open_ & (x == 0.0), 0.0))
        open_ &= x != 0.0
        ends.append((open_ & np.isinf(a), np.where(np.isinf(x), np.nan, 0.0)))
        open_ &= ~np.isinf(a)
        ends.append((open_ & np.isinf(x), 1.0))
    for where_, value in ends:
        value = np.broadcast_to(value, a.shape)[where_]
        p[where_], q[where_] = value, 1.0 - value
    return p, q


def log_density_offset(a):
    """log(x^(a-1) e^-x / Gamma(a)) - a (log1p(d) - d) + log x, d = (x - a) / a, for a >= 20:
    log(a / 2 pi) / 2 minus Stirling's remainder of lgamma(a) (sum B_2k / (2k (2k-1) a^(2k-1))),
    so that the density of large a is computed without subtracting huge logarithms."""
    a = np.asarray(a, np.float64)
    inv2 = 1.0 / (a * a)
    series = np.zeros_like(a)
    for k in range(8, 0, -1):
        series = series * inv2 + _BERNOULLI[k - 1] / (2 * k * (2 * k - 1))
    return 0.5 * np.log(a / (2.0 * math.pi)) - series / a


def gammainc(a, x):
    """The regularized lower incomplete gamma function P(a, x)."""
    return _gammainc_pair(a, x)[0]


def gammaincc(a, x):
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x)."""
    return _gammainc_pair(a, x)[1]
