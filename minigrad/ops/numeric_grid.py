"""Functions over index grids and sample grids: ``gradient`` (finite differences),
``histogramdd``, ``unravel_index`` and ``nonzero_static``.

``gradient(f)`` estimates df/dx along each requested dim with second-order central
differences inside and one-sided differences (first or second order, ``edge_order``) at the
two ends, for a uniform ``spacing`` h or for sample coordinates x (non-uniform):

    uniform interior:      (f[i+1] - f[i-1]) / 2h
    non-uniform interior:  a f[i-1] + b f[i] + c f[i+1], with hl = x[i] - x[i-1],
                           hr = x[i+1] - x[i], a = -hr / (hl (hl + hr)),
                           b = (hr - hl) / (hl hr), c = hl / (hr (hl + hr))
    edges, order 1:        (f[1] - f[0]) / h0,  (f[-1] - f[-2]) / h_last
    edges, order 2:        (-3 f[0] + 4 f[1] - f[2]) / 2h (mirrored at the end); for
                           coordinates the three-point one-sided formulas (below)

It is built from differentiable ops (slices, products, cat), so gradients of any order flow
through it, to ``f`` and to tensor coordinates.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend, dtypes, return_types
from ..tensor import Tensor
from ._util import normalize_dim, python_type_name, scalar_type_name
from .elementwise import add, cast, mul, sub
from .division import div
from .movement import reshape
from .stacking import cat, narrow, select
from .statistics import _c_name

__all__ = ["gradient", "histogramdd", "unravel_index", "nonzero_static"]


# ----------------------------------------------------------------------------------------------
# gradient
# ----------------------------------------------------------------------------------------------
def _gradient_dims(input, dim):
    if dim is None:
        return list(range(input.ndim))
    dims = [dim] if isinstance(dim, numbers.Integral) else list(dim)
    out = [normalize_dim(d, input.ndim) for d in dims]
    for i, d in enumerate(out):
        if d in out[:i]:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return out


def _gradient_spacing(spacing, dims, all_dims):
    """One entry per dim: a float step or a 1-d coordinate Tensor."""
    if isinstance(spacing, Tensor) and spacing.ndim == 0:
        spacing = spacing.item()
    if isinstance(spacing, numbers.Number):
        return [float(spacing)] * len(dims)
    spacing = list(spacing)
    if len(spacing) != len(dims) and all_dims:
        raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar, or a "
                           f"list of length equal to 'self.dim() = {len(dims)}', since dim "
                           f"argument was not given, but got a list of length {len(spacing)}")
    if len(spacing) != len(dims):
        raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or it's "
                           f"spacing and dim arguments to have the same length, but got a "
                           f"spacing argument of length {len(spacing)} and a dim argument of "
                           f"length {len(dims)}.")
    if any(isinstance(s, Tensor) for s in spacing):      # all coordinates or all steps
        for i, s in enumerate(spacing):
            if not isinstance(s, Tensor):
                raise TypeError(f"expected Tensor as element {i} in argument 1, but got "
                                f"{python_type_name(s)}")
    out = []
    for s in spacing:
        if isinstance(s, Tensor):
            if s.ndim != 1:
                raise RuntimeError(f"torch.gradient expected each element of spacing to have one "
                                   f"dimension, but got an element with {s.ndim} dimensions!")
            out.append(s)
        else:
            out.append(float(s))
    return out


def _along(coefficient, ndim, d):
    """A 1-d coefficient tensor reshaped to broadcast along dim ``d`` of an ndim tensor."""
    shape = [1] * ndim
    shape[d] = -1
    return reshape(coefficient, shape)


def _one_dim_gradient(f, d, h, edge_order):
    n = f.shape[d]
    part = (lambda start, length: narrow(f, d, start, length))
    if not isinstance(h, Tensor):                           # uniform steps
        interior = div(sub(part(2, n - 2), part(0, n - 2)), 2.0 * h)
        if edge_order == 1:
            first = div(sub(part(1, 1), part(0, 1)), h)
            last = div(sub(part(n - 1, 1), part(n - 2, 1)), h)
        else:
            first = div(sub(sub(mul(part(1, 1), 2.0), mul(part(0, 1), 1.5)),
                            mul(part(2, 1), 0.5)), h)
            last = div(add(sub(mul(part(n - 1, 1), 1.5), mul(part(n - 2, 1), 2.0)),
                           mul(part(n - 3, 1), 0.5)), h)
        return cat([first, interior, last], d)
    # the coordinates' steps and the weights made of them stay in the coordinates' own dtype,
    # as PyTorch's (float16 coordinates give float16-rounded weights even for float64 samples)
    steps = sub(narrow(h, 0, 1, n - 1), narrow(h, 0, 0, n - 1))         # x[i+1] - x[i]
    # a single step is a 0-d tensor: it does not raise the dtype of the samples it divides
    # (PyTorch's one-sided ends of float16 samples stay float16 even for float32 coordinates)
    step = (lambda i: select(steps, 0, i))
    hl = _along(narrow(steps, 0, 0, n - 2), f.ndim, d)
    hr = _along(narrow(steps, 0, 1, n - 2), f.ndim, d)
    interior = add(add(mul(div(-hr, mul(hl, add(hl, hr))), part(0, n - 2)),
                       mul(div(sub(hr, hl), mul(hl, hr)), part(1, n - 2))),
                   mul(div(hl, mul(hr, add(hl, hr))), part(2, n - 2)))
    if edge_order == 1:
        first = div(sub(part(1, 1), part(0, 1)), step(0))
        last = div(sub(part(n - 1, 1), part(n - 2, 1)), step(n - 2))
        return cat([first, interior, last], d)
    # three-point one-sided formulas with steps h0 = x1 - x0, h1 = x2 - x1 (mirrored at the end)
    h0, h1 = step(0), step(1)
    s = add(h0, h1)
    first = add(add(mul(div(-add(mul(h0, 2.0), h1), mul(h0, s)), part(0, 1)),
                    mul(div(s, mul(h0, h1)), part(1, 1))),
                mul(div(-h0, mul(h1, s)), part(2, 1)))
    hm, hz = step(n - 3), step(n - 2)
    s = add(hm, hz)
    # PyTorch doubles the last step as an integer here (2.0 at the start): with integer
    # coordinates 2 * hz wraps around in their dtype as it does there
    last = add(add(mul(div(hz, mul(hm, s)), part(n - 3, 1)),
                   mul(div(-s, mul(hm, hz)), part(n - 2, 1))),
               mul(div(add(mul(hz, 2), hm), mul(hz, s)), part(n - 1, 1)))
    return cat([first, interior, last], d)


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """Finite-difference estimates of the derivative of the samples ``input`` along each dim
    of ``dim`` (all by default): a tuple with one tensor shaped like input per dim.
    ``spacing``: one step for every dim, one step per dim, or per dim a 1-d tensor of sample
    coordinates.  ``edge_order`` (1 or 2): the accuracy of the one-sided ends.  Integer
    input gives the default float dtype (with coordinates: the dtype of samples combined with
    coordinates)."""
    if isinstance(input, Tensor) and input._array.dtype == np.uint8:
        raise RuntimeError("torch.gradient does not support uint8 input.")
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    dims = _gradient_dims(input, dim)
    if spacing is None:             # torch accepts an explicit None as the unit step
        spacing = 1
    steps = _gradient_spacing(spacing, dims, dim is None)
    for d in dims:
        if input.shape[d] < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least "
                               "edge_order+1")
    coordinates = any(isinstance(h, Tensor) for h in steps)
    if input._array.dtype.kind == "b" and (edge_order == 1 or not coordinates):
        # PyTorch differences the samples (bool refuses) except with coordinates at second
        # order, where every term is a weighted sum of samples
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    # with coordinates, the terms are computed as PyTorch's: integer coordinates are
    # differenced (and multiplied) in their own dtype, wrapping around as it does, until a true
    # division makes floats; each term takes the dtype its operands promote to (integer
    # samples with float16 coordinates: float16), and ``cat`` the widest of them
    if not coordinates and input._array.dtype.kind in "iu":
        input = cast(input, dtypes.default_float().np)
    return tuple(_one_dim_gradient(input, d, h, edge_order) for d, h in zip(dims, steps))


# ----------------------------------------------------------------------------------------------
# histogramdd
# ----------------------------------------------------------------------------------------------
HistogramddResult = return_types.make("histogramdd", ["hist", "bin_edges"])


def _histogramdd_edges(data, bins, range, xp):
    """The bin edges of each of the D dims: given tensors, or ``bins[k]`` equal bins over
    ``range`` (pairs, flattened) or over the data's extent (widened by 1/2 each side when it
    is one point)."""
    n_dims = data.shape[1]
    if isinstance(bins, numbers.Integral):
        bins = [int(bins)] * n_dims
    bins = list(bins)
    if len(bins) != n_dims:
        raise RuntimeError("histogramdd: The size of bins must be equal to the innermost "
                           "dimension of the input.")
    if range is not None and len(range) != 2 * n_dims:
        raise RuntimeError(f"torch.histogramdd: for a {n_dims}-dimensional histogram range "
                           f"should have {2 * n_dims} elements, but got {len(range)}")
    edges = []
    for k, b in enumerate(bins):
        if isinstance(b, Tensor):
            if b._array.dtype != data.dtype:
                raise RuntimeError(f"torch.histogramdd: input tensor and bins tensors should "
                                   f"have the same dtype, but got input with dtype "
                                   f"{_c_name(data.dtype)} and bins for dimension {k} "
                                   f"with dtype {_c_name(b._array.dtype)}")
            if b.ndim != 1:
                raise RuntimeError(f"torch.histogramdd: bins tensor should have one dimension, "
                                   f"but got {b.ndim} dimensions in the bins tensor for "
                                   f"dimension {k}")
            if b.shape[0] == 0:
                raise RuntimeError(f"torch.histogramdd: bins tensor should have at least 1 "
                                   f"element, but got 0 elements in the bins tensor for "
                                   f"dimension {k}")
            if b.shape[0] == 1:                 # one edge, no bin (torch's words name histogram)
                raise RuntimeError(f"torch.histogram(): bins must be > 0, but got 0 for "
                                   f"dimension {k}")
            edges.append(b._array)
            continue
        if int(b) <= 0:
            raise RuntimeError(f"torch.histogramdd(): bins must be > 0, but got {b} for "
                               f"dimension {k}")
        if range is not None:
            lo, hi = float(range[2 * k]), float(range[2 * k + 1])
        elif data.shape[0]:
            lo, hi = float(data[:, k].min()), float(data[:, k].max())
        else:
            lo, hi = 0.0, 1.0
        if lo > hi:
            raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min "
                               f"{lo:g} max {hi:g} for dimension {k}")
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise RuntimeError(f"torch.histogramdd: range of [{lo}, {hi}] is not finite")
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges.append(xp.linspace(lo, hi, int(b) + 1).astype(data.dtype))
    return edges


def histogramdd(input, bins=10, *, range=None, weight=None, density=False):
    """(hist, bin_edges) of the points ``input`` (..., D): counts (or summed ``weight``, shaped
    like input without its last dim) in the D-dimensional bins; ``bins`` an int, one int per
    dim or one 1-d tensor of edges per dim; the last bin of each dim includes its right edge.
    ``density`` divides by the total and by each bin's volume.  hist: (B_0, ..., B_{D-1})."""
    a = input._array
    if a.ndim < 2:
        raise RuntimeError("torch.histogramdd: input tensor should have at least 2 dimensions")
    if a.dtype.kind not in "fV":
        raise NotImplementedError(f"\"histogramdd\" not implemented for "
                                  f"'{scalar_type_name(a.dtype)}'")
    if weight is not None and tuple(weight.shape) != tuple(a.shape[:-1]):
        raise RuntimeError(f"torch.histogramdd: if weight tensor is provided it should have the "
                           f"same shape as the input tensor excluding its innermost dimension, "
                           f"but got input with shape {list(a.shape)} and weight with shape "
                           f"{list(weight.shape)}")
    xp = backend.xp_of(a)
    data = a.reshape(-1, a.shape[-1])
    edges = _histogramdd_edges(data, bins, range, xp)
    data, edges = backend.as_numpy(data), [backend.as_numpy(e) for e in edges]
    shape = tuple(max(len(e) - 1, 0) for e in edges)
    inside = np.ones(data.shape[0], dtype=bool)
    flat = np.zeros(data.shape[0], dtype=np.int64)
    for k, e in enumerate(edges):
        pos, ok = _bin_of(data[:, k], e)
        inside &= ok
        flat = flat * shape[k] + pos
    w = None if weight is None else backend.as_numpy(weight._array).reshape(-1)[inside]
    hist = np.bincount(flat[inside], weights=w, minlength=int(np.prod(shape)))
    hist = hist.astype(np.float64).reshape(shape)
    if density:
        # divided by the total and by each bin's volume, the product of its widths (edges
        # given out of order make some widths negative, and torch divides by them as they are)
        with np.errstate(divide="ignore", invalid="ignore"):
            hist = hist / hist.sum()
            for k, e in enumerate(edges):
                hist = hist / np.diff(e.astype(np.float64)).reshape(
                    (1,) * k + (-1,) + (1,) * (len(edges) - k - 1))
    return HistogramddResult(Tensor._wrap(backend.to_device(hist.astype(a.dtype), input.device)),
                             tuple(Tensor._wrap(backend.to_device(e.astype(a.dtype), input.device))
                                   for e in edges))


def _bin_of(values, edges):
    """(bin index, counted?) of each value among ``edges`` (E,): a value counts when it lies in
    [edges[0], edges[-1]]; its bin is the last i with edges[i] <= value (value == edges[-1] falls
    in the last bin).  The index comes from a plain binary search for the first edge greater
    than the value, run on all values at once: on increasing edges that is ``searchsorted``;
    on edges out of order PyTorch still searches them this way and bins accordingly."""
    n_edges = len(edges)
    if n_edges < 2:
        return np.zeros(len(values), dtype=np.int64), np.zeros(len(values), dtype=bool)
    counted = (values >= edges[0]) & (values <= edges[-1])
    first = np.zeros(len(values), dtype=np.int64)
    length = np.full(len(values), n_edges, dtype=np.int64)
    while length.any():                     # about log2(E) rounds
        half = length // 2
        middle = first + half
        right = values >= edges[np.minimum(middle, n_edges - 1)]
        right &= length > 0
        first = np.where(right, middle + 1, first)
        length = np.where(right, length - half - 1, half)
    return np.minimum(first - 1, n_edges - 2).clip(0), counted


# ----------------------------------------------------------------------------------------------
# Index grids
# ----------------------------------------------------------------------------------------------
def unravel_index(indices, shape):
    """The coordinates in a tensor of ``shape`` of each flat (C-order) index in ``indices``:
    a tuple of int64 tensors shaped like ``indices``, one per dim.  Indices wrap as Python's
    floor division and modulo do (PyTorch's: -1 is the last element)."""
    if not isinstance(indices, Tensor):     # (PyTorch's Python asks it for is_complex first)
        raise AttributeError(f"'{type(indices).__name__}' object has no attribute 'is_complex'")
    if indices._array.dtype.kind not in "iu":
        raise TypeError(f"expected 'indices' to be integer dtype, but got "
                        f"{indices.dtype}")
    shape = (int(shape),) if isinstance(shape, numbers.Integral) else tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"'shape' cannot have negative values, but got {shape}")
    if 0 in shape and indices._array.size:
        raise RuntimeError("ZeroDivisionError")          # PyTorch's words for an empty shape
    rest = indices._array.astype(np.int64)
    coords = []
    for size in reversed(shape):
        coords.append(rest % size if size else rest)
        rest = rest // size if size else rest
    if not coords:
        return ()
    # one block with the coordinates last, as PyTorch's: each result is a view of it (its
    # strides step over the others)
    xp = backend.xp_of(rest)
    block = xp.ascontiguousarray(xp.stack(list(reversed(coords)), axis=-1))
    return tuple(Tensor._wrap(block[..., i]) for i in range(len(coords)))


def nonzero_static(input, *, size, fill_value=-1):
    """``nonzero(input)`` with exactly ``size`` rows: the first ``size`` indices of non-zero
    elements, padded with rows of ``fill_value``.  (size, input.ndim) int64."""
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 0:
        raise RuntimeError("nonzero_static: 'size' must be an non-negative integer")
    a = input._array
    xp = backend.xp_of(a)
    found = xp.stack(xp.nonzero(a), axis=1) if a.ndim else \
        xp.zeros((int(a != 0), 0), dtype=xp.int64)
    out = xp.full((int(size), a.ndim), int(fill_value), dtype=xp.int64)
    keep = min(int(size), found.shape[0])
    out[:keep] = found[:keep]
    return Tensor._wrap(out)
