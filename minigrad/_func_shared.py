"""The pieces every ``minigrad.func`` transform shares: the differentiable aliases
("variables") a transform runs ``f`` on, chosen by ``argnums`` and regrouped into the
arguments' structure; whether to record the backward (``_recording``, ``_foreign_graph``) and
the retiring of a returned transform's variables (``_settle``); ``has_aux`` and the checks of
primals.  The transforms are in ``func.py`` and ``_func_jacobians.py``.
"""
from __future__ import annotations

import weakref

from . import autograd
from .autograd.graph import reachable_leaves
from ._vmap import _flatten
from .tensor import Tensor


def _tensors(tree):
    return [t for t in _flatten(tree)[0] if isinstance(t, Tensor)]


def _requires_grad(*trees):
    return any(t.requires_grad for tree in trees for t in _tensors(tree))


# the variables of transforms that have returned, by id (weakly: an entry goes with its
# tensor): nothing can differentiate with respect to them any more, so a result that still
# reaches one through a kept graph (an inner hessian's input inside an outer grad) does not
# depend on them as on an outside tensor
_RETIRED = {}


def _retire(own):
    for t in own:
        if isinstance(t, Tensor) and t.grad_fn is None and id(t) not in _RETIRED:
            key = id(t)
            _RETIRED[key] = weakref.ref(t, lambda _, key=key: _RETIRED.pop(key, None))


def _retired(t):
    ref = _RETIRED.get(id(t))
    return ref is not None and ref() is t


def _foreign_graph(tree, own):
    """Whether a tensor of ``tree`` depends, through the recorded graph, on a tensor that
    requires grad and is not one of ``own`` (the leaves a transform made for itself): an
    argument that requires grad outside the transform, an outer transform's variable, or a
    tensor ``f`` closes over (a model's parameters); not a finished inner transform's
    variable (``_RETIRED``)."""
    own_ids = {id(t) for t in own}
    return any(id(leaf) not in own_ids and not _retired(leaf)
               for leaf in reachable_leaves(_tensors(tree)))


def _settle(tree, own, outer):
    """A transform's results: each tensor keeps its graph only when grad mode was on where
    the transform was called and it depends on something outside the transform (see
    ``_foreign_graph``), as torch.func's results are differentiable by an outer backward
    exactly then; the others are detached. The transform is done with ``own`` then."""
    _retire(own)
    flat, rebuild = _flatten(tree)
    return rebuild([t.detach() if isinstance(t, Tensor) and not (
        outer and _foreign_graph(t, own)) else t for t in flat])


def _variable(t, keep_graph):
    """A tensor to differentiate with respect to: an alias still linked to ``t``'s graph
    when that graph is being recorded, else a fresh leaf (a copy of an inference tensor,
    which may not require grad)."""
    if not isinstance(t, Tensor):
        return t
    if keep_graph and t.requires_grad:
        return t.view_as(t)
    if t._array.dtype.kind not in "fc":      # (complex tensors may require grad too)
        raise RuntimeError("only Tensors of floating point dtype can require gradients")
    leaf = t.detach()
    if leaf.is_inference():
        leaf = leaf.clone()
    return leaf.requires_grad_(True)


def _recording():
    """The transforms' grad mode: recording on, also inside ``inference_mode`` (as PyTorch's
    torch.func transforms compute their derivatives there, where plain autograd records
    nothing)."""
    if autograd.is_inference_mode_enabled():
        return autograd.inference_mode(False)
    return autograd.enable_grad()


def _argnums(argnums, n_args):
    """``argnums`` as a tuple of non-negative positions (checked as torch.func does)."""
    single = isinstance(argnums, int)
    if not single and not isinstance(argnums, tuple):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    nums = (argnums,) if single else argnums
    if not nums:
        raise RuntimeError("argnums must be non-empty")
    out = []
    for a in nums:
        if not isinstance(a, int):
            raise RuntimeError(f"argnum must be int, got: {type(a)}")
        if not -n_args <= a < n_args:
            raise RuntimeError(f"Got argnum={a}, but only {n_args} positional inputs")
        out.append(a % n_args)
    if len(set(out)) != len(out):
        raise RuntimeError(f"argnums elements must be unique, got {argnums}")
    return single, tuple(out)


def _prepare(args, argnums, outer):
    """(single, nums, new args with variables in the chosen places, their leaves, rebuilds).
    ``outer``: whether grad mode is on where the transform is called (an argument that
    requires grad then keeps its graph)."""
    single, nums = _argnums(argnums, len(args))
    keep_graph = outer
    args = list(args)
    leaves, rebuilds = [], []
    for a in nums:
        flat, rebuild = _flatten(args[a])
        for t in flat:
            if not isinstance(t, Tensor):
                raise ValueError(f"Thing passed to transform API must be Tensor, got {type(t)}")
        flat = [_variable(t, keep_graph) for t in flat]
        args[a] = rebuild(flat)
        leaves.append([t for t in flat if isinstance(t, Tensor)])
        rebuilds.append((flat, rebuild))
    return single, nums, args, leaves, rebuilds


def _regroup(values, rebuilds, single):
    """Flat per-tensor results back into the structure of the chosen arguments."""
    it = iter(values)
    out = []
    for flat, rebuild in rebuilds:
        out.append(rebuild([next(it) if isinstance(t, Tensor) else None for t in flat]))
    return out[0] if single else tuple(out)


def _zeros_for_unused(grads, wrt):
    return [g if g is not None else x.new_zeros(tuple(x.shape)) for g, x in zip(grads, wrt)]


def _split_aux(result, has_aux, who):
    if not has_aux:
        return result, None
    if not (isinstance(result, tuple) and len(result) == 2):
        raise RuntimeError(f"{who}: output of function f should be a tuple: (output, aux) "
                           "if has_aux is True")
    for leaf in _flatten(result[1])[0]:        # torch unwraps the aux's leaves as tensors
        if not isinstance(leaf, Tensor):
            raise RuntimeError(f"Expected tensors, got unsupported type {type(leaf)}")
    return result


def _structure(tree):
    """A comparable description of a nested tuple/list/dict's shape (its leaves as '*')."""
    if isinstance(tree, (tuple, list)):
        return (type(tree).__name__, None, tuple(_structure(t) for t in tree))
    if isinstance(tree, dict):
        return ("dict", tuple(tree), tuple(_structure(v) for v in tree.values()))
    return "*"


def _pprint(tree):
    """A nested structure written as PyTorch's ``treespec_pprint``: ``(*, [*, *])``."""
    if isinstance(tree, tuple):
        inner = ", ".join(_pprint(t) for t in tree)
        return f"({inner},)" if len(tree) == 1 else f"({inner})"
    if isinstance(tree, list):
        return "[" + ", ".join(_pprint(t) for t in tree) + "]"
    if isinstance(tree, dict):
        return "{" + ", ".join(f"{k!r}: {_pprint(v)}" for k, v in tree.items()) + "}"
    return "*"


def _check_primals(tree):
    """Forward mode's refusal of a primal that is not floating point (PyTorch's words)."""
    for t in _tensors(tree):
        if t._array.dtype.kind not in "fc":
            raise ValueError(f"Expected primal to be floating point or complex, but got: "
                             f"{t.dtype}")
