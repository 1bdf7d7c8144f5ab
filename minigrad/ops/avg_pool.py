"""Average pooling in 1-D, 2-D and 3-D, plain and adaptive, differentiable to any order.

    avg_pool:           y[..., i, j] = (sum of xpad over window (i, j)) / divisor, the divisor
                        kH*kW, the real (non-padding) elements with count_include_pad=False,
                        or divisor_override; an integer input gives a mean rounded toward 0
    adaptive_avg_pool:  window i of o over n elements is [floor(i*n/o), ceil((i+1)*n/o)),
                        y = the mean over it; an output size of 1 is a plain mean

Both are linear, y = W x: the backward is dx = W^T dy (``AvgPoolGrad``, the window sums
spread back; ``AdaptiveAvgPoolGrad``), a Function whose own backward is W again, the pool
itself, so gradients of any order follow. The array kernels are in ``_pool_kernels.py``; the
helpers shared with the max pools (ranked classes, zero gradients for the pool's input, the
dtype checks) in ``pool.py``.
"""
from __future__ import annotations

import itertools
import warnings

import numpy as np

from .. import _autocast_state, _memory_format as mf, backend
from .._argument_error import argument_error
from .._argument_words import parser_words
from ..autograd import Function
from . import _adaptive_pool_kernels as A, _pool_kernels as K
from ._autocast_cast import widen as _autocast_widen
from ..tensor import Tensor
from ._util import FLOAT32_64, prod as _prod
from ._pool_sizes import check_lengths, output_ints
from ._int_lists import int_like
from ._window_checks import (adaptive_grad_not_empty, adaptive_not_empty, adaptive_size,
                             check_bool_args, check_int_list_types, pool_args, tensor_arrays)
from .pool import (_FLOATS, _as_squeezed_2d, _check_dtype, _omitted, _rank, _ranked,
                   _zero_grads)
from .reduce import mean

__all__ = ["AvgPool", "AdaptiveAvgPool", "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d"]


# ----------------------------------------------------------------------------------------------
# Average pooling
# ----------------------------------------------------------------------------------------------
class AvgPool(Function):
    """Mean over each window: y = (sum of the window's elements) / divisor.

    x (..., *S) -> y (..., *out). The divisor is kH*kW, or with ``count_include_pad=False``
    the number of real (non-padding) elements, or ``divisor_override`` (see ``avg_divisor``).
    The window sum is separable: kH slice-adds along H, then kW along W. A linear map W:
    backward is ``AvgPoolGrad``, W^T dy = dy / divisor spread back over each window.
    An int64 input (as PyTorch) gives an int64 mean, rounded toward zero.
    """
    nd = 2

    @classmethod
    def name(cls):
        # (a 1-D pool's node is renamed as PyTorch's squeeze: _as_squeezed_2d)
        return cls._node_name or f"AvgPool{cls.nd}DBackward0"

    def forward(self, x, *, kernel, stride, padding, out_size, count_include_pad=True,
                divisor_override=None):
        self.params = dict(kernel=kernel, stride=stride, padding=padding, out_size=out_size,
                           count_include_pad=count_include_pad, divisor_override=divisor_override)
        self.size = x.shape[x.ndim - len(kernel):]
        half = x.dtype == np.float16      # as PyTorch: summed and divided in float32, one rounding
        y = K.window_sums(x.astype(np.float32) if half else x, kernel, stride, padding, out_size)
        divisor = K.avg_divisor(backend.xp_of(x), self.size, out_size, kernel, stride, padding,
                                count_include_pad, divisor_override, y.dtype)
        if x.dtype.kind not in "fV":
            return mf.channels_last_like(K.trunc_divide(y, divisor), x, len(kernel))
        y /= divisor
        if half:
            y = y.astype(np.float16)
        self.divisor = divisor                                     # a number or a (*out) array
        self.save_for_backward(x)
        return mf.channels_last_like(y, x, len(kernel))

    def backward(self, g):                                         # g: (..., *out)
        x, = self.saved_tensors
        return _rank(AvgPoolGrad, self.nd).apply(g, x, divisor=self.divisor, size=self.size,
                                                 params=self.params)


class AvgPoolGrad(Function):
    """AvgPool's backward as an op: dy (..., *out) -> dx (..., *S) = W^T dy, each dy / divisor
    added to every element of its window. Linear; its backward, (W^T)^T = W, is the pool."""
    nd = 2

    @classmethod
    def name(cls):
        return f"AvgPool{cls.nd}DBackwardBackward0"

    def forward(self, g, x, *, divisor, size, params):   # x: the pool's input (_zero_grads)
        self.params = params
        if g.dtype == np.float16 and type(g) is np.ndarray:
            share = (g.astype(np.float32) / divisor).astype(np.float16)
            return _spread_in_order(share, params["kernel"], params["stride"],
                                    params["padding"], size)
        return K.spread_windows(g / divisor, params["kernel"], params["stride"],
                                params["padding"], size)

    def backward(self, gg):                                        # gg: (..., *S)
        dg = _rank(AvgPool, self.nd).apply(gg, **self.params) if self.needs_input_grad[0] \
            else None
        return (dg,) + _zero_grads(self, gg, 1)


def _spread_in_order(share, kernel, stride, padding, size):
    """``spread_windows`` of float16 shares as PyTorch's kernel adds them: output by output in
    order, each share added to its window's elements and rounded to float16 at every add.
    For one input element the outputs whose windows hold it come in order when the taps go
    last to first (a later tap reads an earlier output), so one pass per tap does it."""
    nd = len(kernel)
    out = share.shape[-nd:]
    # (ceil_mode's last window may reach past the right padding)
    ext = tuple(max(n + l + r, s * (o - 1) + k) for n, (l, r), s, o, k
                in zip(size, padding, stride, out, kernel))
    gx = np.zeros(share.shape[:-nd] + ext, np.float16)
    for tap in itertools.product(*(range(k - 1, -1, -1) for k in kernel)):
        gx[(Ellipsis,) + tuple(slice(t, t + s * (o - 1) + 1, s)
                               for t, s, o in zip(tap, stride, out))] += share
    return gx[(Ellipsis,) + tuple(slice(l, l + n) for (l, _), n in zip(padding, size))]


AvgPool1d, AvgPool2d, AvgPool3d = AvgPool.ranks = _ranked(AvgPool)
AvgPoolGrad.ranks = _ranked(AvgPoolGrad)


class AdaptiveAvgPool(Function):
    """Average over adaptive windows (``adaptive_mean``): x (..., *S) -> y (..., *out).
    Linear; backward is ``AdaptiveAvgPoolGrad`` (the adjoint), whose backward is this again."""
    nd = 2

    @classmethod
    def name(cls):
        # (a 1-D pool's node is renamed as PyTorch's squeeze: _as_squeezed_2d)
        return cls._node_name or f"AdaptiveAvgPool{cls.nd}DBackward0"

    def forward(self, x, *, out_size):
        self.size = x.shape[x.ndim - len(out_size):]
        self.save_for_backward(x)
        y = A.adaptive_mean(x, out_size)
        if y.dtype != x.dtype:          # an empty result of an integer input keeps its dtype
            y = y.astype(x.dtype)
        return mf.channels_last_like(y, x, len(out_size))

    def backward(self, g):                                         # g: (..., *out)
        adaptive_grad_not_empty("avg", self.nd, g.shape)
        x, = self.saved_tensors
        return _rank(AdaptiveAvgPoolGrad, self.nd).apply(g, x, size=self.size)


class AdaptiveAvgPoolGrad(Function):
    """dy (..., *out) -> dx (..., *S): each dy / len(window) spread over its window."""
    nd = 2

    @classmethod
    def name(cls):
        return f"AdaptiveAvgPool{cls.nd}DBackwardBackward0"

    def forward(self, g, x, *, size):                 # x: the pool's input, see _zero_grads
        self.out_size = g.shape[g.ndim - len(size):]
        return A.adaptive_spread(g, size)

    def backward(self, gg):                                        # gg: (..., *S)
        dg = _rank(AdaptiveAvgPool, self.nd).apply(gg, out_size=self.out_size) \
            if self.needs_input_grad[0] else None
        return (dg,) + _zero_grads(self, gg, 1)


AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d = AdaptiveAvgPool.ranks = \
    _ranked(AdaptiveAvgPool)
AdaptiveAvgPoolGrad.ranks = _ranked(AdaptiveAvgPoolGrad)


# ----------------------------------------------------------------------------------------------
# Public functional API (re-exported from minigrad.nn.functional)
# ----------------------------------------------------------------------------------------------
def _plain_ints(value, nd):
    """``value`` as a tuple of nd Python ints when it is one int or a tuple of nd ints, else
    None."""
    if type(value) is int:
        return (value,) * nd
    if type(value) is tuple and len(value) == nd and all(type(v) is int for v in value):
        return value
    return None


def _plain_window(nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                  divisor_override):
    """The pool's parameters (as ``pool_args`` gives them) for the everyday call that no check
    can refuse: a float32/float64 numpy input of nd + 1 or nd + 2 dims none of them empty,
    int kernel and stride no larger than the input, no padding, no ceil_mode, no divisor;
    else None, and the checks run (small pools spent most of their time in them)."""
    x = getattr(input, "_array", None)
    if type(x) is not np.ndarray or x.dtype not in FLOAT32_64 or x.ndim not in (nd + 1, nd + 2) \
            or not x.size or padding != 0 or type(padding) is not int or ceil_mode is not False \
            or type(count_include_pad) is not bool or divisor_override is not None \
            or not isinstance(input, Tensor):
        return None
    kernel = _plain_ints(kernel_size, nd)
    strides = kernel if stride is None else _plain_ints(stride, nd)
    if kernel is None or strides is None:
        return None
    size = x.shape[-nd:]
    if not all(1 <= k <= n and s >= 1 for k, s, n in zip(kernel, strides, size)):
        return None
    return dict(kernel=kernel, stride=strides, padding=((0, 0),) * nd,
                out_size=tuple((n - k) // s + 1 for n, k, s in zip(size, kernel, strides)))


def _avg_pool(op, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    params = _plain_window(nd, input, kernel_size, stride, padding, ceil_mode,
                           count_include_pad, divisor_override)
    if params is not None:
        return _rank(AvgPool, nd).apply(input, count_include_pad=count_include_pad,
                                        divisor_override=None, **params)
    x, = tensor_arrays(op, input=input)
    check_int_list_types(op, ("kernel_size", 2, kernel_size, False), ("stride", 3, stride, True),
                         ("padding", 4, padding, False))
    check_bool_args(op, ("ceil_mode", 5, ceil_mode), ("count_include_pad", 6, count_include_pad))
    if divisor_override is not None and not int_like(divisor_override, True):
        raise argument_error(op, "divisor_override", "int", divisor_override, 7)
    if divisor_override is not None:
        divisor_override = int(divisor_override)          # an integer tensor of one element
    # the lengths come first (for the 1-d pool after the input's rank), then the divisor (for
    # the 3-d pool after the input's rank)
    if nd > 1 or x.ndim in (2, 3):
        check_lengths(op, nd, False, kernel_size=kernel_size, stride=stride, padding=padding)
    if divisor_override is not None and divisor_override == 0 and (nd < 3 or x.ndim in (4, 5)):
        raise RuntimeError("divisor must be not zero")
    if nd == 2 and x.ndim < 3:        # PyTorch reads input.size(-3) first
        if x.ndim == 0:
            raise IndexError("Dimension specified as -3 but tensor has no dimensions")
        raise IndexError(f"Dimension out of range (expected to be in range of [{-x.ndim}, "
                         f"{x.ndim - 1}], but got -3)")
    # max_pool=True: the dtype rule is checked here, after the shapes (PyTorch's order)
    params = pool_args(op, nd, x, kernel_size, _omitted(stride), padding, 1, ceil_mode,
                       max_pool=True)
    if nd < 3:        # PyTorch's CPU kernels: floating types and int64 (a truncated mean)
        _check_dtype(x, "avg_pool2d", _FLOATS + ("int64",))
    else:
        _check_dtype(x, "avg_pool3d_out_frame", ("float32", "float64", "int64"))
    del params["dilation"]
    return _rank(AvgPool, nd).apply(
        input, count_include_pad=bool(count_include_pad), divisor_override=divisor_override,
        **params)


@parser_words("avg_pool1d")
def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """1-D average pooling: input (N, C, L) or (C, L) -> (N, C, L_out). See ``avg_pool2d``."""
    return _as_squeezed_2d(_avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding,
                                     ceil_mode, count_include_pad, None))


@parser_words("avg_pool2d")
def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """2-D average pooling, as ``torch.nn.functional.avg_pool2d``.

    input (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out). Each output is its window's sum
    divided by kH*kW (zero padding included), by the count of non-padding elements when
    ``count_include_pad=False``, or by ``divisor_override``. An int64 input gives an int64
    result, the quotient rounded toward zero (as PyTorch).
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


@parser_words("avg_pool3d")
def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """3-D average pooling: input (N, C, D, H, W) or (C, D, H, W) -> (N, C, D_out, H_out,
    W_out), divisor kD*kH*kW. See ``avg_pool2d``."""
    if _autocast_state.active:       # one of the ops CPU autocast runs in float32
        input, = _autocast_widen(input)
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def _global_size(output_size, x):
    """Is ``output_size`` (1, 1)? PyTorch then takes the mean over the last two axes, with no
    check of the rank beyond theirs (a 2-d or 5-d input, an empty plane: nan)."""
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    if len(sizes) != 2:
        return False
    for i, o in enumerate(sizes):
        if o is None and x.ndim >= 2:
            o = x.shape[i - 2]
        if isinstance(o, bool) or o != 1:
            return False
    return True


def _global_mean(input, dims):
    with warnings.catch_warnings():          # numpy's "Mean of empty slice": nan, as PyTorch
        warnings.simplefilter("ignore", RuntimeWarning)
        out = mean(input, dims, keepdim=True)
    if len(dims) == 2 and out.ndim == 4 and not input._array.flags.c_contiguous and \
            mf.suggest(input._array) is mf.channels_last:
        # PyTorch lays the (N, C, 1, 1) mean of a channels-last input out as channels-last,
        # strides (C, 1, C, C): a new view of the result's own memory (a row-major input,
        # the usual case, skips the stride test)
        c, a = out.shape[1], out._array
        out._array = backend.xp_of(a).lib.stride_tricks.as_strided(
            a, a.shape, (c * a.itemsize, a.itemsize, c * a.itemsize, c * a.itemsize))
    elif len(dims) == 1 and out.ndim == 3 and not input._array.flags.c_contiguous:
        # a 1-d pool is PyTorch's 2-d one over (N, C, 1, L): channels-last there, (C, 1, C)
        out._array = mf.channels_last_like(out._array, input._array, 1)
    return out


def adaptive_avg_pool1d(input, output_size):
    """Average pooling to a given length: (N, C, L) or (C, L) -> (N, C, output_size)."""
    x, = tensor_arrays("adaptive_avg_pool1d", input=input)
    output_size = output_ints("adaptive_avg_pool1d", 1, x, output_size)
    given = output_size[0] if len(output_size) == 1 else None
    if x.ndim in (2, 3) and given is not None and given < 0:
        # PyTorch runs it as a 2-D pool to (1, size), and its message says so
        raise RuntimeError("adaptive_avg_pool2d: elements of output_size must be greater than "
                           f"or equal to 0 but received {{1, {given}}}")
    size = adaptive_size("adaptive_avg_pool1d", 1, x, output_size)
    if size == (1,):           # PyTorch's 2-D pool to (1, 1): the mean, as below
        return _as_squeezed_2d(_global_mean(input, (-1,)))
    # PyTorch runs it as a 2-D pool over (.., 1, L), and its messages say so
    adaptive_not_empty("adaptive_avg_pool2d", x, (x.ndim - 1,),
                       list(x.shape[:-1]) + [1, x.shape[-1]], x.ndim)
    if _prod(x.shape[:-1]) * size[0]:     # an empty result runs no kernel: any dtype passes
        _check_dtype(x, "adaptive_avg_pool2d", _FLOATS)
    return _as_squeezed_2d(AdaptiveAvgPool1d.apply(input, out_size=size))


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a given size, as ``torch.nn.functional.adaptive_avg_pool2d``.

    input (N, C, H, W) or (C, H, W) -> (N, C, oH, oW); output_size is an int, a pair, or a
    pair with None (keep that axis). Window i along an axis of n elements covers
    [floor(i*n/o), ceil((i+1)*n/o)). ``adaptive_avg_pool2d(x, 1)`` is global average pooling.
    """
    x, = tensor_arrays("adaptive_avg_pool2d", input=input)
    output_size = output_ints("adaptive_avg_pool2d", 2, x, output_size)
    if _global_size(output_size, x):
        return _global_mean(input, (-2, -1))
    size = adaptive_size("adaptive_avg_pool2d", 2, x, output_size)
    adaptive_not_empty("adaptive_avg_pool2d", x, (x.ndim - 2, x.ndim - 1))
    if _prod(x.shape[:-2]) * _prod(size):   # an empty result runs no kernel: any dtype passes
        _check_dtype(x, "adaptive_avg_pool2d", _FLOATS)
    return AdaptiveAvgPool2d.apply(input, out_size=size)


def adaptive_avg_pool3d(input, output_size):
    """Average pooling to a given size: (N, C, D, H, W) or (C, D, H, W) -> (N, C, oD, oH, oW);
    output_size an int, a triple, or a triple with None (keep that axis); windows as in
    ``adaptive_avg_pool2d``, along three axes."""
    if _autocast_state.active:       # one of the ops CPU autocast runs in float32
        input, = _autocast_widen(input)
    x, = tensor_arrays("adaptive_avg_pool3d", input=input)
    output_size = output_ints("adaptive_avg_pool3d", 3, x, output_size)
    if len(output_size) != 3:
        raise RuntimeError("adaptive_avg_pool3d: output_size must be 3")
    if output_size == (1, 1, 1):
        # PyTorch's pool to (1, 1, 1): the mean of the last three axes, of any rank
        return _global_mean(input, (-1, -2, -3))
    size = adaptive_size("adaptive_avg_pool3d", 3, x, output_size)
    adaptive_not_empty("adaptive_avg_pool3d", x, range(1, x.ndim))   # all but the first axis
    _check_dtype(x, "adaptive_avg_pool3d_cpu", _FLOATS)
    return AdaptiveAvgPool3d.apply(input, out_size=size)
