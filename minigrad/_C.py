"""``torch._C``: the few names of PyTorch's extension module that Python code reaches for.

Library code written for PyTorch switches the ``__torch_function__`` protocol off with
``torch._C.DisableTorchFunctionSubclass()`` (torchvision's tensor subclasses do), marks a
subclass as taking no part with ``torch._C._disabled_torch_function_impl``, and asks
``torch._C._get_tracing_state()`` whether a JIT trace is being recorded (never, here).
The ``TorchFunctionMode`` stack of the running thread is read and changed through
``_len_torch_function_stack``, ``_get_function_stack_at``, ``_push_on_torch_function_stack``
and ``_pop_torch_function_stack``.
"""
from __future__ import annotations

from ._torch_function import (DisableTorchFunction, DisableTorchFunctionSubclass,
                              _disabled_torch_function_impl)
from ._torch_function import is_torch_function_enabled as _is_torch_function_enabled
from ._torch_function_mode import (_get_function_stack_at, _is_torch_function_mode_enabled,
                                   _len_torch_function_stack)
from ._torch_function_mode import _pop_mode as _pop_torch_function_stack
from ._torch_function_mode import _push_mode as _push_on_torch_function_stack
from .overrides import has_torch_function as _has_torch_function
from .overrides import has_torch_function_unary as _has_torch_function_unary
from .overrides import has_torch_function_variadic as _has_torch_function_variadic
from .tensor import Tensor as TensorBase

__all__ = ["DisableTorchFunction", "DisableTorchFunctionSubclass",
           "_disabled_torch_function_impl", "_is_torch_function_enabled",
           "_has_torch_function", "_has_torch_function_unary",
           "_has_torch_function_variadic", "_get_tracing_state", "TensorBase",
           "_len_torch_function_stack", "_get_function_stack_at",
           "_push_on_torch_function_stack", "_pop_torch_function_stack",
           "_is_torch_function_mode_enabled"]


def _get_tracing_state():
    """The JIT tracer's state: None, as nothing is ever being traced (code runs eagerly)."""
    return None
