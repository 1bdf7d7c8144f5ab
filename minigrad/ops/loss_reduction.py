"""What every loss shares about its reduction, kept apart from ``loss.py``: the check of
``reduction`` ('mean', 'sum' or 'none'), the deprecated ``size_average`` / ``reduce`` flags
read as a reduction (with PyTorch's warning), PyTorch's numbering of the reductions
(``REDUCTION_ENUM``), and the final reduce of elementwise losses, on arrays
(``reduce_array``) or as a recorded node under the loss's own name (``_reduce``).
"""
from __future__ import annotations

from .._warn_once import warn_user
from .. import _memory_format as mf
from .reduce import Mean, Sum, _mean_array


_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction (expected one of "
                         f"{', '.join(_REDUCTIONS)})")


def _legacy_reduction(size_average, reduce, reduction):
    """``reduction``, unless one of the deprecated flags is given: then they decide (both
    default to True; reduce=False -> 'none', else size_average picks 'mean' or 'sum'), with
    PyTorch's deprecation warning."""
    if size_average is None and reduce is None:
        if isinstance(reduction, str) and reduction == "elementwise_mean":
            warn_user("reduction='elementwise_mean' is deprecated. Please use "
                      "reduction='mean' instead.", UserWarning)
            return "mean"
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = "none" if not reduce else "mean" if size_average else "sum"
    warn_user(f"size_average and reduce args will be deprecated, please use "
              f"reduction='{reduction}' instead.", UserWarning)
    return reduction


# PyTorch's numbering of the reductions (a loss node's ``_saved_reduction``)
REDUCTION_ENUM = {"none": 0, "mean": 1, "sum": 2}


def reduce_array(per, reduction, input, target):
    """A loss node's elementwise losses ``per`` (an array) reduced as ``reduction`` says:
    laid out as the inputs ("none"), their sum or their mean, in their own dtype."""
    if reduction == "none":
        return mf.pointwise_result(per, input, target)
    if reduction == "sum":
        return per.sum(dtype=per.dtype)
    return _mean_array(per, tuple(range(per.ndim)), False, per.size)


def _reduce(loss, reduction, node=None):
    """The elementwise ``loss`` reduced; ``node``: PyTorch's name for its node of the whole
    loss (MseLossBackward0), which the reduction, the loss's last step here, then records."""
    _check_reduction(reduction)
    if reduction == "none":
        return loss
    if node is None:
        return loss.mean() if reduction == "mean" else loss.sum()
    op = (Mean if reduction == "mean" else Sum).renamed(node)
    return op.apply(loss, axes=tuple(range(loss.ndim)), keepdim=False)
