"""Tensor's named math methods, each one line calling its op in ``minigrad/ops``.

Pointwise functions (``exp``, ``atan2``, ``lgamma``, ``hypot``...), reductions, scans and
statistics (``sum``, ``cumsum``, ``median``, ``quantile``), sorting, gather/scatter and index
writes, products and linear algebra (``matmul``, ``det``, ``qr``), complex parts (``conj``,
``real``).  Also ``allclose`` and ``equal``, the whole-tensor comparisons, which are
top-level functions too.  The in-place forms of the pointwise ops and of the view changes
(``exp_``, ``t_``...) are in ``_tensor_methods_inplace.py``.
"""
from __future__ import annotations

from ._argument_words import worded
from .ops import elementwise as E, reduce as R, inplace as I
from .ops import reduce_variance as RV
from .ops import division as DV
from .ops import extrema as EX, softmax as SX
from .ops import elementary_functions as EF, pointwise_select as PS, relu_clamp as RC
from .ops import power as POW
from .ops import matmul as MM, compare as C
from .ops import activation as A, trig as T, sorting as S, scatter_gather as G, shaping as H
from .ops import norms as NRM, contraction as CTR, math_extra as MX
from .ops import special_functions as SF
from .ops import scatter_reduce as SR, selection as SE
from .ops import set_ops as SO, stacking as ST, masked as MS, masked_fill as FILL
from .ops import pointwise_more as PW, products as PR, sequence_more as SQ, statistics as STAT
from .ops import pointwise_smooth as PSM
from .ops import solve as LS, decompositions as DEC, matrix_functions as MF
from .ops import determinant as DET, triangular_solve as TS
from .ops import pseudo_inverse as PINV
from .ops import integer_math as IM, sampling_more as SM, axis_splits as AX
from .ops import conjugation as CJ, strided as SD, index_reduce as IRD
from .ops import view_copies as VC, index_put as IP, pointwise_round7 as PR7
from .ops import write_overlap as WO
from .ops import complex_numbers as CN
from .ops import matrix_round7 as MR7, numeric_grid as NG
from .ops import lu as LU, householder_qr as HQR
from ._tensor_methods import _torch_args
from ._method_out import refusing_out
from .tensor import Tensor


def _named_copy(node_name, op):
    """``self.<op>_(...)`` computed as ``self.copy_(op(self, ...))``, its node named as
    PyTorch's for the in-place op (ScatterAddBackward0, not a copy's)."""
    def write(self, *args, **kwargs):
        return I.named_write(self, node_name, I.copy_, self, op(self, *args, **kwargs))
    return write


def _named_inplace(node_name, method):
    """The in-place ``method`` (made of other ops), its node named ``node_name``; a callable
    ``node_name`` picks the name from the call's arguments."""
    def write(self, *args, **kwargs):
        name = node_name(*args, **kwargs) if callable(node_name) else node_name
        return I.named_write(self, name, method, self, *args, **kwargs)
    write.__name__ = getattr(method, "__name__", "write")
    write.__doc__ = getattr(method, "__doc__", None)
    return write


# pointwise
Tensor.add = _torch_args(E.add, True)
Tensor.sub = _torch_args(E.sub, True)
Tensor.subtract = _torch_args(E.sub, True)
Tensor.mul = _torch_args(E.mul, True)
Tensor.multiply = _torch_args(E.mul, True)
Tensor.div = _torch_args(DV.div, True)
Tensor.divide = _torch_args(DV.divide, True)
Tensor.true_divide = _torch_args(DV.div, True)
Tensor.pow = _torch_args(POW.pow, True)
Tensor.neg = E.neg
Tensor.negative = E.neg
Tensor.exp = EF.exp
Tensor.log = EF.log
Tensor.log1p = EF.log1p
Tensor.sqrt = EF.sqrt
Tensor.rsqrt = EF.rsqrt
Tensor.abs = EF.abs
Tensor.sin = EF.sin
Tensor.cos = EF.cos
Tensor.tanh = EF.tanh
Tensor.sigmoid = EF.sigmoid
Tensor.relu = RC.relu
Tensor.clamp = worded(RC.clamp, True, "clamp")
Tensor.clip = worded(RC.clip, True, "clip")
Tensor.clamp_min = worded(RC.clamp_min, True, "clamp_min")
Tensor.clamp_max = worded(RC.clamp_max, True, "clamp_max")
Tensor.maximum = _torch_args(PS.maximum, True)
Tensor.minimum = _torch_args(PS.minimum, True)
Tensor.square = EF.square
Tensor.sign = C.sign
Tensor.floor = C.floor
Tensor.ceil = C.ceil
Tensor.round = C.round_method      # (decimals by keyword only)
Tensor.isnan = C.isnan
Tensor.isinf = C.isinf
Tensor.isfinite = C.isfinite
Tensor.eq = C.method(C.eq)
Tensor.ne = C.method(C.ne)
Tensor.lt = C.method(C.lt)
Tensor.le = C.method(C.le)
Tensor.gt = C.method(C.gt)
Tensor.ge = C.method(C.ge)
Tensor.logical_and = C.tensor_method(C.logical_and)
Tensor.logical_or = C.tensor_method(C.logical_or)
Tensor.logical_not = C.logical_not


Tensor.where = PS.where_method

# trigonometry and erf (ops/trig.py, ops/activation.py)
Tensor.tan = T.tan
Tensor.asin = T.asin
Tensor.acos = T.acos
Tensor.atan = T.atan
Tensor.atan2 = _torch_args(T.atan2, True)
Tensor.arcsin = T.asin
Tensor.arccos = T.acos
Tensor.arctan = T.atan
Tensor.arctan2 = _torch_args(T.atan2, True)
Tensor.sinh = T.sinh
Tensor.cosh = T.cosh
Tensor.asinh = T.asinh
Tensor.acosh = T.acosh
Tensor.atanh = T.atanh
Tensor.arcsinh = T.asinh
Tensor.arccosh = T.acosh
Tensor.arctanh = T.atanh
Tensor.erf = A.erf

# the gamma family, erfc, erfinv, i0 (ops/special_functions.py)
Tensor.lgamma = SF.lgamma
Tensor.digamma = SF.digamma
Tensor.polygamma = lambda self, n: SF.polygamma(n, self)
Tensor.mvlgamma = lambda self, p: SF.mvlgamma(self, p)
Tensor.erfc = SF.erfc
Tensor.erfinv = SF.erfinv
Tensor.i0 = SF.i0
Tensor.igamma = SF.igamma
Tensor.igammac = SF.igammac

# more pointwise, scans and selections (ops/math_extra.py)
Tensor.log2 = MX.log2
Tensor.exp2 = MX.exp2
Tensor.log10 = MX.log10
Tensor.lerp = MX.lerp
Tensor.lerp_ = MX.lerp_
Tensor.nan_to_num = MX.nan_to_num
Tensor.nan_to_num_ = _named_inplace("NanToNumBackward0", MX.nan_to_num_)
Tensor.trunc = MX.trunc
Tensor.fix = MX.trunc
Tensor.frac = MX.frac
Tensor.isclose = MX.isclose
Tensor.logcumsumexp = _torch_args(MX.logcumsumexp, True)
Tensor.cummax = _torch_args(MX.cummax, True)
Tensor.cummin = _torch_args(MX.cummin, True)
Tensor.diagonal = H.diagonal
Tensor.narrow = ST.narrow
Tensor.select = ST.select
Tensor.masked_select = MX.masked_select
Tensor.fmod = _torch_args(MX.fmod, True)
Tensor.fmod_ = MX.fmod_

# sets, counts, splitting, masked writes (ops/set_ops.py, ops/stacking.py, ops/masked.py)
Tensor.unique = SO.unique
Tensor.unique_consecutive = SO.unique_consecutive
Tensor.bincount = SO.bincount
Tensor.tensor_split = ST.tensor_split
Tensor.masked_scatter = MS.masked_scatter
Tensor.masked_scatter_ = _named_inplace("MaskedScatterBackward0", MS.masked_scatter_)
# minigrad has no inference tensors (inference_mode is no_grad): no tensor is one
Tensor.nonzero = MX.nonzero

# reductions (numpy's axis= / keepdims= accepted too)
Tensor.sum = refusing_out(_torch_args(R.sum, True), "sum")
Tensor.mean = refusing_out(_torch_args(R.mean, True), "mean")
Tensor.prod = refusing_out(_torch_args(R.prod, True), "prod")
Tensor.max = refusing_out(_torch_args(EX.max, True), "max")
Tensor.min = refusing_out(_torch_args(EX.min, True), "min")
Tensor.amax = refusing_out(_torch_args(EX.amax, True), "amax")
Tensor.amin = refusing_out(_torch_args(EX.amin, True), "amin")
Tensor.argmax = refusing_out(_torch_args(EX.argmax, True), "argmax")
Tensor.argmin = refusing_out(_torch_args(EX.argmin, True), "argmin")
Tensor.var = refusing_out(_torch_args(RV.var, True), "var")
Tensor.std = refusing_out(_torch_args(RV.std, True), "std")
Tensor.logsumexp = _torch_args(SX.logsumexp, True)
Tensor.softmax = _torch_args(SX.softmax, True)
Tensor.log_softmax = _torch_args(SX.log_softmax, True)
Tensor.all = refusing_out(_torch_args(R.all, True), "all")
Tensor.any = refusing_out(_torch_args(R.any, True), "any")
Tensor.count_nonzero = _torch_args(R.count_nonzero, True)
Tensor.norm = _torch_args(NRM.norm, True)
Tensor.cumsum = refusing_out(_torch_args(S.cumsum, True), "cumsum")
Tensor.cumprod = refusing_out(_torch_args(S.cumprod, True), "cumprod")

# ordering
Tensor.sort = _torch_args(S.sort, True)
Tensor.argsort = _torch_args(S.argsort, True)
Tensor.msort = S.msort
Tensor.topk = _torch_args(S.topk, True)

# gather / scatter (ops/scatter_gather.py, ops/masked_fill.py)
Tensor.gather = _torch_args(G.gather, True)
Tensor.scatter = G.scatter
Tensor.scatter_add = G.scatter_add
Tensor.index_select = _torch_args(G.index_select, True)
Tensor.index_add = G.index_add
Tensor.masked_fill = FILL.masked_fill
Tensor.take_along_dim = G.take_along_dim
def _source_apart(method):
    """``method`` (an in-place index or scatter write taking (dim, index, source, ...)), first
    refusing a source that shares memory with self, as PyTorch's do: a clone() is needed."""
    def write(self, *args, **kwargs):
        source = args[2] if len(args) > 2 else kwargs.get("source", kwargs.get("src"))
        if isinstance(source, Tensor) and isinstance(self, Tensor) and \
                WO.memory_overlap(self._array, source._array) != WO.NO_OVERLAP:
            raise RuntimeError(WO.INPUT_OVERLAP)
        return method(self, *args, **kwargs)
    write.__name__ = getattr(method, "__name__", "write")
    return write


def _scatter_(self, *args, **kwargs):
    """``scatter_(dim, index, src | value, reduce=None)``: ScatterBackward0 for a tensor
    source, ScatterBackward1 for a number (a reduce= has no node name of its own in PyTorch:
    left as the copy's)."""
    result = G.scatter(self, *args, **kwargs)
    if kwargs.get("reduce") is not None or len(args) > 3:
        return I.copy_(self, result)
    source = args[2] if len(args) > 2 else kwargs.get("src", kwargs.get("value"))
    name = "ScatterBackward0" if isinstance(source, Tensor) else "ScatterBackward1"
    return I.named_write(self, name, I.copy_, self, result)


Tensor.scatter_ = _source_apart(_scatter_)
Tensor.scatter_add_ = _source_apart(_named_copy("ScatterAddBackward0", G.scatter_add))
Tensor.index_add_ = _source_apart(_named_copy("IndexAddBackward0", G.index_add))
Tensor.masked_fill_ = FILL.masked_fill_

# scatter reductions, index writes, selections (ops/scatter_reduce.py, ops/selection.py)
Tensor.scatter_reduce = SR.scatter_reduce
Tensor.scatter_reduce_ = _source_apart(_named_inplace("ScatterReduceBackward0",
                                                     SR.scatter_reduce_))
Tensor.index_copy = SR.index_copy
Tensor.index_copy_ = _source_apart(_named_copy("IndexCopyBackward0", SR.index_copy))
Tensor.index_fill = SR.index_fill
Tensor.index_fill_ = SR.index_fill_
Tensor.take = SR.take
Tensor.aminmax = SE.aminmax
Tensor.kthvalue = _torch_args(SE.kthvalue, True)
Tensor.median = _torch_args(SE.median, True)
Tensor.nanmedian = _torch_args(SE.nanmedian, True)
Tensor.mode = _torch_args(SE.mode, True)
Tensor.nansum = _torch_args(SE.nansum, True)
Tensor.nanmean = _torch_args(SE.nanmean, True)

# products
Tensor.matmul = _torch_args(MM.matmul, True)
Tensor.mm = _torch_args(MM.mm, True)
Tensor.bmm = _torch_args(MM.bmm, True)
Tensor.mv = _torch_args(MM.mv, True)
Tensor.dot = CTR.dot
Tensor.inner = CTR.inner
Tensor.det = DET.det
Tensor.logdet = DET.logdet
Tensor.slogdet = DET.torch_slogdet
Tensor.inverse = LS.inv
Tensor.triangular_solve = TS.triangular_solve
Tensor.cholesky_solve = TS.cholesky_solve
Tensor.cholesky = DEC.torch_cholesky
Tensor.svd = DEC.torch_svd
Tensor.pinverse = PINV.pinverse
Tensor.matrix_power = MF.matrix_power
Tensor.matrix_exp = MF.matrix_exp
Tensor.orgqr = MF.householder_product
Tensor.lu = LU.torch_lu
Tensor.lu_solve = LU.torch_lu_solve
Tensor.qr = HQR.torch_qr
Tensor.geqrf = HQR.geqrf
Tensor.ormqr = HQR.ormqr

# comparisons of whole tensors
Tensor.allclose = lambda self, other, rtol=1e-05, atol=1e-08, equal_nan=False: \
    allclose(self, other, rtol, atol, equal_nan)
Tensor.equal = lambda self, other: equal(self, other)

def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """True when |a - b| <= atol + rtol |b| everywhere (shapes broadcast; isclose's checks)."""
    return bool(MX.isclose(a, b, rtol, atol, equal_nan)._array.all())


def equal(a, b) -> bool:
    """True when both tensors have the same shape and elements."""
    return tuple(a.shape) == tuple(b.shape) and bool((a._array == b._array).all())

# pointwise, products, sequences and statistics (ops/pointwise_more.py, products.py,
# sequence_more.py, statistics.py)
Tensor.sgn = CN.sgn
Tensor.copysign = PW.copysign
Tensor.hypot = PW.hypot
Tensor.logaddexp = PW.logaddexp
Tensor.logaddexp2 = PW.logaddexp2
Tensor.xlogy = PW.xlogy
Tensor.float_power = PW.float_power
Tensor.floor_divide = PW.floor_divide
Tensor.deg2rad = PW.deg2rad
Tensor.rad2deg = PW.rad2deg
Tensor.heaviside = PW.heaviside
Tensor.nextafter = PW.nextafter
Tensor.signbit = PW.signbit
Tensor.logit = PSM.logit
Tensor.sinc = PSM.sinc
Tensor.expm1 = PSM.expm1
Tensor.positive = PW.positive
Tensor.addmm = PR.addmm
Tensor.addmv = PR.addmv
Tensor.addr = PR.addr
Tensor.addbmm = PR.addbmm
Tensor.baddbmm = PR.baddbmm
Tensor.addcmul = PR.addcmul
Tensor.addcdiv = PR.addcdiv
Tensor.addcmul_ = PR.addcmul_
Tensor.addcdiv_ = PR.addcdiv_
Tensor.kron = PR.kron
Tensor.cross = PR.cross
Tensor.dist = PR.dist
Tensor.vdot = PR.vdot
Tensor.diff = SQ.diff
Tensor.fliplr = SQ.fliplr
Tensor.flipud = SQ.flipud
Tensor.rot90 = SQ.rot90
Tensor.diag_embed = SQ.diag_embed
Tensor.diagflat = SQ.diagflat
Tensor.renorm = SQ.renorm
Tensor.argwhere = SQ.argwhere
Tensor.ravel = SQ.ravel
Tensor.cov = STAT.cov
Tensor.corrcoef = STAT.corrcoef
Tensor.quantile = STAT.quantile
Tensor.nanquantile = STAT.nanquantile
Tensor.histc = STAT.histc
Tensor.histogram = STAT.histogram

# integer math, sampling, splits, conjugation, strided views, index_reduce (round 6)
Tensor.gcd = IM.gcd
Tensor.gcd_ = IM.gcd_
Tensor.lcm = IM.lcm
Tensor.lcm_ = IM.lcm_
Tensor.ldexp = IM.ldexp
Tensor.ldexp_ = _named_inplace("LdexpBackward0", IM.ldexp_)
Tensor.frexp = IM.frexp
Tensor.multinomial = SM.multinomial
Tensor.hsplit = AX.hsplit
Tensor.vsplit = AX.vsplit
Tensor.dsplit = AX.dsplit
Tensor.conj = CJ.conj
Tensor.conj_physical = CJ.conj_physical
Tensor.conj_physical_ = CJ.conj_physical_
Tensor.resolve_conj = CJ.resolve_conj
Tensor.resolve_neg = CJ.resolve_neg
Tensor.is_conj = CJ.is_conj
Tensor.is_neg = CJ.is_neg
Tensor.adjoint = CJ.adjoint
Tensor.as_strided = worded(SD.as_strided, True, "as_strided")    # (its parser's words)
Tensor.narrow_copy = SD.narrow_copy
Tensor.index_reduce = IRD.index_reduce
Tensor.index_reduce_ = _source_apart(_named_inplace("IndexReduceBackward0", IRD.index_reduce_))
Tensor.fill_diagonal_ = IRD.fill_diagonal_

# round 7 (part B): view copies/scatters, index_put/put, NaN-ignoring extremes, queries
Tensor.trace = MR7.trace
Tensor.sum_to_size = MR7.sum_to_size
Tensor.cholesky_inverse = MR7.cholesky_inverse
Tensor.fmax = PR7.fmax
Tensor.fmin = PR7.fmin
Tensor.isposinf = PR7.isposinf
Tensor.isneginf = PR7.isneginf
Tensor.isreal = CN.isreal
Tensor.angle = CN.angle
# properties, as PyTorch's; assigning to one writes that part of a complex tensor in place
Tensor.real = property(CN.real, lambda self, value: CN.real(self).copy_(value))
Tensor.imag = property(CN.imag, lambda self, value: CN.imag(self).copy_(value))
Tensor.split_with_sizes = VC.split_with_sizes
Tensor.unsafe_chunk = VC.unsafe_chunk
Tensor.unsafe_split = VC.unsafe_split
Tensor.unsafe_split_with_sizes = VC.unsafe_split_with_sizes
Tensor.diagonal_scatter = VC.diagonal_scatter
Tensor.select_scatter = VC.select_scatter
Tensor.slice_scatter = VC.slice_scatter
Tensor.as_strided_scatter = VC.as_strided_scatter
Tensor.index_put = IP.tensor_index_put
Tensor.index_put_ = _named_inplace("IndexPutBackward0", IP.tensor_index_put_)
Tensor.put = IP.put
Tensor.put_ = _named_inplace("PutBackward0", IP.put_)
Tensor.nonzero_static = NG.nonzero_static
