"""Registry entries added in round 5 of the third-party-code probes (see the entries below).
Checked like every entry: forward, gradients and second derivatives against torch and finite
differences."""
from __future__ import annotations

from .opinfo import Sample, register  # noqa: F401

S = Sample


# ----------------------------------------------------------------------------------------------
# round 6: rms_norm, pdist, triplet_margin_with_distance_loss, fractional max pooling
# ----------------------------------------------------------------------------------------------
F_MODULE = "minigrad.nn.functional"


def _F(name, n_pos=None):
    """``lib.nn.functional.name``, looked up at call time; inputs after ``n_pos`` become the
    keyword arguments named in the sample's ``_kw``."""
    def f(lib, *inputs, _kw=(), **kw):
        n = len(inputs) - len(_kw)
        kw.update(zip(_kw, inputs[n:]))
        return getattr(lib.nn.functional, name)(*inputs[:n], **kw)
    return f


def _nn(name, f, samples, **options):
    options.setdefault("requires", ((F_MODULE, name),))
    register(name, f, samples, family="nn", **options)


def _rms_norm_samples(g):
    yield S(g.randn(3, 4), kwargs={"normalized_shape": (4,)})
    yield S(g.randn(2, 3, 4), kwargs={"normalized_shape": (3, 4), "eps": 1e-3})
    yield S(g.randn(2, 5), g.randn(5), kwargs={"normalized_shape": [5], "_kw": ("weight",)},
            desc="weight")
    yield S(g.randn(4), kwargs={"normalized_shape": [4], "eps": 0.5}, desc="1-d")


_nn("rms_norm", _F("rms_norm"), _rms_norm_samples)


def _pdist_samples(g):
    yield S(g.randn(5, 3))
    yield S(g.randn(4, 3), kwargs={"p": 1.0})
    yield S(g.randn(4, 2), kwargs={"p": 3.0})
    yield S(g.randn(4, 3), kwargs={"p": float("inf")}, fd=False, desc="inf: ties only at 0")
    yield S(g.randn(1, 3), desc="one row: empty")


# PyTorch's pdist has no double backward (its backward is not differentiable)
_nn("pdist", _F("pdist"), _pdist_samples, second_order=False)


def _triplet_distance_samples(g):
    yield S(g.randn(4, 3), g.randn(4, 3), g.randn(4, 3))
    yield S(g.randn(4, 3), g.randn(4, 3), g.randn(4, 3),
            kwargs={"margin": 2.0, "swap": True, "reduction": "sum"})
    yield S(g.randn(5, 2), g.randn(5, 2), g.randn(5, 2), kwargs={"reduction": "none"})


_nn("triplet_margin_with_distance_loss", _F("triplet_margin_with_distance_loss"),
    _triplet_distance_samples)


def _fractional2d_samples(g):
    yield S(g.distinct(2, 3, 7, 8), g.uniform(2, 3, 2),
            kwargs={"kernel_size": 2, "output_size": (3, 4), "_kw": ("_random_samples",)},
            requires_grad=[True, False])
    yield S(g.distinct(3, 9, 6), g.uniform(1, 3, 2),
            kwargs={"kernel_size": (3, 2), "output_ratio": (0.5, 0.5), "_kw": ("_random_samples",)},
            requires_grad=[True, False], desc="batch-less, ratio")


def _fractional3d_samples(g):
    yield S(g.distinct(2, 2, 5, 6, 7), g.uniform(2, 2, 3),
            kwargs={"kernel_size": 2, "output_size": (3, 4, 4), "_kw": ("_random_samples",)},
            requires_grad=[True, False])


_nn("fractional_max_pool2d", _F("fractional_max_pool2d"), _fractional2d_samples)
_nn("fractional_max_pool3d", _F("fractional_max_pool3d"), _fractional3d_samples)
