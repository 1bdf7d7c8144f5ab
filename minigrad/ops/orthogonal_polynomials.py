"""``torch.special``'s classical orthogonal polynomials, each a function of (x, n): Chebyshev
T, U, V, W and their shifted forms (argument 2x - 1), physicists' and probabilists' Hermite
H and He, Laguerre L and Legendre P.

x and n are tensors or Python numbers (not both numbers) and broadcast together; the result has
their promoted dtype, or the default float dtype when that is integral (float16 is refused, as
in PyTorch).  n is first converted to that dtype and then truncated to an integer, so 2.7 acts as
2; a negative n (or one too large for int64, inf, NaN) gives 0.  Everything is computed in the
result dtype, as PyTorch does (float32 recurrence steps in float64, rounded to float32 after
each step, which is what PyTorch's fused multiply-adds do), by the three-term recurrence of each
family,

    T, U, V, W:  P_{k+1} = 2x P_k - P_{k-1}        (P_1 = x, 2x, 2x - 1, 2x + 1)
    H:  H_{k+1} = 2x H_k - 2k H_{k-1}               He: He_{k+1} = x He_k - k He_{k-1}
    L:  (k+1) L_{k+1} = (2k + 1 - x) L_k - k L_{k-1}
    P:  (k+1) P_{k+1} = (2k + 1) x P_k - k P_{k-1},

except where PyTorch takes a closed form: at x = +-1 (and, shifted, at 0 and 1), and for the
Chebyshev families inside (-1, 1) at large n, through theta = acos x:
T = cos(n theta), U = sin((n+1) theta) / sin theta, V = cos((n+1/2) theta) / cos(theta/2),
W = sin((n+1/2) theta) / sin(theta/2).  Hermite of degree above 512 (128 in float32) is NaN.

PyTorch defines no derivative for these: the result never requires grad.  The recurrence is
vectorised over elements sorted by degree, so its cost is the sum of the degrees, not their
maximum times the element count.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import _memory_format as mf, backend, dtypes
from ..tensor import Tensor
from ._util import (broadcast_shape, ieee_errors, not_implemented_for, result_dtype,
                    scalar_type_name)

__all__ = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
           "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
           "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
           "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
           "laguerre_polynomial_l", "legendre_polynomial_p"]

_INT64_LIMIT = 2.0 ** 63


def _operands(name, x, n):
    """(x, n as int64, dtype, shape, device) after PyTorch's checks and promotion."""
    tensors = [v for v in (x, n) if isinstance(v, Tensor)]
    numbers_ok = all(isinstance(v, (Tensor, numbers.Number)) for v in (x, n))
    if not tensors or not numbers_ok:
        raise TypeError(
            f"special_{name}() received an invalid combination of arguments - got "
            f"({type(x).__name__}, {type(n).__name__}), but expected one of:\n"
            f" * (Tensor x, Tensor n, *, Tensor out = None)\n"
            f" * (Number x, Tensor n, *, Tensor out = None)\n"
            f" * (Tensor x, Number n, *, Tensor out = None)\n")
    dtype = np.dtype(result_dtype(x, n))
    if dtype.kind == "c":                    # PyTorch has no complex kernel (no silent real part)
        raise NotImplementedError(f"\"{name}_cpu\" not implemented for "
                                  f"'{scalar_type_name(dtype)}'")
    if dtype.kind not in "fV":
        dtype = np.dtype(dtypes.default_float().np)
    if dtype == np.float16:
        raise not_implemented_for(f"{name}_cpu", dtype)
    device = tensors[0].device
    arrays = [backend.as_numpy(v._array) if isinstance(v, Tensor) else np.asarray(v)
              for v in (x, n)]
    shape = broadcast_shape(arrays[0].shape, arrays[1].shape, f"special_{name}")
    xa = np.broadcast_to(arrays[0].astype(dtype), shape).reshape(-1)
    # n passes through the result dtype, then C's truncation; what int64 cannot hold is -1
    nf = np.broadcast_to(arrays[1].astype(dtype), shape).reshape(-1).astype(np.float64)
    representable = np.isfinite(nf) & (np.abs(nf) < _INT64_LIMIT)
    na = np.where(representable, np.trunc(np.where(representable, nf, 0.0)), -1).astype(np.int64)
    return xa, na, dtype, shape, device


class _Filler:
    """The output being filled: ``set(mask, value)`` fills still-open elements under mask."""

    def __init__(self, x):
        self.out = np.full_like(x, np.nan)
        self.open = np.ones(x.shape, dtype=bool)

    def set(self, mask, value):
        mask = mask & self.open
        if mask.any():
            self.out[mask] = np.broadcast_to(value, self.out.shape)[mask]
            self.open &= ~mask


def _recurrence(fill, x, n, first, step, stop_on_nan=True, divisor=None):
    """Fill the open elements with P_n(x), from P_0 = 1, P_1 = ``first`` and
    P_{k+1} = step(k, x, P_k, P_{k-1}) / divisor(k) (no division without ``divisor``).
    Elements are sorted by n so that those still running at degree d are a suffix of the
    sorted order."""
    fill.set(n == 0, x.dtype.type(1.0))
    fill.set(n == 1, first)
    idx = np.flatnonzero(fill.open)
    if idx.size == 0:
        return
    order = idx[np.argsort(n[idx], kind="stable")]
    # float32 steps are evaluated in float64 and rounded once, as the fused multiply-adds of
    # PyTorch's compiled kernels round them (float64 steps are left to numpy's arithmetic)
    work = np.float64
    xs, ns = x[order].astype(work), n[order]
    prev = np.ones_like(xs)
    cur = np.broadcast_to(np.asarray(first)[order] if np.ndim(first) else first, xs.shape)
    cur = cur.astype(work)
    narrow = x.dtype != work
    result = np.empty_like(xs)
    start, top = 0, int(ns[-1])
    for k in range(1, top):
        s = slice(start, None)
        nxt = step(k, xs[s], cur[s], prev[s])
        if narrow:      # the numerator is a float32 value in PyTorch (it may overflow there)
            nxt = nxt.astype(x.dtype).astype(work)
        if divisor is not None:
            nxt = nxt / divisor(k)
            if narrow:
                nxt = nxt.astype(x.dtype).astype(work)
        prev[s], cur[s] = cur[s], nxt
        done = start + int(np.searchsorted(ns[s], k + 1, side="right"))
        result[start:done] = cur[start:done]
        start = done
        if start == xs.size:
            break
        if stop_on_nan and k % 64 == 0 and np.isnan(cur[start:]).all():
            break                   # NaN persists through the recurrence: nothing left to do
    result[start:] = cur[start:]            # only left over after the NaN early exit
    fill.out[order] = result.astype(x.dtype)
    fill.open[order] = False


def _wrap(name, x, n, compute):
    xa, na, dtype, shape, device = _operands(name, x, n)
    with ieee_errors():
        out = compute(xa, na, dtype.type)
    # laid out from the tensor operands (x first), a number taking no part
    out = mf.pointwise_result(out.reshape(shape), *(backend.as_numpy(v._array) for v in (x, n)
                                                     if isinstance(v, Tensor)))
    return Tensor._wrap(backend.to_device(out, device))


def _rounded(fn, a):
    """fn(a) evaluated in float64 and rounded to a's dtype: a correctly rounded float32
    cos/acos in effect, as PyTorch's kernels have (numpy's own float32 ones are less exact)."""
    return fn(a.astype(np.float64)).astype(a.dtype)


def _parity(n, even, odd):
    return np.where(n % 2 == 0, even, odd)


def _chebyshev(kind, x, n, w, shifted):
    """Chebyshev T/U/V/W of x (or of 2x - 1 when ``shifted``), in dtype w."""
    y = x + x - w(1.0) if shifted else x
    fill = _Filler(x)
    fill.set(n < 0, w(0.0))
    n_plus = (n + 1).astype(w)
    two_n1 = (2 * n + 1).astype(w)
    # the closed forms at the ends of [-1, 1] (for shifted ones, x = 1 and x = 0)
    top, bottom = (x == 1.0, x == 0.0) if shifted else (y == 1.0, y == -1.0)
    end_top = {"t": w(1.0), "u": n_plus, "v": w(1.0), "w": two_n1}[kind]
    end_bottom = {"t": _parity(n, w(1.0), w(-1.0)), "u": _parity(n, n_plus, -n_plus),
                  "v": _parity(n, two_n1, -two_n1), "w": _parity(n, w(1.0), w(-1.0))}[kind]
    fill.set(top, end_top)
    fill.set(bottom, end_bottom)
    # inside (-1, 1) for large n: trigonometric closed forms
    threshold = 6 if kind == "t" or shifted else 8
    if shifted and kind == "w":
        threshold = 4
    inside = (n > threshold) & (np.abs(y) < 1.0)
    if (inside & fill.open).any():
        theta = _rounded(np.arccos, np.where(inside, y, w(0.0)))
        nw = n.astype(w)
        cos, sin = (lambda v: _rounded(np.cos, v)), (lambda v: _rounded(np.sin, v))
        if kind == "t":
            value = cos(nw * theta)
        elif kind == "u":
            s = sin(theta)
            value = np.where(s != 0, sin((nw + w(1.0)) * theta) / np.where(s != 0, s, w(1.0)),
                             n_plus * cos(n_plus * theta) / y)
        elif kind == "v":
            half = theta / w(2.0)
            value = np.where(sin(half) != 1, cos((nw + w(0.5)) * theta) / cos(half),
                             _parity(n, two_n1, -two_n1))
        else:
            half = theta / w(2.0)
            at_one = _parity(n, w(1.0), w(-1.0))
            if not shifted:
                at_one = np.where(y > 0, two_n1, at_one)
            value = np.where(cos(half) != 1, sin((nw + w(0.5)) * theta) / sin(half), at_one)
        fill.set(inside, value.astype(w))
    first = {"t": y, "u": y + y, "v": y + y - w(1.0), "w": y + y + w(1.0)}[kind]
    _recurrence(fill, y, n, first, lambda k, yy, q, p: (yy + yy) * q - p)
    return fill.out


def _hermite(x, n, w, physicists):
    fill = _Filler(x)
    fill.set(n < 0, w(0.0))
    fill.set(n == 0, w(1.0))
    fill.set(n == 1, x + x if physicists else x)
    fill.set(n > (512 if w == np.float64 else 128), w(np.nan))
    if physicists:
        step = lambda k, xx, q, p: (xx + xx) * q - w(2 * k) * p  # noqa: E731
    else:
        step = lambda k, xx, q, p: xx * q - w(k) * p  # noqa: E731
    _recurrence(fill, x, n, x + x if physicists else x, step, stop_on_nan=False)
    return fill.out


def _laguerre(x, n, w):
    fill = _Filler(x)
    fill.set(n < 0, w(0.0))
    fill.set(x == 0, w(1.0))
    _recurrence(fill, x, n, w(1.0) - x,
                lambda k, xx, q, p: (w(k + k) + (w(1.0) - xx)) * q - w(k) * p,
                divisor=lambda k: w(k + 1))
    return fill.out


def _legendre(x, n, w):
    fill = _Filler(x)
    fill.set(n < 0, w(0.0))
    fill.set(x == 1.0, w(1.0))
    fill.set(x == -1.0, _parity(n, w(1.0), w(-1.0)))
    _recurrence(fill, x, n, x, lambda k, xx, q, p: w(k + k + 1) * xx * q - w(k) * p,
                divisor=lambda k: w(k + 1))
    return fill.out


def chebyshev_polynomial_t(x, n):
    """T_n(x), the Chebyshev polynomial of the first kind (cos(n theta) at x = cos theta)."""
    return _wrap("chebyshev_polynomial_t", x, n, lambda a, m, w: _chebyshev("t", a, m, w, False))


def chebyshev_polynomial_u(x, n):
    """U_n(x), the Chebyshev polynomial of the second kind."""
    return _wrap("chebyshev_polynomial_u", x, n, lambda a, m, w: _chebyshev("u", a, m, w, False))


def chebyshev_polynomial_v(x, n):
    """V_n(x), the Chebyshev polynomial of the third kind."""
    return _wrap("chebyshev_polynomial_v", x, n, lambda a, m, w: _chebyshev("v", a, m, w, False))


def chebyshev_polynomial_w(x, n):
    """W_n(x), the Chebyshev polynomial of the fourth kind."""
    return _wrap("chebyshev_polynomial_w", x, n, lambda a, m, w: _chebyshev("w", a, m, w, False))


def shifted_chebyshev_polynomial_t(x, n):
    """T*_n(x) = T_n(2x - 1), the shifted Chebyshev polynomial of the first kind."""
    return _wrap("shifted_chebyshev_polynomial_t", x, n,
                 lambda a, m, w: _chebyshev("t", a, m, w, True))


def shifted_chebyshev_polynomial_u(x, n):
    """U*_n(x) = U_n(2x - 1), the shifted Chebyshev polynomial of the second kind."""
    return _wrap("shifted_chebyshev_polynomial_u", x, n,
                 lambda a, m, w: _chebyshev("u", a, m, w, True))


def shifted_chebyshev_polynomial_v(x, n):
    """V*_n(x) = V_n(2x - 1), the shifted Chebyshev polynomial of the third kind."""
    return _wrap("shifted_chebyshev_polynomial_v", x, n,
                 lambda a, m, w: _chebyshev("v", a, m, w, True))


def shifted_chebyshev_polynomial_w(x, n):
    """W*_n(x) = W_n(2x - 1), the shifted Chebyshev polynomial of the fourth kind."""
    return _wrap("shifted_chebyshev_polynomial_w", x, n,
                 lambda a, m, w: _chebyshev("w", a, m, w, True))


def hermite_polynomial_h(x, n):
    """H_n(x), the physicists' Hermite polynomial (H_1 = 2x)."""
    return _wrap("hermite_polynomial_h", x, n, lambda a, m, w: _hermite(a, m, w, True))


def hermite_polynomial_he(x, n):
    """He_n(x), the probabilists' Hermite polynomial (He_1 = x)."""
    return _wrap("hermite_polynomial_he", x, n, lambda a, m, w: _hermite(a, m, w, False))


def laguerre_polynomial_l(x, n):
    """L_n(x), the Laguerre polynomial."""
    return _wrap("laguerre_polynomial_l", x, n, _laguerre)


def legendre_polynomial_p(x, n):
    """P_n(x), the Legendre polynomial."""
    return _wrap("legendre_polynomial_p", x, n, _legendre)
