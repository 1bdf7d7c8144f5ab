"""The piecewise-linear activations: ``hardtanh``, ``relu6``, ``hardsigmoid``, ``hardshrink``,
``softshrink`` and ``threshold``, each one ``PiecewiseLinear`` node (the output and the
slope of every piece from one rule; its backward ``g * slope``, so a second derivative is
zeros, as PyTorch's), with PyTorch's choice of side at each kink and its handling of NaN.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend, dtypes
from ..autograd import Function
from .elementwise import cast
from ._kept_product import kept_product
from .pointwise_select import _piecewise_grad, _select
from ..tensor import Tensor
from ._util import check_fill_value, not_implemented_for, number_arg, scalar_type_name
from .writes import apply_inplace, overwrite_with
from .inplace import named_write
from ._floating_checks import _floating_only
from ._util import FLOAT32_64 as _FLOATS
from ..autograd.grad_mode import is_grad_enabled

_FLOAT = np.dtype("float32")      # float16 and bfloat16 are computed in it


class PiecewiseLinear(Function):
    """An activation that is linear piece by piece with constant slopes: ``rule(a)`` gives the
    output array and the slope array (a bool mask: slope 1 where True, 0 elsewhere, and an
    exact 0 gradient there even for NaN; or a float array of slopes).  Backward is
    ``g * slope``, recorded under ``create_graph`` as relu's is, so the first derivative stays
    on the graph (a second derivative is zeros, as PyTorch's, not an error)."""
    # it keeps the rule's slope, never its input: an in-place form (``apply_inplace``) runs
    # it on the tensor itself, no copy of the old value first
    keeps_input = False

    def forward(self, a, *, rule, value=None, slope=True, select=None, scale=None):
        if not slope and value is not None:     # no gradient to come: the value alone
            self.slope = None
            return value(a)
        out, self.slope = rule(a)
        # (``scale``: the slope is that number where the bool mask the rule gave holds, and
        # an exact 0 elsewhere: hardsigmoid's; the float slope is made only for a graph)
        self.scale = scale
        # (``select``: a float slope's zeros taken as exact zeros too, even for a NaN or
        # infinite g, as PyTorch's kernel selects 0 there)
        self.select = self.slope.dtype.kind == "b" if select is None else select
        return out

    def backward(self, g):
        slope, scale = self.slope, self.scale
        ga = g._array
        if not is_grad_enabled() and type(ga) is np.ndarray and ga.flags.c_contiguous and \
                slope.dtype == np.bool_ and slope.flags.c_contiguous:
            # g (times scale) where the mask holds, an exact +0.0 elsewhere whatever g is
            # (NaN and infinities too): PyTorch's, as a new row-major array
            fast = kept_product(ga, slope, scale)
            if fast is not None:
                return Tensor._wrap(fast)
        if scale is not None:
            slope = slope.astype(scale.dtype) * scale
        return _piecewise_grad(self, g, slope, self.select)


# PiecewiseLinear under PyTorch's node name of each activation made with it
_PIECEWISE_NODES = {name: PiecewiseLinear.renamed(f"{name}Backward0") for name in (
    "Hardtanh", "Hardsigmoid", "Hardshrink", "Softshrink", "Threshold")}


class _OnItself:
    """``fn(x, *args)`` in the shape ``apply_inplace`` calls (``.apply(x)``), for an activation
    that is one ``PiecewiseLinear`` node on a float32/float64 input: the node keeps no input,
    so it runs on the tensor itself (``overwrite_with`` first copied the old value, a pass
    and x's size: 1M float32, one thread, hardsigmoid_ forward and backward 3.4-4.4 -> 2.7-3.3
    ms of CPU time on a loaded machine)."""
    keeps_input = False
    __slots__ = ("fn", "args")

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def apply(self, x):
        return self.fn(x, *self.args)


def _overwrite(input, fn, *args):
    """``input`` overwritten with ``fn(input, *args)`` (the ``inplace=True`` form)."""
    if input._array.dtype in _FLOATS:
        return apply_inplace(input, _OnItself(fn, args))
    return overwrite_with(input, fn, *args)


def _int64_bound(value):
    """An integer hardtanh bound as PyTorch reads it first: truncated to an int64, which it must
    fit (NaN and infinities do not)."""
    if isinstance(value, float) and not (math.isfinite(value) and -2.0 ** 63 <= value < 2.0 ** 63):
        raise RuntimeError("value cannot be converted to type int64_t without overflow")
    return int(value)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clamp(x, min_val, max_val), with PyTorch's zero gradient ON the bounds (clamp passes it
    there): the gradient flows only strictly inside (min_val, max_val)."""
    # a tensor bound reads as its number, as PyTorch's parser takes it
    min_val, max_val = (v.item() if isinstance(v, Tensor) and v.ndim == 0 else v
                        for v in (min_val, max_val))
    if input._array.dtype.kind == "c":
        raise NotImplementedError("clamp is not supported for complex types")
    if inplace:
        return _overwrite(input, hardtanh, min_val, max_val)
    if min_val > max_val:
        raise ValueError(f"min_val cannot be greater than max_val (got min_val={min_val}, "
                         f"max_val={max_val})")
    for position, (name, v) in enumerate((("min_val", min_val), ("max_val", max_val)), 2):
        if isinstance(v, Tensor):
            raise TypeError(f"hardtanh(): argument '{name}' (position {position}) must be "
                            f"Number, not Tensor")
    kind = input._array.dtype.kind
    if kind == "b":
        raise RuntimeError("Bool inputs not supported for hardtanh")
    if kind in "iu":        # PyTorch clamps integers to the bounds truncated, in their dtype
        low, high = (_int64_bound(v) for v in (min_val, max_val))   # (-0.5 is 0: not negative)
        if kind == "u" and (low < 0 or high < 0):
            raise RuntimeError("cannot do hardtanh on an unsigned type with negative limits")
        info = np.iinfo(input._array.dtype)
        if not (info.min <= low <= info.max and info.min <= high <= info.max):
            raise RuntimeError(f"value cannot be converted to type "
                               f"{dtypes.c_type_name(input._array.dtype)} without overflow")
        xp = backend.xp_of(input._array)
        arr = xp.clip(input._array.astype("int64"), low, high)
        return Tensor._wrap(arr.astype(input._array.dtype))
    # each bound converted to the input's dtype first, as PyTorch's: a finite one past its
    # range (-1e40 for float32, 7e4 for float16) is refused, not taken as infinite
    for v in (min_val, max_val):
        if not -65504.0 <= v <= 65504.0:    # (within float16's range: every dtype holds it)
            check_fill_value(v, input._array.dtype)

    def value(a):
        return _clip(a, min_val, max_val)

    def rule(a):                      # a NaN is not inside: no gradient, as PyTorch's
        return value(a), (a > min_val) & (a < max_val)
    return _PIECEWISE_NODES["Hardtanh"].apply(input, rule=rule, value=value,
                                              slope=input.requires_grad and is_grad_enabled())


def relu6(input, inplace=False):
    """min(max(0, x), 6)."""
    if inplace:
        return _overwrite(input, relu6)
    return hardtanh(input, 0.0, 6.0)


def hardsigmoid(input, inplace=False):
    """clamp(x + 3, 0, 6) / 6: 0 for x <= -3, 1 for x >= 3, (x + 3)/6 between (gradient 1/6
    strictly inside); piecewise linear, so one node whose second derivative is zero."""
    if inplace:
        return _overwrite(input, hardsigmoid)
    input = _floating_only(input, "hardsigmoid_cpu")
    if dtypes.reduced_float(input._array.dtype):      # in float32, rounded once, as PyTorch
        return cast(hardsigmoid(cast(input, _FLOAT)), input._array.dtype)
    def value(a):            # PyTorch's rounding, (x + 3) / 6; NaN stays NaN, no gradient
        t = a.dtype.type
        out = a + t(3)
        out = _clip(out, 0, 6, out)
        out /= t(6)
        return out

    def rule(a):
        inside = a > -3
        inside &= a < 3
        return value(a), inside
    # the slope: PyTorch's 1/6, rounded to float32 first (in float64 too), where the mask
    # holds; outside (-3, 3) and at NaN an exact 0 gradient, a NaN or infinite g's too, as
    # PyTorch's hardsigmoid_backward (g * 0 made them NaN). The mask alone is kept: the
    # float slope made from it cost a pass and x's size again (1M float32, one thread, CPU
    # time: forward with a graph 1.2-1.5 -> 0.7-0.8 ms, backward the same)
    sixth = input._array.dtype.type(np.float32(1) / np.float32(6))
    return _PIECEWISE_NODES["Hardsigmoid"].apply(input, rule=rule, value=value, select=True,
                                                 scale=sixth,
                                                 slope=input.requires_grad and is_grad_enabled())


def _clip(a, low, high, out=None):
    """numpy's clip(a, low, high) (a tie keeps x: -0.0 against a bound of 0.0 stays -0.0; NaN
    stays), the bounds in a's dtype; into ``out`` when given. numpy 2's clip by two numbers
    of the array's dtype is one SIMD pass (1M float32, one thread: 0.18 ms, where a maximum
    and a minimum against blocks of the bounds took 0.3)."""
    xp = backend.xp_of(a)
    if not getattr(a, "ndim", 0):             # (0-d: a numpy scalar, no buffer to write)
        return xp.clip(a, low, high)
    if xp is not np or a.dtype not in _FLOATS:
        return xp.clip(a, low, high, out=out)
    return np.clip(a, _bound(a.dtype, low), _bound(a.dtype, high), out=out)


def _bound(dtype, value):
    """A number in a float dtype, silently infinite past its range (as numpy's clip by a
    Python number made it)."""
    if -3e38 < value < 3e38 or value != value:
        return dtype.type(value)
    with np.errstate(over="ignore"):
        return dtype.type(value)


def _check_lambd(op, lambd):
    """PyTorch's parser: ``lambd`` is a number."""
    number_arg(op, "lambd", lambd, 2)


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0."""
    _check_lambd("hardshrink", lambd)
    _floating_only(input, "hardshrink_cpu")

    def rule(a):
        if _fast(a, lambd):
            return _hardshrink_arrays(a, lambd, True)
        keep = ~((a >= -lambd) & (a <= lambd))            # NaN stays NaN, with no gradient
        return backend.xp_of(a).where(keep, a, a.dtype.type(0)), (a < -lambd) | (a > lambd)

    def value(a):
        return _hardshrink_arrays(a, lambd, False)[0] if _fast(a, lambd) else rule(a)[0]
    return _PIECEWISE_NODES["Hardshrink"].apply(input, rule=rule, value=value,
                                                slope=input.requires_grad and is_grad_enabled())


def _fast(a, lambd):
    """Whether the array paths below apply: a numpy float32/float64 array of one dim or more,
    and a lambd from 0 to the dtype's largest number."""
    return type(a) is np.ndarray and a.dtype in _FLOATS and a.ndim > 0 and \
        isinstance(lambd, (int, float, np.integer, np.floating)) and \
        0 <= lambd <= _TOPS[a.dtype]


_TOPS = {d: float(np.finfo(d).max) for d in _FLOATS}


def _hardshrink_arrays(a, lambd, slope):
    """hardshrink's value (and its bool slope where ``slope``) on a numpy float array, in four
    passes: |a| > lambd (NaN is not: no gradient) is both the slope and the factor, a * keep
    (0 inside, NaN stays NaN) made +0.0 inside by adding 0 (-0.3 * 0 is -0.0; PyTorch's 0 is
    positive). The where() of two arrays it replaces branched on every number (1M float32,
    one thread: 2.0 ms, now 0.5)."""
    t = a.dtype.type
    out = np.abs(a)
    keep = np.greater(out, t(lambd))
    np.multiply(a, keep, out=out)
    out += t(0)
    return out, keep if slope else None


def _softshrink_arrays(a, lambd, slope):
    """softshrink's value (and its bool slope where ``slope``) on a numpy float array: x minus
    x clipped to [-lambd, lambd], which is x - lambd above, x + lambd below (rounded as those)
    and x - x = +0.0 inside; NaN stays NaN; lambd in a's dtype, as the comparisons take it.
    Two passes, where three where()s and an isnan took 36 (1M float32, one thread: 8.9 ms,
    now 0.35); the slope |x| > lambd two more."""
    t = a.dtype.type
    out = _clip(a, -lambd, lambd)
    np.subtract(a, out, out=out)
    return out, np.greater(np.abs(a), t(lambd)) if slope else None


def softshrink(input, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, 0 in between."""
    _check_lambd("softshrink", lambd)
    _floating_only(input, "softshrink_check")      # PyTorch checks lambd inside that kernel
    dtype = input._array.dtype
    top = float(dtypes.np_finfo(dtype).max)
    if not 0 <= float(lambd) <= top:              # (NaN is outside too)
        raise RuntimeError(f"lambda must be in range [0, {top:g}] for input dtype "
                           f"{scalar_type_name(dtype)}, but found {float(lambd):g}")

    def rule(a):
        if _fast(a, lambd):
            return _softshrink_arrays(a, lambd, True)
        xp = backend.xp_of(a)
        # NaN passes through, with no gradient (as PyTorch's)
        out = xp.where(a > lambd, a - lambd, xp.where(a < -lambd, a + lambd, a.dtype.type(0)))
        out = xp.where(xp.isnan(a), a, out)
        return out.astype(a.dtype, copy=False), (a < -lambd) | (a > lambd)

    def value(a):
        return _softshrink_arrays(a, lambd, False)[0] if _fast(a, lambd) else rule(a)[0]
    return _PIECEWISE_NODES["Softshrink"].apply(input, rule=rule, value=value,
                                                slope=input.requires_grad and is_grad_enabled())


# from this many numbers threshold's value is selected by bits (below, numpy's where costs
# less than the selection's setup)
_BY_BITS = 1 << 16


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else ``value``; gradient 1 strictly above the threshold, 0 below
    and on it (integer inputs stay integers, as PyTorch). NaN is not <= the threshold: it
    passes through with its gradient, as PyTorch's kernel tests x <= threshold."""
    name = "threshold_" if inplace else "threshold"      # (PyTorch's parser reads both first)
    # (a complex number is a Scalar to the parser; the element type refuses one with an
    # imaginary part below, after the kernel's refusal of a bool or complex input)
    for arg, v, k in (("threshold", threshold, 2), ("value", value, 3)):
        number_arg(name, arg, v.real if isinstance(v, (complex, np.complexfloating)) else v, k)
    threshold, value = (v.item() if isinstance(v, Tensor) else v for v in (threshold, value))
    dtype = input._array.dtype
    if dtype.kind in "bc":
        raise not_implemented_for("threshold_cpu", dtype)
    # PyTorch converts both numbers to the element type first (a float16 input compares in
    # float32), refusing one that does not fit: a negative float for uint8, 1e10 for int32
    bound_dtype = np.dtype("float32") if dtypes.reduced_float(dtype) else dtype
    check_fill_value(threshold, bound_dtype)
    check_fill_value(value, dtype)
    threshold, value = (v.real if isinstance(v, (complex, np.complexfloating)) else v
                        for v in (threshold, value))
    xp = backend.xp_of(input._array)
    # an integer type truncates (-0.2 is 0) and wraps a negative int into an unsigned type
    bound = xp.asarray(int(threshold) if dtype.kind in "iu" else threshold).astype(bound_dtype)
    fill = xp.asarray(int(value) if dtype.kind in "iu" else value).astype(dtype)

    def rule(a):
        above = ~(a <= bound)
        if a.size >= _BY_BITS and type(a) is np.ndarray and a.flags.c_contiguous and \
                a.dtype == fill.dtype:
            # by bits (``_select``): numpy's where branched on every number of a mask of
            # random signs (1M float32, one thread, CPU time: 4.3 -> 1.0 ms); the same
            # numbers
            return _select(above, a, fill), above
        return xp.where(above, a, fill), above
    if inplace:       # PyTorch's in-place node: ThresholdBackward1
        return named_write(input, "ThresholdBackward1", apply_inplace, input,
                           _PIECEWISE_NODES["Threshold"], rule=rule)
    return _PIECEWISE_NODES["Threshold"].apply(input, rule=rule)
