"""``torch.distributions.weibull``'s import path: Weibull (defined in ``weibull_pareto.py``)."""
from .weibull_pareto import Weibull

__all__ = ["Weibull"]
