"""Registry entries added in round 4 of the third-party-code probes (see the module's
entries). Checked like every entry: forward, gradients and second derivatives against torch
and finite differences."""
from __future__ import annotations

from .opinfo import Sample, register  # noqa: F401

S = Sample

import numpy as np  # noqa: E402


def _nn(name, f, samples, **options):
    register(name, f, samples, family="nn", **options)


def _fn(name):
    """``f(lib, *inputs, **kwargs)`` calling ``lib.nn.functional.<name>`` (looked up at call)."""
    return lambda lib, *a, **kw: getattr(lib.nn.functional, name)(*a, **kw)


# activations: piecewise-linear (kinks avoided by the samples) and gated
_nn("threshold", _fn("threshold"), lambda g: iter([
    S(g.randn(3, 4), kwargs={"threshold": 0.3, "value": -2.0}),
    S(g.randn(5), kwargs={"threshold": -0.2, "value": 0.0})]))
_nn("glu", _fn("glu"), lambda g: iter([S(g.randn(3, 4)), S(g.randn(2, 6, 3), kwargs={"dim": 1})]))
_nn("rrelu_eval", _fn("rrelu"), lambda g: iter([
    S(g.randn(3, 4)), S(g.randn(5), kwargs={"lower": 0.1, "upper": 0.5})]))
_nn("local_response_norm", _fn("local_response_norm"), lambda g: iter([
    S(g.randn(2, 5, 3), kwargs={"size": 3}),
    S(g.randn(1, 6, 2, 3), kwargs={"size": 2, "alpha": 0.1, "beta": 0.5, "k": 2.0})]))
_nn("channel_shuffle", _fn("channel_shuffle"), lambda g: iter([
    S(g.randn(2, 6, 3), kwargs={"groups": 3}), S(g.randn(1, 4, 2, 2), kwargs={"groups": 2})]))
_nn("bilinear", _fn("bilinear"), lambda g: iter([
    S(g.randn(3, 2), g.randn(3, 4), g.randn(5, 2, 4), g.randn(5)),
    S(g.randn(2, 3, 2), g.randn(2, 3, 4), g.randn(5, 2, 4), desc="no bias")]))


# spatial transformers
def _grid(g, shape):
    return g.uniform(*shape, low=-1.2, high=1.2)


def _grid_sample(g):
    for pm in ("zeros", "border", "reflection"):
        for ac in (False, True):
            yield S(g.randn(2, 2, 3, 4), _grid(g, (2, 3, 2, 2)),
                    kwargs={"padding_mode": pm, "align_corners": ac})
    yield S(g.randn(1, 2, 2, 3, 3), _grid(g, (1, 2, 2, 2, 3)),
            kwargs={"align_corners": False}, desc="5-d")


_nn("grid_sample", _fn("grid_sample"), _grid_sample)
_nn("affine_grid", lambda lib, t, **kw: lib.nn.functional.affine_grid(t, **kw), lambda g: iter([
    S(g.randn(2, 2, 3), kwargs={"size": (2, 1, 3, 4), "align_corners": False}),
    S(g.randn(1, 3, 4), kwargs={"size": (1, 1, 2, 3, 2), "align_corners": True})]))


# margin losses.  PyTorch's kernels have no second derivative, so torch's side is the same
# loss written with its differentiable ops (tests/test_breadth_nn_round4.py compares with
# torch's own functions, and the CTC loss, whose torch kernel has no second derivative
# either, against torch's first derivatives).
def _torch_multi_margin(lib, x, t, p=1, margin=1.0, reduction="mean"):
    gaps = (x - x.gather(1, t[:, None]) + margin).relu() ** p
    wrong = lib.arange(x.shape[1])[None, :] != t[:, None]
    loss = (gaps * wrong).sum(1) / x.shape[1]
    return loss.mean() if reduction == "mean" else loss


def _torch_multilabel_margin(lib, x, t, reduction="mean"):
    row = x.ndim == 1
    x, t = (x[None], t[None]) if row else (x, t)
    listed = (t >= 0).long().cumprod(1).bool()
    safe = t.clamp(min=0)
    is_target = lib.zeros_like(safe).scatter_add(1, safe, listed.long()) > 0
    pairs = (x[:, None, :] - x.gather(1, safe)[:, :, None] + 1).relu()
    loss = (pairs * (listed[:, :, None] & ~is_target[:, None, :])).sum((1, 2)) / x.shape[1]
    loss = loss[0] if row else loss
    return {"mean": loss.mean(), "sum": loss.sum()}.get(reduction, loss)


_nn("multi_margin_loss", _fn("multi_margin_loss"), lambda g: iter([
    S(g.randn(4, 5), np.array([0, 3, 4, 1])),
    S(g.randn(4, 5), np.array([2, 2, 0, 1]), kwargs={"p": 2, "margin": 0.5,
                                                     "reduction": "none"})]),
    torch_f=_torch_multi_margin)
_nn("multilabel_margin_loss", _fn("multilabel_margin_loss"), lambda g: iter([
    S(g.randn(3, 4), np.array([[3, 0, -1, 1], [1, 2, -1, -1], [-1, 0, 1, 2]])),
    S(g.randn(4), np.array([2, 1, -1, 0]), kwargs={"reduction": "sum"})]),
    torch_f=_torch_multilabel_margin)
