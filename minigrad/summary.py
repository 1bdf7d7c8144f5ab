"""``minigrad.summary(model, input_size)``: every layer's output shape and parameter count.

    >>> import minigrad as torch
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 20, 5), torch.nn.ReLU())
    >>> s = torch.summary(net, (1, 1, 28, 28), verbose=False)   # verbose=True prints the table
    >>> s.total_params, s.rows[1].output_shape
    (520, [1, 20, 24, 24])

It answers seed 001's question ("how did we get from Conv2d(20, 50, 5) to Linear(4*4*50, 500)?")
without adding ``print(x.size())`` lines to ``forward``: one forward pass, under ``no_grad``, on
random input of the given shape, with forward hooks on every sub-module that record what
each returns. Conventions follow ``torchinfo.summary``:

* ``input_size`` is the FULL shape, batch included: ``(1, 1, 28, 28)``; a list of shapes for a
  model whose forward takes several inputs: ``[(1, 3), (1, 5)]``. Or pass ``input_data``
  (a tensor, or a list/tuple of them) instead.
* Rows are in call order, indented by depth; "Param #" counts a module's OWN parameters
  (a container shows "--"; its children carry the numbers). A module called twice gets a
  row per call, the later ones marked "(recursive)", and its parameters count once.
* Sizes are in megabytes of 10^6 bytes. "Forward/backward pass size" is twice (values and
  their gradients) the bytes of the outputs of the leaf modules (those without children).

The hooks are removed and each module's train/eval mode restored even if forward raises;
the error is then re-raised as a ``RuntimeError`` naming the layer that failed and the
shapes it received.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import List, Optional

from . import creation, dtypes as _dtypes
from ._random_factories import Generator, randn
from .autograd import no_grad
from .tensor import Tensor

__all__ = ["summary", "ModelSummary", "LayerRow"]


@dataclass
class LayerRow:
    """One call of one module during the summary's forward pass."""
    name: str                      # dotted path from the model: 'features.0'; '' for the model
    type: str                      # class name: 'Conv2d'
    depth: int                     # 0 for the model, 1 for its children, ...
    input_shapes: list = field(default_factory=list)    # shapes of the tensor arguments
    output_shapes: list = field(default_factory=list)   # shapes of the returned tensors
    num_params: int = 0            # own parameters (not the children's)
    trainable_params: int = 0      # own parameters that require grad
    is_leaf: bool = True           # has no child modules
    recursive: bool = False        # a second (or later) call of the same module
    called: bool = True            # False for modules the forward never called
    output_bytes: int = 0
    params: list = field(default_factory=list)   # [(name, shape, numel)] of own parameters

    @property
    def trainable(self):
        """True / False / 'Partial', or None when the module has no parameters of its own."""
        if self.num_params == 0:
            return None
        if self.trainable_params == self.num_params:
            return True
        return "Partial" if self.trainable_params else False

    @property
    def output_shape(self):
        """The first output's shape (a list), or None."""
        return self.output_shapes[0] if self.output_shapes else None

    @property
    def label(self) -> str:
        return self.type if not self.name else f"{self.name} ({self.type})"


class ModelSummary:
    """What ``summary`` returns: ``.rows`` (LayerRow), totals, sizes; ``str()`` is the table."""

    def __init__(self, model_name, rows: List[LayerRow], input_shapes, total_params,
                 trainable_params, total_buffers, input_bytes, param_bytes, buffer_bytes):
        self.model_name = model_name
        self.rows = rows
        self.input_size = input_shapes
        self.total_params = total_params
        self.trainable_params = trainable_params
        self.non_trainable_params = total_params - trainable_params
        self.total_buffers = total_buffers
        self.input_bytes = input_bytes
        self.param_bytes = param_bytes
        self.buffer_bytes = buffer_bytes
        self.forward_backward_bytes = 2 * sum(r.output_bytes for r in rows
                                              if r.is_leaf and r.called)

    @property
    def total_bytes(self) -> int:
        return self.input_bytes + self.forward_backward_bytes + self.param_bytes + \
            self.buffer_bytes

    def row(self, name) -> Optional[LayerRow]:
        """The first row of the module at dotted path ``name``."""
        for r in self.rows:
            if r.name == name:
                return r
        return None

    def __str__(self):
        header = ("Layer (type)", "Output Shape", "Param #", "Trainable")
        body = []
        for r in self.rows:
            label = "  " * r.depth + r.label
            if not r.called:
                shape = "(not called)"
            elif r.output_shapes:
                shape = ", ".join(_shape_text(s) for s in r.output_shapes[:3])
                if len(r.output_shapes) > 3:
                    shape += ", ..."
            else:
                shape = "--"
            if r.recursive and r.num_params:
                params = "(recursive)"
            else:
                params = f"{r.num_params:,}" if r.num_params else "--"
            trainable = r.trainable
            trainable = "--" if trainable is None or (r.recursive and r.num_params) \
                else str(trainable)
            body.append((label, shape, params, trainable))
        widths = [max(len(header[i]), *(len(b[i]) for b in body)) if body else len(header[i])
                  for i in range(4)]
        widths = [w + 4 for w in widths[:3]] + [widths[3]]
        total_width = sum(widths)

        def line(cells):
            return (cells[0].ljust(widths[0]) + cells[1].ljust(widths[1])
                    + cells[2].rjust(widths[2] - 4).ljust(widths[2]) + cells[3]).rstrip()

        thick, thin = "=" * total_width, "-" * total_width
        mb = _megabytes
        out = [thick, line(header), thick]
        out += [line(b) for b in body]
        out += [thick,
                f"Total params: {self.total_params:,}",
                f"Trainable params: {self.trainable_params:,}",
                f"Non-trainable params: {self.non_trainable_params:,}"]
        if self.total_buffers:
            out.append(f"Buffers (not parameters, e.g. BatchNorm statistics): "
                       f"{self.total_buffers:,}")
        out += [thin,
                f"Input size (MB): {mb(self.input_bytes)}",
                f"Forward/backward pass size (MB): {mb(self.forward_backward_bytes)}",
                f"Params size (MB): {mb(self.param_bytes)}"]
        if self.buffer_bytes:
            out.append(f"Buffers size (MB): {mb(self.buffer_bytes)}")
        out += [f"Estimated Total Size (MB): {mb(self.total_bytes)}", thick]
        return "\n".join(out)

    def __repr__(self):
        return str(self)


def _megabytes(nbytes) -> str:
    return f"{nbytes / 1e6:.2f}"


def _shape_text(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _tensors_in(value, found=None):
    """Tensors in a (nested) output: a tensor, tuple/list, dict."""
    found = [] if found is None else found
    if isinstance(value, Tensor):
        found.append(value)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _tensors_in(v, found)
    elif isinstance(value, dict):
        for v in value.values():
            _tensors_in(v, found)
    return found


def _is_shape(value) -> bool:
    return isinstance(value, (tuple, list)) and all(isinstance(v, int) for v in value)


def _make_inputs(input_size, dtype, device):
    if _is_shape(input_size):
        shapes = [tuple(input_size)]
    elif isinstance(input_size, (list, tuple)) and all(_is_shape(s) for s in input_size) \
            and input_size:
        shapes = [tuple(s) for s in input_size]
    else:
        raise ValueError("summary: input_size must be a shape including the batch axis, e.g. "
                         "(1, 1, 28, 28), or a list of shapes for a model with several inputs, "
                         f"got {input_size!r}")
    dtype_list = list(dtype) if isinstance(dtype, (list, tuple)) else [dtype] * len(shapes)
    if len(dtype_list) != len(shapes):
        raise ValueError(f"summary: {len(shapes)} input shapes but {len(dtype_list)} dtypes")
    generator = Generator().manual_seed(0)    # leaves the user's random state alone
    inputs = []
    for shape, dt in zip(shapes, dtype_list):
        dt = dt if dt is not None else _dtypes.get_default_dtype()
        if dt.is_floating_point:
            inputs.append(randn(*shape, generator=generator, dtype=dt, device=device))
        else:   # indices (embeddings, labels): zeros are valid everywhere
            inputs.append(creation.zeros(*shape, dtype=dt, device=device))
    return inputs


def _model_device(model):
    for p in model.parameters():
        return p.device
    return None


def summary(model, input_size=None, dtype=None, device=None, file=None, *, input_data=None,
            verbose=True) -> ModelSummary:
    """Run ``model`` once on random input and print a table of its layers (as torchinfo).

    model: any ``nn.Module``, including ones with a hand-written ``forward``.
    input_size: the full input shape, batch axis included, ``(1, 1, 28, 28)``; or a list of
        shapes when ``forward`` takes several tensors.
    dtype: the input dtype (default: the default float type); integer dtypes give zeros.
        A list gives one per input.
    device: where the input is made (default: where the model's parameters are).
    input_data: tensor(s) to use instead of random input (then ``input_size`` is not needed).
    file: where to print (default standard output); ``verbose=False`` prints nothing.

    Returns a ``ModelSummary``: ``.rows`` (one ``LayerRow`` per module call, in call order),
    ``.total_params``, ``.trainable_params``, ``.non_trainable_params``, sizes in bytes;
    ``str(result)`` is the table.
    """
    if input_data is not None:
        inputs = [input_data] if isinstance(input_data, Tensor) else list(input_data)
    elif input_size is not None:
        inputs = _make_inputs(input_size, dtype, device if device is not None
                              else _model_device(model))
    else:
        raise ValueError("summary: give input_size (a shape including the batch axis, e.g. "
                         "(1, 1, 28, 28)) or input_data")
    input_shapes = [list(t.shape) for t in inputs if isinstance(t, Tensor)]

    modules = list(model.named_modules())
    has_children = {id(m): any(True for _ in m.children()) for _, m in modules}
    names = {id(m): name for name, m in modules}
    rows: List[LayerRow] = []
    open_rows = []                   # rows whose forward started and did not finish
    seen = set()

    def pre_hook(module, args):
        name = names[id(module)]
        own_named = list(module.named_parameters(recurse=False))
        own = [p for _, p in own_named]
        row = LayerRow(
            name=name, type=type(module).__name__,
            depth=0 if name == "" else name.count(".") + 1,
            input_shapes=[list(t.shape) for t in _tensors_in(args)],
            num_params=sum(p.numel() for p in own),
            trainable_params=sum(p.numel() for p in own if p.requires_grad),
            is_leaf=not has_children[id(module)],
            recursive=id(module) in seen,
            params=[(n, tuple(p.shape), p.numel()) for n, p in own_named])
        seen.add(id(module))
        rows.append(row)
        open_rows.append(row)

    def hook(module, args, output):
        row = open_rows.pop()
        tensors = _tensors_in(output)
        row.output_shapes = [list(t.shape) for t in tensors]
        row.output_bytes = sum(t.numel() * t.element_size() for t in tensors)

    handles = []
    training = [(m, m.training) for _, m in modules]
    try:
        for _, m in modules:
            handles.append(m.register_forward_pre_hook(pre_hook))
            handles.append(m.register_forward_hook(hook))
        model.eval()
        with no_grad():
            try:
                model(*inputs)
            except Exception as error:
                failed = open_rows[-1] if open_rows else None
                where = (f" in {failed.label or failed.type} (called with input shapes "
                         f"{', '.join(_shape_text(s) for s in failed.input_shapes) or 'none'})"
                         if failed is not None else "")
                done = [r.label for r in rows if r not in open_rows]
                raise RuntimeError(
                    f"summary: the forward pass failed{where}: {type(error).__name__}: {error}."
                    f"\nLayers that ran before it: {', '.join(done) or 'none'}") from error
    finally:
        for h in handles:
            h.remove()
        for m, mode in training:
            m.training = mode

    for name, m in modules:                      # modules forward never called
        if id(m) not in seen:
            own_named = list(m.named_parameters(recurse=False))
            own = [p for _, p in own_named]
            rows.append(LayerRow(
                name=name, type=type(m).__name__, depth=name.count(".") + 1 if name else 0,
                num_params=sum(p.numel() for p in own),
                trainable_params=sum(p.numel() for p in own if p.requires_grad),
                is_leaf=not has_children[id(m)], called=False,
                params=[(n, tuple(p.shape), p.numel()) for n, p in own_named]))

    params = list(model.parameters())
    buffers = list(model.buffers())
    result = ModelSummary(
        model_name=type(model).__name__, rows=rows, input_shapes=input_shapes,
        total_params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        total_buffers=sum(b.numel() for b in buffers),
        input_bytes=sum(t.numel() * t.element_size() for t in inputs if isinstance(t, Tensor)),
        param_bytes=sum(p.numel() * p.element_size() for p in params),
        buffer_bytes=sum(b.numel() * b.element_size() for b in buffers))
    if verbose:
        print(result, file=sys.stdout if file is None else file)
    return result
