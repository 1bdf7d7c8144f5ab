"""Complex conjugation: ``conj``, ``conj_physical`` (and its in-place form), ``resolve_conj``,
``resolve_neg``, ``is_conj``, ``is_neg`` and ``adjoint``.

conj(x + iy) = x - iy.  PyTorch's ``conj`` returns a lazy view (a flag on the same memory);
numpy has no such view, so minigrad's ``conj`` writes the conjugate out, as ``conj_physical``
does, and ``is_conj`` is always False (``resolve_conj`` has nothing to resolve).  On a real
tensor every one of them returns the tensor itself, as PyTorch's do.  The gradient of a
conjugate is the conjugate of the gradient (``plumbing.Conj``).
"""
from __future__ import annotations

from .._warn_once import warn_user
from .movement import transpose
from .plumbing import Conj, conj_of
from ..autograd.grad_mode import is_grad_enabled
from .writes import apply_inplace

__all__ = ["conj", "conj_physical", "conj_physical_", "resolve_conj", "resolve_neg", "is_conj", "is_neg", "adjoint"]


def conj(input):
    """The complex conjugate x - iy (a new tensor); a real tensor itself."""
    return conj_of(input)


def conj_physical(input):
    """The complex conjugate written out; a real tensor itself."""
    return conj_of(input)


def conj_physical_(input):
    """Conjugate ``input`` in place; returns it (a real tensor is left as it is)."""
    if input._array.dtype.kind != "c" and not (is_grad_enabled() and input._requires_grad):
        return input
    # (a real tensor that requires grad too: nothing changes, but PyTorch records the write,
    # refusing a leaf or a view of one)
    return apply_inplace(input, Conj)


def resolve_conj(input):
    """``input`` with a pending lazy conjugation applied: minigrad's conjugates are never
    lazy, so ``input`` itself."""
    return input


def resolve_neg(input):
    """``input`` with a pending lazy negation applied; minigrad has none: itself."""
    return input


def is_conj(input):
    """Whether ``input`` carries a lazy conjugation: never in minigrad (see the module)."""
    return False


def is_neg(input):
    """Whether ``input`` carries a lazy negation: never in minigrad."""
    return False


def adjoint(input):
    """The conjugate transpose of the last two dims: conj(transpose(-2, -1)), the transpose
    alone (a view) for a real tensor; a 0-d tensor's conjugate (itself when real), with
    PyTorch's deprecation warning."""
    if input.ndim == 0:
        warn_user("adjoint() is deprecated on 0-D tensors. Consider using x.conj().",
                  UserWarning)
        return conj_of(input)
    if input.ndim < 2:
        raise RuntimeError(f"tensor.adjoint() is only supported on matrices or batches of "
                           f"matrices. Got {input.ndim}-D tensor.")
    return conj_of(transpose(input, -2, -1))
