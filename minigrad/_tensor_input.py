"""PyTorch's TypeError for a first argument that is not a Tensor (``torch.eq(2, t)``).

Where every signature PyTorch gives a function takes a ``Tensor`` first, a Python number, a list
or an array there is refused before any work, in PyTorch's words.  A function of one signature
names the argument (``abs(): argument 'input' (position 1) must be Tensor, not int``); one of
several signatures lists them (``eq() received an invalid combination of arguments - got
(int, Tensor), but expected one of: ...``, with PyTorch's "didn't match because ..." under a
signature that takes as many arguments as were given), except where the count of arguments
fits exactly one, which PyTorch then names as for one signature.  A function of one signature
whose second parameter is a Tensor too (``atan2``, ``logical_and``, ``dot``) refuses a number
there as well.  Where some signature takes a number first (``torch.pow(2, t)``,
``torch.add(2, t)``) or the numbers come later (``torch.where(c, 1, 2)``) nothing changes.

``guarded(fn, name)`` wraps the function ``minigrad.<name>``; a call whose first argument is a
Tensor costs one ``isinstance`` more (two for the functions of ``_SECOND``).
"""
from __future__ import annotations

import functools

from ._argument_error import refuse_numpy_dtype
from ._parser_emulation import raise_reworded
from ._parser_message import _PRINTED, _combination, _type_name, described
from ._torch_function import NOT_OFFERED, offer_refused
from .tensor import Tensor

__all__ = ["guarded", "described", "NAMES"]

# one signature, whose first parameter is the Tensor ``input``
_ONE = frozenset("""
abs abs_ absolute acos acos_ acosh acosh_ adaptive_avg_pool1d adaptive_max_pool1d addbmm addcdiv
addcmul addmv addmv_ addr adjoint alias_copy allclose alpha_dropout alpha_dropout_ amax amin
aminmax angle arccos arccos_ arccosh arccosh_ arcsin arcsin_ arcsinh arcsinh_ arctan arctan2
arctan_ arctanh arctanh_ argmax argmin argwhere as_strided as_strided_ as_strided_copy
as_strided_scatter asin asin_ asinh asinh_ atan atan2 atan_ atanh atanh_ avg_pool1d batch_norm
binary_cross_entropy_with_logits bincount bitwise_not broadcast_to ceil ceil_ celu celu_
channel_shuffle cholesky cholesky_inverse cholesky_solve chunk clone combinations conj
conj_physical conj_physical_ constant_pad_nd conv_tbc conv_transpose1d conv_transpose2d
conv_transpose3d convolution corrcoef cos cos_ cosh cosh_ cov cross cummax cummin cumprod cumsum
deg2rad deg2rad_ det detach detach_ detach_copy diag diag_embed diagflat diagonal diagonal_copy
diagonal_scatter diff digamma dist dot dropout dropout_ embedding_renorm_ empty_like equal erf
erf_ erfc erfc_ erfinv exp exp2 exp2_ exp_ expand_copy expm1 expm1_ feature_alpha_dropout
feature_alpha_dropout_ feature_dropout feature_dropout_ fix fix_ flatten flip fliplr flipud
floor floor_ fmax fmin frac frac_ frexp frobenius_norm full_like gather gcd gcd_ geqrf ger
grid_sampler grid_sampler_2d grid_sampler_3d group_norm hardshrink heaviside
hinge_embedding_loss histc hypot i0 i0_ igamma igammac imag index_add index_copy index_put
index_put_ index_reduce index_select inner instance_norm inverse is_complex is_conj
is_floating_point is_inference is_neg is_nonzero is_same_size is_signed isclose isfinite isinf
isnan isneginf isposinf isreal istft kl_div kron kthvalue layer_norm lcm lcm_ ldexp ldexp_
lgamma log log10 log10_ log1p log1p_ log2 log2_ log_ log_softmax logaddexp logaddexp2
logcumsumexp logdet logical_and logical_not logical_or logical_xor logit logit_ logsumexp
lu_solve masked_scatter masked_select matmul matrix_exp matrix_power max_pool1d
max_pool1d_with_indices max_pool2d max_pool3d maximum minimum mode msort multinomial mv mvlgamma
nan_to_num nan_to_num_ nanmean nansum narrow_copy native_batch_norm native_channel_shuffle
native_dropout native_group_norm native_layer_norm neg neg_ negative negative_ nextafter nonzero
nonzero_static numel ones_like orgqr ormqr outer pdist permute permute_copy pinverse
pixel_shuffle pixel_unshuffle poisson poisson_nll_loss positive prelu put qr rad2deg rad2deg_
ravel real reciprocal reciprocal_ relu relu_ renorm reshape resize_as_ resolve_conj resolve_neg
rms_norm roll rot90 rrelu rrelu_ rsqrt rsqrt_ scatter_add scatter_reduce select select_copy
select_scatter selu selu_ sgn sigmoid sigmoid_ sign signbit sin sin_ sinc sinc_ sinh sinh_
slice_copy slice_scatter slogdet softmax split_copy split_with_sizes split_with_sizes_copy sqrt
sqrt_ square square_ svd swapaxes swapdims t t_copy take take_along_dim tan tan_ tanh tanh_
threshold threshold_ tile topk trace transpose transpose_copy triangular_solve tril triu trunc
trunc_ unbind unbind_copy unflatten unfold_copy unsafe_chunk unsafe_split
unsafe_split_with_sizes unsqueeze unsqueeze_copy vdot view_as_complex view_as_real zero_
zeros_like
""".split())

# the first parameter's name where it is not ``input``; the name PyTorch prints where it is
# not the function's own
_FIRST_PARAM = {
    "affine_grid_generator": "theta", "bilinear": "input1", "binomial": "count",
    "complex": "real", "cosine_embedding_loss": "input1", "cosine_similarity": "x1",
    "embedding": "weight", "lu_unpack": "LU_data", "margin_ranking_loss": "input1",
    "pairwise_distance": "x1", "polar": "abs", "to_dlpack": "data",
    "triplet_margin_loss": "anchor", "vander": "x",
}

# functions of one signature whose second parameter is a Tensor too (``atan2(t, 2)`` is
# refused): ``other``, or the name given
_SECOND = dict.fromkeys("""
allclose arctan2 atan2 cross dist equal fmax fmin gcd gcd_ hypot igamma igammac inner
is_same_size isclose kron lcm lcm_ ldexp ldexp_ logaddexp logaddexp2 logical_and logical_or
logical_xor matmul maximum minimum nextafter vdot
""".split(), "other")
_SECOND.update({
    "as_strided_scatter": "src", "bilinear": "input2", "binomial": "prob",
    "binary_cross_entropy_with_logits": "target", "cholesky_solve": "input2",
    "complex": "imag", "conv_tbc": "weight", "conv_transpose1d": "weight",
    "conv_transpose2d": "weight", "conv_transpose3d": "weight", "convolution": "weight",
    "cosine_embedding_loss": "input2", "cosine_similarity": "x2", "diagonal_scatter": "src",
    "dot": "tensor", "embedding": "indices", "embedding_renorm_": "indices", "ger": "vec2",
    "grid_sampler": "grid", "grid_sampler_2d": "grid", "grid_sampler_3d": "grid",
    "heaviside": "values", "hinge_embedding_loss": "target", "kl_div": "target",
    "lu_solve": "LU_data", "lu_unpack": "LU_pivots", "margin_ranking_loss": "input2",
    "masked_scatter": "mask", "masked_select": "mask", "mv": "vec", "orgqr": "input2",
    "ormqr": "input2", "outer": "vec2", "pairwise_distance": "x2",
    "poisson_nll_loss": "target", "polar": "angle", "prelu": "weight", "put": "index",
    "resize_as_": "the_template", "select_scatter": "src", "slice_scatter": "src",
    "take": "index", "take_along_dim": "indices", "triangular_solve": "A",
    "triplet_margin_loss": "positive",
})

# several signatures, each taking a Tensor first, as PyTorch lists them ({O}: the ``out``
# keyword, {F}: a factory's keywords)
_MANY = {
    "addmm": (
        "Tensor input, Tensor mat1, Tensor mat2, *, Number beta = 1, Number alpha = 1, "
        "Tensor out = None",
        "Tensor input, Tensor mat1, Tensor mat2, torch.dtype out_dtype, *, Number beta = 1, "
        "Number alpha = 1, Tensor out = None",
    ),
    "all any": (
        "Tensor input, {O}",
        "Tensor input, tuple of ints dim = None, bool keepdim = False, {O}",
        "Tensor input, int dim, bool keepdim = False, {O}",
    ),
    "argsort": (
        "Tensor input, *, bool stable, int dim = -1, bool descending = False, Tensor out = None",
        "Tensor input, int dim = -1, bool descending = False",
    ),
    "baddbmm": (
        "Tensor input, Tensor batch1, Tensor batch2, *, Number beta = 1, Number alpha = 1, "
        "Tensor out = None",
        "Tensor input, Tensor batch1, Tensor batch2, torch.dtype out_dtype, *, Number beta = 1, "
        "Number alpha = 1, Tensor out = None",
    ),
    "bernoulli": (
        "Tensor input, *, torch.Generator generator = None, Tensor out = None",
        "Tensor input, float p, *, torch.Generator generator = None",
    ),
    "bmm mm spmm": (
        "Tensor input, Tensor mat2, {O}",
        "Tensor input, Tensor mat2, torch.dtype out_dtype, {O}",
    ),
    "clamp clip": (
        "Tensor input, Tensor min = None, Tensor max = None, {O}",
        "Tensor input, Number min = None, Number max = None, {O}",
    ),
    "clamp_ clip_": (
        "Tensor input, Tensor min = None, Tensor max = None",
        "Tensor input, Number min = None, Number max = None",
    ),
    "clamp_max": (
        "Tensor input, Tensor max, {O}",
        "Tensor input, Number max, {O}",
    ),
    "clamp_max_": (
        "Tensor input, Tensor max",
        "Tensor input, Number max",
    ),
    "clamp_min": (
        "Tensor input, Tensor min, {O}",
        "Tensor input, Number min, {O}",
    ),
    "clamp_min_": (
        "Tensor input, Tensor min",
        "Tensor input, Number min",
    ),
    "conv1d conv2d conv3d": (
        "Tensor input, Tensor weight, Tensor bias = None, tuple of ints stride = 1, "
        "tuple of ints padding = 0, tuple of ints dilation = 1, int groups = 1",
        "Tensor input, Tensor weight, Tensor bias = None, tuple of ints stride = 1, "
        'str padding = "valid", tuple of ints dilation = 1, int groups = 1',
    ),
    "copysign eq fmod ge greater greater_equal gt le less less_equal lt ne not_equal": (
        "Tensor input, Tensor other, {O}",
        "Tensor input, Number other, {O}",
    ),
    "count_nonzero": (
        "Tensor input, int dim = None",
        "Tensor input, tuple of ints dim",
    ),
    "ctc_loss": (
        "Tensor log_probs, Tensor targets, tuple of ints input_lengths, "
        "tuple of ints target_lengths, int blank = 0, int reduction = at::Reduction::Mean, "
        "bool zero_infinity = False",
        "Tensor log_probs, Tensor targets, Tensor input_lengths, Tensor target_lengths, "
        "int blank = 0, int reduction = at::Reduction::Mean, bool zero_infinity = False",
    ),
    "cumulative_trapezoid trapezoid": (
        "Tensor y, Tensor x, *, int dim = -1",
        "Tensor y, *, Number dx = 1, int dim = -1",
    ),
    "dsplit hsplit vsplit": (
        "Tensor input, int sections",
        "Tensor input, tuple of ints indices",
    ),
    "fill fill_": (
        "Tensor input, Tensor value",
        "Tensor input, Number value",
    ),
    "gradient": (
        "Tensor input, *, tuple of ints dim, int edge_order = 1",
        "Tensor input, *, Number spacing, tuple of ints dim, int edge_order = 1",
        "Tensor input, *, Number spacing = None, int dim = None, int edge_order = 1",
        "Tensor input, *, tuple of Scalars spacing, int dim = None, int edge_order = 1",
        "Tensor input, *, tuple of Scalars spacing, tuple of ints dim, int edge_order = 1",
        "Tensor input, *, tuple of Tensors spacing, int dim = None, int edge_order = 1",
        "Tensor input, *, tuple of Tensors spacing, tuple of ints dim, int edge_order = 1",
    ),
    "histogram": (
        "Tensor input, Tensor bins, *, Tensor weight = None, bool density = False, "
        "tuple of Tensors out = None",
        "Tensor input, int bins = 100, *, tuple of floats range = None, Tensor weight = None, "
        "bool density = False, tuple of Tensors out = None",
    ),
    "histogramdd": (
        "Tensor input, int bins, tuple of floats range = None, Tensor weight = None, "
        "bool density = False",
        "Tensor input, tuple of ints bins, tuple of floats range = None, Tensor weight = None, "
        "bool density = False",
        "Tensor input, tuple of Tensors bins, tuple of floats range = None, Tensor weight = None, "
        "bool density = False",
    ),
    "index_fill": (
        "Tensor input, int dim, Tensor index, Tensor value",
        "Tensor input, int dim, Tensor index, Number value",
    ),
    "lerp": (
        "Tensor input, Tensor end, Tensor weight, {O}",
        "Tensor input, Tensor end, Number weight, {O}",
    ),
    "masked_fill": (
        "Tensor input, Tensor mask, Tensor value",
        "Tensor input, Tensor mask, Number value",
    ),
    "max min": (
        "Tensor input, {O}",
        "Tensor input, Tensor other, {O}",
        "Tensor input, int dim, bool keepdim = False, *, tuple of Tensors out = None",
    ),
    "mean": (
        "Tensor input, *, torch.dtype dtype = None, Tensor out = None",
        "Tensor input, tuple of ints dim, bool keepdim = False, *, torch.dtype dtype = None, "
        "Tensor out = None",
    ),
    "median nanmedian": (
        "Tensor input",
        "Tensor input, int dim, bool keepdim = False, *, tuple of Tensors out = None",
    ),
    "moveaxis movedim": (
        "Tensor input, int source, int destination",
        "Tensor input, tuple of ints source, tuple of ints destination",
    ),
    "nanquantile quantile": (
        "Tensor input, Tensor q, int dim = None, bool keepdim = False, *, "
        'str interpolation = "linear", Tensor out = None',
        "Tensor input, float q, int dim = None, bool keepdim = False, *, "
        'str interpolation = "linear", Tensor out = None',
    ),
    "narrow": (
        "Tensor input, int dim, Tensor start, int length",
        "Tensor input, int dim, int start, int length",
    ),
    "nuclear_norm": (
        "Tensor input, tuple of ints dim, bool keepdim = False, {O}",
        "Tensor input, bool keepdim = False, {O}",
    ),
    "prod": (
        "Tensor input, *, torch.dtype dtype = None",
        "Tensor input, int dim, bool keepdim = False, *, torch.dtype dtype = None, "
        "Tensor out = None",
    ),
    "rand_like randn_like": (
        "Tensor input, *, torch.Generator generator, "
        "torch.memory_format memory_format = None, {F}",
        "Tensor input, *, torch.memory_format memory_format = None, {F}",
    ),
    "randint_like": (
        "Tensor input, int low, int high, *, torch.Generator generator, "
        "torch.memory_format memory_format = None, {F}",
        "Tensor input, int low, int high, *, torch.memory_format memory_format = None, {F}",
        "Tensor input, Tensor high, *, torch.Generator generator, "
        "torch.memory_format memory_format = None, {F}",
        "Tensor input, Tensor high, *, torch.memory_format memory_format = None, {F}",
        "Tensor input, int high, *, torch.Generator generator, "
        "torch.memory_format memory_format = None, {F}",
        "Tensor input, int high, *, torch.memory_format memory_format = None, {F}",
    ),
    "repeat_interleave": (
        "Tensor input, Tensor repeats, int dim = None, *, int output_size = None",
        "Tensor repeats, *, int output_size = None",
        "Tensor input, int repeats, int dim = None, *, int output_size = None",
    ),
    "round": (
        "Tensor input, {O}",
        "Tensor input, *, int decimals, Tensor out = None",
    ),
    "round_": (
        "Tensor input",
        "Tensor input, *, int decimals",
    ),
    "rsub": (
        "Tensor input, Tensor other, *, Number alpha = 1",
        "Tensor input, Number other, Number alpha = 1",
    ),
    "scatter": (
        "Tensor input, int dim, Tensor index, Tensor src, {O}",
        "Tensor input, int dim, Tensor index, Tensor src, *, str reduce, Tensor out = None",
        "Tensor input, int dim, Tensor index, Number value, {O}",
        "Tensor input, int dim, Tensor index, Number value, *, str reduce, Tensor out = None",
    ),
    "searchsorted": (
        "Tensor sorted_sequence, Tensor input, *, bool out_int32 = False, bool right = False, "
        "str side = None, Tensor sorter = None, Tensor out = None",
        "Tensor sorted_sequence, Number self, *, bool out_int32 = False, bool right = False, "
        "str side = None, Tensor sorter = None, Tensor out = None",
    ),
    "sort": (
        "Tensor input, *, bool stable, int dim = -1, bool descending = False, "
        "tuple of Tensors out = None",
        "Tensor input, int dim = -1, bool descending = False, *, tuple of Tensors out = None",
    ),
    "squeeze": (
        "Tensor input",
        "Tensor input, int dim",
        "Tensor input, tuple of ints dim",
    ),
    "squeeze_copy": (
        "Tensor input, {O}",
        "Tensor input, int dim, {O}",
        "Tensor input, tuple of ints dim, {O}",
    ),
    "std var": (
        "Tensor input, tuple of ints dim, bool unbiased = True, bool keepdim = False, {O}",
        "Tensor input, tuple of ints dim = None, *, Number correction = None, "
        "bool keepdim = False, Tensor out = None",
        "Tensor input, bool unbiased = True",
    ),
    "std_mean var_mean": (
        "Tensor input, tuple of ints dim, bool unbiased = True, bool keepdim = False",
        "Tensor input, tuple of ints dim = None, *, Number correction = None, "
        "bool keepdim = False",
        "Tensor input, bool unbiased = True",
    ),
    "sum": (
        "Tensor input, *, torch.dtype dtype = None",
        "Tensor input, tuple of ints dim, bool keepdim = False, *, torch.dtype dtype = None, "
        "Tensor out = None",
    ),
    "tensor_split": (
        "Tensor input, tuple of ints indices, int dim = 0",
        "Tensor input, Tensor tensor_indices_or_sections, int dim = 0",
        "Tensor input, int sections, int dim = 0",
    ),
    "trapz": (
        "Tensor y, *, float dx = 1, int dim = -1",
        "Tensor y, Tensor x, *, int dim = -1",
    ),
    "view_copy": (
        "Tensor input, torch.dtype dtype, {O}",
        "Tensor input, tuple of ints size, {O}",
    ),
    "where": (
        "Tensor condition",
        "Tensor condition, Tensor input, Tensor other, {O}",
        "Tensor condition, Number self, Tensor other",
        "Tensor condition, Tensor input, Number other",
        "Tensor condition, Number self, Number other",
    ),
    "xlogy_": (
        "Tensor input, Tensor other",
        "Tensor input, Number other",
    ),
}

_TAILS = {"O": "*, Tensor out = None",
          "F": "torch.dtype dtype = None, torch.layout layout = None, torch.device device = "
               "None, bool pin_memory = False, bool requires_grad = False"}
_SIGNATURES = {name: tuple(s.format(**_TAILS) for s in sigs)
               for names, sigs in _MANY.items() for name in names.split()}

# signatures of functions that take a number first when a Tensor follows (``torch.pow(2,
# t)``), as PyTorch lists them: two numbers are refused
_NUMBER_FIRST = {
    "pow float_power": (
        "Tensor input, Tensor exponent, {O}",
        "Number self, Tensor exponent, {O}",
        "Tensor input, Number exponent, {O}",
    ),
    "remainder bitwise_and bitwise_or bitwise_xor bitwise_left_shift bitwise_right_shift": (
        "Tensor input, Tensor other, {O}",
        "Number self, Tensor other",
        "Tensor input, Number other, {O}",
    ),
    "xlogy": (
        "Tensor input, Tensor other, {O}",
        "Number self, Tensor other, {O}",
        "Tensor input, Number other, {O}",
    ),
}
_NUMBER_FIRST = {name: tuple(s.format(**_TAILS) for s in sigs)
                 for names, sigs in _NUMBER_FIRST.items() for name in names.split()}
NAMES = _ONE | set(_FIRST_PARAM) | set(_SIGNATURES) | set(_NUMBER_FIRST)
_MISSING = object()


def _counts(signature):
    """The fewest and the most arguments ``signature`` takes (PyTorch counts keywords in)."""
    params = [p for p in signature.split(", ") if p != "*"]
    return sum(" = " not in p for p in params), len(params)


def _named(name, param, value, keyword, position=1):
    where = "" if keyword else f" (position {position})"
    return TypeError(f"{_PRINTED.get(name, name)}(): argument '{param}'{where} must be Tensor, "
                     f"not {_type_name(value)}")


def _refuse(name, args, kwargs):
    """Raise PyTorch's TypeError when the first argument of ``name`` is not a Tensor; return
    when it is one given by keyword, or is missing from a function of one signature (Python
    then says what is missing)."""
    signatures = _SIGNATURES.get(name)
    param = signatures[0].split(", ")[0].split()[-1] if signatures else \
        _FIRST_PARAM.get(name, "input")
    value = args[0] if args else kwargs.get(param, _MISSING)
    if isinstance(value, Tensor):
        return
    if signatures is None:
        if value is not _MISSING:
            raise _named(name, param, value, not args)
        return
    count = len(args) + len(kwargs)
    fitting = [s for s in signatures if _counts(s)[0] <= count <= _counts(s)[1]]
    if len(fitting) == 1 and value is not _MISSING:
        raise _named(name, fitting[0].split(", ")[0].split()[-1], value, not args)
    raise _combination(name, args, kwargs, signatures)


def guarded(fn, name, function_form=None):
    """``fn`` (the function ``minigrad.<name>``) refusing a first argument that is not a
    Tensor, and a second one where PyTorch's ``name`` takes a Tensor there too, as PyTorch
    does; ``fn`` itself where PyTorch takes other things first. ``function_form(name,
    args)``: what to run instead for operands that are Tensors of another layout (sparse
    COO: ``_sparse_coo_ops.function_form``), or None."""
    if name not in NAMES:
        return fn
    if name in _NUMBER_FIRST:
        @functools.wraps(fn)
        def call_numbers(*args, **kwargs):
            if not (any(isinstance(a, Tensor) for a in args[:2]) or
                    any(isinstance(v, Tensor) for v in kwargs.values())):
                offered = offer_refused(call_numbers, f"torch.{name}", args, kwargs)
                if offered is not NOT_OFFERED:
                    return offered          # a Tensor-like's __torch_function__ took it
                raise _combination(name, args, kwargs, _NUMBER_FIRST[name])
            if "out" in kwargs and args and not isinstance(args[0], Tensor) and \
                    "out" not in _NUMBER_FIRST[name][1]:
                raise _combination(name, args, kwargs, _NUMBER_FIRST[name])   # (no out= there)
            try:
                return fn(*args, **kwargs)
            except (TypeError, AttributeError) as exc:     # (the parser's words, where it
                raise_reworded(exc, call_numbers, args, kwargs, False, name)    # refuses the call)
                raise
        return call_numbers
    second = _SECOND.get(name)

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            if not (args and isinstance(args[0], Tensor)):
                offered = offer_refused(call, f"torch.{name}", args, kwargs)
                if offered is not NOT_OFFERED:
                    return offered          # a Tensor-like's __torch_function__ took it
                _refuse(name, args, kwargs)
            if second is not None and len(args) > 1 and not isinstance(args[1], Tensor):
                raise _named(name, second, args[1], False, position=2)
            if kwargs:
                refuse_numpy_dtype(kwargs)
            if function_form is not None and args and (
                    type(args[0]) is not Tensor or len(args) > 1 and
                    type(args[1]) is not Tensor and isinstance(args[1], Tensor)):
                form = function_form(name, args)        # a sparse COO operand
                if form is not None:
                    return form(*args, **kwargs)
            return fn(*args, **kwargs)
        except (TypeError, AttributeError) as exc:     # (the parser's words, where it
            raise_reworded(exc, call, args, kwargs, False, name)    # refuses the call)
            raise
    return call
