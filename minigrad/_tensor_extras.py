"""Smaller parts of PyTorch's Tensor and top-level API that library code calls in passing.

* ``Tensor.to_dense()`` (the tensor itself: minigrad's tensors are dense), the device
  predicates PyTorch has for its other backends (``is_mps``, ``is_xpu``... all False),
  ``const_data_ptr``, ``storage_type``;
* ``Tensor.as_subclass(cls)``: the same data, and the same place in the graph, as an
  instance of a Tensor subclass;
* ``Tensor.set_(source)``: make this tensor a view of another's memory;
  ``Tensor.is_set_to``; ``Tensor.module_load`` (``load_state_dict``'s hook);
* DLPack: ``from_dlpack(obj)`` wraps any array that speaks DLPack (numpy's, cupy's, torch's)
  or a ``to_dlpack`` capsule without a copy, and a tensor speaks it too (``np.from_dlpack(t)``);
* ``sym_int``, ``sym_float``, ``sym_max``... : PyTorch's symbolic-shape helpers, which on
  plain numbers (all there is in eager code) are the plain operations;
* ``_assert(condition, message)``, the function form of ``assert`` that model code calls;
* ``compiled_with_cxx11_abi()``, ``GradScaler`` (``amp.GradScaler``'s top-level name).
"""
from __future__ import annotations

import ctypes
import math

import numpy as np

from . import _memory_format as mf, backend
from ._storage import LEGACY_STORAGES, TypedStorage, UntypedStorage
from ._type_names import python_type_name
from .autograd._node_names import rename_node
from .ops._util import scalar_type_name
from .tensor import Tensor

__all__ = ["from_dlpack", "to_dlpack", "sym_int", "sym_float", "sym_max", "sym_min",
           "sym_not", "sym_sqrt", "sym_ite", "sym_sum", "compiled_with_cxx11_abi"]


# ----------------------------------------------------------------------------------------------
# Layout and device predicates
# ----------------------------------------------------------------------------------------------
Tensor.to_dense = lambda self, dtype=None, *, masked_grad=None: (
    self if dtype is None or dtype == self.dtype else self.to(dtype))
for _name in ("is_mps", "is_xpu", "is_xla", "is_ipu", "is_mkldnn", "is_vulkan", "is_maia",
              "is_mtia"):
    setattr(Tensor, _name, property(lambda self: False, doc="False: not a tensor of that "
                                                            "backend or layout."))
del _name
Tensor.is_sparse_csr = False    # a class attribute (matmul tests it): SparseCsrTensor's is True
Tensor.const_data_ptr = lambda self: self.data_ptr()


def _storage_type(self):
    """The legacy storage class of this tensor's dtype (``minigrad.FloatStorage``...)."""
    return LEGACY_STORAGES[self.dtype.name]


Tensor.storage_type = _storage_type


# ----------------------------------------------------------------------------------------------
# Subclasses and shared memory
# ----------------------------------------------------------------------------------------------
def _as_subclass(self, cls):
    """An alias of this tensor (same memory, same version counter; in the graph, so that
    gradients flow back to ``self``) whose class is ``cls``, a subclass of Tensor."""
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError("Creating a Tensor subclass from a class that does not inherit from "
                        "Tensor is not possible. Make sure your class inherits from Tensor.")
    out = rename_node(self.view(tuple(self.shape)), "AliasBackward0")     # (PyTorch's node)
    out._array = self._array.view()     # an alias keeps every stride (a size-1 dim's too)
    out.__class__ = cls
    return out


def _make_subclass(cls, data, require_grad=False, dispatch_sizes_strides_policy=None,
                   dispatch_device=False, dispatch_layout=False, _extra_dispatch_keys=None,
                   storage_size=None):
    """``Tensor._make_subclass(cls, data, require_grad)``: ``data`` detached (the same memory
    and version counter, out of the graph) as an instance of ``cls``, a subclass of Tensor,
    requiring grad when asked: what ``Parameter.__new__`` and third-party parameter classes
    build themselves with.  The dispatch arguments (for subclasses that wrap another tensor)
    change nothing here."""
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError("Creating a Tensor subclass from a class that does not inherit from "
                        "Tensor is not possible. Make sure your class inherits from Tensor.")
    if not isinstance(data, Tensor):
        raise TypeError("_make_subclass(): argument 'data' (position 2) must be Tensor, not "
                        f"{python_type_name(data)}")
    if not isinstance(require_grad, bool):
        raise TypeError("_make_subclass(): argument 'require_grad' (position 3) must be bool, "
                        f"not {python_type_name(require_grad)}")
    out = cls._wrap(data._array)
    out._vcounter = data._vcounter
    if require_grad:
        if data._array.dtype.kind not in "fcV":
            raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                               "gradients")
        out.requires_grad_(True)
    return out


def _set(self, source=None, storage_offset=0, size=None, stride=None):
    """Make this tensor look at ``source``'s memory (a tensor, a ``storage()`` or an
    ``untyped_storage()``, whose bytes are read as this tensor's dtype): its shape,
    or ``size``/``stride`` from ``storage_offset`` on. No source: an empty tensor."""
    if self.is_leaf and self.requires_grad:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    if source is None:
        self._array = backend.xp_of(self._array).zeros((0,), self._array.dtype)
        self._base = None
        self._vcounter.value += 1
        return self
    if isinstance(source, TypedStorage):
        source = Tensor._wrap(source._flat)
    elif isinstance(source, UntypedStorage):      # its bytes read as this tensor's dtype
        raw, item = source._bytes(), self._array.dtype.itemsize
        source = Tensor._wrap(raw[:raw.shape[0] // item * item].view(self._array.dtype))
    if not isinstance(source, Tensor):
        raise TypeError(f"set_(): argument 'source' must be Tensor or Storage, not "
                        f"{type(source).__name__}")
    if source.dtype != self.dtype:
        raise RuntimeError(f"Could not set tensor of type "
                           f"{scalar_type_name(source._array.dtype).lower()} to a tensor of "
                           f"type {scalar_type_name(self._array.dtype).lower()}")
    view = source.detach()
    if size is not None:
        view = view.as_strided(tuple(size), tuple(stride) if stride is not None else
                               mf.row_major_strides(tuple(size)), storage_offset)
    self._array = view._array
    self._base = source._base if source._base is not None else source
    self._vcounter = source._vcounter
    self._vcounter.value += 1
    return self


def _is_set_to(self, tensor):
    """Whether both tensors look at the same memory: same start, sizes and strides."""
    address = backend.data_address
    return (address(self._array) == address(tensor._array) and self.shape == tensor.shape
            and self.stride() == tensor.stride() and self.dtype == tensor.dtype)


def _module_load(self, other, assign=False):
    """How ``load_state_dict`` turns the loaded ``other`` into this parameter's value: a
    detached ``other`` (``assign``) or ``self`` with other's values copied in."""
    return other.detach() if assign else self.copy_(other).detach()


Tensor.as_subclass = _as_subclass
Tensor._make_subclass = staticmethod(_make_subclass)
Tensor.set_ = _set
Tensor.is_set_to = _is_set_to
Tensor.module_load = _module_load


# ----------------------------------------------------------------------------------------------
# DLPack
# ----------------------------------------------------------------------------------------------
def from_dlpack(ext_tensor, *, device=None, copy=None):
    """A tensor sharing the memory of ``ext_tensor``: any object with ``__dlpack__`` (a numpy
    or cupy array, a torch tensor, another minigrad tensor) or a capsule from ``to_dlpack``
    (consumed: a capsule makes one tensor). No copy, so writes show on both, unless
    ``copy=True`` or another ``device`` asks for one."""
    if isinstance(ext_tensor, Tensor):
        out = ext_tensor.detach()
    elif hasattr(ext_tensor, "__dlpack__"):
        kind = getattr(ext_tensor, "__dlpack_device__", lambda: (1, 0))()[0]
        out = Tensor._wrap(_import_dlpack(ext_tensor, kind))
    else:
        out = Tensor._wrap(_from_capsule(ext_tensor))
    if device is not None:
        moved = out.to(device)
        if moved is not out:
            return moved
    return out.clone() if copy else out


def _import_dlpack(producer, kind):
    if kind == 2:                            # kDLCUDA: a GPU array, for cupy
        return backend.array_module(backend.device("cuda")).from_dlpack(producer)
    return np.from_dlpack(producer)


class _Capsule:
    """A legacy capsule dressed as a DLPack producer, for ``numpy/cupy.from_dlpack``."""

    def __init__(self, capsule, kind):
        self._capsule, self._kind = capsule, kind

    def __dlpack__(self, **kwargs):
        return self._capsule

    def __dlpack_device__(self):
        return self._kind, 0


_capsule_valid = ctypes.pythonapi.PyCapsule_IsValid
_capsule_valid.argtypes, _capsule_valid.restype = [ctypes.py_object, ctypes.c_char_p], ctypes.c_int
_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_capsule_pointer.restype = ctypes.c_void_p


def _from_capsule(capsule):
    """The array a ``"dltensor"`` capsule describes, writable as the producer's memory is
    (numpy marks arrays from unversioned capsules read-only; PyTorch's tensors are not)."""
    if type(capsule).__name__ != "PyCapsule" or not _capsule_valid(capsule, b"dltensor"):
        raise RuntimeError("from_dlpack received an invalid capsule. Note that DLTensor "
                           "capsules can be consumed only once, so you might have already "
                           "constructed a tensor from it once.")
    # DLManagedTensor starts with its DLTensor: a data pointer, then DLDevice's int32 type
    address = _capsule_pointer(capsule, b"dltensor")
    kind = ctypes.c_int32.from_address(address + ctypes.sizeof(ctypes.c_void_p)).value
    array = _import_dlpack(_Capsule(capsule, kind), kind)
    if isinstance(array, np.ndarray) and not array.flags.writeable:
        array = np.asarray(_Writable(array))
    return array


class _Writable:
    """The memory of a read-only numpy array, offered as writable (it keeps the array, and so
    the capsule's owner, alive)."""

    def __init__(self, array):
        self._array = array
        self.__array_interface__ = dict(array.__array_interface__,
                                        data=(array.__array_interface__["data"][0], False))


def to_dlpack(tensor):
    """The tensor's DLPack capsule (the legacy interface; prefer ``from_dlpack(t)``). As
    PyTorch's, it exports a tensor that requires grad (its data only)."""
    return tensor.detach().__dlpack__()


def _dlpack(self, *, stream=None, **kwargs):
    if self.requires_grad:
        raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
    return self._array.__dlpack__(**({} if stream is None else {"stream": stream}), **kwargs)


Tensor.__dlpack__ = _dlpack
Tensor.__dlpack_device__ = lambda self: self._array.__dlpack_device__()


# ----------------------------------------------------------------------------------------------
# Symbolic-shape helpers, on plain numbers
# ----------------------------------------------------------------------------------------------
def sym_int(a):
    """int(a), rounding toward zero."""
    return a if isinstance(a, int) else int(math.trunc(a))


def sym_float(a):
    return float(a)


def sym_max(a, b):
    """max(a, b); a float if either is one (as PyTorch's)."""
    out = max(a, b)
    return float(out) if isinstance(a, float) or isinstance(b, float) else out


def sym_min(a, b):
    """min(a, b); a float if either is one (as PyTorch's)."""
    out = min(a, b)
    return float(out) if isinstance(a, float) or isinstance(b, float) else out


def sym_not(a):
    return not a


def sym_sqrt(a):
    return math.sqrt(a)


def sym_ite(b, t, f):
    """t if b else f."""
    return t if b else f


def sym_sum(args):
    """The sum of ``args``, starting from the first (no 0 + for one element)."""
    return sum(args[1:], args[0]) if len(args) else 0


def _assert(condition, message):
    """``assert condition, message`` as a function (PyTorch's traceable form, which
    torchvision's models call): AssertionError(message) when ``condition`` is false; a tensor
    condition is read with ``bool``, so one of several values raises as ``bool`` does."""
    if not condition:
        raise AssertionError(message)


def compiled_with_cxx11_abi() -> bool:
    """PyTorch's question about its C++ build; minigrad has none, and answers as its wheels."""
    return True
