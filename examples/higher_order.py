"""Higher-order gradients with minigrad: three experiments, each beside PyTorch's numbers.

    python examples/higher_order.py                 # print the three experiments
    python examples/higher_order.py --plot out.png  # also draw tanh and six derivatives

1. tanh and its first six derivatives on [-4, 4], each one the gradient of the previous
   (``autograd.grad(..., create_graph=True)``): no formula for d^6 tanh is written anywhere.
2. Newton's method, x <- x - H^-1 g, on the Rosenbrock function, with the gradient and the
   Hessian (``autograd.functional.hessian``) computed by minigrad: a handful of steps land
   on the minimum (1, 1).
3. A gradient penalty (as in WGAN-GP): the norm of d(score)/d(input) of a small conv net
   enters the loss, so training needs the derivative of a derivative through conv2d, relu
   and linear.

When PyTorch is installed the same computations run on it too and the largest difference
is printed (float64: expect ~1e-15).
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


def tanh_derivatives(lib, x_values, order=6):
    """[tanh(x), tanh'(x), ..., tanh^(order)(x)] as numpy arrays, by repeated autograd.grad."""
    x = lib.tensor(x_values, dtype=lib.float64, requires_grad=True)
    y = lib.tanh(x)
    out = [y.detach().numpy()]
    for _ in range(order):
        y, = lib.autograd.grad(y.sum(), x, create_graph=True)
        out.append(y.detach().numpy())
    return out


def rosenbrock(p):
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def newton(lib, start=(-1.2, 1.0), steps=7):
    """Newton's method on the Rosenbrock function: the iterates, as numpy arrays."""
    p = lib.tensor(start, dtype=lib.float64)
    path = [p.numpy().copy()]
    for _ in range(steps):
        q = p.detach().requires_grad_(True)
        g, = lib.autograd.grad(rosenbrock(q), q)
        H = lib.autograd.functional.hessian(rosenbrock, p)
        step = np.linalg.solve(H.detach().numpy(), g.detach().numpy())   # H^-1 g, 2x2
        p = p - lib.tensor(step)
        path.append(p.detach().numpy().copy())
    return path


def gradient_penalty(lib, steps=3, lr=0.05):
    """A tiny conv critic trained for a few steps on loss = -mean(score) + 10 * GP, with
    GP = mean((|d score / d input|_2 - 1)^2). Returns the losses and the final weights."""
    rng = np.random.default_rng(0)
    images = rng.standard_normal((4, 1, 8, 8))
    w_conv = rng.standard_normal((3, 1, 3, 3)) * 0.5
    w_lin = rng.standard_normal((1, 3 * 6 * 6)) * 0.2
    F = lib.nn.functional
    wc = lib.tensor(w_conv, requires_grad=True)
    wl = lib.tensor(w_lin, requires_grad=True)
    losses = []
    for _ in range(steps):
        x = lib.tensor(images, requires_grad=True)
        score = F.linear(F.relu(F.conv2d(x, wc)).reshape(4, -1), wl)      # (4, 1)
        gx, = lib.autograd.grad(score.sum(), x, create_graph=True)       # (4, 1, 8, 8)
        norms = gx.reshape(4, -1).pow(2).sum(1).sqrt()
        loss = -score.mean() + 10 * ((norms - 1) ** 2).mean()
        loss.backward()                        # through conv2d's backward: second order
        with lib.no_grad():
            wc -= lr * wc.grad
            wl -= lr * wl.grad
        wc.grad = wl.grad = None
        losses.append(float(loss.detach()))
    return losses, wc.detach().numpy(), wl.detach().numpy()


def _compare(name, mine, theirs):
    worst = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in
                zip(mine, theirs))
    print(f"  {name}: largest difference from PyTorch {worst:.1e}")


def plot_derivatives(xs, curves, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print('--plot needs matplotlib: pip install "minigrad[examples]"', file=sys.stderr)
        raise SystemExit(1)
    fig, ax = plt.subplots(figsize=(7, 4))
    for k, ys in enumerate(curves):
        label = "tanh" if k == 0 else f"d{'' if k == 1 else k}/dx{'' if k == 1 else k} tanh"
        ax.plot(xs, ys / max(1.0, np.abs(ys).max()), label=label + ("" if np.abs(ys).max() <= 1
                                                                     else " (scaled)"))
    ax.set_xlabel("x")
    ax.set_title("tanh and its first six derivatives, by repeated autograd.grad")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"wrote {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", metavar="PNG", help="draw tanh and its derivatives here")
    args = parser.parse_args(argv)
    np.set_printoptions(precision=4, suppress=True)

    print("1. tanh and its derivatives at x = -1, 0, 0.5 (each the gradient of the previous)")
    points = np.array([-1.0, 0.0, 0.5])
    mine = tanh_derivatives(minigrad, points)
    for k, values in enumerate(mine):
        print(f"  order {k}: {values}")
    if torch is not None:
        _compare("tanh derivatives", mine, tanh_derivatives(torch, points))

    print("\n2. Newton's method on the Rosenbrock function, from (-1.2, 1)")
    path = newton(minigrad)
    for k, p in enumerate(path):
        print(f"  step {k}: x = {p[0]: .6f}  y = {p[1]: .6f}  f = "
              f"{float(rosenbrock(minigrad.tensor(p))):.3e}")
    if torch is not None:
        _compare("Newton iterates", path, newton(torch))

    print("\n3. Gradient penalty through conv2d -> relu -> linear (three SGD steps)")
    losses, wc, wl = gradient_penalty(minigrad)
    print("  losses: " + ", ".join(f"{v:.6f}" for v in losses))
    if torch is not None:
        t_losses, t_wc, t_wl = gradient_penalty(torch)
        _compare("losses and trained weights", [losses, wc, wl], [t_losses, t_wc, t_wl])

    if args.plot:
        xs = np.linspace(-4, 4, 400)
        plot_derivatives(xs, tanh_derivatives(minigrad, xs), args.plot)


if __name__ == "__main__":
    main()
