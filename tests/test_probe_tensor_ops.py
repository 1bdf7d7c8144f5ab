"""Tensor ops probed against PyTorch the way ported code meets them: writes through
overlapping views (unfold windows, as_strided) with and without autograd, ``where`` with a
Python number that does not fit the tensor's dtype, float16 arithmetic with numbers past its
range (inf, silently), uint8 / int16 index tensors, and ``Tensor.repeat``'s argument checks.
Each case runs the same code on both libraries and compares values, dtypes, gradients, or
the exception type."""
import warnings

import numpy as np
import pytest
import torch

import minigrad


def _plain(v):
    if isinstance(v, (torch.Tensor, minigrad.Tensor)):
        v = v.detach()
        return str(v.dtype).split(".")[-1], tuple(v.shape), v.float().numpy() \
            if "bfloat16" in str(v.dtype) else v.numpy()
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    return v


def _same(a, b):
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, tuple):
        assert a[:2] == b[:2], (a, b)
        np.testing.assert_allclose(a[2], b[2], rtol=1e-6, atol=1e-6)
    else:
        assert a == b


def agree(fn, error=None):
    """fn(lib) on PyTorch and minigrad: the same result, or the same exception type."""
    outcomes = []
    for lib in (torch, minigrad):
        try:
            outcomes.append(("ok", _plain(fn(lib))))
        except Exception as exc:  # noqa: BLE001 -- compared below
            outcomes.append(("error", type(exc)))
    (kt, t), (km, m) = outcomes
    assert kt == km, outcomes
    if kt == "error":
        assert t is m, outcomes
        if error is not None:
            assert t is error
    else:
        _same(t, m)


# ---- writes through overlapping windows --------------------------------------------------
def _windows(L, kind, x):
    return x.unfold(0, 3, 2) if kind == "unfold" else x.as_strided((4, 3), (2, 1))


@pytest.mark.parametrize("kind", ["unfold", "as_strided"])
@pytest.mark.parametrize("write", [
    lambda u, L: u.__setitem__(0, -5.0),
    lambda u, L: u.__setitem__((slice(1, 3), 0), 7.0),
    lambda u, L: u.fill_(1.0),
    lambda u, L: u[1].mul_(3),
])
def test_write_into_overlapping_view_no_grad(kind, write):
    def f(L):
        x = L.arange(10.0)
        u = _windows(L, kind, x)
        write(u, L)
        return x, u
    agree(f)


@pytest.mark.parametrize("kind", ["unfold", "as_strided"])
@pytest.mark.parametrize("loss", ["base", "view", "square"])
def test_setitem_on_overlapping_view_with_grad(kind, loss):
    def f(L):
        a = L.arange(10.0, requires_grad=True)
        v = L.tensor(3.0, requires_grad=True)
        x = a * 1
        u = _windows(L, kind, x)
        u[1, :2] = v
        u[2:, 1] = 0.0
        out = {"base": lambda: (x * L.arange(10.0)).sum(), "view": lambda: u.sum(),
               "square": lambda: (u * u).sum()}[loss]()
        out.backward()
        return x, u, a.grad, v.grad
    agree(f)


def test_reading_overlapping_windows_gradient():
    def f(L):
        a = L.arange(6.0, requires_grad=True)
        x = a * 2
        u = x.unfold(0, 3, 1)
        x[0] = 5.0              # rebases u onto x's new history
        (u * u).sum().backward()
        return u, a.grad
    agree(f)


def test_expanded_view_write_still_refused():
    agree(lambda L: L.zeros(3).expand(2, 3).add_(1.0), error=RuntimeError)
    agree(lambda L: L.zeros(3).expand(2, 3).__setitem__(slice(None), 1.0), error=RuntimeError)


# ---- where with a Python number ------------------------------------------------------------
@pytest.mark.parametrize("value", [300, -129, 255, 127, 1e10, 2 ** 70, 1e6, 1e39, float("inf"),
                                   2.5, True])
@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "float16", "bfloat16", "float32"])
def test_where_number_checked_against_dtype(value, dtype):
    def f(L):
        c = L.tensor([True, False])
        x = L.tensor([1, 2], dtype=getattr(L, dtype))
        return L.where(c, x, value), L.where(c, value, x)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        agree(f)


# ---- float16 / bfloat16 with numbers past their range: inf, no warning ---------------------
@pytest.mark.parametrize("op", [
    lambda x: x + 1e6, lambda x: x - 1e6, lambda x: x * 1e39, lambda x: 1e6 / x,
    lambda x: x.add(1e6), lambda x: x.clone().mul_(1e6),
])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_scalar_overflow_is_silent(op, dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        agree(lambda L: op(L.tensor([1.0, -2.0], dtype=getattr(L, dtype))))


# ---- index tensors' dtypes -----------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "bool",
                                   "float32"])
def test_index_tensor_dtypes(dtype):
    def read(L):
        x = L.arange(24).reshape(2, 3, 4)
        return x[L.tensor([[1, 0, 1], [0, 0, 1]], dtype=getattr(L, dtype))]

    def write(L):
        x = L.arange(24).reshape(2, 3, 4)
        x[L.tensor([1, 0], dtype=getattr(L, dtype))] = L.tensor(0)
        return x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)     # uint8: deprecated, as PyTorch's
        agree(read)
        agree(write)


def test_uint8_index_is_a_mask_and_warns():
    x = minigrad.arange(6).reshape(2, 3)
    with pytest.warns(UserWarning, match="uint8 is now deprecated"):
        got = x[minigrad.tensor([0, 1], dtype=minigrad.uint8)]
    assert got.tolist() == [[3, 4, 5]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        agree(lambda L: L.arange(6)[L.tensor([1], dtype=L.uint8)], error=IndexError)


# ---- repeat's arguments ----------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda x: x.repeat(), lambda x: x.repeat(()), lambda x: x.repeat(repeats=(2,)),
    lambda x: x.repeat([2]), lambda x: x.repeat(2, 3), lambda x: x.repeat((2, 1, 1)),
])
def test_repeat_arguments(call):
    agree(lambda L: call(L.arange(3)))


# ---- descending sort: NaN first, then +inf; integer minimum not overflowing -----------------
_INF, _NAN = float("inf"), float("nan")


@pytest.mark.parametrize("values,dtype", [
    ([_INF, _NAN, -_INF], "float32"),
    ([[_INF, _NAN, -_INF, _NAN, _INF], [1.0, 2, 3, _INF, _NAN]], "float64"),
    ([1.0, _INF, _NAN, 0.0, -0.0], "float16"),
    ([1.0, _INF, _NAN], "bfloat16"),
    ([-2 ** 63, 5, 2 ** 63 - 1, 0, 5], "int64"),
    ([-128, 5, 127, 0], "int8"),
    ([255, 5, 0, 0], "uint8"),
    ([True, False, True], "bool"),
])
def test_sort_descending_edges(values, dtype):
    def make(L):
        return L.tensor(values, dtype=getattr(L, dtype))
    agree(lambda L: L.sort(make(L), descending=True, stable=True))
    agree(lambda L: L.argsort(make(L), dim=0, descending=True, stable=True))
    agree(lambda L: L.topk(make(L), 2).values)


# ---- setitem with a value that is no number ----------------------------------------------
@pytest.mark.parametrize("value", [None, "a", object(), [1.0, 2.0], (1.0, 2.0), range(2),
                                   np.ones(2), np.float32(2.0), np.ones(())])
def test_setitem_refuses_non_numbers(value):
    def f(L):
        x = L.tensor([1.0, 2.0])
        x[:] = value
        return x
    agree(f, error=TypeError)


def test_setitem_message_names_the_value_type():
    for value, name in (([1.0], "list"), (np.ones(2), "numpy.ndarray"),
                        (np.float32(1), "numpy.float32")):
        with pytest.raises(TypeError, match=f"can't assign a {name} to a minigrad.FloatTensor"):
            minigrad.zeros(2)[:] = value
        with pytest.raises(TypeError, match=f"can't assign a {name} to a torch.FloatTensor"):
            torch.zeros(2)[:] = value


# ---- floor division has no derivative; div with a rounding mode a zero one ----------------
@pytest.mark.parametrize("call", [
    lambda L, x: x // 2, lambda L, x: L.floor_divide(x, 2), lambda L, x: 5 // x,
    lambda L, x: x.floor_divide(L.tensor(2.0)), lambda L, x: x.clone().floor_divide_(2),
])
def test_floor_divide_backward_refused(call):
    def f(L):
        x = L.tensor([3.5, -2.0, 7.0], requires_grad=True)
        y = call(L, x)
        assert y.requires_grad and type(y.grad_fn).__name__ == "NotImplemented"
        y.sum().backward()
    agree(f, error=RuntimeError)
    with pytest.raises(RuntimeError, match="derivative for aten::floor_divide"):
        f(minigrad)


def test_div_floor_still_differentiable():
    agree(lambda L: (lambda x: (L.div(x, 2, rounding_mode="floor").sum().backward(), x.grad)[1])(
        L.tensor([3.5, -2.0], requires_grad=True)))
    agree(lambda L: L.tensor([7.0, -7.0]) // 0.5)
    agree(lambda L: L.tensor([7, -7]) // 2)


def test_meshgrid_of_nothing():
    agree(lambda L: L.meshgrid(indexing="ij"), error=RuntimeError)


# ---- reductions of a permuted tensor: contiguous results, as PyTorch's (view(-1) works) ----
@pytest.mark.parametrize("op", [
    lambda L, x: x.sum(1), lambda L, x: x.sum(1, keepdim=True), lambda L, x: x.sum((0, 2)),
    lambda L, x: x.mean(1), lambda L, x: x.nansum(1), lambda L, x: x.prod(1),
    lambda L, x: x.var(1), lambda L, x: x.std(1), lambda L, x: x.amax(1),
    lambda L, x: x.max(1).values, lambda L, x: x.logsumexp(1), lambda L, x: x.norm(dim=1),
    lambda L, x: (x > 3).all(1), lambda L, x: (x > 3).any(1), lambda L, x: x.count_nonzero(1),
    lambda L, x: x.cumsum(1), lambda L, x: x.cumprod(1), lambda L, x: x.softmax(1),
    lambda L, x: x.log_softmax(1), lambda L, x: L.std_mean(x, 1)[0],
])
def test_reduction_of_permuted_is_contiguous(op):
    def f(L):
        x = L.arange(24.0).reshape(2, 3, 4).permute(2, 0, 1)
        out = op(L, x)
        return out, out.view(-1), list(out.stride())
    agree(f)


# ---- clamp with number bounds that do not fit the result's dtype ---------------------------
@pytest.mark.parametrize("bound", [-200, 200, 1e6, 1e39, -1e39, float("inf"), 2 ** 40, 2.5, True])
@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "float16", "bfloat16", "float32",
                                   "bool"])
@pytest.mark.parametrize("inplace", [False, True])
def test_clamp_number_bounds(bound, dtype, inplace):
    for side in ("min", "max"):
        def f(L):
            x = L.tensor([1, 5], dtype=getattr(L, dtype))
            return x.clamp_(**{side: bound}) if inplace else L.clamp(x, **{side: bound})
        agree(f)


def test_reversed_is_a_flipped_tensor():
    agree(lambda L: reversed(L.tensor([[1, 2], [3, 4]])))
    agree(lambda L: reversed(L.tensor(3)))
    agree(lambda L: list(reversed(L.arange(3))))


# ---- which calls return the tensor itself and which a new view ----------------------------
@pytest.mark.parametrize("call", [
    lambda x: x.reshape(2, 3), lambda x: x.reshape(-1, 3), lambda x: x.flatten(0, 0),
    lambda x: x.flatten(1), lambda x: x.movedim(0, 0), lambda x: x.moveaxis(1, 1),
    lambda x: x.permute(0, 1), lambda x: x.view(2, 3), lambda x: x.contiguous(),
    lambda x: x.expand(2, 3), lambda x: x.squeeze(), lambda x: x[...],
])
def test_identity_or_new_view(call):
    agree(lambda L: call(L.ones(2, 3)) is not None and [call(x) is x for x in [L.ones(2, 3)]])


def test_reshape_to_same_shape_is_its_own_view():
    def f(L):
        x = L.arange(6.0).reshape(2, 3)
        y = x.reshape(2, 3)
        y.t_()
        y[0, 1] = 9.0                     # y is (3, 2) now; its [0, 1] is x's [1, 0]
        return x, y, list(x.shape), list(y.shape)
    agree(f)


# ---- a dim that None adds has PyTorch's stride (not 0) ---------------------------------------
@pytest.mark.parametrize("index", [
    (None,), (slice(None), None), (Ellipsis, None), (None, slice(None), None), (None, 1),
    (None, None), (slice(1, None), None, slice(None, None, 2)), (Ellipsis, None, 1),
    (None, Ellipsis, None),
])
@pytest.mark.parametrize("transposed", [False, True])
def test_none_index_strides(index, transposed):
    def f(L):
        x = L.arange(6.0).reshape(2, 3)
        x = x.t() if transposed else x
        y = x[index]
        y.view(-1) if y.is_contiguous() else None
        return y, list(y.stride()), y.is_contiguous()
    agree(f)


def test_write_through_none_view():
    def f(L):
        a = L.arange(6.0, requires_grad=True)
        x = a * 1
        y = x.view(2, 3)[:, None]
        y[0] = 0.0
        (x * x).sum().backward()
        return x, a.grad
    agree(f)


# ---- fill_ / zero_ of an expanded view: allowed (a number), as PyTorch ----------------------
@pytest.mark.parametrize("write", [
    lambda e, L: e.fill_(1.0), lambda e, L: e.zero_(), lambda e, L: e.fill_(L.tensor(3.0)),
    lambda e, L: e.add_(1), lambda e, L: e.__setitem__(Ellipsis, 1.0),
])
@pytest.mark.parametrize("make", [
    lambda L: (lambda z: (z, z.expand(2, 3)))(L.arange(3.0)),
    lambda L: (lambda z: (z, z[:, :1].expand(3, 4)))(L.arange(6.0).reshape(2, 3).t()),
])
def test_write_into_expanded_view(write, make):
    def f(L):
        base, view = make(L)
        write(view, L)
        return base
    agree(f)


def test_write_into_expanded_view_with_grad_is_refused_not_looping():
    for L in (torch, minigrad):
        z = L.arange(6.0, requires_grad=True) * 1
        with pytest.raises(RuntimeError, match="single memory location"):
            z[:1].expand(3, 4)[...] = 1.0


# ---- sequence arguments by keyword, as PyTorch's signatures name them ----------------------
@pytest.mark.parametrize("call", [
    lambda L, x: x.permute(dims=(1, 0)), lambda L, x: L.permute(x, dims=(1, 0)),
    lambda L, x: x.reshape(shape=(4,)), lambda L, x: L.reshape(x, shape=(4,)),
    lambda L, x: x.view(size=(4,)), lambda L, x: x.view(dtype=L.int32),
    lambda L, x: x.tile(dims=(2,)), lambda L, x: x.permute(1, 0, dims=(1, 0)),
])
def test_sequence_keywords(call):
    agree(lambda L: call(L, L.arange(4.0).reshape(2, 2)))
