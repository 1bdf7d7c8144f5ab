"""PyTorch's parser's TypeError for an argument of the wrong type, raised by a check that
many functions share and that may not know the call: ``exc.argument`` keeps what a wrapper
that sees the call needs to word it as PyTorch does (``_argument_words.restated``)."""
from __future__ import annotations

from ._type_names import python_type_name

__all__ = ["ArgumentError", "argument_error"]


class ArgumentError:
    """What PyTorch's parser says of an argument of the wrong type, kept on the TypeError
    (``exc.argument``) raised by a check that many ops share (``normalize_dim``, ``bool_arg``,
    ``int_arg``) and that may not know the op's name, nor whether the argument came by
    position or by keyword.  The wrappers that see the call (``_argument_words``) restate
    the error with that: the argument's position, or, where the call fits several of the op's
    signatures, the list of them."""
    __slots__ = ("op", "arg", "expected", "value", "position", "found")

    def __init__(self, op, arg, expected, value, position=None, found=None):
        self.op, self.arg, self.expected, self.value = op, arg, expected, value
        self.position, self.found = position, found

    def words(self, op=None, position=None):
        """The message, naming ``op`` (when the raiser did not) and ``position``."""
        op = self.op or op
        position = self.position or position
        head = f"{op}(): argument" if op else "argument"
        if self.found is not None and self.found[0]:      # a later element of a list
            return (f"{head} '{self.arg}' failed to unpack the object at pos {self.found[0] + 1} "
                    f"with error \"type must be {self.expected},but got "
                    f"{python_type_name(self.found[1])}\"")
        where = f" (position {position})" if position else ""
        if self.found is not None:                      # a list whose first element is wrong
            return (f"{head} '{self.arg}'{where} must be {self.expected}, but found element of "
                    f"type {python_type_name(self.found[1])} at pos 0")
        return (f"{head} '{self.arg}'{where} must be {self.expected}, not "
                f"{python_type_name(self.value)}")

    def error(self):
        exc = TypeError(self.words())
        exc.argument = self
        return exc


def argument_error(op, arg, expected, value, position=None, found=None):
    """PyTorch's TypeError for argument ``arg`` of ``op`` (None: not known here), which wants
    ``expected`` ("int", "bool", "tuple of ints") and got ``value``; ``found``: (index, element)
    of a list's element of the wrong type."""
    return ArgumentError(op, arg, expected, value, position, found).error()


def refuse_numpy_dtype(kwargs, op=None):
    """At a public entry: PyTorch's parser refuses a numpy dtype instance given as ``dtype=``
    (``np.dtype('float64')``), which minigrad's own functions take from its internal callers;
    the wrapper that asks words the TypeError for its op (or ``op`` names it)."""
    dtype = kwargs.get("dtype")
    if dtype is not None and type(dtype).__module__.startswith("numpy"):
        raise argument_error(op, "dtype", "torch.dtype", dtype)
