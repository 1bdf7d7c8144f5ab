"""``minigrad.nn.grad`` (PyTorch's ``torch.nn.grad``): a convolution's gradients as functions.

    conv2d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1)
        -> d<grad_output, conv2d(x, weight)>/dx, shape ``input_size`` (N, C, *S)
    conv2d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1)
        -> d<grad_output, conv2d(input, w)>/dw, shape ``weight_size`` (O, C/G, *k)

and the same for 1-d and 3-d.  They are the Functions that conv's own backward applies
(``ops/conv.py``: ``ConvTranspose`` and ``ConvWeightGrad``), so they are differentiable to any
order.  ``grad_output`` is (N, O, *L) with L the convolution's output size; ``input_size``
may be any size whose convolution gives L (a stride can leave a remainder, as in PyTorch).
"""
from __future__ import annotations

import numpy as np

from .. import _memory_format as mf
from ..ops.conv import ConvTranspose, ConvWeightGrad
from ..ops.conv_kernels import Geometry
from ..ops._util import not_implemented_for, scalar_type_name
from ..ops._window_checks import conv_output_size
from ..ops.movement_copies import contiguous

__all__ = ["conv1d_input", "conv1d_weight", "conv2d_input", "conv2d_weight", "conv3d_input",
           "conv3d_weight"]


def _per_axis(value, nd):
    """An int (every axis) or a sequence of ``nd`` ints -> a tuple of ``nd`` ints."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * nd


def _geometry(nd, input_shape, weight_shape, grad_output, stride, padding, dilation, groups):
    """The convolution input_shape (*) weight_shape; checks grad_output is its output's shape."""
    if len(input_shape) != nd + 2:
        raise RuntimeError(f"Expected {nd + 2}-dimensional input for {nd + 2}-dimensional "
                           f"weight {list(weight_shape)}, but got {len(input_shape)}-dimensional "
                           f"input of size {list(input_shape)} instead")
    stride, padding, dilation = (_per_axis(v, nd) for v in (stride, padding, dilation))
    kernel, size = tuple(weight_shape[2:]), tuple(input_shape[2:])
    out = tuple(conv_output_size(n, k, s, p, d)
                for n, k, s, p, d in zip(size, kernel, stride, padding, dilation))
    expected = (input_shape[0], weight_shape[0]) + out
    got = tuple(grad_output.shape)
    for axis, (e, g) in enumerate(zip(expected, got + (None,) * len(expected))):
        if len(got) != len(expected) or e != g:
            raise RuntimeError(f"Expected a tensor of dimension {len(expected)} and "
                               f"tensor.size[{axis}] == {e} but got: dimension {len(got)} and "
                               f"tensor.size[{axis}] = {g}")
    return Geometry(kernel, stride, tuple((p, p) for p in padding), dilation, groups, size, out)


def _check_dtypes(kernel, lead, other, dilation):
    """PyTorch's dtype rules here (after the shape checks): ``lead`` (grad_output for the input
    gradient, input for the weight gradient) must have a kernel, and ``other`` its dtype.  The
    kernels are floating only, but a dilated convolution goes to PyTorch's slow dilated kernel,
    which has an int64 version too."""
    dtype = lead._array.dtype
    if any(d != 1 for d in dilation):
        if dtype.kind not in "fV" and dtype != np.int64:
            raise not_implemented_for("slow_conv_dilated<>", dtype)
    elif dtype.kind not in "fV":
        raise not_implemented_for(kernel, dtype)
    if other._array.dtype != dtype:
        raise RuntimeError(f"expected scalar type {scalar_type_name(dtype)} but found "
                           f"{scalar_type_name(other._array.dtype)}")


def _input_grad(nd, input_size, weight, grad_output, stride, padding, dilation, groups):
    geom = _geometry(nd, tuple(input_size), tuple(weight.shape), grad_output, stride, padding,
                     dilation, groups)
    _check_dtypes(f"slow_conv{max(nd, 2)}d_cpu_grad_input", grad_output, weight,
                  geom.dilation)
    return ConvTranspose.apply(grad_output, weight, geom=geom)


def _weight_grad(nd, input, weight_size, grad_output, stride, padding, dilation, groups):
    geom = _geometry(nd, tuple(input.shape), tuple(weight_size), grad_output, stride, padding,
                     dilation, groups)
    kind = input._array.dtype.kind
    # bool and complex inputs are refused by the im2col step, before the weight kernel
    kernel = (("compute_columns3d" if nd == 3 else "slow_conv2d_cpu") if kind in "bc" else
              f"slow_conv{max(nd, 2)}d_cpu_grad_weight")
    _check_dtypes(kernel, input, grad_output, geom.dilation)
    gw = ConvWeightGrad.apply(input, grad_output, geom=geom)
    # PyTorch's weight gradient is dense in the input's layout (channels-last for a 2-d
    # channels-last input); the GEMM leaves it transposed, so a weight-sized copy then
    fmt = (mf.channels_last if nd == 2 and mf.suggest(input._array) is mf.channels_last
           else mf.contiguous_format)
    return contiguous(gw, fmt)


def conv1d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of conv1d in its input (N, C, L_in): a transposed convolution."""
    return _input_grad(1, input_size, weight, grad_output, stride, padding, dilation, groups)


def conv1d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of conv1d in its weight (O, C/G, k)."""
    return _weight_grad(1, input, weight_size, grad_output, stride, padding, dilation, groups)


def conv2d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of conv2d in its input (N, C, H, W): a transposed convolution."""
    return _input_grad(2, input_size, weight, grad_output, stride, padding, dilation, groups)


def conv2d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of conv2d in its weight (O, C/G, kH, kW)."""
    return _weight_grad(2, input, weight_size, grad_output, stride, padding, dilation, groups)


def conv3d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of conv3d in its input (N, C, D, H, W): a transposed convolution."""
    return _input_grad(3, input_size, weight, grad_output, stride, padding, dilation, groups)


def conv3d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of conv3d in its weight (O, C/G, kD, kH, kW)."""
    return _weight_grad(3, input, weight_size, grad_output, stride, padding, dilation, groups)
