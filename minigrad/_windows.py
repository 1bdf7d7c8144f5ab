"""Window functions for spectral analysis, PyTorch's top-level names: ``hann_window``,
``hamming_window``, ``blackman_window``, ``bartlett_window``, ``kaiser_window``.

Each returns a 1-D tensor of ``window_length`` values w[n], n = 0 .. N-1.  A symmetric window
(``periodic=False``) of length N uses the formulas below with L = N - 1; a periodic one
(``periodic=True``, the default, the one to use before an FFT) is the symmetric window of
length N + 1 without its last value.  Length 0 gives an empty tensor, length 1 gives [1.].

    hann      0.5 - 0.5 cos(2 pi n / L)
    hamming   alpha - beta cos(2 pi n / L)                (alpha 0.54, beta 0.46)
    blackman  0.42 - 0.5 cos(2 pi n / L) + 0.08 cos(4 pi n / L)
    bartlett  1 - |2 n / L - 1|
    kaiser    I0(beta sqrt(1 - (2 n / L - 1)^2)) / I0(beta)   (beta 12)

The values are computed in float64 and rounded once to the requested dtype.  Windows are
constants, not ops: nothing here is differentiable (``requires_grad=True`` makes a leaf).
"""
from __future__ import annotations

import numbers

import numpy as np

from . import dtypes
from .backend import Device
from .creation import _finish, check_layout, layout
from ._parser_message import _combination
from ._type_names import python_type_name
from .tensor import Tensor

__all__ = ["hann_window", "hamming_window", "blackman_window", "bartlett_window",
           "kaiser_window", "symmetric_or_periodic"]


def symmetric_or_periodic(symmetric, length, periodic):
    """Values of a window of ``length`` points: ``symmetric(m)`` gives the symmetric window of
    m >= 2 points as a float64 array; periodic takes m = length + 1 and drops the last."""
    if length == 0:
        return np.zeros(0)
    if length == 1:
        return np.ones(1)
    if periodic:
        return symmetric(length + 1)[:-1]
    return symmetric(length)


def _cosine_sum(coefficients):
    """sum_k (-1)^k a_k cos(2 pi k n / (m - 1)): hann, hamming, blackman, nuttall..."""
    def window(m):
        phase = 2.0 * np.pi * np.arange(m) / (m - 1)
        return sum((-1) ** k * a * np.cos(k * phase) for k, a in enumerate(coefficients))
    return window


def _bartlett(m):
    return 1.0 - np.abs(2.0 * np.arange(m) / (m - 1) - 1.0)


def _kaiser(beta):
    def window(m):
        ratio = 2.0 * np.arange(m) / (m - 1) - 1.0
        return np.i0(beta * np.sqrt(np.clip(1.0 - ratio * ratio, 0.0, None))) / np.i0(beta)
    return window


# the C++ element types PyTorch's TensorOptions print names
_C_NAMES = {"int8": "signed char", "int16": "short int", "int32": "int", "int64": "long int",
            "uint8": "unsigned char", "uint16": "short unsigned int",
            "uint32": "unsigned int", "uint64": "long unsigned int", "bool": "bool",
            "complex64": "c10::complex<float>", "complex128": "c10::complex<double>"}


def _make(name, symmetric, window_length, periodic, dtype, layout, device, requires_grad):
    """Check the arguments as PyTorch does, then build the window tensor."""
    if isinstance(window_length, bool) or not isinstance(window_length, numbers.Integral):
        raise TypeError(f"{name}(): argument 'window_length' (position 1) must be int, not "
                        f"{python_type_name(window_length)}")
    if not isinstance(periodic, (bool, np.bool_)):
        raise TypeError(f"{name}(): argument 'periodic' (position 2) must be bool, not "
                        f"{python_type_name(periodic)}")
    check_layout(layout, name)
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got "
                           f"window_length={window_length}")
    dt = dtypes.default_float() if dtype is None else dtypes.to_dtype(dtype)
    if dt.np.kind == "c" and window_length > 1:     # (0 or 1 values need no arange)
        raise NotImplementedError(f"\"arange_cpu\" not implemented for "
                                  f"'{'ComplexFloat' if dt.np.itemsize == 8 else 'ComplexDouble'}'")
    if dt.np.kind not in "fVc":
        raise RuntimeError(f"{name} expects floating point dtypes, got: TensorOptions(dtype="
                           f"{_C_NAMES.get(dt.np.name, dt.np.name)}, device=cpu, layout=Strided "
                           f"(default), requires_grad=false (default), pinned_memory=false, "
                           f"memory_format=(nullopt))")
    values = symmetric_or_periodic(symmetric, int(window_length), bool(periodic))
    return _finish(values, dt, device, requires_grad)


_OPTIONS = ("*, torch.dtype dtype = None, torch.layout layout = None, torch.device device = "
            "None, bool pin_memory = False, bool requires_grad = False")


# the factory keywords every window takes, and what the parser takes for each
_FACTORY_TYPES = {"dtype": lambda v: isinstance(v, dtypes.DType) or
                  any(v is k for k in (int, float, bool, complex)),
                  "layout": lambda v: isinstance(v, layout),
                  "device": lambda v: isinstance(v, (str, Device)) or
                  isinstance(v, numbers.Integral) and not isinstance(v, bool),
                  "pin_memory": lambda v: isinstance(v, bool),
                  "requires_grad": lambda v: isinstance(v, bool)}
_FACTORY = tuple(_FACTORY_TYPES)


def _parameters(name, optional, args, kwargs):
    """(window_length, {the optional parameters given}, [dtype, layout, device,
    requires_grad]) of a call of window ``name``
    (``optional``: its (name, type) pairs, in order), read as PyTorch's overloads take them:
    each overload adds the next parameter, so one can be given only with all before it
    (``hamming_window(5, alpha=0.5)`` is refused: no overload has alpha without periodic),
    and each must have its type (a bool ``periodic``, a real number ``alpha``)."""
    names = ["window_length"] + [n for n, _ in optional]
    options = {k: v for k, v in kwargs.items() if k in _FACTORY}
    if not args and "window_length" not in kwargs and kwargs:
        raise TypeError(f'{name}() missing 1 required positional arguments: "window_length"')
    given = dict(zip(names, args))
    fits = len(args) <= len(names)
    for key, value in kwargs.items():
        if key in _FACTORY:
            continue
        fits = fits and key in names and key not in given
        given[key] = value
    fits = fits and bool(given) and names[:len(given)] == [n for n in names if n in given]
    fits = fits and all(_FACTORY_TYPES[k](v) for k, v in options.items() if v is not None)
    for param, kind in optional:
        value = given.get(param)
        if param in given and not (isinstance(value, bool) if kind == "bool" else
                                   isinstance(value, numbers.Real) or isinstance(
                                       value, Tensor) and value.ndim == 0):
            fits = False
    if not fits:
        # (the keywords, the factory's too, the last given first: PyTorch's order for a few)
        signatures = [", ".join(["int window_length"] + [f"{kind} {p}" for p, kind in
                                                         optional[:n]] + [_OPTIONS])
                      for n in range(len(optional) + 1)]
        raise _combination(name, args, kwargs, signatures)
    length = given.pop("window_length")
    if isinstance(length, Tensor) and length.ndim == 0 and length._array.dtype.kind in "iu":
        length = int(length._array)         # PyTorch reads an integer tensor's index
    return length, given, [options.get(k) for k in ("dtype", "layout", "device")] + \
        [options.get("requires_grad", False)]


def _number(value):
    return float(value.item() if isinstance(value, Tensor) else value)


def hann_window(*args, **kwargs):
    """Hann window: 0.5 - 0.5 cos(2 pi n / L); see the module docstring for L and periodic.
    ``hann_window(window_length, periodic=True, *, dtype, layout, device, ...)``."""
    n, given, factory = _parameters("hann_window", (("periodic", "bool"),), args, kwargs)
    return _make("hann_window", _cosine_sum((0.5, 0.5)), n, given.get("periodic", True),
                 *factory)


def hamming_window(*args, **kwargs):
    """Hamming window: alpha - beta cos(2 pi n / L).
    ``hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype, ...)``:
    as PyTorch's overloads, alpha only after periodic, beta only after alpha."""
    n, given, factory = _parameters("hamming_window", (("periodic", "bool"), ("alpha", "float"),
                                                       ("beta", "float")), args, kwargs)
    coefficients = (_number(given.get("alpha", 0.54)), _number(given.get("beta", 0.46)))
    return _make("hamming_window", _cosine_sum(coefficients), n, given.get("periodic", True),
                 *factory)


def blackman_window(*args, **kwargs):
    """Blackman window: 0.42 - 0.5 cos(2 pi n / L) + 0.08 cos(4 pi n / L).
    ``blackman_window(window_length, periodic=True, *, dtype, layout, device, ...)``."""
    n, given, factory = _parameters("blackman_window", (("periodic", "bool"),), args, kwargs)
    return _make("blackman_window", _cosine_sum((0.42, 0.5, 0.08)), n,
                 given.get("periodic", True), *factory)


def bartlett_window(*args, **kwargs):
    """Bartlett (triangular) window: 1 - |2 n / L - 1|.
    ``bartlett_window(window_length, periodic=True, *, dtype, layout, device, ...)``."""
    n, given, factory = _parameters("bartlett_window", (("periodic", "bool"),), args, kwargs)
    return _make("bartlett_window", _bartlett, n, given.get("periodic", True), *factory)


def kaiser_window(*args, **kwargs):
    """Kaiser window: I0(beta sqrt(1 - (2 n / L - 1)^2)) / I0(beta), I0 the modified Bessel
    function of the first kind, order 0.
    ``kaiser_window(window_length, periodic=True, beta=12.0, *, dtype, ...)``: as PyTorch's
    overloads, beta only after periodic."""
    n, given, factory = _parameters("kaiser_window", (("periodic", "bool"), ("beta", "float")),
                                    args, kwargs)
    return _make("kaiser_window", _kaiser(_number(given.get("beta", 12.0))), n,
                 given.get("periodic", True), *factory)
