"""PyTorch's TypeError for ``out=`` given to a Tensor *method* (``t.sum(out=...)``), which, unlike
the function (``torch.sum(t, out=...)``), has no such parameter.

numpy's reductions called on a tensor (``np.sum(t)``, ``np.mean(t)``, ``np.max(t)``,
``np.std(t)``, ``np.all(t)``...) call the tensor's method with numpy's keywords, ``out=None``
among them (``t.sum(axis=None, dtype=None, out=None)``); PyTorch refuses that call, so numpy's
function raises, in the words of PyTorch's argument parser, which these follow:

* the signatures that take as many arguments as were given (positional and keyword) are the
  candidates; where one is, the call is parsed against it: a parameter given a value of the
  wrong type is named (``max(): argument 'dim' must be int, not NoneType``), else the first
  keyword that is no parameter's own name (numpy's ``axis`` is only an alias of ``dim``) is
  "unexpected";
* otherwise every signature is listed ("received an invalid combination of arguments"),
  by ``_tensor_input._combination``, as the functions' refusals are.
"""
from __future__ import annotations

import functools

from ._tensor_input import _combination
from ._argument_error import refuse_numpy_dtype
from ._parser_emulation import raise_reworded
from ._type_names import python_type_name

__all__ = ["refusing_out"]

# each method's signatures as PyTorch prints them (its hidden Dimname overloads left out: they
# are never candidates); ``_params`` reads each into (name, type, has a default)
_SUM = ("*, torch.dtype dtype = None",
        "tuple of ints dim, bool keepdim = False, *, torch.dtype dtype = None")
_EXTREMUM = ("", "Tensor other", "int dim, bool keepdim = False")
_PROD = ("*, torch.dtype dtype = None",
         "int dim, bool keepdim = False, *, torch.dtype dtype = None")
_SPREAD = ("tuple of ints dim, bool unbiased = True, bool keepdim = False",
           "tuple of ints dim = None, *, Number correction = None, bool keepdim = False",
           "bool unbiased = True")
_ALL = ("", "tuple of ints dim = None, bool keepdim = False", "int dim, bool keepdim = False")
_ARG = ("int dim = None, bool keepdim = False",)
_CUMULATIVE = ("int dim, *, torch.dtype dtype = None",)
_AMAX = ("tuple of ints dim = [], bool keepdim = False",)
SIGNATURES = {"amax": _AMAX, "amin": _AMAX, "sum": _SUM, "mean": _SUM, "prod": _PROD,
              "max": _EXTREMUM, "min": _EXTREMUM, "std": _SPREAD, "var": _SPREAD, "all": _ALL,
              "any": _ALL, "argmax": _ARG, "argmin": _ARG, "cumsum": _CUMULATIVE,
              "cumprod": _CUMULATIVE}
_ALIASES = {"dim": "axis", "keepdim": "keepdims"}      # numpy's names PyTorch also reads


def _params(signature):
    """[(name, type, has_default)] of a printed signature (``*`` dropped)."""
    out = []
    for piece in filter(None, signature.split(", ")):
        if piece == "*":
            continue
        head, _, default = piece.partition(" = ")
        kind, _, name = head.rpartition(" ")
        out.append((name, kind, bool(default)))
    return out


def _fits(kind, value, has_default):
    if value is None:
        return has_default or kind.startswith("tuple")      # optional ones take None
    if kind == "int":
        return type(value) is int
    if kind == "bool":
        return type(value) is bool
    if kind.startswith("tuple of ints"):
        return type(value) is int or isinstance(value, (tuple, list))
    if kind == "Number":
        return isinstance(value, (int, float, complex))
    return kind == "torch.dtype" or kind == "Tensor" and hasattr(value, "_array")


def refusal(name, args, kwargs):
    """The TypeError PyTorch's method ``name`` raises for these arguments (which hold a
    keyword none of its signatures takes, such as ``out``)."""
    signatures = SIGNATURES[name]
    count = len(args) + len(kwargs)
    candidates = signatures if len(signatures) == 1 else [
        s for s in signatures if sum(not d for _, _, d in _params(s)) <= count <= len(_params(s))]
    if len(candidates) == 1:
        params = _params(candidates[0])
        names = {p for p, _, _ in params}
        for i, (param, kind, default) in enumerate(params):
            if i < len(args):
                value, given = args[i], True
            else:
                key = param if param in kwargs else _ALIASES.get(param)
                given = key in kwargs
                value = kwargs.get(key)
            if not given and not default:
                return TypeError(f'{name}() missing 1 required positional arguments: "{param}"')
            if given and not _fits(kind, value, default):
                kind = "tuple of ints" if kind.startswith("tuple") else kind
                return TypeError(f"{name}(): argument '{param}' must be {kind}, not "
                                 f"{python_type_name(value)}")
        for key in kwargs:
            if key not in names:
                return TypeError(f"{name}() got an unexpected keyword argument '{key}'")
    return _combination(name, args, kwargs, signatures)


def refusing_out(method, name):
    """``method`` (a Tensor method) refusing ``out=`` as PyTorch's method does."""
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        if kwargs and "out" in kwargs:
            raise refusal(name, args, kwargs)
        try:
            if kwargs:
                refuse_numpy_dtype(kwargs)
            return method(self, *args, **kwargs)
        except (TypeError, AttributeError) as exc:     # (the parser's words, where it
            raise_reworded(exc, call, (self,) + args, kwargs, True, name)    # refuses the call)
            raise
    return call
