"""``torch.utils.dlpack``: ``from_dlpack`` and ``to_dlpack``, the very functions of
``minigrad.from_dlpack`` and ``minigrad.to_dlpack`` (``minigrad/_tensor_extras.py``), and
``DLDeviceType``, the DLPack device codes ``__dlpack_device__`` answers with.

    t = from_dlpack(np_array)            # shares the array's memory
    t = from_dlpack(to_dlpack(other))    # through a capsule, which is then used up
"""
import enum

from .._tensor_extras import from_dlpack, to_dlpack

__all__ = ["DLDeviceType", "from_dlpack", "to_dlpack"]


class DLDeviceType(enum.IntEnum):
    """DLPack's device codes (``dlpack.h``): ``t.__dlpack_device__()[0]`` is one of them."""
    kDLCPU = 1
    kDLCUDA = 2
    kDLCUDAHost = 3
    kDLOpenCL = 4
    kDLVulkan = 7
    kDLMetal = 8
    kDLVPI = 9
    kDLROCM = 10
    kDLROCMHost = 11
    kDLExtDev = 12
    kDLCUDAManaged = 13
    kDLOneAPI = 14
    kDLWebGPU = 15
    kDLHexagon = 16
    kDLMAIA = 17
