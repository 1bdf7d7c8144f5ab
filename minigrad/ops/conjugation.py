"""Complex-conjugation API on minigrad's real tensors: ``conj``, ``conj_physical``,
``resolve_conj``, ``resolve_neg``, ``is_conj``, ``is_neg`` and ``adjoint``.

minigrad has no complex dtypes, so conjugation is the identity: conj, conj_physical (and its
in-place form), resolve_conj and resolve_neg return the tensor itself, as PyTorch does for a
real tensor, and is_conj / is_neg are False.  adjoint is the conjugate
transpose, here transpose(-2, -1), a view of an at-least-2-d tensor.
"""
from __future__ import annotations

from .movement import transpose

__all__ = ["conj", "conj_physical", "conj_physical_", "resolve_conj", "resolve_neg", "is_conj", "is_neg", "adjoint"]


def conj(input):
    """The complex conjugate: ``input`` itself for a real tensor."""
    return input


def conj_physical(input):
    """The conjugate written out (no lazy flag): ``input`` itself for a real tensor."""
    return input


def conj_physical_(input):
    """In-place conj_physical: nothing to change in a real tensor; returns ``input``."""
    return input


def resolve_conj(input):
    """``input`` with a pending lazy conjugation applied; a real tensor has none: itself."""
    return input


def resolve_neg(input):
    """``input`` with a pending lazy negation applied; minigrad has none: itself."""
    return input


def is_conj(input):
    """Whether ``input`` carries a lazy conjugation: never, for real tensors."""
    return False


def is_neg(input):
    """Whether ``input`` carries a lazy negation: never in minigrad."""
    return False


def adjoint(input):
    """The conjugate transpose of the last two dims (transpose(-2, -1) for real tensors)."""
    if input.ndim < 2:
        raise RuntimeError(f"tensor.adjoint() is only supported on matrices or batches of "
                           f"matrices. Got {input.ndim}-D tensor.")
    return transpose(input, -2, -1)
