"""Views and their bases: which tensor a view's memory belongs to, and how it was made.

``link_view`` makes a tensor a view of another (shared version counter, the root base) and
lists it, weakly, with its base (``_LiveViews``), so that a recorded in-place write through the
base or any view can give the other views a new history (``ops/writes.py``). A view made with
grad mode off (or in inference mode, or of such a view) is marked with the constants below,
PyTorch's view "creation meta", so that writing into it in place is refused with PyTorch's
error and its stale history is caught (``_checked_view.py``).

Separate from ``function.py``: ``Function.apply`` calls ``link_view`` for ops that return a
view, but the bookkeeping itself is about tensors sharing memory, not about graph nodes (the
custom-Function path, ``ops/_view_dtype.py`` and ``ops/writes.py`` use it too).
"""
from __future__ import annotations

import weakref

from .._checked_view import check_history
from .._tensor_base import _INFERENCE
from .grad_mode import _state

_weakref = weakref.ref


def link_view(view, source):
    """Make ``view`` (whose array shares ``source``'s memory) a view: it shares the version
    counter and names the root base (with grad mode off, a view of a tensor that requires
    grad requires grad too, as in PyTorch).  A view made with grad mode on is also listed (weakly)
    by its base: a recorded in-place write through the base or one of its views gives every
    other listed view a new history read from the base (``ops/writes.py``), so that a
    gradient through it sees the write, as PyTorch regenerates a view's ``grad_fn``."""
    base = source if source._base is None else source._base
    view._vcounter = source._vcounter
    view._base = base
    if _state.enabled:
        attrs = base.__dict__
        views = attrs.get("_views")
        if views is None:
            views = attrs["_views"] = _LiveViews()
        refs = views.refs           # (``_LiveViews.add``, inline: one call less per view)
        refs[id(view)] = _weakref(view)
        if len(refs) > views.limit:
            views.sweep()
        # a view of a view that may not be written in place (see ops/writes.py) may not be
        # either; it is named by its own node
        meta = source.__dict__.get("_view_meta")
        if meta is not None:
            view.__dict__["_view_meta"] = VIEW_OF_REFUSED
            # one of a view made with grad mode off: a later write into the base makes
            # its history stale too (``ops/writes._rebase_views``)
            origin = INFERENCE_VIEW if meta == INFERENCE_VIEW else NO_GRAD_VIEW if \
                meta == NO_GRAD_VIEW else source.__dict__.get("_nograd_origin")
            if origin is not None:
                view.__dict__["_nograd_origin"] = origin
                # as PyTorch: once the memory is written in place after now, its history
                # may not be read (the node it is about to get included)
                check_history(view, source._vcounter.value, origin, True)
    else:
        inference = _state.inference
        if not inference:
            view.__dict__["_view_meta"] = NO_GRAD_VIEW
        if source._requires_grad:
            # as PyTorch: a view made with grad mode off of a tensor that requires grad
            # requires grad too, as a leaf whose gradient goes nowhere (``.grad`` stays None)
            view._requires_grad = True
            attrs = view.__dict__
            attrs["_grad_sink"] = False
            counter = source._vcounter
            if counter is not _INFERENCE:
                # once the memory is written in place after now, reading its grad_fn
                # raises PyTorch's error (``_checked_view.check_history``)
                if inference:
                    attrs["_view_meta"] = INFERENCE_VIEW
                check_history(view, counter.value, INFERENCE_VIEW if inference else
                              NO_GRAD_VIEW)


class _LiveViews:
    """The views of one base, held weakly: iterating gives the live ones (in the order they
    were made), ``len`` counts them. A WeakSet did the same, but its callback ran Python code
    when each view died, and a view of a small tensor (``x[0]``, ``h.view(...)``) paid more
    for its entry than for the rest of its making; here a dead view's entry stays until the
    dict has doubled since the last sweep, which drops them all."""
    __slots__ = ("refs", "limit")

    def __init__(self):
        self.refs = {}          # id(view) -> weakref.ref(view) (an id reused replaces the entry)
        self.limit = 16

    def add(self, view):
        refs = self.refs
        refs[id(view)] = _weakref(view)
        if len(refs) > self.limit:
            self.sweep()

    def sweep(self):
        """Drop the dead views' entries (``add`` calls it when the dict has doubled)."""
        self.refs = refs = {k: r for k, r in self.refs.items() if r() is not None}
        self.limit = max(16, 2 * len(refs))

    def __iter__(self):
        for ref in list(self.refs.values()):
            view = ref()
            if view is not None:
                yield view

    def __len__(self):
        return sum(1 for _ in self)

    def __bool__(self):
        return bool(self.refs)      # (perhaps only dead entries: iterating then gives none)


# what ``Tensor.__dict__["_view_meta"]`` holds where a recorded in-place write to a view is
# refused, as PyTorch's view "creation meta": made under no_grad, a view of such a view, or
# (a tuple (op name, output number)) an output of an op returning several views
NO_GRAD_VIEW = "no_grad"
INFERENCE_VIEW = "inference"        # (made in inference_mode, of a tensor that is not)
VIEW_OF_REFUSED = "view"
