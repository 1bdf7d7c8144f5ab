"""``torch.distributions.half_normal``'s import path: HalfNormal
(defined in ``heavy_tailed.py``)."""
from .heavy_tailed import HalfNormal

__all__ = ["HalfNormal"]
