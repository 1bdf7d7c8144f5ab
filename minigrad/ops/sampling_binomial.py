"""Binomial draws as PyTorch's CPU kernel makes them, from the generator's float64 uniforms.

Element by element in C order (each draw takes as many uniforms as it needs, so the order
cannot be vectorised).  With q the smaller of p and 1 - p (a draw for 1 - p is counted from
n down): n q >= 10 uses Hormann's BTRS transformed rejection (1993), in PyTorch's variant;
below it, inversion by geometric waiting times: the number of ceil(log U / log(1 - q)) gaps
that fit in n.
"""
from __future__ import annotations

import math

import numpy as np

from .._cpu_stream import SERIAL_SAMPLER_LIMIT

__all__ = ["binomial_draws"]

# log(k!) - Stirling's approximation of it, for k = 0..9 (beyond: the series' first terms)
_STIRLING_TAIL = (0.0810614667953272, 0.0413406959554092, 0.0276779256849983,
                  0.02079067210376509, 0.0166446911898211, 0.0138761288230707,
                  0.0118967099458917, 0.0104112652619720, 0.00925546218271273,
                  0.00833056343336287)


def _stirling_tail(k):
    if k <= 9:
        return _STIRLING_TAIL[int(k)]
    kp1sq = (k + 1) * (k + 1)
    return (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / kp1sq) / kp1sq) / (k + 1)


def _inversion(n, q, uniform, rnd):
    """Geometric gaps until their sum passes n; ``rnd`` rounds to the parameters' dtype."""
    log_q = rnd(math.log1p(-q))
    total, count = 0.0, 0
    while True:
        total += math.ceil(math.log(uniform()) / log_q)
        if total > n:
            return count
        count += 1


def _btrs(n, q, uniform, rnd):
    """Hormann's BTRS for n q >= 10 (the parameters' own products rounded by ``rnd``)."""
    spq = rnd(math.sqrt(rnd(rnd(n * q) * rnd(1 - q))))
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * q
    c = rnd(n * q) + 0.5
    v_r = 0.92 - 4.2 / b
    r = rnd(q / rnd(1 - q))
    alpha = (2.83 + 5.1 / b) * spq
    m = math.floor(rnd((n + 1) * q))
    while True:
        u = uniform() - 0.5
        v = uniform()
        us = 0.5 - abs(u)
        k = math.floor((2 * a / us + b) * u + c)
        if k < 0 or k > n:
            continue
        if us >= 0.07 and v <= v_r:
            return k
        v = math.log(v * alpha / (a / (us * us) + b))
        bound = ((m + 0.5) * math.log((m + 1) / (r * (n - m + 1)))
                 + (n + 1) * math.log((n - m + 1) / (n - k + 1))
                 + (k + 0.5) * math.log(r * (n - k + 1) / (k + 1))
                 + _stirling_tail(m) + _stirling_tail(n - m)
                 - _stirling_tail(k) - _stirling_tail(n - k))
        if v <= bound:
            return k


def _draw(n, p, uniform, rnd):
    if n <= 0 or p <= 0:
        return 0.0
    if p >= 1:
        return n
    q = p if p <= 0.5 else rnd(1.0 - p)
    k = _btrs(n, q, uniform, rnd) if rnd(n * q) >= 10 else _inversion(n, q, uniform, rnd)
    return k if p <= 0.5 else n - k


def binomial_draws(trials, probs, stream):
    """Binomial(n, p) counts (float64) for float arrays of the same shape, from ``stream`` (a
    generator's); the parameters' float32 arithmetic is rounded as the kernel's is."""
    if np.size(probs) > SERIAL_SAMPLER_LIMIT:
        counts = np.floor(np.asarray(trials, dtype=np.float64)).astype(np.int64)
        return stream.numpy_generator().binomial(np.maximum(counts, 0),
                                                 np.clip(probs, 0, 1)).astype(np.float64)
    uniform = lambda: float(stream.uniform01(1, np.float64)[0])    # noqa: E731
    single = probs.dtype != np.float64
    rnd = (lambda x: float(np.float32(x))) if single else (lambda x: x)
    ns = np.ascontiguousarray(trials).reshape(-1).tolist()
    ps = np.ascontiguousarray(probs).reshape(-1).tolist()
    return np.array([_draw(n, p, uniform, rnd) for n, p in zip(ns, ps)],
                    dtype=np.float64).reshape(np.shape(probs))
