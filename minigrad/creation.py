"""Tensor factories that fill a size: ``zeros``, ``ones``, ``empty``, ``full``, ``eye``,
``scalar_tensor`` and the ``zeros_like`` / ``ones_like`` / ``empty_like`` / ``full_like`` forms,
with what every factory shares: the ``size=`` and ``out=`` keywords, the parsing of ``*size``
and ``_finish`` (cast, move to the device, wrap).

``layout`` and its values (``strided`` and the sparse layouts) are defined in ``_layouts`` and
re-exported here.  The ranges (``arange``, ``linspace``, ``logspace``, ``tril_indices``...)
are in ``_range_factories``; the seeded generator and the random factories (``rand``,
``randn``, ``randint``...) in ``_random_factories``.
"""
from __future__ import annotations

import functools
import math
import numbers
import operator

import numpy as np

from ._warn_once import warn_user
from . import backend, dtypes
from .backend import check_pin_memory
from . import _memory_format as mf
from .tensor import Tensor
from ._tensor_factories import _require_grad_at_creation
from ._grad_state import state as _GRAD
from ._type_names import python_type_name
from ._parser_emulation import raise_reworded
from ._dtype_argument import check_dtype_argument as _check_dtype_argument
# the layouts, defined in ``_layouts.py``; their importers read them here
from ._layouts import (
    check_layout, layout, sparse_bsc, sparse_bsr, sparse_coo, sparse_csc, sparse_csr, strided)

__all__ = ["zeros", "ones", "full", "empty", "eye", "zeros_like", "ones_like", "full_like",
           "empty_like", "layout", "strided", "sparse_coo", "sparse_csr", "sparse_csc",
           "sparse_bsr", "sparse_bsc"]


# The empty COO tensor of a size, for zeros/empty/zeros_like(..., layout=sparse_coo): set by
# ``_sparse_coo`` (a module above this one, which imports it).
sparse_zeros = None


def _size_keyword(factory, keyword="size", leading=0, name=None):
    """``factory(*size, ...)`` that also takes its size as the keyword ``size=(2, 3)``, as
    PyTorch's factories do (timm and pytorch/examples write ``torch.empty(size=(n, m))``);
    ``leading`` positional arguments come before the size (a method's self), and some
    methods call the size ``shape`` (``reshape(shape=...)``)."""
    name = name or factory.__name__

    @functools.wraps(factory)
    def with_size_keyword(*args, **kwargs):
        if keyword in kwargs:
            head, size = args[:leading], args[leading:]
            if size:
                raise TypeError(f"{name}() got multiple values for argument '{keyword}'")
            given = kwargs.pop(keyword)
            # (a torch.Size is a tuple; its first element decides whether it is one of ints)
            if not isinstance(given, (tuple, list)) or given and not _int_like(given[0]):
                raise TypeError(f"{name}(): argument '{keyword}' must be tuple of ints, not "
                                f"{type(given).__name__}")
            args = (*head, tuple(given))
        return factory(*args, **kwargs)
    return with_size_keyword


def _out_keyword(factory):
    """``factory(..., out=t)``, as PyTorch's factories take it: the values made in t's dtype
    (another ``dtype`` is refused) and device, written into ``t`` (resized to their shape,
    silently) and ``t`` returned.  It also takes the factories' ``pin_memory=`` keyword
    (``check_pin_memory``)."""
    name = factory.__name__

    @functools.wraps(factory)
    def with_out(*args, **kwargs):
        _check_dtype_argument(kwargs.get("dtype"), name, args, kwargs)
        if "pin_memory" in kwargs:
            check_pin_memory(kwargs.pop("pin_memory"), name)
        out = kwargs.pop("out", None)
        if out is None:
            try:
                return factory(*args, **kwargs)
            except (TypeError, AttributeError) as exc:     # (the parser's words, where it
                raise_reworded(exc, with_out, args, kwargs, False)    # refuses the call)
                raise
        if not isinstance(out, Tensor):
            raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
        dtype = kwargs.get("dtype")
        if dtype is None:
            kwargs["dtype"] = out.dtype
        elif dtypes.to_dtype(dtype) != out.dtype:
            raise RuntimeError(f"dtype {_scalar_name(dtypes.to_dtype(dtype))} does not match "
                               f"dtype of out parameter ({_scalar_name(out.dtype)})")
        if out.requires_grad and _GRAD.enabled:      # under no_grad torch allows it
            raise RuntimeError(f"aten::{name}(): functions with out=... arguments don't support "
                               "automatic differentiation, but one of the arguments requires "
                               "grad.")
        if kwargs.get("device") is None:
            kwargs["device"] = out.device
        result = factory(*args, **kwargs)
        if out.grad_fn is None:     # the factory's requires_grad= is out's flag, as PyTorch
            out.requires_grad_(False)   # (a grad leaf passes under no_grad, and loses it)
        if tuple(out.shape) != tuple(result.shape):
            if name == "arange" and out.numel():
                warn_user(f"The number of elements in the out tensor of shape "
                          f"{list(out.shape)} is {out.numel()} which does not match the "
                          f"computed number of elements {result.numel()}. Note that this "
                          f"may occur as a result of rounding error. The out tensor will "
                          f"be resized to a tensor of shape ({result.numel()},).",
                          UserWarning)
            version = out._vcounter.value       # (the resize is below autograd: not counted)
            out.resize_(tuple(result.shape))
            out._vcounter.value = version
        out._array[...] = result._array
        out._vcounter.value += 1
        if result.requires_grad:                # requires_grad=True marks out, as PyTorch
            out.requires_grad_(True)
        return out
    return with_out


def _plain_size(size):
    """``*size`` as a tuple when it is the usual form: Python ints (not bools, not numpy
    ints) in ``[0, 2**63)``, one by one or as one tuple/list; else None (``_size`` decides).
    Exact ``type(...) is int`` checks, cheaper than the ``numbers.Integral`` ABC."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    elif not size:
        return None
    for s in size:
        if type(s) is not int or s < 0 or s >= 9223372036854775808:
            return None
    return tuple(size)


def _size(size, name):
    """The ``*size`` of factory ``name`` as a tuple of ints; none at all is PyTorch's
    TypeError (a 0-d tensor takes an explicit ``()``)."""
    plain = _plain_size(size)
    if plain is not None:
        return plain
    if not size:
        if name in ("rand", "randn"):
            raise TypeError(f"{name}() received an invalid combination of arguments - got (), "
                            f"but expected (tuple of ints size, *, torch.Generator generator, "
                            f"torch.dtype dtype = None, torch.layout layout = None, "
                            f"torch.device device = None, bool requires_grad = False)")
        raise TypeError(f'{name}() missing 1 required positional arguments: "size"')
    one_sequence = len(size) == 1 and isinstance(size[0], (tuple, list))
    if one_sequence:
        size = tuple(size[0])
    elif len(size) > 1 and not _int_like(size[0]):
        # sizes one by one start with an int: else the first is the one size PyTorch's
        # parser takes, and the others are too many
        raise TypeError(f"{name}() takes 1 positional argument but {len(size)} were given")
    for i, s in enumerate(size):
        if isinstance(s, Tensor) and s._array.dtype.kind in "iu" and s._array.size == 1:
            s = int(s._array.reshape(()))      # PyTorch reads an integer tensor's index
            size = size[:i] + (s,) + tuple(size[i + 1:])
        # PyTorch's int-list parser reads a bool after the first element as 0 or 1
        if not isinstance(s, numbers.Integral) or (isinstance(s, bool) and i == 0):
            kind = python_type_name(s)
            if one_sequence and i == 0:
                raise TypeError(f"{name}(): argument 'size' (position 1) must be tuple of ints, "
                                f"but found element of type {kind} at pos {i}")
            if len(size) == 1 and not one_sequence:
                raise TypeError(f"{name}(): argument 'size' (position 1) must be tuple of ints, "
                                f"not {kind}")
            raise TypeError(f"{name}(): argument 'size' failed to unpack the object at pos "
                            f"{i + 1} with error \"type must be tuple of ints,but got {kind}\"")
        if not -2 ** 63 <= s < 2 ** 63:      # (PyTorch's words, less its C++ stack)
            raise TypeError(f"{name}(): argument 'size' failed to unpack the object at pos "
                            f"{i + 1} with error \"Overflow when unpacking long long")
    # PyTorch's parser reads every element before any size's sign is checked
    for s in size:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
    return tuple(int(s) for s in size)


def _int_like(value):
    """An int to PyTorch's int-list parser: a Python or numpy integer (not a bool), or an
    integer tensor of one element."""
    if isinstance(value, Tensor):
        return value._array.dtype.kind in "iu" and value._array.size == 1
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def on_meta(device) -> bool:
    """Does a factory given ``device`` (None: the default device) make a meta tensor? Random
    factories ask before drawing: a meta tensor takes no numbers from the generator."""
    if device is None:
        return backend.default_is_meta
    return (device.type if isinstance(device, backend.Device) else
            backend.Device(device).type if isinstance(device, str) else None) == "meta"


def _finish(array, dtype, device, requires_grad):
    """Cast to dtype, move to device, wrap; the one exit of every factory."""
    if device is None and backend.default_is_meta:      # (set_default_device('meta'))
        device = backend.meta
    dt = dtypes.default_float() if dtype is None else dtypes.to_dtype(dtype)
    if array.dtype != dt.np:
        array = array.astype(dt.np)
    if device is not None and backend.Device(device).type != "cpu":
        array = backend.to_device(array, backend.device(device))
    t = Tensor._wrap(array)
    if requires_grad is not False and requires_grad is not None:     # None reads as False
        _check_flag(requires_grad)
        if requires_grad:
            _require_grad_at_creation(t)
    return t


def _check_flag(requires_grad):
    """PyTorch's parser takes a bool for ``requires_grad``, not a 1 (a 0 reads as no)."""
    if requires_grad is not True and not isinstance(requires_grad, np.bool_):
        raise TypeError(f"argument 'requires_grad' must be bool, not "
                        f"{type(requires_grad).__name__}")


def _fill_zeros(xp, size, dt):
    """zeros' fill for ``_direct`` (a module function: no lambda made per call)."""
    return xp.zeros(size, dt)


def _direct(fill, size, dtype, device, requires_grad):
    """zeros/ones/empty: build on the target device directly (no host-to-device copy)."""
    dt = dtypes.default_float() if dtype is None else dtypes.to_dtype(dtype)
    if device is None and backend.default_is_meta:      # (set_default_device('meta'))
        device = backend.meta
    xp = backend.array_module(backend.device(device)) if device is not None else np
    if device is not None and backend.Device(device).type == "meta":
        array = backend.empty(size, dt.np, backend.meta)    # no memory, nothing filled
    elif device is not None and backend.Device(device).type == "cuda":
        with xp.cuda.Device(backend.Device(device).index):
            array = fill(xp, size, dt.np)
    else:
        array = fill(xp, size, dt.np)
    t = Tensor._wrap(array)
    if requires_grad is not False and requires_grad is not None:     # None reads as False
        _check_flag(requires_grad)
        if requires_grad:
            _require_grad_at_creation(t)
    return t


@_out_keyword
@_size_keyword
def zeros(*size, dtype=None, layout=None, device=None, requires_grad=False):
    if check_layout(layout, "zeros", sparse_ok=True):
        return sparse_zeros(_size(size, "zeros"), dtype, device, requires_grad)
    plain = _plain_size(size)
    if plain is not None:                   # (no negative size: zeros' own check has no work)
        return _direct(_fill_zeros, plain, dtype, device, requires_grad)
    sizes = size[0] if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
    for s in sizes:
        if isinstance(s, numbers.Integral) and s < -2 ** 63:
            break                           # (past 64 bits: the parser's error, below)
        if isinstance(s, numbers.Integral) and s < 0:      # zeros' own words, then the sizes
            raise RuntimeError(f"zeros: Dimension size must be non-negative. (Trying to create "
                               f"tensor with negative dimension {s}: {list(sizes)})")
    return _direct(_fill_zeros, _size(size, "zeros"), dtype, device,
               requires_grad)


@_out_keyword
@_size_keyword
def ones(*size, dtype=None, layout=None, device=None, requires_grad=False):
    check_layout(layout, "ones")
    return _direct(lambda xp, s, d: xp.ones(s, d), _size(size, "ones"), dtype, device,
               requires_grad)


@_out_keyword
@_size_keyword
def empty(*size, dtype=None, layout=None, device=None, requires_grad=False,
          memory_format=mf.contiguous_format):
    """Uninitialised values, laid out in ``memory_format`` (row-major, or channels-last for
    a 4-d / 5-d size)."""
    if check_layout(layout, "empty", sparse_ok=True):
        return sparse_zeros(_size(size, "empty"), dtype, device, requires_grad)
    fmt = mf.check(memory_format, "empty", none_means=mf.contiguous_format)
    if fmt is mf.preserve_format:
        raise RuntimeError("unsupported memory format Preserve (empty() has no input whose "
                           "layout preserve_format could keep)")
    out = _direct(lambda xp, s, d: xp.empty(s, d), _size(size, "empty"), dtype, device,
                  requires_grad)
    if fmt is not mf.contiguous_format:
        a = out._array
        out._array = mf.empty_strided(backend.xp_of(a), a.shape, mf.target_strides(a, fmt),
                                      a.dtype)
    return out


def check_fits(value, dt, name):
    """PyTorch's conversion check of a number into integer dtype ``dt``: integers in the
    type's range, and for unsigned types down to -max too (they wrap: -9 -> 247 in uint8);
    floats within [min, max].  RuntimeError otherwise."""
    if dt.np.kind not in "iu" or isinstance(value, bool):
        return
    info = np.iinfo(dt.np)
    low = -int(info.max) if info.min == 0 and isinstance(value, numbers.Integral) else \
        int(info.min)
    if not low <= value <= info.max:                      # False for nan
        raise RuntimeError(f"value cannot be converted to type {dtypes.c_type_name(dt.np)} "
                           f"without overflow: {name}={value} is outside [{low}, {info.max}]")


@_out_keyword
def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None):
    """``size`` filled with ``fill_value``; a negative integer fills an unsigned dtype as
    PyTorch does, wrapping (-9 -> 247 in uint8)."""
    check_layout(layout, "full")
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"full(): argument 'size' (position 1) must be tuple of ints, not "
                        f"{python_type_name(size)}")
    if isinstance(fill_value, Tensor) and fill_value.ndim != 0:   # (PyTorch: 0-d only)
        raise TypeError("full(): argument 'fill_value' (position 2) must be Number, not Tensor")
    fill_value = _number(fill_value)
    if not isinstance(fill_value, numbers.Number):
        raise TypeError(f"full(): argument 'fill_value' (position 2) must be Number, not "
                        f"{python_type_name(fill_value)}")
    if dtype is None:
        dtype = dtypes.result_type(fill_value)
    dt = dtypes.to_dtype(dtype)
    size = _size((size,), "full")
    # checked as PyTorch (-9 is 247 in uint8); one float16 element takes 1e6 as inf, silently
    fill_value = dtypes.number_for(fill_value, dt.np, half_checked=math.prod(size) != 1)
    with np.errstate(over="ignore"):
        return _direct(lambda xp, s, d: xp.full(s, fill_value, d), size, dtype, device,
                       requires_grad)


def _number(value):
    """A tensor's or numpy scalar's value as the Python number PyTorch reads it (np.int32(5)
    is an int, np.float16(2) a float: they weigh as Python numbers, and np.bool_ as a float)."""
    if isinstance(value, np.generic):
        return dtypes.python_number(value)
    return value.item() if isinstance(value, Tensor) else value


_NO_M = object()        # eye(n): m left out (PyTorch refuses an explicit None)


def _int_argument(value, fn_name, name, position):
    """``value`` as a Python int (an int, numpy integer or one-element integer tensor); a
    float or anything else is PyTorch's TypeError naming the argument."""
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_floating_point() \
            and not value.is_complex():
        return int(value.item())
    if not isinstance(value, (bool, float, np.floating, complex)):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise TypeError(f"{fn_name}(): argument '{name}' (position {position}) must be int, not "
                    f"{type(value).__name__}")


@_out_keyword
def eye(n, m=_NO_M, *, dtype=None, device=None, requires_grad=False, layout=None):
    check_layout(layout, "eye")
    n = _int_argument(n, "eye", "n", 1)
    try:                            # (m=None is refused as any other non-int)
        m = None if m is _NO_M else _int_argument(m, "eye", "m", 2)
    except TypeError:               # (eye(n, *, out) and eye(n, m) both take two arguments)
        raise TypeError(f"eye() received an invalid combination of arguments - got "
                        f"({python_type_name(n)}, {python_type_name(m)}), but expected one of:\n"
                        f" * (int n, *, Tensor out = None, ...)\n * (int n, int m, *, Tensor out "
                        f"= None, ...)\n") from None
    if n < 0:
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    if m is not None and m < 0:
        raise RuntimeError(f"m must be greater or equal to 0, got {m}")
    if dtype is not None:
        dtypes.refuse_unsigned("eye", dtypes.to_dtype(dtype))
    return _finish(np.eye(n, m), dtype, device, requires_grad)


_TORCH_TYPE_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char",
                     "uint8": "Byte", "bool": "Bool", "uint16": "UInt16", "uint32": "UInt32",
                     "uint64": "UInt64"}


def _scalar_name(dt):
    """PyTorch's scalar-type name of a dtype: 'Float', 'Long', 'Bool'."""
    return {"float16": "Half", "float32": "Float", "float64": "Double"}.get(
        dt.name, _TORCH_TYPE_NAMES.get(dt.name, dt.name))


def _like(t, dtype, device, name="zeros_like"):
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(t).__name__}")
    return (t.dtype if dtype is None else dtype), (t.device if device is None else device)


def _laid_out(t, make, memory_format, name):
    """The new tensor ``make()`` (shaped like ``t``, row-major) stored in ``memory_format``:
    by default with ``t``'s strides when t is dense, as PyTorch's ``*_like`` factories."""
    strides = mf.target_strides(t._array, mf.check(memory_format, name))
    out = make()
    a = out._array
    if mf.element_strides(a) != strides:
        laid = mf.empty_strided(backend.xp_of(a), a.shape, strides, a.dtype)
        laid[...] = a
        out._array = laid          # a fresh leaf: nothing else holds the row-major array yet
    return out


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, layout=None,
               memory_format=mf.preserve_format, pin_memory=False):
    t = input                   # (PyTorch's name for the argument: input=x works)
    check_pin_memory(pin_memory, "zeros_like")
    dtype, device = _like(t, dtype, device)
    if check_layout(layout, "zeros_like", sparse_ok=True):
        return sparse_zeros(tuple(t.shape), dtype, device, requires_grad)
    return _laid_out(t, lambda: zeros(tuple(t.shape), dtype=dtype, device=device,
                                      requires_grad=requires_grad), memory_format, "zeros_like")


def ones_like(input, *, dtype=None, device=None, requires_grad=False, layout=None,
              memory_format=mf.preserve_format, pin_memory=False):
    t = input                   # (PyTorch's name for the argument: input=x works)
    check_pin_memory(pin_memory, "ones_like")
    check_layout(layout, "ones_like")
    dtype, device = _like(t, dtype, device, "ones_like")
    return _laid_out(t, lambda: ones(tuple(t.shape), dtype=dtype, device=device,
                                     requires_grad=requires_grad), memory_format, "ones_like")


def empty_like(input, *, dtype=None, device=None, requires_grad=False, layout=None,
               memory_format=mf.preserve_format, pin_memory=False):
    t = input                   # (PyTorch's name for the argument: input=x works)
    check_pin_memory(pin_memory, "empty_like")
    check_layout(layout, "empty_like")
    dtype, device = _like(t, dtype, device, "empty_like")
    return _laid_out(t, lambda: empty(tuple(t.shape), dtype=dtype, device=device,
                                      requires_grad=requires_grad), memory_format, "empty_like")


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None,
              memory_format=mf.preserve_format, pin_memory=False):
    t = input                   # (PyTorch's name for the argument: input=x works)
    check_pin_memory(pin_memory, "full_like")
    check_layout(layout, "full_like")
    dtype, device = _like(t, dtype, device, "full_like")
    if isinstance(fill_value, Tensor) and fill_value.ndim != 0:   # (PyTorch: 0-d only)
        raise TypeError("full_like(): argument 'fill_value' (position 2) must be Number, not "
                        "Tensor")
    return _laid_out(t, lambda: renamed("full_like", "full", full, tuple(t.shape), fill_value,
                                        dtype=dtype, device=device,
                                        requires_grad=requires_grad), memory_format, "full_like")


def renamed(name, inner, factory, *args, **kwargs):
    """``factory(*args, **kwargs)`` (the factory ``inner``) for the op ``name`` (new_ones,
    full_like): its TypeErrors name ``name``, as PyTorch's do."""
    try:
        return factory(*args, **kwargs)
    except TypeError as exc:
        words = str(exc)
        if not words.startswith((f"{inner}():", f"{inner}() ")):
            raise
        raise TypeError(name + words[len(inner):]) from None


def scalar_tensor(s, *, dtype=None, layout=None, device=None, requires_grad=False,
                  pin_memory=False):
    """A 0-d tensor holding the number ``s`` (the default float dtype unless ``dtype``)."""
    check_layout(layout, "scalar_tensor")
    if isinstance(s, Tensor) and s.numel() == 1:
        s = s.item()
    if not isinstance(s, (numbers.Number, np.bool_)):
        raise TypeError(f"scalar_tensor(): argument 's' (position 1) must be Number, not "
                        f"{type(s).__name__}")
    dt = dtypes.default_float() if dtype is None else dtypes.to_dtype(dtype)
    # checked as PyTorch converts it (300 is no uint8); a complex number meets a 16-bit float
    # dtype as a double (PyTorch's words name that type)
    s = dtypes.number_for(s, np.dtype(np.float64) if isinstance(s, complex) and
                          dt.np.itemsize == 2 and dt.is_floating_point else dt.np)
    with np.errstate(over="ignore", invalid="ignore"):
        return _finish(np.array(s).astype(dt.np), dt, device, requires_grad)
