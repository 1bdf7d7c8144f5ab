"""PyTorch-style custom Functions (``@staticmethod forward(ctx, ...)``, ``setup_context``,
``backward(ctx, ...)`` or ``vjp``): how ``Function.apply`` runs one and records its node
(``_apply_ctx_style``: arguments bound as forward's, outputs marked dirty, non-differentiable
or aliasing an input, saved tensors version-checked) and how its node's backward is called
(``_backward_ctx_style``: gradients materialized and checked as PyTorch's).

This module builds on ``function.py`` (``Function``) and its neighbours (node classes in
``_node_names.py``, view links in ``_view_tracking.py``), so ``function.py`` cannot import
it: importing this module fills ``function.py``'s two slots for these functions
(``engine.py`` imports it, and the ``autograd`` package imports the engine)."""
from __future__ import annotations

import inspect
import traceback
import weakref

from .._warn_once import warn_user
from .. import backend
from ..tensor import Tensor
from . import function as _function     # its slots, read as they are now
from ._saved_hooks import CONST as _CONST, INPUT as _INPUT, OUTPUT as _OUTPUT, \
    pack_with_hooks as _pack_with_hooks, saved_tensors_hooks_state
from ._input_checks import _refuse_inference
from ._node_names import _node_type
from ._transforms import transforms
from ._view_tracking import link_view
from .function import Function, _sequence
from .grad_mode import _state, no_grad


_EXTENDING_FUNC = ("For more details, please see "
                   "https://pytorch.org/docs/main/notes/extending.func.html")


def _check_transforms(cls, tensors):
    """Refuse a custom Function inside a transform it does not support, as PyTorch: one
    without ``setup_context`` in any torch.func transform, one without a ``vmap``
    staticmethod (or ``generate_vmap_rule``) under vmap, one without ``jvp`` in forward
    mode (torch.func's, or a dual tensor among its inputs)."""
    if cls.__module__.split(".")[0] == "minigrad":
        return          # minigrad's own (module hooks, checkpoint) run as they are
    own = _own_attrs(cls)
    if transforms.functorch:
        if "setup_context" not in own:
            raise RuntimeError("In order to use an autograd.Function with functorch transforms "
                               "(vmap, grad, jvp, jacrev, ...), it must override the "
                               f"setup_context staticmethod. {_EXTENDING_FUNC}")
        if transforms.vmap and "vmap" in own and cls.generate_vmap_rule:
            raise RuntimeError(f"You tried to vmap over {cls.__name__}, but it has both "
                               "generate_vmap_rule=True and an overridden vmap staticmethod. "
                               "Please set generate_vmap_rule=False or delete the overridden "
                               f"vmap staticmethod to avoid ambiguity. {_EXTENDING_FUNC}")
        if transforms.vmap and "vmap" not in own and not cls.generate_vmap_rule:
            raise RuntimeError(f"You tried to vmap over {cls.__name__}, but it does not have "
                               "vmap support. Please override and implement the vmap "
                               "staticmethod or set generate_vmap_rule=True. "
                               f"{_EXTENDING_FUNC}")
    carrier = _function.dual_carrier
    if "jvp" not in own and (transforms.forward or (
            carrier is not None and carrier([t for t in tensors if t is not None]))):
        raise NotImplementedError("You must implement the jvp function for custom "
                                  "autograd.Function to use it with forward mode AD.")


def _jvp_only(cls):
    own = _own_attrs(cls)
    return "jvp" in own and "backward" not in own and "vjp" not in own


def _apply_ctx_style(cls, args, kwargs):
    if "forward" not in _own_attrs(cls):
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")
    ctx = _node_type(cls)()
    ctx._seq = next(_sequence)
    ctx.saved_ = ()
    ctx._versions = None
    ctx._retained = None
    ctx._pre_hooks = None
    ctx._non_diff = set()
    ctx._dirty = set()
    ctx._materialize = True
    takes_ctx = not ("setup_context" in _own_attrs(cls) and not _forward_takes_ctx(cls))
    if kwargs or not takes_ctx:
        args, kwargs = _bind_arguments(cls, args, kwargs, takes_ctx)
    tensors = [a if isinstance(a, Tensor) else None for a in args]
    if transforms.functorch or transforms.forward or _function.dual_carrier is not None:
        _check_transforms(cls, tensors)
        if transforms.vmap and not takes_ctx and "vmap" in _own_attrs(cls) and \
                not cls.generate_vmap_rule:
            if _function.vmap_rule_is_graph():
                # PyTorch's graph holds the rule's ops, not this Function's node
                return _function.vmap_forward_by_rule(cls, args, kwargs)
    requires_grad = _state.enabled and any(t is not None and t._requires_grad for t in tensors)
    ctx.needs_input_grad = tuple(t is not None and t._requires_grad for t in tensors)
    with no_grad():
        if not takes_ctx:
            if transforms.vmap and "vmap" in _own_attrs(cls) and not cls.generate_vmap_rule:
                outputs = _function.vmap_forward_by_rule(cls, args, kwargs)
            else:
                outputs = cls.forward(*args, **kwargs)
            cls.setup_context(ctx, args, outputs)
        else:
            outputs = cls.forward(ctx, *args, **kwargs)
    single = not isinstance(outputs, tuple)
    outs = list((outputs,) if single else outputs)
    ctx._n_outputs = len(outs)
    if not takes_ctx and ctx.saved_:
        _refuse_saved_passthrough(ctx, tensors, outs)
    if _function.dual_jvp is not None and _jvp_only(cls) and _function.dual_carrier(
            [t for t in tensors if t is not None]):
        # forward mode through the Function's own jvp (it has no backward to differentiate)
        outs = _function.dual_jvp(cls, ctx, args, outs)
        return outs[0] if single else tuple(outs)
    if ctx._dirty and not ctx._dirty <= {id(o) for o in outs}:
        raise RuntimeError("Some elements marked as dirty during the forward method were not "
                           "returned as output. The inputs that are modified inplace must all "
                           "be outputs of the Function.")
    if not requires_grad or not any(isinstance(o, Tensor) for o in outs):
        # nothing to record (a forward returning only numbers or a list is passed through)
        ctx.saved_ = ()
        if any(o is t for o in outs for t in tensors if t is not None):
            return _aliased_inputs(outputs, outs, tensors, ctx._dirty, single)
        return outputs
    ctx.next_functions_ = tuple(
        None if t is None else (t.grad_fn, t._output_nr) if t.grad_fn is not None else
        ((t, 0) if t._requires_grad else None) for t in tensors)
    ctx._in_meta = tuple(None if t is None else _sparse_meta(t) if t.is_sparse or
                         t.is_sparse_csr else (t._array.shape, t._array.dtype) for t in tensors)
    if any(t is not None and t.is_sparse and t._requires_grad for t in tensors):
        _sparse_edges(ctx, tensors)
    input_ids = {id(t) for t in tensors if t is not None}
    input_bases = {id(t if t._base is None else t._base) for t in tensors if t is not None}
    viewing = []                    # outputs sharing an input's memory: no in-place writes
    n_differentiable = 0
    for j, o in enumerate(outs):
        if not isinstance(o, Tensor):
            continue
        marked = id(o) in ctx._non_diff        # (before an input returned as-is is aliased)
        if id(o) in ctx._dirty:
            if id(o) not in input_ids:
                warn_user("ctx.mark_dirty() received a tensor that was not an input. Only "
                          "input Tensors that have been mutated should be passed to "
                          "ctx.mark_dirty().", UserWarning)
            if o.grad_fn is None and o._requires_grad:
                raise RuntimeError("a leaf Variable that requires grad has been used in an "
                                   "in-place operation.")
            o._vcounter.value += 1
        elif id(o) in input_ids:
            # an input returned unchanged: the output is a new tensor sharing its memory
            alias = Tensor._wrap(o._array)
            link_view(alias, o)
            outs[j] = o = alias
        if marked or o._array.dtype.kind not in "fcV":
            o._requires_grad = False
            continue
        n_differentiable += 1
        if id(o) not in ctx._dirty and o._base is not None and id(o._base) in input_bases:
            viewing.append((j, o))
        o._requires_grad = True
        o.grad_fn = ctx
        o._output_nr = j
    for j, o in viewing:
        # PyTorch refuses a recorded in-place write to such an output (ops/writes.py raises)
        o.__dict__["_inplace_refusal"] = (
            f"Output {j} of {cls.__name__} is a view and is being modified inplace. " +
            ("This view is the output of a function that returns multiple views. Such "
             "functions do not allow the output views to be modified inplace. You should "
             "replace the inplace operation by an out-of-place one." if n_differentiable > 1
             else
             "This view was created inside a custom Function (or because an input was "
             "returned as-is) and the autograd logic to handle view+inplace would override "
             "the custom backward associated with the custom Function, leading to incorrect "
             "gradients. This behavior is forbidden. You can fix this by cloning the output "
             "of the custom Function."))
    for o in outs:
        if id(o) in ctx._dirty and o._base is not None and o.grad_fn is ctx and \
                _function.dirty_view_rebase is not None:
            _function.dirty_view_rebase(o)
    ctx._out_meta = tuple((o._array.shape, o._array.dtype) if isinstance(o, Tensor) else None
                          for o in outs)
    ctx._xp = backend.xp_of(next(o._array for o in outs if isinstance(o, Tensor)))
    if ctx.saved_:
        packed, versions = [], []
        for value in ctx.saved_:
            if value is None:
                packed.append((_CONST, None))
                continue
            if not isinstance(value, Tensor):
                raise TypeError("save_for_backward can only save variables, but argument "
                                f"{len(packed)} is of type {type(value).__name__}")
            for j, o in enumerate(outs):
                if value is o and o.grad_fn is ctx:
                    packed.append((_OUTPUT, (o._array, j)))
                    break
            else:
                packed.append((_INPUT, value))
                _refuse_inference(value)
            shape, np_dtype = _sparse_meta(value) if value.is_sparse or \
                value.is_sparse_csr else (value._array.shape, value._array.dtype)
            versions.append((value._vcounter, value._vcounter.value, shape, np_dtype,
                             len(packed) - 1))
        ctx.saved_ = tuple(packed)
        ctx._packed = True
        ctx._versions = versions
        if saved_tensors_hooks_state.stack:
            _pack_with_hooks(ctx)
    if _state.anomaly:
        ctx._trace = traceback.extract_stack()[:-2]
        ctx._shapes = [tuple(t.shape) for t in tensors if t is not None]
    if _function.dual_jvp is not None and "jvp" in _own_attrs(cls) and _function.dual_carrier(
            [t for t in tensors if t is not None]):
        # forward mode through the Function's own jvp, as PyTorch's (not its backward's)
        outs = _function.dual_jvp(cls, ctx, args, outs, recorded=True)
    elif transforms.forward and "jvp" in _own_attrs(cls) and _function.level_jvp is not None:
        outs = _function.level_jvp(cls, ctx, args, outs)
    return outs[0] if single else tuple(outs)


def _refuse_saved_passthrough(ctx, tensors, outs):
    """With setup_context, an input returned as-is (not marked dirty) may not be saved for
    backward: PyTorch's refusal, raised whether or not anything requires grad."""
    for s in ctx.saved_:
        if isinstance(s, Tensor) and id(s) not in ctx._dirty \
                and any(s is t for t in tensors) and any(s is o for o in outs):
            raise RuntimeError(
                "An input that has been returned as-is as output is being saved for backward. "
                "This is not supported if you override setup_context. You should return and "
                "save a view of the input instead, e.g. with x.view_as(x) or setup ctx inside "
                "the forward function itself.")


def _sparse_meta(t):
    """(shape, numpy dtype) of a sparse tensor, which keeps no dense array: its size and its
    values' dtype (a custom Function may take one, or save one, as pyGAT's sparse matmul)."""
    return tuple(t.shape), t._vals._array.dtype


def _sparse_edges(ctx, tensors):
    """A sparse COO input that requires grad keeps its graph in its values: its edge is made
    the values' edge, and ``_backward_ctx_style`` turns the gradient the user's backward gives
    for it (dense, or sparse) into the values' gradient, the entries at its indices, as
    PyTorch's sparse constructor's backward does."""
    edges, metas = list(ctx.next_functions_), list(ctx._in_meta)
    ctx._sparse_inputs = {}
    for i, t in enumerate(tensors):
        if t is not None and t.is_sparse and t._requires_grad:
            v = t._vals
            edges[i] = (v.grad_fn, v._output_nr) if v.grad_fn is not None else (v, 0)
            metas[i] = (v._array.shape, v._array.dtype)
            ctx._sparse_inputs[i] = t._idx
    ctx.next_functions_, ctx._in_meta = tuple(edges), tuple(metas)


def _sparse_input_grads(ctx, result):
    """The user's gradients of sparse inputs as their values' gradients (``_sparse_edges``)."""
    result = list(result)
    for i, idx in ctx._sparse_inputs.items():
        g = result[i] if i < len(result) else None
        if isinstance(g, Tensor):
            dense = g.to_dense() if g.is_sparse else g
            result[i] = dense[tuple(Tensor._wrap(row) for row in idx)]
    return tuple(result)


def _aliased_inputs(outputs, outs, tensors, dirty, single):
    """``outputs`` with each input returned as it is (and not marked dirty) replaced by a
    new tensor sharing its memory, as PyTorch never hands an input back as the output."""
    ids = {id(t) for t in tensors if t is not None and id(t) not in dirty}
    for j, o in enumerate(outs):
        if isinstance(o, Tensor) and id(o) in ids:
            alias = Tensor._wrap(o._array)
            link_view(alias, o)
            outs[j] = alias
    return outs[0] if single else (tuple(outs) if isinstance(outputs, tuple) else outputs)


def _own_attrs(cls):
    attrs = set()
    for klass in cls.__mro__:
        if klass is Function:
            break
        attrs.update(klass.__dict__)
    return attrs


_FORWARD_SIGNATURES = weakref.WeakKeyDictionary()     # Function class -> its forward's


def _bind_arguments(cls, args, kwargs, takes_ctx):
    """``apply``'s arguments as forward's positional ones, its defaults filled in: a tensor
    given by keyword is an input as one given by position, and ``setup_context`` sees every
    argument of forward (as PyTorch binds them).  A keyword that names no positional
    parameter (a keyword-only one, or one for ``**kwargs``) is refused, as PyTorch refuses
    it; a call that does not fit the signature otherwise is left to forward to refuse."""
    try:
        sig = _FORWARD_SIGNATURES.get(cls)
        if sig is None:
            sig = _FORWARD_SIGNATURES[cls] = inspect.signature(cls.forward)
    except (TypeError, ValueError):
        return args, kwargs
    positional = {name for name, p in sig.parameters.items()
                  if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD}
    for key in kwargs:
        if key not in positional:
            raise TypeError(f"forward() got an unexpected keyword argument '{key}'")
    try:
        bound = sig.bind(None, *args, **kwargs) if takes_ctx else sig.bind(*args, **kwargs)
    except TypeError:
        return args, kwargs
    bound.apply_defaults()
    if bound.kwargs:
        return args, kwargs
    return tuple(bound.args[1:] if takes_ctx else bound.args), {}


def _forward_takes_ctx(cls):
    try:
        params = list(inspect.signature(cls.forward).parameters)
    except (TypeError, ValueError):
        return True
    return bool(params) and params[0] == "ctx"


def _user_backward(node_type):
    """A custom Function's backward: its ``backward``, or its ``vjp`` (PyTorch's other name
    for it), refusing a class that defines both."""
    own = _own_attrs(node_type)
    if "vjp" not in own:
        return node_type.backward
    if "backward" in own:
        raise RuntimeError("Implementing both 'backward' and 'vjp' for a custom Function is not "
                           "allowed. You should only implement one of them.")
    return node_type.vjp


def _backward_ctx_style(ctx, grads):
    if ctx._materialize:
        grads = [g if g is not None or meta is None else
                 Tensor._wrap(ctx._xp.zeros(meta[0], dtype=meta[1]))
                 for g, meta in zip(grads, ctx._out_meta)]
    result = _user_backward(type(ctx))(ctx, *grads)
    result = result if isinstance(result, tuple) else (result,)
    if getattr(ctx, "_sparse_inputs", None):
        result = _sparse_input_grads(ctx, result)
    n = len(ctx.next_functions_)
    if len(result) != n:
        if len(result) > n and all(r is None for r in result[n:]):
            result = result[:n]
        else:
            raise RuntimeError(f"function {ctx.name()} returned an incorrect number of gradients "
                               f"(expected {n}, got {len(result)})")
    for i, (r, meta) in enumerate(zip(result, ctx._in_meta)):
        if r is not None and not isinstance(r, Tensor):
            kind = type(r)
            name = kind.__name__ if kind.__module__ == "builtins" else \
                f"{kind.__module__}.{kind.__name__}"
            raise RuntimeError(f"expected Variable or None (got {name})")
        if meta is None and r is not None:
            raise RuntimeError(f"function {ctx.name()} returned a gradient different than None "
                               f"at position {i + 1}, but the corresponding forward input was "
                               "not a Variable")
    return tuple(result)


_function._apply_ctx_style = _apply_ctx_style
_function._backward_ctx_style = _backward_ctx_style
