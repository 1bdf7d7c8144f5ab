"""``minigrad.func``'s module tools: ``functional_call`` (a module run with other parameters
and buffers), ``stack_module_state``, and the helpers for code written against ``torch.func``
(``functionalize``, ``replace_all_batch_norm_modules_``, ``debug_unwrap``).
``minigrad.func`` exports them.
"""
from __future__ import annotations

from .nn.modules.normalization import _BatchNorm
from .nn.utils.stateless import call_with as _call_with
from .ops.stacking import stack


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """``module(*args, **kwargs)`` with the given tensors (a dict name -> tensor, or a
    sequence of dicts with distinct keys) standing in for its parameters and buffers; the
    module's own tensors are restored afterwards, even if the call raises. Gradients flow to
    the given tensors. See ``minigrad.nn.utils.stateless`` for tie_weights and strict."""
    if isinstance(parameter_and_buffer_dicts, dict):
        values = parameter_and_buffer_dicts
    elif isinstance(parameter_and_buffer_dicts, (list, tuple)):
        if not all(isinstance(d, dict) for d in parameter_and_buffer_dicts):
            raise ValueError("Expected all elements of parameter_and_buffer_dicts to be "
                             "dictionaries")
        values, counts = {}, {}
        for d in parameter_and_buffer_dicts:
            for k in d:
                counts[k] = counts.get(k, 0) + 1
            values.update(d)
        repeated = [k for k, n in counts.items() if n > 1]     # in first-seen order
        if repeated:
            raise ValueError(f"{repeated} appeared in multiple dictionaries; "
                             "behavior of functional call is ambiguous")
    else:
        raise ValueError(f"Expected parameter_and_buffer_dicts to be a dict, or a list/tuple "
                         f"of dicts, but got {type(parameter_and_buffer_dicts)}")
    return _call_with(module, values, args, kwargs, tie_weights, strict)


def stack_module_state(models):
    """``(params, buffers)``: for models of identical structure, each parameter (buffer)
    stacked across the models along a new dim 0, keyed by name. The stacked parameters are
    new leaves (requiring grad as the originals), not linked to the models."""
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if len({m.training for m in models}) > 1:
        raise RuntimeError("stack_module_state: Expected all models to have the same "
                           "training/eval mode.")
    first = type(models[0])
    if any(type(m) is not first for m in models):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")

    def stacked(named, is_param):
        per_model = [dict(named(m)) for m in models]
        out = {}
        for name, ref in per_model[0].items():
            tensors = []
            for entries in per_model:
                if name not in entries:
                    raise KeyError(name)
                tensors.append(entries[name].detach())
            out[name] = stack(tensors).requires_grad_(is_param and ref.requires_grad)
        return out

    params = stacked(lambda m: m.named_parameters(), True)
    buffers = stacked(lambda m: m.named_buffers(), False)
    return params, buffers


# ----------------------------------------------------------------------------------------------
# Helpers for code written against torch.func
# ----------------------------------------------------------------------------------------------
def functionalize(func, *, remove="mutations"):
    """``func`` with its in-place updates turned into out-of-place ones, for transforms that
    cannot trace mutation. minigrad's transforms run ``func`` eagerly and handle in-place ops
    as they are, so the function is returned as it behaves (the same results, the same
    writes to its inputs, as PyTorch's functionalized function copies back)."""
    if remove not in ("mutations", "mutations_and_views"):
        raise RuntimeError(f"functionalize(f, remove='mutations'): received invalid argument "
                           f"for remove={remove}. Valid options are:\n     remove='mutations': "
                           "all inplace and out= operators will be removed from the program, "
                           "and replaced with their out-of-place equivalents.\n     "
                           "remove='mutations_and_views': In addition to the above, all "
                           "aliasing operators {view} will be replaced with their "
                           "non-aliasing counterparts, {view}_copy.\n")

    def functionalized(*args, **kwargs):
        return func(*args, **kwargs)
    functionalized.__wrapped__ = func
    return functionalized


def replace_all_batch_norm_modules_(root):
    """Make every batch-norm layer under ``root`` stop tracking running statistics (it then
    always normalises with the batch's own), as ``vmap`` over a model needs; in place,
    returns ``root``."""
    for module in root.modules():
        if isinstance(module, _BatchNorm):
            module.running_mean = None
            module.running_var = None
            module.num_batches_tracked = None
            module.track_running_stats = False
    return root


def debug_unwrap(tensor, *, recurse=True):
    """The plain tensor inside a transform's wrapper; minigrad's transforms pass plain tensors,
    so it is ``tensor`` itself."""
    return tensor
