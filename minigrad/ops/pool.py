"""Max pooling, plain and adaptive, in 1-D, 2-D and 3-D, differentiable to any order, and
what every pool shares (the ranked classes, the zero gradients for a pool's input, the dtype
checks); average pooling is in ``avg_pool.py``.

Each pooling Function's forward runs an array kernel of ``_pool_kernels.py``; its backward
is again a Function (forward: the adjoint kernel, fast), whose own backward is the pooling
pattern once more, so that ``backward(create_graph=True)`` can go on for ever:

  * max-pool:  y = gather(x) at the winning element of each window;
    dx = scatter(dy) to those elements (adding where windows overlap);
    the scatter's derivative is the gather at the same indices, and back again.
    The winners are constants: a second derivative of a max is zero almost everywhere.
  * avg-pool:  linear, y = W x; dx = W^T dy; and W^T's own adjoint is W, the pool itself.
  * adaptive pools: the same two patterns with adaptive windows.

Nothing in a backward flows into the input ``x`` except through these linear maps, exactly
as in PyTorch (``max_pool2d_with_indices_backward``'s double backward is a gather; that of
``avg_pool2d_backward`` is ``avg_pool2d``).
"""
from __future__ import annotations

from .. import _autocast_state, _memory_format as mf, backend, dtypes
from ..autograd import Function, is_grad_enabled
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from . import _adaptive_pool_kernels as A, _pool_kernels as K
from ._autocast_cast import widen as _autocast_widen
from .pointwise_select import _input_on_graph
from ._pool_sizes import check_lengths, output_ints
from ._util import dense_view
from ._window_checks import (adaptive_grad_not_empty, adaptive_size, check_bool_args,
                             check_int_list_types, pool_args, tensor_arrays)

__all__ = ["MaxPool", "AdaptiveMaxPool", "max_pool1d", "max_pool2d", "max_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
           "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices"]


def _ranked(base, ranks=(1, 2, 3)):
    """The 1-D, 2-D (and 3-D) variants of a pooling Function: the same code, named as PyTorch
    names the grad_fn (MaxPool2DWithIndicesBackward0, ...)."""
    return tuple(type(f"{base.__name__}{n}d", (base,), {"nd": n, "__module__": __name__})
                 for n in ranks)


def _rank(cls, nd):
    """The ``nd``-D variant of a pooling Function (class attribute ``ranks``)."""
    return cls.ranks[nd - 1]


def _zero_grads(node, like, count):
    """The gradient of a pool's backward with respect to the pool's input ``x``: zero (the
    gradient of a pool is linear in dy; a max-pool's winners are piecewise constant in x).

    The gradient Functions take x as an input only so that, as in PyTorch, the gradient they
    compute requires grad under create_graph (and differentiating it gives zeros, not an
    error) even where dy is a constant."""
    xp = backend.xp_of(like._array)
    return tuple(Tensor._wrap(xp.zeros(*node._in_meta[i])) if node.needs_input_grad[i] else None
                 for i in range(1, 1 + count))


# ----------------------------------------------------------------------------------------------
# Gather / scatter at flat plane indices: each other's adjoint (max pools' higher derivatives)
# ----------------------------------------------------------------------------------------------
class GatherAt(Function):
    """out (..., *out) = x (..., *S) at ``indices`` (..., *out): positions in each flattened
    S-plane (``nd`` = len(S)). Backward: the gradient scattered back there (``ScatterAt``)."""
    def forward(self, x, *, indices, nd):
        self.indices, self.size = indices, x.shape[x.ndim - nd:]
        return K.gather_flat(x, indices, nd)

    def backward(self, g):
        return ScatterAt.apply(g, indices=self.indices, size=self.size)


class ScatterAt(Function):
    """out (..., *size) = zeros, with g (..., *out) added at ``indices`` (repeats add up).
    Backward: the gradient gathered at the same indices (``GatherAt``)."""
    def forward(self, g, *x, indices, size):          # x: the pool's input, see _zero_grads
        self.indices, self.nd = indices, len(size)
        return K.scatter_flat(g, indices, size)

    def backward(self, gg):
        dg = GatherAt.apply(gg, indices=self.indices, nd=self.nd) \
            if self.needs_input_grad[0] else None
        extra = len(self.needs_input_grad) - 1
        return (dg,) + _zero_grads(self, gg, extra) if extra else dg


# ----------------------------------------------------------------------------------------------
# Max pooling
# ----------------------------------------------------------------------------------------------
def _row_major(y):
    """``y`` row-major, its size-1 dims with PyTorch's strides too (the windows' view numpy
    reduced can leave another, which never moves but shows in ``stride()``)."""
    return mf.row_major_if_dense(backend.xp_of(y).ascontiguousarray(y))


def _laid_out_as_torch(y, x):
    """A pool's result ``y`` (whose layout follows the input's strides) in PyTorch's layout:
    the input's channels-last format where it suggests one, else row-major."""
    fmt = mf.suggest(x)
    if fmt is mf.contiguous_format or y.ndim != x.ndim:
        return _row_major(y)
    if mf.is_contiguous(y, fmt):
        return dense_view(y, mf.target_strides(y, fmt))
    out = mf.empty_strided(backend.xp_of(y), y.shape, mf.target_strides(y, fmt), y.dtype)
    out[...] = y
    return out


class MaxPool(Function):
    """Max over each window (padding counts as -inf).

    x (..., *S) -> y (..., *out), y[..., i, j] = max_{p, q} xpad[..., i*sH + p*dH, j*sW + q*dW].
    Forward keeps ``arg``, the kernel offset k = p*kW + q of the chosen element (PyTorch's: the
    first maximum in scan order). Backward: ``MaxPoolGrad``, the gradient sent to that element
    only: dx[..., window(i, j) at offset arg[i, j]] += dy[..., i, j].
    """
    nd = 2

    @classmethod
    def name(cls):
        # (a 1-D pool's node is renamed as PyTorch's squeeze: _as_squeezed_2d)
        return cls._node_name or cls.label.format(cls.nd) + "Backward0"

    label = "MaxPool{}DWithIndices"            # the grad_fn's name, as PyTorch's
    channels_last_3d = True                     # has PyTorch's 3-d kernel a channels-last one?

    def _laid_out(self, y, x, nd):
        """The values or indices ``y`` in PyTorch's layout: for a 1-d pool by which kernel it
        runs (see below); else the input's channels-last format where it suggests one (and the
        kernel has such a version), row-major otherwise."""
        if nd == 1:
            # without indices or a gradient PyTorch runs a 1-d kernel, which writes row-major
            # results; else its 2-d one over (N, C, 1, L)
            y = _row_major(y)
            return y if self.plain_1d else mf.channels_last_like(y, x, 1)
        if nd == 3 and not self.channels_last_3d:
            return _row_major(y)
        return _laid_out_as_torch(y, x)

    def forward(self, x, *, kernel, stride, padding, dilation, out_size, indices_out=None,
                plain_1d=False, graph=True):
        # padding: (left, right) per axis; indices_out: a list that receives PyTorch's indices;
        # plain_1d: a 1-d pool PyTorch runs without indices (no gradient wanted); graph: False
        # where the caller knows no gradient is wanted (x needs none)
        with_arg = indices_out is not None or (graph and is_grad_enabled())   # else max only
        y, arg = K.max_windows(x, kernel, stride, padding, dilation, out_size, with_arg)
        self.plain_1d = plain_1d
        y = self._laid_out(y, x, len(kernel))
        self.geometry = (kernel, stride, padding, dilation, x.shape[x.ndim - len(kernel):])
        if indices_out is not None:
            indices_out.append(self._laid_out(
                K.flat_indices(arg, self.geometry[-1], out_size, kernel, stride, padding,
                               dilation), x, len(kernel)))
        if with_arg:
            # (..., *out) small ints: all the backward needs. x itself is not kept (its
            # values are never read again), so a relu before the pool, which keeps its output,
            # is the only one holding it
            self.arg = arg
        return y

    def backward(self, g):                                         # g: (..., *out)
        x = _input_on_graph(self, 0, g._array)       # x's place in the graph, for _zero_grads
        return _rank(self.grad_class, self.nd).apply(g, x, arg=self.arg, geometry=self.geometry)


class MaxPoolGrad(Function):
    """MaxPool's backward as an op: dy (..., *out) -> dx (..., *S), dy scattered to the winning
    element of each window (``scatter_offsets``: one strided pass per kernel offset, the fast
    path). Its backward is the gather at the same positions: ddy[i, j] = ddx[winner(i, j)]."""
    nd = 2

    @classmethod
    def name(cls):
        return cls.label.format(cls.nd) + "BackwardBackward0"

    label = MaxPool.label

    def forward(self, g, x, *, arg, geometry):       # x: the pool's input, see _zero_grads
        self.arg, self.geometry = arg, geometry
        kernel, stride, padding, dilation, size = geometry

        def scatter(v):
            return K.scatter_offsets(v, arg, kernel, stride, padding, dilation, size)
        xp = backend.xp_of(g)
        if xp.isfinite(g.sum()):     # the common case (an overflowing sum goes below too)
            return scatter(g)
        # The scatter masks g by multiplying, and NaN * 0 is NaN: a NaN or inf in dy would
        # reach elements no window picked (PyTorch leaves them 0). Scatter the finite part,
        # then count the non-finite values that land on each element and set their sum.
        finite = xp.isfinite(g)
        dx = scatter(xp.where(finite, g, 0).astype(g.dtype, copy=False))
        nan, pos, neg = (scatter(m.astype(g.dtype)) > 0
                         for m in (xp.isnan(g), g == xp.inf, g == -xp.inf))
        dx = xp.where(pos, xp.inf, xp.where(neg, -xp.inf, dx))
        return xp.where(nan | (pos & neg), xp.nan, dx).astype(g.dtype, copy=False)

    def backward(self, gg):                                        # gg: (..., *S)
        dg = None
        if self.needs_input_grad[0]:
            kernel, stride, padding, dilation, size = self.geometry
            out_size = self.arg.shape[self.arg.ndim - len(kernel):]
            indices = K.flat_indices(self.arg, size, out_size, kernel, stride, padding, dilation)
            dg = GatherAt.apply(gg, indices=indices, nd=len(kernel))
        return (dg,) + _zero_grads(self, gg, 1)


MaxPool.grad_class = MaxPoolGrad
MaxPool1d, MaxPool2d, MaxPool3d = MaxPool.ranks = _ranked(MaxPool)
MaxPoolGrad.ranks = _ranked(MaxPoolGrad)


class AdaptiveMaxPoolEqual(MaxPool):
    """An adaptive max-pool whose windows are all equal (n a multiple of o): a plain max-pool
    (kernel = stride = n/o), named as PyTorch names an adaptive max-pool's grad_fn."""
    label = "AdaptiveMaxPool{}D"
    channels_last_3d = False                    # PyTorch's 3-d one writes row-major results


class AdaptiveMaxPoolEqualGrad(MaxPoolGrad):
    label = AdaptiveMaxPoolEqual.label


AdaptiveMaxPoolEqual.grad_class = AdaptiveMaxPoolEqualGrad
AdaptiveMaxPoolEqual.ranks = _ranked(AdaptiveMaxPoolEqual)
AdaptiveMaxPoolEqualGrad.ranks = _ranked(AdaptiveMaxPoolEqualGrad)


class AdaptiveMaxPool(Function):
    """Max over adaptive windows of unequal length (the equal case goes to ``MaxPool``).

    The max is taken axis by axis, one ``take`` per window tap (``adaptive_max``), as
    ``MaxPool``'s; the winners' plane positions are PyTorch's indices. Backward:
    dy scattered to them (``ScatterAt``: windows may overlap, repeats add up).
    """
    nd = 2

    @classmethod
    def name(cls):
        # (a 1-D pool's node is renamed as PyTorch's squeeze: _as_squeezed_2d)
        return cls._node_name or f"AdaptiveMaxPool{cls.nd}DBackward0"

    def forward(self, x, *, out_size, indices_out=None):
        xp = backend.xp_of(x)
        nd = len(out_size)
        size = x.shape[x.ndim - nd:]
        out, indices = A.adaptive_max(x, out_size)                 # (..., *out) both
        if indices_out is not None:
            indices_out.append(mf.channels_last_like(indices, x, nd))
        self.indices, self.size = indices, size
        self.save_for_backward(x)
        # row-major (the gathers follow x's strides), or channels-last as PyTorch's 2-d one
        return mf.channels_last_like(xp.ascontiguousarray(out), x, nd)

    def backward(self, g):                                         # g: (..., *out)
        adaptive_grad_not_empty("max", self.nd, g.shape)     # (an output size with a 0)
        x, = self.saved_tensors
        return _rank(AdaptiveMaxPoolGrad, self.nd).apply(g, x, indices=self.indices,
                                                         size=self.size)


class AdaptiveMaxPoolGrad(ScatterAt):
    """AdaptiveMaxPool's backward: ``ScatterAt`` (whose backward is ``GatherAt``), named."""

    @classmethod
    def name(cls):
        return f"AdaptiveMaxPool{cls.nd}DBackwardBackward0"


AdaptiveMaxPool1d, AdaptiveMaxPool2d, AdaptiveMaxPool3d = AdaptiveMaxPool.ranks = \
    _ranked(AdaptiveMaxPool)
AdaptiveMaxPoolGrad.ranks = _ranked(AdaptiveMaxPoolGrad)


# ----------------------------------------------------------------------------------------------
# Public functional API (re-exported from minigrad.nn.functional)
# ----------------------------------------------------------------------------------------------
_FLOATS = ("float16", "bfloat16", "float32", "float64")
_INTS = ("uint8", "int8", "int16", "int32", "int64")


def _check_dtype(x, kernel, allowed):
    """PyTorch's NotImplementedError for a dtype its CPU kernel ``kernel`` does not take."""
    if x.dtype.name not in allowed:
        name = dtypes.scalar_type_name(x.dtype)
        raise NotImplementedError(f'"{kernel}" not implemented for \'{name}\'')


def _omitted(stride):
    """PyTorch reads stride=() or [] as omitted (= kernel_size), like stride=None."""
    return None if isinstance(stride, (tuple, list)) and len(stride) == 0 else stride


def _max_pool(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    parsed = f"{op}_with_indices" if return_indices else op     # the ATen op PyTorch parses
    x, = tensor_arrays(parsed, input=input)
    check_int_list_types(parsed, ("kernel_size", 2, kernel_size, False),
                         ("stride", 3, stride, True), ("padding", 4, padding, False),
                         ("dilation", 5, dilation, False))
    check_bool_args(parsed, ("ceil_mode", 6, ceil_mode))
    # the lengths come before the input's rank, but for the 1-d pool after it (and for its
    # fast path, with no indices, after an empty dim too: pool_args checks them then)
    fast_1d = nd == 1 and not return_indices
    if nd > 1 or (x.ndim in (2, 3) and not fast_1d):
        check_lengths(op, nd, False, kernel_size=kernel_size, stride=stride, padding=padding,
                      dilation=dilation)
    params = pool_args(op, nd, x, kernel_size, _omitted(stride), padding, dilation, ceil_mode,
                       max_pool=True, fast_1d=fast_1d)
    if fast_1d:                                 # PyTorch's max_pool1d fast path: floats only
        _check_dtype(x, "max_pool1d_impl", _FLOATS)
    _check_dtype(x, f"max_pool{max(nd, 2)}d", _FLOATS + _INTS)
    if nd == 3 and x.ndim == 4 and mf.suggest(x) is mf.channels_last:
        # an unbatched 3-d pool of a 4-d input laid out channels-last (the 2-d format):
        # PyTorch's kernel has versions for row-major and channels-last-3d memory only
        raise RuntimeError("Unsupported memory format. Supports only ChannelsLast3d, Contiguous")
    sink = [] if return_indices else None
    # (PyTorch's 1-d pool without indices runs a kernel of its own unless a gradient is wanted)
    plain_1d = fast_1d and not (input.requires_grad and is_grad_enabled())
    out = _rank(MaxPool, nd).apply(input, indices_out=sink, plain_1d=plain_1d,
                                   graph=input.requires_grad, **params)
    return (out, Tensor._wrap(sink[0])) if return_indices else out


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-D max pooling: input (N, C, L) or (C, L) -> (N, C, L_out). See ``max_pool2d``."""
    out = _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                    return_indices)
    return _as_squeezed_2d(out)


def _as_squeezed_2d(out):
    """A 1-D pool's result (or (result, indices)), its node named as PyTorch's: it pools over
    (.., 1, L) in 2-D and squeezes the 1 away, so the user sees a SqueezeBackward1."""
    rename_node(out[0] if isinstance(out, tuple) else out, "SqueezeBackward1")
    return out


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling, as ``torch.nn.functional.max_pool2d``.

    input (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out), H_out = conv_output_size(H,
    kH, sH, pH, dH, ceil_mode). stride defaults to kernel_size; padding (at most half the
    effective kernel) counts as -inf. With ``return_indices`` also returns, as PyTorch, the
    int64 position of each max in its flattened (H*W) input plane; among equal values the
    first in window order wins, and it alone receives the gradient.
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """3-D max pooling: input (N, C, D, H, W) or (C, D, H, W) -> (N, C, D_out, H_out, W_out);
    indices count in the flattened D*H*W plane. See ``max_pool2d``."""
    if _autocast_state.active and not return_indices:
        # one of the ops CPU autocast runs in float32 (max_pool3d_with_indices is not)
        input, = _autocast_widen(input)
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def _adaptive_max(op, nd, input, output_size, return_indices):
    x, = tensor_arrays(op, input=input)
    output_size = output_ints(op, nd, x, output_size)
    size = adaptive_size(op, nd, x, output_size)       # (and an empty non-batch dim)
    _check_dtype(x, "adaptive_max_pool3d_cpu" if nd == 3 else "adaptive_max_pool2d", _FLOATS)
    in_size = x.shape[-nd:]
    sink = [] if return_indices else None
    if all(o and n % o == 0 for n, o in zip(in_size, size)):
        # equal windows: a plain max-pool with kernel = stride = n/o
        kernel = tuple(n // o for n, o in zip(in_size, size))
        out = _rank(AdaptiveMaxPoolEqual, nd).apply(
            input, kernel=kernel, stride=kernel, padding=((0, 0),) * nd, dilation=(1,) * nd,
            out_size=size, indices_out=sink)
    else:
        out = _rank(AdaptiveMaxPool, nd).apply(input, out_size=size, indices_out=sink)
    return (out, Tensor._wrap(sink[0])) if return_indices else out


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max pooling to a given length: (N, C, L) or (C, L) -> (N, C, output_size)."""
    return _as_squeezed_2d(_adaptive_max("adaptive_max_pool1d", 1, input, output_size,
                                         return_indices))


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to a given size, as ``torch.nn.functional.adaptive_max_pool2d`` (windows as
    in ``adaptive_avg_pool2d``; indices as in ``max_pool2d``)."""
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Max pooling to a given size over (N, C, D, H, W) or (C, D, H, W) (windows as in
    ``adaptive_avg_pool3d``; indices flat in each D*H*W volume, as ``max_pool3d``'s)."""
    if _autocast_state.active:       # one of the ops CPU autocast runs in float32
        input, = _autocast_widen(input)
    return _adaptive_max("adaptive_max_pool3d", 3, input, output_size, return_indices)


# max_poolNd_with_indices: PyTorch's names for the pools that always return their indices
def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """``max_pool1d(..., return_indices=True)``: (output, indices)."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """``max_pool2d(..., return_indices=True)``: (output, indices)."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """``max_pool3d(..., return_indices=True)``: (output, indices)."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)
