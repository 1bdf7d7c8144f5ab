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
    float dtype). float16 is refused here when ``half``: the 1-D transforms check it first,
    the n-D ones after their ``s`` and ``dim`` (``_check_half``), as PyTorch does."""
    if not isinstance(input, Tensor):
        raise TypeError(f"fft_{fname}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if _autocast_state.active:        # the transforms are among the ops CPU autocast runs in
        input, = _autocast_widen(input)                                    # float32
    if half:
        _check_half(input)
    if input._array.dtype.kind in "biu":
        return cast_to(input, dtypes.default_float().np)
    return input


def _check_half(input):
    if dtypes.reduced_float(input._array.dtype):
        raise RuntimeError(f"Unsupported dtype {dtypes.scalar_type_name(input._array.dtype)}")


def _n_dim_input(input, s, dim, norm, fname, real_message=None):
    """(input, axes, sizes, norm) of an n-D transform, checked in PyTorch's order: the input's
    type (and realness, for rfftn), ``s`` and ``dim``, float16, then ``norm``."""
    input = _check_input(input, fname, half=False)
    if real_message:
        _real_only(input, real_message)
    axes, sizes = _n_dims(input, s, dim)
    _check_half(input)
    return input, axes, sizes, _check_norm(norm, fname)


def _check_norm(norm, fname):
    if norm is None:
        return "backward"
    if not isinstance(norm, str):
        raise argument_error(f"fft_{fname}", "norm", "str", norm)
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


def _one_dim(input, n, dim, fname):
    """(axes, sizes) of a 1-D transform: ``dim`` checked, ``n`` (None: the input's size)."""
    if isinstance(dim, Tensor) and dim.ndim == 0 and dim._array.dtype.kind in "iu":
        dim = int(dim._array)                 # PyTorch reads an integer tensor's index
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        raise argument_error(f"fft_{fname}", "dim", "int", dim)
    axis = _axis(dim, input.ndim)
    if n is not None:
        if isinstance(n, Tensor) and n.ndim == 0 and n._array.dtype.kind in "iu":
            n = int(n._array)                 # PyTorch reads an integer tensor's index
        if not isinstance(n, numbers.Integral) or isinstance(n, bool):
            raise argument_error(f"fft_{fname}", "n", "int", n)
        _check_n(n)
    return (axis,), [n]


def _n_dims(input, s, dim):
    """(axes, sizes) of an n-D transform from torch's ``s`` and ``dim``: dim None means the
    last len(s) axes (all axes when s is None too); a size of -1 (or None) keeps an axis,
    whose size must then be positive as a given one must."""
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
        if s is not None and len(s) != len(axes):
            raise RuntimeError("When given, dim and shape arguments must have the same length")
    if len(set(axes)) != len(axes):
        raise RuntimeError("FFT dims must be unique")
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
