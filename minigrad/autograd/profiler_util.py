"""``torch.autograd.profiler_util``: what a profiler recorded -- its events, their averages,
the table ``key_averages().table()`` prints, and the Chrome trace.

An event's times are in microseconds and its memory in bytes, as in PyTorch; the recorder
that makes them is in ``profiler.py``.
"""
from __future__ import annotations

import gzip
import json
import os
from collections import OrderedDict

__all__ = ["EventList", "FunctionEvent", "FunctionEventAvg", "Interval"]


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
