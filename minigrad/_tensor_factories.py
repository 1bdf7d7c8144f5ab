"""The factories that make a tensor from data: ``tensor`` (always a copy), ``as_tensor`` and
``from_numpy`` (sharing a numpy array's memory where they can), and ``is_tensor``."""
from __future__ import annotations

import numpy as np

from . import backend, dtypes
from ._data_conversion import _to_array
from ._dtype_argument import check_dtype_argument
from ._type_names import python_type_name
from ._warn_once import USER, warn_once, warn_user
from .tensor import Tensor


_COPY_CONSTRUCT = ("To copy construct from a tensor, it is recommended to use "
                   "sourceTensor.detach().clone() or sourceTensor.detach().clone()"
                   ".requires_grad_(True), rather than {}(sourceTensor).")


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False) -> Tensor:
    """Make a tensor from data (nested lists, numbers, numpy arrays), copying the data.

    Python floats give float32, ints int64, bools bool; a numpy array keeps its dtype.
    ``pin_memory=True`` needs an accelerator (page-locked memory is for copies to one).
    """
    backend.check_pin_memory(pin_memory, "tensor", none_ok=False)   # (a bool only, here)
    if requires_grad is not False and requires_grad is not True:
        _check_requires_grad(requires_grad, "tensor")
    if dtype is not None and not isinstance(dtype, dtypes.DType):
        _check_dtype(dtype, "tensor")
    if device is None and backend.default_is_meta:      # (set_default_device('meta'))
        device = backend.meta
    if isinstance(data, Tensor):
        warn_user(_COPY_CONSTRUCT.format("torch.tensor"), UserWarning)
        data = data.detach()._array
    array = _to_array(data, dtype, device)
    if array is data or (isinstance(data, np.ndarray) and np.shares_memory(array, data)):
        # the copy keeps a dense layout (Fortran order too); a broadcast one is row-major
        array = dtypes.preserving_copy(array) if type(array) is np.ndarray else \
            array.copy(order="K")
    elif type(data) is np.ndarray and type(array) is np.ndarray and data.ndim > 1:
        array = dtypes.preserving_copy(array, data)     # numpy's cast, laid out as PyTorch's
    if type(data) is np.ndarray and not data.size:
        array = _empty_with_steps_of(array, data)
    t = _keeping_zero_strides(Tensor._wrap(array), array, data)
    if requires_grad:
        _require_grad_at_creation(t)
    return t


def _check_requires_grad(flag, name):
    """The parser's refusal, in ``name``'s words, of a ``requires_grad=`` that is no bool
    (None, 1 and a numpy bool too)."""
    if flag is not False and flag is not True:
        raise TypeError(f"{name}(): argument 'requires_grad' must be bool, not "
                        f"{python_type_name(flag)}")


def _check_dtype(dtype, name):
    """The parser's refusal, in ``name``'s words, of a ``dtype=`` that is no torch dtype (a
    str, a numpy type or dtype); Python's float, int, bool and complex are taken."""
    check_dtype_argument(dtype, name)


def _require_grad_at_creation(t):
    """``requires_grad=True`` given to a factory function; a non-floating tensor is refused in
    the factories' words (``requires_grad_()`` has its own)."""
    if t._array.dtype.kind not in "fcV":
        raise RuntimeError(f"Only Tensors of floating point and complex dtype can require "
                           f"gradients (this tensor is {t.dtype})")
    return t.requires_grad_(True)


def as_tensor(data, *, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a numpy array when dtype and device allow."""
    if dtype is not None and not isinstance(dtype, dtypes.DType):
        _check_dtype(dtype, "as_tensor")
    if device is None and backend.default_is_meta:      # (set_default_device('meta'))
        device = backend.meta
    if isinstance(data, Tensor):
        return data.to(*(a for a in (device, dtype) if a is not None))
    array = _to_array(data, dtype, device)
    if type(data) is np.ndarray and not data.size and array is not data:
        array = _empty_with_steps_of(array, data)
    if (isinstance(data, np.ndarray) and not data.flags.writeable and
            np.shares_memory(array, data)):
        _warn_readonly_once()
        array = writable_alias_of(array)
    return _keeping_zero_strides(Tensor._wrap(array), array, data)


def _empty_with_steps_of(array, data):
    """The empty ``array`` made from the empty numpy array ``data``, with data's steps (counted
    in elements): PyTorch keeps an empty numpy array's strides through a copy or a cast."""
    if type(array) is not np.ndarray or array.shape != data.shape or array.size:
        return array
    steps = tuple(s // data.itemsize * array.itemsize for s in data.strides)
    if steps == array.strides:
        return array
    return np.ndarray(array.shape, array.dtype, np.empty(0, array.dtype), 0, steps)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor that shares memory with ``array``: writing to one changes the other."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {python_type_name(array)})")
    dtypes.from_numpy_dtype(array.dtype)
    if array.flags.writeable:
        data = _to_array(array)
    else:
        _warn_readonly_once()
        data = writable_alias_of(_to_array(array))
    return _keeping_zero_strides(Tensor._wrap(data), data, array)


def _keeping_zero_strides(t, array, data):
    """``t``, wrapped from ``array`` (made from ``data``): where ``data`` is an empty numpy
    array with every stride 0 (numpy's layout of a new empty array), ``t`` keeps those strides
    and is marked to report them, as PyTorch keeps a numpy array's strides
    (``from_numpy(np.empty((0, 3))).stride()`` is ``(0, 0)``; ``Tensor._wrap`` gives other
    empty arrays row-major strides, as a new empty tensor has; so do ``t``'s views, where
    PyTorch's keep the zeros: ``t.t().stride()`` is ``(1, 1)`` here, ``(0, 0)`` in PyTorch)."""
    if type(data) is np.ndarray and not data.size and data.ndim and \
            not any(data.strides) and type(array) is np.ndarray and not any(array.strides):
        t._array = array
        t.__dict__["_numpy_strides"] = True
    return t


class _WritableMemory:
    """The memory of the read-only array ``array`` offered to numpy as writable (numpy's
    array interface with its read-only flag off); an array made from it keeps this object,
    and so ``array`` and the memory under it, alive."""

    def __init__(self, array):
        self._array = array
        interface = dict(array.__array_interface__)
        interface["data"] = (interface["data"][0], False)
        self.__array_interface__ = interface


def writable_alias_of(array):
    """``array`` (a read-only numpy array) as a writable array on the same memory, as PyTorch
    takes such memory (from_numpy, as_tensor, frombuffer of bytes: it warns, then writes
    through).  An array whose elements share memory (a 0 stride, as np.broadcast_to gives)
    stays read-only: PyTorch refuses writes into such a tensor in its own words."""
    if array.flags.writeable or type(array) is not np.ndarray or any(
            st == 0 and n > 1 for st, n in zip(array.strides, array.shape)):
        return array
    return np.asarray(_WritableMemory(array))


def _warn_readonly_once():
    """PyTorch's warning for from_numpy (or as_tensor) of a non-writable array, whose memory
    the tensor would share: once per process, or every time under set_warn_always(True), as
    PyTorch gives it (``warn_once`` keeps the count)."""
    warn_once("The given NumPy array is not writable, and minigrad does not support "
              "non-writable tensors. This means writing to this tensor will result in "
              "undefined behavior. You may want to copy the array to protect its data or make "
              "it writable before converting it to a tensor. This type of warning will be "
              "suppressed for the rest of this program.", UserWarning, stacklevel=USER,
              key="non-writable numpy array")


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)

