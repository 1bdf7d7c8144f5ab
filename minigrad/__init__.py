"""minigrad: a small, readable autograd framework with PyTorch's API, on numpy or cupy.

    import minigrad as torch          # PyTorch tutorials run unchanged
    x = torch.randn(1, 1, 28, 28)
    conv = torch.nn.Conv2d(1, 20, 5)
    conv(x).sum().backward()

Where things live (each module uses only those above it):
    backend.py      numpy on the CPU, cupy on CUDA: the only place that chooses
    dtypes.py       float32, int64, ... and PyTorch's type promotion
    autograd.py     Function (forward beside backward), the backward engine, no_grad
    tensor.py       Tensor; _tensor_methods.py attaches the ops as methods
    ops/            the math: elementwise, reduce, movement, matmul, conv, pool, loss
    nn/             Module, layers, functional, init
    optim/          SGD, Adam, AdamW, RMSprop, lr_scheduler
    utils/data.py   Dataset, DataLoader
    testing/        gradcheck, compare_with_torch, the op registry
"""
from . import backend, dtypes, autograd, cuda  # noqa: F401
from .backend import Device as device  # noqa: F401  (minigrad.device('cuda:0'), like torch.device)
from .dtypes import (  # noqa: F401
    DType as dtype, float16, half, float32, float64, double, int8, int16, short, int32, int64,
    long, uint8, bool_ as bool, get_default_dtype, set_default_dtype)
from .dtypes import float32 as float, int32 as int  # noqa: F401,A001
from .autograd import no_grad, enable_grad, set_grad_enabled, is_grad_enabled  # noqa: F401
from .parallel import get_num_threads, set_num_threads  # noqa: F401
from ._memory_format import (  # noqa: F401
    memory_format, contiguous_format, preserve_format, channels_last, channels_last_3d)
from .tensor import Tensor, Size, tensor, as_tensor, from_numpy, is_tensor  # noqa: F401
from . import _tensor_methods  # noqa: F401  (x + y, x.sum(), ...)
from ._tensor_methods import allclose, equal  # noqa: F401
from .creation import (  # noqa: F401
    zeros, ones, full, empty, arange, linspace, eye, rand, randn, randint, randperm,
    zeros_like, ones_like, full_like, empty_like, rand_like, randn_like, manual_seed, seed,
    initial_seed, Generator, default_generator, get_rng_state, set_rng_state, layout, strided,
    sparse_coo, sparse_csr, sparse_csc, sparse_bsr, sparse_bsc)
from .ops.elementwise import (  # noqa: F401
    add, sub, mul, div, pow, neg, exp, log, log1p, sqrt, rsqrt, abs, sin, cos, tanh, sigmoid,
    relu, clamp, clamp_min, clamp_max, maximum, minimum, where, square, remainder)
from .ops.compare import (  # noqa: F401
    sign, floor, ceil, round, isnan, isinf, isfinite, eq, ne, lt, le, gt, ge, logical_and,
    logical_or, logical_not)
from .ops.bitwise import (  # noqa: F401
    bitwise_and, bitwise_or, bitwise_xor, bitwise_not, bitwise_left_shift, bitwise_right_shift)
from .ops.elementwise import sub as subtract, mul as multiply, div as divide, clamp as clip  # noqa
from .ops.reduce import (  # noqa: F401
    sum, mean, prod, max, min, amax, amin, argmax, argmin, var, std, logsumexp, softmax,
    log_softmax, all, any, count_nonzero)
from .ops.movement import (  # noqa: F401
    reshape, flatten, unflatten, squeeze, unsqueeze, transpose, permute, t, cat, stack, split,
    chunk, unbind, clone, flip)
from .ops.movement import narrow, select  # noqa: F401
from .ops.movement import cat as concat, cat as concatenate, transpose as swapaxes  # noqa: F401
from .ops.matmul import matmul  # noqa: F401
from .ops.inplace import zero_, resize_as_  # noqa: F401
from .ops.matmul import mm, bmm, mv  # noqa: F401

__version__ = "0.2.0"


def is_floating_point(t) -> "bool":
    return t.is_floating_point()


def numel(t) -> "int":
    return t.numel()


def broadcast_to(t, shape):
    return t.expand(*shape)


from .autograd import functional as _autograd_functional  # noqa: E402,F401  (vjp, hessian...)
from . import nn, optim, utils  # noqa: E402,F401
from .serialization import save, load  # noqa: E402,F401
from .nn.functional import conv1d, conv2d, conv_transpose1d, conv_transpose2d  # noqa: E402,F401
from .summary import summary  # noqa: E402,F401
from .profiler import profile  # noqa: E402,F401
from . import explain, viz  # noqa

# Breadth (issue #15): the rest of PyTorch's everyday functions
from .ops.trig import (  # noqa: E402,F401
    tan, asin, acos, atan, atan2, sinh, cosh, asinh, acosh, atanh, arcsin, arccos, arctan,
    arctan2, arcsinh, arccosh, arctanh)
from .ops.activation import erf, selu, celu  # noqa: E402,F401
from .ops.scatter_gather import (  # noqa: E402,F401
    gather, scatter, scatter_add, index_select, index_add, masked_fill, take_along_dim)
from .ops.sorting import sort, argsort, msort, topk, cumsum, cumprod  # noqa: E402,F401
from .ops.scatter_reduce import scatter_reduce, index_copy, index_fill, take  # noqa: E402,F401
from .ops.selection import (  # noqa: E402,F401
    aminmax, kthvalue, median, nanmedian, mode, nansum, nanmean)
from .ops.shaping import (  # noqa: E402,F401
    movedim, moveaxis, tril, triu, diag, outer, ger, repeat_interleave, roll, diagonal, tile)
from .ops.linalg import einsum, norm, var_mean, std_mean, dot, inner  # noqa: E402,F401
from .ops.math_extra import (  # noqa: E402,F401
    log2, exp2, log10, lerp, trunc, trunc as fix, frac, isclose, logcumsumexp, cummax, cummin,
    masked_select, nonzero, nan_to_num, nan_to_num_)
from .functional import (  # noqa: E402,F401
    broadcast_tensors, broadcast_shapes, meshgrid, tensordot, atleast_1d, atleast_2d,
    atleast_3d)
from .ops.math_extra import fmod  # noqa: E402,F401
from .ops.set_ops import unique, unique_consecutive, bincount  # noqa: E402,F401
from .ops.stacking import (  # noqa: E402,F401
    hstack, vstack, row_stack, dstack, column_stack, tensor_split)
from .ops.masked import masked_scatter  # noqa: E402,F401
from .creation import logspace, tril_indices, triu_indices, scalar_tensor  # noqa: E402,F401
from ._sampling import normal, bernoulli  # noqa: E402,F401
from .autograd import inference_mode  # noqa: E402,F401
from ._settings import set_printoptions, set_default_device, get_default_device  # noqa: E402,F401
from . import functional, linalg, backends  # noqa: E402,F401
from .ops.pointwise_more import (  # noqa: E402,F401
    sgn, copysign, hypot, logaddexp, logaddexp2, xlogy, float_power, floor_divide, true_divide,
    deg2rad, rad2deg, heaviside, nextafter, signbit, logit, sinc, expm1, positive)
from .ops.products import (  # noqa: E402,F401
    addmm, addmv, addr, addbmm, baddbmm, addcmul, addcdiv, kron, cross, cdist, dist, vdot,
    block_diag)
from .ops.sequence_more import (  # noqa: E402,F401
    diff, fliplr, flipud, rot90, diag_embed, diagflat, trapezoid, trapz, cumulative_trapezoid,
    vander, cartesian_prod, combinations, renorm, argwhere, ravel)
from .ops.statistics import (  # noqa: E402,F401
    cov, corrcoef, quantile, nanquantile, histc, histogram, searchsorted, bucketize, isin)
from .ops.solve import (  # noqa: E402,F401
    inv as inverse, det, slogdet, logdet, triangular_solve, cholesky_solve)
from .ops.decompositions import (  # noqa: E402,F401
    torch_cholesky as cholesky, torch_svd as svd, pinverse)
from .ops.matrix_functions import (  # noqa: E402,F401
    matrix_power, matrix_exp, householder_product as orgqr)
from .ops.type_info import finfo, iinfo  # noqa: E402,F401
from .ops import special  # noqa: E402,F401
from .ops.special_functions import (  # noqa: E402,F401
    lgamma, digamma, polygamma, mvlgamma, erfc, erfinv, i0, igamma, igammac)
from .ops.integer_math import gcd, gcd_, lcm, lcm_, ldexp, frexp  # noqa: E402,F401
from .ops.type_promotion import result_type, promote_types, can_cast  # noqa: E402,F401
from .ops.sampling_more import multinomial, poisson, randint_like  # noqa: E402,F401
from .ops.axis_splits import hsplit, vsplit, dsplit  # noqa: E402,F401
from .ops.conjugation import (  # noqa: E402,F401
    conj, resolve_conj, resolve_neg, is_conj, is_neg, adjoint)
from .ops.strided import as_strided, narrow_copy  # noqa: E402,F401
from .ops.index_reduce import index_reduce  # noqa: E402,F401
from ._tensor_methods import _torch_args  # noqa: E402

# PyTorch's keyword spellings on the top-level functions: torch.sum(x, axis=1, keepdims=True),
# torch.matmul(input=a, other=b), torch.add(a, b, out=c)
for _name in ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "matmul", "mm", "bmm",
              "mv", "sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "var",
              "std", "logsumexp", "softmax", "log_softmax", "all", "any", "count_nonzero",
              "exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "atan2", "gather",
              "index_select", "sort", "argsort", "topk", "cumsum", "cumprod", "norm",
              "var_mean", "std_mean", "subtract", "multiply", "divide", "clamp", "clip",
              "clamp_min", "clamp_max",
              "where", "cat", "stack", "flatten", "reshape", "transpose", "permute", "squeeze",
              "unsqueeze", "dot", "outer", "tril", "triu", "kthvalue", "median", "nanmedian",
              "mode", "nansum", "nanmean", "take", "nan_to_num", "fmod"):
    globals()[_name] = _torch_args(globals()[_name])
for _name in ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift",
              "bitwise_right_shift"):
    globals()[_name] = _torch_args(globals()[_name])
del _name
