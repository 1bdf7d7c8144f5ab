"""More random sampling with PyTorch's names: ``multinomial``, ``poisson`` and
``randint_like``.  All draw from a ``Generator`` (the default one unless ``generator=`` is
given), so ``manual_seed`` makes them repeatable; multinomial and randint_like give
PyTorch's numbers for a seed, and so does poisson (its CPU kernel's algorithm, serially).

multinomial(p, n): n category indices per row of the non-negative weights p (1-d [K] or 2-d
[B, K], not necessarily normalised), with or without replacement; int64 [n] or [B, n].
poisson(rates): one Poisson(rate) count per element, in rates' floating dtype; its gradient is
zero, as PyTorch defines it.  randint_like(t, low=0, high): integers in [low, high) shaped like
t, in t's dtype unless ``dtype=`` is given.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from .. import _memory_format as mf
from ..autograd import Function
from ..creation import _like, check_layout
from .._cpu_stream import SERIAL_SAMPLER_LIMIT
from .._random_factories import Generator, arranged_draws, randint, stream_of
from .._random_layout import _drawn_in_place
from ..tensor import Tensor
from ._util import (check_tensor, int_arg, not_implemented_for, python_type_name,
                    scalar_type_name)

__all__ = ["multinomial", "poisson", "randint_like"]


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Indices drawn with probability proportional to each row's weights (see the module
    docstring); without replacement, a row with fewer than ``num_samples`` non-zero weights
    gives all of those, then zero-weight categories (as PyTorch's CPU kernel does).
    ``out``: an int64 tensor the indices are written into (resized to fit, silently)."""
    check_tensor("multinomial", input)
    num_samples = int_arg("multinomial", "num_samples", num_samples, 2)
    if replacement is not True and replacement is not False:
        raise TypeError(f"multinomial(): argument 'replacement' (position 3) must be bool, not "
                        f"{python_type_name(replacement)}")
    for label, value, kind in (("generator", generator, Generator), ("out", out, Tensor)):
        if value is not None and not isinstance(value, kind):
            raise TypeError(f"multinomial(): argument '{label}' must be "
                            f"{'torch.Generator' if kind is Generator else 'Tensor'}, not "
                            f"{python_type_name(value)}")
    if input.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if input._array.dtype.kind not in "fV":
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{scalar_type_name(input._array.dtype)}")
    if out is not None and out._array.dtype != np.int64:
        raise RuntimeError(f"multinomial expects Long tensor out, got: "
                           f"{scalar_type_name(out._array.dtype)}")
    n = int(num_samples)
    if n <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    k = input.shape[-1]
    if not replacement and n > k:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    if k > 2 ** 24:
        raise RuntimeError("number of categories cannot exceed 2^24")
    batch = input.shape[0] if input.ndim == 2 else 1
    weights = backend.as_numpy(input._array).reshape(batch, k)
    _check_weights(weights.astype(np.float64), replacement and n > 1)
    stream = stream_of(generator)
    if replacement and n > 1:
        result = _by_cumulative_weights(weights, n, stream)
    else:
        result = _by_exponential_race(weights, n, stream)
    # (a fresh row-major block, as PyTorch's: the draws may be a view of a wider array)
    result = result.reshape(tuple(input.shape[:-1]) + (n,)).copy()
    result = Tensor._wrap(backend.to_device(result, input.device))
    if out is None:
        return result
    return out.resize_(tuple(result.shape)).copy_(result)


def _by_exponential_race(weights, n, stream):
    """Without replacement (or one draw), PyTorch's way: q ~ Exp(1) for every weight (drawn
    as exponential_ draws, in the weights' dtype), and the n largest w / q of each row, in
    decreasing order (argmax of w / q is a draw with probability w / sum(w); the next largest
    continue the draw without replacement)."""
    dtype = weights.dtype
    q = stream.exponentials(weights.size).astype(dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        race = weights / q.reshape(weights.shape)
    if n == 1:
        return np.argmax(race, axis=-1)[:, None]
    # a stable sort of -race: ties (zero weights) keep their index order
    return np.argsort(-race, axis=-1, kind="stable")[:, :n]


def _by_cumulative_weights(weights, n, stream):
    """With replacement, PyTorch's way: each row's running sum (in the weights' dtype) divided
    by its total; a float64 uniform u per draw, row after row, picks the first category whose
    normalised running sum reaches u."""
    cumulative = np.cumsum(weights, axis=-1, dtype=weights.dtype)
    cumulative = cumulative / cumulative[:, -1:]
    u = stream.uniform01(weights.shape[0] * n, np.float64).reshape(weights.shape[0], n)
    picks = np.empty(u.shape, dtype=np.int64)
    for row in range(weights.shape[0]):      # one search per distribution, all its draws
        picks[row] = np.searchsorted(cumulative[row], u[row], side="left")
    return np.minimum(picks, weights.shape[1] - 1)


def _check_weights(weights, by_row):
    """PyTorch's refusals of bad weights (rows of ``weights``, K wide), in its CPU order.
    Drawing several with replacement (``by_row``) it checks row by row, each entry then the
    sum; otherwise the whole tensor first (an empty last dim fails its aminmax), then each
    row's sum."""
    message = "invalid multinomial distribution ({})"
    if not by_row:
        if weights.shape[1] == 0 and weights.shape[0]:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as "
                               "the operation has no identity.")
        if not np.isfinite(weights).all() or (weights < 0).any():
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    for w in weights:
        if by_row:
            bad = np.flatnonzero(~(w >= 0) | ~np.isfinite(w))
            if bad.size:
                first = w[bad[0]]
                raise RuntimeError(message.format("encountering probability entry < 0"
                                                  if not first >= 0 else
                                                  "encountering probability entry = infinity "
                                                  "or NaN"))
        if not w.sum() > 0:
            raise RuntimeError(message.format("sum of probabilities <= 0"))


def _poisson_draw(lam, uniform):
    """One Poisson(lam) count as PyTorch's CPU kernel draws it from float64 uniforms: for
    lam >= 10 Hoermann's transformed rejection (1993), below it the product of uniforms
    until it falls to exp(-lam)."""
    if lam >= 10:
        slam, loglam = math.sqrt(lam), math.log(lam)
        b = 0.931 + 2.53 * slam
        a = -0.059 + 0.02483 * b
        invalpha = 1.1239 + 1.1328 / (b - 3.4)
        vr = 0.9277 - 3.6224 / (b - 2)
        while True:
            u = uniform() - 0.5
            v = uniform()
            us = 0.5 - abs(u)
            k = math.floor((2 * a / us + b) * u + lam + 0.43)
            if us >= 0.07 and v <= vr:
                return k
            if k < 0 or (us < 0.013 and v > us):
                continue
            if (math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b)
                    <= -lam + k * loglam - math.lgamma(k + 1.0)):
                return k
    if lam == 0:
        return 0
    count, prod, enlam = 0, 1.0, math.exp(-lam)
    while True:
        prod *= uniform()
        if prod <= enlam:
            return count
        count += 1


def poisson_counts(rates, stream):
    """Poisson counts (float64) for the float array ``rates``, element by element in C order
    from ``stream`` (PyTorch's serial kernel: each count takes as many uniforms as it needs,
    so the draws cannot be vectorised)."""
    if np.size(rates) > SERIAL_SAMPLER_LIMIT:
        return stream.numpy_generator().poisson(np.asarray(rates, dtype=np.float64)).astype(
            np.float64)
    uniform = lambda: float(stream.uniform01(1, np.float64)[0])    # noqa: E731
    flat = np.ascontiguousarray(rates, dtype=np.float64).reshape(-1).tolist()
    return np.array([_poisson_draw(lam, uniform) for lam in flat],
                    dtype=np.float64).reshape(np.shape(rates))


class Poisson(Function):
    """One Poisson draw per rate; the backward is zeros (the draw is treated as constant)."""
    def forward(self, rates, *, stream):
        counts = poisson_counts(backend.as_numpy(rates), stream)
        return backend.to_device(counts.astype(rates.dtype), backend.device_of(rates))

    def backward(self, g):
        return Tensor._wrap(backend.xp_of(g._array).zeros_like(g._array))


def poisson(input, generator=None):
    """Poisson(rate) counts, one per element of the non-negative floating ``input``."""
    if input._array.dtype.kind not in "fV":
        raise not_implemented_for("poisson_cpu", input._array.dtype)
    rates = backend.as_numpy(input._array)
    if rates.size and not (rates >= 0).all():
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    return Poisson.apply(input, stream=stream_of(generator))


def randint_like(input, low=0, high=None, *, dtype=None, layout=None, device=None,
                 pin_memory=False, requires_grad=False, memory_format=mf.preserve_format,
                 generator=None):
    """Random integers in [low, high) with ``input``'s shape (``randint_like(t, high)`` starts
    at 0), in input's dtype and device unless given."""
    check_layout(layout, "randint_like")
    backend.check_pin_memory(pin_memory, "randint_like")
    if high is None:
        low, high = 0, low
    dtype, device = _like(input, dtype, device, "randint_like")
    shape = tuple(input.shape)

    def in_memory_order(strides):
        # (PyTorch's kernel walks the new tensor's memory: the k-th draw in the k-th place)
        flat = randint(low, high, (math.prod(shape),), generator=generator, dtype=dtype,
                       device=device)
        out = Tensor._wrap(arranged_draws(flat._array, shape, strides, flat._array.dtype))
        return out.requires_grad_() if requires_grad else out
    return _drawn_in_place(input, lambda: randint(low, high, shape, generator=generator,
                                                  dtype=dtype, device=device,
                                                  requires_grad=requires_grad),
                           in_memory_order, memory_format, "randint_like")

