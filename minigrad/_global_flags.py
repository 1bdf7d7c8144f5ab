"""PyTorch's process-wide switches and small predicates, at minigrad's level.

``use_deterministic_algorithms``, ``set_deterministic_debug_mode``,
``set_float32_matmul_precision``, ``set_num_interop_threads``, ``set_warn_always`` and
``set_flush_denormal`` are called at the top of training scripts.  minigrad's numpy kernels are
already deterministic and always compute float32 matmuls in float32, so these only record the
setting (their getters read it back as torch's do); nothing process-wide (threads, FPU mode,
warning filters) is touched.  ``set_anomaly_enabled`` switches minigrad.autograd's anomaly
mode (the calling thread's: minigrad keeps grad-mode state per thread).  ``compile`` returns
the model unchanged: minigrad has no compiler.
"""
from __future__ import annotations

from ._warn_once import warn_user
from .autograd.grad_mode import _state as _grad_state
from .autograd.grad_mode import is_inference_mode_enabled  # noqa: F401  (torch's top-level name)
from . import _warn_once
from ._storage import TypedStorage, UntypedStorage
from .tensor import Tensor

__all__ = ["use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
           "is_deterministic_algorithms_warn_only_enabled", "set_deterministic_debug_mode",
           "get_deterministic_debug_mode", "set_float32_matmul_precision",
           "get_float32_matmul_precision", "get_num_interop_threads", "set_num_interop_threads",
           "set_anomaly_enabled", "is_anomaly_enabled", "is_anomaly_check_nan_enabled",
           "set_warn_always", "is_warn_always_enabled", "set_flush_denormal",
           "is_inference_mode_enabled", "is_inference", "is_complex", "is_storage", "typename",
           "get_device", "compile"]


class _Flags:
    deterministic = False
    deterministic_warn_only = False
    matmul_precision = "highest"
    interop_threads = 1


_flags = _Flags()


def _require_bool(value, fn, arg, position=1):
    """torch's argument parser's refusal of a non-bool; ``position`` None for an argument
    given by keyword (the parser then names no position)."""
    if not isinstance(value, bool):
        where = "" if position is None else f" (position {position})"
        raise TypeError(f"{fn}(): argument '{arg}'{where} must be bool, not "
                        f"{type(value).__name__}")


# ----------------------------------------------------------------------------------------------
# determinism
# ----------------------------------------------------------------------------------------------
def use_deterministic_algorithms(mode, *, warn_only=False):
    """Ask for deterministic algorithms (``warn_only``: warn instead of raising where one has
    none).  minigrad's kernels are all deterministic, so this records the request only."""
    # torch's Python function hands both to torch._C._set_deterministic_algorithms, mode by
    # position and warn_only by keyword: its parser's words name that function
    _require_bool(mode, "_set_deterministic_algorithms", "mode")
    _require_bool(warn_only, "_set_deterministic_algorithms", "warn_only", None)
    _flags.deterministic, _flags.deterministic_warn_only = mode, warn_only


def are_deterministic_algorithms_enabled() -> bool:
    return _flags.deterministic


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _flags.deterministic_warn_only


_DEBUG_MODES = ("default", "warn", "error")


def set_deterministic_debug_mode(debug_mode) -> None:
    """``use_deterministic_algorithms`` by level: "default"/0 off, "warn"/1 on with
    warn_only, "error"/2 on."""
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError(f"invalid value of debug_mode, expected one of `default`, `warn`, "
                               f"`error`, but got {debug_mode}")
        debug_mode = _DEBUG_MODES.index(debug_mode)
    elif not isinstance(debug_mode, int) or isinstance(debug_mode, bool):
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode)}")
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got "
                           f"{debug_mode}")
    use_deterministic_algorithms(debug_mode > 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode() -> int:
    """0 (off), 1 (warn only) or 2 (error), as set by either function above."""
    if not _flags.deterministic:
        return 0
    return 1 if _flags.deterministic_warn_only else 2


# ----------------------------------------------------------------------------------------------
# precision, threads, warnings, denormals
# ----------------------------------------------------------------------------------------------
_PRECISIONS = ("highest", "high", "medium")


def set_float32_matmul_precision(precision) -> None:
    """"highest", "high" or "medium" (TF32 / bfloat16 matmuls on GPUs that have them).  minigrad
    always multiplies float32 in float32; the setting is recorded.  Another string warns and
    changes nothing, as torch does."""
    if not isinstance(precision, str):
        raise RuntimeError(f"set_float32_matmul_precision expects a str, but got "
                           f"{type(precision).__name__}")
    if precision not in _PRECISIONS:
        warn_user(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                  f"set_float32_matmul_precision call has no effect.", UserWarning)
        return
    _flags.matmul_precision = precision


def get_float32_matmul_precision() -> str:
    return _flags.matmul_precision


def get_num_interop_threads() -> int:
    """Threads for running independent ops concurrently: minigrad runs ops one at a time, so 1
    unless set (the setting is recorded only)."""
    return _flags.interop_threads


def set_num_interop_threads(num) -> None:
    if not isinstance(num, int) or isinstance(num, bool):
        raise RuntimeError(f"set_num_interop_threads expects an int, but got "
                           f"{type(num).__name__}")
    if num <= 0:
        raise RuntimeError("set_num_interop_threads expects a positive integer")
    _flags.interop_threads = num


def set_warn_always(b) -> None:
    """PyTorch's "warn every time, not once" flag: the once-a-process warnings
    (``_warn_once``) are then given every time (Python's filters still apply)."""
    if not isinstance(b, bool):
        raise RuntimeError(f"setWarnOnlyOnce expects a bool, but got {type(b).__name__}")
    _warn_once.state.always = b


def is_warn_always_enabled() -> bool:
    return _warn_once.state.always


def warn_once(message, stacklevel=_warn_once.USER):
    """A UserWarning PyTorch gives once per process (TORCH_WARN_ONCE): the first time only,
    every time under ``set_warn_always(True)``. By default it names the first line outside
    minigrad (the user's call), as PyTorch's C++ warnings do; an int ``stacklevel`` is handed
    to ``warnings.warn`` (2 names the caller of ``warn_once``, 3 its caller's caller)."""
    _warn_once.warn_once(message, UserWarning, stacklevel=stacklevel)


def set_flush_denormal(*args, **kwargs) -> bool:
    """set_flush_denormal(mode): whether the asked mode is in effect.  Flushing denormals
    means changing the CPU's floating-point mode for the whole process, which minigrad does
    not do: True asks for what it cannot give (False back); False asks for what it does
    (denormals kept exact: True back, as torch says on a CPU that supports the switch).
    Like torch's C function it takes exactly one positional bool."""
    if kwargs:
        raise TypeError("torch.set_flush_denormal() takes no keyword arguments")
    if len(args) != 1:
        raise TypeError(f"torch.set_flush_denormal() takes exactly one argument "
                        f"({len(args)} given)")
    if not isinstance(args[0], bool):
        raise RuntimeError(f"flush_denormal expects a bool, but got {type(args[0]).__name__}")
    return not args[0]


# ----------------------------------------------------------------------------------------------
# anomaly mode and inference mode (minigrad.autograd's state)
# ----------------------------------------------------------------------------------------------
def set_anomaly_enabled(*args, **kwargs) -> None:
    """set_anomaly_enabled(enabled, check_nan=True): switch anomaly mode on or off for the
    rest of the program (``detect_anomaly`` is the scoped form): forward records each op's
    call site, and with ``check_nan`` a backward that produces NaN/inf raises naming the op.
    Arguments are checked as torch's parser does (a keyword one's refusal names no
    position)."""
    names = ("enabled", "check_nan")
    if len(args) > 2:
        raise TypeError(f"set_anomaly_enabled() takes from 1 to 2 positional arguments but "
                        f"{len(args)} were given")
    for k in kwargs:
        if k not in names or names.index(k) < len(args):
            raise TypeError(f"set_anomaly_enabled() got an unexpected keyword argument '{k}'"
                            if k not in names else
                            f"set_anomaly_enabled() got multiple values for argument '{k}'")
    given = dict(zip(names, args), **kwargs)
    if "enabled" not in given:
        raise TypeError('set_anomaly_enabled() missing 1 required positional arguments: '
                        '"enabled"')
    given.setdefault("check_nan", True)
    for i, name in enumerate(names):
        _require_bool(given[name], "set_anomaly_enabled", name, i + 1 if i < len(args) else None)
    enabled, check_nan = given["enabled"], given["check_nan"]
    _grad_state.anomaly, _grad_state.anomaly_check_nan = enabled, check_nan


def is_anomaly_enabled() -> bool:
    return bool(_grad_state.anomaly)


def is_anomaly_check_nan_enabled() -> bool:
    """The check_nan setting of anomaly mode (True unless turned off), whether or not anomaly
    mode is on, as torch's."""
    return bool(_grad_state.anomaly_check_nan)


# ----------------------------------------------------------------------------------------------
# predicates on objects
# ----------------------------------------------------------------------------------------------
def _require_tensor(obj, fn):
    if not isinstance(obj, Tensor):
        raise TypeError(f"{fn}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(obj).__name__}")


def is_inference(input) -> bool:
    _require_tensor(input, "is_inference")
    return input.is_inference()


def is_complex(input) -> bool:
    _require_tensor(input, "is_complex")
    return input.is_complex()


def get_device(input) -> int:
    """-1 for a CPU tensor, the GPU's index for a CUDA one."""
    _require_tensor(input, "get_device")
    return input.get_device()


def is_storage(obj) -> bool:
    """Whether obj is a storage (``x.storage()``, ``x.untyped_storage()``)."""
    return isinstance(obj, (TypedStorage, UntypedStorage))


def typename(obj) -> str:
    """'minigrad.FloatTensor' for a float32 tensor (its ``.type()``), else the object's
    qualified class name ('int', 'minigrad.nn.modules.linear.Linear'); a class or function
    names itself ('minigrad.nn.parameter.Parameter')."""
    if isinstance(obj, Tensor):
        return obj.type()
    named = obj if hasattr(obj, "__qualname__") or hasattr(obj, "__name__") else type(obj)
    module = getattr(named, "__module__", "") or ""
    qualname = getattr(named, "__qualname__", None) or named.__name__
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"
