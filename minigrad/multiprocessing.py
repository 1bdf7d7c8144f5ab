"""``minigrad.multiprocessing``: Python's ``multiprocessing`` with PyTorch's additions.

Everything of the standard module is here (``Process``, ``Queue``, ``Pool``,
``set_start_method``, ``cpu_count``...), plus PyTorch's ``spawn``/``start_processes`` (start
``nprocs`` processes running ``fn(i, *args)`` and re-raise a child's error in the parent) and
the sharing-strategy functions.  minigrad tensors pickle by value (their numbers are copied
into the message), not through shared memory, so the sharing strategy is recorded and
reported but changes nothing.  Importing this module changes no process-wide setting.
"""
from __future__ import annotations

import multiprocessing as _mp
import multiprocessing.connection as _connection
import signal as _signal
import sys as _sys
import traceback as _traceback
from multiprocessing import *  # noqa: F401,F403

from ._warn_once import warn_user

__all__ = list(_mp.__all__) + [
    "get_sharing_strategy", "set_sharing_strategy", "get_all_sharing_strategies", "spawn",
    "start_processes", "ProcessContext", "ProcessException", "ProcessRaisedException",
    "ProcessExitedException"]

_ALL_STRATEGIES = ({"file_descriptor", "file_system"} if _sys.platform.startswith("linux")
                   else {"file_system"})
_strategy = "file_descriptor" if "file_descriptor" in _ALL_STRATEGIES else "file_system"


def get_all_sharing_strategies() -> set:
    return set(_ALL_STRATEGIES)


def get_sharing_strategy() -> str:
    return _strategy


def set_sharing_strategy(new_strategy) -> None:
    """Record the strategy (checked as PyTorch checks it); tensors pickle by value anyway."""
    global _strategy
    if new_strategy not in _ALL_STRATEGIES:
        raise AssertionError(f"invalid sharing strategy {new_strategy!r}, expected one of "
                             f"{_ALL_STRATEGIES}")
    _strategy = new_strategy


class ProcessException(Exception):
    """A child process of ``spawn`` failed: ``error_index`` is its i, ``pid`` its process id."""

    def __init__(self, msg: str, error_index: int, pid: int):
        super().__init__(msg)
        self.msg, self.error_index, self.pid = msg, error_index, pid

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid)


class ProcessRaisedException(ProcessException):
    """The child raised; the message holds its traceback."""


class ProcessExitedException(ProcessException):
    """The child exited with a non-zero code, or was killed by a signal."""

    def __init__(self, msg, error_index, error_pid, exit_code, signal_name=None):
        super().__init__(msg, error_index, error_pid)
        self.exit_code, self.signal_name = exit_code, signal_name

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid, self.exit_code,
                            self.signal_name)


def _run_child(fn, i, args, error_queue):
    """What each child runs: ``fn(i, *args)``; an exception goes back to the parent as text."""
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass
    except Exception:
        error_queue.put(_traceback.format_exc())
        _sys.exit(1)


class ProcessContext:
    """The processes ``spawn(..., join=False)`` started, and their error queues."""

    def __init__(self, processes, error_queues):
        self.processes, self.error_queues = processes, error_queues
        self.sentinels = {p.sentinel: i for i, p in enumerate(processes)}

    def pids(self) -> list:
        return [int(p.pid) for p in self.processes]

    def join(self, timeout=None, grace_period=None) -> bool:
        """Wait up to ``timeout`` seconds for the processes: True once all have ended well,
        False while some still run; a failed one raises (after the others are stopped)."""
        if not self.sentinels:
            return True
        ready = _connection.wait(list(self.sentinels), timeout=timeout)
        failed = None
        for sentinel in ready:
            i = self.sentinels.pop(sentinel)
            self.processes[i].join()
            if self.processes[i].exitcode != 0 and failed is None:
                failed = i
        if failed is None:
            return not self.sentinels
        for p in self.processes:            # one failed: stop the rest, as PyTorch does
            if p.is_alive():
                p.terminate()
            p.join()
        self.sentinels.clear()
        process, queue = self.processes[failed], self.error_queues[failed]
        if queue.empty():
            code = process.exitcode
            if code < 0:
                name = _signal.Signals(-code).name
                raise ProcessExitedException(f"process {failed} terminated with signal {name}",
                                             failed, process.pid, code, name)
            raise ProcessExitedException(f"process {failed} terminated with exit code {code}",
                                         failed, process.pid, code)
        message = (f"\n\n-- Process {failed} terminated with the following error:\n"
                   + queue.get())
        raise ProcessRaisedException(message, failed, process.pid)


def start_processes(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """Start ``nprocs`` processes running ``fn(i, *args)`` for i in 0..nprocs-1 with the given
    start method; with ``join`` wait for them all (re-raising a child's error) and return None,
    otherwise return their ``ProcessContext``."""
    context = _mp.get_context(start_method)
    processes, queues = [], []
    for i in range(nprocs):
        queue = context.SimpleQueue()
        process = context.Process(target=_run_child, args=(fn, i, args, queue), daemon=daemon)
        process.start()
        processes.append(process)
        queues.append(queue)
    ctx = ProcessContext(processes, queues)
    if not join:
        return ctx
    while not ctx.join():
        pass
    return None


def spawn(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """``start_processes`` meant for the 'spawn' start method (another one warns, as in
    PyTorch, and is used)."""
    if start_method != "spawn":
        warn_user(f"spawn() is meant for start_method='spawn' (got {start_method!r}); "
                  "call minigrad.multiprocessing.start_processes(...) for another one",
                  FutureWarning)
    return start_processes(fn, args, nprocs, join, daemon, start_method)
