"""The numerics behind ``bessel_more``: float64 numpy kernels for the Bessel functions of the
second kind Y0, Y1, the modified Bessel functions K0, K1 (and e^x K), and the Airy function Ai.

Every kernel takes a flat float64 array of finite, in-domain arguments and is vectorised (the
loops run a fixed number of times, never once per element).  Methods, each accurate to about
1e-16 relative away from zeros of the function:

* small arguments: the ascending series (A&S 9.1.11, 9.6.11) with psi(k+1) = -gamma + H_k;
* Y0, Y1 on [2, 25): Miller's backward recurrence for J_n, normalised by 1 = J0 + 2 sum J_2k,
  with the Neumann series  (pi/2) Y0 = (ln(x/2) + gamma) J0 - 2 sum_k (-1)^k J_2k / k  and its
  derivative (Y1 = -Y0', J_n' = (J_{n-1} - J_{n+1}) / 2) accumulated on the way down;
* Y0, Y1 from 25 on: Hankel's asymptotic expansion (error below e^-2x);
* K_nu on (2, 25] (and K_1/3 for Ai on the positive axis): the trapezoidal rule on
  e^x K_nu(x) = int_0^inf exp(-x (cosh t - 1)) cosh(nu t) dt, whose integrand is analytic in a
  strip, so the rule converges geometrically; the step shrinks like 1/sqrt(x) with the peak;
  above 25 the asymptotic series of e^x K_nu (error below e^-2x);
* Ai on [-2.09, 2.09): its Maclaurin series Ai = Ai(0) f(x) + Ai'(0) g(x);
* Ai(-y) for y > 2.09: (sqrt(y) / 3) (J_1/3(z) + J_-1/3(z)), z = 2/3 y^1.5, by Miller's
  recurrence normalised with (z/2)^nu = sum_k (nu + 2k) Gamma(nu + k) / k! J_{nu+2k}(z), and
  from z = 25 on the asymptotic expansion with coefficients u_k (A&S 10.4.60).
"""
from __future__ import annotations

import math

import numpy as np

from .bessel import hankel_pq

__all__ = ["bessel_y", "bessel_k_scaled", "airy_ai"]

_EULER = 0.57721566490153286061
_TWO_OVER_PI = 2.0 / math.pi
_LN2 = math.log(2.0)
_SERIES_TERMS = 30
_Y_ASYMPTOTIC_START = 25.0
_CHUNK = 1 << 15                  # elements per block of the trapezoidal rule (bounds memory)


def _psi_integers(count):
    """psi(1), ..., psi(count): -gamma + harmonic numbers."""
    return -_EULER + np.concatenate(([0.0], np.cumsum(1.0 / np.arange(1, count))))


_PSI = _psi_integers(_SERIES_TERMS + 2)


def _ascending(x, order, sign):
    """sum_k (psi(k+1) + psi(order+k+1)) (sign x^2/4)^k / (k! (order+k)!) and the matching
    J_order (sign = -1) or I_order (sign = +1) series, both times (x/2)^order."""
    quarter = sign * x * x / 4.0
    term = np.ones_like(x) if order == 0 else x / 2.0
    psi_sum, plain = np.zeros_like(x), np.zeros_like(x)
    for k in range(_SERIES_TERMS):
        psi_sum += (_PSI[k] + _PSI[order + k]) * term
        plain += term
        term = term * quarter / ((k + 1) * (k + 1 + order))
    return psi_sum, plain


def _y_series(x, order):
    psi_sum, j = _ascending(x, order, -1.0)
    out = _TWO_OVER_PI * (np.log(x) - _LN2) * j - psi_sum / math.pi
    return out if order == 0 else out - _TWO_OVER_PI / x


def _y_miller(x):
    """(Y0, Y1) on [2, 25) from normalised backward recurrence (see module docstring)."""
    start = int(x.max() + 40 + 4 * math.sqrt(x.max()))
    start += start % 2
    upper, current = np.zeros_like(x), np.full_like(x, 1e-30)
    norm = np.zeros_like(x)        # J0 + 2 (J2 + J4 + ...), unnormalised
    even_alt = np.zeros_like(x)    # sum_k (-1)^k J_2k / k
    odd_alt = np.zeros_like(x)     # sum_k (-1)^k (J_{2k-1} - J_{2k+1}) / k, regrouped by order
    j1 = np.zeros_like(x)
    for n in range(start, -1, -1):     # current holds J_n
        if n % 2 == 0:
            k = n // 2
            norm += current if n == 0 else 2.0 * current
            if k:
                even_alt += (-1.0) ** k / k * current
        else:
            m = n // 2
            coeff = -1.0 if m == 0 else (-1.0) ** (m + 1) * (1.0 / m + 1.0 / (m + 1))
            odd_alt += coeff * current
            if n == 1:
                j1 = current.copy()
        if n:
            upper, current = current, (2.0 * n / x) * current - upper
        big = np.abs(current) > 1e250
        if big.any():
            for arr in (upper, current, norm, even_alt, odd_alt, j1):
                arr[big] *= 1e-250
    j0 = current / norm
    j1, even_alt, odd_alt = j1 / norm, even_alt / norm, odd_alt / norm
    log_term = np.log(x / 2.0) + _EULER
    y0 = _TWO_OVER_PI * (log_term * j0 - 2.0 * even_alt)
    y1 = _TWO_OVER_PI * (log_term * j1 - j0 / x + odd_alt)
    return y0, y1


def bessel_y(x, order, phase_dtype=np.float64):
    """Y_order(x) for x > 0 (order 0 or 1).  On the asymptotic range the phase
    x - (2 order + 1) pi/4 is formed in ``phase_dtype``: PyTorch computes it in the tensor's
    own precision, and for float32 that rounding dominates the result's error."""
    out = np.empty_like(x)
    small = x < 2.0
    large = x >= _Y_ASYMPTOTIC_START
    mid = ~small & ~large
    if small.any():
        out[small] = _y_series(x[small], order)
    if mid.any():
        out[mid] = _y_miller(x[mid])[order]
    if large.any():
        xl = x[large]
        p, q = hankel_pq(xl, order)
        shift = phase_dtype((2 * order + 1) * math.pi / 4.0)
        chi = (xl.astype(phase_dtype) - shift).astype(np.float64)
        with np.errstate(invalid="ignore"):
            out[large] = np.sqrt(2.0 / (math.pi * xl)) * (p * np.sin(chi) + q * np.cos(chi))
    return out


def _k_series(x, order):
    """K_order(x) from the ascending series, for 0 < x <= 2."""
    psi_sum, i = _ascending(x, order, 1.0)
    if order == 0:
        return -(np.log(x) - _LN2) * i + psi_sum / 2.0
    return 1.0 / x + (np.log(x) - _LN2) * i - psi_sum / 2.0


# The trapezoidal rule's nodes, one grid per band of x.  With step h the rule's error is about
# exp(x (1 - cos d) - 2 pi d / h) for any strip half-width d: below 1e-30 with these steps up
# to each band's top.  Each grid ends where x (cosh t - 1) reaches 47 at the band's bottom,
# where the integrand is below e^-47 of its peak.
_K_ASYMPTOTIC_START = 25.0
_CUT = 47.0


def _band(low, high, step):
    t_end = 2.0 * math.asinh(math.sqrt(_CUT / (2.0 * low)))
    t = np.arange(0.0, t_end + step, step)
    weights = np.full(t.shape, step)
    weights[0] = step / 2.0
    return low, high, t, 2.0 * np.sinh(t / 2.0) ** 2, weights     # cosh t - 1, stably


_BANDS = [_band(2.0, 4.0, 0.1), _band(4.0, 8.0, 0.07), _band(8.0, 16.0, 0.05),
          _band(16.0, _K_ASYMPTOTIC_START, 0.035)]


def _k_scaled_trapezoid(x, nu):
    """e^x K_nu(x) for 2 <= x <= 25 by the trapezoidal rule (see module docstring)."""
    out = np.empty_like(x)
    for low, high, t, rise, weights in _BANDS:
        band = np.flatnonzero((x >= low) & (x <= high) if high == _K_ASYMPTOTIC_START
                              else (x >= low) & (x < high))
        scaled_weights = weights * np.cosh(nu * t)
        for lo in range(0, band.size, _CHUNK):
            idx = band[lo:lo + _CHUNK]
            out[idx] = np.exp(np.multiply.outer(-x[idx], rise)) @ scaled_weights
    return out


def _k_scaled_asymptotic(x, nu):
    """e^x K_nu(x) ~ sqrt(pi / 2x) sum_k prod_{j<=k} (4 nu^2 - (2j-1)^2) / (8 j x), for
    x >= 25 (the terms shrink until k ~ 2x; 40 of them reach below 1e-19)."""
    total, term = np.ones_like(x), np.ones_like(x)
    for j in range(1, 41):
        term = term * (4.0 * nu * nu - (2 * j - 1) ** 2) / (8.0 * j * x)
        total += term
    return np.sqrt(math.pi / (2.0 * x)) * total


def k_scaled(x, nu):
    """e^x K_nu(x) for x >= 2: the trapezoidal rule up to 25, the asymptotic series above."""
    out = np.empty_like(x)
    far = x > _K_ASYMPTOTIC_START
    if far.any():
        out[far] = _k_scaled_asymptotic(x[far], nu)
    if (~far).any():
        out[~far] = _k_scaled_trapezoid(x[~far], nu)
    return out


def bessel_k_scaled(x, order):
    """e^x K_order(x) for x > 0."""
    out = np.empty_like(x)
    small = x <= 2.0
    if small.any():
        xs = x[small]
        out[small] = _k_series(xs, order) * np.exp(xs)
    if (~small).any():
        out[~small] = k_scaled(x[~small], float(order))
    return out


# ----------------------------------------------------------------------------------------------
# Airy Ai
# ----------------------------------------------------------------------------------------------
_AI0 = 0.355028053887817239260           # Ai(0) = 3^(-2/3) / Gamma(2/3)
_AIP0 = 0.258819403792806798405          # -Ai'(0) = 3^(-1/3) / Gamma(1/3)
_GAMMA_2_3 = 1.3541179394264004169
_GAMMA_4_3 = 0.89297951156924921122
_AIRY_SPLIT = 2.09
_AIRY_ASYMPTOTIC_START = 25.0           # in z = 2/3 |x|^1.5


def _airy_maclaurin(x):
    cube = x * x * x
    f_term, g_term = np.ones_like(x), x.copy()
    f, g = f_term.copy(), g_term.copy()
    for k in range(1, 40):
        f_term = f_term * cube / ((3 * k - 1) * (3 * k))
        g_term = g_term * cube / ((3 * k) * (3 * k + 1))
        f += f_term
        g += g_term
    return _AI0 * f - _AIP0 * g


def _j_fractional_sum(z):
    """J_1/3(z) + J_-1/3(z) for 2 <= z < 25 by normalised backward recurrence."""
    total = np.zeros_like(z)
    start = int(z.max() + 40 + 4 * math.sqrt(z.max()))
    for nu, gamma_1_nu in ((1.0 / 3.0, _GAMMA_4_3), (-1.0 / 3.0, _GAMMA_2_3)):
        # weights w_k = (nu + 2k) Gamma(nu + k) / k!  for J_{nu + 2k}
        ratio = [gamma_1_nu]                      # Gamma(nu + k) / k! for k = 1, 2, ...
        for k in range(1, start // 2 + 2):
            ratio.append(ratio[-1] * (nu + k) / (k + 1))
        upper, current = np.zeros_like(z), np.full_like(z, 1e-30)
        norm = np.zeros_like(z)
        for n in range(start, -1, -1):              # current holds J_{nu + n}
            if n % 2 == 0:
                k = n // 2
                norm += (gamma_1_nu if k == 0 else (nu + 2 * k) * ratio[k - 1]) * current
            if n:
                upper, current = current, (2.0 * (nu + n) / z) * current - upper
            big = np.abs(current) > 1e250
            if big.any():
                for arr in (upper, current, norm):
                    arr[big] *= 1e-250
        total += current * (z / 2.0) ** nu / norm
    return total


def _zeta(x, dtype):
    """2/3 |x|^1.5 evaluated in ``dtype`` by PyTorch's sequence of operations (for float32
    its rounding is the main difference from the exact function at large |x|)."""
    ax = np.abs(x).astype(dtype)
    return (dtype(2.0) * ax * np.sqrt(ax) / dtype(3.0)).astype(np.float64)


def _airy_negative_asymptotic(x, dtype):
    """Ai(x) for x <= -(3/2 * 25)^(2/3) from the oscillatory asymptotic expansion."""
    root = np.sqrt(-x)
    zeta = _zeta(x, dtype)
    inv = 1.0 / zeta
    p, q = np.zeros_like(x), np.zeros_like(x)
    u, power = 1.0, np.ones_like(x)
    for k in range(40):
        if k % 4 == 0:
            p += u * power
        elif k % 4 == 1:
            q += u * power
        elif k % 4 == 2:
            p -= u * power
        else:
            q -= u * power
        j = k + 1
        u *= (6 * j - 5) * (6 * j - 3) * (6 * j - 1) / ((2 * j - 1) * 216.0 * j)
        power = power * inv
    phase = (zeta.astype(dtype) + dtype(0.25 * math.pi)).astype(np.float64)
    return (p * np.sin(phase) - q * np.cos(phase)) / (math.sqrt(math.pi) * np.sqrt(root))


def airy_ai(x, dtype=np.float64):
    """Ai(x) for finite x <= 103.892 (PyTorch returns 0 above, NaN at +-inf); ``dtype`` as
    for ``_zeta``."""
    out = np.empty_like(x)
    zeta = _zeta(x, dtype)
    series = (x >= -_AIRY_SPLIT) & (x < _AIRY_SPLIT)
    positive = x >= _AIRY_SPLIT
    far = (x < -_AIRY_SPLIT) & (zeta >= _AIRY_ASYMPTOTIC_START)
    near = (x < -_AIRY_SPLIT) & ~far
    if series.any():
        out[series] = _airy_maclaurin(x[series])
    if positive.any():
        xp, zp = x[positive], zeta[positive]
        out[positive] = (np.sqrt(xp / 3.0) / math.pi * np.exp(-zp)
                         * k_scaled(zp, 1.0 / 3.0))
    if near.any():
        out[near] = np.sqrt(-x[near]) / 3.0 * _j_fractional_sum(zeta[near])
    if far.any():
        out[far] = _airy_negative_asymptotic(x[far], dtype)
    return out
