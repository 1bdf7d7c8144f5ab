"""``minigrad.nn.factory_kwargs``: tidy the ``device``/``dtype``/``memory_format`` keywords a
layer's constructor received into one dict for ``minigrad.empty`` and the other factories."""
from __future__ import annotations

_FACTORY_KEYS = ("device", "dtype", "memory_format")


def factory_kwargs(kwargs):
    """Return a new dict with the factory keywords found in ``kwargs`` (a dict or ``None``).

    Besides ``device``, ``dtype`` and ``memory_format``, ``kwargs`` may hold a
    ``factory_kwargs`` dict, whose entries come first in the result (they are not checked).
    Any other key raises ``TypeError``, as does a key given both directly and inside
    ``factory_kwargs``.
    """
    if kwargs is None:
        return {}
    stray = set(kwargs.keys()) - set(_FACTORY_KEYS) - {"factory_kwargs"}
    if stray:
        raise TypeError(f"unexpected kwargs {stray}")
    merged = dict(kwargs.get("factory_kwargs", {}))
    for key in _FACTORY_KEYS:
        if key not in kwargs:
            continue
        if key in merged:
            raise TypeError(f"{key} specified twice, in **kwargs and in factory_kwargs")
        merged[key] = kwargs[key]
    return merged
