"""The Tensor methods not wrapped by ``_torch_args`` whose argument checks are shared ones
(``normalize_dim``, ``int_arg``, ``bool_arg``): wrapped by ``_argument_words.worded`` so that
an argument of the wrong type is refused in the words PyTorch's parser gives the call (its
position, or the list of signatures where several fit).  Imported once, after the modules
that define the methods."""
from __future__ import annotations

import functools

from ._argument_words import worded
from ._parser_emulation import raise_reworded
from ._type_names import python_type_name
from .tensor import Tensor

__all__ = ["SWAPAXES", "NUMPY_NAMED", "numpy_names"]

# swapaxes is transpose, its dims named as numpy's
SWAPAXES = {"dim0": "axis0", "dim1": "axis1"}


Tensor.flatten = worded(Tensor.flatten, True, "flatten")
Tensor.squeeze = worded(Tensor.squeeze, True, "squeeze")
Tensor.unsqueeze = worded(Tensor.unsqueeze, True, "unsqueeze")
Tensor.transpose = worded(Tensor.transpose, True, "transpose")
Tensor.swapdims = worded(Tensor.swapdims, True, "swapdims")
Tensor.unbind = worded(Tensor.unbind, True, "unbind")
Tensor.movedim = worded(Tensor.movedim, True, "movedim")
Tensor.moveaxis = worded(Tensor.moveaxis, True, "moveaxis")
Tensor.narrow = worded(Tensor.narrow, True, "narrow")
Tensor.select = worded(Tensor.select, True, "select")
Tensor.chunk = worded(Tensor.chunk, True, "chunk")
Tensor.roll = worded(Tensor.roll, True, "roll")
Tensor.unfold = worded(Tensor.unfold, True, "unfold")
Tensor.repeat_interleave = worded(Tensor.repeat_interleave, True, "repeat_interleave")
Tensor.diagonal = worded(Tensor.diagonal, True, "diagonal")
Tensor.tril = worded(Tensor.tril, True, "tril")
Tensor.triu = worded(Tensor.triu, True, "triu")
Tensor.diff = worded(Tensor.diff, True, "diff")
Tensor.histc = worded(Tensor.histc, True, "histc")
Tensor.quantile = worded(Tensor.quantile, True, "quantile")
Tensor.nanquantile = worded(Tensor.nanquantile, True, "nanquantile")
Tensor.scatter = worded(Tensor.scatter, True, "scatter")
Tensor.scatter_add = worded(Tensor.scatter_add, True, "scatter_add")
Tensor.diag = worded(Tensor.diag, True, "diag")
Tensor.masked_fill = worded(Tensor.masked_fill, True, "masked_fill")
Tensor.lerp = worded(Tensor.lerp, True, "lerp")
Tensor.index_fill = worded(Tensor.index_fill, True, "index_fill")
Tensor.index_add = worded(Tensor.index_add, True, "index_add")
Tensor.nan_to_num = worded(Tensor.nan_to_num, True, "nan_to_num")
Tensor.masked_select = worded(Tensor.masked_select, True, "masked_select")
Tensor.take = worded(Tensor.take, True, "take")
Tensor.addcmul = worded(Tensor.addcmul, True, "addcmul")
Tensor.addcdiv = worded(Tensor.addcdiv, True, "addcdiv")
Tensor.normal_ = worded(Tensor.normal_, True, "normal_")
Tensor.uniform_ = worded(Tensor.uniform_, True, "uniform_")
Tensor.swapaxes = worded(Tensor.swapaxes, True, "swapaxes", SWAPAXES)
Tensor.fill_ = worded(Tensor.fill_, True, "fill_")
Tensor.div_ = worded(Tensor.div_, True, "div_")
Tensor.clamp_ = worded(Tensor.clamp_, True, "clamp_")
Tensor.clip_ = worded(Tensor.clip_, True, "clip_")
Tensor.unsafe_split = worded(Tensor.unsafe_split, True, "unsafe_split")
Tensor.unsafe_split_with_sizes = worded(Tensor.unsafe_split_with_sizes, True,
                                        "unsafe_split_with_sizes")
Tensor.unsafe_chunk = worded(Tensor.unsafe_chunk, True, "unsafe_chunk")
Tensor.divide_ = worded(Tensor.divide_, True, "divide_")


def _tensor_other(fn, name, param):
    """The method ``fn``, refusing a second argument that is not a Tensor in PyTorch's words
    (its position counted after self; none when given by keyword)."""
    @functools.wraps(fn)
    def method(self, *args, **kwargs):
        try:
            if args:
                given, where = args[0], " (position 1)"
            elif param in kwargs:
                given, where = kwargs[param], ""
            else:
                return fn(self, *args, **kwargs)
            if not isinstance(given, Tensor):
                raise TypeError(f"{name}(): argument '{param}'{where} must be Tensor, not "
                                f"{python_type_name(given)}")
            return fn(self, *args, **kwargs)
        except (TypeError, AttributeError) as exc:     # (the parser's words, where it
            raise_reworded(exc, method, (self,) + args, kwargs, True, name)    # refuses the call)
            raise
    return method


# the methods whose one signature takes a Tensor after self (``x.atan2(2)`` is refused, where
# ``x + 2`` is not), with PyTorch's name of that parameter
Tensor.allclose = _tensor_other(Tensor.allclose, "allclose", "other")
Tensor.arctan2 = _tensor_other(Tensor.arctan2, "arctan2", "other")
Tensor.arctan2_ = _tensor_other(Tensor.arctan2_, "arctan2_", "other")
Tensor.atan2 = _tensor_other(Tensor.atan2, "atan2", "other")
Tensor.atan2_ = _tensor_other(Tensor.atan2_, "atan2_", "other")
Tensor.cross = _tensor_other(Tensor.cross, "cross", "other")
Tensor.dist = _tensor_other(Tensor.dist, "dist", "other")
Tensor.equal = _tensor_other(Tensor.equal, "equal", "other")
Tensor.fmax = _tensor_other(Tensor.fmax, "fmax", "other")
Tensor.fmin = _tensor_other(Tensor.fmin, "fmin", "other")
Tensor.gcd = _tensor_other(Tensor.gcd, "gcd", "other")
Tensor.gcd_ = _tensor_other(Tensor.gcd_, "gcd_", "other")
Tensor.hypot = _tensor_other(Tensor.hypot, "hypot", "other")
Tensor.hypot_ = _tensor_other(Tensor.hypot_, "hypot_", "other")
Tensor.igamma = _tensor_other(Tensor.igamma, "igamma", "other")
Tensor.igamma_ = _tensor_other(Tensor.igamma_, "igamma_", "other")
Tensor.igammac = _tensor_other(Tensor.igammac, "igammac", "other")
Tensor.igammac_ = _tensor_other(Tensor.igammac_, "igammac_", "other")
Tensor.inner = _tensor_other(Tensor.inner, "inner", "other")
Tensor.is_same_size = _tensor_other(Tensor.is_same_size, "is_same_size", "other")
Tensor.isclose = _tensor_other(Tensor.isclose, "isclose", "other")
Tensor.kron = _tensor_other(Tensor.kron, "kron", "other")
Tensor.lcm = _tensor_other(Tensor.lcm, "lcm", "other")
Tensor.lcm_ = _tensor_other(Tensor.lcm_, "lcm_", "other")
Tensor.ldexp = _tensor_other(Tensor.ldexp, "ldexp", "other")
Tensor.ldexp_ = _tensor_other(Tensor.ldexp_, "ldexp_", "other")
Tensor.logaddexp = _tensor_other(Tensor.logaddexp, "logaddexp", "other")
Tensor.logaddexp2 = _tensor_other(Tensor.logaddexp2, "logaddexp2", "other")
Tensor.logical_and = _tensor_other(Tensor.logical_and, "logical_and", "other")
Tensor.logical_and_ = _tensor_other(Tensor.logical_and_, "logical_and_", "other")
Tensor.logical_or = _tensor_other(Tensor.logical_or, "logical_or", "other")
Tensor.logical_or_ = _tensor_other(Tensor.logical_or_, "logical_or_", "other")
Tensor.logical_xor = _tensor_other(Tensor.logical_xor, "logical_xor", "other")
Tensor.logical_xor_ = _tensor_other(Tensor.logical_xor_, "logical_xor_", "other")
Tensor.maximum = _tensor_other(Tensor.maximum, "maximum", "other")
Tensor.minimum = _tensor_other(Tensor.minimum, "minimum", "other")
Tensor.nextafter = _tensor_other(Tensor.nextafter, "nextafter", "other")
Tensor.nextafter_ = _tensor_other(Tensor.nextafter_, "nextafter_", "other")
Tensor.vdot = _tensor_other(Tensor.vdot, "vdot", "other")
Tensor.dot = _tensor_other(Tensor.dot, "dot", "tensor")
Tensor.outer = _tensor_other(Tensor.outer, "outer", "vec2")
Tensor.ger = _tensor_other(Tensor.ger, "ger", "vec2")
Tensor.mv = _tensor_other(Tensor.mv, "mv", "vec")
Tensor.heaviside = _tensor_other(Tensor.heaviside, "heaviside", "values")
Tensor.heaviside_ = _tensor_other(Tensor.heaviside_, "heaviside_", "values")


def numpy_names(fn):
    """``fn`` also taking numpy's ``axis=`` / ``keepdims=`` for ``dim=`` / ``keepdim=``, as
    PyTorch's parser reads them on every op (``x.squeeze(axis=1)``, ``torch.unbind(x,
    axis=0)``); the wrappers of ``_torch_args`` do the same for the ops they wrap."""
    @functools.wraps(fn)
    def call(*args, **kwargs):
        if kwargs:
            for alias, name in (("axis", "dim"), ("keepdims", "keepdim")):
                if alias in kwargs and name not in kwargs:
                    kwargs[name] = kwargs.pop(alias)
        try:
            return fn(*args, **kwargs)
        except (TypeError, AttributeError) as exc:     # (the parser's words, where it
            raise_reworded(exc, call, args, kwargs)    # refuses the call)
            raise
    return call


# the ops with a dim (or keepdim) that ``_torch_args`` does not wrap: methods and functions
NUMPY_NAMED = ("squeeze", "unsqueeze", "squeeze_", "unsqueeze_", "chunk", "unbind", "diff",
               "tensor_split", "take_along_dim", "cumsum_", "cumprod_", "aminmax",
               "slice_scatter", "unsafe_chunk", "unsafe_split", "quantile", "nanquantile",
               "repeat_interleave", "cosine_similarity", "gradient", "trapezoid", "trapz",
               "cumulative_trapezoid", "split_copy", "unbind_copy")
Tensor.squeeze = numpy_names(Tensor.squeeze)
Tensor.unsqueeze = numpy_names(Tensor.unsqueeze)
Tensor.squeeze_ = numpy_names(Tensor.squeeze_)
Tensor.unsqueeze_ = numpy_names(Tensor.unsqueeze_)
Tensor.chunk = numpy_names(Tensor.chunk)
Tensor.unbind = numpy_names(Tensor.unbind)
Tensor.diff = numpy_names(Tensor.diff)
Tensor.tensor_split = numpy_names(Tensor.tensor_split)
Tensor.take_along_dim = numpy_names(Tensor.take_along_dim)
Tensor.cumsum_ = numpy_names(Tensor.cumsum_)
Tensor.cumprod_ = numpy_names(Tensor.cumprod_)
Tensor.aminmax = numpy_names(Tensor.aminmax)
Tensor.slice_scatter = numpy_names(Tensor.slice_scatter)
Tensor.unsafe_chunk = numpy_names(Tensor.unsafe_chunk)
Tensor.unsafe_split = numpy_names(Tensor.unsafe_split)
Tensor.quantile = numpy_names(Tensor.quantile)
Tensor.nanquantile = numpy_names(Tensor.nanquantile)
Tensor.repeat_interleave = numpy_names(Tensor.repeat_interleave)
