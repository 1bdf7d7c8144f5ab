"""Result memory layouts (strides) beside PyTorch, round 2: the pointwise special functions,
``out=`` tensors resized to the op's computed layout, the size-1 strides of keepdim
reductions, sort / roll / index_add / scatter_add / global average pooling /
channel_shuffle on channels-last and transposed inputs.  Each case runs the same program on
both libraries, from the same numpy values, and compares strides (and values)."""
import warnings

import numpy as np
import pytest
import torch

import minigrad

RNG = np.random.default_rng(11)
A = (RNG.random((2, 3, 4, 5)) + 0.5).astype(np.float32)
B = (RNG.random((2, 3, 4, 5)) + 0.5).astype(np.float32)
I = RNG.integers(1, 7, (2, 3, 4, 5))
J = RNG.integers(1, 7, (2, 3, 4, 5))
N = RNG.random((4, 5)).astype(np.float32)


def cl(L, array=A):
    """``array`` as a channels-last tensor of library L."""
    return L.tensor(array).contiguous(memory_format=L.channels_last)


def tr(L, array):
    """A transposed 2-d view holding ``array`` reshaped to (6, 20)."""
    return L.tensor(np.ascontiguousarray(array.reshape(6, 20).T)).t()


def c(L, array):
    return L.tensor(array)


def c2(L, array):
    return L.tensor(array.reshape(6, 20))


# each takes (L, first, second): first the laid-out operand maker, second a row-major one
POINTWISE = {
    "logical_xor": lambda L, f, s: L.logical_xor(f(L, A) > 1, s(L, B) > 1),
    "isclose": lambda L, f, s: L.isclose(f(L, A), s(L, B)),
    "gcd": lambda L, f, s: L.gcd(f(L, I), s(L, J)),
    "lcm": lambda L, f, s: L.lcm(f(L, I), s(L, J)),
    "igamma": lambda L, f, s: L.igamma(f(L, A), s(L, B)),
    "igammac": lambda L, f, s: L.igammac(f(L, A), s(L, B)),
    "zeta": lambda L, f, s: L.special.zeta(f(L, A) + 1, s(L, B)),
    "polar": lambda L, f, s: L.polar(f(L, A), s(L, B)),
    "complex": lambda L, f, s: L.complex(f(L, A), s(L, B)),
    "chebyshev_t": lambda L, f, s: L.special.chebyshev_polynomial_t(f(L, A), s(L, J)),
    "chebyshev_t number n": lambda L, f, s: L.special.chebyshev_polynomial_t(f(L, A), 3),
    "hermite_h": lambda L, f, s: L.special.hermite_polynomial_h(f(L, A), s(L, J)),
    "laguerre_l": lambda L, f, s: L.special.laguerre_polynomial_l(f(L, A), s(L, J)),
    "legendre_p": lambda L, f, s: L.special.legendre_polynomial_p(f(L, A), s(L, J)),
    "bce none": lambda L, f, s: L.nn.functional.binary_cross_entropy(
        f(L, A) / 2, s(L, B) / 2, reduction="none"),
    "erf": lambda L, f, s: L.erf(f(L, A)),
    "erfc": lambda L, f, s: L.erfc(f(L, A)),
    "erfinv": lambda L, f, s: L.erfinv(f(L, A) / 2),
    "lgamma": lambda L, f, s: L.lgamma(f(L, A)),
    "digamma": lambda L, f, s: L.digamma(f(L, A)),
    "polygamma": lambda L, f, s: L.polygamma(1, f(L, A)),
    "i0": lambda L, f, s: L.i0(f(L, A)),
    "i1e": lambda L, f, s: L.special.i1e(f(L, A)),
    "ndtri": lambda L, f, s: L.special.ndtri(f(L, A) / 3),
    "log_ndtr": lambda L, f, s: L.special.log_ndtr(f(L, A)),
    "erfcx": lambda L, f, s: L.special.erfcx(f(L, A)),
    "bessel_j0": lambda L, f, s: L.special.bessel_j0(f(L, A)),
    "bessel_j1": lambda L, f, s: L.special.bessel_j1(f(L, A)),
    "airy_ai": lambda L, f, s: L.special.airy_ai(f(L, A)),
    "modified_bessel_i0": lambda L, f, s: L.special.modified_bessel_i0(f(L, A)),
    "scaled_modified_bessel_k0": lambda L, f, s: L.special.scaled_modified_bessel_k0(f(L, A)),
    "spherical_bessel_j0": lambda L, f, s: L.special.spherical_bessel_j0(f(L, A)),
    "round decimals": lambda L, f, s: L.round(f(L, A), decimals=2),
    "mvlgamma (row-major)": lambda L, f, s: L.mvlgamma(f(L, A) + 2, 2),
    "abs of complex": lambda L, f, s: L.complex(f(L, A), f(L, B)).abs(),
}


def _same(case):
    """Run ``case`` on both libraries; strides, dtype names and values agree."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want, got = case(torch), case(minigrad)
    assert got.stride() == want.stride()
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    return want, got


@pytest.mark.parametrize("name", sorted(POINTWISE))
@pytest.mark.parametrize("layout", ["channels_last", "transposed"])
def test_pointwise_special_layout(name, layout):
    first, second = (cl, c) if layout == "channels_last" else (tr, c2)
    want, got = _same(lambda L: POINTWISE[name](L, first, second))
    if layout == "channels_last" and name != "mvlgamma (row-major)":
        assert got.is_contiguous(memory_format=minigrad.channels_last)


def _empty(L, shape=(0,), dtype=None):
    return L.empty(shape, dtype=dtype or L.float32)


OUT_CASES = {
    "add cl cl": lambda L: L.add(cl(L), cl(L), out=_empty(L)),
    "add cl c": lambda L: L.add(cl(L), L.tensor(B), out=_empty(L)),
    "add c cl (row-major)": lambda L: L.add(L.tensor(B), cl(L), out=_empty(L)),
    "add wrong shape": lambda L: L.add(cl(L), 1, out=_empty(L, (3,))),
    "mul transposed": lambda L: L.mul(tr(L, A), tr(L, A), out=_empty(L)),
    "exp": lambda L: L.exp(cl(L), out=_empty(L)),
    "erf": lambda L: L.erf(cl(L), out=_empty(L)),
    "gt": lambda L: L.gt(cl(L), 1, out=_empty(L, dtype=L.bool)),
    "to float64 out": lambda L: L.mul(tr(L, A), 2, out=_empty(L, dtype=L.float64)),
    "clamp": lambda L: L.clamp(cl(L), 0.6, 1.2, out=_empty(L)),
    "sort values": lambda L: L.sort(cl(L), 1, out=(_empty(L), _empty(L, dtype=L.int64)))[0],
    "sum keepdim (row-major)": lambda L: L.sum(cl(L), 1, keepdim=True, out=_empty(L)),
    "mm of transposed (row-major)": lambda L: L.mm(tr(L, A), tr(L, A).t(), out=_empty(L)),
    "cat cl": lambda L: L.cat([cl(L), cl(L)], 1, out=_empty(L)),
    "right shape keeps its strides": lambda L: L.add(L.tensor(A), 1, out=cl(L, B)),
}


@pytest.mark.parametrize("name", sorted(OUT_CASES))
def test_resized_out_takes_the_computed_layout(name):
    want, got = _same(OUT_CASES[name])
    assert got.is_contiguous(memory_format=minigrad.channels_last) == \
        want.is_contiguous(memory_format=torch.channels_last)


def test_resized_out_is_the_out_tensor_and_warns_like_torch():
    for L in (torch, minigrad):
        out = L.empty(3)
        with pytest.warns(UserWarning, match="was resized"):
            result = L.add(cl(L), 1, out=out)
        assert result is out
        assert out.stride() == (60, 1, 15, 3)
        out.add_(1)                      # the resized tensor is writable and dense
        np.testing.assert_allclose(out.numpy(), A + 2, rtol=1e-6)


def test_functional_permute_needs_dims():
    for L in (torch, minigrad):
        with pytest.raises(TypeError, match="dims"):
            L.permute(L.tensor(1.0))
        with pytest.raises(TypeError, match="dims"):
            L.tensor(1.0).permute()
        assert tuple(L.permute(L.tensor(1.0), ()).shape) == ()


OTHER = {
    "sum keepdim cl": lambda L: cl(L).sum(1, keepdim=True),
    "sum keepdim transposed": lambda L: tr(L, A).sum(1, keepdim=True),
    "mean keepdim dim 0 transposed": lambda L: tr(L, A).mean(0, keepdim=True),
    "amax keepdim cl": lambda L: cl(L).amax(1, keepdim=True),
    "prod keepdim transposed": lambda L: tr(L, A).prod(-1, keepdim=True),
    "any keepdim cl": lambda L: (cl(L) > 1).any(1, keepdim=True),
    "nansum keepdim transposed": lambda L: tr(L, A).nansum(1, keepdim=True),
    "aminmax keepdim cl": lambda L: L.aminmax(cl(L), dim=1, keepdim=True)[0],
    "sort values cl": lambda L: cl(L).sort(1)[0],
    "sort indices cl": lambda L: cl(L).sort(-1)[1],
    "sort values transposed": lambda L: tr(L, A).sort(1)[0],
    "sort descending transposed": lambda L: tr(L, A).sort(0, descending=True)[0],
    "argsort cl": lambda L: L.argsort(cl(L), 1),
    "msort cl": lambda L: L.msort(cl(L)),
    "sort sliced (row-major)": lambda L: L.tensor(A)[:, :, 1:3].sort(1)[0],
    "roll cl": lambda L: cl(L).roll(1, 1),
    "roll cl two dims": lambda L: cl(L).roll((1, 2), (1, 3)),
    "roll cl flat (row-major)": lambda L: cl(L).roll(1),
    "roll transposed (row-major)": lambda L: tr(L, A).roll(1, 0),
    "index_add cl (row-major)": lambda L: cl(L).index_add(1, L.tensor([0]), cl(L)[:, :1]),
    "index_add transposed (row-major)": lambda L: tr(L, A).index_add(
        0, L.tensor([1]), L.ones(1, 20)),
    "scatter_add cl (row-major)": lambda L: cl(L).scatter_add(
        1, L.zeros(2, 3, 4, 5, dtype=L.int64), cl(L)),
    "adaptive_avg_pool2d cl to 1": lambda L: L.nn.functional.adaptive_avg_pool2d(cl(L), 1),
    "adaptive_avg_pool2d row-major to 1": lambda L: L.nn.functional.adaptive_avg_pool2d(
        L.tensor(A), 1),
    "channel_shuffle sliced": lambda L: L.nn.functional.channel_shuffle(
        L.tensor(A)[:, :, :2], 3),
    "channel_shuffle cl": lambda L: L.nn.functional.channel_shuffle(cl(L), 3),
}


@pytest.mark.parametrize("name", sorted(OTHER))
def test_other_result_layouts(name):
    _same(OTHER[name])


def test_sort_of_cl_input_keeps_gradient_layout_and_node():
    for L in (torch, minigrad):
        x = cl(L).requires_grad_()
        values = x.sort(1)[0]
        assert type(values.grad_fn).__name__ == "SortBackward0"
        values.backward(L.tensor(np.cos(np.arange(120.0)).reshape(2, 3, 4, 5).astype(np.float32)))
    a, b = cl(torch).requires_grad_(), cl(minigrad).requires_grad_()
    g = np.cos(np.arange(120.0)).reshape(2, 3, 4, 5).astype(np.float32)
    a.sort(1)[0].backward(torch.tensor(g))
    b.sort(1)[0].backward(minigrad.tensor(g))
    assert b.grad.stride() == a.grad.stride()
    np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy())


@pytest.mark.parametrize("groups", [1, 3])
def test_channel_shuffle_returns_a_new_tensor(groups):
    sums = []
    for L in (torch, minigrad):
        x = L.tensor(np.arange(24.0).reshape(1, 3, 2, 4))
        y = L.nn.functional.channel_shuffle(x, groups)
        y.add_(100)                      # must not write through to x
        sums.append(float(x.sum()))
        assert y.is_contiguous()
    assert sums[0] == sums[1] == 276.0
