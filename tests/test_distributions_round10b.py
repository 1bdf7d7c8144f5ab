"""Wishart, LKJCholesky, LogisticNormal and OneHotCategoricalStraightThrough against
torch.distributions in float64: log_prob / entropy / moments and their parameter gradients
(first and second order), expand, supports, draw shapes and dtypes, statistics of many
draws with a fixed seed, rsample gradients, and the errors for bad arguments."""
import warnings

import functools

import numpy as np
import pytest

import minigrad as mg
from minigrad.distributions.exp_family import ExponentialFamily
from minigrad.distributions.lkj_cholesky import LKJCholesky
from minigrad.distributions.logistic_normal import LogisticNormal
from minigrad.distributions.one_hot_straight_through import OneHotCategoricalStraightThrough
from minigrad.distributions.wishart import Wishart

torch = pytest.importorskip("torch")
from torch_agreement import leaves  # noqa: E402

# the same float64 values as a (minigrad, torch) pair of leaves: _both(array, grad=True)
_both = functools.partial(leaves, dtype="float64")

TD = torch.distributions

RNG = np.random.RandomState(11)


class _Ours:
    """Our classes under torch.distributions' names, for builders shared by both sides."""
    Wishart = Wishart
    LKJCholesky = LKJCholesky
    LogisticNormal = LogisticNormal
    OneHotCategoricalStraightThrough = OneHotCategoricalStraightThrough


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _close(ours, theirs, tol=1e-8):
    a, b = _np(ours), _np(theirs)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol, equal_nan=True)


def _spd(*batch, n=3):
    a = RNG.randn(*batch, n, n)
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def _corr_cholesky(*batch, n=3):
    """Valid Cholesky factors of correlation matrices (float64)."""
    a = np.linalg.cholesky(_spd(*batch, n=n))
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


SIGMA = _spd(2)                     # two 3 x 3 covariance matrices
POINT = _spd(4, 1)                  # evaluation points, broadcast over the batch
DF = np.array([3.5, 6.0])


def _matrix_arg(kind):
    if kind == "scale_tril":
        return np.linalg.cholesky(SIGMA)
    return np.linalg.inv(SIGMA) if kind == "precision_matrix" else SIGMA


# ----------------------------------------------------------------------------- Wishart


@pytest.mark.parametrize("kind", ["covariance_matrix", "precision_matrix", "scale_tril"])
def test_wishart_values_and_gradients_match_torch(kind):
    (df_o, df_t), (m_o, m_t) = _both(DF), _both(_matrix_arg(kind))
    ours, theirs = Wishart(df_o, **{kind: m_o}), TD.Wishart(df_t, **{kind: m_t})
    assert ours.batch_shape == theirs.batch_shape == (2,)
    assert ours.event_shape == theirs.event_shape == (3, 3)
    assert ours.has_rsample and repr(ours.arg_constraints) == repr(theirs.arg_constraints)
    assert repr(ours.support) == repr(theirs.support)
    assert repr(ours).replace("minigrad.", "torch.") == repr(theirs)
    x_o, x_t = mg.tensor(POINT, dtype=mg.float64), torch.tensor(POINT)
    lp_o, lp_t = ours.log_prob(x_o), theirs.log_prob(x_t)
    _close(lp_o, lp_t)
    total_o, total_t = lp_o.sum(), lp_t.sum()
    for name in ("mean", "mode", "variance", "entropy", "covariance_matrix",
                 "precision_matrix", "scale_tril"):
        s_o = ours.entropy() if name == "entropy" else getattr(ours, name)
        s_t = theirs.entropy() if name == "entropy" else getattr(theirs, name)
        _close(s_o, s_t)
        total_o = total_o + s_o.nan_to_num(0.0).sum()
        total_t = total_t + s_t.nan_to_num(0.0).sum()
    total_o.backward()
    total_t.backward()
    _close(df_o.grad, df_t.grad, tol=1e-6)
    _close(m_o.grad, m_t.grad, tol=1e-6)


def test_wishart_mode_is_nan_where_df_is_small():
    mode = Wishart(mg.tensor([3.5, 4.5], dtype=mg.float64),
                   covariance_matrix=mg.eye(3, dtype=mg.float64)).mode
    assert np.all(np.isnan(_np(mode)[0])) and np.allclose(_np(mode)[1], 0.5 * np.eye(3))


def test_wishart_second_derivatives_match_torch():
    (df_o, df_t), (m_o, m_t) = _both(DF), _both(SIGMA[0])
    x = POINT[0, 0]
    lp_o = Wishart(df_o, covariance_matrix=m_o).log_prob(mg.tensor(x, dtype=mg.float64))
    lp_t = TD.Wishart(df_t, covariance_matrix=m_t).log_prob(torch.tensor(x))
    g_o = mg.autograd.grad(lp_o.sum(), [df_o, m_o], create_graph=True)
    g_t = torch.autograd.grad(lp_t.sum(), [df_t, m_t], create_graph=True)
    for wrt_o, wrt_t in ((df_o, df_t), (m_o, m_t)):
        h_o = mg.autograd.grad(g_o[0].sum() + g_o[1].sum(), wrt_o, retain_graph=True)[0]
        h_t = torch.autograd.grad(g_t[0].sum() + g_t[1].sum(), wrt_t, retain_graph=True)[0]
        _close(h_o, h_t, tol=1e-6)


def test_wishart_number_df_and_expand():
    sigma = SIGMA[0]
    ours = Wishart(4.0, scale_tril=mg.tensor(np.linalg.cholesky(sigma), dtype=mg.float64))
    theirs = TD.Wishart(4.0, scale_tril=torch.tensor(np.linalg.cholesky(sigma)))
    assert ours.df.dtype == mg.float64 and ours.df.dim() == 0
    grown_o, grown_t = ours.expand((5, 2)), theirs.expand((5, 2))
    assert type(grown_o) is Wishart and grown_o.batch_shape == grown_t.batch_shape
    assert tuple(grown_o.df.shape) == tuple(grown_t.df.shape) == (5, 2)
    x = POINT[:2, 0]
    _close(grown_o.log_prob(mg.tensor(x, dtype=mg.float64)), grown_t.log_prob(torch.tensor(x)))
    _close(grown_o.entropy(), grown_t.entropy())
    _close(grown_o.mean, grown_t.mean)
    # a number df with a batch of matrices (torch's mean fails there; ours broadcasts)
    batched = Wishart(4.0, covariance_matrix=mg.tensor(SIGMA, dtype=mg.float64))
    _close(batched.mean, 4.0 * SIGMA)
    _close(batched.entropy(), TD.Wishart(4.0, covariance_matrix=torch.tensor(SIGMA)).entropy())


def test_wishart_exponential_family_terms_match_torch():
    (df_o, df_t), (m_o, m_t) = _both(DF), _both(SIGMA)
    ours = Wishart(df_o, covariance_matrix=m_o)
    theirs = TD.Wishart(df_t, covariance_matrix=m_t)
    assert isinstance(ours, ExponentialFamily) and isinstance(theirs, TD.ExponentialFamily)
    for eta_o, eta_t in zip(ours._natural_params, theirs._natural_params):
        _close(eta_o, eta_t)
    f_o = ours._log_normalizer(*ours._natural_params)
    f_t = theirs._log_normalizer(*theirs._natural_params)
    _close(f_o, f_t)
    f_o.sum().backward()
    f_t.sum().backward()
    _close(df_o.grad, df_t.grad, tol=1e-6)
    _close(m_o.grad, m_t.grad, tol=1e-6)
    # the generic Bregman entropy agrees with the closed form
    _close(ExponentialFamily.entropy(ours), ours.entropy())


def test_wishart_kl_through_the_exponential_family_rule():
    """Values and the gradients in q's parameters (torch detaches p's natural parameters
    in this rule, so p's gradients are not compared)."""
    pytest.importorskip("minigrad.distributions.kl_round10")
    from minigrad.distributions.kl import kl_divergence
    (df_o, df_t), (tril_o, tril_t) = _both([4.0, 3.0]), _both(np.linalg.cholesky(_spd(2)))
    sigma_o, sigma_t = _both(SIGMA, grad=False)
    kl_o = kl_divergence(Wishart(mg.tensor(DF, dtype=mg.float64), covariance_matrix=sigma_o),
                         Wishart(df_o, scale_tril=tril_o))
    kl_t = TD.kl_divergence(TD.Wishart(torch.tensor(DF), covariance_matrix=sigma_t),
                            TD.Wishart(df_t, scale_tril=tril_t))
    _close(kl_o, kl_t)
    kl_o.sum().backward()
    kl_t.sum().backward()
    _close(df_o.grad, df_t.grad, tol=1e-6)
    _close(tril_o.grad, tril_t.grad, tol=1e-6)


def test_wishart_draws_shapes_dtypes_and_moments():
    mg.manual_seed(0)
    small = Wishart(mg.tensor([3.0, 5.0]),
                    covariance_matrix=mg.tensor(SIGMA, dtype=mg.float32))
    draws = small.sample((4, 2))
    assert tuple(draws.shape) == (4, 2, 2, 3, 3) and draws.dtype == mg.float32
    assert not draws.requires_grad
    assert bool(small.support.check(draws).all())
    assert tuple(small.expand((3, 2)).rsample().shape) == (3, 2, 3, 3)
    df, sigma = 5.5, SIGMA[0]
    dist = Wishart(mg.tensor(df, dtype=mg.float64),
                   covariance_matrix=mg.tensor(sigma, dtype=mg.float64))
    many = _np(dist.sample((20000,)))
    assert many.dtype == np.float64
    scale = np.abs(sigma).max()
    np.testing.assert_allclose(many.mean(0), df * sigma, atol=0.05 * df * scale)
    np.testing.assert_allclose(many.var(0), _np(dist.variance), rtol=0.08)
    np.testing.assert_allclose(many, np.swapaxes(many, -1, -2))


def test_wishart_rsample_gradients_are_reparameterized():
    mg.manual_seed(1)
    df = mg.tensor(4.5, dtype=mg.float64, requires_grad=True)
    tril = mg.tensor(np.linalg.cholesky(SIGMA[1]), dtype=mg.float64, requires_grad=True)
    draws = Wishart(df, scale_tril=tril).rsample((20000,))
    assert draws.requires_grad
    draws.mean(0).sum().backward()
    # E[X] = df L L^T: d/ddf sum(E X) = sum(Sigma); d/dL sum(df L L^T) = df (J L + J^T L)
    sigma, L = SIGMA[1], np.linalg.cholesky(SIGMA[1])
    assert abs(float(_np(df.grad)) - sigma.sum()) < 0.05 * abs(sigma.sum())
    expected = 4.5 * 2 * np.ones((3, 3)) @ L
    np.testing.assert_allclose(np.tril(_np(tril.grad)), np.tril(expected),
                               atol=0.05 * np.abs(expected).max())


def test_wishart_low_df_warns_like_torch():
    eye = np.eye(3)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        TD.Wishart(2.5, covariance_matrix=torch.tensor(eye))
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        dist = Wishart(2.5, covariance_matrix=mg.tensor(eye, dtype=mg.float64))
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
    assert theirs and all(w.category is UserWarning for w in ours)
    mg.manual_seed(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        draws = dist.rsample((200,), max_try_correction=3)
    assert tuple(draws.shape) == (200, 3, 3)
    # df barely above p - 1: some Bartlett draws are numerically singular and get redrawn
    near = Wishart(mg.tensor(2.0 + 1e-6, dtype=mg.float64),
                   covariance_matrix=mg.tensor(1e-3 * eye, dtype=mg.float64))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        redrawn = near.rsample((500,))
    assert "Singular sample detected." in [str(w.message) for w in caught]
    assert tuple(redrawn.shape) == (500, 3, 3)
    # a well-conditioned one warns as torch's does (torch's first check flags the draws that
    # pass it, and draws them again)
    said = []
    for make in (lambda: TD.Wishart(6.0, covariance_matrix=torch.tensor(eye)),
                 lambda: Wishart(6.0, covariance_matrix=mg.tensor(eye, dtype=mg.float64))):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            make().rsample((500,))
        said.append([str(w.message) for w in caught])
    assert said[0] == said[1]


# ------------------------------------------------------------------------- LKJCholesky


@pytest.mark.parametrize("dim", [2, 3, 5])
def test_lkj_log_prob_and_gradients_match_torch(dim):
    conc_o, conc_t = _both([0.4, 1.0, 2.7])
    ours, theirs = LKJCholesky(dim, conc_o), TD.LKJCholesky(dim, conc_t)
    assert ours.batch_shape == theirs.batch_shape and ours.event_shape == theirs.event_shape
    assert ours.has_rsample is theirs.has_rsample is False
    assert repr(ours.support) == repr(theirs.support) == "CorrCholesky()"
    assert repr(ours).replace("minigrad.", "torch.") == repr(theirs)
    value = _corr_cholesky(4, 1, n=dim)
    lp_o = ours.log_prob(mg.tensor(value, dtype=mg.float64))
    lp_t = theirs.log_prob(torch.tensor(value))
    _close(lp_o, lp_t)
    g_o = mg.autograd.grad(lp_o.sum(), conc_o, create_graph=True)[0]
    g_t = torch.autograd.grad(lp_t.sum(), conc_t, create_graph=True)[0]
    _close(g_o, g_t)
    _close(mg.autograd.grad(g_o.sum(), conc_o)[0], torch.autograd.grad(g_t.sum(), conc_t)[0],
           tol=1e-6)
    grown_o, grown_t = ours.expand((2, 3)), theirs.expand((2, 3))
    assert type(grown_o) is LKJCholesky and grown_o.dim == dim
    assert grown_o.batch_shape == grown_t.batch_shape
    two = value[:2]
    _close(grown_o.log_prob(mg.tensor(two, dtype=mg.float64)),
           grown_t.log_prob(torch.tensor(two)))
    for missing in ("mean", "variance"):
        with pytest.raises(NotImplementedError):
            getattr(ours, missing)
    with pytest.raises(NotImplementedError):
        ours.entropy()


def test_lkj_draws_shapes_and_dtypes():
    mg.manual_seed(3)
    default = LKJCholesky(3)
    assert default.batch_shape == () and default.sample().dtype == mg.float32
    batched = LKJCholesky(4, mg.tensor([0.5, 3.0], dtype=mg.float64))
    draws = batched.sample((5, 3))
    assert tuple(draws.shape) == (5, 3, 2, 4, 4) and draws.dtype == mg.float64
    assert bool(batched.support.check(draws).all())
    assert tuple(batched.expand((6, 2)).sample((2,)).shape) == (2, 6, 2, 4, 4)
    assert np.allclose(_np(draws)[..., 0, :], [1.0, 0.0, 0.0, 0.0])


@pytest.mark.parametrize("dim,eta", [(3, 0.5), (4, 1.0), (5, 2.5)])
def test_lkj_correlations_have_the_lkj_marginal(dim, eta):
    """Every off-diagonal correlation: mean 0, variance 1/(2 eta + D - 1), whatever its
    position (the law is exchangeable)."""
    mg.manual_seed(4)
    factors = _np(LKJCholesky(dim, mg.tensor(eta, dtype=mg.float64)).sample((12000,)))
    corr = factors @ np.swapaxes(factors, -1, -2)
    np.testing.assert_allclose(np.diagonal(corr, axis1=-2, axis2=-1), 1.0, atol=1e-12)
    below = np.tril_indices(dim, -1)
    off = corr[:, below[0], below[1]]
    np.testing.assert_allclose(off.mean(0), 0.0, atol=0.03)
    np.testing.assert_allclose(off.var(0), 1.0 / (2 * eta + dim - 1), rtol=0.06)


def test_lkj_draws_follow_its_log_prob():
    """Score identity E[d/deta log p(L)] = 0 under the draws: ties the sampler to the
    (torch-matching) density."""
    mg.manual_seed(5)
    for dim, eta in ((3, 0.7), (5, 2.0)):
        dist = LKJCholesky(dim, mg.tensor(eta, dtype=mg.float64))
        draws = dist.sample((20000,))
        conc = mg.tensor(eta, dtype=mg.float64, requires_grad=True)
        scores = LKJCholesky(dim, conc).log_prob(draws)
        mean_score = float(_np(mg.autograd.grad(scores.mean(), conc)[0]))
        spread = np.sqrt(2 * (dim - 1) / 20000.0)    # a loose scale of the MC error
        assert abs(mean_score) < 3 * spread, mean_score


# ---------------------------------------------------------------------- LogisticNormal


def test_logistic_normal_matches_torch():
    (loc_o, loc_t), (sc_o, sc_t) = _both(RNG.randn(2, 3)), _both(RNG.uniform(0.5, 2, 3))
    ours, theirs = LogisticNormal(loc_o, sc_o), TD.LogisticNormal(loc_t, sc_t)
    assert ours.batch_shape == theirs.batch_shape == (2,)
    assert ours.event_shape == theirs.event_shape == (4,)
    assert ours.has_rsample and repr(ours.support) == repr(theirs.support) == "Simplex()"
    assert repr(ours) == repr(theirs)
    _close(ours.loc, theirs.loc)
    _close(ours.scale, theirs.scale)
    y = RNG.dirichlet(np.ones(4), size=(5, 2))
    lp_o = ours.log_prob(mg.tensor(y, dtype=mg.float64))
    lp_t = theirs.log_prob(torch.tensor(y))
    _close(lp_o, lp_t)
    lp_o.sum().backward()
    lp_t.sum().backward()
    _close(loc_o.grad, loc_t.grad)
    _close(sc_o.grad, sc_t.grad)
    grown_o, grown_t = ours.expand((3, 2)), theirs.expand((3, 2))
    assert type(grown_o) is LogisticNormal and grown_o.batch_shape == grown_t.batch_shape
    _close(grown_o.log_prob(mg.tensor(y[:3], dtype=mg.float64)),
           grown_t.log_prob(torch.tensor(y[:3])))
    with pytest.raises(NotImplementedError):
        ours.entropy()


def test_logistic_normal_scalar_parameters_and_draws():
    ours, theirs = LogisticNormal(0.3, 1.2), TD.LogisticNormal(0.3, 1.2)
    assert ours.batch_shape == theirs.batch_shape == ()
    assert ours.event_shape == theirs.event_shape == (2,)
    assert ours.sample().dtype == mg.float32
    y = np.array([0.3, 0.7])
    _close(ours.log_prob(mg.tensor(y, dtype=mg.float32)),
           theirs.log_prob(torch.tensor(y).float()), tol=1e-5)
    mg.manual_seed(6)
    loc, scale = mg.tensor([0.5, -1.0, 0.0], dtype=mg.float64), mg.tensor([1.0, 0.5, 2.0],
                                                                       dtype=mg.float64)
    dist = LogisticNormal(loc, scale)
    draws = dist.sample((20000,))
    assert tuple(draws.shape) == (20000, 4) and draws.dtype == mg.float64
    assert bool(dist.support.check(draws).all())
    # pulled back through the stick-breaking map, the draws are N(loc, scale)
    back = _np(dist.transforms[0].inv(draws))
    np.testing.assert_allclose(back.mean(0), _np(loc), atol=0.05)
    np.testing.assert_allclose(back.std(0), _np(scale), rtol=0.03)
    loc_g = mg.tensor([0.5, -1.0], dtype=mg.float64, requires_grad=True)
    path = LogisticNormal(loc_g, mg.tensor([1.0, 1.0], dtype=mg.float64)).rsample((3,))
    assert path.requires_grad
    path[..., 0].sum().backward()
    assert np.all(np.isfinite(_np(loc_g.grad))) and _np(loc_g.grad)[0] > 0


# ------------------------------------------------------- OneHotCategoricalStraightThrough


def test_straight_through_matches_one_hot_categorical_and_passes_gradients():
    probs = RNG.dirichlet(np.ones(4), size=2)
    (p_o, p_t) = _both(probs)
    ours = OneHotCategoricalStraightThrough(probs=p_o)
    theirs = TD.OneHotCategoricalStraightThrough(probs=p_t)
    assert ours.has_rsample and ours.batch_shape == theirs.batch_shape
    assert ours.event_shape == theirs.event_shape and repr(ours) == repr(theirs)
    x = np.eye(4)[[0, 3]]
    _close(ours.log_prob(mg.tensor(x, dtype=mg.float64)), theirs.log_prob(torch.tensor(x)))
    for name in ("mean", "mode", "variance"):
        _close(getattr(ours, name), getattr(theirs, name))
    _close(ours.entropy(), theirs.entropy())
    mg.manual_seed(7)
    hard = ours.rsample((6,))
    assert tuple(hard.shape) == (6, 2, 4) and hard.dtype == mg.float64 and hard.requires_grad
    values = _np(hard)
    assert np.all((values == 0) | (values == 1)) and np.all(values.sum(-1) == 1)
    weights = RNG.randn(4)
    (hard * mg.tensor(weights, dtype=mg.float64)).sum().backward()
    (theirs.rsample((6,)) * torch.tensor(weights)).sum().backward()
    _close(p_o.grad, p_t.grad)              # the gradient does not depend on the draw
    grown = ours.expand((3, 2))
    assert type(grown) is OneHotCategoricalStraightThrough
    assert tuple(grown.rsample().shape) == (3, 2, 4)


def test_straight_through_with_logits_and_draw_frequencies():
    logits_o = mg.tensor([0.0, 1.0, -1.0], dtype=mg.float64, requires_grad=True)
    dist = OneHotCategoricalStraightThrough(logits=logits_o)
    mg.manual_seed(8)
    draws = dist.rsample((20000,))
    np.testing.assert_allclose(_np(draws).mean(0), _np(dist.probs), atol=0.015)
    draws[:, 1].sum().backward()
    logits_t = torch.tensor([0.0, 1.0, -1.0], dtype=torch.float64, requires_grad=True)
    theirs = TD.OneHotCategoricalStraightThrough(logits=logits_t)
    theirs.rsample((20000,))[:, 1].sum().backward()
    _close(logits_o.grad, logits_t.grad)


# ------------------------------------------------------------------------------ errors


def _same_error(make):
    """Our class and torch's raise the same exception type with the same message."""
    with pytest.raises(Exception) as theirs:
        make(TD, torch)
    with pytest.raises(type(theirs.value)) as ours:
        make(_Ours, mg)
    assert str(ours.value).replace("minigrad.", "torch.") == str(theirs.value)


_EYE2 = [[1.0, 0.0], [0.0, 1.0]]
_NOT_PD = [[-2.0, -0.5], [-0.5, -1.0]]


@pytest.mark.parametrize("make", [
    lambda M, L: M.Wishart(1.0, covariance_matrix=L.tensor(_EYE2)),
    lambda M, L: M.Wishart(L.tensor([0.5, 3.0]), covariance_matrix=L.tensor(_EYE2)),
    lambda M, L: M.Wishart(L.tensor([0.5, 3.0], dtype=L.float64),
                           covariance_matrix=L.tensor(_EYE2, dtype=L.float64)),
    lambda M, L: M.Wishart(3.0),
    lambda M, L: M.Wishart(3.0, covariance_matrix=L.tensor(_EYE2), scale_tril=L.tensor(_EYE2)),
    lambda M, L: M.Wishart(3.0, precision_matrix=L.ones(2)),
    lambda M, L: M.Wishart(3.0, covariance_matrix=L.tensor(_NOT_PD)),
    lambda M, L: M.Wishart(3.0, scale_tril=L.tensor([[1.0, 0.5], [0.0, 1.0]])),
    lambda M, L: M.Wishart(3.0, scale_tril=L.tensor([[1.0, 0.0], [0.5, -1.0]])),
    lambda M, L: M.Wishart(3.0, covariance_matrix=L.tensor(_EYE2)).log_prob(
        L.tensor(_NOT_PD)),
    lambda M, L: M.Wishart(3.0, covariance_matrix=L.tensor(_EYE2)).log_prob(L.eye(3)),
    lambda M, L: M.LKJCholesky(1),
    lambda M, L: M.LKJCholesky(3, 1.0).log_prob(L.ones(3, 3)),
    lambda M, L: M.LKJCholesky(3, 1.0).log_prob(L.eye(2)),
    lambda M, L: M.LogisticNormal(L.zeros(3), L.tensor([1.0, 0.0, 1.0])),
    lambda M, L: M.LogisticNormal(L.zeros(3), L.ones(3)).log_prob(L.ones(4)),
    lambda M, L: M.OneHotCategoricalStraightThrough(L.tensor([0.5, 0.5]),
                                                    logits=L.tensor([0.0, 0.0])),
    lambda M, L: M.OneHotCategoricalStraightThrough(L.tensor(0.5)),
    lambda M, L: M.OneHotCategoricalStraightThrough(L.tensor([0.5, 0.5])).log_prob(
        L.tensor([0.5, 0.5])),
])
def test_bad_arguments_raise_like_torch(make):
    _same_error(make)


def test_lkj_bad_concentration_raises_value_error_like_torch():
    """torch reports it from the inner Beta's Dirichlet (the same ValueError, other
    wording after the parameter name); ours names LKJCholesky's own parameter."""
    for bad in (-1.0, mg.tensor([1.0, 0.0])):
        with pytest.raises(ValueError, match=r"^Expected parameter concentration \(Tensor"):
            LKJCholesky(3, bad)
    with pytest.raises(ValueError, match=r"^Expected parameter concentration \(Tensor"):
        TD.LKJCholesky(3, -1.0)
    assert LKJCholesky(3, -1.0, validate_args=False).batch_shape == ()
