"""``minigrad.cond`` and ``minigrad.while_loop``: PyTorch's structured if/else and loop, run
eagerly.

PyTorch's ``torch.cond`` exists so that a compiler can capture both branches of a
data-dependent branch; minigrad has no compiler, so it simply evaluates the chosen branch.
The branch is ordinary minigrad code, so its result carries a graph and gradients flow.
``while_loop`` likewise runs its body in a Python loop.
"""
from __future__ import annotations

from .tensor import Tensor

__all__ = ["cond", "while_loop"]


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


def _same_metadata(before, after):
    """PyTorch's requirement that the body keep each carried tensor's shape and dtype."""
    for i, (b, a) in enumerate(zip(before, after)):
        if isinstance(b, Tensor) and isinstance(a, Tensor):
            for what, x, y in (("shape", a.shape, b.shape), ("dtype", a.dtype, b.dtype)):
                if x != y:
                    raise RuntimeError(f"Expected body_fn_output and carried_inputs to have "
                                       f"same metadata but found: pair[{i}] differ in "
                                       f"'{what}: {x} vs {y}'")


def while_loop(cond_fn, body_fn, carried_inputs):
    """``val = carried_inputs``; while ``cond_fn(*val)``: ``val = body_fn(*val)``; returns
    ``val`` as a tuple.  cond_fn gives a bool or a one-element tensor; body_fn a tuple as long
    as carried_inputs, each tensor keeping its shape and dtype (ints may change)."""
    if not (callable(cond_fn) and callable(body_fn)):
        raise RuntimeError("Expect cond_fn and body_fn to be callable.")
    values = tuple(carried_inputs)
    while True:
        keep_going = cond_fn(*values)
        if isinstance(keep_going, Tensor) and keep_going.numel() != 1:
            raise RuntimeError(f"torch.while_loop: unsupported cond_fn return type: expected a "
                               f"boolean scalar tensor or a bool, got a tensor of shape "
                               f"{list(keep_going.shape)}")
        if not keep_going:
            return values
        out = tuple(body_fn(*values))
        if len(out) != len(values):
            raise RuntimeError(f"torch.while_loop: body_fn returned {len(out)} values for "
                               f"{len(values)} carried inputs")
        _same_metadata(values, out)
        values = out
