"""examples/higher_order.py: its three experiments agree with PyTorch to float64 rounding."""
import re
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import higher_order  # noqa: E402

import minigrad  # noqa: E402


def test_the_example_prints_three_agreements_with_torch(capsys):
    higher_order.main([])
    out = capsys.readouterr().out
    diffs = [float(d) for d in re.findall(r"largest difference from PyTorch ([0-9.e+-]+)", out)]
    assert len(diffs) == 3 and max(diffs) < 1e-12, out
    assert "step 7: x =  1.000000  y =  1.000000" in out      # Newton reached (1, 1)


def test_tanh_derivatives_match_the_polynomials_in_tanh():
    # With t = tanh(x), d/dx P(t) = P'(t) (1 - t^2): every derivative of tanh is a polynomial
    # in t, built here exactly, independently of any autodiff.
    from numpy.polynomial import polynomial as P
    x = np.linspace(-2, 2, 9)
    t = np.tanh(x)
    poly = np.array([0.0, 1.0])                                 # P_0(t) = t
    derivatives = higher_order.tanh_derivatives(minigrad, x)
    for k in range(7):
        np.testing.assert_allclose(derivatives[k], P.polyval(t, poly), rtol=1e-10, atol=1e-10,
                                   err_msg=f"order {k}")
        poly = P.polymul(P.polyder(poly), [1.0, 0.0, -1.0])      # P' (1 - t^2)
