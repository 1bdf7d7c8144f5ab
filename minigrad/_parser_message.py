"""The words of PyTorch's argument parser: how it names a value's type, and its message for a
call that none of an op's signatures takes ("received an invalid combination of arguments").

Shared by ``_tensor_input`` (a first argument that is not a Tensor), ``_argument_words`` (an
argument refused by minigrad's op, restated for the call) and ``_parser_emulation`` (a call
checked against PyTorch's signatures once minigrad's op has failed).  It imports no op.
"""
from __future__ import annotations

from . import dtypes
from ._type_names import python_type_name

__all__ = ["described"]

# the names PyTorch's messages give functions whose C name differs
_PRINTED = {"to_dlpack": "_to_dlpack", "spmm": "mm"}


def _type_name(value):
    return "torch.dtype" if isinstance(value, dtypes.DType) else python_type_name(value)


def _pieces(signature):
    """(name, type) of each ``, ``-separated piece of ``signature`` as PyTorch's message reads
    them: the name is the last word (a default's value, where there is one, so such a
    parameter never matches) and ``*`` is a piece of its own."""
    pieces = []
    for piece in signature.split(", "):
        head, _, last = piece.rpartition(" ")
        pieces.append((last, head or last))
    return pieces


def _fits(kind, value):
    """Does ``value`` pass for a parameter typed ``kind`` in PyTorch's message? (``float``
    takes an int too; any other type only a value of its own name: ``int`` no bool.)"""
    name = _type_name(value)
    return name in ("float", "int") if kind == "float" else name == kind


def described(value):
    """A value's type as PyTorch's message shows it, a list's or tuple's elements' too."""
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_type_name(v) for v in value)
        if isinstance(value, tuple):
            return f"{python_type_name(value)} of ({inner}{',' if len(value) == 1 else ''})"
        return f"{python_type_name(value)} of [{inner}]"
    return _type_name(value)


def _listed(words, positional):
    # PyTorch's messages keep a trailing ", " when no argument was positional
    return "(" + ", ".join(words) + (", " if words and not positional else "") + ")"


def _combination(name, args, kwargs, signatures):
    """PyTorch's TypeError for arguments no signature takes: each signature listed, and under
    one that takes as many arguments as were given, why it did not match.  (Keywords come in
    the order PyTorch's map of them gives: the last first and the first last, the others in
    between as given.)"""
    keywords = list(kwargs)
    if len(keywords) > 1:
        keywords[0], keywords[-1] = keywords[-1], keywords[0]
    given = [_type_name(a) for a in args] + [f"{k}={_type_name(kwargs[k])}" for k in keywords]
    lines = [f"{_PRINTED.get(name, name)}() received an invalid combination of arguments - "
             f"got {_listed(given, args)}, but expected one of:"]
    count = len(args) + len(kwargs)
    for signature in signatures:
        lines.append(f" * ({signature})")
        pieces = _pieces(signature)
        if len(pieces) != count:
            continue
        names = [n for n, _ in pieces[max(len(pieces) - len(kwargs), 0):]]
        wrong = [k for k in keywords if k not in names]
        if wrong:
            lines.append("      didn't match because some of the keywords were incorrect: "
                         + ", ".join(wrong))
            continue
        shown = []
        for i, (param, kind) in enumerate(pieces):
            value = args[i] if i < len(args) else kwargs[param]
            text = ("" if i < len(args) else f"{param}=") + described(value)
            shown.append(text if _fits(kind, value) else f"!{text}!")
        lines.append("      didn't match because some of the arguments have invalid types: "
                     + _listed(shown, args))
    return TypeError("\n".join(lines) + "\n")
