"""The function forms ``torch.reshape(input, shape)`` and ``torch.permute(input, dims)``:
unlike the methods (``x.reshape(2, 3)``, ``x.permute(1, 0)``) they take the list as one
sequence only, as PyTorch's parser does (``torch.reshape(x, -1)`` is its TypeError)."""
from __future__ import annotations

from ._int_list_args import int_list_argument
from . import movement

__all__ = ["reshape", "permute"]


def reshape(input, *shape, **kwargs):
    return movement.reshape(input, int_list_argument("reshape", "shape", shape, kwargs, 2,
                                                     False))


def permute(input, *dims, **kwargs):
    return movement.permute(input, int_list_argument("permute", "dims", dims, kwargs, 2, False))
