"""``minigrad.version``: what ``torch.version`` tells about the build.

minigrad is pure Python on numpy: no CUDA/ROCm/XPU toolkit is compiled in (``cuda``, ``hip``,
``xpu`` are None; GPUs are reached through cupy when installed), it is never a debug build, and
there is no build-time git hash to record.
"""
__all__ = ["__version__", "cuda", "hip", "xpu", "git_version", "debug"]

__version__ = "0.2.0"
cuda = None
hip = None
rocm = None
xpu = None
git_version = "Unknown"
debug = False
