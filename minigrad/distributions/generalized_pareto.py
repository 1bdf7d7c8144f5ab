"""``torch.distributions.generalized_pareto``'s import path: GeneralizedPareto
(defined in ``more_continuous.py``)."""
from .more_continuous import GeneralizedPareto

__all__ = ["GeneralizedPareto"]
