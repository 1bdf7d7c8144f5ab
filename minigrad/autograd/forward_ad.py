"""Forward-mode AD with PyTorch's API (``torch.autograd.forward_ad``): dual tensors.

    with forward_ad.dual_level():
        dual = forward_ad.make_dual(x, v)        # x carrying the tangent v
        out = f(dual)
        y, jvp = forward_ad.unpack_dual(out)     # jvp = J_f(x) v, or None

How: minigrad has reverse mode to any order, and a JVP is a derivative of a VJP. For a
result ``y`` and a vector ``u`` shaped like ``y``, the VJP ``g(u) = J^* u`` is linear in
``u``, and for each dual ``(x_i, v_i)``

    Re <u, J v> = Re <J^* u, v>        so        J v = d/du  sum_i Re <g_i(u), v_i>

(``<a, b> = sum(conj(a) b)``; the gradient of a real function of a complex ``u`` is taken in
PyTorch's convention, d/du_re + i d/du_im, which makes the right-hand side exactly ``J v``,
the plain, non-conjugated, real-linear derivative of ``f`` along ``v``, as PyTorch's forward
AD gives it for complex tensors too). So ``make_dual`` ties the tensor to a hidden zero
"seed" leaf (the dual is ``x + seed`` evaluated without the addition), the level remembers
``(seed, v)``, and ``unpack_dual`` runs two backward passes: ``g_i = grad(y, seed_i, u,
create_graph=True)``, then ``grad(sum_i Re <g_i, v_i>, u)``. Nothing is done while ``f``
runs: the cost is paid by each ``unpack_dual``. With grad mode on, the tangent keeps a graph
when it depends on tensors that require grad, so forward-over-reverse works (``unpack_dual``
of a gradient taken with ``create_graph=True`` gives a Hessian-vector product).

A custom Function with its own ``jvp`` staticmethod is an exception, as in PyTorch: its
outputs' tangents are what that jvp returns (``_user_jvp``), not a derivative of its
backward; ``torch.func.jvp`` does the same through ``JvpLevel``.

Where this differs from PyTorch's dual tensors, visibly:

* A dual tensor, and every result computed from it, *requires grad* and has a ``grad_fn``
  (the dual's is ``MakeDualBackward0``), where PyTorch's requires grad only when the
  tensor it was made from does; so ``.numpy()`` on them needs a ``.detach()`` first, and
  they print with ``grad_fn=`` rather than ``tangent=``. Reverse-mode gradients taken with
  ``backward()`` inside the level are right; the hidden seeds receive a ``.grad`` too.
* Ops run under ``no_grad()`` (or ``inference_mode()``) inside the level record nothing, so
  their results have no tangent (``None``), where PyTorch still propagates one.
* The primal of a result that also depends on tensors requiring grad is the result itself
  (it keeps the reverse-mode graph, and with it the link to the tangent); PyTorch's has no
  tangent. Otherwise the primal and tangent are plain tensors, as PyTorch's.
* The dual shares the memory and version counter of the tensor it was made from but is
  no view of it: an in-place op on the dual is recorded as on any tensor (its tangent
  follows), but a recorded in-place write into that tensor changes the dual's values
  without entering its reverse-mode history (PyTorch regenerates the view's history).
* ``unpack_dual`` costs two backward passes through the graph of its argument.

Only one level at a time, as in PyTorch ("Nested forward mode AD is not supported at the
moment"); the tangents live as long as the level: after it, ``unpack_dual`` gives None.
"""
from __future__ import annotations

import functools
from typing import NamedTuple, Optional

from .. import backend
from ..tensor import Tensor
from .engine import grad
from . import function as _function
from .function import Function
from ._function_ctx import _jvp_only
from .graph import reachable_leaves
from .grad_mode import enable_grad, is_grad_enabled

__all__ = ["UnpackedDualTensor", "enter_dual_level", "exit_dual_level", "make_dual",
           "unpack_dual", "dual_level"]

# The level now open (-1: none) and, for it, one (seed, tangent, node) per make_dual call
_current_level = -1
_duals = []


class UnpackedDualTensor(NamedTuple):
    """What ``unpack_dual`` returns: the value and its tangent (None when it has none)."""
    primal: Tensor
    tangent: Optional[Tensor]


class MakeDual(Function):
    """The dual: ``primal`` itself (sharing its memory), as a function of ``primal`` and of the
    zero ``seed``. Backward: the gradient goes unchanged to both (the dual is primal + seed)."""
    complex_ok = True           # an identity: right for complex numbers as written

    def forward(self, primal, seed):
        return primal.view()

    def backward(self, g):
        return (g if self.needs_input_grad[0] else None), g


class UserTangent(Function):
    """A custom Function's output tied to the tangent its own ``jvp`` gave: ``value`` itself
    (sharing its memory), as a function of ``value`` (the recorded output, whose graph runs
    through the user's backward) and of a fresh zero ``seed`` that carries that tangent.
    Backward: the gradient goes to both, except while ``unpack_dual`` reads tangents off the
    seeds (``_reading``): then only to the seed, so that the tangent is the jvp's and not
    one derived from the backward."""
    complex_ok = True

    def forward(self, value, seed):
        return value.view()

    def backward(self, g):
        return (None if _reading[0] or not self.needs_input_grad[0] else g), g


_reading = [False]          # True while unpack_dual collects VJPs at the seeds


def _user_jvp(cls, ctx, args, outs, recorded=False):
    """The outputs ``outs`` of a custom Function that has a ``jvp`` staticmethod, made duals:
    their tangents are what ``jvp(ctx, *input_tangents)`` returns (an input without a tangent
    gives zeros, a non-tensor argument None), as PyTorch's forward mode calls it.  For a
    Function without backward the outputs are detached; ``recorded`` outputs (the Function
    has a backward, and they are in its graph) keep that graph, tied to the tangent by a
    ``UserTangent`` node."""
    xp = backend.xp_of
    tangents = []
    for a in args:
        if not isinstance(a, Tensor):
            tangents.append(None)
            continue
        t = unpack_dual(a).tangent
        tangents.append(Tensor._wrap(xp(a._array).zeros_like(a._array)) if t is None else t)
    forward_saved = getattr(ctx, "saved_for_forward", None)
    if forward_saved is None:
        given = cls.jvp(ctx, *tangents)
    else:       # inside jvp, ctx.saved_tensors are what save_for_forward kept
        kept = ctx.saved_, ctx.__dict__.get("_packed"), ctx._versions
        primals = tuple(unpack_dual(t).primal if isinstance(t, Tensor) else t
                        for t in forward_saved)
        ctx.saved_, ctx._packed, ctx._versions = primals, False, None
        try:
            given = cls.jvp(ctx, *tangents)
        finally:
            ctx.saved_, ctx._packed, ctx._versions = kept
    given = given if isinstance(given, tuple) else (given,)
    if not recorded:
        return [make_dual(o.detach(), g) if isinstance(o, Tensor) and isinstance(g, Tensor)
                else o for o, g in zip(outs, given)]
    return [_tie(o, g) if isinstance(o, Tensor) and isinstance(g, Tensor) and
            o._requires_grad else o for o, g in zip(outs, given)]


class JvpLevel:
    """A running ``torch.func.jvp``: its variables and their tangents, and the seeds (with
    their tangents) that custom Functions' own ``jvp``s tied their outputs to."""

    def __init__(self, xs, tangents):
        self.xs, self.tangents, self.extra = list(xs), list(tangents), []

    def tangent_of(self, t):
        """J v for ``t``, a tensor computed inside the running jvp (zeros when it does not
        depend on the variables)."""
        xp = backend.xp_of(t._array)
        if not t._requires_grad:
            return Tensor._wrap(xp.zeros_like(t._array))
        xs = self.xs + [s for s, _ in self.extra]
        ts = self.tangents + [v for _, v in self.extra]
        with enable_grad():
            u, vjps = _vjps_at_zero(t, xs)
            pairs = [(g, v) for g, v in zip(vjps, ts) if g is not None and g._requires_grad]
            found = None
            if pairs:
                keep = any(v._requires_grad for _, v in pairs)
                found = grad([g for g, _ in pairs], u, [v for _, v in pairs],
                             create_graph=keep, allow_unused=True)[0]
        return Tensor._wrap(xp.zeros_like(t._array)) if found is None else found


def _vjps_at_zero(t, xs):
    """(u, the VJPs of ``t`` in ``xs`` at u), u a zero cotangent made a variable, the VJPs
    recorded (grad mode on): J v is then the gradient in u of sum_i <VJP_i, v_i>, the
    double-backward trick both forward-mode routes use."""
    u = Tensor._wrap(backend.xp_of(t._array).zeros_like(t._array)).requires_grad_(True)
    _reading[0] = True
    try:
        return u, grad(t, xs, u, create_graph=True, allow_unused=True)
    finally:
        _reading[0] = False


jvp_levels = []             # the torch.func.jvp calls running now (innermost last)


def push_jvp_level(level):
    """A torch.func.jvp starts: custom Functions' own jvps now tie their outputs to it."""
    jvp_levels.append(level)
    _function.level_jvp = level_jvp


def pop_jvp_level():
    """The innermost torch.func.jvp ends."""
    jvp_levels.pop()
    if not jvp_levels:
        _function.level_jvp = None


def level_jvp(cls, ctx, args, outs):
    """``_user_jvp`` inside ``torch.func.jvp`` (the innermost one): the input tangents are
    that jvp's, and the outputs are tied to seeds it adds to its variables."""
    level = jvp_levels[-1]
    tangents = [level.tangent_of(a) if isinstance(a, Tensor) else None for a in args]
    forward_saved = getattr(ctx, "saved_for_forward", None)
    if forward_saved is None:
        given = cls.jvp(ctx, *tangents)
    else:
        kept = ctx.saved_, ctx.__dict__.get("_packed"), ctx._versions
        ctx.saved_, ctx._packed, ctx._versions = tuple(forward_saved), False, None
        try:
            given = cls.jvp(ctx, *tangents)
        finally:
            ctx.saved_, ctx._packed, ctx._versions = kept
    given = given if isinstance(given, tuple) else (given,)
    cut = _jvp_only(cls)        # no backward: the outputs keep no graph through it
    tied = []
    for o, g in zip(outs, given):
        if isinstance(o, Tensor) and isinstance(g, Tensor) and (o._requires_grad or cut):
            o, seed = _tie(o.detach() if cut else o, g, register=False)
            level.extra.append((seed, g))
        tied.append(o)
    return tied + list(outs[len(tied):])


def _tie(value, tangent, register=True):
    """``value`` (a recorded output) carrying ``tangent`` from now on (see UserTangent);
    with ``register`` False, (that tensor, its seed), for a ``JvpLevel``."""
    if tuple(tangent.shape) != tuple(value.shape):
        raise RuntimeError(
            "Trying to set a forward gradient that has a different size than that of the "
            f"original Tensor, this is not supported. Tensor is of size {_size(value)} while "
            f"the given forward gradient is of size {_size(tangent)}.")
    seed = Tensor._wrap(backend.xp_of(value._array).zeros_like(value._array))
    seed.requires_grad_(True)
    with enable_grad():
        tied = UserTangent.apply(value, seed)
    tied._vcounter = value._vcounter
    if not register:
        return tied, seed
    _duals.append((seed, tangent, tied.grad_fn, value.detach()))
    return tied


# ----------------------------------------------------------------------------------------------
# Levels
# ----------------------------------------------------------------------------------------------
def enter_dual_level():
    """Open a forward-AD level and return its number (0: only one may be open at a time)."""
    global _current_level
    if _current_level >= 0:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _current_level = 0
    _duals.clear()
    _function.dual_carrier = _carries_tangent     # custom Functions check their inputs
    _function.dual_jvp = _user_jvp
    return _current_level


def exit_dual_level(*, level=None):
    """Close the level (the last one opened): every tangent made in it is forgotten."""
    global _current_level
    if level is None:
        level = _current_level
    if level != _current_level:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that "
                           "was created. This is not supported.")
    if level < 0:
        raise RuntimeError("Dual level must be a positive number.")
    _duals.clear()
    _current_level = level - 1
    _function.dual_carrier = None
    _function.dual_jvp = None


class dual_level:
    """Context manager (or function decorator) that opens a forward-AD level for its body;
    ``with dual_level() as level`` gives the level's number."""

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, *exc):
        exit_dual_level()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


# ----------------------------------------------------------------------------------------------
# Dual tensors
# ----------------------------------------------------------------------------------------------
def make_dual(tensor, tangent, *, level=None):
    """A tensor with ``tensor``'s values (sharing its memory) that carries ``tangent`` (same
    shape) at the current level; ``unpack_dual`` of anything computed from it gives J tangent."""
    if level is None:
        level = _current_level
    if level < 0:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, "
                           "make sure to enter_dual_level() first.")
    if level != _current_level:
        raise RuntimeError("Invalid level given to _make_dual")
    for what, t in (("primal", tensor), ("tangent", tangent)):
        if t._array.dtype.kind not in "fc":
            raise ValueError(f"Expected {what} to be floating point or complex, but got: "
                             f"{t.dtype}")
    if tuple(tangent.shape) != tuple(tensor.shape):
        raise RuntimeError(
            "Trying to set a forward gradient that has a different size than that of the "
            f"original Tensor, this is not supported. Tensor is of size {_size(tensor)} while "
            f"the given forward gradient is of size {_size(tangent)}.")
    if _graph_reaches(tensor, _seed_ids())[0]:
        raise RuntimeError("Making a dual Tensor based on a Tensor that already has a forward "
                           f"gradient at the same level {level} is not supported.")
    seed = Tensor._wrap(backend.xp_of(tensor._array).zeros_like(tensor._array))
    seed.requires_grad_(True)
    with enable_grad():         # the link to the seed is the tangent: always recorded
        dual = MakeDual.apply(tensor, seed)
    # it shares the memory, so it shares the version counter: a saved tensor overwritten
    # through either is caught
    dual._vcounter = tensor._vcounter
    if tensor._requires_grad and tensor.grad_fn is None:
        # PyTorch's dual is a view of the leaf, which may not be written in place
        dual.__dict__["_inplace_refusal"] = ("a view of a leaf Variable that requires grad is "
                                             "being used in an in-place operation.")
    _duals.append((seed, tangent, dual.grad_fn, tensor))
    return dual


def unpack_dual(tensor, *, level=None):
    """``(primal, tangent)`` of ``tensor`` at the level: the tangent is J v summed over the
    duals it was computed from (zeros if it depends on them only through constants), None
    when it was not computed from any dual, or outside a level."""
    if level is None:
        level = _current_level
    if level < 0:
        return UnpackedDualTensor(tensor, None)
    if not isinstance(tensor, Tensor):
        raise TypeError(f"_unpack_dual(): argument 'dual' (position 1) must be Tensor, not "
                        f"{type(tensor).__name__}")
    seeds = [entry[0] for entry in _duals]
    reaches_seed, reaches_other = _graph_reaches(tensor, {id(s) for s in seeds})
    if not reaches_seed:
        return UnpackedDualTensor(tensor, None)
    if level != _current_level:     # as PyTorch, checked only for a tensor with a tangent
        raise RuntimeError("Invalid level given to _fw_primal")
    for seed, tangent, node, primal in _duals:
        if tensor.grad_fn is node:              # a dual itself: its tangent as given
            return UnpackedDualTensor(primal.view_as(primal), tangent)
    keep_graph = is_grad_enabled() and (
        reaches_other or any(entry[1]._requires_grad for entry in _duals))
    with enable_grad():
        u, vjps = _vjps_at_zero(tensor, seeds)
        # sum_i Re <g_i, v_i>: a real number linear in u, whose gradient in u is J v
        terms = [_real_dot(g, v) for g, (_, v, _, _) in zip(vjps, _duals) if g is not None]
        # (no terms: every seed's VJP is None, as for a norm of order 0: a zero tangent)
        total = functools.reduce(lambda a, b: a + b, terms) if terms else None
    if total is not None and total._requires_grad:
        jvp, = grad(total, u, create_graph=keep_graph, allow_unused=True)
    else:
        jvp = None                  # the VJP ignores u: the derivative is zero
    if jvp is None:
        jvp = Tensor._wrap(backend.xp_of(tensor._array).zeros_like(tensor._array))
    if not keep_graph:
        return UnpackedDualTensor(tensor.detach() if not reaches_other else tensor,
                                  jvp.detach())
    return UnpackedDualTensor(tensor, jvp)


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------
def _size(t):
    return "[" + ", ".join(str(n) for n in t.shape) + "]"


def _carries_tangent(tensors):
    """Whether one of ``tensors`` was computed from a dual of the open level."""
    return bool(_duals) and _graph_reaches_any(tensors, _seed_ids())


def _graph_reaches_any(tensors, seed_ids):
    return any(id(leaf) in seed_ids for leaf in reachable_leaves(tensors))


def _seed_ids():
    return {id(entry[0]) for entry in _duals}


def _real_dot(g, v):
    """Re sum(conj(g) v), a real scalar (g, v of the same shape)."""
    if g._array.dtype.kind == "c":
        g = g.conj()
    prod = (g * v).sum()
    return prod.real if prod._array.dtype.kind == "c" else prod


def _graph_reaches(t, seed_ids):
    """(whether ``t``'s graph reaches one of the seeds, whether it reaches another tensor
    that requires grad), from the leaves ``t`` depends on."""
    reaches_seed = reaches_other = False
    for leaf in reachable_leaves([t]):
        if id(leaf) in seed_ids:
            reaches_seed = True
        else:
            reaches_other = True
    return reaches_seed, reaches_other
