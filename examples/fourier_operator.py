"""A Fourier neural operator learns the heat equation's solution operator (complex tensors,
``torch.fft`` and Adam on complex parameters, in minigrad).

    python examples/fourier_operator.py            # train, print the errors every 50 steps
    python examples/fourier_operator.py --steps 60 # a shorter run

The data are generated, not downloaded: random smooth periodic functions u0(x) on a grid of
64 points (a few random Fourier modes each), and for each the solution of the heat equation
u_t = nu u_xx at time t, which multiplies Fourier mode k by exp(-nu k^2 t); then a pointwise
nonlinearity, u(t)^2 / 2, is added so that the map is not diagonal in Fourier space.

The model is the Fourier layer of Li et al. (2021): lift each point to ``width`` channels,
then twice [rfft, multiply the lowest ``modes`` frequencies by learned complex matrices
(channels x channels, one per mode), irfft, plus a pointwise linear map, GELU], and project
back to one channel. The spectral weights are complex parameters: their gradients follow
PyTorch's convention and Adam updates them as their (real, imag) pairs, as PyTorch does.
When PyTorch is installed the same model, from the same initial weights, is trained on it too,
and the two test errors are printed side by side.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:          # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

import minigrad  # noqa: E402

try:
    import torch
except ImportError:                    # the examples run without torch; the comparison is skipped
    torch = None

GRID, WIDTH, MODES = 64, 12, 10


def make_data(n, seed, nu=0.02, t=1.0):
    """(u0, u) arrays (n, GRID): u0 from 6 random low modes, u the heat flow of u0 at time t
    plus u^2 / 2."""
    rng = np.random.default_rng(seed)
    k = np.arange(GRID // 2 + 1)
    coeffs = np.zeros((n, k.size), dtype=complex)
    coeffs[:, 1:7] = (rng.standard_normal((n, 6)) + 1j * rng.standard_normal((n, 6))) * GRID / 4
    u0 = np.fft.irfft(coeffs, GRID)
    heat = np.fft.irfft(coeffs * np.exp(-nu * (2 * np.pi * k) ** 2 * t / 4), GRID)
    return u0, heat + heat ** 2 / 2


def initial_weights(seed=0):
    """The model's weights as numpy arrays, shared by the minigrad and the PyTorch runs."""
    rng = np.random.default_rng(seed)
    scale = 1 / WIDTH

    def spectral():
        return (rng.standard_normal((WIDTH, WIDTH, MODES)) +
                1j * rng.standard_normal((WIDTH, WIDTH, MODES))) * scale
    return {"lift": rng.standard_normal((WIDTH, 2)) * 0.5,
            "spectral1": spectral(), "spectral2": spectral(),
            "point1": rng.standard_normal((WIDTH, WIDTH)) * scale,
            "point2": rng.standard_normal((WIDTH, WIDTH)) * scale,
            "project": rng.standard_normal((1, WIDTH)) * scale}


def build(lib, weights):
    """The Fourier neural operator in ``lib`` (minigrad or torch), float64 / complex128."""
    nn, F = lib.nn, lib.nn.functional

    class FourierLayer(nn.Module):
        """(B, C, N) -> (B, C, N): modes 0..MODES-1 mixed across channels, plus a pointwise
        linear map."""
        def __init__(self, spectral, point):
            super().__init__()
            self.spectral = nn.Parameter(lib.tensor(spectral))       # (C_in, C_out, MODES)
            self.point = nn.Parameter(lib.tensor(point))             # (C_out, C_in)

        def forward(self, x):
            x_ft = lib.fft.rfft(x)                                   # (B, C, N // 2 + 1)
            low = lib.einsum("bix,iox->box", x_ft[..., :MODES], self.spectral)
            out_ft = F.pad(low, (0, x_ft.shape[-1] - MODES))          # zeros above MODES
            return lib.fft.irfft(out_ft, x.shape[-1]) + lib.einsum("oi,bin->bon", self.point, x)

    class FNO(nn.Module):
        def __init__(self):
            super().__init__()
            self.lift = nn.Parameter(lib.tensor(weights["lift"]))
            self.layer1 = FourierLayer(weights["spectral1"], weights["point1"])
            self.layer2 = FourierLayer(weights["spectral2"], weights["point2"])
            self.project = nn.Parameter(lib.tensor(weights["project"]))

        def forward(self, u0):                                      # (B, N) -> (B, N)
            x = lib.linspace(0, 1, u0.shape[-1], dtype=lib.float64).expand_as(u0)
            h = lib.einsum("cj,bjn->bcn", self.lift, lib.stack([u0, x], 1))   # (B, C, N)
            h = F.gelu(self.layer1(h))
            h = F.gelu(self.layer2(h))
            return lib.einsum("oc,bcn->bon", self.project, h)[:, 0]

    return FNO()


def relative_error(lib, model, u0, u):
    with lib.no_grad():
        pred = model(lib.tensor(u0))
    return float(((pred - lib.tensor(u)).norm(dim=1) / lib.tensor(u).norm(dim=1)).mean())


def train(lib, steps, batch=32, lr=3e-3, log=None):
    """Trains the FNO in ``lib``; returns the (train, test) relative L2 errors at the end."""
    u0, u = make_data(256, seed=1)
    u0_test, u_test = make_data(64, seed=2)
    model = build(lib, initial_weights())
    opt = lib.optim.Adam(model.parameters(), lr=lr)
    order = np.random.default_rng(3)
    for step in range(1, steps + 1):
        pick = order.choice(len(u0), batch, replace=False)
        x, y = lib.tensor(u0[pick]), lib.tensor(u[pick])
        loss = ((model(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if log is not None and (step % 50 == 0 or step == steps):
            log(f"step {step:4d}  loss {loss.item():.5f}  test relative error "
                f"{relative_error(lib, model, u0_test, u_test):.4f}")
    return relative_error(lib, model, u0, u), relative_error(lib, model, u0_test, u_test)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args(argv)
    minigrad.manual_seed(0)
    start = relative_error(minigrad, build(minigrad, initial_weights()), *make_data(64, seed=2))
    print(f"untrained test relative error {start:.4f}")
    train_err, test_err = train(minigrad, args.steps, log=print)
    print(f"minigrad: train relative error {train_err:.4f}, test {test_err:.4f}")
    if torch is not None:
        _, their_test = train(torch, args.steps)
        print(f"PyTorch, same weights and batches: test {their_test:.4f} "
              f"(difference {abs(their_test - test_err):.1e})")
    return test_err


if __name__ == "__main__":
    main()
