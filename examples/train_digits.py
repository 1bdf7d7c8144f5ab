"""Train a LeNet-style CNN (Conv2d, MaxPool2d, Linear) on handwritten digits with minigrad.

By default the data are scikit-learn's 1,797 8x8 digits (shipped inside scikit-learn, no
download), split 80/20 stratified with a fixed seed; with ``--idx DIR`` they are MNIST's
28x28 digits read from its IDX files (``train-images-idx3-ubyte[.gz]`` and the three others)
and the network grows to LeNet-5's 5x5 kernels.

    python examples/train_digits.py                       # 97.5-99.7% test accuracy, ~10 s
    python examples/train_digits.py --optimizer adam      # Adam, lr 0.003
    python examples/train_digits.py --idx ~/data/mnist --epochs 3
    python examples/train_digits.py --epochs 1 --subset 200 --out runs/smoke   # a smoke test

Writes into ``--out`` (default runs/digits): curves.png, kernels.png, feature_maps.png,
confusion.png, digits.safetensors (the weights) and metrics.json.
"""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common as C  # noqa: E402

import minigrad as torch  # noqa: E402
import minigrad.nn as nn  # noqa: E402
import minigrad.nn.functional as F  # noqa: E402



class LeNet(nn.Module):
    """LeNet-5 (conv-pool-conv-pool-fc-fc-fc), padded so that any size divisible by 4 works.

    8x8 digits:  3x3 kernels, 16 and 32 channels: 1x8x8 -> 16x4x4 -> 32x2x2 -> 120 -> 84 -> 10
    28x28 MNIST: 5x5 kernels, 6 and 16 channels:  1x28x28 -> 6x14x14 -> 16x7x7 -> ... -> 10
    """

    def __init__(self, image_size=8, num_classes=10):
        super().__init__()
        if image_size % 4:
            raise ValueError(f"LeNet here needs an image size divisible by 4, got {image_size}")
        k, c1, c2 = (3, 16, 32) if image_size <= 16 else (5, 6, 16)
        self.conv1 = nn.Conv2d(1, c1, k, padding=k // 2)
        self.conv2 = nn.Conv2d(c1, c2, k, padding=k // 2)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(c2 * (image_size // 4) ** 2, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def features(self, x):
        """The activations after each conv block: {'conv1': (N,c1,H,W), 'conv2': ...}."""
        a1 = F.relu(self.conv1(x))
        a2 = F.relu(self.conv2(self.pool(a1)))
        return {"conv1": a1, "conv2": a2}

    def forward(self, x):
        x = self.pool(self.features(x)["conv2"])
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def load_sklearn_digits(seed_split=0):
    """scikit-learn's 8x8 digits, 80/20 stratified split: images (N,1,8,8) scaled to [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    xtr, xte, ytr, yte = train_test_split(x, d.target.astype(np.int64), test_size=0.2,
                                          stratify=d.target, random_state=seed_split)
    return xtr, ytr, xte, yte, "scikit-learn digits 8x8"


def load_idx_digits(folder):
    """MNIST from its four IDX files: images (N,1,28,28) scaled to [0, 1]."""
    from idx import IdxError, load_mnist
    try:
        xtr, ytr, xte, yte = load_mnist(folder)
    except IdxError as e:
        sys.exit(f"--idx: {e}")
    h, w = xtr.shape[1:]
    if h != w:
        sys.exit(f"{folder}: expected square images, got {h}x{w}")
    size = -(-h // 4) * 4  # pad to a multiple of 4 for LeNet's two 2x2 poolings
    def prep(x):
        x = (x.astype(np.float32) / 255.0)[:, None]
        pad = size - h
        return np.pad(x, ((0, 0), (0, 0), (0, pad), (0, pad))) if pad else x
    return prep(xtr), ytr, prep(xte), yte, f"MNIST IDX {h}x{w}"


def normalise(x_train, x_test):
    """Zero mean and unit variance, with the training set's statistics."""
    mean, std = float(x_train.mean()), float(x_train.std())
    return (x_train - mean) / std, (x_test - mean) / std, mean, std


def plot_kernels(model, path):
    """The learned first-layer kernels, one tile each, in a shared grey scale."""
    plt = C.pyplot()
    w = model.conv1.weight.detach().cpu().numpy()[:, 0]
    n = len(w)
    cols = min(8, n)
    rows = -(-n // cols)
    lim = np.abs(w).max()
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.4 * rows + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(w[i], cmap="RdBu_r", vmin=-lim, vmax=lim)
            ax.set_title(str(i), fontsize=8)
    fig.suptitle(f"conv1: {n} learned {w.shape[1]}x{w.shape[2]} kernels (red +, blue -)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_feature_maps(model, image, label, pred, device, path):
    """One test image and what conv1 and conv2 (after ReLU) make of it."""
    plt = C.pyplot()
    model.eval()
    with torch.no_grad():
        feats = model.features(torch.from_numpy(image[None].astype(np.float32)).to(device))
    maps = {k: v[0].cpu().numpy() for k, v in feats.items()}
    cols = 8
    rows = [min(len(m), 16) for m in maps.values()]
    nrows = 1 + sum(-(-r // cols) for r in rows)
    fig, axes = plt.subplots(nrows, cols, figsize=(1.3 * cols, 1.35 * nrows + 0.3),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    axes[0, 0].imshow(image[0], cmap="gray_r")
    axes[0, 0].set_title(f"input: {label}\npredicted {pred}", fontsize=8)
    r = 1
    for (name, m), shown in zip(maps.items(), rows):
        for i in range(shown):
            ax = axes[r + i // cols, i % cols]
            ax.imshow(m[i], cmap="viridis")
            ax.set_title(f"{name}[{i}]", fontsize=7)
        r += -(-shown // cols)
    fig.suptitle("feature maps of one test image (after ReLU)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_confusion(cm, path, title):
    plt = C.pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    im = ax.imshow(cm, cmap="Blues")
    for i in range(len(cm)):
        for j in range(len(cm)):
            if cm[i, j]:
                ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(len(cm)))
    ax.set_yticks(range(len(cm)))
    ax.set_title(title)
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    p = C.make_parser(__doc__.split("\n")[0], epochs=20, batch_size=32, optimizer="sgd",
                      lr={"sgd": 0.05, "adam": 0.003}, weight_decay={"sgd": 5e-4, "adam": 0.0},
                      out=os.path.join("runs", "digits"), shift=1)
    p.add_argument("--idx", metavar="DIR", default=None,
                   help="train on MNIST from the IDX files in DIR (train-images-idx3-ubyte, "
                        "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                        "t10k-labels-idx1-ubyte; .gz too) instead of scikit-learn's digits; "
                        "then the defaults are 5 epochs, lr sgd 0.01 / adam 0.001 (0.05 "
                        "diverges on 28x28)")
    if p.parse_known_args(argv)[0].idx:
        C.set_defaults(p, epochs=5, lr={"sgd": 0.01, "adam": 0.001})
    args = C.parse_args(p, argv)
    C.require("tqdm", "safetensors", *(() if args.idx else ("sklearn",)),
              *(() if args.no_plots else ("matplotlib",)))
    device = C.setup(args)

    if args.idx:
        xtr, ytr, xte, yte, source = load_idx_digits(args.idx)
    else:
        xtr, ytr, xte, yte, source = load_sklearn_digits()
    xtr, ytr = C.take_subset(xtr, ytr, args.subset, args.seed)
    xte, yte = C.take_subset(xte, yte, args.subset, args.seed)
    xtr, xte, mean, std = normalise(xtr, xte)

    model = LeNet(image_size=xtr.shape[-1]).to(device)
    print(f"data: {source}, {len(xtr)} train / {len(xte)} test images of "
          f"{xtr.shape[-2]}x{xtr.shape[-1]}; model: LeNet, {C.count_parameters(model):,} "
          f"parameters; {args.optimizer} lr {args.lr}, batch {args.batch_size}, "
          f"{args.epochs} epochs, seed {args.seed}, device {device}")

    background = (0.0 - mean) / std  # a blank pixel, after normalisation: --shift's fill
    hist = C.fit(model, args, device, xtr, ytr, xte, yte, fill=background)
    test_loss, test_acc, preds = C.evaluate(model, xte, yte, device)
    cm = C.confusion_matrix(yte, preds, 10)
    print(f"\nconfusion matrix on the {len(yte)} test images:")
    print(C.format_confusion_matrix(cm))

    out = []
    out.append(C.save_checkpoint(model, os.path.join(args.out, "digits.safetensors")))
    if not args.no_plots:
        out.append(C.plot_curves(hist, os.path.join(args.out, "curves.png"),
                                 f"LeNet on {source}"))
        out.append(plot_kernels(model, os.path.join(args.out, "kernels.png")))
        out.append(plot_feature_maps(model, xte[0], int(yte[0]), int(preds[0]), device,
                                     os.path.join(args.out, "feature_maps.png")))
        out.append(plot_confusion(cm, os.path.join(args.out, "confusion.png"),
                                  f"test accuracy {100 * test_acc:.2f}%"))
    out.append(C.save_metrics(os.path.join(args.out, "metrics.json"), source=source,
                              args=vars(args), test_acc=test_acc, test_loss=test_loss,
                              confusion_matrix=cm.tolist(), normalisation=[mean, std],
                              history=hist))
    C.report("digits", args, hist, test_acc, out)
    return {"test_acc": test_acc, "history": hist, "out": out}


if __name__ == "__main__":
    main()
