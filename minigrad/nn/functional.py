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

from .. import backend, dtypes
from ..creation import default_generator
from ..tensor import Tensor
from ..ops.elementwise import leaky_relu, sigmoid, tanh, maximum, where, Mul  # noqa: F401
from ..ops import elementwise as _E
from ..ops.writes import overwrite_with as _overwrite_with
from ..ops.elementwise import clamp  # noqa: F401
from ..ops.reduce import amax  # noqa: F401
from ..ops.reduce import softmax, log_softmax, logsumexp  # noqa: F401
from ..ops.movement import flatten, unflatten  # noqa: F401
from ..ops.padding import pad  # noqa: F401
from ..ops.matmul import linear  # noqa: F401
from ..ops.loss import (  # noqa: F401
    cross_entropy, nll_loss, mse_loss, l1_loss, binary_cross_entropy,
    binary_cross_entropy_with_logits)
from ..ops.conv import (  # noqa: F401
    conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d,
    conv_output_size)
from ..ops.normalization import batch_norm  # noqa: F401
from ..ops.feature_norm import layer_norm, group_norm, instance_norm  # noqa: F401
from ..ops.pool import (  # noqa: F401
    max_pool1d, max_pool2d, max_pool3d, avg_pool1d, avg_pool2d, avg_pool3d, adaptive_avg_pool1d,
    adaptive_avg_pool2d, adaptive_max_pool1d, adaptive_max_pool2d, adaptive_avg_pool3d,
    adaptive_max_pool3d, max_pool1d_with_indices, max_pool2d_with_indices,
    max_pool3d_with_indices)
from ..ops.lp_pool import lp_pool1d, lp_pool2d, lp_pool3d  # noqa: F401
from ..ops.activation import (  # noqa: F401
    gelu, elu, celu, selu, hardswish, hardsigmoid, hardtanh, relu6, softsign, softplus,
    logsigmoid, mish, silu, prelu, softmin, tanhshrink, hardshrink, softshrink)
from ..ops.fold import unfold, fold, max_unpool1d, max_unpool2d, max_unpool3d  # noqa: F401
from ..ops.interpolate import (  # noqa: F401
    interpolate, upsample, pixel_shuffle, pixel_unshuffle)
from ..ops.math_extra import scaled_dot_product_attention  # noqa: F401
from ._functional_losses import (  # noqa: F401
    smooth_l1_loss, huber_loss, kl_div, poisson_nll_loss, gaussian_nll_loss, soft_margin_loss,
    multilabel_soft_margin_loss, margin_ranking_loss, hinge_embedding_loss,
    cosine_embedding_loss, triplet_margin_loss, cosine_similarity, pairwise_distance,
    normalize)
from ._functional_attention import multi_head_attention_forward  # noqa: F401
from ..ops.activation import threshold, glu  # noqa: F401
from ._functional_extra import (  # noqa: F401
    rrelu, rrelu_, gumbel_softmax, local_response_norm, alpha_dropout, feature_alpha_dropout,
    channel_shuffle, native_channel_shuffle, bilinear, relu_, elu_, leaky_relu_, hardtanh_,
    celu_, selu_, threshold_)
from ._functional_grid import affine_grid, grid_sample  # noqa: F401
from ._functional_margin import (  # noqa: F401
    multi_margin_loss, multilabel_margin_loss, ctc_loss)
from ._functional_embedding_bag import embedding_bag, _renorm_rows  # noqa: F401
from ._functional_round7 import (  # noqa: F401
    upsample_nearest, upsample_bilinear, adaptive_max_pool1d_with_indices,
    adaptive_max_pool2d_with_indices, adaptive_max_pool3d_with_indices)
from . import grad  # noqa: F401,E402  (torch.nn.functional.grad is torch.nn.grad)
from ..ops.scatter_gather import IndexSelect, SCALAR_NAMES
from ..ops.plumbing import reshape_to


def relu(input, inplace=False):
    """max(0, x), elementwise; ``inplace`` writes it into ``input`` (``input.relu_()``)."""
    return input.relu_() if inplace else _E.relu(input)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (in training)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    return _dropped(input, p, training, inplace, tuple(input.shape))


def _dropped(input, p, training, inplace, mask_shape):
    """input * (keep / (1 - p)) in training (0 for p = 1), written into ``input`` by the
    in-place machinery when ``inplace``; the input itself when nothing is dropped."""
    if not training or p == 0.0:
        return input
    if inplace:
        return _overwrite_with(input, _dropped, p, training, False, mask_shape)
    if p == 1.0:
        return input * 0.0
    return _masked(input, mask_shape, p)


def _masked(input, mask_shape, p):
    """input * (keep / (1 - p)) with keep ~ Bernoulli(1 - p) of ``mask_shape`` (broadcast)."""
    keep = default_generator.rng.random(mask_shape) >= p
    scale = (keep / (1.0 - p)).astype(input._array.dtype)
    mask = Tensor._wrap(backend.to_device(scale, input.device))
    if mask_shape == tuple(input.shape):
        return Mul.apply(input, mask)
    return input * mask


def _feature_dropout(name, input, p, training, spatial, inplace=False):
    """Zero whole channels: one draw per (sample, channel), shared by its ``spatial`` dims."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (spatial + 1, spatial + 2):
        raise RuntimeError(
            f"{name}: Expected {spatial + 1}D or {spatial + 2}D input, but received a "
            f"{input.ndim}D input. Note that {name} exists to provide channel-wise dropout on "
            f"inputs with {spatial} spatial dimension{'s' if spatial > 1 else ''}, a channel "
            "dimension, and an optional batch dimension (i.e. "
            f"{spatial + 1}D or {spatial + 2}D inputs).")
    lead = input.ndim - spatial
    return _dropped(input, p, training, inplace, tuple(input.shape[:lead]) + (1,) * spatial)


def dropout1d(input, p=0.5, training=True, inplace=False):
    return _feature_dropout("dropout1d", input, p, training, 1, inplace)


def dropout2d(input, p=0.5, training=True, inplace=False):
    return _feature_dropout("dropout2d", input, p, training, 2, inplace)


def dropout3d(input, p=0.5, training=True, inplace=False):
    return _feature_dropout("dropout3d", input, p, training, 3, inplace)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` (num_embeddings, dim) picked by the integer ``input`` (any shape):
    output (*input.shape, dim).  The row ``padding_idx`` gets no gradient; ``max_norm`` first
    shrinks, in place, each used row longer than it; ``scale_grad_by_freq`` divides each row's
    gradient by how often ``input`` uses it. ``sparse=True`` gives the same gradient, as a
    dense tensor (minigrad has no sparse tensors; PyTorch's would hold only the used rows)."""
    idx = input._array if isinstance(input, Tensor) else input
    if idx.dtype.kind not in "iu":
        name = dtypes.from_numpy_dtype(idx.dtype).name
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got torch."
                           f"{SCALAR_NAMES.get(name, name)}Tensor instead (while checking "
                           "arguments for embedding)")
    n = weight.shape[0]
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        _renorm_rows(weight, idx, max_norm, norm_type)
    xp = backend.xp_of(weight._array)
    if padding_idx is not None:
        if padding_idx < 0:
            padding_idx += n
        is_pad = (xp.arange(n) == padding_idx)[:, None]
        weight = where(is_pad, weight.detach(), weight)      # that row: no gradient
    flat = idx.reshape(-1).astype("int64")
    rows = IndexSelect.apply(weight, index=flat, dim=0)
    if scale_grad_by_freq and sparse and rows.requires_grad:
        rows.register_hook(_no_sparse_frequency_scaling)   # PyTorch refuses it in backward
    if scale_grad_by_freq and flat.size:
        # rows is exactly kept + (rows - kept) / count, and only the second term has a gradient
        count = xp.bincount(flat, minlength=n)[flat][:, None].astype(weight._array.dtype)
        kept = rows.detach()
        rows = kept + (rows - kept) / Tensor._wrap(count)
    return reshape_to(rows, tuple(idx.shape) + (weight.shape[1],))


def _no_sparse_frequency_scaling(grad):
    raise RuntimeError("embedding_backward: scale_grad_by_freq not supported with sparse "
                       "gradients")


def one_hot(tensor, num_classes=-1):
    """Class indices (any shape) -> (..., num_classes) int64 of zeros and ones."""
    a = tensor._array
    if a.dtype.kind not in "iu":
        raise RuntimeError("one_hot is only applicable to index tensor (int64)")
    xp = backend.xp_of(a)
    if num_classes == -1:
        num_classes = int(a.max()) + 1 if a.size else 0
    if a.size and (int(a.min()) < 0 or int(a.max()) >= num_classes):
        raise RuntimeError(f"Class values must be in [0, {num_classes - 1}] for num_classes="
                           f"{num_classes}")
    return Tensor._wrap((a[..., None] == xp.arange(num_classes)).astype(dtypes.int64.np))


def softmax2d(input):
    return softmax(input, -3)


from ._functional_round6 import (  # noqa: F401,E402
    rms_norm, pdist, triplet_margin_with_distance_loss, fractional_max_pool2d,
    fractional_max_pool3d, fractional_max_pool2d_with_indices, fractional_max_pool3d_with_indices)
