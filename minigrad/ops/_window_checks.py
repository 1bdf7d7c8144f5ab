"""Argument checks for pooling, with PyTorch's error messages, and what the convolutions share.

Each ``*_args`` function looks at raw arrays (shapes, dtypes) and the Python arguments,
raises the error PyTorch raises -- before any arithmetic -- and returns the normalised
hyper-parameters (tuples of ints, padding as (left, right) pairs) that the ops take. The
convolutions' own checks are in ``_conv_checks.py``.
"""
from __future__ import annotations

import numbers

from .._argument_error import argument_error
from ..tensor import Tensor
from ._int_lists import int_like
from ._pool_sizes import check_lengths

__all__ = ["pool_args", "adaptive_size", "adaptive_not_empty", "int_tuple", "tensor_arrays",
           "conv_output_size", "check_int_list_types", "check_output_size_type",
           "adaptive_grad_not_empty"]


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


def tensor_arrays(op, **tensors):
    """The raw arrays of the named Tensor arguments (None stays None), or PyTorch's TypeError."""
    arrays = []
    for position, (name, t) in enumerate(tensors.items(), 1):
        if t is None and name == "bias":
            arrays.append(None)
        elif isinstance(t, Tensor):
            arrays.append(t._array)
        else:
            raise argument_error(op, name, "Tensor", t, position)
    return arrays


# ----------------------------------------------------------------------------------------------
# Int list arguments
# ----------------------------------------------------------------------------------------------
def int_tuple(value, n, name, op):
    """``value`` (an int or a sequence of ints) as a tuple of ``n`` ints, or a pool's error."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    for i, v in enumerate(items):
        if not int_like(v, i == 0):          # an int (a bool after the first), or an integer
            # tensor of one element
            raise TypeError(f"{op}(): argument '{name}' must be tuple of ints, but found element "
                            f"of type {type(v).__name__} ({name}={value!r})")
    if len(items) == 1:
        return tuple(int(items[0]) for _ in range(n))
    if len(items) != n:
        raise RuntimeError(f"{op}: {name} must either be a single int, or a tuple of {n} ints")
    return tuple(int(v) for v in items)


def check_int_list_types(op, *args):
    """PyTorch's argument parser's refusal of a non-int size argument, raised before any check
    of the input's shape: each arg is (name, position, value, none_ok)."""
    for name, pos, value, none_ok in args:
        if value is None and none_ok:
            continue
        if isinstance(value, (tuple, list)):
            for i, v in enumerate(value):
                if not int_like(v, i == 0):     # (a bool after the first is read as an int)
                    raise argument_error(op, name, "tuple of ints", value, pos, found=(i, v))
        elif not int_like(value, True):
            raise argument_error(op, name, "tuple of ints", value, pos)


def check_bool_args(op, *args):
    """PyTorch's argument parser takes only a Python bool for a flag (ceil_mode,
    count_include_pad): each arg is (name, position or None, value)."""
    for name, pos, value in args:
        if not isinstance(value, bool):
            raise argument_error(op, name, "bool", value, pos)


def check_output_size_type(op, nd, output_size):
    """An adaptive pool's output_size: an int, or a sequence of ints (None = keep that axis,
    for 2-d and 3-d pools); anything else is a TypeError before the input is looked at."""
    if isinstance(output_size, (tuple, list)):
        for i, v in enumerate(output_size):
            if (v is None and nd > 1) or (isinstance(v, numbers.Integral) and
                                          not isinstance(v, bool)):
                continue
            raise TypeError(f"{op}(): argument 'output_size' (position 2) must be tuple of ints, "
                            f"but found element of type {type(v).__name__} at pos {i}")
    elif isinstance(output_size, bool) or not isinstance(output_size, numbers.Integral):
        raise TypeError(f"{op}(): argument 'output_size' (position 2) must be tuple of ints, not "
                        f"{type(output_size).__name__}")


# ----------------------------------------------------------------------------------------------
# Pooling
# ----------------------------------------------------------------------------------------------
def _shape_str(values):
    return "x".join(str(v) for v in values)


def _named(what, letters, values):
    return " ".join(f"{what}{a}: {v}" for a, v in zip(letters, values))


def _check_pool_not_empty(op, nd, x, fast_1d=False):
    """Pooling takes an empty batch, not an empty channel or spatial dim: PyTorch's words per
    kernel (avg_pool1d runs as a 2-d pool of the input with a unit dim inserted). avg_pool2d
    checks the rank here too, in the same words."""
    non_batch = x.shape[1:] if x.ndim == nd + 2 else x.shape
    if all(n > 0 for n in non_batch) and x.ndim in (nd + 1, nd + 2):
        return
    if nd == 3:
        kernel = "avg_pool3d" if op == "avg_pool3d" else "max_pool3d_with_indices_out_cpu_template"
        raise RuntimeError(f"{kernel}(): Expected input's non-batch dimensions to have positive "
                           f"length, but input has a shape of {list(x.shape)} and non-batch "
                           f"dimension 0 has length zero! (PyTorch's words; the empty one is "
                           f"dimension {list(x.shape).index(0, x.ndim - len(non_batch))})")
    if fast_1d:
        raise RuntimeError(f"max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 "
                           f"dim batch size for input, but got:{list(x.shape)}")
    shape = list(x.shape) if nd == 2 else list(x.shape[:-1]) + [1, x.shape[-1]]
    raise RuntimeError(f"Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size "
                       f"for input, but got:{shape}")


def _check_max_pool1d(k, s, p, d, n, ceil_mode):
    """PyTorch's own checks of a 1-d max pool without indices, in its order and words."""
    if k <= 0:
        raise RuntimeError(f"max_pool1d() kernel_size must be greater than zero, but got {k}")
    if s <= 0:
        raise RuntimeError(f"max_pool1d() stride must be greater than zero, but got {s}")
    if p < 0:
        raise RuntimeError(f"max_pool1d() padding must be non-negative, but got {p}")
    if p > k // 2:
        raise RuntimeError(f"max_pool1d() padding should be at most half of kernel size, but "
                           f"got padding={p} and kernel_size={k}")
    if d <= 0:
        raise RuntimeError(f"max_pool1d() dilation must be greater than zero, but got {d}")
    out = conv_output_size(n, k, s, p, d, ceil_mode)
    if out <= 0:
        raise RuntimeError(f"max_pool1d() Invalid computed output size: {out}")


def _half(v):
    """v / 2 rounded toward zero, as C++ divides (a negative kernel or dilation gives a
    negative effective size)."""
    return v // 2 if v >= 0 else -(-v // 2)


def _check_pool_rank(op, nd, x, fast_1d):
    if x.ndim in (nd + 1, nd + 2):
        return
    if fast_1d:
        raise RuntimeError(f"max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 "
                           f"dim batch size for input, but got:{list(x.shape)}")
    if nd == 1:
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {x.ndim}-dimensional tensor for "
                           f"argument #1 'self' (while checking arguments for {op})")
    if op == "avg_pool2d":          # more dims: after the window's checks (the caller refuses
        return                      # fewer), with an empty dim's words
    raise RuntimeError(f"non-empty {nd + 1}D or {nd + 2}D (batch mode) tensor expected for "
                       f"input")


def _check_windows(nd, kernel, stride, padding, dilation):
    """The window's checks, PyTorch's order: axis by axis a zero stride, a negative pad, a pad
    over half the effective window; then kernel, stride and dilation signs, all axes named
    (a 1-d pool speaks as a 2-d one of unit height)."""
    letters = "THW"[3 - max(nd, 2):]

    def shown(values):
        return (1,) + tuple(values) if nd == 1 else values
    for k, s, p, d in zip(kernel, stride, padding, dilation):
        if s == 0:
            raise RuntimeError("stride should not be zero (got "
                               + _named("d", letters, shown(stride)) + ")")
        if p < 0:
            raise RuntimeError(f"pad must be non-negative, but got pad: {p}")
        if p > _half((k - 1) * d + 1):
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={p}, kernel_size={k} and dilation={d}")
    if any(k <= 0 for k in kernel):
        raise RuntimeError("kernel size should be greater than zero, but got "
                           + _named("k", letters, shown(kernel)))
    if any(s < 0 for s in stride):
        raise RuntimeError("stride should be greater than zero, but got "
                           + _named("d", letters, shown(stride)))
    if any(d <= 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero, but got "
                           + _named("dilation", letters, shown(dilation)))


def _check_pad_of_kernel(nd, kernel, padding):
    """A pad over half the kernel itself (a dilated window may hold it): PyTorch's shape check,
    in its words (the 3-d one lists kT, kW, kH: W before H)."""
    if all(p <= k // 2 for k, p in zip(kernel, padding)):
        return
    if nd == 3:
        (kt, kh, kw), (pt, ph, pw) = kernel, padding
        raise RuntimeError("pad should be smaller than or equal to half of kernel size, but got "
                           f"kT: {kt} kW: {kw} kH: {kh} padT: {pt} padW: {pw} padH: {ph}")
    (kh, kw), (ph, pw) = ((1,) + kernel, (0,) + padding) if nd == 1 else (kernel, padding)
    raise RuntimeError("pad should be smaller than or equal to half of kernel size, but got "
                       f"padW = {pw}, padH = {ph}, kW = {kw}, kH = {kh}")


def pool_args(op, nd, x, kernel_size, stride, padding, dilation, ceil_mode, max_pool,
              fast_1d=False):
    """Check a pooling op's arguments; return kernel, stride, padding, dilation, out size and
    the (left, right) padding per axis (the right side grows for ceil_mode's last window).

    PyTorch's order: the types; (the lengths and an avg pool's divisor: the caller's, before
    or after the rank); the rank; the window (``_check_windows``); an empty non-batch dim; the
    pad against the kernel; the output size. ``fast_1d``: a max_pool1d without indices, which
    PyTorch checks in an order and words of its own (the empty dim before the lengths)."""
    check_int_list_types(op, ("kernel_size", 2, kernel_size, False), ("stride", 3, stride, True),
                         ("padding", 4, padding, False), ("dilation", 5, dilation, False))
    _check_pool_rank(op, nd, x, fast_1d)
    if fast_1d:
        _check_pool_not_empty(op, nd, x, fast_1d)
        check_lengths(op, 1, True, kernel_size=kernel_size, stride=stride, padding=padding,
                      dilation=dilation)
    pair = "one int" if nd == 1 else "a tuple of two ints"
    for name, value in (("kernel_size", kernel_size), ("stride", stride)):
        if value is not None and isinstance(value, (tuple, list)) and len(value) not in (1, nd):
            omitted = "be omitted, " if name == "stride" else "be "
            raise RuntimeError(f"{op}: {name} must either {omitted}a single int, or {pair}")
    kernel = int_tuple(kernel_size, nd, "kernel_size", op)
    omitted = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
    stride = kernel if omitted else int_tuple(stride, nd, "stride", op)
    padding = int_tuple(padding, nd, "padding", op)
    dilation = int_tuple(dilation, nd, "dilation", op)
    size = x.shape[-nd:]
    if fast_1d:
        _check_max_pool1d(kernel[0], stride[0], padding[0], dilation[0], size[0], ceil_mode)
    else:
        _check_windows(nd, kernel, stride, padding, dilation)
        _check_pool_not_empty(op, nd, x)
    if op == "avg_pool3d" and any(n < k for n, k in zip(size, kernel)):
        # PyTorch's 3-d average pool wants the input (padding aside) to hold a whole window
        raise RuntimeError(f"input image (T: {size[0]} H: {size[1]} W: {size[2]}) smaller than "
                           f"kernel size (kT: {kernel[0]} kH: {kernel[1]} kW: {kernel[2]})")
    _check_pad_of_kernel(nd, kernel, padding)
    out_size = tuple(conv_output_size(n, k, s, p, d, ceil_mode)
                     for n, k, s, p, d in zip(size, kernel, stride, padding, dilation))
    if any(o <= 0 for o in out_size):
        planes = x.shape[-nd - 1] if x.ndim > nd else 1
        unit = (1,) if nd == 1 else ()          # a 1-d pool runs as a 2-d one of unit height
        raise RuntimeError(f"Given input size: ({_shape_str((planes, *unit, *size))}). Calculated "
                           f"output size: ({_shape_str((planes, *unit, *out_size))}). Output size "
                           "is too small")
    if not max_pool and x.dtype.kind not in "fV":
        raise RuntimeError(f"{op}: expected a floating point input, but got {x.dtype.name} "
                           "(convert it with .float())")
    # right padding: enough for the last window (ceil_mode may need more than `padding`)
    pads = tuple((p, max(p, (o - 1) * s + d * (k - 1) + 1 - n - p))
                 for n, k, s, p, d, o in zip(size, kernel, stride, padding, dilation, out_size))
    return dict(kernel=kernel, stride=stride, padding=pads, dilation=dilation, out_size=out_size)


def adaptive_not_empty(op, x, dims, shown=None, first=None):
    """PyTorch's error for an adaptive pool over an empty plane (or channel axis)."""
    for d in dims:
        if x.shape[d] == 0:
            shape = list(x.shape) if shown is None else shown
            raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch "
                               f"dimensions, but input has sizes {shape} with dimension "
                               f"{d if first is None else first} being empty")


def adaptive_grad_not_empty(kind, nd, shape):
    """PyTorch's adaptive pools' backward (``kind`` "avg" or "max"; the 2-d kernel for a 1-d
    pool, seen with height 1) refuses an empty grad_output, its first dim aside (a batch or,
    unbatched, the channels): an output size with a 0 passes forward, then fails here."""
    if all(shape[1:]):
        return
    sizes = list(shape)
    if nd == 1:
        sizes.insert(len(sizes) - 1, 1)
    empty = next(k for k in range(1, len(sizes)) if sizes[k] == 0)
    raise RuntimeError(f"adaptive_{kind}_pool{3 if nd == 3 else 2}d_backward(): Expected "
                       "grad_output to have non-zero size for non-batch dimensions, but "
                       f"grad_output has sizes {sizes} with dimension {empty} being empty")


def adaptive_size(op, nd, x, output_size):
    """Check an adaptive pool's input and output_size (ints, as ``_pool_sizes.output_ints``
    reads them), in PyTorch's order for each kind: a 1-d pool checks the rank, then the length
    (its parser's words); a max pool the rank and an empty non-batch dim, then the length and
    the signs (as the allocation of its result would); an average pool the length and signs,
    then the rank (its caller then an empty plane)."""
    check_output_size_type(op, nd, output_size)
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * nd
    max_pool = op.startswith("adaptive_max")
    if nd == 1 or max_pool:
        _check_adaptive_rank(op, nd, x)
        if nd == 1 and len(sizes) != 1:
            raise RuntimeError(f"{op}() argument 'output_size' should contain one int (got "
                               f"{len(sizes)})")
    if max_pool:
        adaptive_not_empty(op, x, range(1, x.ndim))      # only axis 0 (batch or channels) may be 0
        if len(sizes) != nd:
            raise RuntimeError(f"{op}(): internal error: output_size.size() must be {nd}")
        if any(o < 0 for o in sizes):
            # PyTorch's 1-d pool runs as a 2-d one of unit height
            shape = list(x.shape[:-nd]) + ([1] if nd == 1 else []) + list(sizes)
            first = next(o for o in sizes if o < 0)
            raise RuntimeError(f"Trying to create tensor with negative dimension {first}: {shape}")
        return tuple(int(o) for o in sizes)
    if len(sizes) != nd:
        raise RuntimeError(f"{op}: output_size must be {nd}")
    if any(o < 0 for o in sizes):
        # PyTorch prints 3 sizes as {a, b,c}
        shown = ", ".join(str(o) for o in sizes) if nd < 3 else \
            f"{sizes[0]}, {sizes[1]},{sizes[2]}"
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0 "
                           f"but received {{{shown}}}")
    if nd == 3:     # PyTorch's 3-d average pool looks for an empty non-batch dim first
        adaptive_not_empty(op, x, range(1, x.ndim))
    _check_adaptive_rank(op, nd, x)
    return tuple(int(o) for o in sizes)


def _check_adaptive_rank(op, nd, x):
    if x.ndim in (nd + 1, nd + 2):
        return
    if nd == 1:
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {x.ndim}-dimensional tensor for "
                           f"argument #1 'self' (while checking arguments for {op})")
    colon = ":" if op.startswith("adaptive_max") else ""      # (PyTorch's words differ so)
    raise RuntimeError(f"{op}(): Expected {nd + 1}D or {nd + 2}D tensor, but got{colon} "
                       f"{list(x.shape)}")
