"""Regression tests for the differential fuzzer's ninth round of finds in pointwise, special,
view-copy, scatter, masked and index_reduce ops: each case runs the same call on minigrad and on
PyTorch and wants the same result (value, dtype, shape, strides, gradient) or the same
exception type (and, where given, words)."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import agree, grads  # noqa: E402


DTYPES = ["bool", "uint8", "int32", "int64", "float16", "float32", "float64"]
RNG = np.random.default_rng(94)
_A = RNG.random((3, 4)) * 4 - 2
_P = RNG.random((2, 3)) * 0.9 + 0.05            # probabilities for ndtri
_B = RNG.random((4, 4)) * 3


def _t(lib, array, dtype):
    return lib.tensor(np.asarray(array) > 0) if dtype == "bool" else \
        lib.tensor(np.asarray(array).astype(dtype))


# ---- round: integers pass through a plain round, but not one given ``decimals`` --------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", [{}, {"decimals": 0}, {"decimals": 2}, {"decimals": -1}])
def test_round_decimals_dtypes(dtype, kwargs):
    agree(lambda L: L.round(_t(L, _A * 3, dtype), **kwargs))
    agree(lambda L: _t(L, _A * 3, dtype).round(**kwargs))


@pytest.mark.parametrize("dtype", DTYPES)
def test_special_round_refuses_integers(dtype):
    agree(lambda L: L.special.round(_t(L, _A * 3, dtype)))


# ---- special functions: bool multigammaln, float16 kernels PyTorch lacks ---------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_multigammaln_dtypes(dtype):
    agree(lambda L: L.special.multigammaln(_t(L, np.abs(_A) + 2, dtype), 2))
    agree(lambda L: L.special.multigammaln(_t(L, 1.0, dtype), 2))


@pytest.mark.parametrize("name", ["ndtri", "log_ndtr", "erfcx"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_special_unary_half(name, dtype):
    agree(lambda L: getattr(L.special, name)(_t(L, _P, dtype)))


@pytest.mark.parametrize("first", ["float16", "float32"])
@pytest.mark.parametrize("second", ["float16", "float64"])
def test_zeta_half(first, second):
    agree(lambda L: L.special.zeta(_t(L, [2.5, 3.0], first), _t(L, [1.5, 2.0], second)))


# ---- gradient: uint8 refused first, bool by its subtraction ----------------------------------
@pytest.mark.parametrize("dtype", DTYPES + ["int8"])
@pytest.mark.parametrize("edge_order", [1, 2])
def test_gradient_dtypes(dtype, edge_order):
    agree(lambda L: L.gradient(_t(L, _A * 3, dtype), dim=[1], edge_order=edge_order))
    if dtype != "float16":      # float16 samples, float32 coordinates: rounding differs
        agree(lambda L: L.gradient(_t(L, _A * 3, dtype), spacing=(L.tensor([1., 2., 4.]),),
                                   dim=0))


def test_gradient_uint8_refused_before_other_checks():
    agree(lambda L: L.gradient(_t(L, _A[:, :1], "uint8"), dim=1), match="uint8")
    agree(lambda L: L.gradient(_t(L, _A, "uint8"), dim=1, edge_order=3), match="uint8")


# ---- masked reductions: no +-inf identity for bool -------------------------------------------
_MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, True,
                                                                          False]])


@pytest.mark.parametrize("name", ["amax", "amin", "argmax", "argmin", "softmax", "log_softmax",
                                  "softmin", "logsumexp", "sum", "prod", "norm"])
@pytest.mark.parametrize("dtype", ["bool", "uint8", "int64", "float32"])
@pytest.mark.parametrize("masked", [True, False])
def test_masked_reductions_dtypes(name, dtype, masked):
    def run(L):
        x = _t(L, _A, dtype)
        mask = L.tensor(_MASK) if masked else None
        if name == "norm":
            return L.masked.norm(x, 2.0, 0, mask=mask)
        return getattr(L.masked, name)(x, 0, mask=mask)
    agree(run)


@pytest.mark.parametrize("masked", [True, False])
def test_masked_logaddexp_bool(masked):
    def run(L):
        x = _t(L, _A, "bool")
        mask = L.tensor(_MASK) if masked else None
        return L.masked.logaddexp(x, x, input_mask=mask, other_mask=mask)
    agree(run)


# ---- view_copy: a copy of what reshape reads, on any strides ----------------------------------
@pytest.mark.parametrize("layout", ["transposed", "expanded"])
@pytest.mark.parametrize("dtype", ["bool", "float64"])
@pytest.mark.parametrize("size", [(12,), (3, 2, 2), (-1, 6)])
def test_view_copy_any_strides(layout, dtype, size):
    def run(L):
        if layout == "transposed":
            x = _t(L, _A.T.copy(), dtype).t()
        else:
            x = _t(L, _A[:1].copy(), dtype).expand(3, 4)
        out = L.view_copy(x, size)
        assert out.is_contiguous()
        return out
    agree(run)


def test_view_copy_transposed_gradient():
    grads(lambda L, x: L.view_copy(x.t(), (2, 6)), _A)


# ---- diag_embed: a row-major result (its strides show through as_strided) --------------------
@pytest.mark.parametrize("offset, dim1, dim2", [(-1, 0, 2), (0, -2, -1), (1, 2, 0)])
@pytest.mark.parametrize("transposed", [False, True])
def test_diag_embed_is_contiguous(offset, dim1, dim2, transposed):
    def run(L):
        x = L.tensor(_A[:2, :3].T.copy()).t() if transposed else L.tensor(_A[:2, :3])
        out = L.diag_embed(x, offset, dim1, dim2)
        assert tuple(out.stride()) == tuple(out.contiguous().stride())
        return out, out.as_strided((3,), (4,))
    agree(run)


# ---- the *_scatter family: positions in the clone's memory; no gradient through an int input --
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "expanded"])
@pytest.mark.parametrize("offset", [None, 1])
def test_as_strided_scatter_layouts(layout, offset):
    def run(L):
        a = np.round(_A * 3)
        if layout == "transposed":
            x = L.tensor(a.T.astype(np.int64).copy()).t()
        elif layout == "expanded":
            x = L.tensor(a[:1].astype(np.int64)).expand(3, 4)
        else:
            x = L.tensor(a.astype(np.int64))
        src = L.tensor(np.arange(4, dtype=np.uint8).reshape(2, 2) + 5)
        extra = () if offset is None else (offset,)
        return L.as_strided_scatter(x, src, (2, 2), (1, 3), *extra)
    agree(run)


def test_as_strided_scatter_gradient():
    grads(lambda L, s: L.as_strided_scatter(L.tensor(_A), s, (2, 2), (1, 3), 1), _A[:2, :2])


def test_as_strided_scatter_transposed_gradient_follows_forward():
    """PyTorch's forward addresses a transposed input's memory column by column, but its src
    gradient reads the (row-major) gradient as if the input were contiguous, so it disagrees
    with its own forward; minigrad's gradient is where PyTorch's forward puts each element."""
    x = torch.tensor(_A.T.copy()).t()
    marks = torch.arange(1.0, 5.0, dtype=torch.float64).reshape(2, 2) + 100
    placed = torch.as_strided_scatter(x, marks, (2, 2), (1, 3), 1).numpy()
    weights = np.cos(np.arange(12.0)).reshape(3, 4)
    expected = np.array([weights[placed == m][0] for m in marks.numpy().ravel()]).reshape(2, 2)
    s = minigrad.tensor(marks.numpy(), requires_grad=True)
    out = minigrad.as_strided_scatter(minigrad.tensor(_A.T.copy()).t(), s, (2, 2), (1, 3), 1)
    np.testing.assert_array_equal(out.detach().numpy(), placed)
    (out * minigrad.tensor(weights)).sum().backward()
    np.testing.assert_allclose(s.grad.numpy(), expected, rtol=1e-12)


def _scatter(L, name, x, src):
    if name == "slice_scatter":
        return L.slice_scatter(x, src, 0, 1, 3)
    if name == "select_scatter":
        return L.select_scatter(x, src, 0, 1)
    if name == "diagonal_scatter":
        return L.diagonal_scatter(x, src)
    return L.as_strided_scatter(x, src, (3,), (5,))


_SRC_SHAPE = {"slice_scatter": (2, 4), "select_scatter": (4,), "diagonal_scatter": (4,),
              "as_strided_scatter": (3,)}


@pytest.mark.parametrize("name", list(_SRC_SHAPE))
@pytest.mark.parametrize("dtype", ["bool", "uint8", "int64", "float32"])
@pytest.mark.parametrize("grad", [True, False])
def test_scatter_into_integer_input_with_grad(name, dtype, grad):
    def run(L):
        x = _t(L, _B, dtype)
        src = L.ones(*_SRC_SHAPE[name], dtype=L.float64, requires_grad=grad)
        return _scatter(L, name, x, src)
    agree(run)

    def run_no_grad(L):
        with L.no_grad():
            return run(L)
    agree(run_no_grad)


# ---- index_reduce: bool has no kernel without self, nor a mean -------------------------------
@pytest.mark.parametrize("dtype", ["bool", "uint8", "int64", "float32"])
@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_index_reduce_dtypes(dtype, reduce, include_self):
    agree(lambda L: L.index_reduce(_t(L, _A[:, :2], dtype), 0, L.tensor([0, 2]),
                                   _t(L, _A[:2, 2:], dtype), reduce, include_self=include_self))


# ---- gradient with coordinate tensors: PyTorch's dtypes and rounding -------------------------
@pytest.mark.parametrize("samples", ["bool", "int32", "int64", "float16", "float32",
                                     "float64"])
@pytest.mark.parametrize("coords", ["int32", "int64", "float16", "float32", "float64"])
@pytest.mark.parametrize("edge_order", [1, 2])
def test_gradient_coordinate_dtypes(samples, coords, edge_order):
    values = [[1.0, 2.3, 4.0, 7.7, 11.0], [0.0, 1.0, -2.0, 5.0, 1.0]]
    agree(lambda L: L.gradient(_t(L, values, samples), spacing=(_t(L, [0, 1.1, 3.3, 4.7, 6.1],
                                                                     coords),),
                               dim=1, edge_order=edge_order))


def test_gradient_coordinate_gradient():
    grads(lambda L, x: L.gradient(x, spacing=(L.tensor([0.0, 1.0, 2.5, 4.0]),), dim=1,
                                  edge_order=2)[0], _A)


# ---- ldexp: the promoted dtype (float16 stays float16), 2**other computed in it ---------------
@pytest.mark.parametrize("first", DTYPES)
@pytest.mark.parametrize("second", DTYPES)
@pytest.mark.parametrize("zero_dim", [False, True])
def test_ldexp_dtypes(first, second, zero_dim):
    other = 2.0 if zero_dim else [3.0, -2.0]
    agree(lambda L: L.ldexp(_t(L, [1.5, 2.0], first), _t(L, other, second)))


@pytest.mark.parametrize("first", ["float16", "float32", "float64", "int64"])
@pytest.mark.parametrize("second", ["float16", "float32", "float64"])
def test_ldexp_fractional_exponent(first, second):
    # a floating exponent's power is rounded to its own dtype before the product
    agree(lambda L: L.ldexp(_t(L, [3.0, -1.0], first), _t(L, [0.35, -1.7], second)))


def test_ldexp_large_uint8_exponent():
    agree(lambda L: L.ldexp(L.tensor([1.5, 2.0], dtype=L.float64),
                            L.tensor([3, 254], dtype=L.uint8)))


def test_ldexp_gradient():
    # non-negative exponents: PyTorch's derivative takes 2**other in integer arithmetic, so a
    # negative integer exponent gives it a gradient of 0 (minigrad's is 2**other)
    grads(lambda L, x: L.ldexp(x, L.tensor([1, 2, 0, 3], dtype=L.int32)), _A)
    grads(lambda L, x: L.ldexp(x, L.tensor([1.0, -2.0, 0.0, 3.0], dtype=L.float16)), _A)


# ---- logit: a NaN gradient outside [0, 1] without eps ----------------------------------------
@pytest.mark.parametrize("eps", [None, 0.0, 0.1])
def test_logit_gradient_outside_domain(eps):
    values = [-0.5, 0.0, 0.3, 1.0, 1.5]
    grads(lambda L, x: L.logit(x) if eps is None else L.logit(x, eps), values)
    grads(lambda L, x: (x * 1.0).logit_() if eps is None else (x * 1.0).logit_(eps), values)


@pytest.mark.parametrize("samples", ["int64", "float16", "float32", "float64"])
@pytest.mark.parametrize("coords", ["uint8", "int32"])
@pytest.mark.parametrize("edge_order", [1, 2])
def test_gradient_integer_coordinates_wrap(samples, coords, edge_order):
    """Integer coordinates are differenced and multiplied in their own dtype (uint8 steps of
    3, 1, 0, 4, 250 wrap around), and the last second-order weight doubles as an integer."""
    values = [[1.0, 2.3, 4.0, 7.7, 11.0], [0.0, 1.0, -2.0, 5.0, 1.0]]
    agree(lambda L: L.gradient(_t(L, values, samples),
                               spacing=(L.tensor([3, 1, 0, 4, 250]).to(getattr(L, coords)),),
                               dim=1, edge_order=edge_order))
