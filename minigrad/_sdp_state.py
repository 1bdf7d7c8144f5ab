"""Which attention kernels ``scaled_dot_product_attention`` may use, kept below the ops.

PyTorch chooses among several implementations of scaled dot-product attention ("math",
"flash", "memory-efficient", "cuDNN") and lets a program switch each off, with
``torch.backends.cuda.enable_*_sdp`` or ``torch.nn.attention.sdpa_kernel``.  minigrad has one
implementation (the math one, built of differentiable ops), so the switches change no number;
they only decide, as on PyTorch's CPU, whether a call may run at all:

* with "math" on, every call runs;
* with "math" off but "flash" on, a call runs when the flash kernel would take it (4-d
  query/key/value, no dropout, value's last dim equal to query's); otherwise it warns why and
  raises ``RuntimeError("No available kernel.  Aborting execution.")``;
* with both off, it raises at once: no kernel is left (the memory-efficient and cuDNN kernels
  are GPU-only in PyTorch).

``minigrad.backends.cuda`` and ``minigrad.nn.attention`` are the public faces; this module
only holds the flags (process-wide, as the other switches of minigrad).

It also holds ``backends.mha``'s switch of the inference "fast path" of MultiheadAttention
and the Transformer layers (PyTorch's fused kernel, which shows in its results: a query whose
keys are all masked gives NaN there, 0 elsewhere; see ``nn/modules/attention.py``).
"""
from __future__ import annotations

from ._warn_once import warn_user


NAMES = ("flash", "mem_efficient", "math", "cudnn")

_enabled = {name: True for name in NAMES}
_mha_fastpath = True


def get_fastpath_enabled() -> bool:
    return _mha_fastpath


def set_fastpath_enabled(value) -> None:
    global _mha_fastpath
    _mha_fastpath = value


def is_enabled(name: str) -> bool:
    return _enabled[name]


def set_enabled(name: str, enabled: bool) -> None:
    _enabled[name] = bool(enabled)


def snapshot() -> dict:
    return dict(_enabled)


def restore(state: dict) -> None:
    _enabled.update(state)


def check_kernel(query, key, value, dropout_p) -> None:
    """Raise as PyTorch's CPU dispatcher does when no enabled kernel can take this call."""
    if _enabled["math"]:
        return
    if not _enabled["flash"]:
        raise RuntimeError("No viable backend for scaled_dot_product_attention was found. "
                           "This is likely due to turning off both the math kernel and the "
                           "fused kernels.")
    if query.ndim != 4 or key.ndim != 4 or value.ndim != 4:
        why = ("All fused kernels requires query, key and value to be 4 dimensional, but got "
               f"Query dim: {query.ndim}, Key dim: {key.ndim}, Value dim: {value.ndim} "
               "instead.")
    elif dropout_p > 0.0:
        why = "Both fused kernels do not support non-zero dropout."
    elif value.shape[-1] != query.shape[-1] or key.shape[-1] != query.shape[-1]:
        why = ("Flash attention requires q,k,v to have the same last dimension. Got "
               f"Query.size(-1): {query.shape[-1]}, Key.size(-1): {key.shape[-1]}, "
               f"Value.size(-1): {value.shape[-1]} instead.")
    else:
        return
    warn_user("Flash attention kernel not used because:")
    warn_user(why)
    raise RuntimeError("No available kernel.  Aborting execution.")


def flash_cpu_takes(query, key, value, attn_mask, dropout_p, enable_gqa) -> bool:
    """Whether PyTorch's CPU flash kernel would take this call (it is enabled; query, key and
    value 4-d, of one batch size and head count (or grouped heads with ``enable_gqa``), one
    last dim, each with unit stride along it; no dropout; no mask, or a 2-d or 4-d one that
    needs no gradient). That kernel takes an ``attn_mask`` and ``is_causal`` together; the
    reference kernel refuses the pair."""
    if not _enabled["flash"] or dropout_p > 0.0:
        return False
    if query.ndim != 4 or key.ndim != 4 or value.ndim != 4:
        return False
    (n, h, _, e), (nk, hk, _, ek), (nv, hv, _, ev) = query.shape, key.shape, value.shape
    if not (n == nk == nv and e == ek == ev and hk == hv):
        return False
    if hk != h and not (enable_gqa and hk and h % hk == 0):
        return False
    if any(t.shape[-1] > 1 and t.stride(-1) != 1 for t in (query, key, value)):
        return False
    return attn_mask is None or (attn_mask.ndim in (2, 4) and not attn_mask.requires_grad)
