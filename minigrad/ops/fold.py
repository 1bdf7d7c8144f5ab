"""``F.unfold`` (im2col made visible), ``F.fold`` (col2im, its adjoint) and ``max_unpool``.

``unfold`` is the same im2col that conv2d does inside: every k_h x k_w window of the padded
input, flattened, as one column:

    (N, C, H, W) -> (N, C * k_h * k_w, L),   L = number of window positions (out_h * out_w)

so ``conv2d(x, w) == (w.view(C_out, -1) @ F.unfold(x, k)).view(N, C_out, out_h, out_w)``.
Here it is one strided view of the padded input, (N, C, k_h, k_w, out_h, out_w), copied
(``Im2Col``); ``fold`` puts columns back with one strided slice-add per kernel offset
(``Col2Im``: overlapping windows add up), which makes the two ops each other's adjoint and
each other's backward.

``max_unpool`` writes each value at the position its max-pool ``indices`` recorded (the flat
position in its input plane) in a zero output: ``ScatterPut`` along the flattened plane, whose
backward gathers the gradient at those indices.
"""
from __future__ import annotations

import collections.abc

from .. import _autocast_state, backend
from .. import _memory_format as mf
from ..autograd import Function
from ..autograd._node_names import rename_node
from ._autocast_cast import widen as _autocast_widen
from ._int_lists import int_lists
from ._util import check_tensor, not_implemented_for, scalar_type_name
from ._conv_im2col import col2im
from ._window_checks import conv_output_size
from .movement_copies import keep_channels_last
from .padding import pad
from .plumbing import reshape_to
from .scatter_gather import ScatterPut

__all__ = ["unfold", "fold", "max_unpool1d", "max_unpool2d", "max_unpool3d"]


def _pair(v, n=2):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def _size_pairs(op, **named):
    """F.fold/F.unfold's size arguments as pairs of ints: each is made a pair unless iterable
    (in Python, as PyTorch's functions do), then read by PyTorch's parser, then the kernel
    checks each list's length."""
    lists = int_lists(op, 2, {k: tuple(v) if isinstance(v, collections.abc.Iterable) else (v, v)
                              for k, v in named.items()}, 2)
    for name, items in zip(named, lists):
        if len(items) != 2:
            raise RuntimeError(f"It is expected {name} equals to 2, but got size {len(items)}")
    return lists


def _check_args(kernel, dilation, padding, stride, fold=False):
    checks = [("kernel size", "kernel", kernel, 1), ("dilation", "dilation", dilation, 1),
              ("padding", "pad", padding, 0), ("stride", "stride", stride, 1)]
    if fold:                # col2im checks the stride second
        checks.insert(1, checks.pop())
    for what, name, v, low in checks:
        if any(x < low for x in v):
            raise RuntimeError(f"{what} should be "
                               f"{'non-negative' if low == 0 else 'greater than zero'}, but got "
                               f"{name}_height: {v[0]} {name}_width: {v[1]}")


def _check_dtype(kernel, input):
    # PyTorch's im2col/col2im kernels exist for floating and bool tensors only; the check
    # comes after the shape checks, as there
    if input._array.dtype.kind in "iu":
        raise not_implemented_for(kernel, input._array.dtype)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: (N, C, H, W) (or (C, H, W)) -> (N, C k_h k_w, L): every sliding window as a
    column, channels outermost then kernel rows then kernel columns (conv2d's weight order)."""
    check_tensor("im2col", input)
    k, d, p, s = _size_pairs("im2col", kernel_size=kernel_size, dilation=dilation,
                             padding=padding, stride=stride)
    _check_args(k, d, p, s)
    # PyTorch reads the sizes of dims 1 and then 2 (stopping at a 0) before it checks the
    # number of dimensions: a 0- to 2-d input is out of range there, unless a 2-d input's
    # dim 1 is empty, which goes straight to the dimension check's RuntimeError
    if input.ndim == 0:
        raise IndexError("Dimension specified as 1 but tensor has no dimensions")
    if input.ndim < 3 and not (input.ndim == 2 and input.shape[1] == 0):
        raise IndexError(f"Dimension out of range (expected to be in range of [{-input.ndim}, "
                         f"{input.ndim - 1}], but got {input.ndim})")
    if input.ndim not in (3, 4) or 0 in tuple(input.shape)[input.ndim - 3:]:
        raise RuntimeError("Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and "
                           f"other non-zero dimensions for input, but got: {list(input.shape)}")
    batched = input.ndim == 4
    x = input if batched else reshape_to(input, (1,) + tuple(input.shape))
    n, c, h, w = x.shape
    if p != (0, 0):
        x = pad(x, (p[1], p[1], p[0], p[0]))
    hp, wp = h + 2 * p[0], w + 2 * p[1]
    out_h, out_w = (conv_output_size(n, kk, st, 0, dd) for n, kk, st, dd in
                    zip((hp, wp), k, s, d))
    if out_h < 1 or out_w < 1:
        raise RuntimeError(f"Given input with spatial size ({h}, {w}), kernel_size={k}, "
                           f"dilation={d}, padding={p}, calculated shape of the "
                           f"array of sliding blocks as ({out_h}, {out_w}), but its components "
                           "must be at least one.")
    _check_dtype("im2col_out_cpu", input)
    out = Im2Col.apply(x, kernel=k, dilation=d, stride=s, out_size=(out_h, out_w))
    return rename_node(out if batched else reshape_to(out, tuple(out.shape[1:])),
                       "Im2ColBackward0")


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im: (N, C k_h k_w, L) -> (N, C, H, W), summing where windows overlap (unfold's
    adjoint: fold(unfold(x)) counts each pixel once per window that covers it)."""
    check_tensor("col2im", input)
    size, k, d, p, s = _size_pairs("col2im", output_size=output_size, kernel_size=kernel_size,
                                   dilation=dilation, padding=padding, stride=stride)
    _check_args(k, d, p, s, fold=True)
    if input.ndim not in (2, 3) or 0 in tuple(input.shape)[input.ndim - 2:]:
        raise RuntimeError("Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch "
                           f"size and non-zero dimensions for input, but got: {list(input.shape)}")
    batched = input.ndim == 3
    x = input if batched else reshape_to(input, (1,) + tuple(input.shape))
    n, ckk, length = x.shape
    if ckk % (k[0] * k[1]):
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product "
                           f"of kernel_size, but got input.size(1)={ckk} and kernel_size="
                           f"({k[0]}, {k[1]}).")
    hp, wp = size[0] + 2 * p[0], size[1] + 2 * p[1]
    out_h, out_w = (conv_output_size(n, kk, st, 0, dd) for n, kk, st, dd in
                    zip((hp, wp), k, s, d))
    if out_h * out_w != length:
        raise RuntimeError(f"Given output_size={size}, kernel_size={k}, dilation={d}, "
                           f"padding={p}, stride={s}, expected size of "
                           f"input's dimension 2 to match the calculated number of sliding "
                           f"blocks {out_h} * {out_w} = {out_h * out_w}, but got "
                           f"input.size(2)={length}.")
    if out_h < 1 or out_w < 1:      # (a negative count of each can match the input's)
        raise RuntimeError(f"Given output_size={size}, kernel_size={k}, dilation={d}, "
                           f"padding={p}, stride={s}, calculated shape of the array of sliding "
                           f"blocks as ({out_h}, {out_w}), which is too small (non-positive)")
    if size[0] < 1 or size[1] < 1:
        raise RuntimeError(f"Expected output spatial size to be positive, but got: "
                           f"output_size={size}.")
    _check_dtype("col2im_out_cpu", input)
    out = Col2Im.apply(x, kernel=k, dilation=d, stride=s, size=(hp, wp),
                       out_size=(out_h, out_w))
    if p != (0, 0):
        out = pad(out, (-p[1], -p[1], -p[0], -p[0]))
    return rename_node(out if batched else reshape_to(out, tuple(out.shape[1:])),
                       "Col2ImBackward0")


def _windows(x, kernel, dilation, stride, out_size):
    """x (N, C, Hp, Wp) -> the view (N, C, k_h, k_w, out_h, out_w) of its windows: element
    [n, c, i, j, r, q] is x[n, c, r s_h + i d_h, q s_w + j d_w] (no copy)."""
    sn, sc, sh, sw = x.strides
    (dh, dw), (th, tw) = dilation, stride
    return backend.xp_of(x).lib.stride_tricks.as_strided(
        x, x.shape[:2] + tuple(kernel) + tuple(out_size),
        (sn, sc, dh * sh, dw * sw, th * sh, tw * sw))


class Im2Col(Function):
    """The columns of a padded x: (N, C, Hp, Wp) -> (N, C k_h k_w, out_h out_w), one copy of
    the windows' view (``_windows``). Backward: ``Col2Im`` of the gradient."""
    complex_ok = True

    def forward(self, x, *, kernel, dilation, stride, out_size):
        self.geometry = kernel, dilation, stride, tuple(x.shape[2:]), out_size
        n, c = x.shape[:2]
        # always a fresh row-major copy: a reshape of the windows' view can stay a view of x
        # (a window as wide as the input), sharing its memory and its odd strides
        out = backend.xp_of(x).empty((n, c * kernel[0] * kernel[1], out_size[0] * out_size[1]),
                                     x.dtype)
        out.reshape(x.shape[:2] + tuple(kernel) + tuple(out_size))[...] = \
            _windows(x, kernel, dilation, stride, out_size)
        return out

    def backward(self, g):
        kernel, dilation, stride, size, out_size = self.geometry
        return Col2Im.apply(g, kernel=kernel, dilation=dilation, stride=stride, size=size,
                            out_size=out_size)


class Col2Im(Function):
    """Columns back into padded planes: (N, C k_h k_w, out_h out_w) -> (N, C, Hp, Wp), each
    column's numbers added where its window lies: the convolutions' col2im (one strided
    slice-add per kernel offset, in the offsets' order, as PyTorch's col2im adds into each
    pixel) on a transposed view of the columns. Backward: ``Im2Col`` of the gradient."""
    complex_ok = True

    def forward(self, cols, *, kernel, dilation, stride, size, out_size):
        self.geometry = kernel, dilation, stride, size, out_size
        n, c = cols.shape[0], cols.shape[1] // (kernel[0] * kernel[1])
        parts = cols.reshape((n, c) + tuple(kernel) + tuple(out_size))
        out = backend.xp_of(cols).zeros((n, c) + tuple(size), dtype=cols.dtype)
        # (C, k_h, k_w, N, out_h, out_w): the layout col2im reads, a view
        return col2im(parts.transpose(1, 2, 3, 0, 4, 5), out, stride, dilation, out_size)

    def backward(self, g):
        kernel, dilation, stride, _, out_size = self.geometry
        return Im2Col.apply(g, kernel=kernel, dilation=dilation, stride=stride,
                            out_size=out_size)


def _max_unpool(nd, input, indices, kernel_size, stride, padding, output_size):
    k = _pair(kernel_size, nd)
    s = k if stride is None else _pair(stride, nd)
    p = _pair(padding, nd)
    # PyTorch's Python function first works out the default size, axis by axis of the kernel
    if len(k) > min(len(s), len(p), input.ndim):
        raise IndexError("tuple index out of range")
    spatial_in = tuple(input.shape[-nd:])
    default = tuple((n - 1) * st - 2 * pd + kk for n, st, pd, kk in zip(spatial_in, s, p, k))
    if output_size is None:
        size = default
    else:
        if len(output_size) == nd + 2:
            output_size = output_size[2:]
        if len(output_size) != nd:
            raise ValueError(f"output_size should be a sequence containing {nd} or {nd + 2} "
                             f"elements, but it has a length of '{len(output_size)}'")
        # PyTorch's rule: strictly within one stride of the default size
        for d in range(nd):
            low, high = default[d] - s[d], default[d] + s[d]
            if not low < output_size[d] < high:
                raise ValueError(f'invalid output_size "{output_size}" (dim {d} must be between '
                                 f'{low} and {high})')
        size = tuple(int(n) for n in output_size)
    # then its kernels: max_unpool2d (a 1-d input gets a unit last dim, as its words show)
    # and max_unpool3d
    if indices._array.dtype != "int64":      # torch's kernels read the indices as int64 only
        if nd == 3:
            raise RuntimeError("elements in indices should be type int64")
        raise RuntimeError("elements in indices should be type int64 but got: "
                           f"{scalar_type_name(indices._array.dtype)}")
    unit = [1] if nd == 1 else []
    if input.ndim not in (nd + 1, nd + 2):
        kernel_nd = max(nd, 2)
        raise RuntimeError(f"Input to max_unpooling{kernel_nd}d should be a {kernel_nd + 1}d or "
                           f"{kernel_nd + 2}d Tensor, but got a tensor with "
                           f"{input.ndim + len(unit)} dimensions.")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({list(input.shape) + unit}) but got indices tensor with shape: "
                           f"{list(indices.shape) + unit}")
    shown = list(input.shape) + unit
    if 0 in shown[1:]:          # an empty batch passes; any other empty dim is refused
        raise RuntimeError(f"max_unpooling{max(nd, 2)}d_forward_out_cpu(): Expected input to have "
                           f"non-zero size for non-batch dimensions, but got {shown} with "
                           f"dimension {shown.index(0, 1)} being empty.")
    if nd == 3 and any(st <= 0 for st in s):     # (the 1-d and 2-d kernels take any stride)
        raise RuntimeError(f"strides should be greater than zero, but got stride: {list(s)}")
    lead = tuple(input.shape[:-nd])
    plane = 1
    for n in size:
        plane *= n
    m = 1
    for n in spatial_in:
        m *= n
    flat = reshape_to(input, lead + (m,))
    if plane == 0 and nd < 3:   # an empty output: PyTorch's 1-d/2-d kernel is not even run
        return reshape_to(flat[..., :0], lead + size)
    # PyTorch's kernels: max_unpool2d (which 1-d uses too) and max_unpool3d, floating only;
    # they check the indices' values inside, after this
    if input._array.dtype.kind not in "fV":
        raise not_implemented_for(f"max_unpool{3 if nd == 3 else 2}d", input._array.dtype)
    idx = indices._array.reshape(lead + (m,)).astype("int64")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= plane):
        bad = _last_invalid_index(idx, plane, input)
        raise RuntimeError(f"Found an invalid max index: {bad} (output volumes are of size "
                           f"{'x'.join(map(str, size + tuple(unit)))})")
    out = ScatterPut.apply(flat, index=idx, dim=len(lead), shape=lead + (plane,))
    out = reshape_to(out, lead + size)
    # PyTorch's 1-d/2-d kernel writes the result in the input's suggested layout (channels-last
    # stays so); the 3-d one row-major
    return keep_channels_last(out, input) if nd < 3 else out


def _last_invalid_index(idx, plane, input):
    """The index PyTorch's unpooling kernel names: the last out-of-range one in the order it
    walks the input (channels innermost for a channels-last 4-d input, which its 2-d kernel
    walks so; else row-major, its 3-d kernel always)."""
    xp = backend.xp_of(idx)
    if input.ndim == 4 and len(idx.shape) == 3 and \
            mf.suggest(input._array) is not mf.contiguous_format:
        idx = xp.moveaxis(idx, -2, -1)            # (N, C, m) -> (N, m, C)
    flat = idx.reshape(-1)
    wrong = xp.flatnonzero((flat < 0) | (flat >= plane))
    return int(flat[wrong[-1]])


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Undo max_pool1d: each value back at its recorded position, zeros elsewhere."""
    out = _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)
    return rename_node(out, "SqueezeBackward1")       # PyTorch's: 2-d's result squeezed


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Undo max_pool2d: each value back at its recorded position, zeros elsewhere."""
    if _autocast_state.active:       # one of the ops CPU autocast runs in float32
        input, = _autocast_widen(input)
    out = _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)
    return rename_node(out, "MaxUnpool2DBackward0")              # PyTorch's node


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    if _autocast_state.active:       # one of the ops CPU autocast runs in float32
        input, = _autocast_widen(input)
    out = _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)
    return rename_node(out, "MaxUnpool3DBackward0")              # PyTorch's node
