"""``minigrad.nn.attention``: choosing the kernel behind ``F.scaled_dot_product_attention``.

PyTorch has several attention kernels and ``sdpa_kernel`` limits a region to some of them.
minigrad has one (the math kernel, made of differentiable ops), so choosing changes no
number; it decides, as on PyTorch's CPU, whether a call may run (see
``minigrad/_sdp_state.py``): a region that allows ``MATH`` runs everything, one that allows
``FLASH_ATTENTION`` but not ``MATH`` runs what the flash kernel takes, and any other raises.
"""
from __future__ import annotations

import contextlib
import enum

from ... import _sdp_state, backends as _backends

__all__ = ["SDPBackend", "sdpa_kernel", "WARN_FOR_UNFUSED_KERNELS"]

WARN_FOR_UNFUSED_KERNELS = False


class SDPBackend(enum.Enum):
    """The attention kernels PyTorch knows, with its numbering."""
    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4


_SWITCH = {SDPBackend.MATH: "math", SDPBackend.FLASH_ATTENTION: "flash",
           SDPBackend.EFFICIENT_ATTENTION: "mem_efficient",
           SDPBackend.CUDNN_ATTENTION: "cudnn"}


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority: bool = False):
    """Allow only ``backends`` (one SDPBackend or a list of them) inside the region; the
    previous switches come back on leaving it.  ``set_priority`` (the order to try them in)
    is accepted: with one kernel there is no order to choose."""
    if not isinstance(backends, (list, SDPBackend)):
        raise AssertionError("Backend must be an instance of SDPBackend or a list of "
                             f"SDPBackend instances, got {type(backends).__name__}")
    chosen = {backends} if isinstance(backends, SDPBackend) else set(backends)
    saved = _sdp_state.snapshot()
    try:
        for member, name in _SWITCH.items():
            _sdp_state.set_enabled(name, member in chosen)
        yield {}
    finally:
        _sdp_state.restore(saved)


from ._kernel_checks import (  # noqa: F401,E402  (fused-kernel questions, FA registry)
    SDPAParams, can_use_flash_attention, can_use_efficient_attention, can_use_cudnn_attention,
    register_flash_attention_impl, activate_flash_attention_impl, list_flash_attention_impls,
    current_flash_attention_impl, restore_flash_attention_impl)

__all__ += ["register_flash_attention_impl", "activate_flash_attention_impl",
            "list_flash_attention_impls", "current_flash_attention_impl",
            "restore_flash_attention_impl"]


# ``minigrad.backends.cuda`` answers the same questions (PyTorch defines them there)
_backends.cuda.SDPAParams = SDPAParams
_backends.cuda.can_use_flash_attention = can_use_flash_attention
_backends.cuda.can_use_efficient_attention = can_use_efficient_attention
_backends.cuda.can_use_cudnn_attention = can_use_cudnn_attention
_backends.cuda.SDPBackend = SDPBackend
