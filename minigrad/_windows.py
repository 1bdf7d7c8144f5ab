"""Window functions for spectral analysis, PyTorch's top-level names: ``hann_window``,
``hamming_window``, ``blackman_window``, ``bartlett_window``, ``kaiser_window``.

Each returns a 1-D tensor of ``window_length`` values w[n], n = 0 .. N-1.  A symmetric window
(``periodic=False``) of length N uses the formulas below with L = N - 1; a periodic one
(``periodic=True``, the default, the one to use before an FFT) is the symmetric window of
length N + 1 without its last value.  Length 0 gives an empty tensor, length 1 gives [1.].

    hann      0.5 - 0.5 cos(2 pi n / L)
    hamming   alpha - beta cos(2 pi n / L)                (alpha 0.54, beta 0.46)
    blackman  0.42 - 0.5 cos(2 pi n / L) + 0.08 cos(4 pi n / L)
    bartlett  1 - |2 n / L - 1|
    kaiser    I0(beta sqrt(1 - (2 n / L - 1)^2)) / I0(beta)   (beta 12)

The values are computed in float64 and rounded once to the requested dtype.  Windows are
constants, not ops: nothing here is differentiable (``requires_grad=True`` makes a leaf).
"""
from __future__ import annotations

import numbers

import numpy as np

from . import dtypes
from .creation import _finish, check_layout

__all__ = ["hann_window", "hamming_window", "blackman_window", "bartlett_window",
           "kaiser_window", "symmetric_or_periodic"]


def symmetric_or_periodic(symmetric, length, periodic):
    """Values of a window of ``length`` points: ``symmetric(m)`` gives the symmetric window of
    m >= 2 points as a float64 array; periodic takes m = length + 1 and drops the last."""
    if length == 0:
        return np.zeros(0)
    if length == 1:
        return np.ones(1)
    if periodic:
        return symmetric(length + 1)[:-1]
    return symmetric(length)


def _cosine_sum(coefficients):
    """sum_k (-1)^k a_k cos(2 pi k n / (m - 1)): hann, hamming, blackman, nuttall..."""
    def window(m):
        phase = 2.0 * np.pi * np.arange(m) / (m - 1)
        return sum((-1) ** k * a * np.cos(k * phase) for k, a in enumerate(coefficients))
    return window


def _bartlett(m):
    return 1.0 - np.abs(2.0 * np.arange(m) / (m - 1) - 1.0)


def _kaiser(beta):
    def window(m):
        ratio = 2.0 * np.arange(m) / (m - 1) - 1.0
        return np.i0(beta * np.sqrt(np.clip(1.0 - ratio * ratio, 0.0, None))) / np.i0(beta)
    return window


def _make(name, symmetric, window_length, periodic, dtype, layout, device, requires_grad):
    """Check the arguments as PyTorch does, then build the window tensor."""
    if isinstance(window_length, bool) or not isinstance(window_length, numbers.Integral):
        raise TypeError(f"{name}(): argument 'window_length' (position 1) must be int, not "
                        f"{type(window_length).__name__}")
    if not isinstance(periodic, (bool, np.bool_)):
        raise TypeError(f"{name}(): argument 'periodic' (position 2) must be bool, not "
                        f"{type(periodic).__name__}")
    check_layout(layout, name)
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got "
                           f"window_length={window_length}")
    dt = dtypes.default_float() if dtype is None else dtypes.to_dtype(dtype)
    if dt.np.kind not in "fV":
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dt}")
    values = symmetric_or_periodic(symmetric, int(window_length), bool(periodic))
    return _finish(values, dt, device, requires_grad)


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                pin_memory=False, requires_grad=False):
    """Hann window: 0.5 - 0.5 cos(2 pi n / L); see the module docstring for L and periodic."""
    return _make("hann_window", _cosine_sum((0.5, 0.5)), window_length, periodic, dtype, layout,
                 device, requires_grad)


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None,
                   layout=None, device=None, pin_memory=False, requires_grad=False):
    """Hamming window: alpha - beta cos(2 pi n / L)."""
    return _make("hamming_window", _cosine_sum((alpha, beta)), window_length, periodic, dtype,
                 layout, device, requires_grad)


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    pin_memory=False, requires_grad=False):
    """Blackman window: 0.42 - 0.5 cos(2 pi n / L) + 0.08 cos(4 pi n / L)."""
    return _make("blackman_window", _cosine_sum((0.42, 0.5, 0.08)), window_length, periodic,
                 dtype, layout, device, requires_grad)


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    pin_memory=False, requires_grad=False):
    """Bartlett (triangular) window: 1 - |2 n / L - 1|."""
    return _make("bartlett_window", _bartlett, window_length, periodic, dtype, layout, device,
                 requires_grad)


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None,
                  device=None, pin_memory=False, requires_grad=False):
    """Kaiser window: I0(beta sqrt(1 - (2 n / L - 1)^2)) / I0(beta), I0 the modified Bessel
    function of the first kind, order 0."""
    return _make("kaiser_window", _kaiser(float(beta)), window_length, periodic, dtype, layout,
                 device, requires_grad)
