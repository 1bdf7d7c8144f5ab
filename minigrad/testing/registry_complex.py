"""Registry entries for complex numbers (``ops/complex_numbers.py`` and the complex paths of
the pointwise ops).

The registry's inputs are real float64 arrays, so each entry builds its complex operands
from pairs of real ones (``complex(a, b)``) and returns a real tensor (``view_as_real`` of a
complex result, or a real-valued function of it).  The checks then run unchanged: forward
against torch, every real input's gradient against torch and central differences, and the
second derivative.  Through ``complex(a, b)`` the gradient of a is the real part and that of
b the imaginary part of PyTorch's complex gradient, so both halves of it are checked.
"""
from __future__ import annotations

from .opinfo import Sample, register

S = Sample


def _z(lib, a, b):
    return lib.complex(a, b)


def _two(g, *shape):
    return S(g.randn(*shape), g.randn(*shape))


def _four(g, *shape):
    return S(g.randn(*shape), g.randn(*shape), g.randn(*shape), g.randn(*shape))


# building and taking apart
register("complex", lambda lib, a, b: lib.view_as_real(lib.complex(a, b)),
         lambda g: [_two(g, 3), _two(g, 2, 3), S(g.randn(2, 1), g.randn(3), desc="broadcast")])
register("polar", lambda lib, r, t: lib.view_as_real(lib.polar(r, t)),
         lambda g: [S(g.pos(4), g.randn(4)), S(g.pos(2, 1), g.randn(3), desc="broadcast")])
register("view_as_complex", lambda lib, a: lib.view_as_real(lib.view_as_complex(a) * (1 - 2j)),
         lambda g: [S(g.randn(3, 2)), S(g.randn(2, 3, 2))])
register("complex_parts",
         lambda lib, a, b: lib.stack([_z(lib, a, b).real, _z(lib, a, b).imag,
                                      _z(lib, a, b).abs(), _z(lib, a, b).angle()]),
         lambda g: [S(g.away(5), g.away(5))])
register("sgn_complex", lambda lib, a, b: lib.view_as_real(lib.sgn(_z(lib, a, b))),
         lambda g: [S(g.away(4), g.away(4))])
register("conj_complex",
         lambda lib, a, b: lib.view_as_real(_z(lib, a, b).conj() * _z(lib, b, a)),
         lambda g: [_two(g, 4)])
register("to_real_from_complex",
         lambda lib, a, b: (_z(lib, a, b) * (2 + 1j)).real.to(lib.float64) * 3,
         lambda g: [_two(g, 4)])
register("real_times_complex",
         lambda lib, x, a, b: lib.view_as_real(x * _z(lib, a, b) + x.exp()),
         lambda g: [S(g.randn(3), g.randn(3), g.randn(3))])

# arithmetic
register("complex_add_sub",
         lambda lib, a, b, c, d: lib.view_as_real(_z(lib, a, b) + _z(lib, c, d) * 2
                                                  - (1 + 2j) * _z(lib, c, b)),
         lambda g: [_four(g, 3)])
register("complex_mul", lambda lib, a, b, c, d: lib.view_as_real(_z(lib, a, b) * _z(lib, c, d)),
         lambda g: [_four(g, 4), S(g.randn(2, 1), g.randn(2, 1), g.randn(3), g.randn(3),
                                   desc="broadcast")])
register("complex_div", lambda lib, a, b, c, d: lib.view_as_real(_z(lib, a, b) / _z(lib, c, d)),
         lambda g: [S(g.randn(4), g.randn(4), g.away(4), g.away(4))])
register("complex_pow",
         lambda lib, a, b, c, d: lib.view_as_real(_z(lib, a, b) ** _z(lib, c, d)),
         lambda g: [S(g.pos(4), g.away(4), g.uniform(4, low=0.5, high=1.5),
                      g.uniform(4, low=-0.5, high=0.5))])
register("complex_pow_scalar",
         lambda lib, a, b: lib.view_as_real(_z(lib, a, b) ** 2.5 + _z(lib, a, b) ** 3),
         lambda g: [S(g.pos(4), g.away(4))])

_UNARY = {
    "exp": "randn", "log": "away", "log1p": "away", "sqrt": "away", "sin": "randn",
    "cos": "randn", "tanh": "randn", "sigmoid": "randn", "reciprocal": "away",
    "expm1": "randn", "tan": "randn", "asin": "away", "acos": "away", "atan": "away",
    "sinh": "randn", "cosh": "randn", "asinh": "away", "acosh": "away", "atanh": "away",
    "rsqrt": "away", "square": "randn", "log2": "away", "log10": "away", "exp2": "randn",
    "sinc": "away", "neg": "randn",
}


def _unary(name):
    return lambda lib, a, b: lib.view_as_real(getattr(lib, name)(_z(lib, a, b)))


for _name, _draw in _UNARY.items():
    # "away" keeps both parts off 0 (off every branch cut these functions have on the axes)
    register(f"{_name}_complex", _unary(_name),
             lambda g, draw=_draw: [S(getattr(g, draw)(4), getattr(g, draw)(4))])
del _name, _draw

register("abs_complex", lambda lib, a, b: _z(lib, a, b).abs(),
         lambda g: [S(g.away(4), g.away(4))])
register("lerp_complex",
         lambda lib, a, b, c, d: lib.view_as_real(lib.lerp(_z(lib, a, b), _z(lib, c, d), 0.3)),
         lambda g: [_four(g, 3)])
register("float_power_complex",
         lambda lib, a, b: lib.view_as_real(lib.float_power(_z(lib, a, b), 2)),
         lambda g: [_two(g, 3)])
register("tanhshrink_softsign_complex",
         lambda lib, a, b: lib.view_as_real(
             lib.nn.functional.tanhshrink(_z(lib, a, b)) +
             lib.nn.functional.softsign(_z(lib, a, b))),
         lambda g: [S(g.away(3), g.away(3))])

# convolutions of complex tensors: four real convolutions of the parts (ops/conv.py _by_parts)
register("conv1d_complex",
         lambda lib, a, b, c, d: lib.view_as_real(lib.nn.functional.conv1d(
             _z(lib, a, b), _z(lib, c, d), padding=1)),
         lambda g: [S(g.randn(2, 2, 5), g.randn(2, 2, 5), g.randn(3, 2, 3), g.randn(3, 2, 3))])
register("conv2d_complex",
         lambda lib, a, b, c, d, e, f: lib.view_as_real(lib.nn.functional.conv2d(
             _z(lib, a, b), _z(lib, c, d), _z(lib, e, f), stride=2, groups=2)),
         lambda g: [S(g.randn(1, 4, 5, 5), g.randn(1, 4, 5, 5), g.randn(4, 2, 2, 2),
                      g.randn(4, 2, 2, 2), g.randn(4), g.randn(4))])
register("conv_transpose2d_complex",
         lambda lib, a, b, c, d: lib.view_as_real(lib.nn.functional.conv_transpose2d(
             _z(lib, a, b), _z(lib, c, d), stride=2, padding=1)),
         lambda g: [S(g.randn(1, 2, 3, 3), g.randn(1, 2, 3, 3), g.randn(2, 3, 3, 3),
                      g.randn(2, 3, 3, 3))])
register("logaddexp_complex",
         lambda lib, a, b, c, d: lib.view_as_real(lib.logaddexp(_z(lib, a, b), _z(lib, c, d))),
         lambda g: [S(g.randn(4), g.uniform(4, low=-1, high=1), g.randn(4),
                      g.uniform(4, low=-1, high=1))])
register("logcumsumexp_complex",
         lambda lib, a, b: lib.view_as_real(lib.logcumsumexp(_z(lib, a, b), -1)),
         lambda g: [S(g.randn(2, 5), g.uniform(2, 5, low=-3, high=3))])
