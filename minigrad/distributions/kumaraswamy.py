"""``torch.distributions.kumaraswamy``'s import path: Kumaraswamy
(defined in ``more_continuous.py``)."""
from .more_continuous import Kumaraswamy

__all__ = ["Kumaraswamy"]
