"""The argument handling of the Fourier transforms (``fourier.py``), as PyTorch checks and
words it: the input's dtype (integers cast to the default float, float16 refused where
PyTorch refuses it), ``norm``, ``n`` / ``s`` and ``dim`` resolved to the axes and sizes a
transform runs over, and the complex/real conversions of an input.  ``_DUAL`` maps a norm to
the one its adjoint uses.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import _autocast_state, dtypes
from ..tensor import Tensor
from ._autocast_cast import widen as _autocast_widen
from ._util import argument_error, normalize_dim
from .plumbing import cast_to


_DUAL = {"backward": "forward", "forward": "backward", "ortho": "ortho"}
_TORCH_KIND = {"complex64": "ComplexFloat", "complex128": "ComplexDouble"}


# ---------------------------------------------------------------------------------------------
# argument checks, as torch words them
# ---------------------------------------------------------------------------------------------
def _check_input(input, fname, half=True):
    """The input as a floating or complex tensor (integers and bools cast to the default
    float dtype). float16 is refused here when ``half``."""
    _check_tensor(input, fname)
    if _autocast_state.active:        # the transforms are among the ops CPU autocast runs in
        input, = _autocast_widen(input)                                    # float32
    if half:
        _check_half(input)
    if input._array.dtype.kind in "biu":
        return cast_to(input, dtypes.default_float().np)
    return input


def _check_tensor(input, fname):
    if not isinstance(input, Tensor):
        raise TypeError(f"fft_{fname}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")


def _check_half(input):
    if dtypes.reduced_float(input._array.dtype):
        raise RuntimeError(f"Unsupported dtype {dtypes.scalar_type_name(input._array.dtype)}")


def _one_dim_input(input, n, dim, norm, fname, real_message=None, c2r=False):
    """(input, axes, sizes, norm) of a 1-D transform, checked in PyTorch's order: the
    arguments' types (the parser's), float16, realness (``real_message``: rfft, ihfft),
    ``dim``, the number of points (``n``, else the input's size along ``dim``, 2 (m - 1)
    for a complex-to-real ``c2r`` one), then ``norm``'s value."""
    _check_tensor(input, fname)
    n, dim = _int_arg(n, "n", fname), _int_arg(dim, "dim", fname)
    _norm_type(norm, fname)
    input = _check_input(input, fname)
    if real_message:
        _real_only(input, real_message)
    axis = _axis(dim, input.ndim)
    if n is not None:
        _check_n(n)
    else:
        _check_n(2 * (input.shape[axis] - 1) if c2r else input.shape[axis])
    return input, (axis,), [n], _check_norm(norm, fname)


def _int_arg(value, arg, fname):
    """An int argument (``n``, ``dim``) as PyTorch's parser reads one: an integer, or a 0-d
    integer tensor (read as its value); None stays None (``n`` only)."""
    if value is None and arg == "n":
        return None
    if isinstance(value, Tensor) and value.ndim == 0 and value._array.dtype.kind in "iu":
        return int(value._array)
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise argument_error(f"fft_{fname}", arg, "int", value)
    return value


def _n_dim_input(input, s, dim, norm, fname, real_message=None, halved=False, c2r=False):
    """(input, axes, sizes, norm) of an n-D transform, checked in PyTorch's order: the input's
    type (and realness, for rfftn), ``s`` and ``dim``, at least one axis (``halved``: the
    real-to-complex and complex-to-real kinds), float16, the last axis's points (``c2r``),
    then ``norm``'s value."""
    _check_tensor(input, fname)
    _norm_type(norm, fname)
    input = _check_input(input, fname, half=False)
    if real_message:
        _real_only(input, real_message)
    axes, sizes = _n_dims(input, s, dim)
    if halved and not axes:
        raise RuntimeError(f"{fname} must transform at least one axis")
    _check_half(input)
    if c2r and sizes[-1] is None:
        _check_n(2 * (input.shape[axes[-1]] - 1))
    return input, axes, sizes, _check_norm(norm, fname)


def _norm_type(norm, fname):
    if norm is not None and not isinstance(norm, str):
        raise argument_error(f"fft_{fname}", "norm", "str", norm)


def _check_norm(norm, fname):
    if norm is None:
        return "backward"
    _norm_type(norm, fname)
    if norm not in _DUAL:
        raise RuntimeError(f'Invalid normalization mode: "{norm}"')
    return norm


def _check_n(n):
    if n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified")


def _axis(dim, ndim):
    if ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return normalize_dim(dim, ndim)


def _n_dims(input, s, dim):
    """(axes, sizes) of an n-D transform from torch's ``s`` and ``dim``: dim None means the
    last len(s) axes (all axes when s is None too); a size of -1 (or None) keeps an axis,
    whose size must then be positive as a given one must.  PyTorch's order: each dim
    wrapped, the dims unique, then s against them."""
    if isinstance(s, numbers.Integral):
        s = [s]
    if isinstance(dim, numbers.Integral):
        dim = [dim]
    ndim = input.ndim
    if dim is None:
        if s is None:
            axes = tuple(range(ndim))
        else:
            if len(s) > ndim:
                raise RuntimeError(f"Got shape with {len(s)} values but input tensor only has "
                                   f"{ndim} dimensions.")
            axes = tuple(range(ndim - len(s), ndim))
    else:
        axes = tuple(_axis(d, ndim) for d in dim)
    if len(set(axes)) != len(axes):
        raise RuntimeError("FFT dims must be unique")
    if s is not None and len(s) != len(axes):
        raise RuntimeError("When given, dim and shape arguments must have the same length")
    sizes = [None] * len(axes)
    for i, ax in enumerate(axes):
        m = None if s is None else s[i]
        if m is not None and m != -1:
            sizes[i] = int(m)
        _check_n(input.shape[ax] if sizes[i] is None else m)   # a kept axis: its own size
    return axes, sizes


def _full_sizes(t, axes, sizes):
    out = [None] * t.ndim
    for ax, m in zip(axes, sizes):
        out[ax] = m
    return out


def _as_complex(t):
    a = t._array
    if a.dtype.kind == "c":
        return t
    return cast_to(t, np.result_type(a.dtype, np.complex64))


def _real_only(t, message):
    if t._array.dtype.kind == "c":
        raise RuntimeError(f"{message}, but got {_TORCH_KIND[t._array.dtype.name]}")
