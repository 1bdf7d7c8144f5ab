"""Round-19 fuzzing of tensor semantics (integer and bool arithmetic with Python numbers,
reductions of empty and 0-d tensors, advanced indexing and index writes, in-place ops, type
promotion, shape functions): differences from PyTorch found by running both side by side,
each case here run against torch in the test.

* logical_and / logical_or / logical_xor read their operands in the promoted dtype (a 0-d
  int64 256 beside a uint8 tensor is 0 there);
* in-place ops check the output's shape before the cast of the result to its dtype;
* var / std of no values are NaN whatever the correction;
* indexing a 0-d tensor: PyTorch's words for each kind of index; a zero slice step;
* several Ellipses in one index; a lone Python bool as the index of a write; a 0-d bool
  tensor index is no mask for the dtype check of a write; integers of a write's index are
  checked before its dtypes, a uint8 mask's shape before its refusal;
* shape functions' checks in PyTorch's order (narrow, split, permute, repeat, repeat_interleave),
  a negative repeat of an empty dim, narrow_copy's row-major result, view(dtype) by PyTorch's
  strides, roll of an empty tensor;
* in-place writes into a leaf that is itself a view (``arange(6.).reshape(2, 3)
  .requires_grad_()``) or into views of it: refused as PyTorch refuses them;
* searchsorted / bucketize / isin in the promoted dtype (bool refused); zeta of a number
  beside integers, of bfloat16; ldexp by integer exponents exactly, of complex by bool;
  round to decimals with PyTorch's scaling.
"""

import pytest

import minigrad  # noqa: F401  (agree runs the code on it)

torch = pytest.importorskip("torch")
from torch_agreement import agree, same_refusal  # noqa: E402

LIBS = (torch, minigrad)


def _write(index, value):
    """fn(lib, x): ``x[index] = value`` (value a function of lib or a number), returns x."""
    def fn(lib, x):
        x[index(lib) if callable(index) else index] = value(lib) if callable(value) else value
        return x
    return fn


# ---- logical ops: operands in the promoted dtype ----------------------------------------------
@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
@pytest.mark.parametrize("a, b", [
    ((256, "int64"), ([0, 1, 3], "uint8")),              # 256 is 0 as uint8
    ((-2 ** 63, "int64"), ([1, 2], "int32")),            # 0 as int32
    ((1e-50, "float64"), ([0.0, 1.0], "float32")),       # underflows to 0 in float32
    ((0.25, "float32"), ([0, 2], "uint8")),              # a float meets an integer: float
    (([0, 256], "int64"), ([1, 1], "uint8")),            # both dimensioned: int64, as it is
])
def test_logical_ops_in_the_promoted_dtype(name, a, b):
    def fn(lib):
        x = lib.tensor(a[0], dtype=getattr(lib, a[1]))
        y = lib.tensor(b[0], dtype=getattr(lib, b[1]))
        return getattr(lib, name)(x, y), getattr(lib, name)(y, x)
    agree(fn)


def test_logical_and_in_place_in_the_promoted_dtype():
    agree(lambda lib: lib.tensor([1, 2], dtype=lib.uint8).logical_and_(lib.tensor(256)))


# ---- in place: the output's shape is checked before the result's dtype -------------------------
@pytest.mark.parametrize("code", [
    "x8.floor_divide_(torch.tensor([0.0, -1.0, 2.5]))",
    "x8.remainder_(torch.tensor([1.5, 2.0]))",
    "x8.fmod_(torch.tensor([1.5, 2.0]))",
    "b2.__iand__(torch.tensor([1.0, 2.0, 3.0]))",
    "b2.__ilshift__(torch.tensor([1, 2, 3], dtype=torch.int32))",
    "b2.bitwise_or_(torch.tensor([[1], [2]], dtype=torch.int32))",
    "torch.tensor(1.0, dtype=torch.float16).__irshift__(torch.tensor([False]))",
    "torch.tensor([1j]).bitwise_left_shift_(torch.tensor([7.0, 7.0, 0.0]))",
])
def test_inplace_output_shape_checked_before_the_cast(code):
    def fn(lib):
        env = {"torch": lib, "x8": lib.tensor(-7, dtype=lib.int8),
               "b2": lib.tensor([True, False])}
        return eval(code, env)
    same_refusal(fn)


@pytest.mark.parametrize("code", [
    "torch.tensor([1, 2]).__iand__(torch.tensor([1.0, 2.0]))",     # the cast, shapes agreeing
    "torch.tensor([5, 6], dtype=torch.int8).floor_divide_(torch.tensor([2.0, 4.0]))",
])
def test_inplace_cast_refusal_still_raised(code):
    same_refusal(lambda lib: eval(code, {"torch": lib}))


# ---- var / std of no values: NaN, whatever the correction --------------------------------------
@pytest.mark.parametrize("name", ["var", "std", "var_mean", "std_mean"])
@pytest.mark.parametrize("correction", [-2, -1, 0, 1, 0.5])
@pytest.mark.parametrize("shape, dim", [((0,), None), ((2, 0), 1), ((0, 3), 0),
                                        ((2, 1, 0), None)])
def test_spread_of_no_values_is_nan(name, correction, shape, dim):
    agree(lambda lib: getattr(lib, name)(lib.zeros(shape), dim=dim, correction=correction))


def test_spread_of_no_complex_values_is_nan():
    agree(lambda lib: lib.std(lib.zeros((0, 3), dtype=lib.complex64), dim=0, correction=-1))


# ---- indexing a 0-d tensor: PyTorch's words for each kind of index -----------------------------
@pytest.mark.parametrize("index", [
    0, (0,), slice(1, None), (slice(None),), (None, 0), (Ellipsis, 0), (slice(None), None),
    [0], "tensor([0])", "tensor(0)", "tensor([True])"])
def test_index_of_a_0d_tensor_words(index):
    def pick(lib):
        return getattr(lib, "tensor")(eval(index[7:-1])) if isinstance(index, str) else index
    same_refusal(lambda lib: lib.tensor(1.0)[pick(lib)])

    def write(lib):
        x = lib.tensor(1.0)
        x[pick(lib)] = 2.0
    same_refusal(write)


@pytest.mark.parametrize("step", [0, -1])
def test_slice_step_words(step):
    same_refusal(lambda lib: lib.arange(4.0)[::step])


# ---- several Ellipses in one index -------------------------------------------------------------
@pytest.mark.parametrize("index", [
    (Ellipsis, Ellipsis), (Ellipsis, 0, Ellipsis), (0, 0, 0, Ellipsis, Ellipsis),
    (Ellipsis, None, Ellipsis), (None, Ellipsis, Ellipsis), (0, Ellipsis, Ellipsis),
    (Ellipsis, Ellipsis, Ellipsis)])
def test_several_ellipses(index):
    agree(lambda lib: lib.arange(6).reshape(3, 1, 2)[index])
    agree(lambda lib: _write(index, 7)(lib, lib.arange(6).reshape(3, 1, 2)))


def test_several_ellipses_with_an_index_tensor_and_gradient():
    def fn(lib):
        x = lib.arange(6.0, dtype=lib.float64).reshape(3, 1, 2).requires_grad_()
        out = x[..., lib.tensor([1, 0, 1]), ...]
        (out * lib.arange(9.0, dtype=lib.float64).reshape(out.shape)).sum().backward()
        return out, x.grad
    agree(fn)


# ---- a lone Python bool as the index of a write -----------------------------------------------
@pytest.mark.parametrize("value", [
    lambda lib: lib.ones(7), lambda lib: lib.ones(4, dtype=lib.int64),
    lambda lib: lib.tensor([1, 2, 3, 4]), 3, True, 2.5])
@pytest.mark.parametrize("index", [False, True])
def test_write_with_a_lone_bool_index(index, value):
    agree(lambda lib: _write(index, value)(lib, lib.zeros(4)))


@pytest.mark.parametrize("value", [[1, 2], 1j, None])
def test_write_with_false_still_checks_the_value(value):
    same_refusal(lambda lib: _write(False, value)(lib, lib.zeros(4)))


def test_write_with_true_gradient_and_leaf_refusal():
    def fn(lib):
        a = lib.zeros(3, dtype=lib.float64, requires_grad=True).clone()
        v = lib.ones(3, dtype=lib.float64, requires_grad=True)
        a[True] = v * 2
        (a * lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)).sum().backward()
        return a, v.grad
    agree(fn)
    same_refusal(lambda lib: _write(True, 1.0)(lib, lib.zeros(3, requires_grad=True)))


def test_write_with_false_into_a_leaf_requiring_grad_is_nothing():
    def fn(lib):
        x = lib.zeros(3, requires_grad=True)
        x[False] = 1.0
        return x.detach(), lib.tensor(x._version)
    agree(fn)


# ---- a 0-d bool tensor index: an index tensor for the dtype check ------------------------------
@pytest.mark.parametrize("mask", [True, False])
@pytest.mark.parametrize("value", [
    lambda lib: lib.tensor(1), lambda lib: lib.ones(1, dtype=lib.float64),
    lambda lib: lib.ones(4, dtype=lib.int64), lambda lib: lib.tensor(1.0)])
def test_write_through_a_0d_bool_tensor_needs_the_dtype(mask, value):
    agree(lambda lib: _write(lambda lib: lib.tensor(mask), value)(lib, lib.zeros(4)))


def test_write_through_a_bool_mask_with_one_value_still_converts():
    mask = [True, False, True, False]
    for value in (lambda lib: lib.ones(1, dtype=lib.int64), lambda lib: lib.tensor(1)):
        agree(lambda lib: _write(lambda lib: lib.tensor(mask), value)(lib, lib.zeros(4)))


# ---- a write's integers are checked before its dtypes ------------------------------------------
@pytest.mark.parametrize("index", [
    lambda lib: (3, lib.tensor([1])), lambda lib: (-4, lib.tensor([0, 1])),
    lambda lib: (lib.tensor([0]), 5)])
def test_write_integer_out_of_range_before_dtype_mismatch(index):
    same_refusal(lambda lib: _write(index, lambda lib: lib.tensor(2))(lib, lib.zeros(3, 4)))


def test_write_dtype_mismatch_with_integers_in_range():
    same_refusal(lambda lib: _write(lambda lib: (1, lib.tensor([1])),
                                    lambda lib: lib.tensor(2))(lib, lib.zeros(3, 4)))


# ---- shape functions: PyTorch's checks, in its order -------------------------------------------
@pytest.mark.parametrize("code", [
    "torch.zeros(3, 4).narrow(5, -5, -1)",          # the length before the dim
    "torch.zeros(4).split(-1, -2)",                 # a negative split_size before the dim
    "torch.zeros(0).split(-1)",
    "torch.zeros(4).split([-1, 5])",
    "torch.zeros(2, 3, 4).permute(0, 0, -4)",       # a duplicate before a later dim's range
    "torch.zeros(3, 4).permute(1, 1)",
    "torch.tensor(5).repeat_interleave(2, 0)",
    "torch.tensor(5).repeat_interleave(2, -1)",
    "torch.tensor(5).repeat_interleave(torch.tensor(2), 0)",
    "torch.tensor(5).repeat_interleave(torch.tensor([2]), -1)",
    "torch.zeros(2).repeat(-1)",
    "torch.zeros(2).repeat(3, -1)",
    "torch.zeros(2, 0).repeat(-1, -3, 3)",
    "torch.tile(torch.ones(2, 3, 4), (-2, 12))",
    "torch.zeros(2, 3, 4).repeat(-1)",              # too few repeats before their signs
])
def test_shape_function_refusals(code):
    same_refusal(lambda lib: eval(code, {"torch": lib}))


@pytest.mark.parametrize("code", [
    "torch.zeros(0).repeat(-1)", "torch.zeros(2, 0).repeat(-1, 3)",
    "torch.zeros(0, 2).repeat(1, -1, 1)", "torch.tile(torch.zeros(0), (12, 4, 12, -1))",
    "torch.zeros(4).split(0, 0)[0] if False else torch.zeros(0).split(0)",
])
def test_negative_repeat_of_an_empty_dim_is_empty(code):
    agree(lambda lib: eval(code, {"torch": lib}))


@pytest.mark.parametrize("make", [
    lambda lib: lib.arange(12.0).reshape(3, 4).t(),
    lambda lib: lib.arange(6.0).reshape(3, 1, 2).transpose(0, -1),
    lambda lib: lib.arange(24.0).reshape(2, 3, 4).permute(2, 0, 1),
])
def test_narrow_copy_is_row_major(make):
    def layout(lib):
        out = lib.narrow_copy(make(lib), 0, 0, 1)
        return out, lib.tensor(out.stride()), lib.tensor(out.is_contiguous())
    agree(layout)


def test_narrow_copy_gradient():
    def fn(lib):
        x = lib.arange(12.0, dtype=lib.float64).reshape(3, 4).requires_grad_()
        out = lib.narrow_copy(x.t(), 0, 1, 2)
        (out * lib.arange(6.0, dtype=lib.float64).reshape(2, 3)).sum().backward()
        return out, x.grad
    agree(fn)


# ---- view(dtype): PyTorch's strides decide -----------------------------------------------------
@pytest.mark.parametrize("code", [
    "torch.arange(12, dtype=torch.int16)[1:].view(torch.int32)",
    "torch.arange(12, dtype=torch.int16).reshape(3, 4)[:, :2].view(torch.int32)",
    "torch.arange(12, dtype=torch.int16).reshape(4, 3)[:, :2].view(torch.int32)",
    "torch.arange(12, dtype=torch.int16).reshape(6, 2)[::3].view(torch.int32)",
    "torch.arange(12, dtype=torch.int16).reshape(6, 2)[1:, :].view(torch.int32)",
    "torch.zeros(0, dtype=torch.bool).view(torch.float16)",
    "torch.zeros(2, 0, 3, dtype=torch.bool).view(torch.int32)",
    "torch.zeros(2, 0, 4, dtype=torch.bool).view(torch.int32)",
    "torch.zeros(0, 3, 4, dtype=torch.int16).view(torch.int64)",
    "torch.arange(0).view(torch.int32)",
    "torch.zeros(1, 3, dtype=torch.int64).t().view(torch.float16)",
    "torch.arange(8, dtype=torch.int16).reshape(4, 2)[:, :1].view(torch.int8)",
    "torch.arange(4, dtype=torch.int16)[::2].unsqueeze(-1).view(torch.int8)",
])
def test_view_as_dtype_of_layouts(code):
    def fn(lib):
        out = eval(code, {"torch": lib})
        return out, lib.tensor(out.stride())
    agree(fn)


def test_view_as_dtype_of_a_size_one_last_dim_writes_through():
    def fn(lib):
        x = lib.zeros(4, dtype=lib.int16)[::2].unsqueeze(-1)
        x.view(lib.int8)[1, 1] = 1
        return x
    agree(fn)


# ---- in place on a view of a leaf: a leaf that is itself a view counts -------------------------
_VIEW_WRITES = [
    lambda v, lib: v.abs_(), lambda v, lib: v.add_(1), lambda v, lib: v.mul_(2),
    lambda v, lib: v.sub_(lib.ones(()), alpha=2), lambda v, lib: v.fill_(3),
    lambda v, lib: v.copy_(lib.ones(())), lambda v, lib: v.__setitem__(0, 5.0),
    lambda v, lib: v.index_fill_(-1, lib.tensor([0]), 2.0), lambda v, lib: v.t_(),
    lambda v, lib: v.squeeze_(), lambda v, lib: v.unsqueeze_(0), lambda v, lib: v.relu_(),
]
_VIEWS = [lambda x: x, lambda x: x[:, 1], lambda x: x.mT, lambda x: x.unsqueeze(0),
          lambda x: x[1:], lambda x: x.view(-1), lambda x: x.diagonal()]


@pytest.mark.parametrize("write", _VIEW_WRITES)
@pytest.mark.parametrize("view", _VIEWS)
def test_inplace_on_a_leaf_that_is_a_view(view, write):
    # reshape of a contiguous tensor is a view: the leaf that requires grad has a base
    def fn(lib):
        x = lib.arange(6.0, dtype=lib.float64).reshape(2, 3).requires_grad_()
        write(view(x), lib)
    same_refusal(fn)


@pytest.mark.parametrize("write", _VIEW_WRITES[:8])
@pytest.mark.parametrize("view", _VIEWS[1:])
def test_inplace_on_a_view_of_a_view_of_a_leaf(view, write):
    def fn(lib):
        x0 = lib.arange(6.0, dtype=lib.float64).reshape(2, 3).requires_grad_()
        write(view(x0.view(2, 3)), lib)
    same_refusal(fn)


def test_writes_into_views_of_plain_tensors_still_recorded():
    def fn(lib):
        w = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        buf = lib.zeros(6, dtype=lib.float64).reshape(2, 3)     # a view of a plain tensor
        buf[0] = w * 2
        buf[:, 1].mul_(w[:2])
        (buf * lib.arange(6.0, dtype=lib.float64).reshape(2, 3)).sum().backward()
        return buf, w.grad
    agree(fn)


def test_views_of_a_leaf_written_under_no_grad():
    def fn(lib):
        x = lib.arange(6.0, dtype=lib.float64).reshape(2, 3).requires_grad_()
        with lib.no_grad():
            x[:, 1].mul_(2)
            x.t_()
        (x * x).sum().backward()
        return x, x.grad
    agree(fn)


# ---- searchsorted / bucketize / isin: operands in the promoted dtype ---------------------------
@pytest.mark.parametrize("code", [
    "torch.searchsorted(torch.tensor([0, 1, 1]).bool(), -3)",         # int64: -3 first
    "torch.searchsorted(torch.tensor([0, 1, 1], dtype=torch.uint8), -3)",   # 253 last
    "torch.searchsorted(torch.tensor([0, 1, 2], dtype=torch.uint8), 2.5)",  # a float
    "torch.searchsorted(torch.tensor([0, 1]).bool(), 0.5)",
    "torch.searchsorted(torch.tensor([0, 1, 2], dtype=torch.int8), torch.tensor(300))",
    "torch.searchsorted(torch.tensor([0, 1]), torch.tensor([True]))",
    "torch.searchsorted(torch.tensor([0.0, 1.0, float('nan')]), torch.tensor([0.5, "
    "float('nan')]), right=True)",
    "torch.searchsorted(torch.tensor([[0.0, 1.0], [2.0, 3.0]]), torch.tensor([[0.5], [2]]))",
    "torch.bucketize(2.5, torch.tensor([0, 1, 2], dtype=torch.uint8))",
    "torch.bucketize(-3, torch.tensor([0, 1, 2], dtype=torch.uint8), right=True)",
    "torch.isin(torch.tensor([1], dtype=torch.uint8), 257)",         # 257 is 1 as uint8
    "torch.isin(torch.tensor([1], dtype=torch.uint8), torch.tensor([257]))",
    "torch.isin(torch.tensor([1, 0]), 1.5)",
    "torch.isin(torch.tensor([1, 2]), torch.tensor([2.0, 3.5]), invert=True)",
    "torch.isin(2, torch.tensor([1, 2]))",
])
def test_sorted_search_and_membership_in_the_promoted_dtype(code):
    agree(lambda lib: eval(code, {"torch": lib}))


@pytest.mark.parametrize("code", [
    "torch.searchsorted(torch.tensor([0, 1]).bool(), True)",
    "torch.searchsorted(torch.tensor([0, 1, 2]).bool(), torch.tensor([True]))",
    "torch.bucketize(torch.tensor([True]), torch.tensor([0, 1, 2]).bool())",
    "torch.isin(torch.tensor([True]), torch.tensor([True]))",
    "torch.isin(torch.tensor([1, 0]), torch.tensor([True]))",
    "torch.isin(True, torch.tensor([1.0, 0.0]))",
    "torch.isin(torch.tensor([1.0]), True)",
])
def test_sorted_search_and_membership_refuse_bool(code):
    same_refusal(lambda lib: eval(code, {"torch": lib}))


# ---- a number beside integers promoted to a float keeps its value ------------------------------
@pytest.mark.parametrize("code", [
    "torch.special.zeta(-3, torch.tensor([1, 0, 3], dtype=torch.uint8))",
    "torch.special.zeta(torch.tensor([1, 2], dtype=torch.uint8), -3)",
    "torch.special.zeta(torch.tensor([2, 3], dtype=torch.int8), 300)",
    "torch.special.zeta(torch.tensor([2, 3]), 2)",
])
def test_zeta_number_beside_integers(code):
    agree(lambda lib: eval(code, {"torch": lib}))


# ---- ldexp: a bool exponent of a complex input ------------------------------------------------
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_ldexp_complex_by_bool(dtype):
    agree(lambda lib: lib.view_as_real(lib.ldexp(
        lib.tensor([1.0 + 1j, 2.0], dtype=getattr(lib, dtype)), lib.tensor([True, False]))))


def test_ldexp_float_by_bool_still_refused():
    same_refusal(lambda lib: lib.ldexp(lib.tensor([1.0]), lib.tensor([True])))


# ---- ldexp of a real float by integer exponents: exact scaling ---------------------------------
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("exponents", [[-200, 3, 0], [32767, -2, 1], [-140, -130, 127]])
def test_ldexp_integer_exponent_is_exact(dtype, exponents):
    def fn(lib):
        x = lib.tensor([1e30, 0.0, -2.5], dtype=getattr(lib, dtype))
        out = lib.ldexp(x, lib.tensor(exponents))
        assert out.dtype == x.dtype
        return out.float() if dtype == "bfloat16" else out     # (numpy has no bfloat16)
    agree(fn)


def test_ldexp_integer_exponent_gradient():
    def fn(lib):
        x = lib.tensor([1e30, 3.0, -0.5], dtype=lib.float64, requires_grad=True)
        out = lib.ldexp(x, lib.tensor([-200, 2, 5]))
        (out * lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)).sum().backward()
        return out, x.grad
    agree(fn)


@pytest.mark.parametrize("code", [
    "torch.special.zeta(torch.tensor([1.0, 3.0], dtype=torch.bfloat16), torch.tensor(0))",
    "torch.special.zeta(2.0, torch.tensor([1.0], dtype=torch.bfloat16))",
])
def test_zeta_refuses_bfloat16(code):
    same_refusal(lambda lib: eval(code, {"torch": lib}))


# ---- round to decimals: PyTorch's scaling (half floats in float32) -----------------------------
@pytest.mark.parametrize("decimals", [-400, -3, -1, 0, 1, 2, 4, 400])
@pytest.mark.parametrize("dtype, values", [
    ("float16", [65504.0, 1.25, -0.0, 0.15, 1234.5678, 3.0e-5, float("nan"), -2.5]),
    ("float32", [3.4e38, 1.25, 0.15, -0.0, 2.5, 1e-30]),
    ("float64", [1.7e308, 1.25, 0.15, -2.5, 1234.5678]),
])
def test_round_to_decimals(dtype, values, decimals):
    agree(lambda lib: lib.round(lib.tensor(values, dtype=getattr(lib, dtype)),
                                decimals=decimals))


def test_round_to_decimals_bfloat16_and_gradient():
    agree(lambda lib: lib.round(lib.tensor([1.25, 0.15, 2.5e38], dtype=lib.bfloat16),
                                decimals=-1).float())

    def fn(lib):
        x = lib.tensor([1.234, -5.678], dtype=lib.float64, requires_grad=True)
        out = lib.round(x, decimals=1)
        out.sum().backward()
        return out, x.grad
    agree(fn)


# ---- roll of an empty tensor checks no dim -----------------------------------------------------
@pytest.mark.parametrize("code", [
    "torch.roll(torch.zeros(2, 0, 3), 2, 10)", "torch.roll(torch.zeros(2, 0, 3), (1, 2), (-7, 5))",
    "torch.roll(torch.zeros(2, 0, 3), 1)",
])
def test_roll_of_an_empty_tensor(code):
    agree(lambda lib: eval(code, {"torch": lib}))


@pytest.mark.parametrize("code", [
    "torch.roll(torch.zeros(2, 0, 3), (1, 2), (0,))", "torch.roll(torch.zeros(3), 1, 5)"])
def test_roll_refusals_still_raised(code):
    same_refusal(lambda lib: eval(code, {"torch": lib}))


# ---- a uint8 mask written with one value: the mask's shape is checked first --------------------
@pytest.mark.parametrize("mask, value", [([1], 5), ([1], True), ([1, 0, 1, 0], 5),
                                         ([1, 0, 1, 0], 2.5)])
def test_write_through_a_uint8_mask_checks_its_shape_first(mask, value):
    same_refusal(lambda lib: _write(lambda lib: lib.tensor(mask, dtype=lib.uint8),
                                    value)(lib, lib.arange(4.0)))


# ---- an advanced index picking nothing checks no index; a size-0 dim's words -------------------
@pytest.mark.parametrize("index", [
    lambda lib: lib.tensor([0, 2, -3]), lambda lib: [5], lambda lib: (slice(None), slice(None),
                                                                     lib.tensor([7])),
    lambda lib: (lib.tensor([5]), slice(1, None), lib.tensor([9]))])
def test_empty_advanced_pick_checks_no_index(index):
    def fn(lib):
        x = lib.arange(6.0, dtype=lib.float64)[:0].reshape(2, 0, 3).requires_grad_()
        out = x[index(lib)]
        out.sum().backward()
        return out, x.grad
    agree(fn)


@pytest.mark.parametrize("code", [
    "torch.zeros(0, 3)[torch.tensor([0])]", "torch.zeros(2, 0, 3)[1, [5]]",
    "torch.zeros(3, 0)[:, torch.tensor([0])]", "torch.zeros(3)[torch.tensor([3])]",
    "torch.zeros(2, 3)[torch.tensor([5])]"])
def test_out_of_range_index_words(code):
    same_refusal(lambda lib: eval(code, {"torch": lib}))


# ---- lerp_ of integers by a floating weight tensor: the float result is refused ----------------
@pytest.mark.parametrize("code", [
    "torch.tensor([1, 2]).lerp_(torch.tensor([1, 2]), torch.tensor(2.5))",
    "torch.tensor([1.0, 2.0]).lerp_(torch.tensor([1.0, 2.0]), torch.tensor([2.5 + 1j]))",
])
def test_lerp_inplace_result_cast_refused(code):
    same_refusal(lambda lib: eval(code, {"torch": lib}))


def test_lerp_inplace_of_floats_still_written():
    agree(lambda lib: lib.tensor([1.0, 2.0], dtype=lib.float16).lerp_(
        lib.tensor([3.0, 2.0]), lib.tensor(2.5, dtype=lib.float64)))


# ---- addcmul / addcdiv: ``value`` is a Number (a 0-d tensor is one) ----------------------------
@pytest.mark.parametrize("name", ["addcmul", "addcdiv", "addcmul_", "addcdiv_"])
@pytest.mark.parametrize("value", [lambda lib: lib.tensor([1.0]),
                                   lambda lib: lib.tensor([1.0, 2.0])])
def test_addc_value_tensor_refused(name, value):
    def fn(lib):
        x, t = lib.tensor([1.0, 2.0]), lib.ones(2)
        if name.endswith("_"):
            return getattr(x, name)(t, t, value=value(lib))
        return getattr(lib, name)(x, t, t, value=value(lib))
    same_refusal(fn)


@pytest.mark.parametrize("name", ["addcmul", "addcdiv", "addcmul_", "addcdiv_"])
@pytest.mark.parametrize("value", [lambda lib: lib.tensor(True), lambda lib: lib.tensor(2.5)])
def test_addc_value_0d_tensor_is_a_number(name, value):
    def fn(lib):
        x = lib.tensor([1.0, 2.0], dtype=lib.float16)
        t = lib.tensor([1.5, 2.0], dtype=lib.float16)
        if name.endswith("_"):
            return getattr(x, name)(t, t, value=value(lib))
        return getattr(lib, name)(x, t, t, value=value(lib))
    agree(fn)
