"""``where`` on large arrays moves bits (``pointwise_select._select``): bit for bit numpy's
where for float and integer dtypes, broadcast operands, numbers, NaN payloads and signed
zeros, on one and two threads; and the activations built on it (where, leaky_relu, elu)
beside torch."""
import numpy as np
import pytest

import minigrad
from minigrad.ops.pointwise_select import _select

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.uint32])
def test_select_is_numpys_where_bit_for_bit(dtype, threads):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((3, 70001)) * 5).astype(dtype)
    b = (rng.standard_normal((1, 70001)) * 5).astype(dtype)
    if np.dtype(dtype).kind == "f":
        a[0, :8] = [np.nan, -np.nan, -0.0, 0.0, np.inf, -np.inf, 1e-45, -1e-45]
    c = rng.random((3, 70001)) > 0.5
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(threads)
    try:
        for x, y in [(a, b), (dtype(1), a), (a, dtype(2)), (b, a)]:
            mine, theirs = _select(c, x, y), np.where(c, x, y)
            assert mine.shape == theirs.shape and mine.dtype == theirs.dtype
            assert mine.tobytes() == theirs.tobytes()
    finally:
        minigrad.set_num_threads(before)
    assert _select(c[:, :5], a[:, :5], b[:, :5]).tobytes() == \
        np.where(c[:, :5], a[:, :5], b[:, :5]).tobytes()            # small: numpy's own


def test_activations_on_select_match_torch():
    x = np.random.default_rng(1).standard_normal((4, 40000)) * 3
    x[0, :4] = [0.0, -0.0, np.inf, -np.inf]
    for name, kw in [("leaky_relu", {}), ("elu", {}), ("selu", {}), ("celu", {"alpha": 0.5})]:
        out = []
        for lib in (minigrad, torch):
            t = lib.tensor(x, requires_grad=True)
            y = getattr(lib.nn.functional, name)(t, **kw)
            w = lib.where(t > 0.5, t, y)
            g, = lib.autograd.grad(w.sum(), t)
            out.append((y.detach().numpy(), w.detach().numpy(), g.numpy()))
        for a, b in zip(*out):
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15, err_msg=name)
            np.testing.assert_array_equal(np.signbit(a), np.signbit(b), err_msg=name)
