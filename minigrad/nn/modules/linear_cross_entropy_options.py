"""``torch.nn.modules.linear_cross_entropy_options``'s import path: LinearCrossEntropyOptions
(defined beside ``F.linear_cross_entropy`` in ``nn/_functional_linear_ce.py``)."""
from .._functional_linear_ce import LinearCrossEntropyOptions

__all__ = ["LinearCrossEntropyOptions"]
