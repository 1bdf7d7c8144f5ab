"""``Compare``: many Measurements as tables, one per label, laid out as PyTorch's: a row per
(threads, env, sub-label), a column per description, medians in one unit per table."""
from __future__ import annotations

import enum
import math

from . import common

__all__ = ["Colorize", "Compare"]

_BEST, _GOOD, _BAD, _VERY_BAD = "\033[92m", "\033[34m", "\033[2m\033[91m", "\033[31m"
_BOLD, _END = "\033[1m", "\033[0m"


class Colorize(enum.Enum):
    NONE = "none"
    COLUMNWISE = "columnwise"
    ROWWISE = "rowwise"


def _paint(text, value, best):
    """``text`` in the colour of ``value`` beside the best value it is compared with."""
    if value <= best * 1.01 or value <= best + 100e-9:
        return _BEST + _BOLD + text + _END * 2
    if value <= best * 1.1:
        return _GOOD + _BOLD + text + _END * 2
    if value >= best * 5:
        return _VERY_BAD + _BOLD + text + _END * 2
    if value >= best * 2:
        return _BAD + text + _END * 2
    return text


class _Table:
    """One label's measurements: rows, columns, and the text."""

    def __init__(self, results, colorize, trim, highlight):
        self.results, self.colorize, self.trim = results, colorize, trim
        self.highlight = highlight and any(m.has_warnings for m in results)
        self.label = results[0].label
        self.unit, self.scale = common.select_unit(min(m.median for m in results))
        keys = common.ordered_unique((m.num_threads, m.env, m.as_row_name) for m in results)
        self.row_keys = sorted(keys, key=lambda k: (k[0], k[1]))
        self.col_keys = common.ordered_unique(m.description for m in results)
        rows = {k: i for i, k in enumerate(self.row_keys)}
        cols = {k: j for j, k in enumerate(self.col_keys)}
        self.grid = [[None] * len(self.col_keys) for _ in self.row_keys]
        for m in results:
            self.grid[rows[(m.num_threads, m.env, m.as_row_name)]][cols[m.description]] = m
        # thread groups: a new one wherever the thread count changes
        self.group_of, group = [], -1
        for k, key in enumerate(self.row_keys):
            if k == 0 or key[0] != self.row_keys[k - 1][0]:
                group += 1
            self.group_of.append(group)
        self.formats = [self._column_format(j) for j in range(len(self.col_keys))]

    def _column_format(self, j):
        """(width-and-precision template, warning-suffix width) for column j: as many integer
        digits as its largest median needs; one decimal, or with trimming as many as the
        least precise measurement supports."""
        column = [row[j] for row in self.grid if row[j] is not None]
        digits = [math.ceil(math.log10(m.median / self.scale)) for m in column]
        decimals = min(max(m.significant_figures - d, 0) for m, d in zip(column, digits)) \
            if self.trim else 1
        width = max(digits) + decimals + (1 if decimals else 0)
        return f"{{:>{width}.{decimals}f}}", 7 if self.highlight else 0

    def _cell(self, j, m):
        template, extra = self.formats[j]
        if m is None:
            return " " * len(template.format(1.0) + "{:>{}}".format("", extra))
        value = m.median / self.scale
        if self.trim:
            value = common.trim_sigfig(value, m.significant_figures)
        note = f" (! {m.iqr / m.median * 100:.0f}%)" if self.highlight and m.has_warnings else ""
        return template.format(value) + "{:>{}}".format(note, extra) if extra else \
            template.format(value)

    def _best(self, i):
        """The median each cell of row i is coloured against."""
        row = self.grid[i]
        if self.colorize == Colorize.ROWWISE:
            return [min(m.median for m in row if m is not None)] * len(row)
        if self.colorize == Colorize.COLUMNWISE:
            same = [r for r, g in zip(self.grid, self.group_of) if g == self.group_of[i]]
            return [min((r[j].median for r in same if r[j] is not None), default=None)
                    for j in range(len(row))]
        return [None] * len(row)

    def render(self):
        envs = {m.env for m in self.results}
        show_env = len(envs) > 1
        env_width = max(len(str(e)) for e in envs) if show_env else 0
        text_rows = [[""] + ["" if c is None else str(c) for c in self.col_keys]]
        previous_env = ""
        for i, (key, row) in enumerate(zip(self.row_keys, self.grid)):
            if i == 0 or self.group_of[i] != self.group_of[i - 1]:
                previous_env = ""
            env = f"({key[1]})" if show_env and key[1] != previous_env else ""
            previous_env = key[1]
            text_rows.append(["  " + env.ljust(env_width + 4) + key[2]] +
                             [self._cell(j, m) for j, m in enumerate(row)])
        widths = [max(len(r[c]) for r in text_rows) for c in range(len(text_rows[0]))]
        header = "  |  ".join(t.center(w) for t, w in zip(text_rows[0], widths))
        lines = [header]
        for i, cells in enumerate(text_rows[1:]):
            if i == 0 or self.group_of[i] != self.group_of[i - 1]:
                lines.append(f"{self.row_keys[i][0]} threads: ".ljust(len(header), "-"))
            out = [cells[0].ljust(widths[0])]
            for text, width, m, best in zip(cells[1:], widths[1:], self.grid[i], self._best(i)):
                text = text.center(width)
                if best is not None and m is not None:
                    text = _paint(text, m.median, best)
                out.append(text)
            lines.append("  |  ".join(out))
        title = f" {self.label or ''} ".center(len(header) - 2, "-")
        note = ("(! XX%) Measurement has high variance, where XX is the IQR / median * 100.\n"
                if self.highlight else "")
        return (f"[{title}]\n" + "\n".join(lines) + f"\n\nTimes are in "
                f"{common.unit_to_english(self.unit)}s ({self.unit}).\n" + note)


class Compare:
    """Measurements as tables: ``print(Compare(results))`` or ``Compare(results).print()``.
    Rows come from ``sub_label`` (or the statement) and ``num_threads``, columns from
    ``description``, one table per ``label``; replicates of one TaskSpec are pooled."""

    def __init__(self, results):
        self._results = []
        self.extend_results(results)
        self._trim_significant_figures = False
        self._colorize = Colorize.NONE
        self._highlight_warnings = False

    def __str__(self):
        return "\n".join(self._render())

    def extend_results(self, results):
        """Add Measurements to the ones already held."""
        for r in results:
            if not isinstance(r, common.Measurement):
                raise ValueError(f"Expected an instance of `Measurement`, got {type(r)} "
                                 "instead.")
        self._results.extend(results)

    def trim_significant_figures(self):
        """Show only the figures each measurement's spread supports."""
        self._trim_significant_figures = True

    def colorize(self, rowwise=False):
        """Colour cells against the best of their column (or, ``rowwise``, their row)."""
        self._colorize = Colorize.ROWWISE if rowwise else Colorize.COLUMNWISE

    def highlight_warnings(self):
        """Mark cells whose measurement varies a lot with ``(! XX%)``."""
        self._highlight_warnings = True

    def print(self):
        print(str(self))

    def _render(self):
        by_label = {}
        for m in common.Measurement.merge(self._results):
            by_label.setdefault(m.label, []).append(m)
        return [_Table(group, self._colorize, self._trim_significant_figures,
                       self._highlight_warnings).render() for group in by_label.values()]
