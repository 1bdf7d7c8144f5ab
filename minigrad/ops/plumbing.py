"""The shape and dtype plumbing that every backward uses: reshape, expand, sum_to, cast.

Two pairs of adjoint ops, each the other's backward:

  * ``Expand`` (broadcast (3, 1) -> (2, 3, 4), a view) and ``SumTo`` (sum (2, 3, 4) back down
    to (3, 1)): a broadcast copies an element; the gradient of the copies is their sum.
  * ``Reshape`` and ``Cast`` are their own adjoints: reshape back, cast back.

and the complex helpers: ``Conj`` (its own adjoint), ``RealPart`` (the real part, whose
adjoint puts a real gradient back as g + 0i), and ``ViewAsReal`` / ``ViewAsComplex`` (a
complex array's memory as (real, imag) pairs and back, each the other's adjoint).

Because these backwards are again ops of this module, a gradient built from them can be
differentiated again, to any order.  The functions here take no user input (no argument
checks): ops call them on shapes they computed themselves.
"""
from __future__ import annotations


import numpy as np

from .. import _memory_format as mf, backend, dtypes
from .._warn_once import COMPLEX_TO_REAL, USER, warn_once
from ..autograd import Function
from ._util import c_order, unbroadcast
from ._view_strides import view_strides

__all__ = ["Reshape", "Expand", "SumTo", "Cast", "Conj", "RealPart", "ViewAsReal",
           "ViewAsComplex", "reshape_to", "expand_to", "sum_to", "cast_to", "conj_of"]


class Reshape(Function):
    """(..) -> shape with the same number of elements; a view when numpy can make one."""
    returns_view = True
    saved_fields = {"self_sym_sizes": "in_shape"}       # as PyTorch's ViewBackward0 shows
    # PyTorch has no ReshapeBackward0: its reshape of contiguous memory records a view (the
    # user-facing reshape picks its name by the input's layout, ops/movement.py)
    _node_name = "ViewBackward0"

    def forward(self, a, *, shape):
        self.in_shape = a.shape
        r = a.reshape(shape)
        if r.size and (1 in a.shape or not a.flags.c_contiguous) and r.base is not None:
            # numpy picks its own strides for size-1 dims; a view takes PyTorch's
            strides = view_strides(a.shape, a.strides if a.ndim else (a.itemsize,), shape)
            if strides is not None and strides != r.strides:
                r = backend.xp_of(a).lib.stride_tricks.as_strided(a, shape, strides)
        return r

    def backward(self, g):
        return reshape_to(g, self.in_shape)


def _expanded_strides(a, shape):
    """PyTorch's strides (bytes) for array ``a`` expanded to ``shape``: a repeated dim steps 0;
    a size-1 dim that stays size 1 keeps its stride, and a new size-1 leading dim gets the
    size times the stride of the dim after it (numpy gives both 0).  A 0-d ``a`` steps 0
    everywhere."""
    if a.ndim == 0:
        return (0,) * len(shape)
    lead = len(shape) - a.ndim
    steps = [0] * len(shape)
    after = a.itemsize
    for i in range(len(shape) - 1, -1, -1):
        size, step = (a.shape[i - lead], a.strides[i - lead]) if i >= lead else (1, after)
        steps[i] = step if size == shape[i] else 0
        after = shape[i] * steps[i]
    return tuple(steps)


def _broadcasts(a, shape):
    """Whether ``shape`` is a broadcast of ``a``'s: as many dims or more, each of a's sizes
    equal to the size there or 1, no negative size (what numpy's broadcast_to checks)."""
    lead = len(shape) - a.ndim
    if lead < 0 or lead and min(shape[:lead]) < 0:
        return False
    for m, n in zip(a.shape, shape[lead:]):     # (a loop: cheaper than all() on a few dims)
        if m != n and (m != 1 or n < 0):
            return False
    return True


class Expand(Function):
    """Broadcast ``a`` to ``shape`` (new leading axes, size-1 axes repeated): a view."""
    returns_view = True
    saved_fields = {"self_sym_sizes": "in_shape"}
    def forward(self, a, *, shape):
        self.in_shape = a.shape
        return expanded_array(a, shape)

    def backward(self, g):
        return sum_to(g, self.in_shape)         # each copy's gradient, summed


def expanded_array(a, shape):
    """Array ``a`` broadcast to ``shape`` as ``Expand`` makes it (a view with PyTorch's
    strides, read-only where an element repeats); for a backward that builds the view
    itself when nothing is recorded (``reduce._spread``)."""
    if type(a) is np.ndarray and a.flags.c_contiguous and a.size and a.ndim:
        # numpy's broadcast_to is Python around an nditer: 2.4 us for a 4x4 result, most
        # of a small sum's backward. A plain broadcast of contiguous memory is made
        # here at once with PyTorch's steps (0.3 us), read-only where it repeats
        if _broadcasts(a, shape):
            steps = _expanded_strides(a, shape)
            out = np.ndarray(shape, a.dtype, a, 0, steps)
            if a.flags.writeable:
                for st, n in zip(steps, shape):
                    if st == 0 and n > 1:
                        out.flags.writeable = False
                        break
            return out
    out = backend.xp_of(a).broadcast_to(a, shape)
    if type(out) is not np.ndarray:
        return out
    # (numpy's steps differ from PyTorch's only at size-1 dims of the result)
    steps = _expanded_strides(a, out.shape) if 1 in out.shape else out.strides
    # no element repeated (the same shape, new size-1 dims, a size 0): PyTorch writes
    # through such a view, where numpy's broadcast_to is read-only
    writeable = a.flags.writeable and \
        not any(st == 0 and n > 1 for st, n in zip(out.strides, out.shape))
    if writeable or steps != out.strides:
        out = np.lib.stride_tricks.as_strided(a, out.shape, steps, writeable=writeable)
    return out


class SumTo(Function):
    """Sum ``a`` down to ``shape``, the shape it was broadcast from: Expand's adjoint."""
    complex_ok = True
    half_in_float32 = True        # a float16 sum accumulated in float32, as PyTorch's (Sum's)
    def forward(self, a, *, shape):
        self.in_shape = a.shape
        # row-major, as PyTorch's sum (numpy's follows a transposed gradient's layout)
        return c_order(unbroadcast(a, shape), a)

    def backward(self, g):
        return expand_to(g, self.in_shape)      # every summed element got the same gradient


class Cast(Function):
    """Change the dtype; the gradient goes back in the input's dtype (a complex gradient of a
    real input as its real part: the imaginary direction is not the input's to move in).
    Complex to real takes the real part, which callers ask for explicitly (``RealPart``):
    an op that quietly casts its input to float would otherwise drop the imaginary part."""
    complex_ok = True

    _node_name = "ToCopyBackward0"        # PyTorch's node for x.to(dtype), x.double()...

    def forward(self, a, *, dtype):
        if a.dtype.kind == "c" and np.dtype(dtype).kind != "c":
            raise NotImplementedError(f"a cast of a {a.dtype} tensor to {np.dtype(dtype)} "
                                      f"would drop its imaginary part: this op is not "
                                      f"implemented for complex tensors")
        self.in_dtype = a.dtype
        # NaN or an out-of-range float cast to an integer, or past float16's range, is silent
        # in PyTorch (whatever value the platform's conversion gives); numpy would warn, but
        # not here: Function.apply runs every forward with those warnings off
        out = dtypes.astype(a, dtype)
        if type(out) is np.ndarray and out is not a and not mf.exactly_row_major(a):
            # PyTorch's copy keeps a's strides where a is dense (a size-1 dim's too: an
            # operand promoted for a binary op is then ordered as a itself would be)
            out = mf.restrided(out, mf.target_strides(a, mf.preserve_format))
        return out

    def backward(self, g):
        return cast_to(g, self.in_dtype)


def reshape_to(t, shape):
    shape = tuple(shape)
    return t if t._array.shape == shape else Reshape.apply(t, shape=shape)


def expand_to(t, shape):
    shape = tuple(shape)
    return t if t._array.shape == shape else Expand.apply(t, shape=shape)


def sum_to(t, shape):
    shape = tuple(shape)
    return t if t._array.shape == shape else SumTo.apply(t, shape=shape)


def cast_to(t, np_dtype):
    if t._array.dtype == np_dtype:
        return t
    if t._array.dtype.kind == "c" and np.dtype(np_dtype).kind != "c":
        t = RealPart.apply(t)               # a real input's share of a complex gradient
        if t._array.dtype == np_dtype:
            return t
    return Cast.apply(t, dtype=np_dtype)


class Conj(Function):
    """x - iy for z = x + iy, written out (numpy has no lazy conjugate view).  Linear over
    the reals and its own adjoint: the gradient goes back conjugated."""
    complex_ok = True

    def forward(self, a):
        return backend.xp_of(a).conj(a)

    def backward(self, g):
        return conj_of(g)


def conj_of(t):
    """The conjugate of ``t``; ``t`` itself when it is real (what every complex-ready backward
    calls on the factors it multiplies the gradient by)."""
    return Conj.apply(t) if t._array.dtype.kind == "c" else t


class RealPart(Function):
    """The real part x of z = x + iy, a view of z's memory (real (...) from complex (...)).
    A real gradient g goes back to z as g + 0i."""
    complex_ok = True
    returns_view = True

    def forward(self, a):
        self.in_dtype = a.dtype
        return a.real

    def backward(self, g):
        return Cast.apply(g, dtype=self.in_dtype)


def written_as_real(src, target_kind):
    """A complex ``src`` about to be written into a real tensor (of numpy dtype kind
    ``target_kind``), as PyTorch converts it: its real part, with PyTorch's warning (the
    gradient goes back as g + 0i), or for a bool target whether either part is nonzero."""
    if target_kind == "b":
        return type(src)._wrap(src._array != 0)
    warn_once(COMPLEX_TO_REAL, stacklevel=USER)    # (PyTorch: once a process)
    return RealPart.apply(src)


class ViewAsReal(Function):
    """(...,) complex -> (..., 2) real: each element's [x, y], the same memory read as twice
    as many real numbers.  Its gradient (..., 2) goes back as g[..., 0] + i g[..., 1]."""
    complex_ok = True
    returns_view = True

    def forward(self, a):
        real_dtype = a.real.dtype
        if a.ndim == 0:
            a = a.reshape(1)
            return a.view(real_dtype)
        return a[..., None].view(real_dtype)

    def backward(self, g):
        return ViewAsComplex.apply(g.contiguous())


class ViewAsComplex(Function):
    """(..., 2) real -> (...,) complex, the same memory: r[..., 0] + i r[..., 1].  The
    gradient goes back as view_as_real of g."""
    complex_ok = True
    returns_view = True

    def forward(self, a):
        return a.view(np.result_type(a.dtype, np.complex64))[..., 0]

    def backward(self, g):
        return ViewAsReal.apply(g)
