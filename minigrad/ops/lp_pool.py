"""Power-average pooling, ``lp_pool1d/2d/3d``: the p-norm of each window,

    y = (sum over the window of x^p) ^ (1/p)

p = 1 is sum pooling, p = +-inf the largest (smallest) |x| of the window, p = 2 the Euclidean norm of the window.
Composed of differentiable ops (an average pool of x^p, times the window size), so its
gradients, to any order, come from theirs. Where the sum of x^p is negative (an odd p on
negative inputs) the root is nan; at a sum of 0 the gradient is 0 (the sum passes through
sign(s) * relu(|s|), equal to s, whose relu masks the root's infinite slope there): both as
PyTorch computes it.
"""
from __future__ import annotations

from ._util import prod as _prod
from .power import pow as _pow
from .avg_pool import avg_pool1d, avg_pool2d, avg_pool3d
from .pool import max_pool1d, max_pool2d, max_pool3d

__all__ = ["lp_pool1d", "lp_pool2d", "lp_pool3d"]


def _unpacked(kernel, nd):
    """The kernel's sizes as PyTorch's lp_pool2d/3d unpack them, before anything else (a
    sequence of another length: Python's own ValueError)."""
    if nd == 2:
        kh, kw = kernel
        return kh, kw
    kd, kh, kw = kernel
    return kd, kh, kw


def _lp_pool(avg_pool, nd, input, norm_type, kernel_size, stride, ceil_mode):
    if nd > 1 and isinstance(kernel_size, (tuple, list)):
        _unpacked(kernel_size, nd)
    if isinstance(norm_type, (int, float)) and abs(norm_type) == float("inf"):
        # the limit of the p-norm: x^p would over/underflow, so take the window's extreme |x|
        max_pool = {1: max_pool1d, 2: max_pool2d, 3: max_pool3d}[nd]
        if norm_type > 0:
            return max_pool(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
        return -max_pool(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    kernel = tuple(kernel_size) if isinstance(kernel_size, (tuple, list)) else \
        (kernel_size,) * nd
    if stride is not None:
        mean = avg_pool(_pow(input, norm_type), kernel_size, stride, 0, ceil_mode)
    else:
        mean = avg_pool(_pow(input, norm_type), kernel_size, padding=0, ceil_mode=ceil_mode)
    if nd == 1 and isinstance(kernel_size, (tuple, list)):
        # PyTorch's 1-d function multiplies by kernel_size as given: a sequence is refused
        raise TypeError(f"mul(): argument 'other' (position 1) must be Tensor, not "
                        f"{type(kernel_size).__name__}")
    # sign * relu(|.|) is the identity in value; its relu zeroes the gradient at a sum of 0
    mean = mean.sign() * mean.abs().relu()
    return _pow(mean * _prod(kernel), 1.0 / norm_type)          # sum = mean * window size


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """The p-norm of each window: (N, C, L) -> (N, C, L_out), L_out as ``avg_pool1d``'s
    (no padding)."""
    return _lp_pool(avg_pool1d, 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """The p-norm of each window: (N, C, H, W) -> (N, C, H_out, W_out), sizes as
    ``avg_pool2d``'s (no padding)."""
    return _lp_pool(avg_pool2d, 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """The p-norm of each window: (N, C, D, H, W) -> (N, C, D_out, H_out, W_out)."""
    return _lp_pool(avg_pool3d, 3, input, norm_type, kernel_size, stride, ceil_mode)
