"""How ``minigrad.save`` lays a checkpoint's object out for safetensors, and how ``load`` builds
it back: the tensors flat under dotted keys, the rest of the object (its numbers, strings,
containers, which tensors are Parameters or require grad, a ``state_dict()``'s ``_metadata``)
as a JSON tree (``_encode``, ``_decode``); ``_NotSafetensors`` when the object holds what
safetensors cannot, which ``save`` then pickles.
"""
from __future__ import annotations

import json
from collections import OrderedDict

import numpy as np

from . import _torch_checkpoint_writer, backend, dtypes
from .nn.parameter import (Parameter, UninitializedBuffer, UninitializedParameter,
                           UninitializedTensorMixin)
from .tensor import Size, Tensor

_MAX_DEPTH = 200        # nesting levels a checkpoint's object may have (deeper is crafted)


def _describe(path):
    return "".join(f"[{p!r}]" for p in path) or "the top level"


def _encode(obj, path, tensors, seen=None, blocks=None):
    """The JSON tree of ``obj``; its tensors go into ``tensors`` under dotted keys.  A tensor
    met again (the same object) is stored under each of its keys (so that every name of a
    flat dict is in the file for other readers), its later nodes naming the first key
    (``"same"``): it loads back as one object, as PyTorch's pickle keeps it (``seen``: id ->
    the first key).  Two different tensors over the same memory (a tensor and a view of it)
    raise ``_NotSafetensors``: safetensors would store two copies, while PyTorch's pickle
    (``save``'s fallback) keeps them sharing (``blocks``: id of a memory block's owner -> the
    arrays met over it)."""
    if seen is None:
        seen, blocks = {}, {}
    if len(path) > _MAX_DEPTH:
        raise ValueError(f"minigrad.save: the object is nested more than {_MAX_DEPTH} levels "
                         f"deep at {_describe(path[:3])}... (a self-referencing list or dict?)")
    if isinstance(obj, UninitializedTensorMixin):
        # a lazy layer's placeholder (no shape, no data): kept a placeholder, as PyTorch's
        # pickle keeps it, so that a loaded lazy layer stays lazy
        return {"lazy": "p" if isinstance(obj, Parameter) else "b", "dt": obj.dtype.name,
                "rg": bool(obj.requires_grad)}
    if isinstance(obj, Tensor):
        key = ".".join(str(p) for p in path) or "tensor"
        base, n = key, 1
        while key in tensors:      # only for odd nestings such as {'a.b': x, 'a': {'b': y}}
            key, n = f"{base}#{n}", n + 1
        array = backend.as_numpy(obj._array)
        if not array.flags.c_contiguous or (array.size and (
                obj.storage_offset() or obj.untyped_storage().nbytes() != array.nbytes)):
            # a layout of its own (a transpose, a slice of a larger block, an expanded or a
            # channels-last tensor): PyTorch's pickle keeps its strides, offset and storage
            raise _NotSafetensors
        if id(obj) not in seen:
            _check_unshared(array, blocks, path)
        # (not np.ascontiguousarray: it turns a 0-d array into shape (1,))
        tensors[key] = array if array.flags.c_contiguous else array.copy(order="C")
        node = {"t": key}
        if isinstance(obj, Parameter):          # comes back a Parameter, as in PyTorch
            node["p"] = bool(obj.requires_grad)
        elif obj.requires_grad:
            node["rg"] = True
        if id(obj) in seen:
            node["same"] = seen[id(obj)]
        else:
            seen[id(obj)] = key
        return node
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise _NotSafetensors(f"a {type(k).__name__} dict key at {_describe(path)}")
            items.append([k, _encode(v, path + (k,), tensors, seen, blocks)])
        node = {"d": items, "o": isinstance(obj, OrderedDict)}
        meta = _metadata_of(obj)
        if meta is not None:
            node["m"] = meta
        return node
    # what PyTorch's weights_only loader also lets through: a shape, a dtype, a device
    # (configs and checkpoints keep {'dtype': torch.float16, 'shape': x.shape})
    if isinstance(obj, Size):
        return {"sz": [int(n) for n in obj]}
    if isinstance(obj, dtypes.DType):
        return {"dt": obj.name}
    if isinstance(obj, backend.Device):
        return {"dev": str(obj)}
    if isinstance(obj, (list, tuple)):
        kind = "l" if isinstance(obj, list) else "u"
        return {kind: [_encode(v, path + (i,), tensors, seen, blocks)
                       for i, v in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)) and \
            not isinstance(obj, np.generic):
        return {"v": obj}
    # (a numpy scalar -- np.float64(0.93), an epoch's np.int64 -- is not a Python number,
    # though np.float64 subclasses float: pickled as PyTorch does, it loads back as itself
    # with weights_only=False and is refused, naming numpy's global, by the default
    # weights_only=True loader, as torch.load does)
    raise _NotSafetensors(f"a {type(obj).__name__} at {_describe(path)}")


def _check_unshared(array, blocks, path):
    """Records ``array`` under the owner of its memory; raises ``_NotSafetensors`` when it
    may overlap an array recorded before (another tensor viewing the same memory) or views
    the same memory as another dtype (which PyTorch's pickle refuses: the writer says so)."""
    owner = _torch_checkpoint_writer._owner(array)
    met = blocks.setdefault(id(owner), [owner])   # (the owner kept alive: its id stays valid)
    if any(np.may_share_memory(array, other) or other.dtype != array.dtype
           for other in met[1:]):
        raise _NotSafetensors(f"a tensor at {_describe(path)} sharing memory with another")
    met.append(array)


class _NotSafetensors(Exception):
    """What ``_encode`` raises for a part of the object a safetensors file cannot describe
    (``save`` then pickles the whole object instead)."""


def _decode(tree, tensors, depth=0, decoded=None):
    """The object of a JSON tree written by ``_encode``; a crafted tree gives a ValueError
    (caught by ``load``), never a RecursionError."""
    if depth > _MAX_DEPTH:
        raise ValueError(f"the object is nested more than {_MAX_DEPTH} levels deep")
    if decoded is None:
        decoded = {}                    # key -> the object made for it (see "same")
    if not isinstance(tree, dict):
        raise ValueError(f"expected a node {{'t'|'lazy'|'d'|'l'|'u'|'sz'|'dt'|'dev'|'v': ...}}, "
                         f"got {str(tree)[:80]}")
    if "lazy" in tree:
        dtype = dtypes._BY_NAME.get(str(tree.get("dt")))
        if dtype is None or tree["lazy"] not in ("p", "b"):
            raise ValueError(f"a lazy placeholder node holds {str(tree)[:80]}")
        kind = UninitializedParameter if tree["lazy"] == "p" else UninitializedBuffer
        return kind(requires_grad=bool(tree.get("rg")), dtype=dtype)
    if "t" in tree:
        first = tree.get("same")
        if isinstance(first, str) and first in decoded:
            return decoded[first]       # the same tensor as at an earlier node
        t = tensors[tree["t"]]
        grad = bool(tree.get("p", tree.get("rg"))) and t.is_floating_point()
        if "p" in tree:
            t = Parameter(t, requires_grad=grad)
        elif grad:
            t.requires_grad_(True)
        decoded[tree["t"]] = t
        return t
    if "d" in tree:
        items = [(k, _decode(v, tensors, depth + 1, decoded)) for k, v in tree["d"]]
        if not tree.get("o"):
            return dict(items)
        result = OrderedDict(items)
        if "m" in tree:
            result._metadata = OrderedDict(
                (str(k), dict(v)) for k, v in tree["m"] if isinstance(v, dict))
        return result
    if "l" in tree:
        return [_decode(v, tensors, depth + 1, decoded) for v in tree["l"]]
    if "u" in tree:
        return tuple(_decode(v, tensors, depth + 1, decoded) for v in tree["u"])
    if "sz" in tree:
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in tree["sz"]):
            raise ValueError(f"a size node holds {str(tree['sz'])[:80]}, not ints")
        return Size(tree["sz"])
    if "dt" in tree:
        dtype = dtypes._BY_NAME.get(str(tree["dt"]))
        if dtype is None:
            raise ValueError(f"a dtype node names {str(tree['dt'])[:80]}, not a dtype")
        return dtype
    if "dev" in tree:
        return backend.Device(str(tree["dev"]))
    value = tree["v"]
    if not (value is None or isinstance(value, (bool, int, float, str))):
        raise ValueError(f"a value node holds {type(value).__name__}, not a number or string")
    return value


def _metadata_of(obj):
    """A state_dict's ``_metadata`` (each module's version under its dotted path) as JSON
    pairs, kept so that a reloaded checkpoint says which versions wrote it; None when there
    is none or it holds what JSON cannot."""
    meta = getattr(obj, "_metadata", None)
    if not isinstance(meta, dict):
        return None
    pairs = [[k, v] for k, v in meta.items()]
    try:
        json.dumps(pairs)
    except (TypeError, ValueError):
        return None
    return pairs
