"""``minigrad.nn.init``: fill a tensor in place with values from PyTorch's init distributions.

Every function here writes into the tensor's array directly (no graph is recorded, as under
``no_grad``) and returns the tensor.  Random values come from ``generator`` when given, else
from ``minigrad.default_generator``: they are drawn on the CPU as PyTorch's kernels draw them
for the tensor's dtype, in its memory order, and copied to its device, so a seed gives
PyTorch's weights, on every device.

Fans, for a weight of shape (out, in, *kernel): ``fan_in = in * prod(kernel)`` and
``fan_out = out * prod(kernel)``.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .._warn_once import warn_user as _warn_user
from .. import backend
from ..ops._util import not_implemented_for as _not_implemented_for
from .._random_factories import normal_draws, stream_of, uniform_draws
from .._sampling import check_normal_std, check_uniform_bounds

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_",
           "zeros_", "eye_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_", "orthogonal_", "sparse_", "dirac_", "uniform", "normal",
           "constant", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal",
           "orthogonal", "sparse", "eye", "dirac"]


def _write(tensor, values):
    """Copy host ``values`` (broadcastable to tensor's shape) into ``tensor`` in place."""
    if tensor.is_meta:     # (a meta tensor has nothing to write into)
        return tensor
    a = tensor._array
    values = np.asarray(values).astype(a.dtype, copy=False)
    a[...] = backend.to_device(values, tensor.device) if tensor.device.type != "cpu" else values
    tensor._vcounter.value += 1
    return tensor


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (the factor that keeps activations' variance).

    linear, conv*, sigmoid: 1;  tanh: 5/3;  relu: sqrt(2);
    leaky_relu: sqrt(2 / (1 + negative_slope^2)) (negative_slope = param, default 0.01);
    selu: 3/4.
    """
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif (not isinstance(param, bool) and isinstance(param, numbers.Number)):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight shaped (out, in, *kernel): (in*k, out*k), k = prod(kernel)."""
    if tensor.dim() < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         "dimensions")
    receptive_field = 1
    for s in tensor.shape[2:]:
        receptive_field *= s
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of {['fan_in', 'fan_out']}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _drawable(tensor, kernel):
    """PyTorch's refusal of random values for an integer or bool tensor, naming the kernel
    that refuses them (``check_uniform_bounds``, ``normal_kernel_cpu``)."""
    if tensor._array.dtype.kind not in "fcV":
        raise _not_implemented_for(kernel, tensor._array.dtype)


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with values drawn from U(a, b) (both parts, for a complex tensor)."""
    _drawable(tensor, "check_uniform_bounds")
    check_uniform_bounds(tensor._array.dtype, a, b)
    if tensor.is_meta:
        return tensor
    return _write(tensor, uniform_draws(generator, tuple(tensor.shape), tensor._array.dtype,
                                        a, b, _strides(tensor)))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with values drawn from N(mean, std^2) (each part N(mean, std^2 / 2), for a
    complex tensor, as PyTorch)."""
    check_normal_std(std)
    _drawable(tensor, "normal_kernel_cpu")
    if tensor.is_meta:
        return tensor
    return _write(tensor, normal_draws(generator, tuple(tensor.shape), tensor._array.dtype,
                                       mean, std, _strides(tensor)))


def _strides(tensor):
    """The tensor's strides in elements (draws are laid down in its memory order)."""
    return tuple(st // tensor._array.itemsize for st in tensor._array.strides)


def _norm_cdf(x):
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with N(mean, std^2) truncated to [a, b] by rejection, as PyTorch 2.13 does.

    When [a, b] holds more than 30% of the mass, normals are drawn for the whole tensor and
    drawn again (the whole tensor's worth) for the places still outside [a, b].  Otherwise
    proposals are uniform on [a, b]: x is kept when log(u) <= -((x - mean)/std)^2 / 2 - c
    (u uniform in [0, 1), c the log-density's peak on [a, b]), redrawn where it is not.
    """
    if tensor._array.dtype.kind == "c":      # a truncation interval orders the values
        kind = "ComplexFloat" if tensor._array.itemsize == 8 else "ComplexDouble"
        raise NotImplementedError(f"\"lt_cpu\" not implemented for '{kind}'")
    if mean < a - 2 * std or mean > b + 2 * std:
        _warn_user("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                   "The distribution of values may be incorrect.")
    _drawable(tensor, "normal_kernel_cpu")
    if tensor.is_meta:
        return tensor
    shape, dtype, strides = tuple(tensor.shape), tensor._array.dtype, _strides(tensor)
    if _norm_cdf((b - mean) / std) - _norm_cdf((a - mean) / std) > 0.3:
        lo, hi = dtype.type(a), dtype.type(b)
        result = normal_draws(generator, shape, dtype, mean, std, strides).astype(dtype)
        outside = (result < lo) | (result > hi)
        while outside.any():
            fresh = normal_draws(generator, shape, dtype, mean, std).astype(dtype)
            result = np.where(outside, fresh, result)
            outside = (result < lo) | (result > hi)
        return _write(tensor, result)
    if a > b:       # the uniform proposals' bounds, checked as uniform_ checks them
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                           f"from={a:g} > to={b:g}")
    mode = max(a, min(mean, b))
    log_peak = -0.5 * ((mode - mean) / std) ** 2

    def propose(order):
        x = uniform_draws(generator, shape, dtype, a, b, order).astype(dtype)
        score = ((x - mean) / std) ** 2 * -0.5 - log_peak       # in the tensor's dtype
        return x, score

    def rejected(score):
        u = uniform_draws(generator, shape, dtype).astype(dtype)
        with np.errstate(divide="ignore"):
            return np.log(u) > score

    result, score = propose(strides)
    pending = rejected(score)
    while pending.any():
        candidate, score = propose(None)
        result = np.where(pending, candidate, result)
        pending = np.where(pending, rejected(score), pending)
    return _write(tensor, result)


def constant_(tensor, val):
    """Fill with the value ``val``."""
    return _write(tensor, val)


def ones_(tensor):
    return _write(tensor, 1)


def zeros_(tensor):
    return _write(tensor, 0)


def eye_(tensor):
    """In place, for a 2-D (m, n) ``tensor``: 1 where row == column, 0 elsewhere."""
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    if tensor.is_meta:
        return tensor
    return _write(tensor, np.eye(*tensor.shape))


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """U(-bound, bound) with bound = gain * sqrt(3 / fan) (He et al., 2015).

    ``a`` is the leaky_relu negative slope; the layers' default ``a=sqrt(5)`` gives
    bound = 1 / sqrt(fan_in).
    """
    if 0 in tuple(tensor.shape):
        _warn_user("Initializing zero-element tensors is a no-op")
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """N(0, std^2) with std = gain / sqrt(fan)."""
    if 0 in tuple(tensor.shape):
        _warn_user("Initializing zero-element tensors is a no-op")
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor, gain=1.0, generator=None):
    """A (semi-)orthogonal matrix (Saxe et al., 2013), scaled by ``gain``: the tensor seen as
    (shape[0], rest) gets orthonormal rows or columns, whichever are fewer.  The Q of the QR
    decomposition of a Gaussian matrix, its signs fixed by R's diagonal so that it is
    uniformly distributed."""
    if tensor.dim() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    if tensor._array.dtype.kind == "c":      # PyTorch's QR sign fix has no complex form
        raise NotImplementedError("Unlike NumPy, torch.sign is not intended to support complex "
                                  "numbers. Please use torch.sgn instead.")
    _drawable(tensor, "normal_kernel_cpu")
    if tensor.is_meta:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    # (as PyTorch: a contiguous (rows, cols) block of normals, orthogonalised by QR)
    flat = normal_draws(generator, (rows, cols), tensor._array.dtype).astype(np.float64)
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _write(tensor, gain * q.reshape(tuple(tensor.shape)))


def sparse_(tensor, sparsity, std=0.01, generator=None):
    """A 2-D tensor of N(0, std^2) values with ceil(sparsity * rows) zeros in each column, at
    random rows (Martens, 2010)."""
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    _drawable(tensor, "normal_kernel_cpu")
    if tensor.is_meta:
        return tensor
    rows, cols = tensor.shape
    num_zeros = int(math.ceil(sparsity * rows))
    values = normal_draws(generator, (rows, cols), tensor._array.dtype, 0.0, std,
                          _strides(tensor))
    # one permutation per column, drawn in PyTorch's order and, as PyTorch's, from the default
    # generator even where ``generator`` is given (it seeds only the normal values)
    stream = stream_of(None)
    for col in range(cols):
        values[stream.permutation(rows)[:num_zeros], col] = 0.0
    return _write(tensor, values)


def dirac_(tensor, groups=1):
    """A 3-, 4- or 5-d convolution weight that passes its input through: within each of
    ``groups``, output channel d takes input channel d at the kernel's centre (as many
    channels as both sides have)."""
    if tensor.dim() not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tuple(tensor.shape)
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    if tensor.is_meta:
        return tensor
    out_per_group = sizes[0] // groups
    values = np.zeros(sizes)
    centre = tuple(s // 2 for s in sizes[2:])
    empty = next((d for d, s in enumerate(sizes[2:], 2) if s == 0), None)
    if empty is not None and min(out_per_group, sizes[1]) > 0:
        # (PyTorch writes each centre element by indexing: an empty kernel dim refuses it)
        raise IndexError(f"index 0 is out of bounds for dimension {empty} with size 0")
    for g in range(groups):
        for d in range(min(out_per_group, sizes[1])):
            values[(g * out_per_group + d, d) + centre] = 1.0
    return _write(tensor, values)


def _deprecated(new):
    """The old name of ``new`` (before the trailing underscore), warning as PyTorch does."""
    old = new.__name__[:-1]

    def alias(*args, **kwargs):
        _warn_user(f"`nn.init.{old}` is now deprecated in favor of `nn.init.{new.__name__}`.",
                   FutureWarning)
        return new(*args, **kwargs)
    alias.__name__ = alias.__qualname__ = old
    alias.__doc__ = f"Deprecated: use ``{new.__name__}``."
    return alias


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)
eye = _deprecated(eye_)
dirac = _deprecated(dirac_)


# The private helpers behind the fills, which older model code (timm's, for one) imports: the
# same fills (none records a graph), with PyTorch's signatures (no defaults for the bounds).
def _no_grad_uniform_(tensor, a, b, generator=None):
    """``uniform_`` with ``a`` and ``b`` required."""
    return uniform_(tensor, a, b, generator)


def _no_grad_normal_(tensor, mean, std, generator=None):
    """``normal_`` with ``mean`` and ``std`` required."""
    return normal_(tensor, mean, std, generator)


def _no_grad_trunc_normal_(tensor, mean, std, a, b, generator=None):
    """``trunc_normal_`` with every bound required."""
    return trunc_normal_(tensor, mean, std, a, b, generator)


def _no_grad_fill_(tensor, val):
    """``constant_``: every element set to ``val``."""
    return constant_(tensor, val)


def _no_grad_zero_(tensor):
    """``zeros_``: every element set to 0."""
    return zeros_(tensor)
