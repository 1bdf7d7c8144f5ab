"""NumPy-style directional splits with PyTorch's names: ``hsplit``, ``vsplit``, ``dsplit``.

Each is ``tensor_split`` along a fixed dim: hsplit along dim 1 (dim 0 for a 1-d tensor),
vsplit along dim 0 (at least 2-d), dsplit along dim 2 (at least 3-d).  An int N asks for N
equal pieces and must divide that dim's size; a list of indices splits before each index.
The pieces are views, so gradients flow back to the input.
"""
from __future__ import annotations

from ..tensor import Tensor
from ._overloads import check_int_tuple_rest, is_int, is_int_tuple, no_overload, type_names
from .stacking import tensor_split

__all__ = ["hsplit", "vsplit", "dsplit"]


def _directional(input, indices_or_sections, name, min_dims, dim):
    sections = is_int(indices_or_sections)
    if not (isinstance(input, Tensor) and (sections or is_int_tuple(indices_or_sections))):
        tensor = isinstance(input, Tensor)
        raise no_overload(name, type_names(input, indices_or_sections),
                          ("Tensor input, int sections", "Tensor input, tuple of ints indices"),
                          [((input, tensor), (indices_or_sections, sections)),
                           ((input, tensor), (indices_or_sections,
                                              is_int_tuple(indices_or_sections)))])
    if not sections:
        indices = check_int_tuple_rest(name, "indices", indices_or_sections)
    if input.ndim < min_dims:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {min_dims} dimension, "
                           f"but got a tensor with {input.ndim} dimensions!")
    dim = dim if input.ndim > 1 else 0             # hsplit of a 1-d tensor: along dim 0
    if not sections:
        return tensor_split(input, indices, dim)
    sections = int(indices_or_sections)
    size = input.shape[dim]
    if sections == 0 or size % sections:
        raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the "
                           f"size of the dimension {size} is not divisible by the "
                           f"split_size {sections}!")
    return tensor_split(input, sections, dim)


def hsplit(input, indices_or_sections):
    """Split columns: along dim 1, or dim 0 of a 1-d tensor."""
    return _directional(input, indices_or_sections, "hsplit", 1, 1)


def vsplit(input, indices_or_sections):
    """Split rows: along dim 0 of an at-least-2-d tensor."""
    return _directional(input, indices_or_sections, "vsplit", 2, 0)


def dsplit(input, indices_or_sections):
    """Split depth: along dim 2 of an at-least-3-d tensor."""
    return _directional(input, indices_or_sections, "dsplit", 3, 2)
