"""``Tensor.untyped_storage()``: the memory block under a tensor and its views, as bytes;
``Tensor.storage()``: the same block as elements of the tensor's dtype.

Code compares storages to ask whether two tensors share memory
(``a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()``) or measures them
(``nbytes()``).  Here the block is the array of the tensor's base (the tensor itself when it
is no view; for a deep copy of a view, the copy of its base's memory): every view of one base
reports the same pointer and size.
"""
from __future__ import annotations

import numpy as np

from ._warn_once import warn_user
from . import backend, dtypes
from .tensor import Tensor
from ._tensor_copies import lies_in, storage_array

__all__ = ["UntypedStorage", "TypedStorage", "FloatStorage", "DoubleStorage", "HalfStorage",
           "ByteStorage", "CharStorage", "ShortStorage", "IntStorage", "LongStorage",
           "BoolStorage"]


class UntypedStorage:
    """The bytes a tensor (and each view of its base) lives in.  ``UntypedStorage(n)`` makes n
    zero bytes, ``UntypedStorage([1, 2])`` those bytes; indexing reads and writes single bytes
    (a slice is a storage over the same memory)."""

    def __init__(self, data=0, *, device=None):
        if not isinstance(data, Tensor):
            data = Tensor._wrap(_new_bytes(data))
            if device is not None:
                data = data.to(device)
        whole = storage_array(data)
        shared = whole is not data._array and lies_in(data._array, whole)
        self._array = whole if shared else data._array
        self._device = data.device

    def data_ptr(self) -> int:
        """The block's address; 0 when it holds no bytes (no memory), as PyTorch's."""
        return self._address() if self._array.size else 0

    def _address(self) -> int:
        """The block's address, also for an empty block (the start of its empty array)."""
        return backend.data_address(self._array)

    def nbytes(self) -> int:
        return int(self._array.nbytes)

    def size(self) -> int:
        return self.nbytes()

    def __len__(self):
        return self.nbytes()

    def element_size(self) -> int:
        return 1

    @property
    def device(self):
        return self._device

    def is_shared(self) -> bool:
        return False

    def is_pinned(self, device="cuda") -> bool:
        return False

    # -- the bytes ----------------------------------------------------------------------------
    def _bytes(self):
        """The block as a 1-d uint8 array over its memory."""
        return _flat(self._array).view(np.uint8)

    def _index(self, idx):
        if not isinstance(idx, int) or isinstance(idx, bool):
            raise TypeError(f"can't index a minigrad.UntypedStorage with {type(idx).__name__}")
        n = self.nbytes()
        if not -n <= idx < n:
            raise IndexError(f"index {idx} out of range for storage of size {n}")
        return idx % n

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return UntypedStorage(Tensor._wrap(self._bytes()[idx]))
        return int(self._bytes()[self._index(idx)])

    def __setitem__(self, idx, value):
        value = int(value) & 0xFF            # a byte keeps the low 8 bits, as a C cast
        if isinstance(idx, slice):
            self._bytes()[idx] = value
        else:
            self._bytes()[self._index(idx)] = value

    def __iter__(self):
        return iter(self.tolist())

    def tolist(self):
        return backend.as_numpy(self._bytes()).tolist()

    def fill_(self, value):
        self._bytes()[...] = int(value) & 0xFF
        return self

    def copy_(self, source, non_blocking=None):
        self._bytes()[...] = source._bytes()
        return self

    def clone(self):
        return UntypedStorage(Tensor._wrap(self._bytes().copy()))

    def cpu(self):
        return self if self._device.type == "cpu" else \
            UntypedStorage(Tensor._wrap(backend.as_numpy(self._bytes())))

    def __repr__(self):
        body = "\n".join(f" {v}" for v in self.tolist())
        return (f"{body}\n[minigrad.storage.UntypedStorage(device={self._device}) of size "
                f"{self.nbytes()}]").lstrip("\n")


def _new_bytes(data):
    """The uint8 array of ``UntypedStorage(data)``: n zero bytes, or the bytes listed."""
    if isinstance(data, int) and not isinstance(data, bool):
        if data < 0:
            raise RuntimeError(f"Trying to create a storage of negative size {data}")
        return np.zeros(data, np.uint8)
    if isinstance(data, (list, tuple)):
        for item in data:
            if not isinstance(item, int) or isinstance(item, bool):
                raise RuntimeError(f"minigrad.UntypedStorage(): tried to construct a storage "
                                   f"from a sequence ({type(data).__name__}), but one of the "
                                   f"items was of type {type(item).__name__} instead of int")
        return np.array([v & 0xFF for v in data], np.uint8)
    raise TypeError(f"minigrad.UntypedStorage(): could not make a storage from "
                    f"{type(data).__name__}")


# the storages' legacy names: 'minigrad.FloatStorage' for float32 ('Float' is PyTorch's name of
# the scalar type, dtypes.scalar_type_name)
_LEGACY_NAMES = {name: dtypes.scalar_type_name(name) for name in (
    "float32", "float64", "float16", "uint8", "int8", "int16", "int32", "int64", "bool",
    "complex64", "complex128")}
_warned = []                # TypedStorage's deprecation warning, given once per process


def _warn_typed_storage():
    if not _warned:
        _warned.append(True)
        warn_user("TypedStorage is deprecated. It will be removed in the future and "
                  "UntypedStorage will be the only storage class. This should only matter "
                  "to you if you are using storages directly.  To access UntypedStorage "
                  "directly, use tensor.untyped_storage() instead of tensor.storage()",
                  UserWarning)


def _flat(array):
    """The elements of a whole memory block, as one 1-d view of it (a copy, read-only in
    effect, only if the block is laid out in neither C nor Fortran order)."""
    if array.flags.c_contiguous:
        return array.reshape(-1)
    if array.flags.f_contiguous:
        return array.reshape(-1, order="F")
    return array.reshape(-1)


class TypedStorage:
    """``tensor.storage()``: the elements of the memory a tensor and its views share, as a
    1-d sequence of the tensor's dtype (PyTorch's deprecated typed storage). Indexing reads
    and writes that memory: ``x.storage()[0] = 9`` changes ``x``. ``size()`` counts elements;
    a view's elements start ``storage_offset()`` into it."""

    def __init__(self, data=0, *, dtype=None, device=None):
        """A tensor's storage; or ``TypedStorage(n, dtype=...)``: n zeros of ``dtype`` (the
        default dtype when None), ``TypedStorage([1, 2], dtype=...)``: those values."""
        _warn_typed_storage()
        if not isinstance(data, Tensor):
            dtype = dtypes.get_default_dtype() if dtype is None else dtype
            made = np.zeros(data, dtype.np) if isinstance(data, int) else \
                np.asarray(data, dtype.np).reshape(-1)
            data = Tensor._wrap(made) if device is None else Tensor._wrap(made).to(device)
        self._untyped = UntypedStorage(data)
        self._flat = _flat(self._untyped._array)
        self.dtype = data.dtype

    # -- what it is ---------------------------------------------------------------------------
    @property
    def device(self):
        return self._untyped.device

    def size(self) -> int:
        return int(self._flat.shape[0])

    def __len__(self):
        return self.size()

    def element_size(self) -> int:
        return self.dtype.itemsize

    def nbytes(self) -> int:
        return self.size() * self.element_size()

    def data_ptr(self) -> int:
        return self._untyped.data_ptr()

    def untyped(self) -> UntypedStorage:
        return self._untyped

    def is_shared(self) -> bool:
        return False

    def is_pinned(self, device="cuda") -> bool:
        return False

    def type(self, dtype=None, non_blocking=False):
        """'minigrad.FloatStorage' for float32, as PyTorch names its legacy storage types."""
        if dtype is not None:
            raise NotImplementedError("TypedStorage.type(dtype) is not supported by minigrad")
        return f"minigrad.{_LEGACY_NAMES[self.dtype.name]}Storage"

    # -- the elements -------------------------------------------------------------------------
    def _index(self, idx):
        if not isinstance(idx, int) or isinstance(idx, bool):
            raise RuntimeError(f"can't index a {type(self).__name__} with "
                               f"{type(idx).__name__}")
        n = self.size()
        if not -n <= idx < n:
            raise IndexError(f"index {idx} out of range for storage of size {n}")
        return idx % n if n else idx

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return TypedStorage(Tensor._wrap(self._flat[idx].copy()))
        return self._flat[self._index(idx)].item()

    def __setitem__(self, idx, value):
        if isinstance(idx, slice):
            self._flat[idx] = value
        else:
            self._flat[self._index(idx)] = value

    def __iter__(self):
        return iter(self.tolist())

    def tolist(self):
        return self._flat.tolist()

    def fill_(self, value):
        self._flat[...] = value
        return self

    def copy_(self, source, non_blocking=None):
        self._flat[...] = source._flat
        return self

    def clone(self):
        return TypedStorage(Tensor._wrap(self._flat.copy()))

    def cpu(self):
        return self

    def __repr__(self):
        body = "\n".join(f" {v}" for v in self.tolist())
        return (f"{body}\n[minigrad.storage.TypedStorage(dtype={self.dtype}, "
                f"device={self.device}) of size {self.size()}]").lstrip("\n")


class _LegacyStorageType(type):
    """The metaclass of ``FloatStorage``...: a typed storage of that dtype is an instance."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, TypedStorage) and obj.dtype.name == cls._dtype_name


def _legacy_storage(prefix, dtype_name):
    def __init__(self, data=0):
        """``FloatStorage(n)``: n zeros; ``FloatStorage([1, 2])``: those values."""
        made = np.zeros(data, dtype_name) if isinstance(data, int) else \
            np.asarray(data, dtype_name).reshape(-1)
        TypedStorage.__init__(self, Tensor._wrap(made))
    return _LegacyStorageType(f"{prefix}Storage", (TypedStorage,),
                              {"_dtype_name": dtype_name, "__init__": __init__,
                               "__module__": "minigrad"})


LEGACY_STORAGES = {name: _legacy_storage(prefix, name) for name, prefix in _LEGACY_NAMES.items()}
FloatStorage = LEGACY_STORAGES["float32"]
DoubleStorage = LEGACY_STORAGES["float64"]
HalfStorage = LEGACY_STORAGES["float16"]
ByteStorage = LEGACY_STORAGES["uint8"]
CharStorage = LEGACY_STORAGES["int8"]
ShortStorage = LEGACY_STORAGES["int16"]
IntStorage = LEGACY_STORAGES["int32"]
LongStorage = LEGACY_STORAGES["int64"]
BoolStorage = LEGACY_STORAGES["bool"]
ComplexFloatStorage = LEGACY_STORAGES["complex64"]
ComplexDoubleStorage = LEGACY_STORAGES["complex128"]
