"""``Tensor.grad_dtype``: the dtype a leaf's gradients are given before its ``.grad`` and its
hooks see them.

By default it reads as the tensor's own dtype (the backward pass casts a leaf's gradient to
it, as it always has). A leaf may be given another dtype (its gradients are then cast to
that one: a float32 parameter can keep a float64 or bfloat16 ``.grad``) or ``None`` (no cast
at all: ``.grad`` takes whatever dtype arrives). Only leaves have one: reading or setting it
on a tensor that has a ``grad_fn`` is refused, and a new dtype is refused while a gradient of
another dtype is held. It belongs to the tensor object alone: ``detach()``, copies, pickles
and loads read the default again.

The values set are kept apart from the tensors (``_CHOSEN``, by id, each entry dropped when
its tensor dies), so that a tensor nobody gave one costs nothing, and the backward pass asks
only while some tensor has one.
"""
from __future__ import annotations

import weakref

from . import dtypes
from ._type_names import python_type_name

__all__ = ["chosen_grad_dtype", "cast_to_chosen", "check_assigned_dtype", "grad_dtype_property",
           "NOT_CHOSEN"]

NOT_CHOSEN = object()           # the tensor's grad_dtype is its dtype (nothing was set)
_CHOSEN = {}                    # id(tensor) -> (weak reference, the dtype set or None)


def chosen_grad_dtype(t):
    """The ``grad_dtype`` set on ``t`` (a DType, or None for "any"), or ``NOT_CHOSEN``."""
    entry = _CHOSEN.get(id(t))
    if entry is None or entry[0]() is not t:
        return NOT_CHOSEN
    return entry[1]


def _forget(key):
    def drop(_ref):
        entry = _CHOSEN.get(key)
        if entry is not None and entry[0] is _ref:
            del _CHOSEN[key]
    return drop


def _get(self):
    if self.grad_fn is not None:
        raise RuntimeError("grad_dtype can only be accessed on leaf tensors.")
    chosen = chosen_grad_dtype(self)
    return self.dtype if chosen is NOT_CHOSEN else chosen


def _set(self, value):
    if self.grad_fn is not None:
        raise RuntimeError("grad_dtype can only be set on leaf tensors.")
    if value is not None and not isinstance(value, dtypes.DType):
        raise RuntimeError(f"grad_dtype must be a torch.dtype or None, but got "
                           f"{python_type_name(value)}")
    held = self._grad
    if value is not None and held is not None and held._array.dtype != value.np:
        raise RuntimeError(
            f"Cannot set grad_dtype to '{dtypes.scalar_type_name(value.np)}' because there is "
            f"already a gradient with dtype '{dtypes.c_type_name(held._array.dtype)}'. Please "
            f"clear the gradient (.grad = None) before changing grad_dtype, or ensure the new "
            f"grad_dtype matches the existing gradient's dtype.")
    key = id(self)
    _CHOSEN[key] = (weakref.ref(self, _forget(key)), value)


def check_assigned_dtype(t, dtype):
    """``t.grad = g`` with g of numpy dtype ``dtype`` (not t's own): refused unless t's
    grad_dtype is that dtype or None, in PyTorch's words."""
    want = chosen_grad_dtype(t)
    want = t.dtype if want is NOT_CHOSEN else want
    if want is not None and dtype != want.np:
        raise RuntimeError(
            f"attempting to assign a gradient with dtype '{dtypes.c_type_name(dtype)}' to a "
            f"tensor with grad_dtype '{dtypes.scalar_type_name(want.np)}'. The gradient must "
            "match the tensor's grad_dtype (defaults to the tensor's dtype). You can set the "
            "tensor's grad_dtype attribute with a specific dtype, or None to allow any dtype. "
            "Set grad_dtype with caution. Diverging the dtypes of a tensor and its gradient "
            "may break downstream systems that assume they match.")


# Tensor's ``grad_dtype`` (tensor.py sets it in the class)
grad_dtype_property = property(_get, _set, doc=(
    "The dtype that gradients reaching this leaf are cast to before ``.grad`` (and the "
    "tensor's hooks) get them: the tensor's dtype unless set; None lets any dtype through. "
    "Leaves only."))


def cast_to_chosen(leaf, g):
    """``g``, a gradient reaching ``leaf``, cast to the ``grad_dtype`` set on it (recorded
    when the pass builds a graph); as it is where none was set, or None was."""
    chosen = chosen_grad_dtype(leaf)
    if chosen is NOT_CHOSEN or chosen is None or g is None or g.is_sparse or \
            g._array.dtype == chosen.np:
        return g
    return g.to(chosen)
