"""``F.instance_norm`` of an input with no elements, as PyTorch computes it; any other input
goes to the op (``ops.feature_norm.instance_norm``).

PyTorch runs instance norm as a batch norm of one sample with N * C channels, each statistic
repeated N times, and a batch norm of nothing returns a copy of its input at once: no dtype
check (an integer input passes), no size check of the running statistics.  With input
statistics, the running ones are then updated from the repeated ones: a mean of the input
(refused for an integer input), then, per statistic, a view as (N, C) averaged over N (nan
for N = 0) copied back, which needs the statistic to hold C values.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import dtypes
from ..ops.feature_norm import instance_norm as _instance_norm

__all__ = ["instance_norm"]


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalise each (sample, channel) plane over its spatial dims (see
    ``ops.feature_norm.instance_norm``); an empty input as PyTorch's (see above)."""
    if input.numel() != 0:
        return _instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                              momentum, eps)
    spatial = 1
    for n in input.shape[2:]:
        spatial *= n
    if input.ndim < 3 or use_input_stats and spatial == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{input.shape}")
    if not isinstance(eps, numbers.Real):
        raise TypeError(f"instance_norm(): argument 'eps' (position 8) must be float, not "
                        f"{type(eps).__name__}")
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError("Expected running_mean and running_var to be defined when "
                           "use_input_stats is false")
    n, c = input.shape[0], input.shape[1]
    if use_input_stats and (running_mean is not None or running_var is not None):
        if input._array.dtype.kind not in "fc":
            raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either "
                               "a floating point or complex dtype. Got: "
                               f"{dtypes.scalar_type_name(input._array.dtype)}")
        for stat in (running_mean, running_var):
            if stat is None:
                continue
            if n * stat.numel() != n * c:
                raise RuntimeError(f"shape '[{n}, {c}]' is invalid for input of size "
                                   f"{n * stat.numel()}")
            if stat.numel() != c:
                raise RuntimeError(f"The size of tensor a ({stat.numel()}) must match the size "
                                   f"of tensor b ({c}) at non-singleton dimension 0")
            if n == 0:                       # the mean of no repeated statistic
                stat._array[...] = np.nan
                stat._vcounter.value += 1
    return input.clone()
