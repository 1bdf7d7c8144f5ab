"""Warnings PyTorch gives once per process (its ``TORCH_WARN_ONCE``) from code below
``_global_flags`` (tensor.py, the ops): the first time the situation arises, then never again
in the process, unless ``state.always`` (PyTorch's ``set_warn_always(True)``) is set.

The state is a set of the messages already given; nothing happens at import.
"""
from __future__ import annotations

import os
import sys
import warnings

__all__ = ["warn_once", "warn_user", "warn_deprecated_linalg", "COMPLEX_TO_REAL", "GRAD_SCALAR",
           "USER"]

# stacklevel=USER: the warning names the first line outside minigrad (the user's call), at
# whatever depth of minigrad's wrappers it was raised, as PyTorch's C++ warnings name the
# Python line that called into it
USER = "user"
_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep

# PyTorch's words when a complex tensor is converted to a real dtype (its real part is kept)
COMPLEX_TO_REAL = "Casting complex values to real discards the imaginary part"

# PyTorch's words when a tensor that requires grad is read as a Python number (float(t), an
# element of torch.tensor([t1, t2])): given once a process, from either
GRAD_SCALAR = ("Converting a tensor with requires_grad=True to a scalar may lead to unexpected "
               "behavior.\nConsider using tensor.detach() first.")


class _State:
    always = False      # every time, as under PyTorch's set_warn_always(True)
    given = set()       # the messages already given


state = _State()


def warn_once(message, category=UserWarning, stacklevel=2, key=None):
    """``warnings.warn(message, category)`` the first time this message comes in this
    process; nothing after that (PyTorch's C++ side keeps such a once-only flag).  ``key``:
    what counts as the same warning when its words vary (PyTorch's flag is per place in its
    code: the first of a warning's variants is given, no other)."""
    key = message if key is None else key
    if key in state.given and not state.always:
        return
    state.given.add(key)
    warnings.warn(message, category, stacklevel=_user_level() if stacklevel == USER else
                  stacklevel + 1)


def warn_user(message, category=UserWarning):
    """``warnings.warn(message, category)`` every time, attributed to the first frame outside
    the minigrad package (the user's line that called in), however many of minigrad's frames
    lie between: a Tensor method, the ``minigrad.*`` function, a module's forward or a
    ``__torch_function__`` dispatch all name the same user line, as PyTorch's C++ warnings
    do.  The frames are walked only when the warning is given."""
    warnings.warn(message, category, stacklevel=_user_level())


def _user_level():
    """The stacklevel of the first frame outside the minigrad package, counted from the
    caller of ``_user_level``'s caller (as ``warnings.warn`` counts it from ``warn_once`` or
    ``warn_user``)."""
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


def warn_deprecated_linalg(old, new):
    """The UserWarning PyTorch gives once per process when one of its older top-level
    linear-algebra functions (``cholesky``, ``qr``, ``lu``, ``lu_solve``,
    ``triangular_solve``) is called: ``old`` gives way to ``new`` in the linalg module.
    Attributed to the user's line that called it."""
    warn_once(f"minigrad.{old} is deprecated in favor of minigrad.linalg.{new} and will be "
              f"removed in a future release.", UserWarning, stacklevel=USER)
