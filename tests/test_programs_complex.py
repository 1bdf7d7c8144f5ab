"""Complex-valued programs, each written once as ``program(lib)`` and run with ``lib`` =
minigrad and ``lib`` = torch on the same numpy inputs: a Fourier neural operator block
trained with Adam (rfft2, complex weights, einsum, irfft2), spectral losses (stft
magnitudes, log spectra), complex-valued layers and activations, FFT convolution against
direct convolution, phase retrieval by gradient descent, eigen-decompositions with
phase-invariant losses, complex autograd (grad, double backward, hooks, retain_grad),
checkpoints, printing, and the refusals PyTorch gives (ordering, sorting, clamping).

Both libraries must give the same values (complex128 to ~1e-9, complex64 to ~1e-5), dtypes,
shapes and requires_grad, or raise the same exception type with torch's words in the
message, and give the same warnings.
"""
import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import SideBySide, bare, err, registry  # noqa: E402


def _warning(w):
    """The start of a warning's message, without the C++ location torch appends."""
    return bare(str(w.message).split(" (Triggered internally")[0])[:60]


HARNESS = SideBySide(rename=bare, rename_error=bare,
                     tol={"float32": (2e-5, 2e-6), "float64": (1e-9, 1e-11)},
                     scalar_tol=(1e-6, 1e-9), requires_grad=True, warning=_warning)
PROGRAMS, program = registry()

_R = np.random.default_rng(20261203)
SIGNAL = np.sin(np.linspace(0, 30, 400)) + 0.3 * _R.standard_normal(400)
IMG = _R.standard_normal((2, 3, 8, 8))
Z = _R.standard_normal((4, 5)) + 1j * _R.standard_normal((4, 5))
ZV = _R.standard_normal(6) + 1j * _R.standard_normal(6)
MAT = _R.standard_normal((4, 4))
HERM = Z[:4, :4] @ Z[:4, :4].conj().T + 4 * np.eye(4)
KERNEL = _R.standard_normal(7)


def _c(L, a, dtype=None):
    return L.tensor(a, dtype=dtype)


# ----------------------------------------------------------------------------------------------
# models and training
# ----------------------------------------------------------------------------------------------
def _spectral_conv(L, cin, cout, modes):
    class SpectralConv2d(L.nn.Module):
        """The Fourier layer of an FNO: keep the lowest modes, mix channels there."""
        def __init__(self):
            super().__init__()
            scale = 1 / (cin * cout)
            shape = (cin, cout, modes, modes)
            w = _R_FIXED.standard_normal(shape + (2,)) * scale
            self.w1 = L.nn.Parameter(L.view_as_complex(L.tensor(w, dtype=L.float32)))
            self.w2 = L.nn.Parameter(L.view_as_complex(L.tensor(w[::-1].copy(),
                                                                dtype=L.float32)))

        def forward(self, x):
            h, w = x.shape[-2:]
            spec = L.fft.rfft2(x)                          # (b, cin, h, w // 2 + 1)
            mixed = L.zeros(x.shape[0], cout, h, w // 2 + 1, dtype=L.cfloat)
            # the low frequencies sit in the first and the last ``modes`` rows (positive and
            # negative), the first ``modes`` columns; everything else is dropped
            for rows, weight in ((slice(0, modes), self.w1), (slice(h - modes, h), self.w2)):
                block = spec[:, :, rows, :modes]
                mixed[:, :, rows, :modes] = L.einsum("bixy,ioxy->boxy", block, weight)
            return L.fft.irfft2(mixed, s=(h, w))
    return SpectralConv2d()


_R_FIXED = np.random.default_rng(7)


@program
def fourier_neural_operator_block_trains_with_adam(L):
    global _R_FIXED
    _R_FIXED = np.random.default_rng(7)
    spectral = _spectral_conv(L, 3, 4, 3)
    skip = L.nn.Conv2d(3, 4, 1)
    with L.no_grad():
        skip.weight.copy_(L.tensor(np.linspace(-1, 1, 12).reshape(4, 3, 1, 1), dtype=L.float32))
        skip.bias.zero_()
    x = L.tensor(IMG, dtype=L.float32)
    opt = L.optim.Adam(list(spectral.parameters()) + list(skip.parameters()), lr=1e-2)
    losses = []
    for _ in range(4):
        opt.zero_grad()
        loss = (L.nn.functional.gelu(spectral(x) + skip(x)) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, spectral.w1.detach(), opt.state_dict()["state"][0]["exp_avg_sq"]


@program
def stft_magnitude_loss_and_its_signal_gradient(L):
    sig = L.tensor(SIGNAL, requires_grad=True)
    window = L.hann_window(64, dtype=L.float64)
    spec = L.stft(sig, n_fft=64, hop_length=16, window=window, return_complex=True)
    # (not its angle: where the transform of a real signal is a negative real number, FFT
    # rounding leaves +-1e-17 in the imaginary part, and the angle is +-pi by that sign)
    loss = spec.abs().log1p().mean() + (spec.real * spec.imag).mean()
    loss.backward()
    return loss, sig.grad, spec.shape, spec.dtype


@program
def stft_then_istft_reconstructs_the_signal(L):
    sig = L.tensor(SIGNAL)
    window = L.hann_window(32, dtype=L.float64)
    spec = L.stft(sig, 32, 8, window=window, return_complex=True)
    back = L.istft(spec, 32, 8, window=window, length=400)
    return back, (back - sig).abs().max() < 1e-9


@program
def complex_valued_layer_with_modulus_activation(L):
    L.manual_seed(0)
    w = L.tensor(Z, requires_grad=True)
    x = L.tensor(ZV[:5], requires_grad=True)
    h = w @ x                                     # (4,) complex
    act = h * L.sigmoid(h.abs())                  # a modReLU-like phase-keeping activation
    loss = (act.real ** 2 + act.imag).sum()
    loss.backward()
    return act, w.grad, x.grad


@program
def complex_linear_layer_via_dtype_and_sgd(L):
    layer = L.nn.Linear(3, 2, dtype=L.cdouble)
    with L.no_grad():
        layer.weight.copy_(L.tensor(Z[:2, :3]))
        layer.bias.copy_(L.tensor(ZV[:2]))
    opt = L.optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
    x = L.tensor(Z[:, 1:4])
    for _ in range(3):
        opt.zero_grad()
        loss = layer(x).abs().pow(2).mean()
        loss.backward()
        opt.step()
    return loss, layer.weight, layer.bias


@program
def fft_convolution_equals_direct_convolution(L):
    x = L.tensor(SIGNAL[:64], requires_grad=True)
    k = L.tensor(KERNEL, requires_grad=True)
    n = 64 + 7 - 1
    via_fft = L.fft.irfft(L.fft.rfft(x, n) * L.fft.rfft(k, n), n)
    direct = L.nn.functional.conv1d(x.view(1, 1, -1), k.flip(0).view(1, 1, -1),
                                    padding=6).view(-1)
    (via_fft * L.arange(n, dtype=L.float64)).sum().backward()
    return via_fft, (via_fft - direct).abs().max() < 1e-9, x.grad, k.grad


@program
def phase_retrieval_by_gradient_descent(L):
    target = L.tensor(np.abs(np.fft.fft(SIGNAL[:32])))
    guess = L.tensor(SIGNAL[:32] * 0.5 + 0.1, requires_grad=True)
    opt = L.optim.LBFGS([guess], lr=0.5, max_iter=5)

    def closure():
        opt.zero_grad()
        loss = ((L.fft.fft(guess).abs() - target) ** 2).mean()
        loss.backward()
        return loss
    losses = [opt.step(closure).item() for _ in range(2)]
    return losses, guess.detach()


@program
def spectra_in_every_norm_and_their_shifts(L):
    x = L.tensor(IMG[0, 0])
    out = []
    for norm in (None, "ortho", "forward"):
        out += [L.fft.fft2(x, norm=norm), L.fft.ihfft(x, norm=norm),
                L.fft.fftshift(L.fft.fftn(x, s=(4, 6), norm=norm)), L.fft.hfft(x[0], 9)]
    return out, L.fft.fftfreq(5, 0.1), L.fft.rfftfreq(6)


# ----------------------------------------------------------------------------------------------
# linear algebra
# ----------------------------------------------------------------------------------------------
@program
def eig_of_a_real_matrix_with_a_phase_invariant_loss(L):
    a = L.tensor(MAT, requires_grad=True)
    values, vectors = L.linalg.eig(a)
    loss = values.real.sum() + (values.imag ** 2).sum() + (vectors.abs() ** 2)[0].sum()
    loss.backward()
    order = values.real.argsort()
    return values[order], a.grad, values.dtype, vectors.dtype


@program
def eig_loss_depending_on_the_phase_is_refused(L):
    a = L.tensor(MAT, requires_grad=True)
    _, vectors = L.linalg.eig(a)
    return err(lambda: vectors.real.sum().backward())


@program
def hermitian_solve_det_and_norm_gradients(L):
    h = L.tensor(HERM, requires_grad=True)
    b = L.tensor(Z[:, :2], requires_grad=True)
    x = L.linalg.solve(h, b)
    loss = x.abs().sum() + L.linalg.det(h).real + L.linalg.vector_norm(b, 3) + \
        L.linalg.inv(h).imag.sum() + L.vdot(b[:, 0], b[:, 1]).real
    loss.backward()
    return loss, h.grad, b.grad


@program
def complex_matmul_chain_double_backward(L):
    a = L.tensor(Z, requires_grad=True)
    v = L.tensor(ZV[:5], requires_grad=True)
    y = (a @ v).exp().abs().sum()
    ga, = L.autograd.grad(y, a, create_graph=True)
    h = (ga.real * ga.imag).sum()
    gv, = L.autograd.grad(h, v)
    return ga, gv


# ----------------------------------------------------------------------------------------------
# autograd mechanics and tensor API
# ----------------------------------------------------------------------------------------------
@program
def hooks_retain_grad_and_real_inputs(L):
    x = L.tensor(SIGNAL[:5], requires_grad=True)
    z = x * (1 + 2j)
    z.retain_grad()
    seen = []
    z.register_hook(lambda g: seen.append(g.clone()))
    w = (z * z.conj()).real.sum() + z.angle().sum()
    w.backward()
    return x.grad, z.grad, seen[0], x.grad.dtype


@program
def backward_of_a_complex_output_needs_a_gradient(L):
    z = L.tensor(ZV, requires_grad=True)
    y = (z * 2).sum()
    out = [err(lambda: y.backward(retain_graph=True))]
    y.backward(L.tensor(1 - 1j, dtype=L.cdouble))
    out.append(z.grad)
    out.append(err(lambda: (z * 3).backward(L.ones(6, dtype=L.float64))))
    return out


@program
def views_of_the_parts_write_through(L):
    z = L.tensor(Z.copy())
    z.real[0] = 0.0
    z.imag[:, 1] *= -1
    r = L.view_as_real(z)
    r[1, 0, 1] = 9.0
    back = L.view_as_complex(r)
    return z, back, z._version, r.stride(), z.is_complex(), z.real.is_complex()


@program
def in_place_writes_into_the_parts_of_a_tensor_on_the_graph(L):
    a = L.tensor(Z[0], requires_grad=True)
    z = a * (1 - 0.5j)
    z.imag.mul_(2)                       # through the imaginary part: recorded
    L.view_as_real(z)[1, 0] = 5.0        # and through the pairs
    z.real.clamp_(max=1.0)
    out = [z.__setitem__(2, 1j)]          # None, as Python's protocol says
    (z.abs() ** 2 + z.angle()).sum().backward()
    return out, z, a.grad, z.grad_fn is not None


@program
def printing_complex_tensors(L):
    L.set_printoptions(precision=3)
    return [str(L.tensor(Z[:2, :3])), str(L.tensor(ZV[:2], dtype=L.cfloat)),
            repr(L.tensor([1e-5 + 2j, 300 - 1j])), str(L.tensor(1j)),
            str(L.zeros(0, dtype=L.cdouble))]


@program
def checkpoint_round_trip_keeps_complex(L):
    state = {"w": L.tensor(Z), "v": L.tensor(ZV, dtype=L.cfloat)}
    if L is torch:
        return state
    buffer = io.BytesIO()
    L.save(state, buffer)
    buffer.seek(0)
    return L.load(buffer)


@program
def promotion_with_numbers_and_real_tensors(L):
    f32, f64, i64 = L.ones(2), L.ones(2, dtype=L.float64), L.arange(2)
    return [(f32 * 1j).dtype, (f64 * 1j).dtype, (i64 + 2j).dtype,
            (L.ones(2, dtype=L.cfloat) + f64).dtype, L.tensor([1, 2.5j]).dtype,
            L.result_type(f32, 1j), L.promote_types(L.cfloat, L.float64)]


@program
def ordering_ops_refuse_complex(L):
    z = L.tensor(ZV)
    return [err(lambda: z < z), err(lambda: z.max()), err(lambda: z.sort()),
            err(lambda: z.clamp(0, 1)), err(lambda: L.nn.functional.relu(z)),
            err(lambda: z.sign()), err(lambda: z.argmax()), err(lambda: z.topk(2))]


@pytest.mark.parametrize("fn", PROGRAMS, ids=[f.__name__ for f in PROGRAMS])
def test_program(fn):
    HARNESS.check(fn)
