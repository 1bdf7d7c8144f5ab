"""``torch.xpu``: Intel GPUs, which minigrad cannot use.

Everything answers as a PyTorch build without XPU does: ``is_available()`` is False,
``device_count()`` 0, the memory counters 0, seeding and ``empty_cache`` are no-ops, and what
needs a device fails its ``AssertionError`` "Torch not compiled with XPU enabled".
"""
from collections import OrderedDict

from ._no_device_seeding import manual_seed, manual_seed_all, seed, seed_all  # noqa: F401

__all__ = ["is_available", "device_count", "is_initialized", "init", "current_device",
           "set_device", "get_device_name", "get_device_properties", "get_device_capability",
           "synchronize", "empty_cache", "manual_seed", "manual_seed_all", "seed", "seed_all",
           "initial_seed", "get_rng_state", "set_rng_state", "is_bf16_supported",
           "is_tf32_supported", "get_arch_list", "memory_allocated", "max_memory_allocated",
           "memory_reserved", "max_memory_reserved", "memory_stats", "mem_get_info",
           "current_stream"]


def _not_compiled(*args, **kwargs):
    """What every call that needs an XPU device does here."""
    raise AssertionError("Torch not compiled with XPU enabled")


init = current_device = set_device = get_device_name = get_device_properties = _not_compiled
get_device_capability = synchronize = initial_seed = get_rng_state = _not_compiled
mem_get_info = current_stream = _not_compiled


def is_available():
    """False: minigrad has no XPU backend."""
    return False


def device_count():
    """0: no XPU device."""
    return 0


def is_initialized():
    return False


def empty_cache():
    """A no-op: without a device there is nothing to free."""


def set_rng_state(new_state, device="xpu"):
    pass


def is_bf16_supported(including_emulation=True):
    return False


def is_tf32_supported():
    return False


def get_arch_list():
    return []


def memory_allocated(device=None):
    """0 bytes: no XPU memory is ever allocated (so are the three counters below)."""
    return 0


max_memory_allocated = memory_reserved = max_memory_reserved = memory_allocated


def memory_stats(device=None):
    return OrderedDict()
