"""Reverse-mode automatic differentiation: ``Function``, the backward engine, and grad modes.

How it works, in three sentences.  Every differentiable op is a subclass of ``Function`` whose
``forward`` computes on raw arrays and whose ``backward`` (written right below it) turns the
gradient of the output into one gradient per input.  Calling ``SomeOp.apply(tensors...)`` runs
forward and, when any input requires grad, keeps the ``Function`` object as the output's
``grad_fn``: a node of the graph pointing at its inputs' nodes.  ``backward()`` visits the nodes
in reverse topological order (iteratively: a chain of 100,000 ops is fine) and accumulates
gradients into the leaves' ``.grad``.
"""
from __future__ import annotations

import os
import functools
import threading
import traceback
import weakref

from . import backend, dtypes

__all__ = ["Function", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "backward", "grad", "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled"]


# ----------------------------------------------------------------------------------------------
# Grad mode: a per-thread switch, so one thread's no_grad() does not disturb another's.
# ----------------------------------------------------------------------------------------------
class _GradState(threading.local):
    enabled = True
    anomaly = False          # record each op's forward call site
    anomaly_check_nan = True  # ... and check every backward's gradients for NaN / inf


_state = _GradState()


def is_grad_enabled() -> bool:
    return _state.enabled


def _with_grad_mode(mode, func):
    """``func`` wrapped so that it always runs with gradient recording set to ``mode``."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with set_grad_enabled(mode):
            return func(*args, **kwargs)
    return wrapper


class set_grad_enabled:
    """Turn gradient recording on or off: a function call, a context manager or a decorator."""

    def __init__(self, mode: bool):
        self.prev = _state.enabled
        self.mode = bool(mode)
        _state.enabled = self.mode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _state.enabled = self.prev
        return False

    def __call__(self, func):
        _state.enabled = self.prev   # used as a decorator: do not change the mode now
        return _with_grad_mode(self.mode, func)


class _GradModeContext:
    mode = True

    def __new__(cls, *args, **kwargs):
        # ``@no_grad`` without parentheses decorates the function directly, as in PyTorch.
        self = super().__new__(cls)
        if len(args) == 1 and not kwargs and callable(args[0]):
            self.__init__()
            return self(args[0])
        return self

    def __enter__(self):
        self.prev = _state.enabled
        _state.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _state.enabled = self.prev
        return False

    def __call__(self, func):
        return _with_grad_mode(self.mode, func)


class no_grad(_GradModeContext):
    """Context manager / decorator: ops inside record no graph (for evaluation, weight updates)."""
    mode = False


class enable_grad(_GradModeContext):
    """Context manager / decorator: record the graph again inside a ``no_grad`` block."""
    mode = True


# ----------------------------------------------------------------------------------------------
# Anomaly detection: name the op whose backward produced a NaN or an inf.
# ----------------------------------------------------------------------------------------------
def is_anomaly_enabled() -> bool:
    return _state.anomaly


def is_anomaly_check_nan_enabled() -> bool:
    return _state.anomaly and _state.anomaly_check_nan


class detect_anomaly:
    """Context manager / decorator: inside it, each op remembers where it was called in forward,
    and a backward that produces a NaN or an inf raises an error naming the op, the line of
    user code that called it in forward and the shapes involved (as
    ``torch.autograd.detect_anomaly``)::

        with minigrad.autograd.detect_anomaly():
            y = x.sqrt()            # x contains a 0
            y.sum().backward()      # RuntimeError: Function 'SqrtBackward0' returned inf ...
                                    # ... called in forward at test.py:2 ...

    The graph must be built inside the context (that is when call sites are recorded); the
    check runs for every backward started inside it. ``check_nan=False`` records call sites
    without checking the gradients. It costs a stack walk per op: for debugging only.
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = bool(check_nan)

    def __enter__(self):
        self.prev = (_state.anomaly, _state.anomaly_check_nan)
        _state.anomaly, _state.anomaly_check_nan = True, self.check_nan
        return self

    def __exit__(self, *exc):
        _state.anomaly, _state.anomaly_check_nan = self.prev
        return False

    def __call__(self, func):
        check_nan = self.check_nan

        def wrapper(*args, **kwargs):
            with detect_anomaly(check_nan):
                return func(*args, **kwargs)
        wrapper.__name__ = getattr(func, "__name__", "wrapper")
        wrapper.__doc__ = getattr(func, "__doc__", None)
        wrapper.__wrapped__ = func
        return wrapper


class set_detect_anomaly:
    """``set_detect_anomaly(True)`` turns anomaly mode on (and ``False`` off) from now on, or,
    used as a context manager, for the block only (as PyTorch's)."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self.prev = (_state.anomaly, _state.anomaly_check_nan)
        _state.anomaly, _state.anomaly_check_nan = bool(mode), bool(check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _state.anomaly, _state.anomaly_check_nan = self.prev
        return False


# ----------------------------------------------------------------------------------------------
# Version counters: catch "saved for backward, then modified in place".
# ----------------------------------------------------------------------------------------------
class VersionCounter:
    """Shared by a tensor and its views; every in-place write bumps it."""
    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


def _is_same_memory(saved, array) -> bool:
    """Is ``saved`` the array itself or a numpy/cupy view of the same buffer?"""
    if saved is array:
        return True
    base = getattr(saved, "base", None)
    return base is not None and (base is array or base is getattr(array, "base", None))


# ----------------------------------------------------------------------------------------------
# Function: one differentiable op, forward beside backward.
# ----------------------------------------------------------------------------------------------
class Function:
    """Base class of every differentiable op.

    Subclasses define ``forward(self, *arrays, **params) -> array`` and
    ``backward(self, grad_output) -> gradient or tuple of gradients`` (one per array input,
    ``None`` where an input needs none; ``self.needs_input_grad[i]`` says which are needed).
    ``forward`` keeps what ``backward`` needs with ``self.save_for_backward(...)`` or as plain
    attributes. Call an op with ``MyOp.apply(tensor_a, tensor_b, param=...)``: positional
    arguments are tensors, keyword arguments are hyper-parameters.

    The instance that ran ``forward`` is the graph node: it is the output's ``grad_fn``.
    """
    # Set to True in ops whose output is a view of their first input (reshape, transpose...):
    # the output then shares its version counter with that input.
    returns_view = False

    __slots__ = ("next_functions_", "needs_input_grad", "saved_", "_versions", "_shapes",
                 "_retained", "_trace", "__dict__", "__weakref__")

    # -- what subclasses call -------------------------------------------------------------------
    def save_for_backward(self, *arrays):
        self.saved_ = arrays

    @property
    def saved_tensors(self):
        """The arrays given to ``save_for_backward``, after checking none was modified in place."""
        if self._versions:
            for counter, expected, shape, np_dtype, index in self._versions:
                if counter.value != expected:
                    # formatted only here, on the error path: apply() stays cheap
                    dtype = f"minigrad.{dtypes.from_numpy_dtype(np_dtype).name} "
                    what = f"input {index}" if index >= 0 else "output 0"
                    raise RuntimeError(
                        "one of the variables needed for gradient computation has been modified "
                        f"by an inplace operation: [{dtype}{list(shape)}], which is {what} of "
                        f"{self.name()}, is at version {counter.value}; expected version "
                        f"{expected} instead. Hint: replace the in-place op (x += ..., x[...] = "
                        "..., x.add_(...)) by its out-of-place form (x = x + ...).")
        if self.saved_ is None:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Saved intermediate values of the "
                "graph are freed when you call .backward() or autograd.grad(). Specify "
                "retain_graph=True if you need to backward through the graph a second time or "
                "if you need to access saved tensors after calling backward.")
        return self.saved_

    # -- what users see ----------------------------------------------------------------------------
    @classmethod
    def name(cls) -> str:
        return f"{cls.__name__}Backward0"

    @property
    def next_functions(self):
        """The nodes this one sends gradients to: (grad_fn or AccumulateGrad or None, 0) pairs."""
        out = []
        for edge in self.next_functions_:
            if edge is None or isinstance(edge, Function):
                out.append((edge, 0))
            else:
                out.append((AccumulateGrad(edge), 0))
        return tuple(out)

    def __repr__(self):
        return f"<{self.name()} object at {hex(id(self))}>"

    def register_hook(self, hook):
        raise NotImplementedError("hooks on graph nodes are not supported; use Tensor.register_hook")

    # -- the machinery -----------------------------------------------------------------------------
    @classmethod
    def apply(cls, *inputs, **params):
        """Run ``forward`` on the inputs' arrays; record the node when a gradient is needed."""
        Tensor = _tensor_class or _import_tensor()

        arrays = []
        requires_grad = False
        for t in inputs:
            arrays.append(t._array)
            requires_grad = requires_grad or t.requires_grad
        if len(arrays) > 1:
            _check_same_device(cls, inputs, arrays)

        fn = cls()
        fn.saved_ = ()
        fn._versions = None
        fn._retained = None
        out = fn.forward(*arrays, **params)
        result = Tensor._wrap(out)
        if cls.returns_view:
            result._version = inputs[0]._version
            result._base = inputs[0] if inputs[0]._base is None else inputs[0]._base

        if requires_grad and _state.enabled:
            fn.needs_input_grad = tuple(t.requires_grad for t in inputs)
            fn.next_functions_ = tuple(
                t.grad_fn if t.grad_fn is not None else (t if t.requires_grad else None)
                for t in inputs)
            if fn.saved_:
                fn._record_versions(inputs, result)
            fn._shapes = None
            # The output's (shape, dtype), for tools that draw the graph (minigrad.viz): the
            # nodes keep no reference to their output, so this is all they know of it.
            fn._out_meta = (result._array.shape, result._array.dtype)
            if _state.anomaly:
                fn._trace = traceback.extract_stack()[:-1]   # formatted only if needed
                fn._shapes = [tuple(a.shape) for a in arrays]
            result.requires_grad = True
            result.grad_fn = fn
        return result

    def _record_versions(self, inputs, result):
        versions = []
        for saved in self.saved_:
            if saved is None or not hasattr(saved, "shape"):
                continue
            for i, t in enumerate(inputs):
                a = t._array
                if _is_same_memory(saved, a):
                    versions.append((t._version, t._version.value, a.shape, a.dtype, i))
                    break
            else:
                a = result._array
                if _is_same_memory(saved, a):
                    versions.append((result._version, result._version.value, a.shape, a.dtype,
                                     -1))
        self._versions = versions

    def _release(self):
        """Free the arrays forward saved (after a backward without retain_graph).

        Like PyTorch, a node that saved no array (an addition, say) can be backpropagated
        through again; one that did raises a clear error the second time.
        """
        freed = bool(self.saved_)
        for key, value in list(self.__dict__.items()):
            if hasattr(value, "shape") and hasattr(value, "dtype"):
                del self.__dict__[key]
                freed = True
        self.saved_ = None if freed else ()


class AccumulateGrad:
    """The node that adds a gradient into a leaf tensor's ``.grad`` (shown in next_functions)."""

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "AccumulateGrad"

    def __repr__(self):
        return f"<AccumulateGrad object at {hex(id(self))}>"


_tensor_class = None


def _import_tensor():
    """tensor.py builds on this module, so Tensor is imported on first use, then kept (an
    import statement in apply() cost about 1 us per op)."""
    global _tensor_class
    from .tensor import Tensor
    _tensor_class = Tensor
    return Tensor


def _check_same_device(cls, inputs, arrays):
    first = type(arrays[0])
    if all(type(a) is first for a in arrays) and first.__module__ == "numpy":
        return
    devices = [backend.device_of(a) for a in arrays]
    for i, d in enumerate(devices[1:], 1):
        if d != devices[0]:
            raise RuntimeError(
                "Expected all tensors to be on the same device, but found at least two devices, "
                f"{devices[0]} and {d}! (in {cls.__name__}: input 0 is on {devices[0]}, input {i} "
                f"is on {d}; move them with .to(device))")


# ----------------------------------------------------------------------------------------------
# The backward engine.
# ----------------------------------------------------------------------------------------------
def _as_tuple(grads):
    return grads if isinstance(grads, tuple) else (grads,)


def _topological_order(root):
    """Count, for every node reachable from ``root``, how many nodes send it a gradient.

    Iterative depth-first search: no recursion, so arbitrarily deep graphs work.
    """
    dependencies = {root: 0}
    stack = [root]
    while stack:
        node = stack.pop()
        for edge in node.next_functions_:
            if isinstance(edge, Function):
                if edge in dependencies:
                    dependencies[edge] += 1
                else:
                    dependencies[edge] = 1
                    stack.append(edge)
    return dependencies


def _accumulate_into_leaf(leaf, grad):
    Tensor = _tensor_class or _import_tensor()
    if grad.shape != leaf._array.shape:
        raise RuntimeError(f"gradient of shape {tuple(grad.shape)} cannot be accumulated into "
                           f"a leaf of shape {tuple(leaf.shape)}")
    cast = grad.dtype != leaf._array.dtype
    if cast:
        grad = grad.astype(leaf._array.dtype)
    owned = cast and not leaf._hooks        # a new array that no one else (no hook) has seen
    for hook in leaf._hooks or ():
        new = hook(Tensor._wrap(grad))
        if new is not None:
            grad = new._array
    if leaf.grad is None:
        # A copy: the same gradient array may be handed to several inputs (as in a + b).
        leaf.grad = Tensor._wrap(grad if owned else grad.copy())
    else:
        leaf.grad._array += grad


def run_backward(root_tensor, gradient, retain_graph=False):
    """Backpropagate ``gradient`` (an array shaped like ``root_tensor``) through its graph."""
    root = root_tensor.grad_fn
    if root is None:  # a leaf: backward of a leaf puts the gradient straight into .grad
        _accumulate_into_leaf(root_tensor, gradient)
        return
    dependencies = _topological_order(root)
    pending = {root: gradient}
    ready = [root]
    anomaly = _state.anomaly and _state.anomaly_check_nan
    with no_grad():  # hooks and backward formulas that use Tensors must not record a graph
        while ready:
            node = ready.pop()
            grad = pending.pop(node)
            if node._retained is not None:
                _set_retained_grad(node, grad)
            if node.saved_ is None:
                node.saved_tensors  # raises the "backward through the graph a second time" error
            grads = _as_tuple(node.backward(grad))
            if anomaly:
                _check_anomaly(node, grads)
            edges = node.next_functions_
            if len(grads) != len(edges):
                raise RuntimeError(f"{node.name()} returned {len(grads)} gradients for "
                                   f"{len(edges)} inputs")
            if not retain_graph:
                node._release()
            for edge, g in zip(edges, grads):
                if edge is None or g is None:
                    continue
                if isinstance(edge, Function):
                    if edge in pending:
                        pending[edge] = pending[edge] + g
                    else:
                        pending[edge] = g
                    dependencies[edge] -= 1
                    if dependencies[edge] == 0:
                        ready.append(edge)
                else:
                    _accumulate_into_leaf(edge, g)


def _set_retained_grad(node, grad):
    from .tensor import Tensor
    tensor = node._retained()
    if tensor is None:
        return
    if tensor.grad is None:
        tensor.grad = Tensor._wrap(grad.copy())
    else:
        tensor.grad._array += grad


def retain_grad_of(tensor):
    """Make ``tensor`` (a non-leaf) keep its gradient in ``.grad`` during backward."""
    tensor.grad_fn._retained = weakref.ref(tensor)


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _user_frame(stack):
    """The innermost frame of ``stack`` outside the minigrad package: the user's call."""
    for frame in reversed(stack):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return frame
    return None


def _check_anomaly(node, grads):
    for i, g in enumerate(grads):
        if g is None or getattr(g, "dtype", None) is None or g.dtype.kind not in "fc":
            continue
        xp = backend.xp_of(g)
        if not bool(xp.isfinite(g).all()):
            bad = "nan" if bool(xp.isnan(g).any()) else "inf"
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
            output = str(tuple(meta[0])) if meta else "unknown"
            trace = "".join(traceback.format_list(stack[-8:])) if stack else ""   # innermost
            raise RuntimeError(
                f"Function '{node.name()}' returned {bad} values in its {i}th output.\n"
                f"  it is the gradient for input {i}, of shape {tuple(g.shape)}; the op's input "
                f"shapes: {inputs}; its output shape: {output}\n"
                f"  the op was called in forward at {site}\n"
                + (f"Traceback of forward call that caused the error:\n{trace}" if trace else ""))


def backward(tensors, grad_tensors=None, retain_graph=False):
    """``minigrad.autograd.backward``: backward from one tensor or a sequence of them."""
    if not isinstance(tensors, (list, tuple)):
        tensors = [tensors]
        grad_tensors = [grad_tensors]
    elif grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    for t, g in zip(tensors, grad_tensors):
        t.backward(g, retain_graph=retain_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned instead of put in ``.grad``.

    ``inputs`` must be leaf tensors that require grad (minigrad keeps the rule simple).
    """
    single = not isinstance(inputs, (list, tuple))
    inputs = [inputs] if single else list(inputs)
    for i, t in enumerate(inputs):
        if not t.is_leaf or not t.requires_grad:
            raise RuntimeError(f"minigrad.autograd.grad: inputs[{i}] must be a leaf tensor that "
                               "requires grad")
    saved = [t.grad for t in inputs]
    for t in inputs:
        t.grad = None
    try:
        backward(outputs, grad_outputs, retain_graph=retain_graph)
        result = tuple(t.grad for t in inputs)
    finally:
        for t, g in zip(inputs, saved):
            t.grad = g
    return result[0] if single else result
