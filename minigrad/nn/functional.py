"""``minigrad.nn.functional``: the stateless functions behind the layers, PyTorch's signatures.

    import minigrad.nn.functional as F
    y = F.relu(F.conv2d(x, w, b, stride=1, padding=1))

Almost everything here is a name for an op in ``minigrad/ops``: open the op's module to read
its forward and backward.  The few functions defined here (dropout and its channel-wise
forms, embedding, one_hot) are short compositions of those ops; the less common losses and
distances (smooth_l1_loss, kl_div, cosine_similarity, normalize...) are in
``_functional_losses.py``.
"""
from __future__ import annotations

import numpy as np

from .._warn_once import warn_user as _warn_user
from .. import backend, dtypes
from .._argument_error import refuse_numpy_dtype as _refuse_numpy_dtype
from .._sparse_factories import embedding_rows as _embedding_rows
from ..autograd._node_names import rename_node as _rename
from ..autograd.function import keep_for_backward as _keep_for_backward
from ..autograd.grad_mode import is_grad_enabled as _is_grad_enabled
from ._dropout_mask import dropout_scale as _dropout_scale, keep_mask as _keep_mask
from ..tensor import Tensor
from .._tensor_methods import _torch_args
from .._argument_words import worded as _worded
from ..ops import elementary_functions as _EF
from ..ops.elementwise import Mul  # noqa: F401
from ..ops.pointwise_select import maximum, where  # noqa: F401
from ..ops import relu_clamp as _RC
from ..ops._util import (check_tensor as _check_tensor, int_arg as _int_arg,
                         float_arg as _float_arg, bool_arg as _bool_arg,
                         number_arg as _number_arg,
                         python_type_name as _python_type_name,
                         scalar_type_name as _scalar_type_name)
from ..ops.writes import overwrite_with as _overwrite_with
from ..ops.inplace import named_write as _named_write
from ..ops.relu_clamp import clamp  # noqa: F401
from ..ops.extrema import amax  # noqa: F401
from ..ops import softmax as _softmax_ops
from ..ops.softmax import logsumexp  # noqa: F401
from ..ops.movement import flatten, unflatten  # noqa: F401
from ..ops.padding import pad  # noqa: F401
from ..ops.linear import linear  # noqa: F401
from ..ops.loss import cross_entropy, nll_loss  # noqa: F401
from ..ops.regression_loss import mse_loss, l1_loss  # noqa: F401
from ..ops.binary_loss import (  # noqa: F401
    binary_cross_entropy, binary_cross_entropy_with_logits)
from ..ops.conv import (  # noqa: F401
    conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d,
    conv_output_size, conv_tbc)
from ..ops.normalization import batch_norm  # noqa: F401
from ..ops.feature_norm import layer_norm, group_norm, instance_norm  # noqa: F401
from ..ops.pool import (  # noqa: F401
    max_pool1d, max_pool2d, max_pool3d, adaptive_max_pool1d, adaptive_max_pool2d,
    adaptive_max_pool3d, max_pool1d_with_indices, max_pool2d_with_indices,
    max_pool3d_with_indices)
from ..ops.avg_pool import (  # noqa: F401
    avg_pool1d, avg_pool2d, avg_pool3d, adaptive_avg_pool1d, adaptive_avg_pool2d,
    adaptive_avg_pool3d)
from ..ops.lp_pool import lp_pool1d, lp_pool2d, lp_pool3d  # noqa: F401
from ..ops.activation import (  # noqa: F401
    gelu, elu, celu, selu, hardswish, hardsigmoid, hardtanh, relu6, softsign, softplus,
    logsigmoid, mish, silu, prelu, softmin, tanhshrink, hardshrink, softshrink)
from ..ops.fold import unfold, fold, max_unpool1d, max_unpool2d, max_unpool3d  # noqa: F401
from ..ops.interpolate import interpolate, upsample  # noqa: F401
from ..ops.pixel_shuffle import pixel_shuffle, pixel_unshuffle  # noqa: F401
from ..ops.math_extra import scaled_dot_product_attention  # noqa: F401
from ._functional_losses import (  # noqa: F401
    smooth_l1_loss, huber_loss, kl_div, poisson_nll_loss, gaussian_nll_loss, soft_margin_loss,
    multilabel_soft_margin_loss, margin_ranking_loss, hinge_embedding_loss, cosine_embedding_loss,
    triplet_margin_loss)
from ._functional_distances import cosine_similarity, pairwise_distance, normalize  # noqa: F401
from ._functional_attention import multi_head_attention_forward  # noqa: F401
from ..ops.activation import threshold, glu  # noqa: F401
from ._functional_extra import (  # noqa: F401
    rrelu, rrelu_, gumbel_softmax, local_response_norm, alpha_dropout, feature_alpha_dropout,
    channel_shuffle, native_channel_shuffle, bilinear, relu_, elu_, leaky_relu_, hardtanh_,
    celu_, selu_, threshold_)
from ._functional_extra import dense_strides as _dense_strides
from ._functional_extra import check_dropout_args as _check_dropout_args
from ._functional_grid import affine_grid, grid_sample  # noqa: F401
from ._functional_margin import (  # noqa: F401
    multi_margin_loss, multilabel_margin_loss, ctc_loss)
from ._functional_embedding_bag import embedding_bag, _renorm_rows  # noqa: F401
from ._functional_embedding_bag import check_index_dtype as _check_index_dtype
from ..ops.matrix_round7 import check_renorm_arguments as _check_renorm_arguments
from ._functional_linear_ce import linear_cross_entropy  # noqa: F401
from ._functional_round7 import (  # noqa: F401
    upsample_nearest, upsample_bilinear, adaptive_max_pool1d_with_indices,
    adaptive_max_pool2d_with_indices, adaptive_max_pool3d_with_indices)
from ._functional_grouped_mm import grouped_mm  # noqa: F401
from ._functional_private import (  # noqa: F401  (private helpers third-party code calls)
    _canonical_mask, _none_or_dtype, _in_projection_packed, _in_projection, _mha_shape_check,
    _get_softmax_dim, _verify_batch_size, _Reduction, handle_torch_function, has_torch_function,
    has_torch_function_unary, has_torch_function_variadic, assert_int_or_pair,
    GRID_SAMPLE_INTERPOLATION_MODES, GRID_SAMPLE_PADDING_MODES)
from . import grad  # noqa: F401,E402  (torch.nn.functional.grad is torch.nn.grad)
from ..ops.scatter_gather import IndexAdd as _IndexAdd
from ..ops.embedding_grad import (EmbeddingDenseBackward as _EmbeddingDenseBackward,
                                  dense_backward_fits as _dense_backward_fits)
from ..autograd import Function as _Function
from ..ops.plumbing import reshape_to


def relu(input, inplace=False):
    """max(0, x), elementwise; ``inplace`` writes it into ``input`` (``input.relu_()``)."""
    return input.relu_() if inplace else _RC.relu(input)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (in training)."""
    _check_dropout_args("dropout", p, training)
    return _dropped(input, p, training, inplace, tuple(input.shape))


def _dropped(input, p, training, inplace, mask_shape):
    """input * (keep / (1 - p)) in training (0 for p = 1), written into ``input`` by the
    in-place machinery when ``inplace``; the input itself when nothing is dropped."""
    if not training or p == 0.0:
        return input
    floating = input._array.dtype.kind in "fV"
    if not floating and p != 1.0:
        # the mask is a float tensor, multiplied into the input in place
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{_scalar_type_name(input._array.dtype)}")
    if inplace:
        return _overwrite_with(input, _dropped, p, training, False, mask_shape)
    if p == 1.0:
        # the zero keeps the input's dtype (a bool input stays bool)
        return input * (0.0 if floating else (False if input._array.dtype == bool else 0))
    return _masked(input, mask_shape, p)


def _masked(input, mask_shape, p):
    """input * (keep / (1 - p)) with keep ~ Bernoulli(1 - p) of ``mask_shape`` (broadcast)."""
    # PyTorch's noise: bernoulli_(1 - p), then divided by 1 - p in the input's dtype
    strides = _dense_strides(input._array) if mask_shape == tuple(input.shape) else None
    scale = _dropout_scale(_keep_mask(mask_shape, 1.0 - p, strides), p, input._array.dtype)
    mask = Tensor._wrap(backend.to_device(scale, input.device))
    if mask_shape == tuple(input.shape):
        return Mul.apply(input, mask)
    return input * mask


def _feature_dropout(name, input, p, training, spatial, inplace=False):
    """Zero whole channels: one draw per (sample, channel), shared by its ``spatial`` dims."""
    if p < 0.0 or p > 1.0:      # (a NaN p is the kernel's RuntimeError)
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (spatial + 1, spatial + 2):
        raise RuntimeError(
            f"{name}: Expected {spatial + 1}D or {spatial + 2}D input, but received a "
            f"{input.ndim}D input. Note that {name} exists to provide channel-wise dropout on "
            f"inputs with {spatial} spatial dimension{'s' if spatial > 1 else ''}, a channel "
            "dimension, and an optional batch dimension (i.e. "
            f"{spatial + 1}D or {spatial + 2}D inputs).")
    _check_dropout_args("feature_dropout", p, training)
    lead = input.ndim - spatial
    return _dropped(input, p, training, inplace, tuple(input.shape[:lead]) + (1,) * spatial)


def dropout1d(input, p=0.5, training=True, inplace=False):
    return _feature_dropout("dropout1d", input, p, training, 1, inplace)


def _odd_rank_warning(name, input, spatial):
    if input.ndim not in (spatial + 1, spatial + 2):
        _warn_user(f"{name}: Received a {input.ndim}-D input to {name}, which is deprecated "
                   f"and will become an error; {name} zeroes whole channels of "
                   f"{spatial + 1}D or {spatial + 2}D inputs (an optional batch dim, a "
                   f"channel dim and {spatial} spatial dims): use dropout for other inputs.",
                   UserWarning)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) or (C, H, W)... as PyTorch, which reads a 3-D input
    as (N, C, L) (with a warning) and takes other ranks with a deprecation warning: one draw
    per (dim 0, dim 1) pair, shared by the remaining dims."""
    if p < 0.0 or p > 1.0:      # (a NaN p is the kernel's RuntimeError)
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    _odd_rank_warning("dropout2d", input, 2)
    if input.ndim == 3:
        _warn_user("dropout2d: Received a 3D input to dropout2d and assuming that "
                   "channel-wise 1D dropout behavior is desired - input is interpreted as "
                   "shape (N, C, L), where C is the channel dim; use dropout1d to keep this "
                   "behaviour when dropout2d starts reading 3D inputs as (C, H, W).",
                   UserWarning)
    _check_dropout_args("feature_dropout", p, training)
    if input.ndim < 2 and training and 0.0 < p < 1.0:      # nothing is drawn otherwise
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if input.ndim < 2:
        return _dropped(input, p, training, inplace, tuple(input.shape))
    return _dropped(input, p, training, inplace,
                    tuple(input.shape[:2]) + (1,) * (input.ndim - 2))


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W); PyTorch takes other ranks (with a
    deprecation warning) as unbatched: one draw per index of dim 0."""
    if p < 0.0 or p > 1.0:      # (a NaN p is the kernel's RuntimeError)
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    _odd_rank_warning("dropout3d", input, 3)
    _check_dropout_args("feature_dropout", p, training)
    if input.ndim == 5:
        return _dropped(input, p, training, inplace, tuple(input.shape[:2]) + (1,) * 3)
    if input.ndim == 0:
        if training and 0.0 < p < 1.0:      # nothing is drawn otherwise
            raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
        return _dropped(input, p, training, inplace, ())
    return _dropped(input, p, training, inplace, (input.shape[0],) + (1,) * (input.ndim - 1))


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim``; without a dim, PyTorch's legacy choice (0 for 0-, 1-
    and 3-d inputs, else 1), with its deprecation warning."""
    if dim is None:
        dim = _softmax_ops.implicit_softmax_dim("softmax", input.dim(), _stacklevel)
    _softmax_ops.check_functional_dim("softmax", dim)
    if dtype is not None:
        _refuse_numpy_dtype({"dtype": dtype}, "softmax")
    return _softmax_ops.softmax(input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log(softmax(x)) along ``dim``, computed stably; no dim: as ``softmax``."""
    if dim is None:
        dim = _softmax_ops.implicit_softmax_dim("log_softmax", input.dim(), _stacklevel)
    _softmax_ops.check_functional_dim("log_softmax", dim)
    if dtype is not None:
        _refuse_numpy_dtype({"dtype": dtype}, "log_softmax")
    return _softmax_ops.log_softmax(input, dim, dtype)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` (num_embeddings, dim) picked by the integer ``input`` (any shape):
    output (*input.shape, dim).  The row ``padding_idx`` gets no gradient; ``max_norm`` first
    shrinks, in place, each used row longer than it; ``scale_grad_by_freq`` divides each row's
    gradient by how often ``input`` uses it. ``sparse=True`` makes the weight's gradient a
    sparse COO tensor holding one row per index used, as PyTorch's."""
    if padding_idx is not None and isinstance(weight, Tensor) and weight.ndim and (
            padding_idx > 0 and not padding_idx < weight.shape[0] or   # (PyTorch's order)
            padding_idx < 0 and not padding_idx >= -weight.shape[0]):
        raise AssertionError("Padding_idx must be within num_embeddings")
    if max_norm is not None and not isinstance(input, Tensor):   # PyTorch's input.contiguous()
        raise AttributeError(f"'{type(input).__name__}' object has no attribute 'contiguous'")
    for position, arg, value in ((1, "weight", weight), (2, "indices", input)):
        if not isinstance(value, Tensor):      # (the parser's order: weight first)
            raise TypeError(f"embedding(): argument '{arg}' (position {position}) must be "
                            f"Tensor, not {_python_type_name(value)}")
    if max_norm is not None:                 # PyTorch's embedding_renorm_ reads these first
        max_norm = _float_arg("embedding_renorm_", "max_norm", max_norm, 3)
        norm_type = _float_arg("embedding_renorm_", "norm_type", norm_type, 4)
        if isinstance(input, Tensor):       # (PyTorch renorms first, with its own checks)
            _check_renorm_arguments(weight, input)
    if padding_idx is not None:              # (checked after the range, as PyTorch)
        padding_idx = _int_arg("embedding", "padding_idx", padding_idx, 3)
    _bool_arg("embedding", "scale_grad_by_freq", scale_grad_by_freq, 4)
    _bool_arg("embedding", "sparse", sparse, 5)
    idx = input._array if isinstance(input, Tensor) else input
    if weight.ndim != 2:                     # (before the indices' dtype, as PyTorch)
        raise RuntimeError(f"'weight' must be 2-D (num_embeddings, embedding_dim), got shape "
                           f"{list(weight.shape)}")
    _check_index_dtype(idx.dtype, "embedding")
    if weight._array.dtype.kind == "c" and weight.requires_grad and _is_grad_enabled():
        raise RuntimeError("embedding does not support automatic differentiation for outputs "
                           "with complex dtype.")
    n = weight.shape[0]
    if idx.size and n == 0:           # PyTorch's index_select refuses a table with no rows
        raise RuntimeError("index_select(): self indexing axis dim should be positive")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        if weight._array.dtype.kind not in "fcV":      # PyTorch renorms with its norm
            raise RuntimeError(f"norm(): input dtype should be either floating point or "
                               f"complex. Got {_scalar_type_name(weight._array.dtype)} instead.")
        _renorm_rows(weight, idx, max_norm, norm_type)
    xp = backend.xp_of(weight._array)
    if padding_idx is not None and padding_idx < 0:
        padding_idx += n
    if sparse and not scale_grad_by_freq and xp is np and weight.requires_grad and \
            _is_grad_enabled():         # the weight's gradient: a sparse tensor of used rows
        rows = _embedding_rows(weight, idx.reshape(-1).astype("int64"), padding_idx)
        return _rename(reshape_to(rows, tuple(idx.shape) + (weight.shape[1],)),
                       "EmbeddingBackward0")
    index = idx.astype("int64", copy=False)
    counts = None
    if scale_grad_by_freq and index.size:
        flat = index.reshape(-1)
        counts = xp.bincount(flat, minlength=n)[flat][:, None].astype(weight._array.dtype)
    rows = _keep_for_backward(_Embedding.apply(weight, index=index,
                                               padding_idx=padding_idx, counts=counts,
                                               scale_grad_by_freq=scale_grad_by_freq), input)
    if scale_grad_by_freq and sparse and rows.requires_grad:
        rows.register_hook(_no_sparse_frequency_scaling)   # PyTorch refuses it in backward
    return rows


class _Embedding(_Function):
    """weight (num_embeddings, dim) and an integer ``index`` of any shape -> the rows it picks,
    (*index.shape, dim): one node, as PyTorch's EmbeddingBackward0, and a tensor of its own
    (not a view: an in-place write into it records that op, as in PyTorch).

    Backward: the incoming rows g (N, dim), each divided by how often its index occurs when
    ``counts`` (N, 1) is given (scale_grad_by_freq), added into a zero table at their
    indices, the rows of ``padding_idx`` left out: for numpy float32/float64 one node that
    adds them in index order as PyTorch does (``ops.embedding_grad``), else IndexAdd. Both
    are differentiable again."""
    complex_ok = True             # linear, real coefficients: right as written
    _node_name = "EmbeddingBackward0"
    saved_fields = {"indices": lambda node: Tensor._wrap(node.index),
                    # (no padding row: PyTorch shows its -1 read as an unsigned 64-bit int)
                    "padding_idx": lambda node: 2 ** 64 - 1 if node.padding_idx is None else
                    node.padding_idx,
                    "scale_grad_by_freq": "scale_grad_by_freq",
                    "sparse": lambda node: False,
                    "weight_sym_argsize_0": lambda node: node._in_meta[0][0][0]}

    def forward(self, weight, *, index, padding_idx, counts, scale_grad_by_freq):
        self.index, self.padding_idx, self.counts = index, padding_idx, counts
        self.scale_grad_by_freq = bool(scale_grad_by_freq)
        self.size = weight.shape[0]
        return backend.xp_of(weight).take(weight, index, axis=0)

    def backward(self, g):
        flat = self.index.reshape(-1)
        rows = reshape_to(g, (flat.size,) + tuple(g.shape[self.index.ndim:]))
        if self.counts is not None:
            rows = rows / Tensor._wrap(self.counts)
        if _dense_backward_fits(rows, flat):     # float32/64: sums in index order, one node
            return _EmbeddingDenseBackward.apply(rows, index=flat, size=self.size,
                                                 padding_idx=self.padding_idx)
        if self.padding_idx is not None:
            rows = where((flat == self.padding_idx)[:, None], 0.0, rows)
        return _IndexAdd.apply(rows, index=flat, dim=0, size=self.size)


def _no_sparse_frequency_scaling(grad):
    raise RuntimeError("embedding_backward: scale_grad_by_freq not supported with sparse "
                       "gradients")


def one_hot(tensor, num_classes=-1):
    """Class indices (any shape) -> (..., num_classes) int64 of zeros and ones."""
    a = _check_tensor("one_hot", tensor)._array
    num_classes = _int_arg("one_hot", "num_classes", num_classes, 2)
    if a.dtype != dtypes.int64.np:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    xp = backend.xp_of(a)
    if not a.size:
        if num_classes <= 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
    elif int(a.min()) < 0:
        raise RuntimeError("Class values must be non-negative.")
    elif num_classes == -1:
        num_classes = int(a.max()) + 1
    elif int(a.max()) >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    # zeros with a 1 written at each index: one write per element, where comparing with
    # arange(num_classes) made a bool array of the whole result and converted it
    out = xp.zeros(a.shape + (num_classes,), dtype=dtypes.int64.np)
    out.reshape(-1)[xp.arange(a.size) * num_classes + a.reshape(-1)] = 1
    return Tensor._wrap(out)


def softmax2d(input):
    return softmax(input, -3)


# PyTorch's names for the operand, so that F.leaky_relu(input=x) works as there
def leaky_relu(input, negative_slope=0.01, inplace=False):
    negative_slope = _number_arg("leaky_relu_" if inplace else "leaky_relu", "negative_slope",
                                 negative_slope, 2)
    if inplace:         # PyTorch's in-place node (it keeps the result): LeakyReluBackward1
        return _named_write(input, "LeakyReluBackward1", _RC.leaky_relu, input, negative_slope,
                            True)
    return _RC.leaky_relu(input, negative_slope, inplace)


def sigmoid(input):
    return _EF.sigmoid(input)


def tanh(input):
    return _EF.tanh(input)


from ._functional_round6 import (  # noqa: F401,E402
    rms_norm, pdist, triplet_margin_with_distance_loss, fractional_max_pool2d,
    fractional_max_pool3d, fractional_max_pool2d_with_indices, fractional_max_pool3d_with_indices)


# the argument TypeErrors of the functions that are PyTorch's own builtins (no Python code of
# its between: a keyword argument is named with no position)
cosine_similarity = _worded(cosine_similarity, False, "cosine_similarity")
# out= where PyTorch's functional form takes it: F.gelu(x, out=y)
for _name in ("normalize", "gelu", "linear", "avg_pool2d", "avg_pool3d", "softplus", "logsigmoid",
              "hardshrink", "softshrink"):
    globals()[_name] = _torch_args(globals()[_name])
del _name
_threshold = threshold  # (PyTorch keeps the old private name)
