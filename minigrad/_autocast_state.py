"""The switches of automatic mixed precision (``minigrad.autocast``), kept below the ops.

The ops that autocast touches (matmul, linear, the convolutions, some losses) read ``active``
first: one module-attribute lookup, so a program that never enters an autocast region pays
nothing more. ``minigrad/amp/autocast_mode.py`` is the public face; this module only holds
the state and answers "should this tensor be cast, and to what".

The state is per device type ('cpu', 'cuda', and the other accelerators PyTorch's autocast
takes, which hold no minigrad tensors) as in PyTorch, but process-wide rather than per thread
(minigrad's grad mode is process-wide too).
"""
from __future__ import annotations

import contextlib

from .dtypes import bfloat16, float16

# what PyTorch's device strings may start with, in its order (its words name them)
_KNOWN = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve",
          "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")

# True while autocast is on for at least one device type: the one check on the hot paths
active = False

# PyTorch's defaults: bfloat16 on the CPU, float16 on CUDA (cupy has no bfloat16), and each
# other accelerator's own ('hip' has one to report, but autocast refuses it). minigrad has no
# tensors on those others: a region for one keeps its switch and dtype and changes nothing
_dtype = {"cpu": bfloat16, "cuda": float16, "xla": bfloat16, "hpu": bfloat16, "mps": float16,
          "xpu": float16, "ipu": float16, "mtia": float16, "maia": bfloat16, "hip": float16}
_enabled = dict.fromkeys(_dtype, False)
_cache_enabled = True
_nesting = 0


def device_type_of(name: str) -> str:
    """The device type autocast keeps a state for, of a device string as PyTorch reads it
    ('cpu', 'cpu:0' -> 'cpu'; 'mps' -> 'mps'). RuntimeError, in PyTorch's words, for a
    string that names no device type, or one autocast has no dtype for ('meta', 'lazy')."""
    kind = name.split(":", 1)[0]
    if kind in _dtype:
        return kind
    if kind in _KNOWN:
        raise RuntimeError("unsupported scalarType")
    if not name:
        raise RuntimeError("Device string must not be empty")
    raise RuntimeError(f"Expected one of {', '.join(_KNOWN)} device type at start of device "
                       f"string: {name}")


def is_enabled(device_type: str) -> bool:
    return _enabled[device_type]


def set_enabled(device_type: str, enabled: bool) -> None:
    global active
    _enabled[device_type] = bool(enabled)
    active = any(_enabled.values())


@contextlib.contextmanager
def paused():
    """Autocast off for every device type inside the block (an op of the float32 list runs
    its own steps as PyTorch's kernels do, past the autocast layer), the switches as they
    were after it, whatever the block set."""
    global active
    before = dict(_enabled)
    for device_type in _enabled:
        _enabled[device_type] = False
    active = False
    try:
        yield
    finally:
        _enabled.update(before)
        active = any(_enabled.values())


def get_dtype(device_type: str):
    return _dtype[device_type]


def set_dtype(device_type: str, dtype) -> None:
    _dtype[device_type] = dtype


def is_cache_enabled() -> bool:
    return _cache_enabled


def set_cache_enabled(enabled: bool) -> None:
    global _cache_enabled
    _cache_enabled = bool(enabled)


def increment_nesting() -> int:
    global _nesting
    _nesting += 1
    return _nesting


def decrement_nesting() -> int:
    global _nesting
    _nesting -= 1
    return _nesting


def target_for(t):
    """The dtype autocast gives tensor ``t`` in a lower-precision op, or None to leave it.

    Only floating tensors other than float64 are cast (PyTorch leaves float64 and integer
    tensors alone), and only when autocast is on for the device the tensor lives on."""
    kind = t._array.dtype
    if kind.kind not in "fV" or kind.itemsize == 8:
        return None
    device = t.device.type
    if not _enabled.get(device, False):
        return None
    return _dtype[device]


def wants_float32(t) -> bool:
    """True when an op that autocast runs in float32 must widen ``t``: a float16 or bfloat16
    tensor on a device where autocast is on."""
    return t._array.dtype.kind in "fV" and t._array.dtype.itemsize == 2 and \
        _enabled.get(t.device.type, False)
