"""The casts autocast inserts at the entry of the ops it covers (see minigrad/_autocast_state.py).

``lower`` is for the ops PyTorch's CPU autocast runs in the reduced dtype (matmul, mm, bmm,
linear, the convolutions and transposed convolutions, addmm, addbmm, baddbmm, prelu,
linalg.vecdot, the contractions of einsum and tensordot, scaled_dot_product_attention, the
fused encoder layer); ``widen`` for those it runs in float32 (the losses, reflection and
replication pads, the FFTs, cdist, the 3-d pools, max_unpool, grid_sample, quantiles, trace;
local_response_norm widens its window mean, a 3-d pool, itself). Both go through ``cast``,
so gradients flow back to the original dtype. Callers check ``_autocast_state.active``
first, so these run only inside an autocast region.

``in_float32`` wraps a whole op instead (the factorisations and solvers of the float32 list,
polar, view_as_complex, cdist, fractional max pooling): its half-precision arguments
widened, then the op run with autocast paused, so that its own steps (cdist's matmul,
lstsq's) are not lowered again, as PyTorch's kernels run past the autocast layer.
``promote`` is the policy of the few ops PyTorch gives the widest of their input dtypes
(index_copy).
"""
from __future__ import annotations

import functools

from .. import _autocast_state as state
from .._argument_words import restated
from .._parser_emulation import raise_reworded
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


def promote(*tensors):
    """Autocast's 'promote' policy (index_copy; cat and stack promote by themselves): the
    floating tensors other than float64 all in float32 when one of them is float32, else
    in the autocast dtype; others as given."""
    eligible = [t for t in tensors if isinstance(t, Tensor) and state.target_for(t) is not None]
    if not eligible:
        return list(tensors)
    wide = any(t._array.dtype.itemsize == 4 for t in eligible)
    target = float32 if wide else state.target_for(eligible[0])
    return [cast(t, target) if any(t is e for e in eligible) and t.dtype != target else t
            for t in tensors]


def in_float32(op):
    """``op`` run as CPU autocast runs the ops of its float32 list: inside an autocast
    region its half-precision tensor arguments (positional or keyword) are widened to
    float32 and the op runs with autocast paused; outside, it is called as it is."""
    @functools.wraps(op)
    def widened(*args, **kwargs):
        if not state.active:
            try:
                return op(*args, **kwargs)
            except (TypeError, AttributeError) as exc:     # (the parser's words, where it
                raise_reworded(exc, widened, args, kwargs)    # refuses the call)
                error = getattr(exc, "argument", None)
                if error is not None and error.op and error.position is None:
                    # (an argument given by position: the parser names its position too)
                    raise restated(exc, op, args, kwargs, False, error.op) from None
                raise
        args = widen(*args)
        kwargs = {k: widen(v)[0] for k, v in kwargs.items()}
        # the op's own steps (a matmul inside lstsq) run as PyTorch's kernel runs them, past
        # the autocast layer: not lowered again
        with state.paused():
            return op(*args, **kwargs)
    return widened
