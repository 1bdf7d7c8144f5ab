"""Registry entries for ``nn.functional``: linear, losses, dropout, convolution, pooling, batch norm.

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


# ----------------------------------------------------------------------------------------------
# Pooling
# ----------------------------------------------------------------------------------------------
def _max_pool1d_samples(g):
    yield S(g.distinct(2, 3, 8), kwargs={"kernel_size": 2})
    yield S(g.distinct(2, 2, 9), kwargs={"kernel_size": 3, "stride": 2, "padding": 1})
    yield S(g.distinct(1, 2, 9), kwargs={"kernel_size": 2, "dilation": 2})
    yield S(g.distinct(1, 2, 8), kwargs={"kernel_size": 3, "stride": 2, "ceil_mode": True})
    yield S(g.distinct(3, 8), kwargs={"kernel_size": 2, "stride": 1}, desc="batch-less, overlap")
    yield S(g.ties(2, 2, 8, low=0, high=1), kwargs={"kernel_size": 3, "stride": 1}, fd=False,
            desc="ties (first index in the window wins)")
    yield S(-g.pos(1, 1, 5), kwargs={"kernel_size": 2, "stride": 2, "padding": 1},
            desc="negative values next to padding")
    yield S(g.ties(1, 2, 7, low=0, high=1), kwargs={"kernel_size": 3, "stride": 2,
                                                    "return_indices": True},
            fd=False, desc="return_indices, ties")


def _max_pool2d_samples(g):
    yield S(g.distinct(2, 2, 6, 6), kwargs={"kernel_size": 2})
    yield S(g.distinct(1, 2, 7, 6), kwargs={"kernel_size": (3, 2), "stride": (2, 1),
                                            "padding": 1})
    yield S(g.distinct(1, 1, 7, 7), kwargs={"kernel_size": 2, "dilation": 2})
    yield S(g.distinct(1, 2, 7, 7), kwargs={"kernel_size": 2, "ceil_mode": True})
    yield S(g.distinct(1, 1, 8, 8), kwargs={"kernel_size": 3, "stride": 2, "padding": 1,
                                            "ceil_mode": True})
    yield S(g.distinct(2, 5, 5), kwargs={"kernel_size": 3, "stride": 1}, desc="batch-less")
    yield S(g.ties(1, 2, 5, 5, low=0, high=1), kwargs={"kernel_size": 2, "stride": 1},
            fd=False, desc="ties")
    yield S(g.distinct(1, 2, 6, 5), kwargs={"kernel_size": 3, "stride": 2, "padding": 1,
                                            "return_indices": True}, desc="return_indices")


def _avg_pool1d_samples(g):
    yield S(g.randn(2, 3, 8), kwargs={"kernel_size": 2})
    yield S(g.randn(2, 2, 9), kwargs={"kernel_size": 3, "stride": 2, "padding": 1})
    yield S(g.randn(2, 2, 9), kwargs={"kernel_size": 3, "stride": 2, "padding": 1,
                                      "count_include_pad": False})
    yield S(g.randn(1, 2, 8), kwargs={"kernel_size": 3, "stride": 2, "ceil_mode": True})
    yield S(g.randn(1, 2, 8), kwargs={"kernel_size": 3, "stride": 2, "padding": 1,
                                      "ceil_mode": True, "count_include_pad": False})
    yield S(g.randn(3, 7), kwargs={"kernel_size": 2, "stride": 1}, desc="batch-less")


def _avg_pool2d_samples(g):
    yield S(g.randn(2, 2, 6, 6), kwargs={"kernel_size": 2})
    yield S(g.randn(1, 2, 7, 6), kwargs={"kernel_size": (3, 2), "stride": (2, 1), "padding": 1})
    yield S(g.randn(1, 2, 7, 6), kwargs={"kernel_size": (3, 2), "stride": (2, 1), "padding": 1,
                                         "count_include_pad": False})
    yield S(g.randn(1, 1, 7, 7), kwargs={"kernel_size": 2, "ceil_mode": True})
    yield S(g.randn(1, 1, 8, 8), kwargs={"kernel_size": 3, "stride": 2, "padding": 1,
                                         "ceil_mode": True, "count_include_pad": False})
    yield S(g.randn(2, 5, 5), kwargs={"kernel_size": 3, "stride": 1}, desc="batch-less")
    yield S(g.randn(1, 2, 5, 5), kwargs={"kernel_size": 2, "padding": 1, "divisor_override": 3})


def _adaptive_samples(g):
    yield S(g.randn(2, 3, 6, 6), kwargs={"output_size": (2, 2)})
    yield S(g.randn(1, 2, 5, 7), kwargs={"output_size": (3, 4)}, desc="uneven windows")
    yield S(g.randn(1, 2, 4, 4), kwargs={"output_size": 1}, desc="global")
    yield S(g.randn(2, 5, 5), kwargs={"output_size": 3}, desc="batch-less")
    yield S(g.randn(1, 1, 3, 3), kwargs={"output_size": (5, 4)}, desc="output > input")


_nn("max_pool1d", _F("max_pool1d"), _max_pool1d_samples)
_nn("max_pool2d", _F("max_pool2d"), _max_pool2d_samples)
_nn("avg_pool1d", _F("avg_pool1d"), _avg_pool1d_samples)
_nn("avg_pool2d", _F("avg_pool2d"), _avg_pool2d_samples)
_nn("adaptive_avg_pool1d", _F("adaptive_avg_pool1d"), lambda g: iter([
    S(g.randn(2, 3, 7), kwargs={"output_size": 3}), S(g.randn(3, 6), kwargs={"output_size": 2})]))
_nn("adaptive_avg_pool2d", _F("adaptive_avg_pool2d"), _adaptive_samples)


def _adaptive_max_samples(g, nd):
    s = (5, 7)[:nd] if nd == 2 else (7,)
    yield S(g.distinct(2, 3, *(6,) * nd), kwargs={"output_size": 3}, desc="equal windows")
    yield S(g.distinct(1, 2, *s), kwargs={"output_size": (3, 4)[:nd]}, desc="uneven windows")
    yield S(g.distinct(2, *(5,) * nd), kwargs={"output_size": 3}, desc="batch-less, overlap")
    yield S(g.distinct(1, 1, *(3,) * nd), kwargs={"output_size": 5}, desc="output > input")
    yield S(g.ties(1, 2, *s, low=0, high=1), kwargs={"output_size": 3, "return_indices": True},
            fd=False, desc="return_indices, ties")
    yield S(g.randn(0, 2, *s), kwargs={"output_size": 3}, desc="empty batch")


def _max_pool3d_samples(g):
    yield S(g.distinct(1, 2, 4, 4, 4), kwargs={"kernel_size": 2})
    yield S(g.distinct(1, 2, 5, 4, 5), kwargs={"kernel_size": (3, 2, 2), "stride": (2, 1, 2),
                                               "padding": (1, 0, 1)})
    yield S(g.distinct(2, 5, 5, 4), kwargs={"kernel_size": 2, "stride": 1, "dilation": (2, 1, 1),
                                            "ceil_mode": True}, desc="batch-less, dilation")
    yield S(g.ties(1, 1, 4, 4, 4, low=0, high=1), kwargs={"kernel_size": 2, "stride": 1,
                                                         "return_indices": True},
            fd=False, desc="return_indices, ties")


def _avg_pool3d_samples(g):
    yield S(g.randn(1, 2, 4, 4, 4), kwargs={"kernel_size": 2})
    yield S(g.randn(1, 2, 5, 4, 5), kwargs={"kernel_size": (3, 2, 2), "stride": (2, 1, 2),
                                            "padding": (1, 0, 1), "count_include_pad": False})
    yield S(g.randn(2, 5, 5, 4), kwargs={"kernel_size": 3, "stride": 2, "padding": 1,
                                         "ceil_mode": True}, desc="batch-less, ceil_mode")
    yield S(g.randn(1, 1, 4, 4, 4), kwargs={"kernel_size": 2, "padding": 1,
                                            "divisor_override": 3})


_nn("adaptive_max_pool1d", _F("adaptive_max_pool1d"), lambda g: _adaptive_max_samples(g, 1))
_nn("adaptive_max_pool2d", _F("adaptive_max_pool2d"), lambda g: _adaptive_max_samples(g, 2))
_nn("max_pool3d", _F("max_pool3d"), _max_pool3d_samples)
_nn("avg_pool3d", _F("avg_pool3d"), _avg_pool3d_samples)


def _adaptive_avg3d_samples(g):
    yield S(g.randn(1, 2, 4, 6, 4), kwargs={"output_size": 2})
    yield S(g.randn(1, 2, 5, 4, 7), kwargs={"output_size": (2, 3, 4)}, desc="uneven windows")
    yield S(g.randn(2, 3, 5, 4), kwargs={"output_size": (None, 2, 3)}, desc="batch-less, None")
    yield S(g.randn(1, 1, 2, 3, 2), kwargs={"output_size": (3, 4, 3)}, desc="output > input")


def _adaptive_max3d_samples(g):
    yield S(g.distinct(1, 2, 4, 6, 4), kwargs={"output_size": 2}, desc="equal windows")
    yield S(g.distinct(1, 2, 5, 4, 7), kwargs={"output_size": (2, 3, 4)}, desc="uneven windows")
    yield S(g.distinct(2, 5, 4, 5), kwargs={"output_size": (3, None, 2)}, desc="batch-less")
    yield S(g.ties(1, 1, 4, 3, 5, low=0, high=1),
            kwargs={"output_size": (2, 2, 3), "return_indices": True}, fd=False,
            desc="return_indices, ties")


def _lp_pool_samples(nd):
    def samples(g):
        s = (7, 6, 5)[:nd]
        # positive inputs: x^p of a negative x is nan for a fractional p (in both libraries)
        yield S(g.pos(2, 3, *s), kwargs={"norm_type": 2, "kernel_size": 2})
        yield S(g.pos(1, 2, *s), kwargs={"norm_type": 1.5, "kernel_size": 3, "stride": 2,
                                         "ceil_mode": True}, desc="p 1.5, ceil_mode")
        yield S(g.randn(2, *s), kwargs={"norm_type": 3, "kernel_size": 2, "stride": 1},
                desc="batch-less, p 3 (negative sums: nan)", fd=False)
    return samples


_nn("adaptive_avg_pool3d", _F("adaptive_avg_pool3d"), _adaptive_avg3d_samples)
_nn("adaptive_max_pool3d", _F("adaptive_max_pool3d"), _adaptive_max3d_samples)
for _nd in (1, 2, 3):
    _nn(f"lp_pool{_nd}d", _F(f"lp_pool{_nd}d"), _lp_pool_samples(_nd))


# ----------------------------------------------------------------------------------------------
# Batch norm: F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum,
# eps); the running statistics are inputs without gradient (updated in training mode).
# ----------------------------------------------------------------------------------------------
def _batch_norm_samples(g):
    def stats(c):
        return g.randn(c) * 0.1, g.pos(c)
    rm, rv = stats(3)
    yield S(g.randn(4, 3), rm, rv, g.pos(3), g.randn(3), kwargs={"training": True},
            requires_grad=[True, False, False, True, True], desc="(N, C), training")
    rm, rv = stats(3)
    yield S(g.randn(2, 3, 2, 2), rm, rv, g.pos(3), g.randn(3), kwargs={"training": True},
            requires_grad=[True, False, False, True, True], desc="(N, C, H, W), training")
    rm, rv = stats(2)
    yield S(g.randn(2, 2, 3), rm, rv, kwargs={"training": True, "eps": 1e-3},
            requires_grad=[True, False, False], desc="(N, C, L), no affine")
    rm, rv = stats(3)
    yield S(g.randn(4, 3), rm, rv, g.pos(3), g.randn(3), kwargs={"training": False},
            requires_grad=[True, False, False, True, True], desc="eval")
    rm, rv = stats(3)
    yield S(g.randn(2, 3, 2, 2), rm, rv, g.pos(3), g.randn(3),
            kwargs={"training": False, "momentum": 0.3},
            requires_grad=[True, False, False, True, True], desc="(N, C, H, W), eval")
    rm, rv = stats(2)
    yield S(g.randn(2, 2, 2, 2, 2), rm, rv, g.pos(2), g.randn(2), kwargs={"training": True},
            requires_grad=[True, False, False, True, True], desc="(N, C, D, H, W), training")
    rm, rv = stats(3)
    yield S(g.randn(3, 3), rm, rv, g.pos(3), kwargs={"training": True},
            requires_grad=[True, False, False, False], desc="weight without gradient, no bias")
    rm, rv = stats(3)
    yield S(g.randn(3, 3, 2), rm, rv, g.pos(3), g.randn(3), kwargs={"training": True},
            requires_grad=[False, False, False, True, True], desc="affine only")


def _batch_norm_stats_samples(g):
    """The running statistics after the call, compared with torch's (no finite differences:
    every training-mode call moves them)."""
    def stats(c):
        return g.randn(c) * 0.1, g.pos(c)
    rm, rv = stats(3)
    yield S(g.randn(4, 3), rm, rv, g.pos(3), g.randn(3),
            kwargs={"training": True, "momentum": 0.2, "return_stats": True}, fd=False,
            requires_grad=[True, False, False, True, True], desc="running stats, training")
    rm, rv = stats(2)
    yield S(g.randn(2, 2, 3, 3), rm, rv, kwargs={"training": False, "return_stats": True},
            fd=False, requires_grad=[True, False, False], desc="running stats, eval")
    yield S(g.randn(5, 3), None, None, g.pos(3), g.randn(3), kwargs={"training": True},
            desc="no running stats")


def _batch_norm(lib, x, rm, rv, *affine, return_stats=False, **kw):
    out = lib.nn.functional.batch_norm(x, rm, rv, *affine, **kw)
    return (out, rm, rv) if return_stats else out


def _all_batch_norm_samples(g):
    yield from _batch_norm_samples(g)
    yield from _batch_norm_stats_samples(g)


_nn("batch_norm", _batch_norm, _all_batch_norm_samples)


# ----------------------------------------------------------------------------------------------
# Activations and normalisation composed from core ops in nn.functional
# ----------------------------------------------------------------------------------------------
def _activation_samples(g):
    yield S(2 * g.randn(3, 4))
    yield S(g.randn())
    yield S(g.randn(2, 0))


def _softplus_samples(g):
    yield S(2 * g.randn(3, 4))
    yield S(g.randn(3, 4), kwargs={"beta": 2.0})
    yield S(np.array([-30.0, -1.0, 0.5, 9.7, 10.3, 40.0]), kwargs={"beta": 2.0, "threshold": 20.0},
            desc="on both sides of the threshold")


def _hardtanh_samples(g):
    yield S(2 * g.randn(3, 4))
    yield S(2 * g.randn(3, 4), kwargs={"min_val": -0.5, "max_val": 1.5})
    yield S(g.ties(3, 4), fd=False, desc="on the bounds")


_nn("silu", _F("silu"), _activation_samples)
_nn("softplus", _F("softplus"), _softplus_samples)
_nn("hardtanh", _F("hardtanh"), _hardtanh_samples)
_nn("relu6", _F("relu6"), lambda g: iter([S(4 * g.randn(3, 4)),
                                          S(g.ties(3, 4, low=-1, high=7), fd=False, desc="ties")]))
_nn("normalize", _F("normalize"), lambda g: iter([
    S(g.randn(3, 4)), S(g.randn(3, 4), kwargs={"dim": 0}),
    S(g.randn(2, 3, 4), kwargs={"p": 1.0, "dim": -1}), S(g.randn(4), kwargs={"dim": 0})]))
