"""In-place view changes: ``t_``, ``transpose_``, ``swapaxes_``, ``swapdims_``, ``squeeze_``,
``unsqueeze_``, ``as_strided_``.

These rewrite no element: the tensor itself takes the shape and strides its out-of-place view
would have (same memory, so views of it, and the base it views, are untouched).  As PyTorch:

* the version counter goes up (a node that saved this tensor for backward then refuses);
* with a graph to record, a leaf that requires grad (or a view of one) is refused, and the
  tensor's ``grad_fn`` becomes the view op's node (``TransposeBackward0``...), whose input is
  the tensor's old history, so a gradient flows back through the change of shape.
"""
from __future__ import annotations

from ..autograd import is_grad_enabled
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._util import NO_DIM
from .movement import squeeze, t, transpose, unsqueeze
from .strided import as_strided
from .writes import _take_history, check_view_meta

__all__ = ["t_", "transpose_", "swapaxes_", "swapdims_", "squeeze_", "unsqueeze_",
           "as_strided_"]


def _restride(input, view, *args, **kwargs):
    """``input`` given the layout of ``view(input, *args, **kwargs)``; returns ``input``."""
    if not isinstance(input, Tensor):
        raise TypeError(f"expected a Tensor, got {type(input).__name__}")
    recording = _refuse_leaf(input)
    if recording:
        check_view_meta(input)
    result = view(input, *args, **kwargs)
    input._array = result._array
    if recording and result.grad_fn is not None:
        _take_history(input, result)
        # the in-place overload's node name (TransposeBackward1 for transpose_'s...)
        name = _INPLACE_NAMES.get(input.grad_fn.name())
        if name is not None:
            rename_node(input, name)
    input._vcounter.value += 1
    return input


def _refuse_leaf(input):
    """PyTorch's refusal of an in-place layout change of a leaf that requires grad, or of a
    view (itself a leaf or not) of a leaf; returns whether the change is to be recorded."""
    recording = is_grad_enabled() and input._requires_grad
    base = input._base
    if recording and base is not None and base is not input and base.grad_fn is None:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")
    if recording and input.grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    return recording


# PyTorch's node of each in-place view change, by the node of its out-of-place view
_INPLACE_NAMES = {"TBackward0": "TBackward1", "TransposeBackward0": "TransposeBackward1",
                  "SqueezeBackward0": "SqueezeBackward3", "SqueezeBackward1": "SqueezeBackward4",
                  "SqueezeBackward2": "SqueezeBackward5",
                  "UnsqueezeBackward0": "UnsqueezeBackward1",
                  "AsStridedBackward0": "AsStridedBackward1"}


def t_(input):
    """In place ``t()``: a 2-d tensor transposed, fewer dimensions unchanged."""
    if isinstance(input, Tensor) and input.ndim > 2:
        _refuse_leaf(input)         # (first, as PyTorch)
        raise RuntimeError(f"t_() expects a tensor with <= 2 dimensions, but self is "
                           f"{input.ndim}D")
    return _restride(input, t)


def transpose_(input, dim0, dim1):
    """In place ``transpose(dim0, dim1)``."""
    return _restride(input, transpose, dim0, dim1)


def swapaxes_(input, axis0, axis1):
    """``transpose_`` with numpy's argument names."""
    return _restride(input, transpose, axis0, axis1)


def swapdims_(input, dim0, dim1):
    """``transpose_`` under another name."""
    return _restride(input, transpose, dim0, dim1)


def squeeze_(input, dim=NO_DIM):
    """In place ``squeeze(dim)``: size-1 dimensions (all, or those in ``dim``) removed."""
    if dim is None:
        raise TypeError("squeeze_() received an invalid combination of arguments - got "
                        "(NoneType), but expected one of: (), (int dim), (tuple of ints dim)")
    return _restride(input, squeeze, dim)


def unsqueeze_(input, dim):
    """In place ``unsqueeze(dim)``: a size-1 dimension inserted at ``dim``."""
    return _restride(input, unsqueeze, dim)


def as_strided_(input, size, stride, storage_offset=None):
    """In place ``as_strided``: input shows its memory with ``size``, ``stride`` (elements)
    and ``storage_offset`` (default: input's own)."""
    return _restride(input, as_strided, size, stride, storage_offset)
