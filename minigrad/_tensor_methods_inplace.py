"""Tensor's in-place math methods, each one line calling its op in ``minigrad/ops``: the
in-place forms of the pointwise ops, scans and fused products (``exp_``, ``atan2_``,
``cumsum_``, ``addmm_``...) and of the view changes (``t_``, ``squeeze_``...).  The
out-of-place named math is in ``_tensor_methods_math.py``.
"""
from __future__ import annotations

from .ops import inplace_pointwise as INP, inplace_views as IV
from ._argument_words import worded
from ._tensor_methods_math import _named_inplace
from ._tensor_methods_layout import _dims_given_apart
from .tensor import Tensor


# in place: every pointwise op, scan and fused product (ops/inplace_pointwise.py) and the
# view changes (ops/inplace_views.py)
Tensor.abs_ = INP.abs_
Tensor.absolute_ = INP.absolute_
Tensor.neg_ = INP.neg_
Tensor.negative_ = INP.negative_
Tensor.exp_ = INP.exp_
Tensor.exp2_ = INP.exp2_
Tensor.expm1_ = INP.expm1_
Tensor.log_ = INP.log_
Tensor.log2_ = INP.log2_
Tensor.log10_ = INP.log10_
Tensor.log1p_ = INP.log1p_
Tensor.sqrt_ = INP.sqrt_
Tensor.rsqrt_ = INP.rsqrt_
Tensor.square_ = INP.square_
Tensor.reciprocal_ = INP.reciprocal_
Tensor.sigmoid_ = INP.sigmoid_
Tensor.logit_ = INP.logit_
Tensor.sin_ = INP.sin_
Tensor.cos_ = INP.cos_
Tensor.tan_ = INP.tan_
Tensor.asin_ = INP.asin_
Tensor.acos_ = INP.acos_
Tensor.atan_ = INP.atan_
Tensor.sinh_ = INP.sinh_
Tensor.cosh_ = INP.cosh_
Tensor.tanh_ = INP.tanh_
Tensor.asinh_ = INP.asinh_
Tensor.acosh_ = INP.acosh_
Tensor.atanh_ = INP.atanh_
Tensor.arcsin_ = INP.arcsin_
Tensor.arccos_ = INP.arccos_
Tensor.arctan_ = INP.arctan_
Tensor.arcsinh_ = INP.arcsinh_
Tensor.arccosh_ = INP.arccosh_
Tensor.arctanh_ = INP.arctanh_
Tensor.sinc_ = _named_inplace("SincBackward0", INP.sinc_)
Tensor.deg2rad_ = _named_inplace("Deg2RadBackward0", INP.deg2rad_)
Tensor.rad2deg_ = _named_inplace("Rad2DegBackward0", INP.rad2deg_)
Tensor.ceil_ = INP.ceil_
Tensor.floor_ = INP.floor_
Tensor.round_ = INP.round_method_
Tensor.trunc_ = INP.trunc_
Tensor.fix_ = INP.fix_
Tensor.frac_ = INP.frac_
Tensor.sign_ = INP.sign_
Tensor.sgn_ = _named_inplace("SgnBackward0", INP.sgn_)
Tensor.erf_ = INP.erf_
Tensor.erfc_ = INP.erfc_
Tensor.erfinv_ = INP.erfinv_
Tensor.lgamma_ = INP.lgamma_
Tensor.digamma_ = INP.digamma_
Tensor.i0_ = INP.i0_
Tensor.mvlgamma_ = _named_inplace("MvlgammaBackward0", INP.mvlgamma_)
Tensor.logical_not_ = INP.logical_not_
Tensor.polygamma_ = _named_inplace("PolygammaBackward1", INP.polygamma_)
Tensor.atan2_ = INP.atan2_
Tensor.arctan2_ = INP.arctan2_
Tensor.copysign_ = INP.copysign_
Tensor.hypot_ = INP.hypot_
Tensor.heaviside_ = INP.heaviside_
Tensor.nextafter_ = INP.nextafter_
Tensor.xlogy_ = INP.xlogy_
Tensor.remainder_ = INP.remainder_
Tensor.floor_divide_ = INP.floor_divide_
Tensor.igamma_ = INP.igamma_
Tensor.igammac_ = INP.igammac_
Tensor.divide_ = INP.divide_
Tensor.true_divide_ = INP.true_divide_
Tensor.multiply_ = INP.multiply_
Tensor.subtract_ = INP.subtract_
Tensor.eq_ = INP.eq_
Tensor.ne_ = INP.ne_
Tensor.lt_ = INP.lt_
Tensor.le_ = INP.le_
Tensor.gt_ = INP.gt_
Tensor.ge_ = INP.ge_
Tensor.not_equal_ = INP.not_equal_
Tensor.less_ = INP.less_
Tensor.less_equal_ = INP.less_equal_
Tensor.greater_ = INP.greater_
Tensor.greater_equal_ = INP.greater_equal_
Tensor.logical_and_ = INP.logical_and_
Tensor.logical_or_ = INP.logical_or_
Tensor.logical_xor_ = INP.logical_xor_
Tensor.float_power_ = INP.float_power_
Tensor.cumsum_ = INP.cumsum_
Tensor.cumprod_ = INP.cumprod_
Tensor.renorm_ = INP.renorm_
# (bound in _tensor_methods.py to clamp_, whose node is a ClampBackward's)
Tensor.clamp_min_ = INP.clamp_min_
Tensor.clamp_max_ = INP.clamp_max_
Tensor.addmm_ = INP.addmm_
Tensor.addmv_ = INP.addmv_
Tensor.addr_ = INP.addr_
Tensor.addbmm_ = INP.addbmm_
Tensor.baddbmm_ = INP.baddbmm_
Tensor.t_ = IV.t_
Tensor.transpose_ = IV.transpose_
Tensor.swapaxes_ = IV.swapaxes_
Tensor.swapdims_ = IV.swapdims_
Tensor.squeeze_ = _dims_given_apart("squeeze_", IV.squeeze_)
Tensor.unsqueeze_ = IV.unsqueeze_
Tensor.as_strided_ = worded(IV.as_strided_, True, "as_strided_")    # (its parser's words)
