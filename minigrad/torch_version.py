"""``torch.torch_version``: ``TorchVersion``, the type of ``minigrad.__version__``.

A ``str`` that compares as a version (PEP 440) against strings and tuples of numbers: ``TorchVersion("1.10.0") > "1.9"`` is True where plain string
comparison says False, and ``TorchVersion("2.1") >= (2, 0)`` works. A string that is no valid
version on either side falls back to string comparison, as PyTorch's does. ``!=`` stays str's.
"""
from __future__ import annotations

import re

__all__ = ["TorchVersion"]

# PEP 440's public grammar: [N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local], with the spellings it
# normalises (alpha, beta, c, pre, preview, rev, r, "-N" for a post release, separators - _ .)
_PATTERN = re.compile(r"""
    \s*v?
    (?:(?P<epoch>\d+)!)?
    (?P<release>\d+(?:\.\d+)*)
    (?:[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>\d+)?)?
    (?:-(?P<post_n1>\d+)|[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>\d+)?)?
    (?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>\d+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
    \s*""", re.VERBOSE | re.IGNORECASE)
_PRE_RANK = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}
_INF = float("inf")


class _InvalidVersion(ValueError):
    """A string that is no PEP 440 version."""


def _sort_key(text):
    """The tuple PEP 440 orders ``text`` by: epoch, release (trailing zeros dropped), pre
    release (a < b < rc < final; a bare dev release before all of them), post, dev, local."""
    m = _PATTERN.fullmatch(text)
    if m is None:
        raise _InvalidVersion(text)
    release = [int(p) for p in m["release"].split(".")]
    while release and release[-1] == 0:
        release.pop()
    has_post = m["post_n1"] is not None or m["post_l"] is not None
    if m["pre_l"] is not None:
        pre = (_PRE_RANK[m["pre_l"].lower()], int(m["pre_n"] or 0))
    else:   # 1.0.dev0 < 1.0a0 < 1.0; 1.0.post0.dev0 is after 1.0
        pre = (-1, 0) if m["dev_l"] is not None and not has_post else (3, 0)
    post = int(m["post_n1"] or m["post_n2"] or 0) if has_post else -1
    dev = int(m["dev_n"] or 0) if m["dev_l"] is not None else _INF
    if m["local"] is None:
        local = (0,)
    else:   # numeric segments sort after alphanumeric ones, and by value
        local = (1, *((int(s), "") if s.isdigit() else (-_INF, s.lower())
                      for s in re.split(r"[-_.]", m["local"])))
    return int(m["epoch"] or 0), tuple(release), pre, post, dev, local


def _as_version_text(other):
    """``other`` as version text: a str as is, an iterable of numbers joined with dots
    ((1, 20) -> "1.20")."""
    if isinstance(other, str):
        return other
    try:
        return ".".join(str(part) for part in other)
    except TypeError:
        raise _InvalidVersion(other) from None


class TorchVersion(str):
    """A version string comparing as a version with ``<``, ``<=``, ``==``, ``>=``, ``>``."""

    __slots__ = ()

    def _compare(self, other, method):
        try:
            mine, theirs = _sort_key(self), _sort_key(_as_version_text(other))
        except _InvalidVersion:
            return getattr(str, method)(self, other)    # not versions: compare as strings
        return getattr(mine, method)(theirs)

    def __lt__(self, other):
        return self._compare(other, "__lt__")

    def __le__(self, other):
        return self._compare(other, "__le__")

    def __eq__(self, other):
        return self._compare(other, "__eq__")

    def __ge__(self, other):
        return self._compare(other, "__ge__")

    def __gt__(self, other):
        return self._compare(other, "__gt__")

    __hash__ = str.__hash__     # defining __eq__ would otherwise drop it: keep str's
