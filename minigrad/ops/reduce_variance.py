"""The spread reductions ``var`` and ``std``, kept apart from ``reduce.py``:
var = sum(|a - mean|^2) / (N - correction) over the reduced dims, std its square root, with
PyTorch's two signatures (``unbiased`` or ``correction``) and its node names.

Backward: d var / d a = 2 (a - mean) / (N - correction) times the spread gradient;
d std = d var / (2 std).  ``statistics.py`` builds ``var_mean`` / ``std_mean`` on these.
"""
from __future__ import annotations

import builtins  # this module defines sum, all, any: the builtins stay reachable
import numbers

import numpy as np

from .. import backend, dtypes
from .._warn_once import warn_user
from ..autograd import Function, is_grad_enabled
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._reduce_precision import SINGLE
from .._argument_error import ArgumentError
from ._util import (Omitted, bool_arg, c_order, check_tensor, ieee_errors, normalize_dims,
                    python_type_name)
from .elementwise import Mul, cast, mul, sub
from .division import div
from .pointwise_select import where
from .plumbing import cast_to
from .reduce import Mean, _mean_array, _spread, mean


class Var(Function):
    """sum(|a - mean|^2) / (N - correction) over ``axes``: real, also for complex ``a``.

    Backward: d var / d a_i = 2 (a_i - mean) / (N - correction).  (For complex a = x + iy,
    var is a real function of x and y with partials 2 Re(c) / dof and 2 Im(c) / dof, c the
    centred value: the same formula gives the gradient dvar/dx + i dvar/dy.)  Under create_graph the
    centred input is recomputed from ``a`` with ops (the saved array is a constant), so the
    second derivative 2 (delta_ij - 1/N) / (N - correction) comes out right.

    ``grad_count`` is the N that PyTorch's backward divides by: None for a whole-tensor
    reduction (``dim`` None, or a 0-d input), else the product of the sizes of the dims as
    given (1 for ``dim=()``, although the forward then reduces everything).  With no degrees
    of freedom left (N - correction <= 0) the whole-tensor gradient is g * inf, NaN where
    a_i equals the mean; a per-dim one keeps the formula, whatever sign or inf it gives.
    """
    complex_ok = True
    half = None       # the 16-bit dtype of an input computed in float32 (its gradient's rounding)

    def forward(self, a, *, axes, correction, keepdim, grad_count, half=None):
        self.half = half
        out = self._variance(a, axes, correction, keepdim)
        self.grad_count = grad_count
        self.save_for_backward(a, self.centered)
        return out

    def _variance(self, a, axes, correction, keepdim, root=False):
        out = self._moments(a, axes, correction, keepdim, root)
        xp = backend.xp_of(a)
        if a.dtype in SINGLE and not xp.isfinite(out).all() and xp.isfinite(a).all():
            # squares past float32's range (|a| from about 1e19): PyTorch's kernel
            # accumulates in double, where they are finite (see _reduce_precision); the
            # common case keeps float32's speed
            out = self._moments(a.astype(SINGLE[a.dtype]), axes, correction, keepdim, root)
            out, self.centered = out.astype(a.dtype), self.centered.astype(a.dtype)
        return out

    def _moments(self, a, axes, correction, keepdim, root):
        n = 1
        for ax in axes:
            n *= a.shape[ax]
        c = self.centered = a - _mean_array(a, axes, True, n)
        self.axes, self.keepdim, self.correction = axes, keepdim, correction
        with ieee_errors():
            # |c|^2: a complex input's variance is real
            squares = (c.real * c.real + c.imag * c.imag if c.dtype.kind == "c" else c * c)
            squares = squares.sum(axis=axes, keepdims=keepdim)
            # no values: NaN, whatever the correction (PyTorch's mean of nothing is NaN)
            divisor = builtins.max(n - correction, 0) if n else float("nan")
            out = squares / divisor
            if divisor == 0 and c.dtype.kind == "c":
                # PyTorch adds the real and imaginary parts' variances: with no degrees of
                # freedom a part whose squares sum to 0 is 0 / 0, NaN, whatever the other's
                zero = ((c.real * c.real).sum(axis=axes, keepdims=keepdim) == 0) | \
                    ((c.imag * c.imag).sum(axis=axes, keepdims=keepdim) == 0)
                out = backend.xp_of(out).where(zero, float("nan"), out)
            if root:                     # std: the root taken before the cast, as PyTorch
                out = backend.xp_of(out).sqrt(out)
            return c_order(out, c)

    def backward(self, g):
        a, centered = self.saved_tensors[:2]
        return self._variance_backward(g, a, centered)

    def _variance_backward(self, g, a, centered):
        count = a._array.size if self.grad_count is None else self.grad_count
        dof = count - self.correction
        if self.grad_count is None and dof <= 0:
            xp = backend.xp_of(a._array)
            arr = a._array
            with ieee_errors():
                factor = xp.where(arr == arr.mean(), xp.nan, xp.inf).astype(arr.real.dtype)
            # real g times a real factor, then complex for a complex input (nan + 0j, as
            # PyTorch: a complex product would spread the NaN to the imaginary part)
            spread = _spread(g, a.shape, self.axes, self.keepdim)
            return cast_to(Mul.apply(spread, Tensor._wrap(factor)), arr.dtype)
        scale = 2.0 / dof if dof != 0 else float("inf")     # 2 / 0 is inf, as in C++
        if self.half is not None:
            # a 16-bit input: PyTorch's (2 / dof * g) * (a - mean(a)), each step rounded to
            # the 16-bit dtype
            a16 = cast(a, self.half)
            centered = sub(a16, mean(a16, self.axes, True))
            spread = _spread(g, a.shape, self.axes, self.keepdim)
            return mul(mul(cast(spread, self.half), scale), centered)
        if is_grad_enabled():
            centered = sub(a, Mean.apply(a, axes=self.axes, keepdim=True))
        # (2 / dof) g on the reduced gradient, then spread times (a - mean): PyTorch's order
        # of rounding, and one full-size pass
        return mul(_spread(mul(g, scale), a.shape, self.axes, self.keepdim), centered)


class Std(Var):
    """sqrt(var) over ``axes``.

    Backward: g / (2 std) passed on to the variance's backward, and 0 where std is exactly 0
    (a constant slice: PyTorch's choice, where sqrt's derivative would give inf * 0 = nan).
    Written as torch's formula so that its second derivative agrees too (NaN included, where
    torch's is NaN: the derivative with respect to g of 0 / (2 std) at std = 0).
    """
    complex_ok = True         # std = sqrt(var) with var real: Var's complex backward carries over

    def forward(self, a, *, axes, correction, keepdim, grad_count, half=None):
        self.grad_count, self.half = grad_count, half
        with ieee_errors():
            out = self._variance(a, axes, correction, keepdim, root=True)
        self.save_for_backward(a, self.centered, out)
        return out

    def backward(self, g):
        a, centered, out = self.saved_tensors
        with ieee_errors():
            if self.half is not None:         # (std and g read in the 16-bit dtype)
                out, g = cast(out, self.half), cast(g, self.half)
            g_var = where(out._array == 0, 0.0, div(g, mul(out, 2.0)))
            return self._variance_backward(g_var, a, centered)


# unbiased left out (PyTorch's parser refuses an explicit None there)
UNBIASED = Omitted("<unbiased>")


# keepdim left out (the old signature var(x, unbiased) takes no keepdim, not even False)
KEEPDIM = Omitted("<keepdim>")


def var(a, dim=None, unbiased=UNBIASED, keepdim=KEEPDIM, *, correction=None):
    """Variance with Bessel's correction by default (divide by N - 1), as PyTorch."""
    return _var_apply(Var, a, dim, unbiased, keepdim, correction, "var")


def std(a, dim=None, unbiased=UNBIASED, keepdim=KEEPDIM, *, correction=None):
    """sqrt(var), with the same arguments as ``var``."""
    return _var_apply(Std, a, dim, unbiased, keepdim, correction, "std")


def _var_apply(function, a, dim, unbiased, keepdim, correction, name):
    check_tensor(name, a)
    if unbiased is UNBIASED:
        unbiased = None
    elif not isinstance(unbiased, bool):
        # an int is no 'unbiased' (var(x, 0, 2) would otherwise read as unbiased=True), nor
        # is None (the wrappers word it for the call: several signatures fit)
        got = ["Tensor"] + ([] if dim is None else [python_type_name(dim)]) + \
            [python_type_name(unbiased)] + \
            ([] if keepdim is KEEPDIM or keepdim is False else [python_type_name(keepdim)])
        exc = TypeError(f"{name}() received an invalid combination of arguments - got "
                        f"({', '.join(got)}), but expected one of:\n")
        exc.argument = ArgumentError(name, "unbiased", "bool", unbiased)
        raise exc
    correction_given = correction is not None
    if unbiased is not None and correction_given:
        # one signature takes unbiased, another correction: none takes both
        exc = TypeError(f"{name}() received an invalid combination of arguments - got "
                        f"(..., correction=..., unbiased=...), but expected one of:\n")
        exc.argument = ArgumentError(name, None, None, correction)   # (worded for the call)
        raise exc
    keepdim_given = keepdim is not KEEPDIM
    keepdim = bool_arg(name, "keepdim", keepdim) if keepdim_given else False
    if isinstance(correction, np.generic) or (isinstance(correction, Tensor)
                                              and correction.ndim == 0):
        # a 0-d tensor or a numpy scalar reads as its Python number (a numpy int64
        # would promote a float32 variance to float64)
        correction = correction.item()
    elif correction_given and (not isinstance(correction, numbers.Number)
                               or isinstance(correction, complex)):
        got = ["Tensor"] + ([] if dim is None else [python_type_name(dim)])
        exc = TypeError(f"{name}() received an invalid combination of arguments - got "
                        f"({', '.join(got)}, correction={python_type_name(correction)}), but "
                        f"expected one of:\n")
        exc.argument = ArgumentError(name, None, None, correction)   # (worded for the call)
        raise exc
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    if isinstance(dim, bool):          # var(x, False): the old positional 'unbiased'
        if keepdim_given or unbiased is not None or correction_given:
            # that overload takes nothing else, and a bool is no dim: none of them fits
            exc = TypeError(f"{name}() received an invalid combination of arguments - got "
                            f"(..., bool, ...), but expected one of:\n")
            exc.argument = ArgumentError(name, None, None, dim)   # (worded for the call)
            raise exc
        correction, dim = int(dim), None
    if a._array.dtype.kind not in "fcV":
        raise RuntimeError(f"std and var only support floating point and complex dtypes (got "
                           f"{a.dtype.name})")
    if dim is None or a.ndim == 0:
        grad_count = None
        axes = normalize_dims(dim, a.ndim)
    else:
        given = normalize_dims(dim, a.ndim)
        grad_count = 1
        for ax in given:
            grad_count *= a.shape[ax]
        axes = given or tuple(range(a.ndim))        # dim=() reduces everything, as PyTorch
    kept = 1
    for ax in range(a.ndim):
        if ax not in axes:
            kept *= a.shape[ax]
    if a._array.size // builtins.max(kept, 1) - correction <= 0:
        warn_user(f"{name}(): degrees of freedom is <= 0. Correction should be strictly "
                  "less than the reduction factor (input numel divided by output numel).",
                  UserWarning)
    if dtypes.reduced_float(a._array.dtype):
        # as PyTorch: float16 is summed in float32 and rounded once (its squares overflow
        # from |x| = 256, where the standard deviation is still far from float16's limit)
        out = cast(function.apply(cast(a, dtypes.float32), axes=axes, correction=correction,
                                  keepdim=keepdim, grad_count=grad_count,
                                  half=a._array.dtype), a._array.dtype)
        name = {Var: "VarBackward0", Std: "StdBackward0"}.get(function)
        return out if name is None else rename_node(out, name)
    return function.apply(a, axes=axes, correction=correction, keepdim=keepdim,
                          grad_count=grad_count)
