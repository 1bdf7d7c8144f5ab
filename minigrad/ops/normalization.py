"""Batch normalization as one fused op: ``batch_norm`` (forward beside backward).

For an input x of shape (N, C, *S) (S: zero or more spatial sizes), every channel c is
normalized over the M = N * prod(S) values it has in the batch:

    training:  mu_c = mean(x[:, c]),  var_c = mean((x[:, c] - mu_c)^2)      (biased)
    eval:      mu_c = running_mean_c, var_c = running_var_c
    x_hat = (x - mu) / sqrt(var + eps),      y = weight * x_hat + bias

In training the running statistics (when given) are updated in place:
    running_mean = (1 - momentum) running_mean + momentum mu
    running_var  = (1 - momentum) running_var  + momentum var * M / (M - 1)   (unbiased)

One Function instead of a chain of elementwise ops: the backward below is the closed form,
which is faster and needs only x_hat and 1/sqrt(var + eps) to be kept.
"""
from __future__ import annotations

from .. import backend
from ..autograd import Function

__all__ = ["BatchNorm", "batch_norm"]


class BatchNorm(Function):
    """y = weight * (x - mu) / sqrt(var + eps) + bias, per channel (axis 1)."""

    def forward(self, x, *affine, running_mean, running_var, has_weight, has_bias, training,
                momentum, eps):
        xp = backend.xp_of(x)
        # x: (N, C, *S); statistics reduce over every axis but the channel axis.
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)       # (1, C, 1, ...) for broadcasting
        weight = affine[0] if has_weight else None           # (C,)
        bias = affine[-1] if has_bias else None              # (C,)
        if training:
            m = x.size // x.shape[1]                         # M = N * prod(S)
            mean = x.mean(axis=axes)                         # (C,)
            centered = x - mean.reshape(shape)               # (N, C, *S)
            var = (centered * centered).mean(axis=axes)      # (C,), biased
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean.astype(running_mean.dtype, copy=False)
            if running_var is not None:
                unbiased = var * (m / max(m - 1, 1))
                running_var *= 1 - momentum
                running_var += momentum * unbiased.astype(running_var.dtype, copy=False)
        else:
            mean = running_mean.astype(x.dtype, copy=False)
            var = running_var.astype(x.dtype, copy=False)
            centered = x - mean.reshape(shape)
        invstd = (1.0 / xp.sqrt(var + eps)).astype(x.dtype, copy=False)   # (C,)
        x_hat = centered * invstd.reshape(shape)             # (N, C, *S)
        y = x_hat if weight is None else x_hat * weight.reshape(shape)
        if bias is not None:
            if y is not x_hat and y.dtype == xp.result_type(y, bias):
                y += bias.reshape(shape)                    # y is a fresh product: in place
            else:
                y = y + bias.reshape(shape)                 # x_hat is saved for backward
        self.save_for_backward(x_hat, invstd, weight)   # weight: checked for in-place edits
        self.axes, self.shape, self.training, self.has_bias = axes, shape, training, has_bias
        return y

    def backward(self, g):
        # g: (N, C, *S), the gradient of y.
        x_hat, invstd, weight = self.saved_tensors
        axes, shape = self.axes, self.shape
        grads = []
        g_xhat = g if weight is None else g * weight.reshape(shape)        # dL/dx_hat
        if self.needs_input_grad[0]:
            if self.training:
                # mu and var depend on x too:
                # dx = invstd / M * (M g_xhat - sum(g_xhat) - x_hat * sum(g_xhat * x_hat))
                mean_g = g_xhat.mean(axis=axes).reshape(shape)                  # (1, C, 1..)
                mean_gx = (g_xhat * x_hat).mean(axis=axes).reshape(shape)       # (1, C, 1..)
                gx = (g_xhat - mean_g - x_hat * mean_gx) * invstd.reshape(shape)
            else:
                gx = g_xhat * invstd.reshape(shape)          # running stats are constants
            grads.append(gx)
        else:
            grads.append(None)
        if weight is not None:
            grads.append((g * x_hat).sum(axis=axes) if self.needs_input_grad[1] else None)  # (C,)
        if self.has_bias:
            grads.append(g.sum(axis=axes) if self.needs_input_grad[-1] else None)         # (C,)
        return tuple(grads)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-05):
    """Batch normalization, as ``torch.nn.functional.batch_norm``.

    input (N, C, *S); running_mean, running_var, weight, bias: (C,) or None.
    ``training=True`` normalizes with the batch's statistics and updates the running ones in
    place (when given); ``training=False`` uses the running statistics.
    """
    if input.dim() < 2:
        raise ValueError(f"batch_norm: expected an input of at least 2 dimensions (N, C, ...), "
                         f"got shape {list(input.shape)}")
    c = input.shape[1]
    if training:
        size = input.numel() // c
        if size == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {input.shape}")
    elif running_mean is None or running_var is None:
        raise RuntimeError("running_mean and running_var must be defined in evaluation mode "
                           "(training=False)")
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise RuntimeError(f"batch_norm: {name} should contain {c} elements (the input's "
                               f"channels, dim 1 of shape {list(input.shape)}), not "
                               f"{t.numel()} (shape {list(t.shape)})")
    if input._array.dtype.kind != "f":
        raise RuntimeError(f"batch_norm: expected a floating point input, got {input.dtype}")
    affine = tuple(t for t in (weight, bias) if t is not None)
    out = BatchNorm.apply(
        input, *affine,
        running_mean=None if running_mean is None else running_mean._array,
        running_var=None if running_var is None else running_var._array,
        has_weight=weight is not None, has_bias=bias is not None, training=bool(training),
        momentum=0.0 if momentum is None else float(momentum), eps=float(eps))
    if training:
        for t in (running_mean, running_var):
            if t is not None:
                t._version.value += 1
    return out
