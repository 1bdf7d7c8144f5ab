"""The one place that decides which array library runs: numpy on the CPU, cupy on CUDA.

Every op asks this module for its array module (``xp``) instead of importing numpy or cupy
itself, so one code path serves both devices.  cupy is imported lazily, only when a CUDA
device is first asked for, so ``import minigrad`` needs numpy alone.

The contract an array library must meet is small: numpy's API (``xp.matmul``, ``xp.einsum``,
``xp.lib.stride_tricks.as_strided``...) plus the few helpers defined here (``index_add``,
``to_device``, ``as_numpy``).
"""
from __future__ import annotations

import numpy as np

from . import _meta, parallel

__all__ = [
    "Device", "device", "cpu", "meta", "xp_of", "device_of", "array_module", "to_device",
    "as_numpy", "empty", "set_default", "is_cuda_available", "cuda_device_count", "index_add",
    "matmul", "sliding_window_view", "strided_view",
    "tune_host_allocator",
]

_cupy = None            # the cupy module once imported
_cupy_error = None      # why importing cupy failed, for a clear message


def _import_cupy():
    """Import cupy on first use; return None (and remember why) when it is unusable."""
    global _cupy, _cupy_error
    if _cupy is None and _cupy_error is None:
        try:
            import cupy  # noqa: the only import of cupy in minigrad
            cupy.cuda.runtime.getDeviceCount()  # raises when no driver or no GPU
            _cupy = cupy
        except Exception as exc:  # ImportError, CUDARuntimeError, ...
            _cupy_error = f"{type(exc).__name__}: {exc}"
    return _cupy


def check_pin_memory(value, name, none_ok=True):
    """A factory's ``pin_memory=``: False (or None where ``none_ok``) takes ordinary memory;
    True needs an accelerator (page-locked host memory is for copies to one), refused without
    one in PyTorch's words; anything else is PyTorch's TypeError."""
    if value is False or (value is None and none_ok):
        return
    if value is not True:
        raise TypeError(f"{name}(): argument 'pin_memory' must be bool, not "
                        f"{type(value).__name__}")
    if not is_cuda_available():
        raise RuntimeError("pin_memory=True requires a CUDA or other accelerator backend; no "
                           "pinned memory allocator is available on this system.")


def is_cuda_available() -> bool:
    """True when cupy imports and sees at least one CUDA GPU."""
    return _import_cupy() is not None


def cuda_device_count() -> int:
    cp = _import_cupy()
    return 0 if cp is None else cp.cuda.runtime.getDeviceCount()


def _require_cupy():
    cp = _import_cupy()
    if cp is None:
        raise RuntimeError(
            "CUDA was requested, but minigrad cannot use a GPU here: "
            f"{_cupy_error}. Install cupy for your CUDA version (pip install 'minigrad[cuda]') "
            "on a machine with an NVIDIA GPU, or use device='cpu'.")
    return cp


# the device types PyTorch's device strings may name, in the order its message lists them
_TORCH_DEVICE_TYPES = ("cpu, cuda, ipu, xpu, mkldnn, opengl, opencl, ideep, hip, ve, fpga, maia, "
                       "xla, lazy, vulkan, mps, meta, hpu, mtia, privateuseone")


class Device:
    """A device: ``Device('cpu')``, ``Device('cuda')`` (= cuda:0), ``Device('cuda:1')`` or
    ``Device('meta')`` (tensors with a shape and a dtype but no data: see ``_meta``).

    Compares equal to its string form, so ``t.device == 'cpu'`` works as in PyTorch.
    """
    _tp_name = "minigrad.device"  # PyTorch's C type's name, in its argument errors
    __slots__ = ("type", "index")

    def __init__(self, spec="cpu", index=None):
        if isinstance(spec, Device):
            self.type, self.index = spec.type, spec.index
            return
        if not isinstance(spec, str):
            raise TypeError(f"device must be a string like 'cpu' or 'cuda:0', got {spec!r}")
        kind, colon, num = spec.partition(":")
        # PyTorch's shape of a device string, a name of letters and '_' with an optional
        # index ('float64' is no device name at all; 'foo' is one of an unknown device)
        if not (kind.isascii() and kind.replace("_", "a").isalpha()) or (colon and not (
                num == "0" or (num.isascii() and num.isdigit() and num[0] != "0"))):
            raise RuntimeError(f"Invalid device string: '{spec}'")
        if kind not in ("cpu", "cuda", "meta"):
            # a name PyTorch knows no device type by: its words, listing its types; one of
            # those types minigrad has no device for: the three it has
            known = _TORCH_DEVICE_TYPES if kind not in _TORCH_DEVICE_TYPES.split(", ") else \
                "cpu, cuda, meta"
            raise RuntimeError(f"Expected one of {known} device type at start of device "
                               f"string: {spec}")
        if num:
            if not num.isdigit():
                raise RuntimeError(f"Invalid device string: '{spec}'")
            index = int(num)
        if kind == "cpu":
            if index not in (None, 0):     # an explicit index 0 is kept ('cpu:0'), as PyTorch
                raise RuntimeError(f"the cpu device has no index, got '{spec}'")
        elif index is None and kind == "cuda":
            index = 0
        self.type, self.index = kind, index

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = Device(other)
            except (RuntimeError, TypeError):
                return False
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __enter__(self):
        """``with minigrad.device('meta'):`` -- PyTorch's block form of ``set_default_device``:
        factory functions called inside (and modules built there) make tensors on this
        device. The CPU and the meta device are taken."""
        check_default_device(self)
        _default_stack.append(default_device)
        set_default(self)
        return self

    def __exit__(self, *exc_info):
        set_default(_default_stack.pop())
        return False


# the class carries PyTorch's name (type(t.device).__name__ == 'device'), and pickles by the
# top-level name that is this class (minigrad.device: this module's ``device`` is a function)
Device.__name__ = Device.__qualname__ = "device"
Device.__module__ = "minigrad"

cpu = Device("cpu")
meta = Device("meta")

# Where factory functions put a tensor when no device is named: the CPU, or the meta device
# (``set_default_device('meta')``, ``with minigrad.device('meta')``). Factories test
# ``default_is_meta``, one module global, rather than compare devices on every call.
default_device = cpu
default_is_meta = False
_default_stack = []


def set_default(dev: Device) -> None:
    """Make ``dev`` (checked by ``check_default_device``) the default device."""
    global default_device, default_is_meta
    default_device, default_is_meta = dev, dev.type == "meta"


def check_default_device(dev: Device) -> None:
    """Refuse a default device other than the CPU or the meta device (``set_default_device``,
    ``with device``), saying why: minigrad's factory functions create tensors on the CPU."""
    if dev.type == "cpu" or dev.type == "meta":
        return
    if not is_cuda_available():
        raise RuntimeError("Torch not compiled with CUDA enabled (minigrad: no CUDA device "
                           "or no cupy here, so the default device stays 'cpu')")
    raise NotImplementedError("set_default_device: minigrad creates tensors on the CPU; "
                              "move them with .to('cuda') or pass device='cuda'")


def device(spec) -> Device:
    """Parse ``spec`` ('cpu', 'cuda', 'cuda:N', a Device, or an int: the accelerator of that
    index, as PyTorch reads one) and check that it can be used."""
    if isinstance(spec, int) and not isinstance(spec, bool):
        if spec < 0:
            raise RuntimeError("Device index must not be negative")
        try:
            _require_cupy()
        except RuntimeError:
            raise RuntimeError("Cannot access accelerator device when none is available.") \
                from None
        spec = f"cuda:{spec}"
    dev = spec if isinstance(spec, Device) else Device(spec)
    if dev.type == "cuda":
        cp = _require_cupy()
        count = cp.cuda.runtime.getDeviceCount()
        if dev.index >= count:
            raise RuntimeError(
                f"CUDA error: invalid device ordinal: asked for {dev}, but only {count} "
                f"CUDA device(s) are visible")
    return dev


def array_module(dev: Device):
    """numpy for the CPU, cupy for a CUDA device, ``_meta.xp`` (numpy making meta arrays) for
    the meta device."""
    if dev.type == "cpu":
        return np
    return _meta.xp if dev.type == "meta" else _require_cupy()


def xp_of(array):
    """The array module that owns ``array`` (numpy for numpy arrays and scalars, ``_meta.xp``
    for a meta array)."""
    if type(array) is np.ndarray:
        return np
    if isinstance(array, _meta.MetaArray):
        return _meta.xp
    if isinstance(array, (np.ndarray, np.generic)):
        return np
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return _cupy
    return np


def device_of(array) -> Device:
    if type(array) is np.ndarray:               # the common case first, and cheapest
        return cpu
    if isinstance(array, _meta.MetaArray):
        return meta
    if _cupy is None or not isinstance(array, _cupy.ndarray):
        return cpu
    return Device("cuda", array.device.id)


def empty(shape, dtype, dev: Device):
    """An uninitialised array of ``shape`` and ``dtype`` (numpy's) made on ``dev`` directly."""
    if dev.type == "meta":
        return _meta.empty(shape, dtype)
    if dev.type == "cpu":
        return np.empty(shape, dtype)
    cp = _require_cupy()
    with cp.cuda.Device(dev.index):
        return cp.empty(shape, dtype)


def data_address(array) -> int:
    """The address of ``array``'s first element (its data pointer), host or device; 0 for a
    meta array (no data, as PyTorch's meta tensors)."""
    if isinstance(array, _meta.MetaArray):
        return 0
    return array.__array_interface__["data"][0] if isinstance(array, np.ndarray) else \
        array.data.ptr


def to_device(array, dev: Device):
    """Copy ``array`` to ``dev`` (no copy when it is already there). To the meta device only
    the shape and the dtype go; from it, nothing can (PyTorch's NotImplementedError)."""
    if dev.type == "cpu":
        return as_numpy(array)
    if dev.type == "meta":
        return _meta.from_array(array if isinstance(array, np.ndarray) else as_numpy(array))
    if isinstance(array, _meta.MetaArray):
        raise NotImplementedError(_meta.NO_DATA)
    cp = _require_cupy()
    if isinstance(array, cp.ndarray) and array.device.id == dev.index:
        return array
    if array.dtype.kind == "V":         # bfloat16 (ml_dtypes'): numpy-only
        raise TypeError("a bfloat16 tensor cannot be moved to a CUDA device: cupy has no "
                        "bfloat16 dtype (convert it with .float() or .half() first)")
    with cp.cuda.Device(dev.index):
        return cp.asarray(array)


def as_numpy(array) -> np.ndarray:
    """A numpy array with the data of ``array`` (a host copy for cupy arrays); a meta array
    has none to give (PyTorch's NotImplementedError)."""
    if type(array) is np.ndarray:
        return array
    if isinstance(array, _meta.MetaArray):
        raise NotImplementedError(_meta.NO_DATA)
    if isinstance(array, np.ndarray):
        return array
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return array.get()
    return np.asarray(array)


def index_add(target, index, values):
    """``target[index] += values`` where repeated indices add up (unbuffered scatter-add).

    numpy's ``a[idx] += v`` keeps only the last write for repeated indices; this does not.
    For indexing's backward, never for a convolution's hot path.
    """
    if isinstance(target, np.ndarray):
        np.add.at(target, index, values)
    else:
        import cupyx  # noqa: ships with cupy
        cupyx.scatter_add(target, index, values)
    return target


def matmul(a, b):
    """``a @ b`` with numpy's broadcasting; float16 operands through float32.

    numpy has no BLAS kernel for float16: its float16 products loop in C, accumulating in
    float32, 100-300x slower than float32's GEMM. Converting both to float32, one GEMM, and
    rounding the result once gives the same accumulation precision (as PyTorch's CPU float16
    products) at float32's speed. Two large float matrices are cut over minigrad's threads
    (``parallel.matmul``); other operands, and cupy arrays, go to ``xp.matmul`` as they are.
    """
    if (type(a) is not np.ndarray or type(b) is not np.ndarray) and \
            (isinstance(a, _meta.MetaArray) or isinstance(b, _meta.MetaArray)):
        return np.matmul(a, b)          # shape and dtype only (MetaArray.__array_ufunc__)
    if isinstance(a, np.ndarray):
        if a.dtype == np.float16 and b.dtype == np.float16:
            out = parallel.matmul(a.astype(np.float32), b.astype(np.float32)).astype(np.float16)
        else:
            out = parallel.matmul(a, b)        # large float matrices: in parts over threads
        # numpy lays a batch of products out after its operands' batch strides; PyTorch's
        # bmm result is always row-major
        return out if out.flags.c_contiguous else np.ascontiguousarray(out)
    return xp_of(a).matmul(a, b)


def strided_view(array, shape, strides, offset=0):
    """A view of ``array``'s memory with ``shape`` and ``strides`` (bytes), starting ``offset``
    bytes in (for an array that is not C-contiguous: a 1-D one, whole elements in); it keeps
    ``array`` alive and is writeable when ``array`` is.

    For a C-contiguous numpy array this is numpy's ndarray constructor on the array's buffer
    (0.4 us, and it refuses a view that would reach outside the buffer); anything else goes
    through ``as_strided`` (3.5 us for numpy: a wrapper object per call), which kernels
    making a view per kernel offset felt. A meta array gives a meta array of ``shape`` (its
    one element must not be read past)."""
    if type(array) is np.ndarray and array.flags.c_contiguous:
        return np.ndarray(shape, array.dtype, array, offset, strides)
    if isinstance(array, _meta.MetaArray):
        return _meta.empty(shape, array.dtype)
    if offset:                  # (the kernels' flat buffers: 1-D, whole steps in)
        if array.ndim != 1 or offset % array.strides[0]:
            raise ValueError("strided_view: an offset needs a 1-D array and whole elements")
        array = array[offset // array.strides[0]:]
    return xp_of(array).lib.stride_tricks.as_strided(array, shape, strides)


def sliding_window_view(array, window_shape, axis):
    """A read-only strided view of every window of ``array`` (no copy); see numpy's docs:
    (..., *positions, ..., *window_shape), the window axes last, in ``axis`` order."""
    axis = (axis,) if isinstance(axis, int) else tuple(axis)
    window_shape = (window_shape,) if isinstance(window_shape, int) else tuple(window_shape)
    fast = type(array) is np.ndarray and array.flags.c_contiguous and array.ndim and \
        len(axis) == len(window_shape)
    if fast:
        axis = tuple(a % array.ndim for a in axis)
        fast = len(set(axis)) == len(axis) and all(0 < w <= array.shape[a]
                                                   for a, w in zip(axis, window_shape))
    if not fast:        # other arrays, repeated axes, and the errors: numpy's own
        if isinstance(array, _meta.MetaArray):      # (its strides, all 0, stay in its element)
            return _meta.from_array(np.lib.stride_tricks.sliding_window_view(
                array.view(np.ndarray), window_shape, axis=axis))
        return xp_of(array).lib.stride_tricks.sliding_window_view(array, window_shape,
                                                                  axis=axis)
    shape = list(array.shape)
    for a, w in zip(axis, window_shape):
        shape[a] -= w - 1
    view = np.ndarray(tuple(shape) + tuple(window_shape), array.dtype, array, 0,
                      array.strides + tuple(array.strides[a] for a in axis))
    view.flags.writeable = False
    return view


# ----------------------------------------------------------------------------------------------
# Host memory: an explicit opt-in, never done at import
# ----------------------------------------------------------------------------------------------
def tune_host_allocator(mmap_threshold=32 << 20, trim_threshold=128 << 20) -> bool:
    """Opt-in: make glibc's malloc keep freed array memory in the process. Returns whether it
    took effect (Linux with glibc only; elsewhere it does nothing and returns False).

    By default glibc serves buffers above 128 KiB-32 MiB with fresh ``mmap``s and returns
    them on ``free``, so a loop that allocates and frees the same large arrays page-faults
    them in again on every step. Raising ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` keeps
    them on the heap for reuse. This changes the allocator of the WHOLE process (every
    library in it, and its resident memory after large frees), which is why ``import
    minigrad`` never does it: the convolution and pooling ops reuse their own scratch buffers
    instead. benchmarks/run.py calls it only with ``--tune-malloc``.
    """
    import ctypes
    import sys
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version      # glibc only: musl's mallopt does nothing
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    ok = mallopt(M_MMAP_THRESHOLD, int(mmap_threshold))   # 32 MiB is glibc's largest allowed
    return bool(ok and mallopt(M_TRIM_THRESHOLD, int(trim_threshold)))
