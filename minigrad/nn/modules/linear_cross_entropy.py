"""``torch.nn.modules.linear_cross_entropy``'s import path.  PyTorch keeps its chunked
``linear_cross_entropy`` machinery there and exports nothing (``__all__`` is empty); minigrad
computes the unchunked formula (``nn/_functional_linear_ce.py``).  ``LinearCrossEntropyLoss``,
defined in ``loss.py`` as PyTorch's, stays importable from here, its former home."""
from .loss import LinearCrossEntropyLoss  # noqa: F401

__all__ = []
