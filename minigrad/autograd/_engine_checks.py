"""What the backward engine (``engine.py``) checks: a node's gradients against its inputs'
shapes, what hooks return (PyTorch's errors, in its words), and in anomaly mode a NaN
gradient (naming the op and where its forward was called)."""
from __future__ import annotations

import os
import traceback

from .._warn_once import warn_user
from .. import backend
from ..tensor import Tensor


def _expands_to(shape, target):
    """Whether a tensor of ``shape`` broadcasts to ``target`` (so a gradient of ``target``'s
    shape can be summed down to it)."""
    extra = len(target) - len(shape)
    return extra >= 0 and all(n == 1 or n == m for n, m in zip(shape, target[extra:]))


def _check_hook_count(hook, values, expected):
    """Refuse a node hook's replacement values of the wrong count, in PyTorch's words."""
    if values is not None and len(values) != expected:
        name = getattr(hook, "__name__", type(hook).__name__)
        raise RuntimeError(f"hook '{name}' has returned an incorrect number of values (got "
                           f"{len(values)}, but expected {expected})")


def _checked_node_hook_result(hook, grads, new):
    """A node hook's replacement for ``grads`` (a list of Tensors or None), checked as
    PyTorch: a tuple of the same length whose entries are None or Tensors like the ones they
    replace (a gradient that was None may not be given a value)."""
    if not isinstance(new, tuple):
        raise TypeError(f"expected tuple, but hook returned '{type(new).__name__}'")
    _check_hook_count(hook, new, len(grads))
    for old, value in zip(grads, new):
        if value is None:
            continue
        _checked_hook_result(hook, old, value)      # (None replaced, then the type: PyTorch's)
    return list(new)


def _checked_hook_result(hook, grad, new):
    """What a tensor hook returned, checked as PyTorch: None keeps ``grad``; a replacement
    must be a Tensor of ``grad``'s shape and dtype."""
    if new is None:
        return grad
    if grad is None:        # the hook was called with None: no gradient came
        raise RuntimeError("can't replace a None gradient with a non-None value")
    name = getattr(hook, "__name__", type(hook).__name__)
    if not isinstance(new, Tensor):
        raise TypeError(f"expected Variable, but hook returned '{type(new).__name__}'")
    if new._array.dtype != grad._array.dtype or new.is_sparse != grad.is_sparse:
        raise RuntimeError(f"hook '{name}' has changed the type of value (was "
                           f"{grad.type()} got {new.type()})")
    if tuple(new.shape) != tuple(grad.shape):
        raise RuntimeError(f"hook '{name}' has changed the size of value (was "
                           f"{list(grad.shape)} got {list(new.shape)})")
    return new


# ----------------------------------------------------------------------------------------------
# Anomaly detection: name the op whose backward produced a NaN.
# ----------------------------------------------------------------------------------------------
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _user_frame(stack):
    """The innermost frame of ``stack`` outside the minigrad package: the user's call."""
    for frame in reversed(stack):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return frame
    return None


def _warn_failed_node(node):
    """Anomaly mode's warning for a node whose backward raised: where its forward was called
    (the user's frames of the stack recorded then), or that nothing was recorded."""
    stack = getattr(node, "_trace", None)
    if stack:
        frames = [f for f in stack if not os.path.abspath(f.filename).startswith(_PACKAGE_DIR)]
        body = ("Traceback of forward call that caused the error:\n" +
                "".join(traceback.format_list(frames)))
    else:
        body = ("No forward pass information available. Enable detect anomaly during forward "
                "pass for more information.")
    warn_user(f"Error detected in {node.name()}. {body}", UserWarning)


def _check_anomaly(node, grads):
    for i, g in enumerate(grads):
        if g is None or g.is_sparse:
            continue
        g = g._array
        if getattr(g, "dtype", None) is None or g.dtype.kind not in "fcV":
            continue
        xp = backend.xp_of(g)
        # only NaN is an anomaly: an infinite gradient (sqrt at 0, a loss scaler's overflow)
        # passes, as in PyTorch
        if bool(xp.isnan(g).any()):
            bad = "nan"
            stack = getattr(node, "_trace", None)
            user = _user_frame(stack) if stack else None
            if user is not None:
                site = f"{user.filename}:{user.lineno}, in {user.name}"
                if user.line:
                    site += f"\n    {user.line}"
            else:
                site = ("unknown (the op was created outside detect_anomaly(): build the graph "
                        "inside the context to record its call site)")
            shapes = getattr(node, "_shapes", None)
            inputs = ", ".join(str(s) for s in shapes) if shapes else "unknown"
            meta = getattr(node, "_out_meta", None)
            output = str(tuple(meta[0][0])) if meta else "unknown"
            trace = "".join(traceback.format_list(stack[-8:])) if stack else ""   # innermost
            raise RuntimeError(
                f"Function '{node.name()}' returned {bad} values in its {i}th output.\n"
                f"  it is the gradient for input {i}, of shape {tuple(g.shape)}; the op's input "
                f"shapes: {inputs}; its output shape: {output}\n"
                f"  the op was called in forward at {site}\n"
                + (f"Traceback of forward call that caused the error:\n{trace}" if trace else ""))
