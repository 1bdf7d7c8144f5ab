"""Reading checkpoints written by PyTorch's ``torch.save`` (its zip format, torch >= 1.6).

Such a file is a zip archive with one top folder ``<archive>/`` holding:
  * ``data.pkl``: a pickle of the saved object, in which each tensor is a call of a rebuild
    function (``torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
    requires_grad, backward_hooks[, metadata])``, ``_rebuild_tensor_v3`` with the dtype after
    the hooks, ``_rebuild_parameter(tensor, requires_grad, hooks)``...) and each storage a
    persistent id ``('storage', storage type, key, location, numel)``;
  * ``data/<key>``: the raw bytes of that storage (``byteorder`` says their endianness);
  * ``version``, ``.format_version``... which the reader does not need.

Each storage is read once into a 1-d array; every tensor on it is a strided view of that
array, so that tensors that shared memory when saved (a tied weight, a slice and its whole)
share it again, with their sizes, strides and offsets.

``weights_only=True`` unpickles with an allowlist: tensors, Parameters, storages, dtypes,
devices, Sizes, the containers and scalars pickle builds natively, OrderedDict, Counter, set,
complex, bytes and bytearray, and whatever ``add_safe_globals`` registered; any other global is
refused with ``pickle.UnpicklingError`` naming it.  ``weights_only=False`` unpickles fully,
resolving each ``torch.<path>.<Name>`` to ``minigrad.<path>.<Name>`` (or the nearest minigrad
package that exports ``Name``), so that a whole saved ``nn.Module`` comes back as minigrad's.
"""
from __future__ import annotations

import importlib
import pickle
import pickletools
import zipfile

import numpy as np

from . import backend, dtypes
from .nn.parameter import Parameter
from .tensor import Tensor

__all__ = ["ZIP_MAGIC", "load_zip", "unsafe_globals"]

ZIP_MAGIC = b"PK\x03\x04"

# the legacy typed storage classes PyTorch pickles, by the dtype of their elements
_STORAGE_DTYPES = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "ByteStorage": "uint8", "CharStorage": "int8",
    "ShortStorage": "int16", "IntStorage": "int32", "LongStorage": "int64",
    "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128"}
# dtypes of torch that minigrad lacks (loading one names it)
_TORCH_ONLY_DTYPES = frozenset(
    ["complex32", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz",
     "float8_e8m0fnu", "float4_e2m1fn_x2", "qint8", "qint32", "quint8", "quint4x2",
     "quint2x4", "bits1x8", "bits2x4", "bits4x2", "bits8", "bits16"]
    + [f"int{n}" for n in range(1, 8)] + [f"uint{n}" for n in range(1, 8)])


# what PyTorch's weights_only unpickler lets through besides the registered safe globals
_REBUILDERS = ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3",
               "_rebuild_parameter", "_rebuild_parameter_with_state")
_ALLOWED = frozenset(
    ["_codecs.encode", "builtins.bytearray", "builtins.complex", "builtins.set",
     "collections.Counter", "collections.OrderedDict", "torch.Size", "torch.Tensor",
     "torch.device", "torch.nn.parameter.Parameter", "torch._tensor._rebuild_from_type_v2",
     "torch.serialization._get_layout", "torch.storage.UntypedStorage",
     "torch.storage.TypedStorage"]
    + [f"torch._utils.{n}" for n in _REBUILDERS]
    + [f"torch.{n}" for n in _STORAGE_DTYPES] + [f"torch.cuda.{n}" for n in _STORAGE_DTYPES]
    # (the dtypes minigrad lacks too: loading one then names it, see find_class)
    + [f"torch.{n}" for n in [*dtypes._BY_NAME, *_TORCH_ONLY_DTYPES]])


class _StorageType:
    """What a pickled storage class (``torch.FloatStorage``, ``torch.storage.UntypedStorage``)
    stands for: the dtype of its elements (None: untyped bytes, typed by the tensor)."""

    def __init__(self, dtype_name):
        self.dtype_name = dtype_name


class _Storage:
    """One storage of the checkpoint, read: its elements as a 1-d array (on the target
    device) and a tensor over that array, the base of every tensor viewing it."""

    def __init__(self, array):
        self.array = array
        self.base = Tensor._wrap(array)


def _name(module, name):
    # protocol-2 pickles name the builtins module by its Python 2 name
    module = {"__builtin__": "builtins", "copy_reg": "copyreg"}.get(module, module)
    return module, f"{module}.{name}"


def _registered(full_name, safe_globals):
    """The object of ``safe_globals`` (what ``add_safe_globals`` registered) named
    ``full_name``, or None.  A class registered from minigrad (``minigrad.nn.Linear``) also
    allows its torch name."""
    from_torch = "minigrad" + full_name[5:] if full_name.startswith("torch.") else None
    for item in safe_globals:
        obj, name = item if isinstance(item, tuple) else (item, None)
        if name is None:
            name = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
        if name in (full_name, from_torch):
            return obj
    return None


def _refuse(full_name):
    # PyTorch's words: the first sentence and the WeightsUnpickler line as torch.load words
    # them (the lines between, on its own release history, said in ours)
    raise pickle.UnpicklingError(
        "Weights only load failed. This file can still be loaded with weights_only=False, "
        "but only do that if you trust the source of the checkpoint: unpickling it can run "
        "arbitrary code. To load it with weights_only=True instead, follow the steps below."
        f"\n\tWeightsUnpickler error: Unsupported global: GLOBAL {full_name} was not an "
        "allowed global by default. Please use "
        f"`minigrad.serialization.add_safe_globals([{full_name}])` or the "
        f"`minigrad.serialization.safe_globals([{full_name}])` context manager to allowlist "
        "this global if you trust this class/function.")


def _minigrad_equivalent(module, name):
    """minigrad's object for PyTorch's ``module.name``: the same path under ``minigrad``, else
    ``name`` as exported by the nearest enclosing minigrad package; AttributeError if none."""
    parts = ["minigrad"] + module.split(".")[1:]
    while parts:
        try:
            found = importlib.import_module(".".join(parts))
        except ImportError:
            found = None
        if found is not None and hasattr(found, name):
            return getattr(found, name)
        parts.pop()
    raise AttributeError(f"minigrad.load: the checkpoint needs {module}.{name}, which minigrad "
                         "has no equivalent of (save and load the state_dict() instead)")


class _Unpickler(pickle.Unpickler):
    """Unpickles ``data.pkl``: storages come from the zip, torch's globals map to minigrad's."""

    def __init__(self, file, archive, prefix, weights_only, safe_globals, place):
        super().__init__(file)
        self._archive, self._prefix = archive, prefix
        self._weights_only, self._safe_globals, self._place = weights_only, safe_globals, place
        self._storages = {}
        self._big_endian = _read_text(archive, prefix + "byteorder", "little") == "big"

    # -- globals --------------------------------------------------------------------------------
    def find_class(self, module, name):
        module, full = _name(module, name)
        if self._weights_only and full not in _ALLOWED:
            obj = _registered(full, self._safe_globals)
            if obj is None:
                _refuse(full)
            return obj
        if module == "torch._utils" and name in _REBUILDERS:
            return getattr(self, name)
        if full == "torch._tensor._rebuild_from_type_v2":
            return _rebuild_from_type_v2
        if full == "torch.serialization._get_layout":
            return _get_layout
        if module in ("torch", "torch.storage", "torch.cuda") and (
                name in _STORAGE_DTYPES or name in ("UntypedStorage", "TypedStorage")):
            return _StorageType(_STORAGE_DTYPES.get(name))
        if module == "torch" and name in _TORCH_ONLY_DTYPES:
            raise RuntimeError(f"minigrad.load: the checkpoint holds a tensor of dtype "
                               f"torch.{name}, which minigrad cannot represent")
        if module == "torch" or module.startswith("torch."):
            return _minigrad_equivalent(module, name)
        return super().find_class(module, name)

    # -- storages -------------------------------------------------------------------------------
    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"minigrad.load: unexpected persistent id {pid!r:.80} "
                                         "(expected ('storage', type, key, location, numel))")
        _, kind, key, location, numel = pid
        if key not in self._storages:
            self._storages[key] = self._read_storage(kind, str(key), str(location), numel)
        return self._storages[key]

    def _read_storage(self, kind, key, location, numel):
        """The storage ``key``: numel elements of its dtype (bytes when untyped)."""
        dtype = np.dtype(np.uint8) if kind.dtype_name is None else \
            dtypes._BY_NAME[kind.dtype_name].np
        try:
            raw = bytearray(self._archive.read(f"{self._prefix}data/{key}"))
        except KeyError:
            raise RuntimeError(f"minigrad.load: the checkpoint is damaged: it has no data for "
                               f"storage '{key}'") from None
        if len(raw) != numel * dtype.itemsize:
            raise RuntimeError(f"minigrad.load: the checkpoint is damaged: storage '{key}' "
                               f"holds {len(raw)} bytes, {numel} elements of {dtype} need "
                               f"{numel * dtype.itemsize}")
        array = np.frombuffer(raw, dtype=dtype)          # writable: it views the bytearray
        if self._big_endian and dtype.itemsize > 1:
            array = _from_big_endian(array)
        return _Storage(self._place(array, location))

    # -- tensors --------------------------------------------------------------------------------
    def _rebuild_tensor(self, storage, offset, size, stride):
        return _view(storage, None, offset, size, stride)

    def _rebuild_tensor_v2(self, storage, offset, size, stride, requires_grad, hooks,
                           metadata=None):
        t = _view(storage, None, offset, size, stride)
        if requires_grad and t.is_floating_point():
            t.requires_grad_(True)
        return t

    def _rebuild_tensor_v3(self, storage, offset, size, stride, requires_grad, hooks, dtype,
                           metadata=None):
        t = _view(storage, dtype, offset, size, stride)
        if requires_grad and t.is_floating_point():
            t.requires_grad_(True)
        return t

    def _rebuild_parameter(self, data, requires_grad, hooks):
        param = Parameter(data, requires_grad=requires_grad)
        param._base = data._base            # still a view of the storage it was saved on
        return param

    def _rebuild_parameter_with_state(self, data, requires_grad, hooks, state):
        param = self._rebuild_parameter(data, requires_grad, hooks)
        _set_state(param, state)
        return param


def _from_big_endian(array):
    """``array``'s bytes read as big-endian elements (a bfloat16 or complex one included)."""
    swapped = array.view(np.uint8).reshape(-1, array.itemsize)[:, ::-1]
    if array.dtype.kind == "c":                 # each half of a complex swaps separately
        half = array.itemsize // 2
        swapped = array.view(np.uint8).reshape(-1, 2, half)[:, :, ::-1]
    return np.ascontiguousarray(swapped).reshape(-1).view(array.dtype)


def _view(storage, dtype, offset, size, stride):
    """The tensor ``size``/``stride`` at element ``offset`` of ``storage``, sharing its memory
    (of ``dtype`` when the storage is untyped bytes); checked to lie inside the storage."""
    array = storage.array
    if dtype is not None and array.dtype != dtype.np:
        array = array.view(dtype.np)
    size, stride = tuple(int(n) for n in size), tuple(int(s) for s in stride)
    if len(size) != len(stride) or offset < 0 or any(n < 0 for n in size) or \
            any(s < 0 for s in stride):
        raise RuntimeError(f"minigrad.load: the checkpoint is damaged: a tensor has size "
                           f"{list(size)}, stride {list(stride)}, offset {offset}")
    last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else offset - 1
    if last >= array.shape[0]:
        raise RuntimeError(f"minigrad.load: the checkpoint is damaged: a tensor of size "
                           f"{list(size)}, stride {list(stride)} at offset {offset} reaches "
                           f"past its storage of {array.shape[0]} elements")
    xp = backend.xp_of(array)
    item = array.itemsize
    view = xp.lib.stride_tricks.as_strided(array[offset:] if array.shape[0] else array, size,
                                           tuple(s * item for s in stride))
    t = Tensor._wrap(view)
    whole = offset == 0 and view.size == array.shape[0] and view.flags.c_contiguous
    if not whole:
        # a slice or a strided view of a storage: its storage (offset, untyped_storage()) is
        # the whole block, as in PyTorch
        t._base = storage.base if array is storage.array else Tensor._wrap(array)
    return t


def _set_state(obj, state):
    """Restore what was pickled beside a tensor (its Python attributes)."""
    if state is None:
        return
    if hasattr(obj, "__setstate__") and not isinstance(obj, Tensor):
        obj.__setstate__(state)
        return
    slots = None
    if isinstance(state, tuple) and len(state) == 2:
        state, slots = state
    for k, v in list((state or {}).items()) + list((slots or {}).items()):
        setattr(obj, k, v)


def _rebuild_from_type_v2(func, new_type, args, state):
    """A tensor pickled with Python attributes or as a subclass: rebuild it, then set them."""
    t = func(*args)
    if isinstance(new_type, type) and issubclass(new_type, Tensor) and type(t) is not new_type:
        t = t.as_subclass(new_type) if hasattr(t, "as_subclass") else t
    _set_state(t, state)
    return t


def _get_layout(name):
    layouts = {"torch.strided": "strided", "torch.sparse_coo": "sparse_coo",
               "torch.sparse_csr": "sparse_csr"}
    return _minigrad_equivalent("torch", layouts.get(name, name.rsplit(".", 1)[-1]))


def _read_text(archive, member, default):
    try:
        return archive.read(member).decode("ascii", "replace").strip()
    except KeyError:
        return default


# the newest and oldest format versions PyTorch 2.13 reads (its ``version`` record)
_NEWEST_VERSION, _OLDEST_VERSION = 10, 1


def _check_version(archive, name):
    """PyTorch's reader's first checks, with its errors: the archive (named by its first
    member's folder) has a ``version`` record, a number from 1 to 10. (A zip with a data.pkl
    but no version record is read all the same.)"""
    names = archive.namelist()
    folder = names[0].split("/", 1)[0] + "/" if names else ""
    record = next((folder + r for r in (".data/version", "version") if folder + r in names),
                  None)
    if record is None and not any(n.endswith("data.pkl") and n.count("/") == 1
                                  for n in names):
        raise RuntimeError(f'Expected hasRecord("version") to be true, but got false.  '
                           f'(minigrad.load: {name} is a zip archive but not a torch.save '
                           f'checkpoint)')
    if record is None:
        return
    text = archive.read(record).decode("latin-1")
    try:
        version = int(text)
    except ValueError:
        raise RuntimeError(f"[enforce fail at inline_container.cc:215] . Couldn't parse the "
                           f"version {text} as Long Long.") from None
    if version < _OLDEST_VERSION:
        raise RuntimeError(f"[enforce fail at inline_container.cc:219] . Attempted to read a "
                           f"PyTorch file with version {version}, but the minimum supported "
                           f"version for reading is {_OLDEST_VERSION}. (minigrad.load: {name} "
                           f"is too old to read)")
    if version > _NEWEST_VERSION:
        raise RuntimeError(f"[enforce fail at inline_container.cc:230] . Attempted to read a "
                           f"PyTorch file with version {version}, but the maximum supported "
                           f"version for reading is {_NEWEST_VERSION}. (minigrad.load: {name} "
                           f"was written by a newer PyTorch)")


def _data_pkl(archive, name):
    """The path of ``<archive>/data.pkl`` in the zip and its folder prefix."""
    for member in archive.namelist():
        if member.endswith("data.pkl") and member.count("/") == 1:
            return member, member[:-len("data.pkl")]
    raise RuntimeError(f"PytorchStreamReader failed locating file data.pkl: file not found "
                       f"(minigrad.load: {name} is a zip archive but not a torch.save "
                       f"checkpoint: it has no <archive>/data.pkl)")


def _placer(map_location):
    """``place(array, location)``: the storage ``array`` saved on ``location`` ('cpu',
    'cuda:0'), moved where ``map_location`` says (None: where it was saved; a device or its
    name; a dict {saved location: target}; a function called as fn(storage, location), a
    tensor over the storage's elements standing in for the storage, returning None to keep
    the default placement or the moved tensor)."""
    def place(array, location):
        target = location
        if isinstance(map_location, dict):
            target = map_location.get(location, location)
        elif callable(map_location) and not isinstance(map_location, (str, backend.Device)):
            moved = map_location(Tensor._wrap(array), location)
            if isinstance(moved, Tensor):
                return moved._array.reshape(-1)
        elif map_location is not None:
            target = map_location
        try:
            device = backend.device(target)
            return array if device.type == "cpu" else backend.to_device(array, device)
        except RuntimeError as exc:
            raise RuntimeError(f"minigrad.load: the checkpoint holds tensors saved on "
                               f"'{location}', which cannot be placed on {target} here "
                               f"({exc}); pass map_location='cpu' (or "
                               "minigrad.device('cpu')) to load them on the CPU") from None
    return place


def load_zip(file, name, map_location, weights_only, safe_globals):
    """The object of the torch.save zip checkpoint ``file`` (a seekable binary file), its
    tensors placed by ``map_location`` (see ``_placer``); ``safe_globals``: the globals
    ``add_safe_globals`` allowed for ``weights_only`` loading (None: True, PyTorch's
    default)."""
    weights_only = True if weights_only is None else bool(weights_only)
    try:
        archive = zipfile.ZipFile(file)
    except zipfile.BadZipFile as exc:
        # PyTorch's reader's words: under 22 bytes (a zip's end record) it is no archive
        size = file.seek(0, 2)
        what = "not a ZIP archive" if size < 22 else "failed finding central directory"
        raise RuntimeError(f"PytorchStreamReader failed reading zip archive: {what} "
                           f"(minigrad.load: {name} looks like a zip archive but cannot be "
                           f"read: {exc}; was the save interrupted?)") from None
    with archive:
        _check_version(archive, name)
        member, prefix = _data_pkl(archive, name)
        with archive.open(member) as pkl:
            return _Unpickler(pkl, archive, prefix, weights_only, safe_globals,
                              _placer(map_location)).load()


def unsafe_globals(file, name, safe_globals):
    """The globals the checkpoint's pickle names that weights_only loading would refuse."""
    try:
        archive = zipfile.ZipFile(file)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"minigrad.serialization.get_unsafe_globals_in_checkpoint: {name} is "
                         f"not a safetensors file nor a readable torch.save zip archive "
                         f"({exc})") from None
    with archive:
        member, _ = _data_pkl(archive, name)
        data = archive.read(member)
    found, strings = [], []
    for opcode, arg, _ in pickletools.genops(data):
        if opcode.name in ("GLOBAL", "STACK_GLOBAL"):
            module, attr = arg.split(" ", 1) if arg else (strings[-2:] + ["", ""])[:2]
            full = _name(module, attr)[1]
            allowed = full in _ALLOWED or _registered(full, safe_globals) is not None
            if not allowed and full not in found:
                found.append(full)
        elif opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
    return found


def refuse_bare_pickle(name):
    """A bare pickle given to ``load`` with weights_only: torch.load's UnpicklingError (its
    weights_only unpickler fails on one); minigrad never unpickles it."""
    raise pickle.UnpicklingError(
        f"Weights only load failed. (minigrad.load: {name} is a bare Python pickle, not a "
        f"checkpoint written by torch.save or minigrad.save; minigrad never unpickles one)")
