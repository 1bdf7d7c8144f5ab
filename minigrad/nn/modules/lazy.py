"""Lazy layers: ``LazyLinear``, ``LazyConv1d``, ``LazyConv2d``, ``LazyBatchNorm1d/2d/3d``
(d2l.ai builds every network with them): the input size is not given; the first forward reads it from the input, makes
the weight, initialises it as the eager layer would, and the module becomes that layer.

The parameters exist from construction (so ``model.parameters()`` can be handed to an
optimizer first); materialising replaces their contents *in place*, so the optimizer keeps
holding the right tensors.  Until then they are empty, as PyTorch's UninitializedParameter.
"""
from __future__ import annotations

from ... import creation
from .conv import Conv1d, Conv2d, Conv3d
from .linear import Linear
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d

__all__ = ["LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyBatchNorm1d",
           "LazyBatchNorm2d", "LazyBatchNorm3d"]


class _LazyMixin:
    cls_to_become = None

    def _fill(self, name, shape):
        param = getattr(self, name, None)
        if param is not None:
            param._array = creation.empty(*shape, dtype=param.dtype, device=param.device)._array

    def has_uninitialized_params(self):
        return True

    def initialize_parameters(self, input):
        raise NotImplementedError

    def forward(self, input, *args, **kwargs):
        self.initialize_parameters(input)
        self.__class__ = self.cls_to_become
        return self.forward(input, *args, **kwargs)


class LazyLinear(_LazyMixin, Linear):
    """Linear whose ``in_features`` is the last dim of the first input."""
    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(0, out_features, bias, device=device, dtype=dtype)

    def reset_parameters(self):
        if self.in_features:
            Linear.reset_parameters(self)

    def initialize_parameters(self, input):
        self.in_features = int(input.shape[-1])
        self._fill("weight", (self.out_features, self.in_features))
        self._fill("bias", (self.out_features,))
        Linear.reset_parameters(self)


class _LazyConv(_LazyMixin):
    _nd = 2

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        self._lazy = True
        super().__init__(groups, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, device=device, dtype=dtype)
        self.in_channels = 0            # unknown until the first input (as PyTorch prints it)

    def reset_parameters(self):
        if not getattr(self, "_lazy", False):
            super().reset_parameters()

    def initialize_parameters(self, input):
        batched = input.ndim == self._nd + 2
        self.in_channels = int(input.shape[1 if batched else 0])
        self._fill("weight", (self.out_channels, self.in_channels // self.groups) +
                   tuple(self.kernel_size))
        self._fill("bias", (self.out_channels,))
        self._lazy = False
        self.cls_to_become.reset_parameters(self)


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


class _LazyBatchNorm(_LazyMixin):
    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None):
        super().__init__(0, eps, momentum, affine, track_running_stats, device=device,
                         dtype=dtype)

    def initialize_parameters(self, input):
        self.num_features = int(input.shape[1] if input.ndim > 1 else input.shape[0])
        for name in ("weight", "bias", "running_mean", "running_var"):
            self._fill(name, (self.num_features,))
        self.cls_to_become.reset_parameters(self)


class LazyBatchNorm1d(_LazyBatchNorm, BatchNorm1d):
    """BatchNorm1d whose ``num_features`` is read from the first input."""
    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyBatchNorm, BatchNorm2d):
    """BatchNorm2d whose ``num_features`` is read from the first input."""
    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyBatchNorm, BatchNorm3d):
    cls_to_become = BatchNorm3d
