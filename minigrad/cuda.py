"""``minigrad.cuda``: is a GPU usable here, and how much of its memory is in use?

cupy runs minigrad's CUDA arrays (see minigrad/backend.py).  Without a usable GPU these
functions answer as PyTorch's CPU build does: the memory counters are 0, ``empty_cache`` does
nothing, and the questions only a GPU can answer (its name, its properties, the current
device) raise ``AssertionError: Torch not compiled with CUDA enabled``.  With a GPU the
numbers come from cupy: its default memory pool (what minigrad's arrays hold and what the pool
has reserved from the driver) and the CUDA runtime (device properties, free memory).
"""
from __future__ import annotations

import collections
import sys as _sys

from ._warn_once import warn_user
from . import backend
from .amp.device_aliases import cuda_amp as _cuda_amp
from ._legacy_types import CUDA_TYPES as _CUDA_TYPES
from ._device_errors import OutOfMemoryError  # noqa: F401  (torch.cuda.OutOfMemoryError)
from ._random_factories import manual_seed as _seed

_NOT_COMPILED = "Torch not compiled with CUDA enabled"

# cupy's pool keeps no high-water marks, so minigrad keeps them: the largest value any of the
# memory queries below has seen on each device since the last reset_peak_memory_stats.  They
# are lower bounds of the true peaks (a spike between two queries goes unseen).
_peaks = {"allocated": {}, "reserved": {}}


def is_available() -> bool:
    """True when cupy is installed and sees an NVIDIA GPU."""
    return backend.is_cuda_available()


def device_count() -> int:
    return backend.cuda_device_count()


def is_initialized() -> bool:
    """True once CUDA is usable: cupy initialises it on import."""
    return is_available()


def _cupy():
    """cupy, or PyTorch's CPU-build error when there is no usable GPU."""
    if not is_available():
        raise AssertionError(_NOT_COMPILED)
    return backend.array_module(backend.Device("cuda"))


def init() -> None:
    _cupy()


def _parse(device):
    """The GPU index that ``device`` names (an int, 'cuda:1' or a ``minigrad.device``), or
    None for the current one; refuses a device of another type, as PyTorch does."""
    if device is None or isinstance(device, int):
        return device
    dev = backend.Device(device) if isinstance(device, str) else device
    if not isinstance(dev, backend.Device) or dev.type != "cuda":
        raise ValueError(f"Expected a cuda device, but got: {device}")
    return dev.index


def _index(device, cp) -> int:
    index = _parse(device)
    return cp.cuda.runtime.getDevice() if index is None else index


def current_device() -> int:
    return _cupy().cuda.runtime.getDevice()


def set_device(device) -> None:
    """Make ``device`` current.  A negative index is ignored, as in PyTorch."""
    index = _parse(device)
    if index is not None and index < 0:
        return
    cp = _cupy()
    if index is not None:
        cp.cuda.runtime.setDevice(index)


def synchronize(device=None) -> None:
    """Wait for every queued GPU kernel to finish (for honest timings)."""
    cp = _cupy()
    with cp.cuda.Device(_index(device, cp)):
        cp.cuda.Device().synchronize()


class _CudaDeviceProperties:
    """What ``get_device_properties`` reports of a GPU (a subset of PyTorch's fields)."""

    def __init__(self, props: dict):
        name = props["name"]
        self.name = name.decode() if isinstance(name, bytes) else str(name)
        self.major, self.minor = int(props["major"]), int(props["minor"])
        self.total_memory = int(props["totalGlobalMem"])
        self.multi_processor_count = int(props["multiProcessorCount"])
        self.is_integrated = bool(props.get("integrated", 0))
        self.is_multi_gpu_board = bool(props.get("isMultiGpuBoard", 0))

    def __repr__(self):
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, "
                f"minor={self.minor}, total_memory={self.total_memory >> 20}MB, "
                f"multi_processor_count={self.multi_processor_count})")


def get_device_properties(device=None) -> _CudaDeviceProperties:
    cp = _cupy()
    index = _index(device, cp)
    if not 0 <= index < device_count():
        raise AssertionError("Invalid device id")
    return _CudaDeviceProperties(cp.cuda.runtime.getDeviceProperties(index))


def get_device_name(device=None) -> str:
    return get_device_properties(device).name


def get_device_capability(device=None) -> tuple:
    props = get_device_properties(device)
    return props.major, props.minor


def get_arch_list() -> list:
    """The architectures minigrad was compiled for: none, cupy compiles kernels on demand."""
    return []


def mem_get_info(device=None) -> tuple:
    """(free, total) bytes of the GPU, as the driver reports them."""
    cp = _cupy()
    with cp.cuda.Device(_index(device, cp)):
        free, total = cp.cuda.runtime.memGetInfo()
    return int(free), int(total)


def _pool_bytes(device):
    """(allocated, reserved) bytes of cupy's default pool on ``device``, updating the peaks;
    (0, 0) without a GPU."""
    if not is_available():
        return 0, 0
    cp = _cupy()
    index = _index(device, cp)
    pool = cp.get_default_memory_pool()
    with cp.cuda.Device(index):
        used, total = int(pool.used_bytes()), int(pool.total_bytes())
    for kind, value in (("allocated", used), ("reserved", total)):
        _peaks[kind][index] = max(_peaks[kind].get(index, 0), value)
    return used, total


def _peak(kind, device):
    _pool_bytes(device)
    if not is_available():
        return 0
    cp = _cupy()
    return _peaks[kind].get(_index(device, cp), 0)


def memory_allocated(device=None) -> int:
    """Bytes held by tensors: cupy's pool's used bytes (0 without a GPU)."""
    return _pool_bytes(device)[0]


def memory_reserved(device=None) -> int:
    """Bytes cupy's pool has taken from the driver, used or cached (0 without a GPU)."""
    return _pool_bytes(device)[1]


def max_memory_allocated(device=None) -> int:
    """The largest ``memory_allocated`` seen since the last reset (see ``_peaks`` above)."""
    return _peak("allocated", device)


def max_memory_reserved(device=None) -> int:
    return _peak("reserved", device)


def reset_peak_memory_stats(device=None) -> None:
    """Start the peaks again from the current values (nothing to do without a GPU)."""
    if is_available():
        index = _index(device, _cupy())
        for kind in _peaks:
            _peaks[kind].pop(index, None)
        _pool_bytes(index)


def memory_cached(device=None) -> int:
    warn_user("`torch.cuda.memory_cached` has been renamed to `torch.cuda.memory_reserved`",
              FutureWarning)
    return memory_reserved(device)


def max_memory_cached(device=None) -> int:
    warn_user("`torch.cuda.max_memory_cached` has been renamed to "
              "`torch.cuda.max_memory_reserved`", FutureWarning)
    return max_memory_reserved(device)


def memory_stats(device=None) -> dict:
    """PyTorch's flat statistics keys for what cupy's pool can tell; empty without a GPU (as
    PyTorch's before CUDA is initialised)."""
    stats = collections.OrderedDict()
    if not is_available():
        return stats
    allocated, reserved = _pool_bytes(device)
    stats["allocated_bytes.all.current"] = allocated
    stats["allocated_bytes.all.peak"] = max_memory_allocated(device)
    stats["reserved_bytes.all.current"] = reserved
    stats["reserved_bytes.all.peak"] = max_memory_reserved(device)
    return stats


def memory_summary(device=None, abbreviated: bool = False) -> str:
    """A short table of the counters above (zeros without a GPU)."""
    rows = [("Allocated memory", memory_allocated(device), max_memory_allocated(device)),
            ("Reserved memory", memory_reserved(device), max_memory_reserved(device))]
    lines = ["|" + "=" * 62 + "|",
             "|{:^62}|".format("minigrad CUDA memory summary (cupy's default pool)"),
             "|" + "-" * 62 + "|",
             "| {:<25}|{:>16} |{:>16} |".format("Metric", "Current", "Peak")]
    lines += ["| {:<25}|{:>12} KiB |{:>12} KiB |".format(name, cur >> 10, peak >> 10)
              for name, cur, peak in rows]
    lines.append("|" + "=" * 62 + "|")
    return "\n".join(lines) + "\n"


def empty_cache() -> None:
    """Give the pool's unused blocks (device and pinned host memory) back to the driver."""
    if is_available():
        cp = _cupy()
        cp.get_default_memory_pool().free_all_blocks()
        cp.get_default_pinned_memory_pool().free_all_blocks()


def ipc_collect() -> None:
    """Nothing to collect: minigrad shares no GPU memory between processes."""
    _cupy()


def manual_seed(seed) -> None:
    """Random numbers are drawn on the CPU and moved, so the CPU seed covers the GPU too."""
    _seed(seed)


manual_seed_all = manual_seed


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """False: bfloat16 tensors are numpy-only (cupy has no bfloat16), so none lives on a GPU
    (nanoGPT asks this to pick its autocast dtype, and then takes float16)."""
    return False


# minigrad.cuda.amp.autocast / GradScaler, the older spellings of minigrad.amp's; listed in
# sys.modules so that `from minigrad.cuda.amp import GradScaler` (a module, not a package) works
amp = _cuda_amp
_sys.modules[__name__ + ".amp"] = amp

# PyTorch's legacy GPU tensor types (``Tensor = torch.cuda.FloatTensor if cuda else
# torch.FloatTensor`` in old scripts): ``isinstance`` asks for that dtype on the GPU, and
# calling one needs a GPU (``_legacy_types``)
FloatTensor = _CUDA_TYPES["FloatTensor"]
DoubleTensor = _CUDA_TYPES["DoubleTensor"]
HalfTensor = _CUDA_TYPES["HalfTensor"]
BFloat16Tensor = _CUDA_TYPES["BFloat16Tensor"]
ByteTensor = _CUDA_TYPES["ByteTensor"]
CharTensor = _CUDA_TYPES["CharTensor"]
ShortTensor = _CUDA_TYPES["ShortTensor"]
IntTensor = _CUDA_TYPES["IntTensor"]
LongTensor = _CUDA_TYPES["LongTensor"]
BoolTensor = _CUDA_TYPES["BoolTensor"]
