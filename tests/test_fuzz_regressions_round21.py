"""Round-21 fuzzing of tensor semantics in combination (type promotion with 0-d tensors and
Python numbers through binary, in-place and ``out=`` forms; reductions with dim lists,
keepdim and dtype; advanced indexing and index writes; views of empty tensors; tensor
creation; window functions; Python ints past 64 bits): differences from PyTorch found by
running both side by side, each case here run against torch in the test.

* a Python int past 64 bits is PyTorch's OverflowError as an operand anywhere a Number goes
  (alpha, pow, floor division, where, lerp, addcmul), its ValueError as a dim or an index,
  its TypeError as a size; add's alpha overflow names the C++ type (``int64_t``);
* an empty tensor's views keep PyTorch's strides (a transposed, sliced, permuted empty
  tensor reports what PyTorch's does);
* the window functions take PyTorch's overloads only (``hamming_window(5, alpha=0.5)`` is
  refused: alpha only after periodic) and an integer tensor length; LinAlgError's class is
  PyTorch's ``_LinAlgError``; ``F.interpolate`` refuses a tensor scale factor where the
  kernel gets it, as PyTorch's kernels do;
* complex operands of remainder / fmod / atan2 / copysign / xlogy are refused naming
  PyTorch's kernel, and comparisons name the promoted dtype;
* in place: the output's shape is checked before the kernel's dtypes (``floor_divide_``,
  ``gcd_``, ``hypot_``, comparisons, ``clamp_min_``, ``lerp_``, ``pow_``, ``addcmul_``);
  ``out=`` checks that the promoted dtype can be cast to out before the kernel; an op taking
  a Number first has no ``out=`` (remainder, bitwise ops); float_power's exact out dtype;
* ldexp: an integer input is multiplied by 2.0 ** other (0 * 2**200 is NaN), a bfloat16 one
  scaled exactly, the gradient is PyTorch's integer power of two; ldexp_ of an integer
  tensor is refused first;
* sum / prod of complex values into bool read the imaginary part; kthvalue's indices are
  row-major; ``sum(x, keepdim=True)`` (no dim) is refused, as std with unbiased and keepdim;
* indexing: too many indices are refused first, a number written is converted before the
  index is looked at, a uint8 mask beside a bool is an index_put, index_put's shape checks
  come before its dtype check, ``x0d[1]`` is out of range of a dim of size 0;
* ``torch.tensor`` takes ranges nested in a list; ``x.where(cond)`` words; full's words for
  a fill value that is no number.
"""

import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import agree, outcomes as _words, run, same_refusal  # noqa: E402

LIBS = (torch, minigrad)


# ---- Python ints past 64 bits ------------------------------------------------------------------
@pytest.mark.parametrize("code", [
    "torch.ones(2, dtype=torch.int64).add(1, alpha=2**64)",
    "torch.ones(2, dtype=torch.int64).add(1, alpha=-2**63-1)",
    "torch.ones(2, dtype=torch.int64).sub(1, alpha=2**64)",
    "torch.ones(2, dtype=torch.int64).add(1, alpha=2**63)",
    "torch.ones(2, dtype=torch.int32).add(torch.ones(2, dtype=torch.int32), alpha=2**40)",
    "torch.ones(2, dtype=torch.float16).add(torch.ones(2, dtype=torch.float16), alpha=2**40)",
    "torch.ones(2, dtype=torch.int64).pow(2**64)",
    "torch.ones(2, dtype=torch.int64).pow(-2**63-1)",
    "torch.ones(2, dtype=torch.int64) // 2**64",
    "torch.ones(2, dtype=torch.int64) // (-2**63-1)",
    "torch.ones(2, dtype=torch.int64).div(2**64, rounding_mode='floor')",
    "torch.where(torch.ones(2, dtype=torch.bool), 2**64, 0)",
    "torch.where(torch.ones(2, dtype=torch.bool), -2**63-1, 0)",
    "torch.ones(2).lerp(torch.ones(2), 2**64)",
    "torch.ones(2, dtype=torch.int64).addcmul(torch.ones(2, dtype=torch.int64), "
    "torch.ones(2, dtype=torch.int64), value=2**64)",
    "torch.empty(2**63)", "torch.zeros(2, 2**64)", "torch.zeros((1, -2**63-1))",
    "torch.full((2**63,), 1)", "torch.ones(2).new_zeros(2**64)",
    "torch.ones(2)[2**64]", "torch.ones(2)[2**63]", "torch.ones(2)[-2**63-1]",
    "torch.ones(2, 2)[0, 2**64]", "torch.ones(2, 2)[None, 2**64]",
    "torch.ones(2).sum(2**64)", "torch.ones(2).unsqueeze(2**64)", "torch.ones(2).softmax(2**64)",
    "r = torch.ones(2, dtype=torch.int64); r[0] = 2**64",
    "r = torch.ones(2, 2); r[0, 2**63] = 1",
])
def test_python_ints_past_64_bits(code):
    same_refusal(run(code))


@pytest.mark.parametrize("code", [
    "torch.ones(2, dtype=torch.int64).add(1, alpha=2**62)",
    "torch.ones(2, dtype=torch.int64) + 2**63",
    "torch.ones(2)[-2**63:]",
])
def test_python_ints_within_64_bits_still_work(code):
    agree(run(code))


# ---- strides of empty views ----------------------------------------------------------------------
@pytest.mark.parametrize("code", [
    "torch.zeros(0, 3)[:, 1:]", "torch.zeros(0, 3).t()", "torch.zeros(2, 0, 3).transpose(0, 2)",
    "torch.zeros(0).unsqueeze(0)", "torch.zeros(2, 0, 3).permute(2, 0, 1)",
    "torch.zeros(2, 0, 3).unsqueeze(1)", "torch.zeros(2, 0, 3)[..., ::2]",
    "torch.zeros(0, 6).diagonal()", "torch.zeros(6, 0).t().clone()",
    "torch.zeros(6, 0).t().contiguous()", "torch.zeros(6, 0).unfold(0, 2, 1)",
    "torch.zeros(2, 0, 3).movedim(0, 2)", "torch.zeros(2, 0, 3).mT",
    "torch.zeros(0, 5)[:, ::2]", "torch.zeros(2, 0, 3).select(2, 1)",
    "torch.zeros(2, 0, 3).transpose(0, 2).clone()", "torch.zeros(0, 3, 4).view(0, 12)",
])
def test_strides_of_empty_views(code):
    mine, theirs = agree(run(code))
    assert mine.stride() == theirs.stride()
    assert mine.is_contiguous() == theirs.is_contiguous()


# ---- window functions --------------------------------------------------------------------------
@pytest.mark.parametrize("code", [
    "torch.hamming_window(5, alpha=0.5)", "torch.hamming_window(5, beta=0.5)",
    "torch.hamming_window(5, False, beta=0.5)", "torch.hamming_window(5, 0.5)",
    "torch.hamming_window(5, True, 0.5, 0.5, 0.5)", "torch.hamming_window(5, None)",
    "torch.hamming_window(5, True, torch.tensor([0.5]))", "torch.hamming_window(5, True, 1+2j)",
    "torch.kaiser_window(5, beta=3.0)", "torch.kaiser_window(5, True, 'a')",
    "torch.hann_window(5, 0.5)", "torch.hann_window(5, periodic=None)",
    "torch.hann_window(5, foo=1)", "torch.hann_window(5, np.bool_(True))",
    "torch.hann_window(5, window_length=5)", "torch.hann_window()",
    "torch.hann_window(periodic=True)", "torch.blackman_window(5, False, 0.5)",
    "torch.bartlett_window(5, beta=0.5)", "torch.hann_window(5, dtype=torch.int64)",
    "torch.bartlett_window(5, dtype=torch.uint8)",
])
def test_window_overloads_refused(code):
    same_refusal(run(code))


@pytest.mark.parametrize("code", [
    "torch.hamming_window(5, periodic=False, alpha=0.5)",
    "torch.hamming_window(5, False, alpha=0.5, beta=0.4)",
    "torch.hamming_window(5, False, 0.5, beta=0.4)",
    "torch.hamming_window(5, True, 1)", "torch.hamming_window(5, True, True)",
    "torch.hamming_window(5, True, torch.tensor(0.5))",
    "torch.hamming_window(5, True, np.float32(0.5))",
    "torch.hamming_window(window_length=5, periodic=False)",
    "torch.kaiser_window(5, periodic=False, beta=3.0)", "torch.kaiser_window(5, False, beta=3)",
    "torch.hann_window(torch.tensor(5))", "torch.hann_window(np.int64(5))",
    "torch.hann_window(periodic=True, window_length=5)",
    "torch.bartlett_window(5, False, requires_grad=True)",
])
def test_window_overloads_taken(code):
    agree(run(code))


def test_linalg_error_class_name():
    assert minigrad.linalg.LinAlgError.__name__ == torch.linalg.LinAlgError.__name__
    assert repr(minigrad.linalg.LinAlgError("x")) == repr(torch.linalg.LinAlgError("x"))


@pytest.mark.parametrize("code", [
    "F.interpolate(torch.ones(1, 1, 4), scale_factor=torch.tensor(2.0))",
    "F.interpolate(torch.ones(1, 1, 4, 4), scale_factor=(torch.tensor(2.0), 3.0))",
    "F.interpolate(torch.ones(1, 1, 4, 4), scale_factor=torch.tensor(2), mode='bilinear')",
    "F.interpolate(torch.ones(1, 1, 4, 4), scale_factor=[torch.tensor(2.0)] * 2, "
    "mode='nearest-exact')",
])
def test_interpolate_tensor_scale_factor_refused(code):
    same_refusal(run(code))


@pytest.mark.parametrize("code", [
    "F.interpolate(torch.ones(1, 1, 4), scale_factor=torch.tensor(2.0), "
    "recompute_scale_factor=True)",
    "F.interpolate(torch.ones(1, 1, 4, 4), scale_factor=torch.tensor(2.0), mode='area')",
    "F.interpolate(torch.ones(1, 1, 4, 4), scale_factor=(np.float32(2.0), 3.0))",
])
def test_interpolate_tensor_scale_factor_taken(code):
    agree(run(code))


# ---- complex operands: PyTorch's kernel names ----------------------------------------------
@pytest.mark.parametrize("op", ["remainder", "fmod", "atan2", "copysign", "xlogy"])
@pytest.mark.parametrize("a, b", [
    ("torch.tensor([1+1j, 2j])", "torch.tensor([1.0, 2.0])"),
    ("torch.tensor([1.0, 2.0])", "torch.tensor([1j, 2.0])"),
    ("torch.tensor([1, 2])", "torch.tensor([1j, 2j], dtype=torch.complex128)"),
])
def test_complex_operands_name_the_kernel(op, a, b):
    same_refusal(run(f"torch.{op}({a}, {b})"))


@pytest.mark.parametrize("code", [
    "torch.tensor(1j).fmod_(torch.tensor(2.0))",
    "torch.tensor([1j]).remainder_(torch.tensor([2.0]))",
    "torch.lt(torch.tensor([[2.5, -3.0]], dtype=torch.float64), torch.tensor([1j, 0.5]))",
    "torch.ge(torch.tensor([0.5, 1.5]), torch.tensor(2+1j, dtype=torch.complex128))",
    "torch.tensor(200, dtype=torch.uint8).lt_(torch.tensor(2+1j, dtype=torch.complex128))",
    "torch.tensor([2j, 1.0], dtype=torch.complex128).lt_(torch.empty(0))",
    "torch.lt(torch.empty(0), torch.tensor([1j, 2j, 3j]))",
    "torch.floor_divide(torch.tensor([1j, 2j]), torch.empty(0))",
])
def test_complex_refusals_in_pytorch_order(code):
    same_refusal(run(code))


# ---- in place: the output's shape first --------------------------------------------------------
@pytest.mark.parametrize("method", [
    "floor_divide_", "remainder_", "fmod_", "atan2_", "copysign_", "hypot_", "nextafter_",
    "gcd_", "lcm_", "lt_", "ge_", "igamma_", "xlogy_", "clamp_min_", "clamp_max_", "__ipow__",
    "__imod__", "__ifloordiv__", "ldexp_"])
@pytest.mark.parametrize("target", ["torch.tensor(True)", "torch.tensor(1j)",
                                    "torch.tensor(2.5)", "torch.tensor(-5, dtype=torch.int8)"])
@pytest.mark.parametrize("other", ["torch.tensor([[-3, 0, 5]], dtype=torch.int8)",
                                   "torch.tensor([[1j, 2.0, 0j]])",
                                   "torch.tensor([[True, False, True]])"])
def test_inplace_output_shape_first(method, target, other):
    same_refusal(run(f"{target}.{method}({other})"))


@pytest.mark.parametrize("code", [
    "torch.tensor(True).lerp_(torch.tensor([[True, False, True]]), 0.5)",
    "torch.tensor(-5, dtype=torch.int8).lerp_(torch.tensor([[-3, 0, 5]], dtype=torch.int8), 0.5)",
    "torch.tensor(-5, dtype=torch.int8).lerp_(torch.tensor([[0.5, 1.0, 2.0]]), 0.5)",
    "torch.tensor(True).addcmul_(torch.tensor([[True, False]]), torch.tensor([[True, False]]))",
    "torch.tensor(2.5).heaviside_(torch.tensor([[1, 2]]))",
    "torch.tensor([1, 2], dtype=torch.int8).ldexp_(torch.tensor([1, 2]))",
    "torch.tensor([True]).ldexp_(torch.tensor([1]))",
    "torch.tensor([1.0]).ldexp_(2)",
    "torch.tensor([1.0, 2.0]).addmv_(torch.ones(2, 2), torch.ones(2))",
])
def test_inplace_check_order(code):
    (t_kind, _), (m_kind, _) = _words(run(code))
    if t_kind == "ok":
        agree(run(code))
    else:
        same_refusal(run(code))


# ---- out=: the cast checked before the kernel; Number-first forms have no out= -------------
@pytest.mark.parametrize("code", [
    "torch.remainder(torch.tensor(2+1j), torch.tensor([1.5, 2.0]), out=torch.empty(2, "
    "dtype=torch.int64))",
    "torch.floor_divide(torch.tensor([1j, 2.0]), True, out=torch.empty(2, dtype=torch.int8))",
    "torch.bitwise_and(torch.tensor([0.5, 1.5]), 2.5, out=torch.empty(2, dtype=torch.int64))",
    "torch.bitwise_and(torch.tensor(2+1j), np.bool_(True), out=torch.empty(2, dtype=torch.int64))",
    "torch.atan2(torch.tensor(2.0), torch.tensor([1j, 0.5]), out=torch.empty(2, dtype=torch.int8))",
    "torch.div(torch.tensor([1, 2]), torch.tensor([1j, 2j]), out=torch.empty(2))",
    "torch.floor_divide(torch.tensor([1j, 2j, 3j]), torch.empty(0), out=torch.empty(3))",
    "torch.sub(torch.tensor([True, False]), torch.empty(0, dtype=torch.int64), "
    "out=torch.empty(2, dtype=torch.float16))",
    "torch.remainder(3, torch.tensor([1, 2]), out=torch.empty(2, dtype=torch.int64))",
    "torch.bitwise_and(3, torch.tensor([1, 2]), out=torch.empty(2, dtype=torch.int64))",
    "torch.bitwise_left_shift(3, torch.tensor([1, 2]), out=torch.empty(2, dtype=torch.int64))",
    "torch.float_power(torch.tensor([2.0]), 2, out=torch.empty(1))",
    "torch.float_power(torch.tensor([2.0]), 2, out=torch.empty(1, dtype=torch.complex128))",
])
def test_out_refusals_in_pytorch_order(code):
    same_refusal(run(code))


@pytest.mark.parametrize("code", [
    "torch.pow(3, torch.tensor([1, 2]), out=torch.empty(2, dtype=torch.int64))",
    "torch.add(3, torch.tensor([1, 2]), out=torch.empty(2, dtype=torch.int64))",
    "torch.float_power(torch.tensor([2.0]), 2, out=torch.empty(1, dtype=torch.float64))",
    "torch.remainder(torch.tensor([5, 7]), 3, out=torch.empty(2, dtype=torch.float32))",
])
def test_out_still_taken(code):
    agree(run(code))


def test_where_method_without_other():
    same_refusal(lambda lib: lib.tensor([1.0, 2.0]).where(lib.tensor([True, False])))


# ---- ldexp ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("x, x_dtype", [([0, 1], "bool"), ([0, 3], "int64"), ([0, 1], "uint8"),
                                        ([0.0, 1.0], "bfloat16"), ([0.0, 1.0], "float16")])
@pytest.mark.parametrize("e_dtype", ["int32", "int64", "uint8"])
def test_ldexp_of_integers_and_16_bit_floats(x, x_dtype, e_dtype):
    def fn(L):
        return L.ldexp(L.tensor(x, dtype=getattr(L, x_dtype)),
                       L.tensor([200, 2], dtype=getattr(L, e_dtype)))
    mine, theirs = agree(lambda L: fn(L).float())
    assert str(fn(minigrad).dtype).split(".")[1] == str(fn(torch).dtype).split(".")[1]


@pytest.mark.parametrize("e_dtype", ["int8", "int16", "int32", "int64", "uint8"])
def test_ldexp_gradient_is_pytorchs_integer_power(e_dtype):
    def fn(L):
        x = L.tensor([0.0, 1.0, 3e38, 1e-38, 5.0, 5.0, 5.0], requires_grad=True)
        y = L.ldexp(x, L.tensor([100, 2, 1, -5, 7, 31, 63], dtype=getattr(L, e_dtype)))
        g, = L.autograd.grad(y.sum(), x)
        return y, g
    agree(fn)


def test_ldexp_broadcast_refused_first():
    same_refusal(lambda L: L.ldexp(L.empty(0, dtype=L.float16), L.tensor([-7, 0, 3])))


# ---- reductions ----------------------------------------------------------------------------------
@pytest.mark.parametrize("code", [
    "torch.prod(torch.tensor([[1+1j, 2j], [3.0, -1j]]), 1, dtype=torch.bool)",
    "torch.sum(torch.tensor([[2j, 0j]]), 1, dtype=torch.bool)",
    "torch.tensor([[2j, 0j], [0j, 0j]]).sum(dtype=torch.bool)",
])
def test_complex_reduced_into_bool(code):
    agree(run(code))


@pytest.mark.parametrize("dim, keepdim", [(0, False), (1, False), (0, True), (-1, True)])
def test_kthvalue_indices_row_major(dim, keepdim):
    mine, theirs = agree(lambda L: L.tensor([[2., 1, 5], [0, 3, 4]]).kthvalue(2, dim, keepdim))
    assert [t.stride() for t in mine] == [t.stride() for t in theirs]


@pytest.mark.parametrize("code", [
    "torch.sum(torch.ones(2, 2), keepdim=True)",
    "torch.prod(torch.ones(2, 2), keepdim=True)", "torch.mean(torch.ones(2, 2), keepdim=True)",
    "torch.sum(torch.ones(2, 2), keepdim=False, dtype=torch.float64)",
    "torch.std(torch.ones(2, 2), unbiased=False, keepdim=True)",
    "torch.var_mean(torch.ones(2, 2), unbiased=False, keepdim=True)",
    "torch.median(torch.ones(2, 2), keepdim=True)", "torch.ones(2, 2).nanmedian(keepdim=False)",
])
def test_keepdim_without_dim_refused(code):
    same_refusal(run(code))


@pytest.mark.parametrize("name", ["sum", "prod", "mean"])
def test_keepdim_without_dim_refused_by_the_method(name):
    # (PyTorch's method lists its arguments without the tensor: only the type is compared)
    (t_kind, _), (m_kind, _) = _words(lambda L: getattr(L.ones(2, 2), name)(keepdim=True))
    assert t_kind == m_kind == "TypeError"


@pytest.mark.parametrize("code", [
    "torch.sum(torch.ones(2, 2), dim=None, keepdim=True)", "torch.ones(2, 2).sum(0, keepdim=True)",
    "torch.std(torch.ones(2, 2), keepdim=True)",
    "torch.std(torch.ones(2, 2), correction=0, keepdim=True)",
    "torch.nansum(torch.ones(2, 2), keepdim=True)", "torch.amax(torch.ones(2, 2), keepdim=True)",
])
def test_keepdim_forms_still_taken(code):
    agree(run(code))


# ---- indexing ------------------------------------------------------------------------------------
@pytest.mark.parametrize("code", [
    "torch.zeros(3, 4)[torch.tensor([0.0]), 0, 0]",
    "torch.zeros(3, 4)[0, 0, torch.tensor([0.0])]",
    "torch.zeros(3, 4)[torch.ones(3, 4, dtype=torch.bool), torch.tensor([0.0])]",
    "torch.tensor(5.0)[torch.tensor([0.0]), 1]",
    "torch.tensor(5.0)[torch.tensor([0, 2], dtype=torch.int16)]",
    "torch.tensor([1, 2, 3])[[[0], [1]]]",
    "r = torch.zeros(3, 4); r[torch.tensor([0.0]), 0, 0] = 1.0",
    "r = torch.tensor([1, 2, 3], dtype=torch.uint8); r[0, 0] = 300",
    "r = torch.tensor(5.0); r[torch.tensor([0.0]), 3] = 1e300",
    "r = torch.zeros(2); r[torch.tensor([[True, True]]), 5] = 1j",
    "r = torch.zeros(2, dtype=torch.float16); r[0] = 1j",
    "r = torch.tensor([1, 2, 3], dtype=torch.uint8); r[[[0], [1]]] = torch.tensor([1.5, 2.5])",
    "r = torch.arange(6).reshape(2, 3); r[torch.tensor([0, 1]), torch.tensor([0, 1])] = "
    "torch.tensor([1.0, 2.0, 3.0])",
    "r = torch.arange(6).reshape(2, 3); r[torch.tensor([0, 1]), torch.tensor([0, 1, 2])] = "
    "torch.tensor([1.0, 2.0])",
    "r = torch.arange(24).reshape(2, 3, 4); r[torch.tensor([5])] = torch.tensor([1.0, 2.0])",
    "r = torch.zeros(0, 3, dtype=torch.int64); r[[0, -1]] = torch.tensor([1.5, 2.5])",
    "torch.tensor(5.0)[1]", "torch.tensor(5.0)[-1]", "torch.tensor(5.0)[np.int64(2)]",
    "r = torch.tensor(5.0); r[1] = 2.0",
    "r = torch.arange(6).reshape(2, 3); r[torch.tensor([1, 0], dtype=torch.uint8), ...] = 7",
])
def test_index_refusals_in_pytorch_order(code):
    same_refusal(run(code))


@pytest.mark.parametrize("code", [
    "r = torch.arange(6).reshape(2, 3); r[(torch.tensor([1, 0], dtype=torch.uint8), True)] = 7",
    "r = torch.arange(24).reshape(2, 3, 4); r[torch.tensor([1, 0], dtype=torch.uint8), "
    "torch.tensor([True, False, True])] = torch.tensor(7)",
    "r = torch.zeros(2, 3); r[0] = 1 + 0j",
    "r = torch.zeros(2, dtype=torch.bool); r[0] = 1j",
    "r = torch.tensor(5.0); r[0] = 2.0" if False else "torch.tensor(5.0)[...]",
])
def test_index_writes_still_taken(code):
    agree(run(code + ("; r = (r,)" if code.startswith("r = ") else "")))


# ---- creation ------------------------------------------------------------------------------------
@pytest.mark.parametrize("data", ["[range(2), range(2)]", "[range(2), [3, 4.5]]", "[[range(2)]]",
                                  "[range(0)]", "(range(3),)"])
def test_tensor_of_nested_ranges(data):
    agree(run(f"torch.tensor({data})"))


@pytest.mark.parametrize("fill", ["'a'", "None", "[1]"])
def test_full_fill_value_words(fill):
    same_refusal(run(f"torch.full((2,), {fill})"))


# ---- words of a few more refusals ------------------------------------------------------------
@pytest.mark.parametrize("code", [
    "torch.masked_scatter(torch.ones(2), torch.tensor([True, False]), 3)",
    "torch.masked_scatter(torch.ones(2), 3, torch.ones(2))",
    "torch.ones(2).masked_scatter_(torch.tensor([True, False]), 2.5)",
    "torch.ones(2).lerp_(2.5, 0.5)", "torch.ones(2).lerp_(True, torch.ones(2))",
    "torch.ones(2).lerp_(torch.ones(2), 'a')",
    "torch.tensor([float('nan'), 1.0]).histc(4)", "torch.tensor([float('inf'), 1.0]).histc(4)",
    "torch.ones(2).histc(4, min=float('nan'), max=1)",
    "torch.ones(2, dtype=torch.bool).histc(4)", "torch.ones(2, dtype=torch.int32).histc(4)",
    "torch.ones(2, dtype=torch.int32).histc(4, min=float('inf'), max=1.5)",
    "torch.ones(2, 2, dtype=torch.int32).renorm(2, 0, 1.0)",
    "torch.ones(2, 2, dtype=torch.bool).renorm(2, 0, 1.0)",
])
def test_more_refusal_words(code):
    same_refusal(run(code))


@pytest.mark.parametrize("op", ["fmax", "fmin", "maximum"])
@pytest.mark.parametrize("a, b", [("torch.ones(3, dtype=torch.complex64)", "torch.ones(2)"),
                                  ("torch.empty(0)", "torch.ones(1, 3, dtype=torch.complex64)"),
                                  ("torch.ones(3)", "torch.ones(2)")])
def test_order_of_complex_and_shape_refusals(op, a, b):
    same_refusal(run(f"torch.{op}({a}, {b})"))


@pytest.mark.parametrize("code", [
    "torch.tensor([[1+1j, 2j], [3.0, -1j]]).amax((0, 0))",
    "torch.tensor([[1+1j, 2j], [3.0, -1j]]).amin(5)",
    "torch.zeros(0, 2, dtype=torch.complex64).amax()",
    "r = torch.zeros(0, 3); r[np.array([0, 1])] = torch.tensor([1.0, 2.0, 3.0, 4.0])",
    "r = torch.zeros(0, 3); r[[0, -1]] = torch.tensor([])",
    "r = torch.zeros(2, 3); r[[0, 5]] = torch.tensor([1.0, 2.0])",
    "r = torch.zeros(2, 3); r[[0, 5], 1:] = torch.tensor([1.0, 2.0, 3.0])",
])
def test_dims_and_index_ranges_checked_first(code):
    same_refusal(run(code))


@pytest.mark.parametrize("code", [
    "torch.tensor([True, False, True]).masked_fill(torch.tensor([True, False, True]), 1j)",
    "r = torch.tensor([True, False]); r.masked_fill_(torch.tensor([True, True]), 2j); r = (r,)",
])
def test_complex_number_into_bool(code):
    agree(run(code))


@pytest.mark.parametrize("code", [
    "torch.sum(x, 1, out=o)", "torch.amax(x, 1, out=o)", "torch.std(x, 1, out=o)",
    "torch.prod(x, 1, out=o)", "torch.norm(x, dim=1, out=o)", "torch.mv(x, torch.ones(3), out=o)",
    "torch.var(x, 1, out=o)", "torch.nansum(x, 1, out=o)",
])
def test_expanded_out_resized_into_memory_of_its_own(code):
    def fn(lib):
        env = {"torch": lib, "x": lib.tensor([[1.0, -2.0, 3.0], [0.5, 0.0, -1.5]]),
               "o": lib.empty(1).expand(3)}
        r = eval(code, env)
        return r, env["o"]
    agree(fn)


@pytest.mark.parametrize("code", [
    "torch.logical_and(x, x, out=o)", "torch.eq(x, x, out=o)",
])
def test_out_requiring_grad_taken_by_ops_without_derivative(code):
    def fn(lib):
        x = lib.tensor([[1.0, 0.0], [2.0, 3.0]])
        o = lib.empty(2, 2, requires_grad=True)
        r = eval(code, {"torch": lib, "x": x, "o": o})
        return r, o
    agree(fn)


@pytest.mark.parametrize("code", ["torch.sort(torch.ones(2, 2), 1, stable=True)",
                                  "torch.argsort(torch.ones(2, 2), 0, stable=False)",
                                  "torch.sort(torch.ones(2, 2), 1, True, stable=True)"])
def test_sort_stable_takes_dim_by_keyword_only(code):
    same_refusal(run(code))


def test_sort_method_stable_takes_dim_by_keyword_only():
    # (the method's words list its arguments without the tensor: only the type is compared)
    (t_kind, _), (m_kind, _) = _words(lambda L: L.ones(2, 2).sort(1, stable=True))
    assert t_kind == m_kind == "TypeError"


@pytest.mark.parametrize("code", ["torch.sort(torch.tensor([[2., 1], [0, 3]]), stable=True, dim=0)",
                                  "torch.tensor([[2., 1], [1, 1]]).argsort(dim=1, stable=True)",
                                  "torch.tensor([[2., 1], [0, 3]]).sort(0, True)"])
def test_sort_stable_keyword_forms_taken(code):
    agree(run(code))


# ---- clamp with a complex number bound ------------------------------------------------------------
@pytest.mark.parametrize("code", [
    "torch.ones(3).clamp(min=1j)", "torch.ones(3, dtype=torch.float16).clamp(max=2j)",
    "torch.ones(3, dtype=torch.int64).clamp(min=1j)", "torch.ones(3, dtype=torch.bool).clamp(1j)",
    "torch.clamp(torch.ones(3), 0, 1 + 2j)",
])
def test_clamp_complex_number_bound_refused(code):
    same_refusal(run(code))


def test_clamp_complex_number_bound_without_imaginary_part():
    agree(run("torch.ones(3).clamp(min=1 + 0j, max=2)"))
