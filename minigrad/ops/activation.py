"""Activation functions beyond relu/sigmoid/tanh: gelu, elu, celu, selu, the "hard" family,
softsign, softplus, logsigmoid, mish, silu, prelu, softmin.

Almost every one is *composed* from the differentiable ops of ``elementwise`` and ``reduce``:
its backward (and the backward of that backward, for ``create_graph=True``) comes from theirs,
so there is nothing to get wrong twice.  erf, which exact GELU needs, has its own module
(``error_function.py``).  On numpy float32/float64 arrays GELU, SiLU and hardswish run as
one node each (``activation_nodes.py``: the same values, PyTorch's derivatives, a fraction
of the passes); the compositions below stay their definition and serve every other case.
``Softplus``, ``LogSigmoid`` and ``Elu`` are Functions too, with backwards written with
ops: their stable forms go through |x| or min(x, 0), whose kinks would give wrong second
derivatives at 0 (and the elu family follows PyTorch's kernel at its edges: -0.0, NaN, the
second derivative at 0).

Two habits below keep the gradients finite where PyTorch's are:

* a branch that would overflow on the side ``where`` discards (``exp(x)`` for large x in elu)
  is fed ``min(x, 0)``: ``where`` zeroes the gradient of the unused branch, but 0 * inf = nan;
* kinks use ``where(x > 0, ...)`` with PyTorch's choice of side at exactly 0.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _autocast_state, backend, dtypes
from ..autograd import Function
from ..autograd.function import rename_node
from ..autograd.grad_mode import is_grad_enabled
from .elementary_functions import abs, dense_order, empty_in_order, exp, sigmoid, tanh
from .error_function import erf, floating as _floating
from . import activation_nodes as _nodes
from ._autocast_cast import lower as _autocast_lower
from .elementwise import add, cast, div, mul, neg, sub
from .pointwise_select import _piecewise_grad, _select, select_block, where
from .relu_clamp import clamp
from ..tensor import Tensor
from ._util import FLOAT32_64, check_fill_value, int_arg, no_complex_kernel, not_implemented_for, \
    python_type_name, scalar_type_name
from .plumbing import reshape_to
from .writes import apply_inplace, overwrite_with
from .inplace import named_write
from .softmax import check_functional_dim, implicit_softmax_dim, softmax

__all__ = ["erf", "gelu", "elu", "celu", "selu", "hardswish", "hardsigmoid", "hardtanh",
           "relu6", "softsign", "softplus", "logsigmoid", "mish", "silu", "prelu", "softmin",
           "tanhshrink", "hardshrink", "softshrink", "threshold", "glu"]

# SELU's fixed point constants (Klambauer et al., 2017), as PyTorch uses them
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


_HALF, _FLOAT = np.dtype("float16"), np.dtype("float32")


def _floating_only(a, kernel):
    """``a`` itself: PyTorch's ``kernel`` exists for floating dtypes only (bool and integer
    inputs are refused, not promoted)."""
    if a._array.dtype.kind not in "fV":
        raise not_implemented_for(kernel, a._array.dtype)
    return a


# ----------------------------------------------------------------------------------------------
# Smooth activations
# ----------------------------------------------------------------------------------------------
def gelu(input, approximate="none"):
    """x * Phi(x) (``approximate='none'``: Phi(x) = (1 + erf(x / sqrt 2)) / 2), or PyTorch's
    tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (``approximate='tanh'``)."""
    if not isinstance(approximate, str):
        raise TypeError(f"gelu(): argument 'approximate' must be str, not "
                        f"{python_type_name(approximate)}")
    if approximate in ("none", "tanh"):
        _floating_only(input, "GeluKernelImpl")
        if dtypes.reduced_float(input._array.dtype):   # in float32, rounded once, as PyTorch
            return cast(gelu(cast(input, _FLOAT), approximate), input._array.dtype)
    if approximate in ("none", "tanh") and _nodes.fits(input):    # one node, same values
        return _nodes.Gelu.apply(input, approximate=approximate)
    if approximate == "none":
        return mul(mul(input, 0.5), add(erf(mul(input, 1.0 / math.sqrt(2.0))), 1.0))
    if approximate == "tanh":
        inner = mul(add(input, mul(mul(mul(input, input), input), 0.044715)),
                    math.sqrt(2.0 / math.pi))
        return mul(mul(input, 0.5), add(tanh(inner), 1.0))
    raise RuntimeError(f"approximate argument must be either none or tanh. (got "
                       f"approximate='{approximate}')")


class Elu(Function):
    """scale * x for x > 0, scale * alpha * (e^(input_scale x) - 1) otherwise: elu, celu
    (input_scale = 1 / alpha) and selu (PyTorch's constants) in one, as PyTorch's kernel.

    Where PyTorch's kernel puts its edges, so does this: the negative branch is expm1 (-0.0
    stays -0.0) and takes x = 0 and NaN-free x <= 0; NaN takes the negative branch in the
    gradient (a NaN gradient); the gradient's own derivative at x = 0 is 0 (the negative
    branch's exponent is held constant there)."""
    half_in_float32 = True          # float16 too: in float32, rounded once
    def forward(self, x, *, alpha, scale, input_scale, slope_scale=None):
        xp = backend.xp_of(x)
        self.save_for_backward(x)
        self.alpha, self.scale, self.input_scale = alpha, scale, input_scale
        # the input scale of the backward, where PyTorch's differs (celu's: 1 / alpha with
        # alpha rounded to float32 first)
        self.slope_scale = input_scale if slope_scale is None else slope_scale
        t = x.dtype.type
        if type(x) is np.ndarray and x.dtype in FLOAT32_64:
            return _elu_arrays(self._value, x)
        positive = x > 0
        negative = xp.expm1(_select(positive, t(0), x) * t(input_scale)) * t(alpha * scale)
        return _select(positive, x * t(scale), negative).astype(x.dtype, copy=False)

    def _value(self, x, out):
        """The forward on one block of a float32/float64 array, in cache: as the general
        form, with x (x <= 0) in place of selecting x or 0 (the same where it is kept: -0.0
        and NaN stay, and the side it zeroes, x > 0, is discarded)."""
        t = x.dtype.type
        negative = np.multiply(x, x <= 0)
        if self.input_scale != 1:                   # (x 1 is exact: the pass is skipped)
            negative *= t(self.input_scale)
        np.expm1(negative, out=negative)
        negative *= t(self.alpha * self.scale)
        np.multiply(x, t(self.scale), out=out)
        select_block(x > 0, out, negative, out)

    def _slope_times(self, x, g, out):
        """g * d elu / dx on one block, as the backward's ops compute it: g scale for x > 0,
        else g (e^(slope_scale below) alpha scale slope_scale), below = x (x < 0) (0 at 0, NaN
        at NaN, as the ops' choice)."""
        t = x.dtype.type
        negative = np.multiply(x, x < 0)
        if self.slope_scale != 1:
            negative *= t(self.slope_scale)
        np.exp(negative, out=negative)
        negative *= t(self.alpha * self.scale * self.slope_scale)
        negative *= g
        np.multiply(g, t(self.scale), out=out)
        select_block(x > 0, out, negative, out)

    def backward(self, g):
        x, = self.saved_tensors
        if _nodes.fits(x) and _nodes.on_arrays(x, g):      # no graph: one pass over blocks
            return Tensor._wrap(_elu_arrays(self._slope_times, x._array, g._array))
        # x below 0, else a constant 0 (so the slope's derivative at 0 is 0), or NaN at a NaN
        # (which takes the negative side, as in PyTorch's kernel: a NaN gradient)
        xp = backend.xp_of(x._array)
        below = where(x < 0, x, Tensor._wrap(xp.where(xp.isnan(x._array), x._array, 0)))
        slope = mul(exp(mul(below, self.slope_scale)),
                    self.alpha * self.scale * self.slope_scale)
        return where(x > 0, mul(g, self.scale), mul(g, slope))


def _elu_arrays(kernel, x, *more):
    """kernel(x, *more, out) over cache-sized blocks of numpy arrays of x's shape and dtype;
    the result laid out as x (a transposed x keeps its strides, as PyTorch)."""
    out = empty_in_order(x, dense_order(x))
    _nodes._blocks(kernel, [x, *more], [out])
    return out


class EluInplace(Elu):
    """``Elu`` written into its input (elu_, celu_, selu_, ``inplace=True``): the same
    values, with PyTorch's in-place node, which keeps the RESULT for the backward, not the
    input (gone once overwritten). So a later in-place write to the result makes the backward
    refuse, as PyTorch's.

    The slope is read off the result: ``scale`` where it is > 0 (and at NaN, as PyTorch's
    kernel, whose test is result <= 0), else ``input_scale * (result + alpha * scale)``;
    its derivative reaches the result (and through it this node again) only below 0. A
    negative alpha makes the result's sign ambiguous: its backward is refused, as PyTorch's.
    ``slope_scale``: the input scale the backward uses, where PyTorch's differs from the
    forward's (celu_'s backward takes 1 / alpha with alpha rounded to float32)."""
    keeps_input = False             # keeps its result, so it may run on the tensor itself
    saved_names = ("result",)
    _node_name = "EluBackward1"

    def forward(self, x, *, alpha, scale, input_scale, slope_scale=None):
        out = super().forward(x, alpha=alpha, scale=scale, input_scale=input_scale)
        self.slope_scale = input_scale if slope_scale is None else slope_scale
        self.save_for_backward(out)
        return out

    def backward(self, g):
        if self.alpha < 0:
            raise RuntimeError("In-place elu backward calculation is triggered with a negative "
                               "slope which is not supported. This is caused by calling "
                               "in-place forward function with a negative slope, please call "
                               "out-of-place version instead.")
        out, = self.saved_tensors
        below = where(out < 0, out, 0.0)       # (a constant 0 at 0: no second derivative there)
        negative = mul(g, mul(add(below, self.alpha * self.scale), self.slope_scale))
        return where(out <= 0, negative, mul(g, self.scale))


def _elu_inplace(input, node, alpha, scale, input_scale, slope_scale=None):
    """``input`` overwritten with its elu (``node``: EluInplace under the op's name)."""
    _floating_only(input, "elu_cpu")
    return apply_inplace(input, node, alpha=alpha, scale=scale, input_scale=input_scale,
                         slope_scale=slope_scale)


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, alpha (e^x - 1) otherwise."""
    if inplace:
        return _elu_inplace(input, EluInplace, alpha, 1.0, 1.0)
    input = _floating_only(input, "elu_cpu")
    return Elu.apply(input, alpha=alpha, scale=1.0, input_scale=1.0)


def celu(input, alpha=1.0, inplace=False):
    """x for x > 0, alpha (e^(x/alpha) - 1) otherwise (elu, continuously differentiable)."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    if inplace:
        return _elu_inplace(input, EluInplace.renamed("CeluBackward1"), alpha, 1.0, 1.0 / alpha,
                            1.0 / float(np.float32(alpha)))
    input = _floating_only(input, "elu_cpu")
    return Elu.renamed("CeluBackward0").apply(input, alpha=alpha, scale=1.0,
                                              input_scale=1.0 / alpha,
                                              slope_scale=1.0 / float(np.float32(alpha)))


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalising constants (1.0507..., 1.6732...)."""
    if inplace:
        return _elu_inplace(input, EluInplace, _SELU_ALPHA, _SELU_SCALE, 1.0)
    input = _floating_only(input, "elu_cpu")
    return Elu.apply(input, alpha=_SELU_ALPHA, scale=_SELU_SCALE, input_scale=1.0)


def softsign(input):
    """x / (1 + |x|)."""
    # an integer 1, as PyTorch's: an integer input's 1 + |x| stays in its dtype (and wraps)
    return div(input, add(abs(input), 1))


class Softplus(Function):
    """log(1 + e^(beta x)) / beta, computed as (max(beta x, 0) + log1p(e^-|beta x|)) / beta so
    that it cannot overflow, and x itself where beta x > threshold (as PyTorch).

    d/dx = sigmoid(beta x) (1 above the threshold), written with sigmoid so that the second
    derivative, beta sigmoid (1 - sigmoid), holds at 0 too: differentiating the max/|x| form
    twice gives 0 there (its kinks cancel in the value, not in the derivatives)."""
    half_in_float32 = True          # float16 too: in float32, rounded once
    def forward(self, x, *, beta, threshold):
        xp = backend.xp_of(x)
        self.save_for_backward(x)
        self.beta, self.threshold = beta, threshold
        if type(x) is np.ndarray and x.dtype in FLOAT32_64:            # in blocks
            return _nodes.softplus_value(x, beta, threshold)
        scaled = x * x.dtype.type(beta)
        soft = (xp.maximum(scaled, 0) + xp.log1p(xp.exp(-xp.abs(scaled)))) / x.dtype.type(beta)
        return xp.where(scaled > threshold, x, soft).astype(x.dtype, copy=False)

    def backward(self, g):
        x, = self.saved_tensors
        if _nodes.fits(x) and _nodes.on_arrays(x, g):     # no graph: on arrays, in blocks
            return Tensor._wrap(_nodes.softplus_slope_times(x._array, g._array, self.beta,
                                                            self.threshold))
        scaled = mul(x, self.beta)
        return where(scaled > self.threshold, g, mul(g, sigmoid(scaled)))


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as PyTorch)."""
    input = _floating_only(input, "softplus_cpu")
    return Softplus.apply(input, beta=beta, threshold=threshold)


class LogSigmoid(Function):
    """log(sigmoid(x)) = min(x, 0) - log1p(e^-|x|), stable for large |x|; d/dx = sigmoid(-x),
    whose own derivative -sigmoid (1 - sigmoid) holds at 0 too (see Softplus)."""
    half_in_float32 = True          # float16 too: in float32, rounded once
    def forward(self, x):
        xp = backend.xp_of(x)
        self.save_for_backward(x)
        out = (xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))).astype(x.dtype, copy=False)
        # C-contiguous whatever x's strides, as PyTorch's (which fills a fresh buffer)
        return out if out.flags.c_contiguous else out.copy(order="C")

    def backward(self, g):
        x, = self.saved_tensors
        return mul(g, sigmoid(neg(x)))


def logsigmoid(input):
    """log(sigmoid(x)) = min(x, 0) - log(1 + e^(-|x|)), stable for large |x|."""
    input = _floating_only(input, "log_sigmoid_cpu")
    return LogSigmoid.apply(input)


def silu(input, inplace=False):
    """x * sigmoid(x) (also called swish)."""
    if inplace:
        return overwrite_with(input, silu)
    if input._array.dtype.kind == "c" and input.requires_grad and is_grad_enabled():
        # PyTorch computes a complex silu but has no derivative for it
        raise RuntimeError("silu does not support automatic differentiation for outputs with "
                           "complex dtype.")
    if input._array.dtype.kind not in "fcV":
        raise not_implemented_for("silu_cpu", input._array.dtype)
    if dtypes.reduced_float(input._array.dtype):      # in float32, rounded once, as PyTorch
        return cast(silu(cast(input, _FLOAT)), input._array.dtype)
    if _nodes.fits(input):                      # one node, the same values
        return _nodes.Silu.apply(input)
    return mul(input, sigmoid(_floating(input)))


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    if inplace:
        return overwrite_with(input, mish)
    _floating_only(input, "mish_cpu")
    if dtypes.reduced_float(input._array.dtype):      # in float32, rounded once, as PyTorch
        return cast(mish(cast(input, _FLOAT)), input._array.dtype)
    return rename_node(mul(input, tanh(softplus(input))), "MishBackward0")


def tanhshrink(input):
    """x - tanh(x)."""
    return sub(input, tanh(_floating(input)))


# ----------------------------------------------------------------------------------------------
# Piecewise-linear activations
# ----------------------------------------------------------------------------------------------
class PiecewiseLinear(Function):
    """An activation that is linear piece by piece with constant slopes: ``rule(a)`` gives the
    output array and the slope array (a bool mask: slope 1 where True, 0 elsewhere, and an
    exact 0 gradient there even for NaN; or a float array of slopes).  Backward is
    ``g * slope``, recorded under ``create_graph`` as relu's is, so the first derivative stays
    on the graph (a second derivative is zeros, as PyTorch's, not an error)."""
    def forward(self, a, *, rule):
        out, self.slope = rule(a)
        return out

    def backward(self, g):
        return _piecewise_grad(self, g, self.slope, self.slope.dtype.kind == "b")


# PiecewiseLinear under PyTorch's node name of each activation made with it
_PIECEWISE_NODES = {name: PiecewiseLinear.renamed(f"{name}Backward0") for name in (
    "Hardtanh", "Hardsigmoid", "Hardshrink", "Softshrink", "Threshold")}


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
        return overwrite_with(input, hardtanh, min_val, max_val)
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
    def rule(a):
        xp = backend.xp_of(a)         # a NaN is not inside: no gradient, as PyTorch's
        return xp.clip(a, min_val, max_val), (a > min_val) & (a < max_val)
    return _PIECEWISE_NODES["Hardtanh"].apply(input, rule=rule)


def relu6(input, inplace=False):
    """min(max(0, x), 6)."""
    if inplace:
        return overwrite_with(input, relu6)
    return hardtanh(input, 0.0, 6.0)


def hardsigmoid(input, inplace=False):
    """clamp(x + 3, 0, 6) / 6: 0 for x <= -3, 1 for x >= 3, (x + 3)/6 between (gradient 1/6
    strictly inside); piecewise linear, so one node whose second derivative is zero."""
    if inplace:
        return overwrite_with(input, hardsigmoid)
    input = _floating_only(input, "hardsigmoid_cpu")
    if dtypes.reduced_float(input._array.dtype):      # in float32, rounded once, as PyTorch
        return cast(hardsigmoid(cast(input, _FLOAT)), input._array.dtype)
    def rule(a):             # PyTorch's rounding, (x + 3) / 6; NaN stays NaN, no gradient
        xp = backend.xp_of(a)
        t = a.dtype.type
        out = xp.clip(a + t(3), 0, 6)
        out /= t(6)
        inside = (a > -3) & (a < 3)
        # PyTorch's slope is 1/6 rounded to float32 first, in float64 too
        return out, inside.astype(a.dtype) * t(np.float32(1) / np.float32(6))
    return _PIECEWISE_NODES["Hardsigmoid"].apply(input, rule=rule)


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6: x * 0 up to -3 (-0.0, and NaN at -inf, as PyTorch), x from 3;
    derivative (2x + 3)/6 in between.  The middle piece is computed on x clamped to [-3, 3],
    so that an infinite x outside it cannot make its (unused) gradient NaN."""
    if inplace:
        return overwrite_with(input, hardswish)
    input = _floating_only(input, "hardswish_cpu")
    if dtypes.reduced_float(input._array.dtype):      # in float32, rounded once, as PyTorch
        return cast(hardswish(cast(input, _FLOAT)), input._array.dtype)
    if _nodes.fits(input):                      # one node, the same values
        return _nodes.Hardswish.apply(input)
    c = clamp(input, -3.0, 3.0)
    middle = div(mul(c, add(c, 3.0)), 6.0)
    # from 3 on, x * 6 / 6 as PyTorch computes it: beyond max / 6 that is inf, not x; NaN
    # falls in neither test, so it takes the last branch: NaN, with slope 1 as PyTorch's
    top = div(mul(input, 6.0), 6.0)
    return where(input <= -3.0, mul(input, 0.0), where(input < 3.0, middle, top))


def _check_lambd(op, lambd):
    """PyTorch's parser: ``lambd`` is a number."""
    if not isinstance(lambd, (numbers.Number, Tensor)):
        raise TypeError(f"{op}(): argument 'lambd' (position 2) must be Number, not "
                        f"{type(lambd).__name__}")


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0."""
    _check_lambd("hardshrink", lambd)
    _floating_only(input, "hardshrink_cpu")

    def rule(a):
        keep = ~((a >= -lambd) & (a <= lambd))            # NaN stays NaN, with no gradient
        return backend.xp_of(a).where(keep, a, a.dtype.type(0)), (a < -lambd) | (a > lambd)
    return _PIECEWISE_NODES["Hardshrink"].apply(input, rule=rule)


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
        xp = backend.xp_of(a)
        # NaN passes through, with no gradient (as PyTorch's)
        out = xp.where(a > lambd, a - lambd, xp.where(a < -lambd, a + lambd, a.dtype.type(0)))
        out = xp.where(xp.isnan(a), a, out)
        return out.astype(a.dtype, copy=False), (a < -lambd) | (a > lambd)
    return _PIECEWISE_NODES["Softshrink"].apply(input, rule=rule)


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else ``value``; gradient 1 strictly above the threshold, 0 below
    and on it (integer inputs stay integers, as PyTorch). NaN is not <= the threshold: it
    passes through with its gradient, as PyTorch's kernel tests x <= threshold."""
    dtype = input._array.dtype
    if dtype.kind == "b":
        raise not_implemented_for("threshold_cpu", dtype)
    # PyTorch converts both numbers to the element type first (a float16 input compares in
    # float32), refusing one that does not fit: a negative float for uint8, 1e10 for int32
    bound_dtype = np.dtype("float32") if dtypes.reduced_float(dtype) else dtype
    check_fill_value(threshold, bound_dtype)
    check_fill_value(value, dtype)
    xp = backend.xp_of(input._array)
    # an integer type truncates (-0.2 is 0) and wraps a negative int into an unsigned type
    bound = xp.asarray(int(threshold) if dtype.kind in "iu" else threshold).astype(bound_dtype)
    fill = xp.asarray(int(value) if dtype.kind in "iu" else value).astype(dtype)

    def rule(a):
        above = ~(a <= bound)
        return xp.where(above, a, fill), above
    if inplace:       # PyTorch's in-place node: ThresholdBackward1
        return named_write(input, "ThresholdBackward1", apply_inplace, input,
                           _PIECEWISE_NODES["Threshold"], rule=rule)
    return _PIECEWISE_NODES["Threshold"].apply(input, rule=rule)


def glu(input, dim=-1):
    """Gated linear unit: split ``input`` in two halves a, b along ``dim`` (its size must be
    even) and return a * sigmoid(b); the output's ``dim`` is half as long."""
    dim = int_arg("glu", "dim", dim, 2)
    no_complex_kernel("glu_cpu", input)
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = dim + input.ndim if dim < 0 else dim
    if not 0 <= d < input.ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-input.ndim}, {input.ndim - 1}], but got {dim})")
    size = input.shape[d]
    if size % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {size}")
    _floating_only(input, "glu_cpu")        # after the shape checks, as PyTorch's
    half = size // 2
    first = tuple([slice(None)] * d + [slice(0, half)])
    second = tuple([slice(None)] * d + [slice(half, size)])
    return rename_node(mul(input[first], sigmoid(input[second])), "GluBackward0")


def prelu(input, weight):
    """x for x > 0, w * x otherwise; ``weight`` has 1 element or one per channel (dim 1 of
    the input; an input of fewer than 2 dims has one channel, as PyTorch)."""
    if _autocast_state.active:       # one of the ops CPU autocast runs in its lower dtype
        input, weight = _autocast_lower(input, weight)
    n = weight.numel()
    if input.ndim == 0 and n != 1:
        raise RuntimeError("Not allow zero-dim input tensor.")
    channels = input.shape[1] if input.ndim >= 2 else 1
    if n != 1 and n != channels:
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                           f"parameter numbers = {n} and channel size = {channels}.")
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight.ndim}")
    if input._array.dtype != weight._array.dtype:
        raise RuntimeError(f"prelu: Type promoting not supported. Got "
                           f"{scalar_type_name(input._array.dtype)} and "
                           f"{scalar_type_name(weight._array.dtype)}")
    _floating_only(input, "prelu_cpu")
    if n != 1:
        shape = [1] * input.ndim
        shape[1] = n
        weight = reshape_to(weight, shape)
    elif weight.ndim == 1 and input.ndim == 0:
        weight = weight.reshape(())
    return rename_node(where(input > 0, input, mul(weight, input)), "PreluKernelBackward0")


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x) along ``dim``."""
    if dim is None:
        dim = implicit_softmax_dim("softmin", input.dim(), _stacklevel)
    check_functional_dim("softmax", dim)        # (PyTorch's softmin runs softmax)
    return softmax(neg(input), dim, dtype)
