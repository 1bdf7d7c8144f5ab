"""Copies of inherited methods under a layer's own name.

Python words a bad call with the called function's qualified name ("GELU.forward() got an
unexpected keyword argument 'foo'"); PyTorch's layers define their ``forward`` in the class
itself (or in a base such as ``_ReflectionPadNd``), where minigrad's share one in a base. A
copy of the function, same code and defaults, named after the class, words the refusal as
PyTorch's does and costs nothing per call.
"""
from __future__ import annotations

import types

__all__ = ["own_method", "own_forward"]


def own_method(cls, name, qualname=None):
    """Give ``cls`` its own copy of the method ``name`` it inherits, qualified as
    ``qualname`` (``<cls>.<name>`` by default)."""
    base = getattr(cls, name)
    copy = types.FunctionType(base.__code__, base.__globals__, name, base.__defaults__,
                              base.__closure__)
    copy.__kwdefaults__ = base.__kwdefaults__
    copy.__dict__.update(base.__dict__)
    copy.__doc__, copy.__module__ = base.__doc__, base.__module__
    copy.__qualname__ = qualname or f"{cls.__qualname__}.{name}"
    setattr(cls, name, copy)


def own_forward(cls):
    """For a base's ``__init_subclass__``: a public subclass that inherits its ``forward``
    gets a copy under its own name, as PyTorch's layers each define theirs."""
    if "forward" not in vars(cls) and not cls.__name__.startswith("_"):
        own_method(cls, "forward")
