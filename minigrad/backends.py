"""``minigrad.backends``: what ``torch.backends`` answers, for code that asks before it runs.

minigrad computes with numpy on the CPU (cupy on a CUDA GPU when installed); it has no cuDNN,
MPS, MKL-DNN or OpenMP switches.  The flags tutorials set (``cudnn.benchmark = True``,
``cudnn.deterministic = True``) are accepted and change nothing: minigrad's convolutions are
deterministic and have one algorithm.
"""
from __future__ import annotations

import contextlib
import sys
import types

from ._warn_once import warn_user
from . import _global_flags, _sdp_state, backend

__all__ = ["cudnn", "cuda", "mps", "mkldnn", "openmp", "mkl", "mha"]


class _Flags(types.ModuleType):
    """A namespace of settable flags with an ``is_available()`` answer.

    A module object, so that ``import minigrad.backends.cudnn as cudnn`` works as it does
    for PyTorch's (each top-level one is entered in ``sys.modules`` below)."""

    def __init__(self, name, available, **flags):
        super().__init__(f"minigrad.backends.{name}")
        self._available = available
        self.__dict__.update(flags)

    def is_available(self):
        return bool(self._available() if callable(self._available) else self._available)

    def is_built(self):
        return self.is_available()

    def version(self):
        return None

    def _flags(self, names, values):
        """Set the flags ``names`` to ``values`` for a ``with`` block, then restore them."""
        saved = {n: getattr(self, n) for n in names}

        @contextlib.contextmanager
        def scope():
            self.__dict__.update(zip(names, values))
            try:
                yield
            finally:
                self.__dict__.update(saved)
        return scope()


# cuDNN: not used by minigrad (cupy's kernels do the GPU work); the flags are accepted
cudnn = _Flags("cudnn", False, enabled=True, benchmark=False, benchmark_limit=10,
               deterministic=False, allow_tf32=True)
cudnn.is_acceptable = lambda tensor: False       # no tensor runs on cuDNN here


def _cudnn_flags(enabled=False, benchmark=False, benchmark_limit=10, deterministic=False,
                 allow_tf32=True, fp32_precision="none", depthwise_kernel="auto"):
    """``torch.backends.cudnn.flags``: these settings inside a ``with`` block, the old ones
    after (they change nothing minigrad computes)."""
    return cudnn._flags(("enabled", "benchmark", "benchmark_limit", "deterministic",
                         "allow_tf32"),
                        (enabled, benchmark, benchmark_limit, deterministic, allow_tf32))


cudnn.flags = _cudnn_flags
cuda = _Flags("cuda", backend.is_cuda_available)


class _MatmulFlags(_Flags):
    """``cuda.matmul``: its ``allow_tf32`` is another face of set_float32_matmul_precision,
    as torch's is: True while the precision is not "highest"; setting it True moves
    "highest" to "high", False moves any precision back to "highest"."""

    @property
    def allow_tf32(self):
        return _global_flags.get_float32_matmul_precision() != "highest"

    @allow_tf32.setter
    def allow_tf32(self, value):
        if bool(value) != self.allow_tf32:
            _global_flags.set_float32_matmul_precision("high" if value else "highest")


cuda.matmul = _MatmulFlags("cuda.matmul", backend.is_cuda_available,
                           allow_fp16_reduced_precision_reduction=True)
mps = _Flags("mps", False)
mkldnn = _Flags("mkldnn", False, enabled=False, deterministic=False, allow_tf32=True)


def _mkldnn_flags(enabled=False, deterministic=False, allow_tf32=True, fp32_precision="none"):
    """``torch.backends.mkldnn.flags``: as ``cudnn.flags``."""
    return mkldnn._flags(("enabled", "deterministic", "allow_tf32"),
                         (enabled, deterministic, allow_tf32))


mkldnn.flags = _mkldnn_flags
mkl = _Flags("mkl", False, VERBOSE_OFF=0, VERBOSE_ON=1)


@contextlib.contextmanager
def _mkl_verbose(enable):
    """``torch.backends.mkl.verbose``: MKL's call log for a ``with`` block; minigrad calls no
    MKL, so there is nothing to log."""
    yield


mkl.verbose = _mkl_verbose
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
    warn_user("`torch.backends.cuda.sdp_kernel()` is deprecated. In the future, this "
              "context manager will be removed. Please see "
              "`torch.nn.attention.sdpa_kernel()` for the new context manager, with "
              "updated signature.", FutureWarning)
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

# `import minigrad.backends.cudnn` (and the others) finds the namespace itself
for _name in __all__:
    sys.modules[f"{__name__}.{_name}"] = globals()[_name]
