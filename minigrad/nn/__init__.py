"""``minigrad.nn``: layers (Module, Conv2d, Linear, ...), ``functional`` and ``init``."""
from . import functional  # noqa: F401
