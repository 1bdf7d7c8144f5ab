"""``Module``: the base class of every layer and model.

A Module keeps three ordered registries, filled by plain attribute assignment:
    _parameters  name -> Parameter   (self.weight = Parameter(...))
    _buffers     name -> Tensor      (self.register_buffer('running_mean', ...))
    _modules     name -> Module      (self.conv1 = Conv2d(...))
From them come ``parameters()``, ``state_dict()``, ``to(device)``, ``train()``/``eval()`` and
the nested ``repr``, all laid out exactly as PyTorch's.  The methods live in mixins beside
this file: calls and hooks (``module_calls.py``), state_dict saving and loading
(``module_state_dict.py``) and the less common methods (``module_extras.py``).
"""
from __future__ import annotations

from collections import OrderedDict

from ... import backend, dtypes
from ..._tensor_methods_layout import check_to_arguments, number_as_tensor
from ..._warn_once import COMPLEX_TO_REAL, USER, warn_once, warn_user
from ... import _memory_format as mf
from ...autograd.grad_mode import no_grad
from ...tensor import Tensor
from ..._tensor_methods_layout import _parse_to
from ..._zero_grads import _zero_grads
from ..parameter import Buffer, Parameter
from . import hooks as _global_hooks
from .hooks import (  # noqa: F401  (torch.nn.modules.module's names)
    RemovableHandle, register_module_backward_hook, register_module_buffer_registration_hook,
    register_module_forward_hook, register_module_forward_pre_hook,
    register_module_full_backward_hook, register_module_full_backward_pre_hook,
    register_module_module_registration_hook, register_module_parameter_registration_hook,
    registered)
from .hooks import (  # noqa: F401  (the global registries, which some tools read there)
    _global_backward_hooks, _global_backward_pre_hooks, _global_buffer_registration_hooks,
    _global_forward_hooks, _global_forward_hooks_always_called,
    _global_forward_hooks_with_kwargs, _global_forward_pre_hooks,
    _global_module_registration_hooks, _global_parameter_registration_hooks)
from .module_calls import ModuleCalls
from .module_extras import ModuleExtras
from .module_state_dict import ModuleStateDict
from .state_dict import _IncompatibleKeys  # noqa: F401

__all__ = ["Module", "RemovableHandle"]


def _addindent(s_, num_spaces):
    lines = s_.split("\n")
    if len(lines) == 1:
        return s_
    first = lines.pop(0)
    return first + "\n" + "\n".join(num_spaces * " " + line for line in lines)


_LEGACY_TYPE = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
                "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
                "bfloat16": "BFloat16", "complex64": "ComplexFloat", "complex128": "ComplexDouble"}


def _typename(value):
    """'minigrad.FloatTensor' for a float32 tensor (PyTorch's legacy names), else the
    qualified class name ('int', 'numpy.ndarray'), as ``typename`` gives."""
    if isinstance(value, Tensor):
        return f"minigrad.{_LEGACY_TYPE.get(value.dtype.name, value.dtype.name)}Tensor"
    cls = type(value)
    module = cls.__module__
    return cls.__qualname__ if module in (None, "", "builtins") else f"{module}.{cls.__qualname__}"


class Module(ModuleCalls, ModuleExtras, ModuleStateDict):
    """What every layer and model derives from: subclass it and write ``forward``.

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 2)
            def forward(self, x):
                return self.fc(x)
    """
    training: bool
    _version = 1
    # True in a subclass that shares a cooperative base: __init__ then hands its arguments
    # on to the next class of the MRO (super().__init__(*args, **kwargs)) instead of refusing
    call_super_init = False
    dump_patches = False       # PyTorch's flag (for its module-source dumps); kept for reading

    def __init__(self, *args, **kwargs):
        # the words Python itself uses for a surplus argument, as PyTorch reports them
        if kwargs and not self.call_super_init:
            raise TypeError(f"{type(self).__name__}.__init__() got an unexpected keyword "
                            f"argument '{next(iter(kwargs))}'")
        if args and not self.call_super_init:
            raise TypeError(f"{type(self).__name__}.__init__() takes 1 positional argument "
                            f"but {len(args) + 1} were given")
        setattr_ = object.__setattr__
        setattr_(self, "training", True)
        # plain (insertion-ordered) dicts, as PyTorch's registries; the hook ones are
        # OrderedDicts (``prepend`` moves a hook to the front)
        setattr_(self, "_parameters", {})
        setattr_(self, "_buffers", {})
        setattr_(self, "_non_persistent_buffers_set", set())
        setattr_(self, "_modules", {})
        setattr_(self, "_forward_hooks", OrderedDict())
        setattr_(self, "_forward_hooks_with_kwargs", set())
        setattr_(self, "_forward_pre_hooks", OrderedDict())
        setattr_(self, "_forward_pre_hooks_with_kwargs", set())
        setattr_(self, "_backward_hooks", OrderedDict())
        setattr_(self, "_backward_pre_hooks", OrderedDict())
        if self.call_super_init:
            super().__init__(*args, **kwargs)

    # ------------------------------------------------------------------------------------------
    # Pickling
    # ------------------------------------------------------------------------------------------
    # The bookkeeping containers a module gets in __init__ besides its parameters, buffers and
    # children, with a factory for each: a module pickled before one of them existed (or whose
    # subclass hands a hand-made state to super().__setstate__) gets an empty one back.
    _STATE_DEFAULTS = (("_non_persistent_buffers_set", set), ("_forward_hooks", OrderedDict),
                       ("_forward_hooks_with_kwargs", set), ("_forward_pre_hooks", OrderedDict),
                       ("_forward_pre_hooks_with_kwargs", set),
                       ("_backward_hooks", OrderedDict), ("_backward_pre_hooks", OrderedDict))

    def __getstate__(self):
        """A copy of the instance dict, so that a subclass may edit it before pickling."""
        return self.__dict__.copy()

    def __setstate__(self, state):
        """Restore the instance dict from ``state`` and add the containers it lacks."""
        self.__dict__.update(state)
        for name, factory in self._STATE_DEFAULTS:
            if name not in self.__dict__:
                self.__dict__[name] = factory()

    def forward(self, *input):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  '"forward" function')

    # ------------------------------------------------------------------------------------------
    # Registration
    # ------------------------------------------------------------------------------------------
    def _check_name(self, name, kind):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
        if "." in name:    # PyTorch names the culprit for modules only
            raise KeyError(f'{kind} name can\'t contain "."' +
                           (f", got: {name}" if kind == "module" else ""))
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')

    def register_parameter(self, name, param):
        """Store ``param`` (a Parameter, or None) as ``self.<name>``, listed by parameters()."""
        self._check_name(name, "parameter")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is None:
            self._parameters[name] = None
            return
        if not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                            "(minigrad.nn.Parameter or None required)")
        if param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model "
                             f"parameters must be created explicitly. To express '{name}' as a "
                             "function of another Tensor, compute the value in the forward() "
                             "method.")
        g = _global_hooks
        if g._global_parameter_registration_hooks:
            param = registered(g._global_parameter_registration_hooks, self, name, param)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Keep ``tensor`` as ``self.<name>`` without making it trainable (running statistics,
        masks, tables); ``parameters()`` skips it.

        Persistent buffers are saved in ``state_dict``; all buffers move with ``to()``.
        """
        self._check_name(name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            "(minigrad Tensor or None required)")
        g = _global_hooks
        if g._global_buffer_registration_hooks:
            tensor = registered(g._global_buffer_registration_hooks, self, name, tensor)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        """Attach ``module`` (or None) under ``name``, reachable as ``self.<name>``."""
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        self._check_name(name, "module")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        g = _global_hooks
        if g._global_module_registration_hooks:
            module = registered(g._global_module_registration_hooks, self, name, module)
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._remove_from(name, d, self._buffers, self._modules,
                              self._non_persistent_buffers_set)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                "(minigrad.nn.Parameter or None expected)")
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            if d.get("_modules") is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._remove_from(name, d, self._parameters, self._buffers,
                              self._non_persistent_buffers_set)
            self._modules[name] = self._registered_module(name, value)
        elif d.get("_modules") is not None and name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as child module '{name}' "
                                "(minigrad.nn.Module or None expected)")
            self._modules[name] = self._registered_module(name, value)
        elif isinstance(value, Buffer):      # nn.Buffer(t, persistent=...): register it
            if d.get("_buffers") is None:
                raise AttributeError("cannot assign buffer before Module.__init__() call")
            self.register_buffer(name, value, value.persistent)
        elif d.get("_buffers") is not None and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                "(minigrad.nn.Buffer, minigrad.Tensor or None expected)")
            hooks = _global_hooks._global_buffer_registration_hooks
            self._buffers[name] = registered(hooks, self, name, value) if hooks else value
        else:
            object.__setattr__(self, name, value)

    def _registered_module(self, name, value):
        """``value`` as the global module registration hooks leave it."""
        hooks = _global_hooks._global_module_registration_hooks
        return registered(hooks, self, name, value) if hooks else value

    @staticmethod
    def _remove_from(name, d, *registries):
        for r in registries:
            if name in r:
                if isinstance(r, set):
                    r.discard(name)
                else:
                    del r[name]
        d.pop(name, None)

    def __getattr__(self, name):
        # Only called when normal lookup fails: look in the registries.
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            r = d.get(registry)
            if r is not None and name in r:
                return r[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        keys = list(super().__dir__())
        keys += list(self._parameters) + list(self._buffers) + list(self._modules)
        return sorted(set(k for k in keys if not k[0].isdigit()))

    # ------------------------------------------------------------------------------------------
    # Iteration over parameters, buffers and sub-modules
    # ------------------------------------------------------------------------------------------
    def _named_members(self, get_members_fn, prefix="", recurse=True, remove_duplicate=True):
        memo = set()
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        for module_prefix, module in modules:
            for k, v in get_members_fn(module):
                if v is None or (remove_duplicate and id(v) in memo):
                    continue
                if remove_duplicate:
                    memo.add(id(v))
                yield (module_prefix + ("." if module_prefix else "") + k), v

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(name, Parameter) pairs, e.g. ('conv1.weight', ...); shared parameters once."""
        yield from self._named_members(lambda m: m._parameters.items(), prefix, recurse,
                                       remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members(lambda m: m._buffers.items(), prefix, recurse,
                                       remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_children(self):
        memo = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in memo:
                memo.add(id(module))
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(name, module) for this module ('') and every descendant ('layer1.0.conv1'...)."""
        # ``memo`` holds the modules themselves (a caller may pass some in, to skip them)
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub_prefix = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub_prefix, remove_duplicate)

    def modules(self, remove_duplicate=True):
        for _, module in self.named_modules(remove_duplicate=remove_duplicate):
            yield module

    # ------------------------------------------------------------------------------------------
    # Modes and gradients
    # ------------------------------------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode (Dropout drops, BatchNorm uses batch statistics) recursively."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        """Evaluation mode: same as ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` (a bool) on every parameter in place; return self."""
        for p in self.parameters():
            if not isinstance(requires_grad, bool):
                raise TypeError("requires_grad_(): argument 'requires_grad' (position 1) must "
                                f"be bool, not {type(requires_grad).__name__}")
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Reset every parameter's ``.grad`` (to None, or to zeros in place)."""
        _zero_grads(self.parameters(), set_to_none)

    def apply(self, fn):
        """Call ``fn(module)`` on every sub-module (children first) then on self; return self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------------------------------
    # Device and dtype: converted in place, so Parameters keep their identity (optimizers made
    # before .to() still hold the right objects).
    # ------------------------------------------------------------------------------------------
    def _apply(self, fn, recurse=True):
        """PyTorch's ``_apply``: ``fn`` (Tensor -> Tensor) converts every parameter, gradient
        and buffer, children first through their own ``_apply`` (so an override there runs,
        as in PyTorch).  A parameter keeps its identity and takes the result's data; a
        buffer that ``fn`` changes becomes the new tensor, as PyTorch's ``buf.to(...)`` gives
        (references taken before still see the old dtype and device)."""
        if recurse:
            for module in self.children():
                module._apply(fn)
        with no_grad():
            for t in self._parameters.values():
                if t is None:
                    continue
                t._array = fn(t)._array
                if t.grad is not None:
                    t.grad._array = fn(t.grad)._array
            for name, t in list(self._buffers.items()):
                if t is None:
                    continue
                out = fn(t)
                if out is not t and out._array is not t._array:
                    new = type(t)._wrap(out._array, t.requires_grad)
                    new.__dict__.update(t.__dict__)
                    self._buffers[name] = new
        return self

    def to(self, *args, **kwargs):
        """``module.to(device)``, ``.to(dtype)``, ``.to(device, dtype)`` or ``.to(tensor)``,
        and ``memory_format=``.

        A dtype converts floating-point parameters and buffers only (integer buffers such as
        BatchNorm's num_batches_tracked stay int64), as in PyTorch.  A memory format lays out
        the 4-d and 5-d ones only (conv weights), the others keep theirs; a channels-last
        format of the wrong rank for one of them raises, as in PyTorch.
        """
        if len(args) > 4:
            raise TypeError(f"to() takes from 0 to 4 positional arguments but {len(args)} "
                            "were given")
        given, args = args, number_as_tensor(args)     # to(True): a bool tensor's dtype
        check_to_arguments(args, kwargs, given)    # PyTorch's parser, shared with Tensor.to
        # positional bools are non_blocking (ignored here), then copy, which a module refuses
        flags = [a for a in args if isinstance(a, bool)]
        if "copy" in kwargs or len(flags) > 1:
            raise RuntimeError(".to() does not accept copy argument")
        fmt = kwargs.pop("memory_format", None)
        fmt = None if fmt is None else mf.check(fmt, "to")
        args = tuple(a for a in args if not isinstance(a, bool))
        device, dtype = _parse_to(args, kwargs, allow_copy=False)
        if dtype is not None:
            dtype = dtypes.to_dtype(dtype)
            if dtype.is_complex:
                warn_user("Complex modules are a new feature under active development whose "
                          "design may change, and some modules might not work as expected "
                          "when using complex tensors as parameters or buffers.",
                          UserWarning)
            elif not dtype.is_floating_point:
                raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, "
                                f"but got desired dtype={dtype}")
        dev = backend.device(device) if device is not None else None

        def convert(array):
            if dtype is not None and array.dtype.kind in "fcV" and array.dtype != dtype.np:
                # floating and complex tensors take the dtype (a complex one going real keeps
                # its real part), as PyTorch's
                source = array
                if array.dtype.kind == "c" and not dtype.is_complex:
                    source = array.real
                    warn_once(COMPLEX_TO_REAL, stacklevel=USER)   # (PyTorch: once a process)
                array = source.astype(dtype.np)
            if dev is not None:
                array = backend.to_device(array, dev)
            if fmt is not None and array.ndim in (4, 5):
                strides = mf.target_strides(array, fmt)
                if mf.element_strides(array) != strides:
                    laid = mf.empty_strided(backend.xp_of(array), array.shape, strides,
                                            array.dtype)
                    laid[...] = array
                    array = laid
            return array
        return self._apply(lambda t: Tensor._wrap(convert(t._array)))

    # ------------------------------------------------------------------------------------------
    # repr
    # ------------------------------------------------------------------------------------------
    def _get_name(self):
        return type(self).__name__

    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr; layers override it."""
        return ""

    def __repr__(self):
        extra_lines = []
        extra = self.extra_repr()
        if extra:
            extra_lines = extra.split("\n")
        child_lines = []
        for key, module in self._modules.items():
            child_lines.append("(" + key + "): " + _addindent(repr(module), 2))
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"
