"""Products with a thin operand, run in blocks of their long axis (``ops/_thin_gemm.py``):
the same numbers as numpy's own product (any remainder, stacked and broadcast operands,
strided views, float64 and complex), the blocks really taken (only under OpenBLAS's AVX-512
kernels), and the convolutions that use them (LeNet's first layer, a 3-channel stem, a transposed convolution to one channel) beside
torch in float64, forward, both gradients and the second derivative."""
import numpy as np
import pytest

import minigrad
from minigrad.ops import _thin_gemm, conv_kernels

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def blocks_on(monkeypatch):
    """The blocked products on whatever BLAS this machine has (they are only chosen under
    OpenBLAS's AVX-512 kernels, ``blocks_pay``): the numbers must be right everywhere."""
    monkeypatch.setattr(_thin_gemm, "_pay", True)


@pytest.mark.parametrize("a_shape, b_shape", [
    ((20, 25), (25, 4096)),             # whole blocks
    ((20, 25), (25, 5000)),             # and a remainder
    ((3, 4, 9), (3, 9, 3000)),          # a stack (groups)
    ((1, 8, 16), (2, 16, 2500)),        # broadcast over the stack
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
def test_thin_matmul_is_numpys_product(a_shape, b_shape, dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(a_shape).astype(dtype)
    b = rng.standard_normal(b_shape).astype(dtype)
    if dtype == np.complex128:
        b = b + 1j * rng.standard_normal(b_shape)
    want = np.matmul(a, b)
    out = np.full(want.shape, np.nan, dtype=dtype)
    assert _thin_gemm.thin_matmul(a, b, out) is out
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("a_shape, p, transposed", [
    ((25, 4096), 20, True),             # cols @ g^T, g stored (P, L): a strided b
    ((27, 6000), 32, True),
    ((2, 9, 3000), 4, False),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_thin_contract_is_numpys_product(a_shape, p, transposed, dtype):
    rng = np.random.default_rng(1)
    a = rng.standard_normal(a_shape).astype(dtype)
    L = a_shape[-1]
    if transposed:
        b = rng.standard_normal(a_shape[:-2] + (p, L)).astype(dtype).swapaxes(-1, -2)
    else:
        b = rng.standard_normal(a_shape[:-2] + (L, p)).astype(dtype)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(_thin_gemm.thin_contract(a, b), np.matmul(a, b),
                               rtol=tol, atol=tol)


def test_blocks_are_taken_only_for_thin_long_products(monkeypatch):
    calls = []
    real = np.matmul

    def spy(*args, **kw):
        calls.append(args[1].shape)
        return real(*args, **kw)
    monkeypatch.setattr(_thin_gemm.np, "matmul", spy)
    a, b = np.ones((20, 25), np.float32), np.ones((25, 3000), np.float32)
    _thin_gemm.thin_matmul(a, b, np.empty((20, 3000), np.float32))
    assert calls == [(2, 25, 1024), (25, 952)]          # two blocks and the rest
    calls.clear()
    wide = np.ones((64, 25), np.float32)                # 1600 entries: one product
    _thin_gemm.thin_matmul(wide, b, np.empty((64, 3000), np.float32))
    assert calls == [(25, 3000)]


def test_blocks_only_under_openblas_avx512_kernels(monkeypatch):
    class Lib:
        internal_api, filepath = "openblas", "site-packages/numpy.libs/libscipy_openblas.so"

        def __init__(self, architecture):
            self.architecture = architecture

    class Controller:
        def __init__(self, libs):
            self.lib_controllers = libs

        def select(self, user_api):
            return self

    import threadpoolctl
    for arch, pays in [("SkylakeX", True), ("Haswell", False), ("Zen", False)]:
        monkeypatch.setattr(threadpoolctl, "ThreadpoolController",
                            lambda arch=arch: Controller([Lib(arch)]))
        monkeypatch.setattr(_thin_gemm, "_pay", None)
        assert _thin_gemm.blocks_pay() is pays
    monkeypatch.setattr(threadpoolctl, "ThreadpoolController", lambda: Controller([]))
    monkeypatch.setattr(_thin_gemm, "_pay", None)
    assert _thin_gemm.blocks_pay() is False             # MKL, BLIS, unknown: one product
    calls = []
    real = np.matmul
    monkeypatch.setattr(_thin_gemm.np, "matmul", lambda *a, **k: calls.append(1) or real(*a, **k))
    _thin_gemm.thin_matmul(np.ones((20, 25)), np.ones((25, 3000)), np.empty((20, 3000)))
    assert calls == [1]


def _run(lib, arrays, kw, transposed=False):
    fn = lib.nn.functional.conv_transpose2d if transposed else lib.nn.functional.conv2d
    tensors = [lib.tensor(a, requires_grad=True) for a in arrays]
    y = fn(*tensors, **kw)
    g = lib.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)))
    grads = lib.autograd.grad(y, tensors, g, create_graph=True)
    second = lib.autograd.grad((grads[0] ** 2).sum() + (grads[1] ** 2).sum(), tensors[:2])
    return [a.detach().numpy() for a in (y,) + tuple(grads) + tuple(second)]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("xs, ws, kw, transposed", [
    ((8, 1, 28, 28), (20, 1, 5, 5), {}, False),                  # LeNet's first layer
    ((16, 3, 32, 32), (16, 3, 3, 3), dict(stride=2, padding=1), False),  # a strided stem
    ((6, 3, 20, 20), (3, 1, 3, 3), dict(padding=1), True),       # to one output channel
])
def test_thin_convolutions_match_torch(xs, ws, kw, transposed, threads):
    if not transposed:
        nd = len(xs) - 2
        s, p = kw.get("stride", 1), kw.get("padding", 0)
        out = tuple((n + 2 * p - k) // s + 1 for n, k in zip(xs[2:], ws[2:]))
        geom = conv_kernels.Geometry(ws[2:], (s,) * nd, ((p, p),) * nd, (1,) * nd, 1, xs[2:],
                                     out)
        assert conv_kernels.path(geom, xs[1]) == "im2col"
    rng = np.random.default_rng(2)
    bias = ws[1] if transposed else ws[0]
    arrays = (rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(bias))
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(threads)
    try:
        mine = _run(minigrad, arrays, kw, transposed)
    finally:
        minigrad.set_num_threads(before)
    theirs = _run(torch, arrays, kw, transposed)
    for name, a, t in zip(("y", "gx", "gw", "gb", "ggx", "ggw"), mine, theirs):
        np.testing.assert_allclose(a, t, rtol=1e-9, atol=1e-9, err_msg=name)
