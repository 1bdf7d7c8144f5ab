"""``weight_norm`` / ``remove_weight_norm``: reparametrize a weight by its direction and norm.

    w = g * v / ||v||

where the norm is taken over every dim except ``dim`` (one norm per output channel with the
default ``dim=0``; over the whole tensor with ``dim=None``).  The module's parameter
``<name>`` is replaced by two: ``<name>_g`` (the norms, shaped like w with 1 in every dim
but ``dim``) and ``<name>_v`` (the direction, w's shape), and a forward pre-hook recomputes
``module.<name>`` from them before every call, with minigrad ops (so gradients reach g and v).
"""
from __future__ import annotations

from ..._warn_once import warn_user
from ...ops.weight_norm_parts import _norm_except
from ..parameter import Parameter

__all__ = ["WeightNorm", "weight_norm", "remove_weight_norm"]


def _norm_except_dim(v, dim):
    """The 2-norm of ``v`` over every dim but ``dim`` (keepdim), or over all of it when
    ``dim`` is -1 (a 0-d tensor): ``torch.norm_except_dim(v, 2, dim)``, as PyTorch's."""
    return _norm_except(v, 2, dim)


class WeightNorm:
    """The forward pre-hook that recomputes ``module.<name>`` = g * v / ||v||."""

    def __init__(self, name, dim):
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module):
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return v * (g / _norm_except_dim(v, self.dim))

    @staticmethod
    def apply(module, name, dim):
        # deprecated (a FutureWarning, as PyTorch) for ``parametrizations.weight_norm``; the
        # warning is the class's, so that code calling WeightNorm.apply directly sees it too
        warn_user("`minigrad.nn.utils.weight_norm` is deprecated in favor of "
                  "`minigrad.nn.utils.parametrizations.weight_norm`.", FutureWarning)
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same "
                                   f"parameter {name}")
        fn = WeightNorm(name, dim)
        weight = getattr(module, name)
        if fn.dim < -1:
            fn.dim += weight.ndim
        del module._parameters[name]
        module.register_parameter(name + "_g",
                                  Parameter(_norm_except_dim(weight, fn.dim).detach()))
        module.register_parameter(name + "_v", Parameter(weight.detach()))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module):
        weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module, name="weight", dim=0):
    """Replace ``module.<name>`` by ``<name>_g`` and ``<name>_v`` (see the module docstring);
    returns ``module``.  ``dim=None`` uses one norm for the whole tensor.  Deprecated (a
    FutureWarning, as PyTorch) for ``parametrizations.weight_norm``."""
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name="weight"):
    """Undo ``weight_norm``: ``<name>`` becomes a plain Parameter again (its current value)."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, WeightNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")
