"""Train a 1-D CNN (Conv1d, MaxPool1d, Linear) on MNIST-1D with minigrad.

MNIST-1D (Greydanus & Steinbach, "Scaling down deep learning", 2020) turns the ten digits into
1-D signals of length 40 (templates padded, sheared, scaled, shifted and made noisy).  The data
are generated here by the ``mnist1d`` package's ``make_dataset`` with its default arguments
(5,000 signals: 4,000 train, 1,000 test, seed 42), never downloaded.

    python examples/train_mnist1d.py                      # 97-98% test accuracy, ~25 s
    python examples/train_mnist1d.py --optimizer sgd --lr 0.05
    python examples/train_mnist1d.py --epochs 1 --subset 500 --out runs/smoke   # a smoke test

Writes into ``--out`` (default runs/mnist1d): curves.png, signals.png, kernels.png,
mnist1d.safetensors (the weights) and metrics.json.
"""
from __future__ import annotations

import os
import socket
import sys
from contextlib import contextmanager

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

import minigrad as torch  # noqa: E402
import minigrad.nn as nn  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402

# Table 1 of the paper (MNIST-1D test accuracy), https://arxiv.org/abs/2011.14439
PAPER = [("logistic regression", 32), ("MLP", 68), ("CNN", 94), ("GRU", 91),
         ("human", 96)]


class ConvNet1d(nn.Module):
    """Four 1-D convolutions and three 2x max-poolings, then two linear layers:
    1x40 -> 32x40 -> 32x40 -> pool 32x20 -> 64x20 -> pool 64x10 -> 64x10 -> pool 64x5
    -> 128 -> 10."""

    def __init__(self, length=40, num_classes=10, width=32):
        super().__init__()
        if length % 8:
            raise ValueError(f"ConvNet1d needs a length divisible by 8, got {length}")
        self.conv1 = nn.Conv1d(1, width, 5, padding=2)
        self.conv2 = nn.Conv1d(width, width, 3, padding=1)
        self.conv3 = nn.Conv1d(width, 2 * width, 3, padding=1)
        self.conv4 = nn.Conv1d(2 * width, 2 * width, 3, padding=1)
        self.pool = nn.MaxPool1d(2)
        self.fc1 = nn.Linear(2 * width * (length // 8), 128)
        self.fc2 = nn.Linear(128, num_classes)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = self.pool(F.relu(self.conv2(x)))
        x = self.pool(F.relu(self.conv3(x)))
        x = self.pool(F.relu(self.conv4(x)))
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


@contextmanager
def no_network():
    """Any attempt to open a network connection inside raises: the data are made locally."""
    real = socket.socket.connect

    def refuse(self, *a, **k):
        raise RuntimeError("train_mnist1d.py: MNIST-1D must be generated locally, not "
                           "downloaded")
    socket.socket.connect = refuse
    try:
        yield
    finally:
        socket.socket.connect = real


def load_mnist1d():
    """MNIST-1D from ``mnist1d.data.make_dataset`` with the default arguments: signals as
    (N, 1, 40) float32, labels int64, and the (40,) time axis."""
    C.pyplot()  # mnist1d imports pyplot: make it the Agg backend first
    from mnist1d.data import get_dataset_args, make_dataset
    state = np.random.get_state()  # make_dataset reseeds numpy's global generator
    try:
        with no_network():
            d = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(state)
    def prep(x):
        return np.asarray(x, np.float32)[:, None]
    return (prep(d["x"]), np.asarray(d["y"], np.int64), prep(d["x_test"]),
            np.asarray(d["y_test"], np.int64), np.asarray(d["t"], np.float32))


def paper_table(test_acc):
    """This run beside Table 1 of the paper."""
    lines = ["MNIST-1D test accuracy (Greydanus & Steinbach 2020, Table 1, and this run)"]
    for name, acc in PAPER:
        lines.append(f"  {name + ' (paper)':<32}{acc:>3d}%")
    lines.append(f"  {'minigrad ConvNet1d (this run)':<32}{100 * test_acc:.2f}%")
    return "\n".join(lines)


def plot_signals(x, y, pred, path):
    """Test signals, one per class (and the first misclassified ones), with predictions."""
    plt = C.pyplot()
    picks = [int(np.flatnonzero(y == c)[0]) for c in range(10) if (y == c).any()]
    wrong = [int(i) for i in np.flatnonzero(pred != y) if int(i) not in picks][:5]
    picks += wrong
    cols = 5
    rows = -(-len(picks) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 1.9 * rows), squeeze=False,
                             sharex=True, sharey=True)
    for ax in axes.flat:
        ax.axis("off")
    for k, i in enumerate(picks):
        ax = axes[k // cols, k % cols]
        ax.axis("on")
        ok = pred[i] == y[i]
        ax.plot(x[i, 0], color="k" if ok else "tab:red", lw=1.5)
        ax.set_title(f"#{i}: label {y[i]}, predicted {pred[i]}", fontsize=8,
                     color="k" if ok else "tab:red")
        ax.tick_params(labelsize=6)
    fig.suptitle("MNIST-1D test signals (red: misclassified)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_kernels(model, path):
    """conv1's learned kernels (width 5), one line each."""
    plt = C.pyplot()
    w = model.conv1.weight.detach().cpu().numpy()[:, 0]
    cols = 8
    rows = -(-len(w) // cols)
    lim = np.abs(w).max() * 1.1
    fig, axes = plt.subplots(rows, cols, figsize=(1.4 * cols, 1.1 * rows + 0.4), squeeze=False,
                             sharey=True)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i < len(w):
            ax.bar(np.arange(w.shape[1]), w[i], color=np.where(w[i] > 0, "tab:red", "tab:blue"))
            ax.set_ylim(-lim, lim)
        else:
            ax.axis("off")
    fig.suptitle(f"conv1: {len(w)} learned kernels of width {w.shape[1]}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    p = C.make_parser(__doc__.split("\n")[0], epochs=30, batch_size=64, optimizer="adam",
                      lr={"sgd": 0.05, "adam": 0.003}, weight_decay={"sgd": 5e-4, "adam": 0.0},
                      out=os.path.join("runs", "mnist1d"), shift=2)
    args = C.parse_args(p, argv)
    C.require("tqdm", "safetensors", "matplotlib", "mnist1d")
    device = C.setup(args)

    xtr, ytr, xte, yte, _ = load_mnist1d()
    xtr, ytr = C.take_subset(xtr, ytr, args.subset, args.seed)
    xte, yte = C.take_subset(xte, yte, args.subset, args.seed)

    model = ConvNet1d(length=xtr.shape[-1]).to(device)
    print(f"data: MNIST-1D (mnist1d.make_dataset, default arguments), {len(xtr)} train / "
          f"{len(xte)} test signals of length {xtr.shape[-1]}; model: ConvNet1d, "
          f"{C.count_parameters(model):,} parameters; {args.optimizer} lr {args.lr}, batch "
          f"{args.batch_size}, {args.epochs} epochs, seed {args.seed}, device {device}")

    hist = C.fit(model, args, device, xtr, ytr, xte, yte)
    test_loss, test_acc, preds = C.evaluate(model, xte, yte, device)
    cm = C.confusion_matrix(yte, preds, 10)
    print(f"\nconfusion matrix on the {len(yte)} test signals:")
    print(C.format_confusion_matrix(cm))
    print()
    print(paper_table(test_acc))

    out = [C.save_checkpoint(model, os.path.join(args.out, "mnist1d.safetensors"))]
    if not args.no_plots:
        out.append(C.plot_curves(hist, os.path.join(args.out, "curves.png"),
                                 "ConvNet1d on MNIST-1D"))
        out.append(plot_signals(xte, yte, preds, os.path.join(args.out, "signals.png")))
        out.append(plot_kernels(model, os.path.join(args.out, "kernels.png")))
    out.append(C.save_metrics(os.path.join(args.out, "metrics.json"), source="MNIST-1D",
                              args=vars(args), test_acc=test_acc, test_loss=test_loss,
                              confusion_matrix=cm.tolist(), paper=dict(PAPER),
                              history=hist))
    C.report("mnist1d", args, hist, test_acc, out)
    return {"test_acc": test_acc, "history": hist, "out": out}


if __name__ == "__main__":
    main()
