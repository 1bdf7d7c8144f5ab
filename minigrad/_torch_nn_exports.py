"""The nn ops PyTorch also exports at the top level (``torch.dropout``, ``torch.batch_norm``,
``torch.kl_div``, ``torch.convolution``, ``torch.native_layer_norm``...), with the signatures
those top-level names have, which are not ``torch.nn.functional``'s:

* the training flag is a required positional argument: ``torch.dropout(x, 0.5, train)``;
* ``torch.batch_norm``/``torch.instance_norm`` take weight and bias first and every argument is
  required (``cudnn_enabled`` too, accepted and ignored);
* losses take ``reduction`` as an int: 0 none, 1 mean, 2 sum (another int also means none,
  as in torch).  The default is 0: torch's schema says ``reduction=Mean``, but its Python
  binding reads that default as 0, so ``torch.kl_div(a, b)`` is unreduced; we do the same;
* ``torch.embedding(weight, indices, padding_idx=-1)``: weight first, a negative padding index
  means none;
* pools take ``stride=()`` for "the kernel size"; ``*_with_indices`` and
  ``adaptive_max_pool1d`` return (values, indices);
* ``grid_sampler`` takes interpolation and padding modes as ints (0 bilinear / 1 nearest /
  2 bicubic; 0 zeros / 1 border / 2 reflection);
* the ``native_*`` forms return tuples with the saved statistics.

Everything is ``minigrad.nn.functional`` underneath (so the gradients are its gradients);
this module only translates arguments.
"""
from __future__ import annotations

import numpy as np

from . import _memory_format as mf, backend
from .autograd import no_grad
from ._random_factories import bernoulli_draws
from .tensor import Tensor
from .nn import functional as F
from .nn.functional import _masked
from .ops.conv import conv_tbc  # noqa: F401
from .ops.feature_norm import instance_norm_op

# Same signature at the top level as in torch.nn.functional: the function itself.
from .nn.functional import (  # noqa: F401
    pixel_shuffle, pixel_unshuffle, channel_shuffle, native_channel_shuffle, prelu, hardshrink,
    cosine_similarity, pairwise_distance, pdist, conv3d, conv_transpose3d, bilinear, rms_norm)

__all__ = [
    "dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout", "native_dropout",
    "embedding", "layer_norm", "group_norm", "instance_norm", "batch_norm", "native_layer_norm",
    "native_batch_norm", "native_group_norm", "max_pool1d", "max_pool2d", "max_pool3d",
    "max_pool1d_with_indices", "avg_pool1d", "adaptive_avg_pool1d", "adaptive_max_pool1d",
    "pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle", "prelu",
    "rrelu", "threshold", "hardshrink", "cosine_similarity", "pairwise_distance", "pdist",
    "kl_div", "cosine_embedding_loss", "hinge_embedding_loss", "margin_ranking_loss",
    "triplet_margin_loss", "poisson_nll_loss", "binary_cross_entropy_with_logits", "ctc_loss",
    "conv3d", "conv_transpose3d", "convolution", "conv_tbc", "bilinear", "rms_norm",
    "affine_grid_generator", "grid_sampler", "grid_sampler_2d", "grid_sampler_3d"]

# torch's Python binding turns the schema default ``reduction=Mean`` into 0 (see the docstring)
_UNREDUCED = 0


def _reduction(reduction, name):
    """The int reduction code as functional's string: 1 'mean', 2 'sum', anything else 'none'."""
    if isinstance(reduction, bool) or not isinstance(reduction, (int, np.integer)):
        raise TypeError(f"{name}(): argument 'reduction' must be int, not "
                        f"{type(reduction).__name__}")
    return {1: "mean", 2: "sum"}.get(int(reduction), "none")


def _stride(stride):
    """aten pools: an empty stride means "the kernel size" (functional's None)."""
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        return None
    return stride


# ----------------------------------------------------------------------------------------------
# dropout
# ----------------------------------------------------------------------------------------------
def dropout(input, p, train):
    """``torch.dropout(input, p, train)``: zero each element with probability p, scale the rest
    by 1/(1-p), when ``train``; the input unchanged otherwise."""
    return F.dropout(input, p, training=train)


def feature_dropout(input, p, train):
    """Zero whole feature maps: one draw per (sample, channel) of an (N, C, *) input, shared by
    the remaining dims; the survivors scaled by 1/(1-p)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if not train or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    return _masked(input, tuple(input.shape[:2]) + (1,) * (input.ndim - 2), p)


def alpha_dropout(input, p, train):
    return F.alpha_dropout(input, p, training=train)


def feature_alpha_dropout(input, p, train):
    return F.feature_alpha_dropout(input, p, training=train)


def native_dropout(input, p, train):
    """(output, mask): mask (bool, input's shape) says which elements were kept; output is
    input * mask / (1 - p).  ``train=False`` returns (a copy of the input, all-True mask);
    ``train=None`` means True."""
    if train is None:
        train = True
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    shape = tuple(input.shape)
    if not train:
        keep = np.ones(shape, dtype=bool)
        return input.clone(), Tensor._wrap(backend.to_device(keep, input.device))
    keep = bernoulli_draws(None, shape, 1.0 - p)
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    factor = Tensor._wrap(backend.to_device((keep * scale).astype(input._array.dtype),
                                            input.device))
    return input * factor, Tensor._wrap(backend.to_device(keep, input.device))


# ----------------------------------------------------------------------------------------------
# embedding and normalization
# ----------------------------------------------------------------------------------------------
def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """``weight[indices]``; rows at ``padding_idx`` (when >= 0) get no gradient."""
    rows = weight.shape[0] if weight.ndim else 0
    pad = padding_idx if padding_idx is not None and 0 <= padding_idx < rows else None
    return F.embedding(indices, weight, padding_idx=pad, scale_grad_by_freq=scale_grad_by_freq,
                       sparse=sparse)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05, cudnn_enable=True):
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05, cudnn_enabled=True):
    return F.group_norm(input, num_groups, weight, bias, eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum,
                  eps, cudnn_enabled):
    return instance_norm_op(input, running_mean, running_var, weight, bias, use_input_stats,
                            momentum, eps)


def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps,
               cudnn_enabled):
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def _mean_rstd(x, dims, eps):
    """Per-group mean and 1/sqrt(biased variance + eps) over ``dims`` (kept), outside the graph:
    torch returns these saved statistics as non-differentiable outputs."""
    with no_grad():
        mean = x.mean(dim=dims, keepdim=True)
        var = ((x - mean) ** 2).mean(dim=dims, keepdim=True)
        return mean, (var + eps).rsqrt()


def native_layer_norm(input, normalized_shape, weight, bias, eps):
    """(output, mean, rstd): layer_norm's output and, per normalized group, the mean and
    1/sqrt(var + eps), shaped input.shape[:-k] + (1,) * k for k normalized dims."""
    out = F.layer_norm(input, normalized_shape, weight, bias, eps)
    k = len(normalized_shape) if isinstance(normalized_shape, (tuple, list)) else 1
    mean, rstd = _mean_rstd(input, tuple(range(input.ndim - k, input.ndim)), eps)
    return out, mean, rstd


def native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
    """(output, save_mean, save_invstd): batch_norm's output; in training the batch's
    per-channel mean and 1/sqrt(biased var + eps), shape (C,); in eval two empty tensors."""
    out = F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    if not training:
        empty = Tensor._wrap(backend.to_device(np.empty((0,), input._array.dtype), input.device))
        return out, empty, empty.clone()
    dims = (0,) + tuple(range(2, input.ndim))
    mean, rstd = _mean_rstd(input, dims, eps)
    return out, mean.reshape(-1), rstd.reshape(-1)


def native_group_norm(input, weight, bias, N, C, HxW, group, eps):
    """(output, mean, rstd): group_norm's output and per (sample, group) statistics (N, group).
    N, C and HxW must describe the input: N * C * HxW elements."""
    if N * C * HxW != input.numel():
        raise RuntimeError(f"Expected input to have {N * C * HxW} elements (N={N}, C={C}, "
                           f"HxW={HxW}), but got {input.numel()}")
    # the ATen kernel reads the input as dense memory in its suggested format (F.group_norm
    # makes a copy first; this one refuses).  A negative-stride array (numpy's, which PyTorch
    # cannot hold) counts as dense: PyTorch would have it as a contiguous copy
    a = input._array
    flipped = tuple(d for d, st in enumerate(a.strides) if st < 0)
    if flipped:
        a = backend.xp_of(a).flip(a, flipped)
    if not mf.is_contiguous(a, mf.suggest(a)):
        raise RuntimeError("Expected X.is_contiguous(memory_format) to be true, but got false.  "
                           "(Could this error message be improved?  If so, please report an "
                           "enhancement request to PyTorch.)")
    out = F.group_norm(input, group, weight, bias, eps)
    # unlike native_layer_norm / native_batch_norm, torch returns these two statistics as
    # differentiable outputs, so they are built in the graph: mean = E[x], rstd = (Var[x] +
    # eps)^-1/2 over each group's C/group * HxW elements (the size given, so N = 0 works)
    grouped = input.reshape(N, group, (C // group) * HxW)
    mean = grouped.mean(dim=2)
    rstd = ((grouped - mean.unsqueeze(2)) ** 2).mean(dim=2).add(eps).rsqrt()
    return out, mean, rstd


# ----------------------------------------------------------------------------------------------
# pooling and activations
# ----------------------------------------------------------------------------------------------
def max_pool1d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool2d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool2d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool3d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return F.max_pool3d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1,
                            ceil_mode=False):
    """(values, indices) of ``max_pool1d``."""
    return F.max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode,
                        return_indices=True)


def avg_pool1d(input, kernel_size, stride=(), padding=0, ceil_mode=False,
               count_include_pad=True):
    return F.avg_pool1d(input, kernel_size, _stride(stride), padding, ceil_mode,
                        count_include_pad)


def adaptive_avg_pool1d(input, output_size):
    return F.adaptive_avg_pool1d(input, output_size)


def adaptive_max_pool1d(input, output_size):
    """(values, indices): torch's top-level form always returns the indices."""
    return F.adaptive_max_pool1d(input, output_size, return_indices=True)


def rrelu(input, lower=0.125, upper=1.0 / 3, training=False, generator=None):
    if generator is not None:
        raise NotImplementedError("rrelu: minigrad draws the slopes from the default generator "
                                  "only; pass generator=None (seed with minigrad.manual_seed)")
    return F.rrelu(input, lower, upper, training)


def threshold(input, threshold, value):
    """``value`` where input <= threshold, input elsewhere."""
    return F.threshold(input, threshold, value)


# ----------------------------------------------------------------------------------------------
# losses with an int reduction
# ----------------------------------------------------------------------------------------------
def kl_div(input, target, reduction=_UNREDUCED, *, log_target=False):
    red = _reduction(reduction, "kl_div")
    if red == "mean":
        # the plain mean; functional's warning about 'mean' vs 'batchmean' is not torch's here
        return F.kl_div(input, target, reduction="none", log_target=log_target).mean()
    return F.kl_div(input, target, reduction=red, log_target=log_target)


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=_UNREDUCED):
    return F.cosine_embedding_loss(input1, input2, target, margin,
                                   reduction=_reduction(reduction, "cosine_embedding_loss"))


def hinge_embedding_loss(input, target, margin=1.0, reduction=_UNREDUCED):
    return F.hinge_embedding_loss(input, target, margin,
                                  reduction=_reduction(reduction, "hinge_embedding_loss"))


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=_UNREDUCED):
    return F.margin_ranking_loss(input1, input2, target, margin,
                                 reduction=_reduction(reduction, "margin_ranking_loss"))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-06, swap=False,
                        reduction=_UNREDUCED):
    return F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                 reduction=_reduction(reduction, "triplet_margin_loss"))


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    return F.poisson_nll_loss(input, target, log_input, full, eps=eps,
                              reduction=_reduction(reduction, "poisson_nll_loss"))


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None,
                                     reduction=_UNREDUCED):
    return F.binary_cross_entropy_with_logits(
        input, target, weight, reduction=_reduction(reduction, "binary_cross_entropy_with_logits"),
        pos_weight=pos_weight)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=_UNREDUCED,
             zero_infinity=False):
    return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank,
                      reduction=_reduction(reduction, "ctc_loss"), zero_infinity=zero_infinity)


# ----------------------------------------------------------------------------------------------
# convolution
# ----------------------------------------------------------------------------------------------
_CONV = {1: (F.conv1d, F.conv_transpose1d), 2: (F.conv2d, F.conv_transpose2d),
         3: (F.conv3d, F.conv_transpose3d)}


def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding,
                groups):
    """Every convolution behind one signature: the spatial rank comes from the weight
    (weight.ndim - 2, 1 to 3); ``transposed`` picks conv_transpose (with ``output_padding``)."""
    spatial = weight.ndim - 2
    if spatial not in _CONV:
        raise RuntimeError(f"convolution: expected a 3-D, 4-D or 5-D weight, but got a "
                           f"{weight.ndim}-D weight of size {list(weight.shape)}")
    conv, conv_transpose = _CONV[spatial]
    if isinstance(bias, Tensor) and isinstance(input, Tensor) and \
            input._array.dtype.kind in "fcV" and bias._array.dtype != input._array.dtype:
        bias = bias.to(input.dtype)      # the aten entry casts the bias (conv1d... refuse)
    if transposed:
        return conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                              dilation)
    return conv(input, weight, bias, stride, padding, dilation, groups)


# ----------------------------------------------------------------------------------------------
# sampling grids
# ----------------------------------------------------------------------------------------------
_INTERPOLATION = ("bilinear", "nearest", "bicubic")
_PADDING = ("zeros", "border", "reflection")


def affine_grid_generator(theta, size, align_corners):
    return F.affine_grid(theta, list(size), align_corners=align_corners)


def grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners):
    """``F.grid_sample`` with the modes as ints: interpolation 0 bilinear, 1 nearest,
    2 bicubic; padding 0 zeros, 1 border, 2 reflection."""
    if not 0 <= interpolation_mode < len(_INTERPOLATION):
        raise ValueError(f"grid_sampler(): interpolation_mode must be 0 (bilinear), 1 (nearest) "
                         f"or 2 (bicubic), but got {interpolation_mode}")
    if not 0 <= padding_mode < len(_PADDING):
        raise ValueError(f"grid_sampler(): padding_mode must be 0 (zeros), 1 (border) or "
                         f"2 (reflection), but got {padding_mode}")
    return F.grid_sample(input, grid, _INTERPOLATION[interpolation_mode], _PADDING[padding_mode],
                         align_corners=bool(align_corners))


def _grid_sampler_nd(name, dims):
    def sampler(input, grid, interpolation_mode, padding_mode, align_corners):
        if input.ndim != dims:
            raise RuntimeError(f"{name}(): expected {dims}D input, but got input with sizes "
                               f"{list(input.shape)}")
        return grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners)
    sampler.__name__ = sampler.__qualname__ = name
    sampler.__doc__ = f"``grid_sampler`` for {dims}-D input only."
    return sampler


grid_sampler_2d = _grid_sampler_nd("grid_sampler_2d", 4)
grid_sampler_3d = _grid_sampler_nd("grid_sampler_3d", 5)
