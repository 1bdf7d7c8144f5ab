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

Python's own refusal of the wrapped call, too few or too many arguments, is restated too
(``_arity``, only once the call has failed): PyTorch's ``softmax() missing 1 required
positional arguments: "dim"`` (its names, "arguments" for one), ``argmax() takes from 0 to 2
positional arguments but 3 were given`` (a method's tensor not counted), or the list of the
signatures where the op has several (``_parser_signatures``).
"""
from __future__ import annotations

import functools
import inspect
import re

from ._tensor_input import _NUMBER_FIRST, _SIGNATURES
from ._parser_message import _combination, _listed, _type_name
from ._argument_error import ArgumentError
from ._parser_emulation import raise_reworded
from . import _parser_signatures as _PARSED

__all__ = ["restated", "worded", "parser_words", "arity_restated"]

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
_MORE["bucketize"] = _PARSED.FUNCTIONS["bucketize"]


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
            # (the parser's words, where it refuses the call)
            raise_reworded(exc, call, args, kwargs, method, name)
            if not hasattr(exc, "argument"):
                if exc.__traceback__.tb_next is None:      # Python refused the call itself
                    raise _arity(exc, fn, args, kwargs, method, name, signatures,
                                 aliases) from None
                raise
            raise restated(exc, fn, args, kwargs, method, name, aliases,
                           signatures) from None
        except AttributeError as exc:   # (an argument of a type the op cannot read)
            raise_reworded(exc, call, args, kwargs, method, name)
            raise
    return call


def _arity(exc, fn, args, kwargs, method, name, signatures, aliases=None):
    """Python's TypeError for a call of ``fn`` with too few, too many or unknown arguments, as
    PyTorch's parser words it: each signature listed where the op has several, else what is
    missing or how many it takes (``_counted``)."""
    name = name or fn.__name__
    # (the ops of ``_parser_signatures`` have hidden signatures besides those listed)
    listed = (_PARSED.METHODS if method else _PARSED.FUNCTIONS).get(name)
    if method and name in _PARSED.ONE_METHOD:
        return _counted(exc, fn, args, kwargs, method, name, aliases)
    if listed is None:
        listed = _signatures(name, signatures)
        if listed is None or len(listed) < 2 or not (args or not method):
            return _counted(exc, fn, args, kwargs, method, name, aliases)
        if method:
            listed = tuple(_method_form(s) for s in listed)
    elif _python_arity(exc, fn) is None:
        return exc
    count = len(args) - method + len(kwargs)
    # (where one signature alone takes that many arguments, the parser words it for that one)
    plausible = [s for s in listed if _counts(s)[0] <= count <= _counts(s)[1]]
    if len(plausible) == 1:
        return _counted(exc, fn, args, kwargs, method, name, aliases, plausible[0])
    if len(listed) == 1:        # (the hidden ones not shown)
        given = [_type_name(a) for a in (args[1:] if method else args)]
        keywords = list(kwargs)
        if len(keywords) > 1:
            keywords[0], keywords[-1] = keywords[-1], keywords[0]
        given += [f"{k}={_type_name(kwargs[k])}" for k in keywords]
        return TypeError(f"{name}() received an invalid combination of arguments - got "
                         f"{_listed(given, args[method:])}, but expected ({listed[0]})")
    return _combination(name, args[1:] if method else args, kwargs, listed)


# Python's refusal of a call for too few or too many arguments (the function's qualified name
# first)
_PYTHON_ARITY = re.compile(r"([\w.<>]+)\(\) (missing \d+ required (?:positional|keyword-only) "
                           r"arguments?: .*|takes (?:from \d+ to )?\d+ positional arguments? "
                           r"but \d+ (?:was|were) given)")
# PyTorch's functions written in Python, whose refusals are Python's own words
_PYTHON_LEVEL = frozenset({"tensordot", "normalize", "norm", "lu", "split", "unique", "stft",
                           "cdist", "unflatten", "istft", "unique_consecutive", "threshold_"})
# PyTorch's names of parameters that minigrad names otherwise: the first operand of a function
# is its ``input`` and a second ``b`` its ``other``; by function where that is not all
_FIRST = frozenset({"a", "x", "t", "tensor", "self", "inp"})
_TORCH_NAMES = {"dot": {"b": "tensor", "other": "tensor"}}


def _python_arity(exc, fn):
    """The match of Python's words refusing a call of ``fn`` for its count of arguments."""
    match = _PYTHON_ARITY.fullmatch(str(exc))
    return match if match and match.group(1) == getattr(fn, "__qualname__", None) else None


@functools.lru_cache(maxsize=None)
def _arguments(fn):
    """``fn``'s parameters as (name, required, positional) triples, its ``*args`` and
    ``**kwargs`` left out; None where it has no signature Python can read."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return tuple((p.name, p.default is inspect.Parameter.empty, p.kind in kinds)
                 for p in params if p.kind not in (inspect.Parameter.VAR_POSITIONAL,
                                                   inspect.Parameter.VAR_KEYWORD))


def _torch_name(name, index, fn_name, aliases, signature=None):
    if signature is not None:           # (PyTorch's names already)
        return name
    if aliases and name in aliases:
        return aliases[name]
    table = _TORCH_NAMES.get(fn_name)
    if table and name in table:
        return table[name]
    if index == 0 and name in _FIRST:
        return "input"
    if index == 1 and name == "b":
        return "other"
    return name


def _parsed(signature):
    """``signature`` (as PyTorch lists it) as (name, required, positional) triples."""
    params, positional = [], True
    for piece in signature.split(", "):
        if piece == "*":
            positional = False
        elif piece:
            head = piece.split(" = ")[0]
            params.append((head.split()[-1], " = " not in piece, positional))
    return tuple(params)


def _counted(exc, fn, args, kwargs, method, name, aliases=None, signature=None):
    """Python's TypeError ``exc`` for a call of ``fn`` (by the wrapper that raised it, not from
    deeper) with too few or too many positional arguments, in PyTorch's parser's words: the
    required arguments from the first missing one on (with its "1 required positional
    arguments" and its double quotes), or how many positional arguments the op takes, the
    tensor of a method not counted; ``exc`` itself for anything else."""
    match = _python_arity(exc, fn)
    if match is None or name in _PYTHON_LEVEL:
        return exc
    params = _arguments(fn) if signature is None else _parsed(signature)
    if params is None or (method and signature is None and not params):
        return exc
    if method and signature is None:
        params = params[1:]
    given = len(args) - method
    if match.group(2).startswith("missing"):
        first = next((i for i, (param, required, positional) in enumerate(params)
                      if required and not (positional and i < given) and param not in kwargs),
                     None)
        if first is None:
            return exc
        shift = method and signature is None     # (fn's own index: the tensor first)
        missing = [f'"{_torch_name(p, i + shift, name, aliases, signature)}"'
                   for i, (p, required, _) in enumerate(params) if i >= first and required]
        count = len(missing)
        return TypeError(f"{name}() missing {count} required positional argument"
                         f"{'s' if count == 1 else ''}: {', '.join(missing)}")
    most = sum(positional for _, _, positional in params)
    least = sum(required for _, required, _ in params)
    if given <= most:
        return exc
    if least != most:
        return TypeError(f"{name}() takes from {least} to {most} positional arguments but "
                         f"{given} were given")
    return TypeError(f"{name}() takes {most} positional argument{'' if most == 1 else 's'} "
                     f"but {given} were given")


def arity_restated(exc, fn, args, kwargs, method, name, codes):
    """``exc`` (a TypeError without an ``argument``) in PyTorch's words where it is Python's
    refusal of the wrapper's own call of ``fn``: raised in a frame running one of ``codes``
    (the wrapper's), not deeper (``_arity``); else ``exc`` itself."""
    tb = exc.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    # (Python's own words only: a refusal the wrapper itself raises is already PyTorch's)
    if tb.tb_frame.f_code not in codes or _python_arity(exc, fn) is None:
        return exc
    return _arity(exc, fn, args, kwargs, method, name, None)


def parser_words(name, signatures=None):
    """Decorator for a function named ``name`` in PyTorch: ``worded(fn, False, name, None,
    signatures)``."""
    return lambda fn: worded(fn, False, name, None, signatures)
