"""The distances of ``minigrad.nn.functional``, kept apart from ``_functional_losses.py``
(whose triplet loss uses ``pairwise_distance``):

    cosine_similarity   sum(x1 x2) / (max(||x1||, eps) max(||x2||, eps)) along ``dim``
    pairwise_distance   ||x1 - x2 + eps||_p along the last dim
    normalize           input / max(||input||_p, eps) along ``dim``

Composed of tensor ops (or a fused node whose backward is), so autograd differentiates them
to any order; arguments and errors are PyTorch's.
"""
from __future__ import annotations

from ..autograd._node_names import rename_node
from ..ops._cosine_similarity import composed_cosine_similarity, fused_cosine_similarity
from ..ops.plumbing import Expand
from ..ops.pointwise_select import where
from ..ops.relu_clamp import clamp_min
from ..ops.extrema import amax
from ..ops.norms import vector_norm
from ..ops._util import (
    argument_error, dim_like, float_arg, result_dtype as _result_dtype,
    scalar_type_name as _scalar_type_name)
from ..functional import broadcast_tensors
from ..dtypes import from_numpy_dtype
from ..tensor import Tensor

__all__ = ["cosine_similarity", "pairwise_distance", "normalize"]


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2) / (max(||x1||, eps) max(||x2||, eps)) along ``dim`` (inputs broadcast)."""
    if not dim_like(dim) or isinstance(dim, Tensor) and dim._array.dtype.kind == "b":
        # PyTorch's argument parser refuses it before any other check
        raise argument_error("cosine_similarity", "dim", "int", dim, 3)
    eps = float_arg("cosine_similarity", "eps", eps, 4)
    if isinstance(x1, Tensor) and isinstance(x2, Tensor):
        common = _result_dtype(x1, x2)
        if common.kind not in "fV":
            raise RuntimeError(f"expected common dtype to be floating point, yet common dtype "
                               f"is {_scalar_type_name(common)}")
        # an integer input becomes the common float dtype; a floating one keeps its own
        x1, x2 = (x if x._array.dtype.kind in "fV" else x.to(from_numpy_dtype(common))
                  for x in (x1, x2))
    if not eps >= 0:                       # (NaN too, as PyTorch)
        raise RuntimeError(f"eps must be non-negative, got: {eps:g}")
    if isinstance(x1, Tensor) and isinstance(x2, Tensor):
        fused = fused_cosine_similarity(x1, x2, dim, eps)   # (one node, the same values)
        if fused is not None:
            return fused
    x1, x2 = broadcast_tensors(x1, x2)
    if all(x._array.dtype.kind == "f" and x._array.dtype.itemsize >= 4 for x in (x1, x2)):
        # each input divided by its norm in its own dtype (the clamp to eps unrecorded, as
        # PyTorch's), and their product promotes
        return composed_cosine_similarity(x1, x2, dim, eps)
    return (normalize(x1, 2.0, dim, eps) * normalize(x2, 2.0, dim, eps)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p along the last dimension (eps avoids the norm's kink at 0)."""
    # PyTorch records the norm(p, dim) overload: NormBackward1, its dim the last one counted
    # from the front (as a refusal names it)
    last = max(x1.ndim, x2.ndim) - 1
    if isinstance(eps, int) or isinstance(eps, Tensor) and eps.ndim == 0:
        eps = float(eps)        # (PyTorch's eps is a double: integer inputs give a float norm)
    return rename_node((x1 - x2 + eps).norm(p, dim=last, keepdim=keepdim), "NormBackward1")


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """input / max(||input||_p along dim, eps).

    A zero vector (or a zero element, for p < 1) must not put inf * 0 = nan into the gradient
    through |x|^p or s^(1/p), whose derivatives are infinite at 0: as PyTorch's norm, those
    zeros get no gradient through the norm, so a zero vector's gradient is g / eps.
    """
    if isinstance(input, Tensor) and input._array.dtype.kind not in "fcV":
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {_scalar_type_name(input._array.dtype)}")
    # clamp: the gradient reaches norm at norm = eps; expanded to input's shape before the
    # division, as PyTorch's (its graph has that ExpandBackward0)
    denom = Expand.apply(clamp_min(_norm_along(input, p, dim), eps), shape=tuple(input.shape))
    return input / denom


def _norm_along(input, p, dim):
    """||input||_p along ``dim``, kept as a size-1 dim, for ``normalize``."""
    if p is None or p == "fro":             # as Tensor.norm reads them (PyTorch's normalize
        p = 2                               # calls it)
    elif isinstance(p, str):
        return input.norm(p, dim, keepdim=True)     # 'nuc', or its error for another name
    if (p == 2 or p < 0 or p == float("inf") and input.numel() == 0
            or input._array.dtype.itemsize == 2):
        # the usual case as PyTorch computes it, the 2-norm (sqrt of the sum of squares, its
        # gradient 0 at a zero vector): four passes where the general form below makes nine;
        # and the negative orders, whose zero elements make the norm 0 (and inf over no
        # element: its refusals); and every order of a float16/bfloat16 input, whose norm
        # (with its rounding) is the linalg one's
        return vector_norm(input, p, dim, keepdim=True)
    size = input.abs()
    if p == 0:            # the count of non-zeros (a step function of x: no gradient)
        return (size != 0).to(size.dtype).sum(dim, keepdim=True)      # real, as |x|
    if p == float("inf"):
        return amax(size, dim, keepdim=True)
    nonzero = size._array > 0
    powered = where(nonzero, where(nonzero, size, 1.0) ** p, 0.0)      # |x|^p, 0 at 0
    total = powered.sum(dim, keepdim=True)
    positive = total._array > 0
    return where(positive, where(positive, total, 1.0) ** (1.0 / p), 0.0)
