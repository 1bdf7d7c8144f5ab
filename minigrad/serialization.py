"""``minigrad.save`` / ``minigrad.load``: checkpoints in the safetensors format, never pickle.

A safetensors file is an 8-byte little-endian header length, a JSON header (each tensor's
dtype, shape and byte range, plus a ``__metadata__`` dict of strings) and the raw tensor bytes.

What is stored:
  * every Tensor under its key: for a flat ``{name: tensor}`` dict such as a ``state_dict()``
    the keys are kept as they are ('conv1.weight'), so the file loads into the equivalent
    PyTorch model with ``safetensors.torch.load_file``, and a file written by
    ``safetensors.torch.save_file(model.state_dict(), ...)`` loads here;
  * for nested objects (an optimizer's state_dict, ``{'model': ..., 'epoch': 3}``) the
    tensors are stored flat under dotted paths ('optimizer.state.0.exp_avg') and the shape of
    the object, with its non-tensor values (numbers, strings, booleans, None, lists, tuples,
    dicts with str or int keys), as JSON in ``__metadata__['minigrad']``.

Saving writes a temporary file in the target's directory and renames it over the target
(``os.replace``), so an interrupted save leaves any previous checkpoint intact.  Loading checks
the header and sizes first: an empty, truncated or non-safetensors file raises a ValueError
naming the file, and nothing is returned half-loaded.
"""
from __future__ import annotations

import json
import os
import struct
import tempfile
from collections import OrderedDict

import numpy as np

from . import backend
from .tensor import Tensor

__all__ = ["save", "load"]

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


# ----------------------------------------------------------------------------------------------
# Encoding: object -> (flat {key: array}, JSON tree)
# ----------------------------------------------------------------------------------------------
def _describe(path):
    return "".join(f"[{p!r}]" for p in path) or "the top level"


def _encode(obj, path, tensors):
    """The JSON tree of ``obj``; its tensors go into ``tensors`` under dotted keys."""
    if isinstance(obj, Tensor):
        key = ".".join(str(p) for p in path) or "tensor"
        base, n = key, 1
        while key in tensors:      # only for odd nestings such as {'a.b': x, 'a': {'b': y}}
            key, n = f"{base}#{n}", n + 1
        array = backend.as_numpy(obj._array)
        # (not np.ascontiguousarray: it turns a 0-d array into shape (1,))
        tensors[key] = array if array.flags.c_contiguous else array.copy(order="C")
        return {"t": key}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise TypeError(f"minigrad.save: dict keys must be str or int, got "
                                f"{type(k).__name__} {k!r} at {_describe(path)}")
            items.append([k, _encode(v, path + (k,), tensors)])
        return {"d": items, "o": isinstance(obj, OrderedDict)}
    if isinstance(obj, (list, tuple)):
        kind = "l" if isinstance(obj, list) else "u"
        return {kind: [_encode(v, path + (i,), tensors) for i, v in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"v": obj}
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return {"v": obj.item()}
    from .nn.modules.module import Module
    hint = (" (save its state_dict() instead: minigrad.save(model.state_dict(), path))"
            if isinstance(obj, Module) else
            " (save its state_dict() instead)" if hasattr(obj, "state_dict") else "")
    raise TypeError(f"minigrad.save cannot store a {type(obj).__name__} at {_describe(path)}"
                    f"{hint}: a checkpoint holds tensors, and numbers, strings, booleans, None, "
                    "lists, tuples and dicts around them (no pickle)")


def _decode(tree, tensors):
    if "t" in tree:
        return tensors[tree["t"]]
    if "d" in tree:
        items = [(k, _decode(v, tensors)) for k, v in tree["d"]]
        return OrderedDict(items) if tree.get("o") else dict(items)
    if "l" in tree:
        return [_decode(v, tensors) for v in tree["l"]]
    if "u" in tree:
        return tuple(_decode(v, tensors) for v in tree["u"])
    return tree["v"]


def save(obj, f):
    """Save a tensor, a state_dict, an optimizer's state_dict or a dict of such things to
    ``f`` (a path, or a binary file object) in the safetensors format."""
    st = _safetensors_numpy()
    tensors = {}
    tree = _encode(obj, (), tensors)
    metadata = {_TREE_KEY: json.dumps({"version": _FORMAT_VERSION, "tree": tree}),
                "format": "pt"}
    data = st.save(tensors, metadata=metadata)
    if hasattr(f, "write"):
        f.write(data)
        return
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------
def _what_it_is(head):
    if head.startswith(b"PK\x03\x04"):
        return ("a zip archive: files written by torch.save are pickles inside a zip, which "
                "minigrad does not load; re-save it with safetensors.torch.save_file("
                "model.state_dict(), path)")
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
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"minigrad.load: {name} is not a safetensors file (its header is not "
                         f"valid JSON: {exc}; {_what_it_is(data[:16])})") from None
    if not isinstance(header, dict):
        raise ValueError(f"minigrad.load: {name} is not a safetensors file (bad header)")
    end = 0
    for key, info in header.items():
        if key == "__metadata__":
            continue
        try:
            end = max(end, int(info["data_offsets"][1]))
        except (TypeError, KeyError, IndexError, ValueError):
            raise ValueError(f"minigrad.load: {name} has a malformed header entry for "
                             f"'{key}'") from None
    available = len(data) - 8 - n
    if end > available:
        raise ValueError(f"minigrad.load: {name} is truncated: its tensors need {end} bytes of "
                         f"data but the file holds {available} (was the save interrupted?)")
    return header


def _target_device(map_location):
    if map_location is None:
        return backend.cpu
    if callable(map_location) and not isinstance(map_location, (str, backend.Device)):
        raise TypeError("minigrad.load: map_location must be a device ('cpu', 'cuda', "
                        "'cuda:1', a minigrad.device) or a dict {'from': 'to'}, not a function")
    if isinstance(map_location, dict):
        # {'cuda:0': 'cpu'}: safetensors keeps no device, so the target of the mapping applies
        targets = set(map_location.values())
        if len(targets) != 1:
            raise ValueError("minigrad.load: a map_location dict must map to one device "
                             "(safetensors files do not record where tensors were)")
        map_location = targets.pop()
    return backend.device(map_location)


def load(f, map_location=None, weights_only=True, **kwargs):
    """Load what ``minigrad.save`` wrote (or any safetensors file) from ``f`` (a path or a
    binary file object).

    Tensors come back on the CPU, or on ``map_location`` ('cuda', 'cuda:1', a device).  A
    file without minigrad's metadata (written by ``safetensors.torch.save_file``...) gives an
    OrderedDict name -> tensor in file order.  ``weights_only`` is accepted for PyTorch
    compatibility: minigrad never unpickles anything.
    """
    st = _safetensors_numpy()
    if hasattr(f, "read"):
        name, data = repr(getattr(f, "name", "<file object>")), f.read()
    else:
        name = f"'{os.fspath(f)}'"
        with open(f, "rb") as fh:
            data = fh.read()
    header = _check_header(data, name)
    try:
        arrays = st.load(data)
    except Exception as exc:  # safetensors' own SafetensorError, dtype errors...
        raise ValueError(f"minigrad.load: could not read {name} as safetensors: "
                         f"{type(exc).__name__}: {exc}") from None
    device = _target_device(map_location)
    tensors = {k: Tensor._wrap(a if device.type == "cpu" else backend.to_device(a, device))
               for k, a in arrays.items()}
    metadata = header.get("__metadata__") or {}
    if _TREE_KEY in metadata:
        try:
            tree = json.loads(metadata[_TREE_KEY])["tree"]
            return _decode(tree, tensors)
        except (KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
            raise ValueError(f"minigrad.load: {name} has damaged minigrad metadata "
                             f"({type(exc).__name__}: {exc})") from None
    order = sorted((k for k in header if k != "__metadata__"),
                   key=lambda k: header[k]["data_offsets"][0])
    return OrderedDict((k, tensors[k]) for k in order)
