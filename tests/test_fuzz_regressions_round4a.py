"""Regression tests for the differential fuzzer's fourth round of finds, part A
(tests/test_fuzz_against_torch.py): each case runs the same call on minigrad and on PyTorch
and wants the same result (value, dtype, shape, gradient) or the same exception type, with
PyTorch's words where the message is checked."""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import agree, grads  # noqa: E402


# ---- var/std with no degrees of freedom left (correction >= N) ------------------------------
@pytest.mark.parametrize("op", ["var", "std"])
@pytest.mark.parametrize("kwargs", [
    {"correction": 2}, {"correction": 3}, {"correction": 5}, {"dim": 1, "correction": 3},
    {"dim": 1, "correction": 5}, {"dim": (0, 1), "correction": 4}, {"dim": 1, "keepdim": True,
                                                                      "correction": 3},
    {"dim": ()}, {"dim": (), "correction": 0}, {"dim": [], "correction": 5}])
def test_var_std_without_degrees_of_freedom(op, kwargs):
    grads(lambda L, x: getattr(x, op)(**kwargs), [[1.0, 2.0, 4.0]])
    grads(lambda L, x: getattr(x, op)(**kwargs), [[2.0, 2.0, 2.0]])


def test_var_chain_found_by_the_fuzzer():
    """unsqueeze -> var(correction=2) -> var: a NaN forward, and -0 gradients, not NaN."""
    grads(lambda L, x: x.unsqueeze(0).var(dim=0, correction=2), [1.0, 2.0, 4.0])
    grads(lambda L, x: x.unsqueeze(0).var(dim=0, correction=2).var(), [1.0, 2.0, 4.0])
    grads(lambda L, x: x.var(correction=1), 3.0)
    grads(lambda L, x: x.var(dim=0, correction=2), 3.0)


def test_var_second_order_without_degrees_of_freedom():
    def run(lib, dim):
        x = lib.tensor([[1.0, 2.0, 4.0]], dtype=lib.float64, requires_grad=True)
        g, = lib.autograd.grad(x.var(dim=dim, correction=2).sum(), x, create_graph=True)
        return g, lib.autograd.grad(g.sum(), x)[0]
    agree(lambda L: run(L, 0))
    agree(lambda L: run(L, 1))


# ---- empty reductions: logsumexp, amax/amin, max(dim) ---------------------------------------
@pytest.mark.parametrize("shape, dim", [((0,), 0), ((2, 0), 1), ((2, 0), 0), ((0, 2), (0, 1)),
                                        ((0, 2), ()), ((2, 3), ()), ((3,), ()), ((), ())])
@pytest.mark.parametrize("keepdim", [False, True])
def test_logsumexp_of_empty_slices(shape, dim, keepdim):
    agree(lambda L: L.logsumexp(L.ones(shape), dim, keepdim))
    agree(lambda L: L.logsumexp(L.ones(shape, dtype=L.int64), dim, keepdim))


def test_logsumexp_empty_gradient():
    grads(lambda L, x: L.logsumexp(x, 1), np.ones((2, 0)))


@pytest.mark.parametrize("op", ["amax", "amin"])
@pytest.mark.parametrize("shape, dim, words", [
    ((0,), 0, "Expected reduction dim 0 to have non-zero size"),
    ((0,), -1, "Expected reduction dim -1 to have non-zero size"),
    ((2, 0), 1, "Expected reduction dim 1 to have non-zero size"),
    ((2, 0, 3), (0, 1), "Expected reduction dim 1 to have non-zero size"),
    ((2, 0), (), "Expected reduction dim to be specified for input.numel() == 0"),
    ((2, 0), 0, None), ((2, 0, 3), (0, 2), None), ((), (), None)])
def test_amax_amin_of_empty(op, shape, dim, words):
    agree(lambda L: getattr(L, op)(L.ones(shape), dim), words)


def test_max_dim_of_empty_names_the_dim_counted_from_zero():
    agree(lambda L: L.max(L.ones(2, 0, 3), -2), "Expected reduction dim 1 to have non-zero size")


# ---- sum/mean: dim=() reduces everything; dtype= -------------------------------------------
@pytest.mark.parametrize("dim", [(), []])
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_mean_over_no_dims(dim, keepdim):
    grads(lambda L, x: x.sum(dim, keepdim), [[1.0, 2.0, 4.0]])
    grads(lambda L, x: x.mean(dim, keepdim), [[1.0, 2.0, 4.0]])


@pytest.mark.parametrize("values, dtype", [([200, 100, 3], "uint8"), ([1.5, -2.0, float("nan")],
                                                                      "float32"),
                                           ([70000.0], "float32")])
@pytest.mark.parametrize("to", ["uint8", "int8", "bool", "float16"])
def test_sum_with_dtype(values, dtype, to):
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # no numpy warning may leak
        agree(lambda L: L.tensor(values, dtype=getattr(L, dtype)).sum(dtype=getattr(L, to)))
        agree(lambda L: L.tensor(values, dtype=getattr(L, dtype)).sum(0, dtype=getattr(L, to)))


def test_integer_dtype_of_a_reduction_that_needs_a_gradient():
    agree(lambda L: L.tensor([1.5, 300.0], requires_grad=True).sum(dtype=L.int32),
          "Autograd not support dtype: Int")
    agree(lambda L: L.tensor([1.5, 300.0], requires_grad=True).prod(dtype=L.bool),
          "Autograd not support dtype: Bool")
    agree(lambda L: L.tensor([1.5, 3.0]).mean(dtype=L.int64),
          "Optional dtype must be either a floating point or complex dtype. Got: Long")


# ---- frac, logcumsumexp, lerp: floating tensors only ----------------------------------------
DTYPES = ["bool", "uint8", "int32", "int64", "float16", "float32", "float64"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_frac_logcumsumexp_dtypes(dtype):
    agree(lambda L: L.frac(L.tensor([1, 0, 2], dtype=getattr(L, dtype))))
    agree(lambda L: L.frac(L.tensor(1, dtype=getattr(L, dtype))))
    for shape in ((3,), (), (0,)):
        agree(lambda L: L.logcumsumexp(L.ones(shape, dtype=getattr(L, dtype)), 0))


def test_frac_of_a_number():
    agree(lambda L: L.frac(2.5), "must be Tensor, not float")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("other", DTYPES)
def test_lerp_dtypes(dtype, other):
    a = lambda L, d: L.tensor([1, 0, 2], dtype=getattr(L, d))  # noqa: E731
    agree(lambda L: L.lerp(a(L, dtype), a(L, other), 0.5))
    agree(lambda L: L.lerp(a(L, dtype), a(L, dtype), a(L, other)))
    agree(lambda L: L.lerp(a(L, dtype), a(L, dtype), L.tensor(0.5, dtype=getattr(L, other))))
    agree(lambda L: L.lerp(a(L, dtype), a(L, dtype), 1))


def test_lerp_checks():
    f = lambda L, *v: L.tensor(list(v) or [1.0, 0.0, 2.0])  # noqa: E731
    agree(lambda L: L.lerp(f(L), f(L), 1j), "value cannot be converted to type float")
    agree(lambda L: L.lerp(f(L), f(L), 1e300), "value cannot be converted to type float")
    agree(lambda L: L.lerp(f(L), 2.0, 0.5), "received an invalid combination of arguments")
    agree(lambda L: L.lerp(f(L), f(L), "a"), "received an invalid combination of arguments")
    agree(lambda L: L.lerp(f(L), f(L, 1.0, 0.0), 0.5),
          "The size of tensor a (3) must match the size of tensor b (2)")
    agree(lambda L: L.lerp(L.tensor([1, 0, 2]), L.tensor([1, 0]), L.tensor([1, 0])),
          "The size of tensor a (3) must match the size of tensor b (2)")
    agree(lambda L: L.lerp(f(L), f(L, 1.0, 0.0, 3.0).double(), 0.5),
          "expected dtype float for `end` but got dtype double")


@pytest.mark.parametrize("weight", [0.25, 0.5, 1.0, 1e10, -3.0, True])
def test_lerp_values_and_gradients(weight):
    agree(lambda L: L.lerp(L.tensor([1.0, 0.0, 2.0], dtype=L.float16),
                           L.tensor([1.0, 0.0, 3.0], dtype=L.float16), weight))
    grads(lambda L, x: L.lerp(x, x.flip(0) * 3, weight), [1.0, 0.0, 2.0])
    grads(lambda L, x: L.lerp(x[:2], x[2:] * 3, x[:2] * weight), [1.0, 0.0, 2.0, 5.0])


def test_amax_of_empty_checks_sizes_before_repeated_dims():
    agree(lambda L: L.amax(L.ones(0), (0, -1), keepdim=True),
          "Expected reduction dim 0 to have non-zero size")


# ---- kthvalue/median/mode: dims checked before dtypes; 0-d results are new tensors ----------
@pytest.mark.parametrize("call", [
    lambda L, b: L.kthvalue(b, 1, 0), lambda L, b: L.kthvalue(b, 1, 1),
    lambda L, b: L.kthvalue(b, 5, 0), lambda L, b: L.median(b, 0), lambda L, b: L.median(b, 1),
    lambda L, b: L.nanmedian(b, 0), lambda L, b: L.median(b), lambda L, b: L.mode(b, 0)])
@pytest.mark.parametrize("shape", [(0,), (3,), ()])
def test_order_statistics_of_bool(call, shape):
    agree(lambda L: call(L, L.zeros(shape, dtype=L.bool)))


@pytest.mark.parametrize("call", [
    lambda L, x: L.median(x, 0), lambda L, x: L.median(x, -1, True), lambda L, x: L.nanmedian(x, 0),
    lambda L, x: L.kthvalue(x, 1, 0), lambda L, x: L.mode(x, 0)])
def test_order_statistics_of_a_0d_tensor(call):
    grads(lambda L, x: call(L, x)[0], 3.0)

    def in_place_after(lib):
        x = lib.tensor(3.0)
        values = call(lib, x)[0]
        x.add_(1.0)                # the result is a copy: it keeps 3
        return values
    agree(in_place_after)


@pytest.mark.parametrize("call", [lambda L, x: L.kthvalue(x, 2, 0),
                                  lambda L, x: L.kthvalue(x, 3, 1), lambda L, x: L.mode(x, 0)])
def test_order_statistics_of_expanded_inputs(call):
    """Along a dim of stride 0 and along another (PyTorch's median/nanmedian along a stride-0
    dim read the wrong memory in 2.13, so they are compared on the other dim only)."""
    grads(lambda L, x: call(L, x.expand(5, 4))[0], np.round(np.linspace(-2, 2, 5))[:, None])
    grads(lambda L, x: call(L, x.expand(4, 5).t())[0], np.linspace(-2, 2, 5)[None, :])
    grads(lambda L, x: L.median(x.expand(5, 4), 0)[0], np.round(np.linspace(-2, 2, 5))[:, None])


# ---- index_fill/index_copy/index_add/scatter_reduce: PyTorch's checks, in its order ---------
@pytest.mark.parametrize("shape, dim, index", [
    ((0, 3), 0, [2]), ((0, 3), 1, [5]), ((0,), 0, [0]), ((2, 0), 1, [0]), ((2, 0), 0, [2]),
    ((0, 3), 0, []), ((0,), -1, 7)])
@pytest.mark.parametrize("op", ["index_fill", "index_copy"])
def test_index_writes_into_empty_inputs(shape, dim, index, op):
    def run(L):
        x = L.zeros(shape)
        i = L.tensor(index, dtype=L.int64)
        if op == "index_fill":
            return x.index_fill(dim, i, 1.5)
        n = len(np.ravel(index))
        src = L.ones(tuple(n if k == dim % len(shape) else s for k, s in enumerate(shape)))
        return x.index_copy(dim, i, src)
    agree(run)


@pytest.mark.parametrize("index", [[], [0, 1]])
@pytest.mark.parametrize("index_dtype", ["int64", "int32"])
def test_index_copy_scalar_source_needs_one_index(index, index_dtype):
    agree(lambda L: L.ones(3).index_copy(0, L.tensor(index, dtype=getattr(L, index_dtype)),
                                         L.tensor(1.0)),
          "When source is scalar, index should have one element")


@pytest.mark.parametrize("dtype, value", [
    ("float32", 1e300), ("uint8", 300), ("uint8", -1), ("uint8", -255), ("uint8", -256),
    ("uint8", -1.0), ("uint8", 255.5), ("int32", 2 ** 40), ("int32", float("nan")),
    ("int32", 2.5), ("int8", 200), ("int16", 1e9), ("int64", 1e30), ("float16", 1e10),
    ("float64", 1e300), ("bool", 2), ("bool", 1e300), ("float32", float("inf")),
    ("float64", 2 ** 64), ("float64", -2 ** 63 - 1), ("float32", 1j), ("float32", "a")])
def test_index_fill_value_conversion(dtype, value):
    agree(lambda L: L.ones(2, 3, dtype=getattr(L, dtype)).index_fill(0, L.tensor([1]), value))


@pytest.mark.parametrize("dtype, value", [("uint8", 300), ("int32", 1e10), ("float16", 70000.0),
                                          ("int32", 2.5), ("int32", True)])
def test_index_fill_tensor_value_conversion(dtype, value):
    agree(lambda L: L.ones(2, 3, dtype=getattr(L, dtype)).index_fill(0, L.tensor([1]),
                                                                      L.tensor(value)))


def test_index_fill_checks_the_empty_view_before_the_value():
    agree(lambda L: L.ones(0, 3, dtype=L.uint8).index_fill(1, L.tensor([5]), 300),
          "without overflow")
    agree(lambda L: L.ones(0, 3, dtype=L.uint8).index_fill(0, L.tensor([5]), 300))


@pytest.mark.parametrize("alpha", [1, 1.0, True, 2])
@pytest.mark.parametrize("dtype", ["float32", "int32", "bool"])
@pytest.mark.parametrize("dim", [0, 1])
def test_index_add_out_of_range_error_type(alpha, dtype, dim):
    src = (1, 3) if dim == 0 else (2, 1)
    agree(lambda L: L.zeros(2, 3, dtype=getattr(L, dtype)).index_add(
        dim, L.tensor([7]), L.ones(src, dtype=getattr(L, dtype)), alpha=alpha))


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("index, shape", [([0, 0, 1], (3,)), ([], (3,)), ([0, 5, 1], (3,)),
                                          (0, ()), ([], (0,))])
def test_scatter_reduce_mean_of_bool(include_self, index, shape):
    agree(lambda L: L.ones(shape, dtype=L.bool).scatter_reduce(
        0, L.tensor(index, dtype=L.int64), L.ones(np.shape(index), dtype=L.bool), "mean",
        include_self=include_self))


# ---- adaptive average pools: an inf or NaN stays in the windows that hold it ----------------
@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
def test_adaptive_avg_pool_non_finite_values_and_gradients(dtype):
    def run1(L, out_size, values, grad):
        x = L.tensor([[values]], dtype=getattr(L, dtype), requires_grad=True)
        y = L.nn.functional.adaptive_avg_pool1d(x, out_size)
        y.backward(L.tensor([[grad]], dtype=getattr(L, dtype)))
        return y, x.grad
    inf, nan = float("inf"), float("nan")
    agree(lambda L: run1(L, 3, [inf, 1.0, 2.0, 3.0, 4.0], [1.0, nan, 2.0]))
    agree(lambda L: run1(L, 7, [1.0, nan, 3.0, 4.0, 5.0], [1.0, inf, 2.0, 3.0, 4.0, 5.0, 6.0]))

    def run2(L):
        x = L.ones(1, 1, 3, 5, dtype=getattr(L, dtype), requires_grad=True)
        y = L.nn.functional.adaptive_avg_pool2d(x, (2, 3))
        g = L.ones(1, 1, 2, 3, dtype=getattr(L, dtype))
        g[0, 0, 0, 1] = nan
        g[0, 0, 1, 2] = -inf
        y.backward(g)
        return y, x.grad
    agree(run2)


def test_adaptive_avg_pool_second_order():
    def run(L):
        x = L.tensor(np.linspace(-1, 1, 15).reshape(1, 3, 5), requires_grad=True)
        y = L.nn.functional.adaptive_avg_pool1d(x, 3)
        g = L.tensor(np.cos(np.arange(9.0)).reshape(1, 3, 3), requires_grad=True)
        gx, = L.autograd.grad(y, x, g, create_graph=True)
        return gx, L.autograd.grad((gx * gx).sum(), g)[0]
    agree(run)


@pytest.mark.parametrize("shape, out", [((2, 3), 0), ((1, 2, 3), 0), ((1, 2, 3, 4), (0, 2)),
                                        ((2, 3, 4), (2, 0)), ((0, 2, 3), 0), ((1, 0, 3), 2),
                                        ((0, 2, 3), 2)])
def test_adaptive_avg_pool_backward_of_empty_outputs(shape, out):
    def run(L):
        x = L.ones(shape, requires_grad=True)
        pool = L.nn.functional.adaptive_avg_pool1d if isinstance(out, int) else \
            L.nn.functional.adaptive_avg_pool2d
        pool(x, out).sum().backward()
        return x.grad
    agree(run, None)


# ---- batch_norm of empty and low-dimensional inputs ----------------------------------------
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(0,), (3,), (0, 0), (2, 0), (0, 3), (1,), (1, 3), ()])
@pytest.mark.parametrize("stats", ["channels", "none", "weights", "empty"])
def test_batch_norm_empty_and_low_dim_inputs(training, shape, stats):
    c = shape[1] if len(shape) > 1 else (shape[0] if shape else 1)

    def run(L):
        F = L.nn.functional
        x = L.ones(shape, requires_grad=True)
        if stats == "weights":
            return F.batch_norm(x, L.zeros(c), L.ones(c), L.full((c,), 2.0), L.ones(c),
                                training=training)
        if stats == "empty":
            return F.batch_norm(x, L.zeros(0), L.ones(0), training=training)
        mean, var = (L.zeros(c), L.ones(c)) if stats == "channels" else (None, None)
        y = F.batch_norm(x, mean, var, training=training)
        y.sum().backward()
        return (y, x.grad) + ((mean, var) if mean is not None else ())
    agree(run)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["cummax", "cummin"])
def test_cummax_cummin_take_every_dtype(dtype, op):
    agree(lambda L: getattr(L, op)(L.tensor([3, 1, 2, 1], dtype=getattr(L, dtype)), 0))

    def in_place_after(L):
        x = L.tensor(2, dtype=getattr(L, dtype))
        values = getattr(L, op)(x, 0).values
        x.fill_(0)                 # the result is a copy of a 0-d input
        return values
    agree(in_place_after)
    if dtype == "float64":
        grads(lambda L, x: getattr(L, op)(x, 0).values, 2.0)


@pytest.mark.parametrize("dim", [(), []])
@pytest.mark.parametrize("keepdim", [False, True])
def test_nansum_nanmean_over_no_dims(dim, keepdim):
    grads(lambda L, x: L.nansum(x, dim, keepdim), [[1.0, float("nan"), 3.0]])
    grads(lambda L, x: L.nanmean(x, dim, keepdim), [[1.0, float("nan"), 3.0]])


def _negative_strided(lib, array, axis):
    """``array`` as a tensor; on minigrad's side a view with a negative stride along ``axis``
    (PyTorch has none: it gets the same values contiguous)."""
    if lib is minigrad:      # (from_numpy refuses negative strides, as torch's: wrap directly)
        return minigrad.Tensor._wrap(np.flip(np.flip(array, axis).copy(), axis))
    return lib.tensor(array)


@pytest.mark.parametrize("axis", [0, 1])
def test_repeated_index_writes_keep_the_last_value_whatever_the_strides(axis):
    src = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    agree(lambda L: L.zeros(4, 3, dtype=L.float64).index_copy(
        0, L.tensor([1]).expand(2), _negative_strided(L, src, axis)))
    agree(lambda L: L.zeros(3, 3, dtype=L.float64).scatter(
        0, L.tensor([[2, 0, 1]]).expand(2, 3), _negative_strided(L, src, axis)))


@pytest.mark.parametrize("query_dtype", ["float32", "float64"])
@pytest.mark.parametrize("mask_dtype", ["bool", "uint8", "int32", "int64", "float16", "float32",
                                        "float64"])
def test_scaled_dot_product_attention_mask_dtype(query_dtype, mask_dtype):
    def run(L):
        q, k, v = (L.tensor(np.cos(np.arange(n * 3.0)).reshape(1, n, 3),
                            dtype=getattr(L, query_dtype)) for n in (4, 6, 6))
        mask = L.tensor(np.arange(24).reshape(4, 6) % 3 > 0, dtype=getattr(L, mask_dtype))
        return L.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    agree(run)


def test_scaled_dot_product_attention_needs_one_dtype():
    agree(lambda L: L.nn.functional.scaled_dot_product_attention(
        L.ones(1, 2, 3), L.ones(1, 2, 3, dtype=L.float64), L.ones(1, 2, 3)),
        "Expected query, key, and value to have the same dtype")
