"""Multi-class margin losses and the CTC loss, composed from differentiable ops:

* ``multi_margin_loss``: sum over wrong classes i of w[y] max(0, margin - x[y] + x[i])^p / C;
* ``multilabel_margin_loss``: sum over target classes j and non-target classes i of
  max(0, 1 - (x[j] - x[i])) / C (targets listed per row, ended by the first -1);
* ``ctc_loss``: -log p(target | input) summed over all CTC alignments, by the forward
  (alpha) recursion in log space; vectorised over the batch, one step per time frame.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import _autocast_state, backend
from .._parser_message import _combination
from .._tensor_input import _SIGNATURES
from ..autograd import is_grad_enabled
from ..autograd._node_names import rename_node
from ..ops._autocast_cast import widen as _autocast_widen
from ..ops.stacking import cat, stack
from ..tensor import Tensor
from ..ops.pointwise_select import where
from ..ops.relu_clamp import relu
from ..ops._util import not_implemented_for, scalar_type_name
from ..ops.softmax import logsumexp
from ._functional_losses import _legacy, _reduce

__all__ = ["multi_margin_loss", "multilabel_margin_loss", "ctc_loss"]

# stands for log(0) in the CTC recursion: finite, so logsumexp and its gradient stay finite
_LOG_ZERO = -1e30


def _as_array(x):
    return backend.as_numpy(x._array) if isinstance(x, Tensor) else np.asarray(x)


def _check_tensors(op, input, target):
    """PyTorch's parser: the scores and the target must be tensors."""
    for position, (name, value) in enumerate((("input", input), ("target", target)), 1):
        if not isinstance(value, Tensor):
            raise TypeError(f"{op}(): argument '{name}' (position {position}) must be Tensor, "
                            f"not {type(value).__name__}")


def _check_scores(input):
    """The margin losses take a non-empty vector or a matrix with at least one class (only
    the batch may be empty); a 0-d input is a single score."""
    if not ((input.ndim <= 1 and input.numel() > 0) or (input.ndim == 2 and input.shape[1] > 0)):
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch "
                           f"size, but got: {list(input.shape)}")


def _margin_kernel_checks(kernel, x, target, reduction, weight=None):
    """PyTorch's margin kernels take float32/float64 scores and int64 targets; an empty batch
    runs no kernel, so nothing is checked and the (empty, or zero) loss keeps the input's dtype.
    -> that loss for an empty batch of integer scores (nothing to differentiate), else None."""
    if x._array.size == 0:
        if x._array.dtype.kind in "fV":
            return None
        xp = backend.xp_of(x._array)
        return Tensor._wrap(xp.zeros((0,) if reduction == "none" else (), dtype=x._array.dtype))
    if x._array.dtype.name not in ("float32", "float64"):
        raise not_implemented_for(kernel, x._array.dtype)
    tdt = target._array.dtype if isinstance(target, Tensor) else np.asarray(target).dtype
    if tdt != np.int64:
        raise RuntimeError(f"expected scalar type Long but found {scalar_type_name(tdt)}")
    if weight is not None and weight._array.dtype != x._array.dtype:
        raise RuntimeError(f"expected scalar type {scalar_type_name(x._array.dtype)} but found "
                           f"{scalar_type_name(weight._array.dtype)}")
    return None


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """Input (N, C), (C,) or () scores, target (N,) or () class indices -> per-sample
    sum_{i != y} w[y] max(0, margin - x[y] + x[i])^p / C, then reduced ('none': the target's
    shape)."""
    reduction = _legacy(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None:
        if not isinstance(weight, Tensor):        # (PyTorch asks for weight.dim() here)
            raise AttributeError(f"'{type(weight).__name__}' object has no attribute 'dim'")
        if weight.ndim != 1:
            raise ValueError("weight must be one-dimensional")
    if _autocast_state.active:             # one of the ops CPU autocast runs in float32
        input, target, weight = _autocast_widen(input, target, weight)
    _check_tensors("multi_margin_loss", input, target)
    if isinstance(margin, bool) or not isinstance(margin, (numbers.Number, Tensor)):
        raise TypeError(f"multi_margin_loss(): argument 'margin' (position 4) must be Number, "
                        f"not {type(margin).__name__}")
    if weight is not None and weight.requires_grad and is_grad_enabled():
        # (PyTorch's autograd refuses it before the kernel's checks)
        raise RuntimeError("The function 'multi_margin_loss' is not differentiable with "
                           "respect to argument 'weight'. This input cannot have "
                           "requires_grad True.")
    _check_scores(input)
    n, c = (1, input.numel()) if input.ndim <= 1 else tuple(input.shape)
    if target.ndim > 1 or target.numel() != n:
        raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D with size equal to "
                           f"the number of input samples (batch size). Expected target size "
                           f"[{n}], but got {list(target.shape)}. Input has shape "
                           f"{list(input.shape)}.")
    if weight is not None and weight.numel() != c:
        raise RuntimeError(f"inconsistent weight size, expected {c} but got "
                           f"{list(weight.shape)}")
    x = input.reshape(n, c)
    empty = _margin_kernel_checks("multi_margin_loss_cpu_kernel", x, target, reduction, weight)
    if empty is not None:
        return empty
    t = _as_array(target).reshape(-1).astype("int64")
    if t.size and (t.min() < 0 or t.max() >= c):
        raise RuntimeError("target out of range")
    xp = backend.xp_of(x._array)
    idx = Tensor._wrap(t[:, None])
    gaps = relu(x - x.gather(1, idx) + margin)
    if p == 2:
        gaps = gaps * gaps
    if weight is not None:
        # (the dtypes can differ only for an empty batch, whose loss keeps the input's dtype)
        gaps = gaps * weight.gather(0, Tensor._wrap(t)).unsqueeze(1).to(x.dtype)
    wrong = Tensor._wrap((xp.arange(c)[None, :] != t[:, None]).astype(x._array.dtype))
    loss = (gaps * wrong).sum(1) / c
    loss = loss.reshape(tuple(target.shape))      # PyTorch's 'none' has the target's shape
    # one fused kernel in PyTorch, whatever the reduction: its node names the whole loss.
    # Composed of differentiable ops, it has second and forward-mode derivatives, which
    # PyTorch's kernel lacks
    return rename_node(_reduce(loss, reduction), "MultiMarginLossBackward0")


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Input (N, C) or (C,), target of the same shape holding class indices, the list ending
    at the first -1 -> per-sample sum_j sum_{i not a target} max(0, 1 - x[j] + x[i]) / C."""
    reduction = _legacy(size_average, reduce, reduction)
    if _autocast_state.active:             # one of the ops CPU autocast runs in float32
        input, target = _autocast_widen(input, target)
    _check_tensors("multilabel_margin_loss", input, target)
    _check_scores(input)
    if input.ndim == 0:               # a single score: one class, the loss is 0-d
        if target.ndim > 1 or target.numel() != 1:
            raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of "
                               f"size: {list(input.shape)}")
        return multilabel_margin_loss(input.reshape(1), target.reshape(1), reduction=reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: "
                           f"{list(input.shape)}")
    batched = input.ndim == 2
    x = input if batched else input.unsqueeze(0)
    n, c = x.shape
    t = _as_array(target).reshape(x.shape)
    # every entry must be a class or -1, those after the list's end too (PyTorch's check,
    # before any of dtypes, on the values read as integers: 2.7 is class 2)
    t = t.astype("int64")
    if t.size and ((t < -1) | (t >= c)).any():
        raise RuntimeError("argument #2 'target' is out of range")
    xp = backend.xp_of(x._array)
    listed = xp.cumprod(t >= 0, axis=1).astype(bool)          # before the first -1
    empty = _margin_kernel_checks("multilabel_margin_loss_forward_out_frame", x, target,
                                  reduction)
    if empty is not None:
        return empty
    safe = xp.where(listed, t, 0)
    is_target = xp.zeros((n, c), dtype=bool)
    rows = xp.broadcast_to(xp.arange(n)[:, None], (n, c))
    is_target[rows[listed], safe[listed]] = True
    xj = x.gather(1, Tensor._wrap(safe))                       # (N, C): x at each listed target
    pairs = relu(x.unsqueeze(1) - xj.unsqueeze(2) + 1.0)      # [n, j, i]
    keep = (listed[:, :, None] & ~is_target[:, None, :]).astype(x._array.dtype)
    loss = (pairs * Tensor._wrap(keep)).sum((1, 2)) / c
    if not batched:
        loss = loss.reshape(())
    # one fused kernel in PyTorch, whatever the reduction: its node names the whole loss
    # (composed, with second and forward-mode derivatives, as multi_margin_loss's)
    return rename_node(_reduce(loss, reduction), "MultilabelMarginLossBackward0")


def _lengths(x, name):
    """ctc_loss's ``input_lengths`` or ``target_lengths`` as int64 values (a tensor of them
    must be of an integer type); their count is checked later."""
    if isinstance(x, Tensor) and x._array.dtype.kind not in "iu":
        raise RuntimeError(f"{name} must be integral")
    arr = _as_array(x)
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"ctc_loss(): argument '{name}' must be a tuple of ints or an integer "
                        f"Tensor, not {type(x).__name__} of {arr.dtype.name} values")
    return arr.reshape(-1).astype("int64")


def _check_ctc_targets(tg, tg_len, n, s_max):
    """PyTorch's checks of ctc_loss's targets against their lengths, in its words: the
    first negative length, then a 1-D (concatenated) target's exact size, or a 2-D one's
    rows and width."""
    where = "for argument #2 'targets' (while checking arguments for ctc_loss_allocate_outputs)"
    negative = np.flatnonzero(tg_len < 0)
    if negative.size:
        raise RuntimeError(f"Expected target_lengths to have value at least 0, but got value "
                           f"{int(tg_len[negative[0]])} (while checking arguments for "
                           f"ctc_loss_allocate_outputs)")
    if tg.ndim == 1:
        if tg.shape[0] != int(tg_len.sum()):
            raise RuntimeError(f"Expected tensor to have size {int(tg_len.sum())} at dimension 0, "
                               f"but got size {tg.shape[0]} {where}")
    else:
        if tg.shape[0] != n:
            raise RuntimeError(f"Expected tensor to have size {n} at dimension 0, but got size "
                               f"{tg.shape[0]} {where}")
        if tg.shape[1] < s_max:
            raise RuntimeError(f"Expected tensor to have size at least {s_max} at dimension 1, "
                               f"but got size {tg.shape[1]} {where}")


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """Connectionist temporal classification loss.  log_probs (T, N, C) (or (T, C)) are
    log-probabilities per frame; targets (N, S) padded or 1-D concatenated (lengths in
    ``target_lengths``); ``input_lengths`` frames of each sample count.  Per sample
    -log sum over alignments; 'mean' divides each by its target length (at least 1) and
    averages; an impossible alignment gives inf (0 with ``zero_infinity``)."""
    reduction = _legacy(None, None, reduction)      # PyTorch reads it before any check
    if not (isinstance(input_lengths, Tensor) and isinstance(target_lengths, Tensor) or
            all(isinstance(x, (list, tuple)) for x in (input_lengths, target_lengths))):
        # torch.ctc_loss's parser takes both lengths as tuples of ints or both as Tensors
        args = (log_probs, targets, input_lengths, target_lengths, blank,
                ("none", "mean", "sum").index(reduction), zero_infinity)
        raise _combination("ctc_loss", args, {}, _SIGNATURES["ctc_loss"])
    if _autocast_state.active:             # one of the ops CPU autocast runs in float32
        log_probs, = _autocast_widen(log_probs)
    # PyTorch's order: the lengths' dtypes, the kernel's dtype, an empty input, then the
    # ranks, the blank, the lengths' counts and the targets' sizes (its allocate_outputs)
    in_len = _lengths(input_lengths, "input_lengths")
    tg_len = _lengths(target_lengths, "target_lengths")
    if log_probs._array.dtype.kind not in "fV" or log_probs._array.dtype.itemsize < 4:
        device = "cuda" if log_probs.device.type == "cuda" else "cpu"
        raise not_implemented_for(f"ctc_loss_{device}", log_probs._array.dtype)
    if log_probs.numel() == 0:
        raise RuntimeError("log_probs tensor must not be empty")
    batched = log_probs.ndim == 3
    lp = log_probs if batched else log_probs.unsqueeze(1)
    if lp.ndim != 3:        # PyTorch's words name the rank after its unsqueeze of dim 1
        raise RuntimeError(f"Expected 3-dimensional tensor, but got {lp.ndim}-dimensional tensor "
                           "for argument #1 'log_probs' (while checking arguments for "
                           "ctc_loss_allocate_outputs)")
    tg = _as_array(targets).astype("int64")
    if not 1 <= tg.ndim <= 2:
        raise RuntimeError(f"Expected 1 to 2 dimensions, but got {tg.ndim}-dimensional tensor "
                           "for argument #2 'targets' (while checking arguments for "
                           "ctc_loss_allocate_outputs)")
    steps, n, classes = lp.shape
    if not 0 <= blank < classes:
        raise RuntimeError("blank must be in label range")
    for name, arr in (("input_lengths", in_len), ("target_lengths", tg_len)):
        if arr.shape[0] != n:
            raise RuntimeError(f"{name} must be of size batch_size")
    xp = backend.xp_of(lp._array)
    s_max = max(int(tg_len.max()), 0) if n else 0
    _check_ctc_targets(tg, tg_len, n, s_max)
    if tg.ndim == 1 and batched:     # concatenated targets: row b takes the next tg_len[b]
        padded = xp.full((n, s_max), blank, dtype=xp.int64)
        used = xp.arange(s_max)[None, :] < xp.asarray(tg_len)[:, None]    # (N, S), row-major
        padded[used] = tg[:int(tg_len.sum())]
        tg = padded
    else:
        tg = tg.reshape(n, -1)[:, :s_max] if s_max else xp.zeros((n, 0), dtype=xp.int64)
    bad = np.flatnonzero((in_len < 0) | (in_len > steps))
    if bad.size:                                    # the first sample out of [0, T], as PyTorch
        got = int(in_len[bad[0]])
        bound = "at least 0" if got < 0 else f"at most {steps}"
        raise RuntimeError(f"Expected input_lengths to have value {bound}, but got value {got} "
                           "(while checking arguments for ctc_loss_allocate_outputs)")
    width = 2 * s_max + 1
    ext = xp.full((n, width), blank, dtype=xp.int64)              # blank, l1, blank, l2, ...
    ext[:, 1::2] = tg
    skip = xp.zeros((n, width), dtype=bool)                       # s-2 -> s allowed
    skip[:, 3::2] = tg[:, 1:] != tg[:, :-1]
    emit = lp.gather(2, Tensor._wrap(xp.ascontiguousarray(
        xp.broadcast_to(ext[None], (steps, n, width)))))            # (T, N, 2S+1)
    neg = Tensor._wrap(xp.full((n, 1), _LOG_ZERO, dtype=lp._array.dtype))
    neg2 = Tensor._wrap(xp.full((n, 2), _LOG_ZERO, dtype=lp._array.dtype))
    start = xp.full((n, width), _LOG_ZERO, dtype=lp._array.dtype)
    start[:, 0] = 0.0
    if width > 1:
        start[:, 1] = xp.where(tg_len > 0, 0.0, _LOG_ZERO)
    alpha = emit[0] + Tensor._wrap(start) if steps else Tensor._wrap(start)
    if steps and not in_len.all():
        # a sample with no frames emits nothing: alpha stays at its start (p(empty) = 1)
        alpha = where(Tensor._wrap((in_len > 0)[:, None]), alpha, Tensor._wrap(start))
    skip_t = Tensor._wrap(skip)
    for t in range(1, steps):
        one = cat([neg, alpha[:, :-1]], 1)                        # from s - 1
        if width > 2:                                              # from s - 2, where allowed
            two = where(skip_t, cat([neg2, alpha[:, :-2]], 1), neg)
        else:
            two = neg.expand(n, width)
        new = logsumexp(stack([alpha, one, two]), 0) + emit[t]
        alpha = where(Tensor._wrap((t < in_len)[:, None]), new, alpha)
    rows = xp.arange(n)
    last = alpha[Tensor._wrap(rows), Tensor._wrap(2 * tg_len)]
    before = alpha[Tensor._wrap(rows), Tensor._wrap(xp.maximum(2 * tg_len - 1, 0))]
    before = where(Tensor._wrap(tg_len > 0), before, neg.reshape(-1))
    nll = -logsumexp(stack([last, before]), 0)
    impossible = Tensor._wrap((nll._array > -_LOG_ZERO / 2) | (in_len == 0) & (tg_len > 0))
    if zero_infinity:                   # PyTorch's where over its CtcLossBackward0 node
        nll = where(impossible, 0.0, rename_node(nll, "CtcLossBackward0"))
    else:
        nll = rename_node(where(impossible, float("inf"), nll), "CtcLossBackward0")
    if reduction == "mean":
        divisor = Tensor._wrap(xp.maximum(tg_len, 1).astype(lp._array.dtype))
        return (nll / divisor).mean()
    if reduction == "sum":
        return nll.sum()
    return nll if batched else nll.squeeze(0)
