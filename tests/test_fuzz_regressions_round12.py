"""Regression tests for the round-12 fuzzer's finds (random programs of reductions, advanced
indexing, type promotion, shape ops and autograd through them, on adversarial inputs): each
case runs the same code on PyTorch and on minigrad and compares values, dtypes, shapes,
requires_grad, strides and contiguity where PyTorch's are observable, gradients and the
exception types."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import agree  # noqa: E402

_X = np.arange(12.0).reshape(3, 4) / 4 - 1


def _layout(lib, x):
    """The shape, strides and contiguity of each tensor of ``x`` (a tensor or a tuple)."""
    items = x if isinstance(x, tuple) else (x,)
    return [(tuple(t.shape), tuple(t.stride()), t.is_contiguous()) for t in items]


def _same_layout(fn):
    mine, theirs = fn(minigrad), fn(torch)
    assert _layout(minigrad, mine) == _layout(torch, theirs)


# ---- an augmented write through a view with a new dim (x[None] += 1): the view read back is
# ---- the same memory, laid out alike, and not a partial overlap -----------------------------
def _augmented(code):
    def run(lib):
        x = lib.tensor(_X)
        exec(code, {"x": x, "L": lib})
        return x
    return run


@pytest.mark.parametrize("code", [
    "x[None] += 1", "x[..., None] *= 2", "x[2:, None] -= L.ones(4, dtype=L.float64)",
    "x[:, None, 1:] /= 3", "x.t()[None] += x.t()[None]", "x[1][None, :, None] += 5",
    "x[None, ..., None][0, 1:] *= -1"])
def test_augmented_write_through_a_new_dim(code):
    agree(_augmented(code))


def test_partial_overlap_is_still_refused():
    def run(lib):
        x = lib.tensor(_X)
        x[1:] = x[:-1]
    agree(run, match="single memory location")


# ---- index_put_: one value through one bool mask is a masked fill, unless it accumulates ----
@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("value", [
    lambda L: L.tensor(2.0, dtype=L.float32), lambda L: L.tensor([[2.0]], dtype=L.float32),
    lambda L: L.tensor([[2.0]], dtype=L.float64), lambda L: L.tensor(3),
    lambda L: L.tensor([1.0, 2.0], dtype=L.float32)])
@pytest.mark.parametrize("mask", [[True, False, True], [[True, False, True, False]] * 3])
def test_index_put_masked_fill(mask, value, accumulate):
    def run(lib):
        x = lib.tensor(_X)
        return x.index_put_((lib.tensor(mask),), value(lib), accumulate=accumulate)
    agree(run)


# ---- index_put_ checks the index, then the value's shape, then the dtypes, then the bounds ----
@pytest.mark.parametrize("call", [
    lambda L: L.zeros(2, 3, dtype=L.float64).index_put_((L.tensor([5]),), L.tensor(1.0)),
    lambda L: L.zeros(2, 3, dtype=L.float64).index_put_((L.tensor([1]),), L.ones(4, 4)),
    lambda L: L.zeros(2, 3, dtype=L.float64).index_put_((L.tensor([True]),), L.ones(4, 4)),
    lambda L: L.zeros(2, 3, dtype=L.float64).index_put_((L.tensor([0, 1]),
                                                         L.tensor([0, 1, 1])), L.ones(4, 4)),
    lambda L: L.zeros(2, 0, dtype=L.float64).index_put_((L.tensor([], dtype=L.bool),),
                                                        L.tensor(1.0)),
    lambda L: L.zeros(0, 3, dtype=L.float64).index_put_((L.tensor([0]),), L.ones(3)),
    lambda L: L.zeros(2, 3, dtype=L.float64).index_put_((L.tensor([1]), L.tensor([-4])),
                                                        L.tensor(1.0, dtype=L.float64)),
    lambda L: L.zeros(2, 3, dtype=L.float64).index_put(
        (L.tensor([0, 0]), L.tensor([1, 1])), L.tensor([1.0, 2.0], dtype=L.float64),
        accumulate=True)])
def test_index_put_order_of_checks(call):
    agree(call)


# ---- a write into an empty part still depends on its value ---------------------------------
@pytest.mark.parametrize("index", [slice(0, 1), slice(1, 1), (slice(None), slice(0, 0)), 0])
def test_write_into_an_empty_part_keeps_the_value_in_the_graph(index):
    def run(lib):
        x0 = lib.zeros(2, 0, dtype=lib.float64, requires_grad=True)
        v = lib.tensor([[1.0]], dtype=lib.float64, requires_grad=True)
        x = x0 * 1.0
        x[index] = v
        return (x,) + lib.autograd.grad(x.sum(), [x0, v])
    agree(run)


# ---- advanced indexing gives a new row-major tensor (x[:, idx].view(-1) works) ---------------
@pytest.mark.parametrize("shape, index", [
    ((3, 4), lambda L: (slice(None), [0, 2])),
    ((3, 4), lambda L: (Ellipsis, L.tensor([2, 2]), None)),
    ((2, 3, 4), lambda L: (slice(None, 2), L.tensor([[1], [0]]), slice(None, None, 2), None)),
    ((3, 4), lambda L: (None, None, L.tensor([True, False, True]))),
    ((2, 3, 4), lambda L: (Ellipsis, [0])), ((2, 3, 4), lambda L: (slice(-1, None), [1, 2])),
    ((3, 4), lambda L: (None, Ellipsis, -1, [-1, 2])),
    ((3, 4), lambda L: (Ellipsis, slice(-3, None, 3), L.tensor([False, True, False, True]), None)),
    ((3, 1, 2), lambda L: (1, 0, None, Ellipsis, [-2, 1, -2])),
    ((2, 3, 4), lambda L: (slice(None), [0, 2], [1, 3]))])
def test_advanced_index_results_are_row_major(shape, index):
    def run(lib):
        return lib.arange(float(np.prod(shape))).reshape(shape)[index(lib)]
    _same_layout(run)
    agree(lambda L: run(L).view(-1))


def test_advanced_index_gradient_through_a_view_of_the_result():
    def run(lib):
        x = lib.tensor(_X, requires_grad=True)
        y = x[:, [0, 2, 2]].view(-1)
        return y, lib.autograd.grad((y * lib.arange(6.0, dtype=lib.float64)).sum(), x)[0]
    agree(run)


# ---- an index with integers and arrays, and an empty value: laid out as PyTorch's result -----
@pytest.mark.parametrize("value", [(0, 3), (3, 0), (2,)])
@pytest.mark.parametrize("rows", [slice(2, 0), slice(0, 2)])
def test_integers_and_arrays_write_with_an_empty_value(rows, value):
    def run(lib):
        x = lib.zeros(3, 1, 2, dtype=lib.float64)
        x[rows, [0, -1, 0], ..., -1] = lib.zeros(value, dtype=lib.float64)
        return x
    agree(run)


# ---- comparisons are made in the promoted dtype (a 0-d tensor of another dtype included) ------
@pytest.mark.parametrize("op", ["eq", "ne", "lt", "le", "gt", "ge"])
@pytest.mark.parametrize("a, b", [
    (([1, 200, 3], "uint8"), (-3, "int16")), (([1, 200, 3], "uint8"), (-56, "int8")),
    (([1.5, 2.0], "float16"), (1.5000001, "float64")), (([0.1], "float32"), (0.1, "float64")),
    (([16777217], "int64"), ([16777216.0], "float32")), (([1.0, 2.0], "bfloat16"),
                                                         (1.001, "float64")),
    (([1.0, 2.0], "bfloat16"), ([1.001, 2.0], "float64")), (([1, 2], "int8"), (258, "int64")),
    (([True, False], "bool"), (0.5, "float64")), (([-1, 5], "int32"), ([255, 5], "uint8"))])
def test_comparisons_in_the_promoted_dtype(op, a, b):
    def run(lib):
        x, y = (lib.tensor(v, dtype=getattr(lib, d)) for v, d in (a, b))
        return getattr(lib, op)(x, y), getattr(lib, op)(y, x)
    agree(run)


@pytest.mark.parametrize("number", [1.0000000001, 0.1, -56, 200, 258, True])
@pytest.mark.parametrize("dtype", ["int64", "uint8", "int8", "float32", "float16", "bool"])
def test_comparisons_with_a_number(number, dtype):
    agree(lambda L: (L.tensor([1, 0, 200], dtype=getattr(L, dtype)) == number,
                     L.tensor([1, 0, 200], dtype=getattr(L, dtype)) < number))


# ---- addcmul/addcdiv compute in the promoted dtype of their three tensors -------------------
_A = np.array([[0.7, -1.3, 2.2], [1.7, 0.25, -2.6]])


def _t(lib, values, dtype):
    a = np.asarray(values)
    if dtype in ("int8", "int64"):
        a = np.round(3 * a)
    return lib.tensor(a).to(getattr(lib, dtype))


@pytest.mark.parametrize("dtypes", [("float64", "float16", "int8"),
                                    ("float64", "bfloat16", "float32"),
                                    ("float32", "int64", "bfloat16"),
                                    ("float64", "int8", "float16"),
                                    ("float16", "float16", "float16")])
@pytest.mark.parametrize("value", [1, 0.5, -2, False, True])
@pytest.mark.parametrize("name", ["addcmul", "addcdiv"])
def test_addcmul_addcdiv_promoted_dtype(name, value, dtypes):
    def run(lib):
        x = _t(lib, _A, dtypes[0])
        a, b = _t(lib, _A[0, 1] + 0.1, dtypes[1]), _t(lib, _A[::-1] + 3.1, dtypes[2])
        return getattr(lib, name)(x, a, b, value=value), getattr(x.clone(), name + "_")(
            a, b, value=value)
    agree(run)


def test_addcdiv_complex_value_into_a_float_result():
    agree(lambda L: L.addcdiv(L.tensor([1.0]), L.tensor(2.0, dtype=L.bfloat16),
                              L.tensor(3, dtype=L.int8), value=1 + 2j))


def test_addcdiv_gradients_in_the_promoted_dtype():
    def run(lib):
        x = lib.tensor(_A, requires_grad=True)
        a = lib.tensor([1.5, -2.0, 0.5], dtype=lib.float64, requires_grad=True)
        y = lib.addcdiv(x, a, lib.tensor([4, 1, 2], dtype=lib.float16), value=0.5)
        return (y,) + lib.autograd.grad((y * lib.tensor(_A[::-1].copy())).sum(), [x, a])
    agree(run)


# ---- clamp: the bounds broadcast with each other; a 0-d tensor bound beside a number is one ----
@pytest.mark.parametrize("call", [
    lambda L: L.clamp(L.tensor(1), L.zeros(0, dtype=L.int32), L.zeros(2, 3, dtype=L.int64)),
    lambda L: L.clamp(L.tensor(1.0), L.zeros(3), L.zeros(2, 1)),
    lambda L: L.tensor(1.0).clamp_(L.zeros(0), L.zeros(2, 3)),
    lambda L: L.clamp(L.tensor([True, False]), L.tensor(0.5, dtype=L.float64), float("nan")),
    lambda L: L.clamp(L.tensor([1, 5], dtype=L.int32), L.tensor(0.5, dtype=L.float64), 3),
    lambda L: L.clamp(L.tensor([1, 5], dtype=L.int32), 2, L.tensor(3.5, dtype=L.float64)),
    lambda L: L.clamp(L.tensor([1.0, 5], dtype=L.float16), L.tensor(2.0, dtype=L.float64), 3),
    lambda L: L.tensor([1, 5], dtype=L.int32).clamp_(L.tensor(0.5, dtype=L.float64), 3),
    lambda L: L.tensor([1, 5], dtype=L.int32).clamp_(L.tensor(2, dtype=L.int64), 3)])
def test_clamp_bounds(call):
    agree(call, match=None)


# ---- unsqueeze and expand: PyTorch's strides for the size-1 and new dims ---------------------
@pytest.mark.parametrize("make", [
    lambda L: L.zeros(3, 1, 2).transpose(0, -1), lambda L: L.zeros(2, 3)[:, :1],
    lambda L: L.zeros(3), lambda L: L.tensor(1.0), lambda L: L.zeros(2, 3).t(),
    lambda L: L.zeros(3, 1).expand(2, 3, 1), lambda L: L.zeros(2, 6)[:, ::2]])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_unsqueeze_strides(make, dim):
    def run(lib):
        x = make(lib)
        return x.unsqueeze(min(dim, x.dim()))
    _same_layout(run)


@pytest.mark.parametrize("make, shape", [
    (lambda L: L.zeros(1), (2, 1)), (lambda L: L.zeros(3, 1), (2, 3, 1)),
    (lambda L: L.zeros(3, 1), (2, 3, 4)), (lambda L: L.zeros(2, 3).t(), (1, 3, 2)),
    (lambda L: L.zeros(3), (1, 1, 3)), (lambda L: L.tensor(1.0), (1, 1)),
    (lambda L: L.tensor(1.0), (2, 1)), (lambda L: L.zeros(2, 1)[:, :1], (1, 2, 1)),
    (lambda L: L.zeros(2, 6)[:, ::2].unsqueeze(1), (2, 2, 3))])
def test_expand_strides(make, shape):
    _same_layout(lambda L: make(L).expand(*shape))
    _same_layout(lambda L: L.broadcast_to(make(L), shape))


def test_writes_through_an_unsqueezed_view_reach_the_base():
    def run(lib):
        z = lib.zeros(2, 3)
        z.t().unsqueeze(0)[0, 1, 1] = 5
        z.unsqueeze(-1).expand(2, 3, 1).mul_(2)
        return z
    agree(run)


# ---- ravel copies a tensor that is not contiguous ---------------------------------------------
@pytest.mark.parametrize("view", [lambda x: x.t()[0], lambda x: x.t(), lambda x: x[:, ::2],
                                  lambda x: x[1:], lambda x: x])
def test_ravel_copies_unless_contiguous(view):
    def run(lib):
        x = lib.arange(12.0).reshape(3, 4)
        r = view(x).ravel()
        r[0] = 100
        return x, r, lib.tensor(r.is_contiguous())
    agree(run)


def test_ravel_gradient():
    def run(lib):
        x = lib.tensor(_X, requires_grad=True)
        y = x.t().ravel()
        return y, lib.autograd.grad((y * lib.arange(12.0, dtype=lib.float64)).sum(), x)[0]
    agree(run)


# ---- unflatten of a 0-d tensor ---------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, -1, 1])
def test_unflatten_of_a_0d_tensor(dim):
    agree(lambda L: L.tensor(1.0).unflatten(dim, (1,)))


def test_unflatten_of_a_0d_tensor_words():
    agree(lambda L: L.tensor(1.0).unflatten(-1, (1,)),
          match="Dimension specified as 0 but tensor has no dimensions")


# ---- all/any write into a bool or uint8 out only ----------------------------------------------
@pytest.mark.parametrize("name", ["all", "any"])
@pytest.mark.parametrize("in_dtype", ["float32", "uint8", "bool"])
@pytest.mark.parametrize("out_dtype", ["bool", "uint8", "int64", "float32"])
def test_all_any_out_dtypes(name, in_dtype, out_dtype):
    def run(lib):
        x = lib.tensor([[1.0, 0.0], [1.0, 1.0]]).to(getattr(lib, in_dtype))
        out = lib.zeros(2, dtype=getattr(lib, out_dtype))
        return getattr(lib, name)(x, 1, out=out), out
    agree(run)


# ---- mean/var/std/logsumexp reduce in a floating out's dtype ----------------------------------
@pytest.mark.parametrize("name", ["mean", "nanmean", "var", "std"])
@pytest.mark.parametrize("dtypes", [("float32", "float64"), ("float16", "float64"),
                                    ("float64", "float32"), ("int64", "float64"),
                                    ("float32", "float16")])
def test_reductions_in_the_dtype_of_out(name, dtypes):
    def run(lib):
        x = lib.tensor([[1.0, 0.0, 2.0001], [1.0, 1.0, 3.0001]]).to(getattr(lib, dtypes[0])) / 3
        if dtypes[0] == "int64":
            x = lib.tensor([[1, 0, 2], [1, 1, 3]])
        out = lib.zeros(2, dtype=getattr(lib, dtypes[1]))
        return getattr(lib, name)(x, 1, out=out), out
    agree(run)


# ---- an in-place op of a real tensor with a complex operand: the cast is refused first --------
@pytest.mark.parametrize("call", [
    lambda L: L.tensor([1.0, 2.0]).remainder_(L.tensor(1j)),
    lambda L: L.tensor([1.0, 2.0]).floor_divide_(1 + 1j),
    lambda L: L.tensor([1, 2]).hypot_(L.tensor([1j, 2])),
    lambda L: L.tensor([1.0, 2.0], dtype=L.float64).xlogy_(L.tensor([1j, 2])),
    lambda L: L.tensor([1.0, 2.0]).atan2_(L.tensor([1j, 2], dtype=L.complex128)),
    lambda L: L.tensor([1.0, 2.0]).copysign_(L.tensor([1j, 2])),
    lambda L: L.tensor([1.0, 2.0]).__imod__(L.tensor([1j, 2])),
    lambda L: L.tensor([1, 2]).__ifloordiv__(L.tensor([1j, 2]))])
def test_inplace_with_a_complex_operand_refuses_the_cast(call):
    agree(call, match="can't be cast to the desired output type")


# ---- pow_ of integers by a tensor of negative integers; clamp_ by bounds that widen input -----
@pytest.mark.parametrize("call", [
    lambda L: L.tensor([[1, -2, 3]]).pow_(L.tensor(-1)),
    lambda L: L.tensor([[1, -1, 3]]).pow_(L.tensor([-2, -1, 0])),
    lambda L: L.tensor([1, -1, 2]).__ipow__(L.tensor(-3)),
    lambda L: L.tensor([1, 255, 2], dtype=L.uint8).pow_(L.tensor(-3)),
    lambda L: L.tensor([1, -1, 2], dtype=L.int8).pow_(L.tensor([-3, -2, -1], dtype=L.int16)),
    lambda L: L.tensor([1, -1, 2]).pow_(L.tensor([[-3]])),
    lambda L: L.tensor([True, False]).pow_(L.tensor(-3))])
def test_integer_pow_in_place_by_negative_tensor_exponents(call):
    agree(call)


@pytest.mark.parametrize("call", [
    lambda L: L.tensor([1.0, 2, 3]).clamp_(L.tensor(0.0), L.ones(1, 3)),
    lambda L: L.tensor([1.0, 2, 3]).clamp_(min=L.ones(2, 3)),
    lambda L: L.tensor([1.0, 2, 3]).clamp_(max=L.ones(3)),
    lambda L: L.tensor([[1.0, 2, 3]]).clamp_(L.zeros(3), L.ones(1, 1))])
def test_clamp_in_place_keeps_the_shape(call):
    agree(call)


# ---- as_strided of an expanded input splits a memory position's gradient among its readers ----
@pytest.mark.parametrize("expand, size, stride, offset", [
    ((2, 2, 3), (2, 2), (2, 1), 1), ((2, 2, 3), (1,), (1,), 0), ((3, 2, 3), (3, 3), (1, 1), 0)])
def test_as_strided_of_an_expanded_input_gradient(expand, size, stride, offset):
    def run(lib):
        x = lib.tensor([[1.0, 2, 3], [4, 5, 6]], dtype=lib.float64, requires_grad=True)
        y = (x * 1.0).expand(*expand).as_strided(size, stride, offset)
        w = lib.tensor(np.arange(1.0, 1 + np.prod(size)).reshape(size))
        g, = lib.autograd.grad((y * y * w).sum(), x, create_graph=True)
        return y, g, lib.autograd.grad(g.sum(), x)[0]
    agree(run)


# ---- advanced indexing of a strided tensor: the result's dims in PyTorch's memory order ------
@pytest.mark.parametrize("make", [lambda L: L.zeros(4, 3).t(),
                                  lambda L: L.arange(24.0).reshape(4, 3, 2).permute(2, 1, 0),
                                  lambda L: L.arange(24.0).reshape(2, 3, 4).permute(2, 0, 1),
                                  lambda L: L.arange(24.0).reshape(3, 8)[:, ::2]])
@pytest.mark.parametrize("index", [
    lambda L: ([0, 1],), lambda L: (slice(None), [0, 1]), lambda L: ([0, 1], [1, 0]),
    lambda L: (None, [0, 1]), lambda L: ([1], None), lambda L: (slice(None), [0], None),
    lambda L: (L.tensor([[1, 1]]), None, slice(0, None, 2)),
    lambda L: (L.tensor([True, False]),), lambda L: (Ellipsis, [1, 0]),
    lambda L: (None, slice(None), slice(1, None), [1, 0])])
def test_advanced_index_of_a_strided_tensor_layout(make, index):
    def run(lib):
        return make(lib)[index(lib)]
    mine, theirs = agree(run)
    if theirs is not None:
        assert _layout(minigrad, mine) == _layout(torch, theirs)


# ---- cumsum/cumprod of a 0-d or empty tensor in a given dtype: a copy, bool too ---------------
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@pytest.mark.parametrize("dtype", ["bool", "int8", "float64", "uint8"])
@pytest.mark.parametrize("make", [
    lambda L: L.tensor(3, dtype=L.int8), lambda L: L.tensor(2.5), lambda L: L.tensor(True),
    lambda L: L.tensor([], dtype=L.int8), lambda L: L.zeros(2, 0),
    lambda L: L.tensor(2.5, requires_grad=True), lambda L: L.zeros(2, 0, requires_grad=True),
    lambda L: L.ones(2, requires_grad=True), lambda L: L.tensor([3, 0, 1], dtype=L.int8)])
def test_scans_of_0d_and_empty_tensors_in_a_dtype(name, dtype, make):
    agree(lambda L: getattr(L, name)(make(L), 0, dtype=getattr(L, dtype)))


# ---- argmax/argmin refuse a tuple of dims (the parser's TypeError) before the dtype ---------
@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dtype", ["bool", "float32", "complex64"])
def test_arg_extremes_refuse_a_tuple_of_dims_first(name, dtype):
    agree(lambda L: getattr(L, name)(L.ones(2, 3, dtype=getattr(L, dtype)), dim=(0,)))
    agree(lambda L: getattr(L.ones(2, 3, dtype=getattr(L, dtype)), name)(dim=[0, 1],
                                                                         keepdim=True))


# ---- one value through a bool mask is a masked fill of its number: range-checked ------------
@pytest.mark.parametrize("value", [
    lambda L: L.tensor([[300]]), lambda L: L.tensor(300.0), lambda L: L.tensor(-1),
    lambda L: L.tensor(1e10), lambda L: L.tensor(2.7), lambda L: L.tensor(float("nan")),
    lambda L: L.tensor(1e10, dtype=L.float64), lambda L: L.tensor([-129], dtype=L.int16)])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "float16", "bool", "bfloat16", "float32"])
def test_masked_fill_through_an_index_checks_the_number(dtype, value):
    def run(lib):
        x, y = lib.zeros(3, dtype=getattr(lib, dtype)), lib.zeros(3, dtype=getattr(lib, dtype))
        x[lib.tensor([True, False, True])] = value(lib)
        y.index_put_((lib.tensor([True, False, True]),), value(lib))
        return x.float(), y.float()         # (written in place: their dtype stays)
    agree(run)


# ---- flip keeps the memory order of its input's dims ----------------------------------------
@pytest.mark.parametrize("view, dims", [
    (lambda x: x.transpose(0, 2), (0,)), (lambda x: x.permute(1, 2, 0), (0, 1)),
    (lambda x: x[:, ::2], (1,)), (lambda x: x[:, ::2].transpose(0, 2), (0,)),
    (lambda x: x, (-1,)), (lambda x: x.expand(2, 2, 3, 4), (0,)), (lambda x: x[0].t(), ())])
def test_flip_keeps_the_layout(view, dims):
    def run(lib):
        x = lib.arange(24.0, dtype=lib.float64, requires_grad=True)
        y = view(x.reshape(2, 3, 4)).flip(dims)
        return y, lib.autograd.grad((y * y).sum(), x)[0]
    _same_layout(lambda L: run(L)[0])
    agree(run)


@pytest.mark.parametrize("exponent", [lambda L: True, lambda L: False, lambda L: L.tensor(True),
                                      lambda L: L.tensor([True, False]), lambda L: 2,
                                      lambda L: L.tensor([1, 0])])
@pytest.mark.parametrize("index", [lambda L: Ellipsis, lambda L: (slice(None), 0),
                                   lambda L: (None,), lambda L: L.tensor([True, False])])
def test_bool_pow_in_place(exponent, index):
    def run(lib):
        x = lib.tensor([[True, False], [False, True]])
        i = index(lib)
        x[i] **= exponent(lib)
        return x
    agree(run)


# ---- permute/expand/view/reshape with no size at all: the parser's TypeError ----------------
@pytest.mark.parametrize("name", ["permute", "expand", "view", "reshape"])
@pytest.mark.parametrize("shape", [(), (2, 3)])
def test_shape_methods_need_a_size(name, shape):
    agree(lambda L: getattr(L.zeros(shape), name)(), match=name)
    agree(lambda L: getattr(L.zeros(shape), name)(*shape))


# ---- a Python bool in an index is a new dim picked by an index array (True: all, False: none) -
@pytest.mark.parametrize("index", [
    lambda L: (True,), lambda L: (Ellipsis, False), lambda L: (None, True),
    lambda L: (True, L.tensor([True, False, True])), lambda L: (0, None, Ellipsis, False),
    lambda L: (L.tensor([[0], [1]]), Ellipsis, 3, False), lambda L: (True, [], -2),
    lambda L: (slice(None), True, slice(None, None, 3)), lambda L: (False, L.tensor([1, 0])),
    lambda L: (1, True, [0, 2, 2])])
def test_bool_scalars_in_an_index(index):
    def run(lib):
        x = lib.tensor(_X, requires_grad=True)
        y = x[index(lib)]
        return y, lib.autograd.grad((y * 2).sum(), x)[0]
    agree(run)


@pytest.mark.parametrize("index, value", [
    (lambda L: (True,), lambda L: L.tensor(3)), (lambda L: (True,), lambda L: 3),
    (lambda L: (False, Ellipsis, 0, 0), lambda L: L.tensor(3)),
    (lambda L: (0, True, slice(None, None, 3)), lambda L: L.tensor([1.0, 2.0],
                                                                  dtype=L.float64)),
    (lambda L: (True, L.tensor([True, False, True])), lambda L: 7.5),
    (lambda L: (Ellipsis, True), lambda L: L.tensor([[1.0]], dtype=L.float64))])
def test_writes_with_bool_scalars_in_the_index(index, value):
    def run(lib):
        x = lib.tensor(_X)
        x[index(lib)] = value(lib)
        return x
    agree(run)
