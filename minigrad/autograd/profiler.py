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
import os
import re
import threading
import time
import traceback

from .. import backend
from . import function as _function
from .function import Function
from .profiler_util import EventList, FunctionEvent, FunctionEventAvg, Interval  # noqa: F401

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


class OpSlot:
    """What sits in ``Function.apply``'s one observer slot (the profiler, the FLOP counter):
    ``apply`` asks ``claims(cls)`` first thing and, when True, hands the call to
    ``run_op``, which sets ``self._local.inner`` before calling ``apply`` again itself."""

    def claims(self, cls):
        """False for the call ``run_op`` makes (so that it runs), else True."""
        local = self._local
        if getattr(local, "inner", False):
            local.inner = False
            return False
        return True


class _Recorder(OpSlot):
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
            return None                  # PyTorch's: `with profile(enabled=False) as p` binds None
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
