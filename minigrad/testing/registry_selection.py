"""Registry entries for the scatter reductions, index writes and selecting reductions
(``minigrad/ops/scatter_reduce.py``, ``minigrad/ops/selection.py``): scatter_reduce (each
reduction), index_copy, index_fill, take, aminmax, kthvalue, median, nanmedian, mode, nansum,
nanmean.

Each is checked like every entry (forward, gradients and second derivatives against torch and
finite differences).  Samples cover 0-d and empty tensors, negative dims, keepdim, a
transposed (non-contiguous) input and broadcast-free repeats; ops that return an index get
distinct values, so that the index (and the gradient sent to it) does not depend on how a
library breaks ties.  A ``t=True`` keyword transposes the first input before the call.
"""
from __future__ import annotations

import numpy as np

from .opinfo import Sample, register

S = Sample


def _sel(name, f, samples, **options):
    register(name, f, samples, family="selection", **options)


def _transposed(call):
    """f(lib, x, *rest, t=False, **kw): ``call`` on x, or on x.t() (a non-contiguous view)."""
    def f(lib, x, *rest, t=False, **kw):
        return call(lib, x.t() if t else x, *rest, **kw)
    return f


# ----------------------------------------------------------------------------------------------
# scatter_reduce, one entry per reduction
# ----------------------------------------------------------------------------------------------
def _scatter_reduce_samples(make):
    """make(g, *shape): the values (distinct ones for amax/amin, nonzero ones for prod)."""
    def samples(g):
        yield S(make(g, 3, 5), 1, g.index(5, 3, 4), make(g, 3, 4), desc="dim 1, repeats")
        yield S(make(g, 3, 5), -1, g.index(5, 3, 4), make(g, 3, 4),
                kwargs={"include_self": False}, desc="include_self=False, dim -1")
        yield S(make(g, 4, 2), 0, g.index(4, 6, 2), make(g, 6, 2), desc="dim 0")
        # (a src larger than index: torch's backward refuses it, tests/test_selection_ops.py)
        yield S(make(g, 5, 3), 0, g.index(3, 2, 3), make(g, 2, 3),
                kwargs={"t": True}, desc="transposed self")
        yield S(make(g), 0, np.array(0), make(g), desc="0-d")
        yield S(make(g, 3, 2), 1, np.zeros((3, 0), np.int64), make(g, 3, 0),
                desc="empty index")
    return samples


def _scatter_reduce(reduce):
    return _transposed(lambda lib, x, d, i, s, **kw: lib.scatter_reduce(x, d, i, s, reduce,
                                                                        **kw))


_sel("scatter_reduce_sum", _scatter_reduce("sum"),
     _scatter_reduce_samples(lambda g, *s: g.randn(*s)))
_sel("scatter_reduce_mean", _scatter_reduce("mean"),
     _scatter_reduce_samples(lambda g, *s: g.randn(*s)))
_sel("scatter_reduce_prod", _scatter_reduce("prod"),
     _scatter_reduce_samples(lambda g, *s: g.away(*s, low=0.5, high=1.5)))
_sel("scatter_reduce_amax", _scatter_reduce("amax"),
     _scatter_reduce_samples(lambda g, *s: g.distinct(*s)))
_sel("scatter_reduce_amin", _scatter_reduce("amin"),
     _scatter_reduce_samples(lambda g, *s: g.distinct(*s)))


def _scatter_reduce_zeros(g):
    x = g.away(2, 4, low=0.5, high=1.5)
    x[0, 1] = 0.0
    s = g.away(2, 3, low=0.5, high=1.5)
    s[1, 2] = 0.0
    index = np.array([[0, 1, 2], [1, 1, 3]])
    yield S(x, 1, index, s, desc="a zero in self and one in src")
    yield S(x, 1, index, s, kwargs={"include_self": False}, desc="zeros, include_self=False")


_sel("scatter_reduce_prod_zeros", _scatter_reduce("prod"), _scatter_reduce_zeros)


def _scatter_reduce_ties(g):
    yield S(np.array([[1.0, 2.0, 3.0], [4.0, 2.0, 0.0]]), 1, np.array([[0, 0], [1, 2]]),
            np.array([[1.0, 1.0], [2.0, -1.0]]), fd=False, desc="ties share the gradient")
    yield S(np.array([2.0, 5.0]), 0, np.array([0]), np.array([2.0]),
            kwargs={"include_self": False}, fd=False, desc="left-out self equal to result")


# ties are kinks: these entries are checked against torch only, never by finite differences
_sel("scatter_reduce_amax_ties", _scatter_reduce("amax"), _scatter_reduce_ties, fd=False)
_sel("scatter_reduce_amin_ties", _scatter_reduce("amin"), _scatter_reduce_ties, fd=False)

# ----------------------------------------------------------------------------------------------
# index_copy, index_fill, take
# ----------------------------------------------------------------------------------------------
def _index_copy(g):
    yield S(g.randn(4, 3), 0, np.array([3, 0]), g.randn(2, 3), desc="dim 0")
    yield S(g.randn(2, 5), -1, np.array([4, 1, 2]), g.randn(2, 3), desc="dim -1")
    yield S(g.randn(3, 4), 0, np.array([1, 3]), g.randn(2, 3), kwargs={"t": True},
            desc="transposed self")
    yield S(g.randn(), 0, np.array(0), g.randn(), desc="0-d")
    yield S(g.randn(3, 2), 0, np.zeros(0, np.int64), g.randn(0, 2), desc="empty index")


_sel("index_copy", _transposed(lambda lib, x, d, i, s: lib.index_copy(x, d, i, s)),
     _index_copy)


def _index_fill(g):
    yield S(g.randn(4, 3), 0, np.array([3, 0, 3]), desc="repeats")
    yield S(g.randn(2, 5), -1, np.array([-1, 1]), desc="negative dim and index")
    yield S(g.randn(3, 4), 1, np.array([0]), kwargs={"t": True}, desc="transposed")
    yield S(g.randn(), 0, np.array(0), desc="0-d")
    yield S(g.randn(0, 3), 1, np.array([2]), desc="empty input")


_sel("index_fill", _transposed(lambda lib, x, d, i: lib.index_fill(x, d, i, -1.5)),
     _index_fill)


def _index_fill_tensor(g):
    yield S(g.randn(4, 3), 1, np.array([2, 0, 2]), g.randn(), desc="value tensor gets grad")
    yield S(g.randn(3), 0, np.array([1]), g.randn(), desc="1-d")


_sel("index_fill_tensor", lambda lib, x, d, i, v: x.index_fill(d, i, v), _index_fill_tensor)


def _take(g):
    yield S(g.randn(3, 4), np.array([[0, 11], [5, 5]]), desc="repeats")
    yield S(g.randn(3, 4), np.array([-1, -12, 2]), desc="negative indices")
    yield S(g.randn(4, 3), np.array([1, 6, 11]), kwargs={"t": True}, desc="transposed")
    yield S(g.randn(), np.array(0), desc="0-d")
    yield S(g.randn(0, 2), np.zeros(0, np.int64), desc="empty")


_sel("take", _transposed(lambda lib, x, i: lib.take(x, i)), _take)

# ----------------------------------------------------------------------------------------------
# aminmax and the order statistics (values and indices both compared)
# ----------------------------------------------------------------------------------------------
def _aminmax(g):
    yield S(g.distinct(3, 4), desc="all elements")
    yield S(g.distinct(3, 4), kwargs={"dim": -1}, desc="dim -1")
    yield S(g.distinct(3, 4), kwargs={"dim": 0, "keepdim": True}, desc="keepdim")
    yield S(g.distinct(4, 3), kwargs={"dim": 1, "t": True}, desc="transposed")
    yield S(g.randn(), kwargs={"dim": 0}, desc="0-d")
    yield S(g.randn(0, 3), kwargs={"dim": 1}, desc="empty")
    yield S(np.array([[1.0, 3.0, 1.0], [2.0, 2.0, 0.0]]), fd=False, desc="ties")


_sel("aminmax", _transposed(lambda lib, x, **kw: tuple(lib.aminmax(x, **kw))), _aminmax)


def _along(g, extra=()):
    """Samples of an op reducing along ``dim`` with (values, indices) results."""
    yield S(g.distinct(3, 5), *extra, desc="dim -1 (default)")
    yield S(g.distinct(4, 3), *extra, kwargs={"dim": 0, "keepdim": True}, desc="dim 0, keepdim")
    yield S(g.distinct(3, 4, 2), *extra, kwargs={"dim": -2}, desc="3-d, dim -2")
    yield S(g.distinct(5, 3), *extra, kwargs={"dim": 1, "t": True}, desc="transposed")
    yield S(g.randn(), *extra, kwargs={"dim": 0}, desc="0-d")
    yield S(g.randn(0, 3), *extra, kwargs={"dim": 1}, desc="empty")


_sel("kthvalue", _transposed(lambda lib, x, k, **kw: tuple(lib.kthvalue(x, k, **kw))),
     lambda g: _along(g, (1,)))
_sel("kthvalue_k", _transposed(lambda lib, x, **kw: tuple(lib.kthvalue(x, 2, **kw))),
     lambda g: (s for s in _along(g) if s.inputs[0].ndim and s.inputs[0].size))


def _with_dim(name):
    return _transposed(lambda lib, x, **kw: tuple(getattr(lib, name)(x, kw.pop("dim", -1),
                                                                       **kw)))


_sel("median_dim", _with_dim("median"), _along)
_sel("mode", _transposed(lambda lib, x, **kw: tuple(lib.mode(x, **kw))),
     lambda g: iter([S(g.ties(3, 7), fd=False, desc="ties: the smallest most frequent"),
                     S(g.ties(4, 5), kwargs={"dim": 0, "keepdim": True}, fd=False,
                       desc="dim 0, keepdim"),
                     *_along(g)]))


def _nan_rows(g, all_nan_row=True):
    """(3, 5) distinct values with two NaNs in row 0 and (optionally) row 2 all NaN."""
    x = g.distinct(3, 5)
    x[0, [1, 3]] = np.nan
    if all_nan_row:
        x[2, :] = np.nan
    return x


_sel("nanmedian_dim", _with_dim("nanmedian"),
     # (the index of an all-NaN slice is whichever NaN torch's nth_element leaves in place)
     lambda g: iter([S(_nan_rows(g, False), kwargs={"dim": 1}, fd=False, desc="NaN skipped"),
                     *_along(g)]))


def _whole(g):
    yield S(g.distinct(3, 5), desc="odd count")
    yield S(g.distinct(2, 4), desc="even count: the lower middle")
    yield S(g.distinct(4, 3), kwargs={"t": True}, desc="transposed")
    yield S(np.array([[1.0, 2.0, 2.0], [3.0, 2.0, 0.0]]), fd=False,
            desc="ties share the gradient")
    yield S(g.randn(), desc="0-d")


_sel("median", _transposed(lambda lib, x: lib.median(x)), _whole)
_sel("nanmedian", _transposed(lambda lib, x: lib.nanmedian(x)),
     lambda g: iter([*_whole(g), S(_nan_rows(g), desc="NaN skipped"),
                     S(np.array([np.nan, np.nan]), fd=False, desc="all NaN")]))
_sel("median_nan", lambda lib, x: lib.median(x),       # a NaN result: no finite differences
     lambda g: iter([S(_nan_rows(g), fd=False, desc="NaN: shared among the NaNs")]), fd=False)

# ----------------------------------------------------------------------------------------------
# nansum, nanmean
# ----------------------------------------------------------------------------------------------
def _nan_sums(g, empty_fd=True):
    yield S(_nan_rows(g), desc="all elements")
    yield S(_nan_rows(g), kwargs={"dim": 1}, fd=False, desc="dim 1 (an all-NaN row)")
    yield S(_nan_rows(g), kwargs={"dim": (0, -1), "keepdim": True}, desc="dims, keepdim")
    yield S(g.randn(4, 3), kwargs={"dim": 0, "t": True}, desc="transposed, no NaN")
    yield S(g.randn(), desc="0-d")
    yield S(g.randn(0, 3), kwargs={"dim": 0}, fd=empty_fd, desc="empty")


def _nan_means(g):
    # an empty mean is 0 / 0: its gradient's derivative in the upstream gradient is 0 / 0 as
    # well, NaN in PyTorch and here, where finite differences of an empty gradient give 0
    return _nan_sums(g, empty_fd=False)


_sel("nansum", _transposed(lambda lib, x, **kw: lib.nansum(x, **kw)), _nan_sums)
_sel("nanmean", _transposed(lambda lib, x, **kw: lib.nanmean(x, **kw)), _nan_means)
