"""``minigrad.backends``: what ``torch.backends`` answers, for code that asks before it runs.

minigrad computes with numpy on the CPU (cupy on a CUDA GPU when installed); it has no cuDNN,
MPS, MKL-DNN or OpenMP switches.  The flags tutorials set (``cudnn.benchmark = True``,
``cudnn.deterministic = True``) are accepted and change nothing: minigrad's convolutions are
deterministic and have one algorithm.
"""
from __future__ import annotations

import contextlib
import warnings

from . import _sdp_state, backend

__all__ = ["cudnn", "cuda", "mps", "mkldnn", "openmp", "mkl", "mha"]


class _Flags:
    """A namespace of settable flags with an ``is_available()`` answer."""

    def __init__(self, name, available, **flags):
        self.__name__ = f"minigrad.backends.{name}"
        self._available = available
        self.__dict__.update(flags)

    def is_available(self):
        return bool(self._available() if callable(self._available) else self._available)

    def is_built(self):
        return self.is_available()

    def version(self):
        return None

    def __repr__(self):
        return f"<namespace {self.__name__}>"


# cuDNN: not used by minigrad (cupy's kernels do the GPU work); the flags are accepted
cudnn = _Flags("cudnn", False, enabled=True, benchmark=False, deterministic=False,
               allow_tf32=True)
cuda = _Flags("cuda", backend.is_cuda_available)
cuda.matmul = _Flags("cuda.matmul", backend.is_cuda_available, allow_tf32=False,
                     allow_fp16_reduced_precision_reduction=True)
mps = _Flags("mps", False)
mkldnn = _Flags("mkldnn", False, enabled=False)
mkl = _Flags("mkl", False)
openmp = _Flags("openmp", False)


# The switches of scaled_dot_product_attention's kernels (see minigrad/_sdp_state.py): minigrad
# has one kernel, so they change no number, only whether a call may run, as on PyTorch's CPU.
def _sdp_switches(name):
    def enabled():
        return _sdp_state.is_enabled(name)

    def enable(enabled):
        if not isinstance(enabled, bool):
            raise RuntimeError(f"set_sdp_use_{name} expects a bool, but got "
                               f"{type(enabled).__name__}")
        _sdp_state.set_enabled(name, enabled)
    enabled.__name__, enable.__name__ = f"{name}_sdp_enabled", f"enable_{name}_sdp"
    return enabled, enable


cuda.flash_sdp_enabled, cuda.enable_flash_sdp = _sdp_switches("flash")
cuda.mem_efficient_sdp_enabled, cuda.enable_mem_efficient_sdp = _sdp_switches("mem_efficient")
cuda.math_sdp_enabled, cuda.enable_math_sdp = _sdp_switches("math")
cuda.cudnn_sdp_enabled, cuda.enable_cudnn_sdp = _sdp_switches("cudnn")
cuda.is_flash_attention_available = lambda: False


@contextlib.contextmanager
def _sdp_kernel(enable_flash=True, enable_math=True, enable_mem_efficient=True,
                enable_cudnn=True):
    """The older spelling of ``minigrad.nn.attention.sdpa_kernel``: switch the kernels on or
    off for a region, then restore them."""
    warnings.warn("`torch.backends.cuda.sdp_kernel()` is deprecated. In the future, this "
                  "context manager will be removed. Please see "
                  "`torch.nn.attention.sdpa_kernel()` for the new context manager, with "
                  "updated signature.", FutureWarning, stacklevel=3)
    saved = _sdp_state.snapshot()
    try:
        for name, on in (("flash", enable_flash), ("math", enable_math),
                         ("mem_efficient", enable_mem_efficient), ("cudnn", enable_cudnn)):
            _sdp_state.set_enabled(name, on)
        yield {}
    finally:
        _sdp_state.restore(saved)


cuda.sdp_kernel = _sdp_kernel

# torch.backends.mha: the switch of MultiheadAttention's inference fast path (see
# nn/modules/attention.py for what it changes)
mha = _Flags("mha", True)
mha.get_fastpath_enabled = _sdp_state.get_fastpath_enabled
mha.set_fastpath_enabled = _sdp_state.set_fastpath_enabled
