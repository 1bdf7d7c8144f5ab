"""``torch.autograd.profiler``: what each op costs while a program runs, as PyTorch reports it.

    >>> with minigrad.autograd.profiler.profile(record_shapes=True) as prof:
    ...     with minigrad.autograd.profiler.record_function("step"):
    ...         loss = model(x).sum()
    ...     loss.backward()
    >>> print(prof.key_averages().table(sort_by="cpu_time_total"))

How it records. ``Function.apply`` and the backward engine look at one slot,
``function._profiler``; it is None unless a profiler records, so a program that profiles
nothing pays one comparison per op. While recording, the slot holds a ``_Recorder``:

* every op run through ``Function.apply`` becomes an event named as PyTorch names the aten op
  (``Mul`` -> ``aten::mul``; a user's ctx-style Function keeps its class name), with its
  inputs' shapes (``record_shapes``) and the bytes of the arrays it allocated
  (``profile_memory``: the output's ``nbytes``, 0 for a view);
* each node the engine runs becomes ``autograd::engine::evaluate_function: MulBackward0``
  around ``MulBackward0``, around the ops its backward runs; a leaf's gradient delivery is
  ``torch::autograd::AccumulateGrad``;
* ``record_function("name")`` ranges are events of their own.

Events nest by time on each thread: an event's self time is its time minus its children's.
Times are in microseconds and memory in bytes, as in PyTorch; ``minigrad.profiler`` (the
``torch.profiler`` API, with schedules and trace handlers) records through the same slot.
"""
from __future__ import annotations

import functools
import gzip
import json
import os
import re
import threading
import time
import traceback
from collections import OrderedDict

from .. import backend
from . import function as _function
from .function import Function

__all__ = ["profile", "record_function", "emit_nvtx", "EventList", "FunctionEvent",
           "FunctionEventAvg", "Interval"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_base_apply = Function.apply.__func__       # the unhooked entry, whatever a subclass adds

# Function class names whose aten op is not their snake_case spelling
_ATEN = {"MatMul": "matmul", "Relu": "relu", "LeakyRelu": "leaky_relu", "Conv": "convolution",
         "ConvTranspose": "convolution", "GetItem": "index", "SetItem": "index_put_",
         "Cast": "_to_copy", "Copy": "clone", "ClassNLL": "nll_loss", "MaxMin": "max",
         "RowSoftmax": "_softmax", "Softmax": "_softmax", "LogSoftmax": "_log_softmax",
         "StridedView": "as_strided", "ToDevice": "_to_copy", "NonZero": "nonzero",
         "BCEWithLogits": "binary_cross_entropy_with_logits",
         "BinaryCrossEntropy": "binary_cross_entropy", "CumSum": "cumsum",
         "CumProd": "cumprod", "LogSumExp": "logsumexp", "AvgPool": "avg_pool2d",
         "MaxPool": "max_pool2d", "AdaptiveAvgPool": "adaptive_avg_pool2d",
         "AdaptiveMaxPool": "adaptive_max_pool2d", "BatchNorm": "native_batch_norm"}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_names = {}


def _op_name(cls):
    """The event name of an op: ``aten::<op>`` for minigrad's, the class name for a user's
    PyTorch-style Function (as PyTorch names a custom Function's forward)."""
    name = _names.get(cls)
    if name is None:
        if cls._ctx_style:
            name = cls.__name__
        else:
            bare = cls.__name__.lstrip("_")
            name = "aten::" + _ATEN.get(bare, _CAMEL.sub("_", bare).lower())
        _names[cls] = name
    return name


def _shapes(values):
    return [list(a.shape) if (a := getattr(v, "_array", None)) is not None else []
            for v in values]


def _out_bytes(cls, result):
    if cls.returns_view:                      # a view allocates nothing
        return 0
    outs = result if isinstance(result, (tuple, list)) else (result,)
    return sum(int(a.nbytes) for o in outs if (a := getattr(o, "_array", None)) is not None)


def _user_stack():
    """The caller's frames outside minigrad, innermost first, as 'file(line): function'."""
    return [f"{f.filename}({f.lineno}): {f.name}" for f in reversed(traceback.extract_stack())
            if not os.path.abspath(f.filename).startswith(_PACKAGE_DIR)]


class _Span:
    """An event while it is being recorded."""
    __slots__ = ("name", "start", "end", "thread", "parent", "children", "shapes", "self_mem",
                 "user", "stack", "id")

    def __init__(self, name, start, thread, parent, shapes, user, stack, ident):
        self.name, self.start, self.end, self.thread = name, start, None, thread
        self.parent, self.children, self.shapes = parent, [], shapes
        self.self_mem, self.user, self.stack, self.id = 0, user, stack, ident


class _Recorder:
    """What sits in ``function._profiler`` while a profiler records."""

    def __init__(self, record_shapes=False, profile_memory=False, with_stack=False):
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.spans = []
        self._local = threading.local()
        self._previous = None
        self.t0 = time.perf_counter_ns()
        self.epoch_ns = time.time_ns() - self.t0      # perf_counter -> wall clock
        self._count = 0

    # -- installing -------------------------------------------------------------------------------
    def install(self):
        self._previous = _function._profiler      # a nested profiler takes over, then gives back
        _function._profiler = self

    def uninstall(self):
        if _function._profiler is self:
            _function._profiler = self._previous
        self._previous = None

    # -- spans ------------------------------------------------------------------------------------
    def _stack(self):
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def begin(self, name, shapes=None, user=False):
        stack = self._stack()
        self._count += 1
        span = _Span(name, time.perf_counter_ns(), threading.get_ident(),
                     stack[-1] if stack else None, shapes if self.record_shapes else [], user,
                     _user_stack() if self.with_stack else None, self._count)
        stack.append(span)
        self.spans.append(span)
        return span

    def end(self, span, nbytes=0):
        span.end = time.perf_counter_ns()
        span.self_mem = nbytes if self.profile_memory else 0
        stack = self._stack()
        while stack:                   # spans left open by an exception close with this one
            top = stack.pop()
            if top.end is None:
                top.end = span.end
            if top is span:
                break

    # -- the hooks --------------------------------------------------------------------------------
    def claims(self, cls):
        """Called first thing by ``Function.apply``: False for the call ``run_op`` makes."""
        local = self._local
        if getattr(local, "inner", False):
            local.inner = False
            return False
        return True

    def run_op(self, cls, inputs, params):
        span = self.begin(_op_name(cls), _shapes(inputs) if self.record_shapes else None)
        result = None
        self._local.inner = True
        try:
            result = _base_apply(cls, *inputs, **params)
        finally:
            self._local.inner = False
            self.end(span, _out_bytes(cls, result) if self.profile_memory and result is not None
                     else 0)
        return result

    def backward_node(self, node, call, grads, *args):
        name = node.name()
        outer = self.begin(f"autograd::engine::evaluate_function: {name}")
        inner = self.begin(name, _shapes(grads) if self.record_shapes else None)
        try:
            return call(node, grads, *args)
        finally:
            self.end(inner)
            self.end(outer)

    def accumulate(self, call, leaf, grad, *args):
        name = "torch::autograd::AccumulateGrad"
        outer = self.begin(f"autograd::engine::evaluate_function: {name}")
        inner = self.begin(name, [list(leaf._array.shape)] if self.record_shapes else None)
        try:
            return call(leaf, grad, *args)
        finally:
            self.end(inner)
            self.end(outer)

    # -- results ----------------------------------------------------------------------------------
    def function_events(self, use_device=None):
        """The recorded spans as PyTorch's ``FunctionEvent``s, in start order."""
        events = {}
        now = time.perf_counter_ns()
        for s in self.spans:
            end = s.end if s.end is not None else now
            events[s] = FunctionEvent(
                id=s.id, name=s.name, thread=s.thread,
                start_us=(s.start - self.t0) / 1e3, end_us=(end - self.t0) / 1e3,
                input_shapes=s.shapes, stack=s.stack or [], is_user_annotation=s.user,
                self_cpu_memory_usage=s.self_mem, epoch_us=self.epoch_ns / 1e3)
        for s, e in events.items():
            if s.parent is not None and s.parent in events:
                parent = events[s.parent]
                e.cpu_parent = parent
                parent.cpu_children.append(e)
        for e in reversed(list(events.values())):     # children were created after parents
            e.cpu_memory_usage = e.self_cpu_memory_usage + sum(c.cpu_memory_usage
                                                               for c in e.cpu_children)
        return EventList(events.values(), profile_memory=self.profile_memory,
                         use_device=use_device)


# ----------------------------------------------------------------------------------------------
# Events and their table
# ----------------------------------------------------------------------------------------------
class Interval:
    """An event's (start, end), in microseconds since the profiler started."""

    def __init__(self, start, end):
        self.start, self.end = start, end

    def elapsed_us(self):
        return self.end - self.start

    def __repr__(self):
        return f"Interval(start={self.start:.3f}, end={self.end:.3f})"


class _TimesMixin:
    @property
    def self_cpu_time_total_str(self):
        return _format_time(self.self_cpu_time_total)

    @property
    def cpu_time_total_str(self):
        return _format_time(self.cpu_time_total)

    @property
    def cpu_time_str(self):
        return _format_time(self.cpu_time)

    # no device time is measured: the device columns read 0, as PyTorch's on a CPU run
    device_time_total = self_device_time_total = device_time = 0.0
    cuda_time_total = self_cuda_time_total = cuda_time = 0.0
    device_memory_usage = self_device_memory_usage = 0
    cuda_memory_usage = self_cuda_memory_usage = 0
    node_id = -1
    is_async = is_remote = is_legacy = False
    overload_name = ""
    flops = 0
    scope = 0
    use_device = None


class FunctionEvent(_TimesMixin):
    """One recorded op or range: ``name``, ``time_range``, ``input_shapes``, ``cpu_parent``,
    ``cpu_children``, ``cpu_time_total`` and ``self_cpu_time_total`` (us), ``cpu_memory_usage``
    and ``self_cpu_memory_usage`` (bytes)."""
    count = 1
    device_type = "CPU"

    def __init__(self, id, name, thread, start_us, end_us, input_shapes=None, stack=None,
                 is_user_annotation=False, self_cpu_memory_usage=0, epoch_us=0.0):
        self.id = id
        self.name = name
        self.thread = thread
        self.time_range = Interval(start_us, end_us)
        self.input_shapes = input_shapes if input_shapes is not None else []
        self.stack = stack if stack is not None else []
        self.is_user_annotation = is_user_annotation
        self.self_cpu_memory_usage = self_cpu_memory_usage
        self.cpu_memory_usage = self_cpu_memory_usage
        self.cpu_parent = None
        self.cpu_children = []
        self._epoch_us = epoch_us

    @property
    def key(self):
        return self.name

    @property
    def cpu_time_total(self):
        return self.time_range.elapsed_us()

    @property
    def self_cpu_time_total(self):
        return self.cpu_time_total - sum(c.cpu_time_total for c in self.cpu_children)

    @property
    def cpu_time(self):
        return self.cpu_time_total

    def __repr__(self):
        return (f"<FunctionEvent id={self.id} name={self.name} thread={self.thread} "
                f"cpu_time={self.cpu_time_str} start_us={self.time_range.start:.3f} "
                f"end_us={self.time_range.end:.3f} input_shapes={self.input_shapes} "
                f"cpu_memory_usage={self.cpu_memory_usage} "
                f"cpu_children={[c.id for c in self.cpu_children]}>")


class FunctionEventAvg(_TimesMixin):
    """Events of one key summed: ``count``, ``cpu_time_total``, ``self_cpu_time_total``,
    ``cpu_time`` (the mean), memory; what ``key_averages`` lists."""

    def __init__(self):
        self.key = None
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.cpu_memory_usage = 0
        self.self_cpu_memory_usage = 0
        self.input_shapes = None
        self.stack = None
        self.is_user_annotation = False
        self.cpu_parent = None
        self.cpu_children = None
        self._top_level = False

    def add(self, other):
        if self.key is None:
            self.key = other.key
            self.input_shapes = other.input_shapes
            self.stack = other.stack
            self.is_user_annotation = other.is_user_annotation
        self.count += other.count
        self.cpu_time_total += other.cpu_time_total
        self.self_cpu_time_total += other.self_cpu_time_total
        self.cpu_memory_usage += other.cpu_memory_usage
        self.self_cpu_memory_usage += other.self_cpu_memory_usage
        self._top_level = self._top_level or getattr(other, "cpu_parent", None) is None
        return self

    __iadd__ = add

    @property
    def cpu_time(self):
        return 0.0 if self.count == 0 else self.cpu_time_total / self.count

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={self.self_cpu_time_total_str} "
                f"cpu_time={self.cpu_time_str} count={self.count} "
                f"input_shapes={self.input_shapes} cpu_memory_usage={self.cpu_memory_usage}>")


class EventList(list):
    """A list of events (``prof.events()``) or of averages (``key_averages()``) that prints
    as PyTorch's table."""

    def __init__(self, *args, profile_memory=False, use_device=None, with_flops=False):
        super().__init__(*args)
        self._profile_memory = profile_memory
        self._use_device = use_device
        self._with_flops = with_flops

    @property
    def self_cpu_time_total(self):
        return sum(e.self_cpu_time_total for e in self)

    def key_averages(self, group_by_input_shapes=False, group_by_stack_n=0,
                     group_by_overload_name=False):
        """One ``FunctionEventAvg`` per op name (and input shapes, and top stack frames, when
        asked); the steps of a scheduled profile all count as ``ProfilerStep*``."""
        stats = OrderedDict()
        for e in self:
            key = "ProfilerStep*" if e.key.startswith("ProfilerStep#") else e.key
            group = (key, str(e.input_shapes) if group_by_input_shapes else None,
                     tuple(e.stack[:group_by_stack_n]) if group_by_stack_n > 0 else None)
            avg = stats.get(group)
            if avg is None:
                avg = stats[group] = FunctionEventAvg()
            avg.add(e)
            avg.key = key
        for avg in stats.values():
            if not group_by_input_shapes:
                avg.input_shapes = ""        # PyTorch's: shapes only when grouped by them
            avg.stack = avg.stack[:group_by_stack_n] if group_by_stack_n > 0 else []
        return EventList(stats.values(), profile_memory=self._profile_memory,
                         use_device=self._use_device)

    def total_average(self):
        """Every event summed into one ``FunctionEventAvg`` keyed 'Total'."""
        total = FunctionEventAvg()
        for e in self:
            total.add(e)
        total.key = "Total"
        return total

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75,
              max_name_column_width=55, max_shapes_column_width=80, header=None,
              top_level_events_only=False, time_unit=None):
        """PyTorch's summary table: a column per measure, ``row_limit`` rows sorted by the
        attribute ``sort_by`` (descending), then 'Self CPU time total'."""
        return _build_table(self, sort_by, row_limit, max_src_column_width,
                            max_name_column_width, max_shapes_column_width, header,
                            top_level_events_only, time_unit, self._profile_memory)

    def __str__(self):
        return self.table()

    def export_chrome_trace(self, path):
        _write_chrome_trace(self, path)


def _format_time(us, unit=None):
    if unit == "s" or (unit is None and us >= 1e6):
        return f"{us / 1e6:.3f}s"
    if unit == "ms" or (unit is None and us >= 1e3):
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


def _format_memory(nbytes):
    for size, unit in ((1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "KB")):
        if abs(nbytes) >= size:
            return f"{nbytes / size:.2f} {unit}"
    return f"{nbytes} B"


def _clip(text, width):
    return text[:width - 3] + "..." if width is not None and len(text) >= width - 3 else text


def _build_table(events, sort_by, row_limit, max_src_width, max_name_width, max_shapes_width,
                 header, top_level_only, time_unit, profile_memory):
    if len(events) == 0:
        return ""
    events = list(events)
    if sort_by is not None:
        attr = sort_by.replace("cuda", "device").replace("xpu", "device")
        events.sort(key=lambda e: getattr(e, attr), reverse=True)
    total_self = sum(e.self_cpu_time_total for e in events)
    if top_level_only:
        events = [e for e in events if (e._top_level if isinstance(e, FunctionEventAvg)
                                        else e.cpu_parent is None)]
    if row_limit is not None and row_limit > 0:
        events = events[:row_limit]
    with_shapes = any(e.input_shapes for e in events)
    with_stack = any(e.stack for e in events)

    name_width = max(len(e.key) for e in events) + 4
    if max_name_width is not None:
        name_width = min(name_width, max_name_width)
    widths = [name_width] + [12] * 5
    headers = ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg"]
    if profile_memory:
        headers += ["CPU Mem", "Self CPU Mem"]
        widths += [12, 12]
    headers.append("# of Calls")
    widths.append(12)
    if with_shapes:
        shapes_width = max(len(str(e.input_shapes)) for e in events) + 4
        if max_shapes_width is not None:
            shapes_width = min(shapes_width, max_shapes_width)
        headers.append("Input Shapes")
        widths.append(shapes_width)
    if with_stack:
        src_width = max(len(s) for e in events for s in e.stack) + 4
        if max_src_width is not None:
            src_width = min(src_width, max_src_width)
        headers.append("Source Location")
        widths.append(src_width)

    def row(cells):
        return "".join(f"{cell:>{w}}  " for cell, w in zip(cells, widths))

    rule = "".join("-" * w + "  " for w in widths)

    def pct(us):
        return f"{100.0 * us / total_self:.2f}%" if total_self else "0.00%"

    lines = []
    if header is not None:
        lines += ["=" * len(rule), header]
    if top_level_only:
        lines += ["=" * len(rule), "This report only display top-level ops statistics"]
    lines += [rule, row(headers), rule]
    for e in events:
        cells = [_clip(e.key, max_name_width), pct(e.self_cpu_time_total),
                 _format_time(e.self_cpu_time_total, time_unit), pct(e.cpu_time_total),
                 _format_time(e.cpu_time_total, time_unit), _format_time(e.cpu_time, time_unit)]
        if profile_memory:
            cells += [_format_memory(e.cpu_memory_usage),
                      _format_memory(e.self_cpu_memory_usage)]
        cells.append(str(e.count))
        if with_shapes:
            cells.append(_clip(str(e.input_shapes), max_shapes_width))
        if with_stack:
            cells.append(_clip(e.stack[0] if e.stack else "", max_src_width))
        lines.append(row(cells))
        for frame in (e.stack[1:] if with_stack else ()):
            lines.append(row([""] * (len(cells) - 1) + [_clip(frame, max_src_width)]))
    lines += [rule, f"Self CPU time total: {_format_time(total_self, time_unit)}"]
    return "\n".join(lines) + "\n"


def _write_chrome_trace(events, path, metadata=None):
    """Chrome's trace format (chrome://tracing, Perfetto): one complete ("X") event per op
    or range, ``ts`` and ``dur`` in microseconds."""
    pid = os.getpid()
    trace = []
    for e in events:
        args = {"External id": e.id}
        if e.input_shapes:
            args["Input Dims"] = e.input_shapes
        if e.self_cpu_memory_usage:
            args["Self CPU Mem"] = e.self_cpu_memory_usage
        trace.append({"ph": "X", "cat": "user_annotation" if e.is_user_annotation else
                      "cpu_op", "name": e.name, "pid": pid, "tid": e.thread,
                      "ts": e._epoch_us + e.time_range.start, "dur": e.cpu_time_total,
                      "args": args})
    doc = {"schemaVersion": 1, "traceEvents": trace, "displayTimeUnit": "ms"}
    if metadata:
        doc.update(metadata)
    text = json.dumps(doc)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as f:
        f.write(text)


# ----------------------------------------------------------------------------------------------
# The user's side: record_function, profile, emit_nvtx
# ----------------------------------------------------------------------------------------------
class record_function:
    """A named range in the profile: ``with record_function("forward"): ...`` or
    ``@record_function("forward")``. Costs nothing when no profiler records."""

    def __init__(self, name, args=None):
        self.name = name
        self.args = args
        self._span = self._recorder = None

    def __enter__(self):
        recorder = _function._profiler
        if recorder is not None:
            self._recorder = recorder
            self._span = recorder.begin(self.name, [], user=True)
        return self

    def __exit__(self, *exc):
        if self._span is not None:
            self._recorder.end(self._span)
            self._span = self._recorder = None
        return False

    def __call__(self, fn):
        name, args = self.name, self.args

        @functools.wraps(fn)
        def wrapper(*a, **kw):
            with record_function(name, args):       # a range per call (recursion-safe)
                return fn(*a, **kw)
        return wrapper


class profile:
    """``torch.autograd.profiler.profile``: records the ops run inside the ``with`` block.

    ``prof.function_events`` (an ``EventList``), ``prof.key_averages()``, ``prof.table()``,
    ``prof.export_chrome_trace(path)``, ``prof.total_average()``; ``print(prof)`` prints the
    table. Times are CPU wall times; ``use_cuda`` records no device times.
    """

    def __init__(self, enabled=True, *, use_cuda=False, use_device=None, record_shapes=False,
                 with_flops=False, profile_memory=False, with_stack=False, with_modules=False,
                 use_kineto=False, use_cpu=True, experimental_config=None, acc_events=False,
                 custom_trace_id_callback=None):
        self.enabled = enabled
        self.use_device = "cuda" if use_cuda else use_device
        self.record_shapes = record_shapes
        self.with_flops = with_flops
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_modules = with_modules
        self.acc_events = acc_events
        self.function_events = None
        self._recorder = None
        self.entered = False

    def __enter__(self):
        if not self.enabled:
            return self
        if self.entered:
            raise RuntimeError("Profiler context manager is not reentrant")
        self.entered = True
        self._recorder = _Recorder(self.record_shapes, self.profile_memory, self.with_stack)
        self._recorder.install()
        return self

    def __exit__(self, *exc):
        if not self.enabled or self._recorder is None:
            return False
        self._recorder.uninstall()
        events = self._recorder.function_events(self.use_device)
        if self.acc_events and self.function_events is not None:
            events = EventList(list(self.function_events) + list(events),
                               profile_memory=self.profile_memory, use_device=self.use_device)
        self.function_events = events
        self._recorder = None
        self.entered = False
        return False

    def _events(self):
        if self.function_events is None:
            if self._recorder is not None:
                raise RuntimeError("Profiler didn't finish running")
            return EventList(profile_memory=self.profile_memory)
        return self.function_events

    def events(self):
        return self._events()

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0,
                     group_by_overload_name=False):
        return self._events().key_averages(group_by_input_shape, group_by_stack_n)

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75,
              max_name_column_width=55, max_shapes_column_width=80, header=None,
              top_level_events_only=False):
        return self._events().table(sort_by, row_limit, max_src_column_width,
                                    max_name_column_width, max_shapes_column_width, header,
                                    top_level_events_only)

    def total_average(self):
        return self._events().total_average()

    @property
    def self_cpu_time_total(self):
        return self._events().self_cpu_time_total

    def export_chrome_trace(self, path):
        self._events().export_chrome_trace(path)

    def __str__(self):
        return str(self._events()) if self.function_events is not None else \
            "<unfinished minigrad.autograd.profiler.profile>"

    __repr__ = __str__


class emit_nvtx:
    """NVTX ranges for NVIDIA's tools. As in PyTorch, it needs CUDA: without a GPU, entering it
    fails; ``enabled=False`` makes it do nothing. (minigrad emits no ranges of its own.)"""

    def __init__(self, enabled=True, record_shapes=False):
        self.enabled = enabled
        self.record_shapes = record_shapes

    def __enter__(self):
        if self.enabled and not backend.is_cuda_available():
            raise AssertionError("Torch not compiled with CUDA enabled")
        return self

    def __exit__(self, *exc):
        return False
