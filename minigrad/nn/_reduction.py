"""``minigrad.nn._reduction``: the loss ``reduction`` names as the integers PyTorch's kernels
take (``none`` 0, ``mean`` 1, ``sum`` 2), and the old ``size_average``/``reduce`` flags read
as a reduction name. Custom losses written against PyTorch's private helpers call these."""
from __future__ import annotations

from .._warn_once import warn_user

_CODES = {"none": 0, "mean": 1, "sum": 2}


def get_enum(reduction):
    """0, 1 or 2 for 'none', 'mean', 'sum'; the deprecated 'elementwise_mean' is 'mean' (with
    a warning); any other value raises ``ValueError``."""
    if reduction == "elementwise_mean":
        warn_user("reduction='elementwise_mean' is deprecated. Please use reduction='mean' "
                  "instead.")
        return 1
    if isinstance(reduction, str) and reduction in _CODES:
        return _CODES[reduction]
    raise ValueError(f"{reduction} is not a valid value for reduction")


def legacy_get_string(size_average, reduce, emit_warning=True):
    """The reduction the old flags mean (None counts as True): both true 'mean', only
    ``reduce`` 'sum', ``reduce`` false 'none'; warns that the flags are deprecated."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    name = "mean" if size_average and reduce else "sum" if reduce else "none"
    if emit_warning:
        warn_user(f"size_average and reduce args will be deprecated, please use "
                  f"reduction='{name}' instead.")
    return name


def legacy_get_enum(size_average, reduce, emit_warning=True):
    """``get_enum(legacy_get_string(size_average, reduce, emit_warning))``."""
    return get_enum(legacy_get_string(size_average, reduce, emit_warning))
