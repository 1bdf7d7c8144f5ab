"""Registry entries for ``nn.functional``, continued from ``registry_nn.py``: pooling (max,
average, adaptive and power-average, 1-3 d), ``batch_norm`` and the activations and
``normalize`` composed from core ops.

As there, the functions are looked up on ``lib.nn.functional`` when a sample runs, never at
import; the helpers (``_F``, ``_nn``) are ``registry_nn.py``'s.
"""
from __future__ import annotations

import numpy as np

from .registry_nn import S, _F, _nn


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
