"""``linear``: y = x W^T + b, one fused node (``Linear``) named as the node PyTorch's linear
ends in (addmm, mm, a view of either, or a bmm plus the bias), with PyTorch's checks of the
shapes and dtypes of the input, weight and bias.  The other matrix products are in
``matmul.py``."""
from __future__ import annotations

import math

import numpy as np

from .. import _autocast_state, backend, dtypes
from ..autograd import Function
from ..autograd._saved_hooks import INPUT as _SAVED_INPUT
from ..autograd._shown_edges import new_node
from ..autograd.engine import _pass as _backward_pass
from ..tensor import Tensor
from . import _matmul_split  # noqa: F401  (fills matmul's split_batched slot)
from ._autocast_cast import lower as _autocast_lower
from ._matmul_raw import raw_grads_ok as _raw_grads_ok, raw_linear_grads as _raw_linear_grads
from ._util import (broadcast_shape, cpp_type_name, not_implemented_for, python_type_name,
                    result_dtype, scalar_type_name)
from .elementwise import cast
from .plumbing import conj_of, reshape_to
from .reduce import Sum
from .matmul import MatMul, _folds, _mT, matmul


_FLOAT16 = np.dtype(np.float16)


class Linear(Function):
    """y = x W^T + b, fused in one node.

    Shapes: x (*, in_features), W (out_features, in_features), b (out_features,)
    -> y (*, out_features).  The leading dims are flattened into one batch axis B so each
    product is a single 2-D BLAS call.

    Backward, with matmuls (differentiable to any order):
    dL/dx = g conj(W) (B, in), dL/dW = g^T conj(x) (out, in), dL/db = sum of g over the
    batch (out,).
    """
    complex_ok = True

    saved_for_input = (1, 0)          # x is read only for W's gradient, W only for x's
    # The order PyTorch's nodes for this op (addmm or mm after W.t(), views of x when it is
    # not 2-D) make the inputs' AccumulateGrads ready: b, then x (2-D, or without a bias)
    # before W, whose gradient passes the transpose's node first; a flattened x's view was
    # made before that transpose, so it runs after it (``forward`` sets (2, 1, 0) then)
    delivery_order = (2, 0, 1)
    # True once ``next_functions`` has laid the inputs out as PyTorch's (see there), with
    # W^T's node, or None for a weight without gradient
    _presented = False
    _t_node = None
    _x_copy = None        # the (B, in) copy forward made of a non-contiguous input

    def forward(self, x, w, b=None):
        # (B, in); B may be 0 (a matrix x as it is: its reshape would be a view of the same)
        x2 = x if x.ndim == 2 else x.reshape(math.prod(x.shape[:-1]), x.shape[-1])
        if x.dtype == _FLOAT16:
            # as PyTorch's addmm: accumulated in float32, the bias added in float32 too, one
            # rounding (bfloat16 arrives here in float32 already: Function's _reduced_forward)
            out = backend.matmul(x2.astype(np.float32), w.T.astype(np.float32))
            if b is not None:
                out += b.astype(np.float32)
            out = out.astype(np.float16)
        else:
            out = backend.matmul(x2, w.T)                # (B, in) @ (in, out) -> (B, out)
            if b is not None:
                out += b
        self.save_for_backward(x, w)                     # the inputs themselves, not x2
        if x2 is not x and not x.flags.c_contiguous and not np.may_share_memory(x2, x):
            # PyTorch folds such an input by a copy and saves the copy: an in-place write
            # into x after this leaves W's gradient as it was (``_unchanged_input``)
            self._x_copy = x2
        if x.ndim != 2:
            if b is not None:
                self.delivery_order = (2, 1, 0)
            else:                   # (whether PyTorch views x as a matrix: _split_views)
                self.x_row_major = bool(x.flags.c_contiguous)
        return out.reshape(x.shape[:-1] + (w.shape[0],))

    def backward(self, g):
        if self._presented == "view":      # the output's view of the product's node, split
            return reshape_to(g, self._in_meta[0][0])
        x, w = self.saved_tensors      # x kept only when W needs a gradient, W when x does
        if self._x_copy is not None and x is not None:
            x = _unchanged_input(self, x)
        if self._presented:                # edges in PyTorch's order (``next_functions``)
            return _presented_backward(self, g, x, w)
        (sx, _), (sw, _) = self._in_meta[:2]
        return self._gradients(g, x, w, sx, sw, self.needs_input_grad)

    def _gradients(self, g, x, w, sx, sw, needs):
        """(dL/dx, dL/dW[, dL/db]), each None where ``needs`` says so."""
        rows = math.prod(sx[:-1])
        if _raw_grads_ok(g, (x, w)):
            return _raw_linear_grads(g._array, x, w, sx, sw, rows, needs)
        g2 = reshape_to(g, (rows, sw[0]))                # (B, out)
        # complex: the other factor's conjugate
        gx = reshape_to(MatMul.apply(g2, conj_of(w)), sx) if needs[0] else None       # (B, in)
        gw = (MatMul.apply(_mT(g2), reshape_to(conj_of(x), (rows, sx[-1])))          # (out, in)
              if needs[1] else None)
        if len(needs) == 2:
            return gx, gw
        gb = Sum.apply(g2, axes=(0,), keepdim=False) if needs[2] else None          # (out,)
        return gx, gw, gb

    @property
    def next_functions(self):
        """PyTorch's edges for a matrix input: addmm's (bias, input, W^T) or mm's (input,
        W^T), W^T being ``TBackward0``, a node over the weight's. That node is made here, on
        the first look (the graphs nobody looks at pay nothing for it), and from then on is
        part of the graph: this node sends it the gradient of W^T, which it transposes on
        to the weight, so hooks on it run. (Not during a backward pass, whose plan counted
        the edges before; other inputs keep the fused node's (input, weight, bias).)"""
        name = self._node_name
        if not self._presented and getattr(_backward_pass, "callbacks", None) is None:
            if name == "AddmmBackward0" or name == "MmBackward0":
                _split_weight_transpose(self)
            elif name == "ViewBackward0" or name == "UnsafeViewBackward0":
                _split_views(self)
        return Function.next_functions.fget(self)

    def _check_versions(self, kept_only=False):
        """Function's check of the saved inputs (reached only once one was changed in place),
        each described as PyTorch's linear saves it: W as ``W.t()``, [in, out]; an input of
        one dim, or of more folded into a matrix without a copy, as that view, [1, in] or
        [rows, in]. Such a view's history PyTorch makes anew, as an as_strided of its base,
        once the base has changed: 'which is output 0 of AsStrided' where it records a
        gradient, nothing where it does not."""
        versions = self._versions
        described = []
        for counter, expected, shape, np_dtype, index in versions:
            t = _saved_input(self, counter) if counter.value != expected else None
            if t is not None and (index == 1 or t.ndim != 2):
                if index == 1:
                    shape = shape[::-1]
                elif t.ndim == 1:
                    shape = (1,) + shape
                else:
                    flat = (math.prod(shape[:-1]), shape[-1])
                    if not np.shares_memory(t._array.reshape(flat), t._array):
                        # PyTorch folds such an input by a copy, and saves the copy: no
                        # in-place write can reach it
                        continue
                    shape = flat
                index = "output 0 of AsStrided" if t.requires_grad else ""
            described.append((counter, expected, shape, np_dtype, index))
        self._versions = described
        try:
            Function._check_versions(self, kept_only)
        finally:
            self._versions = versions


def _unchanged_input(node, x):
    """The input as forward saw it: ``x``, or once ``x`` was changed in place, the copy
    forward folded it into (what PyTorch's linear saves for such an input)."""
    for counter, expected, _, _, index in node._versions or ():
        if index == 0 and counter.value != expected:
            return Tensor._wrap(node._x_copy)
    return x


def _saved_input(node, counter):
    """The input ``node`` saved whose version counter is ``counter`` (as itself, or as the
    source of a 16-bit node's float32 copy), or None."""
    kept = [entry[1] for entry in node.saved_ or ()
            if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == _SAVED_INPUT]
    kept += list((node._wide_sources or {}).values())
    for t in kept:
        if isinstance(t, Tensor) and t._vcounter is counter:
            return t
    return None


class _WeightT(Function):
    """W^T, as PyTorch's linear takes it before its product (``weight.t()``): the node
    ``Linear.next_functions`` splits out. Made only there; its backward transposes the
    gradient of W^T back to W's."""
    _node_name = "TBackward0"

    def backward(self, g):
        return _mT(g)


def _split_weight_transpose(node):
    """Put a ``_WeightT`` node between the Linear ``node`` and its weight's edge, and lay the
    node's inputs out in PyTorch's order: (bias, input, W^T) or (input, W^T), with their
    shapes, dtypes and needs (which its hooks see too). W^T's sequence number sits just
    below the node's, as the t() that PyTorch's linear runs right before its product."""
    edges, metas, needs = node.next_functions_, node._in_meta, node.needs_input_grad
    t = None
    if edges[1] is not None:        # (a weight without gradient: W^T has none either)
        shape, dtype = metas[1]
        t = new_node(_WeightT, node._seq - 0.5, (edges[1],), (needs[1],), ((shape, dtype),),
                      (((shape[1], shape[0]), dtype),))
        edges, metas = (edges[0], (t, 0)) + tuple(edges[2:]), (metas[0], t._out_meta[0]) + \
            tuple(metas[2:])
    if len(edges) == 3:
        order = (2, 0, 1)
        edges, metas, needs = ([seq[k] for k in order] for seq in (edges, metas, needs))
        node.delivery_order = None      # (the bias, the input, W^T: now the inputs' order)
    node.next_functions_, node._in_meta, node.needs_input_grad = \
        tuple(edges), tuple(metas), tuple(needs)
    node._t_node, node._presented = t, True


class _InputView(Function):
    """x (*, in) viewed as (B, in), as PyTorch's linear does before its product: a node
    ``_split_views`` makes. Backward: the gradient viewed back to x's shape."""
    _node_name = "ViewBackward0"

    def backward(self, g):
        return reshape_to(g, self._in_meta[0][0])


def _split_views(node):
    """A Linear ``node`` of an input of other than 2 dims as PyTorch's graph: the output's
    view (this node, from now on only that) of an addmm / mm node, whose inputs are (bias,)
    the view of x as a matrix and W^T (``_split_weight_transpose``). Done for a bias (x
    is folded into one matrix then) or a row-major x; the sequence numbers are in the
    order PyTorch's linear makes these nodes."""
    edges, metas, needs = node.next_functions_, node._in_meta, node.needs_input_grad
    bias = len(edges) == 3
    if not bias and not getattr(node, "x_row_major", False):
        return              # (PyTorch copies x first: a clone's node, not a view's)
    (sx, dtype), (sw, _) = metas[:2]
    rows = math.prod(sx[:-1])
    flat, out = ((rows, sx[-1]), dtype), ((rows, sw[0]), node._out_meta[0][1])
    seq = node._seq
    view = None if edges[0] is None else new_node(
        _InputView, seq - (0.9 if bias else 0.6), (edges[0],), (needs[0],), (metas[0],), (flat,))
    product = new_node(Linear.renamed("AddmmBackward0" if bias else "MmBackward0"), seq - 0.25,
                        (None if view is None else (view, 0),) + tuple(edges[1:]), needs,
                        (flat,) + tuple(metas[1:]), (out,))
    product.saved_, product._versions = node.saved_, node._versions
    product._packed = getattr(node, "_packed", False)
    product._x_copy = node._x_copy
    if node._wide_sources is not None:         # (a 16-bit node's float32 copies)
        product._wide_sources = node._wide_sources
    _split_weight_transpose(product)
    node.saved_, node._versions, node._presented = (), None, "view"
    node.next_functions_, node.needs_input_grad, node._in_meta = ((product, 0),), (True,), \
        (out,)
    node.delivery_order = None


def _presented_backward(node, g, x, w):
    """Linear's backward once ``_split_weight_transpose`` has laid its inputs out as
    PyTorch's: the gradients in that order, W's transposed (W^T's node turns it back)."""
    needs, metas, t = node.needs_input_grad, node._in_meta, node._t_node
    if len(needs) == 3:
        needs = (needs[1], needs[2], needs[0])
    sw = metas[-1][0] if t is None else t._in_meta[0][0]
    grads = node._gradients(g, x, w, metas[-2][0], sw, needs)
    gwt = None if grads[1] is None or t is None else _mT(grads[1])
    return (grads[2], grads[0], gwt) if len(grads) == 3 else (grads[0], gwt)


def _refuse_mismatched_sizes(input, weight, bias, folded, mm):
    """What PyTorch says first of an input whose features are not the weight's.  A folded
    input with a bias goes to addmm, which compares the dtypes (the bias's, then the input's,
    with the weight's) before the sizes; any other goes through matmul, whose mm (``mm``: it
    folds the input into one matrix) words the sizes below, and whose bmm (it does not) has
    its own words."""
    if not mm:
        batch = math.prod(input.shape[:-2])
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{batch}, {input.shape[-1]}] but got: [{batch}, {weight.shape[1]}].")
    if bias is None or not folded or not isinstance(bias, Tensor):
        return
    dw = weight._array.dtype
    for name, d in (("self", bias._array.dtype), ("mat1", input._array.dtype)):
        if d != dw:
            raise RuntimeError(f"{name} and mat2 must have the same dtype, but got "
                               f"{scalar_type_name(d)} and {scalar_type_name(dw)}")


def linear(input, weight, bias=None):
    """y = x W^T + b.  input (*, in_features), weight (out_features, in_features).
    Inside an autocast region the float32 operands are cast to the autocast dtype first."""
    if _plain_addmm(input, weight, bias):
        # the common case of a layer, (B, in) @ (out, in)^T + (out,), in one float dtype on
        # the CPU: none of the checks below can refuse it, and on small inputs they cost more
        # than the product
        return _ADDMM.apply(input, weight, bias)
    if not isinstance(input, Tensor):           # a PackedSequence given to a Linear layer
        raise TypeError(f"linear(): argument 'input' (position 1) must be Tensor, not "
                        f"{python_type_name(input)}")
    for pos, name, arg in ((2, "weight", weight), (3, "bias", bias)):
        if not isinstance(arg, Tensor) and not (name == "bias" and arg is None):
            raise TypeError(f"linear(): argument '{name}' (position {pos}) must be Tensor, not "
                            f"{python_type_name(arg)}")
    if _autocast_state.active:
        input, weight, bias = _autocast_lower(input, weight, bias)
    if input.ndim == 0 or weight.ndim == 0:
        raise RuntimeError(f"both arguments to linear need to be at least 1D, but they are "
                           f"{input.ndim}D and {weight.ndim}D")
    if weight.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{weight.ndim}D (linear's weight must be (out_features, "
                           f"in_features), got shape {list(weight.shape)})")
    if weight.ndim == 1:
        # a vector weight: input @ weight, one output feature dropped.  A bias beside it is
        # refused where PyTorch folds the input into addmm (a matrix input, or a contiguous
        # input beside a contiguous bias that is a vector, or has one dim not of size 1);
        # elsewhere it is added in place to the product, so it must broadcast to the
        # product's shape and cast to its dtype
        if bias is None:
            return matmul(input, weight)
        if _addmm_folds(input, bias):
            _addmm_dtypes(input, weight, bias)
            raise RuntimeError("mat2 must be a matrix, got 1-D tensor")
        return matmul(input, weight).add_(bias)
    # one addmm (see below): without a bias, any input matmul folds into one matrix; with
    # one, a matrix input, or a contiguous input beside a contiguous bias that is a vector
    # (or has one dim not of size 1), as PyTorch 2.13 picks its fused path
    folded = input.ndim < 3 or input.is_contiguous() if bias is None else \
        _addmm_folds(input, bias)
    # otherwise matmul's: one mm when it folds the input into a matrix (always when the
    # weight requires grad), else a bmm of the broadcast operands
    mm = folded or input.ndim < 3 or _folds(input, weight)
    if input.shape[-1] != weight.shape[1]:
        _refuse_mismatched_sizes(input, weight, bias, folded, mm)
        rows = 1
        for s in input.shape[:-1]:
            rows *= s
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} "
                           f"and {weight.shape[1]}x{weight.shape[0]}): input has "
                           f"{input.shape[-1]} features but the weight expects in_features="
                           f"{weight.shape[1]}")
    if not folded:
        # matmul runs first (the bias is added after): its mm compares the dtypes, then
        # picks its kernel by the input's dtype; its bmm the other way round
        if not mm:
            _refuse_bool_linear(input, weight, mm)
        if input._array.dtype != weight._array.dtype:
            di, dw = input._array.dtype, weight._array.dtype
            raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                               f"{cpp_type_name(di)} != {cpp_type_name(dw)}" if mm else
                               f"expected scalar type {scalar_type_name(di)} but found "
                               f"{scalar_type_name(dw)}")
        _refuse_bool_linear(input, weight, mm)
    if bias is None:
        if input._array.dtype != weight._array.dtype:
            raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                               f"{cpp_type_name(input._array.dtype)} != "
                               f"{cpp_type_name(weight._array.dtype)}")
        _refuse_bool_linear(input, weight, folded)
        return _linear_node(input.ndim, False, folded).apply(input, weight)
    out_shape = tuple(input.shape[:-1]) + (weight.shape[0],)
    if folded:
        _addmm_dtypes(input, weight, bias)
    _check_bias_shape(bias, out_shape, input, folded)
    mixed = bias._array.dtype != weight._array.dtype
    if folded and mixed:
        # PyTorch folds a 2-d or contiguous input into one addmm, which wants one dtype
        raise RuntimeError(f"self and mat2 must have the same dtype, but got "
                           f"{scalar_type_name(bias._array.dtype)} and "
                           f"{scalar_type_name(weight._array.dtype)}")
    if input._array.dtype != weight._array.dtype:
        di, dw = input._array.dtype, weight._array.dtype
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                           f"{scalar_type_name(di)} and {scalar_type_name(dw)}" if folded
                           else f"expected scalar type {scalar_type_name(di)} but found "
                           f"{scalar_type_name(dw)}")
    if input._array.dtype.kind == "b" and math.prod(out_shape) != 0:
        if input.shape[-1] != 0:
            _refuse_bool_linear(input, weight, folded)
        # bias + (an empty sum): PyTorch's add in int64 does not cast back to bool
        raise RuntimeError("result type Long can't be cast to the desired output type Bool")
    if mixed:
        # any other input goes through matmul, then output.add_(bias): a bias that casts to it
        out, kind = weight._array.dtype, {"b": 0, "u": 1, "i": 1, "f": 2}
        if kind[bias._array.dtype.kind] > kind[out.kind]:
            raise RuntimeError(f"result type {scalar_type_name(result_dtype(bias, weight))} "
                               f"can't be cast to the desired output type "
                               f"{scalar_type_name(out)}")
        return reshape_to(Linear.apply(input, weight) + cast(bias, out), out_shape)
    if not folded and dtypes.reduced_float(input._array.dtype):
        # PyTorch's bmm rounds the product to float16/bfloat16 before the bias is added (a
        # second rounding), where a folded input's addmm rounds once
        return Linear.apply(input, weight) + bias
    if tuple(bias.shape) == (weight.shape[0],):
        return _linear_node(input.ndim, True, folded).apply(input, weight, bias)
    if folded and bias.ndim == 2:
        # addmm: the bias expands to the folded product (rows, out) ((k, 1) with k rows too)
        rows = math.prod(out_shape[:-1])
        flat = Linear.apply(input, weight).reshape(rows, out_shape[-1])
        return reshape_to(flat + bias, out_shape)
    # a bias broadcast along more dims
    return reshape_to(Linear.apply(input, weight) + bias, out_shape)


def _addmm_folds(input, bias):
    """Does PyTorch's linear (2.13) fold ``input`` with ``bias`` into one addmm?  A matrix
    input always; another only when contiguous, beside a contiguous bias that is a vector or
    has one dim not of size 1."""
    return input.ndim == 2 or (input.is_contiguous() and bias.is_contiguous() and (
        bias.ndim == 1 or sum(n != 1 for n in bias.shape) == 1))


def _addmm_dtypes(input, weight, bias):
    """addmm's dtype checks, which come before its sizes': the bias's, then the input's."""
    for name, arg in (("self", bias), ("mat1", input)):
        if arg._array.dtype != weight._array.dtype:
            raise RuntimeError(f"{name} and mat2 must have the same dtype, but got "
                               f"{scalar_type_name(arg._array.dtype)} and "
                               f"{scalar_type_name(weight._array.dtype)}")


def _plain_addmm(input, weight, bias):
    """Is ``linear(input, weight, bias)`` one plain addmm: numpy float arrays of one dtype,
    input (B, in), weight (out, in), bias (out,), outside autocast?"""
    if not (isinstance(bias, Tensor) and isinstance(input, Tensor) and
            isinstance(weight, Tensor)):
        return False
    x, w, b = input._array, weight._array, bias._array
    return (type(x) is np.ndarray and type(w) is np.ndarray and type(b) is np.ndarray and
            x.ndim == 2 and w.ndim == 2 and b.ndim == 1 and x.dtype is w.dtype is b.dtype and
            x.dtype.kind == "f" and x.shape[1] == w.shape[1] and b.shape[0] == w.shape[0] and
            not _autocast_state.active)


_ADDMM = Linear.renamed("AddmmBackward0")       # the node of that case (see _linear_node)


def _linear_node(ndim, bias, folded):
    """The Linear op under the name of the node PyTorch's linear ends in, which depends on how
    it ran: one addmm (or mm without a bias) for a matrix input, that product viewed back to
    the input's leading dims for a folded (contiguous) batch or a vector, a bmm plus the bias
    for any other batch."""
    if ndim == 2:
        name = "AddmmBackward0" if bias else "MmBackward0"
    elif ndim == 1:
        name = "ViewBackward0" if bias else "SqueezeBackward4"
    elif bias:
        name = "ViewBackward0" if folded else "AddBackward0"
    else:
        name = "UnsafeViewBackward0"
    return Linear.renamed(name)


def _refuse_bool_linear(input, weight, folded):
    """PyTorch has no bool addmm / bmm: refused unless the product is empty or sums over
    nothing (then it is all False)."""
    if input._array.dtype.kind != "b" or input.shape[-1] == 0 or input.numel() == 0 or \
            weight.shape[0] == 0:
        return
    raise not_implemented_for("addmm_impl_cpu_" if folded else "bmm", input._array.dtype)


def _check_bias_shape(bias, out_shape, input, folded):
    """Refuse, in PyTorch's words, a bias PyTorch's linear refuses.  A bias of shape (*, out)
    with 2 dims beside an input of 3 or more dims is added to the output (it must broadcast
    to it), as is any bias beside an input not folded into one matrix; otherwise the input
    is one matrix (rows, in) and the bias, of at most 2 dims, must expand to (rows, out) --
    for a 1-d input (one row) a 2-d bias only of shape (1, out)."""
    target = (math.prod(out_shape[:-1]), out_shape[-1])
    shape = tuple(bias.shape)
    added = not folded or input.ndim >= 3 and len(shape) == 2 and shape[-1] == out_shape[-1]
    if not added and len(shape) > 2:
        raise RuntimeError(f"expand(torch.{scalar_type_name(bias._array.dtype)}Tensor{{"
                           f"{list(shape)}}}, size={list(target)}): the "
                           f"number of sizes provided (2) must be greater or equal to the number "
                           f"of dimensions in the tensor ({len(shape)})")
    grown = tuple(shape)
    if input.ndim == 1 and len(shape) == 2 and (shape[0] != 1 and shape[1] == out_shape[-1]
                                                or shape == (1, 1)):
        grown = (shape[0], out_shape[-1])
    elif added:
        grown = broadcast_shape(out_shape, shape, "linear (bias)")
    else:
        padded = (1,) * (2 - len(shape)) + shape
        for k in (1, 0):            # (as PyTorch's expand: the last dim checked first)
            n, want = padded[k], target[k]
            if n != want and n != 1:
                hint = (f" (linear: bias must have shape [{target[1]}] (out_features), got "
                        f"{list(shape)})" if len(shape) == 1 else "")
                raise RuntimeError(f"The expanded size of the tensor ({want}) must match the "
                                   f"existing size ({n}) at non-singleton dimension {k}.  Target "
                                   f"sizes: {list(target)}.  Tensor sizes: {list(shape)}{hint}")
        return
    if grown != out_shape:
        raise RuntimeError(f"output with shape {list(out_shape)} doesn't match the broadcast "
                           f"shape {list(grown)}")
