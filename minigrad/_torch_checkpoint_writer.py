"""Writing PyTorch's ``torch.save`` zip format, for what the safetensors format cannot hold
(a whole ``nn.Module``, an optimizer object, a dict holding a set or a numpy array...).

The archive (read back by ``_torch_checkpoint``, and by ``torch.load``) is a stored, not
compressed, zip with one top folder ``<archive>/`` (the file's name without its extension, or
``archive`` for a file object) holding:
  * ``data.pkl``: the object pickled (protocol 2 by default, as PyTorch), each tensor reduced
    to the call PyTorch pickles (``torch._utils._rebuild_tensor_v2(storage, offset, size,
    stride, requires_grad, hooks)``, ``_rebuild_parameter(tensor, requires_grad, hooks)``,
    ``torch._tensor._rebuild_from_type_v2`` for a tensor with attributes), each storage a
    persistent id ``('storage', torch.<Type>Storage, key, location, numel)``; dtypes,
    devices and Sizes are pickled under their ``torch.`` names, everything else (module
    classes, optimizers) by its own ``minigrad.`` qualified name;
  * ``data/<key>``: the raw bytes of each storage; ``byteorder``, ``version`` and
    ``.format_version`` as PyTorch writes them.

A storage is the whole memory block a tensor's array views (found through numpy's ``base``
chain): tensors that share memory (a tied weight, a slice and its whole) are written once and
come back sharing it.  A tensor whose layout a storage cannot describe (negative strides, a
dtype reinterpreting another tensor's block) gets a contiguous copy of its own.

The globals are written as names, so torch is never imported here.
"""
from __future__ import annotations

import io
import os
import pickle
import sys
import types
import zipfile
from collections import OrderedDict

import numpy as np

from . import backend, dtypes
from ._hooks import warn_if_has_hooks
from ._torch_checkpoint import _STORAGE_DTYPES
from .nn.parameter import Parameter, UninitializedTensorMixin
from .tensor import Size, Tensor, _plain_type, _user_state

__all__ = ["pickle_checkpoint", "archive_name"]

# minigrad dtype name -> the torch storage class that pickles it ('float32' -> 'FloatStorage');
# a dtype with none (uint16, uint32, uint64) is pickled as PyTorch pickles it: its bytes as an
# untyped storage, the dtype given to _rebuild_tensor_v3
_STORAGE_NAMES = {dtype: storage for storage, dtype in _STORAGE_DTYPES.items()}
_UNTYPED = "UntypedStorage"


class _Global:
    """A module-level name (``torch._utils._rebuild_tensor_v2``), pickled as a reference to
    that name (a GLOBAL opcode) without importing its module."""

    __slots__ = ("module", "name")

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):
        # (pickle reduces only to callables; this one stands for a function of PyTorch's)
        raise TypeError(f"{self.module}.{self.name} is a name to pickle, not callable here")


_GLOBALS = {}


def _global(module, name):
    """The one ``_Global`` for ``module.name`` (one object, so the pickle memo reuses it)."""
    key = (module, name)
    if key not in _GLOBALS:
        _GLOBALS[key] = _Global(module, name)
    return _GLOBALS[key]


_REBUILD_V2 = _global("torch._utils", "_rebuild_tensor_v2")
_REBUILD_V3 = _global("torch._utils", "_rebuild_tensor_v3")


class _Call:
    """A call ``func(*args)`` to pickle where an object stands (a Parameter's inner tensor)."""

    __slots__ = ("func", "args")

    def __init__(self, func, args):
        self.func, self.args = func, args


class _Storage:
    """One storage of the archive: its key, torch storage class name, location ('cpu',
    'cuda:0'), element count (bytes, for an untyped one) and bytes (a 1-d uint8 array)."""

    __slots__ = ("key", "kind", "location", "numel", "block", "owner", "dtype")

    def __init__(self, key, kind, location, block, itemsize, owner=None, dtype=None):
        self.key, self.kind, self.location, self.block = key, kind, location, block
        self.dtype = dtype          # the dtype of the tensors over a shared block
        self.numel = block.size // (1 if kind == _UNTYPED else itemsize)
        self.owner = owner          # the object owning the memory (kept alive: keyed by id)


def _owner(array):
    """The object at the end of ``array``'s ``base`` chain: the one owning its memory (an
    ndarray, or the bytearray/bytes/mmap a ``frombuffer`` array views)."""
    obj = array
    while True:
        if isinstance(obj, memoryview):
            obj = obj.obj
        base = getattr(obj, "base", None)
        if base is None:
            return obj
        obj = base


def _bytes_of(owner):
    """The whole memory block of ``owner`` as a 1-d uint8 array, or None if it has no single
    contiguous block numpy can view."""
    try:
        if isinstance(owner, np.ndarray):
            if not (owner.flags.c_contiguous or owner.flags.f_contiguous):
                return None
            return np.ravel(owner, order="K").view(np.uint8)
        return np.frombuffer(owner, dtype=np.uint8)
    except (TypeError, ValueError, BufferError):
        return None


class _Storages:
    """The storages of the tensors pickled, in the order met (keys '0', '1', ...)."""

    def __init__(self):
        self.records = []
        self._by_owner = {}         # id(owner) -> _Storage

    def _new(self, kind, location, block, itemsize, owner=None, dtype=None):
        record = _Storage(str(len(self.records)), kind, location, block, itemsize, owner,
                          dtype)
        self.records.append(record)
        return record

    def locate(self, t):
        """(storage, offset, size, stride) of tensor ``t``, in elements, as PyTorch pickles
        them: the shared storage of the memory block it views, else a copy of its own."""
        array, kind = t._array, _STORAGE_NAMES.get(t.dtype.name, _UNTYPED)
        itemsize, size = array.itemsize, tuple(int(n) for n in array.shape)
        if isinstance(array, np.ndarray) and array.size:
            found = self._shared(array, kind, itemsize)
            if found is not None:
                record, offset = found
                return record, offset, size, tuple(s // itemsize for s in array.strides)
        copy = backend.as_numpy(array).copy(order="C")      # (keeps a 0-d array 0-d)
        record = self._new(kind, str(t.device), copy.reshape(-1).view(np.uint8), itemsize)
        return record, 0, size, t.stride()

    def _shared(self, array, kind, itemsize):
        """(storage, element offset) of ``array`` within the block of its owner, or None if
        a storage cannot describe it (negative or odd strides, another dtype's block)."""
        if any(s < 0 or s % itemsize for s in array.strides):
            return None
        owner = _owner(array)
        record = self._by_owner.get(id(owner))
        if record is None:
            block = _bytes_of(owner)
            if block is None or block.size % itemsize:
                return None
        elif record.dtype != array.dtype:
            # one storage read as two dtypes (a complex tensor beside its view_as_real, a
            # tensor beside its .view(int32)): PyTorch's pickler refuses it
            raise RuntimeError("Cannot save multiple tensors or storages that view the same "
                               "data as different types")
        else:
            block = record.block
        start = backend.data_address(block)
        first = backend.data_address(array) - start
        last = first + sum((n - 1) * s for n, s in zip(array.shape, array.strides)) + itemsize
        if first < 0 or first % itemsize or last > block.size:
            return None
        if record is None:
            record = self._new(kind, "cpu", block, itemsize, owner, array.dtype)
            self._by_owner[id(owner)] = record
        return record, first // itemsize


class _Pickler(pickle._Pickler):
    """pickle's pure-Python pickler, with tensors reduced to PyTorch's rebuild calls over
    persistent-id storages and dtypes/devices/Sizes under their ``torch.`` names."""

    def __init__(self, file, protocol, storages):
        super().__init__(file, protocol)
        self._storages = storages

    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            module = "torch.storage" if obj.kind == _UNTYPED else "torch"
            return ("storage", _global(module, obj.kind), obj.key, obj.location, obj.numel)
        return None

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, dtypes.DType):
            obj = _global("torch", obj.name)
        if isinstance(obj, _Global):
            self._save_name(obj)
            return
        super().save(obj, save_persistent_id)

    def _save_name(self, obj):
        """Write the reference to ``obj.module``.``obj.name`` (memoized, as pickle does)."""
        self.framer.commit_frame()
        memo = self.memo.get(id(obj))
        if memo is not None:
            self.write(self.get(memo[0]))
            return
        if self.proto >= 4:
            self.save(obj.module)
            self.save(obj.name)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("utf-8"))
        self.memoize(obj)

    def save_global(self, obj, name=None):
        qualname = name or getattr(obj, "__qualname__", None) or ""
        if "<locals>" in qualname.split("."):
            # (the error PyTorch's C pickler gives for a class or function defined in one)
            raise AttributeError(f"Can't pickle local object {qualname!r}")
        super().save_global(obj, name)

    # (pickle's table of savers names its own save_global for functions)
    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[types.FunctionType] = save_global

    def reducer_override(self, obj):
        if isinstance(obj, Tensor):
            return self._reduce_tensor(obj)
        if isinstance(obj, _Call):
            return obj.func, obj.args
        if isinstance(obj, Size):
            return _global("torch", "Size"), (tuple(int(n) for n in obj),)
        if isinstance(obj, backend.Device):
            return _global("torch", "device"), (str(obj),)
        return NotImplemented

    def _reduce_tensor(self, t):
        """The rebuild call PyTorch pickles for ``t`` (a Parameter stays one; a tensor with
        attributes, or of a subclass, goes through ``_rebuild_from_type_v2``)."""
        if isinstance(t, UninitializedTensorMixin):
            # a lazy layer's placeholder (no data): pickled as a new placeholder, as PyTorch's
            return type(t), (t.requires_grad, None, t.dtype)
        warn_if_has_hooks(t)
        storage, offset, size, stride = self._storages.locate(t)
        args = (storage, offset, size, stride)
        # (an untyped storage's tensor names its dtype: the last argument of the v3 rebuild)
        rebuild, dtype = (_REBUILD_V3, (t.dtype,)) if storage.kind == _UNTYPED else \
            (_REBUILD_V2, ())
        state = _user_state(t)
        if type(t) is Parameter:
            inner = _Call(rebuild, args + (False, OrderedDict()) + dtype)
            if state:
                return (_global("torch._utils", "_rebuild_parameter_with_state"),
                        (inner, t.requires_grad, OrderedDict(), state))
            return _global("torch._utils", "_rebuild_parameter"), \
                (inner, t.requires_grad, OrderedDict())
        args = args + (t.requires_grad, OrderedDict()) + dtype
        plain = _plain_type(t)          # (a checked view is a Tensor to its user)
        if plain is Tensor and not state:
            return rebuild, args
        cls = _global("torch", "Tensor") if plain is Tensor else plain
        return (_global("torch._tensor", "_rebuild_from_type_v2"),
                (rebuild, cls, args, state or {}))


class _Checkpoint:
    """An object pickled for the zip format: ``data.pkl``'s bytes and the storages."""

    def __init__(self, pickled, storages):
        self.pickled, self.storages = pickled, storages

    def write_zip(self, out, name):
        """Write the archive, top folder ``name``, to the binary file object ``out``."""
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
            def add(member, data):
                # a fixed date: the same object gives the same bytes
                archive.writestr(zipfile.ZipInfo(f"{name}/{member}"), data)
            add("data.pkl", self.pickled)
            add(".format_version", b"1")
            add("byteorder", sys.byteorder.encode("ascii"))
            for record in self.storages.records:
                add(f"data/{record.key}", memoryview(record.block))
            add("version", b"3\n")


def pickle_checkpoint(obj, protocol=2):
    """Pickle ``obj`` for the zip format (a pickling error is raised here, before anything is
    written); ``.write_zip(file, name)`` then writes the archive."""
    storages = _Storages()
    buffer = io.BytesIO()
    _Pickler(buffer, protocol, storages).dump(obj)
    return _Checkpoint(buffer.getvalue(), storages)


def archive_name(path):
    """The archive's top folder for a file at ``path``: its name without the extension."""
    return os.path.splitext(os.path.basename(os.fspath(path)))[0] or "archive"
