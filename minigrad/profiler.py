"""``torch.profiler``: profile a program as PyTorch does, schedules and trace handlers included.

    from minigrad.profiler import profile, record_function, ProfilerActivity, schedule
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        with record_function("model_inference"):
            model(inputs)
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=10))
    prof.export_chrome_trace("trace.json")

With ``schedule=schedule(wait=1, warmup=1, active=2)`` and ``prof.step()`` after each
training step, only the active steps are recorded (each inside a ``ProfilerStep#N`` range),
and ``on_trace_ready(prof)`` runs at the end of every active span: the same steps, at the
same moments, as PyTorch's. ``tensorboard_trace_handler(dir)`` is such a handler: it writes
each span's Chrome trace into ``dir``.

What is recorded, and how it costs nothing when no profiler runs: see
``minigrad/autograd/profiler.py``. minigrad's own per-layer FLOPs/memory tool is
``minigrad.profile(model, input)`` (``minigrad/layer_profile.py``).
"""
from __future__ import annotations

import enum
import os
import socket
import time
from warnings import warn

from ._warn_once import warn_user
from . import backend
from .autograd.profiler import EventList, _Recorder, record_function
from .autograd.profiler_util import _write_chrome_trace

__all__ = ["profile", "schedule", "record_function", "ProfilerActivity", "ProfilerAction",
           "tensorboard_trace_handler", "supported_activities"]


class ProfilerActivity(enum.Enum):
    """What a profiler can record. minigrad measures the CPU side of every activity."""
    CPU = 0
    XPU = 1
    CUDA = 2
    HPU = 3
    MTIA = 4
    PrivateUse1 = 5


class ProfilerAction(enum.Enum):
    """What a schedule asks of the profiler at one step."""
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3
    DEVICE_STOPPED = 4


def supported_activities():
    """The activities this build can profile: the CPU, and CUDA where a GPU is usable."""
    found = {ProfilerActivity.CPU}
    if backend.is_cuda_available():
        found.add(ProfilerActivity.CUDA)
    return found


def schedule(*, wait, warmup, active, repeat=0, skip_first=0, skip_first_wait=0):
    """A schedule for ``profile``: skip ``skip_first`` steps, then cycles of ``wait`` idle
    steps, ``warmup`` steps, ``active`` recorded steps (the last one RECORD_AND_SAVE);
    ``repeat`` cycles (0: until the profiler stops). ``skip_first_wait`` drops the first
    cycle's wait."""
    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise AssertionError(
            f"Invalid profiler schedule arguments. Got wait={wait} (need >= 0), "
            f"warmup={warmup} (need >= 0), active={active} (need > 0), repeat={repeat} "
            f"(need >= 0), skip_first={skip_first} (need >= 0).")
    if warmup == 0:
        warn_user("Profiler won't be using warmup, this can skew profiler results")
    cycle = wait + warmup + active

    def action(step):
        if step < 0:
            raise AssertionError(f"Step must be non-negative. Got {step}.")
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if skip_first_wait:
            step += wait
        if repeat > 0 and step >= repeat * cycle:
            return ProfilerAction.NONE
        phase = step % cycle
        if phase < wait:
            return ProfilerAction.NONE
        if phase < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if phase < cycle - 1 else ProfilerAction.RECORD_AND_SAVE
    return action


def _always_record(step):
    return ProfilerAction.RECORD


def tensorboard_trace_handler(dir_name, worker_name=None, use_gzip=False,
                              use_python_export=False):
    """An ``on_trace_ready`` handler writing each trace to
    ``dir_name/<worker_name>.<time in ns>.pt.trace.json`` (``.gz`` with ``use_gzip``), the
    worker being ``<hostname>_<pid>`` unless named."""
    def handler(prof):
        if not os.path.isdir(dir_name):
            try:
                os.makedirs(dir_name, exist_ok=True)
            except OSError as exc:
                raise RuntimeError("Can't create directory: " + dir_name) from exc
        worker = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        name = f"{worker}.{time.time_ns()}.pt.trace.json" + (".gz" if use_gzip else "")
        prof.export_chrome_trace(os.path.join(dir_name, name))
    return handler


_N, _W, _R, _S, _D = (ProfilerAction.NONE, ProfilerAction.WARMUP, ProfilerAction.RECORD,
                      ProfilerAction.RECORD_AND_SAVE, ProfilerAction.DEVICE_STOPPED)


class profile:
    """``torch.profiler.profile``: a context manager (or ``start()``/``stop()``) recording the
    ops, backward nodes and ``record_function`` ranges run while it is active.

    ``schedule``: which steps to record (see ``schedule``); call ``prof.step()`` at the end
    of each step. ``on_trace_ready(prof)``: called when an active span ends. Results:
    ``prof.events()``, ``prof.key_averages(group_by_input_shape=False, group_by_stack_n=0)``,
    ``prof.export_chrome_trace(path)``. ``record_shapes``, ``profile_memory`` (bytes each op
    allocated), ``with_stack`` as PyTorch's; ``with_flops`` and ``with_modules`` are accepted
    and add nothing.
    """

    def __init__(self, *, activities=None, schedule=None, on_trace_ready=None,
                 record_shapes=False, profile_memory=False, with_stack=False, with_flops=False,
                 with_modules=False, experimental_config=None, execution_trace_observer=None,
                 acc_events=False, use_cuda=None, custom_trace_id_callback=None,
                 post_processing_timeout_s=None):
        if activities is not None:
            chosen = set()
            for item in activities:
                if isinstance(item, ProfilerActivity):
                    chosen.add(item)
                elif isinstance(item, dict):
                    chosen.update(item.keys())
        else:
            chosen = supported_activities()
        if use_cuda is not None:
            warn_user("`use_cuda` is deprecated, use `activities` argument instead", FutureWarning)
            if use_cuda:
                chosen.add(ProfilerActivity.CUDA)
            else:
                chosen.discard(ProfilerActivity.CUDA)
        if not chosen:
            raise AssertionError("No valid profiler activities found")
        self.activities = chosen
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_flops = with_flops
        self.with_modules = with_modules
        self.acc_events = acc_events
        self.schedule = schedule if schedule else _always_record
        self.record_steps = bool(schedule)
        self.on_trace_ready = on_trace_ready
        self.step_num = 0
        self.step_rec_fn = None
        action = self.schedule(self.step_num)
        self._refuse_device_stopped(action)
        self.current_action = action
        self._metadata = {}
        self._recorder = None          # the span being recorded (prepared or recording)
        self._recording = False
        self._events = None            # the last finished span's events

    # -- the state machine (the transitions of PyTorch's, one by one) -------------------------
    @staticmethod
    def _refuse_device_stopped(action):
        if action == _D:
            raise ValueError("ProfilerAction.DEVICE_STOPPED is set internally by the profiler "
                             "and must not be returned by a user-provided schedule")

    def _transit(self, prev, now):
        prepare, start, stop, ready = (self._prepare_trace, self._start_trace,
                                       self._stop_trace, self._trace_ready)
        if prev in (_N, _D):
            steps = {_W: [prepare], _R: [prepare, start], _S: [prepare, start]}.get(now, [])
        elif prev == _W:
            steps = {_N: [lambda: warn("Incorrect schedule: WARMUP followed by NONE"), start,
                          stop],
                     _R: [start], _S: [start], _D: [start, stop, ready],
                     None: [start, stop]}.get(now, [])
        elif prev == _R:
            steps = {_N: [lambda: warn("Incorrect schedule: RECORD followed by NONE"), stop],
                     _W: [lambda: warn("Incorrect schedule: RECORD followed by WARMUP"), stop],
                     _D: [stop, ready], None: [stop, ready]}.get(now, [])
        else:                                                   # RECORD_AND_SAVE
            steps = {_N: [stop, ready], _W: [stop, ready, prepare],
                     _R: [stop, ready, prepare, start], _S: [stop, ready, prepare, start],
                     None: [stop, ready]}.get(now, [])
        for fn in steps:
            fn()

    def _prepare_trace(self):
        self._recorder = _Recorder(self.record_shapes, self.profile_memory, self.with_stack)

    def _start_trace(self):
        if self._recorder is None:
            self._prepare_trace()
        self._recorder.install()
        self._recording = True

    def _stop_trace(self):
        if self._recorder is None:
            return
        if self._recording:
            self._recorder.uninstall()
            self._recording = False
        events = self._recorder.function_events()
        if self.acc_events and self._events is not None:
            events = EventList(list(self._events) + list(events),
                               profile_memory=self.profile_memory)
        self._events = events
        self._recorder = None

    def _trace_ready(self):
        if self.on_trace_ready:
            self.on_trace_ready(self)

    # -- the user's side ----------------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def _open_step_range(self):
        if self.record_steps:
            self.step_rec_fn = record_function("ProfilerStep#" + str(self.step_num))
            self.step_rec_fn.__enter__()

    def _close_step_range(self):
        if self.record_steps and self.step_rec_fn is not None:
            self.step_rec_fn.__exit__(None, None, None)
            self.step_rec_fn = None

    def start(self):
        self._transit(_N, self.current_action)
        self._open_step_range()

    def stop(self):
        self._close_step_range()
        self._transit(self.current_action, None)

    def step(self):
        """The next step begins: the schedule decides whether it is recorded."""
        self._close_step_range()
        prev = self.current_action
        action = self.schedule(self.step_num + 1)
        self._refuse_device_stopped(action)
        self.step_num += 1
        self.current_action = action
        self._transit(prev, action)
        self._open_step_range()

    # -- results ------------------------------------------------------------------------------
    def events(self):
        """The events of the last recorded span (all spans with ``acc_events=True``)."""
        if self._events is None:
            raise AssertionError("Expected profiling results: the profiler has not recorded "
                                 "a finished span yet")
        return self._events

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0,
                     group_by_overload_name=False):
        return self.events().key_averages(group_by_input_shape, group_by_stack_n)

    def export_chrome_trace(self, path):
        _write_chrome_trace(self.events(), path, self._metadata)

    def add_metadata(self, key, value):
        """An entry added to the exported trace (a string)."""
        self._metadata[key] = str(value)

    def add_metadata_json(self, key, value):
        self._metadata[key] = value

    def export_stacks(self, path, metric="self_cpu_time_total"):
        """Flame-graph input: one 'frame;frame;... value' line per event with a stack
        (``with_stack=True``), outermost frame first, the metric in microseconds."""
        with open(path, "w", encoding="utf-8") as f:
            for e in self.events():
                if e.stack:
                    f.write(";".join(reversed(e.stack)) + f" {int(getattr(e, metric))}\n")
