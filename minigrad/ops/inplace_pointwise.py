"""In-place forms of the pointwise ops, scans and fused products: ``x.exp_()``,
``x.atan2_(y)``, ``x.eq_(0)``, ``x.cumsum_(0)``, ``x.addmm_(a, b)``...

Each is its out-of-place op written back into ``input`` through ``writes.apply_inplace``,
so that it shares the in-place rules of ``x += y`` and ``x[i] = v``: the version counter goes
up, a write through a view gives the view's base a new history, a leaf that requires grad is
refused, and with a graph to record the op runs on a snapshot of the old value (whatever the
op saved for backward stays valid).

``run_inplace(input, fn, args, kwargs, name)`` does the work for any out-of-place ``fn``
built from minigrad ops (a composite, not one Function).  Before the write, the result is
made to fit ``input``:

* dtype: a result that cannot be cast to input's dtype down a kind (a float result into an
  integer tensor, an integer one into bool) raises PyTorch's
  ``result type Float can't be cast to the desired output type Long``; a floating result of
  another width (float64 computed for a float32 input) is cast, differentiably;
* gradient: a result without one (a comparison such as ``eq_``) written into a tensor that
  requires grad becomes a node whose gradient is zero, as PyTorch's ``EqBackward0``, so that
  the tensor keeps a ``grad_fn`` and stays differentiable;
* shape: the broadcast shape must be input's (checked by the write).
"""
from __future__ import annotations

import numbers

from .. import backend, dtypes
from .._parser_emulation import refusal
from .._type_names import python_type_name
from ..autograd import Function, no_grad
from ..autograd.function import keep_for_backward
from ..tensor import Tensor
from . import activation as A, compare as C, elementwise as E, math_extra as MX
from . import division as DV
from . import elementary_functions as EF
from . import (complex_numbers as CN, pointwise_more as PW, products as PR, sequence_more as SQ,
               sorting as S)
from . import pointwise_smooth as PSM
from . import special_functions as SF, trig as T
from ._util import int_arg, not_implemented_for, scalar_type_name
from .inplace import check_out_shape, clamp_, mul_, named_write, sub_
from .inplace import refuse_self_overlap as _refuse_self_overlap
from .tensor_predicates import logical_xor, reciprocal
from .writes import apply_inplace, can_cast_inplace


class ZeroGradient(Function):
    """``value`` (a fixed array, already computed) as a function of ``inputs`` with zero
    derivative: the node a comparison written in place into a differentiable tensor gets."""
    def forward(self, *inputs, value):
        self.shapes = [x.shape for x in inputs]
        return value

    def backward(self, g):
        xp = backend.xp_of(g._array)
        grads = tuple(Tensor._wrap(xp.zeros(s, g._array.dtype)) for s in self.shapes)
        return grads if len(grads) > 1 else grads[0]


class _Composite:
    """An out-of-place function in the shape ``apply_inplace`` calls: ``.apply(x, *tensors)``
    (``x``: input's current value; ``tensors``: the other tensor operands)."""
    __slots__ = ("apply",)

    def __init__(self, fn):
        self.apply = fn


def _fit(result, inputs, dtype, name):
    """``result`` made ready to be written into a tensor of numpy ``dtype`` (module doc)."""
    if not isinstance(result, Tensor):
        raise TypeError(f"{name}: the op gave a {type(result).__name__}, not a Tensor")
    have = result._array.dtype
    if have != dtype and not can_cast_inplace(have, dtype):
        target = inputs[0]
        if tuple(result.shape) != tuple(target.shape):
            # PyTorch checks the shape of the output before its dtype
            raise RuntimeError(f"output with shape {list(target.shape)} doesn't match the "
                               f"broadcast shape {list(result.shape)}")
        raise RuntimeError(f"result type {scalar_type_name(have)} can't be cast to the desired "
                           f"output type {scalar_type_name(dtype)}")
    if result._requires_grad:
        return E.cast(result, dtype) if have != dtype else result
    differentiable = [x for x in inputs if x._requires_grad]
    if differentiable:
        return ZeroGradient.apply(*differentiable, value=result._array.astype(dtype))
    return result


def _refuse_complex_into_real(x, operands, any_kind=False):
    """PyTorch's cast error for a real ``x`` written with a complex operand (checked before
    its kernel runs: ``x.remainder_(1j)`` is refused for the cast, not for the complex
    remainder minigrad lacks); with ``any_kind`` for any promoted type ``x`` cannot take
    (``int_x.gcd_(float_t)``, ``bool_x.floor_divide_(int_t)``: the cast, not the kernel's
    dtype or a division by zero)."""
    numbers = [v._array if isinstance(v, Tensor) else v for v in operands
               if isinstance(v, (Tensor, complex) if not any_kind else
                             (Tensor, bool, int, float, complex))]
    if not numbers:
        return
    have = dtypes.result_type(x._array, *numbers)
    if have.kind == "c" and x._array.dtype.kind != "c" or \
            any_kind and not can_cast_inplace(have, x._array.dtype):
        raise RuntimeError(f"result type {scalar_type_name(have)} can't be cast to the desired "
                           f"output type {scalar_type_name(x._array.dtype)}")


def run_inplace(input, fn, args=(), kwargs=None, name="op_", cast_first=True):
    """``input`` overwritten with ``fn(input, *args, **kwargs)``; returns ``input``.

    The Tensors among ``args`` and ``kwargs`` are the other operands of the write (a graph
    is recorded when one of them requires grad too); the rest are passed as they are.
    ``cast_first=False``: a kernel's refusal of a complex operand stands (a comparison's:
    ``x.lt_(1j)`` is refused for the complex ``lt``, not for a cast into x)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    kwargs = kwargs or {}
    slots = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    keys = [k for k, v in kwargs.items() if isinstance(v, Tensor)]
    others = [args[i] for i in slots] + [kwargs[k] for k in keys]
    dtype = input._array.dtype

    def composite(x, *tensors):
        full, named = list(args), dict(kwargs)
        for i, t in zip(slots, tensors):
            full[i] = t
        for k, t in zip(keys, tensors[len(slots):]):
            named[k] = t
        try:
            result = fn(x, *full, **named)
        except NotImplementedError:
            if cast_first:
                _refuse_complex_into_real(x, (*full, *named.values()), any_kind=True)
            raise
        except RuntimeError as exc:
            if cast_first and str(exc).startswith("ZeroDivisionError"):
                _refuse_complex_into_real(x, (*full, *named.values()), any_kind=True)
            raise
        return _fit(result, (x, *tensors), dtype, name)

    return apply_inplace(input, _Composite(composite), *others)


def _inplace(fn, name, summary, tensor_only=None, tracked=True, shape_first=True,
             cast_first=True):
    """The in-place method ``name`` of the out-of-place ``fn(input, *args, **kwargs)``.

    ``tensor_only``: the name of the second operand when, as in PyTorch, the in-place form
    takes a Tensor there and no number.  ``tracked=False``: the write is not recorded in the
    graph (PyTorch's logical ops in place: the tensor keeps its ``grad_fn``, and a leaf that
    requires grad is not refused).  ``shape_first=False``: the op's own checks come before
    that of the output's shape (heaviside's of the dtypes), or its operands do not broadcast
    to its output (the fused products' matrices)."""
    def method(input, *args, **kwargs):
        if tensor_only is not None:
            other = args[0] if args else kwargs.get(tensor_only)
            if not isinstance(other, Tensor):
                raise TypeError(f"{name}(): argument '{tensor_only}' (position 1) must be "
                                f"Tensor, not {python_type_name(other)}")
        if shape_first:
            _refuse_self_overlap(input)
        if shape_first and isinstance(input, Tensor):
            check_out_shape(input, (*args, *kwargs.values()))
        if tracked:
            return run_inplace(input, fn, args, kwargs, name, cast_first)
        with no_grad():
            return run_inplace(input, fn, args, kwargs, name, cast_first)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In place: ``input`` becomes {summary}; returns ``input``."
    return method


def _unary(fn, name, summary, refused_first=""):
    """``_inplace`` of an op without parameters: ``x.exp_(2)`` is refused by Python, naming
    ``exp_``.  ``refused_first``: the dtype kinds the op refuses before it looks at the
    tensor's memory (a complex ``floor_``, a bool ``neg_``: the op's own refusal, even for an
    expanded tensor)."""
    def method(input):
        if refused_first and isinstance(input, Tensor) and \
                input._array.dtype.kind in refused_first:
            fn(input)                   # (raises the op's refusal)
        _refuse_self_overlap(input)
        return run_inplace(input, fn, (), {}, name)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In place: ``input`` becomes {summary}; returns ``input``."
    return method


# ----------------------------------------------------------------------------------------------
# Unary: exp_, sin_, floor_, sign_, erf_, lgamma_...
# ----------------------------------------------------------------------------------------------
def _real_abs(input):
    if input._array.dtype.kind == "c":      # |z| is real: a complex tensor cannot hold it
        raise RuntimeError("In-place abs is not supported for complex tensors.")
    return EF.abs(input)


abs_ = _unary(_real_abs, "abs_", "|input|", "c")
absolute_ = abs_
neg_ = _unary(E.neg, "neg_", "-input (bool refused, as neg)", "b")
negative_ = neg_
exp_ = _unary(EF.exp, "exp_", "e ** input")
exp2_ = _unary(MX.exp2, "exp2_", "2 ** input")
expm1_ = _unary(PSM.expm1, "expm1_", "e ** input - 1")
log_ = _unary(EF.log, "log_", "ln(input)")
log2_ = _unary(MX.log2, "log2_", "log2(input)")
log10_ = _unary(MX.log10, "log10_", "log10(input)")
log1p_ = _unary(EF.log1p, "log1p_", "ln(1 + input)")
sqrt_ = _unary(EF.sqrt, "sqrt_", "sqrt(input)")


def rsqrt_(input):
    """In place: ``input`` becomes 1 / sqrt(input); returns ``input``. Its node reads the
    result, as PyTorch's: a later write into it makes the backward refuse."""
    out = run_inplace(input, EF.rsqrt, (), {}, "rsqrt_")
    return keep_for_backward(out, out)


square_ = _unary(EF.square, "square_", "input ** 2")
reciprocal_ = _unary(reciprocal, "reciprocal_", "1 / input")
sigmoid_ = _unary(EF.sigmoid, "sigmoid_", "1 / (1 + e ** -input)")
logit_ = _inplace(PSM.logit, "logit_", "ln(p / (1 - p)), p = input clamped to [eps, 1 - eps]")
sin_ = _unary(EF.sin, "sin_", "sin(input)")
cos_ = _unary(EF.cos, "cos_", "cos(input)")
tan_ = _unary(T.tan, "tan_", "tan(input)")
asin_ = _unary(T.asin, "asin_", "asin(input)")
acos_ = _unary(T.acos, "acos_", "acos(input)")
atan_ = _unary(T.atan, "atan_", "atan(input)")
sinh_ = _unary(T.sinh, "sinh_", "sinh(input)")
cosh_ = _unary(T.cosh, "cosh_", "cosh(input)")
tanh_ = _unary(EF.tanh, "tanh_", "tanh(input)")
asinh_ = _unary(T.asinh, "asinh_", "asinh(input)")
acosh_ = _unary(T.acosh, "acosh_", "acosh(input)")
atanh_ = _unary(T.atanh, "atanh_", "atanh(input)")
arcsin_, arccos_, arctan_ = asin_, acos_, atan_
arcsinh_, arccosh_, arctanh_ = asinh_, acosh_, atanh_
sinc_ = _unary(PSM.sinc, "sinc_", "sin(pi input) / (pi input) (1 at 0)")
deg2rad_ = _unary(PW.deg2rad, "deg2rad_", "input * pi / 180", "c")
rad2deg_ = _unary(PW.rad2deg, "rad2deg_", "input * 180 / pi")
ceil_ = _unary(C.ceil, "ceil_", "ceil(input) (gradient 0)", "c")
floor_ = _unary(C.floor, "floor_", "floor(input) (gradient 0)", "c")
_round_ = _inplace(C.round, "round_", "input rounded half to even, to ``decimals`` places",
                   cast_first=False)      # (decimals is no operand: the kernel refuses first)


def round_(input, *args, **kwargs):
    """In place: ``input`` becomes input rounded half to even, to ``decimals`` places (a
    keyword only, checked under this method's name); returns ``input``."""
    if args or any(k != "decimals" for k in kwargs):       # (the parser's refusal)
        raise refusal("round_", False, (input,) + args, kwargs)
    if "decimals" in kwargs:
        kwargs["decimals"] = int_arg("round_", "decimals", kwargs["decimals"])
    return _round_(input, **kwargs)


def round_method_(self, *args, **kwargs):
    """``Tensor.round_``: ``round_(self, decimals=...)``, refused in the words of the
    method's parser (``x.round_(1)`` takes from 1 to 0 positional arguments)."""
    if args or any(k != "decimals" for k in kwargs):
        raise refusal("round_", True, args, kwargs)
    return round_(self, **kwargs)


round_method_.__name__ = round_method_.__qualname__ = "round_"
trunc_ = _unary(MX.trunc, "trunc_", "input rounded toward zero (gradient 0)", "c")
fix_ = trunc_
frac_ = _unary(MX.frac, "frac_", "input - trunc(input)")
sign_ = _unary(C.sign, "sign_", "-1, 0 or 1 by input's sign (gradient 0)", "c")
sgn_ = _unary(CN.sgn, "sgn_", "sgn(input) (z / |z|; the sign of a real tensor)")
erf_ = _unary(A.erf, "erf_", "erf(input)")
erfc_ = _unary(SF.erfc, "erfc_", "1 - erf(input)")
erfinv_ = _unary(SF.erfinv, "erfinv_", "the inverse error function of input")
lgamma_ = _unary(SF.lgamma, "lgamma_", "ln|Gamma(input)|")
digamma_ = _unary(SF.digamma, "digamma_", "Gamma'(input) / Gamma(input)")
i0_ = _unary(SF.i0, "i0_", "I0(input), the modified Bessel function of order 0")
logical_not_ = _inplace(C.logical_not, "logical_not_", "not input (1 or 0 in input's dtype)",
                        tracked=False)


def mvlgamma_(input, p):
    """In place: ``input`` becomes the multivariate log-gamma of dimension p; returns it."""
    if isinstance(input, Tensor) and input._array.dtype.kind == "b":
        raise RuntimeError("The input tensor may not be a boolean tensor.")
    if isinstance(input, Tensor) and input._array.dtype.kind in "iu":
        # PyTorch's words for it (the names of the two dtypes the other way round)
        raise RuntimeError(f"mvlgamma: result type {scalar_type_name(input._array.dtype)} "
                           f"can't be cast to the desired output type Float")
    return run_inplace(input, SF.mvlgamma, (p,), {}, "mvlgamma_")


def polygamma_(input, n):
    """In place: ``input`` becomes the n-th derivative of digamma at input; returns it."""
    return run_inplace(input, lambda x: SF.polygamma(n, x), (), {}, "polygamma_")


# ----------------------------------------------------------------------------------------------
# Binary: atan2_, hypot_, remainder_, the comparisons and logical ops (other broadcasts to
# input's shape; a number is accepted wherever the out-of-place op takes one)
# ----------------------------------------------------------------------------------------------
atan2_ = _inplace(T.atan2, "atan2_", "atan2(input, other)", tensor_only="other")
arctan2_ = _inplace(T.atan2, "arctan2_", "atan2(input, other)", tensor_only="other")
copysign_ = _inplace(PW.copysign, "copysign_", "|input| with other's sign")
hypot_ = _inplace(PW.hypot, "hypot_", "sqrt(input ** 2 + other ** 2)", tensor_only="other")
heaviside_ = _inplace(PW.heaviside, "heaviside_", "0, values or 1 for input < 0, = 0, > 0",
                      tensor_only="values", shape_first=False)
nextafter_ = _inplace(PW.nextafter, "nextafter_", "the next float after input toward other",
                      tensor_only="other")
xlogy_ = _inplace(PW.xlogy, "xlogy_", "input * ln(other) (0 where input is 0)")
remainder_ = _inplace(DV.remainder, "remainder_", "input mod other, with other's sign")
floor_divide_ = _inplace(PW.floor_divide, "floor_divide_", "floor(input / other)")
igamma_ = _inplace(SF.igamma, "igamma_", "the regularized lower incomplete gamma P(input, "
                                         "other)", tensor_only="other")
igammac_ = _inplace(SF.igammac, "igammac_", "the regularized upper incomplete gamma "
                                            "Q(input, other)", tensor_only="other")
divide_ = _inplace(DV.divide, "divide_", "input / other (``rounding_mode`` None, 'trunc' or "
                                     "'floor')")
true_divide_ = _inplace(DV.div, "true_divide_", "input / other")
multiply_ = mul_
subtract_ = sub_
eq_ = _inplace(C.method(C.eq, "eq_"), "eq_", "input == other (1 or 0 in input's dtype)")
ne_ = _inplace(C.method(C.ne, "ne_"), "ne_", "input != other (1 or 0 in input's dtype)")
lt_ = _inplace(C.method(C.lt, "lt_"), "lt_", "input < other (1 or 0 in input's dtype)",
               cast_first=False)
le_ = _inplace(C.method(C.le, "le_"), "le_", "input <= other (1 or 0 in input's dtype)",
               cast_first=False)
gt_ = _inplace(C.method(C.gt, "gt_"), "gt_", "input > other (1 or 0 in input's dtype)",
               cast_first=False)
ge_ = _inplace(C.method(C.ge, "ge_"), "ge_", "input >= other (1 or 0 in input's dtype)",
               cast_first=False)
not_equal_, less_, less_equal_, greater_, greater_equal_ = ne_, lt_, le_, gt_, ge_
# PyTorch does not record the logical ops in place (the tensor keeps its grad_fn)
logical_and_ = _inplace(C.logical_and, "logical_and_", "input and other (1 or 0)",
                        tensor_only="other", tracked=False)
logical_or_ = _inplace(C.logical_or, "logical_or_", "input or other (1 or 0)",
                       tensor_only="other", tracked=False)
logical_xor_ = _inplace(logical_xor, "logical_xor_", "input xor other (1 or 0)",
                        tensor_only="other", tracked=False)


def float_power_(input, exponent):
    """In place: ``input`` becomes input ** exponent in double precision; as PyTorch, only a
    float64 ``input`` (complex128, for a complex result) can hold the result."""
    if isinstance(input, Tensor):
        wide = "complex128" if input._array.dtype.kind == "c" or \
            isinstance(exponent, complex) or (isinstance(exponent, Tensor) and
                                              exponent._array.dtype.kind == "c") else "float64"
        if input._array.dtype.name != wide:
            raise RuntimeError(f"the base given to float_power_ has dtype "
                               f"{scalar_type_name(input._array.dtype)} but the operation's "
                               f"result requires dtype "
                               f"{'ComplexDouble' if wide == 'complex128' else 'Double'}")
    return run_inplace(input, PW.float_power, (exponent,), {}, "float_power_")


def _check_bound(name, bound, label):
    """A tensor or a number, as PyTorch's parser takes for a one-sided clamp bound."""
    if not isinstance(bound, (Tensor, numbers.Number)):
        raise TypeError(f"{name}() received an invalid combination of arguments - got "
                        f"({python_type_name(bound)}), but expected one of:\n"
                        f" * (Tensor {label})\n * (Number {label})\n")


def _complex_one_sided(input, bound, kernel):
    """PyTorch's refusals of a one-sided clamp with complex numbers: a complex number bound
    of a real tensor (its clamp kernel has none), a tensor bound of a complex tensor (its
    maximum / minimum kernel, ``kernel``, has none)."""
    if not isinstance(input, Tensor):
        return
    if input._array.dtype.kind != "c" and isinstance(bound, complex):
        raise NotImplementedError("clamp is not supported for complex types")
    if input._array.dtype.kind == "c" and isinstance(bound, Tensor):
        raise not_implemented_for(kernel, dtypes.result_type(input._array, bound._array))


def clamp_min_(input, min):
    """In place: ``input`` becomes max(input, min); returns ``input``."""
    _check_bound("clamp_min_", min, "min")
    if isinstance(min, Tensor):         # (an expanded input: first, beside a tensor bound)
        _refuse_self_overlap(input)
    if isinstance(input, Tensor):
        check_out_shape(input, (min,))
    _complex_one_sided(input, min, "maximum_cpu")
    return named_write(input, f"ClampMinBackward{int(isinstance(min, Tensor))}", clamp_, input,
                       min=min)


def clamp_max_(input, max):
    """In place: ``input`` becomes min(input, max); returns ``input``."""
    _check_bound("clamp_max_", max, "max")
    if isinstance(max, Tensor):
        _refuse_self_overlap(input)
    if isinstance(input, Tensor):
        check_out_shape(input, (max,))
    _complex_one_sided(input, max, "minimum_cpu")
    return named_write(input, f"ClampMaxBackward{int(isinstance(max, Tensor))}", clamp_, input,
                       max=max)


# ----------------------------------------------------------------------------------------------
# Scans, renorm and the fused products (input += alpha * product, scaled by beta)
# ----------------------------------------------------------------------------------------------
# the C++ names PyTorch's "Bad in-place call" message gives the dtypes
_C_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
            "int32": "int", "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
            "bool": "bool"}


def _scan(fn, name, summary):
    method = _inplace(fn, name, summary, shape_first=False)

    def scan(input, dim, dtype=None):
        if isinstance(input, Tensor) and input._array.dtype.kind == "b":
            raise not_implemented_for(f"{name[:-1]}_out_cpu", input._array.dtype)
        if dtype is not None and isinstance(input, Tensor) and \
                dtypes.to_dtype(dtype).np != input._array.dtype:
            raise RuntimeError(f"Bad in-place call: input tensor dtype "
                               f"{_C_NAMES[input._array.dtype.name]} and output tensor dtype "
                               f"{_C_NAMES[dtypes.to_dtype(dtype).np.name]} should match")
        return method(input, dim, dtype=dtype)
    scan.__name__ = scan.__qualname__ = name
    scan.__doc__ = method.__doc__
    return scan


cumsum_ = _scan(S.cumsum, "cumsum_", "its running sum along ``dim``")
cumprod_ = _scan(S.cumprod, "cumprod_", "its running product along ``dim``")
renorm_ = _inplace(SQ.renorm, "renorm_", "input with each slice along ``dim`` scaled to a "
                                         "p-norm of at most ``maxnorm``", shape_first=False)
addmm_ = _inplace(PR.addmm, "addmm_", "beta input + alpha mat1 @ mat2",
                  shape_first=False)
addmv_ = _inplace(PR.addmv, "addmv_", "beta input + alpha mat @ vec",
                  shape_first=False)
addr_ = _inplace(PR.addr, "addr_", "beta input + alpha outer(vec1, vec2)",
                 shape_first=False)
addbmm_ = _inplace(PR.addbmm, "addbmm_", "beta input + alpha sum_b batch1[b] @ batch2[b]",
                   shape_first=False)
baddbmm_ = _inplace(PR.baddbmm, "baddbmm_", "beta input + alpha batch1 @ batch2 (batched)",
                    shape_first=False)

__all__ = [name for name, value in list(globals().items())
           if name.endswith("_") and not name.startswith("_") and callable(value)] + \
          ["run_inplace", "ZeroGradient"]
