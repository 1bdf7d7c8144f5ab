"""Argument checks shared by the optimizers, with PyTorch's ValueError messages."""
from __future__ import annotations

__all__ = ["check_non_negative", "check_betas"]


def check_non_negative(**values):
    """Raise ``ValueError("Invalid <what>: <value>")`` for the first negative value; the keyword
    names the quantity as the message spells it ('lr' -> 'learning rate', 'eps' -> 'epsilon
    value', anything else -> '<name> value')."""
    for name, value in values.items():
        if not 0.0 <= value:
            what = {"lr": "learning rate", "eps": "epsilon value"}.get(name, f"{name} value")
            raise ValueError(f"Invalid {what}: {value}")


def check_betas(betas):
    """Both Adam-style averaging coefficients must lie in [0, 1)."""
    for i in (0, 1):
        if not 0.0 <= betas[i] < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {betas[i]}")
