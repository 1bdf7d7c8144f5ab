"""How a function's ``out=`` is written, as PyTorch's kernels write it: the checks before the
op runs (the cast of a promoted result, a keepdim given without dim, the out's dtype rules of
``_out_rules``), the resize of an out of another shape (with PyTorch's warning), the copy
into it in its own layout, and the autograd refusal of an out that requires grad. Used by
``_tensor_methods._torch_args``, the wrapper every function with an ``out=`` goes through.
"""
from __future__ import annotations

import functools

import numpy as np

from ._warn_once import warn_user
from .ops import elementwise as E, inplace as I
from .ops._expanded_writes import write_expanded
from .ops._util import normalize_dim, scalar_type_name
from ._type_names import python_type_name
from . import _out_rules as OR
from ._grad_state import state as _GRAD
from . import _memory_format as mf, backend, dtypes, return_types
from .tensor import Tensor


# binary ops whose result has the promoted dtype of their operands (a float one for true
# division): PyTorch checks that ``out`` can hold it before its kernel runs, so a complex
# ``remainder`` into an int out is refused for the cast, not for the kernel it lacks
_PROMOTED_RESULT = frozenset((
    "add", "sub", "mul", "div", "true_divide", "floor_divide", "remainder", "fmod", "atan2",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift",
    "copysign", "gcd", "lcm", "hypot", "nextafter", "logaddexp", "logaddexp2", "igamma",
    "igammac", "xlogy"))
_FLOAT_RESULT = frozenset(("div", "true_divide", "atan2", "copysign", "xlogy"))


def _check_out_cast(name, args, kwargs, out, broadcast=True):
    """PyTorch's out= checks of a binary op before its kernel: the operands' shapes
    broadcast (not for ``outer``, a mul of a column and a row, given as two vectors), and the
    promoted result's dtype casts to out's."""
    operands = [a._array if isinstance(a, Tensor) else dtypes.python_number(a)
                if isinstance(a, np.generic) else a for a in args]
    if not all(isinstance(a, (np.ndarray, bool, int, float, complex)) for a in operands):
        return                      # (the op's own error for anything else)
    if name == "sub" and any(getattr(a, "dtype", None) == np.bool_ or isinstance(a, bool)
                             for a in operands):
        return                      # (sub's refusal of bools comes first)
    shapes = [a.shape for a in operands if isinstance(a, np.ndarray)]
    if len(shapes) == 2 and broadcast:
        E.broadcast_shape(shapes[0], shapes[1], name)      # (its error comes first)
    try:
        have = dtypes.result_type(*operands)
    except (TypeError, ValueError, OverflowError):
        return
    if name in _FLOAT_RESULT and have.kind in "biu" and kwargs.get("rounding_mode") is None:
        have = dtypes.default_float().np
    want = out._array.dtype
    if dtypes._category(have) > dtypes._category(want):
        raise RuntimeError(f"result type {scalar_type_name(have)} can't be cast to the desired "
                           f"output type {scalar_type_name(want)}")


def _dims_readable(args, kwargs):
    """The dim argument is missing, None, an int or a sequence of ints (so PyTorch's parser
    takes it and the kernel's own checks come next)."""
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    if isinstance(dim, (list, tuple)):
        return all(isinstance(d, (int, np.integer)) for d in dim)
    return dim is None or isinstance(dim, (int, np.integer))


# the elementwise ops whose out must have the input's dtype, checked before their kernel is
# looked up (``torch.frac(bool_tensor, out=float_out)`` is refused for the out), with the kinds
# of input refused before that (a complex ``floor``, a bool ``neg``)
_INPUT_DTYPE_FIRST = {"abs": "c", "neg": "b", "ceil": "c", "floor": "c", "trunc": "c",
                      "sign": "c", "round": "", "frac": "", "sgn": "", "bitwise_not": "",
                      "conj_physical": "", "hardshrink": ""}


def check_out_first(name, args, kwargs, out):
    """The ``out=`` checks PyTorch makes before it reads the dims: amax / amin compare the
    input's and out's dtypes, logsumexp wants a floating (or complex) out, and nansum refuses
    a complex input before anything else; the same-dtype elementwise ops and dot (matmul of
    two vectors) compare the input's and out's dtypes before their kernels' checks."""
    if name == "nonzero" and kwargs.get("as_tuple"):
        if not isinstance(out, Tensor):     # (the parser's refusal of a tuple comes first)
            raise TypeError(f"nonzero(): argument 'out' must be Tensor, not "
                            f"{python_type_name(out)}")
        raise RuntimeError("nonzero does not support the out kwarg when as_tuple is True")
    if not (isinstance(out, Tensor) and args and isinstance(args[0], Tensor)):
        return
    have, want = args[0]._array.dtype, out._array.dtype
    if have != want:
        if have.kind not in _INPUT_DTYPE_FIRST.get(name, "biufcV"):
            raise RuntimeError(OR.OUT_EXACT[name](scalar_type_name(have), scalar_type_name(want)))
        if name in ("dot", "vdot") or (name == "matmul" and args[0].ndim == 1 and len(args) > 1
                                       and isinstance(args[1], Tensor) and args[1].ndim == 1):
            _resize_out(out, Tensor._wrap(np.zeros((), want)))    # (to the 0-d result first)
            raise RuntimeError(OR.OUT_EXACT["dot"](scalar_type_name(have), scalar_type_name(want)))
    if not _dims_readable(args, kwargs):
        return
    if name in ("amax", "amin") and have != want:
        raise RuntimeError(OR.OUT_EXACT["amax"](scalar_type_name(have), scalar_type_name(want)))
    if name == "logsumexp":
        words = OR.OUT_EXACT["logsumexp"](None, scalar_type_name(want))
        if words is not None:
            raise RuntimeError(words)
    if name == "nansum" and have.kind == "c":
        raise RuntimeError("nansum on CPU does not support complex inputs")
    if name in ("var", "std") and want.kind in "fc" and want.itemsize >= 4 and \
            dtypes.reduced_float(have) and \
            args[0].numel() and _reduces_to_one(args[0], args[1] if len(args) > 1 else
                                                kwargs.get("dim")):
        # (PyTorch's whole-tensor kernel into a 32- or 64-bit out reads no 16-bit input)
        raise RuntimeError(f"std_var_all: Unsupported dtype {scalar_type_name(have)}")
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    if name in ("cummax", "cummin", "logcumsumexp") and not isinstance(dim, (int, np.integer)):
        return                          # (the parser's refusal of the dim comes first)
    if name in ("cummax", "cummin"):
        raise TypeError(f"{name}(): argument 'out' must be tuple of Tensors, not Tensor")
    if name == "logcumsumexp" and have != want:
        raise RuntimeError(f"expected scalar_type {scalar_type_name(have)} but found "
                           f"{scalar_type_name(want)}")


def logsumexp_for_out(args, kwargs, result, out):
    """``logsumexp(x, dim, keepdim)`` (already computed as ``result``, its arguments checked)
    recomputed for an ``out`` of another floating dtype as PyTorch's out= kernel does:
    exp(x - max) in x's dtype (the default float for an integer x), summed into out's dtype,
    the log taken there and the max added back (a float16 sum kept in float32, then
    rounded).  ``result`` itself where nothing differs."""
    x = args[0]
    a, want = x._array, out._array.dtype
    if type(a) is not np.ndarray or a.dtype.kind not in "fViub" or want.kind not in "fV" or \
            a.size == 0:
        return result
    if a.dtype.kind not in "fV":
        a = a.astype(dtypes.default_float().np)
    if a.dtype == want:
        return result
    dim = args[1] if len(args) > 1 else kwargs.get("dim")
    dims = dim if isinstance(dim, (list, tuple)) else (dim,)
    axes = tuple(int(d) % max(a.ndim, 1) for d in dims) if dims and a.ndim else \
        tuple(range(a.ndim))
    wide = np.float32 if want.itemsize < 4 else want
    with np.errstate(all="ignore"):
        m = a.max(axis=axes, keepdims=True)
        m = np.where(np.isinf(m), 0, m).astype(a.dtype)
        # (each term in out's dtype first, as the sum's kernel reads it)
        terms = np.exp((a - m).astype(np.float32) if a.dtype.kind == "V" else a - m)
        total = terms.astype(a.dtype).astype(want).astype(wide).sum(
            axis=axes, keepdims=True).astype(want)
        value = (np.log(total.astype(wide)).astype(want) + m.astype(wide)).astype(want)
    return Tensor._wrap(np.array(value).reshape(tuple(result.shape)))   # (row-major, 0-d too)


# the reductions whose every overload with ``keepdim`` takes ``dim`` too: PyTorch's parser
# refuses ``sum(x, keepdim=True)`` (std and var: with ``unbiased``, not with ``correction``)
_KEEPDIM_NEEDS_DIM = {
    "sum": (" * (Tensor input, *, torch.dtype dtype = None)",
            " * (Tensor input, tuple of ints dim, bool keepdim = False, *, torch.dtype dtype = "
            "None, Tensor out = None)"),
    "prod": (" * (Tensor input, *, torch.dtype dtype = None)",
             " * (Tensor input, int dim, bool keepdim = False, *, torch.dtype dtype = None, "
             "Tensor out = None)"),
    "mean": (" * (Tensor input, *, torch.dtype dtype = None, Tensor out = None)",
             " * (Tensor input, tuple of ints dim, bool keepdim = False, *, torch.dtype dtype = "
             "None, Tensor out = None)"),
    "std": None, "var": None, "std_mean": None, "var_mean": None,
    "median": "dim", "nanmedian": "dim"}


def _refuse_keepdim_without_dim(name, kwargs):
    overloads = _KEEPDIM_NEEDS_DIM[name]
    if overloads == "dim":
        raise TypeError(f'{name}() missing 1 required positional arguments: "dim"')
    if overloads is None:           # std / var: only unbiased with keepdim needs dim
        if "unbiased" not in kwargs:
            return
        out = "" if name.endswith("_mean") else ", *, Tensor out = None"
        overloads = (f" * (Tensor input, tuple of ints dim, bool unbiased = True, bool keepdim "
                     f"= False{out})",
                     f" * (Tensor input, tuple of ints dim = None, *, Number correction = None, "
                     f"bool keepdim = False{out.replace(', *', '')})",
                     " * (Tensor input, bool unbiased = True)")
    elif "dtype" in kwargs and name != "mean":
        raise TypeError(f'{name}() missing 1 required positional arguments: "dim"')
    got = ", ".join(["Tensor"] + [f"{k}={'torch.dtype' if k == 'dtype' else python_type_name(v)}"
                                  for k, v in sorted(kwargs.items())])
    raise TypeError(f"{name}() received an invalid combination of arguments - got ({got}), "
                    f"but expected one of:\n" + "\n".join(overloads) + "\n")


@functools.lru_cache(maxsize=None)
def _params(fn):
    code = getattr(fn, "__code__", None)
    return code.co_varnames[:code.co_argcount + code.co_kwonlyargcount] if code else ()


@functools.lru_cache(maxsize=None)
def _keyword_only(fn):
    """The keyword-only parameters of ``fn`` (where's, whose refusals show what came by
    keyword)."""
    code = getattr(fn, "__code__", None)
    return code.co_varnames[code.co_argcount:code.co_argcount + code.co_kwonlyargcount] \
        if code else ()


# ops with a derivative for a floating input: PyTorch's autograd layer refuses their out= (an
# input requiring grad) before the kernel checks anything (the dims, the out's dtype, overlap);
# the ops made of others (matmul, norm, nanmean, hstack) check their own arguments first
_REFUSED_FIRST = frozenset((
    "sum", "mean", "prod", "nansum", "amax", "amin", "maximum", "minimum", "max", "min",
    "median", "nanmedian", "logsumexp", "std", "var", "cumsum", "cumprod", "logcumsumexp",
    "cummax", "cummin", "sort", "topk", "kthvalue", "mode", "cat", "stack", "add", "sub", "mul",
    "div", "true_divide", "neg", "exp", "log", "sqrt", "abs", "sign", "clamp", "mm", "bmm",
    "where", "pow", "remainder", "fmod", "atan2"))
# (of those, the ones taking one int dim, second: a tuple there is the parser's refusal)
_ONE_DIM = frozenset(("prod", "cumsum", "cumprod", "logcumsumexp", "cummax", "cummin", "sort",
                      "max", "min", "median", "nanmedian", "mode"))


def _parsed(name, args, kwargs):
    """Whether PyTorch's parser takes this call's dim (else its TypeError comes first)."""
    if name in _ONE_DIM:
        dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
    elif name in ("topk", "kthvalue"):
        dim = args[2] if len(args) > 2 else kwargs.get("dim", 0)
    elif name in ("sum", "mean", "amax", "amin", "std", "var", "logsumexp", "nansum"):
        return _dims_readable(args, kwargs)
    else:
        return True
    return isinstance(dim, (int, np.integer))


def _refuse_before_kernel(name, args, kwargs):
    """What PyTorch refuses of an out= call before its kernel runs: where's parser takes only
    tensors beside an out, cat's and stack's an int dim; then the autograd layer refuses an
    out= of a differentiable op while grad mode is on and an input requires grad."""
    if name == "where" and len(args) == 3:
        for position, (value, word) in enumerate(zip(args, ("condition", "input", "other"))):
            if not isinstance(value, Tensor):
                raise TypeError(f"where(): argument '{word}' (position {position + 1}) must be "
                                f"Tensor, not {python_type_name(value)}")
    if name in ("cat", "stack"):
        dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
        if not isinstance(dim, (int, np.integer)) and not (isinstance(dim, Tensor) and
                                                            dim.ndim == 0):
            raise TypeError(f"{name}(): argument 'dim' (position 2) must be int, not "
                            f"{python_type_name(dim)}")
    base = name.split(".")[0]
    if _GRAD.enabled and base in _REFUSED_FIRST and any(
            t.requires_grad for t in _tensor_arguments(args, kwargs)) and \
            _parsed(base, args, kwargs):
        raise RuntimeError(f"{_GRAD_NAMES.get(name, name.split('.')[0])}(): functions with "
                           "out=... arguments don't support automatic differentiation, but "
                           "one of the arguments requires grad.")
    if name == "cat" and args and isinstance(args[0], (list, tuple)) and args[0] and \
            all(isinstance(t, Tensor) for t in args[0]):
        # cat's kernel checks its inputs and the dim before the out's overlap with them
        for i, t in enumerate(args[0]):
            if t.ndim == 0:
                raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be "
                                   "concatenated (use stack, or reshape it to 1-d first)")
        kept = [t for t in args[0] if tuple(t.shape) != (0,)]
        if kept:
            normalize_dim(int(args[1] if len(args) > 1 else kwargs.get("dim", 0)), kept[0].ndim)


def _out_rule(name, args, kwargs):
    """The key of this call's rules in ``_out_rules``: ``name``, but ``max.dim`` for
    ``max(x, 0)`` and ``clamp.Tensor`` for ``clamp(x, lo, hi)`` with tensor bounds (after
    ``_refuse_before_kernel``'s checks, which come first)."""
    rule = _out_rule_key(name, args, kwargs)
    _refuse_before_kernel(rule, args, kwargs)
    return rule


def _out_rule_key(name, args, kwargs):
    if name in OR.DIM_FORMS and (len(args) > 1 or "dim" in kwargs):
        return name + ".dim"
    if name in OR.SCALAR_BOUNDS and any(isinstance(v, Tensor) for v in
                                        (*args[1:], kwargs.get("min"), kwargs.get("max"))):
        return name + ".Tensor"
    if name == "abs" and args and isinstance(args[0], Tensor) and \
            args[0]._array.dtype.kind == "c":
        return "abs.complex"            # (a real result: any floating out takes it)
    if name == "inner" and any(isinstance(a, Tensor) and a.ndim == 0 for a in args[:2]):
        return "mul"                    # (a 0-d operand makes inner a mul, with mul's out=)
    if name in ("var", "std") and args and isinstance(args[0], Tensor) and \
            args[0]._array.dtype.kind == "c":
        return name + ".complex"        # (a real result that any floating or complex out takes)
    if name in ("var", "std") and args and isinstance(args[0], Tensor) and \
            args[0].numel() == 0:
        return name + ".empty"          # (no kernel runs: any floating or complex out)
    if name in ("var", "std") and args and isinstance(args[0], Tensor) and \
            _reduces_to_one(args[0], args[1] if len(args) > 1 else kwargs.get("dim")):
        return name + ".all"            # (PyTorch's whole-tensor kernel: a complex out too)
    if name == "nansum" and args and isinstance(args[0], Tensor) and args[0].numel() == 0 and \
            kwargs.get("dtype") is None:
        return "nansum.empty"           # (no kernel runs: any out dtype takes the zeros)
    return name


def _reduces_to_one(t, dim):
    """Does a reduction of ``t`` over ``dim`` (None: all) leave one element?"""
    if dim is None or isinstance(dim, (list, tuple)) and not dim:
        return True
    dims = dim if isinstance(dim, (list, tuple)) else (dim,)
    if not all(isinstance(d, (int, np.integer)) and -t.ndim <= d < max(t.ndim, 1)
               for d in dims):
        return False                    # (the op's own refusal of the dims)
    kept = {i for i in range(t.ndim)} - {int(d) % max(t.ndim, 1) for d in dims}
    return all(t.shape[i] == 1 for i in kept)


def _tensor_arguments(args, kwargs):
    """The tensors among an op's arguments, those in a list (cat's) included."""
    found = [v for v in (*args, *kwargs.values()) if isinstance(v, Tensor)]
    for v in args:
        if isinstance(v, (list, tuple)):
            found.extend(t for t in v if isinstance(t, Tensor))
    return found


def _out_grad_check(out, result, name):
    """PyTorch refuses ``out=`` while grad mode records a graph if an input requires grad (the
    result would then require it: a non-differentiable result such as argmax's passes) or an
    ``out`` tensor does; under ``no_grad`` both are allowed."""
    if not _GRAD.enabled:
        return
    pairs = tuple(zip(out, result)) if isinstance(result, tuple) else ((out, result),)
    if not all(isinstance(o, Tensor) for o, _ in pairs):
        return                                  # the TypeError of a wrong out comes first
    for o, r in pairs:
        if isinstance(r, Tensor) and r._array.dtype.kind in "biu":
            continue        # (no derivative: PyTorch's check is in its differentiable ops)
        if r.requires_grad or o.requires_grad:
            raise RuntimeError(f"{name}(): functions with out=... arguments don't support "
                               "automatic differentiation, but one of the arguments requires "
                               "grad.")


def _write_out(out, result, name, rule=None):
    """PyTorch's ``out=``: the result's values in ``out`` (resized if empty or of another
    shape, as torch does with a warning), in out's dtype; returns ``out``.  ``rule``: the key
    of the op's dtype rule in ``_out_rules.OUT_EXACT`` (``name`` if not given)."""
    _out_grad_check(out, result, _GRAD_NAMES.get(name if rule != "mul" else rule, name))
    return _write_values(out, result, name, name if rule is None else rule)


# the names PyTorch's autograd refusal of an out= gives: the kernel the op runs
_GRAD_NAMES = {"floor_divide": "aten::floor_divide", "vector_norm": "linalg_vector_norm",
               "norm": "linalg_vector_norm", "kron": "mul", "cross": "linalg_cross",
               "true_divide": "div", "mul": "mul"}


def _write_values(out, result, name, rule, index=0):
    if isinstance(result, tuple):
        for i, (o, r) in enumerate(zip(out, result)):
            _write_values(o, r, name, rule, i)
        # a named result comes back as its "_out" twin holding the out tensors, as PyTorch's
        # (torch.max(x, 0, out=(v, i)) is a return_types.max_out)
        twin = getattr(return_types, f"{type(result).__name__}_out", None)
        return twin(out) if isinstance(result, return_types.StructSeq) and twin else out
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if name in _RESIZED_BEFORE_DTYPE_CHECK:
        _resize_out(out, result)
    have, want = result._array.dtype, out._array.dtype
    exact = OR.OUT_EXACT.get(rule)
    taken = False
    if have != want and exact is not None:
        message = exact[index] if isinstance(exact, tuple) else exact
        words = message(scalar_type_name(have), scalar_type_name(want))
        if words is not None:
            raise RuntimeError(words)
        taken = True                # the op's rule takes this out dtype (any into uint8)
    if have != want and name in OR.OUT_CASTS:
        # sum/prod/cumsum/cumprod compute in out's dtype unless given one: then out must
        # have it
        raise RuntimeError(_expected_out(have, want))
    if dtypes._category(have) > dtypes._category(want) and name not in OR.OUT_CASTS and \
            not taken:
        if name in ("cat", "stack"):
            raise TypeError(f"torch.cat(): input types can't be cast to the desired output type "
                            f"{scalar_type_name(want)}")
        raise RuntimeError(f"result type {scalar_type_name(have)} can't be cast to the desired "
                           f"output type {scalar_type_name(want)}")
    _resize_out(out, result)
    values = result._array.astype(out._array.dtype, copy=False)
    if not out._array.flags.writeable and write_expanded(out, Ellipsis, values):
        return out      # (an expanded out the op writes element by element, the last wins)
    out._array[...] = values
    out._vcounter.value += 1
    return out


def _expected_out(have, want):
    return (f"Expected out tensor to have dtype {OR._c(scalar_type_name(have))}, but got "
            f"{OR._c(scalar_type_name(want))} instead")


# the ops whose ``out`` PyTorch resizes (warning) before it checks the out's dtype
_RESIZED_BEFORE_DTYPE_CHECK = frozenset(("mean", "std", "var", "stack", "kron", "dot", "diag",
                                         "nansum", "nanmean"))


def _resize_out(out, result):
    """``out`` resized to the result's shape where it differs, with PyTorch's deprecation
    warning unless it was empty, and laid out as the result.  The resize itself leaves out's
    version as it was (PyTorch's out= ops resize below autograd: only the write counts)."""
    if tuple(out.shape) != tuple(result.shape):
        if out.numel():
            warn_user(f"An output with one or more elements was resized since it had shape "
                      f"{list(out.shape)}, which does not match the required output shape "
                      f"{list(result.shape)}. This behavior is deprecated, and in a future "
                      f"PyTorch release outputs will not be resized unless they have zero "
                      f"elements. You can explicitly reuse an out tensor t by resizing it, "
                      f"inplace, to zero elements with t.resize_(0).", UserWarning)
        version = out._vcounter.value
        I.resize_unchecked_(out, tuple(result.shape))      # a grad leaf under no_grad too
        out._vcounter.value = version
        if not result._array.flags.c_contiguous:
            _take_layout(out, result._array)


def _take_layout(out, array):
    """Restride ``out``, just resized row-major to ``array``'s shape, to ``array``'s dense
    layout (PyTorch lays a resized ``out=`` tensor out as the op computed its result: a
    channels-last sum of channels-last tensors is channels-last).  A result that is not
    dense (a view) leaves ``out`` row-major."""
    strides = mf.element_strides(array)
    if min(strides, default=0) < 0 or \
            not mf.is_non_overlapping_and_dense(array.shape, strides):
        return
    a = out._array            # row-major over its whole storage, so any dense order fits
    out._array = backend.xp_of(a).lib.stride_tricks.as_strided(
        a, a.shape, tuple(s * a.itemsize for s in strides))
