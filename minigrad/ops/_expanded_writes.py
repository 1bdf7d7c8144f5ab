"""Writes into an expanded tensor (stride 0: several elements on one memory location), which
PyTorch makes for a few in-place ops (``fill_``, ``masked_fill_``, ``index_fill_``,
``index_put_`` and the advanced-index assignments made of them) element by element, the last
write to a location winning, with a deprecation warning for the indexed ones; every other
in-place op refuses such a tensor (``writes.refuse_write``).
"""
from __future__ import annotations

from .._warn_once import warn_user
from .. import backend
from ..autograd import is_grad_enabled
from .writes import _positions, _real_base

__all__ = ["write_expanded"]


def write_expanded(t, select, values, accumulate=False, op=None):
    """A write of ``values`` (a number or an array broadcasting to ``t[select]``) at the
    elements ``t[select]`` (a numpy index) of an expanded view, which PyTorch makes element
    by element (masked_fill_, index_fill_, index_put_: a memory location written more than
    once keeps the last value; with ``accumulate`` each value is added), into the base's
    memory.  Done, and True, only for such a view with nothing to record; ``op``: the name
    (or names, one warning each) PyTorch's deprecation warning gives the write."""
    a = t._array
    if a.flags.writeable or not any(st == 0 and n > 1 for st, n in zip(a.strides, a.shape)):
        return False
    if is_grad_enabled() and t.requires_grad:
        return False
    base = _real_base(t)
    if base is None or not base._array.flags.writeable:
        return False
    for name in (op,) if isinstance(op, str) else op or ():
        example = "tensor[mask] = scalar" if name in ("masked_fill_", "index_fill_") else \
            "tensor[indices] = tensor"
        warn_user(f"Use of {name} on expanded tensors is deprecated. Please clone() the "
                  f"tensor before performing this operation. This also applies to advanced "
                  f"indexing e.g. {example}", UserWarning)
    xp = backend.xp_of(a)
    positions = _positions(t, base)[select]
    values = xp.broadcast_to(xp.asarray(values, dtype=base._array.dtype), positions.shape)
    target = base._array.reshape(1) if base._array.ndim == 0 else base._array
    where = xp.unravel_index(positions.reshape(-1), target.shape)
    if accumulate:
        backend.index_add(target, where, values.reshape(-1))
    else:
        target[where] = values.reshape(-1)
    t._vcounter.value += 1
    return True
