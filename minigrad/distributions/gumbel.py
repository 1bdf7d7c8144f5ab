"""``torch.distributions.gumbel``'s import path: Gumbel (defined in ``heavy_tailed.py``)."""
from .heavy_tailed import Gumbel

__all__ = ["Gumbel"]
