"""The less common losses and distances of ``minigrad.nn.functional``, composed of tensor ops
(so that autograd differentiates them, to any order):

    smooth_l1_loss, huber_loss, kl_div, poisson_nll_loss, gaussian_nll_loss,
    soft_margin_loss, multilabel_soft_margin_loss, margin_ranking_loss,
    hinge_embedding_loss, cosine_embedding_loss, triplet_margin_loss

Each takes PyTorch's arguments, including the deprecated ``size_average``/``reduce`` flags,
and ``reduction`` is 'mean' (default), 'sum' or 'none'.  The distances they use
(``pairwise_distance``, ``cosine_similarity``, ``normalize``) are in ``_functional_distances.py``.
"""
from __future__ import annotations

import math
import numbers

from .._warn_once import warn_user
from .. import _autocast_state, backend
from ..autograd import is_grad_enabled, no_grad
from ..autograd._node_names import rename_node
from ..autograd.function import keep_for_backward
from ..ops._autocast_cast import widen as _autocast_widen
from ..ops.activation import logsigmoid
from ..ops.elementary_functions import exp, log1p
from ..ops.elementwise import cast, sub
from ..ops.pointwise_select import minimum, where
from ..ops.relu_clamp import clamp, clamp_min
from ..ops.regression_loss import Huber, SmoothL1, broadcast_promoted, fused_band_loss
from ..ops.pointwise_more import xlogy
from ..ops.writes import can_cast_inplace
from ..ops._util import (
    broadcast_shape, cpp_type_name, float_arg, no_complex_kernel, not_implemented_for,
    result_dtype as _result_dtype, scalar_type_name as _scalar_type_name)
from ..dtypes import number_for
from ..tensor import Tensor
from ._functional_distances import pairwise_distance

__all__ = ["smooth_l1_loss", "huber_loss", "kl_div", "poisson_nll_loss", "gaussian_nll_loss",
           "soft_margin_loss", "multilabel_soft_margin_loss", "margin_ranking_loss",
           "hinge_embedding_loss", "cosine_embedding_loss", "triplet_margin_loss"]


def _legacy(size_average, reduce, reduction, deprecated_ok=True):
    """The reduction string, from the deprecated flags when either is given; the deprecated
    'elementwise_mean' reads as 'mean' (with PyTorch's warning) where ``deprecated_ok``."""
    if size_average is None and reduce is None:
        if deprecated_ok and isinstance(reduction, str) and reduction == "elementwise_mean":
            warn_user("reduction='elementwise_mean' is deprecated. Please use "
                      "reduction='mean' instead.")
            return "mean"
        if reduction not in ("mean", "sum", "none"):
            if not deprecated_ok:       # (PyTorch's Python check: adds the words to it)
                raise ValueError(reduction + " is not a valid value for reduction")
            raise ValueError(f"{reduction} is not a valid value for reduction")
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "none" if not reduce else ("mean" if size_average else "sum")
    warn_user(f"size_average and reduce args will be deprecated, please use "
              f"reduction='{ret}' instead.")
    return ret


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _warn_size(input, target):
    if not hasattr(target, "shape"):
        target.size()           # PyTorch reads target.size() first: its AttributeError
    if tuple(target.shape) != tuple(input.shape):
        warn_user(f"Using a target size ({target.shape}) that is different to the input "
                  f"size ({input.shape}). This will likely lead to incorrect results due "
                  "to broadcasting. Please ensure they have the same size.")


def _floating_pair(input, target, kernel):
    """input and target cast to their promoted dtype, which PyTorch's fused regression kernels
    (smooth L1, Huber) take in floating types only: an integer or bool pair is refused (a
    bool target with a floating input is fine)."""
    dtype = _result_dtype(input, target)
    if dtype.kind not in "fV":
        raise not_implemented_for(kernel, dtype)
    return tuple(cast(t, dtype) if isinstance(t, Tensor) else t for t in (input, target))


def _xlogx(t):
    """t * log(t): 0 where t == 0, NaN where t < 0 (a negative "probability" is not silently
    dropped).  PyTorch's xlogy(t, t), whose gradient at t == 0 is NaN (its y-part 0 / 0)."""
    return xlogy(t, t)


# ----------------------------------------------------------------------------------------------
# Regression losses
# ----------------------------------------------------------------------------------------------
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Elementwise 0.5 (x - y)^2 / beta where |x - y| < beta, else |x - y| - beta / 2;
    ``beta=0`` is the L1 loss."""
    if size_average is not None or reduce is not None:
        reduction = _legacy(size_average, reduce, reduction)
    # PyTorch's order: the shapes broadcast, then the reduction is read, then its kernel checks
    _warn_size(input, target)
    broadcast_shape(tuple(input.shape), tuple(target.shape), "smooth_l1_loss")
    reduction = _legacy(None, None, reduction)
    if beta != 0:                          # (beta 0 is l1_loss, which takes no beta)
        beta = float_arg("smooth_l1_loss", "beta", beta, 4)
    if _autocast_state.active:             # one of the losses CPU autocast runs in float32
        input, target = _autocast_widen(input, target)
    no_complex_kernel("smooth_l1_cpu", input, target)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    input, target = broadcast_promoted(input, target)
    if beta == 0:                          # PyTorch's l1_loss: a plain subtraction
        return _reduce((input - target).abs(), reduction)
    fused = fused_band_loss(input, target, reduction, beta, huber=False)
    if fused is not None:                  # one node over input and target, as PyTorch's
        return fused
    # the loss has the promoted dtype (float32 input, float64 target: float64)
    diff = sub(*_floating_pair(input, target, "smooth_l1_cpu"))
    # PyTorch's smooth_l1_loss node keeps its input and target for the backward
    loss = keep_for_backward(_reduce(SmoothL1.apply(diff, beta=float(beta)), reduction),
                             input, target)
    return rename_node(loss, "SmoothL1LossBackward0")


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """Elementwise 0.5 (x - y)^2 where |x - y| < delta, else delta (|x - y| - delta / 2)
    (= delta * smooth_l1 with beta = delta); ``weight`` scales each element."""
    # PyTorch's order: the shapes broadcast, then the reduction is read, then its kernel checks
    _warn_size(input, target)
    broadcast_shape(tuple(input.shape), tuple(target.shape), "huber_loss")
    if weight is not None:      # PyTorch's Python path of a weight: its own checks, first
        if tuple(weight.shape) != tuple(input.shape):
            raise ValueError("Weights and input must have the same size.")
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', "
                             "'mean', 'sum'.")
    reduction = _legacy(None, None, reduction)
    if _autocast_state.active:             # one of the losses CPU autocast runs in float32
        input, target = _autocast_widen(input, target)
    no_complex_kernel("huber_cpu", input, target)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    # PyTorch writes the loss into a tensor like the input, computed in the promoted dtype:
    # float32 input, float64 target gives float32; an integer input with a floating target
    # cannot take the floating result
    dtype = _result_dtype(input, target)
    out_dtype = input._array.dtype if isinstance(input, Tensor) else dtype
    if not can_cast_inplace(dtype, out_dtype):
        raise RuntimeError(f"result type {_scalar_type_name(dtype)} can't be cast to the "
                           f"desired output type {_scalar_type_name(out_dtype)}")
    if weight is None:
        fused = fused_band_loss(input, target, reduction, delta, huber=True)
        if fused is not None:              # one node over input and target, as PyTorch's
            return fused
    pair = _floating_pair(input, target, "huber_cpu")
    if all(isinstance(t, Tensor) and t._array.dtype == backend.np.float16 for t in pair):
        # PyTorch's float16 Huber kernel computes in float32 and rounds each loss once
        # (its bfloat16 one rounds each step, as the formula below in bfloat16)
        pair = tuple(t.float() for t in pair)
    diff = sub(*pair)
    loss = cast(Huber.apply(diff, delta=float(delta)), out_dtype)
    if weight is not None:
        loss = loss * weight
    # PyTorch's huber_loss node keeps its input and target for the backward
    loss = keep_for_backward(_reduce(loss, _legacy(None, None, reduction)), input, target)
    # (a weight is applied after PyTorch's huber_loss node: its last node is the product's)
    return loss if weight is not None else rename_node(loss, "HuberLossBackward0")


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL(target || exp(input)) per element: target (log target - input), with ``input``
    log-probabilities and ``target`` probabilities (log-probabilities if ``log_target``).
    'batchmean' divides the sum by the batch size (the mathematical KL divergence); 'mean'
    divides by the number of elements, and warns about it as PyTorch does."""
    # 'batchmean' divides by the batch size even when the legacy flags pick the reduction
    # (their 'mean', 'sum' or per-element loss), as PyTorch's
    per_batch = reduction == "batchmean"
    if size_average is not None or reduce is not None:
        reduction = _legacy(size_average, reduce, reduction)
    elif reduction == "mean":
        warn_user("reduction: 'mean' divides the total loss by both the batch size and the "
                  "support size.'batchmean' divides only by the batch size, and aligns "
                  "with the KL div math definition.'mean' will be changed to behave the "
                  "same as 'batchmean' in the next major release.")
    elif reduction != "batchmean":
        reduction = _legacy(None, None, reduction)
    if _autocast_state.active:             # one of the losses CPU autocast runs in float32
        input, target = _autocast_widen(input, target)
    kinds = [t._array.dtype.kind for t in (input, target) if isinstance(t, Tensor)]
    if "c" in kinds:
        raise RuntimeError("kl_div: Complex inputs not supported.")
    if any(k in "biu" for k in kinds):
        raise RuntimeError("kl_div: Integral inputs not supported.")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = _xlogx(target) - target * input
    if reduction == "batchmean":
        loss = loss.sum()
    else:
        loss = _reduce(loss, reduction)
    return loss / input.shape[0] if per_batch and input.ndim else loss


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    """Negative log-likelihood of ``target`` under Poisson(rate): exp(input) - target * input
    when ``log_input`` (input is the log rate), else input - target * log(input + eps).
    ``full`` adds Stirling's term target log target - target + log(2 pi target) / 2 (for
    targets > 1)."""
    reduction = _legacy(size_average, reduce, reduction, deprecated_ok=False)
    if _autocast_state.active:             # one of the losses CPU autocast runs in float32
        input, target = _autocast_widen(input, target)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        if isinstance(target, Tensor) and target._array.dtype.kind == "b":
            sub(0.0, target)               # PyTorch's Stirling term subtracts the target: refused
        big = target > 1
        # the term of every target, then masked, as PyTorch's masked_fill: the masked ones get
        # no value, and a gradient of 0 * (its derivative), NaN for a target <= 0
        stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        # PyTorch adds the term in place: the loss keeps its dtype (float16 with an int target)
        loss = cast(loss + where(big, stirling, 0.0), loss._array.dtype)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Negative log-likelihood of ``target`` under N(input, var):
    0.5 (log max(var, eps) + (input - target)^2 / max(var, eps)) (+ 0.5 log 2 pi if ``full``).

    ``var`` has the input's shape; or one dimension fewer (the last: one variance per
    sample); or the input's rank with a single dimension of size 1 where the input's is
    larger (one variance shared along it: (4, 1) or (1, 3) for a (4, 3) input).  The clamp at
    ``eps`` is for stability only: as in PyTorch the gradient reaches var as if it were not
    clamped.
    """
    # (PyTorch refuses a negative var first, before its size and the reduction's name)
    if not isinstance(var, Tensor) and var < 0 or isinstance(var, Tensor) and bool(
            (var._array < 0).any()):
        raise ValueError("var has negative entry/entries")
    if not isinstance(var, Tensor):
        # a number times ones like the input: float32 for an integer input, as PyTorch
        var = Tensor._wrap(backend.xp_of(input._array).full(
            input._array.shape, var, dtype=_result_dtype(input, float(var))))
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif var.ndim != input.ndim or sum(v for i, v in zip(input.shape, var.shape)
                                           if i != v) != 1:
            # PyTorch's test: the sizes of var where they differ from the input's add up to 1
            raise ValueError("var is of incorrect size")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(reduction + " is not valid")
    if var._array.dtype.kind not in "fV":
        # PyTorch clamps a copy of var in place at eps, a float its dtype cannot take
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{cpp_type_name(var._array.dtype)}")
    with no_grad():
        floor = clamp(var.detach(), min=eps) - var.detach()       # 0 except where var < eps
    var = var + floor
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# ----------------------------------------------------------------------------------------------
# Margin and classification losses
# ----------------------------------------------------------------------------------------------
def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Two-class logistic loss log(1 + exp(-target * input)), targets in {1, -1}."""
    reduction = _legacy(size_average, reduce, reduction)
    if is_grad_enabled() and isinstance(target, Tensor) and target.requires_grad:
        # PyTorch's kernel has no derivative for the target (its autograd refuses it first)
        raise RuntimeError("The function 'soft_margin_loss' is not differentiable with respect "
                           "to argument 'target'. This input cannot have requires_grad True.")
    if _autocast_state.active:             # one of the losses CPU autocast runs in float32
        input, target = _autocast_widen(input, target)
    shape = broadcast_shape(tuple(input.shape), tuple(target.shape), "soft_margin_loss")
    if shape != tuple(input.shape):        # PyTorch writes the loss into the input's shape
        raise RuntimeError(f"output with shape {list(input.shape)} doesn't match the broadcast "
                           f"shape {list(shape)} (soft_margin_loss's target of shape "
                           f"{list(target.shape)} must broadcast to the input's)")
    # PyTorch computes -input * target in place in the input's tensor: a bool input cannot be
    # negated, an integer one cannot take a floating product, nor exp's floating result
    dtype, product = input._array.dtype, _result_dtype(input, target)
    margin = -input
    if not can_cast_inplace(product, dtype):
        raise RuntimeError(f"result type {_scalar_type_name(product)} can't be cast to the "
                           f"desired output type {_scalar_type_name(dtype)}")
    if dtype.kind not in "fVc":
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{_scalar_type_name(dtype)}")
    # (the negation first: -target of a uint8 target would wrap around)
    # log1p(exp(z)) as PyTorch's kernel computes it: inf once exp(z) overflows the dtype
    # (z > 88.7 in float32), its gradient NaN there, rather than softplus's z and 1
    loss = _reduce(log1p(exp(cast(margin * target, dtype))), reduction)
    if dtype.kind == "c" and loss.requires_grad:
        # computed (in the input's complex dtype), but PyTorch has no gradient formula for it
        raise RuntimeError("soft_margin_loss does not support automatic differentiation for "
                           "outputs with complex dtype.")
    return rename_node(loss, "SoftMarginLossBackward0")


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    """Per sample, the mean over its C classes of the binary cross entropy of sigmoid(input)
    against 0/1 targets (optionally weighted per class): input (N, C) or (C,)."""
    if size_average is not None or reduce is not None:
        reduction = _legacy(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    loss = loss.sum(dim=input.ndim - 1)
    if input.ndim == 0:         # (PyTorch's input.size(-1))
        raise IndexError("Dimension specified as -1 but tensor has no dimensions")
    loss = loss / input.shape[-1]
    # PyTorch reads the reduction only now, after the loss is computed, in words of its own
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(reduction + " is not valid")        # (TypeError for a non-str)
    return _reduce(loss, reduction)


def _check_margin_number(op, position, margin):
    """PyTorch's parser: a loss's ``margin`` is a float (an int or a bool passes)."""
    if not isinstance(margin, (numbers.Real, Tensor)):
        raise TypeError(f"{op}(): argument 'margin' (position {position}) must be float, not "
                        f"{type(margin).__name__}")


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                        reduction="mean"):
    """max(0, -target (input1 - input2) + margin): target 1 wants input1 ranked higher."""
    reduction = _legacy(size_average, reduce, reduction)
    if _autocast_state.active:             # one of the losses CPU autocast runs in float32
        input1, input2, target = _autocast_widen(input1, input2, target)
    if not (input1.ndim == input2.ndim == target.ndim):
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same "
                           f"dimension but got sizes: input1: {input1.shape}, input2: "
                           f"{input2.shape}, target: {target.shape} ")
    _check_margin_number("margin_ranking_loss", 4, margin)
    # PyTorch's margin is a double: an integer pair gives a floating loss
    # (PyTorch's nodes: its scalar-add overload, AddBackward1, then ClampMinBackward0)
    shifted = rename_node(-target * (input1 - input2) + float(margin), "AddBackward1")
    return _reduce(clamp_min(shifted, 0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """input where target == 1, max(0, margin - input) where target == -1 (input is
    usually a distance)."""
    reduction = _legacy(size_average, reduce, reduction)
    if _autocast_state.active:             # one of the losses CPU autocast runs in float32
        input, target = _autocast_widen(input, target)
    _check_margin_number("hinge_embedding_loss", 3, margin)
    if isinstance(input, Tensor) and input._array.dtype.kind in "iu":
        # PyTorch computes in the input's integer dtype, the margin truncated to it (so the
        # loss stays integral, and its 'mean' is refused as an integer mean is)
        margin, zero = int(number_for(float(margin), input._array.dtype)), 0
    else:
        zero = 0.0
    if isinstance(input, Tensor) and input._array.dtype.kind == "b":
        # (PyTorch's margin - input: the margin wrapped as a bool tensor like the input)
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    hinge = where(target != 1, clamp_min(margin - input, 0), zero)
    same = where(target != -1, input, zero)
    return _reduce(hinge + same, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                          reduction="mean"):
    """1 - cos(x1, x2) where target == 1, max(0, cos(x1, x2) - margin) where target == -1,
    the cosine taken along the last dimension of (N, D) or (D,) inputs."""
    reduction = _legacy(size_average, reduce, reduction)
    if _autocast_state.active:             # one of the losses CPU autocast runs in float32
        input1, input2, target = _autocast_widen(input1, input2, target)
    _check_margin_number("cosine_embedding_loss", 4, margin)
    # PyTorch's checks: a 1-d target goes with (N, D) inputs, a 0-d one with (D,) inputs
    if target.ndim not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if input1.ndim != target.ndim + 1 or input2.ndim != target.ndim + 1:
        raise RuntimeError(f"{target.ndim}D target tensor expects {target.ndim + 1}D input "
                           f"tensors, but found inputs with sizes {list(input1.shape)} and "
                           f"{list(input2.shape)}.")
    dim = target.ndim
    tiny = 1e-12          # keeps the norms' square roots (and their gradients) finite at 0
    dot = (input1 * input2).sum(dim)
    norms = ((input1 * input1).sum(dim) + tiny) * ((input2 * input2).sum(dim) + tiny)
    cos = dot / norms.sqrt()
    loss = where(target == 1, 1 - cos, 0.0) + where(target == -1, clamp_min(cos - margin, 0),
                                                    0.0)
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)) with d the p-norm
    ``pairwise_distance``; ``swap`` uses min(d(a, n), d(p, n)) as the negative distance."""
    reduction = _legacy(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    for position, (name, t) in enumerate((("anchor", anchor), ("positive", positive),
                                          ("negative", negative)), 1):
        if not isinstance(t, Tensor):         # PyTorch's parser, before the rank check
            raise TypeError(f"triplet_margin_loss(): argument '{name}' (position {position}) "
                            f"must be Tensor, not {type(t).__name__}")
    if _autocast_state.active:             # one of the losses CPU autocast runs in float32
        anchor, positive, negative = _autocast_widen(anchor, positive, negative)
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {anchor.ndim}D, positive "
                           f"{positive.ndim}D, and negative {negative.ndim}D inputs")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_swap = pairwise_distance(positive, negative, p, eps)
        d_neg = minimum(d_neg, d_swap)     # (a tie splits the gradient, as PyTorch's)
    # (PyTorch's nodes: its scalar-add overload, AddBackward1, and ClampMinBackward0)
    gap = rename_node(margin + d_pos, "AddBackward1") - d_neg
    return _reduce(clamp_min(gap, 0), reduction)
