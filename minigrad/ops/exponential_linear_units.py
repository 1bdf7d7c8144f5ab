"""The exponential linear units: ``elu``, ``celu`` and ``selu`` (and their in-place forms),
one Function (``Elu``; ``EluInplace`` written into its input) with PyTorch's kernel's edges:
-0.0, NaN, and the second derivative at 0.

A branch that would overflow on the side ``where`` discards (``exp(x)`` for large x) is fed
``min(x, 0)``: ``where`` zeroes the gradient of the unused branch, but 0 * inf = nan.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function
from .elementary_functions import dense_order, empty_in_order, exp
from .error_function import erf_buffer
from . import activation_nodes as _nodes
from .elementwise import add, mul
from .pointwise_select import _select, select_block, where
from ..tensor import Tensor
from ._util import FLOAT32_64, number_arg
from .writes import apply_inplace
from ._floating_checks import _floating_only


# SELU's fixed point constants (Klambauer et al., 2017), as PyTorch uses them
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class Elu(Function):
    """scale * x for x > 0, scale * alpha * (e^(input_scale x) - 1) otherwise: elu, celu
    (input_scale = 1 / alpha) and selu (PyTorch's constants) in one, as PyTorch's kernel.

    Where PyTorch's kernel puts its edges, so does this: the negative branch is expm1 (-0.0
    stays -0.0) and takes x = 0 and NaN-free x <= 0; NaN takes the negative branch in the
    gradient (a NaN gradient); the gradient's own derivative at x = 0 is 0 (the negative
    branch's exponent is held constant there)."""
    half_in_float32 = True          # float16 too: in float32, rounded once
    def forward(self, x, *, alpha, scale, input_scale, slope_scale=None):
        xp = backend.xp_of(x)
        self.save_for_backward(x)
        self.alpha, self.scale, self.input_scale = alpha, scale, input_scale
        # the input scale of the backward, where PyTorch's differs (celu's: 1 / alpha with
        # alpha rounded to float32 first)
        self.slope_scale = input_scale if slope_scale is None else slope_scale
        t = x.dtype.type
        if type(x) is np.ndarray and x.dtype in FLOAT32_64:
            return _elu_arrays(self._value, x, scratch=_SCRATCH)
        positive = x > 0
        negative = xp.expm1(_select(positive, t(0), x) * t(input_scale)) * t(alpha * scale)
        # a zero gives x scale (its own sign), as PyTorch's, whatever alpha's sign
        return _select(x >= 0, x * t(scale), negative).astype(x.dtype, copy=False)

    def _value(self, x, out, work=None):
        """The forward on one block of a float32/float64 array, in cache: expm1 of x clipped
        to (-inf, 0] (-0.0 and NaN stay; x > 0 gives 0), scaled, plus x clipped to [-0.0,
        inf) scaled (-0.0 below 0, which adds nothing, not even to -0.0): the selection as a
        sum, exact, where numpy's where() and a selection by bits took eight passes (1M
        float32, one thread: 2.0 -> 1.1 ms). With alpha * scale <= 0, where that sum's zero
        signs differ, a selection by bits (zeros from the x side: their own sign)."""
        t = x.dtype.type
        if work is None or self.alpha * self.scale <= 0:
            negative = np.multiply(x, x <= 0)
            if self.input_scale != 1:               # (x 1 is exact: the pass is skipped)
                negative *= t(self.input_scale)
            np.expm1(negative, out=negative)
            negative *= t(self.alpha * self.scale)
            np.multiply(x, t(self.scale), out=out)
            # x >= 0: a zero keeps its sign (x scale), as PyTorch's; alpha (e^0 - 1) is +-0.0
            # with alpha's sign flipping it
            select_block(x >= 0, out, negative, out)
            return
        negative = np.clip(x, t(-np.inf), t(0), out=out)
        if self.input_scale != 1:
            negative *= t(self.input_scale)
        np.expm1(negative, out=negative)
        negative *= t(self.alpha * self.scale)
        positive = np.clip(x, t(-0.0), t(np.inf), out=erf_buffer(work, "a", x.size, x.dtype))
        if self.scale != 1:
            positive *= t(self.scale)
        out += positive

    def _slope_times(self, x, g, out, work=None):
        """g * d elu / dx on one block, as the backward's ops compute it: g scale for x > 0,
        else g (e^(slope_scale below) alpha scale slope_scale), below = x (x <= 0) (NaN at NaN,
        as the ops' choice).

        Fast form (``work`` given, ``_step`` found): e^(slope_scale min(x, 0)) times the
        factor is the factor itself for x > 0, so scale = factor + step exactly (``_step``)
        turns it into the right slope by adding step where x > 0 (0 elsewhere, which changes
        nothing); elu's step is 0 and its backward three passes (clip, exp, times g), where a
        selection by bits took twelve (1M float32, one thread: 2.5 -> 1.0 ms)."""
        t = x.dtype.type
        factor = self.alpha * self.scale * self.slope_scale
        step = _step(t, factor, self.scale) if work is not None else None
        if step is None:
            negative = np.multiply(x, x < 0)
            if self.slope_scale != 1:
                negative *= t(self.slope_scale)
            np.exp(negative, out=negative)
            negative *= t(factor)
            negative *= g
            np.multiply(g, t(self.scale), out=out)
            select_block(x > 0, out, negative, out)
            return
        slope = np.clip(x, t(-np.inf), t(0), out=out)
        if self.slope_scale != 1:
            slope *= t(self.slope_scale)
        np.exp(slope, out=slope)
        if factor != 1:
            slope *= t(factor)
        if step:
            above = np.greater(x, t(0), out=erf_buffer(work, "a", x.size, x.dtype))
            above *= step
            slope += above
        slope *= g                                  # g scale, or g (e^... factor), as the ops

    def backward(self, g):
        x, = self.saved_tensors
        if _nodes.fits(x) and _nodes.on_arrays(x, g):      # no graph: one pass over blocks
            return Tensor._wrap(_elu_arrays(self._slope_times, x._array, g._array,
                                             scratch=_SCRATCH))
        # x below 0, else a constant 0 (so the slope's derivative at 0 is 0), or NaN at a NaN
        # (which takes the negative side, as in PyTorch's kernel: a NaN gradient)
        xp = backend.xp_of(x._array)
        below = where(x < 0, x, Tensor._wrap(xp.where(xp.isnan(x._array), x._array, 0)))
        slope = mul(exp(mul(below, self.slope_scale)),
                    self.alpha * self.scale * self.slope_scale)
        return where(x > 0, mul(g, self.scale), mul(g, slope))


def _elu_arrays(kernel, x, *more, scratch=None):
    """kernel(x, *more, out) over cache-sized blocks of numpy arrays of x's shape and dtype
    (with ``scratch``, also a dict of block-sized scratch arrays: ``_nodes._blocks``); the
    result laid out as x (a transposed x keeps its strides, as PyTorch)."""
    out = empty_in_order(x, dense_order(x))
    _nodes._blocks(kernel, [x, *more], [out], scratch)
    return out


_SCRATCH = {"a": None}          # the kernels' block-sized scratch (of x's dtype)


def _step(t, factor, scale):
    """scale - factor in the dtype ``t`` where adding it to the factor gives the scale exactly
    (and the factor is positive, so that adding the +-0.0 of x <= 0 leaves every slope as
    it was); else None."""
    f, s = t(factor), t(scale)
    step = s - f
    return step if factor > 0 and f + step == s and np.isfinite(step) else None


class EluInplace(Elu):
    """``Elu`` written into its input (elu_, celu_, selu_, ``inplace=True``): the same
    values, with PyTorch's in-place node, which keeps the RESULT for the backward, not the
    input (gone once overwritten). So a later in-place write to the result makes the backward
    refuse, as PyTorch's.

    The slope is read off the result: ``scale`` where it is > 0 (and at NaN, as PyTorch's
    kernel, whose test is result <= 0), else ``input_scale * (result + alpha * scale)``;
    its derivative reaches the result (and through it this node again) only below 0. A
    negative alpha makes the result's sign ambiguous: its backward is refused, as PyTorch's.
    ``slope_scale``: the input scale the backward uses, where PyTorch's differs from the
    forward's (celu_'s backward takes 1 / alpha with alpha rounded to float32)."""
    keeps_input = False             # keeps its result, so it may run on the tensor itself
    saved_names = ("result",)
    _node_name = "EluBackward1"

    def forward(self, x, *, alpha, scale, input_scale, slope_scale=None):
        out = super().forward(x, alpha=alpha, scale=scale, input_scale=input_scale)
        self.slope_scale = input_scale if slope_scale is None else slope_scale
        self.save_for_backward(out)
        return out

    def backward(self, g):
        if self.alpha < 0:
            raise RuntimeError("In-place elu backward calculation is triggered with a negative "
                               "slope which is not supported. This is caused by calling "
                               "in-place forward function with a negative slope, please call "
                               "out-of-place version instead.")
        out, = self.saved_tensors
        below = where(out < 0, out, 0.0)       # (a constant 0 at 0: no second derivative there)
        negative = mul(g, mul(add(below, self.alpha * self.scale), self.slope_scale))
        return where(out <= 0, negative, mul(g, self.scale))


def _elu_inplace(input, node, alpha, scale, input_scale, slope_scale=None):
    """``input`` overwritten with its elu (``node``: EluInplace under the op's name)."""
    _floating_only(input, "elu_cpu")
    return apply_inplace(input, node, alpha=alpha, scale=scale, input_scale=input_scale,
                         slope_scale=slope_scale)


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, alpha (e^x - 1) otherwise."""
    alpha = number_arg("elu_" if inplace else "elu", "alpha", alpha, 2)
    if inplace:
        return _elu_inplace(input, EluInplace, alpha, 1.0, 1.0)
    input = _floating_only(input, "elu_cpu")
    return Elu.apply(input, alpha=alpha, scale=1.0, input_scale=1.0)


def celu(input, alpha=1.0, inplace=False):
    """x for x > 0, alpha (e^(x/alpha) - 1) otherwise (elu, continuously differentiable)."""
    alpha = number_arg("celu_" if inplace else "celu", "alpha", alpha, 2)
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    if inplace:
        return _elu_inplace(input, EluInplace.renamed("CeluBackward1"), alpha, 1.0, 1.0 / alpha,
                            1.0 / float(np.float32(alpha)))
    input = _floating_only(input, "elu_cpu")
    return Elu.renamed("CeluBackward0").apply(input, alpha=alpha, scale=1.0,
                                              input_scale=1.0 / alpha,
                                              slope_scale=1.0 / float(np.float32(alpha)))


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalising constants (1.0507..., 1.6732...)."""
    if inplace:
        return _elu_inplace(input, EluInplace, _SELU_ALPHA, _SELU_SCALE, 1.0)
    input = _floating_only(input, "elu_cpu")
    return Elu.apply(input, alpha=_SELU_ALPHA, scale=_SELU_SCALE, input_scale=1.0)
