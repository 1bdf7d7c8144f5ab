"""``zero_grad``'s work, shared by ``Optimizer.zero_grad`` and ``Module.zero_grad``."""
from __future__ import annotations

__all__ = ["_zero_grads"]


def _zero_grads(params, set_to_none):
    """Reset each tensor's ``.grad``: to None, or to zeros in place (a new version), taken
    out of any graph first (a grad made with create_graph=True), as PyTorch does."""
    for p in params:
        if p.grad is not None:
            if set_to_none:
                p.grad = None
            else:
                p.grad.grad_fn = None
                p.grad._requires_grad = False
                p.grad._array[...] = 0
                p.grad._vcounter.value += 1
