"""Softmax and its relatives along dimensions: ``logsumexp`` (log(sum(exp(a))), shifted by
the max so that it cannot overflow), ``softmax`` (exp(a) / sum(exp(a)), each slice summing to
1) and ``log_softmax`` (a - max - log(sum(exp(a - max)))), with PyTorch's legacy choice of
dim when none is given (``implicit_softmax_dim``); and ``_softmax_backward_data``, softmax's
gradient as a function of its own (PyTorch's, which custom autograd Functions call).

Gradients: d lse / d a = softmax(a); softmax's is y * (g - sum(g * y)) and log_softmax's
g - softmax(a) * sum(g), both from the saved output.  float16 is computed in float32, as
PyTorch's kernels do.

Softmax and LogSoftmax work in place on one new array each way (an attention's 32x8x128x128
scores went through seven full-size temporaries forward and backward): the forward's max,
exp, sum and division or log, and, when the backward records no graph, its formula on arrays
(under create_graph it runs as ops of the saved output, differentiable again). Sums along
the last dim, the common one, are ``einsum``'s, a few times faster than numpy's pairwise sum
over short rows. Where an input's range cannot make exp overflow, softmax skips the shift by
the max, whose per-slice passes cost a third of its forward (``_unshifted``).
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend, dtypes
from .._warn_once import warn_user
from ..autograd import Function
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from ._util import FLOAT32_64 as _FLOATS, argument_error, bool_arg, c_order, check_tensor, \
    dim_like, ieee, int_arg, normalize_dim, not_implemented_for
from .elementary_functions import exp
from .elementwise import cast, mul, sub
from .plumbing import conj_of, reshape_to
from ._softmax_rows import log_softmax_grad_rows, log_softmax_grad_slabs, log_softmax_rows, \
    log_softmax_slabs, softmax_grad_rows, softmax_grad_slabs, softmax_rows, softmax_slabs
from .reduce import Sum, _float_input, _reduced_axes, _spread
from ._half_order import HALF_TYPES, half_logsumexp, round_tail_exps


class LogSumExp(Function):
    """log(sum(exp(a))) over ``axes``, shifted by the max so that it cannot overflow.

    Backward: d lse / d a_i = exp(a_i - lse) = softmax(a)_i, from the saved input and output
    (holomorphic for complex a: the gradient is g * conj(softmax(a)_i)).  A complex input
    is shifted by the max of its real parts (only they can overflow exp); the log is the
    principal one.
    """
    _node_name = "LogsumexpBackward0"                       # PyTorch's spelling
    complex_ok = True

    def forward(self, a, *, axes, keepdim, bf16=False):
        xp = backend.xp_of(a)
        m = xp.amax(a.real, axis=axes, keepdims=True, initial=-xp.inf)   # an empty slice: -inf
        m = xp.where(xp.isfinite(m), m, 0)            # all -inf rows stay -inf, not nan
        if bf16 or a.dtype in HALF_TYPES:               # (bfloat16 arrives in float32)
            out = c_order(half_logsumexp(a, axes, m, dtypes.BFLOAT16 if bf16 else a.dtype))
        else:
            out = c_order(xp.log(xp.exp(a - m).sum(axis=axes, keepdims=True)) + m)
        self.kept_shape = out.shape
        if not keepdim:
            out = out.reshape([s for i, s in enumerate(a.shape) if i not in axes])
        self.save_for_backward(a, out)               # the very output: differentiable
        self.axes, self.keepdim = axes, keepdim
        return out

    def backward(self, g):
        a, out = self.saved_tensors
        softmax_a = exp(sub(a, reshape_to(out, self.kept_shape)))
        return mul(_spread(g, a.shape, self.axes, self.keepdim), conj_of(softmax_a))


def _slice_sum(t, dim):
    """Sum along ``dim`` keeping it (size 1); ``dim`` None: a 0-d tensor, summed over nothing."""
    return Sum.apply(t, axes=() if dim is None else (dim,), keepdim=True)


# the longest last dim summed by einsum: it accumulates a float32 row in float32, in a few
# running sums, whose rounding grows with the row (numpy's pairwise sum's does not)
_EINSUM_ROW = 1 << 16
# below this many numbers einsum's set-up costs more than numpy's sum saves (4x8: 1.7 us
# against 1.1; they are even near 512)
_EINSUM_MIN = 256


def _by_einsum(a, dim):
    """Whether the sums along ``dim`` go to einsum: numpy arrays along a last dim that is
    not too long."""
    return (type(a) is np.ndarray and dim is not None and dim == a.ndim - 1 and
            a.shape[-1] <= _EINSUM_ROW)


def _sums(a, dim):
    """Array sums of ``a`` along ``dim``, kept as a size-1 dim (dim None: a 0-d ``a``)."""
    if _by_einsum(a, dim) and a.size > _EINSUM_MIN:
        return np.einsum("...i->...", a)[..., None]
    return a.sum(axis=dim, keepdims=True)


def _dot_sums(a, b, dim):
    """Array sums of ``a * b`` along ``dim``, kept as a size-1 dim, without the product's
    full-size temporary where einsum takes it."""
    if _by_einsum(a, dim):
        return np.einsum("...i,...i->...", a, b)[..., None]
    return (a * b).sum(axis=dim, keepdims=True)


# softmax's inputs within +-this need no shift by their max: exp stays well inside float32's
# normal range (e^64 = 6e27; a slice of up to 5e10 of them sums below its largest number)
_NO_SHIFT = 64.0
# below this many numbers the max's per-slice passes cost less than finding the range
_NO_SHIFT_SIZE = 1 << 14


def _unshifted(a):
    """Whether softmax may skip the max: exp(a) / sum(exp(a)) directly, the shift by the
    max being there only to keep exp from overflowing (or every exp of a slice from
    underflowing). Numpy float32/float64 arrays of at least _NO_SHIFT_SIZE numbers whose
    range is within +-_NO_SHIFT (NaN fails the test): the max along a short last dim is
    slow (a reduction per slice) and so is subtracting it (a broadcast per slice), while the
    whole array's min and max are two fast passes. The values differ from the shifted ones
    by roundings: no worse, exp's argument being exact rather than a rounded difference."""
    if not (type(a) is np.ndarray and a.dtype in _FLOATS and a.size >= _NO_SHIFT_SIZE):
        return False
    return -_NO_SHIFT <= a.min() and a.max() <= _NO_SHIFT


# the least size taken by the row kernels (``_softmax_rows``): below it, a block's set-up
# costs more than its cache saves
_ROWS_MIN = 1 << 14


def _by_rows(a, dim):
    """Whether softmax or log_softmax along ``dim`` goes to the kernels of ``_softmax_rows``:
    a C-ordered numpy float32/float64 array of at least _ROWS_MIN numbers, along its last
    dim or a dim with more than one slab before it (along the first dim numpy's sums of
    whole rows are as fast: 300 x 512 along dim 0, 0.18 ms against 0.19-0.20)."""
    return (type(a) is np.ndarray and a.dtype in _FLOATS and a.size >= _ROWS_MIN and
            dim is not None and a.flags.c_contiguous and
            (dim == a.ndim - 1 or math.prod(a.shape[:dim]) > 1))


def _rows(kernels, dim, *arrays):
    """The arrays seen as rows (M, D) along a last ``dim`` (``kernels[0]``), else as slabs
    (outer, D, inner) (``kernels[1]``); the result in their shape."""
    shape = arrays[0].shape
    inner = math.prod(shape[dim + 1:])
    if inner == 1:
        return kernels[0](*(t.reshape(-1, shape[dim]) for t in arrays)).reshape(shape)
    view = (math.prod(shape[:dim]), shape[dim], inner)
    return kernels[1](*(t.reshape(view) for t in arrays)).reshape(shape)


_SOFTMAX = (softmax_rows, softmax_slabs)
_LOG_SOFTMAX = (log_softmax_rows, log_softmax_slabs)
_SOFTMAX_GRAD = (softmax_grad_rows, softmax_grad_slabs)
_LOG_SOFTMAX_GRAD = (log_softmax_grad_rows, log_softmax_grad_slabs)


def _arrays_backward(g, y):
    """Whether a backward may run on arrays: no graph being recorded, numpy float32/float64
    gradient and saved output of one dtype, of at least one dim (numpy's arithmetic on 0-d
    arrays gives scalars)."""
    ga, ya = g._array, y._array
    return (not is_grad_enabled() and type(ga) is np.ndarray and type(ya) is np.ndarray and
            ga.dtype in _FLOATS and ga.dtype == ya.dtype and ga.ndim)


def _half_backward(g, y):
    """The dtype of a float16 / bfloat16 backward, which PyTorch's kernels compute in float32
    from the output in that dtype, rounding once; else None. (A bfloat16 forward ran in
    float32, whose output was saved unrounded.)"""
    return g.dtype if g.dtype in (dtypes.float16, dtypes.bfloat16) else None


def _widened_pair(g, y, half):
    """g and the saved output y in float32, y first rounded to ``half`` (as PyTorch's)."""
    return cast(g, dtypes.float32), cast(cast(y, half), dtypes.float32)


def _widened_half(a):
    """``a`` in float32 when it is float16 (PyTorch's softmax kernels accumulate float16 in
    float32), else ``a`` itself."""
    return a.astype("float32") if a.dtype.type is np.float16 else a


def _half_rounded(a, half):
    """``a`` rounded to the 16-bit dtype ``half`` and back (a value PyTorch's float16 and
    bfloat16 softmax kernels keep in it between their float32 steps); None: ``a`` itself."""
    return a if half is None else dtypes.astype(dtypes.astype(a, half), a.dtype)


class Softmax(Function):
    """y = exp(a - max) / sum(exp(a - max)) along ``dim`` (None for a 0-d input).

    Backward: dL/da = y * (g - sum(g * y)), from the output y (differentiable)."""
    saved_names = ("result",)
    saved_fields = {"dim": "dim"}

    def forward(self, a, *, dim, bf16=False):
        xp = backend.xp_of(a)
        if a.size == 0:
            out = a.copy()                        # nothing to normalise (amax would raise)
        elif _by_rows(a, dim) and not bf16:         # (bfloat16 rounds on the way below)
            out = _rows(_SOFTMAX, dim, a)
        elif _unshifted(a):
            out = np.exp(a)                       # no exp can overflow: no max to subtract
            out /= _sums(out, dim)
        else:
            work = _widened_half(a)
            # a new array (0-d too: numpy's scalar result made one), the rest in place
            # (the array's own max: numpy's amax is a Python wrapper around it, twice its cost
            # on a small array)
            out = xp.asarray(work - work.max(axis=dim, keepdims=True))
            xp.exp(out, out=out)
            total = _sums(out, dim)
            if dim is not None and dim != a.ndim - 1:
                # PyTorch's 16-bit kernel along another dim than the last keeps the exps of
                # its leftover positions in the 16-bit dtype (``round_tail_exps``; their
                # sum in float32); bfloat16 is given in float32
                half = "float16" if work is not a else (dtypes.BFLOAT16 if bf16 else None)
                if half is not None:
                    round_tail_exps(out, dim, half)
            out /= total
            out = out.astype(a.dtype, copy=False)
        out = c_order(out)
        self.save_for_backward(out)
        self.dim = dim
        return out

    def backward(self, g):
        y, = self.saved_tensors
        if _arrays_backward(g, y):
            return Tensor._wrap(self._backward_arrays(g._array, y._array))
        half = _half_backward(g, y)
        if half is not None:            # accumulated in float32, rounded once (PyTorch's)
            g, y = _widened_pair(g, y, half)
        dx = mul(y, sub(g, _slice_sum(mul(g, y), self.dim)))
        return dx if half is None else cast(dx, half)

    @ieee
    def _backward_arrays(self, g, y):
        if _by_rows(g, self.dim) and y.flags.c_contiguous:
            return _rows(_SOFTMAX_GRAD, self.dim, g, y)
        # g - sum(g y), then * y, made row-major as PyTorch's (whatever g's layout)
        dx = np.subtract(g, _dot_sums(g, y, self.dim), out=np.empty(g.shape, g.dtype))
        dx *= y
        return dx


class LogSoftmax(Function):
    """y = a - max - log(sum(exp(a - max))) along ``dim`` (None for a 0-d input).

    Backward: dL/da = g - softmax(a) * sum(g), with softmax(a) = exp(y) from the output."""
    saved_names = ("result",)
    saved_fields = {"dim": "dim"}

    def forward(self, a, *, dim, bf16=False):
        xp = backend.xp_of(a)
        if a.size == 0:
            out = a.copy()
        elif _by_rows(a, dim) and not bf16:         # (bfloat16 rounds on the way below)
            out = _rows(_LOG_SOFTMAX, dim, a)
        elif _unshifted(a):
            # no exp can overflow: a - log(sum(exp(a))), no max, two new arrays fewer (32x128
            # x512 float32: 1.7 ms instead of 2.9). PyTorch's kernel subtracts max + log(sum)
            # from a in one step, rounded alike
            out = np.exp(a)
            total = _sums(out, dim)
            np.log(total, out=total)
            np.subtract(a, total, out=out)
        else:
            work = _widened_half(a)
            out = work - work.max(axis=dim, keepdims=True)
            # as PyTorch's float16 kernel along the last dim: the sum and its log are rounded
            # to float16 on the way (along another dim, everything stays in float32)
            # (bfloat16 alike, whose forward is given in float32: ``bf16`` says so)
            last = None
            if dim is None or dim == a.ndim - 1:
                last = "float16" if work is not a else (dtypes.BFLOAT16 if bf16 else None)
            total = _half_rounded(_sums(xp.exp(out), dim), last)
            out -= _half_rounded(xp.log(total), last)                 # in place: out is ours
            out = out.astype(a.dtype, copy=False)
        out = c_order(out)
        self.save_for_backward(out)
        self.dim = dim
        return out

    def backward(self, g):
        y, = self.saved_tensors
        if _arrays_backward(g, y):
            return Tensor._wrap(self._backward_arrays(g._array, y._array))
        half = _half_backward(g, y)
        if half is not None:            # accumulated in float32, rounded once (PyTorch's)
            g, y = _widened_pair(g, y, half)
        dx = sub(g, mul(exp(y), _slice_sum(g, self.dim)))
        return dx if half is None else cast(dx, half)

    @ieee
    def _backward_arrays(self, g, y):
        if _by_rows(g, self.dim) and y.flags.c_contiguous:
            return _rows(_LOG_SOFTMAX_GRAD, self.dim, g, y)
        dx = np.exp(y)                                     # softmax(a), then * sum(g)
        dx *= _sums(g, self.dim)
        return np.subtract(g, dx, out=dx)


def _as_float(a):
    """``a`` itself when floating point or complex, else cast to the default float dtype (as
    PyTorch)."""
    if a._array.dtype.kind not in "fcV":
        a = cast(a, dtypes.default_float())
    return a


_NO_DIM = object()


def logsumexp(a, dim=_NO_DIM, keepdim=False):
    """log(sum(exp(a))) along ``dim``, computed without overflow (shift by the max)."""
    if dim is _NO_DIM:              # (PyTorch's parser's words, not Python's)
        raise TypeError('logsumexp() missing 1 required positional arguments: "dim"')
    a = _as_float(check_tensor("logsumexp", a))
    if dim is None:
        raise argument_error("logsumexp", "dim", "tuple of ints", dim, 2)
    keepdim = bool_arg("logsumexp", "keepdim", keepdim)
    axes = _reduced_axes(a, dim)
    if isinstance(dim, (tuple, list)) and not dim and a._array.size and a.ndim and not keepdim:
        # PyTorch reduces everything for dim=(), then fails to add back the kept max
        raise RuntimeError(f"output with shape [] doesn't match the broadcast shape "
                           f"{[1] * a.ndim}")
    return LogSumExp.apply(a, axes=axes, keepdim=keepdim, bf16=a.dtype is dtypes.bfloat16)


def _softmax_dim(ndim):
    """PyTorch's legacy choice when ``dim`` is not given (with a warning there)."""
    return 0 if ndim in (0, 1, 3) else 1


def softmax(a, dim, dtype=None):
    """exp(a) / sum(exp(a)) along ``dim``; each slice along ``dim`` sums to 1."""
    return _softmax_apply(Softmax, a, dim, dtype)


def log_softmax(a, dim, dtype=None):
    """log(softmax(a)) along ``dim``, computed stably as a - max - log(sum(exp(a - max)))."""
    return _softmax_apply(LogSoftmax, a, dim, dtype)


def implicit_softmax_dim(name, ndim, stacklevel):
    """The dim a softmax-like function called without one takes (PyTorch's legacy choice),
    with PyTorch's deprecation warning, at the user's line (``stacklevel``, the functions'
    ``_stacklevel``, is not needed for that and goes unused)."""
    warn_user(f"Implicit dimension choice for {name} has been deprecated. Pass dim= "
              f"explicitly (dim={_softmax_dim(ndim)} was chosen for a {ndim}-d input).",
              UserWarning)
    return _softmax_dim(ndim)


def check_functional_dim(name, dim):
    """nn.functional's softmax/log_softmax/softmin: a dim that is not an integer (a float, a
    bool, a str, a list) is refused in the words of PyTorch's argument parser."""
    if not dim_like(dim) or isinstance(dim, Tensor) and dim._array.dtype.kind == "b":
        raise argument_error(name, "dim", "int", dim, 1)


def _softmax_apply(function, a, dim, dtype):
    """Softmax or LogSoftmax along ``dim``: the dtype, default dim and dim checks they share."""
    if dim is None:         # only nn.functional's softmax picks a dim for a missing one
        raise argument_error("softmax" if function is Softmax else "log_softmax", "dim", "int",
                             dim, 2)
    if dtype is not None and isinstance(a, Tensor) and \
            dtypes.to_dtype(dtype).np.kind not in "fcV":
        a = a.detach()          # (PyTorch: an integer dtype= casts without a gradient, then
                                # checks the dim before its kernel refuses the dtype)
    a = _float_input(a, dtype, function.__name__.lower())
    dim = normalize_dim(dim, a.ndim)       # a 0-d tensor accepts dim 0 or -1 only, as PyTorch
    if a._array.dtype.kind not in "fV":
        kernel = "softmax" if function is Softmax else "log_softmax"
        if a._array.size == 0:             # PyTorch returns an empty input before its kernel
            if a._array.dtype.kind == "c" and a.requires_grad and is_grad_enabled():
                raise RuntimeError(f"_{kernel} does not support automatic differentiation for "
                                   f"outputs with complex dtype.")
            return Tensor._wrap(a._array.copy())
        raise not_implemented_for(f"{kernel}_lastdim_kernel_impl" if dim == a.ndim - 1 or
                                  a.ndim == 0 else f"{kernel}_kernel_impl", a._array.dtype)
    if a._array.dtype.kind == "V" and a.dtype == dtypes.bfloat16:    # ("V": no DType made
        return function.apply(a, dim=dim if a.ndim else None, bf16=True)     # otherwise)
    return function.apply(a, dim=dim if a.ndim else None)


def _softmax_backward_kernel(grad_output, dim):
    """The kernel name PyTorch's refusal of a non-float softmax backward gives."""
    last = dim == grad_output.ndim - 1 or grad_output.ndim == 0
    return "softmax_backward_lastdim_kernel_impl" if last else "softmax_backward_kernel_impl"


def _softmax_backward_data(grad_output, output, dim, input_dtype):
    """The gradient of ``softmax`` along ``dim`` given its output y and the upstream gradient g
    (both of one shape and dtype): y * (g - sum(g * y, dim)), in g's dtype (``input_dtype``,
    the dtype softmax was given, only matters on a GPU; on the CPU a float32 g with a
    float16 ``input_dtype`` is refused, as there). Differentiable in both g and y, as written
    with minigrad ops."""
    name = "_softmax_backward_data"
    grad_output = check_tensor(name, grad_output, "grad_output", 1)
    output = check_tensor(name, output, "output", 2)
    dim = int_arg(name, "dim", dim, 3)
    input_dtype = dtypes.dtype_argument(input_dtype, name, "input_dtype", 4)
    if tuple(grad_output.shape) != tuple(output.shape):
        raise RuntimeError(
            f"Expected tensor for argument #1 'grad' to have same size as tensor for argument "
            f"#2 'output'; but {list(grad_output.shape)} does not equal {list(output.shape)} "
            f"(while checking arguments for softmax_backward)")
    dim = normalize_dim(dim, grad_output.ndim)
    g_type, y_type = grad_output._array.dtype, output._array.dtype
    # PyTorch's CPU kernel reads y, and writes the result, in g's dtype; its result is
    # float16 for a float32 g with a float16 input_dtype, which that kernel then refuses
    result_type = (np.dtype("float16") if g_type == np.float32 and
                   input_dtype is dtypes.float16 else g_type)
    for other in (y_type, result_type):
        if other != g_type:
            raise RuntimeError(f"expected scalar type {dtypes.scalar_type_name(g_type)} but "
                               f"found {dtypes.scalar_type_name(other)}")
    if g_type.kind not in "fV" and grad_output._array.size:
        raise not_implemented_for(_softmax_backward_kernel(grad_output, dim), g_type)
    if grad_output._array.size == 0:
        return mul(grad_output, output)       # nothing to sum: the empty result, in g's dtype
    g, y = grad_output, output
    if grad_output.dtype in (dtypes.float16, dtypes.bfloat16):    # accumulated in float32
        g, y = cast(g, dtypes.float32), cast(y, dtypes.float32)
    grad_input = mul(y, sub(g, _slice_sum(mul(g, y), dim if grad_output.ndim else None)))
    return cast(grad_input, grad_output.dtype) if grad_input.dtype != grad_output.dtype \
        else grad_input
