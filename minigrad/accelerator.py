"""``minigrad.accelerator``: PyTorch's device-neutral questions about "the" accelerator.

Code written for any backend (pytorch/examples' mnist asks
``torch.accelerator.is_available()`` and takes ``current_accelerator()`` as its device) goes
through these.  minigrad's only accelerator is CUDA through cupy (minigrad/cuda.py), so each
answer is minigrad.cuda's; without a usable GPU they answer as PyTorch's CPU build does: no
accelerator, no devices, and everything that needs one raises ``RuntimeError``.  (minigrad
has no streams, so ``current_stream``/``set_stream`` are not here.)
"""
from __future__ import annotations

from ._warn_once import warn_user
from . import cuda
from .backend import Device

__all__ = ["is_available", "device_count", "current_accelerator", "current_device_index",
           "current_device_idx", "set_device_index", "set_device_idx", "device_index",
           "synchronize", "empty_cache", "empty_host_cache",
           "memory_allocated", "max_memory_allocated", "memory_reserved",
           "max_memory_reserved", "memory_stats", "reset_peak_memory_stats",
           "reset_accumulated_memory_stats", "get_memory_info"]

_NONE = "Cannot access accelerator device when none is available."


def _require() -> None:
    if not is_available():
        raise RuntimeError(_NONE)


def _cuda_index(device):
    """``device`` (an int, 'cuda:1', a ``minigrad.device`` or None) as minigrad.cuda takes it;
    a device of another type is refused, as PyTorch does."""
    if device is None or isinstance(device, int):
        return device
    dev = Device(device) if isinstance(device, str) else device
    if not isinstance(dev, Device) or dev.type != "cuda":
        raise ValueError(f"{device} doesn't match the current accelerator cuda.")
    return dev.index


def is_available() -> bool:
    """Whether an accelerator (a CUDA GPU, for minigrad) can be used."""
    return cuda.is_available()


def device_count() -> int:
    return cuda.device_count() if is_available() else 0


def current_accelerator(check_available: bool = False):
    """The accelerator's device type as a ``minigrad.device`` ('cuda'), or None when there is
    none (``check_available`` asks the same: the only accelerator is a usable one)."""
    return Device("cuda") if is_available() else None


def current_device_index() -> int:
    _require()
    return cuda.current_device()


def current_device_idx() -> int:
    warn_user("Use `current_device_index` instead.", FutureWarning)
    return current_device_index()


def set_device_index(device, /) -> None:
    _require()
    cuda.set_device(_cuda_index(device))


def set_device_idx(device, /) -> None:
    warn_user("Use `set_device_index` instead.", FutureWarning)
    set_device_index(device)


class device_index:
    """Context manager that makes device ``device`` current and puts the previous one back
    (None: does nothing, with or without an accelerator)."""

    def __init__(self, device, /):
        self.idx = device
        self.prev_idx = -1

    def __enter__(self):
        if self.idx is not None:
            self.prev_idx = current_device_index()
            set_device_index(self.idx)
        return self

    def __exit__(self, *exc):
        if self.idx is not None:
            set_device_index(self.prev_idx)
        return False


def synchronize(device=None, /) -> None:
    _require()
    cuda.synchronize(_cuda_index(device))


def empty_cache() -> None:
    _require()
    cuda.empty_cache()


def empty_host_cache() -> None:
    _require()
    cuda.empty_cache()


def memory_allocated(device_index=None, /) -> int:
    _require()
    return cuda.memory_allocated(_cuda_index(device_index))


def max_memory_allocated(device_index=None, /) -> int:
    _require()
    return cuda.max_memory_allocated(_cuda_index(device_index))


def memory_reserved(device_index=None, /) -> int:
    _require()
    return cuda.memory_reserved(_cuda_index(device_index))


def max_memory_reserved(device_index=None, /) -> int:
    _require()
    return cuda.max_memory_reserved(_cuda_index(device_index))


def memory_stats(device_index=None, /) -> dict:
    _require()
    return cuda.memory_stats(_cuda_index(device_index))


def reset_peak_memory_stats(device_index=None, /) -> None:
    _require()
    cuda.reset_peak_memory_stats(_cuda_index(device_index))


def reset_accumulated_memory_stats(device_index=None, /) -> None:
    """minigrad keeps no accumulated counters (only peaks): nothing to reset."""
    _require()


def get_memory_info(device_index=None, /) -> tuple:
    """(free, total) bytes of the device."""
    _require()
    return cuda.mem_get_info(_cuda_index(device_index))

