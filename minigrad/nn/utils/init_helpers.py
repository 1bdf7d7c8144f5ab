"""``skip_init``: build a module without spending time on its parameter initialisation."""
from __future__ import annotations

import inspect

from ..modules.module import Module

__all__ = ["skip_init"]


def skip_init(module_cls, *args, **kwargs):
    """``module_cls(*args, **kwargs)`` with parameters and buffers left uninitialised.

    The class must accept a ``device`` argument (that is how PyTorch defers allocation): the
    module is built on the meta device (no storage, no random draws) and then given fresh
    uninitialised storage on its target device (``to_empty``): the values are arbitrary, as
    in PyTorch, and the caller is expected to fill them.
    """
    if not issubclass(module_cls, Module):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    device = kwargs.pop("device", "cpu")
    return module_cls(*args, device="meta", **kwargs).to_empty(device=device)
