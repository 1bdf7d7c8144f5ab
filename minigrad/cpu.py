"""``minigrad.cpu``: the CPU device's counterpart of ``minigrad.cuda`` (always available)."""
from __future__ import annotations

import sys as _sys

from .amp.device_aliases import cpu_amp as _cpu_amp

__all__ = ["is_available", "device_count", "current_device", "synchronize", "amp"]


def is_available() -> bool:
    return True


def device_count() -> int:
    return 1


def current_device() -> str:
    return "cpu"


def synchronize(device=None) -> None:
    """Nothing to wait for: CPU work is done when the call returns."""


# minigrad.cpu.amp.autocast, importable as a module path too (see minigrad/cuda.py)
amp = _cpu_amp
_sys.modules[__name__ + ".amp"] = amp
