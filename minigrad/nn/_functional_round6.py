"""More ``nn.functional`` functions, composed from differentiable ops (so their gradients, and
the gradients of those, come from the ops'):

* ``rms_norm``: x / sqrt(mean(x^2 over the last dims) + eps) * weight;
* ``pdist``: the p-norm distances between all pairs of rows of an (N, M) matrix, i < j;
* ``triplet_margin_with_distance_loss``: the triplet loss with any distance function;
* ``fractional_max_pool2d`` / ``fractional_max_pool3d``: max pooling over windows whose
  starts follow a pseudo-random sequence (Graham's fractional max pooling).
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import _memory_format as mf, backend, dtypes
from .._type_names import python_type_name
from .._warn_once import USER, warn_once
from ..autograd import Function
from ..autograd._node_names import rename_node
from ..autograd.grad_mode import is_grad_enabled
from .._random_factories import uniform_draws
from ..ops._autocast_cast import in_float32
from ..ops._int_list_args import int_list_argument
from ..ops._int_lists import int_lists
from ..ops._util import not_implemented_for, scalar_type_name
from ..ops.padding import ListedOnInput
from ..ops.pointwise_select import _input_on_graph
from ..ops.scatter_gather import ScatterAdd
from ..tensor import Tensor
from ..ops.pointwise_select import minimum
from ..ops.movement_copies import contiguous
from ..ops.products import row_distances
from ..ops.relu_clamp import clamp
from ..ops.type_info import finfo
from ._functional_losses import _reduce
from ._functional_distances import pairwise_distance

__all__ = ["rms_norm", "pdist", "triplet_margin_with_distance_loss", "fractional_max_pool2d",
           "fractional_max_pool3d", "fractional_max_pool2d_with_indices",
           "fractional_max_pool3d_with_indices"]


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """Root-mean-square normalisation over the last dims ``normalized_shape``:
    y = x / sqrt(mean(x^2) + eps) (* weight, shaped ``normalized_shape``).  ``eps=None``
    takes the machine epsilon of the input's dtype."""
    # PyTorch's parser first (its words, in its order), then its checks: the weight's shape
    # before the input's
    if not isinstance(input, Tensor):
        raise TypeError(f"rms_norm(): argument 'input' (position 1) must be Tensor, not "
                        f"{python_type_name(input)}")
    shape = int_list_argument("rms_norm", "normalized_shape", (normalized_shape,), {}, 2,
                              False)
    if weight is not None and not isinstance(weight, Tensor):
        raise TypeError(f"rms_norm(): argument 'weight' (position 3) must be Tensor, not "
                        f"{python_type_name(weight)}")
    if eps is not None and (isinstance(eps, bool) or not isinstance(eps, numbers.Real)) and \
            not (isinstance(eps, Tensor) and eps._array.size == 1):
        raise TypeError(f"rms_norm(): argument 'eps' (position 4) must be float, not "
                        f"{python_type_name(eps)}")
    if isinstance(eps, Tensor):
        eps = eps.item()
    k = len(shape)
    if k == 0:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., "
                           "containing at least one element, but got normalized_shape = []")
    if weight is not None and tuple(weight.shape) != shape:
        raise RuntimeError(f"Expected weight to be of same shape as normalized_shape, but got "
                           f"weight of shape {list(weight.shape)} and normalized_shape = "
                           f"{list(shape)}")
    if k > input.ndim:
        raise ValueError(f"Input tensor must have at least {k} dimensions, but got {input.ndim}")
    if tuple(input.shape[input.ndim - k:]) != shape:      # (PyTorch's "[*5, 2]", no comma)
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*{', '.join(map(str, shape))}], but got input of size"
                           f"{list(input.shape)}")
    if input._array.dtype.kind not in "fcV":
        raise NotImplementedError(f'"rms_norm" not implemented for '
                                  f"'{scalar_type_name(input._array.dtype)}'")
    if weight is not None and weight._array.dtype != input._array.dtype:
        # PyTorch's fused kernel takes one dtype; it says so once a process (its first pair)
        warn_once(f"Mismatch dtype between input and weight: input dtype = "
                  f"{dtypes.c_type_name(input._array.dtype)}, weight dtype = "
                  f"{dtypes.c_type_name(weight._array.dtype)}, Cannot dispatch to fused "
                  f"implementation.", stacklevel=USER, key="rms_norm dtype mismatch")
    # float16 and bfloat16 are computed in float32 (the weight's product too) and rounded once
    # at the end, as PyTorch: x^2 overflows float16 from |x| = 256 on
    low = input._array.dtype.kind in "fV" and input._array.dtype.itemsize == 2
    x = input.float() if low else input
    if eps is None:       # the epsilon of the computing dtype (a complex input's: its parts')
        eps = float(np.finfo(x._array.dtype).eps) if x._array.dtype.kind == "c" \
            else finfo(x.dtype).eps
    dims = tuple(range(input.ndim - k, input.ndim))
    y = x * ((x * x).mean(dims, keepdim=True) + eps).rsqrt()
    if weight is not None:
        y = y * (weight if weight.dtype == y.dtype else weight.to(y.dtype))
    # the result has the input's dtype whatever the weight's, laid out as PyTorch's kernel
    # allocates it: channels-last stays so, any other layout becomes row-major
    y = y if y.dtype == input.dtype else y.to(input.dtype)
    return contiguous(y, memory_format=mf.suggest(input._array))


def pdist(input, p=2):
    """Distances ||x_i - x_j||_p between the rows of ``input`` (N, M) for every pair i < j, in
    row-major order of the upper triangle: a vector of N (N - 1) / 2."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if input._array.dtype.kind not in "fV":
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    if input._array.dtype.itemsize == 2 and input.shape[0] > 1 and input.shape[1]:
        # torch's CPU kernel has no Half or BFloat16 one (which nothing to compute skips)
        raise not_implemented_for("pdist", input._array.dtype)
    n = input.shape[0]
    i, j = np.triu_indices(n, 1)
    # PyTorch computes it in one kernel: its node (PdistBackward0) stands for the whole
    if len(i) == 0:
        return rename_node(input.sum(-1)[:0], "PdistBackward0")
    diff = input[i.astype(np.int64)] - input[j.astype(np.int64)]
    return rename_node(row_distances(diff, p), "PdistBackward0")


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """mean/sum of max(0, margin + d(anchor, positive) - d(anchor, negative)) with d the given
    ``distance_function`` (default: ``pairwise_distance``); ``swap`` takes
    min(d(anchor, negative), d(positive, negative)) as the negative distance."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    dims = (anchor.ndim, positive.ndim, negative.ndim)
    if len(set(dims)) != 1:
        raise RuntimeError("The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {dims[0]}D, positive "
                           f"{dims[1]}D, and negative {dims[2]}D inputs")
    dist = pairwise_distance if distance_function is None else distance_function
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = minimum(d_neg, dist(positive, negative))
    return _reduce(clamp(margin + d_pos - d_neg, min=0.0), reduction)


# ----------------------------------------------------------------------------------------------
# fractional max pooling
# ----------------------------------------------------------------------------------------------
def _window_starts(u, size, out, k, dtype):
    """Window starts for one dim, from the samples ``u`` (..., ) in [0, 1): with
    alpha = (size - k) / (out - 1), start_i = floor((i + u) alpha) - floor(u alpha) and the
    last start size - k.  Shape (..., out)."""
    u = u.astype(dtype)
    starts = np.empty(u.shape + (out,), dtype=np.int64)
    if out > 1:
        alpha = dtype.type(size - k) / dtype.type(out - 1)
        i = np.arange(out - 1, dtype=dtype)
        starts[..., :-1] = ((i + u[..., None]) * alpha).astype(np.int64) - \
            (u * alpha).astype(np.int64)[..., None]
    starts[..., -1] = size - k
    return starts


def _dim_size(input, dim):
    """input.size(dim), with PyTorch's IndexError for a dim a 0-d tensor does not have."""
    if input.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return input.size(dim)


class _EmptyWindows(Function):
    """Fractional max pooling with an empty window (a kernel size <= 0), as PyTorch's kernel
    computes it: -inf everywhere, each "maximum" recorded at its window's start, where the
    backward sends the gradient (and refuses a start outside the input plane).
    x (n, c, plane) -> (n, c, outputs); ``index`` (n, c, outputs)."""

    def forward(self, x, *, index, name):
        self.index, self.name, self.plane = index, name, x.shape[2]
        return backend.xp_of(x).full(index.shape, -np.inf, dtype=x.dtype)

    def backward(self, g):
        index = self.index
        if index.size and (int(index.min()) < 0 or int(index.max()) >= self.plane):
            bad = int(index.max()) if int(index.max()) >= self.plane else int(index.min())
            raise RuntimeError(f"{self.name}_backward(): index {bad} of an empty pooling window "
                               f"is outside the input plane of {self.plane} elements")
        return ScatterAdd.apply(g, index=index, dim=2, shape=(g.shape[0], g.shape[1], self.plane))


class FractionalMaxPool2D(Function):
    """The maxima of fractional max pooling, picked by their flat indices into each plane:
    x (n, c, *spatial) -> (n, c, *out), or unbatched (c, *spatial) -> (c, *out); ``index``
    (n, c, outputs), n = 1 for an unbatched x.  Backward: the gradient
    scattered back to the picked elements (``ScatterAdd``, whose own gradient gathers them
    again); under create_graph it is listed on x, as PyTorch's backward kernel takes the
    input: a gradient penalty through the pool gives what comes before it zero gradients,
    not none."""

    def forward(self, x, *, index, out):
        self.index, self.in_shape = index, x.shape
        plane = x.reshape(index.shape[0], index.shape[1], -1)
        picked = backend.xp_of(x).take_along_axis(plane, index, axis=2)
        return picked.reshape(x.shape[:x.ndim - len(out)] + out)

    def backward(self, g):
        n, c, outputs = self.index.shape
        gx = ScatterAdd.apply(g.reshape(n, c, outputs), index=self.index, dim=2,
                              shape=(n, c, int(np.prod(self.in_shape)) // (n * c)))
        gx = gx.reshape(self.in_shape)
        if is_grad_enabled():
            gx = ListedOnInput.apply(gx, _input_on_graph(self, 0, gx._array))
        return gx


class FractionalMaxPool3D(FractionalMaxPool2D):
    pass


_WINDOW_MAX = {2: FractionalMaxPool2D, 3: FractionalMaxPool3D}


@in_float32                # one of the ops CPU autocast runs in float32
def _fractional(name, d, input, kernel_size, output_size, output_ratio, samples):
    """(output, flat indices into each input plane) of d-dim fractional max pooling, with
    PyTorch's checks in its order: its Python function reads the input's sizes for the output
    ratio and the random samples, then its parser the sizes, then its kernel the rest."""
    if output_size is None and output_ratio is None:
        raise ValueError(f"{name} requires specifying either an output_size or an "
                         "output_ratio")
    if output_size is None:
        if d == 2 and not hasattr(output_ratio, "__len__"):
            # PyTorch's 2-d function takes the ratio's length before pairing it (its layer
            # pairs a single ratio first)
            raise TypeError(f"object of type '{type(output_ratio).__name__}' has no len()")
        ratio = tuple(output_ratio) if isinstance(output_ratio, (tuple, list)) else \
            (output_ratio,) * d
        if d == 2 and len(ratio) > 2:
            raise ValueError(f"{name} requires output_ratio to either be a single Int or tuple "
                             "of Ints.")
        if len(ratio) < d:
            raise IndexError("tuple index out of range")
        output_size = [int(_dim_size(input, j - d) * ratio[j]) for j in range(d)]
    dtype = input._array.dtype
    if samples is None:
        n_batch = 1 if input.ndim == d + 1 else _dim_size(input, 0)
        channels = _dim_size(input, -d - 1)
        if dtype.kind in "biu":              # PyTorch draws them with rand in the input's dtype
            raise not_implemented_for("check_uniform_bounds", dtype)
        samples = Tensor._wrap(uniform_draws(None, (n_batch, channels, d), dtype))

    def samples_type():
        if not isinstance(samples, Tensor):
            raise TypeError(f"{name}(): argument 'random_samples' (position 4) must be Tensor, "
                            f"not {type(samples).__name__}")

    ks, out = int_lists(name, 2, {"kernel_size": kernel_size, "output_size": output_size}, d,
                        then=samples_type)
    count = "Ints" if d == 2 else "three Ints"
    if len(ks) != d:
        raise RuntimeError(f"{name}: kernel_size must either be a single Int or tuple of {count}")
    if len(out) != d:
        raise RuntimeError(f"{name}: output_size must either be a single Int or tuple of {count}")
    where = name if d == 2 else name + "_out"
    if input.ndim not in (d + 1, d + 2):
        raise RuntimeError(f"{where}(): Expected {d + 1}D or {d + 2}D tensor, but got: "
                           f"{list(input.shape)}")
    for i in range(1, input.ndim):
        if input.shape[i] == 0:
            raise RuntimeError(f"{where}(): Expected input to have non-zero size for non-batch "
                               f"dimensions, but got{list(input.shape)} with dimension {i} "
                               "being empty.")
    batched = input.ndim == d + 2
    spatial = tuple(input.shape[-d:])
    # the 2-d kernel needs out + k - 1 <= size; the 3-d one out + k <= size and k <= size
    # (PyTorch's 3-d kernel checks time, width, then height)
    axes = list(zip(("height", "width") if d == 2 else ("time", "height", "width"), out, ks,
                    spatial))
    axes = axes if d == 2 else [axes[0], axes[2], axes[1]]
    for axis, o, k, size in axes:
        if o + k - 1 > size if d == 2 else (o + k > size or k > size):
            raise RuntimeError(f"{where}(): pool {axis} {k} too large relative to input "
                               f"{axis} {size}")
    lead = tuple(input.shape[:input.ndim - d])
    if any(o < 0 for o in out):
        shape = list(lead + tuple(out))
        raise RuntimeError(f"Trying to create tensor with negative dimension "
                           f"{next(o for o in out if o < 0)}: {shape}")
    if samples._array.dtype != dtype:
        raise RuntimeError("Expect _random_samples to have the same dtype as input")
    if samples.ndim != 3:
        raise RuntimeError(f"Expect _random_samples to have 3 dimensions, got {samples.ndim}")
    n, c = (input.shape[0], input.shape[1]) if batched else (1, input.shape[0])
    if samples.shape[0] < n:
        raise RuntimeError("Expect _random_samples.size(0) no less then input batch size.")
    if samples.shape[1] != c:
        raise RuntimeError("Expect _random_samples.size(1) equals to input channel size.")
    if samples.shape[2] != d:
        raise RuntimeError(f"Expect _random_samples.size(2) equals to {d}; got "
                           f"{samples.shape[2]}.")
    n_out = int(np.prod(out))
    x = input if batched else input.unsqueeze(0)
    if n * c * n_out == 0:                   # PyTorch's kernel is not run: no dtype check
        ind = Tensor._wrap(backend.to_device(np.zeros(lead + tuple(out), dtype=np.int64),
                                             input.device))
        return x.flatten(2)[:, :, :0].reshape(lead + tuple(out)), ind
    if dtype.kind not in "fV":                    # PyTorch's kernel is floating only
        raise not_implemented_for(f"fractional_max_pool{d}d_out_frame", dtype)
    u = backend.as_numpy(samples._array)
    # which sample drives which dim: 2-d uses (W, H) order, 3-d (T, H, W)
    order = (1, 0) if d == 2 else (0, 1, 2)
    starts = [_window_starts(u[:n, :, order[j]], spatial[j], out[j], ks[j], dtype)
              for j in range(d)]
    strides = [int(np.prod(spatial[j + 1:])) for j in range(d)]
    if min(ks) <= 0:
        # empty windows: each index is its window's start, even one past the plane
        flat = np.zeros((n, c) + tuple(out), dtype=np.int64)
        for j in range(d):
            lay = [n, c] + [out[j] if m == j else 1 for m in range(d)]
            flat = flat + (starts[j] * strides[j]).reshape(lay)
        idx = flat.reshape(n, c, n_out)
        y = _EmptyWindows.apply(x.flatten(2), index=idx, name=name).reshape((n, c) + tuple(out))
        ind = Tensor._wrap(backend.to_device(idx.reshape((n, c) + tuple(out)), input.device))
        if not batched:
            y, ind = y.squeeze(0), ind.squeeze(0)
        return y, ind
    a = backend.as_numpy(x.detach()._array)
    # per dim: the input positions each (output, kernel) pair reads, (n, c, out, k)
    pos = [starts[j][..., None] + np.arange(ks[j]) for j in range(d)]
    # flat index of every (out_0..out_d-1, k_0..k_d-1) element: (n, c, o0.., k0..)
    flat = np.zeros((n, c) + tuple(out) + tuple(ks), dtype=np.int64)
    for j in range(d):
        lay = [n, c] + [out[j] if m == j else 1 for m in range(d)] + \
            [ks[j] if m == j else 1 for m in range(d)]
        flat = flat + (pos[j] * strides[j]).reshape(lay)
    # explicit sizes: an empty batch has no -1 to infer
    window = int(np.prod(ks))
    flat = flat.reshape((n, c) + tuple(out) + (window,))
    plane = a.reshape(n, c, int(np.prod(spatial)))
    vals = np.take_along_axis(plane, flat.reshape(n, c, n_out * window), axis=2).reshape(
        flat.shape)
    # the first maximum in window order; a NaN wins (the last NaN, as PyTorch's loop)
    nan = np.isnan(vals)
    kk = vals.shape[-1]
    last_nan = kk - 1 - np.argmax(nan[..., ::-1], axis=-1)
    pick = np.where(nan.any(-1), last_nan, np.argmax(np.where(nan, -np.inf, vals), axis=-1))
    idx = np.take_along_axis(flat, pick[..., None], axis=-1)[..., 0]
    index = backend.to_device(idx.reshape(n, c, n_out), input.device)
    # (an unbatched input directly: PyTorch's node takes it so, with no squeeze after)
    y = _WINDOW_MAX[d].apply(input, index=index, out=tuple(out))
    ind = Tensor._wrap(backend.to_device(idx, input.device))
    return y, (ind if batched else ind.squeeze(0))


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """``fractional_max_pool2d`` returning (output, indices) always."""
    return _fractional("fractional_max_pool2d", 2, input, kernel_size, output_size,
                       output_ratio, _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """``fractional_max_pool3d`` returning (output, indices) always."""
    return _fractional("fractional_max_pool3d", 3, input, kernel_size, output_size,
                       output_ratio, _random_samples)


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """Max over kernel_size windows of (N, C, H, W) or (C, H, W), to ``output_size`` (or
    int(size * output_ratio)); window starts are pseudo-random, from ``_random_samples``
    (N, C, 2) in [0, 1) or fresh draws.  With ``return_indices`` also the flat h * W + w
    position of each maximum."""
    y, ind = fractional_max_pool2d_with_indices(input, kernel_size, output_size, output_ratio,
                                                return_indices, _random_samples)
    return (y, ind) if return_indices else y


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """The 3-d form of ``fractional_max_pool2d``: (N, C, T, H, W) or (C, T, H, W), samples
    (N, C, 3); indices are flat t * H * W + h * W + w positions."""
    y, ind = fractional_max_pool3d_with_indices(input, kernel_size, output_size, output_ratio,
                                                return_indices, _random_samples)
    return (y, ind) if return_indices else y
