"""``torch._dynamo``: the parts of PyTorch's compiler front end that scripts touch.

minigrad has no compiler (``minigrad/compiler.py``): code always runs eagerly. The names here
are ``minigrad.compiler``'s own (``reset``, ``disable``, ``is_compiling``, ``allow_in_graph``,
``OptimizedModule``, ``list_backends``...), plus ``config`` (settings kept, read by nothing),
``exc`` (the exception classes), ``optimize`` (as ``compile``), and the shape markers
``mark_dynamic``/``mark_static``, which have nothing to mark when every shape is concrete.
``explain`` is left out: with no graph to capture there is nothing true it could report.
"""
from .. import compiler as _compiler
from ..compiler import (  # noqa: F401
    OptimizedModule, allow_in_graph, assume_constant_result, disable, is_compiling,
    list_backends, reset, set_stance, substitute_in_graph)
from . import config, exc  # noqa: F401

__all__ = ["OptimizedModule", "allow_in_graph", "assume_constant_result", "config", "disable",
           "exc", "graph_break", "is_compiling", "list_backends", "mark_dynamic", "mark_static",
           "mark_static_address", "maybe_mark_dynamic", "optimize", "reset", "run",
           "set_stance", "substitute_in_graph"]


def optimize(backend="inductor", *, nopython=False, guard_export_fn=None,
             guard_fail_fn=None, guard_filter_fn=None, disable=False, dynamic=None, **kwargs):
    """The older spelling of ``compile``: a decorator that compiles what it is given, which
    in minigrad means running it as it is (a Module comes back as an ``OptimizedModule``)."""
    if disable:
        return _compiler._identity
    return lambda fn: _compiler.compile(fn, backend=backend, fullgraph=nopython,
                                        dynamic=dynamic)


def run(fn=None):
    """Run ``fn`` without compiling anything new: always so."""
    return _compiler._identity if fn is None else fn


def graph_break(msg=""):
    """Split the captured graph here: there is none, so nothing happens."""


def mark_dynamic(t, index, *, hint_override=None, min=None, max=None, specialize_on=None):
    """Ask the compiler to treat dimension ``index`` of ``t`` as dynamic: nothing to do."""


def maybe_mark_dynamic(t, index):
    """As ``mark_dynamic``, without insisting: nothing to do."""


def mark_static(t, index=None):
    """Ask the compiler to specialize on these dimensions: nothing to do."""


def mark_static_address(t, guard=True):
    """Promise that ``t``'s memory does not move between calls: nothing to do."""
