"""What the training examples share: options, seeding, the training loop with its progress
bar, evaluation, the confusion matrix, plots and the checkpoint.

Written against PyTorch's API (``import minigrad as torch``); only ``minigrad.save`` (a
safetensors file) is minigrad's own.  The scripts import it as ``_common``: run them from
anywhere as ``python examples/train_digits.py``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

import minigrad as torch
import minigrad.nn.functional as F
from minigrad.utils.data import DataLoader, TensorDataset

INSTALL_HINT = 'pip install "minigrad[examples]"'


def require(*modules):
    """Import the optional packages an example needs, or exit with the install command."""
    import importlib
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        sys.exit(f"this example needs {', '.join(missing)}, which minigrad's examples extra "
                 f"installs: {INSTALL_HINT}")


# ----------------------------------------------------------------------------------------------
# Options
# ----------------------------------------------------------------------------------------------
class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows "(default: ...)" except for defaults that say nothing (None, False)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def make_parser(description, *, epochs, batch_size, lr, optimizer, out, weight_decay,
                momentum=0.9, schedule="cosine", shift=0):
    """The options every example takes, with that example's defaults.

    ``lr`` and ``weight_decay`` map each optimizer ("sgd", "adam") to its default; parse the
    command line with ``parse_args`` to fill them in for the chosen one."""
    p = argparse.ArgumentParser(description=description,
                                formatter_class=_HelpFormatter)
    p.set_defaults(_lr_defaults=dict(lr), _wd_defaults=dict(weight_decay))
    by_opt = "; ".join(f"{k} {v:g}" for k, v in lr.items())
    p.add_argument("--epochs", type=int, default=epochs, help="passes over the training set")
    p.add_argument("--batch-size", type=int, default=batch_size, help="samples per step")
    p.add_argument("--lr", type=float, default=None,
                   help=f"peak learning rate (default by optimizer: {by_opt})")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default=optimizer,
                   help="minigrad.optim.SGD with momentum, or minigrad.optim.Adam")
    p.add_argument("--momentum", type=float, default=momentum, help="SGD's momentum")
    by_opt = "; ".join(f"{k} {v:g}" for k, v in weight_decay.items())
    p.add_argument("--weight-decay", type=float, default=None,
                   help=f"L2 penalty (default by optimizer: {by_opt})")
    p.add_argument("--schedule", choices=("cosine", "constant"), default=schedule,
                   help="learning rate per epoch: cosine annealing to 0, or constant")
    p.add_argument("--shift", type=int, default=shift, metavar="N",
                   help="augment: shift each training sample by a random offset of up to N "
                        "pixels along each axis (0: off)")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds the weights, the batch order and any subset: same seed, same "
                        "result")
    p.add_argument("--device", default="cpu", help="cpu or cuda (needs cupy)")
    p.add_argument("--out", default=out, help="folder for the plots, checkpoint and metrics")
    p.add_argument("--subset", type=int, default=None, metavar="N",
                   help="train on the first N training samples of a seeded shuffle (quick "
                        "runs, tests); the test set is cut to N too")
    p.add_argument("--threads", type=int, default=1,
                   help="threads for minigrad and numpy's BLAS (0: their defaults).  These "
                        "matrices are small: one thread spares the threading overhead, and is "
                        "far faster on a busy machine, where waiting threads steal the cores")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")
    p.add_argument("--no-plots", action="store_true", help="skip the PNGs")
    return p


def parse_args(parser, argv=None):
    """Parse ``argv`` (sys.argv when None), filling in the chosen optimizer's defaults."""
    args = parser.parse_args(argv)
    if args.lr is None:
        args.lr = args._lr_defaults[args.optimizer]
    if args.weight_decay is None:
        args.weight_decay = args._wd_defaults[args.optimizer]
    del args._lr_defaults, args._wd_defaults
    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def set_defaults(parser, lr=None, weight_decay=None, **others):
    """Change a parser's defaults (``lr``/``weight_decay``: per optimizer) before parsing."""
    if lr:
        parser.set_defaults(_lr_defaults={**parser.get_default("_lr_defaults"), **lr})
    if weight_decay:
        parser.set_defaults(_wd_defaults={**parser.get_default("_wd_defaults"),
                                          **weight_decay})
    parser.set_defaults(**others)


def set_threads(n):
    """Run on ``n`` threads for the rest of the process (``n`` 0: leave the defaults):
    minigrad's own and, through threadpoolctl, numpy's BLAS, as torch.set_num_threads."""
    if not n:
        return
    torch.set_num_threads(n)
    try:
        import threadpoolctl  # noqa: F401  (torch.set_num_threads used it for the BLAS)
    except ImportError:
        print(f"note: --threads needs threadpoolctl ({INSTALL_HINT}) for numpy's BLAS; set "
              f"OPENBLAS_NUM_THREADS={n} instead", file=sys.stderr)


def setup(args):
    """Seed minigrad, set the threads, check the device and make the output folder;
    returns the device."""
    set_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit('--device cuda: no CUDA device or no cupy here (pip install "minigrad[cuda]")')
    os.makedirs(args.out, exist_ok=True)
    return device


def take_subset(x, y, n, seed):
    """The first ``n`` samples of a seeded permutation of ``(x, y)`` (numpy arrays)."""
    if n is None or n >= len(x):
        return x, y
    if n <= 0:
        sys.exit(f"--subset must be positive, got {n}")
    keep = np.random.default_rng(seed).permutation(len(x))[:n]
    return x[keep], y[keep]


# ----------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------
def make_loader(x, y, batch_size, seed, device):
    """A shuffling DataLoader over numpy ``x`` (float32) and ``y`` (int64) on ``device``, its
    batch order drawn from its own generator seeded with ``seed``."""
    ds = TensorDataset(torch.from_numpy(np.ascontiguousarray(x, np.float32)).to(device),
                       torch.from_numpy(np.ascontiguousarray(y, np.int64)).to(device))
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(ds, batch_size=batch_size, shuffle=True, generator=gen)


def make_optimizer(args, params):
    if args.optimizer == "sgd":
        return torch.optim.SGD(params, lr=args.lr, momentum=args.momentum,
                               weight_decay=args.weight_decay)
    return torch.optim.Adam(params, lr=args.lr, weight_decay=args.weight_decay)


def make_scheduler(args, optimizer):
    if args.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    return None


def random_shift(x, max_shift, rng, fill):
    """Shift each sample of ``x`` (N, C, *spatial) by its own random offset in
    [-max_shift, max_shift] along every spatial axis, filling with ``fill`` (data augmentation)."""
    n, spatial = x.shape[0], x.shape[2:]
    m = max_shift
    padded = np.pad(x, [(0, 0), (0, 0)] + [(m, m)] * len(spatial), constant_values=fill)
    offsets = rng.integers(0, 2 * m + 1, size=(n, len(spatial)))
    out = np.empty_like(x)
    for i in range(n):
        window = tuple(slice(o, o + s) for o, s in zip(offsets[i], spatial))
        out[i] = padded[(i, slice(None)) + window]
    return out


def train_epoch(model, loader, optimizer, desc, progress=True, augment=None):
    """One pass over ``loader`` with a progress bar showing the running loss and accuracy;
    ``augment`` (numpy batch -> numpy batch), when given, transforms each input batch.

    Returns (mean loss, accuracy, per-batch losses)."""
    from tqdm import tqdm
    model.train()
    total_loss, correct, seen, losses = 0.0, 0, 0, []
    bar = tqdm(loader, desc=desc, leave=False, disable=not progress, dynamic_ncols=True,
               file=sys.stdout)
    for xb, yb in bar:
        if augment is not None:
            xb = torch.from_numpy(augment(xb.cpu().numpy())).to(xb.device)
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        n = len(yb)
        batch_loss = loss.item()
        losses.append(batch_loss)
        total_loss += batch_loss * n
        correct += int((logits.argmax(1) == yb).sum().item())
        seen += n
        bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{100 * correct / seen:.2f}%")
    bar.close()
    return total_loss / seen, correct / seen, losses


def evaluate(model, x, y, device, batch_size=500):
    """(mean loss, accuracy, predicted classes as numpy) of ``model`` on numpy ``x``, ``y``."""
    model.eval()
    total, preds = 0.0, []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb = torch.from_numpy(np.ascontiguousarray(x[i:i + batch_size], np.float32)).to(device)
            yb = torch.from_numpy(np.ascontiguousarray(y[i:i + batch_size], np.int64)).to(device)
            logits = model(xb)
            total += F.cross_entropy(logits, yb, reduction="sum").item()
            preds.append(logits.argmax(1).cpu().numpy())
    preds = np.concatenate(preds)
    return total / len(x), float((preds == y).mean()), preds


def fit(model, args, device, x_train, y_train, x_test, y_test, fill=0.0):
    """Train ``model`` for ``args.epochs`` and test it after each; returns the history dict.

    With ``args.shift``, each training batch is shifted at random (``random_shift``, filling
    with ``fill``), drawing from a numpy generator seeded with ``args.seed``."""
    optimizer = make_optimizer(args, model.parameters())
    scheduler = make_scheduler(args, optimizer)
    loader = make_loader(x_train, y_train, args.batch_size, args.seed, device)
    rng = np.random.default_rng(args.seed)
    augment = None
    if args.shift:
        augment = lambda xb: random_shift(xb, args.shift, rng, fill)  # noqa: E731
    hist = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": [],
            "batch_loss": [], "lr": [], "epoch_time_s": []}
    width = len(str(args.epochs))
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        loss, acc, batch_losses = train_epoch(
            model, loader, optimizer, f"epoch {epoch:{width}d}/{args.epochs}",
            progress=not args.no_progress, augment=augment)
        if scheduler is not None:
            scheduler.step()
        test_loss, test_acc, _ = evaluate(model, x_test, y_test, device)
        dt = time.perf_counter() - t0
        for k, v in (("train_loss", loss), ("train_acc", acc), ("test_loss", test_loss),
                     ("test_acc", test_acc), ("lr", lr), ("epoch_time_s", dt)):
            hist[k].append(v)
        hist["batch_loss"].extend(batch_losses)
        print(f"epoch {epoch:{width}d}/{args.epochs}  lr {lr:.4g}  train loss {loss:.4f} "
              f"acc {100 * acc:.2f}%  test loss {test_loss:.4f} acc {100 * test_acc:.2f}%  "
              f"({dt:.1f} s)", flush=True)
    hist["train_time_s"] = time.perf_counter() - start
    return hist


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------------
def confusion_matrix(y_true, y_pred, num_classes):
    """``cm[i, j]``: how many samples of class i were predicted as j."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm


def format_confusion_matrix(cm, labels=None):
    """The confusion matrix as text: rows are the true class, columns the predicted one."""
    n = len(cm)
    labels = [str(i) for i in range(n)] if labels is None else [str(s) for s in labels]
    w = max(max(len(s) for s in labels), len(str(int(cm.max()))) if cm.size else 1) + 1
    lines = ["true \\ predicted",
             " " * (w + 2) + "".join(f"{s:>{w}}" for s in labels) + "   recall"]
    for i in range(n):
        total = cm[i].sum()
        recall = f"{100 * cm[i, i] / total:6.1f}%" if total else "     -"
        lines.append(f"{labels[i]:>{w}} |" + "".join(f"{int(v):>{w}}" for v in cm[i])
                     + f"  {recall}")
    return "\n".join(lines)


def save_checkpoint(model, path):
    """The model's weights as safetensors (``minigrad.load(path)`` or safetensors reads it)."""
    torch.save(model.state_dict(), path)
    return path


def save_metrics(path, **metrics):
    with open(path, "w") as f:
        json.dump(metrics, f, indent=1)
    return path


def pyplot():
    """matplotlib's pyplot on the Agg backend (PNG files, no display needed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_curves(hist, path, title):
    """Loss (per batch and per epoch) and accuracy curves, train and test, in one PNG."""
    plt = pyplot()
    epochs = np.arange(1, len(hist["train_loss"]) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    nb = len(hist["batch_loss"])
    if nb:
        ax1.plot(np.arange(1, nb + 1) * len(epochs) / nb, hist["batch_loss"], color="0.75",
                 lw=0.7, label="train (per batch)")
    ax1.plot(epochs, hist["train_loss"], "o-", label="train (epoch mean)")
    ax1.plot(epochs, hist["test_loss"], "s-", label="test")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("cross-entropy loss")
    ax1.set_yscale("log")
    ax1.legend()
    ax2.plot(epochs, 100 * np.asarray(hist["train_acc"]), "o-", label="train")
    ax2.plot(epochs, 100 * np.asarray(hist["test_acc"]), "s-", label="test")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy (%)")
    ax2.grid(alpha=0.3)
    ax2.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def report(name, args, hist, test_acc, out_files):
    """The closing lines: test accuracy, wall time, and where the files went."""
    print(f"{name}: test accuracy {100 * test_acc:.2f}% after {args.epochs} epochs "
          f"({hist['train_time_s']:.1f} s training)")
    for f in out_files:
        print(f"wrote {f}")
