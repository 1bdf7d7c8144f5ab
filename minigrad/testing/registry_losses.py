"""Registry entries for the less common losses and distances of ``nn.functional``
(``minigrad/nn/_functional_losses.py``): smooth L1 and Huber, KL divergence, Poisson and
Gaussian NLL, the margin losses, cosine similarity and pairwise distance.

Checked like every entry: forward, gradients and second derivatives against torch and
finite differences. The samples keep each kink (|x - y| = beta, a margin reached, a hinge at
0) away from the points they evaluate, where a finite difference would straddle it.
"""
from __future__ import annotations

import numpy as np

from .opinfo import Sample, register

S = Sample
F_MODULE = "minigrad.nn.functional"


def _loss(name, samples, n_inputs=None):
    """``lib.nn.functional.name(*inputs, **kwargs)``; inputs past ``n_inputs`` (a sample's
    ``_n`` overrides it) are passed as the keyword ``weight``."""
    def f(lib, *inputs, _n=None, **kw):
        n = _n or n_inputs or len(inputs)
        if len(inputs) > n:
            kw["weight"] = inputs[n]
        return getattr(lib.nn.functional, name)(*inputs[:n], **kw)
    register(name, f, samples, family="nn", requires=((F_MODULE, name),))


# ----------------------------------------------------------------------------------------------
# Regression losses
# ----------------------------------------------------------------------------------------------
def _near_far(g, *shape, beta=1.0):
    """(input, target) whose differences are at least 0.2 from +-beta (smooth L1's seam)."""
    target = g.randn(*shape)
    size = g.rng.choice([0.3 * beta, 0.6 * beta, 1.4 * beta, 2.5 * beta], shape)
    return target + size * g.rng.choice([-1.0, 1.0], shape), target


def _smooth_l1_samples(g):
    for red in ("mean", "sum", "none"):
        yield S(*_near_far(g, 3, 4), kwargs={"reduction": red})
    yield S(*_near_far(g, 2, 5, beta=0.5), kwargs={"beta": 0.5}, desc="beta 0.5")
    yield S(*_near_far(g, 6), kwargs={"beta": 0.0}, desc="beta 0: the L1 loss")
    yield S(*_near_far(g), desc="0-d")
    yield S(*_near_far(g, 2, 3), requires_grad=[True, False], desc="fixed target")


def _huber_samples(g):
    for red in ("mean", "sum", "none"):
        yield S(*_near_far(g, 3, 4), kwargs={"reduction": red})
    yield S(*_near_far(g, 2, 5, beta=2.0), kwargs={"delta": 2.0}, desc="delta 2")
    yield S(*_near_far(g), desc="0-d")


_loss("smooth_l1_loss", _smooth_l1_samples)
_loss("huber_loss", _huber_samples)


def _kl_samples(g):
    # ('mean', the default, divides by every element and warns about it, in both libraries)
    for red in ("sum", "none", "batchmean"):
        yield S(np.log(g.probs(3, 4)), g.probs(3, 4), kwargs={"reduction": red},
                desc=f"probabilities, {red}")
    yield S(np.log(g.probs(2, 5)), np.log(g.probs(2, 5)),
            kwargs={"log_target": True, "reduction": "batchmean"}, desc="log target")
    target = g.probs(2, 4)
    target[0, 1] = 0.0                        # 0 log 0 = 0, and no gradient in the target
    yield S(np.log(g.probs(2, 4)), target, kwargs={"reduction": "sum"},
            requires_grad=[True, False], desc="a zero in the target")


_loss("kl_div", _kl_samples)


def _poisson_samples(g):
    for red in ("mean", "sum", "none"):
        yield S(g.randn(3, 4), g.uniform(3, 4, high=4.0), kwargs={"reduction": red},
                desc=f"log input, {red}")
    yield S(g.pos(3, 4), g.uniform(3, 4, high=4.0), kwargs={"log_input": False},
            desc="rates")
    yield S(g.randn(2, 5), g.pos(2, 5, low=1.5, high=5.0), kwargs={"full": True},
            desc="full (Stirling term where target > 1)")


_loss("poisson_nll_loss", _poisson_samples)


def _gaussian_samples(g):
    for red in ("mean", "sum", "none"):
        yield S(g.randn(4, 3), g.randn(4, 3), g.pos(4, 3), kwargs={"reduction": red})
    yield S(g.randn(4, 3), g.randn(4, 3), g.pos(4, 1), desc="one variance per row")
    yield S(g.randn(4, 3), g.randn(4, 3), g.pos(4), desc="one variance per sample")
    yield S(g.randn(5), g.randn(5), g.pos(5), kwargs={"full": True}, desc="full")


_loss("gaussian_nll_loss", _gaussian_samples)


# ----------------------------------------------------------------------------------------------
# Margin and classification losses (labels +-1 or {0, 1}; the margins kept off their kinks)
# ----------------------------------------------------------------------------------------------
def _labels(g, *shape):
    return g.rng.choice([-1.0, 1.0], shape)


def _soft_margin_samples(g):
    for red in ("mean", "sum", "none"):
        yield S(g.randn(3, 4), _labels(g, 3, 4), kwargs={"reduction": red},
                requires_grad=[True, False])


def _multilabel_samples(g):
    for red in ("mean", "sum", "none"):
        yield S(g.randn(3, 4), (g.uniform(3, 4) > 0.5).astype(np.float64),
                kwargs={"reduction": red}, requires_grad=[True, False])
    yield S(g.randn(3, 4), (g.uniform(3, 4) > 0.5).astype(np.float64), g.pos(4),
            kwargs={"_n": 2}, requires_grad=[True, False, False], desc="class weights")


def _ranking_samples(g):
    for red in ("mean", "sum", "none"):
        a = g.randn(6)
        yield S(a, a + g.away(6), _labels(g, 6), kwargs={"reduction": red},
                requires_grad=[True, True, False])
    a = g.randn(6)
    yield S(a, a + g.away(6), _labels(g, 6), kwargs={"margin": 0.1},
            requires_grad=[True, True, False], desc="margin 0.1")


def _hinge_samples(g):
    # the -1 entries' loss max(0, margin - x) needs x off the margin
    for red in ("mean", "sum", "none"):
        yield S(1.0 + g.away(3, 4), _labels(g, 3, 4), kwargs={"reduction": red},
                requires_grad=[True, False])
    yield S(2.0 + g.away(5), _labels(g, 5), kwargs={"margin": 2.0},
            requires_grad=[True, False], desc="margin 2")


def _cosine_embedding_samples(g):
    for red in ("mean", "sum", "none"):
        yield S(g.randn(4, 5), g.randn(4, 5), _labels(g, 4), kwargs={"reduction": red},
                requires_grad=[True, True, False])
    yield S(g.randn(5), g.randn(5), _labels(g, 1)[0:1].reshape(()),
            requires_grad=[True, True, False], desc="one pair (1-d)")


def _triplet_samples(g):
    anchor = g.randn(4, 5)
    for red in ("mean", "sum", "none"):
        yield S(anchor, anchor + 0.3 * g.randn(4, 5), anchor + 2.0 * g.randn(4, 5),
                kwargs={"reduction": red, "margin": 3.0})
    yield S(anchor, anchor + 0.3 * g.randn(4, 5), anchor + 2.0 * g.randn(4, 5),
            kwargs={"p": 1, "swap": True, "margin": 4.0}, desc="p 1, swap")


_loss("soft_margin_loss", _soft_margin_samples)
_loss("multilabel_soft_margin_loss", _multilabel_samples)
_loss("margin_ranking_loss", _ranking_samples, n_inputs=3)
_loss("hinge_embedding_loss", _hinge_samples)
_loss("cosine_embedding_loss", _cosine_embedding_samples, n_inputs=3)
_loss("triplet_margin_loss", _triplet_samples, n_inputs=3)


# ----------------------------------------------------------------------------------------------
# Distances
# ----------------------------------------------------------------------------------------------
def _cosine_samples(g):
    yield S(g.randn(3, 5), g.randn(3, 5))
    yield S(g.randn(3, 5), g.randn(1, 5), desc="broadcast")
    yield S(g.randn(2, 4, 3), g.randn(2, 4, 3), kwargs={"dim": -1}, desc="last dim")
    yield S(g.randn(5), g.randn(5), kwargs={"dim": 0}, desc="1-d")


def _pairwise_samples(g):
    yield S(g.randn(3, 5), g.randn(3, 5))
    yield S(g.randn(3, 5), g.randn(3, 5), kwargs={"p": 1.0, "keepdim": True}, desc="p 1")
    yield S(g.randn(3, 5), g.randn(1, 5), kwargs={"p": 3.0}, desc="p 3, broadcast")
    yield S(g.randn(5), g.randn(5), desc="1-d")


_loss("cosine_similarity", _cosine_samples)
_loss("pairwise_distance", _pairwise_samples)


# ----------------------------------------------------------------------------------------------
# Connectionist temporal classification
# ----------------------------------------------------------------------------------------------
def _ctc(lib, scores, targets, input_lengths, target_lengths, **kw):
    """ctc_loss of ``log_softmax(scores)``: torch's raw gradient with respect to log_probs
    is right only for log-probabilities that come out of a log_softmax (pytorch issue 52241),
    so the samples feed it one, as a user's network does."""
    log_probs = lib.nn.functional.log_softmax(scores, -1)
    return lib.nn.functional.ctc_loss(log_probs, targets, input_lengths, target_lengths, **kw)


def _ctc_samples(g):
    i64 = np.int64
    padded = np.array([[1, 1, 2], [3, 2, 0]], dtype=i64)          # a repeated label in row 0
    yield S(g.randn(6, 2, 4), padded, np.array([6, 5], i64), np.array([3, 2], i64),
            desc="padded targets, a repeat")
    yield S(g.randn(6, 2, 4), np.array([1, 2, 2, 3, 1], i64), np.array([6, 6], i64),
            np.array([3, 2], i64), kwargs={"reduction": "sum"}, desc="concatenated targets")
    yield S(g.randn(5, 3, 3), g.index(3, 3, 2, low=1), np.array([5, 4, 3], i64),
            np.array([2, 1, 0], i64), kwargs={"reduction": "none"},
            desc="an empty target, per-sample losses")
    yield S(g.randn(5, 4), np.array([1, 3], i64), np.array(5, i64), np.array(2, i64),
            desc="unbatched (T, C)")
    yield S(g.randn(4, 2, 5), np.array([[0, 1], [2, 0]], i64), np.array([4, 4], i64),
            np.array([2, 2], i64), kwargs={"blank": 4}, desc="blank is the last class")
    yield S(g.randn(2, 2, 4), np.array([[1, 2, 3], [1, 1, 1]], i64), np.array([2, 2], i64),
            np.array([1, 3], i64), kwargs={"zero_infinity": True, "reduction": "sum"},
            desc="an impossible alignment, zero_infinity")


# torch's ctc_loss backward has no derivative of its own: minigrad's, made of differentiable
# ops, is checked to second order against finite differences only
register("ctc_loss", _ctc, _ctc_samples, family="nn", requires=((F_MODULE, "ctc_loss"),),
         second_order="finite differences")


# ----------------------------------------------------------------------------------------------
# A linear layer and cross entropy in one call
# ----------------------------------------------------------------------------------------------
def _linear_ce(lib, x, w, target, *rest, bias=False, class_weight=False, **kw):
    """F.linear_cross_entropy; after (input, linear_weight, target) come the linear bias and
    the class weights, when the flags say they are there (both are keyword-only)."""
    rest = list(rest)
    if bias:
        kw["linear_bias"] = rest.pop(0)
    if class_weight:
        kw["weight"] = rest.pop(0)
    return lib.nn.functional.linear_cross_entropy(x, w, target, **kw)


def _linear_ce_samples(g):
    i64 = np.int64
    yield S(g.randn(5, 4), g.randn(3, 4), g.index(3, 5), desc="(N, in), class indices")
    yield S(g.randn(5, 4), g.randn(3, 4), g.index(3, 5), g.randn(3),
            kwargs={"bias": True, "reduction": "sum"}, desc="a bias, sum")
    yield S(g.randn(4), g.randn(3, 4), np.array(2, i64), desc="unbatched (in,)")
    yield S(g.randn(5, 4), g.randn(3, 2, 4), g.index(3, 5, 2), g.randn(3, 2),
            kwargs={"bias": True, "reduction": "none"}, desc="K-dimensional (C, d, in)")
    yield S(g.randn(5, 4), g.randn(3, 4), g.probs(5, 3),
            requires_grad=[True, True, False], kwargs={"label_smoothing": 0.1},
            desc="probability targets, label smoothing")
    yield S(g.randn(6, 4), g.randn(3, 4), np.array([0, 1, 2, 1, 0, 2], i64),
            np.array([0.5, 2.0, 1.0]), requires_grad=[True, True, False, False],
            kwargs={"class_weight": True, "ignore_index": 1}, desc="class weights, ignore_index")


register("linear_cross_entropy", _linear_ce, _linear_ce_samples, family="nn",
         requires=((F_MODULE, "linear_cross_entropy"),))
