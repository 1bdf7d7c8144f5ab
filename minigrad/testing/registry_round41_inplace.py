"""Registry entries of round 41, part B: in-place forms that had no entry, each written into
a non-leaf copy of its input (``y = x * 1.0``) and, where a sample says ``view``, into a slice
of one (which rebases the copy's history), as registry_round7_inplace.py does: the Tensor
methods ``add_``, ``index_add_``, ``scatter_reduce_``, ``clamp_``, ``fill_``, ``lerp_``...,
the torch namespace's in-place unary functions (``torch.acos_``, ``torch.trunc_``...) and
their methods, and nn.functional's in-place activations (``elu_``, ``hardtanh_``...).
Imported by registry_round41.py.
"""
from __future__ import annotations

import numpy as np

from .opinfo import Sample as S, register


# in-place methods, written into a non-leaf copy as registry_round7_inplace does
def _into_copy(method):
    def f(lib, x, *args, view=False, **options):
        y = x * 1.0
        getattr(y[1:] if view else y, method)(*args, **options)
        return y
    return f


register("Tensor.index_add_", _into_copy("index_add_"),
         lambda g: [S(g.randn(4, 3), 0, np.array([0, 2, 0]), g.randn(3, 3)),
                    S(g.randn(4, 3), -1, np.array([1]), g.randn(4, 1), kwargs={"alpha": 2.5},
                      desc="negative dim, alpha"),
                    S(g.randn(4, 3), 1, np.array([2, 0]), g.randn(3, 2),
                      kwargs={"view": True}, desc="into a view")])
register("Tensor.addcdiv_", _into_copy("addcdiv_"),
         lambda g: [S(g.randn(3, 4), g.randn(3, 4), g.away(4)),
                    S(g.randn(3, 4), g.randn(1, 4), g.away(3, 1), kwargs={"value": 0.5},
                      desc="broadcasting, value")])
register("Tensor.masked_fill_", _into_copy("masked_fill_"),
         lambda g: [S(g.randn(3, 4), np.array([True, False, True, False]), 2.0),
                    S(g.randn(3, 4), np.array([[True], [False]]), g.randn(),
                      kwargs={"view": True}, desc="a 0-d tensor value into a view")])
register("Tensor.copy_", _into_copy("copy_"),
         lambda g: [S(g.randn(3, 4), g.randn(4), desc="broadcast source"),
                    S(g.randn(3, 4), g.randn(2, 4), kwargs={"view": True},
                      desc="into a view")])


# more in-place methods, into a non-leaf copy (and a view of one)
for _method, _samples in {
        "add_": lambda g: [S(g.randn(3, 4), g.randn(4), kwargs={"alpha": -1.5}),
                           S(g.randn(3, 4), g.randn(2, 4), kwargs={"view": True})],
        "sub_": lambda g: [S(g.randn(3, 4), g.randn(3, 1), kwargs={"alpha": 2.0})],
        "div_": lambda g: [S(g.randn(3, 4), g.away(4)), S(g.randn(3, 4), g.away(2, 1),
                                                         kwargs={"view": True})],
        "pow_": lambda g: [S(g.pos(3, 4), 2.5), S(g.pos(3, 4), g.randn(4), desc="tensor exponent")],
        "remainder_": lambda g: [S(g.uniform(3, 4, low=0.1, high=0.9) + 2, 1.0)],
        "copysign_": lambda g: [S(g.away(3, 4), g.away(4))],
        "addcmul_": lambda g: [S(g.randn(3, 4), g.randn(3, 4), g.randn(4),
                                 kwargs={"value": -0.5})],
        "addmv_": lambda g: [S(g.randn(3), g.randn(3, 4), g.randn(4),
                               kwargs={"beta": 0.5, "alpha": 2.0})],
        "addr_": lambda g: [S(g.randn(3, 4), g.randn(3), g.randn(4))],
        "addbmm_": lambda g: [S(g.randn(3, 4), g.randn(2, 3, 2), g.randn(2, 2, 4))],
        "clamp_": lambda g: [S(g.distinct(3, 4), -0.3, 0.4),
                             S(g.distinct(3, 4), g.randn(4) - 1, g.randn(4) + 1,
                               desc="tensor bounds")],
        "digamma_": lambda g: [S(g.pos(3, 4))],
        "erfinv_": lambda g: [S(g.uniform(3, 4, low=-0.9, high=0.9))],
        "i0_": lambda g: [S(g.randn(3, 4))],
        "mvlgamma_": lambda g: [S(g.pos(3, 4, low=1.5, high=3.0), 2)],
        "polygamma_": lambda g: [S(g.pos(3, 4), 1)],
        "sgn_": lambda g: [S(g.away(3, 4))],
        "nan_to_num_": lambda g: [S(g.randn(3, 4), kwargs={"nan": 0.5})],
        "tril_": lambda g: [S(g.randn(4, 4), -1), S(g.randn(3, 4), 1, kwargs={"view": True})],
        "triu_": lambda g: [S(g.randn(4, 4), 1)],
        "zero_": lambda g: [S(g.randn(3, 4)), S(g.randn(3, 4), kwargs={"view": True})],
        "fill_": lambda g: [S(g.randn(3, 4), g.randn(), desc="0-d tensor value"),
                            S(g.randn(3, 4), 1.5, kwargs={"view": True})],
        "index_copy_": lambda g: [S(g.randn(4, 3), 0, np.array([2, 0]), g.randn(2, 3)),
                                  S(g.randn(4, 3), -1, np.array([1]), g.randn(4, 1))],
        "index_fill_": lambda g: [S(g.randn(4, 3), 1, np.array([0, 2]), -1.0),
                                  S(g.randn(4, 3), 0, np.array([1]), g.randn(),
                                    desc="0-d tensor value")],
        "scatter_": lambda g: [S(g.randn(3, 4), 1, np.array([[0, 2], [1, 3], [3, 0]]),
                                 g.randn(3, 2))],
        "scatter_add_": lambda g: [S(g.randn(3, 4), 1, np.array([[0, 0], [1, 3], [3, 3]]),
                                     g.randn(3, 2))],
        "scatter_reduce_": lambda g: [S(g.randn(3, 4), 0, np.array([[0, 2, 1, 0]]),
                                        g.randn(1, 4), "sum"),
                                      S(g.randn(3, 4), 1, np.array([[0, 0], [1, 3], [3, 3]]),
                                        g.randn(3, 2), "mean", desc="mean")],
}.items():
    register(f"Tensor.{_method}", _into_copy(_method), _samples)
del _method, _samples

register("torch.addmv_", lambda lib, v, m, w: lib.addmv_(v * 1.0, m, w),
         lambda g: [S(g.randn(3), g.randn(3, 4), g.randn(4))])
register("torch.nan_to_num_", lambda lib, x: lib.nan_to_num_(x * 1.0, posinf=3.0),
         lambda g: [S(g.randn(3, 4))])


# the in-place unary functions of the torch namespace (and their Tensor methods), written into
# a non-leaf copy, on inputs in their domains
def _unary_inplace(space, name):
    def f(lib, x):
        y = x * 1.0
        getattr(lib, name)(y) if space == "torch" else getattr(y, name)()
        return y
    return f


_IN_DOMAIN = {
    "unit": lambda g, *s: g.uniform(*s, low=-0.85, high=0.85),
    "above_one": lambda g, *s: g.pos(*s, low=1.2, high=3.0),
    "pos": lambda g, *s: g.pos(*s),
    "away": lambda g, *s: g.away(*s),
    "any": lambda g, *s: g.randn(*s),
    "off_grid": lambda g, *s: g.uniform(*s, low=0.1, high=0.4) + g.ties(*s),
}
_TORCH_NO_INPLACE_GRAD = {"acosh_", "arccosh_", "asinh_", "arcsinh_", "atanh_", "arctanh_"}
for _name, _domain in {
        "abs_": "away", "acos_": "unit", "acosh_": "above_one", "arccos_": "unit",
        "arccosh_": "above_one", "arcsin_": "unit", "arcsinh_": "any", "arctan_": "any",
        "arctanh_": "unit", "asinh_": "any", "atan_": "any", "atanh_": "unit",
        "conj_physical_": "any", "cos_": "any", "cosh_": "any", "deg2rad_": "any",
        "erfc_": "any", "exp2_": "any", "log10_": "pos", "log1p_": "pos", "log2_": "pos",
        "neg_": "any", "negative_": "any", "rad2deg_": "any", "rsqrt_": "pos", "sinc_": "away",
        "sinh_": "any", "tan_": "unit", "ceil_": "off_grid", "floor_": "off_grid",
        "fix_": "off_grid", "frac_": "off_grid", "round_": "off_grid", "trunc_": "off_grid",
        "relu_": "away", "selu_": "away", "celu_": "away"}.items():
    def _samples(g, domain=_IN_DOMAIN[_domain]):
        return [S(domain(g, 3, 4)), S(domain(g), desc="0-d"), S(domain(g, 0, 3), desc="empty")]
    # torch has no derivative of the in-place inverse hyperbolic functions ("the derivative
    # for 'inplace version of acosh' is not implemented"); minigrad has: torch's side is then
    # the out-of-place function
    _theirs = (lambda torch, x, name=_name: getattr(torch, name[:-1])(x * 1.0)) \
        if _name in _TORCH_NO_INPLACE_GRAD else None
    register(f"torch.{_name}", _unary_inplace("torch", _name), _samples, torch_f=_theirs)
    if _name not in ("relu_", "selu_", "celu_"):
        register(f"Tensor.{_name}", _unary_inplace("Tensor", _name), _samples, torch_f=_theirs)
del _name, _domain, _samples, _theirs

register("Tensor.absolute_", _unary_inplace("Tensor", "absolute_"),
         lambda g: [S(g.away(3, 4))])
register("torch.clamp_min_", lambda lib, x, m: lib.clamp_min_(x * 1.0, m),
         lambda g: [S(g.distinct(3, 4), 0.05), S(g.distinct(3, 4), g.randn(4), desc="tensor")])
register("torch.clamp_max_", lambda lib, x, m: lib.clamp_max_(x * 1.0, m),
         lambda g: [S(g.distinct(3, 4), 0.05)])
register("torch.clip_", lambda lib, x: lib.clip_(x * 1.0, -0.33, 0.27),
         lambda g: [S(g.distinct(3, 4))])
for _method, _samples in {
        "clamp_min_": lambda g: [S(g.distinct(3, 4), -0.15)],
        "clamp_max_": lambda g: [S(g.distinct(3, 4), g.randn(3, 1), desc="tensor bound")],
        "clip_": lambda g: [S(g.distinct(3, 4), -0.33, 0.27)],
        "multiply_": lambda g: [S(g.randn(3, 4), g.randn(4))],
        "subtract_": lambda g: [S(g.randn(3, 4), g.randn(4), kwargs={"alpha": 0.5})],
        "divide_": lambda g: [S(g.randn(3, 4), g.away(4))],
        "true_divide_": lambda g: [S(g.randn(3, 4), g.away(3, 1))],
        "arctan2_": lambda g: [S(g.randn(3, 4), g.away(4))],
        "lerp_": lambda g: [S(g.randn(3, 4), g.randn(4), 0.3),
                            S(g.randn(3, 4), g.randn(3, 4), g.uniform(4), desc="tensor weight")],
        "swapaxes_": lambda g: [S(g.randn(2, 3, 4), 0, -1)],
        "swapdims_": lambda g: [S(g.randn(2, 3), 1, 0)],
}.items():
    register(f"Tensor.{_method}", _into_copy(_method), _samples)
del _method, _samples

# nn.functional's in-place activations
for _name, _samples in {
        "elu_": lambda g: [S(g.away(3, 4), kwargs={"alpha": 0.7})],
        "celu_": lambda g: [S(g.away(3, 4), kwargs={"alpha": 1.3})],
        "selu_": lambda g: [S(g.away(3, 4))],
        "relu_": lambda g: [S(g.away(3, 4))],
        "leaky_relu_": lambda g: [S(g.away(3, 4), kwargs={"negative_slope": 0.2})],
        "hardtanh_": lambda g: [S(g.away(3, 4) * 0.4, kwargs={"min_val": -0.5, "max_val": 0.6})],
        "threshold_": lambda g: [S(g.distinct(3, 4), 0.05, -2.0)],
        "rrelu_": lambda g: [S(g.away(3, 4), kwargs={"lower": 0.1, "upper": 0.3})],
}.items():
    register(f"F.{_name}", lambda lib, x, *a, name=_name, **k: getattr(
        lib.nn.functional, name)(x * 1.0, *a, **k), _samples, family="nn")
del _name, _samples
