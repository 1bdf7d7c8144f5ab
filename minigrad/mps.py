"""``torch.mps``: Apple's Metal GPUs, which minigrad cannot use.

Everything answers as a PyTorch build without MPS does: no device is available, seeding is a
no-op (so seed-everything helpers run), and what needs the device raises ``RuntimeError``.
Device-picking code asks ``torch.backends.mps.is_available()`` or ``torch.mps.device_count()``.
"""
__all__ = ["is_available", "device_count", "synchronize", "empty_cache", "manual_seed", "seed",
           "get_rng_state", "set_rng_state", "current_allocated_memory",
           "driver_allocated_memory", "recommended_max_memory", "set_per_process_memory_fraction"]


def _absent(call):
    """The RuntimeError for ``call`` (the backend's name for what was asked) without MPS."""
    return RuntimeError(f"Cannot execute {call}() without MPS backend.")


def is_available():
    """False: minigrad has no MPS backend."""
    return False


def device_count():
    """0: no MPS device."""
    return 0


def synchronize():
    raise _absent("deviceSynchronize")


def empty_cache():
    raise _absent("emptyCache")


def manual_seed(seed):
    """A no-op without MPS (as PyTorch's, so that seeding every backend works)."""


def seed():
    raise _absent("getDefaultGenerator")


def get_rng_state(device="mps"):
    raise _absent("getDefaultGenerator")


def set_rng_state(new_state, device="mps"):
    raise _absent("getDefaultGenerator")


def current_allocated_memory():
    raise _absent("getCurrentAllocatedMemory")


def driver_allocated_memory():
    raise _absent("getDriverAllocatedMemory")


def recommended_max_memory():
    raise _absent("getRecommendedMaxMemory")


def set_per_process_memory_fraction(fraction):
    raise _absent("setMemoryFraction")
