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
"""
from __future__ import annotations

import weakref

from . import autograd
from .autograd._transforms import inside_transform
from .autograd.graph import reachable_leaves
from ._random_factories import default_generator
from ._vmap import _RANDOM_ERROR, _flatten, treespec as _treespec, vmap
from .nn.modules.normalization import _BatchNorm
from .nn.utils.stateless import call_with as _call_with
from .ops.stacking import stack
from .tensor import Tensor

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "linearize", "jacrev", "jacfwd", "hessian",
           "vmap", "functional_call", "stack_module_state", "functionalize",
           "replace_all_batch_norm_modules_", "debug_unwrap"]


# ----------------------------------------------------------------------------------------------
# Shared pieces
# ----------------------------------------------------------------------------------------------
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
        with inside_transform("functorch", "forward"):
            out, aux = _split_aux(func(*rebuild_primals(xs)), has_aux, who)
        out_flat, out_rebuild = _flatten(out)
        for o in out_flat:
            if not isinstance(o, Tensor):
                raise RuntimeError(f"{who}: expected f(*primals) to return only tensors, got "
                                   f"unsupported type {type(o)}")
        # u -> u^T J is linear in u: its gradient along the tangents (with respect to u) is J t
        us = [o.detach().new_zeros(tuple(o.shape)).requires_grad_(True) if o.requires_grad
              else None for o in out_flat]
        live = [(o, u) for o, u in zip(out_flat, us) if u is not None]
        vjps = (autograd.grad([o for o, _ in live], xs, [u for _, u in live],
                              create_graph=True, allow_unused=True) if live else ())
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
    out = out_rebuild(_settle(out_flat, own, outer))
    tangent_out = out_rebuild(_settle(tangent_out, own, outer))
    if has_aux:
        return out, tangent_out, _settle(aux, own, outer)
    return out, tangent_out


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


# ----------------------------------------------------------------------------------------------
# Jacobians and Hessians
# ----------------------------------------------------------------------------------------------
def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None):
    """A function returning the Jacobian of ``func`` with respect to the argument(s)
    ``argnums``: for an output of shape O and an input of shape I, a tensor of shape O + I.
    Several outputs or arguments give nested tuples (outputs outside, arguments inside).
    ``chunk_size`` is accepted for PyTorch compatibility (rows are computed one by one)."""
    if chunk_size is not None and not chunk_size > 0:
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")
    return _jacobian(func, argnums, has_aux, "jacrev(f, argnums)(*args)", _jacobian_rows)


def _jacobian(func, argnums, has_aux, who, build):
    """The Jacobian transform, its blocks made by ``build(out, wrt, keep)``: by rows (reverse
    mode) or by columns (forward mode's order of operations)."""
    # what PyTorch's transform is made of, for the custom Functions ``func`` applies:
    # jacrev a vjp, jacfwd a vmap of jvps
    kinds = ("functorch", "vmap", "forward") if build is _jacobian_columns else ("functorch",)

    def wrapper(*args, **kwargs):
        _refuse_complex(who, args, "inputs")
        outer = autograd.is_grad_enabled()
        with _recording():
            single, nums, args, leaves, rebuilds = _prepare(args, argnums, outer)
            wrt = [t for group in leaves for t in group]
            with inside_transform(*kinds):
                out, aux = _split_aux(func(*args, **kwargs), has_aux, who)
            out_flat, out_rebuild = _flatten(out)
            _refuse_complex(who, out_flat, "outputs")
            jac = []
            for o in out_flat:
                if not isinstance(o, Tensor):       # torch's words of the vjp/jvp inside
                    inner = ("jvp(f, primals, tangents)" if build is _jacobian_columns
                             else "vjp(f, *primals)")
                    raise RuntimeError(f"{inner}: expected f(*primals) to return only tensors, "
                                       f"got unsupported type {type(o)}")
                blocks = build(o, wrt, outer and _foreign_graph(o, wrt))
                jac.append(_regroup(_settle(blocks, wrt, outer), rebuilds, single))
        result = out_rebuild(jac)
        if has_aux:
            return result, _settle(aux, wrt, outer)
        return result
    return wrapper


def _refuse_complex(who, tree, what):
    """PyTorch's refusal of a complex tensor among a Jacobian's inputs (every positional
    argument, whatever ``argnums`` picks) or outputs, by its index in the flattened tree."""
    for i, leaf in enumerate(_flatten(tree)[0]):
        if isinstance(leaf, Tensor) and leaf._array.dtype.kind == "c":
            raise RuntimeError(f"{who.split('(')[0]}: Expected all {what} to be real but "
                               f"received complex tensor at flattened input idx: {i}")


def _jacobian_rows(out, wrt, keep):
    """d out / d x for each x in ``wrt``, shaped out.shape + x.shape: one backward per
    output element (each a row of the Jacobian), stacked."""
    n = out.numel()
    flat_out = out.reshape(-1)
    per_input = [[] for _ in wrt]
    for m in range(n):
        if out.requires_grad:
            gs = autograd.grad(flat_out[m], wrt, retain_graph=True, create_graph=keep,
                               allow_unused=True)
        else:
            gs = [None] * len(wrt)
        for rows, g, x in zip(per_input, _zeros_for_unused(gs, wrt), wrt):
            rows.append(g)
    result = []
    for rows, x in zip(per_input, wrt):
        if n:
            j = stack(rows).reshape(tuple(out.shape) + tuple(x.shape))
        else:
            j = x.detach().new_zeros(tuple(out.shape) + tuple(x.shape))
        result.append(j if keep else j.detach())
    return result


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """The Jacobian (as ``jacrev``'s), a column J e_j per input element as forward mode
    makes it: the same values, but a NaN or infinite derivative spreads as PyTorch's forward
    mode spreads it (sin at a NaN input: that output's row is NaN, where reverse mode makes
    that input's column NaN)."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")
    if randomness == "error":       # torch runs func under vmap, which refuses random draws
        func = _refusing_random(func)
    fwd = _jacobian(func, argnums, has_aux, "jacfwd(f, argnums)(*args)", _jacobian_columns)

    def wrapper(*args, **kwargs):
        _refuse_complex("jacfwd", args, "inputs")
        _, nums = _argnums(argnums, len(args))
        _check_primals([args[a] for a in nums])
        return fwd(*args, **kwargs)
    return wrapper


def _refusing_random(func):
    """``func``, raising vmap's error of randomness mode 'error' if it draws random numbers
    from the default generator."""
    def checked(*args, **kwargs):
        before = default_generator.stream.state_bytes(0)
        result = func(*args, **kwargs)
        if before != default_generator.stream.state_bytes(0):
            raise RuntimeError(_RANDOM_ERROR)
        return result
    return checked


def _jacobian_columns(out, wrt, keep):
    """d out / d x for each x in ``wrt``, shaped out.shape + x.shape, one column J e_j per
    element of x: the double-backward trick of ``jvp`` (u -> u^T J is linear in u; its
    gradient along e_j with respect to u is J e_j), on one reverse graph for all columns."""
    if not out.requires_grad:
        return [x.detach().new_zeros(tuple(out.shape) + tuple(x.shape)) for x in wrt]
    u = out.detach().new_zeros(tuple(out.shape)).requires_grad_(True)
    vjps = autograd.grad(out, wrt, u, create_graph=True, allow_unused=True)
    result = []
    for g, x in zip(vjps, wrt):
        n = x.numel()
        if g is None or not g.requires_grad or n == 0:       # J is zero (or empty)
            result.append(x.detach().new_zeros(tuple(out.shape) + tuple(x.shape)))
            continue
        cols = []
        for m in range(n):
            e = x.detach().new_zeros(n)
            e[m] = 1
            c, = autograd.grad(g, u, e.reshape(tuple(x.shape)), retain_graph=True,
                               create_graph=keep, allow_unused=True)
            cols.append(c if c is not None else out.detach().new_zeros(tuple(out.shape)))
        j = stack(cols, -1).reshape(tuple(out.shape) + tuple(x.shape))
        result.append(j if keep else j.detach())
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


def hessian(func, argnums=0):
    """The Hessian of the scalar ``func``: the Jacobian of its gradient, shaped
    x.shape + x.shape (nested tuples for several arguments)."""
    return jacfwd(jacrev(func, argnums), argnums)


# ----------------------------------------------------------------------------------------------
# Modules
# ----------------------------------------------------------------------------------------------
def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """``module(*args, **kwargs)`` with the given tensors (a dict name -> tensor, or a
    sequence of dicts with distinct keys) standing in for its parameters and buffers; the
    module's own tensors are restored afterwards, even if the call raises. Gradients flow to
    the given tensors. See ``minigrad.nn.utils.stateless`` for tie_weights and strict."""
    if isinstance(parameter_and_buffer_dicts, dict):
        values = parameter_and_buffer_dicts
    elif isinstance(parameter_and_buffer_dicts, (list, tuple)):
        if not all(isinstance(d, dict) for d in parameter_and_buffer_dicts):
            raise ValueError("Expected all elements of parameter_and_buffer_dicts to be "
                             "dictionaries")
        values, counts = {}, {}
        for d in parameter_and_buffer_dicts:
            for k in d:
                counts[k] = counts.get(k, 0) + 1
            values.update(d)
        repeated = [k for k, n in counts.items() if n > 1]     # in first-seen order
        if repeated:
            raise ValueError(f"{repeated} appeared in multiple dictionaries; "
                             "behavior of functional call is ambiguous")
    else:
        raise ValueError(f"Expected parameter_and_buffer_dicts to be a dict, or a list/tuple "
                         f"of dicts, but got {type(parameter_and_buffer_dicts)}")
    return _call_with(module, values, args, kwargs, tie_weights, strict)


def stack_module_state(models):
    """``(params, buffers)``: for models of identical structure, each parameter (buffer)
    stacked across the models along a new dim 0, keyed by name. The stacked parameters are
    new leaves (requiring grad as the originals), not linked to the models."""
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if len({m.training for m in models}) > 1:
        raise RuntimeError("stack_module_state: Expected all models to have the same "
                           "training/eval mode.")
    first = type(models[0])
    if any(type(m) is not first for m in models):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")

    def stacked(named, is_param):
        per_model = [dict(named(m)) for m in models]
        out = {}
        for name, ref in per_model[0].items():
            tensors = []
            for entries in per_model:
                if name not in entries:
                    raise KeyError(name)
                tensors.append(entries[name].detach())
            out[name] = stack(tensors).requires_grad_(is_param and ref.requires_grad)
        return out

    params = stacked(lambda m: m.named_parameters(), True)
    buffers = stacked(lambda m: m.named_buffers(), False)
    return params, buffers


# ----------------------------------------------------------------------------------------------
# Helpers for code written against torch.func
# ----------------------------------------------------------------------------------------------
def functionalize(func, *, remove="mutations"):
    """``func`` with its in-place updates turned into out-of-place ones, for transforms that
    cannot trace mutation. minigrad's transforms run ``func`` eagerly and handle in-place ops
    as they are, so the function is returned as it behaves (the same results, the same
    writes to its inputs, as PyTorch's functionalized function copies back)."""
    if remove not in ("mutations", "mutations_and_views"):
        raise RuntimeError(f"functionalize(f, remove='mutations'): received invalid argument "
                           f"for remove={remove}. Valid options are:\n     remove='mutations': "
                           "all inplace and out= operators will be removed from the program, "
                           "and replaced with their out-of-place equivalents.\n     "
                           "remove='mutations_and_views': In addition to the above, all "
                           "aliasing operators {view} will be replaced with their "
                           "non-aliasing counterparts, {view}_copy.\n")

    def functionalized(*args, **kwargs):
        return func(*args, **kwargs)
    functionalized.__wrapped__ = func
    return functionalized


def replace_all_batch_norm_modules_(root):
    """Make every batch-norm layer under ``root`` stop tracking running statistics (it then
    always normalises with the batch's own), as ``vmap`` over a model needs; in place,
    returns ``root``."""
    for module in root.modules():
        if isinstance(module, _BatchNorm):
            module.running_mean = None
            module.running_var = None
            module.num_batches_tracked = None
            module.track_running_stats = False
    return root


def debug_unwrap(tensor, *, recurse=True):
    """The plain tensor inside a transform's wrapper; minigrad's transforms pass plain tensors,
    so it is ``tensor`` itself."""
    return tensor
