"""``torch.distributions.cauchy``'s import path: Cauchy (defined in ``heavy_tailed.py``)."""
from .heavy_tailed import Cauchy

__all__ = ["Cauchy"]
