"""``torch.distributions.inverse_gamma``'s import path: InverseGamma
(defined in ``more_continuous.py``)."""
from .more_continuous import InverseGamma

__all__ = ["InverseGamma"]
