"""``torch.testing``'s public helpers for minigrad tensors: ``assert_close``, the deprecated
``assert_allclose`` and ``make_tensor``, with PyTorch's arguments, defaults and messages, so
third-party test suites run with ``import minigrad as torch``.

``assert_close(actual, expected)`` compares two minigrad tensors (or two numpy arrays), two
Python numbers, or sequences / mappings of them item by item.  Values are close when
|actual - expected| <= atol + rtol * |expected| (NaNs equal only with ``equal_nan=True``);
the default rtol / atol depend on the dtype (float16 1e-3 / 1e-5, float32 1.3e-6 / 1e-5,
float64 1e-7 / 1e-7; integers and bools exact; the looser of the two dtypes wins).  On failure
the AssertionError says, in torch's words, how many elements mismatch and where the greatest
absolute and relative differences are.  Inputs of unrelated kinds (a tensor and an array, a
tensor and a number) raise TypeError, as in torch.
"""
from __future__ import annotations

import collections.abc
import numbers

import numpy as np

from .._warn_once import warn_user
from .. import backend, dtypes
from .._random_factories import randint
from ..tensor import Tensor
from .._data_conversion import _to_array

__all__ = ["assert_close", "assert_allclose", "make_tensor"]

# (rtol, atol) by numpy dtype name; anything missing (integers, bool) is compared exactly
_TOLERANCES = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
               "float64": (1e-7, 1e-7),
               "complex64": (1.3e-6, 1e-5), "complex128": (1e-7, 1e-7)}
# the older, looser table of the deprecated assert_allclose
_ALLCLOSE_TOLERANCES = {"float16": (1e-3, 1e-3), "float32": (1e-4, 1e-5),
                        "float64": (1e-5, 1e-8)}


class _Mismatch(Exception):
    """A failed comparison; ``message`` is torch's text for it."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


# ----------------------------------------------------------------------------------------------
# comparing values
# ----------------------------------------------------------------------------------------------
def _tolerances(table, *np_dtypes):
    pairs = [table.get(np.dtype(d).name, (0.0, 0.0)) for d in np_dtypes]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def _num(value):
    """A numpy scalar as the Python number torch's messages print (its ``.item()``)."""
    return value.item() if hasattr(value, "item") else value


def _first_max(values):
    """Flat index of the greatest value; the first NaN wins (torch.max propagates NaN)."""
    nan = np.isnan(values)
    return int(np.argmax(nan)) if nan.any() else int(np.argmax(values))


def _index(flat, shape):
    return tuple(int(k) for k in np.unravel_index(flat, shape))


def _mismatch_message(a, e, close, rtol, atol, int_rel_dtype):
    """torch's report on same-dtype arrays a (actual) and e (expected) that are not close:
    the greatest |a - e| (in their dtype, bools as ints) and |a - e| / |e| (in it too;
    integers: in ``int_rel_dtype``) among the elements that are not close."""
    if a.dtype.kind == "b":
        a, e = a.astype(np.int64), e.astype(np.int64)
    with np.errstate(all="ignore"):
        abs_diff = np.abs(a - e)
        if a.dtype.kind in "iu":
            rel_diff = abs_diff.astype(int_rel_dtype) / np.abs(e).astype(int_rel_dtype)
        else:
            rel_diff = abs_diff / np.abs(e)
    # only the mismatched elements count (0 / 0 where values agree is no difference)
    abs_diff = np.where(close, abs_diff.dtype.type(0), abs_diff)
    rel_diff = np.where(close, rel_diff.dtype.type(0), rel_diff)
    exact = rtol == 0 and atol == 0
    kind = "equal" if exact else "close"
    up_to_atol = "" if exact else f" (up to {atol} allowed)"
    up_to_rtol = "" if exact else f" (up to {rtol} allowed)"
    if a.ndim == 0:
        return "\n".join([
            f"Scalars are not {kind}!", "",
            f"Expected {_num(e[()])} but got {_num(a[()])}.",
            f"Absolute difference: {_num(abs_diff[()])}{up_to_atol}",
            f"Relative difference: {_num(rel_diff[()])}{up_to_rtol}"])
    flat_abs, flat_rel = abs_diff.reshape(-1), rel_diff.reshape(-1)
    i_abs = _first_max(flat_abs.astype(np.float64))
    i_rel = _first_max(flat_rel.real if flat_rel.dtype.kind == "c" else flat_rel)
    n_bad, n = int((~close).sum()), close.size
    return "\n".join([
        f"Tensor-likes are not {kind}!", "",
        f"Mismatched elements: {n_bad} / {n} ({n_bad / n:.1%})",
        f"Greatest absolute difference: {_num(flat_abs[i_abs])} at index {_index(i_abs, a.shape)}"
        f"{up_to_atol}",
        f"Greatest relative difference: {_num(flat_rel[i_rel])} at index {_index(i_rel, a.shape)}"
        f"{up_to_rtol}"])


def _compare_values(a, e, rtol, atol, equal_nan, int_rel_dtype):
    """Raise _Mismatch unless arrays a and e (same shape) are close; mixed dtypes are compared
    in their promoted dtype; the default tolerances are the looser dtype's."""
    if rtol is None:
        rtol, atol = _tolerances(_TOLERANCES, a.dtype, e.dtype)
    if a.dtype != e.dtype:
        common = np.promote_types(a.dtype, e.dtype)
        a, e = a.astype(common), e.astype(common)
    with np.errstate(all="ignore"):
        if a.dtype.kind in "fcV":
            close = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan)
        elif rtol == 0 and atol == 0:
            close = a == e
        else:
            close = np.abs(a.astype(np.float64) - e) <= atol + rtol * np.abs(e.astype(np.float64))
    if not close.all():
        raise _Mismatch(_mismatch_message(a, e, close, rtol, atol, int_rel_dtype))


def _compare_tensors(actual, expected, rtol, atol, equal_nan, check_device, check_dtype):
    """Attributes first (shape, device, dtype: torch's order), then the values."""
    if actual.shape != expected.shape:
        raise _Mismatch(f"The values for attribute 'shape' do not match: {actual.shape!r} != "
                        f"{expected.shape!r}.")
    if check_device and actual.device != expected.device:
        raise _Mismatch(f"The values for attribute 'device' do not match: {actual.device} != "
                        f"{expected.device}.")
    if check_dtype and actual.dtype != expected.dtype:
        raise _Mismatch(f"The values for attribute 'dtype' do not match: {actual.dtype!r} != "
                        f"{expected.dtype!r}.")
    _compare_values(backend.as_numpy(actual._array), backend.as_numpy(expected._array), rtol,
                    atol, equal_nan, dtypes.default_float().np)


def _compare_scalars(actual, expected, rtol, atol, equal_nan, check_dtype):
    """Python numbers: bools must be identical, other types must match when ``check_dtype``."""
    if isinstance(actual, bool) and isinstance(expected, bool):
        if actual is not expected:
            raise _Mismatch(f"Booleans mismatch: {actual} is not {expected}")
        return
    if check_dtype and type(actual) is not type(expected):
        raise _Mismatch(f"The (d)types do not match: {type(actual)} != {type(expected)}.")
    a, e = np.asarray(actual), np.asarray(expected)
    if a.dtype.kind not in "biu" or e.dtype.kind not in "biu":
        common = np.complex128 if "c" in (a.dtype.kind, e.dtype.kind) else np.float64
        a, e = a.astype(common), e.astype(common)
    _compare_values(a, e, rtol, atol, equal_nan, np.float64)


def _is_sequence(x):
    return isinstance(x, collections.abc.Sequence) and not isinstance(x, (str, bytes))


def _compare(actual, expected, path, options):
    """Walk both structures together; raise _Mismatch (with the item path) or TypeError."""
    rtol, atol, equal_nan, check_device, check_dtype, subclasses = options
    try:
        if actual is None or expected is None:
            if actual is not expected:
                raise _Mismatch(f"None mismatch: {actual} is not {expected}")
        elif isinstance(actual, Tensor) and isinstance(expected, Tensor) and (
                type(actual) is type(expected) or subclasses and (
                    isinstance(actual, type(expected)) or isinstance(expected, type(actual)))):
            _compare_tensors(actual, expected, rtol, atol, equal_nan, check_device, check_dtype)
        elif isinstance(actual, np.ndarray) and isinstance(expected, np.ndarray):
            _compare_tensors(Tensor._wrap(actual), Tensor._wrap(expected), rtol, atol,
                             equal_nan, check_device, check_dtype)
        elif isinstance(actual, numbers.Number) and isinstance(expected, numbers.Number):
            _compare_scalars(actual, expected, rtol, atol, equal_nan, check_dtype)
        elif (isinstance(actual, collections.abc.Mapping)
              and isinstance(expected, collections.abc.Mapping)):
            _compare_mappings(actual, expected, path, options)
        elif _is_sequence(actual) and _is_sequence(expected):
            if len(actual) != len(expected):
                raise _Mismatch(f"The length of the sequences mismatch: {len(actual)} != "
                                f"{len(expected)}")
            for i, (a, e) in enumerate(zip(actual, expected)):
                _compare(a, e, path + [i], options)
        else:
            raise TypeError(f"No comparison pair was able to handle inputs of type "
                            f"{_kind(actual)} and {_kind(expected)}.{_located(path)}")
    except _Mismatch as m:
        if path and not getattr(m, "located", False):
            m.message += _located(path)
            m.located = True
        raise


def _kind(obj):
    """``type(obj)`` as torch prints it: the tensor class under its public name."""
    return "<class 'minigrad.Tensor'>" if type(obj) is Tensor else str(type(obj))


def _located(path):
    """torch's note naming the item (``[0]['a']``) a nested failure happened at."""
    return "\n\nThe failure occurred for item " + "".join(f"[{k!r}]" for k in path) \
        if path else ""


def _compare_mappings(actual, expected, path, options):
    missing = [k for k in expected if k not in actual]
    extra = [k for k in actual if k not in expected]
    if missing or extra:
        lines = ["The keys of the mappings do not match:"]
        if missing:
            lines.append(f"Missing keys in the actual mapping: {sorted(missing, key=repr)}")
        if extra:
            lines.append(f"Additional keys in the actual mapping: {sorted(extra, key=repr)}")
        raise _Mismatch("\n".join(lines))
    for key in expected:
        _compare(actual[key], expected[key], path + [key], options)


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None,
                 equal_nan=False, check_device=True, check_dtype=True, check_layout=True,
                 check_stride=False, msg=None):
    """Raise AssertionError unless ``actual`` and ``expected`` are close (see the module
    docstring).  ``rtol`` and ``atol`` are given together or not at all; ``msg`` (a string, or
    a function of torch's message) replaces the message.  ``check_layout``, ``check_stride``
    are accepted for torch's signature (minigrad tensors are dense); ``allow_subclasses=False``
    refuses (TypeError) two tensors of different classes, a Parameter and a plain tensor."""
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got "
                         f"no {'atol' if atol is None else 'rtol'}.")
    try:
        _compare(actual, expected, [], (rtol, atol, equal_nan, check_device, check_dtype,
                                        allow_subclasses))
    except _Mismatch as m:
        text = m.message
        if callable(msg):
            text = msg(text)
        elif msg is not None:
            text = msg
        raise AssertionError(text) from None


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan=True, msg=""):
    """Deprecated in torch (FutureWarning): ``assert_close`` with ``expected`` first converted
    to a tensor of actual's dtype, no dtype check, NaNs equal, and torch's older tolerances
    (float32 1e-4 / 1e-5, float64 1e-5 / 1e-8, float16 1e-3 / 1e-3)."""
    warn_user("`torch.testing.assert_allclose()` is deprecated since 1.12 and will be "
              "removed in a future release. Please use `torch.testing.assert_close()` "
              "instead.", FutureWarning)
    if not isinstance(actual, Tensor):
        actual = Tensor._wrap(_to_array(actual))
    if not isinstance(expected, Tensor):
        like_actual = dtypes.from_numpy_dtype(actual._array.dtype)
        expected = Tensor._wrap(_to_array(expected, like_actual))
    if rtol is None and atol is None:
        rtol, atol = _tolerances(_ALLCLOSE_TOLERANCES, actual._array.dtype,
                                 expected._array.dtype)
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan,
                 check_device=True, check_dtype=False, msg=msg or None)


# ----------------------------------------------------------------------------------------------
# make_tensor
# ----------------------------------------------------------------------------------------------
def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _low_high(low, high, lowest, highest, default_low, default_high):
    """torch's checks and clamping of make_tensor's range [low, high)."""
    low = default_low if low is None else max(low, lowest)
    high = default_high if high is None else min(high, highest)
    if np.isnan(low) or np.isnan(high):
        raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and high={high}")
    return low, high


def _array_of(t):
    """A writable numpy copy of tensor ``t``'s values."""
    return np.array(backend.as_numpy(t._array))


def make_tensor(*shape, dtype, device, low=None, high=None, requires_grad=False,
                noncontiguous=False, exclude_zero=False, memory_format=None):
    """A tensor of ``shape`` filled with random values of ``dtype`` in [low, high).

    Defaults: floats in [-9, 9), integers in [-9, 10) (clamped to the dtype: uint8 [0, 10)),
    bools either value.  ``exclude_zero`` replaces zeros by 1 (integers) or the smallest
    normal number (floats); ``noncontiguous`` returns every other entry of a tensor twice as
    wide, from its second; ``requires_grad`` is for floating dtypes only.  Values are drawn from the default
    generator as torch's are (randint, uniform_), so a seed gives torch's tensor.
    """
    size = _shape(shape)
    dt = dtypes.to_dtype(dtype)
    dev = backend.device(device)
    kind = dt.np.kind
    if requires_grad and kind in "biu":
        raise ValueError(f"`requires_grad=True` is not supported for boolean and integral "
                         f"dtypes, but got dtype={dt!r}")
    # torch's draws, in its order, from the default generator: a noncontiguous tensor is
    # every other entry of one twice as wide in its last dimension
    wide = noncontiguous and int(np.prod(size)) > 1
    drawn = size[:-1] + (2 * size[-1],) if wide else size
    if kind == "b":
        values = _array_of(randint(0, 2, drawn, dtype=dt))
    elif kind in "iu":
        info = np.iinfo(dt.np)
        lo, hi = _low_high(low, high, info.min, info.max, max(-9, info.min), min(10, info.max))
        lo, hi = int(np.ceil(lo)), int(np.ceil(hi))
        if lo >= hi:
            raise ValueError(f"`low` must be less than `high`, but got {lo} >= {hi}")
        values = _array_of(randint(lo, hi, drawn, dtype=dt))
    else:
        info = dtypes.np_finfo(dt.np)
        lo, hi = _low_high(low, high, float(info.min), float(info.max), -9, 9)
        if lo > hi:
            raise ValueError(f"`low` must be less than `high`, but got {lo} >= {hi}")
        real = np.empty(drawn + ((2,) if kind == "c" else ()), dtype=info.dtype)
        part = Tensor._wrap(real)
        if hi - lo >= float(info.max):   # (uniform_ takes a range of at most the dtype's max)
            part.uniform_(lo / 2, hi / 2).mul_(2)
        else:
            part.uniform_(lo, hi)
        values = _array_of(part)
        if kind == "c":
            values = (values[..., 0] + 1j * values[..., 1]).astype(dt.np)
    if exclude_zero:
        kept = values[..., 1::2] if wide else values
        kept[kept == 0] = 1 if kind in "biu" else dtypes.np_finfo(dt.np).tiny
    t = Tensor._wrap(backend.to_device(values, dev))
    if wide:                             # (from entry 1: an offset view, as torch's)
        t = t[..., 1::2]
    if requires_grad:
        t.requires_grad_(True)
    return t
