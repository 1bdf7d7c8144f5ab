"""``torch.SymInt``, ``torch.SymFloat`` and ``torch.SymBool``: the symbolic sizes of traced
programs.

minigrad runs eagerly and its shapes are always plain ints, so it never makes one of these;
they exist so that library code written as ``isinstance(n, (int, torch.SymInt))`` runs (and
takes the plain-value branch, as it does under eager PyTorch).
"""
__all__ = ["SymInt", "SymFloat", "SymBool"]


class _Symbolic:
    """A symbolic value: ``node`` is what a tracer would record for it."""

    __slots__ = ("node",)

    def __init__(self, node):
        self.node = node

    def __repr__(self):
        return f"{type(self).__name__}({self.node!r})"


class SymInt(_Symbolic):
    """An int that a tracer leaves symbolic (never made by minigrad)."""


class SymFloat(_Symbolic):
    """A float that a tracer leaves symbolic (never made by minigrad)."""


class SymBool(_Symbolic):
    """A bool that a tracer leaves symbolic (never made by minigrad)."""
