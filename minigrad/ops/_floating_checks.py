"""The refusal PyTorch gives an op whose kernel exists for floating dtypes only (bool and
integer inputs are refused, not promoted), shared by the activation modules
(``_floating_only``) and the pointwise and scan ops of ``math_extra`` and ``cumulative``
(``_check_floating``).
"""
from __future__ import annotations

from ..tensor import Tensor
from ._util import not_a_tensor, not_implemented_for


def _floating_only(a, kernel):
    """``a`` itself: PyTorch's ``kernel`` exists for floating dtypes only (bool and integer
    inputs are refused, not promoted)."""
    if a._array.dtype.kind not in "fV":
        raise not_implemented_for(kernel, a._array.dtype)
    return a


def _check_floating(input, name, kernel):
    """A Tensor ``input`` of a floating dtype, as the kernel ``kernel`` of ``name`` needs."""
    if not isinstance(input, Tensor):
        raise not_a_tensor(name, input)
    if input._array.dtype.kind not in "fV":
        raise not_implemented_for(kernel, input._array.dtype)
