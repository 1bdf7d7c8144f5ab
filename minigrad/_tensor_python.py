"""Python's side of a tensor: the legacy constructor (``Tensor(2, 3)``, ``Tensor(data)``) and
the conversions ``numpy()``, ``item()``, ``tolist()``, ``len``, ``iter``, ``bool``,
``float``, ``int``, ``complex``, ``index``, ``format``, ``repr`` and ``hash``.

``Tensor`` (``tensor.py``) derives from ``TensorPython``, which holds only these methods (no
state of its own: ``__slots__ = ()``); they read the tensor's array and follow PyTorch's rules
and words: a tensor that requires grad gives no numpy array while grad mode is on, a tensor of
several elements is no Python scalar, a uint64 reads as an int64.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import backend
from . import dtypes
from ._data_conversion import (_UINT64, _as_int64, _is_int, _legacy_sizes, _to_array,
                               legacy_keywords)
from ._formatting import tensor_repr
from ._grad_state import state as _grad_state
from ._size import Size
from ._tensor_base import TensorBase
from ._warn_once import GRAD_SCALAR, USER, warn_once

__all__ = ["TensorPython"]


# While a vmap runs (in any thread), ``_vmap`` puts here what checks a tensor read as Python
# data (``item``, ``bool``, ``tolist``, ``numpy``): ``vmap_hook(tensor, kind, value)`` raises
# PyTorch's vmap error where the tensor is batched. None otherwise: one global read a call.
vmap_hook = None


class TensorPython(TensorBase):
    """The base of ``Tensor`` that reads Python's arguments and gives Python's and numpy's
    values."""
    __slots__ = ()

    def _construct(self, *args, **kwargs):
        # PyTorch's legacy constructor: Tensor(2, 3) and Tensor(Size([2, 3])) are sizes,
        # Tensor([2, 3]) and Tensor((2, 3)) data, Tensor(other) shares other's memory (its
        # dtype kept). It takes no keyword but device= (dtype=, requires_grad=: new()'s words)
        legacy_keywords(args, kwargs)
        device = kwargs.get("device")
        if args and (len(args) > 1 or isinstance(args[0], Size) or _is_int(args[0])):
            sizes = tuple(args[0]) if isinstance(args[0], Size) else args
            array = np.zeros(_legacy_sizes(sizes), dtypes.default_float().np)
            if device is not None:
                array = backend.to_device(array, backend.device(device))
        elif args and isinstance(args[0], TensorBase) and device is None:
            array = args[0]._array
        else:
            data = args[0] if args else ()
            if isinstance(data, (numbers.Number, np.generic)) or data is None:
                raise TypeError(f"new(): data must be a sequence (got {type(data).__name__})")
            array = _to_array(data, dtypes.default_float(), device)
        self._init(array)

    def numpy(self, force=False) -> np.ndarray:
        """The data as a numpy array (shared memory on the CPU)."""
        # refused only while grad mode is on: under no_grad PyTorch hands the data over
        if self.requires_grad and _grad_state.enabled and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        if self.device.type != "cpu" and not force:
            raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use "
                            "Tensor.cpu() to copy the tensor to host memory first.")
        if self._array.dtype.kind == "V":      # numpy has no bfloat16 of its own, as PyTorch says
            raise TypeError("Got unsupported ScalarType BFloat16")
        if vmap_hook is not None:
            vmap_hook(self, "data", None)
        return backend.as_numpy(self._array)

    def __array__(self, dtype=None, copy=None):
        # np.asarray(t) is t.numpy(), as PyTorch's: refused for a tensor that requires grad
        # (detach it first) and for one on a GPU (.cpu() first)
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def item(self):
        if self._array.size != 1:
            raise RuntimeError(f"a Tensor with {self._array.size} elements cannot be converted to "
                               "Scalar")
        value = self._array.reshape(()).item()
        if vmap_hook is not None:           # (float(t), int(t), f"{t:.2f}" come here too)
            vmap_hook(self, "item", value)
        return value

    def tolist(self):
        if vmap_hook is not None:
            vmap_hook(self, "data", None)
        return backend.as_numpy(self._array).tolist()

    def __len__(self):
        if self._array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._array.shape[0]

    def __iter__(self):
        if self._array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))    # views by unbind, as PyTorch (grad_fn UnbindBackward0)

    def __bool__(self):
        if self._array.size != 1:
            how_many = "no values" if self._array.size == 0 else "more than one value"
            raise RuntimeError(f"Boolean value of Tensor with {how_many} is ambiguous "
                               f"(it has {self._array.size} elements; use .any() or .all())")
        value = self._array.reshape(()).item()
        if self._array.dtype == _UINT64:
            _as_int64(value)            # (PyTorch reads a uint64 as an int64 here)
        if vmap_hook is not None:
            vmap_hook(self, "bool", bool(value))
        return bool(value)

    def _one_scalar(self):
        if self._array.size != 1:
            raise ValueError(f"only one element tensors can be converted to Python scalars "
                             f"(this one has {self._array.size} elements, shape "
                             f"{list(self.shape)})")
        return self.item()

    def __float__(self):
        # (PyTorch gives it once a process, with grad mode on; torch.tensor([t]) shares it)
        if self._requires_grad and _grad_state.enabled:
            warn_once(GRAD_SCALAR, UserWarning, USER, key=GRAD_SCALAR)
        return float(self._real_scalar("double"))

    def __int__(self):
        return _as_int64(int(self._real_scalar("int64_t")))

    def _real_scalar(self, c_type):
        """The one element as a real number; a complex one only with no imaginary part
        (PyTorch's conversion refuses the rest as an overflow)."""
        value = self._one_scalar()
        if isinstance(value, complex):
            if value.imag != 0:
                raise RuntimeError(f"value cannot be converted to type {c_type} without "
                                   f"overflow")
            value = value.real
        return value

    def __complex__(self):
        return complex(self._one_scalar())

    def __index__(self):
        if self._array.dtype.kind not in "iub" or self._array.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return _as_int64(int(self.item()))

    def __format__(self, spec):
        if self._array.ndim == 0:
            return format(self.item(), spec)
        if spec:
            # PyTorch formats 0-d tensors only: even a one-element [2.5] refuses
            raise TypeError(f"unsupported format string passed to Tensor.__format__ (got "
                            f"{spec!r} for a Tensor of shape {list(self.shape)}: format its "
                            "elements, or .item())")
        return repr(self)

    def __repr__(self):
        return tensor_repr(self)

    def __hash__(self):
        return id(self)
