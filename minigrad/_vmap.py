"""``vmap``: run a function written for one example over a batch, as ``torch.vmap``.

    per_example = lambda x, w: (x * w).sum()
    vmap(per_example, in_dims=(0, None))(xs, w)       # xs (B, n), w (n,) -> (B,)

minigrad maps by looping: for each index b of the mapped dimension the function is called on
the inputs' slices ``x.select(in_dim, b)`` and the results are stacked along ``out_dims``,
laid out as torch's batched results are (``_vmap_layout``: a result viewing an input comes
back as a view of that input, another as a row-major stack with the batch dim moved).
So results and gradients are exactly those of the per-example calls (the slicing and the
stacking are differentiable ops), nested vmaps compose, and the function may do anything it
could do on one example.  What differs from torch's batching rules: the function runs B times
(no speed-up), and a tensor derived from the inputs is not known to be batched. Reading one
as Python data (``.item()``, ``float``, ``int``, ``bool`` in a branch, ``.tolist()``,
``.numpy()``) raises torch's error where it is an example itself, or where its value differs
from the first example's at the same read (``_vmap_reads``); a read whose value is the same
in every example (a batch of one, equal examples) passes. A mapped dimension of size 0 runs
the function once on zeros shaped like an example and gives outputs of size 0 along
out_dims. An in-place write into an unmapped input starts afresh in each example; writes that
differ between examples raise torch's error.

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
import re
import threading

import numpy as np

from . import backend
from . import _vmap_reads
from ._random_factories import live_generators
from . import _vmap_rules
from ._vmap_layout import batched_output
from .autograd._transforms import inside_transform, transforms
from .ops import normalization as _normalization
from .ops.stacking import stack
from .tensor import Tensor

__all__ = ["vmap"]

_RANDOMNESS = ("error", "different", "same")
_RANDOM_ERROR = ("vmap: called random operation while in randomness error mode. Please either "
                 "use the 'same' or 'different' randomness flags on vmap or perform the "
                 "randomness operation out of vmap")


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
        if not _valid_dims(out_dims):      # checked before the inputs, as torch
            raise ValueError(f"vmap({name}, ..., out_dims={out_dims}): `out_dims` must be an "
                             f"int, None or a python collection of ints representing where in "
                             f"the outputs the vmapped dimension should appear.")
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
        if not sizes:       # (every in_dim None, or no Tensor among the inputs)
            raise ValueError("vmap: Expected at least one Tensor to vmap over")
        if len(set(sizes)) > 1:
            raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped "
                             f"dimension, got sizes {sizes} for the mapped dimension")
        count = sizes[0]
        if count == 0:      # run once on zeros shaped like an example; outputs of batch 0
            examples = [[leaf if d is None else _zero_example(leaf, d)
                         for leaf, d in zip(leaves, mapped)]]
        else:
            examples = ([leaf if d is None else leaf.select(d, b)
                         for leaf, d in zip(leaves, mapped)] for b in range(count))
        results = _run(func, examples, count, leaves, mapped, rebuild, kwargs, randomness)
        if chunk_size is not None and isinstance(out_dims, tuple) and len(out_dims) == 1 \
                and isinstance(results[0], Tensor):
            # PyTorch's chunked path spreads out_dims over the output's structure without the
            # unwrapping of a 1-tuple that its one-pass path does for a single Tensor
            raise AssertionError("flat_out_dims must not be None")
        return _stack_outputs(results, out_dims, name, empty=count == 0,
                              inputs=(leaves, mapped))
    return batched


class _Levels(threading.local):
    """Per running vmap call (innermost last): the ids of the per-example slices it is
    passing to the function now, which count as batched tensors; and (``calls``) its
    randomness mode and the ids of the tensors it knows are unbatched (the inputs of in_dim
    None, the tensors the function reads from its closure), for a custom Function's own
    vmap rule (``_vmap_rules``)."""
    stack = ()
    calls = ()


_levels = _Levels()


def _run(func, examples, count, leaves, mapped, rebuild, kwargs, randomness):
    """The function's result for each example (a list of input leaves), with the checks
    torch's batching makes: random draws as ``randomness`` asks, and no batched write into
    an unmapped input (``_UnmappedWrites``)."""
    level = set()
    _levels.stack = _levels.stack + (level,)
    writes = _UnmappedWrites(leaves, mapped, count > 1, _closed_over(func))
    _levels.calls = _levels.calls + ((randomness, {id(t) for t in writes.tensors},
                                      transforms.functorch + 1),)
    # where every generator stands (the default one and any a function draws from by name):
    # 'same' starts each example from there, 'error' refuses a draw from any
    start = [] if randomness == "different" else \
        [(g, g.stream.position()) for g in live_generators()]
    saved = {}
    results = []
    reads = _vmap_reads.push(level)
    try:
        with inside_transform("functorch", "vmap"):     # (for the custom Functions applied)
            for i, example in enumerate(examples):
                if i and randomness == "same":
                    _put_back({g.stream: saved[g.stream] for g, mark in start
                               if g.stream.position() != mark})
                level.clear()
                level.update(id(e) for e, d in zip(example, mapped) if d is not None)
                reads.begin(i)
                writes.restore()
                if not i and randomness != "different":    # (read once, restored at need)
                    saved = {g.stream: (g.stream.bits.state, g.stream.cached_normal)
                             for g, _ in start}
                try:
                    results.append(func(*rebuild(example), **kwargs))
                except RuntimeError as error:
                    batched = _with_batch_dim(error, count)
                    if batched is None:
                        raise
                    raise batched from None
                writes.record()
                if randomness == "error" and any(g.stream.position() != mark
                                                 for g, mark in start):
                    # torch refuses at the first draw, before it draws: nothing moved
                    _put_back(saved)
                    raise RuntimeError(_RANDOM_ERROR)
    finally:
        _levels.stack = _levels.stack[:-1]
        _levels.calls = _levels.calls[:-1]
        _vmap_reads.pop()
    return results


_OUT_SHAPE = re.compile(r"^output with shape \[([^\]]*)\] doesn't match the broadcast shape "
                        r"\[([^\]]*)\]")
_SIZE_AT = re.compile(r"^(The size of tensor a \(\d+\) must match the size of tensor b "
                      r"\(\d+\) at non-singleton dimension )(\d+)")


def _with_batch_dim(error, count):
    """A broadcasting error raised in one example, in the words torch's batched kernels use
    (None for other errors): torch sees the tensors with the batch dimension (of size
    ``count``) in front and the example's dimensions padded to the larger rank, so an
    in-place write into an example of shape X that cannot hold the broadcast shape Y reads
    'output with shape [B, 1, .., X] doesn't match the broadcast shape [B, Y]', and a size
    clash at dimension i is reported at dimension i + 1."""
    text = str(error)
    match = _OUT_SHAPE.match(text)
    if match:
        have, wide = ([int(n) for n in part.split(", ") if n] for part in match.groups())
        have = [count] + [1] * (len(wide) - len(have)) + have
        return RuntimeError(f"output with shape {have} doesn't match the broadcast shape "
                            f"{[count] + wide}{text[match.end():]}")
    match = _SIZE_AT.match(text)
    if match:
        return RuntimeError(f"{match.group(1)}{int(match.group(2)) + 1}{text[match.end():]}")
    return None


def _put_back(saved):
    """Return each stream to the state saved of it ({stream: (twister state, cached
    normal)})."""
    for stream, (state, cached) in saved.items():
        stream.bits.state = state
        stream.cached_normal = cached


def _zero_example(leaf, dim):
    """A stand-in for an example of a batch of size 0: zeros shaped like ``leaf`` without
    ``dim`` (in ``leaf``'s graph when it requires grad, through an empty sum)."""
    shape = tuple(leaf.shape[:dim]) + tuple(leaf.shape[dim + 1:])
    zeros = leaf.detach().new_zeros(shape)
    return zeros + leaf.narrow(dim, 0, 0).sum() if leaf.requires_grad else zeros


def _closed_over(func):
    """The tensors ``func`` reads from its closure or its module's globals (a lambda's or
    nested function's free variables, the global names its code uses; through
    functools.partial and bound methods too): unbatched tensors the function may write in
    place, as torch sees them."""
    found = []
    while True:
        if isinstance(func, functools.partial):
            found.extend(v for v in (*func.args, *func.keywords.values())
                         if isinstance(v, Tensor))
            func = func.func
        elif hasattr(func, "__func__"):         # a bound method
            func = func.__func__
        else:
            break
    for cell in getattr(func, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:                      # (a free variable not yet assigned)
            continue
        if isinstance(value, Tensor):
            found.append(value)
    code, names = getattr(func, "__code__", None), getattr(func, "__globals__", None)
    if code is not None and names is not None:
        found.extend(names[n] for n in code.co_names if isinstance(names.get(n), Tensor))
    return found


class _UnmappedWrites:
    """In-place writes into the unmapped tensors: the inputs of in_dim None and the tensors
    the function reads from its closure. In torch such a tensor is one tensor written once,
    and writing a batched value into it is an error; here the function runs once per
    example, so each example starts from the tensor's value before the call (an unbatched
    write, ``y.add_(1)``, lands once, as in torch), and writes that differ between examples
    (a batched value) raise torch's error, the tensor restored. (Equal writes of a batched
    value pass: a limit of looping.)"""

    def __init__(self, leaves, mapped, several, closed_over=()):
        unique = {id(t): t for t, d in zip(leaves, mapped) if d is None and isinstance(t, Tensor)}
        mapped_ids = {id(t) for t, d in zip(leaves, mapped) if d is not None}
        for t in closed_over:
            if id(t) not in mapped_ids and not t.is_sparse:
                unique.setdefault(id(t), t)
        self.tensors = list(unique.values())
        self.versions = [t._version_value for t in self.tensors]
        # the values each example starts from (no copy needed for a single example)
        self.saved = [t._array.copy() for t in self.tensors] if several else None
        self.written = {}       # index -> the value the first example wrote

    def restore(self):
        for i in self.written:
            self.tensors[i]._array[...] = self.saved[i]

    def record(self):
        for i, t in enumerate(self.tensors):
            if t._version_value == self.versions[i]:
                continue
            value = backend.as_numpy(t._array)
            if i not in self.written:
                self.written[i] = value.copy()
            elif not np.array_equal(self.written[i], value, equal_nan=value.dtype.kind in "fc"):
                for j in self.written:      # torch raises before writing anything
                    self.tensors[j]._array[...] = self.saved[j]
                raise RuntimeError(
                    "vmap: inplace arithmetic(self, *extra_args) is not possible because there "
                    "exists a Tensor `other` in extra_args that has more elements than `self`. "
                    "This happened due to `other` being vmapped over but `self` not being "
                    "vmapped over in a vmap. Please try to use out-of-place operators instead of "
                    "inplace arithmetic. If said operator is being called inside the PyTorch "
                    "framework, please file a bug report instead.")


def refuse_unbatched_running_stats(running_mean, running_var):
    """For ``batch_norm`` in training mode: under vmap, running statistics that are not
    batched (not the per-example slices of a mapped input: a module's own buffers) would be
    updated in place from a batched input, which torch refuses with this error."""
    if not _levels.stack:
        return
    batched = set().union(*_levels.stack)
    if any(t is not None and id(t) not in batched for t in (running_mean, running_var)):
        raise RuntimeError(
            "Batch norm got a batched tensor as input while the running_mean or running_var, "
            "which will be updated in place, were not batched.\nIf you are using a module and "
            "do not need eval mode, please set `track_running_stats` to be False.If you are "
            "using a prebuilt module and do not need eval mode, please see the functorch "
            "website for resources on how to patch your module to work with vmap")


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
    single Tensor output."""
    where = f"vmap({name}, ..., out_dims={out_dims})(<inputs>)"
    if isinstance(out_dims, tuple) and len(out_dims) == 1 and isinstance(first, Tensor):
        out_dims = out_dims[0]
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


def _stack_outputs(results, out_dims, name, empty=False, inputs=((), ())):
    """Stack the per-example outputs (a Tensor or a nested structure of them) along
    ``out_dims``, leaf by leaf (``empty``: for a batch of size 0, from the one call on a
    stand-in example, size 0 along the out_dim; ``inputs``: the input leaves and their
    in_dims, for results that view them). The layout follows torch's (``_vmap_layout``)."""
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
        if empty:
            values.append(stack(list(leaf_column), dim).narrow(dim, 0, 0))
        else:
            values.append(batched_output(leaf_column, dim, *inputs))
    return rebuild(values)


# batch_norm (in ops, below this module) asks this hook, when set, in training mode
_normalization.vmap_running_stats_check = refuse_unbatched_running_stats

# a custom Function's own vmap rule (it sets function's slots) reads the calls under way
_vmap_rules._vmap_levels = _levels
