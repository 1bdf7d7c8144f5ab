"""Convolutions: conv1d/2d/3d and conv_transpose1d/2d/3d, differentiable to any order.

Read it in this order:

1. ``conv_reference``: the definition, one output position at a time (slow, obviously right;
   the tests check the fast code against it and against PyTorch).
2. Three Functions, each a linear map of two tensors, whose backwards are each other::

       Conv(x, w)            y  = x (*) w               x (N, C, *S), w (O, C/G, *k) -> (N, O, *L)
       ConvTranspose(g, w)   gx = the adjoint of Conv in x          g (N, O, *L) -> (N, C, *S)
       ConvWeightGrad(x, g)  gw = the adjoint of Conv in w                       -> (O, C/G, *k)

   Because y is bilinear in (x, w), every derivative of one is another of the three:
   d<gy, Conv(x, w)> = <ConvTranspose(gy, w), dx> + <ConvWeightGrad(x, gy), dw>, and so on
   (each backward below spells out its own). So ``backward(create_graph=True)`` records a
   graph of convolutions, which can be differentiated again, to any order.
3. The public functions (conv2d, conv_transpose2d, ...): argument checks, then one of them.

The fast array code (im2col, the GEMMs, the layouts) lives in ``conv_kernels.py``; each
Function's forward calls one kernel there.
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import _autocast_state, _memory_format as mf, backend, dtypes
from .._argument_words import parser_words
from ..autograd import Function
from ..autograd._node_names import rename_node
from ..autograd._shown_edges import padded_inputs
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from . import _conv_joint_backward as _joint, conv_kernels as kernels
from . import _conv_weight_grad as weight_kernels
from ._autocast_cast import lower as _autocast_lower
from ._conv_checks import conv_args, conv_transpose_args, empty_dtype
from ._util import not_implemented_for, scalar_type_name
from ._window_checks import conv_output_size, tensor_arrays
from .conv_kernels import Geometry
from .complex_numbers import complex, imag, real
from .elementwise import cast
from .plumbing import reshape_to
from .reduce import Sum

__all__ = ["conv_output_size", "conv_reference", "corr2d", "Conv", "ConvTranspose",
           "ConvWeightGrad", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
           "conv_transpose2d", "conv_transpose3d", "conv_tbc"]


# ----------------------------------------------------------------------------------------------
# The definition
# ----------------------------------------------------------------------------------------------
def conv_reference(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlation as written on paper, one output position at a time (arrays in and out).

    x (N, C, *S), w (O, C/G, *k), b (O,) -> y (N, O, *L). For output channel o of group
    g = o // (O/G), with xpad the input zero-padded by ``padding`` on each side::

        y[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q]
                                             * xpad[n, g*C/G + c, i*sH + p*dH, j*sW + q*dW]

    stride, padding, dilation: one int for every axis, or one per axis.
    """
    xp = backend.xp_of(x)
    nd = x.ndim - 2
    per_axis = [v if isinstance(v, (tuple, list)) else (v,) * nd for v in (stride, padding,
                                                                           dilation)]
    kernel = w.shape[2:]
    xpad = xp.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in per_axis[1]])
    out = [conv_output_size(n, k, s, p, d) for n, k, s, p, d in zip(x.shape[2:], kernel,
                                                                     *per_axis)]
    C_g, O_g = x.shape[1] // groups, w.shape[0] // groups
    y = xp.zeros((x.shape[0], w.shape[0], *out), dtype=x.dtype)
    for position in itertools.product(*(range(n) for n in out)):
        # the window under this output position: every kernel tap, all batch items at once
        window = tuple(slice(i * s, i * s + d * (k - 1) + 1, d)
                       for i, k, s, d in zip(position, kernel, per_axis[0], per_axis[2]))
        for g in range(groups):
            patch = xpad[(slice(None), slice(g * C_g, (g + 1) * C_g)) + window]  # (N, C/G, *k)
            taps = w[g * O_g:(g + 1) * O_g]                                      # (O/G, C/G, *k)
            y[(slice(None), slice(g * O_g, (g + 1) * O_g)) + position] = xp.tensordot(
                patch, taps, axes=(list(range(1, nd + 2)), list(range(1, nd + 2))))
    return y if b is None else y + b.reshape((-1,) + (1,) * nd)


def corr2d(X, K):
    """One plane, one kernel: conv_reference on a (H, W) array X and a (kH, kW) array K.

    >>> corr2d(numpy.array([[0., 1, 2], [3, 4, 5], [6, 7, 8]]), numpy.array([[0., 1], [2, 3]]))
    array([[19., 25.],
           [37., 43.]])
    """
    return conv_reference(X[None, None], K[None, None])[0, 0]


# ----------------------------------------------------------------------------------------------
# The three Functions
# ----------------------------------------------------------------------------------------------
def _bias_grad(g):
    """d<g, y + b>/db: g (N, O, *L) summed over every axis but O -> (O,)."""
    return Sum.apply(g, axes=(0,) + tuple(range(2, g._array.ndim)), keepdim=False)


def _double_backward_node(gx, gw, gb):
    """A convolution's gradients recorded under create_graph, named as PyTorch's one node for
    them: ConvolutionBackwardBackward0. (A frozen layer's input gradient, which depends on
    no tensor that requires grad, has no node here; PyTorch's has one that leads nowhere.)"""
    for t in (gx, gw, gb):
        rename_node(t, "ConvolutionBackwardBackward0")
    return gx, gw, gb


def _layout_of(y, x, w):
    """``y`` laid out as PyTorch lays out a 2-d convolution's result: channels-last when the
    input or the weight looks channels-last (a copy only then).  3-d ones are left row-major:
    PyTorch's layout for them depends on which CPU backend it picks."""
    return mf.channels_last_like(y, w if w.ndim == 4 and mf.suggest(w) is mf.channels_last
                                 else x)


class Conv(Function):
    """y = x (*) w + b, as ``conv_reference`` defines it (PyTorch's conv1d/2d/3d).

    x (N, C, *S), w (O, C/G, *k), b (O,) or absent -> y (N, O, *L); ``geom`` (a
    ``conv_kernels.Geometry``) holds kernel, stride, padding, dilation, groups and the sizes.
    ``cols``: x's im2col matrix, when a caller already made it (a hint, never differentiated).
    """
    first_order_only = False
    saved_names = ("input", "weight")
    saved_fields = {"stride": lambda node: node.geom.stride,
                    "padding": lambda node: tuple(left for left, _ in node.geom.padding),
                    "dilation": lambda node: node.geom.dilation,
                    "groups": lambda node: node.geom.groups,
                    "transposed": lambda node: False,
                    "output_padding": lambda node: (0,) * len(node.geom.stride),
                    "bias_sym_sizes_opt": lambda node: node._in_meta[2][0] if node.has_bias
                    else (0,)}

    _node_name = "ConvolutionBackward0"
    next_functions = padded_inputs(3)       # (x, w, b): (None, 0) for no bias

    def forward(self, x, w, b=None, *, geom, cols=None):
        y, cols = kernels.forward(x, w, b, geom, cols)
        self.save_for_backward(x, w)
        # x's columns, kept for the weight gradient: it then costs one GEMM and no copy
        self.cols = cols
        self.geom, self.has_bias = geom, b is not None
        return _layout_of(y, x, w)

    def backward(self, gy):                                        # gy (N, O, *L)
        x, w = self.saved_tensors
        need = self.needs_input_grad
        # the columns serve this one backward: dropped here, so that a graph kept alive after
        # it (until the next step's forward, say) keeps no im2col buffer busy
        cols, self.cols = self.cols, None
        if not is_grad_enabled():
            # no graph to record: the gradients at once, a part of the batch per thread
            grads = _joint.backward(x._array, gy._array, w._array, self.geom, cols, need)
            if grads is not None:
                gx, gw, gb = grads
                gx = None if gx is None else Tensor._wrap(_layout_of(gx, gy._array, w._array))
                gw = None if gw is None else Tensor._wrap(gw)
                return (gx, gw, Tensor._wrap(gb) if need[2] else None) if self.has_bias \
                    else (gx, gw)
        gx = ConvTranspose.apply(gy, w, geom=self.geom) if need[0] else None
        gw = ConvWeightGrad.apply(x, gy, geom=self.geom, cols=cols) if need[1] else None
        gb = _bias_grad(gy) if self.has_bias and need[2] else None
        if is_grad_enabled():
            gx, gw, gb = _double_backward_node(gx, gw, gb)
        return (gx, gw, gb) if self.has_bias else (gx, gw)


class ConvTranspose(Function):
    """gx = the adjoint of ``Conv`` in x, plus b: PyTorch's conv_transpose1d/2d/3d.

    g (N, O, *L), w (O, C/G, *k) -> (N, C, *S), with ``geom`` the geometry of the convolution
    it is the adjoint of (so for conv_transpose2d, O is its C_in and C its C_out). Every input
    number g[n, o, i, j] adds g[n, o, i, j] * w[o] into the output window whose corner is
    (i*sH - pH, j*sW - pW), taps dH, dW apart, on the channels of o's group::

        out = (L - 1) * s - 2p + d(k - 1) + output_padding + 1      (per axis)

    Backward: <h, ConvTranspose(g, w)> = <Conv(h, w), g> = <ConvWeightGrad(h, g), w>, so
    dg = Conv(h, w) and dw = ConvWeightGrad(h, g) (on the im2col path they share h's columns).
    """
    first_order_only = False

    _node_name = "ConvolutionBackward0"
    next_functions = padded_inputs(3)       # (x, w, b): (None, 0) for no bias

    def forward(self, g, w, b=None, *, geom):
        gx = kernels.input_grad(g, w, geom)
        if b is not None:
            gx += b.reshape((-1,) + (1,) * len(geom.kernel))
        self.save_for_backward(g, w)
        self.geom, self.has_bias = geom, b is not None
        return _layout_of(gx, g, w)

    def backward(self, h):                                         # h (N, C, *S)
        g, w = self.saved_tensors
        need, geom = self.needs_input_grad, self.geom
        cols = kernels.columns(h._array, geom) if need[0] and need[1] and h._array.size else None
        gg = Conv.apply(h, w, geom=geom, cols=cols) if need[0] else None
        gw = ConvWeightGrad.apply(h, g, geom=geom, cols=cols) if need[1] else None
        gb = _bias_grad(h) if self.has_bias and need[2] else None
        if is_grad_enabled():
            gg, gw, gb = _double_backward_node(gg, gw, gb)
        return (gg, gw, gb) if self.has_bias else (gg, gw)


class ConvWeightGrad(Function):
    """gw = the gradient of <g, Conv(x, w)> in w: x (N, C, *S), g (N, O, *L) -> (O, C/G, *k).

        gw[o, c, p, q] = sum_{n, i, j} g[n, o, i, j] * xpad[n, c', i*sH + p*dH, j*sW + q*dW]

    with c' = c + (C/G) * (o's group).

    Backward: <H, ConvWeightGrad(x, g)> = <g, Conv(x, H)> = <ConvTranspose(g, H), x>, so
    dx = ConvTranspose(g, H) and dg = Conv(x, H).
    """
    first_order_only = False

    def forward(self, x, g, *, geom, cols=None):
        self.save_for_backward(x, g)
        self.geom = geom
        return weight_kernels.weight_grad(x, g, geom, cols)

    def backward(self, H):                                         # H (O, C/G, *k)
        x, g = self.saved_tensors
        need, geom = self.needs_input_grad, self.geom
        return (ConvTranspose.apply(g, H, geom=geom) if need[0] else None,
                Conv.apply(x, H, geom=geom) if need[1] else None)


class NoChannels(Function):
    """A convolution of an input with no channels, as PyTorch computes it: x (N, 0, *S) and
    w (O, 0, *k) -> an empty (N, 0, *L) result in the promoted dtype of x and w (PyTorch
    multiplies x by w's (empty) numbers there: whatever O and the bias, no channel is left).
    Every gradient is zero: x's and w's are empty, b's is zeros (O,)."""
    first_order_only = False
    complex_ok = True           # (no arithmetic: zeros of the promoted dtype)
    _node_name = "ConvolutionBackward0"
    next_functions = padded_inputs(3)       # (x, w, b): (None, 0) for no bias

    def forward(self, x, w, b=None, *, out_size):
        self.shapes = [(a.shape, a.dtype) for a in (x, w, b) if a is not None]
        xp = backend.xp_of(x)
        return xp.zeros((x.shape[0], 0) + tuple(out_size),
                        dtype=dtypes._promote(x.dtype, w.dtype))

    def backward(self, gy):
        xp = backend.xp_of(gy._array)
        return tuple(Tensor._wrap(xp.zeros(shape, dtype)) if need else None
                     for (shape, dtype), need in zip(self.shapes, self.needs_input_grad))


# ----------------------------------------------------------------------------------------------
# Public functional API (re-exported from minigrad.nn.functional)
# ----------------------------------------------------------------------------------------------
def _batched(input, batched):
    """An unbatched (C, *S) input as (1, C, *S): a reshape, so gradients flow through it."""
    return input if batched else reshape_to(input, (1,) + tuple(input._array.shape))


def _empty_mixed(function, input, weight, bias, geom, x, w):
    """An empty batch with a weight of another dtype: computed in PyTorch's result dtype."""
    dtype = empty_dtype(x, w)
    tensors = (input, weight) + (() if bias is None else (bias,))
    return function.apply(*(cast(t, dtype) for t in tensors), geom=geom)


def _by_parts(real_conv, input, weight, bias, nd):
    """A complex convolution from four real ones, as (a + ib)(c + id) = (ac - bd) + i(ad + bc)
    for each product in the sum: the parts are views, and complex()/real()/imag() carry the
    gradient in PyTorch's convention, so no complex kernel or backward is needed.  (PyTorch
    conjugates nothing here: it is the plain sum of x * w over the window.)"""
    a, b, c, d = real(input), imag(input), real(weight), imag(weight)
    out = complex(real_conv(a, c) - real_conv(b, d), real_conv(a, d) + real_conv(b, c))
    if bias is None:
        return out
    return out + reshape_to(bias, tuple(bias._array.shape) + (1,) * nd)


def _conv(op, nd, input, weight, bias, stride, padding, dilation, groups):
    if _autocast_state.active:             # autocast: float32 operands in its dtype
        input, weight, bias = _autocast_lower(input, weight, bias)
    x, w, b = tensor_arrays(op, input=input, weight=weight, bias=bias)
    p = conv_args(op, nd, x, w, b, stride, padding, dilation, groups)
    size = x.shape[-nd:]
    geom = Geometry(w.shape[2:], p["stride"], p["padding"], p["dilation"], p["groups"], size,
                    tuple(conv_output_size(n, k, s, pad, d) for n, k, s, pad, d in
                          zip(size, w.shape[2:], p["stride"], p["padding"], p["dilation"])))
    if x.shape[-nd - 1] == 0:       # no input channels: an empty result, whatever O
        tensors = (_batched(input, p["batched"]), weight) + (() if bias is None else (bias,))
        y = NoChannels.apply(*tensors, out_size=geom.out_size)
        return y if p["batched"] else reshape_to(y, y._array.shape[1:])
    if w.dtype != x.dtype:          # an empty batch (PyTorch returns before comparing them)
        return _empty_mixed(Conv, input, weight, bias, geom, x, w)
    if x.dtype.kind == "c":
        return _by_parts(lambda a, b: _conv(op, nd, a, b, None, stride, padding, dilation,
                                            groups), input, weight, bias, nd)
    tensors = (_batched(input, p["batched"]), weight) + (() if bias is None else (bias,))
    y = Conv.apply(*tensors, geom=geom)
    return y if p["batched"] else reshape_to(y, y._array.shape[1:])


def _conv_transpose(op, nd, input, weight, bias, stride, padding, output_padding, groups,
                    dilation):
    if _autocast_state.active:
        input, weight, bias = _autocast_lower(input, weight, bias)
    x, w, b = tensor_arrays(op, input=input, weight=weight, bias=bias)
    p = conv_transpose_args(op, nd, x, w, b, stride, padding, output_padding, groups,
                            dilation)
    size = x.shape[-nd:]
    out = tuple((n - 1) * s - 2 * pad + d * (k - 1) + op_ + 1 for n, k, s, pad, d, op_ in
                zip(size, w.shape[2:], p["stride"], p["padding"], p["dilation"],
                    p["output_padding"]))
    # the convolution this is the adjoint of: input size `out`, output size `size`
    geom = Geometry(w.shape[2:], p["stride"], tuple((q, q) for q in p["padding"]),
                    p["dilation"], p["groups"], out, tuple(size))
    if w.dtype != x.dtype:          # an empty batch (PyTorch returns before comparing them)
        return _empty_mixed(ConvTranspose, input, weight, bias, geom, x, w)
    if x.dtype.kind == "c":
        return _by_parts(lambda a, b: _conv_transpose(op, nd, a, b, None, stride, padding,
                                                      output_padding, groups, dilation),
                         input, weight, bias, nd)
    if bias is not None and b.dtype != x.dtype:    # 1-d/2-d: added in the input's dtype
        bias = cast(bias, x.dtype)
    tensors = (_batched(input, p["batched"]), weight) + (() if bias is None else (bias,))
    y = ConvTranspose.apply(*tensors, geom=geom)
    return y if p["batched"] else reshape_to(y, y._array.shape[1:])


# A convolution's parser has two signatures (padding as ints, or as a string): an argument of
# the wrong type fits neither, and PyTorch lists both
_CONV_SIGNATURES = tuple(
    "Tensor input, Tensor weight, Tensor bias = None, tuple of ints stride = 1, "
    f"{padding}, tuple of ints dilation = 1, int groups = 1"
    for padding in ("tuple of ints padding = 0", 'str padding = "valid"'))


@parser_words("conv1d", _CONV_SIGNATURES)
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation: input (N, C_in, L) or (C_in, L), weight (C_out, C_in/groups, kL),
    bias (C_out,) -> (N, C_out, L_out) with L_out = conv_output_size(L, kL, stride, padding,
    dilation). ``padding`` is an int, a 1-tuple, 'valid' (0) or 'same' (stride 1 only)."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


@parser_words("conv2d", _CONV_SIGNATURES)
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``.

    input (N, C_in, H, W) or (C_in, H, W); weight (C_out, C_in/groups, kH, kW); bias (C_out,)
    -> (N, C_out, H_out, W_out), H_out = floor((H + 2p - d(kH-1) - 1)/s) + 1 (same for W).
    stride, padding, dilation: an int or an (h, w) pair; padding may be 'valid' or 'same'
    ('same' keeps H, W; an even kernel gets the extra padding row/column on the right/bottom).
    groups: input and output channels split into that many independent groups.
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


@parser_words("conv3d", _CONV_SIGNATURES)
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D cross-correlation: input (N, C_in, D, H, W) or unbatched, weight (C_out, C_in/groups,
    kD, kH, kW) -> (N, C_out, D_out, H_out, W_out). The same code as conv2d."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


@parser_words("conv_transpose1d")
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """1-D transposed convolution: input (N, C_in, L) or (C_in, L), weight (C_in,
    C_out/groups, kL) -> (N, C_out, (L-1)s - 2p + d(kL-1) + output_padding + 1)."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


@parser_words("conv_transpose2d")
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution, as ``torch.nn.functional.conv_transpose2d``.

    input (N, C_in, H, W) or (C_in, H, W); weight (C_in, C_out/groups, kH, kW); bias (C_out,)
    -> (N, C_out, H_out, W_out), H_out = (H-1)s - 2p + d(kH-1) + output_padding + 1.
    It is the gradient of conv2d with respect to its input (and conv2d is its gradient).
    """
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


@parser_words("conv_transpose3d")
def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """3-D transposed convolution: weight (C_in, C_out/groups, kD, kH, kW)."""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_tbc(input, weight, bias, pad=0):
    """1-D convolution in time-batch-channel layout.

    input (T, B, C_in), weight (K, C_in, C_out), bias (C_out,) -> (T + 2 pad - K + 1, B, C_out);
    out[t, b, o] = bias[o] + sum_{k, c} input[t + k - pad, b, c] * weight[k, c, o].
    """
    # PyTorch's words first; the sizes it leaves out after them
    if input.ndim != 3:
        raise RuntimeError(f"Input must have 3 dims: time, batch, in_channel (got "
                           f"{input.ndim})")
    if weight.ndim != 3:
        raise RuntimeError(f"Weight tensor must have 3 dims: kernel_width, in_channels, "
                           f"out_channels. (got {weight.ndim})")
    if bias.ndim != 1:
        raise RuntimeError(f"Bias must be 1-D (got {bias.ndim} dims)")
    if input.shape[2] != weight.shape[1]:
        raise RuntimeError(f"Input dim 2 (input channels) is not == dim 1 in the weight tensor "
                           f"({input.shape[2]} against {weight.shape[1]})")
    if weight.shape[2] != bias.shape[0]:
        raise RuntimeError(f"Bias size must equal dim 2 in the weight tensor (output channels). "
                           f"({bias.shape[0]} against {weight.shape[2]})")
    # PyTorch computes it as one matrix product per tap, added onto a copy of the bias in the
    # input's dtype: each tap views its time steps of the input as (steps * batch, C_in), so
    # time and batch must be mergeable; the input and weight dtypes must agree, bool has no
    # kernel, and the bias may be of any dtype
    if not _tbc_viewable(input._array, weight.shape[0], pad):
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at "
                           "least one dimension spans across two contiguous subspaces). Use "
                           ".reshape(...) instead.")
    dtype = input._array.dtype
    if weight._array.dtype != dtype:
        raise RuntimeError(f"self and mat2 must have the same dtype, but got "
                           f"{scalar_type_name(dtype)} and "
                           f"{scalar_type_name(weight._array.dtype)}")
    if dtype == np.bool_:
        raise not_implemented_for("addmm_impl_cpu_", dtype)
    if bias._array.dtype != dtype:
        bias = bias.to(input.dtype)
    out = conv1d(input.permute(1, 2, 0), weight.permute(2, 1, 0), bias, padding=pad)
    return out.permute(2, 0, 1).contiguous()      # PyTorch's result is a fresh (T, B, C) one


def _tbc_viewable(a, width, pad):
    """Can every tap's slice of time steps of ``a`` (T, B, C) be viewed as (steps * B, C)?
    Always when B <= 1 or time's stride spans the batch; else only if no tap reads more than
    one step.  A negative-stride array (numpy's) counts as the contiguous copy PyTorch has."""
    flipped = tuple(d for d, st in enumerate(a.strides) if st < 0)
    if flipped:
        a = backend.xp_of(a).flip(a, flipped)
    steps, batch = a.shape[0], a.shape[1]
    if batch <= 1 or a.strides[0] == a.strides[1] * batch:
        return True
    out_len = steps + 2 * pad - width + 1
    return all(min(steps + pad - k, out_len) - max(0, pad - k) <= 1 for k in range(width))
