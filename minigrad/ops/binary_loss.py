"""The binary classification losses, with PyTorch's semantics and numerically stable formulas:
``binary_cross_entropy`` on probabilities x in [0, 1],
    loss = -w (y log x + (1 - y) log(1 - x)), each log clamped at -100,
and ``binary_cross_entropy_with_logits`` on logits x, the same loss of sigmoid(x) computed as
    loss = w ((1 - y) x + (1 + (pw - 1) y) softplus(-x)),
softplus without overflow.  Input and target have one shape; ``weight`` and ``pos_weight``
(constants) broadcast to it.  Forward on arrays, backward written with minigrad's ops (so it
can be differentiated again).
"""
from __future__ import annotations

import math

import numpy as np

from .. import _autocast_state, _memory_format as mf, backend
from ..autograd import Function
from ..dtypes import reduced_float
from ..tensor import Tensor
from ._autocast_cast import widen as _autocast_widen
from ._bce_16bit import bce_16, bce_with_logits_16
from ._util import (FLOAT32_64, argument_error, broadcast_shape, ieee_errors,
                    not_implemented_for, result_dtype, scalar_type_name)
from .elementary_functions import sigmoid
from .pointwise_smooth import logit
from .elementwise import add, cast, mul, neg, sub
from .division import div
from .relu_clamp import clamp
from .loss import _no_grad_argument
from .loss_reduction import (
    REDUCTION_ENUM, _check_reduction, _legacy_reduction, _reduce, reduce_array)
from .plumbing import expand_to


class BinaryCrossEntropy(Function):
    """loss = -w (y log x + (1 - y) log(1 - x)), logs clamped at -100 as PyTorch.

    Shapes: x, y and the result alike; w (a constant) broadcast to them, or None.
    """
    # what PyTorch's node shows as grad_fn._saved_<name> (this one: reduction 'none')
    saved_names = ("self", "target")
    saved_fields = {"reduction": lambda node: 0}

    def forward(self, x, y, *, weight):
        xp = backend.xp_of(x)
        with ieee_errors():
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log(1 - x), -100)
        loss = (y - 1) * log_1mx - y * log_x      # (PyTorch's order: its signed zeros)
        if weight is not None:
            loss = loss * weight
        self.save_for_backward(x, y)
        self.weight = weight
        return mf.pointwise_result(loss, x, y)

    def backward(self, g):
        """dL/dx = g w (x - y) / max(x (1 - x), 1e-12)   (PyTorch's floor on the denominator)
        dL/dy = -g w logit(x) = -g w log(x / (1 - x))   (PyTorch's: the logs unclamped, so
                                                          x = 0 or 1 gives an infinite one)"""
        x, y = self.saved_tensors
        gw = g if self.weight is None else mul(g, Tensor._wrap(self.weight))
        gx = gy = None
        if self.needs_input_grad[0]:
            gx = BinaryCrossEntropyGrad.apply(gw, x, y)
        if self.needs_input_grad[1]:
            # logit recomputed as an op of x (not the forward's arrays), so d(dL/dy)/dx is
            # PyTorch's -g w / (x (1 - x)) (infinite at x = 0 or 1)
            gy = mul(neg(gw), logit(x))
        return gx, gy


class BinaryCrossEntropyGrad(Function):
    """dL/dx = g (x - y) / max(x (1 - x), eps) of binary_cross_entropy, eps float32's 1e-12
    (PyTorch's kernel's constant); ``g`` already holds the weight. Its derivatives are
    PyTorch's double backward, with e = 1e-12 (not the clamped formula differentiated):

        by g: (x - y) / ((x + e) (1 - x + e))
        by x: g (x^2 - 2 x y + y) / ((x + e)^2 (1 - x + e)^2)
        by y: -g / max(x (1 - x), e)
    """
    _node_name = "BinaryCrossEntropyBackwardBackward0"
    _EPS = float(np.float32(1e-12))

    def forward(self, g, x, y):
        self.save_for_backward(g, x, y)
        xp = backend.xp_of(x)
        with ieee_errors():
            den = xp.maximum(x * (1 - x), xp.asarray(self._EPS, x.dtype))
            return mf.pointwise_result(g * (x - y) / den, x, y)

    def backward(self, gg):
        g, x, y = self.saved_tensors
        e = 1e-12
        dg = dx = dy = None
        if self.needs_input_grad[0]:
            dg = mul(gg, div(sub(x, y), mul(add(x, e), add(sub(1, x), e))))
        if self.needs_input_grad[1]:
            top = add(sub(mul(x, x), mul(mul(x, y), 2)), y)
            den = mul(add(x, e), add(sub(1, x), e))
            dx = mul(mul(gg, g), div(top, mul(den, den)))
        if self.needs_input_grad[2]:
            dy = div(neg(mul(gg, g)), clamp(mul(x, sub(1, x)), min=e))
        return dg, dx, dy


class SoftplusNeg(Function):
    """softplus(-x) = log(1 + e^-x), computed without overflow; d/dx = -sigmoid(-x)."""
    def forward(self, x):
        xp = backend.xp_of(x)
        self.save_for_backward(x)
        return xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, g):
        x, = self.saved_tensors
        return mul(neg(g), sigmoid(neg(x)))


class BCEWithLogits(Function):
    """loss = w ((1 - y) x + (1 + (pw - 1) y) softplus(-x)), softplus without overflow.

    Shapes: x, y and the result alike; w and pw (constants) broadcast to them, or None.
    x and y come in one floating dtype (the promoted one); ``logit_dtype`` is the logits' own.
    """
    _node_name = "BinaryCrossEntropyWithLogitsBackward0"
    saved_names = ("self", "target")
    saved_fields = {"reduction": lambda node: 0}

    def forward(self, x, y, *, weight, pos_weight, logit_dtype):
        xp = backend.xp_of(x)
        softplus_neg = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))      # log(1 + e^-x)
        scale = 1 if pos_weight is None else 1 + (pos_weight - 1) * y
        # PyTorch keeps log_sigmoid(x) (times the pos_weight scale) in the logits' dtype: with
        # float16 logits and a float32 target, that term is rounded to float16 on the way
        term = softplus_neg.astype(logit_dtype)
        if pos_weight is not None:
            term = (term * scale).astype(logit_dtype)
        term = term.astype(x.dtype, copy=False)
        loss = (1 - y) * x + term
        if weight is not None:
            loss = loss * weight
        self.save_for_backward(x, y)
        self.weight, self.pos_weight = weight, pos_weight
        return loss

    def backward(self, g):
        """With s = 1 + (pw - 1) y (s = 1 without pos_weight):
            dL/dx = g w ((1 - y) - s sigmoid(-x))        (= g w (sigmoid(x) - y) when s = 1)
            dL/dy = g w (-x + (pw - 1) softplus(-x))"""
        x, y = self.saved_tensors
        pw = None if self.pos_weight is None else Tensor._wrap(self.pos_weight)
        gw = g if self.weight is None else mul(g, Tensor._wrap(self.weight))
        gx = gy = None
        if self.needs_input_grad[0]:
            # sigmoid(-x) is stable for any x, and exactly 1 at x = -inf
            sig_neg = sigmoid(neg(x))
            if pw is None:
                gx = mul(gw, sub(sub(1, y), sig_neg))
            else:
                scale = add(mul(sub(pw, 1), y), 1)
                gx = mul(gw, sub(sub(1, y), mul(scale, sig_neg)))
        if self.needs_input_grad[1]:
            dy = neg(x) if pw is None else sub(mul(sub(pw, 1), SoftplusNeg.apply(x)), x)
            gy = mul(gw, dy)
        return gx, gy


class _Reduced:
    """Mixin over an elementwise binary loss node (``BinaryCrossEntropy``,
    ``BCEWithLogits``): the loss reduced ('mean' or 'sum') inside the same node, as PyTorch's
    one node, whose next_functions are then the input's and the target's nodes (a reduction
    node after the elementwise one listed that node instead).  Numbers as the two nodes gave
    them: the reduction's (numpy's sum, the mean's division), then the elementwise backward
    of g / numel ('mean') or g spread over the input."""

    def forward(self, x, y, *, reduction, **kwargs):
        per = super().forward(x, y, **kwargs)
        self.reduction, self.per_shape = reduction, per.shape
        return reduce_array(per, reduction, x, y)

    def backward(self, g):
        count = math.prod(self.per_shape)
        return super().backward(expand_to(g / count if self.reduction == "mean" else g,
                                          self.per_shape))


class BinaryCrossEntropyReduced(_Reduced, BinaryCrossEntropy):
    _node_name = "BinaryCrossEntropyBackward0"
    saved_fields = {"reduction": lambda node: REDUCTION_ENUM[node.reduction]}


class BCEWithLogitsReduced(_Reduced, BCEWithLogits):
    _node_name = "BinaryCrossEntropyWithLogitsBackward0"
    saved_fields = {"reduction": lambda node: REDUCTION_ENUM[node.reduction]}


def _fits_input(t, input, name, what):
    """A weight that broadcasts to the input's shape, or PyTorch's RuntimeError: for
    binary_cross_entropy's weight, its expand's words (the last mismatching dim of the weight,
    counted from the end); for the logits version, its product's (pos_weight the first
    operand, weight the second)."""
    ishape, wshape = tuple(input.shape), tuple(t.shape)
    if name == "binary_cross_entropy":
        padded = (1,) * (len(wshape) - len(ishape)) + ishape
        for k in range(1, min(len(wshape), len(ishape)) + 1):    # (extra leading dims: below)
            if wshape[-k] != 1 and wshape[-k] != ishape[-k]:
                raise RuntimeError(
                    f"Attempting to broadcast a dimension of length {wshape[-k]} at -{k}! "
                    f"Mismatching argument at index 1 had {t.shape!r}; but expected shape "
                    f"should be broadcastable to {list(padded)}")
    if what == "pos_weight":
        broadcast_shape(wshape, ishape, f"{name}'s {what}")
    shape = broadcast_shape(ishape, wshape, f"{name}'s {what}")
    if shape != tuple(input.shape):
        raise RuntimeError(f"output with shape {list(input.shape)} doesn't match the broadcast "
                           f"shape {list(shape)} ({name}'s {what} of shape {list(t.shape)} must "
                           f"broadcast to the input's)")


def _size_of(value):
    """What PyTorch's Python loss reads first, ``value.size()``, and its error where
    ``value`` is no tensor (a numpy array's ``size`` is an int, which is no function)."""
    if not isinstance(value, Tensor):
        if isinstance(value, np.ndarray):
            raise TypeError("'int' object is not callable")
        raise AttributeError(f"'{type(value).__name__}' object has no attribute 'size'")


def _prepare_binary(input, target, weight, name, pos_weight=None):
    _size_of(target)                    # (PyTorch compares target.size() with input.size())
    _size_of(input)
    if name == "binary_cross_entropy":
        if weight is not None:          # (its Python code reads weight.size() next)
            _size_of(weight)
    else:                               # (the logits' kernel's parser)
        for position, (what, t) in enumerate((("weight", weight), ("pos_weight", pos_weight)), 3):
            if t is not None and not isinstance(t, Tensor):
                raise argument_error(name, what, "Tensor", t, position)
    if tuple(input.shape) != tuple(target.shape):
        if name == "binary_cross_entropy":
            raise ValueError(f"Using a target size ({target.shape}) that is different to the "
                             f"input size ({input.shape}) is deprecated. Please ensure they "
                             "have the same size.")
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    for what, t in (("weight", weight), ("pos_weight", pos_weight)):
        if isinstance(t, Tensor):
            _fits_input(t, input, name, what)
    dtype, t_dtype = input._array.dtype, target._array.dtype
    # PyTorch's refusals, in its order: binary_cross_entropy wants one floating dtype;
    # the logits version runs log_sigmoid(input), then (1 - target).mul_(input)
    if name == "binary_cross_entropy":
        if t_dtype != dtype:
            raise RuntimeError(f"Found dtype {scalar_type_name(t_dtype)} but expected "
                               f"{scalar_type_name(dtype)}")
        if dtype.kind not in "fV":
            raise not_implemented_for(name, dtype)
    else:
        if dtype.kind not in "fV":
            raise not_implemented_for("log_sigmoid_cpu", dtype)
        # PyTorch computes pos_weight - 1, then 1 - target (the 1 taking the bool dtype)
        if isinstance(pos_weight, Tensor) and pos_weight._array.dtype.kind == "b":
            raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not "
                               "supported. If you are trying to invert a mask, use the `~` or "
                               "`logical_not()` operator instead.")
        if t_dtype.kind == "b":
            raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                               "supported. Use the `^` or `logical_xor()` operator instead.")
        if t_dtype.kind not in "fV":
            raise RuntimeError(f"result type {scalar_type_name(dtype)} can't be cast to the "
                               f"desired output type {scalar_type_name(t_dtype)}")
    if name == "binary_cross_entropy":
        target = cast(target, dtype)
    else:
        # the logits version computes in the promoted floating dtype (and returns the target's)
        dtype = result_dtype(input, target)
    w = None
    if weight is not None:
        _no_grad_argument(weight, "weight", name)
        xp = backend.xp_of(input._array)
        w = xp.broadcast_to(weight._array.astype(dtype, copy=False), input._array.shape)
    return target, w


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """-(y log x + (1 - y) log(1 - x)) for probabilities ``input`` in [0, 1]."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if _autocast_state.active:             # autocast runs losses in float32
        input, target, weight = _autocast_widen(input, target, weight)
    _check_reduction(reduction)
    target, w = _prepare_binary(input, target, weight, "binary_cross_entropy")
    a = input._array
    if a.size and not bool(((a >= 0) & (a <= 1)).all()):          # NaN is refused too
        raise RuntimeError(f"all elements of input should be between 0 and 1 (got values in "
                           f"[{float(a.min()):g}, {float(a.max()):g}]; binary_cross_entropy "
                           "takes probabilities; for logits use binary_cross_entropy_with_logits)")
    y = target._array
    if y.size and not bool(((y >= 0) & (y <= 1)).all()):
        raise RuntimeError(f"all elements of target should be between 0 and 1 (got values in "
                           f"[{float(y.min()):g}, {float(y.max()):g}])")
    if reduced_float(a.dtype) and type(a) is np.ndarray:
        # float16 / bfloat16: rounded where PyTorch's kernel rounds (_bce_16bit)
        return bce_16(input, target, w, reduction)
    if reduction != "none" and a.dtype in FLOAT32_64:
        # one node over input and target, as PyTorch's
        return BinaryCrossEntropyReduced.apply(input, target, weight=w, reduction=reduction)
    return _reduce(BinaryCrossEntropy.apply(input, target, weight=w), reduction,
                   "BinaryCrossEntropyBackward0")


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """binary_cross_entropy(sigmoid(input), target), computed stably from the logits.

    As PyTorch, the loss has the target's dtype (a float64 target with float32 logits gives a
    float64 loss, a float16 target a float16 one), computed in the promoted dtype of the two.
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if _autocast_state.active:             # autocast runs losses in float32
        input, target, weight, pos_weight = _autocast_widen(input, target, weight, pos_weight)
    _check_reduction(reduction)
    target, w = _prepare_binary(input, target, weight, "binary_cross_entropy_with_logits",
                                pos_weight)
    dtype = result_dtype(input, target)
    pw = None
    if pos_weight is not None:
        _no_grad_argument(pos_weight, "pos_weight", "binary_cross_entropy_with_logits")
        pw = pos_weight._array.astype(dtype, copy=False)
    if reduced_float(dtype) and input._array.dtype == target._array.dtype == dtype and \
            type(input._array) is np.ndarray:
        # float16 / bfloat16: rounded step by step as PyTorch's composition (_bce_16bit)
        return bce_with_logits_16(input, target, w, pw, reduction)
    if reduction != "none" and dtype in FLOAT32_64 and \
            input._array.dtype == target._array.dtype == dtype:
        # one node over input and target, as PyTorch's
        return BCEWithLogitsReduced.apply(input, target, weight=w, pos_weight=pw,
                                          logit_dtype=dtype, reduction=reduction)
    loss = BCEWithLogits.apply(cast(input, dtype), cast(target, dtype), weight=w, pos_weight=pw,
                               logit_dtype=input._array.dtype)
    # reduced in the promoted dtype: the mean's 1/N reaches the gradient unrounded, as there
    return cast(_reduce(loss, reduction, BCEWithLogits.name()), target._array.dtype)


__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits"]
