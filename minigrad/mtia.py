"""``torch.mtia``: Meta's training and inference accelerators, which minigrad cannot use.

Everything answers as a PyTorch build without MTIA does: no device is available, seeding and
the memory counters are harmless, and what needs the device raises ``RuntimeError``.
"""
from ._no_device_seeding import manual_seed, manual_seed_all, seed, seed_all  # noqa: F401

__all__ = ["is_available", "device_count", "is_initialized", "current_device", "set_device",
           "synchronize", "empty_cache", "manual_seed", "manual_seed_all", "seed", "seed_all",
           "is_bf16_supported", "memory_allocated", "max_memory_allocated", "memory_stats",
           "reset_peak_memory_stats", "get_device_capability", "get_device_properties"]


def _absent(call):
    """The RuntimeError for ``call`` (the backend's name for what was asked) without MTIA."""
    return RuntimeError(f"Cannot execute {call}() without MTIA backend.")


def is_available():
    """False: minigrad has no MTIA backend."""
    return False


def device_count():
    """0: no MTIA device."""
    return 0


def is_initialized():
    return False


def current_device():
    raise _absent("getCurrentDevice")


def set_device(device):
    raise _absent("setCurrentDevice")


def synchronize(device=None):
    raise _absent("getCurrentDevice")


def get_device_capability(device=None):
    raise _absent("getCurrentDevice")


def get_device_properties(device=None):
    raise _absent("getCurrentDevice")


def empty_cache():
    raise _absent("emptyCache")


def reset_peak_memory_stats(device=None):
    """A no-op: no MTIA memory is ever allocated."""


def is_bf16_supported(including_emulation=True):
    return True     # PyTorch's answer, device or not


def memory_allocated(device=None):
    """0 bytes: no MTIA memory is ever allocated."""
    return 0


max_memory_allocated = memory_allocated


def memory_stats(device=None):
    return {}
