"""Regression tests from probing ``minigrad.distributions`` against ``torch.distributions``.

Covers: the cross-family KL pairs PyTorch registers (Beta/Gamma/Exponential/Uniform/Pareto/
ContinuousBernoulli/Laplace/Gumbel/Normal/Poisson against one another: values, +inf where
supports do not fit, shapes, gradients) and the Pareto-Pareto KL; Gumbel being a
TransformedDistribution; pickling laws whose transforms hold an inverse; the messages of a
KL between MultivariateNormals of different sizes, of a Wishart with too few degrees of
freedom, of unimplemented mean/variance/mode and of a too-small transformed base;
``sample_n``'s FutureWarning; Multinomial.log_prob's gradient at zero counts; and
``distributions.utils.euler_constant``.  Every expectation is PyTorch's, on the same inputs.
"""
import pickle

import numpy as np
import pytest
import torch

import minigrad
import minigrad.distributions.utils as mg_utils
import torch.distributions.utils as torch_utils

LIBS = (torch, minigrad)


def _t(lib, values, grad=False):
    out = lib.tensor(np.asarray(values, dtype=np.float64))
    return out.requires_grad_(True) if grad else out


def _np(x):
    return np.asarray(x.detach().numpy())


# the distributions used by the KL tests, as (name, {parameter: values})
_LAWS = {
    "Normal": {"loc": [0.3, -1.0], "scale": [1.2, 0.5]},
    "Laplace": {"loc": [0.3, -1.0], "scale": [1.2, 0.5]},
    "Gumbel": {"loc": [0.3, -1.0], "scale": [1.2, 0.5]},
    "Exponential": {"rate": [1.2, 0.5]},
    "Gamma": {"concentration": [1.2, 2.5], "rate": [0.7, 1.5]},
    "Chi2": {"df": [1.2, 2.5]},
    "Beta": {"concentration1": [1.2, 2.5], "concentration0": [0.7, 1.5]},
    "ContinuousBernoulli": {"probs": [0.2, 0.7]},
    "Uniform": {"low": [0.1, 0.2], "high": [0.9, 0.7]},
    "WideUniform": {"low": [-1.0, 0.3], "high": [2.0, 3.0]},
    "Pareto": {"scale": [0.2, 0.5], "alpha": [2.5, 3.0]},
    "HeavyPareto": {"scale": [0.2, 0.5], "alpha": [0.8, 1.5]},
    "Poisson": {"rate": [1.2, 0.5]},
    "Bernoulli": {"probs": [0.2, 0.7]},
    "Binomial": {"total_count": [5.0, 5.0], "probs": [0.2, 0.7]},
}
_CLASS = {"WideUniform": "Uniform", "HeavyPareto": "Pareto"}


def _law(lib, name, grad=False):
    params = {k: _t(lib, v, grad and k != "total_count") for k, v in _LAWS[name].items()}
    return getattr(lib.distributions, _CLASS.get(name, name))(**params), params


# (p, q) pairs across families that PyTorch registers
_CROSS = [
    ("Beta", "Normal"), ("ContinuousBernoulli", "Normal"), ("Exponential", "Normal"),
    ("Gamma", "Normal"), ("Chi2", "Normal"), ("Laplace", "Normal"), ("Pareto", "Normal"),
    ("HeavyPareto", "Normal"), ("Beta", "Exponential"), ("ContinuousBernoulli", "Exponential"),
    ("Pareto", "Exponential"), ("HeavyPareto", "Exponential"), ("Uniform", "Exponential"),
    ("WideUniform", "Exponential"), ("Beta", "Gamma"), ("Beta", "Chi2"), ("Pareto", "Gamma"),
    ("HeavyPareto", "Gamma"), ("Uniform", "Gamma"), ("WideUniform", "Gamma"),
    ("Exponential", "Gumbel"), ("Gamma", "Gumbel"), ("Chi2", "Gumbel"), ("Uniform", "Gumbel"),
    ("WideUniform", "Gumbel"), ("Beta", "WideUniform"), ("Beta", "Uniform"),
    ("ContinuousBernoulli", "WideUniform"), ("Uniform", "Beta"), ("WideUniform", "Beta"),
    ("Beta", "ContinuousBernoulli"), ("Uniform", "ContinuousBernoulli"),
    ("Uniform", "Pareto"), ("WideUniform", "Pareto"), ("Pareto", "Pareto"),
    ("HeavyPareto", "Pareto"),
]
# pairs whose supports do not fit: +inf, shaped like p's parameters
_INFINITE = [
    (p, q) for p in ("Normal", "Laplace", "Gumbel")
    for q in ("Exponential", "Gamma", "Beta", "ContinuousBernoulli", "Pareto", "Uniform")
] + [(p, q) for p in ("Exponential", "Gamma", "Chi2")
     for q in ("Beta", "ContinuousBernoulli", "Pareto", "Uniform")] + [
    ("Beta", "Pareto"), ("ContinuousBernoulli", "Pareto"), ("Pareto", "Beta"),
    ("Pareto", "ContinuousBernoulli"), ("Pareto", "Uniform"), ("Poisson", "Bernoulli"),
    ("Poisson", "Binomial"),
]


@pytest.mark.parametrize("p_name,q_name", _CROSS)
def test_cross_family_kl_values_and_gradients(p_name, q_name):
    results = []
    for lib in LIBS:
        p, p_params = _law(lib, p_name, grad=True)
        q, q_params = _law(lib, q_name, grad=True)
        kl = lib.distributions.kl_divergence(p, q)
        leaves = [v for v in list(p_params.values()) + list(q_params.values())
                  if v.requires_grad]
        finite = kl.isfinite()
        total = lib.where(finite, kl, lib.zeros_like(kl)).sum()
        grads = lib.autograd.grad(total, leaves, allow_unused=True)
        results.append((kl, [None if g is None else _np(g) for g in grads]))
    (kl_t, grads_t), (kl_m, grads_m) = results
    assert tuple(kl_m.shape) == tuple(kl_t.shape)
    np.testing.assert_allclose(_np(kl_m), _np(kl_t), rtol=1e-9, atol=1e-12)
    for g_t, g_m in zip(grads_t, grads_m):
        g_t = np.zeros(2) if g_t is None else g_t
        g_m = np.zeros(2) if g_m is None else g_m
        np.testing.assert_allclose(g_m, g_t, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("p_name,q_name", _INFINITE)
def test_kl_with_mismatched_supports_is_infinite(p_name, q_name):
    out = []
    for lib in LIBS:
        p, _ = _law(lib, p_name)
        q, _ = _law(lib, q_name)
        out.append(lib.distributions.kl_divergence(p, q))
    assert tuple(out[1].shape) == tuple(out[0].shape)
    np.testing.assert_array_equal(_np(out[1]), _np(out[0]))


@pytest.mark.parametrize("low,high", [(0.0, 1.0), (0.0, 0.5), (0.1, 1.0), (0.2, 0.8),
                                      (-0.2, 0.8), (0.1, 1.3)])
def test_uniform_against_bounded_laws_at_the_edges(low, high):
    """PyTorch's edge rules: U(l, h) -> Beta is finite on [0, 1] itself, -> CB only inside
    (0, 1); Beta/CB -> U(l, h) follow the same rules the other way round."""
    for q_builder in (lambda L: L.distributions.Beta(_t(L, 2.0), _t(L, 3.0)),
                      lambda L: L.distributions.ContinuousBernoulli(_t(L, 0.3)),
                      lambda L: L.distributions.Gamma(_t(L, 2.0), _t(L, 3.0)),
                      lambda L: L.distributions.Exponential(_t(L, 2.0))):
        out = [L.distributions.kl_divergence(
            L.distributions.Uniform(_t(L, [low]), _t(L, [high])), q_builder(L)) for L in LIBS]
        np.testing.assert_allclose(_np(out[1]), _np(out[0]), rtol=1e-9)
    for p_builder in (lambda L: L.distributions.Beta(_t(L, [2.0]), _t(L, [3.0])),
                      lambda L: L.distributions.ContinuousBernoulli(_t(L, [0.3]))):
        out = [L.distributions.kl_divergence(
            p_builder(L), L.distributions.Uniform(_t(L, low), _t(L, high))) for L in LIBS]
        np.testing.assert_allclose(_np(out[1]), _np(out[0]), rtol=1e-9)


def test_pareto_pareto_kl_with_support_gap_and_scale_gradients():
    results = []
    for lib in LIBS:
        s_p, s_q = _t(lib, [0.2, 0.5, 0.9], True), _t(lib, [0.3, 0.5, 0.4], True)
        a_p, a_q = _t(lib, [2.0, 3.0, 1.5], True), _t(lib, [2.5, 3.0, 0.7], True)
        D = lib.distributions
        kl = D.kl_divergence(D.Pareto(s_p, a_p), D.Pareto(s_q, a_q))
        total = lib.where(kl.isfinite(), kl, lib.zeros_like(kl)).sum()
        results.append([_np(kl)] + [_np(g) for g in lib.autograd.grad(total, [s_p, s_q, a_p,
                                                                             a_q])])
    for mine, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-12)


def test_mvn_kl_event_shape_message():
    messages = []
    for lib in LIBS:
        D = lib.distributions
        p = D.MultivariateNormal(_t(lib, [1.0, 2.0]), _t(lib, np.eye(2)))
        q = D.MultivariateNormal(_t(lib, [1.0, 2.0, 3.0]), _t(lib, np.eye(3)))
        with pytest.raises(ValueError) as info:
            D.kl_divergence(p, q)
        messages.append(str(info.value))
    assert messages[1] == messages[0]


def test_wishart_small_df_message_shows_a_scalar_value():
    messages = []
    for lib in LIBS:
        with pytest.raises(ValueError) as info:
            lib.distributions.Wishart(_t(lib, 1.0), _t(lib, np.eye(3)))
        messages.append(str(info.value))
    assert messages[1] == messages[0]


@pytest.mark.parametrize("given", ["probs", "logits"])
def test_multinomial_log_prob_gradient_at_zero_counts(given):
    rng = np.random.default_rng(0)
    param = rng.uniform(0.1, 1.0, (2, 4)) if given == "probs" else rng.normal(size=(2, 4))
    counts = np.array([[2.0, 1.0, 1.0, 1.0], [0.0, 0.0, 5.0, 0.0]])
    grads = []
    for lib in LIBS:
        theta, value = _t(lib, param, True), _t(lib, counts, True)
        d = lib.distributions.Multinomial(5, **{given: theta})
        grads.append([_np(g) for g in lib.autograd.grad(d.log_prob(value).sum(),
                                                          [theta, value])])
    for mine, theirs in zip(grads[1], grads[0]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-12)


def test_multinomial_log_prob_with_impossible_category_unseen():
    out = []
    for lib in LIBS:
        d = lib.distributions.Multinomial(3, _t(lib, [0.0, 0.5, 0.5]))
        out.append(_np(d.log_prob(_t(lib, [[0.0, 1.0, 2.0], [0.0, 3.0, 0.0]]))))
    np.testing.assert_allclose(out[1], out[0], rtol=1e-12)


def test_utils_euler_constant():
    assert mg_utils.euler_constant == torch_utils.euler_constant


def test_sample_n_warns_future_warning_like_torch():
    for lib in LIBS:
        with pytest.warns(FutureWarning, match=r"`sample_n\(n\)` will be deprecated"):
            out = lib.distributions.Normal(_t(lib, [0.0, 1.0]), 1.0).sample_n(3)
        assert tuple(out.shape) == (3, 2)


def test_gumbel_is_a_transformed_distribution_like_torch():
    results = []
    for lib in LIBS:
        D = lib.distributions
        d = D.Gumbel(_t(lib, [0.3, -1.0]), _t(lib, [1.2, 0.5]))
        wide = d.expand((3, 2))
        value = _t(lib, [[0.1, 2.0], [-1.0, 0.5], [3.0, -2.0]])
        assert isinstance(d, D.TransformedDistribution)
        assert isinstance(d.base_dist, D.Uniform) and len(d.transforms) == 4
        assert type(wide) is D.Gumbel and tuple(wide.base_dist.batch_shape) == (3, 2)
        with pytest.raises(NotImplementedError):      # TD-vs-TD rule, transforms differ
            D.kl_divergence(d, D.Weibull(_t(lib, [1.0, 2.0]), _t(lib, [1.5, 0.5])))
        results.append([_np(x) for x in (wide.log_prob(value), wide.cdf(value), d.mean,
                                          d.entropy(), d.icdf(_t(lib, [0.2, 0.9])))])
    for mine, theirs in zip(results[1], results[0]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12)


def test_unimplemented_moments_and_too_small_base_messages():
    messages = []
    for lib in LIBS:
        D = lib.distributions
        pushed = D.TransformedDistribution(D.Normal(0.0, 1.0), [D.transforms.ExpTransform()])
        got = []
        for name in ("mean", "variance", "mode"):
            with pytest.raises(NotImplementedError) as info:
                getattr(pushed, name)
            got.append(str(info.value).replace("minigrad.", "torch."))
        with pytest.raises(ValueError) as info:
            D.TransformedDistribution(D.Normal(0.0, 1.0), D.transforms.StickBreakingTransform())
        got.append(str(info.value))
        messages.append(got)
    assert messages[1] == messages[0]


def test_pickling_laws_and_transforms_that_hold_an_inverse():
    """Gumbel's chain holds ExpTransform().inv, whose source keeps a weak reference back;
    PyTorch drops it when pickling, so the law pickles.  (PyTorch's unpickled inverse
    transforms no longer work; minigrad's do, checked against an unpickled torch law.)"""
    values = []
    for lib in LIBS:
        D = lib.distributions
        law = pickle.loads(pickle.dumps(D.Gumbel(_t(lib, [0.3, -1.0]), _t(lib, [1.2, 0.5]))))
        pushed = D.TransformedDistribution(D.Normal(_t(lib, [0.1]), 1.0),
                                           [D.transforms.SigmoidTransform().inv])
        if lib is minigrad:
            pushed = pickle.loads(pickle.dumps(pushed))
        exp = D.transforms.ExpTransform()
        exp.inv                                   # build (and weakly cache) the inverse
        values.append([_np(x) for x in (law.log_prob(_t(lib, [0.5, 0.5])),
                                        pushed.log_prob(_t(lib, [-0.4])),
                                        pickle.loads(pickle.dumps(exp)).inv(_t(lib, [2.0])))])
    for mine, theirs in zip(values[1], values[0]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12)
