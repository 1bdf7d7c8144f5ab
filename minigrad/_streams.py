"""``torch.Event`` and ``torch.Stream``: the device-neutral stream and event objects, for the
CPU (the only device minigrad can give them: it has no CUDA streams).

On the CPU everything runs in order on one stream, as PyTorch's CPU build says: a stream is
always idle (``query()`` is True, ``synchronize`` returns at once), and the CPU backend records
no events (``record`` raises RuntimeError).
"""
from __future__ import annotations

from .backend import Device

__all__ = ["Event", "Stream"]

_NO_EVENTS = "cpu backend doesn't support events."


def _cpu_device(device):
    """``device`` (None, a string, a device or an accelerator index) as the CPU device; any
    other device is refused as PyTorch's CPU build refuses it."""
    if device is None:
        return Device("cpu")
    if isinstance(device, int) and not isinstance(device, bool):
        raise RuntimeError("Cannot access accelerator device when none is available.")
    kind = device.type if isinstance(device, Device) else str(device).split(":", 1)[0]
    if kind != "cpu":
        raise RuntimeError(f"PyTorch is not linked with support for {kind} devices")
    return Device("cpu")


class Event:
    """A CPU event: already complete, never recorded."""

    def __init__(self, device=None, *, enable_timing=False, blocking=False,
                 interprocess=False):
        self.device = _cpu_device(device)
        self.enable_timing = bool(enable_timing)
        self.event_id = 0

    def record(self, stream=None):
        raise RuntimeError(_NO_EVENTS)

    def query(self):
        return True

    def synchronize(self):
        pass

    def wait(self, stream=None):
        pass

    def elapsed_time(self, end_event):
        if not (self.enable_timing and getattr(end_event, "enable_timing", False)):
            raise ValueError("Both events must be created with argument 'enable_timing=True'.")
        raise ValueError("Both events must be recorded before calculating elapsed time.")

    def ipc_handle(self):
        raise NotImplementedError("torch.Event ipc is not supported yet, please open an issue "
                                  "if you need this!")

    def __repr__(self):
        return (f"minigrad.Event device_type=cpu, device_index=-1, "
                f"event_flag={int(self.enable_timing)}, event_id={self.event_id}")


class Stream:
    """The CPU's one stream: always idle; every Stream('cpu') is the same stream."""

    def __init__(self, device=None, *, priority=0):
        self.device = _cpu_device(device)
        # device_type is the backend's number for the device type, 0 for the CPU
        self.device_type, self.device_index, self.stream_id = 0, -1, 0

    def query(self):
        return True

    def synchronize(self):
        pass

    def wait_event(self, event):
        pass

    def wait_stream(self, stream):
        raise RuntimeError(_NO_EVENTS)        # (waiting means recording an event on stream)

    def record_event(self, event=None):
        raise RuntimeError(_NO_EVENTS)

    def is_capturing(self):
        return False

    @property
    def native_handle(self):
        raise RuntimeError("Backend doesn't support getting stream native handle.")

    def __enter__(self):
        raise RuntimeError("Cannot access accelerator device when none is available.")

    def __exit__(self, *exc):
        return False

    def __eq__(self, other):
        return isinstance(other, Stream) and (self.device_type, self.stream_id) == (
            other.device_type, other.stream_id)

    def __hash__(self):
        return hash((self.device_type, self.device_index, self.stream_id))

    def __repr__(self):
        return "minigrad.Stream device_type=cpu, device_index=-1, stream_id=0"
