"""The machinery behind ``autograd.graph.saved_tensors_hooks``, used by ``function.py``.

A node keeps what forward saved as ``(kind, value)`` pairs: an input (the tensor), its
output (the array and the output slot) or a constant (an array). While a pair of hooks is
active, every pair is stored instead as ``(kind, (pack_hook(tensor), unpack_hook, link))``
and the node's ``_packed`` flag becomes ``HOOKED``; ``saved_tensors`` then calls
``unpack_hook`` and puts the unpacked data back in its place in the graph (``link``), so that
gradients, higher-order ones included, flow as without hooks.
"""
from __future__ import annotations

import threading

from ..tensor import Tensor
from .grad_mode import no_grad

__all__ = ["INPUT", "OUTPUT", "CONST", "HOOKED", "saved_tensors_hooks_state",
           "pack_with_hooks", "hook_entry", "unpack_hooked"]

INPUT, OUTPUT, CONST = 0, 1, 2
HOOKED = "hooked"     # a node's ``_packed`` flag when its saved values went through hooks


class _SavedTensorsHooks(threading.local):
    """The active ``(pack_hook, unpack_hook)`` pairs, innermost last, per thread as in
    PyTorch; ``disabled`` is the error message of an active ``disable_saved_tensors_hooks``.
    ``Function.apply`` reads ``stack`` only when an op saved something: with no hook, one
    attribute look-up."""
    stack = ()
    disabled = None


saved_tensors_hooks_state = _SavedTensorsHooks()


def pack_with_hooks(node):
    """Pass each value ``node`` saved through the innermost pack hook.

    The hook sees a Tensor: an input as itself, the output as a tensor produced by ``node``,
    a saved array as a constant tensor. ``link`` records where the unpacked data belongs:
    the output slot, or the input's place in the graph (its grad_fn and slot, or the leaf
    itself); for a non-leaf input that is all that is kept, not its data.
    """
    pack_hook, unpack_hook = saved_tensors_hooks_state.stack[-1]
    node.saved_ = tuple(_hooked(node, kind, value, pack_hook, unpack_hook)
                        for kind, value in node.saved_)
    node._packed = HOOKED
    # as PyTorch: what the hooks packed is theirs to keep, so later in-place writes to the
    # original tensors are not refused (the values kept by keep_for_backward still are)
    node._versions = [v for v in node._versions or () if not isinstance(v[4], int)] or None


def _hooked(node, kind, value, pack_hook, unpack_hook):
    """One saved ``(kind, value)`` pair in its hooked form (see ``pack_with_hooks``)."""
    if kind == CONST and value is None:
        return kind, value
    if kind == INPUT and getattr(value, "_wrapped_number", False):
        # a Python number made an operand (``x * 0.5``): PyTorch keeps such wrapped numbers
        # away from the hooks (a hook casting what it packs must not round the 0.5)
        return kind, (value, _as_is, None)
    if kind == INPUT:
        if value.grad_fn is not None:
            link = (value.grad_fn, value._output_nr)
        else:
            link = value if value._requires_grad else None
        shown = value
    elif kind == OUTPUT:
        link = value[1]
        shown = Tensor._wrap(value[0], True)
        shown.grad_fn, shown._output_nr = node, link
    else:
        link = None
        shown = Tensor._wrap(value)
    with no_grad():             # as PyTorch: what a pack hook computes is not recorded
        packed = pack_hook(shown)
    return kind, (packed, unpack_hook, link)


def _as_is(t):
    return t


def hook_entry(node, index, pack_hook, unpack_hook):
    """Hooks for one value the node saved (``SavedTensor.register_hooks``): the node's other
    values take the hooked form too, with hooks that change nothing, so that all unpack
    alike.  False when that value already has hooks (its own, or a saved_tensors_hooks
    pair's)."""
    if node._packed is not HOOKED:
        node.saved_ = tuple(_hooked(node, kind, value, _as_is, _as_is)
                            for kind, value in node.saved_)
        node._packed = HOOKED
    kind, (current, unpack_before, link) = node.saved_[index]
    if unpack_before is not _as_is:
        return False
    with no_grad():
        packed = pack_hook(current)
    saved = list(node.saved_)
    saved[index] = (kind, (packed, unpack_hook, link))
    node.saved_ = tuple(saved)
    return True


def unpack_hooked(entry):
    """One saved ``(kind, value)`` pair back from its hooked form, via its unpack hook."""
    kind, value = entry
    if kind == CONST and value is None:
        return entry
    packed, unpack_hook, link = value
    t = unpack_hook(packed)
    if not isinstance(t, Tensor):
        raise TypeError("Output of saved tensor unpack_hook expected to be a Tensor but got "
                        f"result of type {type(t).__name__}")
    if kind == OUTPUT:
        return kind, (t._array, link)
    if kind == CONST:
        return kind, t._array
    if isinstance(link, tuple):
        # a non-leaf input: the unpacked data, reattached to the input's node and slot
        relinked = Tensor._wrap(t._array, True)
        relinked.grad_fn, relinked._output_nr = link
        return kind, relinked
    if link is not None and t is not link:
        # a leaf that requires grad came back as another tensor: its values, with a
        # gradient path to the leaf (the difference is a constant)
        t = link + (t - link).detach()
    return kind, t
