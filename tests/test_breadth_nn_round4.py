"""Round 4 of the third-party-code probes: nn.functional functions and nn modules checked
against torch (values, first derivatives, reprs, state_dict keys, errors).  The registry
(``minigrad/testing/registry_nn_round4.py``) covers the rest of the differentiable ones."""
import warnings

import numpy as np
import pytest
import torch

import minigrad as mg

RNG = np.random.default_rng(0)


def _both(f, *arrays, grad=True):
    """f(lib, *tensors) in both libraries -> [(value, grads...)] for torch then minigrad."""
    out = []
    for lib in (torch, mg):
        ts = [lib.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = f(lib, *ts)
        res = [np.array(y.detach().tolist())]
        wanted = [t for t in ts if t.requires_grad]
        if wanted:
            w = lib.tensor(np.random.default_rng(1).standard_normal(tuple(y.shape)))
            res += [np.array(g.tolist()) for g in lib.autograd.grad((y * w).sum(), wanted)]
        out.append(res)
    for a, b in zip(*out):
        np.testing.assert_allclose(b, a, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample(mode, padding_mode, align_corners):
    _both(lambda L, x, g: L.nn.functional.grid_sample(
        x, g, mode=mode, padding_mode=padding_mode, align_corners=align_corners),
        RNG.standard_normal((2, 3, 4, 5)), RNG.uniform(-1.3, 1.3, (2, 3, 6, 2)))


def test_affine_grid_and_warnings():
    _both(lambda L, t: L.nn.functional.affine_grid(t, (2, 3, 4, 5), align_corners=False),
          RNG.standard_normal((2, 2, 3)))
    with pytest.warns(UserWarning):
        mg.nn.functional.affine_grid(mg.zeros(1, 2, 3), (1, 1, 2, 2))
    with pytest.raises(ValueError):
        mg.nn.functional.affine_grid(mg.zeros(1, 2, 3), (1, 1, 2, 2, 2), align_corners=False)
    with pytest.raises(ValueError):
        mg.nn.functional.grid_sample(mg.zeros(1, 1, 2, 2), mg.zeros(1, 1, 1, 2), mode="area")


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_ctc_loss_matches_torch(reduction):
    lp = RNG.standard_normal((7, 3, 5))
    tg = np.array([[1, 1, 2], [3, 4, 0], [2, 0, 0]])
    _both(lambda L, x, t, il, tl: L.nn.functional.ctc_loss(
        x.log_softmax(2), t, il, tl, reduction=reduction), lp, tg, np.array([7, 5, 6]),
        np.array([3, 2, 0]))
    flat = np.array([1, 1, 2, 3, 4])
    _both(lambda L, x, t, il, tl: L.nn.functional.ctc_loss(
        x.log_softmax(2), t, il, tl, reduction=reduction, zero_infinity=True), lp, flat,
        np.array([2, 5, 6]), np.array([3, 2, 0]))          # sample 0 is impossible


def test_ctc_loss_second_derivative_by_finite_differences():
    x = mg.tensor(RNG.standard_normal((4, 2, 3)), requires_grad=True)

    def f(x):
        return mg.nn.functional.ctc_loss(x.log_softmax(2), mg.tensor([[1, 2], [2, 0]]),
                                         [4, 3], [2, 1])
    from minigrad.testing.second_order import gradgradcheck
    assert gradgradcheck(f, (x,))


def test_margin_losses_match_torch():
    x, t = RNG.standard_normal((4, 5)), np.array([0, 3, 4, 1])
    w = RNG.uniform(0.5, 1.5, 5)
    _both(lambda L, a, b: L.nn.functional.multi_margin_loss(
        a, b, p=2, margin=0.7, weight=L.tensor(w), reduction="none"), x, t)
    tt = np.array([[3, 0, -1, 1, 2], [1, 1, 2, -1, -1], [-1, 2, 3, 4, 0], [0, 1, 2, 3, 4]])
    _both(lambda L, a, b: L.nn.functional.multilabel_margin_loss(a, b), x, tt)
    with pytest.raises(ValueError):
        mg.nn.functional.multi_margin_loss(mg.zeros(2, 3), mg.tensor([0, 1]), p=3)


def test_piecewise_activations_keep_first_derivative_on_graph():
    x = np.array([-7.0, -2.5, -0.3, 0.4, 2.9, 5.0, 8.0])
    for name in ("relu6", "hardtanh", "hardshrink", "softshrink"):
        t = mg.tensor(x, requires_grad=True)
        g, = mg.autograd.grad(getattr(mg.nn.functional, name)(t).sum(), t, create_graph=True)
        assert g.requires_grad
        gg, = mg.autograd.grad(g.sum(), t)
        assert np.all(gg.numpy() == 0)


def test_misc_functional_match_torch():
    _both(lambda L, a: L.nn.functional.glu(a, 1), RNG.standard_normal((2, 4, 3)))
    _both(lambda L, a: L.nn.functional.threshold(a, 0.1, -2.0), RNG.standard_normal(6))
    _both(lambda L, a: L.nn.functional.rrelu(a), RNG.standard_normal(6))
    _both(lambda L, a: L.nn.functional.local_response_norm(a, 2, alpha=0.1),
          RNG.standard_normal((2, 6, 3, 2, 2)))
    _both(lambda L, a: L.nn.functional.channel_shuffle(a, 3), RNG.standard_normal((2, 6, 3)))
    _both(lambda L, a, b, w: L.nn.functional.bilinear(a, b, w), RNG.standard_normal(4),
          RNG.standard_normal(5), RNG.standard_normal((6, 4, 5)))
    with pytest.raises(RuntimeError):
        mg.nn.functional.glu(mg.zeros(3))
    with pytest.raises(RuntimeError):
        mg.nn.functional.channel_shuffle(mg.zeros(1, 5, 2), 2)


def test_random_functions_statistics():
    mg.manual_seed(0)
    x = mg.randn(20000)
    y = mg.nn.functional.alpha_dropout(mg.nn.functional.selu(x), 0.2, training=True)
    assert abs(float(y.mean())) < 0.05 and abs(float(y.std()) - 1) < 0.05
    assert mg.nn.functional.alpha_dropout(x, 0.2) is x                 # training=False
    z = mg.nn.functional.feature_alpha_dropout(mg.ones(4, 3, 5), 0.5, training=True)
    assert np.all(z.numpy().std(-1) == 0)                              # whole channels
    s = mg.nn.functional.gumbel_softmax(mg.randn(5, 4), tau=0.5, hard=True)
    assert np.all(s.numpy().sum(-1) == 1) and set(np.unique(s.numpy())) <= {0.0, 1.0}
    r = mg.nn.functional.rrelu(-mg.ones(1000), training=True).numpy()
    assert -1 / 3 <= r.min() and r.max() <= -1 / 8 and r.std() > 0


MODULES = ["GLU()", "Threshold(0.1, 20, inplace=True)", "RReLU(0.1, 0.3)", "SyncBatchNorm(4)",
           "AlphaDropout(0.2)", "FeatureAlphaDropout()", "ChannelShuffle(2)",
           "LocalResponseNorm(3, alpha=0.1, beta=0.5, k=2.0)", "Bilinear(3, 4, 5)",
           "NLLLoss2d()", "MultiMarginLoss(p=2, margin=0.5)", "MultiLabelMarginLoss()",
           "CTCLoss(blank=1, zero_infinity=True)", "ReLU(inplace=True)", "Hardtanh(-2.0, 3.0)",
           "Softplus(2, 10)", "PReLU(3, 0.1)"]


@pytest.mark.parametrize("spec", MODULES)
def test_module_repr_and_state_dict(spec):
    a, b = eval("torch.nn." + spec), eval("mg.nn." + spec)
    assert repr(b) == repr(a)
    assert list(b.state_dict()) == list(a.state_dict())
    assert [tuple(v.shape) for v in b.state_dict().values()] == \
        [tuple(v.shape) for v in a.state_dict().values()]
