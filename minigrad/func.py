"""``minigrad.func`` (as ``torch.func``): function transforms.

    grad(f)(x)              df/dx for a scalar f             (argnums picks the arguments)
    grad_and_value(f)(x)    (df/dx, f(x))
    vjp(f, x)               (f(x), v -> v^T J)
    jvp(f, (x,), (t,))      (f(x), J t)
    jacrev(f)(x), jacfwd    J, shaped f(x).shape + x.shape
    hessian(f)(x)           the Jacobian of the gradient
    vmap(f)                 minigrad.vmap
    functional_call(m, params, args)   a module run with other parameters/buffers
    stack_module_state(models)         their parameters and buffers stacked along a new dim 0

How they work here: on top of minigrad's ordinary reverse-mode autograd (``autograd.grad``),
not on a separate transform machinery. Each transform runs ``f`` on differentiable aliases
of the chosen arguments and calls ``autograd.grad``, recording the backward
(``create_graph=True``) whenever grad mode is on where the transform is called and ``f``'s
output depends on a tensor from outside that requires grad (an argument, an outer transform's
variable, a parameter ``f`` closes over), so transforms nest: ``grad(grad(f))``,
``vmap(grad(f))``, ``jacfwd(jacrev(f))``, and results are differentiable by an outer
``backward`` exactly when they depend on such a tensor. ``jacfwd`` and ``jvp`` are computed
in reverse mode (the values are those of forward mode). Arguments may be tensors or nested
tuples, lists and dicts of them (a dict of parameters, say); gradients come back in the same
structure, zeros for an argument ``f`` does not use.

``grad``, ``vjp`` and ``jvp`` are here; the Jacobians and Hessians are in
``_func_jacobians.py``, the module tools in ``_func_modules.py``, and what the transforms
share in ``_func_shared.py``.
"""
from __future__ import annotations

from . import autograd, backend
from .autograd._transforms import inside_transform
from .autograd import forward_ad as _forward_ad
from .autograd.function import Function
from ._vmap import _flatten, treespec as _treespec, vmap
from .tensor import Tensor
from ._func_shared import (_check_primals, _foreign_graph, _pprint, _prepare, _recording, _regroup,
                           _requires_grad, _settle, _split_aux, _structure, _variable,
                           _zeros_for_unused)
from ._einops import rearrange
from ._func_jacobians import hessian, jacfwd, jacrev
from ._func_modules import (debug_unwrap, functional_call, functionalize,
                            replace_all_batch_norm_modules_, stack_module_state)

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "linearize", "jacrev", "jacfwd", "hessian",
           "vmap", "functional_call", "stack_module_state", "functionalize",
           "replace_all_batch_norm_modules_", "debug_unwrap", "rearrange"]


# ----------------------------------------------------------------------------------------------
# grad, grad_and_value, vjp, jvp
# ----------------------------------------------------------------------------------------------
def grad_and_value(func, argnums=0, has_aux=False):
    """A function returning ``(gradient, value)`` of the scalar ``func`` (with ``has_aux``:
    ``(gradient, (value, aux))``). ``argnums``: the argument (an int) or arguments (a
    tuple: the gradients come as a tuple) to differentiate with respect to."""
    who = "grad_and_value(f)(*args)"

    def wrapper(*args, **kwargs):
        outer = autograd.is_grad_enabled()
        with _recording():
            single, nums, args, leaves, rebuilds = _prepare(args, argnums, outer)
            with inside_transform("functorch"):
                out, aux = _split_aux(func(*args, **kwargs), has_aux, who)
            if not isinstance(out, Tensor):
                raise RuntimeError(f"{who}: Expected f(*args) to return a Tensor, got "
                                   f"{type(out)}")
            if out.dim() != 0:
                raise RuntimeError(f"{who}: Expected f(*args) to return a scalar Tensor, got "
                                   f"tensor with {out.dim()} dims. Maybe you wanted to use the "
                                   "vjp or jacrev APIs instead?")
            wrt = [t for group in leaves for t in group]
            if out.requires_grad and wrt:
                grads = autograd.grad(out, wrt, create_graph=outer and _foreign_graph(out, wrt),
                                      allow_unused=True)
            else:
                grads = [None] * len(wrt)
            grads = _settle(_zeros_for_unused(grads, wrt), wrt, outer)
        value = _settle(out, wrt, outer)
        result = _regroup(grads, rebuilds, single)
        if has_aux:
            return result, (value, _settle(aux, wrt, outer))
        return result, value
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """A function returning the gradient of the scalar ``func`` with respect to the
    argument(s) ``argnums`` (with ``has_aux``: ``(gradient, aux)``)."""
    both = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        g, value = both(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


def vjp(func, *primals, has_aux=False):
    """``(func(*primals), vjp_fn)`` (and ``aux`` with ``has_aux``): ``vjp_fn(cotangents)``
    gives ``v^T J`` for every primal, as a tuple; ``cotangents`` has the output's structure.
    ``vjp_fn`` may be called several times."""
    outer = autograd.is_grad_enabled()
    with _recording():
        flats = [_flatten(p) for p in primals]
        args = [rebuild([_variable(t, outer) for t in flat]) for flat, rebuild in flats]
        with inside_transform("functorch"):
            out, aux = _split_aux(func(*args), has_aux, "vjp(f, *primals)")
    out_flat, _ = _flatten(out)
    for o in out_flat:
        if not isinstance(o, Tensor):
            raise RuntimeError("vjp(f, *primals): Expected f to be a function that has only "
                               f"Tensors as outputs, got {type(o)}")
    rebuilds = [_flatten(a) for a in args]
    wrt = [t for flat, _ in rebuilds for t in flat if isinstance(t, Tensor)]

    def vjp_fn(cotangents, retain_graph=True, create_graph=None):
        cots = _flatten(cotangents)[0]
        # torch compares the whole pytree (container types, lengths, keys), not just counts
        if _structure(cotangents) != _structure(out):
            raise RuntimeError(f"Expected pytree structure of cotangents to be the same as "
                               f"pytree structure of outputs to the function. cotangents: "
                               f"{_pprint(cotangents)}, primal output: {_pprint(out)}")
        if create_graph is None:
            create_graph = autograd.is_grad_enabled()
        live = [(o, c) for o, c in zip(out_flat, cots) if o.requires_grad]
        with _recording():
            if live and wrt:
                record = create_graph and (_foreign_graph(out_flat, wrt) or
                                           _requires_grad(cotangents))
                grads = autograd.grad([o for o, _ in live], wrt, [c for _, c in live],
                                      retain_graph=retain_graph, create_graph=record,
                                      allow_unused=True)
            else:
                grads = [None] * len(wrt)
            grads = _zeros_for_unused(grads, wrt)
        return _regroup(_settle(grads, wrt, create_graph), rebuilds, False)

    if has_aux:
        return _settle(out, wrt, outer), vjp_fn, _settle(aux, wrt, outer)
    return _settle(out, wrt, outer), vjp_fn


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """``(func(*primals), J tangents)`` (and ``aux`` with ``has_aux``); ``primals`` and
    ``tangents`` are tuples of the same structure (tensors, or nested tuples/lists/dicts of
    them) whose tensors have the same shapes. Computed in reverse mode (the
    double-backward trick of ``autograd.functional.jvp``)."""
    who = "jvp(f, primals, tangents)"
    for what, value in (("primals", primals), ("tangents", tangents)):
        if not isinstance(value, tuple):
            raise RuntimeError(f"{who}: Expected {what} to be a tuple. E.g. it should be valid "
                               "to call f(*primals).")
    if _structure(primals) != _structure(tangents):
        raise RuntimeError(f"{who}: Expected primals and tangents to have the same python "
                           f"structure. For example, if primals is a tuple of 3 tensors, "
                           f"tangents also must be. Got primals with structure "
                           f"{_treespec(primals)} and tangents with structure "
                           f"{_treespec(tangents)}")
    flat_primals, rebuild_primals = _flatten(primals)
    flat_tangents = _flatten(tangents)[0]
    for what, flat in (("primals", flat_primals), ("tangents", flat_tangents)):
        for leaf in flat:
            if not isinstance(leaf, Tensor):
                raise RuntimeError(f"{who}: Expected {what} to only contain Tensors, got "
                                   f"{type(leaf)}")
    for p, t in zip(flat_primals, flat_tangents):
        if tuple(p.shape) != tuple(t.shape):
            raise RuntimeError("Trying to set a forward gradient that has a different size than "
                               "that of the original Tensor, this is not supported. Tensor is "
                               f"of size {list(p.shape)} while the given forward gradient is of "
                               f"size {list(t.shape)}.")
    _check_primals(primals)
    outer = autograd.is_grad_enabled()
    with _recording():
        # the primals may be nested tuples/lists/dicts (a dict of parameters): their leaves
        # are the variables, the tangents' leaves (in the same order) the directions
        xs = [_variable(p, outer) for p in flat_primals]
        tangents = flat_tangents
        level = _forward_ad.JvpLevel(xs, tangents)
        _forward_ad.push_jvp_level(level)
        try:
            with inside_transform("functorch", "forward"):
                # func sees writable aliases of the variables (forward mode has no leaf to
                # keep unchanged: PyTorch's jvp lets func write into its primals in place)
                out, aux = _split_aux(func(*rebuild_primals([_Writable.apply(x) for x in xs])),
                                      has_aux, who)
        finally:
            _forward_ad.pop_jvp_level()
        # custom Functions' own jvps: seeds carrying their outputs' tangents
        xs = xs + [seed for seed, _ in level.extra]
        tangents = list(tangents) + [t for _, t in level.extra]
        out_flat, out_rebuild = _flatten(out)
        for o in out_flat:
            if not isinstance(o, Tensor):
                raise RuntimeError(f"{who}: expected f(*primals) to return only tensors, got "
                                   f"unsupported type {type(o)}")
        # u -> u^T J is linear in u: its gradient along the tangents (with respect to u) is J t
        us = [o.detach().new_zeros(tuple(o.shape)).requires_grad_(True) if o.requires_grad
              else None for o in out_flat]
        live = [(o, u) for o, u in zip(out_flat, us) if u is not None]
        _forward_ad._reading[0] = bool(level.extra)
        try:
            vjps = (autograd.grad([o for o, _ in live], xs, [u for _, u in live],
                                  create_graph=True, allow_unused=True) if live else ())
        finally:
            _forward_ad._reading[0] = False
        pairs = [(g, t) for g, t in zip(vjps, tangents) if g is not None and g.requires_grad]
        record = outer and (_foreign_graph(out_flat, xs) or _requires_grad(tangents))
        found = (autograd.grad([g for g, _ in pairs], [u for _, u in live],
                               [t for _, t in pairs], create_graph=record, allow_unused=True)
                 if pairs else [None] * len(live))
    found = iter(found)
    tangent_out = []
    for o, u in zip(out_flat, us):
        jt = next(found) if u is not None else None
        if jt is None:
            if strict:
                raise RuntimeError("jvp(f, primals, tangents, strict=True): The output of f is "
                                   "independent of the inputs. This is not allowed with "
                                   "strict=True.")
            jt = o.detach().new_zeros(tuple(o.shape))
        tangent_out.append(jt)
    own = xs + [u for u in us if u is not None]
    # PyTorch's primal outputs come back as aliases (views, AliasBackward0 with a graph)
    out = out_rebuild([o[...] for o in _settle(out_flat, own, outer)])
    tangent_out = _settle(tangent_out, own, outer)
    tangent_out = out_rebuild([_tangent_view(o, jt, flat_primals, flat_tangents)
                               for o, jt in zip(out_flat, tangent_out)])
    if has_aux:
        return out, tangent_out, _settle(aux, own, outer)
    return out, tangent_out


def _tangent_view(out, tangent, primals, given):
    """An output that views a primal gets, as in PyTorch, its tangent as the same view of that
    primal's given tangent when the two are laid out alike, in storages of one size
    (``tangent`` itself otherwise, or when the values differ: the function wrote into it)."""
    if out._base is None or tangent.requires_grad or out.numel() == 0:
        return tangent
    for p, t in zip(primals, given):
        if t.requires_grad or t.stride() != p.stride() or t.dtype != tangent.dtype or \
                t.storage_offset() != p.storage_offset() or \
                t.untyped_storage().nbytes() != p.untyped_storage().nbytes() or \
                not backend.xp_of(p._array).may_share_memory(out._array, p._array):
            continue
        view = t.as_strided(tuple(out.shape), out.stride(), out.storage_offset())
        if backend.xp_of(p._array).array_equal(view._array, tangent._array):
            return view
    return tangent


class _Writable(Function):
    """``x`` itself (sharing its memory, and what is written into it in place), as a tensor
    computed from ``x``, so not a leaf. Backward: the gradient unchanged."""
    complex_ok = True
    _node_name = "AliasBackward0"          # PyTorch's node for func's own input returned

    def forward(self, x):
        return x.view()

    def backward(self, g):
        return g


def linearize(func, *primals):
    """``(func(*primals), jvp_fn)`` with ``jvp_fn(*tangents)`` = J tangents at ``primals``
    (tangents shaped like the primals). PyTorch traces the linear map once; here each call
    of ``jvp_fn`` runs ``jvp`` again: the same values."""
    with inside_transform("forward"):      # PyTorch's linearize runs func in forward mode
        output = func(*primals)
    flat_primals = _flatten(primals)[0]

    def jvp_fn(*tangents):
        flat_tangents = _flatten(tangents)[0]
        if len(flat_tangents) != len(flat_primals):
            raise RuntimeError(f"Expected the tangents to have the same argspec as the primals "
                               f"({len(flat_tangents)} leaves given for {len(flat_primals)})")
        for idx, (t, p) in enumerate(zip(flat_tangents, flat_primals)):
            for what in ("shape", "device", "dtype"):
                given, wanted = getattr(t, what), getattr(p, what)
                if given != wanted:
                    raise RuntimeError(f"tangent:{idx} with {what} {given} in flattened pytree "
                                       f"doesn't match the {what} {wanted} of the "
                                       "corresponding primal.")
        return jvp(func, tuple(primals), tuple(tangents))[1]
    return output, jvp_fn
