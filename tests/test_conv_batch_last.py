"""Many images of small planes (LeNet's second layer: 64 images, 8x8 outputs) take im2col with
the batch axis last (``conv_kernels.batch_last``): the forward, both gradients, the matrix
shared with the weight gradient and the double-backward's shared matrix, beside torch in
float64, on one and two threads (a batch cut in parts cannot slice a batch-last matrix by
images: each part makes its own)."""
import numpy as np
import pytest

import minigrad
from minigrad.ops import conv_kernels

torch = pytest.importorskip("torch")

CASES = [
    # x shape, w shape, kwargs
    ((64, 20, 12, 12), (50, 20, 5, 5), {}),                       # LeNet's second layer
    ((48, 6, 9, 9), (8, 3, 3, 3), dict(stride=2, padding=1, groups=2)),
    ((40, 4, 7, 7), (6, 4, 3, 3), dict(dilation=2, padding=(2, 1))),
    ((64, 3, 10), (5, 3, 4), dict(stride=3)),                      # 1-d
    ((36, 2, 5, 5, 5), (3, 2, 2, 2, 2), dict(stride=2)),           # 3-d
]


def _geometry(xs, ws, kw):
    nd = len(xs) - 2
    s = kw.get("stride", 1)
    d = kw.get("dilation", 1)
    p = kw.get("padding", 0)
    p = (p,) * nd if isinstance(p, int) else p
    out = tuple((n + 2 * q - d * (k - 1) - 1) // s + 1 for n, q, k in zip(xs[2:], p, ws[2:]))
    return conv_kernels.Geometry(tuple(ws[2:]), (s,) * nd, tuple((q, q) for q in p), (d,) * nd,
                                 kw.get("groups", 1), tuple(xs[2:]), out)


def _run(lib, arrays, nd, kw):
    conv = getattr(lib.nn.functional, f"conv{nd}d")
    tensors = [lib.tensor(a, requires_grad=True) for a in arrays]
    y = conv(*tensors, **kw)
    g = lib.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)))
    grads = lib.autograd.grad(y, tensors, g, create_graph=True)
    second = lib.autograd.grad((grads[0] ** 2).sum() + (grads[1] ** 2).sum(), tensors[:2])
    return [a.detach().numpy() for a in (y,) + tuple(grads) + tuple(second)]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("xs, ws, kw", CASES)
def test_batch_last_im2col_matches_torch(xs, ws, kw, threads):
    geom = _geometry(xs, ws, kw)
    assert conv_kernels.path(geom, xs[1]) == "im2col"
    assert conv_kernels.batch_last(xs[0], xs[1], geom, 8)
    rng = np.random.default_rng(4)
    arrays = (rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0]))
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(threads)
    try:
        mine = _run(minigrad, arrays, len(xs) - 2, kw)
    finally:
        minigrad.set_num_threads(before)
    theirs = _run(torch, arrays, len(xs) - 2, kw)
    for name, a, t in zip(("y", "gx", "gw", "gb", "ggx", "ggw"), mine, theirs):
        np.testing.assert_allclose(a, t, rtol=1e-9, atol=1e-9, err_msg=name)


def test_batch_last_matrix_layout():
    """cols[g, (c, p, q), (i, j), n] = xpad[n, g*C/G + c, i*s + p*d, j*s + q*d]."""
    xs, ws, kw = CASES[1]
    geom = _geometry(xs, ws, kw)
    x = np.random.default_rng(5).standard_normal(xs)
    cols = conv_kernels.columns(x, geom)
    assert cols.shape == (2, 3 * 9, 5 * 5, 48)
    xpad = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for g, c, p, q, i, j, n in [(0, 0, 0, 0, 0, 0, 0), (1, 2, 2, 1, 4, 3, 47),
                                (1, 0, 1, 2, 2, 0, 13)]:
        assert cols[g, c * 9 + p * 3 + q, i * 5 + j, n] == xpad[n, g * 3 + c, 2 * i + p, 2 * j + q]
