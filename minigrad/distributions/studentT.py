"""``torch.distributions.studentT``'s import path: StudentT (defined in ``heavy_tailed.py``)."""
from .heavy_tailed import StudentT

__all__ = ["StudentT"]
