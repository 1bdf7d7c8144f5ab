"""``torch.distributions.fishersnedecor``'s import path: FisherSnedecor
(defined in ``more_continuous.py``)."""
from .more_continuous import FisherSnedecor

__all__ = ["FisherSnedecor"]
