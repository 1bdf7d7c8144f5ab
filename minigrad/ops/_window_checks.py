"""Argument checks for convolution and pooling, with PyTorch's error messages.

Each ``*_args`` function looks at raw arrays (shapes, dtypes) and the Python arguments,
raises the error PyTorch raises -- before any arithmetic -- and returns the normalised
hyper-parameters (tuples of ints, padding as (left, right) pairs) that the ops take.
"""
from __future__ import annotations

import numbers
import warnings

from .._global_flags import is_warn_always_enabled
from ..tensor import Tensor
from ._util import cpp_type_name, not_implemented_for, scalar_type_name

__all__ = ["conv_args", "conv_transpose_args", "empty_dtype", "pool_args", "adaptive_size", "int_tuple",
           "tensor_arrays", "conv_output_size"]


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
            raise TypeError(f"{op}(): argument '{name}' (position {position}) must be Tensor, "
                            f"not {type(t).__name__}")
    return arrays


# ----------------------------------------------------------------------------------------------
# Convolutions
# ----------------------------------------------------------------------------------------------
_WARNED_ONCE = {}          # the warnings PyTorch gives once per process, once given


def _type_name(array):
    return cpp_type_name(array.dtype)         # 'long int' for int64, as PyTorch prints it


def int_tuple(value, n, name, op, conv=True):
    """``value`` (an int or a sequence of ints) as a tuple of ``n`` ints, or PyTorch's error."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    for v in items:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{op}(): argument '{name}' must be tuple of ints, but found element "
                            f"of type {type(v).__name__} ({name}={value!r})")
    if len(items) == 1:
        return tuple(int(items[0]) for _ in range(n))
    if len(items) != n:
        if conv:
            raise RuntimeError(
                f"expected {name} to be a single integer value or a list of {n} values to match "
                f"the convolution dimensions, but got {name}={list(items)}")
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
                if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                    raise TypeError(f"{op}(): argument '{name}' (position {pos}) must be tuple of "
                                    f"ints, but found element of type {type(v).__name__} at "
                                    f"pos {i}")
        elif isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{op}(): argument '{name}' (position {pos}) must be tuple of ints, "
                            f"not {type(value).__name__}")


def check_output_size_type(op, nd, output_size):
    """An adaptive pool's output_size: an int, or a sequence of ints (None = keep that axis,
    for 2-d and 3-d pools); anything else is a TypeError before the input is looked at."""
    if isinstance(output_size, (tuple, list)):
        for i, v in enumerate(output_size):
            if (v is None and nd > 1) or (isinstance(v, numbers.Integral) and not isinstance(v, bool)):
                continue
            raise TypeError(f"{op}(): argument 'output_size' (position 2) must be tuple of ints, "
                            f"but found element of type {type(v).__name__} at pos {i}")
    elif isinstance(output_size, bool) or not isinstance(output_size, numbers.Integral):
        raise TypeError(f"{op}(): argument 'output_size' (position 2) must be tuple of ints, not "
                        f"{type(output_size).__name__}")


def _shape(array):
    return list(array.shape)


def _check_rank(op, nd, x, w):
    if x.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {op}, "
                           f"but got input of size: {_shape(x)}")
    if w.ndim != nd + 2:
        raise RuntimeError(f"Expected {nd + 2}-dimensional weight for {op} (out_channels, "
                           f"in_channels/groups, {', '.join('k' + a for a in 'DHW'[3 - nd:])}), "
                           f"but got {w.ndim}-dimensional weight of size {_shape(w)}")


def _check_dtypes(op, nd, x, w, b, dilation, transposed):
    """PyTorch's dtype checks, in its order. An input with no batch takes PyTorch's shortcut
    to an empty result: only the bias must match it (the result's dtype: ``empty_dtype``)."""
    empty = x.ndim == nd + 2 and x.shape[0] == 0
    # a plain convolution compares the bias with the input before anything else
    if not transposed and b is not None and b.dtype != x.dtype:
        raise RuntimeError(f"Input type ({_type_name(x)}) and bias type ({_type_name(b)}) "
                           "should be the same")
    # PyTorch's kernels: no bool convolution; a transposed one of int64 or floating only
    refused = x.dtype.name not in ("int64", "float16", "bfloat16", "float32", "float64",
                                   "complex64", "complex128") if transposed \
        else x.dtype.kind == "b"
    dilated = any(d > 1 for d in dilation)
    if refused and not empty:
        kind = "3d" if nd == 3 else "2d"
        kernel = f"slow_conv_transpose{kind}_out_cpu" if transposed else \
            "slow_conv_dilated<>" if nd < 3 and dilated else f"slow_conv{kind}_cpu"
        raise not_implemented_for(kernel, x.dtype)
    # the dilated kernel takes int64 among the integers, nothing narrower
    if not transposed and dilated and x.dtype.kind in "iu" and x.dtype.name != "int64" \
            and not empty:
        raise not_implemented_for("slow_conv_dilated<>", x.dtype)
    if w.dtype != x.dtype and not empty:
        raise RuntimeError(f"expected scalar type {scalar_type_name(x.dtype)} but found "
                           f"{scalar_type_name(w.dtype)}: Input type ({_type_name(x)}) and "
                           f"weight type ({_type_name(w)}) should be the same")
    if b is None or b.dtype == x.dtype:
        return
    if transposed and (nd < 3 or empty):
        # PyTorch adds the bias into the result in place: a bias of a higher kind (a float
        # bias, integer input) cannot be cast into it; a lower kind or another width can
        out = empty_dtype(x, w) if empty else x.dtype
        rank = {"b": 0, "u": 1, "i": 1, "f": 2}
        if rank[b.dtype.kind] > rank[out.kind]:
            raise RuntimeError(f"result type {scalar_type_name(b.dtype)} can't be cast to the "
                               f"desired output type {scalar_type_name(out)}")
    elif transposed:
        raise RuntimeError(f"expected scalar type {scalar_type_name(x.dtype)} but found "
                           f"{scalar_type_name(b.dtype)}")
    else:
        raise RuntimeError(f"Input type ({_type_name(x)}) and bias type ({_type_name(b)}) "
                           "should be the same")


def empty_dtype(x, w):
    """The dtype of PyTorch's result for an empty batch: the input's, or the weight's where that
    is of a higher kind (bool < integer < floating)."""
    rank = {"b": 0, "u": 1, "i": 1, "f": 2}
    return w.dtype if rank[w.dtype.kind] > rank[x.dtype.kind] else x.dtype


def _check_bias(w, b, out_channels, transposed):
    if b is not None and (b.ndim != 1 or b.shape[0] != out_channels):
        prefix = "Given transposed=1, weight" if transposed else "Given weight"
        raise RuntimeError(f"{prefix} of size {_shape(w)}, expected bias to be 1-dimensional with "
                           f"{out_channels} elements, but got bias of size {_shape(b)} instead")


def _check_weight_not_empty(nd, w, transposed, groups):
    """A kernel with a 0-sized axis, or no output channels, has no convolution (PyTorch)."""
    if any(k <= 0 for k in w.shape[2:]):
        names = ("depth", "height", "width")[3 - nd:]
        raise RuntimeError("kernel size should be greater than zero, but got "
                           + " ".join(f"kernel_{a}: {k}" for a, k in zip(names, w.shape[2:]))
                           + f" (weight of size {_shape(w)})")
    if w.size == 0:
        if transposed:
            raise RuntimeError(f"non-empty {nd + 2}D weight tensor expected, but got: "
                               f"{_shape(w)}")
        if w.shape[0] == 0:
            raise RuntimeError(f"Given groups={groups}, expected weight to be at least 1 at "
                               f"dimension 0, but got weight of size {_shape(w)} instead")


def _check_groups(w, groups):
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral):
        raise TypeError(f"groups must be an int, got {groups!r}")
    if groups <= 0:
        raise RuntimeError(f"non-positive groups is not supported (groups must be >= 1, got "
                           f"groups={groups})")
    if w.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at "
                           f"dimension 0, but got weight of size [{_shape(w)}] instead")


def _sizes(values):
    return " x ".join(str(v) for v in values)


def _check_int_elements(op, **args):
    """PyTorch's argument parser refuses a non-int stride, padding, ... before the input's rank
    is looked at (a padding string is for the caller to judge)."""
    for name, value in args.items():
        if isinstance(value, str):
            continue
        for v in tuple(value) if isinstance(value, (tuple, list)) else (value,):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"{op}(): argument '{name}' must be tuple of ints, but found "
                                f"element of type {type(v).__name__} ({name}={value!r})")


def conv_args(op, nd, x, w, b, stride, padding, dilation, groups):
    """Check a convolution's arguments (arrays) and normalise them; padding -> (l, r) pairs."""
    _check_int_elements(op, stride=stride, padding=padding, dilation=dilation)
    _check_rank(op, nd, x, w)
    _check_weight_not_empty(nd, w, transposed=False, groups=groups)
    stride = int_tuple(stride, nd, "stride", op)
    dilation = int_tuple(dilation, nd, "dilation", op)
    kernel = w.shape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions "
                                   f"(stride must be 1, got stride={list(stride)})")
            # total d(k-1): half on the left, the odd one out on the right (as PyTorch)
            pads = tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                         for k, d in zip(kernel, dilation))
            if any(left != right for left, right in pads) and (
                    is_warn_always_enabled() or not _WARNED_ONCE.get("same")):
                _WARNED_ONCE["same"] = True    # once per process unless warn_always, as PyTorch
                warnings.warn("Using padding='same' with even kernel lengths and odd dilation "
                              "may require a zero-padded copy of the input be created (the "
                              "extra padding goes on the right)", UserWarning, stacklevel=4)
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        pads = tuple((p, p) for p in int_tuple(padding, nd, "padding", op))
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"non-positive stride is not supported (stride must be >= 1, got "
                           f"stride={list(stride)})")
    if any(l < 0 for l, _ in pads):
        raise RuntimeError(f"negative padding is not supported (padding must be >= 0, got "
                           f"padding={[l for l, _ in pads]})")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"dilation should be greater than zero, but got {list(dilation)}")
    _check_groups(w, groups)
    channels = x.shape[-nd - 1]
    if channels != w.shape[1] * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {_shape(w)}, expected input{_shape(x)} to have "
            f"{w.shape[1] * groups} channels, but got {channels} channels instead")
    _check_bias(w, b, w.shape[0], transposed=False)
    padded = [n + l + r for n, (l, r) in zip(x.shape[-nd:], pads)]
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if any(s > p for s, p in zip(span, padded)):
        raise RuntimeError(f"Calculated padded input size per channel: ({_sizes(padded)}). Kernel "
                           f"size: ({_sizes(span)}). Kernel size can't be greater than actual "
                           "input size")
    _check_dtypes(op, nd, x, w, b, dilation, transposed=False)
    return dict(stride=stride, padding=pads, dilation=dilation, groups=int(groups),
                batched=x.ndim == nd + 2)


def conv_transpose_args(op, nd, x, w, b, stride, padding, output_padding, groups, dilation):
    """Check a transposed convolution's arguments (arrays) and normalise them."""
    if isinstance(padding, str):
        raise TypeError(f"{op}(): argument 'padding' must be tuple of ints, not str")
    _check_int_elements(op, stride=stride, padding=padding, output_padding=output_padding,
                        dilation=dilation)
    _check_rank(op, nd, x, w)
    _check_weight_not_empty(nd, w, transposed=True, groups=groups)
    stride = int_tuple(stride, nd, "stride", op)
    padding = int_tuple(padding, nd, "padding", op)
    output_padding = int_tuple(output_padding, nd, "output_padding", op)
    dilation = int_tuple(dilation, nd, "dilation", op)
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"non-positive stride is not supported (stride must be >= 1, got "
                           f"stride={list(stride)})")
    if any(p < 0 for p in padding):
        raise RuntimeError(f"negative padding is not supported (padding must be >= 0, got "
                           f"padding={list(padding)})")
    if any(p < 0 for p in output_padding):
        raise RuntimeError(f"negative output_padding is not supported (got "
                           f"output_padding={list(output_padding)})")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"dilation should be greater than zero, but got {list(dilation)}")
    if any(op_ >= s and op_ >= d for op_, s, d in zip(output_padding, stride, dilation)):
        axes = ("depth", "height", "width")[3 - nd:] if nd > 1 else ("",)
        def named(what, values):
            return " ".join(f"{what}{'_' + a if a else ''}: {v}" for a, v in zip(axes, values))
        raise RuntimeError(
            "output padding must be smaller than either stride or dilation, but got "
            f"{named('output_padding', output_padding)} {named('stride', stride)} "
            f"{named('dilation', dilation)}")
    _check_groups(w, groups)
    channels = x.shape[-nd - 1]
    if channels != w.shape[0]:
        raise RuntimeError(
            f"Given transposed=1, weight of size {_shape(w)}, expected input{_shape(x)} to have "
            f"{w.shape[0]} channels, but got {channels} channels instead")
    _check_bias(w, b, w.shape[1] * groups, transposed=True)
    size = x.shape[-nd:]
    out = [(n - 1) * s - 2 * p + d * (k - 1) + op_ + 1 for n, k, s, p, d, op_
           in zip(size, w.shape[2:], stride, padding, dilation, output_padding)]
    if any(o <= 0 for o in out):
        raise RuntimeError(f"Given input size per channel: ({_sizes(size)}). Calculated output "
                           f"size per channel: ({_sizes(out)}). Output size is too small")
    _check_dtypes(op, nd, x, w, b, dilation, transposed=True)
    return dict(stride=stride, padding=padding, output_padding=output_padding,
                dilation=dilation, groups=int(groups), batched=x.ndim == nd + 2)


# ----------------------------------------------------------------------------------------------
# Pooling
# ----------------------------------------------------------------------------------------------
def _shape_str(values):
    return "x".join(str(v) for v in values)


def _named(what, letters, values):
    return " ".join(f"{what}{a}: {v}" for a, v in zip(letters, values))


def _check_pool_not_empty(op, nd, x):
    """Pooling takes an empty batch, not an empty channel or spatial dim: PyTorch's words per
    kernel (avg_pool1d runs as a 2-d pool of the input with a unit dim inserted)."""
    non_batch = x.shape[1:] if x.ndim == nd + 2 else x.shape
    if all(n > 0 for n in non_batch):
        return
    if nd == 3:
        kernel = "avg_pool3d" if op == "avg_pool3d" else "max_pool3d_with_indices_out_cpu_template"
        raise RuntimeError(f"{kernel}(): Expected input's non-batch dimensions to have positive "
                           f"length, but input has a shape of {list(x.shape)} and non-batch "
                           f"dimension 0 has length zero! (PyTorch's words; the empty one is "
                           f"dimension {list(x.shape).index(0, x.ndim - len(non_batch))})")
    if op == "max_pool1d":
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


def pool_args(op, nd, x, kernel_size, stride, padding, dilation, ceil_mode, max_pool,
              fast_1d=False):
    """Check a pooling op's arguments; return kernel, stride, padding, dilation, out size and
    the (left, right) padding per axis (the right side grows for ceil_mode's last window).
    ``fast_1d``: a max_pool1d without indices, which PyTorch checks in words of its own."""
    check_int_list_types(op, ("kernel_size", 2, kernel_size, False), ("stride", 3, stride, True),
                         ("padding", 4, padding, False), ("dilation", 5, dilation, False))
    if x.ndim not in (nd + 1, nd + 2):
        if op == "max_pool1d":
            raise RuntimeError(f"max_pool1d: Expected 2D or 3D (batch mode) tensor with optional "
                               f"0 dim batch size for input, but got:{list(x.shape)}")
        if op == "avg_pool1d":
            raise RuntimeError(f"Expected 2 to 3 dimensions, but got {x.ndim}-dimensional tensor "
                               f"for argument #1 'self' (while checking arguments for avg_pool1d)")
        if op == "avg_pool2d":
            raise RuntimeError(f"Expected 3D or 4D (batch mode) tensor with optional 0 dim batch "
                               f"size for input, but got:{list(x.shape)}")
        raise RuntimeError(f"non-empty {nd + 1}D or {nd + 2}D (batch mode) tensor expected for "
                           f"input, but got input of size: {list(x.shape)}")
    _check_pool_not_empty(op, nd, x)
    pair = "one int" if nd == 1 else "a tuple of two ints"
    for name, value in (("kernel_size", kernel_size), ("stride", stride)):
        if value is not None and isinstance(value, (tuple, list)) and len(value) not in (1, nd):
            omitted = "be omitted, " if name == "stride" else "be "
            raise RuntimeError(f"{op}: {name} must either {omitted}a single int, or {pair}")
    kernel = int_tuple(kernel_size, nd, "kernel_size", op, conv=False)
    omitted = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
    stride = kernel if omitted else int_tuple(stride, nd, "stride", op, conv=False)
    padding = int_tuple(padding, nd, "padding", op, conv=False)
    dilation = int_tuple(dilation, nd, "dilation", op, conv=False)
    if fast_1d:
        _check_max_pool1d(kernel[0], stride[0], padding[0], dilation[0], x.shape[-1], ceil_mode)
    # PyTorch names T, H, W; a 1-d pool runs as a 2-d one over a unit height
    letters = {1: "HW", 2: "HW", 3: "THW"}[nd]

    def shown(values, unit=1):
        return (unit,) + tuple(values) if nd == 1 else values
    if any(s == 0 for s in stride):
        raise RuntimeError("stride should not be zero (got " + _named("d", letters, shown(stride))
                           + ")")
    if any(k <= 0 for k in kernel):
        raise RuntimeError("kernel size should be greater than zero, but got "
                           + _named("k", letters, shown(kernel)))
    if any(s < 0 for s in stride):
        raise RuntimeError("stride should be greater than zero, but got "
                           + _named("d", letters, shown(stride)))
    if any(d <= 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero, but got "
                           + _named("dilation", letters, shown(dilation)))
    if any(p < 0 for p in padding):
        raise RuntimeError(f"pad must be non-negative, but got pad: {min(padding)}")
    for k, p, d in zip(kernel, padding, dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={p}, kernel_size={k} and dilation={d}")
    size = x.shape[-nd:]
    if op == "avg_pool3d" and any(n < k for n, k in zip(size, kernel)):
        # PyTorch's 3-d average pool wants the input (padding aside) to hold a whole window
        raise RuntimeError(f"input image (T: {size[0]} H: {size[1]} W: {size[2]}) smaller than "
                           f"kernel size (kT: {kernel[0]} kH: {kernel[1]} kW: {kernel[2]})")
    if any(p > k // 2 for k, p in zip(kernel, padding)):               # PyTorch checks both
        got = [f"pad{a} = {p}" for a, p in zip(letters[::-1], padding[::-1])]
        got += [f"k{a} = {k}" for a, k in zip(letters[::-1], kernel[::-1])]
        raise RuntimeError("pad should be smaller than or equal to half of kernel size, but got "
                           + ", ".join(got))
    size = x.shape[-nd:]
    out_size = tuple(conv_output_size(n, k, s, p, d, ceil_mode)
                     for n, k, s, p, d in zip(size, kernel, stride, padding, dilation))
    if any(o <= 0 for o in out_size):
        planes = x.shape[-nd - 1] if x.ndim > nd else 1
        raise RuntimeError(f"Given input size: ({_shape_str((planes, *size))}). Calculated output "
                           f"size: ({_shape_str((planes, *out_size))}). Output size is too small")
    if not max_pool and x.dtype.kind not in "fV":
        raise RuntimeError(f"{op}: expected a floating point input, but got {x.dtype.name} "
                           "(convert it with .float())")
    # right padding: enough for the last window (ceil_mode may need more than `padding`)
    pads = tuple((p, max(p, (o - 1) * s + d * (k - 1) + 1 - n - p))
                 for n, k, s, p, d, o in zip(size, kernel, stride, padding, dilation, out_size))
    return dict(kernel=kernel, stride=stride, padding=pads, dilation=dilation, out_size=out_size)


def adaptive_size(op, nd, x, output_size):
    """Check the input rank and output_size (int, tuple, None = keep the input's size)."""
    check_output_size_type(op, nd, output_size)
    if x.ndim not in (nd + 1, nd + 2):
        if nd == 1:
            raise RuntimeError(f"Expected 2 to 3 dimensions, but got {x.ndim}-dimensional tensor "
                               f"for argument #1 'self' (while checking arguments for {op})")
        raise RuntimeError(f"{op}(): Expected {nd + 1}D or {nd + 2}D tensor, but got "
                           f"{list(x.shape)}")
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * nd
    if len(sizes) != nd:
        if op == "adaptive_max_pool3d":            # (PyTorch's 3-d max-pool words it so)
            raise RuntimeError(f"{op}(): internal error: output_size.size() must be 3")
        raise RuntimeError(f"{op}: output_size must be {nd}")
    sizes = tuple(n if o is None else o for o, n in zip(sizes, x.shape[-nd:]))
    for o in sizes:
        if isinstance(o, bool) or not isinstance(o, numbers.Integral):
            raise TypeError(f"{op}(): output_size must be ints, got {output_size!r}")
    if any(o < 0 for o in sizes):
        if op == "adaptive_max_pool3d":
            shape = list(x.shape[:-nd]) + list(sizes)
            raise RuntimeError(f"Trying to create tensor with negative dimension "
                               f"{min(sizes)}: {shape}")
        # PyTorch prints 3 sizes as {a, b,c}
        shown = ", ".join(str(o) for o in sizes) if nd < 3 else \
            f"{sizes[0]}, {sizes[1]},{sizes[2]}"
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0 "
                           f"but received {{{shown}}}")
    return tuple(int(o) for o in sizes)
