"""NumPy-style directional splits with PyTorch's names: ``hsplit``, ``vsplit``, ``dsplit``.

Each is ``tensor_split`` along a fixed dim: hsplit along dim 1 (dim 0 for a 1-d tensor),
vsplit along dim 0 (at least 2-d), dsplit along dim 2 (at least 3-d).  An int N asks for N
equal pieces and must divide that dim's size; a list of indices splits before each index.
The pieces are views, so gradients flow back to the input.
"""
from __future__ import annotations

import numbers

from .stacking import tensor_split

__all__ = ["hsplit", "vsplit", "dsplit"]


def _directional(input, indices_or_sections, name, min_dims, dim):
    if input.ndim < min_dims:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {min_dims} dimension"
                           f"{'' if min_dims == 1 else 's'}, but got a tensor with {input.ndim} "
                           f"dimensions!")
    if isinstance(indices_or_sections, numbers.Integral):
        sections = int(indices_or_sections)
        size = input.shape[dim]
        if sections == 0 or size % sections:
            raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the "
                               f"size of the dimension {size} is not divisible by the "
                               f"split_size {sections}!")
        return tensor_split(input, sections, dim)
    return tensor_split(input, list(indices_or_sections), dim)


def hsplit(input, indices_or_sections):
    """Split columns: along dim 1, or dim 0 of a 1-d tensor."""
    return _directional(input, indices_or_sections, "hsplit", 1, 1 if input.ndim > 1 else 0)


def vsplit(input, indices_or_sections):
    """Split rows: along dim 0 of an at-least-2-d tensor."""
    return _directional(input, indices_or_sections, "vsplit", 2, 0)


def dsplit(input, indices_or_sections):
    """Split depth: along dim 2 of an at-least-3-d tensor."""
    return _directional(input, indices_or_sections, "dsplit", 3, 2)
