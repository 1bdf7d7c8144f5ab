"""``minigrad.func``'s Jacobians and Hessians: ``jacrev`` (one backward per output element),
``jacfwd`` (the same values, computed in reverse mode too) and ``hessian`` (``jacfwd`` of
``jacrev``).  ``minigrad.func`` exports them; the other transforms are in ``func.py``.
"""
from __future__ import annotations

from . import autograd
from .autograd._jacobian_layout import forward_jacobian_blocks, reverse_jacobian_blocks
from .autograd._transforms import inside_transform
from ._random_factories import default_generator
from ._vmap import _RANDOM_ERROR, _flatten
from .ops.stacking import stack
from .tensor import Tensor
from ._func_shared import (_argnums, _check_primals, _foreign_graph, _prepare, _recording, _regroup,
                           _settle, _split_aux, _zeros_for_unused)


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None):
    """A function returning the Jacobian of ``func`` with respect to the argument(s)
    ``argnums``: for an output of shape O and an input of shape I, a tensor of shape O + I.
    Several outputs or arguments give nested tuples (outputs outside, arguments inside).
    ``chunk_size`` is accepted for PyTorch compatibility (rows are computed one by one)."""
    if chunk_size is not None and not chunk_size > 0:
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")
    return _jacobian(func, argnums, has_aux, "jacrev(f, argnums)(*args)", _jacobian_rows)


def _jacobian(func, argnums, has_aux, who, build):
    """The Jacobian transform, its blocks made by ``build(out, wrt, keep)``: by rows (reverse
    mode) or by columns (forward mode's order of operations), then laid out as PyTorch's one
    batched pass leaves them."""
    # what PyTorch's transform is made of, for the custom Functions ``func`` applies:
    # jacrev a vjp, jacfwd a vmap of jvps
    forward = build is _jacobian_columns
    kinds = ("functorch", "vmap", "forward") if forward else ("functorch",)
    inner = "jvp(f, primals, tangents)" if forward else "vjp(f, *primals)"

    def wrapper(*args, **kwargs):
        _refuse_complex(who, args, "inputs")
        outer = autograd.is_grad_enabled()
        with _recording():
            given = args
            single, nums, args, leaves, rebuilds = _prepare(args, argnums, outer)
            wrt = [t for group in leaves for t in group]
            with inside_transform(*kinds):
                out, aux = _split_aux(func(*args, **kwargs), has_aux, inner)
            out_flat, out_rebuild = _flatten(out)
            _refuse_complex(who, out_flat, "outputs")
            for o in out_flat:
                if not isinstance(o, Tensor):       # torch's words of the vjp/jvp inside
                    raise RuntimeError(f"{inner}: expected f(*primals) to return only tensors, "
                                       f"got unsupported type {type(o)}")
                if not forward and o._array.dtype.kind not in "fc":
                    raise RuntimeError(f"vjp(f, ...): All outputs of f must be floating-point "
                                       f"or complex Tensors, got Tensor with dtype {o.dtype}")
            found = [build(o, wrt, outer and _foreign_graph(o, wrt)) for o in out_flat]
            if forward:
                found = _dead_columns(found, out_flat, wrt, leaves, argnums)
            # (the caller's tensors, in wrt's order: forward mode lays a tangent out in the
            # memory of its primal's storage)
            given = [t for a in nums for t in _flatten(given[a])[0] if isinstance(t, Tensor)]
            blocks = _laid_out(found, out_flat, (wrt, given), forward)
            jac = [_regroup(_settle(b, wrt, outer), rebuilds, single) for b in blocks]
        result = out_rebuild(jac)
        if has_aux:
            return result, _settle(aux, wrt, outer)
        return result
    return wrapper


def _dead_columns(found, outs, wrt, leaves, argnums):
    """PyTorch's jacfwd puts its dual numbers only at the argument positions that equal an
    entry of ``argnums`` as given, so a negative entry gets none: its columns are zero (and
    an output reached by no dual number has no tangent at all)."""
    nums = (argnums,) if isinstance(argnums, int) else argnums
    if all(a >= 0 for a in nums):
        return found
    dead = [x for a, group in zip(nums, leaves) if a < 0 for x in group]
    dead_ids = {id(x) for x in dead}
    result = []
    for (blocks, likes), o in zip(found, outs):
        blocks = [b if id(x) not in dead_ids else b.detach().new_zeros(tuple(b.shape))
                  for b, x in zip(blocks, wrt)]
        alive = any(k is not None and id(x) not in dead_ids for k, x in zip(likes, wrt))
        result.append((blocks, [k if alive else None for k in likes]))
    return result


def _laid_out(found, outs, wrt, forward):
    """Each output's blocks (``found``: (blocks, one pass's gradient or tangent per input,
    None where none came)) in PyTorch's layout (see ``autograd._batch_layout``); ``wrt``:
    (the variables, the caller's tensors they stand for)."""
    if forward:
        return [forward_jacobian_blocks(blocks, o, wrt, all(k is None for k in likes))
                for (blocks, likes), o in zip(found, outs)]
    wrt = wrt[0]
    columns = []
    for j, x in enumerate(wrt):
        got = [likes[j] for _, likes in found if likes[j] is not None]
        like = next((a for a in got if 0 not in a.strides), got[0] if got else None)
        columns.append(reverse_jacobian_blocks([blocks[j] for blocks, _ in found], outs, x,
                                               like))
    return [[col[i] for col in columns] for i in range(len(outs))]


def _refuse_complex(who, tree, what):
    """PyTorch's refusal of a complex tensor among a Jacobian's inputs (every positional
    argument, whatever ``argnums`` picks) or outputs, by its index in the flattened tree."""
    for i, leaf in enumerate(_flatten(tree)[0]):
        if isinstance(leaf, Tensor) and leaf._array.dtype.kind == "c":
            raise RuntimeError(f"{who.split('(')[0]}: Expected all {what} to be real but "
                               f"received complex tensor at flattened input idx: {i}")


def _jacobian_rows(out, wrt, keep):
    """d out / d x for each x in ``wrt``, shaped out.shape + x.shape: one backward per
    output element (each a row of the Jacobian), stacked."""
    n = out.numel()
    flat_out = out.reshape(-1)
    per_input = [[] for _ in wrt]
    likes = [None] * len(wrt)           # one pass's gradient per input, for the layout
    for m in range(n):
        if out.requires_grad:
            gs = autograd.grad(flat_out[m], wrt, retain_graph=True, create_graph=keep,
                               allow_unused=True)
        else:
            gs = [None] * len(wrt)
        likes = [k if k is not None or g is None else g._array for k, g in zip(likes, gs)]
        for rows, g, x in zip(per_input, _zeros_for_unused(gs, wrt), wrt):
            rows.append(g)
    result = []
    for rows, x in zip(per_input, wrt):
        if n:
            j = stack(rows).reshape(tuple(out.shape) + tuple(x.shape))
        else:
            j = x.detach().new_zeros(tuple(out.shape) + tuple(x.shape))
        result.append(j if keep else j.detach())
    return result, likes


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """The Jacobian (as ``jacrev``'s), a column J e_j per input element as forward mode
    makes it: the same values, but a NaN or infinite derivative spreads as PyTorch's forward
    mode spreads it (sin at a NaN input: that output's row is NaN, where reverse mode makes
    that input's column NaN)."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")
    if randomness == "error":       # torch runs func under vmap, which refuses random draws
        func = _refusing_random(func)
    fwd = _jacobian(func, argnums, has_aux, "jacfwd(f, argnums)(*args)", _jacobian_columns)

    def wrapper(*args, **kwargs):
        _refuse_complex("jacfwd", args, "inputs")
        _, nums = _argnums(argnums, len(args))
        _check_primals([args[a] for a in nums])
        return fwd(*args, **kwargs)
    return wrapper


def _refusing_random(func):
    """``func``, raising vmap's error of randomness mode 'error' if it draws random numbers
    from the default generator."""
    def checked(*args, **kwargs):
        before = default_generator.stream.state_bytes(0)
        result = func(*args, **kwargs)
        if before != default_generator.stream.state_bytes(0):
            raise RuntimeError(_RANDOM_ERROR)
        return result
    return checked


def _jacobian_columns(out, wrt, keep):
    """d out / d x for each x in ``wrt``, shaped out.shape + x.shape, one column J e_j per
    element of x: the double-backward trick of ``jvp`` (u -> u^T J is linear in u; its
    gradient along e_j with respect to u is J e_j), on one reverse graph for all columns."""
    if not out.requires_grad:
        return ([x.detach().new_zeros(tuple(out.shape) + tuple(x.shape)) for x in wrt],
                [None] * len(wrt))
    u = out.detach().new_zeros(tuple(out.shape)).requires_grad_(True)
    vjps = autograd.grad(out, wrt, u, create_graph=True, allow_unused=True)
    result = []
    for g, x in zip(vjps, wrt):
        n = x.numel()
        if g is None or not g.requires_grad or n == 0:       # J is zero (or empty)
            result.append(x.detach().new_zeros(tuple(out.shape) + tuple(x.shape)))
            continue
        cols = []
        for m in range(n):
            e = x.detach().new_zeros(n)
            e[m] = 1
            c, = autograd.grad(g, u, e.reshape(tuple(x.shape)), retain_graph=True,
                               create_graph=keep, allow_unused=True)
            cols.append(c if c is not None else out.detach().new_zeros(tuple(out.shape)))
        j = stack(cols, -1).reshape(tuple(out.shape) + tuple(x.shape))
        result.append(j if keep else j.detach())
    # (whether a tangent reaches the output: any input it depends on)
    return result, [None if g is None else g._array for g in vjps]


def hessian(func, argnums=0):
    """The Hessian of the scalar ``func``: the Jacobian of its gradient, shaped
    x.shape + x.shape (nested tuples for several arguments)."""
    return jacfwd(jacrev(func, argnums), argnums)
