"""``minigrad.utils``: ``data`` (Dataset, DataLoader, random_split), ``checkpoint``, ``hooks``,
``model_zoo`` (``load_url``), ``_pytree`` (tree_flatten, tree_map, ...), ``dlpack``
(from_dlpack, to_dlpack), ``benchmark`` (Timer, Measurement, Compare) and ``flop_counter``
(FlopCounterMode)."""
from . import data  # noqa: F401
from . import checkpoint, hooks  # noqa: F401
from . import _pytree, model_zoo  # noqa: F401
from . import dlpack, benchmark, flop_counter  # noqa: F401

from ..tensor import Tensor as _Tensor

# the per-tensor fields swapped by swap_tensors (all of Tensor's slots but __weakref__)
_SWAPPED_SLOTS = tuple(s for s in _Tensor.__slots__ if s not in ("__weakref__", "__dict__"))


def swap_tensors(t1, t2):
    """Exchange everything two tensors hold, in place: their data, dtype, shape, autograd state
    (requires_grad, grad, grad_fn, version counter), Python attributes and class (swapping a
    Parameter with a plain tensor makes the plain one the Parameter). Both objects keep their
    identity, so references to them see the swapped contents.

    PyTorch refuses a tensor that other live references or a weak reference point to;
    Python's reference counts do not tell those reliably (minigrad keeps weak references to
    views itself), so minigrad swaps them."""
    for t in (t1, t2):
        if not isinstance(t, _Tensor):
            raise AttributeError(f"'{type(t).__name__}' object has no attribute '_use_count'")
    for slot in _SWAPPED_SLOTS:
        missing = object()
        a, b = getattr(t1, slot, missing), getattr(t2, slot, missing)
        for t, value in ((t1, b), (t2, a)):
            if value is missing:
                if hasattr(t, slot):        # (a slot neither has set stays unset)
                    delattr(t, slot)
            else:
                setattr(t, slot, value)
    d1, d2 = dict(t1.__dict__), dict(t2.__dict__)
    t1.__dict__.clear()
    t1.__dict__.update(d2)
    t2.__dict__.clear()
    t2.__dict__.update(d1)
    t1.__class__, t2.__class__ = t2.__class__, t1.__class__
