"""``torch.distributions.chi2``'s import path: Chi2 (defined in ``heavy_tailed.py``)."""
from .heavy_tailed import Chi2

__all__ = ["Chi2"]
