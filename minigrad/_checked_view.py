"""Views whose history may go stale, as PyTorch's: a view made with grad mode off of a tensor
that requires grad (and a view taken of one in grad mode), and a view an op returned with
others (split, unbind) once its base was written in place with a graph recorded."""
from __future__ import annotations

import re

from ._grad_state import state as _grad_state
from .tensor import Tensor

__all__ = []


# A view made with grad mode off (``no_grad`` or ``inference_mode``) of a tensor that requires
# grad is a leaf whose gradient goes nowhere; once its base or any view of the base has been
# written in place after it was made, PyTorch refuses to say what its history is: reading
# its ``grad_fn`` (and so using it in a recorded op, or backward through it) raises.  Such a
# view is made a ``_CheckedView`` (``check_history``), whose ``grad_fn`` is a property that
# checks; every other tensor reads its plain slot as before (a ``__getattr__`` or a property
# on Tensor itself would slow down every attribute read of every tensor).
_STALE_TAIL = {
    "no_grad": (" was created in no_grad mode and its base or another view of its base has "
                "been modified inplace with grad mode enabled.", "no_grad"),
    "inference": (" was created in inference mode and its base or another view of its base "
                  "has been modified inplace in normal mode.", "inference_mode"),
}
_SEVERAL_STALE = (" is a view and its base or another view of its base has been modified "
                  "inplace. This view is the output of a function that returns multiple views. "
                  "Such functions do not allow the output views to be modified inplace. You "
                  "should replace the inplace operation by an out-of-place one.")


def stale_view_message(kind, head=None):
    """PyTorch's words for reading the history of a stale view (see ``_STALE_TAIL``); kind
    "several": one of the views an op returned together (split, unbind), or a view of one,
    named by ``head`` ("Output 0 of Split")."""
    if kind == "several":
        return head + _SEVERAL_STALE
    words, block = _STALE_TAIL[kind]
    return ((head or "A view") + words + " Given that this use case is ambiguous and "
            "error-prone, it is forbidden. You can clarify your code by moving both the view "
            f"and the inplace either both inside the {block} block (if you don't want the "
            "inplace to be tracked) or both outside (if you want the inplace to be tracked).")


_GRAD_FN_SLOT = Tensor.__dict__["grad_fn"]      # the slot's own descriptor


class _CheckedView(Tensor):
    """A view whose history may go stale (see ``check_history``); to its user, a Tensor."""
    __slots__ = ()
    _checked_view = True        # (``tensor._plain_type``)

    @property
    def grad_fn(self):
        node = _GRAD_FN_SLOT.__get__(self)
        version, kind, head = self.__dict__["_made_at"]
        if version != -1:
            base = self._base
            if self._vcounter.value == version or base is None or not base._requires_grad:
                return node
        if not _grad_state.enabled:
            # (PyTorch raises here too; but minigrad's own in-place ops read grad_fn around a
            # write made with grad mode off, which PyTorch lets through: as nothing records)
            return node
        if head is True:            # a view taken in grad mode: named by its own node
            head = node_words(self) + " is a view of a view which"
        raise RuntimeError(stale_view_message(kind, head))

    @grad_fn.setter
    def grad_fn(self, node):
        _GRAD_FN_SLOT.__set__(self, node)


_CheckedView.__name__ = _CheckedView.__qualname__ = "Tensor"    # (as type(view) prints)
_CheckedView.__module__ = Tensor.__module__


def raw_grad_fn(t):
    """``t``'s node as stored, without a checked view's check."""
    return _GRAD_FN_SLOT.__get__(t)


def node_words(t):
    """"Output 0 of Slice": how PyTorch names a tensor by the node that made it."""
    name = re.sub(r"Backward\d*$", "", raw_grad_fn(t).name())
    return f"Output {t._output_nr} of {name}"


def check_history(view, version, kind, head=None):
    """From now on, reading ``view.grad_fn`` raises PyTorch's error (``stale_view_message(kind,
    head)``) once ``view``'s version counter is past ``version`` (-1: at once) while its base
    requires grad.  Only a plain Tensor is changed (a subclass's class is its user's)."""
    view.__dict__["_made_at"] = (version, kind, head)
    if type(view) is Tensor:
        view.__class__ = _CheckedView


def uncheck(view):
    """Undo ``check_history``: ``view``'s history may be read whatever is written later (the
    pieces of ``unsafe_split``, which PyTorch does not track)."""
    if view.__dict__.pop("_made_at", None) is not None and type(view) is _CheckedView:
        view.__class__ = Tensor
