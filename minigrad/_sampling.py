"""Random sampling beyond rand/randn: ``normal`` (PyTorch's signatures) and the in-place
samplers behind ``Tensor.normal_``, ``uniform_``, ``exponential_``, ``geometric_``,
``log_normal_``, ``cauchy_``, ``random_`` and ``bernoulli_``.

Draws come from the default generator (or ``generator=``) through PyTorch's own
transformations of its stream (``_cpu_stream``), in the tensor's memory order, so a seed gives
PyTorch's numbers.  They carry no gradient (as in PyTorch, sampling is not differentiable):
``normal`` of a mean or std that requires grad records a node (NormalBackward1/2/3) that
sends them zeros, as PyTorch's does.

    exponential_(lambd)    -1/lambd * log1p(-u)            (u: float64 uniforms in [0, 1))
    geometric_(p)          ceil(log(u) / log1p(-p))
    cauchy_(median, sigma) median + sigma * tan(pi * (u - 1/2))
    log_normal_(mean, std) exp(mean + std * z), z float64 normals drawn one at a time
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import backend, dtypes
from .autograd import Function
from ._cpu_stream import fused_multiply_add, libm
from .creation import check_layout, empty
from ._random_factories import (arranged_draws, bernoulli_draws, normal_draws, stream_of,
                                uniform_draws)
from ._parser_emulation import refusal
from ._parser_message import _combination
from ._parser_signatures import FUNCTIONS
from ._type_names import python_type_name
from .ops._util import broadcast_shape, float_arg, not_implemented_for, scalar_type_name
from .ops.elementwise import add, mul
from .ops.inplace import copy_, named_write, refuse_self_overlap
from .tensor import Tensor

__all__ = ["normal", "normal_", "uniform_", "exponential_", "geometric_",
           "log_normal_", "cauchy_", "random_", "bernoulli_"]


class _UnitStd(float):
    """normal()'s default std, 1.0, told apart from a std the call gives (PyTorch's parser
    words ``normal(0.0)`` and ``normal(0.0, 1.0)`` differently)."""
    __slots__ = ()


_STD_NOT_GIVEN = _UnitStd(1.0)


def _is_number(value):
    return isinstance(value, (numbers.Real, np.number)) and not isinstance(value, np.bool_)


def _normal_refusal(mean, std, size, given):
    """PyTorch's TypeError for a normal() call none of its four signatures takes: ``given``,
    the keywords beyond the size that the call set."""
    args = (mean,) if std is _STD_NOT_GIVEN else (mean, std)
    if size is not None:
        args += (size,)
    if len(args) == 1 and not given:    # (one signature takes one argument: its words)
        return TypeError(f"normal(): argument 'mean' (position 1) must be Tensor, not "
                         f"{python_type_name(mean)}")
    return _combination("normal", args, given, FUNCTIONS["normal"])


def normal(mean, std=_STD_NOT_GIVEN, size=None, *, generator=None, dtype=None, layout=None,
           device=None, requires_grad=False):
    """Samples of N(mean, std^2): ``mean`` and ``std`` tensors (broadcast) or numbers (then
    ``size`` gives the shape)."""
    check_layout(layout, "normal")
    if not isinstance(mean, Tensor) and not isinstance(std, Tensor):
        if size is None or std is _STD_NOT_GIVEN or not isinstance(size, (tuple, list)) or \
                not (_is_number(mean) and _is_number(std)):
            given = {k: v for k, v in (("dtype", dtype), ("layout", layout),
                                       ("device", device)) if v is not None}
            raise _normal_refusal(mean, std, size, given)
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
        out = empty(tuple(size), dtype=dtype, device=device)
        normal_(out, mean, std, generator=generator)
        return out.requires_grad_() if requires_grad else out
    given = {k: v for k, v in (("dtype", dtype), ("layout", layout), ("device", device),
                               ("requires_grad", requires_grad))
             if v is not None and v is not False}
    if size is not None or given or not (isinstance(mean, Tensor) or _is_number(mean)) or \
            not (isinstance(std, Tensor) or _is_number(std)):
        raise _normal_refusal(mean, std, size, given)
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
    # as PyTorch: standard normals drawn into the result, then scaled and shifted
    z = normal_draws(generator, shape, like._array.dtype)
    z = Tensor._wrap(backend.to_device(z, like.device))
    m = mean.detach() if isinstance(mean, Tensor) else mean
    s = std.detach() if isinstance(std, Tensor) else std
    out = add(mul(z, s), m)
    inputs = [t for t in (mean, std) if isinstance(t, Tensor)]
    if not any(t.requires_grad for t in inputs):
        return out
    # as PyTorch's: the draw requires grad when mean or std does, and they get zeros
    # (NormalBackward1: tensor mean, 2: tensor std, 3: both)
    kind = 1 if not isinstance(std, Tensor) else 2 if not isinstance(mean, Tensor) else 3
    return _Drawn.renamed(f"NormalBackward{kind}").apply(*inputs, value=out._array)


class _Drawn(Function):
    """A draw made beforehand from the inputs' values; their gradients are zeros."""
    def forward(self, *inputs, value):
        self.shapes = [(i.shape, i.dtype) for i in inputs]
        return value

    def backward(self, g):
        xp = backend.xp_of(g._array)
        grads = tuple(Tensor._wrap(xp.zeros(shape, dtype)) for shape, dtype in self.shapes)
        return grads if len(grads) > 1 else grads[0]


# ----------------------------------------------------------------------------------------------
# In-place samplers: t's elements replaced by draws (through copy_, so a leaf that requires
# grad is refused and views see the new values, as in PyTorch)
# ----------------------------------------------------------------------------------------------
_C_NAMES = {"int8": "signed char", "int16": "short int", "int32": "int", "int64": "long int",
            "uint8": "unsigned char", "bool": "bool",
            "uint16": "short unsigned int", "uint32": "unsigned int",
            "uint64": "long unsigned int"}


def _fill(t, draws, node_name):
    """Write the numpy ``draws`` (t's shape) into t, cast to its dtype; returns t, whose node
    (when t requires grad) is named as PyTorch's fill of that distribution ('UniformBackward0')."""
    refuse_self_overlap(t)          # (elements sharing memory: PyTorch's fills refuse them)
    draws = np.asarray(draws).astype(t._array.dtype)
    # (a view keeps its own node: the write is recorded on its base, as PyTorch's CopySlices)
    return named_write(t, node_name, copy_, t, Tensor._wrap(backend.to_device(draws, t.device)))


def _strides(t):
    """t's strides in elements: the draws go in PyTorch's order, which is memory order."""
    return tuple(st // t._array.itemsize for st in t._array.strides)


def _count(t):
    return math.prod(t.shape)


def _doubles(t, transform, generator):
    """``transform`` of float64 uniforms, one per element of t in memory order (the kernels
    of exponential_, geometric_ and cauchy_ draw float64 uniforms whatever t's dtype)."""
    u = stream_of(generator).uniform01(_count(t), np.float64)
    return arranged_draws(transform(u), tuple(t.shape), _strides(t), np.dtype(np.float64))


def _continuous(t, name):
    """exponential_ / cauchy_: PyTorch's refusal of a non-floating tensor."""
    if t._array.dtype.kind not in "fV":
        kind = (_C_NAMES if name == "Cauchy" else {})
        spelled = kind.get(t._array.dtype.name, scalar_type_name(t._array.dtype))
        raise RuntimeError(f"{name} distribution is a continuous probability distribution. "
                           f"dtype must be a floating point but you specified {spelled}")


# the largest finite value of each floating dtype (a complex one's parts), and its names in
# PyTorch's bounds messages (C++ type, scalar type)
_FLOAT_LIMITS = {np.dtype(np.float16): (65504.0, "c10::Half", "Half"),
                 np.dtype(dtypes.BFLOAT16): (3.3895313892515355e38, "c10::BFloat16", "BFloat16"),
                 np.dtype(np.float32): (3.4028234663852886e38, "float", "Float"),
                 np.dtype(np.float64): (1.7976931348623157e308, "double", "Double"),
                 np.dtype(np.complex64): (3.4028234663852886e38, "float", "Float"),
                 np.dtype(np.complex128): (1.7976931348623157e308, "double", "Double")}


def check_normal_std(std):
    """PyTorch's refusal of a negative (or NaN) standard deviation."""
    if not std >= 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")


def check_uniform_bounds(np_dtype, low, high):
    """PyTorch's checks of uniform_'s [low, high) for a floating dtype: each bound finite
    within the dtype's range (NaN is not), low <= high, and high - low within the range."""
    limits = _FLOAT_LIMITS.get(np_dtype)
    if limits is None:
        return
    top, c_name, scalar = limits
    if not -top <= low <= top:
        raise RuntimeError(f"from is out of bounds for {c_name}")
    if not -top <= high <= top:
        raise RuntimeError(f"to is out of bounds for {c_name}")
    if low > high:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                           f"from={low:g} > to={high:g}")
    if high - low > top:
        raise RuntimeError(f"uniform_ expects to-from <= std::numeric_limits<{scalar}>::max(), "
                           f"but found to={high:g} and from={low:g} which result in to-from "
                           "to exceed the limit")


def normal_(t, mean=0.0, std=1.0, *, generator=None):
    """Fill t with draws of N(mean, std^2)."""
    mean, std = float_arg("normal_", "mean", mean), float_arg("normal_", "std", std)
    check_normal_std(std)
    if t._array.dtype.kind not in "fcV":
        raise not_implemented_for("normal_kernel_cpu", t._array.dtype)
    if t.is_meta:              # (nothing drawn, as PyTorch's)
        return t
    # (a complex t: each part N(mean, std^2 / 2), so that E|z - m|^2 = std^2)
    return _fill(t, normal_draws(generator, tuple(t.shape), t._array.dtype, mean, std,
                                 _strides(t)), "NormalBackward0")


def uniform_(t, *args, generator=None, **kwargs):
    """``uniform_(from=0, to=1)``: fill t with draws uniform in [from, to)."""
    low, high = _from_to(args, kwargs, "uniform_", (0.0, 1.0))
    low, high = float_arg("uniform_", "from", low), float_arg("uniform_", "to", high)
    if t._array.dtype.kind not in "fcV":
        raise not_implemented_for("check_uniform_bounds", t._array.dtype)
    check_uniform_bounds(t._array.dtype, low, high)
    if t.is_meta:
        return t
    # (a complex t: both parts uniform in [from, to))
    return _fill(t, uniform_draws(generator, tuple(t.shape), t._array.dtype, low, high,
                                  _strides(t)), "UniformBackward0")


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
    if t.is_meta:
        return t
    # (-1/lambd) log1p(-u) as PyTorch's kernel rounds it: the negation is exact either side
    e = stream_of(generator).exponentials(_count(t)) * (1.0 / lambd)
    return _fill(t, arranged_draws(e, tuple(t.shape), _strides(t), np.dtype(np.float64)),
                 "ExponentialBackward0")


def geometric_(t, p, *, generator=None):
    """Fill t with the number of Bernoulli(p) trials up to the first success (1, 2, ...)."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    if t._array.dtype.kind in "bc":     # (no kernel for bool or complex, meta's words its own)
        if t.is_meta:
            raise RuntimeError(f"geometric not implemented for {t.dtype}")
        raise not_implemented_for("geometric_cpu", t._array.dtype)
    if t.is_meta:
        return t
    return _fill(t, _doubles(t, lambda u: np.ceil(np.log(u) / np.log1p(-p)), generator),
                 "GeometricBackward0")


def log_normal_(t, mean=1.0, std=2.0, *, generator=None):
    """Fill t with exp of draws of N(mean, std^2)."""
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    if t._array.dtype.kind not in "fV":
        raise not_implemented_for("log_normal_cpu", t._array.dtype)
    if t.is_meta:
        return t
    # (PyTorch's kernel draws its normals one at a time in float64, whatever t's size)
    z = fused_multiply_add(stream_of(generator).normal_pairs(_count(t)), float(std),
                           float(mean))
    return _fill(t, arranged_draws(libm(math.exp, z), tuple(t.shape), _strides(t),
                                   np.dtype(np.float64)), "LogNormalBackward0")


def cauchy_(t, median=0.0, sigma=1.0, *, generator=None):
    """Fill t with draws of the Cauchy distribution: median + sigma * tan(pi * (u - 1/2))."""
    _continuous(t, "Cauchy")
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    if t.is_meta:
        return t
    # sigma * tan + median with one rounding (the kernel's fused multiply-add), the C
    # library's tan
    return _fill(t, _doubles(t, lambda u: fused_multiply_add(
        libm(math.tan, np.pi * (u - 0.5)), float(sigma), float(median)), generator),
        "CauchyBackward0")


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
    # PyTorch's node of each overload: RandomBackward2, 1 (to alone) and 0 (from and to)
    node_name = f"RandomBackward{2 - min(2, len(args) + len({'from', 'to'} & set(kwargs)))}"
    given = args
    if len(args) == 1 and "to" not in kwargs and "from" not in kwargs:
        args = (0, args[0])
    low, high = _from_to(args, kwargs, "random_", (0, None))
    for name, v in (("from", low), ("to", high)):
        if v is not None and (isinstance(v, (bool, float)) or not isinstance(v, (int, np.integer))):
            words = refusal("random_", True, given, kwargs if generator is None else
                            dict(kwargs, generator=generator))
            if words is not None:
                raise words
            raise TypeError(f"random_(): argument '{name}' must be int, not {type(v).__name__}")
    dtype = t._array.dtype
    if dtype.kind == "c":
        raise not_implemented_for("random_kernel_cpu", dtype)
    if high is None:
        dtypes.refuse_unsigned("random_kernel_cpu", dtype)    # (a range of its own it draws)
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
    elif dtype == np.float16:               # (float16's finite range)
        if not -65504 <= low <= 65504:
            raise RuntimeError("from is out of bounds for c10::Half")
        if not -65504 <= high - 1 <= 65504:
            raise RuntimeError("to - 1 is out of bounds for c10::Half")
    # the words are 64-bit for a range of 2^32 or more in random_() (int64 and float64), and
    # from 2^28 on when bounds are given (PyTorch's from/to kernel: random_(-5, None) of an
    # int32 tensor, random_(2 ** 30))
    if t.is_meta:
        return t
    wide_from = 1 << 28 if args or kwargs else 1 << 32
    draws = stream_of(generator).integers(_count(t), low, high, wide_from=wide_from)
    return _fill(t, arranged_draws(draws, tuple(t.shape), _strides(t), draws.dtype), node_name)


def bernoulli_(t, p=0.5, *, generator=None):
    """Fill t with 1 where a draw falls below ``p`` (a number or a tensor broadcast to t),
    else 0."""
    if t._array.dtype.kind == "c":
        raise not_implemented_for("bernoulli_scalar_cpu_", t._array.dtype)
    dtypes.refuse_unsigned("bernoulli_tensor_cpu_self_" if isinstance(p, Tensor) else
                           "bernoulli_scalar_cpu_", t._array.dtype)    # (no uint16/32/64)
    if not isinstance(p, Tensor) and not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    if isinstance(p, Tensor) and p._array.dtype.kind not in "fV":       # (bfloat16: "V")
        raise not_implemented_for("bernoulli_tensor_cpu_p_", p._array.dtype)
    if t.is_meta:
        return t
    probs = backend.as_numpy(p._array) if isinstance(p, Tensor) else p
    if isinstance(p, Tensor) and probs.size and not ((probs >= 0) & (probs <= 1)).all():
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.  "
                           "(Could this error message be improved?  If so, please report an "
                           "enhancement request to PyTorch.)")
    return _fill(t, bernoulli_draws(generator, tuple(t.shape), probs, _strides(t)),
                 "BernoulliBackward1" if isinstance(p, Tensor) else "BernoulliBackward2")
