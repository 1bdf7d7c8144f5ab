"""The in-place activations and dropouts PyTorch exports at the top level: ``torch.celu_``,
``torch.selu_``, ``torch.dropout_(input, p, train)``, ``alpha_dropout_``,
``feature_alpha_dropout_`` and ``feature_dropout_`` (whole channels: one draw per (sample,
channel) of an (N, C, *) input, shared by its other dimensions).

Each computes the out-of-place form in ``functional`` and writes the result back into
``input`` through ``ops.inplace_pointwise.run_inplace`` (version counter, views, the refusal
of a leaf that requires grad, and a snapshot of the old value for what backward saved).
Without ``train`` (or with p = 0) a dropout returns ``input`` as it is.  As PyTorch's top-level functions, a ``p`` outside [0, 1] is a RuntimeError.
"""
from __future__ import annotations

from ..ops.inplace_pointwise import run_inplace
from . import functional as F

__all__ = ["celu_", "selu_", "dropout_", "alpha_dropout_", "feature_alpha_dropout_",
           "feature_dropout_"]


def celu_(input, alpha=1.0):
    """In place: max(0, x) + min(0, alpha (exp(x / alpha) - 1))."""
    return run_inplace(input, F.celu, (alpha,), {}, "celu_")


def selu_(input):
    """In place: scale (max(0, x) + min(0, alpha (exp(x) - 1))), PyTorch's SELU constants."""
    return run_inplace(input, F.selu, (), {}, "selu_")


def _check(p):
    if not 0.0 <= p <= 1.0:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {p}")


def _check_features(input):
    if input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")


def dropout_(input, p, train):
    """Zero each element with probability p and scale the rest by 1 / (1 - p), in place."""
    _check(p)
    if not train or p == 0.0:
        return input
    return run_inplace(input, F.dropout, (p, True), {}, "dropout_")


def alpha_dropout_(input, p, train):
    """Alpha dropout (keeps a SELU network's mean and variance), element by element, in place."""
    _check(p)
    if not train or p == 0.0:
        return input
    return run_inplace(input, F.alpha_dropout, (p, True), {}, "alpha_dropout_")


def feature_alpha_dropout_(input, p, train):
    """Alpha dropout of whole channels of an (N, C, *) input, in place."""
    _check(p)
    if train:
        _check_features(input)
    if not train or p == 0.0:
        return input
    return run_inplace(input, F.feature_alpha_dropout, (p, True), {}, "feature_alpha_dropout_")


def _feature_dropout(x, p):
    """x with whole channels zeroed (noise shape (N, C, 1, ...)), the rest scaled 1 / (1 - p)."""
    if p == 1.0:
        return x * 0.0
    return F._masked(x, tuple(x.shape[:2]) + (1,) * (x.ndim - 2), p)


def feature_dropout_(input, p, train):
    """Dropout of whole channels of an (N, C, *) input, in place."""
    _check(p)
    if train:
        _check_features(input)
    if not train or p == 0.0:
        return input
    return run_inplace(input, _feature_dropout, (p,), {}, "feature_dropout_")
