"""The names a graph node goes by, as PyTorch names them.

* ``_node_type``: the class of an op's nodes, named as PyTorch's (``MulBackward0``,
  ``MyFunctionBackward``), so that ``type(y.grad_fn).__name__`` and ``y.grad_fn.name()`` read
  as in PyTorch (graph drawers and tests read them);
* ``rename_node``: the node of a composed op recorded under the op's own name
  (``masked_fill`` is a ``where``; PyTorch records ``MaskedFillBackward0``);
* ``_forward_name``: the op a node name stands for, as PyTorch's in-place error words name it
  (``Mul`` for ``MulBackward0``).

Separate from ``function.py``: naming is the one thing about a node that ops outside
``autograd/`` ask for (``rename_node``, in nearly seventy of them), and it needs nothing of the
node but its class.
"""
from __future__ import annotations

import re


def _forward_name(node_name):
    """The op a node's name stands for, as PyTorch's in-place error names it: 'Mul' for
    'MulBackward0', 'F' for a custom Function's 'FBackward', and the overload's number kept
    past 0: 'Pow1' for 'PowBackward1', 'Elu1' for the in-place 'EluBackward1'."""
    return re.sub(r"Backward(\d*)$", lambda m: m[1].lstrip("0"), node_name)


def rename_node(result, node_name, op=None):
    """Record ``result``'s node under PyTorch's ``node_name``, for an op composed of others
    whose last step stands for the whole (``masked_fill`` is a ``where``: PyTorch records a
    MaskedFillBackward0). Only the name changes: the node becomes an instance of its op's
    ``renamed`` class, which adds nothing to it. Left alone when there is no node, or when
    ``op`` is given and the node is not one of its (the last step was not the one expected).
    Returns ``result``."""
    node = getattr(result, "grad_fn", None)
    op_class = getattr(type(node), "op_class", None)       # None: no node made by apply
    if op_class is None or node._ctx_style or (op is not None and not isinstance(node, op)):
        return result
    op_class = op_class.__dict__.get("_renamed_from", op_class)     # the op itself
    node.__class__ = _node_type(op_class.renamed(node_name))
    return result


def _node_type(cls):
    """The class of ``cls``'s graph nodes: a subclass named as PyTorch names the node
    (``MulBackward0``, ``MyFunctionBackward``), made once, so that ``type(y.grad_fn).__name__``
    reads as in PyTorch (graph drawers label nodes by it). It adds nothing else: isinstance
    checks against ``cls`` and everything ``cls`` declares hold for its nodes, and
    ``type(node).op_class`` is ``cls``."""
    node = cls.__dict__.get("_node_type_")
    if node is None:
        name = cls.name()
        # a C++ node's name() has its namespace ("torch::autograd::CopySlices"), its class not
        short = name.rpartition("::")[2]
        node = type(short, (cls,), {"__module__": cls.__module__, "__qualname__": short,
                                   "__slots__": (), "name": classmethod(lambda _: name),
                                   "op_class": cls})
        cls._node_type_ = node
    return node
