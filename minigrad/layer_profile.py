"""``minigrad.profile(model, input)``: what each layer costs -- FLOPs, memory and time.

    >>> import minigrad as torch
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 5), torch.nn.ReLU())
    >>> p = torch.profile(net, (1, 3, 32, 32), verbose=False)   # verbose=True prints the table
    >>> p.total_flops, p.rows[1].flops, p.rows[1].backward_flops
    (940800, 940800, 940800)

"A 5x5 kernel on a 32x32 RGB image, 8 of them": 28x28 output positions x 8 kernels x 3x5x5
multiply-adds, 2 FLOPs each: 940,800. The numbers follow ``torch.utils.flop_counter``
exactly, so ``FlopCounterMode`` on the same PyTorch model reports the same totals:

* Only convolutions (and transposed ones) and matrix products (``Linear``) count, 2 FLOPs per
  multiply-add; bias additions, activations, pooling and normalisation count 0 there.
  Their work is estimated in a column of its own, ``other`` (see ``_OTHER_PER_ELEMENT``).
* Backward: a convolution's input-gradient costs as much as its forward and is counted only
  when the input requires grad (the first layer's usually does not); its weight-gradient
  costs the forward times ``groups`` (PyTorch's formula reads the full input channel count).
  A ``Linear`` costs its forward once for the input-gradient and once for the weight's.

Rows come from forward hooks, one per module call, as in ``summary``; FLOPs are computed
from the shapes the hooks see. A convolution or matrix product called as a *function* inside
a hand-written ``forward`` (``F.conv2d(x, w)``, ``x @ w``) belongs to no module and is not
counted: make it a module to see it.

Memory and time are measured, each module alone on the input it received:

* ``saved_bytes``: the memory its backward keeps alive -- arrays allocated by its forward
  and still referenced by the autograd graph once the input and output are dropped: a
  ``Conv2d``'s im2col columns, a ``ReLU``'s mask, a max-pool's indices. Counted with
  ``tracemalloc`` (numpy on the CPU only; ``None`` on a GPU). Two layers keeping the same
  array both count it; ``total_saved_bytes`` measures the whole model once.
* ``workspace_bytes``: the im2col matrix a convolution multiplies (C x prod(kernel) rows,
  one column per output position and sample), or col2im's for a transposed one.
* ``forward_ms`` / ``backward_ms``: the best of ``repeat`` runs of the module alone, forward,
  then ``backward`` of its output with a random upstream gradient.

The model runs in eval mode (restored afterwards) and the parameters' ``.grad`` are put
back as they were: profiling changes nothing in the model.

PyTorch's own profiler API (``torch.profiler``: events per op, schedules, Chrome traces) is
``minigrad.profiler``; this tool is minigrad's alone.
"""
from __future__ import annotations

import math
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from typing import List, Optional

from ._random_factories import Generator, randn
from .nn.modules.conv import _ConvNd, _ConvTransposeNd
from .nn.modules.linear import Linear
from .summary import _make_inputs, _model_device, _tensors_in
from .tensor import Tensor

__all__ = ["profile", "Profile", "ProfileRow"]

# Estimated elementwise work of the layers torch's flop counter ignores, per element of the
# output (of the input for adaptive pooling). Pooling counts per element read.
_OTHER_PER_ELEMENT = {
    "ReLU": 1, "LeakyReLU": 2, "ReLU6": 2, "Hardtanh": 2, "Sigmoid": 4, "Tanh": 5, "SiLU": 5,
    "GELU": 8, "Softmax": 5, "LogSoftmax": 5, "Dropout": 0, "Flatten": 0, "Identity": 0,
    "BatchNorm1d": 4, "BatchNorm2d": 4, "BatchNorm3d": 4,     # (x - mean) * invstd * w + b
}
_POOLS = ("MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d")


@dataclass
class ProfileRow:
    """One call of one module."""
    name: str                       # dotted path: 'layer1.0.conv1'; '' for the model
    type: str                       # 'Conv2d'
    depth: int
    is_leaf: bool
    input_shapes: list = field(default_factory=list)
    output_shape: Optional[list] = None
    params: int = 0                 # own parameters
    flops: int = 0                  # forward, as torch.utils.flop_counter counts them
    backward_flops: int = 0
    other_flops: int = 0            # estimated elementwise work (not in torch's count)
    saved_bytes: Optional[int] = None
    workspace_bytes: int = 0
    forward_ms: Optional[float] = None
    backward_ms: Optional[float] = None
    input_requires_grad: bool = False

    @property
    def label(self) -> str:
        return self.type if not self.name else f"{self.name} ({self.type})"


class Profile:
    """What ``profile`` returns: ``.rows`` and totals; str() is the table, .plot() a chart."""

    def __init__(self, model_name, rows, forward_ms, backward_ms, total_saved_bytes):
        self.model_name = model_name
        self.rows: List[ProfileRow] = rows
        leaves = [r for r in rows if r.is_leaf]
        self.total_flops = sum(r.flops for r in leaves)
        self.total_backward_flops = sum(r.backward_flops for r in leaves)
        self.total_other_flops = sum(r.other_flops for r in leaves)
        self.total_params = sum(r.params for r in rows)
        self.total_workspace_bytes = max((r.workspace_bytes for r in leaves), default=0)
        self.total_saved_bytes = total_saved_bytes
        self.forward_ms = forward_ms
        self.backward_ms = backward_ms

    def row(self, name) -> Optional[ProfileRow]:
        for r in self.rows:
            if r.name == name:
                return r
        return None

    def __str__(self):
        header = ("Layer (type)", "Output shape", "Params", "FLOPs fwd", "FLOPs bwd", "other",
                  "kept for bwd", "im2col", "fwd ms", "bwd ms")
        body = []
        for r in self.rows:
            body.append(("  " * r.depth + r.label,
                         "--" if r.output_shape is None else str(list(r.output_shape)),
                         f"{r.params:,}" if r.params else "--",
                         _count(r.flops), _count(r.backward_flops), _count(r.other_flops),
                         _bytes(r.saved_bytes), _bytes(r.workspace_bytes) if r.workspace_bytes
                         else "--", _ms(r.forward_ms), _ms(r.backward_ms)))
        totals = ("Total", "", f"{self.total_params:,}", _count(self.total_flops),
                  _count(self.total_backward_flops), _count(self.total_other_flops),
                  _bytes(self.total_saved_bytes), _bytes(self.total_workspace_bytes)
                  if self.total_workspace_bytes else "--", _ms(self.forward_ms),
                  _ms(self.backward_ms))
        widths = [max(len(h), *(len(b[i]) for b in body + [totals]))
                  for i, h in enumerate(header)]

        def line(cells):
            return "  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

        rule = "=" * len(line(header))
        out = [rule, line(header), rule] + [line(b) for b in body] + ["-" * len(rule),
                                                                       line(totals), rule]
        out.append("FLOPs: convolutions and matrix products, 2 per multiply-add, as "
                   "torch.utils.flop_counter; 'other': estimated elementwise work; "
                   "im2col total: the largest one")
        return "\n".join(out)

    __repr__ = __str__

    def plot(self, path=None, title=None):
        """A bar chart of each leaf layer's FLOPs (forward, backward, other) and time; saved to
        ``path`` when given. Returns the matplotlib Figure. Needs matplotlib."""
        try:
            import matplotlib
            if path is not None:
                matplotlib.use("Agg", force=False)
            import matplotlib.pyplot as plt
        except ImportError:
            raise ModuleNotFoundError('Profile.plot needs matplotlib: pip install '
                                      '"minigrad[examples]"') from None
        leaves = [r for r in self.rows if r.is_leaf]
        labels = [r.label for r in leaves]
        y = list(range(len(leaves)))
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 0.35 * len(leaves) + 1.6),
                                       sharey=True)
        left = [0.0] * len(leaves)
        for key, color, text in (("flops", "#4878d0", "forward"),
                                 ("backward_flops", "#ee854a", "backward"),
                                 ("other_flops", "#8c8c8c", "other (estimated)")):
            values = [getattr(r, key) / 1e6 for r in leaves]
            ax1.barh(y, values, left=left, color=color, label=text)
            left = [a + b for a, b in zip(left, values)]
        ax1.set_xlabel("MFLOPs")
        ax1.set_yticks(y)
        ax1.set_yticklabels(labels, fontsize=8)
        ax1.invert_yaxis()
        ax1.legend(fontsize=8, loc="lower right")
        fwd = [r.forward_ms or 0.0 for r in leaves]
        bwd = [r.backward_ms or 0.0 for r in leaves]
        ax2.barh(y, fwd, color="#4878d0", label="forward")
        ax2.barh(y, bwd, left=fwd, color="#ee854a", label="backward")
        ax2.set_xlabel("milliseconds (each layer alone)")
        ax2.legend(fontsize=8, loc="lower right")
        fig.suptitle(title or f"minigrad.profile: {self.model_name}", fontsize=10)
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=80)
        return fig


def _count(n) -> str:
    if n is None:
        return "--"
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            return f"{n / div:.2f}{unit}"
    return str(n) if n else "0"


def _bytes(n) -> str:
    if n is None:
        return "--"
    for div, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if abs(n) >= div:
            return f"{n / div:.2f} {unit}"
    return f"{n} B"


def _ms(v) -> str:
    return "--" if v is None else (f"{v:.3f}" if v < 10 else f"{v:.1f}")


def _prod(values) -> int:
    return math.prod(int(v) for v in values)


# ----------------------------------------------------------------------------------------------
# FLOPs from shapes (the formulas of torch.utils.flop_counter)
# ----------------------------------------------------------------------------------------------
def conv_flops(x_shape, w_shape, out_shape, transposed=False):
    """One convolution's forward: 2 FLOPs for each product of a kernel weight with an input
    value. A (non-transposed) convolution computes, at each of its output positions, for
    each sample, for each output channel, C_in/groups x prod(kernel) products; a transposed
    one scatters each INPUT position's C_in values through C_out/groups x prod(kernel)
    weights. Either way: 2 x batch x w_shape[0] x w_shape[1] x prod(kernel) x positions."""
    positions = (x_shape if transposed else out_shape)[2:]
    return 2 * x_shape[0] * _prod(w_shape) * _prod(positions)


def conv_backward_flops(forward, groups, input_grad, weight_grad):
    """A convolution's backward, counted as torch counts it (the bias gradient: nothing).

    The input gradient is a convolution of the same size as the forward (transposed for a
    plain one, plain for a transposed one): ``forward`` FLOPs, when the input needs it. The
    weight gradient contracts the input with the output gradient over batch and positions;
    torch's formula takes the full channel count on both sides there, ``groups`` times the
    forward's C_in/groups (or C_out/groups): ``groups * forward``.
    """
    return forward * (int(bool(input_grad)) + groups * int(bool(weight_grad)))


def _layer_costs(module, inputs, output, input_grad):
    """(flops, backward_flops, other, workspace_bytes) of one leaf module call."""
    kind = type(module).__name__
    x = inputs[0] if inputs else None
    weight = getattr(module, "weight", None)
    bias = getattr(module, "bias", None)
    out_n = output.numel() if output is not None else 0
    weight_grad = weight is not None and weight.requires_grad
    if isinstance(module, _ConvNd) and x is not None and output is not None:
        xs, ws, ys = list(x.shape), list(weight.shape), list(output.shape)
        if len(xs) == len(ws) - 1:                        # unbatched: torch adds N = 1
            xs, ys = [1] + xs, [1] + ys
        transposed = isinstance(module, _ConvTransposeNd)
        fwd = conv_flops(xs, ws, ys, transposed)
        groups = (ys[1] if transposed else xs[1]) // ws[1]
        bwd = conv_backward_flops(fwd, groups, input_grad, weight_grad)
        item = x.element_size()
        if transposed:    # col2im: C_out/G*prod(k) rows x (input positions x N), per group
            work = ys[1] * _prod(ws[2:]) * _prod(xs[2:]) * xs[0]
        else:             # im2col: C*prod(k) rows x (output positions x N)
            work = xs[1] * _prod(ws[2:]) * _prod(ys[2:]) * ys[0]
        other = out_n if bias is not None else 0
        return fwd, bwd, other, work * item
    if isinstance(module, Linear) and x is not None:
        rows = x.numel() // x.shape[-1]                   # 1 for a single vector
        fwd = 2 * rows * weight.shape[0] * weight.shape[1]
        bwd = fwd * (int(bool(input_grad)) + int(weight_grad))
        return fwd, bwd, (out_n if bias is not None else 0), 0
    if kind in _POOLS and x is not None:
        ks = module.kernel_size
        nd = int(kind[-2])
        ks = (ks,) * nd if isinstance(ks, int) else tuple(ks)
        return 0, 0, out_n * _prod(ks), 0
    if kind.startswith("Adaptive") and x is not None:
        return 0, 0, x.numel(), 0
    return 0, 0, _OTHER_PER_ELEMENT.get(kind, 1 if out_n else 0) * out_n, 0


# ----------------------------------------------------------------------------------------------
# Measuring one module alone
# ----------------------------------------------------------------------------------------------
def _fresh(inputs, requires_grad):
    """Copies of the recorded inputs, leaves, requiring grad where the originals did."""
    out = []
    for t, rg in zip(inputs, requires_grad):
        c = t.detach().clone()
        out.append(c.requires_grad_(True) if rg else c)
    return out


def _first_tensor(value):
    found = _tensors_in(value)
    return found[0] if found else None


def _time_alone(module, inputs, requires_grad, extra, repeat):
    best_f = best_b = None
    gen = Generator().manual_seed(0)
    for _ in range(repeat):
        args = _fresh(inputs, requires_grad)
        t0 = time.perf_counter()
        out = _first_tensor(module(*args, *extra))
        t1 = time.perf_counter()
        best_f = min(math.inf if best_f is None else best_f, (t1 - t0) * 1e3)
        if out is not None and out.requires_grad and out.dtype.is_floating_point:
            g = randn(*out.shape, generator=gen, dtype=out.dtype, device=out.device)
            t0 = time.perf_counter()
            out.backward(g)
            best_b = min(math.inf if best_b is None else best_b,
                         (time.perf_counter() - t0) * 1e3)
    return best_f, best_b


_NUMPY_DOMAIN = 389047     # numpy.lib.tracemalloc_domain: numpy's array buffers


def _array_bytes():
    """Bytes of numpy array data alive now (traced since tracemalloc started)."""
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.DomainFilter(True, _NUMPY_DOMAIN)])
    return sum(trace.size for trace in snapshot.traces)


def _kept_bytes(call, inputs, requires_grad):
    """Array bytes the autograd graph of ``call(*inputs)`` keeps once input and output are
    dropped.

    An input that required grad is given as a clone of a leaf: the graph holds that leaf
    anyway (it receives the gradient), so its bytes are left out; the clone is kept only if
    the layer saves its input.
    """
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start(1)
    try:
        base = _array_bytes()
        leaves = [t.detach().clone().requires_grad_(True) if rg else None
                  for t, rg in zip(inputs, requires_grad)]
        args = [leaf.clone() if leaf is not None else t.detach().clone()
                for t, leaf in zip(inputs, leaves)]
        held = sum(leaf.numel() * leaf.element_size() for leaf in leaves if leaf is not None)
        out = _first_tensor(call(*args))
        graph = None if out is None else out.grad_fn
        del args, out, leaves
        kept = max(0, _array_bytes() - base - (held if graph is not None else 0))
        del graph
        return kept
    finally:
        if started:
            tracemalloc.stop()


def profile(model, input_size=None, *, input_data=None, dtype=None, device=None,
            input_requires_grad=False, repeat=3, measure=True, file=None,
            verbose=True) -> Profile:
    """Run ``model`` once with hooks, then each layer alone, and tabulate what each costs.

    model: any ``nn.Module``. input_size: the full input shape, batch included
    ``(1, 3, 32, 32)`` (or a list of shapes); or ``input_data``: tensor(s). A tensor passed
    as ``input_size`` is taken as ``input_data``.
    input_requires_grad: count (and time) the first layer's input-gradient too.
    repeat: timing runs per layer (the best is kept); ``measure=False`` skips the timing and
    memory runs (FLOPs and shapes only).
    Prints the table unless ``verbose=False``; returns a ``Profile``: ``.rows`` (one
    ``ProfileRow`` per module call), ``.total_flops`` (forward), ``.total_backward_flops``,
    ``.total_other_flops``, ``.total_saved_bytes``, ``.forward_ms``, ``.backward_ms``;
    ``.plot(path)`` draws it (matplotlib).
    """
    if isinstance(input_size, Tensor) or (isinstance(input_size, (list, tuple)) and input_size
                                          and isinstance(input_size[0], Tensor)):
        input_data, input_size = input_size, None
    if input_data is not None:
        inputs = [input_data] if isinstance(input_data, Tensor) else list(input_data)
    elif input_size is not None:
        inputs = _make_inputs(input_size, dtype, device if device is not None
                              else _model_device(model))
    else:
        raise ValueError("profile: give input_size (a shape including the batch axis, e.g. "
                         "(1, 1, 28, 28)) or input_data (a tensor); got neither")
    inputs = [t.detach().clone().requires_grad_(True) if input_requires_grad
              and t.dtype.is_floating_point else t.detach() for t in inputs]

    modules = list(model.named_modules())
    names = {id(m): n for n, m in modules}
    has_children = {id(m): any(True for _ in m.children()) for _, m in modules}
    rows, calls, open_rows = [], [], []

    def pre_hook(module, args):
        name = names[id(module)]
        tensors = _tensors_in(args)
        row = ProfileRow(name=name, type=type(module).__name__,
                         depth=0 if name == "" else name.count(".") + 1,
                         is_leaf=not has_children[id(module)],
                         input_shapes=[list(t.shape) for t in tensors],
                         params=sum(p.numel() for p in module.parameters(recurse=False)),
                         input_requires_grad=bool(tensors) and tensors[0].requires_grad)
        rows.append(row)
        open_rows.append(row)
        calls.append((row, module, [t.detach() for t in tensors],
                      [t.requires_grad for t in tensors],
                      [a for a in args if not isinstance(a, Tensor)]))

    def hook(module, args, output):
        row = open_rows.pop()
        out = _first_tensor(output)
        row.output_shape = None if out is None else list(out.shape)
        if row.is_leaf:
            tensors = _tensors_in(args)
            row.flops, row.backward_flops, row.other_flops, row.workspace_bytes = \
                _layer_costs(module, tensors, out, row.input_requires_grad)
            if out is None or not out.requires_grad:
                row.backward_flops = 0

    training = [(m, m.training) for _, m in modules]
    grads = [(p, None if p.grad is None else p.grad.detach().clone())
             for p in model.parameters()]   # backward adds into .grad in place
    handles = []
    try:
        model.eval()
        for _, m in modules:
            handles.append(m.register_forward_pre_hook(pre_hook))
            handles.append(m.register_forward_hook(hook))
        model(*inputs)
        for h in handles:
            h.remove()
        handles = []
        for row in rows:                   # containers: the sums of their leaves
            if not row.is_leaf:
                inside = [r for r in rows if r.is_leaf and r.depth > row.depth and
                          (row.name == "" or r.name.startswith(row.name + "."))]
                row.flops = sum(r.flops for r in inside)
                row.backward_flops = sum(r.backward_flops for r in inside)
                row.other_flops = sum(r.other_flops for r in inside)
        forward_ms = backward_ms = total_saved = None
        if measure:
            cpu = all(t.device.type == "cpu" for t in inputs)
            for row, module, tensors, rgs, extra in calls:
                row.forward_ms, row.backward_ms = _time_alone(module, tensors, rgs, extra,
                                                              repeat)
                if cpu:
                    row.saved_bytes = _kept_bytes(lambda *a, m=module, e=extra: m(*a, *e),
                                                  tensors, rgs)
            top = next(r for r in rows if r.name == "")
            forward_ms, backward_ms = top.forward_ms, top.backward_ms
            total_saved = top.saved_bytes
    finally:
        for h in handles:
            h.remove()
        for m, mode in training:
            m.training = mode
        for p, g in grads:
            p.grad = g
    result = Profile(type(model).__name__, rows, forward_ms, backward_ms, total_saved)
    if verbose:
        print(result, file=sys.stdout if file is None else file)
    return result
