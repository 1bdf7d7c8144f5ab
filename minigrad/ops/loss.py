"""Classification losses over class scores, with PyTorch's semantics and numerically stable
formulas: ``cross_entropy`` and ``nll_loss``.  The reduction helpers every loss module shares
(``reduction`` checks, the deprecated ``size_average`` / ``reduce`` flags, the final reduce)
are in ``loss_reduction.py``.

``cross_entropy`` with class indices is one fused node: log-softmax and the negative
log-likelihood together, whose gradient is simply softmax(x) - onehot(target) (scaled), so no
exp of a large logit ever overflows.  The fused losses compute forward on arrays and write
their backward with minigrad's ops, so that it can be differentiated again (on arrays
directly where the backward records no graph).  Scores are (C,), (N, C) or (N, C, d1, ...);
targets are class indices ((), (N) or (N, d1, ...)) or, for ``cross_entropy``,
probabilities of the scores' shape.

The fused node's kernels (the block-wise log-softmax forward, the gradient written into its
exp) are in ``_cross_entropy_rows.py``; float16 / bfloat16 reductions, rounded where
PyTorch's kernels round, in ``_class_loss_16bit.py``; the target's shape checks in
``_cross_entropy_targets.py``.

The regression losses (``mse_loss``, ``l1_loss``) are in ``regression_loss.py``, the binary
ones (``binary_cross_entropy`` and its logits version) in ``binary_loss.py``.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _autocast_state, backend, dtypes
from ..autograd import Function
from ..autograd._node_names import rename_node
from ..autograd.function import keep_for_backward
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from ._autocast_cast import widen as _autocast_widen
from ._loss_arguments import check_class_loss_arguments
from ._nll_cascade import cascade_reduce, grad_rows
from ._nll_second_order import nll_scores_grad
from ._nll_spatial import SpatialNLL, fits as spatial_fits
from ._util import FLOAT32_64 as _FLOATS, ieee_errors, not_implemented_for, scalar_type_name
from .elementwise import mul
from .pointwise_select import where
from .movement import permute, reshape
from .plumbing import reshape_to
from .reduce import sum as reduce_sum
from .softmax import log_softmax
from . import _class_loss_16bit as half16
from ._cross_entropy_split import split_log_softmax
from ._cross_entropy_targets import check_class_target_shape as _check_class_target_shape
from ._cross_entropy_rows import (CrossEntropyGrad, coefficients, cross_entropy_grad_into,
                                  exp_rows_again, softmax_rows)
from .loss_reduction import _check_reduction, _legacy_reduction

# the dtypes a class-index target may have (int64 first), for identity tests
_TARGET_DTYPES = (np.dtype(np.int64), np.dtype(np.uint8))


class ClassNLL(Function):
    """Negative log-likelihood of class indices, optionally of logits (then = cross entropy).

    Shapes: scores (M, C) (the caller moves the class axis last and flattens the rest),
    target (M,) ints, weight (C,) or None.  Per row i with t = target[i]:
        loss_i = (1 - eps) * w[t] * (-logp[i, t])  +  (eps / C) * sum_c w[c] * (-logp[i, c])
    where logp = log_softmax(scores) when ``from_logits`` else scores, and eps is the label
    smoothing. Rows whose target is ``ignore_index`` count zero.  'mean' divides by the summed
    weights w[t] of the counted rows, as PyTorch.
    """
    def forward(self, scores, *, target, weight, ignore_index, reduction, label_smoothing,
                from_logits, all_valid=False, half=None, out_shape=None):
        out = self._forward(scores, target, weight, ignore_index, reduction, label_smoothing,
                            from_logits, all_valid, half)
        # ('none', ``out_shape``: the target-shaped loss is this node's; its gradient flattened)
        return out if out_shape is None else out.reshape(out_shape)

    def _forward(self, scores, target, weight, ignore_index, reduction, label_smoothing,
                 from_logits, all_valid, half):
        # all_valid: the caller found every target in [0, C) and ignore_index outside it, so
        # no row is ignored (the common case: two small passes fewer). Without class weights
        # too ("plain"), every row weighs 1: the weights of ones that the backward reads are
        # made there (``_unit_weights``), the loss is -logp at the targets
        xp = backend.xp_of(scores)
        m, c = scores.shape
        plain = all_valid and weight is None
        if all_valid:       # valid: every row; read only with label smoothing, else None
            valid = xp.ones(m, dtype=bool) if label_smoothing else None
            t = target
        else:
            valid = target != ignore_index                           # (M,)
            t = xp.where(valid, target, 0)
        rows = xp.arange(m)
        logp, smooth = scores, None
        if from_logits:
            # exp(x - row_max) and its row sums s, block by block; log-softmax = x - row_max -
            # log s is never made whole: the loss reads it at the targets' columns (and, with
            # smoothing, its weighted row sums). The backward's softmax is E / s: E is kept
            # (the logits too, an input: a second derivative flows into them).
            w_smooth = None if not label_smoothing else True if weight is None else weight
            e, row_max, sums, wdot = softmax_rows(scores, w_smooth)
            lse = xp.log(sums)
            if m and c:
                picked = scores[rows, t]                    # (a copy: written in place)
                picked -= row_max
                picked -= lse
            else:
                picked = xp.zeros(m, scores.dtype)
            if label_smoothing:              # sum_c w_c logp_c = sum_c w_c (x_c - max) - W lse
                total_w = c if weight is None else weight.sum()
                smooth = -(wdot - total_w * lse)
            self.exp_rows, self.row_max, self.sums = e, row_max, sums
        else:
            picked = logp[rows, t]                                   # (M,) logp at the target
        self.save_for_backward(scores)      # (log-probabilities: for the double backward)
        if plain:
            w_t = w_class = None                # ones, made by the backward if it needs them
        else:
            w_class = weight if weight is not None else xp.ones(c, dtype=scores.dtype)
            w_t = w_class[t] if all_valid else w_class[t] * valid    # (M,) weight of each row
        if plain and not label_smoothing:
            loss = xp.negative(picked, out=picked)      # times the weights of ones: exactly it
        else:           # (a weight of one left out of the product changes no bit of it)
            loss = -(1 - label_smoothing) * picked if plain else \
                -(1 - label_smoothing) * w_t * picked
        if label_smoothing:
            if smooth is None:
                smooth = -(logp * w_class).sum(axis=1) if w_class is not None else \
                    -logp.sum(axis=1)
            smooth = smooth * valid                                  # (M,)
            loss = loss + (label_smoothing / max(c, 1)) * smooth
        self.t, self.w_t, self.w_class, self.valid = t, w_t, w_class, valid
        self.reduction, self.shape = reduction, (m, c)
        self.label_smoothing, self.from_logits, self.half = label_smoothing, from_logits, None
        if reduction != "none" and not label_smoothing and type(loss) is np.ndarray and \
                loss.dtype in _FLOATS:          # PyTorch's order of additions: its bits
            out, denominator = cascade_reduce(loss, None if all_valid else valid,
                                              None if weight is None else w_t, reduction)
        elif reduction == "mean":
            if plain and scores.dtype.kind == "f" and scores.dtype.itemsize >= 4:
                denominator = scores.dtype.type(m)  # the sum of the M ones, without the pass
            else:
                self._unit_weights(xp, scores.dtype)
                denominator = self.w_t.sum()
            out = loss.sum() / denominator       # every target ignored: nan, as PyTorch
        else:
            denominator = None
            out = loss.sum() if reduction == "sum" else loss
        self.denominator = denominator
        if half is not None and type(scores) is np.ndarray:
            # 16-bit log-probabilities: summed and rounded where PyTorch's kernels round
            self.half, self.weight = scores.dtype, weight
            with np.errstate(all="ignore"):
                if label_smoothing:
                    out = half16.smoothed_value(scores, t, weight, valid, reduction,
                                                label_smoothing, self.half)
                    self.total_weight = None if reduction == "none" else half16.nll_reduced(
                        scores, t, weight, valid, reduction, self.half)[1]
                else:
                    out, self.total_weight = half16.nll_reduced(scores, t, weight, valid,
                                                                reduction, self.half)
            return dtypes.astype(np.asarray(out), scores.dtype)
        return out.astype(scores.dtype, copy=False)

    def _unit_weights(self, xp, dtype):
        """The class weights and per-row weights of ones (``dtype``, arrays of ``xp``) that
        ``forward`` left out (every row counted, no class weights)."""
        if self.w_t is None:
            m, c = self.shape
            self.w_t, self.w_class = xp.ones(m, dtype), xp.ones(c, dtype)

    def backward(self, g):
        """g: () for 'mean'/'sum', (M,) for 'none' -> dL/dscores (M, C).

        Per unit of a row's incoming gradient, dL/dlogp is the constant A (``_coefficients``).
        For log-probabilities that is the whole gradient, g * A; through log_softmax it is
        dL/dx = g * (A - softmax(x) * sum_c A), a node of its own (``CrossEntropyGrad``).
        """
        m, c = self.shape
        if g.ndim > 1:                  # (a 'none' loss in the target's shape)
            g = reshape_to(g, (m,))
        scores = self.saved_tensors[0]._array
        xp = backend.xp_of(scores)
        self._unit_weights(xp, scores.dtype)
        coef = 1.0
        if self.reduction == "mean":
            if self.denominator != 0:
                coef = 1.0 / self.denominator
            else:
                # Every target ignored: the loss is 0/0 = nan. As PyTorch, its gradient is 0
                # by convention, while the derivative of that gradient with respect to g stays
                # 0/0 = nan: a where() that selects 0, its other branch g * nan receiving the
                # derivative with respect to g.
                g = where(xp.ones((), dtype=bool), 0.0, mul(g, float("nan")))
        if self.from_logits:
            x, = self.saved_tensors
            args = dict(t=self.t, w_t=self.w_t, w_class=self.w_class, valid=self.valid,
                        eps=self.label_smoothing, coef=coef)
            xa, ga = x._array, g._array
            e, self.exp_rows = self.exp_rows, None       # the first backward writes into E
            if e is None:                                # (a second one makes it again)
                e = exp_rows_again(xa, self.row_max)
            if not is_grad_enabled() and type(xa) is np.ndarray and xa.dtype in _FLOATS and \
                    ga.dtype == xa.dtype:       # nothing to record: the node's arrays alone
                with ieee_errors():
                    return Tensor._wrap(cross_entropy_grad_into(e, self.sums, ga, **args))
            soft = e
            soft /= self.sums[:, None]
            return CrossEntropyGrad.apply(x, g, soft=soft, **args)
        if self.half is not None and not is_grad_enabled() and g._array.dtype == self.half:
            with np.errstate(all="ignore"):
                a = _half_grad(self, dtypes.astype(g._array, np.float32))
            return Tensor._wrap(dtypes.astype(a, self.half))
        ga = g._array
        if not (self.label_smoothing or is_grad_enabled()) and type(ga) is np.ndarray and \
                ga.dtype == scores.dtype and ga.dtype in _FLOATS and \
                (self.reduction != "mean" or self.denominator != 0):
            # nothing to record: PyTorch's products, only the counted rows written
            return Tensor._wrap(grad_rows((m, c), self.t, self.w_t, self.valid, ga,
                                          self.denominator, self.reduction))
        a = coefficients(self.t, self.w_t, self.w_class, self.valid, self.label_smoothing, coef)
        if not is_grad_enabled() and g._array.dtype == a.dtype:     # nothing to record
            a *= g._array.reshape(-1, 1)
            return Tensor._wrap(a)
        g_shape = (m if self.reduction == "none" else 1, 1)
        x, = self.saved_tensors
        if x.requires_grad and not self.label_smoothing:
            # PyTorch's NllLossBackwardBackward0: the gradient counts x (which gets zeros)
            return nll_scores_grad(x, g, a, g_shape, self.name() == "NllLoss2DBackward0")
        return mul(reshape_to(g, g_shape), Tensor._wrap(a))

    @property
    def next_functions(self):       # with PyTorch's LogSoftmaxBackward0 (_cross_entropy_split)
        return Function.next_functions.fget(split_log_softmax(self) if self.from_logits else self)


def _rounding_dtype(scores, from_logits, reduction, label_smoothing):
    """The 16-bit dtype of log-probabilities that ClassNLL sums and rounds as PyTorch's kernels
    do (``_class_loss_16bit``), or None: reduced or smoothed 16-bit losses (a 'none' loss
    without smoothing rounds once, as PyTorch's). Handed to the node as a dtype, it also keeps
    a bfloat16 forward in bfloat16 (not widened to float32: ``autograd.function``)."""
    dtype = scores._array.dtype
    if (not from_logits and dtype.itemsize == 2 and dtype.kind in "fV" and
            (reduction != "none" or bool(label_smoothing))):
        return dtype
    return None


def _half_grad(node, g):
    """The 16-bit loss's gradient (M, C) with respect to its log-probabilities, float32."""
    m, c = node.shape
    valid = node.valid
    if node.label_smoothing:
        return half16.smoothed_grads(g, node.t, node.weight, valid, node.reduction,
                                     node.label_smoothing, node.total_weight, m, c, node.half)
    return half16.nll_grad(g, node.t, node.weight, valid, node.reduction, node.total_weight,
                           m, c, node.half)


def _class_axis_last(input, target):
    """(N, C, d1, ...) scores and (N, d1, ...) targets -> (M, C) and (M,); also (C,) and ()
    (their shapes checked already: ``_check_class_target_shape``)."""
    if input.ndim == 1:
        return reshape(input, 1, -1), target._array.reshape(1), ()
    if input.ndim == 2:              # already (M, C): no view node between it and the loss's
        n = input._array.shape[0]    # (the common case, read off the array's own shape)
        return input, target._array.reshape(n), (n,)
    n, c = input.shape[0], input.shape[1]
    expected = (n,) + tuple(input.shape[2:])
    scores = input
    if input.ndim > 2:
        scores = permute(input, 0, *range(2, input.ndim), 1)
    m = math.prod(expected)          # (not -1: with no classes the count is not implied)
    return reshape(scores, m, c), target._array.reshape(m), expected


def _check_class_weight(weight, input, name, dtype_too=True):
    """One weight per class, in the input's dtype (PyTorch's kernel reads the class weights in
    it, no promotion), checked before the input is reshaped (which an empty one cannot be)."""
    # (named by PyTorch's kernel, which both losses end in: nll_loss2d's past 2 dims)
    _no_grad_argument(weight, "weight", "nll_loss2d_forward" if input.ndim > 2 else
                      "nll_loss_forward")
    c = input.shape[0 if input.ndim == 1 else 1]
    if tuple(weight.shape) != (c,):
        if input.ndim >= 3:             # (PyTorch's nll_loss2d words)
            raise RuntimeError("weight tensor should be defined either for all or no classes")
        raise RuntimeError(f"weight tensor should be defined either for all {c} classes or no "
                           f"classes but got weight tensor of shape: {list(weight.shape)}")
    if dtype_too and weight._array.dtype != input._array.dtype:
        raise RuntimeError(f"expected scalar type {scalar_type_name(input._array.dtype)} "
                           f"but found {scalar_type_name(weight._array.dtype)}")


def _class_loss(input, target, weight, ignore_index, reduction, label_smoothing, from_logits,
                name):
    _check_reduction(reduction)
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{name}: input and target must be Tensors")
    loss = _common_class_loss(input, target, weight, ignore_index, reduction, label_smoothing,
                              from_logits)
    if loss is not None:
        return loss
    _check_label_smoothing(label_smoothing)     # (PyTorch: before its log_softmax)
    floating = input._array.dtype.kind in "fV"
    if from_logits and not floating and input._array.size and input.ndim:
        # PyTorch's log_softmax refuses the integer scores first
        kernel = "log_softmax_lastdim_kernel_impl" if input.ndim <= 2 else "log_softmax_kernel_impl"
        raise not_implemented_for(kernel, input._array.dtype)
    if (type(target._array) is not np.ndarray or type(input._array) is not np.ndarray) and \
            target.device != input.device:       # (two numpy arrays are both on the CPU)
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two"
                           f" devices, {input.device} and {target.device}!")
    if from_logits and input.ndim == 0:         # PyTorch's log_softmax over dim 1 comes first
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got 1)")
    if input.ndim == 1 and target.ndim <= 1 and target._array.dtype not in _TARGET_DTYPES:
        # a single sample: PyTorch reads the target's dtype before its size
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{scalar_type_name(target._array.dtype)}")
    _check_class_target_shape(input, target, name)
    if target._array.dtype not in _TARGET_DTYPES:
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{scalar_type_name(target._array.dtype)}")
    if weight is not None:      # (its dtype is read by the floating kernels only)
        _check_class_weight(weight, input, name, dtype_too=floating)
    spatial = spatial_fits(input, from_logits, _smoothing(label_smoothing))  # (N, C, d1, ..)
    scores, t, out_shape = (input, target._array.reshape(-1), tuple(target.shape)) if spatial \
        else _class_axis_last(input, target)
    if not floating:
        kernel = "nll_loss_out_frame" if input.ndim <= 2 else "nll_loss2d_forward_out_frame"
        raise not_implemented_for(kernel, input._array.dtype)
    if input.ndim > 2 and input._array.size and target._array.dtype != _TARGET_DTYPES[0]:
        # PyTorch's spatial kernel reads int64 targets only (its 1-d one takes uint8 too)
        raise RuntimeError(f"expected scalar type Long but found "
                           f"{scalar_type_name(target._array.dtype)}")
    c = scores.shape[1]
    if t.dtype.kind not in "iu":
        raise RuntimeError(f"{name}: expected target of integer class indices (int64), got "
                           f"{target.dtype}; for class probabilities pass a float target with "
                           f"the input's shape")
    w = None if weight is None else weight._array
    xp = backend.xp_of(t)
    # seen as unsigned, a negative target is above c too: one comparison finds both ends
    checked_all = False
    if t.size and bool((t.view(xp.uint64) if t.dtype.kind == "i" else t).max() >= c):
        bad = (t != ignore_index) & ((t < 0) | (t >= c))
        value = int(t[bad][0]) if bool(bad.any()) else None
    else:
        value, checked_all = None, True
    if value is not None:
        raise IndexError(f"Target {value} is out of bounds. {name} expects class indices in "
                         f"[0, {c - 1}] for an input with {c} classes")
    smoothing = _smoothing(label_smoothing)
    # every target in [0, c) (the bounds test above passed) and ignore_index none of them
    all_valid = value is None and checked_all and not 0 <= ignore_index < c
    if input.ndim == 1 and target.ndim == 1 and smoothing:
        # PyTorch's smoothed loss adds the (1,) smoothing term into the () class loss in place
        raise RuntimeError("output with shape [] doesn't match the broadcast shape [1]")
    if spatial:
        # ('none': a 4-d input's loss is the node's own (N, H, W) output, as PyTorch's
        # NllLoss2D; the other shapes are viewed from the flat one below, as its)
        loss = SpatialNLL.apply(input, target=t.astype(xp.int64, copy=False), weight=w,
                                ignore_index=ignore_index, reduction=reduction,
                                all_valid=all_valid,
                                out_shape=out_shape if input.ndim == 4 else None)
    else:
        # ('none', spatial: PyTorch's node makes the target-shaped loss for 4-d or smoothed)
        own_shape = reduction == "none" and input.ndim > 2 and (smoothing or input.ndim == 4)
        loss = _nll_node(input.ndim, smoothing).apply(
            scores, target=t.astype(xp.int64, copy=False), weight=w, ignore_index=ignore_index,
            reduction=reduction, label_smoothing=smoothing, from_logits=from_logits,
            all_valid=all_valid, half=_rounding_dtype(scores, from_logits, reduction, smoothing),
            out_shape=out_shape if own_shape else None)
    loss = keep_for_backward(loss, target)        # as PyTorch's nll_loss node keeps it
    if reduction == "none" and tuple(loss.shape) != tuple(out_shape):
        loss = reshape(loss, out_shape)
    return loss


def _common_class_loss(input, target, weight, ignore_index, reduction, label_smoothing,
                       from_logits):
    """The loss of the common call without the general path's checks, or None: scores (N, C)
    float32/float64 numpy, targets (N,) int64 all in [0, C), ``ignore_index`` none of them,
    no class weights, no smoothing. Every check of ``_class_loss`` passes for such a call
    (a third of a 32 x 10 loss's time went to them)."""
    a, t = input._array, target._array
    if not (weight is None and type(a) is np.ndarray and type(t) is np.ndarray and
            a.ndim == 2 and t.ndim == 1 and a.dtype in _FLOATS and t.dtype == _TARGET_DTYPES[0]
            and not label_smoothing > 0.0 and a.size):
        return None
    m, c = a.shape
    if t.shape[0] != m or 0 <= ignore_index < c or bool(t.view(np.uint64).max() >= c):
        return None             # (seen as unsigned, a negative target is above c too)
    loss = _NLL_PLAIN.apply(input, target=t, weight=None, ignore_index=ignore_index,
                            reduction=reduction, label_smoothing=0.0, from_logits=from_logits,
                            all_valid=True, half=None)
    return keep_for_backward(loss, target)        # as PyTorch's nll_loss node keeps it


def _nll_node(ndim, label_smoothing):
    """ClassNLL under the name of the node PyTorch's loss ends in: its nll_loss kernel's for
    (N, C) or (C,) scores, its spatial kernel's for more dims, and with label smoothing the
    sum of the two losses it adds up."""
    if label_smoothing:
        return ClassNLL.renamed("AddBackward0")
    return ClassNLL.renamed("NllLossBackward0" if ndim <= 2 else "NllLoss2DBackward0")


_NLL_PLAIN = _nll_node(2, 0.0)


def _check_label_smoothing(label_smoothing):
    """PyTorch refuses only a smoothing above 1; one of 0 or below (or NaN) smooths nothing."""
    if label_smoothing > 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{float(label_smoothing):g}")


def _smoothing(label_smoothing):
    return float(label_smoothing) if label_smoothing > 0.0 else 0.0


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Mean (or sum) of -input[i, target[i]] (times weight[target[i]]); input holds log-probs."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    ignore_index = check_class_loss_arguments("nll_loss", input, target, weight, ignore_index)
    if _autocast_state.active:             # autocast runs losses in float32
        input, weight = _autocast_widen(input, weight)
    return _class_loss(input, target, weight, ignore_index, reduction, 0.0, False, "nll_loss")


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross entropy between logits ``input`` (N, C, ...) and ``target``.

    ``target`` holds class indices (N, ...) or class probabilities (same shape as input).
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)            # PyTorch reads it before any of its checks
    ignore_index = check_class_loss_arguments("cross_entropy", input, target, weight,
                                              ignore_index, label_smoothing)
    if _autocast_state.active:             # autocast runs losses in float32
        input, target, weight = _autocast_widen(input, target, weight)
    if isinstance(target, Tensor) and isinstance(input, Tensor) and \
            target._array.shape == input._array.shape:
        if target._array.dtype.kind not in "fV":
            raise RuntimeError(f"Expected floating point type for target with class "
                               f"probabilities, got {scalar_type_name(target._array.dtype)}")
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        if input._array.dtype.kind not in "fV" and input._array.size and input.ndim:
            # PyTorch's log_softmax refuses integer scores before the smoothing is checked
            raise not_implemented_for("log_softmax_lastdim_kernel_impl" if input.ndim <= 2 else
                                      "log_softmax_kernel_impl", input._array.dtype)
        _check_label_smoothing(label_smoothing)
        return _cross_entropy_probabilities(input, target, weight, reduction,
                                            _smoothing(label_smoothing))
    logits = True
    if isinstance(input, Tensor) and input._array.dtype.itemsize == 2 and input.ndim and \
            input._array.dtype.kind in "fV" and input._array.size:
        # 16-bit scores: PyTorch's two kernels, each rounding to the 16-bit dtype
        input, logits = log_softmax(input, 0 if input.ndim == 1 else 1), False
    return _class_loss(input, target, weight, ignore_index, reduction, label_smoothing, logits,
                       "cross_entropy")


def _cross_entropy_probabilities(input, target, weight, reduction, label_smoothing):
    """-sum_c w_c y_c log_softmax(x)_c per sample, composed from differentiable ops."""
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise RuntimeError(f"cross_entropy: a probability target must have the input's shape "
                           f"{list(input.shape)}, got {list(target.shape)}")
    class_dim = 0 if input.ndim == 1 else 1
    c = input.shape[class_dim]
    if weight is not None and tuple(weight.shape) != (c,):
        raise RuntimeError(f"cross_entropy: weight tensor should be defined either for all {c} "
                           f"classes or no classes but got weight tensor of shape: "
                           f"{list(weight.shape)}")
    logp = log_softmax(input, class_dim)
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / c
    terms = logp * target
    if weight is not None:
        shape = [1] * input.ndim
        shape[class_dim] = c
        terms = terms * weight.reshape(shape)
    if reduction == "none":
        return -reduce_sum(terms, class_dim)
    # one sum over every term, then the sign (PyTorch's order of nodes: NegBackward0 last)
    total = -terms.sum()
    if reduction == "sum":
        return total
    # PyTorch divides by the count as a number: DivBackward1, its node for a number divisor
    return rename_node(total / (input._array.size // c), "DivBackward1")


def _no_grad_argument(t, arg, name):
    """Class weights are constants here; PyTorch refuses to differentiate them, and so do we,
    where a graph would be recorded (under no_grad or inference_mode the call is taken)."""
    if t.requires_grad and is_grad_enabled():
        raise RuntimeError(f"The function '{name}' is not differentiable with respect to argument "
                           f"'{arg}'. This input cannot have requires_grad True.")


__all__ = ["cross_entropy", "nll_loss"]
