"""The differentiable ops, one module per family; each Function's forward sits beside its backward.

  elementwise  + - * / % and negation; the type promotion binary ops share
  elementary_functions
               exp log log1p sqrt rsqrt square abs sin cos tanh sigmoid
  power        pow
  pointwise_select
               where maximum minimum, and the gradients of selecting ops
  relu_clamp   relu leaky_relu clamp clamp_min clamp_max
  compare      == < > logical ops, sign, floor, isnan...: no gradient
  reduce       sum mean prod var std all any count_nonzero
  extrema      max min amax amin argmax argmin
  softmax      logsumexp softmax log_softmax
  movement     reshape view flatten squeeze transpose permute expand repeat pad clone
  stacking     cat stack split chunk narrow select unbind
  indexing     x[i, 1:3, None, mask, idx] and x[...] = v
  inplace      x += y, x[i] = v, add_ mul_ zero_ copy_ ...
  matmul       matmul mm bmm mv
  linear       linear
  conv         conv1d conv2d conv_transpose1d conv_transpose2d (+ the teaching corr2d)
  pool         max_pool1d/2d/3d adaptive_max_pool1d/2d/3d
  avg_pool     avg_pool1d/2d/3d adaptive_avg_pool1d/2d/3d
  loss         cross_entropy nll_loss
  regression_loss
               mse_loss l1_loss
  binary_loss  binary_cross_entropy(_with_logits)
"""
import importlib.util

from . import plumbing, elementwise, compare, reduce, movement, indexing, inplace, matmul, loss  # noqa: F401

# ``torch.ops.<namespace>``: the namespaces ``torch.library.custom_op`` has made ops under,
# filled in by minigrad.library (a layer above this package) as it makes them
custom_namespaces = {}


def __getattr__(name):
    """``torch.ops.<namespace>``: the custom ops made under that namespace (only a namespace
    that has one: ``from .ops import x`` asks hasattr first, and a submodule not yet imported
    must not be taken for a namespace)."""
    found = custom_namespaces.get(name)
    if found is None or importlib.util.find_spec(f"{__name__}.{name}") is not None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return found
