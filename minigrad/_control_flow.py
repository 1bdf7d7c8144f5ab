"""``minigrad.cond``: PyTorch's structured if/else, run eagerly.

PyTorch's ``torch.cond`` exists so that a compiler can capture both branches of a
data-dependent branch; minigrad has no compiler, so it simply evaluates the chosen branch.
The branch is ordinary minigrad code, so its result carries a graph and gradients flow.
"""
from __future__ import annotations

from .tensor import Tensor

__all__ = ["cond"]


def cond(pred, true_fn, false_fn, operands=()):
    """``true_fn(*operands)`` if ``pred`` else ``false_fn(*operands)``.

    pred: a Python bool/int/float, or a tensor of exactly one element (any shape, any
    dtype; its truth value decides). operands: a tuple or list of arguments for the branch.
    """
    if isinstance(pred, Tensor):
        if pred.numel() != 1:
            raise RuntimeError(f"Expected pred to be bool or single-element tensor, but got "
                               f"{pred}.")
        take_true = bool(pred.item())
    elif isinstance(pred, (bool, int, float)):
        take_true = bool(pred)
    else:
        raise RuntimeError(f"Expected pred to be bool or tensor, but got {pred}.")
    branch = true_fn if take_true else false_fn
    return branch(*operands)
