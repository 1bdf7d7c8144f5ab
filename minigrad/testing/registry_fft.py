"""Registry entries for ``minigrad.fft`` and ``stft`` / ``istft``.

The registry feeds real float64 inputs, so each complex-input transform builds its input as
``complex(a, b)`` and each complex output is handed back as its real and imaginary parts
stacked on a new last axis: the comparisons with torch, the finite differences and the
second-order checks then see a real function of real inputs.
"""
from __future__ import annotations

import numpy as np

from .opinfo import Sample, register

S = Sample


def _parts(lib, out):
    """A complex output as real numbers: (..., 2) = [real, imag]; a real output as is."""
    return lib.stack([out.real, out.imag], -1) if out.is_complex() else out


def _from_complex(name):
    return lambda lib, a, b, **kw: _parts(lib, getattr(lib.fft, name)(lib.complex(a, b), **kw))


def _from_real(name):
    return lambda lib, a, **kw: _parts(lib, getattr(lib.fft, name)(a, **kw))


def _one_dim_complex(g):
    yield S(g.randn(6), g.randn(6), desc="even")
    yield S(g.randn(5), g.randn(5), kwargs={"norm": "ortho"}, desc="odd, ortho")
    yield S(g.randn(3, 5), g.randn(3, 5), kwargs={"n": 8, "dim": 0, "norm": "forward"},
            desc="padded, dim 0, forward")
    yield S(g.randn(2, 7), g.randn(2, 7), kwargs={"n": 4}, desc="cropped")


def _one_dim_real(g):
    yield S(g.randn(6), desc="even")
    yield S(g.randn(5), kwargs={"norm": "ortho"}, desc="odd, ortho")
    yield S(g.randn(3, 5), kwargs={"n": 8, "dim": 0, "norm": "forward"},
            desc="padded, dim 0, forward")
    yield S(g.randn(2, 7), kwargs={"n": 4}, desc="cropped")


def _n_dim_complex(g):
    yield S(g.randn(3, 4), g.randn(3, 4), desc="all axes")
    yield S(g.randn(2, 3, 5), g.randn(2, 3, 5), kwargs={"dim": (0, 2), "norm": "ortho"},
            desc="axes 0 and 2, ortho")
    yield S(g.randn(3, 4), g.randn(3, 4), kwargs={"s": (5, 3), "norm": "forward"},
            desc="s, forward")


def _n_dim_real(g):
    yield S(g.randn(3, 4), desc="all axes")
    yield S(g.randn(2, 3, 5), kwargs={"dim": (0, 2), "norm": "ortho"}, desc="axes 0 and 2")
    yield S(g.randn(3, 4), kwargs={"s": (5, 3), "norm": "forward"}, desc="s, forward")


for _name in ("fft", "ifft", "irfft", "hfft"):
    register(f"fft.{_name}", _from_complex(_name), _one_dim_complex)
for _name in ("rfft", "ihfft"):
    register(f"fft.{_name}", _from_real(_name), _one_dim_real)
for _name in ("fftn", "ifftn", "irfftn", "hfftn"):
    register(f"fft.{_name}", _from_complex(_name), _n_dim_complex)
for _name in ("rfftn", "ihfftn"):
    register(f"fft.{_name}", _from_real(_name), _n_dim_real)
for _name in ("fft2", "irfft2", "hfft2"):
    register(f"fft.{_name}", _from_complex(_name),
             lambda g: [S(g.randn(2, 3, 4), g.randn(2, 3, 4)),
                        S(g.randn(3, 5), g.randn(3, 5), kwargs={"s": (4, 6)}, desc="s")])
register("fft.rfft2", _from_real("rfft2"),
         lambda g: [S(g.randn(2, 3, 4)), S(g.randn(3, 5), kwargs={"norm": "ortho"})])
register("fft.fftshift", lambda lib, a, **kw: lib.fft.fftshift(a, **kw),
         lambda g: [S(g.randn(3, 4)), S(g.randn(2, 5), kwargs={"dim": 1})])
register("fft.ifftshift", lambda lib, a, **kw: lib.fft.ifftshift(a, **kw),
         lambda g: [S(g.randn(3, 5)), S(g.randn(2, 5), kwargs={"dim": (0,)})])


def _stft(lib, x, window, **kw):
    return _parts(lib, lib.stft(x, window=window, return_complex=True, **kw))


def _istft(lib, a, b, window, **kw):
    return lib.istft(lib.complex(a, b), window=window, **kw)


register("stft", _stft, lambda g: [
    S(g.randn(20), g.pos(8), kwargs={"n_fft": 8, "hop_length": 3}, desc="centered"),
    S(g.randn(2, 17), g.pos(6), kwargs={"n_fft": 8, "win_length": 6, "center": False,
                                         "normalized": True}, desc="batch, short window"),
    S(g.randn(16), g.pos(8), kwargs={"n_fft": 8, "onesided": False}, desc="two-sided")])
# a window kept away from 0, so that the overlap-added envelope istft divides by is too
register("istft", _istft, lambda g: [
    S(g.randn(5, 7), g.randn(5, 7), g.pos(8), kwargs={"n_fft": 8, "hop_length": 2},
      desc="onesided"),
    S(g.randn(2, 5, 6), g.randn(2, 5, 6), g.pos(8),
      kwargs={"n_fft": 8, "hop_length": 4, "center": False, "length": 22}, desc="batch, length"),
    S(g.randn(8, 5), g.randn(8, 5), g.pos(8), kwargs={"n_fft": 8, "normalized": True,
                                                      "onesided": False}, desc="two-sided")])

del np
