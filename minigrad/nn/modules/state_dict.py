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

from ... import backend
from ...tensor import Tensor

__all__ = ["load_state_dict", "_IncompatibleKeys"]


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys it did not find and those it did not use."""

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _plan_module(module, state_dict, prefix, plan, missing, unexpected, errors):
    """Check one module's own keys (no copy yet): collect (target, source) pairs and errors.

    ``module._load_defaults(state_dict, prefix)`` may supply values for keys an older
    checkpoint lacks (BatchNorm's num_batches_tracked).
    """
    defaults = module._load_defaults(state_dict, prefix)
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
        if tuple(source.shape) != tuple(target.shape):
            errors.append(f"size mismatch for {key}: copying a param with shape "
                          f"{source.shape} from checkpoint, the shape in current model is "
                          f"{target.shape}.")
            continue
        plan.append((target, source))
    for key in state_dict:
        if key.startswith(prefix):
            # 'name' must be one of this module's own tensors, 'child.rest' must go through
            # a child module ('weight.x' is unexpected even though 'weight' exists)
            parts = key[len(prefix):].split(".", 1)
            if (parts[0] not in module._modules) if len(parts) > 1 else (parts[0] not in local):
                unexpected.append(key)


def load_state_dict(module, state_dict, strict=True, assign=False):
    """Load ``state_dict`` into ``module`` and its descendants (see Module.load_state_dict)."""
    if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
        raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
    if assign:
        raise NotImplementedError("load_state_dict(assign=True) is not supported by "
                                  "minigrad; the values are always copied in")
    plan, missing, unexpected, errors = [], [], [], []

    def visit(m, prefix):   # the traversal order of PyTorch's load (duplicates included)
        _plan_module(m, state_dict, prefix, plan, missing, unexpected, errors)
        for name, child in m._modules.items():
            if child is not None:
                visit(child, prefix + name + ".")
    visit(module, "")
    if strict:
        if unexpected:
            errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                ", ".join(f'"{k}"' for k in unexpected)))
        if missing:
            errors.insert(0, "Missing key(s) in state_dict: {}. ".format(
                ", ".join(f'"{k}"' for k in missing)))
    if errors:
        raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
            type(module).__name__, "\n\t".join(errors)))
    for target, source in plan:       # everything checked: now copy
        array = source._array
        if array.dtype != target._array.dtype:
            array = array.astype(target._array.dtype)
        if backend.device_of(array) != target.device:
            array = backend.to_device(array, target.device)
        if array is not target._array:
            target._array[...] = array
            target._version.value += 1
    return _IncompatibleKeys(missing, unexpected)
