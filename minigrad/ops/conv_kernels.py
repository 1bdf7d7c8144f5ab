"""The array kernels behind ``minigrad/ops/conv.py``: fast, numpy/cupy in and out, no autograd.

Three linear maps make up every convolution and all of its derivatives::

    forward(x, w)       y  = x (*) w            x (N, C, *S)   -> y  (N, O, *L)
    input_grad(g, w)    gx = the adjoint in x   g (N, O, *L)   -> gx (N, C, *S)
    weight_grad(x, g)   gw = the adjoint in w   x, g           -> gw (O, C/G, *k)

(``input_grad`` *is* the transposed convolution.) A ``Geometry`` says how: kernel, stride,
padding (a (left, right) pair per axis), dilation, groups, input size S and output size L.

How each is computed (im2col, in this file): activations go to the inner layout
(C, *spatial, N), channels first and batch LAST, so that a window's innermost run is
(L_W * N) contiguous numbers for stride 1; every window is copied once into a matrix
``cols`` (G, C/G * prod(k), prod(L) * N) and the convolution is one batched GEMM with it.
``cols`` is returned so that the weight gradient can reuse it (no second im2col).
"""
from __future__ import annotations

import itertools
from typing import NamedTuple

from .. import backend

__all__ = ["Geometry", "forward", "input_grad", "weight_grad", "columns"]


class Geometry(NamedTuple):
    """Everything but the arrays: which convolution. Tuples of ints, one entry per axis."""
    kernel: tuple
    stride: tuple
    padding: tuple          # ((left, right), ...)
    dilation: tuple
    groups: int
    in_size: tuple          # S, the unpadded input's spatial size
    out_size: tuple         # L, the output's spatial size

    @property
    def padded(self):
        return tuple(n + l + r for n, (l, r) in zip(self.in_size, self.padding))


def _prod(values):
    n = 1
    for v in values:
        n *= v
    return n


def _window_slices(offset, stride, dilation, out_size):
    """For kernel offset (p, q, ...): the strided slices that pick, for every output position,
    the input element that offset multiplies: rows p*d, p*d + s, ..., p*d + s*(L-1)."""
    return tuple(slice(o * d, o * d + s * (n - 1) + 1, s)
                 for o, s, d, n in zip(offset, stride, dilation, out_size))


# ----------------------------------------------------------------------------------------------
# Layout changes: (N, C, *S) <-> (C, *S, N)
# ----------------------------------------------------------------------------------------------
def _to_cfirst(x, pads=None):
    """(N, C, *S) -> (C, *(S + pad_l + pad_r), N): one copy that zero-pads and moves N last."""
    xp = backend.xp_of(x)
    nd = x.ndim - 2
    moved = x.transpose(1, *range(2, nd + 2), 0)                       # (C, *S, N), a view
    if pads is None or not any(l or r for l, r in pads):
        return xp.ascontiguousarray(moved)
    shape = (x.shape[1],) + tuple(s + l + r for s, (l, r) in zip(x.shape[2:], pads)) + (x.shape[0],)
    out = xp.zeros(shape, dtype=x.dtype)
    out[(slice(None),) + tuple(slice(l, l + s) for s, (l, _) in zip(x.shape[2:], pads))] = moved
    return out


def _from_cfirst(y_t, start=None, size=None, bias=None):
    """(C, *S, N) -> (N, C, *size), cropping S to [start, start+size) and adding ``bias`` (C,)."""
    xp = backend.xp_of(y_t)
    nd = y_t.ndim - 2
    if start is not None:
        y_t = y_t[(slice(None),) + tuple(slice(a, a + n) for a, n in zip(start, size))]
    moved = y_t.transpose(nd + 1, 0, *range(1, nd + 1))                 # (N, C, *size), a view
    out = xp.empty(moved.shape, dtype=y_t.dtype)
    if bias is None:
        out[...] = moved
    else:
        xp.add(moved, bias.reshape((-1,) + (1,) * nd), out=out)
    return out


# ----------------------------------------------------------------------------------------------
# im2col and its adjoint
# ----------------------------------------------------------------------------------------------
def _im2col(x_t, kernel, stride, dilation, out_size, groups):
    """Every window of x_t, as the columns of a matrix.

    x_t: (C, *Sp, N) padded input -> cols: (G, C/G * prod(kernel), prod(out_size) * N) with
    cols[g, (c, p, q), (i, j, n)] = x_t[g*C/G + c, i*sH + p*dH, j*sW + q*dW, n].
    The window view is free (strides only); the reshape makes the one copy.
    """
    nd = len(kernel)
    C, N = x_t.shape[0], x_t.shape[-1]
    spatial = tuple(range(1, nd + 1))
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    win = backend.sliding_window_view(x_t, span, axis=spatial)     # (C, *positions, N, *span)
    win = win[(slice(None),)
              + tuple(slice(0, s * (n - 1) + 1, s) for s, n in zip(stride, out_size))
              + (slice(None),)
              + tuple(slice(None, None, d) for d in dilation)]      # (C, *out, N, *kernel)
    win = win.transpose(0, *range(nd + 2, 2 * nd + 2), *spatial, nd + 1)   # (C, *kernel, *out, N)
    return win.reshape(groups, C // groups * _prod(kernel), _prod(out_size) * N)


def _col2im(cols, out, stride, dilation, out_size, row0=0):
    """The adjoint of ``_im2col``: add each column entry back where its window read it.

    cols: (C, *kernel, *out, N) is added into out: (C, *size, N). One strided slice-add per
    kernel offset (never a loop over pixels or batch items); overlapping windows simply add
    up. ``row0``: cols may hold only some rows of the kernel, rows row0, row0 + 1, ...
    """
    kernel = cols.shape[1:cols.ndim - len(out_size) - 1]
    for offset in itertools.product(*(range(k) for k in kernel)):
        at = (row0 + offset[0],) + offset[1:]                      # offset in the whole kernel
        dst = (slice(None),) + _window_slices(at, stride, dilation, out_size)
        out[dst] += cols[(slice(None),) + offset]                  # (C, *out, N) each
    return out


# Above this many bytes, w^T @ g (as large as the im2col matrix) is made a few kernel rows at
# a time, each part added back before the next: less memory, and the parts stay in cache.
_FRESH_MAP_BYTES = 32 << 20


def _conv_transpose_t(g_t, w, stride, dilation, size, out_size, groups):
    """Transposed convolution on the inner layout: the adjoint of the im2col GEMM in x.

    g_t: (G, O/G, L*N), w: (O, C/G, *k) -> (C, *size, N), ``size`` being the (padded) extent
    the windows live in. gcols = w^T @ g_t is made ``rows`` kernel rows at a time (rows
    p..p+r: w[:, :, p:p+r]^T @ g_t), so that no part passes _FRESH_MAP_BYTES.
    """
    xp = backend.xp_of(g_t)
    O, Cg, *kernel = w.shape
    N = g_t.shape[-1] // _prod(out_size)
    out = xp.zeros((groups * Cg,) + tuple(size) + (N,), dtype=g_t.dtype)
    nbytes = groups * Cg * _prod(kernel) * g_t.shape[-1] * g_t.itemsize    # all of gcols
    if nbytes == 0:
        return out
    rows = max(1, min(kernel[0], kernel[0] * _FRESH_MAP_BYTES // nbytes))  # rows per product
    w_rows = w.reshape(groups, O // groups, Cg, kernel[0], -1)    # (G, O/G, C/G, kH, kW...)
    for p in range(0, kernel[0], rows):
        w_p = w_rows[:, :, :, p:p + rows].reshape(groups, O // groups, -1)
        gcols = w_p.swapaxes(1, 2) @ g_t                           # (G, C/G*rows*kW..., L*N)
        gcols = gcols.reshape((groups * Cg, -1) + tuple(kernel[1:]) + tuple(out_size) + (N,))
        _col2im(gcols, out, stride, dilation, out_size, row0=p)
    return out


# ----------------------------------------------------------------------------------------------
# The three maps
# ----------------------------------------------------------------------------------------------
def columns(x, geom):
    """The im2col matrix of x (N, C, *S): (G, C/G * prod(k), prod(L) * N)."""
    x_t = _to_cfirst(x, geom.padding)                              # (C, *Sp, N)
    return _im2col(x_t, geom.kernel, geom.stride, geom.dilation, geom.out_size, geom.groups)


def forward(x, w, b, geom, cols=None):
    """y = x (*) w + b: x (N, C, *S), w (O, C/G, *k), b (O,) or None -> (y (N, O, *L), cols).

    ``cols``: x's im2col matrix when the caller has it already. The returned ``cols`` (None
    when nothing worth keeping was made) can be handed to ``weight_grad`` with the same x.
    """
    xp = backend.xp_of(x)
    N, O, G = x.shape[0], w.shape[0], geom.groups
    if N == 0 or _prod(geom.out_size) == 0:
        y = xp.zeros((N, O) + tuple(geom.out_size), dtype=x.dtype)
        return (y if b is None else y + b.reshape((-1,) + (1,) * len(geom.kernel))), None
    if cols is None:
        cols = columns(x, geom)
    y_t = w.reshape(G, O // G, -1) @ cols                          # (G, O/G, L*N)
    y = _from_cfirst(y_t.reshape((O,) + tuple(geom.out_size) + (N,)), bias=b)
    return y, cols


def input_grad(g, w, geom):
    """The transposed convolution: g (N, O, *L), w (O, C/G, *k) -> gx (N, C, *S)."""
    xp = backend.xp_of(g)
    N, O, G = g.shape[0], w.shape[0], geom.groups
    C = w.shape[1] * G
    if g.size == 0 or w.size == 0:
        return xp.zeros((N, C) + tuple(geom.in_size), dtype=g.dtype)
    g_t = _to_cfirst(g).reshape(G, O // G, -1)                    # (G, O/G, L*N)
    gx_t = _conv_transpose_t(g_t, w, geom.stride, geom.dilation, geom.padded, geom.out_size, G)
    return _from_cfirst(gx_t, start=[l for l, _ in geom.padding], size=geom.in_size)


def weight_grad(x, g, geom, cols=None):
    """The gradient of <g, x (*) w> in w: x (N, C, *S), g (N, O, *L) -> gw (O, C/G, *k).

    gw[o, c, p, q] = sum_{n, i, j} g[n, o, i, j] * xpad[n, g*C/G + c, i*sH + p*dH, j*sW + q*dW]
    """
    xp = backend.xp_of(x)
    N, C, O, G = x.shape[0], x.shape[1], g.shape[1], geom.groups
    shape = (O, C // G) + tuple(geom.kernel)
    if N == 0 or g.size == 0 or x.size == 0:
        return xp.zeros(shape, dtype=x.dtype)
    if cols is None:
        cols = columns(x, geom)
    g_t = _to_cfirst(g).reshape(G, O // G, -1)                    # (G, O/G, L*N)
    # (G, C/G*K, L*N) @ (G, L*N, O/G): the long L*N axis is the contraction. With the small
    # O/G axis last, OpenBLAS splits the work over threads well; the other order,
    # g @ cols^T, took 2-3x the CPU time on 2 threads (same numbers).
    return (cols @ g_t.swapaxes(1, 2)).swapaxes(1, 2).reshape(shape)
