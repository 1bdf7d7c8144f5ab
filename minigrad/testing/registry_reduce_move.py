"""Registry entries for reductions (sum, mean, prod, var/std, max/min, amax, softmax,
logsumexp), movement (reshape, view, transpose, expand, cat, stack, split, chunk, pad) and
indexing (x[index] and the out-of-place form of x[index] = v).

Written as ``registry_core.py``'s entries are (``register(name, f, samples)``, ``f`` with
PyTorch's API); ties in max/min follow PyTorch's routing of the gradient and are compared
with torch only (``fd=False``).
"""
from __future__ import annotations

import numpy as np

from .opinfo import register
from .registry_core import S, _randn, _unary


# ----------------------------------------------------------------------------------------------
# Reductions
# ----------------------------------------------------------------------------------------------
def _method(name):
    """``x.name(**kwargs)``: reductions are called as methods (torch.sum(x, dim=None) differs)."""
    return lambda lib, x, *args, **kw: getattr(x, name)(*args, **kw)


def _reduce_samples(make, empty_ok=True):
    def samples(g):
        yield S(make(g, (3, 4)))
        yield S(make(g, (3, 4)), kwargs={"dim": 1})
        yield S(make(g, (3, 4)), kwargs={"dim": -1, "keepdim": True})
        yield S(make(g, (2, 3, 4)), kwargs={"dim": (0, 2)})
        yield S(make(g, (2, 3, 4)), kwargs={"dim": (-1, 1), "keepdim": True})
        yield S(make(g, (2, 3, 4)), 0, desc="positional dim 0")
        yield S(make(g, ()))
        yield S(make(g, ()), kwargs={"dim": 0})
        yield S(make(g, (5,)), kwargs={"dim": 0})
        yield S(make(g, (0, 3)), kwargs={"dim": 1}, desc="empty batch")
        if empty_ok:
            yield S(make(g, (0, 3)), kwargs={"dim": 0}, desc="reduce an empty dim")
            yield S(make(g, (2, 0)), desc="reduce all of an empty tensor")
    return samples


register("sum", _method("sum"), _reduce_samples(_randn))
register("sum_fn", lambda lib, x, **kw: lib.sum(x, **kw), lambda g: iter([
    S(g.randn(3, 4), kwargs={"dim": 0}), S(g.randn(2, 3, 4), kwargs={"dim": (1, 2)})]))
register("mean", _method("mean"), _reduce_samples(_randn, empty_ok=False))


def _prod_samples(g):
    yield S(g.randn(3, 4))
    yield S(g.randn(3, 4), kwargs={"dim": 1})
    yield S(g.randn(3, 4), kwargs={"dim": -2, "keepdim": True})
    yield S(g.randn(), kwargs={})
    yield S(g.randn(2, 3, 2), kwargs={"dim": 2})
    x = g.randn(3, 4)
    x[0, 1] = 0.0               # one zero in row 0
    x[1, 0] = x[1, 2] = 0.0     # two zeros in row 1
    yield S(x, kwargs={"dim": 1}, desc="zeros")
    y = g.randn(2, 3)
    y[1, 1] = 0.0
    yield S(y, desc="a zero, full product")
    yield S(g.randn(0, 3), kwargs={"dim": 0}, desc="empty dim -> ones")
    z = g.randn(3, 4)
    z[0, :] = 0.0               # a row of zeros
    z[1, 3] = 0.0               # one zero, last place
    z[2, 0] = z[2, 3] = 0.0     # two zeros at the ends
    yield S(z, kwargs={"dim": -1, "keepdim": True}, desc="zeros at the ends, all zeros")
    w = g.randn(2, 3)
    w[0, 0] = w[1, 2] = 0.0
    yield S(w, desc="two zeros, full product")


register("prod", _method("prod"), _prod_samples)


def _var_samples(g):
    yield S(g.randn(3, 4))
    yield S(g.randn(3, 4), kwargs={"dim": 1})
    yield S(g.randn(3, 4), kwargs={"dim": (0, 1), "keepdim": True})
    yield S(g.randn(3, 4), kwargs={"correction": 0})
    yield S(g.randn(3, 4), kwargs={"dim": 0, "unbiased": False})
    yield S(g.randn(3, 4), kwargs={"dim": 1, "correction": 2})
    yield S(g.randn(2, 3, 4), kwargs={"dim": (-1, 0)})
    yield S(g.randn(6), kwargs={"dim": 0, "keepdim": True})
    yield S(g.randn(2, 1), kwargs={"dim": 1, "correction": 0}, desc="one element per slice")


def _std_samples(g):
    for sample in _var_samples(g):
        if sample.desc == "one element per slice":
            sample.fd = False                   # std is 0 there: a kink, as the constant row
        yield sample
    x = g.randn(3, 4)
    x[1] = 0.7                                  # a constant row: std 0, a kink (gradient 0)
    yield S(x, kwargs={"dim": 1}, fd=False, desc="constant row")


register("var", _method("var"), _var_samples)
register("std", _method("std"), _std_samples)


def _max_all_samples(g):
    yield S(g.distinct(3, 4))
    yield S(g.distinct(5))
    yield S(g.distinct())
    yield S(g.ties(3, 4, low=0, high=1), fd=False, desc="ties (gradient split evenly)")


register("max", _method("max"), _max_all_samples)
register("min", _method("min"), _max_all_samples)


def _max_dim(name):
    def f(lib, x, **kw):
        values, indices = getattr(x, name)(**kw)
        return values, indices
    return f


def _max_dim_samples(g):
    yield S(g.distinct(3, 4), kwargs={"dim": 1})
    yield S(g.distinct(3, 4), kwargs={"dim": -1, "keepdim": True})
    yield S(g.distinct(2, 3, 4), kwargs={"dim": 0})
    yield S(g.distinct(5), kwargs={"dim": 0})
    yield S(g.distinct(), kwargs={"dim": 0})
    yield S(g.distinct(0, 3), kwargs={"dim": 1}, desc="empty batch")
    yield S(g.ties(3, 5, low=0, high=1), kwargs={"dim": 1}, fd=False,
            desc="ties (first index wins, as torch)")


register("max_dim", _max_dim("max"), _max_dim_samples)
register("min_dim", _max_dim("min"), _max_dim_samples)


def _amax_samples(g):
    yield S(g.distinct(3, 4))
    yield S(g.distinct(3, 4), kwargs={"dim": 1})
    yield S(g.distinct(2, 3, 4), kwargs={"dim": (0, -1), "keepdim": True})
    yield S(g.distinct(), kwargs={"dim": 0})
    yield S(g.ties(3, 4, low=0, high=1), kwargs={"dim": 1}, fd=False, desc="ties (split evenly)")
    yield S(g.ties(2, 3, 2, low=0, high=1), kwargs={"dim": (0, 2)}, fd=False, desc="ties, tuple")
    yield S(g.distinct(0, 3), kwargs={"dim": 1}, desc="empty batch")


register("amax", lambda lib, x, **kw: lib.amax(x, **kw), _amax_samples)
register("amin", lambda lib, x, **kw: lib.amin(x, **kw), _amax_samples)


def _softmax_samples(g):
    yield S(g.randn(3, 5), kwargs={"dim": 1})
    yield S(g.randn(3, 5), kwargs={"dim": 0})
    yield S(g.randn(2, 3, 4), kwargs={"dim": -1})
    yield S(g.randn(2, 3, 4), kwargs={"dim": 1})
    yield S(g.randn(5), kwargs={"dim": 0})
    yield S(50 * g.randn(3, 4), kwargs={"dim": 1}, desc="large logits")
    yield S(g.randn(0, 4), kwargs={"dim": 1}, desc="empty batch")
    yield S(g.randn(3, 0), kwargs={"dim": 1}, desc="empty dim")
    yield S(g.randn(), kwargs={"dim": 0}, desc="0-d")
    yield S(g.randn(), kwargs={"dim": -1}, desc="0-d, dim -1")


register("softmax", lambda lib, x, **kw: lib.softmax(x, **kw), _softmax_samples)
register("log_softmax", lambda lib, x, **kw: lib.nn.functional.log_softmax(x, **kw),
         _softmax_samples)


def _softmax_backward_samples(g):
    """(upstream gradient, softmax output) pairs; the op is y * (g - sum(g * y)) for any y."""
    yield S(g.randn(3, 5), g.uniform(3, 5), 1)
    yield S(g.randn(2, 3, 4), g.uniform(2, 3, 4), 0, desc="first dim")
    yield S(g.randn(2, 3, 4), g.uniform(2, 3, 4), -1, desc="dim -1")
    yield S(g.randn(0, 4), g.uniform(0, 4), 1, desc="empty batch")
    yield S(g.randn(), g.uniform(), 0, desc="0-d")


register("_softmax_backward_data",
         lambda lib, g, y, dim: lib._softmax_backward_data(g, y, dim, g.dtype),
         _softmax_backward_samples)


def _logsumexp_samples(g):
    yield S(g.randn(3, 5), kwargs={"dim": 1})
    yield S(g.randn(3, 5), kwargs={"dim": 0, "keepdim": True})
    yield S(g.randn(2, 3, 4), kwargs={"dim": (0, 2)})
    yield S(g.randn(2, 3, 4), kwargs={"dim": -1})
    yield S(100 * g.randn(3, 4), kwargs={"dim": 1}, desc="large values")
    yield S(g.randn(4), kwargs={"dim": 0})
    yield S(g.randn(), kwargs={"dim": 0}, desc="0-d")
    yield S(g.randn(0, 3), kwargs={"dim": 1}, desc="empty batch")


register("logsumexp", lambda lib, x, **kw: lib.logsumexp(x, **kw), _logsumexp_samples)


# ----------------------------------------------------------------------------------------------
# Movement: reshape, view, transpose, expand, cat, split, pad...
# ----------------------------------------------------------------------------------------------
def _shape_samples(cases):
    def samples(g):
        for shape, args in cases:
            yield S(g.randn(*shape), kwargs={"args": args}, desc=f"{shape}->{args}")
    return samples


def _call(name):
    """``x.name(*args)`` with ``args`` from the sample's kwargs."""
    return lambda lib, x, args=(): getattr(x, name)(*args)


register("reshape", _call("reshape"), _shape_samples([
    ((3, 4), (2, 6)), ((3, 4), (4, -1)), ((), (1,)), ((2, 3, 4), (-1,)), ((0, 3), (3, 0)),
    ((6,), ((2, 3),)), ((1,), ((),))]))
register("view", _call("view"), _shape_samples([
    ((3, 4), (12,)), ((2, 3, 4), (6, -1)), ((4,), (2, 1, 2)), ((), (1, 1))]))
register("flatten", _call("flatten"), _shape_samples([
    ((2, 3, 4), ()), ((2, 3, 4), (1,)), ((2, 3, 4), (0, 1)), ((), ()), ((2, 3, 4, 2), (1, -2)),
    ((0, 2, 3), (1,))]))
register("squeeze", _call("squeeze"), _shape_samples([
    ((1, 3, 1), ()), ((1, 3, 1), (0,)), ((1, 3, 1), (-1,)), ((1, 3, 1), (1,)), ((1,), ()),
    ((1, 3, 1), ((0, 2),))]))
register("unsqueeze", _call("unsqueeze"), _shape_samples([
    ((3, 4), (0,)), ((3, 4), (-1,)), ((3, 4), (1,)), ((), (0,)), ((3, 4), (-3,))]))
register("transpose", _call("transpose"), _shape_samples([
    ((3, 4), (0, 1)), ((2, 3, 4), (-1, 0)), ((4,), (0, 0)), ((2, 3, 4), (1, 1))]))
register("permute", _call("permute"), _shape_samples([
    ((2, 3, 4), (2, 0, 1)), ((2, 3, 4), (-1, -3, -2)), ((2, 3, 4), ((1, 2, 0),)), ((3,), (0,))]))
register("T", lambda lib, x: x.T, lambda g: iter([S(g.randn(3, 4)), S(g.randn(4)), S(g.randn())]))
register("mT", lambda lib, x: x.mT, lambda g: iter([S(g.randn(2, 3, 4)), S(g.randn(3, 4))]))
register("expand", _call("expand"), _shape_samples([
    ((3, 1), (3, 4)), ((1, 4), (2, 3, 4)), ((3, 1), (-1, 5)), ((), (2, 3)), ((3, 1), ((2, 3, 2),))]))
register("repeat", _call("repeat"), _shape_samples([
    ((2, 3), (2, 1)), ((2, 3), (1, 2, 2)), ((3,), (2,)), ((2, 3), (1, 1)), ((), (3,))]))
register("contiguous", lambda lib, x, op: (x.transpose(0, 1) if op == "t" else
                                           x.expand(2, 3, 4)).contiguous(),
         lambda g: iter([S(g.randn(3, 4), kwargs={"op": "t"}),
                         S(g.randn(3, 1), kwargs={"op": "expand"})]))
register("clone", lambda lib, x: x.clone(), _unary(_randn))


def _cat(lib, *xs, **kw):
    return lib.cat(xs, **kw)


def _cat_samples(g):
    yield S(g.randn(2, 3), g.randn(4, 3))
    yield S(g.randn(2, 3), g.randn(2, 1), g.randn(2, 2), kwargs={"dim": 1})
    yield S(g.randn(2, 3, 2), g.randn(2, 3, 1), kwargs={"dim": -1})
    yield S(g.randn(2, 3), g.randn(0, 3), g.randn(1, 3), desc="with an empty tensor")
    yield S(g.randn(3), g.randn(2))
    yield S(g.randn(2, 3), g.randn(2, 3), requires_grad=[False, True], desc="rhs only")


register("cat", _cat, _cat_samples)


def _stack(lib, *xs, **kw):
    return lib.stack(xs, **kw)


def _stack_samples(g):
    yield S(g.randn(2, 3), g.randn(2, 3))
    yield S(g.randn(2, 3), g.randn(2, 3), g.randn(2, 3), kwargs={"dim": -1})
    yield S(g.randn(2, 3), g.randn(2, 3), kwargs={"dim": 1})
    yield S(g.randn(), g.randn(), g.randn(), desc="0-d")
    yield S(g.randn(0, 3), g.randn(0, 3), kwargs={"dim": 1}, desc="empty")


register("stack", _stack, _stack_samples)


def _split_samples(g):
    yield S(g.randn(5, 3), kwargs={"args": (2,)})
    yield S(g.randn(5, 3), kwargs={"args": ([1, 4],)})
    yield S(g.randn(2, 6), kwargs={"args": (3, 1)})
    yield S(g.randn(2, 6), kwargs={"args": ([1, 0, 5], -1)}, desc="with an empty piece")
    yield S(g.randn(0, 3), kwargs={"args": (2,)}, desc="empty dimension: one empty piece")


def _chunk_samples(g):
    yield S(g.randn(7, 2), kwargs={"args": (3,)})
    yield S(g.randn(6, 2), kwargs={"args": (4,)})          # torch gives 3 chunks of 2
    yield S(g.randn(2, 5), kwargs={"args": (2, -1)})
    yield S(g.randn(2, 1), kwargs={"args": (3, 1)})


register("split", lambda lib, x, args: tuple(x.split(*args)), _split_samples)
register("chunk", lambda lib, x, args: tuple(x.chunk(*args)), _chunk_samples)
register("unbind", lambda lib, x, dim=0: tuple(x.unbind(dim)),
         lambda g: iter([S(g.randn(3, 2)), S(g.randn(2, 3), kwargs={"dim": 1})]))


def _pad_samples(g):
    yield S(g.randn(2, 3), kwargs={"pad": (1, 2)})
    yield S(g.randn(2, 3, 4), kwargs={"pad": (1, 1, 2, 0)})
    yield S(g.randn(2, 3), kwargs={"pad": (0, 0, 1, 1), "value": 1.5})
    yield S(g.randn(1, 2, 3, 3), kwargs={"pad": (1, 1, 1, 1)})
    yield S(g.randn(3), kwargs={"pad": (0, 0)})
    yield S(g.randn(0, 2), kwargs={"pad": (1, 0)}, desc="empty batch")


register("pad", lambda lib, x, **kw: lib.nn.functional.pad(x, **kw), _pad_samples)


# ----------------------------------------------------------------------------------------------
# Indexing: x[index] and the out-of-place form of x[index] = v
# ----------------------------------------------------------------------------------------------
class Slot:
    """In an index template, the place of the k-th index tensor (an input of the sample)."""

    def __init__(self, k):
        self.k = k

    def __repr__(self):
        return f"T{self.k}"


def _fill(index, tensors):
    if isinstance(index, Slot):
        return tensors[index.k]
    if isinstance(index, tuple):
        return tuple(_fill(i, tensors) for i in index)
    return index


def _getitem(lib, x, *index_tensors, index):
    return x[_fill(index, index_tensors)]


_ALL = slice(None)


def _getitem_samples(g):
    x = lambda: g.randn(4, 5)  # noqa: E731
    yield S(x(), kwargs={"index": 1})
    yield S(x(), kwargs={"index": -1})
    yield S(x(), kwargs={"index": (slice(1, 3), 2)})
    yield S(x(), kwargs={"index": (slice(None, None, 2), slice(1, None))})
    yield S(x(), kwargs={"index": (None, _ALL, 0)})
    yield S(x(), kwargs={"index": (Ellipsis, 1)})
    yield S(x(), kwargs={"index": (slice(2, 2),)}, desc="empty slice")
    yield S(x(), kwargs={"index": (slice(-3, None), slice(None, -1))})
    yield S(x(), g.mask(4, 5), kwargs={"index": Slot(0)}, desc="bool mask")
    yield S(x(), g.mask(4), kwargs={"index": Slot(0)}, desc="bool mask on rows")
    yield S(x(), np.array([0, 2, 0, 3, 0]), kwargs={"index": Slot(0)},
            desc="int array with repeats")
    yield S(x(), np.array([3, 1, 3]), kwargs={"index": (Slot(0), slice(1, 4))},
            desc="int array and slice")
    yield S(x(), np.array([0, 1, 1]), np.array([4, 4, 2]), kwargs={"index": (Slot(0), Slot(1))},
            desc="two int arrays (repeated pair)")
    yield S(x(), np.array([[0, 1], [1, 1]]), kwargs={"index": (_ALL, Slot(0))},
            desc="2-d int array")
    yield S(g.randn(2, 3, 4), np.array([2, 0, 2]), kwargs={"index": (_ALL, Slot(0), _ALL)})
    yield S(g.randn(2, 3, 4), kwargs={"index": (Ellipsis, None, 1)})
    yield S(g.randn(2, 4, 3), np.array([1, -3, 0]), kwargs={"index": (-2, slice(1, 3), Slot(0))},
            desc="int, slice, int array (torch's dim order)")
    yield S(g.randn(3, 4, 3), g.mask(4), kwargs={"index": (-1, None, Slot(0))},
            desc="int, None, bool mask")
    yield S(g.randn(5), kwargs={"index": 3}, desc="to 0-d")
    yield S(g.randn(), kwargs={"index": None}, desc="0-d[None]")
    yield S(g.randn(), kwargs={"index": Ellipsis}, desc="0-d[...]")
    yield S(x(), np.array([], dtype=np.int64), kwargs={"index": Slot(0)},
            desc="empty int array")
    yield S(g.randn(0, 3), kwargs={"index": (slice(None), 1)}, desc="empty tensor")


register("getitem", _getitem, _getitem_samples)


def _setitem(lib, x, v, *index_tensors, index):
    y = x.clone()
    y[_fill(index, index_tensors)] = v
    return y


def _setitem_samples(g):
    yield S(g.randn(4, 5), g.randn(4, 2), kwargs={"index": (_ALL, slice(2, 4))})
    yield S(g.randn(4, 5), g.randn(5), kwargs={"index": 1})
    yield S(g.randn(4, 5), g.randn(1), kwargs={"index": (slice(1, 3),)}, desc="broadcast value")
    yield S(g.randn(4, 5), g.randn(), kwargs={"index": (Ellipsis, 0)}, desc="0-d value")
    yield S(g.randn(4, 5), 0.0, kwargs={"index": (_ALL, slice(2, 6))}, desc="x[:, 2:6] = 0")
    mask = g.mask(4, 5)
    yield S(g.randn(4, 5), g.randn(int(mask.sum())), mask, kwargs={"index": Slot(0)},
            desc="bool mask")
    yield S(g.randn(4, 5), g.randn(3, 5), np.array([3, 0, 2]), kwargs={"index": Slot(0)},
            desc="int array (no repeats)")
    yield S(g.randn(2, 3, 3), g.randn(3, 3), np.array([2, 0, 1]),
            kwargs={"index": (1, _ALL, Slot(0))}, desc="int, slice, int array (torch's order)")
    yield S(g.randn(4, 5), g.randn(2, 5), kwargs={"index": (slice(0, 4, 2),)},
            requires_grad=[True, False], desc="value without grad")
    yield S(g.randn(4, 5), g.randn(2, 5), kwargs={"index": (slice(0, 4, 2),)},
            requires_grad=[False, True], desc="only the value requires grad")
    yield S(g.randn(3), g.randn(), kwargs={"index": 1}, desc="0-d value into 1-d")


register("setitem", _setitem, _setitem_samples)


# ----------------------------------------------------------------------------------------------
# Matrix product
# ----------------------------------------------------------------------------------------------
def _matmul_samples(g):
    for sa, sb in [((3, 4), (4, 5)), ((4,), (4,)), ((4,), (4, 3)), ((3, 4), (4,)),
                   ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (3, 4, 2)),
                   ((4,), (2, 4, 3)), ((2, 3, 4), (4,)), ((0, 4), (4, 2)), ((3, 0), (0, 2)),
                   ((1, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (1, 2, 4, 2)), ((0, 3, 4), (4, 2)),
                   ((2, 3, 4), (1, 4, 2))]:
        yield S(g.randn(*sa), g.randn(*sb))
    yield S(g.randn(3, 4), g.randn(4, 2), requires_grad=[False, True], desc="rhs only")


register("matmul", lambda lib, a, b: a @ b, _matmul_samples)
register("matmul_fn", lambda lib, a, b: lib.matmul(a, b),
         lambda g: iter([S(g.randn(2, 3), g.randn(3, 2))]))


# ----------------------------------------------------------------------------------------------
# Smaller ops: flip, unflatten, dtype casts
# ----------------------------------------------------------------------------------------------
register("flip", lambda lib, x, dims: x.flip(dims), lambda g: iter([
    S(g.randn(3, 4), kwargs={"dims": (0,)}), S(g.randn(2, 3, 4), kwargs={"dims": (-1, 0)}),
    S(g.randn(5), kwargs={"dims": 0}), S(g.randn(), kwargs={"dims": 0}, desc="0-d"),
    S(g.randn(0, 3), kwargs={"dims": (1,)}, desc="empty")]))
register("unflatten", lambda lib, x, dim, sizes: x.unflatten(dim, sizes), lambda g: iter([
    S(g.randn(2, 6), kwargs={"dim": 1, "sizes": (2, 3)}),
    S(g.randn(12), kwargs={"dim": -1, "sizes": (3, -1)})]))


def _cast_samples(g):
    yield S(g.randn(3, 4), kwargs={"dtype": "float64"})
    yield S(g.randn(3, 4), kwargs={"dtype": "float32"}, fd=False,
            desc="to float32 (too coarse for finite differences)")


register("to_dtype", lambda lib, x, dtype: x.to(getattr(lib, dtype)), _cast_samples,
         float32=False)


# ----------------------------------------------------------------------------------------------
# Non-contiguous inputs: a sample's arrays become fresh (contiguous) tensors, so the strided
# or transposed view is taken inside the function, and the op then runs on that view.
# ----------------------------------------------------------------------------------------------
def _strided_samples(*shapes):
    return lambda g: iter([S(*(g.randn(*shape) for shape in shapes))])


register("prod_of_strided", lambda lib, x: x[:, ::2].prod(dim=0), _strided_samples((3, 5)))
register("var_of_transposed", lambda lib, x: x.mT.var(dim=1), _strided_samples((4, 3)))
register("std_of_transposed", lambda lib, x: x.mT.std(dim=0, keepdim=True),
         _strided_samples((4, 3)))
register("amax_of_transposed", lambda lib, x: lib.amax(x.mT, dim=0),
         lambda g: iter([S(g.distinct(4, 3))]))
register("softmax_of_transposed", lambda lib, x: lib.softmax(x.mT, dim=1),
         _strided_samples((5, 3)))
register("log_softmax_of_strided", lambda lib, x: lib.nn.functional.log_softmax(
    x[::2], dim=0), _strided_samples((5, 3)))
register("logsumexp_of_transposed", lambda lib, x: lib.logsumexp(x.mT, dim=(0, 1)),
         _strided_samples((5, 3)))
register("cat_of_views", lambda lib, a, b: lib.cat([a.mT, b[:, 1:]], dim=1),
         _strided_samples((3, 2), (2, 4)))
register("stack_of_views", lambda lib, a, b: lib.stack([a.mT, b[::2]], dim=2),
         _strided_samples((3, 2), (4, 3)))
register("pad_of_transposed", lambda lib, x: lib.nn.functional.pad(x.mT, (2, 1, 0, 1)),
         _strided_samples((4, 3)))
register("flip_of_transposed", lambda lib, x: x.mT.flip((0, 1)), _strided_samples((4, 3)))
register("repeat_of_transposed", lambda lib, x: x.mT.repeat(2, 1, 2), _strided_samples((4, 3)))
register("matmul_of_views", lambda lib, a, b: a.mT @ b[..., ::2],
         _strided_samples((4, 3), (2, 4, 5)))
register("getitem_of_transposed", lambda lib, x, i: x.mT[i, -1],
         lambda g: iter([S(g.randn(5, 4), np.array([[1, 1], [0, 3]]),
                           desc="2-d int array with repeats, then an int")]))


def _setitem_of_view(lib, x, v):
    y = x.mT.clone()
    y[1:3, ::2] = v
    return y


register("setitem_of_transposed", _setitem_of_view, _strided_samples((5, 4), (2, 1)))
