"""What PyTorch code asks about its fused attention kernels, answered for a CPU-only library.

``SDPAParams`` bundles the arguments of one ``scaled_dot_product_attention`` call;
``can_use_flash_attention`` / ``can_use_efficient_attention`` / ``can_use_cudnn_attention``
say whether a fused GPU kernel could take them. minigrad has no such kernel (like a CPU build
of PyTorch), so each answers ``False``. The flash-attention registry lets a provider name an
alternative implementation and a user switch to it; ``FA3`` and ``FA4`` are listed, as in
PyTorch, but need GPU packages that are not here, so activating them raises
``ModuleNotFoundError``.
"""
from __future__ import annotations

import logging

from ...tensor import Tensor

__all__ = ["SDPAParams", "can_use_flash_attention", "can_use_efficient_attention",
           "can_use_cudnn_attention", "register_flash_attention_impl",
           "activate_flash_attention_impl", "list_flash_attention_impls",
           "current_flash_attention_impl", "restore_flash_attention_impl"]

_log = logging.getLogger(__name__)

_FIELDS = ("query", "key", "value", "attn_mask", "dropout", "is_causal", "enable_gqa")


class SDPAParams:
    """The seven arguments of one attention call, read-only: ``query``, ``key``, ``value``
    (tensors), ``attn_mask`` (tensor or None), ``dropout`` (float), ``is_causal`` and
    ``enable_gqa`` (bools). All seven are positional and required."""

    __slots__ = tuple("_" + name for name in _FIELDS)

    def __init__(self, *args, **kwargs):
        kinds = (Tensor, Tensor, Tensor, (Tensor, type(None)), (int, float), bool, bool)
        if kwargs or len(args) != 7 or not all(isinstance(a, k) for a, k in zip(args, kinds)):
            raise TypeError(
                "__init__(): incompatible constructor arguments. The following argument "
                "types are supported:\n    1. SDPAParams(query: Tensor, key: Tensor, value: "
                "Tensor, attn_mask: Tensor | None, dropout: float, is_causal: bool, "
                "enable_gqa: bool)")
        for name, value in zip(_FIELDS, args):
            object.__setattr__(self, "_" + name, float(value) if name == "dropout" else value)

    query = property(lambda self: self._query)
    key = property(lambda self: self._key)
    value = property(lambda self: self._value)
    attn_mask = property(lambda self: self._attn_mask)
    dropout = property(lambda self: self._dropout)
    is_causal = property(lambda self: self._is_causal)
    enable_gqa = property(lambda self: self._enable_gqa)


def _check_params(params):
    if not isinstance(params, SDPAParams):
        raise TypeError("expected an SDPAParams instance, got " + type(params).__name__)


def can_use_flash_attention(params: SDPAParams, debug: bool = False) -> bool:
    """Whether the flash kernel could run this call: never here (no GPU kernels)."""
    _check_params(params)
    return False


def can_use_efficient_attention(params: SDPAParams, debug: bool = False) -> bool:
    """Whether the memory-efficient kernel could run this call: never here."""
    _check_params(params)
    return False


def can_use_cudnn_attention(params: SDPAParams, debug: bool = False) -> bool:
    """Whether the cuDNN kernel could run this call: never here."""
    _check_params(params)
    return False


def _needs_package(package):
    def register():
        raise ModuleNotFoundError(f"No module named '{package}'", name=package)
    return register


_IMPLS = {"FA3": _needs_package("flash_attn_interface"), "FA4": _needs_package("flash_attn")}
_ACTIVE = None  # (name, handle) of the implementation switched on, or None for the default


def register_flash_attention_impl(impl, *, register_fn) -> None:
    """Record ``register_fn`` (called with no arguments on activation; it may return a
    handle with ``remove()``) under the name ``impl``, replacing any earlier one."""
    _IMPLS[impl] = register_fn


def list_flash_attention_impls() -> list:
    """Sorted names of the registered implementations."""
    return sorted(_IMPLS)


def current_flash_attention_impl():
    """Name of the active implementation, or ``None`` for the default."""
    return None if _ACTIVE is None else _ACTIVE[0]


def restore_flash_attention_impl(_raise_warn: bool = True) -> None:
    """Switch back to the default: remove the active handle (logging a warning when none
    was active and ``_raise_warn`` is true)."""
    global _ACTIVE
    if _ACTIVE is not None:
        _ACTIVE[1].remove()
    elif _raise_warn:
        _log.warning("Trying to restore default FA2 impl when no custom impl was activated")
    _ACTIVE = None


def activate_flash_attention_impl(impl) -> None:
    """Restore the default, then call the ``register_fn`` recorded for ``impl``; a handle it
    returns makes ``impl`` the active one. An unknown name raises ``ValueError``."""
    global _ACTIVE
    restore_flash_attention_impl(_raise_warn=False)
    register_fn = _IMPLS.get(impl)
    if register_fn is None:
        raise ValueError(f"Unknown flash attention impl '{impl}'. "
                         f"Available implementations: {list_flash_attention_impls()}")
    handle = register_fn()
    if handle is not None:
        _ACTIVE = (impl, handle)
