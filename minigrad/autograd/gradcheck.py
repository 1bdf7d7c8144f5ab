"""``minigrad.autograd.gradcheck`` and ``gradgradcheck``: PyTorch's gradient checks.

``gradcheck(fn, inputs)`` builds, for every differentiable output ``k`` and every input
``i`` that requires grad, two Jacobians of shape ``(inputs[i].numel(), outputs[k].numel())``
(row ``j``: the derivatives with respect to element ``j`` of the input, as PyTorch lays them
out):

    numerical   central differences  (f(x + eps e_j) - f(x - eps e_j)) / (2 eps)
    analytical  reverse mode: column m is the gradient of output element m (one backward
                with a one-hot grad_output per output element)

and requires ``|analytical - numerical| <= atol + rtol * |numerical|`` everywhere. On a
mismatch it raises ``GradcheckError`` ("Jacobian mismatch for output k with respect to
input i, numerical:... analytical:..."), or returns False with ``raise_exception=False``.
``gradgradcheck`` runs the same check on the function ``(inputs, v) -> v^T J`` computed with
``create_graph=True``: the second derivatives.

A complex tensor counts as twice as many real numbers (each element's real and imaginary
parts, in that order), so its rows and columns are those of the real function on (x, y): the
numerical side perturbs x and y apart, and the analytical side reads dL/dx and dL/dy from the
real and imaginary parts of PyTorch's gradient, with grad_output 1 for L = Re(out) and 1j for
L = Im(out).

The checks work on private copies of the inputs: the caller's tensors are never touched.
(``minigrad.testing.gradcheck`` is the test-suite variant, a single random projection
``v^T J`` with more detailed reports; its ``GradcheckError`` is a subclass of this one.)
"""
from __future__ import annotations

import numpy as np

from .._warn_once import warn_user
from .. import backend
from ..tensor import Tensor
from . import forward_ad
from .engine import grad
from .grad_mode import enable_grad

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]


class GradcheckError(RuntimeError):
    """A gradient check failed (``torch.autograd.gradcheck.GradcheckError``)."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _is_float(o):
    return isinstance(o, Tensor) and o._array.dtype.kind in "fc"


def _reals(a):
    """An array's numbers as real ones: a complex array's parts interleaved (x0, y0, x1...),
    a view when ``a`` is contiguous."""
    return a.view(a.real.dtype) if a.dtype.kind == "c" else a


def _differentiable(outputs):
    """The positions of the outputs a gradient flows through: floating, requiring grad."""
    return [k for k, o in enumerate(outputs) if _is_float(o) and o.requires_grad]


def _host(t):
    return _reals(backend.as_numpy(t._array)).astype(np.float64).reshape(-1)


def _private_copies(inputs):
    """Fresh leaves holding copies of the tensor inputs (requires_grad kept)."""
    out = []
    for x in inputs:
        if isinstance(x, Tensor):
            t = Tensor._wrap(x._array.copy())
            out.append(t.requires_grad_(True) if x.requires_grad else t)
        else:
            out.append(x)
    return out


def _numerical(fn, leaves, diff_idx, positions, eps):
    """{(k, i): (inputs[i].numel(), outputs[k].numel()) array} by central differences,
    perturbing the leaves' raw arrays in place (and restoring them). ``positions``: which
    entries of fn's output tuple are the outputs k = 0, 1, ... Grad mode stays on, as
    ``gradgradcheck``'s function differentiates inside."""
    jac = {}
    for i in diff_idx:
        flat = _reals(leaves[i]._array).reshape(-1)     # a view: the copy is contiguous
        for j in range(flat.size):
            orig = flat[j].item()
            flat[j] = orig + eps
            out = _as_tuple(fn(*leaves))
            plus = [_host(out[p]) for p in positions]
            flat[j] = orig - eps
            out = _as_tuple(fn(*leaves))
            minus = [_host(out[p]) for p in positions]
            flat[j] = orig
            for k, (p, m) in enumerate(zip(plus, minus)):
                block = jac.setdefault((k, i), np.zeros((flat.size, p.size)))
                block[j] = (p - m) / (2 * eps)
    return jac


def _analytical(outputs, leaves, diff_idx, check_grad_dtypes):
    """{(k, i): Jacobian block} by reverse mode, one backward per output element."""
    jac = {}
    inputs = [leaves[i] for i in diff_idx]
    for k, out in enumerate(outputs):
        parts = 2 if out._array.dtype.kind == "c" else 1      # real numbers per element
        n = out._array.size * parts
        blocks = [np.zeros((_reals(leaves[i]._array).size, n)) for i in diff_idx]
        xp = backend.xp_of(out._array)
        for m in range(n):
            onehot = xp.zeros(out._array.size, dtype=out._array.dtype)
            onehot[m // parts] = 1j if m % parts else 1
            gs = grad(out, inputs, Tensor._wrap(onehot.reshape(out._array.shape)),
                      retain_graph=True, allow_unused=True)
            for b, (g, x) in enumerate(zip(gs, inputs)):
                if g is None:
                    continue
                if check_grad_dtypes and g._array.dtype != x._array.dtype:
                    raise GradcheckError("Gradient has dtype mismatch")
                if tuple(g.shape) != tuple(x.shape):
                    raise GradcheckError("Analytical gradient has incorrect size")
                blocks[b][:, m] = _host(g)
        for b, i in enumerate(diff_idx):
            jac[(k, i)] = blocks[b]
    return jac


def _forward_mode(fn, leaves, diff_idx, positions):
    """{(k, i): Jacobian block} by forward mode (dual tensors), one call of ``fn`` per real
    input element: row j is the tangent of each output for the one-hot tangent e_j. Real
    inputs and outputs only (a complex block is left out of this check)."""
    jac = {}
    for i in diff_idx:
        x = leaves[i]
        if x._array.dtype.kind == "c":
            continue
        xp = backend.xp_of(x._array)
        for j in range(x._array.size):
            onehot = xp.zeros(x._array.size, dtype=x._array.dtype)
            onehot[j] = 1
            with forward_ad.dual_level():
                dual = forward_ad.make_dual(x.detach(), Tensor._wrap(onehot.reshape(x.shape)))
                args = list(leaves)
                args[i] = dual
                out = _as_tuple(fn(*args))
                tangents = [forward_ad.unpack_dual(out[p]).tangent for p in positions]
            for k, (p, t) in enumerate(zip(positions, tangents)):
                if out[p]._array.dtype.kind == "c":
                    continue
                block = jac.setdefault((k, i), np.zeros((x._array.size, out[p]._array.size)))
                if t is not None:
                    block[j] = _host(t)
    return jac


def _fail(message, raise_exception):
    if raise_exception:
        raise GradcheckError(message)
    return False


def gradcheck(func, inputs, *, eps=1e-06, atol=1e-05, rtol=0.001, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, check_grad_dtypes=False,
              check_batched_grad=False, check_batched_forward_grad=False,
              check_forward_ad=False, check_backward_ad=True, fast_mode=False, masked=None):
    """Check ``func``'s reverse-mode gradients at ``inputs`` against central differences.

    Returns True, or raises ``GradcheckError`` (False with ``raise_exception=False``).
    Inputs that require grad should be float64 (a warning otherwise, as in PyTorch).
    ``nondet_tol``: how far two backward passes with the same grad_output may differ.
    ``check_forward_ad`` also compares forward mode's Jacobian (dual tensors), and
    ``check_backward_ad=False`` leaves out the reverse-mode one.
    ``fast_mode`` runs the full check (minigrad has no cheaper projected variant);
    ``check_undefined_grad``, ``check_batched_grad`` and ``masked`` are accepted for
    PyTorch compatibility (minigrad's vmap loops, so batched gradients equal the per-row
    ones computed here).
    """
    inputs = _as_tuple(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff_idx:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, "
                         "but none of them have requires_grad=True.")
    for i in diff_idx:
        if inputs[i]._array.dtype not in (np.float64, np.complex128):
            warn_user(f"Input #{i} requires gradient and is not a double precision floating "
                      "point or complex. This check will likely fail if all the inputs are "
                      "not of double precision floating point or complex. ", UserWarning)
    leaves = _private_copies(inputs)
    with enable_grad():
        result = _as_tuple(func(*leaves))
        positions = _differentiable(result)
        outputs = [result[p] for p in positions]
        if not outputs:
            positions = [k for k, o in enumerate(result) if _is_float(o)]
        numerical = _numerical(func, leaves, diff_idx, positions, eps)
    if not outputs:
        # nothing to differentiate: the function must then not depend on the inputs
        if any(np.abs(block).max(initial=0.0) > 0 for block in numerical.values()):
            return _fail("Numerical gradient for function expected to be zero",
                         raise_exception)
        return True
    if check_backward_ad and not _backward_matches(outputs, leaves, diff_idx, numerical, rtol,
                                                   atol, nondet_tol, check_grad_dtypes,
                                                   raise_exception):
        return False
    if check_forward_ad:        # after the reverse-mode check, as PyTorch orders them
        forward = _forward_mode(func, leaves, diff_idx, positions)
        for (k, i), a in forward.items():
            n = numerical[(k, i)]
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                return _fail(f"Jacobian computed with forward mode mismatch for output {k} with "
                             f"respect to input {i},\nnumerical:{_show(n, outputs[k])}\n"
                             f"analytical:{_show(a, leaves[i])}\n", raise_exception)
    return True


def _backward_matches(outputs, leaves, diff_idx, numerical, rtol, atol, nondet_tol,
                      check_grad_dtypes, raise_exception):
    """The reverse-mode check: backward gives the same Jacobian twice (within
    ``nondet_tol``; checked first, as PyTorch), and it matches the numerical one."""
    analytical = _analytical(outputs, leaves, diff_idx, check_grad_dtypes)
    again = _analytical(outputs, leaves, diff_idx, check_grad_dtypes)
    for key, a in analytical.items():
        if np.abs(again[key] - a).max(initial=0.0) > nondet_tol:
            return _fail("Backward is not reentrant, i.e., running backward with same input "
                         "and grad_output multiple times gives different values, although "
                         "analytical gradient matches numerical gradient.The tolerance for "
                         f"nondeterminism was {nondet_tol}.", raise_exception)
    for k in range(len(outputs)):
        for i in diff_idx:
            a, n = analytical[(k, i)], numerical[(k, i)]
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                return _fail(f"Jacobian mismatch for output {k} with respect to input {i},\n"
                             f"numerical:{_show(n, outputs[k])}\nanalytical:"
                             f"{_show(a, leaves[i])}\n", raise_exception)
    return True


def _show(block, like):
    """A Jacobian block printed as in PyTorch's message: in the dtype of the tensor ``like``
    (PyTorch keeps the numerical Jacobian in the output's, the analytical in the input's)."""
    return repr(Tensor._wrap(block.astype(like._array.dtype)))


def _random_grad_output(o, noncontiguous):
    """torch's random vector for output ``o`` (``testing.make_tensor`` in [-1, 1)): uniform_
    draws from the default generator in ``o``'s dtype (float64 for a non-floating one), a
    complex one's real and imaginary parts interleaved; ``noncontiguous``: every other entry
    of one twice as wide in the last dimension, from the second.  Requires grad."""
    dtype = o._array.dtype if o._array.dtype.kind in "fc" else np.dtype(np.float64)
    shape = tuple(o.shape)
    wide = noncontiguous and int(np.prod(shape)) > 1
    drawn = shape[:-1] + (2 * shape[-1],) if wide else shape
    part = Tensor._wrap(np.empty(drawn + ((2,) if dtype.kind == "c" else ()),
                                 dtype=np.finfo(dtype).dtype))
    values = np.array(backend.as_numpy(part.uniform_(-1.0, 1.0)._array))
    if dtype.kind == "c":
        values = (values[..., 0] + 1j * values[..., 1]).astype(dtype)
    v = Tensor._wrap(backend.to_device(values, o.device))
    if wide:
        v = v[..., 1::2]
    return v.requires_grad_(True)


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-06, atol=1e-05, rtol=0.001,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0,
                  check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
                  check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False,
                  masked=False):
    """Check second derivatives: ``gradcheck`` of ``(inputs, v) -> v^T J(inputs)``, the
    first derivatives computed with ``create_graph=True``.

    ``grad_outputs``: the vectors ``v`` (one per differentiable output); when None, random
    tensors requiring grad drawn as torch draws them (from the default generator, so a seed
    gives torch's vectors and leaves the generator where torch's leaves it). Returns True or raises ``GradcheckError``.
    """
    inputs = _as_tuple(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if grad_outputs is None:
        with enable_grad():
            result = _as_tuple(func(*_private_copies(inputs)))
        outputs = [result[p] for p in _differentiable(result)]
        grad_outputs = tuple(_random_grad_output(o, gen_non_contig_grad_outputs)
                             for o in outputs)
    grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)

    def first_derivatives(*args):
        xs, vs = args[:n_in], args[n_in:]
        result = _as_tuple(func(*xs))
        outs = [result[p] for p in _differentiable(result)]
        if not outs:
            return ()
        gs = grad(outs, [xs[i] for i in diff_idx], list(vs), create_graph=True,
                  allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_derivatives, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, nondet_tol=nondet_tol,
                     check_undefined_grad=check_undefined_grad,
                     check_grad_dtypes=check_grad_dtypes, check_batched_grad=check_batched_grad,
                     fast_mode=fast_mode, masked=masked)
