"""Complex numbers: the parts of z = x + iy and the ways between complex and real tensors.

    real(z) = x        imag(z) = y        angle(z) = atan2(y, x)     sgn(z) = z / |z|
    view_as_real(z):   (..., ) complex  ->  (..., 2) real, [x, y] per element (a view)
    view_as_complex(r): (..., 2) real   ->  (..., ) complex (a view)
    complex(x, y) = x + iy              polar(r, theta) = r (cos theta + i sin theta)

Gradients follow PyTorch's convention for a real loss L of z = x + iy: the gradient is
dL/dx + i dL/dy.  So a real output's gradient g reaches z through real() as g + 0i, through
imag() as 0 + ig, and complex(x, y) hands g's real part to x and its imaginary part to y.  For
a real r-valued function of z, the gradient is g times (dr/dx + i dr/dy): z / |z| for |z|,
i z / |z|^2 for the angle.

On a real tensor real() is the tensor itself and imag() is refused, as in PyTorch.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _memory_format as mf, backend, dtypes
from ..autograd import Function
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._autocast_cast import in_float32
from ._util import broadcast_shape, not_implemented_for
from .elementary_functions import abs
from .elementwise import cast, mul, sub
from .division import div
from .pointwise_select import where
from .plumbing import Cast, RealPart, ViewAsComplex, ViewAsReal, cast_to, conj_of, sum_to

__all__ = ["real", "imag", "isreal", "angle", "sgn", "view_as_real", "view_as_complex",
           "complex", "polar"]


def _is_complex(t):
    return t._array.dtype.kind == "c"


def real(input):
    """The real part x of z = x + iy: a view of a complex tensor's memory (float32 from
    complex64); a real tensor itself, as PyTorch."""
    if not _is_complex(input):
        return input
    # PyTorch's real part is a select of the (..., 2) real view: its node says so
    return rename_node(RealPart.apply(input), "SelectBackward0")


class ImagPart(Function):
    """The imaginary part y of z = x + iy, a view of z's memory.  A real gradient g goes back
    as 0 + ig."""
    complex_ok = True
    returns_view = True

    def forward(self, a):
        self.in_dtype = a.dtype
        return a.imag

    def backward(self, g):
        return mul(Cast.apply(g, dtype=self.in_dtype), 1j)


def imag(input):
    """The imaginary part y of z = x + iy, a view; refused for real tensors, as PyTorch."""
    if not _is_complex(input):
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return rename_node(ImagPart.apply(input), "SelectBackward0")


def isreal(input):
    """True where the imaginary part is 0 (everywhere in a real tensor)."""
    a = input._array
    xp = backend.xp_of(a)
    # (laid out as input, as PyTorch's ``ones_like``)
    if a.dtype.kind == "c":
        return Tensor._wrap(a.imag == 0)
    out = mf.empty_strided(xp, a.shape, mf.target_strides(a, mf.preserve_format), bool)
    out[...] = True
    return Tensor._wrap(out)


class Angle(Function):
    """The argument of each element, in radians.

    complex z: atan2(y, x) in (-pi, pi]; its gradient is g * i z / |z|^2 (0 at z = 0).
    real x: pi for x < 0, 0 for x >= 0 (and -0.0), NaN for NaN; piecewise constant, so its
    gradient is 0 (PyTorch's, not g * 0, which would be NaN for a NaN g)."""
    complex_ok = True

    def forward(self, a):
        xp = backend.xp_of(a)
        self.complex_input = a.dtype.kind == "c"
        if self.complex_input:
            self.save_for_backward(a)
            # (row-major whatever a's layout, as PyTorch's complex angle kernel writes it)
            return xp.ascontiguousarray(xp.angle(a))
        out = xp.where(a < 0, math.pi, 0.0).astype(a.dtype)
        return xp.where(xp.isnan(a), a, out)

    def backward(self, g):
        if self.complex_input:
            z, = self.saved_tensors
            # PyTorch's where(z == 0, 0, g z / |z|^2 i): g inside the choice, so that the
            # derivative by g at z = 0 is its 0 * (0 / 0) = NaN
            r2 = mul(z, conj_of(z)).real
            return where(r2._array == 0, 0.0,
                         mul(div(mul(cast_to(g, z._array.dtype), z), r2), 1j))
        return Tensor._wrap(backend.xp_of(g._array).zeros_like(g._array))


def angle(input):
    """The argument (phase) of each element in radians, as a real tensor; integers and bools
    give the default float dtype.  See ``Angle``."""
    if input._array.dtype.kind in "biu":
        input = cast(input, dtypes.default_float().np)
    return Angle.apply(input)


def sgn(input):
    """z / |z| for complex z (0 at z = 0); for a real tensor its sign (-1, 0 or 1). See
    ``Sgn`` for the gradient."""
    # (one op in PyTorch for either kind of input: its node is SgnBackward0)
    if not _is_complex(input):
        return rename_node(input.sign(), "SgnBackward0")
    return Sgn.apply(input)


class Sgn(Function):
    """s = z / |z| for complex z, 0 at z = 0.

    Backward: with r = |z|, a real loss moves z by (g - Re(conj(g) s) s) / r (the part of g
    along s would change |z|, which s does not see), 0 where r = 0, as PyTorch's: the 0
    replaces the quotient after it is taken, so that second derivatives there are its
    0 / 0 = NaN."""
    complex_ok = True
    _node_name = "SgnBackward0"
    saved_names = ("self", "result")

    def forward(self, z):
        xp = backend.xp_of(z)
        r = xp.abs(z)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = xp.where(r == 0, 0, z / xp.where(r == 0, 1, r)).astype(z.dtype, copy=False)
        out = mf.pointwise_result(out, z)
        self.save_for_backward(z, out)
        return out

    def backward(self, g):
        z, s = self.saved_tensors
        r = abs(z)
        along = mul(real(mul(conj_of(g), s)), s)
        with np.errstate(invalid="ignore", divide="ignore"):
            return where(r._array == 0, 0.0, div(sub(g, along), r))


def view_as_real(input):
    """A complex tensor as a real one with a last dim of 2 (real and imaginary parts), sharing
    its memory."""
    if not _is_complex(input):
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return ViewAsReal.apply(input)


@in_float32
def view_as_complex(input):
    """A real tensor whose last dim has size 2 read as a complex one, sharing its memory; the
    last dim must be contiguous (stride 1) and the other strides even, as in PyTorch."""
    a = input._array
    if a.dtype == np.float16:
        raise _no_complex32("view_as_complex")
    if a.dtype.kind != "f":            # (bfloat16 too: it has no complex partner)
        raise RuntimeError(f"view_as_complex is only supported for half, float and double "
                           f"tensors, but got a tensor of scalar type: "
                           f"{dtypes.scalar_type_name(a.dtype)}")
    if a.ndim == 0:
        raise RuntimeError("Input tensor must have one or more dimensions")
    if a.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    strides = input.stride()
    if strides[-1] != 1:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if any(s % 2 for s in strides[:-1]):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension")
    if input.storage_offset() % 2:
        raise RuntimeError("Tensor must have a storage_offset divisible by 2")
    return ViewAsComplex.apply(input)


def _no_complex32(name):
    """PyTorch makes complex32 from float16 parts; numpy has no such type."""
    return NotImplementedError(f'"{name}" not implemented for \'Half\': minigrad has no '
                               f'complex32 dtype (see docs/complex.md)')


_HALF_FLOAT_DOUBLE = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def _float_parts(a, b, name):
    """The two real tensors of complex()/polar(), checked as PyTorch checks them."""
    for label, value, pos in (("real" if name == "complex" else "abs", a, 1),
                              ("imag" if name == "complex" else "angle", b, 2)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name}(): argument '{label}' (position {pos}) must be Tensor, "
                            f"not {type(value).__name__}")
    da, db = a._array.dtype, b._array.dtype
    if not (da in _HALF_FLOAT_DOUBLE and db in _HALF_FLOAT_DOUBLE):
        raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got "
                           f"{dtypes.scalar_type_name(da)} and {dtypes.scalar_type_name(db)}")
    if da != db:
        raise RuntimeError(f"Expected object of scalar type {dtypes.scalar_type_name(da)} but "
                           f"got scalar type {dtypes.scalar_type_name(db)} for second argument")
    if da == np.float16:        # (PyTorch's polar has no half kernel: its words)
        raise not_implemented_for("polar_cpu", da) if name == "polar" else _no_complex32(name)
    broadcast_shape(a._array.shape, b._array.shape, name)


class ComplexFromParts(Function):
    """x + iy from real x and y (broadcast).  Backward: Re(g) to x, Im(g) to y."""
    _node_name = "ComplexBackward0"         # PyTorch's name (torch.complex)

    def forward(self, x, y):
        self.shapes = x.shape, y.shape
        xp = backend.xp_of(x)
        out = xp.empty(xp.broadcast_shapes(x.shape, y.shape),
                       dtype=dtypes.from_numpy_dtype(x.dtype).to_complex().np)
        out = mf.pointwise_result(out, x, y)          # laid out from the operands, x first
        out.real, out.imag = x, y
        return out

    def backward(self, g):
        sx, sy = self.shapes
        return (sum_to(real(g), sx) if self.needs_input_grad[0] else None,
                sum_to(imag(g), sy) if self.needs_input_grad[1] else None)


def complex(real, imag):
    """real + i imag: a complex tensor from two float32 (complex64) or float64 (complex128)
    tensors of the same dtype, broadcast together."""
    _float_parts(real, imag, "complex")
    return ComplexFromParts.apply(real, imag)


class Polar(Function):
    """r (cos theta + i sin theta) from real r and theta (broadcast).
    Backward, with u = cos theta + i sin theta: Re(g conj(u)) to r (NaN where r is infinite
    or NaN, as PyTorch's), Re(g conj(i out)) to theta.

    PyTorch takes u from the output, as out / |out|: its gradient for r is 0 at r = 0 and
    flips sign below (its gradcheck fails there); minigrad's is the derivative, u, there
    too."""
    def forward(self, r, theta):
        self.save_for_backward(r, theta)
        self.shapes = r.shape, theta.shape
        xp = backend.xp_of(r)
        out = xp.empty(xp.broadcast_shapes(r.shape, theta.shape),
                       dtype=dtypes.from_numpy_dtype(r.dtype).to_complex().np)
        out = mf.pointwise_result(out, r, theta)      # laid out from the operands, r first
        out.real, out.imag = r * xp.cos(theta), r * xp.sin(theta)
        return out

    def backward(self, g):
        r, theta = self.saved_tensors
        unit = complex(theta.cos(), theta.sin())
        gr = gt = None
        if self.needs_input_grad[0]:
            gr = real(mul(g, conj_of(unit)))
            infinite = ~backend.xp_of(r._array).isfinite(r._array)
            if infinite.any():
                gr = where(infinite, float("nan"), gr)
            gr = sum_to(gr, r.shape)
        if self.needs_input_grad[1]:
            # d out / d theta = i out
            gt = sum_to(real(mul(g, conj_of(mul(mul(unit, r), 1j)))), theta.shape)
        return gr, gt


@in_float32
def polar(abs, angle):
    """The complex numbers with modulus ``abs`` and argument ``angle`` (float32 or float64
    tensors of one dtype, broadcast)."""
    _float_parts(abs, angle, "polar")
    return Polar.apply(abs, angle)

