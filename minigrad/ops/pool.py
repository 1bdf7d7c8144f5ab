"""Pooling: max, average and adaptive pooling in 1-D and 2-D, forward beside backward.

Every op works on the last 1 or 2 axes; whatever comes before them (N, C or just C) is a
batch of independent planes, so unbatched inputs need no special case.

Windows are visited as *sub-grids*: for kernel offset (p, q), the strided view
``xpad[..., p*d :: s, q*d :: s]`` (cut to the output size) holds, for every output pixel,
the input element at that offset of its window. A max-pool is then kH*kW ``maximum`` calls
on whole sub-grids (a 2x2/2 pool is 4 calls), never a loop over pixels; the backward loops
over the same kH*kW offsets.
"""
from __future__ import annotations

import itertools
import numbers

import numpy as np  # dtype limits only; the data goes through backend.xp_of

from .. import backend
from ..autograd import Function, is_grad_enabled
from ._window_checks import adaptive_size, pool_args, tensor_arrays
from .conv import _prod, _window_slices

__all__ = ["MaxPool", "AvgPool", "AdaptiveAvgPool", "AdaptiveMaxPool",
           "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d"]


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------
def _pad(x, pads, value):
    """Pad the last len(pads) axes of x with ``value``: pads = ((left, right), ...)."""
    if not any(l or r for l, r in pads):
        return x
    xp = backend.xp_of(x)
    nd = len(pads)
    shape = x.shape[:-nd] + tuple(n + l + r for n, (l, r) in zip(x.shape[-nd:], pads))
    out = xp.full(shape, value, dtype=x.dtype)
    out[(Ellipsis,) + tuple(slice(l, l + n) for n, (l, _) in zip(x.shape[-nd:], pads))] = x
    return out


def _crop(x, pads, size):
    """Undo ``_pad``: the interior of x, as a contiguous array."""
    if not any(l or r for l, r in pads):
        return x
    xp = backend.xp_of(x)
    return xp.ascontiguousarray(
        x[(Ellipsis,) + tuple(slice(l, l + n) for n, (l, _) in zip(size, pads))])


def _along(ax, index):
    """An index tuple that applies ``index`` to axis ``ax`` only."""
    return (slice(None),) * ax + (index,)


def _ranked(base):
    """The 1-D and 2-D variants of a pooling Function: the same code, named as PyTorch names
    the grad_fn (MaxPool2DWithIndicesBackward0, ...)."""
    return tuple(type(f"{base.__name__}{n}d", (base,), {"nd": n}) for n in (1, 2))


def _lowest(dtype):
    """The value padding takes in a max-pool: -inf, or the smallest integer."""
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _offset_dtype(count):
    return np.int8 if count <= 127 else np.int16 if count <= 32767 else np.int32


def _running_max(candidate, count, xp, with_arg=True):
    """Max over ``count`` candidates and the index of the one PyTorch picks.

    candidate(k) -> the k-th candidate for every output position (a view, shape = out).
    PyTorch scans a window in order and keeps ``val > max or isnan(val)``: the FIRST maximum,
    but the LAST NaN. Here: a running ``maximum`` (NaN propagates) whose index moves only on a
    strictly greater value, then, only if the result holds NaNs, the largest k that is NaN.
    """
    out = xp.array(candidate(0), copy=True)
    arg = xp.zeros(out.shape, dtype=_offset_dtype(count)) if with_arg else None
    for k in range(1, count):
        c = candidate(k)
        if with_arg:
            arg += (c > out) * (k - arg)        # = k where c > out: arithmetic on small ints is
        xp.maximum(out, c, out=out)             # ~30x faster than a masked copy (copyto/where)
    if with_arg and out.dtype.kind == "f" and bool(xp.isnan(out).any()):
        for k in range(count):
            arg += xp.isnan(candidate(k)) * (k - arg)
    return out, arg


def _axis_positions(xp, out_size, stride, pad_l, nd):
    """Per axis: the input coordinate where each output window starts (i*s - pad), shaped to
    broadcast against the output grid."""
    return [xp.arange(n).reshape((-1,) + (1,) * (nd - 1 - a)) * s - p
            for a, (n, s, p) in enumerate(zip(out_size, stride, pad_l))]


# ----------------------------------------------------------------------------------------------
# Max pooling
# ----------------------------------------------------------------------------------------------
class MaxPool(Function):
    """Max over each window (padding counts as -inf).

    x (..., *S) -> y (..., *out), y[..., i, j] = max_{p, q} xpad[..., i*sH + p*dH, j*sW + q*dW].
    Forward keeps ``arg``, the kernel offset k = p*kW + q of the chosen element (PyTorch's: the
    first maximum in scan order). Backward: the gradient goes to that element only,
    dx[..., window(i, j) at offset arg[i, j]] += dy[..., i, j]: one pass per offset.
    """

    @classmethod
    def name(cls):
        return f"MaxPool{cls.nd}DWithIndicesBackward0"

    nd = 2

    def forward(self, x, *, kernel, stride, padding, dilation, out_size, indices_out=None):
        # padding: (left, right) per axis; indices_out: a list that receives PyTorch's indices
        xp = backend.xp_of(x)
        nd = len(kernel)
        size = x.shape[-nd:]
        low = _lowest(x.dtype)
        xpad = _pad(x, padding, low)                               # (..., *Sp)
        with_arg = indices_out is not None or is_grad_enabled()   # no_grad inference: max only
        # The max is separable: along W first, then H. Taking the first max along W, then the
        # first row holding the max, is exactly PyTorch's first max in row-major window order.
        y, arg = xpad, None
        for a in range(nd - 1, -1, -1):                            # (..., Sp[:a], out[a:])
            ax, k, s, d, o = y.ndim - nd + a, kernel[a], stride[a], dilation[a], out_size[a]

            def pick(p):                                           # offset p of every window
                return _along(ax, slice(p * d, p * d + s * (o - 1) + 1, s))

            y_new, arg_a = _running_max(lambda p: y[pick(p)], k, xp, with_arg)
            if with_arg:
                if any(padding[a]) and bool((y_new == low).any()):
                    # only -inf in the window: PyTorch names its first element inside the input
                    first = xp.clip(-((xp.arange(o) * s - padding[a][0]) // d), 0, k - 1)
                    first = first.astype(arg_a.dtype)
                    arg_a = xp.where(y_new == low, first.reshape((-1,) + (1,) * (nd - 1 - a)),
                                     arg_a)
                arg = arg_a if arg is None else self._combine(xp, arg, arg_a, pick, k,
                                                               _prod(kernel[a + 1:]))
            y = y_new
        if indices_out is not None:
            indices_out.append(self._flat_indices(xp, arg, size, out_size, kernel, stride,
                                                  padding, dilation))
        if with_arg:
            self.save_for_backward(arg)                            # (..., *out) small ints
        self.geometry = (kernel, stride, padding, dilation, size, xpad.shape, out_size)
        return y

    @staticmethod
    def _combine(xp, arg, arg_a, pick, k, later):
        """Row-major offset in the window: arg_a (offset along this axis) * prod(later kernel
        sizes) + the offset along the later axes found at the chosen position."""
        total = _offset_dtype(k * later)
        out = arg_a.astype(total)
        out *= later
        for p in range(k):
            out += (arg_a == p) * arg[pick(p)]  # arithmetic select (see _running_max)
        return out

    def backward(self, grad):                                      # grad: (..., *out)
        arg, = self.saved_tensors
        xp = backend.xp_of(grad)
        kernel, stride, padding, dilation, size, padded_shape, out_size = self.geometry
        gx = xp.zeros(padded_shape, dtype=grad.dtype)              # (..., *Sp)
        # windows that do not overlap: each input element gets at most one write
        disjoint = all(s >= d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))
        for k, offset in enumerate(itertools.product(*(range(n) for n in kernel))):
            view = gx[(Ellipsis,) + _window_slices(offset, stride, dilation, out_size)]
            if disjoint:
                xp.multiply(grad, arg == k, out=view)
            else:
                view += grad * (arg == k)
        return _crop(gx, padding, size)

    @staticmethod
    def _flat_indices(xp, arg, size, out_size, kernel, stride, padding, dilation):
        """PyTorch's indices: position of the max in its (unpadded) plane, row-major, int64."""
        nd = len(kernel)
        starts = _axis_positions(xp, out_size, stride, [l for l, _ in padding], nd)
        arg = arg.astype(np.int64)
        flat = 0
        rest = arg
        for a in range(nd - 1, -1, -1):                            # last axis first
            rest, p = xp.divmod(rest, kernel[a])
            coord = starts[a] + p * dilation[a]
            scale = 1
            for n in size[a + 1:]:
                scale *= n
            flat = flat + coord * scale
        return flat


MaxPool1d, MaxPool2d = _ranked(MaxPool)


# ----------------------------------------------------------------------------------------------
# Average pooling
# ----------------------------------------------------------------------------------------------
def _sum_along(y, ax, kernel, stride, out):
    """Window sums along one axis: z[.., i, ..] = sum_{p < kernel} y[.., i*stride + p, ..]."""
    acc = None
    for p in range(kernel):
        part = y[_along(ax, slice(p, p + stride * (out - 1) + 1, stride))]
        if acc is None:
            acc = part.copy()
        else:
            acc += part
    return acc


def _spread_along(g, ax, kernel, stride, full):
    """The adjoint of ``_sum_along``: each z[.., i, ..] goes back to its ``kernel`` inputs."""
    xp = backend.xp_of(g)
    out = g.shape[ax]
    gx = xp.zeros(g.shape[:ax] + (full,) + g.shape[ax + 1:], dtype=g.dtype)
    for p in range(kernel):
        view = _along(ax, slice(p, p + stride * (out - 1) + 1, stride))
        if stride >= kernel:           # disjoint windows: plain writes
            gx[view] = g
        else:
            gx[view] += g
    return gx


class AvgPool(Function):
    """Mean over each window: y = (sum of the window's elements) / divisor.

    x (..., *S) -> y (..., *out). The divisor is kH*kW, or with ``count_include_pad=False``
    the number of real (non-padding) elements, or ``divisor_override``; as PyTorch, ceil_mode's
    overhang past the right padding never counts. The window sum is separable: kH slice-adds
    along H, then kW along W. Backward: dy / divisor spread back over each window, the same
    way in reverse.
    """

    @classmethod
    def name(cls):
        return f"AvgPool{cls.nd}DBackward0"

    nd = 2

    def forward(self, x, *, kernel, stride, padding, out_size, count_include_pad=True,
                divisor_override=None):
        nd = len(kernel)
        size = x.shape[-nd:]
        y = _pad(x, padding, 0)                                    # (..., *Sp)
        for a in range(nd):                                        # (..., out[:a+1], Sp[a+1:])
            y = _sum_along(y, y.ndim - nd + a, kernel[a], stride[a], out_size[a])
        divisor = self._divisor(backend.xp_of(x), size, out_size, kernel, stride, padding,
                                count_include_pad, divisor_override, x.dtype)
        y /= divisor
        if not isinstance(divisor, numbers.Number):
            self.save_for_backward(divisor)                        # (*out) array
        self.divisor = divisor if isinstance(divisor, numbers.Number) else None
        self.geometry = (kernel, stride, padding, size)
        return y

    def backward(self, grad):                                      # grad: (..., *out)
        kernel, stride, padding, size = self.geometry
        nd = len(kernel)
        divisor = self.divisor if self.divisor is not None else self.saved_tensors[0]
        g = grad / divisor
        for a in range(nd - 1, -1, -1):                            # undo the sums, last first
            g = _spread_along(g, g.ndim - nd + a, kernel[a], stride[a],
                              size[a] + padding[a][0] + padding[a][1])
        return _crop(g, padding, size)                             # (..., *S)

    @staticmethod
    def _divisor(xp, size, out_size, kernel, stride, padding, count_include_pad,
                 divisor_override, dtype):
        """PyTorch's divisor per output position (a number when it is the same everywhere)."""
        if divisor_override is not None:
            return divisor_override
        nd = len(kernel)
        total = 1
        for a, (n, o, k, s, (l, _)) in enumerate(zip(size, out_size, kernel, stride, padding)):
            start = np.arange(o) * s - l
            end = np.minimum(start + k, n + l)                     # clipped at the padding
            if not count_include_pad:
                start, end = np.maximum(start, 0), np.minimum(end, n)
            total = total * (end - start).reshape((-1,) + (1,) * (nd - 1 - a))
        if (total == total.flat[0]).all():
            return int(total.flat[0])
        return xp.asarray(total.astype(dtype))


AvgPool1d, AvgPool2d = _ranked(AvgPool)


# ----------------------------------------------------------------------------------------------
# Adaptive pooling: output size given, windows computed (PyTorch's bounds)
# ----------------------------------------------------------------------------------------------
def _adaptive_bounds(n, o):
    """Window i of ``o`` over ``n`` elements is [floor(i*n/o), ceil((i+1)*n/o))."""
    i = np.arange(o)
    return i * n // o, -(-(i + 1) * n // o)


def _averaging_matrix(xp, n, o, dtype):
    """(o, n) matrix A with A[i, j] = 1/len(window i) for j in window i: y = A @ x averages."""
    start, end = _adaptive_bounds(n, o)
    j = np.arange(n)
    inside = (j >= start[:, None]) & (j < end[:, None])
    return xp.asarray((inside / (end - start)[:, None]).astype(dtype))


class AdaptiveAvgPool(Function):
    """Average over adaptive windows, one axis at a time.

    x (..., *S) -> y (..., *out). Along an axis where n is a multiple of o, the windows are
    equal (k = n/o): a reshape and a mean. Otherwise the windows differ in length (and may
    overlap), and the average along that axis is a product with an (o, n) averaging matrix A.
    Backward: the adjoint, axis by axis in reverse: a repeat / k, or a product with A.
    """

    @classmethod
    def name(cls):
        return f"AdaptiveAvgPool{cls.nd}DBackward0"

    nd = 2

    def forward(self, x, *, out_size):
        xp = backend.xp_of(x)
        nd = len(out_size)
        y = x
        for a, o in enumerate(out_size):
            ax = y.ndim - nd + a
            n = y.shape[ax]
            if o and n % o == 0:
                y = y.reshape(y.shape[:ax] + (o, n // o) + y.shape[ax + 1:]).mean(axis=ax + 1)
            else:
                A = _averaging_matrix(xp, n, o, x.dtype)           # (o, n)
                y = xp.moveaxis(xp.tensordot(y, A, axes=([ax], [1])), -1, ax)
        self.size = x.shape[-nd:]
        return xp.ascontiguousarray(y)

    def backward(self, grad):                                      # grad: (..., *out)
        xp = backend.xp_of(grad)
        nd = len(self.size)
        g = grad
        for a in range(nd - 1, -1, -1):
            ax = g.ndim - nd + a
            n, o = self.size[a], g.shape[ax]
            if o and n % o == 0:
                g = xp.repeat(g, n // o, axis=ax)
                g /= n // o                                        # in place: g is a new array
            else:
                A = _averaging_matrix(xp, n, o, grad.dtype)
                g = xp.moveaxis(xp.tensordot(g, A, axes=([ax], [0])), -1, ax)
        return xp.ascontiguousarray(g)


AdaptiveAvgPool1d, AdaptiveAvgPool2d = _ranked(AdaptiveAvgPool)


class AdaptiveMaxPool(Function):
    """Max over adaptive windows of unequal length (the equal case goes to ``MaxPool``).

    Every window is padded to the longest by repeating its last element (which never changes
    the max nor PyTorch's choice of index), its candidates gathered per offset, and the max
    taken as in ``MaxPool``. Backward scatters dy to the saved indices with an unbuffered
    add (windows may overlap); this op is not on any hot path.
    """

    @classmethod
    def name(cls):
        return f"AdaptiveMaxPool{cls.nd}DBackward0"

    nd = 2

    def forward(self, x, *, out_size, indices_out=None):
        xp = backend.xp_of(x)
        nd = len(out_size)
        size = x.shape[-nd:]
        coords = []                                                # per axis: (o, kmax) ints
        for n, o in zip(size, out_size):
            start, end = _adaptive_bounds(n, o)
            kmax = int((end - start).max()) if o else 1
            coords.append(np.minimum(start[:, None] + np.arange(kmax), end[:, None] - 1))
        offsets = list(itertools.product(*(range(c.shape[1]) for c in coords)))
        flat = []                                                  # per offset: (*out) index
        for offset in offsets:
            index = 0
            for a, (c, p) in enumerate(zip(coords, offset)):
                index = index * size[a] + c[:, p].reshape((-1,) + (1,) * (nd - 1 - a))
            flat.append(xp.asarray(index))
        planes = x.reshape(x.shape[:-nd] + (-1,))                  # (..., prod(S))
        cands = [planes[..., f] for f in flat]                     # gathered copies (..., *out)
        out, arg = _running_max(lambda k: cands[k], len(cands), xp)
        indices = xp.zeros(out.shape, dtype=np.int64)
        for k, f in enumerate(flat):
            xp.copyto(indices, f, where=arg == k)
        if indices_out is not None:
            indices_out.append(indices)
        self.save_for_backward(indices)
        self.in_shape, self.size = x.shape, size
        return out

    def backward(self, grad):                                      # grad: (..., *out)
        indices, = self.saved_tensors                              # (..., *out) int64
        xp = backend.xp_of(grad)
        rows = _prod(indices.shape[:indices.ndim - len(self.size)])  # planes: every leading index
        gx = xp.zeros((rows, _prod(self.size)), dtype=grad.dtype)
        backend.index_add(gx, (xp.arange(rows)[:, None], indices.reshape(rows, -1)),
                          grad.reshape(rows, -1))
        return gx.reshape(self.in_shape)


AdaptiveMaxPool1d, AdaptiveMaxPool2d = _ranked(AdaptiveMaxPool)


# ----------------------------------------------------------------------------------------------
# Public functional API (re-exported from minigrad.nn.functional)
# ----------------------------------------------------------------------------------------------
def _max_pool(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x, = tensor_arrays(op, input=input)
    params = pool_args(op, nd, x, kernel_size, stride, padding, dilation, ceil_mode,
                       max_pool=True)
    sink = [] if return_indices else None
    out = (MaxPool1d if nd == 1 else MaxPool2d).apply(input, indices_out=sink, **params)
    return (out, _wrap(sink[0])) if return_indices else out


def _wrap(array):
    from ..tensor import Tensor
    return Tensor._wrap(array)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-D max pooling: input (N, C, L) or (C, L) -> (N, C, L_out). See ``max_pool2d``."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling, as ``torch.nn.functional.max_pool2d``.

    input (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out), H_out = conv_output_size(H,
    kH, sH, pH, dH, ceil_mode). stride defaults to kernel_size; padding (at most half the
    effective kernel) counts as -inf. With ``return_indices`` also returns, as PyTorch, the
    int64 position of each max in its flattened (H*W) input plane; among equal values the
    first in window order wins, and it alone receives the gradient.
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def _avg_pool(op, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    x, = tensor_arrays(op, input=input)
    params = pool_args(op, nd, x, kernel_size, stride, padding, 1, ceil_mode,
                       max_pool=False)
    del params["dilation"]
    return (AvgPool1d if nd == 1 else AvgPool2d).apply(
        input, count_include_pad=bool(count_include_pad), divisor_override=divisor_override,
        **params)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """1-D average pooling: input (N, C, L) or (C, L) -> (N, C, L_out). See ``avg_pool2d``."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """2-D average pooling, as ``torch.nn.functional.avg_pool2d``.

    input (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out). Each output is its window's sum
    divided by kH*kW (zero padding included), by the count of non-padding elements when
    ``count_include_pad=False``, or by ``divisor_override``.
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def adaptive_avg_pool1d(input, output_size):
    """Average pooling to a given length: (N, C, L) or (C, L) -> (N, C, output_size)."""
    x, = tensor_arrays("adaptive_avg_pool1d", input=input)
    size = adaptive_size("adaptive_avg_pool1d", 1, x, output_size)
    return AdaptiveAvgPool1d.apply(input, out_size=size)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a given size, as ``torch.nn.functional.adaptive_avg_pool2d``.

    input (N, C, H, W) or (C, H, W) -> (N, C, oH, oW); output_size is an int, a pair, or a
    pair with None (keep that axis). Window i along an axis of n elements covers
    [floor(i*n/o), ceil((i+1)*n/o)). ``adaptive_avg_pool2d(x, 1)`` is global average pooling.
    """
    x, = tensor_arrays("adaptive_avg_pool2d", input=input)
    size = adaptive_size("adaptive_avg_pool2d", 2, x, output_size)
    return AdaptiveAvgPool2d.apply(input, out_size=size)


def _adaptive_max(op, nd, input, output_size, return_indices):
    x, = tensor_arrays(op, input=input)
    size = adaptive_size(op, nd, x, output_size)
    in_size = x.shape[-nd:]
    sink = [] if return_indices else None
    if all(o and n % o == 0 for n, o in zip(in_size, size)):
        # equal windows: a plain max-pool with kernel = stride = n/o
        kernel = tuple(n // o for n, o in zip(in_size, size))
        out = (MaxPool1d if nd == 1 else MaxPool2d).apply(
            input, kernel=kernel, stride=kernel, padding=((0, 0),) * nd, dilation=(1,) * nd,
            out_size=size, indices_out=sink)
    else:
        out = (AdaptiveMaxPool1d if nd == 1 else AdaptiveMaxPool2d).apply(
            input, out_size=size, indices_out=sink)
    return (out, _wrap(sink[0])) if return_indices else out


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max pooling to a given length: (N, C, L) or (C, L) -> (N, C, output_size)."""
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to a given size, as ``torch.nn.functional.adaptive_max_pool2d`` (windows as
    in ``adaptive_avg_pool2d``; indices as in ``max_pool2d``)."""
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)
