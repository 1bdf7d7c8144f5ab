"""The call-aware words of PyTorch's parser for an argument of the wrong type.

The shared checks of the ops (``normalize_dim``, ``bool_arg``, ``int_arg``) see one value, not
the call: their TypeError carries an ``ArgumentError`` naming the argument and the type it
wants.  The wrappers of the methods and functions (``_tensor_methods._torch_args``,
``worded``) see the call and restate that error as PyTorch's parser words it:

* where the arguments given fit more than one of the op's signatures (``x.sum(1.5)``: the
  signature without ``dim`` takes one argument too), the parser lists them all ("received an
  invalid combination of arguments - got (float), ...");
* otherwise it names the argument, with its position when it came by position
  (``x.softmax(1.5)``: "softmax(): argument 'dim' (position 1) must be int, not float";
  ``torch.softmax(x, 1.5)``: position 2, the tensor being the first).
"""
from __future__ import annotations

import functools
import inspect

from ._tensor_input import _NUMBER_FIRST, _SIGNATURES, _combination
from ._argument_error import ArgumentError

__all__ = ["restated", "worded", "parser_words"]

# the signatures of ops that ``_tensor_input`` leaves out (PyTorch takes a number first there
# too, ``torch.div(2, t)``), as its parser lists them; a method's are derived (``_method_form``)
_OUT = "Tensor out = None"
_MORE = {
    "div div_": (f"Tensor input, Tensor other, *, {_OUT}",
                 f"Tensor input, Tensor other, *, str rounding_mode, {_OUT}",
                 "Tensor input, Number other, *, str rounding_mode"),
    "divide divide_": (f"Tensor input, Tensor other, *, {_OUT}",
                       f"Tensor input, Tensor other, *, str rounding_mode, {_OUT}",
                       "Tensor input, Number other",
                       "Tensor input, Number other, *, str rounding_mode"),
}
_MORE = {name: sigs for names, sigs in _MORE.items() for name in names.split()}


def _signatures(name, signatures):
    return signatures or _SIGNATURES.get(name) or _NUMBER_FIRST.get(name) or _MORE.get(name)


def _counts(signature):
    """The fewest and the most arguments ``signature`` takes (keywords counted in)."""
    params = [p for p in signature.split(", ") if p and p != "*"]
    return sum(" = " not in p for p in params), len(params)


def _method_form(signature):
    """A function's signature as the method's: the leading ``Tensor input`` and the ``out``
    keyword left out (a trailing ``*`` with them)."""
    params = signature.split(", ")
    if params[0].startswith("Tensor "):
        params = params[1:]
    params = [p for p in params if p != "Tensor out = None"]
    while params and params[-1] == "*":
        params.pop()
    return ", ".join(params)


@functools.lru_cache(maxsize=None)
def _parameters(fn):
    try:
        return tuple(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return ()


def restated(exc, fn, args, kwargs, method, name=None, aliases=None, signatures=None):
    """``exc`` (a TypeError with an ``argument``, raised inside ``fn(*args, **kwargs)``) in
    the words PyTorch's parser gives that call of the method (``method``: args[0] is the
    tensor the method was called on) or function named ``name`` (``fn.__name__``; its
    ``signatures`` as PyTorch lists them, when not in ``_tensor_input``'s table); ``exc``
    itself when the argument is not one of this call's."""
    error = getattr(exc, "argument", None)
    name = name or fn.__name__
    # (an in-place method's error may name the op it runs: div_'s, div's)
    if error is None or error.op not in (None, name, name.rstrip("_")):
        return exc
    given = args[1:] if method else args
    if error.arg in kwargs:
        if kwargs[error.arg] is not error.value:
            return exc
        position = None
    elif error.position is not None:      # the raiser's: the function's, the tensor first
        if not (error.position <= len(args) and args[error.position - 1] is error.value):
            return exc
        position = error.position - 1 if method else error.position
    elif any(v is error.value for v in kwargs.values()):
        position = None
    else:
        if not any(v is error.value for v in given):
            return exc
        params = _parameters(fn)
        index = params.index(error.arg) if error.arg in params else -1
        if not 0 < index < len(args) or args[index] is not error.value:
            index = next((i for i, v in enumerate(args) if i and v is error.value), None)
            if index is None:
                return exc
        position = index if method else index + 1
    signatures = _signatures(name, signatures)
    # (a list whose later element cannot be read failed after its signature matched)
    if signatures is not None and not (error.found and error.found[0]):
        if method:
            signatures = tuple(_method_form(s) for s in signatures)
        count = len(given) + len(kwargs)
        fitting = sum(_counts(s)[0] <= count <= _counts(s)[1] for s in signatures)
        # (an error worded for the call, where no signature takes that many: the parser
        # lists them all too)
        if fitting > 1 or (fitting == 0 and error.expected is None and len(signatures) > 1):
            return _combination(name, given, kwargs, signatures)
    if error.expected is None:
        return exc
    arg = error.arg if aliases is None else aliases.get(error.arg, error.arg)
    out = TypeError(ArgumentError(name, arg, error.expected, error.value, position,
                                  error.found).words())
    out.argument = error
    return out


def worded(fn, method=False, name=None, aliases=None, signatures=None):
    """``fn`` (a Tensor method, with ``method``, or a function; PyTorch's ``name``), its
    arguments' TypeErrors restated in the words PyTorch's parser gives the call
    (``restated``; ``aliases``: PyTorch's names of fn's arguments where they differ;
    ``signatures``: its signatures, where ``_tensor_input`` does not list them)."""
    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except TypeError as exc:
            if not hasattr(exc, "argument"):
                if exc.__traceback__.tb_next is None:      # Python refused the call itself
                    raise _arity(exc, fn, args, kwargs, method, name, signatures) from None
                raise
            raise restated(exc, fn, args, kwargs, method, name, aliases,
                           signatures) from None
    return call


def _arity(exc, fn, args, kwargs, method, name, signatures):
    """Python's TypeError for a call of ``fn`` with too few, too many or unknown arguments, as
    PyTorch's parser words it where the op has several signatures (each listed)."""
    name = name or fn.__name__
    signatures = _signatures(name, signatures)
    if signatures is None or len(signatures) < 2 or not (args or not method):
        return exc
    if method:
        signatures = tuple(_method_form(s) for s in signatures)
    return _combination(name, args[1:] if method else args, kwargs, signatures)


def parser_words(name, signatures=None):
    """Decorator for a function named ``name`` in PyTorch: ``worded(fn, False, name, None,
    signatures)``."""
    return lambda fn: worded(fn, False, name, None, signatures)
