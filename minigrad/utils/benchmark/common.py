"""What a timing is: ``TaskSpec`` (what was timed) and ``Measurement`` (the times), with the
unit and significant-figure helpers ``Compare`` uses."""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import math
import textwrap

import numpy as np

from ... import parallel

__all__ = ["TaskSpec", "Measurement", "select_unit", "unit_to_english", "trim_sigfig",
           "ordered_unique", "set_torch_threads"]

_MOST_FIGURES = 4
_SMALLEST_INTERVAL = 25e-9          # seconds: no confidence interval is reported below this
_SPREAD_WARN, _SPREAD_WARN_GROSS = 0.1, 0.25


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """A Timer's description: statement, setup and the labels that place it in a table."""
    stmt: str
    setup: str
    global_setup: str = ""
    label: str | None = None
    sub_label: str | None = None
    description: str | None = None
    env: str | None = None
    num_threads: int = 1

    @property
    def title(self) -> str:
        """The label (or a one-line statement), with the sub-label after a colon."""
        suffix = f": {self.sub_label}" if self.sub_label else ""
        if self.label is not None:
            return self.label + suffix
        if "\n" not in self.stmt:
            return self.stmt + suffix
        sub = f" ({self.sub_label})" if self.sub_label else ""
        return f"stmt:{sub}\n" + textwrap.indent(self.stmt, "  ")

    def setup_str(self) -> str:
        if not self.setup or self.setup == "pass":
            return ""
        if "\n" in self.setup:
            return "setup:\n" + textwrap.indent(self.setup, "  ")
        return f"setup: {self.setup}"

    def summarize(self) -> str:
        """Title, description and setup, one block each (multi-line ones followed by a blank
        line)."""
        parts = [p for p in (self.title, self.description or "", self.setup_str()) if p]
        return "\n".join(p + "\n" if "\n" in p else p for p in parts)


_SPEC_FIELDS = frozenset(f.name for f in dataclasses.fields(TaskSpec))


@dataclasses.dataclass(repr=False)
class Measurement:
    """One or more timings of one statement: ``raw_times[i]`` is the time of a block of
    ``number_per_run`` runs; ``times`` are per run. The TaskSpec's fields read through."""
    number_per_run: int
    raw_times: list
    task_spec: TaskSpec
    metadata: dict | None = None

    def __post_init__(self):
        self._stats = None

    def __getattr__(self, name):
        if name in _SPEC_FIELDS:
            return getattr(self.task_spec, name)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def _lazy_init(self):
        """Sorted per-run times, median, mean, quartiles and warnings, computed once."""
        if self._stats is None and self.raw_times:
            ordered = np.sort(np.asarray(self.times, dtype=np.float64))
            p25, median, p75 = np.quantile(ordered, [0.25, 0.5, 0.75])
            spread = (p75 - p25) / median
            warnings = ()
            if spread >= _SPREAD_WARN:
                why = ("This suggests significant environmental influence."
                       if spread >= _SPREAD_WARN_GROSS else
                       "This could indicate system fluctuation.")
                warnings = (f"  WARNING: Interquartile range is {spread * 100:.1f}% of the "
                            f"median measurement.\n           {why}",)
            self._stats = (tuple(float(t) for t in ordered), float(median),
                           float(ordered.mean()), float(p25), float(p75), warnings)
        return self._stats or ((), -1.0, -1.0, -1.0, -1.0, ())

    @property
    def times(self) -> list:
        return [t / self.number_per_run for t in self.raw_times]

    @property
    def median(self) -> float:
        return self._lazy_init()[1]

    @property
    def mean(self) -> float:
        return self._lazy_init()[2]

    @property
    def iqr(self) -> float:
        stats = self._lazy_init()
        return stats[4] - stats[3]

    @property
    def has_warnings(self) -> bool:
        return bool(self._lazy_init()[5])

    def meets_confidence(self, threshold=_SPREAD_WARN) -> bool:
        return self.iqr / self.median < threshold

    @property
    def significant_figures(self) -> int:
        """How many figures of the median to trust (1 to 4), from a 90% confidence interval
        of the middle half of the times."""
        ordered = self._lazy_init()[0]
        n = len(ordered)
        middle = np.asarray(ordered[n // 4:math.ceil(3 * n / 4)])
        interval = max(1.645 * float(middle.std()) / math.sqrt(len(middle)), _SMALLEST_INTERVAL)
        return min(max(math.floor(math.log10(self.median / interval)), 1), _MOST_FIGURES)

    @property
    def title(self) -> str:
        return self.task_spec.title

    @property
    def env(self):
        return self.task_spec.env

    @property
    def as_row_name(self) -> str:
        return self.sub_label or self.stmt or "[Unknown]"

    def __repr__(self):
        ordered, median, _, p25, p75, warnings = self._lazy_init()
        n = len(ordered)
        unit, scale = select_unit(median)
        lines = [object.__repr__(self), self.task_spec.summarize(),
                 f"  {'Median: ' if n > 1 else ''}{median / scale:.2f} {unit}"]
        if n >= 4:
            lines.append(f"  IQR:    {(p75 - p25) / scale:.2f} {unit} ({p25 / scale:.2f} to "
                         f"{p75 / scale:.2f})")
        threads = f"{self.num_threads} thread{'s' if self.num_threads > 1 else ''}"
        lines.append(f"  {n} measurement{'s' if n > 1 else ''}, {self.number_per_run} runs "
                     f"{'per measurement,' if n > 1 else ','} {threads}")
        lines.append("\n".join(warnings))
        return "\n".join(lines).strip()

    @staticmethod
    def merge(measurements):
        """One Measurement per TaskSpec, its times per run pooled (``number_per_run`` 1)."""
        pooled = collections.defaultdict(list)
        for m in measurements:
            pooled[m.task_spec].extend(m.times)
        return [Measurement(1, times, spec) for spec, times in pooled.items()]


def select_unit(t: float):
    """The unit ("ns", "us", "ms" or "s") that shows ``t`` seconds with few leading digits,
    and its size in seconds."""
    unit = {-3: "ns", -2: "us", -1: "ms"}.get(int(math.log10(t) // 3), "s")
    return unit, {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1}[unit]


def unit_to_english(u: str) -> str:
    return {"ns": "nanosecond", "us": "microsecond", "ms": "millisecond", "s": "second"}[u]


def trim_sigfig(x: float, n: int) -> float:
    """``x`` rounded to ``n`` significant figures (3.14159, 2 -> 3.1)."""
    if n != int(n):
        raise AssertionError("Number of significant figures must be an integer")
    scale = 10 ** (math.ceil(math.log10(abs(x))) - n)
    return float(round(x / scale) * scale)


def ordered_unique(elements) -> list:
    return list(dict.fromkeys(elements))


@contextlib.contextmanager
def set_torch_threads(n: int):
    """Run the block with ``n`` intra-op threads, then restore the number."""
    before = parallel.get_num_threads()
    try:
        parallel.set_num_threads(n)
        yield
    finally:
        parallel.set_num_threads(before)
