"""The argument types of the class losses (``cross_entropy``, ``nll_loss``) as PyTorch's
parser checks them, in its order and words: its kernels are ``cross_entropy_loss(input,
target, weight, reduction, ignore_index, label_smoothing)`` and ``nll_loss_nd(input, target,
weight, reduction, ignore_index)``."""
from __future__ import annotations

import numbers

from ..tensor import Tensor
from ._util import int_arg, python_type_name

__all__ = ["check_class_loss_arguments"]

_KERNELS = {"cross_entropy": "cross_entropy_loss", "nll_loss": "nll_loss_nd"}


def check_class_loss_arguments(name, input, target, weight, ignore_index, label_smoothing=0.0):
    """``ignore_index`` as an int, after PyTorch's TypeErrors for arguments of another type
    (an int tensor of one element is read as its value; a bool is no int)."""
    op = _KERNELS[name]
    for position, arg, value in ((1, "input", input), (2, "target", target),
                                 (3, "weight", weight)):
        if not isinstance(value, Tensor) and not (value is None and arg == "weight"):
            raise TypeError(f"{op}(): argument '{arg}' (position {position}) must be Tensor, "
                            f"not {python_type_name(value)}")
    ignore_index = int_arg(op, "ignore_index", ignore_index, 5)
    if not (isinstance(label_smoothing, numbers.Real) or (
            isinstance(label_smoothing, Tensor) and label_smoothing._array.size == 1)):
        raise TypeError(f"{op}(): argument 'label_smoothing' (position 6) must be float, not "
                        f"{python_type_name(label_smoothing)}")
    return ignore_index
