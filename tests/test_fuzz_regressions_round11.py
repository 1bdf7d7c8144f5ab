"""Regression tests for the round-11 adversarial fuzzer's finds (random chains of everyday ops
on adversarial values: 0-d and empty tensors, expanded and flipped views, NaN, +-inf, -0.0,
integer extremes, every dtype): each case runs the same code on PyTorch and on minigrad and
compares values, dtypes, shapes, requires_grad, gradients and the exception types."""
import functools

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import agree, both  # noqa: E402

# fn(lib) in each library: [fn(minigrad), fn(torch)], warnings dropped
_both = functools.partial(both, quiet=True)


def _same_values(mine, theirs):
    """Values (NaN-aware, the sign of zeros too), dtype and shape of two tensors agree."""
    assert mine.dtype.name == str(theirs.dtype).replace("torch.", "")
    assert tuple(mine.shape) == tuple(theirs.shape)
    m, t = mine.detach().numpy(), theirs.detach().numpy()
    np.testing.assert_array_equal(m, t)
    if m.dtype.kind == "f":
        zeros = (m == 0) & (t == 0)
        np.testing.assert_array_equal(np.signbit(m[zeros]), np.signbit(t[zeros]))


def _grads(fn, values, weights=None):
    """The gradient of sum(fn(lib, x) * weights) for a float64 leaf x of ``values``, in each
    library: (minigrad's, torch's) as numpy arrays, or the exception types when both raise."""
    out = []
    for lib in (minigrad, torch):
        x = lib.tensor(values, dtype=lib.float64, requires_grad=True)
        y = fn(lib, x)
        w = np.cos(np.arange(y.numel())).reshape(tuple(y.shape)) if weights is None else weights
        try:
            (y * lib.tensor(w, dtype=lib.float64)).sum().backward()
            out.append(x.grad.numpy())
        except Exception as exc:  # noqa: BLE001 (compared with the other library's)
            out.append(type(exc).__name__)
    return out


# ---- float_power keeps a Python number's value (not wrapped into the tensor's integer type) ----
@pytest.mark.parametrize("call", [
    lambda L: L.float_power(L.tensor([[2, 5, 4]], dtype=L.uint8).expand(3, 3), -1),
    lambda L: L.float_power(L.tensor([2, 5, 4], dtype=L.int8), 300),
    lambda L: L.float_power(L.tensor([2, 5, 4], dtype=L.uint8), np.int64(-2)),
    lambda L: L.float_power(-2, L.tensor([2, 5, 4], dtype=L.uint8)),
    lambda L: L.view_as_real(L.float_power(L.tensor([2, 5], dtype=L.int8), 1 + 1j)),
    lambda L: L.tensor([2, 5], dtype=L.uint8).float_power(-1),
])
def test_float_power_of_integers_by_a_number(call):
    agree(call)


# ---- in-place operators stay in place; a numpy array operand falls back out of place ----------
@pytest.mark.parametrize("op", ["**=", "//=", "%="])
@pytest.mark.parametrize("dtype, other", [
    ("float16", lambda L: L.tensor([1.0, 2.0], dtype=L.float64)),
    ("float32", lambda L: 2),
    ("int32", lambda L: L.tensor([1, 2], dtype=L.int64)),
    ("uint8", lambda L: 3),
])
def test_inplace_power_floor_division_and_remainder_operators(op, dtype, other):
    def run(lib):
        x = lib.tensor([1.5, 2.0, 7.0, 9.0]).to(getattr(lib, dtype)).reshape(2, 2)
        view = x[0]
        y = x
        exec(f"y {op} o", {}, {"y": y, "o": other(lib)})
        return x, view
    (mx, mv), (tx, tv) = _both(run)
    _same_values(mx, tx)
    _same_values(mv, tv)


@pytest.mark.parametrize("op", ["**=", "//=", "%="])
def test_inplace_operator_refusals(op):
    def run(lib):
        x = lib.tensor([True, False]) if op != "**=" else lib.tensor([1, 2])
        exec(f"x {op} o", {}, {"x": x, "o": -3 if op != "**=" else 2.5})
    agree(run)


@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/=", "**=", "//=", "%="])
def test_inplace_operator_with_a_numpy_array_makes_a_new_tensor(op):
    def run(lib):
        x = lib.tensor([1.5, 2.0])
        view = x[:1]
        scope = {"x": x, "a": np.array([2.0, 3.0])}
        exec(f"x {op} a", {}, scope)
        return scope["x"], view
    (mx, mv), (tx, tv) = _both(run)
    _same_values(mx, tx)
    _same_values(mv, tv)


def test_integer_tensor_to_a_negative_power_in_place():
    for exponent in (-1, np.int64(-2)):
        agree(lambda L: L.tensor([1, 2]).pow_(exponent))
        agree(lambda L: L.tensor([1, 2], dtype=L.uint8) ** exponent)
    agree(lambda L: L.tensor([1, 2], dtype=L.uint8).pow_(300))


# ---- unique: the values require grad (a backward through them is refused) --------------------
@pytest.mark.parametrize("call", [
    lambda L, x: L.unique(x),
    lambda L, x: L.unique(x, sorted=False, return_counts=True)[0],
    lambda L, x: L.unique(x, dim=0),
    lambda L, x: L.unique_consecutive(x),
    lambda L, x: L.unique_consecutive(x, return_inverse=True, dim=0)[0],
])
def test_unique_values_require_grad_without_a_derivative(call):
    def run(lib):
        x = lib.tensor([1.0, 1.0, 2.0], requires_grad=True)
        y = call(lib, x)
        assert y.requires_grad
        y.sum().backward()
    agree(run, match="is not implemented")
    agree(lambda L: L.unique(L.tensor([1.0, 1.0, 2.0], requires_grad=True),
                             return_inverse=True)[1])


# ---- the median of an empty integer tensor: NaN converted through int32 ----------------------
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "int64"])
def test_median_of_empty_integers(dtype):
    agree(lambda L: L.median(L.zeros(0, dtype=getattr(L, dtype))))
    agree(lambda L: L.nanmedian(L.zeros(3, 0, dtype=getattr(L, dtype))))


# ---- writes with an empty index still depend on their source -----------------------------------
@pytest.mark.parametrize("call", [
    lambda L, s: L.scatter(L.zeros(2, 3), 1, L.zeros(2, 0, dtype=L.int64), s),
    lambda L, s: L.scatter_add(L.zeros(2, 3), 1, L.zeros(2, 0, dtype=L.int64), s),
    lambda L, s: L.scatter_reduce(L.zeros(2, 3), 1, L.zeros(2, 0, dtype=L.int64), s, "amax"),
    lambda L, s: L.index_copy(L.zeros(2, 3), 0, L.zeros(0, dtype=L.int64), s[:0]),
])
def test_writes_with_an_empty_index_require_grad(call):
    agree(lambda L: call(L, L.ones(2, 3, requires_grad=True)))
    agree(lambda L: call(L, L.ones(2, 3)))


def test_scatter_reduce_argument_with_an_empty_index_has_no_derivative():
    def run(lib):
        out = lib.scatter(lib.zeros(2, 3), 1, lib.zeros(2, 0, dtype=lib.int64),
                          lib.ones(2, 3, requires_grad=True), reduce="multiply")
        assert out.requires_grad
        out.sum().backward()
    agree(run, match="derivative for aten::scatter is not implemented")


def test_index_copy_with_an_empty_index_gradients():
    def run(lib):
        src = lib.zeros(0, 3, requires_grad=True)
        lib.index_copy(lib.ones(2, 3), 0, lib.zeros(0, dtype=lib.int64), src).sum().backward()
        return src.grad
    agree(run)


# ---- index_add converts alpha to the input's type first ---------------------------------------
@pytest.mark.parametrize("dtype, alpha", [
    ("int16", -1.5), ("int16", 2.9), ("int64", 0.5), ("uint8", -1), ("uint8", -1.5),
    ("int8", 200), ("float16", 1e6), ("bfloat16", 1e39), ("float32", 1 + 1j), ("int64", 1 + 1j),
    ("float32", 1 + 0j), ("bool", 2),
])
def test_index_add_alpha_conversion(dtype, alpha):
    agree(lambda L: L.index_add(L.tensor([3, 2, 1]).to(getattr(L, dtype)), 0, L.tensor([1]),
                                L.tensor([5]).to(getattr(L, dtype)), alpha=alpha))


# ---- dtype names in error messages (no KeyError) --------------------------------------------
@pytest.mark.parametrize("call", [
    lambda L: L.lerp(L.tensor([1.0]), L.tensor([1.0], dtype=L.bfloat16), 0.5),
    lambda L: L.lerp(L.tensor([True]), L.tensor([1 + 1j]), L.tensor([1 + 1j])),
    lambda L: L.lerp(L.tensor([1 + 1j]), L.tensor([1.0]), 0.5),
    lambda L: L.lerp(L.tensor([1.0]), L.tensor([1.0], dtype=L.complex128), 0.5),
    lambda L: L.masked_fill(L.tensor([1.0]), L.tensor([1.0], dtype=L.bfloat16), 0.5),
    lambda L: L.masked_fill(L.tensor([1.0]), L.tensor([1.0], dtype=L.complex64), 0.5),
])
def test_dtype_mismatch_messages_name_every_dtype(call):
    agree(call, match="dtype")
    mine = pytest.raises(RuntimeError, call, minigrad).value
    theirs = pytest.raises(RuntimeError, call, torch).value
    assert str(mine) == str(theirs)


# ---- refusals of the right type -----------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda L: L.mv(L.tensor(1.0), L.ones(2)),
    lambda L: L.tensor(1.0).mv(L.tensor(1.0)),
    lambda L: L.tensor([1, 2]) & (1 + 2j),
    lambda L: (1 + 2j) | L.tensor([1, 2]),
    lambda L: L.bitwise_xor(L.tensor([1, 2], dtype=L.float64), np.complex128(1 + 2j)),
    lambda L: L.tensor([1, 2]) << (1 + 2j),
    lambda L: L.tensor([1.0, 2]).__ior__(1 + 2j),
    lambda L: L.tensor([1, 2]).__irshift__(1 + 2j),
    lambda L: L.tensor([1, 2], dtype=L.complex64).__iand__(1),
    lambda L: L.igamma(L.ones(3, 4), L.ones(2)),
    lambda L: L.igammac(L.ones(3, 4, dtype=L.int64), L.ones(2)),
    lambda L: L.special.gammainc(L.ones(3, 4), L.ones(2)),
    lambda L: L.signbit(L.tensor([1j])),
    lambda L: L.nanmean(L.tensor([1.0]), dtype=L.bool),
    lambda L: L.nanmean(L.tensor([1.0]), dtype=L.int64),
    lambda L: L.nanmean(L.tensor([1]), dtype=L.float64),
])
def test_refusals(call):
    agree(call)


@pytest.mark.parametrize("call", [
    lambda L, x: L.cumsum(x, 0, dtype=L.int64),
    lambda L, x: L.cumprod(x, 0, dtype=L.int32),
    lambda L, x: L.cumsum(x, 0, dtype=L.bool),
    lambda L, x: x.cumsum(0, dtype=L.uint8),
    lambda L, x: L.nansum(x, 0, dtype=L.int64),
    lambda L, x: L.nansum(x, dtype=L.int16),
    lambda L, x: L.cumsum(x, 0, dtype=L.float32),
])
def test_integer_dtype_of_a_running_or_nan_reduction_that_needs_a_gradient(call):
    agree(lambda L: call(L, L.tensor([1.0, 2.0], requires_grad=True)))
    agree(lambda L: call(L, L.tensor([1.0, 2.0])))


# ---- a Python number beside a tensor in a rounded division keeps its value ------------------
@pytest.mark.parametrize("call", [
    lambda L: L.floor_divide(1e300, L.tensor([-0.496, -0.001], dtype=L.float64)),
    lambda L: L.floor_divide(1e300, L.tensor([-0.496, -0.001], dtype=L.float32)),
    lambda L: L.div(1e300, L.tensor([3.0], dtype=L.float64), rounding_mode="trunc"),
    lambda L: L.floor_divide(5, L.tensor(2, dtype=L.uint8)),
    lambda L: L.floor_divide(5.5, L.tensor(2, dtype=L.uint8)),
    lambda L: L.floor_divide(300, L.tensor([2], dtype=L.uint8)),
    lambda L: L.floor_divide(True, L.tensor([2])),
    lambda L: L.floor_divide(7, -2.0),
    lambda L: L.div(7, 2, rounding_mode="floor"),
    lambda L: L.tensor([2, 3], dtype=L.int32).__rfloordiv__(2 ** 40),
])
def test_rounded_division_of_a_number_by_a_tensor(call):
    agree(call)


# ---- number % tensor has no derivative in PyTorch ----------------------------------------------
@pytest.mark.parametrize("call", [
    lambda L, x: L.remainder(2.5, x),
    lambda L, x: 2.5 % x,
    lambda L, x: L.remainder(L.tensor(2.5), x),
    lambda L, x: x % 1.5,
])
def test_remainder_of_a_number_by_a_tensor_backward(call):
    def run(lib):
        x = lib.tensor([1.0, -3.46], requires_grad=True)
        call(lib, x).sum().backward()
        return x.grad
    agree(run)


# ---- copy_ of a broadcast source into an empty tensor ------------------------------------------
@pytest.mark.parametrize("call", [
    lambda L: L.zeros(2, 0, dtype=L.bool).diagonal().copy_(L.tensor(1.0)),
    lambda L: L.zeros(2, 0)[0].copy_(L.tensor([1.0])),
    lambda L: L.zeros(0).copy_(L.tensor(1.0)),
    lambda L: L.zeros(2, 0).T.copy_(L.tensor(1.0)),
    lambda L: L.zeros(2, 0).copy_(L.zeros(2, 1, 1)),
    lambda L: L.zeros(2, 0).copy_(L.zeros(1, 2, 0)),
    lambda L: L.zeros(0).copy_(L.tensor([1.0, 2.0])),
    lambda L: L.zeros(1).copy_(L.zeros(0)),
])
def test_copy_into_empty_tensors(call):
    agree(call)


@pytest.mark.parametrize("size, step", [(0, 1), (1, 1), (0, 2), (2, 1)])
def test_unfold_of_a_0d_tensor(size, step):
    agree(lambda L: L.tensor(1.0).unfold(0, size, step))


# ---- a clamp with one bound keeps an element that ties with it (the sign of zero too) ----------
@pytest.mark.parametrize("kwargs", [{"min": 0.0}, {"max": -0.0}, {"min": float("nan")},
                                    {"max": float("nan")}, {"min": 0.5}])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_clamp_one_bound_ties_and_nan(kwargs, dtype):
    values = [-0.0, 0.0, float("nan"), -1.0, 2.0, float("inf"), -float("inf")] * 3
    mine, theirs = _both(lambda L: L.clamp(L.tensor(values, dtype=getattr(L, dtype)), **kwargs))
    _same_values(mine, theirs)
    mine, theirs = _both(lambda L: L.tensor(values, dtype=getattr(L, dtype)).clamp_(**kwargs))
    _same_values(mine, theirs)


def test_clamp_one_bound_gradient():
    mine, theirs = _grads(lambda L, x: L.clamp(x, min=0.5), [-1.0, 0.5, 2.0, float("nan")])
    np.testing.assert_array_equal(mine, theirs)


# ---- xlogy's gradient is 0 where the incoming gradient is 0, whatever log(other) is -------------
@pytest.mark.parametrize("call", [
    lambda L, x: L.topk(L.xlogy(x.reshape(1, 2), -0.5), 0, dim=0)[0],
    lambda L, x: L.xlogy(x, -0.5) * 0,
    lambda L, x: L.xlogy(x, L.tensor([-0.5, float("nan")])) * L.tensor([0.0, 0.0]),
    lambda L, x: L.special.xlog1py(x, L.tensor([-1.5, -1.0])) * L.tensor([0.0, 1.0]),
    lambda L, x: L.xlogy(x, x) * L.tensor([0.0, 1.0]),
    lambda L, x: L.xlogy(x.reshape(1, 2), L.tensor([[-1.0], [2.0]])) * L.tensor([[0.0], [1.0]]),
])
@pytest.mark.parametrize("values", [[1.0, 2.0], [0.0, -1.0]])
def test_xlogy_gradient_with_zero_upstream(call, values):
    mine, theirs = _grads(call, values)
    np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("exponent", [0.5, -0.5, 2, 3.0, True])
def test_float_power_by_a_number_keeps_pows_scalar_paths(exponent):
    mine, theirs = _both(lambda L: L.float_power(L.tensor([-0.0, 0.0, -1.0, 4.0]), exponent))
    _same_values(mine, theirs)


# ---- nansum counts NaN as 0 before converting to an integer or bool dtype ---------------------
@pytest.mark.parametrize("values, dtype, dim", [
    ([float("nan"), 1.5], "int64", None), ([float("nan"), 0.0], "bool", None),
    ([[float("nan"), 0.0]], "bool", 1), ([float("nan"), 1e5], "float16", None),
    ([float("nan"), 2.5], "uint8", 0),
])
def test_nansum_skips_nan_before_the_dtype(values, dtype, dim):
    agree(lambda L: L.nansum(L.tensor(values), dim, dtype=getattr(L, dtype)))


def test_heaviside_result_requires_grad_without_a_derivative():
    for grad_input in (0, 1):
        def run(lib):
            args = [lib.tensor([1.0, 0.0, -2.0]), lib.tensor([0.5])]
            args[grad_input].requires_grad_(True)
            out = lib.heaviside(*args)
            assert out.requires_grad
            out.sum().backward()
        agree(run, match="derivative for aten::heaviside is not implemented")


@pytest.mark.parametrize("shape", [(2,), (2, 2, 2), ()])
def test_trace_refuses_bool_before_the_rank(shape):
    agree(lambda L: L.trace(L.ones(shape, dtype=L.bool)))


# ---- bfloat16 orders NaN last, as the other float dtypes --------------------------------------
_BF16_VALUES = [float("inf"), float("nan"), -float("inf"), 1.0, 1.0, -2.5, float("nan"), 0.5]


@pytest.mark.parametrize("call", [
    lambda L, x: L.sort(x)[0].float(),
    lambda L, x: L.sort(x, descending=True, stable=True)[1],
    lambda L, x: L.sort(x.reshape(2, 4), 0)[1],
    lambda L, x: L.argsort(x, stable=True),
    lambda L, x: L.msort(x).float(),
    lambda L, x: L.topk(x, 3, largest=False)[0].float(),
    lambda L, x: L.topk(x, 3)[0].float(),
    lambda L, x: L.kthvalue(x, 3)[0].float(),
    lambda L, x: L.median(x[:4], 0)[1],
    lambda L, x: L.nanmedian(x[:3], 0)[1],
    lambda L, x: L.nanmedian(x).float(),
    lambda L, x: L.unique(x).float(),
    lambda L, x: L.unique(x, return_inverse=True)[1],
    lambda L, x: L.unique(x[2:6].reshape(2, 2).flip(0), dim=0).float(),
    lambda L, x: L.mode(x[:3], 0)[1],
    lambda L, x: L.mode(x[2:], 0)[0].float(),
])
def test_bfloat16_orders_with_nan(call):
    agree(lambda L: call(L, L.tensor(_BF16_VALUES, dtype=L.bfloat16)))


# ---- in-place writes through expanded views where no element repeats -------------------------
@pytest.mark.parametrize("code", [
    "x = L.zeros(3); y = x.expand(1, 3); y.add_(1.0)",
    "x = L.zeros(1); x.expand(1).mul_(3.0).add_(2.0)",
    "x = L.zeros(2, 3); x.t().expand(1, 3, 2).add_(L.arange(6.0).reshape(3, 2))",
    "x = L.zeros(2, 3); x.flip(0).expand(1, 2, 3).add_(L.arange(6.0).reshape(2, 3))",
    "x = L.ones(2, 3); x.expand_as(L.ones(2, 3)).mul_(3)",
    "x = L.zeros(1, 3); x.expand(2, 3)[0].add_(1)",
    "x = L.zeros(1, 3); x.expand(2, 3).diagonal().add_(1)",
    "x = L.zeros(1, 3); x.expand(2, 3)[1].copy_(L.arange(3.0))",
    "x = L.zeros(1, 3); x.expand(2, 3)[1, 1:] = 5",
    "x = L.zeros(1); x.expand(3)[0] = 5",
    "x = L.zeros(2, 0); x.expand(2, 2, 0).add_(1)",
    "x = L.zeros(0); x.expand(3, 0).copy_(L.ones(3, 0))",
    "x = L.tensor(3.0); x.expand(2, 2).fill_(1.0)",
    "x = L.tensor(3); x.expand(2).zero_()",
    "x = L.zeros(1, 3); x.expand(2, 3).add_(1)",
    "x = L.zeros(1); x.expand(3)[1:] = 5",
    "x = L.zeros(3, 2).t(); x.expand(2, 2, 3)[1].add_(1)",
    "x = L.arange(6.0).reshape(2, 3).flip(1); x.expand(2, 2, 3)[1, 1].mul_(10)",
    "x = L.tensor(np.asfortranarray(np.zeros((2, 3)))); x.expand(2, 2, 3)[0].add_(1)",
])
def test_writes_through_expanded_views(code):
    def run(lib):
        scope = {"L": lib, "np": np}
        exec(code, scope)
        return scope["x"]
    agree(run)


def test_write_through_an_expanded_view_is_recorded():
    def run(lib):
        w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        x = w * 1
        x.expand(1, 3).mul_(w)
        x.sum().backward()
        return x, w.grad
    agree(run)


# ---- quantile interpolates as PyTorch's lerp (from the nearer end) -----------------------------
@pytest.mark.parametrize("values", [[0.7, 1.5, float("inf")], [-float("inf"), 1.5, float("inf")],
                                    [-float("inf"), -float("inf"), 1.0], [1.0, 1e308, 1e308],
                                    [0.1, 0.7, 0.3, 0.9]])
@pytest.mark.parametrize("interpolation", ["linear", "midpoint"])
def test_quantile_interpolation_with_infinities(values, interpolation):
    q = [0.1, 0.25, 0.3, 0.5, 0.75, 0.9, 1.0]
    agree(lambda L: L.quantile(L.tensor(values, dtype=L.float64), L.tensor(q, dtype=L.float64),
                               interpolation=interpolation))


def test_quantile_gradient():
    mine, theirs = _grads(lambda L, x: L.quantile(x, L.tensor([0.35, 0.8], dtype=L.float64)),
                          [0.1, 0.7, 0.3, 0.9])
    np.testing.assert_allclose(mine, theirs, rtol=1e-12)


# ---- a 0-d integer tensor in an index is an integer --------------------------------------------
@pytest.mark.parametrize("index", [
    lambda L: (L.tensor(0), slice(None), L.tensor([0, 1])),
    lambda L: (L.tensor(1, dtype=L.int32), slice(None), [0, 2]),
    lambda L: (slice(None), L.tensor(1), L.tensor([0, 1])),
    lambda L: (L.tensor([0, 1]), slice(None), L.tensor(1)),
    lambda L: (L.tensor(-1), L.tensor(2), L.tensor(3)),
    lambda L: (L.tensor(5),),
])
def test_0d_integer_tensor_index(index):
    agree(lambda L: L.arange(24.0).reshape(2, 3, 4)[index(L)])

    def write(lib):
        x = lib.zeros(2, 3, 4)
        x[index(lib)] = 7.0
        return x
    agree(write)


def test_0d_integer_tensor_index_is_a_view():
    def run(lib):
        x = lib.arange(6.0).reshape(2, 3)
        x[lib.tensor(1)].add_(10)
        return x
    agree(run)


# ---- exp2 / log2 / log10 exact where the answer is ---------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_exp2_log2_log10_are_exact_at_powers(dtype):
    k = np.arange(-30.0, 60.0)
    for name, values in (("exp2", k), ("log2", 2.0 ** k), ("log10", 10.0 ** np.arange(0.0, 16.0))):
        mine, theirs = _both(lambda L: getattr(L, name)(L.tensor(values, dtype=getattr(L, dtype))))
        _same_values(mine, theirs)
    mine, theirs = _both(lambda L: L.floor(L.log2(L.tensor([8.0, 2.0 ** -30, 1024.0],
                                                              dtype=getattr(L, dtype)))))
    _same_values(mine, theirs)


@pytest.mark.parametrize("name", ["exp2", "log2", "log10"])
def test_exp2_log2_log10_gradients_and_dtypes(name):
    mine, theirs = _grads(lambda L, x: getattr(L, name)(x), [0.5, 3.0, 8.0])
    np.testing.assert_allclose(mine, theirs, rtol=1e-14)
    for values in ([3, 0, -1], [True, False]):
        agree(lambda L: getattr(L, name)(L.tensor(values)))
    # complex: compared as (real, imaginary) pairs; log2/log10 of 0 are -inf + 0j
    agree(lambda L: L.view_as_real(getattr(L, name)(L.tensor([0j, 1 + 1j, -8 + 0j]))))


# ---- integer division of an empty tensor by zero divides nothing -------------------------------
@pytest.mark.parametrize("call", [
    lambda L: L.fmod(L.tensor([], dtype=L.uint8), 0),
    lambda L: L.remainder(L.tensor([], dtype=L.int64), 0),
    lambda L: L.floor_divide(L.tensor([], dtype=L.int64), 0),
    lambda L: L.div(L.tensor([], dtype=L.int32), 0, rounding_mode="trunc"),
    lambda L: L.tensor([], dtype=L.int64).fmod_(0),
    lambda L: L.tensor([], dtype=L.int64).remainder_(0),
    lambda L: L.floor_divide(L.tensor([1, 2]), L.zeros(0, 1, dtype=L.int64)),
    lambda L: L.remainder(L.zeros(2, 0, dtype=L.int64), L.tensor([[0], [1]])),
    lambda L: L.remainder(L.tensor([1, 2]), 0),
    lambda L: L.floor_divide(L.tensor([1, 2]), 0),
])
def test_integer_division_by_zero_of_empty_tensors(call):
    agree(call)


@pytest.mark.parametrize("call", [
    lambda L, s: L.index_copy(L.zeros(0, 2), 0, L.tensor([], dtype=L.int64), s.reshape(0, 2)),
    lambda L, s: L.index_copy(L.zeros(3, 0), 0, L.tensor([2, 1]), s.reshape(2, 0)),
    lambda L, s: L.index_fill(L.zeros(3, 0), 0, L.tensor([2, 1]), s.sum()),
])
def test_index_writes_into_empty_inputs_depend_on_their_source(call):
    agree(lambda L: call(L, L.zeros(0, requires_grad=True)))


# ---- modified Bessel functions and erfcx at huge arguments -------------------------------------
@pytest.mark.parametrize("name", ["i0", "special.i0e", "special.i1", "special.i1e",
                                  "special.erfcx"])
def test_special_functions_at_huge_arguments(name):
    values = [-1e308, 1e308, 1e200, -1e200, 1e10, 800.0, -30.0, -26.7, float("inf"),
              -float("inf"), float("nan"), 0.0]

    def run(lib):
        fn = lib
        for part in name.split("."):
            fn = getattr(fn, part)
        return fn(lib.tensor(values, dtype=lib.float64))
    agree(run)


def test_erf_keeps_the_sign_of_zero():
    for dtype in ("float64", "float32"):
        mine, theirs = _both(lambda L: L.erf(L.tensor([-0.0, 0.0, -1e-300, -3.5, float("nan")],
                                                      dtype=getattr(L, dtype))))
        _same_values(mine, theirs)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_sinc_of_half_floats_is_computed_in_float32(dtype):
    values = [2.69921875, 1.0, -0.0, 2.0, -3.0, 0.5, -0.3999]
    agree(lambda L: L.sinc(L.tensor(values, dtype=getattr(L, dtype))).float())


@pytest.mark.parametrize("ord", [-1, -2, -0.5, -3])
def test_negative_order_vector_norm_with_nan_and_infinities(ord):
    values = [[-float("inf"), float("inf")], [0.0, 1.0], [2.0, 3.0], [float("nan"), 0.0],
              [float("nan"), 1.0], [-float("inf"), 1.0]]
    agree(lambda L: L.linalg.vector_norm(L.tensor(values), ord, dim=1))
    agree(lambda L: L.linalg.vector_norm(L.tensor(values[2:3]), ord))


# ---- a Python number beside an integer tensor keeps its value in the float result -------------
@pytest.mark.parametrize("call", [
    lambda L: L.xlogy(L.tensor([0, 1, 254, 3], dtype=L.uint8), -2),
    lambda L: L.xlogy(L.tensor([0, 1, 2, 3], dtype=L.int8), 300),
    lambda L: L.xlogy(-2, L.tensor([0, 1, 254, 3], dtype=L.uint8)),
    lambda L: L.xlogy(2.5, L.tensor([0, 1, 254, 3], dtype=L.uint8)),
    lambda L: L.xlogy(L.tensor([True, False]), 3),
    lambda L: L.special.xlog1py(L.tensor([0, 1, 254, 3], dtype=L.uint8), -2),
    lambda L: L.copysign(L.tensor([0, 1, 2, 3], dtype=L.int8), -300),
    lambda L: L.copysign(-3, L.tensor([0, 1, 2, 3], dtype=L.uint8)),
])
def test_float_pair_ops_keep_a_numbers_value(call):
    agree(call)


def test_xlogy_number_gradient():
    mine, theirs = _grads(lambda L, x: L.xlogy(x, 3) + L.xlogy(2.5, x), [0.5, 2.0, 0.0])
    np.testing.assert_allclose(mine, theirs, rtol=1e-12)


@pytest.mark.parametrize("call", [
    lambda L: L.pow(L.tensor([1.0, 2.0], dtype=L.float16), 1e10),
    lambda L: L.pow(L.tensor([1.0, 2.0], dtype=L.float16), 70000),
    lambda L: L.pow(L.tensor([1.0, 2.0], dtype=L.float16), 60000),
    lambda L: L.pow(L.tensor([1.0, 2.0], dtype=L.bfloat16), 1e300),
    lambda L: L.tensor([1.0, 2.0], dtype=L.float16).pow_(2 ** 40),
    lambda L: L.tensor([1.0, 2.0], dtype=L.float16) ** float("inf"),
])
def test_half_float_power_refuses_an_exponent_past_its_range(call):
    agree(call)


@pytest.mark.parametrize("dtype, low, high", [
    ("uint8", 0, 300), ("int8", -300, 3), ("int8", float("nan"), 3), ("int8", -1, float("inf")),
    ("int64", -1e30, 1), ("int32", -2.0 ** 31 - 1, 1), ("int32", -0.5, 1.5), ("uint8", -1, 300),
])
def test_hardtanh_of_integers_checks_its_bounds(dtype, low, high):
    agree(lambda L: L.nn.functional.hardtanh(L.tensor([1, 2, -3]).to(getattr(L, dtype))
                                             if dtype != "uint8" else
                                             L.tensor([1, 2, 3], dtype=L.uint8), low, high))


# ---- scatter's number value is converted for the input's type as PyTorch converts it -----------
@pytest.mark.parametrize("dtype, value", [
    ("int64", 1e300), ("int8", 1 + 2j), ("int8", 300), ("uint8", -1), ("uint8", 2.7),
    ("float16", 1e6), ("float32", 1e300), ("bool", 2.5), ("float32", 1 + 0j),
    ("int64", float("nan")), ("int64", 2 ** 63), ("int32", True),
])
def test_scatter_number_value_conversion(dtype, value):
    agree(lambda L: L.scatter(L.zeros(3, dtype=getattr(L, dtype)), 0, L.tensor([1]), value))
    agree(lambda L: L.zeros(3, dtype=getattr(L, dtype)).scatter_(0, L.tensor([2]), value,
                                                                  reduce="add"))


def test_index_add_converts_alpha_before_checking_the_index():
    agree(lambda L: L.index_add(L.tensor([4, 3], dtype=L.uint8), 0, L.tensor([5]),
                                L.tensor([5], dtype=L.uint8), alpha=-1.5))


# ---- in-place index and scatter writes refuse a source sharing self's memory -------------------
@pytest.mark.parametrize("code", [
    "x.index_add_(0, L.tensor([0]), x[:1])",
    "x.index_add_(0, L.tensor([0, 1, 2]), x)",
    "x.index_add_(0, L.tensor([0]), source=x[1:2])",
    "x.index_copy_(0, L.tensor([0]), x[1:2])",
    "x.scatter_add_(0, L.tensor([[0, 0]]), x[1:2])",
    "x.scatter_(0, L.tensor([[0, 0]]), x[1:2])",
    "x.scatter_reduce_(0, L.tensor([[0, 0]]), x[1:2], 'sum')",
    "x.index_reduce_(0, L.tensor([0]), x[1:2], 'prod')",
    "x.index_add_(0, L.tensor([0]), x[1:2].clone(), alpha=2)",
    "x.scatter_(0, L.tensor([[0, 0]]), 5.0)",
    "x[:2].index_add_(0, L.tensor([0]), x[2:])",
])
def test_index_writes_refuse_an_overlapping_source(code):
    def run(lib):
        scope = {"L": lib, "x": lib.arange(6.0).reshape(3, 2)}
        exec(code, scope)
        return scope["x"]
    agree(run)


@pytest.mark.parametrize("ord", [2, 3, 0.5, -1, float("inf"), 1.5])
def test_vector_norm_of_one_element_slices_is_the_absolute_value(ord):
    values = [[1e200], [-3.0], [0.0], [2.7], [1e-200]]
    mine, theirs = _both(lambda L: L.linalg.vector_norm(L.tensor(values, dtype=L.float64), ord,
                                                          dim=1))
    _same_values(mine, theirs)
    mine, theirs = _both(lambda L: L.norm(L.tensor(-1e308, dtype=L.float64), p=ord))
    _same_values(mine, theirs)
    mine, theirs = _grads(lambda L, x: L.linalg.vector_norm(x.reshape(-1, 1), ord, dim=1),
                          [-2.0, 0.0, 3.0])
    np.testing.assert_allclose(mine, theirs, rtol=1e-14)


@pytest.mark.parametrize("call", [
    lambda L: L.clamp(L.ones(3), 0.0, L.tensor([0.5])),
    lambda L: L.clamp(L.ones(3), L.tensor([[0.5]]), 2.0),
    lambda L: L.clamp(L.ones(3), 0.0, L.tensor(0.5, requires_grad=True)),
    lambda L: L.clamp(L.ones(3), 0.0, L.tensor(0.5)),
    lambda L: L.clamp(L.ones(3, dtype=L.int64), L.tensor(0.5), 2),
    lambda L: L.ones(3).clamp_(0.0, L.tensor([0.5])),
    lambda L: L.ones(3).clamp_(0.0, L.tensor(0.5)),
    lambda L: L.ones(3).clamp_(L.tensor(0.5, requires_grad=True), 2.0),
])
def test_clamp_mixes_a_number_with_a_0d_tensor_bound_only(call):
    agree(call)
