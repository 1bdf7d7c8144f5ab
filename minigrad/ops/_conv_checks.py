"""Argument checks for the convolutions, in PyTorch's order and with its messages.

A bad call to conv2d can be wrong in several ways at once; PyTorch reports the first one its
checks meet, and they meet them in stages, which the functions below follow:

1. the argument parser: ints where ints are due (TypeError);
2. ``_check_input_rank``: an (unbatched) input of nd + 1 or (batched) nd + 2 dims;
3. for ``padding='same'``: the padding is worked out from the weight (``_same_padding``);
4. ``_check_shapes``: the weight's rank, groups, stride / padding / dilation lists of the
   weight's rank, their signs, input against weight (rank, channels), the bias's shape, the
   kernel against the padded input;
5. ``_check_kernel`` / ``_check_transposed_kernel``: zero-sized kernels, zero dilation, output
   padding, the output size (the checks of PyTorch's CPU kernels, which run a 1-d convolution
   as a 2-d one of height 1 and say so in their words);
6. ``_check_dtypes``: dtypes the kernels take.

Each public function returns the normalised hyper-parameters (tuples of ints, padding as
(left, right) pairs for the plain convolution) that conv.py's ops take.
"""
from __future__ import annotations


from .. import parallel as _parallel
from .._argument_error import argument_error
from .._warn_once import USER, warn_once
from ._int_lists import int_like
from .._dtype_names import tensor_type_string
from ._util import cpp_type_name, not_implemented_for, scalar_type_name

__all__ = ["conv_args", "conv_transpose_args", "empty_dtype"]

_AXES = ("depth", "height", "width")
_LAYOUT = {1: "kW", 2: "kH, kW", 3: "kD, kH, kW"}


def _shape(sizes):
    return list(sizes)


def _sizes(values):
    return " x ".join(str(v) for v in values)


def _as_2d(nd, values, unit):
    """A 1-d convolution's per-axis values as PyTorch's 2-d kernels print them: a unit height
    in front (``unit`` is 1 for sizes, stride and dilation, 0 for output padding)."""
    return (unit,) + tuple(values) if nd == 1 else tuple(values)


def _named(what, values, sep=" "):
    """'what_height: a what_width: b' (with depth for three values)."""
    return sep.join(f"{what}_{a}: {v}" for a, v in zip(_AXES[3 - len(values):], values))


# ----------------------------------------------------------------------------------------------
# 1-2: the parser, the input's rank
# ----------------------------------------------------------------------------------------------
def _check_int_elements(op, groups, **args):
    """PyTorch's argument parser: a non-int stride, padding, ... or groups is refused before
    the input's rank is looked at (a padding string is for the caller to judge). An int list
    takes an int (not a bool) first, then ints or bools; a scalar is an int, not a bool. The
    TypeError carries the argument (``_argument_error``): the public functions' wrapper words
    it for the call -- with its position, or, for a convolution, whose parser has two
    signatures (padding ints or a string), as "an invalid combination of arguments"."""
    for name, value in args.items():
        if isinstance(value, str) and name == "padding" and "transpose" not in op:
            continue
        if isinstance(value, (tuple, list)):
            for i, v in enumerate(value):
                if not int_like(v, i == 0):
                    # a wrong first element: the signature does not match; a later one: it
                    # matched, and the element could not be read
                    raise argument_error(op, name, "tuple of ints", value,
                                         found=(i, v) if i else None)
        elif not int_like(value, True):         # an int, or an integer tensor of one element
            raise argument_error(op, name, "tuple of ints", value)
    if not int_like(groups, True):
        raise argument_error(op, "groups", "int", groups)


def _parsed(value, nd):
    """An int list argument as the parser hands it on: an int repeated for the op's nd axes,
    a sequence as given (its length is judged against the weight's rank later)."""
    return [int(v) for v in value] if isinstance(value, (tuple, list)) else [int(value)] * nd


def _check_input_rank(op, nd, x):
    if x.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
                           f"{op}, but got input of size: {_shape(x.shape)}")


def _batched_shape(nd, x):
    """The input's shape as the checks see it: an unbatched input gets a batch of one."""
    return tuple(x.shape) if x.ndim == nd + 2 else (1,) + tuple(x.shape)


def _weight_dtype_error(nd, x, w, one_dnn=False):
    """PyTorch's words for a weight of another dtype than the input, by the kernel that finds
    it: a complex input's split into real convolutions; oneDNN's where PyTorch takes that
    kernel (``one_dnn``, see ``_one_dnn``: any bfloat16 input, float32 by its rule); the plain
    kernels' for the rest."""
    types = f"Input type ({tensor_type_string(x.dtype)}) and weight type " \
            f"({tensor_type_string(w.dtype)}) should be the same"
    if x.dtype.kind == "c":
        return RuntimeError(types)
    if one_dnn:
        return RuntimeError(f"{types} or input should be a MKLDNN tensor and weight is a dense "
                            f"tensor")
    return RuntimeError(f"expected scalar type {scalar_type_name(x.dtype)} but found "
                        f"{scalar_type_name(w.dtype)}")


def _check_complex_weight(nd, x, w):
    """A complex input takes PyTorch's complex convolution, which checks the weight's dtype
    before any shape: right after the input's rank."""
    if x.dtype.kind == "c" and w.dtype != x.dtype:
        raise _weight_dtype_error(nd, x, w)


def _bias_dtype_error(x, b):
    return RuntimeError(f"Input type ({cpp_type_name(x.dtype)}) and bias type "
                        f"({cpp_type_name(b.dtype)}) should be the same")


# ----------------------------------------------------------------------------------------------
# 4: shapes and signs
# ----------------------------------------------------------------------------------------------
def _weight_rank_detail(op, nd, w):
    """What a weight of the wrong rank should have been (added to PyTorch's words, which speak
    of the stride or the input when the weight is what is wrong)."""
    if w.ndim == nd + 2:
        return ""
    return (f" (Expected {nd + 2}-dimensional weight for {op} (out_channels, "
            f"in_channels/groups, {_LAYOUT[nd]}), but got {w.ndim}-dimensional weight of size "
            f"{_shape(w.shape)})")


def _check_weight_rank_and_groups(op, nd, w, groups):
    if w.ndim < 3:
        raise RuntimeError("weight should have at least three dimensions"
                           + _weight_rank_detail(op, nd, w))
    groups = int(groups)                # (its type checked by the parser's stage)
    if groups <= 0:
        raise RuntimeError(f"non-positive groups is not supported (groups must be >= 1, got "
                           f"groups={groups})")


def _expand(op, nd, w, name, values):
    """One value for every axis of the weight: a single value is repeated."""
    dim = w.ndim - 2
    if len(values) == 1:
        return tuple(values) * dim
    if len(values) != dim:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {dim} "
                           f"values to match the convolution dimensions, but got "
                           f"{name}={values}" + _weight_rank_detail(op, nd, w))
    return tuple(values)


def _check_shapes(op, nd, xb, w, b, stride, padding, dilation, groups, output_padding=None,
                  shown=None):
    """Stage 4 for both kinds of convolution; ``xb`` the batched input shape, ``padding`` one
    int per axis; ``shown``: the input shape the messages print ('same' padding may have
    padded the input on the right first)."""
    transposed = output_padding is not None
    if any(p < 0 for p in padding):
        raise RuntimeError(f"negative padding is not supported (padding must be >= 0, got "
                           f"padding={list(padding)})")
    if transposed and any(p < 0 for p in output_padding):
        raise RuntimeError(f"negative output_padding is not supported (got "
                           f"output_padding={list(output_padding)})")
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"non-positive stride is not supported (stride must be >= 1, got "
                           f"stride={list(stride)})")
    if any(d < 0 for d in dilation):
        raise RuntimeError(f"dilation should be greater than zero, but got {list(dilation)}")
    shown = list(xb if shown is None else shown)
    if w.ndim != len(xb):
        raise RuntimeError(f"Expected {w.ndim}-dimensional input for {w.ndim}-dimensional weight "
                           f"{_shape(w.shape)}, but got {len(xb)}-dimensional input of size "
                           f"{shown} instead")
    if w.shape[0] < groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be at least {groups} at "
                           f"dimension 0, but got weight of size {_shape(w.shape)} instead")
    if w.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at "
                           f"dimension 0, but got weight of size [{_shape(w.shape)}] instead")
    if transposed:
        channels, out_channels, prefix = w.shape[0], w.shape[1] * groups, "Given transposed=1, "
    else:
        channels, out_channels, prefix = w.shape[1] * groups, w.shape[0], f"Given groups={groups}, "
    if xb[1] != channels:
        raise RuntimeError(f"{prefix}weight of size {_shape(w.shape)}, expected input{shown} to "
                           f"have {channels} channels, but got {xb[1]} channels instead")
    if b is not None and (b.ndim != 1 or b.shape[0] != out_channels):
        prefix = "Given transposed=1, weight" if transposed else "Given weight"
        raise RuntimeError(f"{prefix} of size {_shape(w.shape)}, expected bias to be 1-dimensional "
                           f"with {out_channels} elements, but got bias of size "
                           f"{_shape(b.shape)} instead")
    if not transposed:
        padded = [n + 2 * p for n, p in zip(shown[2:], padding)]
        span = [d * (k - 1) + 1 for k, d in zip(w.shape[2:], dilation)]
        if any(s > p for s, p in zip(span, padded)):
            raise RuntimeError(f"Calculated padded input size per channel: ({_sizes(padded)}). "
                               f"Kernel size: ({_sizes(span)}). Kernel size can't be greater "
                               "than actual input size")


def _check_empty_input(nd, xb):
    """An input with no elements but with a batch and channels (an empty spatial axis) has no
    kernel in PyTorch: refused (an empty batch or no channels give an empty result)."""
    if xb[0] != 0 and xb[1] != 0 and 0 in xb[2:]:
        shape = list(xb[:2]) + list(_as_2d(nd, xb[2:], 1))
        raise RuntimeError(f"Only zero batch or zero channel inputs are supported, but got "
                           f"input shape: {shape}")


# ----------------------------------------------------------------------------------------------
# 5: what PyTorch's CPU kernels check
# ----------------------------------------------------------------------------------------------
def _check_kernel(nd, w, dilation):
    """A plain convolution's kernel: the dilated kernel checks kernel, then dilation, in lists;
    the others name the kernel's axes."""
    kernel = tuple(w.shape[2:])
    detail = f" (weight of size {_shape(w.shape)})"
    if any(d != 1 for d in dilation):
        if any(k <= 0 for k in kernel):
            raise RuntimeError(f"kernel size should be greater than zero, but got "
                               f"{list(_as_2d(nd, kernel, 1))}{detail}")
        if any(d <= 0 for d in dilation):
            raise RuntimeError(f"dilation should be greater than zero, but got "
                               f"{list(_as_2d(nd, dilation, 1))}")
    elif any(k <= 0 for k in kernel):
        got = f": {_sizes(kernel)} (TxHxW)" if nd == 3 else \
            " " + _named("kernel", _as_2d(nd, kernel, 1))
        raise RuntimeError(f"kernel size should be greater than zero, but got{got}{detail}")


def _check_transposed_kernel(nd, xb, w, stride, padding, dilation, output_padding,
                             one_dnn=False):
    """A transposed convolution's kernel checks, and its output size; returns that size."""
    def as_2d(values, unit=1):
        return _as_2d(nd, values, unit)
    kernel = tuple(w.shape[2:])
    if nd < 3 and any(k <= 0 for k in kernel):
        raise RuntimeError("kernel size should be greater than zero, but got "
                           + _named("kernel", as_2d(kernel)) + f" (weight of size "
                           f"{_shape(w.shape)})")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero, but got "
                           + _named("dilation", as_2d(dilation), sep=", "))
    if any(o >= s and o >= d for o, s, d in zip(output_padding, stride, dilation)):
        raise RuntimeError("output padding must be smaller than either stride or dilation, but "
                           f"got {_named('output_padding', as_2d(output_padding, 0))} "
                           f"{_named('stride', as_2d(stride))} "
                           f"{_named('dilation', as_2d(dilation))}")
    if w.size == 0:
        if nd == 3:
            raise RuntimeError("non-empty 5D (n_output_plane x n_input_plane x kernel_depth x "
                               "kernel_height x kernel_width) tensor expected for weight, but "
                               f"got: {_shape(w.shape)}")
        shape = w.shape[:2] + (1,) + w.shape[2:] if nd == 1 else w.shape
        raise RuntimeError(f"non-empty 2D or 4D weight tensor expected, but got: {_shape(shape)}")
    size = xb[2:]
    out = [(n - 1) * s - 2 * p + d * (k - 1) + o + 1 for n, k, s, p, d, o
           in zip(size, kernel, stride, padding, dilation, output_padding)]
    if one_dnn and min(out) >= 0:
        return                  # (an output size of 0: PyTorch's oneDNN path, an empty result)
    if one_dnn:                 # (its words for a size below 0)
        raise RuntimeError("could not construct a memory descriptor using a format tag")
    if any(o <= 0 for o in out):
        raise RuntimeError(f"Given input size per channel: ({_sizes(as_2d(size))}). Calculated "
                           f"output size per channel: ({_sizes(as_2d(out))}). Output size is "
                           "too small")


def _one_dnn(nd, xb, dtype, w_shape, groups, stride, dilation):
    """Whether PyTorch's CPU convolution takes its oneDNN kernel, which returns an empty result
    for a transposed output size of 0 (its other kernels refuse it): bfloat16 always; float32
    (complex64 too, as real parts) when the problem is not a small single image, by its
    rule: a stride, a dilation, 16 images, a kernel other than 1x1 or several threads, and
    groups, a kernel over 3x3, several images or over 20480 numbers in (N, C, H, W)."""
    if dtype.name == "bfloat16":
        return True
    if dtype.name not in ("float32", "complex64"):
        return False
    dims = (1,) * (nd == 1) + tuple(xb[2:])         # (a 1-d one runs as 2-d, one row)
    kernel = (1,) * (nd == 1) + tuple(w_shape[2:])
    threads = _parallel.get_num_threads()
    return (any(s != 1 for s in stride) or any(d != 1 for d in dilation) or xb[0] >= 16 or
            kernel[-1] != 1 or kernel[-2] != 1 or threads > 1) and \
        (groups > 1 or (kernel[-1] > 3 and kernel[-2] > 3) or xb[0] > 1 or
         xb[0] * xb[1] * dims[0] * dims[1] > 20480)


def _check_empty_batch_output(xb, w, groups, stride, padding, dilation, output_padding):
    """A transposed convolution of an empty batch: PyTorch makes the empty result without its
    kernel checks (a zero dilation, a large output_padding pass); it reads the weight's first
    kernel size, and an output size below zero fails as a shape does."""
    if w.size == 0:
        raise IndexError("select(): index 0 out of range for tensor of size [0] at dimension 0")
    out = [(n - 1) * s - 2 * p + d * (k - 1) + o + 1 for n, k, s, p, d, o
           in zip(xb[2:], w.shape[2:], stride, padding, dilation, output_padding)]
    shape = [0, w.shape[1] * groups] + [1] * (len(out) == 1) + out     # 1-d runs as 2-d
    if sum(v == -1 for v in out) > 1:
        raise RuntimeError("only one dimension can be inferred")
    for i, v in enumerate(shape):
        if v < -1:
            raise RuntimeError(f"invalid shape dimension {v} at index {i} of shape {shape}")
    if -1 in out:
        raise RuntimeError(f"cannot reshape tensor of 0 elements into shape {shape} because the "
                           "unspecified dimension size -1 can be any value and is ambiguous")


# ----------------------------------------------------------------------------------------------
# 6: dtypes
# ----------------------------------------------------------------------------------------------
def empty_dtype(x, w):
    """The dtype of PyTorch's result for an empty batch: the input's, or the weight's where that
    is of a higher kind (bool < integer < floating)."""
    rank = {"b": 0, "u": 1, "i": 1, "f": 2}
    return w.dtype if rank[w.dtype.kind] > rank[x.dtype.kind] else x.dtype


def _check_dtypes(nd, x, w, b, dilation, transposed, one_dnn, columns=True):
    """PyTorch's dtype checks, in its order. An input with no batch takes PyTorch's shortcut
    to an empty result: only the bias must match it (the result's dtype: ``empty_dtype``).
    ``one_dnn``: a callable, whether PyTorch takes its oneDNN kernel (asked only for the words
    of a mismatched weight)."""
    empty = x.ndim == nd + 2 and x.shape[0] == 0
    # PyTorch's kernels: no bool convolution; a transposed one of int64 or floating only
    refused = x.dtype.name not in ("int64", "float16", "bfloat16", "float32", "float64",
                                   "complex64", "complex128") if transposed \
        else x.dtype.kind == "b"
    dilated = any(d > 1 for d in dilation)
    if refused and not empty:
        kind = "3d" if nd == 3 else "2d"
        # (a 3-d one fails in its column copy, compute_columns3d, before its product)
        kernel = f"slow_conv_transpose{kind}_out_cpu" if transposed else \
            "slow_conv_dilated<>" if dilated else \
            "compute_columns3d" if nd == 3 and columns else f"slow_conv{kind}_cpu"
        raise not_implemented_for(kernel, x.dtype)
    # the dilated kernel takes int64 among the integers, nothing narrower
    if not transposed and dilated and x.dtype.kind in "iu" and x.dtype.name != "int64" \
            and not empty:
        raise not_implemented_for("slow_conv_dilated<>", x.dtype)
    if w.dtype != x.dtype and not empty:
        raise _weight_dtype_error(nd, x, w, one_dnn())
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
    else:                  # a padding string skips PyTorch's first look at the bias: here
        raise _bias_dtype_error(x, b)


# ----------------------------------------------------------------------------------------------
# The two entry points
# ----------------------------------------------------------------------------------------------
def _same_padding(op, nd, xb, w, stride, dilation, groups):
    """padding='same': checks of its own, then (left, right) pads per axis. The total pad
    d(k-1) is split with its odd one out on the right (PyTorch pads the input on the right by
    it first, so its later messages print the input that much larger)."""
    _check_weight_rank_and_groups(op, nd, w, groups)
    if w.ndim != len(xb):
        raise RuntimeError(f"Expected {w.ndim}-dimensional input for {w.ndim}-dimensional "
                           f"weight{_shape(w.shape)}, but got {len(xb)}-dimensional input of "
                           f"size {_shape(xb)} instead")
    dim = w.ndim - 2
    for name, values in (("stride", stride), ("dilation", dilation)):
        if len(values) not in (1, dim):
            raise RuntimeError(f"{name} cannot broadcast to {dim} dimensions")
    if any(s != 1 for s in stride):
        raise RuntimeError("padding='same' is not supported for strided convolutions (stride "
                           f"must be 1, got stride={stride})")
    dilation = tuple(dilation) * dim if len(dilation) == 1 else tuple(dilation)
    totals = [d * (k - 1) for k, d in zip(w.shape[2:], dilation)]
    lefts = [int(t / 2) for t in totals]         # rounded toward zero, as PyTorch's C++
    pads = tuple((left, t - left) for left, t in zip(lefts, totals))
    if any(left != right for left, right in pads) and all(d > 0 for d in dilation):
        # once per process unless warn_always, as PyTorch
        warn_once("Using padding='same' with even kernel lengths and odd dilation may require "
                  "a zero-padded copy of the input be created (the extra padding goes on the "
                  "right)", UserWarning, stacklevel=USER)
    return pads, dilation


def conv_args(op, nd, x, w, b, stride, padding, dilation, groups):
    """Check a convolution's arguments (arrays) and normalise them; padding -> (l, r) pairs."""
    _check_int_elements(op, groups, stride=stride, padding=padding, dilation=dilation)
    mode = padding if isinstance(padding, str) else None
    if mode is None and b is not None and b.dtype != x.dtype:
        raise _bias_dtype_error(x, b)          # PyTorch's very first look, with int padding
    _check_input_rank(op, nd, x)
    _check_complex_weight(nd, x, w)
    xb = _batched_shape(nd, x)
    stride, dilation = _parsed(stride, nd), _parsed(dilation, nd)
    shown = None
    if mode == "same":
        pads, dilation = _same_padding(op, nd, xb, w, stride, dilation, groups)
        stride = (1,) * (w.ndim - 2)
        shown = xb[:2] + tuple(n + r - left for n, (left, r) in zip(xb[2:], pads))
        padding = tuple(left for left, _ in pads)
    elif mode is not None and mode != "valid":
        raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        padding = [0] if mode == "valid" else _parsed(padding, nd)
        _check_weight_rank_and_groups(op, nd, w, groups)
        stride = _expand(op, nd, w, "stride", stride)
        padding = _expand(op, nd, w, "padding", padding)
        dilation = _expand(op, nd, w, "dilation", dilation)
        pads = tuple((p, p) for p in padding)
    _check_shapes(op, nd, xb, w, b, stride, padding, dilation, groups, shown=shown)
    _check_empty_input(nd, xb)
    _check_kernel(nd, w, dilation)
    if xb[1] != 0:         # no input channels: PyTorch's empty result skips these checks
        # (an ungrouped 1x1x1 kernel with no stride or padding needs no column copy in 3-d)
        columns = any(k != 1 for k in w.shape[2:]) or any(s != 1 for s in stride) or \
            any(q != 0 for q in padding) or int(groups) > 1
        _check_dtypes(nd, x, w, b, dilation, transposed=False, columns=columns,
                      one_dnn=lambda: _one_dnn(nd, xb, x.dtype, w.shape, int(groups),
                                               stride, dilation))
    return dict(stride=tuple(stride), padding=pads, dilation=tuple(dilation),
                groups=int(groups), batched=x.ndim == nd + 2)


def conv_transpose_args(op, nd, x, w, b, stride, padding, output_padding, groups, dilation):
    """Check a transposed convolution's arguments (arrays) and normalise them."""
    _check_int_elements(op, groups, stride=stride, padding=padding,
                        output_padding=output_padding, dilation=dilation)
    _check_input_rank(op, nd, x)
    _check_complex_weight(nd, x, w)
    xb = _batched_shape(nd, x)
    _check_weight_rank_and_groups(op, nd, w, groups)
    stride = _expand(op, nd, w, "stride", _parsed(stride, nd))
    padding = _expand(op, nd, w, "padding", _parsed(padding, nd))
    dilation = _expand(op, nd, w, "dilation", _parsed(dilation, nd))
    output_padding = _expand(op, nd, w, "output_padding", _parsed(output_padding, nd))
    _check_shapes(op, nd, xb, w, b, stride, padding, dilation, groups, output_padding)
    _check_empty_input(nd, xb)
    one_dnn = _one_dnn(nd, xb, x.dtype, w.shape, groups, stride, dilation)
    if xb[0] == 0:
        _check_empty_batch_output(xb, w, groups, stride, padding, dilation, output_padding)
    else:
        _check_transposed_kernel(nd, xb, w, stride, padding, dilation, output_padding, one_dnn)
    _check_dtypes(nd, x, w, b, dilation, transposed=True, one_dnn=lambda: one_dnn)
    return dict(stride=stride, padding=padding, output_padding=output_padding,
                dilation=dilation, groups=int(groups), batched=x.ndim == nd + 2)
