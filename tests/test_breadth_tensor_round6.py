"""Round-6 breadth: integer math (gcd, lcm, ldexp, frexp), type-promotion queries, sampling
(multinomial, poisson, randint_like), index_reduce / fill_diagonal_, as_strided views,
directional splits, the conjugation API on real tensors, narrow_copy and the Bessel functions
bessel_j0 / bessel_j1, each compared with PyTorch."""
import functools
import itertools

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import same_tensor  # noqa: E402

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def _mg(t):
    return minigrad.tensor(t.numpy())


# dtype, shape and values within 1e-12 (integers and booleans compared as numbers)
_same = functools.partial(same_tensor, rtol=1e-12, atol=1e-12)


def _raises_alike(fn):
    """Run fn(lib) for both libraries; both must raise the same exception type."""
    with pytest.raises(Exception) as theirs:
        fn(torch)
    with pytest.raises(type(theirs.value)):
        fn(minigrad)


# -- integer math -------------------------------------------------------------------------------
def test_gcd_lcm_values_and_inplace():
    a = torch.tensor([0, 12, -18, 7, 0, 45], dtype=torch.int32)
    b = torch.tensor([[0], [8]], dtype=torch.int64)
    for name in ("gcd", "lcm"):
        _same(getattr(minigrad, name)(_mg(a), _mg(b)), getattr(torch, name)(a, b))
    x, y = torch.tensor([12, 9, -4]), torch.tensor([8, 6, 6])
    mx = _mg(x)
    assert mx.gcd_(_mg(y)) is mx
    _same(mx, x.clone().gcd_(y))
    _same(_mg(x).lcm_(_mg(y)), x.clone().lcm_(y))


def test_gcd_refusals():
    _raises_alike(lambda lib: lib.gcd(lib.tensor([1.0]), lib.tensor([2.0])))
    _raises_alike(lambda lib: lib.gcd(lib.tensor([1]), 2))
    _raises_alike(lambda lib: lib.lcm(lib.ones(2, 3, dtype=lib.int64),
                                      lib.ones(4, dtype=lib.int64)))
    _raises_alike(lambda lib: lib.ones(3, dtype=lib.int8).gcd_(lib.ones(2, 3, dtype=lib.int8)))


def test_ldexp_and_frexp():
    x = torch.randn(3, 4, dtype=torch.float64)
    e = torch.randint(-3, 4, (4,))
    _same(minigrad.ldexp(_mg(x), _mg(e)), torch.ldexp(x, e))
    _same(minigrad.ldexp(_mg(e), _mg(e)), torch.ldexp(e, e))              # ints -> float32
    _same(_mg(x.float()).ldexp(_mg(x)), x.float().ldexp(x))
    v = torch.tensor([0.0, -0.0, 1.0, -3.0, 0.1, 1e-310, 5e30, float("inf"), float("nan")],
                     dtype=torch.float64)
    mine, theirs = minigrad.frexp(_mg(v)), torch.frexp(v)
    np.testing.assert_array_equal(mine.mantissa.numpy(), theirs.mantissa.numpy())
    _same(mine.exponent, theirs.exponent)
    m, ex = _mg(v[2:7].float()).frexp()
    assert m.dtype == minigrad.float32 and ex.dtype == minigrad.int32
    _raises_alike(lambda lib: lib.frexp(lib.tensor([1, 2])))


# -- type promotion -------------------------------------------------------------------------------
def test_promote_types_and_can_cast_every_pair():
    for a, b in itertools.product(DTYPES, DTYPES):
        ma, mb, ta, tb = (getattr(minigrad, a), getattr(minigrad, b), getattr(torch, a),
                          getattr(torch, b))
        assert minigrad.promote_types(ma, mb).name == str(torch.promote_types(ta, tb))[6:]
        assert minigrad.can_cast(ma, mb) == torch.can_cast(ta, tb), (a, b)


def test_result_type():
    cases = [(torch.tensor([1], dtype=torch.int8), 1000), (torch.tensor([1]), 2.5),
             (torch.tensor(1.0, dtype=torch.float64), torch.tensor([1], dtype=torch.int32)),
             (torch.tensor([True]), True), (torch.tensor([1], dtype=torch.uint8),
                                             torch.tensor(1, dtype=torch.int8)),
             (torch.tensor([1.0], dtype=torch.float16), torch.tensor(1.0)), (3, 4.0)]
    for a, b in cases:
        ma = _mg(a) if isinstance(a, torch.Tensor) else a
        mb = _mg(b) if isinstance(b, torch.Tensor) else b
        assert minigrad.result_type(ma, mb).name == str(torch.result_type(a, b))[6:]


# -- sampling -------------------------------------------------------------------------------------
def test_multinomial_shapes_distribution_and_generator():
    w = minigrad.tensor([[0.0, 1.0, 3.0], [2.0, 0.0, 2.0]])
    out = minigrad.multinomial(w, 5000, replacement=True)
    assert out.dtype == minigrad.int64 and tuple(out.shape) == (2, 5000)
    counts = np.stack([np.bincount(r, minlength=3) for r in out.numpy()]) / 5000
    np.testing.assert_allclose(counts, [[0, 0.25, 0.75], [0.5, 0, 0.5]], atol=0.04)
    no_rep = w[0].multinomial(2)
    assert sorted(no_rep.tolist()) == [1, 2]
    g1, g2 = minigrad.Generator().manual_seed(3), minigrad.Generator().manual_seed(3)
    p = minigrad.rand(6)
    assert minigrad.equal(minigrad.multinomial(p, 4, generator=g1),
                          minigrad.multinomial(p, 4, generator=g2))


def test_multinomial_refusals():
    _raises_alike(lambda lib: lib.multinomial(lib.ones(2, 2, 2), 1))
    _raises_alike(lambda lib: lib.multinomial(lib.ones(3), 4))
    _raises_alike(lambda lib: lib.multinomial(lib.ones(3), 0))
    _raises_alike(lambda lib: lib.multinomial(lib.tensor([1.0, -1.0]), 1))
    _raises_alike(lambda lib: lib.multinomial(lib.zeros(3), 1, True))
    _raises_alike(lambda lib: lib.multinomial(lib.tensor([1, 2]), 1))


def test_poisson_and_randint_like():
    rates = minigrad.full((20000,), 3.0, dtype=minigrad.float64, requires_grad=True)
    draws = minigrad.poisson(rates)
    assert draws.dtype == minigrad.float64 and abs(float(draws.mean()) - 3.0) < 0.1
    values = draws.detach().numpy()
    assert np.all(values == np.round(values))
    draws.sum().backward()
    assert float(rates.grad.abs().sum()) == 0.0                  # PyTorch's zero gradient
    _raises_alike(lambda lib: lib.poisson(lib.tensor([1, 2])))
    t = minigrad.zeros(3, 4, dtype=minigrad.int32)
    r = minigrad.randint_like(t, 5)
    assert r.dtype == minigrad.int32 and tuple(r.shape) == (3, 4)
    assert 0 <= int(r.min()) and int(r.max()) < 5
    r = minigrad.randint_like(minigrad.zeros(500), -2, 2, dtype=minigrad.int64)
    assert r.dtype == minigrad.int64 and set(r.tolist()) == {-2, -1, 0, 1}


# -- index_reduce, fill_diagonal_ -----------------------------------------------------------------
@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_index_reduce_matches_torch(reduce, include_self):
    for dtype in (torch.float64, torch.int64):
        x = torch.randint(-5, 6, (5, 3)).to(dtype)
        src = torch.randint(-5, 6, (4, 3)).to(dtype)
        idx = torch.tensor([4, 0, 4, -5 + 5])
        _same(_mg(x).index_reduce(0, _mg(idx), _mg(src), reduce, include_self=include_self),
              x.index_reduce(0, idx, src, reduce, include_self=include_self))
        mine = _mg(x.t().contiguous())
        mine.index_reduce_(1, _mg(idx), _mg(src.t().contiguous()), reduce,
                           include_self=include_self)
        _same(mine, x.t().contiguous().index_reduce_(1, idx, src.t().contiguous(), reduce,
                                                     include_self=include_self))


def test_index_reduce_refusals():
    def call(lib, dim=0, idx=None, src=None, reduce="prod"):
        x = lib.ones(3, 4)
        idx = lib.tensor([0, 1]) if idx is None else idx
        src = lib.ones(2, 4) if src is None else src
        return x.index_reduce(dim, idx, src, reduce)
    _raises_alike(lambda lib: call(lib, reduce="sum"))
    _raises_alike(lambda lib: call(lib, idx=lib.tensor([[0, 1]])))
    _raises_alike(lambda lib: call(lib, idx=lib.tensor([0.0, 1.0])))
    _raises_alike(lambda lib: call(lib, src=lib.ones(3, 4)))
    _raises_alike(lambda lib: call(lib, src=lib.ones(2, 3)))
    _raises_alike(lambda lib: call(lib, src=lib.ones(2, 4, dtype=lib.float64)))
    _raises_alike(lambda lib: call(lib, idx=lib.tensor([0, 7])))


def test_fill_diagonal():
    for shape, wrap in [((3, 5), False), ((7, 3), False), ((7, 3), True), ((4, 4, 4), False),
                        ((2, 6), True)]:
        t = torch.zeros(shape)
        m = minigrad.zeros(*shape)
        assert m.fill_diagonal_(2.5, wrap=wrap) is m
        _same(m, t.fill_diagonal_(2.5, wrap=wrap))
    _raises_alike(lambda lib: lib.zeros(3).fill_diagonal_(1))
    _raises_alike(lambda lib: lib.zeros(3, 3, 2).fill_diagonal_(1))


# -- as_strided, narrow_copy, splits, conjugation ------------------------------------------------
def test_as_strided_values_and_view_semantics():
    x = torch.arange(12.0).reshape(3, 4)
    for size, stride, offset in [((2, 2), (4, 1), None), ((3, 3), (1, 2), 1), ((3,), (5,), 0),
                                 ((2, 0), (1, 1), None), ((), (), 11)]:
        _same(minigrad.as_strided(_mg(x), size, stride, offset),
              torch.as_strided(x, size, stride, offset))
    m = minigrad.arange(12.0)
    v = m.as_strided((3, 2), (4, 1), 1)
    v.mul_(10.0)                                  # a view: the write reaches m
    t = torch.arange(12.0)
    t.as_strided((3, 2), (4, 1), 1).mul_(10.0)
    _same(m, t)
    _same(m.reshape(3, 4).t().as_strided((2, 2), (1, 2)),     # strides count in m's memory
          t.reshape(3, 4).t().as_strided((2, 2), (1, 2)))
    _raises_alike(lambda lib: lib.as_strided(lib.ones(3), (2,), (1,), 2))
    _raises_alike(lambda lib: lib.as_strided(lib.ones(3), (2,), (1, 1)))
    _raises_alike(lambda lib: lib.as_strided(lib.ones(3), (2,), (-1,)))


def test_narrow_copy_splits_and_conj():
    x = torch.randn(4, 6, 8)
    _same(minigrad.narrow_copy(_mg(x), 1, -4, 3), torch.narrow_copy(x, 1, -4, 3))
    m = _mg(x)
    copied = m.narrow_copy(0, 1, 2)
    copied.zero_()
    _same(m, x)                                   # a copy: m untouched
    for name, how in [("hsplit", 3), ("hsplit", [1, 4]), ("vsplit", 2), ("vsplit", [3]),
                      ("dsplit", 4), ("dsplit", [2, 5, 5])]:
        mine, theirs = getattr(minigrad, name)(m, how), getattr(torch, name)(x, how)
        assert len(mine) == len(theirs)
        for a, b in zip(mine, theirs):
            _same(a, b)
    for a, b in zip(minigrad.hsplit(_mg(x[0, 0]), 2), torch.hsplit(x[0, 0], 2)):
        _same(a, b)
    _raises_alike(lambda lib: lib.hsplit(lib.ones(3, 5), 2))
    _raises_alike(lambda lib: lib.vsplit(lib.ones(3), 1))
    _raises_alike(lambda lib: lib.dsplit(lib.ones(3, 2), 1))
    _raises_alike(lambda lib: lib.hsplit(lib.tensor(1.0), 1))
    assert minigrad.conj(m) is m and m.conj() is m
    assert m.resolve_conj() is m and m.resolve_neg() is m and not m.is_conj()
    _same(m.adjoint(), x.adjoint())
    _raises_alike(lambda lib: lib.ones(3).adjoint())


# -- Bessel functions ------------------------------------------------------------------------------
def test_bessel_j0_j1_accuracy():
    special = pytest.importorskip("scipy.special")
    x = np.concatenate([np.linspace(-80.0, 80.0, 40001), [0.0, 1e-300, 1.9999999, 2.0,
                                                          24.99999, 25.0, 1e4]])
    for name, ref in (("bessel_j0", special.j0), ("bessel_j1", special.j1)):
        mine = getattr(minigrad.special, name)(minigrad.tensor(x)).numpy()
        np.testing.assert_allclose(mine, ref(x), rtol=0, atol=2e-14)
        # PyTorch's own float64 kernel is only ~4e-7 accurate between about 3 and 14
        np.testing.assert_allclose(mine, getattr(torch.special, name)(torch.tensor(x)).numpy(),
                                   rtol=0, atol=1e-6)
    j1 = minigrad.special.bessel_j1(minigrad.tensor([-3.0, 3.0]))
    assert float(j1[0]) == -float(j1[1])
    i = minigrad.special.bessel_j0(minigrad.tensor([0, 1, 2]))
    assert i.dtype == minigrad.float32
    assert np.isnan(minigrad.special.bessel_j0(minigrad.tensor([float("inf")])).numpy()).all() \
        == np.isnan(torch.special.bessel_j0(torch.tensor([float("inf")])).numpy()).all()


def test_clamp_with_tensor_bounds():
    x, lo, hi = torch.randn(3, 4), torch.full((4,), -0.5), torch.full((3, 1), 0.5)
    _same(minigrad.clamp(_mg(x), _mg(lo), _mg(hi)), torch.clamp(x, lo, hi))
