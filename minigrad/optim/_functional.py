"""What the functional optimizer forms share (``adam``, ``sgd``, ... -- PyTorch's
``torch.optim.<name>.<name>``): argument checks, the unscaling of a fused step's gradients,
and the walk over parallel lists of parameters, gradients and state tensors.

Each functional form runs, for every parameter, the same per-parameter update as its
optimizer class (one function per optimizer, on raw arrays, in place); the class keeps its
state in ``self.state`` and the functional form takes it as lists, as PyTorch's do.
"""
from __future__ import annotations

from ..tensor import Tensor
from .optimizer import Optimizer
from ._update_arrays import _with_float_scalars, real_pairs

__all__ = ["check_state_tensors", "check_flags", "unscale_grads", "float_scalars",
           "each_param", "bump_versions"]


def check_state_tensors(tensors, what="state_steps"):
    """PyTorch's refusal of a step counter (or NAdam's mu product) that is not a tensor."""
    if not all(isinstance(t, Tensor) for t in tensors):
        raise RuntimeError(f"API has changed, `{what}` argument must contain a list of "
                           "singleton tensors")


def check_flags(name, differentiable=False):
    """differentiable=True would record the update in the graph: not supported, as for the
    optimizer classes (foreach, fused and capturable choose kernels, not results)."""
    Optimizer._check_flags(name, None, differentiable)


def unscale_grads(grads, grad_scale, found_inf, fused):
    """A fused step's loss-scaling inputs (``grad_scale``, ``found_inf``; AMP's GradScaler):
    the gradients are divided by grad_scale in place, and the whole step (its counters too)
    is skipped when found_inf is nonzero.  Returns False when the step is to be skipped.
    Only a fused step takes them, as in PyTorch (AssertionError otherwise)."""
    if grad_scale is None and found_inf is None:
        return True
    if not fused:
        raise AssertionError("Expected grad_scale and found_inf to be None")
    if found_inf is not None and float(found_inf._array.reshape(-1)[0]) != 0:
        return False
    if grad_scale is not None:
        scale = grad_scale._array.reshape(())
        for g in grads:
            g._array /= scale.astype(g._array.dtype, copy=False)
    return True


def float_scalars(**hyper):
    """The hyper-parameters with a tensor one (``lr``, ``beta1``) read as a scalar of its
    dtype, as the optimizer classes read them (``Optimizer._with_float_scalars``)."""
    return _with_float_scalars(hyper)


def _array_for(value, param):
    """``value``'s array as the update reads it: a complex state tensor shaped like the
    complex ``param`` as (real, imag) pairs, a 0-d counter as itself (updated in place)."""
    if value is None:
        return None
    array = value._array
    if array.dtype.kind == "c" and param._array.dtype.kind == "c" and \
            array.shape == param._array.shape:
        return real_pairs(array)
    return array


def each_param(params, grads, *state_lists):
    """For each parameter i: (param array, grad array, state arrays ...), the arrays of a
    complex parameter read as real (real, imag) pairs as the optimizer classes read them.
    A ``None`` in ``state_lists`` stands for a list of Nones (state the options leave
    unused, e.g. max_exp_avg_sqs without amsgrad)."""
    for i, param in enumerate(params):
        states = [None if lst is None else _array_for(lst[i], param) for lst in state_lists]
        yield (_array_for(param, param), _array_for(grads[i], param), *states)


def bump_versions(params):
    """Record the in-place update of ``params`` in their version counters."""
    for p in params:
        p._vcounter.value += 1
