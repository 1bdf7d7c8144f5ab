"""Bessel functions of the first kind, ``special.bessel_j0`` and ``special.bessel_j1``, computed
in float64 with numpy alone (forward only: PyTorch defines no gradient for them).

J_n(x) = sum_k (-1)^k (x/2)^(2k+n) / (k! (k+n)!).  Three regimes, each accurate to ~1e-15
absolute:
* |x| < 2: that power series (20 terms, no cancellation to speak of);
* 2 <= |x| < 25: Miller's backward recurrence J_{n-1} = (2n/x) J_n - J_{n+1}, started from an
  order N well above x with arbitrary values and normalised by 1 = J_0 + 2 (J_2 + J_4 + ...);
* |x| >= 25: Hankel's asymptotic expansion J_nu = sqrt(2/(pi x)) (P cos(chi) - Q sin(chi)),
  chi = x - (2 nu + 1) pi / 4, with P, Q series in 1/x whose terms a_k = prod_{j<=k}
  (4 nu^2 - (2j-1)^2) / (k! 8^k) are summed until they are negligible.
J0 is even and J1 odd; +-inf gives NaN, as in PyTorch.  Integer inputs give the default float
dtype, floats keep theirs.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _memory_format as mf, backend, dtypes
from ..tensor import Tensor
from ._util import not_implemented_for, scalar_type_name

__all__ = ["bessel_j0", "bessel_j1"]

_SERIES_END, _ASYMPTOTIC_START = 2.0, 25.0


def _series(x, order):
    half_sq = (x / 2.0) ** 2
    term = np.ones_like(x) if order == 0 else x / 2.0
    total = term.copy()
    for k in range(1, 21):
        term = term * (-half_sq) / (k * (k + order))
        total = total + term
    return total


def _miller(x):
    """(J0(x), J1(x)) for x in [2, 25) by normalised backward recurrence."""
    start = int(x.max() + 30 + 4 * math.sqrt(x.max()))
    start += start % 2
    upper, current = np.zeros_like(x), np.full_like(x, 1e-30)
    even_sum = np.zeros_like(x)          # J_2 + J_4 + ... in the running (unnormalised) scale
    j1 = np.zeros_like(x)
    for n in range(start, 0, -1):        # current holds J_n; step to J_{n-1}
        if n % 2 == 0:
            even_sum += current
        lower = (2.0 * n / x) * current - upper
        upper, current = current, lower
        big = np.abs(current) > 1e250
        if big.any():
            for arr in (upper, current, even_sum):
                arr[big] *= 1e-250
        if n == 1:
            j1 = upper.copy()
    j0 = current
    norm = j0 + 2.0 * even_sum
    return j0 / norm, j1 / norm


def hankel_pq(x, order):
    """Hankel's P and Q series for J/Y of integer ``order`` at large x (A&S 9.2.9-10):
    J = sqrt(2 / (pi x)) (P cos chi - Q sin chi), Y = sqrt(2 / (pi x)) (P sin chi + Q cos chi),
    chi = x - (2 order + 1) pi / 4."""
    mu = 4.0 * order * order
    p, q = np.zeros_like(x), np.zeros_like(x)
    coeff, power = 1.0, np.ones_like(x)
    with np.errstate(over="ignore"):     # huge x: x ** k overflows to inf, so the term is 0
        for k in range(40):
            term = coeff / power
            if k % 4 == 0:
                p += term
            elif k % 4 == 1:
                q += term
            elif k % 4 == 2:
                p -= term
            else:
                q -= term
            coeff *= (mu - (2 * k + 1) ** 2) / ((k + 1) * 8.0)
            power = power * x
    return p, q


def _asymptotic(x, order):
    p, q = hankel_pq(x, order)
    with np.errstate(invalid="ignore"):
        c, s = np.cos(x), np.sin(x)
    if order == 0:       # cos(x - pi/4), sin(x - pi/4)
        cos_chi, sin_chi = (c + s) * math.sqrt(0.5), (s - c) * math.sqrt(0.5)
    else:                # cos(x - 3 pi/4), sin(x - 3 pi/4)
        cos_chi, sin_chi = (s - c) * math.sqrt(0.5), -(s + c) * math.sqrt(0.5)
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.sqrt(2.0 / (math.pi * x)) * (p * cos_chi - q * sin_chi)
    return out


def _bessel(input, order):
    if not isinstance(input, Tensor):
        raise TypeError(f"special_bessel_j{order}(): argument 'input' (position 1) must be "
                        f"Tensor, not {type(input).__name__}")
    if input._array.dtype == np.float16:     # PyTorch's CPU kernel has no Half version
        raise not_implemented_for(f"bessel_j{order}_cpu", input._array.dtype)
    if input._array.dtype.kind == "c":       # nor a complex one (no silent real part)
        raise NotImplementedError(f"\"bessel_j{order}_cpu\" not implemented for "
                                  f"'{scalar_type_name(input._array.dtype)}'")
    dtype = input._array.dtype if input._array.dtype.kind in "fV" else dtypes.default_float().np
    x = backend.as_numpy(input._array).astype(np.float64).reshape(-1)
    ax = np.abs(x)
    out = np.full_like(x, np.nan)
    small = ax < _SERIES_END
    mid = (ax >= _SERIES_END) & (ax < _ASYMPTOTIC_START)
    large = ax >= _ASYMPTOTIC_START
    if small.any():
        out[small] = _series(ax[small], order)
    if mid.any():
        out[mid] = _miller(ax[mid])[order]
    if large.any():
        out[large] = _asymptotic(ax[large], order)
    if order == 1:
        out = np.where(x < 0, -out, out)
    out = mf.pointwise_result(out.reshape(input._array.shape).astype(dtype), input._array)
    return Tensor._wrap(backend.to_device(out, input.device))


def bessel_j0(input):
    """J0(x), the Bessel function of the first kind of order 0, elementwise (see module)."""
    return _bessel(input, 0)


def bessel_j1(input):
    """J1(x), the Bessel function of the first kind of order 1, elementwise (see module)."""
    return _bessel(input, 1)
