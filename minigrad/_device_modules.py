"""``torch.get_device_module``: the ``minigrad.<type>`` module of a device type (cpu, cuda,
mps, xpu, mtia), for code that calls ``get_device_module(device).synchronize()`` and the like
without naming the backend.
"""
from __future__ import annotations

from . import accelerator, cpu, cuda, mps, mtia, xpu
from .backend import Device

__all__ = ["get_device_module"]

_MODULES = {"cpu": cpu, "cuda": cuda, "mps": mps, "xpu": xpu, "mtia": mtia}


def get_device_module(device=None):
    """The module of ``device`` (a ``minigrad.device``, a string such as 'cuda:0', or None for
    the current accelerator, the CPU when there is none)."""
    if isinstance(device, Device):
        kind = device.type
    elif isinstance(device, str):
        kind = device.split(":", 1)[0]
        if kind not in ("mps", "xpu", "mtia"):   # device types minigrad.device does not take
            kind = Device(device).type          # read (or refused) as minigrad.device reads it
    elif device is None:
        current = accelerator.current_accelerator()
        kind = "cpu" if current is None else current.type
    else:
        raise RuntimeError(f"Invalid value of device '{device}', expect torch.device, str, or "
                           f"None")
    if kind not in _MODULES:
        raise RuntimeError(f"Device '{kind}' does not have a corresponding module registered as "
                           f"'torch.{kind}'.")
    return _MODULES[kind]
