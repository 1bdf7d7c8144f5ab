"""Node names side by side with PyTorch (probe round 3).

Calls whose last node now carries PyTorch's name (``y.grad_fn.name()``, and so the
``grad_fn=<...>`` of a printed tensor):

* the 1-D pools (max, avg, adaptive max/avg): PyTorch pools in 2-D and squeezes, so
  SqueezeBackward1; a vector times a matrix: SqueezeBackward4;
* fused losses and kernels: multi_margin_loss, multilabel_margin_loss, pdist, grid_sample,
  affine_grid, linalg.solve with a vector or ``left=False``, linalg.lstsq, cov, vander,
  linalg.vander, rrelu, round with ``decimals``, igamma / igammac;
* the clamp inside margin_ranking / triplet / hinge / cosine-embedding losses and normalize
  (ClampMinBackward0), cross_entropy with probability targets (NegBackward0 last);
* ``sgn`` (SgnBackward0, real or complex) and ``linalg.multi_dot`` (ViewBackward0);
* distributions: Laplace / Gumbel cdf, StudentT mean / variance, the moments of Beta,
  Pareto, Uniform, Geometric and Gumbel, computed as PyTorch computes them.

Every case runs the same code with ``L = torch`` and ``L = minigrad`` on the same numpy data
and compares the name, the printed name, the value and the gradients (float64).
"""
import numpy as np
import pytest
import torch

import minigrad

LIBS = (torch, minigrad)
RNG = np.random.default_rng(11)
X = RNG.standard_normal((3, 4))
Y = RNG.standard_normal((3, 4))
V = RNG.standard_normal(4)
M = RNG.standard_normal((4, 4)) + 4 * np.eye(4)
SEQ = RNG.standard_normal((2, 3, 8))
IMG = RNG.standard_normal((1, 2, 5, 5))
GRID = RNG.uniform(-1, 1, (1, 3, 3, 2))
THETA = RNG.standard_normal((1, 2, 3))
P = RNG.uniform(0.1, 0.9, (3, 4))


def _leaf(L, data):
    return L.tensor(data, requires_grad=True)


def _dist(L, lf, name, *params):
    """Distribution ``name`` of ``L`` made from leaf parameters (0-d, float64)."""
    return getattr(L.distributions, name)(*(lf(np.float64(p)) for p in params))


AT = np.array([-1.0, 0.7])          # where the cdfs are evaluated


# name -> f(L, F, leaves): leaves(data) makes a float64 leaf that is also differentiated
CASES = {
    "max_pool1d": lambda L, F, lf: F.max_pool1d(lf(SEQ), 2),
    "max_pool1d_2d_input": lambda L, F, lf: F.max_pool1d(lf(X), 2),
    "max_pool1d_indices": lambda L, F, lf: F.max_pool1d(lf(SEQ), 3, 2, return_indices=True)[0],
    "avg_pool1d": lambda L, F, lf: F.avg_pool1d(lf(SEQ), 2),
    "adaptive_avg_pool1d": lambda L, F, lf: F.adaptive_avg_pool1d(lf(SEQ), 3),
    "adaptive_avg_pool1d_1": lambda L, F, lf: F.adaptive_avg_pool1d(lf(SEQ), 1),
    "adaptive_max_pool1d": lambda L, F, lf: F.adaptive_max_pool1d(lf(SEQ), 3),
    "adaptive_max_pool1d_even": lambda L, F, lf: F.adaptive_max_pool1d(lf(SEQ), 4),
    "torch_max_pool1d": lambda L, F, lf: L.max_pool1d(lf(SEQ), 2),
    "vec_at_mat": lambda L, F, lf: lf(V) @ lf(M),
    "matmul_vec_mat": lambda L, F, lf: L.matmul(lf(V), lf(X.T)),
    "multi_margin_mean": lambda L, F, lf: F.multi_margin_loss(lf(X), L.tensor([0, 1, 3])),
    "multi_margin_none": lambda L, F, lf: F.multi_margin_loss(lf(X), L.tensor([0, 1, 3]),
                                                              reduction="none"),
    "multi_margin_p2_sum": lambda L, F, lf: F.multi_margin_loss(
        lf(X), L.tensor([2, 1, 3]), p=2, weight=L.tensor(P[0]), reduction="sum"),
    "multilabel_margin": lambda L, F, lf: F.multilabel_margin_loss(
        lf(X), L.tensor([[0, 1, -1, 0], [2, -1, 0, 0], [3, 0, -1, 0]])),
    "multilabel_margin_none_1d": lambda L, F, lf: F.multilabel_margin_loss(
        lf(V), L.tensor([0, 2, -1, 0]), reduction="none"),
    "pdist": lambda L, F, lf: F.pdist(lf(X)),
    "pdist_p1": lambda L, F, lf: F.pdist(lf(X), p=1),
    "solve_vector": lambda L, F, lf: L.linalg.solve(lf(M), lf(V)),
    "solve_right": lambda L, F, lf: L.linalg.solve(lf(M), lf(X), left=False),
    "lstsq": lambda L, F, lf: L.linalg.lstsq(lf(M), lf(X.T)).solution,
    "lstsq_vector": lambda L, F, lf: L.linalg.lstsq(lf(M), lf(V)).solution,
    "cov": lambda L, F, lf: L.cov(lf(X)),
    "cov_vector": lambda L, F, lf: L.cov(lf(V)),
    "cov_correction0": lambda L, F, lf: L.cov(lf(X), correction=0),
    "vander": lambda L, F, lf: L.vander(lf(V)),
    "vander_n": lambda L, F, lf: L.vander(lf(V), N=2),
    "vander_increasing": lambda L, F, lf: L.vander(lf(V), increasing=True),
    "linalg_vander": lambda L, F, lf: L.linalg.vander(lf(V)),
    "linalg_vander_batch": lambda L, F, lf: L.linalg.vander(lf(X), N=3),
    "rrelu_eval": lambda L, F, lf: F.rrelu(lf(X)),
    "rrelu_eval_inplace": lambda L, F, lf: F.rrelu(lf(X) * 1, inplace=True),
    "round_decimals": lambda L, F, lf: lf(X).round(decimals=2),
    "round_decimals0": lambda L, F, lf: L.round(lf(X), decimals=0),
    "special_round": lambda L, F, lf: L.special.round(lf(X)),
    "igamma": lambda L, F, lf: L.igamma(L.tensor(P * 3), lf(P)),
    "igammac": lambda L, F, lf: L.special.gammaincc(L.tensor(P * 3), lf(P)),
    "grid_sample": lambda L, F, lf: F.grid_sample(lf(IMG), lf(GRID), align_corners=False),
    "grid_sample_nearest": lambda L, F, lf: F.grid_sample(lf(IMG), L.tensor(GRID),
                                                          mode="nearest", align_corners=True),
    "grid_sample_border": lambda L, F, lf: F.grid_sample(lf(IMG), lf(GRID),
                                                         padding_mode="border",
                                                         align_corners=True),
    "affine_grid": lambda L, F, lf: F.affine_grid(lf(THETA), (1, 2, 4, 5),
                                                  align_corners=False),
    "margin_ranking_none": lambda L, F, lf: F.margin_ranking_loss(
        lf(X[0]), lf(V), L.tensor([1.0, -1.0, 1.0, 1.0]), margin=0.5, reduction="none"),
    "triplet_none": lambda L, F, lf: F.triplet_margin_loss(lf(X), lf(Y), lf(P),
                                                           reduction="none"),
    "hinge_embedding_none": lambda L, F, lf: F.hinge_embedding_loss(
        lf(X), L.tensor(np.sign(Y)), reduction="none"),
    "cosine_embedding_none": lambda L, F, lf: F.cosine_embedding_loss(
        lf(X), lf(Y), L.tensor([1, -1, -1]), margin=-0.5, reduction="none"),
    "normalize": lambda L, F, lf: F.normalize(lf(X)),
    "ce_probs_sum": lambda L, F, lf: F.cross_entropy(lf(X), L.tensor(P), reduction="sum"),
    "ce_probs_none": lambda L, F, lf: F.cross_entropy(lf(X), L.tensor(P), reduction="none"),
    "ce_probs_mean_smooth": lambda L, F, lf: F.cross_entropy(lf(X), L.tensor(P),
                                                             label_smoothing=0.2),
    "laplace_cdf": lambda L, F, lf: _dist(L, lf, "Laplace", 0.3, 1.5).cdf(L.tensor(AT)),
    "gumbel_cdf": lambda L, F, lf: _dist(L, lf, "Gumbel", 0.3, 1.5).cdf(L.tensor(AT)),
    "gumbel_variance": lambda L, F, lf: _dist(L, lf, "Gumbel", 0.3, 1.5).variance,
    "studentt_mean": lambda L, F, lf: _dist(L, lf, "StudentT", 5.0, 0.1, 1.2).mean,
    "studentt_variance": lambda L, F, lf: _dist(L, lf, "StudentT", 5.0, 0.1, 1.2).variance,
    "beta_mean": lambda L, F, lf: _dist(L, lf, "Beta", 2.0, 3.0).mean,
    "beta_variance": lambda L, F, lf: _dist(L, lf, "Beta", 2.0, 3.0).variance,
    "pareto_mean": lambda L, F, lf: _dist(L, lf, "Pareto", 1.5, 3.0).mean,
    "pareto_variance": lambda L, F, lf: _dist(L, lf, "Pareto", 1.5, 3.0).variance,
    "uniform_mean": lambda L, F, lf: _dist(L, lf, "Uniform", 0.25, 2.0).mean,
    "geometric_mean": lambda L, F, lf: _dist(L, lf, "Geometric", 0.3).mean,
    "sgn_real": lambda L, F, lf: lf(X).sgn(),
    "sgn_complex": lambda L, F, lf: L.sgn(lf(X + 1j * Y)),
    "multi_dot": lambda L, F, lf: L.linalg.multi_dot([lf(X), lf(M), lf(Y.T)]),
    "multi_dot_vectors": lambda L, F, lf: L.linalg.multi_dot([lf(X[:, 0]), lf(X), lf(V)]),
    "fisher_mean": lambda L, F, lf: _dist(L, lf, "FisherSnedecor", 5.0, 7.0).mean,
    "fisher_variance": lambda L, F, lf: _dist(L, lf, "FisherSnedecor", 5.0, 7.0).variance,
    "fisher_mode": lambda L, F, lf: _dist(L, lf, "FisherSnedecor", 5.0, 7.0).mode,
    # (a < 1: NaN in both; elsewhere torch 2.13 gives NaN for b > 1, its log1p(-b))
    "kumaraswamy_mode": lambda L, F, lf: _dist(L, lf, "Kumaraswamy", 0.5, 3.0).mode,
    "dirichlet_mode": lambda L, F, lf: L.distributions.Dirichlet(lf(np.array([1.5, 2.0,
                                                                             3.0]))).mode,
    "continuous_bernoulli_log_prob": lambda L, F, lf: _dist(
        L, lf, "ContinuousBernoulli", 0.3).log_prob(L.tensor(np.array([0.2, 0.9]))),
    "negative_binomial_log_prob": lambda L, F, lf: _dist(
        L, lf, "NegativeBinomial", 5.0, 0.3).log_prob(L.tensor(np.array([0.0, 2.0, 7.0]))),
    # (no derivative for the concentration, in either library)
    "gamma_cdf": lambda L, F, lf: L.distributions.Gamma(
        L.tensor(2.0, dtype=L.float64), lf(np.float64(1.5))).cdf(L.tensor(np.abs(AT))),
}
# names and values only: torch.vander's own backward fails (it writes into a tensor its graph
# saved); torch's Kumaraswamy mode sends NaN gradients through the NaN it writes
NO_TORCH_BACKWARD = {"vander", "vander_n", "vander_increasing", "kumaraswamy_mode"}


def _run(L, case):
    """(result, its node's name, the name a printed result shows, the leaves)."""
    leaves = []

    def lf(data):
        leaves.append(_leaf(L, data))
        return leaves[-1]
    with torch.random.fork_rng():
        y = CASES[case](L, L.nn.functional, lf)
    return y, y.grad_fn.name(), repr(y).rsplit("grad_fn=", 1)[1], leaves


@pytest.mark.parametrize("case", sorted(CASES))
def test_node_name_value_and_gradients(case):
    (ty, tname, trepr, tleaves), (my, mname, mrepr, mleaves) = (_run(L, case) for L in LIBS)
    assert mname == tname
    assert mrepr == trepr
    assert type(my.grad_fn).__name__ == type(ty.grad_fn).__name__
    np.testing.assert_allclose(my.detach().numpy(), ty.detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    if case in NO_TORCH_BACKWARD:
        return
    seed = np.random.default_rng(3).standard_normal(tuple(ty.shape))
    if ty.is_complex():
        seed = seed * (1 + 0.5j)
    grads = []
    for L, y, leaves in ((torch, ty, tleaves), (minigrad, my, mleaves)):
        wanted = [t for t in leaves if t.requires_grad]
        grads.append(L.autograd.grad(y, wanted, L.tensor(seed), allow_unused=True))
    for tg, mg in zip(*grads):
        assert (tg is None) == (mg is None)
        if tg is not None:
            # (clone: torch's gradient of sgn is a ZeroTensor, which .numpy() refuses)
            np.testing.assert_allclose(mg.numpy(), tg.clone().numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("inplace", [False, True])
def test_rrelu_training_node(inplace):
    """Training-mode rrelu draws its slopes: only the node names are compared."""
    names = []
    for L in LIBS:
        x = _leaf(L, X) * 1
        y = L.nn.functional.rrelu(x, training=True, inplace=inplace)
        names.append(y.grad_fn.name())
    assert names[0] == names[1]


def test_renamed_pool_keeps_double_backward():
    """A renamed 1-D pool node still differentiates twice as PyTorch's does."""
    out = []
    for L in LIBS:
        x = _leaf(L, SEQ)
        y = L.nn.functional.avg_pool1d(x, 2)
        g, = L.autograd.grad((y * y).sum(), x, create_graph=True)
        gg, = L.autograd.grad(g.sum(), x)
        out.append((g.detach().numpy(), gg.numpy()))
    for a, b in zip(*out):
        np.testing.assert_allclose(b, a, rtol=1e-12)
