"""``Module.load_state_dict``: check every key first, then copy, so a failed load changes
nothing (PyTorch copies as it goes and may leave a model half-loaded).

The error lists missing keys, unexpected keys and shape mismatches together, in PyTorch's
words:
    Error(s) in loading state_dict for Net:
        Missing key(s) in state_dict: "fc.bias".
        size mismatch for fc.weight: copying a param with shape ... from checkpoint, ...
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple

from ..._warn_once import warn_user
from ... import backend
from ...tensor import Tensor
from ..parameter import _UNINITIALIZED_SHAPE, Parameter, is_lazy

__all__ = ["load_state_dict", "load_own_keys", "_IncompatibleKeys"]

# the copy plans of the loads under way, innermost last: ``Module._load_from_state_dict``
# (which a subclass may override, and call through super()) adds its module's copies there
_PLANS = []


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys it did not find and those it did not use."""

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _plan_module(module, state_dict, prefix, plan, missing, unexpected, errors, strict=True,
                 extra_state=False, local_metadata=None):
    """Check one module's own keys (no copy yet): collect (target, source) pairs and errors.

    ``module._load_defaults(state_dict, prefix, local_metadata)`` may supply values for keys
    an older checkpoint lacks (BatchNorm's num_batches_tracked, when the checkpoint's
    metadata gives no version or an older one).  ``extra_state``: the module
    overrides ``set_extra_state``, whose value '<prefix>_extra_state' is then expected.
    """
    defaults = module._load_defaults(state_dict, prefix, local_metadata or {})
    local = OrderedDict((k, v) for k, v in module._parameters.items() if v is not None)
    for k, v in module._buffers.items():
        if v is not None and k not in module._non_persistent_buffers_set:
            local[k] = v
    for name, target in local.items():
        key = prefix + name
        if key not in state_dict and key not in defaults:
            missing.append(key)
            continue
        source = state_dict[key] if key in state_dict else defaults[key]
        if not isinstance(source, Tensor):
            errors.append(f'While copying the parameter named "{key}", expected '
                          "minigrad.Tensor or Tensor-like object from checkpoint but received "
                          f"{type(source)}")
            continue
        if is_lazy(source):        # an uninitialized placeholder from a lazy layer
            if is_lazy(target):
                continue                                # lazy into lazy: stays lazy
            raise RuntimeError(_UNINITIALIZED_SHAPE)    # its shape is unknown, as PyTorch
        lazy = is_lazy(target)     # a lazy layer's: any shape
        if not lazy and target.ndim == 0 and tuple(source.shape) == (1,):
            source = source[0]   # old checkpoints stored scalars as shape (1,): PyTorch's rule
        if not lazy and tuple(source.shape) != tuple(target.shape):
            errors.append(f"size mismatch for {key}: copying a param with shape "
                          f"{source.shape} from checkpoint, the shape in current model is "
                          f"{target.shape}.")
            continue
        if target.device.type == "meta" and source.device.type != "meta" and \
                not (local_metadata or {}).get("assign_to_params_buffers", False):
            warn_user(f"for {key}: copying from a non-meta parameter in the checkpoint to "
                      f"a meta parameter in the current model, which is a no-op. (Did you "
                      f"mean to pass `assign=True` to assign items in the state dictionary "
                      f"to their corresponding key in the module instead of copying them "
                      f"in place?)")
        plan.append((module, name, target, source, key))
    extra = prefix + "_extra_state"
    if extra_state:
        if extra in state_dict:
            plan.append((module, "_extra_state", None, state_dict[extra], extra))
        elif strict:
            missing.append(extra)
    for key in state_dict:
        if key.startswith(prefix) and not (extra_state and key == extra):
            # 'name' must be one of this module's own tensors, 'child.rest' must go through
            # a child module ('weight.x' is unexpected even though 'weight' exists)
            parts = key[len(prefix):].split(".", 1)
            if (parts[0] not in module._modules) if len(parts) > 1 else (parts[0] not in local):
                unexpected.append(key)


def load_own_keys(module, state_dict, prefix, local_metadata, strict, missing, unexpected,
                  errors, extra_state=False):
    """``Module._load_from_state_dict``: run the module's load pre-hooks, then check its own
    keys.  Inside ``load_state_dict`` the copies join its plan (made once everything is
    checked); called on its own, it copies what it could check at once, as PyTorch does."""
    for hook in list((module.__dict__.get("_load_state_dict_pre_hooks") or {}).values()):
        hook(state_dict, prefix, local_metadata, strict, missing, unexpected, errors)
    plan = _PLANS[-1] if _PLANS else []
    _plan_module(module, state_dict, prefix, plan, missing, unexpected, errors, strict,
                 extra_state, local_metadata)
    if not _PLANS:
        errors.extend(_copy(plan, False))


def load_state_dict(module, state_dict, strict=True, assign=False):
    """Load ``state_dict`` into ``module`` and its descendants (see Module.load_state_dict).

    Each module's ``_load_from_state_dict`` (which a subclass may override: to drop or rename
    keys, say) runs its load pre-hooks (on a copy of ``state_dict``), then checks its keys.
    With ``assign=True`` the module's tensors are replaced by those of
    ``state_dict`` (wrapped as Parameters, keeping each parameter's ``requires_grad``)
    instead of being copied into.  A module's load post-hooks run once it and its
    descendants are loaded (what is planned so far copied first), see the missing /
    unexpected keys found so far and may remove some: a strict load fails only on the keys
    left.
    """
    if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
        raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
    # the per-module versions that ``state_dict()`` recorded ({} for a plain dict)
    metadata = getattr(state_dict, "_metadata", None)
    state_dict = OrderedDict(state_dict)
    if metadata is not None:
        state_dict._metadata = metadata
    plan, missing, unexpected, errors = [], [], [], []
    keys = _IncompatibleKeys(missing, unexpected)

    def finish(m):
        """m's load post-hooks, once m and its descendants are loaded (PyTorch's order): what
        is planned so far is copied first (unless a check has failed: minigrad then leaves
        the tensors untouched, where PyTorch has copied the others), then the hooks see the
        missing / unexpected keys found so far and may remove some in place."""
        hooks = m.__dict__.get("_load_state_dict_post_hooks")
        if not hooks:
            return
        if not errors:
            errors.extend(_copy(plan, assign))
            plan.clear()
        for hook in list(hooks.values()):
            if hook(m, keys) is not None:
                raise AssertionError("Hooks registered with "
                                     "``register_load_state_dict_post_hook`` are not "
                                     "expected to return new values, if incompatible_keys "
                                     "need to be modified, it should be done inplace.")

    def visit(m, local, prefix):   # the traversal order of PyTorch's load (duplicates included)
        local_metadata = {} if metadata is None else dict(metadata.get(prefix[:-1], {}))
        if assign:
            local_metadata["assign_to_params_buffers"] = True
        # strict=True whatever ``strict`` is, as PyTorch passes it: the final check filters
        m._load_from_state_dict(local, prefix, local_metadata, True, missing, unexpected,
                                errors)
        for name, child in m._modules.items():
            if child is not None:
                # each child sees only its own keys (as its pre-hooks left them)
                child_prefix = prefix + name + "."
                visit(child, {k: v for k, v in local.items() if k.startswith(child_prefix)},
                      child_prefix)
        finish(m)
    _PLANS.append(plan)
    try:
        visit(module, state_dict, "")
    finally:
        _PLANS.pop()
    if strict:
        if unexpected:
            errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                ", ".join(f'"{k}"' for k in unexpected)))
        if missing:
            errors.insert(0, "Missing key(s) in state_dict: {}. ".format(
                ", ".join(f'"{k}"' for k in missing)))
    if not errors:
        errors = _copy(plan, assign)
    if errors:
        raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
            type(module).__name__, "\n\t".join(errors)))
    return _IncompatibleKeys(missing, unexpected)


def _copy(plan, assign):
    """Carry out the checked plan: copy each source into its target (cast to the target's
    dtype and device), or with ``assign`` put the source in the target's place. Returns
    PyTorch's words for each tensor whose copy raised (the others are still copied)."""
    errors = []
    for owner, name, target, source, key in plan:
        if target is None:                  # a module's extra state
            owner.set_extra_state(source)
            continue
        try:
            _copy_one(owner, name, target, source, assign)
        except Exception as ex:  # noqa: BLE001 (reported as PyTorch reports it)
            errors.append(f'While copying the parameter named "{key}", whose dimensions in '
                          f"the model are {target.shape} and whose dimensions in the "
                          f"checkpoint are {source.shape}, an exception occurred : "
                          f"{ex.args}.")
    return errors


def _copy_one(owner, name, target, source, assign):
    """One tensor of the plan: assigned, or copied into its target."""
    if assign:
        if isinstance(target, Parameter):
            value = (source if isinstance(source, Parameter)
                     else Parameter(source.detach(), target.requires_grad))
            value.requires_grad_(target.requires_grad)
            owner._parameters[name] = value
        else:
            owner._buffers[name] = source
        return
    if is_lazy(target):
        target.materialize(tuple(source.shape))
    array = source._array
    if array.dtype != target._array.dtype:
        array = array.astype(target._array.dtype)
    if backend.device_of(array) != target.device:
        array = backend.to_device(array, target.device)
    if array is not target._array:
        target._array[...] = array
    target._vcounter.value += 1     # an in-place copy, even of the tensor's own values
