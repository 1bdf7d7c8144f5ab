"""``functional_call``: run a module with other tensors standing in for its parameters and
buffers (``torch.nn.utils.stateless``; ``minigrad.func.functional_call`` is the newer
spelling).

    out = functional_call(model, {"weight": w, "bias": b}, (x,))

For the duration of the call each named entry of the module (a parameter, a buffer, or,
with ``strict=False``, any attribute) is swapped for the given tensor; afterwards, even when
the forward raises, the originals are put back. Nothing is copied, so gradients flow to the
given tensors: ``grad(loss(functional_call(m, params, x)), params)`` is how meta-learning
code differentiates through a module with "fast weights".
"""
from __future__ import annotations

import contextlib

from ..._warn_once import warn_user
from ...tensor import Tensor

__all__ = ["functional_call"]

_MISSING = object()


def _tied_names(module):
    """name -> the list of all names sharing that parameter/buffer object (tied weights)."""
    by_id = {}
    entries = list(module.named_parameters(remove_duplicate=False)) + \
        list(module.named_buffers(remove_duplicate=False))
    for name, t in entries:
        by_id.setdefault(id(t), []).append(name)
    return {name: names for names in by_id.values() for name in names}


def _expand_tied(module, values, tie_weights):
    """``values`` with every tied name filled in from the one given (PyTorch's tie_weights),
    after checking that tied names were not given different tensors."""
    if not tie_weights:
        return dict(values)
    tied = _tied_names(module)
    out = dict(values)
    for name in values:
        group = tied.get(name, [name])
        given = [n for n in group if n in values]
        if len(given) > 1 and any(values[n] is not values[given[0]] for n in given):
            raise ValueError(f"functional_call got multiple values for keys {sorted(given)}, "
                             "which are tied. Consider using tie_weights=False")
        for n in group:
            out.setdefault(n, values[name])
    return out


def _check_strict(module, values):
    names = set(_tied_names(module))
    unexpected = [n for n in values if n not in names]
    missing = sorted(n for n in names if n not in values)
    errors = []
    if unexpected:
        errors.append("Unexpected key(s): " + ", ".join(repr(n) for n in unexpected) + ".")
    if missing:
        errors.append("Missing key(s): " + ", ".join(repr(n) for n in missing) + ".")
    if errors:
        raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}:\n\t"
                           + "\n\t".join(errors))


def _owner(module, name):
    """(submodule, attribute) for a dotted name such as ``'layers.0.weight'``."""
    *path, attr = name.split(".")
    owner = module
    for part in path:
        child = owner._modules.get(part) if "_modules" in owner.__dict__ else None
        if child is None:
            raise AttributeError(f"{type(owner).__name__} has no attribute `{part}`")
        owner = child
    return owner, attr


def _swap(owner, attr, value):
    """Put ``value`` in place of ``owner.attr`` without Module's type checks; return what
    was there and where, to restore it."""
    for registry in (owner._parameters, owner._buffers):
        if attr in registry:
            old = registry[attr]
            registry[attr] = value
            return registry, old
    old = owner.__dict__.get(attr, _MISSING)
    owner.__dict__[attr] = value
    return owner.__dict__, old


@contextlib.contextmanager
def reparametrized(module, values, tie_weights=True, strict=False):
    """Context manager: ``module`` with ``values`` (name -> tensor) swapped in."""
    values = _expand_tied(module, values, tie_weights)
    if strict:
        _check_strict(module, values)
    restore = []
    try:
        for name, value in values.items():
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"{value} is not an instance of torch.Tensor")
            owner, attr = _owner(module, name)
            restore.append((attr,) + _swap(owner, attr, value))
        yield module
    finally:
        for attr, registry, old in reversed(restore):
            if old is _MISSING:
                del registry[attr]
            else:
                registry[attr] = old


def functional_call(module, parameters_and_buffers, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """``module(*args, **kwargs)`` with ``parameters_and_buffers`` (name -> tensor) standing
    in for the module's own tensors, restored afterwards.

    ``args``: a tuple of positional arguments, or a single one. ``tie_weights``: a tensor
    given for one of several tied names (the same Parameter registered twice) is used for
    all of them. ``strict``: every parameter and buffer must be given, and nothing else.
    """
    warn_user("`minigrad.nn.utils.stateless.functional_call` is deprecated (as "
              "`torch.nn.utils.stateless.functional_call` is since PyTorch 2.0): use "
              "`minigrad.func.functional_call` instead, which is a drop-in replacement.",
              FutureWarning)
    return call_with(module, parameters_and_buffers, args, kwargs, tie_weights, strict)


def call_with(module, values, args, kwargs, tie_weights, strict):
    """The call itself, without the deprecation warning (``minigrad.func`` uses it)."""
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with reparametrized(module, values, tie_weights, strict):
        return module(*args, **(kwargs or {}))
