"""Higher-level derivatives of a function: ``vjp``, ``jvp``, ``jacobian``, ``hessian``,
``vhp``, ``hvp`` (as ``torch.autograd.functional``).

Each is a few calls of ``autograd.grad``; second-order ones use ``create_graph=True``:

    vjp(f, x, v)   = v^T J                one backward
    jvp(f, x, v)   = J v                  the "double-backward trick": u -> u^T J is linear
                                          in u, so its gradient with respect to u, taken
                                          along v, is J v
    jacobian(f, x) = J                    one backward per output element
    vhp(f, x, v)   = v^T H                backward of (grad f . v)
    hvp(f, x, v)   = H v                  the double-backward trick applied to grad f
    hessian(f, x)  = H                    the jacobian of grad f

``f`` takes tensors and returns a tensor or a tuple of them (``vhp``/``hvp``/``hessian``
need a single one-element tensor). ``inputs`` (and ``v``) is a tensor or a tuple of tensors;
results mirror it. ``f`` runs on fresh leaves made from the inputs (aliases that keep the
inputs' graph with ``create_graph=True``), so a tensor ``f`` merely closes over is a
constant; without ``create_graph`` every result is detached.

``strict=True`` refuses, with an error saying which, an output or a derivative that does not
depend on the inputs (PyTorch returns zeros there otherwise, and so does minigrad).
``vectorize=True`` and ``strategy="forward-mode"`` are accepted with PyTorch's checks and
give PyTorch's values; minigrad computes them with the same reverse-mode passes, laid out
as PyTorch's single batched pass leaves them (``_batch_layout``).  A
forward-mode Jacobian is not detached, as PyTorch's is not: it keeps the graph back to the
inputs and to whatever ``func`` closes over that requires grad (so the forward-over-reverse
``hessian`` of a network's output requires grad through its weights).
"""
from __future__ import annotations

from .. import backend
from ..ops.stacking import stack   # this module sits above ops (minigrad/__init__ imports it)
from ..tensor import Tensor
from .engine import grad
from ._jacobian_layout import forward_jacobian_blocks, reverse_jacobian_blocks
from ._transforms import inside_transform
from .grad_mode import enable_grad, is_grad_enabled, set_grad_enabled

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]

_STRATEGIES = ("forward-mode", "reverse-mode")
_NOT_STRICT = " This is not allowed in strict mode."


# ----------------------------------------------------------------------------------------------
# Shared pieces
# ----------------------------------------------------------------------------------------------
def _as_tuple(value, what, fn_name):
    """(whether ``value`` was a tuple, its tensors as a tuple). Only a tuple counts as several
    tensors (a list is refused, as PyTorch refuses it)."""
    is_tuple = isinstance(value, tuple)
    items = value if is_tuple else (value,)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            where = f"value at index {i}" if is_tuple else f"given {what}"
            raise TypeError(f"The {what} given to {fn_name} must be either a Tensor or a tuple "
                            f"of Tensors but the {where} has type {type(t)}.")
    return is_tuple, items


def _unpack(values, is_tuple):
    return values if is_tuple else values[0]


def _unpack_nested(rows, outputs_tuple, inputs_tuple):
    """Rows (one per output) of blocks (one per input), unwrapped where the user passed or
    returned a single tensor."""
    if not inputs_tuple:
        rows = tuple(row[0] for row in rows)
    return rows if outputs_tuple else rows[0]


def _leaves(tensors, create_graph, need_graph):
    """The tensors ``f`` is run on: an alias keeping the graph of an input that requires grad
    when ``create_graph`` is set, else a detached copy that requires grad iff ``need_graph``
    (an integer input is then refused, as requires_grad_ refuses it)."""
    out = []
    for t in tensors:
        if create_graph and t.requires_grad:
            out.append(t.view_as(t))
        elif need_graph and t._array.dtype.kind not in "fc":
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        else:
            out.append(t.detach().requires_grad_(need_graph))
    return tuple(out)


def _detach_all(values, create_graph):
    """``values`` (tensors, or tuples of them) detached unless ``create_graph``."""
    if create_graph:
        return values
    return tuple(v.detach() if isinstance(v, Tensor) else _detach_all(v, False) for v in values)


def _zeros_like(t, requires_grad=False):
    z = Tensor._wrap(backend.xp_of(t._array).zeros_like(t._array))
    return z.requires_grad_(True) if requires_grad else z


def _check_v(v, refs, refs_tuple, fn_name, create_graph):
    """``v`` as a tuple of tensors shaped like ``refs`` (the outputs for vjp, the inputs for
    the others), detached unless it carries a graph ``create_graph`` keeps."""
    _, vs = _as_tuple(v, "v", fn_name)
    vs = _leaves(vs, create_graph, need_graph=False)
    if len(vs) != len(refs):
        if refs_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(refs)} but got "
                               f"{len(vs)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (a, b) in enumerate(zip(vs, refs)):
        if tuple(a.shape) != tuple(b.shape):
            entry = f"Entry {i} in " if refs_tuple else ""
            raise RuntimeError(f"{entry}v has invalid size: should be {b.size()} but got "
                               f"{a.size()}.")
    return vs


def _no_v_for_inputs(inputs):
    if len(inputs) != 1 or inputs[0].numel() != 1:
        raise RuntimeError("The vector v can only be None if the input to the user-provided "
                           "function is a single Tensor with a single element.")


def _require_grad(tensors, kind, strict):
    """In strict mode, each of ``tensors`` (the outputs, or a derivative: ``kind``) must exist
    and depend on the inputs."""
    if not strict:
        return
    for i, t in enumerate(tensors):
        if t is None:
            raise RuntimeError(f"The output of the user-provided function is independent of "
                               f"input {i}." + _NOT_STRICT)
        if t.requires_grad:
            continue
        if kind == "outputs":
            raise RuntimeError(f"Output {i} of the user-provided function does not require "
                               "gradients. The outputs must be computed in a differentiable "
                               "manner from the input when running in strict mode.")
        if kind == "grad_inputs":
            raise RuntimeError(f"The gradient with respect to input {i} is independent of the "
                               "inputs of the user-provided function." + _NOT_STRICT)
        if kind == "jacobian":
            raise RuntimeError("While computing the hessian, found that the jacobian of the "
                               f"user-provided function with respect to input {i} is "
                               "independent of the input." + _NOT_STRICT + " You should ensure "
                               "that your function is twice differentiable and that the "
                               "jacobian depends on the inputs (this would be violated by a "
                               "linear function for example).")
        raise RuntimeError(f"The hessian of the user-provided function with respect to input "
                           f"{i} is independent of the input." + _NOT_STRICT + " You should "
                           "ensure that your function is thrice differentiable and that the "
                           "hessian depends on the inputs.")


def _grad_live(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """``autograd.grad`` over the outputs that exist and require grad (None for an input none
    of them reaches; all None when no output requires grad)."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    live = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not live:
        return (None,) * len(inputs)
    return grad([o for o, _ in live], inputs, [g for _, g in live], retain_graph=retain_graph,
                create_graph=create_graph, allow_unused=True)


# what a missing (or, with create_graph, constant) derivative means at each stage
_MISSING = {
    "back": "The output of the user-provided function is independent of input {i}."
            + _NOT_STRICT,
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the "
                  "grad_outputs when using the double backward trick to compute forward mode "
                  "gradients." + _NOT_STRICT,
    "double_back": "The jacobian of the user-provided function is independent of input {i}."
                   + _NOT_STRICT,
    "double_back_trick": "The hessian of the user-provided function is independent of entry "
                         "{i} in the grad_jacobian. This is not allowed in strict mode as it "
                         "prevents from using the double backward trick to replace forward "
                         "mode AD.",
}


def _fill_zeros(grads, refs, strict, create_graph, stage):
    """Zeros shaped like ``refs[i]`` for a missing gradient; in strict mode an error instead,
    and also for a gradient that, with ``create_graph``, carries no graph."""
    out = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(_MISSING[stage].format(i=i))
            g = _zeros_like(ref)
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if stage.startswith("double") else "jacobian"
            raise RuntimeError(f"The {what} of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode when "
                               "create_graph=True.")
        out.append(g)
    return tuple(out)


def _outer_grad_mode(create_graph):
    """The grad mode of the last backward: on to record it, else the caller's."""
    return set_grad_enabled(True if create_graph else is_grad_enabled())


# ----------------------------------------------------------------------------------------------
# Products
# ----------------------------------------------------------------------------------------------
def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product at ``inputs``."""
    with enable_grad():
        is_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _leaves(inputs, create_graph, need_graph=True)
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                       "vjp")
        _require_grad(outputs, "outputs", strict)
        if v is not None:
            vs = _check_v(v, outputs, out_tuple, "vjp", create_graph)
        elif len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function "
                               "returns a single Tensor with a single element.")
        else:
            vs = None
    with _outer_grad_mode(create_graph):
        res = _grad_live(outputs, inputs, vs, create_graph=create_graph)
        res = _fill_zeros(res, inputs, strict, create_graph, "back")
    return (_unpack(_detach_all(outputs, create_graph), out_tuple),
            _unpack(_detach_all(res, create_graph), is_tuple))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product at ``inputs`` (double-backward trick)."""
    with enable_grad():
        is_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _leaves(inputs, create_graph, need_graph=True)
        if v is not None:
            vs = _check_v(v, inputs, is_tuple, "jvp", create_graph)
        else:
            _no_v_for_inputs(inputs)
            vs = None
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                       "jvp")
        _require_grad(outputs, "outputs", strict)
        # u -> u^T J is linear in u: its gradient along v (with respect to u) is J v
        us = tuple(_zeros_like(o, requires_grad=True) for o in outputs)
        grad_inputs = _grad_live(outputs, inputs, us, create_graph=True)
        _require_grad(grad_inputs, "grad_inputs", strict)
    with _outer_grad_mode(create_graph):
        res = _grad_live(grad_inputs, us, vs, create_graph=create_graph)
        res = _fill_zeros(res, outputs, strict, create_graph, "back_trick")
    return (_unpack(_detach_all(outputs, create_graph), out_tuple),
            _unpack(_detach_all(res, create_graph), out_tuple))


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H): a vector-Hessian product of a scalar ``func``."""
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v): a Hessian-vector product of a scalar ``func``, by the double
    backward trick (the same numbers as ``vhp``: H is symmetric)."""
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")


def _single_element(out, out_tuple, fn_name):
    if out_tuple:
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if out.numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should "
                           "contain a single element")


def _hessian_product(func, inputs, v, create_graph, strict, fn_name):
    with enable_grad():
        is_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
        inputs = _leaves(inputs, create_graph, need_graph=True)
        if v is not None:
            vs = _check_v(v, inputs, is_tuple, fn_name, create_graph)
        else:
            _no_v_for_inputs(inputs)
            vs = None
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                       fn_name)
        _require_grad(outputs, "outputs", strict)
        _single_element(outputs[0], out_tuple, fn_name)
        jac = _grad_live(outputs, inputs, create_graph=True)
        _require_grad(jac, "jacobian", strict)
        if fn_name == "hvp":
            # w -> w^T H is linear in w: its gradient along v (with respect to w) is H v
            ws = tuple(_zeros_like(x, requires_grad=True) for x in inputs)
            wh = _grad_live(jac, inputs, ws, create_graph=True)
    with _outer_grad_mode(create_graph):
        if fn_name == "hvp":
            res = _grad_live(wh, ws, vs, create_graph=create_graph)
            res = _fill_zeros(res, inputs, strict, create_graph, "double_back_trick")
        else:
            res = _grad_live(jac, inputs, vs, create_graph=create_graph)
            res = _fill_zeros(res, inputs, strict, create_graph, "double_back")
    return (_unpack(_detach_all(outputs, create_graph), out_tuple),
            _unpack(_detach_all(res, create_graph), is_tuple))


# ----------------------------------------------------------------------------------------------
# Jacobians and Hessians
# ----------------------------------------------------------------------------------------------
def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: for output y and input x, a tensor of shape
    ``y.shape + x.shape`` with ``J[i..., j...] = dy[i...]/dx[j...]``. One backward per
    output element. Nested tuples for several outputs/inputs (outputs outside), as PyTorch.

    ``strategy="forward-mode"`` (which PyTorch allows only with ``vectorize=True``, without
    ``strict`` and ``create_graph``) gives the same Jacobian, computed here in reverse mode
    (for tuple inputs nested in lists, as PyTorch's forward mode returns it)."""
    return _jacobian(func, inputs, create_graph, strict, vectorize, strategy, False)


def _jacobian(func, inputs, create_graph, strict, vectorize, strategy, outer):
    """``jacobian``; ``outer``: it is a Hessian's outer Jacobian (whose forward-mode blocks
    for a gradient that depends on the inputs carry a graph in PyTorch, as its tangents are
    computed from the inner pass's graph)."""
    if strategy not in _STRATEGIES:
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". '
                             'Hint: If your function has more outputs than inputs, '
                             '"forward-mode" tends to be more performant. Otherwise, prefer to '
                             'use "reverse-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError('torch.autograd.functional.jacobian: `create_graph=True` '
                                      'and `strategy="forward-mode"` are not supported together '
                                      '(yet). Please either set `create_graph=False` or '
                                      '`strategy="reverse-mode"`.')
        if strict:
            raise RuntimeError('torch.autograd.functional.jacobian: `strict=True` and '
                               '`strategy="forward-mode"` are not supported together (yet). '
                               'Please either set `strict=False` or `strategy="reverse-mode"`.')
        _as_tuple(inputs, "inputs", "jacobian")
        if not vectorize:
            # PyTorch's message, missing space included
            raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-"
                                      "reverse Hessian isonly implemented for `vectorize=True`.")
    forward = strategy == "forward-mode"
    with enable_grad():
        is_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        # PyTorch's forward mode runs func on the inputs themselves and keeps the graph of its
        # Jacobian (to the inputs and to what func closes over): built here by create_graph
        given, inputs = inputs, _leaves(inputs, create_graph or forward, need_graph=True)
        # forward mode, as PyTorch's: a custom Function it runs needs a jvp staticmethod
        with inside_transform(*(("forward",) if strategy == "forward-mode" else ())):
            result = func(*inputs)
        # (PyTorch's forward mode checks them with no function name: "given to None")
        out_tuple, outputs = _as_tuple(result, *(("outputs", None) if forward else (
            "outputs of the user-provided function", "jacobian")))
        _require_grad(outputs, "outputs", strict)
        if vectorize and strict:
            raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and "
                               "`vectorized=True` are not supported together. Please either "
                               "set `strict=False` or `vectorize=False`.")
        if vectorize and not forward and any(o.requires_grad for o in outputs) and sum(
                o.numel() for o in outputs) == 0:
            # (PyTorch's batched backward reads entry 0 of an empty batch of grad_outputs)
            raise IndexError("index 0 is out of bounds for dimension 0 with size 0")
        found = [_jacobian_of(i, out, inputs, create_graph or forward, strict, vectorize)
                 for i, out in enumerate(outputs)]
        rows = tuple(blocks for blocks, _ in found)
    if forward:
        rows = tuple(_forward_row(row, {id(x) for x in inputs if x.grad_fn is None})
                     for row in rows)
    else:
        rows = _detach_all(rows, create_graph)
    if vectorize:
        rows = _batched_layouts(rows, [likes for _, likes in found], outputs,
                                (inputs, given), forward, outer)
    if forward and is_tuple:
        rows = [list(row) for row in rows]      # PyTorch's forward mode nests lists here
    return _unpack_nested(rows, out_tuple, is_tuple)


def _forward_row(row, fresh):
    """One output's blocks of a forward-mode Jacobian with PyTorch's graph: its forward mode
    makes them as slices of one tangent, so all of them carry a graph (a block that does not
    depend on anything requiring grad takes a zero-valued link to one that does) or none."""
    live = [b for b in row if _reaches_a_leaf(b, fresh)]
    if not live:
        return tuple(b.detach() for b in row)
    link = live[0].reshape(-1)[:0].sum()
    link = link.real if link.is_complex() else link        # (no promotion of a real block)
    return tuple(b if any(b is x for x in live) else b.detach() + link for b in row)


def _reaches_a_leaf(t, fresh):
    """Whether ``t``'s graph reaches a leaf that requires grad other than those whose ids are
    in ``fresh`` (the stand-ins made for inputs that do not require grad)."""
    if not t.requires_grad:
        return False
    if t.grad_fn is None:
        return id(t) not in fresh
    seen, todo = set(), [t.grad_fn]
    while todo:
        node = todo.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        variable = getattr(node, "variable", None)
        if variable is not None and id(variable) not in fresh:
            return True
        todo.extend(n for n, _ in node.next_functions)
    return False


def _jacobian_of(i, out, inputs, create_graph, strict, vectorize):
    """Output ``i``'s blocks of the Jacobian, one per input: a backward per element of
    ``out``, seeded with a one-hot gradient; stacked, shaped out.shape + x.shape."""
    xp = backend.xp_of(out._array)
    if out._array.dtype.kind == "c" and not vectorize:
        # PyTorch differentiates each element with an implicit gradient: refused for complex
        raise RuntimeError(f"grad can be implicitly created only for real scalar outputs but "
                           f"got {out.dtype}")
    per_input = [[] for _ in inputs]
    likes = [None] * len(inputs)        # one pass's gradient per input, for its layout
    for k in range(out.numel()):
        onehot = xp.zeros(out._array.size, dtype=out._array.dtype)
        onehot[k] = 1
        seed = Tensor._wrap(onehot.reshape(out._array.shape))
        g = _grad_live((out,), inputs, (seed,), create_graph=create_graph, retain_graph=True)
        for j, (gj, x) in enumerate(zip(g, inputs)):
            if gj is None:
                if strict:
                    raise RuntimeError(f"Output {i} of the user-provided function is "
                                       f"independent of input {j}." + _NOT_STRICT)
                gj = _zeros_like(x)
            else:
                if likes[j] is None:
                    likes[j] = gj._array
                if strict and create_graph and not gj.requires_grad:
                    raise RuntimeError(f"The jacobian of the user-provided function is "
                                       f"independent of input {i}. This is not allowed in "
                                       "strict mode when create_graph=True.")
            per_input[j].append(gj)
    blocks = []
    for x, rows in zip(inputs, per_input):
        shape = tuple(out.shape) + tuple(x.shape)
        if not rows and vectorize:
            blocks.append(Tensor._wrap(xp.zeros(shape, dtype=x._array.dtype)))
        else:       # no rows without vectorize: stack refuses the empty list, as PyTorch's
            blocks.append(stack(rows, 0).reshape(shape))
    return tuple(blocks), likes


def _batched_layouts(rows, likes, outputs, inputs, forward, outer):
    """A vectorized Jacobian's blocks (rows: one per output) laid out as PyTorch's single
    batched pass leaves them (forward mode: per output; reverse mode: per input).
    ``inputs``: (the tensors func ran on, those the caller gave)."""
    if forward:
        return tuple(forward_jacobian_blocks(row, out, inputs, all(k is None for k in lk),
                                             outer)
                     for row, out, lk in zip(rows, outputs, likes))
    columns = []
    for j, x in enumerate(inputs[0]):
        # (several outputs' gradients summed: a broadcast one takes the other's layout)
        found = [lk[j] for lk in likes if lk[j] is not None]
        like = next((a for a in found if 0 not in a.strides), found[0] if found else None)
        columns.append(reverse_jacobian_blocks([row[j] for row in rows], outputs, x, like))
    return tuple(tuple(col[i] for col in columns) for i in range(len(rows)))


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar ``func`` at ``inputs``: shape ``x.shape + x.shape`` for one
    input; ``H[i][j]`` of shape ``x_i.shape + x_j.shape`` for a tuple of inputs. The Jacobian
    (``outer_jacobian_strategy``, ``vectorize``) of the gradient."""
    is_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in _STRATEGIES:
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def scalar(*xs):
        out = func(*xs)
        out_tuple, outs = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _require_grad(outs, "outputs", strict)
        _single_element(out, out_tuple, "hessian")
        return out.squeeze()

    def gradient(*xs):
        jac = jacobian(scalar, xs, create_graph=True)
        _require_grad(jac, "jacobian", strict)
        return jac

    res = _jacobian(gradient, inputs, create_graph, strict, vectorize,
                    outer_jacobian_strategy, True)
    return _unpack_nested(res, is_tuple, is_tuple)
