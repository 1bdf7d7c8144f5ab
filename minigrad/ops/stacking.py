"""Joining and splitting: PyTorch's ``cat`` and ``stack``, ``split``, ``chunk``, ``unbind``,
``narrow`` and ``select``, and the numpy-style ``hstack``, ``vstack`` (``row_stack``),
``dstack``, ``column_stack`` and ``tensor_split``.

* ``cat`` and ``stack`` check their arguments and run the ``Cat`` / ``Stack`` nodes
  (``_join_split_nodes.py``).
* ``split``, ``chunk``, ``unbind``, ``narrow``, ``select`` and ``tensor_split`` return
  views of their input, so writes through them reach it and their gradients flow back into
  it. The pieces ``split``, ``chunk`` and ``unbind`` return together share one node with an
  output per piece, as PyTorch's (``_join_split_nodes.pieces``), and (made with grad mode on)
  are marked so that a recorded in-place write into one of them is refused, as PyTorch's.
  ``narrow``, ``select`` and ``tensor_split`` read by basic indexing (``getitem``), one node
  per piece, as PyTorch's slices.
* the numpy-style stacks are compositions: they give every tensor enough dims (a reshape
  view) and ``cat`` them:
    hstack:       cat along dim 1, or dim 0 when the tensors are 1-d (0-d ones become 1-d)
    vstack:       each as at least 2-d ((k,) -> (1, k)), cat along dim 0
    dstack:       each as at least 3-d ((k,) -> (1, k, 1), (a, b) -> (a, b, 1)), cat along 2
    column_stack: 0-d and 1-d ones as columns ((k,) -> (k, 1)), cat along dim 1
"""
from __future__ import annotations

import numbers

import numpy as np

from .._checked_view import check_history
from ..autograd import is_grad_enabled
from ..tensor import Tensor
from ._join_split_nodes import Cat, Split, SplitWithSizes, Stack, Unbind, pieces
from ._narrow_args import narrow_arguments
from ._overloads import check_int_tuple_rest, is_int, is_int_tuple, no_overload, type_names
from ._int_lists import int_like
from ._util import (argument_error, check_tensor, check_tensors, dim_like, int_arg, normalize_dim,
                    python_type_name, result_dtype, scalar_type_name)
from .elementwise import cast
from .indexing import getitem
from .plumbing import reshape_to

__all__ = ["cat", "stack", "split", "chunk", "unbind", "narrow", "select", "hstack", "vstack",
           "row_stack", "dstack", "column_stack", "tensor_split"]


def _same_device_check(tensors, name):
    if all(type(t._array) is np.ndarray for t in tensors):
        return                                  # numpy arrays: all on the CPU
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two "
                           f"devices, {' and '.join(sorted(map(str, devices)))}! (in {name})")


def _plain_join(tensors, dim, added):
    """The dim (normalized) of the usual call of cat (``added`` 0) or stack (``added`` 1),
    which every check of theirs passes and which needs no cast; None where any check might
    have something to say. The usual call: a list or tuple of numpy-backed Tensors of one
    dtype and shape off ``dim`` (all of it for stack), a Python int ``dim`` in range, and
    for cat no 0-d nor legacy empty ``(0,)`` tensor."""
    if type(tensors) is not list and type(tensors) is not tuple or not tensors or \
            type(dim) is not int:
        return None
    first = tensors[0]
    if not isinstance(first, Tensor):
        return None
    ref = first._array
    shape, dtype, ndarray = ref.shape, ref.dtype, np.ndarray
    ndim = len(shape)
    if type(ref) is not ndarray or not -ndim - added <= dim < ndim + added or \
            not added and (not ndim or shape == (0,)):
        return None
    d = dim % (ndim + added)
    if added:
        for t in tensors:
            if not isinstance(t, Tensor):
                return None
            a = t._array
            if type(a) is not ndarray or a.dtype != dtype or a.shape != shape:
                return None
        return d
    head, tail = shape[:d], shape[d + 1:]
    for t in tensors:
        if not isinstance(t, Tensor):
            return None
        a = t._array
        other = a.shape
        if type(a) is not ndarray or a.dtype != dtype or len(other) != ndim or \
                other[:d] != head or other[d + 1:] != tail or other == (0,):
            return None
    return d


def cat(tensors, dim=0):
    d = _plain_join(tensors, dim, 0)
    if d is not None:                          # (the usual call: nothing to check, nor cast)
        return Cat.apply(*tensors, dim=d)
    _refuse_non_sequence("cat", tensors)       # a Tensor too: PyTorch's words name its type
    dim = int_arg("cat", "dim", dim, 2)
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    check_tensors(tensors)
    for i, t in enumerate(tensors):
        if t._array.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be "
                               "concatenated (use stack, or reshape it to 1-d first)")
    # the legacy empty 1-d tensors are left out of the shape checks, not of the dtype
    dtype = _joined_dtype(tensors)
    kept = [t for t in tensors if t._array.shape != (0,)]
    if not kept:
        # only legacy empty tensors: PyTorch checks no dim and gives one of them, in the
        # joined dtype
        _same_device_check(tensors, "cat")
        return Cat.apply(*(cast(t, dtype) for t in tensors), dim=0)
    legacy = tuple(i for i, t in enumerate(tensors) if t._array.shape == (0,))
    joined, tensors = tensors, kept
    ref = tensors[0]
    d = normalize_dim(dim, ref.ndim)
    shape = ref._array.shape
    for i, t in enumerate(tensors):
        other = t._array.shape
        if len(other) == len(shape) and other[:d] == shape[:d] and \
                other[d + 1:] == shape[d + 1:]:
            continue                            # (the usual case: no per-axis loop)
        if t.ndim != ref.ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ref.ndim} and "
                               f"{t.ndim} (tensor 0 has shape {list(ref.shape)}, tensor {i} has "
                               f"shape {list(t.shape)})")
        for ax in range(ref.ndim):
            if ax != d and t.shape[ax] != ref.shape[ax]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected"
                                   f" size {ref.shape[ax]} but got size {t.shape[ax]} for tensor "
                                   f"number {i} in the list.")
    _same_device_check(tensors, "cat")
    # the legacy empty tensors stay inputs of the node (each gets an empty gradient)
    return Cat.apply(*(cast(t, dtype) for t in joined), dim=d, legacy=legacy)


def _joined_dtype(tensors):
    """The promoted dtype of ``tensors`` (numpy's): their common one when they share it (the
    usual case, where PyTorch's promotion gives it too), else by PyTorch's rules."""
    first = tensors[0]._array.dtype
    if all(t._array.dtype == first for t in tensors):
        return first
    return result_dtype(*tensors)


def _refuse_non_sequence(name, tensors):
    """PyTorch takes a tuple or list of tensors, not another iterable (a generator...)."""
    if not isinstance(tensors, (tuple, list)):
        raise TypeError(f"{name}(): argument 'tensors' (position 1) must be tuple of Tensors, "
                        f"not {python_type_name(tensors)}")


def stack(tensors, dim=0):
    d = _plain_join(tensors, dim, 1)
    if d is not None:                          # (the usual call: nothing to check, nor cast)
        return Stack.apply(*tensors, dim=d)
    _refuse_non_sequence("stack", tensors)
    dim = int_arg("stack", "dim", dim, 2)
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    check_tensors(tensors)
    d = normalize_dim(dim, tensors[0].ndim + 1)        # (PyTorch wraps it before the sizes)
    shape = tensors[0]._array.shape
    for i, t in enumerate(tensors):
        if t._array.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(tensors[0].shape)} at entry 0 and {list(t.shape)} at "
                               f"entry {i}")
    _same_device_check(tensors, "stack")
    dtype = _joined_dtype(tensors)
    return Stack.apply(*(cast(t, dtype) for t in tensors), dim=d)


def _no_split(a, size, dim):
    """PyTorch's split(input, int split_size, int dim) refusing its arguments' types."""
    return no_overload("split", ["Tensor", python_type_name(size), python_type_name(dim)],
                       ["Tensor input, int split_size, int dim = 0",
                        "Tensor input, tuple of ints split_size, int dim = 0"],
                       [((a, True), (size, is_int(size)), (dim, dim_like(dim))),
                        ((a, True), (size, False), (dim, dim_like(dim)))])


def split(a, split_size_or_sections, dim=0):
    """Split along ``dim`` into chunks of a given size, or of the listed sizes."""
    if not isinstance(a, Tensor):
        # torch.split is Python code that calls a.split: anything else has no such attribute
        raise AttributeError(f"'{python_type_name(a)}' object has no attribute 'split'")
    sizes = split_size_or_sections
    if isinstance(sizes, bool) or not isinstance(sizes, (int, tuple, list)):
        if isinstance(sizes, Tensor) and sizes._array.size == 1:
            # PyTorch's Python split reads a tensor of one element as int(tensor) (1.5 -> 1)
            sizes = split_size_or_sections = int(sizes._array.reshape(()))
        elif isinstance(sizes, bool):
            # a bool is no size to PyTorch's split, nor a list to split_with_sizes
            raise _no_split(a, sizes, dim)
        else:
            # PyTorch takes any other number (a numpy int too) for a list of sizes
            raise TypeError(f"split_with_sizes(): argument 'split_sizes' (position 2) must be "
                            f"tuple of ints, not {python_type_name(sizes)}")
    if type(sizes) is int:
        int_arg("split", "split_size", sizes, 2)          # an int64, or the parser's error
    else:
        for pos, s in enumerate(sizes if isinstance(sizes, (tuple, list)) else (), 1):
            if not int_like(s, pos == 1):
                raise argument_error("split_with_sizes", "split_sizes", "tuple of ints", sizes,
                                     2, found=(pos - 1, s))
            if type(s) is int and not -2 ** 63 <= s < 2 ** 63:
                raise TypeError(f"split_with_sizes(): argument 'split_sizes' failed to unpack "
                                f"the object at pos {pos} with error \"Overflow when unpacking "
                                f"long long\"")
    if not dim_like(dim):               # the parser's, for the op split calls
        if isinstance(sizes, numbers.Integral):
            raise _no_split(a, sizes, dim)
        raise argument_error("split_with_sizes", "dim", "int", dim, 3)
    if a.ndim == 0:                 # (PyTorch checks the tensor first, then the size)
        raise RuntimeError("split expects at least a 1-dimensional tensor (got a 0-d tensor)")
    if isinstance(sizes, numbers.Integral) and sizes < 0:
        # (before the dim's checks, as PyTorch)
        raise RuntimeError(f"split expects split_size be non-negative, but got "
                           f"split_size={int(sizes)}")
    d = normalize_dim(dim, a.ndim)
    size = a.shape[d]
    if isinstance(split_size_or_sections, numbers.Integral):
        step = int(split_size_or_sections)
        if step <= 0 and size:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {size}")
        sizes = ([min(step, size - i) for i in range(0, size, step)] if step else []) or [0]
    else:
        sizes = list(split_size_or_sections)
        if any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative "
                               f"entries, but got split_sizes={sizes}")
        if sum(sizes) != size:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} "
                               f"(input tensor's size at dimension {int(dim)}), but got "
                               f"split_sizes={sizes}")
    bounds, start = [], 0
    for s in sizes:
        bounds.append((start, start + s))
        start += s
    if isinstance(split_size_or_sections, numbers.Integral):
        return _several_views(pieces(Split, a, d, bounds, int(split_size_or_sections)), "Split")
    return _several_views(pieces(SplitWithSizes, a, d, bounds), "SplitWithSizes")


def _several_views(out, name):
    """``out`` (the views an op returns together) as a tuple, each marked, where made with
    grad mode on, as one a recorded in-place write refuses (ops/writes.py), as PyTorch's
    (its backward could not see such a write into one of several outputs)."""
    if is_grad_enabled():
        for j, o in enumerate(out):
            o.__dict__["_view_meta"] = (name, j)
            if o._requires_grad:
                # and, as PyTorch, once their memory is written in place after now, in any
                # mode and by any route (``for row in w: init.uniform_(row.view(2, 2))``
                # writes w's first row, then reads the second's history), their history may
                # no longer be read (``_checked_view``: the version counter tells)
                check_history(o, o._vcounter.value, "several", f"Output {j} of {name}")
    return tuple(out)


def _int_arg(name, value, what):
    """An int argument (a 0-d integer tensor counts), or PyTorch's TypeError."""
    if isinstance(value, Tensor) and value.ndim == 0 and value._array.dtype.kind in "iu":
        return int(value.item())
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise argument_error(name, what, "int", value)
    return int_arg(name, what, value)       # (an int64: a larger one is the parser's error)


def narrow(input, dim, start, length):
    """input's elements start..start+length-1 along ``dim`` (a negative start counts from the
    end; ``start`` may be a 0-d integer tensor): a view."""
    d, start, length = narrow_arguments("narrow", input, dim, start, length)
    return getitem(input, (slice(None),) * d + (slice(start, start + length),))


def select(input, dim, index):
    """input[..., index, ...] with ``index`` along ``dim`` (that dim removed): a view."""
    if check_tensor("select", input).ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    index = _int_arg("select", index, "index")
    d = normalize_dim(dim, input.ndim)
    if not -input.shape[d] <= index < input.shape[d]:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input.shape)} at dimension {d}")
    return getitem(input, (slice(None),) * d + (index,))


def chunk(a, chunks, dim=0):
    check_tensor("chunk", a)
    chunks = int_arg("chunk", "chunks", chunks, 2)
    dim = int_arg("chunk", "dim", dim, 3)       # (parsed before anything is checked)
    if a.ndim == 0:                 # (PyTorch checks the tensor before the count)
        raise RuntimeError("chunk expects at least a 1-dimensional tensor (got a 0-d tensor)")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    size = a.shape[normalize_dim(dim, a.ndim)]
    if size == 0:
        return split(a, [0] * chunks, dim)       # as PyTorch: `chunks` empty pieces
    return split(a, -(-size // chunks), dim)


def unbind_dim(name, a, dim):
    """The dim ``unbind`` / ``unbind_copy`` (``name``) takes ``a`` apart along, checked as
    PyTorch does: an int (a 0-d integer tensor too) within range, ``a`` not 0-d."""
    check_tensor(name, a)
    if isinstance(dim, Tensor) and dim.ndim:
        raise TypeError(f"{name}(): argument 'dim' (position 2) must be int, not Tensor")
    d = normalize_dim(int_arg(name, "dim", dim, 2), a.ndim)
    if a.ndim == 0:
        raise IndexError(f"Dimension specified as {d} but tensor has no dimensions")
    return d


def unbind(a, dim=0):
    d = unbind_dim("unbind", a, dim)
    return _several_views(pieces(Unbind, a, d, range(a.shape[d])) if a.shape[d] else [],
                          "Unbind")


def _tensor_list(tensors, name):
    if isinstance(tensors, Tensor):
        raise TypeError(f"{name}(): argument 'tensors' (position 1) must be tuple of Tensors, "
                        f"not Tensor")
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
    """Another name of ``vstack`` (its parser's refusal names row_stack, as PyTorch's; the
    rest name vstack)."""
    if isinstance(tensors, Tensor):
        _tensor_list(tensors, "row_stack")
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
