"""``minigrad.backends``: what ``torch.backends`` answers, for code that asks before it runs.

minigrad computes with numpy on the CPU (cupy on a CUDA GPU when installed); it has no cuDNN,
MPS, MKL-DNN or OpenMP switches.  The flags tutorials set (``cudnn.benchmark = True``,
``cudnn.deterministic = True``) are accepted and change nothing: minigrad's convolutions are
deterministic and have one algorithm.
"""
from __future__ import annotations

from . import backend

__all__ = ["cudnn", "cuda", "mps", "mkldnn", "openmp", "mkl"]


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
