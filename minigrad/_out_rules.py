"""What PyTorch's ``out=`` refuses, op by op, as data: the ``out`` dtype an op requires exactly
(``gather(x, 0, i, out=float64)`` with a float32 ``x``) and the memory an ``out`` tensor may not
share with the inputs or with itself.

The rules are keyed by the name ``_tensor_methods._torch_args`` reaches the op by: the
function's own ``__name__`` (mapped by ``OUT_NAMES``), with ``.dim`` appended for the
(values, indices) form of ``max(x, dim)`` and friends and ``.Tensor`` for a clamp with tensor
bounds.  A dtype rule is a function of the result's and ``out``'s scalar type names
(``'Float'``, ``'Double'``) giving PyTorch's message (None for an ``out`` dtype it takes after
all), or a tuple of them, one per output; the ops not listed take any ``out`` dtype their
result can be cast to.

Overlap, as PyTorch's kernels check it (``check_overlap``, ``check_self_overlap``):

* an ``out`` of which several elements share one memory location (an expanded tensor) is
  refused, except by the ops of ``SELF_OVERLAP_OK``; the ops of
  ``RESIZED_BEFORE_SELF_OVERLAP`` (cat) resize it first, so one of another shape than the
  result is new memory and no longer overlaps itself;
* an ``out`` sharing any memory with an input is refused by the ops of ``NO_OVERLAP``
  (gather, index_select, cat, ...), even when it is that input;
* an ``out`` sharing part of an input's memory (not all of it, laid out alike) is refused by
  the elementwise ops of ``NO_PARTIAL_OVERLAP``, which accept ``torch.add(a, b, out=a)``.

Where PyTorch cannot tell cheaply (a tensor that is not dense, or steps backwards) it does not
refuse, and neither does minigrad.
"""
from __future__ import annotations

from . import _memory_format as mf
from .ops.inplace import _room_in_base
from .ops.write_overlap import FULL_OVERLAP, INPUT_OVERLAP, PARTIAL_OVERLAP, memory_overlap
from .tensor import Tensor

__all__ = ["OUT_NAMES", "BINARY_FORMS", "DIM_FORMS", "SCALAR_BOUNDS", "OUT_CASTS", "OUT_COMPUTES",
           "OUT_EXACT", "check_overlap", "check_self_overlap"]

# the names PyTorch's out= errors give: the kernel's (outer is a mul), max(a, b)'s maximum
OUT_NAMES = {"outer": "mul", "torch_slogdet": "slogdet", "concat": "cat",
             "concatenate": "cat"}
BINARY_FORMS = {"max": "maximum", "min": "minimum"}
# the ops whose (values, indices) form, max(x, dim), has rules of its own: key "max.dim"
DIM_FORMS = frozenset(("max", "min", "median", "nanmedian"))
# the clamps whose rule holds for number bounds only (tensor bounds take any float out)
SCALAR_BOUNDS = frozenset(("clamp", "clamp_min", "clamp_max"))

# the ops whose out= may have a lower kind than the result (a float sum into an int tensor)
OUT_CASTS = frozenset(("sum", "prod", "cumsum", "cumprod"))
# the reductions that compute in a floating out's dtype (a float32 input read as float64)
OUT_COMPUTES = frozenset(("mean", "nanmean", "var", "std"))

# C++'s names for the scalar types, which some of PyTorch's messages print
_C_NAMES = {"Float": "float", "Double": "double", "Half": "c10::Half",
            "BFloat16": "c10::BFloat16", "Long": "long int", "Int": "int", "Short": "short int",
            "Char": "signed char", "Byte": "unsigned char", "Bool": "bool",
            "ComplexFloat": "c10::complex<float>", "ComplexDouble": "c10::complex<double>"}


def _c(name):
    return _C_NAMES.get(name, name)


def _expected_out(have, want):
    return f"Expected out tensor to have dtype {_c(have)}, but got {_c(want)} instead"


def _found(have, want):
    return f"Found dtype {want} but expected {have}"


def _scalar_type(have, want):
    return f"expected scalar_type {have} but found {want}"


def _same_as_input(have, want):
    return f"result dtype {want} does not match input dtype {have}"


def _scalar_object(have, want):
    return f"Expected object of scalar type {have} but got scalar type {want} for argument 'out'"


def _fixed(message):
    return lambda have, want: message


def _median(have, want):
    return (f"Expected tensor for 'values' to have the same type as tensor for argument #2 "
            f"'self'; but type torch.{want}Tensor does not equal torch.{have}Tensor (while "
            f"checking arguments for median)")


def _median_indices(have, want):
    return (f"Expected tensor for argument #1 'indices' to have scalar type Long; but got "
            f"torch.{want}Tensor instead (while checking arguments for median)")


def _mode(output):
    return lambda have, want: (f"expected scalar type '{have}' but got '{want}' for {output} "
                               f"output")


def _histogram(part):
    return lambda have, want: (f"torch.histogram: input tensor and {part} tensor should have "
                               f"the same dtype, but got input {_c(have)} and {part} "
                               f"{_c(want)}" + (" for dimension 0" if part == "bin_edges"
                                                else ""))


def _nansum_kernel(have, want):
    """nansum/nanmean of a floating input run the kernel of out's dtype, which PyTorch has for
    the floating types only; an integral input's sum goes into any out."""
    if have in _FLOATING and want not in _FLOATING:
        raise NotImplementedError(f'"nansum_cpu" not implemented for \'{want}\'')
    return None


def _floating_result(name):
    return lambda have, want: None if want in _FLOATING or want.startswith("Complex") else (
        f"{name}(): Expected floating point type for result tensor, but got: {want}")


_FLOATING = frozenset(("Float", "Double", "Half", "BFloat16"))


def _non_boolean(name):
    return _fixed(f"{name} does not support non-boolean outputs.")


def _bool_or_byte(name):
    """all/any write into a bool or a uint8 out (None: allowed, whatever the result's dtype),
    any other is refused."""
    return lambda have, want: None if want in ("Bool", "Byte") else \
        f"{name} only supports bool tensor for result, got: {want}"


# the ops whose out= must have the result's dtype exactly, with PyTorch's words
OUT_EXACT = dict.fromkeys((
    "mm", "bmm", "matmul", "addmm", "addmv", "baddbmm", "cross", "linalg_cross", "diag",
    "alias_copy", "as_strided_copy", "detach_copy", "diagonal_copy", "expand_copy",
    "permute_copy", "select_copy", "slice_copy", "squeeze_copy", "t_copy", "transpose_copy",
    "unfold_copy", "unsqueeze_copy", "view_copy", "slice_scatter", "lu_unpack",
    "torch_lu_solve", "triangular_solve", "torch_qr", "torch_svd", "inv", "frobenius_norm",
    "slogdet", "softmax", "log_softmax", "aminmax", "topk", "sort", "msort", "argsort",
    "argmax", "argmin", "renorm", "gather", "scatter", "scatter_add", "scatter_reduce",
    "index_copy", "index_add", "index_reduce", "take_along_dim", "tril", "triu", "norm",
    "isin", "max.dim", "min.dim",
    # torch.linalg's (linalg.matrix_power takes a wider out, torch.matrix_power does not:
    # the two share minigrad's function, which is left out)
    "cholesky", "cholesky_ex", "det", "eigh", "eigvalsh", "inv_ex", "ldl_factor",
    "ldl_factor_ex", "ldl_solve", "lu", "lu_factor", "lu_factor_ex", "lu_solve", "qr",
    "solve", "solve_ex", "svd", "svdvals", "vector_norm"), _expected_out)
OUT_EXACT.update(dict.fromkeys((
    "clamp", "clamp_min", "clamp_max", "abs", "neg", "ceil", "floor", "round", "trunc",
    "frac", "sign", "sgn", "conj_physical", "hardshrink", "bitwise_not"), _found))
OUT_EXACT.update(dict.fromkeys(("cummax", "cummin", "logcumsumexp"), _scalar_type))
OUT_EXACT.update(dict.fromkeys(("dot", "vdot"), _same_as_input))
OUT_EXACT.update(dict.fromkeys(("nansum", "nanmean"), _nansum_kernel))
OUT_EXACT["nansum.empty"] = _fixed(None)
OUT_EXACT["logsumexp"] = _floating_result("logsumexp")
OUT_EXACT.update(dict.fromkeys(("complex", "polar"), _scalar_object))
OUT_EXACT.update(dict.fromkeys(("quantile", "nanquantile"), _fixed(
    "quantile() out tensor must be same dtype as the input tensor")))
OUT_EXACT.update({name: _non_boolean(name) for name in ("signbit", "isposinf", "isneginf")})
OUT_EXACT.update({name: _bool_or_byte(name) for name in ("all", "any")})
OUT_EXACT.update({
    "where": lambda have, want: f"Expected out type to be {have} but got {want}",
    "float_power": lambda have, want: (f"the output given to float_power has dtype {want} but "
                                       f"the operation's result requires dtype {have}"),
    "amax": lambda have, want: (f"Expected the dtype for input and out to match, but got "
                                f"{have} for input's dtype and {want} for out's dtype."),
    "mv": lambda have, want: (f"addmv input tensors must have the same dtype, but got {want}, "
                              f"{have}, and {have}"),
    "addbmm": lambda have, want: (f"self and mat2 must have the same dtype, but got {want} and "
                                  f"{have}"),
    "tensordot": lambda have, want: (f"tensordot: Expected the output tensor to have dtype "
                                     f"{have}, but got an output tensor with dtype {want}"),
    "take": lambda have, want: (f"take(): self and out expected to have the same dtype, but "
                                f"got self.dtype = {have} and out.dtype = {want}"),
    "nan_to_num": lambda have, want: (f"nan_to_num: dtype of out: {want} should be same as "
                                      f"input: {have}"),
    "ormqr": lambda have, want: (f"torch.ormqr: Expected input and result to have the same "
                                 f"dtype, but input has dtype{have} and result has dtype "
                                 f"{want}"),
    "chain_matmul": lambda have, want: (f"multi_dot(): expected out tensor to have dtype "
                                        f"{_c(have)} but got {_c(want)}"),
    "nuclear_norm": lambda have, want: (f"linalg.matrix_norm expected out tensor dtype {have} "
                                        f"but got: {want}"),
    "nonzero": lambda have, want: (f"nonzero: Expected out tensor to have scalar type Long but "
                                   f"got scalar type{want}"),
    "linalg_norm": lambda have, want: (f"linalg.norm expected out tensor dtype {have} but "
                                       f"got: {want}"),
    "vecdot": lambda have, want: f"linalg.vecdot: Expected out of dtype{have} but found {want}",
    "solve_triangular": lambda have, want: f"expected scalar type {have} but found {want}",
    "heaviside": _fixed("heaviside is not yet implemented for tensors with different dtypes."),
    "masked_select": _fixed("masked_select(): self and result must have the same scalar type"),
    "index_select": _fixed("index_select(): self and result must have the same scalar type"),
    "histc": _histogram("hist"),
    "histogram": (_histogram("hist"), _histogram("bin_edges")),
    "kthvalue": (_fixed("output values must be of same type as input"),
                 _fixed("output indices must be of scalar type Long")),
    "mode": (_mode("values"), _mode("indices")),
    "median.dim": (_median, _median_indices),
    "nanmedian.dim": (_median, _median_indices),
    "frexp": (lambda have, want: (f"torch.frexp() expects mantissa to have dtype {_c(have)} "
                                  f"but got {_c(want)}"),
              lambda have, want: (f"torch.frexp() expects exponent to have int dtype but got "
                                  f"{_c(want)}")),
})
OUT_EXACT["searchsorted"] = OUT_EXACT["bucketize"] = lambda have, want: (
    f"torch.searchsorted(): output tensor's dtype is wrong, it can only be Int(int32) or "
    f"Long(int64) depending on whether out_int32 flag is True, but we got output tensor's "
    f"dtype {want} and out_int32 flag is {have == 'Int'}")
def _complex_abs(have, want):
    """abs of a complex tensor: a complex out must be the input's own dtype (the complex
    counterpart of the real result), a floating one of any width takes the result, an
    integral or bool one is refused for the cast."""
    if want.startswith("Complex"):
        return None if want == f"Complex{have}" else f"Found dtype {want} but expected " \
            f"Complex{have}"
    if want in _FLOATING:
        return None
    raise RuntimeError(f"result type {have} can't be cast to the desired output type {want}")


OUT_EXACT["abs.complex"] = _complex_abs


def _ldexp(have, want):
    """ldexp's out=: PyTorch's Python-level refusal of an integral or bool out, then the
    usual cast check (a complex result into a real out)."""
    if want not in _FLOATING and not want.startswith("Complex"):
        return f"ldexp can't be cast to the desired output type {want}"
    if have.startswith("Complex") and not want.startswith("Complex"):
        return f"result type {have} can't be cast to the desired output type {want}"
    return None


OUT_EXACT["ldexp"] = _ldexp


def _variance_out(have, want):
    """var/std of a real tensor into a complex out: PyTorch runs the kernel of out's dtype,
    which it has not (a complex input's real result goes into any floating or complex out:
    rule ``var.complex``, none)."""
    if want.startswith("Complex"):
        raise NotImplementedError(f"\"std_cpu\" not implemented for '{want}'")
    if want not in _FLOATING:
        return f"result type {have} can't be cast to the desired output type {want}"
    return None


OUT_EXACT["var"] = OUT_EXACT["std"] = _variance_out


def _variance_all_out(have, want):
    """var/std reducing a real tensor to one element: PyTorch's whole-tensor kernel, whose
    result is cast to any floating or complex out (a 16-bit input into a 32- or 64-bit out
    is refused before, by ``_out_writes.check_out_first``)."""
    return None if want.startswith("Complex") else _variance_out(have, want)


def _variance_empty_out(have, want):
    """var/std of no element: no kernel runs, the NaNs go into any floating or complex out."""
    return None if want.startswith("Complex") else _variance_out(have, want)


OUT_EXACT["var.all"] = OUT_EXACT["std.all"] = _variance_all_out
OUT_EXACT["var.empty"] = OUT_EXACT["std.empty"] = _variance_empty_out
OUT_EXACT["amin"] = OUT_EXACT["amax"]
OUT_EXACT["inner"] = OUT_EXACT["tensordot"]
OUT_EXACT["matrix_norm"] = OUT_EXACT["nuclear_norm"]
OUT_EXACT["multi_dot"] = OUT_EXACT["chain_matmul"]


# ---- memory overlap ----------------------------------------------------------------------

# an out that is part of (or all of) an input: refused by these ops
NO_OVERLAP = frozenset((
    "gather", "index_select", "take", "take_along_dim", "masked_select", "nonzero", "kthvalue",
    "topk", "mode", "aminmax", "max.dim", "min.dim", "cat", "stack", "hstack", "vstack",
    "dstack", "column_stack", "row_stack", "cross", "linalg_cross"))
# an out that is part of an input, but not all of it laid out alike: refused by these
# (PyTorch's elementwise kernels: torch.add(a, b, out=a) is fine, out=a[1:] is not)
NO_PARTIAL_OVERLAP = frozenset("""
abs acos acosh add addbmm addcdiv addcmul addmm addmv addr angle asin asinh atan atan2 atanh
baddbmm bernoulli bitwise_and bitwise_left_shift bitwise_not bitwise_or bitwise_right_shift
bitwise_xor ceil clamp clamp_max clamp_min complex conj_physical copysign cos cosh cumprod
cumsum deg2rad diff digamma div eq erf erfc erfinv exp exp2 expm1 float_power floor
floor_divide fmax fmin fmod frac frexp gcd ge gt hardshrink heaviside hypot i0 igamma igammac
index_add index_copy index_reduce isneginf isposinf lcm ldexp le lerp lgamma log log10 log1p
log2 logaddexp logaddexp2 logcumsumexp logical_and logical_not logical_or logical_xor logit lt
maximum minimum msort mul nan_to_num ne neg nextafter normal polygamma pow rad2deg reciprocal
remainder renorm round rsqrt scatter scatter_add scatter_reduce sgn sigmoid sign signbit sin
sinc sinh sort sqrt square sub tan tanh true_divide trunc where xlogy
clamp.Tensor clamp_max.Tensor clamp_min.Tensor abs.complex
airy_ai bessel_j0 bessel_j1 bessel_y0 bessel_y1 chebyshev_polynomial_t chebyshev_polynomial_u
chebyshev_polynomial_v chebyshev_polynomial_w entr erfcx hermite_polynomial_h
hermite_polynomial_he i0e i1 i1e laguerre_polynomial_l legendre_polynomial_p log_ndtr
modified_bessel_i0 modified_bessel_i1 modified_bessel_k0 modified_bessel_k1 ndtri
scaled_modified_bessel_k0 scaled_modified_bessel_k1 shifted_chebyshev_polynomial_t
shifted_chebyshev_polynomial_u shifted_chebyshev_polynomial_v shifted_chebyshev_polynomial_w
spherical_bessel_j0 xlog1py zeta gelu normalize softplus softshrink
""".split())
# the ops that write an out whose elements overlap one another (PyTorch checks it in the
# others)
SELF_OVERLAP_OK = frozenset((
    "sum", "prod", "amax", "amin", "argmax", "argmin", "all", "any", "norm", "nansum",
    "count_nonzero", "cummax", "cummin", "tril", "triu", "var", "std", "histc", "narrow_copy",
    "matmul", "bmm", "mv", "dot", "vdot", "matrix_rank", "linear", "avg_pool3d", "vector_norm",
    "var.complex", "std.complex", "nansum.empty", "var.all", "std.all", "var.empty",
    "std.empty"))

# the ops that resize their out before they check it for overlap with itself (an expanded
# out of another shape is then new memory); the others (PyTorch's elementwise kernels) check
# it first, as it is
RESIZED_BEFORE_SELF_OVERLAP = frozenset((
    "cat", "stack", "mean", "logsumexp", "linalg_norm", "max.dim", "min.dim", "median.dim",
    "nanmedian.dim", "sort", "cumsum", "cumprod", "logcumsumexp", "mm", "addmm", "addmv",
    "baddbmm", "kron", "tensordot", "inner", "diag", "gather", "cross", "linalg_cross"))

_SELF_OVERLAP = ("unsupported operation: more than one element of the written-to tensor "
                 "refers to a single memory location. Please clone() the tensor before "
                 "performing the operation.")
def _overlaps_itself(array):
    return array.size > 1 and any(step == 0 and size > 1
                                  for size, step in zip(array.shape, array.strides))


def _overlap(out, other):
    """How ``out``'s memory meets ``other``'s (``memory_overlap``); one tensor is itself."""
    return FULL_OVERLAP if out is other else memory_overlap(out._array, other._array)


def check_overlap(out, inputs, rule):
    """Refuse, with PyTorch's RuntimeError, an ``out`` (a Tensor or a tuple of them) that op
    ``rule`` may not write because of shared memory; ``inputs``: the op's tensor arguments."""
    outs = out if isinstance(out, (tuple, list)) else (out,)
    any_overlap = rule in NO_OVERLAP
    check_inputs = any_overlap or rule in NO_PARTIAL_OVERLAP
    for o in outs:
        if not isinstance(o, Tensor):
            continue                             # the TypeError of a wrong out comes later
        if rule not in SELF_OVERLAP_OK and rule not in RESIZED_BEFORE_SELF_OVERLAP and \
                _overlaps_itself(o._array):
            raise RuntimeError(_SELF_OVERLAP)
        if check_inputs:
            for t in inputs:
                status = _overlap(o, t)
                if status == PARTIAL_OVERLAP or (status == FULL_OVERLAP and any_overlap):
                    raise RuntimeError(INPUT_OVERLAP)


def check_self_overlap(out, result, rule):
    """Refuse an ``out`` whose elements share memory (an expanded tensor) where op ``rule``
    does not write such an out; one of another shape than the op's ``result`` is resized
    first, as PyTorch does, and so no longer overlaps itself. For the ops that resize
    first (``RESIZED_BEFORE_SELF_OVERLAP``); ``check_overlap`` checks the others."""
    if rule in SELF_OVERLAP_OK or rule not in RESIZED_BEFORE_SELF_OVERLAP:
        return
    pairs = zip(out, result) if isinstance(out, (tuple, list)) and isinstance(
        result, tuple) else ((out, result),)
    for o, r in pairs:
        if isinstance(o, Tensor) and isinstance(r, Tensor) and o.shape == r.shape and \
                _overlaps_itself(o._array):
            raise RuntimeError(_SELF_OVERLAP)


# the ops of NO_OVERLAP that check the overlap after resizing their out (PyTorch's structured
# kernels); index_select, take, masked_select, kthvalue and nonzero check it before, as given
CHECKED_AFTER_RESIZE = NO_OVERLAP - {"index_select", "take", "masked_select", "kthvalue",
                                     "nonzero"}


def check_grown_overlap(out, result, inputs, rule):
    """For the ops that refuse any overlap of ``out`` with an input and check it after the
    resize (``CHECKED_AFTER_RESIZE``): an out with fewer elements than the op's ``result``
    grows, in its resize, into the memory of the tensor it is a view of where that has room
    (as PyTorch grows it within its storage), so the grown out is checked against the
    inputs, as PyTorch checks after its resize (``gather(x, 0, base[1:3], out=base[:1])``:
    the out grown to base[:2] covers the index). ``check_overlap`` checked the out as it was
    given."""
    if rule not in CHECKED_AFTER_RESIZE:
        return
    pairs = zip(out, result) if isinstance(out, (tuple, list)) and isinstance(
        result, tuple) else ((out, result),)
    for o, r in pairs:
        if not (isinstance(o, Tensor) and isinstance(r, Tensor)) or o._base is None or \
                r._array.size <= o._array.size:
            continue
        grown = _grown_memory(o, r._array.size)
        if grown is None:
            continue
        for t in inputs:
            if isinstance(t, Tensor) and t is not o and memory_overlap(grown, t._array):
                raise RuntimeError(INPUT_OVERLAP)


def _grown_memory(t, n):
    """The ``n`` elements ``resize_`` would give ``t`` within its base's memory (as
    ``ops.inplace.resize_unchecked_`` finds them), or None where it would take new memory."""
    a = t._array
    if a.size and mf.is_non_overlapping_and_dense(a.shape, mf.element_strides(a)) and \
            min(a.strides, default=0) >= 0:
        flat = a.ravel(order="K")
    elif a.size:
        return None                     # (a copy: new memory)
    else:
        flat = a.reshape(-1)
    return _room_in_base(t, flat, n)
