"""minigrad: a small, readable autograd framework with PyTorch's API, on numpy or cupy.

    import minigrad as torch          # PyTorch tutorials run unchanged
    x = torch.randn(1, 1, 28, 28)
    conv = torch.nn.Conv2d(1, 20, 5)
    conv(x).sum().backward()

Where things live (each module uses only those above it):
    backend.py      numpy on the CPU, cupy on CUDA: the only place that chooses
    dtypes.py       float32, int64, ... and PyTorch's type promotion
    autograd.py     Function (forward beside backward), the backward engine, no_grad
    tensor.py       Tensor; _tensor_methods*.py attach the ops as methods
    ops/            the math: elementwise, reduce, movement, matmul, conv, pool, loss
    nn/             Module, layers, functional, init
    optim/          SGD, Adam, AdamW, RMSprop, lr_scheduler
    utils/data.py   Dataset, DataLoader
    testing/        gradcheck, compare_with_torch, the op registry
"""
from . import backend, dtypes, autograd, cuda  # noqa: F401
from .backend import Device as device  # noqa: F401  (minigrad.device('cuda:0'), like torch.device)
from .dtypes import (  # noqa: F401
    DType as dtype, float16, half, bfloat16, float32, float64, double, int8, int16, short, int32,
    int64, long, uint8, uint16, uint32, uint64, bool_ as bool, complex64, cfloat, complex128,
    cdouble, get_default_dtype, set_default_dtype)
from .dtypes import float32 as float, int32 as int  # noqa: F401,A001
from .autograd import no_grad, enable_grad, set_grad_enabled, is_grad_enabled  # noqa: F401
from .parallel import get_num_threads, set_num_threads  # noqa: F401
from ._memory_format import (  # noqa: F401
    memory_format, contiguous_format, preserve_format, channels_last, channels_last_3d)
from .tensor import Tensor, Size  # noqa: F401
from ._tensor_factories import tensor, as_tensor, from_numpy, is_tensor  # noqa: F401
from ._legacy_types import (  # noqa: F401  (torch.FloatTensor(2, 3), isinstance(x, ...))
    FloatTensor, DoubleTensor, HalfTensor, BFloat16Tensor, ByteTensor, CharTensor, ShortTensor,
    IntTensor, LongTensor, BoolTensor)
from . import _tensor_methods  # noqa: F401  (x + y, x[i], x += y, ...)
from . import _tensor_methods_math, _tensor_methods_layout  # noqa: F401  (x.sum(), x.to())
from . import _tensor_methods_inplace  # noqa: F401  (x.exp_(), x.t_())
from . import _torch_function  # noqa: F401  (Tensor.__torch_function__, subclasses' dispatch)
from . import _sparse_coo_ops  # (torch.abs(s) and the like for a sparse s: see below)
from ._tensor_methods_math import allclose, equal  # noqa: F401
from .creation import (  # noqa: F401
    zeros, ones, full, empty, eye, zeros_like, ones_like, full_like, empty_like, layout, strided,
    sparse_coo, sparse_csr, sparse_csc, sparse_bsr, sparse_bsc)
from ._range_factories import arange, linspace  # noqa: F401
from ._random_factories import (  # noqa: F401
    rand, randn, randint, randperm, rand_like, randn_like, manual_seed, seed, initial_seed,
    Generator, default_generator, get_rng_state, set_rng_state)
from .ops.elementwise import add, sub, mul, neg  # noqa: F401
from .ops.division import div, remainder  # noqa: F401
from .ops.elementary_functions import (  # noqa: F401
    exp, log, log1p, sqrt, rsqrt, abs, sin, cos, tanh, sigmoid, square)
from .ops.power import pow  # noqa: F401
from .ops.relu_clamp import relu, clamp, clamp_min, clamp_max  # noqa: F401
from .ops.pointwise_select import maximum, minimum  # noqa: F401
from .ops.pointwise_select import where_checked as where  # noqa: F401  (no numpy masks, as torch)
from .ops.compare import (  # noqa: F401
    sign, floor, ceil, round, isnan, isinf, isfinite, eq, ne, lt, le, gt, ge, logical_and,
    logical_or, logical_not)
from .ops.bitwise import (  # noqa: F401
    bitwise_and, bitwise_or, bitwise_xor, bitwise_not, bitwise_left_shift, bitwise_right_shift)
from .ops.elementwise import sub as subtract, mul as multiply  # noqa
from .ops.division import divide  # noqa
from .ops.relu_clamp import clip  # noqa
from .ops.reduce import sum, mean, prod, all, any, count_nonzero  # noqa: F401
from .ops.reduce_variance import var, std  # noqa: F401
from .ops.extrema import max, min, amax, amin, argmax, argmin  # noqa: F401
from .ops.softmax import logsumexp, softmax, log_softmax, _softmax_backward_data  # noqa: F401
from .ops.movement import flatten, unflatten, squeeze, unsqueeze, transpose, t  # noqa: F401
from .ops.movement_copies import clone  # noqa: F401
from .ops._function_forms import reshape, permute  # noqa: F401
from .ops.stacking import cat, stack, split, chunk, unbind  # noqa: F401
from .ops.sequence_more import flip  # noqa: F401
from .ops.stacking import narrow, select  # noqa: F401
from .ops._cat_names import concat, concatenate  # noqa: F401
from .ops.movement import transpose as swapaxes  # noqa: F401
from .ops.matmul import matmul  # noqa: F401
from .ops.inplace import zero_, resize_as_  # noqa: F401
from .ops.matmul import mm, bmm, mv  # noqa: F401

from .version import __version__  # noqa: E402,F401  (one place: minigrad/version.py)
from .ops.tensor_predicates import broadcast_to, is_floating_point, numel  # noqa: E402,F401

from .autograd import functional as _autograd_functional  # noqa: E402,F401  (vjp, hessian...)
from . import nn, optim, utils  # noqa: E402,F401
from . import distributions  # noqa: E402,F401
from .serialization import save, load  # noqa: E402,F401
from .nn.functional import conv1d, conv2d, conv_transpose1d, conv_transpose2d  # noqa: E402,F401
from .summary import summary  # noqa: E402,F401
from .layer_profile import profile  # noqa: E402,F401  (minigrad's per-layer table)
from . import profiler  # noqa: E402,F401  (torch.profiler)
from . import explain, viz  # noqa
from . import sparse  # noqa: E402,F401  (torch.sparse: mm, addmm, sum)
from ._sparse_coo import spmm  # noqa: E402,F401
from .sparse import _hspmm as hspmm  # noqa: E402,F401
from ._sparse_factories import sparse_coo_tensor, sparse_csr_tensor  # noqa: E402,F401
from ._sparse_factories import (  # noqa: E402,F401  (torch_geometric's index2ptr uses them)
    _convert_indices_from_coo_to_csr, _convert_indices_from_csr_to_coo)
# round 7 (part C): torch-level constants, nn forms with aten signatures, windows, settings
from math import e, inf, nan, pi  # noqa: E402,F401
newaxis = None
from ._torch_nn_exports import (  # noqa: E402,F401
    dropout, feature_dropout, alpha_dropout, feature_alpha_dropout, native_dropout, embedding,
    layer_norm, group_norm, instance_norm, batch_norm, native_layer_norm, native_batch_norm,
    native_group_norm, max_pool1d, max_pool2d, max_pool3d, max_pool1d_with_indices, avg_pool1d,
    adaptive_avg_pool1d, adaptive_max_pool1d, pixel_shuffle, pixel_unshuffle, channel_shuffle,
    native_channel_shuffle, prelu, rrelu, threshold, hardshrink, cosine_similarity,
    pairwise_distance, pdist, kl_div, cosine_embedding_loss, hinge_embedding_loss,
    margin_ranking_loss, triplet_margin_loss, poisson_nll_loss, binary_cross_entropy_with_logits,
    ctc_loss, conv3d, conv_transpose3d, convolution, conv_tbc, bilinear, rms_norm,
    affine_grid_generator, grid_sampler, grid_sampler_2d, grid_sampler_3d)
from ._windows import (  # noqa: E402,F401
    hann_window, hamming_window, blackman_window, bartlett_window, kaiser_window)
from ._global_flags import (  # noqa: E402,F401
    use_deterministic_algorithms, are_deterministic_algorithms_enabled,
    is_deterministic_algorithms_warn_only_enabled, set_deterministic_debug_mode,
    get_deterministic_debug_mode, set_float32_matmul_precision, get_float32_matmul_precision,
    get_num_interop_threads, set_num_interop_threads, set_anomaly_enabled, is_anomaly_enabled,
    is_anomaly_check_nan_enabled, set_warn_always, is_warn_always_enabled, set_flush_denormal,
    is_inference_mode_enabled, is_inference, is_complex, is_storage, typename, get_device)
from ._asarray import asarray, frombuffer  # noqa: E402,F401
from ._vmap import vmap  # noqa: E402,F401
from . import signal, version, random  # noqa: E402,F401

# Breadth (issue #15): the rest of PyTorch's everyday functions
from .ops.trig import (  # noqa: E402,F401
    tan, asin, acos, atan, atan2, sinh, cosh, asinh, acosh, atanh, arcsin, arccos, arctan,
    arctan2, arcsinh, arccosh, arctanh)
from .ops.activation import erf, selu, celu  # noqa: E402,F401
from .ops.scatter_gather import (  # noqa: E402,F401
    gather, scatter, scatter_add, index_select, index_add, take_along_dim)
from .ops.masked_fill import masked_fill  # noqa: E402,F401
from .ops.sorting import sort, argsort, msort, topk, cumsum, cumprod  # noqa: E402,F401
from .ops.scatter_reduce import scatter_reduce, index_copy, index_fill, take  # noqa: E402,F401
from .ops.selection import (  # noqa: E402,F401
    aminmax, kthvalue, median, nanmedian, mode, nansum, nanmean)
from .ops.shaping import (  # noqa: E402,F401
    movedim, moveaxis, tril, triu, diag, outer, ger, repeat_interleave, roll, diagonal, tile)
from .ops.contraction import einsum, dot, inner  # noqa: E402,F401
from .ops.norms import norm  # noqa: E402,F401
from .ops.weight_norm_parts import norm_except_dim, _weight_norm  # noqa: E402,F401
from .ops.statistics import var_mean, std_mean  # noqa: E402,F401
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
from ._range_factories import logspace, tril_indices, triu_indices  # noqa: E402,F401
from .creation import scalar_tensor  # noqa: E402,F401
from ._sampling import normal  # noqa: E402,F401
from ._private_sampling import _sample_dirichlet, _standard_gamma  # noqa: E402,F401
from .ops.sampling_round8 import (  # noqa: E402,F401
    bernoulli, binomial, empty_strided, empty_permuted)
from .autograd import inference_mode  # noqa: E402,F401
from ._settings import set_printoptions, set_default_device, get_default_device  # noqa: E402,F401
from . import functional, linalg, backends  # noqa: E402,F401
from .ops.pointwise_more import (  # noqa: E402,F401
    copysign, hypot, logaddexp, logaddexp2, xlogy, float_power, floor_divide, true_divide,
    deg2rad, rad2deg, heaviside, nextafter, signbit, positive)
from .ops.pointwise_smooth import logit, sinc, expm1  # noqa: E402,F401
from .ops.products import (  # noqa: E402,F401
    addmm, addmv, addr, addbmm, baddbmm, addcmul, addcdiv, kron, cross, cdist, dist, vdot,
    block_diag)
from .ops.sequence_more import (  # noqa: E402,F401
    diff, fliplr, flipud, rot90, diag_embed, diagflat, trapezoid, trapz, cumulative_trapezoid,
    vander, cartesian_prod, combinations, renorm, argwhere, ravel)
from .ops.statistics import (  # noqa: E402,F401
    cov, corrcoef, quantile, nanquantile, histc, histogram)
from .ops.sorted_search import searchsorted, bucketize, isin  # noqa: E402,F401
from .ops.solve import inv as inverse  # noqa: E402,F401
from .ops.triangular_solve import triangular_solve, cholesky_solve  # noqa: E402,F401
from .ops.determinant import det, torch_slogdet as slogdet, logdet  # noqa: E402,F401
from .ops.decompositions import torch_cholesky as cholesky, torch_svd as svd  # noqa: E402,F401
from .ops.pseudo_inverse import pinverse  # noqa: E402,F401
from .ops.matrix_functions import (  # noqa: E402,F401
    matrix_power, matrix_exp, householder_product as orgqr)
from .ops.lu import torch_lu as lu, lu_unpack, torch_lu_solve as lu_solve  # noqa: E402,F401
from .ops.householder_qr import torch_qr as qr, geqrf, ormqr  # noqa: E402,F401
from .ops.lowrank import svd_lowrank, pca_lowrank  # noqa: E402,F401
from ._storage import (  # noqa: E402,F401
    TypedStorage, UntypedStorage, FloatStorage, DoubleStorage, HalfStorage, ByteStorage,
    CharStorage, ShortStorage, IntStorage, LongStorage, BoolStorage, ComplexFloatStorage,
    ComplexDoubleStorage)
from ._removed_api import (  # noqa: E402,F401
    matrix_rank, solve, lstsq, eig, symeig, range, set_default_tensor_type)
from ._tensor_extras import (  # noqa: E402,F401
    from_dlpack, to_dlpack, sym_int, sym_float, sym_max, sym_min, sym_not, sym_sqrt, sym_ite,
    sym_sum, compiled_with_cxx11_abi, _assert)
from .ops.type_info import finfo, iinfo  # noqa: E402,F401
from . import special  # noqa: E402,F401
from . import masked  # noqa: E402,F401
from .ops.special_functions import (  # noqa: E402,F401
    lgamma, digamma, polygamma, mvlgamma, erfc, erfinv, i0, igamma, igammac)
from .ops.integer_math import gcd, gcd_, lcm, lcm_, ldexp, frexp  # noqa: E402,F401
from .ops.type_promotion import result_type, promote_types, can_cast  # noqa: E402,F401
from .ops.sampling_more import multinomial, poisson, randint_like  # noqa: E402,F401
from .ops.fake_quantize import (  # noqa: E402,F401
    fake_quantize_per_tensor_affine, fake_quantize_per_channel_affine)
from .ops.axis_splits import hsplit, vsplit, dsplit  # noqa: E402,F401
from .ops.conjugation import (  # noqa: E402,F401
    conj, conj_physical, conj_physical_, resolve_conj, resolve_neg, is_conj, is_neg, adjoint)
from .ops.strided import as_strided, narrow_copy  # noqa: E402,F401
from .ops.index_reduce import index_reduce  # noqa: E402,F401
from .ops.view_copies import (  # noqa: E402,F401
    alias_copy, as_strided_copy, detach_copy, diagonal_copy, expand_copy, permute_copy,
    select_copy, slice_copy, split_copy, split_with_sizes_copy, squeeze_copy, t_copy,
    transpose_copy, unbind_copy, unfold_copy, unsqueeze_copy, view_copy, split_with_sizes,
    unsafe_chunk, unsafe_split, unsafe_split_with_sizes, diagonal_scatter, select_scatter,
    slice_scatter, as_strided_scatter, constant_pad_nd)
from .ops.index_put import index_put, index_put_, put  # noqa: E402,F401
from .ops.pointwise_round7 import (  # noqa: E402,F401
    rsub, fmax, fmin, isposinf, isneginf, fill, fill_, detach, detach_)
from .ops.complex_numbers import (  # noqa: E402,F401
    real, imag, isreal, angle, sgn, view_as_real, view_as_complex, complex, polar)
from .ops.matrix_round7 import (  # noqa: E402,F401
    trace, chain_matmul, cholesky_inverse, frobenius_norm, nuclear_norm, embedding_renorm_)
from .ops.numeric_grid import (  # noqa: E402,F401
    gradient, histogramdd, unravel_index, nonzero_static)
# round 7: the in-place functions torch exports, aliases and tensor predicates
from .ops.inplace_pointwise import (  # noqa: E402,F401
    abs_, acos_, acosh_, asin_, asinh_, atan_, atanh_, arccos_, arccosh_, arcsin_, arcsinh_,
    arctan_, arctanh_, ceil_, floor_, round_, trunc_, fix_, frac_, cos_, cosh_, sin_, sinh_,
    sinc_, tan_, tanh_, exp_, exp2_, expm1_, log_, log10_, log1p_, log2_, sqrt_, rsqrt_,
    square_, sigmoid_, neg_, negative_, erf_, erfc_, i0_, logit_, deg2rad_, rad2deg_, xlogy_,
    reciprocal_, addmv_, clamp_, clamp_ as clip_, clamp_min_, clamp_max_)
from .ops.inplace_views import as_strided_  # noqa: E402,F401
from .ops.inplace import relu_  # noqa: E402,F401
from .ops.integer_math import ldexp_  # noqa: E402,F401
from .ops.elementwise import neg as negative  # noqa: E402,F401
from .ops.elementary_functions import abs as absolute  # noqa: E402,F401
from .ops.movement import transpose as swapdims  # noqa: E402,F401
from .ops.compare import (  # noqa: E402,F401
    greater, greater_equal, less, less_equal, not_equal)
from .ops.tensor_predicates import (  # noqa: E402,F401
    reciprocal, logical_xor, is_signed, is_nonzero, is_same_size)
from .nn.functional import rrelu_, threshold_  # noqa: E402,F401
from .nn._functional_grouped_mm import _grouped_mm  # noqa: E402,F401  (MoE code calls it)
from .nn._functional_inplace import (  # noqa: E402,F401
    celu_, selu_, dropout_, alpha_dropout_, feature_alpha_dropout_, feature_dropout_)
from ._tensor_methods import _torch_args  # noqa: E402
from . import _tensor_input  # noqa: E402

# PyTorch's keyword spellings on the top-level functions: torch.sum(x, axis=1, keepdims=True),
# torch.matmul(input=a, other=b), torch.add(a, b, out=c)
for _name in ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "matmul", "mm", "bmm",
              "mv", "sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "var",
              "std", "logsumexp", "softmax", "log_softmax", "all", "any", "count_nonzero",
              "exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "atan2", "gather",
              "index_select", "sort", "argsort", "topk", "cumsum", "cumprod", "norm",
              "var_mean", "std_mean", "subtract", "multiply", "divide", "clamp", "clip",
              "clamp_min", "clamp_max",
              "where", "cat", "concat", "concatenate", "stack", "flatten", "reshape", "transpose",
              "permute", "squeeze", "unsqueeze", "dot", "outer", "tril", "triu", "kthvalue",
              "median", "nanmedian", "mode", "nansum", "nanmean", "take", "nan_to_num", "fmod"):
    globals()[_name] = _torch_args(globals()[_name])
for _name in ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift",
              "bitwise_right_shift"):
    globals()[_name] = _torch_args(globals()[_name])
# ... and out= on every other function that PyTorch gives it (torch.erf(x, out=y),
# torch.linalg.inv(a, out=b): minigrad.linalg, .special and .fft do the same)
for _name in ("absolute", "acos", "acosh", "addbmm", "addcdiv", "addcmul", "addmm", "addmv",
              "addr", "alias_copy", "aminmax", "angle", "arccos", "arccosh", "arcsin",
              "arcsinh", "arctan", "arctan2", "arctanh", "as_strided_copy", "asin", "asinh",
              "atan", "atanh", "baddbmm", "bernoulli", "bucketize", "ceil", "chain_matmul",
              "cholesky", "cholesky_inverse", "cholesky_solve", "column_stack", "complex",
              "conj_physical", "copysign", "cosh", "cross", "cummax", "cummin", "deg2rad",
              "detach_copy", "diag", "diagonal_copy", "diff", "digamma", "dstack", "eq",
              "erf", "erfc", "erfinv", "exp2", "expand_copy", "expm1", "fix", "float_power",
              "floor", "floor_divide", "fmax", "fmin", "frac", "frexp", "frobenius_norm",
              "gcd", "ge", "geqrf", "ger", "greater", "greater_equal", "gt", "hardshrink",
              "heaviside", "histc", "histogram", "histogramdd", "hstack", "hypot", "i0",
              "igamma", "igammac", "index_add", "index_copy", "index_reduce", "inner",
              "inverse", "isin", "isneginf", "isposinf", "kron", "lcm", "ldexp", "le", "lerp",
              "less", "less_equal", "lgamma", "log10", "log1p", "log2", "logaddexp",
              "logaddexp2", "logcumsumexp", "logical_and", "logical_not", "logical_or",
              "logical_xor", "logit", "lt", "lu", "lu_solve", "lu_unpack", "masked_select",
              "matrix_power", "msort", "mvlgamma", "nanquantile",
              "narrow_copy", "ne", "neg", "negative", "nextafter", "nonzero",
              "nonzero_static", "normal", "not_equal", "nuclear_norm", "ormqr",
              "permute_copy", "polar", "polygamma", "qr", "quantile", "rad2deg", "reciprocal",
              "remainder", "renorm", "round", "row_stack", "rsqrt", "scatter", "scatter_add",
              "scatter_reduce", "searchsorted", "select_copy", "sgn", "sign", "signbit",
              "sinc", "sinh", "slice_copy", "slice_scatter", "slogdet", "square",
              "squeeze_copy", "svd", "t_copy", "take_along_dim", "tan", "tensordot",
              "threshold", "transpose_copy", "triangular_solve", "true_divide", "trunc",
              "unfold_copy", "unsqueeze_copy", "vdot", "view_copy", "vstack", "xlogy"):
    globals()[_name] = _torch_args(globals()[_name])
# ... and the others whose arguments' TypeErrors are worded for the call (position, overloads)
from . import _tensor_methods_words  # noqa: E402,F401  (the same for the Tensor methods)
from ._argument_words import worded as _worded  # noqa: E402
for _name in ("narrow", "select", "movedim", "moveaxis", "swapdims", "unbind",
              "roll", "diagonal", "chunk", "repeat_interleave", "unflatten", "clamp_", "clip_"):
    globals()[_name] = _worded(globals()[_name], False, _name)
swapaxes = _worded(swapaxes, False, "swapaxes", _tensor_methods_words.SWAPAXES)  # noqa: F405
for _name in _tensor_methods_words.NUMPY_NAMED:     # axis= / keepdims= on the others with a dim
    if _name in globals():
        globals()[_name] = _tensor_methods_words.numpy_names(globals()[_name])
del _name
from . import testing  # noqa: E402,F401  (torch.testing.assert_close, make_tensor)
from . import types  # noqa: E402,F401  (torch.types: Number, Device, ...)
# round 8 (part C): torch.jit names run eagerly, mixed precision, torch.cond
from . import jit, amp, cpu  # noqa: E402,F401
from . import hub  # noqa: E402,F401  (torch.hub: load_state_dict_from_url, hub.load)
# torch.distributed (a world of one process), torch.multiprocessing, torch.compiler
from . import distributed, multiprocessing, compiler  # noqa: E402,F401
from .compiler import compile  # noqa: E402,F401,A004  (torch.compile)
# torch.accelerator: the device-neutral questions (minigrad's one accelerator is CUDA)
from . import accelerator  # noqa: E402,F401
from .amp import autocast, GradScaler  # noqa: E402,F401
from .amp.autocast_mode import (  # noqa: E402,F401
    is_autocast_enabled, set_autocast_enabled, get_autocast_dtype, set_autocast_dtype,
    is_autocast_cpu_enabled, set_autocast_cpu_enabled, get_autocast_cpu_dtype,
    set_autocast_cpu_dtype, get_autocast_gpu_dtype, set_autocast_gpu_dtype,
    is_autocast_cache_enabled, set_autocast_cache_enabled, clear_autocast_cache,
    autocast_increment_nesting, autocast_decrement_nesting)
from ._control_flow import cond, while_loop  # noqa: E402,F401
from . import func  # noqa: E402,F401  (torch.func: grad, vjp, jacrev, functional_call)
from . import fft  # noqa: E402,F401
from .ops.spectral import stft, istft  # noqa: E402,F401
from .ops.foreach import *  # noqa: E402,F401,F403  (torch._foreach_mul_ and the rest)
# torch.overrides (__torch_function__ for functions that ask), torch.storage, torch.library
# (custom_op), torch._dynamo (config and the compiler's names; code runs eagerly)
from . import overrides, storage, library, _dynamo  # noqa: E402,F401
from . import _C  # noqa: E402,F401  (DisableTorchFunctionSubclass and the like)
from . import return_types  # noqa: E402,F401  (torch.return_types: max, sort, linalg_qr, ...)
# the rest of torch's top-level names that library code reaches for: the other device modules,
# the device errors, the symbolic types of isinstance checks, the kernel-level nn forms
# (lstm, gru, embedding_bag, ...), segment_reduce, from_file, Event/Stream, the build flags
from . import torch_version, mps, xpu, mtia, quasirandom  # noqa: E402,F401
from ._device_modules import get_device_module  # noqa: E402,F401
from ._device_errors import OutOfMemoryError, AcceleratorError  # noqa: E402,F401
from ._symbolic_types import SymInt, SymFloat, SymBool  # noqa: E402,F401
from ._storage import FloatStorage as Storage  # noqa: E402,F401  (torch.Storage)
from .nn._functional_rnn import (  # noqa: E402,F401
    lstm, gru, rnn_tanh, rnn_relu, lstm_cell, gru_cell, rnn_tanh_cell, rnn_relu_cell)
from .nn._embedding_bag_outputs import embedding_bag  # noqa: E402,F401
from .ops.segment_reduce import segment_reduce  # noqa: E402,F401
from .ops.aten_extras import (  # noqa: E402,F401
    hash_tensor, _chunk_cat, _unsafe_masked_index, _unsafe_masked_index_put_accumulate)
from ._batch_norm_legit import _native_batch_norm_legit  # noqa: E402,F401
from ._from_file import from_file  # noqa: E402,F401
from ._streams import Event, Stream  # noqa: E402,F401
has_lapack = has_spectral = True        # numpy's LAPACK; minigrad.fft
has_mkl = backends.mkl.is_available()
has_openmp = backends.openmp.is_available()

# PyTorch's TypeError for a number, list or array where its function takes a Tensor first
# (torch.eq(2, t), torch.abs([1, 2])); torch.pow(2, t) and torch.add(2, t) still compute
# (and a sparse COO tensor there runs the function's sparse form, ``_sparse_coo_ops``)
for _name in _tensor_input.NAMES:
    globals()[_name] = _tensor_input.guarded(globals()[_name], _name,
                                             _sparse_coo_ops.function_form)
del _name

# PyTorch dtypes minigrad does not have (numpy has no complex32; quantized and sub-byte
# tensors are not supported): naming one says so, rather than a bare "no attribute"
_MISSING_DTYPES = {"complex32": "use minigrad.complex64",
                   "chalf": "use minigrad.complex64"}


def __getattr__(name):
    if name in _MISSING_DTYPES:
        raise AttributeError(f"module 'minigrad' has no attribute '{name}': minigrad has no "
                             f"{name} dtype ({_MISSING_DTYPES[name]})")
    raise AttributeError(f"module 'minigrad' has no attribute '{name}'")
