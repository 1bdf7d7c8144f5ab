"""Higher-level derivatives of a function: ``vjp``, ``jvp``, ``jacobian``, ``hessian``,
``vhp``, ``hvp`` (as ``torch.autograd.functional``).

Each is a few calls of ``autograd.grad``; second-order ones use ``create_graph=True``:

    vjp(f, x, v)   = v^T J                one backward
    jvp(f, x, v)   = J v                  the "double-backward trick": u -> u^T J is linear
                                          in u, so its gradient with respect to u, taken
                                          along v, is J v
    jacobian(f, x) = J                    one backward per output element
    vhp(f, x, v)   = v^T H                backward of (grad f . v)
    hvp(f, x, v)   = H v                  = (v^T H)^T: H is symmetric
    hessian(f, x)  = H                    the jacobian of grad f

``f`` takes tensors and returns a tensor (or a tuple of them; ``vhp``/``hvp``/``hessian``
need a single one-element output). ``inputs`` is a tensor or a tuple; results mirror it.
"""
from __future__ import annotations

from .. import backend
from ..ops.movement import stack   # this module sits above ops (minigrad/__init__ imports it)
from ..tensor import Tensor
from .engine import grad
from .grad_mode import enable_grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]


def _as_tuple(value, what, fn_name):
    is_tuple = isinstance(value, (tuple, list))
    items = tuple(value) if is_tuple else (value,)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"The {what} given to {fn_name} must be either a Tensor or a tuple of "
                            f"Tensors but the value at index {i} has type {type(t).__name__}.")
    return is_tuple, items


def _prepare(inputs, create_graph):
    """Fresh leaves that require grad (or differentiable aliases, to keep an outer graph)."""
    out = []
    for t in inputs:
        if create_graph and t.requires_grad:
            out.append(t.view_as(t))
        else:
            out.append(t.detach().requires_grad_(t.is_floating_point()))
    return tuple(out)


def _finish(values, create_graph):
    return tuple(v if v is None or create_graph else v.detach() for v in values)


def _zeros_like(t):
    return Tensor._wrap(backend.xp_of(t._array).zeros_like(t._array))


def _grads(outputs, inputs, grad_outputs, create_graph, strict, fn_name, retain_graph=True):
    """grad() that gives zeros (or, with ``strict``, an error) for an unused input."""
    live = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if live:
        res = grad([o for o, _ in live], inputs, [g for _, g in live], retain_graph=retain_graph,
                   create_graph=create_graph, allow_unused=True)
    else:
        res = (None,) * len(inputs)
    out = []
    for i, (r, x) in enumerate(zip(res, inputs)):
        if r is None:
            if strict:
                raise RuntimeError(f"The output of the user-provided function is independent of "
                                   f"input {i}. This is not allowed in strict mode.")
            r = _zeros_like(x)
        out.append(r)
    return tuple(out)


def _check_v(v, outputs, fn_name, what="output"):
    _, vs = _as_tuple(v, "v", fn_name)
    if len(vs) != len(outputs):
        raise RuntimeError(f"v is a tuple of invalid length: should be {len(outputs)} but got "
                           f"{len(vs)}.")
    for i, (a, b) in enumerate(zip(vs, outputs)):
        if tuple(a.shape) != tuple(b.shape):
            raise RuntimeError(f"Entry {i} in v has invalid size: should be {list(b.shape)} but "
                               f"got {list(a.shape)}.")
    return vs


def _input_vectors(v, inputs, fn_name):
    """The vectors v shaped like ``inputs`` (ones for a single one-element input and no v)."""
    if v is not None:
        return _check_v(v, inputs, fn_name, "input")
    if len(inputs) != 1 or inputs[0].numel() != 1:
        raise RuntimeError("The vector v can only be None if the input to the user-provided "
                           "function is a single Tensor with a single element.")
    return (Tensor._wrap(backend.xp_of(inputs[0]._array).ones_like(inputs[0]._array)),)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product at ``inputs``."""
    with enable_grad():
        is_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _prepare(inputs, create_graph)
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                       "vjp")
        if v is None:
            if len(outputs) != 1 or outputs[0].numel() != 1:
                raise RuntimeError("The vector v can only be None if the user-provided function "
                                   "returns a single Tensor with a single element.")
            vs = (Tensor._wrap(backend.xp_of(outputs[0]._array).ones_like(outputs[0]._array)),)
        else:
            vs = _check_v(v, outputs, "vjp")
        res = _grads(outputs, inputs, vs, create_graph, strict, "vjp")
    outs = _finish(outputs, create_graph)
    res = _finish(res, create_graph)
    return (outs if out_tuple else outs[0]), (res if is_tuple else res[0])


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product at ``inputs`` (double-backward trick)."""
    with enable_grad():
        is_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _prepare(inputs, create_graph)
        vs = _input_vectors(v, inputs, "jvp")
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                       "jvp")
        # u -> u^T J is linear in u: its gradient along v (with respect to u) is J v
        us = tuple(_zeros_like(o).requires_grad_(True) for o in outputs)
        g = _grads(outputs, inputs, us, True, strict, "jvp")
        live = [(gi, vi) for gi, vi in zip(g, vs) if gi.requires_grad]
        if live:
            res = grad([gi for gi, _ in live], us, [vi for _, vi in live],
                       create_graph=create_graph, allow_unused=True)
        else:
            res = (None,) * len(us)
        res = tuple(_zeros_like(o) if r is None else r for r, o in zip(res, outputs))
    outs = _finish(outputs, create_graph)
    res = _finish(res, create_graph)
    return (outs if out_tuple else outs[0]), (res if out_tuple else res[0])


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: for output y and input x, a tensor of shape
    ``y.shape + x.shape`` with ``J[i..., j...] = dy[i...]/dx[j...]``. One backward per
    output element (reverse mode). Nested tuples for several outputs/inputs, as PyTorch."""
    if strategy != "reverse-mode":
        raise NotImplementedError("minigrad's jacobian computes in reverse mode only "
                                  "(strategy='reverse-mode')")
    with enable_grad():
        is_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _prepare(inputs, create_graph)
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                       "jacobian")
        jac = []
        for out in outputs:
            xp = backend.xp_of(out._array)
            rows = [[] for _ in inputs]
            for k in range(out.numel()):
                onehot = xp.zeros(out._array.size, dtype=out._array.dtype)
                onehot[k] = 1
                g = _grads((out,), inputs, (Tensor._wrap(onehot.reshape(out._array.shape)),),
                           create_graph, strict, "jacobian")
                for j, gj in enumerate(g):
                    rows[j].append(gj)
            per_input = []
            for x, r in zip(inputs, rows):
                if r:
                    block = stack(r, 0).reshape(tuple(out.shape) + tuple(x.shape))
                else:
                    block = Tensor._wrap(xp.zeros(tuple(out.shape) + tuple(x.shape),
                                                  dtype=x._array.dtype))
                per_input.append(block if create_graph else block.detach())
            jac.append(tuple(per_input))
    if not out_tuple and not is_tuple:
        return jac[0][0]
    if not out_tuple:
        return jac[0]
    if not is_tuple:
        return tuple(row[0] for row in jac)
    return tuple(jac)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar ``func`` at ``inputs``: shape ``x.shape + x.shape`` for one
    input; ``H[i][j]`` of shape ``x_i.shape + x_j.shape`` for a tuple of inputs."""
    is_tuple, inputs_t = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*xs):
        out = func(*xs)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError("The function given to hessian should return a single Tensor "
                               "with a single element")
        return _grads((out,), xs, (Tensor._wrap(backend.xp_of(out._array).ones_like(
            out._array)),), True, strict, "hessian")

    res = jacobian(gradient, inputs_t, create_graph=create_graph, strict=strict,
                   strategy=outer_jacobian_strategy)
    if is_tuple:
        return res
    return res[0][0] if isinstance(res[0], tuple) else res[0]


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H): a vector-Hessian product of a scalar ``func``."""
    with enable_grad():
        is_tuple, inputs = _as_tuple(inputs, "inputs", "vhp")
        inputs = _prepare(inputs, create_graph)
        vs = _input_vectors(v, inputs, "vhp")
        out = func(*inputs)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError("The function given to vhp should return a single Tensor with a "
                               "single element")
        g = _grads((out,), inputs, (Tensor._wrap(backend.xp_of(out._array).ones_like(
            out._array)),), True, strict, "vhp")
        res = _grads(g, inputs, vs, create_graph, strict, "vhp")
    res = _finish(res, create_graph)
    out = out if create_graph else out.detach()
    return out, (res if is_tuple else res[0])


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v): a Hessian-vector product (H is symmetric, so this is v^T H)."""
    return vhp(func, inputs, v, create_graph=create_graph, strict=strict)
