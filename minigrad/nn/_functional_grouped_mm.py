"""``nn.functional.grouped_mm``: many matrix products of one shape family in one call, the
layout of Mixture-of-Experts layers, where each expert (group) gets a run of the tokens.

Four layouts, by the number of dimensions of ``mat_a`` and ``mat_b`` (``offs`` is a 1-d int32
tensor of ``G`` increasing end positions; group ``g`` spans ``offs[g-1]:offs[g]``, from 0):

* 2-d ``(M, K)`` with 3-d ``(G, K, N)``: rows of ``mat_a`` are split by ``offs``; the rows of
  group ``g`` are multiplied by ``mat_b[g]``. Result ``(M, N)``.
* 3-d ``(G, M, K)`` with 3-d ``(G, K, N)``, no ``offs``: a batched product, ``(G, M, N)``.
* 3-d ``(G, M, K)`` with 2-d ``(K, N)``: columns of ``mat_b`` are split by ``offs``; group
  ``g``'s columns come from ``mat_a[g] @ mat_b[:, span]``. Result ``(M, N)``.
* 2-d ``(M, K)`` with 2-d ``(K, N)``: the shared ``K`` is split by ``offs``;
  ``out[g] = mat_a[:, span] @ mat_b[span, :]``. Result ``(G, M, N)`` (weight gradients of MoE).

Rows (or columns) past ``offs[-1]`` belong to no group: PyTorch leaves them unset, minigrad
fills them with zeros. The products are minigrad ops, so gradients of any order flow.
"""
from __future__ import annotations

from ..ops._util import scalar_type_name
from ..ops.stacking import cat, stack

__all__ = ["grouped_mm"]

_ALLOWED = ("float32", "bfloat16", "float16")


def _check(mat_a, mat_b, offs, bias, out_dtype):
    """PyTorch's argument checks, in its words."""
    if mat_a.dim() not in (2, 3):
        raise RuntimeError("mat_a has to be 2 or 3d")
    if mat_b.dim() not in (2, 3):
        raise RuntimeError("mat_b has to be 2 or 3d")
    both_3d = mat_a.dim() == 3 and mat_b.dim() == 3
    if (offs is None) != both_3d:
        raise RuntimeError("Have to provide offsets if there is a 2d matrix, or no offset if "
                           "both matrices are 3d")
    if offs is not None:
        if offs.dim() != 1:
            raise RuntimeError("offs has to be 1D")
        if str(offs.dtype).rsplit(".", 1)[-1] != "int32":
            raise RuntimeError("Offsets have to be int32")
    if bias is not None:
        raise RuntimeError("Bias not supported yet")
    for label, mat in (("mat_a", mat_a), ("mat_b", mat_b)):
        if str(mat.dtype).rsplit(".", 1)[-1] not in _ALLOWED:
            raise RuntimeError(f"Expected {label} to be Float32, BFloat16 or Float16 matrix, "
                               f"got {scalar_type_name(mat.dtype)}")
    if out_dtype is not None and out_dtype != mat_a.dtype:
        raise RuntimeError("Grouped gemm output dtype must match `mat_a` dtype")
    if mat_a.shape[-1] != mat_b.shape[-2]:
        raise RuntimeError("contraction dimension of mat_a and mat_b must match")
    groups = offs.shape[0] if offs is not None else None
    if mat_a.dim() == 3 and mat_b.dim() == 3 and mat_a.shape[0] != mat_b.shape[0]:
        raise RuntimeError("batched dimension has to match")
    if (mat_a.dim() == 3 and mat_b.dim() == 2 and mat_a.shape[0] != groups) or \
            (mat_a.dim() == 2 and mat_b.dim() == 3 and mat_b.shape[0] != groups):
        raise RuntimeError("matrix batch sizes have to match")


def _spans(offs, length):
    """(start, stop) of each group, clipped to ``[0, length]``."""
    start, spans = 0, []
    for stop in offs.tolist():
        stop = min(max(int(stop), 0), length)
        spans.append((start, max(start, stop)))
        start = max(start, stop)
    return spans, start


def grouped_mm(mat_a, mat_b, *, offs=None, bias=None, out_dtype=None):
    """Grouped matrix product (see the module docstring for the four layouts).

    ``mat_a``, ``mat_b``: float32, bfloat16 or float16, same dtype; ``offs``: 1-d int32
    group ends (required unless both operands are 3-d); ``bias`` is not supported (as in
    PyTorch); ``out_dtype`` may only repeat ``mat_a``'s dtype.
    """
    _check(mat_a, mat_b, offs, bias, out_dtype)
    if offs is None:
        return mat_a @ mat_b
    if mat_a.dim() == 2 and mat_b.dim() == 3:
        spans, end = _spans(offs, mat_a.shape[0])
        parts = [mat_a[lo:hi] @ mat_b[g] for g, (lo, hi) in enumerate(spans)]
        if end < mat_a.shape[0]:
            parts.append(mat_a.new_zeros((mat_a.shape[0] - end, mat_b.shape[2])))
        return cat(parts, 0)
    if mat_a.dim() == 3:
        spans, end = _spans(offs, mat_b.shape[1])
        parts = [mat_a[g] @ mat_b[:, lo:hi] for g, (lo, hi) in enumerate(spans)]
        if end < mat_b.shape[1]:
            parts.append(mat_a.new_zeros((mat_a.shape[1], mat_b.shape[1] - end)))
        return cat(parts, 1)
    spans, _ = _spans(offs, mat_a.shape[1])
    return stack([mat_a[:, lo:hi] @ mat_b[lo:hi] for lo, hi in spans], 0)


def _grouped_mm(mat_a, mat_b, offs=None, bias=None, out_dtype=None):
    """``torch._grouped_mm``, the operator under ``grouped_mm`` that MoE code calls directly:
    the same product, ``offs``, ``bias`` and ``out_dtype`` also taken by position."""
    return grouped_mm(mat_a, mat_b, offs=offs, bias=bias, out_dtype=out_dtype)
