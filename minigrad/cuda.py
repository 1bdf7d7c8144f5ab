"""``minigrad.cuda``: is a GPU usable here?  (cupy behind it; see minigrad/backend.py.)"""
from __future__ import annotations

import sys as _sys

from . import backend
from .amp.device_aliases import cuda_amp as _cuda_amp
from .creation import manual_seed as _seed


def is_available() -> bool:
    """True when cupy is installed and sees an NVIDIA GPU."""
    return backend.is_cuda_available()


def device_count() -> int:
    return backend.cuda_device_count()


def synchronize() -> None:
    """Wait for every queued GPU kernel to finish (for honest timings)."""
    if is_available():
        backend.array_module(backend.Device("cuda")).cuda.Device().synchronize()


def manual_seed(seed) -> None:
    """Random numbers are drawn on the CPU and moved, so the CPU seed covers the GPU too."""
    _seed(seed)


manual_seed_all = manual_seed


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """False: minigrad has no bfloat16 dtype on any device (nanoGPT asks this to pick its
    autocast dtype, and then takes float16)."""
    return False


# minigrad.cuda.amp.autocast / GradScaler, the older spellings of minigrad.amp's; listed in
# sys.modules so that `from minigrad.cuda.amp import GradScaler` (a module, not a package) works
amp = _cuda_amp
_sys.modules[__name__ + ".amp"] = amp
