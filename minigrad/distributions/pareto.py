"""``torch.distributions.pareto``'s import path: Pareto (defined in ``weibull_pareto.py``)."""
from .weibull_pareto import Pareto

__all__ = ["Pareto"]
