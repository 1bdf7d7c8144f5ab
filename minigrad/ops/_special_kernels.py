"""The numerics behind ``special_functions``: numpy kernels for the gamma family, the
complementary error function and its inverse and modified Bessel functions, each to
float64 precision.

Every kernel takes and returns float64 numpy arrays and is vectorised: the loops below run a
fixed, small number of times (or until every element has converged), never once per element.
The methods are the textbook ones, named in each docstring:

* lgamma: Taylor series of lgamma(2 + z) (coefficients (zeta(k) - 1) / k) near 1 and 2, the
  recurrence Gamma(x + 1) = x Gamma(x) down to that interval, Stirling's series from 12 on,
  and the reflection formula for negative x;
* digamma: the asymptotic series from 10 on, the recurrence psi(x + 1) = psi(x) + 1/x below,
  reflection psi(1 - x) - psi(x) = pi cot(pi x) for negative x;
* Hurwitz zeta (and polygamma(n) = (-1)^(n+1) n! zeta(n + 1, x)): a direct sum up to a
  threshold, then the Euler-Maclaurin tail;
* erfcx / erfc: Laplace's continued fraction from x = 2 on, Taylor series of erfcx (from its
  differential equation erfcx' = 2 x erfcx - 2/sqrt(pi)) about a few nodes on [0.5, 2);
* erfinv / ndtri: a closed-form first guess refined by Halley or Newton steps;
* i0e / i1e: the power series below 25, Hankel's asymptotic series above.

(The regularized incomplete gamma functions are in ``_gamma_inc_kernels``.)
"""
from __future__ import annotations

import math

import numpy as np

from .error_function import _erf_array

__all__ = ["lgamma", "digamma", "hurwitz_zeta", "polygamma", "erfcx", "erfc", "log_ndtr",
           "erfinv", "ndtri", "i0e", "i1e", "i0", "i1"]

_PI = math.pi
_SQRT_PI = math.sqrt(math.pi)
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_EULER = 0.57721566490153286061
# Bernoulli numbers B_2, B_4, ..., B_30 (exact fractions, evaluated once)
_BERNOULLI = [1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510,
              43867 / 798, -174611 / 330, 854513 / 138, -236364091 / 2730, 8553103 / 6,
              -23749461029 / 870, 8615841276005 / 14322]


def _sinpi_reduced(x):
    """r = x - round(x) in [-1/2, 1/2] (exact in floating point), so that sin(pi x) and
    tan(pi x) are computed from a small argument: pi * x itself would carry an error of
    pi * ulp(x) into them, which is large when x is."""
    return x - np.round(x)


# ----------------------------------------------------------------------------------------------
# Hurwitz zeta (needed first: lgamma's Taylor coefficients come from it)
# ----------------------------------------------------------------------------------------------
def _hurwitz_positive(s, q):
    """zeta(s, q) = sum_k (q + k)^-s for s > 1, q > 0 (arrays of one shape).

    Sums the terms directly until q + k reaches a threshold W, then adds the Euler-Maclaurin
    tail  w^(1-s)/(s-1) + w^-s/2 + sum_j B_2j/(2j)! s(s+1)...(s+2j-2) w^(1-s-2j).  The tail's
    terms shrink like ((s + 2j) / (2 pi w))^2 per step, so W grows with s (capped: for larger
    s the first terms dominate the sum and the tail is negligible anyway).
    """
    threshold = np.clip(s + 10.0, 12.0, 60.0)
    total = np.zeros_like(q)
    w = q.copy()
    steps = int(np.max(np.ceil(threshold - q), initial=0.0)) if q.size else 0
    for _ in range(max(steps, 0)):
        mask = w < threshold
        total = total + np.where(mask, w ** -s, 0.0)
        w = np.where(mask, w + 1.0, w)
    # from w^(1-s), not w^-s: for large w the latter underflows before the quotient does
    w1s = w ** (1.0 - s)
    w2 = w * w
    tail = w1s / (s - 1.0) + 0.5 * w1s / w
    factor = s * w1s / w2                # s w^(-s-1): the j = 1 term's power and rising factor
    fact = 2.0                           # (2j)!
    for j, b in enumerate(_BERNOULLI[:12], start=1):
        tail = tail + b / fact * factor
        factor = factor * (s + 2 * j - 1) * (s + 2 * j) / w2
        fact *= (2 * j + 1) * (2 * j + 2)
    return total + tail


def hurwitz_zeta(s, q):
    """zeta(s, q) with PyTorch's conventions: inf at s = 1 and at q a non-positive integer,
    NaN for s < 1 and for q < 0 with s not an integer (or infinite).

    For q < 0 (s an integer) the terms (q + k)^-s with q + k < 0 are (-1)^s (r + i)^-s with
    r = 1 - (q + m) in (0, 1), m = ceil(-q), so zeta(s, q) = (-1)^s (zeta(s, r) -
    zeta(s, r + m)) + zeta(s, q + m): only positive arguments are ever summed.
    """
    s, q = np.broadcast_arrays(np.asarray(s, np.float64), np.asarray(q, np.float64))
    s, q = s.copy(), q.copy()
    ok = (s > 1.0) & (q > 0.0) & np.isfinite(q) & np.isfinite(s)
    neg = (s > 1.0) & np.isfinite(s) & (q < 0.0) & np.isfinite(q) & (q != np.floor(q)) & \
        (s == np.floor(s))
    out = np.full(s.shape, np.nan)
    out[ok] = _hurwitz_positive(s[ok], q[ok])
    if neg.any():
        sn, qn = s[neg], q[neg]
        m = np.ceil(-qn)
        t = qn + m
        r = 1.0 - t
        sign = np.where(np.mod(sn, 2.0) == 0.0, 1.0, -1.0)
        out[neg] = sign * (_hurwitz_positive(sn, r) - _hurwitz_positive(sn, r + m)) + \
            _hurwitz_positive(sn, t)
    with np.errstate(invalid="ignore"):
        # as PyTorch, a NaN s does not hide the poles of q (nor a NaN q the pole at s = 1)
        pole = (s == 1.0) | (~(s < 1.0) & (q <= 0.0) & (q == np.floor(q)))
        # s = inf: the first term decides, (q)^-inf: 1 at q = 1, inf below, 0 above (some
        # term with |q + k| < 1 for a negative q)
        top = (s == np.inf) & ~pole & (q < np.inf)
        out[top] = np.select([q[top] == 1.0, q[top] < 1.0], [1.0, np.inf], 0.0)
    out[pole] = np.inf
    return out


# (zeta(k) - 1) / k for k = 2..31: lgamma(2 + z) = (1 - gamma) z + sum_k (-1)^k c_k z^k
_K = np.arange(2, 32, dtype=np.float64)
_LGAMMA_TAYLOR = hurwitz_zeta(_K, np.full_like(_K, 2.0)) / _K


def _lgamma_near_two(z):
    """lgamma(2 + z) for |z| <= 1/2, from its Taylor series (Horner)."""
    acc = np.zeros_like(z)
    for k in range(len(_LGAMMA_TAYLOR) - 1, -1, -1):
        acc = acc * z + (_LGAMMA_TAYLOR[k] if k % 2 == 0 else -_LGAMMA_TAYLOR[k])
    return z * ((1.0 - _EULER) + z * acc)


def _lgamma_positive(x):
    """lgamma(x) for x > 0 (finite)."""
    out = np.empty_like(x)
    # 0 < x < 1/2: lgamma(x) = lgamma(2 + x) - log1p(x) - log(x)
    m = x < 0.5
    out[m] = _lgamma_near_two(x[m]) - np.log1p(x[m]) - np.log(x[m])
    # 1/2 <= x < 3/2: lgamma(x) = lgamma(2 + (x-1)) - log1p(x-1); x - 1 is exact here
    m = (x >= 0.5) & (x < 1.5)
    z = x[m] - 1.0
    out[m] = _lgamma_near_two(z) - np.log1p(z)
    # 3/2 <= x < 12: down to 2 + z, z = x - round(x), by Gamma(x) = (x-1)...(2+z) Gamma(2+z)
    m = (x >= 1.5) & (x < 12.0)
    xm = x[m]
    z = xm - np.round(xm)
    n = np.round(xm) - 2.0
    prod = np.ones_like(xm)
    for k in range(1, 11):
        prod = np.where(k <= n, prod * (xm - k), prod)
    out[m] = _lgamma_near_two(z) + np.log(prod)
    # x >= 12: Stirling's series, (x - 1/2) log x - x + log(2 pi)/2 + sum B_2k/(2k(2k-1)x^(2k-1))
    m = x >= 12.0
    xm = x[m]
    inv = 1.0 / xm
    inv2 = inv * inv
    series = np.zeros_like(xm)
    for k in range(8, 0, -1):
        series = series * inv2 + _BERNOULLI[k - 1] / (2 * k * (2 * k - 1))
    out[m] = (xm - 0.5) * np.log(xm) - xm + _HALF_LOG_2PI + series * inv
    return out


def lgamma(x):
    """log|Gamma(x)|; inf at the poles (0 and the negative integers) and at +-inf.

    Negative x: reflection, lgamma(x) = log(pi / |sin(pi x)|) - lgamma(1 - x).
    """
    x = np.asarray(x, np.float64)
    out = np.full(x.shape, np.inf)
    out[np.isnan(x)] = np.nan
    pos = (x > 0.0) & np.isfinite(x)
    out[pos] = _lgamma_positive(x[pos])
    neg = (x < 0.0) & np.isfinite(x) & (x != np.floor(x))
    xn = x[neg]
    out[neg] = math.log(_PI) - np.log(np.abs(np.sin(_PI * _sinpi_reduced(xn)))) - \
        _lgamma_positive(1.0 - xn)
    return out


def _digamma_positive(x):
    """psi(x) for x > 0: shift up to x + n >= 10 (psi(x) = psi(x + n) - sum 1/(x + k)), then
    psi(w) = log w - 1/(2w) - sum_k B_2k / (2k w^2k)."""
    acc = np.zeros_like(x)
    w = x.copy()
    for _ in range(10):
        mask = w < 10.0
        acc = acc - np.where(mask, 1.0 / w, 0.0)
        w = np.where(mask, w + 1.0, w)
    inv2 = 1.0 / (w * w)
    series = np.zeros_like(w)
    for k in range(8, 0, -1):
        series = series * inv2 + _BERNOULLI[k - 1] / (2 * k)
    return acc + np.log(w) - 0.5 / w - series * inv2


def digamma(x):
    """psi(x) = Gamma'(x) / Gamma(x), with PyTorch's values at the poles: -inf at +0, +inf at
    -0, NaN at the negative integers and -inf; +inf at +inf."""
    x = np.asarray(x, np.float64)
    out = np.full(x.shape, np.nan)
    pos = x > 0.0
    out[pos] = _digamma_positive(x[pos])
    neg = (x < 0.0) & np.isfinite(x) & (x != np.floor(x))
    xn = x[neg]
    out[neg] = _digamma_positive(1.0 - xn) - _PI / np.tan(_PI * _sinpi_reduced(xn))
    zero = x == 0.0
    out[zero] = np.where(np.signbit(x[zero]), np.inf, -np.inf)
    return out


def polygamma(n, x):
    """psi^(n)(x), the n-th derivative of digamma: (-1)^(n+1) n! zeta(n + 1, x) for n >= 1."""
    x = np.asarray(x, np.float64)
    if n == 0:
        return digamma(x)
    out = (1.0 if n % 2 else -1.0) * math.factorial(n) * hurwitz_zeta(float(n + 1), x)
    if n == 1:
        # PyTorch's trigamma: 0 at +inf, NaN at -inf (where the poles pile up)
        out = np.where(x == np.inf, 0.0, np.where(x == -np.inf, np.nan, out))
    return out


# ----------------------------------------------------------------------------------------------
# Complementary error function
# ----------------------------------------------------------------------------------------------
def _exp_neg_square(x):
    """exp(-x^2) without the rounding of x^2 (an absolute error of x^2 * 2^-53, i.e. a
    relative one in the result that grows like x^2): x = hi + lo with hi's square exact."""
    x = np.minimum(np.abs(x), 1e10)      # exp(-x^2) is 0 long before; x * 2^12 must not overflow
    hi = np.floor(x * 2.0 ** 12) / 2.0 ** 12
    lo = x - hi
    return np.exp(-hi * hi) * np.exp(-lo * (2.0 * hi + lo))


def _erfcx_cf(x, depth=70):
    """erfcx(x) for x >= 2: 1 / (sqrt(pi) (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))),
    Laplace's continued fraction evaluated bottom-up at a fixed depth."""
    frac = x
    for k in range(depth, 0, -1):
        frac = x + (k / 2.0) / frac
    return 1.0 / (_SQRT_PI * frac)


# Taylor nodes on [0.5, 2): erfcx there from the continued fraction run very deep (once)
_NODES = np.arange(0.625, 2.0, 0.25)
_NODE_VALUES = _erfcx_cf(_NODES, depth=4000)


def _erfcx_taylor(x):
    """erfcx(x) for 1/2 <= x < 2: the Taylor series about the nearest node x0 (|h| <= 1/8).

    f = erfcx satisfies f' = 2 x f - 2/sqrt(pi), so its Taylor coefficients about x0 obey
    (n + 1) c_(n+1) = 2 x0 c_n + 2 c_(n-1) - (2/sqrt(pi)) [n = 0].
    """
    idx = np.clip(np.floor((x - 0.5) / 0.25), 0, len(_NODES) - 1).astype(np.intp)
    x0 = _NODES[idx]
    h = x - x0
    prev, cur = np.zeros_like(x), _NODE_VALUES[idx]
    total = cur.copy()
    hp = np.ones_like(x)
    for n in range(0, 24):
        nxt = (2.0 * x0 * cur + 2.0 * prev - (2.0 / _SQRT_PI if n == 0 else 0.0)) / (n + 1)
        hp = hp * h
        total = total + nxt * hp
        prev, cur = cur, nxt
    return total


def erfcx(x):
    """exp(x^2) erfc(x): the continued fraction (x >= 2), Taylor about nodes (1/2 <= x < 2),
    exp(x^2) (1 - erf(x)) below (no cancellation there: 1 - erf(x) >= 0.47)."""
    x = np.asarray(x, np.float64)
    out = np.empty_like(x)
    big = x >= 2.0
    out[big] = _erfcx_cf(x[big])
    mid = (x >= 0.5) & (x < 2.0)
    out[mid] = _erfcx_taylor(x[mid])
    low = ~(big | mid)          # also NaN
    xl = x[low]
    out[low] = (1.0 - _erf_array(xl)) / _exp_neg_square(xl)
    out[x == -np.inf] = np.inf
    return out


def erfc(x):
    """1 - erf(x) with full relative precision for large x: exp(-x^2) erfcx(x) for x >= 1/2."""
    x = np.asarray(x, np.float64)
    out = 1.0 - _erf_array(x)
    up = x >= 0.5
    xu = x[up]
    out[up] = _exp_neg_square(xu) * erfcx(xu)
    out[x == np.inf] = 0.0
    return out


def log_ndtr(x):
    """log Phi(x), Phi the standard normal CDF.  For x < -1, with t = -x/sqrt 2,
    log(erfcx(t) / 2) - t^2 (no underflow); otherwise log1p(-erfc(x/sqrt 2) / 2)."""
    x = np.asarray(x, np.float64)
    t = x * math.sqrt(0.5)
    low = x < -1.0
    out = np.log1p(-0.5 * erfc(np.where(low, 0.0, t)))
    tl = t[low]
    out[low] = np.log(0.5 * erfcx(-tl)) - tl * tl
    return out


# ----------------------------------------------------------------------------------------------
# Inverse error function and the normal quantile
# ----------------------------------------------------------------------------------------------
def _inverse_core(a, q):
    """y >= 0 with erf(y) = a, given a in [0, 1] and q = 1 - a (both exact: callers know
    which one was computed without rounding).

    a < 1/2: Maclaurin's series of erfinv as a first guess, then Halley's method on
    erf(y) - a.  a >= 1/2: Winitzki's closed-form approximation (about 1e-3 relative),
    written with log(q (2 - q)) = log(1 - a^2) so that tiny q keep their precision, then
    Newton's method on log erfc(y) - log q, whose derivative -2 / (sqrt(pi) erfcx(y)) is
    well scaled however far out the tail is.
    """
    out = np.empty_like(a)
    small = a < 0.5
    s = a[small]
    s2 = s * s
    y = 0.5 * _SQRT_PI * s * (1.0 + s2 * (_PI / 12 + s2 * (7 * _PI ** 2 / 480 +
                                                          s2 * 127 * _PI ** 3 / 40320)))
    for _ in range(3):
        u = (_erf_array(y) - s) / (2.0 / _SQRT_PI * np.exp(-y * y))
        y = y - u / (1.0 + y * u)
    out[small] = y
    qb = q[~small]
    ln = np.log(qb * (2.0 - qb))
    c = 2.0 / (_PI * 0.147) + 0.5 * ln
    y = np.sqrt(np.sqrt(c * c - ln / 0.147) - c)
    logq = np.log(qb)
    for _ in range(5):
        ex = erfcx(y)
        f = np.log(ex) - y * y - logq
        y = y + f * (0.5 * _SQRT_PI) * ex
    out[~small] = y
    return out


def erfinv(x):
    """The inverse of erf on [-1, 1] (+-inf at +-1, NaN outside)."""
    x = np.asarray(x, np.float64)
    a = np.abs(x)
    ok = a < 1.0
    out = np.where(a == 1.0, np.inf, np.nan)
    out[ok] = _inverse_core(a[ok], 1.0 - a[ok])
    out[x == 0.0] = 0.0
    return np.copysign(out, x)


def ndtri(p):
    """The standard normal quantile Phi^-1(p) = sqrt 2 erfinv(2p - 1), with 2p - 1 and its
    complement formed exactly (2p for p < 1/2, 2 - 2p above)."""
    p = np.asarray(p, np.float64)
    ok = (p > 0.0) & (p < 1.0)
    pk = p[ok]
    lower = pk < 0.5
    a = np.where(lower, 1.0 - 2.0 * pk, 2.0 * pk - 1.0)
    q = np.where(lower, 2.0 * pk, 2.0 - 2.0 * pk)
    out = np.where(p == 0.0, -np.inf, np.where(p == 1.0, np.inf, np.nan))
    out[ok] = np.where(lower, -1.0, 1.0) * math.sqrt(2.0) * _inverse_core(a, q)
    return out


# ----------------------------------------------------------------------------------------------
# Modified Bessel functions of the first kind, orders 0 and 1
# ----------------------------------------------------------------------------------------------
_BESSEL_SPLIT = 25.0


def _bessel_series(ax, order):
    """sum_k (x^2/4)^k / (k! (k + order)!), times (x/2)^order: I_order(x) for |x| < 25."""
    t = 0.25 * ax * ax
    term = np.ones_like(ax)
    total = term.copy()
    for k in range(1, 60):
        term = term * t / (k * (k + order))
        total = total + term
    return total * (0.5 * ax) ** order


def _bessel_asymptotic(ax, order):
    """e^-x I_order(x) for x >= 25: Hankel's expansion, 1/sqrt(2 pi x) sum_k a_k, with
    a_k = -a_(k-1) (4 order^2 - (2k - 1)^2) / (8 k x)."""
    mu = 4.0 * order * order
    term = np.ones_like(ax)
    total = term.copy()
    for k in range(1, 32):
        term = term * -(mu - (2 * k - 1) ** 2) / (8.0 * k * ax)
        total = total + term
    return total / (np.sqrt(2.0 * _PI) * np.sqrt(ax))     # (2 pi x overflows near 1e308)


def _scaled_bessel(x, order):
    """e^-|x| I_order(|x|)."""
    ax = np.abs(np.asarray(x, np.float64))
    out = np.empty_like(ax)
    small = ax < _BESSEL_SPLIT                    # False for NaN: the asymptotic branch keeps it
    out[small] = _bessel_series(ax[small], order) * np.exp(-ax[small])
    out[~small] = _bessel_asymptotic(ax[~small], order)
    return out


def i0e(x):
    """exp(-|x|) I0(x)."""
    return _scaled_bessel(x, 0)


def i1e(x):
    """exp(-|x|) I1(x) (odd)."""
    x = np.asarray(x, np.float64)
    return np.copysign(_scaled_bessel(x, 1), x) + 0.0     # (PyTorch's i1e(-0.0) is +0.0)


def _unscaled(x, order):
    x = np.asarray(x, np.float64)
    ax = np.abs(x)
    small = ax < _BESSEL_SPLIT
    out = _scaled_bessel(x, order) * np.exp(ax)        # NaN at +-inf, as PyTorch
    out[small] = _bessel_series(ax[small], order)
    return out if order == 0 else np.copysign(out, x) + 0.0     # (i1(-0.0) is +0.0)


def i0(x):
    """I0(x), the modified Bessel function of the first kind of order 0."""
    return _unscaled(x, 0)


def i1(x):
    """I1(x), the modified Bessel function of the first kind of order 1."""
    return _unscaled(x, 1)
