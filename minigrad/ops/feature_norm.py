"""Normalisation over features rather than over the batch: ``layer_norm``, ``group_norm``,
``instance_norm`` (batch_norm lives in ``normalization``).

All three are the same composition of differentiable ops, over different axes:

    y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias        (biased variance, / N)

    layer_norm      the last len(normalized_shape) dims of each sample
    group_norm      (N, C, *) seen as (N, G, C/G * prod(*)): each group of channels
    instance_norm   each (sample, channel) plane (= group_norm with G = C, plus optional
                    running statistics)

Being composed of ``mean``, ``sub``, ``mul`` and ``rsqrt``-style ops, the first and second
derivatives are theirs: nothing here to get wrong by hand. layer_norm and group_norm on numpy
float32/float64 (a Transformer's every block, a diffusion U-Net's) run as one node each
instead, ``NativeLayerNorm`` and ``NativeGroupNorm``: their forward a few passes over the
rows, their backward the closed form, written as the same ops under create_graph; so does
instance_norm with the input's statistics (``NativeGroupNorm`` with a group per channel).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _memory_format as mf
from .._memory_format import suggested_layout
from ..autograd import Function
from ..autograd._node_names import rename_node
from ..autograd.grad_mode import is_grad_enabled
from ..dtypes import reduced_float
from ..tensor import Tensor
from ._batch_norm_kernels import channels_last_rows
from ._norm_rows import (group_norm_channels_last, group_norm_grad_channels_last,
                         group_norm_grad_rows, group_norm_rows, layer_norm_grad_rows,
                         layer_norm_rows)
from ._int_list_args import int_list_argument
from ._instance_norm_parts import InstanceNorm16, instance_norm_of_nothing
from ._norm_16bit import GroupNorm16, LayerNorm16
from ._util import (FLOAT32_64 as _FLOATS, bool_arg, float_arg, ieee, not_implemented_for,
                    python_type_name, scalar_type_name)
from .elementary_functions import rsqrt, sqrt
from .elementwise import add, cast, mul, sub
from .division import div
from .movement_copies import contiguous, keep_channels_last
from .normalization import check_values_per_channel, norm_grads, update_running
from .plumbing import reshape_to
from .reduce import mean, sum as reduce_sum

__all__ = ["layer_norm", "group_norm", "instance_norm"]


def _check_dtypes(kernel, input, *params):
    """PyTorch's CPU kernels: a floating input with parameters of its dtype, or a float16 or
    bfloat16 input with float32 parameters. Such an input is computed in float32, the result
    rounded once to its dtype.
    Returns the dtype to compute in, or None for the input's own."""
    dtype = input._array.dtype
    kinds = [t._array.dtype for t in params if t is not None]
    if dtype.kind not in "fV" and (kernel == "batch_norm" or not kinds or kinds[0] == dtype):
        # the kernel's dtype dispatch; layer/group norm compare the first parameter first
        raise not_implemented_for(kernel, dtype)
    if all(k == dtype for k in kinds):
        # float16 alone is computed in float32 too (PyTorch's accumulation type): its squares
        # overflow from |x| = 256
        return np.dtype("float32") if reduced_float(dtype) else None
    if kinds[0] == dtype:           # the first parameter has the input's dtype: so must all
        found = next(k for k in kinds if k != dtype)
        raise RuntimeError(f"expected scalar type {scalar_type_name(dtype)} but found "
                           f"{scalar_type_name(found)}")
    if reduced_float(dtype) and all(k.name == "float32" for k in kinds):
        return kinds[0]
    if all(k.name == "float32" for k in kinds):
        raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")
    raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")


def _in_input_dtype(y, input, compute):
    """The result back in the input's dtype when it was computed in float32 (float16 input)."""
    return y if compute is None else cast(y, input._array.dtype)


def _normalise(x, axes, eps):
    """(x - mean) / sqrt(biased var + eps) over ``axes`` (kept as size-1 dims)."""
    m = mean(x, axes, keepdim=True)
    centred = sub(x, m)
    var = mean(mul(centred, centred), axes, keepdim=True)
    return div(centred, sqrt(add(var, eps))), m, var


def _normalised_grad(a, x_hat, invstd, axes):
    """The input's gradient of a normalisation over ``axes`` as ops (a = g * weight, x_hat
    and invstd those of the input, so that a second derivative sees them move with it):
        dx = invstd (a - mean(a) - x_hat mean(a x_hat))         means over ``axes``"""
    return mul(invstd, sub(sub(a, mean(a, axes, keepdim=True)),
                           mul(x_hat, mean(mul(a, x_hat), axes, keepdim=True))))


class _NormNode(Function):
    """The backward shared by the one-node normalisations (x, then weight and bias when
    given): on arrays (``_backward_arrays``) when it records no graph, else as ops of x
    (``_backward_ops``), each told which gradients are wanted."""
    @ieee        # (an inf or NaN input: PyTorch's NaN gradients, no numpy warning)
    def backward(self, g):
        x, w = self.saved_tensors
        needs = self.needs_input_grad
        wants = (needs[0], w is not None and needs[1], self.has_bias and needs[-1])
        if not is_grad_enabled() and g._array.dtype == x._array.dtype and \
                type(g._array) is np.ndarray:
            return self._backward_arrays(x._array, g._array, w, *wants)
        return self._backward_ops(x, g, w, *wants)

    @property
    def next_functions(self):
        """PyTorch's three edges (input, weight, bias), (None, 0) for one not given."""
        edges = Function.next_functions.fget(self)
        none, has_weight = (None, 0), len(edges) > 1 + bool(self.has_bias)
        return (edges[0], edges[1] if has_weight else none, edges[-1] if self.has_bias else none)


class NativeLayerNorm(_NormNode):
    """layer_norm in one node, on numpy float32/float64 arrays: x (..., *D) seen as (M, D)
    rows, each normalised, then * weight + bias (D elements each). The composition
    (``_normalise``) made nine nodes and as many full-size passes each way: a Transformer's
    32x128x512 activations took 36 ms forward and backward against PyTorch's 3.6.

        forward     y = (x - mu) invstd * w + b       mu, invstd per row
        backward    a = g * w,  x_hat = (x - mu) invstd,  D-means per row:
                    dx = invstd (a - mean(a) - x_hat mean(a x_hat)),
                    dw = sum over rows of g x_hat,  db = sum over rows of g
    The backward works on arrays when it records no graph; under create_graph the same
    formulas run as ops of x, so that a second derivative sees mu and invstd move with x.
    """
    def forward(self, x, *affine, k, has_weight, has_bias, eps):
        D = x.size // math.prod(x.shape[:x.ndim - k])
        w = affine[0] if has_weight else None
        b = affine[-1] if has_bias else None
        y, mu, invstd = layer_norm_rows(x.reshape(-1, D), None if w is None else w.reshape(-1),
                                        None if b is None else b.reshape(-1), eps)
        self.save_for_backward(x, w)
        self.mu, self.invstd, self.k, self.has_bias, self.eps = mu, invstd, k, has_bias, eps
        self.bias_shape = None if b is None else b.shape
        return y.reshape(x.shape)

    def _backward_ops(self, x, g, w, want_x, want_w, want_b):
        axes = tuple(range(x.ndim - self.k, x.ndim))                 # the normalised dims
        lead = tuple(range(x.ndim - self.k))                         # the rows
        x_hat, _, var = _normalise(x, axes, self.eps)                # as ops of x
        invstd = rsqrt(add(var, self.eps))
        gx = gw = gb = None
        if want_x:
            gx = _normalised_grad(g if w is None else mul(g, w), x_hat, invstd, axes)
        if want_w:
            gw = reduce_sum(mul(g, x_hat), lead) if lead else mul(g, x_hat)
        if want_b:
            gb = reduce_sum(g, lead) if lead else g
        return norm_grads(w, self.has_bias, self.bias_shape, gx, gw, gb)

    def _backward_arrays(self, x, g, w, want_x, want_w, want_b):
        """The same formulas on arrays, for a backward that records no graph
        (``layer_norm_grad_rows``)."""
        M = self.mu.size
        D = x.size // M
        # gx made in x's shape and filled through a (M, D) view: the array handed back then
        # owns its memory, and a leaf's .grad takes it over instead of copying it
        gx_full = np.empty(x.shape, x.dtype) if want_x else None
        _, gw, gb = layer_norm_grad_rows(
            x.reshape(M, D), g.reshape(M, D), self.mu, self.invstd,
            None if w is None else w._array.reshape(-1), want_x, want_w, want_b,
            None if gx_full is None else gx_full.reshape(M, D))
        return norm_grads(w, self.has_bias, self.bias_shape, gx_full, gw, gb)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise each sample over its last dims ``normalized_shape``; then * weight + bias
    (both shaped ``normalized_shape``)."""
    # (the parser's words, in its order; an int is no shape here: the LayerNorm layer takes one)
    shape = int_list_argument("layer_norm", "normalized_shape", (normalized_shape,), {}, 2,
                              False)
    for position, name, t in ((3, "weight", weight), (4, "bias", bias)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"layer_norm(): argument '{name}' (position {position}) must be "
                            f"Tensor, not {python_type_name(t)}")
    if not (isinstance(eps, numbers.Real) or isinstance(eps, Tensor) and eps._array.size == 1):
        raise TypeError(f"layer_norm(): argument 'eps' (position 5) must be float, not "
                        f"{python_type_name(eps)}")
    if not shape:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., "
                           "containing at least one element, but got normalized_shape = []")
    k = len(shape)
    # PyTorch's order: parameters of another dtype than the input's (the first given decides)
    # first, then the parameters' shapes, then the input's shape, then the dtypes again
    first = weight if weight is not None else bias
    mixed = first is not None and first._array.dtype != input._array.dtype
    if mixed:
        compute = _check_dtypes("LayerNormKernelImpl", input, weight, bias)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but "
                               f"got {name} of shape {list(t.shape)} and normalized_shape = "
                               f"{list(shape)}")
    if tuple(input.shape[input.ndim - k:]) != shape or k > input.ndim:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size"
                           f"{list(input.shape)}")
    if not mixed:
        compute = _check_dtypes("LayerNormKernelImpl", input, weight, bias)
    if compute is None and type(input._array) is np.ndarray and input._array.size and \
            input._array.dtype in _FLOATS and isinstance(eps, numbers.Real):
        affine = [t for t in (weight, bias) if t is not None]
        return NativeLayerNorm.apply(input, *affine, k=k, has_weight=weight is not None,
                                     has_bias=bias is not None, eps=float(eps))
    if compute is not None and type(input._array) is np.ndarray and input._array.size and \
            isinstance(eps, numbers.Real):
        # float16 / bfloat16: one node rounding where PyTorch's kernel rounds (_norm_16bit)
        affine = [t for t in (weight, bias) if t is not None]
        stats = compute if affine and affine[0]._array.dtype == compute else \
            input._array.dtype
        return rename_node(LayerNorm16.apply(input, *affine, k=k, has_weight=weight is not None,
                                             has_bias=bias is not None, eps=float(eps),
                                             stats=stats), "NativeLayerNormBackward0")
    x = input if compute is None else cast(input, compute)
    y, _, _ = _normalise(x, tuple(range(input.ndim - k, input.ndim)), eps)
    if weight is not None:
        y = mul(y, weight)
    if bias is not None:
        y = add(y, bias)
    # PyTorch's kernel writes a row-major result whatever the input's layout
    return contiguous(_in_input_dtype(y, input, compute))


def _per_channel(t, ndim):
    """A (C,) parameter shaped (C, 1, ..., 1) to broadcast over (N, C, *spatial)."""
    return reshape_to(t, (t.shape[0],) + (1,) * (ndim - 2))


class NativeGroupNorm(_NormNode):
    """group_norm in one node, on numpy float32/float64 arrays (PyTorch's
    NativeGroupNormBackward0): x (N, C, *) seen as (N, G, D), D = C/G * prod(*), each group
    normalised, then * weight + bias per channel (C each). The composition made ten nodes
    and as many full-size passes each way (32x64x32x32: 10 ms forward and backward against
    PyTorch's 3).

        forward     y = (x - mu) invstd w_c + b_c           mu, invstd per (sample, group)
        backward    a = g w_c,  x_hat = (x - mu) invstd,  means over each group's D values:
                    dx = invstd (a - mean(a) - x_hat mean(a x_hat))      (as layer_norm's)
                    dw_c = sum over samples and positions of g x_hat,  db_c = sum of g

    Without a recorded graph the backward runs on arrays, the group means assembled from
    per-(sample, channel) sums of g and of g (x - mu), so that dx = A g + B (x - mu) + C
    with A per (sample, channel) and B, C per (sample, group): no x_hat, no a, in a few
    passes. Under create_graph the formulas run as ops of x (``_normalise``,
    ``_normalised_grad``), so that a second derivative sees mu and invstd move with x.
    """
    def forward(self, x, *affine, groups, has_weight, has_bias, eps, stats=None):
        # (``stats``: a list that receives the per-(sample, group) mean and biased variance,
        # for instance_norm's running statistics)
        n, c = x.shape[:2]
        cpg = c // groups
        w = affine[0] if has_weight else None
        b = affine[-1] if has_bias else None
        # a channels-last x (group_norm's): its (N, positions, C) rows, the result laid out so
        self.keep_layout = stats is None
        self.by_columns = self.keep_layout and mf.suggest(x) is not mf.contiguous_format and \
            channels_last_rows(x) is not None
        if self.by_columns:
            y, mu, var, invstd = group_norm_channels_last(
                x, groups, None if w is None else w.reshape(-1),
                None if b is None else b.reshape(-1), eps)
        else:
            rows = x.reshape(n * groups, -1)        # (N G, D), a copy for a non-row-major x
            # row-major, as PyTorch's kernel writes it, filled through its (N G, D) view
            y = np.empty(x.shape, x.dtype)
            mu, var, invstd = group_norm_rows(
                rows, groups, cpg, None if w is None else w.reshape(groups, cpg),
                None if b is None else b.reshape(groups, cpg), eps, y.reshape(rows.shape))
        if stats is not None:
            stats.extend((mu, var))
        self.save_for_backward(x, w)
        self.mu, self.invstd, self.groups, self.has_bias, self.eps = mu, invstd, groups, \
            has_bias, eps
        self.bias_shape = None if b is None else b.shape
        # channels-last where x looks so (not dense so: a copy), as PyTorch's channels-last
        # kernel writes it (in the node itself: a copy after it added a CloneBackward0 node
        # to the graph), the input's gradient too; instance_norm's are row-major
        return suggested_layout(y, x) if self.keep_layout and not self.by_columns else y

    def _backward_ops(self, x, g, w, want_x, want_w, want_b):
        n, c = x.shape[:2]
        grouped = reshape_to(x, (n, self.groups, x._array.size // (n * self.groups)))
        x_hat, _, var = _normalise(grouped, (2,), self.eps)          # as ops of x
        invstd = rsqrt(add(var, self.eps))
        others = (0,) + tuple(range(2, x.ndim))                       # all but the channels
        gx = gw = gb = None
        if want_x:
            a = g if w is None else mul(g, _per_channel(w, x.ndim))
            gx = reshape_to(_normalised_grad(reshape_to(a, grouped.shape), x_hat, invstd,
                                             (2,)), tuple(x.shape))
        if want_w:
            gw = reduce_sum(mul(g, reshape_to(x_hat, tuple(x.shape))), others)
        if want_b:
            gb = reduce_sum(g, others)
        return norm_grads(w, self.has_bias, self.bias_shape, gx, gw, gb)

    @ieee
    def _backward_arrays(self, x, g, w, want_x, want_w, want_b):
        """The same formulas on arrays, for a backward that records no graph. With sums
        over each channel's positions s_g = sum g, s_gc = sum g (x - mu), and the group's
        sums of w_c s_g and w_c s_gc, Sa and Sac (so sum a x_hat = invstd Sac):
            dx = invstd w_c g  -  (invstd^3 Sac / D) (x - mu)  -  invstd Sa / D
            dw_c = sum over samples of invstd s_gc,   db_c = sum over samples of s_g"""
        n, c = x.shape[:2]
        groups = self.groups
        cpg = c // groups
        if self.by_columns:                 # a channels-last x, on its (N, P, C) rows
            gx, gw, gb = group_norm_grad_channels_last(
                x, g, self.mu, self.invstd, groups, None if w is None else
                w._array.reshape(-1), want_x, want_w, want_b)
        else:
            m = n * groups
            # gx made in x's shape (row-major) and filled through its (N G, D) view: the
            # array handed back owns its memory, and a leaf's .grad takes it over
            gx = np.empty(x.shape, x.dtype) if want_x else None
            s_g, s_gc = group_norm_grad_rows(
                x.reshape(m, -1), g.reshape(m, -1), self.mu, self.invstd, groups, cpg,
                None if w is None else w._array.reshape(groups, cpg), want_x, want_w,
                want_b, None if gx is None else gx.reshape(m, -1))
            if gx is not None and self.keep_layout:
                gx = suggested_layout(gx, x)
            gw = (s_gc.reshape(n, groups, cpg) * self.invstd.reshape(n, groups, 1)).sum(
                axis=0).reshape(c) if want_w else None
            gb = s_g.reshape(n, groups, cpg).sum(axis=0).reshape(c) if want_b else None
        return norm_grads(w, self.has_bias, self.bias_shape, gx, gw, gb)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each group of C / num_groups channels of each sample; weight, bias: (C,)."""
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.ndim}")
    # torch's Python wrapper checks the rank above, then its argument parser the type
    if isinstance(num_groups, bool) or not isinstance(num_groups, numbers.Integral):
        raise TypeError(f"group_norm(): argument 'num_groups' (position 2) must be int, not "
                        f"{type(num_groups).__name__}")
    n, c = input.shape[0], input.shape[1]
    if num_groups == 0:
        raise ZeroDivisionError("integer division or modulo by zero (num_groups=0)")
    # PyTorch's Python function then checks the (N C / G, G, *spatial) view it normalises
    # (in eval too): one value per group is refused
    seen = [n * c // num_groups, num_groups] + list(input.shape[2:])
    check_values_per_channel(seen, seen)
    if num_groups < 0:
        raise RuntimeError(f"Expected num groups to be greater than 0, got {num_groups}")
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(input.shape)} and "
                           f"num_groups={num_groups}")
    # (PyTorch's refusal of a bias prints the weight's shape, [0] when there is none)
    shown = [0] if weight is None else list(weight.shape)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.ndim != 1 or t.shape[0] != c):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of "
                               f"channels in input, but got {name} of shape {shown} "
                               f"and input of shape {list(input.shape)}")
    compute = _check_dtypes("GroupNormKernelImpl", input, weight, bias)
    if compute is None and type(input._array) is np.ndarray and input._array.size and \
            input._array.dtype in _FLOATS and isinstance(eps, numbers.Real):
        affine = [t for t in (weight, bias) if t is not None]
        # (PyTorch's CPU kernel has a channels-last version that keeps that layout: the
        # node lays its result out so)
        return NativeGroupNorm.apply(input, *affine, groups=num_groups,
                                     has_weight=weight is not None, has_bias=bias is not None,
                                     eps=float(eps))
    if compute is not None and type(input._array) is np.ndarray and input._array.size and \
            input._array.flags.c_contiguous and isinstance(eps, numbers.Real):
        # float16 / bfloat16, row-major: one node rounding where PyTorch's kernel rounds
        affine = [t for t in (weight, bias) if t is not None]
        stats = compute if affine and affine[0]._array.dtype == compute else \
            input._array.dtype
        return rename_node(GroupNorm16.apply(input, *affine, groups=num_groups,
                                             has_weight=weight is not None,
                                             has_bias=bias is not None, eps=float(eps),
                                             stats=stats), "NativeGroupNormBackward0")
    # (row-major first, as PyTorch's kernel reads it: a group is then one run of memory, and
    # the result row-major unless channels-last, whatever layout the input had)
    x = contiguous(input if compute is None else cast(input, compute))
    per_group = input.numel() // (n * num_groups) if n else 0
    grouped = reshape_to(x, (n, num_groups, per_group))
    y, _, _ = _normalise(grouped, (2,), eps)
    y = reshape_to(y, tuple(input.shape))
    if weight is not None:
        y = mul(y, _per_channel(weight, input.ndim))
    if bias is not None:
        y = add(y, _per_channel(bias, input.ndim))
    return keep_channels_last(_in_input_dtype(y, input, compute), input)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalise each (sample, channel) plane over its spatial dims.  With running
    statistics and ``use_input_stats``, they move toward the batch's (unbiased variance),
    as BatchNorm's; without ``use_input_stats`` the running ones are used."""
    return instance_norm_op(input, running_mean, running_var, weight, bias, use_input_stats,
                            momentum, eps, functional=True)


def instance_norm_op(input, running_mean, running_var, weight, bias, use_input_stats,
                     momentum, eps, functional=False):
    """``instance_norm``; ``functional``: with the check PyTorch's functional form adds (more
    than one spatial element when the input's statistics are used)."""
    spatial = 1
    for n in input.shape[2:]:
        spatial *= n
    # (PyTorch's functional asks it, in Python's truth; ``torch.instance_norm`` does not)
    if functional and use_input_stats and spatial == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{input.shape}")
    # then its parser: a bool flag, two floats (a bool passes as a float, as an int does)
    bool_arg("instance_norm", "use_input_stats", use_input_stats, 6)
    momentum = float_arg("instance_norm", "momentum", momentum, 7)
    if not (isinstance(eps, numbers.Real) or isinstance(eps, Tensor) and eps._array.size == 1):
        raise TypeError(f"instance_norm(): argument 'eps' (position 8) must be float, not "
                        f"{type(eps).__name__}")
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError("Expected running_mean and running_var to be defined when "
                           "use_input_stats is false")
    if input.ndim < 2:                       # (its read of the sizes of dims 0 and 1)
        raise IndexError("Dimension specified as 0 but tensor has no dimensions" if
                         input.ndim == 0 else "Dimension out of range (expected to be in range "
                         "of [-1, 0], but got 1)")
    # PyTorch runs it as a batch norm of one sample with N * C channels, each statistic (and
    # the weight and bias) repeated N times, and checks their sizes so; with no such channel,
    # batch norm's read of a weight's or bias's first element is refused
    n, c = input.shape[0], input.shape[1]
    if n * c == 0 and (weight is not None or bias is not None):
        raise IndexError("select(): index 0 out of range for tensor of size [0] at dimension 0")
    if input.numel() == 0:
        return instance_norm_of_nothing(input, running_mean, running_var, use_input_stats,
                                        weight, bias)
    for label, stat in (("running_mean", running_mean), ("running_var", running_var),
                        ("weight", weight), ("bias", bias)):
        if stat is not None and stat.numel() != c:
            raise RuntimeError(f"{label} should contain {n * c} elements not "
                               f"{n * stat.numel()}")
    if use_input_stats and (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must either both be None or neither be "
                         "None")
    axes = tuple(range(2, input.ndim))
    # the running statistics may have any dtype (PyTorch copies the batch's into them)
    compute = _check_dtypes("batch_norm", input, weight, bias)
    original, input = input, input if compute is None else cast(input, compute)
    # float16 / bfloat16 with the input's statistics: PyTorch's batch-norm kernel, rounded as
    # it rounds (_instance_norm_parts); the running statistics as below
    one_node = use_input_stats and compute is not None and isinstance(eps, numbers.Real) and \
        type(original._array) is np.ndarray and original._array.flags.c_contiguous and \
        all(t is None or t._array.dtype == original._array.dtype for t in (weight, bias))
    # numpy float32 / float64 with the input's statistics: a group norm with a group per
    # channel, one node (``NativeGroupNorm``; the composition below made nine nodes and as
    # many passes each way: 16x64x32x32 float32, one thread, 15 ms forward and backward
    # against 4.5), the (sample, channel) statistics handed out for the running ones
    native = use_input_stats and compute is None and type(input._array) is np.ndarray and \
        input._array.dtype in _FLOATS and isinstance(eps, numbers.Real)
    if use_input_stats:
        if native:
            stats = []
            y = NativeGroupNorm.apply(input, *[t for t in (weight, bias) if t is not None],
                                      groups=c, has_weight=weight is not None,
                                      has_bias=bias is not None, eps=float(eps), stats=stats)
            m_arr, var_arr = (a.reshape(n, c) for a in stats)
        elif one_node:
            m_arr = input._array.mean(axis=axes, keepdims=True)
            var_arr = np.square(input._array - m_arr).mean(axis=axes, keepdims=True)
        else:
            y, m, var = _normalise(input, axes, eps)
            m_arr, var_arr = m._array, var._array
        if running_mean is not None or running_var is not None:
            count = 1
            for k in axes:
                count *= input.shape[k]
            bm = m_arr.mean(axis=0).reshape(-1)
            bv = var_arr.mean(axis=0).reshape(-1) * count / max(count - 1, 1)
            for stat, batch in ((running_mean, bm), (running_var, bv)):
                if stat is not None and not stat._array.flags.writeable:
                    raise RuntimeError("unsupported operation: more than one element of the "
                                       "written-to tensor refers to a single memory location. "
                                       "Please clone() the tensor before performing the "
                                       "operation.")
            for stat, batch in ((running_mean, bm), (running_var, bv)):
                if stat is not None:
                    update_running(stat._array, batch, momentum)
                    stat._vcounter.value += 1
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when "
                               "use_input_stats is false")
        # the running statistics in the input's dtype first, as PyTorch: float64 ones do not
        # make a float32 input's result float64
        mean_, var_ = (cast(t, input._array.dtype) for t in (running_mean, running_var))
        y = div(sub(input, _per_channel(mean_, input.ndim)),
                sqrt(add(_per_channel(var_, input.ndim), eps)))
    if native:           # (row-major, as PyTorch's batch norm of the (1, N C, *) view)
        return rename_node(y, "ViewBackward0")
    if one_node:
        return rename_node(InstanceNorm16.apply(
            original, *[t for t in (weight, bias) if t is not None], has_weight=weight is not
            None, has_bias=bias is not None, eps=float(eps), half=original._array.dtype),
            "ViewBackward0")
    if weight is not None:
        y = mul(y, _per_channel(weight, input.ndim))
    if bias is not None:
        y = add(y, _per_channel(bias, input.ndim))
    # row-major, as PyTorch's batch norm of the input viewed as (1, N * C, *) writes it; its
    # last step views that back into input's shape (the node a printed result shows)
    return rename_node(contiguous(_in_input_dtype(y, original, compute)), "ViewBackward0")

