"""The node types of ``torch.utils._pytree``, kept apart from ``_pytree.py``: the registry
``SUPPORTED_NODES`` (type -> how it is taken apart and rebuilt) with
``register_pytree_node``, the built-in containers registered in it (list, tuple, dict,
OrderedDict, defaultdict, deque, namedtuples, ``Size``, the named results of ops), the key
path entries (``SequenceKey``, ``MappingKey``, ``GetAttrKey``, ``keystr``, ``key_get``) and
``tree_is_leaf``.  ``_pytree`` re-exports every name here; specs, flattening and mapping
live there.
"""
from __future__ import annotations

import dataclasses
import itertools
from collections import OrderedDict, defaultdict, deque, namedtuple

from .._warn_once import warn_user
from .. import return_types
from ..tensor import Size


# how one registered type is taken apart and put back together
_Node = namedtuple("_Node", "type flatten_fn unflatten_fn flatten_with_keys_fn "
                            "serialized_type_name")

SUPPORTED_NODES: dict = {}      # type -> _Node (every namedtuple class is filed under namedtuple)


def _store(cls, flatten_fn, unflatten_fn, serialized_type_name, to_dumpable_context,
           from_dumpable_context, flatten_with_keys_fn):
    if cls in SUPPORTED_NODES:
        warn_user(f"{cls} is already registered as pytree node. "
                  "Overwriting the previous registration.")
    SUPPORTED_NODES[cls] = _Node(cls, flatten_fn, unflatten_fn, flatten_with_keys_fn,
                                 serialized_type_name)
    if (to_dumpable_context is None) != (from_dumpable_context is None):
        raise ValueError(f"Both to_dumpable_context and from_dumpable_context for {cls} must "
                         "be None or registered.")


def register_pytree_node(cls, flatten_fn, unflatten_fn, *, serialized_type_name=None,
                         to_dumpable_context=None, from_dumpable_context=None,
                         flatten_with_keys_fn=None):
    """Make ``cls`` a container: ``flatten_fn(obj) -> (children, context)`` and
    ``unflatten_fn(children, context) -> obj``; ``flatten_with_keys_fn(obj) ->
    ([(key, child)], context)`` is needed only by the ``*_with_path`` functions.  The
    serialization hooks are accepted (and checked to come in pairs) but TreeSpecs are not
    serialized here.  Registering a type twice is a ValueError."""
    if cls in SUPPORTED_NODES:
        raise ValueError(f"{cls} is already registered as pytree node.")
    _store(cls, flatten_fn, unflatten_fn, serialized_type_name, to_dumpable_context,
           from_dumpable_context, flatten_with_keys_fn)


def _register_pytree_node(cls, flatten_fn, unflatten_fn, to_str_fn=None, maybe_from_str_fn=None,
                          *, serialized_type_name=None, to_dumpable_context=None,
                          from_dumpable_context=None, flatten_with_keys_fn=None):
    """The older private spelling that libraries still call: registers (or re-registers,
    with a warning) after a FutureWarning."""
    warn_user("`torch.utils._pytree._register_pytree_node` is deprecated. "
              "Please use `torch.utils._pytree.register_pytree_node` instead.",
              FutureWarning)
    _store(cls, flatten_fn, unflatten_fn, serialized_type_name, to_dumpable_context,
           from_dumpable_context, flatten_with_keys_fn)


# ----------------------------------------------------------------------------------------------
# Key paths: how to reach a leaf from the root
# ----------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class SequenceKey:
    idx: int

    def __str__(self):
        return f"[{self.idx!r}]"

    def get(self, sequence):
        return sequence[self.idx]


@dataclasses.dataclass(frozen=True)
class MappingKey:
    key: object

    def __str__(self):
        return f"[{self.key!r}]"

    def get(self, mapping):
        return mapping[self.key]


@dataclasses.dataclass(frozen=True)
class GetAttrKey:
    name: str

    def __str__(self):
        return f".{self.name}"

    def get(self, obj):
        return getattr(obj, self.name)


# the key classes are torch.utils._pytree's names: pickle and reprs find them there
for _key_class in (SequenceKey, MappingKey, GetAttrKey):
    _key_class.__module__ = __name__.rpartition(".")[0] + "._pytree"
del _key_class


def keystr(kp):
    """A key path as the indexing that follows it: ``"['a'][0].x"``."""
    return "".join(str(k) for k in kp)


def key_get(obj, kp):
    """The value that key path ``kp`` reaches in ``obj``."""
    for key in kp:
        obj = key.get(obj)
    return obj


# ----------------------------------------------------------------------------------------------
# The built-in node types
# ----------------------------------------------------------------------------------------------
def is_namedtuple_class(cls):
    """Whether ``cls`` is a class made by ``collections.namedtuple`` (or typing.NamedTuple)
    or a subclass of one."""
    if not (isinstance(cls, type) and issubclass(cls, tuple)):
        return False
    fields = getattr(cls, "_fields", None)
    return (isinstance(fields, tuple) and all(type(f) is str for f in fields)
            and callable(getattr(cls, "_make", None)) and callable(getattr(cls, "_asdict", None)))


def is_namedtuple(obj):
    """Whether ``obj`` (an instance or a class) is a namedtuple."""
    return is_namedtuple_class(obj if isinstance(obj, type) else type(obj))


def is_namedtuple_instance(obj):
    return is_namedtuple_class(type(obj))


def _with_keys(flatten, keys):
    """A flatten_with_keys_fn from a flatten_fn and ``keys(node)``, an iterable of keys."""
    def flatten_with_keys(node):
        children, context = flatten(node)
        return list(zip(keys(node), children)), context
    return flatten_with_keys


def _positions(node):
    return map(SequenceKey, itertools.count())


def _mapping_keys(node):
    return map(MappingKey, node)


def _dict_flatten(d):
    return list(d.values()), list(d.keys())


def _tuple_flatten(t):
    return list(t), None


for _cls, _flat, _unflat, _keys, _sname in (
        (tuple, _tuple_flatten, lambda v, c: tuple(v), _positions, "builtins.tuple"),
        (list, lambda lst: (lst, None), lambda v, c: list(v), _positions, "builtins.list"),
        (dict, _dict_flatten, lambda v, c: dict(zip(c, v)), _mapping_keys, "builtins.dict"),
        (namedtuple, lambda t: (list(t), type(t)), lambda v, c: c(*v),
         lambda t: map(GetAttrKey, t._fields), "collections.namedtuple"),
        (OrderedDict, _dict_flatten, lambda v, c: OrderedDict(zip(c, v)), _mapping_keys,
         "collections.OrderedDict"),
        (defaultdict, lambda d: (list(d.values()), [d.default_factory, list(d)]),
         lambda v, c: defaultdict(c[0], zip(c[1], v)), _mapping_keys,
         "collections.defaultdict"),
        (deque, lambda d: (list(d), d.maxlen), lambda v, c: deque(v, maxlen=c), _positions,
         "collections.deque"),
        # as PyTorch: a Size comes back as a plain tuple (its leaves may be any values)
        (Size, _tuple_flatten, lambda v, c: tuple(v), _positions, "torch.Size"),
        # the named results of max/min/sort/topk/linalg... (torch.return_types): each is its
        # own node type, rebuilt from its items as PyTorch's
        *((cls, _tuple_flatten, lambda v, c, cls=cls: cls(v), _positions, None)
          for cls in return_types.all_return_types)):
    _store(_cls, _flat, _unflat, _sname, None, None, _with_keys(_flat, _keys))
del _cls, _flat, _unflat, _keys, _sname

_BUILTIN_TYPES = frozenset({tuple, list, dict, namedtuple, OrderedDict, defaultdict, deque})
_DICT_TYPES = frozenset({dict, OrderedDict, defaultdict})


def _node_type(tree):
    cls = type(tree)
    return namedtuple if is_namedtuple_class(cls) else cls


def tree_is_leaf(tree, is_leaf=None):
    """Whether ``tree`` is a leaf: ``is_leaf(tree)`` says so, or its type is not registered."""
    if is_leaf is not None and is_leaf(tree):
        return True
    return _node_type(tree) not in SUPPORTED_NODES
