"""Batch normalization as one fused op: ``batch_norm`` (forward beside backward).

For an input x of shape (N, C, *S) (S: zero or more spatial sizes), every channel c is
normalized over the M = N * prod(S) values it has in the batch:

    training:  mu_c = mean(x[:, c]),  var_c = mean((x[:, c] - mu_c)^2)      (biased)
    eval:      mu_c = running_mean_c, var_c = running_var_c
    x_hat = (x - mu) / sqrt(var + eps),      y = weight * x_hat + bias

In training the running statistics (when given) are updated in place:
    running_mean = (1 - momentum) running_mean + momentum mu
    running_var  = (1 - momentum) running_var  + momentum var * M / (M - 1)   (unbiased)

One Function instead of a chain of elementwise ops: the forward is numpy, and the backward is
the closed form, written with minigrad's own ops so that it can be differentiated again
(``create_graph=True``: Hessian-vector products, gradient penalties).
"""
from __future__ import annotations

import sys

import numpy as np

from .. import _memory_format as mf, backend
from ..dtypes import reduced_float
from ..autograd import Function
from ..autograd._node_names import rename_node
from ..autograd.engine import frees_saved_values
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from . import _batch_norm_16bit as _bn16, _batch_norm_kernels as _kernels
from ._util import (bool_arg, float_arg, ieee, not_implemented_for, python_type_name,
                    scalar_type_name)
from .elementary_functions import rsqrt
from .elementwise import add, mul, sub
from .movement_copies import clone, contiguous
from .plumbing import cast_to, reshape_to
from .reduce import mean as reduce_mean, sum as reduce_sum

__all__ = ["BatchNorm", "batch_norm", "norm_grads"]

# Set by minigrad._vmap (which imports this module): under vmap, refuses running statistics
# that are not batched, as torch's batching rule for batch_norm does
vmap_running_stats_check = None


def update_running(stat, batch, momentum):
    """stat = (1 - momentum) stat + momentum batch, in place; stat, batch: (C,).

    A running statistic may be an expanded view (stride 0: all its channels in one element),
    which numpy keeps read-only. PyTorch's kernel writes through it anyway, one channel after
    another (the element ends up with every channel's update applied in turn); minigrad does
    the same, in channel order, through a writable view of the same memory."""
    if stat.flags.writeable and stat.dtype.kind in "fV" and batch.dtype.kind in "fV" and \
            batch.dtype.itemsize > stat.dtype.itemsize:
        # float16 statistics of a float16 input normalised in float32: blended in float32 and
        # rounded once, since the batch's variance may pass float16's range (65504) where
        # the running one does not
        stat[...] = (1 - momentum) * stat.astype(batch.dtype) + momentum * batch
        return
    batch = batch.astype(stat.dtype, copy=False)
    if stat.flags.writeable:
        if stat.dtype.kind in "fV":
            stat *= 1 - momentum
            stat += momentum * batch
        else:                     # an integer statistic (instance_norm takes any): truncated
            stat[...] = (1 - momentum) * stat + momentum * batch
        return
    root = stat
    while isinstance(root, np.ndarray) and not (root.flags.writeable and root.flags.c_contiguous):
        root = root.base          # up to the array that owns the memory (writable, contiguous)
    if not isinstance(root, np.ndarray):
        raise RuntimeError("batch_norm: the running statistics cannot be updated in place: "
                           "their memory is read-only")
    offset = stat.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    alias = np.ndarray(stat.shape, stat.dtype, buffer=root, offset=offset, strides=stat.strides)
    for c in range(stat.shape[0]):
        alias[c] = (1 - momentum) * alias[c] + momentum * batch[c]


def _inplace_or_new(y, b, op):
    """y * b or y + b, into y's memory when the result keeps y's dtype (y is a fresh array)."""
    xp = backend.xp_of(y)
    if xp.result_type(y, b) == y.dtype:
        return xp.multiply(y, b, out=y) if op == "mul" else xp.add(y, b, out=y)
    return y * b if op == "mul" else y + b


class BatchNorm(Function):
    """y = weight * (x - mu) / sqrt(var + eps) + bias, per channel (axis 1).

    Shapes: x (N, C, *S); weight, bias (C,) (or another shape of C elements); y like x.
    """
    _node_name = "NativeBatchNormBackward0"                 # PyTorch's node for batch_norm

    def forward(self, x, *affine, running_mean, running_var, has_weight, has_bias, training,
                momentum, eps):
        xp = backend.xp_of(x)
        # x: (N, C, *S); statistics reduce over every axis but the channel axis.
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)       # (1, C, 1, ...) for broadcasting
        weight = affine[0] if has_weight else None           # (C,)
        bias = affine[-1] if has_bias else None              # (C,)
        rows = None if _kernels.usable(x, weight, bias) else \
            _kernels.channels_last_rows(x, weight, bias)
        if rows is not None:
            # channels-last (N, *S, C) as (N prod(S), C) rows, a channel per column: the
            # row kernels, the result laid out so, as PyTorch's channels-last kernel writes
            # it (16x64x32x32 float32, one thread: forward 3.2 -> 1.5 ms, with the backward
            # 9.3 -> 3.0, where the reductions over the axes walked the layout across)
            w = None if weight is None else weight.reshape(-1)
            b = None if bias is None else bias.reshape(-1)
            if training:
                y, mean, var, invstd = _kernels.rows_forward(rows, w, b, eps)
                self._update_running(running_mean, running_var, mean, var, rows.shape[0],
                                     momentum)
            else:
                mean = running_mean.astype(x.dtype, copy=False)
                invstd = (1.0 / xp.sqrt(running_var + eps)).astype(x.dtype, copy=False)
                y = _kernels.rows_eval(rows, mean, invstd, w, b)
            y = _kernels.from_rows(y, x)
        elif _kernels.usable(x, weight, bias):
            # the fast path: contiguous float32/float64, few passes, on all cores
            w = None if weight is None else weight.reshape(-1)
            b = None if bias is None else bias.reshape(-1)
            if training:
                y, mean, var, invstd = _kernels.forward_train(x, w, b, eps)
                m = x.size // x.shape[1]
                self._update_running(running_mean, running_var, mean, var, m, momentum)
            else:
                mean = running_mean.astype(x.dtype, copy=False)
                invstd = (1.0 / xp.sqrt(running_var + eps)).astype(x.dtype, copy=False)
                y = _kernels.forward_eval(x, mean, invstd, w, b)
        else:
            if training:
                m = x.size // x.shape[1]                     # M = N * prod(S)
                mean = x.mean(axis=axes)                     # (C,)
                centered = x - mean.reshape(shape)           # (N, C, *S)
                var = (centered * centered).mean(axis=axes)  # (C,), biased
                self._update_running(running_mean, running_var, mean, var, m, momentum)
            else:
                mean = running_mean.astype(x.dtype, copy=False)
                var = running_var.astype(x.dtype, copy=False)
                centered = x - mean.reshape(shape)
            invstd = (1.0 / xp.sqrt(var + eps)).astype(x.dtype, copy=False)   # (C,)
            y = centered
            y *= invstd.reshape(shape)                       # x_hat, in place: centered is ours
            if weight is not None:                           # in place unless it would promote
                y = _inplace_or_new(y, weight.reshape(shape), "mul")
            if bias is not None:
                y = _inplace_or_new(y, bias.reshape(shape), "add")
        # Backward keeps x itself (the one full-size array kept; a second derivative flows
        # into it) and the (C,) statistics used here, copied: in eval they would otherwise be
        # views of the running statistics, which a later training call updates in place.
        self.save_for_backward(x, weight)
        self.mean = mean.astype(x.dtype).reshape(shape)
        self.invstd = invstd.reshape(shape)
        self.axes, self.shape, self.training, self.has_bias, self.eps = (
            axes, shape, training, has_bias, eps)
        self.bias_shape = bias.shape if bias is not None else None   # (C,), or C elements
        return y.astype(x.dtype, copy=False)        # float16 x, float32 affine: float16, as PyTorch

    @staticmethod
    def _update_running(running_mean, running_var, mean, var, m, momentum):
        if running_mean is not None:
            update_running(running_mean, mean, momentum)
        if running_var is not None:
            # the unbiased variance scaled in float64 and rounded once, as PyTorch's CPU
            # kernel scales it in double: an 11.666667 * 6/5 variance is 14, not 14.000001
            wide = var.dtype.kind == "f" and var.dtype.itemsize >= 4
            unbiased = (var.astype("float64") * (m / max(m - 1, 1))).astype(var.dtype) \
                if wide else var * (m / max(m - 1, 1))
            update_running(running_var, unbiased, momentum)

    @ieee        # (an inf or NaN input: PyTorch's NaN gradients, no numpy warning)
    def backward(self, g):
        """g (N, C, *S) -> (dx, dweight, dbias).

        With x_hat = (x - mu) invstd and sums over the M values of each channel, gb = sum g and
        S = sum g (x - mu) (so that dweight = invstd S, dbias = gb):
            training:  dx = invstd weight (g - gb / M - (x - mu) invstd^2 S / M)
            eval:      dx = invstd weight g                  (running stats are constants)
        """
        x, weight = self.saved_tensors
        axes, shape = self.axes, self.shape
        want_x, want_w = self.needs_input_grad[0], weight is not None and self.needs_input_grad[1]
        want_b = self.has_bias and self.needs_input_grad[-1]
        w_arr = None if weight is None else weight._array
        if self.training and not is_grad_enabled() and \
                _kernels.channels_last_rows(x._array, g._array, w_arr) is not None:
            return self._backward_rows(x._array, g._array, weight, want_x, want_w, want_b)
        if self.training and not is_grad_enabled() and _kernels.usable(
                x._array, g._array, w_arr):
            # x freed right after this (no retain_graph), kept plainly (no saved-tensor
            # hooks) and held by nobody else -- no tensor but the saved one (its entry, the
            # name x, getrefcount's argument), no view of its array, which owns its memory:
            # dx is written over it, and the backward makes no full-size array of its own
            # (in a ResNet-like step every batch norm's input is such a convolution output)
            arr = x._array
            overwrite = (want_x and frees_saved_values() and
                         getattr(self, "_packed", False) is True and type(arr) is np.ndarray
                         and arr.flags.owndata and arr.flags.writeable and
                         sys.getrefcount(x) <= 3 and sys.getrefcount(arr) <= 3)
            del arr
            return self._backward_fast(x._array, g._array, weight, want_x, want_w, want_b,
                                       overwrite)
        if self.training and is_grad_enabled() and want_x:
            # create_graph: mu and invstd as ops of x, so that the derivative of this backward
            # sees how they move with x (the cached arrays would be constants: a silently
            # wrong second derivative). Under a plain backward() the cached ones are exact.
            mu = reduce_mean(x, axes, keepdim=True)
            centered = sub(x, mu)
            invstd = rsqrt(add(reduce_mean(mul(centered, centered), axes, keepdim=True),
                               self.eps))
        else:
            centered = None               # made below only if needed (not for eval's dx)
            invstd = Tensor._wrap(self.invstd)
        # Per-channel sums, kept as (1, C, 1, ...) for broadcasting.
        gb = s = None
        if want_b or (want_x and self.training):
            gb = reduce_sum(g, axes, keepdim=True)
        if want_w or (want_x and self.training):
            if centered is None:
                centered = sub(x, Tensor._wrap(self.mean))
            s = reduce_sum(mul(g, centered), axes, keepdim=True)
        gw = mul(invstd, s) if s is not None else None        # dweight, as (1, C, 1, ...)
        gx = None
        if want_x:
            a = invstd if weight is None else mul(invstd, reshape_to(weight, shape))
            gx = mul(g, a)                                            # invstd weight g
            if self.training:
                # minus (x - mu) * k + c, with the per-channel k = a invstd^2 S / M and
                # c = a gb / M: three passes over the full-size arrays
                u = mul(a, 1.0 / (x._array.size // x._array.shape[1]))     # a / M
                gx = sub(gx, add(mul(centered, mul(mul(u, invstd), gw)), mul(u, gb)))
            elif not gx.requires_grad and is_grad_enabled():
                # create_graph in eval: as PyTorch's double-backward node, dx is recorded as
                # a function of x (whose own derivative there is none, not zeros)
                gx = rename_node(_EvalInputGrad.apply(gx, x),
                                 "NativeBatchNormBackwardBackward0")
        return self._grads(weight, gx, gw if want_w else None, gb if want_b else None)

    def _backward_rows(self, x, g, weight, want_x, want_w, want_b):
        """The closed form on the (N prod(S), C) rows of a channels-last x
        (``_kernels.rows_backward``); g in another layout is first copied into x's."""
        xp = backend.xp_of(g)
        g_rows = _kernels.channels_last_rows(g)
        if g_rows is None:
            g_rows = xp.ascontiguousarray(
                g.transpose((0,) + tuple(range(2, g.ndim)) + (1,))).reshape(-1, g.shape[1])
        gx, gw, gb = _kernels.rows_backward(
            _kernels.channels_last_rows(x), g_rows, self.mean.reshape(-1),
            self.invstd.reshape(-1), None if weight is None else weight._array.reshape(-1),
            want_x, want_w, want_b)
        return self._grads(weight, None if gx is None else _kernels.from_rows(gx, x), gw, gb)

    def _grads(self, weight, gx, gw, gb):
        """The gradients as the backward's tuple (``norm_grads``)."""
        return norm_grads(weight, self.has_bias, self.bias_shape, gx, gw, gb)

    def _backward_fast(self, x, g, weight, want_x, want_w, want_b, overwrite=False):
        """The same closed form on arrays (``_batch_norm_kernels``), for a backward that
        records no graph: four passes over the full-size arrays for dx, not about ten; dx
        written over x where ``overwrite``."""
        w = None if weight is None else weight._array.reshape(-1)
        gx, gw, gb = _kernels.backward_train(
            x, backend.xp_of(g).ascontiguousarray(g), self.mean.reshape(-1),
            self.invstd.reshape(-1), w, want_x, want_w, want_b, overwrite)
        return self._grads(weight, gx, gw, gb)


class _EvalInputGrad(Function):
    """The eval-mode input gradient ``gx`` (invstd g, which x does not enter) recorded under
    create_graph as a node of x, as PyTorch's: it requires grad, and x's derivative through it
    is None."""

    def forward(self, gx, x):
        return gx

    def backward(self, g):
        return None, None


def norm_grads(weight, has_bias, bias_shape, gx, gw, gb):
    """A normalisation's backward tuple: dx, then dweight where a weight was given, then
    dbias where a bias was (None for a gradient not wanted). Arrays are wrapped as tensors;
    dweight and dbias, arrays or tensors, take their parameters' shapes (weight's, and
    ``bias_shape``: a batch_norm parameter may hold its C elements in another shape)."""
    grads = (gx if gx is None or isinstance(gx, Tensor) else Tensor._wrap(gx),)
    if weight is not None:
        grads += (_shaped(gw, weight._array.shape),)
    if has_bias:
        grads += (_shaped(gb, bias_shape),)
    return grads


def _shaped(grad, shape):
    """An array or tensor gradient as a tensor of ``shape`` (None stays None)."""
    if grad is None:
        return None
    if isinstance(grad, Tensor):
        return reshape_to(grad, shape)
    return Tensor._wrap(grad.reshape(shape))


def _check_dtypes(input, *params):
    """PyTorch's CPU kernel: a floating input, and parameters of its dtype (a float16 or
    bfloat16 input may take float32 ones, all of them: a BatchNorm layer under CPU autocast).
    The first parameter given decides which words a mismatch gets: of the input's dtype,
    every other must be too; of another, the mix is refused unless all are float32 (then
    unless the input is float16 or bfloat16)."""
    dtype = input._array.dtype
    if dtype.kind not in "fV":
        raise not_implemented_for("batch_norm", dtype)
    kinds = [t._array.dtype for t in params if t is not None]
    if not kinds or all(k == dtype for k in kinds):
        return
    if kinds[0] == dtype:
        found = next(k for k in kinds if k != dtype)
        raise RuntimeError(f"expected scalar type {scalar_type_name(dtype)} but found "
                           f"{scalar_type_name(found)}")
    if any(k.name != "float32" for k in kinds):
        raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
    if not reduced_float(dtype):
        raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")


def check_values_per_channel(sizes, shown):
    """PyTorch's refusal of a normalisation over one value per channel: ``sizes`` (N, C,
    *spatial) as the function sees them (every dim but C counted), ``shown`` as its message
    prints them."""
    per_channel = sizes[0]
    for n in sizes[2:]:
        per_channel *= n
    if per_channel == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {shown}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-05):
    """Batch normalization, as ``torch.nn.functional.batch_norm``.

    input (N, C, *S); running_mean, running_var, weight, bias: (C,) or None.
    ``training=True`` normalizes with the batch's statistics and updates the running ones in
    place (when given); ``training=False`` uses the running statistics.
    """
    shape = tuple(input.shape)
    if training:                # the batch's size first, then eps, as PyTorch
        if not shape:
            raise IndexError("tuple index out of range")       # PyTorch reads size[0]
        check_values_per_channel(shape, input.shape)
    if training and eps <= 0.0:
        raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    if eps < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    # then PyTorch's parser reads batch_norm(input, weight, bias, running_mean, running_var,
    # training, momentum, eps): the layers' cumulative average (momentum=None) is theirs only
    for position, arg, value in ((2, "weight", weight), (3, "bias", bias),
                                 (4, "running_mean", running_mean),
                                 (5, "running_var", running_var)):
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(f"batch_norm(): argument '{arg}' (position {position}) must be "
                            f"Tensor, not {python_type_name(value)}")
    training = bool_arg("batch_norm", "training", training, 6)
    momentum = float_arg("batch_norm", "momentum", momentum, 7)
    eps = float_arg("batch_norm", "eps", eps, 8)
    if input.numel() == 0:
        # as PyTorch: a copy (in the graph), scaled and shifted by the first weight and bias;
        # no statistic is read, so none is checked
        out = clone(input)
        for t in (weight, bias):
            if t is not None and t.ndim == 1 and t.shape[0] == 0:     # (no channels)
                raise IndexError("select(): index 0 out of range for tensor of size [0] at "
                                 "dimension 0")
        if weight is not None:
            out = mul(out, weight[0])
        if bias is not None:
            out = add(out, bias[0])
        return out
    c = shape[1] if len(shape) > 1 else 0      # PyTorch counts no channels below 2 dims
    # As PyTorch, one after the other: each must hold C elements (dim 1 of the input); weight
    # and bias of another shape with C elements are accepted, the running statistics must be
    # 1-D and given in evaluation mode.
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is None:
            if not training and name.startswith("running"):
                raise RuntimeError(f"{name} must be defined in evaluation mode")
            continue
        if t.numel() != c:
            raise RuntimeError(f"{name} should contain {c} elements not {t.numel()}")
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and t.dim() != 1:
            raise RuntimeError(f"{name}: expected 1 dims but tensor has {t.dim()} (shape "
                               f"{list(t.shape)}; it needs one value per channel, shape [{c}])")
    if training:
        if (running_mean is None) != (running_var is None):
            raise ValueError("running_mean and running_var must either both be None or neither "
                             "be None")
        if vmap_running_stats_check is not None:
            vmap_running_stats_check(running_mean, running_var)
    if len(shape) == 1:
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got 1)")
    if not shape:
        raise RuntimeError("batch_norm: a 0-d input has no channel dimension (N, C, ...)")
    _check_dtypes(input, weight, bias, running_mean, running_var)
    layout = input
    if _bn16.fits(input, weight, bias, running_mean, running_var) and \
            (training or running_mean is not None and running_var is not None):
        # float16 / bfloat16, row-major: rounded as PyTorch's kernel rounds (_batch_norm_16bit)
        out = _bn16.BatchNorm16.apply(
            input, *[t for t in (weight, bias) if t is not None],
            running_mean=None if running_mean is None else running_mean._array,
            running_var=None if running_var is None else running_var._array,
            has_weight=weight is not None, has_bias=bias is not None, training=bool(training),
            momentum=float(momentum), eps=float(eps), update=BatchNorm._update_running,
            half=input._array.dtype)
        if training:
            for t in (running_mean, running_var):
                if t is not None:
                    t._vcounter.value += 1
        return out
    half = input._array.dtype if reduced_float(input._array.dtype) else None
    if half is not None:
        # as PyTorch: float16 is normalised in float32 (its squares overflow from |x| = 256)
        # and the result rounded once; the running statistics keep their own dtype
        input, weight, bias = (None if t is None else cast_to(t, np.dtype("float32"))
                               for t in (input, weight, bias))
    affine = tuple(t for t in (weight, bias) if t is not None)
    out = BatchNorm.apply(
        input, *affine,
        running_mean=None if running_mean is None else running_mean._array,
        running_var=None if running_var is None else running_var._array,
        has_weight=weight is not None, has_bias=bias is not None, training=bool(training),
        momentum=0.0 if momentum is None else float(momentum), eps=float(eps))
    if training:
        for t in (running_mean, running_var):
            if t is not None:
                t._vcounter.value += 1
    out = cast_to(out, half) if half is not None else out
    # PyTorch's kernels write row-major results, channels-last ones for such inputs, whatever
    # other layout the input has (a transposed or permuted one)
    return contiguous(out, memory_format=mf.suggest(layout._array))
