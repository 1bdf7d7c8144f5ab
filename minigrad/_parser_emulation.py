"""PyTorch's refusal of a call, worked out from its signatures once minigrad's op has failed.

PyTorch reads the arguments of its functions and Tensor methods with one parser that checks a
call against each of the op's signatures before the op runs, so a wrong call is refused in
the parser's words whatever the op: ``sin() missing 1 required positional arguments:
"input"``, ``sin(): argument 'input' (position 1) must be Tensor, not str``, ``cumsum() got
an unexpected keyword argument 'b'``, ``takes from 1 to 2 positional arguments but 3 were
given``, or, where the op has several signatures and none takes the call, each of them listed
("received an invalid combination of arguments").

``reworded`` is asked by the wrappers minigrad already has around its ops (``_torch_args``,
``worded``, ``guarded``...) in their ``except`` clause only: once the op has raised a
TypeError or an AttributeError (never a RuntimeError, ValueError or IndexError, which the op
raises for a call the parser takes), and never on the path of a call that works.  It tries
the call against the op's signatures (``_parser_table_*``) and gives the TypeError PyTorch
raises, or None (the op's own error then stands) where:

* the op's error already is in the parser's words (its own, not a wrapper's restatement);
* a signature takes the call, or might: a None or a number given where the table cannot say
  whether PyTorch takes one (``Tensor? weight`` is printed ``Tensor weight``; a few ops take
  numbers for tensors), or a type the table does not know;
* the op's public name is not certain: the wrapper is found under one name alone, of Tensor
  or of the package (or of ``nn.functional`` where PyTorch's function there is the same C
  function), not under a name of ``linalg``, ``special`` or ``fft``, whose words differ.
"""
from __future__ import annotations

import functools
import inspect
import os
import re
import sys

import numpy as np

from . import (_parser_table_linalg, _parser_table_listed, _parser_table_methods,
               _parser_table_one)
from ._parser_message import _PRINTED, _combination, _listed, _type_name
from .tensor import Tensor

__all__ = ["reworded", "raise_reworded", "refusal"]

# the other keyword names PyTorch's parser takes for a parameter (numpy's spellings)
_NUMPY = {"dim": ("axis",), "keepdim": ("keepdims",), "input": ("x", "a", "x1"),
          "other": ("x2",)}
_CLASSES = {"torch.Generator": "Generator", "torch.layout": "layout",
            "torch.memory_format": "memory_format"}
_UNKNOWN = object()         # (a parameter the call does not give)


def _entries(*texts):
    """The table's text as {name: (mark, signatures)}."""
    table, names, sigs, mark = {}, [], [], None

    def close():
        table.update({n: (mark, tuple(s[1:-1] for s in sigs)) for n in names})
    for line in "\n".join(texts).splitlines():
        if line[:1] in ("=", "-", "0"):
            if sigs or (mark is not None and line[0] != mark):
                close()
                names, sigs = [], []
            mark = line[0]
            names += line[2:].split()
        elif line.startswith("    "):
            sigs[-1] += " " + line.strip()
        elif line.strip():
            sigs.append(line.strip())
    close()
    return table


@functools.lru_cache(maxsize=2)
def _table(method):
    if method:
        return _entries(_parser_table_methods.TEXT)
    return _entries(_parser_table_listed.TEXT, _parser_table_one.TEXT,
                    _parser_table_linalg.TEXT)


class _Param:
    __slots__ = ("name", "kind", "optional", "none", "keyword")

    def __init__(self, name, kind, optional, none, keyword):
        self.name, self.kind, self.optional, self.none, self.keyword = \
            name, kind, optional, none, keyword


@functools.lru_cache(maxsize=None)
def _params(signature):
    params, keyword = [], False
    for piece in signature.split(", ") if signature else ():
        if piece == "*":
            keyword = True
            continue
        head, equals, default = piece.partition(" = ")
        kind, _, name = head.rpartition(" ")
        params.append(_Param(name, kind, bool(equals), default == "None", keyword))
    return tuple(params)


def _number(value):
    return isinstance(value, (int, float, complex, np.number, np.bool_))


def _int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


class _Unsure(Exception):
    """The table cannot tell whether PyTorch's parser takes the call: the op's error stands."""


def _fits(kind, value):
    """Does the parser take ``value`` for a parameter of type ``kind`` (as its message names
    the type)?  A type this does not know takes anything; ``_Unsure`` where the parser may
    take the value or not."""
    if isinstance(value, Tensor) and kind not in ("Tensor", "tuple of Tensors"):
        if value.numel() > 1 and kind in ("int", "float", "Number", "complex", "bool",
                                          "tuple of ints", "tuple of floats"):
            return False
        raise _Unsure       # (a tensor of one element may be read as a number, an index...)
    if kind == "Tensor":
        if _number(value):
            raise _Unsure   # (a few ops take a number for a tensor)
        return isinstance(value, Tensor)
    if kind == "int":
        return _int(value)
    if kind in ("float", "Number", "complex"):
        return _number(value)
    if kind == "bool":
        return isinstance(value, (bool, np.bool_))
    if kind == "str":
        return isinstance(value, str)
    if kind.startswith("tuple of "):
        if kind == "tuple of ints" and _int(value):
            return True
        if kind == "tuple of floats" and _number(value):
            return True
        if not isinstance(value, (list, tuple)):
            return False
        if kind in ("tuple of ints", "tuple of floats"):    # (the first element is checked;
            return not value or _fits(kind[9:-1], value[0])    # the rest when unpacked)
        if kind == "tuple of Tensors":      # (each element, refused at once: ``_Elements``)
            return True
        inner = {"ints": "int", "Tensors": "Tensor", "floats": "float", "bools": "bool",
                 "names": "str"}.get(kind[9:])
        return inner is None or all(_fits(inner, v) for v in value)
    if kind == "torch.dtype":
        return _type_name(value) == "torch.dtype" or any(value is t for t in (int, float, bool,
                                                                            complex))
    if kind == "torch.device":
        return isinstance(value, (str, int)) or type(value).__name__ in ("device", "Device")
    if kind in _CLASSES:
        return type(value).__name__ == _CLASSES[kind]
    return True


class _Refused(Exception):
    pass


class _Elements(Exception):
    """A list for a ``tuple of Tensors`` with something else in it: the parser's check of the
    list raises its TypeError at once, not only for the last signature it tries."""


def _parse(name, params, args, kwargs, loud, extra=(), any_keyword=False):
    """The parser's check of a call against one signature: None where it takes the call, else
    its TypeError (``loud``) or ``_Refused``.  ``extra``: keywords minigrad's function takes
    that the signature does not show."""
    positional = sum(not p.keyword for p in params)
    listed_ints = positional == 1 and params[0].kind == "tuple of ints"
    if len(args) > positional and not listed_ints:
        return _extra_args(name, params, len(args), loud)
    at, used = 0, 0
    for i, p in enumerate(params):
        keyword = False
        if at < len(args):
            if p.keyword:
                return _extra_args(name, params, len(args), loud)
            value = args[at]
        else:
            keyword = True
            value = kwargs.get(p.name, _UNKNOWN)
            for alias in _NUMPY.get(p.name, ()):
                if value is _UNKNOWN:
                    value = kwargs.get(alias, _UNKNOWN)
        if listed_ints and not i and not keyword and len(args) > 1:
            # (``x.view(2, 3)``: the sizes one by one, read as one list when the first is an
            # int, the rest checked as they are unpacked)
            if not _int(value):
                return _extra_args(name, params, len(args), loud)
            at = len(args)
            continue
        if (value is _UNKNOWN and p.optional) or (value is None and (
                p.none or (p.kind, p.name) == ("tuple of ints", "dim"))):     # (``int[1]? dim``)
            pass
        elif value is None:
            raise _Unsure       # (``Tensor? weight`` is printed without its ``?``)
        elif value is _UNKNOWN:
            if not loud:
                raise _Refused
            missing = [f'"{q.name}"' for q in params[i:] if not q.optional]
            return TypeError(f"{name}() missing {len(missing)} required positional argument"
                             f"{'s' if len(missing) == 1 else ''}: {', '.join(missing)}")
        elif _fits(p.kind, value):
            if p.kind == "tuple of Tensors":
                bad = next((j for j, v in enumerate(value) if not isinstance(v, Tensor)), None)
                if bad is not None:     # (refused whatever the other signatures take)
                    raise _Elements(f"expected Tensor as element {bad} in argument {i}, but "
                                    f"got {_type_name(value[bad])}")
        elif not loud:
            raise _Refused
        else:
            where = "" if keyword else f" (position {at + 1})"
            if p.kind in ("tuple of ints", "tuple of floats") and not keyword and \
                    isinstance(value, (list, tuple)):   # (its first element, refused)
                return TypeError(f"{name}(): argument '{p.name}'{where} must be {p.kind}, but "
                                 f"found element of type {_type_name(value[0])} at pos 0")
            return TypeError(f"{name}(): argument '{p.name}'{where} must be {p.kind}, not "
                             f"{_type_name(value)}")
        if not keyword:
            at += 1
        elif value is not _UNKNOWN:
            used += 1
    if used == len(kwargs):
        return None
    known = {p.name for p in params} | set(extra)   # (numpy's names not: they are "unexpected")
    for key in kwargs:
        if key not in known and not any_keyword:
            if not loud:
                raise _Refused
            return TypeError(f"{name}() got an unexpected keyword argument '{key}'")
        index = next((j for j, p in enumerate(params) if p.name == key), None)
        if index is not None and index < len(args):
            if not loud:
                raise _Refused
            return TypeError(f"{name}() got multiple values for argument '{key}'")
    return None


def _extra_args(name, params, given, loud):
    if not loud:
        raise _Refused
    most = sum(not p.keyword for p in params)
    least = sum(not p.optional for p in params)
    if least != most:
        return TypeError(f"{name}() takes from {least} to {most} positional arguments but "
                         f"{given} were given")
    return TypeError(f"{name}() takes {most} positional argument{'' if most == 1 else 's'} "
                     f"but {given} {'was' if given == 1 else 'were'} given")


@functools.lru_cache(maxsize=None)
def _own_keywords(fn):
    """The keywords ``fn`` (minigrad's function) takes, and whether it takes any."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return (), True
    return (tuple(p.name for p in params if p.kind != p.VAR_POSITIONAL),
            any(p.kind == p.VAR_KEYWORD for p in params))


def refusal(name, method, args, kwargs, fn=None):
    """PyTorch's TypeError for the call ``name(*args, **kwargs)`` (of the Tensor method, with
    ``method``: ``args`` without the tensor), or None where its parser takes the call (or may:
    ``_Unsure``) or the op is not in the table.  ``fn``: minigrad's function, whose keywords
    stand in for those of a signature the table knows only in part."""
    entry = _table(bool(method)).get(name)
    if entry is None:
        return None
    mark, signatures = entry
    if mark == "0":             # (a method of no arguments: Python's own refusal)
        if kwargs:
            return TypeError(f"TensorBase.{name}() takes no keyword arguments")
        if args:
            return TypeError(f"TensorBase.{name}() takes no arguments ({len(args)} given)")
        return None
    try:
        return _refusal(_PRINTED.get(name, name), mark, signatures, args, kwargs, fn)
    except _Elements as exc:
        return TypeError(str(exc))
    except _Unsure:
        return None


def _refusal(name, mark, signatures, args, kwargs, fn):
    extra, any_keyword = _own_keywords(fn) if (mark == "-" and fn is not None) else ((), False)
    parsed = [_params(s) for s in signatures]
    if mark == "-":
        return _parse(name, parsed[0], args, kwargs, True, extra, any_keyword)
    for params in parsed:
        try:
            _parse(name, params, args, kwargs, False)
            return None
        except _Refused:
            pass
    count = len(args) + len(kwargs)
    plausible = [p for p in parsed if sum(not q.optional for q in p) <= count <= len(p)]
    if len(plausible) == 1:
        error = _parse(name, plausible[0], args, kwargs, True)
        if error is not None:
            return error
    if len(signatures) == 1:    # (where hidden signatures are not shown)
        known = {p.name for p in parsed[0]}
        unknown = [k for k in kwargs if k not in known and
                   not any(k in _NUMPY.get(n, ()) for n in known)]
        if unknown:
            return TypeError(f"{name}() received an invalid combination of arguments - got "
                             f"unrecognized keyword arguments: {', '.join(unknown)}")
        keywords = list(kwargs)
        if len(keywords) > 1:
            keywords[0], keywords[-1] = keywords[-1], keywords[0]
        given = [_type_name(a) for a in args] + [f"{k}={_type_name(kwargs[k])}"
                                                 for k in keywords]
        return TypeError(f"{name}() received an invalid combination of arguments - got "
                         f"{_listed(given, args)}, but expected ({signatures[0]})")
    return _combination(name, args, kwargs, signatures)


# the parser's words (PyTorch's own, or minigrad's already in them)
_PARSER_FORM = re.compile(
    r"[\w.]+\(\)(?:: argument '| received an invalid combination of arguments| missing \d+ "
    r"required positional arguments?: \"| takes | got an unexpected keyword argument| got "
    r"multiple values)|expected Tensor as element|descriptor '")
# the wrappers that ask ``reworded``, and their helpers: a TypeError raised in their frames is
# their own guess at the parser's words, a restatement of the op's error or Python's refusal of
# their call of the op, not the op's own
# the dispatching twins of a public function and of a Tensor method (``_torch_function``),
# seen through as callers
_TWINS = frozenset(("_function_twin.<locals>.public", "_method_twin.<locals>.method"))
_WRAPPERS = frozenset({
    "_torch_args.<locals>.call", "_torch_args.<locals>._call", "worded.<locals>.call",
    "guarded.<locals>.call", "guarded.<locals>.call_numbers",
    "_refuse", "numpy_names.<locals>.call", "_tensor_other.<locals>.method",
    "refusing_out.<locals>.call", "_out_keyword.<locals>.with_out",
    "in_float32.<locals>.widened", "_inplace.<locals>.method"})


def _own(exc, name):
    """Is ``exc`` an error in the parser's words for the op ``name`` that the op raised (not
    a wrapper's words, nor Python's refusal of a wrapper's call)?"""
    text = str(exc)
    if not _PARSER_FORM.match(text) or (
            text[:len(name) + 2] != f"{name}()" and not text.startswith("expected Tensor")):
        return False
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is None or tb.tb_frame.f_code.co_qualname not in _WRAPPERS


# the functions of ``nn.functional`` that are PyTorch's C functions of the same name there
_FUNCTIONAL_SAME = frozenset("""
adaptive_avg_pool1d avg_pool1d bilinear celu_ channel_shuffle conv1d conv2d conv3d conv_tbc
conv_transpose1d conv_transpose2d conv_transpose3d cosine_similarity hardshrink
native_channel_shuffle pairwise_distance pdist pixel_shuffle pixel_unshuffle prelu relu_
rrelu_ selu_ threshold_
""".split())
_ELSEWHERE = ("linalg", "special", "fft")


_FOUND = {}       # wrapper -> _found(wrapper), once the package is imported
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _public(wrapper):
    """(name, method): the one name under which ``wrapper`` is a Tensor method (method True)
    or a function of the package; None where it has none or several, or is also one of
    ``linalg``, ``special``, ``fft``, or of ``nn.functional`` where PyTorch's function there
    is another."""
    try:
        return _FOUND[wrapper]
    except KeyError:
        pass
    found = _found(wrapper)
    package = sys.modules.get(__package__)
    if not getattr(getattr(package, "__spec__", None), "_initializing", True):
        _FOUND[wrapper] = found         # (not while the package is still being imported)
    return found


def _is(value, wrapper):
    """``value`` is ``wrapper``, or the ``__torch_function__`` twin a namespace or Tensor
    holds of it (``_torch_function``: ``_twin_of``)."""
    return value is wrapper or getattr(value, "_twin_of", None) is wrapper


def _found(wrapper):
    found = {(n, True) for klass in Tensor.__mro__[:-1] for n, v in vars(klass).items()
             if _is(v, wrapper)}
    package = sys.modules.get(__package__)
    if package is not None:
        found |= {(n, False) for n, v in vars(package).items()
                  if _is(v, wrapper) and not n.startswith("_")}
    for sub in _ELSEWHERE + ("nn.functional",):
        module = sys.modules.get(f"{__package__}.{sub}")
        for n, v in (vars(module).items() if module is not None else ()):
            if _is(v, wrapper) and not n.startswith("_"):
                if sub == "linalg" and f"linalg_{n}" in _table(False):
                    found.add((f"linalg_{n}", False))       # (PyTorch's name for it)
                    continue
                if sub != "nn.functional" or n not in _FUNCTIONAL_SAME:
                    return None
                found.add((n, False))
    return found.pop() if len(found) == 1 else None


def reworded(exc, wrapper, args, kwargs, method=None, name=None):
    """PyTorch's TypeError for the call ``wrapper(*args, **kwargs)`` that failed with ``exc``
    (a TypeError or AttributeError raised by the op, by the wrapper, or Python's refusal of
    the wrapper's call of the op), where its parser refuses the call; None where ``exc``
    should stand.  ``method``, ``name``: what the wrapper knows of its op (a Tensor method;
    PyTorch's name), checked against the name it is found under."""
    found = _public(wrapper)
    if found is None or (name is not None and name != found[0]) or (
            method is not None and method != found[1]):
        return None
    name, method = found
    if name.startswith("linalg_"):      # (minigrad's words name its own parameters: the table's)
        return refusal(name, False, args, kwargs, wrapper)
    if _own(exc, _PRINTED.get(name, name)) or (
            method and not (args and isinstance(args[0], Tensor))):
        return None
    return refusal(name, method, args[1:] if method else args, kwargs, wrapper)


def raise_reworded(exc, wrapper, args, kwargs, method=None, name=None):
    """Raise ``reworded``'s TypeError where there is one (else return: the caller re-raises
    ``exc``).  Called by the wrapper itself; nothing where another of minigrad's wrappers (a
    closure of the package) called it: the outer one words the call, under its own name."""
    depth = 2
    caller = sys._getframe(depth).f_code
    while caller.co_qualname in _TWINS:     # (a __torch_function__ twin words nothing)
        depth += 1
        caller = sys._getframe(depth).f_code
    if "<locals>" in caller.co_qualname and caller.co_filename.startswith(_PACKAGE_DIR):
        return
    error = reworded(exc, wrapper, args, kwargs, method, name)
    if error is not None:
        raise error from None
