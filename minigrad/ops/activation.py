"""Activation functions beyond relu/sigmoid/tanh: gelu, softsign, softplus, logsigmoid, silu,
mish, tanhshrink, hardswish, glu, prelu, softmin; and, importable from here as before they
moved out, the exponential linear units (``exponential_linear_units.py``: elu, celu, selu)
and the piecewise-linear ones (``piecewise_linear.py``: hardtanh, relu6, hardsigmoid,
hardshrink, softshrink, threshold).

Almost every one is *composed* from the differentiable ops of ``elementwise`` and ``reduce``:
its backward (and the backward of that backward, for ``create_graph=True``) comes from theirs,
so there is nothing to get wrong twice.  erf, which exact GELU needs, has its own module
(``error_function.py``).  On numpy float32/float64 arrays GELU, SiLU and hardswish run as
one node each (``activation_nodes.py``: the same values, PyTorch's derivatives, a fraction
of the passes); the compositions below stay their definition and serve every other case.
``Softplus`` and ``LogSigmoid`` are Functions too, with backwards written with ops: their
stable forms go through |x| or min(x, 0), whose kinks would give wrong second derivatives at
0.

Two habits keep the gradients finite where PyTorch's are:

* a branch that would overflow on the side ``where`` discards (``exp(x)`` for large x in elu)
  is fed ``min(x, 0)``: ``where`` zeroes the gradient of the unused branch, but 0 * inf = nan;
* kinks use ``where(x > 0, ...)`` with PyTorch's choice of side at exactly 0.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _autocast_state, _memory_format as mf, backend, dtypes
from ..autograd import Function
from ..autograd._node_names import rename_node
from ..autograd.grad_mode import is_grad_enabled
from .elementary_functions import abs, sigmoid, tanh
from .error_function import erf, erf_buffer, floating as _floating
from .elementary_functions import dense_order, empty_in_order
from . import activation_nodes as _nodes
from ._autocast_cast import lower as _autocast_lower
from .elementwise import add, cast, mul, neg, sub
from .division import div
from .pointwise_select import PiecewiseLinearGrad, _select, select_block, where
from .relu_clamp import clamp
from ..tensor import Tensor
from ._util import (FLOAT32_64, int_arg, no_complex_kernel, not_implemented_for, number_arg,
                    python_type_name, scalar_type_name)
from .plumbing import reshape_to, sum_to
from .writes import overwrite_with
from .softmax import check_functional_dim, implicit_softmax_dim, softmax
from ._floating_checks import _floating_only
from ._glu_16bit import Glu16
from . import _glu_node
from ._logsigmoid_kernels import (_LOGSIG_SCRATCH, _LogSigmoidSlope, _logsigmoid_slope_times,
                                  _logsigmoid_value)
# the parts that moved out, importable from here as before
from .exponential_linear_units import (_SELU_ALPHA, _SELU_SCALE, Elu,  # noqa: F401
                                       EluInplace, _elu_arrays, _elu_inplace, celu, elu, selu)
from .piecewise_linear import (_PIECEWISE_NODES, PiecewiseLinear, _check_lambd,  # noqa: F401
                               _int64_bound, hardsigmoid, hardtanh, hardshrink, relu6,
                               softshrink, threshold)

__all__ = ["erf", "gelu", "elu", "celu", "selu", "hardswish", "hardsigmoid", "hardtanh",
           "relu6", "softsign", "softplus", "logsigmoid", "mish", "silu", "prelu", "softmin",
           "tanhshrink", "hardshrink", "softshrink", "threshold", "glu"]


_HALF, _FLOAT = np.dtype("float16"), np.dtype("float32")


def gelu(input, *, approximate="none"):
    """x * Phi(x) (``approximate='none'``: Phi(x) = (1 + erf(x / sqrt 2)) / 2), or PyTorch's
    tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (``approximate='tanh'``)."""
    if not isinstance(approximate, str):
        raise TypeError(f"gelu(): argument 'approximate' must be str, not "
                        f"{python_type_name(approximate)}")
    if approximate in ("none", "tanh"):
        _floating_only(input, "GeluKernelImpl")
        if dtypes.reduced_float(input._array.dtype):   # in float32, rounded once, as PyTorch
            return cast(gelu(cast(input, _FLOAT), approximate=approximate), input._array.dtype)
    if approximate in ("none", "tanh") and _nodes.fits(input):    # one node, same values
        # the slope kept only where a backward may follow
        a = input._array
        return _nodes.Gelu.apply(input, approximate=approximate,
                                 slope=input.requires_grad and is_grad_enabled(),
                                 inf_nan=approximate == "none" and a.dtype == _FLOAT and
                                 a.size > 1 and a.flags.c_contiguous)
    if approximate == "none":
        return mul(mul(input, 0.5), add(erf(mul(input, 1.0 / math.sqrt(2.0))), 1.0))
    if approximate == "tanh":
        inner = mul(add(input, mul(mul(mul(input, input), input), 0.044715)),
                    math.sqrt(2.0 / math.pi))
        return mul(mul(input, 0.5), add(tanh(inner), 1.0))
    raise RuntimeError(f"approximate argument must be either none or tanh. (got "
                       f"approximate='{approximate}')")


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
            return softplus_value(x, beta, threshold)
        scaled = x * x.dtype.type(beta)
        soft = (xp.maximum(scaled, 0) + xp.log1p(xp.exp(-xp.abs(scaled)))) / x.dtype.type(beta)
        return xp.where(scaled > threshold, x, soft).astype(x.dtype, copy=False)

    def backward(self, g):
        x, = self.saved_tensors
        if _nodes.fits(x) and _nodes.on_arrays(x, g):     # no graph: on arrays, in blocks
            return Tensor._wrap(softplus_slope_times(x._array, g._array, self.beta,
                                                     self.threshold))
        scaled = mul(x, self.beta)
        # the slope's own derivative is beta s (1 - s) strictly below the threshold and 0 from
        # it on (PyTorch's double backward tests beta x < threshold): there sigmoid reads
        # beta x as a constant (a NaN stays differentiable: its derivative NaN, as PyTorch's)
        held = Tensor._wrap(scaled._array)
        inner = where(Tensor._wrap(scaled._array >= self.threshold), held, scaled)
        return where(scaled > self.threshold, g, mul(g, sigmoid(inner)))


def softplus(input, *args, **kwargs):
    """``softplus(input, beta=1.0, threshold=20.0)``: log(1 + exp(beta x)) / beta, and x itself
    where beta x > threshold (as PyTorch). Read as PyTorch's parser reads them: each a number,
    its error naming the position of one given by position."""
    values = _softplus_args(args, kwargs)
    input = _floating_only(input, "softplus_cpu")
    return Softplus.apply(input, beta=values["beta"], threshold=values["threshold"])


def _softplus_args(args, kwargs):
    """softplus' beta and threshold from its positional and keyword arguments, checked."""
    if len(args) > 2:
        raise TypeError(f"softplus() takes from 1 to 3 positional arguments but "
                        f"{len(args) + 1} were given")
    for key in kwargs:
        if key not in ("beta", "threshold"):
            raise TypeError(f"softplus() got an unexpected keyword argument '{key}'")
    values = {"beta": 1.0, "threshold": 20.0}
    for k, key in enumerate(values):
        if k < len(args):
            if key in kwargs:
                raise TypeError(f"softplus() got multiple values for argument '{key}'")
            values[key] = number_arg("softplus", key, args[k], k + 2)
        elif key in kwargs:
            values[key] = number_arg("softplus", key, kwargs[key])
    return values


def softplus_slope_times(x, g, beta, threshold):
    """g * d softplus / dx on arrays: g sigmoid(beta x), and g itself where beta x >
    threshold (``Softplus``' backward when it records no graph)."""
    exact = _past_one(x.dtype, threshold)

    def kernel(xb, gb, out):
        # g / (1 + e^(-beta x)): PyTorch's g z / (z + 1), z = e^(beta x), with no overflow
        np.multiply(xb, xb.dtype.type(-beta), out=out)          # -(beta x), exactly
        below = None if exact else ~(out < -threshold)          # not beta x > threshold
        if out.dtype == np.float32:     # 1 + e^z as expm1(z) + 2: float32 expm1 is faster
            np.expm1(out, out=out)
            out += 2
        else:
            np.exp(out, out=out)
            out += 1
        np.divide(gb, out, out=out)
        if below is not None:
            select_block(below, out, gb, out)                   # (out may be a, not b)
    out = empty_in_order(x, dense_order(x))
    _nodes._blocks(kernel, [x, g], [out])
    return out


def _past_one(dtype, threshold):
    """Whether 1 + e^-z rounds to 1 in ``dtype`` for all z > threshold: the formula is then
    softplus' choice there (g, or x) with no selection; float32 from 18 (e^-18 is 1.5e-8,
    under a quarter unit at 1), float64 from 40 (1M float32: backward 2.1 -> 1.2 ms)."""
    return threshold >= (18.0 if dtype == np.float32 else 40.0)


def softplus_value(x, beta, threshold):
    """(max(beta x, 0) + log1p(e^-|beta x|)) / beta, and x where beta x > threshold, on a
    numpy float32/float64 array in blocks (``Softplus``' forward); with beta 1
    and ``_past_one``, the formula is x itself there (log1p(e^-x) under half x's unit)."""
    exact = beta == 1 and _past_one(x.dtype, threshold)

    def kernel(xb, out):
        t = xb.dtype.type
        scaled = xb * t(beta) if beta != 1 else xb      # (x 1 and / 1 are exact: skipped)
        np.abs(scaled, out=out)
        np.negative(out, out=out)
        np.exp(out, out=out)
        np.log1p(out, out=out)
        out += np.clip(scaled, t(0), t(np.inf))     # max(beta x, 0), NaN stays; clip's faster
        if beta != 1:
            out /= t(beta)
        if not exact:
            select_block(~(scaled > threshold), out, xb, out)
    out = empty_in_order(x, dense_order(x))
    _nodes._blocks(kernel, [x], [out])
    return out


class LogSigmoid(Function):
    """log(sigmoid(x)) = min(x, 0) - log1p(e^-|x|), stable for large |x|; d/dx = sigmoid(-x),
    whose own derivative -sigmoid (1 - sigmoid) holds at 0 too (see Softplus). On numpy
    float32/float64 arrays both run in cache-sized blocks (``_logsigmoid_value``, past one
    block: below, the whole-array form costs less; ``_logsigmoid_slope_times``), rounded as
    the general forms."""
    half_in_float32 = True          # float16 too: in float32, rounded once
    def forward(self, x):
        xp = backend.xp_of(x)
        self.save_for_backward(x)
        if type(x) is np.ndarray and x.dtype in FLOAT32_64 and x.size > _nodes._BLOCK:
            out = empty_in_order(x, dense_order(x))
            _nodes._blocks(_logsigmoid_value, [x], [out], _LOGSIG_SCRATCH)
        else:
            out = (xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))).astype(x.dtype, copy=False)
        # C-contiguous whatever x's strides, as PyTorch's (which fills a fresh buffer)
        return out if out.flags.c_contiguous else out.copy(order="C")

    def backward(self, g):
        x, = self.saved_tensors
        if _nodes.fits(x) and _nodes.on_arrays(x, g) and x._array.ndim:
            a = x._array
            out = empty_in_order(a, dense_order(a))
            _nodes._blocks(_logsigmoid_slope_times, [a, g._array], [out])
            return Tensor._wrap(_nodes._laid_out(out, g._array, a))
        return mul(g, _LogSigmoidSlope.apply(x))


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
        return _nodes.Silu.apply(input, slope=input.requires_grad and is_grad_enabled())
    return mul(input, sigmoid(_floating(input)))


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    if inplace:
        return overwrite_with(input, mish)
    _floating_only(input, "mish_cpu")
    if dtypes.reduced_float(input._array.dtype):      # in float32, rounded once, as PyTorch
        return cast(mish(cast(input, _FLOAT)), input._array.dtype)
    if _nodes.fits(input):                      # one node (``Mish``)
        return Mish.apply(input)
    return rename_node(mul(input, tanh(softplus(input))), "MishBackward0")


class Mish(_nodes._OneNode):
    """mish in one node on numpy float32/float64 arrays, as PyTorch's kernel computes it:
    k = tanh(log1p(e^x)) kept, y = x k; y' = k + x sigmoid(x) (1 - k^2). Four passes forward
    and ten back (in blocks, ``activation_nodes``), where the composition made about ten
    full-size arrays each way (64x128x768 float32, one thread, CPU time on a loaded machine:
    forward 37.7 -> 19.7 ms, backward 63.9 -> 21.8). e^x overflows to inf from 89 (float32)
    and k is then 1, as in PyTorch's kernel."""
    keeps = True
    slope_scratch = {"a": None, "t": None}

    def value(self, x, out, kept):
        np.exp(x, out=kept)
        np.log1p(kept, out=kept)
        np.tanh(kept, out=kept)
        np.multiply(x, kept, out=out)

    def slope_times(self, x, k, g, out, work):
        t = x.dtype.type
        s = np.negative(x, out=erf_buffer(work, "a", x.size, x.dtype))
        np.exp(s, out=s)
        s += t(1)
        np.divide(x, s, out=s)                              # x sigmoid(x), one division
        q = np.multiply(k, k, out=erf_buffer(work, "t", x.size, x.dtype))
        np.subtract(t(1), q, out=q)
        s *= q                                              # x sigmoid(x) (1 - k^2)
        s += k
        np.multiply(g, s, out=out)                          # (out may be k: read above)

    def grad_ops(self, x, g):
        k = tanh(softplus(x))
        return mul(g, add(k, mul(mul(x, sigmoid(x)), sub(1.0, mul(k, k)))))


def tanhshrink(input):
    """x - tanh(x)."""
    return sub(input, tanh(_floating(input)))


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
    if dtypes.reduced_float(input._array.dtype) and type(input._array) is np.ndarray:
        # float32 inside, rounded where PyTorch's kernels round (value and gradient)
        return Glu16.apply(input, dim=d)
    if _glu_node.fits(input._array):        # one node, in blocks, the same values
        return _glu_node.GluArrays.apply(input, dim=d,
                                         slope=input.requires_grad and is_grad_enabled())
    half = size // 2
    first = tuple([slice(None)] * d + [slice(0, half)])
    second = tuple([slice(None)] * d + [slice(half, size)])
    return rename_node(mul(input[first], sigmoid(input[second])), "GluBackward0")


def prelu(input, weight):
    """x for x > 0, w * x otherwise; ``weight`` has 1 element or one per channel (dim 1 of
    the input; an input of fewer than 2 dims has one channel, as PyTorch)."""
    if _autocast_state.active:       # one of the ops CPU autocast runs in its lower dtype
        input, weight = _autocast_lower(input, weight)
    if input._array.dtype != weight._array.dtype:        # (PyTorch's first check)
        raise RuntimeError(f"prelu: Type promoting not supported. Got "
                           f"{scalar_type_name(input._array.dtype)} and "
                           f"{scalar_type_name(weight._array.dtype)}")
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
    _floating_only(input, "prelu_cpu")
    if n != 1:
        shape = [1] * input.ndim
        shape[1] = n
        weight = reshape_to(weight, shape)
    elif weight.ndim == 1 and input.ndim == 0:
        weight = weight.reshape(())
    return Prelu.apply(input, weight)


class Prelu(Function):
    """x where x > 0, w * x elsewhere (``w`` broadcast against x): PyTorch's PreluKernel.

    Backward: g or w * g for the input, the sum of g * x where x <= 0 for the weight, both
    written with ops. Under create_graph the input's gradient is listed on the input (through
    ``PiecewiseLinearGrad``, a zero second derivative) as PyTorch's node lists it: a gradient
    penalty through a PReLU gives the layers before it zero gradients, not none (an optimizer
    steps a parameter with a zero gradient, and skips one with none)."""
    _node_name = "PreluKernelBackward0"
    saved_names = ("self", "weight")

    def forward(self, x, w):
        self.save_for_backward(x, w)
        if type(x) is np.ndarray and x.dtype in FLOAT32_64 and type(w) is np.ndarray:
            # the selection by bits (``_select``): numpy's where branched on every number
            # of a mask of random signs (1M float32, one thread: 4.5 -> 0.6 ms)
            if w.size == 1 and x.ndim:          # one weight: in blocks, in cache
                out = empty_in_order(x, dense_order(x))
                _nodes._blocks(_prelu_block(w.reshape(-1)[0]), [x], [out])
                return mf.pointwise_result(out, x, w)
            with np.errstate(all="ignore"):
                return mf.pointwise_result(_select(x > 0, x, np.multiply(w, x)), x, w)
        return mf.pointwise_result(backend.xp_of(x).where(x > 0, x, w * x), x, w)

    def backward(self, g):
        x, w = self.saved_tensors
        positive = x._array > 0
        gx = gw = None
        graph = is_grad_enabled()
        if graph:
            # PyTorch's double backward takes x = 0 as positive (x >= 0), its backward as
            # negative (x > 0): the gradient's value is the backward's (w * g at 0), its own
            # derivatives the double backward's (by g 1, by w and x 0), so at x = 0 the
            # difference w * g - g is added as a constant
            zero = x._array == 0
            positive = x._array >= 0
        if self.needs_input_grad[0]:
            gx = where(positive, g, mul(w, g))
            if graph:
                if zero.any():
                    fix = backend.xp_of(g._array).where(zero, (w._array - 1) * g._array, 0)
                    gx = add(gx, Tensor._wrap(fix.astype(gx._array.dtype, copy=False)))
                gx = PiecewiseLinearGrad.apply(gx, x, slope=np.ones((), gx._array.dtype),
                                               select=False)
        if self.needs_input_grad[1]:
            gw = sum_to(where(positive, 0.0, mul(g, x)), w.shape)
        return gx, gw


def _prelu_block(weight):
    """The kernel of a PReLU of one weight on a block: w x, then x itself where x > 0 by bits
    (``select_block``; NaN is not <= 0, so it stays x: NaN either way)."""
    def kernel(x, out):
        np.multiply(weight, x, out=out)
        select_block(x <= 0, out, x, out)
    return kernel


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x) along ``dim``."""
    if dim is None:
        dim = implicit_softmax_dim("softmin", input.dim(), _stacklevel)
    check_functional_dim("softmax", dim)        # (PyTorch's softmin runs softmax)
    return softmax(neg(input), dim, dtype)
