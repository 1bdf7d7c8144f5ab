"""Registry entries for ``nn.functional``: linear, losses, dropout, convolution (pooling,
batch norm and the composed activations are in ``registry_nn_pool_norm.py``).

The functions are looked up on ``lib.nn.functional`` when a sample runs, never at import, so
the registry loads even while a function is still being written; such an entry names what it
``requires`` and is skipped with that reason until it exists.
"""
from __future__ import annotations

import numpy as np

from ..ops import conv as conv_ops
from .opinfo import Sample, register

S = Sample
F_MODULE = "minigrad.nn.functional"


def _F(name, weight_kw=()):
    """``lib.nn.functional.name(*inputs, **kwargs)``.

    Names in ``weight_kw`` are keyword arguments given as inputs: the sample's inputs after
    the positional ones, in that order (so that they become tensors of each framework); the
    sample's kwarg ``_n`` says how many inputs are positional.
    """
    def f(lib, *inputs, _n=None, **kw):
        n = len(inputs) if _n is None else _n
        for key, value in zip(weight_kw, inputs[n:]):
            kw[key] = value
        return getattr(lib.nn.functional, name)(*inputs[:n], **kw)
    return f


def _nn(name, f, samples, **options):
    options.setdefault("requires", ((F_MODULE, name),))
    register(name, f, samples, family="nn", **options)


# ----------------------------------------------------------------------------------------------
# linear, dropout
# ----------------------------------------------------------------------------------------------
def _linear_samples(g):
    yield S(g.randn(3, 4), g.randn(5, 4), g.randn(5))
    yield S(g.randn(3, 4), g.randn(5, 4), desc="no bias")
    yield S(g.randn(4), g.randn(2, 4), g.randn(2), desc="batch-less input")
    yield S(g.randn(2, 3, 4), g.randn(5, 4), g.randn(5), desc="3-d input")
    yield S(g.randn(0, 4), g.randn(2, 4), g.randn(2), desc="empty batch")
    yield S(g.randn(2, 4), g.randn(0, 4), g.randn(0), desc="no output features")
    yield S(g.randn(3, 4), g.randn(5, 4), g.randn(5), requires_grad=[False, True, True],
            desc="weights only")
    yield S(g.randn(2, 0), g.randn(5, 0), g.randn(5), desc="no input features")
    yield S(g.randn(3, 4), g.randn(5, 4), g.randn(), desc="0-d bias, broadcast")
    yield S(g.randn(2, 3, 4), g.randn(5, 4), g.randn(1), desc="1-element bias, broadcast")


_nn("linear", _F("linear"), _linear_samples)


def _dropout_samples(g):
    yield S(g.randn(3, 4), kwargs={"p": 0.0})
    yield S(g.randn(3, 4), kwargs={"p": 0.5, "training": False})
    yield S(g.randn(2, 3, 2), kwargs={"p": 0.9, "training": False})


_nn("dropout", _F("dropout"), _dropout_samples, notes="only the deterministic cases (p=0, eval)")


# ----------------------------------------------------------------------------------------------
# Losses
# ----------------------------------------------------------------------------------------------
def _class_loss_samples(logits):
    """Samples shared by cross_entropy (``logits``) and nll_loss (log-probabilities)."""
    def samples(g):
        for red in ("mean", "sum", "none"):
            yield S(logits(g, 4, 5), g.index(5, 4), kwargs={"reduction": red})
        yield S(logits(g, 4, 5), g.index(5, 4), g.uniform(5, low=0.2, high=2.0),
                kwargs={"_n": 2}, requires_grad=[True, False, False], desc="weight")
        yield S(logits(g, 4, 5), g.index(5, 4), g.uniform(5, low=0.2, high=2.0),
                kwargs={"_n": 2, "reduction": "sum"}, requires_grad=[True, False, False],
                desc="weight, sum")
        t = g.index(5, 6)
        t[[1, 4]] = -100
        yield S(logits(g, 6, 5), t, desc="ignore_index -100")
        t2 = np.array([0, 2, 1, 2, 4])
        yield S(logits(g, 5, 5), t2, g.uniform(5, low=0.2, high=2.0),
                kwargs={"_n": 2, "ignore_index": 2}, requires_grad=[True, False, False],
                desc="weight, ignore_index 2")
        yield S(logits(g, 2, 3, 4), g.index(3, 2, 4), desc="K-dim (N, C, d)")
        yield S(logits(g, 2, 3, 2, 2), g.index(3, 2, 2, 2), kwargs={"reduction": "none"},
                desc="K-dim (N, C, d1, d2), none")
        yield S(logits(g, 5), np.array(3), desc="unbatched")
    return samples


def _ce_samples(g):
    yield from _class_loss_samples(lambda g, *s: 2 * g.randn(*s))(g)
    yield S(g.randn(4, 5), g.index(5, 4), kwargs={"label_smoothing": 0.1}, desc="smoothing")
    t = g.index(5, 6)
    t[2] = -100
    yield S(g.randn(6, 5), t, g.uniform(5, low=0.2, high=2.0),
            kwargs={"_n": 2, "label_smoothing": 0.2}, requires_grad=[True, False, False],
            desc="smoothing, weight, ignore_index")
    yield S(g.randn(6, 5), t, kwargs={"label_smoothing": 0.3, "reduction": "none"},
            desc="smoothing, ignore_index, none")
    # Probability targets (the target gets a gradient too).
    yield S(g.randn(4, 5), g.probs(4, 5), desc="probabilities")
    yield S(g.randn(4, 5), g.probs(4, 5), g.uniform(5, low=0.2, high=2.0),
            kwargs={"_n": 2, "label_smoothing": 0.1}, requires_grad=[True, True, False],
            desc="probabilities, weight, smoothing")
    yield S(g.randn(2, 3, 4), g.probs(2, 3, 4, axis=1), kwargs={"reduction": "none"},
            desc="probabilities, K-dim, none")
    yield S(g.randn(5), g.probs(5), kwargs={"reduction": "sum"}, desc="probabilities, unbatched")
    yield S(30 * g.randn(3, 4), g.index(4, 3), desc="large logits")
    yield S(g.randn(2, 3), np.array([-100, -100]), fd=False,
            desc="every target ignored (nan loss, zero gradient)")


_nn("cross_entropy", _F("cross_entropy", ("weight",)), _ce_samples)
_nn("nll_loss", _F("nll_loss", ("weight",)),
    _class_loss_samples(lambda g, *s: -g.pos(*s, low=0.1, high=3.0)))


def _regression_samples(g):
    for red in ("mean", "sum", "none"):
        yield S(g.randn(3, 4), g.randn(3, 4), kwargs={"reduction": red})
    yield S(g.randn(), g.randn(), desc="0-d")
    yield S(g.randn(2, 3, 2), g.randn(2, 3, 2), requires_grad=[True, False], desc="fixed target")


_nn("mse_loss", _F("mse_loss"), _regression_samples)
_nn("l1_loss", _F("l1_loss"), _regression_samples)


def _bce_samples(g):
    p = lambda *s: g.uniform(*s, low=0.05, high=0.95)  # noqa: E731
    for red in ("mean", "sum", "none"):
        yield S(p(3, 4), g.uniform(3, 4), kwargs={"reduction": red})
    yield S(p(3, 4), g.uniform(3, 4), g.uniform(3, 4, low=0.5, high=2.0), kwargs={"_n": 2},
            requires_grad=[True, True, False], desc="weight")
    yield S(p(3, 4), g.uniform(3, 4), g.uniform(4, low=0.5, high=2.0),
            kwargs={"_n": 2, "reduction": "none"}, requires_grad=[True, True, False],
            desc="broadcast weight, none")
    yield S(p(5), (g.uniform(5) > 0.5).astype(np.float64), requires_grad=[True, False],
            desc="hard labels")
    yield S(p(), g.uniform(), desc="0-d")


_nn("binary_cross_entropy", _F("binary_cross_entropy", ("weight",)), _bce_samples)


def _bce_logits_samples(g):
    for red in ("mean", "sum", "none"):
        yield S(2 * g.randn(3, 4), g.uniform(3, 4), kwargs={"reduction": red})
    yield S(g.randn(3, 4), g.uniform(3, 4), g.uniform(3, 4, low=0.5, high=2.0),
            kwargs={"_n": 2}, requires_grad=[True, True, False], desc="weight")
    yield S(g.randn(3, 4), g.uniform(3, 4), g.uniform(4, low=0.5, high=3.0),
            kwargs={"_n": 2, "_keys": "pos_weight"}, requires_grad=[True, True, False],
            desc="pos_weight")
    yield S(g.randn(3, 4), g.uniform(3, 4), g.uniform(4, low=0.5, high=2.0),
            g.uniform(4, low=0.5, high=3.0), kwargs={"_n": 2, "reduction": "sum"},
            requires_grad=[True, True, False, False], desc="weight and pos_weight")
    yield S(np.array([-60.0, -20.0, 0.5, 20.0, 60.0]), np.array([1.0, 0.0, 0.3, 1.0, 0.0]),
            desc="extreme logits")


def _bce_logits(lib, x, y, *extra, _n=2, _keys=None, **kw):
    keys = ("pos_weight",) if _keys == "pos_weight" else ("weight", "pos_weight")
    for key, value in zip(keys, extra):
        kw[key] = value
    return lib.nn.functional.binary_cross_entropy_with_logits(x, y, **kw)


_nn("binary_cross_entropy_with_logits", _bce_logits, _bce_logits_samples)


# ----------------------------------------------------------------------------------------------
# Convolutions (inputs (N, C, *spatial); weights (C_out, C_in/groups, *k), transposed
# (C_in, C_out/groups, *k))
# ----------------------------------------------------------------------------------------------
def _conv1d_samples(g):
    yield S(g.randn(2, 3, 7), g.randn(4, 3, 3), g.randn(4))
    yield S(g.randn(2, 3, 7), g.randn(4, 3, 3), g.randn(4), kwargs={"stride": 2, "padding": 1})
    yield S(g.randn(1, 2, 9), g.randn(3, 2, 3), kwargs={"dilation": 2, "padding": 2},
            desc="dilation, no bias")
    yield S(g.randn(2, 4, 6), g.randn(6, 2, 3), g.randn(6), kwargs={"groups": 2})
    yield S(g.randn(2, 3, 8), g.randn(6, 1, 3), g.randn(6),
            kwargs={"groups": 3, "stride": 2, "padding": 1}, desc="depthwise, multiplier 2")
    yield S(g.randn(3, 7), g.randn(2, 3, 3), g.randn(2), desc="batch-less")
    yield S(g.randn(2, 2, 5), g.randn(3, 2, 1), kwargs={"stride": 3}, desc="1x1 kernel, stride")
    yield S(g.randn(1, 2, 6), g.randn(2, 2, 4), kwargs={"padding": "same"}, desc="'same', even k")
    yield S(g.randn(2, 3, 7), g.randn(4, 3, 3), g.randn(4), requires_grad=[False, True, True],
            desc="weights only")


def _conv2d_samples(g):
    yield S(g.randn(2, 2, 5, 5), g.randn(3, 2, 3, 3), g.randn(3))
    yield S(g.randn(1, 2, 6, 5), g.randn(3, 2, 3, 2), g.randn(3),
            kwargs={"stride": (2, 1), "padding": (1, 0)})
    yield S(g.randn(1, 1, 7, 7), g.randn(2, 1, 3, 3), kwargs={"dilation": 2, "padding": 1},
            desc="dilation, no bias")
    yield S(g.randn(1, 4, 4, 4), g.randn(4, 2, 3, 3), g.randn(4), kwargs={"groups": 2})
    yield S(g.randn(1, 4, 12, 12), g.randn(4, 2, 3, 3), g.randn(4),
            kwargs={"groups": 2, "padding": 1}, desc="groups, shifted products per group")
    yield S(g.randn(2, 3, 6, 6), g.randn(3, 1, 3, 3), g.randn(3), kwargs={"groups": 3,
            "padding": 1}, desc="depthwise")
    yield S(g.randn(1, 2, 7, 7), g.randn(2, 1, 3, 3), kwargs={"groups": 2, "stride": 2,
            "dilation": 2, "padding": 2}, desc="depthwise, stride and dilation")
    yield S(g.randn(8, 2, 4, 4), g.randn(3, 2, 3, 3), g.randn(3),
            desc="many small planes (batch last)")
    yield S(g.randn(2, 5, 5), g.randn(2, 2, 3, 3), g.randn(2), desc="batch-less")
    yield S(g.randn(1, 2, 5, 4), g.randn(2, 2, 2, 3), kwargs={"padding": "same"}, desc="'same'")
    yield S(g.randn(1, 2, 4, 4), g.randn(3, 2, 4, 4), g.randn(3), desc="kernel = input")
    yield S(g.randn(0, 2, 5, 5), g.randn(3, 2, 3, 3), g.randn(3), kwargs={"padding": 1},
            desc="empty batch")
    yield S(g.randn(2, 3, 6, 6), g.randn(4, 3, 1, 1), g.randn(4), kwargs={"stride": 2},
            desc="1x1 kernel, stride 2")


def _conv_transpose1d_samples(g):
    yield S(g.randn(2, 3, 5), g.randn(3, 2, 3), g.randn(2))
    yield S(g.randn(2, 3, 5), g.randn(3, 2, 3), g.randn(2),
            kwargs={"stride": 2, "padding": 1, "output_padding": 1})
    yield S(g.randn(1, 2, 4), g.randn(2, 3, 3), kwargs={"dilation": 2}, desc="dilation, no bias")
    yield S(g.randn(1, 4, 5), g.randn(4, 1, 3), g.randn(2), kwargs={"groups": 2})
    yield S(g.randn(3, 5), g.randn(3, 2, 2), g.randn(2), kwargs={"stride": 2},
            desc="batch-less")


def _conv_transpose2d_samples(g):
    yield S(g.randn(2, 2, 3, 3), g.randn(2, 3, 3, 3), g.randn(3))
    yield S(g.randn(1, 2, 3, 4), g.randn(2, 2, 3, 2), g.randn(2),
            kwargs={"stride": (2, 1), "padding": (1, 0), "output_padding": (1, 0)})
    yield S(g.randn(1, 2, 3, 3), g.randn(2, 1, 2, 2), kwargs={"dilation": 2, "stride": 2},
            desc="dilation, stride, no bias")
    yield S(g.randn(1, 4, 3, 3), g.randn(4, 1, 3, 3), g.randn(2), kwargs={"groups": 2})
    yield S(g.randn(1, 3, 3, 3), g.randn(3, 1, 3, 3), g.randn(3),
            kwargs={"groups": 3, "stride": 2}, desc="depthwise")
    yield S(g.randn(2, 3, 3), g.randn(2, 2, 2, 2), g.randn(2), kwargs={"stride": 2},
            desc="batch-less")
    yield S(g.randn(0, 2, 3, 3), g.randn(2, 3, 3, 3), g.randn(3), kwargs={"stride": 2},
            desc="empty batch")
    yield S(g.randn(1, 2, 3, 3), g.randn(2, 2, 3, 3), g.randn(2),
            kwargs={"dilation": 2, "output_padding": 1}, desc="output_padding < dilation")


_nn("conv1d", _F("conv1d"), _conv1d_samples)
_nn("conv2d", _F("conv2d"), _conv2d_samples)
def _ops_conv(name):
    """minigrad.ops.conv.<name> (3-d convolutions are not exported in nn.functional yet)."""
    def f(lib, *inputs, **kw):
        if lib.__name__ == "minigrad":
            return getattr(conv_ops, name)(*inputs, **kw)
        return getattr(lib.nn.functional, name)(*inputs, **kw)
    return f


_nn("conv3d", _ops_conv("conv3d"),
    lambda g: iter([S(g.randn(1, 2, 3, 4, 3), g.randn(2, 2, 2, 3, 2), g.randn(2),
                      kwargs={"padding": (1, 0, 1)}),
                    S(g.randn(2, 4, 3, 3), g.randn(2, 2, 2, 2, 2), kwargs={"stride": 2},
                      desc="batch-less, stride")]),
    requires=(("minigrad.ops.conv", "conv3d"),))
_nn("conv_transpose3d", _ops_conv("conv_transpose3d"),
    lambda g: iter([S(g.randn(1, 2, 2, 3, 2), g.randn(2, 2, 2, 2, 2), g.randn(2),
                      kwargs={"stride": 2, "padding": (1, 0, 0), "output_padding": (1, 0, 1)})]),
    requires=(("minigrad.ops.conv", "conv_transpose3d"),))
_nn("conv_transpose1d", _F("conv_transpose1d"), _conv_transpose1d_samples)
_nn("conv_transpose2d", _F("conv_transpose2d"), _conv_transpose2d_samples)
