"""Second derivatives, checked: ``gradgradcheck`` (finite differences of the first derivative)
and ``compare_second_order_with_torch`` (the same two backward passes in PyTorch).

Both look at the same quantity. For outputs y = f(x), a random upstream v and a random
direction u::

    first(x, v)  = v^T J_f(x)                                   (one backward, create_graph)
    second       = d/d(x, v) of sum(u * first(x, v))            (a backward through that)

``second`` holds the Hessian-vector products sum_k v_k H_{y_k}(x) u (the x part) and J_f(x) u
(the v part): every second-order path through the op's backward is exercised.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import enable_grad, grad
from ..tensor import Tensor
from .gradcheck import (GradcheckError, _as_tuple, _check, _float_outputs, _gradcheck_details,
                        _import_torch, _is_minigrad_tensor, _is_torch_tensor, paired_inputs,
                        to_numpy)

__all__ = ["gradgradcheck", "compare_second_order_with_torch"]


def _first_derivative(fn, n_inputs):
    """A function of (*inputs, *upstreams) returning the first derivative v^T J (create_graph):
    differentiating *it* by finite differences checks the second derivative."""
    def first(*args):
        xs, vs = args[:n_inputs], args[n_inputs:]
        with enable_grad():          # finite differences call this inside no_grad()
            outs = [o for o in _float_outputs(fn(*xs)) if o.requires_grad]
            diff = [x for x in xs if _is_minigrad_tensor(x) and x.requires_grad]
            if not outs:
                raise GradcheckError("gradgradcheck: no output of the function requires grad")
            return grad(outs, diff, list(vs[:len(outs)]), create_graph=True,
                        materialize_grads=True)
    return first


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, *, seed=0):
    """Check ``fn``'s second derivatives against central finite differences of its first.

    ``inputs``: as for ``gradcheck`` (float64 tensors that require grad are differentiated).
    ``grad_outputs``: the upstream gradients v (tensors shaped like the outputs); random by
    default. They are differentiated too (the first derivative is linear in them). Returns
    True; on a mismatch raises ``GradcheckError`` (or returns False without
    ``raise_exception``). The report names the input ("input k" counts the inputs, then the
    upstream gradients).
    """
    inputs = _as_tuple(inputs)
    outs = [o for o in _float_outputs(fn(*inputs)) if o.requires_grad]
    if not outs:
        raise ValueError("gradgradcheck: no output of the function requires grad")
    if grad_outputs is None:
        rng = np.random.default_rng(seed + 1)
        grad_outputs = [Tensor._wrap(backend.to_device(
            np.asarray(rng.standard_normal(tuple(o.shape)) + 0.5).astype(o._array.dtype),
            o.device)) for o in outs]
    vs = []
    for v in _as_tuple(grad_outputs):
        v = Tensor._wrap(v._array.copy())
        v.requires_grad_(True)
        vs.append(v)
    report, _, _ = _gradcheck_details(_first_derivative(fn, len(inputs)), inputs + tuple(vs),
                                      eps, atol, rtol, False, seed)
    if report is None:
        return True
    report = report.replace("gradcheck failed", "gradgradcheck failed (second derivative)", 1)
    if raise_exception:
        raise GradcheckError(report)
    return False


def compare_second_order_with_torch(fn_minigrad, fn_torch, inputs, requires_grad=None,
                                    rtol=None, atol=None, *, seed=0, equal_nan=True):
    """The first and second derivatives of both frameworks on the same numbers.

    ``inputs``: numpy arrays (floating ones differentiated unless ``requires_grad`` says
    otherwise) or plain values passed through. Computes ``first`` = v^T J with
    create_graph, then the gradient of sum(u * first) with respect to the inputs and v, on
    each side, and compares both. Raises ``GradcheckError`` naming what differs.
    """
    torch = _import_torch()
    inputs = list(inputs)
    requires_grad = requires_grad or [None] * len(inputs)
    mg_args, th_args, diff = paired_inputs(torch, inputs, requires_grad)
    if not diff:
        raise ValueError("compare_second_order_with_torch: no input requires grad")
    mg_out = [o for o in _float_outputs(fn_minigrad(*mg_args)) if o.requires_grad]
    th_out = [o for o in _as_tuple(fn_torch(*th_args))
              if _is_torch_tensor(o) and o.dtype.is_floating_point and o.requires_grad]
    if len(mg_out) != len(th_out):
        raise GradcheckError(f"{len(mg_out)} outputs require grad in minigrad, {len(th_out)} "
                             "in torch")
    rng = np.random.default_rng(seed + 7)
    v_np = [np.asarray(rng.standard_normal(tuple(o.shape)) + 0.5) for o in th_out]
    mg_v = [Tensor._wrap(v.astype(o._array.dtype)).requires_grad_() for v, o in
            zip(v_np, mg_out)]
    th_v = [torch.from_numpy(v).to(o.dtype).requires_grad_() for v, o in zip(v_np, th_out)]
    mg_x = [mg_args[i] for i in diff]
    th_x = [th_args[i] for i in diff]

    mg_first = grad(mg_out, mg_x, mg_v, create_graph=True, allow_unused=True)
    th_first = torch.autograd.grad(th_out, th_x, th_v, create_graph=True, allow_unused=True)
    for k, (m, t) in enumerate(zip(mg_first, th_first)):
        e = np.zeros(tuple(th_x[k].shape)) if t is None else to_numpy(t)
        a = np.zeros(e.shape, e.dtype) if m is None else to_numpy(m)
        _check(a, e, rtol, atol, f"first derivative for input {diff[k]} differs from torch's",
               equal_nan)

    u_np = [np.asarray(rng.standard_normal(tuple(x.shape))) for x in th_x]
    mg_terms = [(f * Tensor._wrap(u.astype(f._array.dtype))).sum()
                for f, u in zip(mg_first, u_np) if f is not None and f.requires_grad]
    th_terms = [(f * torch.from_numpy(u).to(f.dtype)).sum()
                for f, u in zip(th_first, u_np) if f is not None and f.requires_grad]
    if not th_terms and not mg_terms:
        return
    # A side whose first derivative records no graph has second derivatives of zero (torch
    # does that for pow(x, 0), say): the other side must then compute zeros.
    mg_second = th_second = [None] * (len(th_x) + len(th_v))
    if mg_terms:
        mg_s = mg_terms[0]
        for term in mg_terms[1:]:
            mg_s = mg_s + term
        mg_second = grad(mg_s, mg_x + mg_v, allow_unused=True)
    if th_terms:
        th_second = torch.autograd.grad(sum(th_terms[1:], th_terms[0]), th_x + th_v,
                                        allow_unused=True)
    names = [f"input {i}" for i in diff] + [f"upstream gradient {k}" for k in range(len(th_v))]
    for name, m, t, ref in zip(names, mg_second, th_second, th_x + th_v):
        e = np.zeros(tuple(ref.shape)) if t is None else to_numpy(t)
        a = np.zeros(e.shape, e.dtype) if m is None else to_numpy(m)
        _check(a, e, rtol, atol, f"second derivative with respect to {name} (shape "
                                 f"{list(e.shape)}) differs from torch's", equal_nan)
