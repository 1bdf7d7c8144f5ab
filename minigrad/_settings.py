"""Global settings PyTorch code calls at the top of a script: ``set_printoptions``,
``set_default_device`` / ``get_default_device``."""
from __future__ import annotations

from . import _formatting, backend

__all__ = ["set_printoptions", "set_default_device", "get_default_device"]

# precision, threshold, line width, edge items
_PROFILES = {"default": (4, 1000, 80, 3), "short": (2, 1000, 80, 2),
             "full": (4, float("inf"), 80, 3)}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """How tensors print: digits after the point, the element count above which they are
    summarised, the line width, the items shown at each edge of a summarised dim, scientific
    notation (True / False, or None to choose by the values); ``profile`` 'default', 'short'
    or 'full' sets the first four."""
    if isinstance(profile, str) and profile in _PROFILES:   # as PyTorch: another sets nothing
        (_formatting.PRECISION, _formatting.THRESHOLD, _formatting.LINE_WIDTH,
         _formatting.EDGE_ITEMS) = _PROFILES[profile]
    if precision is not None:
        _formatting.PRECISION = precision    # (as given: a float fails in the format, as torch)
    if threshold is not None:
        _formatting.THRESHOLD = threshold
    if linewidth is not None:
        _formatting.LINE_WIDTH = int(linewidth)
    if edgeitems is not None:
        _formatting.EDGE_ITEMS = int(edgeitems)
    # as PyTorch: every call sets sci_mode, None (the default) meaning "choose by the values"
    _formatting.SCI_MODE = sci_mode


def set_default_device(device):
    """Where factory functions put new tensors: 'cpu' (or None) or 'meta' (tensors without
    data, see docs/meta_device.md); a GPU is refused with the reason (move tensors with
    ``.to(device)``)."""
    d = backend.device("cpu" if device is None else device)
    backend.check_default_device(d)
    backend.set_default(d)


def get_default_device():
    return backend.default_device
