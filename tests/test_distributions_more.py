"""The later distributions (Multinomial, the relaxed ones, Weibull, Pareto,
ContinuousBernoulli, NegativeBinomial, Cauchy, StudentT, Chi2, Gumbel, HalfNormal,
HalfCauchy), the later transforms and biject_to/transform_to, against torch.distributions
in float64: values and parameter gradients, statistics, expand, support, draw shapes and
dtypes, rsample gradients, and the errors for bad parameters."""
import functools

import numpy as np
import pytest

import minigrad as mg
import minigrad.distributions as D
from minigrad.distributions import constraints as MC
from minigrad.distributions import transforms as MT

torch = pytest.importorskip("torch")
from torch_agreement import leaves  # noqa: E402

# the same float64 values as a (minigrad, torch) pair of leaves: _both(array, grad=True)
_both = functools.partial(leaves, dtype="float64")

TD = torch.distributions

RNG = np.random.RandomState(7)


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _close(ours, theirs, tol=1e-8):
    a, b = _np(ours), _np(theirs)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol, equal_nan=True)


def _lib_of(module):
    return (D, mg) if module is D else (TD, torch)


def _simplex(*shape):
    p = RNG.uniform(0.2, 1.0, shape)
    return p / p.sum(-1, keepdims=True)


# name, builder(dists module, tensor lib, params) -> distribution, raw parameters,
# evaluation point (numpy), statistics to compare
CASES = [
    ("Multinomial", lambda M, L, p: M.Multinomial(4, probs=p[0]), [_simplex(2, 3)],
     np.array([[1., 2., 1.], [0., 0., 4.]]), ["mean", "variance", "entropy"]),
    ("MultinomialLogits", lambda M, L, p: M.Multinomial(3, logits=p[0]), [RNG.randn(3)],
     np.array([[3., 0., 0.], [1., 1., 1.]]), ["mean", "variance", "entropy"]),
    ("ExpRelaxedCategorical", lambda M, L, p: M.relaxed_categorical.ExpRelaxedCategorical(
        p[0], logits=p[1]), [np.array(0.7), RNG.randn(2, 3)],
     np.log(_simplex(2, 3)), []),
    ("RelaxedOneHotCategorical", lambda M, L, p: M.RelaxedOneHotCategorical(
        p[0], probs=p[1]), [np.array(0.5), _simplex(3)], _simplex(2, 3), []),
    ("LogitRelaxedBernoulli", lambda M, L, p: M.relaxed_bernoulli.LogitRelaxedBernoulli(
        p[0], probs=p[1]), [np.array(0.6), RNG.uniform(0.2, 0.8, 3)], RNG.randn(2, 3), []),
    ("RelaxedBernoulli", lambda M, L, p: M.RelaxedBernoulli(p[0], logits=p[1]),
     [np.array(1.3), RNG.randn(3)], RNG.uniform(0.1, 0.9, (2, 3)), []),
    ("Weibull", lambda M, L, p: M.Weibull(p[0], p[1]),
     [RNG.uniform(0.5, 2, 3), RNG.uniform(0.6, 3, (2, 1))], RNG.uniform(0.2, 3, (2, 3)),
     ["mean", "variance", "stddev", "mode", "entropy"]),
    ("Pareto", lambda M, L, p: M.Pareto(p[0], p[1]),
     [RNG.uniform(0.5, 1, 3), np.array([0.8, 1.5, 3.0])], RNG.uniform(1.0, 4, (2, 3)),
     ["mean", "variance", "mode", "entropy"]),
    ("ContinuousBernoulli", lambda M, L, p: M.ContinuousBernoulli(probs=p[0]),
     [np.array([0.1, 0.4995, 0.5, 0.73])], RNG.uniform(0.01, 0.99, (2, 4)),
     ["mean", "variance", "stddev", "entropy", "cdf", "icdf"]),
    ("ContinuousBernoulliLogits", lambda M, L, p: M.ContinuousBernoulli(logits=p[0]),
     [np.array([-2.0, 0.001, 1.5])], RNG.uniform(0.01, 0.99, 3),
     ["mean", "variance", "entropy", "cdf", "icdf"]),
    ("NegativeBinomial", lambda M, L, p: M.NegativeBinomial(p[0], probs=p[1]),
     [np.array([0.7, 2.0, 5.5]), RNG.uniform(0.1, 0.9, 3)],
     np.array([[0., 1., 7.], [3., 0., 2.]]), ["mean", "variance", "mode"]),
    ("NegativeBinomialLogits", lambda M, L, p: M.NegativeBinomial(p[0], logits=p[1]),
     [np.array(3.0), RNG.randn(3)], np.array([0., 2., 9.]), ["mean", "variance", "mode"]),
    ("Cauchy", lambda M, L, p: M.Cauchy(p[0], p[1]), [RNG.randn(3), RNG.uniform(0.5, 2, 3)],
     RNG.randn(2, 3), ["mean", "variance", "mode", "entropy", "cdf", "icdf"]),
    ("StudentT", lambda M, L, p: M.StudentT(p[0], p[1], p[2]),
     [np.array([0.8, 1.5, 2.5, 7.0]), RNG.randn(4), RNG.uniform(0.5, 2, 4)], RNG.randn(2, 4),
     ["mean", "variance", "mode", "entropy"]),
    ("Chi2", lambda M, L, p: M.Chi2(p[0]), [RNG.uniform(0.5, 5, 3)],
     RNG.uniform(0.1, 4, (2, 3)), ["mean", "variance", "mode", "entropy"]),
    ("Gumbel", lambda M, L, p: M.Gumbel(p[0], p[1]), [RNG.randn(3), RNG.uniform(0.5, 2, 3)],
     RNG.randn(2, 3), ["mean", "variance", "stddev", "mode", "entropy", "cdf", "icdf"]),
    ("HalfNormal", lambda M, L, p: M.HalfNormal(p[0]), [RNG.uniform(0.5, 2, 3)],
     RNG.uniform(0.0, 3, (2, 3)), ["mean", "variance", "mode", "entropy", "cdf", "icdf"]),
    ("HalfCauchy", lambda M, L, p: M.HalfCauchy(p[0]), [RNG.uniform(0.5, 2, 3)],
     RNG.uniform(0.0, 3, (2, 3)), ["mean", "variance", "mode", "entropy", "cdf", "icdf"]),
]

_UNIT_POINTS = np.array([0.1, 0.35, 0.6, 0.9])


def _pairs(name, raw):
    pairs = [_both(r) for r in raw]
    ours = [p[0] for p in pairs]
    theirs = [p[1] for p in pairs]
    build = dict((c[0], c[1]) for c in CASES)[name]
    return build(D, mg, ours), build(TD, torch, theirs), ours, theirs


def _stat(dist, what, lib, value):
    if what == "cdf":
        return dist.cdf(lib.tensor(value, dtype=lib.float64))
    if what == "icdf":
        return dist.icdf(lib.tensor(_UNIT_POINTS[:value.shape[-1]], dtype=lib.float64))
    if what == "entropy":
        return dist.entropy()
    return getattr(dist, what)


@pytest.mark.parametrize("name,build,raw,value,stats", CASES, ids=[c[0] for c in CASES])
def test_log_prob_statistics_and_gradients_match_torch(name, build, raw, value, stats):
    ours, theirs, our_params, their_params = _pairs(name, raw)
    assert ours.batch_shape == theirs.batch_shape
    assert ours.event_shape == theirs.event_shape
    assert type(ours.support).__name__ == type(theirs.support).__name__
    assert ours.has_rsample == theirs.has_rsample
    x_ours = mg.tensor(value, dtype=mg.float64)
    x_theirs = torch.tensor(value, dtype=torch.float64)
    lp_ours, lp_theirs = ours.log_prob(x_ours), theirs.log_prob(x_theirs)
    _close(lp_ours, lp_theirs)
    total_ours, total_theirs = lp_ours.sum(), lp_theirs.sum()
    for what in stats:
        s_ours = _stat(ours, what, mg, value)
        s_theirs = _stat(theirs, what, torch, value)
        _close(s_ours, s_theirs)
        finite = np.isfinite(_np(s_theirs))
        total_ours = total_ours + (s_ours * mg.tensor(finite.astype(np.float64))).nan_to_num(
            0.0, 0.0, 0.0).sum()
        total_theirs = total_theirs + (s_theirs * torch.tensor(finite.astype(np.float64))
                                       ).nan_to_num(0.0, 0.0, 0.0).sum()
    total_ours.backward()
    total_theirs.backward()
    for p_ours, p_theirs in zip(our_params, their_params):
        g_theirs = p_theirs.grad
        if g_theirs is None:
            assert p_ours.grad is None or not np.any(_np(p_ours.grad))
        else:
            _close(p_ours.grad, g_theirs, tol=1e-6)


@pytest.mark.parametrize("name,build,raw,value,stats", CASES, ids=[c[0] for c in CASES])
def test_expand_sample_shapes_and_rsample_gradients(name, build, raw, value, stats):
    ours, theirs, our_params, _ = _pairs(name, raw)
    wide = (2,) + tuple(ours.batch_shape)
    grown_ours, grown_theirs = ours.expand(wide), theirs.expand(wide)
    assert type(grown_ours) is type(ours)
    assert grown_ours.batch_shape == grown_theirs.batch_shape
    x_ours = mg.tensor(value, dtype=mg.float64)
    x_theirs = torch.tensor(value, dtype=torch.float64)
    _close(grown_ours.log_prob(x_ours), grown_theirs.log_prob(x_theirs))
    mg.manual_seed(3)
    draws = ours.sample((4, 2))
    reference = theirs.sample((4, 2))
    assert tuple(draws.shape) == tuple(reference.shape)
    assert str(draws.dtype).split(".")[-1] == str(reference.dtype).split(".")[-1]
    assert bool(ours.support.check(draws).all())
    assert tuple(grown_ours.sample().shape) == tuple(grown_theirs.sample().shape)
    if ours.has_rsample:
        path = ours.rsample((3,))
        assert path.requires_grad
        path.sum().backward()
        for p in our_params:
            assert p.grad is not None and p.grad.shape == p.shape
            assert np.all(np.isfinite(_np(p.grad)))


def test_multinomial_samples_are_counts_with_the_right_mean():
    mg.manual_seed(0)
    probs = mg.tensor([0.2, 0.5, 0.3], dtype=mg.float64)
    draws = D.Multinomial(10, probs=probs).sample((4000,))
    assert tuple(draws.shape) == (4000, 3)
    assert np.all(_np(draws).sum(-1) == 10)
    np.testing.assert_allclose(_np(draws).mean(0), [2.0, 5.0, 3.0], atol=0.1)
    none = D.Multinomial(0, probs=probs)
    with pytest.raises(RuntimeError, match="cannot sample n_sample <= 0 samples"):
        none.sample((2,))           # (as torch: total_count 0 draws with multinomial)
    _close(none.entropy(), TD.Multinomial(0, probs=torch.tensor(_np(probs))).entropy())


def test_multinomial_zero_probability_classes_and_extreme_probabilities():
    for p in ([0.0, 0.4, 0.6], [1e-300, 1.0 - 1e-12, 1e-12]):
        ours = D.Multinomial(3, probs=mg.tensor(p, dtype=mg.float64))
        theirs = TD.Multinomial(3, probs=torch.tensor(p, dtype=torch.float64))
        x = [[0., 1., 2.], [0., 3., 0.]]
        _close(ours.log_prob(mg.tensor(x, dtype=mg.float64)),
               theirs.log_prob(torch.tensor(x, dtype=torch.float64)))
        _close(ours.entropy(), theirs.entropy(), tol=1e-6)


def test_negative_binomial_dtype_follows_total_count_and_draw_moments():
    count = mg.tensor([2.0, 3.0], dtype=mg.float64)
    dist = D.NegativeBinomial(count, probs=0.3)
    assert dist.probs.dtype == mg.float64 and dist.total_count.dtype == mg.float64
    mg.manual_seed(1)
    draws = _np(D.NegativeBinomial(4.0, probs=0.25).sample((20000,)))
    assert abs(draws.mean() - 4.0 / 3.0) < 0.06


def test_relaxed_draws_live_in_their_supports():
    mg.manual_seed(2)
    t = mg.tensor(0.3)
    onehot = D.RelaxedOneHotCategorical(t, logits=mg.tensor([0.0, 1.0, -1.0])).rsample((50,))
    np.testing.assert_allclose(_np(onehot).sum(-1), 1.0, atol=1e-5)
    coin = D.RelaxedBernoulli(t, probs=mg.tensor([0.2, 0.9])).rsample((50,))
    assert np.all((_np(coin) >= 0) & (_np(coin) <= 1))


def _raises_like(make_ours, make_theirs):
    with pytest.raises(Exception) as theirs:
        make_theirs()
    with pytest.raises(type(theirs.value)) as ours:
        make_ours()
    assert str(ours.value).split("(")[0] == str(theirs.value).split("(")[0]


@pytest.mark.parametrize("make", [
    lambda M, L: M.Multinomial(2.5, probs=L.tensor([0.5, 0.5])),
    lambda M, L: M.Multinomial(2, probs=L.tensor([-0.5, 1.5])),
    lambda M, L: M.Multinomial(2),
    lambda M, L: M.Multinomial(2, probs=L.tensor([0.5, 0.5])).log_prob(L.tensor([1., 2.])),
    lambda M, L: M.Weibull(L.tensor([1.0]), L.tensor([-1.0])),
    lambda M, L: M.Pareto(L.tensor([-1.0]), 2.0),
    lambda M, L: M.Pareto(2.0, 3.0).log_prob(L.tensor([1.0])),
    lambda M, L: M.ContinuousBernoulli(L.tensor([1.5]), validate_args=True),
    lambda M, L: M.ContinuousBernoulli(),
    lambda M, L: M.ContinuousBernoulli(L.tensor([0.3])).log_prob(L.tensor([1.5])),
    lambda M, L: M.NegativeBinomial(L.tensor([-1.0]), probs=0.5),
    lambda M, L: M.NegativeBinomial(2.0, probs=L.tensor([1.0])),
    lambda M, L: M.NegativeBinomial(2.0, probs=0.5, logits=0.0),
    lambda M, L: M.NegativeBinomial(2.0, probs=0.5).log_prob(L.tensor([0.5])),
    lambda M, L: M.StudentT(L.tensor([1.0]), scale=L.tensor([0.0])),
    lambda M, L: M.HalfCauchy(L.tensor([-1.0])),
    lambda M, L: M.relaxed_categorical.ExpRelaxedCategorical(L.tensor(1.0)),
    lambda M, L: M.relaxed_bernoulli.LogitRelaxedBernoulli(L.tensor(1.0), probs=L.tensor(2.0)),
])
def test_bad_parameters_and_values_raise_like_torch(make):
    _raises_like(lambda: make(D, mg), lambda: make(TD, torch))


# the transforms: (builder(transforms module, lib), input of the forward map)
TRANSFORMS = [
    ("abs", lambda T, L: T.AbsTransform(), RNG.randn(2, 3)),
    ("softplus", lambda T, L: T.SoftplusTransform(), RNG.randn(2, 3)),
    ("power", lambda T, L: T.PowerTransform(L.tensor([0.5, 2.0, -1.5], dtype=L.float64)),
     RNG.uniform(0.3, 2, (2, 3))),
    ("softmax", lambda T, L: T.SoftmaxTransform(), RNG.randn(2, 3)),
    ("stick", lambda T, L: T.StickBreakingTransform(), RNG.randn(2, 3)),
    ("independent", lambda T, L: T.IndependentTransform(T.SoftplusTransform(), 1),
     RNG.randn(2, 3)),
    ("independent_stick", lambda T, L: T.IndependentTransform(T.StickBreakingTransform(), 1),
     RNG.randn(2, 3)),
    ("independent_compose", lambda T, L: T.IndependentTransform(
        T.ComposeTransform([T.ExpTransform(), T.AffineTransform(1.0, 2.0)]), 2),
     RNG.randn(2, 3)),
]


@pytest.mark.parametrize("name,build,x", TRANSFORMS, ids=[t[0] for t in TRANSFORMS])
def test_transforms_match_torch(name, build, x):
    ours, theirs = build(MT, mg), build(TD.transforms, torch)
    x_ours, x_theirs = _both(x)
    y_ours, y_theirs = ours(x_ours), theirs(x_theirs)
    _close(y_ours, y_theirs)
    _close(ours.inv(y_ours), theirs.inv(y_theirs))
    assert ours.bijective == theirs.bijective
    assert ours.domain.event_dim == theirs.domain.event_dim
    assert ours.codomain.event_dim == theirs.codomain.event_dim
    assert tuple(ours.forward_shape((4, 2, 3))) == tuple(theirs.forward_shape((4, 2, 3)))
    assert tuple(ours.inverse_shape((4, 2, 3))) == tuple(theirs.inverse_shape((4, 2, 3)))
    assert (ours == build(MT, mg)) == (theirs == build(TD.transforms, torch))
    assert ours.with_cache(1)._cache_size == 1
    if theirs.bijective:
        j_ours = ours.log_abs_det_jacobian(x_ours, y_ours)
        j_theirs = theirs.log_abs_det_jacobian(x_theirs, y_theirs)
        _close(j_ours, j_theirs)
        (j_ours.sum() + y_ours.sum()).backward()
        (j_theirs.sum() + y_theirs.sum()).backward()
        _close(x_ours.grad, x_theirs.grad, tol=1e-7)
    if name.startswith("independent"):
        assert repr(ours) == repr(theirs)
    if name == "power":
        _close(ours.sign, theirs.sign)
        assert ours != MT.PowerTransform(mg.tensor([1.0, 2.0, 3.0], dtype=mg.float64))


@pytest.mark.parametrize("make", [
    lambda T, L: T.SoftmaxTransform().forward_shape(()),
    lambda T, L: T.StickBreakingTransform().forward_shape(()),
    lambda T, L: T.StickBreakingTransform().inverse_shape(()),
    lambda T, L: T.IndependentTransform(T.ExpTransform(), 2)(L.ones(3)),
    lambda T, L: T.IndependentTransform(T.ExpTransform(), 2).inv(L.ones(3)),
    lambda T, L: T.AbsTransform().sign,
])
def test_transform_errors_match_torch(make):
    _raises_like(lambda: make(MT, mg), lambda: make(TD.transforms, torch))


@pytest.mark.parametrize("constraint", [
    "real", "positive", "nonnegative", "unit_interval", "simplex",
    ("greater_than", -1.5), ("greater_than_eq", 2.0), ("less_than", 3.0),
    ("interval", -2.0, 5.0), ("half_open_interval", 0.0, 4.0),
])
def test_biject_to_and_transform_to_match_torch(constraint):
    def make(C, L):
        if isinstance(constraint, str):
            return getattr(C, constraint)
        return getattr(C, constraint[0])(*constraint[1:])
    x = RNG.randn(2, 4)
    for kind in ("biject_to", "transform_to"):
        ours = getattr(D, kind)(make(MC, mg))
        theirs = getattr(TD, kind)(make(TD.constraints, torch))
        x_ours, x_theirs = _both(x)
        y_ours, y_theirs = ours(x_ours), theirs(x_theirs)
        _close(y_ours, y_theirs)
        assert bool(make(MC, mg).check(y_ours).all())
        if kind == "biject_to":
            _close(ours.log_abs_det_jacobian(x_ours, y_ours),
                   theirs.log_abs_det_jacobian(x_theirs, y_theirs))
            _close(ours.inv(y_ours), theirs.inv(y_theirs), tol=1e-6)


def test_constraint_registry_register_and_errors():
    registry = D.constraint_registry.ConstraintRegistry()
    with pytest.raises(NotImplementedError, match="Cannot transform _Real constraints"):
        registry(MC.real)

    @registry.register(MC.real)
    def _factory(constraint):
        return MT.ExpTransform()

    assert isinstance(registry(MC.real), MT.ExpTransform)
    registry.register(type(MC.positive), lambda c: MT.SigmoidTransform())
    assert isinstance(registry(MC.positive), MT.SigmoidTransform)
    with pytest.raises(TypeError, match="Expected constraint to be either"):
        registry.register(3, _factory)
    with pytest.raises(TypeError):
        TD.constraint_registry.ConstraintRegistry().register(3, _factory)
