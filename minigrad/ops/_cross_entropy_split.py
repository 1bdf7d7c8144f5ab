"""Cross entropy's log-softmax as a node of its own, made when someone looks at the graph.

``cross_entropy`` with class indices is one fused node (``loss.ClassNLL``), for speed: its
forward never makes the whole log-softmax, its backward writes softmax(x) - onehot into the
exp it kept. PyTorch's graph has two nodes there, ``NllLossBackward0`` over
``LogSoftmaxBackward0``, and graph drawers and walkers read that. The first look at the fused
node's ``next_functions`` (``split_log_softmax``) makes the graph PyTorch's for real:

- a ``LogSoftmax`` node is run on the saved logits (its forward computes the log-softmax
  and saves it, as PyTorch's node saves its result) and takes over the loss's edge to the
  logits' node;
- the loss node's input becomes that log-softmax, and its backward the negative
  log-likelihood's of log-probabilities (the gradient -w[t] / total at the targets), which
  ``LogSoftmax``'s backward turns into the logits' (g - softmax(x) sum g).

Hooks on either node then run, ``_saved_result`` reads the log-softmax, and the gradients
are what PyTorch's two nodes compute. A graph nobody looks at pays nothing. Left fused:
label smoothing and (N, C, d1, ...) scores (their PyTorch graphs differ more), a node whose
logits were changed in place since (the fused node's backward refuses them, as it should) or
whose saved values have hooks, and a look during a backward pass, whose plan has already
counted the edges. A node whose graph a backward has freed gets a freed LogSoftmax node.
"""
from __future__ import annotations

from ..autograd._node_names import _node_type
from ..autograd.engine import _pass as _backward_pass
from ..autograd.grad_mode import enable_grad
from ..tensor import Tensor
from .softmax import LogSoftmax

__all__ = ["split_log_softmax"]


def split_log_softmax(node):
    """Put a LogSoftmax node between the fused cross-entropy ``node`` and its logits, where
    that can be done (see the module docstring); nothing otherwise. Returns ``node``."""
    if node.name() != "NllLossBackward0" or getattr(_backward_pass, "callbacks", None) is not None:
        return node
    saved = node.saved_
    if saved is None:                   # freed by a backward: a freed node, named and linked
        lsm = _freed_log_softmax(node)
    else:
        if not saved or getattr(node, "_packed", False) is not True or \
                not isinstance(saved[0][1], Tensor):
            return node
        for counter, expected, _, _, index in node._versions or ():
            if isinstance(index, int) and counter.value != expected:
                return node
        x = saved[0][1]
        with enable_grad():
            lsm = LogSoftmax.apply(x.detach().requires_grad_(), dim=1).grad_fn
    lsm.next_functions_ = node.next_functions_
    lsm.needs_input_grad = node.needs_input_grad
    lsm._seq = node._seq - 0.5          # made right before the loss, as PyTorch's
    node.next_functions_ = ((lsm, 0),)
    node.from_logits = False            # its backward: the log-probabilities' gradient
    node.exp_rows = None                # (the fused backward's buffer, no longer read)
    return node


def _freed_log_softmax(node):
    """The LogSoftmax node of a loss whose graph a backward has freed: nothing saved (its
    ``_saved_result`` raises PyTorch's error for a freed graph, as a backward through it)."""
    lsm = _node_type(LogSoftmax)()
    lsm.saved_ = None
    lsm.dim = 1
    lsm._versions = lsm._retained = lsm._pre_hooks = lsm._shapes = None
    lsm._in_meta = lsm._out_meta = node._in_meta
    return lsm
