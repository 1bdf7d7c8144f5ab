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

# more methods whose arguments are checked by Python alone (a call with too few, ``x.view_as()``,
# or too many): refused in the parser's words. (Not the in-place arithmetic optimizers run a
# step through, add_/sub_/mul_/addcmul_/..., which stay unwrapped.)
Tensor.addbmm = worded(Tensor.addbmm, True, "addbmm")
Tensor.addbmm_ = worded(Tensor.addbmm_, True, "addbmm_")
Tensor.addmm = worded(Tensor.addmm, True, "addmm")
Tensor.addmm_ = worded(Tensor.addmm_, True, "addmm_")
Tensor.addmv = worded(Tensor.addmv, True, "addmv")
Tensor.addmv_ = worded(Tensor.addmv_, True, "addmv_")
Tensor.addr = worded(Tensor.addr, True, "addr")
Tensor.addr_ = worded(Tensor.addr_, True, "addr_")
Tensor.baddbmm = worded(Tensor.baddbmm, True, "baddbmm")
Tensor.baddbmm_ = worded(Tensor.baddbmm_, True, "baddbmm_")
Tensor.bitwise_and = worded(Tensor.bitwise_and, True, "bitwise_and")
Tensor.bitwise_and_ = worded(Tensor.bitwise_and_, True, "bitwise_and_")
Tensor.bitwise_or = worded(Tensor.bitwise_or, True, "bitwise_or")
Tensor.bitwise_or_ = worded(Tensor.bitwise_or_, True, "bitwise_or_")
Tensor.bitwise_xor = worded(Tensor.bitwise_xor, True, "bitwise_xor")
Tensor.bitwise_xor_ = worded(Tensor.bitwise_xor_, True, "bitwise_xor_")
Tensor.bitwise_left_shift = worded(Tensor.bitwise_left_shift, True, "bitwise_left_shift")
Tensor.bitwise_left_shift_ = worded(Tensor.bitwise_left_shift_, True, "bitwise_left_shift_")
Tensor.bitwise_right_shift = worded(Tensor.bitwise_right_shift, True, "bitwise_right_shift")
Tensor.bitwise_right_shift_ = worded(Tensor.bitwise_right_shift_, True, "bitwise_right_shift_")
Tensor.copysign = worded(Tensor.copysign, True, "copysign")
Tensor.copysign_ = worded(Tensor.copysign_, True, "copysign_")
Tensor.diagonal_scatter = worded(Tensor.diagonal_scatter, True, "diagonal_scatter")
Tensor.dsplit = worded(Tensor.dsplit, True, "dsplit")
Tensor.hsplit = worded(Tensor.hsplit, True, "hsplit")
Tensor.vsplit = worded(Tensor.vsplit, True, "vsplit")
Tensor.expand_as = worded(Tensor.expand_as, True, "expand_as")
Tensor.view_as = worded(Tensor.view_as, True, "view_as")
Tensor.reshape_as = worded(Tensor.reshape_as, True, "reshape_as")
Tensor.type_as = worded(Tensor.type_as, True, "type_as")
Tensor.fill_diagonal_ = worded(Tensor.fill_diagonal_, True, "fill_diagonal_")
Tensor.float_power = worded(Tensor.float_power, True, "float_power")
Tensor.float_power_ = worded(Tensor.float_power_, True, "float_power_")
Tensor.floor_divide = worded(Tensor.floor_divide, True, "floor_divide")
Tensor.floor_divide_ = worded(Tensor.floor_divide_, True, "floor_divide_")
Tensor.fmod_ = worded(Tensor.fmod_, True, "fmod_")
Tensor.geometric_ = worded(Tensor.geometric_, True, "geometric_")
Tensor.greater_ = worded(Tensor.greater_, True, "greater_")
Tensor.greater_equal_ = worded(Tensor.greater_equal_, True, "greater_equal_")
Tensor.less_ = worded(Tensor.less_, True, "less_")
Tensor.less_equal_ = worded(Tensor.less_equal_, True, "less_equal_")
Tensor.not_equal_ = worded(Tensor.not_equal_, True, "not_equal_")
Tensor.index_add_ = worded(Tensor.index_add_, True, "index_add_")
Tensor.index_copy = worded(Tensor.index_copy, True, "index_copy")
Tensor.index_copy_ = worded(Tensor.index_copy_, True, "index_copy_")
Tensor.index_fill_ = worded(Tensor.index_fill_, True, "index_fill_")
Tensor.index_put = worded(Tensor.index_put, True, "index_put")
Tensor.index_put_ = worded(Tensor.index_put_, True, "index_put_")
Tensor.index_reduce = worded(Tensor.index_reduce, True, "index_reduce")
Tensor.index_reduce_ = worded(Tensor.index_reduce_, True, "index_reduce_")
Tensor.masked_scatter = worded(Tensor.masked_scatter, True, "masked_scatter")
Tensor.masked_scatter_ = worded(Tensor.masked_scatter_, True, "masked_scatter_")
Tensor.matrix_power = worded(Tensor.matrix_power, True, "matrix_power")
Tensor.multinomial = worded(Tensor.multinomial, True, "multinomial")
Tensor.multiply_ = worded(Tensor.multiply_, True, "multiply_")
Tensor.mvlgamma = worded(Tensor.mvlgamma, True, "mvlgamma")
Tensor.mvlgamma_ = worded(Tensor.mvlgamma_, True, "mvlgamma_")
Tensor.narrow_copy = worded(Tensor.narrow_copy, True, "narrow_copy")
Tensor.new_empty_strided = worded(Tensor.new_empty_strided, True, "new_empty_strided")
Tensor.new_tensor = worded(Tensor.new_tensor, True, "new_tensor")
Tensor.polygamma = worded(Tensor.polygamma, True, "polygamma")
Tensor.polygamma_ = worded(Tensor.polygamma_, True, "polygamma_")
Tensor.put = worded(Tensor.put, True, "put")
Tensor.put_ = worded(Tensor.put_, True, "put_")
Tensor.remainder = worded(Tensor.remainder, True, "remainder")
Tensor.remainder_ = worded(Tensor.remainder_, True, "remainder_")
Tensor.renorm = worded(Tensor.renorm, True, "renorm")
Tensor.renorm_ = worded(Tensor.renorm_, True, "renorm_")
Tensor.resize_as_ = worded(Tensor.resize_as_, True, "resize_as_")
Tensor.scatter_ = worded(Tensor.scatter_, True, "scatter_")
Tensor.scatter_add_ = worded(Tensor.scatter_add_, True, "scatter_add_")
Tensor.scatter_reduce = worded(Tensor.scatter_reduce, True, "scatter_reduce")
Tensor.scatter_reduce_ = worded(Tensor.scatter_reduce_, True, "scatter_reduce_")
Tensor.select_scatter = worded(Tensor.select_scatter, True, "select_scatter")
Tensor.sparse_mask = worded(Tensor.sparse_mask, True, "sparse_mask")
Tensor.split_with_sizes = worded(Tensor.split_with_sizes, True, "split_with_sizes")
Tensor.swapaxes_ = worded(Tensor.swapaxes_, True, "swapaxes_")
Tensor.swapdims_ = worded(Tensor.swapdims_, True, "swapdims_")
Tensor.transpose_ = worded(Tensor.transpose_, True, "transpose_")
Tensor.true_divide_ = worded(Tensor.true_divide_, True, "true_divide_")
Tensor.xlogy = worded(Tensor.xlogy, True, "xlogy")
Tensor.xlogy_ = worded(Tensor.xlogy_, True, "xlogy_")
Tensor.subtract_ = worded(Tensor.subtract_, True, "subtract_")
Tensor.masked_fill_ = worded(Tensor.masked_fill_, True, "masked_fill_")
Tensor.prelu = worded(Tensor.prelu, True, "prelu")
Tensor.as_strided_scatter = worded(Tensor.as_strided_scatter, True, "as_strided_scatter")
Tensor.clamp_min_ = worded(Tensor.clamp_min_, True, "clamp_min_")
Tensor.clamp_max_ = worded(Tensor.clamp_max_, True, "clamp_max_")


def _unflatten(self, dim, sizes):
    return _unflatten_method(self, dim, sizes)


# (PyTorch's is a Python method: a call short of arguments is refused in Python's words)
_unflatten.__qualname__, _unflatten_method = "Tensor.unflatten", Tensor.unflatten
Tensor.unflatten = _unflatten


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
