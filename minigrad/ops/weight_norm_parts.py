"""``torch.norm_except_dim`` and ``torch._weight_norm``: the pieces of the older weight
normalisation (``w = g * v / ||v||``, the norm taken over every dimension but one), composed
of differentiable ops.
"""
from __future__ import annotations

from ..tensor import Tensor

__all__ = ["norm_except_dim", "_weight_norm"]


def _check_int(value, what, position, name):
    """PyTorch's TypeError for a non-int where its signature says int (bool refused too)."""
    if type(value) is not int:
        raise TypeError(f"{name}(): argument '{what}' (position {position}) must be int, not "
                        f"{type(value).__name__}")


def norm_except_dim(v: Tensor, pow=2, dim: int = 0) -> Tensor:
    """The ``pow``-norm of ``v`` over all dimensions but ``dim``, shaped to broadcast against
    ``v``: size ``v.shape[dim]`` at ``dim`` and 1 elsewhere, e.g. (out, 1, 1, 1) for a
    convolution weight and dim=0.  dim=-1 means no dimension is kept: the norm of the whole
    tensor, a 0-d tensor (PyTorch's convention; another negative dim counts from the end).
    ``pow`` and ``dim`` are ints, as in PyTorch's signature."""
    _check_int(pow, "pow", 2, "norm_except_dim")
    _check_int(dim, "dim", 3, "norm_except_dim")
    return _norm_except(v, pow, dim)


def _norm_except(v, pow, dim):
    if dim == -1:
        return v.norm(pow)
    n = v.dim()
    if dim == 0:
        keep = v.shape[0]
        return v.reshape(keep, -1).norm(pow, dim=1).reshape((keep,) + (1,) * (n - 1))
    if dim == n - 1:
        keep = v.shape[-1]
        return v.reshape(-1, keep).norm(pow, dim=0).reshape((1,) * (n - 1) + (keep,))
    # any other dim: moved to the front and back (transpose's errors for one out of range)
    return _norm_except(v.transpose(0, dim), pow, 0).transpose(0, dim)


def _weight_norm(v: Tensor, g: Tensor, dim: int = 0) -> Tensor:
    """``v * (g / norm_except_dim(v, 2, dim))``: the weight of a weight-normalised layer from
    its direction ``v`` and magnitude ``g`` (shaped like the norm)."""
    _check_int(dim, "dim", 3, "_weight_norm")
    return v * (g / _norm_except(v, 2, dim))
