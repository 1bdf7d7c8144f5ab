"""``torch.utils.flop_counter.FlopCounterMode``: the floating-point operations of the matrix
products and convolutions a block runs, forward and backward, per module.

    with FlopCounterMode(display=False) as counter:
        model(x).sum().backward()
    counter.get_total_flops()          # 2 * m * k * n per (m, k) @ (k, n) product...
    counter.get_flop_counts()          # {"Global": {aten.mm: ...}, "Sequential.0": {...}}

It counts as PyTorch's does, naming each product after the aten op PyTorch runs for it:
``aten.mm`` (a 2-d product, or a batched one folded into 2-d), ``aten.addmm`` (``Linear``
with a bias), ``aten.bmm`` (batched), ``aten.convolution`` and, backward,
``aten.convolution_backward``; matrix-vector and vector products count nothing, as in
PyTorch. A block's FLOPs count for every module whose forward it ran in (``Sequential``,
``Sequential.0``...), backward ones for the modules whose forward recorded that node.

How it sees the ops: it sits in the autograd slot the profiler uses (``Function.apply`` and
the backward engine call it), handing each call on to a profiler or counter that was already
there (a profiler started inside the block takes the slot over until it ends, and what runs
meanwhile is not counted). Where minigrad composes an op PyTorch has as one kernel, the
product is named as minigrad runs it: ``minigrad.addmm`` and ``baddbmm`` count as
``aten.mm``/``aten.bmm`` (the same FLOPs), and scaled-dot-product attention as its two
batched products.
"""
from __future__ import annotations

import math
import threading
import weakref

from .._warn_once import warn_user
from ..autograd import function as _function
from ..autograd.function import Function
from ..autograd.profiler import OpSlot
from ..nn.modules.hooks import register_module_forward_hook, register_module_forward_pre_hook

__all__ = ["FlopCounterMode", "aten"]

_base_apply = Function.apply.__func__


class _AtenOp(str):
    """An op's key in the counts: the string ``"aten.mm"``, shown as PyTorch shows its op."""

    def __repr__(self):
        return f"<OpOverloadPacket(op='{self}')>"


class _Aten:
    """``aten.mm``, ``aten.addmm``...: the keys ``get_flop_counts`` uses."""

    def __init__(self, names):
        for name in names:
            setattr(self, name, _AtenOp(f"aten.{name}"))


aten = _Aten(("mm", "addmm", "bmm", "baddbmm", "convolution", "convolution_backward"))


# ----------------------------------------------------------------------------------------------
# FLOPs of one call: PyTorch's formulas
# ----------------------------------------------------------------------------------------------
def _prod(shape):
    return math.prod(shape)


def _matmul_kind(a, b):
    """(op, batch, m, k, n) of ``a @ b`` as PyTorch runs it, or None (mv, dot: uncounted)."""
    if len(b) == 1:
        return None
    if len(a) == 1:
        a = (1,) + tuple(a)
        if len(b) == 2:
            return aten.mm, 1, 1, a[1], b[1]
    if len(b) == 2:                      # (..., m, k) @ (k, n): folded into one 2-d product
        return aten.mm, 1, _prod(a[:-1]), a[-1], b[1]
    batch = _broadcast(a[:-2], b[:-2])
    return aten.bmm, _prod(batch), a[-2], a[-1], b[-1]


def _broadcast(x, y):
    n = max(len(x), len(y))
    x, y = (1,) * (n - len(x)) + tuple(x), (1,) * (n - len(y)) + tuple(y)
    return tuple(max(p, q) for p, q in zip(x, y))


def _conv_flops(x, w, out, transposed):
    """2 * batch * positions * out-channels * filter size * in-channels per group, positions
    being the output's (the input's for a transposed convolution)."""
    positions = x[2:] if transposed else out[2:]
    return 2 * x[0] * _prod(positions) * w[0] * _prod(w[2:]) * w[1]


def _swap01(shape):
    return (shape[1], shape[0]) + tuple(shape[2:])


# MatMul and its subclasses named as PyTorch's nodes (a product of two matrices is an Mm...)
_PRODUCTS = frozenset(("MatMul", "Mm", "Mv", "Dot", "Bmm"))


def _forward_flops(name, shapes, out_shape):
    """[(op, flops)] of one forward op of class ``name`` on inputs of these shapes."""
    if name in _PRODUCTS:
        kind = _matmul_kind(shapes[0], shapes[1])
        if kind is None:
            return []
        op, batch, m, k, n = kind
        return [(op, 2 * batch * m * k * n)]
    if name == "Linear":
        x, w = shapes[0], shapes[1]
        if len(x) == 1:
            return []
        return [(aten.addmm if len(shapes) > 2 else aten.mm, 2 * _prod(x[:-1]) * w[1] * w[0])]
    if name in ("Conv", "ConvTranspose"):
        return [(aten.convolution,
                 _conv_flops(shapes[0], shapes[1], out_shape, name == "ConvTranspose"))]
    return []


def _backward_flops(name, shapes, out_shape, needs):
    """[(op, flops)] of the backward of one node: a product per input that needs a
    gradient, as PyTorch's backward formulas run them."""
    if name in _PRODUCTS:
        kind = _matmul_kind(shapes[0], shapes[1])
        if kind is None:
            return []
        op, batch, m, k, n = kind
        return [(op, 2 * batch * m * k * n) for flag in needs[:2] if flag]
    if name == "Linear":
        x, w = shapes[0], shapes[1]
        if len(x) == 1:
            return []
        return [(aten.mm, 2 * _prod(x[:-1]) * w[1] * w[0]) for flag in needs[:2] if flag]
    if name in ("Conv", "ConvTranspose"):
        x, w, transposed = shapes[0], shapes[1], name == "ConvTranspose"
        flops = 0
        if needs[0]:
            flops += _conv_flops(out_shape, w, x, not transposed)
        if len(needs) > 1 and needs[1]:
            flops += (_conv_flops(_swap01(out_shape), _swap01(x), _swap01(w), False) if transposed
                      else _conv_flops(_swap01(x), _swap01(out_shape), _swap01(w), False))
        return [(aten.convolution_backward, flops)] if flops else []
    return []


# ----------------------------------------------------------------------------------------------
# The mode
# ----------------------------------------------------------------------------------------------
_SUFFIXES = ["", "K", "M", "B", "T"]


def _suffix_of(number):
    return _SUFFIXES[max(0, min(len(_SUFFIXES) - 1, (len(str(number)) - 2) // 3))]


def _with_suffix(number, suffix):
    return f"{number / 1000 ** _SUFFIXES.index(suffix):.3f}{suffix}"


def _percent(part, whole):
    return "0%" if whole == 0 else f"{part / whole:.2%}"


class FlopCounterMode(OpSlot):
    """Counts FLOPs inside a ``with`` block (entering again starts from zero). ``display``
    prints the table on exit, ``depth`` deep in the module tree."""

    def __init__(self, mods=None, depth=2, display=True, custom_mapping=None):
        if mods is not None:
            warn_user("mods argument is not needed anymore, you can stop passing it")
        if custom_mapping:
            raise NotImplementedError("FlopCounterMode(custom_mapping=...): minigrad has no "
                                      "aten ops to attach formulas to")
        self.depth = depth
        self.display = display
        self.flop_counts = {}
        self._local = threading.local()
        self._previous = None
        self._handles = ()
        self._names = {}            # id(module) -> dotted name
        self._stack = []            # names of the modules whose forward is running
        self._node_modules = weakref.WeakKeyDictionary()

    # -- results ---------------------------------------------------------------------------------
    def get_total_flops(self):
        return sum(self.flop_counts.setdefault("Global", {}).values())

    def get_flop_counts(self):
        """{module name: {op: FLOPs}}, with "Global" for everything."""
        return {name: dict(ops) for name, ops in self.flop_counts.items()}

    def get_table(self, depth=None):
        """The counts as a text table: Module, FLOP, % Total (ops indented under modules)."""
        depth = self.depth if depth is None else depth
        depth = 999999 if depth is None else depth
        total = self.get_total_flops()
        suffix = _suffix_of(total)
        rows, subsumed = [], False

        def block(name, indent):
            nonlocal subsumed
            ops = self.flop_counts[name]
            flops = sum(ops.values())
            subsumed = subsumed or flops >= total
            pad = " " * indent
            out = [[pad + name, _with_suffix(flops, suffix), _percent(flops, total)]]
            out += [[pad + " - " + str(op), _with_suffix(n, suffix), _percent(n, total)]
                    for op, n in ops.items()]
            return out

        for name in sorted(self.flop_counts):
            if name != "Global" and name.count(".") + 1 <= depth:
                rows += block(name, name.count("."))
        if "Global" in self.flop_counts and not subsumed:
            rows = block("Global", 0) + [[" " + r[0]] + r[1:] for r in rows]
        rows = rows or [["Global", "0", "0%"]]
        header = ["Module", "FLOP", "% Total"]
        widths = [max(len(r[c]) for r in rows + [header]) for c in range(3)]

        def line(r):
            return "  ".join([r[0].ljust(widths[0]), r[1].rjust(widths[1]),
                              r[2].rjust(widths[2])]).rstrip()
        return "\n".join([line(header), "  ".join("-" * w for w in widths)] +
                         [line(r) for r in rows])

    # -- entering and leaving ---------------------------------------------------------------------
    def __enter__(self):
        self.flop_counts.clear()
        self.flop_counts["Global"] = {}
        self._names.clear()
        self._stack = []
        self._handles = (register_module_forward_pre_hook(self._enter_module),
                         register_module_forward_hook(self._leave_module, always_call=True))
        self._previous = _function._profiler
        _function._profiler = self
        return self

    def __exit__(self, *exc_info):
        if _function._profiler is self:
            _function._profiler = self._previous
        self._previous = None
        for handle in self._handles:
            handle.remove()
        self._handles = ()
        if self.display:
            print(self.get_table(self.depth))
        return False

    # -- modules ---------------------------------------------------------------------------------
    def _enter_module(self, module, args):
        name = self._names.setdefault(id(module), type(module).__name__)
        for child_name, child in module.named_children():
            self._names.setdefault(id(child), f"{name}.{child_name}")
        self._stack.append(name)

    def _leave_module(self, module, args, output):
        name = self._names.get(id(module))
        if name in self._stack:
            del self._stack[len(self._stack) - 1 - self._stack[::-1].index(name)]

    def _count(self, flops, modules):
        for op, n in flops:
            for name in ("Global",) + modules:
                ops = self.flop_counts.setdefault(name, {})
                ops[op] = ops.get(op, 0) + n

    # -- the autograd slot -----------------------------------------------------------------------
    def run_op(self, cls, inputs, params):
        local = self._local
        local.inner = True
        try:
            if self._previous is not None:
                result = self._previous.run_op(cls, inputs, params)
            else:
                result = _base_apply(cls, *inputs, **params)
        finally:
            local.inner = False
        if getattr(local, "in_backward", False):
            return result
        shapes = [tuple(t.shape) for t in inputs if hasattr(t, "shape")]
        out = result[0] if isinstance(result, tuple) else result
        flops = _forward_flops(cls.__name__, shapes, tuple(getattr(out, "shape", ())))
        if flops:
            modules = tuple(dict.fromkeys(self._stack))
            self._count(flops, modules)
            node = getattr(out, "grad_fn", None)
            if node is not None and modules:
                self._node_modules[node] = modules
        return result

    def backward_node(self, node, call, grads, *args):
        local = self._local
        outer = getattr(local, "in_backward", False)
        local.in_backward = True
        try:
            if self._previous is not None:
                results = self._previous.backward_node(node, call, grads, *args)
            else:
                results = call(node, grads, *args)
        finally:
            local.in_backward = outer
        meta = getattr(node, "_in_meta", None)
        if meta and not outer:
            shapes = [tuple(m[0]) if m is not None else () for m in meta]
            out_shape = tuple(node._out_meta[0][0]) if node._out_meta else ()
            op = getattr(type(node), "op_class", type(node))        # the op, not its node
            flops = _backward_flops(op.__name__, shapes, out_shape,
                                    node.needs_input_grad)
            self._count(flops, self._node_modules.get(node, ()))
        return results

    def begin(self, name, shapes=None, user=False):
        """``record_function`` ranges: the profiler underneath keeps them, if there is one."""
        return None if self._previous is None else self._previous.begin(name, shapes, user)

    def end(self, span, nbytes=0):
        if self._previous is not None and span is not None:
            self._previous.end(span, nbytes)

    def accumulate(self, call, leaf, grad, *args):
        if self._previous is not None:
            return self._previous.accumulate(call, leaf, grad, *args)
        return call(leaf, grad, *args)
