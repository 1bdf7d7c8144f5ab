"""``AccumulateGrad``: the graph node that stands for a leaf tensor.

A leaf (a tensor that requires grad and was made by no op) has no ``grad_fn``; the engine
sends its gradient to the leaf itself and adds it into ``.grad``. PyTorch shows that step as
an ``AccumulateGrad`` node in ``next_functions``, one per leaf, with hooks of its own
(``register_prehook``, ``register_hook``, which gradient bucketing relies on). This is that
node: made on first look-up and kept on the leaf, so ``is`` comparisons hold.

Separate from ``function.py`` because it is not a ``Function``: it has no forward, no saved
values and no backward of its own (the engine, ``engine.py``, does the accumulating).
"""
from __future__ import annotations

from collections import OrderedDict

from .._hooks import RemovableHandle


class AccumulateGrad:
    """The node that adds a gradient into a leaf tensor's ``.grad`` (seen in next_functions).
    One per leaf, made on first use, so ``is`` comparisons work as in PyTorch."""
    __slots__ = ("variable", "_node_pre_hooks", "_post_hooks", "_metadata", "__weakref__")

    @staticmethod
    def of(leaf):
        node = leaf.__dict__.get("_accumulate_node")
        if node is None:
            node = AccumulateGrad()
            node.variable = leaf
            leaf.__dict__["_accumulate_node"] = node
        return node

    def _sequence_nr(self):
        """The largest number (PyTorch's UINT64_MAX): a leaf's gradient is accumulated as soon
        as it is complete, before any other ready node runs."""
        return 2 ** 64 - 1

    def name(self):
        return "torch::autograd::AccumulateGrad"     # PyTorch's C++ node name, namespace too

    @property
    def next_functions(self):
        return ()

    @property
    def metadata(self):
        """A dict for the user's own notes about this node (empty at first)."""
        if getattr(self, "_metadata", None) is None:
            self._metadata = {}
        return self._metadata

    def register_prehook(self, hook):
        """``hook((grad,))`` before the gradient is added into ``.grad`` (after the leaf's
        tensor hooks); may return a replacement ``(grad,)``."""
        return self._add_hook("_node_pre_hooks", hook)

    def register_hook(self, hook):
        """``hook((), (grad,))`` after the gradient was added into ``.grad`` (the call
        gradient-bucketing code waits for); what it returns is ignored."""
        return self._add_hook("_post_hooks", hook)

    def _add_hook(self, slot, hook):
        """Add ``hook`` to the OrderedDict in ``slot`` (made on first use); its handle."""
        hooks = getattr(self, slot, None)
        if hooks is None:
            hooks = OrderedDict()
            setattr(self, slot, hooks)
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def __repr__(self):
        return f"<AccumulateGrad object at {hex(id(self))}>"
