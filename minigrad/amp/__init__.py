"""``minigrad.amp``: automatic mixed precision.

    autocast          regions where matmul/linear/conv run in bfloat16/float16 (autocast_mode.py)
    GradScaler        loss scaling that skips steps with inf/nan gradients (grad_scaler.py)
    custom_fwd/bwd    decorators for custom Functions under autocast

See docs/training.md, "Mixed precision", for the loop and for what differs from PyTorch
(CUDA autocast is float16 only: cupy has no bfloat16).
"""
from .autocast_mode import autocast, custom_bwd, custom_fwd, is_autocast_available  # noqa: F401
from .grad_scaler import GradScaler  # noqa: F401
from . import autocast_mode, grad_scaler  # noqa: F401

__all__ = ["autocast", "GradScaler", "custom_fwd", "custom_bwd", "is_autocast_available"]
