"""``torch._dynamo.config``: the compiler's settings, as training scripts set them
(``config.suppress_errors = True``, ``config.cache_size_limit = 64``).

minigrad runs everything eagerly (see ``minigrad/compiler.py``), so nothing reads these
settings: they are kept, with PyTorch's defaults, so that scripts which set, read or
``patch`` them run unchanged. As in PyTorch, a name that is not a setting is an error, both to
read and to write, and ``cache_size_limit`` is another name of ``recompile_limit``.
"""
import contextlib
import copy
import sys
import types

__all__ = ["patch", "get_config_copy"]

# PyTorch 2.13's defaults of the settings scripts touch
_DEFAULTS = {
    "suppress_errors": False, "verbose": False, "recompile_limit": 8,
    "accumulated_recompile_limit": 256, "automatic_dynamic_shapes": True,
    "assume_static_by_default": True, "dynamic_shapes": True, "specialize_int": False,
    "specialize_float": False, "capture_scalar_outputs": False,
    "capture_dynamic_output_shape_ops": False, "capture_autograd_function": True,
    "capture_func_transforms": True, "optimize_ddp": True, "inline_inbuilt_nn_modules": True,
    "guard_nn_modules": True, "error_on_recompile": False, "fail_on_recompile_limit_hit": False,
    "force_parameter_static_shapes": True, "force_nn_module_property_static_shapes": True,
    "allow_rnn": False, "disable": False, "trace_numpy": True, "numpy_default_float": "float64",
    "numpy_default_int": "int64", "numpy_default_complex": "complex128",
    "skip_fsdp_guards": True, "use_lazy_graph_module": True, "log_compilation_metrics": True,
    "cprofile": False, "compiled_autograd": False, "raise_on_ctx_manager_usage": True,
    "rewrite_assert_with_torch_assert": True, "minimum_call_count": 1,
    "allow_unspec_int_on_nn_module": False, "report_guard_failures": True,
    "replay_record_enabled": False, "repro_after": None, "repro_level": 2,
    "enable_compiler_collectives": False, "prefer_deferred_runtime_asserts_over_guards": False,
}
_ALIASES = {"cache_size_limit": "recompile_limit",
            "accumulated_cache_size_limit": "accumulated_recompile_limit"}
_values = dict(_DEFAULTS)


def _key(module_name, name):
    key = _ALIASES.get(name, name)
    if key not in _values:
        raise AttributeError(f"{module_name}.{name} does not exist")
    return key


def get_config_copy():
    """Every setting and its value, as a new dict."""
    return copy.deepcopy(_values)


class _Patch(contextlib.ContextDecorator):
    """Settings changed for a ``with`` block or a decorated function, then restored."""

    def __init__(self, changes):
        self._changes = {_key(__name__, k): v for k, v in changes.items()}
        self._saved = []

    def __enter__(self):
        self._saved.append({k: _values[k] for k in self._changes})
        _values.update(self._changes)

    def __exit__(self, *exc_info):
        _values.update(self._saved.pop())
        return False


_UNSET = object()


def patch(arg1=None, arg2=_UNSET, **kwargs):
    """``patch("name", value)``, ``patch({"name": value})`` or ``patch(name=value)``."""
    if arg1 is None:
        changes = {}
    elif arg2 is not _UNSET:
        if not isinstance(arg1, str):
            raise AssertionError("first argument must be a str when passing two positional "
                                 "args to patch")
        changes = {arg1: arg2}
    elif isinstance(arg1, dict):
        changes = dict(arg1)
    else:
        raise AssertionError("first argument must be a dict when passing a single positional "
                             "arg to patch")
    changes.update(kwargs)
    return _Patch(changes)


class _ConfigModule(types.ModuleType):
    """This module, with its settings as attributes that refuse unknown names."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(f"module '{self.__name__}' has no attribute '{name}'")
        return _values[_key(self.__name__, name)]

    def __setattr__(self, name, value):
        if name.startswith("_") or name in self.__dict__:
            super().__setattr__(name, value)
        else:
            _values[_key(self.__name__, name)] = value

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(_values) | set(_ALIASES))


sys.modules[__name__].__class__ = _ConfigModule
