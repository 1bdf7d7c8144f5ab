"""``minigrad.autocast``: regions where matmul, linear and the convolutions run in 16 bits.

Inside ``with minigrad.autocast('cpu'):`` (bfloat16, PyTorch's CPU default; float16 when asked
with ``dtype=minigrad.float16``) the ops PyTorch's CPU autocast lowers (matmul, mm, bmm, linear,
conv1d/2d/3d, conv_transpose1d/2d/3d, addmm, addbmm, baddbmm) cast their float32 operands to
that dtype and return it; the losses it keeps in float32 (cross_entropy, nll_loss, mse_loss,
l1_loss, binary_cross_entropy(_with_logits)) cast 16-bit operands up to float32. Everything
else runs in the dtype it is given, as in PyTorch.
The casts are ordinary differentiable ops, so gradients arrive in the parameters' own dtype.

Differences from PyTorch, on purpose:
* CUDA autocast takes float16 only: cupy has no bfloat16 (``cuda.is_bf16_supported()`` is
  False), so a bfloat16 request on 'cuda' warns and leaves autocast off.
* The state is process-wide, not per thread; the cast cache (``cache_enabled``) is accepted
  and reported but nothing is cached (a cast is cheap next to the matmul it feeds).
"""
from __future__ import annotations

import functools
import warnings

from .. import _autocast_state as _state
from .. import backend
from ..dtypes import DType, bfloat16, float16

__all__ = ["autocast", "is_autocast_available", "custom_fwd", "custom_bwd"]


def _check_device_type(device_type):
    """The device type whose autocast state ``device_type`` (a device string) names."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    return _state.device_type_of(device_type)


def _refuse_foreign_dtype(dtype):
    """A dtype that is not minigrad's (another library's) cannot be honoured: say so plainly."""
    if dtype is not None and not isinstance(dtype, DType):
        name = str(dtype)
        raise TypeError(f"autocast: dtype must be a minigrad dtype, got {name}")


_CPU_DTYPES = (bfloat16, float16)


def is_autocast_available(device_type: str) -> bool:
    """True for the device types autocast knows ('cpu', 'cuda' and the accelerators PyTorch
    names; a device string with an index counts as its type)."""
    try:
        kind = _state.device_type_of(device_type)
    except RuntimeError as exc:
        if "scalarType" in str(exc):
            return False
        raise
    return kind != "hip"


class autocast:
    """Context manager (and decorator) turning autocast on or off for one device type.

    autocast(device_type, dtype=None, enabled=True, cache_enabled=None)

    ``dtype`` None keeps the device's current autocast dtype (bfloat16 on the CPU, float16 on
    CUDA, unless changed with ``set_autocast_dtype``). As in PyTorch, a dtype other than
    bfloat16 or float16 on the CPU (float16 on CUDA), or 'cuda' on a machine without CUDA,
    warns and leaves autocast off for the region. Regions nest: leaving one restores the
    state it found.
    """

    def __init__(self, device_type: str, dtype=None, enabled: bool = True,
                 cache_enabled=None):
        self._kind = _check_device_type(device_type)       # 'cpu:0' keeps the CPU's state
        if self._kind == "hip":                 # (a dtype to report, but no region to enter)
            raise RuntimeError(f"User specified an unsupported autocast device_type "
                               f"'{device_type}'")
        _refuse_foreign_dtype(dtype)
        self.device = device_type
        self.fast_dtype = _state.get_dtype(self._kind) if dtype is None else dtype
        self._cache_enabled = _state.is_cache_enabled() if cache_enabled is None \
            else cache_enabled
        self._enabled = bool(enabled)
        if device_type == "cuda" and self._enabled and not backend.is_cuda_available():
            warnings.warn("CUDA is not available or torch_xla is imported. Disabling "
                          "autocast.")
            self._enabled = False
        if self._enabled and device_type == "cpu" and self.fast_dtype not in _CPU_DTYPES:
            warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling "
                          "autocast.\nCPU Autocast only supports dtypes of minigrad.bfloat16, "
                          "minigrad.float16 currently.")
            self._enabled = False
        elif self._enabled and device_type == "cuda" and self.fast_dtype != float16:
            warnings.warn("In CUDA autocast, but the target dtype is not supported. Disabling "
                          "autocast.\nCUDA Autocast only supports dtype of minigrad.float16 "
                          "currently (cupy has no bfloat16).")
            self._enabled = False

    def __enter__(self):
        self._saved = (_state.is_enabled(self._kind), _state.get_dtype(self._kind),
                       _state.is_cache_enabled())
        _state.set_enabled(self._kind, self._enabled)
        _state.set_dtype(self._kind, self.fast_dtype)
        _state.set_cache_enabled(self._cache_enabled)
        _state.increment_nesting()
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        _state.decrement_nesting()
        enabled, dtype, cache = self._saved
        _state.set_enabled(self._kind, enabled)
        _state.set_dtype(self._kind, dtype)
        _state.set_cache_enabled(cache)
        return False

    def __call__(self, func):
        """As a decorator: each call of ``func`` runs inside a fresh copy of this region."""
        settings = (self.device, self.fast_dtype, self._enabled, self._cache_enabled)

        @functools.wraps(func)
        def run_autocast(*args, **kwargs):
            with autocast(*settings):
                return func(*args, **kwargs)
        return run_autocast


def custom_fwd(fwd=None, *, device_type: str, cast_inputs=None):
    """Decorator for a custom Function's ``forward``: with ``cast_inputs`` set, floating
    tensor arguments are cast to it and the forward runs with autocast off; without it, the
    forward runs under the autocast state of the caller (recorded for ``custom_bwd``)."""
    kind = _check_device_type(device_type)
    _refuse_foreign_dtype(cast_inputs)
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def forward(*args, **kwargs):
        if cast_inputs is None or not _state.is_enabled(kind):
            return fwd(*args, **kwargs)
        args = [_cast_floating(a, cast_inputs) for a in args]
        kwargs = {k: _cast_floating(v, cast_inputs) for k, v in kwargs.items()}
        with autocast(device_type, enabled=False):
            return fwd(*args, **kwargs)
    return forward


def custom_bwd(bwd=None, *, device_type: str):
    """Decorator for a custom Function's ``backward``; backward runs in the dtypes it is given
    (minigrad records no per-Function autocast state), so it returns ``bwd`` wrapped as is."""
    _check_device_type(device_type)
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def backward(*args, **kwargs):
        return bwd(*args, **kwargs)
    return backward


def _cast_floating(value, dtype):
    """A floating tensor in ``dtype``; anything else unchanged."""
    if hasattr(value, "is_floating_point") and value.is_floating_point():
        return value.to(dtype)
    return value


# -- the global switches PyTorch exports at top level (torch.is_autocast_enabled, ...) --------
def _device_arg(device_type, name):
    if not isinstance(device_type, str):
        raise TypeError(f"{name}(): argument 'device_type' (position 1) must be str, not "
                        f"{type(device_type).__name__}")
    return _check_device_type(device_type)


def is_autocast_enabled(device_type=None) -> bool:
    """Whether autocast is on for ``device_type`` ('cuda' when omitted, as in PyTorch)."""
    if device_type is None:
        return _state.is_enabled("cuda")
    return _state.is_enabled(_device_arg(device_type, "is_autocast_enabled"))


def set_autocast_enabled(device_type, enabled=None) -> None:
    """set_autocast_enabled(device_type, enabled), or set_autocast_enabled(enabled) for
    'cuda' (PyTorch's older form)."""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    _state.set_enabled(_device_arg(device_type, "set_autocast_enabled"), enabled)


def get_autocast_dtype(device_type: str):
    """The dtype autocast lowers to on ``device_type`` (bfloat16 on the CPU, float16 on CUDA,
    unless set otherwise)."""
    return _state.get_dtype(_device_arg(device_type, "get_autocast_dtype"))


def set_autocast_dtype(device_type: str, dtype) -> None:
    _refuse_foreign_dtype(dtype)
    _state.set_dtype(_device_arg(device_type, "set_autocast_dtype"), dtype)


def is_autocast_cpu_enabled() -> bool:
    return _state.is_enabled("cpu")


def set_autocast_cpu_enabled(enabled: bool) -> None:
    _state.set_enabled("cpu", enabled)


def get_autocast_cpu_dtype():
    return _state.get_dtype("cpu")


def set_autocast_cpu_dtype(dtype) -> None:
    set_autocast_dtype("cpu", dtype)


def get_autocast_gpu_dtype():
    return _state.get_dtype("cuda")


def set_autocast_gpu_dtype(dtype) -> None:
    set_autocast_dtype("cuda", dtype)


def is_autocast_cache_enabled() -> bool:
    return _state.is_cache_enabled()


def set_autocast_cache_enabled(enabled: bool) -> None:
    _state.set_cache_enabled(enabled)


def clear_autocast_cache() -> None:
    """Nothing to clear: minigrad's autocast keeps no cast cache."""


def autocast_increment_nesting() -> int:
    return _state.increment_nesting()


def autocast_decrement_nesting() -> int:
    return _state.decrement_nesting()
