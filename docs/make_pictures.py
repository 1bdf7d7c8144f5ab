"""Make the pictures in docs/images/ from minigrad's own computations and the examples' runs.

    python docs/make_pictures.py              # everything (about a minute on 2 cores)
    python docs/make_pictures.py --only conv  # one group: edge, conv, digits, mnist1d

Needs the examples' packages (pip install "minigrad[examples]").  Every number drawn comes from
minigrad: the window diagrams print the outputs of ``F.conv2d`` / ``F.max_pool2d``, and the
training pictures are the PNGs that examples/train_digits.py and examples/train_mnist1d.py
write, re-saved with a palette so that each stays well under 150 KB.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
IMAGES = HERE / "images"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

import minigrad  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402


def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"font.size": 9, "savefig.dpi": 90})
    return plt


def shrink(path):
    """Re-save a PNG with an adaptive 128-colour palette (a few times smaller, same look)."""
    from PIL import Image
    img = Image.open(path).convert("RGB")
    img.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    return path


def save(fig, name):
    plt = pyplot()
    path = IMAGES / name
    fig.savefig(path, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    shrink(path)
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")
    return path


# ---- small grids with windows -------------------------------------------------------------------
def draw_grid(ax, values, title, highlight=(), colour="tab:orange", fmt="{:g}", faded=None):
    """A matrix as a grid of numbered cells; ``highlight`` lists (row, col) cells to shade;
    ``faded`` is a boolean mask of cells drawn in grey (padding)."""
    values = np.asarray(values)
    rows, cols = values.shape
    ax.set_xlim(-0.56, cols - 0.44)
    ax.set_ylim(rows - 0.44, -0.56)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    for r in range(rows):
        for c in range(cols):
            grey = faded is not None and faded[r, c]
            face = colour if (r, c) in highlight else ("0.93" if grey else "white")
            ax.add_patch(__import__("matplotlib").patches.Rectangle(
                (c - 0.5, r - 0.5), 1, 1, facecolor=face, edgecolor="0.35", lw=0.8,
                alpha=0.55 if (r, c) in highlight else 1))
            ax.text(c, r, fmt.format(values[r, c]), ha="center", va="center",
                    color="0.55" if grey else "black", fontsize=9)
    ax.set_title(title, fontsize=9)


def window_cells(r0, c0, kh, kw, dilation=1):
    return {(r0 + i * dilation, c0 + j * dilation) for i in range(kh) for j in range(kw)}


def picture_windows():
    """The 2x2 kernel sliding over the 3x3 input: each output is one window's sum of products."""
    plt = pyplot()
    X = minigrad.tensor([[0.0, 1, 2], [3, 4, 5], [6, 7, 8]])
    K = minigrad.tensor([[0.0, 1], [2, 3]])
    Y = F.conv2d(X[None, None], K[None, None])[0, 0].numpy()
    fig, axes = plt.subplots(1, 6, figsize=(11, 2.2), gridspec_kw={"width_ratios": [3, 3, 3, 3, 2, 2]})
    for k, (i, j) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        cells = window_cells(i, j, 2, 2)
        terms = "+".join(f"{X[i + a, j + b].item():g}·{K[a, b].item():g}"
                         for a in range(2) for b in range(2))
        draw_grid(axes[k], X.numpy(), f"out[{i},{j}] = {Y[i, j]:g}\n{terms}", cells)
    draw_grid(axes[4], K.numpy(), "kernel K", colour="tab:blue",
              highlight={(a, b) for a in range(2) for b in range(2)})
    draw_grid(axes[5], Y, "F.conv2d(X, K)", highlight={(0, 0), (0, 1), (1, 0), (1, 1)},
              colour="tab:green")
    fig.suptitle("A 2x2 kernel slides over a 3x3 input: 4 windows, 4 outputs", y=1.08)
    return save(fig, "conv_windows.png")


def picture_padding_stride():
    """padding=1 makes the 3x3 input 5x5; stride (3, 2) keeps every 3rd row, 2nd column."""
    plt = pyplot()
    X = minigrad.tensor([[0.0, 1, 2], [3, 4, 5], [6, 7, 8]])
    K = minigrad.tensor([[0.0, 1], [2, 3]])
    padded = F.pad(X, (1, 1, 1, 1)).numpy()
    pad_mask = np.ones((5, 5), bool)
    pad_mask[1:4, 1:4] = False
    full = F.conv2d(X[None, None], K[None, None], padding=1)[0, 0].numpy()
    strided = F.conv2d(X[None, None], K[None, None], padding=1, stride=(3, 2))[0, 0].numpy()
    fig, axes = plt.subplots(1, 4, figsize=(11, 2.9), gridspec_kw={"width_ratios": [5, 4, 5, 2]})
    draw_grid(axes[0], padded, "padding=1: a ring of zeros\n(5x5)", faded=pad_mask)
    draw_grid(axes[1], full, "stride 1: 4x4 outputs", colour="tab:green",
              highlight={(r, c) for r in (0, 3) for c in (0, 2)})
    starts = [(r, c) for r in (0, 3) for c in (0, 2)]
    cells = set().union(*(window_cells(r, c, 2, 2) for r, c in starts))
    draw_grid(axes[2], padded, "stride (3, 2): windows start\nat rows 0, 3 and columns 0, 2",
              cells, faded=pad_mask)
    draw_grid(axes[3], strided, "stride (3, 2):\n2x2 outputs", colour="tab:green",
              highlight={(0, 0), (0, 1), (1, 0), (1, 1)})
    fig.suptitle("Padding adds zeros around the input; stride skips window positions", y=1.05)
    return save(fig, "padding_stride.png")


def picture_dilation():
    """Which inputs one 3x3 window reads with dilation 1, 2 and 3 (7x7 input)."""
    plt = pyplot()
    x = minigrad.arange(49.0).reshape(1, 1, 7, 7)
    w = minigrad.ones(1, 1, 3, 3)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.3))
    for ax, d in zip(axes, (1, 2, 3)):
        out = F.conv2d(x, w, dilation=d)
        cells = window_cells(0, 0, 3, 3, d)
        total = sum(r * 7 + c for r, c in cells)
        draw_grid(ax, x[0, 0].numpy(), f"dilation={d}: output {list(out.shape[2:])}\n"
                  f"out[0,0] = sum of the shaded = {out[0, 0, 0, 0].item():g}", cells)
        assert total == out[0, 0, 0, 0].item()
    fig.suptitle("Dilation spreads the kernel's taps apart: a 3x3 kernel covering 3x3, 5x5, 7x7",
                 y=1.04)
    return save(fig, "dilation.png")


def picture_pooling():
    """2x2 max-pooling and average pooling of a 4x4 input."""
    plt = pyplot()
    x = minigrad.tensor([[1.0, 3, 2, 0], [4, 6, 1, 5], [7, 2, 9, 8], [0, 1, 3, 4]])
    mx, idx = F.max_pool2d(x[None, None], 2, return_indices=True)
    avg = F.avg_pool2d(x[None, None], 2)
    winners = {(int(i) // 4, int(i) % 4) for i in idx.flatten().tolist()}
    fig, axes = plt.subplots(1, 3, figsize=(8, 2.8), gridspec_kw={"width_ratios": [4, 2, 2]})
    draw_grid(axes[0], x.numpy(), "input 4x4, windows 2x2\n(shaded: each window's max)", winners)
    for r in (1.5,):
        axes[0].axhline(r, color="k", lw=2)
        axes[0].axvline(r, color="k", lw=2)
    draw_grid(axes[1], mx[0, 0].numpy(), "max_pool2d(x, 2)", colour="tab:green",
              highlight={(0, 0), (0, 1), (1, 0), (1, 1)})
    draw_grid(axes[2], avg[0, 0].numpy(), "avg_pool2d(x, 2)", fmt="{:.4g}")
    fig.suptitle("Pooling: one number per window (the gradient of max goes to the shaded cell)",
                 y=1.06)
    return save(fig, "pooling.png")


def picture_edge_kernel():
    """The README's example: X, Y and the two weights over 20 steps (learn_edge_kernel.py)."""
    import learn_edge_kernel as L
    _, weights, _ = L.train(seed=0, log=None)
    path = IMAGES / "edge_kernel.png"
    L.plot(path, weights, seed=0)
    shrink(path)
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")
    return path


def copy_run(out, names):
    for src, dst in names:
        path = IMAGES / dst
        shutil.copyfile(Path(out) / src, path)
        shrink(path)
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")


def picture_digits():
    import train_digits
    with tempfile.TemporaryDirectory() as out:
        train_digits.main(["--out", out, "--no-progress"])
        copy_run(out, [("curves.png", "digits_curves.png"), ("kernels.png", "digits_kernels.png"),
                       ("confusion.png", "digits_confusion.png"),
                       ("feature_maps.png", "digits_feature_maps.png")])


def picture_mnist1d():
    import train_mnist1d
    with tempfile.TemporaryDirectory() as out:
        train_mnist1d.main(["--out", out, "--no-progress"])
        copy_run(out, [("curves.png", "mnist1d_curves.png"),
                       ("kernels.png", "mnist1d_kernels.png"),
                       ("signals.png", "mnist1d_signals.png")])


def picture_autograd():
    """The graph of y = sum(tanh(x) * w) and the graph that backward(create_graph=True)
    records for dy/dx (needs Graphviz's dot), and tanh with six derivatives."""
    import higher_order
    from minigrad import viz
    x = minigrad.tensor([0.5, -1.0], requires_grad=True)
    w = minigrad.tensor([2.0, 3.0], requires_grad=True)
    y = (minigrad.tanh(x) * w).sum()
    gx, = minigrad.autograd.grad(y, x, create_graph=True)
    for graph, name in ((viz.draw_graph(y, params={"x": x, "w": w}), "graph_forward"),
                        (viz.draw_graph(gx, params={"x": x, "w": w}), "graph_gradient")):
        with tempfile.TemporaryDirectory() as tmp:
            made = graph.render(os.path.join(tmp, name), format="png")
            copy_run(tmp, [(os.path.basename(made), name + ".png")])
    path = IMAGES / "higher_order_tanh.png"
    higher_order.plot_derivatives(np.linspace(-4, 4, 400),
                                  higher_order.tanh_derivatives(minigrad,
                                                                np.linspace(-4, 4, 400)), path)
    shrink(path)


GROUPS = {"edge": [picture_edge_kernel], "autograd": [picture_autograd],
          "conv": [picture_windows, picture_padding_stride, picture_dilation, picture_pooling],
          "digits": [picture_digits], "mnist1d": [picture_mnist1d]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(GROUPS), action="append",
                        help="make one group of pictures (repeatable)")
    args = parser.parse_args(argv)
    os.makedirs(IMAGES, exist_ok=True)
    for group in args.only or list(GROUPS):
        for make in GROUPS[group]:
            make()


if __name__ == "__main__":
    main()
