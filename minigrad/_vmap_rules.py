"""A custom ``autograd.Function``'s own ``vmap`` staticmethod, called under ``vmap``.

PyTorch runs such a Function under vmap by calling ``vmap(info, in_dims, *args)`` instead of
``forward``: the rule gets the batched inputs with their batch dims and returns
``(outputs, out_dims)``. minigrad's vmap runs the function once per example
(``_vmap.py``), so the rule is called once per example, on a batch of one: each tensor
argument the vmap knows to be batched gets a leading dim of size 1 (in_dim 0), the ones it
knows are unbatched (inputs of in_dim None, tensors read from the function's closure,
parameters) are passed as they are (in_dim None), and each output is read back at index 0
of the out_dim the rule named. ``info.batch_size`` is therefore 1; ``info.randomness`` is
the vmap's mode. As in PyTorch, a gradient taken outside the vmap goes through the rule's
ops (the Function records no node then), one taken by a transform inside the vmap through
the Function's ``backward`` (``rule_is_graph``).
"""
from __future__ import annotations

from typing import NamedTuple

from . import _vmap_reads
from .autograd import function as _function
from .autograd._transforms import transforms
from .tensor import Tensor

# vmap's per-thread record of the calls under way (``_vmap._levels``): set by _vmap, which
# imports this module
_vmap_levels = None

__all__ = ["VmapInfo", "forward_by_rule"]


class VmapInfo(NamedTuple):
    """What a vmap rule is told about the running vmap."""
    batch_size: int
    randomness: str


def _unbatched(t, known):
    return id(t) in known or type(t).__name__ == "Parameter"


def rule_is_graph():
    """Whether no torch.func transform runs inside the innermost vmap now. Then PyTorch
    records the ops of the vmap rule in the graph (a gradient taken outside the vmap, by
    ``backward`` or by ``grad(vmap(f))``, goes through them, not through the Function's
    backward); a transform inside the vmap (``vmap(grad(f))``) uses the backward."""
    calls = _vmap_levels.calls
    return bool(calls) and calls[-1][2] == transforms.functorch


def forward_by_rule(cls, args, kwargs):
    """``cls.forward(*args, **kwargs)``'s outputs for one example, computed by the class's
    ``vmap`` staticmethod on a batch of one (see the module)."""
    randomness, known, _ = _vmap_levels.calls[-1] if _vmap_levels.calls else \
        ("error", set(), 0)
    in_dims = tuple(None if not isinstance(a, Tensor) or _unbatched(a, known) else 0
                    for a in args)
    if all(d is None for d in in_dims):     # nothing batched: torch runs forward itself
        return cls.forward(*args, **kwargs)
    batched = tuple(a.unsqueeze(0) if d == 0 else a for a, d in zip(args, in_dims))
    # the rule runs outside the innermost vmap, as in PyTorch (where it runs one level down):
    # a Function it applies, itself among them, runs its forward there
    # (its reads of tensors as Python data are not that vmap's: it sees whole batches)
    calls = _vmap_levels.calls
    _vmap_levels.calls = calls[:-1]
    transforms.vmap -= 1
    transforms.functorch -= 1
    reads = _vmap_reads.set_aside()
    try:
        result = cls.vmap(VmapInfo(1, randomness), in_dims, *batched, **kwargs)
    finally:
        _vmap_levels.calls = calls
        transforms.vmap += 1
        transforms.functorch += 1
        _vmap_reads.put_back(reads)
    if not isinstance(result, tuple) or len(result) != 2:
        raise RuntimeError(f"Expected the vmap staticmethod to have two returns, an output and "
                           f"out_dims with pytree structure compatible with the output. Got "
                           f"{type(result).__name__}")
    outputs, out_dims = result
    single = not isinstance(outputs, tuple)
    outs = (outputs,) if single else outputs
    dims = out_dims if isinstance(out_dims, tuple) else (out_dims,) * len(outs)
    if len(dims) != len(outs):
        raise ValueError(f"vmap({cls.__name__}.apply): expected out_dims to have "
                         f"{len(outs)} entries, one per output, got {len(dims)}")
    picked = tuple(o.select(d, 0) if isinstance(o, Tensor) and d is not None else o
                   for o, d in zip(outs, dims))
    return picked[0] if single else picked


# custom Functions (autograd/_function_ctx.py, below this module) call the rule through these
_function.vmap_rule_is_graph = rule_is_graph
_function.vmap_forward_by_rule = forward_by_rule
