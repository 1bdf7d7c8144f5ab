"""``torch.func.rearrange``: einops' ``rearrange`` (a pattern such as ``"b (h w) c -> b c h w"``
says how axes are split, reordered and merged).

It is one reshape into the left side's elementary axes (every name, the ellipsis's axes),
one permute into the right side's order and one reshape into the right side's groups, so a
gradient flows through it as through those views.  ``1`` and ``()`` stand for an axis of
length one; ``...`` for the axes the pattern does not name.
"""
from __future__ import annotations

import math
import re

from .ops.stacking import stack
from .tensor import Tensor

__all__ = ["rearrange", "DimensionBindError"]

_ELLIPSIS = "..."
_TOKEN = re.compile(r"\.\.\.|\(|\)|[^\s()]+")


def _parse(side):
    """The groups of one side: a list per axis, holding its names (``...`` for an ellipsis
    in brackets), or the string ``...`` for a bare ellipsis (any number of axes); an axis of
    length one (``1``, ``()``) is an empty group."""
    if "." in side:
        if "..." not in side:
            raise ValueError("Expression may contain dots only inside ellipsis (...)")
        if side.count("...") != 1 or side.count(".") != 3:
            raise ValueError("Expression may contain dots only inside ellipsis (...); only one "
                             "ellipsis for tensor ")
    groups, current = [], None
    for token in _TOKEN.findall(side):
        if token == "(":
            if current is not None:
                raise ValueError("Axis composition is one-level (brackets inside brackets not "
                                 "allowed)")
            current = []
            continue
        if token == ")":
            if current is None:
                raise ValueError("Brackets are not balanced")
            groups.append(current)
            current = None
            continue
        if token.isdigit():
            if token != "1":
                raise ValueError("rearrange only supports unnamed axes of size 1")
            names = []
        elif token == _ELLIPSIS or token.isidentifier():
            names = [token]
        else:
            raise ValueError(f"Invalid axis identifier: {token}")
        if current is None:
            groups.append(_ELLIPSIS if token == _ELLIPSIS else names)
        else:
            current.extend(names)
    if current is not None:
        raise ValueError(f"Imbalanced parentheses in expression: '{side}'")
    flat = [n for g in groups for n in ([g] if g == _ELLIPSIS else g)]
    repeated = {n for n in flat if flat.count(n) > 1}
    if repeated:
        raise ValueError(f"Indexing expression contains duplicate dimension "
                         f"{sorted(repeated)[0]!r}")
    return groups, set(flat)


class DimensionBindError(Exception):
    """PyTorch's error (from its first-class dimensions, ``functorch.dim``) when the axis
    lengths of a rearrange pattern cannot be bound to the tensor's shape."""


def _sizes(groups, shape, n_ellipsis, lengths):
    """The length of every left-hand name, inferred from the tensor's shape and the given
    ``axes_lengths`` (one unknown per group at most).  PyTorch binds the names as first-class
    dimensions d0, d1, ... (numbered left to right, the ellipsis's axes among them) and its
    errors name them so."""
    sizes, dim, ids = dict(lengths), 0, {}
    for group in groups:
        for n in ([(_ELLIPSIS, i) for i in range(n_ellipsis)] if group == _ELLIPSIS else group):
            ids[n] = f"d{len(ids)}"
    for group in groups:
        if group == _ELLIPSIS:
            for i in range(n_ellipsis):
                sizes[(_ELLIPSIS, i)] = shape[dim + i]
            dim += n_ellipsis
            continue
        length, unknown = shape[dim], [n for n in group if n not in sizes]
        known = math.prod(sizes[n] for n in group if n in sizes)
        if len(unknown) > 1:
            raise DimensionBindError(f"cannot infer the sizes of two dimensions at once "
                                     f"{ids[unknown[0]]} and {ids[unknown[1]]}")
        if unknown:
            if length % known:          # (a known length of 0: ZeroDivisionError, as PyTorch)
                listed = tuple(sizes.get(n, "?") for n in group)
                raise DimensionBindError(f"inferred dimension does not evenly fit into larger "
                                         f"dimension: {length} vs {listed}")
            sizes[unknown[0]] = length // known
        elif known != length and not group:
            # (a unit axis over a longer one: PyTorch's first-class dims sum over it; refused)
            raise ValueError(f"Shape mismatch, {length} != 1")
        elif known != length:
            pack = "(" + ", ".join(ids[n] for n in group) + ("," if len(group) == 1 else "") + ")"
            raise DimensionBindError(f"Dimension sizes to do not match ({length} != {known}) "
                                     f"when matching dimension pack {pack}")
        dim += 1
    return sizes


def _elementary(groups, n_ellipsis):
    """The groups with the ellipsis written as its axes' keys: a bare one as that many
    groups, one in brackets inside its group."""
    keys = [(_ELLIPSIS, i) for i in range(n_ellipsis)]
    out = []
    for g in groups:
        if g == _ELLIPSIS:
            out.extend([k] for k in keys)
        else:
            out.append([k for n in g for k in (keys if n == _ELLIPSIS else [n])])
    return out


def rearrange(tensor, pattern, **axes_lengths):
    """``tensor`` (or a sequence of tensors, stacked along a new first axis) rearranged as
    ``pattern`` says: ``"b h w c -> b c h w"`` permutes, ``"b h w c -> (b h) w c"`` merges,
    ``"b (h1 h) w c -> (b h1) h w c"`` with ``h1=2`` splits."""
    if not isinstance(tensor, Tensor):
        tensor = stack(list(tensor))
    if pattern.count("->") != 1:
        raise ValueError("Pattern must contain a single '->' separator")
    if _ELLIPSIS in axes_lengths:
        raise ValueError(f"'{_ELLIPSIS}' is not an allowed axis identifier")
    left_text, right_text = pattern.split("->")
    left, left_names = _parse(left_text)
    right, right_names = _parse(right_text)
    if _ELLIPSIS in right_names and _ELLIPSIS not in left_names:
        raise ValueError(f"Ellipsis found in right side, but not left side of a pattern "
                         f"{pattern}")
    if any(g != _ELLIPSIS and _ELLIPSIS in g for g in left):
        raise ValueError(f"Ellipsis is parenthesis in the left side is not allowed: {pattern}")
    for length in axes_lengths.values():
        if type(length) is not int:
            raise TypeError(f"rearrange axis lengths must be integers, got: {type(length)}")
    difference = left_names ^ right_names
    if difference:
        raise ValueError(f"Identifiers only on one side of rearrange expression (should be on "
                         f"both): {difference}")
    unmatched = set(axes_lengths) - left_names
    if unmatched:
        raise ValueError(f"Identifiers not found in rearrange expression: {unmatched}")
    ndim = tensor.ndim
    if _ELLIPSIS in left_names:
        n_ellipsis = ndim - (len(left) - 1)
        if n_ellipsis < 0:
            raise ValueError(f"Number of dimensions in pattern ({len(left) - 1}) must be less "
                             f"than or equal to the number of dimensions in the tensor ({ndim})")
    else:
        n_ellipsis = 0
        if len(left) != ndim:
            raise ValueError(f"Number of dimensions in pattern ({len(left)}) must be equal to "
                             f"the number of dimensions in the tensor ({ndim})")
    sizes = _sizes(left, tuple(tensor.shape), n_ellipsis, axes_lengths)
    source = [k for g in _elementary(left, n_ellipsis) for k in g]
    target_groups = _elementary(right, n_ellipsis)
    target = [k for g in target_groups for k in g]
    out = tensor.reshape([sizes[k] for k in source])
    order = [source.index(k) for k in target]
    if order != list(range(len(order))):
        out = out.permute(order)
    return out.reshape([math.prod(sizes[k] for k in g) for g in target_groups])
