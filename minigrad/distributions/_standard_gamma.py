"""Gamma(alpha, 1) draws with implicit reparameterization gradients.

A draw x ~ Gamma(alpha, 1) is not a smooth function of alpha and fixed noise, but with
u = P(alpha, x) (the Gamma CDF, the regularized lower incomplete gamma function) held fixed,
x moves with alpha as

    dx/dalpha = -(dP/dalpha)(alpha, x) / p(x; alpha),
    p(x; alpha) = x^(alpha-1) e^-x / Gamma(alpha)

(Figurnov et al., "Implicit Reparameterization Gradients", 2018). dP/dalpha comes from the
series P(a, x) = sum_n x^(a+n) e^-x / Gamma(a + n + 1), differentiated term by term:
each term times (log x - digamma(a + n + 1)).  Vectorised over all draws; the loop runs over
series terms (a few dozen for typical x, more when x is far right of a).  For alpha above
_LARGE_ALPHA the series would need thousands of terms; there x is written through the
Wilson-Hilferty normal approximation x = a (1 - 1/(9a) + z / (3 sqrt a))^3 and differentiated
at fixed z (relative error well under 1e-3 there).

The gradient is first order only: differentiating it again (a second derivative through a
Gamma, Beta or Dirichlet rsample) raises, as in PyTorch.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from .._cpu_stream import SERIAL_SAMPLER_LIMIT
from .._random_factories import stream_of
from ..autograd.function import Function
from ..ops import _special_kernels as kernels

__all__ = ["standard_gamma"]

_MAX_TERMS = 5000
_LARGE_ALPHA = 1000.0
_ONE_THIRD_F32 = float(np.float32(1.0) / np.float32(3.0))


def _dP_dalpha(a, x):
    """d/da of the regularized lower incomplete gamma P(a, x), elementwise (float64)."""
    log_x = np.log(x)
    log_term = a * log_x - x - kernels.lgamma(a + 1.0)         # log of term n = 0
    psi = kernels.digamma(a + 1.0)
    total = np.exp(log_term) * (log_x - psi)
    scale = np.exp(log_term)                                   # running sum of P's terms
    for n in range(1, _MAX_TERMS):
        log_term = log_term + log_x - np.log(a + n)
        psi = psi + 1.0 / (a + n)
        term = np.exp(log_term)
        total = total + term * (log_x - psi)
        scale = scale + term
        # stop once every series is past its peak (n > x - a) and its terms are negligible
        if n > 8 and np.all((n > x - a) & (term <= 1e-17 * scale)):
            break
    return total


def _wilson_hilferty_grad(a, x):
    """dx/da at fixed z for x = a w^3, w = 1 - 1/(9a) + z / (3 sqrt a) (large a)."""
    w = np.cbrt(x / a)
    z = (w - 1.0 + 1.0 / (9.0 * a)) * 3.0 * np.sqrt(a)
    dw_da = 1.0 / (9.0 * a * a) - z / (6.0 * a ** 1.5)
    return w ** 3 + 3.0 * a * w * w * dw_da


def gamma_sample_grad(alpha, x):
    """dx/dalpha for draws ``x`` of Gamma(alpha, 1) (numpy arrays, same shape)."""
    a = alpha.astype(np.float64)
    xs = x.astype(np.float64)
    large = a > _LARGE_ALPHA
    grad = np.empty_like(a)
    grad[large] = _wilson_hilferty_grad(a[large], xs[large])
    small = ~large
    a, xs = a[small], xs[small]
    log_pdf = (a - 1.0) * np.log(xs) - xs - kernels.lgamma(a)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        grad[small] = -_dP_dalpha(a, xs) / np.exp(log_pdf)
    return np.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0).astype(x.dtype)


def _marsaglia_tsang(alpha, stream, single):
    """One Gamma(alpha, 1) draw as PyTorch's CPU kernel makes it, from ``stream``: alpha < 1
    boosted to alpha + 1 and scaled by U^(1/alpha); then Marsaglia and Tsang's rejection
    (d = alpha - 1/3, c = 1/sqrt(9d); x normal, v = (1 + cx)^3, accepted when
    u < 1 - 0.0331 x^4 or log u < x^2/2 + d(1 - v + log v)).  Uniforms and normals are the
    stream's float64 ones (the normal through its cached pair).  ``single``: alpha is a
    float32 value, and 1/alpha, alpha + 1 and d are rounded to float32 as the kernel's
    float arithmetic does."""
    f32 = np.float32 if single else float
    uniform = lambda: float(stream.uniform01(1, np.float64)[0])    # noqa: E731
    scale = 1.0
    if alpha < 1.0:
        if alpha == 0.0:
            return 0.0
        scale *= (1.0 - uniform()) ** float(f32(1.0) / f32(alpha))
        alpha = f32(alpha) + f32(1.0)
    # the kernel's 1/3 is a float32 constant, whatever alpha's precision
    d = float(f32(alpha) - f32(_ONE_THIRD_F32))
    # (a negative alpha: d < 0, and the kernel's NaN c makes a NaN draw, which the caller's
    # max with the smallest normal number turns into that number)
    c = 1.0 / math.sqrt(9.0 * d) if d > 0 else math.nan
    while True:
        while True:
            x = float(stream.normal_pairs(1)[0])
            y = 1.0 + c * x
            if not y <= 0:
                break
        v = y * y * y
        u = 1.0 - uniform()
        xx = x * x
        if u < 1.0 - 0.0331 * xx * xx or math.log(u) < 0.5 * xx + d * (1.0 - v + math.log(v)):
            return scale * d * v


def torch_gamma_draws(alpha, dtype=None):
    """Gamma(alpha, 1) draws for the float array ``alpha``, element by element in C order
    from the global stream (PyTorch's serial kernel: each draw takes as many uniforms and
    normals as its rejections need, so the order cannot be vectorised), as float64.
    ``dtype``: the precision alpha's arithmetic runs in (float32 alpha: float32 steps)."""
    stream = stream_of(None)
    if np.size(alpha) > SERIAL_SAMPLER_LIMIT:
        return stream.numpy_generator().standard_gamma(np.asarray(alpha, dtype=np.float64))
    single = np.dtype(dtype or alpha.dtype) != np.float64
    flat = np.ascontiguousarray(alpha).reshape(-1).tolist()
    return np.array([_marsaglia_tsang(a, stream, single) for a in flat],
                    dtype=np.float64).reshape(np.shape(alpha))


class _StandardGamma(Function):
    """x ~ Gamma(alpha, 1), elementwise; backward: the implicit gradient above, on arrays
    (first order only: differentiating it again raises, as PyTorch's does)."""
    first_order_only = True

    def forward(self, alpha, draws=None):
        a = backend.as_numpy(alpha)
        if draws is None:
            draws = torch_gamma_draws(a)
        # rounded to alpha's dtype first, then kept above its smallest normal number (log x
        # stays finite), as PyTorch's kernel does
        # (as the kernel's max(smallest normal, draw): a NaN draw gives that number too)
        draws = np.fmax(draws.astype(a.dtype), np.finfo(a.dtype).tiny)
        out = backend.to_device(draws, backend.device_of(alpha))
        self._alpha, self._x = alpha, out
        return out

    def backward(self, g):
        dxda = gamma_sample_grad(backend.as_numpy(self._alpha), backend.as_numpy(self._x))
        return g * backend.to_device(dxda, backend.device_of(g))


def standard_gamma(alpha, draws=None):
    """Draws of Gamma(alpha, 1) with alpha's shape, differentiable in alpha (first order).
    ``draws``: the float64 draws to use (made by ``torch_gamma_draws``), else fresh ones."""
    return _StandardGamma.apply(alpha, draws=draws)
