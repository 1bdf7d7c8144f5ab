"""``torch.utils._pytree``: nested containers seen as a structure plus a flat list of leaves.

A *pytree* is a value built from registered container types -- list, tuple, dict,
OrderedDict, defaultdict, deque, every namedtuple class, ``minigrad.Size`` and the named
results of ops such as ``max`` and ``sort`` -- plus whatever ``register_pytree_node`` adds.
Anything else (tensors, numbers, strings, None, a subclass of list or dict that was not
registered) is a *leaf*.  ``tree_flatten`` walks the containers depth first, children in
their own order (a dict's in insertion order), and returns the leaves and a ``TreeSpec``;
``tree_unflatten`` rebuilds the value from new leaves.  ``tree_map`` and its relatives are
built on those two.  Results, specs, reprs and error messages are PyTorch's.  The node
registry, the built-in node types and the key paths are in ``_pytree_nodes.py`` (their names
are re-exported here).
"""
from __future__ import annotations

import dataclasses
import types
from collections import OrderedDict, defaultdict, deque

from .._warn_once import warn_user
from ._pytree_nodes import (  # noqa: F401  (torch.utils._pytree's names, re-exported)
    SUPPORTED_NODES, GetAttrKey, MappingKey, SequenceKey, _BUILTIN_TYPES, _DICT_TYPES, _Node,
    _node_type, _register_pytree_node, is_namedtuple, is_namedtuple_class,
    is_namedtuple_instance, key_get, keystr, register_pytree_node, tree_is_leaf)

__all__ = [
    "TreeSpec", "LeafSpec", "PyTreeSpec", "SequenceKey", "MappingKey", "GetAttrKey", "keystr",
    "key_get", "register_pytree_node", "tree_is_leaf", "tree_flatten", "tree_flatten_with_path",
    "tree_unflatten", "tree_iter", "tree_leaves", "tree_leaves_with_path", "tree_structure",
    "tree_map", "tree_map_with_path", "tree_map_", "map_only", "tree_map_only",
    "tree_map_only_", "tree_all", "tree_any", "tree_all_only", "tree_any_only",
    "treespec_leaf", "is_namedtuple", "is_namedtuple_class", "is_namedtuple_instance",
]


# ----------------------------------------------------------------------------------------------
# TreeSpec
# ----------------------------------------------------------------------------------------------
class TreeSpec:
    """The structure of a pytree: the root's ``type`` (None for a leaf), the ``context`` its
    unflatten needs (a dict's keys, a namedtuple's class, a deque's maxlen...) and one spec
    per child.  Immutable; equal when type, context and children are."""
    __slots__ = ("type", "_context", "_children", "num_nodes", "num_leaves", "num_children")

    def __init__(self, type, context, children_specs):   # noqa: A002  (PyTorch's name)
        nodes, leaves = 1, 0
        if type is None:
            if context is not None:
                raise AssertionError("leaf node should not have a context")
            if len(children_specs):
                raise AssertionError("leaf node should not have children")
            leaves = 1
        for child in children_specs:
            nodes += child.num_nodes
            leaves += child.num_leaves
        for name, value in (("type", type), ("_context", context),
                            ("_children", children_specs), ("num_nodes", nodes),
                            ("num_leaves", leaves), ("num_children", len(children_specs))):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise dataclasses.FrozenInstanceError(f"cannot assign to field '{name}'")

    @property
    def context(self):
        return self._context

    @property
    def children_specs(self):
        warn_user("`treespec.children_specs` is deprecated. Use `treespec.child(index)` to "
                  "access a single child, or `treespec.children()` to get all children.",
                  FutureWarning)
        return self._children

    def is_leaf(self):
        return self.num_nodes == 1 and self.num_leaves == 1

    def children(self):
        return list(self._children)

    def child(self, index):
        return self._children[index]

    def __repr__(self, indent=0):
        if self.type is None:
            return "*"
        inner = indent + 2
        parts = [child.__repr__(inner) for child in self._children]
        body = (",\n" + " " * inner).join(parts)
        return f"TreeSpec({self.type.__name__}, {self._context}, [{body}])"

    def __eq__(self, other):
        if self is other:
            return True
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (str(self.type) == str(other.type) and self._context == other._context
                and self._children == other._children)

    def __hash__(self):
        kind, context = self.type, self._context
        if kind is defaultdict:
            context = (context[0], tuple(context[1]))
        elif kind in (dict, OrderedDict):
            context = tuple(context)
        elif not (kind is None or kind in _BUILTIN_TYPES):
            context = None          # a custom context need not be hashable
        return hash((kind, context, tuple(self._children)))

    def __reduce__(self):           # copy, deepcopy and pickle rebuild through __init__
        if self.type is None:
            return (treespec_leaf, ())
        return (TreeSpec, (self.type, self._context, self._children))

    def flatten_up_to(self, tree):
        """The subtrees of ``tree`` that sit where this spec has leaves (``tree`` must have
        this spec's structure down to them); a ValueError says where it does not."""
        out = []
        self._collect(tree, out)
        return out

    def _collect(self, node, out):
        if self.is_leaf():
            out.append(node)
            return
        kind, got = self.type, _node_type(node)
        if kind not in _BUILTIN_TYPES:
            if got != kind:
                raise ValueError(f"Type mismatch; expected {kind!r}, but got {got!r}.")
            children, context = SUPPORTED_NODES[got].flatten_fn(node)
            if len(children) != self.num_children:
                raise ValueError(f"Node arity mismatch; expected {self.num_children}, but "
                                 f"got {len(children)}.")
            if context != self._context:
                raise ValueError(f"Node context mismatch for custom node type {kind!r}.")
        else:
            dicts = kind in _DICT_TYPES and got in _DICT_TYPES
            if not dicts and got != kind:
                raise ValueError(f"Node type mismatch; expected {kind!r}, but got {got!r}.")
            if len(node) != self.num_children:
                raise ValueError(f"Node arity mismatch; expected {self.num_children}, but "
                                 f"got {len(node)}.")
            if dicts:       # the dict kinds stand in for each other; keys must agree
                keys = self._context[1] if kind is defaultdict else self._context
                want, have = set(keys), set(node)
                if want != have:
                    detail = ""
                    if want - have:
                        detail += f"; missing key(s): {want - have}"
                    if have - want:
                        detail += f"; extra key(s): {have - want}"
                    raise ValueError(f"Node keys mismatch{detail}.")
                children = [node[k] for k in keys]
            else:
                children, context = SUPPORTED_NODES[got].flatten_fn(node)
                if got is not deque and context != self._context:
                    raise ValueError(f"Node context mismatch for node type {kind!r}; expected "
                                     f"{self._context!r}, but got {context!r}.")
        for spec, child in zip(self._children, children):
            spec._collect(child, out)

    def unflatten(self, leaves):
        """The pytree of this structure holding ``leaves`` (as many as ``num_leaves``)."""
        if not isinstance(leaves, (list, tuple)):
            leaves = list(leaves)
        if len(leaves) != self.num_leaves:
            raise ValueError(f"treespec.unflatten(leaves): `leaves` has length {len(leaves)} "
                             f"but the spec refers to a pytree that holds {self.num_leaves} "
                             f"items ({self}).")
        return self._build(iter(leaves))

    def _build(self, it):
        if self.type is None:
            return next(it)
        children = [spec._build(it) for spec in self._children]
        return SUPPORTED_NODES[self.type].unflatten_fn(children, self._context)


PyTreeSpec = TreeSpec


class LeafSpec(TreeSpec):
    """The spec of a leaf (prints as ``*``).  Creating one is deprecated in PyTorch in favour
    of ``spec.is_leaf()`` / ``treespec_leaf()``, with the same FutureWarning here."""
    __slots__ = ()

    def __init__(self, _warn=True):
        if _warn:
            warn_user("`isinstance(treespec, LeafSpec)` is deprecated, use "
                      "`isinstance(treespec, TreeSpec) and treespec.is_leaf()` instead.",
                      FutureWarning)
        super().__init__(None, None, [])


_LEAF = LeafSpec(_warn=False)


def treespec_leaf():
    """The spec of a leaf."""
    return _LEAF


# ----------------------------------------------------------------------------------------------
# Flattening and mapping
# ----------------------------------------------------------------------------------------------
def tree_flatten(tree, is_leaf=None):
    """``(leaves, spec)``: the leaves of ``tree`` depth first, and its structure."""
    leaves = []

    def walk(node):
        if tree_is_leaf(node, is_leaf):
            leaves.append(node)
            return _LEAF
        kind = _node_type(node)
        children, context = SUPPORTED_NODES[kind].flatten_fn(node)
        return TreeSpec(kind, context, [walk(c) for c in children])

    spec = walk(tree)
    return leaves, spec


def tree_unflatten(leaves, treespec):
    """The pytree of structure ``treespec`` holding ``leaves`` (the inverse of tree_flatten;
    the two arguments may come in either order, as PyTorch allows)."""
    if not isinstance(treespec, TreeSpec):
        if not isinstance(leaves, TreeSpec):
            raise TypeError(f"Expected `treespec` to be an instance of PyTreeSpec but got "
                            f"item of type {type(treespec)}.")
        leaves, treespec = treespec, leaves
    return treespec.unflatten(leaves)


def tree_iter(tree, is_leaf=None):
    """The leaves of ``tree``, one at a time."""
    if tree_is_leaf(tree, is_leaf):
        yield tree
        return
    children, _ = SUPPORTED_NODES[_node_type(tree)].flatten_fn(tree)
    for child in children:
        yield from tree_iter(child, is_leaf)


def tree_leaves(tree, is_leaf=None):
    return list(tree_iter(tree, is_leaf))


def tree_structure(tree, is_leaf=None):
    return tree_flatten(tree, is_leaf)[1]


def tree_map(func, tree, *rests, is_leaf=None):
    """A pytree of ``tree``'s structure whose leaves are ``func(leaf, *others)``, ``others``
    being what sits at the same place in each of ``rests`` (whose structure must extend
    ``tree``'s: there a whole subtree may stand where ``tree`` has a leaf)."""
    leaves, spec = tree_flatten(tree, is_leaf)
    columns = [leaves] + [spec.flatten_up_to(r) for r in rests]
    return spec.unflatten(map(func, *columns))


def tree_map_(func, tree, *rests, is_leaf=None):
    """Call ``func`` on each leaf (with the matching parts of ``rests``) for its side effect;
    returns ``tree`` itself."""
    leaves, spec = tree_flatten(tree, is_leaf)
    columns = [leaves] + [spec.flatten_up_to(r) for r in rests]
    for args in zip(*columns):
        func(*args)
    return tree


def map_only(type_or_types_or_pred, /):
    """A decorator: the function applies only to leaves that are instances of the given
    type(s) (or pass the given predicate); other leaves come back unchanged."""
    if isinstance(type_or_types_or_pred, (type, tuple, types.UnionType)):
        def pred(x):
            return isinstance(x, type_or_types_or_pred)
    elif callable(type_or_types_or_pred):
        pred = type_or_types_or_pred
    else:
        raise TypeError("Argument must be a type, a tuple of types, or a callable.")

    def decorate(func):
        def apply(x):
            return func(x) if pred(x) else x
        apply.__name__ = getattr(func, "__name__", "apply")
        apply.__doc__ = getattr(func, "__doc__", None)
        apply.__wrapped__ = func
        return apply
    return decorate


def tree_map_only(type_or_types_or_pred, /, func, tree, is_leaf=None):
    return tree_map(map_only(type_or_types_or_pred)(func), tree, is_leaf=is_leaf)


def tree_map_only_(type_or_types_or_pred, /, func, tree, is_leaf=None):
    return tree_map_(map_only(type_or_types_or_pred)(func), tree, is_leaf=is_leaf)


def tree_all(pred, tree, is_leaf=None):
    return all(map(pred, tree_iter(tree, is_leaf)))


def tree_any(pred, tree, is_leaf=None):
    return any(map(pred, tree_iter(tree, is_leaf)))


def tree_all_only(type_or_types, /, pred, tree, is_leaf=None):
    return all(pred(x) for x in tree_iter(tree, is_leaf) if isinstance(x, type_or_types))


def tree_any_only(type_or_types, /, pred, tree, is_leaf=None):
    return any(pred(x) for x in tree_iter(tree, is_leaf) if isinstance(x, type_or_types))


def _paths(prefix, tree, is_leaf):
    if is_leaf is not None and is_leaf(tree):
        yield prefix, tree
        return
    kind = _node_type(tree)
    node = SUPPORTED_NODES.get(kind)
    if node is None:
        yield prefix, tree
        return
    if node.flatten_with_keys_fn is None:
        raise ValueError(f"Did not find a flatten_with_keys_fn for type: {kind}. Please pass a "
                         "flatten_with_keys_fn argument to register_pytree_node.")
    pairs, _ = node.flatten_with_keys_fn(tree)
    for key, child in pairs:
        yield from _paths(prefix + (key,), child, is_leaf)


def tree_flatten_with_path(tree, is_leaf=None):
    """``([(key_path, leaf)], spec)``: tree_flatten with the path to each leaf."""
    spec = tree_structure(tree, is_leaf)
    return list(_paths((), tree, is_leaf)), spec


def tree_leaves_with_path(tree, is_leaf=None):
    return list(_paths((), tree, is_leaf))


def tree_map_with_path(func, tree, *rests, is_leaf=None):
    """tree_map where ``func`` receives each leaf's key path first."""
    pairs, spec = tree_flatten_with_path(tree, is_leaf)
    columns = [[p for p, _ in pairs], [leaf for _, leaf in pairs]]
    columns += [spec.flatten_up_to(r) for r in rests]
    return spec.unflatten(func(*args) for args in zip(*columns))
