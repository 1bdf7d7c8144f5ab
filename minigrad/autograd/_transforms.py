"""Which of torch.func's transforms are running the user's function now (per thread).

minigrad computes ``grad``, ``vmap``, ``jvp``, ``jacrev``... with reverse mode and loops
(``func.py``, ``_vmap.py``, ``autograd/functional.py``), so it needs none of PyTorch's
functorch machinery; but a custom ``Function`` that PyTorch would refuse inside a transform
(no ``setup_context``, no ``vmap`` rule, no ``jvp``) must be refused here too. The transforms
count themselves in with ``inside_transform``; ``_function_ctx._check_transforms`` reads the
counts.

Separate from ``function.py``: it is state about the caller, not about a node, and the
transforms (layer 5 and up) set it without touching the node class.
"""
from __future__ import annotations

import contextlib
import threading


class _Transforms(threading.local):
    """How many of torch.func's transforms are running the user's function now, by kind
    (minigrad computes them with reverse mode and loops, but a custom Function is refused
    where PyTorch's would be: ``_check_transforms``)."""
    functorch = 0   # any of grad, vjp, jvp, jacrev, jacfwd, hessian, vmap
    vmap = 0        # those that run the function batched in PyTorch: vmap, jacfwd, hessian
    forward = 0     # those that differentiate in forward mode there: jvp, jacfwd, hessian


transforms = _Transforms()


@contextlib.contextmanager
def inside_transform(*kinds):
    """Count a transform of the given ``kinds`` (``_Transforms``' fields) as running."""
    for kind in kinds:
        setattr(transforms, kind, getattr(transforms, kind) + 1)
    try:
        yield
    finally:
        for kind in kinds:
            setattr(transforms, kind, getattr(transforms, kind) - 1)
