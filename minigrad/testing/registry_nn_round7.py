"""Registry entries for round 7 of the nn probes (part H): ``CrossMapLRN2d``,
``AdaptiveLogSoftmaxWithLoss`` (its forward and ``log_prob``), ``nn.grad``'s convolution
gradients and ``F.embedding_bag``.  Checked like every entry: forward, gradients and second derivatives against torch
and finite differences."""
from __future__ import annotations

import numpy as np

from .opinfo import Sample, register

S = Sample


# ----------------------------------------------------------------------------------------------
# CrossMapLRN2d (nn/_functional_round7.py::cross_map_lrn2d)
# ----------------------------------------------------------------------------------------------
def _cross_map_lrn(lib, x, size=3, alpha=1e-4, beta=0.75, k=1.0):
    return lib.nn.CrossMapLRN2d(size, alpha, beta, k)(x)


def _cross_map_lrn_samples(g):
    # only windows that reach every channel: elsewhere torch's legacy backward is not the
    # derivative of its forward (it fails torch.autograd.gradcheck), while minigrad's is;
    # tests/test_nn_round7.py checks the other cases' values against torch and their
    # gradients against finite differences
    yield S(g.randn(2, 1, 3, 3), kwargs={"size": 3, "alpha": 0.5, "beta": 0.75, "k": 1.0})
    yield S(g.randn(1, 2, 2, 3), kwargs={"size": 4, "alpha": 0.3, "beta": 0.6, "k": 2.0},
            desc="even size")
    yield S(g.randn(2, 2, 2, 2), kwargs={"size": 5, "alpha": 1.0, "beta": 1.5, "k": 1.5},
            desc="window wider than the channels")


# torch's CrossMapLRN2d backward is a legacy Function with no derivative of its own
register("CrossMapLRN2d", _cross_map_lrn, _cross_map_lrn_samples, family="nn",
         requires=(("minigrad.nn", "CrossMapLRN2d"),), second_order="finite differences")


# ----------------------------------------------------------------------------------------------
# AdaptiveLogSoftmaxWithLoss: the module run on the sample's weights (in, 9 classes, cutoffs
# [3, 6], div_value 2): head (5, in), tail.0 = (in // 2, in), (3, in // 2), tail.1 likewise
# ----------------------------------------------------------------------------------------------
def _asm_module(lib, x, head, p0, o0, p1, o1):
    m = lib.nn.AdaptiveLogSoftmaxWithLoss(x.shape[-1], 9, [3, 6], div_value=2.0)
    # the sample's tensors stand in for the parameters, so gradients reach them
    m.head._parameters["weight"] = head
    for i, (proj, out) in enumerate(((p0, o0), (p1, o1))):
        m.tail[i][0]._parameters["weight"] = proj
        m.tail[i][1]._parameters["weight"] = out
    return m


def _asm_forward(lib, x, target, *weights):
    return tuple(_asm_module(lib, x, *weights)(x, target))


def _asm_log_prob(lib, x, *weights):
    return _asm_module(lib, x, *weights).log_prob(x)


def _asm_weights(g, d):
    return (g.randn(5, d), g.randn(d // 2, d), g.randn(3, d // 2), g.randn(d // 4, d),
            g.randn(3, d // 4))


def _asm_forward_samples(g):
    yield S(g.randn(6, 8), g.index(9, 6), *_asm_weights(g, 8))
    yield S(g.randn(4, 8), g.index(3, 4), *_asm_weights(g, 8), desc="targets in the shortlist")
    yield S(g.randn(8), g.index(9), *_asm_weights(g, 8), desc="unbatched")


def _asm_log_prob_samples(g):
    yield S(g.randn(5, 8), *_asm_weights(g, 8))
    yield S(g.randn(3, 4), *_asm_weights(g, 4), desc="small in_features")


register("AdaptiveLogSoftmaxWithLoss", _asm_forward, _asm_forward_samples, family="nn",
         requires=(("minigrad.nn", "AdaptiveLogSoftmaxWithLoss"),))
register("AdaptiveLogSoftmaxWithLoss.log_prob", _asm_log_prob, _asm_log_prob_samples,
         family="nn", requires=(("minigrad.nn", "AdaptiveLogSoftmaxWithLoss"),))


# ----------------------------------------------------------------------------------------------
# nn.grad: conv{1,2,3}d_input and conv{1,2,3}d_weight (nn/grad.py)
# ----------------------------------------------------------------------------------------------
def _grad_input(nd):
    def f(lib, weight, grad_output, input_size=(), **kw):
        return getattr(lib.nn.grad, f"conv{nd}d_input")(input_size, weight, grad_output, **kw)
    return f


def _grad_weight(nd):
    def f(lib, input, grad_output, weight_size=(), **kw):
        return getattr(lib.nn.grad, f"conv{nd}d_weight")(input, weight_size, grad_output, **kw)
    return f


def _grad_input_samples(nd):
    def samples(g):
        yield S(g.randn(4, 2, *(2,) * nd), g.randn(2, 4, *(3,) * nd),
                kwargs={"input_size": (2, 2) + (4,) * nd})
        yield S(g.randn(4, 1, *(2,) * nd), g.randn(1, 4, *(3,) * nd),
                kwargs={"input_size": (1, 2) + (4,) * nd, "stride": 2, "padding": 1,
                        "groups": 2}, desc="strided, padded, grouped")
        yield S(g.randn(3, 2, *(2,) * nd), g.randn(1, 3, *(2,) * nd),
                kwargs={"input_size": (1, 2) + (5,) * nd, "stride": 2, "dilation": 2},
                desc="dilated, a stride remainder")
    return samples


def _grad_weight_samples(nd):
    def samples(g):
        yield S(g.randn(2, 2, *(4,) * nd), g.randn(2, 4, *(3,) * nd),
                kwargs={"weight_size": (4, 2) + (2,) * nd})
        yield S(g.randn(1, 2, *(4,) * nd), g.randn(1, 4, *(3,) * nd),
                kwargs={"weight_size": (4, 1) + (2,) * nd, "stride": 2, "padding": 1,
                        "groups": 2}, desc="strided, padded, grouped")
        yield S(g.randn(1, 2, *(5,) * nd), g.randn(1, 3, *(2,) * nd),
                kwargs={"weight_size": (3, 2) + (2,) * nd, "stride": 2, "dilation": 2},
                desc="dilated, a stride remainder")
    return samples


for _nd in (1, 2, 3):
    register(f"nn.grad.conv{_nd}d_input", _grad_input(_nd), _grad_input_samples(_nd),
             family="nn", requires=(("minigrad.nn.grad", f"conv{_nd}d_input"),))
    register(f"nn.grad.conv{_nd}d_weight", _grad_weight(_nd), _grad_weight_samples(_nd),
             family="nn", requires=(("minigrad.nn.grad", f"conv{_nd}d_weight"),))


# ----------------------------------------------------------------------------------------------
# F.embedding_bag (nn/_functional_embedding_bag.py): gradients into the weight and the
# per-sample weights; indices and offsets are integer inputs
# ----------------------------------------------------------------------------------------------
def _embedding_bag(lib, indices, weight, offsets=None, psw=None, **kw):
    return lib.nn.functional.embedding_bag(indices, weight, offsets, per_sample_weights=psw,
                                           **kw)


def _embedding_bag_samples(g):
    i64 = np.int64
    flat, offsets = np.array([0, 2, 4, 5, 4, 3, 2, 9], i64), np.array([0, 4], i64)
    yield S(flat, g.randn(10, 3), offsets, desc="mean over two bags")
    yield S(flat, g.randn(10, 3), offsets, kwargs={"mode": "sum"}, desc="sum")
    yield S(g.index(10, 2, 4), g.randn(10, 3), kwargs={"mode": "sum"}, desc="2-d input")
    yield S(flat, g.randn(10, 3), np.array([0, 3, 3], i64), g.randn(8),
            kwargs={"mode": "sum"}, desc="per-sample weights, an empty bag")
    yield S(flat, g.randn(10, 3), np.array([0, 2, 8], i64),
            kwargs={"mode": "mean", "include_last_offset": True, "padding_idx": 2},
            desc="include_last_offset, padding_idx")
    yield S(flat, g.distinct(10, 3), offsets, kwargs={"mode": "max"},
            desc="max, no ties")


# torch's embedding_bag backward has no derivative of its own; minigrad's is composed
register("embedding_bag", _embedding_bag, _embedding_bag_samples, family="nn",
         requires=(("minigrad.nn.functional", "embedding_bag"),),
         second_order="finite differences")
