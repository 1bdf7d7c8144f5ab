"""Convolution layers: ``Conv1d/2d/3d``, ``ConvTranspose1d/2d/3d`` and their lazy forms
(``LazyConv2d``..., whose ``in_channels`` is read from the first input).

The math is in ``minigrad/ops/conv.py`` (``F.conv2d`` ...); these classes hold the weight and
bias, check the constructor arguments as PyTorch does and print like PyTorch:
``Conv2d(1, 6, kernel_size=(3, 3), stride=(1, 1))``.
"""
from __future__ import annotations

import math

from ... import creation
from .. import functional as F, init
from ..parameter import Parameter
from .lazy import LazyModuleMixin
from .module import Module
from .utils import _pair, _single, _triple

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
           "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
           "LazyConvTranspose3d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
# a set, as PyTorch's: its message prints it in the order the set iterates in this process
_PADDING_STRINGS = {"same", "valid"}


class _ConvNd(Module):
    """What Conv1d/Conv2d/ConvTranspose share: arguments, weight/bias, init, repr."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 transposed, output_padding, groups, bias, padding_mode, device=None,
                 dtype=None):
        super().__init__()
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 f"{_PADDING_STRINGS}")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {set(_PADDING_MODES)}, but got "
                             f"padding_mode='{padding_mode}'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = output_padding
        self.groups = groups
        self.padding_mode = padding_mode
        # what F.pad takes for padding_mode != 'zeros': (left, right) pairs, last dim first
        if isinstance(padding, str):
            self._reversed_padding_repeated_twice = [0, 0] * len(kernel_size)
            if padding == "same":    # total d(k-1): half left, the odd one out right
                for i, (k, d) in enumerate(zip(reversed(kernel_size), reversed(dilation))):
                    total = d * (k - 1)
                    self._reversed_padding_repeated_twice[2 * i:2 * i + 2] = [
                        total // 2, total - total // 2]
        else:
            self._reversed_padding_repeated_twice = tuple(p for p in reversed(padding)
                                                          for _ in range(2))
        if transposed:
            shape = (in_channels, out_channels // groups, *kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *kernel_size)
        self.weight = Parameter(creation.empty(*shape, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """W ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform_, a=sqrt(5)), b likewise.

        fan_in = weight.size(1) * prod(kernel_size): in_channels/groups for a convolution,
        out_channels/groups for a transposed one (PyTorch's choice).
        """
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def _conv_with(self, input, weight, bias, conv):
        """``conv`` (F.conv1d/2d/3d) of ``input`` with this layer's stride, padding (and
        padding_mode), dilation and groups, and the given ``weight`` and ``bias``."""
        if self.padding_mode == "zeros":
            return conv(input, weight, bias, self.stride, self.padding, self.dilation,
                        self.groups)
        # as PyTorch, through F.pad: its checks (and words) for padding larger than the input
        input = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
        return conv(input, weight, bias, self.stride, 0, self.dilation, self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) -> (N, C_out, L_out).

    L_out = floor((L + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1.
    weight (out_channels, in_channels / groups, kernel_size), bias (out_channels,).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, _single(kernel_size), _single(stride),
                         padding if isinstance(padding, str) else _single(padding),
                         _single(dilation), False, _single(0), groups, bias, padding_mode,
                         device, dtype)

    def _conv_forward(self, input, weight, bias):
        """PyTorch's hook for subclasses that transform the weight first (weight
        standardization, say): this layer's convolution with ``weight`` and ``bias``."""
        return self._conv_with(input, weight, bias, F.conv1d)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) -> (N, C_out, H_out, W_out).

    H_out = floor((H + 2 padding[0] - dilation[0] (kernel_size[0] - 1) - 1) / stride[0]) + 1,
    likewise W_out.  weight (out_channels, in_channels / groups, kH, kW), bias (out_channels,).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, _pair(kernel_size), _pair(stride),
                         padding if isinstance(padding, str) else _pair(padding),
                         _pair(dilation), False, _pair(0), groups, bias, padding_mode,
                         device, dtype)

    def _conv_forward(self, input, weight, bias):
        """PyTorch's hook for subclasses that transform the weight first (weight
        standardization, say): this layer's convolution with ``weight`` and ``bias``."""
        return self._conv_with(input, weight, bias, F.conv2d)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)


class Conv3d(_ConvNd):
    """3-D convolution over (N, C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out), each size
    as Conv2d's.  weight (out_channels, in_channels / groups, kD, kH, kW), bias (out_channels,).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, _triple(kernel_size), _triple(stride),
                         padding if isinstance(padding, str) else _triple(padding),
                         _triple(dilation), False, _triple(0), groups, bias, padding_mode,
                         device, dtype)

    def _conv_forward(self, input, weight, bias):
        """PyTorch's hook for subclasses that transform the weight first (weight
        standardization, say): this layer's convolution with ``weight`` and ``bias``."""
        return self._conv_with(input, weight, bias, F.conv3d)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)


class _ConvTransposeNd(_ConvNd):
    def __init__(self, *args, padding_mode="zeros", **kwargs):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f"{type(self).__name__}")
        super().__init__(*args, padding_mode=padding_mode, **kwargs)

    def _output_padding(self, input, output_size, stride, padding, kernel_size,
                        num_spatial_dims, dilation=None):
        """The output_padding that makes the output ``output_size`` (PyTorch's rule and
        signature, which subclasses call): ``output_size`` lists the spatial sizes, or the
        whole shape (with the batch and channel dims, or only the channel dim for an
        unbatched input); each must lie between the smallest output and that plus stride - 1.
        Returns a list of ints, or the layer's own output_padding without ``output_size``."""
        nd = num_spatial_dims
        if output_size is None:
            return self.output_padding
        lead = 2 if input.dim() == nd + 2 else 1          # the dims before the spatial ones
        # (kept as given, a tuple or a list: the message prints it so)
        if len(output_size) == lead + nd:
            output_size = output_size[lead:]
        if len(output_size) != nd:
            raise ValueError(f"ConvTranspose{nd}D: for {input.dim()}D input, output_size must "
                             f"have {nd} or {lead + nd} elements (got {len(output_size)})")
        dilation = [1] * nd if dilation is None else dilation
        min_sizes = [(input.shape[lead + d] - 1) * stride[d] - 2 * padding[d] +
                     dilation[d] * (kernel_size[d] - 1) + 1 for d in range(nd)]
        max_sizes = [low + st - 1 for low, st in zip(min_sizes, stride)]
        for d in range(nd):
            if not min_sizes[d] <= output_size[d] <= max_sizes[d]:
                # PyTorch's words, which name the input's sizes from its dim 2 on
                raise ValueError(f"requested an output size of {output_size}, but valid sizes "
                                 f"range from {min_sizes} to {max_sizes} (for an input of "
                                 f"{input.shape[2:]})")
        return [size - low for size, low in zip(output_size, min_sizes)]

    def _transpose_forward(self, input, output_size, conv, nd):
        output_padding = self._output_padding(input, output_size, self.stride, self.padding,
                                              self.kernel_size, nd, self.dilation)
        return conv(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                    self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution (the gradient of Conv1d w.r.t. its input): (N, C_in, L) ->
    (N, C_out, L_out), L_out = (L - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1.
    weight (in_channels, out_channels / groups, kernel_size)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, _single(kernel_size), _single(stride),
                         _single(padding), _single(dilation), True, _single(output_padding),
                         groups, bias, padding_mode=padding_mode, device=device, dtype=dtype)

    def forward(self, input, output_size=None):
        return self._transpose_forward(input, output_size, F.conv_transpose1d, 1)


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution: (N, C_in, H, W) -> (N, C_out, H_out, W_out),
    H_out = (H - 1) stride[0] - 2 padding[0] + dilation[0] (kH - 1) + output_padding[0] + 1.
    weight (in_channels, out_channels / groups, kH, kW)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, _pair(kernel_size), _pair(stride),
                         _pair(padding), _pair(dilation), True, _pair(output_padding),
                         groups, bias, padding_mode=padding_mode, device=device, dtype=dtype)

    def forward(self, input, output_size=None):
        return self._transpose_forward(input, output_size, F.conv_transpose2d, 2)


class ConvTranspose3d(_ConvTransposeNd):
    """Transposed 3-D convolution: (N, C_in, D, H, W) -> (N, C_out, D_out, H_out, W_out), each
    size as ConvTranspose2d's.  weight (in_channels, out_channels / groups, kD, kH, kW)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        super().__init__(in_channels, out_channels, _triple(kernel_size), _triple(stride),
                         _triple(padding), _triple(dilation), True, _triple(output_padding),
                         groups, bias, padding_mode=padding_mode, device=device, dtype=dtype)

    def forward(self, input, output_size=None):
        return self._transpose_forward(input, output_size, F.conv_transpose3d, 3)


class _LazyConvXdMixin(LazyModuleMixin):
    """What the lazy convolutions share: ``in_channels`` (0 until then) is read from the
    first input's channel dim, the weight made and initialized as the eager layer's."""
    _nd = 2

    def reset_parameters(self):
        if not getattr(self, "_lazy", False):
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs):
        if not self.has_uninitialized_params():     # filled by load_state_dict
            return
        batched = input.ndim == self._nd + 2
        if not batched and input.ndim != self._nd + 1:
            raise RuntimeError(f"Expected {self._nd + 1}D (unbatched) or {self._nd + 2}D "
                               f"(batched) input to {type(self).__name__}, but got input of "
                               f"size: {input.shape}")
        self.in_channels = int(input.shape[1 if batched else 0])
        if self.in_channels % self.groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if self.transposed:
            shape = (self.in_channels, self.out_channels // self.groups)
        else:
            shape = (self.out_channels, self.in_channels // self.groups)
        self._fill("weight", shape + tuple(self.kernel_size))
        self._fill("bias", (self.out_channels,))
        self._lazy = False
        self.cls_to_become.reset_parameters(self)


class _LazyConv(_LazyConvXdMixin):
    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        self._lazy = True
        # built with no channels (checked against groups only once the input gives them)
        super().__init__(groups, groups, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, device=device, dtype=dtype)
        self.in_channels = 0            # unknown until the first input (as PyTorch prints it)
        self.out_channels = out_channels
        self._placeholders("weight", "bias")


class LazyConv1d(_LazyConv, Conv1d):
    """Conv1d whose ``in_channels`` is read from the first input."""
    cls_to_become = Conv1d
    _nd = 1


class LazyConv2d(_LazyConv, Conv2d):
    """Conv2d whose ``in_channels`` is read from the first input."""
    cls_to_become = Conv2d
    _nd = 2


class LazyConv3d(_LazyConv, Conv3d):
    """Conv3d whose ``in_channels`` is read from the first input."""
    cls_to_become = Conv3d
    _nd = 3


class _LazyConvTranspose(_LazyConvXdMixin):
    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None,
                 dtype=None):
        self._lazy = True
        super().__init__(groups, groups, kernel_size, stride, padding, output_padding,
                         groups, bias, dilation, padding_mode, device=device, dtype=dtype)
        self.in_channels = 0
        self.out_channels = out_channels
        self._placeholders("weight", "bias")


class LazyConvTranspose1d(_LazyConvTranspose, ConvTranspose1d):
    """ConvTranspose1d whose ``in_channels`` is read from the first input."""
    cls_to_become = ConvTranspose1d
    _nd = 1


class LazyConvTranspose2d(_LazyConvTranspose, ConvTranspose2d):
    """ConvTranspose2d whose ``in_channels`` is read from the first input."""
    cls_to_become = ConvTranspose2d
    _nd = 2


class LazyConvTranspose3d(_LazyConvTranspose, ConvTranspose3d):
    """ConvTranspose3d whose ``in_channels`` is read from the first input."""
    cls_to_become = ConvTranspose3d
    _nd = 3
