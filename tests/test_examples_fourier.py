"""examples/fourier_operator.py: the Fourier neural operator learns, and PyTorch's run of the
same model, weights and batches ends at the same error."""
import re
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import fourier_operator  # noqa: E402


def test_a_short_run_learns_and_agrees_with_torch(capsys):
    test_error = fourier_operator.main(["--steps", "50"])
    out = capsys.readouterr().out
    start = float(re.search(r"untrained test relative error ([0-9.]+)", out).group(1))
    assert start > 0.9 and test_error < 0.25, out
    difference = float(re.search(r"\(difference ([0-9.e+-]+)\)", out).group(1))
    assert difference < 1e-10, out


def test_the_data_are_the_heat_flow_plus_its_square():
    import numpy as np
    u0, u = fourier_operator.make_data(3, seed=0, nu=0.0)      # nu = 0: no flow at all
    np.testing.assert_allclose(u, u0 + u0 ** 2 / 2, atol=1e-12)
