"""``repr`` of tensors, laid out like PyTorch's: ``tensor([[19., 25.],\\n        [37., 43.]])``.

PyTorch picks one number format for the whole tensor: whole numbers print as ``19.``, other
values with 4 decimals (``0.1685``), and scientific notation (``1.0000e-05``) when the values
span more than three orders of magnitude or are very large or small.  Every element is padded
to the widest one so that columns line up.
"""
from __future__ import annotations

import math

import numpy as np

from . import backend
from .dtypes import bfloat16, bool_, default_complex, default_float, int64

PRECISION = 4
LINE_WIDTH = 80
THRESHOLD = 1000    # tensors with more elements than this are summarised with '...'
EDGE_ITEMS = 3
SCI_MODE = None     # set_printoptions(sci_mode=...): True / False force it, None chooses


class _Formatter:
    def __init__(self, values: np.ndarray):
        self.floating = values.dtype.kind in "fV"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = values.reshape(-1)
        if not self.floating:
            if flat.size:
                self.max_width = max(len(self._plain(v)) for v in flat)
            return
        finite = flat[np.isfinite(flat)].astype(np.float64)
        nonzero_vals = finite[finite != 0]
        nonzero = np.abs(nonzero_vals)
        if nonzero.size == 0:
            return                       # as PyTorch: width 1, so nothing gets padded
        lo, hi = float(nonzero.min()), float(nonzero.max())
        self.int_mode = bool(np.all(finite == np.ceil(finite)))
        if self.int_mode:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8
        else:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        if SCI_MODE is not None:
            self.sci_mode = bool(SCI_MODE)
        # As PyTorch, the column width comes from the nonzero finite values only: zeros, nan
        # and inf do not widen it ("tensor([0., -0.])", "tensor([nan, 1.])").
        self.max_width = max([1] + [len(self.format_plain(v)) for v in nonzero_vals])

    def _plain(self, v):
        if isinstance(v, (bool, np.bool_)):
            return "True" if v else "False"
        return str(v)

    def format_plain(self, v):
        if not self.floating:
            return self._plain(v)
        v = float(v)
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if self.sci_mode:
            return f"{v:.{PRECISION}e}"
        if self.int_mode:
            return f"{v:.0f}."
        return f"{v:.{PRECISION}f}"

    def format(self, v):
        s = self.format_plain(v)
        return " " * (self.max_width - len(s)) + s


class _ComplexFormatter:
    """Complex elements as PyTorch prints them: the real parts formatted together as one real
    tensor, the imaginary parts as another, joined as ``1.5000+2.0000j`` / ``3.-1.j``."""
    def __init__(self, values: np.ndarray):
        self.real = _Formatter(values.real)
        self.imag = _Formatter(values.imag)
        self.max_width = self.real.max_width + self.imag.max_width + 1

    def format(self, v):
        imag = (self.imag.format(v.imag) + "j").lstrip()
        return self.real.format(v.real) + ("" if imag[0] in "+-" else "+") + imag


def _summarised_values(a: np.ndarray) -> np.ndarray:
    """The elements that will be printed (edges only for big tensors), for choosing the format."""
    if a.ndim == 0 or a.size <= THRESHOLD:
        return a
    for axis in range(a.ndim):
        if a.shape[axis] > 2 * EDGE_ITEMS:
            idx = list(range(EDGE_ITEMS)) + list(range(a.shape[axis] - EDGE_ITEMS, a.shape[axis]))
            a = np.take(a, idx, axis=axis)
    return a


def _format_array(a, fmt, indent, summarise):
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        n = a.shape[0]
        if summarise and n > 2 * EDGE_ITEMS:
            items = [fmt.format(v) for v in a[:EDGE_ITEMS]] + [" ..."] + \
                    [fmt.format(v) for v in a[-EDGE_ITEMS:]]
        else:
            items = [fmt.format(v) for v in a]
        # Wrap so that each line fits in LINE_WIDTH, as PyTorch does.
        per_line = max(1, (LINE_WIDTH - indent) // (fmt.max_width + 2))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    n = a.shape[0]
    if summarise and n > 2 * EDGE_ITEMS:
        rows = [_format_array(a[i], fmt, indent + 1, summarise) for i in range(EDGE_ITEMS)]
        rows.append("...")
        rows += [_format_array(a[i], fmt, indent + 1, summarise) for i in range(n - EDGE_ITEMS, n)]
    else:
        rows = [_format_array(a[i], fmt, indent + 1, summarise) for i in range(n)]
    separator = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
    return "[" + separator.join(rows) + "]"


def tensor_repr(tensor, prefix="tensor(") -> str:
    """The text of ``repr(tensor)``; a subclass of Tensor defined outside minigrad prints under
    its own class name (``MyTensor([1., 2.])``), as PyTorch prints one."""
    if prefix == "tensor(" and type(tensor).__module__.partition(".")[0] != "minigrad":
        prefix = f"{type(tensor).__name__}("
    if tensor.device.type == "meta":
        return _meta_repr(tensor, prefix)
    if getattr(tensor, "dtype", None) == bfloat16:
        # numpy() refuses bfloat16 as PyTorch's does; its values are exact in float32
        a = backend.as_numpy(tensor._array).astype(np.float32)
    else:
        a = tensor.numpy(force=True) if hasattr(tensor, "numpy") else np.asarray(tensor)
    indent = len(prefix)
    suffixes = []
    if tensor.device.type != "cpu":
        suffixes.append(f"device='{tensor.device}'")
    if a.size == 0:
        body = "[]"
        if a.ndim != 1:
            suffixes.insert(0, f"size={tuple(a.shape)}")
    else:
        summarise = a.size > THRESHOLD
        if EDGE_ITEMS == 0:
            # as PyTorch: no edge items to show, so the size is said (and a summary is bare)
            suffixes.insert(0, f"size={tuple(a.shape)}")
        if summarise and EDGE_ITEMS == 0 and a.ndim:     # (a 0-d one shows its value)
            body = "[...]"
        else:
            shown = _summarised_values(a)
            fmt = _ComplexFormatter(shown) if a.dtype.kind == "c" else _Formatter(shown)
            body = _format_array(a, fmt, indent, summarise)
    dtype = tensor.dtype
    # As PyTorch: int64 and bool go without saying, except for an empty tensor ("tensor([],
    # dtype=torch.int64)"), where nothing else shows the dtype.
    implied = (default_float(),) if a.size == 0 else (default_float(), default_complex(),
                                                      int64, bool_)
    if dtype not in implied:
        suffixes.append(f"dtype={dtype!r}")
    suffixes += _history_suffix(tensor)
    return _add_suffixes(prefix + body, suffixes, indent)


def _history_suffix(tensor):
    """["grad_fn=<MulBackward0>"] (the node's class name, as PyTorch's: CopySlices, not
    torch::autograd::CopySlices), ["requires_grad=True"] for a leaf that requires grad, or [];
    a view whose history went stale (``_checked_view.py``) prints as PyTorch's: <Invalid>."""
    try:
        node = tensor.grad_fn
    except RuntimeError:
        return ["grad_fn=<Invalid>"]
    if node is not None:
        return [f"grad_fn=<{node.name().rpartition('::')[2]}>"]
    return ["requires_grad=True"] if tensor.requires_grad else []


def _meta_repr(tensor, prefix):
    """A meta tensor has no values to show: PyTorch prints ``...``, the device and the size,
    and the dtype whenever it is not the default float one (int64 and bool too)."""
    suffixes = ["device='meta'", f"size={tuple(tensor.shape)}"]
    if tensor.dtype != default_float():
        suffixes.append(f"dtype={tensor.dtype!r}")
    suffixes += _history_suffix(tensor)
    return _add_suffixes(prefix + "...", suffixes, len(prefix))


def _add_suffixes(text, suffixes, indent):
    """Append ", dtype=..., grad_fn=..." wrapping to a new line past LINE_WIDTH, as PyTorch.

    A suffix is measured as PyTorch's would be ("torch.float64", 3 characters shorter than
    "minigrad.float64"), so that lines break where they do in PyTorch's printouts.
    """
    parts = [text]
    last_line_len = len(text) - text.rfind("\n") + 1      # PyTorch's count, quirks included
    for suffix in suffixes:
        length = len(suffix.replace("minigrad.", "torch."))
        if last_line_len + length + 2 > LINE_WIDTH:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + length
        else:
            parts.append(", " + suffix)
            last_line_len += length + 2
    return "".join(parts) + ")"
