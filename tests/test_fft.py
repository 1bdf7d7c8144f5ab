"""minigrad.fft and stft / istft against torch: values, dtypes, shapes, gradients (first and
second order, PyTorch's complex convention) and errors."""
import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")
from torch_agreement import pair, same_tensor  # noqa: E402

RNG = np.random.default_rng(0)
ONE_DIM = ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft")
N_DIM = ("fftn", "ifftn", "rfftn", "irfftn", "hfftn", "ihfftn")
TWO_DIM = ("fft2", "ifft2", "rfft2", "irfft2", "hfft2", "ihfft2")
REAL_ONLY = {"rfft", "ihfft", "rfftn", "ihfftn", "rfft2", "ihfft2"}


def _data(shape, dtype):
    x = RNG.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * RNG.standard_normal(shape)
    return x.astype(dtype)


def _fft_pair(name, x, **kw):
    """fft.<name>(x, **kw) of minigrad and of torch."""
    return pair(lambda lib, t: getattr(lib.fft, name)(t, **kw), x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("name", ONE_DIM)
def test_one_dim_forward(name, dtype):
    tol = 1e-4 if dtype in (np.float32, np.complex64) else 1e-10
    for shape, dim, norm in [((5,), -1, None), ((3, 6), -1, "ortho"), ((2, 3, 7), 1, "forward")]:
        x = _data(shape, dtype)
        for n in (None, 1, 3, 8):      # as is, padded, cropped (to 1: the smallest)
            if True:
                if True:
                    kw = dict(n=n, dim=dim, norm=norm)
                    if name in REAL_ONLY and x.dtype.kind == "c":
                        with pytest.raises(RuntimeError, match="expects a real"):
                            getattr(mg.fft, name)(mg.tensor(x), **kw)
                        continue
                    if name in ("irfft", "hfft") and n == 1:
                        kw["n"] = 2
                    same_tensor(*_fft_pair(name, x, **kw), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("name", N_DIM + TWO_DIM)
def test_n_dim_forward(name, dtype):
    tol = 1e-4 if dtype in (np.float32, np.complex64) else 1e-10
    if name in REAL_ONLY and np.dtype(dtype).kind == "c":
        return
    for shape, norm in [((4, 6), None), ((3, 5, 7), "ortho"), ((2, 3, 5), "forward")]:
        x = _data(shape, dtype)
        if True:
            for kw in (dict(), dict(s=(3, 4)), dict(s=(6, -1), dim=(1, 0)), dict(dim=(0,)),
                       dict(s=(5,))):
                if name.endswith("2") and "dim" in kw and len(kw["dim"]) == 1:
                    continue
                if name.endswith("2") and "s" in kw and len(kw["s"]) != 2:
                    continue
                same_tensor(*_fft_pair(name, x, norm=norm, **kw), rtol=tol, atol=tol)


def test_dtypes_and_promotion():
    assert mg.fft.fft(mg.arange(4)).dtype == mg.complex64          # integers: default float
    assert mg.fft.rfft(mg.tensor([True, False, True])).dtype == mg.complex64
    assert mg.fft.irfft(mg.zeros(4, dtype=mg.float64)).dtype == mg.float64
    assert mg.fft.hfft(mg.zeros(3, dtype=mg.complex64)).shape == (4,)
    with pytest.raises(RuntimeError, match="Unsupported dtype Half"):
        mg.fft.fft(mg.zeros(4, dtype=mg.float16))
    # 0-d: fftn over no axes is a complex copy; a 1-D transform needs a dimension
    same_tensor(*_fft_pair("fftn", np.array(2.5)), rtol=1e-12, atol=1e-12)
    for lib in (torch, mg):        # torch's CPU FFT refuses a batch of no elements
        with pytest.raises(RuntimeError):
            lib.fft.fft(lib.zeros(3, 0), dim=0)
    with pytest.raises(IndexError, match="no dimensions"):
        mg.fft.fft(mg.tensor(1.0))


@pytest.mark.parametrize("call, exc, words", [
    (lambda f, x: f.fft(x, norm="foo"), RuntimeError, 'Invalid normalization mode: "foo"'),
    (lambda f, x: f.fft(x, norm=3), TypeError, "argument 'norm' must be str"),
    (lambda f, x: f.fft(x, n=0), RuntimeError, r"Invalid number of data points \(0\)"),
    (lambda f, x: f.ifft(x, n=-1), RuntimeError, r"Invalid number of data points \(-1\)"),
    (lambda f, x: f.fft(x, dim=2), IndexError, "Dimension out of range"),
    (lambda f, x: f.fftn(x, dim=(0, 0)), RuntimeError, "FFT dims must be unique"),
    (lambda f, x: f.fftn(x, dim=(-1, 1)), RuntimeError, "FFT dims must be unique"),
    (lambda f, x: f.fftn(x, s=(2,), dim=(0, 1)), RuntimeError, "must have the same length"),
    (lambda f, x: f.fftn(x, s=(2, 3, 4)), RuntimeError, "Got shape with 3 values"),
    (lambda f, x: f.fftn(x, s=(0, 2)), RuntimeError, "Invalid number of data points"),
    (lambda f, x: f.rfftn(x, dim=()), RuntimeError, "rfftn must transform at least one axis"),
    (lambda f, x: f.irfftn(x, dim=()), RuntimeError, "irfftn must transform at least one"),
    (lambda f, x: f.hfftn(x, dim=()), RuntimeError, "hfftn must transform at least one"),
    (lambda f, x: f.irfft(x[:, :1]), RuntimeError, r"Invalid number of data points \(0\)"),
    (lambda f, x: f.rfft(x * 1j), RuntimeError, "rfft expects a real input tensor, but got "
                                                "ComplexDouble"),
    (lambda f, x: f.rfft2(x * 1j), RuntimeError, "rfftn expects a real-valued input tensor"),
    (lambda f, x: f.ihfft(x * 1j), RuntimeError, "ihfft expects a real input tensor"),
    (lambda f, x: f.ihfft2(x * 1j), RuntimeError, "Only supports floating-point dtypes"),
    (lambda f, x: f.fft2(x[0]), IndexError, "Dimension out of range"),
    (lambda f, x: f.fftshift(x[0, 0]), RuntimeError, "`shifts` required"),
])
def test_errors_match_torch(call, exc, words):
    x = RNG.standard_normal((3, 4))
    for lib in (torch, mg):
        with pytest.raises(exc, match=words):
            call(lib.fft, lib.tensor(x))


def test_shift_and_freq():
    x = RNG.standard_normal((4, 5))
    for name in ("fftshift", "ifftshift"):
        for dim in (None, 0, (1,), (0, -1)):
            same_tensor(*_fft_pair(name, x, dim=dim), rtol=0, atol=0)
    for n in (0, 1, 4, 7):
        for d in (1.0, 0.1):
            for dtype in (None, mg.float64):
                kw = {} if dtype is None else {"dtype": dtype}
                tkw = {} if dtype is None else {"dtype": torch.float64}
                same_tensor(mg.fft.fftfreq(n, d, **kw), torch.fft.fftfreq(n, d, **tkw),
                            rtol=0, atol=0)
                same_tensor(mg.fft.rfftfreq(n, d, **kw), torch.fft.rfftfreq(n, d, **tkw),
                            rtol=0, atol=0)


def _grads(lib, name, x, w1, w2, create_graph=False, **kw):
    """The gradient of sum(re(out) w1 + im(out) w2) (just out w1 for a real output); with
    create_graph, of a loss quadratic in out, so that the gradient depends on the input."""
    t = lib.tensor(x, requires_grad=True)
    out = getattr(lib.fft, name)(t, **kw)
    p = 2 if create_graph else 1
    if out.is_complex():
        loss = ((out.real * lib.tensor(w1)) ** p + out.imag * lib.tensor(w2)).sum()
    else:
        loss = ((out * lib.tensor(w1)) ** p).sum()
    g, = (torch.autograd.grad if lib is torch else mg.autograd.grad)(
        loss, t, create_graph=create_graph)
    return t, g


GRAD_CASES = [(name, kw) for name in ONE_DIM for kw in (
    dict(), dict(n=8, norm="ortho"), dict(n=3, dim=0, norm="forward"))] + \
    [(name, kw) for name in N_DIM + TWO_DIM for kw in (dict(), dict(s=(5, 3), norm="ortho"))]


@pytest.mark.parametrize("name, kw", GRAD_CASES)
def test_gradients_match_torch(name, kw):
    dtype = np.float64 if name in REAL_ONLY else np.complex128
    x = _data((4, 5), dtype)
    shape = tuple(getattr(torch.fft, name)(torch.tensor(x), **kw).shape)
    w1, w2 = RNG.standard_normal(shape), RNG.standard_normal(shape)
    _, mine = _grads(mg, name, x, w1, w2, **kw)
    _, theirs = _grads(torch, name, x, w1, w2, **kw)
    same_tensor(mine, theirs, rtol=1e-10, atol=1e-10)
    if dtype == np.complex128 and name not in ("irfft", "hfft", "irfftn", "hfftn", "irfft2",
                                               "hfft2"):
        # a real input receives the real part of the same gradient
        _, mine = _grads(mg, name, x.real.copy(), w1, w2, **kw)
        _, theirs = _grads(torch, name, x.real.copy(), w1, w2, **kw)
        same_tensor(mine, theirs, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", ["fft", "rfft", "irfft", "hfft2", "ihfftn"])
def test_second_derivatives_match_torch(name):
    dtype = np.float64 if name in REAL_ONLY else np.complex128
    x = _data((3, 6), dtype)
    shape = tuple(getattr(torch.fft, name)(torch.tensor(x)).shape)
    w1, w2 = RNG.standard_normal(shape), RNG.standard_normal(shape)
    v = _data((3, 6), dtype)
    results = []
    for lib in (mg, torch):
        t, g = _grads(lib, name, x, w1, w2, create_graph=True)
        # a nonlinear function of the gradient, differentiated again
        h = (g * lib.tensor(v)).abs().pow(2).sum() if g.is_complex() else \
            (g * lib.tensor(v)).pow(2).sum()
        gg, = (torch.autograd.grad if lib is torch else mg.autograd.grad)(h, t)
        results.append(gg)
    same_tensor(*results, rtol=1e-9, atol=1e-9)


STFT_CASES = [dict(n_fft=8, hop_length=2), dict(n_fft=8, hop_length=3, center=False),
              dict(n_fft=8, win_length=5, pad_mode="constant"),
              dict(n_fft=7, normalized=True, onesided=False),
              dict(n_fft=8, hop_length=3, win_length=4, center=False, align_to_window=True)]


@pytest.mark.parametrize("kw", STFT_CASES)
def test_stft_matches_torch(kw):
    for x in (RNG.standard_normal(20), RNG.standard_normal((2, 21))):
        for window in (None, np.hanning(kw.get("win_length", kw["n_fft"]))):
            out = []
            for lib in (mg, torch):
                t = lib.tensor(x, requires_grad=True)
                w = None if window is None else lib.tensor(window, requires_grad=True)
                s = lib.stft(t, window=w, return_complex=True, **kw)
                wr = RNG.standard_normal(tuple(s.shape))
                loss = (s.real * lib.tensor(wr) + s.imag * lib.tensor(wr[::-1].copy())).sum()
                leaves = [t] if w is None else [t, w]
                grads = (torch.autograd.grad if lib is torch else mg.autograd.grad)(loss, leaves)
                out.append((s, grads))
            RNG.standard_normal(1)
            same_tensor(out[0][0], out[1][0], rtol=1e-10, atol=1e-10)
    # Tensor.stft and return_complex=False (torch's deprecated real layout)
    x = RNG.standard_normal(16)
    same_tensor(mg.tensor(x).stft(8, return_complex=False),
                torch.tensor(x).stft(8, return_complex=False), rtol=1e-10, atol=1e-10)


def test_stft_and_istft_gradients_match_torch():
    x, window = RNG.standard_normal((2, 19)), np.hanning(8) + 0.1
    wr, wi = RNG.standard_normal((2, 5, 10)), RNG.standard_normal((2, 5, 10))
    wy = RNG.standard_normal((2, 19))
    grads = []
    for lib in (mg, torch):
        t, w = lib.tensor(x, requires_grad=True), lib.tensor(window, requires_grad=True)
        s = lib.stft(t, 8, hop_length=2, window=w, return_complex=True)
        loss = (s.real * lib.tensor(wr) + s.imag * lib.tensor(wi)).sum()
        y = lib.istft(s, 8, hop_length=2, window=w, length=19)
        loss = loss + (y * lib.tensor(wy)).sum()
        grads.append((torch.autograd.grad if lib is torch else mg.autograd.grad)(loss, [t, w]))
    for m, t in zip(*grads):
        same_tensor(m, t, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kw", [dict(n_fft=8), dict(n_fft=8, hop_length=3, length=30),
                                dict(n_fft=8, win_length=6, length=10),
                                dict(n_fft=8, normalized=True, onesided=False),
                                dict(n_fft=8, onesided=False, return_complex=True)])
def test_istft_matches_torch(kw):
    window = np.hanning(kw.get("win_length", 8)) + 0.1
    spec_kw = {k: v for k, v in kw.items() if k in ("n_fft", "hop_length", "win_length",
                                                      "normalized", "onesided")}
    s = torch.stft(torch.tensor(RNG.standard_normal((2, 20))), window=torch.tensor(window),
                   return_complex=True, **spec_kw)
    s = s + 0.1j * torch.tensor(RNG.standard_normal(tuple(s.shape)))
    same_tensor(mg.tensor(s.numpy()).istft(window=mg.tensor(window), **kw),
                torch.istft(s, window=torch.tensor(window), **kw), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("call, exc, words", [
    (lambda lib, x: lib.stft(x, 8), RuntimeError, "requires the return_complex parameter"),
    (lambda lib, x: lib.stft(x, 30, center=False, return_complex=True), RuntimeError,
     "expected 0 < n_fft < 20, but got n_fft=30"),
    (lambda lib, x: lib.stft(x, 8, hop_length=0, return_complex=True), RuntimeError,
     "expected hop_length > 0"),
    (lambda lib, x: lib.stft(x, 8, win_length=9, return_complex=True), RuntimeError,
     "expected 0 < win_length <= n_fft"),
    (lambda lib, x: lib.stft(x, 8, window=lib.ones(7), return_complex=True), RuntimeError,
     "expected a 1D window tensor of size equal to win_length=8"),
    (lambda lib, x: lib.stft(x.long(), 8, return_complex=True), RuntimeError,
     "expected a tensor of floating point or complex values"),
    (lambda lib, x: lib.stft(x * 1j, 8, onesided=True, return_complex=True), RuntimeError,
     "Cannot have onesided output if window or input is complex"),
    (lambda lib, x: lib.stft(x, 8, center=True, align_to_window=True, return_complex=True),
     RuntimeError, "align_to_window should only be set when center = false"),
    (lambda lib, x: lib.istft(x, 8), RuntimeError, "requires a complex-valued input"),
    (lambda lib, x: lib.istft(lib.stft(x, 8, return_complex=True), 8, onesided=False),
     RuntimeError, "to match n_fft when onesided=False, but got 5"),
    (lambda lib, x: lib.istft(lib.stft(x, 8, window=lib.hann_window(8), return_complex=True),
                              8, window=lib.hann_window(8), center=False),
     RuntimeError, "window overlap add min"),
])
def test_spectral_errors_match_torch(call, exc, words):
    x = RNG.standard_normal(20)
    for lib in (torch, mg):
        with pytest.raises(exc, match=words):
            call(lib, lib.tensor(x))
