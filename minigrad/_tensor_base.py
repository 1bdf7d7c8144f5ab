"""What modules below ``tensor.py`` need to know of a tensor: its base class and its version
counters.

``TensorBase`` is the class every ``Tensor`` derives from (PyTorch's ``torch.Tensor`` has a base
of the same name).  It holds nothing; the data conversion in ``_data_conversion.py`` and
``Size`` test ``isinstance(x, TensorBase)`` to recognise a tensor without importing the module
that defines ``Tensor`` (which imports them).
"""
from __future__ import annotations

from ._grad_state import state as _grad_state


class TensorBase:
    """The base class of ``Tensor``; see the module docstring."""
    __slots__ = ()


class VersionCounter:
    """Shared by a tensor and its views; every in-place write bumps it, so that a backward
    that needs a value overwritten since forward raises instead of computing a wrong
    gradient."""
    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class InferenceCounter:
    """What a tensor made inside ``inference_mode`` has instead of a version counter: it
    counts nothing (such tensors are never saved for a backward), reads 0, and allows an
    in-place write only inside inference mode, as PyTorch's inference tensors do. Its views
    share it, so they are inference tensors too."""
    __slots__ = ()

    @property
    def value(self):
        return 0

    @value.setter
    def value(self, _):
        if not _grad_state.inference:
            raise RuntimeError("Inplace update to inference tensor outside InferenceMode is not "
                               "allowed.You can make a clone to get a normal tensor before doing "
                               "inplace update.See https://github.com/pytorch/rfcs/pull/17 for "
                               "more details.")


_INFERENCE = InferenceCounter()         # one for all: it holds no state
