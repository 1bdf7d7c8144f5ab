"""Re-laying out convolution weights in memory (channels-last and back) across a model."""
from __future__ import annotations

from ...autograd import no_grad
from ..modules.conv import Conv2d, Conv3d, ConvTranspose2d, ConvTranspose3d

__all__ = ["convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]


def _relayout(module, kinds, memory_format):
    """Recursively give the weight of every ``kinds`` layer in ``module`` (itself included)
    the strides of ``memory_format``, keeping the Parameter object and its values."""
    for layer in module.modules():
        if isinstance(layer, kinds):
            with no_grad():
                layer.weight.data = layer.weight.detach().clone(memory_format=memory_format)
    return module


def convert_conv2d_weight_memory_format(module, memory_format):
    """Lay out the 4-d weight of every ``Conv2d``/``ConvTranspose2d`` in ``module`` in
    ``memory_format`` (e.g. ``channels_last``: NHWC order in memory); shapes, values and
    other layers are unchanged.  Returns ``module``."""
    return _relayout(module, (Conv2d, ConvTranspose2d), memory_format)


def convert_conv3d_weight_memory_format(module, memory_format):
    """Lay out the 5-d weight of every ``Conv3d``/``ConvTranspose3d`` in ``module`` in
    ``memory_format`` (e.g. ``channels_last_3d``).  Returns ``module``."""
    return _relayout(module, (Conv3d, ConvTranspose3d), memory_format)
