"""numpy-style joining and splitting: ``hstack``, ``vstack`` (``row_stack``), ``dstack``,
``column_stack`` and ``tensor_split``.

All are compositions of differentiable ops, so first and second derivatives come from those:

* the stacks give every tensor enough dims (a reshape view) and ``cat`` them:
    hstack:       cat along dim 1, or dim 0 when the tensors are 1-d (0-d ones become 1-d)
    vstack:       each as at least 2-d ((k,) -> (1, k)), cat along dim 0
    dstack:       each as at least 3-d ((k,) -> (1, k, 1), (a, b) -> (a, b, 1)), cat along 2
    column_stack: 0-d and 1-d ones as columns ((k,) -> (k, 1)), cat along dim 1
* ``tensor_split`` returns basic-slice views (``getitem``) of its input, so writes through
  them reach it and their gradients flow back into it.
"""
from __future__ import annotations

from ..tensor import Tensor
from ._overloads import check_int_tuple_rest, is_int, is_int_tuple, no_overload, type_names
from ._util import normalize_dim, python_type_name, scalar_type_name
from .indexing import getitem
from .movement import cat
from .plumbing import reshape_to

__all__ = ["hstack", "vstack", "row_stack", "dstack", "column_stack", "tensor_split"]


def _tensor_list(tensors, name):
    if isinstance(tensors, Tensor):
        raise TypeError(f"{name}(): argument 'tensors' must be tuple of Tensors, not Tensor")
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError(f"{name} expects a non-empty TensorList")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got "
                            f"{python_type_name(t)}")
    return tensors


def _at_least(t, n):
    """``t`` viewed with at least ``n`` (1, 2 or 3) dims, numpy's atleast_nd shapes."""
    shape = tuple(t.shape)
    if len(shape) >= n:
        return t
    if not shape:
        return reshape_to(t, (1,) * n)
    if len(shape) == 1:
        return reshape_to(t, (1, shape[0]) if n == 2 else (1, shape[0], 1))
    return reshape_to(t, shape + (1,))


def hstack(tensors):
    """Join tensors column-wise: along dim 1, or dim 0 when they are 1-d (0-d count as 1-d)."""
    tensors = [_at_least(t, 1) for t in _tensor_list(tensors, "hstack")]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    """Join tensors row-wise: each viewed as at least 2-d ((k,) -> (1, k)), cat along dim 0."""
    return cat([_at_least(t, 2) for t in _tensor_list(tensors, "vstack")], 0)


def row_stack(tensors):
    """Another name of ``vstack``."""
    return cat([_at_least(t, 2) for t in _tensor_list(tensors, "vstack")], 0)


def dstack(tensors):
    """Join tensors depth-wise: each viewed as at least 3-d ((k,) -> (1, k, 1), (a, b) ->
    (a, b, 1)), cat along dim 2."""
    return cat([_at_least(t, 3) for t in _tensor_list(tensors, "dstack")], 2)


def column_stack(tensors):
    """Join tensors as columns: 0-d and 1-d ones become columns ((k,) -> (k, 1)), the rest
    are kept, all cat along dim 1 (so (3,), (3, 2) give (3, 3))."""
    tensors = _tensor_list(tensors, "column_stack")
    return cat([reshape_to(t, (t.numel(), 1)) if t.ndim <= 1 else t for t in tensors], 1)


_FORMS = ("Tensor input, tuple of ints indices, int dim = 0",
          "Tensor input, Tensor tensor_indices_or_sections, int dim = 0",
          "Tensor input, int sections, int dim = 0")
_FITS = (is_int_tuple, lambda v: isinstance(v, Tensor), is_int)


def _split_form(input, value, dim, named):
    """Which of tensor_split's forms the arguments fit (0: indices, 1: a tensor, 2: sections),
    as PyTorch's parser matches them; its TypeError when none does."""
    if len(named) == 1 and isinstance(input, Tensor) and is_int(dim):
        (key, given), = named.items()
        if key == "indices_or_sections":
            form = next((i for i, fits in enumerate(_FITS) if fits(given)), None)
        else:
            form = ("indices", "tensor_indices_or_sections", "sections").index(key)
            form = form if _FITS[form](given) else None
        if form is not None:
            return form
    got = type_names(input, *([value] if value is not None else []))
    if not (type(dim) is int and dim == 0):
        got += type_names(dim)
    got += [f"{key}={type_names(v)[0]}" for key, v in named.items()
            if key != "indices_or_sections"]
    marks = None
    if value is not None and not (type(dim) is int and dim == 0) and len(named) == 1:
        marks = [((input, isinstance(input, Tensor)), (value, fits(value)), (dim, is_int(dim)))
                 for fits in _FITS]
    raise no_overload("tensor_split", got, _FORMS, marks)


def _split_points(name, value, form):
    """(sections or None, indices or None) from tensor_split's split argument."""
    if form == 0:
        return None, check_int_tuple_rest(name, "indices", value)
    if form == 2:
        return int(value._array) if isinstance(value, Tensor) else int(value), None
    if value._array.dtype.kind not in "iu" or value._array.dtype.itemsize != 8:
        raise RuntimeError(f"{name} expected tensor_indices_or_sections to have dtype of "
                           f"long, but got {scalar_type_name(value._array.dtype)}")
    if value.ndim > 1:
        raise RuntimeError(f"{name} expected tensor_indices_or_sections to be a "
                           f"zero-dimensional or one-dimensional tensor, but got a tensor "
                           f"with {value.ndim} dims")
    if value.ndim == 0:
        return int(value.item()), None
    return None, [int(v) for v in value.tolist()]


def tensor_split(input, indices_or_sections=None, dim=0, *, sections=None, indices=None,
                 tensor_indices_or_sections=None):
    """Views of ``input`` split along ``dim``.

    ``sections`` (an int N > 0): N pieces; with size = q N + r the first r have q + 1
    elements, the rest q (so they can be empty).  ``indices`` (ints, or a 1-d int64 tensor):
    the pieces input[:i0], input[i0:i1], ..., input[i_last:], each a Python slice (negative
    indices count from the end, out-of-range ones clip, a decreasing pair gives an empty
    piece).  A 0-d int64 tensor means sections.  Returns a tuple of views.
    """
    named = {key: v for key, v in (("indices_or_sections", indices_or_sections),
                                   ("sections", sections), ("indices", indices),
                                   ("tensor_indices_or_sections", tensor_indices_or_sections))
             if v is not None}
    form = _split_form(input, indices_or_sections, dim, named)
    value, = named.values()
    if form == 0:       # the rest of a tuple of ints is read with the arguments' types
        check_int_tuple_rest("tensor_split", "indices", value)
    if input.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a "
                           "tensor with 0 dims")
    n_sections, points = _split_points("tensor_split", value, form)
    d = normalize_dim(dim, input.ndim)
    size = input.shape[d]
    if n_sections is not None:
        if n_sections <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {n_sections}")
        q, r = divmod(size, n_sections)
        points = [k * q + min(k, r) for k in range(1, n_sections)]
    bounds = [None] + points + [None]
    lead = (slice(None),) * d
    return tuple(getitem(input, lead + (slice(start, stop),))
                 for start, stop in zip(bounds[:-1], bounds[1:]))
