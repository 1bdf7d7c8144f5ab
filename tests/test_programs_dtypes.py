"""Dtypes, type promotion and conversions as everyday code meets them, on minigrad and on torch.

Each ``program(lib)`` is a short piece of the kind third-party code contains: arithmetic that
mixes integer, bool and floating tensors with Python and numpy scalars and 0-d tensors,
in-place ops that would need a downcast, integer division and remainder sign rules, bitwise
and shift ops on every integer dtype, reductions and their result dtypes, ``.to()`` and friends,
dtype inference of ``tensor``/``as_tensor``/``from_numpy``, ``item``/``tolist``, printing,
``finfo``/``iinfo``, ``result_type``/``promote_types``/``can_cast`` and the default dtype.
It runs with ``lib`` = minigrad and ``lib`` = torch on the same inputs; both must give the
same values, dtypes, shapes and strings, or raise the same exception type with torch's words
in the message, and emit the same warnings (category and message).
"""

import copy
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import SideBySide, bare, registry, with_printoptions as _opts  # noqa: E402


HARNESS = SideBySide(rename=bare, rename_error=bare,
                     tol={"float64": (1e-6, 0)}, scalar_tol=None,
                     tag=lambda v: isinstance(v, list),    # a named tuple as a tuple
                     warning=lambda w: (w.category.__name__, bare(w.message)))
_check = HARNESS.check
# @program(words=...): the part of torch's message the program's error must hold (instead
# of all of it)
PROGRAMS, program = registry()


def _dt(lib, name):
    return getattr(lib, name)


# ----------------------------------------------------------------------------------------------
# mixed-dtype arithmetic
# ----------------------------------------------------------------------------------------------
@program
def int_tensor_with_python_scalars(lib):
    i = lib.tensor([-3, 0, 4])
    return dict(a=i + 1.5, b=1.5 - i, c=i * 0.5, d=i - 2.0, e=3 / lib.tensor([1, 2, 4]),
                f=i + True, g=i * False, h=i - 2, j=2.0 ** lib.tensor([0, 1, 3]),
                k=i.add(1.5), l=i.sub(1, alpha=2), m=i.add(2, alpha=3), n=i.mul(2.5),
                o=lib.add(i, 0.25), p=lib.rsub(i, 1), q=1.0 + i, r=lib.rsub(i, 2.5))


@program
def int_alpha_float_err(lib):
    return lib.tensor([1, 2]).add(lib.tensor([1, 2]), alpha=0.5)


@program
def integer_widths(lib):
    a64 = lib.tensor([1, -2, 3])
    a32 = lib.tensor([100, 200, -300], dtype=lib.int32)
    a16 = lib.tensor([7, 8, 9], dtype=lib.int16)
    a8 = lib.tensor([-128, 5, 127], dtype=lib.int8)
    u8 = lib.tensor([0, 128, 255], dtype=lib.uint8)
    return dict(a=a64 + a32, b=a32 * a64, c=a32 + 5, d=a16 - a8, e=u8 + a8, f=u8 * a16,
                g=a8 + 1, h=a8 * 2, i=u8 + 1, j=u8 - 1, k=a8 - u8, l=a32 // a16,
                m=lib.maximum(u8, a8), n=lib.minimum(a8, a16), o=lib.where(u8 > 100, u8, a8))


@program
def bool_arithmetic(lib):
    b = lib.tensor([True, False, True])
    f = lib.tensor([0.5, 1.5, 2.5])
    i = lib.tensor([1, 2, 3], dtype=lib.int32)
    return dict(a=b + 1, b=b + b, c=b * b, d=b * 1.5, e=b + i, f=b * f, g=b + True,
                j=b / 2, k=b / b, l=b | False, m=b * 0, n=b.sum() * 2,
                o=lib.add(b, b, alpha=True), p=b.float() - b.int())


@program
def bool_sub_bool_err(lib):
    return lib.tensor([True, False]) - True


@program
def bool_minus_int_err(lib):
    return 1 - lib.tensor([True, False])


@program
def bool_add_int_alpha(lib):
    return lib.add(lib.tensor([True]), lib.tensor([True]), alpha=2)


@program
def zero_dim_promotion(lib):
    i32 = lib.tensor([1, 2], dtype=lib.int32)
    u8 = lib.tensor([200, 3], dtype=lib.uint8)
    f16 = lib.tensor([1.5, 2.5], dtype=lib.float16)
    f32 = lib.tensor([0.5, 1.0])
    z64 = lib.tensor(3)
    zd = lib.tensor(2.5, dtype=lib.float64)
    zh = lib.tensor(1.5, dtype=lib.float16)
    zb = lib.tensor(True)
    return dict(a=i32 + z64, b=i32 * zd, c=f16 + zd, d=u8 + lib.tensor(-1, dtype=lib.int8),
                e=i32 * zh, f=zb + i32, g=lib.tensor(1, dtype=lib.int32) + z64,
                h=zd + zh, i=z64 + zb, j=f32 * zd, k=zb * zh, l=u8 + zb,
                m=lib.tensor([True]) + z64, n=lib.tensor(2, dtype=lib.int8) * u8,
                o=lib.tensor([1], dtype=lib.int8) * lib.tensor(300), p=z64 / z64)


@program
def numpy_scalar_operands(lib):
    f = lib.tensor([1.0, 2.0])
    i = lib.tensor([1, 2], dtype=lib.int32)
    h = lib.tensor([1.0, 2.0], dtype=lib.float16)
    return dict(a=f + np.float64(1.5), b=i * np.float64(2.5), c=i + np.int64(3),
                d=h * np.float32(2.0), e=f * np.int32(3), f=i + np.bool_(True),
                g=f > np.float64(1.5), h=lib.add(i, np.float32(0.5)), j=lib.mul(h, np.int8(2)),
                k=f.add(np.float16(1.0)), l=i.float() / np.int64(4))


@program
def numpy_scalar_on_the_left(lib):
    f = lib.tensor([1.0, 2.0])
    i = lib.tensor([1, 2], dtype=lib.int32)
    out = [np.float64(2.0) * f, np.int64(3) + i, np.float32(1.0) - f, np.float64(6.0) / f]
    return [(type(o).__name__.replace("minigrad", "torch").replace("Tensor", "T"), o.dtype)
            for o in out] + out


@program
def python_int_overflows_small_dtype(lib):
    a8 = lib.tensor([1, 2], dtype=lib.int8)
    u8 = lib.tensor([1, 2], dtype=lib.uint8)
    return dict(a=a8 + 127, b=u8 + 255, c=a8 * 100, d=u8 - 3)


@program
def python_int_wraps_into_int8(lib):
    return lib.tensor([1, 2], dtype=lib.int8) + 1000


@program
def python_int_wraps_into_int32(lib):
    return lib.tensor([1, 2], dtype=lib.int32) * 2**40


@program
def uint8_plus_negative_scalar(lib):
    return lib.tensor([1, 2], dtype=lib.uint8) + -1


@program
def float16_overflow(lib):
    h = lib.tensor([60000.0, 1.0], dtype=lib.float16)
    return dict(a=h * 2, b=h + 60000, c=h * 2.0, d=lib.tensor([1e5]).half(), e=-h * 3,
                f=h.float() * 2, g=(h * 2).isinf(), h=lib.tensor([1e-8]).half())


# ----------------------------------------------------------------------------------------------
# in-place ops that would need a downcast
# ----------------------------------------------------------------------------------------------
@program
def inplace_same_category(lib):
    i32 = lib.tensor([1, 2], dtype=lib.int32)
    i32 += lib.tensor([10, 20])
    u8 = lib.tensor([250, 3], dtype=lib.uint8)
    u8 += lib.tensor([10, -5], dtype=lib.int8)
    h = lib.tensor([1.0, 2.0], dtype=lib.float16)
    h *= lib.tensor([1.5, 2.5], dtype=lib.float64)
    f = lib.tensor([1.0, 2.0])
    f += lib.tensor([1, 2])
    f += True
    i = lib.tensor([7, -7])
    i //= 2
    j = lib.tensor([7, -7])
    j %= 3
    k = lib.tensor([5, 6])
    k.div_(2, rounding_mode="floor")
    b = lib.tensor([True, False])
    b &= lib.tensor([True, True])
    b |= False
    c = lib.tensor([1, 2], dtype=lib.int8)
    c <<= 3
    return dict(i32=i32, u8=u8, h=h, f=f, i=i, j=j, k=k, b=b, c=c)


@program
def iadd_float_scalar_to_long_err(lib):
    i = lib.tensor([1, 2])
    i += 1.5
    return i


@program
def imul_float_tensor_to_long_err(lib):
    i = lib.tensor([1, 2])
    i *= lib.tensor(2.5)
    return i


@program
def itruediv_long_err(lib):
    i = lib.tensor([4, 2])
    i /= 2
    return i


@program
def iadd_int_to_bool_err(lib):
    b = lib.tensor([True, False])
    b += 1
    return b


@program
def add_out_downcast_err(lib):
    i = lib.tensor([1, 2])
    return lib.add(i, 1.5, out=i)


@program
def mul_inplace_int32_by_float_err(lib):
    return lib.tensor([1, 2], dtype=lib.int32).mul_(1.5)


@program
def pow_inplace_int_half_err(lib):
    return lib.tensor([4, 9]).pow_(0.5)


@program
def clamp_inplace_int_float_bound_err(lib):
    return lib.tensor([1, 5, 9]).clamp_(2.5, 7.5)


@program
def sub_inplace_bool_err(lib):
    return lib.tensor([True]).sub_(lib.tensor([1]))


@program
def copy_across_dtypes(lib):
    i = lib.zeros(3, dtype=lib.int64)
    i.copy_(lib.tensor([1.9, -1.9, 2.5]))
    b = lib.zeros(3, dtype=lib.bool)
    b.copy_(lib.tensor([0.0, 0.1, -2.0]))
    u = lib.zeros(2, dtype=lib.uint8)
    u.copy_(lib.tensor([256 + 7, -1]))
    h = lib.zeros(2, dtype=lib.float16)
    h[0] = 1 / 3
    h[1] = lib.tensor(7, dtype=lib.int32)
    f = lib.zeros(2)
    f[:] = lib.tensor([True, False])
    i2 = lib.zeros(2, dtype=lib.int32)
    i2[0] = 3.9
    i2[1] = -3.9
    return dict(i=i, b=b, u=u, h=h, f=f, i2=i2)


@program
def fill_int_with_float(lib):
    i = lib.zeros(3, dtype=lib.int64)
    i.fill_(2.7)
    b = lib.zeros(2, dtype=lib.bool)
    b.fill_(0.5)
    m = lib.tensor([1, 2, 3]).masked_fill(lib.tensor([True, False, True]), 9.9)
    return dict(i=i, b=b, m=m, z=lib.tensor([1, 2]).zero_())


# ----------------------------------------------------------------------------------------------
# integer division and remainder
# ----------------------------------------------------------------------------------------------
@program
def division_sign_rules(lib):
    a = lib.tensor([7, -7, 7, -7, 0])
    b = lib.tensor([2, 2, -2, -2, 3])
    fa, fb = a.double(), b.double()
    return dict(fd=lib.floor_divide(a, b), rem=lib.remainder(a, b), fm=lib.fmod(a, b),
                tr=lib.div(a, b, rounding_mode="trunc"), fl=lib.div(a, b, rounding_mode="floor"),
                td=lib.true_divide(a, b), ffd=fa // fb, frem=fa % fb, ffm=lib.fmod(fa, fb),
                mod_op=a % b, rem_s=lib.remainder(a, -3), fm_s=lib.fmod(a, -3),
                rem_f=lib.remainder(a, 2.5), fm_f=lib.fmod(a, 2.5), rs=lib.remainder(5, b),
                i8=lib.tensor([-128], dtype=lib.int8) // lib.tensor([3], dtype=lib.int8),
                u8=lib.tensor([200], dtype=lib.uint8) % lib.tensor([7], dtype=lib.uint8))


@program
def float_division_by_zero(lib):
    f = lib.tensor([1.0, -1.0, 0.0])
    i = lib.tensor([1, -1, 0])
    return dict(a=f / 0, b=i / 0, c=f // 0, d=f % 0, e=lib.fmod(f, 0.0), f=i / lib.tensor(0),
                g=lib.remainder(f, lib.zeros(3)), h=i.float() // 0.0,
                j=lib.div(f, 0, rounding_mode="trunc"), k=lib.div(f, 0, rounding_mode="floor"))


@program
def int_floordiv_zero_tensor_err(lib):
    return lib.tensor([4, 5]) // lib.tensor([1, 0])


@program
def int_remainder_zero_err(lib):
    return lib.tensor([4, 5]) % 0


@program
def int_fmod_zero_err(lib):
    return lib.fmod(lib.tensor([4, 5], dtype=lib.int32), 0)


@program
def int_trunc_div_zero_err(lib):
    return lib.div(lib.tensor([4, 5]), lib.tensor([0, 1]), rounding_mode="trunc")


@program
def bad_rounding_mode_err(lib):
    return lib.div(lib.tensor([4, 5]), 2, rounding_mode="round")


@program
def true_divide_of_ints(lib):
    i8 = lib.tensor([5, -5], dtype=lib.int8)
    u8 = lib.tensor([5, 6], dtype=lib.uint8)
    b = lib.tensor([True, False])
    return dict(a=i8 / i8, b=u8 / 2, c=b / lib.tensor([2, 2]), d=lib.true_divide(u8, 4),
                e=lib.tensor([1, 2]) / lib.tensor([3, 3], dtype=lib.int32),
                f=lib.tensor([1, 2]).div(3),
                g=lib.tensor([10]) / lib.tensor([4.0], dtype=lib.float16),
                h=lib.tensor(7) / 2, i=lib.divide(lib.tensor([9]), 4))


@program
def floordiv_bool_err(lib):
    return lib.tensor([True]) // lib.tensor([True])


# ----------------------------------------------------------------------------------------------
# pow of integers
# ----------------------------------------------------------------------------------------------
@program
def int_pow(lib):
    i = lib.tensor([-2, -1, 0, 1, 2, 3])
    e = lib.tensor([2, 3, 0, 5, 10, 3])
    u8 = lib.tensor([2, 16], dtype=lib.uint8)
    return dict(a=i ** 2, b=i ** 0, c=i ** 0.5, d=i ** 2.0, e=i ** e, f=2 ** e,
                g=u8 ** 2, h=lib.tensor([3], dtype=lib.int8) ** 5, j=i.pow(lib.tensor(2)),
                k=lib.pow(2.5, e), l=lib.pow(e, True), m=lib.tensor([True, False]) ** 2,
                n=i.float() ** -1, o=lib.tensor([2, 3], dtype=lib.int32) ** lib.tensor(2.0),
                p=lib.pow(-1, e))


@program
def int_pow_negative_tensor_exponent(lib):
    i = lib.tensor([1, -1, 2, 3])
    return i ** lib.tensor([-1, -1, -1, -2])


@program
def int_pow_negative_scalar_err(lib):
    return lib.pow(lib.tensor([1, 2], dtype=lib.int32), -2)


@program
def scalar_int_base_negative_exponent(lib):
    return lib.pow(2, lib.tensor([1, -1]))


# ----------------------------------------------------------------------------------------------
# bitwise and shifts
# ----------------------------------------------------------------------------------------------
@program
def bitwise_each_dtype(lib):
    out = {}
    for name, vals in [("uint8", [0b1100, 255, 1]), ("int8", [-1, 127, -128]),
                       ("int16", [-300, 7, 2]), ("int32", [-7, 5, 3]), ("int64", [-7, 5, 3])]:
        x = lib.tensor(vals, dtype=getattr(lib, name))
        y = lib.tensor([5, 6, 7], dtype=getattr(lib, name))
        out[name] = [x & y, x | y, x ^ y, ~x, x & 3, 6 | x, lib.bitwise_xor(x, 1),
                     lib.bitwise_not(x), x.bitwise_and(y)]
    b = lib.tensor([True, False, True])
    out["bool"] = [b & lib.tensor([True, True, False]), b | False, b ^ True, ~b,
                   lib.bitwise_not(b), b & 1, b ^ lib.tensor([1, 1, 1], dtype=lib.int8)]
    return out


@program
def shifts_each_dtype(lib):
    out = {}
    for name in ["uint8", "int8", "int16", "int32", "int64"]:
        x = lib.tensor([1, 3, 100], dtype=getattr(lib, name))
        out[name] = [x << 2, x >> 1, lib.bitwise_left_shift(x, 3), x.bitwise_right_shift(2),
                     x << lib.tensor([0, 1, 2], dtype=getattr(lib, name)), 1 << x % 4]
    n = lib.tensor([-8, -1, 7], dtype=lib.int32)
    out["neg"] = [n >> 1, n << 1, n >> 40, lib.tensor([1]) << 63, n >> lib.tensor([1, 0, 2])]
    return out


@program
def bitwise_float_err(lib):
    return lib.tensor([1.0]) & lib.tensor([1.0])


@program
def invert_float_err(lib):
    return ~lib.tensor([1.5])


@program
def shift_float_err(lib):
    return lib.tensor([1.0]) << 1


@program
def bitwise_int_and_float_scalar_err(lib):
    return lib.tensor([1, 2]) & 1.5


@program
def xor_bool_and_float_err(lib):
    return lib.tensor([True]) ^ lib.tensor([1.0])


# ----------------------------------------------------------------------------------------------
# comparisons
# ----------------------------------------------------------------------------------------------
@program
def comparisons_return_bool(lib):
    i = lib.tensor([1, 2, 3])
    f = lib.tensor([1.0, 2.5, 3.0])
    u8 = lib.tensor([0, 200], dtype=lib.uint8)
    b = lib.tensor([True, False])
    return dict(a=i == f, b=i < f, c=i >= 2.5, d=f != 2, e=b == 1, f=b > 0.5, g=u8 > 100,
                h=lib.eq(i, 2), j=lib.gt(i, lib.tensor(1.5)), k=lib.ne(b, b), l=i.le(2),
                m=lib.tensor([1], dtype=lib.int8) == lib.tensor([1], dtype=lib.uint8),
                n=lib.logical_and(i, f), o=lib.logical_xor(i, lib.tensor(0)), p=lib.logical_not(f),
                q=lib.tensor(2) == 2.0, r=lib.isin(i, lib.tensor([2.0, 3.5])),
                s=lib.tensor([0.1], dtype=lib.float16) == lib.tensor([0.1]))


@program
def uint8_compared_with_negative(lib):
    u8 = lib.tensor([0, 200], dtype=lib.uint8)
    return dict(a=u8 > -1, b=u8 == -56, c=u8 < 256, d=lib.tensor([-1], dtype=lib.int8) < 200)


# ----------------------------------------------------------------------------------------------
# reductions and their dtypes
# ----------------------------------------------------------------------------------------------
@program
def reduction_dtypes(lib):
    i8 = lib.tensor([[100, 100], [-3, 4]], dtype=lib.int8)
    u8 = lib.tensor([200, 200], dtype=lib.uint8)
    b = lib.tensor([[True, False], [True, True]])
    h = lib.tensor([1000.0, 2000.0], dtype=lib.float16)
    return dict(a=i8.sum(), b=i8.sum(1), c=b.sum(0), d=u8.prod(), e=i8.cumsum(0),
                f=b.cumprod(1), g=h.sum(), h=h.cumsum(0), i=i8.sum(dtype=lib.float32),
                j=i8.mean(dtype=lib.float64), k=lib.tensor([1.7, 2.6]).sum(dtype=lib.int32),
                l=i8.prod(1), m=lib.nansum(i8), n=i8.max(), o=u8.min(), p=b.any(), q=i8.all(1),
                r=i8.amax(0), s=lib.logsumexp(i8, 0), t=b.count_nonzero(), u=i8.abs().sum(),
                v=lib.sum(b, dim=1, keepdim=True), w=u8.cummax(0).values, x=h.mean(),
                y=lib.tensor([1, 2], dtype=lib.int32).sum(dtype=lib.int16),
                z=lib.cumsum(u8, 0, dtype=lib.uint8))


@program
def mean_int_dim_err(lib):
    return lib.tensor([[1, 2]]).mean(dim=0)


@program
def mean_bool_err(lib):
    return lib.tensor([True, False]).mean()


@program
def var_int_err(lib):
    return lib.tensor([1, 2, 3]).var()


@program
def std_int_err(lib):
    return lib.tensor([1, 2, 3]).std(dim=0)


@program
def softmax_int_err(lib):
    return lib.softmax(lib.tensor([1, 2]), dim=0)


@program
def norm_int_err(lib):
    return lib.tensor([3, 4]).norm()


@program
def median_quantile_int(lib):
    return dict(a=lib.tensor([3, 1, 2]).median(), b=lib.tensor([[3, 1, 2]]).median(1))


@program
def quantile_int_err(lib):
    return lib.quantile(lib.tensor([1, 2, 3]), 0.5)


@program
def index_result_dtypes(lib):
    i8 = lib.tensor([[3, -1, 7], [7, 0, 2]], dtype=lib.int8)
    h = lib.tensor([0.5, 2.0, 1.0], dtype=lib.float16)
    return dict(a=i8.argmax(), b=i8.argmin(1), c=i8.topk(2, 1), d=h.topk(1), e=h.sort(),
                f=i8.max(1), g=i8.min(0), h=h.argsort(), i=lib.nonzero(i8), j=i8.kthvalue(1, 1),
                k=lib.argwhere(h > 0.7), l=lib.tensor([True, False, True]).nonzero(),
                m=lib.tensor([False, True]).max(0), n=lib.unique(i8, return_inverse=True),
                o=lib.tensor([2, 0, 2]).bincount(), p=lib.searchsorted(h.sort().values, h),
                q=lib.tensor([1.0, 2.0], dtype=lib.float64).max(0))


# ----------------------------------------------------------------------------------------------
# conversions
# ----------------------------------------------------------------------------------------------
@program
def float_to_int_truncation(lib):
    x = lib.tensor([2.9, -2.9, 0.5, -0.5, 1e3])
    return dict(a=x.long(), b=x.int(), c=x.short(), d=x.char(), e=x.to(lib.int16),
                f=x.type(lib.int32), g=x.double().long(), h=x.half().long(),
                i=lib.tensor([255.9, 0.2]).byte(), j=x.bool(), k=x.long().bool(),
                l=lib.tensor([-0.0, float("nan"), float("inf")]).bool())


@program
def int_to_smaller_int_wraps(lib):
    i = lib.tensor([255, 256, -1, 300, -129, 2**31])
    return dict(a=i.to(lib.uint8), b=i.to(lib.int8), c=i.to(lib.int16), d=i.int(),
                e=lib.tensor([70000], dtype=lib.int32).short(), f=i.bool(), g=i.half(),
                h=lib.tensor([2**53 + 1]).double().long(), i=lib.tensor([2**24 + 1]).float().long())


@program
def nan_and_inf_to_int_no_warning(lib):
    x = lib.tensor([float("nan"), float("inf"), -float("inf"), 1.0])
    return [x.long().dtype, x.int().shape, x.to(lib.int16).dtype, x.bool()]


@program
def to_variants(lib):
    x = lib.tensor([1.5, 2.5])
    i = lib.tensor([1, 2], dtype=lib.int32)
    return dict(a=x.to(lib.float32) is x, b=x.to(lib.float64) is x, c=x.to(x) is x,
                d=x.to(i), e=x.to("cpu"), f=x.to(dtype=lib.int8), g=x.to("cpu", lib.int64),
                h=x.to(lib.float32, copy=True) is x, i=i.type(lib.int32) is i,
                j=x.to(device="cpu", dtype=lib.float16), k=x.to(lib.float64, non_blocking=True),
                l=x.type("torch.DoubleTensor"), m=x.type(lib.LongTensor), n=i.type(),
                o=x.to(float), p=x.to(int), q=x.to(bool), r=lib.zeros(2, dtype=float),
                s=lib.ones(1, dtype=int), t=lib.tensor([1], dtype=bool),
                u=x.new_tensor([1, 2]), v=x.int().float(), w=i.to(lib.tensor(1.0)))


@program
def to_bad_string_err(lib):
    return lib.tensor([1.0]).to("float64")


@program
def type_bad_string_err(lib):
    return lib.tensor([1.0]).type("float")


@program
def type_python_float_err(lib):
    return lib.tensor([1.0]).type(float)


@program
def type_numpy_type_err(lib):
    return lib.tensor([1.0]).type(np.float32)


@program
def python_types_of_items(lib):
    vals = [lib.tensor(3), lib.tensor(2.5), lib.tensor(True), lib.tensor(1, dtype=lib.uint8),
            lib.tensor(0.1, dtype=lib.float16), lib.tensor(0.1, dtype=lib.float64),
            lib.tensor([[7]], dtype=lib.int8), lib.tensor([0.1])]
    return dict(items=[v.item() for v in vals], types=[type(v.item()).__name__ for v in vals],
                lists=[v.tolist() for v in vals],
                nested=lib.tensor([[1, 2], [3, 4]], dtype=lib.int16).tolist(),
                bools=lib.tensor([[True], [False]]).tolist(),
                half=lib.tensor([0.1, 1 / 3], dtype=lib.float16).tolist(),
                f32=lib.tensor([0.1, 1 / 3]).tolist(), empty=lib.zeros(2, 0).tolist(),
                ints=[int(lib.tensor(-2.7)), int(lib.tensor([9], dtype=lib.uint8)),
                      float(lib.tensor(3)), bool(lib.tensor(0.0)), complex(lib.tensor(2.0))],
                idx=list(range(10))[lib.tensor(3, dtype=lib.int8)],
                fmt=f"{lib.tensor(7)} {lib.tensor(0.5):.3f} {lib.tensor(12):>4}")


@program
def int_of_multi_element_err(lib):
    return int(lib.tensor([1, 2]))


@program
def one_element_int_tensor_as_list_index(lib):
    return [1, 2, 3][lib.tensor([1])]


@program
def float_tensor_as_index_err(lib):
    return list(range(3))[lib.tensor(1.0, dtype=lib.float64)]


# ----------------------------------------------------------------------------------------------
# tensor / as_tensor / from_numpy dtype inference
# ----------------------------------------------------------------------------------------------
@program
def tensor_inference_lists(lib):
    return dict(a=lib.tensor([True, 1]), b=lib.tensor([True, 1.5]), c=lib.tensor([[1], [2.0]]),
                d=lib.tensor([[True, False], [0, 1]]), e=lib.tensor([1, 2.0, True]),
                f=lib.tensor([[[1]]]), g=lib.tensor(((1, 2), [3, 4])), h=lib.tensor(False),
                i=lib.tensor([-2**63]), j=lib.tensor(1e400), k=lib.tensor([float("nan")]),
                l=lib.tensor([2**62, 1.0]), m=lib.tensor([[], []]), n=lib.tensor([[[]]]),
                o=lib.tensor([1.5, 2], dtype=lib.int8), p=lib.tensor([True], dtype=lib.float16))


@program
def tensor_inference_numpy(lib):
    return dict(a=lib.tensor(np.array([1.0, 2.0])), b=lib.tensor(np.array([1, 2], dtype=np.int32)),
                c=lib.tensor(np.array([True, False])), d=lib.tensor(np.float32(1.5)),
                e=lib.tensor(np.int16(3)), f=lib.tensor(np.bool_(True)),
                g=lib.tensor([np.float64(1.5), 2]), h=lib.tensor([np.int32(1), np.int32(2)]),
                i=lib.tensor([1, np.float32(2.5)]),
                k=lib.tensor(np.array([[1, 2]], dtype=np.int8)),
                l=lib.tensor(np.array([1, 2], dtype=np.uint8)),
                m=lib.tensor(np.float64(2.5), dtype=lib.float16),
                n=lib.tensor(np.arange(3, dtype=np.int64), dtype=lib.float32),
                o=lib.tensor([np.float16(1.5)]), p=lib.tensor(np.array([1.5], dtype=np.float16)),
                q=lib.tensor([[np.int8(1), np.int16(2)]]), r=lib.tensor(np.array(7)))


@program
def as_tensor_and_from_numpy(lib):
    a64 = np.array([1.0, 2.0])
    a32 = np.array([1, 2], dtype=np.int32)
    t1 = lib.as_tensor(a64)
    t2 = lib.as_tensor(a64, dtype=lib.float32)
    t3 = lib.from_numpy(a32)
    a64[0] = 9.0
    a32[1] = -4
    x = lib.tensor([1, 2])
    return dict(t1=t1, t2=t2, t3=t3, t4=lib.as_tensor(x) is x,
                t5=lib.as_tensor(x, dtype=lib.float64),
                t6=lib.as_tensor(3.5), t7=lib.as_tensor([True, 2]), t8=lib.as_tensor((1.5,)),
                t9=lib.from_numpy(np.array([True, False])), t10=lib.from_numpy(np.float32([1.5])),
                t11=lib.from_numpy(np.array(3.0)), t12=lib.asarray([1, 2], dtype=lib.int8),
                t13=lib.from_numpy(np.array([1], dtype=np.int8)),
                t14=lib.from_numpy(np.array([1.5], dtype=np.float16)),
                t15=lib.as_tensor(np.float64(2.0)), t16=lib.as_tensor(np.int32(4)))


# torch lists complex and wider unsigned types minigrad does not have
@program(words="can't convert np.ndarray of type numpy.longdouble. "
               "The only supported types are:")
def from_numpy_longdouble_err(lib):
    return lib.from_numpy(np.array([1.0], dtype=np.longdouble))


@program(words="can't convert np.ndarray of type numpy.object_. "
               "The only supported types are:")
def from_numpy_object_err(lib):
    return lib.from_numpy(np.array([1, None], dtype=object))


@program
def tensor_of_none_err(lib):
    return lib.tensor([1, None])


@program
def tensor_overflow_err(lib):
    return lib.tensor(2**63)


@program
def tensor_overflow_in_list_err(lib):
    return lib.tensor([1, 2**64])


@program
def tensor_uint8_out_of_range_err(lib):
    return lib.tensor([300, -1], dtype=lib.uint8)


@program
def tensor_nan_to_int_err(lib):
    return lib.tensor(float("nan"), dtype=lib.int64)


@program
def tensor_of_tensor_warns(lib):
    t = lib.tensor([1.0, 2.0], requires_grad=True)
    c = lib.tensor(t)
    d = lib.tensor(lib.tensor(3), dtype=lib.float64)
    return dict(c=c, rg=c.requires_grad, leaf=c.is_leaf, d=d)


@program
def tensor_of_list_of_0d_tensors(lib):
    return dict(a=lib.tensor([lib.tensor(1), lib.tensor(2.5)]),
                b=lib.tensor([lib.tensor(1, dtype=lib.int8), 2]),
                c=lib.tensor([lib.tensor(True), lib.tensor(False)]),
                d=lib.tensor([lib.tensor(1.5, dtype=lib.float64)]))


# ----------------------------------------------------------------------------------------------
# printing
# ----------------------------------------------------------------------------------------------
@program
def repr_dtypes(lib):
    return dict(
        i8=repr(lib.tensor([-128, 0, 127], dtype=lib.int8)),
        i16=repr(lib.tensor([[1, -2], [300, 4]], dtype=lib.int16)),
        i64big=repr(lib.tensor([2**62, -1])),
        u8=str(lib.tensor([[0, 255]], dtype=lib.uint8)),
        b2=repr(lib.tensor([[True, False], [False, True]])),
        b0=repr(lib.tensor(False)),
        h=repr(lib.tensor([0.1, 65504, -1e-3], dtype=lib.float16)),
        h0=repr(lib.tensor(1.0, dtype=lib.float16)),
        hint=repr(lib.tensor([1.0, 2.0], dtype=lib.float16)),
        d0=repr(lib.tensor(1 / 3, dtype=lib.float64)),
        e16=repr(lib.zeros(0, dtype=lib.float16)),
        e_i=repr(lib.zeros(0, dtype=lib.int32)),
        e_b=repr(lib.zeros(3, 0, dtype=lib.bool)),
        e_d=repr(lib.zeros(0, 2, dtype=lib.float64)),
        i32_0=repr(lib.tensor(5, dtype=lib.int32)),
        f_inf=repr(lib.tensor([float("inf"), -float("inf")])),
        f_nan=repr(lib.tensor([float("nan")])),
        d_int=repr(lib.tensor([1.0, 100.0], dtype=lib.float64)),
    )


@program
def repr_float_formats(lib):
    return dict(
        small=repr(lib.tensor([1e-4, 1.0])),
        tiny=repr(lib.tensor([1e-10, 1e-12])),
        wide=repr(lib.tensor([0.001, 1000.0])),
        wider=repr(lib.tensor([0.001, 10000.0])),
        huge=repr(lib.tensor([1e8, 1.0])),
        big_int_like=repr(lib.tensor([1e8, 2e8])),
        mixed_nan=repr(lib.tensor([1.0, float("nan"), 1e9])),
        neg=repr(lib.tensor([[-1.5, 2.25], [3.125, -100.0]])),
        half_sci=repr(lib.tensor([1e-4, 100.0], dtype=lib.float16)),
        precise=repr(lib.tensor([1.23456789], dtype=lib.float64)),
        zeros=repr(lib.zeros(2, 2)),
        neg_zero=repr(lib.tensor(-0.0)),
        one_big=repr(lib.tensor(123456789.0)),
        one_small=repr(lib.tensor(1e-9)),
    )


@program
def repr_summarised(lib):
    return dict(
        i2d=repr(lib.arange(1200).reshape(30, 40)),
        b1d=repr(lib.arange(1500) % 3 == 0),
        f3d=repr(lib.arange(2000.0).reshape(10, 10, 20) / 3),
        h1d=repr(lib.arange(1001, dtype=lib.float16)),
        exactly=repr(lib.arange(1000)),
        over=repr(lib.arange(1001)),
        u8=repr(lib.arange(1200).to(lib.uint8)),
        long_row=str(lib.arange(100.0).reshape(2, 50)),
        cols=repr(lib.ones(3, 2000, dtype=lib.int8)),
    )


@program
def repr_autograd_suffixes(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    d = lib.tensor([1.0], dtype=lib.float64, requires_grad=True)
    y = (x * 2).sum()
    return dict(
        leaf=repr(x), leaf0=repr(lib.tensor(1.5, requires_grad=True)),
        mul=repr(x * 2), sum=repr(y), d=repr(d), dd=repr(d + 1),
        view=repr(x[0]), mean=repr(x.mean()), pw=repr(x ** 2), cast=repr(x.double()),
        empty=repr(lib.zeros(0, requires_grad=True)), det=repr(x.detach()),
        h=repr(lib.ones(2, dtype=lib.float16, requires_grad=True) * 3),
        nograd=repr(_nograd(lib, lambda: x * 2)), big=repr(lib.arange(2000.0, requires_grad=True)),
    )


def _nograd(lib, f):
    with lib.no_grad():
        return f()


@program
def printoptions(lib):
    x = lib.tensor([1 / 3, 2 / 3, 123.456])
    a = lib.arange(30.0)
    return dict(
        p0=_opts(lib, lambda: repr(x), precision=0),
        p10=_opts(lib, lambda: repr(x), precision=10),
        sci=_opts(lib, lambda: repr(x), sci_mode=True),
        sci_i=_opts(lib, lambda: repr(lib.tensor([1, 2])), sci_mode=True),
        sci_h=_opts(lib, lambda: repr(x.half()), sci_mode=True),
        nosci=_opts(lib, lambda: repr(lib.tensor([1e-10, 1e10])), sci_mode=False),
        short=_opts(lib, lambda: repr(x), profile="short"),
        short_big=_opts(lib, lambda: repr(a), profile="short"),
        full=_opts(lib, lambda: repr(lib.arange(1500)), profile="full"),
        thr=_opts(lib, lambda: repr(lib.arange(12).reshape(3, 4)), threshold=3),
        edge=_opts(lib, lambda: repr(lib.arange(24).reshape(6, 4)), threshold=3, edgeitems=1),
        lw=_opts(lib, lambda: repr(lib.arange(12.0).reshape(2, 6) * 1.5), linewidth=20),
        lw_i=_opts(lib, lambda: str(lib.arange(40)), linewidth=50),
        prec_d=_opts(lib, lambda: repr(x.double()), precision=6),
        prec_grad=_opts(lib, lambda: repr(x.requires_grad_() * 1), precision=1),
        after=repr(x),
    )


@program
def printoptions_bad_profile(lib):
    return _opts(lib, lambda: repr(lib.tensor([1.0])), profile="bogus")


# ----------------------------------------------------------------------------------------------
# finfo, iinfo, result_type, promote_types, can_cast
# ----------------------------------------------------------------------------------------------
@program
def finfo_iinfo_fields(lib):
    out = {}
    for name in ["float16", "float32", "float64"]:
        f = lib.finfo(getattr(lib, name))
        out[name] = [f.bits, f.eps, f.max, f.min, f.tiny, f.smallest_normal, f.resolution,
                     f.dtype]
    for name in ["uint8", "int8", "int16", "int32", "int64"]:
        i = lib.iinfo(getattr(lib, name))
        out[name] = [i.bits, i.max, i.min, i.dtype]
    out["eq"] = [lib.finfo(lib.float32).eps == lib.finfo().eps,
                 lib.finfo(lib.half).max, lib.iinfo(lib.long).max, lib.finfo(lib.double).bits,
                 lib.iinfo(lib.short).min, lib.finfo(lib.float).max]
    return out


@program
def finfo_of_int_err(lib):
    return lib.finfo(lib.int32)


@program
def iinfo_of_float_err(lib):
    return lib.iinfo(lib.float32)


@program
def iinfo_of_bool_err(lib):
    return lib.iinfo(lib.bool)


@program
def finfo_of_string_err(lib):
    return lib.finfo("float32")


@program
def result_type_cases(lib):
    t = lib.tensor
    return dict(
        a=lib.result_type(t([1], dtype=lib.uint8), t([1], dtype=lib.int8)),
        b=lib.result_type(t(1.0, dtype=lib.float64), t([1], dtype=lib.int32)),
        c=lib.result_type(t([True]), 1), d=lib.result_type(t([True]), 1.0),
        e=lib.result_type(t([1], dtype=lib.int16), t(1.5, dtype=lib.float16)),
        f=lib.result_type(t([1.0], dtype=lib.float16), 2**40),
        g=lib.result_type(2, t([1], dtype=lib.int8)), h=lib.result_type(1, 2.5),
        i=lib.result_type(True, False), j=lib.result_type(t(1), t(1.0)),
        k=lib.result_type(t([1], dtype=lib.uint8), True),
        l=lib.result_type(t(True), t([1], dtype=lib.uint8)),
        m=lib.result_type(3, 4),
    )


@program
def result_type_bad_arg_err(lib):
    return lib.result_type(lib.tensor([1]), "x")


@program
def promote_types_table(lib):
    names = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
    table = {}
    for a in names:
        for b in names:
            table[a + "/" + b] = lib.promote_types(getattr(lib, a), getattr(lib, b))
    return table


@program
def can_cast_table(lib):
    names = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
    return [[lib.can_cast(getattr(lib, a), getattr(lib, b)) for b in names] for a in names]


@program
def promote_types_python_types(lib):
    return [lib.promote_types(lib.float32, float), lib.promote_types(int, lib.int8),
            lib.promote_types(bool, lib.uint8), lib.can_cast(float, lib.int32),
            lib.can_cast(bool, int), lib.finfo(float).eps, lib.iinfo(int).max]


@program
def promote_types_bad_arg_err(lib):
    return lib.promote_types(lib.float32, "float64")


@program
def can_cast_bad_arg_err(lib):
    return lib.can_cast(lib.tensor([1.0]), lib.int32)


@program
def dtype_attributes(lib):
    names = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
    out = {}
    for n in names:
        d = getattr(lib, n)
        out[n] = [d.is_floating_point, d.is_signed, d.itemsize, d.is_complex, str(d), repr(d),
                  lib.tensor([], dtype=d).element_size()]
    out["aliases"] = [lib.float is lib.float32, lib.double is lib.float64, lib.half is lib.float16,
                      lib.long is lib.int64, lib.int is lib.int32, lib.short is lib.int16,
                      lib.float32 == lib.float, lib.float32 != lib.float64,
                      hash(lib.float32) == hash(lib.float)]
    return out


@program
def is_floating_point_and_friends(lib):
    ts = [lib.tensor([1]), lib.tensor([1.0]), lib.tensor([True]),
          lib.tensor([1], dtype=lib.float16)]
    return [[lib.is_floating_point(t), t.is_floating_point(), lib.is_tensor(t), t.is_signed(),
             lib.is_nonzero(t), t.dtype.is_floating_point] for t in ts]


# ----------------------------------------------------------------------------------------------
# the default dtype
# ----------------------------------------------------------------------------------------------
@program
def default_float64(lib):
    lib.set_default_dtype(lib.float64)
    i = lib.tensor([1, 2])
    return dict(a=lib.tensor([1.5]), b=lib.tensor([1]), c=lib.ones(2), d=lib.arange(0, 1, 0.5),
                e=lib.arange(3), f=i + 1.5, g=i / i, h=lib.linspace(0, 1, 3), j=lib.full((2,), 1.5),
                k=lib.full((2,), 2), l=lib.get_default_dtype(), m=lib.zeros_like(i),
                n=lib.tensor(np.float32([1.0])), o=lib.tensor([1.0], dtype=lib.float32) * 2.5,
                p=lib.tensor([1.0], dtype=lib.float32) + lib.tensor(2.0),
                q=i * lib.tensor(1.5, dtype=lib.float16), r=lib.tensor(3.5).dtype,
                s=lib.nn.Linear(2, 2).weight.dtype, t=lib.randn(2).dtype, u=lib.empty(1).dtype,
                v=lib.tensor([True]) * 0.5, w=lib.result_type(i, 1.0), x=lib.eye(2),
                y=lib.Tensor([1]), z=lib.as_tensor([2.5]), aa=lib.finfo().bits,
                bb=lib.zeros(1).new_tensor([1]), cc=lib.tensor(1).float().dtype,
                dd=lib.mean(i.to(lib.get_default_dtype())))


@program
def default_float16(lib):
    lib.set_default_dtype(lib.float16)
    return dict(a=lib.tensor([1.5]), b=lib.tensor([1]) / 3, c=lib.ones(1),
                d=lib.get_default_dtype(),
                e=lib.arange(0.0, 2.0))


@program
def default_int_err(lib):
    lib.set_default_dtype(lib.int32)


@program
def default_string_err(lib):
    lib.set_default_dtype("float64")


@program
def default_restored_after_program(lib):
    return dict(a=lib.get_default_dtype(), b=lib.tensor([1.5]), c=lib.tensor([1]) / 2)


# ----------------------------------------------------------------------------------------------
# more: numpy scalars, cast-error names, dtype arguments, printing edges, accumulation
# ----------------------------------------------------------------------------------------------
@program
def numpy_scalars_weigh_as_python_numbers(lib):
    i32 = lib.tensor([1, 2], dtype=lib.int32)
    u8 = lib.tensor([1, 2], dtype=lib.uint8)
    b = lib.tensor([True, False])
    return dict(a=i32 * np.float16(1.5), b=u8 + np.float32(0.5), c=b + np.int8(2),
                d=i32 + np.bool_(True), e=b * np.bool_(True), f=np.float16(2) - u8,
                g=lib.full((2,), np.int32(7)), h=lib.full((2,), np.float16(0.5)),
                i=lib.full((1,), np.bool_(True)), j=lib.arange(np.int32(3)),
                k=lib.result_type(i32, np.float16(1)), l=lib.result_type(np.int64(1), u8),
                m=lib.tensor([1.0], dtype=lib.float16).add(np.float64(2.0)))


@program
def iadd_double_to_long_err(lib):
    i = lib.tensor([1])
    i += lib.tensor([1.5], dtype=lib.float64)
    return i


@program
def iadd_half_to_short_err(lib):
    i = lib.tensor([1], dtype=lib.int16)
    i += lib.tensor([1.5], dtype=lib.float16)
    return i


@program
def iadd_float_to_char_err(lib):
    i = lib.tensor([1], dtype=lib.int8)
    i += 1.5
    return i


@program
def iadd_int_to_bool_names_err(lib):
    b = lib.tensor([True])
    b += lib.tensor([1], dtype=lib.int32)
    return b


@program
def div_inplace_half_to_short_err(lib):
    return lib.tensor([4], dtype=lib.int16).div_(2)


@program
def clamp_inplace_tensor_bound_err(lib):
    return lib.tensor([1], dtype=lib.int32).clamp_(lib.tensor(1.5))


@program
def clamp_inplace_int8_max_err(lib):
    return lib.tensor([1], dtype=lib.int8).clamp_(max=1.5)


@program
def div_inplace_rounding_modes(lib):
    a = lib.tensor([7, -7], dtype=lib.int32)
    a.div_(2, rounding_mode="floor")
    b = lib.tensor([7, -7])
    b.div_(lib.tensor([2, 2]), rounding_mode="trunc")
    c = lib.tensor([7.5, -7.5])
    c.div_(2, rounding_mode="trunc")
    d = lib.tensor([7.5, -7.5], dtype=lib.float16)
    d.div_(2, rounding_mode=None)
    return [a, b, c, d]


@program
def div_inplace_bad_rounding_mode_err(lib):
    return lib.tensor([5]).div_(2, rounding_mode="bad")


@program
def div_inplace_floor_float_divisor_err(lib):
    return lib.tensor([5], dtype=lib.int32).div_(2.5, rounding_mode="floor")


@program
def python_types_as_dtypes(lib):
    x = lib.tensor([1.5, -2.5])
    return dict(a=lib.zeros(2, dtype=float), b=lib.ones(2, dtype=int),
                c=lib.tensor([0, 2], dtype=bool),
                d=x.to(float), e=x.to(dtype=int), f=lib.arange(3, dtype=float),
                g=x.sum(dtype=float), h=lib.full((1,), 2, dtype=float), i=lib.empty(0, dtype=int),
                j=lib.tensor([1.0]).new_zeros(1, dtype=float), k=x.to(bool))


@program
def default_dtype_python_float_err(lib):
    lib.set_default_dtype(float)


@program
def default_dtype_numpy_err(lib):
    lib.set_default_dtype(np.float64)


@program
def default_dtype_none_err(lib):
    lib.set_default_dtype(None)


@program
def default_dtype_bool_err(lib):
    lib.set_default_dtype(lib.bool)


@program
def default_float64_python_float_dtype(lib):
    lib.set_default_dtype(lib.float64)
    return [lib.zeros(1, dtype=float), lib.tensor(1.5).to(float), lib.finfo().bits]


@program
def finfo_iinfo_objects(lib):
    f = lib.finfo(lib.float32)
    return dict(eq=f == lib.finfo(lib.float32), ne=f == lib.finfo(lib.float64),
                ieq=lib.iinfo(lib.int8) == lib.iinfo(lib.int8), other=f == 3,
                hashable=getattr(type(f), "__hash__", None) is not None,
                s=str(lib.iinfo(lib.int64)), s2=repr(lib.iinfo(lib.uint8)), s3=str(f),
                dt=[type(f.dtype).__name__, lib.iinfo(lib.int16).dtype],
                py=[lib.finfo(float).eps, lib.iinfo(int).min])


@program
def finfo_readonly_err(lib):
    lib.finfo(lib.float32).eps = 2.0


@program
def finfo_none_err(lib):
    return lib.finfo(None)


@program
def iinfo_tensor_err(lib):
    return lib.iinfo(lib.ones(1, dtype=lib.int32))


@program
def finfo_python_int_err(lib):
    return lib.finfo(int)


@program
def iinfo_python_float_err(lib):
    return lib.iinfo(float)


@program
def can_cast_bad_to_err(lib):
    return lib.can_cast(lib.int32, "int8")


@program
def result_type_none_err(lib):
    return lib.result_type(lib.ones(1), None)


@program
def argmax_bool_err(lib):
    return lib.tensor([False, True]).argmax()


@program
def argmin_bool_dim_err(lib):
    return lib.tensor([[True, False]]).argmin(1, keepdim=True)


@program
def maximum_with_number_err(lib):
    return lib.maximum(lib.tensor([1, 2]), 0.5)


@program
def minimum_number_first_err(lib):
    return lib.minimum(0.5, lib.tensor([1, 2]))


@program
def bool_of_empty_err(lib):
    return bool(lib.tensor([]))


@program
def float16_running_totals(lib):
    ones = lib.ones(3000, dtype=lib.float16)
    x = lib.full((30,), 1.5, dtype=lib.float16)
    return dict(a=ones.cumsum(0)[-3:], b=(x * 0.1).cumsum(0), c=x.cumprod(0)[-3:],
                d=lib.cumsum(ones.reshape(30, 100), 1)[:, -1], e=ones.sum(),
                f=lib.tensor([60000.0, 60000.0, -60000.0], dtype=lib.float16).cumsum(0))


@program
def dtypes_pickle_and_copy(lib):
    config = {"dtype": lib.float16, "others": [lib.int8, lib.bool]}
    loaded = pickle.loads(pickle.dumps(config))
    deep = copy.deepcopy(config)
    return [loaded["dtype"] is lib.float16, loaded["others"][1] is lib.bool,
            deep["others"][0] is lib.int8, copy.copy(lib.float64) is lib.float64,
            lib.zeros(1, dtype=loaded["dtype"])]


@program
def print_without_edge_items(lib):
    return dict(
        a=_opts(lib, lambda: repr(lib.arange(10)), threshold=5, edgeitems=0),
        b=_opts(lib, lambda: repr(lib.arange(20.0).reshape(4, 5)), threshold=5, edgeitems=0),
        c=_opts(lib, lambda: repr(lib.arange(4.0)), threshold=5, edgeitems=0),
        d=_opts(lib, lambda: repr(lib.arange(10.0, requires_grad=True) * 2), threshold=5,
                edgeitems=0),
        e=_opts(lib, lambda: repr(lib.arange(10, dtype=lib.int8)), threshold=5, edgeitems=0),
    )


@program
def getitem_grad_fn_names(lib):
    x = lib.ones(2, 3, 4, requires_grad=True)
    reads = [x[0], x[0, 1], x[0:1], x[:], x[...], x[None], x[..., 0], x[:, 0], x[0, 1:],
             x[::2], x[[0]], x[lib.tensor([True, False])], x[0, [0, 1]], x[None, 0], x[0, None],
             x[-1], x[:, :, -2:], x[1:, None], x[:, :], x[..., None], x[True], x[1:, 1:]]
    return [r.grad_fn.name() for r in reads] + [repr(x[0, 0, :2]), repr(x.double()[0, 0, 0])]


@program
def python_ints_past_int64_beside_floats(lib):
    return dict(a=lib.tensor([2**70, 1.5]), b=lib.tensor([[2**64, 1], [0.5, 2]]),
                c=lib.tensor([2**70, 1.5], dtype=lib.float16),
                d=lib.tensor([2**70, 1.5], dtype=bool),
                e=lib.tensor([0, 2**65], dtype=lib.bool))


@program
def python_int_past_int64_as_int_dtype_err(lib):
    return lib.tensor([2**70, 1.5], dtype=lib.int64)


@program
def device_string_with_digits_err(lib):
    return lib.zeros(1, device="cuda0")


# torch lists every device type it knows; minigrad the two it has
@program(words="device type at start of device string: gpu")
def device_string_unknown_err(lib):
    return lib.tensor([1.0]).to("gpu")


@program
def float16_times_scalar_in_float32(lib):
    h = lib.tensor([0.1, 1.5, 3.0, 2048.0, 0.0999], dtype=lib.float16)
    x = lib.tensor([0.1, 1.5, 3.0], dtype=lib.float16, requires_grad=True)
    (x * 0.1 / 0.3).sum().backward()
    z = lib.tensor(1.5, dtype=lib.float16, requires_grad=True)
    (z * 0.1).backward()
    v = h.clone()
    v *= 0.1
    w = h.clone()
    w.div_(0.3)
    return dict(a=h * 0.1, b=0.1 * h, c=h / 0.1, d=h * lib.tensor(0.1, dtype=lib.float64),
                e=h * lib.tensor(2049), f=h / lib.tensor([0.1]), g=h * 1e10, i=x.grad,
                j=z.grad, k=z * 0.1, l=v, m=w, n=h + 2049, o=0.1 / h, p=h * np.float64(0.1),
                q=lib.tensor(2.0, dtype=lib.float16) * lib.tensor(0.1), r=lib.mul(h, 0.7))


@program
def float_floor_division_from_fmod(lib):
    x = lib.tensor([1.0, -1.0, 7.5, -7.5, 3.0, -3.0])
    d = x.double()
    inf = float("inf")
    return dict(a=x // 0.1, b=lib.floor_divide(x, lib.tensor([0.1, 0.1, 2, 2, inf, inf])),
                c=lib.div(d, 0.1, rounding_mode="floor"), d=x.half() // 0.3,
                e=lib.tensor([-0.0, 0.0, -1e-30]) // 1, f=x // -0.1, g=7 // lib.tensor([0.1, -0.1]),
                h=lib.div(x, 0.1, rounding_mode="trunc"))


@program
def float_remainder_keeps_zero_sign(lib):
    x = lib.tensor([-0.0, 0.0, -3.0, 3.0, -6.0, 5.5])
    return dict(a=x % 3, b=lib.remainder(x, -3), c=x.half() % 3, d=x.double() % lib.tensor(3.0),
                e=repr(x % 3), f=lib.remainder(x, float("inf")),
                g=lib.remainder(-3.5, lib.tensor([2.0])))


@program
def integer_minimum_over_minus_one(lib):
    i8 = lib.tensor([-128, -1, 0, 1, 127], dtype=lib.int8)
    return dict(a=i8 // -1, b=lib.div(i8, -1, rounding_mode="trunc"), c=-i8, d=i8.abs(),
                e=lib.tensor([-2**63]) // -1)


@program
def cumsum_to_bool_err(lib):
    return lib.tensor([True, False]).cumsum(0, dtype=lib.bool)


@program
def cumprod_to_bool_err(lib):
    return lib.tensor([1, 2]).cumprod(0, dtype=lib.bool)


def _written(lib, dtype, value, how):
    t = lib.zeros(2, dtype=dtype)
    if how == "setitem":
        t[0] = value
    elif how == "fill":
        t.fill_(value)
    elif how == "full":
        t = lib.full((2,), value, dtype=dtype)
    else:
        t = t.masked_fill(lib.tensor([True, False]), value)
    return t


@program
def numbers_written_into_tensors(lib):
    cases = [("uint8", -1), ("uint8", -255), ("int8", -1), ("float16", 1e6), ("float16", -2**40),
             ("float16", float("nan")), ("bool", 2**40), ("bool", float("nan")), ("int64", 2**40),
             ("float32", 2**40), ("int32", 2.9), ("int16", -2.9), ("uint8", 255.5 - 0.5)]
    return {f"{how}-{name}-{value}": _written(lib, getattr(lib, name), value, how)
            for how in ("setitem", "fill", "full", "masked_fill") for name, value in cases
            # a finite number past float16's range: refused but by x[i] = v (programs below)
            if not (how != "setitem" and name == "float16" and 65504 < abs(value) < 1e400)}


@program
def float16_overflow_single_element_writes(lib):
    one = lib.zeros(1, dtype=lib.float16)
    one.fill_(1e6)
    return [one, lib.full((1,), -7e4, dtype=lib.float16), lib.full((), 1e300, dtype=lib.float16),
            lib.full((3,), float("inf"), dtype=lib.float16)]


@program
def float16_overflow_fill_err(lib):
    return lib.zeros(3, dtype=lib.float16).fill_(7e4)


@program
def float16_overflow_full_err(lib):
    return lib.full((2, 2), -1e6, dtype=lib.float16)


@program
def float16_overflow_masked_fill_err(lib):
    return lib.zeros(1, dtype=lib.float16).masked_fill(lib.tensor([True]), 1e5)


def _refused(name, value, how):
    def program(lib):
        return _written(lib, getattr(lib, name), value, how)
    program.__name__ = f"write_{how}_{name}_{value}_err".replace("-", "neg").replace(".", "_")
    return program


for _how in ("setitem", "fill", "full", "masked_fill"):
    for _name, _value in [("uint8", 300), ("uint8", -256), ("int8", 128), ("int32", 2**40),
                          ("int64", float("nan")), ("int16", float("inf")), ("float32", 1e300),
                          ("int64", 2**63)]:
        program(_refused(_name, _value, _how))
    program(_refused("int8", 2**64, _how))


@program
def cosine_similarity_of_ints_err(lib):
    return lib.nn.functional.cosine_similarity(lib.tensor([[1, 2]]), lib.tensor([[2, 4]]))


@program
def cosine_similarity_int_and_float(lib):
    return lib.nn.functional.cosine_similarity(lib.tensor([[1, 2]]), lib.tensor([[2.0, 4.5]]))


@program
def addcdiv_of_ints_err(lib):
    return lib.addcdiv(lib.tensor([1]), lib.tensor([1]), lib.tensor([2]))


@pytest.mark.parametrize("fn", PROGRAMS, ids=[f.__name__ for f in PROGRAMS])
def test_program_matches_torch(fn):
    error = _check(fn)
    # a program meant to run must run (an error in both libraries would check nothing)
    assert (error is not None) == fn.__name__.endswith("_err"), repr(error)
