"""``minigrad.signal``: signal processing, as ``torch.signal``; so far its window functions.

    import minigrad.signal
    w = minigrad.signal.windows.hann(8, sym=False)
"""
from . import windows  # noqa: F401

__all__ = ["windows"]
