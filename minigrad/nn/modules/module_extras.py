"""The less common ``Module`` methods, kept apart from ``module.py``: dotted-path access
(``get_submodule``, ``get_parameter``, ``get_buffer``, ``set_submodule``), state_dict hook
registration, ``to_empty``, ``share_memory``, and the casts ``float``, ``double``, ``half``,
``bfloat16``, ``type``, ``cpu``, ``cuda``.

State_dict hooks (run by ``Module.state_dict`` / ``load_state_dict``):
    register_state_dict_pre_hook(hook)        hook(module, prefix, keep_vars), before saving
    register_state_dict_post_hook(hook)       hook(module, state_dict, prefix, local_metadata)
    _register_state_dict_hook(hook)           same, and a non-None return replaces the dict
    register_load_state_dict_pre_hook(hook)   hook(module, state_dict, prefix, local_metadata,
                                                   strict, missing_keys, unexpected_keys,
                                                   error_msgs); may edit state_dict in place
    _register_load_state_dict_pre_hook(hook, with_module=False)   the same without ``module``
                                                                  (unless with_module)
    register_load_state_dict_post_hook(hook)  hook(module, incompatible_keys), after loading;
                                              it may remove keys from the two lists
"""
from __future__ import annotations

from collections import OrderedDict
from functools import partial

import numpy as np

from ... import backend, dtypes
from ...tensor import Tensor
from ..parameter import Parameter, is_lazy
from .hooks import RemovableHandle

__all__ = ["ModuleExtras"]


def _registry(module, name):
    """The module's OrderedDict of hooks ``name``, created on first use (so that modules
    built or unpickled before these registries existed work too)."""
    d = module.__dict__.get(name)
    if d is None:
        d = OrderedDict()
        object.__setattr__(module, name, d)
    return d


def _add(module, name, hook):
    hooks = _registry(module, name)
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


class ModuleExtras:
    """Mixin of ``Module`` (see the module docstring)."""

    # -- dotted paths ---------------------------------------------------------------------
    def get_submodule(self, target):
        """The module at dotted path ``target`` ('' is self), e.g. 'encoder.layers.0'."""
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if not hasattr(mod, item):
                raise AttributeError(f"{mod._get_name()} has no attribute `{item}`")
            mod = getattr(mod, item)
            if not isinstance(mod, ModuleExtras):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return mod

    def set_submodule(self, target, module, strict=False):
        """Put ``module`` at dotted path ``target`` (its parent must exist).  With
        ``strict=True`` only an existing submodule may be replaced."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        if not isinstance(module, ModuleExtras):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        parent_path, _, name = target.rpartition(".")
        parent = self.get_submodule(parent_path)
        if strict and not hasattr(parent, name):
            raise AttributeError(f"{parent._get_name()} has no attribute `{name}`")
        if hasattr(parent, name) and not isinstance(getattr(parent, name), ModuleExtras):
            raise AttributeError(f"`{name}` is not an nn.Module")
        setattr(parent, name, module)

    def get_parameter(self, target):
        """The Parameter at dotted path ``target``, e.g. 'encoder.layers.0.linear1.weight'."""
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(f"{mod._get_name()} has no attribute `{name}`")
        param = getattr(mod, name)
        if not isinstance(param, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return param

    def get_buffer(self, target):
        """The buffer at dotted path ``target``, e.g. 'bn.running_mean'."""
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(f"{mod._get_name()} has no attribute `{name}`")
        if name not in mod._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return mod._buffers[name]

    # -- state_dict hooks -----------------------------------------------------------------
    def register_state_dict_pre_hook(self, hook):
        """``hook(module, prefix, keep_vars)`` runs before this module saves its state."""
        return _add(self, "_state_dict_pre_hooks", hook)

    def register_state_dict_post_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata)`` runs after this module (and
        its children) saved; it edits ``state_dict`` in place and must return None."""
        return _add(self, "_state_dict_hooks", _PostHook(hook, public=True))

    def _register_state_dict_hook(self, hook):
        """As ``register_state_dict_post_hook``, but a non-None return value becomes the
        state dict passed on."""
        return _add(self, "_state_dict_hooks", _PostHook(hook, public=False))

    def register_load_state_dict_pre_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` runs before this module's keys are read."""
        return _add(self, "_load_state_dict_pre_hooks", partial(hook, self))

    def _register_load_state_dict_pre_hook(self, hook, with_module=False):
        """The older form: the hook gets no ``module`` argument unless ``with_module``."""
        return _add(self, "_load_state_dict_pre_hooks", partial(hook, self) if with_module
                    else hook)

    def register_load_state_dict_post_hook(self, hook):
        """``hook(module, incompatible_keys)`` runs after loading; it may remove entries
        from ``incompatible_keys.missing_keys`` / ``.unexpected_keys`` (a strict load only
        fails on what is left); it must return None."""
        return _add(self, "_load_state_dict_post_hooks", hook)

    # -- storage --------------------------------------------------------------------------
    def to_empty(self, *, device, recurse=True):
        """Give every parameter and buffer fresh uninitialised storage of the same shape and
        dtype on ``device`` (own tensors only with ``recurse=False``); returns self.

        The way to materialise a module built on the meta device (``with
        minigrad.device('meta'): m = Net()``): ``m.to_empty(device='cpu')``, then
        ``m.load_state_dict(sd, assign=True)`` or ``m.reset_parameters()``-style init. The
        tensors stay the same objects (a Parameter stays one): only their storage is new."""
        dev = backend.device(device if device is not None else "cpu")
        modules = self.modules() if recurse else [self]
        for module in modules:
            for registry in (module._parameters, module._buffers):
                for t in registry.values():
                    if is_lazy(t):     # no shape to allocate: PyTorch refuses it so
                        t._refuse("empty_like")
                    if t is not None:
                        a = t._array
                        if dev.type == "meta" or backend.device_of(a).type == "meta":
                            # made on the device directly: a meta array has nothing to copy
                            t._array = backend.empty(a.shape, a.dtype, dev)
                        else:       # (empty_like: the layout kept, channels-last too)
                            t._array = backend.to_device(backend.xp_of(a).empty_like(a), dev)
                        t.grad = None
        return self

    def compile(self, *args, **kwargs):
        """``Module.compile``: PyTorch compiles ``__call__`` in place and returns None; minigrad
        runs eagerly, so there is nothing to do beyond accepting ``torch.compile``'s options."""
        return None

    def share_memory(self):
        """Moves every parameter, buffer and gradient into shared memory
        (``Tensor.share_memory_``), so that processes forked afterwards (Hogwild training)
        write into the same weights; returns self."""
        for t in list(self.parameters()) + list(self.buffers()):
            t.share_memory_()
            if t.grad is not None:
                t.grad.share_memory_()
        return self

    # -- casts (``to`` is in module.py) ------------------------------------------------------
    def cuda(self, device=None):
        return self.to("cuda" if device is None else
                       (f"cuda:{device}" if isinstance(device, int) else device))

    def cpu(self):
        return self.to("cpu")

    def _cast_floating(self, dtype):
        """Cast the floating-point parameters and buffers to ``dtype``; unlike ``to(dtype)``,
        complex ones stay as they are (PyTorch's float(), double(), half(), bfloat16())."""
        def cast(t):
            array = t._array
            if array.dtype.kind in "fV" and array.dtype != dtype.np:
                return Tensor._wrap(array.astype(dtype.np))
            return t
        return self._apply(cast)

    def float(self):
        return self._cast_floating(dtypes.float32)

    def double(self):
        return self._cast_floating(dtypes.float64)

    def half(self):
        return self._cast_floating(dtypes.float16)

    def type(self, dst_type):
        """Cast every parameter and buffer, integer ones included, to ``dst_type`` (a dtype
        or a tensor type such as ``'torch.DoubleTensor'``), as ``Tensor.type`` does."""
        target = Tensor._wrap(np.zeros(0, np.float32)).type(dst_type).dtype
        self._refuse_placeholders("type", not (target.is_floating_point or target.is_complex))
        return self._apply(lambda t: Tensor._wrap(t._array).type(dst_type))

    def bfloat16(self):
        """Casts every floating parameter and buffer to bfloat16 (complex ones stay);
        returns self."""
        self._refuse_placeholders("bfloat16")
        return self._cast_floating(dtypes.bfloat16)

    def _refuse_placeholders(self, method, integral=False):
        """Before ``method`` (bfloat16, type) casts anything, what PyTorch's ``_apply`` meets
        first in its order (children, then parameters, then buffers): a lazy layer's
        placeholder (it allows only half, float, double, to...) or, for an ``integral``
        target, a parameter requiring grad."""
        for m in self.children():
            m._refuse_placeholders(method, integral)
        for t in self._parameters.values():
            if t is not None and is_lazy(t):
                t._refuse(method)
            if t is not None and integral and t.requires_grad:
                raise RuntimeError("data set to a tensor that requires gradients must be "
                                   "floating point or complex dtype")
        for t in self._buffers.values():
            if t is not None and is_lazy(t):
                t._refuse(method)


# these are Module's methods: Python's own errors name them so ("Module.to_empty() takes 1
# positional argument but 2 were given"), as PyTorch's, and pickle finds them there
for _name, _fn in list(vars(ModuleExtras).items()):
    if callable(_fn) and not _name.startswith("__"):
        _fn.__qualname__ = "Module." + _name
        _fn.__module__ = __name__.rpartition(".")[0] + ".module"
del _name, _fn


class _PostHook:
    """A state_dict post hook and whether its return value is ignored (public API) or
    replaces the state dict (the private ``_register_state_dict_hook``)."""

    def __init__(self, hook, public):
        self.hook = hook
        self.public = public

    def __call__(self, module, state_dict, prefix, local_metadata):
        result = self.hook(module, state_dict, prefix, local_metadata)
        if result is not None:
            if self.public:
                raise RuntimeError("state_dict post-hook must return None")
            return result
        return state_dict


def run_state_dict_hooks(module, kind, *args):
    """Call the module's hooks of registry ``kind`` with ``args`` (state_dict post hooks:
    returns the possibly replaced dict)."""
    hooks = module.__dict__.get(kind)
    if not hooks:
        return args[1] if kind == "_state_dict_hooks" else None
    if kind == "_state_dict_hooks":
        state = args[1]
        for hook in list(hooks.values()):
            state = hook(module, state, *args[2:])
        return state
    for hook in list(hooks.values()):
        hook(*args)
    return None

