"""The pointwise regression losses ``mse_loss`` and ``l1_loss``, with PyTorch's semantics:
mean((input - target)^2) and mean(|input - target|) by default, or, with an optional ``weight``
of the input's shape, sum(weight * error) / sum(weight); ``reduction`` 'mean', 'sum' or 'none'.

A target of another shape is broadcast against the input, with PyTorch's warning; both are
promoted as PyTorch's pointwise losses promote them (``broadcast_promoted``, which the
``nn.functional`` losses of ``nn/_functional_losses.py`` use too).  Composed of tensor ops, so
autograd differentiates them to any order.

The smooth L1 and Huber losses of ``nn/_functional_losses.py`` take their elementwise part
from here, one node each on the difference d = input - target (``SmoothL1``, ``Huber``):

    smooth_l1(d) = 0.5 d^2 / beta  where |d| < beta,   |d| - beta / 2  elsewhere
    huber(d)     = 0.5 d^2         where |d| < delta,  delta (|d| - delta / 2)  elsewhere

their derivatives d / beta (d) inside the band and sign(d) (delta sign(d)) outside, written
as ops so that the second derivative (1 / beta, 1 inside the band, 0 outside) comes from
autograd; a NaN d counts as inside, as in PyTorch's kernels.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _autocast_state, backend, dtypes
from .._warn_once import warn_user
from ..autograd import Function, is_grad_enabled
from ..autograd.function import keep_for_backward
from ..tensor import Tensor
from ._autocast_cast import widen as _autocast_widen
from ._band_loss_rows import band_loss_grads, band_loss_value
from ._util import FLOAT32_64, broadcast_shape, not_implemented_for, result_dtype
from .compare import sign
from .elementwise import Mul, cast, mul
from .loss_reduction import (
    REDUCTION_ENUM, _check_reduction, _legacy_reduction, _reduce, reduce_array)
from .pointwise_select import where
from .plumbing import expand_to


def _warn_target_size(input, target):
    """PyTorch's regression losses broadcast a target of another shape, with a warning (at
    the user's line that called the loss)."""
    if not hasattr(target, "shape"):
        target.size()           # PyTorch reads target.size() first: its AttributeError
    if tuple(target.shape) != tuple(input.shape):
        warn_user(f"Using a target size ({target.shape}) that is different to the input "
                  f"size ({input.shape}). The two are broadcast against each other, which "
                  f"is rarely what was meant; give them the same size.", UserWarning)


def _weighted(errors, weight, input, reduction):
    """PyTorch's weighted regression loss: errors * weight, whose 'mean' is the weighted
    mean (divided by the sum of the weights); weight has the input's size."""
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError(f"Weights and input must have the same size (weight {list(weight.shape)}"
                         f", input {list(input.shape)}).")
    _check_reduction(reduction)
    loss = errors * weight
    if reduction == "none":
        return loss
    return loss.sum() / weight.sum() if reduction == "mean" else loss.sum()


def broadcast_promoted(input, target):
    """input and target in the dtype PyTorch's pointwise losses compute in: it broadcasts the
    two to one shape first, so a 0-d operand beside a dimensioned one promotes as a dimensioned
    one (a 0-d float64 input with a float32 (3,) target gives float64, not float32)."""
    if isinstance(input, Tensor) and isinstance(target, Tensor) and \
            (input.ndim == 0) != (target.ndim == 0) and \
            input._array.dtype.kind != "b" and target._array.dtype.kind != "b":
        # (a bool operand is left as it is, for the subtraction to refuse as PyTorch's does)
        dtype = dtypes._promote(input._array.dtype, target._array.dtype)
        return (input if input._array.dtype == dtype else cast(input, dtype),
                target if target._array.dtype == dtype else cast(target, dtype))
    return input, target


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean of (input - target)^2 (of weight * (input - target)^2 over the weights' sum)."""
    input, target, reduction = _prepared(input, target, "mse_loss", size_average, reduce,
                                         reduction)
    if weight is not None:
        diff = input - target
        return _weighted(diff * diff, weight, input, reduction)
    # PyTorch's kernel works in the promoted dtype, floating only (a bool target is fine)
    dtype = result_dtype(input, target)
    if dtype.kind not in "fV":
        raise not_implemented_for("mse_cpu", dtype)
    if isinstance(input, Tensor) and isinstance(target, Tensor) and \
            input._array.dtype == target._array.dtype and dtype in FLOAT32_64 and \
            tuple(input.shape) == tuple(target.shape) and input.layout == target.layout:
        # the common case in one node, whose next_functions are the input's and the
        # target's nodes, as PyTorch's (the blitz prints loss.grad_fn.next_functions)
        return MseLoss.apply(input, target, reduction=reduction)
    diff = cast(input, dtype) - cast(target, dtype)
    # PyTorch's mse_loss node keeps its input and target for the backward; its last step
    # records PyTorch's name for it, whatever the reduction
    squared = _MSE_SQUARE.apply(diff, diff) if reduction == "none" else diff * diff
    return keep_for_backward(_reduce(squared, reduction, _MSE_NODE), input, target)


_MSE_NODE = "MseLossBackward0"
_MSE_SQUARE = Mul.renamed(_MSE_NODE)


class MseLoss(Function):
    """mse_loss of an input and a target of one shape and one dtype (float32 or float64) as
    PyTorch's one node: (input - target)^2, reduced by ``reduction``.  Backward as PyTorch's
    kernel rounds it, norm * (input - target) * g with norm = 2 / numel for 'mean' and 2
    otherwise (in the input's dtype); the target's is its negation.  Written with ops when
    a graph is recorded, so that it can be differentiated again."""
    _node_name = _MSE_NODE
    saved_names = ("self", "target")
    saved_fields = {"reduction": lambda node: REDUCTION_ENUM[node.reduction]}

    def forward(self, input, target, *, reduction):
        self.save_for_backward(input, target)
        self.reduction = reduction
        diff = input - target
        if type(diff) is np.ndarray and diff.dtype == input.dtype:
            np.multiply(diff, diff, out=diff)       # (squared in place: one array fewer)
            return reduce_array(diff, reduction, input, target)
        return reduce_array(diff * diff, reduction, input, target)

    def backward(self, g):
        input, target = self.saved_tensors
        numel = input._array.size
        # (PyTorch divides as doubles: an empty mean gives an infinite norm, no error)
        norm = (2.0 / numel if numel else math.inf) if self.reduction == "mean" else 2.0
        if not is_grad_enabled():               # nothing recorded: on the arrays
            a, t = input._array, target._array
            xp = backend.xp_of(a)
            grad = xp.multiply(xp.multiply(a - t, a.dtype.type(norm)), g._array)
            return (Tensor._wrap(grad) if self.needs_input_grad[0] else None,
                    Tensor._wrap(xp.negative(grad)) if self.needs_input_grad[1] else None)
        grad = mul(mul(input - target, norm), g)
        return (grad if self.needs_input_grad[0] else None,
                -grad if self.needs_input_grad[1] else None)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean of |input - target| (of weight * |input - target| over the weights' sum)."""
    input, target, reduction = _prepared(input, target, "l1_loss", size_average, reduce,
                                         reduction)
    if weight is not None:
        return _weighted((input - target).abs(), weight, input, reduction)
    return _reduce((input - target).abs(), reduction)


def _prepared(input, target, name, size_average, reduce, reduction):
    """What the pointwise regression losses do before their formula, in PyTorch's order: warn
    of a target of another size, read the legacy reduction arguments, widen to float32 under
    autocast, refuse shapes that do not broadcast, check the reduction, then broadcast and
    promote -> (input, target, reduction)."""
    _warn_target_size(input, target)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if _autocast_state.active:             # autocast runs losses in float32
        input, target = _autocast_widen(input, target)
    _check_same_shape(input, target, name)
    _check_reduction(reduction)            # PyTorch reads it after broadcasting, before its kernel
    return broadcast_promoted(input, target) + (reduction,)


def _check_same_shape(input, target, name):
    if tuple(input.shape) != tuple(target.shape):
        broadcast_shape(tuple(input.shape), tuple(target.shape), name)


class SmoothL1(Function):
    """d (any shape) -> smooth_l1(d) elementwise (see the module docstring); beta > 0."""

    def forward(self, d, *, beta):
        self.beta = beta
        self.save_for_backward(d)
        return self.value(d, beta)

    def backward(self, g):
        d, = self.saved_tensors
        return self.slope(d, g, self.beta)

    @staticmethod
    def value(d, beta):
        """smooth_l1 of the array d."""
        xp = backend.xp_of(d)
        size = xp.abs(d)
        near = ~(size >= beta)                  # (a NaN d counts as near)
        # 0.5 z z / beta, in the order PyTorch's kernel rounds it, in one scratch array
        quad = xp.multiply(size, 0.5)
        quad *= size
        quad /= beta
        size -= 0.5 * beta
        return xp.where(near, quad, size).astype(d.dtype, copy=False)

    @staticmethod
    def slope(d, g, beta):
        """g times the derivative at d (Tensors of one shape): ops when recording."""
        xp = backend.xp_of(d._array)
        if not is_grad_enabled():               # nothing recorded: on the arrays
            # d / beta inside the band, sign(d) outside: the quotient clipped to [-1, 1]
            # (the same numbers: it is +-1 exactly on the band's edge, NaN stays NaN)
            slope = xp.divide(d._array, beta, out=xp.empty_like(d._array))
            return Tensor._wrap(g._array * xp.clip(slope, -1, 1, out=slope))
        near = ~(xp.abs(d._array) >= beta)
        return g * where(Tensor._wrap(near), d / beta, sign(d))


class Huber(Function):
    """d (any shape) -> huber(d) elementwise (see the module docstring); delta > 0."""

    def forward(self, d, *, delta):
        self.delta = delta
        self.save_for_backward(d)
        return self.value(d, delta)

    def backward(self, g):
        d, = self.saved_tensors
        return self.slope(d, g, self.delta)

    @staticmethod
    def value(d, delta):
        """huber of the array d."""
        xp = backend.xp_of(d)
        size = xp.abs(d)
        near = ~(size >= delta)
        quad = xp.multiply(size, 0.5)
        quad *= size
        size -= 0.5 * delta
        size *= delta
        return xp.where(near, quad, size).astype(d.dtype, copy=False)

    @staticmethod
    def slope(d, g, delta):
        """g times the derivative at d (Tensors of one shape): ops when recording."""
        xp = backend.xp_of(d._array)
        if not is_grad_enabled():               # nothing recorded: on the arrays
            # d inside the band, delta sign(d) outside: d clipped to [-delta, delta]
            return Tensor._wrap(g._array * xp.clip(d._array, -delta, delta))
        near = ~(xp.abs(d._array) >= delta)
        return g * where(Tensor._wrap(near), d, delta * sign(d))


class _BandLoss(Function):
    """smooth_l1_loss / huber_loss of an input and a target of one shape and one dtype
    (float32 or float64) as PyTorch's one node (SmoothL1LossBackward0, HuberLossBackward0),
    reduced by ``reduction``: the elementwise part is ``kernel``'s (``SmoothL1``,
    ``Huber``) on d = input - target, whose gradient (norm g where norm = 1 / numel for
    'mean', 1 otherwise) goes to the input and, negated, to the target.  Its next_functions
    are then the input's and target's nodes, as PyTorch's. C-ordered numpy operands of one
    shape go block by block through ``_band_loss_rows`` (forward, and the backward when no
    graph is recorded), the rest through the kernel's whole-array formulas."""
    kernel = None
    saved_names = ("self", "target")

    def forward(self, input, target, *, reduction, width):
        self.save_for_backward(input, target)
        self.reduction, self.width = reduction, width
        if _blocked(input, target):             # block by block, summed in cache
            per = band_loss_value(input, target, width, self.kernel is Huber, reduction)
            return per if reduction != "none" else reduce_array(per, reduction, input, target)
        return reduce_array(self.kernel.value(input - target, width), reduction, input, target)

    def backward(self, g):
        input, target = self.saved_tensors
        numel = input._array.size
        if not is_grad_enabled() and _blocked(input._array, target._array) and \
                type(g._array) is np.ndarray and g._array.dtype == input._array.dtype:
            ga = g._array
            if self.reduction != "none":
                with np.errstate(divide="ignore", invalid="ignore"):     # (an empty mean)
                    ga = ga / numel if self.reduction == "mean" else ga
            elif not ga.flags.c_contiguous or ga.shape != input._array.shape:
                ga = None
            if ga is not None:
                grads = band_loss_grads(input._array, target._array, ga, self.width,
                                        self.kernel is Huber, *self.needs_input_grad[:2])
                return tuple(None if x is None else Tensor._wrap(x) for x in grads)
        if self.reduction != "none":
            g = expand_to(g / numel if self.reduction == "mean" else g, tuple(input.shape))
        if is_grad_enabled():
            d = input - target
        else:
            d = Tensor._wrap(input._array - target._array)
        grad = self.kernel.slope(d, g, self.width)
        return (grad if self.needs_input_grad[0] else None,
                -grad if self.needs_input_grad[1] else None)


class SmoothL1Loss(_BandLoss):
    _node_name = "SmoothL1LossBackward0"
    kernel = SmoothL1
    saved_fields = {"reduction": lambda node: REDUCTION_ENUM[node.reduction],
                    "beta": "width"}


class HuberLoss(_BandLoss):
    _node_name = "HuberLossBackward0"
    kernel = Huber
    saved_fields = {"reduction": lambda node: REDUCTION_ENUM[node.reduction],
                    "delta": "width"}


def _blocked(a, t):
    """Whether the arrays go through ``_band_loss_rows``: numpy, C-ordered, one shape."""
    return type(a) is np.ndarray and type(t) is np.ndarray and a.shape == t.shape and \
        a.flags.c_contiguous and t.flags.c_contiguous and a.dtype == t.dtype and \
        a.dtype in FLOAT32_64


def fused_band_loss(input, target, reduction, width, huber):
    """``HuberLoss`` (huber) or ``SmoothL1Loss`` of input and target where they qualify (one
    shape, one float32/float64 dtype, strided), else None: the caller composes the loss."""
    if isinstance(input, Tensor) and isinstance(target, Tensor) and \
            input._array.dtype == target._array.dtype and input._array.dtype in FLOAT32_64 and \
            tuple(input.shape) == tuple(target.shape) and input.layout == target.layout and \
            reduction in REDUCTION_ENUM:
        return (HuberLoss if huber else SmoothL1Loss).apply(
            input, target, reduction=reduction, width=float(width))
    return None


__all__ = ["mse_loss", "l1_loss", "MseLoss", "SmoothL1", "Huber", "SmoothL1Loss", "HuberLoss",
           "fused_band_loss"]
