"""Learn an edge detector from examples: seed 002's experiment (d2l.ai, "Understanding
convolutions"), on minigrad.

X is a 6x8 image of ones whose columns 2-5 are zero; Y = corr2d(X, [[1, -1]]) marks its two
vertical edges (+1 where 1 turns to 0, -1 where 0 turns to 1).  A Conv2d with one 1x2 kernel
and no bias sees only (X, Y) and learns the kernel by plain gradient descent on the squared
error, with the tutorial's settings: learning rate 0.03, 20 steps.

    python examples/learn_edge_kernel.py                 # Epoch 5, loss ... / learned kernel
    python examples/learn_edge_kernel.py --seed 3 --plot edge.png   # + X, Y, weights per step
                                                  # (--plot needs matplotlib)

Why it always works: the loss is quadratic in the kernel (w1, w2) with Hessian
[[36, 24], [24, 36]] (eigenvalues 60 and 12), so each step multiplies the error along (1, 1)
by 1 - 60 lr = -0.8 and along (1, -1) by 1 - 12 lr = 0.64.  After 20 steps any start within
PyTorch's default init (|w| < 1/sqrt(2)) is within 0.01 of [1, -1].
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import minigrad as torch
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import minigrad as torch
from minigrad import nn
from minigrad.ops.conv import corr2d as corr2d_arrays   # the library's loop-based reference

LR = 3e-2
STEPS = 20


def corr2d(X, K):
    """2-D cross-correlation of two tensors (``Y[i, j] = (X[i:i+h, j:j+w] * K).sum()``)."""
    return torch.from_numpy(corr2d_arrays(X.numpy(), K.numpy()))


def make_data():
    """X: 6x8 ones with columns 2-5 zero; Y = corr2d(X, [[1, -1]]) (6x7)."""
    X = torch.ones((6, 8))
    X[:, 2:6] = 0
    K = torch.tensor([[1.0, -1.0]])
    return X, corr2d(X, K)


def train(seed=0, lr=LR, steps=STEPS, log=print):
    """Learn the 1x2 kernel from a random start; return (kernel, weights, losses).

    kernel: the learned [w1, w2]; weights: [w1, w2] at the start and after each step
    (steps + 1 pairs); losses: the summed squared error at each step.  ``log`` gets a line
    ``Epoch 5, loss 0.832`` every 5 steps (None: silent).
    """
    torch.manual_seed(seed)
    image, edges = make_data()
    image, edges = image.reshape(1, 1, 6, 8), edges.reshape(1, 1, 6, 7)
    layer = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False)      # one 1x2 kernel, no bias
    weights = [layer.weight.detach().flatten().tolist()]
    losses = []
    for step in range(1, steps + 1):
        loss = ((layer(image) - edges) ** 2).sum()               # summed squared error
        layer.zero_grad()
        loss.backward()
        with torch.no_grad():                                   # plain gradient descent
            layer.weight -= lr * layer.weight.grad
        weights.append(layer.weight.detach().flatten().tolist())
        losses.append(loss.item())
        if log is not None and step % 5 == 0:
            log(f"Epoch {step}, loss {loss.item():.3f}")
    return weights[-1], weights, losses


def plot(path, weights, seed):
    """Save X, Y and the two weights over the steps to ``path`` (matplotlib, Agg backend)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, Y = make_data()
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    for ax, img, title in [(axes[0], X, "X (6x8)"), (axes[1], Y, "Y = corr2d(X, [[1, -1]])")]:
        ax.imshow(img.numpy(), cmap="gray" if img is X else "bwr", vmin=0 if img is X else -1,
                  vmax=1)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
    ax = axes[2]
    for k, target in enumerate([1.0, -1.0]):
        ax.plot(range(len(weights)), [w[k] for w in weights], marker="o", ms=3,
                label=f"w{k + 1} -> {target:+.0f}")
        ax.axhline(target, color="gray", lw=0.8, ls="--")
    ax.set_xlabel("step")
    ax.set_title(f"the kernel's weights (seed {seed})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="random seed of the initial kernel")
    parser.add_argument("--plot", metavar="OUT.png", help="save X, Y and the weights per step")
    args = parser.parse_args(argv)
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            sys.exit('--plot needs matplotlib: pip install "minigrad[examples]"')
    kernel, weights, _ = train(seed=args.seed)
    print(f"learned kernel: [{kernel[0]:.4f}, {kernel[1]:.4f}]  (target [1, -1])")
    if args.plot:
        plot(args.plot, weights, args.seed)
        print(f"saved {args.plot}")
    return kernel


if __name__ == "__main__":
    main()
