"""``asarray`` and ``frombuffer``: tensors over existing memory where PyTorch shares it.

    asarray(np_array)                 # shares the array's memory (same dtype, same device)
    asarray(tensor) is tensor         # no copy, no new object, when nothing must change
    asarray([1, 2.5])                 # a new tensor, dtype inferred as torch.tensor does
    frombuffer(bytearray(...), dtype=minigrad.int16)   # a 1-D view of the bytes
"""
from __future__ import annotations

import numpy as np

from ._warn_once import warn_user
from . import backend, dtypes
from .ops._util import scalar_type_name
from ._type_names import python_type_name
from .tensor import Tensor
from ._data_conversion import _refuse_negative_strides, _to_array
from . import _tensor_factories as _factories     # (its once-a-process read-only warning flag)
from ._tensor_factories import _require_grad_at_creation

__all__ = ["asarray", "frombuffer"]

_BUFFER_TYPES = (bytes, bytearray, memoryview)


def _alias_dtype_error(have, want):
    return ValueError(f"can't alias tensor with dtype '{scalar_type_name(have)}' into dtype "
                      f"'{scalar_type_name(want)}'.")


def _shareable(array, dtype, device, copy):
    """``array`` itself when it already has the wanted dtype and device (and no copy is asked
    for); a converted copy otherwise, or ValueError when ``copy=False`` forbids copying."""
    want = array.dtype if dtype is None else dtypes.to_dtype(dtype).np
    target = None if device is None else backend.device(device)
    here = "cpu" if isinstance(array, np.ndarray) else "cuda"
    moves = target is not None and target.type != here
    if want != array.dtype:
        if copy is False:
            raise _alias_dtype_error(array.dtype, want)
        array = array.astype(want)
        copied = True
    else:
        copied = False
    if moves:
        if copy is False:
            raise ValueError(f"can't alias tensor from device '{here}' to '{target}'.")
        array, copied = backend.to_device(array, target), True
    if copy and not copied:
        array = array.copy()
    return array


def _check_flags(dtype, copy, requires_grad):
    """The parser's refusals of asarray's keywords: a ``dtype`` that is no torch dtype, a
    ``copy`` or ``requires_grad`` that is neither a bool nor None."""
    if dtype is not None and not isinstance(dtype, dtypes.DType):
        _factories._check_dtype(dtype, "asarray")
    for name, flag in (("copy", copy), ("requires_grad", requires_grad)):
        if flag is not None and flag is not True and flag is not False:
            raise TypeError(f"asarray(): argument '{name}' must be bool, not "
                            f"{python_type_name(flag)}")


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=None):
    """``obj`` as a tensor, sharing memory when it can.

    * a Tensor: returned itself when dtype and device already match (``copy=True`` copies);
      ``requires_grad=True`` sets the flag on the result;
    * a numpy (or cupy) array or numpy scalar: a tensor over the same memory when dtype and
      device match, else a converted copy;
    * bytes, bytearray, memoryview: ``frombuffer`` with ``dtype`` (default: the default dtype);
    * a Python number or (nested) sequence: a new tensor, dtype as ``minigrad.tensor``.

    ``copy=False`` raises ValueError where sharing is impossible; ``copy=None`` shares when it
    can and copies otherwise.  ``requires_grad=None`` keeps a tensor's flag (and graph);
    ``False`` gives a result out of the graph: as PyTorch, a leaf returned itself has its
    flag cleared, anything else is detached.
    """
    if dtype is not None or copy is not None or requires_grad is not None:
        _check_flags(dtype, copy, requires_grad)
    if isinstance(obj, Tensor):
        if requires_grad is None and obj.requires_grad and not _flag_warned:
            _warn_unspecified_flag_once()
        want = obj._array.dtype if dtype is None else dtypes.to_dtype(dtype).np
        if copy is False and want != obj._array.dtype:
            raise _alias_dtype_error(obj._array.dtype, want)
        # .to() and .clone() keep the result in the autograd graph, as torch's asarray does
        result = obj.to(*(a for a in (device, dtype) if a is not None))
        if copy and result is obj:
            result = obj.clone()
    elif isinstance(obj, np.ndarray) or type(obj).__module__.startswith("cupy") or \
            isinstance(obj, np.generic) and copy is not False:
        if isinstance(obj, np.generic):
            # PyTorch reads a numpy scalar (np.float64 too) as a 0-d array through its buffer
            # and casts it as an array, where a Python number would be range-checked; with
            # copy=True it refuses another dtype in the words of an alias
            want = obj.dtype if dtype is None else dtypes.to_dtype(dtype).np
            if copy and want != obj.dtype:
                raise _alias_dtype_error(obj.dtype, want)
            obj = np.array(obj)
        _refuse_negative_strides(obj)
        dtypes.from_numpy_dtype(obj.dtype)
        array = _shareable(obj, dtype, device, copy)
        if (isinstance(obj, np.ndarray) and not obj.flags.writeable
                and np.shares_memory(array, obj)):
            _factories._warn_readonly_once()
            array = _factories.writable_alias_of(array)     # PyTorch writes through it
        result = Tensor._wrap(array)
    elif isinstance(obj, _BUFFER_TYPES):
        result = frombuffer(obj, dtype=dtypes.default_float() if dtype is None else dtype)
        if copy:
            result = Tensor._wrap(result._array.copy())
    else:
        if copy is False:
            if isinstance(obj, np.generic):      # (its own words, and a RuntimeError)
                raise RuntimeError("can't alias NumPy scalars. Either remove copy=False or "
                                   "transform it in a ndarray. ")
            raise ValueError("can't alias arbitrary sequence into a tensor.")
        result = Tensor._wrap(_to_array(obj, dtype, device))
    if requires_grad:
        _require_grad_at_creation(result)
    elif requires_grad is not None and result.requires_grad:
        if result is obj and result.is_leaf:
            result.requires_grad_(False)
        else:
            result = result.detach()
    return result


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """A 1-D tensor over the bytes of ``buffer`` (anything with the buffer protocol), starting
    ``offset`` bytes in, ``count`` elements of ``dtype`` (-1: as many as fit).  The memory is
    shared: writes through either side show in the other (a read-only buffer such as bytes
    gives a read-only array)."""
    try:
        view = memoryview(buffer)
    except TypeError:
        raise ValueError("object does not implement Python buffer protocol.") from None
    if not view.c_contiguous:          # (a strided view: PyTorch asks for contiguous bytes)
        raise RuntimeError("could not retrieve buffer from object")
    dt = dtypes.to_dtype(dtype)
    item = np.dtype(dt.np).itemsize
    length = view.nbytes
    if length == 0 or count == 0:
        raise ValueError(f"both buffer length ({length}) and count ({count}) must not be 0")
    if not 0 <= offset < length:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than "
                         f"buffer length ({length} bytes) minus 1")
    if count < 0:
        if (length - offset) % item:
            raise ValueError(f"buffer length ({length - offset} bytes) after offset ({offset} "
                             f"bytes) must be a multiple of element size ({item})")
        count = (length - offset) // item
    elif offset + count * item > length:
        raise ValueError(f"requested buffer length ({count} * {item} bytes) after offset "
                         f"({offset} bytes) must not be greater than actual buffer length "
                         f"({length} bytes)")
    array = np.frombuffer(view, dtype=dt.np, count=count, offset=offset)
    if view.readonly:
        # PyTorch writes into such memory all the same (after its warning, once a process):
        # the tensor gets a writable array on the same bytes
        if not _buffer_warned:
            _warn_readonly_buffer_once()
        array = _factories.writable_alias_of(array)
    t = Tensor._wrap(array)
    if requires_grad:
        _require_grad_at_creation(t)
    return t


_buffer_warned = False
_flag_warned = False


def _warn_unspecified_flag_once():
    """PyTorch's note, once a process, that asarray of a tensor requiring grad keeps the flag
    when requires_grad is left out (it once cleared it)."""
    global _flag_warned
    _flag_warned = True
    warn_user("minigrad.asarray: unspecified requires_grad now defaults to "
              "obj.requires_grad instead of False. Pass requires_grad=False explicitly to "
              "get the old behavior and silence this warning.", UserWarning)


def _warn_readonly_buffer_once():
    """PyTorch's warning for a tensor over a read-only buffer (``bytes``), once a process."""
    global _buffer_warned
    _buffer_warned = True
    warn_user("The given buffer is not writable, and minigrad does not support "
              "non-writable tensors. This means you can write to the underlying (supposedly "
              "non-writable) buffer using the tensor. You may want to copy the buffer to "
              "protect its data or make it writable before converting it to a tensor. This "
              "type of warning will be suppressed for the rest of this program.",
              UserWarning)

