"""Convolutions: conv1d/2d/3d and conv_transpose1d/2d/3d, forward beside backward.

One N-d implementation serves every spatial rank. The two kernels it is built from:

  * ``_im2col``: a strided *view* of every window of the (padded) input, copied once into a
    matrix ``cols`` of shape (G, C/G * kH * kW, OH * OW * N) -- then a convolution is one
    batched matrix product ``w (G, O/G, C/G*kH*kW) @ cols``.
  * ``_col2im``: the adjoint of ``_im2col``: each column's values are added back at the input
    positions the window read them from (one slice-add per kernel offset, kH * kW of them).

A convolution's input-gradient is a transposed convolution of the output-gradient and a
transposed convolution's input-gradient is a convolution (as in DeZero): ``Conv.backward``
calls ``_conv_transpose_t`` and ``ConvTranspose.backward`` calls ``_conv_t``.

Inside, activations use the layout (C, *spatial, N): channels first, batch LAST. Then the
windows' innermost runs are (OW * N) contiguous numbers for stride 1, so both the im2col
copy and the col2im slice-adds stream through memory (the slice-adds ran 1.5x faster than
with N first on a 32x64x32x32 batch), and the whole batch is one matrix product. The
public layout stays PyTorch's (N, C, *spatial): one transposing copy in, one out.

``corr2d`` below is the loop-based teaching version (one output pixel at a time); the
tests check the fast path against it.
"""
from __future__ import annotations

import itertools
import numbers

from .. import backend
from ..autograd import Function
from ._window_checks import conv_args, conv_transpose_args, tensor_arrays

__all__ = ["conv_output_size", "corr2d", "Conv", "ConvTranspose",
           "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d"]


# ----------------------------------------------------------------------------------------------
# Sizes
# ----------------------------------------------------------------------------------------------
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1, ceil_mode=False):
    """Length of a convolution's or pooling's output along one axis.

    With input length M, kernel K, stride s, padding p on each side and dilation d::

        out = floor((M + 2p - d(K-1) - 1) / s) + 1          (ceil instead of floor with ceil_mode)

    ``padding`` may also be a (left, right) pair for asymmetric padding ('same' with an even
    kernel). With ``ceil_mode`` (pooling only), as PyTorch, the last window must start inside
    the input or the left padding: if ``(out-1)*s >= M + p_left`` the last window is dropped.

    >>> conv_output_size(32, 5)                  # LeNet's first conv
    28
    >>> conv_output_size(4, 2, stride=3, padding=1)
    2
    """
    pad_l, pad_r = (padding, padding) if isinstance(padding, numbers.Integral) else padding
    span = size + pad_l + pad_r - dilation * (kernel_size - 1) - 1   # room the window slides in
    if ceil_mode:
        out = -(-span // stride) + 1                                 # ceil division
        if (out - 1) * stride >= size + pad_l:
            out -= 1
        return out
    return span // stride + 1


def corr2d(X, K):
    """2-D cross-correlation, the loop-based teaching version: Y[i, j] = sum(X[i:i+h, j:j+w] * K).

    X: (H, W) array, K: (h, w) array -> (H-h+1, W-w+1) array. One output pixel at a time, in
    pure Python loops: slow, but it is the definition. ``conv2d`` computes the same numbers
    with one matrix product; ``tests/test_conv.py`` checks both against PyTorch.

    >>> corr2d(numpy.array([[0., 1, 2], [3, 4, 5], [6, 7, 8]]), numpy.array([[0., 1], [2, 3]]))
    array([[19., 25.],
           [37., 43.]])
    """
    xp = backend.xp_of(X)
    h, w = K.shape
    Y = xp.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y


# ----------------------------------------------------------------------------------------------
# The two kernels, on the (C, *spatial, N) layout
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


def _window_slices(offset, stride, dilation, out_size):
    """For kernel offset (p, q, ...): the strided slices that pick, for every output position,
    the input element that offset multiplies: rows p*d, p*d + s, ..., p*d + s*(OH-1)."""
    return tuple(slice(o * d, o * d + s * (n - 1) + 1, s)
                 for o, s, d, n in zip(offset, stride, dilation, out_size))


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


def _prod(values):
    n = 1
    for v in values:
        n *= v
    return n


def _conv_t(x_t, w, stride, dilation, out_size, groups):
    """Convolution on the inner layout: x_t (C, *Sp, N) padded, w (O, C/G, *k).

    Returns y_t (O, *out, N) and cols (G, C/G*K, L*N), which the weight-gradient reuses.
    """
    O = w.shape[0]
    cols = _im2col(x_t, w.shape[2:], stride, dilation, out_size, groups)
    y_t = w.reshape(groups, O // groups, -1) @ cols                # (G, O/G, C/G*K) @ cols
    return y_t.reshape((O,) + tuple(out_size) + (x_t.shape[-1],)), cols


# glibc's largest mmap threshold: a bigger buffer is mapped fresh from the OS on every
# allocation (and zero-filled page by page on first touch) instead of being reused by malloc
_FRESH_MAP_BYTES = 32 << 20


def _conv_transpose_t(g_t, w, stride, dilation, size, out_size, groups):
    """Transposed convolution on the inner layout: the adjoint of ``_conv_t`` in x.

    g_t: (G, O/G, L*N) with L = prod(out_size) window positions, w: (O, C/G, *k)
    -> (C, *size, N), ``size`` being the (padded) extent the windows live in.

    gcols = w^T @ g_t is as large as the im2col matrix (75 MB for a 32x64x32x32 batch and
    3x3 kernels). When it would pass _FRESH_MAP_BYTES it is made a few kernel rows at a time
    (rows p..p+r: w[:, :, p:p+r]^T @ g_t), each part added back before the next, the parts as
    large as fit under that size: the 32x64x32x32 benchmark's fwd+bwd ran 5-25% faster. A
    small gcols stays one product: on 2 threads, kH small products cost the MNIST net's
    second conv more than they saved.
    """
    xp = backend.xp_of(g_t)
    O, Cg, *kernel = w.shape
    N = g_t.shape[-1] // _prod(out_size)
    out = xp.zeros((groups * Cg,) + tuple(size) + (N,), dtype=g_t.dtype)
    nbytes = groups * Cg * _prod(kernel) * g_t.shape[-1] * g_t.itemsize    # all of gcols
    rows = max(1, min(kernel[0], kernel[0] * _FRESH_MAP_BYTES // nbytes))  # rows per product
    w_rows = w.reshape(groups, O // groups, Cg, kernel[0], -1)    # (G, O/G, C/G, kH, kW...)
    for p in range(0, kernel[0], rows):
        w_p = w_rows[:, :, :, p:p + rows].reshape(groups, O // groups, -1)
        gcols = w_p.swapaxes(1, 2) @ g_t                           # (G, C/G*rows*kW..., L*N)
        gcols = gcols.reshape((groups * Cg, -1) + tuple(kernel[1:]) + tuple(out_size) + (N,))
        _col2im(gcols, out, stride, dilation, out_size, row0=p)
    return out


# ----------------------------------------------------------------------------------------------
# Conv: y = x (*) w + b, and its backward
# ----------------------------------------------------------------------------------------------
class Conv(Function):
    """N-d cross-correlation (PyTorch's conv1d/2d/3d).

    x (N, C, *S), w (O, C/G, *k), b (O,) -> y (N, O, *out), out = conv_output_size(S, k, ...).
    For output channel o of group g = o // (O/G), with xpad the zero-padded input::

        y[n, o, i, j] = b[o] + sum_{c, p, q} w[o, c, p, q]
                                             * xpad[n, g*C/G + c, i*sH + p*dH, j*sW + q*dW]

    Backward: dx = conv_transpose(dy, w) (col2im), dw[o, c, p, q] = sum_{n, i, j} dy[n, o, i, j]
    * window[n, c, p, q at i, j] (one matrix product with the saved columns), db = dy summed
    over every axis but O.
    """

    @classmethod
    def name(cls):
        return "ConvolutionBackward0"

    def forward(self, x, w, b=None, *, stride, padding, dilation, groups, batched=True):
        # padding: one (left, right) pair per spatial axis
        if not batched:
            x = x[None]                                            # (C, *S) -> (1, C, *S)
        size = x.shape[2:]
        out_size = tuple(conv_output_size(n, k, s, p, d)
                         for n, k, s, p, d in zip(size, w.shape[2:], stride, padding, dilation))
        x_t = _to_cfirst(x, padding)                               # (C, *Sp, N)
        y_t, cols = _conv_t(x_t, w, stride, dilation, out_size, groups)   # (O, *out, N)
        y = _from_cfirst(y_t, bias=b)                              # (N, O, *out)
        self.save_for_backward(cols, w)                            # (G, C/G*K, L*N), (O, C/G, *k)
        self.geometry = (stride, padding, dilation, groups, size, x_t.shape[1:-1], out_size)
        self.batched, self.has_bias = batched, b is not None
        return y if self.batched else y[0]

    def backward(self, grad):                                      # grad: (N, O, *out)
        cols, w = self.saved_tensors
        stride, padding, dilation, groups, size, padded, out_size = self.geometry
        if not self.batched:
            grad = grad[None]
        O = w.shape[0]
        g_t = _to_cfirst(grad).reshape(groups, O // groups, -1)    # (G, O/G, L*N)
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            # (C, *Sp, N): the transposed convolution of dy
            gx_t = _conv_transpose_t(g_t, w, stride, dilation, padded, out_size, groups)
            gx = _from_cfirst(gx_t, start=[l for l, _ in padding], size=size)    # (N, C, *S)
            gx = gx if self.batched else gx[0]
        if self.needs_input_grad[1]:
            # (G, C/G*K, L*N) @ (G, L*N, O/G): the long L*N axis is the contraction. With
            # the small O/G axis last, OpenBLAS splits the work over threads well; the other
            # order, dy @ cols^T, took 2-3x the CPU time on 2 threads (same numbers).
            gw = (cols @ g_t.swapaxes(1, 2)).swapaxes(1, 2).reshape(w.shape)   # (G, O/G, C/G*K)
        if self.has_bias and self.needs_input_grad[2]:
            gb = g_t.reshape(O, -1).sum(axis=1)                    # (O,)
        return (gx, gw, gb) if self.has_bias else (gx, gw)


# ----------------------------------------------------------------------------------------------
# ConvTranspose: the adjoint of Conv in its input, and its backward
# ----------------------------------------------------------------------------------------------
class ConvTranspose(Function):
    """N-d transposed convolution (PyTorch's conv_transpose1d/2d/3d).

    x (N, C_in, *S), w (C_in, C_out/G, *k), b (C_out,) -> y (N, C_out, *out) with::

        out = (S - 1) * s - 2p + d(k - 1) + output_padding + 1

    Every input pixel x[n, c, i, j] adds x[n, c, i, j] * w[c, :, :, :] into the output window
    whose corner is (i*s - p, j*s - p): it is the input-gradient of ``Conv`` with the same w.
    Backward: dx = conv(dy, w) (im2col + one matrix product), dw = x contracted with the
    windows of dy, db = dy summed over every axis but C_out.
    """

    @classmethod
    def name(cls):
        return "ConvolutionBackward0"

    def forward(self, x, w, b=None, *, stride, padding, output_padding, dilation, groups,
                batched=True):
        if not batched:
            x = x[None]
        Cin, _, *kernel = w.shape
        size = x.shape[2:]
        # the extent the windows scatter into, before cropping the padding off each side
        natural = tuple((n - 1) * s + d * (k - 1) + 1
                        for n, k, s, d in zip(size, kernel, stride, dilation))
        out_size = tuple(m - 2 * p + op for m, p, op in zip(natural, padding, output_padding))
        full = tuple(m + max(0, op - p) for m, p, op in zip(natural, padding, output_padding))
        x_t = _to_cfirst(x).reshape(groups, Cin // groups, -1)      # (G, C_in/G, S*N)
        y_t = _conv_transpose_t(x_t, w, stride, dilation, full, size, groups)  # (C_out, *full, N)
        y = _from_cfirst(y_t, start=padding, size=out_size, bias=b)      # (N, C_out, *out)
        self.save_for_backward(x_t, w)
        self.geometry = (stride, padding, dilation, groups, size, full, out_size)
        self.batched, self.has_bias = batched, b is not None
        return y if batched else y[0]

    def backward(self, grad):                                      # grad: (N, C_out, *out)
        x_t, w = self.saved_tensors                # (G, C_in/G, S*N), (C_in, C_out/G, *k)
        stride, padding, dilation, groups, size, full, out_size = self.geometry
        if not self.batched:
            grad = grad[None]
        Cin = w.shape[0]
        # dy put back into the full extent the forward scattered into (zeros where cropped)
        g_t = _to_cfirst(grad, [(p, f - p - n) for p, f, n in zip(padding, full, out_size)])
        gcols = _im2col(g_t, w.shape[2:], stride, dilation, size, groups)   # (G, C_out/G*K, S*N)
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            gx_t = w.reshape(groups, Cin // groups, -1) @ gcols    # (G, C_in/G, S*N)
            gx = _from_cfirst(gx_t.reshape((Cin,) + tuple(size) + (grad.shape[0],)))
            gx = gx if self.batched else gx[0]
        if self.needs_input_grad[1]:
            # (G, C_out/G*K, S*N) @ (G, S*N, C_in/G), then swapped: as in Conv.backward
            gw = (gcols @ x_t.swapaxes(1, 2)).swapaxes(1, 2).reshape(w.shape)  # (G, C_in/G, C_out/G*K)
        if self.has_bias and self.needs_input_grad[2]:
            gb = grad.sum(axis=(0,) + tuple(range(2, grad.ndim)))  # (C_out,)
        return (gx, gw, gb) if self.has_bias else (gx, gw)


# ----------------------------------------------------------------------------------------------
# Public functional API (re-exported from minigrad.nn.functional)
# ----------------------------------------------------------------------------------------------
def _conv(op, nd, input, weight, bias, stride, padding, dilation, groups):
    x, w, b = tensor_arrays(op, input=input, weight=weight, bias=bias)
    params = conv_args(op, nd, x, w, b, stride, padding, dilation, groups)
    tensors = (input, weight) if bias is None else (input, weight, bias)
    return Conv.apply(*tensors, **params)


def _conv_transpose(op, nd, input, weight, bias, stride, padding, output_padding, groups,
                    dilation):
    x, w, b = tensor_arrays(op, input=input, weight=weight, bias=bias)
    params = conv_transpose_args(op, nd, x, w, b, stride, padding, output_padding, groups,
                                 dilation)
    tensors = (input, weight) if bias is None else (input, weight, bias)
    return ConvTranspose.apply(*tensors, **params)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation: input (N, C_in, L) or (C_in, L), weight (C_out, C_in/groups, kL),
    bias (C_out,) -> (N, C_out, L_out) with L_out = conv_output_size(L, kL, stride, padding,
    dilation). ``padding`` is an int, a 1-tuple, 'valid' (0) or 'same' (stride 1 only)."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``.

    input (N, C_in, H, W) or (C_in, H, W); weight (C_out, C_in/groups, kH, kW); bias (C_out,)
    -> (N, C_out, H_out, W_out), H_out = floor((H + 2p - d(kH-1) - 1)/s) + 1 (same for W).
    stride, padding, dilation: an int or an (h, w) pair; padding may be 'valid' or 'same'
    ('same' keeps H, W; an even kernel gets the extra padding row/column on the right/bottom).
    groups: input and output channels split into that many independent groups.
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D cross-correlation: input (N, C_in, D, H, W) or unbatched, weight (C_out, C_in/groups,
    kD, kH, kW) -> (N, C_out, D_out, H_out, W_out). The same code as conv2d."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """1-D transposed convolution: input (N, C_in, L) or (C_in, L), weight (C_in,
    C_out/groups, kL) -> (N, C_out, (L-1)s - 2p + d(kL-1) + output_padding + 1)."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution, as ``torch.nn.functional.conv_transpose2d``.

    input (N, C_in, H, W) or (C_in, H, W); weight (C_in, C_out/groups, kH, kW); bias (C_out,)
    -> (N, C_out, H_out, W_out), H_out = (H-1)s - 2p + d(kH-1) + output_padding + 1.
    It is the gradient of conv2d with respect to its input (and conv2d is its gradient).
    """
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """3-D transposed convolution: weight (C_in, C_out/groups, kD, kH, kW)."""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)
