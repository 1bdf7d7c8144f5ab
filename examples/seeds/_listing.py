"""Run a tutorial's code listing *unchanged* on minigrad -- or on PyTorch, to compare.

The seed documents' listings are kept in the scripts as strings, character for character as
the documents print them.  ``Notebook.run`` executes one the way a Jupyter cell runs:

  * every cell shares one namespace (``X`` defined in one cell is seen by the next);
  * a cell whose last statement is an expression displays that value (``corr2d(X, K)`` prints
    ``tensor([[19., 25.], [37., 43.]])`` as the notebook's ``Out[11]``);
  * with ``lib="minigrad"`` (the default) the only change made to the code is the drop-in import:
    ``import torch`` runs as ``import minigrad as torch``, ``import torch.nn as nn`` as
    ``import minigrad.nn as nn``, ``from torch import nn`` as ``from minigrad import nn`` and
    ``from torch.nn import functional as F`` as ``from minigrad.nn import functional as F``.
    With ``lib="torch"`` nothing is changed at all, so a test can run the same cell on both.

Lines that need a library minigrad does not replace (matplotlib, scipy) are left out only when
the caller names them in ``omit=``; nothing else is ever edited.
"""
from __future__ import annotations

import ast
import re

_IMPORT = re.compile(r"^(?P<indent>\s*)import torch(?P<sub>(\.\w+)*)(?P<alias>\s+as\s+\w+)?\s*$")
_FROM = re.compile(r"^(?P<indent>\s*)from torch(?P<sub>(\.\w+)*)\s+import\s+(?P<rest>.+)$")


def drop_in(source: str, lib: str = "minigrad") -> str:
    """``source`` with its ``torch`` imports pointed at ``lib`` (unchanged for lib='torch')."""
    if lib == "torch":
        return source
    out = []
    for line in source.splitlines():
        m = _IMPORT.match(line)
        if m:
            alias = m["alias"] or (" as torch" if not m["sub"] else "")
            if m["sub"] and not m["alias"]:
                # ``import torch.nn`` binds the name ``torch``: bind it to minigrad, as PyTorch
                line = f"{m['indent']}import {lib}{m['sub']}; import {lib} as torch"
            else:
                line = f"{m['indent']}import {lib}{m['sub']}{alias}"
        else:
            m = _FROM.match(line)
            if m:
                line = f"{m['indent']}from {lib}{m['sub']} import {m['rest']}"
        out.append(line)
    return "\n".join(out) + "\n"


def omit_lines(source: str, modules) -> str:
    """``source`` without the lines that use one of ``modules`` (e.g. ``("plt", "scipy")``)."""
    words = tuple(modules)
    kept = [line for line in source.splitlines()
            if not any(re.search(rf"\b{re.escape(w)}\b", line) for w in words)]
    return "\n".join(kept) + "\n"


class Notebook:
    """One shared namespace in which listings run like notebook cells."""

    def __init__(self, lib: str = "minigrad", display: bool = True):
        self.lib = lib
        self.display = display
        self.ns: dict = {"__name__": f"seed_listing_{lib}"}

    def run(self, source: str, omit=(), display: bool | None = None):
        """Execute ``source`` (drop-in imports); return the value of a trailing expression."""
        if omit:
            source = omit_lines(source, omit)
        code = drop_in(source, self.lib)
        tree = ast.parse(code)
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, "<listing>", "exec"), self.ns)
        if last is None:
            return None
        value = eval(compile(last, "<listing>", "eval"), self.ns)
        if value is not None and (self.display if display is None else display):
            print(repr(value))
        return value


def run_listings(listings, lib: str = "minigrad", seed: int = 0) -> dict:
    """Seed ``lib``, run ``listings`` in order and return the notebook's namespace.

    Each entry is ``(title, source)`` or ``(title, source, omit)``, ``omit`` naming modules
    (matplotlib, scipy) whose lines are left out.
    """
    import importlib
    importlib.import_module(lib).manual_seed(seed)
    nb = Notebook(lib)
    for title, source, *omit in listings:
        print(f"\n## {title}")
        nb.run(source, omit=omit[0] if omit else ())
    return nb.ns
