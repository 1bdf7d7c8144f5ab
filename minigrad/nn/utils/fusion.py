"""Folding an eval-mode BatchNorm into the convolution or linear layer before it.

In eval mode a BatchNorm is the per-channel affine map
``y = (x - running_mean) / sqrt(running_var + eps) * weight + bias``; applied to the output
of ``conv``/``linear`` it can be absorbed into that layer's weight and bias, saving one pass
over the activations at inference time.
"""
from __future__ import annotations

import copy

from ... import creation
from ...ops import elementary_functions as ef
from ..parameter import Parameter

__all__ = ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval",
           "fuse_linear_bn_weights"]


def _check_eval(layer, bn):
    if layer.training or bn.training:
        raise AssertionError("Fusion only for eval!")
    if bn.running_mean is None or bn.running_var is None:
        raise AssertionError("bn.running_mean and bn.running_var must not be None")


def fuse_conv_bn_eval(conv, bn, transpose=False):
    """A copy of ``conv`` whose weight and bias also apply ``bn`` (both in eval mode).

    ``transpose=True`` for ConvTranspose layers, whose output channels are weight dim 1.
    """
    _check_eval(conv, bn)
    fused = copy.deepcopy(conv)
    fused.weight, fused.bias = fuse_conv_bn_weights(
        fused.weight, fused.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias,
        transpose)
    return fused


def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, transpose=False):
    """Fused ``(weight, bias)`` Parameters of a convolution followed by BatchNorm.

    With ``s = bn_w / sqrt(bn_rv + bn_eps)`` (one value per output channel):
    ``weight = conv_w * s`` broadcast along the output-channel dim (0, or 1 if
    ``transpose``), ``bias = (conv_b - bn_rm) * s + bn_b``.  Missing ``conv_b``/``bn_b`` count
    as zeros and a missing ``bn_w`` as ones.  The results keep the dtypes of ``conv_w`` and
    ``conv_b`` and their ``requires_grad``.
    """
    weight_dtype = conv_w.dtype
    bias_dtype = conv_b.dtype if conv_b is not None else weight_dtype
    if conv_b is None:
        conv_b = creation.zeros_like(bn_rm)
    if bn_w is None:
        bn_w = creation.ones_like(bn_rm)
    if bn_b is None:
        bn_b = creation.zeros_like(bn_rm)
    inv_std = ef.rsqrt(bn_rv + bn_eps)
    # Output channels are dim 0 of a Conv weight, dim 1 of a ConvTranspose weight.
    channel_shape = [1] * conv_w.dim()
    channel_shape[1 if transpose else 0] = -1
    scale = (bn_w * inv_std).reshape(channel_shape)
    weight = (conv_w * scale).to(dtype=weight_dtype)
    bias = ((conv_b - bn_rm) * inv_std * bn_w + bn_b).to(dtype=bias_dtype)
    return Parameter(weight, conv_w.requires_grad), Parameter(bias, conv_b.requires_grad)


def fuse_linear_bn_eval(linear, bn):
    """A copy of ``linear`` whose weight and bias also apply ``bn`` (both in eval mode).

    ``bn.num_features`` must equal ``linear.out_features`` or be 1 (it then broadcasts).
    """
    _check_eval(linear, bn)
    if linear.out_features != bn.num_features and bn.num_features != 1:
        raise AssertionError(
            "To fuse, linear.out_features == bn.num_features or bn.num_features == 1, got "
            f"linear.out_features={linear.out_features} and bn.num_features={bn.num_features}")
    fused = copy.deepcopy(linear)
    fused.weight, fused.bias = fuse_linear_bn_weights(
        fused.weight, fused.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias)
    return fused


def fuse_linear_bn_weights(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b):
    """Fused ``(weight, bias)`` Parameters of a linear layer followed by BatchNorm1d.

    ``s = bn_w / sqrt(bn_rv + bn_eps)``; ``weight = linear_w * s[:, None]`` (row ``i``
    scaled by ``s[i]``), ``bias = (linear_b - bn_rm) * s + bn_b`` (a missing ``linear_b``
    counts as zeros).  The weight keeps ``linear_w``'s dtype, the bias ``linear_b``'s.
    """
    weight_dtype = linear_w.dtype
    bias_dtype = linear_b.dtype if linear_b is not None else weight_dtype
    if linear_b is None:
        linear_b = creation.zeros_like(bn_rm)
    scale = bn_w * ef.rsqrt(bn_rv + bn_eps)
    weight = linear_w * scale.unsqueeze(-1).to(dtype=weight_dtype)
    bias = ((linear_b - bn_rm) * scale + bn_b).to(dtype=bias_dtype)
    return Parameter(weight, linear_w.requires_grad), Parameter(bias, linear_b.requires_grad)
