"""``minigrad.signal.windows``: the window functions of ``torch.signal.windows`` (scipy's
names): ``bartlett blackman cosine exponential gaussian general_cosine general_hamming hamming
hann kaiser nuttall``.

Each takes the length M and keyword-only options: ``sym=True`` gives a symmetric window
(filter design), ``sym=False`` a periodic one (spectral analysis: the symmetric window of
M + 1 points without its last); ``dtype`` (float32 or float64, default the default dtype),
``layout`` (strided), ``device``, ``requires_grad``.  M = 0 gives an empty tensor, M = 1 [1.].
With n = 0 .. M-1 and, for a symmetric window, L = M - 1 (periodic: L = M):

    general_cosine(a)  sum_k (-1)^k a_k cos(2 pi k n / L)
    general_hamming    alpha - (1 - alpha) cos(2 pi n / L)           (alpha 0.54)
    hann / hamming     general_hamming with alpha 0.5 / 0.54
    blackman           general_cosine([0.42, 0.5, 0.08])
    nuttall            general_cosine([0.3635819, 0.4891775, 0.1365995, 0.0106411])
    bartlett           1 - |2 n / L - 1|
    cosine             sin(pi (n + 0.5) / (L + 1))
    exponential        exp(-|n - center| / tau)        (center L / 2 unless given, tau 1)
    gaussian           exp(-(n - L / 2)^2 / (2 std^2))  (std 1)
    kaiser             I0(beta sqrt(1 - (2 n / L - 1)^2)) / I0(beta)   (beta 12)

Values are computed in float64 and rounded once to the dtype; windows are constants (not
differentiable: ``requires_grad=True`` makes a leaf).
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..creation import _finish, strided
from .._windows import symmetric_or_periodic, _bartlett, _cosine_sum, _kaiser

__all__ = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine",
           "general_hamming", "hamming", "hann", "kaiser", "nuttall"]


def _window(name, symmetric, M, sym, dtype, layout, device, requires_grad):
    """PyTorch's argument checks (ValueError naming the window), then the values."""
    if M < 0:
        raise ValueError(f"{name} requires non-negative window length, got M={M}")
    if layout is not None and layout is not strided:
        raise ValueError(f"{name} is implemented for strided tensors only, got: {layout}")
    dt = dtypes.default_float() if dtype is None else dtypes.to_dtype(dtype)
    if dt.name not in ("float32", "float64"):
        raise ValueError(f"{name} expects float32 or float64 dtypes, got: {dt}")
    return _finish(symmetric_or_periodic(symmetric, int(M), not sym), dt, device, requires_grad)


def general_cosine(M, *, a, sym=True, dtype=None, layout=strided, device=None,
                   requires_grad=False):
    """sum_k (-1)^k a[k] cos(2 pi k n / L): a sum of cosines with coefficients ``a``."""
    if not isinstance(a, (list, tuple)):
        raise TypeError("Coefficients must be a list/tuple")
    if not a:
        raise ValueError("Coefficients cannot be empty")
    return _window("general_cosine", _cosine_sum(tuple(float(c) for c in a)), M, sym, dtype,
                   layout, device, requires_grad)


def general_hamming(M, *, alpha=0.54, sym=True, dtype=None, layout=strided, device=None,
                    requires_grad=False):
    """alpha - (1 - alpha) cos(2 pi n / L)."""
    return general_cosine(M, a=[alpha, 1.0 - alpha], sym=sym, dtype=dtype, layout=layout,
                          device=device, requires_grad=requires_grad)


def hann(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    """0.5 - 0.5 cos(2 pi n / L)."""
    return general_hamming(M, alpha=0.5, sym=sym, dtype=dtype, layout=layout, device=device,
                           requires_grad=requires_grad)


def hamming(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    """0.54 - 0.46 cos(2 pi n / L)."""
    return general_hamming(M, sym=sym, dtype=dtype, layout=layout, device=device,
                           requires_grad=requires_grad)


def blackman(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    """0.42 - 0.5 cos(2 pi n / L) + 0.08 cos(4 pi n / L)."""
    return _window("blackman", _cosine_sum((0.42, 0.5, 0.08)), M, sym, dtype, layout, device,
                   requires_grad)


def nuttall(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    """0.3635819 - 0.4891775 cos(2 pi n / L) + 0.1365995 cos(4 pi n / L)
    - 0.0106411 cos(6 pi n / L): Nuttall's four cosine terms, chosen for the lowest sidelobes."""
    return general_cosine(M, a=[0.3635819, 0.4891775, 0.1365995, 0.0106411], sym=sym,
                          dtype=dtype, layout=layout, device=device, requires_grad=requires_grad)


def bartlett(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    """Triangular: 1 - |2 n / L - 1|."""
    return _window("bartlett", _bartlett, M, sym, dtype, layout, device, requires_grad)


def cosine(M, *, sym=True, dtype=None, layout=strided, device=None, requires_grad=False):
    """sin(pi (n + 0.5) / (L + 1)): half a sine period."""
    return _window("cosine", lambda m: np.sin(np.pi * (np.arange(m) + 0.5) / m), M, sym, dtype,
                   layout, device, requires_grad)


def exponential(M, *, center=None, tau=1.0, sym=True, dtype=None, layout=strided, device=None,
                requires_grad=False):
    """exp(-|n - center| / tau); ``center`` may be given for periodic windows only."""
    if tau <= 0:
        raise ValueError(f"Tau must be positive, got: {tau} instead.")
    if sym and center is not None:
        raise ValueError("Center must be None for symmetric windows")

    def window(m):
        c = (m - 1) / 2.0 if center is None else float(center)
        return np.exp(-np.abs(np.arange(m) - c) / tau)
    return _window("exponential", window, M, sym, dtype, layout, device, requires_grad)


def gaussian(M, *, std=1.0, sym=True, dtype=None, layout=strided, device=None,
             requires_grad=False):
    """exp(-(n - L / 2)^2 / (2 std^2))."""
    if std <= 0:
        raise ValueError(f"Standard deviation must be positive, got: {std} instead.")

    def window(m):
        n = np.arange(m) - (m - 1) / 2.0
        return np.exp(-n * n / (2.0 * std * std))
    return _window("gaussian", window, M, sym, dtype, layout, device, requires_grad)


def kaiser(M, *, beta=12.0, sym=True, dtype=None, layout=strided, device=None,
           requires_grad=False):
    """I0(beta sqrt(1 - (2 n / L - 1)^2)) / I0(beta)."""
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got: {beta} instead.")
    return _window("kaiser", _kaiser(float(beta)), M, sym, dtype, layout, device, requires_grad)
