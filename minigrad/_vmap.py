"""``vmap``: run a function written for one example over a batch, as ``torch.vmap``.

    per_example = lambda x, w: (x * w).sum()
    vmap(per_example, in_dims=(0, None))(xs, w)       # xs (B, n), w (n,) -> (B,)

minigrad maps by looping: for each index b of the mapped dimension the function is called on
the inputs' slices ``x.select(in_dim, b)`` and the results are stacked along ``out_dims``.
So results and gradients are exactly those of the per-example calls (the slicing and the
stacking are differentiable ops), nested vmaps compose, and the function may do anything it
could do on one example.  What differs from torch's batching rules: the function runs B times
(no speed-up), code torch refuses inside vmap (``.item()``, data-dependent branches) just
runs, and a mapped dimension of size 0 cannot be looped over (ValueError).

``in_dims``: an int (or None) for every input, or a tuple with one entry per positional
argument, each an int, None (not mapped) or a nested list/tuple/dict matching that argument.
``out_dims``: an int for every output, or a nested tuple/list/dict matching the output's
structure (None: that output is not batched, the first call's is returned).
``randomness``: 'error' raises if the function draws random numbers, 'different' lets each
example draw its own, 'same' gives every example the same draws.
Keyword arguments are passed to every call unmapped.
"""
from __future__ import annotations

import functools

import numpy as np

from . import backend
from ._random_factories import default_generator
from .autograd.function import inside_transform
from .ops.stacking import stack
from .tensor import Tensor

__all__ = ["vmap"]

_RANDOMNESS = ("error", "different", "same")


def _flatten(obj):
    """(leaves, rebuild): the Tensors and other values inside nested tuples/lists/dicts."""
    if isinstance(obj, (tuple, list)):
        parts = [_flatten(o) for o in obj]
        leaves = [leaf for p in parts for leaf in p[0]]

        def rebuild(values):
            out, k = [], 0
            for p in parts:
                out.append(p[1](values[k:k + len(p[0])]))
                k += len(p[0])
            return type(obj)(out)
        return leaves, rebuild
    if isinstance(obj, dict):
        keys = list(obj)
        leaves, rebuild_values = _flatten([obj[k] for k in keys])
        return leaves, lambda values: dict(zip(keys, rebuild_values(values)))
    return [obj], lambda values: values[0]


def treespec(tree, depth=0):
    """A nested tuple/list/dict's structure written as PyTorch's ``str(TreeSpec)``, its
    leaves as ``*``: ``TreeSpec(tuple, None, [*, *])`` for a pair, each comma between
    children followed by a line break and two spaces per level of nesting."""
    if not isinstance(tree, (tuple, list, dict)):
        return "*"
    keys = repr(list(tree)) if isinstance(tree, dict) else "None"
    children = tree.values() if isinstance(tree, dict) else tree
    inner = (",\n" + "  " * (depth + 1)).join(treespec(t, depth + 1) for t in children)
    return f"TreeSpec({type(tree).__name__}, {keys}, [{inner}])"


def _dims_like(dims, obj, where, what="in_dims", of="inputs", top=None):
    """One dim per leaf of ``obj``: an int/None spreads over all of them, a structure must
    match ``obj``'s (same container types, lengths and keys, as torch's pytree prefixes).
    ``top``: the whole (dims, obj) pair, whose structures a mismatch reports."""
    top = (dims, obj) if top is None else top
    if dims is None or isinstance(dims, int):
        return [dims] * len(_flatten(obj)[0])
    if isinstance(dims, (tuple, list)) and type(dims) is type(obj) and len(dims) == len(obj):
        return [d for sub, o in zip(dims, obj)
                for d in _dims_like(sub, o, where, what, of, top)]
    if isinstance(dims, dict) and isinstance(obj, dict) and set(dims) == set(obj):
        return [d for k in obj for d in _dims_like(dims[k], obj[k], where, what, of, top)]
    if what == "in_dims" and not isinstance(dims, (tuple, list, dict)):
        raise ValueError(f"{where}: Got in_dim={dims} for an input but in_dim must be either "
                         f"an integer dimension or None.")
    raise ValueError(f"{where}: {what} is not compatible with the structure of `{of}`. {what} "
                     f"has structure {treespec(top[0])} but {of} has structure "
                     f"{treespec(top[1])}.")


def _leaf_dims(in_dims, args, where):
    if isinstance(in_dims, int) and not isinstance(in_dims, bool):
        return _dims_like(in_dims, args, where)
    if not isinstance(in_dims, tuple):
        raise ValueError(f"{where}: expected `in_dims` to be int or a (potentially nested) tuple "
                         f"matching the structure of inputs, got: {type(in_dims)}.")
    return _dims_like(in_dims, args, where)


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """``func`` vectorised over a dimension of its inputs (see the module docstring)."""
    if randomness not in _RANDOMNESS:
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got "
                         f"{chunk_size})")
    name = getattr(func, "__name__", repr(func))

    @functools.wraps(func)
    def batched(*args, **kwargs):
        where = f"vmap({name}, in_dims={in_dims}, ...)(<inputs>)"
        leaves, rebuild = _flatten(list(args))
        dims = _leaf_dims(in_dims, args, where)
        sizes, mapped = [], []
        for leaf, d in zip(leaves, dims):
            if d is None:
                mapped.append(None)
                continue
            if not isinstance(leaf, Tensor):
                raise ValueError(f"{where}: Got in_dim={d} for an input but the input is of "
                                 f"type {type(leaf)}. We cannot vmap over non-Tensor arguments, "
                                 f"please use None as the respective in_dim")
            n = leaf.ndim
            if not -n <= d < n:
                raise ValueError(f"{where}: Got in_dim={d} for some input, but that input is a "
                                 f"Tensor of dimensionality {n} so expected in_dim to satisfy "
                                 f"-{n} <= in_dim < {n}.")
            mapped.append(d % n)
            sizes.append(leaf.shape[d % n])
        if not args:
            raise ValueError(f"vmap({name})(<inputs>): got no inputs. Maybe you forgot to add "
                             f"inputs, or you are trying to vmap over a function with no "
                             f"inputs. The latter is unsupported.")
        if not sizes:
            raise ValueError(f"{where}: at least one input must be a Tensor mapped over a "
                             f"dimension (every in_dim is None)")
        if len(set(sizes)) > 1:
            raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped "
                             f"dimension, got sizes {sizes} for the mapped dimension")
        if sizes[0] == 0:
            raise ValueError("vmap: minigrad maps by calling the function once per example, "
                             "so it cannot map over a dimension of size 0")
        with inside_transform("functorch", "vmap"):     # (for the custom Functions applied)
            results = [func(*rebuild([leaf if d is None else leaf.select(d, b)
                                      for leaf, d in zip(leaves, mapped)]), **kwargs)
                       for b in _examples(sizes[0], randomness)]
        return _stack_outputs(results, out_dims, name)
    return batched


def _examples(count, randomness):
    """range(count), watching or resetting the default generator between calls as
    ``randomness`` asks."""
    start = default_generator.get_state()
    for b in range(count):
        if randomness == "same":
            default_generator.set_state(start)
        before = default_generator.stream.state_bytes(0) if randomness == "error" else None
        yield b
        if randomness == "error" and before != default_generator.stream.state_bytes(0):
            raise RuntimeError("vmap: called random operation while in randomness error mode. "
                               "Please either use the 'same' or 'different' randomness flags "
                               "on vmap or perform the randomness operation out of vmap")


def _unbatched(values):
    """Whether the per-example values of an output are one value (the same object, or equal
    tensors): what ``out_dims=None`` asks of an output that must not depend on the batch."""
    first = values[0]
    if not isinstance(first, Tensor):
        return True
    for v in values[1:]:
        if v is first:
            continue
        if not isinstance(v, Tensor) or v.shape != first.shape or v.dtype != first.dtype:
            return False
        a, b = backend.as_numpy(first._array), backend.as_numpy(v._array)
        if not np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"):
            return False
    return True


def _out_leaf_dims(out_dims, first, name):
    """One out_dim per leaf of the first call's output: an int/None spreads over every leaf,
    a tuple/list/dict must match the output's structure; a 1-tuple may wrap the dim of a
    single output."""
    where = f"vmap({name}, ..., out_dims={out_dims})(<inputs>)"
    if isinstance(out_dims, tuple) and len(out_dims) == 1 and \
            not isinstance(first, (tuple, list, dict)):
        out_dims = out_dims[0]
    if not _valid_dims(out_dims):
        raise ValueError(f"{where}: `out_dims` must be an int, None or a python collection of "
                         f"ints representing where in the outputs the vmapped dimension "
                         f"should appear.")
    return _dims_like(out_dims, first, where, "out_dims", "outputs")


def _valid_dims(dims):
    """Whether ``dims`` is an int/None or a nested tuple/list/dict of them."""
    if dims is None or (isinstance(dims, int) and not isinstance(dims, bool)):
        return True
    if isinstance(dims, (tuple, list)):
        return all(_valid_dims(d) for d in dims)
    if isinstance(dims, dict):
        return all(_valid_dims(d) for d in dims.values())
    return False


def _stack_outputs(results, out_dims, name):
    """Stack the per-example outputs (a Tensor or a nested structure of them) along
    ``out_dims``, leaf by leaf."""
    first = results[0]
    dims = _out_leaf_dims(out_dims, first, name)
    leaves_per_call = [_flatten(r)[0] for r in results]
    _, rebuild = _flatten(first)
    values = []
    for leaf_column, dim in zip(zip(*leaves_per_call), dims):
        if dim is None:
            if not _unbatched(leaf_column):
                raise ValueError(f"vmap({name}, ...): `{name}` can not return a "
                                 f"BatchedTensor when out_dim is None")
            values.append(leaf_column[0])
            continue
        if not isinstance(leaf_column[0], Tensor):
            raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got "
                             f"type {type(leaf_column[0])}. Did you mean to set out_dims= "
                             f"to None for output?")
        values.append(stack(list(leaf_column), dim))
    return rebuild(values)
