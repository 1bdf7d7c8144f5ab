"""Less common ``nn.functional`` functions, composed from differentiable ops (so their
gradients, and the gradients of those, come from the ops'):

* ``rrelu`` (randomised leaky ReLU), ``gumbel_softmax``, ``local_response_norm``;
* ``alpha_dropout`` / ``feature_alpha_dropout`` (dropout that keeps SELU's mean and variance);
* ``channel_shuffle``, ``bilinear``;
* the in-place spellings ``relu_``, ``elu_``, ``leaky_relu_``, ``hardtanh_``, ``celu_``,
  ``selu_``, ``threshold_``, ``rrelu_``: the out-of-place result written into the input.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .._warn_once import warn_user
from .. import _autocast_state, backend
from .._random_factories import bernoulli_draws, stream_of
from ..dtypes import bfloat16, bool_, float16, float32, int64
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ..ops import activation as A
from ..ops._util import cpp_type_name, number_arg, scalar_type_name
from ..ops.relu_clamp import leaky_relu
from ..ops.softmax import softmax
from ..ops.movement_copies import keep_channels_last
from ..ops.padding import pad
from ..ops.writes import overwrite_with

__all__ = ["rrelu", "gumbel_softmax", "local_response_norm", "alpha_dropout",
           "feature_alpha_dropout", "channel_shuffle", "native_channel_shuffle", "bilinear",
           "relu_", "elu_", "leaky_relu_", "hardtanh_", "celu_", "selu_", "threshold_",
           "rrelu_"]

# -SELU's alpha * scale: the value a SELU unit saturates to, which alpha dropout drops to
_SELU_SATURATION = 1.7580993408473766


# ----------------------------------------------------------------------------------------------
# rrelu, gumbel_softmax, local_response_norm
# ----------------------------------------------------------------------------------------------
def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomised leaky ReLU: x for x > 0, a * x otherwise.  In training each element draws its
    own slope a ~ U(lower, upper) (the gradient there is that a); in eval a = (lower + upper)/2,
    i.e. ``leaky_relu(x, (lower + upper) / 2)``."""
    name = "rrelu_" if inplace else "rrelu"       # (PyTorch's wrapper passes them by position)
    lower = number_arg(name, "lower", lower, 2)
    upper = number_arg(name, "upper", upper, 3)
    if lower > upper:
        raise RuntimeError(f"Lower bound should be less than or equal to the upper bound (got "
                           f"lower={lower}, upper={upper})")
    if not training:
        out = leaky_relu(input, (lower + upper) / 2.0, inplace=inplace)
        # PyTorch writes the result into a row-major buffer (its noise's), whatever the layout;
        # its node is rrelu's in either mode (the in-place overload's: ...Backward1)
        return rename_node(out, "RreluWithNoiseBackward1") if inplace else \
            rename_node(out.contiguous(), "RreluWithNoiseBackward0")
    if input._array.dtype.name not in ("float32", "float64", "bfloat16"):   # (no float16 one)
        raise NotImplementedError(f'"rrelu_with_noise_out_cpu" not implemented for '
                                  f"'{A.scalar_type_name(input._array.dtype)}'")
    # as PyTorch's kernel: a slope u * (upper - lower) + lower for each element <= 0, in
    # order (u a float64 uniform; the bounds in the input's dtype)
    below = backend.as_numpy(input._array) <= 0
    # (bfloat16's bounds in float32, the type PyTorch's kernel computes it in)
    bound = np.float32 if input._array.dtype.name == "bfloat16" else input._array.dtype.type
    low, high = bound(lower), bound(upper)
    u = stream_of(None).uniform01(int(below.sum()), np.float64)
    draw = np.ones(below.shape)
    draw[below] = u * (np.float64(high) - np.float64(low)) + np.float64(low)

    def rule(a):
        slope = backend.to_device(draw.astype(a.dtype), input.device)
        return a * slope, slope

    def randomized(x):
        return A.PiecewiseLinear.apply(x, rule=rule)
    if inplace:
        return rename_node(overwrite_with(input, randomized), "RreluWithNoiseBackward1")
    return rename_node(randomized(input), "RreluWithNoiseBackward0")


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, inplace=True)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """softmax((logits + g) / tau) along ``dim``, g ~ Gumbel(0, 1) drawn per element.  With
    ``hard=True`` the value is the one-hot of its argmax, and the gradient is the soft
    sample's (straight-through: y_hard - y_soft.detach() + y_soft)."""
    if eps != 1e-10:
        warn_user("`eps` parameter is deprecated and has no effect.")
    # as PyTorch: g = -log(e) with e ~ Exp(1) drawn by exponential_ in the logits' dtype
    dtype = logits._array.dtype
    if dtype.kind not in "fV":        # (exponential_ draws floating-point numbers only)
        raise RuntimeError("Exponential distribution is a continuous probability distribution. "
                           "dtype must be a floating point but you specified "
                           f"{scalar_type_name(dtype)}")
    e = stream_of(None).exponentials(logits.numel())
    noise = -np.log(e.astype(dtype)).reshape(tuple(logits.shape))
    gumbels = Tensor._wrap(backend.to_device(noise, logits.device))
    y_soft = softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y_soft
    xp = backend.xp_of(y_soft._array)
    d = dim % y_soft.ndim if y_soft.ndim else 0
    arr = y_soft._array
    index = xp.expand_dims(xp.argmax(arr, axis=d), d) if arr.ndim else None
    one = xp.zeros_like(arr)
    if arr.ndim:
        xp.put_along_axis(one, index, 1.0, axis=d)
    else:
        one[...] = 1.0
    return Tensor._wrap(one) - y_soft.detach() + y_soft


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Normalise each element over ``size`` neighbouring channels (dim 1):
    x / (k + alpha / size * sum of x^2 over the window)^beta, the window running from
    c - size//2 to c + (size-1)//2, zero-padded at the ends.  Input (N, C, *)."""
    if input.ndim < 3:
        # (PyTorch's words hold the indentation of its source's continued line)
        raise ValueError("Expected 3D or higher dimensionality" + " " * 26 +
                         f"input (got {input.ndim} dimensions)")
    if input.numel() == 0:
        return input
    if isinstance(size, bool) or not isinstance(size, numbers.Integral):
        # (PyTorch's padding of the squares refuses it, before the pool sees the dtype)
        raise TypeError(f"local_response_norm(): argument 'size' must be int, not "
                        f"{type(size).__name__}")
    if size <= 0:      # torch runs the window sum as an average pool over (size, 1[, 1])
        window = f"kH: {size} kW: 1" if input.ndim == 3 else f"kT: {size} kH: 1 kW: 1"
        raise RuntimeError(f"kernel size should be greater than zero, but got {window}")
    if not input.dtype.is_floating_point and input.dtype != int64:
        # the window mean is an average pool (a 2-d one for a 3-d input, else a 3-d one), which
        # has no int32 / int16 / uint8 / bool kernel: its words (after its kernel's check)
        kernel = "avg_pool2d" if input.ndim == 3 else "avg_pool3d_out_frame"
        raise NotImplementedError(f"\"{kernel}\" not implemented for "
                                  f"'{scalar_type_name(input._array.dtype)}'")
    # PyTorch's window mean of a 4-d or wider input is a 3-d average pool over a (N, 1, C, H,
    # W) view, whose kernel has no float16 or bfloat16 version (the 2-d one, for 3-d inputs,
    # has); CPU autocast runs that pool in float32, so there the mean, and the result, are
    # float32
    widen = input.ndim > 3 and input.dtype in (float16, bfloat16)
    if widen and not (_autocast_state.active and _autocast_state.wants_float32(input)):
        raise NotImplementedError(f"\"avg_pool3d_out_frame\" not implemented for "
                                  f"'{scalar_type_name(input._array.dtype)}'")
    channels = input.shape[1]
    sq = input * input
    if widen:
        sq = sq.to(float32)
    # zero-pad the channel dim, then sum `size` shifted slices (one slice per window offset)
    spec = [0, 0] * (input.ndim - 2) + [size // 2, (size - 1) // 2]
    padded = pad(sq, tuple(spec))
    total = padded[:, 0:channels]
    for off in range(1, size):
        total = total + padded[:, off:off + channels]
    # the window mean of an int64 input stays int64 (the sum divided by size, rounded toward
    # zero, as an integer average pool gives); scaling by the float alpha then makes it float
    mean = total.div(size, rounding_mode="trunc") if input.dtype == int64 else total / size
    return input / ((mean * alpha + k) ** beta)


# ----------------------------------------------------------------------------------------------
# alpha dropout
# ----------------------------------------------------------------------------------------------
def dense_strides(array):
    """array's strides in elements when its elements fill their memory densely in some order
    of the dims (a transposed or permuted tensor): PyTorch's noise is an empty_like of the
    input, which keeps that layout and is drawn in its memory order.  None otherwise (a
    contiguous noise tensor)."""
    strides = tuple(st // array.itemsize for st in array.strides)
    expected = 1
    for k in sorted(range(array.ndim), key=lambda k: abs(strides[k])):
        if array.shape[k] != 1 and strides[k] != expected:
            return None
        expected *= array.shape[k]
    return strides


def check_dropout_args(kernel, p, training):
    """PyTorch's checks of a dropout call, in its order: p outside [0, 1] (ValueError, from
    Python), ``training`` not a bool (TypeError, from the ``kernel``'s argument parser: an int,
    None or a tensor are refused), then a NaN p (RuntimeError, from the kernel)."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not isinstance(training, bool):
        kind = type(training)
        name = "Tensor" if isinstance(training, Tensor) else kind.__name__ \
            if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        raise TypeError(f"{kernel}(): argument 'train' (position 3) must be bool, not {name}")
    if p != p:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {p}")


def _alpha_dropout(input, p, training, noise_shape):
    """Keep each unit with probability 1-p; dropped units become SELU's saturation value
    -alpha', then an affine map a * y + b restores zero mean and unit variance:
    a = 1 / sqrt((alpha'^2 p + 1)(1 - p)), b = alpha' a p (alpha' = 1.7580993...)."""
    if not training or p == 0.0 or input.numel() == 0:
        return input
    floating = input._array.dtype.kind in "fcV"
    if p == 1.0:
        return input * (0.0 if floating else (False if input._array.dtype == bool else 0))
    if not floating:      # the noise is float, applied to the input in place
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{scalar_type_name(input._array.dtype)}")
    dtype = input._array.dtype
    # (an elementwise noise is an empty_like of the input: drawn in its memory order)
    strides = dense_strides(input._array) if noise_shape == tuple(input.shape) else None
    keep = bernoulli_draws(None, noise_shape, 1.0 - p, strides).astype(dtype)
    a = 1.0 / math.sqrt((_SELU_SATURATION ** 2 * p + 1) * (1 - p))
    # each step rounded to the dtype as PyTorch's in-place steps round it (its float16 and
    # bfloat16 kernels work in float32 with the unrounded numbers)
    work = np.float32 if dtype.itemsize == 2 else dtype.type
    wide = keep.astype(work)
    noise = (wide * work(a)).astype(dtype)
    shift = ((wide - 1) * work(_SELU_SATURATION * a)).astype(dtype)
    shift = (shift.astype(work) + work(_SELU_SATURATION * a * p)).astype(dtype)
    scale = Tensor._wrap(backend.to_device(noise, input.device))
    shift = Tensor._wrap(backend.to_device(shift, input.device))
    return input * scale + shift


def _alpha_dropout_maybe_inplace(input, p, training, noise_shape, inplace):
    """_alpha_dropout, written into ``input`` by the in-place machinery when ``inplace`` and
    there is something to write (training, 0 < p <= 1, a non-empty input)."""
    changes = training and 0.0 < p <= 1.0 and input.numel() > 0
    if inplace and changes:
        return overwrite_with(input, _alpha_dropout, p, training, noise_shape)
    return _alpha_dropout(input, p, training, noise_shape)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout (for SELU networks), element by element; identity unless training."""
    check_dropout_args("alpha_dropout", p, training)
    return _alpha_dropout_maybe_inplace(input, p, training, tuple(input.shape), inplace)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels: one draw per (sample, channel) of (N, C, *)."""
    check_dropout_args("feature_alpha_dropout", p, training)
    if training and 0.0 < p < 1.0 and input.ndim < 2:     # nothing drawn otherwise
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    return _alpha_dropout_maybe_inplace(input, p, training, shape, inplace)


# ----------------------------------------------------------------------------------------------
# channel_shuffle, bilinear
# ----------------------------------------------------------------------------------------------
def native_channel_shuffle(input, groups):
    """(N, C, *) -> same shape, channels regrouped: view C as (groups, C // groups), swap the
    two, flatten back (channel g * (C/groups) + i moves to i * groups + g)."""
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral):
        raise TypeError(f"channel_shuffle(): argument 'groups' (position 2) must be int, not "
                        f"{type(groups).__name__}")
    if input.ndim < 3:             # (PyTorch: the rank before the groups)
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with "
                           f"sizes {list(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of "
                           f"groups:{groups}")
    c = input.shape[1]
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels "
                           f"and {groups} groups.")
    n, rest = input.shape[0], tuple(input.shape[2:])
    grouped = input.reshape((n, groups, c // groups) + rest)
    shuffled = grouped.transpose(1, 2).reshape((n, c) + rest)
    if np.may_share_memory(shuffled._array, input._array):
        shuffled = shuffled.clone()      # a new tensor, as PyTorch's (one group is a view here)
    # laid out as the input when that is channels-last, as PyTorch's result
    return keep_channels_last(shuffled, input)


def channel_shuffle(input, groups):
    return rename_node(native_channel_shuffle(input, groups), "ChannelShuffleBackward0")


channel_shuffle.__doc__ = native_channel_shuffle.__doc__


def _size_of(t, d):
    """``t.shape[d]``, or PyTorch's IndexError for a dim ``t`` does not have."""
    if t.ndim == 0:
        raise IndexError(f"Dimension specified as {d} but tensor has no dimensions")
    if d >= t.ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-t.ndim}, "
                         f"{t.ndim - 1}], but got {d})")
    return t.shape[d]


def bilinear(input1, input2, weight, bias=None):
    """y_k = x1^T W_k x2 + b_k: input1 (*, in1), input2 (*, in2), weight (out, in1, in2),
    bias (out,) -> (*, out).  All tensors share one dtype, which the result keeps (integer
    results wrap around like the dtype's own arithmetic)."""
    named = [("input1", input1), ("input2", input2), ("weight", weight)]
    if bias is not None:
        named.append(("bias", bias))
    if len({t.dtype for _, t in named}) > 1:
        raise RuntimeError("All tensors must have the same dtype, got " + ", ".join(
            f"{name}: {cpp_type_name(t._array.dtype)}" for name, t in named))
    for name, t in (("input1", input1), ("input2", input2)):
        if t.ndim == 0 and input1.ndim == input2.ndim:   # (else the mismatch is reported)
            raise IndexError("Dimension specified as -1 but tensor has no dimensions")
    if input1.ndim != input2.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.ndim} and "
                           f"{input2.ndim}")
    for d, (a, b) in enumerate(zip(input1.shape[:-1], input2.shape[:-1])):
        if a != b:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {d}: "
                               f"got {a} and {b}")
    # PyTorch compares the sizes before it looks at the weight's rank
    for name, t, d in (("input1", input1, 1), ("input2", input2, 2)):
        if t.shape[-1] != _size_of(weight, d):
            raise RuntimeError(f"bilinear(): {name} size does not match weight size: got "
                               f"{t.shape[-1]} but expected {weight.shape[d]}")
    if bias is not None and _size_of(bias, 0) != _size_of(weight, 0):
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got "
                           f"{bias.shape[0]} but expected {weight.shape[0]}")
    if weight.ndim != 3:
        raise RuntimeError(f"number of dimensions must match (bilinear's weight must be "
                           f"3-dimensional, but got {weight.ndim}-dimensional)")
    if input1.dtype == bool_ and input1.numel() != 0:   # (PyTorch: after the shape checks)
        raise NotImplementedError("\"bmm\" not implemented for 'Bool'")
    out_f, in1, in2 = weight.shape
    # x1 @ W viewed as (in1, out * in2), then dotted with x2 along in2; the last sum keeps
    # the inputs' dtype (a plain integer sum would widen to int64)
    left = input1 @ weight.permute(1, 0, 2).reshape(in1, out_f * in2)
    left = left.reshape(tuple(input1.shape[:-1]) + (out_f, in2))
    out = (left * input2.unsqueeze(-2)).sum(-1, dtype=input1.dtype)
    # PyTorch's product ends in a view of its result (ViewBackward0) before the bias
    return rename_node(out, "ViewBackward0") if bias is None else out + bias


# ----------------------------------------------------------------------------------------------
# in-place spellings
# ----------------------------------------------------------------------------------------------
def relu_(input):
    return input.relu_()


def elu_(input, alpha=1.0):
    return A.elu(input, alpha, inplace=True)


def celu_(input, alpha=1.0):
    return A.celu(input, alpha, inplace=True)


def selu_(input):
    return A.selu(input, inplace=True)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return A.hardtanh(input, min_val, max_val, inplace=True)


def threshold_(input, threshold, value):
    return A.threshold(input, threshold, value, inplace=True)
