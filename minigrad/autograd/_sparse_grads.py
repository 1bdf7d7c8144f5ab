"""A sparse COO gradient reaching a node whose backward reads dense arrays only.

``embedding(..., sparse=True)`` sends its weight a sparse gradient; when that weight is not a
leaf but computed from one (``F.embedding(idx, emb.weight * 2, sparse=True)``, a ``clone``,
``w + 1``, ``-w``), the gradient passes through that op's node first. PyTorch's arithmetic
backward formulas work on sparse tensors, so the leaf still gets a sparse gradient:

    add / sub          d/da = g, d/db = g or -g          (sparse, when no broadcast sums it)
    neg                -g
    mul                d/da = g * conj(b)                (sparse times a dense factor that
                                                          broadcasts to g: sparse)
    div                d/da = g / conj(b)                (b a scalar or 0-d tensor: sparse)

``sparse_backward`` is what the engine calls when a node's own backward refused a sparse
gradient: these rules where they apply; for any other input, the node's backward run on
``g`` made dense (the same numbers, in a dense layout).
"""
from __future__ import annotations


def conj_of(t):
    """``t``, conjugated when complex."""
    return t.conj() if t.is_complex() else t

__all__ = ["sparse_backward"]


def _sparse_rule(name, i, g, saved):
    """d(output)/d(input i) applied to the sparse gradient ``g`` (same size as input i), or
    None where no sparse rule applies."""
    if name == "AddBackward0" or name == "CloneBackward0" or name == "AliasBackward0":
        return g
    if name == "SubBackward0":
        return g if i == 0 else -g
    if name == "NegBackward0":
        return -g
    if name == "MulBackward0" and saved is not None:
        other = saved[1 - i]
        if other is not None and other.ndim <= g.ndim and not other.is_sparse:
            return g * conj_of(other)
    if name == "DivBackward0" and saved is not None and i == 0:
        b = saved[1]
        if b is not None and b.ndim == 0 and not b.is_sparse:
            return g / conj_of(b)
    return None


def sparse_backward(node, grads):
    """The gradients of ``node``'s inputs for output gradients ``grads`` of which some are
    sparse (see the module): a list, one entry per input (None where none is needed)."""
    g = grads[0]
    needs = node.needs_input_grad or ()
    metas = node._in_meta
    name = node.name()
    saved = None
    if name in ("MulBackward0", "DivBackward0") and not getattr(node, "half", False):
        saved = node.saved_tensors
    results = []
    dense = None
    for i in range(len(node.next_functions_)):
        if i < len(needs) and not needs[i]:
            results.append(None)
            continue
        rule = None
        if len(grads) == 1 and g is not None and g.is_sparse and \
                tuple(metas[i][0]) == tuple(g.shape):
            rule = _sparse_rule(name, i, g, saved)
        if rule is None:
            if dense is None:
                dense = node.backward(*(x.to_dense() if x is not None and x.is_sparse else x
                                        for x in grads))
                dense = dense if isinstance(dense, (tuple, list)) else (dense,)
            rule = dense[i]
        results.append(rule)
    return tuple(results)
