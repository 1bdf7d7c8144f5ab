"""``F.linear_cross_entropy``: a linear layer and the cross entropy of its logits in one call.

    loss = cross_entropy(input @ W^T + b, target)

    input   (in,) or (N, in)
    W       (C, in), or (C, d1, ..., dK, in) for a K-dimensional loss (batched input only)
    b       (C,) or (C, d1, ..., dK), optional
    logits  (C,), (N, C) or (N, C, d1, ..., dK)
    target  class indices: (), (N) or (N, d1, ..., dK); or probabilities, shaped as logits

PyTorch offers a chunked implementation behind ``options`` (a LinearCrossEntropyOptions) that
never holds the whole (N, C) logits at once, for large vocabularies. minigrad computes the
reference formula above in every case; the value and gradients are the same, and ``options``
(minigrad's LinearCrossEntropyOptions or any object like it) is accepted, with PyTorch's
warning where its chunked path would not apply.
"""
from __future__ import annotations

from dataclasses import dataclass

from .._warn_once import warn_user
from ..dtypes import bfloat16, float16, float32, float64, int64, reduced_float
from ..ops.loss import cross_entropy
from ..ops.linear import linear

__all__ = ["linear_cross_entropy", "LinearCrossEntropyOptions"]

_ACC_POLICIES = ("accurate", "balanced", "compact", "auto")


@dataclass
class LinearCrossEntropyOptions:
    """How PyTorch's chunked ``linear_cross_entropy`` cuts its work (batch rows per chunk,
    the chunking method, the accumulation policy and dtype). minigrad accepts the settings and
    computes the unchunked formula, whose result they do not change."""
    allow_retain_graph: bool = False
    batch_chunk_size: int | None = None
    chunking_method: str | None = "auto"
    acc_policy: str = "auto"
    acc_dtype: object = None

    def __post_init__(self):
        if self.acc_policy not in _ACC_POLICIES:
            raise ValueError(f"invalid acc_policy: {self.acc_policy!r}")
        if self.chunking_method not in (None, "auto"):
            # "aspect_ratio" or "aspect_ratio:<positive int>"
            name, colon, factor = str(self.chunking_method).partition(":")
            factor = factor if colon else "1"
            if name != "aspect_ratio" or not factor.isdigit() or int(factor) == 0:
                raise ValueError(f"invalid chunking_method: {self.chunking_method!r}")
        size = self.batch_chunk_size
        if size is not None and (not isinstance(size, int) or size <= 0):
            raise ValueError(f"batch_chunk_size must be positive int or None, got {size!r}")
        if self.acc_dtype is not None and not any(self.acc_dtype is d for d in
                                                  (float16, bfloat16, float32,
                                                   float64)):
            raise ValueError(f"acc_dtype must be one of {{None, torch.float16, torch.bfloat16, "
                             f"torch.float32, torch.float64}}, got {self.acc_dtype!r}. Pass "
                             f"acc_dtype=None to let the op pick automatically.")


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None,
                         reduction="mean", ignore_index=None, label_smoothing=0.0,
                         options=None):
    """cross_entropy(linear(input, linear_weight, linear_bias), target, ...) (module docstring
    for the shapes). ``ignore_index`` None means -100 for class indices and must stay None for
    probability targets; ``weight``, ``reduction`` and ``label_smoothing`` as cross_entropy."""
    if not 1 <= input.ndim <= 2:
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.ndim}")
    if linear_weight.ndim < 2:
        raise RuntimeError(f"expected linear_weight with dimensionality at least 2, got "
                           f"{linear_weight.ndim}")
    batch, in_features = tuple(input.shape[:-1]), input.shape[-1]
    if in_features != linear_weight.shape[-1]:
        raise RuntimeError(f"expected equal input and linear_weight last dimensions "
                           f"(in_features), got {in_features} and {linear_weight.shape[-1]}, "
                           f"respectively")
    classes, extra = linear_weight.shape[0], tuple(linear_weight.shape[1:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != (classes,) + extra:
        raise RuntimeError(f"expected linear_bias shape {(classes,) + extra}, got "
                           f"{tuple(linear_bias.shape)}")
    if extra and not batch:
        raise RuntimeError(f"K-dimensional loss defined by linear_weight shape "
                           f"{tuple(linear_weight.shape)} requires batched input, "
                           f"(N, {in_features}), got unbatched input with shape "
                           f"{tuple(input.shape)}")
    chunked = options is not None and not (extra or reduction not in ("mean", "sum", "none")
                                           or label_smoothing != 0.0 or target.dtype != int64)
    if options is not None and not chunked:
        # PyTorch's chunked path takes only these; it says so and computes the reference
        warn_user(f"linear_cross_entropy: ``options`` ignored; chunked path needs "
                  f"reduction in {{'mean','sum','none'}}, label_smoothing == 0, "
                  f"target.dtype == int64, out_features == (). Got reduction={reduction!r}, "
                  f"label_smoothing={label_smoothing}, target.dtype={target.dtype}, "
                  f"out_features={extra}, tracing=False, linear_bias.shape="
                  f"{None if linear_bias is None else tuple(linear_bias.shape)}.")
    result_dtype = None
    if chunked and _float32_accumulation(options, input):
        # PyTorch's chunked path for 16-bit inputs keeps the logits and the sums in float32
        # (acc_dtype, which its "auto" policy picks on CPU) and rounds the loss once
        result_dtype = input.dtype
        input, linear_weight = input.float(), linear_weight.float()
        linear_bias = None if linear_bias is None else linear_bias.float()
        weight = weight.float() if hasattr(weight, "float") else weight
    logits_shape = batch + (classes,) + extra
    if tuple(target.shape) == logits_shape and ignore_index is not None:
        raise RuntimeError("ignore_index cannot be specified when target contains "
                           "probabilities")
    # (..., in) @ (in, C * d1 * ... * dK): every (class, position) is one output feature
    flat_bias = None if linear_bias is None else linear_bias.reshape(-1)
    logits = linear(input, linear_weight.reshape(-1, in_features), flat_bias)
    logits = logits.reshape(logits_shape)
    loss = cross_entropy(logits, target, weight, ignore_index=-100 if ignore_index is None
                         else ignore_index, reduction=reduction,
                         label_smoothing=label_smoothing)
    return loss if result_dtype is None else loss.to(result_dtype)


def _float32_accumulation(options, input):
    """Whether PyTorch's chunked path computes a float16/bfloat16 input in float32: an
    ``acc_dtype`` of float32, or none with the "auto" accumulation policy."""
    if not reduced_float(input._array.dtype):
        return False
    acc = getattr(options, "acc_dtype", None)
    if acc is None:
        return getattr(options, "acc_policy", "auto") == "auto"
    return acc is float32
