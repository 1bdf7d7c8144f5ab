"""``minigrad.compile`` and ``minigrad.compiler``: PyTorch's names, for code that runs eagerly.

minigrad has no compiler. ``compile(fn)`` gives the function back; ``compile(module)`` gives
an ``OptimizedModule`` as PyTorch's does -- a wrapper whose forward is the module's own, whose
state-dict keys carry the ``_orig_mod.`` prefix and whose ``_orig_mod`` is the module (code
that saves or unwraps compiled models relies on both). Code is never being compiled or
exported, and the decorators that steer a compiler (``disable``, ``allow_in_graph``,
``assume_constant_result``...) return the function they decorate.
"""
from __future__ import annotations

import functools

import numpy as np

from .nn.modules.module import Module
from .tensor import Tensor
from ._tensor_factories import from_numpy

__all__ = ["compile", "is_compiling", "is_dynamo_compiling", "is_exporting", "disable",
           "reset", "allow_in_graph", "assume_constant_result", "substitute_in_graph",
           "nested_compile_region", "cudagraph_mark_step_begin", "set_stance", "wrap_numpy",
           "list_backends"]


class OptimizedModule(Module):
    """What ``compile(module)`` returns: ``module`` as its one child ``_orig_mod``; calling it
    calls the module (hooks included); other attributes are the module's."""

    def __init__(self, mod):
        super().__init__()
        self._orig_mod = mod

    def forward(self, *args, **kwargs):
        return self._orig_mod(*args, **kwargs)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)          # parameters, buffers, _orig_mod
        except AttributeError:
            return getattr(self._modules["_orig_mod"], name)


class TorchDynamoException(RuntimeError):
    """The base of the compiler front end's errors (``torch._dynamo.exc``)."""
    __module__ = "minigrad._dynamo.exc"      # where code reaches it, as torch's


class InvalidBackend(TorchDynamoException):
    """``compile``'s refusal of a backend name no compiler is registered under."""
    __module__ = "minigrad._dynamo.exc"

    def __init__(self, name):
        super().__init__(f"Invalid backend: {name!r}, see `torch._dynamo.list_backends()` "
                         f"for available backends.")


# the backends PyTorch registers, each with its tags (list_backends leaves out those tagged
# for debugging or as experimental by default); compile accepts any of them (a callable
# backend too), and runs eagerly whatever it is given
_BACKEND_TAGS = dict(
    {name: () for name in ("cudagraphs", "inductor", "openxla", "tvm")},
    openxla_eval=("experimental",),
    **{name: ("debug",) for name in (
        "aot_eager", "aot_eager_decomp_partition", "aot_eager_decomp_partition_crossref",
        "aot_eager_decomp_partition_with_mode", "aot_eager_default_partitioner", "aot_ts",
        "dynamo_accuracy_minifier_backend", "dynamo_minifier_backend", "eager", "eager_debug",
        "eager_noexcept", "invoke_subgraph", "non_leaf_compile_error_TESTING_ONLY",
        "pre_dispatch_eager", "relu_accuracy_error_TESTING_ONLY",
        "relu_compile_error_TESTING_ONLY", "relu_runtime_error_TESTING_ONLY", "ts")})
_INDUCTOR_MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs",
                   "max-autotune")


def list_backends(exclude_tags=("debug", "experimental")):
    """The names of the registered compiler backends, those with a tag in ``exclude_tags``
    left out."""
    exclude = set(exclude_tags or ())
    return sorted(n for n, tags in _BACKEND_TAGS.items() if not exclude.intersection(tags))


def _check_compile_options(backend, mode, options):
    """torch.compile's checks of its settings, in its order: mode beside options, the
    inductor's modes, the backend's name."""
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be "
                           "specified at the same time.")
    if backend == "inductor" and mode is not None and mode not in _INDUCTOR_MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: "
                           f"{', '.join(_INDUCTOR_MODES)}")
    if isinstance(backend, str) and backend not in _BACKEND_TAGS:
        raise InvalidBackend(backend)


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None,
            options=None, disable=False, **kwargs):
    """``torch.compile`` without a compiler: a function comes back as it is, a Module wrapped
    in an ``OptimizedModule``. Works as ``compile(model)``, ``@compile`` and
    ``@compile(mode=...)``; the settings are checked as PyTorch checks them (a mode beside
    options, an unknown inductor mode or backend name are refused with its words) and
    otherwise ignored."""
    if model is None:
        return functools.partial(compile, fullgraph=fullgraph, dynamic=dynamic,
                                 backend=backend, mode=mode, options=options, disable=disable,
                                 **kwargs)
    _check_compile_options(backend, mode, options)
    if not callable(model):
        raise AssertionError(f"A callable function is expected, but {type(model)} is "
                             f"provided.")
    return OptimizedModule(model) if isinstance(model, Module) else model


def is_compiling() -> bool:
    """False: minigrad code always runs eagerly."""
    return False


def is_dynamo_compiling() -> bool:
    return False


def is_exporting() -> bool:
    return False


def reset() -> None:
    """Forget compiled code: there is none."""


def cudagraph_mark_step_begin() -> None:
    """Marks a training step for CUDA graphs, which minigrad does not record."""


def disable(fn=None, recursive=True, *, reason=None):
    """``@disable`` or ``@disable(recursive=False)``: keep ``fn`` out of compilation; it
    always is, so ``fn`` comes back unchanged."""
    if fn is None:
        return _identity
    if not callable(fn):
        raise AssertionError("fn must be callable")
    return fn


def _identity(fn):
    return fn


def allow_in_graph(fn):
    if not callable(fn):
        raise AssertionError("allow_in_graph expects a callable")
    return fn


def assume_constant_result(fn):
    return fn


def substitute_in_graph(original_fn, *, can_constant_fold_through=False,
                        skip_signature_check=False):
    """A decorator registering a compiler-friendly stand-in for ``original_fn``; eagerly the
    decorated function is returned as it is."""
    return _identity


def nested_compile_region(fn=None, *, options=None, max_reuse_entries=8, reuse_hash_fn=None):
    return _identity if fn is None else fn


class set_stance:  # noqa: N801  (PyTorch's spelling: a function-like context manager)
    """How compiled functions behave (``'force_eager'``, ...): eager already, so a no-op usable
    as a call, a ``with`` block or a decorator."""

    def __init__(self, stance="default", *, skip_guard_eval_unsafe=False, force_backend=None):
        self.stance = stance

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def __call__(self, fn):
        return fn


def _to_numpy(value):
    if isinstance(value, Tensor):
        return value.numpy()
    if isinstance(value, (list, tuple)):
        return type(value)(_to_numpy(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    return value


def _to_tensor(value):
    if isinstance(value, np.ndarray):
        return from_numpy(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_to_tensor(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_tensor(v) for k, v in value.items()}
    return value


def wrap_numpy(fn):
    """Let a function written for numpy arrays take and return tensors: tensor arguments
    arrive as arrays, array results leave as tensors (as PyTorch's eager ``wrap_numpy``)."""
    def wrapped(*args, **kwargs):
        return _to_tensor(fn(*_to_numpy(args), **_to_numpy(kwargs)))
    wrapped.__wrapped__ = fn
    return wrapped
