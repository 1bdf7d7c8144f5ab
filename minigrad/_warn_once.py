"""Warnings PyTorch gives once per process (its ``TORCH_WARN_ONCE``) from code below
``_global_flags`` (tensor.py, the ops): the first time the situation arises, then never again
in the process, unless ``state.always`` (PyTorch's ``set_warn_always(True)``) is set.

The state is a set of the messages already given; nothing happens at import.
"""
from __future__ import annotations

import warnings

__all__ = ["warn_once", "COMPLEX_TO_REAL"]

# PyTorch's words when a complex tensor is converted to a real dtype (its real part is kept)
COMPLEX_TO_REAL = "Casting complex values to real discards the imaginary part"


class _State:
    always = False      # every time, as under PyTorch's set_warn_always(True)
    given = set()       # the messages already given


state = _State()


def warn_once(message, category=UserWarning, stacklevel=2):
    """``warnings.warn(message, category)`` the first time this message comes in this
    process; nothing after that (PyTorch's C++ side keeps such a once-only flag)."""
    if message in state.given and not state.always:
        return
    state.given.add(message)
    warnings.warn(message, category, stacklevel=stacklevel + 1)
