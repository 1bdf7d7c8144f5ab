"""The older spellings ``minigrad.cuda.amp`` and ``minigrad.cpu.amp``: thin subclasses of
``minigrad.amp.autocast`` / ``GradScaler`` with the device fixed, warning (FutureWarning)
that ``minigrad.amp`` is the current name, as PyTorch does."""
from __future__ import annotations

import types

from .._warn_once import warn_user
from ..dtypes import bfloat16, float16
from .autocast_mode import autocast, custom_bwd, custom_fwd
from .grad_scaler import GradScaler

__all__ = ["cuda_amp", "cpu_amp"]


def _deprecated(old, device):
    warn_user(f"`{old}(args...)` is deprecated. Please use `minigrad.amp.{old.split('.')[-1]}"
              f"('{device}', args...)` instead.", FutureWarning)


class CudaAutocast(autocast):
    """``minigrad.cuda.amp.autocast(enabled=True, dtype=float16, cache_enabled=True)``."""

    def __init__(self, enabled: bool = True, dtype=float16, cache_enabled: bool = True):
        _deprecated("minigrad.cuda.amp.autocast", "cuda")
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class CpuAutocast(autocast):
    """``minigrad.cpu.amp.autocast(enabled=True, dtype=bfloat16, cache_enabled=True)``."""

    def __init__(self, enabled: bool = True, dtype=bfloat16, cache_enabled: bool = True):
        _deprecated("minigrad.cpu.amp.autocast", "cpu")
        super().__init__("cpu", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class CudaGradScaler(GradScaler):
    """``minigrad.cuda.amp.GradScaler(init_scale, growth_factor, backoff_factor,
    growth_interval, enabled)``: GradScaler('cuda', ...)."""

    def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000,
                 enabled: bool = True) -> None:
        _deprecated("minigrad.cuda.amp.GradScaler", "cuda")
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval,
                         enabled)


class CpuGradScaler(GradScaler):
    """``minigrad.cpu.amp.GradScaler(...)``: GradScaler('cpu', ...)."""

    def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000,
                 enabled: bool = True) -> None:
        _deprecated("minigrad.cpu.amp.GradScaler", "cpu")
        super().__init__("cpu", init_scale, growth_factor, backoff_factor, growth_interval,
                         enabled)


CudaAutocast.__name__ = CpuAutocast.__name__ = "autocast"
CudaAutocast.__qualname__ = CpuAutocast.__qualname__ = "autocast"
CudaGradScaler.__name__ = CpuGradScaler.__name__ = "GradScaler"
CudaGradScaler.__qualname__ = CpuGradScaler.__qualname__ = "GradScaler"



def _module(name, doc, **members):
    """A module object for an old import path (``from minigrad.cuda.amp import GradScaler``
    works once minigrad/cuda.py lists it in sys.modules)."""
    module = types.ModuleType(name, doc)
    module.__dict__.update(members)
    return module


cuda_amp = _module("minigrad.cuda.amp", "Old spellings of minigrad.amp for 'cuda'.",
                   autocast=CudaAutocast, GradScaler=CudaGradScaler, custom_fwd=custom_fwd,
                   custom_bwd=custom_bwd)
cpu_amp = _module("minigrad.cpu.amp", "Old spellings of minigrad.amp for 'cpu'.",
                  autocast=CpuAutocast, GradScaler=CpuGradScaler)
