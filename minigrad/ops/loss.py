"""Loss functions, with PyTorch's semantics and numerically stable formulas.

``cross_entropy`` with class indices is one fused node: log-softmax and the negative
log-likelihood together, whose gradient is simply softmax(x) - onehot(target) (scaled), so no
exp of a large logit ever overflows.
"""
from __future__ import annotations

from .. import backend
from ..autograd import Function
from ._util import ieee_errors

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction (expected one of "
                         f"{', '.join(_REDUCTIONS)})")


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
                from_logits):
        xp = backend.xp_of(scores)
        m, c = scores.shape
        if from_logits:
            shifted = scores - scores.max(axis=1, keepdims=True)
            logp = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        else:
            logp = scores
        valid = target != ignore_index                               # (M,)
        t = xp.where(valid, target, 0)
        rows = xp.arange(m)
        w_class = weight if weight is not None else xp.ones(c, dtype=scores.dtype)
        w_t = w_class[t] * valid                                     # (M,) weight of each row
        picked = logp[rows, t]                                       # (M,) logp at the target
        loss = -(1 - label_smoothing) * w_t * picked
        if label_smoothing:
            smooth = -(logp * w_class).sum(axis=1) * valid           # (M,)
            loss = loss + (label_smoothing / c) * smooth
        if reduction == "mean":
            denominator = w_t.sum()
            with ieee_errors():                  # every target ignored: nan, as PyTorch
                out = loss.sum() / denominator
        elif reduction == "sum":
            denominator = None
            out = loss.sum()
        else:
            denominator = None
            out = loss
        self.save_for_backward(logp, t, w_t, w_class, valid)
        self.denominator, self.reduction = denominator, reduction
        self.label_smoothing, self.from_logits = label_smoothing, from_logits
        return out.astype(scores.dtype, copy=False)

    def backward(self, g):
        logp, t, w_t, w_class, valid = self.saved_tensors
        xp = backend.xp_of(logp)
        m, c = logp.shape
        # Per-row scale of the incoming gradient.
        if self.reduction == "mean":
            # Every target ignored: the loss is 0/0 = nan, but, as PyTorch, the gradient is 0.
            denominator = self.denominator if self.denominator != 0 else float("inf")
            scale = (g / denominator) * xp.ones(m, dtype=logp.dtype)
        elif self.reduction == "sum":
            scale = g * xp.ones(m, dtype=logp.dtype)
        else:
            scale = g
        # G = dL/dlogp: -(1 - eps) w[t] at the target column, -(eps / C) w[c] everywhere.
        grad = xp.zeros((m, c), dtype=logp.dtype)
        grad[xp.arange(m), t] = -(1 - self.label_smoothing) * w_t * scale
        if self.label_smoothing:
            grad -= (self.label_smoothing / c) * w_class[None, :] * (valid * scale)[:, None]
        if self.from_logits:
            # Through log_softmax: dL/dx = G - softmax(x) * sum_c G
            grad -= xp.exp(logp) * grad.sum(axis=1, keepdims=True)
        return grad


def _class_axis_last(input, target, name):
    """(N, C, d1, ...) scores and (N, d1, ...) targets -> (M, C) and (M,); also (C,) and ()."""
    from .movement import reshape, permute
    if input.ndim == 1:
        if target.ndim != 0:
            raise RuntimeError(f"{name}: for an unbatched input of shape {list(input.shape)} the "
                               f"target must be 0-d (a class index), got shape "
                               f"{list(target.shape)}")
        return reshape(input, 1, -1), target._array.reshape(1), ()
    if input.ndim < 1:
        raise ValueError(f"{name}: expected input with at least 1 dimension, got a 0-d tensor")
    n, c = input.shape[0], input.shape[1]
    expected = (n,) + tuple(input.shape[2:])
    if tuple(target.shape) != expected:
        if target.ndim and target.shape[0] != n:
            raise ValueError(f"Expected input batch_size ({n}) to match target batch_size "
                             f"({target.shape[0]}).")
        raise RuntimeError(f"{name}: expected target of shape {list(expected)} for input of shape "
                           f"{list(input.shape)}, got {list(target.shape)}")
    scores = input
    if input.ndim > 2:
        scores = permute(input, 0, *range(2, input.ndim), 1)
    return reshape(scores, -1, c), target._array.reshape(-1), expected


def _class_loss(input, target, weight, ignore_index, reduction, label_smoothing, from_logits,
                name):
    from .movement import reshape
    from ..tensor import Tensor
    _check_reduction(reduction)
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{name}: input and target must be Tensors")
    if input._array.dtype.kind != "f":
        raise RuntimeError(f"{name}: expected a floating point input, got {input.dtype}")
    if target.device != input.device:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two"
                           f" devices, {input.device} and {target.device}!")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    scores, t, out_shape = _class_axis_last(input, target, name)
    c = scores.shape[1]
    if t.dtype.kind not in "iu":
        raise RuntimeError(f"{name}: expected target of integer class indices (int64), got "
                           f"{target.dtype}; for class probabilities pass a float target with "
                           f"the input's shape")
    xp = backend.xp_of(t)
    bad = (t != ignore_index) & ((t < 0) | (t >= c))
    if t.size and bool(bad.any()):
        value = int(t[bad][0])
        raise IndexError(f"Target {value} is out of bounds: {name} expects class indices in "
                         f"[0, {c - 1}] for an input with {c} classes")
    w = None
    if weight is not None:
        _no_grad_argument(weight, "weight", name)
        if tuple(weight.shape) != (c,):
            raise RuntimeError(f"{name}: weight tensor should be defined either for all {c} "
                               f"classes or no classes but got weight tensor of shape: "
                               f"{list(weight.shape)}")
        w = weight._array.astype(scores._array.dtype, copy=False)
    loss = ClassNLL.apply(scores, target=t.astype(xp.int64, copy=False), weight=w,
                          ignore_index=ignore_index, reduction=reduction,
                          label_smoothing=float(label_smoothing), from_logits=from_logits)
    if reduction == "none":
        loss = reshape(loss, out_shape)
    return loss


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Mean (or sum) of -input[i, target[i]] (times weight[target[i]]); input holds log-probs."""
    return _class_loss(input, target, weight, ignore_index, reduction, 0.0, False, "nll_loss")


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Cross entropy between logits ``input`` (N, C, ...) and ``target``.

    ``target`` holds class indices (N, ...) or class probabilities (same shape as input).
    """
    from ..tensor import Tensor
    if isinstance(target, Tensor) and target._array.dtype.kind == "f":
        return _cross_entropy_probabilities(input, target, weight, reduction, label_smoothing)
    return _class_loss(input, target, weight, ignore_index, reduction, label_smoothing, True,
                       "cross_entropy")


def _cross_entropy_probabilities(input, target, weight, reduction, label_smoothing):
    """-sum_c w_c y_c log_softmax(x)_c per sample, composed from differentiable ops."""
    from .reduce import log_softmax, sum as reduce_sum
    _check_reduction(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise RuntimeError(f"cross_entropy: a probability target must have the input's shape "
                           f"{list(input.shape)}, got {list(target.shape)}")
    class_dim = 0 if input.ndim == 1 else 1
    c = input.shape[class_dim]
    logp = log_softmax(input, class_dim)
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / c
    terms = logp * target
    if weight is not None:
        shape = [1] * input.ndim
        shape[class_dim] = c
        terms = terms * weight.reshape(shape)
    per_sample = -reduce_sum(terms, class_dim)
    if reduction == "none":
        return per_sample
    total = per_sample.sum()
    return total / (input._array.size // c) if reduction == "mean" else total


def _no_grad_argument(t, arg, name):
    """Class weights are constants here; PyTorch refuses to differentiate them, and so do we."""
    if t.requires_grad:
        raise RuntimeError(f"The function '{name}' is not differentiable with respect to argument "
                           f"'{arg}'. This input cannot have requires_grad True.")


def _reduce(loss, reduction):
    _check_reduction(reduction)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def mse_loss(input, target, reduction="mean"):
    """Mean of (input - target)^2."""
    _check_same_shape(input, target, "mse_loss")
    diff = input - target
    return _reduce(diff * diff, reduction)


def l1_loss(input, target, reduction="mean"):
    """Mean of |input - target|."""
    _check_same_shape(input, target, "l1_loss")
    return _reduce((input - target).abs(), reduction)


def _check_same_shape(input, target, name):
    if tuple(input.shape) != tuple(target.shape):
        from ._util import broadcast_shape
        broadcast_shape(tuple(input.shape), tuple(target.shape), name)


class BinaryCrossEntropy(Function):
    """loss = -w (y log x + (1 - y) log(1 - x)), logs clamped at -100 as PyTorch."""

    def forward(self, x, y, *, weight):
        xp = backend.xp_of(x)
        with ieee_errors():
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log(1 - x), -100)
        loss = -(y * log_x + (1 - y) * log_1mx)
        if weight is not None:
            loss = loss * weight
        self.save_for_backward(x, y, log_x, log_1mx)
        self.weight = weight
        return loss

    def backward(self, g):
        x, y, log_x, log_1mx = self.saved_tensors
        xp = backend.xp_of(x)
        w = 1 if self.weight is None else self.weight
        gx = gy = None
        if self.needs_input_grad[0]:
            # d/dx = (x - y) / (x (1 - x)), with PyTorch's floor of 1e-12 on the denominator
            gx = g * w * (x - y) / xp.maximum(x * (1 - x), 1e-12)
        if self.needs_input_grad[1]:
            gy = -g * w * (log_x - log_1mx)
        return gx, gy


class BCEWithLogits(Function):
    """loss = (1 - y) x + (1 + (pw - 1) y) softplus(-x), softplus computed without overflow."""

    def forward(self, x, y, *, weight, pos_weight):
        xp = backend.xp_of(x)
        softplus_neg = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))      # log(1 + e^-x)
        scale = 1 if pos_weight is None else 1 + (pos_weight - 1) * y
        loss = (1 - y) * x + scale * softplus_neg
        if weight is not None:
            loss = loss * weight
        self.save_for_backward(x, y, softplus_neg)
        self.weight, self.pos_weight = weight, pos_weight
        return loss

    def backward(self, g):
        x, y, softplus_neg = self.saved_tensors
        xp = backend.xp_of(x)
        w = 1 if self.weight is None else self.weight
        pw = self.pos_weight
        # sigmoid(-x) from e = exp(-|x|) <= 1: no overflow, and exactly 1 (not exp(inf - inf)
        # = NaN) at x = -inf
        e = xp.exp(-xp.abs(x))
        sig_neg = xp.where(x >= 0, e / (1 + e), 1 / (1 + e))
        scale = 1 if pw is None else 1 + (pw - 1) * y
        gx = gy = None
        if self.needs_input_grad[0]:
            gx = g * w * ((1 - y) - scale * sig_neg)          # = sigmoid(x) - y when pw is None
        if self.needs_input_grad[1]:
            gy = g * w * (-x + (0 if pw is None else (pw - 1) * softplus_neg))
        return gx, gy


def _prepare_binary(input, target, weight, name):
    from .elementwise import cast
    _check_same_shape(input, target, name)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"Using a target size ({list(target.shape)}) that is different to the "
                         f"input size ({list(input.shape)}) is deprecated. Please ensure they "
                         "have the same size.")
    dtype = input._array.dtype
    if dtype.kind != "f":
        raise RuntimeError(f"{name}: expected a floating point input, got {input.dtype}")
    target = cast(target, dtype)
    w = None
    if weight is not None:
        _no_grad_argument(weight, "weight", name)
        xp = backend.xp_of(input._array)
        w = xp.broadcast_to(weight._array.astype(dtype, copy=False), input._array.shape)
    return target, w


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-(y log x + (1 - y) log(1 - x)) for probabilities ``input`` in [0, 1]."""
    _check_reduction(reduction)
    target, w = _prepare_binary(input, target, weight, "binary_cross_entropy")
    a = input._array
    if a.size and bool(((a < 0) | (a > 1)).any()):
        raise RuntimeError(f"all elements of input should be between 0 and 1 (got values in "
                           f"[{float(a.min()):g}, {float(a.max()):g}]; binary_cross_entropy "
                           "takes probabilities; for logits use binary_cross_entropy_with_logits)")
    return _reduce(BinaryCrossEntropy.apply(input, target, weight=w), reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean",
                                     pos_weight=None):
    """binary_cross_entropy(sigmoid(input), target), computed stably from the logits."""
    _check_reduction(reduction)
    target, w = _prepare_binary(input, target, weight, "binary_cross_entropy_with_logits")
    pw = None
    if pos_weight is not None:
        _no_grad_argument(pos_weight, "pos_weight", "binary_cross_entropy_with_logits")
        pw = pos_weight._array.astype(input._array.dtype, copy=False)
    return _reduce(BCEWithLogits.apply(input, target, weight=w, pos_weight=pw), reduction)


__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits"]
