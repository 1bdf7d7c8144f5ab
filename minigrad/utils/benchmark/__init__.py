"""``torch.utils.benchmark``: time statements and compare the results.

    t = Timer("x @ y", globals={"x": a, "y": b}, label="matmul", description="64x64")
    m = t.blocked_autorange(min_run_time=0.2)     # a Measurement: m.median, m.iqr, m.times
    Compare([m, ...]).print()

``Timer`` (``timeit``, ``blocked_autorange``, ``adaptive_autorange``), ``Measurement`` and
``Compare`` behave and print as PyTorch's. Left out: C++ statements and Callgrind
instruction counts (they need PyTorch's build tools), and the input fuzzers.
"""
from .common import (  # noqa: F401
    Measurement, TaskSpec, ordered_unique, select_unit, set_torch_threads, trim_sigfig,
    unit_to_english)
from .compare import Colorize, Compare  # noqa: F401
from .timer import Language, Timer, timer  # noqa: F401

__all__ = ["Colorize", "Compare", "Language", "Measurement", "TaskSpec", "Timer",
           "ordered_unique", "select_unit", "set_torch_threads", "timer", "trim_sigfig",
           "unit_to_english"]
