"""The casts autocast inserts at the entry of the ops it covers (see minigrad/_autocast_state.py).

``lower`` is for the ops PyTorch's CPU autocast runs in the reduced dtype (matmul, mm, bmm,
linear, the convolutions and transposed convolutions, addmm, addbmm, baddbmm, prelu,
linalg.vecdot, the contractions of einsum and tensordot, the fused encoder layer); ``widen``
for those it runs in float32 (the losses, reflection and replication pads, the FFTs, cdist,
the 3-d pools, max_unpool, grid_sample, quantiles, trace). Both go through ``cast``, so
gradients flow back to the original dtype. Callers check ``_autocast_state.active`` first, so
these run only inside an autocast region.
"""
from __future__ import annotations

from .. import _autocast_state as state
from ..dtypes import float32
from ..tensor import Tensor
from .elementwise import cast


def lower(*tensors):
    """Each floating (non-float64) tensor in the autocast dtype of its device; others as given."""
    out = []
    for t in tensors:
        target = state.target_for(t) if isinstance(t, Tensor) else None
        out.append(t if target is None else cast(t, target))
    return out


def widen(*tensors):
    """Each float16 tensor in float32 (on a device where autocast is on); others as given."""
    return [cast(t, float32) if isinstance(t, Tensor) and state.wants_float32(t) else t
            for t in tensors]
