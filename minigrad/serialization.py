"""``minigrad.save`` / ``minigrad.load``: checkpoints in the safetensors format, falling back
to PyTorch's zip format (a pickle, ``_torch_checkpoint_writer``) for objects safetensors cannot
hold; ``load`` also reads what PyTorch's ``torch.save`` wrote (``_torch_checkpoint``).

A safetensors file is an 8-byte little-endian header length, a JSON header (each tensor's
dtype, shape and byte range, plus a ``__metadata__`` dict of strings) and the raw tensor bytes.

What is stored:
  * every Tensor under its key: for a flat ``{name: tensor}`` dict such as a ``state_dict()``
    the keys are kept as they are ('conv1.weight'), so the file loads into the equivalent
    PyTorch model with ``safetensors.torch.load_file``, and a file written by
    ``safetensors.torch.save_file(model.state_dict(), ...)`` loads here;
  * for nested objects (an optimizer's state_dict, ``{'model': ..., 'epoch': 3}``) the
    tensors are stored flat under dotted paths ('optimizer.state.0.exp_avg') and the shape of
    the object, with its non-tensor values (numbers, strings, booleans, None, dtypes, devices,
    Sizes, lists, tuples, dicts with str or int keys), as JSON in
    ``__metadata__['minigrad']``; there too what PyTorch's pickle keeps besides the values:
    which tensors are Parameters or require grad, and a ``state_dict()``'s ``_metadata`` (the
    module versions that wrote it).

Anything else (a whole ``nn.Module``, an optimizer object, a set, a numpy array or scalar, an
object of a class of your own, dict keys other than str and int) is pickled into PyTorch's zip
checkpoint format by ``_torch_checkpoint_writer``: tensors as PyTorch's rebuild calls over
storages (shared memory stays shared), dtypes/devices/Sizes under their ``torch.`` names,
minigrad's classes under their own qualified names.  It loads back with ``weights_only=False``
(the default ``weights_only=True`` refuses a pickled module, naming its class, as
``torch.load`` does), and in PyTorch too when it holds only tensors and containers.

Loading a zip archive (what ``torch.save`` writes since PyTorch 1.6) goes to
``_torch_checkpoint``: it unpickles the archive's ``data.pkl`` as ``torch.load`` does, with
PyTorch's weights_only allowlist by default (plus what ``add_safe_globals`` registered), fully
with ``weights_only=False`` (``torch.*`` classes becoming minigrad's).  PyTorch's legacy
pre-1.6 format (a bare pickle) is refused.

Saving writes a temporary file in the target's directory and renames it over the target
(``os.replace``), so an interrupted save leaves any previous checkpoint intact.  Loading checks
the header and sizes first: an empty, truncated or non-safetensors file raises a ValueError
naming the file (a bare pickle under weights_only: torch.load's UnpicklingError, naming it),
and nothing is returned half-loaded.

The object's JSON tree is made and read back in ``_checkpoint_tree.py``, a safetensors file's
tensors read in ``_safetensors_read.py``.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import struct
import tempfile
from collections import OrderedDict

import numpy as np

from . import _torch_checkpoint, _torch_checkpoint_writer, backend
from .tensor import Tensor
from ._checkpoint_tree import _NotSafetensors, _decode, _encode
from ._safetensors_read import _read_tensors

__all__ = ["save", "load", "add_safe_globals", "clear_safe_globals", "get_safe_globals",
           "safe_globals", "get_unsafe_globals_in_checkpoint"]

_TREE_KEY = "minigrad"
_FORMAT_VERSION = 1


def _safetensors_numpy():
    try:
        import safetensors.numpy
    except ImportError:
        raise ImportError("minigrad.save/minigrad.load need the 'safetensors' package: "
                          "pip install safetensors (or pip install 'minigrad[checkpoint]')") \
            from None
    return safetensors.numpy


def _parse_json(text):
    """json.loads, with a ValueError for nesting deep enough to exhaust the parser's
    recursion (a crafted '[[[[...' header), never a RecursionError."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply to be a checkpoint's") from None


def save(obj, f, pickle_module=None, pickle_protocol=2, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    """Save ``obj`` to ``f`` (a path, or a binary file object).

    A tensor, a state_dict, an optimizer's state_dict or a dict of such things (what
    ``_encode`` can describe) is written in the safetensors format.  Anything else (a whole
    ``nn.Module``, an optimizer object, a dict holding a set, a numpy array or an object of
    your own class) is pickled into PyTorch's zip checkpoint format
    (``_torch_checkpoint_writer``, with ``pickle_protocol``), which ``minigrad.load`` reads
    with weights_only=False (and PyTorch's ``torch.load`` too when it holds only tensors and
    containers).  ``pickle_module`` and the other options of PyTorch are accepted and have no
    effect."""
    tensors = {}
    try:
        tree = _encode(obj, (), tensors)
    except _NotSafetensors:
        tree = None
    if tree is None:
        # safetensors cannot hold it: pickle it now, so that an object pickle refuses (a
        # lambda, a local class) raises before anything is written
        write = _torch_checkpoint_writer.pickle_checkpoint(obj, pickle_protocol).write_zip
    else:
        data = _safetensors_bytes(tree, tensors)

        def write(out, _name):
            out.write(data)
    if hasattr(f, "write"):
        write(f, "archive")
        return
    path = os.fspath(f)
    parent = os.path.dirname(path)
    if parent and not os.path.isdir(parent):
        raise RuntimeError(f"Parent directory {parent} does not exist.")
    if os.path.isdir(path):
        raise RuntimeError(f"minigrad.save: cannot open '{path}' for writing: Is a directory")
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            write(out, _torch_checkpoint_writer.archive_name(path))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _safetensors_bytes(tree, tensors):
    """The safetensors file of ``tensors`` (flat {key: array}) with the JSON ``tree``."""
    st = _safetensors_numpy()
    metadata = {_TREE_KEY: json.dumps({"version": _FORMAT_VERSION, "tree": tree}),
                "format": "pt"}
    # safetensors has complex64 but no complex128: such a tensor is stored as its float64
    # (real, imag) pairs, shape (..., 2), and named in the metadata so that it loads back
    pairs = [k for k, a in tensors.items() if a.dtype == np.complex128]
    if pairs:
        for k in pairs:
            tensors[k] = np.ascontiguousarray(tensors[k]).view(np.float64).reshape(
                tensors[k].shape + (2,))
        metadata[_COMPLEX128_KEY] = json.dumps(pairs)
    return st.save(tensors, metadata=metadata)


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------
_COMPLEX128_KEY = "minigrad_complex128"


def _complex128_keys(header, arrays, name):
    """The keys ``save`` stored as float64 pairs for a complex128 tensor (checked)."""
    listed = (header.get("__metadata__") or {}).get(_COMPLEX128_KEY)
    if listed is None:
        return []
    try:
        keys = _parse_json(listed)
        ok = isinstance(keys, list) and all(
            isinstance(k, str) and k in arrays and arrays[k].dtype == np.float64 and
            arrays[k].ndim and arrays[k].shape[-1] == 2 for k in keys)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"minigrad.load: {name} has damaged minigrad metadata (its list of "
                         f"complex128 tensors)")
    return keys


# how a legacy torch.save file starts: pickle protocol 2, then its magic number as a LONG1
_LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19"


def _what_it_is(head):
    if head.startswith(_LEGACY_TORCH_MAGIC):
        return ("PyTorch's legacy torch.save format (before PyTorch 1.6, or "
                "_use_new_zipfile_serialization=False), which minigrad does not load; re-save "
                "it with torch.save(obj, path) from PyTorch 1.6 or later: its zip archive "
                "loads here")
    if head[:1] == b"\x80":
        return "a Python pickle, which minigrad never loads"
    if head.startswith(b"\x93NUMPY"):
        return "a numpy .npy file"
    return f"it starts with {head[:8]!r}"


def _check_header(data, name):
    """Parse and validate the safetensors header of ``data``; return (header dict)."""
    if len(data) == 0:
        raise ValueError(f"minigrad.load: {name} is empty (0 bytes), not a safetensors "
                         "checkpoint (was the save interrupted?)")
    if len(data) < 8:
        raise ValueError(f"minigrad.load: {name} is too short ({len(data)} bytes) to be a "
                         "safetensors checkpoint (truncated?)")
    (n,) = struct.unpack("<Q", data[:8])
    if (len(data) > 8 and data[8:9] != b"{") or n > 100_000_000:
        raise ValueError(f"minigrad.load: {name} is not a safetensors file "
                         f"({_what_it_is(data[:16])})")
    if 8 + n > len(data):
        raise ValueError(f"minigrad.load: {name} is truncated: its header says {n} header "
                         f"bytes but the file has {len(data) - 8} after the length (was the "
                         "save interrupted?)")
    try:
        header = _parse_json(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:      # JSONDecodeError is a ValueError
        raise ValueError(f"minigrad.load: {name} is not a safetensors file (its header is not "
                         f"valid JSON: {exc}; {_what_it_is(data[:16])})") from None
    if not isinstance(header, dict):
        raise ValueError(f"minigrad.load: {name} is not a safetensors file (bad header)")
    metadata = header.get("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError(f"minigrad.load: {name} has a malformed __metadata__ (safetensors "
                         "allows a dict of strings only)")
    end = 0
    for key, info in header.items():
        if key == "__metadata__":
            continue
        try:
            kind, shape, (begin, stop) = info["dtype"], info["shape"], info["data_offsets"]
            if not (isinstance(kind, str) and isinstance(shape, list) and
                    all(type(x) is int and x >= 0 for x in shape + [begin, stop])
                    and begin <= stop):
                raise ValueError
        except (TypeError, KeyError, ValueError):
            raise ValueError(f"minigrad.load: {name} has a malformed header entry for "
                             f"'{key}': {str(info)[:200]} (expected dtype, shape and "
                             "data_offsets [begin, end] of non-negative ints)") from None
        end = max(end, stop)
    available = len(data) - 8 - n
    if end > available:
        raise ValueError(f"minigrad.load: {name} is truncated: its tensors need {end} bytes of "
                         f"data but the file holds {available} (was the save interrupted?)")
    return header


def _target_device(map_location):
    if map_location is None:
        return backend.cpu
    if callable(map_location) and not isinstance(map_location, (str, backend.Device)):
        return backend.cpu          # a function: load applies it to each tensor read
    if isinstance(map_location, dict):
        # {'cuda:0': 'cpu'}: safetensors keeps no device, so the target of the mapping applies
        targets = set(map_location.values())
        if len(targets) != 1:
            raise ValueError("minigrad.load: a map_location dict must map to one device "
                             "(safetensors files do not record where tensors were)")
        map_location = targets.pop()
    return backend.device(map_location)


def _read_all(f):
    """(a name for messages, the bytes) of ``f``, a path or a binary file object."""
    if hasattr(f, "read"):
        return repr(getattr(f, "name", "<file object>")), f.read()
    with open(f, "rb") as fh:
        return f"'{os.fspath(f)}'", fh.read()


def load(f, map_location=None, weights_only=True, **kwargs):
    """Load what ``minigrad.save`` wrote (or any safetensors file), or what PyTorch's
    ``torch.save`` wrote (its zip format; see ``_torch_checkpoint``), from ``f`` (a path or a
    binary file object).

    Tensors come back on the CPU, or on ``map_location`` ('cuda', 'cuda:1', a device, a
    dict {'cuda:0': 'cpu'}, or a function called as fn(tensor, 'cpu') on each tensor).  A
    file without minigrad's metadata (written by ``safetensors.torch.save_file``...) gives an
    OrderedDict name -> tensor in file order.  ``weights_only`` matters for torch.save's files
    only (safetensors files hold no pickle): True (the default) allows what PyTorch's
    weights_only loader allows, False unpickles everything (trusted files only).  Other
    keyword arguments (``mmap``...) are accepted and read the file the same way.  Reading a
    safetensors file needs no package: the format is parsed here, so that dtypes minigrad
    lacks can be widened (float8, with a warning) or refused by name.  For a
    torch.save file, a function ``map_location`` is called as fn(storage, location) with
    each storage's saved location ('cpu', 'cuda:0'), a tensor over the storage standing
    in for it.
    """
    name, data = _read_all(f)
    if data.startswith(_torch_checkpoint.ZIP_MAGIC):          # written by torch.save
        return _torch_checkpoint.load_zip(io.BytesIO(data), name, map_location,
                                          weights_only, _safe_globals)
    if weights_only is not False and data[:1] == b"\x80" and data[8:9] != b"{" and \
            not data.startswith(_LEGACY_TORCH_MAGIC):
        _torch_checkpoint.refuse_bare_pickle(name)      # (weights_only=False: a ValueError)
    header = _check_header(data, name)
    arrays = _read_tensors(data, header, name)
    for k in _complex128_keys(header, arrays, name):
        arrays[k] = np.ascontiguousarray(arrays[k]).view(np.complex128)[..., 0]
    device = _target_device(map_location)
    tensors = {k: Tensor._wrap(a if device.type == "cpu" else backend.to_device(a, device))
               for k, a in arrays.items()}
    if callable(map_location) and not isinstance(map_location, (str, backend.Device, dict)):
        # PyTorch calls it as fn(storage, location) with each storage saved on the CPU; here
        # each tensor stands in for its storage ('lambda storage, loc: storage' keeps it on
        # the CPU, '... storage.cuda()' moves it); None keeps the tensor where it was read
        for k, t in tensors.items():
            moved = map_location(t, "cpu")
            if moved is not None:
                tensors[k] = moved
    metadata = header.get("__metadata__") or {}
    if _TREE_KEY in metadata:
        try:
            tree = _parse_json(metadata[_TREE_KEY])["tree"]
            return _decode(tree, tensors)
        except (KeyError, TypeError, ValueError) as exc:   # a crafted tree: never a traceback
            raise ValueError(f"minigrad.load: {name} has damaged minigrad metadata "
                             f"({type(exc).__name__}: {str(exc)[:200]})") from None
    order = sorted((k for k in header if k != "__metadata__"),
                   key=lambda k: header[k]["data_offsets"][0])
    return OrderedDict((k, tensors[k]) for k in order)


# ----------------------------------------------------------------------------------------------
# PyTorch's allowlist for its weights_only unpickler: the globals, besides tensors and
# containers, that loading a torch.save checkpoint with weights_only=True may build (a
# safetensors checkpoint holds no pickle, so there it changes nothing).
# ----------------------------------------------------------------------------------------------
_safe_globals = []


def add_safe_globals(safe_globals):
    """Add classes or functions (or ``(obj, "module.name")`` pairs) to the allowlist, as
    ``torch.serialization.add_safe_globals``: a torch.save checkpoint naming them then loads
    with weights_only=True (a minigrad class also allows its ``torch.`` name)."""
    for item in safe_globals:
        if item not in _safe_globals:
            _safe_globals.append(item)


def clear_safe_globals():
    """Empty the allowlist."""
    _safe_globals.clear()


def get_safe_globals():
    """The allowlist, as a new list."""
    return list(_safe_globals)


@contextlib.contextmanager
def safe_globals(safe_globals):
    """The allowlist with ``safe_globals`` added, for a ``with`` block; the old one after."""
    saved = list(_safe_globals)
    add_safe_globals(safe_globals)
    try:
        yield
    finally:
        _safe_globals[:] = saved


def get_unsafe_globals_in_checkpoint(f):
    """The globals a checkpoint would need that are not allowlisted ('module.name' strings):
    those of a torch.save file's pickle; none for safetensors files, which hold no pickle.
    ``f`` must be a checkpoint minigrad.load reads (a ValueError naming what it is
    otherwise)."""
    name, data = _read_all(f)
    if data.startswith(_torch_checkpoint.ZIP_MAGIC):
        return _torch_checkpoint.unsafe_globals(io.BytesIO(data), name, _safe_globals)
    _check_header(data, name)
    return []
