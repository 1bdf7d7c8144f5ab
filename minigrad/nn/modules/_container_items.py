"""How the containers of ``container.py`` take, index and describe their items: the
(key, value) pairs an ``update`` adds, a checked list index, renumbering children after a
delete or an insert, ParameterDict's key check, the conversion of a plain tensor to a
Parameter, and the one-line summary of a parameter in a ParameterList's / ParameterDict's
repr.
"""
from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping

from ...tensor import Tensor
from ..parameter import Parameter
from .module import _typename


def _update_pairs(kind, source, keep_order, sort_other_mappings=False):
    """The (key, value) pairs that ``<kind>.update(source)`` adds, in PyTorch's order and
    with its errors: a mapping of a ``keep_order`` type gives its items in order (another
    mapping too, unless ``sort_other_mappings``: then sorted by key, as ParameterDict does
    with a plain dict); any other iterable must hold (key, value) pairs."""
    if isinstance(source, keep_order):
        return list(source.items())
    if isinstance(source, Mapping):
        return sorted(source.items()) if sort_other_mappings else list(source.items())
    pairs = []
    for j, pair in enumerate(source):
        if not isinstance(pair, Iterable):
            raise TypeError(f"{kind} update sequence element #{j} should be Iterable; is"
                            f"{type(pair).__name__}")
        if len(pair) != 2:
            raise ValueError(f"{kind} update sequence element #{j} has length {len(pair)}; "
                             "2 is required")
        pairs.append((pair[0], pair[1]))
    return pairs


def _index(idx, size):
    idx = operator.index(idx)
    if not -size <= idx < size:
        raise IndexError(f"index {idx} is out of range")
    return idx % size


def _renumber(container, modules):
    """Make ``modules`` the container's children, keyed 0..n-1 (as PyTorch after a delete or
    an insert)."""
    container._modules.clear()
    for i, module in enumerate(modules):
        container._modules[str(i)] = module


def _parameter_dict_key(key):
    """A ParameterDict key, which must be a str (it becomes an attribute name)."""
    if not isinstance(key, str):
        raise TypeError("Index given to ParameterDict cannot be used as a key as it is not a "
                        f"string (type is '{type(key).__name__}'). Open an issue on github if "
                        "you need non-string keys.")
    return key


def _as_parameter(value):
    """A plain tensor becomes a Parameter (sharing its memory and requires_grad flag)."""
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value, requires_grad=value.requires_grad or value.grad_fn is None)
    return value


def _describe(p, name_style):
    """'Parameter containing: [minigrad.float32 of size 2x3]' (PyTorch's summary line);
    ``name_style`` 'dtype' or 'type' picks how the element type is named."""
    if not isinstance(p, Tensor):
        return f"Object of type: {type(p).__name__}"
    size = "x".join(str(s) for s in p.shape)
    kind = f"minigrad.{p.dtype.name}" if name_style == "dtype" else _typename(p)
    where = "" if p.device.type == "cpu" else f" ({p.device.type.upper()} {p.device.index})"
    head = "Parameter containing" if isinstance(p, Parameter) else "Tensor"
    return f"{head}: [{kind} of size {size}{where}]"
