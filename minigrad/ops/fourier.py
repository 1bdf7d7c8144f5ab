"""Discrete Fourier transforms with PyTorch's API (``torch.fft``; ``minigrad.fft`` is this
module's namespace).

Everything is built from three differentiable transforms over a set of axes:

    C2C  complex -> complex   fftn / ifftn                     y = F x
    R2C  real    -> complex   rfftn: the half spectrum         y = P F x    (P keeps bins
                              (last axis n -> n // 2 + 1)                    0 .. n // 2)
    C2R  complex -> real      irfftn: the inverse of R2C for a Hermitian spectrum

``norm`` scales a transform of n points: "backward" (default) leaves the forward transform
unscaled and divides the inverse by n, "forward" the other way round, "ortho" divides both
by sqrt(n).  The adjoint of a transform is the opposite transform with the *dual* scale
(backward <-> forward, ortho <-> ortho), which is how every backward below is written; each
backward is again one of these ops, so second derivatives work.

Gradients follow PyTorch's convention (z.grad = dL/dx + i dL/dy for a real loss L):

    C2C:  grad_x = F^H g                        (the inverse transform, dual norm)
    R2C:  grad_x = Re(F^H P^T g)                (g zero-padded back to n bins)
    C2R:  grad_z = c * R2C(g, dual norm)        c = 2 on the bins that stand for a
                                                conjugate pair (1 .. (n - 1) // 2), else 1

``hfft`` / ``ihfft`` (the Hermitian transforms) follow by conjugation:
hfftn(x) = irfftn(conj x) and ihfftn(x) = conj(rfftn(x)), each with the dual norm.
``n`` / ``s`` zero-pad or crop the input first (``_Resize``, its own adjoint pair).  The
argument checks are in ``fourier_arguments.py``.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend, dtypes
from ..autograd import Function
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._util import argument_error, scalar_type_name
from .elementwise import mul
from .plumbing import cast_to, conj_of
from .shaping import roll
from ._fft_layout import (
    c2c_strides, c2r_strides, element_strides, laid_out, r2c_strides, row_major_kept)
from .fourier_arguments import (
    _DUAL, _TORCH_KIND, _as_complex, _axis, _check_n, _full_sizes, _n_dim_input,
    _one_dim_input, _real_only)

__all__ = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "rfft2", "irfft2",
           "hfft2", "ihfft2", "fftn", "ifftn", "rfftn", "irfftn", "hfftn", "ihfftn",
           "fftshift", "ifftshift", "fftfreq", "rfftfreq"]


# ---------------------------------------------------------------------------------------------
# the primitives
# ---------------------------------------------------------------------------------------------
class Resize(Function):
    """Zero-pad or crop axes to new sizes (``sizes``: one per axis, None = unchanged), keeping
    the leading elements: (.., n, ..) -> (.., m, ..).  Cropping and zero-padding are each
    other's adjoints, so the gradient is the same op back to the old sizes."""
    complex_ok = True

    def forward(self, a, *, sizes):
        self.in_shape = a.shape
        shape = tuple(a.shape[i] if m is None else m for i, m in enumerate(sizes))
        common = tuple(slice(0, min(n, m)) for n, m in zip(a.shape, shape))
        if all(m <= n for n, m in zip(a.shape, shape)):
            # cropped only: PyTorch transforms a view (its layout, which the result's follows)
            return a[common].copy(order="K")
        out = backend.xp_of(a).zeros(shape, dtype=a.dtype)
        out[common] = a[common]
        return out

    def backward(self, g):
        return resize(g, self.in_shape)


def resize(t, sizes):
    """``t`` zero-padded / cropped to ``sizes`` (None keeps an axis); ``t`` itself if no
    size changes."""
    if all(m is None or m == n for n, m in zip(t.shape, sizes)):
        return t
    return Resize.apply(t, sizes=tuple(sizes))


def _complex_grad(g, dtype):
    """The gradient of a complex output as that complex dtype (a real one as g + 0i)."""
    return g if g._array.dtype == dtype else cast_to(g, dtype)


class C2C(Function):
    """fftn (``inverse`` False) or ifftn of a complex array over ``axes``, scaled by ``norm``;
    same shape and dtype.  Its adjoint is the opposite transform with the dual norm."""
    complex_ok = True
    _node_name = "FftC2CBackward0"                # PyTorch's node

    def forward(self, a, *, axes, norm, inverse):
        self.axes, self.norm, self.inverse, self.dtype = axes, norm, inverse, a.dtype
        if not axes:
            return a.copy(order="K")            # (PyTorch's clone keeps the layout)
        fft = backend.xp_of(a).fft
        out = (fft.ifftn if inverse else fft.fftn)(a, axes=axes, norm=norm)
        out = out.astype(a.dtype, copy=False)
        if type(out) is not np.ndarray or row_major_kept(a, out, axes):
            return out
        return laid_out(out, c2c_strides(element_strides(a), a.shape, list(axes)))

    def backward(self, g):
        return C2C.apply(_complex_grad(g, self.dtype), axes=self.axes, norm=_DUAL[self.norm],
                         inverse=not self.inverse)


class R2C(Function):
    """rfftn of a real array over ``axes`` (a half spectrum on the last one: n -> n // 2 + 1
    bins, the full transform on the others), complex of the matching precision.

    Backward: y = P F x, so grad_x = Re(F^H P^T g): g zero-padded back to n bins, the inverse
    transform with the dual norm, the real part."""
    complex_ok = True
    _node_name = "FftR2CBackward0"                # PyTorch's node

    def forward(self, a, *, axes, norm, last_first=False):
        self.axes, self.norm, self.in_dtype = axes, norm, a.dtype
        self.n_last = a.shape[axes[-1]]
        out = backend.xp_of(a).fft.rfftn(a, axes=axes, norm=norm)
        out = out.astype(np.result_type(a.dtype, np.complex64), copy=False)
        if type(out) is not np.ndarray or (row_major_kept(a, out, axes) and not (
                last_first and len(axes) > 1)):
            return out
        return laid_out(out, r2c_strides(element_strides(a), out.shape, list(axes),
                                         last_first=last_first))

    def backward(self, g):
        sizes = [None] * g.ndim
        sizes[self.axes[-1]] = self.n_last
        full = resize(_complex_grad(g, np.result_type(self.in_dtype, np.complex64)), sizes)
        x = C2C.apply(full, axes=self.axes, norm=_DUAL[self.norm], inverse=True)
        return cast_to(x, self.in_dtype)


class C2R(Function):
    """irfftn over ``axes``: the inverse transform on all but the last axis, then a real
    inverse transform of the half spectrum (n_last // 2 + 1 bins) to ``n_last`` points.

    Backward: bin k (0 < k <= (n - 1) // 2) stands for itself and its conjugate mirror n - k,
    so it moves the output twice: grad_z = c * rfftn(g) (dual norm), c = 2 there, 1 at bin 0
    and at bin n / 2 (whose imaginary parts the transform ignores; rfftn gives them real)."""
    complex_ok = True
    _node_name = "FftC2RBackward0"                # PyTorch's node

    def forward(self, a, *, axes, norm, n_last):
        self.axes, self.norm, self.n_last, self.dtype = axes, norm, n_last, a.dtype
        s = [a.shape[ax] for ax in axes[:-1]] + [n_last]
        out = backend.xp_of(a).fft.irfftn(a, s=s, axes=axes, norm=norm)
        out = out.astype(np.empty(0, a.dtype).real.dtype, copy=False)
        if type(out) is not np.ndarray or row_major_kept(a, out, axes):
            return out
        return laid_out(out, c2r_strides(element_strides(a), a.shape, out.shape, list(axes)))

    def backward(self, g):
        real = np.empty(0, self.dtype).real.dtype
        gz = R2C.apply(cast_to(g, real), axes=self.axes, norm=_DUAL[self.norm])
        bins = gz.shape[self.axes[-1]]
        xp = backend.xp_of(gz._array)
        c = xp.ones(bins, dtype=real)
        c[1:1 + (self.n_last - 1) // 2] = 2
        shape = [1] * gz.ndim
        shape[self.axes[-1]] = bins
        return mul(gz, Tensor._wrap(c.reshape(shape)))


# ---------------------------------------------------------------------------------------------
# the transforms, over given axes
# ---------------------------------------------------------------------------------------------
def _check_not_empty(t, axes):
    """PyTorch's refusals of a transform with no elements (``t`` at the transform's sizes):
    a transformed dim of size 0 is an invalid number of points; an empty tensor whose
    transformed dims are not empty is refused by its CPU FFT library (MKL)."""
    if axes and t._array.size == 0:
        for ax in axes:
            _check_n(t.shape[ax])
        raise RuntimeError("MKL FFT error: Intel oneMKL DFTI ERROR: Inconsistent configuration "
                           "parameters")


def _c2c(input, axes, sizes, norm, inverse):
    x = resize(_as_complex(input), _full_sizes(input, axes, sizes))
    _check_not_empty(x, axes)
    return C2C.apply(x, axes=axes, norm=norm, inverse=inverse)


def _real_1d_node(input, out, inverse):
    """PyTorch's fft/ifft of a real signal run its real-to-complex kernel (the two-sided
    spectrum; ifft as the conjugate of a forward one): the result's node is named so."""
    if input.is_complex():
        return out
    return rename_node(out, "ConjBackward0" if inverse else "FftR2CBackward0")


def _r2c(input, axes, sizes, norm, fname, message, last_first=False):
    _real_only(input, message)
    if not axes:
        raise RuntimeError(f"{fname} must transform at least one axis")
    x = resize(input, _full_sizes(input, axes, sizes))
    _check_not_empty(x, axes)
    return R2C.apply(x, axes=axes, norm=norm, last_first=last_first)


def _c2r(input, axes, sizes, norm, fname):
    if not axes:
        raise RuntimeError(f"{fname} must transform at least one axis")
    x = _as_complex(input)
    n_last = sizes[-1] if sizes[-1] is not None else 2 * (x.shape[axes[-1]] - 1)
    _check_n(n_last)
    full = _full_sizes(x, axes, sizes)
    full[axes[-1]] = n_last // 2 + 1
    x = resize(x, full)
    _check_not_empty(x, axes)
    return C2R.apply(x, axes=axes, norm=norm, n_last=n_last)


# the eighteen public transforms: 1-D, 2-D (dim=(-2, -1)) and n-D forms of six kinds
def fft(input, n=None, dim=-1, norm=None):
    """The 1-D discrete Fourier transform along ``dim`` (complex output)."""
    input, axes, sizes, norm = _one_dim_input(input, n, dim, norm, "fft")
    return _real_1d_node(input, _c2c(input, axes, sizes, norm, False), False)


def ifft(input, n=None, dim=-1, norm=None):
    """The 1-D inverse discrete Fourier transform along ``dim``."""
    input, axes, sizes, norm = _one_dim_input(input, n, dim, norm, "ifft")
    return _real_1d_node(input, _c2c(input, axes, sizes, norm, True), True)


def rfft(input, n=None, dim=-1, norm=None):
    """The 1-D transform of a real signal: the n // 2 + 1 non-negative frequency bins."""
    input, axes, sizes, norm = _one_dim_input(input, n, dim, norm, "rfft",
                                              "rfft expects a real input tensor")
    return _r2c(input, axes, sizes, norm, "rfft", "rfft expects a real input tensor")


def irfft(input, n=None, dim=-1, norm=None):
    """The inverse of ``rfft``: a half spectrum to ``n`` real points (default 2 (m - 1))."""
    input, axes, sizes, norm = _one_dim_input(input, n, dim, norm, "irfft", c2r=True)
    return _c2r(input, axes, sizes, norm, "irfft")


def hfft(input, n=None, dim=-1, norm=None):
    """The transform of a Hermitian-symmetric signal given by its first half: real output."""
    input, axes, sizes, norm = _one_dim_input(input, n, dim, norm, "hfft", c2r=True)
    return _c2r(conj_of(_as_complex(input)), axes, sizes, _DUAL[norm], "hfft")


def ihfft(input, n=None, dim=-1, norm=None):
    """The inverse of ``hfft``: a real signal to the first half of its inverse transform."""
    input, axes, sizes, norm = _one_dim_input(input, n, dim, norm, "ihfft",
                                              "ihfft expects a real input tensor")
    return conj_of(_r2c(input, axes, sizes, _DUAL[norm], "ihfft",
                        "ihfft expects a real input tensor"))


def fftn(input, s=None, dim=None, norm=None):
    """The n-D discrete Fourier transform over ``dim`` (all axes by default)."""
    input, axes, sizes, norm = _n_dim_input(input, s, dim, norm, "fftn")
    return _c2c(input, axes, sizes, norm, False)


def ifftn(input, s=None, dim=None, norm=None):
    """The n-D inverse discrete Fourier transform over ``dim`` (all axes by default)."""
    input, axes, sizes, norm = _n_dim_input(input, s, dim, norm, "ifftn")
    return _c2c(input, axes, sizes, norm, True)


def rfftn(input, s=None, dim=None, norm=None):
    """The n-D transform of a real signal, halved on the last transformed axis."""
    message = "rfftn expects a real-valued input tensor"
    input, axes, sizes, norm = _n_dim_input(input, s, dim, norm, "rfftn", message,
                                            halved=True)
    return _r2c(input, axes, sizes, norm, "rfftn", message)


def irfftn(input, s=None, dim=None, norm=None):
    """The inverse of ``rfftn``: real output, the last axis 2 (m - 1) unless ``s`` says."""
    input, axes, sizes, norm = _n_dim_input(input, s, dim, norm, "irfftn", halved=True,
                                            c2r=True)
    return _c2r(input, axes, sizes, norm, "irfftn")


def hfftn(input, s=None, dim=None, norm=None):
    """The n-D transform of a Hermitian signal given by its half (last axis): real output."""
    input, axes, sizes, norm = _n_dim_input(input, s, dim, norm, "hfftn", halved=True,
                                            c2r=True)
    return _c2r(conj_of(_as_complex(input)), axes, sizes, _DUAL[norm], "hfftn")


def ihfftn(input, s=None, dim=None, norm=None):
    """The inverse of ``hfftn``: a real signal to the half (last axis) of its inverse."""
    input, axes, sizes, norm = _n_dim_input(input, s, dim, norm, "ihfftn", halved=True)
    if input._array.dtype.kind == "c":
        raise RuntimeError(f"Only supports floating-point dtypes, but found: "
                           f"{_TORCH_KIND[input._array.dtype.name]}")
    # (PyTorch's two steps: the last dim real-to-complex, then the others: their layout)
    out = conj_of(_r2c(input, axes, sizes, _DUAL[norm], "ihfftn", "", last_first=True))
    # over several dims PyTorch ends with a complex-to-complex pass (its node names it)
    return out if len(axes) < 2 else rename_node(out, "FftC2CBackward0")


def _two_dim(dim, fname):
    """The 2-D transforms' ``dim``: PyTorch's parser takes no None there (the n-D ones read
    it as all the dims)."""
    if dim is None:
        raise argument_error(f"fft_{fname}", "dim", "tuple of ints", dim)
    return dim


def fft2(input, s=None, dim=(-2, -1), norm=None):
    """``fftn`` over the last two axes."""
    return fftn(input, s, _two_dim(dim, "fft2"), norm)


def ifft2(input, s=None, dim=(-2, -1), norm=None):
    """``ifftn`` over the last two axes."""
    return ifftn(input, s, _two_dim(dim, "ifft2"), norm)


def rfft2(input, s=None, dim=(-2, -1), norm=None):
    """``rfftn`` over the last two axes."""
    return rfftn(input, s, _two_dim(dim, "rfft2"), norm)


def irfft2(input, s=None, dim=(-2, -1), norm=None):
    """``irfftn`` over the last two axes."""
    return irfftn(input, s, _two_dim(dim, "irfft2"), norm)


def hfft2(input, s=None, dim=(-2, -1), norm=None):
    """``hfftn`` over the last two axes."""
    return hfftn(input, s, _two_dim(dim, "hfft2"), norm)


def ihfft2(input, s=None, dim=(-2, -1), norm=None):
    """``ihfftn`` over the last two axes."""
    return ihfftn(input, s, _two_dim(dim, "ihfft2"), norm)


# ---------------------------------------------------------------------------------------------
# frequency helpers
# ---------------------------------------------------------------------------------------------
def _shift(input, dim, sign):
    if dim is None:
        dim = tuple(range(input.ndim))
    elif isinstance(dim, numbers.Integral):
        dim = (dim,)
    if not dim:
        raise RuntimeError("`shifts` required")
    axes = [_axis(d, input.ndim) for d in dim]      # (a 0-d input: PyTorch's IndexError)
    return roll(input, [sign * (input.shape[a] // 2) for a in axes], axes)


def fftshift(input, dim=None):
    """Move the zero frequency to the middle: roll each axis in ``dim`` by size // 2."""
    return _shift(input, dim, 1)


def ifftshift(input, dim=None):
    """The inverse of ``fftshift``: roll each axis in ``dim`` back by size // 2."""
    return _shift(input, dim, -1)


def _check_freqs(name, n, size, dtype):
    """PyTorch's checks of fftfreq / rfftfreq: ``n`` an int, the length ``size`` not negative,
    a floating dtype (a complex one has no arange)."""
    if not isinstance(n, numbers.Integral) or isinstance(n, bool):
        raise TypeError(f"fft_{name}(): argument 'n' (position 1) must be int, not "
                        f"{type(n).__name__}")
    if size < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {size}: [{size}]")
    if dtype is not None:
        kind = dtypes.to_dtype(dtype).np.kind
        if kind == "c":
            raise NotImplementedError(f"\"arange_cpu\" not implemented for "
                                      f"'{scalar_type_name(dtypes.to_dtype(dtype).np)}'")
        if kind not in "fV":
            raise RuntimeError(f"{name} requires a floating point or complex dtype")


def _freqs(values, n, d, dtype, device, requires_grad):
    # torch multiplies an arange in the output dtype by 1 / (n d), rounded to that dtype
    np_dtype = (dtype or dtypes.default_float()).np
    with np.errstate(divide="ignore", invalid="ignore"):     # n = 0: inf, as torch's 1 / 0
        scale = np_dtype.type(np.float64(1.0) / np.float64(n * d))
        t = Tensor._wrap(np.asarray(values, dtype=np_dtype) * scale)
    if device is not None:
        t = t.to(device)
    return t.requires_grad_(True) if requires_grad else t


def fftfreq(n, d=1.0, *, dtype=None, layout=None, device=None, requires_grad=False,
            pin_memory=False):
    """The sample frequencies of an ``fft`` of n points spaced d apart:
    [0, 1, .., (n - 1) // 2, -(n // 2), .., -1] / (n d)."""
    _check_freqs("fftfreq", n, n, dtype)
    k = np.arange(n)
    values = np.where(k < (n + 1) // 2, k, k - n)
    return _freqs(values, n, d, dtype, device, requires_grad)


def rfftfreq(n, d=1.0, *, dtype=None, layout=None, device=None, requires_grad=False,
             pin_memory=False):
    """The sample frequencies of an ``rfft`` of n points spaced d apart:
    [0, 1, .., n // 2] / (n d)."""
    size = int(n / 2) + 1 if isinstance(n, numbers.Integral) else 0   # n / 2 toward zero, as C
    _check_freqs("rfftfreq", n, size, dtype)
    return _freqs(np.arange(size), n, d, dtype, device, requires_grad)
