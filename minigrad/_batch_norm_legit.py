"""``torch._native_batch_norm_legit``: ``native_batch_norm`` with the running statistics as
plain (non-optional) tensors, in PyTorch's two forms:

    _native_batch_norm_legit(input, weight, bias, running_mean, running_var, training,
                             momentum, eps)
    _native_batch_norm_legit(input, weight, bias, training, momentum, eps)     # no stats

Both return ``(output, save_mean, save_invstd)``: the normalized ``input`` (N, C, *),
``weight * (x - mean) / sqrt(var + eps) + bias`` per channel, and in training the batch's
per-channel mean and ``1 / sqrt(biased var + eps)`` (shape (C,)), in eval two empty tensors.
Training updates the running statistics in place, ``r = (1 - momentum) r + momentum s``
(the unbiased variance for ``running_var``). Differentiable as ``native_batch_norm``.
"""
from __future__ import annotations

from ._torch_nn_exports import native_batch_norm
from .ops._util import argument_error, check_tensor
from .tensor import Tensor

__all__ = ["_native_batch_norm_legit"]

_NAME = "_native_batch_norm_legit"
_WITH_STATS = ("running_mean", "running_var", "training", "momentum", "eps")
_NO_STATS = ("training", "momentum", "eps")


def _native_batch_norm_legit(input, weight, bias, *rest, **named):
    """Batch normalization's three outputs (see the module's note); the form is chosen as
    PyTorch's parser chooses it: by a tensor (the running mean) after ``bias``."""
    check_tensor(_NAME, input)
    stats = bool(rest) and isinstance(rest[0], Tensor) or "running_mean" in named
    names = _WITH_STATS if stats else _NO_STATS
    if len(rest) > len(names):
        raise TypeError(f"{_NAME}() takes {3 + len(names)} positional arguments but "
                        f"{3 + len(rest)} were given")
    values = dict(zip(names, rest))
    for key, value in named.items():
        if key not in names or key in values:
            raise TypeError(f"{_NAME}() got an unexpected keyword argument '{key}'")
        values[key] = value
    missing = [k for k in names if k not in values]
    if missing:
        raise TypeError(f"{_NAME}() missing {len(missing)} required positional arguments: "
                        + ", ".join(f'"{k}"' for k in missing))
    training = values["training"]
    if training is not True and training is not False:
        raise argument_error(_NAME, "training", "bool", training)
    mean, var = values.get("running_mean"), values.get("running_var")
    if stats:
        check_tensor(_NAME, mean, "running_mean", 4)
        check_tensor(_NAME, var, "running_var", 5)
    return native_batch_norm(input, weight, bias, mean, var, training, values["momentum"],
                             values["eps"])
