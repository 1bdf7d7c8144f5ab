"""``minigrad.version``: what ``torch.version`` tells about the build.

minigrad is pure Python on numpy: no CUDA/ROCm/XPU toolkit is compiled in (``cuda``, ``hip``,
``xpu`` are None; GPUs are reached through cupy when installed), it is never a debug build, and
there is no build-time git hash to record.
"""
from .torch_version import TorchVersion

__all__ = ["__version__", "cuda", "hip", "xpu", "git_version", "debug"]

# a str that compares as a version ("0.10.0" > "0.9"), as torch.__version__ does
__version__ = TorchVersion("0.2.0")
cuda = None
hip = None
rocm = None
xpu = None
git_version = "Unknown"
debug = False
