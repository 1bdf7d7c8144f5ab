"""Argument helpers shared by the layers: ``_pair(3) == (3, 3)`` and friends."""
from __future__ import annotations

import collections.abc
from itertools import repeat

__all__ = ["_single", "_pair", "_triple", "_quadruple", "_ntuple", "_reverse_repeat_tuple",
           "factory_kwargs", "consume_prefix_in_state_dict_if_present"]


def _ntuple(n, name="parse"):
    def parse(x):
        if isinstance(x, collections.abc.Iterable):     # (a string too: its letters, as torch)
            return tuple(x)
        return tuple(repeat(x, n))
    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")
_quadruple = _ntuple(4, "_quadruple")


def _reverse_repeat_tuple(t, n):
    """Each element of ``t`` ``n`` times, last element first: ((1, 2), 2) -> (2, 2, 1, 1),
    the per-side padding ``F.pad`` wants from a per-dim padding."""
    return tuple(x for x in reversed(t) for _ in range(n))


def _list_with_default(out_size, defaults):
    """An adaptive pool's output size with each ``None`` taken from the input's matching
    trailing size in ``defaults``: ([None, 4], [7, 8, 9]) -> [8, 4]; an int passes as is.
    ``defaults`` (the input's shape) must be longer than ``out_size`` (``ValueError``)."""
    if isinstance(out_size, int):
        return out_size
    if len(defaults) <= len(out_size):
        raise ValueError(f"Input dimension should be at least {len(out_size) + 1}")
    tail = list(defaults)[len(defaults) - len(out_size):]
    return [given if given is not None else d for given, d in zip(out_size, tail)]


def factory_kwargs(device, dtype):
    """The ``device=``/``dtype=`` arguments every layer accepts, for ``minigrad.empty``."""
    return {"device": device, "dtype": dtype}


def consume_prefix_in_state_dict_if_present(state_dict, prefix):
    """Remove ``prefix`` from the start of every key of ``state_dict`` that has it, in place
    (a checkpoint of a model wrapped in DataParallel has keys 'module.<name>'); keys without
    the prefix are left alone, renamed keys move to the end.  Returns None."""
    for key in list(state_dict.keys()):
        if key.startswith(prefix):
            state_dict[key[len(prefix):]] = state_dict.pop(key)
    metadata = getattr(state_dict, "_metadata", None)
    if metadata is not None:
        # the wrapper's own entry ('module' for prefix 'module.') becomes the root ''
        for key in list(metadata.keys()):
            if not key:
                continue
            if key == prefix.rstrip(".") or key.startswith(prefix):
                new = "" if key == prefix.rstrip(".") else key[len(prefix):]
                metadata[new] = metadata.pop(key)
