"""``Timer``: times a Python statement as ``torch.utils.benchmark.Timer`` does (a warm-up,
then blocks of runs sized so that the clock's overhead does not matter)."""
from __future__ import annotations

import enum
import sys
import textwrap
import timeit as _timeit

from ... import cuda
from . import common

__all__ = ["Timer", "timer", "Language"]


def timer() -> float:
    """The default clock: ``timeit.default_timer``, after waiting for queued GPU work."""
    if cuda.is_available():
        cuda.synchronize()
    return _timeit.default_timer()


class Language(enum.Enum):
    PYTHON = 0
    CPP = 1


def _tidy(code: str) -> str:
    code = textwrap.dedent(code)
    return (code[1:] if code.startswith("\n") else code).rstrip()


class Timer:
    """Times ``stmt`` after ``setup``, both run with ``globals`` (``torch`` is this package
    unless given). ``label``, ``sub_label``, ``description`` and ``env`` place the results in
    a ``Compare`` table; ``num_threads`` is set while timing. Python statements only: C++
    timing needs PyTorch's compiler toolchain."""

    def __init__(self, stmt="pass", setup="pass", global_setup="", timer=timer, globals=None,
                 label=None, sub_label=None, description=None, env=None, num_threads=1,
                 language=Language.PYTHON):
        if not isinstance(stmt, str):
            raise ValueError("Currently only a `str` stmt is supported.")
        if language in (Language.CPP, "cpp", "c++"):
            raise NotImplementedError("minigrad's Timer times Python statements only "
                                      "(language=Language.PYTHON)")
        if language not in (Language.PYTHON, "py", "python"):
            raise ValueError(f"Invalid language `{language}`.")
        if global_setup:
            raise ValueError(f"global_setup is C++ only, got `{global_setup}`. Most likely "
                             "this code can simply be moved to `setup`.")
        self._globals = dict(globals or {})
        self._globals.setdefault("torch", sys.modules[__name__.split(".")[0]])
        self._language = Language.PYTHON
        stmt, setup = _tidy(stmt), _tidy(setup)
        self._timer = _timeit.Timer(stmt=stmt, setup=setup, timer=timer, globals=self._globals)
        self._task_spec = common.TaskSpec(stmt=stmt, setup=setup, global_setup=global_setup,
                                          label=label, sub_label=sub_label,
                                          description=description, env=env,
                                          num_threads=num_threads)

    def _timeit(self, number: int) -> float:
        return max(self._timer.timeit(number), 1e-9)    # never 0: times are divided

    def _measurement(self, number, times):
        return common.Measurement(number_per_run=number, raw_times=times,
                                  task_spec=self._task_spec)

    def timeit(self, number: int = 1000000) -> common.Measurement:
        """One block of ``number`` runs, after a warm-up of a hundredth as many."""
        with common.set_torch_threads(self._task_spec.num_threads):
            self._timeit(max(int(number // 100), 2))
            return self._measurement(number, [self._timeit(number)])

    def repeat(self, repeat=-1, number=-1):
        raise NotImplementedError("See `Timer.blocked_autorange.`")

    def autorange(self, callback=None):
        raise NotImplementedError("See `Timer.blocked_autorange.`")

    def _block_size(self, min_run_time: float) -> int:
        """Runs per block: grown tenfold until the timer's own overhead is under 0.01% of a
        block and a block takes a thousandth of ``min_run_time`` (or all of it)."""
        with common.set_torch_threads(self._task_spec.num_threads):
            empty = sorted(self._timeit(0) for _ in range(5))[2]
            number = 1
            while True:
                took = self._timeit(number)
                if empty / took <= 1e-4 and took >= min_run_time / 1000:
                    break
                if took > min_run_time or number * 10 > 2147483647:
                    break
                number *= 10
        return number

    def _blocks(self, number, done, min_run_time, max_run_time=None, callback=None):
        """Time blocks until ``min_run_time`` is spent and ``done(times)`` agrees, or
        ``max_run_time`` is passed."""
        total, times, can_stop = 0.0, [], False
        with common.set_torch_threads(self._task_spec.num_threads):
            while total < min_run_time or not can_stop:
                took = self._timeit(number)
                times.append(took)
                total += took
                if callback:
                    callback(number, took)
                can_stop = done(times)
                if max_run_time and total > max_run_time:
                    break
        return times

    def blocked_autorange(self, callback=None, min_run_time=0.2) -> common.Measurement:
        """Blocks of runs for at least ``min_run_time`` seconds; ``callback(number, time)``
        after each block."""
        number = self._block_size(min_run_time)
        times = self._blocks(number, lambda times: True, min_run_time, callback=callback)
        return self._measurement(number, times)

    def adaptive_autorange(self, threshold=0.1, *, min_run_time=0.01, max_run_time=10.0,
                           callback=None) -> common.Measurement:
        """Blocks of runs until the interquartile range is under ``threshold`` of the median
        (at least four blocks), or ``max_run_time`` seconds have gone."""
        number = self._block_size(0.05)

        def done(times):
            return len(times) > 3 and \
                self._measurement(number, times).meets_confidence(threshold=threshold)
        times = self._blocks(number, done, min_run_time, max_run_time, callback)
        return self._measurement(number, times)
