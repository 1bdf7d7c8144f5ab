"""Random sampling beyond rand/randn: ``normal`` and ``bernoulli`` (PyTorch's signatures), and
the in-place samplers behind ``Tensor.normal_``, ``uniform_``, ``exponential_``,
``geometric_``, ``log_normal_``, ``cauchy_``, ``random_`` and ``bernoulli_``.

Draws come from the default generator (or ``generator=``), so ``manual_seed`` makes them
reproducible; they carry no gradient (as in PyTorch, sampling is not differentiable).
"""
from __future__ import annotations

import numpy as np

from . import backend, dtypes
from .creation import check_layout
from ._random_factories import default_generator, randn
from .ops._util import broadcast_shape, not_implemented_for, scalar_type_name
from .ops.elementwise import add, mul
from .ops.inplace import copy_
from .tensor import Tensor

__all__ = ["normal", "bernoulli", "normal_", "uniform_", "exponential_", "geometric_",
           "log_normal_", "cauchy_", "random_", "bernoulli_"]


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, layout=None, device=None,
           requires_grad=False):
    """Samples of N(mean, std^2): ``mean`` and ``std`` tensors (broadcast) or numbers (then
    ``size`` gives the shape)."""
    check_layout(layout, "normal")
    if not isinstance(mean, Tensor) and not isinstance(std, Tensor):
        if size is None:
            raise TypeError("normal() received an invalid combination of arguments: with "
                            "float mean and std, the size argument is required")
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
        z = randn(tuple(size), generator=generator, dtype=dtype, device=device)
        out = z * std + mean
        out = out.detach()
        return out.requires_grad_() if requires_grad else out
    if size is not None:
        raise TypeError(f"normal() received an invalid combination of arguments - got "
                        f"({type(mean).__name__}, {type(std).__name__}, "
                        f"{type(size).__name__}): with a Tensor mean or std the shape is "
                        f"theirs, and no size is taken")
    like = mean if isinstance(mean, Tensor) else std
    if like._array.dtype.kind in "biu":
        raise not_implemented_for("normal_kernel_cpu", like._array.dtype)
    if not isinstance(std, Tensor) and std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
    if isinstance(std, Tensor) and bool((std._array < 0).any()):
        raise RuntimeError(f"normal expects all elements of std >= 0.0 (got min std "
                           f"{float(std._array.min())})")
    shape = tuple(like.shape)
    if isinstance(mean, Tensor) and isinstance(std, Tensor):
        shape = broadcast_shape(tuple(mean.shape), tuple(std.shape), "normal")
    gen = generator or default_generator
    z = gen.rng.standard_normal(shape).astype(like._array.dtype)
    z = Tensor._wrap(backend.to_device(z, like.device))
    m = mean.detach() if isinstance(mean, Tensor) else mean
    s = std.detach() if isinstance(std, Tensor) else std
    return add(mul(z, s), m)


def bernoulli(input, p=None, *, generator=None):
    """1 with probability ``input`` (or ``p``) elementwise, else 0; in input's dtype."""
    probs = input._array if p is None else backend.xp_of(input._array).full(
        input._array.shape, p)
    if probs.size and (float(probs.min()) < 0 or float(probs.max()) > 1):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    gen = generator or default_generator
    draw = gen.rng.random(probs.shape) < backend.as_numpy(probs)
    dtype = input._array.dtype if input._array.dtype.kind in "fV" else dtypes.default_float().np
    return Tensor._wrap(backend.to_device(draw.astype(dtype), input.device))


# ----------------------------------------------------------------------------------------------
# In-place samplers: t's elements replaced by draws (through copy_, so a leaf that requires
# grad is refused and views see the new values, as in PyTorch)
# ----------------------------------------------------------------------------------------------
_C_NAMES = {"int8": "signed char", "int16": "short int", "int32": "int", "int64": "long int",
            "uint8": "unsigned char", "bool": "bool"}


def _fill(t, draws):
    """Write the numpy ``draws`` (t's shape) into t, cast to its dtype; returns t."""
    draws = np.asarray(draws).astype(t._array.dtype)
    return copy_(t, Tensor._wrap(backend.to_device(draws, t.device)))


def complex_draws(draw, shape):
    """Complex numbers whose real and imaginary parts are independent ``draw(shape)``s."""
    parts = draw(tuple(shape) + (2,))
    return parts[..., 0] + 1j * parts[..., 1]


def _rng(generator):
    return (generator or default_generator).rng


def _continuous(t, name):
    """exponential_ / cauchy_: PyTorch's refusal of a non-floating tensor."""
    if t._array.dtype.kind not in "fV":
        kind = (_C_NAMES if name == "Cauchy" else {})
        spelled = kind.get(t._array.dtype.name, scalar_type_name(t._array.dtype))
        raise RuntimeError(f"{name} distribution is a continuous probability distribution. "
                           f"dtype must be a floating point but you specified {spelled}")


def normal_(t, mean=0.0, std=1.0, *, generator=None):
    """Fill t with draws of N(mean, std^2)."""
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    if t._array.dtype.kind not in "fcV":
        raise not_implemented_for("normal_kernel_cpu", t._array.dtype)
    if t._array.dtype.kind == "c":         # each part N(mean, std^2 / 2): E|z - m|^2 = std^2
        return _fill(t, complex_draws(
            lambda shape: mean + std / 2 ** 0.5 * _rng(generator).standard_normal(shape),
            tuple(t.shape)))
    return _fill(t, mean + std * _rng(generator).standard_normal(tuple(t.shape)))


def uniform_(t, *args, generator=None, **kwargs):
    """``uniform_(from=0, to=1)``: fill t with draws uniform in [from, to)."""
    low, high = _from_to(args, kwargs, "uniform_", (0.0, 1.0))
    if t._array.dtype.kind not in "fcV":
        raise not_implemented_for("check_uniform_bounds", t._array.dtype)
    if low > high:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                           f"from={low} > to={high}")
    if t._array.dtype.kind == "c":         # both parts uniform in [from, to)
        return _fill(t, complex_draws(
            lambda shape: low + (high - low) * _rng(generator).random(shape), tuple(t.shape)))
    return _fill(t, low + (high - low) * _rng(generator).random(tuple(t.shape)))


def _from_to(args, kwargs, name, defaults):
    """(from, to) of uniform_ / random_ given positionally or by PyTorch's names ('from' is a
    Python keyword, so it only comes through **kwargs)."""
    if len(args) > 2 or set(kwargs) - {"from", "to"}:
        extra = sorted(set(kwargs) - {"from", "to"})
        raise TypeError(f"{name}() got an unexpected keyword argument '{extra[0]}'" if extra
                        else f"{name}() takes at most 2 arguments ({len(args)} given)")
    values = list(defaults)
    for k, v in enumerate(args):
        values[k] = v
    for k, key in enumerate(("from", "to")):
        if key in kwargs:
            values[k] = kwargs[key]
    return tuple(values)


def exponential_(t, lambd=1.0, *, generator=None):
    """Fill t with draws of the exponential distribution of rate ``lambd``."""
    _continuous(t, "Exponential")
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    return _fill(t, _rng(generator).exponential(1.0 / lambd, tuple(t.shape)))


def geometric_(t, p, *, generator=None):
    """Fill t with the number of Bernoulli(p) trials up to the first success (1, 2, ...)."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    return _fill(t, _rng(generator).geometric(p, tuple(t.shape)))


def log_normal_(t, mean=1.0, std=2.0, *, generator=None):
    """Fill t with exp of draws of N(mean, std^2)."""
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    if t._array.dtype.kind not in "fV":
        raise not_implemented_for("log_normal_cpu", t._array.dtype)
    return _fill(t, _rng(generator).lognormal(mean, std, tuple(t.shape)))


def cauchy_(t, median=0.0, sigma=1.0, *, generator=None):
    """Fill t with draws of the Cauchy distribution: median + sigma * tan(pi * (u - 1/2))."""
    _continuous(t, "Cauchy")
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    return _fill(t, median + sigma * _rng(generator).standard_cauchy(tuple(t.shape)))


def _random_bound(dtype):
    """The largest value random_() draws: every integer of the dtype from 0 up, or for
    floats every integer the mantissa holds exactly (2^24 for float32, 2^53 for float64)."""
    if dtype.kind == "b":
        return 1
    if dtype.kind in "fV":
        return 2 ** (dtypes.np_finfo(dtype).nmant + 1)
    return int(np.iinfo(dtype).max)


def random_(t, *args, generator=None, **kwargs):
    """``random_()``: integers uniform in [0, largest the dtype holds exactly];
    ``random_(to)``: in [0, to); ``random_(from, to)``: in [from, to)."""
    if len(args) == 1 and "to" not in kwargs and "from" not in kwargs:
        args = (0, args[0])
    low, high = _from_to(args, kwargs, "random_", (0, None))
    for name, v in (("from", low), ("to", high)):
        if v is not None and (isinstance(v, (bool, float)) or not isinstance(v, (int, np.integer))):
            raise TypeError(f"random_(): argument '{name}' must be int, not {type(v).__name__}")
    dtype = t._array.dtype
    if dtype.kind == "c":
        raise not_implemented_for("random_kernel_cpu", dtype)
    if high is None:
        high = _random_bound(dtype) + 1
    elif low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f"to={high}")
    if dtype.kind in "biu":
        info = (0, 1) if dtype.kind == "b" else (int(np.iinfo(dtype).min), int(np.iinfo(dtype).max))
        if not info[0] <= low <= info[1]:
            raise RuntimeError(f"from is out of bounds for {_C_NAMES[dtype.name]}")
        if not info[0] <= high - 1 <= info[1]:
            raise RuntimeError(f"to - 1 is out of bounds for {_C_NAMES[dtype.name]}")
    return _fill(t, _rng(generator).integers(low, high, tuple(t.shape)))


def bernoulli_(t, p=0.5, *, generator=None):
    """Fill t with 1 where a draw falls below ``p`` (a number or a tensor broadcast to t),
    else 0."""
    if t._array.dtype.kind == "c":
        raise not_implemented_for("bernoulli_scalar_cpu_", t._array.dtype)
    probs = p._array if isinstance(p, Tensor) else p
    if not isinstance(p, Tensor) and not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    probs = backend.as_numpy(probs) if isinstance(p, Tensor) else probs
    return _fill(t, _rng(generator).random(tuple(t.shape)) < probs)
