"""Lazy layers: ``LazyLinear``, ``LazyConv1d/2d/3d``, ``LazyConvTranspose1d/2d/3d``,
``LazyBatchNorm1d/2d/3d``, ``LazyInstanceNorm1d/2d/3d`` (d2l.ai builds every network with
them): the input size is not given; the first forward reads it from the input, makes the
weight, initialises it as the eager layer would, and the module becomes that layer.

The parameters exist from construction (so ``model.parameters()`` can be handed to an
optimizer first); materialising replaces their contents *in place*, so the optimizer keeps
holding the right tensors.  Until then they are ``UninitializedParameter`` /
``UninitializedBuffer`` placeholders, as in PyTorch.
"""
from __future__ import annotations

from ... import creation
from ..parameter import UninitializedBuffer, UninitializedParameter, _UninitializedTensor
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .feature_norm import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from .linear import Linear
from .normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d

__all__ = ["LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyBatchNorm1d",
           "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
           "LazyConvTranspose3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d"]


class _LazyMixin:
    cls_to_become = None

    def _fill(self, name, shape):
        param = getattr(self, name, None)
        if isinstance(param, _UninitializedTensor):
            param.materialize(shape)
        elif param is not None:
            param._array = creation.empty(*shape, dtype=param.dtype, device=param.device)._array

    def _placeholders(self, *names):
        """Replace the (empty) parameters/buffers ``names`` by uninitialised placeholders."""
        for name in names:
            t = getattr(self, name, None)
            if t is None:
                continue
            if name in self._parameters:
                self._parameters[name] = UninitializedParameter(
                    t.requires_grad, device=t.device, dtype=t.dtype)
            else:
                self._buffers[name] = UninitializedBuffer(device=t.device, dtype=t.dtype)

    def has_uninitialized_params(self):
        """Whether a parameter or buffer is still a placeholder (``load_state_dict`` fills
        them too; then the first forward only turns the module into its eager class)."""
        return any(isinstance(t, _UninitializedTensor)
                   for t in (*self._parameters.values(), *self._buffers.values()))

    def initialize_parameters(self, input):
        raise NotImplementedError

    def _sizes_from_loaded(self):
        """Read the input size from parameters a state_dict filled (PyTorch does it for
        LazyLinear only)."""

    def forward(self, input, *args, **kwargs):
        if self.has_uninitialized_params():
            self.initialize_parameters(input)
        else:
            self._sizes_from_loaded()
        self.__class__ = self.cls_to_become
        return self.forward(input, *args, **kwargs)


class LazyLinear(_LazyMixin, Linear):
    """Linear whose ``in_features`` is the last dim of the first input."""
    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(0, out_features, bias, device=device, dtype=dtype)
        self._placeholders("weight", "bias")

    def reset_parameters(self):
        if self.in_features:
            Linear.reset_parameters(self)

    def _sizes_from_loaded(self):
        self.in_features = int(self.weight.shape[1])

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
        self._placeholders("weight", "bias")

    def reset_parameters(self):
        if not getattr(self, "_lazy", False):
            super().reset_parameters()

    def initialize_parameters(self, input):
        batched = input.ndim == self._nd + 2
        self.in_channels = int(input.shape[1 if batched else 0])
        if self.transposed:
            shape = (self.in_channels, self.out_channels // self.groups)
        else:
            shape = (self.out_channels, self.in_channels // self.groups)
        self._fill("weight", shape + tuple(self.kernel_size))
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
        self._placeholders("weight", "bias", "running_mean", "running_var")

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
    """BatchNorm3d whose ``num_features`` is read from the first input."""
    cls_to_become = BatchNorm3d


class _LazyConvTranspose(_LazyConv):
    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None,
                 dtype=None):
        self._lazy = True
        self.cls_to_become.__init__(self, groups, out_channels, kernel_size, stride, padding,
                                    output_padding, groups, bias, dilation, padding_mode,
                                    device=device, dtype=dtype)
        self.in_channels = 0
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


class _LazyInstanceNorm(_LazyMixin):
    # PyTorch's lazy instance norms default to affine and tracked statistics, unlike the
    # eager ones; num_features is read from dim 1 as for the lazy batch norms.
    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        super().__init__(0, eps, momentum, affine, track_running_stats, device=device,
                         dtype=dtype, bias=bias)
        self._placeholders("weight", "bias", "running_mean", "running_var")

    def initialize_parameters(self, input):
        self.num_features = int(input.shape[1] if input.ndim > 1 else input.shape[0])
        for name in ("weight", "bias", "running_mean", "running_var"):
            self._fill(name, (self.num_features,))
        for name, value in (("weight", 1.0), ("bias", 0.0), ("running_mean", 0.0),
                            ("running_var", 1.0)):
            t = getattr(self, name)
            if t is not None:
                t._array[...] = value


class LazyInstanceNorm1d(_LazyInstanceNorm, InstanceNorm1d):
    """InstanceNorm1d whose ``num_features`` is read from the first input."""
    cls_to_become = InstanceNorm1d


class LazyInstanceNorm2d(_LazyInstanceNorm, InstanceNorm2d):
    """InstanceNorm2d whose ``num_features`` is read from the first input."""
    cls_to_become = InstanceNorm2d


class LazyInstanceNorm3d(_LazyInstanceNorm, InstanceNorm3d):
    """InstanceNorm3d whose ``num_features`` is read from the first input."""
    cls_to_become = InstanceNorm3d
