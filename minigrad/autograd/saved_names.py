"""What a node saved, by PyTorch's names: ``y.grad_fn._saved_self``, ``_saved_result``,
``_saved_dim``... and ``y.grad_fn._raw_saved_self`` (a ``SavedTensor`` that takes a pair of
hooks of its own: ``.register_hooks(pack, unpack)``).

Each op declares the names next to its forward, as two class attributes of its Function:

* ``saved_names``: one name per value its forward passes to ``save_for_backward``, in that
  order (None for a value PyTorch's node does not show).  ``_saved_<name>`` gives an input
  as that very tensor (``y.grad_fn._saved_self is x`` for a leaf x), the output as a tensor
  equal to it (whose grad_fn is the node), and None for a value the node did not keep (the
  input of a product whose other factor needs no gradient).
* ``saved_fields``: the other values, ``name -> the node's attribute`` (or a function of the
  node): dims, flags, sizes, given as Python ints, bools and tuples.

A tensor read after the graph was freed (a backward without ``retain_graph``) raises
PyTorch's error; the other values stay readable, as in PyTorch.  An unknown name is an
AttributeError.  ``Function.__getattr__`` sends every ``_saved_*`` / ``_raw_saved_*`` look-up
here; nothing else goes through this module.
"""
from __future__ import annotations

import numbers

import numpy as np

from ._saved_hooks import CONST, HOOKED, hook_entry, unpack_hooked

__all__ = ["FREED", "SavedTensor", "saved_attribute", "saved_dir"]

FREED = ("Trying to backward through the graph a second time (or directly access saved "
         "tensors after they have already been freed). Saved intermediate values of the "
         "graph are freed when you call .backward() or autograd.grad(). Specify "
         "retain_graph=True if you need to backward through the graph a second time or if "
         "you need to access saved tensors after calling backward.")

_HOOKS_FREED = ("Calling register_hooks on a saved tensor after it has been freed. Saved "
                "intermediate values of the graph are freed when you call .backward() or "
                "autograd.grad(). Specify retain_graph=True if you need to backward through "
                "the graph a second time or if you need to access saved variables after "
                "calling backward.")


def saved_attribute(node, attr):
    """``node._saved_<name>`` / ``node._raw_saved_<name>`` as the node's class declares it."""
    if attr.startswith("_saved_"):
        name, raw = attr[7:], False
    elif attr.startswith("_raw_saved_"):
        name, raw = attr[11:], True
    else:
        name = None
    cls = type(node)
    if name is not None:
        names = cls.saved_names
        if name in names:
            index = names.index(name)
            return SavedTensor(node, index) if raw else _saved_value(node, index)
        field = None if raw else cls.saved_fields.get(name)
        if field is not None:
            return _plain(getattr(node, field) if isinstance(field, str) else field(node))
        raise AttributeError(f"'{cls.name()}' object has no attribute '{attr}'")
    raise AttributeError(f"'{cls.__name__}' object has no attribute '{attr}'")


def saved_dir(node):
    """The ``_saved_*`` / ``_raw_saved_*`` names the node's class declares (for ``dir``)."""
    cls = type(node)
    tensors = [n for n in cls.saved_names if n is not None]
    return ([f"_saved_{n}" for n in tensors] + [f"_raw_saved_{n}" for n in tensors] +
            [f"_saved_{n}" for n in cls.saved_fields])


def _saved_value(node, index):
    """The value at ``index`` of what the node saved, unpacked as its backward reads it."""
    saved = node.saved_
    if saved is None:
        raise RuntimeError(FREED)
    if node._versions:
        node._check_versions()          # changed in place since: PyTorch's error
    entry = saved[index]
    if node._packed is HOOKED:
        entry = unpack_hooked(entry)
    value = node._unpack(*entry)
    number = getattr(value, "_wrapped_number", None)
    if number:
        # a Python number made an operand (``x * 2``): PyTorch shows it as it wrapped it, a
        # 0-d tensor of the number's own type (int64, float64, bool, complex128), not the
        # operand's dtype it computed in
        n = number[0]
        kind = np.bool_ if isinstance(n, bool) else np.int64 if isinstance(n, int) else \
            np.float64 if isinstance(n, float) else np.complex128
        if kind is not np.int64 or -2 ** 63 <= n < 2 ** 63:
            return type(value)._wrap(np.asarray(n, dtype=kind))
    return value


def _plain(value):
    """numpy integers and tuples of them as Python's, as PyTorch shows a node's fields."""
    if isinstance(value, (tuple, list)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


class SavedTensor:
    """One value a node saved (``grad_fn._raw_saved_<name>``): ``register_hooks(pack,
    unpack)`` passes it through a pack hook now and an unpack hook at each read, as
    ``saved_tensors_hooks`` does for every value saved inside it."""
    __slots__ = ("_node", "_index")

    def __init__(self, node, index):
        self._node, self._index = node, index

    def register_hooks(self, pack_hook, unpack_hook):
        if not (callable(pack_hook) and callable(unpack_hook)):
            raise TypeError("register_hooks(): incompatible function arguments. The following "
                            "argument types are supported:\n    1. (self: SavedTensor, arg0: "
                            "Callable, arg1: Callable) -> None")
        node = self._node
        if node.saved_ is None:
            raise RuntimeError(_HOOKS_FREED)
        kind, value = node.saved_[self._index]
        if kind == CONST and value is None:
            raise RuntimeError("Calling register_hooks on a saved tensor with value None is "
                               "forbidden")
        if not hook_entry(node, self._index, pack_hook, unpack_hook):
            raise RuntimeError("Calling register_hooks on a saved tensor whose hooks have "
                               "already been set. Hint: only one pair of hooks is allowed at "
                               "a time.")
