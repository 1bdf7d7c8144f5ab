"""``torch.histogram``: counts (or summed weights) of a tensor's elements in bins, with
PyTorch's checks in PyTorch's order and its binning of a tensor of edges (a binary search
for the last edge at or below each element, as C++'s ``upper_bound``: edges that do not
increase give what that search gives, not an error)."""
from __future__ import annotations

import numpy as np

from .. import backend, dtypes, return_types
from ..tensor import Tensor
from ._util import not_implemented_for

HistogramResult = return_types.make("histogram", ["hist", "bin_edges"])

_KERNEL_TYPES = ("float32", "float64", "float16", "bfloat16")
_SIGNATURES = (" * (Tensor input, Tensor bins, *, Tensor weight = None, bool density = False, "
               "tuple of Tensors out = None)\n * (Tensor input, int bins = 100, *, tuple of "
               "floats range = None, Tensor weight = None, bool density = False, tuple of "
               "Tensors out = None)\n")


def _upper_bound(edges, x):
    """For each of ``x``, C++'s ``std::upper_bound(edges, x)``: the binary search's answer
    (the first edge above x when the edges increase), vectorised over x."""
    first = np.zeros(x.shape, np.int64)
    count = np.full(x.shape, len(edges), np.int64)
    while np.any(count > 0):
        half = count >> 1
        middle = first + half
        probe = edges[np.minimum(middle, len(edges) - 1)]
        below = (x < probe) & (count > 0)
        step = (count > 0) & ~below
        first = np.where(step, middle + 1, first)
        count = np.where(below, half, np.where(step, count - half - 1, count))
    return first


def histogram(input, bins=100, *, range=None, weight=None, density=False):
    """(hist, bin_edges): counts (or summed ``weight``) of ``input`` in ``bins`` equal bins over
    ``range`` (the data's range by default) or between the given 1-d tensor of edges; the last
    bin includes its right edge.  ``density`` divides by the total and the bin widths."""
    a = input._array
    name = str(a.dtype)
    given_edges = isinstance(bins, Tensor)
    if given_edges and range is not None:       # (no signature takes both)
        got = ", ".join(["Tensor", "Tensor"] + (["weight=Tensor"] if weight is not None else
                                                []) + ["range=tuple"])
        raise TypeError(f"histogram() received an invalid combination of arguments - got "
                        f"({got}), but expected one of:\n{_SIGNATURES}")
    xp = backend.xp_of(a)
    if given_edges:
        edges = bins._array
        if edges.ndim != 1:
            raise RuntimeError(f"torch.histogramdd: bins tensor should have one dimension, but "
                               f"got {edges.ndim} dimensions in the bins tensor for dimension 0")
        if edges.dtype != a.dtype:
            raise RuntimeError(f"torch.histogramdd: input tensor and bins tensors should have "
                               f"the same dtype, but got input with dtype "
                               f"{dtypes.typeid_name(a.dtype)} and bins for dimension 0 with "
                               f"dtype {dtypes.typeid_name(edges.dtype)}")
        if edges.size == 0:
            raise RuntimeError("torch.histogramdd: bins tensor should have at least 1 element, "
                               "but got 0 elements in the bins tensor for dimension 0")
    else:
        bins = int(bins)
        if bins <= 0:
            raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for "
                               f"dimension 0")
        if range is None and a.size and name not in ("float32", "float64"):
            raise not_implemented_for("histogramdd", a.dtype)     # (the data's min and max)
        if range is not None:
            lo, hi = float(range[0]), float(range[1])
        elif a.size:
            lo, hi = float(a.min()), float(a.max())
        else:                                   # no data and no range: the unit interval
            lo, hi = 0.0, 1.0
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise RuntimeError(f"torch.histogramdd: dimension 0's range [{lo:g}, {hi:g}] is not "
                               f"finite")
        if lo > hi:
            raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min "
                               f"{lo:g} max {hi:g} for dimension 0")
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = None
    w = None
    if weight is not None:
        w = weight._array
        if w.dtype != a.dtype:
            raise RuntimeError(f"torch.histogramdd: if weight tensor is provided, input tensor "
                               f"and weight tensor should have the same dtype, but got "
                               f"input({dtypes.typeid_name(a.dtype)}), and "
                               f"weight({dtypes.typeid_name(w.dtype)})")
        if w.size != a.size:
            raise RuntimeError(f"torch.histogramdd: if weight tensor is provided it should have "
                               f"the same shape as the input tensor excluding its innermost "
                               f"dimension, but got input with shape [{a.size}, 1] and weight "
                               f"with shape [{w.size}]")
        w = w.reshape(-1)
    if edges is not None and edges.size == 1:     # (one edge: no bin)
        raise RuntimeError("torch.histogram(): bins must be > 0, but got 0 for dimension 0")
    if name not in _KERNEL_TYPES:               # (the kernel's refusal comes last; a bool
        # tensor's first, at the equal bins' edges)
        raise not_implemented_for("linspace_cpu" if edges is None and name == "bool" else
                                  "histogram_cpu", a.dtype)
    if edges is None:
        edges = xp.linspace(lo, hi, bins + 1).astype(a.dtype)
    hist = _counts(a.reshape(-1), edges, w, given_edges)
    if density:
        widths = np.diff(edges.astype(np.float64))
        with np.errstate(divide="ignore", invalid="ignore"):
            hist = hist / (hist.sum() * widths)
    return HistogramResult(Tensor._wrap(xp.asarray(hist).astype(a.dtype)),
                           Tensor._wrap(edges.astype(a.dtype)))


def _counts(x, edges, w, given_edges):
    """The (weighted) count in each bin: elements outside [edges[0], edges[-1]] skipped, the
    last bin closed on the right."""
    x = np.asarray(x, np.float64)
    e = np.asarray(edges, np.float64)
    n = len(e) - 1
    keep = (x >= e[0]) & (x <= e[-1])
    x = x[keep]
    if given_edges:
        pos = _upper_bound(e, x) - 1
    else:                           # equal bins: the linear position, corrected by the edges
        span = e[-1] - e[0]
        pos = ((x - e[0]) * n / span).astype(np.int64) if span else np.zeros(x.shape, np.int64)
        pos = np.clip(pos, 0, max(n - 1, 0))
        pos = np.where((pos > 0) & (x < e[np.minimum(pos, n)]), pos - 1, pos)
        pos = np.where((pos < n - 1) & (e[np.minimum(pos + 1, n)] <= x), pos + 1, pos)
    pos = np.where(pos == n, n - 1, pos)
    weights = None if w is None else np.asarray(w, np.float64)[keep]
    return np.bincount(pos, weights=weights, minlength=n)[:n].astype(np.float64) if n else \
        np.zeros(0)
