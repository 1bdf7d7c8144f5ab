"""``minigrad.nn.functional``: the stateless functions behind the layers, PyTorch's signatures.

    import minigrad.nn.functional as F
    y = F.relu(F.conv2d(x, w, b, stride=1, padding=1))

Everything here is a thin name for an op in ``minigrad/ops``: open the op's module to read
its forward and backward.
"""
from __future__ import annotations

from .. import dtypes
from ..creation import default_generator
from ..ops.elementwise import (  # noqa: F401
    relu, leaky_relu, sigmoid, tanh, clamp as hardtanh_clamp, Mul)
from ..ops.reduce import softmax, log_softmax, logsumexp  # noqa: F401
from ..ops.movement import flatten, pad, unflatten  # noqa: F401
from ..ops.matmul import linear  # noqa: F401
from ..ops.loss import (  # noqa: F401
    cross_entropy, nll_loss, mse_loss, l1_loss, binary_cross_entropy,
    binary_cross_entropy_with_logits)
from ..ops.conv import (  # noqa: F401
    conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d,
    conv_output_size)
from ..ops.normalization import batch_norm  # noqa: F401
from ..ops.pool import (  # noqa: F401
    max_pool1d, max_pool2d, avg_pool1d, avg_pool2d, adaptive_avg_pool1d, adaptive_avg_pool2d,
    adaptive_max_pool1d, adaptive_max_pool2d)


def relu6(input):
    return hardtanh(input, 0.0, 6.0)


def hardtanh(input, min_val=-1.0, max_val=1.0):
    """clamp(input, min_val, max_val), but, as PyTorch, with a zero gradient ON the bounds
    (hardtanh passes the gradient only strictly inside; clamp passes it on the bounds too)."""
    from ..ops.elementwise import where
    inside = (input > min_val) & (input < max_val)
    return where(inside, input, hardtanh_clamp(input, min_val, max_val).detach())


def silu(input):
    return input * sigmoid(input)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, linear above ``threshold`` as PyTorch."""
    from ..ops.elementwise import where, log1p, exp, maximum
    scaled = input * beta
    # max(x, 0) splits the gradient at a tie, so the derivative at 0 is 1/2 (= sigmoid(0)); with
    # relu(x) + log1p(exp(-|x|)) both terms' derivatives are 0 there and softplus'(0) was 0
    soft = (maximum(scaled, 0.0) + log1p(exp(-scaled.abs()))) / beta
    return where(scaled > threshold, input, soft)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (in training)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    from .. import backend
    from ..tensor import Tensor
    if p == 1.0:
        return input * 0.0
    keep = default_generator.rng.random(tuple(input.shape)) >= p
    scale = (keep / (1.0 - p)).astype(input._array.dtype)
    mask = Tensor._wrap(backend.to_device(scale, input.device))
    return Mul.apply(input, mask)


def one_hot(tensor, num_classes=-1):
    """Class indices (any shape) -> (..., num_classes) int64 of zeros and ones."""
    from .. import backend
    from ..tensor import Tensor
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


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """input / max(||input||_p along dim, eps)."""
    from ..ops.elementwise import maximum
    norm = (input.abs() ** p).sum(dim, keepdim=True) ** (1.0 / p)
    return input / maximum(norm, eps)
